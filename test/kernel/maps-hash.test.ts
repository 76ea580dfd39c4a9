// Hash map semantics (HASH, PERCPU_HASH, LRU_HASH, LRU_PERCPU_HASH): flags and errnos, full maps,
// get_next_key restarts, the datapath API, LRU eviction by reference bit, RCU-deferred reuse of
// removed elements, and the kernel's jhash.

import { describe, expect, it } from 'vitest';
import { map_create, bpf_map_attach } from '../../src/kernel/maps/create.js';
import {
  BPF_ANY, BPF_EXIST, BPF_F_LOCK, BPF_F_NO_PREALLOC, BPF_F_ZERO_SEED, BPF_MAP_TYPE_HASH,
  BPF_MAP_TYPE_LRU_HASH, BPF_MAP_TYPE_LRU_PERCPU_HASH, BPF_MAP_TYPE_PERCPU_HASH, BPF_NOEXIST, E2BIG,
  EEXIST, EINVAL, ENOENT, ENOMEM,
} from '../../src/kernel/maps/map.js';
import type { BpfMapCreateAttr, MapEnv } from '../../src/kernel/maps/map.js';
import { HashTab } from '../../src/kernel/maps/hashtab.js';
import { jhash } from '../../src/kernel/maps/jhash.js';
import { allKeys, bytes, errnoOf, makeEnv, readU32, u32, u64 } from './maps-helpers.js';

const H = (o: Partial<BpfMapCreateAttr> = {}): BpfMapCreateAttr => ({ map_type: BPF_MAP_TYPE_HASH, key_size: 4, value_size: 8, max_entries: 4, map_name: 'h', ...o });
const mk = (o: Partial<BpfMapCreateAttr> = {}, ncpus = 2, env: Partial<MapEnv> = {}) => {
  const e = makeEnv(ncpus, env);
  return { env: e, m: map_create(H(o), e) as HashTab };
};
const keysOf = (m: HashTab) => allKeys(m).map((k) => readU32(k)).sort((a, b) => a - b);

describe('jhash (include/linux/jhash.h)', () => {
  it('matches lookup3 hashlittle test vectors', () => {
    const enc = new TextEncoder();
    const s = enc.encode('Four score and seven years ago');
    expect(jhash(new Uint8Array(0), 0, 0, 0)).toBe(0xdeadbeef);
    expect(jhash(new Uint8Array(0), 0, 0, 0xdeadbeef)).toBe(0xbd5b7dde);
    expect(jhash(s, 0, 30, 0)).toBe(0x17770551);
    expect(jhash(s, 0, 30, 1)).toBe(0xcd628161);
  });

  it('hashes a key at an offset the same as at 0', () => {
    const k = bytes(7, 7, 1, 2, 3, 4, 5, 6);
    expect(jhash(k, 2, 6, 9)).toBe(jhash(k.slice(2), 0, 6, 9));
  });
});

