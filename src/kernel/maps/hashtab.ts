// kernel/bpf/hashtab.c: BPF_MAP_TYPE_HASH, PERCPU_HASH, LRU_HASH and LRU_PERCPU_HASH.
//
// Shared-memory layout (one SharedArrayBuffer, viewed as bytes `mem` and words `i32`):
//   header (16 words): writer lock, element count, hash seed, LRU clock hand, free-list header
//   buckets: n_buckets words, each the index of the chain's first element or -1
//   retire FIFO of the free list (freelist.ts)
//   elements, each elem_size bytes (struct htab_elem):
//     +0 next (element index or -1)  +4 hash  +8 state (free/live/retired)  +12 LRU ref bit
//     +16 key, round_up(key_size, 8) bytes
//     then the value: round_up(value_size, 8) bytes, or one such slot per possible CPU (per-CPU types)
//
// Concurrency, as htab_map_update_elem() arranges it:
//  - Readers (lookups from programs in any thread, syscall lookups, get_next_key) take no lock: they
//    load the bucket head and the `next` links (address-dependent loads, as rcu_dereference) and compare keys.
//  - Writers take the map's lock (one lock per map, in shared memory; the kernel has one per bucket).
//  - An update of an existing key never writes into the element readers may be reading: it fills a
//    new element, links it at the head of the bucket (so a concurrent search finds it before the old
//    one), then unlinks the old one. Deletes unlink. An unlinked element keeps its `next` link and is
//    reused only after an RCU grace period (freelist.ts), so a reader never sees a torn value or a
//    link into another chain. (The kernel reuses preallocated elements at once; see freelist.ts.)
//  - Per-CPU types update an existing element in place, as the kernel does: a CPU's copy is written by
//    that CPU's programs or by the syscall.
//  - BPF_F_LOCK updates an existing element in place under the value's bpf_spin_lock, as the kernel.
//
// Capacity: max_entries live elements (E2BIG beyond, as the kernel's full map) out of a pool of
// max_entries + spare elements; the spares are what a replacing update takes while the old element
// waits for its grace period. If every spare is still waiting (readers holding very long sections
// while the same keys are replaced many times), the update fails with ENOMEM, as a non-preallocated
// kernel map does when bpf_mem_alloc() fails, and an LRU map does when it finds no free node.

import type { Rcu } from '../rcu.js';
import {
  BPF_EXIST, BPF_F_ACCESS_MASK, BPF_F_LOCK, BPF_F_NO_COMMON_LRU, BPF_F_NO_PREALLOC, BPF_F_NUMA_NODE,
  BPF_F_ZERO_SEED, BPF_MAP_TYPE_LRU_HASH, BPF_MAP_TYPE_LRU_PERCPU_HASH, BPF_MAP_TYPE_PERCPU_HASH,
  BPF_NOEXIST, BpfMap, E2BIG, EEXIST, EINVAL, ENOENT, ENOMEM, KMALLOC_MAX_SIZE, NUMA_NO_NODE,
  PCPU_MIN_UNIT_SIZE, alloc_check_fail, bpf_map_area_alloc, bpf_map_attr_numa_node,
  bpf_map_flags_access_ok, bpf_map_init_from_attr, copy_map_value, memcpy, raw_spin_lock, raw_spin_unlock,
  round_up, roundup_pow_of_two, store_u32,
} from './map.js';
import type { BpfMapCreateAttr, BpfMapDesc, BpfMapOps, BpfMapShared, MapEnv } from './map.js';
import {
  ELEM_FREE, ELEM_LIVE, ELEM_NEXT, ELEM_RETIRED, ELEM_STATE, FREELIST_HDR_WORDS, RcuFreelist,
  retire_ring_words,
} from './freelist.js';
import { BpfLru, ELEM_LRU_REF } from './bpf_lru_list.js';
import { jhash2_1word, jhash2_2words, jhash2_4words, jhash2_source, jhash_i32, jhash_init } from './jhash.js';

const HTAB_CREATE_FLAG_MASK = BPF_F_NO_PREALLOC | BPF_F_NO_COMMON_LRU | BPF_F_NUMA_NODE | BPF_F_ACCESS_MASK | BPF_F_ZERO_SEED;

import { SIZEOF_BUCKET, SIZEOF_HTAB_ELEM } from '../kstruct.js';

// Header words.
const H_LOCK = 0;
const H_COUNT = 1;
const H_HASHRND = 2;
const H_LRU_HAND = 3;
const H_FREELIST = 4; // FREELIST_HDR_WORDS words
const H_POOL = H_FREELIST + FREELIST_HDR_WORDS; // pool size, so that another thread can attach
const HDR_WORDS = 16;

/** How long a syscall update waits for readers to release spare elements before ENOMEM. */
const HTAB_SYSCALL_WAIT_MS = 200;

