// A small instruction buffer with labels for the fuzzer's generator: forward and backward jumps, calls
// to local functions, and lddw, resolved to offsets when the functions are laid out one after another
// (the layout of a clang object: the main program first, then its subprograms).

import type { Insn } from '../../../src/bpf/insn.js';
import {
  BPF_ALU, BPF_ALU64, BPF_CALL, BPF_DW, BPF_EXIT, BPF_IMM, BPF_JA, BPF_JMP, BPF_K, BPF_LD, BPF_MOV,
  BPF_PSEUDO_CALL, BPF_X,
} from '../../../src/bpf/opcodes.js';

interface Entry {
  readonly insn: Insn;
  /** A jump (off) or bpf-to-bpf call (imm) to this label. */
  readonly target?: string;
}

export class Asm {
  readonly entries: (Entry | { readonly label: string })[] = [];

  i(code: number, dst = 0, src = 0, off = 0, imm = 0): void {
    this.entries.push({ insn: { code, dst, src, off, imm } });
  }

  label(name: string): void {
    this.entries.push({ label: name });
  }

  /** A jump (conditional or `ja`) to a label. */
  jmp(code: number, dst: number, src: number, imm: number, target: string): void {
    this.entries.push({ insn: { code, dst, src, off: 0, imm }, target });
  }

  ja(target: string): void {
    this.jmp(BPF_JMP | BPF_JA, 0, 0, 0, target);
  }

  callLocal(target: string): void {
    this.entries.push({ insn: { code: BPF_JMP | BPF_CALL, dst: 0, src: BPF_PSEUDO_CALL, off: 0, imm: 0 }, target });
  }

  call(helper: number): void {
    this.i(BPF_JMP | BPF_CALL, 0, 0, 0, helper);
  }

  exit(): void {
    this.i(BPF_JMP | BPF_EXIT);
  }

  /** dst = imm (64-bit mov of a sign-extended 32-bit immediate), or its ALU32 form. */
  movImm(dst: number, imm: number, alu32 = false): void {
    this.i((alu32 ? BPF_ALU : BPF_ALU64) | BPF_MOV | BPF_K, dst, 0, 0, imm);
  }

  mov(dst: number, src: number): void {
    this.i(BPF_ALU64 | BPF_MOV | BPF_X, dst, src);
  }

  lddw(dst: number, pseudo: number, lo: number, hi: number): void {
    this.i(BPF_LD | BPF_IMM | BPF_DW, dst, pseudo, 0, lo);
    this.i(0, 0, 0, 0, hi);
  }

  get length(): number {
    return this.entries.filter((e) => 'insn' in e).length;
  }
}

/** Lays out functions in order and resolves every label; an unknown label is a generator bug. */
export function link(funcs: readonly Asm[]): Insn[] {
  const out: Insn[] = [];
  const at = new Map<string, number>();
  const fix: { idx: number; target: string }[] = [];
  for (const f of funcs) {
    for (const e of f.entries) {
      if ('label' in e) {
        if (at.has(e.label)) throw new Error(`BUG: label ${e.label} defined twice`);
        at.set(e.label, out.length);
        continue;
      }
      if (e.target !== undefined) fix.push({ idx: out.length, target: e.target });
      out.push({ ...e.insn });
    }
  }
  for (const { idx, target } of fix) {
    const t = at.get(target);
    if (t === undefined) throw new Error(`BUG: jump to undefined label ${target}`);
    const x = out[idx]!;
    const rel = t - (idx + 1);
    if (x.src === BPF_PSEUDO_CALL && x.code === (BPF_JMP | BPF_CALL)) x.imm = rel;
    else x.off = rel;
    if (rel < -32768 || rel > 32767) throw new Error(`BUG: jump of ${rel} does not fit`);
  }
  return out;
}
