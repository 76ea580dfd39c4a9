// The host JIT inlines `lock *(u64|u32 *)(map value + off) += src` as typed-array arithmetic when the
// verifier pinned the pointer to one map's values, and skips the upper word when nothing carries into
// it (and, when the verifier proved src below 2^32, tests only for the carry). This checks the sums
// across the 2^32 boundary against BigInt arithmetic and against the interpreter: a verified XDP program
// adds a 64-bit and a 32-bit addend from the packet to an array map's value, run over addends chosen to
// carry, not to carry, and to wrap.

import { describe, expect, it } from 'vitest';
import { assemble } from '../../src/bpf/asm.js';
import { BPF_MAP_TYPE, BPF_PROG_TYPE } from '../../src/bpf/prog-types.js';
import { Kernel } from '../../src/kernel/kernel.js';
import type { BpfProg } from '../../src/kernel/prog.js';
import { BpfSyscall } from '../../src/kernel/syscall.js';

const M64 = (1n << 64n) - 1n;
const M32 = (1n << 32n) - 1n;

const program = (fd: number): string => `
  r9 = *(u32 *)(r1 + 0)
  r8 = *(u32 *)(r1 + 4)
  r7 = r9
  r7 += 16
  if r7 > r8 goto out
  r6 = *(u64 *)(r9 + 0)
  r7 = *(u32 *)(r9 + 8)
  r2 = 0
  *(u32 *)(r10 - 4) = r2
  ld_pseudo r1, 1, ${fd}
  r2 = r10
  r2 += -4
  call 1
  if r0 == 0 goto out
  lock *(u64 *)(r0 + 0) += r6
  lock *(u64 *)(r0 + 8) += r7
  lock *(u32 *)(r0 + 16) += r7
out:
  r0 = 2
  exit`;

/** The value's three counters: u64 at 0, u64 at 8, u32 at 16. */
function counters(v: Uint8Array): [bigint, bigint, bigint] {
  const dv = new DataView(v.buffer, v.byteOffset, v.byteLength);
  return [dv.getBigUint64(0, true), dv.getBigUint64(8, true), BigInt(dv.getUint32(16, true))];
}

function valueOf(a: bigint, b: bigint, c: bigint): Uint8Array {
  const v = new Uint8Array(24);
  const dv = new DataView(v.buffer);
  dv.setBigUint64(0, a, true);
  dv.setBigUint64(8, b, true);
  dv.setUint32(16, Number(c), true);
  return v;
}

function packet(add64: bigint, add32: bigint): Uint8Array {
  const p = new Uint8Array(64);
  const dv = new DataView(p.buffer);
  dv.setBigUint64(0, add64, true);
  dv.setUint32(8, Number(add32), true);
  return p;
}

describe('host JIT: inlined atomic adds on a map value', () => {
  it('give the sums the interpreter and 64-bit arithmetic give, carries included', () => {
    const k = new Kernel({ cpus: 1, prandomSeed: 1 });
    const sys = new BpfSyscall(k);
    const map = sys.mapCreate({ map_type: BPF_MAP_TYPE.ARRAY, key_size: 4, value_size: 24, max_entries: 1 });
    const fd = sys.progLoad({ prog_type: BPF_PROG_TYPE.XDP, insns: assemble(program(map)), license: 'GPL' });
    const prog = k.fds.get(fd)!.obj as BpfProg;
    const jited = prog.jited!;
    expect(jited).toBeDefined();
    // The adds were inlined (no runtime atomic() call), with the upper word behind a test.
    expect(jited.source).not.toMatch(/atomic\(x/);
    expect(jited.source).toMatch(/if \([^)]*\(u >>> 0\) < \(t >>> 0\)\) mv\d+\.setInt32\(o \+ 4/);

    const key = new Uint8Array(4);
    const starts: [bigint, bigint, bigint][] = [[0n, 0n, 0n], [M32, M32, M32], [M64, M64 - 1n, M32 - 1n], [0x1_ffff_fff0n, 0x7fff_ffffn, 0x8000_0000n]];
    const adds: [bigint, bigint][] = [[1n, 1n], [M32, M32], [1n << 32n, 0n], [(1n << 32n) + 0x10n, 0x10n], [M64, 0x8000_0000n], [0n, 0n], [0x8000_0000_8000_0000n, 0xffff_fff0n]];
    for (const start of starts) {
      for (const [a64, a32] of adds) {
        const results = [true, false].map((jit) => {
          sys.mapUpdate({ map_fd: map, key, value: valueOf(...start) });
          prog.jited = jit ? jited : undefined;
          const r = sys.progTestRun({ prog_fd: fd, data_in: packet(a64, a32), repeat: 2 });
          expect(r.retval).toBe(2);
          return counters(sys.mapLookup({ map_fd: map, key }));
        });
        prog.jited = jited;
        const want = [(start[0] + 2n * a64) & M64, (start[1] + 2n * a32) & M64, (start[2] + 2n * a32) & M32];
        expect(results[0], `JIT, start ${start}, adding ${a64} and ${a32} twice`).toEqual(want);
        expect(results[1], `interpreter, start ${start}, adding ${a64} and ${a32} twice`).toEqual(want);
      }
    }
  });
});
