// The nfp device verifier hook (drivers/net/ethernet/netronome/nfp/bpf/verifier.c): nfp_verify_insn()
// runs inside the kernel's one verifier walk on every instruction of every path, with the walk's state
// of that path, before the core checks the instruction. It refuses what the NIC cannot do with an
// "[nfp] " line in the verifier log (the load fails with the errno the driver returns), and records in
// each instruction's nfp_insn_meta what the JIT needs: the pointer type and offset of each access, the
// helper arguments, ALU operand ranges, atomic add widths. nfp_bpf_finalize() then sizes the stack over
// the call graph and takes the zero-extension flags; nfp_bpf_opt_replace_insn/remove_insns follow the
// verifier's dead-code rewrites.
//
// nfp-emu additions, each marked where it is done: the hook also keeps what the core verifier here does
// not (each subprogram's stack depth, the furthest packet byte: prog->aux->max_pkt_offset), refuses the
// context loads the JIT has no code for (the kernel finds those only at translation), checks BPF_ST
// stores like STX ones (the kernel's hook skips them and its JIT then cannot translate them; clang up to
// 17 never emits them), and checks that a map an instruction loads belongs to this device (the core's
// check_map_prog_compatibility line, in case the caller has not made it). PAPER-ONLY: bpf_tail_call through
// a prog array on the card, where the firmware advertises tail calls (tail_call.ts).

import { BpfError, type ErrnoName } from '../../bpf/errno.js';
import type { Insn } from '../../bpf/insn.js';
import { BPF_ADD, BPF_JA, BPF_JMP, MAX_BPF_REG } from '../../bpf/opcodes.js';
import { BPF_PROG_TYPE } from '../../bpf/prog-types.js';
import { BPF_F_CURRENT_CPU, BPF_F_INDEX_MASK } from '../../kernel/maps/map.js';
import { bpf_map_is_offloaded } from '../../kernel/offload.js';
import type { Tnum } from '../../kernel/verifier/scalar.js';
import { copyReg, type RegState } from '../../kernel/verifier/state.js';
import type { VerifierEnv } from '../../kernel/verifier/verifier.js';
import { NFP_NET_CFG_BPF_STACK_SZ } from '../../nic/ctrl-bar.js';
import { NFP_BPF_ADJUST_HEAD_NO_META } from './main.js';
import {
  NFP_MAP_USE_ATOMIC_CNT, NFP_MAP_USE_READ, NfpBpfMap, nfp_bpf_map_mark_used_one, type NfpBpfMapUse,
} from './offload.js';
import {
  FLAG_INSN_DO_ZEXT, FLAG_INSN_PTR_CALLER_STACK_FRAME, FLAG_INSN_SKIP_VERIFIER_OPT, STACK_FRAME_ALIGN, U32_MAX, UINT_MAX,
  nfp_is_subprog_start, type NfpInsnMeta, type NfpProg,
} from './prog.js';
import {
  NFP_BPF_MEM_PTR_TYPES, nfp_bpf_ctx_load_ok, nfp_bpf_ctx_store_ok, nfp_bpf_helper, nfp_bpf_supported_opcode, nfp_reg_type_num,
} from './support.js';
import { NfpBpfProgArray } from './tail_call.js';

/** ETH_ZLEN - ETH_HLEN: the most adjust_head's fast path may add without the length checks. */
const ETH_ZLEN = 60;
const ETH_HLEN = 14;
/** sizeof(u32): a subprogram's frame holds its return address (REG_WIDTH). */
const REG_WIDTH = 4;
const BPF_REG_SIZE = 8;
const TC_ACT_SHOT = 2;
const TC_ACT_STOLEN = 4;
const TC_ACT_QUEUED = 5;
const TC_ACT_REDIRECT = 7;

/** pr_vlog(): an "[nfp] " line in the verifier log. */
function pr_vlog(env: VerifierEnv, msg: string): void {
  env.log.write(`[nfp] ${msg}\n`);
}

/** pr_vlog() and the hook's error return: the load fails with `errno`. */
function refuse(env: VerifierEnv, errno: ErrnoName, msg: string): never {
  pr_vlog(env, msg);
  throw new BpfError(errno, `[nfp] ${msg}`);
}

