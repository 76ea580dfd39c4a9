// The NFP JIT's emitters (drivers/net/ethernet/netronome/nfp/bpf/jit.c, "Emitters" and "Wrappers",
// over nfp_asm.h's operand model): every instruction the JIT writes goes through here into
// nfp_prog.prog as a 64-bit word built from the ONE NFP instruction table (src/nic/isa.ts builders,
// src/nic/asm.ts encoder), with the driver's relocation type in the top byte (OP_RELO_TYPE).
//
// As in the kernel, an emitter that cannot encode what it is asked (an operand out of reach, two
// operands in one bank) records the error in nfp_prog.error and writes nothing; the translation loop
// checks it after each instruction. A full code store is ENOSPC ("instruction limit reached").
//
// One convention differs from jit.c and is kept in one place: emit_ld_field() takes the real shift
// amount. The kernel's __emit_ld_field() encodes its argument as is, so its callers pass "32 - n" for a
// left shift by n; the table's encoder does that conversion here.

import { BpfError } from '../../bpf/errno.js';
import { encodeInsn } from '../../nic/asm.js';
import {
  NFP_MAX_CODE_ADDR, STATIC_REG_IMM, STATIC_REG_IMMA, STATIC_REG_PKT_LEN, STATIC_REG_STACK, PKT_VEC_PKT_LEN, PKT_VEC_PKT_PTR,
  PKT_VEC_QSEL_SET, PKT_VEC_QSEL_VAL, NFP_PV_LM_PTR,
  nfpAlu, nfpBr, nfpBrBit, nfpCmd, nfpCsrRd, nfpCsrWr, nfpImmed, nfpLdField, nfpMul, nfpMulLast, nfpNop, nfpRtn, nfpShf, packImmed,
  reg_a, reg_b, reg_both, reg_imm, reg_lm, reg_none,
  type NfpAluOp, type NfpBrCond, type NfpCmdMode, type NfpCmdName, type NfpCsr, type NfpImmed, type NfpInsn, type NfpMulStep, type NfpReg,
  type NfpShfOp, type NfpShfSc,
} from '../../nic/isa.js';
import { FLAG_INSN_DO_ZEXT, type NfpInsnMeta, type NfpProg } from './prog.js';

// ---------------------------------------------------------------------------------------------------
// Relocation types (main.h enum nfp_relo_type), kept in the top byte until nfp_bpf_relo_for_vnic()

export const RELO_NONE = 0;
/** Standard internal jumps. */
export const RELO_BR_REL = 1;
/** Internal jumps to parts of the outro. */
export const RELO_BR_GO_OUT = 2;
export const RELO_BR_GO_ABORT = 3;
export const RELO_BR_GO_CALL_PUSH_REGS = 4;
export const RELO_BR_GO_CALL_POP_REGS = 5;
/** External jumps to fixed addresses. */
export const RELO_BR_NEXT_PKT = 6;
export const RELO_BR_HELPER = 7;
/** Immediate relocation against the load address. */
export const RELO_IMMED_REL = 8;
export type NfpReloType = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8;

export const OP_RELO_SHIFT = 56n;
export const OP_RELO_TYPE = 0xffn << OP_RELO_SHIFT;
export const reloOf = (w: bigint): number => Number((w & OP_RELO_TYPE) >> OP_RELO_SHIFT);

// ---------------------------------------------------------------------------------------------------
// The static registers (main.h): the stack base, packet length, scratch, and the packet vector in LMEM

export const stack_reg = (): NfpReg => reg_a(STATIC_REG_STACK);
export const plen_reg = (): NfpReg => reg_b(STATIC_REG_PKT_LEN);
export const imm_a = (): NfpReg => reg_a(STATIC_REG_IMM);
export const imm_b = (): NfpReg => reg_b(STATIC_REG_IMM);
export const imm_both = (): NfpReg => reg_both(STATIC_REG_IMM);
export const imma_a = (): NfpReg => reg_a(STATIC_REG_IMMA);
export const imma_b = (): NfpReg => reg_b(STATIC_REG_IMMA);
export const imma_both = (): NfpReg => reg_both(STATIC_REG_IMMA);
export const stack_imm = imm_b;
/** The return address of BPF-to-BPF calls travels in imm_a. */
export const ret_reg = imm_a;
export const pv_len = (): NfpReg => reg_lm(NFP_PV_LM_PTR, PKT_VEC_PKT_LEN);
export const pv_ctm_ptr = (): NfpReg => reg_lm(NFP_PV_LM_PTR, PKT_VEC_PKT_PTR);
export const pptr_reg = pv_ctm_ptr;
export const pv_qsel_set = (): NfpReg => reg_lm(NFP_PV_LM_PTR, PKT_VEC_QSEL_SET);
export const pv_qsel_val = (): NfpReg => reg_lm(NFP_PV_LM_PTR, PKT_VEC_QSEL_VAL);
/** The flags the outro puts in A0 beside the verdict (NFP_BPF_ABI_FLAGS). */
export const NFP_BPF_ABI_FLAGS = (): NfpReg => reg_imm(0);