describe('BPF_MAP_TYPE_HASH', () => {
  it('insert, replace, lookup, delete', () => {
    const { m } = mk();
    m.update(u32(1), u64(10));
    m.update(u32(2), u64(20), BPF_NOEXIST);
    m.update(u32(1), u64(11), BPF_EXIST);
    expect(m.lookup(u32(1))).toEqual(u64(11));
    expect(m.lookup(u32(2))).toEqual(u64(20));
    expect(m.count).toBe(2);
    m.delete(u32(1));
    expect(errnoOf(() => m.lookup(u32(1)))).toBe('ENOENT');
    expect(m.count).toBe(1);
  });

  it('errnos: NOEXIST on an existing key EEXIST, EXIST on a missing key ENOENT, unknown flags EINVAL, delete ENOENT', () => {
    const { m } = mk();
    m.update(u32(1), u64(10));
    expect(errnoOf(() => m.update(u32(1), u64(1), BPF_NOEXIST))).toBe('EEXIST');
    expect(errnoOf(() => m.update(u32(9), u64(1), BPF_EXIST))).toBe('ENOENT');
    expect(errnoOf(() => m.update(u32(9), u64(1), 3))).toBe('EINVAL');
    expect(errnoOf(() => m.update(u32(9), u64(1), 8))).toBe('EINVAL');
    expect(errnoOf(() => m.update(u32(9), u64(1), BPF_F_LOCK))).toBe('EINVAL');
    expect(errnoOf(() => m.delete(u32(9)))).toBe('ENOENT');
    expect(errnoOf(() => m.lookupAndDelete(u32(9)))).toBe('ENOENT');
    expect(errnoOf(() => m.lookup(u32(1), 2))).toBe('EINVAL');
  });

  it('a full map: a new key is E2BIG, replacing an existing key works, delete makes room', () => {
    const { m } = mk();
    for (let i = 0; i < 4; i++) m.update(u32(i), u64(i));
    expect(errnoOf(() => m.update(u32(4), u64(4)))).toBe('E2BIG');
    for (let r = 0; r < 50; r++) m.update(u32(r & 3), u64(100 + r));
    expect(m.lookup(u32(3))).toEqual(u64(147));
    m.delete(u32(0));
    m.update(u32(4), u64(4));
    expect(keysOf(m)).toEqual([1, 2, 3, 4]);
  });

  it('BPF_F_NO_PREALLOC behaves the same to the user', () => {
    const { m } = mk({ map_flags: BPF_F_NO_PREALLOC });
    for (let i = 0; i < 4; i++) m.update(u32(i), u64(i));
    expect(errnoOf(() => m.update(u32(4), u64(4)))).toBe('E2BIG');
  });

  it('lookup_and_delete returns the value and removes the key', () => {
    const { m } = mk();
    m.update(u32(5), u64(55));
    expect(m.lookupAndDelete(u32(5))).toEqual(u64(55));
    expect(m.count).toBe(0);
  });

  it('get_next_key visits every key once; a missing key restarts from the first; ENOENT at the end', () => {
    const { m } = mk({ max_entries: 64 });
    for (let i = 0; i < 40; i++) m.update(u32(i * 3), u64(i));
    const keys = allKeys(m).map((k) => readU32(k));
    expect(keys.length).toBe(40);
    expect(new Set(keys).size).toBe(40);
    const first = m.getNextKey(null);
    expect(m.getNextKey(u32(1000))).toEqual(first);
    expect(errnoOf(() => m.getNextKey(u32(keys[keys.length - 1]!)))).toBe('ENOENT');
    expect(m.htab_chain_check()).toBe('');
  });

  it('with BPF_F_ZERO_SEED the order depends only on the keys and the insert order', () => {
    const a = mk({ max_entries: 16, map_flags: BPF_F_ZERO_SEED }, 2, { get_random_u32: () => 1 }).m;
    const b = mk({ max_entries: 16, map_flags: BPF_F_ZERO_SEED }, 2, { get_random_u32: () => 2 }).m;
    const c = mk({ max_entries: 16 }, 2, { get_random_u32: () => 3 }).m;
    for (let i = 0; i < 12; i++) for (const m of [a, b, c]) m.update(u32(i), u64(i));
    const order = (m: HashTab) => allKeys(m).map((k) => readU32(k));
    expect(order(a)).toEqual(order(b));
    expect(order(a)).not.toEqual(order(c));
  });

  it('datapath: lookupOffset gives the value in mem; update/delete return -errno', () => {
    const { env, m } = mk();
    env.rcu.rcu_read_lock();
    expect(m.updateFromProg(bytes(0, 5, 0, 0, 0), 1, u64(77), 0, BPF_ANY, 0)).toBe(0);
    const off = m.lookupOffset(u32(5), 0, 0);
    expect(off).toBeGreaterThan(0);
    expect(off % 8).toBe(0);
    expect(m.mem.subarray(off, off + 8)).toEqual(u64(77));
    expect(m.lookupOffset(u32(6), 0, 0)).toBe(-1);
    expect(m.updateFromProg(u32(5), 0, u64(1), 0, BPF_NOEXIST, 0)).toBe(-EEXIST);
    expect(m.updateFromProg(u32(6), 0, u64(1), 0, BPF_EXIST, 0)).toBe(-ENOENT);
    expect(m.updateFromProg(u32(6), 0, u64(1), 0, 7, 0)).toBe(-EINVAL);
    for (let i = 10; i < 13; i++) expect(m.updateFromProg(u32(i), 0, u64(i), 0, BPF_ANY, 0)).toBe(0);
    expect(m.updateFromProg(u32(13), 0, u64(1), 0, BPF_ANY, 0)).toBe(-E2BIG);
    expect(m.deleteFromProg(u32(13), 0)).toBe(-ENOENT);
    expect(m.deleteFromProg(u32(10), 0)).toBe(0);
    env.rcu.rcu_read_unlock();
    expect(env.rcu.lockdepCount).toBe(0);
  });

  it('a datapath lookup outside rcu_read_lock() is reported as suspicious RCU usage', () => {
    const { env, m } = mk();
    m.lookupOffset(u32(1), 0, 0);
    expect(env.rcu.lockdepCount).toBe(1);
    expect(env.rcu.lastLockdep?.title).toBe('WARNING: suspicious RCU usage');
    expect(env.rcu.lastLockdep?.text).toMatch(/without rcu_read_lock/);
  });

  it('BPF_F_LOCK updates an existing value in place, around the lock word', () => {
    const { m } = mk({ value_size: 16, spin_lock_off: 0 });
    const v = bytes(0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12);
    m.update(u32(1), v, BPF_F_LOCK); // not there yet: inserted under the map lock
    const off = m.lookupOffset(u32(1), 0, 0);
    v[4] = 42;
    m.update(u32(1), v, BPF_F_LOCK);
    expect(m.lookupOffset(u32(1), 0, 0)).toBe(off); // same element: in place
    const got = m.lookup(u32(1), BPF_F_LOCK);
    expect(Array.from(got.subarray(0, 5))).toEqual([0, 0, 0, 0, 42]);
    expect(readU32(m.mem, off)).toBe(0);
    m.update(u32(1), v); // without the flag: a new element replaces it
    expect(m.lookupOffset(u32(1), 0, 0)).not.toBe(off);
  });

  it('an attached copy (another thread\'s view) shares elements, count and seed', () => {
    const { env, m } = mk({ max_entries: 8 });
    m.update(u32(3), u64(33));
    const m2 = bpf_map_attach(m.shared(), env) as HashTab;
    expect(m2.lookup(u32(3))).toEqual(u64(33));
    m2.update(u32(4), u64(44));
    expect(m.lookup(u32(4))).toEqual(u64(44));
    expect(m.count).toBe(2);
    expect(m2.pool).toBe(m.pool);
  });
});

