// The verifier's range analysis of scalars (kernel/bpf/verifier.c): marking a register known or unknown,
// keeping its tnum and its eight bounds (s64/u64/s32/u32 min and max) consistent with each other
// (reg_bounds_sync and the deductions under it), the effect of every ALU op on them
// (adjust_scalar_min_max_vals and the scalar{32,}_min_max_* family), moves, zero- and sign-extension
// (zext_32_to_64, coerce_reg_to_size{,_sx}), and conditional jumps: whether a branch is decided
// (is_scalar_branch_taken) and what each side learns (regs_refine_cond_op, reg_set_min_max).
//
// It follows the kernel on this machine (6.18 with its stable backports, checked against its verifier
// log): BPF_NEG and BPF_END (byte swaps) are tracked, division and modulo make the result unknown.
//
// Conventions, as in the kernel: functions take a `ScalarBounds` (the numeric half of a
// bpf_reg_state) and MUTATE it in place; the caller copies first where it needs the old state
// (copy_scalar). Register types, ids, precision and liveness are the caller's (the main loop): this
// module only ever sees scalars. Values are bigint in their C type's range: smin/smax in s64, umin/umax
// in u64, s32_min/s32_max in s32, u32_min/u32_max in u32; every store wraps the way C's does.

import { bpfClass, bpfOp, bpfSrc, BPF_ADD, BPF_ALU64, BPF_AND, BPF_ARSH, BPF_END, BPF_JEQ, BPF_JGE, BPF_JGT, BPF_JLE, BPF_JLT, BPF_JNE, BPF_JSET, BPF_JSGE, BPF_JSGT, BPF_JSLE, BPF_JSLT, BPF_LSH, BPF_MOV, BPF_MUL, BPF_NEG, BPF_OR, BPF_RSH, BPF_SUB, BPF_TO_LE, BPF_X, BPF_XOR } from '../../bpf/opcodes.js';
import type { Insn } from '../../bpf/insn.js';
import { S32_MAX, S32_MIN, S64_MAX, S64_MIN, U32_MAX, U64_MAX, type ScalarBounds } from './scalar.js';
import {
  fls64, tnum_add, tnum_and, tnum_arshift, tnum_bswap16, tnum_bswap32, tnum_bswap64, tnum_cast, tnum_clear_subreg,
  tnum_const, tnum_const_subreg, tnum_intersect, tnum_is_const, tnum_lshift, tnum_mul, tnum_neg, tnum_or,
  tnum_overlap, tnum_range, tnum_rshift, tnum_step, tnum_sub, tnum_subreg, tnum_subreg_is_const, tnum_unknown, tnum_with_subreg,
  tnum_xor,
} from './tnum.js';

// C's integer conversions. A value already in range is returned as it is: BigInt.asIntN allocates, and
// these run millions of times on long walks.
const P64 = 1n << 64n, P32 = 1n << 32n;
const S63 = 1n << 63n, S31 = 1n << 31n;
const u64 = (x: bigint): bigint => (x >= 0n && x < P64 ? x : BigInt.asUintN(64, x));
const s64 = (x: bigint): bigint => (x >= -S63 && x < S63 ? x : BigInt.asIntN(64, x));
const u32 = (x: bigint): bigint => (x >= 0n && x < P32 ? x : BigInt.asUintN(32, x));
const s32 = (x: bigint): bigint => (x >= -S31 && x < S31 ? x : BigInt.asIntN(32, x));
const s16 = (x: bigint): bigint => BigInt.asIntN(16, x);
const s8 = (x: bigint): bigint => BigInt.asIntN(8, x);
const max = (a: bigint, b: bigint): bigint => (a > b ? a : b);
const min = (a: bigint, b: bigint): bigint => (a < b ? a : b);
const LOW32 = 0xffffffffn;
const HIGH32 = u64(~LOW32);

// ---------------------------------------------------------------------------------------------
// Making and copying states

/** A scalar about which nothing is known (the numeric part of __mark_reg_unknown). */
export function scalar_unknown(): ScalarBounds {
  return {
    var_off: tnum_unknown,
    smin_value: S64_MIN,
    smax_value: S64_MAX,
    umin_value: 0n,
    umax_value: U64_MAX,
    s32_min_value: S32_MIN,
    s32_max_value: S32_MAX,
    u32_min_value: 0n,
    u32_max_value: U32_MAX,
  };
}

/** A scalar known to be `imm` (taken as u64: pass -1n or 0xffff...ffn alike). */
export function scalar_const(imm: bigint): ScalarBounds {
  const reg = scalar_unknown();
  ___mark_reg_known(reg, imm);
  return reg;
}

export function copy_scalar(reg: ScalarBounds): ScalarBounds {
  return { ...reg };
}

/** Copy every numeric field of src into dst (the numeric part of copy_register_state). */
export function assign_scalar(dst: ScalarBounds, src: ScalarBounds): void {
  dst.var_off = src.var_off;
  dst.smin_value = src.smin_value;
  dst.smax_value = src.smax_value;
  dst.umin_value = src.umin_value;
  dst.umax_value = src.umax_value;
  dst.s32_min_value = src.s32_min_value;
  dst.s32_max_value = src.s32_max_value;
  dst.u32_min_value = src.u32_min_value;
  dst.u32_max_value = src.u32_max_value;
}

/** Set the value to the constant imm (u64) in every representation; the kernel's ___mark_reg_known. */
export function ___mark_reg_known(reg: ScalarBounds, imm: bigint): void {
  const v = u64(imm);
  reg.var_off = tnum_const(v);
  reg.smin_value = s64(v);
  reg.smax_value = s64(v);
  reg.umin_value = v;
  reg.umax_value = v;
  reg.s32_min_value = s32(v);
  reg.s32_max_value = s32(v);
  reg.u32_min_value = u32(v);
  reg.u32_max_value = u32(v);
}

/** __mark_reg_known: the numeric part (the caller clears id, ref_obj_id and off). */
export const __mark_reg_known = ___mark_reg_known;

/** The low 32 bits are known to be imm; the high half of var_off is kept. */
export function __mark_reg32_known(reg: ScalarBounds, imm: bigint): void {
  reg.var_off = tnum_const_subreg(reg.var_off, imm);
  reg.s32_min_value = s32(imm);
  reg.s32_max_value = s32(imm);
  reg.u32_min_value = u32(imm);
  reg.u32_max_value = u32(imm);
}

/** __mark_reg_unknown, numeric part: var_off unknown and every bound at its widest. */
export function __mark_reg_unknown(reg: ScalarBounds): void {
  reg.var_off = tnum_unknown;
  __mark_reg_unbounded(reg);
}

/** Reset the eight bounds but keep var_off (reg_bounds_sync can then rebuild them from it). */
export function __mark_reg_unbounded(reg: ScalarBounds): void {
  __mark_reg64_unbounded(reg);
  __mark_reg32_unbounded(reg);
}

export function __mark_reg64_unbounded(reg: ScalarBounds): void {
  reg.smin_value = S64_MIN;
  reg.smax_value = S64_MAX;
  reg.umin_value = 0n;
  reg.umax_value = U64_MAX;
}

export function __mark_reg32_unbounded(reg: ScalarBounds): void {
  reg.s32_min_value = S32_MIN;
  reg.s32_max_value = S32_MAX;
  reg.u32_min_value = 0n;
  reg.u32_max_value = U32_MAX;
}

/**
 * __mark_reg_s32_range: narrow to [s32_min, s32_max] both as s32 and as s64 (helpers whose return value
 * is such a range, e.g. bpf_get_smp_processor_id's). Returns the sanity-check message, if any.
 */
export function __mark_reg_s32_range(reg: ScalarBounds, s32_min: bigint, s32_max: bigint): string | null {
  reg.s32_min_value = max(reg.s32_min_value, s32_min);
  reg.s32_max_value = min(reg.s32_max_value, s32_max);
  reg.smin_value = max(reg.smin_value, s32_min);
  reg.smax_value = min(reg.smax_value, s32_max);
  reg_bounds_sync(reg);
  return reg_bounds_sanity_check(reg, 's32_range');
}

// ---------------------------------------------------------------------------------------------
// Keeping the bounds and the tnum consistent

/** Learn 32-bit bounds from the tnum's low half: the sign bit at its min / max, the other bits too. */
export function __update_reg32_bounds(reg: ScalarBounds): void {
  const var32 = tnum_subreg(reg.var_off);
  reg.s32_min_value = max(reg.s32_min_value, s32(var32.value | (var32.mask & 0x80000000n)));
  reg.s32_max_value = min(reg.s32_max_value, s32(var32.value | (var32.mask & 0x7fffffffn)));
  reg.u32_min_value = max(reg.u32_min_value, var32.value);
  reg.u32_max_value = min(reg.u32_max_value, var32.value | var32.mask);
}

