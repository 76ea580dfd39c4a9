// Offloaded maps under concurrent use, with every party in its own thread where it would be on real
// hardware: the firmware's control handler in its worker, "NIC cores" (worker threads running
// datapath-worker.ts) bumping counters in the NIC's memory with big-endian atomic adds, and on the
// host several writers and readers going through bpf() and the mailbox.
//
// What must hold: no reader ever sees a torn value (a value's words come from different writes), no
// counter update is lost (the counts add up exactly), every update the host saw acknowledged is there
// afterwards, and a get_next_key walk with concurrent deletes always ends. Nothing here times anything.

import type { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnModuleWorker } from '../../firmware/runner.js';
import { NFP_MAP_USE_ATOMIC_CNT, NFP_MAP_USE_READ, nfp_bpf_map_mark_used_one, nfp_bpf_map_of } from '../../src/drivers/nfp/offload.js';
import { bpf_map_is_offloaded } from '../../src/kernel/offload.js';
import { bootHost, offloadMap, sleep, u32, type TestHost } from '../drivers/helpers.js';

const WORKER = new URL('./datapath-worker.ts', import.meta.url);
const CORES = 2;
const VALUE = 24; // c32 | seq | c64 (lo, hi) | f(seq, key) | g(seq, key)

const workers: Worker[] = [];
const hosts: TestHost[] = [];
afterAll(async () => {
  await Promise.all(workers.map((w) => w.terminate()));
  await Promise.all(hosts.map((h) => h.shutdown()));
});

const f = (seq: number, key: number) => (Math.imul(seq ^ 0x5bd1e995, 0x9e3779b1) + key) | 0;
const g = (seq: number, key: number) => (Math.imul(seq + key, 0x85ebca6b) ^ (seq << 7)) | 0;

function value(seq: number, key: number): Uint8Array {
  const v = new Uint8Array(VALUE);
  const dv = new DataView(v.buffer);
  dv.setInt32(4, seq, true);
  dv.setInt32(16, f(seq, key), true);
  dv.setInt32(20, g(seq, key), true);
  return v;
}

interface Cores {
  round(keys: number[], iterations: number): Promise<{ adds: number; missing: number }[]>;
  stop(): void;
}

async function startCores(h: TestHost, fd: number): Promise<Cores> {
  const m = h.kernel.mapOf(fd, 'test');
  if (!bpf_map_is_offloaded(m)) throw new Error('not offloaded');
  const tid = nfp_bpf_map_of(m).tid;
  const ctl = new Int32Array(new SharedArrayBuffer(16));
  const ws = Array.from({ length: CORES }, () => spawnModuleWorker(WORKER, { workerData: { memory: h.device!.memory.shared(), tid, ctl: ctl.buffer, wide: true } }));
  workers.push(...ws);
  // A core that dies fails the test with its error instead of leaving it waiting.
  let died: Error | undefined;
  for (const w of ws) {
    w.on('error', (e) => { died ??= e; });
    w.on('exit', (code) => { if (code !== 0) died ??= new Error(`core worker exited with ${code}`); });
  }
  while (Atomics.load(ctl, 1) < CORES) {
    if (died !== undefined) throw died;
    await sleep(5);
  }
  return {
    async round(keys, iterations) {
      const done = ws.map((w) => new Promise<{ adds: number; missing: number }>((resolve, reject) => {
        w.once('message', resolve);
        w.once('error', reject);
        w.once('exit', (code) => reject(new Error(`core worker exited with ${code} during a round`)));
      }));
      for (const w of ws) w.postMessage({ keys, iterations });
      Atomics.add(ctl, 0, 1);
      Atomics.notify(ctl, 0);
      return Promise.all(done);
    },
    stop() {
      Atomics.store(ctl, 3, 1);
      Atomics.notify(ctl, 0);
    },
  };
}

