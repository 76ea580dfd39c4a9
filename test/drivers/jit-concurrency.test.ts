// Map offload concurrency end to end: a clang-built program (test/progs/xdp_l4lb.o) goes through
// libbpf, BPF_PROG_LOAD with prog_ifindex (the verifier with the nfp hook, the NFP JIT), is attached in
// HW mode, and the card's 60 cores — in worker threads — run it on millions of packets, each doing a
// hash lookup and two atomic adds on its backend's counters in the NIC's memory, while the host, over
// bpf() and the control mailbox (the firmware's handler in its own worker), rewrites other backends in
// place, deletes and re-inserts others (their elements reused in the counters' chains), and reads
// everything. What must hold: every packet found its backend and was transmitted, the counters are
// exact, no read is torn, every update the host saw acknowledged is there afterwards.
// test/nic/cores.test.ts does the same with a hand-assembled counting image. Then the other thing that
// happens under traffic: programs from test/progs replaced on the card live (the firmware advertises
// NFP_NET_BPF_CAP_RELO), every frame getting one verdict. Nothing here times anything.

import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { loadObject } from '../../src/bpf/object.js';
import { XDP_FLAGS_HW_MODE, rtnl_setlink_xdp } from '../../src/kernel/net/dev-xdp.js';
import { netdev_rx, netif_receive } from '../../src/kernel/net/rx.js';
import { loadObjectIntoKernelAsync } from '../../src/libbpf/object.js';
import { startNicDatapath, type NicDatapath } from '../../src/scenario/nic.js';
import { loadEmu, runEmu } from '../kernel/emu-harness.js';
import { progObject } from '../oracle/kernel.js';
import * as pk from '../oracle/packets.js';
import { bootHost, sleep, u32, type TestHost } from './helpers.js';

const SLOTS = 512;
const FLOWS = 64;
const ROUNDS = 640; // each core replays the FLOWS templates this many times: 60 x 40960 = 2.46 M packets
const THREADS = 2;

const hosts: TestHost[] = [];
const nics: NicDatapath[] = [];
afterAll(async () => {
  for (const n of nics) await n.stop();
  for (const h of hosts) await h.shutdown();
});

// struct backend { __be32 saddr, daddr; __u64 bytes, packets; __u8 dmac[6], pad[2]; } — 32 bytes.
const f = (seq: number, key: number): number => (Math.imul(seq ^ 0x5bd1e995, 0x9e3779b1) + key) | 0;
const g = (seq: number, key: number): number => (Math.imul(seq + key, 0x85ebca6b) ^ (seq << 7)) | 0;

/** The initial backend of a slot (seq 0 is the layout the program's tunnel needs: 10.1.x.y). */
function backend(slot: number, seq = 0): Uint8Array {
  const v = new Uint8Array(32);
  const dv = new DataView(v.buffer);
  if (seq === 0) {
    v.set([10, 0, 0, 100], 0);
    v.set([10, 1, slot >> 8, slot & 0xff], 4);
    v.set([0x02, 0xbe, 0xef, 0, slot >> 8, slot & 0xff], 24);
  } else {
    // A host writer's value: each field derived from seq, so a mix of two writes shows.
    dv.setInt32(0, seq, true);
    dv.setInt32(4, f(seq, slot), true);
    dv.setInt32(24, g(seq, slot), true);
    dv.setUint16(28, seq & 0xffff, true);
  }
  return v;
}

