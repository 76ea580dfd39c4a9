// The common part of every host map: the uapi constants of include/uapi/linux/bpf.h (map types,
// map_flags, update flags), struct bpf_map and struct bpf_map_ops of include/linux/bpf.h, and the
// syscall-side wrappers of kernel/bpf/syscall.c (map_lookup_elem, map_update_elem, map_delete_elem,
// map_get_next_key, map_lookup_and_delete_elem, bpf_map_value_size) around each type's ops.
//
// Two faces, one state:
//  - the datapath (a BPF program through the interpreter or the JIT, in any thread): allocation-free
//    methods that take a key as (buffer, offset) and return a byte offset into `mem` or 0/-errno, as
//    the helpers bpf_map_lookup_elem / bpf_map_update_elem / bpf_map_delete_elem do. The caller holds
//    rcu_read_lock(), as a program always runs under it in the kernel.
//  - the syscall side (bpftool, the loader): Uint8Array keys and values, copies out, BpfError with
//    the kernel's errno on failure. These take rcu_read_lock() themselves, as syscall.c does.
//
// All key/value storage is in SharedArrayBuffers so that another thread can attach the same map from
// `shared()` (see create.ts bpf_map_attach) and run programs against it.

import { BpfError, errnoName, errnoNumber, strerror } from '../../bpf/errno.js';
import {
  BPF_F_MMAPABLE, BPF_F_NO_COMMON_LRU, BPF_F_NO_PREALLOC, BPF_F_NUMA_NODE, BPF_F_RDONLY, BPF_F_RDONLY_PROG,
  BPF_F_WRONLY, BPF_F_WRONLY_PROG, BPF_F_ZERO_SEED, BPF_MAP_TYPE, mapTypeStr,
} from '../../bpf/prog-types.js';
import type { Rcu } from '../rcu.js';

// ------------------------------------------------------------------ uapi: enum bpf_map_type
// The numbers come from the one uapi table in src/bpf/prog-types.ts; these aliases keep the
// kernel's spelling in the map code.

export const BPF_MAP_TYPE_UNSPEC = BPF_MAP_TYPE.UNSPEC;
export const BPF_MAP_TYPE_HASH = BPF_MAP_TYPE.HASH;
export const BPF_MAP_TYPE_ARRAY = BPF_MAP_TYPE.ARRAY;
export const BPF_MAP_TYPE_PROG_ARRAY = BPF_MAP_TYPE.PROG_ARRAY;
export const BPF_MAP_TYPE_PERF_EVENT_ARRAY = BPF_MAP_TYPE.PERF_EVENT_ARRAY;
export const BPF_MAP_TYPE_PERCPU_HASH = BPF_MAP_TYPE.PERCPU_HASH;
export const BPF_MAP_TYPE_PERCPU_ARRAY = BPF_MAP_TYPE.PERCPU_ARRAY;
export const BPF_MAP_TYPE_LRU_HASH = BPF_MAP_TYPE.LRU_HASH;
export const BPF_MAP_TYPE_LRU_PERCPU_HASH = BPF_MAP_TYPE.LRU_PERCPU_HASH;
export const BPF_MAP_TYPE_DEVMAP = BPF_MAP_TYPE.DEVMAP;
export const BPF_MAP_TYPE_DEVMAP_HASH = BPF_MAP_TYPE.DEVMAP_HASH;
export const BPF_MAP_TYPE_STRUCT_OPS = BPF_MAP_TYPE.STRUCT_OPS;
export const BPF_MAP_TYPE_BLOOM_FILTER = BPF_MAP_TYPE.BLOOM_FILTER;
export const BPF_MAP_TYPE_ARENA = BPF_MAP_TYPE.ARENA;

/** Map type names as libbpf_bpf_map_type_str() and bpftool print them. */
export const bpf_map_type_name = mapTypeStr;

// ------------------------------------------------------------------ uapi: flags

