// The host receive path: frames arriving on a device run its native or generic XDP program on the
// host CPUs, and each verdict has its consequence — the stack, the same device's wire (XDP_TX),
// another device's wire (XDP_REDIRECT), or nothing — with the device counters `ip -s link` shows.
// Programs are the clang objects of test/progs and a few assembled one-liners; frames come from the
// test-side packet builder (test/oracle/packets.ts).

import { describe, expect, it } from 'vitest';
import { NsimDev } from '../../src/drivers/netdevsim/netdevsim.js';
import {
  XDP_FLAGS_DRV_MODE, XDP_FLAGS_HW_MODE, XDP_FLAGS_SKB_MODE, XDP_MODE_DRV, XDP_MODE_SKB, dev_xdp_attach,
} from '../../src/kernel/net/dev-xdp.js';
import { NetlinkExtAck } from '../../src/kernel/net/extack.js';
import { dev_change_flags_up, dev_set_mtu, netdev_rx, netif_receive, rx_flow_hash, type NetdevHwRx } from '../../src/kernel/net/rx.js';
import { XDP_DROP, XDP_PASS, XDP_TX } from '../../src/kernel/net/xdp.js';
import { BPF_PROG_TYPE_XDP } from '../../src/kernel/syscall.js';
import { assemble } from '../../src/bpf/asm.js';
import { BPF_ATTACH_TYPE } from '../../src/bpf/prog-types.js';
import { tcp4Frame, udp4Frame, udp4FrameOfLength } from '../oracle/packets.js';
import { makeTestHost } from './dev-xdp-harness.js';

const UDP9 = udp4Frame({ dstPort: 9 });
const UDP53 = udp4Frame({ dstPort: 53, srcPort: 4000 });
const TCP80 = tcp4Frame({ dstPort: 80 });

describe('netif_receive: verdicts and where frames go', () => {
  for (const [mode, flags, key] of [['generic', XDP_FLAGS_SKB_MODE, 'generic'], ['native', XDP_FLAGS_DRV_MODE, 'drv']] as const) {
    it(`${mode} XDP: xdp_drop_udp9 drops UDP to port 9 and passes the rest to the stack`, async () => {
      const h = makeTestHost();
      const { prog } = h.obj('xdp_drop_udp9');
      await h.attach(h.veth0, prog, flags);
      const rep = await netif_receive(h.k, h.veth0, [UDP9, UDP53, TCP80], { repeat: 10 });
      expect(rep.frames).toBe(30);
      expect(rep.fates).toEqual({ pass: 20, drop: 10, aborted: 0, tx: 0, redirect: 0, error: 0 });
      expect(rep.verdicts).toEqual({ [key]: { aborted: 0, drop: 10, pass: 20, tx: 0, redirect: 0, invalid: 0 } });
      const r = netdev_rx(h.veth0);
      expect(r.stack.packets).toBe(20);
      expect(r.stack.frames[0]).toEqual(UDP53);
      expect(r.stack.frames[1]).toEqual(TCP80);
      expect(r.stats).toMatchObject({ rx_packets: 30, rx_bytes: 10 * (UDP9.length + UDP53.length + TCP80.length), rx_dropped: 10, tx_packets: 0 });
      expect(r.xdp[flags === XDP_FLAGS_SKB_MODE ? XDP_MODE_SKB : XDP_MODE_DRV]).toMatchObject({ rx_xdp_packets: 30, rx_xdp_drop: 10, rx_xdp_pass: 20 });
      expect(r.wire.packets).toBe(0);
    });
  }

  it('without a program every frame goes to the stack unchanged', async () => {
    const h = makeTestHost();
    const rep = await netif_receive(h.k, h.veth0, [UDP9, TCP80]);
    expect(rep.fates.pass).toBe(2);
    expect(rep.verdicts).toEqual({});
    expect(netdev_rx(h.veth0).stack.frames).toEqual([UDP9, TCP80]);
  });

  it('XDP_TX sends the rewritten frame back out of the device (xdp_ipip_encap)', async () => {
    const h = makeTestHost();
    const { prog } = h.obj('xdp_adjust', 'xdp_ipip_encap');
    await h.attach(h.veth0, prog, XDP_FLAGS_DRV_MODE);
    const rep = await netif_receive(h.k, h.veth0, [UDP53], { repeat: 3 });
    expect(rep.fates.tx).toBe(3);
    const r = netdev_rx(h.veth0);
    expect(r.stats).toMatchObject({ tx_packets: 3, tx_bytes: 3 * (UDP53.length + 20) });
    const out = r.wire.frames[0]!;
    expect(out.length).toBe(UDP53.length + 20);
    // MACs swapped, an outer IPv4 header carrying IPIP (protocol 4), then the original datagram.
    expect(out.subarray(0, 6)).toEqual(UDP53.subarray(6, 12));
    expect(out.subarray(6, 12)).toEqual(UDP53.subarray(0, 6));
    expect(out[14]).toBe(0x45);
    expect(out[14 + 9]).toBe(4);
    expect(out.subarray(34)).toEqual(UDP53.subarray(14));
    expect(r.stack.packets).toBe(0);
  });

  it('an action outside the enum is dropped as XDP_ABORTED would be, with one kernel warning', async () => {
    const h = makeTestHost();
    const warnings: string[] = [];
    const orig = h.k.log.warn.bind(h.k.log);
    h.k.log.warn = ((msg: string) => { warnings.push(msg); orig(msg); }) as typeof h.k.log.warn;
    const { prog } = h.asm('r0 = 7\nexit');
    await h.attach(h.veth0, prog, XDP_FLAGS_SKB_MODE);
    const rep = await netif_receive(h.k, h.veth0, [UDP9], { repeat: 5 });
    expect(rep.fates).toMatchObject({ aborted: 5, pass: 0 });
    expect(rep.verdicts.generic!.invalid).toBe(5);
    expect(netdev_rx(h.veth0).stats.rx_dropped).toBe(5);
    expect(warnings.filter((w) => w.includes('Illegal XDP return value 7 on prog')).length).toBe(1);
  });
});

