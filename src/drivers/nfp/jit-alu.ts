// The NFP JIT's arithmetic and jumps (drivers/net/ethernet/netronome/nfp/bpf/jit.c callbacks): BPF
// register n is the GPR pair (2n low, 2n+1 high) written to both banks, so 64-bit operations are two
// 32-bit ones joined by the carry; an ALU32 result clears its upper half only where the verifier marked
// the instruction zext_dst (wrp_zext); compares subtract (with carry for the upper half) and branch on
// the condition codes; multiplication runs the multiplier's step sequence (16x16 when both operands fit
// 16 bits, else 32x32); division by a constant is a reciprocal multiplication or a shift; shifts by a
// register pick their code from the verifier's range of the amount.
//
// Where the kernel leaves an ALU32 result's upper half untouched although the verifier may have marked
// it zext_dst (the 16x16 multiply, division), this JIT honours the mark (marked "nfp-emu:"); with the
// zero-extension elimination the kernel's code would leave a stale upper half behind there. Division by
// 0 (BPF: the result is 0) and by 1 have their own code: the kernel's reciprocal path would emit an
// indirect shift by whatever the previous instruction left for those. A 64-bit left shift by a register
// that may hold 0 gets a high-part sequence that does not depend on a 32-bit shift amount (see
// shl_reg64_lt32_high_zero_ok); the random differential test found the kernel's form wrong there.

import { BpfError } from '../../bpf/errno.js';
import { BPF_REG_10 } from '../../bpf/opcodes.js';
import type { NfpAluOp, NfpBrCond, NfpReg } from '../../nic/isa.js';
import {
  NFP_REG_SCRATCH, emit_alu, emit_br, emit_br_bset, emit_ld_field, emit_mul, emit_shf, emit_shf_indir, imm_a, imm_b, imm_both, imma_b, imma_both,
  nfp_prog_confirm_current_offset,
  nfp_prog_current_offset, reg_a, reg_b, reg_both, reg_imm, reg_none, stack_imm, stack_reg, ur_load_imm_any, wrp_alu_imm, wrp_immed,
  wrp_mov, wrp_reg_mov, wrp_zext,
} from './jit-emit.js';
import { FLAG_INSN_SKIP_NOOP, U32_MAX, type NfpInsnMeta, type NfpProg } from './prog.js';

type Cb = (nfp_prog: NfpProg, meta: NfpInsnMeta) => void;

const isJmp32 = (meta: NfpInsnMeta): boolean => meta.op?.kind === 'jcond' && meta.op.jmp32;
/** The instruction's immediate sign-extended to 64 bits, as (lo, hi) words. */
const imm64 = (imm: number): { lo: number; hi: number } => ({ lo: imm >>> 0, hi: imm < 0 ? 0xffffffff : 0 });

// ---------------------------------------------------------------------------------------------------
// Moves and the plain ALU operations

export const mov_reg64: Cb = (nfp_prog, meta) => {
  const dst = meta.insn.dst * 2;
  const src = meta.insn.src * 2;
  if (meta.insn.src === BPF_REG_10) {
    // R10 is not materialised: the frame pointer is the stack base plus this frame's depth.
    const depth = ur_load_imm_any(nfp_prog, nfp_prog.stack_frame_depth, stack_imm());
    emit_alu(nfp_prog, reg_both(dst), stack_reg(), 'add', depth);
    wrp_immed(nfp_prog, reg_both(dst + 1), 0);
  } else {
    wrp_reg_mov(nfp_prog, dst, src);
    wrp_reg_mov(nfp_prog, dst + 1, src + 1);
  }
};

export const mov_imm64: Cb = (nfp_prog, meta) => {
  const { lo, hi } = imm64(meta.insn.imm);
  wrp_immed(nfp_prog, reg_both(meta.insn.dst * 2), lo);
  wrp_immed(nfp_prog, reg_both(meta.insn.dst * 2 + 1), hi);
};

function wrp_alu64_imm(nfp_prog: NfpProg, meta: NfpInsnMeta, alu_op: NfpAluOp, skip: boolean): void {
  if (skip) {
    meta.flags |= FLAG_INSN_SKIP_NOOP;
    return;
  }
  const { lo, hi } = imm64(meta.insn.imm);
  wrp_alu_imm(nfp_prog, meta.insn.dst * 2, alu_op, lo);
  wrp_alu_imm(nfp_prog, meta.insn.dst * 2 + 1, alu_op, hi);
}

function wrp_alu64_reg(nfp_prog: NfpProg, meta: NfpInsnMeta, alu_op: NfpAluOp): void {
  const dst = meta.insn.dst * 2;
  const src = meta.insn.src * 2;
  emit_alu(nfp_prog, reg_both(dst), reg_a(dst), alu_op, reg_b(src));
  emit_alu(nfp_prog, reg_both(dst + 1), reg_a(dst + 1), alu_op, reg_b(src + 1));
}

function wrp_alu32_imm(nfp_prog: NfpProg, meta: NfpInsnMeta, alu_op: NfpAluOp): void {
  const dst = meta.insn.dst * 2;
  wrp_alu_imm(nfp_prog, dst, alu_op, meta.insn.imm);
  wrp_zext(nfp_prog, meta, dst);
}

function wrp_alu32_reg(nfp_prog: NfpProg, meta: NfpInsnMeta, alu_op: NfpAluOp): void {
  const dst = meta.insn.dst * 2;
  const src = meta.insn.src * 2;
  emit_alu(nfp_prog, reg_both(dst), reg_a(dst), alu_op, reg_b(src));
  wrp_zext(nfp_prog, meta, dst);
}

