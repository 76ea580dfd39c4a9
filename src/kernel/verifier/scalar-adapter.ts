// The verifier's scalar operations, as the main walk (verifier.ts) calls them. A thin layer over the
// kernel-named functions of tnum.ts and bounds.ts.

import type { AluOp, JmpCond } from '../../bpf/opcodes.js';
import type { ScalarBounds } from './scalar.js';
import { S64_MAX, S64_MIN, U64_MAX, S32_MAX, S32_MIN, U32_MAX } from './scalar.js';
import { tnum_const, tnum_in, tnum_is_const, tnum_sbin } from './tnum.js';

const UNKNOWN = { value: 0n, mask: U64_MAX };

export function markKnown(r: ScalarBounds, v: bigint): void {
  const u = BigInt.asUintN(64, v);
  r.var_off = tnum_const(u);
  r.smin_value = r.smax_value = BigInt.asIntN(64, u);
  r.umin_value = r.umax_value = u;
  const lo = BigInt.asUintN(32, u);
  r.s32_min_value = r.s32_max_value = BigInt.asIntN(32, lo);
  r.u32_min_value = r.u32_max_value = lo;
}

export function markUnknown(r: ScalarBounds): void {
  r.var_off = UNKNOWN;
  r.smin_value = S64_MIN; r.smax_value = S64_MAX; r.umin_value = 0n; r.umax_value = U64_MAX;
  r.s32_min_value = S32_MIN; r.s32_max_value = S32_MAX; r.u32_min_value = 0n; r.u32_max_value = U32_MAX;
}

export function isConst(r: ScalarBounds): boolean {
  return tnum_is_const(r.var_off);
}

export function constValue(r: ScalarBounds): bigint {
  return r.var_off.value;
}

/** TEMPORARY precision: exact for constants, unknown otherwise (replaced by bounds.ts). */
export function alu(op: AluOp, dst: ScalarBounds, src: ScalarBounds, alu32: boolean): void {
  if (isConst(dst) && isConst(src) && op !== 'div' && op !== 'mod' && op !== 'sdiv' && op !== 'smod') {
    const a = dst.var_off.value, b = src.var_off.value;
    const m = alu32 ? 32 : 64;
    const w = (v: bigint): bigint => BigInt.asUintN(m, v);
    let v: bigint;
    switch (op) {
      case 'add': v = w(a + b); break;
      case 'sub': v = w(a - b); break;
      case 'mul': v = w(a * b); break;
      case 'or': v = w(a | b); break;
      case 'and': v = w(a & b); break;
      case 'xor': v = w(a ^ b); break;
      case 'lsh': v = w(w(a) << (b & BigInt(m - 1))); break;
      case 'rsh': v = w(a) >> (b & BigInt(m - 1)); break;
      case 'arsh': v = w(BigInt.asIntN(m, w(a)) >> (b & BigInt(m - 1))); break;
      case 'neg': v = w(-a); break;
      default: v = w(b);
    }
    markKnown(dst, v);
    return;
  }
  if (op === 'and' && isConst(src) && src.var_off.value < 1n << 31n) {
    const mask = src.var_off.value;
    markUnknown(dst);
    dst.umax_value = mask; dst.smin_value = 0n; dst.smax_value = mask; dst.var_off = { value: 0n, mask };
    dst.u32_max_value = mask; dst.s32_min_value = 0n; dst.s32_max_value = mask;
    return;
  }
  markUnknown(dst);
  if (alu32) zext32(dst);
}

export function endian(r: ScalarBounds, _op: 'le' | 'be' | 'bswap', bits: 16 | 32 | 64): void {
  markUnknown(r);
  if (bits < 64) {
    const max = (1n << BigInt(bits)) - 1n;
    r.umax_value = max; r.smin_value = 0n; r.smax_value = max; r.var_off = { value: 0n, mask: max };
    r.u32_max_value = bits === 16 ? max : U32_MAX;
  }
}

export function zext32(r: ScalarBounds): void {
  if (r.u32_max_value < 0n || r.u32_max_value > U32_MAX) markUnknown(r);
  r.umin_value = r.u32_min_value; r.umax_value = r.u32_max_value;
  r.smin_value = r.u32_min_value; r.smax_value = r.u32_max_value;
  r.var_off = { value: r.var_off.value & U32_MAX, mask: r.var_off.mask & U32_MAX };
}

export function coerce(r: ScalarBounds, size: number, signed: boolean): void {
  if (size >= 8) return;
  const bits = BigInt(size * 8);
  if (isConst(r)) {
    const v = BigInt.asUintN(Number(bits), r.var_off.value);
    markKnown(r, signed ? BigInt.asIntN(Number(bits), v) : v);
    return;
  }
  markUnknown(r);
  if (!signed) {
    const max = (1n << bits) - 1n;
    r.umax_value = max; r.smin_value = 0n; r.smax_value = max; r.var_off = { value: 0n, mask: max };
    if (size < 4) { r.u32_max_value = max; r.s32_min_value = 0n; r.s32_max_value = max; }
  }
}

export function branchTaken(a: ScalarBounds, b: ScalarBounds, cond: JmpCond, jmp32: boolean): -1 | 0 | 1 {
  if (!isConst(a) || !isConst(b)) return -1;
  const m = jmp32 ? 32 : 64;
  const x = BigInt.asUintN(m, a.var_off.value), y = BigInt.asUintN(m, b.var_off.value);
  const sx = BigInt.asIntN(m, x), sy = BigInt.asIntN(m, y);
  const r = { jeq: x === y, jne: x !== y, jset: (x & y) !== 0n, jgt: x > y, jge: x >= y, jlt: x < y, jle: x <= y, jsgt: sx > sy, jsge: sx >= sy, jslt: sx < sy, jsle: sx <= sy }[cond];
  return r ? 1 : 0;
}

export function refine(a: ScalarBounds, b: ScalarBounds, cond: JmpCond, jmp32: boolean, taken: boolean): void {
  if (jmp32 || !isConst(b)) return;
  const c = taken ? cond : ({ jeq: 'jne', jne: 'jeq', jgt: 'jle', jle: 'jgt', jge: 'jlt', jlt: 'jge', jsgt: 'jsle', jsle: 'jsgt', jsge: 'jslt', jslt: 'jsge', jset: 'jset' } as const)[cond];
  const v = b.var_off.value;
  if (c === 'jeq') { markKnown(a, v); return; }
  if (c === 'jle' && v < a.umax_value) a.umax_value = v;
  if (c === 'jlt' && v - 1n < a.umax_value && v > 0n) a.umax_value = v - 1n;
  if (c === 'jge' && v > a.umin_value) a.umin_value = v;
  if (c === 'jgt' && v + 1n > a.umin_value) a.umin_value = v + 1n;
  if (a.umax_value <= S64_MAX) { a.smin_value = a.umin_value; a.smax_value = a.umax_value; }
}

export function within(old: ScalarBounds, cur: ScalarBounds): boolean {
  return old.umin_value <= cur.umin_value && old.umax_value >= cur.umax_value && old.smin_value <= cur.smin_value
    && old.smax_value >= cur.smax_value && tnum_in(old.var_off, cur.var_off);
}

export function formatScalar(r: ScalarBounds & { id?: number }): string {
  if (isConst(r)) return String(BigInt.asIntN(64, r.var_off.value));
  return `scalar(${r.id ? `id=${r.id},` : ''}umax=${r.umax_value},var_off=${tnum_sbin(r.var_off)})`;
}

export function formatVarOff(r: ScalarBounds): string {
  return `var_off=${tnum_sbin(r.var_off)}`;
}
