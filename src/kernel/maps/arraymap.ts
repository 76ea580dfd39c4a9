// kernel/bpf/arraymap.c: BPF_MAP_TYPE_ARRAY and BPF_MAP_TYPE_PERCPU_ARRAY, and array_map_alloc_check()
// which the fd arrays (fd_array.ts) share.
//
// Every element exists from creation (zero-filled); the key is a u32 index. Values are updated in
// place, as the kernel does: a reader racing an update may see a mix of old and new bytes (programs
// that care use BPF_F_LOCK or atomic instructions). Layout in shared memory: index-major, each slot
// round_up(value_size, 8) bytes, and for PERCPU_ARRAY one slot per possible CPU per index, so that a
// syscall lookup of a per-CPU index is one contiguous copy in the kernel's output format.
//
// The kernel rounds max_entries up to a power of two for unprivileged users (Spectre index
// masking); the emulated user is root (bpf_bypass_spec_v1), so it does not.

import {
  BPF_EXIST, BPF_F_ACCESS_MASK, BPF_F_INNER_MAP, BPF_F_LOCK, BPF_F_MMAPABLE, BPF_F_NUMA_NODE,
  BPF_F_PRESERVE_ELEMS, BPF_MAP_TYPE_ARRAY, BPF_MAP_TYPE_PERCPU_ARRAY, BPF_MAP_TYPE_PERF_EVENT_ARRAY,
  BPF_NOEXIST, BpfMap, E2BIG, EEXIST, EINVAL, ENOENT, INT_MAX, NUMA_NO_NODE, PCPU_MIN_UNIT_SIZE,
  alloc_check_fail, bpf_map_area_alloc, bpf_map_attr_numa_node, bpf_map_flags_access_ok,
  bpf_map_init_from_attr, copy_map_value, load_u32, raw_spin_lock, raw_spin_unlock, round_up,
  store_u32,
} from './map.js';
import type { BpfMapCreateAttr, BpfMapDesc, BpfMapOps, BpfMapShared, MapEnv } from './map.js';
import type { Rcu } from '../rcu.js';

const ARRAY_CREATE_FLAG_MASK = BPF_F_NUMA_NODE | BPF_F_MMAPABLE | BPF_F_ACCESS_MASK | BPF_F_PRESERVE_ELEMS | BPF_F_INNER_MAP;

/** array_map_alloc_check(): shared by ARRAY, PERCPU_ARRAY and the fd arrays. */
export function array_map_alloc_check(attr: BpfMapCreateAttr): void {
  const percpu = attr.map_type === BPF_MAP_TYPE_PERCPU_ARRAY;
  const flags = attr.map_flags ?? 0;
  if (attr.max_entries === 0) alloc_check_fail('EINVAL', 'max_entries must not be 0');
  if (attr.key_size !== 4) alloc_check_fail('EINVAL', `array maps need key_size 4 (a u32 index), not ${attr.key_size}`);
  if (attr.value_size === 0) alloc_check_fail('EINVAL', 'value_size must not be 0');
  if ((flags & ~ARRAY_CREATE_FLAG_MASK) !== 0) {
    alloc_check_fail('EINVAL', `map_flags 0x${(flags & ~ARRAY_CREATE_FLAG_MASK).toString(16)} are not valid for an array`);
  }
  if (!bpf_map_flags_access_ok(flags)) alloc_check_fail('EINVAL', 'BPF_F_RDONLY_PROG and BPF_F_WRONLY_PROG together');
  if (percpu && bpf_map_attr_numa_node(attr) !== NUMA_NO_NODE) alloc_check_fail('EINVAL', 'a per-CPU array cannot be bound to a NUMA node');
  if (attr.map_type !== BPF_MAP_TYPE_ARRAY && (flags & (BPF_F_MMAPABLE | BPF_F_INNER_MAP)) !== 0) {
    alloc_check_fail('EINVAL', 'BPF_F_MMAPABLE and BPF_F_INNER_MAP are only for BPF_MAP_TYPE_ARRAY');
  }
  if (attr.map_type !== BPF_MAP_TYPE_PERF_EVENT_ARRAY && (flags & BPF_F_PRESERVE_ELEMS) !== 0) {
    alloc_check_fail('EINVAL', 'BPF_F_PRESERVE_ELEMS is only for BPF_MAP_TYPE_PERF_EVENT_ARRAY');
  }
  // Avoid overflow on round_up(value_size); user space could not read such values anyway.
  if (attr.value_size > INT_MAX) alloc_check_fail('E2BIG', `value_size ${attr.value_size} is larger than INT_MAX`);
  if (percpu && round_up(attr.value_size, 8) > PCPU_MIN_UNIT_SIZE) {
    alloc_check_fail('E2BIG', `a per-CPU value of ${attr.value_size} bytes exceeds PCPU_MIN_UNIT_SIZE (${PCPU_MIN_UNIT_SIZE})`);
  }
}