export const xor_reg64: Cb = (p, m) => wrp_alu64_reg(p, m, 'xor');
export const xor_imm64: Cb = (p, m) => wrp_alu64_imm(p, m, 'xor', m.insn.imm === 0);
export const and_reg64: Cb = (p, m) => wrp_alu64_reg(p, m, 'and');
export const and_imm64: Cb = (p, m) => wrp_alu64_imm(p, m, 'and', m.insn.imm === -1);
export const or_reg64: Cb = (p, m) => wrp_alu64_reg(p, m, 'or');
export const or_imm64: Cb = (p, m) => wrp_alu64_imm(p, m, 'or', m.insn.imm === 0);

export const add_reg64: Cb = (nfp_prog, meta) => {
  const dst = meta.insn.dst * 2;
  const src = meta.insn.src * 2;
  emit_alu(nfp_prog, reg_both(dst), reg_a(dst), 'add', reg_b(src));
  emit_alu(nfp_prog, reg_both(dst + 1), reg_a(dst + 1), 'add_c', reg_b(src + 1));
};

export const add_imm64: Cb = (nfp_prog, meta) => {
  const { lo, hi } = imm64(meta.insn.imm);
  wrp_alu_imm(nfp_prog, meta.insn.dst * 2, 'add', lo);
  wrp_alu_imm(nfp_prog, meta.insn.dst * 2 + 1, 'add_c', hi);
};

export const sub_reg64: Cb = (nfp_prog, meta) => {
  const dst = meta.insn.dst * 2;
  const src = meta.insn.src * 2;
  emit_alu(nfp_prog, reg_both(dst), reg_a(dst), 'sub', reg_b(src));
  emit_alu(nfp_prog, reg_both(dst + 1), reg_a(dst + 1), 'sub_c', reg_b(src + 1));
};

export const sub_imm64: Cb = (nfp_prog, meta) => {
  const { lo, hi } = imm64(meta.insn.imm);
  wrp_alu_imm(nfp_prog, meta.insn.dst * 2, 'sub', lo);
  wrp_alu_imm(nfp_prog, meta.insn.dst * 2 + 1, 'sub_c', hi);
};

export const neg_reg64: Cb = (nfp_prog, meta) => {
  const dst = meta.insn.dst * 2;
  emit_alu(nfp_prog, reg_both(dst), reg_imm(0), 'sub', reg_b(dst));
  emit_alu(nfp_prog, reg_both(dst + 1), reg_imm(0), 'sub_c', reg_b(dst + 1));
};

export const mov_reg: Cb = (nfp_prog, meta) => {
  wrp_reg_mov(nfp_prog, meta.insn.dst * 2, meta.insn.src * 2);
  wrp_immed(nfp_prog, reg_both(meta.insn.dst * 2 + 1), 0);
};

export const mov_imm: Cb = (nfp_prog, meta) => {
  wrp_immed(nfp_prog, reg_both(meta.insn.dst * 2), meta.insn.imm);
  wrp_immed(nfp_prog, reg_both(meta.insn.dst * 2 + 1), 0);
};

export const xor_reg: Cb = (p, m) => wrp_alu32_reg(p, m, 'xor');
export const xor_imm: Cb = (p, m) => wrp_alu32_imm(p, m, 'xor');
export const and_reg: Cb = (p, m) => wrp_alu32_reg(p, m, 'and');
export const and_imm: Cb = (p, m) => wrp_alu32_imm(p, m, 'and');
export const or_reg: Cb = (p, m) => wrp_alu32_reg(p, m, 'or');
export const or_imm: Cb = (p, m) => wrp_alu32_imm(p, m, 'or');
export const add_reg: Cb = (p, m) => wrp_alu32_reg(p, m, 'add');
export const add_imm: Cb = (p, m) => wrp_alu32_imm(p, m, 'add');
export const sub_reg: Cb = (p, m) => wrp_alu32_reg(p, m, 'sub');
export const sub_imm: Cb = (p, m) => wrp_alu32_imm(p, m, 'sub');

export const neg_reg: Cb = (nfp_prog, meta) => {
  const dst = meta.insn.dst * 2;
  emit_alu(nfp_prog, reg_both(dst), reg_imm(0), 'sub', reg_b(dst));
  wrp_zext(nfp_prog, meta, dst);
};

// ---------------------------------------------------------------------------------------------------
// Multiplication and division

function wrp_mul_u32(nfp_prog: NfpProg, dst_hi: NfpReg, dst_lo: NfpReg, lreg: NfpReg, rreg: NfpReg, gen_high_half: boolean): void {
  emit_mul(nfp_prog, lreg, 'start', rreg);
  emit_mul(nfp_prog, lreg, '32x32_step1', rreg);
  emit_mul(nfp_prog, lreg, '32x32_step2', rreg);
  emit_mul(nfp_prog, lreg, '32x32_step3', rreg);
  emit_mul(nfp_prog, lreg, '32x32_step4', rreg);
  emit_mul(nfp_prog, dst_lo, '32x32_last', reg_none());
  if (gen_high_half) emit_mul(nfp_prog, dst_hi, '32x32_last2', reg_none());
  else wrp_immed(nfp_prog, dst_hi, 0);
}

