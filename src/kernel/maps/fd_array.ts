// The fd arrays of kernel/bpf/arraymap.c: BPF_MAP_TYPE_PROG_ARRAY (programs for bpf_tail_call) and
// BPF_MAP_TYPE_PERF_EVENT_ARRAY (perf events for bpf_perf_event_output). User space stores a file
// descriptor (value_size 4); the map holds a reference to the object behind it (map_fd_get_ptr,
// supplied by the syscall layer through MapEnv) and drops it after a grace period when the slot is
// overwritten or deleted, as prog_fd_array_put_ptr() / bpf_prog_put() defer the free.
//
// The objects are JS objects of the thread that owns the syscall layer. Their ids are also kept in
// the map's shared memory, one u32 per slot (0 = empty), so that another thread that attached the
// map sees which program a slot holds and can resolve it through its own registry; an attached copy
// holds no object references of its own.

import { array_map_alloc_check, array_map_get_next_key } from './arraymap.js';
import {
  BPF_ANY, BPF_F_CURRENT_CPU, BPF_F_PRESERVE_ELEMS, BPF_F_RDONLY_PROG, BPF_F_WRONLY_PROG, BpfMap,
  E2BIG, EBADF, EINVAL, ENOENT, ENOTSUPP, EOPNOTSUPP, alloc_check_fail, bpf_map_area_alloc,
  bpf_map_init_from_attr, load_u32, store_u32,
} from './map.js';
import type { BpfMapCreateAttr, BpfMapDesc, BpfMapOps, BpfMapShared, MapEnv, RefCounted } from './map.js';
import { PerfEventSink, is_perf_event_sink } from './perf_event.js';
import type { Rcu } from '../rcu.js';

/** fd_array_map_alloc_check(). */
export function fd_array_map_alloc_check(attr: BpfMapCreateAttr): void {
  if (attr.value_size !== 4) alloc_check_fail('EINVAL', `only file descriptors (value_size 4) can be stored in this map, not ${attr.value_size} bytes`);
  // Program read-only/write-only is not supported for special maps yet.
  if (((attr.map_flags ?? 0) & (BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG)) !== 0) {
    alloc_check_fail('EINVAL', 'BPF_F_RDONLY_PROG / BPF_F_WRONLY_PROG are not supported for fd arrays');
  }
  array_map_alloc_check(attr);
}

export abstract class FdArrayMap extends BpfMap {
  readonly mem: Uint8Array;
  /** The id of each slot's object, 0 when empty: visible to every thread. */
  protected readonly ids: Int32Array;
  protected readonly ptrs: (RefCounted | null)[];
  private readonly sab: SharedArrayBuffer;
  private readonly fd_get_ptr: MapEnv['map_fd_get_ptr'];

  constructor(desc: BpfMapDesc, ncpus: number, rcu: Rcu, sab: SharedArrayBuffer, env: MapEnv) {
    super(desc, ncpus, rcu);
    this.sab = sab;
    this.mem = new Uint8Array(sab);
    this.ids = new Int32Array(sab, 0, desc.max_entries);
    this.ptrs = new Array<RefCounted | null>(desc.max_entries).fill(null);
    this.fd_get_ptr = env.map_fd_get_ptr;
  }

  protected static alloc_sab(attr: BpfMapCreateAttr, env: MapEnv): [BpfMapDesc, SharedArrayBuffer] {
    const desc = bpf_map_init_from_attr(attr);
    return [desc, bpf_map_area_alloc(desc.max_entries * 4, env, `fd array of ${desc.max_entries} slots`)];
  }

  shared(): BpfMapShared {
    return { desc: this.desc, ncpus: this.ncpus, sab: this.sab };
  }

  /** map_fd_get_ptr's type check: is this the kind of object this map stores? */
  protected abstract accepts(ptr: RefCounted): boolean;

  /** map_fd_get_ptr's further checks on an object of the right kind: why it may not go in, or null. */
  protected incompatible(_ptr: RefCounted): string | null {
    return null;
  }
  protected abstract readonly kind: string;

  /** The id in a slot (0 if empty or out of range): what another thread resolves. */
  idAt(index: number): number {
    return index >>> 0 < this.max_entries ? Atomics.load(this.ids, index >>> 0) >>> 0 : 0;
  }

  // ---------------------------------------------------------------- datapath

  /** Programs cannot look into fd arrays (the verifier refuses); -1 always. */
  lookupOffset(_keyBuf: Uint8Array, _keyOff: number, _cpu: number): number {
    return -1;
  }

  updateFromProg(_keyBuf: Uint8Array, _keyOff: number, _valBuf: Uint8Array, _valOff: number, _flags: number, _cpu: number): number {
    this.errReason = `a program cannot update a ${this.kind} array`;
    return -EOPNOTSUPP;
  }

