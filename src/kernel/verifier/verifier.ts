// The BPF verifier (kernel/bpf/verifier.c), in the same shape:
//
//   bpf_check()         structural passes (cfg.ts), then do_check(), then the rewrites (fixup.ts)
//   do_check()          walks every path of the program with an abstract state per path: each register
//                       has a type (scalar, ctx, packet, stack, map value...) and, for scalars and
//                       variable offsets, a tnum plus signed/unsigned 32/64-bit bounds (bounds.ts); each
//                       8-byte stack slot remembers what was stored in it. A conditional jump forks the
//                       state (push_stack) unless the outcome is known; a state that is within one
//                       already proven safe at the same instruction is pruned (is_state_visited).
//   check_*()           one per instruction class, refusing with the kernel's log line and errno
//
// What the walk proves is recorded per instruction (InsnAux, the kernel's bpf_insn_aux_data) for the
// JITs — the pointer type an access uses, the map of a lookup, whether a 32-bit result's upper half may
// be read — and a device's hook (an offload driver) sees every instruction on every path.

import { BpfError, type ErrnoName } from '../../bpf/errno.js';
import { formatInsn } from '../../bpf/disasm.js';
import { helperName } from '../../bpf/helpers.js';
import type { Insn } from '../../bpf/insn.js';
import { BPF_PROG_TYPE } from '../../bpf/prog-types.js';
import {
  BPF_PSEUDO_MAP_VALUE, findOp, type AluOp, type JmpCond, type OpInfo,
} from '../../bpf/opcodes.js';
import { func_proto } from '../helpers/index.js';
import type { BpfArg, BpfFuncProto } from '../helpers/proto.js';
import type { BpfMap } from '../maps/map.js';
import { BPF_F_RDONLY_PROG, BPF_F_WRONLY_PROG, BPF_MAP_TYPE_PROG_ARRAY } from '../maps/map.js';
import { XDP_MD, XDP_MD_SIZE } from '../net/xdp.js';
import { findSubprogs, verifyStructure } from './cfg.js';
import { computeLiveness, computePrecisionDemand, computeZextDst } from './liveness.js';
import type { VerifierLog } from './log.js';
import * as S from './scalar-adapter.js';
import {
  BPF_REG_FP, MAX_BPF_STACK, MAX_CALL_FRAMES, copyReg, copyState, curFrame, isPktPointer, isPointer,
  newFuncState, notInitReg, resetReg, type ExploredState, type FuncState, type RegState, type RegType, type StackSlot,
  type VerifierState,
} from './state.js';

/** BPF_COMPLEXITY_LIMIT_INSNS and the jump-history/state limits of the kernel. */
export const BPF_COMPLEXITY_LIMIT_INSNS = 1_000_000;
export const BPF_COMPLEXITY_LIMIT_JMP_SEQ = 8192;

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
  /** Context loads: the xdp_md field (for convert_ctx_accesses). */
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
  regs.forEach((r, i) => {
    const c = regClass(r);
    if (c === 'hi0') hi0 |= 1 << i;
    else if (c === 'pkt') { pkt |= 1 << i; ptr |= 1 << i; } else if (c === 'ptr') ptr |= 1 << i;
  });
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
  /** An offloaded program: the device's hook runs on every instruction. */
  offload?: BpfOffloadOps;
  /** The program is bound to a device (prog_ifindex); XDP ctx rx_queue_index becomes writable. */
  offloaded?: boolean;
  /** Line info for the log: instruction -> "source text @ file:line". */
  lineText?: (insnIdx: number) => string | undefined;
}

export class VerifierEnv {
  readonly insns: readonly Insn[];
  readonly ops: readonly (OpInfo | undefined)[];
  readonly aux: InsnAux[];
  readonly subprogs: readonly number[];
  cur!: VerifierState;
  /** Instructions processed (the "processed N insns" of the stats line). */
  insnProcessed = 0;
  totalStates = 0;
  peakStates = 0;
  maxStatesPerInsn = 0;
  private idGen = 0;
  /** Branch states waiting to be explored (env->head). */
  readonly stack: VerifierState[] = [];
  /** States stored at prune points, by instruction (env->explored_states). */
  readonly explored = new Map<number, ExploredState[]>();
  /** Deepest stack use per subprogram (for the combined stack size check). */
  readonly stackDepth: number[];
  /** Where the last instruction line ended, and its length (print_insn_state's alignment). */
  prevLogPos = 0;
  prevInsnPrintPos = 0;
  /** Jumps and instructions processed when the last state was stored (the add_new_state heuristic). */
  jmpsProcessed = 0;
  prevJmpsProcessed = 0;
  prevInsnProcessed = 0;
  /** Registers (0-10) and stack slots (100 + slot) the current instruction touched, for the log. */
  scratched = new Set<number>();
  /** Registers live before each instruction (liveness.ts), so pruning ignores dead ones. */
  readonly live: Uint16Array;
  /** Registers whose exact value may still matter for safety (liveness.ts: the precision marks). */
  readonly precise: Uint16Array;
  /** Where the walk compares states (jump targets, fall-throughs of conditionals, returns from calls). */
  readonly prunePoints = new Set<number>();

  constructor(readonly opts: VerifierOptions) {
    this.insns = opts.insns;
    this.ops = opts.insns.map((x) => findOp(x.code, x.src, x.off, x.imm));
    for (let i = 0; i < this.ops.length; i++) if (this.ops[i]?.kind === 'lddw') (this.ops as (OpInfo | undefined)[])[++i] = undefined;
    this.aux = opts.insns.map(() => ({
      seen: false, ptrType: undefined, ptrTypeMixed: false, map: undefined, mapMixed: false, memMap: undefined, memMapMixed: false, frameno: undefined, ctxField: undefined,
      zext_dst: false, stackOff: undefined, stackOffMixed: false, branch: undefined,
      hi0: 0x7ff, pkt: 0x7ff, ptr: 0x7ff, dstAfter: undefined,
    }));
    this.subprogs = findSubprogs(opts.insns, this.ops, opts.log);
    this.stackDepth = this.subprogs.map(() => 0);
    this.live = computeLiveness(this.insns, this.ops, this.subprogs);
    this.precise = computePrecisionDemand(this.insns, this.ops, this.subprogs);
    this.insns.forEach((x, i) => {
      const op = this.ops[i];
      if (op?.kind === 'ja') this.prunePoints.add(i + (op.long ? x.imm : x.off) + 1);
      if (op?.kind === 'jcond') {
        this.prunePoints.add(i + x.off + 1);
        this.prunePoints.add(i + 1);
      }
      if (op?.kind === 'call' && op.target === 'local') this.prunePoints.add(i + 1);
    });
  }

  get log(): VerifierLog {
    return this.opts.log;
  }

  newId(): number {
    return ++this.idGen;
  }

  /** verbose(): the log line and the load's failure in one. */
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
}

// ---------------------------------------------------------------------------------------------------
// Register helpers (mark_reg_*)

function markUnknown(r: RegState): void {
  const keep = r.subreg_def;
  resetReg(r);
  r.type = 'scalar';
  r.subreg_def = keep;
  S.markUnknown(r);
}

function markKnown(r: RegState, v: bigint): void {
  resetReg(r);
  r.type = 'scalar';
  S.markKnown(r, v);
}

function markPtr(r: RegState, type: RegType, extra?: Partial<RegState>): void {
  resetReg(r);
  r.type = type;
  if (extra !== undefined) Object.assign(r, extra);
  S.markKnown(r, 0n);
}

const REG_NAME = (n: number): string => `R${n}`;

function checkRegRead(env: VerifierEnv, regno: number): RegState {
  const r = env.regs()[regno]!;
  if (r.type === 'not_init') env.reject('EACCES', `${REG_NAME(regno)} !read_ok`);
  return r;
}

