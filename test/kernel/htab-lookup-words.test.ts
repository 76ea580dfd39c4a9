// The hash map's word-keyed read side (kernel/bpf/hashtab.c __htab_map_lookup_elem): jhash2() over
// 1, 2 or 4 key words gives jhash()'s value over the same bytes; HashTab.lookup_w1/w2/w4 find exactly
// what lookupOffset finds on chains with collisions, deletions and replacements, for every hash map
// type; and the host JIT's inline lookup of a key on the stack (HashTab.gen_lookup) gives the
// interpreter's results — hits, misses, per-CPU copies, the LRU reference bit, keys not on the stack.

import { describe, expect, it } from 'vitest';
import { assemble } from '../../src/bpf/asm.js';
import { BPF_MAP_TYPE, BPF_PROG_TYPE } from '../../src/bpf/prog-types.js';
import { Kernel } from '../../src/kernel/kernel.js';
import { map_create } from '../../src/kernel/maps/create.js';
import { HashTab } from '../../src/kernel/maps/hashtab.js';
import { jhash, jhash2_1word, jhash2_2words, jhash2_4words, jhash_init } from '../../src/kernel/maps/jhash.js';
import {
  BPF_F_ZERO_SEED, BPF_MAP_TYPE_HASH, BPF_MAP_TYPE_LRU_HASH, BPF_MAP_TYPE_LRU_PERCPU_HASH, BPF_MAP_TYPE_PERCPU_HASH,
} from '../../src/kernel/maps/map.js';
import type { BpfProg } from '../../src/kernel/prog.js';
import { BpfSyscall } from '../../src/kernel/syscall.js';
import { allKeys, makeEnv } from './maps-helpers.js';

/** A deterministic stream of 32-bit values (xorshift32). */
function rng(seed: number): () => number {
  let s = seed | 0 || 1;
  return () => {
    s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
    return s | 0;
  };
}

function keyBytes(words: readonly number[]): Uint8Array {
  const b = new Uint8Array(words.length * 4);
  const dv = new DataView(b.buffer);
  words.forEach((w, j) => dv.setInt32(4 * j, w, true));
  return b;
}

/**
 * Two keys of `words` words with the same jhash for `seed` that differ only in their last word (a
 * birthday search over the last word): only the key compare tells them apart.
 */
function hashTwins(words: number, seed: number): [number[], number[]] {
  const init = jhash_init(4 * words, seed);
  const hash = (k: readonly number[]): number => words === 1 ? jhash2_1word(k[0]!, init)
    : words === 2 ? jhash2_2words(k[0]!, k[1]!, init) : jhash2_4words(k[0]!, k[1]!, k[2]!, k[3]!, init);
  const seen = new Map<number, number>();
  const k = [0x0a000001, 0x0b000002, 0x0c000003, 0].slice(0, words);
  for (let last = 1; last < 4_000_000; last++) {
    k[words - 1] = last;
    const h = hash(k);
    const other = seen.get(h);
    if (other !== undefined) {
      const a = [...k];
      a[words - 1] = other;
      return [a, [...k]];
    }
    seen.set(h, last);
  }
  throw new Error('no collision found');
}

const HASH_TYPES = [
  ['HASH', BPF_MAP_TYPE_HASH], ['PERCPU_HASH', BPF_MAP_TYPE_PERCPU_HASH],
  ['LRU_HASH', BPF_MAP_TYPE_LRU_HASH], ['LRU_PERCPU_HASH', BPF_MAP_TYPE_LRU_PERCPU_HASH],
] as const;

describe('jhash2 over key words', () => {
  it('gives jhash() of the same little-endian bytes, for 4, 8 and 16 bytes and any seed', () => {
    const next = rng(7);
    for (let i = 0; i < 500; i++) {
      const seed = i % 3 === 0 ? 0 : next();
      const k = [next(), next(), next(), next()];
      expect(jhash2_1word(k[0]!, jhash_init(4, seed)) >>> 0).toBe(jhash(keyBytes(k.slice(0, 1)), 0, 4, seed));
      expect(jhash2_2words(k[0]!, k[1]!, jhash_init(8, seed)) >>> 0).toBe(jhash(keyBytes(k.slice(0, 2)), 0, 8, seed));
      expect(jhash2_4words(k[0]!, k[1]!, k[2]!, k[3]!, jhash_init(16, seed)) >>> 0).toBe(jhash(keyBytes(k), 0, 16, seed));
    }
  });
});

