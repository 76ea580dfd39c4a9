// The NFP core pool with real worker threads (piscina): the cores of the 60-core image spread over the
// machine's threads, images loaded by the driver and replaced while traffic flows, and offloaded maps
// used at once by all 60 cores (atomic counters through the firmware's lookup helper) and by the host
// (updates, deletes, lookups through the driver's control messages). Nothing here times anything.

import { afterAll, describe, expect, it } from 'vitest';
import { inProcessCores } from '../../firmware/datapath.js';
import { NFP_MAP_USE_ATOMIC_CNT, nfp_bpf_map_mark_used_one, nfp_bpf_map_of } from '../../src/drivers/nfp/offload.js';
import { nfp_net_bpf_offload, type NfpNet, type NfpProgLoad } from '../../src/drivers/nfp/xdp.js';
import { NetlinkExtAck } from '../../src/kernel/net/extack.js';
import { NfpCorePool, piscinaCores } from '../../src/nic/cores.js';
import { NfpDevice } from '../../src/nic/device.js';
import { loadFirmwareImage } from '../../src/nic/fw-image.js';
import { bootHost, offloadMap, sleep, u32, type TestHost } from '../drivers/helpers.js';
import { COUNTER, DROP_UDP9, placed, udpFrame } from '../firmware/datapath-images.js';

const pools: NfpCorePool[] = [];
const hosts: TestHost[] = [];
afterAll(async () => {
  await Promise.all(pools.map((p) => p.stop()));
  await Promise.all(hosts.map((h) => h.shutdown()));
});

const THREADS = 2;

async function load(nn: NfpNet, prog: NfpProgLoad, old = false): Promise<void> {
  await nfp_net_bpf_offload(nn, prog, old, new NetlinkExtAck());
}

describe('the core pool in worker threads', () => {
  it('runs the 60 cores on the threads; results, statistics and cycles match the in-process pool', async () => {
    const frames = Array.from({ length: 3000 }, (_, i) => udpFrame([9, 10, 53][i % 3]!, 64 + (i % 50)));
    const outcome = async (threads: boolean): Promise<unknown> => {
      const dev = new NfpDevice(loadFirmwareImage('nfp-bpf-60c'));
      const pool = await NfpCorePool.start(dev, threads ? piscinaCores({ threads: THREADS }) : inProcessCores());
      pools.push(pool);
      const nn: NfpNet = { bar: dev.bars[0]!, ustore: dev.memory.ustore, mtu: 1500, ...(threads ? {} : { pump: () => pool.pump() }) };
      await load(nn, placed(DROP_UDP9));
      const res = await pool.run(frames);
      const st = pool.stats();
      expect(pool.runner.threads).toBe(threads ? THREADS : 0);
      expect(st.helpers.compiles).toBe(threads ? THREADS : 1);
      await pool.stop();
      return { res: res.map((r) => [r.verdict, r.core, r.ctx, r.busy, r.stall, r.packet?.length ?? -1]), stats: st.stats, perCore: st.perCore.map((c) => [c.packets, c.cycles]) };
    };
    const inWorkers = await outcome(true);
    expect(inWorkers).toEqual(await outcome(false));
  });

  it('replacing the image while traffic flows: every packet gets exactly one verdict, from the old or the new image', async () => {
    const dev = new NfpDevice(loadFirmwareImage('nfp-bpf-60c'));
    const pool = await NfpCorePool.start(dev, piscinaCores({ threads: THREADS }), { slots: 64 });
    pools.push(pool);
    const nn: NfpNet = { bar: dev.bars[0]!, ustore: dev.memory.ustore, mtu: 1500 };
    const ALL_DROP = placed('br[.16], defer[1]\nimmed[gprA_0, 0x22, <<16]');
    const ALL_TX = placed('br[.16], defer[1]\nimmed[gprA_0, 0x44, <<16]');
    await load(nn, ALL_DROP);
    const oldGen = pool.imageGen;
    const N = 60_000;
    const frame = udpFrame(9);
    const running = pool.run(Array.from({ length: N }, () => frame));
    // Replace once a good part of the stream has gone through (polling, not timing).
    while (pool.stats().packets < N / 4) await new Promise((r) => setTimeout(r, 1));
    await load(nn, ALL_TX, true);
    const newGen = pool.imageGen;
    const res = await running;
    expect(res.length).toBe(N);
    expect(new Set(res.map((r) => r.tag)).size).toBe(N);
    let drops = 0;
    const lastOld = new Map<number, number>();
    const firstNew = new Map<number, number>();
    res.forEach((r, i) => {
      expect(r.gen === oldGen || r.gen === newGen).toBe(true);
      expect(r.verdict).toBe(r.gen === oldGen ? 'XDP_DROP' : 'XDP_TX');
      if (r.gen === oldGen) {
        drops++;
        lastOld.set(r.core, i);
      } else if (!firstNew.has(r.core)) {
        firstNew.set(r.core, i);
      }
    });
    // Each core switches once, between two batches: no old verdict after its first new one.
    for (const [core, i] of lastOld) expect(i < (firstNew.get(core) ?? Infinity), `core ${core}`).toBe(true);
    expect(drops).toBeGreaterThanOrEqual(N / 4);
    expect(drops).toBeLessThan(N);
    const st = pool.stats();
    expect(st.packets).toBe(N);
    expect([st.stats[1], st.stats[2]]).toEqual([drops, N - drops]);
    expect(st.helpers.compiles).toBe(2 * THREADS);
  });
});