/** printf("%#llx"): 0 has no prefix. */
const hexAlt = (v: bigint): string => (v === 0n ? '0' : `0x${v.toString(16)}`);

/** tnum_strn(): "(%#llx; %#llx)". */
export function tnum_strn(t: Tnum): string {
  return `(${hexAlt(t.value)}; ${hexAlt(t.mask)})`;
}

const isConst = (r: RegState): boolean => r.var_off.mask === 0n;
/** A constant pointer's offset: the fixed part plus the known variable part, as an s64. */
const constOff = (r: RegState): number => r.off + Number(BigInt.asIntN(64, r.var_off.value));

const isLoad = (m: NfpInsnMeta): boolean => m.op?.kind === 'ldx';
/** is_mbpf_store(), and BPF_ST (see the top of the file). */
const isStore = (m: NfpInsnMeta): boolean => m.op?.kind === 'stx' || m.op?.kind === 'st';
const isAtomic = (m: NfpInsnMeta): boolean => m.op?.kind === 'atomic';
const ldstBytes = (m: NfpInsnMeta): number => {
  const op = m.op;
  return op !== undefined && (op.kind === 'ldx' || op.kind === 'stx' || op.kind === 'st' || op.kind === 'atomic') ? op.size : 0;
};

// ---------------------------------------------------------------------------------------------------
// Helpers

/** nfp_record_adjust_head(): the fast path needs one call site with one small constant delta. */
function nfp_record_adjust_head(nfp_prog: NfpProg, meta: NfpInsnMeta, reg2: RegState): void {
  const bpf = nfp_prog.bpf;
  let location = UINT_MAX;
  check: {
    if (reg2.type !== 'scalar' || !isConst(reg2)) break check;
    const imm = Number(BigInt.asIntN(32, reg2.var_off.value));
    // The translator will skip all checks: we need to guarantee the minimum packet length.
    if (imm > ETH_ZLEN - ETH_HLEN) break check;
    if (imm > bpf.adjust_head.guaranteed_add || imm < -bpf.adjust_head.guaranteed_sub) break check;
    if (nfp_prog.adjust_head_location !== 0) {
      // Only one call per program allowed.
      if (nfp_prog.adjust_head_location !== meta.n) break check;
      if (meta.arg2.reg.var_off.value !== reg2.var_off.value) break check;
    }
    location = meta.n;
  }
  nfp_prog.adjust_head_location = location;
}

/** The driver's state of the map R1 holds (map helpers need an offloaded map). */
function nfpMapOf(reg: RegState): NfpBpfMap | undefined {
  const m = reg.map;
  if (m === undefined || !bpf_map_is_offloaded(m)) return undefined;
  return m.dev_priv instanceof NfpBpfMap ? m.dev_priv : undefined;
}

/**
 * nfp_bpf_map_update_value_ok(): bpf_map_update_elem() from the program must not write a possibly
 * non-zero word over an atomic counter (the counters are big-endian on the device); remember the words
 * it may set to something non-zero. Returns the refusal, or null.
 */
function nfp_bpf_map_update_value_ok(env: VerifierEnv): string | null {
  const regs = env.regs();
  const reg1 = regs[1]!;
  const reg3 = regs[3]!;
  const state = env.cur.frames[reg3.frameno]!;
  const nfp_map = nfpMapOf(reg1);
  if (nfp_map === undefined) return null;
  const off = constOff(reg3);
  for (let i = 0; i < nfp_map.offmap.value_size; i++) {
    const o = off + i;
    const soff = -o - 1;
    const slot = state.stack[Math.floor(soff / BPF_REG_SIZE)];
    if (slot?.bytes[((o % 8) + 8) % 8] === '0') continue;
    if (nfp_map.use_map[i >> 2] === NFP_MAP_USE_ATOMIC_CNT) {
      return `value at offset ${i}/${soff} may be non-zero, bpf_map_update_elem() is required to initialize atomic counters to zero to avoid offload endian issues`;
    }
    nfp_map.non_zero_update[i >> 2] = 1;
  }
  return null;
}

/**
 * nfp_bpf_stack_arg_ok(): a helper's key/value pointer must be a constant, 4 B aligned stack pointer.
 * Returns the refusal, or null.
 */