  deleteFromProg(_keyBuf: Uint8Array, _keyOff: number): number {
    this.errReason = `a program cannot delete from a ${this.kind} array`;
    return -EOPNOTSUPP;
  }

  // ---------------------------------------------------------------- syscall side

  override get sys_value_size(): number {
    return 4;
  }

  /** fd array updates may sleep (bpf_prog_get), so they run outside rcu_read_lock. */
  protected override get update_needs_rcu(): boolean {
    return false;
  }

  /** bpf_fd_array_map_update_elem(). */
  protected map_update_elem_sys(key: Uint8Array, value: Uint8Array, flags: number): number {
    if (flags !== BPF_ANY) {
      this.errReason = `fd arrays only take BPF_ANY, not flags ${flags}`;
      return -EINVAL;
    }
    const index = load_u32(key, 0);
    if (index >= this.max_entries) {
      this.errReason = `index ${index} is out of range (max_entries ${this.max_entries})`;
      return -E2BIG;
    }
    if (this.fd_get_ptr === undefined) {
      this.errReason = 'no fd table to resolve the stored fd (MapEnv.map_fd_get_ptr)';
      return -EBADF;
    }
    const ptr = this.fd_get_ptr(this, load_u32(value, 0) | 0);
    if (!this.accepts(ptr)) {
      ptr.put();
      this.errReason = `fd ${load_u32(value, 0) | 0} is not a ${this.kind}`;
      return -EINVAL;
    }
    const refused = this.incompatible(ptr);
    if (refused !== null) {
      ptr.put();
      this.errReason = refused;
      return -EINVAL;
    }
    this.install(index, ptr);
    return 0;
  }

  /** xchg() the slot and drop the old object's reference after a grace period. */
  private install(index: number, ptr: RefCounted | null): RefCounted | null {
    const old = this.ptrs[index] ?? null;
    this.ptrs[index] = ptr;
    Atomics.store(this.ids, index, ptr === null ? 0 : ptr.id | 0);
    if (old !== null) this.rcu.call_rcu(() => old.put());
    return old;
  }

  /** fd_array_map_delete_elem(). */
  protected map_delete_elem_sys(key: Uint8Array): number {
    const index = load_u32(key, 0);
    if (index >= this.max_entries) {
      this.errReason = `index ${index} is out of range (max_entries ${this.max_entries})`;
      return -E2BIG;
    }
    if (this.install(index, null) === null) {
      this.errReason = `slot ${index} is empty`;
      return -ENOENT;
    }
    return 0;
  }

  protected map_get_next_key(key: Uint8Array | null, next: Uint8Array): number {
    return array_map_get_next_key(this.max_entries, key, next);
  }

  /** bpf_fd_array_map_clear(): empty every slot. */
  bpf_fd_array_map_clear(): void {
    for (let i = 0; i < this.max_entries; i++) if (this.ptrs[i] !== null) this.install(i, null);
  }

  override map_free(): void {
    this.bpf_fd_array_map_clear();
  }
}

// ------------------------------------------------------------------ BPF_MAP_TYPE_PROG_ARRAY

export class ProgArrayMap extends FdArrayMap {
  protected readonly kind = 'program';

  static alloc(attr: BpfMapCreateAttr, env: MapEnv): ProgArrayMap {
    const [desc, sab] = FdArrayMap.alloc_sab(attr, env);
    return new ProgArrayMap(desc, env.num_possible_cpus, env.rcu, sab, env);
  }

  protected accepts(ptr: RefCounted): boolean {
    return !is_perf_event_sink(ptr);
  }

  /**
   * bpf_prog_map_compatible() (kernel/bpf/core.c, since 6.3): a program bound to a device (offloaded,
   * or XDP dev-bound-only) may not go into a host program map — the host could never run it. Only the
   * device's own (offloaded) program array may hold it, which nfp-emu models as paper-only.
   */
  protected override incompatible(ptr: RefCounted): string | null {
    return (ptr as { devBound?: unknown }).devBound === true ? `program ${ptr.id} is bound to a device and cannot be in a host program array` : null;
  }

  /** bpf_tail_call()'s lookup: the program in the slot, or null (out of range or empty). */
  getProg(index: number): RefCounted | null {
    return index >>> 0 < this.max_entries ? this.ptrs[index >>> 0] ?? null : null;
  }

  /** prog_fd_array_sys_lookup_elem(): a syscall lookup returns the program's id. */
  protected map_lookup_elem_sys(key: Uint8Array, out: Uint8Array, _flags: number): number {
    const id = this.idAt(load_u32(key, 0));
    if (id === 0) {
      this.errReason = 'no program in this slot';
      return -ENOENT;
    }
    store_u32(out, 0, id);
    return 0;
  }

