// The firmware datapath in its deterministic in-process mode: packets taken from the RX rings into CTM,
// hand-assembled images that follow the JIT<->firmware contract run on them, verdicts, output packets,
// statistics and cycles written back; the firmware's helpers on real offloaded maps (the driver's
// control messages on the other side); the driver's load path (nfp_net_bpf_offload); bad input of
// every kind, which costs a packet and never a core; and an image replaced while packets flow.

import { afterAll, describe, expect, it } from 'vitest';
import { NFP_FW_PKT_BUSY, NFP_FW_PKT_STALL_CTM_ACCESSES, inProcessCores, type InProcessCores } from '../../firmware/datapath.js';
import { NFP_MAP_USE_ATOMIC_CNT, nfp_bpf_map_mark_used_one, nfp_bpf_map_of } from '../../src/drivers/nfp/offload.js';
import {
  nfp_bpf_check_mtu, nfp_bpf_test_run, nfp_net_bpf_offload, nfp_net_set_datapath, nfpPlacedProg, type NfpNet, type NfpProgLoad,
} from '../../src/drivers/nfp/xdp.js';
import { NetlinkExtAck } from '../../src/kernel/net/extack.js';
import { buildImage, assemble } from '../../src/nic/asm.js';
import { decodeBpfEvent } from '../../src/nic/ccm.js';
import { nfpCoreCycles } from '../../src/nic/core.js';
import {
  D_LEN, NfpCorePool, R_PROD, ringHdrOff, slotOff, type NfpCorePoolOptions, type NfpPacketResult,
} from '../../src/nic/cores.js';
import { NFP_MEM_LATENCY } from '../../src/nic/isa.js';
import { BPF_MAP_TYPE_ARRAY, bootHost, expectErrno, imageVariant, offloadMap, removeImageVariants, u32, type TestHost } from '../drivers/helpers.js';
import {
  ABORT, BAD_PV, BAD_VERDICT, BPF_START, COUNTER, DELETE, DROP_UDP9, EVENT, FAULT, PASS_TRIM4, RUNAWAY, TX_PREPEND20, UPDATE, V_DROP, V_PASS,
  placed, udpFrame,
} from './datapath-images.js';

const hosts: TestHost[] = [];
const pools: NfpCorePool[] = [];
afterAll(async () => {
  await Promise.all(pools.map((p) => p.stop()));
  await Promise.all(hosts.map((h) => h.shutdown()));
  removeImageVariants();
});

interface Rig {
  readonly h: TestHost;
  readonly pool: NfpCorePool;
  readonly nn: NfpNet;
  readonly events: Uint8Array[];
  readonly runner: InProcessCores;
  load(prog: NfpProgLoad, old?: boolean): Promise<NetlinkExtAck>;
}

async function rig(opts: NfpCorePoolOptions & { firmware?: string; groups?: number } = {}): Promise<Rig> {
  const h = await bootHost(opts.firmware !== undefined ? { firmware: opts.firmware } : {});
  hosts.push(h);
  const events: Uint8Array[] = [];
  let runner: InProcessCores | undefined;
  const pool = await NfpCorePool.start(h.device!, inProcessCores({ groups: opts.groups ?? 1, onStart: (r) => { runner = r; } }), { onEvent: (m) => events.push(m), ...opts });
  pools.push(pool);
  const nn: NfpNet = { bar: h.device!.bars[0]!, ustore: h.device!.memory.ustore, mtu: 1500, pump: () => pool.pump(), log: h.nfp!.log };
  return {
    h, pool, nn, events, runner: runner!,
    async load(prog, old = false) {
      const ext = new NetlinkExtAck();
      await nfp_net_bpf_offload(nn, prog, old, ext);
      return ext;
    },
  };
}

const tcpFrame = (dport: number): Uint8Array => { const p = udpFrame(dport); p[23] = 6; return p; };
const ipv6Frame = (): Uint8Array => { const p = udpFrame(9); p[12] = 0x86; p[13] = 0xdd; return p; };

