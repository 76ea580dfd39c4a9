// kernel/bpf/devmap.c: BPF_MAP_TYPE_DEVMAP and BPF_MAP_TYPE_DEVMAP_HASH, the target tables of
// bpf_redirect_map() for XDP. DEVMAP is indexed by a u32 slot; DEVMAP_HASH by any u32 key (usually
// an ifindex), hashed as the kernel does (key & (n_buckets - 1)) into RCU chains.
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
  bpf_map_init_from_attr, load_u32, raw_spin_lock, raw_spin_unlock, round_up, roundup_pow_of_two, store_u32,
} from './map.js';
import type { BpfMapCreateAttr, BpfMapDesc, BpfMapOps, BpfMapShared, MapEnv, RefCounted } from './map.js';
import { ELEM_LIVE, ELEM_STATE, RcuFreelist, retire_ring_words } from './freelist.js';
import type { Rcu } from '../rcu.js';

const DEV_CREATE_FLAG_MASK = BPF_F_NUMA_NODE | BPF_F_RDONLY | BPF_F_WRONLY;

const H_LOCK = 0;
const H_POOL = 1;
const H_FREELIST = 2; // FREELIST_HDR_WORDS words
const H_ITEMS = 6; // DEVMAP_HASH: dtab->items
const HDR_WORDS = 8;

/**
 * Entry (struct bpf_dtab_netdev): word 0 the free-list link, or for DEVMAP_HASH the chain link;
 * word 1 the key (DEVMAP_HASH); word 2 the state; then struct bpf_devmap_val at byte 16.
 */
const ENTRY_NEXT = 0;
const ENTRY_KEY = 1;
const ENTRY_VAL = 16;
const ENTRY_SIZE = 24;

/** __dev_map_alloc_node()'s checks and references: the device must exist, the program resolve. */
function dev_map_resolve(map: BpfMap, env: MapEnv, value: Uint8Array): { ifindex: number; prog: RefCounted | null } | number {
  const ifindex = load_u32(value, 0);
  const fd = map.value_size === 8 ? load_u32(value, 4) | 0 : 0;
  if (env.dev_get_by_index?.(ifindex) !== true) {
    map.errReason = `no net device with ifindex ${ifindex}`;
    return -EINVAL;
  }
  if (fd <= 0) return { ifindex, prog: null };
  if (env.map_fd_get_ptr === undefined) {
    map.errReason = 'no fd table to resolve the program fd (MapEnv.map_fd_get_ptr)';
    return -EINVAL;
  }
  return { ifindex, prog: env.map_fd_get_ptr(map, fd) };
}

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


/**
 * Before a syscall update that may find no free entry: reclaim the entries readers are done with, and
 * when none could be, wait (bounded, and never inside an RCU read-side section) for a grace period.
 */
