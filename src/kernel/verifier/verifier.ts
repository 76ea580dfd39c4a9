// The BPF verifier (kernel/bpf/verifier.c), in the same shape:
//
//   bpf_check()         structural passes (cfg.ts), then do_check(), then the stack-depth check; the
//                       rewrites (fixup.ts) follow in the syscall layer
//   do_check()          walks every path of the program with an abstract state per path: each register
//                       has a type (scalar, ctx, packet, stack, map value...) and, for scalars and
//                       variable offsets, a tnum plus signed/unsigned 32/64-bit bounds (bounds.ts); each
//                       8-byte stack slot remembers what was stored in it, byte by byte. A conditional jump
//                       forks the state (push_stack) unless the outcome is known; at prune points a state
//                       that is within one already proven safe is pruned (is_state_visited), where
//                       scalars only count if some check depended on them (precision.ts), and registers
//                       and stack slots only if a later instruction may read them (liveness.ts,
//                       live-stack.ts; clean_live_states).
//   check_*()           one per instruction class, refusing with the kernel's log line and errno
//
// The loader is privileged (root: allow_ptr_leaks, bypass_spec_v1, allow_uninit_stack, bpf_capable),
// so pointer leaks, reads of uninitialised stack and variable stack offsets are allowed, and no
// Spectre sanitation is done, as in the kernel for such a loader.
//
// What the walk proves is recorded per instruction (InsnAux, the kernel's bpf_insn_aux_data) for the
// JITs - the pointer type an access uses, the map of a lookup, whether a register's upper half is zero -
// and a device's hook (an offload driver) sees every instruction on every path.

import { BTF_FUNC_GLOBAL, type Btf, type BpfFuncInfo } from '../../bpf/btf.js';
import { BpfError, type ErrnoName } from '../../bpf/errno.js';
import { formatInsn } from '../../bpf/disasm.js';
import { BPF_FUNC_NAMES, helperName } from '../../bpf/helpers.js';
import type { Insn } from '../../bpf/insn.js';
import { BPF_F_ANY_ALIGNMENT, BPF_F_STRICT_ALIGNMENT, BPF_MAP_TYPE, BPF_PROG_TYPE } from '../../bpf/prog-types.js';
import { BPF_ADD, BPF_JEQ, BPF_JNE, BPF_SUB, JMP_CONDS, type AluOp, type JmpCond, type OpInfo } from '../../bpf/opcodes.js';
import { func_proto } from '../helpers/index.js';
import type { BpfArg, BpfFuncProto } from '../helpers/proto.js';
import {
  BPF_F_RDONLY_PROG, BPF_F_WRONLY_PROG, BPF_MAP_TYPE_ARRAY, BPF_MAP_TYPE_DEVMAP, BPF_MAP_TYPE_DEVMAP_HASH,
  BPF_MAP_TYPE_PERCPU_ARRAY, BPF_MAP_TYPE_PERF_EVENT_ARRAY, BPF_MAP_TYPE_PROG_ARRAY, type BpfMap,
} from '../maps/map.js';
import {
  __mark_reg32_unbounded, __mark_reg_unbounded, adjust_ptr_min_max_bounds, adjust_scalar_min_max_vals, coerce_reg_to_size,
  coerce_reg_to_size_sx, coerce_subreg_to_size_sx, flip_opcode, get_reg_width, is_branch_taken, reg_bounds_sanity_check,
  reg_bounds_sync, reg_set_min_max, scalar32_min_max_add, scalar_min_max_add, zext_32_to_64, ___mark_reg_known,
  __mark_reg_unknown, range_within,
} from './bounds.js';
import { prepareFuncArgs, subprogBtf, type SubprogArg, type SubprogBtf } from './btf-func.js';
import { computeScc, findSubprogs, markPrunePoints, opsOf, verifyStructure } from './cfg.js';
import { isValidCtxAccess, mayAccessDirectPktData, mayAccessSkb } from './ctx.js';
import { BPF_ADD_CONST, BPF_ADD_CONST32, BPF_ADD_CONST64, print_scalar_state, print_scalar_ranges, tnum_strn, verbose_snum, verbose_unum } from './format.js';
import { computeLiveness, computeZextDst } from './liveness.js';
import { LiveStack } from './live-stack.js';
import type { VerifierLog } from './log.js';
import {
  insnStackAccessFlags, markAllScalarsImprecise, markChainPrecision, markStackSlotPrecision, propagatePrecision,
  type BacktrackEnv,
} from './precision.js';
import type { ScalarBounds } from './scalar.js';
import {
  AT_PKT_END, BEYOND_PKT_END, BPF_REG_FP, BPF_REG_SIZE, INSN_F_DST_REG_STACK, INSN_F_SRC_REG_STACK, MAX_BPF_STACK,
  MAX_CALL_FRAMES, assignReg, copyReg, copyState, curFrame, isPktPointer, isPointer, isSpilledReg, isSpilledScalarReg,
  newFuncState, newSlot, notInitReg, resetReg, type ExploredState, type FuncState, type JmpHistoryEntry, type LinkedReg,
  type RegState, type RegType, type SlotByte, type StackSlot, type VerifierState,
} from './state.js';
import { tnum_add, tnum_const, tnum_is_aligned, tnum_is_const, tnum_in, tnum_is_unknown, tnum_subreg_is_const } from './tnum.js';

/** BPF_COMPLEXITY_LIMIT_INSNS and the jump-history/state limits of the kernel. */
export const BPF_COMPLEXITY_LIMIT_INSNS = 1_000_000;
export const BPF_COMPLEXITY_LIMIT_JMP_SEQ = 8192;
/** BPF_MAX_VAR_OFF / BPF_MAX_VAR_SIZ: the largest offsets and sizes the verifier reasons about. */
export const BPF_MAX_VAR_OFF = 1 << 29;
const BPF_MAX_VAR_SIZ = 1 << 29;
/** MAX_PACKET_OFF: 0xffff. */
const MAX_PACKET_OFF = 0xffff;
/** NET_IP_ALIGN as strict packet alignment assumes it. */
const NET_IP_ALIGN = 2;
/** At most this many registers/slots learn a range together at one jump (LINKED_REGS_MAX). */
const LINKED_REGS_MAX = 6;

/** How an lddw at an index was resolved by resolve_pseudo_ldimm64 (the syscall layer). */
export interface LdImmMap {
  readonly map: BpfMap;
  /** BPF_PSEUDO_MAP_VALUE: the value offset; undefined for a map pointer. */
  readonly valueOff: number | undefined;
}

/** struct bpf_insn_aux_data: what the walk learnt about one instruction, for the rewrites and the JITs. */
export interface InsnAux {
  /** The instruction was reached on some path (dead code is removed or hard-wired by the rewrites). */
  seen: boolean;
  /** Memory instructions: the pointer type of the base register on every path (undefined if never reached). */
  ptrType: RegType | undefined;
  /** The pointer type differed between paths (the kernel refuses some such mixes). */
  ptrTypeMixed: boolean;
  /** Helper calls and lddw: the map involved (map_ptr_state); mapMixed when paths passed different maps. */
  map: BpfMap | undefined;
  mapMixed: boolean;
  /** Memory instructions on a map value: the map (memMapMixed when paths disagree). */
  memMap: BpfMap | undefined;
  memMapMixed: boolean;
  /** Memory instructions: the pointer's frame (stack) on every path, or -1 when it varies. */
  frameno: number | undefined;
  /** XDP context loads: the xdp_md field (for convert_ctx_accesses). */
  ctxField: number | undefined;
  /** A 32-bit write whose zero upper half is read later (the kernel's zext_dst). */
  zext_dst: boolean;
  /** Stack accesses: the frame-relative offsets seen (fp-relative, negative). */
  stackOff: number | undefined;
  stackOffMixed: boolean;
  /** A conditional jump found always (1) or never (0) taken on every path; -1 when both happen. */
  branch: -1 | 0 | 1 | undefined;
  /**
   * Register facts before the instruction on every path, for the JITs (bit n = register n):
   * hi0: a scalar below 2^32 (its upper half is zero); pkt: a packet pointer (pkt, pkt_meta, pkt_end)
   * whose offset stays well inside the 32-bit range; ptr: any such pointer.
   */
  hi0: number;
  pkt: number;
  ptr: number;
  /** The class of the destination register after an ALU instruction, on every path. */
  dstAfter: 'hi0' | 'ptr' | 'other' | undefined;
}

/** |offset| a pointer may have for its address to keep its upper half (the region tag) unchanged. */
const STABLE_PTR_OFF = 1n << 24n;

function regClass(r: RegState): 'hi0' | 'pkt' | 'ptr' | 'other' {
  if (r.type === 'scalar') return r.umax_value <= 0xffffffffn ? 'hi0' : 'other';
  if (r.type === 'not_init' || r.maybeNull || r.type === 'map_ptr' || r.type === 'func') return 'other';
  const lo = BigInt(r.off) + r.smin_value, hi = BigInt(r.off) + r.umax_value;
  if (r.smin_value < -STABLE_PTR_OFF || lo < -STABLE_PTR_OFF || hi > STABLE_PTR_OFF || r.umax_value > STABLE_PTR_OFF) return 'other';
  return r.type === 'pkt' || r.type === 'pkt_meta' || r.type === 'pkt_end' ? 'pkt' : 'ptr';
}

/** AND today's register facts into the instruction's record. */
function recordRegFacts(a: InsnAux, regs: readonly RegState[]): void {
  let hi0 = 0, pkt = 0, ptr = 0;
  for (let i = 0; i < regs.length; i++) {
    const c = regClass(regs[i]!);
    if (c === 'hi0') hi0 |= 1 << i;
    else if (c === 'pkt') { pkt |= 1 << i; ptr |= 1 << i; } else if (c === 'ptr') ptr |= 1 << i;
  }
  a.hi0 &= hi0;
  a.pkt &= pkt;
  a.ptr &= ptr;
}

/** The device side of an offloaded load (struct bpf_prog_offload_ops), called inside the one walk. */
export interface BpfOffloadOps {
  prepare?(env: VerifierEnv): void;
  /** Called on every instruction of every path with the current state; a BpfError refuses the program. */
  insn_hook(env: VerifierEnv, insnIdx: number, prevInsnIdx: number): void;
  finalize?(env: VerifierEnv): void;
}

export interface VerifierOptions {
  progType: number;
  expectedAttachType: number;
  insns: readonly Insn[];
  /** lddw index -> map, from resolve_pseudo_ldimm64. */
  ldImm: ReadonlyMap<number, LdImmMap>;
  gplCompatible: boolean;
  log: VerifierLog;
  /** bpf_attr.prog_flags: BPF_F_STRICT_ALIGNMENT / BPF_F_ANY_ALIGNMENT decide env->strict_alignment. */
  progFlags?: number;
  /** nr_cpu_ids: bpf_get_smp_processor_id() returns less (do_refine_retval_range); unknown if absent. */
  nrCpuIds?: number;
  /** An offloaded program: the device's hook runs on every instruction. */
  offload?: BpfOffloadOps;
  /** The program is bound to a device (prog_ifindex); XDP ctx rx_queue_index becomes writable. */
  offloaded?: boolean;
  /** Line info for the log: instruction -> "source text @ file:line". */
  lineText?: (insnIdx: number) => string | undefined;
  /**
   * The program's BTF and func_info (prog_btf_fd, func_info): a subprogram whose FUNC is global is
   * verified on its own from its prototype, not at each call. Without them every subprogram is static.
   */
  btf?: Btf;
  funcInfo?: readonly BpfFuncInfo[];
}

/** What the walk keeps per subprogram about its BTF prototype (bpf_subprog_info + bpf_func_info_aux). */
interface SubprogState {
  readonly btf: SubprogBtf;
  /** A global function some verified path calls: it is verified after the main program (aux->called). */
  called: boolean;
  verified: boolean;
  /** A call did not match the BTF (aux->unreliable): a static function's BTF is not trusted any more. */
  unreliable: boolean;
  /** btf_prepare_func_args' result, once it succeeded (args_cached). */
  args: readonly SubprogArg[] | undefined;
  /** Calls a helper that may move the packet, directly or through its callees (changes_pkt_data). */
  changesPktData: boolean;
}

/** An entry of the branch stack (struct bpf_verifier_stack_elem). */
type StackElem = VerifierState;

export class VerifierEnv implements BacktrackEnv {
  readonly insns: readonly Insn[];
  readonly ops: readonly (OpInfo | undefined)[];
  readonly aux: InsnAux[];
  readonly subprogs: readonly number[];
  /** Per subprogram: linkage, prototype and whether a global one still has to be verified. */
  readonly subprogInfo: SubprogState[];
  cur!: VerifierState;
  /** Instructions processed (the "processed N insns" of the stats line). */
  insnProcessed = 0;
  totalStates = 0;
  peakStates = 0;
  maxStatesPerInsn = 0;
  /** Explored states alive (in a list, or evicted but still some path's parent). */
  liveStates = 0;
  private idGen = 0;
  /** Branch states waiting to be explored (env->head). */
  readonly stack: StackElem[] = [];
  /** States stored at prune points, by instruction (env->explored_states). */
  readonly explored = new Map<number, ExploredState[]>();
  /** Deepest stack use per subprogram (subprog_info[].stack_depth, a multiple of 8). */
  readonly stackDepth: number[];
  /** Where the last instruction line ended, and its length (print_insn_state's alignment). */
  prevLogPos = 0;
  prevInsnPrintPos = 0;
  /** Jumps and instructions processed when the last state was stored (the add_new_state heuristic). */
  jmpsProcessed = 0;
  prevJmpsProcessed = 0;
  prevInsnProcessed = 0;
  /** env->prev_insn_idx: the instruction the current one was reached from. */
  prevInsnIdx = -1;
  /** The current instruction's jump history entry, if it made one (env->cur_hist_ent). */
  curHistEnt: JmpHistoryEntry | undefined;
  /** Registers (bit n) and stack slots the current instruction touched, for the log. */
  scratchedRegs = 0;
  scratchedStack = new Set<number>();
  /** Registers live before each instruction (liveness.ts), so pruning ignores dead ones. */
  readonly live: Uint16Array;
  /** Where the walk compares states and which instructions enter the jump history (visit_insn). */
  readonly prunePoint: Uint8Array;
  readonly jmpPoint: Uint8Array;
  /** The source line last shown (env->prev_linfo). */
  prevLineText: string | undefined;
  /** env->strict_alignment. */
  readonly strictAlignment: boolean;
  /** Instruction disassembly for the log, made once per instruction. */
  private readonly insnText: (string | undefined)[];
  /** Prune points where imprecise scalars made a path's facts differ (see jitFactTaint). */
  readonly taints: Taint[] = [];
  /**
   * Compare every scalar by its range when pruning, precise or not. An offload device's hook records
   * what it sees of each instruction (value ranges of shift amounts, multiplier widths) from the paths
   * it is shown; a path pruned for an imprecise scalar would go unseen with other values.
   */
  readonly allPrecise: boolean;
  /**
   * Stack slot liveness (6.18's kernel/bpf/liveness.c, env->liveness), call chain by call chain: which
   * slots of an explored state may still be read, for clean_live_states. Its lines are printed at log
   * level 2 only.
   */
  readonly liveStack: LiveStack;

  constructor(readonly opts: VerifierOptions) {
    this.insns = opts.insns;
    this.ops = opsOf(opts.insns);
    this.aux = opts.insns.map(() => ({
      seen: false, ptrType: undefined, ptrTypeMixed: false, map: undefined, mapMixed: false, memMap: undefined, memMapMixed: false, frameno: undefined, ctxField: undefined,
      zext_dst: false, stackOff: undefined, stackOffMixed: false, branch: undefined,
      hi0: 0x7ff, pkt: 0x7ff, ptr: 0x7ff, dstAfter: undefined,
    }));
    this.subprogs = findSubprogs(opts.insns, this.ops, opts.log);
    this.stackDepth = this.subprogs.map(() => 0);
    const hasFuncInfo = opts.btf !== undefined && (opts.funcInfo?.length ?? 0) > 0;
    this.subprogInfo = subprogBtf(hasFuncInfo ? opts.btf : undefined, hasFuncInfo ? opts.funcInfo : undefined, this.subprogs.length)
      .map((btf) => ({ btf, called: false, verified: false, unreliable: false, args: undefined, changesPktData: false }));
    markChangesPktData(this, opts.progType);
    const helperArgs = (imm: number): number | undefined => {
      const p = func_proto(opts.progType, imm)?.proto;
      if (p === undefined) return undefined;
      let n = 0;
      while (n < p.arg_type.length && p.arg_type[n]!.type !== 'ARG_DONTCARE') n++;
      return n;
    };
    this.live = computeLiveness(this.insns, this.ops, this.subprogs, helperArgs);
    const { prune, jmp } = markPrunePoints(this.insns, this.ops);
    this.prunePoint = prune;
    this.jmpPoint = jmp;
    const flags = opts.progFlags ?? 0;
    // x86-64 has efficient unaligned access: strict only when asked for, and ANY_ALIGNMENT wins.
    this.strictAlignment = (flags & BPF_F_STRICT_ALIGNMENT) !== 0 && (flags & BPF_F_ANY_ALIGNMENT) === 0;
    this.insnText = new Array(this.insns.length);
    this.allPrecise = opts.offload !== undefined;
    this.liveStack = new LiveStack(this.insns, this.ops, this.subprogs, this.prunePoint, opts.log);
  }

  get log(): VerifierLog {
    return this.opts.log;
  }

  newId(): number {
    return ++this.idGen;
  }

  /** verbose() followed by a failing return: the log line and the load's failure in one. */
  reject(errno: ErrnoName, line: string): never {
    this.log.write(`${line}\n`);
    throw new BpfError(errno, line);
  }

  regs(): RegState[] {
    return curFrame(this.cur).regs;
  }

  subprogOf(insn: number): number {
    let s = 0;
    for (let i = 0; i < this.subprogs.length; i++) if (this.subprogs[i]! <= insn) s = i;
    return s;
  }

  /** `N: (op) insn` as the kernel's log shows an instruction (verbose_insn), made once per instruction. */
  insnLine(idx: number): string {
    let t = this.insnText[idx];
    if (t === undefined) {
      t = `${idx}: ${this.insnDisasm(idx)}`;
      this.insnText[idx] = t;
    }
    return t;
  }

  frameText(st: VerifierState, frame: number): string {
    return formatState(undefined, st.frames[frame]!, true);
  }

  /** verbose_insn: `(op) insn`. */
  insnDisasm(idx: number): string {
    return formatInsn(this.insns, idx, { flavour: 'kernel', allowPtrLeaks: true, callName: (x) => (x.src === 0 ? helperName(x.imm) : undefined) });
  }
}