export function __update_reg64_bounds(reg: ScalarBounds): void {
  const t = reg.var_off;
  reg.smin_value = max(reg.smin_value, s64(t.value | (t.mask & 0x8000000000000000n)));
  reg.smax_value = min(reg.smax_value, s64(t.value | (t.mask & 0x7fffffffffffffffn)));
  reg.umin_value = max(reg.umin_value, t.value);
  reg.umax_value = min(reg.umax_value, t.value | t.mask);

  // The u64 range and the tnum may have a single member in common: then the value is known.
  const tnum_next = tnum_step(reg.var_off, reg.umin_value);
  const umin_in_tnum = (reg.umin_value & ~t.mask) === t.value;
  const tmax = t.value | t.mask;
  if (umin_in_tnum && tnum_next > reg.umax_value) {
    // Only umin:        u64 ---[xxxxxx]-----   tnum --xx----------x-
    ___mark_reg_known(reg, reg.umin_value);
  } else if (!umin_in_tnum && tnum_next === tmax) {
    // Only the tnum's largest member.
    ___mark_reg_known(reg, tmax);
  } else if (!umin_in_tnum && tnum_next <= reg.umax_value && tnum_step(reg.var_off, tnum_next) > reg.umax_value) {
    // One member strictly inside (umin, umax].
    ___mark_reg_known(reg, tnum_next);
  }
}

export function __update_reg_bounds(reg: ScalarBounds): void {
  __update_reg32_bounds(reg);
  __update_reg64_bounds(reg);
}

/** Tighten the 32-bit bounds from the 64-bit ones where the low halves form a valid range, and s32 <-> u32. */
export function __reg32_deduce_bounds(reg: ScalarBounds): void {
  // If the upper 32 bits are the same across the u64 (or s64) range, its low halves form a range too.
  if (reg.umin_value >> 32n === reg.umax_value >> 32n) {
    reg.u32_min_value = max(reg.u32_min_value, u32(reg.umin_value));
    reg.u32_max_value = min(reg.u32_max_value, u32(reg.umax_value));
    if (s32(reg.umin_value) <= s32(reg.umax_value)) {
      reg.s32_min_value = max(reg.s32_min_value, s32(reg.umin_value));
      reg.s32_max_value = min(reg.s32_max_value, s32(reg.umax_value));
    }
  }
  if (reg.smin_value >> 32n === reg.smax_value >> 32n) {
    if (u32(reg.smin_value) <= u32(reg.smax_value)) {
      reg.u32_min_value = max(reg.u32_min_value, u32(reg.smin_value));
      reg.u32_max_value = min(reg.u32_max_value, u32(reg.smax_value));
    }
    if (s32(reg.smin_value) <= s32(reg.smax_value)) {
      reg.s32_min_value = max(reg.s32_min_value, s32(reg.smin_value));
      reg.s32_max_value = min(reg.s32_max_value, s32(reg.smax_value));
    }
  }
  // Upper halves that are two consecutive numbers (0xffffffff then 0 counts) with the low halves going
  // from negative to non-negative still give a valid s32 range, e.g. s64 [-1, 1] -> s32 [-1, 1].
  if (u32((reg.umin_value >> 32n) + 1n) === u32(reg.umax_value >> 32n) && s32(reg.umin_value) < 0n && s32(reg.umax_value) >= 0n) {
    reg.s32_min_value = max(reg.s32_min_value, s32(reg.umin_value));
    reg.s32_max_value = min(reg.s32_max_value, s32(reg.umax_value));
  }
  if (u32((u64(reg.smin_value) >> 32n) + 1n) === u32(u64(reg.smax_value) >> 32n) && s32(reg.smin_value) < 0n && s32(reg.smax_value) >= 0n) {
    reg.s32_min_value = max(reg.s32_min_value, s32(reg.smin_value));
    reg.s32_max_value = min(reg.s32_max_value, s32(reg.smax_value));
  }
  // A u32 range on one side of the sign bit is also an s32 range, and the other way round.
  if (s32(reg.u32_min_value) <= s32(reg.u32_max_value)) {
    reg.s32_min_value = max(reg.s32_min_value, s32(reg.u32_min_value));
    reg.s32_max_value = min(reg.s32_max_value, s32(reg.u32_max_value));
  }
  if (u32(reg.s32_min_value) <= u32(reg.s32_max_value)) {
    reg.u32_min_value = max(reg.u32_min_value, u32(reg.s32_min_value));
    reg.u32_max_value = min(reg.u32_max_value, u32(reg.s32_max_value));
  } else if (reg.u32_max_value < u32(reg.s32_min_value)) {
    // The s32 range crosses the sign bit (see __reg64_deduce_bounds): the u32 range meets only its
    // non-negative part ...
    reg.s32_min_value = s32(reg.u32_min_value);
    reg.u32_max_value = min(reg.u32_max_value, u32(reg.s32_max_value));
  } else if (u32(reg.s32_max_value) < reg.u32_min_value) {
    // ... or only its negative part.
    reg.s32_max_value = s32(reg.u32_max_value);
    reg.u32_min_value = max(reg.u32_min_value, u32(reg.s32_min_value));
  }
}

/** u64 <-> s64: the kernel's long comment applies; a range on one side of the sign bit is valid in both. */
export function __reg64_deduce_bounds(reg: ScalarBounds): void {
  if (s64(reg.umin_value) <= s64(reg.umax_value)) {
    reg.smin_value = max(reg.smin_value, s64(reg.umin_value));
    reg.smax_value = min(reg.smax_value, s64(reg.umax_value));
  }
  if (u64(reg.smin_value) <= u64(reg.smax_value)) {
    reg.umin_value = max(reg.umin_value, u64(reg.smin_value));
    reg.umax_value = min(reg.umax_value, u64(reg.smax_value));
  } else if (reg.umax_value < u64(reg.smin_value)) {
    // The s64 range crosses the sign boundary (it is two u64 ranges, at both ends of the u64 line); the
    // u64 range overlaps only its non-negative part.
    reg.smin_value = s64(reg.umin_value);
    reg.umax_value = min(reg.umax_value, u64(reg.smax_value));
  } else if (u64(reg.smax_value) < reg.umin_value) {
    // ... or only its negative part.
    reg.smax_value = s64(reg.umax_value);
    reg.umin_value = max(reg.umin_value, u64(reg.smin_value));
  }
}

/** Tighten the 64-bit bounds from the 32-bit ones by substituting the low halves of their ends. */
export function __reg_deduce_mixed_bounds(reg: ScalarBounds): void {
  // u32 -> u64 is always a well-formed range; u32 embedded into s64 keeps range validity too.
  let new_umin = (reg.umin_value & HIGH32) | reg.u32_min_value;
  let new_umax = (reg.umax_value & HIGH32) | reg.u32_max_value;
  reg.umin_value = max(reg.umin_value, new_umin);
  reg.umax_value = min(reg.umax_value, new_umax);
  let new_smin = s64((u64(reg.smin_value) & HIGH32) | reg.u32_min_value);
  let new_smax = s64((u64(reg.smax_value) & HIGH32) | reg.u32_max_value);
  reg.smin_value = max(reg.smin_value, new_smin);
  reg.smax_value = min(reg.smax_value, new_smax);

  // An s32 range that is a valid u32 range can be used the same way.
  if (u32(reg.s32_min_value) <= u32(reg.s32_max_value)) {
    new_umin = (reg.umin_value & HIGH32) | u32(reg.s32_min_value);
    new_umax = (reg.umax_value & HIGH32) | u32(reg.s32_max_value);
    reg.umin_value = max(reg.umin_value, new_umin);
    reg.umax_value = min(reg.umax_value, new_umax);
    new_smin = s64((u64(reg.smin_value) & HIGH32) | u32(reg.s32_min_value));
    new_smax = s64((u64(reg.smax_value) & HIGH32) | u32(reg.s32_max_value));
    reg.smin_value = max(reg.smin_value, new_smin);
    reg.smax_value = min(reg.smax_value, new_smax);
  }

  // After a sign-extending load the s64 range may be [(s64)S32_MIN, S32_MAX]: if the low half is then
  // known non-negative, the high half cannot be all ones (those values would be below S32_MIN).
  if (reg.s32_min_value >= 0n && reg.smin_value >= S32_MIN && reg.smax_value <= S32_MAX) {
    reg.smin_value = reg.s32_min_value;
    reg.smax_value = reg.s32_max_value;
    reg.umin_value = reg.s32_min_value;
    reg.umax_value = reg.s32_max_value;
    reg.var_off = tnum_intersect(reg.var_off, tnum_range(reg.smin_value, reg.smax_value));
  }
}

export function __reg_deduce_bounds(reg: ScalarBounds): void {
  __reg32_deduce_bounds(reg);
  __reg64_deduce_bounds(reg);
  __reg_deduce_mixed_bounds(reg);
}

/** Learn bits of var_off from the unsigned ranges (64-bit, then the low half from the 32-bit one). */
export function __reg_bound_offset(reg: ScalarBounds): void {
  const var64_off = tnum_intersect(reg.var_off, tnum_range(reg.umin_value, reg.umax_value));
  const var32_off = tnum_intersect(tnum_subreg(var64_off), tnum_range(reg.u32_min_value, reg.u32_max_value));
  reg.var_off = tnum_or(tnum_clear_subreg(var64_off), var32_off);
}

/** reg_bounds_sync: make the tnum and all eight bounds agree, as the kernel does after every change. */
export function reg_bounds_sync(reg: ScalarBounds): void {
  // Two states every step leaves as they are: a consistent constant, and nothing known at all.
  if (is_synced_const(reg) || is_synced_unknown(reg)) return;
  __update_reg_bounds(reg);
  // Each pass can feed the next (32 -> 64 -> 32); the kernel runs the deduction three times. A pass
  // that changes nothing means the later ones would not either.
  for (let pass = 0; pass < 3; pass++) {
    const before = deduceKey(reg);
    __reg_deduce_bounds(reg);
    if (sameAsKey(reg, before)) break;
  }
  __reg_bound_offset(reg);
  // The intersection above may have improved the bounds once more (umax 0x7f..f, var_off (0; 0xf..fc)).
  __update_reg_bounds(reg);
}