function checkRegWrite(env: VerifierEnv, regno: number): RegState {
  if (regno === BPF_REG_FP) env.reject('EACCES', 'frame pointer is read only');
  return env.regs()[regno]!;
}

// ---------------------------------------------------------------------------------------------------
// The log's view of state (print_verifier_state)

export function formatReg(r: RegState): string {
  switch (r.type) {
    case 'not_init': return '?';
    case 'scalar': return S.formatScalar(r);
    case 'fp': return `fp${r.off === 0 && S.isConst(r) ? '0' : r.off}`;
    default: {
      const parts: string[] = [];
      if (r.id !== 0) parts.push(`id=${r.id}`);
      if (r.off !== 0) parts.push(`off=${r.off}`);
      if (r.type === 'pkt' || r.type === 'pkt_meta') parts.push(`r=${r.range}`);
      if (!S.isConst(r)) parts.push(S.formatVarOff(r));
      if (r.map !== undefined) parts.push(`map=${r.map.name}`, `ks=${r.map.key_size}`, `vs=${r.map.value_size}`);
      return `${r.type}${r.maybeNull ? '_or_null' : ''}(${parts.join(',')})`;
    }
  }
}

function formatState(f: FuncState, only?: ReadonlySet<number>): string {
  const parts: string[] = [];
  f.regs.forEach((r, i) => {
    if (r.type === 'not_init' || (only !== undefined && !only.has(i))) return;
    parts.push(`R${i}=${formatReg(r)}`);
  });
  f.stack.forEach((s, i) => {
    if (only !== undefined && !only.has(100 + i)) return;
    if (s.bytes.every((b) => b === '?')) return;
    const name = `fp${-(i + 1) * 8}`;
    if (s.spilled !== undefined && s.bytes.every((b) => b === 'r')) parts.push(`${name}=${formatReg(s.spilled)}`);
    else parts.push(`${name}=${[...s.bytes].reverse().join('')}`);
  });
  return parts.join(' ');
}

// ---------------------------------------------------------------------------------------------------
// Stack (check_stack_write / check_stack_read)

function slotOf(f: FuncState, off: number): StackSlot {
  const i = Math.floor((-off - 1) / 8);
  while (f.stack.length <= i) f.stack.push({ bytes: Array(8).fill('?'), spilled: undefined });
  return f.stack[i]!;
}

function stackFrame(env: VerifierEnv, ptr: RegState): FuncState {
  return env.cur.frames[ptr.frameno]!;
}

function checkStackBounds(env: VerifierEnv, regno: number, off: number, size: number, write: boolean): void {
  if (off >= 0 || off < -MAX_BPF_STACK || off + size > 0) {
    env.reject('EACCES', `invalid ${write ? 'write to' : 'read from'} stack R${regno} off=${off} size=${size}`);
  }
}

function stackWrite(env: VerifierEnv, ptr: RegState, regno: number, off: number, size: number, value: RegState | undefined, isImm: bigint | undefined): void {
  checkStackBounds(env, regno, off, size, true);
  const f = stackFrame(env, ptr);
  f.allocated = Math.max(f.allocated, -off);
  const slot = slotOf(f, off);
  const first = (off % 8 + 8) % 8;
  if (size === 8 && first === 0 && value !== undefined && (isPointer(value) || value.type === 'scalar')) {
    // save_register_state(): a full-width spill keeps everything the register knew.
    slot.spilled = copyReg(value);
    slot.bytes.fill('r');
    return;
  }
  if (size === 8 && first === 0 && isImm !== undefined) {
    const r = notInitReg();
    markKnown(r, isImm);
    slot.spilled = r;
    slot.bytes.fill('r');
    return;
  }
  if (value !== undefined && isPointer(value)) env.reject('EACCES', `invalid size of register spill`);
  // A partial write: the spilled register (if any) is gone; the written bytes are misc (or zero).
  const zero = isImm === 0n || (value !== undefined && S.isConst(value) && S.constValue(value) === 0n);
  if (slot.spilled !== undefined) {
    slot.bytes = slot.bytes.map((b) => (b === 'r' ? 'm' : b));
    slot.spilled = undefined;
  }
  for (let b = first; b < first + size; b++) slot.bytes[b] = zero ? '0' : 'm';
}

function stackRead(env: VerifierEnv, ptr: RegState, regno: number, off: number, size: number, dst: RegState | undefined): void {
  checkStackBounds(env, regno, off, size, false);
  const f = stackFrame(env, ptr);
  const slot = slotOf(f, off);
  const first = (off % 8 + 8) % 8;
  if (slot.spilled !== undefined && slot.bytes.every((b) => b === 'r')) {
    if (size === 8 && first === 0) {
      if (dst !== undefined) Object.assign(dst, copyReg(slot.spilled));
      return;
    }
    if (isPointer(slot.spilled)) env.reject('EACCES', `invalid size of register fill`);
    if (dst !== undefined) markUnknown(dst);
    return;
  }
  let allZero = true;
  for (let b = first; b < first + size; b++) {
    const t = slot.bytes[b]!;
    // Root may read stack it never wrote (env->allow_uninit_stack): an unknown scalar.
    if (t !== '0') allZero = false;
  }
  if (dst !== undefined) {
    if (allZero) markKnown(dst, 0n);
    else markUnknown(dst);
  }
}

// ---------------------------------------------------------------------------------------------------
// Memory access (check_mem_access)

/** The constant total offset of a pointer + insn offset, or undefined if the pointer's offset varies. */
function constOff(r: RegState, off: number): number | undefined {
  return S.isConst(r) ? r.off + off + Number(BigInt.asIntN(64, S.constValue(r))) : undefined;
}

function recordPtrType(env: VerifierEnv, idx: number, ptr: RegState): void {
  const a = env.aux[idx]!;
  if (a.ptrType === undefined) a.ptrType = ptr.type;
  else if (a.ptrType !== ptr.type) a.ptrTypeMixed = true;
  if (ptr.type === 'map_value') {
    if (a.memMap === undefined) a.memMap = ptr.map;
    else if (a.memMap !== ptr.map) a.memMapMixed = true;
  }
  if (a.frameno === undefined) a.frameno = ptr.frameno;
  else if (a.frameno !== ptr.frameno) a.frameno = -1;
}

