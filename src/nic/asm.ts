// NFP microcode words: the encoder and decoder of the modeled instruction set (src/nic/isa.ts), the
// disassembler in the text binutils' opcodes/nfp-dis.c prints for "NFP-6xxx" with `ctx4` (what
// `bpftool prog dump jited` shows for an offloaded program), and an assembler that reads the same text
// back, for tests and hand-written firmware fragments.
//
// Operand placement follows nfp_asm.c (swreg_to_unrestricted / swreg_to_restricted): a B-bank left
// operand or an A-bank right operand sets the swap bit; restricted operands hold immediates <= 0x7f
// (0xff with the shared i8 bit), unrestricted ones <= 0xff; LM pointers 2 and 3 need the LM extension
// bit. Decoding accepts exactly the words encoding produces: a word is decoded, re-encoded and must come
// back bit for bit (ECC bits 45..51 aside), so every decodable word has one disassembly and one
// assembly. Where the text departs from binutils it says so at the function.

import { BpfError } from '../bpf/errno.js';
import {
  NFP_ALU_OPS, NFP_BR_ALIASES, NFP_BR_CONDS, NFP_CMD_MODES, NFP_CMDS, NFP_CSRS, NFP_FORMAT_ORDER, NFP_FORMATS, NFP_MAX_CODE_ADDR,
  NFP_MUL_STEPS, NFP_SHF_OPS, NFP_SHF_SC, NFP_USTORE_OP_BITS, NFP_USTORE_PREFETCH_WINDOW, nfpAlu, nfpBr, nfpBrBit, nfpBrByte, nfpCmd,
  nfpCsrRd, nfpCsrWr, nfpCtxArb, nfpImmed, nfpLdField, nfpMul, nfpMulLast, nfpNop, nfpRtn, nfpShf, reg_none,
  type NfpAluOp, type NfpBrCond, type NfpCmdMode, type NfpCmdName, type NfpCsr, type NfpFormatName, type NfpInsn, type NfpMulStep,
  type NfpOp, type NfpReg, type NfpShfOp, type NfpShfSc,
} from './isa.js';

const fault = (why: string): BpfError => new BpfError('EFAULT', `nfp asm: ${why}`);
const invalid = (why: string): BpfError => new BpfError('EINVAL', `nfp: ${why}`);

// ---------------------------------------------------------------------------------------------------
// Fields <-> words

type Fields = Record<string, number>;

const OP_MASK = (1n << BigInt(NFP_USTORE_OP_BITS)) - 1n;
const ECC_MASK = 0x7fn << BigInt(NFP_USTORE_OP_BITS);

function pack(fmt: NfpFormatName, f: Fields): bigint {
  const spec = NFP_FORMATS[fmt];
  let w = spec.base;
  for (const [name, [lo, width]] of Object.entries(spec.fields)) {
    const v = f[name] ?? 0;
    if (!Number.isInteger(v) || v < 0 || v >= 2 ** width) throw fault(`${fmt}: field ${name} = ${v} does not fit ${width} bits`);
    w |= BigInt(v) << BigInt(lo);
  }
  return w;
}

function unpack(fmt: NfpFormatName, w: bigint): Fields {
  const out: Fields = {};
  for (const [name, [lo, width]] of Object.entries(NFP_FORMATS[fmt].fields)) {
    out[name] = Number((w >> BigInt(lo)) & ((1n << BigInt(width)) - 1n));
  }
  return out;
}

function classify(w: bigint): NfpFormatName | undefined {
  for (const f of NFP_FORMAT_ORDER) if ((w & NFP_FORMATS[f].mask) === NFP_FORMATS[f].base) return f;
  return undefined;
}

// ---------------------------------------------------------------------------------------------------
// Operands (nfp_asm.c nfp_swreg_to_unreg / nfp_swreg_to_rereg and nfp-dis.c nfp_me_print_opnd10/8)

const UR_REG_XFR = 0x180;
const UR_REG_LM = 0x200;
const UR_REG_LM_IDX = 0x020;
const UR_REG_LM_POST_MOD = 0x010;
const UR_REG_IMM = 0x300;
const UR_REG_NO_DST = 0x300;
const RE_REG_XFR = 0x080;
const RE_REG_LM = 0x050;
const RE_REG_LM_IDX = 0x008;
const RE_REG_IMM = 0x020;
const RE_REG_NO_DST = 0x020;
const REG_NONE = 0;

const lmextn = (r: NfpReg): number => (r.type === 'lm' ? r.ptr >> 1 : 0);

function urEnc(r: NfpReg, isDst: boolean): number {
  switch (r.type) {
    case 'gpr': return r.n;
    case 'xfer': return UR_REG_XFR | r.n;
    case 'lm':
      if (r.mod === 'none') return UR_REG_LM | ((r.ptr & 1) ? UR_REG_LM_IDX : 0) | r.off;
      return UR_REG_LM | UR_REG_LM_POST_MOD | ((r.ptr & 1) ? UR_REG_LM_IDX : 0) | (r.mod === 'dec' ? 1 : 0);
    case 'imm':
      if (isDst) throw fault('an immediate is not a destination');
      return UR_REG_IMM | r.value;
    case 'none': return isDst ? UR_REG_NO_DST : REG_NONE;
  }
}

function reEnc(r: NfpReg, isDst: boolean, hasImm8: boolean): { enc: number; i8: number } {
  switch (r.type) {
    case 'gpr': return { enc: r.n, i8: 0 };
    case 'xfer': return { enc: RE_REG_XFR | r.n, i8: 0 };
    case 'lm':
      if (r.mod !== 'none') throw fault('restricted operands have no LM post-increment');
      if (r.off > 7) throw fault(`LM offset ${r.off} beyond a restricted operand's reach (7)`);
      return { enc: RE_REG_LM | ((r.ptr & 1) ? RE_REG_LM_IDX : 0) | r.off, i8: 0 };
    case 'imm':
      if (isDst) throw fault('an immediate is not a destination');
      if (r.value > (hasImm8 ? 0xff : 0x7f)) throw fault(`immediate 0x${r.value.toString(16)} too large for a restricted operand`);
      return { enc: RE_REG_IMM | (r.value & 0x1f) | ((r.value & 0x60) << 1), i8: r.value >> 7 };
    case 'none': return { enc: isDst ? RE_REG_NO_DST : REG_NONE, i8: 0 };
  }
}

const swregType = (r: NfpReg): string => (r.type === 'gpr' ? `gpr_${r.bank}` : r.type);

/** swreg_to_*: which operand goes to the A field; kernel rule (B-bank left or A-bank right swaps). */
function place(l: NfpReg, r: NfpReg, what: string): { a: NfpReg; b: NfpReg; swap: boolean } {
  if ((l.type === 'gpr' && l.bank === 'both') || (r.type === 'gpr' && r.bank === 'both')) throw fault(`${what}: reg_both is only a destination`);
  if (swregType(l) === swregType(r) && l.type !== 'none') throw fault(`${what}: both operands are ${swregType(l)}`);
  const swap = (l.type === 'gpr' && l.bank === 'b') || (r.type === 'gpr' && r.bank === 'a');
  return swap ? { a: r, b: l, swap } : { a: l, b: r, swap };
}

function dstBankBits(d: NfpReg): { dst_ab: number; wr_ab: number } {
  if (d.type !== 'gpr') return { dst_ab: 0, wr_ab: 0 };
  return { dst_ab: d.bank === 'b' ? 1 : 0, wr_ab: d.bank === 'both' ? 1 : 0 };
}

