import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { assemble } from '../../src/bpf/asm.js';
import { disassemble, formatInsn } from '../../src/bpf/disasm.js';
import { BpfError } from '../../src/bpf/errno.js';
import { decodeProgram, encode, insn, type Insn } from '../../src/bpf/insn.js';
import { assembleUbpf } from '../../src/bpf/ubpf.js';
import { parseConformance, type ConformanceCase } from '../../src/kernel/exec/conformance.js';
import { allSamples } from './asm-samples.js';

/** The EINVAL message an input raises. */
function refusal(text: string): string {
  try {
    assembleUbpf(text);
  } catch (e) {
    expect(e).toBeInstanceOf(BpfError);
    expect((e as BpfError).errno).toBe('EINVAL');
    return (e as BpfError).message;
  }
  throw new Error(`assembled without complaint: ${text}`);
}

describe('uBPF syntax', () => {
  it('reads back what it prints, for every table entry and variant', () => {
    for (const [op, prog] of allSamples()) {
      const text = formatInsn(prog, 0, { flavour: 'ubpf' });
      expect(assembleUbpf(text), `${op.name}: ${text}`).toEqual(prog);
    }
  });

  it('prints the suite\'s spellings', () => {
    const u = (xs: Insn[]) => formatInsn(xs, 0, { flavour: 'ubpf' });
    expect(u([insn(0x61, 0, 1, 4)])).toBe('ldxw %r0, [%r1+4]');
    expect(u([insn(0x79, 0, 10, -8)])).toBe('ldxdw %r0, [%r10-8]');
    expect(u([insn(0x71, 0, 1, 0)])).toBe('ldxb %r0, [%r1]');
    expect(u([insn(0xdb, 10, 1, -8, 0x01)])).toBe('lock fetch add [%r10-8], %r1');
    expect(u([insn(0xc3, 10, 1, -8, 0xf1)])).toBe('lock cmpxchg32 [%r10-8], %r1');
    expect(u([insn(0xbc, 0, 1, 16)])).toBe('movsx1632 %r0, %r1');
    expect(u([insn(0x06, 0, 0, 0, 3)])).toBe('ja32 +3');
    expect(u([insn(0x8d, 2)])).toBe('call %r2');
    expect(u([insn(0x85, 0, 1, 0, 4)])).toBe('call local +4');
    expect(u([insn(0x18, 0, 0, 0, 0x55667788), insn(0, 0, 0, 0, 0x11223344)])).toBe('lddw %r0, 0x1122334455667788');
    expect(u([insn(0xb4, 1, 0, 0, -2)])).toBe('mov32 %r1, -2');
    expect(u([insn(0xb4, 1, 0, 0, 0x87654321)])).toBe('mov32 %r1, 0x87654321');
    expect(u([insn(0x2d, 1, 2, -3)])).toBe('jgt %r1, %r2, -3');
  });

  it('takes the aliases the suite uses', () => {
    expect(assembleUbpf('swap16 %r0')).toEqual(assembleUbpf('bswap16 %r0'));
    expect(assembleUbpf('call %r2')).toEqual([insn(0x8d, 2)]);
    expect(assembleUbpf('callx %r2')).toEqual([insn(0x8d, 2)]);
    expect(assembleUbpf('call helper 5')).toEqual(assembleUbpf('call 5'));
    expect(assembleUbpf('lock add [%r10-8], %r1')).toEqual([insn(0xdb, 10, 1, -8, 0)]);
  });

  it('spells the Linux-only instructions', () => {
    expect(assembleUbpf('lddw %r1, map_fd 5')).toEqual([insn(0x18, 1, 1, 0, 5), insn(0)]);
    expect(assembleUbpf('lddw %r1, map_value 5, 8')).toEqual([insn(0x18, 1, 2, 0, 5), insn(0, 0, 0, 0, 8)]);
    expect(assembleUbpf('lddw %r2, func sub\nexit\nsub: exit')).toEqual([insn(0x18, 2, 4, 0, 2), insn(0), insn(0x95), insn(0x95)]);
    expect(assembleUbpf('call runtime 1234, 2')).toEqual([insn(0x85, 0, 2, 2, 1234)]);
    expect(assembleUbpf('ldabsh 12\nldindb %r1, 14')).toEqual([insn(0x28, 0, 0, 0, 12), insn(0x50, 0, 1, 0, 14)]);
  });

  it('lets `exit` name the first exit unless a label does', () => {
    expect(assembleUbpf('jeq %r1, 0, exit\nmov %r0, 1\nexit\nexit')[0]).toEqual(insn(0x15, 1, 0, 1, 0));
    expect(assembleUbpf('jeq %r1, 0, exit\nexit\nexit:\nexit')[0]).toEqual(insn(0x15, 1, 0, 1, 0));
  });

  it('refuses bad input with the line and the problem', () => {
    expect(refusal('mov %r0, 1\nldxq %r0, %r1')).toBe("line 2: invalid mnemonic 'ldxq' in 'ldxq %r0, %r1'");
    expect(refusal('or %r0, %r50')).toMatch(/^line 1: invalid register %r50/);
    expect(refusal('lddw %r0')).toMatch(/invalid number of operands for lddw: expected 2 to 3, got 1/);
    expect(refusal('lock or [%r10-8]')).toMatch(/invalid number of operands for lock or: expected 2, got 1/);
    expect(refusal('lock')).toMatch(/invalid number of operands for lock/);
    expect(refusal('mov32 %r0, 2147483648')).toMatch(/immediate 2147483648 out of the 32-bit range/);
    expect(refusal('mov32 %r0, 0x100000000')).toMatch(/immediate 0x100000000 out of the 32-bit range/);
    expect(refusal('ldxb %r0, [%r1+0x10000]')).toMatch(/offset \+0x10000 out of the 16-bit range/);
    expect(refusal('ldxb %r0, %r1')).toMatch(/invalid memory operand '%r1'/);
    expect(refusal('ja NOT_A_LABEL\nexit')).toMatch(/^line 1: undefined label 'NOT_A_LABEL'/);
    expect(refusal('neg %r0, 1')).toMatch(/invalid number of operands for neg: expected 1, got 2/);
    expect(refusal('movsx832 %r0, 5')).toMatch(/movsx832 takes a register operand here/);
    expect(refusal('lddw %r1, map_fdx 5')).toMatch(/invalid lddw source 'map_fdx'/);
  });
});

