// Test helper for comparing the scalar tracking with the real kernel's verifier. A program is a prologue
// that gives r6 and r7 unknown values (two bpf_get_prandom_u32 calls) and r8 a constant, then a list of
// ALU and conditional-jump instructions on r6..r8 whose jumps all lead to a final `r0 = 0; exit`. The
// kernel walks the fall-through path first and prints, after each instruction, the registers it
// touched; `simulate` walks the same path with bounds.ts. Programs whose path our model would leave
// (a jump it proves always taken) are not generated.

import type { Insn } from '../../src/bpf/insn.js';
import {
  bpfClass, bpfOp, bpfSrc, BPF_ADD, BPF_ALU, BPF_ALU64, BPF_AND, BPF_ARSH, BPF_CALL, BPF_DIV, BPF_END, BPF_EXIT, BPF_JEQ,
  BPF_JGE, BPF_JGT, BPF_JLE, BPF_JLT, BPF_JMP, BPF_JMP32, BPF_JNE, BPF_JSET, BPF_JSGE, BPF_JSGT, BPF_JSLE, BPF_JSLT, BPF_K,
  BPF_LSH, BPF_MOD, BPF_MOV, BPF_MUL, BPF_NEG, BPF_OR, BPF_RSH, BPF_SUB, BPF_TO_BE, BPF_TO_LE, BPF_X, BPF_XOR,
} from '../../src/bpf/opcodes.js';
import {
  adjust_scalar_min_max_vals, copy_scalar, is_branch_taken, maybe_fork_scalars, reg_set_min_max, scalar_const, scalar_mov, scalar_mov_imm,
  scalar_unknown,
} from '../../src/kernel/verifier/bounds.js';
import type { ScalarBounds } from '../../src/kernel/verifier/scalar.js';
import { tnum_const, tnum_unknown } from '../../src/kernel/verifier/tnum.js';

// ---- a small deterministic generator (mulberry32) ----

export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  u32(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  int(n: number): number {
    return this.u32() % n;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  chance(p: number): boolean {
    return this.u32() / 2 ** 32 < p;
  }
  u64(): bigint {
    return (BigInt(this.u32()) << 32n) | BigInt(this.u32());
  }
}

/** An "interesting" 32-bit immediate: small, near a power of two, at a sign boundary, or random. */
export function randomImm(rng: Rng): number {
  switch (rng.int(6)) {
    case 0:
      return rng.int(33) - 8;
    case 1: {
      const p = 2 ** rng.int(31);
      return (p + rng.int(3) - 1) | 0;
    }
    case 2:
      return rng.pick([0x7fffffff, -0x80000000, -1, 0xff, 0xffff, 0xff00, 0x7f, 0x80, -0x80, 0x8000]);
    case 3:
      return -(2 ** rng.int(31)) | 0;
    default:
      return rng.u32() | 0;
  }
}

const insn = (code: number, dst: number, src: number, off: number, imm: number): Insn => ({ code, dst, src, off, imm });

export const REGS = [6, 7, 8] as const;
const JMP_OPS = [BPF_JEQ, BPF_JNE, BPF_JSET, BPF_JGT, BPF_JGE, BPF_JLT, BPF_JLE, BPF_JSGT, BPF_JSGE, BPF_JSLT, BPF_JSLE];
const ALU_OPS = [BPF_ADD, BPF_SUB, BPF_MUL, BPF_DIV, BPF_MOD, BPF_OR, BPF_AND, BPF_LSH, BPF_RSH, BPF_ARSH, BPF_XOR, BPF_NEG, BPF_END];

/** One random ALU instruction on r6..r8 (no register MOV: that links ids, which is the main loop's). */
export function randomAlu(rng: Rng): Insn {
  const dst = rng.pick(REGS);
  const cls = rng.chance(0.6) ? BPF_ALU64 : BPF_ALU;
  const op = rng.chance(0.35) ? rng.pick([BPF_AND, BPF_OR, BPF_ADD]) : rng.pick(ALU_OPS);
  if (op === BPF_NEG) return insn(cls | BPF_NEG | BPF_K, dst, 0, 0, 0);
  if (op === BPF_END) {
    const imm = rng.pick([16, 32, 64]);
    if (cls === BPF_ALU64) return insn(BPF_ALU64 | BPF_END | BPF_TO_LE, dst, 0, 0, imm);
    return insn(BPF_ALU | BPF_END | (rng.chance(0.5) ? BPF_TO_LE : BPF_TO_BE), dst, 0, 0, imm);
  }
  const off = (op === BPF_DIV || op === BPF_MOD) && rng.chance(0.4) ? 1 : 0;
  if (rng.chance(0.3)) return insn(cls | op | BPF_X, dst, rng.pick(REGS), off, 0);
  let imm = randomImm(rng);
  if (op === BPF_LSH || op === BPF_RSH || op === BPF_ARSH) imm = rng.int(cls === BPF_ALU64 ? 64 : 32);
  if ((op === BPF_DIV || op === BPF_MOD) && imm === 0) imm = 3;
  return insn(cls | op | BPF_K, dst, 0, off, imm);
}

/** A MOV: immediate, register, or sign-extending (movsx). Only used as a program's last step. */
export function randomMov(rng: Rng): Insn {
  const dst = rng.pick(REGS);
  const src = rng.pick(REGS);
  switch (rng.int(4)) {
    case 0:
      return insn((rng.chance(0.5) ? BPF_ALU64 : BPF_ALU) | BPF_MOV | BPF_K, dst, 0, 0, randomImm(rng));
    case 1:
      return insn((rng.chance(0.5) ? BPF_ALU64 : BPF_ALU) | BPF_MOV | BPF_X, dst, src, 0, 0);
    case 2:
      return insn(BPF_ALU64 | BPF_MOV | BPF_X, dst, src, rng.pick([8, 16, 32]), 0);
    default:
      return insn(BPF_ALU | BPF_MOV | BPF_X, dst, src, rng.pick([8, 16]), 0);
  }
}

/** A conditional jump on r6..r8 against an immediate or another of them; off is filled in later. */
export function randomJmp(rng: Rng): Insn {
  const cls = rng.chance(0.6) ? BPF_JMP : BPF_JMP32;
  const op = rng.pick(JMP_OPS);
  const dst = rng.pick(REGS);
  if (rng.chance(0.3)) return insn(cls | op | BPF_X, dst, rng.pick(REGS), 0, 0);
  return insn(cls | op | BPF_K, dst, 0, 0, randomImm(rng));
}

export interface Prologue {
  /** The constant r8 starts with. */
  r8: number;
}

export const PROLOGUE_LEN = 5;

function prologue(p: Prologue): Insn[] {
  return [
    insn(BPF_JMP | BPF_CALL, 0, 0, 0, 7), // bpf_get_prandom_u32
    insn(BPF_ALU64 | BPF_MOV | BPF_X, 6, 0, 0, 0),
    insn(BPF_JMP | BPF_CALL, 0, 0, 0, 7),
    insn(BPF_ALU64 | BPF_MOV | BPF_X, 7, 0, 0, 0),
    insn(BPF_ALU64 | BPF_MOV | BPF_K, 8, 0, 0, p.r8),
  ];
}

/** The whole program: prologue, steps (jumps retargeted to the exit), `r0 = 0; exit`. */
export function buildProgram(p: Prologue, steps: readonly Insn[]): Insn[] {
  const exitAt = PROLOGUE_LEN + steps.length;
  const body = steps.map((s, i) => {
    const cls = bpfClass(s.code);
    if (cls !== BPF_JMP && cls !== BPF_JMP32) return s;
    return { ...s, off: exitAt - (PROLOGUE_LEN + i + 1) };
  });
  return [...prologue(p), ...body, insn(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 0), insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)];
}

