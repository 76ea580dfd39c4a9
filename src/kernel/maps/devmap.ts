// kernel/bpf/devmap.c: BPF_MAP_TYPE_DEVMAP, the target table of bpf_redirect_map() for XDP.
//
// The key is a u32 index; the value is struct bpf_devmap_val { u32 ifindex; union { int fd; u32 id; }
// bpf_prog; } (value_size 4: the ifindex only, or 8: with a program to run on the device before
// transmit, given as an fd on update and reported as an id on lookup). ifindex 0 empties a slot.
//
// As in the kernel, a slot points to an entry (struct bpf_dtab_netdev): an update builds a new entry
// and swaps it in with an atomic exchange, and the old entry is freed after a grace period, so a
// program that looked the slot up keeps a consistent {ifindex, prog id} pair. Entries live in the
// map's shared memory (freelist.ts), the program references in the owning thread.

import { array_map_get_next_key } from './arraymap.js';
import {
  BPF_EXIST, BPF_F_NUMA_NODE, BPF_F_RDONLY, BPF_F_RDONLY_PROG, BPF_F_WRONLY, BPF_NOEXIST, BpfMap,
  E2BIG, EEXIST, EINVAL, ENOENT, ENOMEM, EOPNOTSUPP, alloc_check_fail, bpf_map_area_alloc,
  bpf_map_init_from_attr, load_u32, raw_spin_lock, raw_spin_unlock, round_up,
} from './map.js';
import type { BpfMapCreateAttr, BpfMapDesc, BpfMapOps, BpfMapShared, MapEnv, RefCounted } from './map.js';
import { ELEM_LIVE, ELEM_STATE, RcuFreelist, retire_ring_words } from './freelist.js';
import type { Rcu } from '../rcu.js';

const DEV_CREATE_FLAG_MASK = BPF_F_NUMA_NODE | BPF_F_RDONLY | BPF_F_WRONLY;

const H_LOCK = 0;
const H_POOL = 1;
const H_FREELIST = 2;
const HDR_WORDS = 8;

/** Entry: 16 bytes of header (free-list link, state) then struct bpf_devmap_val. */
const ENTRY_VAL = 16;
const ENTRY_SIZE = 24;

/** dev_map_init_map()'s checks. */
export function dev_map_alloc_check(attr: BpfMapCreateAttr): void {
  if (attr.max_entries === 0) alloc_check_fail('EINVAL', 'max_entries must not be 0');
  if (attr.key_size !== 4) alloc_check_fail('EINVAL', `devmap keys are u32 indexes (key_size 4), not ${attr.key_size} bytes`);
  if (attr.value_size !== 4 && attr.value_size !== 8) {
    alloc_check_fail('EINVAL', `devmap values are struct bpf_devmap_val: 4 (ifindex) or 8 (ifindex + prog fd) bytes, not ${attr.value_size}`);
  }
  const flags = attr.map_flags ?? 0;
  if ((flags & ~DEV_CREATE_FLAG_MASK) !== 0) {
    alloc_check_fail('EINVAL', `map_flags 0x${(flags & ~DEV_CREATE_FLAG_MASK).toString(16)} are not valid for a devmap`);
  }
}

function geometry(max_entries: number, pool: number): { slots: number; ring: number; elem0: number; bytes: number } {
  const slots = HDR_WORDS;
  const ring = slots + max_entries;
  const elem0 = round_up((ring + retire_ring_words(pool)) * 4, 8);
  return { slots, ring, elem0, bytes: elem0 + pool * ENTRY_SIZE };
}

export class DevMap extends BpfMap {
  readonly mem: Uint8Array;
  private readonly i32: Int32Array;
  private readonly sab: SharedArrayBuffer;
  private readonly slots: number;
  private readonly elem0: number;
  private readonly fl: RcuFreelist;
  /** Program reference of each entry, in the owning thread. */
  private readonly progs: (RefCounted | null)[];
  private readonly env: MapEnv;