function urDec(x: number, bank: 'a' | 'b', ext: number): NfpReg {
  if ((x & 0x3c0) === 0) {
    if (x & 0x20) throw invalid(`operand 0x${x.toString(16)} names a GPR beyond the ctx4 register file`);
    return { type: 'gpr', bank, n: x & 0x1f };
  }
  if ((x & 0x380) === UR_REG_XFR) {
    if (x & 0x60) throw invalid(`operand 0x${x.toString(16)} names a transfer register not modeled`);
    return { type: 'xfer', n: x & 0x1f };
  }
  if ((x & 0x3c0) === UR_REG_LM) {
    const ptr = ((x & UR_REG_LM_IDX) ? 1 : 0) + 2 * ext;
    if (x & UR_REG_LM_POST_MOD) return { type: 'lm', ptr, off: 0, mod: x & 1 ? 'dec' : 'inc' };
    return { type: 'lm', ptr, off: x & 0xf, mod: 'none' };
  }
  if ((x & 0x300) === UR_REG_IMM) return { type: 'imm', value: x & 0xff };
  throw invalid(`operand 0x${x.toString(16)} (absolute GPR, indexed transfer or next-neighbour register) is not modeled`);
}

const urIsImm = (x: number): boolean => (x & 0x300) === 0x300;
const reIsImm = (x: number): boolean => (x & 0xe0) !== 0 && (x & 0xe0) !== 0x80 && (x & 0xf0) !== 0x50 && (x & 0x20) !== 0;

function reDec(x: number, bank: 'a' | 'b', ext: number, i8: number): NfpReg {
  if ((x & 0xe0) === 0) return { type: 'gpr', bank, n: x & 0x1f };
  if ((x & 0xe0) === RE_REG_XFR) return { type: 'xfer', n: x & 0x1f };
  if ((x & 0xf0) === RE_REG_LM) return { type: 'lm', ptr: ((x & RE_REG_LM_IDX) ? 1 : 0) + 2 * ext, off: x & 7, mod: 'none' };
  if ((x & 0xe0) !== 0xc0 && (x & 0xf0) !== 0x40 && (x & 0x20) !== 0) return { type: 'imm', value: (i8 << 7) | (((x >> 6) & 3) << 5) | (x & 0x1f) };
  throw invalid(`restricted operand 0x${x.toString(16)} is not modeled`);
}

const withBoth = (r: NfpReg, wr: number): NfpReg => (wr && r.type === 'gpr' ? { type: 'gpr', bank: 'both', n: r.n } : r);

// ---------------------------------------------------------------------------------------------------
// Encoding, one function per instruction of the table

function shiftField(sc: NfpShfSc, shift: number | 'indirect'): number {
  if (shift === 'indirect') return 0;
  return sc === 'l_shf' ? 32 - shift : shift;
}

function shiftFromField(sc: NfpShfSc, field: number): number | 'indirect' {
  if (field === 0) return sc === 'r_rot' ? 0 : 'indirect';
  return sc === 'l_shf' ? 32 - field : field;
}

function i8Of(...xs: { i8: number; imm: boolean }[]): number {
  const set = xs.filter((x) => x.imm);
  if (set.length === 2 && set[0]!.i8 !== set[1]!.i8) throw fault('two immediates disagree on the shared i8 bit');
  return set[0]?.i8 ?? 0;
}

function checkCmdOperand(r: NfpReg, field: 'A' | 'B'): void {
  if (r.type === 'gpr' && r.bank !== (field === 'A' ? 'a' : 'b')) throw fault(`cmd can't swap arguments (${field} field holds a ${r.bank}-bank GPR)`);
  if (r.type === 'lm' && r.ptr > 1) throw fault("cmd can't use LMextn");
}