function wrp_mul_u16(nfp_prog: NfpProg, dst_lo: NfpReg, lreg: NfpReg, rreg: NfpReg): void {
  emit_mul(nfp_prog, lreg, 'start', rreg);
  emit_mul(nfp_prog, lreg, '16x16_step1', rreg);
  emit_mul(nfp_prog, lreg, '16x16_step2', rreg);
  emit_mul(nfp_prog, dst_lo, '16x16_last', reg_none());
}

function wrp_mul(nfp_prog: NfpProg, meta: NfpInsnMeta, gen_high_half: boolean, ropnd_from_reg: boolean): void {
  const dst_reg = meta.insn.dst;
  const multiplicand = reg_a(dst_reg * 2);
  const dst_hi = reg_both(dst_reg * 2 + 1);
  const dst_lo = reg_both(dst_reg * 2);
  const lopnd_max = meta.umax_dst & 0xffffffffn;
  let multiplier: NfpReg;
  let ropnd_max: bigint;
  if (ropnd_from_reg) {
    multiplier = reg_b(meta.insn.src * 2);
    ropnd_max = meta.umax_src;
  } else {
    const imm = meta.insn.imm >>> 0;
    multiplier = ur_load_imm_any(nfp_prog, imm, imm_b());
    ropnd_max = BigInt(imm);
  }
  if (lopnd_max > 0xffffn || ropnd_max > 0xffffn) {
    wrp_mul_u32(nfp_prog, dst_hi, dst_lo, multiplicand, multiplier, gen_high_half);
  } else {
    wrp_mul_u16(nfp_prog, dst_lo, multiplicand, multiplier);
    // nfp-emu: a 32-bit multiply's upper half (see the top of the file).
    if (!gen_high_half) wrp_zext(nfp_prog, meta, dst_reg * 2);
  }
}

export const mul_reg64: Cb = (p, m) => wrp_mul(p, m, true, true);
export const mul_imm64: Cb = (p, m) => wrp_mul(p, m, true, false);
export const mul_reg: Cb = (p, m) => wrp_mul(p, m, false, true);
export const mul_imm: Cb = (p, m) => wrp_mul(p, m, false, false);

/** include/linux/reciprocal_div.h struct reciprocal_value_adv. */
export interface ReciprocalValueAdv {
  readonly m: number;
  readonly sh: number;
  readonly exp: number;
  readonly is_wide_m: boolean;
}

const fls = (x: number): number => (x === 0 ? 0 : 32 - Math.clz32(x));

/**
 * reciprocal_value_adv() (lib/math/reciprocal_div.c): the multiplier m and shift sh such that
 * x / d == (x * m) >> (32 + sh) for every x below 2^prec; is_wide_m says m needs 33 bits.
 */
export function reciprocal_value_adv(d: number, prec: number): ReciprocalValueAdv {
  const l = fls(d - 1);
  if (l === 32) throw new BpfError('EINVAL', `nfp: reciprocal of ${d} is not supported (divisor above 2^31)`);
  let post_shift = l;
  let mlow = (1n << BigInt(32 + l)) / BigInt(d);
  let mhigh = ((1n << BigInt(32 + l)) + (1n << BigInt(32 + l - prec))) / BigInt(d);
  for (; post_shift > 0; post_shift--) {
    const lo = mlow >> 1n;
    const hi = mhigh >> 1n;
    if (lo >= hi) break;
    mlow = lo;
    mhigh = hi;
  }
  return { m: Number(mhigh & 0xffffffffn), sh: post_shift, exp: l, is_wide_m: mhigh > 0xffffffffn };
}

function wrp_div_imm(nfp_prog: NfpProg, meta: NfpInsnMeta, dst: number, imm: bigint): void {
  const dst_both = reg_both(dst);
  const dst_a = reg_a(dst);
  if (imm > BigInt(U32_MAX) || imm === 0n) {
    // Larger than any u32 dividend (the hook saw to that), or BPF's division by zero: 0.
    wrp_immed(nfp_prog, dst_both, 0);
    return;
  }
  if (imm === 1n) return;
  const d = Number(imm);
  // reciprocal_value_adv() does not take divisors above 2^31; then the quotient is 0 or 1, i.e. the
  // unsigned comparison dst >= imm, which subtract-and-carry computes.
  if (d > 0x80000000) {
    const tmp_b = ur_load_imm_any(nfp_prog, d, imm_b());
    emit_alu(nfp_prog, reg_none(), dst_a, 'sub', tmp_b);
    wrp_immed(nfp_prog, imm_a(), 0);
    emit_alu(nfp_prog, dst_both, imm_a(), 'add_c', reg_imm(0));
    return;
  }
  let rvalue = reciprocal_value_adv(d, 32);
  const exp = rvalue.exp;
  let pre_shift = 0;
  if (rvalue.is_wide_m && (d & 1) === 0) {
    pre_shift = fls(d & -d) - 1;
    rvalue = reciprocal_value_adv(d >>> pre_shift, 32 - pre_shift);
  }
  if (d === 2 ** exp) {
    emit_shf(nfp_prog, dst_both, reg_none(), 'none', dst_a, 'r_shf', exp);
    return;
  }
  const magic = ur_load_imm_any(nfp_prog, rvalue.m, imm_b());
  if (rvalue.is_wide_m) {
    // q = (((x - t) >> 1) + t) >> (sh - 1), t = mulhi(x, m)
    wrp_mul_u32(nfp_prog, imm_both(), reg_none(), dst_a, magic, true);
    emit_alu(nfp_prog, dst_both, dst_a, 'sub', imm_b());
    emit_shf(nfp_prog, dst_both, reg_none(), 'none', dst_a, 'r_shf', 1);
    emit_alu(nfp_prog, dst_both, dst_a, 'add', imm_b());
    if (rvalue.sh - 1 > 0) emit_shf(nfp_prog, dst_both, reg_none(), 'none', dst_a, 'r_shf', rvalue.sh - 1);
  } else {
    if (pre_shift) emit_shf(nfp_prog, dst_both, reg_none(), 'none', dst_a, 'r_shf', pre_shift);
    wrp_mul_u32(nfp_prog, dst_both, reg_none(), dst_a, magic, true);
    if (rvalue.sh > 0) emit_shf(nfp_prog, dst_both, reg_none(), 'none', dst_a, 'r_shf', rvalue.sh);
  }
  void meta;
}

