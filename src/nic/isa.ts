// The modeled NFP microengine instruction set (NFP-6xxx, "ME version 2.8", 4-context mode): the ONE
// table that the BPF->NFP JIT's emitter, the assembler/disassembler (src/nic/asm.ts, what `bpftool prog
// dump jited` prints) and both core engines (src/nic/core.ts interpreter, src/nic/exec-js.ts translator)
// read. Encodings and operand rules follow drivers/net/ethernet/netronome/nfp/nfp_asm.h and nfp_asm.c;
// mnemonics, condition names, CSR names and command names follow binutils opcodes/nfp-dis.c, the
// disassembler libbfd gives bpftool for "NFP-6xxx" with the `ctx4` option.
//
// An instruction is held in its logical form (NfpInsn): the operands as the JIT names them (lreg, rreg,
// dst, with GPR banks), as nfp_asm.c's swreg does. The hardware's operand placement (A field, B field,
// the swap bit, restricted 8-bit vs unrestricted 10-bit operands, the LM "extension" bits) is derived by
// the encoder with the kernel's rules, so one logical instruction has exactly one 64-bit word; the
// decoder accepts only such canonical words.
//
// What the model adds to the sources (each is marked "model:" where it is defined): the cycle cost of
// each class, the memory latencies and the taken-branch penalty (nothing public states them; they are
// plausible NFP-6xxx figures, kept in one place for the calibration in the facts doc, section 6), the
// condition codes of logical operations, the exact meaning of the "+16" ALU operator, the 40-bit address
// map, and the multiplier as a checked state machine.

import { BpfError } from '../bpf/errno.js';

// ---------------------------------------------------------------------------------------------------
// Register files (4-context mode: every context has 32 GPRs per bank and 32 transfer registers; the
// disassembler's `ctx4` takes operand numbers from 5 bits)

export const NFP_GPRS_PER_BANK = 32;
export const NFP_XFER_REGS = 32;
/** LM address CSRs per context (ActLMAddr0..3). */
export const NFP_LM_POINTERS = 4;
/** Contexts per ME in the BPF firmware (BPF_NUM_THREADS, bpftool's `ctx4`). */
export const NFP_CONTEXTS = 4;
/** Signals a command can raise (sig1..sig15; 0 is "none"). */
export const NFP_SIGNALS = 16;

/** nfp_asm.h: immediates that fit an operand field; larger ones go through `immed`. */
export const UR_REG_IMM_MAX = 0xff;
export const RE_REG_IMM_MAX = 0x7f;
/** nfp_asm.h: how far *l$indexN[k] reaches (words): 16 for unrestricted operands, 8 for restricted. */
export const UR_REG_LM_IDX_MAX = 0xf;
export const RE_REG_LM_IDX_MAX = 0x7;
/** nfp_asm.h: the JIT appends this many NOPs after an image (the ustore prefetch window). */
export const NFP_USTORE_PREFETCH_WINDOW = 8;
/** nfp_asm.c: bits 0..44 are the instruction, 45..51 its ECC. */
export const NFP_USTORE_OP_BITS = 45;
/** Branch targets and `rtn` addresses are 14 bits (ADDR_LO 13 bits + ADDR_HI). */
export const NFP_MAX_CODE_ADDR = 1 << 14;

// ---------------------------------------------------------------------------------------------------
// The BPF ABI between the JIT and the firmware (drivers/net/ethernet/netronome/nfp/bpf/main.h). Kept
// here because both sides (src/drivers/nfp/jit.ts and the firmware's datapath loop) must agree on it.

/** BPF Rn lives in the GPR pair (2n low, 2n+1 high), written to both banks (reg_both). R10 is not materialised. */
export const nfpBpfRegLo = (n: number): number => 2 * n;
export const nfpBpfRegHi = (n: number): number => 2 * n + 1;
export const STATIC_REG_IMMA = 20; // bank A and B
export const STATIC_REG_IMM = 21; // bank A and B; also the return-address register of bpf-to-bpf calls (A)
export const STATIC_REG_STACK = 22; // bank A: the stack base (LMEM byte address of the frame)
export const STATIC_REG_PKT_LEN = 22; // bank B: the packet length
/** The packet vector is reached through LM pointer 1; these are its word indexes. */
export const NFP_PV_LM_PTR = 1;
export const PKT_VEC_PKT_LEN = 0;
export const PKT_VEC_PKT_PTR = 2;
export const PKT_VEC_QSEL_SET = 4;
export const PKT_VEC_QSEL_VAL = 6;
export const PKT_VEL_QSEL_SET_BIT = 4;
/** The stack base is reached through LM pointer 0 (the firmware sets ActLMAddr0 before it jumps in). */
export const NFP_STACK_LM_PTR = 0;

