import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { assemble } from '../../src/bpf/asm.js';
import { disassemble, formatInsn } from '../../src/bpf/disasm.js';
import { BpfError } from '../../src/bpf/errno.js';
import { decodeRaw, insn, type Insn } from '../../src/bpf/insn.js';
import type { OpInfo } from '../../src/bpf/opcodes.js';
import { allSamples } from './asm-samples.js';

/** The BpfError an input raises, checked to be EINVAL. */
function refusal(text: string): string {
  try {
    assemble(text);
  } catch (e) {
    expect(e).toBeInstanceOf(BpfError);
    expect((e as BpfError).errno).toBe('EINVAL');
    return (e as BpfError).message;
  }
  throw new Error(`assembled without complaint: ${text}`);
}

describe('LLVM-syntax assembler', () => {
  it('reads back what the llvm flavour prints, for every table entry and variant (plain, +alu32, lossless)', () => {
    for (const [op, prog] of allSamples()) {
      for (const alu32 of [false, true]) {
        const text = formatInsn(prog, 0, { lossless: true, alu32 });
        expect(assemble(text), `${op.name}: ${text}`).toEqual(prog);
      }
    }
  });

  it('reads back a whole listing', () => {
    const prog = allSamples().flatMap(([, p]) => p);
    expect(assemble(disassemble(prog, { lossless: true }).join('\n'))).toEqual(prog);
  });

  it('encodes the spellings llvm-objdump prints', () => {
    const cases: [string, Insn[]][] = [
      ['r0 = *(u32 *)(r1 + 4)', [insn(0x61, 0, 1, 4)]],
      ['w1 = w2', [insn(0xbc, 1, 2)]],
      ['r1 += -8', [insn(0x07, 1, 0, 0, -8)]],
      ['if r1 > r2 goto +24', [insn(0x2d, 1, 2, 24)]],
      ['if w1 s< 5 goto -3', [insn(0xc6, 1, 0, -3, 5)]],
      ['lock *(u64 *)(r0 + 0) += r1', [insn(0xdb, 0, 1, 0, 0)]],
      ['r0 = atomic_fetch_add((u64 *)(r10 - 8), r0)', [insn(0xdb, 10, 0, -8, 0x01)]],
      ['w0 = cmpxchg32_32(r1 + 2, w0, w3)', [insn(0xc3, 1, 3, 2, 0xf1)]],
      ['r0 = be16 r0', [insn(0xdc, 0, 0, 0, 16)]],
      ['call 1', [insn(0x85, 0, 0, 0, 1)]],
      ['exit', [insn(0x95)]],
      ['r1 = 0 ll', [insn(0x18, 1), insn(0)]],
      ['r2 = -1 ll', [insn(0x18, 2, 0, 0, -1), insn(0, 0, 0, 0, -1)]],
      ['r0 = *(u16 *)skb[12]', [insn(0x28, 0, 0, 0, 12)]],
      ['r0 = *(u8 *)skb[r3]', [insn(0x50, 0, 3)]],
      ['r0 = (s32)r1', [insn(0xbf, 0, 1, 32)]],
      ['r1 s/= 3', [insn(0x37, 1, 0, 1, 3)]],
      ['r0 = *(s8 *)(r1 - 1)', [insn(0x91, 0, 1, -1)]],
      ['w1 = 0xffffffff', [insn(0xb4, 1, 0, 0, -1)]],
      ['ld_pseudo r1, 1, 5', [insn(0x18, 1, 1, 0, 5), insn(0)]],
      ['callx r5', [insn(0x8d, 5)]],
    ];
    for (const [text, want] of cases) expect(assemble(text), text).toEqual(want);
  });

  it('resolves labels to pc-relative distances for jumps, calls and gotol', () => {
    const prog = assemble(`
      start:
        r0 = 0
        if r1 == 0 goto out   # forward, over the two-slot lddw
        r2 = 0x1122334455667788 ll
        call sub
      loop: r0 += 1
        if w0 < 10 goto loop
        gotol start
      out:
        exit
      sub:
        r0 = 7
        exit`);
    expect(prog[1]).toEqual(insn(0x15, 1, 0, 6, 0)); // index 1 -> out at 8
    expect(prog[4]).toEqual(insn(0x85, 0, 1, 0, 4)); // bpf-to-bpf call, index 4 -> sub at 9
    expect(prog[6]).toEqual(insn(0xa6, 0, 0, -2, 10)); // index 6 -> loop at 5
    expect(prog[7]).toEqual(insn(0x06, 0, 0, 0, -8)); // index 7 -> start at 0
    expect(prog).toHaveLength(11);
  });

  it('takes comments and blank lines', () => {
    expect(assemble('; a comment\n\n  r0 = 1 // set\n# done\nexit')).toEqual([insn(0xb7, 0, 0, 0, 1), insn(0x95)]);
  });

  it('refuses bad input with the line and the problem', () => {
    expect(refusal('r0 = 0\nr11 = 1')).toBe("line 2: invalid register r11: BPF has r0-r10 in 'r11 = 1'");
    expect(refusal('r1 += w2')).toMatch(/^line 1: r and w registers mixed/);
    expect(refusal('goto nowhere\nexit')).toBe("line 1: undefined label 'nowhere' in 'goto nowhere'");
    expect(refusal('r1 = 0x100000000')).toMatch(/does not fit 32 bits \(a 64-bit constant needs the 'll' suffix\)/);
    expect(refusal('*(u32 *)(r1 + 40000) = r2')).toMatch(/offset 40000 does not fit 16 bits/);
    expect(refusal('frob r1')).toMatch(/unknown instruction 'frob'/);
    expect(refusal('w1 = (s32)w2')).toMatch(/no 32-bit sign extension from \(s32\)/);
    expect(refusal('r1 = -r2')).toMatch(/negation works in place/);
    expect(refusal('a:\na:\nexit')).toMatch(/^line 2: duplicate label 'a'/);
    expect(refusal('if r1 += r2 goto +1')).toMatch(/unknown comparison '\+='/);
    expect(refusal('r0 = *(u64 *)skb[1]')).toMatch(/legacy packet load reads u8, u16 or u32/);
    expect(refusal('r1 = *(u128 *)(r2 + 0)')).toMatch(/unknown access type 'u128'/);
    expect(refusal('r0 = atomic_fetch_add((u64 *)(r1 + 0), r2)')).toMatch(/loads the old value into its operand register/);
    expect(refusal('r1 = 1 ll junk')).toMatch(/unexpected 'junk'/);
    expect(refusal('r1 = 1 @')).toMatch(/unexpected character '@'/);
    expect(refusal(`goto far\n${'exit\n'.repeat(40000)}far: exit`)).toMatch(/label 'far' is 40000 instructions away, beyond a 16-bit jump offset/);
  });
});

