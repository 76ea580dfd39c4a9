// The nfp driver's per-program state and its struct bpf_prog_offload_ops (drivers/net/ethernet/netronome/
// nfp/bpf/main.h: struct nfp_prog, struct nfp_insn_meta; offload.c: nfp_bpf_verifier_prep(),
// nfp_bpf_translate(), nfp_bpf_destroy(), nfp_map_ptrs_record(), nfp_bpf_offload_check_mtu() and the
// load-time checks of nfp_net_bpf_load()).
//
// The flow, as the kernel drives it for BPF_PROG_LOAD with prog_ifindex:
//   prepare(offload, env)       allocate nfp_prog: one nfp_insn_meta per instruction slot, jump targets
//   insn_hook(offload, env,..)  verifier.ts: every instruction of every path; records what the walk
//                               proved into the metas, refuses with an "[nfp] " line what the NIC cannot do
//   finalize(offload, env)      verifier.ts: stack across the call graph, zext flags, subprograms
//   replace_insn / remove_insns the verifier's dead-code rewrites (verifier.ts)
//   translate(offload, prog)    jit.ts: metas -> NFP words (relocation type in the top byte); the image
//                               bpftool dumps; nfp_bpf_relo_for_vnic() makes the loadable copy per vNIC
//   destroy(offload)            forget the neutral (perf event) map records
//
// `offload` is the kernel's struct bpf_prog_offload, typed here by what the driver reads from it (the
// offload device's priv is the NfpAppBpf; the net device leads to the vNIC's BAR), so the object the
// kernel's program-offload plumbing passes fits without this file depending on it.

import { BpfError } from '../../bpf/errno.js';
import type { Insn } from '../../bpf/insn.js';
import type { OpInfo } from '../../bpf/opcodes.js';
import type { BpfMap } from '../../kernel/maps/map.js';
import type { NetDevice } from '../../kernel/net/netdev.js';
import type { TestRunAttr, TestRunResult } from '../../kernel/syscall.js';
import type { BpfOffloadOps, LdImmMap, VerifierEnv } from '../../kernel/verifier/verifier.js';
import { notInitReg, type RegState } from '../../kernel/verifier/state.js';
import { NFP_NET_CFG_BPF_DONE, NFP_NET_CFG_BPF_MAX_LEN, NFP_NET_CFG_BPF_START, type NfpNetCtrlBar } from '../../nic/ctrl-bar.js';
import { nfp_bpf_jit, nfp_bpf_jit_prepare, nfp_bpf_relo_for_vnic, type NfpJitOptions } from './jit.js';
import { NfpAppBpf, type NfpBpfNeutralMap } from './main.js';
import { nfp_port_from_netdev } from './probe.js';
import type { NfpInstrCb } from './support.js';
import type { NfpBpfProgArray } from './tail_call.js';
import { nfp_bpf_prog_test_run } from './xdp.js';
import { nfp_bpf_finalize, nfp_bpf_opt_remove_insns, nfp_bpf_opt_replace_insn, nfp_verify_insn } from './verifier.js';

// ---------------------------------------------------------------------------------------------------
// struct nfp_insn_meta

export const FLAG_INSN_IS_JUMP_DST = 1 << 0;
export const FLAG_INSN_IS_SUBPROG_START = 1 << 1;
export const FLAG_INSN_PTR_CALLER_STACK_FRAME = 1 << 2;
/** Instruction is pointless, noop even on its own. */
export const FLAG_INSN_SKIP_NOOP = 1 << 3;
/** Instruction is optimized out based on preceding instructions. */
export const FLAG_INSN_SKIP_PREC_DEPENDENT = 1 << 4;
/** Instruction is optimized (removed) by the verifier. */
export const FLAG_INSN_SKIP_VERIFIER_OPT = 1 << 5;
/** Instruction needs to zero extend to high 32-bit. */
export const FLAG_INSN_DO_ZEXT = 1 << 6;
export const FLAG_INSN_SKIP_MASK = FLAG_INSN_SKIP_NOOP | FLAG_INSN_SKIP_PREC_DEPENDENT | FLAG_INSN_SKIP_VERIFIER_OPT;

export const U64_MAX = 0xffffffffffffffffn;
export const U32_MAX = 0xffffffff;
/** nfp_prog.adjust_head_location when the fast adjust_head may not be used. */
export const UINT_MAX = 0xffffffff;
/** Frames of BPF-to-BPF calls start 64 B aligned in LMEM (STACK_FRAME_ALIGN). */
export const STACK_FRAME_ALIGN = 64;

