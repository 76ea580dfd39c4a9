// The verifier's abstract machine state (include/linux/bpf_verifier.h): struct bpf_reg_state for each
// register, struct bpf_stack_state for each 8-byte stack slot, struct bpf_func_state per call frame and
// struct bpf_verifier_state for a whole path. Copying is explicit (copy_verifier_state) because branches
// fork the state and explored states are kept for pruning.

import type { BpfMap } from '../maps/map.js';
import type { ScalarBounds, Tnum } from './scalar.js';

/** enum bpf_reg_type, as the verifier log spells them (reg_type_str). */
export type RegType =
  | 'not_init'
  | 'scalar'
  | 'ctx'
  | 'map_ptr'
  | 'map_value'
  | 'map_key'
  | 'fp'
  | 'pkt'
  | 'pkt_meta'
  | 'pkt_end'
  | 'func';

export const MAX_BPF_REG = 11;
export const BPF_REG_FP = 10;
export const BPF_REG_SIZE = 8;
export const MAX_BPF_STACK = 512;
export const MAX_CALL_FRAMES = 8;

export interface RegState extends ScalarBounds {
  type: RegType;
  /** PTR_MAYBE_NULL: a map value pointer before its null check (`map_value_or_null`). */
  maybeNull: boolean;
  /** Fixed offset of a pointer from its base (the variable part is in var_off/bounds). */
  off: number;
  /** Packet pointers: bytes known to be inside the packet from `off` on (learnt from data_end compares). */
  range: number;
  /**
   * Identity shared by copies of one pointer (packet pointers from one base, a lookup result and
   * its copies) so that a check on one applies to all; scalars share ids when copied too.
   */
  id: number;
  /** The map of CONST_PTR_TO_MAP, map value and map key pointers. */
  map: BpfMap | undefined;
  /** Stack pointers: which call frame's stack. */
  frameno: number;
  /** The instruction that last wrote the low 32 bits with a 32-bit op (for zero-extension), or -1. */
  subreg_def: number;
}

/** Byte states of a stack slot (enum bpf_stack_slot_type): '?' invalid, 'r' spill, 'm' misc, '0' zero. */
export type SlotByte = '?' | 'r' | 'm' | '0';

export interface StackSlot {
  /** slot_type[], index 0 = the lowest address of the slot. */
  bytes: SlotByte[];
  /** The spilled register when all 8 bytes are 'r'. */
  spilled: RegState | undefined;
}

export interface FuncState {
  regs: RegState[];
  /** Slot i covers fp-8*(i+1) .. fp-8*i-1. */
  stack: StackSlot[];
  frameno: number;
  /** Instruction that called this frame (-1 for the main program) and the first instruction. */
  callsite: number;
  subprogno: number;
  /** Deepest stack byte written or read (for the combined stack size check). */
  allocated: number;
}

export interface VerifierState {
  frames: FuncState[];
  curframe: number;
  /** The nearest explored state this path descends from (cur->parent). */
  parent: ExploredState | undefined;
  /** Instruction to resume at (for pushed branch states). */
  insn_idx: number;
  prev_insn_idx: number;
  /** Log length when the branch was pushed (level-1 logs rewind to it when the path ends). */
  logPos: number;
}

const zeroTnum: Tnum = { value: 0n, mask: 0n };

export function notInitReg(): RegState {
  return {
    type: 'not_init', maybeNull: false, off: 0, range: 0, id: 0, map: undefined, frameno: 0, subreg_def: -1,
    var_off: zeroTnum, smin_value: 0n, smax_value: 0n, umin_value: 0n, umax_value: 0n,
    s32_min_value: 0n, s32_max_value: 0n, u32_min_value: 0n, u32_max_value: 0n,
  };
}

/** A field-by-field copy: a literal of one shape is much cheaper for V8 than a spread. */
export function copyReg(r: RegState): RegState {
  return {
    type: r.type, maybeNull: r.maybeNull, off: r.off, range: r.range, id: r.id, map: r.map, frameno: r.frameno,
    subreg_def: r.subreg_def, var_off: r.var_off, smin_value: r.smin_value, smax_value: r.smax_value,
    umin_value: r.umin_value, umax_value: r.umax_value, s32_min_value: r.s32_min_value,
    s32_max_value: r.s32_max_value, u32_min_value: r.u32_min_value, u32_max_value: r.u32_max_value,
  };
}

/** Reset a register in place to NOT_INIT (no allocation). */
export function resetReg(r: RegState): void {
  r.type = 'not_init'; r.maybeNull = false; r.off = 0; r.range = 0; r.id = 0; r.map = undefined; r.frameno = 0;
  r.subreg_def = -1; r.var_off = zeroTnum; r.smin_value = 0n; r.smax_value = 0n; r.umin_value = 0n;
  r.umax_value = 0n; r.s32_min_value = 0n; r.s32_max_value = 0n; r.u32_min_value = 0n; r.u32_max_value = 0n;
}

export function newFuncState(frameno: number, callsite: number, subprogno: number): FuncState {
  return { regs: Array.from({ length: MAX_BPF_REG }, notInitReg), stack: [], frameno, callsite, subprogno, allocated: 0 };
}

export function copyFunc(f: FuncState): FuncState {
  return {
    regs: f.regs.map(copyReg),
    stack: f.stack.map((s) => ({ bytes: s.bytes.slice(), spilled: s.spilled === undefined ? undefined : copyReg(s.spilled) })),
    frameno: f.frameno, callsite: f.callsite, subprogno: f.subprogno, allocated: f.allocated,
  };
}

/**
 * A state kept at a prune point (struct bpf_verifier_state_list). `branches` counts the paths still
 * being explored below it; only a fully explored state (branches == 0) may prune another path, and an
 * in-progress one that a descendant comes back to means a loop that does not terminate.
 */
export interface ExploredState {
  readonly state: VerifierState;
  branches: number;
  hit: number;
  miss: number;
}

export function copyState(s: VerifierState): VerifierState {
  return { frames: s.frames.map(copyFunc), curframe: s.curframe, parent: s.parent, insn_idx: s.insn_idx, prev_insn_idx: s.prev_insn_idx, logPos: s.logPos };
}

export function curFrame(s: VerifierState): FuncState {
  return s.frames[s.curframe]!;
}

export const isPointer = (r: RegState): boolean => r.type !== 'scalar' && r.type !== 'not_init';
export const isPktPointer = (r: RegState): boolean => r.type === 'pkt' || r.type === 'pkt_meta';