/** The fields __reg_deduce_bounds reads and writes, to tell whether a pass changed anything. */
interface DeduceKey {
  var_off: ScalarBounds['var_off'];
  smin: bigint; smax: bigint; umin: bigint; umax: bigint; s32min: bigint; s32max: bigint; u32min: bigint; u32max: bigint;
}
function deduceKey(r: ScalarBounds): DeduceKey {
  return {
    var_off: r.var_off, smin: r.smin_value, smax: r.smax_value, umin: r.umin_value, umax: r.umax_value,
    s32min: r.s32_min_value, s32max: r.s32_max_value, u32min: r.u32_min_value, u32max: r.u32_max_value,
  };
}
function sameAsKey(r: ScalarBounds, k: DeduceKey): boolean {
  return r.var_off.value === k.var_off.value && r.var_off.mask === k.var_off.mask && r.smin_value === k.smin && r.smax_value === k.smax
    && r.umin_value === k.umin && r.umax_value === k.umax && r.s32_min_value === k.s32min && r.s32_max_value === k.s32max
    && r.u32_min_value === k.u32min && r.u32_max_value === k.u32max;
}

/** A constant whose every bound is that constant (reg_bounds_sync cannot change it). */
function is_synced_const(reg: ScalarBounds): boolean {
  if (reg.var_off.mask !== 0n) return false;
  const v = reg.var_off.value;
  if (reg.umin_value !== v || reg.umax_value !== v) return false;
  const sv = v > S64_MAX ? v - (1n << 64n) : v;
  if (reg.smin_value !== sv || reg.smax_value !== sv) return false;
  const v32 = v & LOW32;
  if (reg.u32_min_value !== v32 || reg.u32_max_value !== v32) return false;
  const s32v = v32 > S32_MAX ? v32 - (1n << 32n) : v32;
  return reg.s32_min_value === s32v && reg.s32_max_value === s32v;
}

/** Nothing known: an unknown tnum and every bound at its type's extreme. */
function is_synced_unknown(reg: ScalarBounds): boolean {
  return reg.var_off.mask === U64_MAX && reg.var_off.value === 0n && reg.umin_value === 0n && reg.umax_value === U64_MAX
    && reg.smin_value === S64_MIN && reg.smax_value === S64_MAX && reg.u32_min_value === 0n && reg.u32_max_value === U32_MAX
    && reg.s32_min_value === S32_MIN && reg.s32_max_value === S32_MAX;
}

/**
 * reg_bounds_sanity_check: a state whose ranges are empty or disagree with a constant tnum can only come
 * from an unreachable path (or a verifier bug). The kernel reports it and forgets the ranges (keeping
 * var_off); we do the same and return the report (null when all is well).
 */
export function reg_bounds_sanity_check(reg: ScalarBounds, ctx: string): string | null {
  let msg: string | null = null;
  if (reg.umin_value > reg.umax_value || reg.smin_value > reg.smax_value || reg.u32_min_value > reg.u32_max_value || reg.s32_min_value > reg.s32_max_value) {
    msg = 'range bounds violation';
  } else if (tnum_is_const(reg.var_off)) {
    const uval = reg.var_off.value;
    if (reg.umin_value !== uval || reg.umax_value !== uval || reg.smin_value !== s64(uval) || reg.smax_value !== s64(uval)) {
      msg = 'const tnum out of sync with range bounds';
    }
  }
  if (msg === null && tnum_subreg_is_const(reg.var_off)) {
    const uval32 = u32(reg.var_off.value);
    if (reg.u32_min_value !== uval32 || reg.u32_max_value !== uval32 || reg.s32_min_value !== s32(uval32) || reg.s32_max_value !== s32(uval32)) {
      msg = 'const subreg tnum out of sync with range bounds';
    }
  }
  if (msg === null) return null;
  const hex = (x: bigint, bits: number): string => `0x${BigInt.asUintN(bits, x).toString(16)}`;
  const report =
    `REG INVARIANTS VIOLATION (${ctx}): ${msg} u64=[${hex(reg.umin_value, 64)}, ${hex(reg.umax_value, 64)}] ` +
    `s64=[${hex(reg.smin_value, 64)}, ${hex(reg.smax_value, 64)}] u32=[${hex(reg.u32_min_value, 32)}, ${hex(reg.u32_max_value, 32)}] ` +
    `s32=[${hex(reg.s32_min_value, 32)}, ${hex(reg.s32_max_value, 32)}] var_off=(${hex(reg.var_off.value, 64)}, ${hex(reg.var_off.mask, 64)})`;
  __mark_reg_unbounded(reg);
  return report;
}

// ---------------------------------------------------------------------------------------------
// Zero- and sign-extension, truncation

const __reg32_bound_s64 = (a: bigint): boolean => a >= 0n && a <= S32_MAX;

/** The 64-bit bounds of a value whose upper half is zero, from its 32-bit bounds. */
export function __reg_assign_32_into_64(reg: ScalarBounds): void {
  reg.umin_value = reg.u32_min_value;
  reg.umax_value = reg.u32_max_value;
  // s32 bounds carry over only if non-negative; otherwise the widest u32-shaped range, refined later
  // from the tnum.
  if (__reg32_bound_s64(reg.s32_min_value) && __reg32_bound_s64(reg.s32_max_value)) {
    reg.smin_value = reg.s32_min_value;
    reg.smax_value = reg.s32_max_value;
  } else {
    reg.smin_value = 0n;
    reg.smax_value = U32_MAX;
  }
}

/** A 32-bit ALU result: the upper half becomes zero. The caller runs reg_bounds_sync. */
export function zext_32_to_64(reg: ScalarBounds): void {
  reg.var_off = tnum_subreg(reg.var_off);
  __reg_assign_32_into_64(reg);
}

/** Truncate to the low `size` bytes (zero-extending loads, le16/le32, the END truncation). */
export function coerce_reg_to_size(reg: ScalarBounds, size: number): void {
  reg.var_off = tnum_cast(reg.var_off, size);
  const mask = size >= 8 ? U64_MAX : (1n << BigInt(size * 8)) - 1n;
  if ((reg.umin_value & ~mask) === (reg.umax_value & ~mask)) {
    reg.umin_value &= mask;
    reg.umax_value &= mask;
  } else {
    reg.umin_value = 0n;
    reg.umax_value = mask;
  }
  reg.smin_value = s64(reg.umin_value);
  reg.smax_value = s64(reg.umax_value);
  // Below 32 bits the 32-bit bounds are truncated too: rebuild them from the 64-bit ones.
  if (size < 4) __mark_reg32_unbounded(reg);
  reg_bounds_sync(reg);
}

const sext = (x: bigint, size: number): bigint => (size === 1 ? s8(x) : size === 2 ? s16(x) : s32(x));

function set_sext64_default_val(reg: ScalarBounds, size: number): void {
  const bits = BigInt(size * 8 - 1);
  reg.smin_value = reg.s32_min_value = -(1n << bits);
  reg.smax_value = reg.s32_max_value = (1n << bits) - 1n;
  reg.umin_value = reg.u32_min_value = 0n;
  reg.umax_value = U64_MAX;
  reg.u32_max_value = U32_MAX;
  reg.var_off = tnum_unknown;
}

/** Sign-extend from `size` bytes to 64 bits (movsx, ldsx). No reg_bounds_sync, as in the kernel. */
export function coerce_reg_to_size_sx(reg: ScalarBounds, size: number): void {
  const num_bits = BigInt(size * 8);
  if (tnum_is_const(reg.var_off)) {
    const v = u64(sext(reg.var_off.value, size));
    reg.var_off = tnum_const(v);
    reg.smax_value = reg.smin_value = s64(v);
    reg.umax_value = reg.umin_value = v;
    reg.s32_max_value = reg.s32_min_value = s32(v);
    reg.u32_max_value = reg.u32_min_value = u32(v);
    return;
  }
  const top_smax = (u64(reg.smax_value) >> num_bits) << num_bits;
  const top_smin = (u64(reg.smin_value) >> num_bits) << num_bits;
  if (top_smax === top_smin) {
    const init_max = sext(reg.smax_value, size);
    const init_min = sext(reg.smin_value, size);
    const s64_max = max(init_max, init_min);
    const s64_min = min(init_max, init_min);
    // Only if the extended ends have one sign is every value between them reachable in order.
    if (s64_max >= 0n === s64_min >= 0n) {
      reg.s32_min_value = reg.smin_value = s64_min;
      reg.s32_max_value = reg.smax_value = s64_max;
      reg.u32_min_value = u32(s64_min);
      reg.umin_value = u64(s64_min);
      reg.u32_max_value = u32(s64_max);
      reg.umax_value = u64(s64_max);
      reg.var_off = tnum_range(u64(s64_min), u64(s64_max));
      return;
    }
  }
  set_sext64_default_val(reg, size);
}