function nfp_bpf_stack_arg_ok(fname: string, reg: RegState, old_arg: NfpInsnMeta['arg2'] | null): string | null {
  if (reg.type !== 'fp') return `${fname}: unsupported ptr type ${nfp_reg_type_num(reg)}`;
  if (!isConst(reg)) return `${fname}: variable pointer`;
  const off = constOff(reg);
  if (-off % 4 !== 0) return `${fname}: unaligned stack pointer ${-off}`;
  // The rest of the checks is only if we re-parse the same insn.
  if (old_arg !== null) old_arg.var_off ||= off !== constOff(old_arg.reg);
  return null;
}

function nfp_bpf_map_call_ok(fname: string, helper_tgt: number): string | null {
  return helper_tgt === 0 ? `${fname}: not supported by FW` : null;
}

/** Devices already told once that event_output differs (dev_warn_once). */
const eventOutputWarned = new WeakSet<object>();

/**
 * nfp-emu, PAPER-ONLY: bpf_tail_call() through a prog array on this card (tail_call.ts), from the main
 * program only (a subprogram runs on a moved stack register, and the target starts on the frame base),
 * through one array per call site (the JIT reads that array's table), into programs of the array's type.
 */
function nfp_bpf_check_tail_call(nfp_prog: NfpProg, env: VerifierEnv, meta: NfpInsnMeta, reg2: RegState): void {
  if (env.cur.curframe !== 0) refuse(env, 'EOPNOTSUPP', 'tail call from a subprogram not supported');
  const m = reg2.map;
  const arr = m !== undefined && bpf_map_is_offloaded(m) && m.dev_priv instanceof NfpBpfProgArray ? m.dev_priv : undefined;
  if (arr === undefined || arr.bpf !== nfp_prog.bpf) refuse(env, 'EINVAL', 'tail call: the prog array is not on this device');
  if (meta.tc_map !== null && meta.tc_map !== arr) refuse(env, 'EINVAL', 'tail call: a different prog array on another path');
  if (arr.owner_type !== 0 && arr.owner_type !== nfp_prog.type) {
    refuse(env, 'EINVAL', `tail call: the prog array holds programs of type ${arr.owner_type}, not ${nfp_prog.type}`);
  }
  meta.tc_map = arr;
}

