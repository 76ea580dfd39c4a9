// The nfp driver's BPF app state and its reading of the firmware's capabilities: struct nfp_app_bpf
// (drivers/net/ethernet/netronome/nfp/bpf/main.h) and, from bpf/main.c, nfp_bpf_init_capabilities(),
// nfp_bpf_parse_capabilities() with its per-record parsers, nfp_bpf_start() and
// nfp_net_ebpf_capable(). The capability records are the firmware's `_abi_bpf_capabilities` run-time
// symbol: little-endian { u32 type; u32 length; u8 value[length] } records, read from NIC memory.
//
// Nothing about the device is assumed here: the ABI version, the helper addresses, the map limits and
// the optional features all come from those records (and the vNIC's BAR). A record the driver does not
// know is skipped with a debug line; a malformed record gets the kernel's error line and leaves its
// capability off — see parseCapabilities() for where that differs from the kernel.

import type { Logger } from 'pino';
import { BPF_FUNC_map_delete_elem, BPF_FUNC_map_lookup_elem, BPF_FUNC_map_update_elem, BPF_FUNC_perf_event_output } from '../../bpf/helpers.js';
import type { BpfOffloadDev } from '../../kernel/offload.js';
import type { Rcu } from '../../kernel/rcu.js';
import {
  CMSG_MAP_KEY_LW, CMSG_MAP_VALUE_LW, CMSG_REPLY_MAP_OP_SZ, CMSG_REQ_MAP_OP_SZ, cmsg_map_reply_size, cmsg_map_req_size,
} from '../../nic/ccm.js';
import { NFP_NET_CFG_BPF_ABI, NFP_NET_CFG_CAP, NFP_NET_CFG_CTRL_BPF, NFP_NET_DEFAULT_MTU, type NfpNetCtrlBar } from '../../nic/ctrl-bar.js';
import type { NfpCcm } from './cmsg.js';
import type { NfpBpfMap } from './offload.js';
import type { NfpTailCallState } from './tail_call.js';

/** enum bpf_cap_tlv_type. */
export const NFP_BPF_CAP_TYPE_FUNC = 1;
export const NFP_BPF_CAP_TYPE_ADJUST_HEAD = 2;
export const NFP_BPF_CAP_TYPE_MAPS = 3;
export const NFP_BPF_CAP_TYPE_RANDOM = 4;
export const NFP_BPF_CAP_TYPE_QUEUE_SELECT = 5;
export const NFP_BPF_CAP_TYPE_ADJUST_TAIL = 6;
export const NFP_BPF_CAP_TYPE_ABI_VERSION = 7;
export const NFP_BPF_CAP_TYPE_CMSG_MULTI_ENT = 8;
/**
 * nfp-emu, PAPER-ONLY (netdev 2.1 "Future Work": tail calls linked into the JITed image, partial
 * offload): no upstream firmware has this record and no upstream driver parses it. Its value (le32
 * words): flags (NFP_BPF_TAIL_CALL_*), the IMEM offset and slot count of the tail-call table, the IMEM
 * offset and capacity of the link list (entry points of linked programs, read by the firmware when it
 * loads an image), and the instructions of a second code-store bank shared with the BPF area (0: none).
 */
export const NFP_BPF_CAP_TYPE_TAIL_CALL = 0x100;
/** The firmware hands a packet to the host with a resume word (partial offload). */
export const NFP_BPF_TAIL_CALL_PARTIAL = 1 << 0;

/** sizeof() of the capability structs. */
const NFP_BPF_CAP_TLV_FUNC_SZ = 8;
const NFP_BPF_CAP_TLV_ADJUST_HEAD_SZ = 20;
const NFP_BPF_CAP_TLV_MAPS_SZ = 24;
const NFP_BPF_CAP_TLV_TAIL_CALL_SZ = 24;

export const NFP_BPF_ADJUST_HEAD_NO_META = 1 << 0;
/** UR_REG_IMM_MAX (nfp_asm.h): adjust_head's limits must fit an unrestricted immediate. */
export const UR_REG_IMM_MAX = 0xff;