function checkMemAccess(env: VerifierEnv, idx: number, regno: number, off: number, size: number, write: boolean, valueRegno: number | undefined, dstRegno: number | undefined, imm: bigint | undefined, signed: boolean): void {
  const regs = env.regs();
  const ptr = regs[regno]!;
  recordPtrType(env, idx, ptr);
  const dst = dstRegno === undefined ? undefined : regs[dstRegno]!;
  const value = valueRegno === undefined ? undefined : regs[valueRegno]!;
  if (ptr.maybeNull) env.reject('EACCES', `R${regno} invalid mem access '${ptr.type}_or_null'`);
  switch (ptr.type) {
    case 'fp': {
      const o = constOff(ptr, off);
      if (o === undefined) env.reject('EACCES', `R${regno} variable stack access prohibited for !root`);
      const a = env.aux[idx]!;
      if (a.stackOff === undefined) a.stackOff = o;
      else if (a.stackOff !== o) a.stackOffMixed = true;
      if (write) stackWrite(env, ptr, regno, o, size, value, imm);
      else stackRead(env, ptr, regno, o, size, dst);
      break;
    }
    case 'ctx':
      checkCtxAccess(env, idx, regno, ptr, off, size, write, dst);
      break;
    case 'pkt':
    case 'pkt_meta': {
      if (write && value !== undefined && isPointer(value)) env.reject('EACCES', `R${valueRegno} leaks addr into packet`);
      checkPacketAccess(env, regno, ptr, off, size);
      if (dst !== undefined) markUnknown(dst);
      break;
    }
    case 'map_value': {
      const map = ptr.map!;
      if (write && (map.map_flags & BPF_F_RDONLY_PROG) !== 0) env.reject('EACCES', `write into map forbidden, value_size=${map.value_size} off=${off} size=${size}`);
      if (!write && (map.map_flags & BPF_F_WRONLY_PROG) !== 0) env.reject('EACCES', `read from map forbidden, value_size=${map.value_size} off=${off} size=${size}`);
      checkBoundedAccess(env, regno, ptr, off, size, map.value_size, 'map value');
      if (write && value !== undefined && isPointer(value)) env.reject('EACCES', `R${valueRegno} leaks addr into map`);
      if (dst !== undefined) markUnknown(dst);
      break;
    }
    case 'map_key': {
      const map = ptr.map!;
      if (write) env.reject('EACCES', `write to change key R${regno} not allowed`);
      checkBoundedAccess(env, regno, ptr, off, size, map.key_size, 'map key');
      if (dst !== undefined) markUnknown(dst);
      break;
    }
    default:
      env.reject('EACCES', `R${regno} invalid mem access '${ptr.type}'`);
  }
  if (dst !== undefined && dst.type === 'scalar' && !(ptr.type === 'fp' && dst.type !== 'scalar')) {
    // A load of fewer than 8 bytes zero-extends (or sign-extends for LDX|MEMSX).
    if (size < 8 && !(ptr.type === 'ctx')) S.coerce(dst, size, signed);
  }
}

/** check_map_access / check_mem_region_access: [off + reg range, + size) inside [0, limit). */
function checkBoundedAccess(env: VerifierEnv, regno: number, ptr: RegState, off: number, size: number, limit: number, what: string): void {
  const smin = BigInt(ptr.off + off) + ptr.smin_value;
  if (ptr.smin_value < 0n && !S.isConst(ptr)) {
    env.reject('EACCES', `R${regno} min value is negative, either use unsigned index or do a if (index >=0) check.`);
  }
  const umax = ptr.umax_value;
  if (umax >= 1n << 29n) env.reject('EACCES', `R${regno} unbounded memory access, make sure to bounds check any such access`);
  const lo = smin;
  const hi = BigInt(ptr.off + off) + umax + BigInt(size);
  if (lo < 0n || hi > BigInt(limit)) {
    const shownOff = S.isConst(ptr) ? ptr.off + off + Number(S.constValue(ptr)) : ptr.off + off;
    if (what === 'map value') env.reject('EACCES', `invalid access to map value, value_size=${limit} off=${shownOff} size=${size}`);
    env.reject('EACCES', `invalid access to ${what}, ${what === 'map key' ? 'key_size' : 'mem_size'}=${limit} off=${shownOff} size=${size}`);
  }
}

/** check_packet_access: within the range learnt from comparisons with data_end. */
function checkPacketAccess(env: VerifierEnv, regno: number, ptr: RegState, off: number, size: number): void {
  if (ptr.smin_value < 0n) {
    env.reject('EACCES', `R${regno} min value is negative, either use unsigned index or do a if (index >=0) check.`);
  }
  // The range was learnt for this pointer, variable part included: only the fixed offset counts.
  const total = ptr.off + off;
  if (total < 0 || total + size > ptr.range) {
    // __check_mem_access prints the access offset twice (the second where the register's would read better).
    env.log.write(`invalid access to packet, off=${total} size=${size}, R${regno}(id=${ptr.id},off=${total},r=${ptr.range})\n`);
    env.reject('EACCES', `R${regno} offset is outside of the packet`);
  }
}

/** xdp_is_valid_access + the ctx-load result types (check_ctx_access). */
function checkCtxAccess(env: VerifierEnv, idx: number, regno: number, ptr: RegState, off: number, size: number, write: boolean, dst: RegState | undefined): void {
  if (!S.isConst(ptr) || ptr.off !== 0) {
    env.reject('EACCES', `dereference of modified ctx ptr R${regno} off=${ptr.off} disallowed`);
  }
  const o = off;
  const bad = (): never => env.reject('EACCES', `invalid bpf_context access off=${o} size=${size}`);
  if (env.opts.progType !== BPF_PROG_TYPE.XDP) bad();
  if (o < 0 || o + size > XDP_MD_SIZE || o % size !== 0) bad();
  if (write) {
    if (!(env.opts.offloaded === true && o === XDP_MD.rx_queue_index && size === 4)) bad();
    env.aux[idx]!.ctxField = o;
    return;
  }
  if (size !== 4) bad();
  if (o === XDP_MD.egress_ifindex && env.opts.expectedAttachType !== 46 /* BPF_XDP_DEVMAP */) bad();
  env.aux[idx]!.ctxField = o;
  if (dst === undefined) return;
  if (o === XDP_MD.data) markPtr(dst, 'pkt', { id: 0, range: 0 });
  else if (o === XDP_MD.data_meta) markPtr(dst, 'pkt_meta', { id: 0, range: 0 });
  else if (o === XDP_MD.data_end) markPtr(dst, 'pkt_end');
  else {
    markUnknown(dst);
    S.coerce(dst, 4, false);
  }
}

// ---------------------------------------------------------------------------------------------------
// ALU (check_alu_op, adjust_ptr_min_max_vals, adjust_reg_min_max_vals)

function checkAlu(env: VerifierEnv, idx: number, op: Extract<OpInfo, { kind: 'alu' }>, x: Insn): void {
  const regs = env.regs();
  const alu32 = !op.alu64;
  if (op.op !== 'mov' && !op.op.startsWith('movsx')) checkRegRead(env, x.dst);
  const src: RegState = op.srcReg ? checkRegRead(env, x.src) : (() => {
    // The kernel sign-extends imm to 64 bits; 32-bit ops look at its low half.
    const r = notInitReg();
    markKnown(r, BigInt(x.imm));
    return r;
  })();
  const dst = checkRegWrite(env, x.dst);

  if (op.op === 'mov' || op.op.startsWith('movsx')) {
    if (op.op === 'mov') {
      if (alu32) {
        if (isPointer(src)) env.reject('EACCES', `R${x.src} partial copy of pointer`);
        Object.assign(dst, copyReg(src));
        S.zext32(dst);
        dst.id = 0;
        dst.subreg_def = idx;
      } else {
        Object.assign(dst, copyReg(src));
        if (src.type === 'scalar' && op.srcReg && !S.isConst(src)) {
          // Copies of an unknown scalar share an id, so that a bound learnt on one holds for both.
          if (src.id === 0) src.id = dst.id = env.newId();
        }
        dst.subreg_def = -1;
      }
      return;
    }
    if (isPointer(src)) env.reject('EACCES', `R${x.src} sign-extension of pointer prohibited`);
    const bits = Number(op.op.slice(5));
    Object.assign(dst, copyReg(src));
    dst.id = 0;
    S.coerce(dst, bits / 8, true);
    if (alu32) { S.zext32(dst); dst.subreg_def = idx; } else dst.subreg_def = -1;
    return;
  }

  if (isPointer(dst) || isPointer(src)) {
    adjustPtr(env, idx, op, x, dst, src, alu32);
    return;
  }
  if ((op.op === 'div' || op.op === 'sdiv' || op.op === 'mod' || op.op === 'smod') && !op.srcReg && x.imm === 0) {
    env.reject('EINVAL', 'div by zero');
  }
  if ((op.op === 'lsh' || op.op === 'rsh' || op.op === 'arsh') && !op.srcReg && (x.imm < 0 || x.imm >= (alu32 ? 32 : 64))) {
    env.reject('EINVAL', `invalid shift ${x.imm}`);
  }
  S.alu(dst, op.op === 'neg' ? dst : src, x);
  dst.id = 0;
  dst.subreg_def = alu32 ? idx : -1;
}