const ENCODERS: { readonly [K in NfpOp]: (x: Extract<NfpInsn, { op: K }>) => [NfpFormatName, Fields] } = {
  alu(x) {
    const info = NFP_ALU_OPS[x.alu];
    if (info.bOnly && x.a.type !== 'none') throw fault(`alu ${info.text} takes no left operand`);
    if (!info.bOnly && x.a.type === 'none') throw fault(`alu ${info.text} needs a left operand`);
    const p = place(x.a, x.b, 'alu');
    return ['alu', {
      a_src: urEnc(p.a, false), b_src: urEnc(p.b, false), dst: urEnc(x.dst, true), sw: p.swap ? 1 : 0, op: info.code,
      ...dstBankBits(x.dst), src_lmextn: lmextn(x.a) | lmextn(x.b), dst_lmextn: lmextn(x.dst),
    }];
  },
  alu_shf(x) {
    const info = NFP_SHF_OPS[x.shf];
    const usesA = !info.bOnly || x.sc === 'r_dshf';
    if (!usesA && x.a.type !== 'none') throw fault(`${info.text} takes no left operand`);
    if (usesA && x.a.type === 'none') throw fault(`${info.text} needs a left operand`);
    if (x.sc === 'r_dshf' && x.shf !== 'none') throw fault('dbl_shf takes no operator');
    if (x.shf === 'ashr' && x.sc !== 'r_shf') throw fault('asr shifts right only');
    if (x.shift === 'indirect' && x.sc === 'r_rot') throw fault('indirect shift is not allowed on rotation');
    const p = place(x.a, x.b, 'alu_shf');
    const a = reEnc(p.a, false, true);
    const b = reEnc(p.b, false, true);
    return ['alu_shf', {
      a_src: a.enc, sc: NFP_SHF_SC[x.sc], b_src: b.enc, i8: i8Of({ ...a, imm: p.a.type === 'imm' }, { ...b, imm: p.b.type === 'imm' }),
      sw: p.swap ? 1 : 0, dst: reEnc(x.dst, true, false).enc, shift: shiftField(x.sc, x.shift), op: info.code,
      ...dstBankBits(x.dst), src_lmextn: lmextn(x.a) | lmextn(x.b), dst_lmextn: lmextn(x.dst),
    }];
  },
  immed(x) {
    if (x.width !== 'all' && x.invert) throw fault('immed_b/immed_w are not inverted');
    if (x.width === 'word' && x.shift === 1) throw fault('immed_w takes a shift of 0 or 2 bytes');
    if (x.width === 'byte' && x.imm > 0xff) throw fault('immed_b takes 8 bits');
    const lo = UR_REG_IMM | (x.imm & 0xff);
    let a: number;
    let b: number;
    if (x.dst.type === 'none') {
      a = UR_REG_NO_DST;
      b = lo;
    } else if (x.dst.type === 'gpr' && x.dst.bank === 'b') {
      a = lo;
      b = x.dst.n;
    } else {
      if (x.dst.type === 'imm') throw fault('an immediate is not a destination');
      a = urEnc(x.dst, false);
      b = lo;
    }
    return ['immed', {
      a_src: a, b_src: b, imm: x.imm >> 8, width: { all: 0, byte: 1, word: 2 }[x.width], inv: x.invert ? 1 : 0, shift: x.shift,
      wr_ab: dstBankBits(x.dst).wr_ab, src_lmextn: lmextn(x.dst), dst_lmextn: lmextn(x.dst),
    }];
  },
  ld_field(x) {
    if (x.dst.type === 'imm' || x.dst.type === 'none') throw fault('ld_field needs a register destination');
    if (x.src.type === 'gpr' && x.src.bank === 'both') throw fault('ld_field: reg_both is only a destination');
    if (swregType(x.dst) === swregType(x.src)) throw fault(`ld_field: both operands are ${swregType(x.dst)}`);
    if (x.shift === 'indirect' && x.sc === 'r_rot') throw fault('indirect shift is not allowed on rotation');
    const swap = (x.dst.type === 'gpr' && x.dst.bank === 'b') || (x.src.type === 'gpr' && x.src.bank === 'a');
    const d = reEnc(x.dst, false, true);
    const s = reEnc(x.src, false, true);
    return ['ld_field', {
      a_src: swap ? s.enc : d.enc, sc: NFP_SHF_SC[x.sc], b_src: swap ? d.enc : s.enc, i8: s.i8, sw: swap ? 1 : 0, zf: x.zero ? 1 : 0,
      bmask: x.bmask, shift: shiftField(x.sc, x.shift), wr_ab: dstBankBits(x.dst).wr_ab,
      src_lmextn: lmextn(x.dst) | lmextn(x.src), dst_lmextn: lmextn(x.dst),
    }];
  },
  mul_step(x) {
    const s = NFP_MUL_STEPS[x.step];
    if (s.last) {
      // No destination is allowed: jit.c's reciprocal division keeps only the high word (last2) and
      // emits the last step with reg_none().
      if (x.dst.type !== 'gpr' && x.dst.type !== 'xfer' && x.dst.type !== 'lm' && x.dst.type !== 'none') throw fault(`mul_step ${x.step} needs a register destination`);
      return ['mul', { a_src: urEnc(x.dst, true), b_src: REG_NONE, step: s.step, type: s.type, ...dstBankBits(x.dst), dst_lmextn: lmextn(x.dst) }];
    }
    if (x.dst.type !== 'none') throw fault(`mul_step ${x.step} has no destination`);
    const p = place(x.a, x.b, 'mul_step');
    return ['mul', { a_src: urEnc(p.a, false), b_src: urEnc(p.b, false), step: s.step, sw: p.swap ? 1 : 0, type: s.type, src_lmextn: lmextn(x.a) | lmextn(x.b) }];
  },
  br(x) {
    return ['br', {
      mask: NFP_BR_CONDS[x.cond], ev_pip: x.cond === 'br' ? 0 : 1, css: 2, defer: x.defer,
      addr: x.target & 0x1fff, addr_hi: x.target >> 13,
    }];
  },
  br_bit(x) {
    if (x.src.type === 'imm' || x.src.type === 'none') throw fault('br_bit tests a register');
    const bit = reEnc({ type: 'imm', value: x.bit + 1 }, false, false).enc;
    const inB = x.src.type === 'gpr' && x.src.bank === 'b';
    const src = reEnc(x.src, false, false).enc;
    return ['br_bit', {
      a_src: inB ? bit : src, b_src: inB ? src : bit, bv: x.set ? 1 : 0, defer: x.defer,
      addr: x.target & 0x1fff, addr_hi: x.target >> 13, src_lmextn: lmextn(x.src),
    }];
  },
  br_byte(x) {
    if (x.src.type === 'imm' || x.src.type === 'none') throw fault('br=byte tests a register');
    // No kernel emitter to follow: the register goes to the B field unless it is an A-bank GPR, as the
    // NFP assembler places it (binutils' testsuite words).
    const v = reEnc({ type: 'imm', value: x.value }, false, true);
    const inB = !(x.src.type === 'gpr' && x.src.bank === 'a');
    const src = reEnc(x.src, false, true).enc;
    return ['br_byte', {
      a_src: inB ? v.enc : src, byte: x.byte, b_src: inB ? src : v.enc, i8: v.i8, eq: x.eq ? 1 : 0, defer: x.defer,
      addr: x.target & 0x1fff, addr_hi: x.target >> 13, src_lmextn: lmextn(x.src),
    }];
  },
  rtn(x) {
    if (x.src.type === 'imm' || x.src.type === 'none') throw fault('rtn jumps to a register');
    const inB = x.src.type === 'gpr' && x.src.bank === 'b';
    const src = urEnc(x.src, false);
    return ['br_alu', { a_src: inB ? UR_REG_IMM : src, b_src: inB ? src : UR_REG_IMM, defer: x.defer, imm_hi: 0, src_lmextn: lmextn(x.src) }];
  },
  local_csr_rd(x) {
    return ['local_csr', { a_src: 0, b_src: 0, wr: 0, csr: NFP_CSRS[x.csr].addr / 4 }];
  },
  local_csr_wr(x) {
    let a: number;
    let b: number;
    if (x.src.type === 'imm') {
      a = b = urEnc(x.src, false);
    } else if (x.src.type === 'gpr' && x.src.bank === 'b') {
      a = UR_REG_IMM;
      b = x.src.n;
    } else {
      if (x.src.type === 'none' || (x.src.type === 'gpr' && x.src.bank === 'both')) throw fault('local_csr_wr needs a source');
      a = urEnc(x.src, false);
      b = UR_REG_IMM;
    }
    return ['local_csr', { a_src: a, b_src: b, wr: 1, csr: NFP_CSRS[x.csr].addr / 4, src_lmextn: lmextn(x.src) }];
  },
  ctx_arb(x) {
    if (x.evMask !== 1 && (x.evMask === 0 || (x.evMask & 1) !== 0)) throw fault('ctx_arb waits for signals or swaps voluntarily, not both');
    return ['ctx_arb', { ev_mask: x.evMask }];
  },
  cmd(x) {
    const info = NFP_CMDS[x.cmd];
    checkCmdOperand(x.a, 'A');
    checkCmdOperand(x.b, 'B');
    if (x.a.type === x.b.type && x.a.type !== 'gpr' && x.a.type !== 'none') throw fault(`cmd: both operands are ${x.a.type}`);
    if (x.mode !== '32b' && x.a.type !== 'gpr' && x.b.type !== 'gpr') throw fault('a 40-bit address needs a GPR operand');
    if (((x.count - 1) & info.lenMask) !== info.lenFixed) throw fault(`${x.cmd} cannot carry a length of ${x.count}`);
    if (!x.swap && x.defer !== 0) throw fault('only a context-swapping command has defer slots');
    return ['cmd', {
      a_src: reEnc(x.a, false, false).enc, ctx: x.swap ? x.defer : 3, b_src: reEnc(x.b, false, false).enc, token: info.token,
      xfer: x.xfer, cnt: x.count - 1, sig: x.sig, tgt_cmd: 0x40 | info.action, indir: x.indirect ? 1 : 0, mode: NFP_CMD_MODES[x.mode],
    }];
  },
};

/** The 64-bit word of an instruction (no ECC). Throws EFAULT for operands the hardware cannot hold. */
export function encodeInsn(x: NfpInsn): bigint {
  const enc = ENCODERS[x.op] as (i: NfpInsn) => [NfpFormatName, Fields];
  const [fmt, fields] = enc(x);
  return pack(fmt, fields);
}

// ---------------------------------------------------------------------------------------------------
// Decoding

function key<T extends string>(table: Readonly<Record<T, unknown>>, pred: (v: never) => boolean): T | undefined {
  for (const [k, v] of Object.entries(table)) if (pred(v as never)) return k as T;
  return undefined;
}