describe('netif_receive: XDP_REDIRECT', () => {
  const redirectTo = (ifindex: number): string => `r1 = ${ifindex}\nr2 = 0\ncall 23\nexit`;

  it('bpf_redirect(ifindex) sends the frame out of the target device', async () => {
    const h = makeTestHost();
    const { prog } = h.asm(redirectTo(h.veth1.ifindex));
    await h.attach(h.veth0, prog, XDP_FLAGS_DRV_MODE);
    const rep = await netif_receive(h.k, h.veth0, [UDP9, UDP53], { repeat: 4 });
    expect(rep.fates).toMatchObject({ redirect: 8, error: 0 });
    expect(netdev_rx(h.veth1).wire.frames.slice(0, 2)).toEqual([UDP9, UDP53]);
    expect(netdev_rx(h.veth1).stats.tx_packets).toBe(8);
    expect(netdev_rx(h.veth0).stats.tx_packets).toBe(0);
  });

  it('fails (and counts a redirect error) for a missing, down or too-small target', async () => {
    const h = makeTestHost();
    for (const [target, setup] of [
      [99, () => {}],
      [h.veth1.ifindex, () => dev_change_flags_up(h.veth1, false)],
      [h.veth1.ifindex, async () => { dev_change_flags_up(h.veth1, true); await dev_set_mtu(h.veth1, 68); }],
    ] as const) {
      await setup();
      const { prog } = h.asm(redirectTo(target));
      await h.attach(h.veth0, prog, XDP_FLAGS_SKB_MODE);
      const big = udp4FrameOfLength(200);
      const before = netdev_rx(h.veth0).xdp[XDP_MODE_SKB].rx_xdp_redirect_errors;
      const rep = await netif_receive(h.k, h.veth0, [big]);
      expect(rep.fates).toMatchObject({ redirect: 0, error: 1 });
      expect(netdev_rx(h.veth0).xdp[XDP_MODE_SKB].rx_xdp_redirect_errors).toBe(before + 1);
    }
    expect(netdev_rx(h.veth1).wire.packets).toBe(0);
  });

  it('XDP_REDIRECT without a helper call is an error', async () => {
    const h = makeTestHost();
    const { prog } = h.asm('r0 = 4\nexit');
    await h.attach(h.veth0, prog, XDP_FLAGS_SKB_MODE);
    expect((await netif_receive(h.k, h.veth0, [UDP9])).fates.error).toBe(1);
  });

  it('native mode needs a target with ndo_xdp_xmit; generic XDP can send out of any device', async () => {
    const h = makeTestHost();
    const { prog } = h.asm(redirectTo(h.lo.ifindex));
    await h.attach(h.veth0, prog, XDP_FLAGS_DRV_MODE);
    expect((await netif_receive(h.k, h.veth0, [UDP9])).fates).toMatchObject({ redirect: 0, error: 1 });
    await h.attach(h.veth0, null, XDP_FLAGS_DRV_MODE);
    await h.attach(h.veth0, prog, XDP_FLAGS_SKB_MODE);
    expect((await netif_receive(h.k, h.veth0, [UDP9])).fates).toMatchObject({ redirect: 1, error: 0 });
    expect(netdev_rx(h.lo).wire.frames).toEqual([UDP9]);
  });
});

