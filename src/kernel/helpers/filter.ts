// The XDP helpers of net/core/filter.c: bpf_xdp_adjust_head/meta/tail, bpf_xdp_redirect,
// bpf_xdp_redirect_map (__bpf_xdp_redirect_map of include/linux/filter.h), bpf_csum_diff,
// bpf_xdp_fib_lookup (bpf_ipv4_fib_lookup / bpf_ipv6_fib_lookup), bpf_xdp_event_output
// (bpf_perf_event_output for XDP), bpf_xdp_get_buff_len and bpf_xdp_load/store_bytes.
//
// The semantics are those of the kernel this emulator follows (6.18), checked against the running
// kernel with BPF_PROG_TEST_RUN where it differs from older releases:
//  - bpf_csum_diff() (6.13+) sums `to` and `from` separately with csum_partial() and folds the result
//    to 16 bits (csum_from32to16); sizes need not be multiples of 4 and are not capped at 512 bytes.
//    Before 6.13 it returned the unfolded 32-bit sum and refused such sizes with -EINVAL.
//  - metadata may be up to 255 bytes (a multiple of 4) since 6.6, not 32.
// csum_partial() is x86-64's: 64-bit little-endian words added with end-around carry, then folded to
// 32 bits; as one's-complement arithmetic does not care how words are grouped, it is computed here on
// 32-bit words.

import {
  BPF_FUNC, BPF_FUNC_csum_diff, BPF_FUNC_fib_lookup, BPF_FUNC_perf_event_output, BPF_FUNC_redirect,
  BPF_FUNC_redirect_map, BPF_FUNC_xdp_adjust_head, BPF_FUNC_xdp_adjust_meta, BPF_FUNC_xdp_adjust_tail,
} from '../../bpf/helpers.js';
import { BPF_MAP_TYPE } from '../../bpf/prog-types.js';
import { BpfError, errnoNumber } from '../../bpf/errno.js';
import type { ExecContext, HelperFn } from '../exec/context.js';
import { REGION_HI_BASE } from '../exec/memory.js';
import { AF_INET, AF_INET6, ETH_ALEN, ETH_HLEN } from '../net/netdev.js';
import {
  FIB_EACCES, FIB_EHOSTUNREACH, FIB_EINVAL, NUD_VALID, RTN_BLACKHOLE, RTN_PROHIBIT, RTN_UNICAST, RTN_UNREACHABLE,
  RT_TABLE_MAIN, rt6_need_strict,
} from '../net/route.js';
import { XDP_ABORTED, XDP_DROP, XDP_FRAME_SIZE, XDP_PASS, XDP_REDIRECT, XDP_TX, XdpBuff, xdp_metalen_invalid } from '../net/xdp.js';
import {
  arg, efault, mapArg, memArg, proto, retInt, retU32,
  type BpfHelperDef, type BpfRedirectInfo, type DatapathMap, type HelperEnv,
} from './proto.js';

const EINVAL = -errnoNumber('EINVAL');
const EACCES = -errnoNumber('EACCES');
const EFAULT = -errnoNumber('EFAULT');
const ENODEV = -errnoNumber('ENODEV');
const ENOTSUPP = -errnoNumber('ENOTSUPP');
/** bpf_xdp_fib_lookup's answer for an unknown address family. */
const EAFNOSUPPORT = -errnoNumber('EAFNOSUPPORT');
const INT_MAX = 0x7fffffff;

// Map types (enum bpf_map_type) bpf_redirect_map and perf_event_output look at.
const { UNSPEC: BPF_MAP_TYPE_UNSPEC, PERF_EVENT_ARRAY: BPF_MAP_TYPE_PERF_EVENT_ARRAY, DEVMAP: BPF_MAP_TYPE_DEVMAP,
  CPUMAP: BPF_MAP_TYPE_CPUMAP, XSKMAP: BPF_MAP_TYPE_XSKMAP, DEVMAP_HASH: BPF_MAP_TYPE_DEVMAP_HASH } = BPF_MAP_TYPE;

/** bpf_redirect_map flags (include/uapi/linux/bpf.h). */
export const BPF_F_BROADCAST = 1 << 3;
export const BPF_F_EXCLUDE_INGRESS = 1 << 4;

/** The XDP context in r1, or EFAULT: helpers taking ARG_PTR_TO_CTX get the context itself, offset 0. */
export function xdpCtx(x: ExecContext, helper: string): XdpBuff {
  const r = x.env.mem.regions[(x.R[3]! - REGION_HI_BASE) | 0];
  const o = r?.object;
  if (!(o instanceof XdpBuff) || r !== o.ctx || x.R[2] !== 0) throw efault(helper, 'r1 is not an XDP context');
  return o;
}

// ------------------------------------------------------------------ bpf_xdp_adjust_head

export const bpf_xdp_adjust_head_proto = proto({
  func: 'bpf_xdp_adjust_head', ret_type: 'RET_INTEGER', changes_pkt_data: true,
  args: [arg('ARG_PTR_TO_CTX'), arg('ARG_ANYTHING')],
});