/** NFP_BPF_MAP_CACHE_CNT / NFP_BPF_MAP_CACHE_TIME_NS. */
export const NFP_BPF_MAP_CACHE_CNT = 4;
export const NFP_BPF_MAP_CACHE_TIME_NS = 250 * 1000;

/** The kernel log of one PCI function: nfp_err/nfp_warn/nfp_info/nfp_dbg with the device name. */
export class NfpLog {
  constructor(private readonly log: Logger, private readonly dev: string) {}

  err(msg: string): void {
    this.log.error({ subsys: 'nfp', dev: this.dev }, `nfp ${this.dev}: ${msg}`);
  }

  warn(msg: string): void {
    this.log.warn({ subsys: 'nfp', dev: this.dev }, `nfp ${this.dev}: ${msg}`);
  }

  info(msg: string): void {
    this.log.info({ subsys: 'nfp', dev: this.dev }, `nfp ${this.dev}: ${msg}`);
  }

  dbg(msg: string): void {
    this.log.debug({ subsys: 'nfp', dev: this.dev }, `nfp ${this.dev}: ${msg}`);
  }

  /** pr_info() under pr_fmt "NFP net bpf: " (bpf/offload.c). */
  pr_info(msg: string): void {
    this.log.info({ subsys: 'nfp' }, `NFP net bpf: ${msg}`);
  }
}

/** A perf event array an offloaded program outputs to (struct nfp_bpf_neutral_map). */
export interface NfpBpfNeutralMap {
  readonly ptr: { readonly id: number; perf_event_output?(flags: number, cpu: number, buf1: Uint8Array, off1: number, len1: number, buf2: Uint8Array | null, off2: number, len2: number): number };
  readonly map_id: number;
  count: number;
}

/** struct nfp_app_bpf. */
export class NfpAppBpf {
  abi_version = 0;
  cmsg_key_sz = 0;
  cmsg_val_sz = 0;
  cmsg_cache_cnt = 1;
  readonly map_list = new Set<NfpBpfMap>();
  maps_in_use = 0;
  map_elems_in_use = 0;
  /** Offload-neutral maps (perf event arrays) of offloaded programs, by map id. */
  readonly maps_neutral = new Map<number, NfpBpfNeutralMap>();
  readonly adjust_head = { flags: 0, off_min: 0, off_max: 0, guaranteed_sub: 0, guaranteed_add: 0 };
  readonly maps = { types: 0, max_maps: 0, max_elems: 0, max_key_sz: 0, max_val_sz: 0, max_elem_sz: 0 };
  readonly helpers = { map_lookup: 0, map_update: 0, map_delete: 0, perf_event_output: 0 };
  pseudo_random = false;
  queue_select = false;
  adjust_tail = false;
  cmsg_multi_ent = false;
  /** nfp-emu, PAPER-ONLY: what NFP_BPF_CAP_TYPE_TAIL_CALL advertised (supported false: no record). */
  readonly tail_call = { supported: false, partial: false, table_off: 0, table_slots: 0, link_off: 0, max_links: 0, bank_insns: 0 };
  /** The card's code store and IMEM, which the driver writes through CPP (the probe sets them). */
  ustore: Uint8Array | null = null;
  imem: Int32Array | null = null;
  /** The tail-call table and the programs linked into the code store (tail_call.ts), once used. */
  tc: NfpTailCallState | null = null;
  /** Set by probe once the ctrl channel exists. */
  ccm!: NfpCcm;
  bpf_dev!: BpfOffloadDev<NfpAppBpf>;
  /** nfp_bpf_start() refused the ctrl channel: no map can be offloaded. */
  ctrl_ok = true;
  /** The kernel's RCU, for the event path's map lookup. */
  rcu: Rcu | undefined;
  /** ktime_get_ns() for the op cache's expiry; tests may give the driver a clock of their own. */
  ktime_get_ns: () => number = () => performance.now() * 1e6;

  constructor(readonly log: NfpLog) {}

  /** cmsg_warn(): nn_dp_warn() on the ctrl vNIC. */
  cmsg_warn(msg: string): void {
    this.log.warn(`ctrl: ${msg}`);
  }
}

