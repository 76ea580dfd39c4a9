// Scalar-tracking goldens: programs (in the kernel-diff.ts shape) with the register states the real
// kernel printed for them. Named programs show one behaviour each; random ones cover the rest. The
// fixture is fixtures/scalar-goldens.json; `npx tsx test/verifier/scalar-goldens.ts` rewrites it from
// the kernel of the machine it runs on.

import fs from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { assemble } from '../../src/bpf/asm.js';
import type { Insn } from '../../src/bpf/insn.js';
import { buildProgram, parseLogStates, randomCase, Rng, type DiffCase } from './kernel-diff.js';
import { kernelVerifierLog } from './kernel-log.js';

export const GOLDENS_PATH = fileURLToPath(new URL('./fixtures/scalar-goldens.json', import.meta.url));

/** Programs that each show one thing the kernel does (r6, r7 unknown; r8 = the given constant). */
export const NAMED: { name: string; r8: number; steps: string }[] = [
  { name: 'r6 &= 0xff, then the fall-through of if r6 > 10 has umax 10', r8: 0, steps: 'r6 &= 255\nif r6 > 10 goto +0' },
  { name: 'negative constant and a large one printed in hex', r8: -5, steps: 'r7 = -100000\nr6 = 65536' },
  { name: 'add of a negative constant crosses zero', r8: 0, steps: 'r6 &= 10\nr6 += -5' },
  { name: '32-bit ops zero-extend', r8: 0, steps: 'w6 += 1\nw7 -= w8' },
  { name: 'sign extension idiom: <<32 then s>>32', r8: 0, steps: 'w6 &= 0xfff0\nr6 <<= 32\nr6 s>>= 32' },
  { name: 'signed compares give signed bounds only', r8: 3, steps: 'if r6 s> 100 goto +0\nif r6 s< -100 goto +0' },
  { name: 'jmp32 narrows the subregister', r8: 0, steps: 'if w6 > 1000 goto +0\nif w6 < 10 goto +0' },
  { name: 'JNE at the edge of a range moves the edge', r8: 0, steps: 'r6 &= 7\nif r6 == 0 goto +0\nif r6 == 7 goto +0' },
  { name: 'JSET with one bit sets it; its reverse clears the mask', r8: 0, steps: 'if r6 & 4 goto +0\nr7 &= 255\nif r7 & 16 goto +0' },
  { name: 'compare two registers', r8: 0, steps: 'r6 &= 255\nr7 &= 1023\nif r7 <= r6 goto +0' },
  { name: 'division and modulo are not tracked', r8: 0, steps: 'r6 &= 255\nr6 /= 3\nr7 &= 255\nr7 %= 7' },
  { name: 'neg, be16 and bswap32', r8: 0, steps: 'r6 &= 255\nr6 = -r6\nr7 &= 255\nr7 = be16 r7\nr8 = bswap32 r8' },
  { name: 'mul of two byte ranges', r8: 0, steps: 'r6 &= 255\nr7 &= 255\nr6 *= r7' },
  { name: 'movsx of a byte range', r8: 0, steps: 'r6 &= 255\nr7 = (s8)r6' },
  { name: 'a boolean mask forks: the -1 path is verified first', r8: 0, steps: 'r6 s>>= 63\nr6 |= 32768' },
  { name: 'the tnum and the range meet in one value', r8: 0, steps: 'r6 &= 0x10\nif r6 == 0 goto +0' },
  { name: 'an add with a constant keeps the link (id=N+delta)', r8: 0, steps: 'r7 += 5\nr7 &= 255' },
];

export interface GoldenCase {
  name: string;
  r8: number;
  /** The steps as [code, dst, src, off, imm]. */
  steps: [number, number, number, number, number][];
  /** Instruction index -> register number -> the text the kernel printed. */
  states: Record<string, Record<string, string>>;
}

export interface Goldens {
  kernel: string;
  cases: GoldenCase[];
}

export function toDiffCase(g: GoldenCase): DiffCase {
  return { prologue: { r8: g.r8 }, steps: g.steps.map(([code, dst, src, off, imm]): Insn => ({ code, dst, src, off, imm })) };
}

export function namedCase(n: (typeof NAMED)[number]): DiffCase {
  return { prologue: { r8: n.r8 }, steps: assemble(n.steps) };
}

export function loadGoldens(): Goldens {
  return JSON.parse(fs.readFileSync(GOLDENS_PATH, 'utf8')) as Goldens;
}

function record(name: string, c: DiffCase): GoldenCase {
  const r = kernelVerifierLog(buildProgram(c.prologue, c.steps));
  if (!r.ok) throw new Error(`${name}: the kernel refused it:\n${r.log}`);
  const states: Record<string, Record<string, string>> = {};
  for (const [idx, regs] of parseLogStates(r.log)) states[String(idx)] = Object.fromEntries([...regs].map(([k, v]) => [String(k), v]));
  return { name, r8: c.prologue.r8, steps: c.steps.map((s) => [s.code, s.dst, s.src, s.off, s.imm]), states };
}

function main(): void {
  const cases: GoldenCase[] = NAMED.map((n) => record(n.name, namedCase(n)));
  const rng = new Rng(0x5ca1a4);
  for (let i = 0; i < 60; i++) cases.push(record(`random #${i}`, randomCase(rng, 10)));
  const out: Goldens = { kernel: os.release(), cases };
  fs.mkdirSync(new URL('./fixtures/', import.meta.url), { recursive: true });
  // One line per instruction keeps the fixture readable in a diff.
  const text = JSON.stringify(out, null, 1).replace(/\[\s+(-?\d+),\s+(-?\d+),\s+(-?\d+),\s+(-?\d+),\s+(-?\d+)\s+\]/g, '[$1, $2, $3, $4, $5]');
  fs.writeFileSync(GOLDENS_PATH, `${text}\n`);
  console.log(`wrote ${cases.length} cases from kernel ${out.kernel} to ${GOLDENS_PATH}`);
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === fs.realpathSync(process.argv[1])) main();