/** A prune where the pruned path's imprecise scalars were not within the explored state's. */
export interface Taint {
  readonly insn: number;
  /** Registers of the current frame. */
  readonly regs: number;
  /** Stack slots of the current frame (slot index), or 'all' for any frame's slots or caller frames. */
  readonly slots: readonly number[];
  readonly global: boolean;
}

// ---------------------------------------------------------------------------------------------------
// Register helpers (mark_reg_*)

/** __mark_reg_unknown: an unknown scalar; subreg_def is kept. */
function markRegUnknown(r: RegState): void {
  r.type = 'scalar';
  r.maybeNull = false;
  r.off = 0;
  r.range = 0;
  r.map = undefined;
  r.id = 0;
  r.frameno = 0;
  r.precise = false;
  __mark_reg_unknown(r);
}

/** __mark_reg_known: the value is `v`; the type is the caller's. */
function markRegKnown(r: RegState, v: bigint): void {
  r.maybeNull = false;
  r.off = 0;
  r.range = 0;
  r.map = undefined;
  r.id = 0;
  ___mark_reg_known(r, v);
}

/** __mark_reg_const_zero. */
function markRegConstZero(r: RegState): void {
  markRegKnown(r, 0n);
  r.type = 'scalar';
  r.precise = false;
}

/** mark_reg_known_zero + the type: a pointer with no offset. */
function markPtr(r: RegState, type: RegType): void {
  markRegKnown(r, 0n);
  r.type = type;
  r.precise = false;
}

/** mark_reg_not_init. */
function markRegNotInit(r: RegState): void {
  const keep = r.subreg_def;
  resetReg(r);
  r.subreg_def = keep;
}

function regTypeStr(r: RegState): string {
  return `${r.type}${r.maybeNull ? '_or_null' : ''}`;
}

const isConst = (r: ScalarBounds): boolean => tnum_is_const(r.var_off);
/** register_is_null: a scalar known to be 0. */
const registerIsNull = (r: RegState): boolean => r.type === 'scalar' && tnum_is_const(r.var_off) && r.var_off.value === 0n;

type RegArg = 'SRC_OP' | 'DST_OP' | 'DST_OP_NO_MARK';

/** check_reg_arg: a read needs an initialised register; r10 cannot be written; both mark it scratched. */
function checkRegArg(env: VerifierEnv, regno: number, t: RegArg): RegState {
  env.scratchedRegs |= 1 << regno;
  const r = env.regs()[regno]!;
  if (t === 'SRC_OP') {
    if (r.type === 'not_init') env.reject('EACCES', `R${regno} !read_ok`);
    return r;
  }
  if (regno === BPF_REG_FP) env.reject('EACCES', 'frame pointer is read only');
  if (t === 'DST_OP') markRegUnknown(r);
  return r;
}

// ---------------------------------------------------------------------------------------------------
// The log's view of state (print_verifier_state, print_reg_state in kernel/bpf/log.c)

/** print_reg_state: what follows `R1=` (or a spilled slot's types) in the log. */
export function formatRegIn(r: RegState, frameno: number): string {
  if (r.type === 'not_init') return '?';
  if (r.type === 'scalar') return print_scalar_state(r, { id: r.id, delta: r.off, precise: r.precise });
  if (r.type === 'fp') {
    const fr = r.frameno !== frameno ? `[${r.frameno}]` : '';
    if (isConst(r)) return `fp${fr}${BigInt.asIntN(64, r.var_off.value) + BigInt(r.off)}`;
    const parts: string[] = [];
    if (r.id !== 0) parts.push(`id=${r.id}`);
    if (r.off !== 0) parts.push(`off=${verbose_snum(BigInt(r.off))}`);
    const ranges = print_scalar_ranges(r);
    if (ranges !== '') parts.push(ranges);
    if (!tnum_is_unknown(r.var_off)) parts.push(`var_off=${tnum_strn(r.var_off)}`);
    return `fp${fr}(${parts.join(',')})`;
  }
  const parts: string[] = [];
  if (r.id !== 0) parts.push(`id=${r.id}`);
  if (r.map !== undefined && (r.type === 'map_ptr' || r.type === 'map_value' || r.type === 'map_key')) {
    if (r.map.name !== '') parts.push(`map=${r.map.name}`);
    parts.push(`ks=${r.map.key_size},vs=${r.map.value_size}`);
  }
  if (r.off !== 0) parts.push(`off=${verbose_snum(BigInt(r.off))}`);
  if (isPktPointer(r)) parts.push(`r=${verbose_unum(BigInt(r.range))}`);
  if (r.type === 'mem') parts.push(`sz=${r.range >>> 0}`);
  if (isConst(r)) {
    if (r.var_off.value !== 0n) parts.push(`imm=${r.var_off.value.toString(16)}`);
  } else {
    const ranges = print_scalar_ranges(r);
    if (ranges !== '') parts.push(ranges);
    if (!tnum_is_unknown(r.var_off)) parts.push(`var_off=${tnum_strn(r.var_off)}`);
  }
  return `${regTypeStr(r)}(${parts.join(',')})`;
}

/** A register as a frame-0 state prints it. */
export function formatReg(r: RegState): string {
  return formatRegIn(r, r.type === 'fp' ? r.frameno : 0);
}

/** The kernel's slot_type[j] (j = 0 the highest address of the slot) for our address-ordered bytes. */
const stype = (s: StackSlot, j: number): SlotByte => s.bytes[7 - j]!;
const setStype = (s: StackSlot, j: number, v: SlotByte): void => { s.bytes[7 - j] = v; };

/** print_verifier_state: the frame's registers and stack, all of them or only what was scratched. */
function formatState(env: VerifierEnv | undefined, f: FuncState, all: boolean): string {
  let out = f.frameno !== 0 ? ` frame${f.frameno}:` : '';
  for (let i = 0; i < f.regs.length; i++) {
    const r = f.regs[i]!;
    if (r.type === 'not_init') continue;
    if (!all && (env!.scratchedRegs & (1 << i)) === 0) continue;
    out += ` R${i}=${formatRegIn(r, f.frameno)}`;
  }
  for (let i = 0; i < f.stack.length; i++) {
    if (!all && !env!.scratchedStack.has(i)) continue;
    const s = f.stack[i]!;
    let types = '';
    let valid = false;
    for (let j = 0; j < 8; j++) {
      const t = stype(s, j);
      if (t !== '?') valid = true;
      types += t;
    }
    if (!valid) continue;
    if (stype(s, 7) === 'r') {
      // The types of the bytes above a narrower spill, then the spilled register.
      let j = 0;
      while (j < 8 && stype(s, j) !== 'r') j++;
      out += ` fp${-(i + 1) * 8}=${types.slice(0, j)}${formatRegIn(s.spilled ?? notInitReg(), f.frameno)}`;
    } else {
      out += ` fp${-(i + 1) * 8}=${types}`;
    }
  }
  return out;
}

/** BPF_LOG_ALIGNMENT / BPF_LOG_MIN_ALIGNMENT of kernel/bpf/log.c: the column of "; R1=...". */
const BPF_LOG_ALIGNMENT = 40;
const BPF_LOG_MIN_ALIGNMENT = 8;

function stateScratched(env: VerifierEnv): boolean {
  return env.scratchedRegs !== 0 || env.scratchedStack.size !== 0;
}

function markStateScratched(env: VerifierEnv): void {
  env.scratchedRegs = 0x7ff;
  const f = curFrame(env.cur);
  for (let i = 0; i < f.stack.length; i++) env.scratchedStack.add(i);
}

function markStateClean(env: VerifierEnv): void {
  env.scratchedRegs = 0;
  if (env.scratchedStack.size !== 0) env.scratchedStack.clear();
}

const PADDING: string[] = [];
/** `%*c;`: the spaces (at least one) and the semicolon before an instruction's state. */
function padding(width: number): string {
  const w = Math.max(1, width);
  return (PADDING[w] ??= `${' '.repeat(w)};`);
}

/**
 * print_insn_state: the registers and stack slots the last instruction touched. Right after the
 * instruction line they go on that line, aligned (the newline is taken back); otherwise on a line of
 * their own that starts with the instruction index.
 */
function printInsnState(env: VerifierEnv): void {
  const log = env.log;
  if (env.prevLogPos !== 0 && env.prevLogPos === log.position) {
    log.truncate(env.prevLogPos - 1);
    const pos = env.prevInsnPrintPos;
    const width = Math.ceil(Math.max(pos, BPF_LOG_MIN_ALIGNMENT) / BPF_LOG_ALIGNMENT) * BPF_LOG_ALIGNMENT - pos - 1;
    log.write(padding(width));
  } else {
    log.write(`${env.cur.insn_idx}:`);
  }
  log.write(`${formatState(env, curFrame(env.cur), false)}\n`);
  markStateClean(env);
}

/** print_verifier_state with every register and slot, as the call/return lines show a frame. */
function printFullState(env: VerifierEnv, f: FuncState): void {
  env.log.write(`${formatState(undefined, f, true)}\n`);
}

// ---------------------------------------------------------------------------------------------------
// Stack (check_stack_write_* / check_stack_read_*)

function stackFrame(env: VerifierEnv, ptr: RegState): FuncState {
  return env.cur.frames[ptr.frameno]!;
}

/** grow_stack_state: the frame's stack covers `size` bytes below fp (rounded up to a slot). */
function growStackState(env: VerifierEnv, f: FuncState, size: number): void {
  const n = Math.ceil(size / BPF_REG_SIZE);
  if (f.stack.length >= n) return;
  while (f.stack.length < n) f.stack.push(newSlot());
  f.allocated = n * BPF_REG_SIZE;
  if (env.stackDepth[f.subprogno]! < f.allocated) env.stackDepth[f.subprogno] = f.allocated;
}

/** check_stack_access_within_bounds: [off, off + size) inside [-MAX_BPF_STACK, 0). */
function checkStackAccessWithinBounds(env: VerifierEnv, regno: number, off: number, size: number, write: boolean): void {
  const reg = env.regs()[regno]!;
  const f = stackFrame(env, reg);
  const what = write ? ' write to' : ' read from';
  let minOff: number, maxOff: number;
  if (isConst(reg)) {
    minOff = Number(BigInt.asIntN(64, reg.var_off.value)) + off;
    maxOff = minOff + size;
  } else {
    if (reg.smax_value >= BigInt(BPF_MAX_VAR_OFF) || reg.smin_value <= -BigInt(BPF_MAX_VAR_OFF)) {
      env.reject('EACCES', `invalid unbounded variable-offset${what} stack R${regno}`);
    }
    minOff = Number(reg.smin_value) + off;
    maxOff = Number(reg.smax_value) + off + size;
  }
  // check_stack_slot_within_bounds: root may read the whole stack, not only what was allocated.
  let errno: ErrnoName | undefined;
  if (minOff < -MAX_BPF_STACK || minOff > -1) errno = 'EACCES';
  else if (maxOff > 0) errno = 'EINVAL';
  if (errno !== undefined) {
    if (isConst(reg)) env.reject(errno, `invalid${what} stack R${regno} off=${off} size=${size}`);
    env.reject(errno, `invalid variable-offset${what} stack R${regno} var_off=${tnum_strn(reg.var_off)} off=${off} size=${size}`);
  }
  growStackState(env, f, -minOff);
}

/**
 * bpf_mark_stack_read / bpf_mark_stack_write: the current instruction reads (or overwrites whole) slot
 * spi of frame f, whichever frame's stack that is.
 */
function markStackAccess(env: VerifierEnv, f: FuncState, spi: number, write: boolean): void {
  if (write) env.liveStack.markWrite(f.frameno, spi);
  else env.liveStack.markRead(env.cur, f.frameno, env.cur.insn_idx, spi);
}

/** scrub_spilled_slot: a byte of a spill becomes misc data. */
function scrubSpilledSlot(s: StackSlot, j: number): void {
  if (stype(s, j) !== '0') setStype(s, j, 'm');
}

/** mark_stack_slot_misc: bytes above a narrower spill (root keeps invalid bytes invalid). */
function markStackSlotMisc(s: StackSlot, j: number): void {
  const t = stype(s, j);
  if (t === '0' || t === '?') return;
  setStype(s, j, 'm');
}

/** save_register_state: a spill of `size` bytes of reg into slot spi. */
function saveRegisterState(f: FuncState, spi: number, reg: RegState, size: number): void {
  const s = f.stack[spi]!;
  s.spilled = copyReg(reg);
  let i = BPF_REG_SIZE;
  for (; i > BPF_REG_SIZE - size; i--) setStype(s, i - 1, 'r');
  for (; i > 0; i--) markStackSlotMisc(s, i - 1);
}

/** assign_scalar_id_before_mov: give an unknown scalar an id so that its copies stay linked. */
function assignScalarIdBeforeMov(env: VerifierEnv, src: RegState): void {
  if (src.type !== 'scalar') return;
  if ((src.id & BPF_ADD_CONST) !== 0) {
    // Only one `rX += const` is remembered: copying such a register starts afresh.
    src.id = 0;
    src.off = 0;
  }
  if (src.id === 0 && !isConst(src)) src.id = env.newId();
}

/** push_jmp_history: this instruction's entry, or more flags for the one it already made. */
function pushJmpHistory(env: VerifierEnv, st: VerifierState, flags: number, linked: LinkedReg[] | undefined): void {
  const e = env.curHistEnt;
  if (e !== undefined) {
    e.flags |= flags;
    if (linked !== undefined) e.linked = linked;
    return;
  }
  const n: JmpHistoryEntry = { idx: st.insn_idx, prev_idx: env.prevInsnIdx, flags, linked };
  st.jmp_history.push(n);
  env.curHistEnt = n;
}

function checkStackWriteFixedOff(env: VerifierEnv, f: FuncState, off: number, size: number, valueRegno: number, insnIdx: number, isSt: boolean, imm: number): void {
  const slot = -off - 1;
  const spi = Math.floor(slot / BPF_REG_SIZE);
  const cur = curFrame(env.cur);
  const reg = valueRegno >= 0 ? cur.regs[valueRegno]! : undefined;
  const s = f.stack[spi]!;
  let flags = insnStackAccessFlags(f.frameno, spi);
  env.scratchedStack.add(spi);
  // Only a write of the whole slot kills what was there for liveness.
  if (size === BPF_REG_SIZE) markStackAccess(env, f, spi, true);
  if (reg !== undefined && off % BPF_REG_SIZE === 0 && reg.type === 'scalar') {
    const fits = get_reg_width(reg) <= 8 * size;
    if (fits) assignScalarIdBeforeMov(env, reg);
    saveRegisterState(f, spi, reg, size);
    // A narrowing spill is no copy of the register.
    if (!fits) s.spilled!.id = 0;
  } else if (reg === undefined && off % BPF_REG_SIZE === 0 && isSt) {
    const tmp = notInitReg();
    tmp.type = 'scalar';
    markRegKnown(tmp, BigInt(imm));
    saveRegisterState(f, spi, tmp, size);
  } else if (reg !== undefined && isPointer(reg)) {
    if (size !== BPF_REG_SIZE) {
      logLineInfo(env, insnIdx);
      env.reject('EACCES', 'invalid size of register spill');
    }
    if (f !== cur && reg.type === 'fp') env.reject('EINVAL', 'cannot spill pointers to stack into stack frame of the caller');
    saveRegisterState(f, spi, reg, size);
  } else {
    let type: SlotByte = 'm';
    // A write of data destroys any spilled register in the slot.
    if (s.spilled !== undefined) s.spilled = undefined;
    if (isSpilledReg(s)) for (let j = 0; j < BPF_REG_SIZE; j++) scrubSpilledSlot(s, j);
    if ((reg !== undefined && registerIsNull(reg)) || (reg === undefined && isSt && imm === 0)) {
      // STACK_ZERO relies on the value being exactly zero.
      if (valueRegno >= 0) markChainPrecision(env, env.cur, valueRegno);
      type = '0';
    }
    for (let i = 0; i < size; i++) setStype(s, (slot - i) % BPF_REG_SIZE, type);
    flags = 0;
  }
  if (flags !== 0) pushJmpHistory(env, env.cur, flags, undefined);
}

function checkStackWriteVarOff(env: VerifierEnv, f: FuncState, ptrRegno: number, off: number, size: number, valueRegno: number, isSt: boolean, imm: number): void {
  const cur = curFrame(env.cur);
  const ptr = cur.regs[ptrRegno]!;
  const minOff = Number(ptr.smin_value) + off;
  const maxOff = Number(ptr.smax_value) + off + size;
  const value = valueRegno >= 0 ? cur.regs[valueRegno]! : undefined;
  const writingZero = (value !== undefined && registerIsNull(value)) || (value === undefined && isSt && imm === 0);
  let zeroUsed = false;
  for (let i = minOff; i < maxOff; i++) {
    const slot = -i - 1;
    const spi = Math.floor(slot / BPF_REG_SIZE);
    const s = f.stack[spi]!;
    const j = slot % BPF_REG_SIZE;
    env.scratchedStack.add(spi);
    if (writingZero && stype(s, j) === 'r' && isSpilledScalarReg(s)) {
      const sp = s.spilled!;
      if (isConst(sp) && sp.var_off.value === 0n) {
        zeroUsed = true;
        continue;
      }
    }
    // Any spilled register in range is gone (root may have written over a pointer).
    if (s.spilled !== undefined) s.spilled = notInitReg();
    let t: SlotByte = 'm';
    if (writingZero && stype(s, j) === '0') {
      t = '0';
      zeroUsed = true;
    }
    setStype(s, j, t);
  }
  if (zeroUsed && valueRegno >= 0) markChainPrecision(env, env.cur, valueRegno);
}