export const div_imm64: Cb = (nfp_prog, meta) => wrp_div_imm(nfp_prog, meta, meta.insn.dst * 2, BigInt.asUintN(64, BigInt(meta.insn.imm)));
/** The hook has refused divisors the verifier does not know as a constant. */
export const div_reg64: Cb = (nfp_prog, meta) => wrp_div_imm(nfp_prog, meta, meta.insn.dst * 2, meta.umin_src);
export const div_reg: Cb = (nfp_prog, meta) => {
  div_reg64(nfp_prog, meta);
  wrp_zext(nfp_prog, meta, meta.insn.dst * 2); // nfp-emu (see the top of the file)
};
export const div_imm: Cb = (nfp_prog, meta) => {
  div_imm64(nfp_prog, meta);
  wrp_zext(nfp_prog, meta, meta.insn.dst * 2); // nfp-emu (see the top of the file)
};

// ---------------------------------------------------------------------------------------------------
// 64-bit shifts

/** dst <<= amt: the high word takes the bits crossing from the low word (a double shift). */
function __shl_imm64(nfp_prog: NfpProg, dst: number, shift_amt: number): void {
  if (!shift_amt) return;
  if (shift_amt < 32) {
    emit_shf(nfp_prog, reg_both(dst + 1), reg_a(dst + 1), 'none', reg_b(dst), 'r_dshf', 32 - shift_amt);
    emit_shf(nfp_prog, reg_both(dst), reg_none(), 'none', reg_b(dst), 'l_shf', shift_amt);
  } else if (shift_amt === 32) {
    wrp_reg_mov(nfp_prog, dst + 1, dst);
    wrp_immed(nfp_prog, reg_both(dst), 0);
  } else {
    emit_shf(nfp_prog, reg_both(dst + 1), reg_none(), 'none', reg_b(dst), 'l_shf', shift_amt - 32);
    wrp_immed(nfp_prog, reg_both(dst), 0);
  }
}

export const shl_imm64: Cb = (nfp_prog, meta) => __shl_imm64(nfp_prog, meta.insn.dst * 2, meta.insn.imm);

function shl_reg64_lt32_high(nfp_prog: NfpProg, dst: number, src: number): void {
  emit_alu(nfp_prog, imm_both(), reg_imm(32), 'sub', reg_b(src));
  emit_alu(nfp_prog, reg_none(), imm_a(), 'or', reg_imm(0));
  emit_shf_indir(nfp_prog, reg_both(dst + 1), reg_a(dst + 1), 'none', reg_b(dst), 'r_dshf');
}

/**
 * nfp-emu: the high part of a left shift whose amount may be 0. The kernel's code shifts (hi:lo) right
 * by 32 - n, an indirect amount of 32 & 31 = 0 when n is 0, and a double shift by 0 yields the low
 * word: hi would become lo. Shifting (hi:lo) right by one first makes the amount 31 - n, 0..31 for
 * every n: two instructions more, only where the verifier cannot rule 0 out.
 */
function shl_reg64_lt32_high_zero_ok(nfp_prog: NfpProg, dst: number, src: number): void {
  emit_shf(nfp_prog, imma_both(), reg_a(dst + 1), 'none', reg_b(dst), 'r_dshf', 1);
  emit_shf(nfp_prog, imm_both(), reg_none(), 'none', reg_b(dst + 1), 'r_shf', 1);
  emit_alu(nfp_prog, reg_both(NFP_REG_SCRATCH), reg_imm(31), 'sub', reg_b(src));
  emit_alu(nfp_prog, reg_none(), reg_a(NFP_REG_SCRATCH), 'or', reg_imm(0));
  emit_shf_indir(nfp_prog, reg_both(dst + 1), imm_a(), 'none', imma_b(), 'r_dshf');
}

/** For an indirect left shift the high part must be computed first. */
function shl_reg64_lt32_low(nfp_prog: NfpProg, dst: number, src: number): void {
  emit_alu(nfp_prog, reg_none(), reg_a(src), 'or', reg_imm(0));
  emit_shf_indir(nfp_prog, reg_both(dst), reg_none(), 'none', reg_b(dst), 'l_shf');
}

function shl_reg64_ge32(nfp_prog: NfpProg, dst: number, src: number): void {
  emit_alu(nfp_prog, reg_none(), reg_a(src), 'or', reg_imm(0));
  emit_shf_indir(nfp_prog, reg_both(dst + 1), reg_none(), 'none', reg_b(dst), 'l_shf');
  wrp_immed(nfp_prog, reg_both(dst), 0);
}