// What llvm-mc-14 assembles: it lacks everything llvm-objdump-14 cannot print, the v4 set, the atomics
// written as functions, ld_pseudo, LD_IND/LD_ABS (its parser wants the skb operand), and bpf-to-bpf or
// kfunc calls by number.
function llvmMc14Takes(op: OpInfo): boolean {
  switch (op.kind) {
    case 'alu': return op.isa !== 4 && op.op !== 'mod';
    case 'jcond': return op.cond !== 'jset';
    case 'atomic': return op.op === 'add' || (op.size === 8 && ['or', 'and', 'xor'].includes(op.op));
    case 'lddw': return op.pseudo === 0;
    case 'call': return op.target === 'helper';
    case 'end': return op.op !== 'bswap';
    case 'ja': return !op.long;
    case 'ldx': return !op.signed;
    case 'stx':
    case 'exit': return true;
    case 'st':
    case 'callx':
    case 'ldabs': return false;
  }
}

const MC = 'llvm-mc-14';
const haveMc = spawnSync(MC, ['--version']).status === 0;

describe.skipIf(!haveMc)(`LLVM-syntax assembler = ${MC}${haveMc ? '' : ` (skipped: ${MC} not installed)`}`, () => {
  it('encodes every instruction llvm-mc-14 can assemble to the same bytes', () => {
    const progs = allSamples().filter(([op]) => llvmMc14Takes(op)).map(([, p]) => p);
    const text = progs.map((p) => formatInsn(p, 0, { alu32: true })).join('\n');
    const dir = mkdtempSync(join(tmpdir(), 'nfp-emu-asm-'));
    try {
      writeFileSync(join(dir, 'a.s'), `\t.text\n${text}\n`);
      const r = spawnSync(MC, ['-triple', 'bpfel', '-mattr=+alu32', '-filetype=obj', join(dir, 'a.s'), '-o', join(dir, 'a.o')], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      const objcopy = spawnSync('llvm-objcopy-14', ['-O', 'binary', '--only-section=.text', join(dir, 'a.o'), join(dir, 'a.bin')], { encoding: 'utf8' });
      expect(objcopy.status, objcopy.stderr).toBe(0);
      const theirs = decodeRaw(new Uint8Array(readFileSync(join(dir, 'a.bin'))));
      expect(progs.length).toBeGreaterThan(300);
      expect(assemble(text)).toEqual(theirs);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
