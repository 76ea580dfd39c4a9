// The generic helpers of kernel/bpf/helpers.c (bpf_map_*_elem, bpf_ktime_get_ns,
// bpf_get_smp_processor_id), bpf_get_prandom_u32 (bpf_user_rnd_u32 in kernel/bpf/core.c, over the
// per-CPU prandom state of lib/random32.c) and the prototype of bpf_tail_call, which the execution
// engines carry out themselves.
//
// Map helpers resolve their pointer arguments through the address space and hand the map's datapath
// methods a (buffer, offset) pair: no copy, no allocation. A lookup returns a PTR_TO_MAP_VALUE into the
// map's value region, or NULL (0).

import {
  BPF_FUNC_get_prandom_u32, BPF_FUNC_get_smp_processor_id, BPF_FUNC_ktime_get_ns, BPF_FUNC_map_delete_elem,
  BPF_FUNC_map_lookup_elem, BPF_FUNC_map_update_elem, BPF_FUNC_tail_call, BPF_FUNC_get_current_pid_tgid,
} from '../../bpf/helpers.js';
import { errnoNumber } from '../../bpf/errno.js';
import type { HelperFn } from '../exec/context.js';
import { REGION_HI_BASE, type AddressSpace, type Region } from '../exec/memory.js';
import {
  arg, mapArg, memArg, proto, retInt, retU32, retU64,
  type BpfHelperDef, type DatapathMap, type HelperEnv,
} from './proto.js';

const EINVAL = -errnoNumber('EINVAL');
/** Thrown only if a checked argument passed its slow-path check after failing the fast one. */
const BUG = new Error('BUG: helper argument check disagreed with itself');

// ------------------------------------------------------------------ map value regions

const valueRegions = new WeakMap<AddressSpace, WeakMap<object, Region>>();

/**
 * A map's PTR_TO_MAP_VALUE region in an address space, mapped on first use. Environments whose loader
 * maps value regions itself (kernel.ts registerMap) pass their own HelperEnv.mapValueRegion instead.
 */
export function defaultMapValueRegion(map: DatapathMap, mem: AddressSpace): Region {
  let byMap = valueRegions.get(mem);
  if (byMap === undefined) {
    byMap = new WeakMap();
    valueRegions.set(mem, byMap);
  }
  let r = byMap.get(map);
  if (r === undefined || mem.regions[r.id] !== r) {
    r = mem.map('map_value', map.mem, { object: map });
    byMap.set(map, r);
  }
  return r;
}

/**
 * A per-helper cache from a map's 'map' region to its value region, indexed by region id and checked
 * by identity, so a lookup costs two array reads instead of a WeakMap probe.
 */
function valueRegionCache(env: HelperEnv): (mapRegion: Region, mem: AddressSpace) => Region {
  const keys: (Region | undefined)[] = [];
  const vals: (Region | undefined)[] = [];
  return (mapRegion, mem) => {
    const id = mapRegion.id;
    const v = vals[id];
    if (v !== undefined && keys[id] === mapRegion && mem.regions[v.id] === v) return v;
    const r = env.mapValueRegion(mapRegion.object as DatapathMap, mem);
    keys[id] = mapRegion;
    vals[id] = r;
    return r;
  };
}

// ------------------------------------------------------------------ bpf_map_lookup_elem

export const bpf_map_lookup_elem_proto = proto({
  func: 'bpf_map_lookup_elem', pkt_access: true, ret_type: 'RET_PTR_TO_MAP_VALUE_OR_NULL',
  args: [arg('ARG_CONST_MAP_PTR'), arg('ARG_PTR_TO_MAP_KEY')],
});

function bpf_map_lookup_elem(env: HelperEnv): HelperFn {
  const valueRegion = valueRegionCache(env);
  // The hot helper: the region checks of mapArg/memArg written out, one read of the region table;
  // on failure they are called for their error.
  return (x) => {
    const R = x.R;
    const regions = x.env.mem.regions;
    const mr = regions[(R[3]! - REGION_HI_BASE) | 0];
    if (mr === undefined || mr.kind !== 'map' || R[2] !== 0) { mapArg(x, 1, 'bpf_map_lookup_elem'); throw BUG; }
    const map = mr.object as DatapathMap;
    const kr = regions[(R[5]! - REGION_HI_BASE) | 0];
    const ko = R[4]! >>> 0;
    if (kr === undefined || !kr.plain || ko + map.key_size > kr.size) { memArg(x, 2, map.key_size, false, 'bpf_map_lookup_elem'); throw BUG; }
    const off = map.lookupOffset(kr.u8, ko, x.cpu);
    if (off < 0) {
      R[0] = 0;
      R[1] = 0;
      return;
    }
    R[0] = off;
    R[1] = valueRegion(mr, x.env.mem).hi;
  };
}