describe('netif_receive: devmaps', () => {
  /** A host whose devmaps can check ifindexes (the kernel's MapEnv does not pass dev_get_by_index yet). */
  function devmapHost() {
    const h = makeTestHost();
    Object.assign(h.k.mapEnv, { dev_get_by_index: (i: number) => h.k.netdevs.dev_get_by_index(i) !== undefined });
    return h;
  }
  const u32 = (v: number): Uint8Array => Uint8Array.of(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24);

  it('bpf_redirect_map through a DEVMAP (xdp_redirect_map): the slot of the ingress device names the egress one', async () => {
    const h = devmapHost();
    const { prog, maps } = h.obj('xdp_redirect', 'xdp_redirect_map');
    h.sys.mapUpdate({ map_fd: maps.get('tx_port')!, key: u32(h.veth0.ifindex), value: u32(h.veth1.ifindex) });
    await h.attach(h.veth0, prog, XDP_FLAGS_DRV_MODE);
    await h.attach(h.veth1, prog, XDP_FLAGS_DRV_MODE);
    const rep = await netif_receive(h.k, h.veth0, [UDP53], { repeat: 3 });
    expect(rep.fates).toMatchObject({ redirect: 3 });
    const out = netdev_rx(h.veth1).wire.frames[0]!;
    expect(out.subarray(0, 6)).toEqual(UDP53.subarray(6, 12));
    // veth1's slot is empty: the helper's fallback action, XDP_PASS.
    expect((await netif_receive(h.k, h.veth1, [UDP53])).fates).toMatchObject({ pass: 1, redirect: 0 });
  });

  it('BPF_F_BROADCAST sends a copy to every device of the map, BPF_F_EXCLUDE_INGRESS all but the ingress one', async () => {
    const h = devmapHost();
    const fd = h.sys.mapCreate({ map_type: 14, key_size: 4, value_size: 4, max_entries: 8 });
    [h.lo, h.veth0, h.veth1].forEach((d, i) => h.sys.mapUpdate({ map_fd: fd, key: u32(i), value: u32(d.ifindex) }));
    const bcast = (flags: number): string => `ld_pseudo r1, 1, ${fd}\nr2 = 0\nr3 = ${flags}\ncall 51\nexit`;
    const all = h.asm(bcast(1 << 3)).prog;
    await h.attach(h.veth0, all, XDP_FLAGS_SKB_MODE);
    expect((await netif_receive(h.k, h.veth0, [UDP9])).fates).toMatchObject({ redirect: 3 });
    expect([h.lo, h.veth0, h.veth1].map((d) => netdev_rx(d).wire.packets)).toEqual([1, 1, 1]);
    const others = h.asm(bcast((1 << 3) | (1 << 4))).prog;
    await h.attach(h.veth0, others, XDP_FLAGS_SKB_MODE);
    expect((await netif_receive(h.k, h.veth0, [UDP9])).fates).toMatchObject({ redirect: 2 });
    expect([h.lo, h.veth0, h.veth1].map((d) => netdev_rx(d).wire.packets)).toEqual([2, 1, 2]);
  });
});

