// Map creation checks (map_create + each type's map_alloc_check) and the semantics of the array
// types, the fd arrays (PROG_ARRAY, PERF_EVENT_ARRAY) and DEVMAP. The errnos of the creation table
// were checked against a real 6.18 kernel with bpftool (maps-kernel.test.ts re-asks it when it can).

import { describe, expect, it } from 'vitest';
import { BpfError } from '../../src/bpf/errno.js';
import { map_create, bpf_map_attach } from '../../src/kernel/maps/create.js';
import {
  BPF_ANY, BPF_EXIST, BPF_F_CURRENT_CPU, BPF_F_INNER_MAP, BPF_F_LOCK, BPF_F_MMAPABLE, BPF_F_NO_COMMON_LRU,
  BPF_F_NO_PREALLOC, BPF_F_NUMA_NODE, BPF_F_PRESERVE_ELEMS, BPF_F_RDONLY, BPF_F_RDONLY_PROG, BPF_F_WRONLY,
  BPF_F_WRONLY_PROG, BPF_F_ZERO_SEED, BPF_MAP_TYPE_ARRAY, BPF_MAP_TYPE_DEVMAP, BPF_MAP_TYPE_DEVMAP_HASH, BPF_MAP_TYPE_HASH,
  BPF_MAP_TYPE_LRU_HASH, BPF_MAP_TYPE_PERCPU_ARRAY, BPF_MAP_TYPE_PERCPU_HASH,
  BPF_MAP_TYPE_PERF_EVENT_ARRAY, BPF_MAP_TYPE_PROG_ARRAY, BPF_NOEXIST, E2BIG, EEXIST, EINVAL, ENOENT,
  ENOSPC, EOPNOTSUPP,
} from '../../src/kernel/maps/map.js';
import type { BpfMapCreateAttr } from '../../src/kernel/maps/map.js';
import { ArrayMap } from '../../src/kernel/maps/arraymap.js';
import { DevMap, DevMapHash } from '../../src/kernel/maps/devmap.js';
import { PerfEventArrayMap, ProgArrayMap } from '../../src/kernel/maps/fd_array.js';
import { PERF_RECORD_SAMPLE, PerfEventSink } from '../../src/kernel/maps/perf_event.js';
import { FakeObj, allKeys, bytes, errnoOf, makeEnv, readU32, u32, u64 } from './maps-helpers.js';
import type { ErrnoName } from '../../src/bpf/errno.js';

const A = (o: Partial<BpfMapCreateAttr>): BpfMapCreateAttr => ({ map_type: BPF_MAP_TYPE_ARRAY, key_size: 4, value_size: 8, max_entries: 4, ...o });
const H = (o: Partial<BpfMapCreateAttr>): BpfMapCreateAttr => ({ map_type: BPF_MAP_TYPE_HASH, key_size: 4, value_size: 8, max_entries: 4, ...o });

