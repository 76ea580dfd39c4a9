// The reference interpreter (the role of kernel/bpf/core.c ___bpf_prog_run). Simple on purpose: each
// instruction goes through the semantic tables of alu.ts and the checked accessors of runtime.ts, so it
// is the yardstick the JITs are compared with. It pre-decodes a program once into flat typed arrays, so
// that a run allocates nothing.

import type { Insn } from '../../bpf/insn.js';
import { ALU_OPS, JMP_CONDS, MAX_BPF_STACK, findOp, type AluOp, type JmpCond, type OpInfo } from '../../bpf/opcodes.js';
import { BPF_FUNC_tail_call } from '../../bpf/helpers.js';
import { ALU32, ALU64, JMP32, JMP64, RES, endian } from './alu.js';
import { MAX_CALL_FRAMES, type ExecContext, type ExecProgram } from './context.js';
import { ATOMIC_NAMES, atomic, callHelper, fault, ldAbs, load, loadedHi, store, tailCallTarget } from './runtime.js';

// Instruction classes of the pre-decoded form: one `switch` arm each.
const enum K {
  Alu64K, Alu64X, Alu32K, Alu32X, End, Ja, Jmp64K, Jmp64X, Jmp32K, Jmp32X, Call, CallLocal, CallKfunc,
  Callx, Exit, Lddw, LdAbs, LdInd, Ldx, Ldxs, St, Stx, Atomic, Invalid,
}

const ALU_NAMES = Object.keys(ALU_OPS) as AluOp[];
const JMP_NAMES = Object.keys(JMP_CONDS) as JmpCond[];
const END_OPS = ['le', 'be', 'bswap'] as const;
const END_BITS = [16, 32, 64] as const;
const ALU64_FNS = ALU_NAMES.map((n) => ALU64[n]);
const ALU32_FNS = ALU_NAMES.map((n) => ALU32[n]);
const JMP64_FNS = JMP_NAMES.map((n) => JMP64[n]);
const JMP32_FNS = JMP_NAMES.map((n) => JMP32[n]);

interface Decoded {
  readonly n: number;
  readonly kind: Uint8Array;
  /** ALU/JMP/atomic op index, END op and bits, or access size. */
  readonly fn: Uint8Array;
  readonly dst: Uint8Array;
  readonly src: Uint8Array;
  readonly off: Int32Array;
  readonly imm: Int32Array;
  /** lddw: the upper 32 bits of the immediate. */
  readonly imm2: Int32Array;
}

function classify(op: OpInfo): [K, number] {
  switch (op.kind) {
    case 'alu': return [op.alu64 ? (op.srcReg ? K.Alu64X : K.Alu64K) : op.srcReg ? K.Alu32X : K.Alu32K, ALU_NAMES.indexOf(op.op)];
    case 'end': return [K.End, (END_OPS.indexOf(op.op) << 2) | END_BITS.indexOf(op.bits)];
    case 'ja': return [K.Ja, op.long ? 1 : 0];
    case 'jcond': return [op.jmp32 ? (op.srcReg ? K.Jmp32X : K.Jmp32K) : op.srcReg ? K.Jmp64X : K.Jmp64K, JMP_NAMES.indexOf(op.cond)];
    case 'call': return [op.target === 'helper' ? K.Call : op.target === 'local' ? K.CallLocal : K.CallKfunc, 0];
    case 'callx': return [K.Callx, 0];
    case 'exit': return [K.Exit, 0];
    case 'lddw': return [K.Lddw, 0];
    case 'ldabs': return [op.indirect ? K.LdInd : K.LdAbs, op.size];
    case 'ldx': return [op.signed ? K.Ldxs : K.Ldx, op.size];
    case 'st': return [K.St, op.size];
    case 'stx': return [K.Stx, op.size];
    case 'atomic': return [K.Atomic, ATOMIC_NAMES.indexOf(op.op) | (op.size === 8 ? 0x80 : 0)];
  }
}

const decodedCache = new WeakMap<readonly Insn[], Decoded>();

