// kernel/bpf/tnum.c: every operation contains every concrete result of its operands' members (random
// 64-bit tnums), the set operations are exact where the kernel relies on exactness (checked exhaustively
// on 4-bit tnums), and known answers from the kernel's own comments and verifier logs.

import { describe, expect, it } from 'vitest';
import type { Tnum } from '../../src/kernel/verifier/scalar.js';
import {
  fls64, tnum_add, tnum_and, tnum_arshift, tnum_bswap16, tnum_bswap32, tnum_bswap64, tnum_cast, tnum_clear_subreg,
  tnum_const, tnum_const_subreg, tnum_contains, tnum_equals_const, tnum_in, tnum_intersect, tnum_is_aligned,
  tnum_is_const, tnum_is_unknown, tnum_lshift, tnum_mul, tnum_neg, tnum_or, tnum_overlap, tnum_range, tnum_rshift,
  tnum_sbin, tnum_step, tnum_sub, tnum_subreg, tnum_subreg_is_const, tnum_union, tnum_unknown, tnum_with_subreg,
  tnum_xor,
} from '../../src/kernel/verifier/tnum.js';
import { concreteAlu, concreteEnd, interestingU64 } from './abstract-gen.js';
import { Rng } from './kernel-diff.js';

const u64 = (x: bigint): bigint => BigInt.asUintN(64, x);
const T = (value: bigint, mask: bigint): Tnum => ({ value, mask });

function randomTnum(rng: Rng): Tnum {
  const mask = rng.pick([0n, u64(-1n), (1n << BigInt(rng.int(65))) - 1n, BigInt(rng.u32()), rng.u64() & rng.u64(), rng.u64()]);
  return T(interestingU64(rng) & ~mask, mask);
}

const member = (rng: Rng, t: Tnum): bigint => t.value | (rng.u64() & t.mask);
const wellFormed = (t: Tnum): boolean => (t.value & t.mask) === 0n && t.value === u64(t.value) && t.mask === u64(t.mask);

describe('tnum soundness (random 64-bit tnums and members)', () => {
  const rng = new Rng(0x7e57);
  const CASES = 4000;

  const binary: [string, (a: Tnum, b: Tnum) => Tnum, (x: bigint, y: bigint) => bigint][] = [
    ['tnum_add', tnum_add, (x, y) => u64(x + y)],
    ['tnum_sub', tnum_sub, (x, y) => u64(x - y)],
    ['tnum_mul', tnum_mul, (x, y) => u64(x * y)],
    ['tnum_and', tnum_and, (x, y) => x & y],
    ['tnum_or', tnum_or, (x, y) => x | y],
    ['tnum_xor', tnum_xor, (x, y) => x ^ y],
  ];
  for (const [name, op, concrete] of binary) {
    it(`${name} contains op(x, y) for x in a, y in b`, () => {
      for (let i = 0; i < CASES; i++) {
        const a = randomTnum(rng);
        const b = randomTnum(rng);
        const r = op(a, b);
        expect(wellFormed(r)).toBe(true);
        for (let k = 0; k < 3; k++) {
          const x = member(rng, a);
          const y = member(rng, b);
          if (!tnum_contains(r, concrete(x, y))) throw new Error(`${name}(${fmt(a)}, ${fmt(b)}) = ${fmt(r)} misses ${x} op ${y}`);
        }
      }
    });
  }

  it('shifts, negation, casts and byte swaps contain the concrete results', () => {
    for (let i = 0; i < CASES; i++) {
      const a = randomTnum(rng);
      const x = member(rng, a);
      const s = rng.int(64);
      const s32 = rng.int(32);
      const checks: [Tnum, bigint][] = [
        [tnum_lshift(a, s), concreteAlu('lsh', 64, x, BigInt(s))],
        [tnum_rshift(a, s), concreteAlu('rsh', 64, x, BigInt(s))],
        [tnum_arshift(a, s, 64), concreteAlu('arsh', 64, x, BigInt(s))],
        [tnum_arshift(tnum_subreg(a), s32, 32), concreteAlu('arsh', 32, x, BigInt(s32))],
        [tnum_neg(a), u64(-x)],
        [tnum_cast(a, 1), x & 0xffn],
        [tnum_cast(a, 2), x & 0xffffn],
        [tnum_subreg(a), x & 0xffffffffn],
        [tnum_clear_subreg(a), x & 0xffffffff00000000n],
        [tnum_bswap16(a), concreteEnd('bswap', 16, x)],
        [tnum_bswap32(a), concreteEnd('bswap', 32, x)],
        [tnum_bswap64(a), concreteEnd('bswap', 64, x)],
      ];
      for (const [r, v] of checks) {
        expect(wellFormed(r)).toBe(true);
        if (!tnum_contains(r, v)) throw new Error(`${fmt(a)} x=${x}: ${fmt(r)} misses ${v}`);
      }
      const b = randomTnum(rng);
      const y = member(rng, b);
      expect(tnum_contains(tnum_with_subreg(a, b), (x & 0xffffffff00000000n) | (y & 0xffffffffn))).toBe(true);
      const c = rng.u32();
      expect(tnum_contains(tnum_const_subreg(a, BigInt(c)), (x & 0xffffffff00000000n) | BigInt(c))).toBe(true);
    }
  });

  it('tnum_range holds every value of [min, max], and tnum_union / tnum_intersect keep members', () => {
    for (let i = 0; i < CASES; i++) {
      let lo = interestingU64(rng);
      let hi = interestingU64(rng);
      if (lo > hi) [lo, hi] = [hi, lo];
      const r = tnum_range(lo, hi);
      for (const v of [lo, hi, lo + (rng.u64() % (hi - lo + 1n))]) expect(tnum_contains(r, v)).toBe(true);
      const a = randomTnum(rng);
      const b = randomTnum(rng);
      const x = member(rng, a);
      const y = member(rng, b);
      const u = tnum_union(a, b);
      expect(tnum_contains(u, x) && tnum_contains(u, y)).toBe(true);
      // A value known to be in both keeps membership of their intersection.
      const both = T(a.value | b.value, 0n);
      if (tnum_contains(a, both.value) && tnum_contains(b, both.value)) expect(tnum_contains(tnum_intersect(a, b), both.value)).toBe(true);
      // Intersecting a tnum with a superset of it changes nothing.
      expect(tnum_intersect(a, tnum_union(a, b))).toEqual(a);
    }
  });
});

