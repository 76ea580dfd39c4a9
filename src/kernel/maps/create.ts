// BPF_MAP_CREATE: map_create() of kernel/bpf/syscall.c (the checks every type shares, then the
// type's map_alloc_check and map_alloc) and the type table of include/linux/bpf_types.h, plus
// bpf_map_attach(), which rebuilds a map object around another thread's shared memory.
//
// The syscall layer (fd and id tables) calls map_create() and owns the result; the ELF loader and
// bpftool reach it through that layer. Offloaded maps (map_ifindex) branch off after the checks, as
// in the kernel, to MapEnv-independent code of the offload layer: bpf_map_alloc_check() is exported
// for that.

import { BpfError } from '../../bpf/errno.js';
import { array_map_ops, percpu_array_map_ops } from './arraymap.js';
import { dev_map_hash_ops, dev_map_ops } from './devmap.js';
import { perf_event_array_map_ops, prog_array_map_ops } from './fd_array.js';
import { htab_map_ops } from './hashtab.js';
import {
  BPF_F_RDONLY, BPF_F_WRONLY, BPF_MAP_TYPE_ARENA, BPF_MAP_TYPE_ARRAY, BPF_MAP_TYPE_BLOOM_FILTER,
  BPF_MAP_TYPE_DEVMAP, BPF_MAP_TYPE_DEVMAP_HASH, BPF_MAP_TYPE_HASH, BPF_MAP_TYPE_LRU_HASH, BPF_MAP_TYPE_LRU_PERCPU_HASH,
  BPF_MAP_TYPE_PERCPU_ARRAY, BPF_MAP_TYPE_PERCPU_HASH,
  BPF_MAP_TYPE_PERF_EVENT_ARRAY, BPF_MAP_TYPE_PROG_ARRAY, BPF_MAP_TYPE_STRUCT_OPS, BPF_OBJ_NAME_LEN,
  NUMA_NO_NODE, bpf_map_attr_numa_node, bpf_map_type_name,
} from './map.js';
import type { BpfMap, BpfMapCreateAttr, BpfMapOps, BpfMapShared, MapEnv } from './map.js';

/** include/linux/bpf_types.h: the map types this kernel was built with. */
const bpf_map_types: ReadonlyMap<number, BpfMapOps> = new Map<number, BpfMapOps>([
  [BPF_MAP_TYPE_ARRAY, array_map_ops],
  [BPF_MAP_TYPE_PERCPU_ARRAY, percpu_array_map_ops],
  [BPF_MAP_TYPE_PROG_ARRAY, prog_array_map_ops],
  [BPF_MAP_TYPE_PERF_EVENT_ARRAY, perf_event_array_map_ops],
  [BPF_MAP_TYPE_HASH, htab_map_ops],
  [BPF_MAP_TYPE_PERCPU_HASH, htab_map_ops],
  [BPF_MAP_TYPE_LRU_HASH, htab_map_ops],
  [BPF_MAP_TYPE_LRU_PERCPU_HASH, htab_map_ops],
  [BPF_MAP_TYPE_DEVMAP, dev_map_ops],
  [BPF_MAP_TYPE_DEVMAP_HASH, dev_map_hash_ops],
]);

/** The map types map_create() accepts. */
export function bpf_map_type_supported(map_type: number): boolean {
  return bpf_map_types.has(map_type);
}

function fail(errno: 'EINVAL' | 'EOPNOTSUPP', why: string): never {
  throw new BpfError(errno, `BPF_MAP_CREATE: ${why}`);
}

function isU32(x: unknown): x is number {
  return typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= 0xffffffff;
}

/**
 * map_create() up to the point where offloaded maps branch off: the shared attribute checks, then
 * the type's map_alloc_check(). Returns the type's ops. Throws BpfError.
 */