function set_sext32_default_val(reg: ScalarBounds, size: number): void {
  const bits = BigInt(size * 8 - 1);
  reg.s32_min_value = -(1n << bits);
  reg.s32_max_value = (1n << bits) - 1n;
  reg.u32_min_value = 0n;
  reg.u32_max_value = U32_MAX;
  reg.var_off = tnum_subreg(tnum_unknown);
}

/** Sign-extend the low `size` (1 or 2) bytes into the 32-bit subregister (w-register movsx). */
export function coerce_subreg_to_size_sx(reg: ScalarBounds, size: number): void {
  const num_bits = BigInt(size * 8);
  if (tnum_is_const(reg.var_off)) {
    const v = u64(sext(reg.var_off.value, size));
    reg.var_off = tnum_const(v);
    reg.s32_min_value = reg.s32_max_value = s32(v);
    reg.u32_min_value = reg.u32_max_value = u32(v);
    return;
  }
  const top_smax = (u32(reg.s32_max_value) >> num_bits) << num_bits;
  const top_smin = (u32(reg.s32_min_value) >> num_bits) << num_bits;
  if (top_smax === top_smin) {
    const init_max = sext(reg.s32_max_value, size);
    const init_min = sext(reg.s32_min_value, size);
    const s32_max = max(init_max, init_min);
    const s32_min = min(init_max, init_min);
    if (s32_min >= 0n === s32_max >= 0n) {
      reg.s32_min_value = s32_min;
      reg.s32_max_value = s32_max;
      reg.u32_min_value = u32(s32_min);
      reg.u32_max_value = u32(s32_max);
      reg.var_off = tnum_subreg(tnum_range(u64(s32_min), u64(s32_max)));
      return;
    }
  }
  set_sext32_default_val(reg, size);
}

// ---------------------------------------------------------------------------------------------
// ALU ops (adjust_scalar_min_max_vals and its helpers)

// check_add_overflow / check_sub_overflow / check_mul_overflow: the wrapped result and whether the
// mathematical one did not fit the type.
function addS(a: bigint, b: bigint, bits: 32 | 64): [bigint, boolean] {
  const r = a + b;
  const w = BigInt.asIntN(bits, r);
  return [w, w !== r];
}
function addU(a: bigint, b: bigint, bits: 32 | 64): [bigint, boolean] {
  const r = a + b;
  const w = BigInt.asUintN(bits, r);
  return [w, w !== r];
}
function subS(a: bigint, b: bigint, bits: 32 | 64): [bigint, boolean] {
  return addS(a, -b, bits);
}
function subU(a: bigint, b: bigint, bits: 32 | 64): [bigint, boolean] {
  const r = a - b;
  const w = BigInt.asUintN(bits, r);
  return [w, w !== r];
}
const mulFits = (r: bigint, bits: 32 | 64, signed: boolean): boolean => (signed ? BigInt.asIntN(bits, r) : BigInt.asUintN(bits, r)) === r;

export function scalar32_min_max_add(dst: ScalarBounds, src: ScalarBounds): void {
  const [smin, o1] = addS(dst.s32_min_value, src.s32_min_value, 32);
  const [smax, o2] = addS(dst.s32_max_value, src.s32_max_value, 32);
  if (o1 || o2) {
    dst.s32_min_value = S32_MIN;
    dst.s32_max_value = S32_MAX;
  } else {
    dst.s32_min_value = smin;
    dst.s32_max_value = smax;
  }
  // If all additions wrap or none do, the wrapped ends still bound the result; only a mix is unknown.
  const [umin, min_overflow] = addU(dst.u32_min_value, src.u32_min_value, 32);
  const [umax, max_overflow] = addU(dst.u32_max_value, src.u32_max_value, 32);
  if (!min_overflow && max_overflow) {
    dst.u32_min_value = 0n;
    dst.u32_max_value = U32_MAX;
  } else {
    dst.u32_min_value = umin;
    dst.u32_max_value = umax;
  }
}

export function scalar_min_max_add(dst: ScalarBounds, src: ScalarBounds): void {
  const [smin, o1] = addS(dst.smin_value, src.smin_value, 64);
  const [smax, o2] = addS(dst.smax_value, src.smax_value, 64);
  if (o1 || o2) {
    dst.smin_value = S64_MIN;
    dst.smax_value = S64_MAX;
  } else {
    dst.smin_value = smin;
    dst.smax_value = smax;
  }
  const [umin, min_overflow] = addU(dst.umin_value, src.umin_value, 64);
  const [umax, max_overflow] = addU(dst.umax_value, src.umax_value, 64);
  if (!min_overflow && max_overflow) {
    dst.umin_value = 0n;
    dst.umax_value = U64_MAX;
  } else {
    dst.umin_value = umin;
    dst.umax_value = umax;
  }
}

export function scalar32_min_max_sub(dst: ScalarBounds, src: ScalarBounds): void {
  const [smin, o1] = subS(dst.s32_min_value, src.s32_max_value, 32);
  const [smax, o2] = subS(dst.s32_max_value, src.s32_min_value, 32);
  if (o1 || o2) {
    dst.s32_min_value = S32_MIN;
    dst.s32_max_value = S32_MAX;
  } else {
    dst.s32_min_value = smin;
    dst.s32_max_value = smax;
  }
  // As for add: all subtractions underflowing, or none, keeps a valid range.
  const [umin, min_underflow] = subU(dst.u32_min_value, src.u32_max_value, 32);
  const [umax, max_underflow] = subU(dst.u32_max_value, src.u32_min_value, 32);
  if (min_underflow && !max_underflow) {
    dst.u32_min_value = 0n;
    dst.u32_max_value = U32_MAX;
  } else {
    dst.u32_min_value = umin;
    dst.u32_max_value = umax;
  }
}

export function scalar_min_max_sub(dst: ScalarBounds, src: ScalarBounds): void {
  const [smin, o1] = subS(dst.smin_value, src.smax_value, 64);
  const [smax, o2] = subS(dst.smax_value, src.smin_value, 64);
  if (o1 || o2) {
    dst.smin_value = S64_MIN;
    dst.smax_value = S64_MAX;
  } else {
    dst.smin_value = smin;
    dst.smax_value = smax;
  }
  const [umin, min_underflow] = subU(dst.umin_value, src.umax_value, 64);
  const [umax, max_underflow] = subU(dst.umax_value, src.umin_value, 64);
  if (min_underflow && !max_underflow) {
    dst.umin_value = 0n;
    dst.umax_value = U64_MAX;
  } else {
    dst.umin_value = umin;
    dst.umax_value = umax;
  }
}

function mulBounds(dmin: bigint, dmax: bigint, smin: bigint, smax: bigint, bits: 32 | 64): [bigint, bigint] | null {
  const p0 = dmin * smin;
  const p1 = dmin * smax;
  const p2 = dmax * smin;
  const p3 = dmax * smax;
  if (!mulFits(p0, bits, true) || !mulFits(p1, bits, true) || !mulFits(p2, bits, true) || !mulFits(p3, bits, true)) return null;
  return [min(min(p0, p1), min(p2, p3)), max(max(p0, p1), max(p2, p3))];
}

export function scalar32_min_max_mul(dst: ScalarBounds, src: ScalarBounds): void {
  const umax = dst.u32_max_value * src.u32_max_value;
  const umin = dst.u32_min_value * src.u32_min_value;
  if (!mulFits(umax, 32, false) || !mulFits(umin, 32, false)) {
    dst.u32_min_value = 0n;
    dst.u32_max_value = U32_MAX;
  } else {
    dst.u32_min_value = umin;
    dst.u32_max_value = umax;
  }
  const s = mulBounds(dst.s32_min_value, dst.s32_max_value, src.s32_min_value, src.s32_max_value, 32);
  [dst.s32_min_value, dst.s32_max_value] = s ?? [S32_MIN, S32_MAX];
}

export function scalar_min_max_mul(dst: ScalarBounds, src: ScalarBounds): void {
  const umax = dst.umax_value * src.umax_value;
  const umin = dst.umin_value * src.umin_value;
  if (!mulFits(umax, 64, false) || !mulFits(umin, 64, false)) {
    dst.umin_value = 0n;
    dst.umax_value = U64_MAX;
  } else {
    dst.umin_value = umin;
    dst.umax_value = umax;
  }
  const s = mulBounds(dst.smin_value, dst.smax_value, src.smin_value, src.smax_value, 64);
  [dst.smin_value, dst.smax_value] = s ?? [S64_MIN, S64_MAX];
}

// The bitwise ops expect dst.var_off to hold the result's tnum already.

export function scalar32_min_max_and(dst: ScalarBounds, src: ScalarBounds): void {
  const var32_off = tnum_subreg(dst.var_off);
  if (tnum_subreg_is_const(src.var_off) && tnum_subreg_is_const(dst.var_off)) {
    __mark_reg32_known(dst, var32_off.value);
    return;
  }
  // The minimum comes from the tnum (bitwise by nature), the maximum is the smaller operand maximum.
  dst.u32_min_value = var32_off.value;
  dst.u32_max_value = min(dst.u32_max_value, src.u32_max_value);
  signed32FromUnsigned(dst);
}

export function scalar_min_max_and(dst: ScalarBounds, src: ScalarBounds): void {
  if (tnum_is_const(src.var_off) && tnum_is_const(dst.var_off)) {
    ___mark_reg_known(dst, dst.var_off.value);
    return;
  }
  dst.umin_value = dst.var_off.value;
  dst.umax_value = min(dst.umax_value, src.umax_value);
  signed64FromUnsigned(dst);
  __update_reg_bounds(dst);
}

