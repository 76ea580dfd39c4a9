// The modeled NFP instruction set: the table, the 64-bit encodings (checked against words the NFP
// assembler produced, from binutils' testsuite), the disassembler text, and the assembler reading it back.

import { describe, expect, it } from 'vitest';
import { BpfError } from '../../src/bpf/errno.js';
import {
  assemble, br_add_offset, br_get_offset, br_set_offset, buildImage, bytesToWords, decodeWord, disasmInsn, encodeInsn, formatJitedDump,
  immed_get_value, immed_set_value, nfpPcPrefix, nfp_ustore_calc_ecc_insn, nfp_ustore_check_valid_no_ecc, wordsToBytes,
} from '../../src/nic/asm.js';
import {
  NFP_ALU_OPS, NFP_BR_CONDS, NFP_CMDS, NFP_CMD_MODES, NFP_CSRS, NFP_FORMATS, NFP_MUL_STEPS, NFP_OPS, NFP_OP_NAMES, NFP_SHF_OPS,
  NFP_USTORE_PREFETCH_WINDOW, nfpAlu, nfpImmFits, nfpBr, nfpBrBit, nfpBrByte, nfpCmd, nfpCsrRd, nfpCsrWr, nfpCtxArb, nfpImmed, nfpLdField, nfpMov,
  nfpMul, nfpMulLast, nfpNop, nfpRtn, nfpShf, packImmed, reg_a, reg_b, reg_both, reg_imm, reg_lm, reg_lm_dec, reg_lm_inc, reg_none,
  reg_xfer, wrpImmed,
  type NfpAluOp, type NfpBrCond, type NfpCmdMode, type NfpCmdName, type NfpCsr, type NfpInsn, type NfpMulStep, type NfpOp, type NfpShfOp,
} from '../../src/nic/isa.js';
import { Gen, rng } from './nfp-harness.js';

function roundTrip(x: NfpInsn): string {
  const w = encodeInsn(x);
  expect(nfp_ustore_check_valid_no_ecc(w)).toBe(true);
  expect(decodeWord(w)).toEqual(x);
  expect(decodeWord(nfp_ustore_calc_ecc_insn(w))).toEqual(x);
  const text = disasmInsn(x);
  const back = assemble(text);
  expect(back, text).toHaveLength(1);
  expect(back[0], text).toEqual(x);
  expect(encodeInsn(back[0]!)).toBe(w);
  return text;
}

