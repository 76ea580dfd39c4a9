// The receive path's burst interface (NfpCorePool.rxBurst, nfp_net_rx_hw, netif_receive's two NIC
// batches in flight) against the same frames sent one at a time: per frame the same verdict, status,
// output bytes, core, context and cycles; the same frames up the stack and out of the wire, in order;
// the same counters on the card, on the host and in the offloaded maps. The program is a clang-built
// xdp_l4lb JIT-compiled for the NIC (TX with an adjusted head, a hash lookup and two atomic adds per
// balanced frame, drops for flows without a backend, passes for what it does not balance), on the
// cores in worker threads, with rings smaller than a burst so that bursts wrap them.

import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { loadObject } from '../../src/bpf/object.js';
import { nfp_net_bpf_offload, nfp_prog_load, type NfpNet } from '../../src/drivers/nfp/xdp.js';
import { XDP_FLAGS_HW_MODE, rtnl_setlink_xdp } from '../../src/kernel/net/dev-xdp.js';
import { NetlinkExtAck } from '../../src/kernel/net/extack.js';
import { netdev_rx, netif_receive, type RxReport } from '../../src/kernel/net/rx.js';
import { loadObjectIntoKernelAsync } from '../../src/libbpf/object.js';
import { NFP_ACT_DROP, NfpCorePool, NfpRxBurst, piscinaCores, type NfpPoolStats } from '../../src/nic/cores.js';
import { startNicDatapath, type NicDatapath } from '../../src/scenario/nic.js';
import { progObject } from '../oracle/kernel.js';
import * as pk from '../oracle/packets.js';
import { inProcessCores } from '../../firmware/datapath.js';
import { DROP_UDP9, placed } from '../firmware/datapath-images.js';
import { bootHost, u32, type TestHost } from './helpers.js';
import { nfpLoadObject } from './nfp-run.js';

const THREADS = 2;
const SLOTS = 4; // 60 cores x 4 slots: every burst below is larger than the rings
const BACKENDS = 512;

const hosts: TestHost[] = [];
const pools: NfpCorePool[] = [];
const nics: NicDatapath[] = [];
afterAll(async () => {
  for (const n of nics) await n.stop();
  for (const p of pools) await p.stop();
  for (const h of hosts) await h.shutdown();
});

/** struct backend of xdp_l4lb.c; only odd slots are filled (slot 0, the fallback, too is empty), so half the flows have no backend (drop). */
function backend(slot: number): Uint8Array {
  const v = new Uint8Array(32);
  v.set([10, 0, 0, 100], 0);
  v.set([10, 1, slot >> 8, slot & 0xff], 4);
  v.set([0x02, 0xbe, 0xef, 0, slot >> 8, slot & 0xff], 24);
  return v;
}

/** A mix of every fate: balanced TCP/UDP flows (TX or drop), ICMP, IPv6 and ARP (pass). */
function traffic(n: number): Uint8Array[] {
  return Array.from({ length: n }, (_, i) => {
    const src = `10.9.${(i >> 7) & 0xff}.${(i & 0x7f) + 1}`;
    switch (i % 8) {
      case 0: case 1: case 2: return pk.tcp4Frame({ src, srcPort: 1000 + i, dstPort: 80, flags: { ack: true }, payload: pk.patternPayload(i % 90, i) });
      case 3: case 4: return pk.udp4Frame({ src, srcPort: 3000 + i, dstPort: 53 });
      case 5: return pk.icmp4Frame({ src, seq: i });
      case 6: return pk.tcp6Frame({ srcPort: 5000 + i, dstPort: 443 });
      default: return pk.arpFrame({ src });
    }
  });
}

async function fillBackends(h: TestHost, fd: number): Promise<void> {
  for (let slot = 1; slot < BACKENDS; slot += 2) await h.sys.mapUpdateAsync({ map_fd: fd, key: u32(slot), value: backend(slot) });
}

async function backends(h: TestHost, fd: number): Promise<string[]> {
  const out: string[] = [];
  for (let slot = 1; slot < BACKENDS; slot += 2) out.push(Buffer.from(await h.sys.mapLookupAsync({ map_fd: fd, key: u32(slot) })).toString('hex'));
  return out;
}

/** The card's counters, but the number of batches (one per frame when frames come one at a time). */
function cardCounters(s: NfpPoolStats): unknown {
  return {
    packets: s.packets, stats: s.stats, errors: s.errors, noProg: s.noProg,
    perCore: s.perCore.map((c) => ({ ...c, batches: undefined })),
  };
}

