// The host JIT skips the upper half of a 64-bit ALU result that nothing demands (hiDead in jit.ts:
// demanded bits through shifts by immediates, carries, masks, stores of 1-4 bytes, 32-bit ALU and
// narrowed compares). Random straight-line and looping programs whose results are observed only in
// part — a masked or shifted register, a narrow store, a 32-bit sum — must give the interpreter's r0,
// stack and memory; the same programs observed whole are exec-diff.test.ts's job.

import { describe, expect, it } from 'vitest';
import { assemble } from '../../src/bpf/asm.js';
import { insn, type Insn } from '../../src/bpf/insn.js';
import { OPS, type OpInfo } from '../../src/bpf/opcodes.js';
import { ExecContext } from '../../src/kernel/exec/context.js';
import { interpret } from '../../src/kernel/exec/interpreter.js';
import { jitCompile } from '../../src/kernel/exec/jit.js';
import { AddressSpace } from '../../src/kernel/exec/memory.js';
import type { BpfProg } from '../../src/kernel/prog.js';
import * as pk from '../oracle/packets.js';
import { dumpEmu, loadEmu } from './emu-harness.js';

function rng(seed: number) {
  let s = seed | 0 || 1;
  const next = (): number => {
    s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
    return s >>> 0;
  };
  return { int: (n: number) => next() % n, pick: <T>(xs: readonly T[]): T => xs[next() % xs.length]!, u32: () => next() | 0 };
}

const op = (name: string): OpInfo => {
  const o = OPS.find((x) => x.name === name);
  if (o === undefined) throw new Error(`no op ${name}`);
  return o;
};
const enc = (o: OpInfo, dst: number, src: number, off: number, imm: number): Insn =>
  insn(o.code, dst, o.match.src ?? src, o.match.off ?? off, o.match.imm ?? imm);

// 64-bit forms only: these are the ones whose upper half may be skipped.
const ALU64 = OPS.filter((o) => o.kind === 'alu' && o.alu64 && !['div', 'sdiv', 'mod', 'smod'].includes(o.op));
const SHIFTS = ALU64.filter((o) => o.kind === 'alu' && !o.srcReg && (o.op === 'lsh' || o.op === 'rsh' || o.op === 'arsh'));
const ALU32 = OPS.filter((o) => o.kind === 'alu' && !o.alu64 && ['add', 'xor', 'or', 'mov'].includes(o.op) && o.srcReg);

/** The immediate of a shift, drawn to hit both halves and the 32 boundary. */
function shiftImm(r: ReturnType<typeof rng>): number {
  return r.pick([1, 7, 8, 14, 18, 24, 31, 32, 33, 40, 56, 63, r.int(64)]);
}

function generate(seed: number): Insn[] {
  const r = rng(seed);
  const p: Insn[] = [insn(0xbf, 9, 1)]; // r9 = the buffer
  for (let reg = 0; reg <= 8; reg++) p.push(insn(0x18, reg, 0, 0, r.u32()), insn(0, 0, 0, 0, r.u32()));
  const alu = (): void => {
    const k = r.int(10);
    const o = k < 4 ? r.pick(SHIFTS) : r.pick(ALU64);
    const imm = o.kind === 'alu' && (o.op === 'lsh' || o.op === 'rsh' || o.op === 'arsh') ? shiftImm(r) : r.pick([r.u32(), r.int(0x10000), -1, 0xfffc0000 | 0, 0x7fffffff, 511]);
    p.push(enc(o, r.int(9), r.int(9), 0, imm));
  };
  for (let k = 0, n = 15 + r.int(25); k < n; k++) alu();
  if (r.int(2) === 0) {
    // A short loop, so that demands travel round a back edge.
    p.push(insn(0xb7, 8, 0, 0, 1 + r.int(4)));
    const head = p.length;
    for (let k = 0, n = 3 + r.int(6); k < n; k++) {
      alu();
      const x = p[p.length - 1]!;
      p[p.length - 1] = { ...x, dst: x.dst === 8 ? 7 : x.dst, src: x.src === 8 ? 7 : x.src };
    }
    p.push(insn(0x17, 8, 0, 0, 1), insn(0x55, 8, 0, head - p.length - 2, 0));
  }
  // Observe each register in part.
  const st = [op('stxb'), op('stxh'), op('stxw')];
  p.push(insn(0xb7, 0, 0, 0, 0)); // r0 = 0 (r0's own value is observed through r0 ^= below only if chosen)
  for (let reg = 1; reg <= 8; reg++) {
    switch (r.int(6)) {
      case 0: p.push(enc(r.pick(st), 9, reg, 8 * reg, 0)); break;
      case 1: p.push(enc(op('and_imm'), reg, 0, 0, r.pick([511, 0xffff, 0x7fffffff, 0xff00])), enc(op('xor_reg'), 0, reg, 0, 0)); break;
      case 2: p.push(enc(op('rsh_imm'), reg, 0, 0, shiftImm(r)), enc(r.pick(st), 9, reg, 8 * reg, 0)); break;
      case 3: p.push(enc(r.pick(ALU32), 0, reg, 0, 0)); break;
      case 4: p.push(enc(op('arsh_imm'), reg, 0, 0, shiftImm(r)), enc(op('add32_reg'), 0, reg, 0, 0)); break;
      default: p.push(enc(op('lsh_imm'), reg, 0, 0, shiftImm(r)), enc(op('stxdw'), 9, reg, 8 * reg, 0)); break;
    }
  }
  p.push(insn(0x95));
  return p;
}