/** check_stack_read_fixed_off: a fill restores a spilled register; other reads give scalars. */
function checkStackReadFixedOff(env: VerifierEnv, f: FuncState, off: number, size: number, dstRegno: number): void {
  const cur = curFrame(env.cur);
  const slot = -off - 1;
  const spi = Math.floor(slot / BPF_REG_SIZE);
  const s = f.stack[spi]!;
  let flags = insnStackAccessFlags(f.frameno, spi);
  env.scratchedStack.add(spi);
  markStackAccess(env, f, spi, false);
  if (isSpilledReg(s)) {
    const reg = s.spilled!;
    let spillSize = 1;
    for (let i = BPF_REG_SIZE - 1; i > 0 && stype(s, i - 1) === 'r'; i--) spillSize++;
    if (size !== BPF_REG_SIZE || spillSize !== BPF_REG_SIZE) {
      if (reg.type !== 'scalar') {
        logLineInfo(env, env.cur.insn_idx);
        env.reject('EACCES', 'invalid size of register fill');
      }
      if (dstRegno < 0) return;
      const dst = cur.regs[dstRegno]!;
      // bpf_stack_narrow_access_ok: the low bytes of the spill (little endian), no wider than it.
      const narrowOk = size <= spillSize && off % BPF_REG_SIZE === 0;
      if (narrowOk) {
        const subregDef = dst.subreg_def;
        if (size === 4 && spillSize === 4 && get_reg_width(reg) <= 32) assignScalarIdBeforeMov(env, reg);
        assignReg(dst, reg);
        dst.subreg_def = subregDef;
        // A narrowing fill is no copy; coerce_reg_to_size adjusts the bounds.
        if (get_reg_width(reg) > size * 8) dst.id = 0;
      } else {
        let spillCnt = 0, zeroCnt = 0;
        for (let i = 0; i < size; i++) {
          const t = stype(s, (slot - i) % BPF_REG_SIZE);
          if (t === 'r') spillCnt++;
          else if (t === '0') zeroCnt++;
        }
        if (spillCnt === size && isConst(reg) && reg.var_off.value === 0n) {
          markRegConstZero(dst);
        } else if (zeroCnt === size) {
          markRegConstZero(dst);
          flags = 0;
        } else {
          markRegUnknown(dst);
          flags = 0;
        }
      }
    } else if (dstRegno >= 0) {
      assignReg(cur.regs[dstRegno]!, reg);
    }
    // An atomic that does not load into a register still reads the slot (root may read a pointer).
  } else {
    if (dstRegno >= 0) markRegStackRead(env, f, off, off + size, dstRegno);
    flags = 0;
  }
  if (flags !== 0) pushJmpHistory(env, env.cur, flags, undefined);
}

/** mark_reg_stack_read: zeroes read as a constant zero, anything else as an unknown scalar. */
function markRegStackRead(env: VerifierEnv, f: FuncState, minOff: number, maxOff: number, dstRegno: number): void {
  let zeros = 0;
  for (let i = minOff; i < maxOff; i++) {
    const slot = -i - 1;
    const spi = Math.floor(slot / BPF_REG_SIZE);
    env.scratchedStack.add(spi);
    if (stype(f.stack[spi]!, slot % BPF_REG_SIZE) !== '0') break;
    zeros++;
  }
  const dst = curFrame(env.cur).regs[dstRegno]!;
  if (zeros === maxOff - minOff) markRegConstZero(dst);
  else markRegUnknown(dst);
}

function checkStackRead(env: VerifierEnv, ptrRegno: number, off: number, size: number, dstRegno: number): void {
  const reg = env.regs()[ptrRegno]!;
  const f = stackFrame(env, reg);
  if (!isConst(reg)) {
    if (dstRegno < 0) {
      env.reject('EACCES', `variable offset stack pointer cannot be passed into helper function; var_off=${tnum_strn(reg.var_off)} off=${off} size=${size}`);
    }
    // check_stack_read_var_off: every byte in reach must be initialised (root: or not), then a scalar.
    checkStackRangeInitialized(env, ptrRegno, off, size, false, false, undefined);
    markRegStackRead(env, f, Number(reg.smin_value) + off, Number(reg.smax_value) + off + size, dstRegno);
    return;
  }
  checkStackReadFixedOff(env, f, off + Number(BigInt.asIntN(64, reg.var_off.value)), size, dstRegno);
}

function checkStackWrite(env: VerifierEnv, ptrRegno: number, off: number, size: number, valueRegno: number, insnIdx: number, isSt: boolean, imm: number): void {
  const reg = env.regs()[ptrRegno]!;
  const f = stackFrame(env, reg);
  if (isConst(reg)) checkStackWriteFixedOff(env, f, off + Number(BigInt.asIntN(64, reg.var_off.value)), size, valueRegno, insnIdx, isSt, imm);
  else checkStackWriteVarOff(env, f, ptrRegno, off, size, valueRegno, isSt, imm);
}

/** The raw-mode part of a helper's stack argument: where the helper will write (meta->regno/access_size). */
interface RawMode {
  raw: boolean;
  regno: number;
  accessSize: number;
}

/**
 * check_stack_range_initialized: a helper (or a variable-offset read) reads [off, off + size) of the
 * stack: every byte must hold data (root: or be uninitialised). A helper that writes (`write`) leaves
 * misc data, and the spilled registers there are gone.
 */
function checkStackRangeInitialized(env: VerifierEnv, regno: number, off: number, size: number, zeroSizeAllowed: boolean, write: boolean, meta: RawMode | undefined): void {
  const reg = env.regs()[regno]!;
  const f = stackFrame(env, reg);
  if (size === 0 && !zeroSizeAllowed) env.reject('EACCES', 'invalid zero-sized read');
  checkStackAccessWithinBounds(env, regno, off, size, write);
  let minOff: number, maxOff: number;
  if (isConst(reg)) {
    minOff = maxOff = Number(BigInt.asIntN(64, reg.var_off.value)) + off;
  } else {
    // An uninitialised buffer at a variable offset cannot be written whole: no raw mode.
    if (meta?.raw === true) meta = undefined;
    minOff = Number(reg.smin_value) + off;
    maxOff = Number(reg.smax_value) + off;
  }
  if (meta?.raw === true) {
    meta.accessSize = size;
    meta.regno = regno;
    return;
  }
  for (let i = minOff; i < maxOff + size; i++) {
    const slot = -i - 1;
    const spi = Math.floor(slot / BPF_REG_SIZE);
    if (f.allocated <= slot) env.reject('EFAULT', 'allocated_stack too small');
    const s = f.stack[spi]!;
    const j = slot % BPF_REG_SIZE;
    const t = stype(s, j);
    markStackAccess(env, f, spi, false);
    if (t === 'm') continue;
    if (t === '0' || t === '?') {
      // Root may pass uninitialised stack; a helper writing there leaves misc data.
      if (write) setStype(s, j, 'm');
      continue;
    }
    if (isSpilledReg(s)) {
      if (write) {
        if (s.spilled !== undefined) markRegUnknown(s.spilled);
        for (let k = 0; k < BPF_REG_SIZE; k++) scrubSpilledSlot(s, k);
      }
      continue;
    }
    if (isConst(reg)) env.reject('EACCES', `invalid read from stack R${regno} off ${minOff}+${i - minOff} size ${size}`);
    env.reject('EACCES', `invalid read from stack R${regno} var_off ${tnum_strn(reg.var_off)}+${i - minOff} size ${size}`);
  }
}

// ---------------------------------------------------------------------------------------------------
// Memory access (check_mem_access)

function recordPtrType(env: VerifierEnv, idx: number, ptr: RegState): void {
  const a = env.aux[idx]!;
  // save_aux_ptr_type: one instruction cannot go through ctx on one path and other memory on another.
  if (a.ptrType === undefined) a.ptrType = ptr.type;
  else if (a.ptrType !== ptr.type) {
    const special = (t: RegType): boolean => t === 'ctx';
    if (special(a.ptrType) || special(ptr.type)) env.reject('EINVAL', 'same insn cannot be used with different pointers');
    a.ptrTypeMixed = true;
  }
  if (ptr.type === 'map_value') {
    if (a.memMap === undefined) a.memMap = ptr.map;
    else if (a.memMap !== ptr.map) a.memMapMixed = true;
  }
  if (a.frameno === undefined) a.frameno = ptr.frameno;
  else if (a.frameno !== ptr.frameno) a.frameno = -1;
}

/** check_ptr_alignment: packets with NET_IP_ALIGN when strict, the stack always, others when strict. */
function checkPtrAlignment(env: VerifierEnv, reg: RegState, off: number, size: number, strictOnce: boolean): void {
  let strict = env.strictAlignment || strictOnce;
  if (reg.maybeNull) return;
  let desc = '';
  switch (reg.type) {
    case 'pkt':
    case 'pkt_meta': {
      if (!strict || size === 1) return;
      const regOff = tnum_add(reg.var_off, tnum_const(BigInt(NET_IP_ALIGN + reg.off + off)));
      if (!tnum_is_aligned(regOff, BigInt(size))) {
        env.reject('EACCES', `misaligned packet access off ${NET_IP_ALIGN}+${tnum_strn(reg.var_off)}+${reg.off}+${off} size ${size}`);
      }
      return;
    }
    case 'map_key': desc = 'key '; break;
    case 'map_value': desc = 'value '; break;
    case 'ctx': desc = 'context '; break;
    case 'fp':
      desc = 'stack ';
      // Spill tracking relies on aligned stack slots.
      strict = true;
      break;
    default: break;
  }
  if (!strict || size === 1) return;
  const regOff = tnum_add(reg.var_off, tnum_const(BigInt(reg.off + off)));
  if (!tnum_is_aligned(regOff, BigInt(size))) {
    env.reject('EACCES', `misaligned ${desc}access off ${tnum_strn(reg.var_off)}+${reg.off}+${off} size ${size}`);
  }
}

/** __check_mem_access: [off, off + size) within [0, memSize). */
function checkMemAccessRange(env: VerifierEnv, regno: number, off: bigint, size: number, memSize: number, zeroSizeAllowed: boolean): boolean {
  const sizeOk = size > 0 || (size === 0 && zeroSizeAllowed);
  if (off >= 0n && sizeOk && off + BigInt(size) <= BigInt(memSize)) return true;
  const reg = env.regs()[regno]!;
  const o = Number(BigInt.asIntN(32, off));
  switch (reg.type) {
    case 'map_key': env.log.write(`invalid access to map key, key_size=${memSize} off=${o} size=${size}\n`); break;
    case 'map_value': env.log.write(`invalid access to map value, value_size=${memSize} off=${o} size=${size}\n`); break;
    case 'pkt': case 'pkt_meta': case 'pkt_end':
      env.log.write(`invalid access to packet, off=${o} size=${size}, R${regno}(id=${reg.id},off=${o},r=${memSize})\n`);
      break;
    default: env.log.write(`invalid access to memory, mem_size=${memSize >>> 0} off=${o} size=${size}\n`);
  }
  return false;
}

/** check_mem_region_access: every offset the register may have, plus off, inside [0, memSize). */
function checkMemRegionAccess(env: VerifierEnv, regno: number, off: number, size: number, memSize: number, zeroSizeAllowed: boolean): void {
  const reg = env.regs()[regno]!;
  const o = BigInt(off);
  const S64_MIN = -(1n << 63n);
  if (reg.smin_value < 0n && (reg.smin_value === S64_MIN || BigInt.asIntN(32, o + reg.smin_value) !== o + reg.smin_value || reg.smin_value + o < 0n)) {
    env.reject('EACCES', `R${regno} min value is negative, either use unsigned index or do a if (index >=0) check.`);
  }
  if (!checkMemAccessRange(env, regno, reg.smin_value + o, size, memSize, zeroSizeAllowed)) {
    env.reject('EACCES', `R${regno} min value is outside of the allowed memory range`);
  }
  if (reg.umax_value >= BigInt(BPF_MAX_VAR_OFF)) {
    env.reject('EACCES', `R${regno} unbounded memory access, make sure to bounds check any such access`);
  }
  if (!checkMemAccessRange(env, regno, reg.umax_value + o, size, memSize, zeroSizeAllowed)) {
    env.reject('EACCES', `R${regno} max value is outside of the allowed memory range`);
  }
}

/** check_map_access_type: BPF_F_RDONLY_PROG / BPF_F_WRONLY_PROG as the program sees the map. */
function checkMapAccessType(env: VerifierEnv, regno: number, off: number, size: number, write: boolean): void {
  const map = env.regs()[regno]!.map!;
  if (write && (map.map_flags & BPF_F_RDONLY_PROG) !== 0) env.reject('EACCES', `write into map forbidden, value_size=${map.value_size} off=${off} size=${size}`);
  if (!write && (map.map_flags & BPF_F_WRONLY_PROG) !== 0) env.reject('EACCES', `read from map forbidden, value_size=${map.value_size} off=${off} size=${size}`);
}

/** check_packet_access: within the range learnt from comparisons with data_end. */
function checkPacketAccess(env: VerifierEnv, regno: number, off: number, size: number, zeroSizeAllowed: boolean): void {
  const reg = env.regs()[regno]!;
  if (reg.smin_value < 0n) {
    env.reject('EACCES', `R${regno} min value is negative, either use unsigned index or do a if (index >=0) check.`);
  }
  // The range was learnt for this pointer, variable part included: only the fixed offset counts.
  if (reg.range < 0) env.reject('EINVAL', `R${regno} offset is outside of the packet`);
  if (!checkMemAccessRange(env, regno, BigInt(off), size, reg.range, zeroSizeAllowed)) env.reject('EACCES', `R${regno} offset is outside of the packet`);
}

/** __check_ptr_off_reg: a pointer that must be unmodified (ctx and friends). */
function checkPtrOffReg(env: VerifierEnv, reg: RegState, regno: number, fixedOffOk: boolean): void {
  if (reg.off < 0) env.reject('EACCES', `negative offset ${regTypeStr(reg)} ptr R${regno} off=${reg.off} disallowed`);
  if (!fixedOffOk && reg.off !== 0) env.reject('EACCES', `dereference of modified ${regTypeStr(reg)} ptr R${regno} off=${reg.off} disallowed`);
  if (!isConst(reg) || reg.var_off.value !== 0n) env.reject('EACCES', `variable ${regTypeStr(reg)} access var_off=${tnum_strn(reg.var_off)} disallowed`);
}

/**
 * bpf_map_direct_read for a read-only map (bpf_map_is_rdonly: BPF_F_RDONLY_PROG and frozen) with
 * map_direct_value_addr (a single-element ARRAY): the value the load gives, or undefined.
 */
function mapDirectRead(map: BpfMap, off: number, size: number, signed: boolean): bigint | undefined {
  if ((map.map_flags & BPF_F_RDONLY_PROG) === 0 || !map.frozen) return undefined;
  if (map.map_type !== BPF_MAP_TYPE_ARRAY || map.max_entries !== 1 || off < 0 || off + size > map.value_size) return undefined;
  const base = map.lookupOffset(new Uint8Array(map.key_size), 0, 0);
  if (base < 0) return undefined;
  let v = 0n;
  for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(map.mem[base + off + i]!);
  return signed ? BigInt.asUintN(64, BigInt.asIntN(size * 8, v)) : v;
}

/** The BTF struct behind a map pointer (map->ops->map_btf_id), for reads through it. */
function mapStructName(map: BpfMap): string {
  switch (map.map_type) {
    case BPF_MAP_TYPE.ARRAY: case BPF_MAP_TYPE.PERCPU_ARRAY: case BPF_MAP_TYPE.PROG_ARRAY: case BPF_MAP_TYPE.PERF_EVENT_ARRAY:
    case BPF_MAP_TYPE.CGROUP_ARRAY: case BPF_MAP_TYPE.ARRAY_OF_MAPS: return 'bpf_array';
    case BPF_MAP_TYPE.HASH: case BPF_MAP_TYPE.PERCPU_HASH: case BPF_MAP_TYPE.LRU_HASH: case BPF_MAP_TYPE.LRU_PERCPU_HASH:
    case BPF_MAP_TYPE.HASH_OF_MAPS: return 'bpf_htab';
    case BPF_MAP_TYPE.DEVMAP: case BPF_MAP_TYPE.DEVMAP_HASH: return 'bpf_dtab';
    default: return 'bpf_map';
  }
}
/** sizeof(struct bpf_map): reads through a map pointer stay inside its embedded struct bpf_map. */
const SIZEOF_BPF_MAP = 248;

function checkMemAccess(env: VerifierEnv, insnIdx: number, regno: number, off: number, size: number, write: boolean, valueRegno: number, strictOnce: boolean, isLdsx: boolean, isSt = false, imm = 0): void {
  const regs = env.regs();
  const reg = regs[regno]!;
  checkPtrAlignment(env, reg, off, size, strictOnce);
  // For the access checks the pointer's fixed offset is part of off.
  off += reg.off;
  const dst = !write && valueRegno >= 0 ? regs[valueRegno]! : undefined;
  if (reg.maybeNull) env.reject('EACCES', `R${regno} invalid mem access '${regTypeStr(reg)}'`);
  switch (reg.type) {
    case 'map_key':
      if (write) env.reject('EACCES', `write to change key R${regno} not allowed`);
      checkMemRegionAccess(env, regno, off, size, reg.map!.key_size, false);
      if (dst !== undefined) markRegUnknown(dst);
      break;
    case 'map_value':
      checkMapAccessType(env, regno, off, size, write);
      checkMemRegionAccess(env, regno, off, size, reg.map!.value_size, false);
      if (dst !== undefined) {
        // A frozen map the program cannot write (.rodata) has known contents.
        const val = isConst(reg) ? mapDirectRead(reg.map!, off + Number(BigInt.asIntN(64, reg.var_off.value)), size, isLdsx) : undefined;
        if (val === undefined) markRegUnknown(dst);
        else {
          markRegUnknown(dst);
          markRegKnown(dst, val);
        }
      }
      break;
    case 'ctx': {
      checkPtrOffReg(env, reg, regno, false);
      const info = isValidCtxAccess(env.opts.progType, env.opts.expectedAttachType, env.opts.offloaded === true, off, size, write);
      if (info === undefined) {
        logLineInfo(env, insnIdx);
        env.reject('EACCES', `invalid bpf_context access off=${off} size=${size}`);
      }
      if (env.opts.progType === BPF_PROG_TYPE.XDP) env.aux[insnIdx]!.ctxField = off;
      if (dst !== undefined) {
        if (info.regType === 'scalar') markRegUnknown(dst);
        else {
          markPtr(dst, info.regType);
          dst.subreg_def = -1;
        }
      }
      break;
    }
    case 'fp': {
      checkStackAccessWithinBounds(env, regno, off, size, write);
      const a = env.aux[insnIdx]!;
      const o = isConst(reg) ? off + Number(BigInt.asIntN(64, reg.var_off.value)) : undefined;
      if (o === undefined) a.stackOffMixed = true;
      else if (a.stackOff === undefined) a.stackOff = o;
      else if (a.stackOff !== o) a.stackOffMixed = true;
      if (write) checkStackWrite(env, regno, off, size, valueRegno, insnIdx, isSt, imm);
      else checkStackRead(env, regno, off, size, valueRegno);
      break;
    }
    case 'pkt':
    case 'pkt_meta':
      if (write && !mayAccessDirectPktData(env.opts.progType)) env.reject('EACCES', 'cannot write into packet');
      checkPacketAccess(env, regno, off, size, false);
      if (dst !== undefined) markRegUnknown(dst);
      break;
    case 'mem':
      checkMemRegionAccess(env, regno, off, size, reg.range, false);
      if (dst !== undefined) markRegUnknown(dst);
      break;
    case 'map_ptr': {
      const name = mapStructName(reg.map!);
      if (off < 0) env.reject('EACCES', `R${regno} is ${name} invalid negative access: off=${off}`);
      if (write) env.reject('EACCES', `only read from ${name} is supported`);
      if (off + size > SIZEOF_BPF_MAP) env.reject('EACCES', `access beyond struct ${name} at off ${off} size ${size}`);
      if (dst !== undefined) markRegUnknown(dst);
      break;
    }
    default:
      env.reject('EACCES', `R${regno} invalid mem access '${regTypeStr(reg)}'`);
  }
  if (dst !== undefined && size < BPF_REG_SIZE && dst.type === 'scalar') {
    // b/h/w loads zero-extend (LDX|MEMSX sign-extends).
    if (isLdsx) coerce_reg_to_size_sx(dst, size);
    else coerce_reg_to_size(dst, size);
  }
}

