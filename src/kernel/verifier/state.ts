// The verifier's abstract machine state (include/linux/bpf_verifier.h): struct bpf_reg_state for each
// register, struct bpf_stack_state for each 8-byte stack slot, struct bpf_func_state per call frame and
// struct bpf_verifier_state for a whole path, with the jump history that precision backtracking walks.
// Copying is explicit (copy_verifier_state) because branches fork the state and explored states are kept
// for pruning.

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
  | 'func'
  /** PTR_TO_MEM: memory of a known size (a global function's pointer argument); the size is in `range`. */
  | 'mem';

export const MAX_BPF_REG = 11;
export const BPF_REG_FP = 10;
export const BPF_REG_SIZE = 8;
export const MAX_BPF_STACK = 512;
export const MAX_CALL_FRAMES = 8;

/** reg->range of a packet pointer found at or past data_end (mark_pkt_end). */
export const AT_PKT_END = -1;
export const BEYOND_PKT_END = -2;

export interface RegState extends ScalarBounds {
  type: RegType;
  /** PTR_MAYBE_NULL: a map value pointer before its null check (`map_value_or_null`). */
  maybeNull: boolean;
  /**
   * Pointers: the fixed offset from the base (the variable part is in var_off and the bounds).
   * Scalars linked by `rX = rY; rX += K` (id carries BPF_ADD_CONST): the constant K.
   */
  off: number;
  /**
   * Packet pointers: bytes known to be inside the packet from `off` on (learnt from data_end compares).
   * PTR_TO_MEM: its mem_size (the kernel keeps both in one union of struct bpf_reg_state).
   */
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
  /** A scalar whose exact range mattered for safety on some path explored from this state. */
  precise: boolean;
}

/** Byte states of a stack slot (enum bpf_stack_slot_type): '?' invalid, 'r' spill, 'm' misc, '0' zero. */
export type SlotByte = '?' | 'r' | 'm' | '0';

export interface StackSlot {
  /**
   * slot_type[] by address: index 0 is the lowest address of the slot (the kernel's slot_type[7]), so a
   * spill of fewer than 8 bytes occupies the low indexes.
   */
  bytes: SlotByte[];
  /** The spilled register (spilled_ptr) when the lowest byte is a spill. */
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
  /** allocated_stack: bytes of stack this frame has touched, a multiple of 8. */
  allocated: number;
}

/**
 * One entry of a path's jump history (struct bpf_jmp_history_entry): an instruction reached other than
 * by falling through, or one whose operands precision backtracking needs to know about (stack slot
 * accesses, linked registers). Backtracking walks the history backwards.
 */
export interface JmpHistoryEntry {
  idx: number;
  prev_idx: number;
  /** INSN_F_* flags. */
  flags: number;
  /** Registers and stack slots that learnt a range together at this jump (linked_regs), or undefined. */
  linked: LinkedReg[] | undefined;
}

export interface LinkedReg {
  frameno: number;
  /** A register number, or a stack slot index when isReg is false. */
  regno: number;
  isReg: boolean;
}

/** INSN_F_*: the flags of a history entry. */
export const INSN_F_STACK_ACCESS = 1 << 9;
export const INSN_F_DST_REG_STACK = 1 << 10;
export const INSN_F_SRC_REG_STACK = 1 << 11;

export interface VerifierState {
  frames: FuncState[];
  curframe: number;
  /** The nearest explored state this path descends from (cur->parent). */
  parent: ExploredState | undefined;
  /** Instruction to resume at (for pushed branch states); for explored states, where they were stored. */
  insn_idx: number;
  prev_insn_idx: number;
  /** The first and last instruction of this state's stretch of the path (for backtracking). */
  first_insn_idx: number;
  last_insn_idx: number;
  /** This stretch's jump history. */
  jmp_history: JmpHistoryEntry[];
  /** Log length when the branch was pushed (level-1 logs rewind to it when the path ends). */
  logPos: number;
}

const zeroTnum: Tnum = { value: 0n, mask: 0n };

export function notInitReg(): RegState {
  return {
    type: 'not_init', maybeNull: false, off: 0, range: 0, id: 0, map: undefined, frameno: 0, subreg_def: -1,
    var_off: zeroTnum, smin_value: 0n, smax_value: 0n, umin_value: 0n, umax_value: 0n,
    s32_min_value: 0n, s32_max_value: 0n, u32_min_value: 0n, u32_max_value: 0n, precise: false,
  };
}