/** Bytes of element header before the key. */
const ELEM_HDR_BYTES = 16;
const ELEM_HASH = 1;
/** Word offset of the key in an element. */
const ELEM_KEY = ELEM_HDR_BYTES >> 2;

function is_percpu(type: number): boolean {
  return type === BPF_MAP_TYPE_PERCPU_HASH || type === BPF_MAP_TYPE_LRU_PERCPU_HASH;
}

function is_lru(type: number): boolean {
  return type === BPF_MAP_TYPE_LRU_HASH || type === BPF_MAP_TYPE_LRU_PERCPU_HASH;
}

/** htab_map_alloc_check(). The emulated user is root, so the CAP_BPF / CAP_SYS_ADMIN checks pass. */
export function htab_map_alloc_check(attr: BpfMapCreateAttr): void {
  const percpu = is_percpu(attr.map_type);
  const lru = is_lru(attr.map_type);
  const flags = attr.map_flags ?? 0;
  const percpu_lru = (flags & BPF_F_NO_COMMON_LRU) !== 0;
  const prealloc = (flags & BPF_F_NO_PREALLOC) === 0;
  if ((flags & ~HTAB_CREATE_FLAG_MASK) !== 0) {
    alloc_check_fail('EINVAL', `map_flags 0x${(flags & ~HTAB_CREATE_FLAG_MASK).toString(16)} are not valid for a hash map`);
  }
  if (!bpf_map_flags_access_ok(flags)) alloc_check_fail('EINVAL', 'BPF_F_RDONLY_PROG and BPF_F_WRONLY_PROG together');
  if (!lru && percpu_lru) alloc_check_fail('EINVAL', 'BPF_F_NO_COMMON_LRU is only for LRU maps');
  if (lru && !prealloc) alloc_check_fail('ENOTSUPP', 'LRU maps are always preallocated (BPF_F_NO_PREALLOC)');
  if (bpf_map_attr_numa_node(attr) !== NUMA_NO_NODE && (percpu || percpu_lru)) {
    alloc_check_fail('EINVAL', 'a per-CPU map or per-CPU LRU cannot be bound to a NUMA node');
  }
  if (attr.max_entries === 0) alloc_check_fail('EINVAL', 'max_entries must not be 0');
  if (attr.key_size === 0) alloc_check_fail('EINVAL', 'key_size must not be 0');
  if (attr.value_size === 0) alloc_check_fail('EINVAL', 'value_size must not be 0');
  if (attr.key_size + attr.value_size >= KMALLOC_MAX_SIZE - SIZEOF_HTAB_ELEM) {
    alloc_check_fail('E2BIG', `key_size + value_size (${attr.key_size + attr.value_size}) must be below ${KMALLOC_MAX_SIZE - SIZEOF_HTAB_ELEM}`);
  }
  if (percpu && round_up(attr.value_size, 8) > PCPU_MIN_UNIT_SIZE) {
    alloc_check_fail('E2BIG', `a per-CPU value of ${attr.value_size} bytes exceeds PCPU_MIN_UNIT_SIZE (${PCPU_MIN_UNIT_SIZE})`);
  }
}

interface HtabGeometry {
  readonly n_buckets: number;
  readonly pool: number;
  readonly elem_size: number;
  readonly bkt: number; // word index
  readonly ring: number; // word index
  readonly elem0: number; // byte offset
  readonly bytes: number;
}

function htab_geometry(desc: BpfMapDesc, ncpus: number, spare: number): HtabGeometry {
  const n_buckets = roundup_pow_of_two(desc.max_entries);
  const vslot = round_up(desc.value_size, 8);
  const elem_size = ELEM_HDR_BYTES + round_up(desc.key_size, 8) + (is_percpu(desc.map_type) ? vslot * ncpus : vslot);
  const pool = desc.max_entries + spare;
  const bkt = HDR_WORDS;
  const ring = bkt + n_buckets;
  const elem0 = round_up((ring + retire_ring_words(pool)) * 4, 8);
  return { n_buckets, pool, elem_size, bkt, ring, elem0, bytes: elem0 + pool * elem_size };
}

/** How many spare elements a map gets (MapEnv.htab_spare_elems overrides). */
function htab_spare(env: MapEnv, ncpus: number, elem_size: number): number {
  if (env.htab_spare_elems !== undefined) return Math.max(1, env.htab_spare_elems);
  return Math.max(ncpus, Math.min(Math.max(256, ncpus * 64), Math.floor((16 << 20) / elem_size)));
}

/** A little-endian u32 from a byte buffer at any offset, as an int32 (how i32 words compare). */
function load_u32_le(buf: Uint8Array, off: number): number {
  return buf[off]! | (buf[off + 1]! << 8) | (buf[off + 2]! << 16) | (buf[off + 3]! << 24);
}