describe('BPF_MAP_CREATE checks', () => {
  const cases: Array<[string, BpfMapCreateAttr, ErrnoName | null]> = [
    ['array, max_entries 0', A({ max_entries: 0 }), 'EINVAL'],
    ['array, key_size 8', A({ key_size: 8 }), 'EINVAL'],
    ['array, value_size 0', A({ value_size: 0 }), 'EINVAL'],
    ['array, BPF_F_NO_PREALLOC', A({ map_flags: BPF_F_NO_PREALLOC }), 'EINVAL'],
    ['array, BPF_F_PRESERVE_ELEMS', A({ map_flags: BPF_F_PRESERVE_ELEMS }), 'EINVAL'],
    ['array, RDONLY_PROG|WRONLY_PROG', A({ map_flags: BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG }), 'EINVAL'],
    ['array, RDONLY|WRONLY', A({ map_flags: BPF_F_RDONLY | BPF_F_WRONLY }), 'EINVAL'],
    ['array, BPF_F_MMAPABLE', A({ map_flags: BPF_F_MMAPABLE }), null],
    ['percpu array, BPF_F_MMAPABLE', A({ map_type: BPF_MAP_TYPE_PERCPU_ARRAY, map_flags: BPF_F_MMAPABLE }), 'EINVAL'],
    ['percpu array, BPF_F_INNER_MAP', A({ map_type: BPF_MAP_TYPE_PERCPU_ARRAY, map_flags: BPF_F_INNER_MAP }), 'EINVAL'],
    ['array, value_size 2^31', A({ value_size: 2 ** 31, max_entries: 1 }), 'E2BIG'],
    ['array, 2^32-1 entries (cannot allocate)', A({ max_entries: 0xffffffff }), 'ENOMEM'],
    ['percpu array, value 32768', A({ map_type: BPF_MAP_TYPE_PERCPU_ARRAY, value_size: 32768 }), null],
    ['percpu array, value 32769', A({ map_type: BPF_MAP_TYPE_PERCPU_ARRAY, value_size: 32769 }), 'E2BIG'],
    ['percpu array on a NUMA node', A({ map_type: BPF_MAP_TYPE_PERCPU_ARRAY, map_flags: BPF_F_NUMA_NODE, numa_node: 0 }), 'EINVAL'],
    ['array on NUMA node 0', A({ map_flags: BPF_F_NUMA_NODE, numa_node: 0 }), null],
    ['array on NUMA node 1 of 1', A({ map_flags: BPF_F_NUMA_NODE, numa_node: 1 }), 'EINVAL'],
    ['hash, max_entries 0', H({ max_entries: 0 }), 'EINVAL'],
    ['hash, key_size 0', H({ key_size: 0 }), 'EINVAL'],
    ['hash, value_size 0', H({ value_size: 0 }), 'EINVAL'],
    ['hash, 2^32-1 entries', H({ max_entries: 0xffffffff }), 'E2BIG'],
    ['hash, 2^27+1 entries (too many buckets)', H({ max_entries: 2 ** 27 + 1 }), 'E2BIG'],
    ['hash, value 4 MiB', H({ value_size: 4194304 }), 'E2BIG'],
    ['hash, key + value just under KMALLOC_MAX_SIZE - 48', H({ value_size: 4194250 }), null],
    ['hash, key_size 600', H({ key_size: 600 }), null],
    ['hash, BPF_F_NO_COMMON_LRU', H({ map_flags: BPF_F_NO_COMMON_LRU }), 'EINVAL'],
    ['hash, BPF_F_ZERO_SEED', H({ map_flags: BPF_F_ZERO_SEED }), null],
    ['hash, BPF_F_NO_PREALLOC', H({ map_flags: BPF_F_NO_PREALLOC }), null],
    ['hash, BPF_F_MMAPABLE', H({ map_flags: BPF_F_MMAPABLE }), 'EINVAL'],
    ['lru hash, BPF_F_NO_PREALLOC', H({ map_type: BPF_MAP_TYPE_LRU_HASH, map_flags: BPF_F_NO_PREALLOC }), 'ENOTSUPP'],
    ['lru hash, BPF_F_NO_COMMON_LRU', H({ map_type: BPF_MAP_TYPE_LRU_HASH, map_flags: BPF_F_NO_COMMON_LRU }), null],
    ['percpu hash on a NUMA node', H({ map_type: BPF_MAP_TYPE_PERCPU_HASH, map_flags: BPF_F_NUMA_NODE, numa_node: 0 }), 'EINVAL'],
    ['percpu hash, value 32769', H({ map_type: BPF_MAP_TYPE_PERCPU_HASH, value_size: 32769 }), 'E2BIG'],
    ['prog array, value_size 8', A({ map_type: BPF_MAP_TYPE_PROG_ARRAY }), 'EINVAL'],
    ['prog array, BPF_F_RDONLY_PROG', A({ map_type: BPF_MAP_TYPE_PROG_ARRAY, value_size: 4, map_flags: BPF_F_RDONLY_PROG }), 'EINVAL'],
    ['perf event array, BPF_F_PRESERVE_ELEMS', A({ map_type: BPF_MAP_TYPE_PERF_EVENT_ARRAY, value_size: 4, map_flags: BPF_F_PRESERVE_ELEMS }), null],
    ['devmap, value_size 12', A({ map_type: BPF_MAP_TYPE_DEVMAP, value_size: 12 }), 'EINVAL'],
    ['devmap, value_size 8', A({ map_type: BPF_MAP_TYPE_DEVMAP, value_size: 8 }), null],
    ['devmap, BPF_F_NO_PREALLOC', A({ map_type: BPF_MAP_TYPE_DEVMAP, map_flags: BPF_F_NO_PREALLOC }), 'EINVAL'],
    ['devmap_hash, value_size 8', A({ map_type: BPF_MAP_TYPE_DEVMAP_HASH }), null],
    ['devmap_hash, key_size 8', A({ map_type: BPF_MAP_TYPE_DEVMAP_HASH, key_size: 8 }), 'EINVAL'],
    ['devmap_hash, 2^31+1 entries', A({ map_type: BPF_MAP_TYPE_DEVMAP_HASH, value_size: 4, max_entries: 2 ** 31 + 1 }), 'EINVAL'],
    ['name with a dash', A({ map_name: 'bad-name' }), 'EINVAL'],
    ['name of 16 characters', A({ map_name: 'abcdefghijklmnop' }), 'EINVAL'],
    ['name of 15 characters with _ and .', A({ map_name: 'abc_def.ghijklm' }), null],
    ['unknown map type 99', A({ map_type: 99 }), 'EINVAL'],
    ['a type this kernel lacks (lpm_trie)', A({ map_type: 11 }), 'EINVAL'],
    ['map_extra on a hash', H({ map_extra: 1 }), 'EINVAL'],
    ['btf key type without value type', H({ btf_key_type_id: 3 }), 'EINVAL'],
    ['spin lock in a percpu hash', H({ map_type: BPF_MAP_TYPE_PERCPU_HASH, value_size: 8, spin_lock_off: 0 }), 'EOPNOTSUPP'],
    ['spin lock in an LRU hash', H({ map_type: BPF_MAP_TYPE_LRU_HASH, value_size: 8, spin_lock_off: 0 }), 'EOPNOTSUPP'],
    ['spin lock misaligned', H({ value_size: 8, spin_lock_off: 2 }), 'EINVAL'],
    ['spin lock in a hash', H({ value_size: 8, spin_lock_off: 4 }), null],
    ['negative key_size', H({ key_size: -1 }), 'EINVAL'],
    ['map_ifindex (offload is not created here)', H({ map_ifindex: 3 }), 'EINVAL'],
  ];
  for (const [name, attr, errno] of cases) {
    it(`${name} -> ${errno ?? 'ok'}`, () => {
      const env = makeEnv(2);
      if (errno === null) expect(map_create(attr, env).map_type).toBe(attr.map_type);
      else expect(errnoOf(() => map_create(attr, env))).toBe(errno);
    });
  }

  it('says what is wrong', () => {
    expect(() => map_create(A({ key_size: 8 }), makeEnv())).toThrow(/key_size 4/);
    expect(() => map_create(H({ map_type: BPF_MAP_TYPE_LRU_HASH, map_flags: BPF_F_NO_PREALLOC }), makeEnv())).toThrow(/preallocated/);
  });

  it('rounds an LRU with BPF_F_NO_COMMON_LRU to a multiple of the CPUs', () => {
    const m = map_create(H({ map_type: BPF_MAP_TYPE_LRU_HASH, max_entries: 4, map_flags: BPF_F_NO_COMMON_LRU }), makeEnv(3));
    expect(m.max_entries).toBe(6);
  });

  it('a devmap is read-only for programs (BPF_F_RDONLY_PROG added)', () => {
    const m = map_create(A({ map_type: BPF_MAP_TYPE_DEVMAP, value_size: 4 }), makeEnv());
    expect(m.map_flags & BPF_F_RDONLY_PROG).toBe(BPF_F_RDONLY_PROG);
  });
});