const DECODERS: { readonly [K in NfpFormatName]: (f: Fields) => NfpInsn } = {
  cmd(f) {
    if (f['tgt_cmd']! >> 5 !== 2) throw invalid(`command target 0x${f['tgt_cmd']!.toString(16)} is not a memory unit`);
    const action = f['tgt_cmd']! & 0x1f;
    const cmd = key<NfpCmdName>(NFP_CMDS, (c: { action: number; token: number; lenMask: number; lenFixed: number }) =>
      c.action === action && c.token === f['token'] && (f['cnt']! & c.lenMask) === c.lenFixed);
    if (cmd === undefined) throw invalid(`memory command ${action}:${f['token']} is not modeled`);
    const mode = key<NfpCmdMode>(NFP_CMD_MODES, (m: number) => m === f['mode']);
    if (mode === undefined) throw invalid(`command address mode ${f['mode']} is not modeled`);
    const swap = f['ctx'] !== 3;
    return nfpCmd(cmd, mode, f['xfer']!, reDec(f['a_src']!, 'a', 0, 0), reDec(f['b_src']!, 'b', 0, 0), f['cnt']! + 1,
      { swap, defer: swap ? f['ctx']! : 0, sig: f['sig']!, indirect: f['indir'] === 1 });
  },
  alu_shf(f) {
    const sc = key<NfpShfSc>(NFP_SHF_SC, (v: number) => v === f['sc'])!;
    const shf = key<NfpShfOp>(NFP_SHF_OPS, (v: { code: number }) => v.code === f['op']);
    if (shf === undefined) throw invalid('byte_align is not modeled');
    const ext = f['src_lmextn']!;
    const A = reDec(f['a_src']!, 'a', ext, f['i8']!);
    const B = reDec(f['b_src']!, 'b', ext, f['i8']!);
    const [l, r] = f['sw'] ? [B, A] : [A, B];
    const usesA = !NFP_SHF_OPS[shf].bOnly || sc === 'r_dshf';
    const dst = f['dst'] === RE_REG_NO_DST ? reg_none() : withBoth(reDec(f['dst']!, f['dst_ab'] ? 'b' : 'a', f['dst_lmextn']!, 0), f['wr_ab']!);
    return nfpShf(dst, usesA ? l : reg_none(), shf, r, sc, shiftFromField(sc, f['shift']!));
  },
  alu(f) {
    const alu = key<NfpAluOp>(NFP_ALU_OPS, (v: { code: number }) => v.code === f['op']);
    if (alu === undefined) throw invalid(`ALU operator 0x${f['op']!.toString(16)} is not modeled`);
    const ext = f['src_lmextn']!;
    const A = urDec(f['a_src']!, 'a', ext);
    const B = urDec(f['b_src']!, 'b', ext);
    const [l, r] = f['sw'] ? [B, A] : [A, B];
    const dst = f['dst'] === UR_REG_NO_DST ? reg_none() : withBoth(urDec(f['dst']!, f['dst_ab'] ? 'b' : 'a', f['dst_lmextn']!), f['wr_ab']!);
    return nfpAlu(dst, l, alu, r);
  },
  immed(f) {
    const a = f['a_src']!;
    const b = f['b_src']!;
    let dst: NfpReg;
    let lo: number;
    if (urIsImm(a) && urIsImm(b)) {
      dst = reg_none();
      lo = b & 0xff;
    } else if (urIsImm(b)) {
      dst = withBoth(urDec(a, 'a', f['dst_lmextn']!), f['wr_ab']!);
      lo = b & 0xff;
    } else if (urIsImm(a)) {
      dst = urDec(b, 'b', f['dst_lmextn']!);
      lo = a & 0xff;
    } else {
      throw invalid('immed without an immediate operand');
    }
    const width = (['all', 'byte', 'word'] as const)[f['width']!];
    if (width === undefined) throw invalid('immed width 3 is not modeled');
    if (f['shift']! > 2) throw invalid('immed shift of 3 bytes is not modeled');
    return nfpImmed(dst, (f['imm']! << 8) | lo, width, f['inv'] === 1, f['shift'] as 0 | 1 | 2);
  },
  ld_field(f) {
    const sc = key<NfpShfSc>(NFP_SHF_SC, (v: number) => v === f['sc'])!;
    if (sc === 'r_dshf') throw invalid('ld_field with a double shift is not modeled');
    const sw = f['sw'] === 1;
    const dst = withBoth(reDec(sw ? f['b_src']! : f['a_src']!, sw ? 'b' : 'a', f['dst_lmextn']!, 0), f['wr_ab']!);
    const src = reDec(sw ? f['a_src']! : f['b_src']!, sw ? 'a' : 'b', f['src_lmextn']!, f['i8']!);
    return nfpLdField(dst, f['bmask']!, src, sc, shiftFromField(sc, f['shift']!), f['zf'] === 1);
  },
  ctx_arb(f) {
    return nfpCtxArb(f['ev_mask'] === 1 ? 'voluntary' : [...Array(16).keys()].filter((i) => i > 0 && (f['ev_mask']! >> i) & 1));
  },
  local_csr(f) {
    const csr = key<NfpCsr>(NFP_CSRS, (c: { addr: number }) => c.addr === f['csr']! * 4);
    if (csr === undefined) throw invalid(`local CSR 0x${(f['csr']! * 4).toString(16)} is not modeled`);
    if (!f['wr']) return nfpCsrRd(csr);
    const a = f['a_src']!;
    const b = f['b_src']!;
    const ext = f['src_lmextn']!;
    if (urIsImm(a) && urIsImm(b)) return nfpCsrWr(csr, { type: 'imm', value: a & 0xff });
    if (urIsImm(a)) return nfpCsrWr(csr, urDec(b, 'b', ext));
    return nfpCsrWr(csr, urDec(a, 'a', ext));
  },
  br(f) {
    const cond = key<NfpBrCond>(NFP_BR_CONDS, (v: number) => v === f['mask']);
    if (cond === undefined) throw invalid(`branch condition ${f['mask']} is not modeled`);
    return nfpBr(cond, (f['addr_hi']! << 13) | f['addr']!, f['defer']!);
  },
  br_byte(f) {
    const a = f['a_src']!;
    const b = f['b_src']!;
    const ext = f['src_lmextn']!;
    const to = (f['addr_hi']! << 13) | f['addr']!;
    const inB = reIsImm(a);
    const src = inB ? reDec(b, 'b', ext, 0) : reDec(a, 'a', ext, 0);
    const v = reDec(inB ? a : b, 'b', 0, f['i8']!);
    if (v.type !== 'imm') throw invalid('br=byte without an immediate');
    return nfpBrByte(f['eq'] === 1, src, f['byte']!, v.value, to, f['defer']!);
  },
  br_bit(f) {
    const a = f['a_src']!;
    const b = f['b_src']!;
    const ext = f['src_lmextn']!;
    const to = (f['addr_hi']! << 13) | f['addr']!;
    const inB = reIsImm(a);
    const src = inB ? reDec(b, 'b', ext, 0) : reDec(a, 'a', ext, 0);
    const rot = reDec(inB ? a : b, 'b', 0, 0);
    if (rot.type !== 'imm' || rot.value < 1 || rot.value > 32) throw invalid(`br_bit rotation ${rot.type === 'imm' ? rot.value : '?'} is not the kernel's bit + 1`);
    return nfpBrBit(f['bv'] === 1, src, rot.value - 1, to, f['defer']!);
  },
  br_alu(f) {
    const a = f['a_src']!;
    const b = f['b_src']!;
    const ext = f['src_lmextn']!;
    const inB = urIsImm(a);
    const imm = (f['imm_hi']! << 8) | ((inB ? a : b) & 0xff);
    if (!urIsImm(inB ? a : b) || imm !== 0) throw invalid('jump[] with an offset is not modeled');
    return nfpRtn(inB ? urDec(b, 'b', ext) : urDec(a, 'a', ext), f['defer']!);
  },
  mul(f) {
    const step = key<NfpMulStep>(NFP_MUL_STEPS, (s: { type: number; step: number }) => s.type === f['type'] && s.step === f['step']);
    if (step === undefined) throw invalid(`mul_step type ${f['type']} step ${f['step']} is not modeled`);
    if (NFP_MUL_STEPS[step].last) {
      if (f['a_src'] === UR_REG_NO_DST) return nfpMulLast(step as '32x32_last', reg_none());
      return nfpMulLast(step as '32x32_last', withBoth(urDec(f['a_src']!, f['dst_ab'] ? 'b' : 'a', f['dst_lmextn']!), f['wr_ab']!));
    }
    const ext = f['src_lmextn']!;
    const A = urDec(f['a_src']!, 'a', ext);
    const B = urDec(f['b_src']!, 'b', ext);
    const [l, r] = f['sw'] ? [B, A] : [A, B];
    return nfpMul(step, l, r);
  },
};