function nfp_bpf_check_helper_call(nfp_prog: NfpProg, env: VerifierEnv, meta: NfpInsnMeta): void {
  const regs = env.regs();
  let reg1 = regs[1]!;
  const reg2 = regs[2]!;
  const reg3 = regs[3]!;
  const bpf = nfp_prog.bpf;
  const func_id = meta.insn.imm;
  const helper = nfp_bpf_helper(func_id);
  const oldArg2 = meta.func_id !== 0 ? meta.arg2 : null;
  const check = (err: string | null): void => { if (err !== null) refuse(env, 'EOPNOTSUPP', err); };

  switch (helper) {
    case 'adjust_head':
      if (bpf.adjust_head.off_max === 0) refuse(env, 'EOPNOTSUPP', 'adjust_head not supported by FW');
      if ((bpf.adjust_head.flags & NFP_BPF_ADJUST_HEAD_NO_META) === 0) {
        refuse(env, 'EOPNOTSUPP', 'adjust_head: FW requires shifting metadata, not supported by the driver');
      }
      nfp_record_adjust_head(nfp_prog, meta, reg2);
      break;
    case 'adjust_tail':
      if (!bpf.adjust_tail) refuse(env, 'EOPNOTSUPP', 'adjust_tail not supported by FW');
      break;
    case 'map_lookup':
      check(nfp_bpf_map_call_ok('map_lookup', bpf.helpers.map_lookup) ?? nfp_bpf_stack_arg_ok('map_lookup', reg2, oldArg2));
      break;
    case 'map_update':
      check(nfp_bpf_map_call_ok('map_update', bpf.helpers.map_update) ?? nfp_bpf_stack_arg_ok('map_update', reg2, oldArg2)
        ?? nfp_bpf_stack_arg_ok('map_update', reg3, null) ?? nfp_bpf_map_update_value_ok(env));
      break;
    case 'map_delete':
      check(nfp_bpf_map_call_ok('map_delete', bpf.helpers.map_delete) ?? nfp_bpf_stack_arg_ok('map_delete', reg2, oldArg2));
      break;
    case 'prandom':
      if (!bpf.pseudo_random) refuse(env, 'EOPNOTSUPP', "bpf_get_prandom_u32(): FW doesn't support random number generation");
      break;
    case 'event_output': {
      if (bpf.helpers.perf_event_output === 0) refuse(env, 'EOPNOTSUPP', 'event_output: not supported by FW');
      // Force the current CPU, so the event can be reported wherever the control message arrives.
      const mask = BigInt(BPF_F_INDEX_MASK);
      if ((reg3.var_off.mask & mask) !== 0n || (reg3.var_off.value & mask) !== BigInt(BPF_F_CURRENT_CPU)) {
        refuse(env, 'EOPNOTSUPP', `event_output: must use BPF_F_CURRENT_CPU, var_off: ${tnum_strn(reg3.var_off)}`);
      }
      // Only the data pointer (the 4th argument) matters to the device; it is kept as arg1.
      reg1 = regs[4]!;
      if (reg1.type !== 'scalar' && reg1.type !== 'fp' && reg1.type !== 'map_value' && reg1.type !== 'pkt') {
        refuse(env, 'EOPNOTSUPP', `event_output: unsupported ptr type: ${nfp_reg_type_num(reg1)}`);
      }
      if (reg1.type === 'fp') check(nfp_bpf_stack_arg_ok('event_output', reg1, null));
      if (!eventOutputWarned.has(bpf)) {
        eventOutputWarned.add(bpf);
        bpf.log.warn('bpf: note: return codes and behavior of bpf_event_output() helper differs for offloaded programs!');
      }
      pr_vlog(env, 'warning: return codes and behavior of event_output helper differ for offload!');
      if (meta.func_id !== 0 && reg1.type !== meta.arg1.type) {
        refuse(env, 'EINVAL', `event_output: ptr type changed: ${nfp_reg_type_num(meta.arg1)} ${nfp_reg_type_num(reg1)}`);
      }
      break;
    }
    case 'tail_call':
      // nfp-emu, PAPER-ONLY: upstream has no tail calls on the NIC; a firmware without them keeps its line.
      if (!bpf.tail_call.supported) refuse(env, 'EOPNOTSUPP', `unsupported function id: ${func_id}`);
      nfp_bpf_check_tail_call(nfp_prog, env, meta, reg2);
      break;
    case undefined:
      refuse(env, 'EOPNOTSUPP', `unsupported function id: ${func_id}`);
  }
  // A key pointer into a caller's frame is an address the JIT must load (nfp-emu: the kernel assumes
  // the current frame when the offset happens to be the frame start).
  if ((helper === 'map_lookup' || helper === 'map_update' || helper === 'map_delete') && reg2.frameno !== env.cur.curframe) {
    meta.flags |= FLAG_INSN_PTR_CALLER_STACK_FRAME;
  }
  meta.func_id = func_id;
  meta.arg1 = copyReg(reg1);
  meta.arg2.reg = copyReg(reg2);
}

// ---------------------------------------------------------------------------------------------------
// Exit, pointers, stores, atomics, ALU

function nfp_bpf_check_exit(nfp_prog: NfpProg, env: VerifierEnv): void {
  const reg0 = env.regs()[0]!;
  if (nfp_prog.type === BPF_PROG_TYPE.XDP) return;
  if (!(reg0.type === 'scalar' && isConst(reg0))) {
    refuse(env, 'EINVAL', `unsupported exit state: ${nfp_reg_type_num(reg0)}, var_off: ${tnum_strn(reg0.var_off)}`);
  }
  const imm = reg0.var_off.value;
  if (nfp_prog.type === BPF_PROG_TYPE.SCHED_CLS && imm <= BigInt(TC_ACT_REDIRECT)
    && imm !== BigInt(TC_ACT_SHOT) && imm !== BigInt(TC_ACT_STOLEN) && imm !== BigInt(TC_ACT_QUEUED)) {
    refuse(env, 'EINVAL', `unsupported exit state: ${nfp_reg_type_num(reg0)}, imm: ${imm.toString(16)}`);
  }
}