describe('BPF_MAP_TYPE_ARRAY', () => {
  const mk = (o: Partial<BpfMapCreateAttr> = {}) => map_create(A({ map_name: 'arr', ...o }), makeEnv(2)) as ArrayMap;

  it('starts zeroed, updates in place, keeps every element', () => {
    const m = mk();
    expect(Array.from(m.lookup(u32(3)))).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    m.update(u32(3), u64(0x1122));
    expect(m.lookup(u32(3))).toEqual(u64(0x1122));
    m.update(u32(3), u64(7), BPF_EXIST);
    expect(m.lookup(u32(3))).toEqual(u64(7));
  });

  it('errnos: NOEXIST EEXIST, bad flags EINVAL, out of range E2BIG/ENOENT, delete EINVAL, lookup_and_delete ENOTSUPP', () => {
    const m = mk();
    expect(errnoOf(() => m.update(u32(0), u64(1), BPF_NOEXIST))).toBe('EEXIST');
    expect(errnoOf(() => m.update(u32(0), u64(1), 3))).toBe('EINVAL');
    expect(errnoOf(() => m.update(u32(4), u64(1)))).toBe('E2BIG');
    expect(errnoOf(() => m.lookup(u32(4)))).toBe('ENOENT');
    expect(errnoOf(() => m.delete(u32(0)))).toBe('EINVAL');
    expect(errnoOf(() => m.lookupAndDelete(u32(0)))).toBe('ENOTSUPP');
    expect(errnoOf(() => m.lookup(u32(0), 8))).toBe('EINVAL');
    expect(errnoOf(() => m.lookup(bytes(1, 0)))).toBe('EINVAL');
    expect(errnoOf(() => m.update(u32(0), bytes(1)))).toBe('EINVAL');
    expect(errnoOf(() => m.update(u32(0), u64(1), BPF_F_LOCK))).toBe('EINVAL');
  });

  it('get_next_key: null and out-of-range keys start at 0, the last one ends with ENOENT', () => {
    const m = mk();
    expect(readU32(m.getNextKey(null))).toBe(0);
    expect(readU32(m.getNextKey(u32(2)))).toBe(3);
    expect(readU32(m.getNextKey(u32(77)))).toBe(0);
    expect(errnoOf(() => m.getNextKey(u32(3)))).toBe('ENOENT');
    expect(allKeys(m).map((k) => readU32(k))).toEqual([0, 1, 2, 3]);
  });

  it('datapath: lookupOffset points into mem, updateFromProg returns -errno', () => {
    const m = mk();
    const key = bytes(9, 9, 2, 0, 0, 0, 9);
    const off = m.lookupOffset(key, 2, 0);
    expect(off).toBe(2 * 8);
    m.mem[off] = 0xab;
    expect(m.lookup(u32(2))[0]).toBe(0xab);
    expect(m.lookupOffset(u32(4), 0, 0)).toBe(-1);
    expect(m.updateFromProg(u32(1), 0, u64(5), 0, BPF_ANY, 0)).toBe(0);
    expect(m.lookup(u32(1))).toEqual(u64(5));
    expect(m.updateFromProg(u32(9), 0, u64(5), 0, BPF_ANY, 0)).toBe(-E2BIG);
    expect(m.updateFromProg(u32(1), 0, u64(5), 0, BPF_NOEXIST, 0)).toBe(-EEXIST);
    expect(m.deleteFromProg(u32(1), 0)).toBe(-EINVAL);
  });

  it('BPF_F_LOCK copies around the bpf_spin_lock and reports it as zero', () => {
    const m = mk({ value_size: 16, spin_lock_off: 8 });
    const v = bytes(1, 2, 3, 4, 5, 6, 7, 8, 0xff, 0xff, 0xff, 0xff, 9, 10, 11, 12);
    m.update(u32(1), v, BPF_F_LOCK);
    const got = m.lookup(u32(1), BPF_F_LOCK);
    expect(Array.from(got)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 9, 10, 11, 12]);
    // The lock word itself was never written by the copy.
    expect(readU32(m.mem, 16 + 8)).toBe(0);
  });

  it('the same memory is seen through an attached copy', () => {
    const env = makeEnv(2);
    const m = map_create(A({}), env);
    const m2 = bpf_map_attach(m.shared(), env);
    m.update(u32(2), u64(99));
    expect(m2.lookup(u32(2))).toEqual(u64(99));
    expect(m2.max_entries).toBe(4);
  });
});