/**
 * Move xdp->data by `offset` (an int): not below the xdp_frame area plus the metadata, and leaving at
 * least ETH_HLEN bytes. The metadata moves with it.
 */
export function xdp_adjust_head(xdp: XdpBuff, offset: number): number {
  const metalen = xdp.metalen;
  const dataStart = xdp.data_hard_start + XDP_FRAME_SIZE + metalen;
  const data = xdp.data + offset;
  if (data < dataStart || data > xdp.data_end - ETH_HLEN) return EINVAL;
  if (metalen !== 0) xdp.frame.copyWithin(xdp.data_meta + offset, xdp.data_meta, xdp.data_meta + metalen);
  xdp.data_meta += offset;
  xdp.data = data;
  return 0;
}

function bpf_xdp_adjust_head(_env: HelperEnv): HelperFn {
  return (x) => retInt(x, xdp_adjust_head(xdpCtx(x, 'bpf_xdp_adjust_head'), x.R[4]! | 0));
}

// ------------------------------------------------------------------ bpf_xdp_adjust_meta

export const bpf_xdp_adjust_meta_proto = proto({
  func: 'bpf_xdp_adjust_meta', ret_type: 'RET_INTEGER', changes_pkt_data: true,
  args: [arg('ARG_PTR_TO_CTX'), arg('ARG_ANYTHING')],
});

/**
 * Move xdp->data_meta by `offset`: -ENOTSUPP if the driver has no metadata room, -EINVAL outside
 * [end of xdp_frame, data], -EACCES for a length that is not a multiple of 4 or over 255 bytes.
 */
export function xdp_adjust_meta(xdp: XdpBuff, offset: number): number {
  if (xdp.meta_unsupported) return ENOTSUPP;
  const meta = xdp.data_meta + offset;
  if (meta < xdp.data_hard_start + XDP_FRAME_SIZE || meta > xdp.data) return EINVAL;
  if (xdp_metalen_invalid(xdp.data - meta)) return EACCES;
  xdp.data_meta = meta;
  return 0;
}

function bpf_xdp_adjust_meta(_env: HelperEnv): HelperFn {
  return (x) => retInt(x, xdp_adjust_meta(xdpCtx(x, 'bpf_xdp_adjust_meta'), x.R[4]! | 0));
}

// ------------------------------------------------------------------ bpf_xdp_adjust_tail

export const bpf_xdp_adjust_tail_proto = proto({
  func: 'bpf_xdp_adjust_tail', ret_type: 'RET_INTEGER', changes_pkt_data: true,
  args: [arg('ARG_PTR_TO_CTX'), arg('ARG_ANYTHING')],
});

/**
 * Move xdp->data_end by `offset`: not past xdp_data_hard_end() (the skb_shared_info tailroom is kept),
 * not below data + ETH_HLEN. Growing clears the new bytes (they may hold an earlier packet).
 */
export function xdp_adjust_tail(xdp: XdpBuff, offset: number): number {
  const dataEnd = xdp.data_end + offset;
  if (dataEnd > xdp.data_hard_end) return EINVAL;
  if (dataEnd < xdp.data + ETH_HLEN) return EINVAL;
  if (offset > 0) xdp.frame.fill(0, xdp.data_end, dataEnd);
  xdp.data_end = dataEnd;
  return 0;
}

function bpf_xdp_adjust_tail(_env: HelperEnv): HelperFn {
  return (x) => retInt(x, xdp_adjust_tail(xdpCtx(x, 'bpf_xdp_adjust_tail'), x.R[4]! | 0));
}

// ------------------------------------------------------------------ bpf_xdp_get_buff_len / load / store bytes

export const bpf_xdp_get_buff_len_proto = proto({
  func: 'bpf_xdp_get_buff_len', ret_type: 'RET_INTEGER', args: [arg('ARG_PTR_TO_CTX')],
});

function bpf_xdp_get_buff_len(_env: HelperEnv): HelperFn {
  return (x) => retU32(x, xdpCtx(x, 'bpf_xdp_get_buff_len').len);
}

export const bpf_xdp_load_bytes_proto = proto({
  func: 'bpf_xdp_load_bytes', ret_type: 'RET_INTEGER',
  args: [arg('ARG_PTR_TO_CTX'), arg('ARG_ANYTHING'), arg('ARG_PTR_TO_UNINIT_MEM'), arg('ARG_CONST_SIZE')],
});

export const bpf_xdp_store_bytes_proto = proto({
  func: 'bpf_xdp_store_bytes', ret_type: 'RET_INTEGER',
  args: [arg('ARG_PTR_TO_CTX'), arg('ARG_ANYTHING'), arg('ARG_PTR_TO_MEM', 'MEM_RDONLY'), arg('ARG_CONST_SIZE')],
});