function adjustPtr(env: VerifierEnv, idx: number, op: Extract<OpInfo, { kind: 'alu' }>, x: Insn, dst: RegState, src: RegState, alu32: boolean): void {
  const opname = op.op;
  if (alu32) env.reject('EACCES', `R${x.dst} 32-bit pointer arithmetic prohibited`);
  if (isPointer(dst) && isPointer(src)) {
    if (opname !== 'sub') env.reject('EACCES', `R${x.dst} pointer ${opname === 'add' ? '+=' : 'op'} pointer prohibited`);
    // Root may subtract pointers: the result is an unknown scalar.
    markUnknown(dst);
    return;
  }
  const ptr = isPointer(dst) ? dst : src;
  const scalar = isPointer(dst) ? src : dst;
  const ptrRegno = isPointer(dst) ? x.dst : x.src;
  if (ptr.maybeNull) env.reject('EACCES', `R${ptrRegno} pointer arithmetic on ${ptr.type}_or_null prohibited, null-check it first`);
  if (ptr.type === 'pkt_end' || ptr.type === 'map_ptr' || ptr.type === 'func') env.reject('EACCES', `R${ptrRegno} pointer arithmetic on ${ptr.type} prohibited`);
  if (ptr.type === 'ctx' && !S.isConst(scalar)) env.reject('EACCES', `R${ptrRegno} pointer arithmetic on ctx prohibited`);
  if (opname !== 'add' && opname !== 'sub') {
    env.reject('EACCES', `R${x.dst} ${opname === 'and' || opname === 'or' || opname === 'xor' ? 'bitwise operator' : 'pointer arithmetic with'} ${ALU_SYM[opname]} ${opname === 'and' || opname === 'or' || opname === 'xor' ? 'on pointer' : 'operator'} prohibited`);
  }
  if (opname === 'sub' && !isPointer(dst)) env.reject('EACCES', `R${x.dst} tried to subtract pointer from scalar`);
  if (scalar.smin_value < -(1n << 29n) || scalar.smax_value > 1n << 29n || scalar.umax_value > (1n << 64n) - 1n) {
    // Unbounded values (kernel: check_reg_sane_offset).
  }
  const result = copyReg(ptr);
  if (S.isConst(scalar)) {
    const v = Number(BigInt.asIntN(64, S.constValue(scalar)));
    const newOff = opname === 'add' ? ptr.off + v : ptr.off - v;
    if (Math.abs(newOff) >= 1 << 29) env.reject('EACCES', `value ${v} makes ${ptr.type} pointer be out of bounds`);
    result.off = newOff;
  } else {
    if (isPktPointer(ptr) && scalar.smin_value < 0n && opname === 'add') {
      env.reject('EACCES', `R${x.src === ptrRegno ? x.dst : x.src} min value is negative, either use unsigned index or do a if (index >=0) check.`);
    }
    if (scalar.smin_value === -(1n << 63n) || scalar.umax_value >= 1n << 63n) {
      if (isPktPointer(ptr) || ptr.type === 'map_value' || ptr.type === 'fp') {
        env.reject('EACCES', `math between ${ptr.type === 'fp' ? 'fp' : ptr.type === 'map_value' ? 'map_value' : 'pkt'} pointer and register with unbounded min value is not allowed`);
      }
    }
    // The variable part accumulates in the pointer's own bounds.
    const varPart = copyReg(ptr);
    S.addVarOff(varPart, scalar, opname === 'sub');
    Object.assign(result, { var_off: varPart.var_off, smin_value: varPart.smin_value, smax_value: varPart.smax_value, umin_value: varPart.umin_value, umax_value: varPart.umax_value, s32_min_value: varPart.s32_min_value, s32_max_value: varPart.s32_max_value, u32_min_value: varPart.u32_min_value, u32_max_value: varPart.u32_max_value });
    if (isPktPointer(ptr)) {
      // A new variable offset makes a new pointer: its range must be learnt again.
      result.id = env.newId();
      result.range = 0;
    }
  }
  Object.assign(dst, result);
  dst.subreg_def = -1;
}

const ALU_SYM: Record<AluOp, string> = {
  add: '+=', sub: '-=', mul: '*=', div: '/=', sdiv: 's/=', or: '|=', and: '&=', lsh: '<<=', rsh: '>>=',
  neg: 'neg', mod: '%=', smod: 's%=', xor: '^=', mov: '=', movsx8: '=', movsx16: '=', movsx32: '=', arsh: 's>>=',
};

// ---------------------------------------------------------------------------------------------------
// Jumps (check_cond_jmp_op)

/** find_good_pkt_pointers: every copy of `pkt` (same id) is within range `range` on this branch. */
function markPktRange(state: VerifierState, pkt: RegState, range: number): void {
  for (const f of state.frames) {
    const regsOf = [...f.regs, ...f.stack.map((s) => s.spilled).filter((r): r is RegState => r !== undefined)];
    for (const r of regsOf) if (r.type === pkt.type && r.id === pkt.id) r.range = Math.max(r.range, range);
  }
}

/** mark_ptr_or_null_regs: after `if rX == 0`, every copy (same id) is NULL on one side, a pointer on the other. */
function markPtrOrNull(state: VerifierState, id: number, isNull: boolean): void {
  for (const f of state.frames) {
    const regsOf = [...f.regs, ...f.stack.map((s) => s.spilled).filter((r): r is RegState => r !== undefined)];
    for (const r of regsOf) {
      if (r.maybeNull && r.id === id) {
        if (isNull) markKnown(r, 0n);
        else {
          r.maybeNull = false;
          r.id = 0;
        }
      }
    }
  }
}

const FLIP: Partial<Record<JmpCond, JmpCond>> = { jgt: 'jlt', jlt: 'jgt', jge: 'jle', jle: 'jge' };

/**
 * try_match_pkt_pointers: `pkt' OP pkt_end` (or `pkt_meta' OP pkt`) tells, on one of the two branches,
 * that pkt' is at most pkt_end; every copy of the pointer (same id) then has range off (off + 1 for a
 * strict compare) — find_good_pkt_pointers. Returns whether the compare was of that form.
 */
function tryMatchPktPointers(cond: JmpCond, a: RegState, b: RegState, taken: VerifierState, fall: VerifierState): boolean {
  let pkt = a, end = b, c: JmpCond = cond;
  if (a.type === 'pkt_end' || b.type === 'pkt_meta') {
    pkt = b;
    end = a;
    c = FLIP[cond] ?? cond;
  }
  const match = (pkt.type === 'pkt' && end.type === 'pkt_end') || (pkt.type === 'pkt_meta' && end.type === 'pkt' && end.off === 0 && S.isConst(end));
  if (!match) return false;
  let where: VerifierState | undefined, strict = false;
  switch (c) {
    case 'jgt': where = fall; break; // pkt' > end not taken: pkt' <= end
    case 'jle': where = taken; break;
    case 'jlt': where = taken; strict = true; break; // pkt' < end: pkt' + 1 <= end
    case 'jge': where = fall; strict = true; break;
    default: return true;
  }
  if (pkt.off < 0 || (pkt.off === 0 && strict)) return true;
  if (pkt.umax_value > MAX_PACKET_OFF || pkt.umax_value + BigInt(pkt.off) > MAX_PACKET_OFF) return true;
  markPktRange(where, pkt, pkt.off + (strict ? 1 : 0));
  return true;
}

/** MAX_PACKET_OFF: 0xffff. */
const MAX_PACKET_OFF = 0xffffn;

