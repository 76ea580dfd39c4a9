// The verifier log's text for a scalar (kernel/bpf/log.c): the rules of print_scalar_ranges and
// verbose_snum/unum, checked on states built by the verifier's own operations against lines of real
// kernel logs, and every state text of the recorded goldens reproduced exactly, ids and precision
// marks included.

import { describe, expect, it } from 'vitest';
import { BPF_ADD, BPF_ALU64, BPF_AND, BPF_JGT, BPF_K } from '../../src/bpf/opcodes.js';
import { adjust_scalar_min_max_vals, reg_set_min_max, scalar_const, scalar_unknown } from '../../src/kernel/verifier/bounds.js';
import {
  BPF_ADD_CONST32, BPF_ADD_CONST64, print_scalar_ranges, print_scalar_state, tnum_strn, verbose_snum, verbose_unum,
} from '../../src/kernel/verifier/format.js';
import { S32_MAX, S32_MIN, S64_MAX, S64_MIN, U32_MAX, U64_MAX, type ScalarBounds } from '../../src/kernel/verifier/scalar.js';
import { tnum_const } from '../../src/kernel/verifier/tnum.js';
import { parseScalar } from './kernel-diff.js';
import { loadGoldens } from './scalar-goldens.js';

const alu = (op: number, imm: number) => ({ code: BPF_ALU64 | op | BPF_K, dst: 1, src: 0, off: 0, imm });

function withBounds(b: Partial<ScalarBounds>): ScalarBounds {
  return { ...scalar_unknown(), ...b };
}

describe('numbers', () => {
  it('signed values within an s16 print in decimal, others as their u64 bits in hex', () => {
    expect(verbose_snum(32767n)).toBe('32767');
    expect(verbose_snum(32768n)).toBe('0x8000');
    expect(verbose_snum(-32768n)).toBe('-32768');
    expect(verbose_snum(-32769n)).toBe('0xffffffffffff7fff');
    expect(verbose_snum(-5n)).toBe('-5');
  });

  it('unsigned values up to 65535 print in decimal', () => {
    expect(verbose_unum(65535n)).toBe('65535');
    expect(verbose_unum(65536n)).toBe('0x10000');
    expect(verbose_unum(0n)).toBe('0');
  });

  it('tnum_strn: (value; mask) in hex with 0x0 for zero, a constant alone', () => {
    expect(tnum_strn({ value: 0n, mask: 0xffn })).toBe('(0x0; 0xff)');
    expect(tnum_strn({ value: 0x80n, mask: 0xfn })).toBe('(0x80; 0xf)');
    expect(tnum_strn(tnum_const(7n))).toBe('7');
    expect(tnum_strn(tnum_const(0x12345n))).toBe('0x12345');
  });
});

