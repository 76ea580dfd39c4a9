// struct bpf_func_proto and the argument / return types of include/linux/bpf.h, the environment the
// helper implementations run in, and the argument plumbing they share.
//
// A helper table entry is { id, name, proto, impl } (see index.ts). The proto is what the verifier
// reads (a later issue): which registers carry what, whether the helper is GPL-only, whether it may
// touch packet memory. The impl is built once per environment and then called by both engines with
// the registers in x.R (r1 = R[2..3], ..., r5 = R[10..11]); it leaves r0 in R[0..1].
//
// A helper handed a pointer the verifier would have refused (only unverified code can do that) throws
// BpfError(EFAULT) naming the helper, as the exec layer does for a bad load.

import type { Logger } from 'pino';
import { BpfError } from '../../bpf/errno.js';
import type { ExecContext, HelperFn } from '../exec/context.js';
import { REGION_HI_BASE, formatPtr, type AddressSpace, type Region } from '../exec/memory.js';
import type { Fib } from '../net/route.js';
import type { NetDeviceRegistry } from '../net/netdev.js';
import type { TracePipe } from './bpf_trace.js';

// ------------------------------------------------------------------ enum bpf_arg_type / bpf_return_type

export type BpfArgBase =
  | 'ARG_DONTCARE'
  | 'ARG_CONST_MAP_PTR'
  | 'ARG_PTR_TO_MAP_KEY'
  | 'ARG_PTR_TO_MAP_VALUE'
  | 'ARG_PTR_TO_MEM'
  | 'ARG_PTR_TO_UNINIT_MEM'
  | 'ARG_CONST_SIZE'
  | 'ARG_CONST_SIZE_OR_ZERO'
  | 'ARG_PTR_TO_CTX'
  | 'ARG_ANYTHING';

/** enum bpf_type_flag bits that helper prototypes use. */
export type BpfTypeFlag = 'PTR_MAYBE_NULL' | 'MEM_RDONLY';

export interface BpfArg {
  readonly type: BpfArgBase;
  readonly flags: readonly BpfTypeFlag[];
}

export type BpfReturnType = 'RET_INTEGER' | 'RET_VOID' | 'RET_PTR_TO_MAP_VALUE_OR_NULL';

/** struct bpf_func_proto, less .func (the implementation sits next to it in the table). */
export interface BpfFuncProto {
  /** The kernel's symbol for the implementation (bpf_xdp_redirect), for logs and the verifier. */
  readonly func: string;
  readonly gpl_only: boolean;
  /** May be called with packet pointers as memory arguments. */
  readonly pkt_access: boolean;
  readonly ret_type: BpfReturnType;
  /** arg1_type .. arg5_type; missing ones are ARG_DONTCARE. */
  readonly arg_type: readonly BpfArg[];
  /** The helper may change the packet's data pointers: the verifier forgets every packet pointer. */
  readonly changes_pkt_data: boolean;
}

export const arg = (type: BpfArgBase, ...flags: BpfTypeFlag[]): BpfArg => ({ type, flags });

export function proto(p: {
  func: string;
  gpl_only?: boolean;
  pkt_access?: boolean;
  ret_type: BpfReturnType;
  args?: readonly BpfArg[];
  changes_pkt_data?: boolean;
}): BpfFuncProto {
  return {
    func: p.func, gpl_only: p.gpl_only ?? false, pkt_access: p.pkt_access ?? false, ret_type: p.ret_type,
    arg_type: p.args ?? [], changes_pkt_data: p.changes_pkt_data ?? false,
  };
}

// ------------------------------------------------------------------ the helper table entry

export interface BpfHelperDef {
  /** enum bpf_func_id */
  readonly id: number;
  /** bpf_map_lookup_elem */
  readonly name: string;
  readonly proto: BpfFuncProto;
  /** Builds the implementation for an environment; null where the engines do it (bpf_tail_call). */
  readonly impl: ((env: HelperEnv) => HelperFn) | null;
}

// ------------------------------------------------------------------ the environment