export class HashTab extends BpfMap {
  readonly mem: Uint8Array;
  private readonly i32: Int32Array;
  private readonly sab: SharedArrayBuffer;
  readonly n_buckets: number;
  /** Elements in the pool: max_entries + spares. */
  readonly pool: number;
  readonly elem_size: number;
  readonly percpu: boolean;
  readonly lru: boolean;
  private readonly mask: number;
  private readonly bkt: number;
  private readonly elem0: number;
  /** Word index of element 0. */
  private readonly elem0W: number;
  private readonly strideW: number;
  /** Byte offset of element 0's value: an element's value is at value0 + idx * elem_size. */
  private readonly value0: number;
  /** Byte offset of the value inside an element. */
  private readonly value_off: number;
  /** round_up(value_size, 8): the distance between per-CPU copies. */
  private readonly vslot: number;
  private readonly hashrnd: number;
  /** jhash's start value for this key size and seed (jhash_init). */
  private readonly hinit: number;
  private readonly fl: RcuFreelist;
  private readonly lruList: BpfLru | null;

  private constructor(desc: BpfMapDesc, ncpus: number, rcu: Rcu, sab: SharedArrayBuffer, g: HtabGeometry) {
    super(desc, ncpus, rcu);
    this.sab = sab;
    this.mem = new Uint8Array(sab);
    this.i32 = new Int32Array(sab, 0, sab.byteLength >> 2);
    this.n_buckets = g.n_buckets;
    this.mask = g.n_buckets - 1;
    this.pool = g.pool;
    this.elem_size = g.elem_size;
    this.bkt = g.bkt;
    this.elem0 = g.elem0;
    this.elem0W = g.elem0 >> 2;
    this.strideW = g.elem_size >> 2;
    this.value_off = ELEM_HDR_BYTES + round_up(desc.key_size, 8);
    this.value0 = g.elem0 + this.value_off;
    this.vslot = round_up(desc.value_size, 8);
    this.percpu = is_percpu(desc.map_type);
    this.lru = is_lru(desc.map_type);
    this.hashrnd = this.i32[H_HASHRND]!;
    this.hinit = jhash_init(desc.key_size, this.hashrnd);
    this.fl = new RcuFreelist(this.i32, H_FREELIST, g.ring, g.pool, g.elem0 >> 2, this.strideW, rcu);
    this.lruList = this.lru ? new BpfLru(this.i32, H_LRU_HAND, g.pool, g.elem0 >> 2, this.strideW) : null;
  }

  /** htab_map_alloc(). */
  static alloc(attr: BpfMapCreateAttr, env: MapEnv): HashTab {
    const ncpus = env.num_possible_cpus;
    let max_entries = attr.max_entries;
    if (((attr.map_flags ?? 0) & BPF_F_NO_COMMON_LRU) !== 0) {
      // Each CPU's LRU list gets at least one element, and all the same number.
      max_entries = round_up(attr.max_entries, ncpus);
      if (max_entries > 0xffffffff) max_entries = Math.floor(attr.max_entries / ncpus) * ncpus;
    }
    if (max_entries > 2 ** 31) alloc_check_fail('E2BIG', `max_entries ${max_entries} is larger than 2^31`);
    const desc = bpf_map_init_from_attr(attr, max_entries);
    const n_buckets = roundup_pow_of_two(max_entries);
    if (n_buckets > Math.floor(0xffffffff / SIZEOF_BUCKET)) {
      alloc_check_fail('E2BIG', `max_entries ${max_entries} needs ${n_buckets} buckets, more than the kernel allows`);
    }
    const g0 = htab_geometry(desc, ncpus, 0);
    const g = htab_geometry(desc, ncpus, htab_spare(env, ncpus, g0.elem_size));
    const sab = bpf_map_area_alloc(g.bytes, env, `hash map of ${max_entries} x (${attr.key_size} + ${attr.value_size}) bytes`);
    const i32 = new Int32Array(sab, 0, sab.byteLength >> 2);
    const zero_seed = ((attr.map_flags ?? 0) & BPF_F_ZERO_SEED) !== 0;
    i32[H_HASHRND] = zero_seed ? 0 : (env.get_random_u32?.() ?? Math.floor(Math.random() * 0x100000000)) | 0;
    i32[H_POOL] = g.pool;
    i32.fill(-1, g.bkt, g.bkt + g.n_buckets);
    const map = new HashTab(desc, ncpus, env.rcu, sab, g);
    map.fl.populate();
    return map;
  }

  static attach(shared: BpfMapShared, env: MapEnv): HashTab {
    const { desc, ncpus, sab } = shared;
    const pool = new Int32Array(sab, 0, HDR_WORDS)[H_POOL]!;
    return new HashTab(desc, ncpus, env.rcu, sab, htab_geometry(desc, ncpus, pool - desc.max_entries));
  }

