// The verifier's scalar range analysis (bounds.ts) is sound: for random abstract scalars and concrete
// values they contain, every ALU op's result contains the concrete result the ISA defines; moves,
// extensions and truncations likewise; a jump predicted taken (not taken) is taken (not taken) by every
// concrete pair; the refined states of both sides keep every pair that goes that way. Fixed seeds.

import { describe, expect, it } from 'vitest';
import type { Insn } from '../../src/bpf/insn.js';
import {
  BPF_ADD, BPF_ALU, BPF_ALU64, BPF_AND, BPF_ARSH, BPF_DIV, BPF_END, BPF_JEQ, BPF_JGE, BPF_JGT, BPF_JLE, BPF_JLT, BPF_JNE,
  BPF_JSET, BPF_JSGE, BPF_JSGT, BPF_JSLE, BPF_JSLT, BPF_K, BPF_LSH, BPF_MOD, BPF_MOV, BPF_MUL, BPF_NEG, BPF_OR, BPF_RSH,
  BPF_SUB, BPF_TO_BE, BPF_TO_LE, BPF_X, BPF_XOR,
} from '../../src/bpf/opcodes.js';
import {
  adjust_ptr_min_max_bounds, adjust_scalar_min_max_vals, coerce_reg_to_size, coerce_reg_to_size_sx, copy_scalar, is_branch_taken, maybe_fork_scalars,
  range_within, reg_bounds_sanity_check, reg_bounds_sync, reg_set_min_max, scalar_const, scalar_mov, scalar_mov_imm,
  scalar_unknown, zext_32_to_64,
} from '../../src/kernel/verifier/bounds.js';
import type { ScalarBounds } from '../../src/kernel/verifier/scalar.js';
import { abstractAround, concreteAlu, concreteEnd, concreteJmp, concreteMovsx, contains, interestingU64, members, type AluName, type JmpName } from './abstract-gen.js';
import { Rng } from './kernel-diff.js';

const u64 = (x: bigint): bigint => BigInt.asUintN(64, x);

const ALU: [AluName, number, number][] = [
  ['add', BPF_ADD, 0], ['sub', BPF_SUB, 0], ['mul', BPF_MUL, 0], ['div', BPF_DIV, 0], ['sdiv', BPF_DIV, 1],
  ['mod', BPF_MOD, 0], ['smod', BPF_MOD, 1], ['or', BPF_OR, 0], ['and', BPF_AND, 0], ['xor', BPF_XOR, 0],
  ['lsh', BPF_LSH, 0], ['rsh', BPF_RSH, 0], ['arsh', BPF_ARSH, 0],
];
const JMP: [JmpName, number][] = [
  ['jeq', BPF_JEQ], ['jne', BPF_JNE], ['jset', BPF_JSET], ['jgt', BPF_JGT], ['jge', BPF_JGE], ['jlt', BPF_JLT],
  ['jle', BPF_JLE], ['jsgt', BPF_JSGT], ['jsge', BPF_JSGE], ['jslt', BPF_JSLT], ['jsle', BPF_JSLE],
];

const insn = (code: number, off = 0, imm = 0): Insn => ({ code, dst: 1, src: 2, off, imm });

function describeReg(r: ScalarBounds): string {
  return JSON.stringify(r, (_k, v: unknown) => (typeof v === 'bigint' ? `0x${BigInt.asUintN(64, v).toString(16)}` : v));
}

function mustContain(r: ScalarBounds, v: bigint, what: string): void {
  if (!contains(r, v)) throw new Error(`${what}: result ${describeReg(r)} does not contain 0x${u64(v).toString(16)}`);
  const bad = reg_bounds_sanity_check(copy_scalar(r), 'test');
  if (bad !== null) throw new Error(`${what}: ${bad}`);
}

/** A second operand: unrelated, or near the first so that comparisons are often undecided. */
function partner(rng: Rng, d: ScalarBounds, x: bigint): bigint {
  switch (rng.int(4)) {
    case 0:
      return interestingU64(rng);
    case 1:
      return u64(x + BigInt(rng.int(9) - 4));
    case 2:
      return members(rng, d, x, 3).at(-1)!;
    default:
      return u64(x ^ (1n << BigInt(rng.int(64))));
  }
}