// shared/ sits beside the repository, in a developer's tree and in CI alike.
const SUITE = join(import.meta.dirname, '..', '..', '..', 'shared', 'conformance');
const TESTS = join(SUITE, 'tests');
const NEGATIVE = join(SUITE, 'negative');
const dataFiles = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.data')).sort() : []);
const load = (dir: string, f: string): ConformanceCase => parseConformance(readFileSync(join(dir, f), 'utf8'), f);

describe.skipIf(!existsSync(TESTS))(`bpf_conformance tests/${existsSync(TESTS) ? '' : ` (skipped: ${TESTS} absent)`}`, () => {
  it('assembles every program, matches its raw words, and reads back in both syntaxes', () => {
    let programs = 0;
    let raws = 0;
    for (const f of dataFiles(TESTS)) {
      const c = load(TESTS, f);
      if (c.asm === undefined) continue;
      const prog = assembleUbpf(c.asm);
      programs++;
      expect(decodeProgram(encode(prog)), f).toHaveLength(prog.length);
      if (c.raw !== undefined) {
        expect(Array.from(encode(prog)), f).toEqual(Array.from(c.raw));
        raws++;
      }
      expect(assembleUbpf(disassemble(prog, { flavour: 'ubpf' }).join('\n')), f).toEqual(prog);
      expect(assemble(disassemble(prog, { lossless: true }).join('\n')), f).toEqual(prog);
    }
    expect(programs).toBeGreaterThan(300);
    expect(raws).toBeGreaterThan(0);
  });
});

/**
 * The negative files: `invalid_*` with an `-- asm` are the suite's assembler refusals; other `-- asm`
 * files are refused when they run, so they must assemble; `-- raw` files carry encodings that
 * decodeProgram must refuse. A file with a section the format does not define (`-- Unknown directive`)
 * is a file-format error for the .data reader, and one with no program has nothing to assemble.
 */
const SECTIONS = new Set(['asm', 'raw', 'mem', 'result', 'error', 'c', 'no register offset']);

describe.skipIf(!existsSync(NEGATIVE))(`bpf_conformance negative/${existsSync(NEGATIVE) ? '' : ` (skipped: ${NEGATIVE} absent)`}`, () => {
  for (const f of dataFiles(NEGATIVE)) {
    const text = readFileSync(join(NEGATIVE, f), 'utf8');
    const unknown = [...text.matchAll(/^--\s*(.*?)\s*$/gm)].map((m) => m[1]!).filter((s) => !SECTIONS.has(s));
    const c = load(NEGATIVE, f);
    if (unknown.length > 0) {
      it.skip(`${f} (not about assembly: unknown section '-- ${unknown[0]}')`, () => {});
    } else if (c.asm !== undefined && f.startsWith('invalid_')) {
      it(`${f} fails to assemble`, () => {
        const message = refusal(c.asm!);
        expect(message).toMatch(/^line \d+: /);
        if (c.error !== undefined) expect(message.toLowerCase()).toContain(c.error.toLowerCase());
      });
    } else if (c.asm !== undefined) {
      it(`${f} assembles (it is refused at run time)`, () => {
        expect(assembleUbpf(c.asm!).length).toBeGreaterThan(0);
      });
    } else if (c.raw !== undefined) {
      it(`${f} is refused by decodeProgram`, () => {
        expect(() => decodeProgram(c.raw!)).toThrow(BpfError);
      });
    } else {
      it.skip(`${f} (no program: nothing to assemble or decode)`, () => {});
    }
  }
});