export class ArrayMap extends BpfMap {
  readonly mem: Uint8Array;
  private readonly i32: Int32Array;
  private readonly sab: SharedArrayBuffer;
  /** round_up(value_size, 8): the slot size, for inlined lookups (index * stride + cpu * elem_size). */
  readonly elem_size: number;
  /** Bytes per index: elem_size, or elem_size * ncpus for PERCPU_ARRAY. */
  readonly stride: number;
  readonly percpu: boolean;

  constructor(desc: BpfMapDesc, ncpus: number, rcu: Rcu, sab: SharedArrayBuffer) {
    super(desc, ncpus, rcu);
    this.sab = sab;
    this.mem = new Uint8Array(sab);
    this.i32 = new Int32Array(sab, 0, sab.byteLength >> 2);
    this.percpu = desc.map_type === BPF_MAP_TYPE_PERCPU_ARRAY;
    this.elem_size = round_up(desc.value_size, 8);
    this.stride = this.percpu ? this.elem_size * ncpus : this.elem_size;
  }

  static alloc(attr: BpfMapCreateAttr, env: MapEnv): ArrayMap {
    const desc = bpf_map_init_from_attr(attr);
    const percpu = desc.map_type === BPF_MAP_TYPE_PERCPU_ARRAY;
    const bytes = desc.max_entries * round_up(desc.value_size, 8) * (percpu ? env.num_possible_cpus : 1);
    const sab = bpf_map_area_alloc(bytes, env, `array of ${desc.max_entries} x ${desc.value_size} bytes`);
    return new ArrayMap(desc, env.num_possible_cpus, env.rcu, sab);
  }

  shared(): BpfMapShared {
    return { desc: this.desc, ncpus: this.ncpus, sab: this.sab };
  }

  // ---------------------------------------------------------------- datapath

  lookupOffset(keyBuf: Uint8Array, keyOff: number, cpu: number): number {
    const index = load_u32(keyBuf, keyOff);
    if (index >= this.max_entries) return -1;
    return this.percpu ? index * this.stride + cpu * this.elem_size : index * this.stride;
  }

  updateFromProg(keyBuf: Uint8Array, keyOff: number, valBuf: Uint8Array, valOff: number, flags: number, cpu: number): number {
    return this.array_map_update_elem(load_u32(keyBuf, keyOff), valBuf, valOff, flags, cpu);
  }

  deleteFromProg(_keyBuf: Uint8Array, _keyOff: number): number {
    this.errReason = 'array elements cannot be deleted';
    return -EINVAL;
  }

