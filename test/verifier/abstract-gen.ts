// Test helper for the soundness properties: random abstract scalars together with concrete values they
// contain, and the concrete semantics of the BPF instructions written directly from the ISA (RFC 9669:
// 64-bit wrap-around, shift amounts masked, 32-bit ops zero-extending, x/0 = 0, x%0 = x) - independent
// of the code under test.

import { reg_bounds_sync, scalar_unknown } from '../../src/kernel/verifier/bounds.js';
import type { ScalarBounds, Tnum } from '../../src/kernel/verifier/scalar.js';
import { tnum_contains } from '../../src/kernel/verifier/tnum.js';
import type { Rng } from './kernel-diff.js';

const u64 = (x: bigint): bigint => BigInt.asUintN(64, x);
const s64 = (x: bigint): bigint => BigInt.asIntN(64, x);
const u32 = (x: bigint): bigint => BigInt.asUintN(32, x);
const s32 = (x: bigint): bigint => BigInt.asIntN(32, x);

/** Whether the concrete u64 v is a member of reg: inside its tnum and all eight bounds. */
export function contains(reg: ScalarBounds, v: bigint): boolean {
  const x = u64(v);
  return (
    tnum_contains(reg.var_off, x) &&
    reg.umin_value <= x && x <= reg.umax_value &&
    reg.smin_value <= s64(x) && s64(x) <= reg.smax_value &&
    reg.u32_min_value <= u32(x) && u32(x) <= reg.u32_max_value &&
    reg.s32_min_value <= s32(x) && s32(x) <= reg.s32_max_value
  );
}

/** A value with some structure: small, near a power of two, near a sign boundary, or random. */
export function interestingU64(rng: Rng): bigint {
  switch (rng.int(7)) {
    case 0:
      return u64(BigInt(rng.int(40) - 20));
    case 1:
      return u64((1n << BigInt(rng.int(64))) + BigInt(rng.int(3) - 1));
    case 2:
      return u64(-(1n << BigInt(rng.int(64))) + BigInt(rng.int(3) - 1));
    case 3:
      return BigInt(rng.u32());
    case 4:
      return u64(BigInt(rng.u32() | 0));
    case 5:
      return rng.pick([0n, 0x7fffffffn, 0x80000000n, 0xffffffffn, 0x100000000n, 0x7fffffffffffffffn, 0x8000000000000000n, u64(-1n)]);
    default:
      return rng.u64();
  }
}

function randomMask(rng: Rng): bigint {
  switch (rng.int(6)) {
    case 0:
      return 0n;
    case 1:
      return u64(-1n);
    case 2:
      return (1n << BigInt(rng.int(65))) - 1n; // low bits unknown
    case 3:
      return u64(((1n << BigInt(rng.int(65))) - 1n) << BigInt(rng.int(64)));
    case 4:
      return BigInt(rng.u32());
    default:
      return rng.u64() & rng.u64();
  }
}

/** A value near x (so that bounds are sometimes tight, sometimes loose). */
function near(rng: Rng, x: bigint, below: boolean, bits: 32 | 64): bigint {
  const lim = bits === 64 ? u64(-1n) : 0xffffffffn;
  const dist = rng.pick([0n, 1n, BigInt(rng.int(16)), BigInt(rng.u32()), rng.u64(), lim]);
  return below ? (x > dist ? x - dist : 0n) : x + dist > lim ? lim : x + dist;
}

/**
 * A random abstract scalar containing `x`: a tnum that has x as a member and bounds around x (each
 * of the eight either unconstrained or somewhere between x and the extreme), then reg_bounds_sync'd
 * as the verifier always keeps its states.
 */
export function abstractAround(rng: Rng, x: bigint): ScalarBounds {
  const reg = scalar_unknown();
  const mask = randomMask(rng);
  reg.var_off = { value: x & ~mask, mask };
  if (rng.chance(0.5)) reg.umin_value = near(rng, x, true, 64);
  if (rng.chance(0.5)) reg.umax_value = near(rng, x, false, 64);
  const sx = s64(x) + (1n << 63n); // s64 order mapped onto u64 order
  if (rng.chance(0.4)) reg.smin_value = near(rng, sx, true, 64) - (1n << 63n);
  if (rng.chance(0.4)) reg.smax_value = near(rng, sx, false, 64) - (1n << 63n);
  const lx = u32(x);
  if (rng.chance(0.4)) reg.u32_min_value = near(rng, lx, true, 32);
  if (rng.chance(0.4)) reg.u32_max_value = near(rng, lx, false, 32);
  const slx = s32(lx) + (1n << 31n);
  if (rng.chance(0.3)) reg.s32_min_value = near(rng, slx, true, 32) - (1n << 31n);
  if (rng.chance(0.3)) reg.s32_max_value = near(rng, slx, false, 32) - (1n << 31n);
  reg_bounds_sync(reg);
  return reg;
}

