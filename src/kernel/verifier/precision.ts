// Precision backtracking (kernel/bpf/verifier.c: backtrack_insn, __mark_chain_precision,
// mark_all_scalars_precise, propagate_precision; later kernels moved them to backtrack.c).
//
// State pruning treats a scalar as "imprecise" - any value matches it - unless some check that made the
// program safe depended on its exact range: a decided conditional jump, a pointer offset, a helper's
// size argument, a constant map key. When the walk meets such a check it asks for the register to be
// precise, and this module walks the path backwards (the instructions of the current stretch through
// its jump history, then each parent state's stretch) to find every register and stack slot the value
// came from, marking them precise in the parent states. Those marks are what a later path is compared
// against (regsafe), so a path is pruned only if it agrees on everything that mattered.

import type { Insn } from '../../bpf/insn.js';
import type { VerifierLog } from './log.js';
import type { OpInfo } from '../../bpf/opcodes.js';
import {
  BPF_REG_FP, INSN_F_DST_REG_STACK, INSN_F_SRC_REG_STACK, INSN_F_STACK_ACCESS, MAX_CALL_FRAMES, isSpilledReg,
  type JmpHistoryEntry, type VerifierState,
} from './state.js';

/** The history flags of a stack access: INSN_F_STACK_ACCESS plus the slot and the frame (insn_stack_access_flags). */
export function insnStackAccessFlags(frameno: number, spi: number): number {
  return INSN_F_STACK_ACCESS | (spi << 3) | frameno;
}
const insnStackAccessSpi = (flags: number): number => (flags >> 3) & 0x3f;
const insnStackAccessFrameno = (flags: number): number => flags & 0x7;

const REGMASK_ARGS = 0b111110;

/** What backtracking needs to know about the program, and where its level-2 trace goes. */
export interface BacktrackEnv {
  readonly insns: readonly Insn[];
  readonly ops: readonly (OpInfo | undefined)[];
  /** Registers live before each instruction (to ignore dead ones an explored state still holds). */
  readonly live: Uint16Array;
  readonly log: VerifierLog;
  /** `N: (op) insn`, as the walk's log shows it. */
  insnLine(idx: number): string;
  /** print_verifier_state(..., true) of one frame: ` R1=... fp-8=...`. */
  frameText(st: VerifierState, frame: number): string;
}

/** Thrown when backtracking cannot follow the value (the kernel's -ENOTSUPP and its verifier_bug()s). */
class Untraceable extends Error {}

/** struct backtrack_state: the registers and stack slots, per frame, still to be traced. */
class BacktrackState {
  frame = 0;
  readonly regs = new Int32Array(MAX_CALL_FRAMES);
  readonly stackLo = new Int32Array(MAX_CALL_FRAMES);
  readonly stackHi = new Int32Array(MAX_CALL_FRAMES);

  reset(frame: number): void {
    this.frame = frame;
    for (let i = 0; i < MAX_CALL_FRAMES; i++) {
      this.regs[i] = 0;
      this.stackLo[i] = 0;
      this.stackHi[i] = 0;
    }
  }

  empty(): boolean {
    for (let i = 0; i <= this.frame; i++) if (this.regs[i] !== 0 || this.stackLo[i] !== 0 || this.stackHi[i] !== 0) return false;
    return true;
  }

  isReg(r: number, fr = this.frame): boolean { return (this.regs[fr]! & (1 << r)) !== 0; }
  setReg(r: number, fr = this.frame): void { this.regs[fr]! |= 1 << r; }
  clearReg(r: number, fr = this.frame): void { this.regs[fr]! &= ~(1 << r); }
  isSlot(spi: number, fr = this.frame): boolean {
    return spi < 32 ? (this.stackLo[fr]! & (1 << spi)) !== 0 : (this.stackHi[fr]! & (1 << (spi - 32))) !== 0;
  }
  setSlot(spi: number, fr = this.frame): void {
    if (spi < 32) this.stackLo[fr]! |= 1 << spi;
    else this.stackHi[fr]! |= 1 << (spi - 32);
  }
  clearSlot(spi: number, fr = this.frame): void {
    if (spi < 32) this.stackLo[fr]! &= ~(1 << spi);
    else this.stackHi[fr]! &= ~(1 << (spi - 32));
  }
  stackEmpty(fr = this.frame): boolean { return this.stackLo[fr] === 0 && this.stackHi[fr] === 0; }

  subprogEnter(): void {
    if (this.frame === MAX_CALL_FRAMES - 1) throw new Untraceable('subprog enter from frame 7');
    this.frame++;
  }
  subprogExit(): void {
    if (this.frame === 0) throw new Untraceable('subprog exit from frame 0');
    this.frame--;
  }
}