/**
 * Shifts by a register: the verifier's range of the amount picks the code. Below 32 or from 32 up is
 * straight-line; a range that straddles 32 tests bit 5 of the amount at run time.
 */
function shiftByReg(nfp_prog: NfpProg, meta: NfpInsnMeta, imm: (dst: number, amt: number) => void, lt32: () => void, ge32: () => void,
  straddle: { ge32At: number; lowFirst: () => void; inDelay: () => void }): void {
  const dst = meta.insn.dst * 2;
  const src = meta.insn.src * 2;
  const umin = meta.umin_src;
  const umax = meta.umax_src;
  if (umin === umax) return imm(dst, Number(umin & 63n));
  if (umax < 32n) return lt32();
  if (umin >= 32n) return ge32();
  const label_ge32 = nfp_prog_current_offset(nfp_prog) + straddle.ge32At;
  emit_br_bset(nfp_prog, reg_a(src), 5, label_ge32, 0);
  straddle.lowFirst();
  const label_end = nfp_prog_current_offset(nfp_prog) + 6;
  emit_br(nfp_prog, 'br', label_end, 2);
  // The rest of the below-32 code sits in the branch's defer slots.
  straddle.inDelay();
  nfp_prog_confirm_current_offset(nfp_prog, label_ge32);
  ge32();
  nfp_prog_confirm_current_offset(nfp_prog, label_end);
}

export const shl_reg64: Cb = (nfp_prog, meta) => {
  const dst = meta.insn.dst * 2;
  const src = meta.insn.src * 2;
  const mayBeZero = meta.umin_src === 0n;
  const high = mayBeZero ? shl_reg64_lt32_high_zero_ok : shl_reg64_lt32_high;
  shiftByReg(nfp_prog, meta, (d, a) => __shl_imm64(nfp_prog, d, a),
    () => { high(nfp_prog, dst, src); shl_reg64_lt32_low(nfp_prog, dst, src); },
    () => shl_reg64_ge32(nfp_prog, dst, src),
    { ge32At: mayBeZero ? 9 : 7, lowFirst: () => high(nfp_prog, dst, src), inDelay: () => shl_reg64_lt32_low(nfp_prog, dst, src) });
};

/** dst >>= amt (logical): the low word takes the bits crossing from the high word. */
function __shr_imm64(nfp_prog: NfpProg, dst: number, shift_amt: number): void {
  if (!shift_amt) return;
  if (shift_amt < 32) {
    emit_shf(nfp_prog, reg_both(dst), reg_a(dst + 1), 'none', reg_b(dst), 'r_dshf', shift_amt);
    emit_shf(nfp_prog, reg_both(dst + 1), reg_none(), 'none', reg_b(dst + 1), 'r_shf', shift_amt);
  } else if (shift_amt === 32) {
    wrp_reg_mov(nfp_prog, dst, dst + 1);
    wrp_immed(nfp_prog, reg_both(dst + 1), 0);
  } else {
    emit_shf(nfp_prog, reg_both(dst), reg_none(), 'none', reg_b(dst + 1), 'r_shf', shift_amt - 32);
    wrp_immed(nfp_prog, reg_both(dst + 1), 0);
  }
}

export const shr_imm64: Cb = (nfp_prog, meta) => __shr_imm64(nfp_prog, meta.insn.dst * 2, meta.insn.imm);

/** For an indirect right shift the low part must be computed first. */
function shr_reg64_lt32_high(nfp_prog: NfpProg, dst: number, src: number): void {
  emit_alu(nfp_prog, reg_none(), reg_a(src), 'or', reg_imm(0));
  emit_shf_indir(nfp_prog, reg_both(dst + 1), reg_none(), 'none', reg_b(dst + 1), 'r_shf');
}

function shr_reg64_lt32_low(nfp_prog: NfpProg, dst: number, src: number): void {
  emit_alu(nfp_prog, reg_none(), reg_a(src), 'or', reg_imm(0));
  emit_shf_indir(nfp_prog, reg_both(dst), reg_a(dst + 1), 'none', reg_b(dst), 'r_dshf');
}

function shr_reg64_ge32(nfp_prog: NfpProg, dst: number, src: number): void {
  emit_alu(nfp_prog, reg_none(), reg_a(src), 'or', reg_imm(0));
  emit_shf_indir(nfp_prog, reg_both(dst), reg_none(), 'none', reg_b(dst + 1), 'r_shf');
  wrp_immed(nfp_prog, reg_both(dst + 1), 0);
}

export const shr_reg64: Cb = (nfp_prog, meta) => {
  const dst = meta.insn.dst * 2;
  const src = meta.insn.src * 2;
  shiftByReg(nfp_prog, meta, (d, a) => __shr_imm64(nfp_prog, d, a),
    () => { shr_reg64_lt32_low(nfp_prog, dst, src); shr_reg64_lt32_high(nfp_prog, dst, src); },
    () => shr_reg64_ge32(nfp_prog, dst, src),
    { ge32At: 6, lowFirst: () => shr_reg64_lt32_low(nfp_prog, dst, src), inDelay: () => shr_reg64_lt32_high(nfp_prog, dst, src) });
};