describe('offloaded maps end to end: xdp_l4lb on 60 cores while the host writes, deletes and reads', () => {
  it('exact counters over millions of packets, no torn value, every acknowledged update kept', async () => {
    const h = await bootHost({ firmwareMode: 'worker', cmsgTimeoutMs: 10_000 });
    hosts.push(h);
    const nic = (await startNicDatapath(h, { mode: 'worker', threads: THREADS }))!;
    nics.push(nic);
    const path = progObject('xdp_l4lb');
    const lo = await loadObjectIntoKernelAsync(h.sys, loadObject(readFileSync(path), path), { ifindex: h.ifindex });
    const prog = lo.programs.find((p) => p.spec.name === 'xdp_l4lb')!.fd;
    const servers = lo.maps.find((m) => m.spec.name === 'servers')!.fd;
    expect(h.sys.progInfo(prog).ifindex).toBe(h.ifindex);
    expect(h.sys.mapInfo(servers).ifindex).toBe(h.ifindex);
    for (let slot = 0; slot < SLOTS; slot++) await h.sys.mapUpdateAsync({ map_fd: servers, key: u32(slot), value: backend(slot) });
    await rtnl_setlink_xdp(h.kernel, h.kernel.netdevs.dev_get_by_name('nfp0')!, { fd: prog, flags: XDP_FLAGS_HW_MODE });

    // The flows, and the slot each hashes to (the host interpreter's tunnel names the backend).
    const flows = Array.from({ length: FLOWS }, (_, i) =>
      pk.tcp4Frame({ src: `10.7.${i >> 3}.${(i & 7) + 1}`, srcPort: 2000 + 17 * i, dstPort: 80, flags: { ack: true }, payload: pk.patternPayload(70, i) }));
    const emu = loadEmu('xdp_l4lb');
    for (let slot = 0; slot < SLOTS; slot++) emu.sys.mapUpdate({ map_fd: emu.maps['servers']!, key: u32(slot), value: backend(slot) });
    const perSlot = new Map<number, { packets: number; bytes: number }>();
    for (const frame of flows) {
      const r = runEmu(emu, 'xdp_l4lb', frame, 'interpreter');
      expect(r.retval).toBe(3);
      const out = r.data_out!;
      const slot = (out[14 + 18]! << 8) | out[14 + 19]!; // outer daddr 10.1.hi.lo
      const e = perSlot.get(slot) ?? { packets: 0, bytes: 0 };
      e.packets += 60 * ROUNDS;
      e.bytes += 60 * ROUNDS * out.length;
      perSlot.set(slot, e);
    }
    const counterSlots = [...perSlot.keys()];
    // Slot 0 is the program's fallback: neither rewritten nor deleted.
    const free = Array.from({ length: SLOTS }, (_, s) => s).filter((s) => s !== 0 && !perSlot.has(s));
    const writerSlots = free.slice(0, 8);
    const otherSlots = free.slice(8, 40);

    let running = true;
    const problems: string[] = [];
    let reads = 0;
    let deleted = 0;
    const acked = new Map<number, number>();
    const check = (slot: number, v: Uint8Array, last: Map<number, bigint>): void => {
      const dv = new DataView(v.buffer, v.byteOffset);
      if (perSlot.has(slot)) {
        // The program only adds to the counters; everything else is the backend as set up.
        const want = backend(slot);
        if (Buffer.compare(v.subarray(0, 8), want.subarray(0, 8)) !== 0 || Buffer.compare(v.subarray(24), want.subarray(24)) !== 0) problems.push(`slot ${slot}: backend changed`);
        const packets = dv.getBigUint64(16, true);
        const bytes = dv.getBigUint64(8, true);
        if (packets > BigInt(perSlot.get(slot)!.packets) || bytes > BigInt(perSlot.get(slot)!.bytes)) problems.push(`slot ${slot}: counters beyond the packets sent: ${packets} ${bytes}`);
        if (packets < (last.get(slot) ?? 0n)) problems.push(`slot ${slot}: counter went back`);
        last.set(slot, packets);
      } else {
        const seq = dv.getInt32(0, true);
        if (seq === 0 || seq === 0x6400000a) return; // not rewritten yet (10.0.0.100 read little-endian)
        if (dv.getInt32(4, true) !== f(seq, slot) || dv.getInt32(24, true) !== g(seq, slot) || dv.getUint16(28, true) !== (seq & 0xffff)) problems.push(`torn value of slot ${slot}: seq ${seq}`);
        if (dv.getBigUint64(8, true) !== 0n || dv.getBigUint64(16, true) !== 0n) problems.push(`slot ${slot}: counters of a backend no packet reaches`);
      }
    };
    const reader = async (): Promise<void> => {
      const last = new Map<number, bigint>();
      while (running) {
        for (const s of [...counterSlots, ...writerSlots]) {
          check(s, await h.sys.mapLookupAsync({ map_fd: servers, key: u32(s) }), last);
          reads++;
        }
      }
    };
    const writer = async (): Promise<void> => {
      for (let seq = 1; running; seq++) {
        for (const s of writerSlots) {
          await h.sys.mapUpdateAsync({ map_fd: servers, key: u32(s), value: backend(s, seq), flags: 2 /* BPF_EXIST */ });
          acked.set(s, seq);
        }
      }
    };
    const deleter = async (): Promise<void> => {
      // All out, all back in: the firmware's free list hands each key another key's element, in
      // another chain — possibly a counter slot's — while the cores walk the chains.
      while (running) {
        for (const s of otherSlots) await h.sys.mapDeleteAsync({ map_fd: servers, key: u32(s) });
        deleted += otherSlots.length;
        for (const s of otherSlots) await h.sys.mapUpdateAsync({ map_fd: servers, key: u32(s), value: backend(s) });
        await sleep(1);
      }
    };

    const pool = nic.pool;
    pool.resetStats();
    const host = [reader(), reader(), writer(), deleter()];
    await pool.generate(flows, ROUNDS * FLOWS);
    running = false;
    await Promise.all(host);

    expect(problems.slice(0, 5)).toEqual([]);
    expect(reads).toBeGreaterThan(0);
    expect(deleted).toBeGreaterThan(0);
    expect(acked.size).toBe(writerSlots.length);
    const total = 60 * ROUNDS * FLOWS;
    const st = pool.stats();
    expect(st.packets).toBe(total);
    expect(st.errors).toBe(0);
    // Every packet found its backend on the first lookup and was tunnelled back out.
    expect(st.stats).toEqual([0, 0, total, 0]);
    expect([st.helpers.lookups, st.helpers.hits]).toEqual([total, total]);
    expect(st.perCore.every((c) => c.packets === ROUNDS * FLOWS)).toBe(true);
    for (const [slot, want] of perSlot) {
      const dv = new DataView((await h.sys.mapLookupAsync({ map_fd: servers, key: u32(slot) })).buffer);
      expect([slot, dv.getBigUint64(16, true), dv.getBigUint64(8, true)]).toEqual([slot, BigInt(want.packets), BigInt(want.bytes)]);
    }
    for (const s of writerSlots) {
      const dv = new DataView((await h.sys.mapLookupAsync({ map_fd: servers, key: u32(s) })).buffer);
      expect(dv.getInt32(0, true), `slot ${s}`).toBe(acked.get(s));
    }
    for (const s of otherSlots) expect(await h.sys.mapLookupAsync({ map_fd: servers, key: u32(s) })).toEqual(backend(s));
  }, 180_000);
});

