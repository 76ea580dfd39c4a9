// Tail calls on the NIC and partial offload end to end (nfp-emu, PAPER-ONLY: the seed paper's future
// work). clang-built objects go through libbpf, the bpf() syscall with map_ifindex / prog_ifindex (the
// verifier with the nfp hook, the NFP JIT), their prog arrays are filled from .values (each program
// linked into the code store), the entry program is attached in HW mode, and frames go through the
// card's cores and the driver's receive path. What comes out must be what the same chain gives on the
// host interpreter: verdicts, packets and map contents — a chain all on the NIC, and one split between
// the NIC and the host. Then the prog array changes while traffic flows on cores in worker threads.

import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadObject } from '../../src/bpf/object.js';
import { nfp_net_partial_stats } from '../../src/drivers/nfp/dp.js';
import { Kernel } from '../../src/kernel/kernel.js';
import { XDP_FLAGS_HW_MODE, rtnl_setlink_xdp } from '../../src/kernel/net/dev-xdp.js';
import { netdev_rx, netif_receive } from '../../src/kernel/net/rx.js';
import type { BpfProg } from '../../src/kernel/prog.js';
import { BpfSyscall } from '../../src/kernel/syscall.js';
import { loadObjectIntoKernel, loadObjectIntoKernelAsync, type LoadedObject } from '../../src/libbpf/object.js';
import { startNicDatapath, type NicDatapath } from '../../src/scenario/nic.js';
import { progObject } from '../oracle/kernel.js';
import * as pk from '../oracle/packets.js';
import { bootHost, u32, type TestHost } from './helpers.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
/** A u64 counter from a dumped value. */
const u64 = (v: string | undefined): number => Number(Buffer.from(v ?? '', 'hex').readBigUInt64LE(0));
const XDP_NAMES = ['XDP_ABORTED', 'XDP_DROP', 'XDP_PASS', 'XDP_TX'];
const obj = (name: string): ReturnType<typeof loadObject> => {
  const path = progObject(name);
  return loadObject(readFileSync(path), path);
};
const fdOf = (o: LoadedObject, kind: 'programs' | 'maps', name: string): number => {
  const x = kind === 'programs' ? o.programs.find((p) => p.spec.name === name) : o.maps.find((m) => m.spec.name === name);
  if (x === undefined) throw new Error(`no ${name}`);
  return x.fd;
};

/** The host reference: the objects loaded for the host alone, run by the interpreter. */
class HostRef {
  readonly k = new Kernel({ cpus: 2, prandomSeed: 1 });
  readonly sys = new BpfSyscall(this.k);

  load(name: string): LoadedObject {
    return loadObjectIntoKernel(this.sys, obj(name));
  }

  run(prog: number, frame: Uint8Array): { retval: number; data: Uint8Array } {
    const p = this.k.fds.get(prog)!.obj as BpfProg;
    const image = p.jited;
    p.jited = undefined;
    try {
      const r = this.sys.progTestRun({ prog_fd: prog, data_in: frame, repeat: 1 });
      return { retval: r.retval, data: r.data_out! };
    } finally {
      p.jited = image;
    }
  }

  /** Every element of a map as hex, by key. */
  dump(map: number): Record<string, string> {
    const out: Record<string, string> = {};
    for (let k: Uint8Array | null = null; ;) {
      try {
        k = this.sys.mapGetNextKey({ map_fd: map, key: k });
      } catch {
        return out;
      }
      out[hex(k)] = hex(this.sys.mapLookup({ map_fd: map, key: k }));
    }
  }
}

/** Every element of a map of the emulated host with the NIC (offloaded or not), by key. */
async function dumpMap(h: TestHost, map: number): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (let k: Uint8Array | null = null; ;) {
    try {
      k = await h.sys.mapGetNextKeyAsync({ map_fd: map, key: k });
    } catch {
      return out;
    }
    out[hex(k)] = hex(await h.sys.mapLookupAsync({ map_fd: map, key: k }));
  }
}

async function attachHw(h: TestHost, fd: number): Promise<void> {
  await rtnl_setlink_xdp(h.kernel, h.kernel.netdevs.dev_get_by_name('nfp0')!, { fd, flags: XDP_FLAGS_HW_MODE });
}

function frames(): Uint8Array[] {
  return [
    pk.udp4Frame({ dstPort: 9 }),
    pk.udp4Frame({ dstPort: 53, payload: pk.patternPayload(40) }),
    pk.udp4Frame({ src: '10.9.9.9', dstPort: 7, payload: pk.patternPayload(20, 2) }),
    pk.udp4Frame({ dstPort: 4242 }),
    pk.udp4Frame({ dstPort: 4243 }),
    pk.udp4Frame({ dstPort: 5353, src: '10.1.1.1' }),
    pk.udp4Frame({ dstPort: 53, ttl: 1 }),
    pk.tcp4Frame({ dstPort: 23, flags: { syn: true } }),
    pk.tcp4Frame({ dstPort: 443, payload: pk.patternPayload(100, 3) }),
    pk.icmp4Frame({}),
    pk.udp6Frame({ dstPort: 9 }),
    pk.tcp6Frame({ dstPort: 22, ttl: 1 }),
    pk.udp4Frame({ vlans: [100], dstPort: 7 }),
    pk.arpFrame({}),
    pk.udp4FrameOfLength(1514, { dstPort: 4000 }),
  ];
}