/** nfp_bpf_init_capabilities(). */
export function nfp_bpf_init_capabilities(bpf: NfpAppBpf): void {
  bpf.abi_version = 2; // Original BPF ABI version
}

function le32(b: Uint8Array, off: number): number {
  return (b[off]! | (b[off + 1]! << 8) | (b[off + 2]! << 16) | (b[off + 3]! << 24)) >>> 0;
}

function nfp_bpf_parse_cap_adjust_head(bpf: NfpAppBpf, v: Uint8Array, off: number, length: number): boolean {
  if (length < NFP_BPF_CAP_TLV_ADJUST_HEAD_SZ) {
    bpf.log.err(`truncated adjust_head TLV: ${length}`);
    return false;
  }
  const ah = {
    flags: le32(v, off), off_min: le32(v, off + 4) | 0, off_max: le32(v, off + 8) | 0,
    guaranteed_sub: le32(v, off + 12) | 0, guaranteed_add: le32(v, off + 16) | 0,
  };
  if (ah.off_min > ah.off_max) {
    bpf.log.err('invalid adjust_head TLV: min > max');
    return false;
  }
  const fits = (x: number): boolean => x >= 0 && x <= UR_REG_IMM_MAX;
  if (!fits(ah.off_min) || !fits(ah.off_max)) {
    bpf.log.warn('disabling adjust_head - driver expects min/max to fit in as immediates');
    Object.assign(bpf.adjust_head, { flags: 0, off_min: 0, off_max: 0, guaranteed_sub: 0, guaranteed_add: 0 });
    return true;
  }
  Object.assign(bpf.adjust_head, ah);
  return true;
}

function nfp_bpf_parse_cap_func(bpf: NfpAppBpf, v: Uint8Array, off: number, length: number): boolean {
  if (length < NFP_BPF_CAP_TLV_FUNC_SZ) {
    bpf.log.err(`truncated function TLV: ${length}`);
    return false;
  }
  const addr = le32(v, off + 4);
  switch (le32(v, off)) {
    case BPF_FUNC_map_lookup_elem:
      bpf.helpers.map_lookup = addr;
      break;
    case BPF_FUNC_map_update_elem:
      bpf.helpers.map_update = addr;
      break;
    case BPF_FUNC_map_delete_elem:
      bpf.helpers.map_delete = addr;
      break;
    case BPF_FUNC_perf_event_output:
      bpf.helpers.perf_event_output = addr;
      break;
  }
  return true;
}

function nfp_bpf_parse_cap_maps(bpf: NfpAppBpf, v: Uint8Array, off: number, length: number): boolean {
  if (length < NFP_BPF_CAP_TLV_MAPS_SZ) {
    bpf.log.err(`truncated maps TLV: ${length}`);
    return false;
  }
  bpf.maps.types = le32(v, off);
  bpf.maps.max_maps = le32(v, off + 4);
  bpf.maps.max_elems = le32(v, off + 8);
  bpf.maps.max_key_sz = le32(v, off + 12);
  bpf.maps.max_val_sz = le32(v, off + 16);
  bpf.maps.max_elem_sz = le32(v, off + 20);
  return true;
}

function nfp_bpf_parse_cap_abi_version(bpf: NfpAppBpf, v: Uint8Array, off: number, length: number): boolean {
  if (length < 4) {
    bpf.log.err(`truncated ABI version TLV: ${length}`);
    return false;
  }
  bpf.abi_version = le32(v, off);
  if (bpf.abi_version < 2 || bpf.abi_version > 3) {
    bpf.log.warn(`unsupported BPF ABI version: ${bpf.abi_version}`);
    bpf.abi_version = 0;
  }
  return true;
}

/**
 * nfp-emu, PAPER-ONLY: the tail-call record. The table and the link list must be word-aligned and the
 * table must have room for a slot; otherwise the capability stays off.
 */