/**
 * Which of the stack access cases (facts 1.8) the JIT chose for a stack load or store: 1 LM pointer 0
 * at a constant offset in the frame's bottom 64 B; 2 LM pointer 3 set to a 32 B-aligned window; 3 LM
 * pointer 3 with post-increment across a 32 B boundary; 4 LM pointer 3 computed at run time (offset
 * differs between paths, or a pointer into the caller's frame); 5 as 1, but a sub-word piece beyond
 * the restricted operands' reach goes through a GPR (read-modify-write).
 */
export type NfpStackCase = 1 | 2 | 3 | 4 | 5;

/** struct nfp_insn_meta: one BPF instruction slot and what the verifier proved about it. */
export class NfpInsnMeta {
  /** The instruction; the optimisation passes may rewrite it (neg add/sub, map pointers). */
  insn: Insn;
  // pointer ops (ld/st/xadd)
  /** The pointer register on the last path the verifier walked (NOT_INIT: never recorded). */
  ptr: RegState = notInitReg();
  ptr_not_const = false;
  /** nfp_bpf_opt_ldst_gather: length of the memcpy this load heads (negative: descending). */
  ldst_gather_len = 0;
  paired_st: Insn | null = null;
  readonly pkt_cache = { range_start: 0, range_end: 0, do_init: false };
  xadd_over_16bit = false;
  xadd_maybe_16bit = false;
  // jumps
  jmp_dst: NfpInsnMeta | null = null;
  jump_neg_op = false;
  num_insns_after_br = 0;
  // function calls
  func_id = 0;
  /** nfp-emu, PAPER-ONLY: the device prog array a bpf_tail_call here goes through (one on every path). */
  tc_map: NfpBpfProgArray | null = null;
  arg1: RegState = notInitReg();
  readonly arg2: { reg: RegState; var_off: boolean } = { reg: notInitReg(), var_off: false };
  // ALU operand ranges over every path (the verifier's umin/umax of source and destination)
  umin_src = 0n;
  umax_src = 0n;
  umin_dst = 0n;
  umax_dst = 0n;
  /** Index of the first NFP instruction generated for it. */
  off = 0;
  flags = 0;
  subprog_idx = 0;
  /** The callback for the next slot (the second half of a lddw). */
  double_cb: NfpInstrCb | 'imm_ld8_part2' | null = null;
  /** nfp-emu: the stack access case the JIT took (0: not a stack access), for tests and dumps. */
  stack_case: 0 | NfpStackCase = 0;