// Tail calls and partial offload — PAPER-ONLY (netdev 2.1 "Future Work"; upstream nfp has neither, facts
// §1.7). The firmware zeroes the count register and the resume word for every packet; the JIT's
// bpf_tail_call sequence (src/drivers/nfp/jit-helpers.ts) keeps the count there and, for a prog array slot
// that holds a host program, writes the resume word and passes the packet (see the contract page).
/** A26: tail calls this packet has taken (kernel MAX_TAIL_CALL_CNT bounds it); 0 on entry. */
export const STATIC_REG_TAIL_CALL_CNT = 26;
/** kernel/bpf/core.c MAX_TAIL_CALL_CNT. */
export const NFP_MAX_TAIL_CALL_CNT = 33;
/** Packet vector word 7: the resume word a partial-offload tail call leaves for the host (0: none). */
export const PKT_VEC_RESUME = 7;
/** The resume word: bit 31 set, the tail-call count in bits 29:24, the tail-call table slot in bits 15:0. */
export const NFP_RESUME_VALID = 0x80000000;
export const NFP_RESUME_CNT_SHIFT = 24;
export const NFP_RESUME_SLOT_MASK = 0xffff;
/** A tail-call table entry: the code-store address of a linked program, 0 when empty, or this (a host program). */
export const NFP_TC_ENTRY_HOST = 0x80000000;
/** The verdict the image leaves in A0 bits 23:16 (nfp_outro_xdp: 0x82 abort, 0x22 drop, 0x11 pass, 0x44 tx). */
export const NFP_BPF_VERDICT_SHIFT = 16;
/** Special branch targets in un-relocated images print as .15000 + n (main.h BR_OFF_RELO). */
export const BR_OFF_RELO = 15000;

// ---------------------------------------------------------------------------------------------------
// Operands (nfp_asm.h swreg: NN_REG_GPR_A/B/BOTH, XFER, IMM, NONE, LMEM with LM pointer modes)

export type NfpBank = 'a' | 'b' | 'both';

export type NfpReg =
  | { readonly type: 'gpr'; readonly bank: NfpBank; readonly n: number }
  | { readonly type: 'xfer'; readonly n: number }
  | { readonly type: 'lm'; readonly ptr: number; readonly off: number; readonly mod: 'none' | 'inc' | 'dec' }
  | { readonly type: 'imm'; readonly value: number }
  | { readonly type: 'none' };

const bad = (why: string): BpfError => new BpfError('EFAULT', `nfp asm: ${why}`);

function checkRange(what: string, v: number, max: number): number {
  if (!Number.isInteger(v) || v < 0 || v > max) throw bad(`${what} ${v} out of range 0..${max}`);
  return v;
}

export const reg_a = (n: number): NfpReg => ({ type: 'gpr', bank: 'a', n: checkRange('GPR', n, NFP_GPRS_PER_BANK - 1) });
export const reg_b = (n: number): NfpReg => ({ type: 'gpr', bank: 'b', n: checkRange('GPR', n, NFP_GPRS_PER_BANK - 1) });
/** As a destination: the same GPR number in both banks (gpr_wrboth), so either bank can read it next. */
export const reg_both = (n: number): NfpReg => ({ type: 'gpr', bank: 'both', n: checkRange('GPR', n, NFP_GPRS_PER_BANK - 1) });
/** $xfer_n: reading gives the transfer-in register (what a memory read brought), writing the transfer-out one. */
export const reg_xfer = (n: number): NfpReg => ({ type: 'xfer', n: checkRange('transfer register', n, NFP_XFER_REGS - 1) });
export const reg_imm = (v: number): NfpReg => ({ type: 'imm', value: checkRange('immediate', v, UR_REG_IMM_MAX) });
/** *l$indexN[off]: the LMEM word at (ActLMAddrN | off*4): the offset is ORed in, not added. */
export const reg_lm = (ptr: number, off: number): NfpReg =>
  ({ type: 'lm', ptr: checkRange('LM pointer', ptr, NFP_LM_POINTERS - 1), off: checkRange('LM offset', off, UR_REG_LM_IDX_MAX), mod: 'none' });
/** *l$indexN++: the word at ActLMAddrN, then the pointer moves one word up. */
export const reg_lm_inc = (ptr: number): NfpReg => ({ type: 'lm', ptr: checkRange('LM pointer', ptr, NFP_LM_POINTERS - 1), off: 0, mod: 'inc' });
export const reg_lm_dec = (ptr: number): NfpReg => ({ type: 'lm', ptr: checkRange('LM pointer', ptr, NFP_LM_POINTERS - 1), off: 0, mod: 'dec' });
export const reg_none = (): NfpReg => NONE;
const NONE: NfpReg = { type: 'none' };

// ---------------------------------------------------------------------------------------------------
// Sub-tables: ALU operators, shifter operators and modes, branch conditions, multiplier steps, local
// CSRs, memory commands. Each entry carries the hardware code and the disassembler's spelling.

/** nfp_asm.h enum alu_op; `text` is nfp-dis.c's nfp_me27_28_alu_op[]. */
export const NFP_ALU_OPS = {
  none: { code: 0x00, text: 'B', bOnly: true },
  add: { code: 0x01, text: '+', bOnly: false },
  not: { code: 0x04, text: '~B', bOnly: true },
  /** model: "+16" adds the low 16 bits; the result is 16 bits, C is the carry out of bit 15 (adjust_head's use). */
  add_2b: { code: 0x05, text: '+16', bOnly: false },
  and: { code: 0x08, text: 'AND', bOnly: false },
  and_not_a: { code: 0x0c, text: '~AND', bOnly: false },
  sub_c: { code: 0x0d, text: '-carry', bOnly: false },
  and_not_b: { code: 0x10, text: 'AND~', bOnly: false },
  add_c: { code: 0x11, text: '+carry', bOnly: false },
  or: { code: 0x14, text: 'OR', bOnly: false },
  sub: { code: 0x15, text: '-', bOnly: false },
  xor: { code: 0x18, text: 'XOR', bOnly: false },
} as const;
export type NfpAluOp = keyof typeof NFP_ALU_OPS;