describe('reg_bounds_sync', () => {
  it('keeps every member: an unsynced random state and a value inside it', () => {
    const rng = new Rng(1);
    for (let i = 0; i < 3000; i++) {
      const x = interestingU64(rng);
      const r = abstractAround(rng, x); // already synced once
      const again = copy_scalar(r);
      reg_bounds_sync(again);
      mustContain(again, x, 'reg_bounds_sync');
      // Syncing is idempotent on what it has already tightened: nothing gets wider.
      expect(range_within(r, again)).toBe(true);
    }
  });
});

describe('ALU ops contain the ISA result for every pair of members', () => {
  const CASES = 9000;
  it(`${CASES} random cases over add..arsh, 64- and 32-bit, register and immediate sources`, () => {
    const rng = new Rng(2);
    let pairs = 0;
    for (let i = 0; i < CASES; i++) {
      const [name, op, off] = ALU[i % ALU.length]!;
      const bits = rng.chance(0.5) ? 64 : 32;
      const cls = bits === 64 ? BPF_ALU64 : BPF_ALU;
      const x = interestingU64(rng);
      const dst = abstractAround(rng, x);
      const xs = members(rng, dst, x, 4);
      let src: ScalarBounds;
      let ys: bigint[];
      let code: number;
      let imm = 0;
      const shift = op === BPF_LSH || op === BPF_RSH || op === BPF_ARSH;
      if (rng.chance(0.4)) {
        imm = shift ? rng.int(bits) : Number(BigInt.asIntN(32, interestingU64(rng)));
        if ((op === BPF_DIV || op === BPF_MOD) && imm === 0) imm = 7;
        src = scalar_const(BigInt(imm));
        ys = [u64(BigInt(imm))];
        code = cls | op | BPF_K;
      } else {
        const y = shift && rng.chance(0.7) ? BigInt(rng.int(bits)) : partner(rng, dst, x);
        src = shift && rng.chance(0.5) ? scalar_const(y) : abstractAround(rng, y);
        ys = members(rng, src, y, 3);
        code = cls | op | BPF_X;
      }
      const ins = insn(code, off, imm);
      const res = copy_scalar(dst);
      const other = maybe_fork_scalars(res, src, ins);
      adjust_scalar_min_max_vals(res, src, ins);
      if (other !== null) adjust_scalar_min_max_vals(other, src, ins);
      for (const a of xs) {
        for (const b of ys) {
          const want = concreteAlu(name, bits, a, b);
          const r = other !== null && !contains(res, want) ? other : res;
          mustContain(r, want, `${bits}-bit ${name} 0x${a.toString(16)}, 0x${b.toString(16)}`);
          pairs++;
        }
      }
    }
    expect(pairs).toBeGreaterThan(CASES * 3);
  });

  it('the same register as both operands (r1 op= r1) uses the old value on both sides', () => {
    const rng = new Rng(3);
    for (let i = 0; i < 2000; i++) {
      const [name, op, off] = ALU[i % ALU.length]!;
      const bits = rng.chance(0.5) ? 64 : 32;
      const x = interestingU64(rng);
      const reg = abstractAround(rng, x);
      const xs = members(rng, reg, x, 4);
      const res = copy_scalar(reg);
      adjust_scalar_min_max_vals(res, res, insn((bits === 64 ? BPF_ALU64 : BPF_ALU) | op | BPF_X, off));
      for (const a of xs) mustContain(res, concreteAlu(name, bits, a, a), `${bits}-bit ${name} r, r with r=0x${a.toString(16)}`);
    }
  });

  it('neg and the byte-order ops (le/be/bswap 16, 32, 64)', () => {
    const rng = new Rng(4);
    const forms: [string, number, 'le' | 'be' | 'bswap'][] = [
      ['le', BPF_ALU | BPF_END | BPF_TO_LE, 'le'], ['be', BPF_ALU | BPF_END | BPF_TO_BE, 'be'], ['bswap', BPF_ALU64 | BPF_END | BPF_TO_LE, 'bswap'],
    ];
    for (let i = 0; i < 3000; i++) {
      const x = interestingU64(rng);
      const reg = abstractAround(rng, x);
      const xs = members(rng, reg, x, 4);
      for (const bits of [64, 32] as const) {
        const res = copy_scalar(reg);
        adjust_scalar_min_max_vals(res, res, insn((bits === 64 ? BPF_ALU64 : BPF_ALU) | BPF_NEG | BPF_K));
        for (const a of xs) mustContain(res, concreteAlu('neg', bits, a, 0n), `${bits}-bit neg 0x${a.toString(16)}`);
      }
      const [label, code, kind] = forms[i % 3]!;
      const width = rng.pick([16, 32, 64] as const);
      const res = copy_scalar(reg);
      adjust_scalar_min_max_vals(res, res, insn(code, 0, width));
      for (const a of xs) mustContain(res, concreteEnd(kind, width, a), `${label}${width} 0x${a.toString(16)}`);
    }
  });
});