  constructor(insn: Insn, readonly n: number, readonly op: OpInfo | undefined) {
    this.insn = { ...insn };
    if (op?.kind === 'alu') {
      this.umin_src = U64_MAX;
      this.umin_dst = U64_MAX;
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// struct nfp_prog

/** struct nfp_bpf_subprog_info. */
export interface NfpBpfSubprogInfo {
  stack_depth: number;
  needs_reg_push: boolean;
}

/** struct nfp_bpf_vnic: where a vNIC loads programs and where they end. */
export interface NfpBpfVnic {
  /** NFP_NET_CFG_BPF_START: the code-store address programs are relocated to. */
  readonly start_off: number;
  /** NFP_NET_CFG_BPF_DONE: the firmware's "next packet" address (RELO_BR_NEXT_PKT's target). */
  readonly tgt_done: number;
}

/** nfp_bpf_vnic_alloc(): the vNIC's BPF registers the driver keeps (nfp_net_ctrl.h, BPF section). */
export function nfp_bpf_vnic_of(bar: NfpNetCtrlBar): NfpBpfVnic {
  return { start_off: bar.readw(NFP_NET_CFG_BPF_START), tgt_done: bar.readw(NFP_NET_CFG_BPF_DONE) };
}

/** struct nfp_prog. */
export class NfpProg {
  /** Machine code: 64-bit words, relocation type in the top byte until nfp_bpf_relo_for_vnic(). */
  prog: bigint[] = [];
  /** The code store's room (BPF_MAX_LEN), in instructions (__prog_alloc_len / 8). */
  prog_alloc_len = 0;
  stack_size = 0;
  last_bpf_off = 0;
  tgt_out = 0;
  tgt_abort = 0;
  tgt_call_push_regs = 0;
  tgt_call_pop_regs = 0;
  n_translated = 0;
  error: BpfError | null = null;
  stack_frame_depth = 0;
  /** 0: no adjust_head seen yet; an instruction index: its single constant call; UINT_MAX: no fast path. */
  adjust_head_location = 0;
  subprog_cnt = 0;
  subprog: NfpBpfSubprogInfo[] = [];
  readonly insns: NfpInsnMeta[];
  /** The perf event arrays the image names by id (nfp_map_ptrs_record). */
  map_records: NfpBpfNeutralMap[] = [];
  /**
   * nfp-emu: one past the furthest packet byte a direct access may touch, recorded by the hook (the core
   * verifier here keeps no prog->aux->max_pkt_offset). The kernel keeps the last byte's offset and checks
   * `fw_mtu < min(max_pkt_offset, mtu)`, which lets a program read the first byte past the split point;
   * one past makes the same check exact.
   */
  max_pkt_offset = 0;
  /** nfp-emu: the deepest stack byte each subprogram touched (what env->subprog_info[].stack_depth holds). */
  readonly subprog_stack_seen: number[] = [];

  constructor(
    readonly bpf: NfpAppBpf,
    /** enum bpf_prog_type */
    readonly type: number,
    insns: readonly Insn[],
    ops: readonly (OpInfo | undefined)[],
    /** lddw index -> map (the kernel has the map pointer in the instruction). */
    readonly ldImm: ReadonlyMap<number, LdImmMap>,
    /** The vNIC the program is bound to (its BAR: stack size, code-store room, split point). */
    readonly bar: NfpNetCtrlBar,
  ) {
    this.insns = insns.map((x, i) => new NfpInsnMeta(x, i, ops[i]));
  }

  get n_insns(): number {
    return this.insns.length;
  }

  get prog_len(): number {
    return this.prog.length;
  }

  /** nfp_bpf_relo_for_vnic(): the image as this vNIC loads it. */
  relo_for_vnic(bv: NfpBpfVnic): bigint[] {
    return nfp_bpf_relo_for_vnic(this, bv);
  }
}

export const nfp_is_subprog_start = (meta: NfpInsnMeta): boolean => (meta.flags & FLAG_INSN_IS_SUBPROG_START) !== 0;

// ---------------------------------------------------------------------------------------------------
// struct bpf_prog_offload_ops

/** The parts of the kernel's struct bpf_prog_offload the driver uses. */
export interface NfpProgOffload {
  readonly offdev: { readonly priv: unknown };
  readonly netdev: NetDevice;
  dev_priv: unknown;
  opt_failed: boolean;
  jited_image: Uint8Array | null;
}

function nfp_app_bpf_of(offload: NfpProgOffload): NfpAppBpf {
  const bpf = offload.offdev.priv;
  if (!(bpf instanceof NfpAppBpf)) throw new BpfError('EINVAL', 'nfp: the offload device is not an NFP BPF app');
  return bpf;
}

/** netdev_priv(offload->netdev): the vNIC's control BAR. */
export function nfp_bar_of(netdev: NetDevice): NfpNetCtrlBar {
  const p = nfp_port_from_netdev(netdev);
  if (p === undefined) throw new BpfError('ENODEV', `nfp: ${netdev.name} is not an nfp port`);
  return p.port.bar;
}

/** offload->dev_priv, which prepare set. */
export function nfp_prog_of(offload: NfpProgOffload): NfpProg {
  const p = offload.dev_priv;
  if (!(p instanceof NfpProg)) throw new Error('BUG: nfp: program offload without its nfp_prog (prepare did not run)');
  return p;
}

/** nfp_bpf_verifier_prep(): allocate nfp_prog and its metas, record jump targets. */
function nfp_bpf_verifier_prep(offload: NfpProgOffload, env: VerifierEnv): void {
  const nfp_prog = new NfpProg(nfp_app_bpf_of(offload), env.opts.progType, env.insns, env.ops, env.opts.ldImm, nfp_bar_of(offload.netdev));
  nfp_bpf_jit_prepare(nfp_prog);
  offload.dev_priv = nfp_prog;
}

/** Translation options for tests and measurements (the kernel has none). */
let jitOptions: NfpJitOptions = {};

/** nfp-emu: JIT options for the next translations (e.g. zero-extend every ALU32 result, as before v5.3). */
export function nfp_bpf_set_jit_options(opts: NfpJitOptions): void {
  jitOptions = opts;
}

/**
 * nfp_bpf_translate(): JIT into the room the vNIC advertises (BPF_MAX_LEN instructions); the image
 * (with relocation types in the top byte, as bpftool shows it) becomes offload->jited_image.
 */
function nfp_bpf_translate(offload: NfpProgOffload): void {
  const nfp_prog = nfp_prog_of(offload);
  // We depend on dead code elimination succeeding.
  if (offload.opt_failed) throw new BpfError('EINVAL', 'nfp: the verifier\'s dead code elimination failed for this device');
  nfp_prog.prog_alloc_len = nfp_prog.bar.readw(NFP_NET_CFG_BPF_MAX_LEN);
  nfp_bpf_jit(nfp_prog, jitOptions);
  offload.jited_image = nfp_prog_image(nfp_prog);
  nfp_map_ptrs_record(nfp_prog);
}

/** nfp_bpf_destroy(). */
function nfp_bpf_destroy(offload: NfpProgOffload): void {
  const p = offload.dev_priv;
  if (p instanceof NfpProg) nfp_map_ptrs_forget(p);
  offload.dev_priv = null;
}

/**
 * struct bpf_prog_offload_ops nfp_bpf_dev_ops, in the shape the kernel's program-offload plumbing
 * calls (the offload binding first, as the kernel reaches it through env->prog->aux->offload).
 */
export const nfp_bpf_dev_ops = {
  insn_hook: (offload: NfpProgOffload, env: VerifierEnv, insn_idx: number, prev_insn_idx: number): void =>
    nfp_verify_insn(nfp_prog_of(offload), env, insn_idx, prev_insn_idx),
  finalize: (offload: NfpProgOffload, env: VerifierEnv): void => nfp_bpf_finalize(nfp_prog_of(offload), env),
  replace_insn: (offload: NfpProgOffload, env: VerifierEnv, off: number, insn: Insn): void =>
    nfp_bpf_opt_replace_insn(nfp_prog_of(offload), env, off, insn),
  remove_insns: (offload: NfpProgOffload, env: VerifierEnv, off: number, cnt: number): void =>
    nfp_bpf_opt_remove_insns(nfp_prog_of(offload), env, off, cnt),
  prepare: nfp_bpf_verifier_prep,
  translate: (offload: NfpProgOffload, _prog?: unknown): void => nfp_bpf_translate(offload),
  destroy: nfp_bpf_destroy,
  // nfp-emu's BPF_PROG_TEST_RUN on the card (xdp.ts); called late, so the import cycle
  // prog.ts -> xdp.ts -> prog.ts is harmless.
  test_run: (offload: NfpProgOffload, _prog: unknown, attr: TestRunAttr): Promise<TestRunResult> => nfp_bpf_prog_test_run(offload, attr),
};

/** The verifier's view of the ops for one program (what bpf_check() reaches through env->prog). */
export function nfp_bpf_verifier_ops(offload: NfpProgOffload): BpfOffloadOps {
  return {
    prepare: (env) => nfp_bpf_dev_ops.prepare(offload, env),
    insn_hook: (env, i, prev) => nfp_bpf_dev_ops.insn_hook(offload, env, i, prev),
    finalize: (env) => nfp_bpf_dev_ops.finalize(offload, env),
  };
}

// ---------------------------------------------------------------------------------------------------
// The image

/** The unrelocated image as bytes (little-endian words): bpf_prog_info.jited_prog_insns. */
export function nfp_prog_image(nfp_prog: NfpProg): Uint8Array {
  const out = new Uint8Array(nfp_prog.prog.length * 8);
  const dv = new DataView(out.buffer);
  nfp_prog.prog.forEach((w, i) => dv.setBigUint64(i * 8, w, true));
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Neutral maps (perf event arrays stay on the host; the image names them by id)

const isNeutral = (m: BpfMap): boolean => m.map_type === 4; // BPF_MAP_TYPE_PERF_EVENT_ARRAY

/** nfp_map_ptrs_record(): remember the perf event arrays so the firmware's events find them by id. */
function nfp_map_ptrs_record(nfp_prog: NfpProg): void {
  const bpf = nfp_prog.bpf;
  const seen = new Set<BpfMap>();
  for (const { map } of nfp_prog.ldImm.values()) {
    if (!isNeutral(map) || seen.has(map)) continue;
    seen.add(map);
    let record = bpf.maps_neutral.get(map.id);
    if (record !== undefined) {
      record.count++;
    } else {
      map.get();
      record = { ptr: map as unknown as NfpBpfNeutralMap['ptr'], map_id: map.id, count: 1 };
      bpf.maps_neutral.set(map.id, record);
    }
    nfp_prog.map_records.push(record);
  }
}

/** nfp_map_ptrs_forget(). */
function nfp_map_ptrs_forget(nfp_prog: NfpProg): void {
  const bpf = nfp_prog.bpf;
  const freed: NfpBpfNeutralMap[] = [];
  for (const r of nfp_prog.map_records) {
    if (--r.count > 0) continue;
    bpf.maps_neutral.delete(r.map_id);
    freed.push(r);
  }
  nfp_prog.map_records = [];
  // The kernel waits for an RCU grace period (the event path looks records up under RCU) before the put.
  const put = (): void => { for (const r of freed) (r.ptr as unknown as BpfMap).put(); };
  if (freed.length === 0) return;
  if (bpf.rcu !== undefined) void bpf.rcu.synchronize_rcu().then(put);
  else put();
}