/** BPF_MAP_UPDATE_ELEM flags. */
export const BPF_ANY = 0;
export const BPF_NOEXIST = 1;
export const BPF_EXIST = 2;
export const BPF_F_LOCK = 4;

/** BPF_MAP_CREATE map_flags: the uapi table has the first ones; the later bits are defined here. */
export {
  BPF_F_NO_PREALLOC, BPF_F_NO_COMMON_LRU, BPF_F_NUMA_NODE, BPF_F_RDONLY, BPF_F_WRONLY, BPF_F_ZERO_SEED,
  BPF_F_RDONLY_PROG, BPF_F_WRONLY_PROG, BPF_F_MMAPABLE,
};
export const BPF_F_PRESERVE_ELEMS = 1 << 11;
export const BPF_F_INNER_MAP = 1 << 12;

export const BPF_F_ACCESS_MASK = BPF_F_RDONLY | BPF_F_RDONLY_PROG | BPF_F_WRONLY | BPF_F_WRONLY_PROG;

/** bpf_perf_event_output() flags. */
export const BPF_F_INDEX_MASK = 0xffffffff;
export const BPF_F_CURRENT_CPU = 0xffffffff;

export const NUMA_NO_NODE = -1;
/** BPF_OBJ_NAME_LEN, including the NUL. */
export const BPF_OBJ_NAME_LEN = 16;

/** include/linux/slab.h on x86-64 (SLUB, 4 KiB pages, MAX_PAGE_ORDER 10): KMALLOC_MAX_SIZE. */
export const KMALLOC_MAX_SIZE = 1 << 22;
/** mm/percpu: the largest per-CPU allocation; per-CPU map values are bound by it. */
export const PCPU_MIN_UNIT_SIZE = 32 << 10;
export const INT_MAX = 0x7fffffff;

/**
 * The emulator's stand-in for "vmalloc failed": one map's shared memory may not exceed this many
 * bytes (a typed array over a SharedArrayBuffer cannot pass 4 GiB anyway). Above it map creation
 * fails with ENOMEM, as a real kernel does for an array too big to allocate.
 */
export const MAP_AREA_MAX_BYTES = 1 << 30;

// ------------------------------------------------------------------ errno numbers for the ops

export const EPERM = errnoNumber('EPERM');
export const ENOENT = errnoNumber('ENOENT');
export const E2BIG = errnoNumber('E2BIG');
export const EBADF = errnoNumber('EBADF');
export const ENOMEM = errnoNumber('ENOMEM');
export const EFAULT = errnoNumber('EFAULT');
export const EBUSY = errnoNumber('EBUSY');
export const EEXIST = errnoNumber('EEXIST');
export const EINVAL = errnoNumber('EINVAL');
export const ENOSPC = errnoNumber('ENOSPC');
export const EOPNOTSUPP = errnoNumber('EOPNOTSUPP');
export const ENOTSUPP = errnoNumber('ENOTSUPP');

// ------------------------------------------------------------------ attributes and environment

/** The BPF_MAP_CREATE part of union bpf_attr (plus what the kernel derives from BTF). */
export interface BpfMapCreateAttr {
  map_type: number;
  key_size: number;
  value_size: number;
  max_entries: number;
  map_flags?: number;
  inner_map_fd?: number;
  numa_node?: number;
  map_name?: string;
  map_ifindex?: number;
  btf_fd?: number;
  btf_key_type_id?: number;
  btf_value_type_id?: number;
  btf_vmlinux_value_type_id?: number;
  map_extra?: number | bigint;
  /**
   * Offset of a `struct bpf_spin_lock` inside the value, as the kernel finds it in the value's BTF
   * (map->record); absent or -1 when the value has none. Needed for BPF_F_LOCK.
   */
  spin_lock_off?: number;
}

/** The attributes a created map keeps (struct bpf_map fields), normalised. */
export interface BpfMapDesc {
  readonly map_type: number;
  readonly key_size: number;
  readonly value_size: number;
  /** As the type adjusted it (LRU with BPF_F_NO_COMMON_LRU rounds it to a multiple of the CPUs). */
  readonly max_entries: number;
  readonly map_flags: number;
  readonly numa_node: number;
  readonly name: string;
  readonly spin_lock_off: number;
}