/**
 * nfp-emu: a GPR pair free in 4-context mode (32 GPRs per bank; the kernel's JIT stops at 22) that
 * holds a BPF_ST immediate on its way to the stack.
 */
export const NFP_REG_ST_IMM = 24;
/** nfp-emu: one more free GPR (4-context mode) for a shift amount when imm and imma both hold values. */
export const NFP_REG_SCRATCH = 23;

// ---------------------------------------------------------------------------------------------------
// Pushing words

function setError(nfp_prog: NfpProg, e: unknown): void {
  if (!(e instanceof BpfError)) throw e;
  nfp_prog.error ??= new BpfError('EFAULT', e.message);
}

/** nfp_prog_push(): one word into the code store, or ENOSPC when it is full. */
export function nfp_prog_push(nfp_prog: NfpProg, word: bigint): void {
  const max = nfp_prog.prog_alloc_len > 0 ? nfp_prog.prog_alloc_len : NFP_MAX_CODE_ADDR;
  if (nfp_prog.prog.length >= max) {
    if (nfp_prog.error === null) {
      nfp_prog.bpf.log.pr_info(`instruction limit reached (${nfp_prog.prog.length} NFP instructions)`);
      nfp_prog.error = new BpfError('ENOSPC', `instruction limit reached (${nfp_prog.prog.length} NFP instructions)`);
    }
    return;
  }
  nfp_prog.prog.push(word);
}

/** Encode and push one instruction with a relocation type; an operand the hardware cannot hold is EFAULT. */
export function emit(nfp_prog: NfpProg, build: () => NfpInsn, relo: NfpReloType = RELO_NONE): void {
  let word: bigint;
  try {
    word = encodeInsn(build());
  } catch (e) {
    setError(nfp_prog, e);
    return;
  }
  nfp_prog_push(nfp_prog, word | (BigInt(relo) << OP_RELO_SHIFT));
}

export const nfp_prog_current_offset = (nfp_prog: NfpProg): number => nfp_prog.prog.length;

/** nfp_prog_confirm_current_offset(): a translator bug shows as an offset that does not match. */
export function nfp_prog_confirm_current_offset(nfp_prog: NfpProg, off: number): void {
  if (nfp_prog.error !== null) return;
  if (nfp_prog.prog.length !== off) {
    throw new BpfError('EINVAL', `nfp: BUG: translator at NFP instruction ${nfp_prog.prog.length}, expected ${off}`);
  }
}

// ---------------------------------------------------------------------------------------------------
// Emitters

export type CmdCtx = 'swap' | 'swap_defer1' | 'swap_defer2' | 'no_swap';

/** emit_cmd_any(): `size` as the kernel passes it (the length field: count - 1, masked to its 3 bits). */
export function emit_cmd_any(nfp_prog: NfpProg, op: NfpCmdName, mode: NfpCmdMode, xfer: number, lreg: NfpReg, rreg: NfpReg,
  size: number, ctx: CmdCtx, indir: boolean): void {
  const swap = ctx !== 'no_swap';
  const defer = ctx === 'swap_defer1' ? 1 : ctx === 'swap_defer2' ? 2 : 0;
  emit(nfp_prog, () => nfpCmd(op, mode, xfer, lreg, rreg, (size & 7) + 1, { swap, defer, indirect: indir }));
}

export const emit_cmd = (nfp_prog: NfpProg, op: NfpCmdName, mode: NfpCmdMode, xfer: number, lreg: NfpReg, rreg: NfpReg, size: number, ctx: CmdCtx): void =>
  emit_cmd_any(nfp_prog, op, mode, xfer, lreg, rreg, size, ctx, false);

export const emit_cmd_indir = (nfp_prog: NfpProg, op: NfpCmdName, mode: NfpCmdMode, xfer: number, lreg: NfpReg, rreg: NfpReg, size: number, ctx: CmdCtx): void =>
  emit_cmd_any(nfp_prog, op, mode, xfer, lreg, rreg, size, ctx, true);

/** emit_br_relo(): a branch; `addr` is a placeholder for internal jumps until nfp_fixup_branches(). */
export function emit_br_relo(nfp_prog: NfpProg, cond: NfpBrCond, addr: number, defer: number, relo: NfpReloType): void {
  if (cond === 'br' && defer > 2) {
    nfp_prog.error ??= new BpfError('EFAULT', `nfp: BUG: branch defer out of bounds ${defer}`);
    return;
  }
  emit(nfp_prog, () => nfpBr(cond, addr, defer), relo);
}