/** verbose_linfo: the source line of an instruction, when line info has one and it is not the last shown. */
function logLineInfo(env: VerifierEnv, insnIdx: number): void {
  const text = env.opts.lineText?.(insnIdx);
  if (text === undefined || text === env.prevLineText) return;
  env.log.writeUtf8(`; ${text}\n`);
  env.prevLineText = text;
}

// ---------------------------------------------------------------------------------------------------
// ALU (check_alu_op, adjust_ptr_min_max_vals, adjust_reg_min_max_vals)

const ALU_STRING: Record<AluOp, string> = {
  add: '+=', sub: '-=', mul: '*=', div: '/=', sdiv: 's/=', or: '|=', and: '&=', lsh: '<<=', rsh: '>>=',
  neg: 'neg', mod: '%=', smod: 's%=', xor: '^=', mov: '=', movsx8: '=', movsx16: '=', movsx32: '=', arsh: 's>>=',
};

function checkAlu(env: VerifierEnv, idx: number, op: Extract<OpInfo, { kind: 'alu' }>, x: Insn): void {
  const regs = env.regs();
  if (op.op === 'neg') {
    checkRegArg(env, x.dst, 'SRC_OP');
    if (regs[x.dst]!.type === 'scalar') {
      checkRegArg(env, x.dst, 'DST_OP_NO_MARK');
      adjust_scalar_min_max_vals(regs[x.dst]!, regs[x.dst]!, x);
    } else {
      // Root may negate a pointer: a meaningless number.
      checkRegArg(env, x.dst, 'DST_OP');
    }
    regs[x.dst]!.subreg_def = op.alu64 ? -1 : idx + 1;
    sanityCheck(regs[x.dst]!);
    return;
  }
  if (op.op === 'mov' || op.op.startsWith('movsx')) {
    if (op.srcReg) checkRegArg(env, x.src, 'SRC_OP');
    checkRegArg(env, x.dst, 'DST_OP_NO_MARK');
    const dst = regs[x.dst]!;
    if (!op.srcReg) {
      markRegUnknown(dst);
      markRegKnown(dst, op.alu64 ? BigInt(x.imm) : BigInt(x.imm >>> 0));
      dst.subreg_def = op.alu64 ? -1 : idx + 1;
      return;
    }
    const src = regs[x.src]!;
    const bits = op.op === 'mov' ? 0 : Number(op.op.slice(5));
    if (op.alu64) {
      if (bits === 0) {
        assignScalarIdBeforeMov(env, src);
        assignReg(dst, src);
      } else if (src.type === 'scalar') {
        const noSext = src.umax_value < 1n << BigInt(bits - 1);
        if (noSext) assignScalarIdBeforeMov(env, src);
        assignReg(dst, src);
        if (!noSext) dst.id = 0;
        coerce_reg_to_size_sx(dst, bits >> 3);
      } else {
        markRegUnknown(dst);
      }
      dst.subreg_def = -1;
    } else {
      if (src.type === 'scalar') {
        if (bits === 0) {
          const u32 = get_reg_width(src) <= 32;
          if (u32) assignScalarIdBeforeMov(env, src);
          assignReg(dst, src);
          // A copy of the low half is linked only when it is the whole value.
          if (!u32) dst.id = 0;
        } else {
          const noSext = src.umax_value < 1n << BigInt(bits - 1);
          if (noSext) assignScalarIdBeforeMov(env, src);
          assignReg(dst, src);
          if (!noSext) dst.id = 0;
          coerce_subreg_to_size_sx(dst, bits >> 3);
        }
      } else {
        // Root may copy the low half of a pointer: a number.
        markRegUnknown(dst);
      }
      dst.subreg_def = idx + 1;
      zext_32_to_64(dst);
      reg_bounds_sync(dst);
    }
    return;
  }
  if (op.srcReg) checkRegArg(env, x.src, 'SRC_OP');
  checkRegArg(env, x.dst, 'SRC_OP');
  if ((op.op === 'div' || op.op === 'sdiv' || op.op === 'mod' || op.op === 'smod') && !op.srcReg && x.imm === 0) {
    env.reject('EINVAL', 'div by zero');
  }
  if ((op.op === 'lsh' || op.op === 'rsh' || op.op === 'arsh') && !op.srcReg && (x.imm < 0 || x.imm >= (op.alu64 ? 64 : 32))) {
    env.reject('EINVAL', `invalid shift ${x.imm}`);
  }
  checkRegArg(env, x.dst, 'DST_OP_NO_MARK');
  adjustRegMinMaxVals(env, op, x);
  const dst = regs[x.dst]!;
  dst.subreg_def = op.alu64 ? -1 : idx + 1;
  sanityCheck(dst);
}

/** reg_bounds_sanity_check: impossible bounds (from dead branches) are forgotten, not trusted. */
function sanityCheck(r: RegState): void {
  if (r.type !== 'scalar') return;
  if (reg_bounds_sanity_check(r, 'alu') !== null) __mark_reg_unbounded(r);
}

function adjustRegMinMaxVals(env: VerifierEnv, op: Extract<OpInfo, { kind: 'alu' }>, x: Insn): void {
  const regs = env.regs();
  const dst = regs[x.dst]!;
  const alu32 = !op.alu64;
  const ptrReg: RegState | undefined = dst.type !== 'scalar' ? dst : undefined;
  let src: RegState;
  if (op.srcReg) {
    src = regs[x.src]!;
    if (src.type !== 'scalar') {
      if (dst.type !== 'scalar') {
        // Root may subtract two pointers: a number.
        if (op.op === 'sub') {
          markRegUnknown(dst);
          return;
        }
        env.reject('EACCES', `R${x.dst} pointer ${ALU_STRING[op.op]} pointer prohibited`);
      }
      // scalar += pointer: the result is the pointer moved by the scalar.
      markChainPrecision(env, env.cur, x.dst);
      adjustPtrMinMaxVals(env, op, x, src, dst);
      return;
    }
    if (ptrReg !== undefined) {
      markChainPrecision(env, env.cur, x.src);
      adjustPtrMinMaxVals(env, op, x, ptrReg, src);
      return;
    }
    if (dst.precise) markChainPrecision(env, env.cur, x.src);
  } else {
    src = notInitReg();
    src.type = 'scalar';
    markRegKnown(src, BigInt(x.imm));
    if (ptrReg !== undefined) {
      adjustPtrMinMaxVals(env, op, x, ptrReg, src);
      return;
    }
  }
  adjust_scalar_min_max_vals(dst, src, x);
  // `r1 = r2; r1 += K` keeps r1 linked to r2 with the constant delta K (sync_linked_regs uses it).
  if ((op.op === 'add' || op.op === 'sub') && dst.id !== 0 && (alu32 ? tnum_subreg_is_const(src.var_off) : isConst(src))) {
    const val = alu32 ? BigInt.asUintN(32, src.var_off.value) : BigInt.asIntN(64, src.var_off.value);
    let off = Number(BigInt.asIntN(32, val));
    let clear = (!alu32 && (val < -(1n << 31n) || val > (1n << 31n) - 1n)) || (alu32 && (dst.id & BPF_ADD_CONST64) !== 0);
    if (!clear && op.op === 'sub') {
      if (off === -0x80000000) clear = true;
      else off = -off;
    }
    if (clear || (dst.id & BPF_ADD_CONST) !== 0) {
      dst.off = 0;
      dst.id = 0;
    } else {
      dst.id = (dst.id | (alu32 ? BPF_ADD_CONST32 : BPF_ADD_CONST64)) >>> 0;
      dst.off = off;
    }
  } else {
    dst.id = 0;
    dst.off = 0;
  }
}

/** check_reg_sane_offset: offsets the verifier cannot reason about refuse the arithmetic (EINVAL). */
function checkRegSaneOffset(env: VerifierEnv, reg: RegState, type: RegState): void {
  const tname = regTypeStr(type);
  const S64_MIN = -(1n << 63n);
  if (isConst(reg)) {
    const val = BigInt.asIntN(64, reg.var_off.value);
    if (val >= BigInt(BPF_MAX_VAR_OFF) || val <= -BigInt(BPF_MAX_VAR_OFF)) env.reject('EINVAL', `math between ${tname} pointer and ${val} is not allowed`);
  }
  if (reg.off >= BPF_MAX_VAR_OFF || reg.off <= -BPF_MAX_VAR_OFF) env.reject('EINVAL', `${tname} pointer offset ${reg.off} is not allowed`);
  if (reg.smin_value === S64_MIN) env.reject('EINVAL', `math between ${tname} pointer and register with unbounded min value is not allowed`);
  if (reg.smin_value >= BigInt(BPF_MAX_VAR_OFF) || reg.smin_value <= -BigInt(BPF_MAX_VAR_OFF)) {
    env.reject('EINVAL', `value ${reg.smin_value} makes ${tname} pointer be out of bounds`);
  }
}

/** adjust_ptr_min_max_vals: pointer +/- scalar (as root: no sanitation). */
function adjustPtrMinMaxVals(env: VerifierEnv, op: Extract<OpInfo, { kind: 'alu' }>, x: Insn, ptrReg: RegState, offReg: RegState): void {
  const dstReg = env.regs()[x.dst]!;
  const dst = x.dst;
  const known = isConst(offReg);
  const smin = offReg.smin_value, smax = offReg.smax_value, umin = offReg.umin_value, umax = offReg.umax_value;
  if ((known && (smin !== smax || umin !== umax)) || smin > smax || umin > umax) {
    // Bounds from a dead branch: the result is unknown.
    markRegUnknown(dstReg);
    return;
  }
  if (!op.alu64) {
    // 32-bit arithmetic on a pointer gives a meaningless number; root may subtract.
    if (op.op === 'sub') {
      markRegUnknown(dstReg);
      return;
    }
    env.reject('EACCES', `R${dst} 32-bit pointer arithmetic prohibited`);
  }
  if (ptrReg.maybeNull) env.reject('EACCES', `R${dst} pointer arithmetic on ${regTypeStr(ptrReg)} prohibited, null-check it first`);
  switch (ptrReg.type) {
    case 'ctx': case 'map_value': case 'map_key': case 'fp': case 'pkt_meta': case 'pkt': case 'func': case 'mem':
      break;
    case 'map_ptr':
      if (known && smin === 0n && op.op === 'add') break;
      env.reject('EACCES', `R${dst} pointer arithmetic on ${regTypeStr(ptrReg)} prohibited`);
      break;
    default:
      env.reject('EACCES', `R${dst} pointer arithmetic on ${regTypeStr(ptrReg)} prohibited`);
  }
  const ptr = copyReg(ptrReg);
  const off = copyReg(offReg);
  // scalar += pointer: dst takes the pointer's type and id (the id may be replaced below).
  dstReg.type = ptr.type;
  dstReg.maybeNull = ptr.maybeNull;
  dstReg.id = ptr.id;
  checkRegSaneOffset(env, off, ptr);
  checkRegSaneOffset(env, ptr, ptr);
  __mark_reg32_unbounded(dstReg);
  switch (op.op) {
    case 'add': {
      if (known && Number.isSafeInteger(ptr.off + Number(smin)) && BigInt.asIntN(32, BigInt(ptr.off) + smin) === BigInt(ptr.off) + smin) {
        // pointer += K goes into the fixed offset.
        Object.assign(dstReg, { smin_value: ptr.smin_value, smax_value: ptr.smax_value, umin_value: ptr.umin_value, umax_value: ptr.umax_value, var_off: ptr.var_off });
        dstReg.off = ptr.off + Number(smin);
        dstReg.range = ptr.range;
        dstReg.map = ptr.map;
        dstReg.frameno = ptr.frameno;
        break;
      }
      adjust_ptr_min_max_bounds(dstReg, ptr, off, BPF_ADD);
      dstReg.off = ptr.off;
      dstReg.range = ptr.range;
      dstReg.map = ptr.map;
      dstReg.frameno = ptr.frameno;
      if (isPktPointer(ptr)) {
        // A new variable offset makes a new pointer: its range must be learnt again.
        dstReg.id = env.newId();
        dstReg.range = 0;
      }
      break;
    }
    case 'sub': {
      if (dstReg === offReg) env.reject('EACCES', `R${dst} tried to subtract pointer from scalar`);
      if (ptr.type === 'fp') env.reject('EACCES', `R${dst} subtraction from stack pointer prohibited`);
      if (known && BigInt.asIntN(32, BigInt(ptr.off) - smin) === BigInt(ptr.off) - smin) {
        Object.assign(dstReg, { smin_value: ptr.smin_value, smax_value: ptr.smax_value, umin_value: ptr.umin_value, umax_value: ptr.umax_value, var_off: ptr.var_off });
        dstReg.id = ptr.id;
        dstReg.off = ptr.off - Number(smin);
        dstReg.range = ptr.range;
        dstReg.map = ptr.map;
        dstReg.frameno = ptr.frameno;
        break;
      }
      adjust_ptr_min_max_bounds(dstReg, ptr, off, BPF_SUB);
      dstReg.off = ptr.off;
      dstReg.range = ptr.range;
      dstReg.map = ptr.map;
      dstReg.frameno = ptr.frameno;
      if (isPktPointer(ptr)) {
        dstReg.id = env.newId();
        // Subtracting a possibly negative amount may move the pointer past what was checked.
        if (smin < 0n) dstReg.range = 0;
      }
      break;
    }
    case 'and': case 'or': case 'xor':
      env.reject('EACCES', `R${dst} bitwise operator ${ALU_STRING[op.op]} on pointer prohibited`);
      break;
    default:
      env.reject('EACCES', `R${dst} pointer arithmetic with ${ALU_STRING[op.op]} operator prohibited`);
  }
  checkRegSaneOffset(env, dstReg, ptr);
  reg_bounds_sync(dstReg);
  dstReg.precise = false;
}

// ---------------------------------------------------------------------------------------------------
// Jumps (check_cond_jmp_op)

/** Every register and spilled slot of the state, with its frame (bpf_for_each_reg_in_vstate). */
function forEachReg(state: VerifierState, fn: (r: RegState, frame: number) => void): void {
  for (let f = 0; f <= state.curframe; f++) {
    const func = state.frames[f]!;
    for (const r of func.regs) fn(r, f);
    for (const s of func.stack) if (isSpilledReg(s) && s.spilled !== undefined) fn(s.spilled, f);
  }
}

/** find_good_pkt_pointers: every copy of `dst` (same type and id) is known to be in range on this branch. */
function findGoodPktPointers(state: VerifierState, dst: RegState, type: RegType, rangeOpen: boolean): void {
  if (dst.off < 0 || (dst.off === 0 && rangeOpen)) return;
  // A pointer that may be past MAX_PACKET_OFF teaches nothing (its range could not be stored).
  if (dst.umax_value > BigInt(MAX_PACKET_OFF) || dst.umax_value + BigInt(dst.off) > BigInt(MAX_PACKET_OFF)) return;
  let newRange = dst.off;
  if (rangeOpen) newRange++;
  forEachReg(state, (r) => {
    if (r.type === type && r.id === dst.id) r.range = Math.max(r.range, newRange);
  });
}

/** mark_pkt_end: the pointer is past (or at) data_end on this branch. */
function markPktEnd(state: VerifierState, regno: number, rangeOpen: boolean): void {
  const r = curFrame(state).regs[regno]!;
  // pkt_meta is not tracked this way.
  if (r.type !== 'pkt') return;
  r.range = rangeOpen ? BEYOND_PKT_END : AT_PKT_END;
}

/**
 * try_match_pkt_pointers: `pkt' OP pkt_end` (or `pkt_meta' OP pkt`) tells, on one of the two branches,
 * that pkt' is at most pkt_end (find_good_pkt_pointers), and on the other that it is at or past it
 * (mark_pkt_end). Returns whether the compare was of that form.
 */
function tryMatchPktPointers(cond: JmpCond, jmp32: boolean, dstRegno: number, srcRegno: number, dst: RegState, src: RegState, thisBranch: VerifierState, otherBranch: VerifierState): boolean {
  if (jmp32) return false;
  if (cond !== 'jgt' && cond !== 'jlt' && cond !== 'jge' && cond !== 'jle') return false;
  // The pointer's fixed offset is the checked length; a variable part comes from its own bounds.
  if (isEndOf(src, dst)) {
    // pkt' OP end, the checked pointer in dst.
    const ptrOther = curFrame(otherBranch).regs[dstRegno]!;
    switch (cond) {
      case 'jgt': // pkt' > end: the fall-through is in range
        findGoodPktPointers(thisBranch, dst, dst.type, false);
        markPktEnd(otherBranch, dstRegno, true);
        break;
      case 'jlt': // pkt' < end: the jump is in range (open)
        findGoodPktPointers(otherBranch, ptrOther, dst.type, true);
        markPktEnd(thisBranch, dstRegno, false);
        break;
      case 'jge': // pkt' >= end: the fall-through is in range (open)
        findGoodPktPointers(thisBranch, dst, dst.type, true);
        markPktEnd(otherBranch, dstRegno, false);
        break;
      case 'jle': // pkt' <= end: the jump is in range
        findGoodPktPointers(otherBranch, ptrOther, dst.type, false);
        markPktEnd(thisBranch, dstRegno, true);
        break;
    }
    return true;
  }
  if (isEndOf(dst, src)) {
    // end OP pkt', the checked pointer in src.
    const ptrOther = curFrame(otherBranch).regs[srcRegno]!;
    switch (cond) {
      case 'jgt': // end > pkt': the jump is in range (open)
        findGoodPktPointers(otherBranch, ptrOther, src.type, true);
        markPktEnd(thisBranch, srcRegno, false);
        break;
      case 'jlt': // end < pkt': the fall-through is in range
        findGoodPktPointers(thisBranch, src, src.type, false);
        markPktEnd(otherBranch, srcRegno, true);
        break;
      case 'jge': // end >= pkt': the jump is in range
        findGoodPktPointers(otherBranch, ptrOther, src.type, false);
        markPktEnd(thisBranch, srcRegno, true);
        break;
      case 'jle': // end <= pkt': the fall-through is in range (open)
        findGoodPktPointers(thisBranch, src, src.type, true);
        markPktEnd(otherBranch, srcRegno, false);
        break;
    }
    return true;
  }
  return false;
}