  shared(): BpfMapShared {
    return { desc: this.desc, ncpus: this.ncpus, sab: this.sab };
  }

  /** Live elements (htab->count). */
  get count(): number {
    return Atomics.load(this.i32, H_COUNT);
  }

  /** Elements retired and waiting for their grace period. */
  get retired(): number {
    return this.fl.nretired;
  }

  // ---------------------------------------------------------------- raw table access

  private elemOff(idx: number): number {
    return this.elem0 + idx * this.elem_size;
  }

  /**
   * htab_map_hash(), as an int32 (how elements store it and how every path compares it): jhash2()
   * over words for the key sizes programs use most, jhash() over bytes otherwise (the same value).
   */
  private htab_map_hash(buf: Uint8Array, off: number): number {
    switch (this.key_size) {
      case 4: return jhash2_1word(load_u32_le(buf, off), this.hinit);
      case 8: return jhash2_2words(load_u32_le(buf, off), load_u32_le(buf, off + 4), this.hinit);
      case 16: return jhash2_4words(load_u32_le(buf, off), load_u32_le(buf, off + 4), load_u32_le(buf, off + 8), load_u32_le(buf, off + 12), this.hinit);
      default: return jhash_i32(buf, off, this.key_size, this.hashrnd);
    }
  }

  /** memcmp() of an element's key with buf[off, off + key_size): a word at a time, the tail by bytes. */
  private key_eq(idx: number, buf: Uint8Array, off: number): boolean {
    const i32 = this.i32;
    // The element's key is 8-byte aligned, so its words are i32 words.
    const kw = this.elem0W + idx * this.strideW + ELEM_KEY;
    const n = this.key_size >> 2;
    for (let j = 0; j < n; j++) if (i32[kw + j] !== load_u32_le(buf, off + 4 * j)) return false;
    const mem = this.mem;
    for (let i = n << 2; i < this.key_size; i++) if (mem[(kw << 2) + i] !== buf[off + i]) return false;
    return true;
  }

  /** lookup_nulls_elem_raw(): walk the chain; lock-free, valid under rcu_read_lock or the lock. */
  private lookup_elem_raw(hash: number, buf: Uint8Array, off: number): number {
    // rcu_dereference() of the bucket head and the links: plain loads are enough, as in the kernel,
    // because every later load's address depends on the index just loaded and the writer fills an
    // element before it publishes the link with Atomics.store. (Atomics.load costs several plain loads
    // in V8, and this is the datapath's hash lookup.)
    const i32 = this.i32;
    let idx = i32[this.bkt + (hash & this.mask)]!;
    while (idx >= 0) {
      const w = this.elem0W + idx * this.strideW;
      if (i32[w + ELEM_HASH] === hash && this.key_eq(idx, buf, off)) return idx;
      idx = i32[w + ELEM_NEXT]!;
    }
    return -1;
  }

  private elemWord(idx: number): number {
    return this.elem0W + idx * this.strideW;
  }

  /** hlist_nulls_add_head_rcu(): the element is complete before the bucket publishes it. */
  private link_head(idx: number, hash: number): void {
    const b = this.bkt + (hash & this.mask);
    Atomics.store(this.i32, this.elemWord(idx) + ELEM_NEXT, Atomics.load(this.i32, b));
    Atomics.store(this.i32, this.elemWord(idx) + ELEM_STATE, ELEM_LIVE);
    Atomics.store(this.i32, b, idx);
  }

  /** hlist_nulls_del_rcu(): unlink, leaving the element's own `next` for readers standing on it. */
  private unlink(idx: number): void {
    const i32 = this.i32;
    const hash = i32[this.elemWord(idx) + ELEM_HASH]!;
    const b = this.bkt + (hash & this.mask);
    const next = Atomics.load(i32, this.elemWord(idx) + ELEM_NEXT);
    let cur = Atomics.load(i32, b);
    if (cur === idx) {
      Atomics.store(i32, b, next);
      return;
    }
    while (cur >= 0) {
      const w = this.elemWord(cur);
      const n = Atomics.load(i32, w + ELEM_NEXT);
      if (n === idx) {
        Atomics.store(i32, w + ELEM_NEXT, next);
        return;
      }
      cur = n;
    }
    throw new Error(`htab ${this.name}: element ${idx} is not on its bucket's chain`);
  }