/** nfp_asm.h enum shf_op; `text` is nfp_mealu_shf_op[] (byte_align is not modeled). */
export const NFP_SHF_OPS = {
  none: { code: 0, text: 'B', bOnly: true },
  not: { code: 1, text: '~B', bOnly: true },
  and: { code: 2, text: 'AND', bOnly: false },
  and_not_a: { code: 3, text: '~AND', bOnly: false },
  and_not_b: { code: 4, text: 'AND~', bOnly: false },
  or: { code: 5, text: 'OR', bOnly: false },
  /** Arithmetic shift right of B; the sign shifted in is bit 31 of the previous ALU result (jit.c "Set signedness bit"). */
  ashr: { code: 6, text: 'asr', bOnly: true },
} as const;
export type NfpShfOp = keyof typeof NFP_SHF_OPS;

/** nfp_asm.h enum shf_sc. */
export const NFP_SHF_SC = { r_rot: 0, r_shf: 1, l_shf: 2, r_dshf: 3 } as const;
export type NfpShfSc = keyof typeof NFP_SHF_SC;

/** nfp-dis.c nfp_me27_28_br_ops[] (condition codes of the last ALU operation); nfp_asm.h enum br_mask. */
export const NFP_BR_CONDS = {
  beq: 0x00, bne: 0x01, bmi: 0x02, bpl: 0x03, bcs: 0x04, bcc: 0x05, bvs: 0x06, bvc: 0x07,
  bge: 0x08, blt: 0x09, ble: 0x0a, bgt: 0x0b, br: 0x18,
} as const;
export type NfpBrCond = keyof typeof NFP_BR_CONDS;
/** The kernel's names for the unsigned compares (BR_BHS, BR_BLO). */
export const NFP_BR_ALIASES: Readonly<Record<string, NfpBrCond>> = { bhs: 'bcs', blo: 'bcc' };

/** mul_step[a, b], <type>_<step>: nfp_asm.h enum mul_type/mul_step, spelled as nfp-dis.c prints them. */
export const NFP_MUL_STEPS = {
  start: { type: 0, step: 0, last: false },
  '16x16_step1': { type: 2, step: 0, last: false },
  '16x16_step2': { type: 2, step: 1, last: false },
  '16x16_last': { type: 2, step: 4, last: true },
  '32x32_step1': { type: 3, step: 0, last: false },
  '32x32_step2': { type: 3, step: 1, last: false },
  '32x32_step3': { type: 3, step: 2, last: false },
  '32x32_step4': { type: 3, step: 3, last: false },
  '32x32_last': { type: 3, step: 4, last: true },
  '32x32_last2': { type: 3, step: 5, last: true },
} as const;
export type NfpMulStep = keyof typeof NFP_MUL_STEPS;

/** Local CSRs the model implements (byte addresses from nfp_asm.h NFP_CSR_*, names from nfp_me27_28_mecsrs[]). */
export const NFP_CSRS = {
  ActLMAddr0: { addr: 0x64, lmPtr: 0 },
  ActLMAddr1: { addr: 0x6c, lmPtr: 1 },
  ActLMAddr2: { addr: 0x94, lmPtr: 2 },
  ActLMAddr3: { addr: 0x9c, lmPtr: 3 },
  PseudoRndNum: { addr: 0x148, lmPtr: -1 },
} as const;
export type NfpCsr = keyof typeof NFP_CSRS;
export const NFP_CSR_ACT_LM_ADDR0 = 0x64;
export const NFP_CSR_ACT_LM_ADDR1 = 0x6c;
export const NFP_CSR_ACT_LM_ADDR2 = 0x94;
export const NFP_CSR_ACT_LM_ADDR3 = 0x9c;
export const NFP_CSR_PSEUDO_RND_NUM = 0x148;
/** model: an LM pointer written by local_csr_wr may not be used by the next 3 instructions (the JIT's 3 NOPs). */
export const NFP_LM_CSR_WRITE_LATENCY = 3;

/**
 * Memory-unit commands (CPP target MU: CTM, IMEM and EMEM all answer these). (action, token) is what the
 * word carries (nfp_asm.c cmd_tgt_act: tgt_cmd = 0x40 | action); `lenMask/lenFixed` pick add vs add64
 * from the length field as nfp-dis.c's nfp_me28_mnemonics[] does. `unit` is what `count` counts.
 */
export const NFP_CMDS = {
  read8: { action: 3, token: 1, lenMask: 0, lenFixed: 0, dir: 'read', unit: 'byte', swap: false },
  read32: { action: 28, token: 0, lenMask: 0, lenFixed: 0, dir: 'read', unit: 'word', swap: false },
  read32_swap: { action: 28, token: 2, lenMask: 0, lenFixed: 0, dir: 'read', unit: 'word', swap: true },
  write8: { action: 2, token: 0, lenMask: 0, lenFixed: 0, dir: 'write', unit: 'byte', swap: false },
  write8_swap: { action: 2, token: 2, lenMask: 0, lenFixed: 0, dir: 'write', unit: 'byte', swap: true },
  write32: { action: 31, token: 0, lenMask: 0, lenFixed: 0, dir: 'write', unit: 'word', swap: false },
  write32_swap: { action: 31, token: 2, lenMask: 0, lenFixed: 0, dir: 'write', unit: 'word', swap: true },
  add: { action: 7, token: 0, lenMask: 4, lenFixed: 0, dir: 'atomic', unit: 'word', swap: false },
  add64: { action: 7, token: 0, lenMask: 4, lenFixed: 4, dir: 'atomic', unit: 'word', swap: false },
  add_imm: { action: 7, token: 2, lenMask: 4, lenFixed: 0, dir: 'atomic', unit: 'word', swap: false },
  add64_imm: { action: 7, token: 2, lenMask: 4, lenFixed: 4, dir: 'atomic', unit: 'word', swap: false },
} as const;
export type NfpCmdName = keyof typeof NFP_CMDS;

