// bpf_fib_lookup() from XDP against the host FIB and neighbour table: hits through a gateway and on a
// connected prefix, longest-prefix match, reject routes, misses, a missing or unresolved neighbour,
// fragmentation needed, the DIRECT / OUTPUT / TBID / SKIP_NEIGH / SRC flags, IPv6, and the argument
// errors; every case on both engines, reading struct bpf_fib_lookup back byte for byte.

import { describe, expect, it } from 'vitest';
import { BpfError } from '../../src/bpf/errno.js';
import {
  BPF_FIB, BPF_FIB_LKUP_RET_BLACKHOLE, BPF_FIB_LKUP_RET_FRAG_NEEDED, BPF_FIB_LKUP_RET_FWD_DISABLED,
  BPF_FIB_LKUP_RET_NOT_FWDED, BPF_FIB_LKUP_RET_NO_NEIGH, BPF_FIB_LKUP_RET_PROHIBIT, BPF_FIB_LKUP_RET_SUCCESS,
  BPF_FIB_LKUP_RET_UNREACHABLE, BPF_FIB_LKUP_RET_UNSUPP_LWT, BPF_FIB_LOOKUP_DIRECT, BPF_FIB_LOOKUP_OUTPUT,
  BPF_FIB_LOOKUP_SKIP_NEIGH, BPF_FIB_LOOKUP_SRC, BPF_FIB_LOOKUP_TBID,
} from '../../src/kernel/helpers/filter.js';
import { AF_INET, AF_INET6, formatMac } from '../../src/kernel/net/netdev.js';
import { formatIpv4, formatIpv6, parseIpv4, parseIpv6 } from '../../src/kernel/net/route.js';
import { ENGINES, asm, makeHost, ptrOf, s64, type EngineName, type Host } from './xdp-harness.js';

interface Params {
  family?: number;
  tot_len?: number;
  ifindex: number;
  src?: string;
  dst: string;
  tbid?: number;
}

function world() {
  const h = makeHost();
  for (const b of h.xdp) b.testRunInit(new Uint8Array(64), undefined, h.netdevs);
  const eth0 = h.netdevs.register({ name: 'eth0', forwarding: true, ipv6Forwarding: true });
  const eth1 = h.netdevs.register({ name: 'eth1', forwarding: true, ipv6Forwarding: true, mac: '02:11:11:11:11:11' });
  const eth2 = h.netdevs.register({ name: 'eth2', mtu: 1200, ipv6Forwarding: true });
  const f = h.fib;
  f.addAddress('eth0', '10.0.0.1/24');
  f.addAddress('eth1', '10.1.0.1/24');
  f.addAddress('eth1', '2001:db8:1::1/64');
  f.addRoute({ dst: '192.168.0.0/16', via: '10.1.0.254', dev: 'eth1', metric: 10 });
  f.addRoute({ dst: '192.168.0.0/16', via: '10.0.0.254', dev: 'eth0', metric: 20 });
  f.addRoute({ dst: '192.168.5.0/24', via: '10.0.0.254', dev: 'eth0' });
  f.addRoute({ dst: '203.0.113.0/24', type: 'blackhole' });
  f.addRoute({ dst: '198.51.100.0/24', type: 'unreachable' });
  f.addRoute({ dst: '192.0.2.0/24', type: 'prohibit' });
  f.addRoute({ dst: '172.16.0.0/12', dev: 'eth1', mtu: 1400, mtuLock: true });
  f.addRoute({ dst: '172.32.0.0/12', dev: 'eth1', mtu: 1000 }); // not locked: the device MTU counts
  f.addRoute({ dst: '100.64.0.0/10', dev: 'eth1', encap: true });
  f.addRoute({ dst: '10.50.0.0/16', via: '10.1.0.254', dev: 'eth1', table: 100 });
  f.addRoute({ dst: '10.9.0.0/16', type: 'throw' });
  f.addRoute({ dst: '10.9.0.0/16', via: '10.1.0.254', dev: 'eth1', table: 253, metric: 5 });
  f.addRoute({ dst: '10.60.0.0/16', via: 'fe80::1', dev: 'eth1' }); // RFC 5549: an IPv6 next hop
  f.addRoute({ dst: '2001:db8:2::/48', via: '2001:db8:1::fe', dev: 'eth1', metric: 1024 });
  f.addRoute({ dst: '2001:db8:dead::/48', type: 'blackhole' });
  f.addRoute({ dst: '2001:db8:3::/48', dev: 'eth2' });
  f.addNeigh('eth1', '10.1.0.254', 'aa:bb:cc:00:00:01');
  f.addNeigh('eth0', '10.0.0.254', 'aa:bb:cc:00:00:02', 'stale');
  f.addNeigh('eth1', '10.1.0.77', '00:00:00:00:00:00', 'incomplete');
  f.addNeigh('eth1', '172.16.1.1', 'aa:bb:cc:00:00:03', 'permanent');
  f.addNeigh('eth1', '172.32.1.1', 'aa:bb:cc:00:00:05', 'reachable');
  f.addNeigh('eth1', '2001:db8:1::fe', 'aa:bb:cc:00:00:06');
  f.addNeigh('eth1', 'fe80::1', 'aa:bb:cc:00:00:07');
  f.addNeigh('eth2', '2001:db8:3::9', 'aa:bb:cc:00:00:08', 'delay');
  const params = new Uint8Array(64);
  const region = h.mem.map('mem', params);
  return { h, eth0, eth1, eth2, params, region };
}

