// Map offload in the nfp driver (drivers/net/ethernet/netronome/nfp/bpf/offload.c, the map half):
// nfp_bpf_map_alloc() with its checks against what the firmware advertised, nfp_bpf_map_free(), the
// struct bpf_map_dev_ops the kernel calls for bpf() on an offloaded map, ndo_bpf's map commands, and
// nfp_bpf_event_output() for the firmware's BPF_EVENT messages.
//
// Per map the driver keeps struct nfp_bpf_map: the firmware's table id, the op cache (cmsg.ts), and
// use_map — for each 32-bit word of the value, how offloaded programs use it. A word programs bump
// with an atomic add lives big-endian in NIC memory (the NFP's atomic engine), so the driver
// byte-swaps exactly those words on every lookup and update, and remembers words the host set to
// something that is not byte-swap neutral (a program may not later use such a word as a counter). The
// verifier's device hook (the program-offload stage) fills use_map through nfp_bpf_map_mark_used_one().

import { BpfError } from '../../bpf/errno.js';
import { BPF_MAP_TYPE_ARRAY, NUMA_NO_NODE } from '../../kernel/maps/map.js';
import type { BpfMapDevOps, BpfOffloadedMap, NetdevBpf } from '../../kernel/offload.js';
import type { NetDevice } from '../../kernel/net/netdev.js';
import type { Rcu } from '../../kernel/rcu.js';
import { CMSG_BPF_EVENT_SZ, NFP_CCM_ABI_VERSION } from '../../nic/ccm.js';
import {
  nfp_bpf_ctrl_alloc_map, nfp_bpf_ctrl_del_entry, nfp_bpf_ctrl_free_map, nfp_bpf_ctrl_getfirst_entry,
  nfp_bpf_ctrl_getnext_entry, nfp_bpf_ctrl_lookup_entry, nfp_bpf_ctrl_update_entry,
} from './cmsg.js';
import type { NfpAppBpf } from './main.js';

/** enum nfp_bpf_map_use. */
export const NFP_MAP_UNUSED = 0;
export const NFP_MAP_USE_READ = 1;
export const NFP_MAP_USE_WRITE = 2;
export const NFP_MAP_USE_ATOMIC_CNT = 3;
export type NfpBpfMapUse = 0 | 1 | 2 | 3;

const USE_NAMES = ['unused', 'read', 'write', 'atomic'] as const;

/** nfp_bpf_map_use_name(). */
export function nfp_bpf_map_use_name(use: number): string {
  return USE_NAMES[use] ?? 'unknown';
}

/** struct nfp_bpf_map. */
export class NfpBpfMap {
  /** The firmware's table id. */
  tid = 0;
  /** The op cache (cmsg.ts): ops in flight that block it, its generation, expiry (ns) and reply. */
  cache_blockers = 0;
  cache_gen = 0;
  cache_to = 0;
  cache: Uint8Array | null = null;
  /** use_map[word].type and .non_zero_update, one per 32-bit word of the value. */
  readonly use_map: Uint8Array;
  readonly non_zero_update: Uint8Array;

  constructor(readonly offmap: BpfOffloadedMap, readonly bpf: NfpAppBpf) {
    const words = Math.ceil(offmap.value_size / 4);
    this.use_map = new Uint8Array(words);
    this.non_zero_update = new Uint8Array(words);
  }
}

/**
 * nfp_bpf_map_mark_used_one(): record that programs use the word at byte `off` as `use`. Returns the
 * verifier log line ("map value use type conflict ...") when it clashes with an earlier use, else null.
 */
export function nfp_bpf_map_mark_used_one(nfp_map: NfpBpfMap, off: number, use: NfpBpfMapUse): string | null {
  const w = off >> 2;
  const cur = nfp_map.use_map[w]!;
  if (cur !== NFP_MAP_UNUSED && cur !== use) {
    return `map value use type conflict ${nfp_bpf_map_use_name(cur)} vs ${nfp_bpf_map_use_name(use)} off: ${off}`;
  }
  if (nfp_map.non_zero_update[w] !== 0 && use === NFP_MAP_USE_ATOMIC_CNT) {
    return `atomic counter in map value may already be initialized to non-zero value off: ${off}`;
  }
  nfp_map.use_map[w] = use;
  return null;
}

/** The driver's per-map state of an offloaded map. */
export function nfp_bpf_map_of(offmap: BpfOffloadedMap): NfpBpfMap {
  const m = offmap.dev_priv;
  if (!(m instanceof NfpBpfMap)) throw new Error(`BUG: map ${offmap.id} is not an nfp offloaded map`);
  return m;
}