  /** Fill a fresh element's key, hash, LRU bit and value (before it is linked). */
  private init_elem(idx: number, hash: number, keyBuf: Uint8Array, keyOff: number, valBuf: Uint8Array, valOff: number, cpu: number, onallcpus: boolean): void {
    const mem = this.mem;
    const base = this.elemOff(idx);
    const w = base >> 2;
    this.i32[w + ELEM_HASH] = hash;
    this.i32[w + ELEM_LRU_REF] = 0;
    memcpy(mem, base + ELEM_HDR_BYTES, keyBuf, keyOff, this.key_size);
    const v = base + this.value_off;
    if (!this.percpu) {
      if (this.spin_lock_off >= 0) this.i32[(v + this.spin_lock_off) >> 2] = 0;
      copy_map_value(mem, v, valBuf, valOff, this.value_size, this.spin_lock_off);
    } else if (onallcpus) {
      memcpy(mem, v, valBuf, valOff, this.vslot * this.ncpus);
    } else {
      // pcpu_init_value(): a program sets its CPU's copy; the others start at zero.
      mem.fill(0, v, v + this.vslot * this.ncpus);
      memcpy(mem, v + cpu * this.vslot, valBuf, valOff, this.value_size);
    }
  }

  /** pcpu_copy_value(): in place. */
  private pcpu_copy_value(idx: number, valBuf: Uint8Array, valOff: number, cpu: number, onallcpus: boolean): void {
    const v = this.elemOff(idx) + this.value_off;
    if (onallcpus) memcpy(this.mem, v, valBuf, valOff, this.vslot * this.ncpus);
    else memcpy(this.mem, v + cpu * this.vslot, valBuf, valOff, this.value_size);
  }

  /** copy_map_value_locked(): in place under the value's bpf_spin_lock. */
  private copy_value_locked(idx: number, valBuf: Uint8Array, valOff: number): void {
    const v = this.elemOff(idx) + this.value_off;
    const lockIdx = (v + this.spin_lock_off) >> 2;
    raw_spin_lock(this.i32, lockIdx);
    copy_map_value(this.mem, v, valBuf, valOff, this.value_size, this.spin_lock_off);
    raw_spin_unlock(this.i32, lockIdx);
  }

  /** check_flags(). */
  private check_flags(l_old: number, flags: number): number {
    const f = flags & ~BPF_F_LOCK;
    if (l_old >= 0 && f === BPF_NOEXIST) {
      this.errReason = 'BPF_NOEXIST: the key already exists';
      return -EEXIST;
    }
    if (l_old < 0 && f === BPF_EXIST) {
      this.errReason = 'BPF_EXIST: the key does not exist';
      return -ENOENT;
    }
    return 0;
  }

  /** An element for a new key, evicting for LRU maps when full: index, or -errno. */
  private alloc_elem(l_old: number): number {
    if (l_old < 0 && Atomics.load(this.i32, H_COUNT) >= this.max_entries) {
      if (this.lruList === null) {
        this.errReason = `the map is full (max_entries ${this.max_entries})`;
        return -E2BIG;
      }
      const victim = this.lruList.pick_victim();
      if (victim >= 0) this.delete_elem_locked(victim);
    }
    const idx = this.fl.pop();
    if (idx < 0) {
      this.errReason = 'no free element: every spare element is waiting for an RCU grace period';
      return -ENOMEM;
    }
    return idx;
  }

  /** Unlink and retire a live element; the caller holds the lock. */
  private delete_elem_locked(idx: number): void {
    this.unlink(idx);
    this.fl.retire(idx);
    Atomics.sub(this.i32, H_COUNT, 1);
  }

  /**
   * htab_map_update_elem() and its LRU / per-CPU variants. onallcpus: the syscall's per-CPU update
   * (every CPU's value given); otherwise a program's, for `cpu`.
   */
  private htab_update(keyBuf: Uint8Array, keyOff: number, valBuf: Uint8Array, valOff: number, flags: number, cpu: number, onallcpus: boolean): number {
    const lockFlag = (flags & BPF_F_LOCK) !== 0;
    if ((this.percpu || this.lru ? flags : flags & ~BPF_F_LOCK) > BPF_EXIST) {
      this.errReason = 'unknown update flags';
      return -EINVAL;
    }
    const hash = this.htab_map_hash(keyBuf, keyOff);
    if (lockFlag) {
      if (this.spin_lock_off < 0) {
        this.errReason = 'BPF_F_LOCK on a map value without a bpf_spin_lock';
        return -EINVAL;
      }
      // Find the element without the map lock and update it in place under the value's lock.
      const l = this.lookup_elem_raw(hash, keyBuf, keyOff);
      const ret = this.check_flags(l, flags);
      if (ret !== 0) return ret;
      if (l >= 0) {
        this.copy_value_locked(l, valBuf, valOff);
        return 0;
      }
    }
    const i32 = this.i32;
    raw_spin_lock(i32, H_LOCK);
    try {
      const l_old = this.lookup_elem_raw(hash, keyBuf, keyOff);
      const ret = this.check_flags(l_old, flags);
      if (ret !== 0) return ret;
      if (l_old >= 0 && lockFlag) {
        this.copy_value_locked(l_old, valBuf, valOff);
        return 0;
      }
      if (l_old >= 0 && this.percpu) {
        if (this.lru) BpfLru.set_ref(i32, this.elemWord(l_old));
        this.pcpu_copy_value(l_old, valBuf, valOff, cpu, onallcpus);
        return 0;
      }
      const l_new = this.alloc_elem(l_old);
      if (l_new < 0) return l_new;
      this.init_elem(l_new, hash, keyBuf, keyOff, valBuf, valOff, cpu, onallcpus);
      if (this.lru && l_old >= 0) i32[this.elemWord(l_new) + ELEM_LRU_REF] = 1;
      // New element first, so that a concurrent search finds it before the old one.
      this.link_head(l_new, hash);
      if (l_old >= 0) {
        this.unlink(l_old);
        this.fl.retire(l_old);
      } else {
        Atomics.add(i32, H_COUNT, 1);
      }
      return 0;
    } finally {
      raw_spin_unlock(i32, H_LOCK);
    }
  }

