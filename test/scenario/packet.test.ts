// The scenario packet builder against the test-side reference builder (test/oracle/packets.ts, written
// separately from the RFCs), checksums that verify, field ranges, and refusals; the pcap reader and
// writer round trip and refuse malformed files with a reason.

import { describe, expect, it } from 'vitest';
import { MAX_COMBINATIONS, buildPackets, packetCount, parseIpv6, type PacketSpec } from '../../src/scenario/packet.js';
import { PCAP_MAGIC_NS, readPcap, writePcap } from '../../src/scenario/pcap.js';
import {
  checksumVerifies, icmp4Frame, internetChecksum, parseIpv6 as refIpv6, tcp4Frame, udp4Frame, udp6Frame,
} from '../oracle/packets.js';

const one = (p: PacketSpec): Uint8Array => {
  const f = buildPackets(p);
  expect(f.length).toBe(1);
  return f[0]!;
};

describe('packet builder', () => {
  it('builds the same Ethernet/IPv4/UDP, TCP and ICMP frames as the reference builder', () => {
    const payload = Uint8Array.from({ length: 21 }, (_, i) => i * 7);
    expect(one({ ipv4: { src: '10.1.2.3', dst: '192.0.2.9', ttl: 17, id: 0x1234, df: true }, udp: { sport: 53, dport: 4000 }, payload }))
      .toEqual(udp4Frame({ src: '10.1.2.3', dst: '192.0.2.9', ttl: 17, id: 0x1234, df: true, srcPort: 53, dstPort: 4000, payload }));
    expect(one({ ipv4: {}, tcp: { sport: 40000, dport: 80, seq: 1, flags: ['syn', 'psh'] } })).toEqual(tcp4Frame({ dstPort: 80, flags: { syn: true, psh: true } }));
    // (the reference's frame options give the IPv4 header the same id as the echo)
    expect(one({ ipv4: { id: 7 }, icmp: { id: 7, seq: 3 } })).toEqual(icmp4Frame({ id: 7, seq: 3 }));
    expect(one({ ipv6: {}, udp: { dport: 9 }, payload })).toEqual(udp6Frame({ dstPort: 9, payload }));
    expect(one({ vlan: [{ id: 100, tpid: 0x88a8 }, { id: 200 }], ipv4: {}, udp: {} })).toEqual(udp4Frame({ vlans: [{ id: 100, tpid: 0x88a8 }, 200] }));
  });

  it('computes checksums that verify, and breaks them on request', () => {
    const f = one({ ipv4: { options: Uint8Array.of(1, 1, 1, 0) }, tcp: { flags: ['syn', 'ack'] }, payload: Uint8Array.of(1, 2, 3) });
    expect(f[14]).toBe(0x46);
    expect(checksumVerifies(f, 14, 14 + 24)).toBe(true);
    const bad = one({ ipv4: { checksum: 'bad' }, udp: {} });
    expect(checksumVerifies(bad, 14, 34)).toBe(false);
    const icmp6 = one({ ipv6: {}, icmp: {} });
    expect(icmp6[14 + 40]).toBe(128);
    expect(icmp6[20]).toBe(58);
    expect(one({ ipv4: {}, udp: { checksum: 'none' } }).subarray(40, 42)).toEqual(Uint8Array.of(0, 0));
    expect(internetChecksum(one({ ipv4: {}, udp: {} }), 14, 34)).toBe(0);
  });

  it('pads to a size, and takes raw frames', () => {
    const f = one({ ipv4: {}, udp: {}, size: 128 });
    expect(f.length).toBe(128);
    expect(f.subarray(0, 42)).toEqual(udp4Frame());
    expect(f.subarray(42).every((b) => b === 0)).toBe(true);
    expect(buildPackets({ raw: Uint8Array.of(1, 2, 3), count: 3 })).toEqual([Uint8Array.of(1, 2, 3), Uint8Array.of(1, 2, 3), Uint8Array.of(1, 2, 3)]);
    expect(() => buildPackets({ ipv4: {}, udp: {}, size: 20 })).toThrow(/more than size 20/);
  });

  it('a range stands for each of its values, the last field varying fastest, each repeated count times', () => {
    const spec: PacketSpec = { ipv4: { src: { from: '10.0.0.1', to: '10.0.0.3' } }, udp: { dport: { from: 80, to: 81 } }, count: 2 };
    const fs = buildPackets(spec);
    expect(packetCount(spec)).toBe(12);
    expect(fs.length).toBe(12);
    const order = fs.map((f) => `${f[29]}:${(f[36]! << 8) | f[37]!}`);
    expect(order).toEqual(['1:80', '1:80', '1:81', '1:81', '2:80', '2:80', '2:81', '2:81', '3:80', '3:80', '3:81', '3:81']);
    expect(fs[0]).toEqual(udp4Frame({ src: '10.0.0.1', dstPort: 80 }));
    expect(fs[11]).toEqual(udp4Frame({ src: '10.0.0.3', dstPort: 81 }));
    // Addresses count across octets.
    const macs = buildPackets({ eth: { src: { from: '02:00:00:00:00:ff', to: '02:00:00:00:01:00' } } });
    expect(macs.map((f) => f.subarray(10, 12))).toEqual([Uint8Array.of(0, 0xff), Uint8Array.of(1, 0)]);
  });

  it('refuses what cannot be built, naming the field', () => {
    expect(() => buildPackets({ ipv4: { src: '10.0.0.300' }, udp: {} })).toThrow(/'10.0.0.300' is not an IPv4 address/);
    expect(() => buildPackets({ udp: {} })).toThrow(/udp needs an ipv4 or ipv6 layer/);
    expect(() => buildPackets({ ipv4: {}, udp: { dport: 70000 } })).toThrow(/udp.dport 70000/);
    expect(() => buildPackets({ ipv4: {}, ipv6: {} })).toThrow(/not both/);
    expect(() => buildPackets({ ipv4: {}, udp: { dport: { from: 9, to: 5 } } })).toThrow(/range/);
    expect(() => buildPackets({ ipv4: { src: { from: '0.0.0.0', to: '255.255.255.255' } } })).toThrow(new RegExp(`more than ${MAX_COMBINATIONS}`));
    expect(() => buildPackets({ ipv6: {}, udp: { checksum: 'none' } })).toThrow(/IPv6/);
    expect(() => buildPackets({ ipv4: {}, tcp: { flags: ['bogus'] } })).toThrow(/tcp flag 'bogus'/);
  });

  it('parses IPv6 text forms as the reference does', () => {
    for (const a of ['::', '::1', 'fd00::2', '2001:db8:0:0:1:0:0:1', 'fe80::1:2:3:4', '1:2:3:4:5:6:7:8']) expect(parseIpv6(a)).toEqual(refIpv6(a));
    expect(parseIpv6('::ffff:10.0.0.1')).toEqual(Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1));
    for (const bad of ['1::2::3', '12345::', '1:2:3:4:5:6:7', 'g::1', ':']) expect(() => parseIpv6(bad)).toThrow(/not an IPv6 address/);
  });
});