const bt = new BacktrackState();

/** fmt_reg_mask / bpf_fmt_stack_mask: `r1,r6` and `-8,-16` for the level-2 trace. */
function regMaskText(fr: number): string {
  const parts: string[] = [];
  for (let i = 0; i < 32; i++) if (bt.isReg(i, fr)) parts.push(`r${i}`);
  return parts.join(',');
}
function stackMaskText(fr: number): string {
  const parts: string[] = [];
  for (let spi = 0; spi < 64; spi++) if (bt.isSlot(spi, fr)) parts.push(`-${(spi + 1) * 8}`);
  return parts.join(',');
}

/** bt_sync_linked_regs: registers that learnt a range together at a jump are precise together. */
function syncLinkedRegs(hist: JmpHistoryEntry | undefined): void {
  if (hist?.linked === undefined) return;
  let some = false;
  for (const e of hist.linked) {
    if (e.isReg ? bt.isReg(e.regno, e.frameno) : bt.isSlot(e.regno, e.frameno)) { some = true; break; }
  }
  if (!some) return;
  for (const e of hist.linked) {
    if (e.isReg) bt.setReg(e.regno, e.frameno);
    else bt.setSlot(e.regno, e.frameno);
  }
}

/** backtrack_insn: what instruction `idx` tells about where the traced values came from. */
function backtrackInsn(env: BacktrackEnv, idx: number, subseqIdx: number, hist: JmpHistoryEntry | undefined): void {
  const op = env.ops[idx];
  const x = env.insns[idx]!;
  if (op === undefined) return;
  const dreg = x.dst, sreg = x.src;
  syncLinkedRegs(hist);
  switch (op.kind) {
    case 'alu':
      if (!bt.isReg(dreg)) break;
      if (op.op === 'neg') break;
      if (op.op === 'mov' || op.op.startsWith('movsx')) {
        bt.clearReg(dreg);
        if (op.srcReg && sreg !== BPF_REG_FP) bt.setReg(sreg);
      } else if (op.srcReg && sreg !== BPF_REG_FP) {
        bt.setReg(sreg);
      }
      break;
    case 'end':
      break;
    case 'ldx': {
      if (!bt.isReg(dreg)) break;
      bt.clearReg(dreg);
      // Only a fill from the stack keeps the value's precision; other loads are already marked precise.
      if (hist === undefined || (hist.flags & INSN_F_STACK_ACCESS) === 0) break;
      bt.setSlot(insnStackAccessSpi(hist.flags), insnStackAccessFrameno(hist.flags));
      break;
    }
    case 'atomic': {
      // The fetched old value lands in src (r0 for cmpxchg); on the stack, old and new values mix, which
      // the kernel does not trace either.
      const loadReg = op.op.startsWith('fetch_') || op.op === 'xchg' ? sreg : op.op === 'cmpxchg' ? 0 : -1;
      const onStack = hist !== undefined && (hist.flags & INSN_F_STACK_ACCESS) !== 0;
      if (bt.isReg(dreg)) throw new Untraceable('atomic through a precise scalar');
      if (onStack && (bt.isSlot(insnStackAccessSpi(hist.flags), insnStackAccessFrameno(hist.flags)) || (loadReg >= 0 && bt.isReg(loadReg)))) {
        throw new Untraceable('atomic on a traced stack slot');
      }
      if (loadReg >= 0) bt.clearReg(loadReg);
      break;
    }
    case 'stx':
    case 'st': {
      // A store through a scalar base means pointer subtraction produced the address.
      if (bt.isReg(dreg)) throw new Untraceable('store through a precise scalar');
      if (hist === undefined || (hist.flags & INSN_F_STACK_ACCESS) === 0) break;
      const spi = insnStackAccessSpi(hist.flags), fr = insnStackAccessFrameno(hist.flags);
      if (!bt.isSlot(spi, fr)) break;
      bt.clearSlot(spi, fr);
      if (op.kind === 'stx') bt.setReg(sreg);
      break;
    }
    case 'call':
      if (op.target === 'local') {
        // Leaving the callee backwards: only r1-r5 may still be wanted, and they are the caller's.
        if ((bt.regs[bt.frame]! & ~REGMASK_ARGS) !== 0) throw new Untraceable('static subprog unexpected regs');
        if (!bt.stackEmpty()) throw new Untraceable('static subprog leftover stack slots');
        for (let i = 1; i <= 5; i++) {
          if (bt.isReg(i)) {
            bt.clearReg(i);
            bt.setReg(i, bt.frame - 1);
          }
        }
        bt.subprogExit();
        break;
      }
      if (op.target === 'kfunc' && x.imm === 0) throw new Untraceable('kfunc with imm 0');
      // A helper sets r0; its arguments must have been found already.
      bt.clearReg(0);
      if ((bt.regs[bt.frame]! & REGMASK_ARGS) !== 0) throw new Untraceable('backtracking call unexpected regs');
      if (op.target === 'helper' && x.imm === 12 && subseqIdx - 1 !== idx) bt.subprogEnter();
      break;
    case 'callx':
      throw new Untraceable('callx');
    case 'exit': {
      if ((bt.regs[bt.frame]! & REGMASK_ARGS) !== 0) throw new Untraceable('backtracking exit unexpected regs');
      // Backwards into the callee: its r0 is what the caller's r0 was.
      const prev = subseqIdx - 1 >= 0 ? env.ops[subseqIdx - 1] : undefined;
      const r0Precise = prev?.kind === 'call' && prev.target === 'local' && bt.isReg(0);
      bt.clearReg(0);
      bt.subprogEnter();
      if (r0Precise) bt.setReg(0);
      break;
    }
    case 'jcond':
      if (!op.srcReg) break;
      if (!bt.isReg(dreg) && !bt.isReg(sreg)) break;
      // dreg <cond> sreg: each gave the other's range; both needed precision before.
      if (hist === undefined || (hist.flags & INSN_F_SRC_REG_STACK) === 0) bt.setReg(sreg);
      if (hist === undefined || (hist.flags & INSN_F_DST_REG_STACK) === 0) bt.setReg(dreg);
      break;
    case 'ja':
      break;
    case 'lddw':
      if (!bt.isReg(dreg)) break;
      bt.clearReg(dreg);
      break;
    case 'ldabs':
      if (!bt.isReg(0)) break;
      throw new Untraceable('ld_abs');
  }
  syncLinkedRegs(hist);
}