describe('BPF_MAP_TYPE_PERCPU_ARRAY', () => {
  it('syscall values are all CPUs, each rounded up to 8 bytes; a program writes its own CPU', () => {
    const m = map_create(A({ map_type: BPF_MAP_TYPE_PERCPU_ARRAY, value_size: 4 }), makeEnv(3));
    expect(m.lookup(u32(0)).length).toBe(24);
    expect(m.updateFromProg(u32(1), 0, u32(0xdead), 0, BPF_ANY, 2)).toBe(0);
    const all = m.lookup(u32(1));
    expect([readU32(all, 0), readU32(all, 8), readU32(all, 16)]).toEqual([0, 0, 0xdead]);
    expect(m.lookupOffset(u32(1), 0, 2)).toBe(1 * 24 + 16);
    const v = new Uint8Array(24);
    v[0] = 1; v[8] = 2; v[16] = 3;
    m.update(u32(3), v);
    expect(m.lookup(u32(3))).toEqual(v);
    expect(errnoOf(() => m.update(u32(3), u32(1)))).toBe('EINVAL');
    expect(errnoOf(() => m.update(u32(3), v, BPF_NOEXIST))).toBe('EEXIST');
    expect(errnoOf(() => m.update(u32(4), v))).toBe('E2BIG');
    expect(errnoOf(() => m.lookup(u32(4)))).toBe('ENOENT');
    expect(errnoOf(() => m.delete(u32(0)))).toBe('EINVAL');
  });
});