describe('offloaded maps: host writers and readers, NIC cores adding, all at once', () => {
  it('no torn value, no lost update, every acknowledged update kept', async () => {
    const h = await bootHost({ firmwareMode: 'worker', cmsgTimeoutMs: 5000 });
    hosts.push(h);
    const fd = await offloadMap(h, { value_size: VALUE, max_entries: 64 });
    const nm = nfp_bpf_map_of(h.kernel.mapOf(fd, 'test') as never);
    for (const off of [0, 8, 12]) expect(nfp_bpf_map_mark_used_one(nm, off, NFP_MAP_USE_ATOMIC_CNT)).toBeNull();
    for (const off of [4, 16, 20]) expect(nfp_bpf_map_mark_used_one(nm, off, NFP_MAP_USE_READ)).toBeNull();

    const counterKeys = Array.from({ length: 8 }, (_, i) => i);
    const writerKeys = Array.from({ length: 8 }, (_, i) => 100 + i);
    for (const k of [...counterKeys, ...writerKeys]) await h.sys.mapUpdateAsync({ map_fd: fd, key: u32(k), value: value(0, k) });

    const cores = await startCores(h, fd);
    const ITER = 3000;
    const total = CORES * ITER;
    let running = true;
    const problems: string[] = [];
    let lookups = 0;
    const acked = new Map<number, number>();

    const check = (k: number, v: Uint8Array, last: Map<number, bigint>): void => {
      const dv = new DataView(v.buffer);
      const c32 = dv.getUint32(0, true);
      const c64 = dv.getBigUint64(8, true);
      const seq = dv.getInt32(4, true);
      if (dv.getInt32(16, true) !== f(seq, k) || dv.getInt32(20, true) !== g(seq, k)) problems.push(`torn value of key ${k}: seq ${seq}`);
      if (c32 > total || c64 > BigInt(total)) problems.push(`key ${k}: counter beyond the adds: ${c32} ${c64}`);
      if (counterKeys.includes(k)) {
        const prev = last.get(k) ?? 0n;
        if (c64 < prev) problems.push(`key ${k}: counter went back ${prev} -> ${c64}`);
        last.set(k, c64);
      }
    };

    const reader = async (): Promise<void> => {
      const last = new Map<number, bigint>();
      while (running) {
        for (const k of [...counterKeys, ...writerKeys]) {
          check(k, await h.sys.mapLookupAsync({ map_fd: fd, key: u32(k) }), last);
          lookups++;
        }
      }
    };
    const writer = async (keys: number[]): Promise<void> => {
      let seq = 1;
      while (running) {
        for (const k of keys) {
          await h.sys.mapUpdateAsync({ map_fd: fd, key: u32(k), value: value(seq, k), flags: 2 /* BPF_EXIST */ });
          acked.set(k, seq);
        }
        seq++;
      }
    };

    const host = [reader(), reader(), reader(), writer(writerKeys.slice(0, 4)), writer(writerKeys.slice(4))];
    const results = await cores.round([...counterKeys, ...writerKeys], ITER);
    running = false;
    await Promise.all(host);

    expect(problems.slice(0, 5)).toEqual([]);
    expect(lookups).toBeGreaterThan(0);
    expect(results.reduce((s, r) => s + r.adds, 0)).toBe(CORES * ITER * 16);
    // No lost update: the counters of the keys no host write touched count every add, both widths.
    for (const k of counterKeys) {
      const dv = new DataView((await h.sys.mapLookupAsync({ map_fd: fd, key: u32(k) })).buffer);
      expect([dv.getUint32(0, true), dv.getBigUint64(8, true)]).toEqual([total, BigInt(total)]);
    }
    // Every acknowledged update is there: the payload of each written key is its last acknowledged one.
    for (const k of writerKeys) {
      const dv = new DataView((await h.sys.mapLookupAsync({ map_fd: fd, key: u32(k) })).buffer);
      expect(dv.getInt32(4, true), `key ${k}`).toBe(acked.get(k));
    }
    // After one more acknowledged write (counters back to 0), the cores' adds all land on it.
    for (const k of writerKeys) await h.sys.mapUpdateAsync({ map_fd: fd, key: u32(k), value: value(-1, k) });
    await cores.round(writerKeys, 500);
    for (const k of writerKeys) {
      const dv = new DataView((await h.sys.mapLookupAsync({ map_fd: fd, key: u32(k) })).buffer);
      expect([dv.getUint32(0, true), dv.getInt32(4, true), dv.getBigUint64(8, true)]).toEqual([CORES * 500, -1, BigInt(CORES * 500)]);
    }
    cores.stop();
  });

  it('a get_next_key walk with concurrent deletes (and cores adding) always ends', async () => {
    const h = await bootHost({ firmwareMode: 'worker', cmsgTimeoutMs: 5000 });
    hosts.push(h);
    const N = 300;
    const fd = await offloadMap(h, { value_size: VALUE, max_entries: N });
    for (let k = 0; k < N; k++) await h.sys.mapUpdateAsync({ map_fd: fd, key: u32(k), value: value(0, k) });
    const cores = await startCores(h, fd);
    const adding = cores.round(Array.from({ length: N }, (_, i) => i), 50);

    let deleting = true;
    const deleter = (async () => {
      // Delete in a scattered order until the map is empty.
      for (let i = 0; i < N && deleting; i++) {
        await h.sys.mapDeleteAsync({ map_fd: fd, key: u32((i * 7) % N) }).catch(() => {});
        if (i % 16 === 0) await sleep(0);
      }
    })();

    let walks = 0;
    let longest = 0;
    for (;;) {
      let k: Uint8Array | null = null;
      let steps = 0;
      const seen = new Set<number>();
      for (;;) {
        try {
          k = await h.sys.mapGetNextKeyAsync({ map_fd: fd, key: k });
        } catch (e) {
          expect((e as { errno: string }).errno).toBe('ENOENT');
          break;
        }
        const n = new DataView(k.buffer).getUint32(0, true);
        expect(n).toBeLessThan(N);
        seen.add(n);
        steps++;
        expect(steps).toBeLessThanOrEqual(2 * N);
      }
      walks++;
      longest = Math.max(longest, steps);
      if (steps === 0) break;
    }
    deleting = false;
    await deleter;
    await adding;
    cores.stop();
    expect(walks).toBeGreaterThan(1);
    expect(longest).toBeLessThanOrEqual(2 * N);
    await expect(h.sys.mapGetNextKeyAsync({ map_fd: fd, key: null })).rejects.toMatchObject({ errno: 'ENOENT' });
  });
});