describe('pcap', () => {
  it('round-trips frames with their timestamps', () => {
    const frames = [udp4Frame(), tcp4Frame(), new Uint8Array(1)];
    const file = writePcap(frames, { startNs: 1_500_000_000_000, stepNs: 2000 });
    const p = readPcap(file);
    expect(p.linktype).toBe(1);
    expect(p.records.map((r) => r.data)).toEqual(frames);
    expect(p.records.map((r) => [r.sec, r.nsec])).toEqual([[1500, 0], [1500, 2000], [1500, 4000]]);
  });

  it('reads big-endian and nanosecond files', () => {
    const le = writePcap([udp4Frame()]);
    // The same file with every header field byte-swapped.
    const be = Uint8Array.from(le);
    const dv = new DataView(be.buffer);
    const swap32 = (o: number): void => dv.setUint32(o, new DataView(le.buffer).getUint32(o, true), false);
    const swap16 = (o: number): void => dv.setUint16(o, new DataView(le.buffer).getUint16(o, true), false);
    [0, 8, 12, 16, 20, 24, 28, 32, 36].forEach(swap32);
    [4, 6].forEach(swap16);
    expect(readPcap(be).records[0]!.data).toEqual(udp4Frame());
    const ns = Uint8Array.from(le);
    new DataView(ns.buffer).setUint32(0, PCAP_MAGIC_NS, true);
    new DataView(ns.buffer).setUint32(28, 999_999_999, true);
    expect(readPcap(ns).records[0]!.nsec).toBe(999_999_999);
  });

  it('refuses malformed files with a reason', () => {
    const good = writePcap([udp4Frame(), udp4Frame()]);
    expect(() => readPcap(good.subarray(0, 10))).toThrow(/24-byte header/);
    expect(() => readPcap(good.subarray(0, good.length - 1))).toThrow(/record 2 at byte \d+: 42 bytes announced/);
    expect(() => readPcap(good.subarray(0, 24 + 10))).toThrow(/record 1 at byte 24: its header is cut short/);
    const ng = Uint8Array.from(good);
    new DataView(ng.buffer).setUint32(0, 0x0a0d0d0a, true);
    expect(() => readPcap(ng)).toThrow(/pcapng/);
    const lt = Uint8Array.from(good);
    new DataView(lt.buffer).setUint32(20, 105, true);
    expect(() => readPcap(lt)).toThrow(/link type 105 is not Ethernet/);
    expect(() => readPcap(new Uint8Array(24))).toThrow(/not a pcap file/);
    // A fixed-seed fuzz: any corruption is an Error with a message, never a crash or a hang.
    let seed = 7;
    for (let i = 0; i < 500; i++) {
      const f = Uint8Array.from(good);
      for (let k = 0; k < 3; k++) {
        seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
        f[seed % f.length] = seed >>> 24;
      }
      try {
        readPcap(f.subarray(0, f.length - (seed % 7)));
      } catch (e) {
        expect(e).toBeInstanceOf(Error);
        expect((e as Error).message.length).toBeGreaterThan(5);
      }
    }
  });
});
