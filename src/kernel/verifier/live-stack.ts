// Stack slot liveness as 6.18's kernel/bpf/liveness.c keeps it: state pruning asks it which stack
// slots of an explored state may still be read (bpf_stack_slot_alive), and at log level 2 it prints
// how its marks change. The walk records, per call chain ("function instance") and per instruction, the stack slots of each
// frame the instruction may read (a union over the paths that reached it) and must write (an
// intersection); whenever a path ends (an exit, a pruned state, a return from a subprogram) the
// instances the current state's frames belong to are brought to a fixed point, backwards over each
// function's instructions in postorder, and every change of an instruction's live_before or
// must_write_acc set is logged ("(0) frame 0 insn 2 +written -8"), as is the number of passes that took.
// The masks are u64s kept as two 32-bit halves (lo: slots 0-31, hi: 32-63) so nothing is allocated
// per instruction. Only what a fixed point has propagated is answered: marks of a path still being
// walked count once that path ends, as in the kernel.

import type { Insn } from '../../bpf/insn.js';
import type { OpInfo } from '../../bpf/opcodes.js';
import type { VerifierLog } from './log.js';
import type { VerifierState } from './state.js';

const MAX_CALL_FRAMES = 8;

/** struct per_frame_masks for every instruction of one function, one frame. */
interface FrameMasks {
  mayReadLo: Int32Array; mayReadHi: Int32Array;
  mustWriteLo: Int32Array; mustWriteHi: Int32Array;
  accLo: Int32Array; accHi: Int32Array;
  liveLo: Int32Array; liveHi: Int32Array;
}

/** struct func_instance: the marks for one call chain. */
interface FuncInstance {
  /** callchain.callsites[0..curframe]: the call instructions, then this function's first instruction. */
  readonly callsites: readonly number[];
  /** callchain.sp_starts: the first instruction of each frame's function. */
  readonly spStarts: readonly number[];
  readonly curframe: number;
  readonly insnCnt: number;
  /** The subprogram, for its postorder range. */
  readonly subprog: number;
  updated: boolean;
  mustWriteDropped: boolean;
  readonly frames: (FrameMasks | undefined)[];
  readonly mustWriteSet: Uint8Array;
  /** fmt_callchain(), made once. */
  readonly name: string;
}

function newFrameMasks(n: number): FrameMasks {
  return {
    mayReadLo: new Int32Array(n), mayReadHi: new Int32Array(n),
    mustWriteLo: new Int32Array(n), mustWriteHi: new Int32Array(n),
    accLo: new Int32Array(n), accHi: new Int32Array(n),
    liveLo: new Int32Array(n), liveHi: new Int32Array(n),
  };
}

/** bpf_fmt_stack_mask: "-8,-24" for slots 0 and 2. */
function fmtStackMask(lo: number, hi: number): string {
  const parts: string[] = [];
  for (let i = 0; i < 64; i++) {
    const set = i < 32 ? (lo >>> i) & 1 : (hi >>> (i - 32)) & 1;
    if (set) parts.push(String(-(i + 1) * 8));
  }
  return parts.join(',');
}

/**
 * bpf_insn_successors: by the opcode alone (an exit has none, a `goto` only its target, a conditional
 * jump falls through first), not bounded by the function.
 */
function insnSuccessors(insns: readonly Insn[], ops: readonly (OpInfo | undefined)[]): Int32Array {
  const n = insns.length;
  const succ = new Int32Array(2 * n).fill(-1);
  for (let i = 0; i < n; i++) {
    const op = ops[i];
    const x = insns[i]!;
    if (op?.kind === 'exit') continue;
    if (op?.kind === 'ja') {
      succ[2 * i] = i + (op.long ? x.imm : x.off) + 1;
      continue;
    }
    succ[2 * i] = op?.kind === 'lddw' ? i + 2 : i + 1;
    if (op?.kind === 'jcond') succ[2 * i + 1] = i + x.off + 1;
  }
  return succ;
}