  private constructor(desc: BpfMapDesc, ncpus: number, rcu: Rcu, sab: SharedArrayBuffer, env: MapEnv) {
    super(desc, ncpus, rcu);
    this.sab = sab;
    this.env = env;
    this.mem = new Uint8Array(sab);
    this.i32 = new Int32Array(sab, 0, sab.byteLength >> 2);
    const pool = this.i32[H_POOL]!;
    const g = geometry(desc.max_entries, pool);
    this.slots = g.slots;
    this.elem0 = g.elem0;
    this.fl = new RcuFreelist(this.i32, H_FREELIST, g.ring, pool, g.elem0 >> 2, ENTRY_SIZE >> 2, rcu);
    this.progs = new Array<RefCounted | null>(pool).fill(null);
  }

  static alloc(attr: BpfMapCreateAttr, env: MapEnv): DevMap {
    // Lookup returns a pointer straight to the entry, so programs may not write it.
    const desc = bpf_map_init_from_attr({ ...attr, map_flags: (attr.map_flags ?? 0) | BPF_F_RDONLY_PROG });
    const pool = desc.max_entries + Math.max(16, env.num_possible_cpus * 16);
    const g = geometry(desc.max_entries, pool);
    const sab = bpf_map_area_alloc(g.bytes, env, `devmap of ${desc.max_entries} entries`);
    const i32 = new Int32Array(sab, 0, sab.byteLength >> 2);
    i32[H_POOL] = pool;
    i32.fill(-1, g.slots, g.slots + desc.max_entries);
    const map = new DevMap(desc, env.num_possible_cpus, env.rcu, sab, env);
    map.fl.populate();
    return map;
  }

  static attach(shared: BpfMapShared, env: MapEnv): DevMap {
    return new DevMap(shared.desc, shared.ncpus, env.rcu, shared.sab, env);
  }

  shared(): BpfMapShared {
    return { desc: this.desc, ncpus: this.ncpus, sab: this.sab };
  }

  private entryOff(e: number): number {
    return this.elem0 + e * ENTRY_SIZE;
  }

  /** The ifindex a redirect to slot `index` goes to, 0 if none (__dev_map_lookup_elem). */
  ifindexAt(index: number): number {
    if (index >>> 0 >= this.max_entries) return 0;
    const e = Atomics.load(this.i32, this.slots + (index >>> 0));
    return e < 0 ? 0 : this.i32[(this.entryOff(e) + ENTRY_VAL) >> 2]! >>> 0;
  }

  // ---------------------------------------------------------------- datapath

  lookupOffset(keyBuf: Uint8Array, keyOff: number, _cpu: number): number {
    this.check_rcu('kernel/bpf/devmap.c: dev_map_lookup_elem() without rcu_read_lock()');
    const index = load_u32(keyBuf, keyOff);
    if (index >= this.max_entries) return -1;
    const e = Atomics.load(this.i32, this.slots + index);
    return e < 0 ? -1 : this.entryOff(e) + ENTRY_VAL;
  }

  updateFromProg(_keyBuf: Uint8Array, _keyOff: number, _valBuf: Uint8Array, _valOff: number, _flags: number, _cpu: number): number {
    this.errReason = 'a program cannot update a devmap';
    return -EOPNOTSUPP;
  }

  deleteFromProg(_keyBuf: Uint8Array, _keyOff: number): number {
    this.errReason = 'a program cannot delete from a devmap';
    return -EOPNOTSUPP;
  }

  // ---------------------------------------------------------------- syscall side

  protected map_lookup_elem_sys(key: Uint8Array, out: Uint8Array, _flags: number): number {
    const off = this.lookupOffset(key, 0, 0);
    if (off < 0) {
      this.errReason = 'no device in this slot';
      return -ENOENT;
    }
    out.set(this.mem.subarray(off, off + this.value_size));
    return 0;
  }

  /** As HashTab: a syscall update waits (bounded) for readers rather than fail for lack of entries. */
  protected override before_update_sys(): void {
    if (this.fl.nfree !== 0 || this.fl.nretired === 0) return;
    raw_spin_lock(this.i32, H_LOCK);
    const n = this.fl.reclaim();
    raw_spin_unlock(this.i32, H_LOCK);
    if (n !== 0 || this.rcu.rcu_read_lock_held()) return;
    this.rcu.synchronize_rcu_expedited(200);
  }