export function initialRegs(p: Prologue): Map<number, ScalarBounds> {
  return new Map<number, ScalarBounds>([
    [6, scalar_unknown()],
    [7, scalar_unknown()],
    [8, scalar_const(BigInt(p.r8))],
  ]);
}

/**
 * Apply one step to the fall-through state. Returns the registers the kernel prints after it, or null
 * when our model says the jump is always taken (the fall-through is dead; the kernel would leave the
 * path). Mutates `regs`.
 */
export function simulateStep(regs: Map<number, ScalarBounds>, s: Insn): number[] | null {
  const dst = regs.get(s.dst)!;
  const cls = bpfClass(s.code);
  const isX = bpfSrc(s.code) === BPF_X;
  if (cls === BPF_ALU || cls === BPF_ALU64) {
    const op = bpfOp(s.code);
    if (op === BPF_MOV) {
      if (isX) scalar_mov(dst, regs.get(s.src)!, s);
      else scalar_mov_imm(dst, s);
    } else if (op === BPF_NEG || op === BPF_END) {
      adjust_scalar_min_max_vals(dst, dst, s);
    } else {
      const src = isX ? regs.get(s.src)! : scalar_const(BigInt(s.imm));
      // The kernel verifies the -1 side first; the 0 side comes later, off our path.
      maybe_fork_scalars(dst, src, s);
      adjust_scalar_min_max_vals(dst, src, s);
    }
    return isX && bpfOp(s.code) !== BPF_END && bpfOp(s.code) !== BPF_NEG ? [s.dst, s.src] : [s.dst];
  }
  const is32 = cls === BPF_JMP32;
  const op = bpfOp(s.code);
  const src = isX ? regs.get(s.src)! : scalar_const(BigInt(s.imm));
  const pred = is_branch_taken(dst, src, op, is32);
  if (pred === 1) return null;
  if (pred === -1) {
    const t1 = copy_scalar(dst);
    const t2 = src === dst ? t1 : copy_scalar(src);
    reg_set_min_max(t1, t2, dst, src, op, is32);
  }
  return isX ? [s.dst, s.src] : [s.dst];
}

export interface DiffCase {
  prologue: Prologue;
  steps: Insn[];
}

