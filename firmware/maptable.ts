// The firmware's offloaded map tables in NIC memory. The control-message handler (firmware/ctrl.ts)
// creates, updates and walks them for the host; the NIC cores reach the same bytes through the map
// helpers (map_lookup_elem and friends, at the addresses the FUNC capability records advertise) and
// bump counters in place with the big-endian atomic engine (src/nic/atomic.ts). So everything a table
// is lives in shared memory, laid out for several threads:
//
//   IMEM, at MAP_DIR_IMEM_OFF: the table directory, one 32-byte entry per table id (tid) — state,
//   map type, key and value size, max_entries, and where the table sits in EMEM. A core turns the tid
//   the JIT put in its image into a table with one directory read.
//
//   EMEM, per table: a 64-byte header (element count, writer lock, free-stack depth, geometry), then
//   for a hash map a bucket array of chain heads, a stack of free element indices and the element
//   pool (preallocated: max_entries elements of [next, hash, key, value]); for an array map just the
//   values. Keys and values are padded to 8 bytes, so every value starts 8-byte aligned and a 64-bit
//   counter never straddles.
//
//   Chains are the kernel's hlist_nulls (include/linux/list_nulls.h), as kernel/bpf/hashtab.c uses
//   them for its preallocated htab: a bucket head or an element's `next` is a link word, either an
//   element (index << 1, bit 0 clear) or the "nulls" marker that ends a chain and names its bucket
//   (bucket << 1 | 1). init() makes every bucket an empty chain ending in its own marker.
//
// Concurrency. Writers (the control handler, a core's map_update/map_delete helper) take the table's
// lock; lookups take no lock. A new element is filled before it is linked, so a reader never sees a
// half-made element; a deleted element keeps its `next` until it is reused, so a reader standing on
// it still reaches the rest of its chain. Elements are preallocated and a deleted one goes back on the
// free stack at once (as the kernel's pcpu_freelist does for a preallocated htab), so the next insert
// may reuse it for a key of another bucket while a lock-free reader stands on it: the reader then
// follows the other bucket's chain and ends on that bucket's nulls marker, sees that the marker is not
// its own bucket's, and walks its chain again from the head — lookup_nulls_elem_raw(). That restart is
// all the lookup needs: a key present for the whole lookup is found, and no reuse has to wait for
// readers. What immediate reuse leaves, as in the kernel's preallocated htab, is that a lookup racing
// with the delete of its own key may hand back the element after it was reused (an offloaded
// program's add then lands in the new key's value); tables here are always preallocated (the driver
// refuses BPF_F_NO_PREALLOC). A walk is bounded by the element count per pass; a pass that runs
// longer was dragged between chains by writers and starts again.
//
// Values are copied in and out 8 bytes at a time with 64-bit atomic loads and stores: an atomic
// counter bumped by a core while the host reads or rewrites the value is never torn. Multi-word values
// written by the host are updated in place (as an array map is in the kernel), so a core may see a
// value mid-write; the host itself never does, because the handler serialises the host's operations.
//
// Operations return the firmware's status codes (CMSG_RC_*), which the driver maps to errno.

import { BPF_MAP_TYPE } from '../src/bpf/prog-types.js';
import {
  CMSG_RC_ERR_MAP_E2BIG, CMSG_RC_ERR_MAP_ERR, CMSG_RC_ERR_MAP_EXIST, CMSG_RC_ERR_MAP_NOENT, CMSG_RC_SUCCESS,
} from '../src/nic/ccm.js';
import type { NicMemory } from '../src/nic/memory.js';

/** Where the table directory starts in IMEM, and its entries. */
export const MAP_DIR_IMEM_OFF = 0;
export const MAP_DIR_ENTRY_BYTES = 32;
const D_STATE = 0, D_TYPE = 1, D_KEY = 2, D_VAL = 3, D_MAX = 4, D_BASE = 5, D_BYTES = 6, D_COUNT_HINT = 7;
export const MAP_DIR_FREE = 0;
export const MAP_DIR_LIVE = 1;

