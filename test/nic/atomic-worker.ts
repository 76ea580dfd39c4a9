// A thread for test/nic/atomic.test.ts: either adds a fixed cycle of 64-bit addends to a big-endian
// counter with the NIC's atomic engine, or reads the counter with 64-bit atomic loads and counts the
// values no finished add can leave (every addend is a multiple of 3, and so is the start value, so a
// value that is not was caught half-way through an add).
//
// ctl (Int32Array): [0] go, [1] threads ready, [2] adders done, [3] stop readers, [4] reader reading
// (the adders start only then, so the reads overlap the adds).

import { parentPort, workerData } from 'node:worker_threads';
import { nfp_atomic_add_be64, nfp_atomic_read_be64 } from '../../src/nic/atomic.js';

interface Data {
  sab: SharedArrayBuffer;
  ctl: SharedArrayBuffer;
  role: 'add' | 'read';
  /** Addends as [lo, hi] words, applied in turn `rounds` times. */
  addends: [number, number][];
  rounds: number;
  adders: number;
}

const { sab, ctl: ctlSab, role, addends, rounds, adders } = workerData as Data;
const ctl = new Int32Array(ctlSab);
const i32 = new Int32Array(sab);
const i64 = new BigInt64Array(sab);

Atomics.add(ctl, 1, 1);
while (Atomics.load(ctl, 0) === 0) Atomics.wait(ctl, 0, 0, 5);

if (role === 'add') {
  while (Atomics.load(ctl, 4) === 0) Atomics.wait(ctl, 4, 0, 5);
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < addends.length; i++) nfp_atomic_add_be64(i32, i64, 0, addends[i]![0], addends[i]![1]);
  }
  Atomics.add(ctl, 2, 1);
  parentPort!.postMessage({ role, reads: 0, torn: 0, example: '', during: 0 });
} else {
  let reads = 0, torn = 0, during = 0;
  let example = '';
  Atomics.store(ctl, 4, 1);
  Atomics.notify(ctl, 4);
  while (Atomics.load(ctl, 3) === 0) {
    const adding = Atomics.load(ctl, 2) < adders;
    for (let i = 0; i < 1024; i++) {
      const v = nfp_atomic_read_be64(i64, 0);
      reads++;
      if (v % 3n !== 0n) {
        torn++;
        if (example === '') example = `0x${v.toString(16)}`;
      }
    }
    if (adding) during += 1024;
  }
  parentPort!.postMessage({ role, reads, torn, example, during });
}
parentPort!.close();