describe('BPF_MAP_TYPE_PROG_ARRAY', () => {
  function setup() {
    const env = makeEnv(2);
    const p1 = new FakeObj(101);
    const p2 = new FakeObj(102);
    env.fds.set(5, p1);
    env.fds.set(6, p2);
    const m = map_create(A({ map_type: BPF_MAP_TYPE_PROG_ARRAY, value_size: 4, map_name: 'jmp' }), env) as ProgArrayMap;
    return { env, p1, p2, m };
  }

  it('holds a reference to each program; lookup reports the id; replacing drops the old one after a grace period', async () => {
    const { env, p1, p2, m } = setup();
    m.update(u32(1), u32(5));
    expect(p1.refs).toBe(2);
    expect(readU32(m.lookup(u32(1)))).toBe(101);
    expect(m.getProg(1)).toBe(p1);
    expect(m.idAt(1)).toBe(101);
    m.update(u32(1), u32(6));
    expect(m.getProg(1)).toBe(p2);
    expect(p1.refs).toBe(2); // not yet: a tail call may still be running it
    await env.rcu.rcu_barrier();
    expect(p1.refs).toBe(1);
    m.delete(u32(1));
    await env.rcu.rcu_barrier();
    expect(p2.refs).toBe(1);
    expect(m.getProg(1)).toBeNull();
  });

  it('errnos', () => {
    const { env, m } = setup();
    expect(errnoOf(() => m.lookup(u32(0)))).toBe('ENOENT');
    expect(errnoOf(() => m.delete(u32(0)))).toBe('ENOENT');
    expect(errnoOf(() => m.delete(u32(4)))).toBe('E2BIG');
    expect(errnoOf(() => m.update(u32(4), u32(5)))).toBe('E2BIG');
    expect(errnoOf(() => m.update(u32(0), u32(5), BPF_NOEXIST))).toBe('EINVAL');
    expect(errnoOf(() => m.update(u32(0), u32(77)))).toBe('EBADF');
    const sink = PerfEventSink.create({ cpu: 0 });
    env.fds.set(9, sink);
    expect(errnoOf(() => m.update(u32(0), u32(9)))).toBe('EINVAL');
    expect(sink.refcount).toBe(1);
    expect(m.lookupOffset(u32(0), 0, 0)).toBe(-1);
    expect(m.updateFromProg(u32(0), 0, u32(5), 0, 0, 0)).toBe(-EOPNOTSUPP);
    expect(m.getProg(-1)).toBeNull();
  });

  it('the last reference to the map clears it and puts every program', async () => {
    const { env, p1, p2, m } = setup();
    m.update(u32(0), u32(5));
    m.update(u32(3), u32(6));
    let freed = false;
    m.onFree = () => { freed = true; };
    m.get();
    m.put();
    expect(freed).toBe(false);
    m.put();
    expect(freed).toBe(true);
    await env.rcu.rcu_barrier();
    expect([p1.refs, p2.refs]).toEqual([1, 1]);
  });
});