function checkCondJmp(env: VerifierEnv, idx: number, op: Extract<OpInfo, { kind: 'jcond' }>, x: Insn): void {
  const regs = env.regs();
  const a = checkRegRead(env, x.dst);
  let b: RegState;
  if (op.srcReg) b = checkRegRead(env, x.src);
  else {
    b = notInitReg();
    markKnown(b, BigInt(x.imm));
  }
  const target = idx + x.off + 1;
  const aux = env.aux[idx]!;

  // Pointer comparisons.
  if (isPointer(a) || isPointer(b)) {
    if (op.jmp32) env.reject('EACCES', `R${x.dst} pointer comparison prohibited`);
    const taken = copyState(env.cur);
    const fall = env.cur;
    // NULL checks of map_value_or_null.
    if ((a.maybeNull && !op.srcReg && x.imm === 0) && (op.cond === 'jeq' || op.cond === 'jne')) {
      const id = a.id;
      markPtrOrNull(op.cond === 'jeq' ? taken : fall, id, true);
      markPtrOrNull(op.cond === 'jeq' ? fall : taken, id, false);
      pushBranch(env, taken, target, idx, aux, -1);
      return;
    }
    if (op.srcReg && tryMatchPktPointers(op.cond, a, b, taken, fall)) {
      pushBranch(env, taken, target, idx, aux, -1);
      return;
    }
    if (isPointer(a) && isPointer(b) && a.type !== b.type && !(a.type === 'pkt' && b.type === 'pkt_end')) {
      env.reject('EACCES', `R${x.dst} pointer comparison prohibited`);
    }
    pushBranch(env, taken, target, idx, aux, -1);
    return;
  }

  const outcome = S.branchTaken(a, b, op.cond, op.jmp32);
  if (outcome === 1) {
    noteBranch(aux, 1);
    env.cur.insn_idx = target - 1; // the loop's ++ lands on target
    return;
  }
  if (outcome === 0) {
    noteBranch(aux, 0);
    return;
  }
  const taken = copyState(env.cur);
  const tr = curFrame(taken).regs;
  const ta = tr[x.dst]!;
  // For `if rX op rX` both operands are one register (nothing is learnt); for an immediate, two copies.
  const tb = op.srcReg ? tr[x.src]! : b;
  const fb = op.srcReg ? regs[x.src]! : copyReg(b);
  S.refine(ta, tb, regs[x.dst]!, fb, op.cond, op.jmp32);
  propagateIds(taken, ta);
  propagateIds(env.cur, regs[x.dst]!);
  if (op.srcReg) {
    propagateIds(taken, tb);
    propagateIds(env.cur, regs[x.src]!);
  }
  pushBranch(env, taken, target, idx, aux, -1);
}

/** find_equal_scalars: registers sharing an id with a refined scalar learn the same bounds. */
function propagateIds(state: VerifierState, r: RegState): void {
  if (r.type !== 'scalar' || r.id === 0) return;
  for (const f of state.frames) {
    for (const o of [...f.regs, ...f.stack.map((s) => s.spilled).filter((s): s is RegState => s !== undefined)]) {
      if (o !== r && o.type === 'scalar' && o.id === r.id) Object.assign(o, copyReg(r));
    }
  }
}

function noteBranch(aux: InsnAux, v: 0 | 1 | -1): void {
  aux.branch = aux.branch === undefined ? v : aux.branch === v ? v : -1;
}

function pushBranch(env: VerifierEnv, taken: VerifierState, target: number, idx: number, aux: InsnAux, v: -1): void {
  noteBranch(aux, v);
  // The pushed path counts below the same explored state as the current one.
  if (taken.parent !== undefined) taken.parent.branches++;
  taken.insn_idx = target;
  taken.prev_insn_idx = idx;
  taken.logPos = env.log.position;
  env.stack.push(taken);
  if (env.stack.length > BPF_COMPLEXITY_LIMIT_JMP_SEQ) env.reject('E2BIG', `The sequence of ${env.stack.length} jumps is too complex.`);
}

// ---------------------------------------------------------------------------------------------------
// Calls (check_helper_call, check_func_call)

function checkHelperCall(env: VerifierEnv, idx: number, x: Insn): void {
  const def = func_proto(env.opts.progType, x.imm);
  const name = helperName(x.imm);
  if (def === undefined) {
    if (name === undefined) env.reject('EINVAL', `invalid func unknown#${x.imm}`);
    env.reject('EINVAL', `program of this type cannot use helper ${name}#${x.imm}`);
  }
  const proto = def.proto;
  if (proto.gpl_only && !env.opts.gplCompatible) env.reject('EINVAL', 'cannot call GPL-restricted function from non-GPL compatible program');
  const regs = env.regs();
  let map: BpfMap | undefined;
  let memReg: { regno: number; r: RegState } | undefined;
  proto.arg_type.forEach((arg, i) => {
    const regno = i + 1;
    if (arg.type === 'ARG_DONTCARE') return;
    const r = checkRegRead(env, regno);
    map = checkArg(env, idx, proto, arg, regno, r, map, memReg);
    if (arg.type === 'ARG_PTR_TO_MEM' || arg.type === 'ARG_PTR_TO_UNINIT_MEM') memReg = { regno, r };
  });
  if (x.imm === 12 /* bpf_tail_call */ && map !== undefined && map.map_type !== BPF_MAP_TYPE_PROG_ARRAY) {
    env.reject('EINVAL', `cannot pass map_type ${map.map_type} into func bpf_tail_call#12`);
  }
  if (map !== undefined) {
    const a = env.aux[idx]!;
    if (a.map !== undefined && a.map !== map) a.mapMixed = true;
    a.map = map;
  }
  env.opts.offload !== undefined; // the device sees calls in its hook
  // Caller-saved registers are clobbered.
  for (let r = 1; r <= 5; r++) resetReg(regs[r]!);
  const r0 = regs[0]!;
  switch (proto.ret_type) {
    case 'RET_INTEGER':
      markUnknown(r0);
      break;
    case 'RET_VOID':
      resetReg(r0);
      break;
    case 'RET_PTR_TO_MAP_VALUE_OR_NULL':
      markPtr(r0, 'map_value', { maybeNull: true, id: env.newId(), map });
      break;
  }
  r0.subreg_def = -1;
  if (proto.changes_pkt_data) clearPktPointers(env);
}

/** clear_all_pkt_pointers: a helper that may move the packet makes every packet pointer unknown. */
function clearPktPointers(env: VerifierEnv): void {
  for (const f of env.cur.frames) {
    for (const r of f.regs) if (isPktPointer(r) || r.type === 'pkt_end') markUnknown(r);
    for (const s of f.stack) {
      if (s.spilled !== undefined && (isPktPointer(s.spilled) || s.spilled.type === 'pkt_end')) {
        s.spilled = undefined;
        s.bytes.fill('m');
      }
    }
  }
}