/** nfp_asm.h enum cmd_mode: how the address is made of the A and B operands. */
export const NFP_CMD_MODES = { '40b_ab': 0, '40b_ba': 1, '32b': 4 } as const;
export type NfpCmdMode = keyof typeof NFP_CMD_MODES;

/** nfp_asm.h: the PREV_ALU override word of an indirect_ref command. */
export const CMD_OVE_DATA_SHIFT = 3; // GENMASK(5, 3): 2 = the command's 16-bit immediate is PREV_ALU[31:16]
export const CMD_OVE_LEN = 1 << 7;
export const CMD_OV_LEN_SHIFT = 8; // GENMASK(12, 8): length override (count - 1); for add_imm bit 2 means 64-bit

// ---------------------------------------------------------------------------------------------------
// Costs. model: every instruction issues in one cycle; a taken branch aborts the instructions behind
// it in the pipeline except those it defers (NFP_BRANCH_PENALTY - defer); a command that swaps the
// context out waits its memory's latency, which the other contexts of the core may hide.

export const NFP_BRANCH_PENALTY = 3;

/**
 * Code-store banks (the seed paper: "each code store is 8k insns", and "it will be possible to link
 * multiple code stores"). PAPER-ONLY model: a firmware may give the BPF area a second bank — the code
 * store of the neighbouring ME, shared the way NFP MEs pair their control stores — reached with the same
 * 14-bit code addresses (bank = address >> NFP_USTORE_BANK_SHIFT). model: a taken branch whose target
 * is in the other bank than the branch (into a linked program there, to the firmware and back) waits
 * NFP_XBANK_BRANCH_PENALTY more cycles for the fetch across the pair; nothing public gives the figure.
 */
export const NFP_USTORE_BANK_SHIFT = 13;
export const NFP_XBANK_BRANCH_PENALTY = 4;

/** model: cycles from issuing a memory command to its completion signal, by the memory answering it. */
export const NFP_MEM_LATENCY = {
  ctm: 50,
  imem: 150,
  emem: 250,
} as const;
export type NfpMemTarget = keyof typeof NFP_MEM_LATENCY;

/** model: the 40-bit address map (bits 39:38 of the address pick the memory; 32-bit mode reaches the local CTM). */
export const NFP_ADDR40_CTM = 0x00;
export const NFP_ADDR40_IMEM = 0x40;
export const NFP_ADDR40_EMEM = 0x80;

// ---------------------------------------------------------------------------------------------------
// Instruction formats: where each field sits in the 64-bit word (nfp_asm.h OP_* masks; the class masks
// are binutils include/opcode/nfp.h NFP_ME28_INSTR_*). Checked in nfp-dis.c's order, first match wins.

export type NfpFieldSpec = readonly [lo: number, width: number];

export interface NfpFormat {
  readonly base: bigint;
  readonly mask: bigint;
  readonly fields: Readonly<Record<string, NfpFieldSpec>>;
}