describe('print_scalar_state on states the verifier computes (texts from real kernel logs)', () => {
  it('unknown: scalar(); constants: the value alone', () => {
    expect(print_scalar_state(scalar_unknown())).toBe('scalar()');
    expect(print_scalar_state(scalar_const(2n))).toBe('2');
    expect(print_scalar_state(scalar_const(-5n))).toBe('-5');
    expect(print_scalar_state(scalar_const(0xffffffffn))).toBe('0xffffffff');
  });

  it('r1 &= 255 and then the fall-through of if r1 > 10', () => {
    const r = scalar_unknown();
    adjust_scalar_min_max_vals(r, scalar_const(255n), alu(BPF_AND, 255));
    expect(print_scalar_state(r)).toBe('scalar(smin=smin32=0,smax=umax=smax32=umax32=255,var_off=(0x0; 0xff))');
    const taken = { ...r };
    reg_set_min_max(taken, scalar_const(10n), r, scalar_const(10n), BPF_JGT, false);
    expect(print_scalar_state(r)).toBe('scalar(smin=smin32=0,smax=umax=smax32=umax32=10,var_off=(0x0; 0xf))');
    expect(print_scalar_state(taken)).toBe('scalar(smin=umin=smin32=umin32=11,smax=umax=smax32=umax32=255,var_off=(0x0; 0xff))');
  });

  it('r2 += -5 on [0, 10] keeps signed bounds only; negatives never share a value with positives', () => {
    const r = scalar_unknown();
    adjust_scalar_min_max_vals(r, scalar_const(255n), alu(BPF_AND, 255));
    reg_set_min_max({ ...r }, scalar_const(10n), r, scalar_const(10n), BPF_JGT, false);
    adjust_scalar_min_max_vals(r, scalar_const(-5n), alu(BPF_ADD, -5));
    expect(print_scalar_state(r, { id: 2 | BPF_ADD_CONST64, delta: -5 })).toBe('scalar(id=2-5,smin=smin32=-5,smax=smax32=5)');
  });

  it('bounds at their extremes are left out; equal ones share a value, same end only', () => {
    const r = withBounds({ smin_value: 1n, umin_value: 1n, s32_min_value: 1n, u32_min_value: 1n, var_off: { value: 0n, mask: U64_MAX } });
    expect(print_scalar_ranges(r)).toBe('smin=umin=smin32=umin32=1');
    expect(print_scalar_ranges(withBounds({ umax_value: 1n, smax_value: 1n }))).toBe('smax=umax=1');
    expect(print_scalar_ranges(withBounds({ smin_value: S64_MIN, smax_value: S64_MAX, umin_value: 0n, umax_value: U64_MAX }))).toBe('');
    expect(print_scalar_ranges(withBounds({ s32_min_value: S32_MIN + 1n, s32_max_value: S32_MAX, u32_max_value: U32_MAX - 1n }))).toBe(
      'smin32=0x80000001,umax32=0xfffffffe',
    );
  });

  it('a 32-bit signed bound in hex is its u32, so it is not merged with an s64 of the same low bits', () => {
    // smin=-0x10000 is 0xffffffffffff0000; smin32=-0x10000 prints as 0xffff0000.
    const r = withBounds({ smin_value: -0x10000n, s32_min_value: -0x10000n });
    expect(print_scalar_ranges(r)).toBe('smin=0xffffffffffff0000,smin32=0xffff0000');
    // In decimal range they are the same number and do merge.
    expect(print_scalar_ranges(withBounds({ smin_value: -100n, s32_min_value: -100n }))).toBe('smin=smin32=-100');
    // A u32 bound equal to an s32 one as a u64 merges (umin32=smin32=0x...); a negative s64 does not.
    expect(print_scalar_ranges(withBounds({ s32_min_value: -0x10000n, u32_min_value: 0xffff0000n }))).toBe('smin32=umin32=0xffff0000');
  });

  it('ids: plain, with a 64- or 32-bit constant delta; precise values get a P', () => {
    const r = withBounds({ smin_value: 0n });
    expect(print_scalar_state(r, { id: 3 })).toBe('scalar(id=3,smin=0)');
    expect(print_scalar_state(r, { id: 3 | BPF_ADD_CONST64, delta: 7 })).toBe('scalar(id=3+7,smin=0)');
    expect(print_scalar_state(r, { id: 3 | BPF_ADD_CONST32, delta: -1 })).toBe('scalar(id=3-1,smin=0)');
    expect(print_scalar_state(scalar_unknown(), { id: 1 })).toBe('scalar(id=1)');
    expect(print_scalar_state(r, { precise: true })).toBe('Pscalar(smin=0)');
    expect(print_scalar_state(scalar_const(-1n), { precise: true, id: 4 })).toBe('P-1');
  });
});

describe('every state text of the recorded kernel goldens', () => {
  const goldens = loadGoldens();
  const texts = new Set<string>();
  for (const g of goldens.cases) for (const regs of Object.values(g.states)) for (const t of Object.values(regs)) if (/^P?(scalar\(|-?\d|0x)/.test(t)) texts.add(t);

  it(`re-prints all ${texts.size} distinct texts exactly, from the state they describe`, () => {
    expect(texts.size).toBeGreaterThan(200);
    for (const text of texts) {
      const precise = text.startsWith('P');
      const id = /id=(\d+)([+-]\d+)?/.exec(text);
      const opts = {
        precise,
        id: id === null ? 0 : Number(id[1]) | (id[2] === undefined ? 0 : BPF_ADD_CONST64),
        delta: id?.[2] === undefined ? 0 : Number(id[2]),
      };
      expect(print_scalar_state(parseScalar(text), opts)).toBe(text);
    }
  });
});