/** EMEM table header: 16 int32 words. */
export const MAP_TABLE_HDR_BYTES = 64;
const T_COUNT = 0, T_LOCK = 1, T_FREE_TOP = 2, T_UNUSED = 3, T_NBUCKETS = 4, T_KSTRIDE = 5, T_VSTRIDE = 6, T_ESTRIDE = 7;
/** Hash element: next (a link word), hash, then key and value. */
const E_NEXT = 0, E_HASH = 4, E_KEY = 8;

/** Link words (hlist_nulls): an element, or the marker that ends bucket b's chain. */
const is_a_nulls = (link: number): boolean => (link & 1) !== 0;
const get_nulls_value = (link: number): number => link >>> 1;
const nulls_link = (bucket: number): number => (bucket << 1) | 1;
const elem_link = (idx: number): number => idx << 1;
const link_elem = (link: number): number => link >>> 1;

/** Update flags (BPF_ANY, BPF_NOEXIST, BPF_EXIST): the low 32 bits the cmsg carries. */
export const BPF_ANY = 0;
export const BPF_NOEXIST = 1;
export const BPF_EXIST = 2;

const round8 = (n: number): number => (n + 7) & ~7;

function roundupPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/** The EMEM bytes a table of this shape takes. */
export function map_table_bytes(type: number, keySize: number, valueSize: number, maxEntries: number): number {
  const vs = round8(valueSize);
  if (type === BPF_MAP_TYPE.ARRAY) return MAP_TABLE_HDR_BYTES + maxEntries * vs;
  const nb = Math.max(8, roundupPow2(maxEntries));
  return MAP_TABLE_HDR_BYTES + nb * 4 + round8(maxEntries * 4) + maxEntries * (8 + round8(keySize) + vs);
}

function rotl(x: number, r: number): number {
  return (x << r) | (x >>> (32 - r));
}

/** MurmurHash3 (x86, 32-bit) of the key bytes: the hash the firmware and the cores agree on. */
export function map_hash(b: Uint8Array, off: number, len: number): number {
  let h = 0x9747b28c ^ len;
  let i = 0;
  for (; i + 4 <= len; i += 4) {
    let k = b[off + i]! | (b[off + i + 1]! << 8) | (b[off + i + 2]! << 16) | (b[off + i + 3]! << 24);
    k = Math.imul(rotl(Math.imul(k, 0xcc9e2d51), 15), 0x1b873593);
    h = (Math.imul(rotl(h ^ k, 13), 5) + 0xe6546b64) | 0;
  }
  let k = 0;
  for (let s = 0; i < len; i++, s += 8) k |= b[off + i]! << s;
  if (k !== 0 || (len & 3) !== 0) h ^= Math.imul(rotl(Math.imul(k, 0xcc9e2d51), 15), 0x1b873593);
  h ^= len;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) | 0;
}

/** The directory entry of `tid`, as int32 word index into IMEM. */
function dirWord(tid: number): number {
  return (MAP_DIR_IMEM_OFF + tid * MAP_DIR_ENTRY_BYTES) >> 2;
}

export interface MapDirEntry {
  readonly tid: number;
  readonly type: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly base: number;
  readonly bytes: number;
}

/** Read a live directory entry (undefined for a free one). Any thread. */
export function map_dir_read(mem: NicMemory, tid: number): MapDirEntry | undefined {
  const w = dirWord(tid);
  const i32 = mem.imemI32;
  if (w + 8 > i32.length || Atomics.load(i32, w + D_STATE) !== MAP_DIR_LIVE) return undefined;
  return {
    tid, type: i32[w + D_TYPE]!, keySize: i32[w + D_KEY]!, valueSize: i32[w + D_VAL]!,
    maxEntries: i32[w + D_MAX]! >>> 0, base: i32[w + D_BASE]! >>> 0, bytes: i32[w + D_BYTES]! >>> 0,
  };
}