function reclaimBeforeUpdate(fl: RcuFreelist, i32: Int32Array, rcu: Rcu): void {
  if (fl.nfree !== 0 || fl.nretired === 0) return;
  raw_spin_lock(i32, H_LOCK);
  const n = fl.reclaim();
  raw_spin_unlock(i32, H_LOCK);
  if (n !== 0 || rcu.rcu_read_lock_held()) return;
  rcu.synchronize_rcu_expedited(200);
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
    reclaimBeforeUpdate(this.fl, this.i32, this.rcu);
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
    if (load_u32(value, 0) === 0) {
      if (this.value_size === 8 && (load_u32(value, 4) | 0) > 0) {
        this.errReason = 'a program fd needs an ifindex';
        return -EINVAL;
      }
      this.swap(index, -1, null);
      return 0;
    }
    const r = dev_map_resolve(this, this.env, value);
    if (typeof r === 'number') return r;
    const { ifindex, prog } = r;
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

// ------------------------------------------------------------------ BPF_MAP_TYPE_DEVMAP_HASH

function hash_geometry(n_buckets: number, pool: number): { bkt: number; ring: number; elem0: number; bytes: number } {
  const bkt = HDR_WORDS;
  const ring = bkt + n_buckets;
  const elem0 = round_up((ring + retire_ring_words(pool)) * 4, 8);
  return { bkt, ring, elem0, bytes: elem0 + pool * ENTRY_SIZE };
}

export class DevMapHash extends BpfMap {
  readonly mem: Uint8Array;
  private readonly i32: Int32Array;
  private readonly sab: SharedArrayBuffer;
  readonly n_buckets: number;
  private readonly mask: number;
  private readonly bkt: number;
  private readonly elem0: number;
  private readonly fl: RcuFreelist;
  private readonly progs: (RefCounted | null)[];
  private readonly env: MapEnv;

  private constructor(desc: BpfMapDesc, ncpus: number, rcu: Rcu, sab: SharedArrayBuffer, env: MapEnv) {
    super(desc, ncpus, rcu);
    this.sab = sab;
    this.env = env;
    this.mem = new Uint8Array(sab);
    this.i32 = new Int32Array(sab, 0, sab.byteLength >> 2);
    const pool = this.i32[H_POOL]!;
    this.n_buckets = roundup_pow_of_two(desc.max_entries);
    this.mask = this.n_buckets - 1;
    const g = hash_geometry(this.n_buckets, pool);
    this.bkt = g.bkt;
    this.elem0 = g.elem0;
    this.fl = new RcuFreelist(this.i32, H_FREELIST, g.ring, pool, g.elem0 >> 2, ENTRY_SIZE >> 2, rcu);
    this.progs = new Array<RefCounted | null>(pool).fill(null);
  }

  static alloc(attr: BpfMapCreateAttr, env: MapEnv): DevMapHash {
    if (attr.max_entries > 2 ** 31) alloc_check_fail('EINVAL', `max_entries ${attr.max_entries} is larger than 2^31`);
    const desc = bpf_map_init_from_attr({ ...attr, map_flags: (attr.map_flags ?? 0) | BPF_F_RDONLY_PROG });
    const pool = desc.max_entries + Math.max(16, env.num_possible_cpus * 16);
    const g = hash_geometry(roundup_pow_of_two(desc.max_entries), pool);
    const sab = bpf_map_area_alloc(g.bytes, env, `devmap_hash of ${desc.max_entries} entries`);
    const i32 = new Int32Array(sab, 0, sab.byteLength >> 2);
    i32[H_POOL] = pool;
    i32.fill(-1, g.bkt, g.bkt + roundup_pow_of_two(desc.max_entries));
    const map = new DevMapHash(desc, env.num_possible_cpus, env.rcu, sab, env);
    map.fl.populate();
    return map;
  }

  static attach(shared: BpfMapShared, env: MapEnv): DevMapHash {
    return new DevMapHash(shared.desc, shared.ncpus, env.rcu, shared.sab, env);
  }

  shared(): BpfMapShared {
    return { desc: this.desc, ncpus: this.ncpus, sab: this.sab };
  }

  private entryWord(e: number): number {
    return (this.elem0 >> 2) + e * (ENTRY_SIZE >> 2);
  }

  /** __dev_map_hash_lookup_elem(): lock-free chain walk. */
  private lookup_elem(key: number): number {
    const i32 = this.i32;
    let e = Atomics.load(i32, this.bkt + (key & this.mask));
    while (e >= 0) {
      const w = this.entryWord(e);
      if (i32[w + ENTRY_KEY]! >>> 0 === key) return e;
      e = Atomics.load(i32, w + ENTRY_NEXT);
    }
    return -1;
  }

  /** The ifindex a redirect to `key` goes to, 0 if none. */
  ifindexAt(key: number): number {
    const e = this.lookup_elem(key >>> 0);
    return e < 0 ? 0 : this.i32[this.entryWord(e) + (ENTRY_VAL >> 2)]! >>> 0;
  }

  /** Live entries (dtab->items). */
  get items(): number {
    return Atomics.load(this.i32, H_ITEMS);
  }

  // ---------------------------------------------------------------- datapath

  lookupOffset(keyBuf: Uint8Array, keyOff: number, _cpu: number): number {
    this.check_rcu('kernel/bpf/devmap.c: dev_map_hash_lookup_elem() without rcu_read_lock()');
    const e = this.lookup_elem(load_u32(keyBuf, keyOff));
    return e < 0 ? -1 : this.entryWord(e) * 4 + ENTRY_VAL;
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
    const e = this.lookup_elem(load_u32(key, 0));
    if (e < 0) {
      this.errReason = 'no such key';
      return -ENOENT;
    }
    out.set(this.mem.subarray(this.entryWord(e) * 4 + ENTRY_VAL, this.entryWord(e) * 4 + ENTRY_VAL + this.value_size));
    return 0;
  }

  protected override before_update_sys(): void {
    reclaimBeforeUpdate(this.fl, this.i32, this.rcu);
  }

  /**
   * __dev_map_hash_update_elem(). As the kernel: ifindex 0 is EINVAL, BPF_NOEXIST on an existing
   * key EEXIST, a new key in a full map E2BIG, and BPF_EXIST on a missing key is not checked. The new
   * entry is linked before the old one is unlinked (the kernel unlinks first), so a concurrent
   * lookup never misses the key.
   */
  protected map_update_elem_sys(key: Uint8Array, value: Uint8Array, flags: number): number {
    const idx = load_u32(key, 0);
    if (flags > BPF_EXIST || load_u32(value, 0) === 0) {
      this.errReason = flags > BPF_EXIST ? 'unknown update flags' : 'ifindex 0 is not a device';
      return -EINVAL;
    }
    const r = dev_map_resolve(this, this.env, value);
    if (typeof r === 'number') return r;
    const i32 = this.i32;
    let old = -1;
    let ret = 0;
    raw_spin_lock(i32, H_LOCK);
    try {
      old = this.lookup_elem(idx);
      if (old >= 0 && (flags & BPF_NOEXIST) !== 0) {
        this.errReason = 'BPF_NOEXIST: the key already exists';
        ret = -EEXIST;
      } else if (old < 0 && Atomics.load(i32, H_ITEMS) >= this.max_entries) {
        this.errReason = `the map is full (max_entries ${this.max_entries})`;
        ret = -E2BIG;
      } else {
        const e = this.fl.pop();
        if (e < 0) {
          this.errReason = 'no free entry: every spare entry is waiting for an RCU grace period';
          ret = -ENOMEM;
        } else {
          const w = this.entryWord(e);
          i32[w + ENTRY_KEY] = idx | 0;
          i32[w + (ENTRY_VAL >> 2)] = r.ifindex | 0;
          i32[w + (ENTRY_VAL >> 2) + 1] = r.prog === null ? 0 : r.prog.id | 0;
          this.progs[e] = r.prog;
          const b = this.bkt + (idx & this.mask);
          Atomics.store(i32, w + ENTRY_NEXT, Atomics.load(i32, b));
          Atomics.store(i32, w + ELEM_STATE, ELEM_LIVE);
          Atomics.store(i32, b, e);
          if (old >= 0) this.unlink(old);
          else Atomics.add(i32, H_ITEMS, 1);
        }
      }
    } finally {
      raw_spin_unlock(i32, H_LOCK);
    }
    if (ret !== 0) {
      r.prog?.put();
      return ret;
    }
    if (old >= 0) this.put_prog_later(old);
    return 0;
  }

  /** Unlink and retire an entry; the caller holds the lock. */
  private unlink(e: number): void {
    const i32 = this.i32;
    const w = this.entryWord(e);
    const b = this.bkt + ((i32[w + ENTRY_KEY]! >>> 0) & this.mask);
    const next = Atomics.load(i32, w + ENTRY_NEXT);
    let cur = Atomics.load(i32, b);
    if (cur === e) {
      Atomics.store(i32, b, next);
    } else {
      while (cur >= 0) {
        const cw = this.entryWord(cur);
        const n = Atomics.load(i32, cw + ENTRY_NEXT);
        if (n === e) {
          Atomics.store(i32, cw + ENTRY_NEXT, next);
          break;
        }
        cur = n;
      }
      if (cur < 0) throw new Error(`devmap_hash ${this.name}: entry ${e} is not on its bucket's chain`);
    }
    this.fl.retire(e);
  }

  private put_prog_later(e: number): void {
    const prog = this.progs[e] ?? null;
    this.progs[e] = null;
    if (prog !== null) this.rcu.call_rcu(() => prog.put());
  }

  /** dev_map_hash_delete_elem(): a missing key is ENOENT. */
  protected map_delete_elem_sys(key: Uint8Array): number {
    return this.delete_key(load_u32(key, 0));
  }

  private delete_key(idx: number): number {
    let e: number;
    raw_spin_lock(this.i32, H_LOCK);
    try {
      e = this.lookup_elem(idx);
      if (e >= 0) {
        this.unlink(e);
        Atomics.sub(this.i32, H_ITEMS, 1);
      }
    } finally {
      raw_spin_unlock(this.i32, H_LOCK);
    }
    if (e < 0) {
      this.errReason = 'no such key';
      return -ENOENT;
    }
    this.put_prog_later(e);
    return 0;
  }

  /** dev_map_hash_get_next_key(): the hash map walk; a missing key restarts from the first bucket. */
  protected map_get_next_key(key: Uint8Array | null, next: Uint8Array): number {
    const i32 = this.i32;
    let i = 0;
    if (key !== null) {
      const idx = load_u32(key, 0);
      const e = this.lookup_elem(idx);
      if (e >= 0) {
        const n = Atomics.load(i32, this.entryWord(e) + ENTRY_NEXT);
        if (n >= 0) {
          store_u32(next, 0, i32[this.entryWord(n) + ENTRY_KEY]! >>> 0);
          return 0;
        }
        i = (idx & this.mask) + 1;
      }
    }
    for (; i < this.n_buckets; i++) {
      const head = Atomics.load(i32, this.bkt + i);
      if (head >= 0) {
        store_u32(next, 0, i32[this.entryWord(head) + ENTRY_KEY]! >>> 0);
        return 0;
      }
    }
    this.errReason = 'no more keys';
    return -ENOENT;
  }

  /** All keys whose entry names `ifindex` (for dev_map_netdev_unregister). */
  private keysFor(ifindex: number): number[] {
    const out: number[] = [];
    for (let b = 0; b < this.n_buckets; b++) {
      for (let e = Atomics.load(this.i32, this.bkt + b); e >= 0; e = Atomics.load(this.i32, this.entryWord(e) + ENTRY_NEXT)) {
        const w = this.entryWord(e);
        if (ifindex < 0 || i32u(this.i32, w + (ENTRY_VAL >> 2)) === ifindex >>> 0) out.push(i32u(this.i32, w + ENTRY_KEY));
      }
    }
    return out;
  }

  /** dev_map_notification(NETDEV_UNREGISTER) for the hash: every entry naming the device goes. */
  dev_map_netdev_unregister(ifindex: number): number {
    const keys = this.keysFor(ifindex);
    for (const k of keys) this.delete_key(k);
    return keys.length;
  }

  override map_free(): void {
    for (const k of this.keysFor(-1)) this.delete_key(k);
  }
}

function i32u(i32: Int32Array, w: number): number {
  return i32[w]! >>> 0;
}

export const dev_map_hash_ops: BpfMapOps = {
  map_alloc_check: (attr) => dev_map_alloc_check(attr),
  map_alloc: (attr, env) => DevMapHash.alloc(attr, env),
  map_attach: (shared, env) => DevMapHash.attach(shared, env),
};

export const dev_map_ops: BpfMapOps = {
  map_alloc_check: (attr) => dev_map_alloc_check(attr),
  map_alloc: (attr, env) => DevMap.alloc(attr, env),
  map_attach: (shared, env) => DevMap.attach(shared, env),
};

