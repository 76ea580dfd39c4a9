// Shared fixtures of the map tests: an environment, byte helpers, a refcounted stand-in for a
// program (the real ones belong to the syscall layer) and an errno matcher.

import { expect } from 'vitest';
import { BpfError } from '../../src/bpf/errno.js';
import type { ErrnoName } from '../../src/bpf/errno.js';
import { Rcu } from '../../src/kernel/rcu.js';
import type { BpfMap, MapEnv, RefCounted } from '../../src/kernel/maps/map.js';

export function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n >>> 0, true);
  return b;
}

export function u64(n: number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(n), true);
  return b;
}

export function readU32(b: Uint8Array, off = 0): number {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(off, true);
}

export function bytes(...xs: number[]): Uint8Array {
  return new Uint8Array(xs);
}

/** Run fn and return the errno of the BpfError it throws (fails the test if it does not throw one). */
export function errnoOf(fn: () => unknown): ErrnoName {
  try {
    fn();
  } catch (e) {
    if (e instanceof BpfError) return e.errno;
    throw e;
  }
  expect.fail('expected a BpfError');
}

/** A stand-in for a program or other kernel object: counts its references. */
export class FakeObj implements RefCounted {
  refs = 1;
  constructor(readonly id: number) {}
  get(): void {
    this.refs++;
  }
  put(): void {
    if (this.refs <= 0) throw new Error(`object ${this.id}: put below zero`);
    this.refs--;
  }
}

export interface TestEnv extends MapEnv {
  readonly rcu: Rcu;
  readonly fds: Map<number, RefCounted>;
}

/** A host with `ncpus` CPUs, a fresh RCU, an fd table for fd maps and net devices 1 and 2. */
export function makeEnv(ncpus = 2, extra: Partial<MapEnv> = {}): TestEnv {
  const rcu = Rcu.create();
  rcu.setLockdepReporter(() => {});
  const fds = new Map<number, RefCounted>();
  return {
    rcu,
    fds,
    num_possible_cpus: ncpus,
    get_random_u32: () => 0x12345678,
    map_fd_get_ptr: (_map: BpfMap, fd: number) => {
      const o = fds.get(fd);
      if (o === undefined) throw new BpfError('EBADF', `fd ${fd} is not open`);
      o.get();
      return o;
    },
    dev_get_by_index: (ifindex: number) => ifindex === 1 || ifindex === 2,
    ...extra,
  };
}

/** Every key of a map, by the BPF_MAP_GET_NEXT_KEY loop bpftool uses. */
export function allKeys(map: BpfMap, limit = 1_000_000): Uint8Array[] {
  const out: Uint8Array[] = [];
  let key: Uint8Array | null = null;
  for (let i = 0; i < limit; i++) {
    try {
      key = map.getNextKey(key);
    } catch (e) {
      if (e instanceof BpfError && e.errno === 'ENOENT') return out;
      throw e;
    }
    out.push(key);
  }
  throw new Error('get_next_key loop did not end');
}
