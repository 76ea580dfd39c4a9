// How the verifier log prints a scalar register (kernel/bpf/log.c: print_reg_state for SCALAR_VALUE,
// print_scalar_ranges, verbose_snum/verbose_unum, tnum_strn). The main loop writes `R1=` (or `fp-8=`)
// and then what print_scalar_state returns:
//
//   R0=-5                       a constant: just its value
//   R1=scalar()                 nothing known
//   R1=scalar(id=2,smin=smin32=0,smax=umax=smax32=umax32=255,var_off=(0x0; 0xff))
//   R2=scalar(id=2-5,smin=smin32=-5,smax=smax32=5)   linked to id 2 with a constant delta
//   R3=Pscalar(...)             precise
//
// The rules, as the kernel applies them: a bound at its type's extreme is left out; equal bounds share
// one value (`smax=umax=255`), pairing only fields of the same end (min with min) and never a negative
// signed value with a positive one; numbers within [-32768, 32767] (signed) or [0, 65535] (unsigned)
// print in decimal, others in hex; var_off is left out when nothing is known of any bit.

import { S32_MAX, S32_MIN, S64_MAX, S64_MIN, U32_MAX, U64_MAX, type ScalarBounds, type Tnum } from './scalar.js';
import { tnum_is_const, tnum_is_unknown } from './tnum.js';

/**
 * Flags in a scalar's id (include/linux/bpf_verifier.h): the register was derived from the register
 * with the same id by adding a constant (`r1 = r2; r1 += 4`), kept in the state's delta. The 64- and
 * 32-bit forms are told apart because a 32-bit add zero-extends.
 */
export const BPF_ADD_CONST64 = 0x80000000;
export const BPF_ADD_CONST32 = 0x40000000;
export const BPF_ADD_CONST = BPF_ADD_CONST64 | BPF_ADD_CONST32;

const UNUM_MAX_DECIMAL = 0xffffn;
const SNUM_MAX_DECIMAL = 0x7fffn;
const SNUM_MIN_DECIMAL = -0x8000n;

const is_unum_decimal = (num: bigint): boolean => num <= UNUM_MAX_DECIMAL;
const is_snum_decimal = (num: bigint): boolean => num >= SNUM_MIN_DECIMAL && num <= SNUM_MAX_DECIMAL;
const hex = (u: bigint): string => `0x${u.toString(16)}`;

/** verbose_unum: a u64 in decimal when small, else `%#llx`. */
export function verbose_unum(num: bigint): string {
  const u = BigInt.asUintN(64, num);
  return is_unum_decimal(u) ? u.toString() : hex(u);
}

/** verbose_snum: an s64 in decimal when small, else its u64 bits in hex (-100000 -> 0xfffffffffffe7960). */
export function verbose_snum(num: bigint): string {
  const s = BigInt.asIntN(64, num);
  return is_snum_decimal(s) ? s.toString() : hex(BigInt.asUintN(64, s));
}

/** tnum_strn: `(0x0; 0xff)`, or the value alone when every bit is known. */
export function tnum_strn(a: Tnum): string {
  if (a.mask === 0n) return is_unum_decimal(a.value) ? a.value.toString() : hex(a.value);
  return `(${hex(a.value)}; ${hex(a.mask)})`;
}

interface MinMax {
  name: string;
  signed: boolean;
  /** The value as the kernel's u64 slot holds it (signed ones as their two's complement). */
  val: bigint;
  omit: boolean;
}

/**
 * 32-bit signed bounds printed in hex are shown as u32, not sign-extended (smin32=0xfffffffe rather
 * than 0xfffffffffffffffe), so that they do not look like a 64-bit value.
 */
function s32slot(v: bigint): bigint {
  return is_snum_decimal(v) ? BigInt.asUintN(64, v) : BigInt.asUintN(32, v);
}

function isNeg(x: MinMax): boolean {
  return x.signed && BigInt.asIntN(64, x.val) < 0n;
}

/** print_scalar_ranges: the `smin=...,umax=...` part, fields joined by commas. */
export function print_scalar_ranges(reg: ScalarBounds): string {
  const m: MinMax[] = [
    { name: 'smin', signed: true, val: BigInt.asUintN(64, reg.smin_value), omit: reg.smin_value === S64_MIN },
    { name: 'smax', signed: true, val: BigInt.asUintN(64, reg.smax_value), omit: reg.smax_value === S64_MAX },
    { name: 'umin', signed: false, val: reg.umin_value, omit: reg.umin_value === 0n },
    { name: 'umax', signed: false, val: reg.umax_value, omit: reg.umax_value === U64_MAX },
    { name: 'smin32', signed: true, val: s32slot(reg.s32_min_value), omit: reg.s32_min_value === S32_MIN },
    { name: 'smax32', signed: true, val: s32slot(reg.s32_max_value), omit: reg.s32_max_value === S32_MAX },
    { name: 'umin32', signed: false, val: reg.u32_min_value, omit: reg.u32_min_value === 0n },
    { name: 'umax32', signed: false, val: reg.u32_max_value, omit: reg.u32_max_value === U32_MAX },
  ];
  const parts: string[] = [];
  for (let i = 0; i < m.length; i++) {
    const m1 = m[i]!;
    if (m1.omit) continue;
    let text = `${m1.name}=`;
    // Only fields of the same end (every other entry) are merged.
    for (let j = i + 2; j < m.length; j += 2) {
      const m2 = m[j]!;
      if (m2.omit || m2.val !== m1.val || isNeg(m2) !== isNeg(m1)) continue;
      m2.omit = true;
      text += `${m2.name}=`;
    }
    text += m1.signed ? verbose_snum(m1.val) : verbose_unum(m1.val);
    parts.push(text);
  }
  return parts.join(',');
}

export interface ScalarPrintOptions {
  /** The register's id, with its BPF_ADD_CONST flags; 0 or absent when unlinked. */
  id?: number;
  /** The constant added since the register was linked (printed `id=2-5` when a BPF_ADD_CONST flag is set). */
  delta?: number;
  /** Precision mark: printed as a `P` prefix. */
  precise?: boolean;
}

/** print_reg_state for a SCALAR_VALUE: what follows `R1=` in the log. */
export function print_scalar_state(reg: ScalarBounds, opts: ScalarPrintOptions = {}): string {
  const prefix = opts.precise === true ? 'P' : '';
  if (tnum_is_const(reg.var_off)) return prefix + verbose_snum(reg.var_off.value);
  const fields: string[] = [];
  const id = opts.id ?? 0;
  if (id !== 0) {
    let text = `id=${(id & ~BPF_ADD_CONST) >>> 0}`;
    if ((id & BPF_ADD_CONST) !== 0) {
      const delta = opts.delta ?? 0;
      text += delta < 0 ? `${delta}` : `+${delta}`;
    }
    fields.push(text);
  }
  const ranges = print_scalar_ranges(reg);
  if (ranges !== '') fields.push(ranges);
  if (!tnum_is_unknown(reg.var_off)) fields.push(`var_off=${tnum_strn(reg.var_off)}`);
  return `${prefix}scalar(${fields.join(',')})`;
}