// ------------------------------------------------------------------ bpf_map_update_elem

export const bpf_map_update_elem_proto = proto({
  func: 'bpf_map_update_elem', pkt_access: true, ret_type: 'RET_INTEGER',
  args: [arg('ARG_CONST_MAP_PTR'), arg('ARG_PTR_TO_MAP_KEY'), arg('ARG_PTR_TO_MAP_VALUE'), arg('ARG_ANYTHING')],
});

function bpf_map_update_elem(_env: HelperEnv): HelperFn {
  return (x) => {
    const map = mapArg(x, 1, 'bpf_map_update_elem').object as DatapathMap;
    const kr = memArg(x, 2, map.key_size, false, 'bpf_map_update_elem');
    const vr = memArg(x, 3, map.value_size, false, 'bpf_map_update_elem');
    // flags is a u64. Every map type's map_update_elem refuses bits it does not know with -EINVAL,
    // and none knows one in the upper half; the datapath methods take the lower half.
    if (x.R[9] !== 0) {
      retInt(x, EINVAL);
      return;
    }
    retInt(x, map.updateFromProg(kr.u8, x.R[4]! >>> 0, vr.u8, x.R[6]! >>> 0, x.R[8]! >>> 0, x.cpu));
  };
}

// ------------------------------------------------------------------ bpf_map_delete_elem

export const bpf_map_delete_elem_proto = proto({
  func: 'bpf_map_delete_elem', pkt_access: true, ret_type: 'RET_INTEGER',
  args: [arg('ARG_CONST_MAP_PTR'), arg('ARG_PTR_TO_MAP_KEY')],
});

function bpf_map_delete_elem(_env: HelperEnv): HelperFn {
  return (x) => {
    const map = mapArg(x, 1, 'bpf_map_delete_elem').object as DatapathMap;
    const kr = memArg(x, 2, map.key_size, false, 'bpf_map_delete_elem');
    retInt(x, map.deleteFromProg(kr.u8, x.R[4]! >>> 0));
  };
}

// ------------------------------------------------------------------ bpf_ktime_get_ns

export const bpf_ktime_get_ns_proto = proto({ func: 'bpf_ktime_get_ns', ret_type: 'RET_INTEGER' });

/** ktime_get_mono_fast_ns(): CLOCK_MONOTONIC. */
function bpf_ktime_get_ns(env: HelperEnv): HelperFn {
  return (x) => retU64(x, Math.floor(env.ktime_get_ns()));
}

// ------------------------------------------------------------------ bpf_get_prandom_u32

export const bpf_get_prandom_u32_proto = proto({ func: 'bpf_user_rnd_u32', ret_type: 'RET_INTEGER' });

/** lib/random32.c prandom_u32_state(): the Tausworthe generator (L'Ecuyer's LFSR113) on CPU cpu's state. */
export function prandom_u32_state(s: Uint32Array, cpu: number): number {
  const b = cpu * 4;
  const s1 = s[b]!, s2 = s[b + 1]!, s3 = s[b + 2]!, s4 = s[b + 3]!;
  const n1 = (((s1 & 4294967294) << 18) ^ (((s1 << 6) ^ s1) >>> 13)) >>> 0;
  const n2 = (((s2 & 4294967288) << 2) ^ (((s2 << 2) ^ s2) >>> 27)) >>> 0;
  const n3 = (((s3 & 4294967280) << 7) ^ (((s3 << 13) ^ s3) >>> 21)) >>> 0;
  const n4 = (((s4 & 4294967168) << 13) ^ (((s4 << 3) ^ s4) >>> 12)) >>> 0;
  s[b] = n1; s[b + 1] = n2; s[b + 2] = n3; s[b + 3] = n4;
  return (n1 ^ n2 ^ n3 ^ n4) >>> 0;
}

/**
 * prandom_seed_state() for CPU cpu from a 64-bit seed given as (lo, hi), then the warm-up rounds of
 * prandom_warmup() so that nearby seeds do not give nearby first outputs.
 */