/** check_func_arg: one argument against its declared type. Returns the map argument seen so far. */
function checkArg(env: VerifierEnv, idx: number, proto: BpfFuncProto, arg: BpfArg, regno: number, r: RegState, map: BpfMap | undefined, mem: { regno: number; r: RegState } | undefined): BpfMap | undefined {
  const expect = (what: string): never => env.reject('EACCES', `R${regno} type=${r.maybeNull ? `${r.type}_or_null` : r.type} expected=${what}`);
  const nullable = arg.flags.includes('PTR_MAYBE_NULL');
  switch (arg.type) {
    case 'ARG_ANYTHING':
      return map;
    case 'ARG_CONST_MAP_PTR':
      if (r.type !== 'map_ptr') expect('map_ptr');
      return r.map;
    case 'ARG_PTR_TO_CTX':
      if (r.type !== 'ctx') expect('ctx');
      if (r.off !== 0 || !S.isConst(r)) env.reject('EACCES', `dereference of modified ctx ptr R${regno} off=${r.off} disallowed`);
      return map;
    case 'ARG_PTR_TO_MAP_KEY':
    case 'ARG_PTR_TO_MAP_VALUE': {
      if (map === undefined) env.reject('EACCES', `invalid map_ptr to access map->${arg.type === 'ARG_PTR_TO_MAP_KEY' ? 'key' : 'value'}`);
      const size = arg.type === 'ARG_PTR_TO_MAP_KEY' ? map.key_size : map.value_size;
      checkHelperMem(env, idx, regno, r, size, false, proto, arg.type === 'ARG_PTR_TO_MAP_KEY' ? 'fp, pkt, pkt_meta, map_key, map_value' : 'fp, pkt, pkt_meta, map_key, map_value');
      return map;
    }
    case 'ARG_PTR_TO_MEM':
    case 'ARG_PTR_TO_UNINIT_MEM':
      if (nullable && r.type === 'scalar' && S.isConst(r) && S.constValue(r) === 0n) return map;
      if (!(r.type === 'fp' || isPktPointer(r) || r.type === 'map_value' || r.type === 'map_key')) {
        expect(`fp, pkt, pkt_meta, map_key, map_value, mem, ringbuf_mem, buf${nullable ? ', trusted_ptr_' : ''}`);
      }
      return map;
    case 'ARG_CONST_SIZE':
    case 'ARG_CONST_SIZE_OR_ZERO': {
      if (r.type !== 'scalar') expect('scalar');
      if (r.smin_value < 0n) env.reject('EACCES', `R${regno} min value is negative, either use unsigned or 'var &= const'`);
      if (arg.type === 'ARG_CONST_SIZE' && r.umin_value === 0n) env.reject('EACCES', `R${regno} invalid zero-sized read`);
      if (r.umax_value >= 1n << 29n) env.reject('EACCES', `R${regno} unbounded memory access, use 'var &= const' or 'if (var < const)'`);
      if (mem !== undefined && r.umax_value > 0n) checkHelperMem(env, idx, mem.regno, mem.r, Number(r.umax_value), proto.arg_type[mem.regno - 1]?.type === 'ARG_PTR_TO_UNINIT_MEM', proto, '');
      return map;
    }
    case 'ARG_DONTCARE':
      return map;
  }
}

/** check_helper_mem_access: `size` bytes at the pointer must be readable (and initialised, for reads). */
function checkHelperMem(env: VerifierEnv, idx: number, regno: number, r: RegState, size: number, uninitOk: boolean, _proto: BpfFuncProto, expected: string): void {
  switch (r.type) {
    case 'fp': {
      const o = constOff(r, 0);
      if (o === undefined) env.reject('EACCES', `R${regno} variable stack access prohibited for !root`);
      if (o < -MAX_BPF_STACK || o + size > 0 || o >= 0) env.reject('EACCES', `invalid indirect access to stack R${regno} off=${o} size=${size}`);
      const f = stackFrame(env, r);
      f.allocated = Math.max(f.allocated, -o);
      for (let b = o; b < o + size; b++) {
        const slot = slotOf(f, b);
        const t = slot.bytes[(b % 8 + 8) % 8]!;
        if (t === '?' && !uninitOk) {
          // Root may pass uninitialised stack to helpers only for ARG_PTR_TO_UNINIT_MEM; for keys the
          // kernel refuses (check_stack_range_initialized).
          env.reject('EACCES', `invalid indirect read from stack R${regno} off ${o}+${b - o} size ${size}`);
        }
        if (uninitOk) {
          slot.bytes[(b % 8 + 8) % 8] = 'm';
          slot.spilled = undefined;
        }
      }
      return;
    }
    case 'pkt':
    case 'pkt_meta':
      checkPacketAccess(env, regno, r, 0, size);
      return;
    case 'map_value':
      checkBoundedAccess(env, regno, r, 0, size, r.map!.value_size, 'map value');
      return;
    case 'map_key':
      checkBoundedAccess(env, regno, r, 0, size, r.map!.key_size, 'map key');
      return;
    default:
      env.reject('EACCES', `R${regno} type=${r.maybeNull ? `${r.type}_or_null` : r.type} expected=${expected}`);
  }
  void idx;
}

function checkFuncCall(env: VerifierEnv, idx: number, target: number): void {
  const st = env.cur;
  if (st.curframe + 1 >= MAX_CALL_FRAMES) env.reject('E2BIG', `the call stack of ${st.curframe + 2} frames is too deep !`);
  const caller = curFrame(st);
  const callee = newFuncState(st.curframe + 1, idx, env.subprogOf(target));
  // r1-r5 pass as they are; r10 is the callee's own frame.
  for (let r = 1; r <= 5; r++) callee.regs[r] = copyReg(caller.regs[r]!);
  markPtr(callee.regs[BPF_REG_FP]!, 'fp', { frameno: callee.frameno });
  for (let r = 0; r <= 5; r++) {
    if (r !== 0) continue;
  }
  st.frames.push(callee);
  st.curframe++;
  st.insn_idx = target - 1;
}

function prepareFuncExit(env: VerifierEnv): void {
  const st = env.cur;
  const callee = curFrame(st);
  const r0 = callee.regs[0]!;
  if (r0.type === 'not_init') env.reject('EACCES', 'R0 !read_ok');
  if (r0.type === 'fp' && r0.frameno === callee.frameno) env.reject('EINVAL', 'cannot return stack pointer to the caller');
  const depth = callee.allocated;
  env.stackDepth[callee.subprogno] = Math.max(env.stackDepth[callee.subprogno]!, depth);
  st.frames.pop();
  st.curframe--;
  const caller = curFrame(st);
  caller.regs[0] = copyReg(r0);
  for (let r = 1; r <= 5; r++) caller.regs[r] = notInitReg();
  st.insn_idx = callee.callsite;
}

// ---------------------------------------------------------------------------------------------------
// Pruning (is_state_visited, states_equal)

function regsafe(old: RegState, cur: RegState, idmap: Map<number, number>): boolean {
  if (old.type === 'not_init') return true;
  if (cur.type === 'not_init') return false;
  if (old.type === 'scalar') {
    if (cur.type !== 'scalar') return false;
    return S.within(old, cur);
  }
  if (old.type !== cur.type || old.maybeNull !== cur.maybeNull || old.map !== cur.map || old.off !== cur.off || old.frameno !== cur.frameno) return false;
  if (isPktPointer(old) && old.range > cur.range) return false;
  if (!S.within(old, cur)) return false;
  if (old.id !== 0 || cur.id !== 0) {
    const mapped = idmap.get(old.id);
    if (mapped === undefined) idmap.set(old.id, cur.id);
    else if (mapped !== cur.id) return false;
  }
  return true;
}

function stacksafe(old: FuncState, cur: FuncState, idmap: Map<number, number>): boolean {
  for (let i = 0; i < old.stack.length; i++) {
    const o = old.stack[i]!;
    const c = cur.stack[i];
    for (let b = 0; b < 8; b++) {
      const ob = o.bytes[b]!;
      if (ob === '?') continue;
      const cb = c?.bytes[b] ?? '?';
      if (ob === 'm' && (cb === 'm' || cb === '0')) continue;
      if (ob !== cb) return false;
    }
    if (o.spilled !== undefined && !(c?.spilled !== undefined && regsafe(o.spilled, c.spilled, idmap))) return false;
  }
  return true;
}

/**
 * states_equal with RANGE_WITHIN: cur is within old. `live` is the set of registers live at this
 * instruction in the current frame (registers of caller frames are compared whole).
 */