describe('moves, extensions and truncations', () => {
  it('mov, mov32, movsx8/16/32 (64-bit) and movsx8/16 (32-bit), mov imm', () => {
    const rng = new Rng(5);
    for (let i = 0; i < 4000; i++) {
      const y = interestingU64(rng);
      const src = abstractAround(rng, y);
      const ys = members(rng, src, y, 4);
      const forms: [number, number, (v: bigint) => bigint][] = [
        [BPF_ALU64, 0, (v) => v],
        [BPF_ALU, 0, (v) => v & 0xffffffffn],
        [BPF_ALU64, 8, (v) => concreteMovsx(64, 8, v)],
        [BPF_ALU64, 16, (v) => concreteMovsx(64, 16, v)],
        [BPF_ALU64, 32, (v) => concreteMovsx(64, 32, v)],
        [BPF_ALU, 8, (v) => concreteMovsx(32, 8, v)],
        [BPF_ALU, 16, (v) => concreteMovsx(32, 16, v)],
      ];
      for (const [cls, off, concrete] of forms) {
        const dst = abstractAround(rng, interestingU64(rng));
        scalar_mov(dst, src, insn(cls | BPF_MOV | BPF_X, off));
        for (const b of ys) mustContain(dst, concrete(b), `mov cls=${cls} off=${off} 0x${b.toString(16)}`);
      }
      const imm = Number(BigInt.asIntN(32, y));
      const d64 = scalar_unknown();
      scalar_mov_imm(d64, insn(BPF_ALU64 | BPF_MOV | BPF_K, 0, imm));
      expect(d64.var_off.value).toBe(u64(BigInt(imm)));
      const d32 = scalar_unknown();
      scalar_mov_imm(d32, insn(BPF_ALU | BPF_MOV | BPF_K, 0, imm));
      expect(d32.var_off.value).toBe(BigInt.asUintN(32, BigInt(imm)));
    }
  });

  it('coerce_reg_to_size (zero-extending loads) and coerce_reg_to_size_sx (sign-extending loads), zext_32_to_64', () => {
    const rng = new Rng(6);
    for (let i = 0; i < 4000; i++) {
      const x = interestingU64(rng);
      const reg = abstractAround(rng, x);
      const xs = members(rng, reg, x, 4);
      for (const size of [1, 2, 4] as const) {
        const z = copy_scalar(reg);
        coerce_reg_to_size(z, size);
        const sx = copy_scalar(reg);
        coerce_reg_to_size_sx(sx, size);
        for (const a of xs) {
          mustContain(z, a & ((1n << BigInt(size * 8)) - 1n), `coerce_reg_to_size(${size}) 0x${a.toString(16)}`);
          mustContain(sx, u64(BigInt.asIntN(size * 8, a)), `coerce_reg_to_size_sx(${size}) 0x${a.toString(16)}`);
        }
      }
      const w = copy_scalar(reg);
      zext_32_to_64(w);
      reg_bounds_sync(w);
      for (const a of xs) mustContain(w, a & 0xffffffffn, `zext 0x${a.toString(16)}`);
    }
  });
});

