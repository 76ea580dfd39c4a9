// The bpf_conformance test format (github.com/Alan-Jowett/bpf_conformance, ../shared/conformance/README.md)
// and a runner that executes one file on an engine. The runtime is uBPF's: r1 points at the `-- mem`
// bytes and r2 holds their length; helper 5 is uBPF's "unwind" test helper (returns its argument; a zero
// return ends the program at once with r0 = 0).

import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { BpfError, isBpfError } from '../../bpf/errno.js';
import { decodeProgram, type Insn } from '../../bpf/insn.js';
import { assembleUbpf } from '../../bpf/ubpf.js';
import { ExecContext, type ExecEnv, type HelperFn } from './context.js';
import { interpret } from './interpreter.js';
import { jitCompile } from './jit.js';
import { AddressSpace } from './memory.js';

export interface ConformanceCase {
  readonly name: string;
  readonly asm?: string;
  readonly raw?: Uint8Array;
  readonly mem?: Uint8Array;
  /** Expected r0, all 64 bits. */
  readonly result?: bigint;
  /** Expected error text: the file must be refused. */
  readonly error?: string;
}

/** Parse a `.data` file: `#` comments, `-- section` headers. */
export function parseConformance(text: string, name = 'case'): ConformanceCase {
  const sections = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of text.split('\n')) {
    const header = /^--\s*(.*?)\s*$/.exec(line);
    if (header) {
      current = [];
      sections.set(header[1]!, current);
      continue;
    }
    const body = line.replace(/#.*$/, '').trim();
    if (current !== undefined && body !== '') current.push(body);
  }
  const hexBytes = (lines: string[] | undefined): Uint8Array | undefined => {
    if (lines === undefined) return undefined;
    const bytes = lines.join(' ').split(/\s+/).filter(Boolean).map((b) => parseInt(b, 16));
    return Uint8Array.from(bytes);
  };
  const raw = sections.get('raw');
  let rawBytes: Uint8Array | undefined;
  if (raw !== undefined) {
    if (raw.every((l) => /^0x[0-9a-f]+$/i.test(l))) {
      // One 64-bit little-endian word per line.
      rawBytes = new Uint8Array(raw.length * 8);
      const dv = new DataView(rawBytes.buffer);
      raw.forEach((w, i) => dv.setBigUint64(i * 8, BigInt(w), true));
    } else {
      rawBytes = hexBytes(raw);
    }
  }
  const result = sections.get('result')?.[0];
  const asm = sections.get('asm');
  return {
    name,
    ...(asm !== undefined ? { asm: asm.join('\n') } : {}),
    ...(rawBytes !== undefined ? { raw: rawBytes } : {}),
    ...(sections.has('mem') ? { mem: hexBytes(sections.get('mem'))! } : {}),
    ...(result !== undefined ? { result: BigInt.asUintN(64, BigInt(result)) } : {}),
    ...(sections.has('error') ? { error: (sections.get('error') ?? []).join('\n') } : {}),
  };
}

export type Engine = 'interpreter' | 'jit';

export type Outcome =
  | { readonly kind: 'result'; readonly r0: bigint }
  | { readonly kind: 'error'; readonly message: string };

/** uBPF's unwind helper ends the program from inside a call. */
class Unwind extends Error {}

const unwind: HelperFn = (x) => {
  x.R[0] = x.R[2]!;
  x.R[1] = x.R[3]!;
  if ((x.R[2]! | x.R[3]!) === 0) throw new Unwind();
};

/** Instruction budget for one run: the suite's programs are short; a runaway loop is an error. */
const BUDGET = 1_000_000;

export function programOf(c: ConformanceCase): Insn[] {
  if (c.asm !== undefined) return assembleUbpf(c.asm);
  if (c.raw !== undefined) return decodeProgram(c.raw);
  throw new BpfError('EINVAL', 'no -- asm or -- raw section');
}

/** Assemble (or decode) and run one case on an engine. Bad input and faults become an `error` outcome. */
export function runConformance(c: ConformanceCase, engine: Engine): Outcome {
  let insns: Insn[];
  try {
    insns = programOf(c);
  } catch (e) {
    if (isBpfError(e)) return { kind: 'error', message: e.message };
    throw e;
  }
  const mem = new AddressSpace();
  const helpers: (HelperFn | undefined)[] = [];
  helpers[5] = unwind;
  const env: ExecEnv = { mem, helpers };
  const x = new ExecContext(env);
  let r1l = 0, r1h = 0;
  if (c.mem !== undefined) {
    const region = mem.map('mem', c.mem.slice());
    r1l = 0;
    r1h = region.hi;
  }
  const prog = { insns, name: c.name };
  try {
    const r2 = c.mem?.length ?? 0;
    if (engine === 'interpreter') {
      interpret(prog, x, r1l, r1h, { maxInsns: BUDGET, r2 });
    } else {
      x.jitBudget = BUDGET;
      jitCompile(prog, env).run(x, r1l, r1h, r2);
    }
  } catch (e) {
    if (e instanceof Unwind) return { kind: 'result', r0: 0n };
    if (isBpfError(e)) return { kind: 'error', message: e.message };
    throw e;
  } finally {
    x.release();
  }
  const r0 = (BigInt(x.R[1]! >>> 0) << 32n) | BigInt(x.R[0]! >>> 0);
  return { kind: 'result', r0 };
}

export interface Verdict {
  readonly name: string;
  readonly pass: boolean;
  readonly detail: string;
}

/**
 * Whether an outcome is what the file expects. A file of the suite's `negative/` folder must be refused:
 * assembling or decoding fails, the run faults, or r0 differs from the (deliberately wrong) result.
 */
export function judge(c: ConformanceCase, outcome: Outcome, expectRefusal = false): Verdict {
  const hex = (v: bigint): string => `0x${v.toString(16)}`;
  const detail = outcome.kind === 'error' ? outcome.message : `r0 = ${hex(outcome.r0)}`;
  const matches = outcome.kind === 'result' && c.result !== undefined && outcome.r0 === c.result;
  if (expectRefusal) return { name: c.name, pass: outcome.kind === 'error' || (c.result !== undefined && !matches), detail };
  if (c.result === undefined) return { name: c.name, pass: false, detail: `${detail} (the file has no -- result)` };
  return { name: c.name, pass: matches, detail: matches ? detail : `${detail}, expected ${hex(c.result)}` };
}

/** Every `.data` file of a folder, sorted by name. */
export function loadConformanceDir(dir: string): ConformanceCase[] {
  return readdirSync(dir).filter((f) => f.endsWith('.data')).sort()
    .map((f) => parseConformance(readFileSync(join(dir, f), 'utf8'), basename(f, '.data')));
}
