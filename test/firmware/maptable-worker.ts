// A thread for test/firmware/maptable.test.ts: attaches a NIC's memory, finds table `tid` through the
// IMEM directory (as a core's map helper does) and either reads (looks up the keys that stay, over and
// over, counting misses and hits on an element that does not hold the key) or writes (deletes and
// re-inserts the keys that move, as fast as it can).
//
// ctl (Int32Array): [0] go, [1] threads ready, [2] stop. The result goes back as one message.

import { parentPort, workerData } from 'node:worker_threads';
import { MapTable, map_dir_read } from '../../firmware/maptable.js';
import { NicMemory, type NicMemoryShared } from '../../src/nic/memory.js';

interface Data {
  memory: NicMemoryShared;
  tid: number;
  ctl: SharedArrayBuffer;
  role: 'reader' | 'writer';
  stay: number[];
  move: number[];
}

const { memory, tid, ctl: ctlSab, role, stay, move } = workerData as Data;
const ctl = new Int32Array(ctlSab);
const mem = NicMemory.attach(memory);
const table = new MapTable(mem, map_dir_read(mem, tid)!);
const key = new Uint8Array(4);
const kv = new DataView(key.buffer);
const got = new Uint8Array(4);
const gv = new DataView(got.buffer);
const value = new DataView(new ArrayBuffer(8));

Atomics.add(ctl, 1, 1);
while (Atomics.load(ctl, 0) === 0) Atomics.wait(ctl, 0, 0, 5);

let ops = 0, misses = 0, wrong = 0;
if (role === 'reader') {
  while (Atomics.load(ctl, 2) === 0) {
    for (let i = 0; i < 256; i++) {
      for (const k of stay) {
        kv.setUint32(0, k, true);
        const e = table.lookup(key, 0);
        ops++;
        if (e < 0) {
          misses++;
          continue;
        }
        table.readKey(e, got, 0);
        if (gv.getUint32(0, true) !== k) wrong++;
      }
    }
  }
} else {
  while (Atomics.load(ctl, 2) === 0) {
    for (const k of move) {
      kv.setUint32(0, k, true);
      if (table.delete(key, 0) !== 0) throw new Error(`writer: cannot delete ${k}`);
    }
    for (const k of move) {
      kv.setUint32(0, k, true);
      if (table.update(key, 0, value, 0, 0) !== 0) throw new Error(`writer: cannot re-insert ${k}`);
    }
    ops += 2 * move.length;
  }
}
parentPort!.postMessage({ role, ops, misses, wrong });
parentPort!.close();