type World = ReturnType<typeof world>;

function fill(w: World, p: Params): void {
  const b = w.params;
  b.fill(0xcc, 48); // vlan / tbid / smac / dmac: outputs, pre-filled to see what is written
  b.fill(0, 0, 48);
  const v6 = p.dst.includes(':');
  b[BPF_FIB.family] = p.family ?? (v6 ? AF_INET6 : AF_INET);
  const dv = new DataView(b.buffer);
  dv.setUint16(BPF_FIB.tot_len, p.tot_len ?? 100, true);
  dv.setUint32(BPF_FIB.ifindex, p.ifindex, true);
  if (v6) {
    b.set(parseIpv6(p.dst), BPF_FIB.ipv4_dst);
    if (p.src !== undefined) b.set(parseIpv6(p.src), BPF_FIB.ipv4_src);
  } else {
    dv.setUint32(BPF_FIB.ipv4_dst, parseIpv4(p.dst));
    if (p.src !== undefined) dv.setUint32(BPF_FIB.ipv4_src, parseIpv4(p.src));
  }
  if (p.tbid !== undefined) dv.setUint32(BPF_FIB.h_vlan_proto, p.tbid, true);
}

function lookup(w: World, engine: EngineName, p: Params, flags = 0, plen = 64): bigint {
  fill(w, p);
  return s64(w.h.run(engine, asm(`r2 = {p}\nr3 = ${plen}\nr4 = ${flags}\ncall 69\nexit`, { p: ptrOf(w.region) })));
}

/** The outputs of struct bpf_fib_lookup. */
function out(w: World) {
  const b = w.params;
  const dv = new DataView(b.buffer);
  const v6 = b[BPF_FIB.family] === AF_INET6;
  return {
    family: b[BPF_FIB.family],
    mtu_result: dv.getUint16(BPF_FIB.tot_len, true),
    ifindex: dv.getUint32(BPF_FIB.ifindex, true),
    rt_metric: dv.getUint32(BPF_FIB.tos, true),
    src: v6 ? formatIpv6(b, BPF_FIB.ipv4_src) : formatIpv4(dv.getUint32(BPF_FIB.ipv4_src)),
    dst: v6 ? formatIpv6(b, BPF_FIB.ipv4_dst) : formatIpv4(dv.getUint32(BPF_FIB.ipv4_dst)),
    vlan: dv.getUint32(BPF_FIB.h_vlan_proto, true),
    smac: formatMac(b.subarray(BPF_FIB.smac, BPF_FIB.smac + 6)),
    dmac: formatMac(b.subarray(BPF_FIB.dmac, BPF_FIB.dmac + 6)),
  };
}