function predecode(insns: readonly Insn[]): Decoded {
  const cached = decodedCache.get(insns);
  if (cached) return cached;
  const n = insns.length;
  const d: Decoded = {
    n, kind: new Uint8Array(n), fn: new Uint8Array(n), dst: new Uint8Array(n), src: new Uint8Array(n),
    off: new Int32Array(n), imm: new Int32Array(n), imm2: new Int32Array(n),
  };
  for (let i = 0; i < n; i++) {
    const x = insns[i]!;
    const op = findOp(x.code, x.src, x.off, x.imm);
    if (op === undefined) {
      // The second slot of a lddw, or garbage that decodeProgram would have refused.
      d.kind[i] = K.Invalid;
      continue;
    }
    const [kind, fn] = classify(op);
    d.kind[i] = kind;
    d.fn[i] = fn;
    d.dst[i] = x.dst;
    d.src[i] = x.src;
    d.off[i] = x.off;
    d.imm[i] = x.imm;
    if (kind === K.Lddw) d.imm2[i] = insns[i + 1]?.imm ?? 0;
  }
  decodedCache.set(insns, d);
  return d;
}

/** Return from a bpf-to-bpf call: restores r6-r9 and r10 of frame `depth`, gives the caller's pc. */
function leave(R: Int32Array, frames: Int32Array, depth: number): number {
  const f = depth * 9;
  for (let r = 0; r < 8; r++) R[12 + r] = frames[f + 1 + r]!;
  R[20] = (R[20]! + MAX_BPF_STACK) | 0;
  return frames[f]!;
}

/** An instruction budget turns a runaway loop in unverified code into an error, not a hang. */
export interface RunOptions {
  maxInsns?: number;
  /** r2 at entry (uBPF passes the input length there; the kernel leaves it 0). */
  r2?: number;
}

/**
 * Run `prog` on CPU x with the context pointer (ctxLo, ctxHi) in r1 and r10 at the top of the stack.
 * Returns with r0 in x.R[0..1]. A memory fault, an unknown helper or an exhausted budget throws a
 * BpfError naming the instruction.
 */
export function interpret(prog: ExecProgram, x: ExecContext, ctxLo: number, ctxHi: number, opts: RunOptions = {}): void {
  x.reset(ctxLo, ctxHi);
  x.R[4] = opts.r2 ?? 0;
  const budget = { left: opts.maxInsns ?? Infinity };
  execute(x, predecode(prog.insns), budget);
}

/**
 * Run a pre-decoded program from its first instruction with the current r1 and r10. A tail call runs
 * the target in a nested execute() and then leaves the current function with its r0, which is what the
 * kernel's tail call (a jump that reuses the caller's frame) amounts to.
 */