function nfp_bpf_parse_cap_tail_call(bpf: NfpAppBpf, v: Uint8Array, off: number, length: number): boolean {
  if (length < NFP_BPF_CAP_TLV_TAIL_CALL_SZ) {
    bpf.log.err(`truncated tail call TLV: ${length}`);
    return false;
  }
  const tc = {
    flags: le32(v, off), table_off: le32(v, off + 4), table_slots: le32(v, off + 8), link_off: le32(v, off + 12),
    max_links: le32(v, off + 16), bank_insns: le32(v, off + 20),
  };
  if (tc.table_slots === 0 || tc.table_slots > 0x10000 || (tc.table_off & 3) !== 0 || (tc.link_off & 3) !== 0) {
    bpf.log.err(`invalid tail call TLV: table of ${tc.table_slots} slots at 0x${tc.table_off.toString(16)}, link list at 0x${tc.link_off.toString(16)}`);
    return false;
  }
  Object.assign(bpf.tail_call, {
    supported: true, partial: (tc.flags & NFP_BPF_TAIL_CALL_PARTIAL) !== 0, table_off: tc.table_off, table_slots: tc.table_slots,
    link_off: tc.link_off, max_links: tc.max_links, bank_insns: tc.bank_insns,
  });
  return true;
}

export interface CapabilityParse {
  /** Were all records well formed? */
  readonly ok: boolean;
  /** Records seen, by type, in order (for `firmware list`). */
  readonly records: readonly { type: number; length: number; ok: boolean }[];
}

/**
 * nfp_bpf_parse_capabilities() over the symbol's bytes (undefined: the firmware has no such symbol,
 * which is fine — every capability stays off and the ABI stays 2).
 *
 * Where this differs from the kernel: there, a malformed record (truncated, or running past the end
 * of the symbol) makes nfp_bpf_init() fail and the whole PF probe with it. Here the kernel's lines are
 * logged, the malformed record's capability stays off, parsing goes on with the next record when its
 * length says where that is, and the port still comes up — the issue asks for "a warning; the
 * capability is off", and a port that does not come up would take host XDP away too.
 */
export function nfp_bpf_parse_capabilities(bpf: NfpAppBpf, mem: Uint8Array | undefined): CapabilityParse {
  const records: { type: number; length: number; ok: boolean }[] = [];
  if (mem === undefined) return { ok: true, records };
  let pos = 0;
  let ok = true;
  while (pos + 8 <= mem.length) {
    const type = le32(mem, pos);
    const length = le32(mem, pos + 4);
    const value = pos + 8;
    if (value + length > mem.length) {
      bpf.log.err(`invalid BPF capabilities at offset:${value + length}`);
      records.push({ type, length, ok: false });
      return { ok: false, records };
    }
    pos = value + length;
    let good = true;
    switch (type) {
      case NFP_BPF_CAP_TYPE_FUNC:
        good = nfp_bpf_parse_cap_func(bpf, mem, value, length);
        break;
      case NFP_BPF_CAP_TYPE_ADJUST_HEAD:
        good = nfp_bpf_parse_cap_adjust_head(bpf, mem, value, length);
        break;
      case NFP_BPF_CAP_TYPE_MAPS:
        good = nfp_bpf_parse_cap_maps(bpf, mem, value, length);
        break;
      case NFP_BPF_CAP_TYPE_RANDOM:
        bpf.pseudo_random = true;
        break;
      case NFP_BPF_CAP_TYPE_QUEUE_SELECT:
        bpf.queue_select = true;
        break;
      case NFP_BPF_CAP_TYPE_ADJUST_TAIL:
        bpf.adjust_tail = true;
        break;
      case NFP_BPF_CAP_TYPE_ABI_VERSION:
        good = nfp_bpf_parse_cap_abi_version(bpf, mem, value, length);
        break;
      case NFP_BPF_CAP_TYPE_CMSG_MULTI_ENT:
        bpf.cmsg_multi_ent = true;
        break;
      case NFP_BPF_CAP_TYPE_TAIL_CALL:
        good = nfp_bpf_parse_cap_tail_call(bpf, mem, value, length);
        break;
      default:
        bpf.log.dbg(`unknown BPF capability: ${type}`);
        break;
    }
    if (!good) {
      bpf.log.err(`invalid BPF capabilities at offset:${pos}`);
      ok = false;
    }
    records.push({ type, length, ok: good });
  }
  if (pos !== mem.length) {
    bpf.log.err(`BPF capabilities left after parsing, parsed:${pos} total length:${mem.length}`);
    bpf.log.err(`invalid BPF capabilities at offset:${pos}`);
    ok = false;
  }
  return { ok, records };
}