/** reg_is_init_pkt_pointer: data itself (no offset), which ends the metadata. */
function isInitPkt(r: RegState): boolean {
  return r.type === 'pkt' && r.off === 0 && isConst(r) && r.var_off.value === 0n;
}

/** `end` bounds the memory `p` points into: data_end for packet pointers, data for metadata ones. */
function isEndOf(end: RegState, p: RegState): boolean {
  return (p.type === 'pkt' && end.type === 'pkt_end') || (p.type === 'pkt_meta' && isInitPkt(end));
}

/** mark_ptr_or_null_regs: after `if rX == 0`, every copy (same id) is NULL on one side, a pointer on the other. */
function markPtrOrNullRegs(state: VerifierState, id: number, isNull: boolean): void {
  forEachReg(state, (r) => {
    if (!r.maybeNull || r.id !== id) return;
    if (isNull) {
      // The NULL branch: a known zero (but keeps being comparable as a scalar).
      r.type = 'scalar';
      r.maybeNull = false;
      r.map = undefined;
      r.off = 0;
      r.range = 0;
      r.id = 0;
      ___mark_reg_known(r, 0n);
    } else {
      r.maybeNull = false;
      // The id is kept only for values that need it (spin locks): not modelled here.
      r.id = 0;
    }
  });
}

/** is_pkt_ptr_branch_taken: after mark_pkt_end, some compares with pkt_end are decided. */
function isPktPtrBranchTaken(dst: RegState, src: RegState, opcode: number): -1 | 0 | 1 {
  let pkt: RegState;
  if (src.type === 'pkt_end') pkt = dst;
  else if (dst.type === 'pkt_end') {
    pkt = src;
    opcode = flip_opcode(opcode);
  } else return -1;
  if (pkt.range >= 0) return -1;
  switch (opcode) {
    case JMP_CONDS.jle: // pkt <= pkt_end
    case JMP_CONDS.jgt: // pkt > pkt_end
      // At least one byte beyond the end.
      if (pkt.range === BEYOND_PKT_END) return opcode === JMP_CONDS.jgt ? 1 : 0;
      break;
    case JMP_CONDS.jlt: // pkt < pkt_end
    case JMP_CONDS.jge: // pkt >= pkt_end
      if (pkt.range === BEYOND_PKT_END || pkt.range === AT_PKT_END) return opcode === JMP_CONDS.jge ? 1 : 0;
      break;
  }
  return -1;
}

/** reg_not_null: pointers that are never NULL. */
function regNotNull(r: RegState): boolean {
  if (r.maybeNull) return false;
  return r.type === 'fp' || r.type === 'ctx' || r.type === 'map_value' || r.type === 'map_key' || r.type === 'map_ptr' || r.type === 'func' || r.type === 'mem';
}

/** is_branch_taken: 1 always, 0 never, -1 depends. */
function isBranchTaken(a: RegState, b: RegState, opcode: number, jmp32: boolean): -1 | 0 | 1 {
  if (isPktPointer(a) || a.type === 'pkt_end' ? isPktPointer(b) || b.type === 'pkt_end' : false) {
    if (!jmp32) return isPktPtrBranchTaken(a, b, opcode);
  }
  if (isPointer(a) || isPointer(b)) {
    let r1 = a, r2 = b, opc = opcode;
    if (!(r2.type === 'scalar' && (jmp32 ? tnum_subreg_is_const(r2.var_off) : isConst(r2)))) {
      opc = flip_opcode(opc);
      [r1, r2] = [r2, r1];
    }
    if (!(r2.type === 'scalar' && (jmp32 ? tnum_subreg_is_const(r2.var_off) : isConst(r2)))) return -1;
    if (!regNotNull(r1)) return -1;
    const val = jmp32 ? BigInt.asUintN(32, r2.var_off.value) : r2.var_off.value;
    if (val !== 0n) return -1;
    if (opc === BPF_JEQ) return 0;
    if (opc === BPF_JNE) return 1;
    return -1;
  }
  return is_branch_taken(a, b, opcode, jmp32);
}

function noteBranch(aux: InsnAux, v: 0 | 1 | -1): void {
  aux.branch = aux.branch === undefined ? v : aux.branch === v ? v : -1;
}

/** collect_linked_regs: the live registers and spilled slots that share a scalar's id. */
function collectLinkedRegs(env: VerifierEnv, state: VerifierState, id: number, out: LinkedReg[]): void {
  id = (id & ~BPF_ADD_CONST) >>> 0;
  for (let i = state.curframe; i >= 0; i--) {
    const live = env.live[frameInsnIdx(state, i)]!;
    const func = state.frames[i]!;
    for (let j = 0; j < BPF_REG_FP; j++) {
      if ((live & (1 << j)) === 0) continue;
      const r = func.regs[j]!;
      if (r.type !== 'scalar' || ((r.id & ~BPF_ADD_CONST) >>> 0) !== id) continue;
      if (out.length < LINKED_REGS_MAX) out.push({ frameno: i, regno: j, isReg: true });
      else r.id = 0;
    }
    for (let j = 0; j < func.stack.length; j++) {
      const s = func.stack[j]!;
      if (!isSpilledReg(s)) continue;
      const r = s.spilled!;
      if (r.type !== 'scalar' || ((r.id & ~BPF_ADD_CONST) >>> 0) !== id) continue;
      if (out.length < LINKED_REGS_MAX) out.push({ frameno: i, regno: j, isReg: false });
      else r.id = 0;
    }
  }
}

/** sync_linked_regs: registers linked to a refined scalar learn its bounds (moved by their delta). */
function syncLinkedRegs(env: VerifierEnv, state: VerifierState, known: RegState, linked: readonly LinkedReg[]): void {
  for (const e of linked) {
    const func = state.frames[e.frameno]!;
    const reg = e.isReg ? func.regs[e.regno]! : func.stack[e.regno]!.spilled!;
    if (reg.type !== 'scalar' || reg === known) continue;
    if (((reg.id & ~BPF_ADD_CONST) >>> 0) !== ((known.id & ~BPF_ADD_CONST) >>> 0)) continue;
    // A delta learnt by a 32-bit add does not carry to a 64-bit one, and the other way round.
    if (((reg.id ^ known.id) & BPF_ADD_CONST) === BPF_ADD_CONST) continue;
    const subregDef = reg.subreg_def;
    if (((reg.id & BPF_ADD_CONST) === 0 && (known.id & BPF_ADD_CONST) === 0) || reg.off === known.off) {
      assignReg(reg, known);
      reg.subreg_def = subregDef;
    } else {
      const off = reg.off, id = reg.id;
      const fake = notInitReg();
      fake.type = 'scalar';
      ___mark_reg_known(fake, BigInt(off) - BigInt(known.off));
      assignReg(reg, known);
      reg.off = off;
      reg.id = id;
      reg.subreg_def = subregDef;
      scalar32_min_max_add(reg, fake);
      scalar_min_max_add(reg, fake);
      reg.var_off = tnum_add(reg.var_off, fake.var_off);
      if (((reg.id | known.id) & BPF_ADD_CONST32) !== 0) zext_32_to_64(reg);
      reg_bounds_sync(reg);
    }
    if (state === env.cur) {
      if (e.isReg && e.frameno === state.curframe) env.scratchedRegs |= 1 << e.regno;
      else if (!e.isReg && e.frameno === state.curframe) env.scratchedStack.add(e.regno);
    }
  }
}

function checkCondJmpOp(env: VerifierEnv, idx: number, op: Extract<OpInfo, { kind: 'jcond' }>, x: Insn): void {
  const thisBranch = env.cur;
  const regs = curFrame(thisBranch).regs;
  const opcode = JMP_CONDS[op.cond];
  checkRegArg(env, x.dst, 'SRC_OP');
  const dst = regs[x.dst]!;
  let src: RegState;
  let flags = 0;
  if (op.srcReg) {
    checkRegArg(env, x.src, 'SRC_OP');
    src = regs[x.src]!;
    if (src.type === 'fp') flags |= INSN_F_SRC_REG_STACK;
    if (dst.type === 'fp') flags |= INSN_F_DST_REG_STACK;
  } else {
    src = notInitReg();
    src.type = 'scalar';
    markRegKnown(src, BigInt(x.imm));
    if (dst.type === 'fp') flags |= INSN_F_DST_REG_STACK;
  }
  if (flags !== 0) pushJmpHistory(env, thisBranch, flags, undefined);
  const aux = env.aux[idx]!;
  const pred = isBranchTaken(dst, src, opcode, op.jmp32);
  if (pred >= 0) {
    // The decision depends on the values: they must be precise in the states it prunes against.
    if (!isPointer(dst)) markChainPrecision(env, thisBranch, x.dst);
    if (op.srcReg && !isPointer(src)) markChainPrecision(env, thisBranch, x.src);
  }
  if (pred === 1) {
    noteBranch(aux, 1);
    if (env.log.traced) printInsnState(env);
    thisBranch.insn_idx = idx + x.off;
    return;
  }
  if (pred === 0) {
    noteBranch(aux, 0);
    if (env.log.traced) printInsnState(env);
    return;
  }
  noteBranch(aux, -1);
  // Registers sharing an id learn together; record them in the history both branches share.
  const linked: LinkedReg[] = [];
  if (op.srcReg && src.type === 'scalar' && src.id !== 0) collectLinkedRegs(env, thisBranch, src.id, linked);
  if (dst.type === 'scalar' && dst.id !== 0) collectLinkedRegs(env, thisBranch, dst.id, linked);
  if (linked.length > 1) pushJmpHistory(env, thisBranch, 0, linked);
  const otherBranch = pushStack(env, idx + x.off + 1, idx);
  const otherRegs = curFrame(otherBranch).regs;
  // reg_set_min_max: nothing is learnt about a pointer's offset from a compare.
  if (dst.type === 'scalar' && src.type === 'scalar') {
    const trueSrc = op.srcReg ? otherRegs[x.src]! : src;
    const falseSrc = op.srcReg ? src : copyReg(src);
    // Impossible bounds (a dead side) are reset by the sanity check inside.
    reg_set_min_max(otherRegs[x.dst]!, trueSrc, dst, falseSrc, opcode, op.jmp32);
  }
  if (op.srcReg && src.type === 'scalar' && src.id !== 0) {
    syncLinkedRegs(env, thisBranch, src, linked);
    syncLinkedRegs(env, otherBranch, otherRegs[x.src]!, linked);
  }
  if (dst.type === 'scalar' && dst.id !== 0) {
    syncLinkedRegs(env, thisBranch, dst, linked);
    syncLinkedRegs(env, otherBranch, otherRegs[x.dst]!, linked);
  }
  // A maybe-NULL pointer compared with a non-NULL one is not NULL where they are equal.
  if (!op.jmp32 && op.srcReg && isPointer(src) && isPointer(dst) && src.maybeNull !== dst.maybeNull) {
    const eqRegs = opcode === BPF_JEQ ? otherRegs : opcode === BPF_JNE ? regs : undefined;
    if (eqRegs !== undefined) {
      const r = eqRegs[src.maybeNull ? x.src : x.dst]!;
      if (r.maybeNull) r.maybeNull = false;
    }
  }
  if (!op.jmp32 && !op.srcReg && x.imm === 0 && (opcode === BPF_JEQ || opcode === BPF_JNE) && dst.maybeNull) {
    const id = dst.id;
    markPtrOrNullRegs(thisBranch, id, opcode === BPF_JNE);
    markPtrOrNullRegs(otherBranch, id, opcode === BPF_JEQ);
  } else if (op.srcReg) {
    tryMatchPktPointers(op.cond, op.jmp32, x.dst, x.src, dst, src, thisBranch, otherBranch);
  }
  if (env.log.traced) printInsnState(env);
}

/** frame_insn_idx: where a frame of the state is (its call site for the callers). */
function frameInsnIdx(st: VerifierState, frame: number): number {
  return frame === st.curframe ? st.insn_idx : st.frames[frame + 1]!.callsite;
}

/** push_stack: the other branch, to be explored later from `insnIdx`. */
function pushStack(env: VerifierEnv, insnIdx: number, prevInsnIdx: number): VerifierState {
  const st = copyState(env.cur);
  st.insn_idx = insnIdx;
  st.prev_insn_idx = prevInsnIdx;
  st.logPos = env.log.position;
  env.stack.push(st);
  if (env.stack.length > BPF_COMPLEXITY_LIMIT_JMP_SEQ) env.reject('E2BIG', `The sequence of ${env.stack.length} jumps is too complex.`);
  if (st.parent !== undefined) st.parent.branches++;
  return st;
}

// ---------------------------------------------------------------------------------------------------
// Calls (check_helper_call, check_func_call)

/** Helpers that take a map (record_func_map's list). */
const MAP_HELPERS = new Set([12, 1, 2, 3, 87, 88, 89, 164, 51, 195]);
const BPF_FUNC_tail_call = 12;
const BPF_FUNC_map_lookup_elem = 1;
const BPF_FUNC_map_update_elem = 2;
const BPF_FUNC_map_delete_elem = 3;
const BPF_FUNC_map_push_elem = 87;
const BPF_FUNC_map_pop_elem = 88;
const BPF_FUNC_redirect_map = 51;
const BPF_FUNC_get_smp_processor_id = 8;
const BPF_FUNC_perf_event_read = 22;
const BPF_FUNC_perf_event_output = 25;
const BPF_FUNC_perf_event_read_value = 55;
const BPF_FUNC_skb_output = 111;
const BPF_FUNC_xdp_output = 121;

interface CallArgMeta extends RawMode {
  map: BpfMap | undefined;
  constMapKey: bigint;
  pktAccess: boolean;
  funcId: number;
}

/** func_id_name. */
function funcIdName(id: number): string {
  if (id === 0) return 'unspec';
  return helperName(id) ?? 'unknown';
}

/** The register types an argument accepts (compatible_reg_types), as check_reg_type lists them. */
const MEM_TYPES = 'fp, pkt, pkt_meta, map_key, map_value, mem, ringbuf_mem, buf, trusted_ptr_';
const isMemType = (r: RegState): boolean => r.type === 'fp' || r.type === 'pkt' || r.type === 'pkt_meta' || r.type === 'map_key' || r.type === 'map_value' || r.type === 'mem';

/** check_helper_mem_access: `size` bytes at the pointer, read or written by the helper. */
function checkHelperMemAccess(env: VerifierEnv, regno: number, size: number, write: boolean, zeroSizeAllowed: boolean, meta: RawMode | undefined): void {
  const reg = env.regs()[regno]!;
  switch (reg.type) {
    case 'pkt':
    case 'pkt_meta':
      checkPacketAccess(env, regno, reg.off, size, zeroSizeAllowed);
      return;
    case 'map_key':
      if (write) env.reject('EACCES', `R${regno} cannot write into ${regTypeStr(reg)}`);
      checkMemRegionAccess(env, regno, reg.off, size, reg.map!.key_size, false);
      return;
    case 'map_value':
      checkMapAccessType(env, regno, reg.off, size, write);
      checkMemRegionAccess(env, regno, reg.off, size, reg.map!.value_size, zeroSizeAllowed);
      return;
    case 'fp':
      checkStackRangeInitialized(env, regno, reg.off, size, zeroSizeAllowed, write, meta);
      return;
    case 'mem':
      checkMemRegionAccess(env, regno, reg.off, size, reg.range, zeroSizeAllowed);
      return;
    default:
      // A zero-byte access through NULL is fine whatever the pointer type.
      if (zeroSizeAllowed && size === 0 && registerIsNull(reg)) return;
      env.reject('EACCES', `R${regno} type=${regTypeStr(reg)} expected=fp`);
  }
}

/** check_mem_size_reg: the size argument of a memory argument. */
function checkMemSizeReg(env: VerifierEnv, regno: number, write: boolean, zeroSizeAllowed: boolean, meta: CallArgMeta): void {
  const reg = env.regs()[regno]!;
  // A variable size cannot be written in raw mode.
  const m = isConst(reg) ? meta : undefined;
  if (reg.smin_value < 0n) env.reject('EACCES', `R${regno} min value is negative, either use unsigned or 'var &= const'`);
  if (reg.umin_value === 0n && !zeroSizeAllowed) env.reject('EACCES', `R${regno} invalid zero-sized read: u64=[${BigInt.asIntN(64, reg.umin_value)},${BigInt.asIntN(64, reg.umax_value)}]`);
  if (reg.umax_value >= BigInt(BPF_MAX_VAR_SIZ)) env.reject('EACCES', `R${regno} unbounded memory access, use 'var &= const' or 'if (var < const)'`);
  checkHelperMemAccess(env, regno - 1, Number(reg.umax_value), write, zeroSizeAllowed, m);
  markChainPrecision(env, env.cur, regno);
}

/** get_constant_map_key: an ARRAY lookup's key when it is a known constant on the stack. */
function getConstantMapKey(env: VerifierEnv, key: RegState, keySize: number): bigint {
  if (key.type !== 'fp' || !isConst(key)) return -1n;
  const f = env.cur.frames[key.frameno]!;
  const stackOff = key.off + Number(BigInt.asIntN(64, key.var_off.value));
  const slot = -stackOff - 1;
  const spi = Math.floor(slot / BPF_REG_SIZE);
  const off = slot % BPF_REG_SIZE;
  const s = f.stack[spi];
  if (s === undefined) return -1n;
  let zeroSize = 0;
  for (let i = off; i >= 0 && stype(s, i) === '0'; i--) zeroSize++;
  if (zeroSize >= keySize) return 0n;
  if (!isSpilledScalarReg(s)) return -1n;
  let spillSize = 0;
  for (let i = off; i >= 0 && stype(s, i) === 'r'; i--) spillSize++;
  if (spillSize !== keySize) return -1n;
  const reg = s.spilled!;
  if (!isConst(reg)) return -1n;
  // The lookup's NULL check is dropped because of this value: it must stay this value.
  markStackSlotPrecision(env, env.cur, key.frameno, spi);
  return reg.var_off.value;
}