  /** htab_map_delete_elem(). */
  private htab_delete(keyBuf: Uint8Array, keyOff: number, out: Uint8Array | null, flags: number): number {
    const hash = this.htab_map_hash(keyBuf, keyOff);
    const i32 = this.i32;
    raw_spin_lock(i32, H_LOCK);
    try {
      const l = this.lookup_elem_raw(hash, keyBuf, keyOff);
      if (l < 0) {
        this.errReason = 'no such key';
        return -ENOENT;
      }
      if (out !== null) this.copy_value_out(l, out, flags);
      this.delete_elem_locked(l);
      return 0;
    } finally {
      raw_spin_unlock(i32, H_LOCK);
    }
  }

  private copy_value_out(idx: number, out: Uint8Array, flags: number): void {
    const v = this.elemOff(idx) + this.value_off;
    if (this.percpu) {
      out.set(this.mem.subarray(v, v + this.vslot * this.ncpus));
      return;
    }
    if ((flags & BPF_F_LOCK) !== 0) {
      const lockIdx = (v + this.spin_lock_off) >> 2;
      raw_spin_lock(this.i32, lockIdx);
      out.set(this.mem.subarray(v, v + this.value_size));
      raw_spin_unlock(this.i32, lockIdx);
    } else {
      out.set(this.mem.subarray(v, v + this.value_size));
    }
    if (this.spin_lock_off >= 0) store_u32(out, this.spin_lock_off, 0);
  }

  // ---------------------------------------------------------------- datapath

  lookupOffset(keyBuf: Uint8Array, keyOff: number, cpu: number): number {
    const o = keyOff;
    switch (this.key_size) {
      case 4: return this.lookup_w1(load_u32_le(keyBuf, o), cpu);
      case 8: return this.lookup_w2(load_u32_le(keyBuf, o), load_u32_le(keyBuf, o + 4), cpu);
      case 16: return this.lookup_w4(load_u32_le(keyBuf, o), load_u32_le(keyBuf, o + 4), load_u32_le(keyBuf, o + 8), load_u32_le(keyBuf, o + 12), cpu);
      default: {
        this.check_rcu('kernel/bpf/hashtab.c: __htab_map_lookup_elem() without rcu_read_lock()');
        const idx = this.lookup_elem_raw(this.htab_map_hash(keyBuf, keyOff), keyBuf, keyOff);
        return idx < 0 ? -1 : this.lookup_found(idx, cpu);
      }
    }
  }

  // Lookups of a key already loaded as little-endian int32 words, one per key size (4, 8 or 16
  // bytes): hash, chain walk and key compare on words, no call that returns a heap number. The same
  // lock-free read side as lookup_elem_raw(); gen_lookup() emits the same code inline for the JIT.

  /** __htab_map_lookup_elem() of a 4-byte key: value offset, or -1. */
  lookup_w1(k0: number, cpu: number): number {
    this.check_rcu('kernel/bpf/hashtab.c: __htab_map_lookup_elem() without rcu_read_lock()');
    const hash = jhash2_1word(k0, this.hinit);
    const i32 = this.i32;
    let idx = i32[this.bkt + (hash & this.mask)]!;
    while (idx >= 0) {
      const w = this.elem0W + idx * this.strideW;
      if (i32[w + ELEM_HASH] === hash && i32[w + ELEM_KEY] === k0) return this.lookup_found(idx, cpu);
      idx = i32[w + ELEM_NEXT]!;
    }
    return -1;
  }

  /** __htab_map_lookup_elem() of an 8-byte key. */
  lookup_w2(k0: number, k1: number, cpu: number): number {
    this.check_rcu('kernel/bpf/hashtab.c: __htab_map_lookup_elem() without rcu_read_lock()');
    const hash = jhash2_2words(k0, k1, this.hinit);
    const i32 = this.i32;
    let idx = i32[this.bkt + (hash & this.mask)]!;
    while (idx >= 0) {
      const w = this.elem0W + idx * this.strideW;
      if (i32[w + ELEM_HASH] === hash && i32[w + ELEM_KEY] === k0 && i32[w + ELEM_KEY + 1] === k1) return this.lookup_found(idx, cpu);
      idx = i32[w + ELEM_NEXT]!;
    }
    return -1;
  }