/**
 * The instruction in a code-store word. ECC bits (45..51) are ignored; anything else that is not the
 * canonical encoding of a modeled instruction is EINVAL, naming what is wrong.
 */
export function decodeWord(word: bigint): NfpInsn {
  if (word < 0n || word >> 64n !== 0n) throw invalid(`0x${word.toString(16)} is not a 64-bit word`);
  if ((word & ~(OP_MASK | ECC_MASK)) !== 0n) throw invalid(`0x${word.toString(16)}: bits above the ECC are set (relocation scratch left in?)`);
  const w = word & OP_MASK;
  const fmt = classify(w);
  if (fmt === undefined) throw invalid(`0x${w.toString(16)} is not an NFP instruction`);
  let x: NfpInsn;
  try {
    x = DECODERS[fmt](unpack(fmt, w));
  } catch (e) {
    if (e instanceof BpfError) throw invalid(`0x${w.toString(16)}: ${e.message.replace(/^nfp( asm)?: /, '')}`);
    throw e;
  }
  let again: bigint;
  try {
    again = encodeInsn(x);
  } catch (e) {
    throw invalid(`0x${w.toString(16)}: ${(e as Error).message.replace(/^nfp( asm)?: /, '')}`);
  }
  if (again !== w) throw invalid(`0x${w.toString(16)} is not a canonical encoding (would be 0x${again.toString(16)})`);
  return x;
}

// ---------------------------------------------------------------------------------------------------
// ECC and relocation helpers (nfp_asm.c)

const ECC_POLYNOMIALS = [0x0ff800007fffn, 0x11f801ff801fn, 0x1e387e0781e1n, 0x17cb8e388e22n, 0x1af5b2c93244n, 0x1f56d5525488n, 0x0daf69a46910n];

function parity(v: bigint): number {
  let p = 0;
  for (let x = v; x !== 0n; x &= x - 1n) p ^= 1;
  return p;
}

/** nfp_ustore_calc_ecc_insn: the word with its 7 ECC bits, as the code store holds it. */
export function nfp_ustore_calc_ecc_insn(insn: bigint): bigint {
  const w = insn & OP_MASK;
  let ecc = 0n;
  ECC_POLYNOMIALS.forEach((p, i) => { ecc |= BigInt(parity(p & w)) << BigInt(i); });
  return w | (ecc << BigInt(NFP_USTORE_OP_BITS));
}

/** nfp_ustore_check_valid_no_ecc: nothing above the 45 instruction bits. */
export function nfp_ustore_check_valid_no_ecc(insn: bigint): boolean {
  return (insn & ~OP_MASK) === 0n;
}

/** br_get_offset / br_set_offset / br_add_offset, for relocating branch targets in place. */
export function br_get_offset(word: bigint): number {
  const f = unpack('br', word);
  return (f['addr_hi']! << 13) | f['addr']!;
}

function isBranchWord(w: bigint): boolean {
  return (w & NFP_FORMATS.br.mask) === NFP_FORMATS.br.base || (w & NFP_FORMATS.br_bit.mask) === NFP_FORMATS.br_bit.base;
}

export function br_set_offset(word: bigint, offset: number): bigint {
  if (!isBranchWord(word)) throw fault('br_set_offset on a word that is not a branch');
  if (offset < 0 || offset >= NFP_MAX_CODE_ADDR) throw fault(`branch offset ${offset} out of range`);
  const cleared = word & ~((0x1fffn << 22n) | (1n << 40n));
  return cleared | (BigInt(offset & 0x1fff) << 22n) | (BigInt(offset >> 13) << 40n);
}

export const br_add_offset = (word: bigint, offset: number): bigint => br_set_offset(word, br_get_offset(word) + offset);

/** immed_get_value / immed_set_value: the 16-bit value of a plain immed (no shift, inversion or width). */
export function immed_get_value(word: bigint): number {
  const x = decodeWord(word);
  if (x.op !== 'immed' || x.width !== 'all' || x.invert || x.shift !== 0) throw fault("Can't decode/encode immed!");
  return x.imm;
}

export function immed_set_value(word: bigint, value: number): bigint {
  const x = decodeWord(word);
  if (x.op !== 'immed' || x.width !== 'all' || x.invert || x.shift !== 0) throw fault("Can't decode/encode immed!");
  return encodeInsn({ ...x, imm: value & 0xffff });
}

// ---------------------------------------------------------------------------------------------------
// Disassembly (nfp-dis.c, ME 2.8, ctx4)

const hex = (v: number): string => `0x${(v >>> 0).toString(16)}`;

function opnd(r: NfpReg): string {
  switch (r.type) {
    case 'gpr': return `gpr${r.bank === 'b' ? 'B' : 'A'}_${r.n}`;
    case 'xfer': return `$xfer_${r.n}`;
    case 'lm': return `*l$index${r.ptr}${r.mod === 'inc' ? '++' : r.mod === 'dec' ? '--' : r.off ? `[${r.off}]` : ''}`;
    case 'imm': return hex(r.value);
    case 'none': return '--';
  }
}

/** The bank a source is printed with depends on the field it landed in, which the encoder decides. */
function placed(l: NfpReg, r: NfpReg): [NfpReg, NfpReg] {
  const p = place(l, r, 'print');
  const fix = (x: NfpReg, bank: 'a' | 'b'): NfpReg => (x.type === 'gpr' ? { ...x, bank } : x);
  return p.swap ? [fix(l, 'b'), fix(r, 'a')] : [fix(l, 'a'), fix(r, 'b')];
}

function dstText(d: NfpReg): string {
  return d.type === 'gpr' && d.bank === 'both' ? `gprA_${d.n}` : opnd(d);
}

const wrboth = (d: NfpReg): string => (d.type === 'gpr' && d.bank === 'both' ? ', gpr_wrboth' : '');
const defer = (n: number): string => (n ? `, defer[${n}]` : '');

function shiftText(sc: NfpShfSc, shift: number | 'indirect'): string {
  if (sc === 'r_rot') return `>>rot${shift === 'indirect' ? 0 : shift}`;
  if (shift === 'indirect') return sc === 'l_shf' ? '<<indirect' : '>>indirect';
  return sc === 'l_shf' ? `<<${shift}` : `>>${shift}`;
}