export const NFP_FORMATS = {
  cmd: {
    base: 0x000000000000n, mask: 0x008000000000n,
    fields: { a_src: [0, 8], ctx: [8, 2], b_src: [10, 8], token: [18, 2], xfer: [20, 5], cnt: [25, 3], sig: [28, 4], tgt_cmd: [32, 7], xfer_hi: [40, 1], indir: [41, 1], mode: [42, 3] },
  },
  alu_shf: {
    base: 0x008000000000n, mask: 0x00e000000000n,
    fields: { a_src: [0, 8], sc: [8, 2], b_src: [10, 8], i8: [18, 1], sw: [19, 1], dst: [20, 8], shift: [28, 5], op: [33, 3], dst_ab: [36, 1], nocc: [40, 1], wr_ab: [41, 1], src_lmextn: [42, 1], dst_lmextn: [43, 1], pred_cc: [44, 1] },
  },
  alu: {
    base: 0x00a000000000n, mask: 0x00e000000000n,
    fields: { a_src: [0, 10], b_src: [10, 10], dst: [20, 10], sw: [30, 1], op: [31, 5], dst_ab: [36, 1], nocc: [40, 1], wr_ab: [41, 1], src_lmextn: [42, 1], dst_lmextn: [43, 1], pred_cc: [44, 1] },
  },
  immed: {
    base: 0x00f000000000n, mask: 0x01f900000000n,
    fields: { a_src: [0, 10], b_src: [10, 10], imm: [20, 8], width: [29, 2], inv: [31, 1], shift: [33, 2], wr_ab: [41, 1], src_lmextn: [42, 1], dst_lmextn: [43, 1], pred_cc: [44, 1] },
  },
  ld_field: {
    base: 0x00c000000000n, mask: 0x01fa00e00000n,
    fields: { a_src: [0, 8], sc: [8, 2], b_src: [10, 8], i8: [18, 1], sw: [19, 1], zf: [20, 1], bmask: [24, 4], shift: [28, 5], load_cc: [34, 1], wr_ab: [41, 1], src_lmextn: [42, 1], dst_lmextn: [43, 1], pred_cc: [44, 1] },
  },
  ctx_arb: {
    base: 0x00e000000000n, mask: 0x00f800000000n,
    fields: { ev_mask: [0, 16], sig_or: [16, 1], bpt: [17, 1], resume: [18, 1], no_load: [19, 1], defer: [20, 2], addr: [22, 13], addr_hi: [40, 1] },
  },
  local_csr: {
    base: 0x00fc00000000n, mask: 0x01fe00100000n,
    fields: { a_src: [0, 10], b_src: [10, 10], wr: [21, 1], csr: [22, 11], src_lmextn: [42, 1] },
  },
  br: {
    base: 0x00d800000020n, mask: 0x00f8000c3ce0n,
    fields: { mask: [0, 5], ev_pip: [8, 2], css: [14, 4], defer: [20, 2], addr: [22, 13], addr_hi: [40, 1] },
  },
  br_byte: {
    base: 0x00c800000000n, mask: 0x00f800000000n,
    fields: { a_src: [0, 8], byte: [8, 2], b_src: [10, 8], i8: [18, 1], eq: [19, 1], defer: [20, 2], addr: [22, 13], addr_hi: [40, 1], src_lmextn: [42, 1] },
  },
  br_bit: {
    base: 0x00d000000000n, mask: 0x00f800080300n,
    fields: { a_src: [0, 8], b_src: [10, 8], bv: [18, 1], defer: [20, 2], addr: [22, 13], addr_hi: [40, 1], src_lmextn: [42, 1] },
  },
  br_alu: {
    base: 0x00e800000000n, mask: 0x00ff80000000n,
    fields: { a_src: [0, 10], b_src: [10, 10], defer: [20, 2], imm_hi: [22, 9], src_lmextn: [42, 1], dst_lmextn: [43, 1] },
  },
  mul: {
    base: 0x00f800000000n, mask: 0x00fe3f000000n,
    fields: { a_src: [0, 10], b_src: [10, 10], step: [20, 3], dst_ab: [23, 1], sw: [30, 1], type: [31, 2], nocc: [40, 1], wr_ab: [41, 1], src_lmextn: [42, 1], dst_lmextn: [43, 1], pred_cc: [44, 1] },
  },
} as const satisfies Record<string, NfpFormat>;
export type NfpFormatName = keyof typeof NFP_FORMATS;

/** The order in which nfp-dis.c classifies a word. */
export const NFP_FORMAT_ORDER: readonly NfpFormatName[] = ['cmd', 'alu_shf', 'alu', 'immed', 'ld_field', 'ctx_arb', 'local_csr', 'br', 'br_byte', 'br_bit', 'br_alu', 'mul'];

// ---------------------------------------------------------------------------------------------------
// Instructions, logical form

export interface NfpAlu {
  readonly op: 'alu';
  readonly dst: NfpReg;
  /** The left operand (lreg); reg_none() for the B-only operators. */
  readonly a: NfpReg;
  readonly alu: NfpAluOp;
  readonly b: NfpReg;
}

export interface NfpShf {
  readonly op: 'alu_shf';
  readonly dst: NfpReg;
  /** The left operand; reg_none() for B, ~B and asr. For dbl_shf (r_dshf) it is the high word. */
  readonly a: NfpReg;
  readonly shf: NfpShfOp;
  readonly b: NfpReg;
  readonly sc: NfpShfSc;
  /** The real shift amount (1..31; 0..31 for rotates), or 'indirect': PREV_ALU's A operand, bits 4:0. */
  readonly shift: number | 'indirect';
}

export interface NfpImmed {
  readonly op: 'immed';
  readonly dst: NfpReg;
  /** 16 bits; `shift` bytes left; `invert` complements the whole result (width all) or the field. */
  readonly imm: number;
  readonly width: 'all' | 'byte' | 'word';
  readonly invert: boolean;
  readonly shift: 0 | 1 | 2;
}

export interface NfpLdField {
  readonly op: 'ld_field';
  /** Both the register merged into and the destination. */
  readonly dst: NfpReg;
  /** Bytes of dst replaced (bit 0 = byte 0, the least significant). */
  readonly bmask: number;
  readonly src: NfpReg;
  readonly sc: 'r_rot' | 'r_shf' | 'l_shf';
  readonly shift: number | 'indirect';
  /** ld_field_w_clr: bytes outside the mask become 0. */
  readonly zero: boolean;
}

export interface NfpMul {
  readonly op: 'mul_step';
  readonly step: NfpMulStep;
  /** Multiplicand and multiplier (start and steps); reg_none() for last/last2. */
  readonly a: NfpReg;
  readonly b: NfpReg;
  /** last/last2: where the product's low/high word goes; reg_none() otherwise. */
  readonly dst: NfpReg;
}

export interface NfpBr {
  readonly op: 'br';
  readonly cond: NfpBrCond;
  readonly target: number;
  /** Instructions after the branch that execute before it takes effect (0..3). */
  readonly defer: number;
}

export interface NfpBrBit {
  readonly op: 'br_bit';
  /** br_bset (branch if the bit is 1) or br_bclr. */
  readonly set: boolean;
  readonly src: NfpReg;
  readonly bit: number;
  readonly target: number;
  readonly defer: number;
}