/**
 * 60 cores (COUNTER image: lookup + 32- and 64-bit atomic adds) on counter keys while the host reads
 * every key, rewrites others in place and deletes others, through the driver's control messages.
 * `reinsert`: the host also puts deleted keys back, so the firmware reuses their elements while cores
 * walk the chains.
 */
async function countersUnderHostLoad(reinsert: boolean): Promise<void> {
  const h = await bootHost({ firmwareMode: 'worker', cmsgTimeoutMs: 10_000 });
  hosts.push(h);
  const VALUE = 24; // c32 | seq | c64 | f(seq, key) | g(seq, key)
  const fd = await offloadMap(h, { value_size: VALUE, max_entries: 64 });
  const m = nfp_bpf_map_of(h.kernel.mapOf(fd, 'test') as never);
  for (const off of [0, 8, 12]) expect(nfp_bpf_map_mark_used_one(m, off, NFP_MAP_USE_ATOMIC_CNT)).toBeNull();
  const f = (seq: number, key: number): number => (Math.imul(seq ^ 0x5bd1e995, 0x9e3779b1) + key) | 0;
  const g = (seq: number, key: number): number => (Math.imul(seq + key, 0x85ebca6b) ^ (seq << 7)) | 0;
  const value = (seq: number, key: number): Uint8Array => {
    const v = new Uint8Array(VALUE);
    const dv = new DataView(v.buffer);
    dv.setInt32(4, seq, true);
    dv.setInt32(16, f(seq, key), true);
    dv.setInt32(20, g(seq, key), true);
    return v;
  };
  // 64 buckets for 64 elements: the other keys share chains with the counters the cores look up.
  const counterKeys = [1000, 1001, 1002, 1003, 1004, 1005, 1006, 1007];
  const writerKeys = [2000, 2001, 2002, 2003];
  const otherKeys = Array.from({ length: 48 }, (_, i) => 3000 + i);
  for (const k of [...counterKeys, ...writerKeys, ...otherKeys]) await h.sys.mapUpdateAsync({ map_fd: fd, key: u32(k), value: value(0, k) });

  const dev = h.device!;
  const pool = await NfpCorePool.start(dev, piscinaCores({ threads: THREADS }));
  pools.push(pool);
  await load({ bar: dev.bars[0]!, ustore: dev.memory.ustore, mtu: 1500 }, placed(COUNTER(m.tid)));

  const PER_CORE = 40_000; // x 60 cores = 2.4 M packets
  const templates = counterKeys.map((k) => udpFrame(k));
  const total = 60 * PER_CORE;
  const perKey = total / counterKeys.length;

  let running = true;
  const problems: string[] = [];
  let reads = 0;
  let deleted = 0;
  const acked = new Map<number, number>();
  const check = (k: number, v: Uint8Array, last: Map<number, bigint>): void => {
    const dv = new DataView(v.buffer);
    const seq = dv.getInt32(4, true);
    if (dv.getInt32(16, true) !== f(seq, k) || dv.getInt32(20, true) !== g(seq, k)) problems.push(`torn value of key ${k}: seq ${seq}`);
    const c32 = dv.getUint32(0, true);
    const c64 = dv.getBigUint64(8, true);
    if (c32 > perKey || c64 > BigInt(perKey)) problems.push(`key ${k}: counters beyond the packets sent: ${c32} ${c64}`);
    if (counterKeys.includes(k)) {
      if (c64 < (last.get(k) ?? 0n)) problems.push(`key ${k}: counter went back`);
      last.set(k, c64);
    }
  };
  const reader = async (): Promise<void> => {
    const last = new Map<number, bigint>();
    while (running) {
      for (const k of [...counterKeys, ...writerKeys]) {
        check(k, await h.sys.mapLookupAsync({ map_fd: fd, key: u32(k) }), last);
        reads++;
      }
    }
  };
  const writer = async (): Promise<void> => {
    for (let seq = 1; running; seq++) {
      for (const k of writerKeys) {
        await h.sys.mapUpdateAsync({ map_fd: fd, key: u32(k), value: value(seq, k), flags: 2 /* BPF_EXIST */ });
        acked.set(k, seq);
      }
    }
  };
  const deleter = async (): Promise<void> => {
    if (!reinsert) {
      // Deletes only, spread over the run: nothing is reused while the cores walk the chains.
      for (const k of otherKeys) {
        if (!running) break;
        await h.sys.mapDeleteAsync({ map_fd: fd, key: u32(k) });
        deleted++;
        await sleep(5);
      }
      return;
    }
    // All out, all back in: the free stack hands each key another key's element, in another chain.
    while (running) {
      for (const k of otherKeys) await h.sys.mapDeleteAsync({ map_fd: fd, key: u32(k) });
      deleted += otherKeys.length;
      for (const k of otherKeys) await h.sys.mapUpdateAsync({ map_fd: fd, key: u32(k), value: value(1, k) });
    }
  };
  const host = [reader(), reader(), writer(), deleter()];
  await pool.generate(templates, PER_CORE);
  running = false;
  await Promise.all(host);

  expect(problems.slice(0, 5)).toEqual([]);
  expect(reads).toBeGreaterThan(0);
  expect(deleted).toBeGreaterThan(0);
  const st = pool.stats();
  expect(st.packets).toBe(total);
  // Every lookup found its key (drop = hit), and every hit's adds landed: exact counts, both widths.
  expect(st.stats).toEqual([0, total, 0, 0]);
  expect(st.helpers.hits).toBe(total);
  for (const k of counterKeys) {
    const dv = new DataView((await h.sys.mapLookupAsync({ map_fd: fd, key: u32(k) })).buffer);
    expect([k, dv.getUint32(0, true), dv.getBigUint64(8, true)]).toEqual([k, perKey, BigInt(perKey)]);
  }
  for (const k of writerKeys) {
    const dv = new DataView((await h.sys.mapLookupAsync({ map_fd: fd, key: u32(k) })).buffer);
    expect(dv.getInt32(4, true), `key ${k}`).toBe(acked.get(k));
  }
}

describe('offloaded maps: 60 cores adding while the host writes, deletes and reads', () => {
  it('exact counts over millions of packets, no torn value, every acknowledged update kept', () => countersUnderHostLoad(false), 120_000);

  // A lookup standing on an element that the host deletes and at once reuses for a key of another
  // chain (the free stack is LIFO) follows the other chain: maptable.ts's walks end on a nulls marker
  // naming their bucket and start again when it is not theirs (hlist_nulls, as the kernel's htab).
  // Before that fix this lost 1-2 lookups in 2.4 M packets on every run.
  it('exact counts while the host deletes and re-inserts keys in the counters\' chains', () => countersUnderHostLoad(true), 120_000);
});