/** A random case of `n` steps whose fall-through path our model keeps (ends with a MOV sometimes). */
export function randomCase(rng: Rng, n: number): DiffCase {
  const p: Prologue = { r8: randomImm(rng) };
  const regs = initialRegs(p);
  const steps: Insn[] = [];
  while (steps.length < n) {
    const last = steps.length === n - 1;
    const s = last && rng.chance(0.3) ? randomMov(rng) : rng.chance(0.4) ? randomJmp(rng) : randomAlu(rng);
    const trial = new Map([...regs].map(([k, v]) => [k, copy_scalar(v)]));
    if (simulateStep(trial, s) === null) continue;
    for (const [k, v] of trial) regs.set(k, v);
    steps.push(s);
  }
  return { prologue: p, steps };
}

/** Expected register states after each step, indexed by instruction number. */
export function simulate(c: DiffCase): Map<number, Map<number, ScalarBounds>> {
  const regs = initialRegs(c.prologue);
  const out = new Map<number, Map<number, ScalarBounds>>();
  c.steps.forEach((s, i) => {
    const printed = simulateStep(regs, s);
    if (printed === null) throw new Error(`step ${i} leaves the path`);
    out.set(PROLOGUE_LEN + i, new Map(printed.map((r) => [r, copy_scalar(regs.get(r)!)])));
  });
  return out;
}

// ---- reading the kernel's log ----

/**
 * For each instruction index, the `Rn=...` texts printed after it on its first visit. The state usually
 * follows the instruction on its line (`5: (07) r2 += -5 ; R2=...`); when a decided jump made the kernel
 * print precision-tracking lines in between, it comes on a line of its own (`6: R6=... R8=...`).
 */
export function parseLogStates(log: string): Map<number, Map<number, string>> {
  const out = new Map<number, Map<number, string>>();
  let pending = -1;
  for (const line of log.split('\n')) {
    let idx: number;
    let text: string;
    const withInsn = /^(\d+): \([0-9a-f]{2}\) (.*)$/.exec(line);
    if (withInsn) {
      idx = Number(withInsn[1]);
      const semi = withInsn[2]!.indexOf('; R');
      if (semi < 0) {
        pending = idx;
        continue;
      }
      text = withInsn[2]!.slice(semi + 2);
    } else {
      const stateOnly = /^(\d+): (R\d+=.*)$/.exec(line);
      if (!stateOnly || Number(stateOnly[1]) !== pending) continue;
      idx = pending;
      text = stateOnly[2]!;
    }
    pending = -1;
    if (out.has(idx)) continue;
    const regs = new Map<number, string>();
    for (const part of ` ${text}`.split(/ (?=R\d+=)/)) {
      const r = /^R(\d+)=(.*)$/.exec(part.trim());
      if (r) regs.set(Number(r[1]), r[2]!);
    }
    out.set(idx, regs);
  }
  return out;
}

/** The kernel's text for a scalar without the parts our formatter does not decide: precision and id. */
export function stripIdAndPrecision(text: string): string {
  return text.replace(/^P/, '').replace(/id=\d+([+-]\d+)?,?/, '').replace(/,\)$/, ')');
}

const num = (t: string): bigint => (t.startsWith('-') ? -BigInt(t.slice(1)) : BigInt(t));

/** Rebuild the full state from the log's text: omitted bounds are at their extremes. */
export function parseScalar(text: string): ScalarBounds {
  const t = stripIdAndPrecision(text);
  if (!t.startsWith('scalar(')) return scalar_const(BigInt.asUintN(64, num(t)));
  const reg = scalar_unknown();
  reg.var_off = tnum_unknown;
  const body = t.slice('scalar('.length, -1);
  const vo = /var_off=\((0x[0-9a-f]+); (0x[0-9a-f]+)\)/.exec(body);
  if (vo) reg.var_off = { value: BigInt(vo[1]!), mask: BigInt(vo[2]!) };
  const constVo = /var_off=(\d+|0x[0-9a-f]+)(,|$)/.exec(body);
  if (constVo) reg.var_off = tnum_const(BigInt(constVo[1]!));
  for (const field of body.replace(/,?var_off=\([^)]*\)/, '').split(',')) {
    if (field === '' || field.startsWith('var_off')) continue;
    const names = field.split('=');
    const raw = names.pop()!;
    const hex = raw.startsWith('0x');
    const v = num(raw);
    for (const name of names) {
      switch (name) {
        case 'smin': reg.smin_value = hex ? BigInt.asIntN(64, v) : v; break;
        case 'smax': reg.smax_value = hex ? BigInt.asIntN(64, v) : v; break;
        case 'umin': reg.umin_value = v; break;
        case 'umax': reg.umax_value = v; break;
        case 'smin32': reg.s32_min_value = hex ? BigInt.asIntN(32, v) : v; break;
        case 'smax32': reg.s32_max_value = hex ? BigInt.asIntN(32, v) : v; break;
        case 'umin32': reg.u32_min_value = v; break;
        case 'umax32': reg.u32_max_value = v; break;
        default: throw new Error(`unknown field ${name} in ${text}`);
      }
    }
  }
  return reg;
}