export class LiveStack {
  private readonly succ: Int32Array;
  /** env->cfg.insn_postorder, and each subprogram's range of it (subprog_info[].postorder_start). */
  private readonly postorder: Int32Array;
  private readonly postorderStart: Int32Array;
  private readonly instances = new Map<string, FuncInstance>();
  private curInstance: FuncInstance | undefined;
  private readonly writeAccLo = new Int32Array(MAX_CALL_FRAMES);
  private readonly writeAccHi = new Int32Array(MAX_CALL_FRAMES);
  private writeInsnIdx = 0;
  /** struct live_stack_query: the instances of the queried state's frames, innermost last. */
  private readonly queryInstances: (FuncInstance | undefined)[] = new Array<FuncInstance | undefined>(MAX_CALL_FRAMES).fill(undefined);
  private queryCurframe = 0;
  private queryInsnIdx = 0;

  constructor(
    insns: readonly Insn[],
    ops: readonly (OpInfo | undefined)[],
    private readonly subprogs: readonly number[],
    private readonly prunePoint: Uint8Array,
    private readonly log: VerifierLog,
  ) {
    const n = insns.length;
    this.succ = insnSuccessors(insns, ops);
    this.postorder = new Int32Array(n);
    this.postorderStart = new Int32Array(subprogs.length + 1);
    this.computePostorder(n);
  }

  /**
   * compute_postorder: a depth-first walk from each subprogram's start; a node is pushed for each
   * successor not seen yet (fall-through first, so the jump target is explored first) and emitted
   * once it is met again with its successors explored.
   */
  private computePostorder(n: number): void {
    const DISCOVERED = 1, EXPLORED = 2;
    const state = new Uint8Array(n);
    const stack = new Int32Array(n + 1);
    let cur = 0;
    for (let s = 0; s < this.subprogs.length; s++) {
      this.postorderStart[s] = cur;
      stack[0] = this.subprogs[s]!;
      let sz = 1;
      do {
        const top = stack[sz - 1]!;
        state[top]! |= DISCOVERED;
        if (state[top]! & EXPLORED) {
          this.postorder[cur++] = top;
          sz--;
          continue;
        }
        for (let k = 0; k < 2; k++) {
          const t = this.succ[2 * top + k]!;
          if (t < 0 || t >= n || state[t]) continue;
          stack[sz++] = t;
          state[t]! |= DISCOVERED;
        }
        state[top]! |= EXPLORED;
      } while (sz > 0);
    }
    this.postorderStart[this.subprogs.length] = cur;
  }

  private subprogIndex(start: number): number {
    let s = 0;
    for (let i = 0; i < this.subprogs.length; i++) if (this.subprogs[i]! <= start) s = i;
    return s;
  }

  /** __lookup_instance: find or make the instance of a call chain. */
  private lookup(callsites: number[], spStarts: number[]): FuncInstance {
    const key = callsites.join(',');
    let inst = this.instances.get(key);
    if (inst !== undefined) return inst;
    const curframe = callsites.length - 1;
    const subprog = this.subprogIndex(spStarts[curframe]!);
    const insnCnt = (this.subprogs[subprog + 1] ?? this.succ.length / 2) - this.subprogs[subprog]!;
    inst = {
      callsites, spStarts, curframe, insnCnt, subprog, updated: false, mustWriteDropped: false,
      frames: new Array<FrameMasks | undefined>(curframe + 1).fill(undefined),
      mustWriteSet: new Uint8Array(insnCnt), name: `(${key})`,
    };
    this.instances.set(key, inst);
    return inst;
  }

  /** lookup_instance / compute_callchain: the instance of frame `frameno` of a state. */
  private lookupState(st: VerifierState, frameno: number): FuncInstance {
    const callsites: number[] = [], spStarts: number[] = [];
    for (let i = 0; i <= frameno; i++) {
      spStarts.push(this.subprogs[st.frames[i]!.subprogno]!);
      callsites.push(i < frameno ? st.frames[i + 1]!.callsite : spStarts[i]!);
    }
    return this.lookup(callsites, spStarts);
  }