function execute(x: ExecContext, d: Decoded, budget: { left: number }): void {
  const R = x.R;
  const mem = x.env.mem;
  let pc = 0;
  let count = 0;
  // bpf-to-bpf frames: the return pc and the caller's r6-r9 (9 words each), allocated on the first call.
  // No closures here: a variable captured by one lives in a heap context, which would make every
  // access to pc a memory operation.
  let frames: Int32Array | undefined;
  let depth = 0;

  try {
    for (;;) {
      if (++count > budget.left) throw fault(pc, `instruction budget exhausted`);
      if (pc >= d.n || pc < 0) throw fault(pc, 'jump out of range');
      const dst = d.dst[pc]!, src = d.src[pc]!, fn = d.fn[pc]!;
      const di = 2 * dst, si = 2 * src;
      switch (d.kind[pc] as K) {
        case K.Alu64K: {
          const imm = d.imm[pc]!;
          ALU64_FNS[fn]!(R[di]!, R[di + 1]!, imm, imm >> 31);
          R[di] = RES[0]!; R[di + 1] = RES[1]!;
          break;
        }
        case K.Alu64X:
          ALU64_FNS[fn]!(R[di]!, R[di + 1]!, R[si]!, R[si + 1]!);
          R[di] = RES[0]!; R[di + 1] = RES[1]!;
          break;
        case K.Alu32K:
          R[di] = ALU32_FNS[fn]!(R[di]!, d.imm[pc]!); R[di + 1] = 0;
          break;
        case K.Alu32X:
          R[di] = ALU32_FNS[fn]!(R[di]!, R[si]!); R[di + 1] = 0;
          break;
        case K.End:
          endian(END_OPS[fn >> 2]!, END_BITS[fn & 3]!, R[di]!, R[di + 1]!);
          R[di] = RES[0]!; R[di + 1] = RES[1]!;
          break;
        case K.Ja:
          pc += fn === 1 ? d.imm[pc]! : d.off[pc]!;
          break;
        case K.Jmp64K: {
          const imm = d.imm[pc]!;
          if (JMP64_FNS[fn]!(R[di]!, R[di + 1]!, imm, imm >> 31)) pc += d.off[pc]!;
          break;
        }
        case K.Jmp64X:
          if (JMP64_FNS[fn]!(R[di]!, R[di + 1]!, R[si]!, R[si + 1]!)) pc += d.off[pc]!;
          break;
        case K.Jmp32K:
          if (JMP32_FNS[fn]!(R[di]!, d.imm[pc]!)) pc += d.off[pc]!;
          break;
        case K.Jmp32X:
          if (JMP32_FNS[fn]!(R[di]!, R[si]!)) pc += d.off[pc]!;
          break;
        case K.Call: {
          const id = d.imm[pc]!;
          if (id !== BPF_FUNC_tail_call) {
            callHelper(x, id, pc);
            break;
          }
          const target = tailCallTarget(x, pc);
          if (target === undefined) break; // a failed tail call falls through
          budget.left -= count;
          x.insnCount += count;
          count = 0;
          execute(x, predecode(target.insns), budget);
          if (depth === 0) return;
          pc = leave(R, frames!, --depth);
          break;
        }
        case K.CallLocal:
        case K.Callx: {
          let target: number;
          if (d.kind[pc] === K.CallLocal) {
            target = pc + d.imm[pc]!;
          } else if (mem.region(R[di + 1]!)?.kind === 'func') {
            // Linux: the register holds a BPF function (lddw BPF_PSEUDO_FUNC: its low half is the
            // callee's first instruction). uBPF and the conformance suite: a helper id.
            target = R[di]! - 1;
          } else {
            callHelper(x, R[di]!, pc);
            break;
          }
          if (depth + 1 >= MAX_CALL_FRAMES) throw fault(pc, `the call stack of ${MAX_CALL_FRAMES} frames is too deep`);
          frames ??= new Int32Array(MAX_CALL_FRAMES * 9);
          const f = depth * 9;
          frames[f] = pc;
          for (let r = 0; r < 8; r++) frames[f + 1 + r] = R[12 + r]!;
          depth++;
          R[20] = (R[20]! - MAX_BPF_STACK) | 0; // the callee's frame lies below the caller's
          pc = target;
          break;
        }
        case K.CallKfunc:
          throw fault(pc, `kernel function calls are not supported (btf_id ${d.imm[pc]!})`);
        case K.Exit:
          if (depth === 0) return;
          pc = leave(R, frames!, --depth);
          break;
        case K.Lddw:
          R[di] = d.imm[pc]!;
          R[di + 1] = d.imm2[pc]!;
          pc++;
          break;
        case K.LdAbs:
        case K.LdInd: {
          const off = d.imm[pc]! + (d.kind[pc] === K.LdInd ? R[si]! : 0);
          const v = ldAbs(x, off, fn, pc);
          R[1] = 0;
          if (v === undefined) {
            R[0] = 0; // out of bounds: the program ends, returning 0
            return;
          }
          R[0] = v;
          break;
        }
        case K.Ldx:
        case K.Ldxs:
          R[di] = load(x, R[si + 1]!, R[si]!, d.off[pc]!, fn, d.kind[pc] === K.Ldxs, pc);
          R[di + 1] = loadedHi;
          break;
        case K.St: {
          const imm = d.imm[pc]!;
          store(x, R[di + 1]!, R[di]!, d.off[pc]!, fn, imm, imm >> 31, pc);
          break;
        }
        case K.Stx:
          store(x, R[di + 1]!, R[di]!, d.off[pc]!, fn, R[si]!, R[si + 1]!, pc);
          break;
        case K.Atomic:
          atomic(x, pc, ATOMIC_NAMES[fn & 0x7f]!, fn & 0x80 ? 8 : 4, dst, src, d.off[pc]!);
          break;
        case K.Invalid:
          throw fault(pc, 'invalid instruction');
      }
      pc++;
    }
  } finally {
    budget.left -= count;
    x.insnCount += count;
  }
}