/** Up to n members of reg: `x` first, then the bounds' ends and random tnum members that fit. */
export function members(rng: Rng, reg: ScalarBounds, x: bigint, n: number): bigint[] {
  const out = [x];
  const candidates = [reg.umin_value, reg.umax_value, u64(reg.smin_value), u64(reg.smax_value), reg.var_off.value, reg.var_off.value | reg.var_off.mask];
  for (const c of candidates) if (out.length < n && contains(reg, c) && !out.includes(c)) out.push(c);
  for (let tries = 0; tries < 4 * n && out.length < n; tries++) {
    const c = randomMember(rng, reg.var_off);
    if (contains(reg, c) && !out.includes(c)) out.push(c);
  }
  return out;
}

function randomMember(rng: Rng, t: Tnum): bigint {
  return t.value | (rng.u64() & t.mask);
}

// ---- the instruction set's concrete semantics ----

const bswap = (x: bigint, bytes: number): bigint => {
  let r = 0n;
  for (let i = 0; i < bytes; i++) r = (r << 8n) | ((x >> BigInt(8 * i)) & 0xffn);
  return r;
};

export type AluName = 'add' | 'sub' | 'mul' | 'div' | 'sdiv' | 'mod' | 'smod' | 'or' | 'and' | 'xor' | 'lsh' | 'rsh' | 'arsh' | 'neg' | 'mov';

/** dst = dst <op> src for ALU64 (bits 64) or ALU (bits 32, result zero-extended). */
export function concreteAlu(op: AluName, bits: 32 | 64, dst: bigint, src: bigint): bigint {
  const wrap = (v: bigint): bigint => (bits === 64 ? u64(v) : u32(v));
  const sgn = (v: bigint): bigint => (bits === 64 ? s64(v) : s32(v));
  const a = wrap(dst);
  const b = wrap(src);
  const shift = b & BigInt(bits - 1);
  switch (op) {
    case 'add': return wrap(a + b);
    case 'sub': return wrap(a - b);
    case 'mul': return wrap(a * b);
    case 'div': return b === 0n ? 0n : a / b;
    case 'sdiv': return b === 0n ? 0n : wrap(sgn(a) / sgn(b)); // BigInt division truncates, as C
    case 'mod': return b === 0n ? a : a % b;
    case 'smod': return b === 0n ? a : wrap(sgn(a) % sgn(b));
    case 'or': return a | b;
    case 'and': return a & b;
    case 'xor': return a ^ b;
    case 'lsh': return wrap(a << shift);
    case 'rsh': return a >> shift;
    case 'arsh': return wrap(sgn(a) >> shift);
    case 'neg': return wrap(-a);
    case 'mov': return b;
  }
}

/** movsx: sign-extend the low `fromBits` of src to 64 bits (ALU64) or to 32 then zero-extend (ALU). */
export function concreteMovsx(bits: 32 | 64, fromBits: 8 | 16 | 32, src: bigint): bigint {
  const v = BigInt.asIntN(fromBits, src);
  return bits === 64 ? u64(v) : u32(v);
}

/** BPF_END on a little-endian host: le truncates, be and bswap swap (16/32 bits also truncate). */
export function concreteEnd(kind: 'le' | 'be' | 'bswap', width: 16 | 32 | 64, x: bigint): bigint {
  const low = width === 64 ? x : x & ((1n << BigInt(width)) - 1n);
  return kind === 'le' ? low : bswap(low, width / 8);
}

export type JmpName = 'jeq' | 'jne' | 'jset' | 'jgt' | 'jge' | 'jlt' | 'jle' | 'jsgt' | 'jsge' | 'jslt' | 'jsle';

/** Whether `if a <op> b goto` jumps, comparing 64 bits or the low 32. */
export function concreteJmp(op: JmpName, bits: 32 | 64, a: bigint, b: bigint): boolean {
  const ua = bits === 64 ? u64(a) : u32(a);
  const ub = bits === 64 ? u64(b) : u32(b);
  const sa = bits === 64 ? s64(a) : s32(a);
  const sb = bits === 64 ? s64(b) : s32(b);
  switch (op) {
    case 'jeq': return ua === ub;
    case 'jne': return ua !== ub;
    case 'jset': return (ua & ub) !== 0n;
    case 'jgt': return ua > ub;
    case 'jge': return ua >= ub;
    case 'jlt': return ua < ub;
    case 'jle': return ua <= ub;
    case 'jsgt': return sa > sb;
    case 'jsge': return sa >= sb;
    case 'jslt': return sa < sb;
    case 'jsle': return sa <= sb;
  }
}