  private ensureCurInstance(st: VerifierState): FuncInstance {
    this.curInstance ??= this.lookupState(st, st.curframe);
    return this.curInstance;
  }

  private masks(inst: FuncInstance, frame: number): FrameMasks {
    let m = inst.frames[frame];
    if (m === undefined) {
      m = newFrameMasks(inst.insnCnt);
      inst.frames[frame] = m;
    }
    return m;
  }

  private rel(inst: FuncInstance, insnIdx: number): number {
    return insnIdx - inst.spStarts[inst.curframe]!;
  }

  /** bpf_reset_live_stack_callchain: the state's call stack changed (a subprogram was entered). */
  resetCallchain(): void {
    this.curInstance = undefined;
  }

  /** mark_stack_read: slots (lo/hi halves) of `frame` may be read at insnIdx in this instance. */
  private markReadIn(inst: FuncInstance, frame: number, insnIdx: number, lo: number, hi: number): void {
    const m = this.masks(inst, frame);
    const i = this.rel(inst, insnIdx);
    const oldLo = m.mayReadLo[i]!, oldHi = m.mayReadHi[i]!;
    const newLo = oldLo | lo, newHi = oldHi | hi;
    if ((newLo !== oldLo || newHi !== oldHi) && ((newLo | m.liveLo[i]!) !== m.liveLo[i] || (newHi | m.liveHi[i]!) !== m.liveHi[i])) {
      inst.updated = true;
    }
    m.mayReadLo[i] = newLo;
    m.mayReadHi[i] = newHi;
  }

  /** bpf_mark_stack_read: the current instruction reads slot spi of frame `frame`. */
  markRead(st: VerifierState, frame: number, insnIdx: number, spi: number): void {
    if (spi >= 64) return;
    const inst = this.ensureCurInstance(st);
    this.markReadIn(inst, frame, insnIdx, spi < 32 ? 1 << spi : 0, spi >= 32 ? 1 << (spi - 32) : 0);
  }

  private resetWritesFor(inst: FuncInstance, insnIdx: number): void {
    this.writeInsnIdx = insnIdx;
    for (let i = 0; i <= inst.curframe; i++) {
      this.writeAccLo[i] = 0;
      this.writeAccHi[i] = 0;
    }
  }

  /** bpf_reset_stack_write_marks: an instruction is about to be checked. */
  resetWriteMarks(st: VerifierState, insnIdx: number): void {
    this.resetWritesFor(this.ensureCurInstance(st), insnIdx);
  }

  /** bpf_mark_stack_write: the instruction overwrites slot spi of `frame` whole. */
  markWrite(frame: number, spi: number): void {
    if (spi >= 64) return;
    if (spi < 32) this.writeAccLo[frame]! |= 1 << spi;
    else this.writeAccHi[frame]! |= 1 << (spi - 32);
  }

  private commitWritesTo(inst: FuncInstance | undefined): void {
    if (inst === undefined) return;
    const idx = this.rel(inst, this.writeInsnIdx);
    const seen = inst.mustWriteSet[idx] !== 0;
    for (let frame = 0; frame <= inst.curframe; frame++) {
      let lo = this.writeAccLo[frame]!, hi = this.writeAccHi[frame]!;
      if (lo === 0 && hi === 0 && !seen) continue;
      const m = this.masks(inst, frame);
      const oldLo = m.mustWriteLo[idx]!, oldHi = m.mustWriteHi[idx]!;
      // Seen before: only what every visit wrote is sure to be written.
      if (seen) {
        lo &= oldLo;
        hi &= oldHi;
      }
      if (oldLo !== lo || oldHi !== hi) {
        m.mustWriteLo[idx] = lo;
        m.mustWriteHi[idx] = hi;
        inst.updated = true;
      }
      if ((oldLo & ~lo) !== 0 || (oldHi & ~hi) !== 0) inst.mustWriteDropped = true;
    }
    inst.mustWriteSet[idx] = 1;
    this.writeInsnIdx = 0;
  }