export function scalar32_min_max_or(dst: ScalarBounds, src: ScalarBounds): void {
  const var32_off = tnum_subreg(dst.var_off);
  if (tnum_subreg_is_const(src.var_off) && tnum_subreg_is_const(dst.var_off)) {
    __mark_reg32_known(dst, var32_off.value);
    return;
  }
  // The maximum comes from the tnum, the minimum is the larger operand minimum.
  dst.u32_min_value = max(dst.u32_min_value, src.u32_min_value);
  dst.u32_max_value = var32_off.value | var32_off.mask;
  signed32FromUnsigned(dst);
}

export function scalar_min_max_or(dst: ScalarBounds, src: ScalarBounds): void {
  if (tnum_is_const(src.var_off) && tnum_is_const(dst.var_off)) {
    ___mark_reg_known(dst, dst.var_off.value);
    return;
  }
  dst.umin_value = max(dst.umin_value, src.umin_value);
  dst.umax_value = dst.var_off.value | dst.var_off.mask;
  signed64FromUnsigned(dst);
  __update_reg_bounds(dst);
}

export function scalar32_min_max_xor(dst: ScalarBounds, src: ScalarBounds): void {
  const var32_off = tnum_subreg(dst.var_off);
  if (tnum_subreg_is_const(src.var_off) && tnum_subreg_is_const(dst.var_off)) {
    __mark_reg32_known(dst, var32_off.value);
    return;
  }
  dst.u32_min_value = var32_off.value;
  dst.u32_max_value = var32_off.value | var32_off.mask;
  signed32FromUnsigned(dst);
}

export function scalar_min_max_xor(dst: ScalarBounds, src: ScalarBounds): void {
  if (tnum_is_const(src.var_off) && tnum_is_const(dst.var_off)) {
    ___mark_reg_known(dst, dst.var_off.value);
    return;
  }
  dst.umin_value = dst.var_off.value;
  dst.umax_value = dst.var_off.value | dst.var_off.mask;
  signed64FromUnsigned(dst);
  __update_reg_bounds(dst);
}

/** A u32 range that does not cross the sign bit is the s32 range too; otherwise s32 is unknown. */
function signed32FromUnsigned(dst: ScalarBounds): void {
  if (s32(dst.u32_min_value) <= s32(dst.u32_max_value)) {
    dst.s32_min_value = s32(dst.u32_min_value);
    dst.s32_max_value = s32(dst.u32_max_value);
  } else {
    dst.s32_min_value = S32_MIN;
    dst.s32_max_value = S32_MAX;
  }
}

function signed64FromUnsigned(dst: ScalarBounds): void {
  if (s64(dst.umin_value) <= s64(dst.umax_value)) {
    dst.smin_value = s64(dst.umin_value);
    dst.smax_value = s64(dst.umax_value);
  } else {
    dst.smin_value = S64_MIN;
    dst.smax_value = S64_MAX;
  }
}

function __scalar32_min_max_lsh(dst: ScalarBounds, umin_val: bigint, umax_val: bigint): void {
  // All sign information is lost (except what var_off still shows).
  dst.s32_min_value = S32_MIN;
  dst.s32_max_value = S32_MAX;
  // If the top bit might be shifted out we know nothing.
  if (umax_val > 31n || dst.u32_max_value > 1n << (31n - umax_val)) {
    dst.u32_min_value = 0n;
    dst.u32_max_value = U32_MAX;
  } else {
    dst.u32_min_value = u32(dst.u32_min_value << umin_val);
    dst.u32_max_value = u32(dst.u32_max_value << umax_val);
  }
}

export function scalar32_min_max_lsh(dst: ScalarBounds, src: ScalarBounds): void {
  const umin_val = src.u32_min_value;
  const subreg = tnum_subreg(dst.var_off);
  __scalar32_min_max_lsh(dst, umin_val, src.u32_max_value);
  dst.var_off = tnum_subreg(tnum_lshift(subreg, Number(umin_val)));
  // Forget the 64-bit bounds so that they can only come from the tnum and the zero-extension.
  __mark_reg64_unbounded(dst);
  __update_reg32_bounds(dst);
}

function __scalar64_min_max_lsh(dst: ScalarBounds, umin_val: bigint, umax_val: bigint): void {
  // `<< 32` then `s>> 32` is how compilers sign-extend a subregister: s32 bounds shifted by exactly 32
  // keep their sign, so they give the s64 bounds.
  if (umin_val === 32n && umax_val === 32n) {
    dst.smax_value = dst.s32_max_value << 32n;
    dst.smin_value = dst.s32_min_value << 32n;
  } else {
    dst.smax_value = S64_MAX;
    dst.smin_value = S64_MIN;
  }
  if (dst.umax_value > 1n << (63n - umax_val)) {
    dst.umin_value = 0n;
    dst.umax_value = U64_MAX;
  } else {
    dst.umin_value = u64(dst.umin_value << umin_val);
    dst.umax_value = u64(dst.umax_value << umax_val);
  }
}

export function scalar_min_max_lsh(dst: ScalarBounds, src: ScalarBounds): void {
  const umin_val = src.umin_value;
  const umax_val = src.umax_value;
  // The 64-bit calculation uses the unshifted 32-bit bounds, so it goes first.
  __scalar64_min_max_lsh(dst, umin_val, umax_val);
  __scalar32_min_max_lsh(dst, umin_val, umax_val);
  dst.var_off = tnum_lshift(dst.var_off, Number(umin_val));
  __update_reg_bounds(dst);
}

export function scalar32_min_max_rsh(dst: ScalarBounds, src: ScalarBounds): void {
  const subreg = tnum_subreg(dst.var_off);
  const umax_val = src.u32_max_value;
  const umin_val = src.u32_min_value;
  // A logical shift of a possibly negative value says nothing about signs that the unsigned bounds and
  // the tnum do not say better, so the signed bounds are dropped and rebuilt from those.
  dst.s32_min_value = S32_MIN;
  dst.s32_max_value = S32_MAX;
  dst.var_off = tnum_rshift(subreg, Number(umin_val));
  dst.u32_min_value >>= umax_val;
  dst.u32_max_value >>= umin_val;
  __mark_reg64_unbounded(dst);
  __update_reg32_bounds(dst);
}

export function scalar_min_max_rsh(dst: ScalarBounds, src: ScalarBounds): void {
  const umax_val = src.umax_value;
  const umin_val = src.umin_value;
  dst.smin_value = S64_MIN;
  dst.smax_value = S64_MAX;
  dst.var_off = tnum_rshift(dst.var_off, Number(umin_val));
  dst.umin_value >>= umax_val;
  dst.umax_value >>= umin_val;
  // Bits shifted in from the upper half make the 32-bit bounds hard; take them from the tnum.
  __mark_reg32_unbounded(dst);
  __update_reg_bounds(dst);
}

export function scalar32_min_max_arsh(dst: ScalarBounds, src: ScalarBounds): void {
  // Only reached with a constant shift (is_safe_to_compute_dst_reg_range).
  const umin_val = src.u32_min_value;
  dst.s32_min_value = dst.s32_min_value >> umin_val;
  dst.s32_max_value = dst.s32_max_value >> umin_val;
  dst.var_off = tnum_arshift(tnum_subreg(dst.var_off), Number(umin_val), 32);
  dst.u32_min_value = 0n;
  dst.u32_max_value = U32_MAX;
  __mark_reg64_unbounded(dst);
  __update_reg32_bounds(dst);
}

export function scalar_min_max_arsh(dst: ScalarBounds, src: ScalarBounds): void {
  const umin_val = src.umin_value;
  dst.smin_value >>= umin_val;
  dst.smax_value >>= umin_val;
  dst.var_off = tnum_arshift(dst.var_off, Number(umin_val), 64);
  dst.umin_value = 0n;
  dst.umax_value = U64_MAX;
  __mark_reg32_unbounded(dst);
  __update_reg_bounds(dst);
}

/**
 * BPF_END. bswap (ALU64, BPF_TO_LE) always swaps; le/be (ALU) swap only when the order differs from the
 * host's, which for the kernel we model (x86-64) is little-endian: `be` swaps, `le` only truncates.
 * 16- and 32-bit forms also clear the upper bits.
 */
export function scalar_byte_swap(dst: ScalarBounds, insn: Insn): void {
  const alu64 = bpfClass(insn.code) === BPF_ALU64;
  const to_le = bpfSrc(insn.code) === BPF_TO_LE;
  const is_big_endian = false;
  const need_bswap = alu64 || to_le === is_big_endian;
  if (need_bswap) {
    if (insn.imm === 16) dst.var_off = tnum_bswap16(dst.var_off);
    else if (insn.imm === 32) dst.var_off = tnum_bswap32(dst.var_off);
    else if (insn.imm === 64) dst.var_off = tnum_bswap64(dst.var_off);
    // A swap scrambles ranges; they are rebuilt from the swapped tnum.
    __mark_reg_unbounded(dst);
  }
  if (insn.imm === 16 || insn.imm === 32) coerce_reg_to_size(dst, insn.imm / 8);
}