/** What a map pointer (a 'map' region's object) offers the helpers; BpfMap (maps/map.ts) satisfies it. */
export interface DatapathMap {
  readonly map_type: number;
  readonly key_size: number;
  readonly value_size: number;
  readonly max_entries: number;
  /** map->id: bpf_redirect_map records it in bpf_redirect_info. */
  readonly id: number;
  /** The memory the value offsets point into. */
  readonly mem: Uint8Array;
  lookupOffset(keyBuf: Uint8Array, keyOff: number, cpu: number): number;
  updateFromProg(keyBuf: Uint8Array, keyOff: number, valBuf: Uint8Array, valOff: number, flags: number, cpu: number): number;
  deleteFromProg(keyBuf: Uint8Array, keyOff: number): number;
}

/**
 * struct bpf_redirect_info, one per CPU: what bpf_redirect() / bpf_redirect_map() leave for the
 * driver's xdp_do_redirect() after the program returns XDP_REDIRECT.
 */
export class BpfRedirectInfo {
  flags = 0;
  tgt_index = 0;
  /**
   * tgt_value: for a map redirect, where the target's entry is (a byte offset into tgt_map.mem, for a
   * devmap the struct bpf_devmap_val); -1 when the lookup failed or for an ifindex redirect.
   */
  tgt_value = -1;
  tgt_map: DatapathMap | null = null;
  /** ri->map: set for BPF_F_BROADCAST redirects (the whole map is the target). */
  map: DatapathMap | null = null;
  map_id = 0;
  /** BPF_MAP_TYPE_UNSPEC (0) with map_id INT_MAX is an ifindex redirect. */
  map_type = 0;
}

/** The kernel state helpers reach. One per simulated host; per-CPU parts are indexed by x.cpu. */
export interface HelperEnv {
  readonly ncpus: number;
  readonly netdevs: NetDeviceRegistry;
  readonly fib: Fib;
  /** Per-CPU bpf_redirect_info. */
  readonly redirect: readonly BpfRedirectInfo[];
  /** Per-CPU struct rnd_state (s1..s4) for bpf_get_prandom_u32, 4 words per CPU. */
  readonly prandom: Uint32Array;
  /** ktime_get_mono_fast_ns() as a number of nanoseconds (exact below 2^53). */
  ktime_get_ns(): number;
  readonly trace: TracePipe;
  readonly log: Logger;
  /** The PTR_TO_MAP_VALUE region over a map's memory in an address space (one per map and space). */
  mapValueRegion(map: DatapathMap, mem: AddressSpace): Region;
}

// ------------------------------------------------------------------ register plumbing

/** r0 = a signed 32-bit result (0 or -errno), sign-extended as the kernel's int-to-u64 return is. */
export function retInt(x: ExecContext, v: number): void {
  x.R[0] = v | 0;
  x.R[1] = v < 0 ? -1 : 0;
}

/** r0 = an unsigned 32-bit result, zero-extended. */
export function retU32(x: ExecContext, v: number): void {
  x.R[0] = v | 0;
  x.R[1] = 0;
}

/** r0 = a non-negative integer below 2^53 (ktime). */
export function retU64(x: ExecContext, v: number): void {
  const hi = Math.floor(v / 0x100000000);
  x.R[0] = (v - hi * 0x100000000) | 0;
  x.R[1] = hi | 0;
}

export function efault(helper: string, what: string): BpfError {
  return new BpfError('EFAULT', `${helper}: ${what}`);
}

/**
 * The plain-memory region behind an ARG_PTR_TO_MEM-like argument register n (1-5) covering `len`
 * bytes, or EFAULT naming the helper. The offset is (x.R[2n] >>> 0).
 */
export function memArg(x: ExecContext, n: number, len: number, write: boolean, helper: string): Region {
  const hi = x.R[2 * n + 1]!, lo = x.R[2 * n]!;
  const r = x.env.mem.regions[(hi - REGION_HI_BASE) | 0];
  if (r === undefined || !r.plain || (lo >>> 0) + len > r.size || (write && !r.writable)) {
    throw efault(helper, `invalid ${write ? 'write' : 'read'} of ${len} bytes at r${n} = ${formatPtr(hi, lo)}`);
  }
  return r;
}

/** The map behind an ARG_CONST_MAP_PTR register n, with its region. */
export function mapArg(x: ExecContext, n: number, helper: string): Region {
  const hi = x.R[2 * n + 1]!;
  const r = x.env.mem.regions[(hi - REGION_HI_BASE) | 0];
  if (r === undefined || r.kind !== 'map' || x.R[2 * n] !== 0) {
    throw efault(helper, `r${n} = ${formatPtr(hi, x.R[2 * n]!)} is not a map pointer`);
  }
  return r;
}