/** The cmsg element slot sizes: ABI < 3 has fixed 64-byte slots; ABI 3 uses the firmware's maxima. */
export function nfp_bpf_set_cmsg_sizes(bpf: NfpAppBpf): void {
  if (bpf.abi_version < 3) {
    bpf.cmsg_key_sz = CMSG_MAP_KEY_LW * 4;
    bpf.cmsg_val_sz = CMSG_MAP_VALUE_LW * 4;
  } else {
    bpf.cmsg_key_sz = bpf.maps.max_key_sz;
    bpf.cmsg_val_sz = bpf.maps.max_val_sz;
  }
}

/** nfp_bpf_ctrl_cmsg_min_mtu(): one request or one reply must fit. */
export function nfp_bpf_ctrl_cmsg_min_mtu(bpf: NfpAppBpf): number {
  return Math.max(cmsg_map_req_size(bpf.cmsg_key_sz, bpf.cmsg_val_sz, 1), cmsg_map_reply_size(bpf.cmsg_key_sz, bpf.cmsg_val_sz, 1));
}

/** nfp_bpf_ctrl_cmsg_mtu(): the ctrl MTU an ABI 3 firmware's app asks for (room for a full cache fill). */
export function nfp_bpf_ctrl_cmsg_mtu(bpf: NfpAppBpf): number {
  return Math.max(NFP_NET_DEFAULT_MTU,
    cmsg_map_req_size(bpf.cmsg_key_sz, bpf.cmsg_val_sz, NFP_BPF_MAP_CACHE_CNT),
    cmsg_map_reply_size(bpf.cmsg_key_sz, bpf.cmsg_val_sz, NFP_BPF_MAP_CACHE_CNT));
}

/** nfp_bpf_ctrl_cmsg_cache_cnt(): how many entries a GETFIRST/GETNEXT may ask for on this MTU. */
export function nfp_bpf_ctrl_cmsg_cache_cnt(bpf: NfpAppBpf, mtu: number): number {
  const entry = bpf.cmsg_key_sz + bpf.cmsg_val_sz;
  const reqMax = Math.floor((mtu - CMSG_REQ_MAP_OP_SZ) / entry);
  const replyMax = Math.floor((mtu - CMSG_REPLY_MAP_OP_SZ) / entry);
  return Math.min(reqMax, replyMax, NFP_BPF_MAP_CACHE_CNT);
}

/**
 * nfp_bpf_start(): the ctrl channel's MTU must fit one request and one reply; with CMSG_MULTI_ENT the
 * op cache reads up to 4 entries at a time. Returns false (logged) when the MTU is too small; the
 * kernel then fails the app's start, here map offload is refused instead (see parseCapabilities).
 */
export function nfp_bpf_start(bpf: NfpAppBpf, ctrlMtu: number): boolean {
  const min = nfp_bpf_ctrl_cmsg_min_mtu(bpf);
  if (ctrlMtu < min) {
    bpf.log.err(`ctrl channel MTU below min required ${ctrlMtu} < ${min}`);
    bpf.ctrl_ok = false;
    return false;
  }
  bpf.cmsg_cache_cnt = bpf.cmsg_multi_ent ? nfp_bpf_ctrl_cmsg_cache_cnt(bpf, ctrlMtu) : 1;
  return true;
}

/**
 * nfp_net_ebpf_capable(): the vNIC can run an offloaded program — the BAR says BPF, the driver
 * accepted the firmware's ABI, and the vNIC speaks that same ABI. (Always false on a big-endian
 * host in the kernel; the emulated host is little-endian.)
 */
export function nfp_net_ebpf_capable(bpf: NfpAppBpf | null, bar: NfpNetCtrlBar): boolean {
  if (bpf === null) return false;
  return (bar.readl(NFP_NET_CFG_CAP) & NFP_NET_CFG_CTRL_BPF) !== 0 && bpf.abi_version !== 0
    && bar.readb(NFP_NET_CFG_BPF_ABI) === bpf.abi_version;
}
