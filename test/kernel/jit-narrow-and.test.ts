// The host JIT computes `dst &= src` (64-bit) on the low halves alone when src is below 2^32 (an
// immediate >= 0 or a register the verifier proved so), whatever dst holds: clang's 32-bit rotates on
// 64-bit registers mask and then shift, as l4lb's flow hash does. Checked against the interpreter on
// values with every kind of upper half, next to the forms that must keep 64-bit code (a negative
// immediate, a source with an upper half).

import { describe, expect, it } from 'vitest';
import { assemble } from '../../src/bpf/asm.js';
import { BPF_PROG_TYPE } from '../../src/bpf/prog-types.js';
import { Kernel } from '../../src/kernel/kernel.js';
import type { BpfProg } from '../../src/kernel/prog.js';
import { BpfSyscall } from '../../src/kernel/syscall.js';

// r2 = the packet's first u64 (any upper half); the result folds the four ANDs and shifts into r0.
const program = `
  r6 = *(u32 *)(r1 + 0)
  r7 = *(u32 *)(r1 + 4)
  r0 = 0
  r3 = r6
  r3 += 16
  if r3 > r7 goto out
  r2 = *(u64 *)(r6 + 0)
  r8 = *(u64 *)(r6 + 8)
  r1 = 0xfffc0000 ll
  r3 = r2
  r3 &= r1
  r3 >>= 18
  r4 = r2
  r4 &= 0x7fffffff
  r4 >>= 7
  r5 = r2
  r5 &= -16
  r5 >>= 33
  r9 = r2
  r9 &= r8
  r9 >>= 31
  r0 = r3
  r0 ^= r4
  r0 += r5
  r0 ^= r9
out:
  exit`;

function expected(v: bigint, w: bigint): number {
  const M = (1n << 64n) - 1n;
  const r3 = (v & 0xfffc0000n) >> 18n;
  const r4 = (v & 0x7fffffffn) >> 7n;
  const r5 = (v & (M - 15n)) >> 33n;
  const r9 = (v & w) >> 31n;
  return Number((((r3 ^ r4) + r5) ^ r9) & 0xffffffffn);
}

describe('host JIT: 64-bit AND with a source below 2^32', () => {
  it('gives the interpreter\'s and BigInt\'s results for any upper half of dst', () => {
    const k = new Kernel({ cpus: 1, prandomSeed: 1 });
    const sys = new BpfSyscall(k);
    const fd = sys.progLoad({ prog_type: BPF_PROG_TYPE.XDP, insns: assemble(program), license: 'GPL' });
    const prog = k.fds.get(fd)!.obj as BpfProg;
    const jited = prog.jited!;
    expect(jited).toBeDefined();
    // The masks below 2^32 clear the upper half outright; the negative one keeps 64-bit code.
    expect(jited.source).toMatch(/r3l = r3l & r1l; r3h = 0;/);
    expect(jited.source).toMatch(/r4l = r4l & 2147483647; r4h = 0;/);
    expect(jited.source).toMatch(/r5l = r5l & -16; r5h = r5h & -1;/);
    const values = [0n, 1n, 0xfffc0000n, 0xffff_ffffn, 0x1_0000_0000n, 0xdead_beef_cafe_f00dn, (1n << 64n) - 1n, 0x8000_0000_0000_0000n, 0x7fff_ffff_8000_0000n];
    for (const v of values) {
      for (const w of [0n, 0xffff_ffffn, (1n << 64n) - 1n, 0x1234_5678_9abc_def0n]) {
        const p = new Uint8Array(64);
        const dv = new DataView(p.buffer);
        dv.setBigUint64(0, v, true);
        dv.setBigUint64(8, w, true);
        prog.jited = jited;
        const jit = sys.progTestRun({ prog_fd: fd, data_in: p }).retval;
        prog.jited = undefined;
        const interp = sys.progTestRun({ prog_fd: fd, data_in: p }).retval;
        prog.jited = jited;
        expect(jit, `JIT, v=${v.toString(16)} w=${w.toString(16)}`).toBe(expected(v, w));
        expect(interp, `interpreter, v=${v.toString(16)} w=${w.toString(16)}`).toBe(expected(v, w));
      }
    }
  });
});
