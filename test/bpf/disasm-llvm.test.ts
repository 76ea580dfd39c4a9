// Differential test of the 'llvm' flavour against llvm-objdump-14 itself: every instruction line of real BPF
// objects (xdp-tools' and ours in test/progs), and an object holding every opcode-table entry with
// non-trivial fields (built with llvm-mc-14 from .byte lines), decoded both plainly and with +alu32.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatInsn } from '../../src/bpf/disasm.js';
import { decodeRaw, encode, insn, type Insn } from '../../src/bpf/insn.js';
import { findOp, OPS, type OpInfo } from '../../src/bpf/opcodes.js';
import { allSamples } from './asm-samples.js';

const OBJDUMP = 'llvm-objdump-14';
const MC = 'llvm-mc-14';
const runs = (cmd: string): boolean => spawnSync(cmd, ['--version'], { encoding: 'utf8' }).status === 0;
const haveObjdump = runs(OBJDUMP);
const haveMc = runs(MC);

interface Line {
  readonly where: string;
  readonly bytes: Uint8Array;
  readonly text: string;
}

// `      12:\t18 01 00 00 ... 00\tr1 = 0 ll`; llvm-objdump appends ` <LBB0_3>` to a branch whose target has a
// symbol: that is symbolisation, not instruction text, so it is cut off.
const INSN_LINE = /^\s*(\d+):\t((?:[0-9a-f]{2} )*[0-9a-f]{2})\t(.*)$/;