export function bpf_map_alloc_check(attr: BpfMapCreateAttr, env: MapEnv): BpfMapOps {
  for (const f of ['map_type', 'key_size', 'value_size', 'max_entries'] as const) {
    if (!isU32(attr[f])) fail('EINVAL', `${f} must be a u32, not ${String(attr[f])}`);
  }
  const flags = attr.map_flags ?? 0;
  if (!isU32(flags)) fail('EINVAL', `map_flags must be a u32, not ${String(flags)}`);
  if ((attr.btf_vmlinux_value_type_id ?? 0) !== 0) {
    if (attr.map_type !== BPF_MAP_TYPE_STRUCT_OPS || (attr.btf_key_type_id ?? 0) !== 0 || (attr.btf_value_type_id ?? 0) !== 0) {
      fail('EINVAL', 'btf_vmlinux_value_type_id is only for struct_ops maps without key/value BTF types');
    }
  } else if ((attr.btf_key_type_id ?? 0) !== 0 && (attr.btf_value_type_id ?? 0) === 0) {
    fail('EINVAL', 'btf_key_type_id given without btf_value_type_id');
  }
  const extra = attr.map_extra ?? 0;
  if (attr.map_type !== BPF_MAP_TYPE_BLOOM_FILTER && attr.map_type !== BPF_MAP_TYPE_ARENA && extra !== 0 && extra !== 0n) {
    fail('EINVAL', 'map_extra is only for bloom filter and arena maps');
  }
  // bpf_get_file_flag()
  if ((flags & BPF_F_RDONLY) !== 0 && (flags & BPF_F_WRONLY) !== 0) fail('EINVAL', 'BPF_F_RDONLY and BPF_F_WRONLY together');
  const numa_node = bpf_map_attr_numa_node(attr);
  if (numa_node !== NUMA_NO_NODE && (!Number.isInteger(numa_node) || numa_node < 0 || numa_node >= (env.nr_node_ids ?? 1))) {
    fail('EINVAL', `NUMA node ${numa_node} is not online`);
  }
  const ops = bpf_map_types.get(attr.map_type);
  if (ops === undefined) fail('EINVAL', `map type ${attr.map_type} (${bpf_map_type_name(attr.map_type)}) is not supported`);
  ops.map_alloc_check(attr, env);
  return ops;
}

/** bpf_obj_name_cpy(): up to 15 characters of [A-Za-z0-9_.]. */
function check_obj_name(name: string): void {
  if (name.length >= BPF_OBJ_NAME_LEN) fail('EINVAL', `map name '${name}' is longer than ${BPF_OBJ_NAME_LEN - 1} characters`);
  if (!/^[A-Za-z0-9_.]*$/.test(name)) fail('EINVAL', `map name '${name}' may only contain letters, digits, '_' and '.'`);
}

/** map_check_btf() for the one BTF-derived field the maps use: struct bpf_spin_lock. */
function check_spin_lock(attr: BpfMapCreateAttr): void {
  const off = attr.spin_lock_off ?? -1;
  if (off < 0) return;
  if (attr.map_type !== BPF_MAP_TYPE_HASH && attr.map_type !== BPF_MAP_TYPE_ARRAY) {
    fail('EOPNOTSUPP', `bpf_spin_lock is not supported in ${bpf_map_type_name(attr.map_type)} maps`);
  }
  if (!Number.isInteger(off) || off % 4 !== 0 || off + 4 > attr.value_size) {
    fail('EINVAL', `bpf_spin_lock at offset ${off} does not fit aligned in a ${attr.value_size}-byte value`);
  }
}

/**
 * BPF_MAP_CREATE for a host map. `map_ifindex` (an offloaded map) is not handled here: the offload
 * layer calls bpf_map_alloc_check() and allocates the map on the device itself.
 */
export function map_create(attr: BpfMapCreateAttr, env: MapEnv): BpfMap {
  const ops = bpf_map_alloc_check(attr, env);
  if ((attr.map_ifindex ?? 0) !== 0) fail('EINVAL', `map_ifindex ${attr.map_ifindex}: offloaded maps are created by the offload layer`);
  const map = ops.map_alloc(attr, env);
  check_obj_name(attr.map_name ?? '');
  check_spin_lock(attr);
  return map;
}

/** Rebuild a map in this thread around the shared memory of `shared` (from map.shared()). */
export function bpf_map_attach(shared: BpfMapShared, env: MapEnv): BpfMap {
  const ops = bpf_map_types.get(shared.desc.map_type);
  if (ops === undefined) throw new BpfError('EINVAL', `bpf_map_attach: map type ${shared.desc.map_type} is not supported`);
  return ops.map_attach(shared, env);
}