function nfp_bpf_check_stack_access(meta: NfpInsnMeta, reg: RegState, env: VerifierEnv): void {
  if (reg.frameno !== env.cur.curframe) meta.flags |= FLAG_INSN_PTR_CALLER_STACK_FRAME;
  if (!isConst(reg)) refuse(env, 'EINVAL', 'variable ptr stack access');
  if (meta.ptr.type === 'not_init') return;
  const old_off = constOff(meta.ptr);
  const new_off = constOff(reg);
  meta.ptr_not_const ||= old_off !== new_off;
  if (!meta.ptr_not_const) return;
  if (old_off % 4 === new_off % 4) return;
  refuse(env, 'EINVAL', `stack access changed location was:${old_off} is:${new_off}`);
}

function nfp_bpf_map_mark_used(env: VerifierEnv, meta: NfpInsnMeta, reg: RegState, use: NfpBpfMapUse): void {
  if (!isConst(reg)) refuse(env, 'EOPNOTSUPP', 'map value offset is variable');
  const off = Number(BigInt.asIntN(64, reg.var_off.value)) + meta.insn.off + reg.off;
  const size = ldstBytes(meta);
  const nfp_map = nfpMapOf(reg);
  // Only offloaded maps reach here (the map's lddw was checked); a value pointer without one is a bug.
  if (nfp_map === undefined) refuse(env, 'EINVAL', 'offload device mismatch between prog and map');
  if (off + size > nfp_map.offmap.value_size) refuse(env, 'EINVAL', 'map value access out-of-bounds');
  for (let i = 0; i < size; i += 4 - ((off + i) % 4)) {
    const err = nfp_bpf_map_mark_used_one(nfp_map, off + i, use);
    if (err !== null) refuse(env, 'EOPNOTSUPP', err);
  }
}

function nfp_bpf_check_ptr(nfp_prog: NfpProg, meta: NfpInsnMeta, env: VerifierEnv, reg_no: number): void {
  const reg = env.regs()[reg_no]!;
  if (!NFP_BPF_MEM_PTR_TYPES.has(reg.type) || reg.maybeNull) {
    refuse(env, 'EINVAL', `unsupported ptr type: ${nfp_reg_type_num(reg)}`);
  }
  if (reg.type === 'fp') nfp_bpf_check_stack_access(meta, reg, env);
  if (reg.type === 'map_value') {
    if (isLoad(meta)) nfp_bpf_map_mark_used(env, meta, reg, NFP_MAP_USE_READ);
    if (isStore(meta)) refuse(env, 'EOPNOTSUPP', 'map writes not supported');
    if (isAtomic(meta)) nfp_bpf_map_mark_used(env, meta, reg, NFP_MAP_USE_ATOMIC_CNT);
  }
  // nfp-emu: the context loads the JIT has code for (support.ts), refused here rather than at translation.
  if (reg.type === 'ctx' && isLoad(meta) && !nfp_bpf_ctx_load_ok(nfp_prog.type, meta.insn.off, ldstBytes(meta))) {
    refuse(env, 'EOPNOTSUPP', `unsupported load from context field at offset ${meta.insn.off} size ${ldstBytes(meta)}`);
  }
  if (meta.ptr.type !== 'not_init' && meta.ptr.type !== reg.type) {
    refuse(env, 'EINVAL', `ptr type changed for instruction ${nfp_reg_type_num(meta.ptr)} -> ${nfp_reg_type_num(reg)}`);
  }
  // nfp-emu: prog->aux->max_pkt_offset, as check_packet_access() keeps it (plus one: see prog.ts).
  if (reg.type === 'pkt') {
    const end = meta.insn.off + reg.off + Number(reg.umax_value) + ldstBytes(meta);
    if (end > nfp_prog.max_pkt_offset) nfp_prog.max_pkt_offset = end;
  }
  meta.ptr = copyReg(reg);
}

function nfp_bpf_check_store(nfp_prog: NfpProg, meta: NfpInsnMeta, env: VerifierEnv): void {
  const reg = env.regs()[meta.insn.dst]!;
  if (reg.type === 'ctx') {
    if (nfp_prog.type === BPF_PROG_TYPE.XDP && meta.op?.kind === 'stx' && nfp_bpf_ctx_store_ok(nfp_prog.type, meta.insn.off, ldstBytes(meta))) {
      if (!nfp_prog.bpf.queue_select) refuse(env, 'EOPNOTSUPP', 'queue selection not supported by FW');
    } else {
      refuse(env, 'EOPNOTSUPP', 'unsupported store to context field');
    }
  }
  nfp_bpf_check_ptr(nfp_prog, meta, env, meta.insn.dst);
}