describe('pointer offsets', () => {
  it('ptr += scalar and ptr -= scalar keep every offset (adjust_ptr_min_max_vals bounds)', () => {
    const rng = new Rng(8);
    for (let i = 0; i < 4000; i++) {
      const p = rng.chance(0.5) ? BigInt(rng.int(4096)) : interestingU64(rng);
      const ptr = rng.chance(0.5) ? scalar_const(p) : abstractAround(rng, p);
      const ps = members(rng, ptr, p, 3);
      const o = partner(rng, ptr, p);
      const off = abstractAround(rng, o);
      const os = members(rng, off, o, 3);
      for (const [op, f] of [[BPF_ADD, (a: bigint, b: bigint) => a + b], [BPF_SUB, (a: bigint, b: bigint) => a - b]] as const) {
        const dst = copy_scalar(ptr);
        adjust_ptr_min_max_bounds(dst, dst, off, op);
        for (const a of ps) for (const b of os) mustContain(dst, u64(f(a, b)), `ptr ${op === BPF_ADD ? '+' : '-'} 0x${a.toString(16)}, 0x${b.toString(16)}`);
      }
    }
  });
});

describe('conditional jumps', () => {
  const CASES = 12000;
  it(`${CASES} random compares: a prediction holds for every pair, refinement keeps every pair on its side`, () => {
    const rng = new Rng(7);
    const seen = { taken: 0, notTaken: 0, unknown: 0 };
    for (let i = 0; i < CASES; i++) {
      const [name, op] = JMP[i % JMP.length]!;
      const bits = rng.chance(0.5) ? 64 : 32;
      const is32 = bits === 32;
      const x = interestingU64(rng);
      const r1 = abstractAround(rng, x);
      const xs = members(rng, r1, x, 4);
      const mode = rng.int(10);
      let r2: ScalarBounds;
      let ys: bigint[];
      if (mode < 4) {
        const imm = BigInt.asIntN(32, rng.chance(0.5) ? partner(rng, r1, x) : interestingU64(rng));
        r2 = scalar_const(imm);
        ys = [u64(imm)];
      } else if (mode === 4) {
        r2 = r1; // if r1 <op> r1
        ys = [];
      } else {
        const y = partner(rng, r1, x);
        r2 = abstractAround(rng, y);
        ys = members(rng, r2, y, 4);
      }
      const same = r2 === r1;
      const pairs: [bigint, bigint][] = same ? xs.map((a) => [a, a]) : xs.flatMap((a) => ys.map((b): [bigint, bigint] => [a, b]));
      const pred = is_branch_taken(r1, r2, op, is32);
      if (pred === 1) seen.taken++;
      else if (pred === 0) seen.notTaken++;
      else seen.unknown++;
      for (const [a, b] of pairs) {
        const taken = concreteJmp(name, bits, a, b);
        if (pred !== -1 && taken !== (pred === 1)) {
          throw new Error(`${bits}-bit ${name}: predicted ${pred} but 0x${a.toString(16)}, 0x${b.toString(16)} goes the other way; r1=${describeReg(r1)} r2=${describeReg(r2)}`);
        }
      }
      if (pred !== -1) continue;
      const t1 = copy_scalar(r1);
      const t2 = same ? t1 : copy_scalar(r2);
      const f1 = copy_scalar(r1);
      const f2 = same ? f1 : copy_scalar(r2);
      const reports = reg_set_min_max(t1, t2, f1, f2, op, is32);
      for (const [a, b] of pairs) {
        const taken = concreteJmp(name, bits, a, b);
        const [s1, s2] = taken ? [t1, t2] : [f1, f2];
        const where = `${bits}-bit ${name} ${taken ? 'taken' : 'fall-through'} side, 0x${a.toString(16)} vs 0x${b.toString(16)}`;
        if (!contains(s1, a) || !contains(s2, b)) {
          throw new Error(`${where}: lost the pair; r1=${describeReg(r1)} r2=${describeReg(r2)} -> ${describeReg(s1)} ${describeReg(s2)}`);
        }
      }
      // A side that some pair takes is feasible, so it must not trip the invariant check.
      if (pairs.length > 0 && pairs.some(([a, b]) => concreteJmp(name, bits, a, b)) && pairs.some(([a, b]) => !concreteJmp(name, bits, a, b))) {
        expect(reports).toEqual([]);
      }
    }
    // The generator must exercise all three outcomes, or the test proves little.
    expect(seen.taken).toBeGreaterThan(CASES / 20);
    expect(seen.notTaken).toBeGreaterThan(CASES / 20);
    expect(seen.unknown).toBeGreaterThan(CASES / 4);
  });
});