/**
 * Whether the kernel computes a range for this op, or gives up and marks the result unknown: shifts
 * need a constant amount below the width (64-bit umax, even for ALU32, as the kernel checks), and
 * division and modulo are never tracked by this kernel.
 */
export function is_safe_to_compute_dst_reg_range(insn: Insn, src: ScalarBounds): boolean {
  const insn_bitness = bpfClass(insn.code) === BPF_ALU64 ? 64n : 32n;
  let src_is_const: boolean;
  if (insn_bitness === 32n) {
    src_is_const = tnum_subreg_is_const(src.var_off) && src.s32_min_value === src.s32_max_value && src.u32_min_value === src.u32_max_value;
  } else {
    src_is_const = tnum_is_const(src.var_off) && src.smin_value === src.smax_value && src.umin_value === src.umax_value;
  }
  switch (bpfOp(insn.code)) {
    case BPF_ADD:
    case BPF_SUB:
    case BPF_NEG:
    case BPF_AND:
    case BPF_XOR:
    case BPF_OR:
    case BPF_MUL:
    case BPF_END:
      return true;
    case BPF_LSH:
    case BPF_RSH:
    case BPF_ARSH:
      return src_is_const && src.umax_value < insn_bitness;
    default:
      return false;
  }
}

/**
 * maybe_fork_scalars: `dst &= K` or `dst |= K` on a value known to be -1 or 0 (the shape of a compiler's
 * boolean mask, `-(x != 0)`) is verified as two paths, one per value, since a range would lose the
 * either/or. Call it before adjust_scalar_min_max_vals for AND/OR with a constant source. When it
 * returns a state, dst has been set to -1 (this path) and the returned copy holds 0: the caller pushes
 * a copy of the whole verifier state with that register, to be verified from this same instruction (the
 * kernel this models re-runs the AND/OR there), and gives the copy's register a fresh identity (no id).
 * The 64-bit test comes first; otherwise the low 32 bits alone may be [-1, 0] (then only they are set).
 */
export function maybe_fork_scalars(dst: ScalarBounds, src: ScalarBounds, insn: Insn): ScalarBounds | null {
  const op = bpfOp(insn.code);
  if ((op !== BPF_AND && op !== BPF_OR) || !tnum_is_const(src.var_off)) return null;
  let alu32: boolean;
  if (dst.smin_value === -1n && dst.smax_value === 0n) alu32 = false;
  else if (dst.s32_min_value === -1n && dst.s32_max_value === 0n) alu32 = true;
  else return null;
  const other = copy_scalar(dst);
  if (alu32) {
    __mark_reg32_known(other, 0n);
    __mark_reg32_known(dst, U32_MAX);
  } else {
    ___mark_reg_known(other, 0n);
    ___mark_reg_known(dst, U64_MAX);
  }
  return other;
}

/**
 * The result of an ALU operation whose operands are known (for ALU32 only their low halves matter), or
 * undefined when an operand is not a constant or the op is not one the bounds code computes exactly.
 */
function const_alu_result(dst: ScalarBounds, src: ScalarBounds, opcode: number, alu32: boolean): bigint | undefined {
  const known = alu32 ? tnum_subreg_is_const : tnum_is_const;
  if (!known(dst.var_off) || (opcode !== BPF_NEG && !known(src.var_off))) return undefined;
  const bits = alu32 ? 32 : 64;
  const a = BigInt.asUintN(bits, dst.var_off.value), b = BigInt.asUintN(bits, src.var_off.value);
  switch (opcode) {
    case BPF_ADD: return BigInt.asUintN(bits, a + b);
    case BPF_SUB: return BigInt.asUintN(bits, a - b);
    case BPF_MUL: return BigInt.asUintN(bits, a * b);
    case BPF_AND: return a & b;
    case BPF_OR: return a | b;
    case BPF_XOR: return a ^ b;
    case BPF_NEG: return BigInt.asUintN(bits, -a);
    // Shift amounts are below the width here (is_safe_to_compute_dst_reg_range).
    case BPF_LSH: return BigInt.asUintN(bits, a << b);
    case BPF_RSH: return a >> b;
    case BPF_ARSH: return BigInt.asUintN(bits, BigInt.asIntN(bits, a) >> b);
    default: return undefined;
  }
}

/**
 * adjust_scalar_min_max_vals: dst = dst <op> src for two scalars, per insn (ALU or ALU64, any op but
 * MOV; for NEG and END src is ignored). For a BPF_K operand pass scalar_const(BigInt(insn.imm)) - the
 * kernel sign-extends imm to 64 bits. Mutates dst; src is read only (it may be dst itself).
 */
export function adjust_scalar_min_max_vals(dst: ScalarBounds, src: ScalarBounds, insn: Insn): void {
  const opcode = bpfOp(insn.code);
  const alu32 = bpfClass(insn.code) !== BPF_ALU64;
  // The kernel receives src by value: `r1 += r1` must see the old r1 throughout.
  if (src === dst) src = copy_scalar(src);

  if (!is_safe_to_compute_dst_reg_range(insn, src)) {
    __mark_reg_unknown(dst);
    return;
  }

  // Constants in, a constant out: every bound the kernel computes collapses to the value, so compute it
  // directly (loop counters make this the common case, and the general path is costly).
  const k = const_alu_result(dst, src, opcode, alu32);
  if (k !== undefined) {
    ___mark_reg_known(dst, k);
    return;
  }

  switch (opcode) {
    case BPF_ADD:
      scalar32_min_max_add(dst, src);
      scalar_min_max_add(dst, src);
      dst.var_off = tnum_add(dst.var_off, src.var_off);
      break;
    case BPF_SUB:
      scalar32_min_max_sub(dst, src);
      scalar_min_max_sub(dst, src);
      dst.var_off = tnum_sub(dst.var_off, src.var_off);
      break;
    case BPF_NEG: {
      // 0 - dst, with the old dst as the subtrahend.
      const old = copy_scalar(dst);
      ___mark_reg_known(dst, 0n);
      scalar32_min_max_sub(dst, old);
      scalar_min_max_sub(dst, old);
      dst.var_off = tnum_neg(old.var_off);
      break;
    }
    case BPF_MUL:
      dst.var_off = tnum_mul(dst.var_off, src.var_off);
      scalar32_min_max_mul(dst, src);
      scalar_min_max_mul(dst, src);
      break;
    case BPF_AND:
      dst.var_off = tnum_and(dst.var_off, src.var_off);
      scalar32_min_max_and(dst, src);
      scalar_min_max_and(dst, src);
      break;
    case BPF_OR:
      dst.var_off = tnum_or(dst.var_off, src.var_off);
      scalar32_min_max_or(dst, src);
      scalar_min_max_or(dst, src);
      break;
    case BPF_XOR:
      dst.var_off = tnum_xor(dst.var_off, src.var_off);
      scalar32_min_max_xor(dst, src);
      scalar_min_max_xor(dst, src);
      break;
    case BPF_LSH:
      if (alu32) scalar32_min_max_lsh(dst, src);
      else scalar_min_max_lsh(dst, src);
      break;
    case BPF_RSH:
      if (alu32) scalar32_min_max_rsh(dst, src);
      else scalar_min_max_rsh(dst, src);
      break;
    case BPF_ARSH:
      if (alu32) scalar32_min_max_arsh(dst, src);
      else scalar_min_max_arsh(dst, src);
      break;
    case BPF_END:
      scalar_byte_swap(dst, insn);
      break;
    default:
      break;
  }

  // 32-bit results are zero-extended; BPF_END truncated (or, for le64, kept all 64 bits) already.
  if (alu32 && opcode !== BPF_END) zext_32_to_64(dst);
  reg_bounds_sync(dst);
}

/**
 * The numeric part of adjust_ptr_min_max_vals for `ptr += scalar` / `ptr -= scalar` (opcode BPF_ADD or
 * BPF_SUB): the variable offset of a pointer moves by the scalar. It differs from scalar arithmetic: any
 * overflow at either end gives up the whole range (a pointer's offset range must not wrap), and pointers
 * carry no 32-bit bounds. dst may be ptr itself; off is read only. Type, id and the checks that refuse the
 * arithmetic are the caller's.
 */
export function adjust_ptr_min_max_bounds(dst: ScalarBounds, ptr: ScalarBounds, off: ScalarBounds, opcode: number): void {
  const p = copy_scalar(ptr);
  const o = off === dst ? copy_scalar(off) : off;
  __mark_reg32_unbounded(dst);
  if (opcode === BPF_ADD) {
    const [smin, o1] = addS(p.smin_value, o.smin_value, 64);
    const [smax, o2] = addS(p.smax_value, o.smax_value, 64);
    [dst.smin_value, dst.smax_value] = o1 || o2 ? [S64_MIN, S64_MAX] : [smin, smax];
    const [umin, o3] = addU(p.umin_value, o.umin_value, 64);
    const [umax, o4] = addU(p.umax_value, o.umax_value, 64);
    [dst.umin_value, dst.umax_value] = o3 || o4 ? [0n, U64_MAX] : [umin, umax];
    dst.var_off = tnum_add(p.var_off, o.var_off);
  } else {
    const [smin, o1] = subS(p.smin_value, o.smax_value, 64);
    const [smax, o2] = subS(p.smax_value, o.smin_value, 64);
    [dst.smin_value, dst.smax_value] = o1 || o2 ? [S64_MIN, S64_MAX] : [smin, smax];
    if (p.umin_value < o.umax_value) {
      dst.umin_value = 0n;
      dst.umax_value = U64_MAX;
    } else {
      dst.umin_value = p.umin_value - o.umax_value;
      dst.umax_value = p.umax_value - o.umin_value;
    }
    dst.var_off = tnum_sub(p.var_off, o.var_off);
  }
  reg_bounds_sync(dst);
}