function swapWord(b: Uint8Array, off: number): void {
  const x = b[off]!;
  b[off] = b[off + 3]!;
  b[off + 3] = x;
  const y = b[off + 1]!;
  b[off + 1] = b[off + 2]!;
  b[off + 2] = y;
}

/** nfp_map_bpf_byte_swap(): the atomic engine wants counters big-endian; swap those words in place. */
function nfp_map_bpf_byte_swap(nfp_map: NfpBpfMap, value: Uint8Array): void {
  for (let i = 0; i < nfp_map.use_map.length && i * 4 + 4 <= value.length; i++) {
    if (nfp_map.use_map[i] === NFP_MAP_USE_ATOMIC_CNT) swapWord(value, i * 4);
  }
}

/**
 * nfp_map_bpf_byte_swap_record(): a word no program uses yet, set to a value that is not byte-swap
 * neutral, must not become an atomic counter later (its bytes would be read in the wrong order).
 */
function nfp_map_bpf_byte_swap_record(nfp_map: NfpBpfMap, value: Uint8Array): void {
  for (let i = 0; i < nfp_map.use_map.length && i * 4 + 4 <= value.length; i++) {
    if (nfp_map.use_map[i] !== NFP_MAP_UNUSED) continue;
    // word != cpu_to_be32(word): not a byte palindrome.
    const o = i * 4;
    if (value[o] !== value[o + 3] || value[o + 1] !== value[o + 2]) nfp_map.non_zero_update[i] = 1;
  }
}

/** struct bpf_map_dev_ops nfp_bpf_map_ops. */
export const nfp_bpf_map_ops: BpfMapDevOps = {
  async map_lookup_elem(offmap, key, value) {
    await nfp_bpf_ctrl_lookup_entry(offmap, key, value);
    nfp_map_bpf_byte_swap(nfp_bpf_map_of(offmap), value);
  },
  async map_update_elem(offmap, key, value, flags) {
    // The kernel swaps its own copy of the user's value; ours must not touch the caller's buffer.
    const v = value.slice();
    const nfp_map = nfp_bpf_map_of(offmap);
    nfp_map_bpf_byte_swap(nfp_map, v);
    nfp_map_bpf_byte_swap_record(nfp_map, v);
    await nfp_bpf_ctrl_update_entry(offmap, key, v, flags);
  },
  async map_get_next_key(offmap, key, next) {
    if (key === null) await nfp_bpf_ctrl_getfirst_entry(offmap, next);
    else await nfp_bpf_ctrl_getnext_entry(offmap, key, next);
  },
  async map_delete_elem(offmap, key) {
    if (offmap.map_type === BPF_MAP_TYPE_ARRAY) throw new BpfError('EINVAL', 'cannot delete from an array map');
    await nfp_bpf_ctrl_del_entry(offmap, key);
  },
};

/**
 * nfp_bpf_map_alloc(): only what the firmware advertised — map support at all (EOPNOTSUPP), no map
 * flags or NUMA node (EINVAL), a supported type (EOPNOTSUPP), room for another map and its elements,
 * elements, keys and values within the firmware's sizes (ENOMEM) — then MAP_ALLOC.
 */
export async function nfp_bpf_map_alloc(bpf: NfpAppBpf, offmap: BpfOffloadedMap): Promise<void> {
  const refuse = (errno: 'EINVAL' | 'EOPNOTSUPP' | 'ENOMEM', msg: string): never => {
    bpf.log.pr_info(msg);
    throw new BpfError(errno, msg);
  };
  if (bpf.maps.types === 0) throw new BpfError('EOPNOTSUPP', 'the NFP firmware offers no map offload');
  if (!bpf.ctrl_ok) throw new BpfError('EOPNOTSUPP', 'the NFP ctrl channel cannot carry map messages (MTU too small)');
  if (offmap.map_flags !== 0 || offmap.numa_node !== NUMA_NO_NODE) refuse('EINVAL', 'map flags are not supported');
  if (offmap.map_type >= 32 || (bpf.maps.types & (1 << offmap.map_type)) === 0) refuse('EOPNOTSUPP', 'map type not supported');
  if (bpf.maps.max_maps === bpf.maps_in_use) refuse('ENOMEM', 'too many maps for a device');
  const left = bpf.maps.max_elems - bpf.map_elems_in_use;
  if (left < offmap.max_entries) refuse('ENOMEM', `map with too many elements: ${offmap.max_entries}, left: ${left}`);
  const elem = ((offmap.key_size + 7) & ~7) + ((offmap.value_size + 7) & ~7);
  if (elem > bpf.maps.max_elem_sz) refuse('ENOMEM', `map elements too large: ${elem}, FW max element size (key+value): ${bpf.maps.max_elem_sz}`);
  if (offmap.key_size > bpf.maps.max_key_sz) refuse('ENOMEM', `map key size ${offmap.key_size}, FW max is ${bpf.maps.max_key_sz}`);
  if (offmap.value_size > bpf.maps.max_val_sz) refuse('ENOMEM', `map value size ${offmap.value_size}, FW max is ${bpf.maps.max_val_sz}`);

  const nfp_map = new NfpBpfMap(offmap, bpf);
  offmap.dev_priv = nfp_map;
  let tid: number;
  try {
    tid = await nfp_bpf_ctrl_alloc_map(bpf, offmap);
  } catch (e) {
    offmap.dev_priv = null;
    throw e;
  }
  nfp_map.tid = tid;
  offmap.dev_ops = nfp_bpf_map_ops;
  bpf.maps_in_use++;
  bpf.map_elems_in_use += offmap.max_entries;
  bpf.map_list.add(nfp_map);
}