export const emit_br = (nfp_prog: NfpProg, cond: NfpBrCond, addr: number, defer: number): void =>
  emit_br_relo(nfp_prog, cond, addr, defer, RELO_BR_REL);

/** emit_br_bset(): branch when bit `bit` of src is set. */
export function emit_br_bset(nfp_prog: NfpProg, src: NfpReg, bit: number, addr: number, defer: number): void {
  emit(nfp_prog, () => nfpBrBit(true, src, bit, addr, defer), RELO_BR_REL);
}

export function emit_rtn(nfp_prog: NfpProg, base: NfpReg, defer: number): void {
  emit(nfp_prog, () => nfpRtn(base, defer));
}

export function emit_immed(nfp_prog: NfpProg, dst: NfpReg, imm: number, width: NfpImmed['width'], invert: boolean, shift: 0 | 1 | 2, relo: NfpReloType = RELO_NONE): void {
  emit(nfp_prog, () => nfpImmed(dst, imm, width, invert, shift), relo);
}

/**
 * emit_shf(): `shift` is the real amount; 0 with a shifting (not rotating) mode is the indirect shift
 * (the amount from the previous ALU instruction's A operand), as emit_shf_indir() asks for it.
 */
export function emit_shf(nfp_prog: NfpProg, dst: NfpReg, lreg: NfpReg, op: NfpShfOp, rreg: NfpReg, sc: NfpShfSc, shift: number): void {
  emit(nfp_prog, () => nfpShf(dst, lreg, op, rreg, sc, shift === 0 && sc !== 'r_rot' ? 'indirect' : shift));
}

export function emit_shf_indir(nfp_prog: NfpProg, dst: NfpReg, lreg: NfpReg, op: NfpShfOp, rreg: NfpReg, sc: NfpShfSc): void {
  if (sc === 'r_rot') {
    nfp_prog.error ??= new BpfError('EFAULT', 'nfp: indirect shift is not allowed on rotation');
    return;
  }
  emit_shf(nfp_prog, dst, lreg, op, rreg, sc, 0);
}

export function emit_alu(nfp_prog: NfpProg, dst: NfpReg, lreg: NfpReg, op: NfpAluOp, rreg: NfpReg): void {
  emit(nfp_prog, () => nfpAlu(dst, lreg, op, rreg));
}

/** emit_mul(): the start and step instructions take both operands, last/last2 write `lreg`. */
export function emit_mul(nfp_prog: NfpProg, lreg: NfpReg, step: NfpMulStep, rreg: NfpReg): void {
  if (step === '16x16_last' || step === '32x32_last' || step === '32x32_last2') emit(nfp_prog, () => nfpMulLast(step, lreg));
  else emit(nfp_prog, () => nfpMul(step, lreg, rreg));
}

/** emit_ld_field_any(): `shift` is the real amount (see the top of the file). */
export function emit_ld_field_any(nfp_prog: NfpProg, dst: NfpReg, bmask: number, src: NfpReg, sc: 'r_rot' | 'r_shf' | 'l_shf', shift: number, zero: boolean): void {
  emit(nfp_prog, () => nfpLdField(dst, bmask, src, shift === 0 ? 'r_rot' : sc, shift, zero));
}

export const emit_ld_field = (nfp_prog: NfpProg, dst: NfpReg, bmask: number, src: NfpReg, sc: 'r_rot' | 'r_shf' | 'l_shf', shift: number): void =>
  emit_ld_field_any(nfp_prog, dst, bmask, src, sc, shift, false);

export function emit_csr_wr(nfp_prog: NfpProg, src: NfpReg, csr: NfpCsr): void {
  emit(nfp_prog, () => nfpCsrWr(csr, src));
}

/** The CSR value is read in the immed[gpr, 0] that must follow. */
export function __emit_csr_rd(nfp_prog: NfpProg, csr: NfpCsr): void {
  emit(nfp_prog, () => nfpCsrRd(csr));
}

export function emit_nop(nfp_prog: NfpProg): void {
  emit(nfp_prog, () => nfpNop());
}

// ---------------------------------------------------------------------------------------------------
// Wrappers

/** wrp_immed(): any 32-bit constant in one instruction, or two (low half, then immed_w1). */
export function wrp_immed(nfp_prog: NfpProg, dst: NfpReg, imm: number): void {
  const v = imm >>> 0;
  let p = packImmed(v);
  if (p !== null) return emit_immed(nfp_prog, dst, p.val, 'all', false, p.shift);
  p = packImmed(~v >>> 0);
  if (p !== null) return emit_immed(nfp_prog, dst, p.val, 'all', true, p.shift);
  emit_immed(nfp_prog, dst, v & 0xffff, 'all', false, 0);
  emit_immed(nfp_prog, dst, v >>> 16, 'word', false, 2);
}