/** One or more instructions exercising every entry and every variant of every sub-table. */
function everyVariant(): NfpInsn[] {
  const out: NfpInsn[] = [];
  for (const op of Object.keys(NFP_ALU_OPS) as NfpAluOp[]) {
    out.push(NFP_ALU_OPS[op].bOnly ? nfpAlu(reg_both(3), reg_none(), op, reg_b(7)) : nfpAlu(reg_both(3), reg_a(4), op, reg_b(7)));
    out.push(NFP_ALU_OPS[op].bOnly ? nfpAlu(reg_b(30), reg_none(), op, reg_a(2)) : nfpAlu(reg_none(), reg_b(9), op, reg_imm(0xff)));
  }
  for (const op of Object.keys(NFP_SHF_OPS) as NfpShfOp[]) {
    const bOnly = NFP_SHF_OPS[op].bOnly;
    for (const sc of op === 'ashr' ? ['r_shf'] as const : ['r_rot', 'r_shf', 'l_shf'] as const) {
      out.push(nfpShf(reg_both(5), bOnly ? reg_none() : reg_a(6), op, reg_b(7), sc, sc === 'r_rot' ? 9 : 13));
      if (sc !== 'r_rot') out.push(nfpShf(reg_a(5), bOnly ? reg_none() : reg_imm(0xf), op, reg_b(1), sc, 'indirect'));
    }
  }
  out.push(nfpShf(reg_both(2), reg_a(3), 'none', reg_b(2), 'r_dshf', 7), nfpShf(reg_both(2), reg_a(3), 'none', reg_b(2), 'r_dshf', 'indirect'));
  for (const shift of [0, 1, 2] as const) {
    out.push(nfpImmed(reg_both(0), 0x1234, 'all', false, shift), nfpImmed(reg_b(21), 0xff80, 'all', true, shift), nfpImmed(reg_a(3), 0xab, 'byte', false, shift));
  }
  out.push(nfpImmed(reg_b(21), 0x2c1b, 'word', false, 2), nfpImmed(reg_a(21), 0x2c1b, 'word', false, 0), nfpImmed(reg_xfer(0), 0x42), nfpImmed(reg_lm(3, 9), 0x1234), nfpImmed(reg_none(), 0x890), nfpNop());
  out.push(
    nfpLdField(reg_both(4), 0x1, reg_xfer(0), 'r_rot', 0, true), nfpLdField(reg_both(8), 0x1, reg_xfer(0), 'r_shf', 8, true),
    nfpLdField(reg_a(21), 0xc, reg_b(2), 'l_shf', 16), nfpLdField(reg_a(0), 0xc, reg_imm(0x82), 'l_shf', 16),
    nfpLdField(reg_both(4), 0x9, reg_b(4), 'r_rot', 8), nfpLdField(reg_both(4), 0xe, reg_a(4), 'r_shf', 16),
    nfpLdField(reg_lm(3, 5), 0x3, reg_b(9), 'r_shf', 'indirect'), nfpLdField(reg_xfer(3), 0xf, reg_lm(2, 7), 'l_shf', 'indirect'),
  );
  for (const s of Object.keys(NFP_MUL_STEPS) as NfpMulStep[]) {
    out.push(NFP_MUL_STEPS[s].last ? nfpMulLast(s as '32x32_last', reg_both(10)) : nfpMul(s, reg_a(10), reg_b(21)));
  }
  for (const c of Object.keys(NFP_BR_CONDS) as NfpBrCond[]) out.push(nfpBr(c, 1245, 0), nfpBr(c, 15000, 2));
  out.push(nfpBr('br', 8191), nfpBr('br', 8192, 3), nfpBr('bne', 16383, 1));
  out.push(nfpBrBit(true, reg_a(2), 5, 300), nfpBrBit(false, reg_b(9), 31, 479, 3), nfpBrBit(true, reg_lm(1, 2), 0, 10), nfpBrBit(false, reg_xfer(4), 17, 10, 1));
  out.push(nfpBrByte(true, reg_b(4), 0, 0, 479, 1), nfpBrByte(false, reg_a(5), 2, 0xff, 479), nfpBrByte(true, reg_lm(2, 0), 2, 0x42, 12));
  out.push(nfpRtn(reg_b(0)), nfpRtn(reg_a(21), 2), nfpRtn(reg_lm(0, 0)));
  for (const csr of Object.keys(NFP_CSRS) as NfpCsr[]) out.push(nfpCsrRd(csr), nfpCsrWr(csr, reg_a(22)), nfpCsrWr(csr, reg_b(4)), nfpCsrWr(csr, reg_imm(0x40)));
  out.push(nfpCtxArb('voluntary'), nfpCtxArb([1]), nfpCtxArb([4, 5, 15]));
  for (const name of Object.keys(NFP_CMDS) as NfpCmdName[]) {
    const count = NFP_CMDS[name].lenFixed ? 5 : 1;
    for (const mode of Object.keys(NFP_CMD_MODES) as NfpCmdMode[]) {
      out.push(nfpCmd(name, mode, 0, reg_a(6), reg_b(1), count));
      out.push(nfpCmd(name, mode, 3, reg_a(0), reg_b(1), count, { swap: false, sig: 0, indirect: true }));
    }
    out.push(nfpCmd(name, '32b', 7, reg_a(2), reg_imm(0x7f), count, { defer: 2, sig: 3 }), nfpCmd(name, '32b', 1, reg_lm(1, 2), reg_b(3), count, { swap: false, sig: 14 }));
    out.push(nfpCmd(name, '32b', 31, reg_imm(0x10), reg_b(3), count, { swap: true, sig: 0 }));
  }
  return out;
}