describe('BPF_MAP_TYPE_PERF_EVENT_ARRAY', () => {
  function setup(pages = 1, page_size = 256) {
    const env = makeEnv(2);
    const m = map_create(A({ map_type: BPF_MAP_TYPE_PERF_EVENT_ARRAY, value_size: 4, max_entries: 2 }), env) as PerfEventArrayMap;
    const sinks = [0, 1].map((cpu) => PerfEventSink.create({ cpu, pages, page_size, id: 40 + cpu }));
    sinks.forEach((s, cpu) => { env.fds.set(20 + cpu, s); m.update(u32(cpu), u32(20 + cpu)); });
    return { env, m, sinks };
  }

  it('bpf_perf_event_output(BPF_F_CURRENT_CPU) reaches the current CPU\'s ring as a PERF_RECORD_SAMPLE', () => {
    const { m, sinks } = setup();
    const data = bytes(1, 2, 3, 4, 5);
    const pkt = bytes(0xaa, 0xbb);
    expect(m.perf_event_output(BPF_F_CURRENT_CPU, 1, data, 0, 5, pkt, 0, 2)).toBe(0);
    expect(sinks[0]!.pending).toBe(0);
    // header 8 + u32 size + 7 bytes, rounded so the record stays 8-byte aligned: 24 bytes.
    expect(sinks[1]!.pending).toBe(24);
    const got: Uint8Array[] = [];
    expect(sinks[1]!.read((d) => got.push(d))).toBe(1);
    expect(got[0]!.length).toBe(12);
    expect(Array.from(got[0]!.subarray(0, 7))).toEqual([1, 2, 3, 4, 5, 0xaa, 0xbb]);
    expect(PERF_RECORD_SAMPLE).toBe(9);
  });

  it('errnos: wrong CPU EOPNOTSUPP, empty slot ENOENT, index E2BIG, bad flags EINVAL, syscall lookup ENOTSUPP', () => {
    const { m } = setup();
    const d = bytes(1);
    expect(m.perf_event_output(1, 0, d, 0, 1, null, 0, 0)).toBe(-EOPNOTSUPP);
    expect(m.perf_event_output(2, 0, d, 0, 1, null, 0, 0)).toBe(-E2BIG);
    expect(m.perf_event_output(2 ** 33, 0, d, 0, 1, null, 0, 0)).toBe(-EINVAL);
    m.delete(u32(0));
    expect(m.perf_event_output(0, 0, d, 0, 1, null, 0, 0)).toBe(-ENOENT);
    expect(errnoOf(() => m.lookup(u32(1)))).toBe('ENOTSUPP');
    expect(errnoOf(() => m.delete(u32(0)))).toBe('ENOENT');
  });

  it('a full ring drops records with ENOSPC and reports them as PERF_RECORD_LOST once there is room', () => {
    const { m, sinks } = setup(1, 256);
    const d = new Uint8Array(52); // 64-byte records: four fill the 256-byte ring
    for (let i = 0; i < 4; i++) expect(m.perf_event_output(0, 0, d, 0, 52, null, 0, 0)).toBe(0);
    expect(m.perf_event_output(0, 0, d, 0, 52, null, 0, 0)).toBe(-ENOSPC);
    expect(m.perf_event_output(0, 0, d, 0, 52, null, 0, 0)).toBe(-ENOSPC);
    expect(sinks[0]!.lost).toBe(2);
    let samples = 0;
    sinks[0]!.read(() => samples++);
    expect(samples).toBe(4);
    expect(m.perf_event_output(0, 0, d, 0, 52, null, 0, 0)).toBe(0);
    const lost: number[] = [];
    samples = 0;
    sinks[0]!.read(() => samples++, (n) => lost.push(n));
    expect(lost).toEqual([2]);
    expect(samples).toBe(1);
  });

  it('records that wrap around the end of the ring read back intact', () => {
    const { m, sinks } = setup(1, 256);
    const seen: number[][] = [];
    for (let i = 0; i < 200; i++) {
      const len = 1 + (i * 7) % 40;
      const d = Uint8Array.from({ length: len }, (_, j) => (i + j) & 0xff);
      expect(m.perf_event_output(0, 0, d, 0, len, null, 0, 0)).toBe(0);
      sinks[0]!.read((got) => seen.push(Array.from(got.subarray(0, len))));
      expect(seen[i]).toEqual(Array.from(d));
    }
  });

  it('an attached copy (a CPU\'s worker) writes into the same rings', () => {
    const { env, m, sinks } = setup();
    const copy = bpf_map_attach(m.shared(), env) as PerfEventArrayMap;
    expect(copy.perf_event_output(BPF_F_CURRENT_CPU, 0, bytes(7, 7, 7), 0, 3, null, 0, 0)).toBe(0);
    const got: number[][] = [];
    sinks[0]!.read((d) => got.push(Array.from(d.subarray(0, 3))));
    expect(got).toEqual([[7, 7, 7]]);
  });

  it('the last user reference empties the array unless BPF_F_PRESERVE_ELEMS', async () => {
    const { env, m, sinks } = setup();
    m.map_release_uref();
    await env.rcu.rcu_barrier();
    expect(m.eventAt(0)).toBeNull();
    expect(sinks[0]!.refcount).toBe(1);
    const m2 = map_create(A({ map_type: BPF_MAP_TYPE_PERF_EVENT_ARRAY, value_size: 4, max_entries: 2, map_flags: BPF_F_PRESERVE_ELEMS }), env) as PerfEventArrayMap;
    m2.update(u32(0), u32(20));
    m2.map_release_uref();
    expect(m2.eventAt(0)).toBe(sinks[0]);
  });
});