describe('bpf_fib_lookup, IPv4', () => {
  for (const engine of ENGINES) {
    it(`${engine}: a hit through a gateway fills in the next hop, the MACs, the metric and the MTU`, () => {
      const w = world();
      expect(lookup(w, engine, { ifindex: w.eth0.ifindex, dst: '192.168.1.1', src: '10.0.0.9' })).toBe(BigInt(BPF_FIB_LKUP_RET_SUCCESS));
      expect(out(w)).toEqual({
        family: AF_INET, mtu_result: 1500, ifindex: w.eth1.ifindex, rt_metric: 10, src: '10.0.0.9', dst: '10.1.0.254',
        vlan: 0, smac: '02:11:11:11:11:11', dmac: 'aa:bb:cc:00:00:01',
      });
      // The longer prefix wins over the /16, whatever the metrics; a stale neighbour is usable.
      expect(lookup(w, engine, { ifindex: w.eth1.ifindex, dst: '192.168.5.200' })).toBe(0n);
      expect(out(w)).toMatchObject({ ifindex: w.eth0.ifindex, dst: '10.0.0.254', dmac: 'aa:bb:cc:00:00:02', smac: w.eth0.address, rt_metric: 0 });
      // A connected prefix: the destination itself is the neighbour.
      expect(lookup(w, engine, { ifindex: w.eth0.ifindex, dst: '172.16.1.1' })).toBe(0n);
      expect(out(w)).toMatchObject({ ifindex: w.eth1.ifindex, dst: '172.16.1.1', dmac: 'aa:bb:cc:00:00:03' });
    });

    it(`${engine}: reject routes, misses, local addresses, forwarding off, unknown device`, () => {
      const w = world();
      const at = (dst: string, ifindex = w.eth0.ifindex) => lookup(w, engine, { ifindex, dst });
      expect(at('203.0.113.7')).toBe(BigInt(BPF_FIB_LKUP_RET_BLACKHOLE));
      expect(at('198.51.100.7')).toBe(BigInt(BPF_FIB_LKUP_RET_UNREACHABLE));
      expect(at('192.0.2.7')).toBe(BigInt(BPF_FIB_LKUP_RET_PROHIBIT));
      expect(at('8.8.8.8')).toBe(BigInt(BPF_FIB_LKUP_RET_NOT_FWDED)); // no default route
      expect(at('10.0.0.1')).toBe(BigInt(BPF_FIB_LKUP_RET_NOT_FWDED)); // a local address: RTN_LOCAL
      expect(at('100.64.0.1')).toBe(BigInt(BPF_FIB_LKUP_RET_UNSUPP_LWT));
      expect(at('192.168.1.1', w.eth2.ifindex)).toBe(BigInt(BPF_FIB_LKUP_RET_FWD_DISABLED));
      expect(at('192.168.1.1', 99)).toBe(-19n); // -ENODEV
      // A throw route in main sends the lookup on to the default table.
      expect(at('10.9.1.1')).toBe(0n);
      expect(out(w)).toMatchObject({ rt_metric: 5, dst: '10.1.0.254' });
      // Adding a default route turns the miss into a hit.
      w.h.fib.addRoute({ dst: 'default', via: '10.0.0.254', dev: 'eth0', metric: 100 });
      expect(at('8.8.8.8')).toBe(0n);
      expect(out(w)).toMatchObject({ ifindex: w.eth0.ifindex, dst: '10.0.0.254', rt_metric: 100 });
    });

    it(`${engine}: no neighbour, or one that is not NUD_VALID, is NO_NEIGH with the egress ifindex already written`, () => {
      const w = world();
      expect(lookup(w, engine, { ifindex: w.eth0.ifindex, dst: '10.1.0.77' })).toBe(BigInt(BPF_FIB_LKUP_RET_NO_NEIGH));
      expect(out(w)).toMatchObject({ ifindex: w.eth1.ifindex, rt_metric: 0, smac: 'cc:cc:cc:cc:cc:cc', dmac: 'cc:cc:cc:cc:cc:cc' });
      expect(lookup(w, engine, { ifindex: w.eth0.ifindex, dst: '10.1.0.78' })).toBe(BigInt(BPF_FIB_LKUP_RET_NO_NEIGH));
      w.h.fib.addNeigh('eth1', '10.1.0.78', 'aa:bb:cc:00:00:09', 'failed');
      expect(lookup(w, engine, { ifindex: w.eth0.ifindex, dst: '10.1.0.78' })).toBe(BigInt(BPF_FIB_LKUP_RET_NO_NEIGH));
      w.h.fib.addNeigh('eth1', '10.1.0.78', 'aa:bb:cc:00:00:09', 'probe');
      expect(lookup(w, engine, { ifindex: w.eth0.ifindex, dst: '10.1.0.78' })).toBe(0n);
      // SKIP_NEIGH: success without touching smac/dmac.
      expect(lookup(w, engine, { ifindex: w.eth0.ifindex, dst: '10.1.0.77' }, BPF_FIB_LOOKUP_SKIP_NEIGH)).toBe(0n);
      expect(out(w)).toMatchObject({ ifindex: w.eth1.ifindex, smac: 'cc:cc:cc:cc:cc:cc', dmac: 'cc:cc:cc:cc:cc:cc', vlan: 0, mtu_result: 1500 });
    });

    it(`${engine}: FRAG_NEEDED when tot_len exceeds the path MTU, with the MTU in mtu_result`, () => {
      const w = world();
      expect(lookup(w, engine, { ifindex: w.eth0.ifindex, dst: '192.168.1.1', tot_len: 1500 })).toBe(0n);
      expect(lookup(w, engine, { ifindex: w.eth0.ifindex, dst: '192.168.1.1', tot_len: 1501 })).toBe(BigInt(BPF_FIB_LKUP_RET_FRAG_NEEDED));
      expect(out(w)).toMatchObject({ mtu_result: 1500, ifindex: w.eth0.ifindex }); // not rewritten
      // A locked route MTU is the path MTU; an unlocked one is ignored.
      expect(lookup(w, engine, { ifindex: w.eth0.ifindex, dst: '172.16.1.1', tot_len: 1401 })).toBe(BigInt(BPF_FIB_LKUP_RET_FRAG_NEEDED));
      expect(out(w).mtu_result).toBe(1400);
      expect(lookup(w, engine, { ifindex: w.eth0.ifindex, dst: '172.16.1.1', tot_len: 1400 })).toBe(0n);
      expect(out(w).mtu_result).toBe(1400);
      expect(lookup(w, engine, { ifindex: w.eth0.ifindex, dst: '172.32.1.1', tot_len: 1500 })).toBe(0n);
    });

    it(`${engine}: DIRECT looks in main only, TBID picks the table and zeroes it, OUTPUT needs the egress device`, () => {
      const w = world();
      expect(lookup(w, engine, { ifindex: w.eth0.ifindex, dst: '10.50.1.1' })).toBe(BigInt(BPF_FIB_LKUP_RET_NOT_FWDED));
      expect(lookup(w, engine, { ifindex: w.eth0.ifindex, dst: '10.50.1.1' }, BPF_FIB_LOOKUP_DIRECT)).toBe(BigInt(BPF_FIB_LKUP_RET_NOT_FWDED));
      expect(lookup(w, engine, { ifindex: w.eth0.ifindex, dst: '10.50.1.1', tbid: 100 }, BPF_FIB_LOOKUP_DIRECT | BPF_FIB_LOOKUP_TBID)).toBe(0n);
      expect(out(w)).toMatchObject({ ifindex: w.eth1.ifindex, vlan: 0 });
      expect(lookup(w, engine, { ifindex: w.eth0.ifindex, dst: '10.50.1.1', tbid: 77 }, BPF_FIB_LOOKUP_DIRECT | BPF_FIB_LOOKUP_TBID)).toBe(BigInt(BPF_FIB_LKUP_RET_NOT_FWDED));
      // TBID without DIRECT is ignored (the default rules are used).
      expect(lookup(w, engine, { ifindex: w.eth0.ifindex, dst: '192.168.1.1', tbid: 100 }, BPF_FIB_LOOKUP_TBID)).toBe(0n);
      // DIRECT skips the rules but still finds main's routes.
      expect(lookup(w, engine, { ifindex: w.eth0.ifindex, dst: '192.168.1.1' }, BPF_FIB_LOOKUP_DIRECT)).toBe(0n);
      // OUTPUT: ifindex is the egress device; the metric-10 route goes out of eth1, so eth0 takes the metric-20 one.
      expect(lookup(w, engine, { ifindex: w.eth0.ifindex, dst: '192.168.1.1' }, BPF_FIB_LOOKUP_OUTPUT)).toBe(0n);
      expect(out(w)).toMatchObject({ ifindex: w.eth0.ifindex, rt_metric: 20, dst: '10.0.0.254' });
      expect(lookup(w, engine, { ifindex: w.eth1.ifindex, dst: '192.168.5.1' }, BPF_FIB_LOOKUP_OUTPUT)).toBe(0n);
      expect(out(w)).toMatchObject({ ifindex: w.eth1.ifindex, rt_metric: 10 });
    });

    it(`${engine}: SRC fills in the source address; an IPv6 next hop turns the answer into AF_INET6`, () => {
      const w = world();
      expect(lookup(w, engine, { ifindex: w.eth0.ifindex, dst: '192.168.1.1' }, BPF_FIB_LOOKUP_SRC)).toBe(0n);
      expect(out(w).src).toBe('10.1.0.1');
      expect(lookup(w, engine, { ifindex: w.eth0.ifindex, dst: '10.60.1.1' })).toBe(0n);
      expect(out(w)).toMatchObject({ family: AF_INET6, dst: 'fe80::1', dmac: 'aa:bb:cc:00:00:07', ifindex: w.eth1.ifindex });
    });

    it(`${engine}: argument errors: plen below 64, unknown flags, unknown family`, () => {
      const w = world();
      const p = { ifindex: w.eth0.ifindex, dst: '192.168.1.1' };
      expect(lookup(w, engine, p, 0, 63)).toBe(-22n);
      expect(lookup(w, engine, p, 1 << 6)).toBe(-22n);
      expect(lookup(w, engine, { ...p, family: 7 })).toBe(-97n); // -EAFNOSUPPORT
      expect(lookup(w, engine, p, 0, 64)).toBe(0n);
    });
  }

  it('a params pointer that is not 64 bytes of writable memory is EFAULT naming the helper', () => {
    const w = world();
    const small = w.h.mem.map('mem', new Uint8Array(32));
    const prog = asm('r2 = {p}\nr3 = 64\nr4 = 0\ncall 69\nexit', { p: ptrOf(small) });
    expect(() => w.h.run('jit', prog)).toThrow(BpfError);
    expect(() => w.h.run('interpreter', prog)).toThrow(/bpf_fib_lookup: invalid write of 64 bytes/);
  });
});

