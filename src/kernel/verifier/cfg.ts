// The verifier's first, structural passes (kernel/bpf/verifier.c check_subprogs() and check_cfg()):
// subprogram boundaries, every jump inside its subprogram, no fall-through off the end, every instruction
// reachable. The kernel's log lines and errnos. The state-tracking pass (do_check) comes on top of these.

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

/**
 * The structural checks; returns the number of instructions examined (the state-tracking verifier
 * reports its own "processed" count instead).
 */
export function verifyStructure(insns: readonly Insn[], log: VerifierLog): number {
  const ops = insns.map((x) => findOp(x.code, x.src, x.off, x.imm));
  for (let i = 0; i < ops.length; i++) if (ops[i]?.kind === 'lddw') ops[++i] = undefined;
  const subprogs = findSubprogs(insns, ops, log);
  for (let s = 0; s < subprogs.length; s++) {
    const start = subprogs[s]!;
    const end = subprogs[s + 1] ?? insns.length;
    for (let i = start; i < end; i++) {
      const op = ops[i];
      if (op === undefined) continue;
      let t: number | undefined;
      if (op.kind === 'ja') t = i + (op.long ? insns[i]!.imm : insns[i]!.off) + 1;
      else if (op.kind === 'jcond') t = i + insns[i]!.off + 1;
      if (t !== undefined && (t < start || t >= end)) reject(log, 'EINVAL', `jump out of range from insn ${i} to ${t}`);
      if (t !== undefined && ops[t] === undefined && t < insns.length) reject(log, 'EINVAL', `jump into the middle of ldimm64 insn ${t}`);
    }
    let last = end - 1;
    if (ops[last] === undefined) last--;
    const lop = ops[last];
    if (lop?.kind !== 'exit' && lop?.kind !== 'ja') reject(log, 'EINVAL', 'last insn is not an exit or jmp');
  }
  // check_cfg(): every instruction must be reachable from the entry or a subprogram start.
  const seen = new Uint8Array(insns.length);
  const work = [...subprogs];
  while (work.length > 0) {
    const i = work.pop()!;
    if (i >= insns.length || seen[i]) continue;
    seen[i] = 1;
    const op = ops[i];
    if (op === undefined) continue;
    if (op.kind === 'exit') continue;
    if (op.kind === 'ja') { work.push(i + (op.long ? insns[i]!.imm : insns[i]!.off) + 1); continue; }
    if (op.kind === 'jcond') work.push(i + insns[i]!.off + 1);
    work.push(op.kind === 'lddw' ? i + 2 : i + 1);
    if (op.kind === 'lddw') seen[i + 1] = 1;
  }
  for (let i = 0; i < insns.length; i++) if (!seen[i]) reject(log, 'EINVAL', `unreachable insn ${i}`);
  return insns.length;
}