/** wrp_zext(): clear the upper half of a 32-bit result, only where the verifier says it is read. */
export function wrp_zext(nfp_prog: NfpProg, meta: NfpInsnMeta, dst: number): void {
  if (meta.flags & FLAG_INSN_DO_ZEXT) wrp_immed(nfp_prog, reg_both(dst + 1), 0);
}

/** wrp_immed_relo(): a 16-bit immed the loader relocates (a code address). */
export function wrp_immed_relo(nfp_prog: NfpProg, dst: NfpReg, imm: number, relo: NfpReloType): void {
  if (imm > 0xffff) {
    nfp_prog.bpf.log.pr_info('relocation of a large immediate!');
    nfp_prog.error ??= new BpfError('EFAULT', 'nfp: relocation of a large immediate!');
    return;
  }
  emit_immed(nfp_prog, dst, imm, 'all', false, 0, relo);
}

/** ur_load_imm_any(): the immediate itself if an unrestricted operand holds it, else via `tmp`. */
export function ur_load_imm_any(nfp_prog: NfpProg, imm: number, tmp: NfpReg): NfpReg {
  const v = imm >>> 0;
  if (v <= 0xff) return reg_imm(v);
  wrp_immed(nfp_prog, tmp, v);
  return tmp;
}

/** re_load_imm_any(): the same for restricted operands (at most 0x7f). */
export function re_load_imm_any(nfp_prog: NfpProg, imm: number, tmp: NfpReg): NfpReg {
  const v = imm >>> 0;
  if (v <= 0x7f) return reg_imm(v);
  wrp_immed(nfp_prog, tmp, v);
  return tmp;
}

export function wrp_nops(nfp_prog: NfpProg, count: number): void {
  for (let i = 0; i < count; i++) emit_nop(nfp_prog);
}

/** wrp_mov(): alu[dst, --, B, src]. */
export function wrp_mov(nfp_prog: NfpProg, dst: NfpReg, src: NfpReg): void {
  emit_alu(nfp_prog, dst, reg_none(), 'none', src);
}

export function wrp_reg_mov(nfp_prog: NfpProg, dst: number, src: number): void {
  wrp_mov(nfp_prog, reg_both(dst), reg_b(src));
}

/** wrp_reg_subpart(): `field_len` bytes from byte `offset` of src into the low end of dst, the rest cleared. */
export function wrp_reg_subpart(nfp_prog: NfpProg, dst: NfpReg, src: NfpReg, field_len: number, offset: number): void {
  const mask = (1 << field_len) - 1;
  emit_ld_field_any(nfp_prog, dst, mask, src, 'r_shf', offset * 8, true);
}

/** wrp_reg_or_subpart(): the low `field_len` bytes of src into dst from byte `offset`; other bytes kept. */
export function wrp_reg_or_subpart(nfp_prog: NfpProg, dst: NfpReg, src: NfpReg, field_len: number, offset: number): void {
  const mask = ((1 << field_len) - 1) << offset;
  emit_ld_field(nfp_prog, dst, mask, src, 'l_shf', offset * 8);
}

/** addr40_offset(): the 40-bit address of a map value pointer plus an offset, as the (A, B) operands. */
export function addr40_offset(nfp_prog: NfpProg, src_gpr: number, offset: NfpReg): { rega: NfpReg; regb: NfpReg } {
  if (offset.type === 'imm' && offset.value === 0) return { rega: reg_a(src_gpr), regb: reg_b(src_gpr + 1) };
  emit_alu(nfp_prog, imm_a(), reg_a(src_gpr), 'add', offset);
  emit_alu(nfp_prog, imm_b(), reg_b(src_gpr + 1), 'add_c', reg_imm(0));
  return { rega: imm_a(), regb: imm_b() };
}

/** wrp_alu_imm(): one half of an ALU operation with an immediate, dropping the no-ops of AND/OR/XOR. */
export function wrp_alu_imm(nfp_prog: NfpProg, dst: number, alu_op: NfpAluOp, imm: number): void {
  const v = imm >>> 0;
  if (alu_op === 'and') {
    if (v === 0) wrp_immed(nfp_prog, reg_both(dst), 0);
    if (v === 0 || v === 0xffffffff) return;
  }
  if (alu_op === 'or') {
    if (v === 0xffffffff) wrp_immed(nfp_prog, reg_both(dst), 0xffffffff);
    if (v === 0 || v === 0xffffffff) return;
  }
  if (alu_op === 'xor') {
    if (v === 0xffffffff) emit_alu(nfp_prog, reg_both(dst), reg_none(), 'not', reg_b(dst));
    if (v === 0 || v === 0xffffffff) return;
  }
  const tmp = ur_load_imm_any(nfp_prog, v, imm_b());
  emit_alu(nfp_prog, reg_both(dst), reg_a(dst), alu_op, tmp);
}

export { reg_a, reg_b, reg_both, reg_imm, reg_none };