/** What another thread needs to attach the same map: plain data, structured-cloneable. */
export interface BpfMapShared {
  readonly desc: BpfMapDesc;
  /** num_possible_cpus() of the host that created the map. */
  readonly ncpus: number;
  readonly sab: SharedArrayBuffer;
  /** Type-specific extra buffers (e.g. a perf event array's sinks), or undefined. */
  readonly extra?: unknown;
}

/**
 * A kernel object with a reference count that a map (PROG_ARRAY, PERF_EVENT_ARRAY, a DEVMAP's
 * program) or a bpffs pin can hold: a program, a perf event, a map. The owner (the syscall layer)
 * frees it when the last reference goes.
 */
export interface RefCounted {
  /** The object's id (prog->aux->id, map->id, ...), what a syscall lookup reports. */
  readonly id: number;
  get(): void;
  put(): void;
}

/** What the host gives a map when it creates or attaches it. */
export interface MapEnv {
  readonly rcu: Rcu;
  /** num_possible_cpus(): the number of per-CPU copies and the CPU ids 0..n-1. */
  readonly num_possible_cpus: number;
  /** nr_node_ids for the BPF_F_NUMA_NODE check; 1 by default. */
  readonly nr_node_ids?: number;
  /** get_random_u32() for the hash seed; Math.random by default. */
  readonly get_random_u32?: () => number;
  /**
   * map->ops->map_fd_get_ptr(): turn the fd stored by a syscall update of a PROG_ARRAY,
   * PERF_EVENT_ARRAY or DEVMAP (its bpf_prog.fd) into the object, taking a reference. Throws a
   * BpfError (EBADF for a bad fd, EINVAL for an object of the wrong kind or an incompatible program).
   */
  readonly map_fd_get_ptr?: (map: BpfMap, fd: number) => RefCounted;
  /** dev_get_by_index() for DEVMAP: does a net device with this ifindex exist? */
  readonly dev_get_by_index?: (ifindex: number) => boolean;
  /**
   * Spare hash elements beyond max_entries that let an update replace an element while readers
   * may still hold the old one (see hashtab.ts). Default: 256 or 64 per CPU if more, bounded
   * to ~16 MiB.
   */
  readonly htab_spare_elems?: number;
  /** Per-map memory limit in bytes (default MAP_AREA_MAX_BYTES). */
  readonly max_map_bytes?: number;
}

/** struct bpf_map_ops, the creation half: what include/linux/bpf_types.h registers per type. */
export interface BpfMapOps {
  /** map_alloc_check(): attribute checks before anything is allocated; throws BpfError. */
  map_alloc_check(attr: BpfMapCreateAttr, env: MapEnv): void;
  /** map_alloc(): allocate and initialise; throws BpfError (ENOMEM, E2BIG...). */
  map_alloc(attr: BpfMapCreateAttr, env: MapEnv): BpfMap;
  /** Rebuild the map object around shared memory made by map_alloc in another thread. */
  map_attach(shared: BpfMapShared, env: MapEnv): BpfMap;
}

// ------------------------------------------------------------------ helpers

export function round_up(x: number, align: number): number {
  return Math.ceil(x / align) * align;
}

export function roundup_pow_of_two(x: number): number {
  let n = 1;
  while (n < x) n *= 2;
  return n;
}

/** bpf_map_attr_numa_node(). */
export function bpf_map_attr_numa_node(attr: BpfMapCreateAttr): number {
  return ((attr.map_flags ?? 0) & BPF_F_NUMA_NODE) !== 0 ? (attr.numa_node ?? 0) : NUMA_NO_NODE;
}

/** bpf_map_flags_access_ok(): a map cannot be both read-only and write-only for programs. */
export function bpf_map_flags_access_ok(flags: number): boolean {
  return (flags & (BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG)) !== (BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG);
}