describe('bpf_fib_lookup, IPv6', () => {
  for (const engine of ENGINES) {
    it(`${engine}: gateway, blackhole, miss, link-local, device MTU floor and SRC`, () => {
      const w = world();
      expect(lookup(w, engine, { ifindex: w.eth0.ifindex, dst: '2001:db8:2::5', src: '2001:db8:9::1' })).toBe(0n);
      expect(out(w)).toMatchObject({
        family: AF_INET6, ifindex: w.eth1.ifindex, dst: '2001:db8:1::fe', src: '2001:db8:9::1', rt_metric: 1024,
        dmac: 'aa:bb:cc:00:00:06', smac: '02:11:11:11:11:11', mtu_result: 1500, vlan: 0,
      });
      expect(lookup(w, engine, { ifindex: w.eth0.ifindex, dst: '2001:db8:dead::1' })).toBe(BigInt(BPF_FIB_LKUP_RET_BLACKHOLE));
      expect(lookup(w, engine, { ifindex: w.eth0.ifindex, dst: '2001:db8:99::1' })).toBe(BigInt(BPF_FIB_LKUP_RET_NOT_FWDED));
      expect(lookup(w, engine, { ifindex: w.eth0.ifindex, dst: 'fe80::99' })).toBe(BigInt(BPF_FIB_LKUP_RET_NOT_FWDED));
      expect(lookup(w, engine, { ifindex: w.eth0.ifindex, dst: '2001:db8:2::5', src: 'fe80::2' })).toBe(BigInt(BPF_FIB_LKUP_RET_NOT_FWDED));
      expect(lookup(w, engine, { ifindex: w.eth0.ifindex, dst: 'ff02::1' })).toBe(BigInt(BPF_FIB_LKUP_RET_NOT_FWDED));
      expect(lookup(w, engine, { ifindex: w.eth1.ifindex, dst: '2001:db8:1::1' })).toBe(BigInt(BPF_FIB_LKUP_RET_NOT_FWDED)); // local
      // eth2's MTU is 1200; IPv6 never goes below 1280 (IPV6_MIN_MTU).
      expect(lookup(w, engine, { ifindex: w.eth0.ifindex, dst: '2001:db8:3::9', tot_len: 1281 })).toBe(BigInt(BPF_FIB_LKUP_RET_FRAG_NEEDED));
      expect(out(w).mtu_result).toBe(1280);
      expect(lookup(w, engine, { ifindex: w.eth0.ifindex, dst: '2001:db8:3::9', tot_len: 1280 })).toBe(0n);
      expect(out(w)).toMatchObject({ ifindex: w.eth2.ifindex, dmac: 'aa:bb:cc:00:00:08' });
      expect(lookup(w, engine, { ifindex: w.eth0.ifindex, dst: '2001:db8:3::10' })).toBe(BigInt(BPF_FIB_LKUP_RET_NO_NEIGH));
      // SRC: the egress device's address; none on eth2 is NO_SRC_ADDR.
      expect(lookup(w, engine, { ifindex: w.eth0.ifindex, dst: '2001:db8:2::5' }, BPF_FIB_LOOKUP_SRC)).toBe(0n);
      expect(out(w).src).toBe('2001:db8:1::1');
      expect(lookup(w, engine, { ifindex: w.eth0.ifindex, dst: '2001:db8:3::9' }, BPF_FIB_LOOKUP_SRC)).toBe(9n);
      // Forwarding off on the ingress device.
      w.eth0.ipv6_forwarding = false;
      expect(lookup(w, engine, { ifindex: w.eth0.ifindex, dst: '2001:db8:2::5' })).toBe(BigInt(BPF_FIB_LKUP_RET_FWD_DISABLED));
    });
  }
});