describe('BPF_MAP_TYPE_DEVMAP', () => {
  const mk = (value_size = 4) => {
    const env = makeEnv(2);
    return { env, m: map_create(A({ map_type: BPF_MAP_TYPE_DEVMAP, value_size }), env) as DevMap };
  };

  it('stores ifindexes; lookup and the datapath see struct bpf_devmap_val', () => {
    const { m } = mk();
    m.update(u32(1), u32(2));
    expect(readU32(m.lookup(u32(1)))).toBe(2);
    expect(m.ifindexAt(1)).toBe(2);
    const off = m.lookupOffset(u32(1), 0, 0);
    expect(readU32(m.mem, off)).toBe(2);
    expect(m.lookupOffset(u32(0), 0, 0)).toBe(-1);
    expect(errnoOf(() => m.lookup(u32(0)))).toBe('ENOENT');
    m.update(u32(1), u32(0)); // ifindex 0 empties the slot
    expect(errnoOf(() => m.lookup(u32(1)))).toBe('ENOENT');
    expect(allKeys(m).map((k) => readU32(k))).toEqual([0, 1, 2, 3]);
  });

  it('errnos as the kernel: unknown device EINVAL, NOEXIST EEXIST, E2BIG; delete out of range EINVAL, of an empty slot 0', () => {
    const { m } = mk();
    expect(errnoOf(() => m.update(u32(0), u32(99)))).toBe('EINVAL');
    expect(errnoOf(() => m.update(u32(0), u32(1), BPF_NOEXIST))).toBe('EEXIST');
    expect(errnoOf(() => m.update(u32(9), u32(1)))).toBe('E2BIG');
    expect(errnoOf(() => m.update(u32(0), u32(1), 4))).toBe('EINVAL');
    expect(errnoOf(() => m.delete(u32(9)))).toBe('EINVAL');
    expect(() => m.delete(u32(0))).not.toThrow();
  });

  it('a devmap program: held by reference, reported by id, ifindex 0 with a program is EINVAL', async () => {
    const { env, m } = mk(8);
    const prog = new FakeObj(555);
    env.fds.set(7, prog);
    const val = new Uint8Array(8);
    val.set(u32(1), 0);
    val.set(u32(7), 4);
    m.update(u32(2), val);
    expect(prog.refs).toBe(2);
    const got = m.lookup(u32(2));
    expect([readU32(got, 0), readU32(got, 4)]).toEqual([1, 555]);
    const bad = new Uint8Array(8);
    bad.set(u32(7), 4);
    expect(errnoOf(() => m.update(u32(3), bad))).toBe('EINVAL');
    expect(m.dev_map_netdev_unregister(1)).toBe(1);
    expect(errnoOf(() => m.lookup(u32(2)))).toBe('ENOENT');
    await env.rcu.rcu_barrier();
    expect(prog.refs).toBe(1);
  });

  it('many replacements recycle entries after grace periods', async () => {
    const { env, m } = mk();
    for (let i = 0; i < 1000; i++) {
      m.update(u32(i & 3), u32(1 + (i & 1)));
      if (i % 100 === 99) await env.rcu.synchronize_rcu();
    }
    expect(m.ifindexAt(3)).toBe(2);
  });
});

