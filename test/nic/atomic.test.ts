// The NIC's 64-bit big-endian atomic add (src/nic/atomic.ts) across threads: two threads add to one
// counter at once — small addends that only touch the low word (its 32-bit fast path), addends that
// carry or borrow into the high word, and addends of the high word alone (both words in one 64-bit
// CAS) — while a third reads it with 64-bit atomic loads. Every addend and the start value are
// multiples of 3 and the counter never wraps, so any value that is not a multiple of 3 is an add seen
// half-done (2^32 is not a multiple of 3: a missing or extra carry shows); the final value must be the
// exact sum (no add lost).

import type { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnModuleWorker } from '../../firmware/runner.js';
import { nfp_atomic_read_be64 } from '../../src/nic/atomic.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const WORKER = new URL('./atomic-worker.ts', import.meta.url);
const workers: Worker[] = [];
afterAll(async () => {
  await Promise.all(workers.map((w) => w.terminate()));
});

/** [lo, hi] words of a 64-bit addend. */
const words = (d: bigint): [number, number] => [Number(BigInt.asUintN(64, d) & 0xffffffffn) | 0, Number(BigInt.asUintN(64, d) >> 32n) | 0];

describe('64-bit big-endian atomic add across threads', () => {
  it('no add is seen half-done and none is lost, with and without carries into the high word', async () => {
    const sab = new SharedArrayBuffer(8);
    const dv = new DataView(sab);
    const start = 0x7ffffffen * 0x100000000n; // a multiple of 3: high word in the middle of its range, low word 0
    dv.setUint32(0, Number(start & 0xffffffffn));
    dv.setUint32(4, Number(start >> 32n));
    // Per round: +3 and +6 (low word only, a carry once in a while), +0xffffffff and 3 * 0xffffffff (a
    // carry whenever the low word is not 0), -3 and -0xffffffff (a borrow when the low word is small),
    // +3 * 2^32 and -3 * 2^32 (the high word only).
    const pattern: bigint[] = [3n, 3n, 3n, 0xffffffffn, -3n, 3n, 3n * 0x100000000n, 0x2fffffffdn, -(3n * 0x100000000n), 3n, -0xffffffffn, 6n];
    for (const d of pattern) expect(d % 3n).toBe(0n);
    const ROUNDS = 40_000;
    const ADDERS = 2;
    const ctl = new Int32Array(new SharedArrayBuffer(20));
    const done = ['add', 'add', 'read'].map((role) => {
      const w = spawnModuleWorker(WORKER, { workerData: { sab, ctl: ctl.buffer, role, addends: pattern.map(words), rounds: ROUNDS, adders: ADDERS } });
      workers.push(w);
      return new Promise<{ role: string; reads: number; torn: number; example: string; during: number }>((resolve, reject) => {
        w.once('message', resolve);
        w.once('error', reject);
        w.once('exit', (code) => reject(new Error(`worker exited with ${code}`)));
      });
    });
    while (Atomics.load(ctl, 1) < 3) await sleep(5);
    Atomics.store(ctl, 0, 1);
    Atomics.notify(ctl, 0);
    while (Atomics.load(ctl, 2) < ADDERS) await sleep(5);
    Atomics.store(ctl, 3, 1);
    const res = await Promise.all(done);
    const reader = res.find((r) => r.role === 'read')!;
    expect(reader.during).toBeGreaterThan(10_000);
    expect([reader.torn, reader.example]).toEqual([0, '']);
    const sum = pattern.reduce((a, b) => a + b, 0n) * BigInt(ROUNDS * ADDERS);
    expect(nfp_atomic_read_be64(new BigInt64Array(sab), 0)).toBe(start + sum);
  }, 30_000);
});