describe('the FIB and neighbour table', () => {
  it('parses and prints addresses as iproute2 does', () => {
    expect(formatIpv4(parseIpv4('192.0.2.1'))).toBe('192.0.2.1');
    expect(formatIpv6(parseIpv6('2001:db8::1'))).toBe('2001:db8::1');
    expect(formatIpv6(parseIpv6('::'))).toBe('::');
    expect(formatIpv6(parseIpv6('::ffff:192.0.2.1'))).toBe('::ffff:c000:201');
    expect(formatIpv6(parseIpv6('1:0:0:2:0:0:0:3'))).toBe('1:0:0:2::3');
    expect(formatIpv6(parseIpv6('fe80:0:0:0:0:0:0:1'))).toBe('fe80::1');
    for (const bad of ['1.2.3', '256.1.1.1', '1.2.3.4.5', 'a.b.c.d']) expect(() => parseIpv4(bad)).toThrow(/not an IPv4 address/);
    for (const bad of ['1::2::3', '12345::', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9', 'g::1']) expect(() => parseIpv6(bad)).toThrow(/not an IPv6 address/);
  });

  it('refuses bad routes with the kernel\'s errnos', () => {
    const h: Host = makeHost();
    h.netdevs.register({ name: 'eth0' });
    const code = (fn: () => unknown): string => {
      try { fn(); } catch (e) { return (e as BpfError).errno; }
      return 'ok';
    };
    expect(code(() => h.fib.addRoute({ dst: '10.0.0.0/8', dev: 'eth0' }))).toBe('ok');
    expect(code(() => h.fib.addRoute({ dst: '10.0.0.0/8', dev: 'eth0' }))).toBe('EEXIST');
    expect(code(() => h.fib.addRoute({ dst: '10.0.0.0/8', dev: 'eth0', metric: 1 }))).toBe('ok');
    expect(code(() => h.fib.addRoute({ dst: '10.0.0.0/33', dev: 'eth0' }))).toBe('EINVAL');
    expect(code(() => h.fib.addRoute({ dst: '11.0.0.0/8', dev: 'eth9' }))).toBe('ENODEV');
    expect(code(() => h.fib.addRoute({ dst: '11.0.0.0/8' }))).toBe('EINVAL');
    expect(code(() => h.fib.addRoute({ dst: '11.0.0.0/8', type: 'blackhole', via: '1.1.1.1' }))).toBe('EINVAL');
    expect(code(() => h.fib.addRoute({ dst: '2001:db8::/32', via: '10.0.0.1', dev: 'eth0' }))).toBe('EINVAL');
    expect(code(() => h.fib.addNeigh('eth0', '10.0.0.2', 'aa:bb'))).toBe('EINVAL');
    // The host bits of a prefix are cleared, as `ip route` does.
    const r = h.fib.addRoute({ dst: '10.1.2.3/16', dev: 'eth0' });
    expect(r.family === AF_INET && formatIpv4(r.dst)).toBe('10.1.0.0');
    const lookup = h.fib.fib_lookup4(parseIpv4('10.1.200.200'), 0);
    expect(lookup).toBe(r);
    h.fib.deleteRoute(r);
    expect(h.fib.fib_lookup4(parseIpv4('10.1.200.200'), 0)).not.toBe(r);
  });

  it('registers devices as register_netdevice does', () => {
    const h = makeHost();
    const code = (fn: () => unknown): string => {
      try { fn(); } catch (e) { return (e as BpfError).errno; }
      return 'ok';
    };
    expect(h.netdevs.loopback.ifindex).toBe(1);
    const a = h.netdevs.register({ name: 'nfp0', rxQueues: 8, mtu: 9000 });
    expect([a.ifindex, a.num_rx_queues, a.mtu, a.address]).toEqual([2, 8, 9000, '02:00:00:00:00:02']);
    expect(code(() => h.netdevs.register({ name: 'nfp0' }))).toBe('EEXIST');
    expect(code(() => h.netdevs.register({ name: 'x', ifindex: 2 }))).toBe('EBUSY');
    expect(code(() => h.netdevs.register({ name: 'bad/name' }))).toBe('EINVAL');
    expect(code(() => h.netdevs.register({ name: 'a'.repeat(16) }))).toBe('EINVAL');
    expect(code(() => h.netdevs.register({ name: 'tiny', mtu: 67 }))).toBe('EINVAL');
    expect(code(() => h.netdevs.register({ name: 'mac', mac: '01:02:03' }))).toBe('EINVAL');
    expect(code(() => h.netdevs.unregister(1))).toBe('EINVAL');
    h.netdevs.unregister(2);
    expect(h.netdevs.dev_get_by_index(2)).toBeUndefined();
    expect(h.netdevs.register({ name: 'nfp1' }).ifindex).toBe(3);
  });
});