/** Allocate a map's shared memory, failing as the kernel's bpf_map_area_alloc() does (ENOMEM). */
export function bpf_map_area_alloc(bytes: number, env: MapEnv, what: string): SharedArrayBuffer {
  const limit = env.max_map_bytes ?? MAP_AREA_MAX_BYTES;
  if (!Number.isFinite(bytes) || bytes > limit) {
    throw new BpfError('ENOMEM', `${what}: ${bytes} bytes of map memory exceed the limit of ${limit}`);
  }
  try {
    return new SharedArrayBuffer(Math.max(8, bytes));
  } catch (e) {
    throw new BpfError('ENOMEM', `${what}: cannot allocate ${bytes} bytes of map memory`, { cause: e });
  }
}

/** A little-endian u32 from a byte buffer (a map key that is an array index). */
export function load_u32(buf: Uint8Array, off: number): number {
  return ((buf[off] ?? 0) | ((buf[off + 1] ?? 0) << 8) | ((buf[off + 2] ?? 0) << 16) | ((buf[off + 3] ?? 0) << 24)) >>> 0;
}

export function store_u32(buf: Uint8Array, off: number, v: number): void {
  buf[off] = v & 0xff;
  buf[off + 1] = (v >>> 8) & 0xff;
  buf[off + 2] = (v >>> 16) & 0xff;
  buf[off + 3] = (v >>> 24) & 0xff;
}

const SPIN_TRIES = 64;

/**
 * raw_spin_lock() on a word of shared memory (0 free, 1 held, 2 held with waiters), for the map
 * writer locks and for struct bpf_spin_lock in a value (BPF_F_LOCK; the program helper
 * bpf_spin_lock() must use the same word the same way). Spins briefly, then sleeps on the word with
 * Atomics.wait, which Node allows on the main thread too; holders never sleep while holding it.
 */
export function raw_spin_lock(i32: Int32Array, idx: number): void {
  let c = Atomics.compareExchange(i32, idx, 0, 1);
  if (c === 0) return;
  for (let i = 0; i < SPIN_TRIES; i++) {
    c = Atomics.compareExchange(i32, idx, 0, 1);
    if (c === 0) return;
  }
  if (c !== 2) c = Atomics.exchange(i32, idx, 2);
  while (c !== 0) {
    Atomics.wait(i32, idx, 2, 1);
    c = Atomics.exchange(i32, idx, 2);
  }
}

export function raw_spin_unlock(i32: Int32Array, idx: number): void {
  if (Atomics.sub(i32, idx, 1) !== 1) {
    Atomics.store(i32, idx, 0);
    Atomics.notify(i32, idx, 1);
  }
}

export const bpf_spin_lock = raw_spin_lock;
export const bpf_spin_unlock = raw_spin_unlock;

/**
 * memcpy() between byte buffers without allocating: a byte loop for the small keys and values of
 * the datapath; past MEMCPY_LOOP_MAX one subarray view costs less than the loop.
 */
const MEMCPY_LOOP_MAX = 128;
export function memcpy(dst: Uint8Array, dOff: number, src: Uint8Array, sOff: number, len: number): void {
  if (len <= MEMCPY_LOOP_MAX) {
    for (let i = 0; i < len; i++) dst[dOff + i] = src[sOff + i]!;
  } else {
    dst.set(src.subarray(sOff, sOff + len), dOff);
  }
}

/**
 * copy_map_value(): copy a value, leaving the bpf_spin_lock word (if any) of the destination alone.
 */
export function copy_map_value(dst: Uint8Array, dOff: number, src: Uint8Array, sOff: number, size: number, lockOff: number): void {
  if (lockOff < 0) {
    memcpy(dst, dOff, src, sOff, size);
    return;
  }
  memcpy(dst, dOff, src, sOff, lockOff);
  memcpy(dst, dOff + lockOff + 4, src, sOff + lockOff + 4, size - lockOff - 4);
}