function nfp_bpf_check_atomic(nfp_prog: NfpProg, meta: NfpInsnMeta, env: VerifierEnv): void {
  const regs = env.regs();
  const sreg = regs[meta.insn.src]!;
  const dreg = regs[meta.insn.dst]!;
  if (meta.insn.imm !== BPF_ADD) refuse(env, 'EOPNOTSUPP', `atomic op not implemented: ${meta.insn.imm}`);
  if (dreg.type !== 'map_value' || dreg.maybeNull) refuse(env, 'EOPNOTSUPP', `atomic add not to a map value pointer: ${nfp_reg_type_num(dreg)}`);
  if (sreg.type !== 'scalar') refuse(env, 'EOPNOTSUPP', `atomic add not of a scalar: ${nfp_reg_type_num(sreg)}`);
  meta.xadd_over_16bit ||= sreg.var_off.value > 0xffffn || sreg.var_off.mask > 0xffffn;
  meta.xadd_maybe_16bit ||= (sreg.var_off.value & ~sreg.var_off.mask) <= 0xffffn;
  nfp_bpf_check_ptr(nfp_prog, meta, env, meta.insn.dst);
}

function nfp_bpf_check_alu(meta: NfpInsnMeta, env: VerifierEnv): void {
  const op = meta.op;
  if (op?.kind !== 'alu') return;
  const regs = env.regs();
  const sreg = regs[meta.insn.src]!;
  const dreg = regs[meta.insn.dst]!;
  if (sreg.umin_value < meta.umin_src) meta.umin_src = sreg.umin_value;
  if (sreg.umax_value > meta.umax_src) meta.umax_src = sreg.umax_value;
  if (dreg.umin_value < meta.umin_dst) meta.umin_dst = dreg.umin_value;
  if (dreg.umax_value > meta.umax_dst) meta.umax_dst = dreg.umax_value;
  const u32max = BigInt(U32_MAX);

  // The NFP multiplies u16 and u32 operands. For ALU64 an immediate is sign-extended to 64 bits, so a
  // negative one cannot be a u32; for ALU32 only the low half of the product counts, so it can.
  if (op.op === 'mul') {
    if (meta.umax_dst > u32max) refuse(env, 'EINVAL', 'multiplier is not within u32 value range');
    if (op.srcReg && meta.umax_src > u32max) refuse(env, 'EINVAL', 'multiplicand is not within u32 value range');
    if (op.alu64 && !op.srcReg && meta.insn.imm < 0) refuse(env, 'EINVAL', "sign extended multiplicand won't be within u32 value range");
  }
  // No divide instruction: division by a constant becomes a reciprocal multiplication, so both the
  // dividend and the divisor must fit a u32. A negative BPF_K can only come from hand-written assembly.
  if (op.op === 'div') {
    if (meta.umax_dst > u32max) refuse(env, 'EINVAL', 'dividend is not within u32 value range');
    if (op.srcReg) {
      if (meta.umin_src !== meta.umax_src) refuse(env, 'EINVAL', 'divisor is not constant');
      if (meta.umax_src > u32max) refuse(env, 'EINVAL', 'divisor is not within u32 value range');
    }
    if (!op.srcReg && meta.insn.imm < 0) refuse(env, 'EINVAL', 'divide by negative constant is not supported');
  }
}

/** nfp-emu: a map an instruction loads must be this device's (offloaded) or offload-neutral. */
function nfp_bpf_check_map_ld(nfp_prog: NfpProg, env: VerifierEnv, insn_idx: number): void {
  const m = env.opts.ldImm.get(insn_idx);
  if (m === undefined) return;
  const map = m.map;
  if (map.map_type === 4 /* BPF_MAP_TYPE_PERF_EVENT_ARRAY, offload-neutral */) return;
  const priv = bpf_map_is_offloaded(map) ? map.dev_priv : undefined;
  // nfp-emu: a prog array on the card is the tail-call table (paper-only, tail_call.ts).
  const nfp_map = priv instanceof NfpBpfMap || priv instanceof NfpBpfProgArray ? priv : undefined;
  if (nfp_map === undefined || nfp_map.bpf !== nfp_prog.bpf) {
    env.log.write('offload device mismatch between prog and map\n');
    throw new BpfError('EINVAL', 'offload device mismatch between prog and map');
  }
}

