// Tracked numbers: kernel/bpf/tnum.c and include/linux/tnum.h. A tnum says, bit by bit, what the
// verifier knows of a 64-bit value: a bit set in `mask` is unknown, otherwise the bit equals the one in
// `value` (so value & mask == 0). Every operation here returns a tnum that contains every result the
// concrete operation can give for members of its operands; the verifier relies on nothing else.
//
// All values are u64 held in bigint (see scalar.ts for why). Functions are pure: each returns a new
// tnum and never changes its operands. Names and argument orders are the kernel's.

import { U32_MAX, U64_MAX, type Tnum } from './scalar.js';

const TNUM = (value: bigint, mask: bigint): Tnum => ({ value, mask });
const P64 = 1n << 64n;
/** (u64)x; a value already in range is kept (BigInt.asUintN allocates). */
const u64 = (x: bigint): bigint => (x >= 0n && x < P64 ? x : BigInt.asUintN(64, x));

/** A completely unknown value. */
export const tnum_unknown: Tnum = Object.freeze(TNUM(0n, U64_MAX));

export function tnum_const(value: bigint): Tnum {
  return TNUM(u64(value), 0n);
}

/** fls64(): 1-based index of the most significant set bit, 0 for 0. */
export function fls64(x: bigint): number {
  const v = u64(x);
  // Two 32-bit halves through Math.clz32: far cheaper than formatting the bigint.
  const hi = Number(v >> 32n);
  if (hi !== 0) return 64 - Math.clz32(hi);
  return 32 - Math.clz32(Number(v & 0xffffffffn));
}

/** The smallest tnum holding every value in [min, max] (unsigned): the common high bits are known. */
export function tnum_range(min: bigint, max: bigint): Tnum {
  const chi = u64(min ^ max);
  const bits = fls64(chi);
  // 1 << 64 would not fit the kernel's u64, hence its special case; kept for the same answer.
  if (bits > 63) return tnum_unknown;
  const delta = (1n << BigInt(bits)) - 1n;
  return TNUM(u64(min) & ~delta, delta);
}

export function tnum_lshift(a: Tnum, shift: number): Tnum {
  const s = BigInt(shift);
  return TNUM(u64(a.value << s), u64(a.mask << s));
}

export function tnum_rshift(a: Tnum, shift: number): Tnum {
  const s = BigInt(shift);
  return TNUM(a.value >> s, a.mask >> s);
}

/**
 * Arithmetic right shift by the smallest possible shift. Shifting by more would only move a known sign
 * bit's copies further right, which the min shift's result already allows for, as the kernel notes.
 */
export function tnum_arshift(a: Tnum, min_shift: number, insn_bitness: 32 | 64): Tnum {
  const s = BigInt(min_shift);
  if (insn_bitness === 32) {
    return TNUM(BigInt.asUintN(32, BigInt.asIntN(32, a.value) >> s), BigInt.asUintN(32, BigInt.asIntN(32, a.mask) >> s));
  }
  return TNUM(u64(BigInt.asIntN(64, a.value) >> s), u64(BigInt.asIntN(64, a.mask) >> s));
}

export function tnum_add(a: Tnum, b: Tnum): Tnum {
  const sm = u64(a.mask + b.mask);
  const sv = u64(a.value + b.value);
  const sigma = u64(sm + sv);
  const chi = sigma ^ sv;
  const mu = chi | a.mask | b.mask;
  return TNUM(sv & ~mu, mu);
}

export function tnum_sub(a: Tnum, b: Tnum): Tnum {
  const dv = u64(a.value - b.value);
  const alpha = u64(dv + a.mask);
  const beta = u64(dv - b.mask);
  const chi = alpha ^ beta;
  const mu = chi | a.mask | b.mask;
  return TNUM(dv & ~mu, mu);
}

export function tnum_neg(a: Tnum): Tnum {
  return tnum_sub(TNUM(0n, 0n), a);
}

export function tnum_and(a: Tnum, b: Tnum): Tnum {
  const alpha = a.value | a.mask;
  const beta = b.value | b.mask;
  const v = a.value & b.value;
  return TNUM(v, alpha & beta & ~v);
}

export function tnum_or(a: Tnum, b: Tnum): Tnum {
  const v = a.value | b.value;
  const mu = a.mask | b.mask;
  return TNUM(v, mu & ~v);
}

export function tnum_xor(a: Tnum, b: Tnum): Tnum {
  const v = a.value ^ b.value;
  const mu = a.mask | b.mask;
  return TNUM(v & ~mu, mu);
}

/**
 * Long multiplication over the bits of `a`: a known 1 adds `b` to the accumulator, an unknown bit takes
 * the union of "added" and "not added". This is the current kernel's tnum_mul (the 2025 rewrite that
 * replaced the separate value/mask accumulators and is strictly more precise).
 */
export function tnum_mul(a: Tnum, b: Tnum): Tnum {
  let acc = TNUM(0n, 0n);
  while (a.value !== 0n || a.mask !== 0n) {
    if ((a.value & 1n) !== 0n) acc = tnum_add(acc, b);
    else if ((a.mask & 1n) !== 0n) acc = tnum_union(acc, tnum_add(acc, b));
    a = tnum_rshift(a, 1);
    b = tnum_lshift(b, 1);
  }
  return acc;
}

/**
 * tnum_step: the smallest member of t greater than z, for t.value <= z < tmax (tmax = t.value | t.mask,
 * t's largest member); tmax when z >= tmax, t.value when z < t.value. Example: t = x11100x0,
 * z = 11110001 gives 11110010.
 */