/** check_func_arg: one argument against its declared type. */
function checkFuncArg(env: VerifierEnv, arg: number, meta: CallArgMeta, proto: BpfFuncProto): void {
  const regno = arg + 1;
  const a: BpfArg | undefined = proto.arg_type[arg];
  if (a === undefined || a.type === 'ARG_DONTCARE') return;
  checkRegArg(env, regno, 'SRC_OP');
  const reg = env.regs()[regno]!;
  if (a.type === 'ARG_ANYTHING') return; // root may pass pointers as numbers
  const nullable = a.flags.includes('PTR_MAYBE_NULL');
  if (isPktPointer(reg) && !(mayAccessDirectPktData(env.opts.progType) && meta.pktAccess)) {
    env.reject('EACCES', 'helper access to the packet is not allowed');
  }
  if (!(registerIsNull(reg) && nullable)) {
    // check_reg_type, then check_func_arg_reg_off.
    let expected: string | undefined;
    switch (a.type) {
      case 'ARG_CONST_MAP_PTR': if (reg.type !== 'map_ptr') expected = 'map_ptr'; break;
      case 'ARG_PTR_TO_CTX': if (reg.type !== 'ctx') expected = 'ctx'; break;
      case 'ARG_CONST_SIZE': case 'ARG_CONST_SIZE_OR_ZERO': if (reg.type !== 'scalar') expected = 'scalar'; break;
      case 'ARG_PTR_TO_MAP_KEY': case 'ARG_PTR_TO_MAP_VALUE': case 'ARG_PTR_TO_MEM': case 'ARG_PTR_TO_UNINIT_MEM':
        // MEM_RDONLY and PTR_MAYBE_NULL of the argument accept the register's same flags.
        if (!isMemType(reg) || (reg.maybeNull && !nullable)) expected = MEM_TYPES;
        break;
    }
    if (expected !== undefined) env.reject('EACCES', `R${regno} type=${regTypeStr(reg)} expected=${expected}`);
    if (!(isMemType(reg) && !reg.maybeNull) && reg.type !== 'scalar') checkPtrOffReg(env, reg, regno, false);
  }
  switch (a.type) {
    case 'ARG_CONST_MAP_PTR':
      meta.map = reg.map;
      break;
    case 'ARG_PTR_TO_MAP_KEY': {
      if (meta.map === undefined) env.reject('EFAULT', 'verifier bug: invalid map_ptr to access map->key');
      const keySize = meta.map.key_size;
      checkHelperMemAccess(env, regno, keySize, false, false, undefined);
      if (meta.map.map_type === BPF_MAP_TYPE_ARRAY || meta.map.map_type === BPF_MAP_TYPE_PERCPU_ARRAY) {
        meta.constMapKey = getConstantMapKey(env, reg, keySize);
      }
      break;
    }
    case 'ARG_PTR_TO_MAP_VALUE':
      if (nullable && registerIsNull(reg)) return;
      if (meta.map === undefined) env.reject('EFAULT', 'verifier bug: invalid map_ptr to access map->value');
      meta.raw = false;
      checkHelperMemAccess(env, regno, meta.map.value_size, false, false, meta);
      break;
    case 'ARG_PTR_TO_MEM':
      meta.raw = false;
      break;
    case 'ARG_PTR_TO_UNINIT_MEM':
      meta.raw = true;
      break;
    case 'ARG_CONST_SIZE':
    case 'ARG_CONST_SIZE_OR_ZERO': {
      // The memory argument before the size: a helper writes it unless it is read-only.
      const memArg = proto.arg_type[arg - 1];
      const write = memArg !== undefined && (memArg.type === 'ARG_PTR_TO_UNINIT_MEM' || (memArg.type === 'ARG_PTR_TO_MEM' && !memArg.flags.includes('MEM_RDONLY')));
      checkMemSizeReg(env, regno, write, a.type === 'ARG_CONST_SIZE_OR_ZERO', meta);
      break;
    }
    case 'ARG_PTR_TO_CTX':
      break;
  }
}

/** record_func_map: a read-only map cannot be changed by a helper; the map is remembered for the rewrites. */
function recordFuncMap(env: VerifierEnv, idx: number, meta: CallArgMeta, funcId: number): void {
  if (!MAP_HELPERS.has(funcId)) return;
  const map = meta.map;
  if (map === undefined) env.reject('EFAULT', 'verifier bug: expected map for helper call');
  if ((map.map_flags & BPF_F_RDONLY_PROG) !== 0
    && (funcId === BPF_FUNC_map_delete_elem || funcId === BPF_FUNC_map_update_elem || funcId === BPF_FUNC_map_push_elem || funcId === BPF_FUNC_map_pop_elem)) {
    env.reject('EACCES', 'write into map forbidden');
  }
  const a = env.aux[idx]!;
  if (a.map !== undefined && a.map !== map) a.mapMixed = true;
  a.map = map;
}

/** record_func_key: a tail call needs a program array (the message has no newline in the kernel). */
function recordFuncKey(env: VerifierEnv, meta: CallArgMeta, funcId: number): void {
  if (funcId !== BPF_FUNC_tail_call) return;
  if (meta.map === undefined || meta.map.map_type !== BPF_MAP_TYPE_PROG_ARRAY) {
    env.log.write('expected prog array map for tail call');
    throw new BpfError('EINVAL', 'expected prog array map for tail call');
  }
  const r3 = env.regs()[3]!;
  if (isConst(r3) && r3.var_off.value < BigInt(meta.map.max_entries)) markChainPrecision(env, env.cur, 3);
}

/** check_map_func_compatibility: which maps go with which helpers, from both sides. */
function checkMapFuncCompatibility(env: VerifierEnv, map: BpfMap | undefined, funcId: number): void {
  if (map === undefined) return;
  const t = map.map_type;
  let ok = true;
  switch (t) {
    case BPF_MAP_TYPE_PROG_ARRAY:
      if (funcId !== BPF_FUNC_tail_call) ok = false;
      break;
    case BPF_MAP_TYPE_PERF_EVENT_ARRAY:
      if (funcId !== BPF_FUNC_perf_event_read && funcId !== BPF_FUNC_perf_event_output && funcId !== BPF_FUNC_skb_output
        && funcId !== BPF_FUNC_perf_event_read_value && funcId !== BPF_FUNC_xdp_output) ok = false;
      break;
    case BPF_MAP_TYPE_DEVMAP:
    case BPF_MAP_TYPE_DEVMAP_HASH:
      if (funcId !== BPF_FUNC_redirect_map && funcId !== BPF_FUNC_map_lookup_elem) ok = false;
      break;
    default:
      break;
  }
  switch (funcId) {
    case BPF_FUNC_tail_call:
      if (t !== BPF_MAP_TYPE_PROG_ARRAY) ok = false;
      break;
    case BPF_FUNC_perf_event_read: case BPF_FUNC_perf_event_output: case BPF_FUNC_perf_event_read_value:
    case BPF_FUNC_skb_output: case BPF_FUNC_xdp_output:
      if (t !== BPF_MAP_TYPE_PERF_EVENT_ARRAY) ok = false;
      break;
    case BPF_FUNC_redirect_map:
      if (t !== BPF_MAP_TYPE_DEVMAP && t !== BPF_MAP_TYPE_DEVMAP_HASH && t !== BPF_MAP_TYPE.CPUMAP && t !== BPF_MAP_TYPE.XSKMAP) ok = false;
      break;
    default:
      break;
  }
  if (!ok) env.reject('EINVAL', `cannot pass map_type ${t} into func ${funcIdName(funcId)}#${funcId}`);
}

/** clear_caller_saved_regs / the helper-call reset: r0-r5 unreadable. */
function clearCallerSavedRegs(env: VerifierEnv, regs: RegState[]): void {
  for (let r = 0; r <= 5; r++) {
    markRegNotInit(regs[r]!);
    env.scratchedRegs |= 1 << r;
  }
}

function checkHelperCall(env: VerifierEnv, idx: number, x: Insn): void {
  const funcId = x.imm;
  if (funcId < 0 || funcId >= BPF_FUNC_NAMES.length) env.reject('EINVAL', `invalid func ${funcIdName(funcId)}#${funcId}`);
  const def = func_proto(env.opts.progType, funcId);
  if (def === undefined) env.reject('EINVAL', `program of this type cannot use helper ${funcIdName(funcId)}#${funcId}`);
  const proto = def.proto;
  if (proto.gpl_only && !env.opts.gplCompatible) env.reject('EINVAL', 'cannot call GPL-restricted function from non-GPL compatible program');
  const meta: CallArgMeta = { map: undefined, constMapKey: 0n, pktAccess: proto.pkt_access, funcId, raw: false, regno: -1, accessSize: 0 };
  for (let i = 0; i < 5; i++) checkFuncArg(env, i, meta, proto);
  recordFuncMap(env, idx, meta, funcId);
  recordFuncKey(env, meta, funcId);
  // Raw mode: the helper fills the memory, byte by byte as far as the stack is concerned.
  for (let i = 0; i < meta.accessSize; i++) checkMemAccess(env, idx, meta.regno, i, 1, true, -1, false, false);
  const regs = env.regs();
  clearCallerSavedRegs(env, regs);
  const r0 = regs[0]!;
  r0.subreg_def = -1;
  switch (proto.ret_type) {
    case 'RET_INTEGER':
      markRegUnknown(r0);
      break;
    case 'RET_VOID':
      r0.type = 'not_init';
      break;
    case 'RET_PTR_TO_MAP_VALUE_OR_NULL': {
      const map = meta.map;
      if (map === undefined) env.reject('EFAULT', 'verifier bug: unexpected null map_ptr');
      markPtr(r0, 'map_value');
      r0.map = map;
      // An ARRAY lookup with a constant key inside the array cannot fail.
      const elide = funcId === BPF_FUNC_map_lookup_elem && (map.map_type === BPF_MAP_TYPE_ARRAY || map.map_type === BPF_MAP_TYPE_PERCPU_ARRAY)
        && meta.constMapKey >= 0n && meta.constMapKey < BigInt(map.max_entries);
      r0.maybeNull = !elide;
      if (r0.maybeNull) r0.id = env.newId();
      break;
    }
  }
  // do_refine_retval_range: the CPU number is below nr_cpu_ids.
  if (proto.ret_type === 'RET_INTEGER' && funcId === BPF_FUNC_get_smp_processor_id && env.opts.nrCpuIds !== undefined) {
    const max = BigInt(env.opts.nrCpuIds - 1);
    r0.umin_value = 0n; r0.u32_min_value = 0n; r0.smin_value = 0n; r0.s32_min_value = 0n;
    r0.umax_value = max; r0.u32_max_value = max; r0.smax_value = max; r0.s32_max_value = max;
    reg_bounds_sync(r0);
  }
  checkMapFuncCompatibility(env, meta.map, funcId);
  if (proto.changes_pkt_data) clearAllPktPointers(env);
}

/** clear_all_pkt_pointers: a helper that may move the packet makes every packet pointer unknown. */
function clearAllPktPointers(env: VerifierEnv): void {
  const st = env.cur;
  for (let f = 0; f <= st.curframe; f++) {
    const func = st.frames[f]!;
    for (let i = 0; i < func.regs.length; i++) {
      const r = func.regs[i]!;
      if (isPktPointer(r) || r.type === 'pkt_end') markRegUnknown(r);
    }
    for (let i = 0; i < func.stack.length; i++) {
      const s = func.stack[i]!;
      if (isSpilledReg(s) && s.spilled !== undefined && (isPktPointer(s.spilled) || s.spilled.type === 'pkt_end')) markRegUnknown(s.spilled);
    }
  }
}

/** A subprogram func_info marks BTF_FUNC_GLOBAL (subprog_is_global). */
const subprogIsGlobal = (env: VerifierEnv, subprog: number): boolean => env.subprogInfo[subprog]!.btf.linkage === BTF_FUNC_GLOBAL;

/**
 * changes_pkt_data of each subprogram: it calls a helper that may move the packet, or a subprogram that
 * does. A global function's caller must forget its packet pointers, as after such a helper.
 */
function markChangesPktData(env: VerifierEnv, progType: number): void {
  const info = env.subprogInfo;
  const calls: [number, number][] = [];
  for (let i = 0; i < env.insns.length; i++) {
    const op = env.ops[i];
    if (op?.kind !== 'call') continue;
    const x = env.insns[i]!;
    if (op.target === 'helper') {
      if (func_proto(progType, x.imm)?.proto.changes_pkt_data === true) info[env.subprogOf(i)]!.changesPktData = true;
    } else if (op.target === 'local') {
      const callee = env.subprogs.indexOf(i + x.imm + 1);
      if (callee >= 0) calls.push([env.subprogOf(i), callee]);
    }
  }
  for (let changed = true; changed;) {
    changed = false;
    for (const [caller, callee] of calls) {
      if (info[callee]!.changesPktData && !info[caller]!.changesPktData) {
        info[caller]!.changesPktData = true;
        changed = true;
      }
    }
  }
}

/** btf_prepare_func_args, cached per subprogram (args_cached); an errno when the BTF does not fit. */
function prepareArgs(env: VerifierEnv, subprog: number): ErrnoName | undefined {
  const info = env.subprogInfo[subprog]!;
  if (info.args !== undefined) return undefined;
  if (info.unreliable) {
    env.log.write(`verifier bug: unreliable BTF for function ${info.btf.name}()\n`);
    return 'EFAULT';
  }
  const r = prepareFuncArgs(env.opts.btf!, info.btf, subprog, env.opts.progType, (line) => env.log.write(`${line}\n`));
  if ('errno' in r) return r.errno;
  info.args = r.args;
  return undefined;
}

/**
 * check_mem_reg: `size` bytes at a pointer argument are readable and writable (the callee may do
 * either); a NULL constant passes, and a maybe-NULL pointer is checked as if it were not NULL.
 */
function checkMemReg(env: VerifierEnv, regno: number, size: number): void {
  const reg = env.regs()[regno]!;
  if (registerIsNull(reg)) return;
  const wasNull = reg.maybeNull;
  reg.maybeNull = false;
  try {
    checkHelperMemAccess(env, regno, size, false, true, undefined);
    checkHelperMemAccess(env, regno, size, true, true, undefined);
  } finally {
    reg.maybeNull = wasNull;
  }
}

/** btf_check_func_arg_match: the caller's r1-r5 against the callee's prototype; the errno if not. */
function btfCheckFuncArgMatch(env: VerifierEnv, subprog: number, regs: readonly RegState[]): ErrnoName | undefined {
  const bad = prepareArgs(env, subprog);
  if (bad !== undefined) return bad;
  const args = env.subprogInfo[subprog]!.args!;
  for (let i = 0; i < args.length; i++) {
    const regno = i + 1;
    const reg = regs[regno]!;
    const arg = args[i]!;
    try {
      if (arg.type === 'ARG_ANYTHING') {
        if (reg.type !== 'scalar') {
          env.log.write(`R${regno} is not a scalar\n`);
          return 'EINVAL';
        }
      } else if (arg.type === 'ARG_PTR_TO_CTX') {
        if (reg.type === 'ctx') checkPtrOffReg(env, reg, regno, false);
        else {
          env.log.write(`arg#${i} expects pointer to ctx\n`);
          return 'EINVAL';
        }
      } else {
        // check_func_arg_reg_off: memory pointers may carry offsets; other pointers may not.
        if (!isMemType(reg) && reg.type !== 'scalar') checkPtrOffReg(env, reg, regno, false);
        try {
          checkMemReg(env, regno, arg.memSize);
        } catch (e) {
          if (e instanceof BpfError) return 'EINVAL';
          throw e;
        }
        if (!arg.maybeNull && reg.maybeNull) {
          env.log.write(`arg#${i} is expected to be non-NULL\n`);
          return 'EINVAL';
        }
      }
    } catch (e) {
      if (e instanceof BpfError) return e.errno;
      throw e;
    }
  }
  return undefined;
}

/**
 * btf_check_subprog_call: without func_info nothing is known (EINVAL, which a static callee ignores);
 * a mismatch marks the function unreliable.
 */
function btfCheckSubprogCall(env: VerifierEnv, subprog: number, regs: readonly RegState[]): ErrnoName | undefined {
  const info = env.subprogInfo[subprog]!;
  if (env.opts.btf === undefined || (env.opts.funcInfo?.length ?? 0) === 0) return 'EINVAL';
  if (info.btf.typeId === 0) return 'EFAULT';
  if (info.unreliable) return 'EINVAL';
  const err = btfCheckFuncArgMatch(env, subprog, regs);
  if (err !== undefined) info.unreliable = true;
  return err;
}

function checkFuncCall(env: VerifierEnv, idx: number, x: Insn): void {
  const st = env.cur;
  const target = idx + x.imm + 1;
  const subprog = env.subprogs.indexOf(target);
  if (subprog < 0) env.reject('EFAULT', `verifier bug: target of func call at insn ${idx} is not a program`);
  const caller = curFrame(st);
  const err = btfCheckSubprogCall(env, subprog, caller.regs);
  if (err === 'EFAULT') throw new BpfError('EFAULT', `BTF of func#${subprog}`);
  if (subprogIsGlobal(env, subprog)) {
    const info = env.subprogInfo[subprog]!;
    if (err !== undefined) env.reject(err, `Caller passes invalid args into func#${subprog} ('${info.btf.name}')`);
    if (env.log.traced) env.log.write(`Func#${subprog} ('${info.btf.name}') is global and assumed valid.\n`);
    if (info.changesPktData) clearAllPktPointers(env);
    // Verified after the main program, once, for any arguments its prototype allows.
    info.called = true;
    clearCallerSavedRegs(env, caller.regs);
    // Whatever it returns is a 64-bit unknown scalar here.
    markRegUnknown(caller.regs[0]!);
    caller.regs[0]!.subreg_def = -1;
    return;
  }
  if (st.curframe + 1 >= MAX_CALL_FRAMES) env.reject('E2BIG', `the call stack of ${st.curframe + 2} frames is too deep`);
  const callee = newFuncState(st.curframe + 1, idx, subprog);
  markPtr(callee.regs[BPF_REG_FP]!, 'fp');
  callee.regs[BPF_REG_FP]!.frameno = callee.frameno;
  // r1-r5 pass as they are.
  for (let r = 1; r <= 5; r++) callee.regs[r] = copyReg(caller.regs[r]!);
  st.frames.push(callee);
  st.curframe++;
  clearCallerSavedRegs(env, caller.regs);
  st.insn_idx = target - 1;
  env.liveStack.resetCallchain();
  if (env.log.traced) {
    env.log.write('caller:\n');
    printFullState(env, caller);
    env.log.write('callee:\n');
    printFullState(env, callee);
  }
  // The callee's first instruction shows its whole frame.
  markStateScratched(env);
}

