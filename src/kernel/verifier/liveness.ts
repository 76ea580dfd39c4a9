// Which registers are live at each instruction: read on some path before being written. Since 6.15 the
// kernel computes this up front too (compute_live_registers(), a backward dataflow over each function's
// CFG) and state pruning ignores dead registers: a dead register cannot influence any check after that
// point, so comparing it would only keep equivalent states apart. The zero-extension facts the JITs use
// (zext_dst) come from the same kind of pass.

import type { Insn } from '../../bpf/insn.js';
import type { OpInfo } from '../../bpf/opcodes.js';

const R = (n: number): number => 1 << n;
const ARGS = R(1) | R(2) | R(3) | R(4) | R(5);
const CALLER_SAVED = R(0) | ARGS;

interface UseDef {
  use: number;
  def: number;
}

/** How many arguments a helper takes (get_call_summary), or undefined when the id names no helper. */
export type HelperArgCount = (imm: number) => number | undefined;

function useDef(op: OpInfo, x: Insn, helperArgs?: HelperArgCount): UseDef {
  switch (op.kind) {
    case 'alu':
      if (op.op === 'mov' || op.op.startsWith('movsx')) return { use: op.srcReg ? R(x.src) : 0, def: R(x.dst) };
      return { use: R(x.dst) | (op.srcReg ? R(x.src) : 0), def: R(x.dst) };
    case 'end': return { use: R(x.dst), def: R(x.dst) };
    case 'ldx': return { use: R(x.src), def: R(x.dst) };
    case 'st': return { use: R(x.dst), def: 0 };
    case 'stx': return { use: R(x.dst) | R(x.src), def: 0 };
    case 'atomic': {
      const fetch = op.op === 'xchg' || op.op.startsWith('fetch_');
      if (op.op === 'cmpxchg') return { use: R(x.dst) | R(x.src) | R(0), def: R(0) };
      return { use: R(x.dst) | R(x.src), def: fetch ? R(x.src) : 0 };
    }
    case 'lddw': return { use: 0, def: R(x.dst) };
    // The kernel keeps its conservative default for the classic skb loads: everything used, nothing defined.
    case 'ldabs': return { use: 0xffff, def: 0 };
    case 'jcond': return { use: R(x.dst) | (op.srcReg ? R(x.src) : 0), def: 0 };
    case 'call': {
      // A helper reads only its own arguments; a bpf-to-bpf call may read all five.
      const n = op.target === 'helper' ? helperArgs?.(x.imm) : undefined;
      return { use: n === undefined ? ARGS : ((1 << (n + 1)) - 2) & ARGS, def: CALLER_SAVED };
    }
    case 'callx': return { use: ARGS | R(x.dst), def: CALLER_SAVED };
    case 'exit': return { use: R(0), def: 0 };
    case 'ja': return { use: 0, def: 0 };
  }
}

/**
 * The successors of each instruction inside its function (two at most: fall-through, then jump
 * target; -1 when absent). `funcs` are the subprogram start indexes; jumps stay inside their function
 * (the structural checks have made sure).
 */
function successors(insns: readonly Insn[], ops: readonly (OpInfo | undefined)[], funcs: readonly number[]): Int32Array {
  const n = insns.length;
  const succ = new Int32Array(2 * n).fill(-1);
  let f = 0;
  let end = funcs[1] ?? n;
  for (let i = 0; i < n; i++) {
    while (i >= end) {
      f++;
      end = funcs[f + 1] ?? n;
    }
    const op = ops[i];
    if (op === undefined || op.kind === 'exit') continue;
    const x = insns[i]!;
    let fall = -1, jump = -1;
    if (op.kind === 'ja') jump = i + (op.long ? x.imm : x.off) + 1;
    else {
      fall = op.kind === 'lddw' ? i + 2 : i + 1;
      if (op.kind === 'jcond') jump = i + x.off + 1;
    }
    if (fall >= 0 && fall < end) succ[2 * i] = fall;
    if (jump >= 0 && jump < end) succ[2 * i + 1] = jump;
  }
  return succ;
}

/** Registers live out of i: the union over its successors. */
function outOf(succ: Int32Array, live: Uint16Array, i: number): number {
  const a = succ[2 * i]!, b = succ[2 * i + 1]!;
  return (a >= 0 ? live[a]! : 0) | (b >= 0 ? live[b]! : 0);
}