function statesEqual(old: VerifierState, cur: VerifierState, live = 0x7ff, precise = 0x7ff): boolean {
  if (old.curframe !== cur.curframe) return false;
  const idmap = new Map<number, number>();
  for (let f = 0; f <= old.curframe; f++) {
    const of = old.frames[f]!, cf = cur.frames[f]!;
    if (of.callsite !== cf.callsite) return false;
    const top = f === old.curframe;
    const mask = top ? live | (1 << BPF_REG_FP) : 0x7ff;
    for (let r = 0; r < of.regs.length; r++) {
      if ((mask & (1 << r)) === 0) continue;
      const o = of.regs[r]!, c = cf.regs[r]!;
      // A scalar whose value cannot matter any more only has to be a scalar (an imprecise one).
      if (top && (precise & (1 << r)) === 0 && o.type === 'scalar' && c.type === 'scalar') continue;
      if (!regsafe(o, c, idmap)) return false;
    }
    if (!stacksafe(of, cf, idmap)) return false;
  }
  return true;
}

/** Exact equality, for loop detection (states_maybe_looping + states_equal with exact = true). */
function statesIdentical(a: VerifierState, b: VerifierState): boolean {
  return statesEqual(a, b) && statesEqual(b, a);
}

// ---------------------------------------------------------------------------------------------------
// do_check

/**
 * The instruction line: `N: (op) text`, with the source line before it when line info says it changed.
 * Records where the line ended so the state can go on the same line (print_insn_state).
 */
function logInsn(env: VerifierEnv, idx: number): void {
  if (!env.log.enabled) return;
  const text = env.opts.lineText?.(idx);
  if (text !== undefined) env.log.write(`; ${text}\n`);
  const start = env.log.position;
  env.log.write(`${idx}: ${formatInsn(env.insns, idx, { flavour: 'kernel', allowPtrLeaks: true, callName: (x) => (x.src === 0 ? helperName(x.imm) : undefined) })}\n`);
  env.prevLogPos = env.log.position;
  env.prevInsnPrintPos = env.prevLogPos - start;
}

/** BPF_LOG_ALIGNMENT / BPF_LOG_MIN_ALIGNMENT of kernel/bpf/log.c: the column of "; R1=...". */
const BPF_LOG_ALIGNMENT = 40;
const BPF_LOG_MIN_ALIGNMENT = 8;

/**
 * print_insn_state: the registers and stack slots the instruction touched. Right after the instruction
 * line they go on that line, aligned (the newline is taken back); after other output, on a line of their own.
 */
function logState(env: VerifierEnv, idx: number): void {
  if (!env.log.enabled || env.scratched.size === 0) return;
  const state = formatState(curFrame(env.cur), env.scratched);
  if (state === '') return;
  if (env.prevLogPos !== 0 && env.prevLogPos === env.log.position) {
    env.log.truncate(env.prevLogPos - 1);
    const pos = env.prevInsnPrintPos;
    const width = Math.ceil(Math.max(pos, BPF_LOG_MIN_ALIGNMENT) / BPF_LOG_ALIGNMENT) * BPF_LOG_ALIGNMENT - pos - 1;
    env.log.write(`${' '.repeat(Math.max(1, width))}; ${state}\n`);
  } else {
    env.log.write(`${idx}: ${state}\n`);
  }
}

export function doCheck(env: VerifierEnv): void {
  const state: VerifierState = { frames: [newFuncState(0, -1, 0)], curframe: 0, parent: undefined, insn_idx: 0, prev_insn_idx: -1, logPos: 0 };
  const regs0 = state.frames[0]!.regs;
  markPtr(regs0[1]!, 'ctx');
  markPtr(regs0[BPF_REG_FP]!, 'fp', { frameno: 0 });
  env.cur = state;
  env.opts.offload?.prepare?.(env);
  if (env.log.enabled) env.log.write(`0: ${formatState(state.frames[0]!)}\n`);

  for (;;) {
    const st = env.cur;
    const idx = st.insn_idx;
    if (idx < 0 || idx >= env.insns.length) env.reject('EFAULT', `invalid insn idx ${idx} insn_cnt ${env.insns.length}`);
    if (++env.insnProcessed > BPF_COMPLEXITY_LIMIT_INSNS) {
      env.reject('E2BIG', `BPF program is too large. Processed ${env.insnProcessed} insn`);
    }
    // Pruning at jump targets and after calls (the kernel's prune points): is_state_visited().
    if (isPrunePoint(env, idx) && isStateVisited(env, idx)) {
      if (env.log.verbose) env.log.write(`${idx}: safe\n`);
      if (!popBranch(env)) return;
      continue;
    }

    const op = env.ops[idx];
    const x = env.insns[idx]!;
    env.aux[idx]!.seen = true;
    recordRegFacts(env.aux[idx]!, curFrame(st).regs);
    env.scratched = new Set();
    logInsn(env, idx);
    env.opts.offload?.insn_hook(env, idx, st.prev_insn_idx);
    if (op === undefined) env.reject('EINVAL', `invalid BPF instruction at ${idx}`);

    let pathDone = false;
    // Every instruction of the JMP classes counts for the add_new_state heuristic (jmps_processed).
    if (op.kind === 'ja' || op.kind === 'jcond' || op.kind === 'call' || op.kind === 'callx' || op.kind === 'exit') env.jmpsProcessed++;
    switch (op.kind) {
      case 'alu':
        env.scratched.add(x.dst);
        checkAlu(env, idx, op, x);
        break;
      case 'end': {
        const r = checkRegRead(env, x.dst);
        if (isPointer(r)) env.reject('EACCES', `R${x.dst} pointer arithmetic prohibited`);
        checkRegWrite(env, x.dst);
        S.byteSwap(r, x);
        r.id = 0;
        env.scratched.add(x.dst);
        break;
      }
      case 'ldx': {
        checkRegRead(env, x.src);
        checkRegWrite(env, x.dst);
        env.scratched.add(x.dst);
        checkMemAccess(env, idx, x.src, x.off, op.size, false, undefined, x.dst, undefined, op.signed);
        env.regs()[x.dst]!.subreg_def = op.size < 8 ? -1 : -1;
        break;
      }
      case 'stx':
        checkRegRead(env, x.src);
        checkRegRead(env, x.dst);
        checkMemAccess(env, idx, x.dst, x.off, op.size, true, x.src, undefined, undefined, false);
        noteStackScratch(env, x.dst, x.off);
        break;
      case 'st':
        checkRegRead(env, x.dst);
        checkMemAccess(env, idx, x.dst, x.off, op.size, true, undefined, undefined, BigInt(x.imm), false);
        noteStackScratch(env, x.dst, x.off);
        break;
      case 'atomic':
        checkAtomic(env, idx, op, x);
        break;
      case 'lddw': {
        checkRegWrite(env, x.dst);
        env.scratched.add(x.dst);
        const r = env.regs()[x.dst]!;
        const m = env.opts.ldImm.get(idx);
        if (m === undefined) {
          if (x.src === 4 /* BPF_PSEUDO_FUNC */) markPtr(r, 'func');
          else markKnown(r, (BigInt(env.insns[idx + 1]!.imm >>> 0) << 32n) | BigInt(x.imm >>> 0));
        } else if (m.valueOff === undefined) {
          markPtr(r, 'map_ptr', { map: m.map });
          env.aux[idx]!.map = m.map;
        } else {
          markPtr(r, 'map_value', { map: m.map, off: m.valueOff });
          env.aux[idx]!.map = m.map;
        }
        st.insn_idx++;
        break;
      }
      case 'ldabs':
        env.reject('EINVAL', 'BPF_LD_[ABS|IND] instructions not allowed for this program type');
        break;
      case 'ja':
        st.insn_idx = idx + (op.long ? x.imm : x.off);
        break;
      case 'jcond':
        checkCondJmp(env, idx, op, x);
        break;
      case 'call':
        if (op.target === 'local') {
          checkFuncCall(env, idx, idx + x.imm + 1);
        } else if (op.target === 'kfunc') {
          env.reject('EINVAL', 'calling kernel function is not supported without CONFIG_DEBUG_INFO_BTF');
        } else {
          env.scratched.add(0);
          checkHelperCall(env, idx, x);
        }
        break;
      case 'callx':
        env.reject('EINVAL', `unknown opcode 8d`);
        break;
      case 'exit':
        if (st.curframe > 0) {
          prepareFuncExit(env);
          break;
        }
        checkReturnCode(env);
        pathDone = true;
        break;
    }
    if (op.kind === 'alu' || op.kind === 'end') {
      const c = regClass(env.regs()[x.dst]!);
      const after = c === 'pkt' ? 'ptr' : c;
      const a = env.aux[idx]!;
      a.dstAfter = a.dstAfter === undefined || a.dstAfter === after ? after : 'other';
    }
    logState(env, idx);
    if (pathDone) {
      updateBranchCounts(st.parent);
      if (!popBranch(env)) return;
      continue;
    }
    st.prev_insn_idx = idx;
    st.insn_idx++;
  }
}