/** nfp-emu: each subprogram's stack depth, from every frame of the state (see the top of the file). */
function nfp_record_stack_depth(nfp_prog: NfpProg, env: VerifierEnv): void {
  const seen = nfp_prog.subprog_stack_seen;
  for (const f of env.cur.frames) {
    if ((seen[f.subprogno] ?? 0) < f.allocated) seen[f.subprogno] = f.allocated;
  }
}

/** nfp_verify_insn(): the insn_hook. */
export function nfp_verify_insn(nfp_prog: NfpProg, env: VerifierEnv, insn_idx: number, _prev_insn_idx: number): void {
  const meta = nfp_prog.insns[insn_idx];
  if (meta === undefined) throw new BpfError('EFAULT', `nfp: verifier at instruction ${insn_idx} beyond the program`);
  nfp_record_stack_depth(nfp_prog, env);
  if (!nfp_bpf_supported_opcode(meta.op)) {
    const c = meta.insn.code;
    refuse(env, 'EINVAL', `instruction ${c === 0 ? '0' : `0x${c.toString(16)}`} not supported`);
  }
  if (meta.insn.src >= MAX_BPF_REG || meta.insn.dst >= MAX_BPF_REG) {
    refuse(env, 'EINVAL', 'program uses extended registers - jit hardening?');
  }
  const op = meta.op!;
  if (op.kind === 'call' && op.target === 'helper') return nfp_bpf_check_helper_call(nfp_prog, env, meta);
  if (op.kind === 'exit') return nfp_bpf_check_exit(nfp_prog, env);
  if (isLoad(meta)) return nfp_bpf_check_ptr(nfp_prog, meta, env, meta.insn.src);
  if (isStore(meta)) return nfp_bpf_check_store(nfp_prog, meta, env);
  if (isAtomic(meta)) return nfp_bpf_check_atomic(nfp_prog, meta, env);
  if (op.kind === 'alu') return nfp_bpf_check_alu(meta, env);
  if (op.kind === 'lddw') return nfp_bpf_check_map_ld(nfp_prog, env, insn_idx);
}

// ---------------------------------------------------------------------------------------------------
// finalize

/** nfp_assign_subprog_idx_and_regs(): which subprogram each instruction is in, and which save R6-R9. */
function nfp_assign_subprog_idx_and_regs(env: VerifierEnv, nfp_prog: NfpProg): void {
  let index = 0;
  for (const meta of nfp_prog.insns) {
    if (nfp_is_subprog_start(meta)) index++;
    meta.subprog_idx = index;
    if (meta.insn.dst >= 6 && meta.insn.dst <= 9 && index < nfp_prog.subprog.length) nfp_prog.subprog[index]!.needs_reg_push = true;
  }
  if (index + 1 !== nfp_prog.subprog_cnt) {
    // The kernel logs this and carries on; its JIT would then index past the subprogram table.
    refuse(env, 'EFAULT', `BUG: number of processed BPF functions is not consistent (processed ${index + 1}, expected ${nfp_prog.subprog_cnt})`);
  }
}

const roundUp = (x: number, a: number): number => Math.ceil(x / a) * a;

/**
 * nfp_bpf_get_stack_usage(): the deepest chain of frames from the main program through its calls,
 * each frame rounded up to 64 B (STACK_FRAME_ALIGN) as the JIT places them.
 */
export function nfp_bpf_get_stack_usage(nfp_prog: NfpProg): number {
  const calls: Set<number>[] = nfp_prog.subprog.map(() => new Set<number>());
  for (const meta of nfp_prog.insns) {
    if (meta.op?.kind === 'call' && meta.op.target === 'local' && meta.jmp_dst !== null) calls[meta.subprog_idx]!.add(meta.jmp_dst.subprog_idx);
  }
  const memo = new Map<number, number>();
  const depth = (idx: number): number => {
    const known = memo.get(idx);
    if (known !== undefined) return known;
    let deepest = 0;
    for (const c of calls[idx] ?? []) deepest = Math.max(deepest, depth(c));
    const d = roundUp(nfp_prog.subprog[idx]!.stack_depth, STACK_FRAME_ALIGN) + deepest;
    memo.set(idx, d);
    return d;
  };
  return depth(0);
}