describe('RCU-deferred reuse of hash elements', () => {
  it('a removed element is not reused while a reader may hold it, and is after the reader leaves', () => {
    const { env, m } = mk({ max_entries: 2 }, 1, { htab_spare_elems: 1 });
    const rcu = env.rcu;
    m.update(u32(1), u64(0x1111));
    rcu.rcu_read_lock();
    const off = m.lookupOffset(u32(1), 0, 0);
    const before = m.mem.slice(off, off + 8);
    // Delete the key the reader holds, then churn: with 3 elements in the pool the writer runs out
    // of reusable ones instead of overwriting the one the reader holds.
    m.delete(u32(1));
    m.update(u32(2), u64(0x2222));
    m.update(u32(3), u64(0x3333));
    expect(errnoOf(() => m.update(u32(2), u64(0x4444)))).toBe('ENOMEM');
    expect(m.updateFromProg(u32(2), 0, u64(0x4444), 0, BPF_ANY, 0)).toBe(-ENOMEM);
    expect(m.mem.slice(off, off + 8)).toEqual(before);
    expect(m.retired).toBe(1);
    rcu.rcu_read_unlock();
    // The reader left: the next update reclaims the element without waiting.
    m.update(u32(2), u64(0x4444));
    expect(m.lookup(u32(2))).toEqual(u64(0x4444));
    expect(m.htab_chain_check()).toBe('');
  });

  it('replacing a key many times recycles elements as grace periods pass', async () => {
    const { env, m } = mk({ max_entries: 4 }, 2, { htab_spare_elems: 4 });
    for (let i = 0; i < 2000; i++) {
      m.update(u32(i & 3), u64(i));
      if (i % 500 === 0) await env.rcu.synchronize_rcu();
    }
    expect(m.lookup(u32(3))).toEqual(u64(1999));
    expect(m.count).toBe(4);
  });
});

