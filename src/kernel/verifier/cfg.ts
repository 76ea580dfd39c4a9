// The verifier's first, structural passes (kernel/bpf/verifier.c check_subprogs() and check_cfg()):
// subprogram boundaries, every jump inside its subprogram, no fall-through off the end, every instruction
// reachable, no jump into the middle of an lddw. check_cfg's visit_insn() also marks where the walk
// (do_check) compares states (prune points) and which instructions are reached other than by falling
// through (jump points, recorded in a path's jump history). The kernel's log lines and errnos.

import { BpfError } from '../../bpf/errno.js';
import { findOp, type OpInfo } from '../../bpf/opcodes.js';
import type { Insn } from '../../bpf/insn.js';
import type { VerifierLog } from './log.js';

/** The most bpf-to-bpf functions in one program (BPF_MAX_SUBPROGS). */
export const BPF_MAX_SUBPROGS = 256;

function reject(log: VerifierLog, errno: 'EINVAL', line: string): never {
  log.write(`${line}\n`);
  throw new BpfError(errno, line);
}

/** Subprogram start indexes, sorted, the main program first (check_subprogs / add_subprog). */
export function findSubprogs(insns: readonly Insn[], ops: readonly (OpInfo | undefined)[], log: VerifierLog): number[] {
  const starts = new Set<number>([0]);
  for (let i = 0; i < insns.length; i++) {
    const op = ops[i];
    if (op === undefined) continue;
    // add_kfunc_call(): this kernel has no BTF for kernel functions, so no id names one.
    if (op.kind === 'call' && op.target === 'kfunc') reject(log, 'EINVAL', `kernel btf_id ${insns[i]!.imm >>> 0} is not a function`);
    const isCall = op.kind === 'call' && op.target === 'local';
    const isFunc = op.kind === 'lddw' && op.pseudo === 4;
    if (!isCall && !isFunc) continue;
    const t = i + insns[i]!.imm + 1;
    if (t < 0 || t >= insns.length) reject(log, 'EINVAL', `call to invalid destination`);
    starts.add(t);
    if (starts.size > BPF_MAX_SUBPROGS) reject(log, 'EINVAL', `too many subprograms`);
  }
  return [...starts].sort((a, b) => a - b);
}

/** The opcode table's view of each slot; the second half of an lddw has none. */
export function opsOf(insns: readonly Insn[]): (OpInfo | undefined)[] {
  const ops = insns.map((x) => findOp(x.code, x.src, x.off, x.imm));
  for (let i = 0; i < ops.length; i++) if (ops[i]?.kind === 'lddw') ops[++i] = undefined;
  return ops;
}

/**
 * The structural checks; returns the number of instructions examined (the state-tracking verifier
 * reports its own "processed" count instead).
 */
export function verifyStructure(insns: readonly Insn[], log: VerifierLog): number {
  const ops = opsOf(insns);
  const subprogs = findSubprogs(insns, ops, log);
  if (log.verbose) subprogs.forEach((start, i) => log.write(`func#${i} @${start}\n`));
  // check_subprogs(): jumps stay inside their subprogram, which ends in an exit or a jump.
  for (let s = 0; s < subprogs.length; s++) {
    const start = subprogs[s]!;
    const end = subprogs[s + 1] ?? insns.length;
    for (let i = start; i < end; i++) {
      const op = ops[i];
      let t: number | undefined;
      if (op?.kind === 'ja') t = i + (op.long ? insns[i]!.imm : insns[i]!.off) + 1;
      else if (op?.kind === 'jcond') t = i + insns[i]!.off + 1;
      if (t !== undefined && (t < start || t >= end)) reject(log, 'EINVAL', `jump out of range from insn ${i} to ${t}`);
    }
    // The second half of an lddw is no exit: the kernel looks at the raw last slot.
    const lop = ops[end - 1];
    if (lop?.kind !== 'exit' && lop?.kind !== 'ja') reject(log, 'EINVAL', 'last insn is not an exit or jmp');
  }
  // check_cfg(): a depth-first walk from the entry and every subprogram; then, in index order, the
  // first instruction never reached, or an lddw whose second half was jumped to.
  const seen = new Uint8Array(insns.length);
  const work = [...subprogs];
  while (work.length > 0) {
    const i = work.pop()!;
    if (i >= insns.length || seen[i]) continue;
    seen[i] = 1;
    const op = ops[i];
    if (op === undefined) {
      // The second half of an lddw, reached by a jump: it falls through like any non-jump.
      work.push(i + 1);
      continue;
    }
    if (op.kind === 'exit') continue;
    if (op.kind === 'ja') { work.push(i + (op.long ? insns[i]!.imm : insns[i]!.off) + 1); continue; }
    if (op.kind === 'jcond') work.push(i + insns[i]!.off + 1);
    work.push(op.kind === 'lddw' ? i + 2 : i + 1);
  }
  for (let i = 0; i < insns.length; i++) {
    if (!seen[i]) reject(log, 'EINVAL', `unreachable insn ${i}`);
    if (ops[i]?.kind === 'lddw') {
      if (seen[i + 1]) reject(log, 'EINVAL', `jump into the middle of ldimm64 insn ${i}`);
      i++;
    }
  }
  return insns.length;
}