/** A field-by-field copy: a literal of one shape is much cheaper for V8 than a spread. */
export function copyReg(r: RegState): RegState {
  return {
    type: r.type, maybeNull: r.maybeNull, off: r.off, range: r.range, id: r.id, map: r.map, frameno: r.frameno,
    subreg_def: r.subreg_def, var_off: r.var_off, smin_value: r.smin_value, smax_value: r.smax_value,
    umin_value: r.umin_value, umax_value: r.umax_value, s32_min_value: r.s32_min_value,
    s32_max_value: r.s32_max_value, u32_min_value: r.u32_min_value, u32_max_value: r.u32_max_value,
    precise: r.precise,
  };
}

/** copy_register_state: dst becomes src in place. */
export function assignReg(dst: RegState, r: RegState): void {
  dst.type = r.type; dst.maybeNull = r.maybeNull; dst.off = r.off; dst.range = r.range; dst.id = r.id; dst.map = r.map;
  dst.frameno = r.frameno; dst.subreg_def = r.subreg_def; dst.var_off = r.var_off; dst.smin_value = r.smin_value;
  dst.smax_value = r.smax_value; dst.umin_value = r.umin_value; dst.umax_value = r.umax_value;
  dst.s32_min_value = r.s32_min_value; dst.s32_max_value = r.s32_max_value; dst.u32_min_value = r.u32_min_value;
  dst.u32_max_value = r.u32_max_value; dst.precise = r.precise;
}

/** Reset a register in place to NOT_INIT (no allocation). */
export function resetReg(r: RegState): void {
  r.type = 'not_init'; r.maybeNull = false; r.off = 0; r.range = 0; r.id = 0; r.map = undefined; r.frameno = 0;
  r.subreg_def = -1; r.var_off = zeroTnum; r.smin_value = 0n; r.smax_value = 0n; r.umin_value = 0n;
  r.umax_value = 0n; r.s32_min_value = 0n; r.s32_max_value = 0n; r.u32_min_value = 0n; r.u32_max_value = 0n;
  r.precise = false;
}

export function newFuncState(frameno: number, callsite: number, subprogno: number): FuncState {
  return { regs: Array.from({ length: MAX_BPF_REG }, notInitReg), stack: [], frameno, callsite, subprogno, allocated: 0 };
}

export function newSlot(): StackSlot {
  return { bytes: ['?', '?', '?', '?', '?', '?', '?', '?'], spilled: undefined };
}

export function copySlot(s: StackSlot): StackSlot {
  return { bytes: s.bytes.slice(), spilled: s.spilled === undefined ? undefined : copyReg(s.spilled) };
}

export function copyFunc(f: FuncState): FuncState {
  const regs = new Array<RegState>(MAX_BPF_REG);
  for (let i = 0; i < MAX_BPF_REG; i++) regs[i] = copyReg(f.regs[i]!);
  const stack = new Array<StackSlot>(f.stack.length);
  for (let i = 0; i < f.stack.length; i++) stack[i] = copySlot(f.stack[i]!);
  return { regs, stack, frameno: f.frameno, callsite: f.callsite, subprogno: f.subprogno, allocated: f.allocated };
}

/**
 * A state kept at a prune point (struct bpf_verifier_state_list). `branches` counts the paths still
 * being explored below it; only a fully explored state (branches == 0) may prune another path, and an
 * in-progress one that a descendant comes back to unchanged means a loop that does not terminate.
 */
export interface ExploredState {
  readonly state: VerifierState;
  branches: number;
  hit: number;
  miss: number;
  /** Evicted from its list (it may still be some path's parent). */
  evicted: boolean;
  /** clean_live_states has dropped its dead registers and stack slots (st->cleaned). */
  cleaned: boolean;
}

export function copyState(s: VerifierState): VerifierState {
  const frames = new Array<FuncState>(s.frames.length);
  for (let i = 0; i < s.frames.length; i++) frames[i] = copyFunc(s.frames[i]!);
  return {
    frames, curframe: s.curframe, parent: s.parent, insn_idx: s.insn_idx, prev_insn_idx: s.prev_insn_idx,
    first_insn_idx: s.first_insn_idx, last_insn_idx: s.last_insn_idx, jmp_history: s.jmp_history.slice(), logPos: s.logPos,
  };
}

export function curFrame(s: VerifierState): FuncState {
  return s.frames[s.curframe]!;
}

export const isPointer = (r: RegState): boolean => r.type !== 'scalar' && r.type !== 'not_init';
export const isPktPointer = (r: RegState): boolean => r.type === 'pkt' || r.type === 'pkt_meta';

/** is_spilled_reg: the slot's lowest byte holds a spill (a spill of any size starts there). */
export const isSpilledReg = (s: StackSlot): boolean => s.bytes[0] === 'r';
export const isSpilledScalarReg = (s: StackSlot): boolean => s.bytes[0] === 'r' && s.spilled?.type === 'scalar';