/**
 * The scalar part of BPF_MOV with a register source (check_alu_op): a plain 64-bit copy, a 32-bit copy
 * (zero-extended), or a sign-extending movsx (insn.off = 8, 16 or 32). Ids are the caller's: the
 * kernel links dst and src only when no sign extension can change the value.
 */
export function scalar_mov(dst: ScalarBounds, src: ScalarBounds, insn: Insn): void {
  assign_scalar(dst, src);
  if (bpfClass(insn.code) === BPF_ALU64) {
    if (insn.off !== 0) coerce_reg_to_size_sx(dst, insn.off >> 3);
    return;
  }
  if (insn.off !== 0) coerce_subreg_to_size_sx(dst, insn.off >> 3);
  zext_32_to_64(dst);
  reg_bounds_sync(dst);
}

/** BPF_MOV with an immediate: sign-extended to 64 bits for ALU64, zero-extended from 32 for ALU. */
export function scalar_mov_imm(dst: ScalarBounds, insn: Insn): void {
  const imm = BigInt(insn.imm);
  ___mark_reg_known(dst, bpfClass(insn.code) === BPF_ALU64 ? imm : u32(imm));
}

/** get_reg_width: how many low bits can be non-zero. */
export function get_reg_width(reg: ScalarBounds): number {
  return fls64(reg.umax_value);
}

/** Whether `insn` is a MOV (handled by scalar_mov / scalar_mov_imm rather than adjust_scalar_min_max_vals). */
export const is_mov = (insn: Insn): boolean => bpfOp(insn.code) === BPF_MOV;

// ---------------------------------------------------------------------------------------------
// Conditional jumps

/** reg_const_value: the constant a (sub)register holds, when tnum_is_const says it is one. */
function reg_const_value(reg: ScalarBounds, subreg32: boolean): bigint {
  return subreg32 ? u32(reg.var_off.value) : reg.var_off.value;
}

function is_reg_const(reg: ScalarBounds, subreg32: boolean): boolean {
  return tnum_is_const(subreg32 ? tnum_subreg(reg.var_off) : reg.var_off);
}

/** Outcome of a conditional jump: taken always, never, or it depends on the value. */
export type BranchPrediction = 1 | 0 | -1;

/**
 * is_scalar_branch_taken: 1 if `if reg1 <op> reg2 goto` is taken for every value the two registers may
 * hold, 0 if never, -1 if it depends. `opcode` is BPF_OP (BPF_JEQ, ...); with is_jmp32 only the low
 * halves are compared. The same object twice is the same register (`if r1 > r1`): 6.18 decides that
 * only from the bounds, like any other pair.
 */
export function is_scalar_branch_taken(reg1: ScalarBounds, reg2: ScalarBounds, opcode: number, is_jmp32: boolean): BranchPrediction {
  let t1 = is_jmp32 ? tnum_subreg(reg1.var_off) : reg1.var_off;
  let t2 = is_jmp32 ? tnum_subreg(reg2.var_off) : reg2.var_off;
  const umin1 = is_jmp32 ? reg1.u32_min_value : reg1.umin_value;
  const umax1 = is_jmp32 ? reg1.u32_max_value : reg1.umax_value;
  const smin1 = is_jmp32 ? reg1.s32_min_value : reg1.smin_value;
  const smax1 = is_jmp32 ? reg1.s32_max_value : reg1.smax_value;
  const umin2 = is_jmp32 ? reg2.u32_min_value : reg2.umin_value;
  const umax2 = is_jmp32 ? reg2.u32_max_value : reg2.umax_value;
  const smin2 = is_jmp32 ? reg2.s32_min_value : reg2.smin_value;
  const smax2 = is_jmp32 ? reg2.s32_max_value : reg2.smax_value;

  switch (opcode) {
    case BPF_JEQ:
    case BPF_JNE: {
      // The same tests prove "never equal"; JNE answers the opposite of JEQ.
      const eq: BranchPrediction = opcode === BPF_JEQ ? 1 : 0;
      const ne: BranchPrediction = opcode === BPF_JEQ ? 0 : 1;
      if (tnum_is_const(t1) && tnum_is_const(t2)) return t1.value === t2.value ? eq : ne;
      if (!tnum_overlap(t1, t2)) return ne;
      if (umin1 > umax2 || umax1 < umin2) return ne;
      if (smin1 > smax2 || smax1 < smin2) return ne;
      if (!is_jmp32) {
        // Inconclusive 64-bit ranges may still have disjoint low halves.
        if (reg1.u32_min_value > reg2.u32_max_value || reg1.u32_max_value < reg2.u32_min_value) return ne;
        if (reg1.s32_min_value > reg2.s32_max_value || reg1.s32_max_value < reg2.s32_min_value) return ne;
      }
      break;
    }
    case BPF_JSET: {
      let r2 = reg2;
      if (!is_reg_const(r2, is_jmp32)) {
        r2 = reg1;
        [t1, t2] = [t2, t1];
      }
      if (!is_reg_const(r2, is_jmp32)) return -1;
      if ((~t1.mask & t1.value & t2.value) !== 0n) return 1;
      if (((t1.mask | t1.value) & t2.value) === 0n) return 0;
      break;
    }
    case BPF_JGT:
      if (umin1 > umax2) return 1;
      if (umax1 <= umin2) return 0;
      break;
    case BPF_JSGT:
      if (smin1 > smax2) return 1;
      if (smax1 <= smin2) return 0;
      break;
    case BPF_JLT:
      if (umax1 < umin2) return 1;
      if (umin1 >= umax2) return 0;
      break;
    case BPF_JSLT:
      if (smax1 < smin2) return 1;
      if (smin1 >= smax2) return 0;
      break;
    case BPF_JGE:
      if (umin1 >= umax2) return 1;
      if (umax1 < umin2) return 0;
      break;
    case BPF_JSGE:
      if (smin1 >= smax2) return 1;
      if (smax1 < smin2) return 0;
      break;
    case BPF_JLE:
      if (umax1 <= umin2) return 1;
      if (umin1 > umax2) return 0;
      break;
    case BPF_JSLE:
      if (smax1 <= smin2) return 1;
      if (smin1 > smax2) return 0;
      break;
    default:
      break;
  }
  return -1;
}

/**
 * is_branch_taken for two scalar operands (pointer comparisons are the main loop's: it answers those
 * before asking here). For `if rX <op> imm`, pass scalar_const(BigInt(imm)) as reg2.
 */
export function is_branch_taken(reg1: ScalarBounds, reg2: ScalarBounds, opcode: number, is_jmp32: boolean): BranchPrediction {
  return is_scalar_branch_taken(reg1, reg2, opcode, is_jmp32);
}

const OPCODE_FLIP: Record<number, number> = {
  [BPF_JEQ]: BPF_JEQ,
  [BPF_JNE]: BPF_JNE,
  [BPF_JSET]: BPF_JSET,
  [BPF_JGE]: BPF_JLE,
  [BPF_JGT]: BPF_JLT,
  [BPF_JLE]: BPF_JGE,
  [BPF_JLT]: BPF_JGT,
  [BPF_JSGE]: BPF_JSLE,
  [BPF_JSGT]: BPF_JSLT,
  [BPF_JSLE]: BPF_JSGE,
  [BPF_JSLT]: BPF_JSGT,
};

/** flip_opcode: the op that gives the same answer with the operands swapped (a < b  <=>  b > a). */
export function flip_opcode(opcode: number): number {
  return OPCODE_FLIP[opcode] ?? 0;
}

/** The reverse of BPF_JSET has no opcode of its own; the kernel marks it with BPF_X. */
export const BPF_JSET_REV = BPF_JSET | BPF_X;

/** rev_opcode: the condition of the fall-through side (r1 < r2 not taken  <=>  r1 >= r2). */
export function rev_opcode(opcode: number): number {
  switch (opcode) {
    case BPF_JEQ: return BPF_JNE;
    case BPF_JNE: return BPF_JEQ;
    case BPF_JSET: return BPF_JSET_REV;
    case BPF_JSET_REV: return BPF_JSET;
    case BPF_JGE: return BPF_JLT;
    case BPF_JGT: return BPF_JLE;
    case BPF_JLE: return BPF_JGT;
    case BPF_JLT: return BPF_JGE;
    case BPF_JSGE: return BPF_JSLT;
    case BPF_JSGT: return BPF_JSLE;
    case BPF_JSLE: return BPF_JSGT;
    case BPF_JSLT: return BPF_JSGE;
    default: return 0;
  }
}

/**
 * regs_refine_cond_op: narrow both registers given that `reg1 <opcode> reg2` holds. Opcode may be
 * BPF_JSET_REV (from rev_opcode). Does not sync; reg_set_min_max does.
 */
