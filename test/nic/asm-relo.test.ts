// The dump of an unrelocated JIT image: the nfp JIT keeps its relocation type in the top byte of each
// word (OP_RELO_TYPE) and the kernel hands exactly those words to bpftool, whose libbfd disassembler
// reads only the instruction bits. The text must not change with that byte or the ECC bits; `opcodes`
// still shows the raw bytes.
import { describe, expect, it } from 'vitest';
import { assemble, encodeInsn, formatJitedDump, nfp_ustore_calc_ecc_insn, wordsToBytes } from '../../src/nic/asm.js';

describe('formatJitedDump of unrelocated words', () => {
  const text = 'br[.15001], defer[2]\nimmed[gprB_0, 0x9]\nalu[gprA_0, --, B, gprA_4]';
  const plain = assemble(text).map(encodeInsn);

  it('ignores the relocation byte and the ECC bits in the text', () => {
    const relo = [plain[0]! | (7n << 56n), plain[1]! | (8n << 56n), plain[2]!];
    const withEcc = plain.map(nfp_ustore_calc_ecc_insn);
    const expected = formatJitedDump(wordsToBytes(plain));
    expect(expected).not.toContain('invalid_instruction');
    expect(formatJitedDump(wordsToBytes(relo))).toBe(expected);
    expect(formatJitedDump(wordsToBytes(withEcc))).toBe(expected);
  });

  it('shows the relocation byte among the opcodes', () => {
    const relo = [plain[0]! | (7n << 56n)];
    const lines = formatJitedDump(wordsToBytes(relo), { opcodes: true }).split('\n');
    expect(lines[1]).toMatch(/ 07 $/);
  });
});

describe('mul_step last without a destination', () => {
  it('encodes, decodes and prints as jit.c emits it for the reciprocal division (only last2 is kept)', () => {
    const text = 'mul_step[gprA_4, gprB_21], start\nmul_step[gprA_4, gprB_21], 32x32_step1\nmul_step[gprA_4, gprB_21], 32x32_step2\n'
      + 'mul_step[gprA_4, gprB_21], 32x32_step3\nmul_step[gprA_4, gprB_21], 32x32_step4\nmul_step[--, --], 32x32_last\nmul_step[gprA_21, --], 32x32_last2, gpr_wrboth';
    const words = assemble(text).map(encodeInsn);
    const dump = formatJitedDump(wordsToBytes(words));
    expect(dump).toContain('mul_step[--, --], 32x32_last\n');
    expect(dump).not.toContain('invalid_instruction');
    expect(assemble(dump).map(encodeInsn)).toEqual(words);
  });
});