/** bpf_xdp_pointer()'s checks on a linear buffer: 0, or -EFAULT / -EINVAL. */
function xdp_bytes_check(xdp: XdpBuff, offset: number, len: number): number {
  if (offset > 0xffff || len > 0xffff) return EFAULT;
  if (offset + len > xdp.len) return EINVAL;
  return 0;
}

function bpf_xdp_load_bytes(_env: HelperEnv): HelperFn {
  return (x) => {
    const xdp = xdpCtx(x, 'bpf_xdp_load_bytes');
    const offset = x.R[4]! >>> 0, len = x.R[8]! >>> 0;
    const buf = memArg(x, 3, len, true, 'bpf_xdp_load_bytes');
    const err = xdp_bytes_check(xdp, offset, len);
    if (err === 0) buf.u8.set(xdp.frame.subarray(xdp.data + offset, xdp.data + offset + len), x.R[6]! >>> 0);
    retInt(x, err);
  };
}

function bpf_xdp_store_bytes(_env: HelperEnv): HelperFn {
  return (x) => {
    const xdp = xdpCtx(x, 'bpf_xdp_store_bytes');
    const offset = x.R[4]! >>> 0, len = x.R[8]! >>> 0;
    const buf = memArg(x, 3, len, false, 'bpf_xdp_store_bytes');
    const err = xdp_bytes_check(xdp, offset, len);
    const from = x.R[6]! >>> 0;
    if (err === 0) xdp.frame.set(buf.u8.subarray(from, from + len), xdp.data + offset);
    retInt(x, err);
  };
}

// ------------------------------------------------------------------ bpf_xdp_redirect

export const bpf_xdp_redirect_proto = proto({
  func: 'bpf_xdp_redirect', ret_type: 'RET_INTEGER', args: [arg('ARG_ANYTHING'), arg('ARG_ANYTHING')],
});

/** Any flag is XDP_ABORTED; otherwise the target ifindex goes into this CPU's bpf_redirect_info. */
function bpf_xdp_redirect(env: HelperEnv): HelperFn {
  return (x) => {
    if ((x.R[4]! | x.R[5]!) !== 0) {
      retU32(x, XDP_ABORTED);
      return;
    }
    const ri = env.redirect[x.cpu]!;
    // NB: map type UNSPEC with map_id INT_MAX (never given out by the map idr) means "by ifindex".
    ri.tgt_index = x.R[2]! >>> 0;
    ri.map_id = INT_MAX;
    ri.map_type = BPF_MAP_TYPE_UNSPEC;
    retU32(x, XDP_REDIRECT);
  };
}

// ------------------------------------------------------------------ bpf_xdp_redirect_map

export const bpf_xdp_redirect_map_proto = proto({
  func: 'bpf_xdp_redirect_map', ret_type: 'RET_INTEGER',
  args: [arg('ARG_CONST_MAP_PTR'), arg('ARG_ANYTHING'), arg('ARG_ANYTHING')],
});

const ACTION_MASK = XDP_ABORTED | XDP_DROP | XDP_PASS | XDP_TX;

/**
 * __bpf_xdp_redirect_map(): the low bits of flags (XDP_ABORTED..XDP_TX) are the verdict when the key
 * has no entry; devmaps also take BPF_F_BROADCAST (the whole map, even without an entry) and
 * BPF_F_EXCLUDE_INGRESS. Any other flag is XDP_ABORTED.
 */
export function xdp_redirect_map(ri: BpfRedirectInfo, map: DatapathMap, keyBuf: Uint8Array, key: number, flagsLo: number, flagsHi: number, cpu: number): number {
  const devmap = map.map_type === BPF_MAP_TYPE_DEVMAP || map.map_type === BPF_MAP_TYPE_DEVMAP_HASH;
  const flagMask = devmap ? BPF_F_BROADCAST | BPF_F_EXCLUDE_INGRESS : 0;
  if (flagsHi !== 0 || (flagsLo & ~(ACTION_MASK | flagMask)) !== 0) return XDP_ABORTED;
  keyBuf[0] = key & 0xff; keyBuf[1] = (key >>> 8) & 0xff; keyBuf[2] = (key >>> 16) & 0xff; keyBuf[3] = key >>> 24;
  const value = map.lookupOffset(keyBuf, 0, cpu);
  ri.tgt_value = value;
  ri.tgt_map = value < 0 ? null : map;
  const broadcast = (flagsLo & BPF_F_BROADCAST) !== 0;
  if (value < 0 && !broadcast) {
    // A failed lookup clears the state, so that of several lookups the last one counts.
    ri.map_id = INT_MAX;
    ri.map_type = BPF_MAP_TYPE_UNSPEC;
    return flagsLo & ACTION_MASK;
  }
  ri.tgt_index = key >>> 0;
  ri.map_id = map.id;
  ri.map_type = map.map_type;
  if (broadcast) {
    ri.map = map;
    ri.flags = flagsLo;
  } else {
    ri.map = null;
    ri.flags = 0;
  }
  return XDP_REDIRECT;
}