/** Publish a directory entry: fields first, state last. */
export function map_dir_write(mem: NicMemory, e: MapDirEntry): void {
  const w = dirWord(e.tid);
  const i32 = mem.imemI32;
  i32[w + D_TYPE] = e.type;
  i32[w + D_KEY] = e.keySize;
  i32[w + D_VAL] = e.valueSize;
  i32[w + D_MAX] = e.maxEntries | 0;
  i32[w + D_BASE] = e.base | 0;
  i32[w + D_BYTES] = e.bytes | 0;
  i32[w + D_COUNT_HINT] = 0;
  Atomics.store(i32, w + D_STATE, MAP_DIR_LIVE);
}

export function map_dir_clear(mem: NicMemory, tid: number): void {
  Atomics.store(mem.imemI32, dirWord(tid) + D_STATE, MAP_DIR_FREE);
}

const SPIN = 128;
/**
 * Walks of one chain before a lookup gives up on the table. A walk starts again only when a writer
 * moved an element it stood on during that very walk; this many in a row means no chain ends (a
 * corrupt table), which must fail loudly rather than hang a core.
 */
const MAX_WALKS = 1024;

/**
 * One offloaded table, seen from any thread that has the NIC memory. Construct it from a live
 * directory entry; no per-operation allocation.
 */
export class MapTable {
  readonly tid: number;
  readonly type: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  /** Byte offset of the table in EMEM. */
  readonly base: number;
  readonly keyStride: number;
  readonly valStride: number;
  readonly elemStride: number;
  readonly nbuckets: number;
  private readonly u8: Uint8Array;
  private readonly i32: Int32Array;
  private readonly i64: BigInt64Array;
  /** int32 index of the header, of the first bucket, of the free stack; byte offset of the first element. */
  private readonly hw: number;
  private readonly bw: number;
  private readonly fw: number;
  private readonly elems: number;

  constructor(mem: NicMemory, e: MapDirEntry) {
    this.tid = e.tid;
    this.type = e.type;
    this.keySize = e.keySize;
    this.valueSize = e.valueSize;
    this.maxEntries = e.maxEntries;
    this.base = e.base;
    // Fixed-length views up to the table's end: its extent is settled when it is allocated, and V8
    // makes every access through a view that tracks a growable SharedArrayBuffer (NicMemory's EMEM
    // views) many times slower, and contended between threads.
    const end = e.base + e.bytes;
    if (mem.ememSab.byteLength < end) throw new Error(`maptable ${e.tid}: EMEM is backed up to ${mem.ememSab.byteLength}, the table ends at ${end}`);
    this.u8 = new Uint8Array(mem.ememSab, 0, end);
    this.i32 = new Int32Array(mem.ememSab, 0, end >> 2);
    this.i64 = new BigInt64Array(mem.ememSab, 0, end >> 3);
    this.hw = e.base >> 2;
    this.keyStride = round8(e.keySize);
    this.valStride = round8(e.valueSize);
    if (this.type === BPF_MAP_TYPE.ARRAY) {
      this.elemStride = this.valStride;
      this.nbuckets = 0;
      this.bw = this.hw + (MAP_TABLE_HDR_BYTES >> 2);
      this.fw = this.bw;
      this.elems = e.base + MAP_TABLE_HDR_BYTES;
    } else {
      this.elemStride = 8 + this.keyStride + this.valStride;
      this.nbuckets = Math.max(8, roundupPow2(e.maxEntries));
      this.bw = this.hw + (MAP_TABLE_HDR_BYTES >> 2);
      this.fw = this.bw + this.nbuckets;
      this.elems = e.base + MAP_TABLE_HDR_BYTES + this.nbuckets * 4 + round8(e.maxEntries * 4);
    }
  }

  /** Initialise a freshly allocated (zeroed) table's header. Only the owner, before publishing. */
  init(): void {
    const h = this.hw;
    this.i32[h + T_COUNT] = 0;
    this.i32[h + T_LOCK] = 0;
    this.i32[h + T_FREE_TOP] = 0;
    this.i32[h + T_UNUSED] = 0;
    this.i32[h + T_NBUCKETS] = this.nbuckets;
    this.i32[h + T_KSTRIDE] = this.keyStride;
    this.i32[h + T_VSTRIDE] = this.valStride;
    this.i32[h + T_ESTRIDE] = this.elemStride;
    // INIT_HLIST_NULLS_HEAD(head, b): each empty chain already ends in its own bucket's marker.
    for (let b = 0; b < this.nbuckets; b++) this.i32[this.bw + b] = nulls_link(b);
  }