/** HashTab.gen_lookup's statements compiled into a function of the key words and the CPU. */
function compileGenLookup(m: HashTab): (k: readonly number[], cpu: number) => number {
  const names: string[] = [];
  const values: unknown[] = [];
  const keys = Array.from({ length: m.key_size / 4 }, (_, j) => `k[${j}]`);
  const code = m.gen_lookup(keys, 'cpu', ['kh', 'ke', 'kw'], 't', (v, prefix) => {
    names.push(`${prefix}${names.length}`);
    values.push(v);
    return names[names.length - 1]!;
  });
  expect(code).toBeDefined();
  const f = new Function(...names, `return (k, cpu) => { let kh = 0, ke = 0, kw = 0, t = 0; ${code} return t; };`) as (...v: unknown[]) => (k: readonly number[], cpu: number) => number;
  return f(...values);
}

describe('HashTab.lookup_w1/w2/w4 and gen_lookup', () => {
  for (const [name, type] of HASH_TYPES) {
    for (const key_size of [4, 8, 16]) {
      it(`${name}, ${key_size}-byte keys: the element lookupOffset finds, on chains with collisions`, () => {
        const env = makeEnv(2);
        // 16 buckets for 12 keys: chains of two and three occur.
        const m = map_create({ map_type: type, key_size, value_size: 12, max_entries: 12 }, env) as HashTab;
        const next = rng(key_size * 31 + type);
        const keys = Array.from({ length: 24 }, () => Array.from({ length: key_size / 4 }, next));
        const value = new Uint8Array(m.sys_value_size);
        // Insert 12, delete 4 of them, replace 4 others (a replacement moves the key to a new element).
        for (const k of keys.slice(0, 12)) m.update(keyBytes(k), value);
        for (const k of keys.slice(0, 4)) m.delete(keyBytes(k));
        for (const k of keys.slice(4, 8)) m.update(keyBytes(k), value.fill(1));
        expect(m.htab_chain_check()).toBe('');
        expect(allKeys(m)).toHaveLength(8);
        const inline = compileGenLookup(m);
        env.rcu.rcu_read_lock();
        try {
          let hits = 0;
          for (const k of keys) {
            for (const cpu of [0, 1]) {
              const want = m.lookupOffset(keyBytes(k), 0, cpu);
              const got = key_size === 4 ? m.lookup_w1(k[0]!, cpu)
                : key_size === 8 ? m.lookup_w2(k[0]!, k[1]!, cpu)
                  : m.lookup_w4(k[0]!, k[1]!, k[2]!, k[3]!, cpu);
              expect(got, `key ${k}, cpu ${cpu}`).toBe(want);
              expect(inline(k, cpu), `gen_lookup: key ${k}, cpu ${cpu}`).toBe(want);
              if (want >= 0) hits++;
            }
          }
          expect(hits).toBe(8 * 2);
          // A key that differs from a stored one in its last word only is a miss.
          const near = [...keys[10]!];
          near[near.length - 1] = near[near.length - 1]! ^ 1;
          expect(m.lookupOffset(keyBytes(near), 0, 0)).toBe(-1);
          expect(inline(near, 0)).toBe(-1);
          expect(m.lookupOffset(keyBytes(keys[10]!), 0, 0)).toBeGreaterThan(0);
        } finally {
          env.rcu.rcu_read_unlock();
        }
      });
    }
  }
});