const PRINTERS: { readonly [K in NfpOp]: (x: Extract<NfpInsn, { op: K }>) => string } = {
  alu(x) {
    const info = NFP_ALU_OPS[x.alu];
    const [l, r] = placed(x.a, x.b);
    return `alu[${dstText(x.dst)}, ${info.bOnly ? '--' : opnd(l)}, ${info.text}, ${opnd(r)}]${wrboth(x.dst)}`;
  },
  alu_shf(x) {
    const [l, r] = placed(x.a, x.b);
    const sh = shiftText(x.sc, x.shift);
    if (x.sc === 'r_dshf') return `dbl_shf[${dstText(x.dst)}, ${opnd(l)}, ${opnd(r)}, ${sh}]${wrboth(x.dst)}`;
    if (x.shf === 'ashr') return `asr[${dstText(x.dst)}, ${opnd(r)}, ${sh}]${wrboth(x.dst)}`;
    const info = NFP_SHF_OPS[x.shf];
    return `alu_shf[${dstText(x.dst)}, ${info.bOnly ? '--' : opnd(l)}, ${info.text}, ${opnd(r)}, ${sh}]${wrboth(x.dst)}`;
  },
  immed(x) {
    if (x.dst.type === 'none' && x.imm === 0 && x.width === 'all' && !x.invert && x.shift === 0) return 'nop';
    let v = x.imm;
    if (x.invert) v = ((v ^ 0xffff) | 0xffff0000) >>> 0;
    const d = x.dst.type === 'gpr' && x.dst.bank !== 'b' ? `gprA_${x.dst.n}` : opnd(x.dst);
    if (x.width === 'byte') return `immed_b${x.shift}[${d}, ${hex(v & 0xff)}]${wrboth(x.dst)}`;
    if (x.width === 'word') return `immed_w${x.shift / 2}[${d}, ${hex(v & 0xffff)}]${wrboth(x.dst)}`;
    return `immed[${d}, ${hex(v)}${x.shift ? `, <<${x.shift * 8}` : ''}]${wrboth(x.dst)}`;
  },
  ld_field(x) {
    const swap = (x.dst.type === 'gpr' && x.dst.bank === 'b') || (x.src.type === 'gpr' && x.src.bank === 'a');
    const d = x.dst.type === 'gpr' ? `gpr${swap ? 'B' : 'A'}_${x.dst.n}` : opnd(x.dst);
    const s = x.src.type === 'gpr' ? `gpr${swap ? 'A' : 'B'}_${x.src.n}` : opnd(x.src);
    const mask = [3, 2, 1, 0].map((i) => (x.bmask >> i) & 1).join('');
    const sh = x.sc === 'r_rot' ? (x.shift ? `, >>rot${x.shift}` : '') : `, ${shiftText(x.sc, x.shift)}`;
    return `${x.zero ? 'ld_field_w_clr' : 'ld_field'}[${d}, ${mask}, ${s}${sh}]${wrboth(x.dst)}`;
  },
  mul_step(x) {
    if (NFP_MUL_STEPS[x.step].last) return `mul_step[${dstText(x.dst)}, --], ${x.step}${wrboth(x.dst)}`;
    const [l, r] = placed(x.a, x.b);
    return `mul_step[${opnd(l)}, ${opnd(r)}], ${x.step}`;
  },
  br(x) {
    return `${x.cond}[.${x.target}]${defer(x.defer)}`;
  },
  br_bit(x) {
    return `${x.set ? 'br_bset' : 'br_bclr'}[${opnd(x.src)}, ${x.bit}, .${x.target}]${defer(x.defer)}`;
  },
  br_byte(x) {
    return `${x.eq ? 'br=byte' : 'br!=byte'}[${opnd(x.src)}, ${x.byte}, ${hex(x.value)}, .${x.target}]${defer(x.defer)}`;
  },
  rtn(x) {
    return `rtn[${opnd(x.src)}]${defer(x.defer)}`;
  },
  local_csr_rd(x) {
    return `local_csr_rd[${x.csr}]`;
  },
  local_csr_wr(x) {
    return `local_csr_wr[${x.csr}, ${opnd(x.src)}]`;
  },
  ctx_arb(x) {
    if (x.evMask === 1) return 'ctx_arb[voluntary]';
    const sigs = [...Array(16).keys()].filter((i) => i > 0 && (x.evMask >> i) & 1).map((i) => `sig${i}`);
    return `ctx_arb[${sigs.join(', ')}]`;
  },
  cmd(x) {
    let addr: string;
    if (x.mode === '32b') addr = `${opnd(x.a)}, ${opnd(x.b)}`;
    else if (x.mode === '40b_ab') addr = `${opnd(x.a)}, <<8, ${opnd(x.b)}`;
    else addr = `${opnd(x.b)}, <<8, ${opnd(x.a)}`;
    let s = `mem[${x.cmd}, $xfer_${x.xfer}, ${addr}, ${x.count}]`;
    if (x.indirect) s += ', indirect_ref';
    if (x.swap) s += `, ctx_swap[${x.sig ? `sig${x.sig}` : '--'}]${defer(x.defer)}`;
    else if (x.sig) s += `, sig_done[sig${x.sig}]`;
    return s;
  },
};

/** One instruction as nfp-dis.c prints it (without the PC prefix). */
export function disasmInsn(x: NfpInsn): string {
  return (PRINTERS[x.op] as (i: NfpInsn) => string)(x);
}

/** nfp-dis.c's PC prefix: '.' right-aligned so the numbers line up for an image of `count` instructions. */
export function nfpPcPrefix(pc: number, count: number): string {
  let width = 1;
  for (let t = count; t > 9; t = Math.floor(t / 10)) width++;
  for (let t = pc; t > 9; t = Math.floor(t / 10)) width--;
  return `${'.'.padStart(Math.max(width, 1))}${pc}  `;
}

export interface NfpDumpOptions {
  /** bpftool's `opcodes`: the word's 8 bytes under each line. */
  readonly opcodes?: boolean;
}

/**
 * What `bpftool prog dump jited` prints for an NFP image (bpftool's jit_disasm.c around libbfd):
 * "%4x:\t" byte offset, nfp-dis.c's ".N  " prefix and text, and with `opcodes` the little-endian bytes.
 * A word that does not decode prints as nfp-dis.c's "<invalid_instruction>: 0x...\t # ERROR".
 * nfp-dis.c classifies and prints from the instruction bits alone, so the ECC bits and the JIT's
 * relocation scratch byte (bits 56..63 of an unrelocated image, which is what the kernel hands bpftool)
 * do not change the text; `opcodes` still shows them.
 */
export function formatJitedDump(image: Uint8Array, opts: NfpDumpOptions = {}): string {
  if (image.length % 8 !== 0) throw invalid(`NFP image of ${image.length} bytes is not whole 8-byte words`);
  const count = image.length / 8;
  const dv = new DataView(image.buffer, image.byteOffset, image.byteLength);
  let out = '';
  for (let i = 0; i < count; i++) {
    const w = dv.getBigUint64(i * 8, true);
    let text: string;
    try {
      text = disasmInsn(decodeWord(w & OP_MASK));
    } catch (e) {
      if (!(e instanceof BpfError)) throw e;
      text = `<invalid_instruction>: 0x${(w & OP_MASK).toString(16)}\t # ERROR`;
    }
    out += `${(i * 8).toString(16).padStart(4)}:\t${nfpPcPrefix(i, count)}${text}`;
    if (opts.opcodes) {
      out += '\n\t';
      for (let b = 0; b < 8; b++) out += `${image[i * 8 + b]!.toString(16).padStart(2, '0')} `;
    }
    out += '\n';
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Images

/** Words as the code store holds them: 8 little-endian bytes each. */
export function wordsToBytes(words: readonly bigint[]): Uint8Array {
  const out = new Uint8Array(words.length * 8);
  const dv = new DataView(out.buffer);
  words.forEach((w, i) => dv.setBigUint64(i * 8, w, true));
  return out;
}

export function bytesToWords(bytes: Uint8Array): bigint[] {
  if (bytes.length % 8 !== 0) throw invalid(`NFP image of ${bytes.length} bytes is not whole 8-byte words`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Array.from({ length: bytes.length / 8 }, (_, i) => dv.getBigUint64(i * 8, true));
}

/**
 * Encode instructions into an image and append the prefetch window's NOPs, as nfp_translate() ends.
 * With `maxInsns` (the firmware's BPF_MAX_LEN), a longer image is ENOSPC with the JIT's message.
 */
export function buildImage(insns: readonly NfpInsn[], opts: { maxInsns?: number } = {}): bigint[] {
  const words = insns.map(encodeInsn);
  for (let i = 0; i < NFP_USTORE_PREFETCH_WINDOW; i++) words.push(encodeInsn(nfpNop()));
  if (opts.maxInsns !== undefined && words.length > opts.maxInsns) {
    throw new BpfError('ENOSPC', `instruction limit reached (${opts.maxInsns} NFP instructions)`);
  }
  return words;
}

// ---------------------------------------------------------------------------------------------------
// Assembly: the disassembler's text back into instructions

/** Split on commas outside brackets. */
function splitTop(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '[') depth++;
    if (ch === ']') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur.trim());
      cur = '';
    } else {
      cur += ch;
    }
  }
  if (cur.trim() !== '') out.push(cur.trim());
  return out;
}