/** Arithmetic right shift: as the logical one, with the sign bit taken from PREV_ALU's result. */
function __ashr_imm64(nfp_prog: NfpProg, dst: number, shift_amt: number): void {
  if (!shift_amt) return;
  if (shift_amt < 32) {
    emit_shf(nfp_prog, reg_both(dst), reg_a(dst + 1), 'none', reg_b(dst), 'r_dshf', shift_amt);
    // Set the signedness bit.
    emit_alu(nfp_prog, reg_none(), reg_a(dst + 1), 'or', reg_imm(0));
    emit_shf(nfp_prog, reg_both(dst + 1), reg_none(), 'ashr', reg_b(dst + 1), 'r_shf', shift_amt);
  } else if (shift_amt === 32) {
    // The move also sets the signedness bit.
    wrp_reg_mov(nfp_prog, dst, dst + 1);
    emit_shf(nfp_prog, reg_both(dst + 1), reg_none(), 'ashr', reg_b(dst + 1), 'r_shf', 31);
  } else {
    emit_alu(nfp_prog, reg_none(), reg_a(dst + 1), 'or', reg_imm(0));
    emit_shf(nfp_prog, reg_both(dst), reg_none(), 'ashr', reg_b(dst + 1), 'r_shf', shift_amt - 32);
    emit_shf(nfp_prog, reg_both(dst + 1), reg_none(), 'ashr', reg_b(dst + 1), 'r_shf', 31);
  }
}

export const ashr_imm64: Cb = (nfp_prog, meta) => __ashr_imm64(nfp_prog, meta.insn.dst * 2, meta.insn.imm);

/** The first instruction sets both the indirect amount (A operand) and the sign (MSB of the result). */
function ashr_reg64_lt32_high(nfp_prog: NfpProg, dst: number, src: number): void {
  emit_alu(nfp_prog, reg_none(), reg_a(src), 'or', reg_b(dst + 1));
  emit_shf_indir(nfp_prog, reg_both(dst + 1), reg_none(), 'ashr', reg_b(dst + 1), 'r_shf');
}

function ashr_reg64_ge32(nfp_prog: NfpProg, dst: number, src: number): void {
  emit_alu(nfp_prog, reg_none(), reg_a(src), 'or', reg_b(dst + 1));
  emit_shf_indir(nfp_prog, reg_both(dst), reg_none(), 'ashr', reg_b(dst + 1), 'r_shf');
  emit_shf(nfp_prog, reg_both(dst + 1), reg_none(), 'ashr', reg_b(dst + 1), 'r_shf', 31);
}

export const ashr_reg64: Cb = (nfp_prog, meta) => {
  const dst = meta.insn.dst * 2;
  const src = meta.insn.src * 2;
  // Below 32 the low word needs no sign bits: the logical code does.
  shiftByReg(nfp_prog, meta, (d, a) => __ashr_imm64(nfp_prog, d, a),
    () => { shr_reg64_lt32_low(nfp_prog, dst, src); ashr_reg64_lt32_high(nfp_prog, dst, src); },
    () => ashr_reg64_ge32(nfp_prog, dst, src),
    { ge32At: 6, lowFirst: () => shr_reg64_lt32_low(nfp_prog, dst, src), inDelay: () => ashr_reg64_lt32_high(nfp_prog, dst, src) });
};

// ---------------------------------------------------------------------------------------------------
// 32-bit shifts

function __ashr_imm(nfp_prog: NfpProg, meta: NfpInsnMeta, dst: number, shift_amt: number): void {
  if (shift_amt) {
    // Set the signedness bit (MSB of the result).
    emit_alu(nfp_prog, reg_none(), reg_a(dst), 'or', reg_imm(0));
    emit_shf(nfp_prog, reg_both(dst), reg_none(), 'ashr', reg_b(dst), 'r_shf', shift_amt);
  }
  wrp_zext(nfp_prog, meta, dst);
}

export const ashr_imm: Cb = (nfp_prog, meta) => __ashr_imm(nfp_prog, meta, meta.insn.dst * 2, meta.insn.imm);

export const ashr_reg: Cb = (nfp_prog, meta) => {
  const dst = meta.insn.dst * 2;
  if (meta.umin_src === meta.umax_src) return __ashr_imm(nfp_prog, meta, dst, Number(meta.umin_src & 31n));
  const src = meta.insn.src * 2;
  emit_alu(nfp_prog, reg_none(), reg_a(src), 'or', reg_b(dst));
  emit_shf_indir(nfp_prog, reg_both(dst), reg_none(), 'ashr', reg_b(dst), 'r_shf');
  wrp_zext(nfp_prog, meta, dst);
};

function __shr_imm(nfp_prog: NfpProg, meta: NfpInsnMeta, dst: number, shift_amt: number): void {
  if (shift_amt) emit_shf(nfp_prog, reg_both(dst), reg_none(), 'none', reg_b(dst), 'r_shf', shift_amt);
  wrp_zext(nfp_prog, meta, dst);
}

export const shr_imm: Cb = (nfp_prog, meta) => __shr_imm(nfp_prog, meta, meta.insn.dst * 2, meta.insn.imm);

export const shr_reg: Cb = (nfp_prog, meta) => {
  const dst = meta.insn.dst * 2;
  if (meta.umin_src === meta.umax_src) return __shr_imm(nfp_prog, meta, dst, Number(meta.umin_src & 31n));
  const src = meta.insn.src * 2;
  emit_alu(nfp_prog, reg_none(), reg_a(src), 'or', reg_imm(0));
  emit_shf_indir(nfp_prog, reg_both(dst), reg_none(), 'none', reg_b(dst), 'r_shf');
  wrp_zext(nfp_prog, meta, dst);
};