  /** The last user reference clears the array (prog_array_map_clear), breaking tail-call cycles. */
  override map_release_uref(): void {
    this.bpf_fd_array_map_clear();
  }
}

// ------------------------------------------------------------------ BPF_MAP_TYPE_PERF_EVENT_ARRAY

/** A perf event as another thread attaches it: the ring's memory, its CPU and id. */
interface SharedSink {
  readonly index: number;
  readonly sab: SharedArrayBuffer;
  readonly cpu: number;
  readonly id: number;
}

export class PerfEventArrayMap extends FdArrayMap {
  protected readonly kind = 'BPF output perf event';

  /**
   * The descriptor carries the rings of the events installed now, so that a worker hosting a CPU
   * can write its records (one producer per ring: the CPU's thread). Slots changed afterwards are
   * not seen by that copy until it is attached again.
   */
  override shared(): BpfMapShared {
    const sinks: SharedSink[] = [];
    for (let i = 0; i < this.max_entries; i++) {
      const e = this.eventAt(i);
      if (e !== null) sinks.push({ index: i, sab: e.sab, cpu: e.cpu, id: e.id });
    }
    return { ...super.shared(), extra: sinks };
  }

  static attach(shared: BpfMapShared, env: MapEnv): PerfEventArrayMap {
    const m = new PerfEventArrayMap(shared.desc, shared.ncpus, env.rcu, shared.sab, env);
    for (const s of (shared.extra ?? []) as SharedSink[]) m.ptrs[s.index] = PerfEventSink.attach(s.sab, s.cpu, s.id);
    return m;
  }

  static alloc(attr: BpfMapCreateAttr, env: MapEnv): PerfEventArrayMap {
    const [desc, sab] = FdArrayMap.alloc_sab(attr, env);
    return new PerfEventArrayMap(desc, env.num_possible_cpus, env.rcu, sab, env);
  }

  protected accepts(ptr: RefCounted): boolean {
    return is_perf_event_sink(ptr);
  }

  /** The event in a slot, for readers (perf_buffer) in this thread. */
  eventAt(index: number): PerfEventSink | null {
    const p = index >>> 0 < this.max_entries ? this.ptrs[index >>> 0] ?? null : null;
    return p !== null && is_perf_event_sink(p) ? p : null;
  }

  /** There is no map_fd_sys_lookup_elem for perf event arrays: the syscall says ENOTSUPP. */
  protected map_lookup_elem_sys(_key: Uint8Array, _out: Uint8Array, _flags: number): number {
    this.errReason = 'perf event arrays cannot be looked up from user space';
    return -ENOTSUPP;
  }

  /**
   * __bpf_perf_event_output(): the record goes to the event in slot `flags & BPF_F_INDEX_MASK`, or
   * the current CPU's slot for BPF_F_CURRENT_CPU. The caller (the helper) has taken the
   * BPF_F_CTXLEN_MASK bits off `flags` and passes the packet bytes as the second fragment.
   */
  perf_event_output(flags: number, cpu: number, buf1: Uint8Array, off1: number, len1: number, buf2: Uint8Array | null, off2: number, len2: number): number {
    if (!Number.isInteger(flags) || flags < 0 || flags > 0xffffffff) {
      this.errReason = 'unknown flags';
      return -EINVAL;
    }
    const index = flags === BPF_F_CURRENT_CPU ? cpu : flags;
    if (index >= this.max_entries) {
      this.errReason = 'index out of range';
      return -E2BIG;
    }
    const ee = this.ptrs[index] ?? null;
    if (ee === null || !is_perf_event_sink(ee)) {
      this.errReason = 'no perf event in this slot';
      return -ENOENT;
    }
    if (ee.cpu !== cpu) {
      this.errReason = 'the perf event is bound to another CPU';
      return -EOPNOTSUPP;
    }
    return ee.perf_event_output(buf1, off1, len1, buf2, off2, len2);
  }

  /** perf_event_fd_array_release(): the last user reference empties the map, unless PRESERVE_ELEMS. */
  override map_release_uref(): void {
    if ((this.map_flags & BPF_F_PRESERVE_ELEMS) === 0) this.bpf_fd_array_map_clear();
  }
}

export const prog_array_map_ops: BpfMapOps = {
  map_alloc_check: (attr) => fd_array_map_alloc_check(attr),
  map_alloc: (attr, env) => ProgArrayMap.alloc(attr, env),
  map_attach: (shared, env) => new ProgArrayMap(shared.desc, shared.ncpus, env.rcu, shared.sab, env),
};

export const perf_event_array_map_ops: BpfMapOps = {
  map_alloc_check: (attr) => fd_array_map_alloc_check(attr),
  map_alloc: (attr, env) => PerfEventArrayMap.alloc(attr, env),
  map_attach: (shared, env) => PerfEventArrayMap.attach(shared, env),
};