describe('netif_receive: devmap egress programs', () => {
  it('a BPF_XDP_DEVMAP program runs on each copy with egress_ifindex; its DROP is a drop, not a redirect error', async () => {
    const h = makeTestHost();
    Object.assign(h.k.mapEnv, { dev_get_by_index: (i: number) => h.k.netdevs.dev_get_by_index(i) !== undefined });
    const u32 = (v: number): Uint8Array => Uint8Array.of(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24);
    // Drops what would leave veth1; on the way out of lo, writes 0xee into the first byte.
    const egress = h.asm(`r2 = *(u32 *)(r1 + 20)\nr0 = 1\nif r2 == ${h.veth1.ifindex} goto out\nr3 = *(u32 *)(r1 + 0)\nr5 = *(u32 *)(r1 + 4)\nr6 = r3\nr6 += 1\nif r6 > r5 goto out\nr4 = 0xee\n*(u8 *)(r3 + 0) = r4\nr0 = 2\nout:\nexit`, { expectedAttachType: BPF_ATTACH_TYPE.XDP_DEVMAP }).prog;
    const fd = h.sys.mapCreate({ map_type: 14, key_size: 4, value_size: 8, max_entries: 4 });
    const val = (ifindex: number): Uint8Array => Uint8Array.of(...u32(ifindex), ...u32(h.sys.progGetFdById(egress.id)));
    h.sys.mapUpdate({ map_fd: fd, key: u32(0), value: val(h.veth1.ifindex) });
    h.sys.mapUpdate({ map_fd: fd, key: u32(1), value: val(h.lo.ifindex) });
    const to = (slot: number): string => `ld_pseudo r1, 1, ${fd}\nr2 = ${slot}\nr3 = 0\ncall 51\nexit`;
    await h.attach(h.veth0, h.asm(to(1)).prog, XDP_FLAGS_SKB_MODE);
    expect((await netif_receive(h.k, h.veth0, [UDP9])).fates).toMatchObject({ redirect: 1 });
    expect(netdev_rx(h.lo).wire.frames[0]![0]).toBe(0xee);
    expect(UDP9[0]).toBe(0x02);
    await h.attach(h.veth0, h.asm(to(0)).prog, XDP_FLAGS_SKB_MODE);
    expect((await netif_receive(h.k, h.veth0, [UDP9])).fates).toMatchObject({ redirect: 0, drop: 1, error: 0 });
    expect(netdev_rx(h.veth1).wire.packets).toBe(0);
    expect(netdev_rx(h.veth0).xdp[XDP_MODE_SKB].rx_xdp_redirect_errors).toBe(0);
  });
});