  /** bpf_commit_stack_write_marks: the instruction was checked; a no-op once the call chain changed. */
  commitWriteMarks(): void {
    this.commitWritesTo(this.curInstance);
  }

  /** log_mask_change */
  private logChange(inst: FuncInstance, pfx: string, frame: number, insnIdx: number, oldLo: number, oldHi: number, newLo: number, newHi: number): void {
    const chLo = oldLo ^ newLo, chHi = oldHi ^ newHi;
    if (chLo === 0 && chHi === 0) return;
    let line = `${inst.name} frame ${frame} insn ${insnIdx} `;
    const onesLo = newLo & chLo, onesHi = newHi & chHi;
    const zerosLo = ~newLo & chLo, zerosHi = ~newHi & chHi;
    if (onesLo !== 0 || onesHi !== 0) line += `+${pfx} ${fmtStackMask(onesLo, onesHi)} `;
    if (zerosLo !== 0 || zerosHi !== 0) line += `-${pfx} ${fmtStackMask(zerosLo, zerosHi)}`;
    this.log.write(`${line}\n`);
  }

  /** update_insn: one step of the backward dataflow; true when something changed. */
  private updateInsn(inst: FuncInstance, frame: number, m: FrameMasks, insnIdx: number): boolean {
    const a = this.succ[2 * insnIdx]!, b = this.succ[2 * insnIdx + 1]!;
    if (a < 0) return false;
    const i = this.rel(inst, insnIdx);
    const ja = this.rel(inst, a);
    let afterLo = m.liveLo[ja]!, afterHi = m.liveHi[ja]!, accLo = m.accLo[ja]!, accHi = m.accHi[ja]!;
    if (b >= 0) {
      const jb = this.rel(inst, b);
      afterLo |= m.liveLo[jb]!;
      afterHi |= m.liveHi[jb]!;
      accLo &= m.accLo[jb]!;
      accHi &= m.accHi[jb]!;
    }
    const mwLo = m.mustWriteLo[i]!, mwHi = m.mustWriteHi[i]!;
    accLo |= mwLo;
    accHi |= mwHi;
    const beforeLo = (afterLo & ~mwLo) | m.mayReadLo[i]!;
    const beforeHi = (afterHi & ~mwHi) | m.mayReadHi[i]!;
    const changed = beforeLo !== m.liveLo[i] || beforeHi !== m.liveHi[i] || accLo !== m.accLo[i] || accHi !== m.accHi[i];
    if (this.log.verbose && (m.mayReadLo[i] !== 0 || m.mayReadHi[i] !== 0 || mwLo !== 0 || mwHi !== 0 ||
      insnIdx === inst.spStarts[inst.curframe] || this.prunePoint[insnIdx])) {
      this.logChange(inst, 'live', frame, insnIdx, m.liveLo[i]!, m.liveHi[i]!, beforeLo, beforeHi);
      this.logChange(inst, 'written', frame, insnIdx, m.accLo[i]!, m.accHi[i]!, accLo, accHi);
    }
    m.liveLo[i] = beforeLo;
    m.liveHi[i] = beforeHi;
    m.accLo[i] = accLo;
    m.accHi[i] = accHi;
    return changed;
  }