function noteStackScratch(env: VerifierEnv, regno: number, off: number): void {
  const r = env.regs()[regno]!;
  if (r.type === 'fp' && S.isConst(r)) env.scratched.add(100 + Math.floor((-(r.off + off) - 1) / 8));
}

/**
 * is_state_visited: prune the current path when its state is within one fully explored at this
 * instruction; refuse a loop that comes back to an in-progress state it is within; otherwise keep the
 * state for later paths (not at every visit: the kernel's add_new_state heuristic), and evict stored
 * states that keep missing.
 */
function isStateVisited(env: VerifierEnv, idx: number): boolean {
  const cur = env.cur;
  const list = env.explored.get(idx) ?? [];
  let addNew = env.jmpsProcessed - env.prevJmpsProcessed >= 2 && env.insnProcessed - env.prevInsnProcessed >= 8;
  for (let i = 0; i < list.length; i++) {
    const sl = list[i]!;
    if (sl.branches > 0) {
      if (statesEqual(sl.state, cur, env.live[idx], env.precise[idx])) {
        env.log.write(`infinite loop detected at insn ${idx}\n`);
        env.reject('EINVAL', `infinite loop detected at insn ${idx}`);
      }
      // Inside a loop: distinct iterations rarely prune each other, so store states sparingly.
      if (env.jmpsProcessed - env.prevJmpsProcessed < 20 && env.insnProcessed - env.prevInsnProcessed < 100) addNew = false;
    } else if (statesEqual(sl.state, cur, env.live[idx], env.precise[idx])) {
      sl.hit++;
      updateBranchCounts(cur.parent);
      return true;
    }
    if (addNew) sl.miss++;
    if (sl.branches === 0 && sl.miss > sl.hit * 3 + 3) {
      list.splice(i--, 1);
      env.totalStates--;
    }
  }
  if (!addNew) return false;
  env.prevJmpsProcessed = env.jmpsProcessed;
  env.prevInsnProcessed = env.insnProcessed;
  const sl: ExploredState = { state: copyState(cur), branches: 1, hit: 0, miss: 0 };
  sl.state.parent = cur.parent;
  cur.parent = sl;
  list.push(sl);
  env.explored.set(idx, list);
  env.totalStates++;
  env.peakStates = Math.max(env.peakStates, env.totalStates);
  env.maxStatesPerInsn = Math.max(env.maxStatesPerInsn, list.length);
  return false;
}

/** update_branch_counts: a path ended; explored states with nothing left below them become complete. */
function updateBranchCounts(sl: ExploredState | undefined): void {
  for (; sl !== undefined; sl = sl.state.parent) {
    if (--sl.branches > 0) break;
  }
}

/** pop_stack: the next branch to explore; at log level 1 the finished path's lines are dropped. */
function popBranch(env: VerifierEnv): boolean {
  const next = env.stack.pop();
  if (next === undefined) return false;
  if (!env.log.verbose) env.log.truncate(next.logPos);
  env.cur = next;
  if (env.log.enabled) {
    env.log.write(`from ${next.prev_insn_idx} to ${next.insn_idx}: ${formatState(curFrame(next))}\n`);
  }
  return true;
}

function isPrunePoint(env: VerifierEnv, idx: number): boolean {
  return env.prunePoints.has(idx);
}

function checkAtomic(env: VerifierEnv, idx: number, op: Extract<OpInfo, { kind: 'atomic' }>, x: Insn): void {
  checkRegRead(env, x.src);
  checkRegRead(env, x.dst);
  const src = env.regs()[x.src]!;
  if (isPointer(src)) env.reject('EACCES', `R${x.src} leaks addr into mem`);
  const dst = env.regs()[x.dst]!;
  if (dst.type === 'ctx' || isPktPointer(dst)) env.reject('EACCES', `BPF_ATOMIC stores into R${x.dst} ${dst.type} is not allowed`);
  // The read half, then the write half, of the read-modify-write.
  const fetched = op.op === 'cmpxchg' ? 0 : x.src;
  checkMemAccess(env, idx, x.dst, x.off, op.size, false, undefined, op.op.startsWith('fetch_') || op.op === 'xchg' || op.op === 'cmpxchg' ? fetched : undefined, undefined, false);
  checkMemAccess(env, idx, x.dst, x.off, op.size, true, undefined, undefined, undefined, false);
  if (op.op === 'cmpxchg') {
    checkRegRead(env, 0);
    env.scratched.add(0);
  } else if (op.op.startsWith('fetch_') || op.op === 'xchg') {
    env.scratched.add(x.src);
  }
}

function checkReturnCode(env: VerifierEnv): void {
  const r0 = env.regs()[0]!;
  if (r0.type === 'not_init') env.reject('EACCES', 'R0 !read_ok');
  if (isPointer(r0)) env.reject('EACCES', 'R0 leaks addr as return value');
  // XDP programs may return any value (the driver treats unknown ones as XDP_ABORTED).
}

// ---------------------------------------------------------------------------------------------------
// bpf_check

export interface VerifierResult {
  readonly env: VerifierEnv;
  /** processed N insns (limit 1000000) ... */
  readonly statsLine: string;
}

export function bpfCheck(opts: VerifierOptions): VerifierResult {
  verifyStructure(opts.insns, opts.log);
  const env = new VerifierEnv(opts);
  const stats = (): string =>
    `processed ${env.insnProcessed} insns (limit ${BPF_COMPLEXITY_LIMIT_INSNS}) max_states_per_insn ${env.maxStatesPerInsn} total_states ${env.totalStates} peak_states ${env.peakStates} mark_read 0`;
  try {
    doCheck(env);
    checkStackDepth(env);
    computeZextDst(env.insns, env.ops, env.subprogs).forEach((z, i) => { env.aux[i]!.zext_dst = z; });
    opts.offload?.finalize?.(env);
  } catch (e) {
    opts.log.write(`${stats()}\n`);
    throw e;
  }
  const statsLine = stats();
  opts.log.write(`${statsLine}\n`);
  return { env, statsLine };
}

/** check_max_stack_depth: the frames of the deepest call chain together within MAX_BPF_STACK. */
function checkStackDepth(env: VerifierEnv): void {
  const depth0 = env.stackDepth;
  const total = depth0.reduce((a, b) => a + Math.ceil(b / 32) * 32, 0);
  if (total > MAX_BPF_STACK) {
    env.reject('EACCES', `combined stack size of ${env.subprogs.length} calls is ${total}. Too large`);
  }
  void BPF_PSEUDO_MAP_VALUE;
}