describe('BPF_MAP_TYPE_DEVMAP_HASH', () => {
  const mk = (max_entries = 4, value_size = 4) => {
    const env = makeEnv(2);
    return { env, m: map_create(A({ map_type: BPF_MAP_TYPE_DEVMAP_HASH, value_size, max_entries }), env) as DevMapHash };
  };

  it('any u32 key; lookup, datapath offset and redirect target', () => {
    const { env, m } = mk();
    m.update(u32(1000), u32(2));
    m.update(u32(7), u32(1));
    expect(readU32(m.lookup(u32(1000)))).toBe(2);
    expect(m.ifindexAt(7)).toBe(1);
    env.rcu.rcu_read_lock();
    expect(readU32(m.mem, m.lookupOffset(u32(1000), 0, 0))).toBe(2);
    expect(m.lookupOffset(u32(8), 0, 0)).toBe(-1);
    env.rcu.rcu_read_unlock();
    m.update(u32(7), u32(2));
    expect(m.ifindexAt(7)).toBe(2);
    expect(m.items).toBe(2);
  });

  it('errnos as the kernel: ifindex 0 EINVAL, NOEXIST EEXIST, full E2BIG, delete of a missing key ENOENT; EXIST is not checked', () => {
    const { m } = mk(2);
    expect(errnoOf(() => m.update(u32(1), u32(0)))).toBe('EINVAL');
    expect(errnoOf(() => m.update(u32(1), u32(99)))).toBe('EINVAL');
    m.update(u32(1), u32(1), BPF_EXIST);
    expect(errnoOf(() => m.update(u32(1), u32(1), BPF_NOEXIST))).toBe('EEXIST');
    m.update(u32(2), u32(1));
    expect(errnoOf(() => m.update(u32(3), u32(1)))).toBe('E2BIG');
    m.update(u32(2), u32(2)); // replacing in a full map is fine
    expect(errnoOf(() => m.delete(u32(3)))).toBe('ENOENT');
    m.delete(u32(2));
    m.update(u32(3), u32(1));
    expect(allKeys(m).map((k) => readU32(k)).sort()).toEqual([1, 3]);
  });

  it('get_next_key walks buckets in order (key & (n_buckets - 1)), newest first in a bucket, restarting on a missing key', () => {
    const { m } = mk(4);
    for (const k of [5, 1, 2, 6]) m.update(u32(k), u32(1));
    // Buckets of 4: 5 and 1 in bucket 1 (1 inserted last, so first), 2 and 6 in bucket 2.
    expect(allKeys(m).map((k) => readU32(k))).toEqual([1, 5, 6, 2]);
    expect(readU32(m.getNextKey(u32(42)))).toBe(1);
  });

  it('a device going away takes its entries; programs are put after a grace period', async () => {
    const { env, m } = mk(4, 8);
    const prog = new FakeObj(9);
    env.fds.set(3, prog);
    const v = new Uint8Array(8);
    v.set(u32(2), 0);
    v.set(u32(3), 4);
    m.update(u32(10), v);
    m.update(u32(11), v);
    expect(prog.refs).toBe(3);
    expect(readU32(m.lookup(u32(10)), 4)).toBe(9);
    expect(m.dev_map_netdev_unregister(2)).toBe(2);
    expect(m.items).toBe(0);
    await env.rcu.rcu_barrier();
    expect(prog.refs).toBe(1);
  });
});

describe('map references', () => {
  it('get/put counts, and the last put frees once', () => {
    const m = map_create(A({}), makeEnv());
    let frees = 0;
    m.onFree = () => frees++;
    m.get();
    expect(m.refcount).toBe(2);
    m.put();
    m.put();
    expect(frees).toBe(1);
    expect(() => m.put()).toThrow();
  });

  it('error messages name the command, the map and the reason', () => {
    const m = map_create(A({ map_name: 'stats' }), makeEnv());
    try {
      m.update(u32(9), u64(1));
      expect.fail('should throw');
    } catch (e) {
      expect(e).toBeInstanceOf(BpfError);
      expect((e as BpfError).message).toBe("BPF_MAP_UPDATE_ELEM on map 'stats': index out of range (all elements are preallocated)");
    }
  });
});