export function tnum_step(t: Tnum, z: bigint): bigint {
  const tmax = t.value | t.mask;
  if (z >= tmax) return tmax;
  if (z < t.value) return t.value;
  // z with t's known bits imposed: if that is already above z, the answer keeps z's bits above the
  // most significant place where t has a known 1 and z a 0, and t's minimum below it.
  const j = t.value | (z & t.mask);
  if (j > z) {
    const k = BigInt(fls64(~z & t.value & ~t.mask));
    const q = u64(U64_MAX << k);
    return (q & z) | (~q & t.value);
  }
  // Otherwise find the most significant place where z has a 1 that t knows to be 0, and add one to z's
  // unknown bits above it (known bits set to 1 carry the increment past them).
  const k = BigInt(fls64(z & ~t.value & ~t.mask));
  const q = u64(U64_MAX << k);
  const v = (q & t.mask & z) | (q & ~t.mask);
  const u = u64(v + (1n << k));
  return (u & t.mask) | t.value;
}

/** Whether some value is a member of both a and b: their known bits agree wherever both know them. */
export function tnum_overlap(a: Tnum, b: Tnum): boolean {
  const mu = ~a.mask & ~b.mask;
  return (a.value & mu) === (b.value & mu);
}

/**
 * Bits known in either operand. Where a and b disagree (one has a known 1, the other a known 0) the
 * result has a known 1: callers only intersect tnums that describe the same value, so such a bit means
 * the state is unreachable and any answer is sound.
 */
export function tnum_intersect(a: Tnum, b: Tnum): Tnum {
  const v = a.value | b.value;
  const mu = a.mask & b.mask;
  return TNUM(v & ~mu, mu);
}

/** Every member of a and of b, plus unknown bits wherever a and b disagree. */
export function tnum_union(a: Tnum, b: Tnum): Tnum {
  const v = a.value & b.value;
  const mu = (a.value ^ b.value) | a.mask | b.mask;
  return TNUM(v & ~mu, mu);
}

/** Keep the lowest `size` bytes. */
export function tnum_cast(a: Tnum, size: number): Tnum {
  const m = size >= 8 ? U64_MAX : (1n << BigInt(size * 8)) - 1n;
  return TNUM(a.value & m, a.mask & m);
}

/** Whether every member is a multiple of `size` (a power of two, as the verifier only asks that). */
export function tnum_is_aligned(a: Tnum, size: bigint): boolean {
  if (size === 0n) return true;
  return ((a.value | a.mask) & (size - 1n)) === 0n;
}

/** Whether every member of b is a member of a. */
export function tnum_in(a: Tnum, b: Tnum): boolean {
  if ((b.mask & ~a.mask) !== 0n) return false;
  return a.value === (b.value & ~a.mask);
}

const swab = (x: bigint, bytes: number): bigint => {
  let out = 0n;
  for (let i = 0; i < bytes; i++) out = (out << 8n) | ((x >> BigInt(8 * i)) & 0xffn);
  return out;
};

export function tnum_bswap16(a: Tnum): Tnum {
  return TNUM(swab(a.value & 0xffffn, 2), swab(a.mask & 0xffffn, 2));
}

export function tnum_bswap32(a: Tnum): Tnum {
  return TNUM(swab(a.value & U32_MAX, 4), swab(a.mask & U32_MAX, 4));
}

export function tnum_bswap64(a: Tnum): Tnum {
  return TNUM(swab(a.value, 8), swab(a.mask, 8));
}

/** The low 32 bits (a 32-bit ALU op's view of the register). */
export function tnum_subreg(a: Tnum): Tnum {
  return tnum_cast(a, 4);
}

/** The high 32 bits kept, the low 32 known zero. */
export function tnum_clear_subreg(a: Tnum): Tnum {
  return tnum_lshift(tnum_rshift(a, 32), 32);
}

/** reg's high half with subreg's low half. */
export function tnum_with_subreg(reg: Tnum, subreg: Tnum): Tnum {
  return tnum_or(tnum_clear_subreg(reg), tnum_subreg(subreg));
}

/** a with its low 32 bits known to be `value`. */
export function tnum_const_subreg(a: Tnum, value: bigint): Tnum {
  return tnum_with_subreg(a, tnum_const(value & U32_MAX));
}

export function tnum_is_const(a: Tnum): boolean {
  return a.mask === 0n;
}

export function tnum_equals_const(a: Tnum, b: bigint): boolean {
  return a.mask === 0n && a.value === u64(b);
}

export function tnum_is_unknown(a: Tnum): boolean {
  return a.mask === U64_MAX;
}

export function tnum_subreg_is_const(a: Tnum): boolean {
  return (a.mask & U32_MAX) === 0n;
}

/** Whether the concrete u64 `x` is a member of `a`. */
export function tnum_contains(a: Tnum, x: bigint): boolean {
  return (u64(x) & ~a.mask) === a.value;
}

/**
 * tnum_sbin(): the 64 bits most significant first, each `0`, `1` or `x` (unknown), as the kernel
 * writes them into a buffer for debugging output.
 */
export function tnum_sbin(a: Tnum): string {
  let s = '';
  for (let i = 63; i >= 0; i--) {
    const bit = 1n << BigInt(i);
    s += (a.mask & bit) !== 0n ? 'x' : (a.value & bit) !== 0n ? '1' : '0';
  }
  return s;
}
