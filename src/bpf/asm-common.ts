// The plumbing both BPF assemblers share (asm.ts for the LLVM/kernel pseudo-C syntax, ubpf.ts for the
// uBPF/bpf_conformance mnemonics): source lines and comments, `name:` labels resolved to pc-relative
// distances the way llvm-mc and bpf_conformance's assembler do, integer literals with range checks, and
// building an Insn from a table entry (src/bpf/opcodes.ts) so the discriminator fields always come from
// the table. Every refusal is a BpfError(EINVAL) naming the line.

import { BpfError } from './errno.js';
import type { Insn } from './insn.js';
import { BPF_EXIT, BPF_JMP, type OpInfo } from './opcodes.js';

/** One source line with its comment removed. */
export interface SourceLine {
  /** 1-based line number in the input text. */
  readonly no: number;
  /** The line as written, for error messages. */
  readonly raw: string;
}

/** A line's instruction(s) and, when an operand named a label, the field that takes its pc-relative distance. */
export interface Parsed {
  readonly insns: Insn[];
  readonly label?: { readonly name: string; readonly field: 'off' | 'imm' };
}

export type LineParser = (text: string, line: SourceLine) => Parsed;

/** The error for a bad line: `line 3: invalid register r11 in 'r11 = 1'`. */
export function lineError(line: SourceLine, what: string): BpfError {
  return new BpfError('EINVAL', `line ${line.no}: ${what} in '${line.raw.trim()}'`);
}

// `#`, `;` and `//` all start a comment: llvm-mc takes `#` and `//`, llvm-objdump prints source as `; ...`,
// bpf_conformance writes `# Taken` after an instruction.
const COMMENT = /\s*(?:#|;|\/\/).*$/;
const LABEL = /^\s*([A-Za-z_.$][\w.$]*)\s*:/;

export interface AssembleOptions {
  /**
   * bpf_conformance's assembler lets `exit` name the first exit instruction without a `exit:` line
   * (`jne %r0, 0, exit`); an explicit label of that name wins.
   */
  readonly implicitExitLabel?: boolean;
}

/**
 * Two passes over the text: parse each line (labels may precede an instruction on the same line), then
 * patch every label reference with `target - (index + 1)`, the kernel's pc-relative convention for jumps,
 * bpf-to-bpf calls and `ldimm64` BPF_PSEUDO_FUNC.
 */
export function assembleLines(text: string, parse: LineParser, opts: AssembleOptions = {}): Insn[] {
  const out: Insn[] = [];
  const labels = new Map<string, number>();
  const refs: { at: number; name: string; field: 'off' | 'imm'; line: SourceLine }[] = [];
  let firstExit: number | undefined;

  text.split(/\r?\n/).forEach((raw, n) => {
    const line: SourceLine = { no: n + 1, raw };
    let body = raw.replace(COMMENT, '');
    for (let m = LABEL.exec(body); m !== null; m = LABEL.exec(body)) {
      const name = m[1]!;
      if (labels.has(name)) throw lineError(line, `duplicate label '${name}'`);
      labels.set(name, out.length);
      body = body.slice(m[0].length);
    }
    body = body.trim();
    if (body === '') return;
    const parsed = parse(body, line);
    if (parsed.label !== undefined) refs.push({ at: out.length, name: parsed.label.name, field: parsed.label.field, line });
    if (firstExit === undefined && parsed.insns.length === 1 && parsed.insns[0]!.code === (BPF_JMP | BPF_EXIT)) firstExit = out.length;
    out.push(...parsed.insns);
  });

  if (opts.implicitExitLabel && firstExit !== undefined && !labels.has('exit')) labels.set('exit', firstExit);
  for (const r of refs) {
    const target = labels.get(r.name);
    if (target === undefined) throw lineError(r.line, `undefined label '${r.name}'`);
    const dist = target - (r.at + 1);
    if (r.field === 'off' && (dist < -0x8000 || dist > 0x7fff)) {
      throw lineError(r.line, `label '${r.name}' is ${dist} instructions away, beyond a 16-bit jump offset`);
    }
    out[r.at]![r.field] = dist;
  }
  return out;
}

// ---- integers ----

const INTEGER = /^([+-]?)(0x[0-9a-f]+|\d+)$/i;

/** A decimal or 0x-hex literal with an optional sign, or undefined if the text is not one. */
export function parseInteger(s: string): bigint | undefined {
  const m = INTEGER.exec(s);
  if (m === null) return undefined;
  const v = BigInt(m[2]!);
  return m[1] === '-' ? -v : v;
}

export const isHexLiteral = (s: string): boolean => /^[+-]?0x/i.test(s);

/** Whether v fits `bits` bits read either as signed or as unsigned (llvm-mc's isInt<N> || isUInt<N>). */
export const fitsBits = (v: bigint, bits: number): boolean => v >= -(1n << BigInt(bits - 1)) && v < 1n << BigInt(bits);

/** The signed 32-bit value of an immediate known to fit 32 bits. */
export const toInt32 = (v: bigint): number => Number(BigInt.asIntN(32, v));

/** Low and high 32-bit halves of a 64-bit immediate, each as the signed imm field holds it. */
export function splitImm64(v: bigint): [lo: number, hi: number] {
  const u = BigInt.asUintN(64, v);
  return [toInt32(u & 0xffffffffn), toInt32(u >> 32n)];
}

// ---- instructions from table entries ----

export interface Fields {
  dst?: number;
  src?: number;
  off?: number;
  imm?: number;
}

/** An instruction of a table entry: the entry's discriminator fields win over what the text gave. */
export function buildInsn(op: OpInfo, f: Fields): Insn {
  return {
    code: op.code,
    dst: f.dst ?? 0,
    src: op.match.src ?? f.src ?? 0,
    off: op.match.off ?? f.off ?? 0,
    imm: op.match.imm ?? f.imm ?? 0,
  };
}

/** The second slot of a ldimm64: only imm (the high half, or the map value offset) is used. */
export const lddwSecondSlot = (imm: number): Insn => ({ code: 0, dst: 0, src: 0, off: 0, imm });
