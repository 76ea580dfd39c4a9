// Worker body for the concurrency tests of the maps and RCU. It imports nothing from src directly:
// it loads the real modules transpiled by maps-worker-build.ts from workerData.root, attaches the
// map and the RCU from their SharedArrayBuffers, and runs one of the modes below until the main
// thread sets ctl[0] (stop), then posts a summary.
//
//   rcu-hold: enter a read-side section, report ready (ctl[1] = 1), block until ctl[2] != 0 (or
//             holdMs passed), set ctl[3] = 1 and leave the section.
//   reader:   look the keys up from the datapath API in a loop under rcu_read_lock and check each
//             value's self-checking pattern (torn values, also counted live in ctl[3]) and, every
//             so often, every chain.
//   iterate:  walk the map with the get_next_key loop over and over; every walk must end (ENOENT)
//             within a step budget and return only keys of the test's key set.

import { parentPort, workerData } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';

const { root, mode, rcuSab, shared, ctlSab, nkeys, cpu, stepBudget, holdMs } = workerData;
const { Rcu } = await import(pathToFileURL(join(root, 'src/kernel/rcu.js')).href);
const ctl = new Int32Array(ctlSab);
const rcu = Rcu.attach(rcuSab);
rcu.setLockdepReporter(() => {});

/** The value pattern the writer uses: word 0 the sequence, word 1 the key, the rest derived. */
function expected(seq, key, i) {
  return (Math.imul(seq ^ (i << 16), 0x9e3779b1) + key) | 0;
}

if (mode === 'rcu-hold') {
  rcu.rcu_read_lock();
  Atomics.store(ctl, 1, 1);
  Atomics.notify(ctl, 1);
  const until = holdMs === undefined ? Infinity : performance.now() + holdMs;
  while (Atomics.load(ctl, 2) === 0 && performance.now() < until) Atomics.wait(ctl, 2, 0, 5);
  Atomics.store(ctl, 3, 1);
  rcu.rcu_read_unlock();
  parentPort.postMessage({ done: true });
} else {
  const { bpf_map_attach } = await import(pathToFileURL(join(root, 'src/kernel/maps/create.js')).href);
  const map = bpf_map_attach(shared, { rcu, num_possible_cpus: shared.ncpus });
  const words = map.value_size >> 2;
  const i32 = new Int32Array(map.mem.buffer, 0, map.mem.byteLength >> 2);
  const key = new Uint8Array(4);
  const kv = new DataView(key.buffer);
  const r = { mode, lookups: 0, found: 0, torn: 0, broken: 0, firstProblem: '', walks: 0, maxSteps: 0, overBudget: 0, strangeKeys: 0, longWalks: 0, ms: 0 };
  const t0 = performance.now();
  let n = 0;
  Atomics.add(ctl, 1, 1); // ready
  while (Atomics.load(ctl, 0) === 0) {
    if (mode === 'reader') {
      for (let k = 0; k < nkeys; k++) {
        kv.setUint32(0, k, true);
        rcu.rcu_read_lock();
        const off = map.lookupOffset(key, 0, cpu);
        r.lookups++;
        if (off >= 0) {
          r.found++;
          const w = off >> 2;
          const seq = i32[w];
          let ok = i32[w + 1] === k;
          for (let i = 2; ok && i < words; i++) ok = i32[w + i] === expected(seq, k, i);
          // Read the first word again: a value overwritten under us would have changed.
          if (ok && i32[w] !== seq) ok = false;
          if (!ok) {
            r.torn++;
            Atomics.add(ctl, 3, 1); // live, so that a control run can stop at the first one
            if (r.firstProblem === '') r.firstProblem = `key ${k}: torn value (seq ${seq})`;
          }
        }
        if ((++n & 1023) === 0 && typeof map.htab_chain_check === 'function') {
          const msg = map.htab_chain_check();
          if (msg !== '') {
            r.broken++;
            if (r.firstProblem === '') r.firstProblem = msg;
          }
        }
        rcu.rcu_read_unlock();
      }
    } else if (mode === 'iterate') {
      let k = null;
      let steps = 0;
      for (;;) {
        try {
          k = map.getNextKey(k);
        } catch (e) {
          if (e.errno === 'ENOENT') break;
          throw e;
        }
        const kk = new DataView(k.buffer).getUint32(0, true);
        // A key replaced under the walk may come back once more (the kernel's walk does the same);
        // a key outside the set would mean a garbage link.
        if (kk >= nkeys) r.strangeKeys++;
        if (++steps > stepBudget) {
          r.overBudget++;
          break;
        }
      }
      r.walks++;
      if (steps > r.maxSteps) r.maxSteps = steps;
      if (steps > nkeys) r.longWalks++;
    }
  }
  r.ms = performance.now() - t0;
  parentPort.postMessage(r);
}
rcu.release();