/** get_jmp_hist_entry: the history entry of instruction i, if it is the last one left. */
function histEntry(st: VerifierState, histEnd: number, i: number): JmpHistoryEntry | undefined {
  const e = histEnd > 0 ? st.jmp_history[histEnd - 1] : undefined;
  return e !== undefined && e.idx === i ? e : undefined;
}

/** mark_all_scalars_precise: the big hammer, when a value cannot be traced (every parent state). */
export function markAllScalarsPrecise(start: VerifierState): void {
  for (let sl = start.parent; sl !== undefined; sl = sl.state.parent) {
    const st = sl.state;
    for (let f = 0; f <= st.curframe; f++) {
      const func = st.frames[f]!;
      for (let j = 0; j < BPF_REG_FP; j++) {
        const r = func.regs[j]!;
        if (r.type === 'scalar') r.precise = true;
      }
      for (const s of func.stack) if (isSpilledReg(s) && s.spilled!.type === 'scalar') s.spilled!.precise = true;
    }
  }
}

/** mark_all_scalars_imprecise: a new checkpoint starts with no precision marks of its own. */
export function markAllScalarsImprecise(st: VerifierState): void {
  for (let f = 0; f <= st.curframe; f++) {
    const func = st.frames[f]!;
    for (let j = 0; j < BPF_REG_FP; j++) func.regs[j]!.precise = false;
    for (const s of func.stack) if (s.spilled !== undefined) s.spilled.precise = false;
  }
}

/**
 * __mark_chain_precision with the traced set already in `bt`: walk back from `start` (the current
 * path), setting `precise` on what the traced values came from in each parent state.
 */