/** Every field of a burst's frame i, output bytes included, as one comparable record. */
function entry(b: NfpRxBurst, i: number, input: Uint8Array): unknown {
  const p = b.packet(i, input);
  return {
    action: b.action[i], verdict: b.verdict[i], status: b.status[i], raw: b.raw[i], resume: b.resume[i], queue: b.queue[i], core: b.core[i],
    ctx: b.ctx[i], busy: b.busy[i], stall: b.stall[i], gen: b.gen[i], out: p === null ? null : Buffer.from(p).toString('hex'),
  };
}

describe('NfpCorePool.rxBurst: a burst against the same frames one at a time', () => {
  it('gives every frame the same result, the card the same counters and the maps the same values, bursts wrapping the rings', async () => {
    const rigs = await Promise.all([0, 1].map(async () => {
      const h = await bootHost();
      hosts.push(h);
      const lb = await nfpLoadObject(h, 'xdp_l4lb', 'xdp_l4lb');
      const fd = lb.maps.get('servers')!.fd;
      await fillBackends(h, fd);
      const pool = await NfpCorePool.start(h.device!, piscinaCores({ threads: THREADS }), { slots: SLOTS });
      pools.push(pool);
      const nn: NfpNet = { bar: h.device!.bars[0]!, ustore: h.device!.memory.ustore, mtu: 1500 };
      await nfp_net_bpf_offload(nn, nfp_prog_load(lb.nfp_prog), false, new NetlinkExtAck());
      return { h, pool, fd };
    }));
    const [a, b] = rigs as [typeof rigs[0], typeof rigs[0]];
    // Bad descriptors too: a runt (malformed) and a frame longer than a slot (oversize).
    const frames = traffic(1200);
    frames.splice(77, 0, new Uint8Array(13));
    frames.splice(500, 0, pk.udp4FrameOfLength(2100, { dstPort: 53 }));
    const pinned = traffic(100);

    // a: one burst over all cores (5x the rings), then one pinned to core 5 (25x its ring).
    const burst = new NfpRxBurst();
    await a.pool.rxBurst(frames, burst);
    const aAll = frames.map((f, i) => entry(burst, i, f));
    const burst2 = new NfpRxBurst();
    await a.pool.rxBurst(pinned, burst2, { core: 5 });
    const aPinned = pinned.map((f, i) => entry(burst2, i, f));
    // b: the same frames, each its own burst.
    const one = new NfpRxBurst();
    const bAll: unknown[] = [];
    for (const f of frames) {
      await b.pool.rxBurst([f], one);
      bAll.push(entry(one, 0, f));
    }
    const bPinned: unknown[] = [];
    for (const f of pinned) {
      await b.pool.rxBurst([f], one, { core: 5 });
      bPinned.push(entry(one, 0, f));
    }

    expect(aAll).toEqual(bAll);
    expect(aPinned).toEqual(bPinned);
    // Every fate is there, and round-robin spread the burst over every core.
    const fates = (r: unknown[]): Set<unknown> => new Set(r.map((x) => (x as { action: number; status: number }).action * 16 + (x as { status: number }).status));
    expect(fates(aAll)).toEqual(new Set([1 * 16 + 0, 2 * 16 + 0, 4 * 16 + 0, 2 * 16 + 2, 2 * 16 + 3]));
    expect(new Set(aAll.map((x) => (x as { core: number }).core)).size).toBe(60);
    expect(aPinned.every((x) => (x as { core: number }).core === 5)).toBe(true);
    const txs = aAll.filter((x) => (x as { action: number }).action === 4) as { out: string }[];
    expect(txs.length).toBeGreaterThan(200);
    expect(txs[0]!.out.length / 2).toBeGreaterThan(0);

    const sa = a.pool.stats(), sb = b.pool.stats();
    expect(cardCounters(sa)).toEqual(cardCounters(sb));
    expect(sa.packets).toBe(frames.length + pinned.length);
    expect(sa.perCore[5]!.batches).toBeLessThan(sb.perCore[5]!.batches);
    expect(await backends(a.h, a.fd)).toEqual(await backends(b.h, b.fd));
    // The drops of the burst left nothing in its output buffer but the passes' and TXs' frames.
    const outBytes = frames.reduce((n, f, i) => n + (burst.action[i] === NFP_ACT_DROP ? 0 : burst.outStart[i]! < 0 ? 0 : burst.outLen[i]!), 0);
    expect(burst.dataUsed).toBeGreaterThanOrEqual(outBytes);
    expect(burst.dataUsed).toBeLessThanOrEqual(outBytes + 3 * frames.length);
  }, 120_000);
});