  /** __htab_map_lookup_elem() of a 16-byte key. */
  lookup_w4(k0: number, k1: number, k2: number, k3: number, cpu: number): number {
    this.check_rcu('kernel/bpf/hashtab.c: __htab_map_lookup_elem() without rcu_read_lock()');
    const hash = jhash2_4words(k0, k1, k2, k3, this.hinit);
    const i32 = this.i32;
    let idx = i32[this.bkt + (hash & this.mask)]!;
    while (idx >= 0) {
      const w = this.elem0W + idx * this.strideW;
      if (i32[w + ELEM_HASH] === hash && i32[w + ELEM_KEY] === k0 && i32[w + ELEM_KEY + 1] === k1
        && i32[w + ELEM_KEY + 2] === k2 && i32[w + ELEM_KEY + 3] === k3) return this.lookup_found(idx, cpu);
      idx = i32[w + ELEM_NEXT]!;
    }
    return -1;
  }

  /** The rcu_read_lock check of __htab_map_lookup_elem(), for lookups the JIT emits inline. */
  lookup_check_rcu(): void {
    this.check_rcu('kernel/bpf/hashtab.c: __htab_map_lookup_elem() without rcu_read_lock()');
  }

  /**
   * htab_map_gen_lookup()'s role for the host JIT: JavaScript statements doing lookup_w1/w2/w4 inline,
   * with this map's geometry as literals. The kernel's JIT inlines the call to
   * __htab_map_lookup_elem() and the step from element to value; here the hash and the chain walk are
   * emitted too, because a call out of a large generated function is not inlined by V8 and costs as
   * much as the walk (for the same reason the hash is emitted as statements, not called). The read side is the same as lookup_elem_raw()'s (plain loads, see there).
   *
   * keys: 1, 2 or 4 int32 expressions for the key's words (key_size 4, 8, 16), which the code may
   * evaluate more than once; cpu: the CPU's expression; scratch: three int32 locals the code may use;
   * out: the local that gets the value's offset, or -1; constant: names a value the generated code
   * reads (a local of the generated function). Undefined for other key sizes.
   */
  gen_lookup(keys: readonly string[], cpu: string, scratch: readonly [string, string, string], out: string,
    constant: (value: unknown, prefix: string) => string): string | undefined {
    const words = this.key_size === 4 ? 1 : this.key_size === 8 ? 2 : this.key_size === 16 ? 4 : 0;
    if (words === 0 || keys.length !== words) return undefined;
    const [h, e, w] = scratch;
    const i32 = constant(this.i32, 'HT');
    const eq = keys.map((k, j) => `${i32}[${w} + ${ELEM_KEY + j}] === ${k}`).join(' && ');
    const lru = this.lru ? ` ${constant(BpfLru.set_ref, 'LRU')}(${i32}, ${w});` : '';
    const pcpu = this.percpu ? ` + ${cpu} * ${this.vslot}` : '';
    // The hash is computed in the three scratch locals (it ends in h), then e and w walk the chain.
    return `${constant(this, 'HM')}.lookup_check_rcu(); ${jhash2_source(keys, this.hinit, [e, w, h])} `
      + `${e} = ${i32}[${this.bkt} + (${h} & ${this.mask})]; ${out} = -1; `
      + `while (${e} >= 0) { ${w} = ${this.elem0W} + ${e} * ${this.strideW}; `
      + `if (${i32}[${w} + ${ELEM_HASH}] === ${h} && ${eq}) { ${out} = ${this.value0} + ${e} * ${this.elem_size}${pcpu};${lru} break; } `
      + `${e} = ${i32}[${w} + ${ELEM_NEXT}]; }`;
  }

  /** A program found element idx: mark it referenced (htab_lru_map_lookup_elem) and give its value. */
  private lookup_found(idx: number, cpu: number): number {
    if (this.lru) BpfLru.set_ref(this.i32, this.elem0W + idx * this.strideW);
    const v = this.value0 + idx * this.elem_size;
    return this.percpu ? v + cpu * this.vslot : v;
  }

  updateFromProg(keyBuf: Uint8Array, keyOff: number, valBuf: Uint8Array, valOff: number, flags: number, cpu: number): number {
    this.check_rcu('kernel/bpf/hashtab.c: htab_map_update_elem() without rcu_read_lock()');
    return this.htab_update(keyBuf, keyOff, valBuf, valOff, flags, cpu, false);
  }

  deleteFromProg(keyBuf: Uint8Array, keyOff: number): number {
    this.check_rcu('kernel/bpf/hashtab.c: htab_map_delete_elem() without rcu_read_lock()');
    return this.htab_delete(keyBuf, keyOff, null, 0);
  }