  /** update_instance: the fixed point of live_before and must_write_acc, then the caller's share. */
  private updateInstance(inst: FuncInstance): void {
    if (inst.mustWriteDropped) {
      for (const m of inst.frames) {
        m?.accLo.fill(0);
        m?.accHi.fill(0);
      }
    }
    const poStart = this.postorderStart[inst.subprog]!, poEnd = this.postorderStart[inst.subprog + 1]!;
    let cnt = 0;
    for (let changed = true; changed;) {
      cnt++;
      changed = false;
      for (let frame = 0; frame <= inst.curframe; frame++) {
        const m = inst.frames[frame];
        if (m === undefined) continue;
        for (let p = poStart; p < poEnd; p++) changed = this.updateInsn(inst, frame, m, this.postorder[p]!) || changed;
      }
    }
    if (this.log.verbose) this.log.write(`${inst.name} live stack update done in ${cnt} iterations\n`);
    if (inst.curframe > 0) this.propagateToOuter(inst);
  }

  /**
   * propagate_to_outer_instance: what the callee's entry may read of, and surely writes to, its
   * callers' frames becomes the call instruction's reads and writes in the caller's instance.
   */
  private propagateToOuter(inst: FuncInstance): void {
    const up = inst.curframe - 1;
    const callsites = inst.callsites.slice(0, up + 1);
    const spStarts = inst.spStarts.slice(0, up + 1);
    callsites[up] = spStarts[up]!;
    const outer = this.lookup(callsites, spStarts);
    const callsite = inst.callsites[up]!;
    const start = this.rel(inst, inst.spStarts[inst.curframe]!);
    this.resetWritesFor(outer, callsite);
    for (let frame = 0; frame < inst.curframe; frame++) {
      const m = inst.frames[frame];
      if (m === undefined) continue;
      this.writeAccLo[frame]! |= m.accLo[start]!;
      this.writeAccHi[frame]! |= m.accHi[start]!;
      this.markReadIn(outer, frame, callsite, m.liveLo[start]!, m.liveHi[start]!);
    }
    this.commitWritesTo(outer);
  }

  /**
   * bpf_update_live_stack: a path ended or a subprogram returns; bring the instances of the state's
   * frames up to date, innermost first so that callers see what their callees did.
   */
  update(st: VerifierState): void {
    this.curInstance = undefined;
    for (let frame = st.curframe; frame >= 0; frame--) {
      const inst = this.lookupState(st, frame);
      if (!inst.updated) continue;
      this.updateInstance(inst);
      inst.updated = false;
      inst.mustWriteDropped = false;
    }
  }

  /** is_live_before: may slot spi of frame `frameno` be read at or after insnIdx in this instance? */
  private isLiveBefore(inst: FuncInstance, insnIdx: number, frameno: number, spi: number): boolean {
    const m = inst.frames[frameno];
    if (m === undefined) return false;
    const i = this.rel(inst, insnIdx);
    return spi < 32 ? (m.liveLo[i]! & (1 << spi)) !== 0 : (m.liveHi[i]! & (1 << (spi - 32))) !== 0;
  }

  /** bpf_live_stack_query_init: the following slotAlive() questions are about state st. */
  queryInit(st: VerifierState): void {
    for (let frame = 0; frame <= st.curframe; frame++) this.queryInstances[frame] = this.lookupState(st, frame);
    this.queryCurframe = st.curframe;
    this.queryInsnIdx = st.insn_idx;
  }

  /**
   * bpf_stack_slot_alive: may slot spi of frame `frameno` of the queried state still be read - before
   * its instruction in the innermost frame's instance, or after the call site in some caller's (a slot
   * of a caller's frame lives on once the callee returns).
   */
  slotAlive(frameno: number, spi: number): boolean {
    if (spi >= 64) return true;
    const inner = this.queryInstances[this.queryCurframe]!;
    if (this.isLiveBefore(inner, this.queryInsnIdx, frameno, spi)) return true;
    // nfp-emu has no callback-calling helpers, so a call site is always left for the next instruction.
    for (let i = frameno; i < this.queryCurframe; i++) {
      if (this.isLiveBefore(this.queryInstances[i]!, inner.callsites[i]! + 1, frameno, spi)) return true;
    }
    return false;
  }
}