describe("the driver's receive path (netif_receive -> nfp_net_rx_hw -> the cores) in bursts and frame by frame", () => {
  it('the same fates, frames up the stack and out of the wire in order, and the same counters', async () => {
    const rigs = await Promise.all([0, 1].map(async () => {
      const h = await bootHost();
      hosts.push(h);
      const nic = (await startNicDatapath(h, { mode: 'worker', threads: THREADS, slots: SLOTS }))!;
      nics.push(nic);
      const path = progObject('xdp_l4lb');
      const lo = await loadObjectIntoKernelAsync(h.sys, loadObject(readFileSync(path), path), { ifindex: h.ifindex });
      const fd = lo.maps.find((m) => m.spec.name === 'servers')!.fd;
      await fillBackends(h, fd);
      const dev = h.kernel.netdevs.dev_get_by_name('nfp0')!;
      await rtnl_setlink_xdp(h.kernel, dev, { fd: lo.programs.find((p) => p.spec.name === 'xdp_l4lb')!.fd, flags: XDP_FLAGS_HW_MODE });
      const rx = netdev_rx(dev);
      rx.up = true;
      rx.stack.keep = 1 << 20;
      rx.wire.keep = 1 << 20;
      return { h, nic, fd, dev, rx };
    }));
    const [a, b] = rigs as [typeof rigs[0], typeof rigs[0]];
    const frames = traffic(700);
    frames.splice(33, 0, new Uint8Array(13)); // the MAC refuses it before the NIC sees it
    const REPEAT = 12; // NIC batches of 5, 5 and 2 copies of the 701 frames: both result sets in turn, each batch wrapping the rings

    const ra = await netif_receive(a.h.kernel, a.dev, frames, { repeat: REPEAT });
    const reports: RxReport[] = [];
    for (let r = 0; r < REPEAT; r++) for (const f of frames) reports.push(await netif_receive(b.h.kernel, b.dev, [f]));

    const sum = (k: 'pass' | 'drop' | 'aborted' | 'tx' | 'redirect' | 'error'): number => reports.reduce((n, r) => n + r.fates[k], 0);
    expect(ra.fates).toEqual({ pass: sum('pass'), drop: sum('drop'), aborted: sum('aborted'), tx: sum('tx'), redirect: sum('redirect'), error: sum('error') });
    expect(ra.fates.pass).toBeGreaterThan(0);
    expect(ra.fates.drop).toBeGreaterThan(0);
    expect(ra.fates.tx).toBeGreaterThan(0);
    expect(ra.fates.error).toBe(REPEAT);
    const offload = reports.reduce((v, r) => {
      for (const [k, n] of Object.entries(r.verdicts.offload ?? {})) v[k] = (v[k] ?? 0) + n;
      return v;
    }, {} as Record<string, number>);
    expect(ra.verdicts.offload).toEqual(offload);
    // The frames each side took: the same bytes in the same order.
    const hex = (fs: readonly Uint8Array[]): string[] => fs.map((f) => Buffer.from(f).toString('hex'));
    expect(a.rx.stack.packets).toBe(ra.fates.pass);
    expect(hex(a.rx.stack.frames)).toEqual(hex(b.rx.stack.frames));
    expect(a.rx.wire.packets).toBe(ra.fates.tx);
    expect(hex(a.rx.wire.frames)).toEqual(hex(b.rx.wire.frames));
    expect({ ...a.rx.stats }).toEqual({ ...b.rx.stats });
    expect(a.rx.xdp.map((x) => ({ ...x }))).toEqual(b.rx.xdp.map((x) => ({ ...x })));
    expect(cardCounters(a.nic.pool.stats())).toEqual(cardCounters(b.nic.pool.stats()));
    expect(await backends(a.h, a.fd)).toEqual(await backends(b.h, b.fd));
  }, 180_000);
});

describe('NfpCorePool.rxBurst: a burst given up', () => {
  it('ETIMEDOUT leaves the pool refusing bursts (EIO): its frames could still complete into the rings', async () => {
    const h = await bootHost();
    hosts.push(h);
    // In process: the cores run only when the pool pumps them, so nothing completes before the deadline.
    const pool = await NfpCorePool.start(h.device!, inProcessCores(), { slots: SLOTS });
    pools.push(pool);
    const nn: NfpNet = { bar: h.device!.bars[0]!, ustore: h.device!.memory.ustore, mtu: 1500, pump: () => pool.pump() };
    await nfp_net_bpf_offload(nn, placed(DROP_UDP9), false, new NetlinkExtAck());
    const frames = Array.from({ length: 8 }, () => pk.udp4Frame({ dstPort: 9 }));
    const burst = new NfpRxBurst();
    await pool.rxBurst(frames, burst);
    expect(burst.n).toBe(8);
    await expect(pool.rxBurst(frames, burst, { timeoutMs: -1 })).rejects.toMatchObject({ errno: 'ETIMEDOUT' });
    await expect(pool.rxBurst(frames, burst)).rejects.toMatchObject({ errno: 'EIO', message: expect.stringContaining('the datapath must be restarted') });
  });
});