function prepareFuncExit(env: VerifierEnv): void {
  const st = env.cur;
  env.liveStack.update(st);
  const callee = curFrame(st);
  const r0 = callee.regs[0]!;
  // Only the callee's own stack dies, but the kernel is conservative about all of them.
  if (r0.type === 'fp') env.reject('EINVAL', 'cannot return stack pointer to the caller');
  const caller = st.frames[st.curframe - 1]!;
  caller.regs[0] = copyReg(r0);
  st.insn_idx = callee.callsite + 1;
  if (env.log.traced) {
    env.log.write('returning from callee:\n');
    printFullState(env, callee);
    env.log.write(`to caller at ${st.insn_idx}:\n`);
    printFullState(env, caller);
  }
  st.frames.pop();
  st.curframe--;
}

/** check_ld_abs: the classic skb loads, with the context in r6. */
function checkLdAbs(env: VerifierEnv, op: Extract<OpInfo, { kind: 'ldabs' }>, x: Insn): void {
  if (!mayAccessSkb(env.opts.progType)) env.reject('EINVAL', 'BPF_LD_[ABS|IND] instructions not allowed for this program type');
  const regs = env.regs();
  checkRegArg(env, 6, 'SRC_OP');
  if (regs[6]!.type !== 'ctx') env.reject('EINVAL', 'at the time of BPF_LD_ABS|IND R6 != pointer to skb');
  if (op.indirect) checkRegArg(env, x.src, 'SRC_OP');
  checkPtrOffReg(env, regs[6]!, 6, false);
  clearCallerSavedRegs(env, regs);
  markRegUnknown(regs[0]!);
  regs[0]!.subreg_def = env.cur.insn_idx + 1;
  if (env.cur.curframe > 0) {
    // The hidden `r0 = 0; exit` a failed load takes, in a subprogram: the caller sees it.
    env.scratchedRegs |= 1;
    pushStack(env, env.cur.insn_idx + 1, env.cur.insn_idx);
    markPtr(regs[0]!, 'scalar');
    prepareFuncExit(env);
    env.cur.insn_idx--;
  }
}

/** check_ld_imm: constants, map pointers, map values, subprogram pointers. */
function checkLdImm(env: VerifierEnv, idx: number, x: Insn): void {
  checkRegArg(env, x.dst, 'DST_OP');
  const r = env.regs()[x.dst]!;
  const m = env.opts.ldImm.get(idx);
  if (x.src === 0) {
    r.type = 'scalar';
    markRegKnown(r, (BigInt(env.insns[idx + 1]!.imm >>> 0) << 32n) | BigInt(x.imm >>> 0));
    return;
  }
  markPtr(r, 'scalar');
  if (x.src === 4 /* BPF_PSEUDO_FUNC */) {
    r.type = 'func';
    return;
  }
  if (m === undefined) env.reject('EFAULT', 'verifier bug: unexpected src reg value for ldimm64');
  r.map = m.map;
  env.aux[idx]!.map = m.map;
  if (m.valueOff !== undefined) {
    r.type = 'map_value';
    r.off = m.valueOff;
  } else {
    r.type = 'map_ptr';
  }
}

function checkAtomic(env: VerifierEnv, idx: number, op: Extract<OpInfo, { kind: 'atomic' }>, x: Insn): void {
  checkRegArg(env, x.src, 'SRC_OP');
  checkRegArg(env, x.dst, 'SRC_OP');
  if (op.op === 'cmpxchg') checkRegArg(env, 0, 'SRC_OP');
  const dst = env.regs()[x.dst]!;
  if (dst.type === 'ctx' || isPktPointer(dst)) {
    env.reject('EACCES', `BPF_ATOMIC stores into R${x.dst} ${regTypeStr(dst)} is not allowed`);
  }
  let loadReg = -1;
  if (op.op.startsWith('fetch_') || op.op === 'xchg' || op.op === 'cmpxchg') {
    loadReg = op.op === 'cmpxchg' ? 0 : x.src;
    checkRegArg(env, loadReg, 'DST_OP');
  }
  recordPtrType(env, idx, dst);
  // The read half (strictly aligned whatever the architecture), the fill, then the write half.
  checkMemAccess(env, idx, x.dst, x.off, op.size, false, -1, true, false);
  if (loadReg >= 0) checkMemAccess(env, idx, x.dst, x.off, op.size, false, loadReg, true, false);
  checkMemAccess(env, idx, x.dst, x.off, op.size, true, -1, true, false);
}

function checkReturnCode(env: VerifierEnv): void {
  const r0 = checkRegArg(env, 0, 'SRC_OP');
  // A global function gives its caller a scalar (the caller assumes one).
  if (curFrame(env.cur).subprogno !== 0 && r0.type !== 'scalar') {
    env.reject('EINVAL', `At subprogram exit the register R0 is not a scalar value (${regTypeStr(r0)})`);
  }
  // Root may return a pointer; XDP and the skb program types may return any value.
}

// ---------------------------------------------------------------------------------------------------
// Pruning (is_state_visited, states_equal)

type Exact = 'NOT_EXACT' | 'EXACT' | 'RANGE_WITHIN';

/** struct bpf_idmap: the id pairing of two states, a bijection. */
class IdMap {
  readonly old: number[] = [];
  readonly cur: number[] = [];
  tmp = 0x40000000;

  reset(): void {
    this.old.length = 0;
    this.cur.length = 0;
    this.tmp = 0x40000000;
  }

  /** check_ids. */
  check(oldId: number, curId: number): boolean {
    if ((oldId === 0) !== (curId === 0)) return false;
    if (oldId === 0) return true;
    for (let i = 0; i < this.old.length; i++) {
      if (this.old[i] === oldId) return this.cur[i] === curId;
      if (this.cur[i] === curId) return false;
    }
    this.old.push(oldId);
    this.cur.push(curId);
    return true;
  }

  /** check_scalar_ids: an unlinked scalar gets a fresh id, so it may match anything once. */
  checkScalar(oldId: number, curId: number): boolean {
    return this.check(oldId !== 0 ? oldId : ++this.tmp, curId !== 0 ? curId : ++this.tmp);
  }
}

const idmap = new IdMap();

/** The fields of bpf_reg_state before `id` (regs_exact's memcmp): type, off, range/map, var_off, bounds. */
function regsSameUpToId(a: RegState, b: RegState): boolean {
  return a.type === b.type && a.maybeNull === b.maybeNull && a.off === b.off && a.range === b.range && a.map === b.map
    && a.var_off.value === b.var_off.value && a.var_off.mask === b.var_off.mask
    && a.smin_value === b.smin_value && a.smax_value === b.smax_value && a.umin_value === b.umin_value && a.umax_value === b.umax_value
    && a.s32_min_value === b.s32_min_value && a.s32_max_value === b.s32_max_value && a.u32_min_value === b.u32_min_value && a.u32_max_value === b.u32_max_value;
}

function regsExact(old: RegState, cur: RegState): boolean {
  return regsSameUpToId(old, cur) && idmap.check(old.id, cur.id);
}

const rangeIn = (old: RegState, cur: RegState): boolean => range_within(old, cur) && tnum_in(old.var_off, cur.var_off);

/**
 * regsafe: cur is as safe as old, for what old's exploration depended on. `allPrecise` compares every
 * scalar by its range (see VerifierEnv.allPrecise).
 */
function regsafe(old: RegState, cur: RegState, exact: Exact, allPrecise: boolean): boolean {
  if (exact === 'EXACT') return regsExact(old, cur);
  if (old.type === 'not_init' && (exact === 'NOT_EXACT' || cur.type === 'not_init')) return true;
  if (old.type !== cur.type || old.maybeNull !== cur.maybeNull) return false;
  switch (old.type) {
    case 'scalar':
      if (!old.precise && exact === 'NOT_EXACT' && !allPrecise) return true;
      if ((old.id & BPF_ADD_CONST) !== (cur.id & BPF_ADD_CONST)) return false;
      if ((old.id & BPF_ADD_CONST) !== 0 && old.off !== cur.off) return false;
      return rangeIn(old, cur) && idmap.checkScalar(old.id, cur.id);
    case 'map_key':
    case 'map_value':
      return old.off === cur.off && old.map === cur.map && rangeIn(old, cur) && idmap.check(old.id, cur.id);
    case 'mem':
      return old.off === cur.off && old.range === cur.range && rangeIn(old, cur) && idmap.check(old.id, cur.id);
    case 'pkt':
    case 'pkt_meta':
      if (old.range < 0 || cur.range < 0) {
        if (old.range !== cur.range) return false;
      } else if (old.range > cur.range) return false;
      if (old.off !== cur.off) return false;
      if (!idmap.check(old.id, cur.id)) return false;
      return rangeIn(old, cur);
    case 'fp':
      return regsExact(old, cur) && old.frameno === cur.frameno;
    default:
      return regsExact(old, cur);
  }
}

const UNBOUND_REG: RegState = (() => {
  const r = notInitReg();
  markRegUnknown(r);
  return r;
})();

/** scalar_reg_for_stack: a 64-bit scalar spill, or all-misc bytes (an unknown scalar), as a register. */
function scalarRegForStack(s: StackSlot): RegState | undefined {
  if (stype(s, 0) === 'r' && s.spilled?.type === 'scalar') return s.spilled;
  for (let j = 0; j < 8; j++) {
    const t = stype(s, j);
    if (t !== 'm' && t !== '?') return undefined;
  }
  return UNBOUND_REG;
}

function stacksafe(old: FuncState, cur: FuncState, exact: Exact, allPrecise: boolean): boolean {
  const oldBytes = old.stack.length * BPF_REG_SIZE, curBytes = cur.stack.length * BPF_REG_SIZE;
  for (let i = 0; i < oldBytes; i++) {
    const spi = Math.floor(i / BPF_REG_SIZE);
    const j = i % BPF_REG_SIZE;
    const os = old.stack[spi]!;
    const cs = cur.stack[spi];
    const ot = stype(os, j);
    if (exact === 'EXACT' && (i >= curBytes || ot !== stype(cs!, j))) return false;
    // Also a slot clean_live_states found dead in the explored state.
    if (ot === '?') continue;
    // Root: old was safe with unknown data here, so anything in cur is fine.
    if (ot === 'm') continue;
    if (i >= curBytes) return false;
    const oldReg = scalarRegForStack(os);
    const curReg = scalarRegForStack(cs!);
    if (oldReg !== undefined && curReg !== undefined) {
      if (!regsafe(oldReg, curReg, exact, allPrecise)) return false;
      i += BPF_REG_SIZE - 1 - j;
      continue;
    }
    const ct = stype(cs!, j);
    if (ot !== ct) return false;
    if (j !== BPF_REG_SIZE - 1) continue;
    if (stype(os, BPF_REG_SIZE - 1) === 'r') {
      if (!regsafe(os.spilled!, cs!.spilled!, exact, allPrecise)) return false;
    }
  }
  return true;
}

function funcStatesEqual(env: VerifierEnv, old: FuncState, cur: FuncState, insnIdx: number, exact: Exact): boolean {
  const live = env.live[insnIdx]!;
  for (let i = 0; i < BPF_REG_FP; i++) {
    if ((live & (1 << i)) === 0) continue;
    if (!regsafe(old.regs[i]!, cur.regs[i]!, exact, env.allPrecise)) return false;
  }
  if (!regsafe(old.regs[BPF_REG_FP]!, cur.regs[BPF_REG_FP]!, exact, env.allPrecise)) return false;
  return stacksafe(old, cur, exact, env.allPrecise);
}

function statesEqual(env: VerifierEnv, old: VerifierState, cur: VerifierState, exact: Exact): boolean {
  if (old.curframe !== cur.curframe) return false;
  idmap.reset();
  for (let i = 0; i <= old.curframe; i++) {
    if (old.frames[i]!.callsite !== cur.frames[i]!.callsite) return false;
    if (!funcStatesEqual(env, old.frames[i]!, cur.frames[i]!, frameInsnIdx(old, i), exact)) return false;
  }
  return true;
}

/** states_maybe_looping: the current frame's registers are exactly those of the in-progress state. */
function statesMaybeLooping(old: VerifierState, cur: VerifierState): boolean {
  if (old.curframe !== cur.curframe) return false;
  const fo = curFrame(old), fc = curFrame(cur);
  for (let i = 0; i < fo.regs.length; i++) {
    const a = fo.regs[i]!, b = fc.regs[i]!;
    if (!regsSameUpToId(a, b) || a.id !== b.id) return false;
  }
  return true;
}

/**
 * Where a prune against `old` let imprecise scalars of `cur` differ from what old's exploration
 * recorded as facts for the JITs (regs of the top frame and spilled slots); see jitFactTaint.
 */
function noteTaint(env: VerifierEnv, insnIdx: number, old: VerifierState, cur: VerifierState): void {
  let regs = 0;
  const slots: number[] = [];
  let global = false;
  for (let f = 0; f <= old.curframe; f++) {
    const of = old.frames[f]!, cf = cur.frames[f]!;
    const live = env.live[frameInsnIdx(old, f)]!;
    for (let i = 0; i < BPF_REG_FP; i++) {
      if ((live & (1 << i)) === 0) continue;
      const o = of.regs[i]!, c = cf.regs[i]!;
      if (o.type === 'scalar' && c.type === 'scalar' && !rangeIn(o, c)) {
        if (f === old.curframe) regs |= 1 << i;
        else global = true;
      }
    }
    for (let spi = 0; spi < of.stack.length; spi++) {
      const os = of.stack[spi]!, cs = cf.stack[spi];
      if (cs === undefined) continue;
      const o = scalarRegForStack(os), c = scalarRegForStack(cs);
      if (o !== undefined && c !== undefined && !rangeIn(o, c)) {
        if (f === old.curframe) slots.push(spi);
        else global = true;
      }
    }
  }
  if (regs !== 0 || slots.length !== 0 || global) env.taints.push({ insn: insnIdx, regs, slots, global });
}

/**
 * clean_verifier_state: a fully explored state forgets, once and for good, the registers no later
 * instruction reads (compute_live_registers) and the stack slots the live-stack analysis says no later
 * instruction of its call chain may read (bpf_stack_slot_alive) - so that states_equal skips them and
 * propagate_precision does not follow them. The analysis has seen every path below the state by now.
 */
function cleanVerifierState(env: VerifierEnv, sl: ExploredState): void {
  const st = sl.state;
  env.liveStack.queryInit(st);
  sl.cleaned = true;
  for (let fr = 0; fr <= st.curframe; fr++) {
    const f = st.frames[fr]!;
    const live = env.live[frameInsnIdx(st, fr)]!;
    for (let i = 0; i < BPF_REG_FP; i++) if ((live & (1 << i)) === 0) resetReg(f.regs[i]!);
    for (let spi = 0; spi < f.stack.length; spi++) {
      if (env.liveStack.slotAlive(fr, spi)) continue;
      const s = f.stack[spi]!;
      s.spilled = undefined;
      for (let j = 0; j < BPF_REG_SIZE; j++) s.bytes[j] = '?';
    }
  }
}

/**
 * clean_live_states: the fully explored states at this instruction with cur's call chain are cleaned
 * before cur is compared with them (each only the first time).
 */
function cleanLiveStates(env: VerifierEnv, list: readonly ExploredState[], cur: VerifierState): void {
  for (const sl of list) {
    if (sl.branches > 0 || sl.cleaned || sl.state.curframe !== cur.curframe) continue;
    let same = true;
    for (let i = 0; i <= cur.curframe && same; i++) same = sl.state.frames[i]!.callsite === cur.frames[i]!.callsite;
    if (same) cleanVerifierState(env, sl);
  }
}

function updatePeakStates(env: VerifierEnv): void {
  if (env.peakStates < env.liveStates) env.peakStates = env.liveStates;
}

/**
 * is_state_visited: prune the current path when its state is within one fully explored at this
 * instruction; refuse a loop that comes back to an in-progress state unchanged; otherwise keep the
 * state for later paths (not at every visit: the kernel's add_new_state heuristic), and evict stored
 * states that keep missing.
 */
function isStateVisited(env: VerifierEnv, idx: number): boolean {
  const cur = env.cur;
  const forceNewState = cur.jmp_history.length > 40;
  let addNewState = forceNewState || (env.jmpsProcessed - env.prevJmpsProcessed >= 2 && env.insnProcessed - env.prevInsnProcessed >= 8);
  let list = env.explored.get(idx);
  let statesCnt = 0;
  if (list !== undefined) {
    cleanLiveStates(env, list, cur);
    for (let i = 0; i < list.length; i++) {
      const sl = list[i]!;
      statesCnt++;
      if (sl.branches > 0) {
        if (statesMaybeLooping(sl.state, cur) && statesEqual(env, sl.state, cur, 'EXACT')) {
          logLineInfo(env, idx);
          env.log.write(`infinite loop detected at insn ${idx}\n`);
          env.log.write('cur state:');
          printFullState(env, curFrame(cur));
          env.log.write('old state:');
          printFullState(env, curFrame(sl.state));
          throw new BpfError('EINVAL', `infinite loop detected at insn ${idx}`);
        }
        // Inside a loop distinct iterations rarely prune each other: store states sparingly.
        if (!forceNewState && env.jmpsProcessed - env.prevJmpsProcessed < 20 && env.insnProcessed - env.prevInsnProcessed < 100) addNewState = false;
      } else if (statesEqual(env, sl.state, cur, 'NOT_EXACT')) {
        sl.hit++;
        // What was precise in the explored state must be precise on this path's parents too.
        if (env.jmpPoint[idx]) pushJmpHistory(env, cur, 0, undefined);
        propagatePrecision(env, sl.state, cur, (f) => env.live[frameInsnIdx(sl.state, f)]!);
        noteTaint(env, idx, sl.state, cur);
        return true;
      }
      // A miss counts only when a state will be added, so that loop iterations do not evict early ones.
      if (addNewState) sl.miss++;
      if (sl.miss > sl.hit * 3 + 3) {
        sl.evicted = true;
        list.splice(i--, 1);
        if (sl.branches === 0) env.liveStates--;
      }
    }
  }
  if (env.maxStatesPerInsn < statesCnt) env.maxStatesPerInsn = statesCnt;
  if (!addNewState) return false;
  // No equivalent state: remember this one. It will either reach an exit or be refused.
  env.totalStates++;
  env.liveStates++;
  updatePeakStates(env);
  env.prevJmpsProcessed = env.jmpsProcessed;
  env.prevInsnProcessed = env.insnProcessed;
  // The new checkpoint starts without the precision marks its ancestors had.
  markAllScalarsImprecise(cur);
  const copy = copyState(cur);
  copy.insn_idx = idx;
  const sl: ExploredState = { state: copy, branches: 1, hit: 0, miss: 0, evicted: false, cleaned: false };
  cur.parent = sl;
  cur.first_insn_idx = idx;
  cur.jmp_history = [];
  if (list === undefined) {
    list = [];
    env.explored.set(idx, list);
  }
  list.unshift(sl);
  return false;
}