describe('a tail-call chain on the NIC cores (in-process) against the host interpreter', () => {
  let h: TestHost;
  let nic: NicDatapath;
  beforeAll(async () => {
    h = await bootHost();
    nic = (await startNicDatapath(h, { mode: 'in-process' }))!;
  });
  afterAll(async () => {
    await nic?.stop();
    await h?.shutdown();
  });

  it('xdp_tc_chain: the same verdicts, packets and counters; 33 tail calls at most', async () => {
    const lo = await loadObjectIntoKernelAsync(h.sys, obj('xdp_tc_chain'), { ifindex: h.ifindex });
    // libbpf filled the prog array from .values: five programs linked into the code store.
    expect(h.nfp!.bpf!.tc!.linked).toHaveLength(5);
    await attachHw(h, fdOf(lo, 'programs', 'tc_entry'));
    const ref = new HostRef();
    const hostObj = ref.load('xdp_tc_chain');
    const fs = frames();
    // One core: the frames meet the counters in the order the host sees them.
    const res = await nic.pool.run(fs, { core: 0 });
    fs.forEach((f, n) => {
      const want = ref.run(fdOf(hostObj, 'programs', 'tc_entry'), f);
      const r = res[n]!;
      const verdict = XDP_NAMES[want.retval] ?? 'XDP_ABORTED';
      expect({ verdict: r.verdict, status: r.status }, `frame ${n}`).toEqual({ verdict, status: 'ok' });
      expect(r.packet === null ? null : hex(r.packet), `frame ${n}`).toBe(verdict === 'XDP_PASS' || verdict === 'XDP_TX' ? hex(want.data) : null);
    });
    const hits = await dumpMap(h, fdOf(lo, 'maps', 'hits'));
    expect(hits).toEqual(ref.dump(fdOf(hostObj, 'maps', 'hits')));
    // The loop frame: entry -> ipv4 -> udp -> loop, then the loop calls itself until 33 calls are taken.
    expect(u64(hits['04000000'])).toBe(31);
    // The JITed entry program is what bpftool shows; the prog array holds the stages' ids.
    const ids = await Promise.all([0, 1, 2, 3, 4].map(async (i) => new DataView((await h.sys.mapLookupAsync({ map_fd: fdOf(lo, 'maps', 'chain'), key: u32(i) })).buffer).getUint32(0, true)));
    expect(ids).toEqual(['tc_ipv4', 'tc_ipv6', 'tc_udp', 'tc_tcp', 'tc_loop'].map((p) => h.sys.progInfo(fdOf(lo, 'programs', p)).id));
    // The cores ran every frame; none faulted.
    expect(nic.pool.stats().errors).toBe(0);
  }, 30_000);
});

describe('a chain split between the NIC and the host (partial offload)', () => {
  let h: TestHost;
  let nic: NicDatapath;
  beforeAll(async () => {
    h = await bootHost();
    nic = (await startNicDatapath(h, { mode: 'in-process' }))!;
  });
  afterAll(async () => {
    await nic?.stop();
    await h?.shutdown();
  });

  it('the NIC half on the cores, the host half on the host CPU: the same fates, packets and counters as on the host alone, with per-side counts', async () => {
    const hostHalf = await loadObjectIntoKernelAsync(h.sys, obj('xdp_tc_split_host'));
    const nicHalf = await loadObjectIntoKernelAsync(h.sys, obj('xdp_tc_split_nic'), { ifindex: h.ifindex });
    const hostUdp = fdOf(hostHalf, 'programs', 'host_udp');
    expect(h.sys.progInfo(hostUdp).ifindex).toBe(0);
    await h.sys.mapUpdateAsync({ map_fd: fdOf(nicHalf, 'maps', 'split'), key: u32(0), value: u32(hostUdp) });
    await attachHw(h, fdOf(nicHalf, 'programs', 'nic_entry'));

    const ref = new HostRef();
    const refHost = ref.load('xdp_tc_split_host');
    const refNic = ref.load('xdp_tc_split_nic');
    ref.sys.mapUpdate({ map_fd: fdOf(refNic, 'maps', 'split'), key: u32(0), value: u32(fdOf(refHost, 'programs', 'host_udp')) });

    const dev = h.kernel.netdevs.dev_get_by_name('nfp0')!;
    netdev_rx(dev).up = true;
    const fs = frames();
    const rep = await netif_receive(h.kernel, dev, fs);
    // The host alone, frame by frame.
    const want = { pass: [] as string[], tx: [] as string[], drop: 0 };
    for (const f of fs) {
      const r = ref.run(fdOf(refNic, 'programs', 'nic_entry'), f);
      if (r.retval === 2) want.pass.push(hex(r.data));
      else if (r.retval === 3) want.tx.push(hex(r.data));
      else want.drop++;
    }
    expect(rep.fates).toMatchObject({ pass: want.pass.length, tx: want.tx.length, drop: want.drop, aborted: 0, error: 0 });
    expect(netdev_rx(dev).stack.frames.map(hex)).toEqual(want.pass);
    expect(netdev_rx(dev).wire.frames.map(hex)).toEqual(want.tx);
    // Each side's counters: the NIC's on the card, the host's on the host.
    expect(await dumpMap(h, fdOf(nicHalf, 'maps', 'nic_hits'))).toEqual(ref.dump(fdOf(refNic, 'maps', 'nic_hits')));
    expect(await dumpMap(h, fdOf(hostHalf, 'maps', 'host_hits'))).toEqual(ref.dump(fdOf(refHost, 'maps', 'host_hits')));
    expect(await dumpMap(h, fdOf(hostHalf, 'maps', 'last_len'))).toEqual(ref.dump(fdOf(refHost, 'maps', 'last_len')));
    // The split: the frames the NIC sent on (its counter 2) are the ones the host program ran.
    const sentOn = u64((await dumpMap(h, fdOf(nicHalf, 'maps', 'nic_hits')))['02000000']);
    const st = nfp_net_partial_stats(dev);
    expect(sentOn).toBeGreaterThan(0);
    expect(st).toMatchObject({ nic_to_host: sentOn, host_runs: sentOn, miss: 0 });
    expect(st.host.drop + st.host.pass + st.host.tx).toBe(sentOn);
    expect(netdev_rx(dev).xdp[1].rx_xdp_packets).toBe(sentOn);
    // The NIC's own view: it passed those frames (its verdict statistic 0).
    expect(nic.pool.stats().stats[0]).toBeGreaterThanOrEqual(sentOn);
  }, 30_000);
});