function runBoth(insns: Insn[]) {
  return (['interpreter', 'jit'] as const).map((engine) => {
    const mem = new AddressSpace();
    const env = { mem, helpers: [] };
    const x = new ExecContext(env);
    const buf = new Uint8Array(80).map((_, i) => (i * 37 + 11) & 0xff);
    const region = mem.map('mem', buf);
    if (engine === 'interpreter') interpret({ insns, name: 'p' }, x, 0, region.hi, { maxInsns: 100_000 });
    else {
      x.jitBudget = 100_000;
      jitCompile({ insns, name: 'p' }, env).run(x, 0, region.hi);
    }
    return { r0: [x.R[0], x.R[1]], buf: Buffer.from(buf).toString('hex') };
  });
}

describe('host JIT: upper halves nothing demands', () => {
  it('the generator uses the names it asks for', () => {
    for (const n of ['stxb', 'stxh', 'stxw', 'stxdw', 'and_imm', 'xor_reg', 'rsh_imm', 'arsh_imm', 'add32_reg', 'lsh_imm']) expect(() => op(n)).not.toThrow();
    expect(SHIFTS.length).toBe(3);
  });

  it('a carry out of bits nothing demands still reaches a bit that is (add demands every lower bit)', () => {
    // Only bit 9 of r2 is observed; it depends on bits 0..9 of the sum, so on bits 55..63 of r1, so on
    // the carry of r1 += 1 into r1's upper half.
    const prog = assemble(`
      r2 = 0x5555555555555555 ll
      r1 = 0xffffffffffffffff ll
      r1 += 1
      r2 = r1
      r2 >>= 55
      r2 += 0x1ff
      r2 &= 0x200
      r0 = r2
      exit`);
    const [a, b] = runBoth(prog);
    expect(a!.r0).toEqual([0, 0]);
    expect(b).toEqual(a);
  });

  it('programs observed in part give the interpreter\'s results (600 programs)', () => {
    let skipped = 0;
    for (let seed = 1; seed <= 600; seed++) {
      const prog = generate(seed);
      const [a, b] = runBoth(prog);
      expect(b, `seed ${seed}`).toEqual(a);
      // Some upper halves were skipped: a 64-bit add with no carry into its upper word, say.
      skipped += (jitCompile({ insns: prog, name: 'p' }, { mem: new AddressSpace(), helpers: [] }).source.match(/^\/\* \d+ \*\/ r\dl = [^;]*;$/gm) ?? []).length;
    }
    expect(skipped).toBeGreaterThan(600);
  });

  it('xdp_l4lb (a flow hash in 64-bit registers, then a HASH lookup and bpf_xdp_adjust_head): the interpreter\'s frames and counters', () => {
    const emu = loadEmu('xdp_l4lb');
    const fd = emu.progs['xdp_l4lb']!;
    const prog = emu.k.fds.get(fd)!.obj as BpfProg;
    const jited = prog.jited!;
    expect(jited).toBeDefined();
    // The flow hash runs on lower halves: some 64-bit adds lost their carry into the upper word.
    expect(jited.source).toMatch(/^\/\* \d+ \*\/ r\dl = \(r\dl \+ -559038725\) \| 0;$/m);
    // Backends in every other slot, so that both the hashed slot and the fallback to slot 0 happen.
    for (let slot = 0; slot < 512; slot += 2) {
      const v = new Uint8Array(32);
      const dv = new DataView(v.buffer);
      dv.setUint32(0, 0x0a000001, false);
      dv.setUint32(4, 0x0a010000 + slot, false);
      v.set([2, 0, 0, 0, slot >> 8, slot & 0xff], 24);
      const key = new Uint8Array(4);
      new DataView(key.buffer).setUint32(0, slot, true);
      emu.sys.mapUpdate({ map_fd: emu.maps['servers']!, key, value: v });
    }
    const r = rng(99);
    for (let i = 0; i < 200; i++) {
      const frame = pk.tcp4Frame({ src: `10.${r.int(256)}.${r.int(256)}.${r.int(256)}`, dst: '192.0.2.1', srcPort: 1024 + r.int(60000), dstPort: r.pick([80, 443, r.int(65536)]) });
      const out = (['jit', 'interpreter'] as const).map((engine) => {
        prog.jited = engine === 'jit' ? jited : undefined;
        const res = emu.sys.progTestRun({ prog_fd: fd, data_in: frame, data_size_out: 256 });
        return { retval: res.retval, data: Buffer.from(res.data_out ?? new Uint8Array(0)).toString('hex') };
      });
      prog.jited = jited;
      expect(out[0], `frame ${i}`).toEqual(out[1]);
      expect(out[0]!.retval).toBe(3); // XDP_TX
    }
    // Each frame was counted twice (once per engine) on the backend both engines picked.
    const total = dumpEmu(emu, 'servers').reduce((n, e) => n + Number(Buffer.from(e.values[0]!, 'hex').readBigUInt64LE(16)), 0);
    expect(total).toBe(400);
  });
});