/** update_branch_counts: a path ended; explored states with nothing left below them become complete. */
function updateBranchCounts(env: VerifierEnv, sl: ExploredState | undefined): void {
  for (; sl !== undefined; sl = sl.state.parent) {
    if (--sl.branches > 0) break;
    // An evicted state no path needs any more is freed.
    if (sl.evicted) env.liveStates--;
  }
}

/** pop_stack: the next branch to explore; at log level 1 the finished path's lines are dropped. */
function popStack(env: VerifierEnv): boolean {
  const next = env.stack.pop();
  if (next === undefined) return false;
  if (!env.log.verbose) env.log.truncate(next.logPos);
  env.cur = next;
  return true;
}

// ---------------------------------------------------------------------------------------------------
// do_check


/**
 * do_check_common: one walk from a subprogram's first instruction - the main program with the context
 * in r1, or a global function with r1-r5 as its prototype describes them. Explored states are the
 * walk's own.
 */
export function doCheck(env: VerifierEnv, subprog = 0): void {
  const start = env.subprogs[subprog]!;
  const state: VerifierState = {
    frames: [newFuncState(0, -1, subprog)], curframe: 0, parent: undefined, insn_idx: start, prev_insn_idx: -1,
    first_insn_idx: start, last_insn_idx: -1, jmp_history: [], logPos: 0,
  };
  const regs0 = state.frames[0]!.regs;
  markPtr(regs0[BPF_REG_FP]!, 'fp');
  env.cur = state;
  env.prevLineText = undefined;
  // free_states(): the last walk's explored states go, but peak_states keeps counting them.
  env.explored.clear();
  if (subprog === 0) {
    markPtr(regs0[1]!, 'ctx');
    env.opts.offload?.prepare?.(env);
  } else {
    const info = env.subprogInfo[subprog]!;
    if (env.log.traced) env.log.write(`Validating ${info.btf.name}() func#${subprog}...\n`);
    const bad = prepareArgs(env, subprog);
    if (bad !== undefined) throw new BpfError(bad, `global function ${info.btf.name}(): its BTF prototype is not supported`);
    const args = info.args!;
    for (let i = 0; i < args.length; i++) {
      const arg = args[i]!;
      const r = regs0[i + 1]!;
      if (arg.type === 'ARG_PTR_TO_CTX') markPtr(r, 'ctx');
      else if (arg.type === 'ARG_ANYTHING') markRegUnknown(r);
      else {
        markPtr(r, 'mem');
        r.range = arg.memSize;
        r.maybeNull = arg.maybeNull;
        if (arg.maybeNull) r.id = env.newId();
      }
    }
  }
  markStateScratched(env);
  const log = env.log;
  let prevInsnIdx = -1;
  let doPrintState = false;

  for (;;) {
    const st = env.cur;
    env.curHistEnt = undefined;
    env.prevInsnIdx = prevInsnIdx;
    const idx = st.insn_idx;
    if (idx < 0 || idx >= env.insns.length) env.reject('EFAULT', `invalid insn idx ${idx} insn_cnt ${env.insns.length}`);
    if (++env.insnProcessed > BPF_COMPLEXITY_LIMIT_INSNS) {
      env.reject('E2BIG', `BPF program is too large. Processed ${env.insnProcessed} insn`);
    }
    st.last_insn_idx = prevInsnIdx;
    let pathDone = false;
    if (env.prunePoint[idx] && isStateVisited(env, idx)) {
      if (log.traced) {
        if (doPrintState) log.write(`\nfrom ${prevInsnIdx} to ${idx}: safe\n`);
        else log.write(`${idx}: safe\n`);
      }
      pathDone = true;
    } else {
      if (env.jmpPoint[idx]) pushJmpHistory(env, st, 0, undefined);
      if (log.verbose && doPrintState) {
        log.write(`\nfrom ${prevInsnIdx} to ${idx}:`);
        printFullState(env, curFrame(st));
        doPrintState = false;
      }
      if (log.traced) {
        if (stateScratched(env)) printInsnState(env);
        logLineInfo(env, idx);
        env.prevLogPos = log.position;
        // The newline on its own, so that print_insn_state can take it back cheaply.
        log.write(env.insnLine(idx));
        log.write('\n');
        env.prevInsnPrintPos = log.position - env.prevLogPos;
        env.prevLogPos = log.position;
      }
      const a = env.aux[idx]!;
      a.seen = true;
      recordRegFacts(a, curFrame(st).regs);
      env.opts.offload?.insn_hook(env, idx, prevInsnIdx);
      prevInsnIdx = idx;
      const op = env.ops[idx];
      const x = env.insns[idx]!;
      if (op === undefined) env.reject('EINVAL', `invalid BPF instruction at ${idx}`);
      env.liveStack.resetWriteMarks(st, idx);
      switch (op.kind) {
        case 'alu':
          checkAlu(env, idx, op, x);
          break;
        case 'end': {
          checkRegArg(env, x.dst, 'SRC_OP');
          const r = env.regs()[x.dst]!;
          if (r.type === 'scalar') {
            checkRegArg(env, x.dst, 'DST_OP_NO_MARK');
            adjust_scalar_min_max_vals(r, r, x);
          } else {
            // Root may byte-swap a pointer: a number.
            checkRegArg(env, x.dst, 'DST_OP');
          }
          r.subreg_def = op.alu64 || op.bits === 64 ? -1 : idx + 1;
          sanityCheck(r);
          break;
        }
        case 'ldx': {
          checkRegArg(env, x.src, 'SRC_OP');
          checkRegArg(env, x.dst, 'DST_OP_NO_MARK');
          const base = copyReg(env.regs()[x.src]!);
          checkMemAccess(env, idx, x.src, x.off, op.size, false, x.dst, false, op.signed);
          // save_aux_ptr_type: after the access, with the base as it was.
          recordPtrType(env, idx, base);
          const d = env.regs()[x.dst]!;
          d.subreg_def = op.size < 8 && d.type === 'scalar' ? idx + 1 : -1;
          sanityCheck(d);
          break;
        }
        case 'stx':
          checkRegArg(env, x.src, 'SRC_OP');
          checkRegArg(env, x.dst, 'SRC_OP');
          checkMemAccess(env, idx, x.dst, x.off, op.size, true, x.src, false, false);
          recordPtrType(env, idx, env.regs()[x.dst]!);
          break;
        case 'st':
          checkRegArg(env, x.dst, 'SRC_OP');
          checkMemAccess(env, idx, x.dst, x.off, op.size, true, -1, false, false, true, x.imm);
          recordPtrType(env, idx, env.regs()[x.dst]!);
          break;
        case 'atomic':
          checkAtomic(env, idx, op, x);
          break;
        case 'lddw':
          checkLdImm(env, idx, x);
          st.insn_idx++;
          break;
        case 'ldabs':
          checkLdAbs(env, op, x);
          break;
        case 'ja':
          env.jmpsProcessed++;
          st.insn_idx = idx + (op.long ? x.imm : x.off);
          break;
        case 'jcond':
          env.jmpsProcessed++;
          checkCondJmpOp(env, idx, op, x);
          break;
        case 'call':
          env.jmpsProcessed++;
          if (op.target === 'local') checkFuncCall(env, idx, x);
          else if (op.target === 'kfunc') env.reject('EINVAL', `kernel btf_id ${x.imm} is not a function`);
          else checkHelperCall(env, idx, x);
          env.scratchedRegs |= 1;
          break;
        case 'callx':
          env.jmpsProcessed++;
          env.reject('EINVAL', 'unknown opcode 8d');
          break;
        case 'exit':
          env.jmpsProcessed++;
          if (st.curframe > 0) {
            prepareFuncExit(env);
            doPrintState = true;
            st.insn_idx--;
            break;
          }
          checkReturnCode(env);
          pathDone = true;
          break;
      }
      env.liveStack.commitWriteMarks();
      if (op.kind === 'alu' || op.kind === 'end') {
        const c = regClass(env.regs()[x.dst]!);
        const after = c === 'pkt' ? 'ptr' : c;
        a.dstAfter = a.dstAfter === undefined || a.dstAfter === after ? after : 'other';
      }
    }
    if (pathDone) {
      markStateScratched(env);
      updateBranchCounts(env, env.cur.parent);
      env.liveStack.update(env.cur);
      if (!popStack(env)) {
        // do_check_common: an accepted program's level-1 log keeps none of the walk.
        if (!log.verbose) log.truncate(0);
        return;
      }
      prevInsnIdx = env.cur.prev_insn_idx;
      doPrintState = true;
      continue;
    }
    env.cur.insn_idx++;
  }
}

// ---------------------------------------------------------------------------------------------------
// Facts for the JITs after pruning

/**
 * A pruned path is only within the explored state for what the kernel compares: imprecise scalars may
 * hold other values than the explored path recorded as facts (hi0 and the rest) for the instructions
 * after the prune point. Follow those registers (and spilled slots) forward through the function and
 * clear the facts that depended on them; anything crossing a call or a frame clears all facts.
 */
function jitFactTaint(env: VerifierEnv): void {
  if (env.taints.length === 0) return;
  const n = env.insns.length;
  const clearAll = (): void => {
    for (const a of env.aux) {
      a.hi0 = 0; a.pkt = 0; a.ptr = 0;
      if (a.dstAfter !== undefined) a.dstAfter = 'other';
    }
  };
  if (env.taints.some((t) => t.global)) {
    clearAll();
    return;
  }
  // Per instruction: tainted registers and stack slots (64 slots as two 32-bit words) before it.
  const regIn = new Uint16Array(n);
  const slotLo = new Int32Array(n), slotHi = new Int32Array(n);
  const work: number[] = [];
  const add = (i: number, regs: number, lo: number, hi: number): void => {
    if (i < 0 || i >= n) return;
    const r = regIn[i]! | regs, l = slotLo[i]! | lo, h = slotHi[i]! | hi;
    if (r === regIn[i] && l === slotLo[i] && h === slotHi[i]) return;
    regIn[i] = r; slotLo[i] = l; slotHi[i] = h;
    work.push(i);
  };
  for (const t of env.taints) {
    let lo = 0, hi = 0;
    for (const s of t.slots) if (s < 32) lo |= 1 << s; else hi |= 1 << (s - 32);
    add(t.insn, t.regs, lo, hi);
  }
  let escaped = false;
  while (work.length > 0 && !escaped) {
    const i = work.pop()!;
    const op = env.ops[i];
    if (op === undefined) continue;
    const x = env.insns[i]!;
    const a = env.aux[i]!;
    let regs = regIn[i]!, lo = slotLo[i]!, hi = slotHi[i]!;
    a.hi0 &= ~regs; a.pkt &= ~regs; a.ptr &= ~regs;
    const R = (r: number): number => 1 << r;
    const slotBit = (off: number): [number, number] => {
      const spi = Math.floor((-off - 1) / 8);
      return spi < 32 ? [1 << spi, 0] : [0, 1 << (spi - 32)];
    };
    let next: number[] = [];
    switch (op.kind) {
      case 'alu': {
        const isMov = op.op === 'mov' || op.op.startsWith('movsx');
        const srcT = op.srcReg && (regs & R(x.src)) !== 0;
        const dstT = isMov ? srcT : srcT || (regs & R(x.dst)) !== 0;
        regs = dstT ? regs | R(x.dst) : regs & ~R(x.dst);
        if (dstT) a.dstAfter = 'other';
        break;
      }
      case 'end':
        if ((regs & R(x.dst)) !== 0) a.dstAfter = 'other';
        break;
      case 'ldx': {
        let t = false;
        if (a.ptrType === 'fp') {
          if (a.frameno !== undefined && a.frameno !== -1 && a.stackOff !== undefined && !a.stackOffMixed) {
            const [bl, bh] = slotBit(a.stackOff);
            t = (lo & bl) !== 0 || (hi & bh) !== 0;
          } else t = lo !== 0 || hi !== 0;
        }
        regs = t ? regs | R(x.dst) : regs & ~R(x.dst);
        break;
      }
      case 'stx':
      case 'st': {
        if (a.ptrType !== 'fp' || a.ptrTypeMixed) break;
        const srcT = op.kind === 'stx' && (regs & R(x.src)) !== 0;
        if (a.stackOff !== undefined && !a.stackOffMixed) {
          const [bl, bh] = slotBit(a.stackOff);
          if (srcT) { lo |= bl; hi |= bh; } else if (op.size === 8 && a.stackOff % 8 === 0) { lo &= ~bl; hi &= ~bh; }
        } else if (srcT) {
          lo = -1; hi = -1;
        }
        break;
      }
      case 'atomic':
        if (regs !== 0 || lo !== 0 || hi !== 0) {
          if (op.op.startsWith('fetch_') || op.op === 'xchg') regs |= R(x.src);
          if (op.op === 'cmpxchg') regs |= R(0);
        }
        break;
      case 'lddw':
        regs &= ~R(x.dst);
        break;
      case 'ldabs':
        regs &= ~0x3f;
        break;
      case 'call':
      case 'callx':
        if (op.kind === 'call' && op.target === 'helper') {
          regs &= ~0x3f;
          break;
        }
        if (regs !== 0 || lo !== 0 || hi !== 0) escaped = true;
        break;
      case 'exit':
        if (env.subprogOf(i) !== 0 && (regs & 1) !== 0) escaped = true;
        break;
      default:
        break;
    }
    if (escaped) break;
    if (op.kind === 'exit') next = [];
    else if (op.kind === 'ja') next = [i + (op.long ? x.imm : x.off) + 1];
    else if (op.kind === 'jcond') next = [i + 1, i + x.off + 1];
    else next = [op.kind === 'lddw' ? i + 2 : i + 1];
    for (const s of next) add(s, regs, lo, hi);
  }
  if (escaped) clearAll();
}

// ---------------------------------------------------------------------------------------------------
// bpf_check

export interface VerifierResult {
  readonly env: VerifierEnv;
  /** processed N insns (limit 1000000) ... */
  readonly statsLine: string;
}

export function bpfCheck(opts: VerifierOptions): VerifierResult {
  let env: VerifierEnv | undefined;
  const stats = (): string =>
    `processed ${env?.insnProcessed ?? 0} insns (limit ${BPF_COMPLEXITY_LIMIT_INSNS}) max_states_per_insn ${env?.maxStatesPerInsn ?? 0} total_states ${env?.totalStates ?? 0} peak_states ${env?.peakStates ?? 0} mark_read 0`;
  try {
    verifyStructure(opts.insns, opts.log);
    env = new VerifierEnv(opts);
    if (opts.log.verbose) logLiveRegs(env);
    doCheck(env);
    doCheckSubprogs(env);
    checkMaxStackDepth(env);
    jitFactTaint(env);
    computeZextDst(env.insns, env.ops, env.subprogs).forEach((z, i) => { env!.aux[i]!.zext_dst = z; });
    opts.offload?.finalize?.(env);
  } catch (e) {
    opts.log.write(`${stats()}\n`);
    // bpf_vlog_finalize(): a log that overflowed fails the load with ENOSPC, whatever the verdict.
    opts.log.finalize();
    throw e;
  }
  const statsLine = stats();
  opts.log.write(`${statsLine}\n`);
  opts.log.finalize();
  return { env, statsLine };
}

/**
 * do_check_subprogs: each global function a verified path called, once, after the main program; one
 * may call others, so repeat until no new one is found.
 */
function doCheckSubprogs(env: VerifierEnv): void {
  for (let again = true; again;) {
    again = false;
    for (let i = 1; i < env.subprogs.length; i++) {
      const info = env.subprogInfo[i]!;
      if (!subprogIsGlobal(env, i) || !info.called || info.verified) continue;
      doCheck(env, i);
      if (env.log.traced) env.log.write(`Func#${i} ('${info.btf.name}') is safe for any args that match its prototype\n`);
      info.verified = true;
      again = true;
    }
  }
}

/** compute_live_registers' level-2 table: the loop (SCC) of each instruction and its live registers. */
function logLiveRegs(env: VerifierEnv): void {
  const scc = computeScc(env.insns, env.ops);
  env.log.write('Live regs before insn:\n');
  for (let i = 0; i < env.insns.length; i++) {
    let regs = '';
    for (let j = 0; j < BPF_REG_FP; j++) regs += (env.live[i]! & (1 << j)) !== 0 ? String(j) : '.';
    const loop = scc[i] !== 0 ? `${String(scc[i]).padStart(3)} ` : '    ';
    env.log.write(`${loop}${String(i).padStart(3)}: ${regs} ${env.insnDisasm(i)}\n`);
    if (env.ops[i]?.kind === 'lddw') i++;
  }
}

/** round_up_stack_depth: the JIT's granularity (16 bytes) for each frame of a chain. */
const roundUpStackDepth = (d: number): number => Math.ceil(d / 16) * 16;

/**
 * check_max_stack_depth: along every chain of bpf-to-bpf calls (from the code, not only the paths
 * walked), the frames together within MAX_BPF_STACK.
 */
function checkMaxStackDepth(env: VerifierEnv): void {
  const subprogs = env.subprogs;
  const calls: number[][] = subprogs.map(() => []);
  for (let i = 0; i < env.insns.length; i++) {
    const op = env.ops[i];
    const isCall = (op?.kind === 'call' && op.target === 'local') || (op?.kind === 'lddw' && op.pseudo === 4);
    if (!isCall) continue;
    calls[env.subprogOf(i)]!.push(subprogs.indexOf(i + env.insns[i]!.imm + 1));
  }
  const visit = (idx: number, depth: number, frame: number): void => {
    depth += roundUpStackDepth(env.stackDepth[idx]!);
    if (depth > MAX_BPF_STACK) env.reject('EACCES', `combined stack size of ${frame + 1} calls is ${depth}. Too large`);
    for (const callee of calls[idx]!) {
      if (callee < 0) continue;
      if (frame + 1 >= MAX_CALL_FRAMES) env.reject('E2BIG', `the call stack of ${frame + 1} frames is too deep !`);
      visit(callee, depth, frame + 1);
    }
  };
  visit(0, 0, 0);
}