/** nfp_bpf_map_free(): MAP_FREE (a failure only leaks the table on the device) and the accounting. */
export async function nfp_bpf_map_free(bpf: NfpAppBpf, offmap: BpfOffloadedMap): Promise<void> {
  const nfp_map = nfp_bpf_map_of(offmap);
  await nfp_bpf_ctrl_free_map(bpf, nfp_map);
  nfp_map.cache = null;
  if (nfp_map.cache_blockers !== 0) bpf.log.warn(`WARNING: map ${offmap.id} freed with ${nfp_map.cache_blockers} ops in flight`);
  bpf.map_list.delete(nfp_map);
  bpf.map_elems_in_use -= offmap.max_entries;
  bpf.maps_in_use--;
}

/** nfp_ndo_bpf() (nfp_app_bpf): the map commands; an app without BPF (the plain NIC) has none. */
export async function nfp_ndo_bpf(bpf: NfpAppBpf | null, netdev: NetDevice, cmd: NetdevBpf): Promise<void> {
  if (bpf === null) throw new BpfError('EINVAL', `${netdev.name}: the NFP app has no BPF support`);
  switch (cmd.command) {
    case 'BPF_OFFLOAD_MAP_ALLOC':
      return nfp_bpf_map_alloc(bpf, cmd.offmap);
    case 'BPF_OFFLOAD_MAP_FREE':
      return nfp_bpf_map_free(bpf, cmd.offmap);
    case 'XDP_SETUP_PROG':
    case 'XDP_SETUP_PROG_HW':
      // nfp_net_xdp() (net.ts) takes the XDP commands before they reach the app.
      throw new BpfError('EINVAL', `${netdev.name}: ${cmd.command} is not an app command`);
  }
}

/**
 * nfp_bpf_event_output(): a BPF_EVENT from the firmware goes to the perf event array the program named,
 * looked up by map id among the offload-neutral maps (under RCU, as in the kernel). Returns 0 or -EINVAL.
 */
export function nfp_bpf_event_output(bpf: NfpAppBpf, data: Uint8Array, rcu?: Rcu): number {
  const len = data.length;
  if (len < CMSG_BPF_EVENT_SZ) return -22;
  const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const pkt_size = v.getUint32(20);
  const data_size = v.getUint32(16);
  const map_id_full = v.getBigUint64(8);
  const map_id = Number(map_id_full & 0xffffffffn);
  if (pkt_size + data_size > 0x7fffffff || len < CMSG_BPF_EVENT_SZ + pkt_size + data_size) return -22;
  if (data[1] !== NFP_CCM_ABI_VERSION) return -22;
  rcu?.rcu_read_lock();
  try {
    const record = bpf.maps_neutral.get(map_id);
    if (record === undefined || map_id_full > 0xffffffffn || record.ptr.perf_event_output === undefined) {
      bpf.cmsg_warn(`perf event: map id ${map_id_full} (0x${map_id_full.toString(16)}) not recognized, dropping event`);
      return -22;
    }
    const cpu = v.getUint32(4);
    const dataOff = CMSG_BPF_EVENT_SZ + ((pkt_size + 3) & ~3);
    // The packet is padded to 4 bytes before the data: a message too short for that is dropped too.
    if (dataOff + data_size > len) return -22;
    record.ptr.perf_event_output(cpu, cpu, data, dataOff, data_size, pkt_size > 0 ? data : null, CMSG_BPF_EVENT_SZ, pkt_size);
    return 0;
  } finally {
    rcu?.rcu_read_unlock();
  }
}