  get isArray(): boolean {
    return this.type === BPF_MAP_TYPE.ARRAY;
  }

  /** Elements in use (hash); max_entries for an array. */
  get count(): number {
    return this.isArray ? this.maxEntries : Atomics.load(this.i32, this.hw + T_COUNT);
  }

  // ---------------------------------------------------------------- lock

  // The lock word is 0 (free), 1 (held) or 2 (held, and someone may sleep on it): Drepper's futex
  // mutex ("Futexes Are Tricky"), so that an unlock nobody waits for costs no wake-up call.

  private lock(): void {
    const w = this.hw + T_LOCK;
    for (let i = 0; i < SPIN; i++) if (Atomics.compareExchange(this.i32, w, 0, 1) === 0) return;
    // Contended: mark it so that the holder wakes us, and sleep until it is free (taking it marked,
    // as other sleepers may remain). Holders never block while holding it, so the wait is short;
    // Atomics.wait is allowed on Node's main thread too (the in-process firmware).
    while (Atomics.exchange(this.i32, w, 2) !== 0) Atomics.wait(this.i32, w, 2, 1);
  }

  private unlock(): void {
    if (Atomics.exchange(this.i32, this.hw + T_LOCK, 0) === 2) Atomics.notify(this.i32, this.hw + T_LOCK, 1);
  }

  // ---------------------------------------------------------------- elements

  private elemOff(idx: number): number {
    return this.elems + idx * this.elemStride;
  }

  /** Byte offset in EMEM of element `idx`'s value. */
  valueOff(idx: number): number {
    return this.isArray ? this.elems + idx * this.valStride : this.elemOff(idx) + E_KEY + this.keyStride;
  }

  keyOff(idx: number): number {
    return this.elemOff(idx) + E_KEY;
  }

  private keyEq(idx: number, key: Uint8Array, off: number): boolean {
    const k = this.keyOff(idx);
    const u8 = this.u8;
    for (let i = 0; i < this.keySize; i++) if (u8[k + i] !== key[off + i]) return false;
    return true;
  }

  /** The link word after element `idx` (an element or a nulls marker). A test may override it to stop a reader there. */
  protected next(idx: number): number {
    return Atomics.load(this.i32, (this.elemOff(idx) + E_NEXT) >> 2);
  }

  /**
   * The element holding `key`, or -1: lookup_nulls_elem_raw(). Lock-free: a walk that ends on another
   * bucket's nulls marker (it stood on an element that was deleted and reused in another chain), or
   * that takes more steps than the table has elements, starts again from the head.
   */
  private find(key: Uint8Array, off: number, hash: number): number {
    const bucket = hash & (this.nbuckets - 1);
    const head = this.bw + bucket;
    for (let pass = 0; pass < MAX_WALKS; pass++) {
      let link = Atomics.load(this.i32, head);
      for (let steps = 0; !is_a_nulls(link) && steps <= this.maxEntries; steps++) {
        const e = link_elem(link);
        if (this.i32[(this.elemOff(e) + E_HASH) >> 2] === hash && this.keyEq(e, key, off)) return e;
        link = this.next(e);
      }
      if (is_a_nulls(link) && get_nulls_value(link) === bucket) return -1;
    }
    throw new Error(`maptable ${this.tid}: bucket ${bucket}'s chain did not end in its marker in ${MAX_WALKS} walks (the table is corrupt)`);
  }

  /** An array key (a little-endian u32 index). */
  private index(key: Uint8Array, off: number): number {
    return (key[off]! | (key[off + 1]! << 8) | (key[off + 2]! << 16) | (key[off + 3]! << 24)) >>> 0;
  }

  /**
   * map_lookup_elem: the element index holding `key` (value at valueOff(idx)), or -1. For an array
   * the index is the key itself.
   */
  lookup(key: Uint8Array, off: number): number {
    if (this.isArray) {
      const i = this.index(key, off);
      return i < this.maxEntries ? i : -1;
    }
    return this.find(key, off, map_hash(key, off, this.keySize));
  }