function __shl_imm(nfp_prog: NfpProg, meta: NfpInsnMeta, dst: number, shift_amt: number): void {
  if (shift_amt) emit_shf(nfp_prog, reg_both(dst), reg_none(), 'none', reg_b(dst), 'l_shf', shift_amt);
  wrp_zext(nfp_prog, meta, dst);
}

export const shl_imm: Cb = (nfp_prog, meta) => __shl_imm(nfp_prog, meta, meta.insn.dst * 2, meta.insn.imm);

export const shl_reg: Cb = (nfp_prog, meta) => {
  const dst = meta.insn.dst * 2;
  if (meta.umin_src === meta.umax_src) return __shl_imm(nfp_prog, meta, dst, Number(meta.umin_src & 31n));
  shl_reg64_lt32_low(nfp_prog, dst, meta.insn.src * 2);
  wrp_zext(nfp_prog, meta, dst);
};

// ---------------------------------------------------------------------------------------------------
// Byte swap and 64-bit immediates

function wrp_end32(nfp_prog: NfpProg, reg_in: NfpReg, gpr_out: number): void {
  emit_ld_field(nfp_prog, reg_both(gpr_out), 0xf, reg_in, 'r_rot', 8);
  emit_ld_field(nfp_prog, reg_both(gpr_out), 0x5, reg_a(gpr_out), 'r_rot', 16);
}

/** BPF_ALU | BPF_END | BPF_TO_BE: the NFP is big-endian to the host's little. */
export const end_reg32: Cb = (nfp_prog, meta) => {
  const gpr = meta.insn.dst * 2;
  switch (meta.insn.imm) {
    case 16:
      emit_ld_field(nfp_prog, reg_both(gpr), 0x9, reg_b(gpr), 'r_rot', 8);
      emit_ld_field(nfp_prog, reg_both(gpr), 0xe, reg_a(gpr), 'r_shf', 16);
      wrp_immed(nfp_prog, reg_both(gpr + 1), 0);
      break;
    case 32:
      wrp_end32(nfp_prog, reg_a(gpr), gpr);
      wrp_immed(nfp_prog, reg_both(gpr + 1), 0);
      break;
    case 64:
      wrp_mov(nfp_prog, imm_a(), reg_b(gpr + 1));
      wrp_end32(nfp_prog, reg_a(gpr), gpr + 1);
      wrp_end32(nfp_prog, imm_a(), gpr);
      break;
    default:
      throw new BpfError('EOPNOTSUPP', `nfp: byte swap of ${meta.insn.imm} bits`);
  }
};

/** lddw's second slot: both halves (a map pointer has become its table id by now). */
export function imm_ld8_part2(nfp_prog: NfpProg, meta: NfpInsnMeta, prev: NfpInsnMeta): void {
  const dst = prev.insn.dst * 2;
  const imm_lo = prev.insn.imm >>> 0;
  const imm_hi = meta.insn.imm >>> 0;
  wrp_immed(nfp_prog, reg_both(dst), imm_lo);
  // mov is always 1 insn, load imm may be two, so try to use mov.
  if (imm_hi === imm_lo) wrp_mov(nfp_prog, reg_both(dst + 1), reg_a(dst));
  else wrp_immed(nfp_prog, reg_both(dst + 1), imm_hi);
}

export const imm_ld8: Cb = (_nfp_prog, meta) => {
  meta.double_cb = 'imm_ld8_part2';
};

// ---------------------------------------------------------------------------------------------------
// Jumps: the target is a placeholder until nfp_fixup_branches()

const PLACEHOLDER = 0;

export const jump: Cb = (nfp_prog) => emit_br(nfp_prog, 'br', PLACEHOLDER, 0);

/** jmp_code_map[]: the branch condition and whether the operands are swapped. */
const JMP_CODE: Readonly<Partial<Record<string, { br: NfpBrCond; swap: boolean }>>> = {
  jgt: { br: 'bcc', swap: true },
  jge: { br: 'bcs', swap: false },
  jlt: { br: 'bcc', swap: false },
  jle: { br: 'bcs', swap: true },
  jsgt: { br: 'blt', swap: true },
  jsge: { br: 'bge', swap: false },
  jslt: { br: 'blt', swap: false },
  jsle: { br: 'bge', swap: true },
};

function nfp_jmp_code_get(meta: NfpInsnMeta): { br: NfpBrCond; swap: boolean } {
  const code = meta.op?.kind === 'jcond' ? JMP_CODE[meta.op.cond] : undefined;
  if (code === undefined) throw new BpfError('EINVAL', 'nfp: no code found for jump instruction');
  return code;
}

export const cmp_imm: Cb = (nfp_prog, meta) => {
  const code = nfp_jmp_code_get(meta);
  const { lo, hi } = imm64(meta.insn.imm);
  const reg = meta.insn.dst * 2;
  const alu_op: NfpAluOp = meta.jump_neg_op ? 'add' : 'sub';
  const carry_op: NfpAluOp = meta.jump_neg_op ? 'add_c' : 'sub_c';
  let tmp = ur_load_imm_any(nfp_prog, lo, imm_b());
  if (!code.swap) emit_alu(nfp_prog, reg_none(), reg_a(reg), alu_op, tmp);
  else emit_alu(nfp_prog, reg_none(), tmp, alu_op, reg_a(reg));
  if (!isJmp32(meta)) {
    tmp = ur_load_imm_any(nfp_prog, hi, imm_b());
    if (!code.swap) emit_alu(nfp_prog, reg_none(), reg_a(reg + 1), carry_op, tmp);
    else emit_alu(nfp_prog, reg_none(), tmp, carry_op, reg_a(reg + 1));
  }
  emit_br(nfp_prog, code.br, PLACEHOLDER, 0);
};