/** nfp_bpf_finalize(): after a successful walk. */
export function nfp_bpf_finalize(nfp_prog: NfpProg, env: VerifierEnv): void {
  nfp_prog.subprog_cnt = env.subprogs.length;
  nfp_prog.subprog = env.subprogs.map(() => ({ stack_depth: 0, needs_reg_push: false }));
  nfp_assign_subprog_idx_and_regs(env, nfp_prog);
  for (let i = 0; i < nfp_prog.subprog_cnt; i++) {
    const info = nfp_prog.subprog[i]!;
    info.stack_depth = Math.max(env.stackDepth[i] ?? 0, nfp_prog.subprog_stack_seen[i] ?? 0);
    if (i === 0) continue;
    // Account for the return address, and for the saved registers if necessary.
    info.stack_depth += REG_WIDTH;
    if (info.needs_reg_push) info.stack_depth += BPF_REG_SIZE * 4;
  }
  const max_stack = nfp_prog.bar.readb(NFP_NET_CFG_BPF_STACK_SZ) * 64;
  nfp_prog.stack_size = nfp_bpf_get_stack_usage(nfp_prog);
  if (nfp_prog.stack_size > max_stack) refuse(env, 'EOPNOTSUPP', `stack too large: program ${nfp_prog.stack_size}B > FW stack ${max_stack}B`);
  // nfp_bpf_insn_flag_zext()
  for (const meta of nfp_prog.insns) if (env.aux[meta.n]?.zext_dst === true) meta.flags |= FLAG_INSN_DO_ZEXT;
  // nfp-emu: a prog array first used by this program holds programs of its type (map->owner.type).
  for (const meta of nfp_prog.insns) if (meta.tc_map !== null && meta.tc_map.owner_type === 0) meta.tc_map.owner_type = nfp_prog.type;
}

// ---------------------------------------------------------------------------------------------------
// The verifier's dead-code rewrites

const isCondJump = (meta: NfpInsnMeta): boolean => meta.op?.kind === 'jcond';
const hhx = (v: number): string => (v & 0xff).toString(16);

/**
 * nfp_bpf_opt_replace_insn(): only a conditional jump hard-wired into a JA to its own target (always
 * taken) or to the next instruction (never taken) is acceptable. `off` is the instruction's original
 * index (the verifier here does not renumber before it calls).
 */
export function nfp_bpf_opt_replace_insn(nfp_prog: NfpProg, env: VerifierEnv, off: number, insn: Insn): void {
  const meta = nfp_prog.insns[off];
  if (meta !== undefined && isCondJump(meta) && insn.code === (BPF_JMP | BPF_JA)) {
    const tgt_off = off + insn.off + 1;
    if (insn.off === 0) {
      meta.jmp_dst = nfp_prog.insns[off + 1] ?? null;
      meta.jump_neg_op = false;
    } else if (meta.jmp_dst?.n !== tgt_off) {
      refuse(env, 'EINVAL', `branch hard wire at ${off} changes target ${meta.jmp_dst?.n ?? -1} -> ${tgt_off}`);
    }
    return;
  }
  refuse(env, 'EINVAL', `unsupported instruction replacement ${hhx(meta?.insn.code ?? 0)} -> ${hhx(insn.code)}`);
}

/** nfp_bpf_opt_remove_insns(): the removed instructions emit nothing. */
export function nfp_bpf_opt_remove_insns(nfp_prog: NfpProg, env: VerifierEnv, off: number, cnt: number): void {
  let k = off;
  for (let i = 0; i < cnt; i++, k++) {
    const meta = nfp_prog.insns[k];
    if (meta === undefined) throw new BpfError('EINVAL', `nfp: removing ${cnt} instructions at ${off} runs past the program`);
    // Doesn't count if it already has the flag.
    if (meta.flags & FLAG_INSN_SKIP_VERIFIER_OPT) i--;
    meta.flags |= FLAG_INSN_SKIP_VERIFIER_OPT;
  }
  void env;
}