// ------------------------------------------------------------------ struct bpf_map

/** Why a map op returned -errno; always a constant string, so the datapath never allocates. */
export type ErrReason = string;

/**
 * struct bpf_map with its ops as methods. Subclasses implement the per-type ops (map_*), the
 * datapath methods, and `shared()`; the syscall wrappers here do what syscall.c does around them.
 */
export abstract class BpfMap implements RefCounted {
  readonly map_type: number;
  readonly key_size: number;
  readonly value_size: number;
  readonly max_entries: number;
  readonly map_flags: number;
  readonly numa_node: number;
  readonly name: string;
  /** Offset of struct bpf_spin_lock in the value, -1 if none (BPF_F_LOCK is refused then). */
  readonly spin_lock_off: number;
  /** num_possible_cpus() of the host. */
  readonly ncpus: number;
  readonly rcu: Rcu;
  /** map->id, given by the syscall layer (bpf_map_alloc_id); 0 until then. */
  id = 0;
  /** map->frozen: BPF_MAP_FREEZE took away the syscall side's write access (programs still write). */
  frozen = false;
  /** map->btf and the key/value type ids (BTF-described maps); the map holds a reference to its BTF. */
  btf: (RefCounted & { readonly id: number }) | null = null;
  btf_key_type_id = 0;
  btf_value_type_id = 0;
  /** Called once when the last reference goes, after map_free(): the syscall layer frees the id. */
  onFree: ((map: BpfMap) => void) | undefined;
  private refcnt = 1;
  /** Why the last op failed: a constant string read by the syscall wrappers for the message. */
  errReason: ErrReason = '';

  /** The shared memory that holds the values: a value pointer is (mem, byte offset). */
  abstract readonly mem: Uint8Array;

  protected constructor(desc: BpfMapDesc, ncpus: number, rcu: Rcu) {
    this.map_type = desc.map_type;
    this.key_size = desc.key_size;
    this.value_size = desc.value_size;
    this.max_entries = desc.max_entries;
    this.map_flags = desc.map_flags;
    this.numa_node = desc.numa_node;
    this.name = desc.name;
    this.spin_lock_off = desc.spin_lock_off;
    this.ncpus = ncpus;
    this.rcu = rcu;
  }

  get desc(): BpfMapDesc {
    return {
      map_type: this.map_type, key_size: this.key_size, value_size: this.value_size,
      max_entries: this.max_entries, map_flags: this.map_flags, numa_node: this.numa_node,
      name: this.name, spin_lock_off: this.spin_lock_off,
    };
  }

  /** Descriptor for bpf_map_attach() in another thread. */
  abstract shared(): BpfMapShared;

  // ---------------------------------------------------------------- datapath (program side)

  /**
   * bpf_map_lookup_elem() from a program: the byte offset in `mem` of the value for `cpu` (per-CPU
   * types give that CPU's copy), or -1. No allocation, no lock; the caller holds rcu_read_lock().
   */
  abstract lookupOffset(keyBuf: Uint8Array, keyOff: number, cpu: number): number;

  /** bpf_map_update_elem() from a program: 0 or -errno. */
  abstract updateFromProg(keyBuf: Uint8Array, keyOff: number, valBuf: Uint8Array, valOff: number, flags: number, cpu: number): number;

  /** bpf_map_delete_elem() from a program: 0 or -errno. */
  abstract deleteFromProg(keyBuf: Uint8Array, keyOff: number): number;

  /** rcu_dereference_check(): report a datapath access made outside rcu_read_lock(). */
  protected check_rcu(what: string): void {
    const rcu = this.rcu;
    if (rcu.proveRcu && !rcu.rcu_read_lock_held()) rcu.lockdep_rcu_suspicious(what);
  }

  // ---------------------------------------------------------------- per-type ops for the syscall side

  /** bpf_map_value_size(): how many bytes a syscall lookup/update moves. */
  get sys_value_size(): number {
    return this.value_size;
  }