describe('keys with the same hash, told apart by the key compare', () => {
  // A one-word key has no twins: jhash's final mix is invertible, so distinct words hash apart.
  for (const words of [2, 4]) {
    it(`${4 * words}-byte keys: lookup_w${words}, gen_lookup, lookupOffset and the JIT`, () => {
      const [a, b] = hashTwins(words, 0);
      expect(a).not.toEqual(b);
      const env = makeEnv(2);
      const m = map_create({ map_type: BPF_MAP_TYPE_HASH, key_size: 4 * words, value_size: 8, max_entries: 4, map_flags: BPF_F_ZERO_SEED }, env) as HashTab;
      const inline = compileGenLookup(m);
      const w = (k: readonly number[]): number => words === 2 ? m.lookup_w2(k[0]!, k[1]!, 0) : m.lookup_w4(k[0]!, k[1]!, k[2]!, k[3]!, 0);
      m.update(keyBytes(a), valueFor(1));
      env.rcu.rcu_read_lock();
      try {
        for (const f of [w, (k: readonly number[]) => inline(k, 0), (k: readonly number[]) => m.lookupOffset(keyBytes(k), 0, 0)]) {
          expect(f(a)).toBeGreaterThan(0);
          expect(f(b)).toBe(-1);
        }
      } finally {
        env.rcu.rcu_read_unlock();
      }
      const h = jitHost(BPF_MAP_TYPE_HASH, 4 * words, 4, false, BPF_F_ZERO_SEED);
      h.sys.mapUpdate({ map_fd: h.map, key: keyBytes(a), value: valueFor(1) });
      expect(h.run(packetOf(keyBytes(a)))).toBe(1);
      expect(h.run(packetOf(keyBytes(b)))).toBe(0xffff);
      h.sys.mapUpdate({ map_fd: h.map, key: keyBytes(b), value: valueFor(2) });
      expect(h.run(packetOf(keyBytes(a)))).toBe(1);
      expect(h.run(packetOf(keyBytes(b)))).toBe(2);
    });
  }
});

// ------------------------------------------------------------------------------------------------
// Through the host JIT

/**
 * XDP: the key is the packet's first key_size bytes, copied to the stack (or, with fromPacket, passed
 * as a packet pointer); the result is the value's first u32, or 0xffff on a miss.
 */
function lookupProgram(mapFd: number, key_size: number, fromPacket: boolean): string {
  const copy = Array.from({ length: key_size / 4 }, (_, j) => `r3 = *(u32 *)(r6 + ${4 * j})\n*(u32 *)(r10 - ${32 - 4 * j}) = r3`).join('\n');
  return `
  r6 = *(u32 *)(r1 + 0)
  r7 = *(u32 *)(r1 + 4)
  r0 = 1
  r2 = r6
  r2 += ${key_size}
  if r2 > r7 goto out
  ${fromPacket ? '' : copy}
  ld_pseudo r1, 1, ${mapFd}
  ${fromPacket ? 'r2 = r6' : 'r2 = r10\nr2 += -32'}
  call 1
  r1 = r0
  r0 = 0xffff
  if r1 == 0 goto out
  r0 = *(u32 *)(r1 + 0)
out:
  exit`;
}

interface JitHost {
  readonly sys: BpfSyscall;
  readonly map: number;
  readonly prog: BpfProg;
  readonly fd: number;
  /** retval of one run on the JIT and on the interpreter, checked equal. */
  run(packet: Uint8Array): number;
}

function jitHost(map_type: number, key_size: number, max_entries: number, fromPacket = false, map_flags = 0): JitHost {
  const k = new Kernel({ cpus: 2, prandomSeed: 1 });
  const sys = new BpfSyscall(k);
  const map = sys.mapCreate({ map_type, key_size, value_size: 8, max_entries, map_flags });
  const fd = sys.progLoad({ prog_type: BPF_PROG_TYPE.XDP, insns: assemble(lookupProgram(map, key_size, fromPacket)), license: 'GPL' });
  const prog = k.fds.get(fd)!.obj as BpfProg;
  expect(prog.jited).toBeDefined();
  const jited = prog.jited!;
  return {
    sys, map, prog, fd,
    run(packet) {
      const jit = sys.progTestRun({ prog_fd: fd, data_in: packet }).retval;
      prog.jited = undefined;
      try {
        expect(sys.progTestRun({ prog_fd: fd, data_in: packet }).retval, 'interpreter').toBe(jit);
      } finally {
        prog.jited = jited;
      }
      return jit;
    },
  };
}