  /** __dev_map_update_elem(). */
  protected map_update_elem_sys(key: Uint8Array, value: Uint8Array, flags: number): number {
    const index = load_u32(key, 0);
    if (flags > BPF_EXIST) {
      this.errReason = 'unknown update flags';
      return -EINVAL;
    }
    if (index >= this.max_entries) {
      this.errReason = `index ${index} is out of range (max_entries ${this.max_entries})`;
      return -E2BIG;
    }
    if (flags === BPF_NOEXIST) {
      this.errReason = 'BPF_NOEXIST: every devmap slot always exists';
      return -EEXIST;
    }
    const ifindex = load_u32(value, 0);
    const fd = this.value_size === 8 ? load_u32(value, 4) | 0 : 0;
    if (ifindex === 0) {
      if (fd > 0) {
        this.errReason = 'a program fd needs an ifindex';
        return -EINVAL;
      }
      this.swap(index, -1, null);
      return 0;
    }
    if (this.env.dev_get_by_index?.(ifindex) !== true) {
      this.errReason = `no net device with ifindex ${ifindex}`;
      return -EINVAL;
    }
    let prog: RefCounted | null = null;
    if (fd > 0) {
      if (this.env.map_fd_get_ptr === undefined) {
        this.errReason = 'no fd table to resolve the program fd (MapEnv.map_fd_get_ptr)';
        return -EINVAL;
      }
      prog = this.env.map_fd_get_ptr(this, fd);
    }
    raw_spin_lock(this.i32, H_LOCK);
    let e: number;
    try {
      e = this.fl.pop();
      if (e >= 0) {
        const v = (this.entryOff(e) + ENTRY_VAL) >> 2;
        this.i32[v] = ifindex | 0;
        this.i32[v + 1] = prog === null ? 0 : prog.id | 0;
        Atomics.store(this.i32, (this.entryOff(e) >> 2) + ELEM_STATE, ELEM_LIVE);
      }
    } finally {
      raw_spin_unlock(this.i32, H_LOCK);
    }
    if (e < 0) {
      prog?.put();
      this.errReason = 'no free entry: every spare entry is waiting for an RCU grace period';
      return -ENOMEM;
    }
    this.swap(index, e, prog);
    return 0;
  }

  /** xchg(&netdev_map[i], new) and free the old entry after a grace period. */
  private swap(index: number, e: number, prog: RefCounted | null): void {
    if (e >= 0) this.progs[e] = prog;
    raw_spin_lock(this.i32, H_LOCK);
    let old: number;
    try {
      old = Atomics.exchange(this.i32, this.slots + index, e);
      if (old >= 0) this.fl.retire(old);
    } finally {
      raw_spin_unlock(this.i32, H_LOCK);
    }
    if (old >= 0) {
      const oldProg = this.progs[old] ?? null;
      this.progs[old] = null;
      if (oldProg !== null) this.rcu.call_rcu(() => oldProg.put());
    }
  }

  /** dev_map_delete_elem(): an index out of range is EINVAL; an empty slot is not an error. */
  protected map_delete_elem_sys(key: Uint8Array): number {
    const index = load_u32(key, 0);
    if (index >= this.max_entries) {
      this.errReason = `index ${index} is out of range (max_entries ${this.max_entries})`;
      return -EINVAL;
    }
    this.swap(index, -1, null);
    return 0;
  }

  protected map_get_next_key(key: Uint8Array | null, next: Uint8Array): number {
    return array_map_get_next_key(this.max_entries, key, next);
  }

  /** dev_map_notification(NETDEV_UNREGISTER): a device going away leaves every slot naming it. */
  dev_map_netdev_unregister(ifindex: number): number {
    let n = 0;
    for (let i = 0; i < this.max_entries; i++) {
      if (this.ifindexAt(i) === ifindex >>> 0) {
        this.swap(i, -1, null);
        n++;
      }
    }
    return n;
  }

  override map_free(): void {
    for (let i = 0; i < this.max_entries; i++) this.swap(i, -1, null);
  }
}

export const dev_map_ops: BpfMapOps = {
  map_alloc_check: (attr) => dev_map_alloc_check(attr),
  map_alloc: (attr, env) => DevMap.alloc(attr, env),
  map_attach: (shared, env) => DevMap.attach(shared, env),
};

