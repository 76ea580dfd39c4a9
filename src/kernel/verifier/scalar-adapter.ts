// The scalar operations the main walk (verifier.ts) needs, named for what the walk does with them, each
// a call into the kernel-named functions of tnum.ts / bounds.ts / format.ts.

import type { Insn } from '../../bpf/insn.js';
import { BPF_ADD, BPF_SUB, JMP_CONDS, type JmpCond } from '../../bpf/opcodes.js';
import {
  ___mark_reg_known, __mark_reg_unknown, adjust_ptr_min_max_bounds, adjust_scalar_min_max_vals, coerce_reg_to_size, coerce_reg_to_size_sx,
  is_branch_taken, range_within, reg_set_min_max, scalar_byte_swap, zext_32_to_64,
} from './bounds.js';
import { print_scalar_state, tnum_strn } from './format.js';
import type { ScalarBounds } from './scalar.js';
import { tnum_in, tnum_is_const } from './tnum.js';

export const markKnown = (r: ScalarBounds, v: bigint): void => ___mark_reg_known(r, v);
export const markUnknown = (r: ScalarBounds): void => __mark_reg_unknown(r);
export const isConst = (r: ScalarBounds): boolean => tnum_is_const(r.var_off);
export const constValue = (r: ScalarBounds): bigint => r.var_off.value;

/** dst = dst OP src for a scalar ALU instruction (adjust_scalar_min_max_vals). */
export const alu = (dst: ScalarBounds, src: ScalarBounds, insn: Insn): void => adjust_scalar_min_max_vals(dst, src, insn);

/** The variable part of a pointer moved by a scalar (adjust_ptr_min_max_vals' bounds arithmetic). */
export function addVarOff(ptr: ScalarBounds, scalar: ScalarBounds, sub: boolean): void {
  adjust_ptr_min_max_bounds(ptr, ptr, scalar, sub ? BPF_SUB : BPF_ADD);
}

export const byteSwap = (r: ScalarBounds, insn: Insn): void => scalar_byte_swap(r, insn);
export const zext32 = (r: ScalarBounds): void => zext_32_to_64(r);

export function coerce(r: ScalarBounds, size: number, signed: boolean): void {
  if (signed) coerce_reg_to_size_sx(r, size);
  else coerce_reg_to_size(r, size);
}

export const branchTaken = (a: ScalarBounds, b: ScalarBounds, cond: JmpCond, jmp32: boolean): -1 | 0 | 1 =>
  is_branch_taken(a, b, JMP_CONDS[cond], jmp32);

/** reg_set_min_max: narrow both sides of an undecided compare. */
export function refine(takenA: ScalarBounds, takenB: ScalarBounds, fallA: ScalarBounds, fallB: ScalarBounds, cond: JmpCond, jmp32: boolean): void {
  reg_set_min_max(takenA, takenB, fallA, fallB, JMP_CONDS[cond], jmp32);
}

/** regsafe for scalars: every value cur may hold, old may hold. */
export const within = (old: ScalarBounds, cur: ScalarBounds): boolean => range_within(old, cur) && tnum_in(old.var_off, cur.var_off);

export const formatScalar = (r: ScalarBounds & { id?: number }): string => print_scalar_state(r, { id: r.id ?? 0 });
export const formatVarOff = (r: ScalarBounds): string => `var_off=${tnum_strn(r.var_off)}`;