export interface NfpBrByte {
  readonly op: 'br_byte';
  /** br=byte or br!=byte. */
  readonly eq: boolean;
  readonly src: NfpReg;
  readonly byte: number;
  readonly value: number;
  readonly target: number;
  readonly defer: number;
}

export interface NfpRtn {
  readonly op: 'rtn';
  /** The register holding the code address to jump to. */
  readonly src: NfpReg;
  readonly defer: number;
}

export interface NfpCsrRd {
  readonly op: 'local_csr_rd';
  /** The value arrives in the immed that must follow (jit.c: "CSR value is read in following immed[gpr, 0]"). */
  readonly csr: NfpCsr;
}

export interface NfpCsrWr {
  readonly op: 'local_csr_wr';
  readonly csr: NfpCsr;
  readonly src: NfpReg;
}

export interface NfpCtxArb {
  readonly op: 'ctx_arb';
  /** Bit 0: voluntary swap; bits 1..15: wait for these signals. */
  readonly evMask: number;
}

export interface NfpCmd {
  readonly op: 'cmd';
  readonly cmd: NfpCmdName;
  /** First transfer register the data moves through. */
  readonly xfer: number;
  /** The A and B operands as the word holds them (commands cannot swap). */
  readonly a: NfpReg;
  readonly b: NfpReg;
  readonly mode: NfpCmdMode;
  /** Bytes (read8/write8) or words; add vs add64 is in the count, as on the wire (1..8). */
  readonly count: number;
  /** ctx_swap: the context sleeps until the command completes, after `defer` more instructions. */
  readonly swap: boolean;
  readonly defer: number;
  /** Signal raised on completion (0 = none); with !swap, `ctx_arb[sigN]` waits for it. */
  readonly sig: number;
  /** indirect_ref: PREV_ALU overrides length and/or data (CMD_OVE_*). */
  readonly indirect: boolean;
}

export type NfpInsn = NfpAlu | NfpShf | NfpImmed | NfpLdField | NfpMul | NfpBr | NfpBrBit | NfpBrByte | NfpRtn | NfpCsrRd | NfpCsrWr | NfpCtxArb | NfpCmd;
export type NfpOp = NfpInsn['op'];

export type NfpClass = 'alu' | 'branch' | 'csr' | 'ctx' | 'mem';

export interface NfpOpInfo {
  readonly op: NfpOp;
  readonly format: NfpFormatName;
  /** The mnemonics the disassembler prints for it. */
  readonly mnemonics: readonly string[];
  readonly class: NfpClass;
  /** Issue cycles; branches add NFP_BRANCH_PENALTY - defer when taken, swapping commands their latency. */
  readonly cycles: number;
  /** May execute in a defer slot (no control flow, no context swap). */
  readonly deferSlot: boolean;
  /**
   * The operand fields: unrestricted (10 bits: immediates to 0xff, LM offsets to 15, post-increment)
   * or restricted (8 bits: immediates to 0x7f, or 0xff through the shared i8 bit, LM offsets to 7).
   */
  readonly operands: 'unrestricted' | 'restricted' | 'none';
  readonly summary: string;
}

/** THE table: one entry per modeled instruction; everything that handles instructions is typed Record<NfpOp, ...>. */
export const NFP_OPS: Readonly<Record<NfpOp, NfpOpInfo>> = {
  alu: { op: 'alu', format: 'alu', mnemonics: ['alu'], class: 'alu', cycles: 1, deferSlot: true, operands: 'unrestricted', summary: '32-bit ALU operation on two operands, sets the condition codes' },
  alu_shf: { op: 'alu_shf', format: 'alu_shf', mnemonics: ['alu_shf', 'dbl_shf', 'asr'], class: 'alu', cycles: 1, deferSlot: true, operands: 'restricted', summary: 'logical operation with a shifted or rotated B operand; 64-bit double shift; arithmetic shift' },
  immed: { op: 'immed', format: 'immed', mnemonics: ['immed', 'immed_b0', 'immed_b1', 'immed_b2', 'immed_w0', 'immed_w1', 'nop'], class: 'alu', cycles: 1, deferSlot: true, operands: 'unrestricted', summary: 'load a 16-bit immediate, shifted, inverted, or into one byte/word (nop: immed to no destination)' },
  ld_field: { op: 'ld_field', format: 'ld_field', mnemonics: ['ld_field', 'ld_field_w_clr'], class: 'alu', cycles: 1, deferSlot: true, operands: 'restricted', summary: 'merge bytes of a shifted operand into a register under a byte mask' },
  mul_step: { op: 'mul_step', format: 'mul', mnemonics: ['mul_step'], class: 'alu', cycles: 1, deferSlot: true, operands: 'unrestricted', summary: 'one step of a 16x16 or 32x32 multiply' },
  br: { op: 'br', format: 'br', mnemonics: Object.keys(NFP_BR_CONDS), class: 'branch', cycles: 1, deferSlot: false, operands: 'none', summary: 'branch on the condition codes, with defer slots' },
  br_bit: { op: 'br_bit', format: 'br_bit', mnemonics: ['br_bset', 'br_bclr'], class: 'branch', cycles: 1, deferSlot: false, operands: 'restricted', summary: 'branch on one bit of a register' },
  br_byte: { op: 'br_byte', format: 'br_byte', mnemonics: ['br=byte', 'br!=byte'], class: 'branch', cycles: 1, deferSlot: false, operands: 'restricted', summary: 'branch on one byte of a register equal to an immediate' },
  rtn: { op: 'rtn', format: 'br_alu', mnemonics: ['rtn'], class: 'branch', cycles: 1, deferSlot: false, operands: 'unrestricted', summary: 'jump to the code address held in a register (return)' },
  local_csr_rd: { op: 'local_csr_rd', format: 'local_csr', mnemonics: ['local_csr_rd'], class: 'csr', cycles: 1, deferSlot: false, operands: 'none', summary: 'read a local CSR into the immed that follows' },
  local_csr_wr: { op: 'local_csr_wr', format: 'local_csr', mnemonics: ['local_csr_wr'], class: 'csr', cycles: 1, deferSlot: true, operands: 'unrestricted', summary: 'write a local CSR (LM address pointers, pseudo-random seed)' },
  ctx_arb: { op: 'ctx_arb', format: 'ctx_arb', mnemonics: ['ctx_arb'], class: 'ctx', cycles: 1, deferSlot: false, operands: 'none', summary: 'swap the context out: voluntarily or until signals arrive' },
  cmd: { op: 'cmd', format: 'cmd', mnemonics: ['mem'], class: 'mem', cycles: 1, deferSlot: false, operands: 'restricted', summary: 'memory command to CTM/IMEM/EMEM through transfer registers, with its latency' },
};