  // ---------------------------------------------------------------- syscall side

  override get sys_value_size(): number {
    return this.percpu ? this.vslot * this.ncpus : this.value_size;
  }

  protected map_lookup_elem_sys(key: Uint8Array, out: Uint8Array, flags: number): number {
    // htab_lru_map_lookup_elem_sys(): a syscall lookup does not mark the element referenced.
    const idx = this.lookup_elem_raw(this.htab_map_hash(key, 0), key, 0);
    if (idx < 0) {
      this.errReason = 'no such key';
      return -ENOENT;
    }
    this.copy_value_out(idx, out, flags);
    return 0;
  }

  /**
   * A syscall update is process context: rather than fail with ENOMEM when every spare element is
   * still waiting for readers in other threads (one descheduled inside its section is enough), it
   * waits for them, bounded. Programs cannot wait; their updates fail with -ENOMEM instead.
   */
  protected override before_update_sys(): void {
    if (this.fl.nfree !== 0 || this.fl.nretired === 0 || this.reclaim() !== 0) return;
    if (this.rcu.rcu_read_lock_held()) return;
    this.rcu.synchronize_rcu_expedited(HTAB_SYSCALL_WAIT_MS);
    this.reclaim();
  }

  protected map_update_elem_sys(key: Uint8Array, value: Uint8Array, flags: number): number {
    return this.htab_update(key, 0, value, 0, flags, 0, true);
  }

  protected map_delete_elem_sys(key: Uint8Array): number {
    return this.htab_delete(key, 0, null, 0);
  }

  protected override map_lookup_and_delete_elem(key: Uint8Array, out: Uint8Array, flags: number): number {
    return this.htab_delete(key, 0, out, flags);
  }

  /** htab_map_get_next_key(): a key that is not in the map restarts from the first bucket. */
  protected map_get_next_key(key: Uint8Array | null, next: Uint8Array): number {
    const i32 = this.i32;
    let i = 0;
    if (key !== null) {
      const hash = this.htab_map_hash(key, 0);
      const l = this.lookup_elem_raw(hash, key, 0);
      if (l >= 0) {
        const n = Atomics.load(i32, this.elemWord(l) + ELEM_NEXT);
        if (n >= 0) {
          this.copy_key(n, next);
          return 0;
        }
        i = (hash & this.mask) + 1;
      }
    }
    for (; i < this.n_buckets; i++) {
      const head = Atomics.load(i32, this.bkt + i);
      if (head >= 0) {
        this.copy_key(head, next);
        return 0;
      }
    }
    this.errReason = 'no more keys';
    return -ENOENT;
  }

  private copy_key(idx: number, out: Uint8Array): void {
    const k = this.elemOff(idx) + ELEM_HDR_BYTES;
    out.set(this.mem.subarray(k, k + this.key_size));
  }

  // ---------------------------------------------------------------- checks and maintenance

  /**
   * Walk every chain as a lock-free reader would and report the first inconsistency, or '' if none:
   * a link out of range, a cycle, an element that is free (reused while reachable) or sits in the
   * wrong bucket. Call it under rcu_read_lock(); tests run it from reader threads under load.
   */
  htab_chain_check(): string {
    const i32 = this.i32;
    for (let b = 0; b < this.n_buckets; b++) {
      let idx = Atomics.load(i32, this.bkt + b);
      let steps = 0;
      while (idx >= 0) {
        if (idx >= this.pool) return `bucket ${b}: link to element ${idx} outside the pool of ${this.pool}`;
        if (++steps > this.pool) return `bucket ${b}: chain longer than the pool (a cycle)`;
        const w = this.elemWord(idx);
        const state = Atomics.load(i32, w + ELEM_STATE);
        if (state === ELEM_FREE) return `bucket ${b}: element ${idx} is on a chain but free`;
        if (state !== ELEM_LIVE && state !== ELEM_RETIRED) return `bucket ${b}: element ${idx} has state ${state}`;
        if ((i32[w + ELEM_HASH]! & this.mask) !== b) return `bucket ${b}: element ${idx} hashes to bucket ${i32[w + ELEM_HASH]! & this.mask}`;
        idx = Atomics.load(i32, w + ELEM_NEXT);
      }
    }
    return '';
  }

  /** Return retired elements whose grace period has passed to the free list now; returns how many. */
  reclaim(): number {
    raw_spin_lock(this.i32, H_LOCK);
    try {
      return this.fl.reclaim();
    } finally {
      raw_spin_unlock(this.i32, H_LOCK);
    }
  }
}

export const htab_map_ops: BpfMapOps = {
  map_alloc_check: (attr) => htab_map_alloc_check(attr),
  map_alloc: (attr, env) => HashTab.alloc(attr, env),
  map_attach: (shared, env) => HashTab.attach(shared, env),
};