describe('tnum set operations, exhaustively on 4-bit tnums', () => {
  // Every 4-bit tnum (3^4 = 81 of them) embedded in 64 bits with the upper bits known zero.
  const all: Tnum[] = [];
  for (let mask = 0n; mask < 16n; mask++) for (let value = 0n; value < 16n; value++) if ((value & mask) === 0n) all.push(T(value, mask));
  const set = (t: Tnum): bigint[] => [...Array(16).keys()].map(BigInt).filter((v) => tnum_contains(t, v));

  it('has 81 of them', () => expect(all.length).toBe(81));

  it('tnum_in(a, b) is exactly "b is a subset of a"; tnum_overlap exactly "a and b share a member"', () => {
    for (const a of all) {
      const sa = set(a);
      for (const b of all) {
        const sb = set(b);
        expect(tnum_in(a, b)).toBe(sb.every((v) => sa.includes(v)));
        expect(tnum_overlap(a, b)).toBe(sb.some((v) => sa.includes(v)));
      }
    }
  });

  it('tnum_intersect keeps every common member; tnum_union is the smallest tnum over both', () => {
    for (const a of all) {
      for (const b of all) {
        const common = set(a).filter((v) => tnum_contains(b, v));
        const i = tnum_intersect(a, b);
        for (const v of common) expect(tnum_contains(i, v)).toBe(true);
        const u = tnum_union(a, b);
        const members = [...new Set([...set(a), ...set(b)])];
        for (const v of members) expect(tnum_contains(u, v)).toBe(true);
        // Optimal: every unknown bit of the union takes both values among the members.
        for (let bit = 0n; bit < 4n; bit++) {
          if ((u.mask >> bit) & 1n) expect(new Set(members.map((v) => (v >> bit) & 1n)).size).toBe(2);
        }
      }
    }
  });

  it('tnum_step(t, z) is the smallest member above z (tmax at or past the top, t.value below the bottom)', () => {
    for (const t of all) {
      const members = set(t);
      const tmax = t.value | t.mask;
      for (let z = 0n; z < 20n; z++) {
        const above = members.filter((v) => v > z);
        const want = z >= tmax ? tmax : z < t.value ? t.value : above[0]!;
        expect(tnum_step(t, z)).toBe(want);
      }
    }
  });

  it('tnum_range is the smallest tnum with the common high bits of min and max known', () => {
    for (let lo = 0n; lo < 16n; lo++) {
      for (let hi = lo; hi < 16n; hi++) {
        const r = tnum_range(lo, hi);
        for (let v = lo; v <= hi; v++) expect(tnum_contains(r, v)).toBe(true);
        expect(r.mask).toBe((1n << BigInt(fls64(lo ^ hi))) - 1n);
      }
    }
  });
});