/**
 * live[i] = bitmask of r0-r9 live before instruction i.
 */
export function computeLiveness(insns: readonly Insn[], ops: readonly (OpInfo | undefined)[], funcs: readonly number[], helperArgs?: HelperArgCount): Uint16Array {
  const n = insns.length;
  const live = new Uint16Array(n);
  const succ = successors(insns, ops, funcs);
  const use = new Uint16Array(n), def = new Uint16Array(n);
  for (let i = 0; i < n; i++) {
    const op = ops[i];
    if (op === undefined) continue;
    const ud = useDef(op, insns[i]!, helperArgs);
    use[i] = ud.use;
    def[i] = ud.def;
  }
  // Iterate to a fixed point, walking backwards (most flow is forward, so this converges quickly).
  for (let changed = true; changed;) {
    changed = false;
    for (let i = n - 1; i >= 0; i--) {
      const inn = (use[i]! | (outOf(succ, live, i) & ~def[i]!)) & 0x3ff;
      if (inn !== live[i]) {
        live[i] = inn;
        changed = true;
      }
    }
  }
  return live;
}

/**
 * The kernel's zext_dst (mark_insn_zext, with REG_LIVE_READ64): a 32-bit definition (ALU32, or a load
 * narrower than 8 bytes) whose destination's upper half is read later, as a 64-bit operand, before it
 * is written again. The BPF ISA says such writes zero the upper half; a JIT for a 32-bit machine (the
 * NFP) only spends instructions on that where this says it matters.
 */
export function computeZextDst(insns: readonly Insn[], ops: readonly (OpInfo | undefined)[], funcs: readonly number[]): boolean[] {
  const n = insns.length;
  const hiLive = new Uint16Array(n); // before each instruction
  const succ = successors(insns, ops, funcs);
  /** Registers whose upper half the instruction reads, and the register it writes (any width). */
  const effect = (op: OpInfo, x: Insn): { read64: number; def: number } => {
    switch (op.kind) {
      case 'alu': {
        if (!op.alu64) return { read64: 0, def: R(x.dst) };
        // A 64-bit operation reads both operands whole; a sign-extending move reads only a low part.
        const writesOnly = op.op === 'mov' || op.op.startsWith('movsx');
        const src = op.srcReg && !op.op.startsWith('movsx') ? R(x.src) : 0;
        return { read64: (writesOnly ? 0 : R(x.dst)) | src, def: R(x.dst) };
      }
      case 'end': return { read64: op.bits === 64 ? R(x.dst) : 0, def: R(x.dst) };
      case 'ldx': return { read64: R(x.src), def: R(x.dst) };
      case 'st': return { read64: R(x.dst), def: 0 };
      case 'stx': return { read64: R(x.dst) | (op.size === 8 ? R(x.src) : 0), def: 0 };
      case 'atomic': return { read64: R(x.dst) | (op.size === 8 ? R(x.src) : 0) | (op.op === 'cmpxchg' && op.size === 8 ? R(0) : 0), def: 0 };
      case 'lddw': return { read64: 0, def: R(x.dst) };
      case 'ldabs': return { read64: R(6), def: CALLER_SAVED };
      case 'jcond': return { read64: op.jmp32 ? 0 : R(x.dst) | (op.srcReg ? R(x.src) : 0), def: 0 };
      case 'call': case 'callx': return { read64: ARGS | (op.kind === 'callx' ? R(x.dst) : 0), def: CALLER_SAVED };
      case 'exit': return { read64: R(0), def: 0 };
      case 'ja': return { read64: 0, def: 0 };
    }
  };
  for (let changed = true; changed;) {
    changed = false;
    for (let i = n - 1; i >= 0; i--) {
      const op = ops[i];
      if (op === undefined) continue;
      const out = outOf(succ, hiLive, i);
      const e = effect(op, insns[i]!);
      const inn = (e.read64 | (out & ~e.def)) & 0x7ff;
      if (inn !== hiLive[i]) {
        hiLive[i] = inn;
        changed = true;
      }
    }
  }
  return insns.map((x, i) => {
    const op = ops[i];
    if (op === undefined) return false;
    const narrow = (op.kind === 'alu' && !op.alu64) || (op.kind === 'ldx' && op.size < 8 && !op.signed);
    if (!narrow) return false;
    return (outOf(succ, hiLive, i) & R(x.dst)) !== 0;
  });
}