function parseNumber(s: string, what: string): number {
  const t = s.trim();
  const v = /^0x[0-9a-f]+$/i.test(t) ? parseInt(t.slice(2), 16) : /^\d+$/.test(t) ? parseInt(t, 10) : NaN;
  if (!Number.isSafeInteger(v)) throw invalid(`${what}: '${s}' is not a number`);
  return v;
}

function parseReg(s: string): NfpReg {
  const t = s.trim();
  let m: RegExpExecArray | null;
  if (t === '--') return reg_none();
  if ((m = /^gpr([AB])_(\d+)$/.exec(t))) return { type: 'gpr', bank: m[1] === 'A' ? 'a' : 'b', n: parseNumber(m[2]!, 'GPR') };
  if ((m = /^\$xfer_(\d+)$/.exec(t))) return { type: 'xfer', n: parseNumber(m[1]!, 'transfer register') };
  if ((m = /^\*l\$index(\d)(\+\+|--|\[(\d+)\])?$/.exec(t))) {
    const ptr = parseNumber(m[1]!, 'LM pointer');
    if (m[2] === '++') return { type: 'lm', ptr, off: 0, mod: 'inc' };
    if (m[2] === '--') return { type: 'lm', ptr, off: 0, mod: 'dec' };
    return { type: 'lm', ptr, off: m[3] === undefined ? 0 : parseNumber(m[3], 'LM offset'), mod: 'none' };
  }
  if (/^(0x[0-9a-f]+|\d+)$/i.test(t)) return { type: 'imm', value: parseNumber(t, 'immediate') };
  throw invalid(`'${t}' is not an operand`);
}

function parseShift(s: string): { sc: NfpShfSc; shift: number | 'indirect' } {
  const t = s.trim();
  let m: RegExpExecArray | null;
  if ((m = /^>>rot(\d+)$/.exec(t))) return { sc: 'r_rot', shift: parseNumber(m[1]!, 'rotation') };
  if (t === '>>indirect') return { sc: 'r_shf', shift: 'indirect' };
  if (t === '<<indirect') return { sc: 'l_shf', shift: 'indirect' };
  if ((m = /^>>(\d+)$/.exec(t))) return { sc: 'r_shf', shift: parseNumber(m[1]!, 'shift') };
  if ((m = /^<<(\d+)$/.exec(t))) return { sc: 'l_shf', shift: parseNumber(m[1]!, 'shift') };
  throw invalid(`'${t}' is not a shift`);
}

const both = (r: NfpReg, flag: boolean): NfpReg => (flag && r.type === 'gpr' ? { type: 'gpr', bank: 'both', n: r.n } : r);

function parseTarget(s: string, labels: ReadonlyMap<string, number>): number {
  const t = s.trim();
  if (!t.startsWith('.')) throw invalid(`branch target '${t}' must start with '.'`);
  const name = t.slice(1);
  if (/^\d+$/.test(name)) return parseInt(name, 10);
  const at = labels.get(name);
  if (at === undefined) throw invalid(`unknown label '${name}'`);
  return at;
}

function need(args: readonly string[], n: number, what: string): void {
  if (args.length !== n) throw invalid(`${what} takes ${n} operands, not ${args.length}`);
}

