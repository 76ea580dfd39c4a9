// A stand-in for NIC cores in the concurrency tests (started with firmware/runner.ts's
// spawnModuleWorker): it attaches the NIC's memory, finds an offloaded map's table through the IMEM
// directory by tid — as a core's map helper will — and bumps counters in the values with the
// big-endian atomic engine, the way an offloaded program's BPF_ATOMIC_ADD does.
//
// ctl (Int32Array): [0] start generation (the main thread bumps it to start a round), [1] workers
// ready, [2] workers done with the current round, [3] stop. Each round: `iterations` passes over `keys`,
// +1 to the 32-bit counter at byte 0 and (if `wide`) to the 64-bit counter at byte 8.

import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { MapTable, map_dir_read } from '../../firmware/maptable.js';
import { nfp_atomic_add_be32, nfp_atomic_add_be64 } from '../../src/nic/atomic.js';
import { NicMemory, type NicMemoryShared } from '../../src/nic/memory.js';

interface Data {
  memory: NicMemoryShared;
  tid: number;
  ctl: SharedArrayBuffer;
  wide: boolean;
}

interface Round {
  keys: number[];
  iterations: number;
}

const { memory, tid, ctl: ctlSab, wide } = workerData as Data;
const ctl = new Int32Array(ctlSab);
const mem = NicMemory.attach(memory);
const table = new MapTable(mem, map_dir_read(mem, tid)!);
const key = new Uint8Array(4);
const kv = new DataView(key.buffer);

Atomics.add(ctl, 1, 1);
Atomics.notify(ctl, 1);
let gen = 0;
for (;;) {
  while (Atomics.load(ctl, 0) === gen && Atomics.load(ctl, 3) === 0) Atomics.wait(ctl, 0, gen, 20);
  if (Atomics.load(ctl, 3) !== 0) break;
  gen = Atomics.load(ctl, 0);
  // The main thread posts the round's parameters before it bumps the generation.
  let m = receiveMessageOnPort(parentPort!);
  while (m === undefined) {
    Atomics.wait(ctl, 3, 0, 1);
    m = receiveMessageOnPort(parentPort!);
  }
  const r = m.message as Round;
  let adds = 0, missing = 0;
  for (let it = 0; it < r.iterations; it++) {
    for (const k of r.keys) {
      kv.setUint32(0, k, true);
      const e = table.lookup(key, 0);
      if (e < 0) {
        missing++;
        continue;
      }
      const off = table.valueOff(e);
      nfp_atomic_add_be32(mem.ememI32, off >> 2, 1);
      if (wide) nfp_atomic_add_be64(mem.ememI32, mem.ememI64, (off + 8) >> 3, 1, 0);
      adds++;
    }
  }
  parentPort!.postMessage({ adds, missing });
  Atomics.add(ctl, 2, 1);
  Atomics.notify(ctl, 2);
}
parentPort!.close();