describe('the prog array changes while traffic flows (cores in worker threads)', () => {
  it('no frame is lost or counted twice while a slot switches between two programs', async () => {
    const h = await bootHost();
    const nic = (await startNicDatapath(h, { mode: 'worker', threads: 2 }))!;
    try {
      const lo = await loadObjectIntoKernelAsync(h.sys, obj('xdp_tc_chain'), { ifindex: h.ifindex });
      await attachHw(h, fdOf(lo, 'programs', 'tc_entry'));
      const dev = h.kernel.netdevs.dev_get_by_name('nfp0')!;
      netdev_rx(dev).up = true;
      const chain = fdOf(lo, 'maps', 'chain');
      const udp = fdOf(lo, 'programs', 'tc_udp');
      const tcp = fdOf(lo, 'programs', 'tc_tcp');
      // UDP to port 9: tc_udp drops it, tc_tcp (in the UDP slot) passes it.
      const discard = [pk.udp4Frame({ dstPort: 9 }), pk.udp4Frame({ dstPort: 9, src: '10.0.0.9' })];
      const reloads0 = h.nfp!.bpf!.tc!.stats.reloads;
      let sent = 0;
      let pass = 0;
      let drop = 0;
      let stop = false;
      const traffic = (async () => {
        while (!stop) {
          const r = await netif_receive(h.kernel, dev, discard, { repeat: 2048 });
          sent += r.frames;
          pass += r.fates.pass;
          drop += r.fates.drop;
          expect(r.fates.aborted + r.fates.error).toBe(0);
        }
      })();
      for (let i = 0; i < 12; i++) {
        await h.sys.mapUpdateAsync({ map_fd: chain, key: u32(2), value: u32(i % 2 === 0 ? tcp : udp) });
        await new Promise((r) => setTimeout(r, 2));
      }
      stop = true;
      await traffic;
      expect(sent).toBeGreaterThan(0);
      expect(pass + drop).toBe(sent);
      // Both programs ran while the slot changed under traffic.
      expect(pass).toBeGreaterThan(0);
      expect(drop).toBeGreaterThan(0);
      const hits = await dumpMap(h, fdOf(lo, 'maps', 'hits'));
      const n = (k: number): number => u64(hits[hex(u32(k))]);
      // Every frame entered once, went to the IPv4 stage once, and to exactly one of the two programs.
      expect(n(6)).toBe(sent);
      expect(n(0)).toBe(sent);
      expect(n(2) + n(3)).toBe(sent);
      expect(n(2)).toBe(drop);
      expect(n(3)).toBe(pass);
      // Linking a program the cores did not have reloaded the image; the slot's old program was unlinked.
      expect(h.nfp!.bpf!.tc!.stats.reloads).toBeGreaterThan(reloads0);
      expect(h.nfp!.bpf!.tc!.linked.filter((l) => l.nfp_prog === (h.kernel.progOf(tcp, 't').offload!.dev_priv))).toHaveLength(1);
      expect(nic.pool.stats().errors).toBe(0);
    } finally {
      await nic.stop();
      await h.shutdown();
    }
  }, 60_000);
});