export const NFP_OP_NAMES = Object.keys(NFP_OPS) as readonly NfpOp[];

/**
 * Whether `value` can be an immediate operand of `op` (ur_load_imm_any / re_load_imm_any decide this
 * in jit.c; a larger value goes through `immed` into a scratch register). Restricted operands reach
 * 0xff only through the i8 bit, which commands and br_bit do not have.
 */
export function nfpImmFits(op: NfpOp, value: number): boolean {
  const o = NFP_OPS[op].operands;
  if (!Number.isInteger(value) || value < 0 || o === 'none') return false;
  if (o === 'unrestricted') return value <= UR_REG_IMM_MAX;
  return value <= (op === 'cmd' || op === 'br_bit' ? RE_REG_IMM_MAX : UR_REG_IMM_MAX);
}

// ---------------------------------------------------------------------------------------------------
// Builders: the JIT's emit_* in logical form. They check ranges; the encoder checks operand placement.

const int = (what: string, v: number, min: number, max: number): number => {
  if (!Number.isInteger(v) || v < min || v > max) throw bad(`${what} ${v} out of range ${min}..${max}`);
  return v;
};

export function nfpAlu(dst: NfpReg, a: NfpReg, alu: NfpAluOp, b: NfpReg): NfpAlu {
  return { op: 'alu', dst, a: NFP_ALU_OPS[alu].bOnly ? NONE : a, alu, b };
}

/** wrp_mov: alu[dst, --, B, src]. */
export const nfpMov = (dst: NfpReg, src: NfpReg): NfpAlu => nfpAlu(dst, NONE, 'none', src);

export function nfpShf(dst: NfpReg, a: NfpReg, shf: NfpShfOp, b: NfpReg, sc: NfpShfSc, shift: number | 'indirect'): NfpShf {
  if (shift === 'indirect') {
    if (sc === 'r_rot') throw bad('indirect shift is not allowed on rotation');
  } else {
    int('shift', shift, sc === 'r_rot' ? 0 : 1, 31);
  }
  if (sc === 'r_dshf' && shf !== 'none') throw bad('dbl_shf takes no operator');
  if (shf === 'ashr' && sc !== 'r_shf') throw bad('asr shifts right only');
  return { op: 'alu_shf', dst, a: NFP_SHF_OPS[shf].bOnly && sc !== 'r_dshf' ? NONE : a, shf, b, sc, shift };
}

export function nfpImmed(dst: NfpReg, imm: number, width: NfpImmed['width'] = 'all', invert = false, shift: 0 | 1 | 2 = 0): NfpImmed {
  int('immediate', imm, 0, width === 'byte' ? 0xff : 0xffff);
  if (width === 'word' && shift === 1) throw bad('immed_w takes a shift of 0 or 2 bytes');
  return { op: 'immed', dst, imm, width, invert, shift };
}

/** emit_nop: immed to no destination. */
export const nfpNop = (): NfpImmed => nfpImmed(NONE, 0);

/** jit.c pack_immed: a 16-bit value shifted 0, 1 or 2 bytes, or null. */
export function packImmed(imm: number): { readonly val: number; readonly shift: 0 | 1 | 2 } | null {
  const v = imm >>> 0;
  if ((v & 0xffff0000) === 0) return { val: v, shift: 0 };
  if ((v & 0xff0000ff) === 0) return { val: v >>> 8, shift: 1 };
  if ((v & 0x0000ffff) === 0) return { val: v >>> 16, shift: 2 };
  return null;
}

/** jit.c wrp_immed: any 32-bit constant into dst in one instruction, or two (low half, then immed_w1). */
export function wrpImmed(dst: NfpReg, imm: number): NfpImmed[] {
  const v = imm >>> 0;
  const p = packImmed(v);
  if (p !== null) return [nfpImmed(dst, p.val, 'all', false, p.shift)];
  const n = packImmed(~v >>> 0);
  if (n !== null) return [nfpImmed(dst, n.val, 'all', true, n.shift)];
  return [nfpImmed(dst, v & 0xffff), nfpImmed(dst, v >>> 16, 'word', false, 2)];
}