function assembleOne(text: string, labels: ReadonlyMap<string, number>): NfpInsn {
  const t = text.trim();
  if (t === 'nop') return nfpNop();
  const open = t.indexOf('[');
  if (open < 0) throw invalid(`'${t}' is not an instruction`);
  const mnem = t.slice(0, open);
  let depth = 0;
  let close = -1;
  for (let i = open; i < t.length; i++) {
    if (t[i] === '[') depth++;
    if (t[i] === ']' && --depth === 0) { close = i; break; }
  }
  if (close < 0) throw invalid(`'${t}': unbalanced brackets`);
  const args = splitTop(t.slice(open + 1, close));
  const flags = splitTop(t.slice(close + 1).replace(/^\s*,/, ''));
  const flag = (f: string): boolean => flags.includes(f);
  const deferOf = (): number => {
    const d = flags.find((f) => f.startsWith('defer['));
    return d === undefined ? 0 : parseNumber(d.slice(6, -1), 'defer');
  };
  const wb = flag('gpr_wrboth');

  if (mnem === 'alu') {
    need(args, 4, 'alu');
    const alu = key<NfpAluOp>(NFP_ALU_OPS, (v: { text: string }) => v.text === args[2]);
    if (alu === undefined) throw invalid(`'${args[2]}' is not an ALU operator`);
    return nfpAlu(both(parseReg(args[0]!), wb), parseReg(args[1]!), alu, parseReg(args[3]!));
  }
  if (mnem === 'alu_shf') {
    need(args, 5, 'alu_shf');
    const shf = key<NfpShfOp>(NFP_SHF_OPS, (v: { text: string }) => v.text === args[2]);
    if (shf === undefined || shf === 'ashr') throw invalid(`'${args[2]}' is not a shifter operator`);
    const { sc, shift } = parseShift(args[4]!);
    return nfpShf(both(parseReg(args[0]!), wb), parseReg(args[1]!), shf, parseReg(args[3]!), sc, shift);
  }
  if (mnem === 'dbl_shf') {
    need(args, 4, 'dbl_shf');
    const { shift } = parseShift(args[3]!);
    return nfpShf(both(parseReg(args[0]!), wb), parseReg(args[1]!), 'none', parseReg(args[2]!), 'r_dshf', shift);
  }
  if (mnem === 'asr') {
    need(args, 3, 'asr');
    const { shift } = parseShift(args[2]!);
    return nfpShf(both(parseReg(args[0]!), wb), reg_none(), 'ashr', parseReg(args[1]!), 'r_shf', shift);
  }
  let m: RegExpExecArray | null;
  if ((m = /^immed(?:_([bw])(\d))?$/.exec(mnem))) {
    const dst = both(parseReg(args[0]!), wb);
    // `.label` as the value: a code address (a return address for rtn), an extension of the syntax.
    let v = args[1]?.trim().startsWith('.') ? parseTarget(args[1], labels) : parseNumber(args[1] ?? '', 'immediate');
    if (m[1] === 'b') { need(args, 2, mnem); return nfpImmed(dst, v, 'byte', false, parseNumber(m[2]!, 'byte') as 0 | 1 | 2); }
    if (m[1] === 'w') { need(args, 2, mnem); return nfpImmed(dst, v, 'word', false, (parseNumber(m[2]!, 'word') * 2) as 0 | 2); }
    let shift = 0;
    if (args.length === 3) {
      const s = /^<<(\d+)$/.exec(args[2]!.trim());
      if (s === null) throw invalid(`'${args[2]}' is not an immed shift`);
      shift = parseNumber(s[1]!, 'shift') / 8;
    } else need(args, 2, 'immed');
    let invert = false;
    if (v > 0xffff) {
      if ((v & 0xffff0000) >>> 0 !== 0xffff0000) throw invalid(`immed value 0x${v.toString(16)} is neither 16 bits nor an inverted 16-bit value`);
      v = (v & 0xffff) ^ 0xffff;
      invert = true;
    }
    return nfpImmed(dst, v, 'all', invert, shift as 0 | 1 | 2);
  }
  if (mnem === 'ld_field' || mnem === 'ld_field_w_clr') {
    if (args.length !== 3 && args.length !== 4) throw invalid(`${mnem} takes 3 or 4 operands`);
    const mask = args[1]!.trim();
    if (!/^[01]{4}$/.test(mask)) throw invalid(`'${mask}' is not a byte mask`);
    const { sc, shift } = args.length === 4 ? parseShift(args[3]!) : { sc: 'r_rot' as const, shift: 0 };
    if (sc === 'r_dshf') throw invalid('ld_field with a double shift is not modeled');
    return nfpLdField(both(parseReg(args[0]!), wb), parseInt(mask, 2), parseReg(args[2]!), sc, shift, mnem === 'ld_field_w_clr');
  }
  if (mnem === 'mul_step') {
    need(args, 2, 'mul_step');
    const step = flags.find((f) => f in NFP_MUL_STEPS) as NfpMulStep | undefined;
    if (step === undefined) throw invalid('mul_step without its step');
    if (NFP_MUL_STEPS[step].last) return nfpMulLast(step as '32x32_last', both(parseReg(args[0]!), wb));
    return nfpMul(step, parseReg(args[0]!), parseReg(args[1]!));
  }
  const cond = (mnem in NFP_BR_CONDS ? mnem : NFP_BR_ALIASES[mnem]) as NfpBrCond | undefined;
  if (cond !== undefined) {
    need(args, 1, mnem);
    return nfpBr(cond, parseTarget(args[0]!, labels), deferOf());
  }
  if (mnem === 'br_bset' || mnem === 'br_bclr') {
    need(args, 3, mnem);
    return nfpBrBit(mnem === 'br_bset', parseReg(args[0]!), parseNumber(args[1]!, 'bit'), parseTarget(args[2]!, labels), deferOf());
  }
  if (mnem === 'br=byte' || mnem === 'br!=byte') {
    need(args, 4, mnem);
    return nfpBrByte(mnem === 'br=byte', parseReg(args[0]!), parseNumber(args[1]!, 'byte'), parseNumber(args[2]!, 'byte value'), parseTarget(args[3]!, labels), deferOf());
  }
  if (mnem === 'rtn') {
    need(args, 1, 'rtn');
    return nfpRtn(parseReg(args[0]!), deferOf());
  }
  if (mnem === 'local_csr_rd' || mnem === 'local_csr_wr') {
    const csr = args[0]?.trim() as NfpCsr;
    if (!(csr in NFP_CSRS)) throw invalid(`local CSR '${csr}' is not modeled`);
    if (mnem === 'local_csr_rd') { need(args, 1, mnem); return nfpCsrRd(csr); }
    need(args, 2, mnem);
    return nfpCsrWr(csr, parseReg(args[1]!));
  }
  if (mnem === 'ctx_arb') {
    if (args.length === 1 && args[0] === 'voluntary') return nfpCtxArb('voluntary');
    return nfpCtxArb(args.map((a) => {
      const s = /^sig(\d+)$/.exec(a.trim());
      if (s === null) throw invalid(`'${a}' is not a signal`);
      return parseNumber(s[1]!, 'signal');
    }));
  }
  if (mnem === 'mem') {
    const cmd = args[0]?.trim() as NfpCmdName;
    if (!(cmd in NFP_CMDS)) throw invalid(`memory command '${cmd}' is not modeled`);
    const x = /^\$xfer_(\d+)$/.exec(args[1]?.trim() ?? '');
    if (x === null) throw invalid(`'${args[1]}' is not a transfer register`);
    let mode: NfpCmdMode;
    let a: NfpReg;
    let b: NfpReg;
    if (args.length === 5) {
      mode = '32b';
      a = parseReg(args[2]!);
      b = parseReg(args[3]!);
    } else if (args.length === 6 && args[3]!.trim() === '<<8') {
      const first = parseReg(args[2]!);
      const second = parseReg(args[4]!);
      const ba = (first.type === 'gpr' && first.bank === 'b') || (second.type === 'gpr' && second.bank === 'a');
      mode = ba ? '40b_ba' : '40b_ab';
      [a, b] = ba ? [second, first] : [first, second];
    } else {
      throw invalid(`mem[] with ${args.length} operands`);
    }
    const count = parseNumber(args[args.length - 1]!, 'length');
    const cs = flags.find((f) => f.startsWith('ctx_swap['));
    const sd = flags.find((f) => f.startsWith('sig_done['));
    const sigOf = (f: string): number => {
      const inner = f.slice(f.indexOf('[') + 1, -1);
      return inner === '--' ? 0 : parseNumber(inner.replace(/^sig/, ''), 'signal');
    };
    return nfpCmd(cmd, mode, parseNumber(x[1]!, 'transfer register'), a, b, count, {
      swap: cs !== undefined, defer: deferOf(), sig: cs !== undefined ? sigOf(cs) : sd !== undefined ? sigOf(sd) : 0, indirect: flag('indirect_ref'),
    });
  }
  throw invalid(`'${mnem}' is not a modeled instruction`);
}

/**
 * Assemble text in the disassembler's syntax, one instruction per line. Lines may carry a dump's
 * "  1f8:\t" offset and ".N  " prefixes (so a dump reads back), `;` or `#` comments, and `name:` labels
 * that branches (and immed values) name as `.name` (an extension: nfp-dis.c prints only numbers).
 * `base` is the code-store address of the first instruction, for labels.
 */
export function assemble(text: string, opts: { base?: number } = {}): NfpInsn[] {
  const base = opts.base ?? 0;
  const lines: { text: string; lineNo: number }[] = [];
  const labels = new Map<string, number>();
  text.split('\n').forEach((raw, i) => {
    let l = raw.replace(/[;#].*$/, '').trim();
    l = l.replace(/^[0-9a-f]+:\s+(?=\.\d)/i, '').replace(/^\.\d+\s+/, '').trim();
    const lab = /^([A-Za-z_][\w]*):\s*(.*)$/.exec(l);
    if (lab !== null) {
      if (labels.has(lab[1]!)) throw invalid(`line ${i + 1}: label '${lab[1]}' defined twice`);
      labels.set(lab[1]!, base + lines.length);
      l = lab[2]!.trim();
    }
    if (l !== '') lines.push({ text: l, lineNo: i + 1 });
  });
  return lines.map(({ text: l, lineNo }) => {
    try {
      return assembleOne(l, labels);
    } catch (e) {
      if (e instanceof BpfError) throw new BpfError(e.errno, `line ${lineNo}: ${e.message}`);
      throw e;
    }
  });
}