function bpf_xdp_redirect_map(env: HelperEnv): HelperFn {
  const keyBuf = new Uint8Array(4);
  return (x) => {
    const map = mapArg(x, 1, 'bpf_redirect_map').object as DatapathMap;
    const t = map.map_type;
    if (t !== BPF_MAP_TYPE_DEVMAP && t !== BPF_MAP_TYPE_DEVMAP_HASH && t !== BPF_MAP_TYPE_CPUMAP && t !== BPF_MAP_TYPE_XSKMAP) {
      // What check_map_func_compatibility() refuses at load time.
      throw new BpfError('EINVAL', `cannot pass map_type ${t} into func bpf_redirect_map#${BPF_FUNC_redirect_map}`);
    }
    // The key is a u64 argument that the map's lookup takes as a u32.
    retU32(x, xdp_redirect_map(env.redirect[x.cpu]!, map, keyBuf, x.R[4]! >>> 0, x.R[6]!, x.R[7]!, x.cpu));
  };
}

/**
 * For the driver's xdp_do_redirect(): the ifindex a redirect recorded in `ri` goes to (an ifindex
 * redirect, or a devmap entry's struct bpf_devmap_val.ifindex), or 0 if there is none.
 */
export function xdp_redirect_target_ifindex(ri: BpfRedirectInfo): number {
  if (ri.map_type === BPF_MAP_TYPE_UNSPEC) return ri.map_id === INT_MAX ? ri.tgt_index : 0;
  if ((ri.map_type === BPF_MAP_TYPE_DEVMAP || ri.map_type === BPF_MAP_TYPE_DEVMAP_HASH) && ri.tgt_map !== null && ri.tgt_value >= 0) {
    const m = ri.tgt_map.mem, o = ri.tgt_value;
    return (m[o]! | (m[o + 1]! << 8) | (m[o + 2]! << 16) | (m[o + 3]! << 24)) >>> 0;
  }
  return 0;
}

// ------------------------------------------------------------------ bpf_csum_diff

export const bpf_csum_diff_proto = proto({
  func: 'bpf_csum_diff', pkt_access: true, ret_type: 'RET_INTEGER',
  args: [
    arg('ARG_PTR_TO_MEM', 'PTR_MAYBE_NULL', 'MEM_RDONLY'), arg('ARG_CONST_SIZE_OR_ZERO'),
    arg('ARG_PTR_TO_MEM', 'PTR_MAYBE_NULL', 'MEM_RDONLY'), arg('ARG_CONST_SIZE_OR_ZERO'), arg('ARG_ANYTHING'),
  ],
});

/**
 * x86-64 csum_partial(): the 32-bit one's-complement sum of `len` bytes at buf[off] read as
 * little-endian words (a short tail zero-padded), plus `sum`. 0 only when everything is 0.
 */
export function csum_partial(buf: Uint8Array, off: number, len: number, sum: number): number {
  let acc = sum >>> 0;
  const end = off + len;
  let i = off;
  for (; i + 4 <= end; i += 4) {
    acc += (buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24)) >>> 0;
    if (acc > 0xffffffff) acc -= 0xffffffff;
  }
  if (i < end) {
    let w = 0;
    for (let k = 0; i + k < end; k++) w |= buf[i + k]! << (8 * k);
    acc += w >>> 0;
    if (acc > 0xffffffff) acc -= 0xffffffff;
  }
  return acc;
}

/** csum_add() / csum_sub() on 32-bit sums (include/net/checksum.h). */
export function csum_add(a: number, b: number): number {
  const s = (a >>> 0) + (b >>> 0);
  return s > 0xffffffff ? s - 0xffffffff : s;
}

export function csum_sub(a: number, b: number): number {
  return csum_add(a, ~b >>> 0);
}

/** csum_from32to16(): fold a 32-bit sum to 16 bits with end-around carry. */
export function csum_from32to16(sum: number): number {
  const s = ((sum >>> 0) + (((sum >>> 16) | (sum << 16)) >>> 0)) >>> 0;
  return s >>> 16;
}

/** bpf_csum_diff() on already-resolved buffers (null with size 0 for an absent side). */
export function csum_diff(from: Uint8Array | null, fromOff: number, fromSize: number, to: Uint8Array | null, toOff: number, toSize: number, seed: number): number {
  let ret = seed >>> 0;
  if (fromSize !== 0 && toSize !== 0) ret = csum_sub(csum_partial(to!, toOff, toSize, ret), csum_partial(from!, fromOff, fromSize, 0));
  else if (toSize !== 0) ret = csum_partial(to!, toOff, toSize, ret);
  else if (fromSize !== 0) ret = ~csum_partial(from!, fromOff, fromSize, ~ret >>> 0) >>> 0;
  return csum_from32to16(ret);
}