function objdump(path: string, alu32: boolean): Line[] {
  const r = spawnSync(OBJDUMP, ['-d', ...(alu32 ? ['--mattr=+alu32'] : []), path], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${OBJDUMP} ${path}: ${r.stderr}`);
  const lines: Line[] = [];
  for (const l of r.stdout.split('\n')) {
    const m = INSN_LINE.exec(l);
    if (m === null) continue;
    const bytes = Uint8Array.from(m[2]!.split(' '), (b) => parseInt(b, 16));
    lines.push({ where: `${path}:${m[1]}`, bytes, text: m[3]!.replace(/ <[^<> ]*>$/, '') });
  }
  return lines;
}

/** What llvm-14 cannot print (`<unknown>`): ISA v4, BPF_MOD, BPF_JSET, BPF_ST, and 32-bit atomics other than add without +alu32. */
function llvm14Lacks(op: OpInfo, alu32: boolean): boolean {
  return op.isa === 4 || op.kind === 'st' || (op.kind === 'alu' && op.op === 'mod') || (op.kind === 'jcond' && op.cond === 'jset')
    || (op.kind === 'atomic' && op.size === 4 && !alu32 && op.op !== 'add' && op.op !== 'fetch_add');
}

/**
 * Our text for a line, or why llvm-14's text is not ours. Each exception is a place where llvm-14 drops
 * information, and each is checked as tightly as it can be.
 */
function compare(line: Line, alu32: boolean): void {
  const insns = decodeRaw(line.bytes);
  const x = insns[0]!;
  const op = findOp(x.code, x.src, x.off, x.imm);
  const ours = formatInsn(insns, 0, { alu32 });
  const at = `${line.where} (${line.text})`;
  if (op === undefined) {
    expect(ours, at).toBe('<unknown>');
    return;
  }
  if (line.text === '<unknown>') {
    expect(llvm14Lacks(op, alu32), `llvm-14 cannot print ${op.name}? ${at}`).toBe(true);
    return;
  }
  if (op.isa === 4) {
    // llvm-14 ignores the off that makes div/mod/mov into sdiv/smod/movsx and prints the v1 sibling.
    const sibling = [insn(x.code, x.dst, x.src, 0, x.imm)];
    expect(line.text, at).toBe(formatInsn(sibling, 0, { alu32 }));
    return;
  }
  if (op.kind === 'callx') {
    // llvm-14 reads the callx register from imm; Linux (and newer LLVM) keep it in dst.
    expect(line.text, at).toBe(`callx r${x.imm}`);
    return;
  }
  if (op.kind === 'atomic' && op.size === 4 && op.op === 'fetch_add' && !alu32) {
    // Without +alu32, llvm-14's XADDW matches any imm and prints a 32-bit fetch-add as a plain add.
    expect(line.text, at).toBe(formatInsn([{ ...x, imm: 0 }], 0, { alu32 }));
    return;
  }
  if (op.kind === 'ldabs' && op.indirect && x.imm !== 0) {
    // LLVM's LD_IND has no immediate operand; we print a non-zero one.
    expect(line.text, at).toBe(formatInsn([{ ...x, imm: 0 }], 0, { alu32 }));
    return;
  }
  if (op.kind === 'lddw' && op.pseudo !== 0 && insns[1]!.imm !== 0) {
    // LLVM's ld_pseudo prints the low word only; we print the whole value when the high word is set.
    expect(line.text, at).toBe(formatInsn([x, { ...insns[1]!, imm: 0 }], 0, { alu32 }));
    return;
  }
  expect(ours, at).toBe(line.text);
}

function bpfObjects(): string[] {
  const out: string[] = [];
  const sys = '/usr/lib/x86_64-linux-gnu/bpf';
  if (existsSync(sys)) out.push(...readdirSync(sys).filter((f) => f.endsWith('.o')).map((f) => join(sys, f)));
  // Our own objects: the XDP programs of test/progs and the loader's fixtures.
  for (const ours of [join(import.meta.dirname, '..', 'progs'), join(import.meta.dirname, 'fixtures')]) {
    if (!existsSync(ours)) continue;
    out.push(...readdirSync(ours, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.o')).map((f) => join(ours, f)));
  }
  return out;
}

describe.skipIf(!haveObjdump)(`llvm flavour = ${OBJDUMP} -d on real objects${haveObjdump ? '' : ` (skipped: ${OBJDUMP} not installed)`}`, () => {
  const objects = bpfObjects();

  it.skipIf(objects.length === 0)('matches every instruction line, plain and with +alu32', () => {
    let lines = 0;
    for (const path of objects) {
      for (const alu32 of [false, true]) {
        for (const line of objdump(path, alu32)) {
          compare(line, alu32);
          lines++;
        }
      }
    }
    // The xdp-tools objects alone hold thousands of instructions; a parse that found none would pass vacuously.
    expect(lines).toBeGreaterThan(1000);
  });

  it('prints a bpf-to-bpf call the way llvm does by default (call -1), and losslessly on request', () => {
    const local = [insn(0x85, 0, 1, 0, -1)];
    expect(formatInsn(local, 0)).toBe('call -1');
    expect(formatInsn(local, 0, { lossless: true })).toBe('call pc-1');
  });
});

describe.skipIf(!haveObjdump || !haveMc)(`llvm flavour = ${OBJDUMP} -d on every opcode${haveObjdump && haveMc ? '' : ` (skipped: ${OBJDUMP} or ${MC} not installed)`}`, () => {
  it('matches llvm-14 wherever llvm-14 keeps the information, for every table entry and variant', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nfp-emu-disasm-'));
    try {
      const progs = allSamples();
      const body = progs.map(([op, p]) => `\t.byte ${Array.from(encode(p)).join(', ')}\t# ${op.name}`).join('\n');
      writeFileSync(join(dir, 'all.s'), `\t.text\n${body}\n`);
      const mc = spawnSync(MC, ['-triple', 'bpfel', '-filetype=obj', join(dir, 'all.s'), '-o', join(dir, 'all.o')], { encoding: 'utf8' });
      expect(mc.status, mc.stderr).toBe(0);
      for (const alu32 of [false, true]) {
        const lines = objdump(join(dir, 'all.o'), alu32);
        // One line per program: llvm-objdump must have decoded every ldimm64 as two slots, as we do.
        expect(lines).toHaveLength(progs.length);
        const seen = new Set<string>();
        lines.forEach((line, k) => {
          expect(Array.from(line.bytes)).toEqual(Array.from(encode(progs[k]![1])));
          compare(line, alu32);
          seen.add(progs[k]![0].name);
        });
        expect(seen.size).toBe(OPS.length);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('llvm flavour spellings (LLVM 17+ where llvm-14 has none)', () => {
  const one = (x: Insn, opts = {}) => formatInsn([x], 0, opts);
  it('prints the v4 and late-LLVM instructions', () => {
    expect(one(insn(0x3f, 1, 2, 1))).toBe('r1 s/= r2');
    expect(one(insn(0x94, 1, 0, 1, 3))).toBe('w1 s%= 3');
    expect(one(insn(0x9f, 1, 2))).toBe('r1 %= r2');
    expect(one(insn(0xbc, 1, 2, 16))).toBe('w1 = (s16)w2');
    expect(one(insn(0x91, 0, 1, -2))).toBe('r0 = *(s8 *)(r1 - 2)');
    expect(one(insn(0xd7, 0, 0, 0, 32))).toBe('r0 = bswap32 r0');
    expect(one(insn(0x06, 0, 0, 0, -3))).toBe('gotol -3');
    expect(one(insn(0x4d, 1, 2, 5))).toBe('if r1 & r2 goto +5');
    expect(one(insn(0x62, 10, 0, -4, 7))).toBe('*(u32 *)(r10 - 4) = 7');
    expect(one(insn(0x8d, 2))).toBe('callx r2');
  });

  it('names 32-bit subregisters in memory operations only with alu32', () => {
    expect(one(insn(0x61, 1, 2, 4))).toBe('r1 = *(u32 *)(r2 + 4)');
    expect(one(insn(0x61, 1, 2, 4), { alu32: true })).toBe('w1 = *(u32 *)(r2 + 4)');
    expect(one(insn(0xc3, 1, 2, 0, 0))).toBe('lock *(u32 *)(r1 + 0) += r2');
    expect(one(insn(0xc3, 1, 2, 0, 0), { alu32: true })).toBe('lock *(u32 *)(r1 + 0) += w2');
    expect(one(insn(0x79, 1, 2, 4), { alu32: true })).toBe('r1 = *(u64 *)(r2 + 4)');
  });
});