/** A packet starting with the key, padded to 64 bytes. */
function packetOf(key: Uint8Array): Uint8Array {
  const p = new Uint8Array(64);
  p.set(key);
  return p;
}

function valueFor(n: number, copies = 1): Uint8Array {
  const v = new Uint8Array(8 * copies);
  for (let c = 0; c < copies; c++) new DataView(v.buffer).setUint32(8 * c, n + 1000 * c, true);
  return v;
}

describe('host JIT: inline hash lookups of a key on the stack', () => {
  for (const [name, type] of HASH_TYPES) {
    for (const key_size of [4, 8, 16, 12]) {
      it(`${name}, ${key_size}-byte keys: hits and misses as the interpreter`, () => {
        const h = jitHost(type, key_size, 8);
        const copies = type === BPF_MAP_TYPE_PERCPU_HASH || type === BPF_MAP_TYPE_LRU_PERCPU_HASH ? 2 : 1;
        // Inline for 4, 8 and 16 bytes; a 12-byte key goes through lookupOffset.
        if (key_size === 12) expect(h.prog.jited!.source).not.toMatch(/while \(ke >= 0\)/);
        else expect(h.prog.jited!.source).toMatch(/while \(ke >= 0\)/);
        const next = rng(key_size + type * 17);
        const keys = Array.from({ length: 16 }, () => keyBytes(Array.from({ length: key_size / 4 }, next)));
        keys.slice(0, 8).forEach((k, i) => h.sys.mapUpdate({ map_fd: h.map, key: k, value: valueFor(i + 1, copies) }));
        // CPU 0's copy for the per-CPU types (BPF_PROG_TEST_RUN runs on CPU 0).
        keys.forEach((k, i) => expect(h.run(packetOf(k)), `key ${i}`).toBe(i < 8 ? i + 1 : 0xffff));
        // Replaced and deleted keys: the JIT sees the new element, and no longer the deleted one.
        h.sys.mapUpdate({ map_fd: h.map, key: keys[2]!, value: valueFor(77, copies) });
        h.sys.mapDelete({ map_fd: h.map, key: keys[3]! });
        expect(h.run(packetOf(keys[2]!))).toBe(77);
        expect(h.run(packetOf(keys[3]!))).toBe(0xffff);
        // A key equal to a stored one but in its last byte is a miss.
        const near = keys[5]!.slice();
        near[key_size - 1]! ^= 0x80;
        expect(h.run(packetOf(near))).toBe(0xffff);
      });
    }
  }

  it('a key passed from the packet (not the stack) takes the general path and finds the same element', () => {
    const h = jitHost(BPF_MAP_TYPE_HASH, 8, 8, true);
    const key = keyBytes([0x01020304, -5]);
    h.sys.mapUpdate({ map_fd: h.map, key, value: valueFor(42) });
    expect(h.run(packetOf(key))).toBe(42);
    expect(h.run(packetOf(keyBytes([0x01020304, -6])))).toBe(0xffff);
  });

  it('LRU_HASH: elements the JIT looked up survive the next eviction', () => {
    const h = jitHost(BPF_MAP_TYPE_LRU_HASH, 4, 4);
    const key = (n: number): Uint8Array => keyBytes([n]);
    for (let i = 0; i < 4; i++) h.sys.mapUpdate({ map_fd: h.map, key: key(i), value: valueFor(i) });
    // JIT only: the interpreter's run would set the same bits and hide a JIT that does not.
    for (const i of [0, 2, 3]) expect(h.sys.progTestRun({ prog_fd: h.fd, data_in: packetOf(key(i)) }).retval).toBe(i);
    h.sys.mapUpdate({ map_fd: h.map, key: key(9), value: valueFor(9) });
    const left = [0, 1, 2, 3, 9].filter((i) => {
      try {
        h.sys.mapLookup({ map_fd: h.map, key: key(i) });
        return true;
      } catch {
        return false;
      }
    });
    expect(left).toEqual([0, 2, 3, 9]);
  });
});