describe('the datapath runs an image on packets from the RX rings', () => {
  it('parse-and-drop: verdicts, the packets passed, statistics 0-3 and the cycles of each path', async () => {
    const r = await rig();
    await r.load(placed(DROP_UDP9));
    const frames = [udpFrame(9), udpFrame(10), tcpFrame(9), udpFrame(9, 20), ipv6Frame(), udpFrame(9, 1500)];
    const res = await r.pool.run(frames);
    expect(res.map((x) => x.verdict)).toEqual(['XDP_DROP', 'XDP_PASS', 'XDP_PASS', 'XDP_PASS', 'XDP_PASS', 'XDP_DROP']);
    expect(res.map((x) => x.raw)).toEqual([V_DROP, V_PASS, V_PASS, V_PASS, V_PASS, V_DROP]);
    expect(res.every((x) => x.status === 'ok')).toBe(true);
    // Passed packets come back as they went in; dropped ones do not come back.
    res.forEach((x, i) => expect(x.packet, `frame ${i}`).toEqual(x.action === 'pass' ? frames[i] : null));
    // Round-robin over the cores, each core's contexts in turn.
    expect(res.map((x) => x.core)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(res.map((x) => x.ctx)).toEqual([0, 0, 0, 0, 0, 0]);
    // The UDP path waits for two CTM reads plus the firmware's own accesses; the runt reads nothing.
    const ctm = NFP_MEM_LATENCY.ctm;
    expect(res[0]!.stall).toBe(2 * ctm + NFP_FW_PKT_STALL_CTM_ACCESSES * ctm);
    expect(res[3]!.stall).toBe(NFP_FW_PKT_STALL_CTM_ACCESSES * ctm);
    expect(res[3]!.busy).toBeGreaterThan(NFP_FW_PKT_BUSY);
    expect(res[0]!.busy).toBeGreaterThan(res[3]!.busy);
    expect(res[0]!.busy).toBe(res[5]!.busy);

    const st = r.pool.stats();
    expect(st.packets).toBe(6);
    expect(st.stats).toEqual([4, 2, 0, 0]);
    expect(st.errors).toBe(0);
    expect(st.perCore.slice(0, 6).map((c) => c.packets)).toEqual([1, 1, 1, 1, 1, 1]);
    expect(st.perCore[0]!.bytesIn).toBe(64);
    expect(st.perCore[1]!.bytesOut).toBe(64);
    expect(st.perCore[0]!.busy[0]).toBe(res[0]!.busy);
    expect(st.perCore[0]!.cycles).toBe(nfpCoreCycles(res[0]!.busy, res[0]!.stall, 4));
    const total = res.reduce((s, x) => s + nfpCoreCycles(x.busy, x.stall, 4), 0);
    expect(st.cyclesPerPacket).toBeCloseTo(total / 6, 9);
    expect(st.modeledPps).toBeCloseTo((60 * 800e6) / st.cyclesPerPacket, 0);
  });

  it('uses the four contexts of a core in turn, and a core keeps ring order', async () => {
    const r = await rig();
    await r.load(placed(DROP_UDP9));
    const frames = Array.from({ length: 10 }, (_, i) => udpFrame(i % 2 === 0 ? 9 : 100 + i));
    const res = await r.pool.run(frames, { core: 7 });
    expect(res.map((x) => x.core)).toEqual(new Array(10).fill(7));
    expect(res.map((x) => x.ctx)).toEqual([0, 1, 2, 3, 0, 1, 2, 3, 0, 1]);
    expect(res.map((x) => x.tag)).toEqual([...Array(10).keys()]);
    expect(res.map((x) => x.verdict)).toEqual(frames.map((_, i) => (i % 2 === 0 ? 'XDP_DROP' : 'XDP_PASS')));
    // Contexts 0 and 1 ran three packets, 2 and 3 two: the per-context counters say so.
    const c7 = r.pool.stats().perCore[7]!;
    const per = [0, 1, 2, 3].map((t) => res.filter((x) => x.ctx === t).reduce((s, x) => s + x.busy, 0));
    expect(c7.busy).toEqual(per);
  });

  it('XDP_TX after adjust_head: the grown packet is written back, the frame past the split point kept', async () => {
    const r = await rig({ maxFrame: 4096, slots: 16 });
    await r.load(placed(TX_PREPEND20));
    const small = udpFrame(53, 60);
    const big = udpFrame(53, 3000);
    const [a, b] = await r.pool.run([small, big]);
    expect(a!.verdict).toBe('XDP_TX');
    expect(a!.packet).toEqual(Uint8Array.from([...small.subarray(0, 20), ...small]));
    // Only the first INL_MTU*64-32 = 2016 bytes sat in CTM; the rest follows unchanged.
    expect(b!.packet).toEqual(Uint8Array.from([...big.subarray(0, 20), ...big]));
    expect(r.pool.stats().stats).toEqual([0, 0, 2, 0]);
    await r.load(placed(PASS_TRIM4), true);
    const [c] = await r.pool.run([small]);
    expect(c!.verdict).toBe('XDP_PASS');
    expect(c!.packet).toEqual(small.subarray(0, 56));
  });

  it('gives the same verdicts, packets and cycles on the interpreter and the JavaScript engine', async () => {
    const frames = [udpFrame(9), udpFrame(10), tcpFrame(9), udpFrame(9, 20), ipv6Frame(), udpFrame(9, 1400), udpFrame(3), udpFrame(4)];
    const images = [DROP_UDP9, TX_PREPEND20, PASS_TRIM4, ABORT, BAD_PV];
    const outcome = async (engine: 'js' | 'interpreter'): Promise<unknown[]> => {
      const r = await rig({ engine });
      const fd = await offloadMap(r.h, { value_size: 16, max_entries: 8 });
      const tid = nfp_bpf_map_of(r.h.kernel.mapOf(fd, 'test') as never).tid;
      for (const k of [3, 9]) await r.h.sys.mapUpdateAsync({ map_fd: fd, key: u32(k), value: new Uint8Array(16) });
      const all: unknown[] = [];
      let old = false;
      for (const img of [...images, COUNTER(tid), UPDATE(tid), DELETE(tid)]) {
        await r.load(placed(img), old);
        old = true;
        const res = await r.pool.run(frames);
        all.push(res.map((x) => ({ ...x, packet: x.packet === null ? null : [...x.packet] })));
      }
      all.push(r.pool.stats().perCore.map((c) => [c.busy, c.stall, c.stats]));
      return all;
    };
    const js = await outcome('js');
    const interp = await outcome('interpreter');
    expect(js).toEqual(interp);
  });
});

describe('the firmware helpers on offloaded maps', () => {
  async function withMap(r: Rig, attr: Parameters<typeof offloadMap>[1] = {}, atomic = true): Promise<{ fd: number; tid: number }> {
    const fd = await offloadMap(r.h, { value_size: 16, max_entries: 64, ...attr });
    const m = nfp_bpf_map_of(r.h.kernel.mapOf(fd, 'test') as never);
    // What the verifier's device hook records for an image that adds to these words.
    if (atomic) for (const off of [0, 8, 12]) expect(nfp_bpf_map_mark_used_one(m, off, NFP_MAP_USE_ATOMIC_CNT)).toBeNull();
    return { fd, tid: m.tid };
  }
  const counters = async (r: Rig, fd: number, k: number): Promise<[number, bigint]> => {
    const dv = new DataView((await r.h.sys.mapLookupAsync({ map_fd: fd, key: u32(k) })).buffer);
    return [dv.getUint32(0, true), dv.getBigUint64(8, true)];
  };

  it('map_lookup_elem + atomic adds count every packet of the keys present (hash and array maps)', async () => {
    const r = await rig();
    const { fd, tid } = await withMap(r);
    for (const k of [53, 80]) await r.h.sys.mapUpdateAsync({ map_fd: fd, key: u32(k), value: new Uint8Array(16) });
    await r.load(placed(COUNTER(tid)));
    const frames = [...Array(200)].map((_, i) => udpFrame([53, 80, 443][i % 3]!));
    const res = await r.pool.run(frames);
    expect(res.filter((x) => x.verdict === 'XDP_DROP').length).toBe(134);
    expect(await counters(r, fd, 53)).toEqual([67, 67n]);
    expect(await counters(r, fd, 80)).toEqual([67, 67n]);
    await expectErrno(r.h.sys.mapLookupAsync({ map_fd: fd, key: u32(443) }), 'ENOENT');
    const s = r.pool.stats();
    expect(s.helpers.lookups).toBe(200);
    expect(s.helpers.hits).toBe(134);
    // A hash lookup waits for EMEM twice; a hit adds two atomic adds (EMEM) to the path.
    const hit = res.find((x) => x.verdict === 'XDP_DROP')!;
    const miss = res.find((x) => x.verdict === 'XDP_PASS')!;
    expect(hit.stall - miss.stall).toBe(2 * NFP_MEM_LATENCY.emem);

    const arr = await withMap(r, { map_type: BPF_MAP_TYPE_ARRAY, max_entries: 100 });
    await r.load(placed(COUNTER(arr.tid)), true);
    const res2 = await r.pool.run([udpFrame(7), udpFrame(99), udpFrame(100), udpFrame(7)]);
    expect(res2.map((x) => x.verdict)).toEqual(['XDP_DROP', 'XDP_DROP', 'XDP_PASS', 'XDP_DROP']);
    expect(await counters(r, arr.fd, 7)).toEqual([2, 2n]);
    expect(await counters(r, arr.fd, 99)).toEqual([1, 1n]);
  });

  it('map_update_elem and map_delete_elem from the datapath, with the errno a program sees', async () => {
    const r = await rig();
    const { fd, tid } = await withMap(r, { value_size: 8 }, false);
    await r.load(placed(UPDATE(tid)));
    const [a] = await r.pool.run([udpFrame(77)]);
    expect(a!.verdict).toBe('XDP_PASS');
    const v = new DataView((await r.h.sys.mapLookupAsync({ map_fd: fd, key: u32(77) })).buffer);
    expect([v.getUint32(0, true), v.getUint32(4, true)]).toEqual([154, 0x12345678]);
    // BPF_NOEXIST on a key that exists: -EEXIST, so the image drops.
    await r.load(placed(UPDATE(tid, 1)), true);
    const [b, c] = await r.pool.run([udpFrame(77), udpFrame(78)]);
    expect([b!.verdict, c!.verdict]).toEqual(['XDP_DROP', 'XDP_PASS']);
    await r.load(placed(DELETE(tid)), true);
    const [d, e] = await r.pool.run([udpFrame(77), udpFrame(77)]);
    expect([d!.verdict, e!.verdict]).toEqual(['XDP_PASS', 'XDP_DROP']);
    await expectErrno(r.h.sys.mapLookupAsync({ map_fd: fd, key: u32(77) }), 'ENOENT');
    const s = r.pool.stats().helpers;
    expect([s.updates, s.deletes]).toEqual([3, 2]);
  });

  it('perf_event_output sends a BPF_EVENT message with the packet head and the data', async () => {
    const r = await rig();
    await r.load(placed(EVENT(5)));
    const f = udpFrame(4242);
    const [res] = await r.pool.run([f]);
    expect(res!.verdict).toBe('XDP_DROP');
    expect(r.events.length).toBe(1);
    const ev = decodeBpfEvent(r.events[0]!);
    expect(ev.cpu_id).toBe(0xffffffff);
    expect(ev.map_ptr).toBe(5n);
    expect([ev.pkt_size, ev.data_size]).toEqual([14, 8]);
    expect([...ev.data.subarray(0, 14)]).toEqual([...f.subarray(0, 14)]);
    expect([...ev.data.subarray(16, 24)]).toEqual([0xef, 0xbe, 0xad, 0xde, 4242 & 0xff, 4242 >> 8, 0, 0]);
    expect(r.pool.stats().helpers.events).toBe(1);
  });
});

describe('bad input costs a packet, never a core', () => {
  it('malformed and oversize ring entries are counted and dropped', async () => {
    const r = await rig();
    await r.load(placed(DROP_UDP9));
    const res = await r.pool.run([new Uint8Array(0), new Uint8Array(13), udpFrame(10, 2049), udpFrame(10)], { core: 2 });
    expect(res.map((x) => x.status)).toEqual(['malformed', 'malformed', 'oversize', 'ok']);
    expect(res.map((x) => x.action)).toEqual(['drop', 'drop', 'drop', 'pass']);
    // A descriptor whose length word is garbage (negative, huge), written straight into the ring.
    const l = r.pool.layout;
    const i32 = new Int32Array(r.pool.shared.sab);
    const rh = ringHdrOff(l, 4) >> 2;
    for (const bad of [-1, 0x7fffffff, -0x80000000]) {
      const prod = i32[rh + R_PROD]!;
      i32[(slotOff(l, 4, prod & (l.slots - 1)) >> 2) + D_LEN] = bad;
      Atomics.store(i32, rh + R_PROD, prod + 1);
    }
    r.pool.pump();
    const c4 = r.pool.stats().perCore[4]!;
    expect([c4.errors.malformed, c4.errors.oversize, c4.packets]).toEqual([2, 1, 3]);
    const c2 = r.pool.stats().perCore[2]!;
    expect([c2.errors.malformed, c2.errors.oversize, c2.stats[0]]).toEqual([2, 1, 1]);
  });

  it('a fault, a runaway image, a bad verdict and a bad packet vector each drop the packet; the cores go on', async () => {
    const r = await rig({ maxCycles: 20_000 });
    const cases: [string, string, string][] = [
      [FAULT, 'fault', 'mul_step 32x32_step1 out of sequence'],
      [RUNAWAY, 'fault', 'after 20000 cycles'],
      [BAD_VERDICT, 'bad-verdict', ''],
      [BAD_PV, 'bad-pv', ''],
      [ABORT, 'ok', ''],
    ];
    let old = false;
    for (const [img, status, msg] of cases) {
      await r.load(placed(img), old);
      old = true;
      const res = await r.pool.run([udpFrame(9), udpFrame(10)]);
      expect(res.map((x) => x.status), img).toEqual([status, status]);
      expect(res.map((x) => x.action)).toEqual(['drop', 'drop']);
      if (msg !== '') expect(r.pool.lastError()).toContain(msg);
    }
    const s = r.pool.stats();
    expect(s.stats[3]).toBe(2); // XDP_ABORTED
    expect(s.helpers.faults).toBe(4);
    await r.load(placed(DROP_UDP9), true);
    expect((await r.pool.run([udpFrame(9), udpFrame(10)])).map((x) => x.verdict)).toEqual(['XDP_DROP', 'XDP_PASS']);
  });
});

describe('the driver loads, replaces and unloads images (nfp_net_bpf_offload)', () => {
  it('without a program every packet passes untouched; unload goes back to that', async () => {
    const r = await rig();
    const f = udpFrame(9);
    expect((await r.pool.run([f]))[0]).toMatchObject({ status: 'no-prog', verdict: 'XDP_PASS', packet: f, raw: 0 });
    await r.load(placed(DROP_UDP9));
    expect((await r.pool.run([f]))[0]).toMatchObject({ status: 'ok', verdict: 'XDP_DROP' });
    await nfp_net_bpf_offload(r.nn, null, true, new NetlinkExtAck());
    expect((await r.pool.run([f]))[0]).toMatchObject({ status: 'no-prog', verdict: 'XDP_PASS' });
    expect(r.pool.stats().noProg).toBe(2);
  });

  it('refuses what the vNIC cannot take, with the kernel errno and extack', async () => {
    const r = await rig();
    const nops = (n: number): NfpProgLoad => nfpPlacedProg(buildImage(assemble(Array(n).fill('nop').join('\n'))), { start: BPF_START });
    const tryLoad = async (p: NfpProgLoad, old = false): Promise<[string, string | undefined]> => {
      const ext = new NetlinkExtAck();
      try {
        await nfp_net_bpf_offload(r.nn, p, old, ext);
        return ['ok', ext._msg];
      } catch (e) {
        return [(e as { errno: string }).errno, ext._msg];
      }
    };
    expect(await tryLoad(nops(7929))).toEqual(['EOPNOTSUPP', 'nfp: program too long']);
    expect(await tryLoad(placed(DROP_UDP9, { stack_size: 513 }))).toEqual(['EOPNOTSUPP', 'nfp: stack too large']);
    const far = placed(DROP_UDP9, { max_pkt_offset: 3000 });
    expect(await tryLoad(far)).toEqual(['ok', undefined]); // at MTU 1500 the program cannot read that far
    const jumbo: NfpNet = { ...r.nn, mtu: 9000 };
    await nfp_net_bpf_offload(r.nn, null, true, new NetlinkExtAck());
    await expect(nfp_net_bpf_offload(jumbo, far, false, new NetlinkExtAck())).rejects.toMatchObject({ errno: 'EOPNOTSUPP' });
    // An image the firmware cannot run: a branch to nowhere. The reconfig fails: EIO.
    const broken = placed('br[.5000]');
    expect(await tryLoad(broken)).toEqual(['EIO', 'nfp: FW command error while loading BPF']);
    expect(r.pool.lastError()).toMatch(/loading BPF: .*branch to \.5000/);
    expect(r.h.dmesg.has('Reconfig error')).toBe(true);
    // Loaded, and loading again without saying it replaces: EBUSY.
    expect(await tryLoad(placed(DROP_UDP9))).toEqual(['ok', undefined]);
    expect((await tryLoad(placed(DROP_UDP9)))[0]).toBe('EBUSY');
    // An MTU change that would let the program read past the split point is refused.
    expect(() => nfp_bpf_check_mtu(r.nn, far, 9000)).toThrow(/beyond hardware packet boundary/);
    expect(() => nfp_bpf_check_mtu(r.nn, far, 1500)).not.toThrow();
  });

  it('live replacement needs NFP_NET_BPF_CAP_RELO: EBUSY and "FW does not support live reload" without it', async () => {
    const fw = imageVariant('nfp-bpf-60c', (doc) => {
      const vnic = doc['vnic'] as { bpf: Record<string, unknown> };
      delete vnic.bpf['cap'];
      doc['name'] = 'nfp-bpf-60c-norelo';
    });
    const r = await rig({ firmware: fw });
    await r.load(placed(DROP_UDP9));
    const ext = new NetlinkExtAck();
    await expectErrno(nfp_net_bpf_offload(r.nn, placed(PASS_TRIM4), true, ext), 'EBUSY');
    expect(ext._msg).toBe('nfp: FW does not support live reload');
    // The old program still runs.
    expect((await r.pool.run([udpFrame(9)]))[0]!.verdict).toBe('XDP_DROP');
    // Unloading and loading anew is allowed.
    await nfp_net_bpf_offload(r.nn, null, true, new NetlinkExtAck());
    await r.load(placed(PASS_TRIM4));
    expect((await r.pool.run([udpFrame(9)]))[0]!.packet!.length).toBe(60);
  });
});

describe('images change only between batches', () => {
  it('a replacement in the middle of a stream: every packet gets exactly one verdict, old or new (three groups)', async () => {
    const r = await rig({ groups: 3, slots: 32 });
    const ALL_DROP = `br[.16], defer[1]\nimmed[gprA_0, 0x22, <<16]`;
    const ALL_TX = `br[.16], defer[1]\nimmed[gprA_0, 0x44, <<16]`;
    await r.load(placed(ALL_DROP));
    const oldGen = r.pool.imageGen;
    // Drive by hand: post, step every group once, harvest; the replacement starts half-way and is
    // acknowledged by each group at its own next batch boundary.
    const nn: NfpNet = { ...r.nn, pump: undefined };
    const N = 30_000;
    const results: NfpPacketResult[] = [];
    let posted = 0;
    let replacing: Promise<void> | undefined;
    let replaced = false;
    const cores = r.pool.cores;
    while (results.length < N || !replaced) {
      for (let k = 0; k < 400 && posted < N; k++) if (r.pool.post(posted % cores, udpFrame(9), posted)) posted++;
      for (const g of r.runner.groups) g.poll();
      for (let c = 0; c < cores; c++) for (let n = r.pool.completed(c); n > 0; n--) results.push(r.pool.harvest(c));
      if (replacing === undefined && results.length >= N / 2) {
        replacing = nfp_net_bpf_offload(nn, placed(ALL_TX), true, new NetlinkExtAck());
        void replacing.then(() => { replaced = true; });
      }
      await new Promise((res) => setImmediate(res));
    }
    await replacing;
    const newGen = r.pool.imageGen;
    expect(newGen).toBeGreaterThan(oldGen);
    expect(results.length).toBe(N);
    expect(new Set(results.map((x) => x.tag)).size).toBe(N);
    for (const x of results) {
      expect([oldGen, newGen]).toContain(x.gen);
      expect(x.verdict).toBe(x.gen === oldGen ? 'XDP_DROP' : 'XDP_TX');
    }
    // Per core the switch happens once: no old verdict after a new one.
    for (let c = 0; c < cores; c++) {
      const gens = results.filter((x) => x.core === c).sort((a, b) => a.tag - b.tag).map((x) => x.gen);
      const firstNew = gens.indexOf(newGen);
      if (firstNew >= 0) expect(gens.slice(firstNew).every((g) => g === newGen), `core ${c}`).toBe(true);
    }
    const drops = results.filter((x) => x.verdict === 'XDP_DROP').length;
    expect(drops).toBeGreaterThan(0);
    expect(drops).toBeLessThan(N);
    const s = r.pool.stats();
    expect(s.stats[1] + s.stats[2]).toBe(N);
    expect(s.stats[1]).toBe(drops);
    // Every group translated each image once.
    expect(s.helpers.compiles).toBe(2 * 3);
  });
});

describe('BPF_PROG_TEST_RUN on the NIC (nfp_bpf_test_run)', () => {
  it('runs a program on a private view of the card: its maps are the card\'s, the live datapath goes on', async () => {
    const r = await rig();
    const fd = await offloadMap(r.h, { value_size: 16, max_entries: 8 });
    const m = nfp_bpf_map_of(r.h.kernel.mapOf(fd, 'test') as never);
    for (const off of [0, 8, 12]) expect(nfp_bpf_map_mark_used_one(m, off, NFP_MAP_USE_ATOMIC_CNT)).toBeNull();
    await r.h.sys.mapUpdateAsync({ map_fd: fd, key: u32(53), value: new Uint8Array(16) });
    const dev = r.h.device!.shared();
    const run = (prog: NfpProgLoad, frame: Uint8Array, extra: object = {}): Promise<{ retval: number; duration: number; data_out?: Uint8Array; data_size_out: number }> =>
      nfp_bpf_test_run(dev, 0, 1500, prog, { prog_fd: 0, data_in: frame, ...extra });
    await expectErrno(run(placed(DROP_UDP9), udpFrame(9)), 'ENOTSUPP');
    nfp_net_set_datapath(r.nn.bar, { pump: r.nn.pump, testRunStarter: inProcessCores() });
    // The live datapath runs DROP_UDP9; the test runs use other images on the same card.
    await r.load(placed(DROP_UDP9));
    const drop = await run(placed(COUNTER(m.tid)), udpFrame(53), { repeat: 5 });
    expect(drop.retval).toBe(1); // XDP_DROP: the key is there
    expect(drop.data_out).toBeUndefined();
    const v = new DataView((await r.h.sys.mapLookupAsync({ map_fd: fd, key: u32(53) })).buffer);
    expect([v.getUint32(0, true), v.getBigUint64(8, true)]).toEqual([5, 5n]);
    expect((await run(placed(COUNTER(m.tid)), udpFrame(54))).retval).toBe(2); // XDP_PASS: no such key
    const f = udpFrame(80, 60);
    const tx = await run(placed(TX_PREPEND20), f);
    expect(tx.retval).toBe(3);
    expect(tx.data_out).toEqual(Uint8Array.from([...f.subarray(0, 20), ...f]));
    expect(tx.data_size_out).toBe(80);
    // Modeled nanoseconds of one run: its busy and stall cycles at the firmware's 800 MHz.
    const [live] = await r.pool.run([udpFrame(9)]);
    const one = await run(placed(DROP_UDP9), udpFrame(9));
    expect(one.duration).toBe(Math.round(((live!.busy + live!.stall) * 1000) / 800));
    expect((await run(placed(ABORT), udpFrame(9))).retval).toBe(0);
    expect((await run(placed(FAULT), udpFrame(9))).retval).toBe(0);
    await expectErrno(run(placed(TX_PREPEND20), f, { data_size_out: 64 }), 'ENOSPC');
    await expectErrno(run(placed(DROP_UDP9), new Uint8Array(10)), 'EINVAL');
    // The card's own datapath never saw any of it.
    expect(r.pool.stats().packets).toBe(1);
    expect((await r.pool.run([udpFrame(9), udpFrame(53)])).map((x) => x.verdict)).toEqual(['XDP_DROP', 'XDP_PASS']);
  });
});