describe('the NFP instruction table', () => {
  it('has one entry per op, each naming a real format and the mnemonics the disassembler prints', () => {
    expect(NFP_OP_NAMES).toHaveLength(13);
    const printed = new Map<NfpOp, Set<string>>();
    for (const x of everyVariant()) {
      const m = /^[^[ ]+/.exec(disasmInsn(x))![0];
      if (!printed.has(x.op)) printed.set(x.op, new Set());
      printed.get(x.op)!.add(m);
    }
    for (const op of NFP_OP_NAMES) {
      const info = NFP_OPS[op];
      expect(info.op).toBe(op);
      expect(NFP_FORMATS[info.format], op).toBeDefined();
      expect(info.cycles).toBeGreaterThan(0);
      // Every mnemonic printed for an op is one the table lists for it.
      for (const m of printed.get(op) ?? []) expect(info.mnemonics, `${op}: ${m}`).toContain(m);
    }
    expect(printed.size).toBe(NFP_OP_NAMES.length);
  });

  it('round-trips every entry and variant: encode, decode, disassemble, assemble back', () => {
    const seen = new Set<string>();
    for (const x of everyVariant()) seen.add(roundTrip(x));
    expect(seen.size).toBeGreaterThan(200);
  });

  it('round-trips 8000 random instructions', () => {
    const g = new Gen(rng(0x5eed));
    for (let i = 0; i < 8000; i++) roundTrip(g.any());
  });

  it('says which immediates fit an operand field (jit.c ur_load_imm_any / re_load_imm_any)', () => {
    expect([nfpImmFits('alu', 0xff), nfpImmFits('alu', 0x100), nfpImmFits('alu_shf', 0xff), nfpImmFits('cmd', 0x7f), nfpImmFits('cmd', 0x80), nfpImmFits('br', 1)])
      .toEqual([true, false, true, true, false, false]);
    for (const op of NFP_OP_NAMES) {
      expect(['unrestricted', 'restricted', 'none']).toContain(NFP_OPS[op].operands);
      const w = NFP_FORMATS[NFP_OPS[op].format].fields;
      if (NFP_OPS[op].operands === 'unrestricted') expect((w as Record<string, readonly [number, number]>)['a_src']?.[1], op).toBe(10);
      if (NFP_OPS[op].operands === 'restricted') expect((w as Record<string, readonly [number, number]>)['a_src']?.[1], op).toBe(8);
    }
  });

  it('only lets plain ALU-class instructions sit in defer slots', () => {
    expect(NFP_OP_NAMES.filter((op) => NFP_OPS[op].deferSlot).sort()).toEqual(['alu', 'alu_shf', 'immed', 'ld_field', 'local_csr_wr', 'mul_step']);
  });
});

describe('encodings against the NFP assembler (binutils testsuite objdump of NFP-6xxx code)', () => {
  // [word with ECC as the code store holds it, nfp-dis.c text]; register numbers < 16 so ctx4 reads them alike.
  const VECTORS: [string, string][] = [
    ['000540f0012cd000', 'immed[gprA_0, 0x1234]'], ['000660f0012cd200', 'immed[*l$index0, 0x1234]'],
    ['0007c0f0012cd220', 'immed[*l$index1, 0x1234]'], ['000fa0f0012cd230', 'immed[*l$index1++, 0x1234]'],
    ['000f40f0012cd231', 'immed[*l$index1--, 0x1234]'], ['0007e0f0012cd203', 'immed[*l$index0[3], 0x1234]'],
    ['000000f00ff003ff', 'immed[gprB_0, 0xffff]'], ['000d60f220000bff', 'immed_b1[gprB_2, 0xff]'],
    ['000080f080000f00', 'immed[gprB_3, 0xffffffff]'], ['000100f086600f77', 'immed[gprB_3, 0xffff9988]'],
    ['000940f0012cd180', 'immed[$xfer_0, 0x1234]'], ['000a00f0043c8581', 'immed[$xfer_1, 0x4321]'],
    ['0007c0f0400e8401', 'immed_w0[gprA_1, 0xa1]'], ['000440f4400e8802', 'immed_w1[gprA_2, 0xa2]'],
    ['000d00f4000e8c03', 'immed[gprA_3, 0xa3, <<16]'], ['000520f001200334', 'immed[gprB_0, 0x1234]'],
    ['000c20f440000bb2', 'immed_w1[gprB_2, 0xb2]'], ['000660f200000fb3', 'immed[gprB_3, 0xb3, <<8]'],
    ['000000f0000c0300', 'nop'], ['0005a081f200da00', 'alu_shf[--, --, B, 0x16, <<1]'],
    ['000fa081f800da00', 'alu_shf[$xfer_0, --, B, 0x16, <<1]'], ['000880a0a00c2400', 'alu[*l$index0, gprA_0, +, 0x9]'],
    ['000b208bc500a600', 'alu_shf[*l$index0, gprA_0, OR, 0x9, <<4]'], ['000740a0a30c2400', 'alu[*l$index1++, gprA_0, +, 0x9]'],
    ['000200a0a31c2400', 'alu[*l$index1--, gprA_0, +, 0x9]'], ['000628a0a00c2400', 'alu[*l$index2, gprA_0, +, 0x9]'],
    ['0005a8a0a20c2400', 'alu[*l$index3, gprA_0, +, 0x9]'], ['000480a0a03c2400', 'alu[*l$index0[3], gprA_0, +, 0x9]'],
    ['000cc4b0c008a400', 'alu[gprB_0, *l$index3[9], +, gprA_0]'], ['000724b080000230', 'alu[gprB_0, *l$index3++, +, gprB_0]'],
    ['000e40a0c0000402', 'alu[gprA_0, gprB_1, +, gprA_2]'], ['000340a2c0000402', 'alu[gprA_0, gprB_1, +16, gprA_2]'],
    ['0007a0a8c0000402', 'alu[gprA_0, gprB_1, +carry, gprA_2]'], ['000d40a6c0000402', 'alu[gprA_0, gprB_1, -carry, gprA_2]'],
    ['000aa0aac0000402', 'alu[gprA_0, gprB_1, -, gprA_2]'], ['000da0aa40000402', 'alu[gprA_0, gprB_1, OR, gprA_2]'],
    ['000740a440000402', 'alu[gprA_0, gprB_1, AND, gprA_2]'], ['000a40a640000402', 'alu[gprA_0, gprB_1, ~AND, gprA_2]'],
    ['0000a0a840000402', 'alu[gprA_0, gprB_1, AND~, gprA_2]'], ['000ea0ac40000402', 'alu[gprA_0, gprB_1, XOR, gprA_2]'],
    ['0009e2a0c0000402', 'alu[gprA_0, gprB_1, +, gprA_2], gpr_wrboth'], ['000ea28a90080402', 'alu_shf[gprA_0, gprB_1, OR, gprA_2, >>rot9], gpr_wrboth'],
    ['000ba08a00080602', 'alu_shf[gprA_0, gprB_1, OR, gprA_2, <<indirect]'], ['0000208a00080502', 'alu_shf[gprA_0, gprB_1, OR, gprA_2, >>indirect]'],
    ['000ae09d40380101', 'asr[gprB_3, gprA_1, >>20]'], ['000ba28d40380101', 'asr[gprA_3, gprA_1, >>20], gpr_wrboth'],
    ['0000249d40316100', 'asr[gprB_3, *l$index3, >>20]'], ['0008c0d818c08120', 'beq[.99]'],
    ['000440d877e08120', 'beq[.479], defer[2]'], ['000c60d818c08038', 'br[.99]'], ['000920d818d08038', 'br[.99], defer[1]'],
    ['000bc0d077c09000', 'br_bclr[gprA_0, 3, .479]'], ['000980d077c0e004', 'br_bclr[gprA_4, 23, .479]'],
    ['0002a0d077c0082c', 'br_bclr[gprB_2, 11, .479]'], ['000f00d077f02423', 'br_bclr[gprB_9, 2, .479], defer[3]'],
    ['000680d077c42c2b', 'br_bset[gprB_11, 10, .479]'], ['0006e0d077c4ac0b', 'br_bset[gprA_11, 10, .479]'],
    ['0002a0c877d81020', 'br=byte[gprB_4, 0, 0x0, .479], defer[1]'], ['0001a4c877c94220', 'br=byte[*l$index2, 2, 0x0, .479]'],
    ['000420c877c816a2', 'br=byte[gprB_5, 2, 0x42, .479]'], ['000380c877c416ff', 'br!=byte[gprB_5, 2, 0xff, .479]'],
    ['000600e000000001', 'ctx_arb[voluntary]'], ['000460e000000220', 'ctx_arb[sig5, sig9]'],
    ['0006409010500701', 'dbl_shf[gprB_5, gprA_1, gprB_1, >>1]'], ['0000c09000500701', 'dbl_shf[gprB_5, gprA_1, gprB_1, >>indirect]'],
    ['0007e2c001000000', 'ld_field[gprA_0, 0001, gprB_0], gpr_wrboth'], ['000080c005100000', 'ld_field_w_clr[gprA_0, 0101, gprB_0]'],
    ['0005e0c1fb000200', 'ld_field[gprA_0, 1011, gprB_0, <<1]'], ['000460c01b000100', 'ld_field[gprA_0, 1011, gprB_0, >>1]'],
    ['000bc0c09b000000', 'ld_field[gprA_0, 1011, gprB_0, >>rot9]'], ['000400f0001f7c01', 'immed[gprA_1, 0x1df]'],
    ['000480f800000c02', 'mul_step[gprA_2, gprB_3], start'], ['000880f980000c02', 'mul_step[gprA_2, gprB_3], 32x32_step1'],
    ['000480f980300c02', 'mul_step[gprA_2, gprB_3], 32x32_step4'], ['000fe0f900100802', 'mul_step[gprA_2, gprB_2], 16x16_step2'],
    ['000480e8000c0000', 'rtn[gprA_0]'], ['000dc0e800200300', 'rtn[gprB_0], defer[2]'],
    ['000c405c4280a009', 'mem[read32, $xfer_8, gprA_9, <<8, 0x8, 2], ctx_swap[sig4]'],
    ['000cc0474a80a009', 'mem[add64, $xfer_8, gprA_9, <<8, 0x8, 6], ctx_swap[sig4]'],
  ];

  it('decodes each word to the same text, and encodes it back with the same ECC', () => {
    for (const [h, text] of VECTORS) {
      const w = BigInt(`0x${h}`);
      const x = decodeWord(w);
      expect(disasmInsn(x), h).toBe(text);
      expect(nfp_ustore_calc_ecc_insn(encodeInsn(x)), text).toBe(w);
      expect(encodeInsn(assemble(text)[0]!), text).toBe(w & ((1n << 45n) - 1n));
    }
  });

  it('refuses what the assembler fills differently from the kernel emitter, and instructions not modeled', () => {
    const reason = (h: string): string => {
      try { decodeWord(BigInt(`0x${h}`)); return 'decoded'; } catch (e) { expect(e).toBeInstanceOf(BpfError); expect((e as BpfError).errno).toBe('EINVAL'); return (e as Error).message; }
    };
    // The kernel leaves the unused A operand of `B` at REG_NONE (0); nfas puts an immediate there.
    expect(reason('000ba0a0300c2f00')).toMatch(/not a canonical encoding \(would be 0xa0300c2c00\)/);
    // Not modeled: next-neighbour registers, CAM, CRC, no_cc, byte_align, +8, cls targets.
    for (const h of ['0002c0f0012cd280', '000360bb80900007', '000d20a918060348', '000321a0c0000402', '0008c08e00981200', '000040a4c0000402', '000a106440800c09']) {
      expect(reason(h), h).not.toBe('decoded');
    }
    expect(reason('0000000000000000')).toMatch(/0x0: command target 0x0 is not a memory unit/);
    expect(reason('ff000000000c0300')).toMatch(/bits above the ECC are set/);
  });
});

describe('operand placement (nfp_asm.c swreg rules)', () => {
  const fault = (f: () => unknown): string => {
    try { f(); return 'ok'; } catch (e) { expect((e as BpfError).errno).toBe('EFAULT'); return (e as Error).message; }
  };

  it('swaps when the left operand is in bank B or the right one in bank A, and prints operands in their logical order', () => {
    const plain = encodeInsn(nfpAlu(reg_both(2), reg_a(2), 'add', reg_b(4)));
    const swapped = encodeInsn(nfpAlu(reg_both(2), reg_b(4), 'add', reg_a(2)));
    expect(Number((plain >> 30n) & 1n)).toBe(0);
    expect(Number((swapped >> 30n) & 1n)).toBe(1);
    expect(disasmInsn(decodeWord(swapped))).toBe('alu[gprA_2, gprB_4, +, gprA_2], gpr_wrboth');
    expect(disasmInsn(nfpMov(reg_both(3), reg_a(2)))).toBe('alu[gprA_3, --, B, gprA_2], gpr_wrboth');
  });

  it('refuses what the hardware cannot hold', () => {
    expect(fault(() => encodeInsn(nfpAlu(reg_both(1), reg_a(1), 'add', reg_a(2))))).toMatch(/both operands are gpr_a/);
    expect(fault(() => encodeInsn(nfpAlu(reg_both(1), reg_lm(0, 1), 'add', reg_lm(1, 2))))).toMatch(/both operands are lm/);
    expect(fault(() => encodeInsn(nfpAlu(reg_both(1), reg_both(1), 'add', reg_b(2))))).toMatch(/reg_both is only a destination/);
    expect(fault(() => encodeInsn(nfpShf(reg_both(1), reg_a(1), 'and', reg_imm(0x80), 'r_shf', 3)))).toBe('ok');
    expect(fault(() => encodeInsn(nfpCmd('read32', '32b', 0, reg_a(1), reg_imm(0x80), 1)))).toMatch(/too large for a restricted operand/);
    expect(fault(() => encodeInsn(nfpShf(reg_both(1), reg_none(), 'none', reg_lm(0, 8), 'r_shf', 3)))).toMatch(/beyond a restricted operand's reach/);
    expect(fault(() => encodeInsn(nfpShf(reg_both(1), reg_none(), 'none', reg_lm_inc(0), 'r_shf', 3)))).toMatch(/no LM post-increment/);
    expect(fault(() => encodeInsn(nfpCmd('read32', '32b', 0, reg_b(1), reg_a(2), 1)))).toMatch(/cmd can't swap arguments/);
    expect(fault(() => encodeInsn(nfpCmd('read32', '32b', 0, reg_lm(3, 0), reg_b(2), 1)))).toMatch(/cmd can't use LMextn/);
    expect(fault(() => encodeInsn(nfpCmd('read32', '40b_ba', 0, reg_imm(1), reg_lm(0, 0), 1)))).toMatch(/40-bit address needs a GPR/);
    expect(fault(() => nfpShf(reg_both(1), reg_none(), 'none', reg_b(1), 'r_rot', 'indirect'))).toMatch(/indirect shift is not allowed on rotation/);
    expect(fault(() => nfpCmd('add64', '32b', 0, reg_a(1), reg_b(1), 1))).toMatch(/add64 cannot carry a length of 1/);
    expect(fault(() => reg_imm(0x100))).toMatch(/immediate 256 out of range/);
    expect(fault(() => reg_a(32))).toMatch(/GPR 32 out of range/);
  });

  it('uses the LM extension bits for pointers 2 and 3', () => {
    const w = encodeInsn(nfpAlu(reg_lm(3, 9), reg_a(0), 'add', reg_imm(9)));
    expect(Number((w >> 43n) & 1n)).toBe(1);
    expect(Number((w >> 42n) & 1n)).toBe(0);
    const r = encodeInsn(nfpAlu(reg_b(0), reg_lm(2, 1), 'add', reg_a(0)));
    expect(Number((r >> 42n) & 1n)).toBe(1);
  });
});

describe('immediates (jit.c pack_immed / wrp_immed)', () => {
  it('packs a 16-bit value shifted by 0, 1 or 2 bytes, else its inversion, else two instructions', () => {
    expect(packImmed(0x3fff)).toEqual({ val: 0x3fff, shift: 0 });
    expect(packImmed(0x00abcd00)).toEqual({ val: 0xabcd, shift: 1 });
    expect(packImmed(0x12340000)).toEqual({ val: 0x1234, shift: 2 });
    expect(packImmed(0x12345678)).toBeNull();
    expect(wrpImmed(reg_both(0), 0x2).map(disasmInsn)).toEqual(['immed[gprA_0, 0x2], gpr_wrboth']);
    expect(wrpImmed(reg_both(2), 0xfffff000).map(disasmInsn)).toEqual(['immed[gprA_2, 0xfffff000], gpr_wrboth']);
    expect(wrpImmed(reg_b(21), 0x007fffff).map(disasmInsn)).toEqual(['immed[gprB_21, 0xffff007f, <<16]']);
    expect(wrpImmed(reg_b(21), 0x2c1b3c6d).map(disasmInsn)).toEqual(['immed[gprB_21, 0x3c6d]', 'immed_w1[gprB_21, 0x2c1b]']);
    expect(wrpImmed(reg_both(18), 0xffff0000).map(disasmInsn)).toEqual(['immed[gprA_18, 0xffff, <<16], gpr_wrboth']);
  });
});

describe('the bpftool dump text', () => {
  it('prints byte offsets, the .N prefix aligned for the image length, and with opcodes the bytes', () => {
    expect(nfpPcPrefix(0, 1267)).toBe('   .0  ');
    expect(nfpPcPrefix(99, 1267)).toBe('  .99  ');
    expect(nfpPcPrefix(1245, 1267)).toBe('.1245  ');
    expect(nfpPcPrefix(5, 9)).toBe('.5  ');
    const img = wordsToBytes(buildImage(assemble('immed[gprB_22, 0x3fff]\nalu[gprB_22, gprB_22, AND, *l$index1]\nbcc[.1245]')));
    const lines = formatJitedDump(img).split('\n');
    expect(lines[0]).toBe('   0:\t .0  immed[gprB_22, 0x3fff]');
    expect(lines[1]).toBe('   8:\t .1  alu[gprB_22, gprB_22, AND, *l$index1]');
    expect(lines[2]).toBe('  10:\t .2  bcc[.1245]');
    expect(lines[3]).toBe('  18:\t .3  nop');
    expect(lines[10]).toBe('  50:\t.10  nop');
    expect(lines).toHaveLength(3 + NFP_USTORE_PREFETCH_WINDOW + 1);
    const op = formatJitedDump(img.subarray(0, 16), { opcodes: true }).split('\n');
    expect(op[0]).toBe('   0:\t.0  immed[gprB_22, 0x3fff]');
    expect(op[1]).toMatch(/^\t([0-9a-f]{2} ){8}$/);
    expect(bytesToWords(img.subarray(0, 8))[0]).toBe(encodeInsn(assemble('immed[gprB_22, 0x3fff]')[0]!));
  });

  it('reads its own dump back', () => {
    const text = 'immed[gprB_22, 0x3fff]\nmem[read32_swap, $xfer_0, gprA_6, 0xc, 1], ctx_swap[sig1]\nld_field_w_clr[gprA_4, 0001, $xfer_0], gpr_wrboth\nbr[.15000], defer[2]\nalu[gprA_0, --, B, 0x0]\nld_field[gprA_0, 1100, 0x82, <<16]';
    const words = buildImage(assemble(text));
    const dump = formatJitedDump(wordsToBytes(words));
    expect(assemble(dump).map(encodeInsn)).toEqual(words);
  });

  it('shows a word it cannot decode the way nfp-dis.c does', () => {
    const img = wordsToBytes([0x00a0300c2f00n]);
    expect(formatJitedDump(img)).toBe('   0:\t.0  <invalid_instruction>: 0xa0300c2f00\t # ERROR\n');
  });
});

describe('images and relocation', () => {
  it('appends the prefetch window and refuses images over the limit with the JIT message', () => {
    const insns = assemble('immed[gprA_0, 0x1]');
    expect(buildImage(insns)).toHaveLength(1 + NFP_USTORE_PREFETCH_WINDOW);
    expect(() => buildImage(insns, { maxInsns: 8 })).toThrow(/instruction limit reached \(8 NFP instructions\)/);
    try { buildImage(insns, { maxInsns: 8 }); } catch (e) { expect((e as BpfError).errno).toBe('ENOSPC'); }
  });

  it('moves branch targets and immed values in place (br_set_offset, immed_set_value)', () => {
    const br = encodeInsn(nfpBr('bcc', 15000, 2));
    expect(br_get_offset(br)).toBe(15000);
    expect(disasmInsn(decodeWord(br_set_offset(br, 42)))).toBe('bcc[.42], defer[2]');
    expect(br_get_offset(br_add_offset(encodeInsn(nfpBr('br', 10)), 256))).toBe(266);
    expect(br_get_offset(br_set_offset(encodeInsn(nfpBrBit(true, reg_a(2), 5, 1)), 9000))).toBe(9000);
    const im = encodeInsn(nfpImmed(reg_b(0), 0x12));
    expect(immed_get_value(im)).toBe(0x12);
    expect(disasmInsn(decodeWord(immed_set_value(im, 0x3456)))).toBe('immed[gprB_0, 0x3456]');
    expect(() => br_set_offset(im, 1)).toThrow(/not a branch/);
  });
});

describe('the assembler', () => {
  it('takes labels, comments and dump prefixes', () => {
    const x = assemble(`
      ; a loop
      top:  alu[gprA_1, gprA_1, -, 0x1], gpr_wrboth
            bne[.top]            # back
            immed[gprB_0, .top]
      1f8:  .63  nop
    `, { base: 300 });
    expect(x.map(disasmInsn)).toEqual(['alu[gprA_1, gprA_1, -, 0x1], gpr_wrboth', 'bne[.300]', 'immed[gprB_0, 0x12c]', 'nop']);
  });

  it('says which line is wrong and why', () => {
    expect(() => assemble('nop\nalu[gprA_0, gprA_1, ?, gprB_2]')).toThrow(/line 2: .*'\?' is not an ALU operator/);
    expect(() => assemble('br[.nowhere]')).toThrow(/unknown label 'nowhere'/);
    expect(() => assemble('frob[gprA_0]')).toThrow(/'frob' is not a modeled instruction/);
    expect(() => assemble('local_csr_wr[CtxEnables, gprA_0]')).toThrow(/local CSR 'CtxEnables' is not modeled/);
  });
});
