// What a running BPF program has around it: the register file, its stack, the CPU it runs on, and the
// environment's helpers. One ExecContext per emulated CPU, reused across runs (no allocation per packet).
// The interpreter and the JIT share it, so helpers are written once.

import { MAX_BPF_STACK } from '../../bpf/opcodes.js';
import type { Insn } from '../../bpf/insn.js';
import { AddressSpace, type Region } from './memory.js';

/** kernel/bpf/core.c: MAX_CALL_FRAMES (bpf-to-bpf call depth) and MAX_TAIL_CALL_CNT. */
export const MAX_CALL_FRAMES = 8;
export const MAX_TAIL_CALL_CNT = 33;

/**
 * A helper reads its arguments r1-r5 from x.R (lo at 2n, hi at 2n+1) and leaves its result in r0.
 * It may throw BpfError for what would be a kernel bug (e.g. a bad pointer in unverified code).
 */
export type HelperFn = (x: ExecContext) => void;

/** A program as the execution engines take it: instructions after load-time rewriting. */
export interface ExecProgram {
  readonly insns: readonly Insn[];
  readonly name: string;
}

/**
 * Checked runs (soundness fuzzing, test/verifier/fuzz): the interpreter's checked mode calls these before
 * every memory access and helper call, so a test can hold each one to what the verifier allowed. Normal
 * runs never look at it.
 */
export interface ExecSanitizer {
  /** A load, store or atomic of `size` bytes at the pointer (hi, lo) + off, by insn pc in call frame `depth`. */
  access(x: ExecContext, hi: number, lo: number, off: number, size: number, write: boolean, pc: number, depth: number): void;
  /** A helper call (enum bpf_func_id) with its arguments in x.R. */
  call(x: ExecContext, id: number, pc: number, depth: number): void;
}

export interface ExecEnv {
  readonly mem: AddressSpace;
  /** Indexed by helper id (enum bpf_func_id). A missing entry is an unknown helper. */
  readonly helpers: readonly (HelperFn | undefined)[];
  /** bpf_tail_call's lookup: the program at `index` of the PROG_ARRAY behind a map pointer, if any. */
  tailCallTarget?(map: unknown, index: number): ExecProgram | undefined;
}

export class ExecContext {
  /** r0..r10 as int32 halves: R[2n] = lo, R[2n+1] = hi. */
  readonly R = new Int32Array(22);
  /** Scratch for ctx loads and helpers that produce a pair. */
  readonly pair = new Int32Array(2);
  readonly stack: Region;
  /** Frame pointer of the outermost frame: frames grow down from the top of the stack region. */
  readonly stackTop: number;
  /** Instructions executed since the counter was last reset (benchmarks: ns per instruction). */
  insnCount = 0;
  /** Tail calls taken in the current run (MAX_TAIL_CALL_CNT bounds them). */
  tailCallCnt = 0;
  /** Loop iterations a JIT-compiled run may take before it is stopped (unverified code must not hang). */
  jitBudget = Infinity;
  /** Set only for interpretChecked() runs. */
  sanitizer: ExecSanitizer | undefined = undefined;

  constructor(readonly env: ExecEnv, readonly cpu = 0) {
    const bytes = new Uint8Array(MAX_CALL_FRAMES * MAX_BPF_STACK);
    this.stack = env.mem.map('stack', bytes);
    this.stackTop = bytes.length;
  }

  /** Point r10 at the top of the stack and r1 at the context, as the kernel's __bpf_prog_run does. */
  reset(ctxLo: number, ctxHi: number): void {
    // Spelled out: R.fill(0) is a builtin call that costs several times these stores, once per run.
    const R = this.R;
    R[0] = 0; R[1] = 0; R[2] = ctxLo; R[3] = ctxHi; R[4] = 0; R[5] = 0; R[6] = 0; R[7] = 0;
    R[8] = 0; R[9] = 0; R[10] = 0; R[11] = 0; R[12] = 0; R[13] = 0; R[14] = 0; R[15] = 0;
    R[16] = 0; R[17] = 0; R[18] = 0; R[19] = 0; R[20] = this.stackTop; R[21] = this.stack.hi;
    this.tailCallCnt = 0;
  }

  release(): void {
    this.env.mem.unmap(this.stack);
  }
}