function bpf_csum_diff(_env: HelperEnv): HelperFn {
  return (x) => {
    const fromSize = x.R[4]! >>> 0, toSize = x.R[8]! >>> 0;
    const from = fromSize === 0 ? null : memArg(x, 1, fromSize, false, 'bpf_csum_diff').u8;
    const to = toSize === 0 ? null : memArg(x, 3, toSize, false, 'bpf_csum_diff').u8;
    // __wsum seed: the low 32 bits of r5.
    retU32(x, csum_diff(from, x.R[2]! >>> 0, fromSize, to, x.R[6]! >>> 0, toSize, x.R[10]! >>> 0));
  };
}

// ------------------------------------------------------------------ bpf_xdp_fib_lookup

/** struct bpf_fib_lookup (include/uapi/linux/bpf.h): offsets of its fields and its size. */
export const BPF_FIB = {
  family: 0,
  l4_protocol: 1,
  sport: 2,
  dport: 4,
  tot_len: 6, // union with mtu_result
  ifindex: 8,
  tos: 12, // union with flowinfo (be32) and rt_metric (u32)
  ipv4_src: 16, // union with ipv6_src[4]
  ipv4_dst: 32, // union with ipv6_dst[4]
  h_vlan_proto: 48, // union with tbid (u32)
  h_vlan_TCI: 50,
  mark: 52, // union with smac[6] + dmac[6]
  smac: 52,
  dmac: 58,
} as const;
export const BPF_FIB_LOOKUP_SIZE = 64;

export const BPF_FIB_LOOKUP_DIRECT = 1 << 0;
export const BPF_FIB_LOOKUP_OUTPUT = 1 << 1;
export const BPF_FIB_LOOKUP_SKIP_NEIGH = 1 << 2;
export const BPF_FIB_LOOKUP_TBID = 1 << 3;
export const BPF_FIB_LOOKUP_SRC = 1 << 4;
export const BPF_FIB_LOOKUP_MARK = 1 << 5;
const BPF_FIB_LOOKUP_MASK = BPF_FIB_LOOKUP_DIRECT | BPF_FIB_LOOKUP_OUTPUT | BPF_FIB_LOOKUP_SKIP_NEIGH
  | BPF_FIB_LOOKUP_TBID | BPF_FIB_LOOKUP_SRC | BPF_FIB_LOOKUP_MARK;

export const BPF_FIB_LKUP_RET_SUCCESS = 0;
export const BPF_FIB_LKUP_RET_BLACKHOLE = 1;
export const BPF_FIB_LKUP_RET_UNREACHABLE = 2;
export const BPF_FIB_LKUP_RET_PROHIBIT = 3;
export const BPF_FIB_LKUP_RET_NOT_FWDED = 4;
export const BPF_FIB_LKUP_RET_FWD_DISABLED = 5;
export const BPF_FIB_LKUP_RET_UNSUPP_LWT = 6;
export const BPF_FIB_LKUP_RET_NO_NEIGH = 7;
export const BPF_FIB_LKUP_RET_FRAG_NEEDED = 8;
export const BPF_FIB_LKUP_RET_NO_SRC_ADDR = 9;

export const bpf_xdp_fib_lookup_proto = proto({
  func: 'bpf_xdp_fib_lookup', gpl_only: true, ret_type: 'RET_INTEGER',
  args: [arg('ARG_PTR_TO_CTX'), arg('ARG_PTR_TO_MEM'), arg('ARG_CONST_SIZE'), arg('ARG_ANYTHING')],
});