export const cmp_reg: Cb = (nfp_prog, meta) => {
  const code = nfp_jmp_code_get(meta);
  let areg = meta.insn.dst * 2;
  let breg = meta.insn.src * 2;
  if (code.swap) [areg, breg] = [breg, areg];
  emit_alu(nfp_prog, reg_none(), reg_a(areg), 'sub', reg_b(breg));
  if (!isJmp32(meta)) emit_alu(nfp_prog, reg_none(), reg_a(areg + 1), 'sub_c', reg_b(breg + 1));
  emit_br(nfp_prog, code.br, PLACEHOLDER, 0);
};

export const jeq_imm: Cb = (nfp_prog, meta) => {
  const { lo, hi } = imm64(meta.insn.imm);
  let or1: NfpReg = reg_a(meta.insn.dst * 2);
  let or2: NfpReg = reg_b(meta.insn.dst * 2 + 1);
  if (lo) {
    const tmp = ur_load_imm_any(nfp_prog, lo, imm_b());
    emit_alu(nfp_prog, imm_a(), reg_a(meta.insn.dst * 2), 'xor', tmp);
    or1 = imm_a();
  }
  if (hi) {
    const tmp = ur_load_imm_any(nfp_prog, hi, imm_b());
    emit_alu(nfp_prog, imm_b(), reg_a(meta.insn.dst * 2 + 1), 'xor', tmp);
    or2 = imm_b();
  }
  emit_alu(nfp_prog, reg_none(), or1, 'or', or2);
  emit_br(nfp_prog, 'beq', PLACEHOLDER, 0);
};

export const jeq32_imm: Cb = (nfp_prog, meta) => {
  const tmp = ur_load_imm_any(nfp_prog, meta.insn.imm, imm_b());
  emit_alu(nfp_prog, reg_none(), reg_a(meta.insn.dst * 2), 'xor', tmp);
  emit_br(nfp_prog, 'beq', PLACEHOLDER, 0);
};

export const jset_imm: Cb = (nfp_prog, meta) => {
  const { lo, hi } = imm64(meta.insn.imm);
  const dst_gpr = meta.insn.dst * 2;
  const tmp = ur_load_imm_any(nfp_prog, lo, imm_b());
  emit_alu(nfp_prog, imm_b(), reg_a(dst_gpr), 'and', tmp);
  // The upper word of the mask can only be 0 or ~0 (sign extension): ignore it or OR the whole word in.
  if (!isJmp32(meta) && hi) emit_alu(nfp_prog, reg_none(), reg_a(dst_gpr + 1), 'or', imm_b());
  emit_br(nfp_prog, 'bne', PLACEHOLDER, 0);
};

export const jne_imm: Cb = (nfp_prog, meta) => {
  const { lo, hi } = imm64(meta.insn.imm);
  const jmp32 = isJmp32(meta);
  const dst = meta.insn.dst * 2;
  if (meta.insn.imm === 0) {
    if (jmp32) emit_alu(nfp_prog, reg_none(), reg_none(), 'none', reg_b(dst));
    else emit_alu(nfp_prog, reg_none(), reg_a(dst), 'or', reg_b(dst + 1));
    emit_br(nfp_prog, 'bne', PLACEHOLDER, 0);
    return;
  }
  let tmp = ur_load_imm_any(nfp_prog, lo, imm_b());
  emit_alu(nfp_prog, reg_none(), reg_a(dst), 'xor', tmp);
  emit_br(nfp_prog, 'bne', PLACEHOLDER, 0);
  if (jmp32) return;
  tmp = ur_load_imm_any(nfp_prog, hi, imm_b());
  emit_alu(nfp_prog, reg_none(), reg_a(dst + 1), 'xor', tmp);
  emit_br(nfp_prog, 'bne', PLACEHOLDER, 0);
};

export const jeq_reg: Cb = (nfp_prog, meta) => {
  const dst = meta.insn.dst * 2;
  const src = meta.insn.src * 2;
  emit_alu(nfp_prog, imm_a(), reg_a(dst), 'xor', reg_b(src));
  if (!isJmp32(meta)) {
    emit_alu(nfp_prog, imm_b(), reg_a(dst + 1), 'xor', reg_b(src + 1));
    emit_alu(nfp_prog, reg_none(), imm_a(), 'or', imm_b());
  }
  emit_br(nfp_prog, 'beq', PLACEHOLDER, 0);
};

function wrp_test_reg(nfp_prog: NfpProg, meta: NfpInsnMeta, alu_op: NfpAluOp, br: NfpBrCond): void {
  const dst = meta.insn.dst * 2;
  const src = meta.insn.src * 2;
  emit_alu(nfp_prog, reg_none(), reg_a(dst), alu_op, reg_b(src));
  emit_br(nfp_prog, br, PLACEHOLDER, 0);
  if (!isJmp32(meta)) {
    emit_alu(nfp_prog, reg_none(), reg_a(dst + 1), alu_op, reg_b(src + 1));
    emit_br(nfp_prog, br, PLACEHOLDER, 0);
  }
}

export const jset_reg: Cb = (p, m) => wrp_test_reg(p, m, 'and', 'bne');
export const jne_reg: Cb = (p, m) => wrp_test_reg(p, m, 'xor', 'bne');