export function regs_refine_cond_op(reg1: ScalarBounds, reg2: ScalarBounds, opcode: number, is_jmp32: boolean): void {
  // GE/GT/SGE/SGT become LE/LT/SLE/SLT with the operands swapped.
  switch (opcode) {
    case BPF_JGE:
    case BPF_JGT:
    case BPF_JSGE:
    case BPF_JSGT:
      opcode = flip_opcode(opcode);
      [reg1, reg2] = [reg2, reg1];
      break;
    default:
      break;
  }

  switch (opcode) {
    case BPF_JEQ:
      if (is_jmp32) {
        reg1.u32_min_value = max(reg1.u32_min_value, reg2.u32_min_value);
        reg1.u32_max_value = min(reg1.u32_max_value, reg2.u32_max_value);
        reg1.s32_min_value = max(reg1.s32_min_value, reg2.s32_min_value);
        reg1.s32_max_value = min(reg1.s32_max_value, reg2.s32_max_value);
        reg2.u32_min_value = reg1.u32_min_value;
        reg2.u32_max_value = reg1.u32_max_value;
        reg2.s32_min_value = reg1.s32_min_value;
        reg2.s32_max_value = reg1.s32_max_value;
        const t = tnum_intersect(tnum_subreg(reg1.var_off), tnum_subreg(reg2.var_off));
        reg1.var_off = tnum_with_subreg(reg1.var_off, t);
        reg2.var_off = tnum_with_subreg(reg2.var_off, t);
      } else {
        reg1.umin_value = max(reg1.umin_value, reg2.umin_value);
        reg1.umax_value = min(reg1.umax_value, reg2.umax_value);
        reg1.smin_value = max(reg1.smin_value, reg2.smin_value);
        reg1.smax_value = min(reg1.smax_value, reg2.smax_value);
        reg2.umin_value = reg1.umin_value;
        reg2.umax_value = reg1.umax_value;
        reg2.smin_value = reg1.smin_value;
        reg2.smax_value = reg1.smax_value;
        reg1.var_off = tnum_intersect(reg1.var_off, reg2.var_off);
        reg2.var_off = reg1.var_off;
      }
      break;
    case BPF_JNE: {
      if (!is_reg_const(reg2, is_jmp32)) [reg1, reg2] = [reg2, reg1];
      if (!is_reg_const(reg2, is_jmp32)) break;
      // Only a constant at an edge of reg1's range removes anything. (reg1 cannot be that same
      // constant: the jump would have been predicted and we would not be here.)
      const val = reg_const_value(reg2, is_jmp32);
      if (is_jmp32) {
        if (reg1.u32_min_value === u32(val)) reg1.u32_min_value = u32(reg1.u32_min_value + 1n);
        if (reg1.u32_max_value === u32(val)) reg1.u32_max_value = u32(reg1.u32_max_value - 1n);
        if (reg1.s32_min_value === s32(val)) reg1.s32_min_value = s32(reg1.s32_min_value + 1n);
        if (reg1.s32_max_value === s32(val)) reg1.s32_max_value = s32(reg1.s32_max_value - 1n);
      } else {
        if (reg1.umin_value === u64(val)) reg1.umin_value = u64(reg1.umin_value + 1n);
        if (reg1.umax_value === u64(val)) reg1.umax_value = u64(reg1.umax_value - 1n);
        if (reg1.smin_value === s64(val)) reg1.smin_value = s64(reg1.smin_value + 1n);
        if (reg1.smax_value === s64(val)) reg1.smax_value = s64(reg1.smax_value - 1n);
      }
      break;
    }
    case BPF_JSET: {
      if (!is_reg_const(reg2, is_jmp32)) [reg1, reg2] = [reg2, reg1];
      if (!is_reg_const(reg2, is_jmp32)) break;
      const val = reg_const_value(reg2, is_jmp32);
      // `r1 & mask` true only says which bit is set when mask has a single bit.
      if (val === 0n || (val & (val - 1n)) !== 0n) break;
      if (is_jmp32) {
        const t = tnum_or(tnum_subreg(reg1.var_off), tnum_const(val));
        reg1.var_off = tnum_with_subreg(reg1.var_off, t);
      } else {
        reg1.var_off = tnum_or(reg1.var_off, tnum_const(val));
      }
      break;
    }
    case BPF_JSET_REV: {
      if (!is_reg_const(reg2, is_jmp32)) [reg1, reg2] = [reg2, reg1];
      if (!is_reg_const(reg2, is_jmp32)) break;
      const val = reg_const_value(reg2, is_jmp32);
      // Forget the ranges before narrowing the tnum, so a dead branch cannot break the invariants.
      __mark_reg_unbounded(reg1);
      if (is_jmp32) {
        const t = tnum_and(tnum_subreg(reg1.var_off), tnum_const(u64(~val)));
        reg1.var_off = tnum_with_subreg(reg1.var_off, t);
      } else {
        reg1.var_off = tnum_and(reg1.var_off, tnum_const(u64(~val)));
      }
      break;
    }
    case BPF_JLE:
      if (is_jmp32) {
        reg1.u32_max_value = min(reg1.u32_max_value, reg2.u32_max_value);
        reg2.u32_min_value = max(reg1.u32_min_value, reg2.u32_min_value);
      } else {
        reg1.umax_value = min(reg1.umax_value, reg2.umax_value);
        reg2.umin_value = max(reg1.umin_value, reg2.umin_value);
      }
      break;
    case BPF_JLT:
      if (is_jmp32) {
        reg1.u32_max_value = min(reg1.u32_max_value, u32(reg2.u32_max_value - 1n));
        reg2.u32_min_value = max(u32(reg1.u32_min_value + 1n), reg2.u32_min_value);
      } else {
        reg1.umax_value = min(reg1.umax_value, u64(reg2.umax_value - 1n));
        reg2.umin_value = max(u64(reg1.umin_value + 1n), reg2.umin_value);
      }
      break;
    case BPF_JSLE:
      if (is_jmp32) {
        reg1.s32_max_value = min(reg1.s32_max_value, reg2.s32_max_value);
        reg2.s32_min_value = max(reg1.s32_min_value, reg2.s32_min_value);
      } else {
        reg1.smax_value = min(reg1.smax_value, reg2.smax_value);
        reg2.smin_value = max(reg1.smin_value, reg2.smin_value);
      }
      break;
    case BPF_JSLT:
      if (is_jmp32) {
        reg1.s32_max_value = min(reg1.s32_max_value, s32(reg2.s32_max_value - 1n));
        reg2.s32_min_value = max(s32(reg1.s32_min_value + 1n), reg2.s32_min_value);
      } else {
        reg1.smax_value = min(reg1.smax_value, s64(reg2.smax_value - 1n));
        reg2.smin_value = max(s64(reg1.smin_value + 1n), reg2.smin_value);
      }
      break;
    default:
      break;
  }
}

/**
 * reg_set_min_max: after an undecided `if reg1 <opcode> reg2 goto` (is_branch_taken gave -1), narrow
 * the copies on the jump side (true_reg1/2) and the fall-through side (false_reg1/2). For a BPF_K
 * compare pass two separate scalar_const(imm) objects as true_reg2 and false_reg2; for `if rX op rX`
 * pass the same object for both operands of a side: 6.18 refines it against itself all the same.
 * Returns the sanity-check reports (empty when the states are consistent).
 */
export function reg_set_min_max(
  true_reg1: ScalarBounds,
  true_reg2: ScalarBounds,
  false_reg1: ScalarBounds,
  false_reg2: ScalarBounds,
  opcode: number,
  is_jmp32: boolean,
): string[] {
  regs_refine_cond_op(false_reg1, false_reg2, rev_opcode(opcode), is_jmp32);
  reg_bounds_sync(false_reg1);
  reg_bounds_sync(false_reg2);
  regs_refine_cond_op(true_reg1, true_reg2, opcode, is_jmp32);
  reg_bounds_sync(true_reg1);
  reg_bounds_sync(true_reg2);
  const reports: string[] = [];
  for (const [reg, ctx] of [[true_reg1, 'true_reg1'], [true_reg2, 'true_reg2'], [false_reg1, 'false_reg1'], [false_reg2, 'false_reg2']] as const) {
    const r = reg_bounds_sanity_check(reg, ctx);
    if (r !== null) reports.push(r);
  }
  return reports;
}

// ---------------------------------------------------------------------------------------------
// State comparison

/** range_within: every bound of cur lies inside old's (state pruning's test for scalars). */
export function range_within(old: ScalarBounds, cur: ScalarBounds): boolean {
  return (
    old.umin_value <= cur.umin_value &&
    old.umax_value >= cur.umax_value &&
    old.smin_value <= cur.smin_value &&
    old.smax_value >= cur.smax_value &&
    old.u32_min_value <= cur.u32_min_value &&
    old.u32_max_value >= cur.u32_max_value &&
    old.s32_min_value <= cur.s32_min_value &&
    old.s32_max_value >= cur.s32_max_value
  );
}

/** Whether two states are identical field by field. */
export function scalar_equal(a: ScalarBounds, b: ScalarBounds): boolean {
  return (
    a.var_off.value === b.var_off.value &&
    a.var_off.mask === b.var_off.mask &&
    a.smin_value === b.smin_value &&
    a.smax_value === b.smax_value &&
    a.umin_value === b.umin_value &&
    a.umax_value === b.umax_value &&
    a.s32_min_value === b.s32_min_value &&
    a.s32_max_value === b.s32_max_value &&
    a.u32_min_value === b.u32_min_value &&
    a.u32_max_value === b.u32_max_value
  );
}