const be32 = (b: Uint8Array, o: number): number => ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
const putBe32 = (b: Uint8Array, o: number, v: number): void => {
  b[o] = v >>> 24; b[o + 1] = (v >>> 16) & 0xff; b[o + 2] = (v >>> 8) & 0xff; b[o + 3] = v & 0xff;
};
const le32 = (b: Uint8Array, o: number): number => (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
const putLe32 = (b: Uint8Array, o: number, v: number): void => {
  b[o] = v & 0xff; b[o + 1] = (v >>> 8) & 0xff; b[o + 2] = (v >>> 16) & 0xff; b[o + 3] = v >>> 24;
};
const le16 = (b: Uint8Array, o: number): number => b[o]! | (b[o + 1]! << 8);
const putLe16 = (b: Uint8Array, o: number, v: number): void => { b[o] = v & 0xff; b[o + 1] = (v >>> 8) & 0xff; };

/** bpf_fib_set_fwd_params(): no VLAN, and the MTU of the checked path. */
function fib_set_fwd_params(p: Uint8Array, o: number, mtu: number): number {
  putLe16(p, o + BPF_FIB.h_vlan_TCI, 0);
  putLe16(p, o + BPF_FIB.h_vlan_proto, 0);
  if (mtu !== 0) putLe16(p, o + BPF_FIB.tot_len, mtu); // mtu_result, a union with tot_len
  return BPF_FIB_LKUP_RET_SUCCESS;
}

/** bpf_ipv4_fib_lookup() on the struct bpf_fib_lookup at p[o], with check_mtu (the XDP flavour). */
export function bpf_ipv4_fib_lookup(env: HelperEnv, p: Uint8Array, o: number, flags: number): number {
  const fib = env.fib;
  const inIfindex = le32(p, o + BPF_FIB.ifindex);
  let dev = env.netdevs.dev_get_by_index(inIfindex);
  if (dev === undefined) return ENODEV;
  if (!dev.ipv4_forwarding) return BPF_FIB_LKUP_RET_FWD_DISABLED;
  const oif = (flags & BPF_FIB_LOOKUP_OUTPUT) !== 0 ? inIfindex : 0;
  const daddr = be32(p, o + BPF_FIB.ipv4_dst);
  let res;
  if ((flags & BPF_FIB_LOOKUP_DIRECT) !== 0) {
    let tbid = RT_TABLE_MAIN;
    if ((flags & BPF_FIB_LOOKUP_TBID) !== 0) {
      tbid = le32(p, o + BPF_FIB.h_vlan_proto);
      putLe32(p, o + BPF_FIB.h_vlan_proto, 0); // zeroed for the VLAN output
    }
    if (!fib.hasTable(tbid)) return BPF_FIB_LKUP_RET_NOT_FWDED;
    res = fib.fib_lookup4(daddr, oif, tbid);
  } else {
    res = fib.fib_lookup4(daddr, oif);
  }
  if (typeof res === 'number') {
    // Map the FIB's errors to the RTN_ type that caused them.
    if (res === FIB_EINVAL) return BPF_FIB_LKUP_RET_BLACKHOLE;
    if (res === FIB_EHOSTUNREACH) return BPF_FIB_LKUP_RET_UNREACHABLE;
    if (res === FIB_EACCES) return BPF_FIB_LKUP_RET_PROHIBIT;
    return BPF_FIB_LKUP_RET_NOT_FWDED;
  }
  if (res.type !== RTN_UNICAST) return BPF_FIB_LKUP_RET_NOT_FWDED;
  const nhDev = env.netdevs.dev_get_by_index(res.oif);
  if (nhDev === undefined) return BPF_FIB_LKUP_RET_NOT_FWDED;
  const mtu = fib.ip_mtu_from_fib_result(res, nhDev);
  if (le16(p, o + BPF_FIB.tot_len) > mtu) {
    putLe16(p, o + BPF_FIB.tot_len, mtu); // mtu_result
    return BPF_FIB_LKUP_RET_FRAG_NEEDED;
  }
  if (res.lwt) return BPF_FIB_LKUP_RET_UNSUPP_LWT;
  dev = nhDev;
  putLe32(p, o + BPF_FIB.tos, res.metric); // rt_metric
  putLe32(p, o + BPF_FIB.ifindex, dev.ifindex);
  // fib_result_prefsrc(): the route's preferred source, else the device's address (0 if it has none;
  // only the IPv6 lookup reports BPF_FIB_LKUP_RET_NO_SRC_ADDR).
  if ((flags & BPF_FIB_LOOKUP_SRC) !== 0) putBe32(p, o + BPF_FIB.ipv4_src, fib.fib_result_prefsrc(res));
  if (res.gwFamily === AF_INET6) {
    p[o + BPF_FIB.family] = AF_INET6;
    p.set(res.gw6, o + BPF_FIB.ipv4_dst);
  } else if (res.gwFamily === AF_INET) {
    putBe32(p, o + BPF_FIB.ipv4_dst, res.gw4);
  }
  if ((flags & BPF_FIB_LOOKUP_SKIP_NEIGH) === 0) {
    const neigh = res.gwFamily === AF_INET6
      ? fib.neigh_lookup6(dev.ifindex, p, o + BPF_FIB.ipv4_dst)
      : fib.neigh_lookup4(dev.ifindex, be32(p, o + BPF_FIB.ipv4_dst));
    if (neigh === undefined || (neigh.nud_state & NUD_VALID) === 0) return BPF_FIB_LKUP_RET_NO_NEIGH;
    p.set(neigh.ha, o + BPF_FIB.dmac);
    p.set(dev.dev_addr.subarray(0, ETH_ALEN), o + BPF_FIB.smac);
  }
  return fib_set_fwd_params(p, o, mtu);
}

/** bpf_ipv6_fib_lookup() on the struct bpf_fib_lookup at p[o], with check_mtu. */
export function bpf_ipv6_fib_lookup(env: HelperEnv, p: Uint8Array, o: number, flags: number): number {
  const fib = env.fib;
  const src = o + BPF_FIB.ipv4_src, dst = o + BPF_FIB.ipv4_dst;
  // Link-local, loopback and multicast addresses are never forwarded.
  if (rt6_need_strict(p, dst) || rt6_need_strict(p, src)) return BPF_FIB_LKUP_RET_NOT_FWDED;
  const inIfindex = le32(p, o + BPF_FIB.ifindex);
  let dev = env.netdevs.dev_get_by_index(inIfindex);
  if (dev === undefined) return ENODEV;
  if (!dev.ipv6_forwarding) return BPF_FIB_LKUP_RET_FWD_DISABLED;
  const oif = (flags & BPF_FIB_LOOKUP_OUTPUT) !== 0 ? inIfindex : 0;
  let res;
  if ((flags & BPF_FIB_LOOKUP_DIRECT) !== 0) {
    let tbid = RT_TABLE_MAIN;
    if ((flags & BPF_FIB_LOOKUP_TBID) !== 0) {
      tbid = le32(p, o + BPF_FIB.h_vlan_proto);
      putLe32(p, o + BPF_FIB.h_vlan_proto, 0);
    }
    if (!fib.hasTable(tbid)) return BPF_FIB_LKUP_RET_NOT_FWDED;
    res = fib.fib6_lookup(p, dst, oif, tbid);
  } else {
    res = fib.fib6_lookup(p, dst, oif);
  }
  if (res === undefined) return BPF_FIB_LKUP_RET_NOT_FWDED;
  switch (res.type) {
    case RTN_UNICAST: break;
    case RTN_BLACKHOLE: return BPF_FIB_LKUP_RET_BLACKHOLE;
    case RTN_UNREACHABLE: return BPF_FIB_LKUP_RET_UNREACHABLE;
    case RTN_PROHIBIT: return BPF_FIB_LKUP_RET_PROHIBIT;
    default: return BPF_FIB_LKUP_RET_NOT_FWDED;
  }
  const nhDev = env.netdevs.dev_get_by_index(res.oif);
  if (nhDev === undefined) return BPF_FIB_LKUP_RET_NOT_FWDED;
  const mtu = fib.ip6_mtu_from_fib6(res, nhDev);
  if (le16(p, o + BPF_FIB.tot_len) > mtu) {
    putLe16(p, o + BPF_FIB.tot_len, mtu);
    return BPF_FIB_LKUP_RET_FRAG_NEEDED;
  }
  if (res.lwt) return BPF_FIB_LKUP_RET_UNSUPP_LWT;
  if (res.gwFamily !== 0) p.set(res.gw6, dst);
  dev = nhDev;
  putLe32(p, o + BPF_FIB.tos, res.metric); // rt_metric
  putLe32(p, o + BPF_FIB.ifindex, dev.ifindex);
  if ((flags & BPF_FIB_LOOKUP_SRC) !== 0) {
    const s = fib.ipv6_dev_get_saddr(res);
    if (s === undefined) return BPF_FIB_LKUP_RET_NO_SRC_ADDR;
    p.set(s, src);
  }
  if ((flags & BPF_FIB_LOOKUP_SKIP_NEIGH) === 0) {
    const neigh = fib.neigh_lookup6(dev.ifindex, p, dst);
    if (neigh === undefined || (neigh.nud_state & NUD_VALID) === 0) return BPF_FIB_LKUP_RET_NO_NEIGH;
    p.set(neigh.ha, o + BPF_FIB.dmac);
    p.set(dev.dev_addr.subarray(0, ETH_ALEN), o + BPF_FIB.smac);
  }
  return fib_set_fwd_params(p, o, mtu);
}

function bpf_xdp_fib_lookup(env: HelperEnv): HelperFn {
  return (x) => {
    xdpCtx(x, 'bpf_fib_lookup');
    // `int plen` compared with sizeof(): a negative length converts to a huge size_t and passes.
    const plen = x.R[6]! >>> 0;
    if (plen < BPF_FIB_LOOKUP_SIZE) {
      retInt(x, EINVAL);
      return;
    }
    const flags = x.R[8]! >>> 0;
    if ((flags & ~BPF_FIB_LOOKUP_MASK) !== 0) {
      retInt(x, EINVAL);
      return;
    }
    const r = memArg(x, 2, BPF_FIB_LOOKUP_SIZE, true, 'bpf_fib_lookup');
    const o = x.R[4]! >>> 0;
    const family = r.u8[o + BPF_FIB.family];
    let ret: number;
    if (family === AF_INET) ret = bpf_ipv4_fib_lookup(env, r.u8, o, flags);
    else if (family === AF_INET6) ret = bpf_ipv6_fib_lookup(env, r.u8, o, flags);
    else ret = EAFNOSUPPORT;
    retInt(x, ret);
  };
}

// ------------------------------------------------------------------ bpf_perf_event_output (XDP)

/** What bpf_xdp_event_output needs of a PERF_EVENT_ARRAY; maps/fd_array.ts PerfEventArrayMap has it. */
export interface PerfEventOutputMap {
  readonly map_type: number;
  perf_event_output(flags: number, cpu: number, buf1: Uint8Array, off1: number, len1: number, buf2: Uint8Array | null, off2: number, len2: number): number;
}

/** BPF_F_CTXLEN_MASK is bits 32..51 of flags: how many packet bytes follow the record. */
const CTXLEN_HI_MASK = 0xfffff;

export const bpf_xdp_event_output_proto = proto({
  func: 'bpf_xdp_event_output', gpl_only: true, ret_type: 'RET_INTEGER',
  args: [
    arg('ARG_PTR_TO_CTX'), arg('ARG_CONST_MAP_PTR'), arg('ARG_ANYTHING'),
    arg('ARG_PTR_TO_MEM', 'MEM_RDONLY'), arg('ARG_CONST_SIZE_OR_ZERO'),
  ],
});

/**
 * bpf_xdp_event_output(): -EINVAL for flags outside BPF_F_CTXLEN_MASK | BPF_F_INDEX_MASK, -EFAULT for
 * more packet bytes than the frame has; then the record (meta, then the packet bytes from data) goes to
 * the event of slot `flags & BPF_F_INDEX_MASK` (or this CPU's for BPF_F_CURRENT_CPU).
 */
function bpf_xdp_event_output(_env: HelperEnv): HelperFn {
  return (x) => {
    const xdp = xdpCtx(x, 'bpf_perf_event_output');
    const map = mapArg(x, 2, 'bpf_perf_event_output').object as Partial<PerfEventOutputMap> & DatapathMap;
    if (map.map_type !== BPF_MAP_TYPE_PERF_EVENT_ARRAY || typeof map.perf_event_output !== 'function') {
      throw new BpfError('EINVAL', `cannot pass map_type ${map.map_type} into func bpf_perf_event_output#${BPF_FUNC_perf_event_output}`);
    }
    const flagsLo = x.R[6]! >>> 0, flagsHi = x.R[7]! >>> 0;
    if ((flagsHi & ~CTXLEN_HI_MASK) !== 0) {
      retInt(x, EINVAL);
      return;
    }
    const xdpSize = flagsHi & CTXLEN_HI_MASK;
    if (xdpSize > xdp.len) {
      retInt(x, EFAULT);
      return;
    }
    // meta_size is a u64; the verifier bounds it by the buffer, so only the low half matters here.
    const metaSize = x.R[10]! >>> 0;
    const meta = memArg(x, 4, metaSize, false, 'bpf_perf_event_output');
    retInt(x, map.perf_event_output(flagsLo, x.cpu, meta.u8, x.R[8]! >>> 0, metaSize, xdpSize === 0 ? null : xdp.frame, xdp.data, xdpSize));
  };
}

// ------------------------------------------------------------------ the table

export const BPF_XDP_ADJUST_HEAD: BpfHelperDef = { id: BPF_FUNC_xdp_adjust_head, name: 'bpf_xdp_adjust_head', proto: bpf_xdp_adjust_head_proto, impl: bpf_xdp_adjust_head };
export const BPF_XDP_ADJUST_META: BpfHelperDef = { id: BPF_FUNC_xdp_adjust_meta, name: 'bpf_xdp_adjust_meta', proto: bpf_xdp_adjust_meta_proto, impl: bpf_xdp_adjust_meta };
export const BPF_XDP_ADJUST_TAIL: BpfHelperDef = { id: BPF_FUNC_xdp_adjust_tail, name: 'bpf_xdp_adjust_tail', proto: bpf_xdp_adjust_tail_proto, impl: bpf_xdp_adjust_tail };
export const BPF_XDP_REDIRECT: BpfHelperDef = { id: BPF_FUNC_redirect, name: 'bpf_redirect', proto: bpf_xdp_redirect_proto, impl: bpf_xdp_redirect };
export const BPF_XDP_REDIRECT_MAP: BpfHelperDef = { id: BPF_FUNC_redirect_map, name: 'bpf_redirect_map', proto: bpf_xdp_redirect_map_proto, impl: bpf_xdp_redirect_map };
export const BPF_CSUM_DIFF: BpfHelperDef = { id: BPF_FUNC_csum_diff, name: 'bpf_csum_diff', proto: bpf_csum_diff_proto, impl: bpf_csum_diff };
export const BPF_XDP_FIB_LOOKUP: BpfHelperDef = { id: BPF_FUNC_fib_lookup, name: 'bpf_fib_lookup', proto: bpf_xdp_fib_lookup_proto, impl: bpf_xdp_fib_lookup };
export const BPF_XDP_EVENT_OUTPUT: BpfHelperDef = { id: BPF_FUNC_perf_event_output, name: 'bpf_perf_event_output', proto: bpf_xdp_event_output_proto, impl: bpf_xdp_event_output };
export const BPF_XDP_GET_BUFF_LEN: BpfHelperDef = { id: BPF_FUNC['xdp_get_buff_len']!, name: 'bpf_xdp_get_buff_len', proto: bpf_xdp_get_buff_len_proto, impl: bpf_xdp_get_buff_len };
export const BPF_XDP_LOAD_BYTES: BpfHelperDef = { id: BPF_FUNC['xdp_load_bytes']!, name: 'bpf_xdp_load_bytes', proto: bpf_xdp_load_bytes_proto, impl: bpf_xdp_load_bytes };
export const BPF_XDP_STORE_BYTES: BpfHelperDef = { id: BPF_FUNC['xdp_store_bytes']!, name: 'bpf_xdp_store_bytes', proto: bpf_xdp_store_bytes_proto, impl: bpf_xdp_store_bytes };