  /** array_map_update_elem(): in place; a per-CPU array's program update touches its CPU's copy. */
  private array_map_update_elem(index: number, val: Uint8Array, valOff: number, flags: number, cpu: number): number {
    if ((flags & ~BPF_F_LOCK) > BPF_EXIST) {
      this.errReason = 'unknown update flags';
      return -EINVAL;
    }
    if (index >= this.max_entries) {
      this.errReason = 'index out of range (all elements are preallocated)';
      return -E2BIG;
    }
    if ((flags & BPF_NOEXIST) !== 0) {
      this.errReason = 'BPF_NOEXIST: every array element always exists';
      return -EEXIST;
    }
    if ((flags & BPF_F_LOCK) !== 0 && this.spin_lock_off < 0) {
      this.errReason = 'BPF_F_LOCK on a map value without a bpf_spin_lock';
      return -EINVAL;
    }
    const off = this.percpu ? index * this.stride + cpu * this.elem_size : index * this.stride;
    if ((flags & BPF_F_LOCK) !== 0) {
      const lockIdx = (off + this.spin_lock_off) >> 2;
      raw_spin_lock(this.i32, lockIdx);
      copy_map_value(this.mem, off, val, valOff, this.value_size, this.spin_lock_off);
      raw_spin_unlock(this.i32, lockIdx);
    } else {
      copy_map_value(this.mem, off, val, valOff, this.value_size, this.spin_lock_off);
    }
    return 0;
  }

  // ---------------------------------------------------------------- syscall side

  override get sys_value_size(): number {
    return this.percpu ? this.stride : this.value_size;
  }

  protected map_lookup_elem_sys(key: Uint8Array, out: Uint8Array, flags: number): number {
    const index = load_u32(key, 0);
    if (index >= this.max_entries) {
      this.errReason = `index ${index} is out of range (max_entries ${this.max_entries})`;
      return -ENOENT;
    }
    const off = index * this.stride;
    if (this.percpu) {
      out.set(this.mem.subarray(off, off + this.stride));
      return 0;
    }
    if ((flags & BPF_F_LOCK) !== 0) {
      const lockIdx = (off + this.spin_lock_off) >> 2;
      raw_spin_lock(this.i32, lockIdx);
      out.set(this.mem.subarray(off, off + this.value_size));
      raw_spin_unlock(this.i32, lockIdx);
    } else {
      out.set(this.mem.subarray(off, off + this.value_size));
    }
    // check_and_init_map_value(): the lock word is not user data.
    if (this.spin_lock_off >= 0) store_u32(out, this.spin_lock_off, 0);
    return 0;
  }

  protected map_update_elem_sys(key: Uint8Array, value: Uint8Array, flags: number): number {
    const index = load_u32(key, 0);
    if (!this.percpu) return this.array_map_update_elem(index, value, 0, flags, 0);
    // bpf_percpu_array_update(): user space gives round_up(value_size, 8) bytes per CPU.
    if (flags > BPF_EXIST) {
      this.errReason = 'unknown update flags';
      return -EINVAL;
    }
    if (index >= this.max_entries) {
      this.errReason = 'index out of range (all elements are preallocated)';
      return -E2BIG;
    }
    if (flags === BPF_NOEXIST) {
      this.errReason = 'BPF_NOEXIST: every array element always exists';
      return -EEXIST;
    }
    this.mem.set(value.subarray(0, this.stride), index * this.stride);
    return 0;
  }

  protected map_delete_elem_sys(_key: Uint8Array): number {
    this.errReason = 'array elements cannot be deleted';
    return -EINVAL;
  }

  protected map_get_next_key(key: Uint8Array | null, next: Uint8Array): number {
    return array_map_get_next_key(this.max_entries, key, next);
  }
}

/** array_map_get_next_key(): a missing or out-of-range key starts at 0; ENOENT after the last. */
export function array_map_get_next_key(max_entries: number, key: Uint8Array | null, next: Uint8Array): number {
  const index = key === null ? 0xffffffff : load_u32(key, 0);
  if (index >= max_entries) {
    store_u32(next, 0, 0);
    return 0;
  }
  if (index === max_entries - 1) return -ENOENT;
  store_u32(next, 0, index + 1);
  return 0;
}

export const array_map_ops: BpfMapOps = {
  map_alloc_check: (attr) => array_map_alloc_check(attr),
  map_alloc: (attr, env) => ArrayMap.alloc(attr, env),
  map_attach: (shared, env) => new ArrayMap(shared.desc, shared.ncpus, env.rcu, shared.sab),
};

export const percpu_array_map_ops: BpfMapOps = array_map_ops;