export function nfpLdField(dst: NfpReg, bmask: number, src: NfpReg, sc: NfpLdField['sc'] = 'r_rot', shift: number | 'indirect' = 0, zero = false): NfpLdField {
  int('byte mask', bmask, 1, 15);
  if (shift === 'indirect') {
    if (sc === 'r_rot') throw bad('indirect shift is not allowed on rotation');
  } else {
    int('shift', shift, sc === 'r_rot' ? 0 : 1, 31);
  }
  return { op: 'ld_field', dst, bmask, src, sc, shift, zero };
}

export function nfpMul(step: NfpMulStep, a: NfpReg, b: NfpReg): NfpMul {
  if (NFP_MUL_STEPS[step].last) throw bad(`mul_step ${step} takes a destination`);
  return { op: 'mul_step', step, a, b, dst: NONE };
}

export function nfpMulLast(step: '16x16_last' | '32x32_last' | '32x32_last2', dst: NfpReg): NfpMul {
  return { op: 'mul_step', step, a: NONE, b: NONE, dst };
}

const target = (t: number): number => int('branch target', t, 0, NFP_MAX_CODE_ADDR - 1);

export function nfpBr(cond: NfpBrCond, to: number, defer = 0): NfpBr {
  return { op: 'br', cond, target: target(to), defer: int('defer', defer, 0, 3) };
}

export function nfpBrBit(set: boolean, src: NfpReg, bit: number, to: number, defer = 0): NfpBrBit {
  return { op: 'br_bit', set, src, bit: int('bit', bit, 0, 31), target: target(to), defer: int('defer', defer, 0, 3) };
}

export function nfpBrByte(eq: boolean, src: NfpReg, byte: number, value: number, to: number, defer = 0): NfpBrByte {
  return { op: 'br_byte', eq, src, byte: int('byte', byte, 0, 3), value: int('byte value', value, 0, 0xff), target: target(to), defer: int('defer', defer, 0, 3) };
}

export function nfpRtn(src: NfpReg, defer = 0): NfpRtn {
  return { op: 'rtn', src, defer: int('defer', defer, 0, 3) };
}

export const nfpCsrRd = (csr: NfpCsr): NfpCsrRd => ({ op: 'local_csr_rd', csr });
export const nfpCsrWr = (csr: NfpCsr, src: NfpReg): NfpCsrWr => ({ op: 'local_csr_wr', csr, src });

export function nfpCtxArb(signals: readonly number[] | 'voluntary'): NfpCtxArb {
  if (signals === 'voluntary') return { op: 'ctx_arb', evMask: 1 };
  let m = 0;
  for (const s of signals) m |= 1 << int('signal', s, 1, NFP_SIGNALS - 1);
  if (m === 0) throw bad('ctx_arb waits for no signal');
  return { op: 'ctx_arb', evMask: m };
}

export interface NfpCmdOpts {
  readonly swap?: boolean;
  readonly defer?: number;
  readonly sig?: number;
  readonly indirect?: boolean;
}

/**
 * emit_cmd: `count` is what the disassembler prints (bytes for read8/write8, words otherwise; 5 for
 * add64/add64_imm). A swapping command signals sig1 unless told otherwise, as the JIT's do.
 */
export function nfpCmd(cmd: NfpCmdName, mode: NfpCmdMode, xfer: number, a: NfpReg, b: NfpReg, count: number, opts: NfpCmdOpts = {}): NfpCmd {
  const swap = opts.swap ?? true;
  const info = NFP_CMDS[cmd];
  int('command length', count, 1, 8);
  if (((count - 1) & info.lenMask) !== info.lenFixed) throw bad(`${cmd} cannot carry a length of ${count}`);
  return {
    op: 'cmd', cmd, xfer: int('transfer register', xfer, 0, NFP_XFER_REGS - 1), a, b, mode, count, swap,
    defer: swap ? int('defer', opts.defer ?? 0, 0, 2) : 0,
    sig: int('signal', opts.sig ?? (swap ? 1 : 0), 0, NFP_SIGNALS - 1),
    indirect: opts.indirect ?? false,
  };
}

/** Branch-like instructions: where control may go besides falling through. */
export function nfpIsBranch(x: NfpInsn): x is NfpBr | NfpBrBit | NfpBrByte | NfpRtn {
  return x.op === 'br' || x.op === 'br_bit' || x.op === 'br_byte' || x.op === 'rtn';
}

/** The defer slots an instruction opens (branches and swapping commands). */
export function nfpDeferOf(x: NfpInsn): number {
  switch (x.op) {
    case 'br': case 'br_bit': case 'br_byte': case 'rtn': return x.defer;
    case 'cmd': return x.swap ? x.defer : 0;
    default: return 0;
  }
}

/** The LM pointers an instruction reads or writes through. */
export function nfpLmPointersUsed(x: NfpInsn): number {
  let m = 0;
  const use = (r: NfpReg): void => { if (r.type === 'lm') m |= 1 << r.ptr; };
  switch (x.op) {
    case 'alu': case 'alu_shf': use(x.dst); use(x.a); use(x.b); break;
    case 'immed': use(x.dst); break;
    case 'ld_field': use(x.dst); use(x.src); break;
    case 'mul_step': use(x.a); use(x.b); use(x.dst); break;
    case 'br_bit': case 'br_byte': case 'rtn': case 'local_csr_wr': use(x.src); break;
    case 'cmd': use(x.a); use(x.b); break;
    default: break;
  }
  return m;
}
