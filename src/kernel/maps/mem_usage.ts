// map->ops->map_mem_usage() (kernel 6.4+), what /proc/<pid>/fdinfo reports as "memlock" and bpftool
// prints, from the sizes of the kernel's own structures (kstruct.ts); checked against `bpftool map show`
// on a 6.18 kernel with 2 possible CPUs.

import {
  BPF_F_MMAPABLE, BPF_MAP_TYPE_ARRAY, BPF_MAP_TYPE_DEVMAP, BPF_MAP_TYPE_HASH, BPF_MAP_TYPE_LRU_HASH,
  BPF_MAP_TYPE_LRU_PERCPU_HASH, BPF_MAP_TYPE_PERCPU_ARRAY, BPF_MAP_TYPE_PERCPU_HASH, BPF_MAP_TYPE_PERF_EVENT_ARRAY,
  BPF_MAP_TYPE_PROG_ARRAY, BPF_F_NO_PREALLOC, round_up, roundup_pow_of_two, type BpfMap,
} from './map.js';

import {
  HASHTAB_MAP_LOCK_COUNT, PAGE_SIZE, SIZEOF_BPF_ARRAY, SIZEOF_BPF_DTAB, SIZEOF_BPF_HTAB, SIZEOF_BUCKET,
  SIZEOF_HTAB_ELEM, SIZEOF_PTR as PTR,
} from '../kstruct.js';

export function mapMemoryUsage(map: BpfMap): number {
  const entries = map.max_entries;
  const value = round_up(map.value_size, 8);
  const cpus = map.ncpus;
  switch (map.map_type) {
    case BPF_MAP_TYPE_ARRAY:
      if ((map.map_flags & BPF_F_MMAPABLE) !== 0) return round_up(SIZEOF_BPF_ARRAY, PAGE_SIZE) + round_up(entries * value, PAGE_SIZE);
      return SIZEOF_BPF_ARRAY + entries * value;
    case BPF_MAP_TYPE_PERCPU_ARRAY:
      return SIZEOF_BPF_ARRAY + entries * PTR + entries * value * cpus;
    case BPF_MAP_TYPE_PROG_ARRAY:
    case BPF_MAP_TYPE_PERF_EVENT_ARRAY:
      return SIZEOF_BPF_ARRAY + entries * PTR;
    case BPF_MAP_TYPE_DEVMAP:
      return SIZEOF_BPF_DTAB + entries * PTR;
    case BPF_MAP_TYPE_HASH:
    case BPF_MAP_TYPE_PERCPU_HASH:
    case BPF_MAP_TYPE_LRU_HASH:
    case BPF_MAP_TYPE_LRU_PERCPU_HASH: {
      const percpu = map.map_type === BPF_MAP_TYPE_PERCPU_HASH || map.map_type === BPF_MAP_TYPE_LRU_PERCPU_HASH;
      const lru = map.map_type === BPF_MAP_TYPE_LRU_HASH || map.map_type === BPF_MAP_TYPE_LRU_PERCPU_HASH;
      const prealloc = (map.map_flags & BPF_F_NO_PREALLOC) === 0;
      const elemSize = SIZEOF_HTAB_ELEM + round_up(map.key_size, 8) + (percpu ? PTR : value);
      let usage = SIZEOF_BPF_HTAB + SIZEOF_BUCKET * roundup_pow_of_two(entries) + 4 * cpus * HASHTAB_MAP_LOCK_COUNT;
      if (prealloc) {
        const n = entries + (!percpu && !lru ? cpus : 0);
        usage += elemSize * n;
        if (percpu) usage += value * cpus * n;
        else if (!lru) usage += PTR * cpus;
      }
      return usage;
    }
    default:
      return 0;
  }
}