describe('tnum_step on 64-bit tnums', () => {
  it('returns members of t, above z, with no member in between (checked by stepping back)', () => {
    const rng = new Rng(99);
    for (let i = 0; i < 3000; i++) {
      const t = randomTnum(rng);
      const tmax = t.value | t.mask;
      if (tmax === t.value) continue;
      const z = t.value + (rng.u64() % (tmax - t.value));
      const n = tnum_step(t, z);
      expect(n > z).toBe(true);
      expect(tnum_contains(t, n)).toBe(true);
      // The member just below n (in t's order) is at most z: clear n's lowest unknown set bit and
      // fill the unknown bits below it.
      const unknownSet = n & t.mask;
      if (unknownSet !== 0n) {
        const low = unknownSet & -unknownSet;
        const prev = (n & ~low) | (t.mask & (low - 1n));
        expect(prev <= z).toBe(true);
      }
    }
  });
});

describe('tnum known answers', () => {
  it('tnum_range(0, 255) is (0x0; 0xff); (0, 2^64-1) is unknown; (5, 5) is the constant', () => {
    expect(tnum_range(0n, 255n)).toEqual(T(0n, 0xffn));
    expect(tnum_is_unknown(tnum_range(0n, u64(-1n)))).toBe(true);
    expect(tnum_range(5n, 5n)).toEqual(tnum_const(5n));
    expect(tnum_range(0x10000000an, 0x10000000fn)).toEqual(T(0x100000008n, 7n));
  });

  it('the long-multiplication example of the kernel comment: 11 * x1 = x0x1', () => {
    expect(tnum_mul(T(1n, 2n), tnum_const(3n))).toEqual(T(1n, 0xan));
    expect(tnum_mul(tnum_const(6n), tnum_const(7n))).toEqual(tnum_const(42n));
    // [0, 255] * [0, 255] as the kernel's log shows it: var_off=(0x0; 0xffff)
    expect(tnum_mul(T(0n, 0xffn), T(0n, 0xffn))).toEqual(T(0n, 0xffffn));
  });

  it('r &= 0xff on an unknown value gives (0x0; 0xff); | 0x100 gives (0x100; 0xff)', () => {
    const r = tnum_and(tnum_unknown, tnum_const(0xffn));
    expect(r).toEqual(T(0n, 0xffn));
    expect(tnum_or(r, tnum_const(0x100n))).toEqual(T(0x100n, 0xffn));
  });

  it('be16 of (0x0; 0xff) is (0x0; 0xff00) as in the kernel log', () => {
    expect(tnum_bswap16(T(0n, 0xffn))).toEqual(T(0n, 0xff00n));
    expect(tnum_bswap64(tnum_const(0x0102030405060708n))).toEqual(tnum_const(0x0807060504030201n));
  });

  it('add of two unknown low nibbles carries into the fifth bit', () => {
    expect(tnum_add(T(0n, 0xfn), T(0n, 0xfn))).toEqual(T(0n, 0x1fn));
    expect(tnum_add(tnum_const(u64(-1n)), tnum_const(1n))).toEqual(tnum_const(0n));
  });

  it('predicates', () => {
    expect(tnum_is_const(tnum_const(7n))).toBe(true);
    expect(tnum_equals_const(tnum_const(u64(-1n)), -1n)).toBe(true);
    expect(tnum_subreg_is_const(T(0n, 0xffffffff00000000n))).toBe(true);
    expect(tnum_is_aligned(T(0x10n, 0xf0n), 16n)).toBe(true);
    expect(tnum_is_aligned(T(0x10n, 0xf8n), 16n)).toBe(false);
    expect(tnum_is_aligned(T(3n, 0n), 0n)).toBe(true);
  });

  it('tnum_sbin writes the 64 bits most significant first', () => {
    const s = tnum_sbin(T(0x5n, 0x2n));
    expect(s).toHaveLength(64);
    expect(s.endsWith('1x1')).toBe(true);
    expect(s.slice(0, 61)).toBe('0'.repeat(61));
    expect(tnum_sbin(tnum_unknown)).toBe('x'.repeat(64));
  });
});

function fmt(t: Tnum): string {
  return `(0x${t.value.toString(16)}; 0x${t.mask.toString(16)})`;
}
