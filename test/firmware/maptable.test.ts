// firmware/maptable.ts on its own: the hash table's chains (hlist_nulls) and what a lock-free reader
// sees when a writer deletes the element it stands on and reuses it at once for a key of another
// bucket — first as one exact interleaving (a reader stopped on that element while the writer works),
// then with readers and a writer in their own threads.

import type { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import { MapTable, map_dir_write, map_hash, map_table_bytes, type MapDirEntry } from '../../firmware/maptable.js';
import { spawnModuleWorker } from '../../firmware/runner.js';
import { CMSG_RC_ERR_MAP_E2BIG, CMSG_RC_SUCCESS } from '../../src/nic/ccm.js';
import type { NicMemory } from '../../src/nic/memory.js';
import { NfpDevice } from '../../src/nic/device.js';
import { loadFirmwareImage } from '../../src/nic/fw-image.js';
import { BPF_MAP_TYPE } from '../../src/bpf/prog-types.js';

const BPF_MAP_TYPE_HASH = BPF_MAP_TYPE.HASH;
const VS = 8;
const u32 = (v: number): Uint8Array => new Uint8Array(Uint32Array.of(v).buffer);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const ZERO = new DataView(new ArrayBuffer(VS));

/** A fresh hash table of `max` 4-byte keys in a NIC's EMEM, published in the directory as tid 1. */
function hashTable(max: number): { mem: NicMemory; entry: MapDirEntry; t: MapTable } {
  const mem = new NfpDevice(loadFirmwareImage('nfp-bpf-60c')).memory;
  const base = 4096;
  const bytes = map_table_bytes(BPF_MAP_TYPE_HASH, 4, VS, max);
  expect(mem.emem_reserve(base + bytes)).toBe(true);
  const entry: MapDirEntry = { tid: 1, type: BPF_MAP_TYPE_HASH, keySize: 4, valueSize: VS, maxEntries: max, base, bytes };
  const t = new MapTable(mem, entry);
  t.init();
  map_dir_write(mem, entry);
  return { mem, entry, t };
}

const bucketOf = (t: MapTable, k: number): number => map_hash(u32(k), 0, 4) & (t.nbuckets - 1);

/** `n` distinct keys (from 1 up, none of `not`) whose chain is bucket `b`. */
function keysIn(t: MapTable, b: number, n: number, not: readonly number[] = []): number[] {
  const out: number[] = [];
  for (let k = 1; out.length < n; k++) if (bucketOf(t, k) === b && !not.includes(k)) out.push(k);
  return out;
}

function put(t: MapTable, k: number): void {
  expect(t.update(u32(k), 0, ZERO, 0, 0)).toBe(CMSG_RC_SUCCESS);
}

/**
 * A reader that stops when it is about to follow the link out of element `at` (having compared that
 * element's key and found it is not the one it wants), lets `writer` run, and then goes on.
 */
class StoppingReader extends MapTable {
  at = -1;
  writer: (() => void) | null = null;
  stopped = 0;

  protected override next(idx: number): number {
    if (idx === this.at && this.writer !== null) {
      const w = this.writer;
      this.writer = null;
      this.stopped++;
      w();
    }
    return super.next(idx);
  }
}

describe('a reader standing on an element that is deleted and reused for another bucket', () => {
  it('lookup: the walk lands on the other bucket\'s nulls marker, starts again and finds its key', () => {
    const { mem, entry, t: writer } = hashTable(16);
    const [mine, other] = [5, 2];
    // Bucket 5: d -> k (insertion is at the head), so a lookup of k passes over d first.
    const [k, d] = keysIn(writer, mine, 2);
    const [z, c] = keysIn(writer, other, 2);
    for (const key of [k!, d!, z!]) put(writer, key);
    const e = writer.lookup(u32(d!), 0);
    const want = writer.lookup(u32(k!), 0);
    expect(e).toBeGreaterThanOrEqual(0);
    expect(want).toBeGreaterThanOrEqual(0);

    const reader = new StoppingReader(mem, entry);
    reader.at = e;
    reader.writer = () => {
      // Another thread deletes d and inserts c: the free stack hands c d's element, now at the head
      // of bucket 2 with its link pointing at z.
      expect(writer.delete(u32(d!), 0)).toBe(CMSG_RC_SUCCESS);
      put(writer, c!);
      expect(writer.lookup(u32(c!), 0)).toBe(e);
    };
    expect(reader.lookup(u32(k!), 0)).toBe(want);
    expect(reader.stopped).toBe(1);

    // A key that is absent still ends in a miss (its own bucket's marker), even when the walk is dragged.
    const [absent] = keysIn(writer, mine, 1, [k!, d!]);
    put(writer, d!);
    const e2 = writer.lookup(u32(d!), 0);
    reader.at = e2;
    reader.writer = () => {
      expect(writer.delete(u32(d!), 0)).toBe(CMSG_RC_SUCCESS);
      expect(writer.delete(u32(c!), 0)).toBe(CMSG_RC_SUCCESS);
      put(writer, c!);
    };
    expect(reader.lookup(u32(absent!), 0)).toBe(-1);
    expect(reader.stopped).toBe(2);
    expect(reader.lookup(u32(k!), 0)).toBe(want);
  });

  it('get_next_key: a walk led into another bucket\'s chain goes on at the next bucket, never back', () => {
    const { mem, entry, t: writer } = hashTable(16);
    const [mine, other, later] = [9, 3, 12];
    const [d] = keysIn(writer, mine, 1);
    const [z, c] = keysIn(writer, other, 2);
    const [n] = keysIn(writer, later, 1);
    for (const key of [d!, z!, n!]) put(writer, key);
    const e = writer.lookup(u32(d!), 0);

    const reader = new StoppingReader(mem, entry);
    reader.at = e;
    reader.writer = () => {
      expect(writer.delete(u32(d!), 0)).toBe(CMSG_RC_SUCCESS);
      put(writer, c!);
      expect(writer.lookup(u32(c!), 0)).toBe(e);
    };
    // The host asks for the key after d; d's element now links into bucket 3 (c -> z).
    const next = reader.nextAfterKey(u32(d!), 0);
    expect(reader.stopped).toBe(1);
    const key = new Uint8Array(4);
    reader.readKey(next, key, 0);
    expect(new DataView(key.buffer).getUint32(0, true)).toBe(n);
  });
});

describe('chains under many deletes and re-inserts (one thread)', () => {
  it('every key present is found, every absent one is not, a walk sees each key once', () => {
    const { t } = hashTable(64);
    const model = new Set<number>();
    let seed = 12345;
    const rnd = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    const key = new Uint8Array(4);
    const kv = new DataView(key.buffer);
    for (let op = 0; op < 20_000; op++) {
      const k = 1 + rnd(100);
      if (rnd(2) === 0) {
        const rc = t.update(u32(k), 0, ZERO, 0, 0);
        if (model.has(k) || model.size < 64) {
          expect(rc).toBe(CMSG_RC_SUCCESS);
          model.add(k);
        } else {
          expect(rc).toBe(CMSG_RC_ERR_MAP_E2BIG);
        }
      } else {
        expect(t.delete(u32(k), 0) === CMSG_RC_SUCCESS).toBe(model.has(k));
        model.delete(k);
      }
      if (op % 1000 === 999) {
        expect(t.count).toBe(model.size);
        for (let q = 1; q <= 100; q++) expect(t.lookup(u32(q), 0) >= 0, `key ${q}`).toBe(model.has(q));
        const seen: number[] = [];
        for (let e = t.nextAfterKey(null, 0); e >= 0; e = t.nextAfterElem(e)) {
          t.readKey(e, key, 0);
          seen.push(kv.getUint32(0, true));
        }
        expect(seen.sort((a, b) => a - b)).toEqual([...model].sort((a, b) => a - b));
      }
    }
  });
});

// ---------------------------------------------------------------------------------------------------
// Threads: readers look up keys that stay in the table for the whole run while a writer deletes and
// re-inserts the other keys of the same chains as fast as it can (the free stack hands each re-inserted
// key another key's element, in another chain). Without the nulls restart, readers miss present keys.

const WORKER = new URL('./maptable-worker.ts', import.meta.url);
const workers: Worker[] = [];
afterAll(async () => {
  await Promise.all(workers.map((w) => w.terminate()));
});

describe('chains under deletes and re-inserts (threads)', () => {
  it('readers in two threads never miss a key that stays in the table', async () => {
    const MAX = 64;
    const { mem, t } = hashTable(MAX);
    // Few buckets' worth of keys: 8 that stay, 48 that move; 64 buckets, so chains are short but shared.
    const stay = Array.from({ length: 8 }, (_, i) => 1000 + i);
    const move = Array.from({ length: 48 }, (_, i) => 3000 + i);
    for (const k of [...stay, ...move]) put(t, k);
    const ctl = new Int32Array(new SharedArrayBuffer(16));
    const READERS = 2;
    const started = Array.from({ length: READERS + 1 }, (_, i) => {
      const w = spawnModuleWorker(WORKER, { workerData: { memory: mem.shared(), tid: 1, ctl: ctl.buffer, role: i === 0 ? 'writer' : 'reader', stay, move } });
      workers.push(w);
      return new Promise<{ role: string; ops: number; misses: number; wrong: number }>((resolve, reject) => {
        w.once('message', resolve);
        w.once('error', reject);
        w.once('exit', (code) => reject(new Error(`worker exited with ${code}`)));
      });
    });
    while (Atomics.load(ctl, 1) < READERS + 1) await sleep(5);
    Atomics.store(ctl, 0, 1);
    Atomics.notify(ctl, 0);
    await sleep(1500);
    Atomics.store(ctl, 2, 1);
    const res = await Promise.all(started);
    const readers = res.filter((r) => r.role === 'reader');
    const writer = res.find((r) => r.role === 'writer')!;
    expect(writer.ops).toBeGreaterThan(1000);
    expect(readers.every((r) => r.ops > 10_000)).toBe(true);
    expect(readers.map((r) => [r.misses, r.wrong])).toEqual(readers.map(() => [0, 0]));
    for (const k of [...stay, ...move]) expect(t.lookup(u32(k), 0)).toBeGreaterThanOrEqual(0);
    expect(t.count).toBe(stay.length + move.length);
  }, 20_000);
});