  /** Copy the value of `key` into `out` (sys_value_size bytes): 0 or -errno. Under rcu_read_lock. */
  protected abstract map_lookup_elem_sys(key: Uint8Array, out: Uint8Array, flags: number): number;
  /** Update from the syscall (per-CPU types: all CPUs' values): 0 or -errno. */
  protected abstract map_update_elem_sys(key: Uint8Array, value: Uint8Array, flags: number): number;
  protected abstract map_delete_elem_sys(key: Uint8Array): number;
  /** map_get_next_key(): write the next key into `next`; key null means "first". 0 or -errno. */
  protected abstract map_get_next_key(key: Uint8Array | null, next: Uint8Array): number;
  /** map_lookup_and_delete_elem(): only hash types have it; the syscall returns ENOTSUPP otherwise. */
  protected map_lookup_and_delete_elem(_key: Uint8Array, _out: Uint8Array, _flags: number): number {
    this.errReason = 'lookup-and-delete is not supported for this map type';
    return -ENOTSUPP;
  }

  /**
   * Called by the syscall update before it takes rcu_read_lock: the one place where a synchronous
   * update may wait for other threads' readers (see HashTab).
   */
  protected before_update_sys(): void {}

  /** Does the syscall update run under rcu_read_lock? Not for the fd maps, which may sleep. */
  protected get update_needs_rcu(): boolean {
    return true;
  }

  // ---------------------------------------------------------------- syscall side

  /** BPF_MAP_LOOKUP_ELEM. Per-CPU types return every CPU's value, each rounded up to 8 bytes. */
  lookup(key: Uint8Array, flags = 0): Uint8Array {
    return this.readValue('BPF_MAP_LOOKUP_ELEM', key, flags, (out) => this.map_lookup_elem_sys(key, out, flags));
  }

  /**
   * What the value-returning commands share: the flags (only BPF_F_LOCK, and only with a spin lock in
   * the value), the key, and `op` filling a fresh value buffer under rcu_read_lock.
   */
  private readValue(cmd: string, key: Uint8Array, flags: number, op: (out: Uint8Array) => number): Uint8Array {
    if ((flags & ~BPF_F_LOCK) !== 0) throw this.sysError(cmd, -EINVAL, `unknown flags 0x${flags.toString(16)}`);
    if ((flags & BPF_F_LOCK) !== 0 && this.spin_lock_off < 0) throw this.sysError(cmd, -EINVAL, 'BPF_F_LOCK on a map value without a bpf_spin_lock');
    this.checkKey(cmd, key);
    const out = new Uint8Array(this.sys_value_size);
    this.rcu.rcu_read_lock();
    let err: number;
    try {
      err = op(out);
    } finally {
      this.rcu.rcu_read_unlock();
    }
    if (err < 0) throw this.sysError(cmd, err);
    return out;
  }

  /** BPF_MAP_UPDATE_ELEM. */
  update(key: Uint8Array, value: Uint8Array, flags = BPF_ANY): void {
    const cmd = 'BPF_MAP_UPDATE_ELEM';
    if ((flags & BPF_F_LOCK) !== 0 && this.spin_lock_off < 0) throw this.sysError(cmd, -EINVAL, 'BPF_F_LOCK on a map value without a bpf_spin_lock');
    this.checkKey(cmd, key);
    if (value.length !== this.sys_value_size) {
      throw this.sysError(cmd, -EINVAL, `value is ${value.length} bytes, this map takes ${this.sys_value_size}`);
    }
    this.before_update_sys();
    let err: number;
    if (this.update_needs_rcu) {
      this.rcu.rcu_read_lock();
      try {
        err = this.map_update_elem_sys(key, value, flags);
      } finally {
        this.rcu.rcu_read_unlock();
      }
    } else {
      err = this.map_update_elem_sys(key, value, flags);
    }
    if (err < 0) throw this.sysError(cmd, err);
  }