export function prandom_seed_state(s: Uint32Array, cpu: number, seedLo: number, seedHi: number): void {
  // i = ((seed >> 32) ^ (seed << 10) ^ seed) & 0xffffffff
  const i = ((seedHi >>> 0) ^ ((seedLo << 10) >>> 0) ^ (seedLo >>> 0)) >>> 0;
  const seed = (x: number, m: number): number => (x < m ? x + m : x) >>> 0;
  const b = cpu * 4;
  s[b] = seed(i, 2); s[b + 1] = seed(i, 8); s[b + 2] = seed(i, 16); s[b + 3] = seed(i, 128);
  for (let k = 0; k < 10; k++) prandom_u32_state(s, cpu);
}

function bpf_get_prandom_u32(env: HelperEnv): HelperFn {
  return (x) => retU32(x, prandom_u32_state(env.prandom, x.cpu));
}

// ------------------------------------------------------------------ bpf_get_smp_processor_id

export const bpf_get_smp_processor_id_proto = proto({ func: 'bpf_get_smp_processor_id', ret_type: 'RET_INTEGER' });

function bpf_get_smp_processor_id(_env: HelperEnv): HelperFn {
  return (x) => retU32(x, x.cpu);
}

// ------------------------------------------------------------------ bpf_get_current_pid_tgid

/** In bpf_base_func_proto() for every program type since Linux 6.10. */
export const bpf_get_current_pid_tgid_proto = proto({ func: 'bpf_get_current_pid_tgid', ret_type: 'RET_INTEGER' });

/**
 * tgid << 32 | pid of the task the program interrupted. The emulated host runs everything in this
 * process, which is what a BPF_PROG_TEST_RUN caller would see (its own process, its one thread).
 */
function bpf_get_current_pid_tgid(_env: HelperEnv): HelperFn {
  const pid = process.pid >>> 0;
  return (x) => retU64(x, pid * 0x1_0000_0000 + pid);
}

// ------------------------------------------------------------------ bpf_tail_call (kernel/bpf/core.c)

export const bpf_tail_call_proto = proto({
  func: 'bpf_tail_call', ret_type: 'RET_VOID',
  args: [arg('ARG_PTR_TO_CTX'), arg('ARG_CONST_MAP_PTR'), arg('ARG_ANYTHING')],
});

// ------------------------------------------------------------------ the table

export const BPF_MAP_LOOKUP_ELEM: BpfHelperDef = { id: BPF_FUNC_map_lookup_elem, name: 'bpf_map_lookup_elem', proto: bpf_map_lookup_elem_proto, impl: bpf_map_lookup_elem };
export const BPF_MAP_UPDATE_ELEM: BpfHelperDef = { id: BPF_FUNC_map_update_elem, name: 'bpf_map_update_elem', proto: bpf_map_update_elem_proto, impl: bpf_map_update_elem };
export const BPF_MAP_DELETE_ELEM: BpfHelperDef = { id: BPF_FUNC_map_delete_elem, name: 'bpf_map_delete_elem', proto: bpf_map_delete_elem_proto, impl: bpf_map_delete_elem };
export const BPF_KTIME_GET_NS: BpfHelperDef = { id: BPF_FUNC_ktime_get_ns, name: 'bpf_ktime_get_ns', proto: bpf_ktime_get_ns_proto, impl: bpf_ktime_get_ns };
export const BPF_GET_PRANDOM_U32: BpfHelperDef = { id: BPF_FUNC_get_prandom_u32, name: 'bpf_get_prandom_u32', proto: bpf_get_prandom_u32_proto, impl: bpf_get_prandom_u32 };
export const BPF_GET_SMP_PROCESSOR_ID: BpfHelperDef = { id: BPF_FUNC_get_smp_processor_id, name: 'bpf_get_smp_processor_id', proto: bpf_get_smp_processor_id_proto, impl: bpf_get_smp_processor_id };
export const BPF_GET_CURRENT_PID_TGID: BpfHelperDef = { id: BPF_FUNC_get_current_pid_tgid, name: 'bpf_get_current_pid_tgid', proto: bpf_get_current_pid_tgid_proto, impl: bpf_get_current_pid_tgid };
/** Carried out by the interpreter and the JIT (runtime.ts tailCallTarget); listed for the verifier. */
export const BPF_TAIL_CALL: BpfHelperDef = { id: BPF_FUNC_tail_call, name: 'bpf_tail_call', proto: bpf_tail_call_proto, impl: null };