  // ---------------------------------------------------------------- value copies

  /**
   * Copy element `idx`'s value (valStride bytes) to `out` (a view of the destination buffer) at byte
   * `outOff`, 8 bytes per atomic load.
   */
  readValue(idx: number, out: DataView, outOff: number): void {
    const src = this.valueOff(idx) >> 3;
    for (let i = 0; i < this.valStride >> 3; i++) out.setBigInt64(outOff + i * 8, Atomics.load(this.i64, src + i), true);
  }

  private writeValue(idx: number, val: DataView, valOff: number): void {
    const dst = this.valueOff(idx) >> 3;
    for (let i = 0; i < this.valStride >> 3; i++) Atomics.store(this.i64, dst + i, val.getBigInt64(valOff + i * 8, true));
  }

  /** Copy element `idx`'s key to `out` (a hash key, or an array index as a little-endian u32). */
  readKey(idx: number, out: Uint8Array, outOff: number): void {
    if (this.isArray) {
      out[outOff] = idx & 0xff;
      out[outOff + 1] = (idx >>> 8) & 0xff;
      out[outOff + 2] = (idx >>> 16) & 0xff;
      out[outOff + 3] = (idx >>> 24) & 0xff;
      return;
    }
    const k = this.keyOff(idx);
    const u8 = this.u8;
    for (let i = 0; i < this.keySize; i++) out[outOff + i] = u8[k + i]!;
  }

  // ---------------------------------------------------------------- writers

  /** map_update_elem. `val` (a view of the message) holds valStride bytes at valOff (its value slot). */
  update(key: Uint8Array, keyOff: number, val: DataView, valOff: number, flags: number): number {
    if (flags !== BPF_ANY && flags !== BPF_NOEXIST && flags !== BPF_EXIST) return CMSG_RC_ERR_MAP_ERR;
    if (this.isArray) {
      const i = this.index(key, keyOff);
      if (i >= this.maxEntries) return CMSG_RC_ERR_MAP_E2BIG;
      if (flags === BPF_NOEXIST) return CMSG_RC_ERR_MAP_EXIST;
      this.writeValue(i, val, valOff);
      return CMSG_RC_SUCCESS;
    }
    const hash = map_hash(key, keyOff, this.keySize);
    this.lock();
    try {
      const e = this.find(key, keyOff, hash);
      if (e >= 0) {
        if (flags === BPF_NOEXIST) return CMSG_RC_ERR_MAP_EXIST;
        this.writeValue(e, val, valOff);
        return CMSG_RC_SUCCESS;
      }
      if (flags === BPF_EXIST) return CMSG_RC_ERR_MAP_NOENT;
      const h = this.hw;
      if (this.i32[h + T_COUNT]! >= this.maxEntries) return CMSG_RC_ERR_MAP_E2BIG;
      let n: number;
      const top = this.i32[h + T_FREE_TOP]!;
      if (top > 0) {
        n = this.i32[this.fw + top - 1]!;
        this.i32[h + T_FREE_TOP] = top - 1;
      } else {
        n = this.i32[h + T_UNUSED]!;
        if (n >= this.maxEntries) return CMSG_RC_ERR_MAP_E2BIG;
        this.i32[h + T_UNUSED] = n + 1;
      }
      const eo = this.elemOff(n);
      this.i32[(eo + E_HASH) >> 2] = hash;
      for (let i = 0; i < this.keySize; i++) this.u8[eo + E_KEY + i] = key[keyOff + i]!;
      this.writeValue(n, val, valOff);
      // hlist_nulls_add_head_rcu(): the element points at the chain before the head points at it.
      const b = this.bw + (hash & (this.nbuckets - 1));
      Atomics.store(this.i32, (eo + E_NEXT) >> 2, Atomics.load(this.i32, b));
      Atomics.store(this.i32, b, elem_link(n));
      Atomics.add(this.i32, h + T_COUNT, 1);
      return CMSG_RC_SUCCESS;
    } finally {
      this.unlock();
    }
  }