describe('replacing a JIT-compiled program on the card while traffic flows (cores in worker threads)', () => {
  it('every frame gets exactly one verdict, from the old program or the new one, and the card counts it once', async () => {
    const h = await bootHost();
    hosts.push(h);
    const nic = (await startNicDatapath(h, { mode: 'worker', threads: THREADS }))!;
    nics.push(nic);
    const load = async (name: string): Promise<number> => {
      const path = progObject(name);
      const lo = await loadObjectIntoKernelAsync(h.sys, loadObject(readFileSync(path), path), { ifindex: h.ifindex });
      return lo.programs[0]!.fd;
    };
    const drop9 = await load('xdp_drop_udp9');
    const pass = await load('xdp_pass');
    const dev = h.kernel.netdevs.dev_get_by_name('nfp0')!;
    const attach = (fd: number): Promise<void> => rtnl_setlink_xdp(h.kernel, dev, { fd, flags: XDP_FLAGS_HW_MODE });
    await attach(drop9);
    netdev_rx(dev).up = true;
    const frames = [pk.udp4Frame({ dstPort: 9 }), pk.udp4Frame({ dstPort: 9, src: '10.0.0.9' })];
    const gen0 = nic.pool.imageGen;
    nic.pool.resetStats();
    let sent = 0;
    let passed = 0;
    let dropped = 0;
    let stop = false;
    const traffic = (async () => {
      while (!stop) {
        const r = await netif_receive(h.kernel, dev, frames, { repeat: 1024 });
        sent += r.frames;
        passed += r.fates.pass;
        dropped += r.fates.drop;
        expect(r.fates.aborted + r.fates.error).toBe(0);
      }
    })();
    // Each replacement waits until traffic has gone through the program before it (polling counts).
    for (let i = 0; i < 8; i++) {
      const seen = sent;
      while (sent === seen) await sleep(1);
      await attach(i % 2 === 0 ? pass : drop9);
    }
    const seen = sent;
    while (sent === seen) await sleep(1);
    stop = true;
    await traffic;
    // Every replacement was a live reload of the image (nfp_net_bpf_offload with the old one running).
    expect(nic.pool.imageGen - gen0).toBe(8);
    expect(sent).toBeGreaterThan(0);
    expect(passed + dropped).toBe(sent);
    expect(passed).toBeGreaterThan(0);
    expect(dropped).toBeGreaterThan(0);
    const st = nic.pool.stats();
    // The card counted each frame once, with the verdict the host saw.
    expect(st.packets).toBe(sent);
    expect([st.stats[0], st.stats[1], st.stats[2], st.stats[3]]).toEqual([passed, dropped, 0, 0]);
    expect(st.errors).toBe(0);
  }, 60_000);
});