/**
 * visit_insn()'s marks: prune points (where is_state_visited compares states: conditional jumps
 * themselves, the targets of jumps, the instruction after any call, bpf-to-bpf calls and their
 * callees) and jump points (reached other than by falling through, so they enter the jump history).
 */
export function markPrunePoints(insns: readonly Insn[], ops: readonly (OpInfo | undefined)[]): { prune: Uint8Array; jmp: Uint8Array } {
  const n = insns.length;
  const prune = new Uint8Array(n + 1);
  const jmp = new Uint8Array(n + 1);
  const mark = (t: number): void => {
    if (t < 0 || t > n) return;
    prune[t] = 1;
    jmp[t] = 1;
  };
  for (let t = 0; t < n; t++) {
    const op = ops[t];
    if (op === undefined) continue;
    const x = insns[t]!;
    switch (op.kind) {
      case 'lddw':
        // BPF_PSEUDO_FUNC: visit_func_call_insn, with the callee as a BRANCH edge.
        if (op.pseudo === 4) {
          prune[t] = 1;
          mark(t + 2);
          mark(t + x.imm + 1);
        }
        break;
      case 'call':
      case 'callx':
        mark(t + 1);
        if (op.kind === 'call' && op.target === 'local') {
          prune[t] = 1;
          mark(t + x.imm + 1);
        }
        break;
      case 'ja':
        mark(t + (op.long ? x.imm : x.off) + 1);
        break;
      case 'jcond':
        prune[t] = 1;
        // push_insn marks a BRANCH edge's target as both.
        mark(t + x.off + 1);
        break;
      default:
        break;
    }
  }
  return { prune, jmp };
}

/**
 * compute_scc(): the strongly connected components of the control-flow graph (Tarjan's algorithm, in
 * the kernel's iterative form and order), numbered from 1; 0 for an instruction that is no loop.
 * Successors are the fall-through first, then the jump target; calls fall through.
 */
export function computeScc(insns: readonly Insn[], ops: readonly (OpInfo | undefined)[]): Uint32Array {
  const n = insns.length;
  const NOT_ON_STACK = 0xffffffff;
  const scc = new Uint32Array(n);
  const stack = new Uint32Array(n), pre = new Uint32Array(n), low = new Uint32Array(n), dfs = new Uint32Array(n + 1);
  const succ = [0, 0];
  const successorsOf = (i: number): number => {
    const op = ops[i];
    const x = insns[i]!;
    let cnt = 0;
    const fall = op === undefined || (op.kind !== 'ja' && op.kind !== 'exit');
    if (fall && i + 1 < n) succ[cnt++] = op?.kind === 'lddw' ? i + 2 : i + 1;
    if (op?.kind === 'ja' || op?.kind === 'jcond') {
      const dst = i + (op.kind === 'ja' && op.long ? x.imm : x.off) + 1;
      if (cnt === 0 || succ[0] !== dst) succ[cnt++] = dst;
    }
    return cnt;
  };
  let nextPre = 1, nextScc = 1;
  for (let i = 0; i < n; i++) {
    if (pre[i] !== 0) continue;
    let stackSz = 0, dfsSz = 1;
    dfs[0] = i;
    outer: while (dfsSz > 0) {
      const w = dfs[dfsSz - 1]!;
      if (pre[w] === 0) {
        low[w] = nextPre;
        pre[w] = nextPre++;
        stack[stackSz++] = w;
      }
      const cnt = successorsOf(w);
      for (let j = 0; j < cnt; j++) {
        const s = succ[j]!;
        if (pre[s] !== 0) low[w] = Math.min(low[w]!, low[s]!);
        else {
          dfs[dfsSz++] = s;
          continue outer;
        }
      }
      // Something above on the stack is reachable from w: w stays with it.
      if (low[w]! < pre[w]!) {
        dfsSz--;
        continue;
      }
      // A component of two or more instructions, or one that jumps to itself, is a loop.
      let assign = stack[stackSz - 1] !== w;
      for (let j = 0; j < cnt; j++) if (succ[j] === w) assign = true;
      let t: number;
      do {
        t = stack[--stackSz]!;
        low[t] = NOT_ON_STACK;
        if (assign) scc[t] = nextScc;
      } while (t !== w);
      if (assign) nextScc++;
      dfsSz--;
    }
  }
  return scc;
}