  /** map_delete_elem. Arrays cannot delete (the kernel's array map returns -EINVAL). */
  delete(key: Uint8Array, keyOff: number): number {
    if (this.isArray) return CMSG_RC_ERR_MAP_ERR;
    const hash = map_hash(key, keyOff, this.keySize);
    this.lock();
    try {
      // Under the lock the chains hold still: a plain walk to the marker (lookup_elem_raw()).
      const b = this.bw + (hash & (this.nbuckets - 1));
      let prevWord = b;
      let link = Atomics.load(this.i32, b);
      for (let steps = 0; !is_a_nulls(link) && steps <= this.maxEntries; steps++) {
        const e = link_elem(link);
        const eo = this.elemOff(e);
        if (this.i32[(eo + E_HASH) >> 2] === hash && this.keyEq(e, key, keyOff)) {
          // hlist_nulls_del_rcu(): unlink, but leave e's own `next` alone: a lock-free reader on e
          // still finds the rest. The free stack, not `next`, remembers it for reuse.
          Atomics.store(this.i32, prevWord, Atomics.load(this.i32, (eo + E_NEXT) >> 2));
          const top = this.i32[this.hw + T_FREE_TOP]!;
          this.i32[this.fw + top] = e;
          this.i32[this.hw + T_FREE_TOP] = top + 1;
          Atomics.sub(this.i32, this.hw + T_COUNT, 1);
          return CMSG_RC_SUCCESS;
        }
        prevWord = (eo + E_NEXT) >> 2;
        link = Atomics.load(this.i32, prevWord);
      }
      return CMSG_RC_ERR_MAP_NOENT;
    } finally {
      this.unlock();
    }
  }

  // ---------------------------------------------------------------- iteration

  /** The first non-empty bucket's head from bucket `from` on, or -1. */
  private scanFrom(from: number): number {
    for (let b = from; b < this.nbuckets; b++) {
      const head = Atomics.load(this.i32, this.bw + b);
      if (!is_a_nulls(head)) return link_elem(head);
    }
    return -1;
  }

  /**
   * map_get_next_key: the element after `key` in walk order (buckets in order, each chain in order),
   * or -1 at the end; null asks for the first. A key that is not in the table continues from its own
   * bucket (htab_map_get_next_key() starts again from the first one), so a walk whose current key is
   * deleted under it still moves forward and ends: every step goes to a later bucket or further along
   * a chain.
   */
  nextAfterKey(key: Uint8Array | null, off: number): number {
    if (this.isArray) {
      if (key === null) return this.maxEntries > 0 ? 0 : -1;
      const i = this.index(key, off);
      if (i >= this.maxEntries) return 0;
      return i + 1 < this.maxEntries ? i + 1 : -1;
    }
    if (key === null) return this.scanFrom(0);
    const hash = map_hash(key, off, this.keySize);
    const bucket = hash & (this.nbuckets - 1);
    const e = this.find(key, off, hash);
    if (e < 0) return this.scanFrom(bucket);
    return this.nextInBucket(e, bucket);
  }

  /**
   * The element after element `idx` in walk order, or -1 (for multi-entry GETNEXT replies). The walk
   * stays in idx's bucket: when the link after idx leads into another bucket's chain (idx or its
   * successor was deleted and reused meanwhile), it goes on at the next bucket rather than back.
   */
  nextAfterElem(idx: number): number {
    if (this.isArray) return idx + 1 < this.maxEntries ? idx + 1 : -1;
    return this.nextInBucket(idx, this.i32[(this.elemOff(idx) + E_HASH) >> 2]! & (this.nbuckets - 1));
  }

  private nextInBucket(idx: number, bucket: number): number {
    const link = this.next(idx);
    if (!is_a_nulls(link)) {
      const n = link_elem(link);
      if ((this.i32[(this.elemOff(n) + E_HASH) >> 2]! & (this.nbuckets - 1)) === bucket) return n;
    }
    return this.scanFrom(bucket + 1);
  }
}