function markChain(env: BacktrackEnv, start: VerifierState): void {
  let st: VerifierState = start;
  let firstIdx = st.first_insn_idx;
  let lastIdx = st.insn_idx;
  let subseqIdx = -1;
  let skipFirst = true;
  if (bt.empty()) return;
  const trace = env.log.verbose;
  try {
    for (;;) {
      let history = st.jmp_history.length;
      if (trace) env.log.write(`mark_precise: frame${bt.frame}: last_idx ${lastIdx} first_idx ${firstIdx} subseq_idx ${subseqIdx} \n`);
      if (lastIdx < 0) throw new Untraceable('backtracking reached a function entry');
      for (let i = lastIdx; ;) {
        if (skipFirst) skipFirst = false;
        else {
          // The second half of an lddw (code 0) is passed over silently.
          if (trace && env.ops[i] !== undefined) env.log.write(`mark_precise: frame${bt.frame}: regs=${regMaskText(bt.frame)} stack=${stackMaskText(bt.frame)} before ${env.insnLine(i)}\n`);
          backtrackInsn(env, i, subseqIdx, histEntry(st, history, i));
        }
        if (bt.empty()) return;
        subseqIdx = i;
        // get_prev_insn_idx: the history tells where a jump came from; otherwise the previous insn.
        if (i === st.first_insn_idx && (history === 0 || (history === 1 && st.jmp_history[0]!.idx === i))) break;
        const h = history > 0 ? st.jmp_history[history - 1]! : undefined;
        if (h !== undefined && h.idx === i) {
          i = h.prev_idx;
          history--;
        } else {
          i--;
        }
        if (i < 0 || i >= env.insns.length) throw new Untraceable(`backtracking idx ${i}`);
      }
      const parent = st.parent?.state;
      if (parent === undefined) break;
      st = parent;
      for (let fr = bt.frame; fr >= 0; fr--) {
        const func = st.frames[fr];
        if (func === undefined) throw new Untraceable('frame missing in parent');
        for (let i = 0; i < BPF_REG_FP; i++) {
          if (!bt.isReg(i, fr)) continue;
          const r = func.regs[i]!;
          if (r.type !== 'scalar' || r.precise) bt.clearReg(i, fr);
          else r.precise = true;
        }
        for (let spi = 0; spi < 64 && !bt.stackEmpty(fr); spi++) {
          if (!bt.isSlot(spi, fr)) continue;
          const slot = func.stack[spi];
          if (slot === undefined) throw new Untraceable(`stack slot ${spi} not allocated`);
          if (!(isSpilledReg(slot) && slot.spilled!.type === 'scalar')) {
            bt.clearSlot(spi, fr);
            continue;
          }
          if (slot.spilled!.precise) bt.clearSlot(spi, fr);
          else slot.spilled!.precise = true;
        }
        if (trace) env.log.write(`mark_precise: frame${fr}: parent state regs=${regMaskText(fr)} stack=${stackMaskText(fr)}: ${env.frameText(st, fr)}\n`);
      }
      if (bt.empty()) return;
      subseqIdx = firstIdx;
      lastIdx = st.last_insn_idx;
      firstIdx = st.first_insn_idx;
    }
    // Something was not found (a stack access through another register): fall back to everything.
    if (!bt.empty()) {
      if (trace) env.log.write(`mark_precise: frame${bt.frame}: falling back to forcing all scalars precise\n`);
      markAllScalarsPrecise(start);
    }
  } catch (e) {
    if (!(e instanceof Untraceable)) throw e;
    if (trace) env.log.write(`mark_precise: frame${bt.frame}: falling back to forcing all scalars precise\n`);
    markAllScalarsPrecise(start);
  }
  bt.reset(0);
}

/** mark_chain_precision(env, regno): register `regno` of the current frame must be precise. */
export function markChainPrecision(env: BacktrackEnv, cur: VerifierState, regno: number): void {
  const r = cur.frames[cur.curframe]!.regs[regno]!;
  if (r.type !== 'scalar') return;
  bt.reset(cur.curframe);
  bt.setReg(regno);
  markChain(env, cur);
}

/** A stack slot of frame `frameno` must be precise (get_constant_map_key's mark_chain_precision_batch). */
export function markStackSlotPrecision(env: BacktrackEnv, cur: VerifierState, frameno: number, spi: number): void {
  bt.reset(cur.curframe);
  bt.setSlot(spi, frameno);
  markChain(env, cur);
}

/**
 * propagate_precision: `cur` was pruned against `old`; what was precise in old must now be precise in
 * cur's parents too, since cur relies on old's exploration. Dead registers are skipped (the kernel
 * has cleaned them out of old by then).
 */
export function propagatePrecision(env: BacktrackEnv, old: VerifierState, cur: VerifierState, liveAt: (frame: number) => number): void {
  bt.reset(cur.curframe);
  const trace = env.log.verbose;
  for (let fr = old.curframe; fr >= 0; fr--) {
    const func = old.frames[fr]!;
    const live = liveAt(fr);
    let first = true;
    for (let i = 0; i < BPF_REG_FP; i++) {
      const r = func.regs[i]!;
      if (r.type !== 'scalar' || !r.precise || (live & (1 << i)) === 0) continue;
      if (trace) env.log.write(first ? `frame ${fr}: propagating r${i}` : `,r${i}`);
      first = false;
      bt.setReg(i, fr);
    }
    for (let spi = 0; spi < func.stack.length; spi++) {
      const s = func.stack[spi]!;
      if (!isSpilledReg(s) || s.spilled!.type !== 'scalar' || !s.spilled!.precise) continue;
      if (trace) env.log.write(first ? `frame ${fr}: propagating fp${-(spi + 1) * 8}` : `,fp${-(spi + 1) * 8}`);
      first = false;
      bt.setSlot(spi, fr);
    }
    if (trace && !first) env.log.write('\n');
  }
  markChain(env, cur);
}