describe('BPF_MAP_TYPE_PERCPU_HASH', () => {
  it('all CPUs through the syscall; a program sets its CPU and zeroes the others on insert, in place after', () => {
    const { env, m } = mk({ map_type: BPF_MAP_TYPE_PERCPU_HASH, value_size: 4 }, 3);
    expect(m.sys_value_size).toBe(24);
    env.rcu.rcu_read_lock();
    expect(m.updateFromProg(u32(1), 0, u32(7), 0, BPF_ANY, 1)).toBe(0);
    let all = m.lookup(u32(1));
    expect([readU32(all, 0), readU32(all, 8), readU32(all, 16)]).toEqual([0, 7, 0]);
    const off2 = m.lookupOffset(u32(1), 0, 2);
    expect(m.updateFromProg(u32(1), 0, u32(9), 0, BPF_EXIST, 2)).toBe(0);
    expect(readU32(m.mem, off2)).toBe(9);
    env.rcu.rcu_read_unlock();
    all = m.lookup(u32(1));
    expect([readU32(all, 0), readU32(all, 8), readU32(all, 16)]).toEqual([0, 7, 9]);
    const v = new Uint8Array(24);
    v[0] = 1; v[8] = 2; v[16] = 3;
    m.update(u32(1), v);
    expect(m.lookup(u32(1))).toEqual(v);
    expect(m.lookupAndDelete(u32(1))).toEqual(v);
    expect(errnoOf(() => m.update(u32(1), u32(1)))).toBe('EINVAL');
    expect(errnoOf(() => m.update(u32(1), v, BPF_F_LOCK))).toBe('EINVAL');
  });
});

describe('BPF_MAP_TYPE_LRU_HASH', () => {
  it('evicts instead of failing when full', () => {
    const { m } = mk({ map_type: BPF_MAP_TYPE_LRU_HASH });
    for (let i = 0; i < 20; i++) m.update(u32(i), u64(i));
    expect(m.count).toBe(4);
    expect(m.lookup(u32(19))).toEqual(u64(19));
    expect(m.htab_chain_check()).toBe('');
  });

  it('an element a program looked up survives the next eviction; a syscall lookup does not protect it', () => {
    const a = mk({ map_type: BPF_MAP_TYPE_LRU_HASH });
    for (let i = 0; i < 4; i++) a.m.update(u32(i), u64(i));
    a.env.rcu.rcu_read_lock();
    for (const k of [1, 2, 3]) expect(a.m.lookupOffset(u32(k), 0, 0)).toBeGreaterThan(0);
    a.env.rcu.rcu_read_unlock();
    a.m.update(u32(4), u64(4));
    expect(keysOf(a.m)).toEqual([1, 2, 3, 4]);

    const b = mk({ map_type: BPF_MAP_TYPE_LRU_HASH });
    for (let i = 0; i < 4; i++) b.m.update(u32(i), u64(i));
    b.env.rcu.rcu_read_lock();
    expect(b.m.lookupOffset(u32(0), 0, 0)).toBeGreaterThan(0);
    b.env.rcu.rcu_read_unlock();
    b.m.lookup(u32(1)); // syscall: no reference bit
    b.m.update(u32(4), u64(4));
    expect(keysOf(b.m)).toEqual([0, 2, 3, 4]);
  });

  it('BPF_F_LOCK is EINVAL; flags as the hash', () => {
    const { m } = mk({ map_type: BPF_MAP_TYPE_LRU_HASH });
    expect(errnoOf(() => m.update(u32(1), u64(1), BPF_F_LOCK))).toBe('EINVAL');
    m.update(u32(1), u64(1));
    expect(errnoOf(() => m.update(u32(1), u64(1), BPF_NOEXIST))).toBe('EEXIST');
    expect(errnoOf(() => m.update(u32(2), u64(1), BPF_EXIST))).toBe('ENOENT');
  });

  it('LRU_PERCPU_HASH evicts and keeps per-CPU values', () => {
    const { env, m } = mk({ map_type: BPF_MAP_TYPE_LRU_PERCPU_HASH, value_size: 8 }, 2);
    env.rcu.rcu_read_lock();
    for (let i = 0; i < 10; i++) expect(m.updateFromProg(u32(i), 0, u64(i), 0, BPF_ANY, i & 1)).toBe(0);
    env.rcu.rcu_read_unlock();
    expect(m.count).toBe(4);
    const v = m.lookup(u32(9));
    expect(v.length).toBe(16);
    expect(v.subarray(8, 16)).toEqual(u64(9));
    expect(v.subarray(0, 8)).toEqual(u64(0));
  });
});