describe('netif_receive: the MAC, RSS and statistics', () => {
  it('refuses runts, frames above the MTU and everything on a down device before XDP runs', async () => {
    const h = makeTestHost();
    const { prog } = h.asm('r0 = 2\nexit');
    await h.attach(h.veth0, prog, XDP_FLAGS_SKB_MODE);
    const rep = await netif_receive(h.k, h.veth0, [new Uint8Array(10), udp4FrameOfLength(1600), UDP9]);
    expect(rep.fates).toMatchObject({ error: 2, pass: 1 });
    expect(rep.verdicts.generic!.pass).toBe(1);
    expect(netdev_rx(h.veth0).stats).toMatchObject({ rx_packets: 3, rx_length_errors: 2, rx_errors: 2 });
    dev_change_flags_up(h.veth0, false);
    const down = await netif_receive(h.k, h.veth0, [UDP9, UDP9]);
    expect(down.fates).toMatchObject({ error: 2, pass: 0 });
    expect(netdev_rx(h.veth0).stats.rx_packets).toBe(3);
  });

  it('spreads flows over the CPUs by their hash, and keeps a flow on one CPU', async () => {
    const h = makeTestHost({ cpus: 2 });
    // A program that drops frames seen on rx queue 1: what it drops is what RSS put on queue 1.
    const { prog } = h.asm('r0 = *(u32 *)(r1 + 16)\nif r0 == 1 goto +1\nr0 = 2\nexit');
    await h.attach(h.veth0, prog, XDP_FLAGS_SKB_MODE);
    const frames = Array.from({ length: 64 }, (_, i) => udp4Frame({ srcPort: 1000 + i }));
    const rep = await netif_receive(h.k, h.veth0, frames, { repeat: 2 });
    const q1 = frames.filter((f) => rx_flow_hash(f) % 2 === 1).length;
    expect(q1).toBeGreaterThan(0);
    expect(q1).toBeLessThan(64);
    expect(rep.cpu_frames).toEqual([2 * (64 - q1), 2 * q1]);
    expect(rep.fates).toMatchObject({ drop: 2 * q1, pass: 2 * (64 - q1) });
  });

  it('counts program runs and time when bpf_stats are on', async () => {
    const h = makeTestHost();
    h.k.statsEnabled = true;
    const { prog } = h.obj('xdp_drop_udp9');
    await h.attach(h.veth0, prog, XDP_FLAGS_SKB_MODE);
    await netif_receive(h.k, h.veth0, [UDP9, UDP53], { repeat: 100 });
    expect(prog.runCnt).toBe(200);
    expect(prog.runTimeNs).toBeGreaterThan(0);
  });

  it('map updates by the program are visible from the host afterwards (xdp_counter)', async () => {
    const h = makeTestHost();
    const { prog, maps } = h.obj('xdp_counter');
    await h.attach(h.veth0, prog, XDP_FLAGS_SKB_MODE);
    await netif_receive(h.k, h.veth0, [UDP9, UDP53, TCP80], { repeat: 5 });
    const key = Uint8Array.of(17, 0, 0, 0);
    const v = h.sys.mapLookup({ map_fd: maps.get('proto_stats')!, key });
    const dv = new DataView(v.buffer, v.byteOffset);
    expect(dv.getBigUint64(0, true)).toBe(10n);
    expect(dv.getBigUint64(8, true)).toBe(BigInt(5 * (UDP9.length + UDP53.length)));
  });
});

describe('netif_receive: the NIC in front of the host', () => {
  async function nsimHost() {
    const h = makeTestHost();
    const sdev = await NsimDev.create(h.k, { ports: 1 });
    const port = sdev.ports[0]!.netdev;
    dev_change_flags_up(port, true);
    const fd = await h.sys.progLoadAsync({ prog_type: BPF_PROG_TYPE_XDP, insns: assemble('r0 = 2\nexit'), license: 'GPL', prog_ifindex: port.ifindex });
    await dev_xdp_attach(h.k, port, new NetlinkExtAck(), h.k.progOf(fd, 'test'), null, XDP_FLAGS_HW_MODE);
    return { h, port };
  }

  it('refuses to run frames past an offloaded program when the driver has no NIC datapath', async () => {
    const { h, port } = await nsimHost();
    await expect(netif_receive(h.k, port, [UDP9])).rejects.toMatchObject({ errno: 'EOPNOTSUPP' });
  });

  it('only what the NIC passes reaches the host; what it sends back goes out of the port', async () => {
    const { h, port } = await nsimHost();
    // A stand-in NIC (what the nfp driver registers): drops UDP to port 9, bounces TCP, passes the rest.
    const nic: NetdevHwRx = {
      async xdp_hw_rx(_dev, frames, acts, out) {
        frames.forEach((f, i) => {
          acts[i] = f === UDP9 ? XDP_DROP : f === TCP80 ? XDP_TX : XDP_PASS;
          out[i] = f;
        });
      },
    };
    netdev_rx(port).hw = nic;
    const { prog } = h.obj('xdp_drop_udp9');
    await h.attach(port, prog, XDP_FLAGS_SKB_MODE);
    const rep = await netif_receive(h.k, port, [UDP9, UDP53, TCP80], { repeat: 2 });
    expect(rep.verdicts.offload).toMatchObject({ drop: 2, pass: 2, tx: 2 });
    // The host program ran only on what the NIC passed.
    expect(rep.verdicts.generic).toMatchObject({ pass: 2, drop: 0 });
    expect(rep.fates).toMatchObject({ drop: 2, tx: 2, pass: 2 });
    expect(netdev_rx(port).wire.frames).toEqual([TCP80, TCP80]);
    expect(netdev_rx(port).stack.frames).toEqual([UDP53, UDP53]);
  });
});