  /** BPF_MAP_DELETE_ELEM. */
  delete(key: Uint8Array): void {
    const cmd = 'BPF_MAP_DELETE_ELEM';
    this.checkKey(cmd, key);
    this.rcu.rcu_read_lock();
    let err: number;
    try {
      err = this.map_delete_elem_sys(key);
    } finally {
      this.rcu.rcu_read_unlock();
    }
    if (err < 0) throw this.sysError(cmd, err);
  }

  /** BPF_MAP_GET_NEXT_KEY; null asks for the first key. ENOENT after the last one. */
  getNextKey(key: Uint8Array | null): Uint8Array {
    const cmd = 'BPF_MAP_GET_NEXT_KEY';
    if (key !== null) this.checkKey(cmd, key);
    const next = new Uint8Array(this.key_size);
    this.rcu.rcu_read_lock();
    let err: number;
    try {
      err = this.map_get_next_key(key, next);
    } finally {
      this.rcu.rcu_read_unlock();
    }
    if (err < 0) throw this.sysError(cmd, err);
    return next;
  }

  /** BPF_MAP_LOOKUP_AND_DELETE_ELEM. */
  lookupAndDelete(key: Uint8Array, flags = 0): Uint8Array {
    return this.readValue('BPF_MAP_LOOKUP_AND_DELETE_ELEM', key, flags, (out) => this.map_lookup_and_delete_elem(key, out, flags));
  }

  private checkKey(cmd: string, key: Uint8Array): void {
    if (key.length !== this.key_size) {
      throw this.sysError(cmd, -EINVAL, `key is ${key.length} bytes, map key_size is ${this.key_size}`);
    }
  }

  /** A BpfError for -errno, naming the command, the map and the reason the op recorded. */
  protected sysError(cmd: string, err: number, reason?: string): BpfError {
    const name = errnoName(-err) ?? 'EINVAL';
    const why = reason ?? (this.errReason !== '' ? this.errReason : undefined);
    this.errReason = '';
    const label = this.name !== '' ? `map '${this.name}'` : `map id ${this.id}`;
    return new BpfError(name, why === undefined ? `${cmd} on ${label}: ${strerror(name)}` : `${cmd} on ${label}: ${why}`);
  }

  // ---------------------------------------------------------------- lifetime

  get(): void {
    if (this.refcnt <= 0) throw new Error(`bpf_map_inc on freed map ${this.name || this.id}`);
    this.refcnt++;
  }

  /** bpf_map_put(): the last reference releases the map's user references and frees it. */
  put(): void {
    if (this.refcnt <= 0) throw new Error(`bpf_map_put on freed map ${this.name || this.id}`);
    if (--this.refcnt === 0) {
      this.map_release_uref();
      this.map_free();
      this.onFree?.(this);
    }
  }

  get refcount(): number {
    return this.refcnt;
  }

  /** map_release_uref(): the last user reference went (fd arrays drop their entries here). */
  map_release_uref(): void {}

  /** map_free(): drop whatever the map holds references to. */
  map_free(): void {}
}

/** bpf_map_init_from_attr(): the attributes a map keeps; a type may adjust max_entries. */
export function bpf_map_init_from_attr(attr: BpfMapCreateAttr, max_entries = attr.max_entries): BpfMapDesc {
  return {
    map_type: attr.map_type,
    key_size: attr.key_size,
    value_size: attr.value_size,
    max_entries,
    map_flags: attr.map_flags ?? 0,
    numa_node: bpf_map_attr_numa_node(attr),
    name: attr.map_name ?? '',
    spin_lock_off: attr.spin_lock_off ?? -1,
  };
}

/** Throw the BpfError a map_alloc_check() returns. */
export function alloc_check_fail(errno: 'EINVAL' | 'E2BIG' | 'ENOTSUPP' | 'EOPNOTSUPP' | 'EPERM' | 'ENOMEM', why: string): never {
  throw new BpfError(errno, `BPF_MAP_CREATE: ${why}`);
}
