// The test-frame builder: byte layouts and checksums, checked against published examples and
// against a second, independent checksum computation here (words read with DataView).

import { describe, expect, it } from 'vitest';
import {
  ETH_FRAME_LEN,
  ETH_P_8021AD,
  ETH_P_8021Q,
  ETH_P_IP,
  ETH_P_IPV6,
  IPPROTO_ICMPV6,
  IPPROTO_TCP,
  IPPROTO_UDP,
  checksumVerifies,
  hex,
  icmp4Frame,
  icmp6Frame,
  internetChecksum,
  ipv4,
  ipv4ToNumber,
  padFrame,
  parseIpv6,
  parseMac,
  sealChecksum,
  tcp4Frame,
  tcp6Frame,
  truncateFrame,
  udp4Frame,
  udp4FrameOfLength,
  udp6Frame,
} from './packets.js';

/** Big-endian 16-bit words summed with end-around carry, by a route unlike packets.ts's. */
function sum16(parts: Uint8Array[]): number {
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length + (p.length % 2), 0));
  let off = 0;
  for (const p of parts) {
    all.set(p, off);
    off += p.length + (p.length % 2);
  }
  const dv = new DataView(all.buffer);
  let s = 0;
  for (let i = 0; i < all.length; i += 2) {
    s += dv.getUint16(i);
    s = (s & 0xffff) + (s >>> 16);
  }
  return s;
}

function u16(n: number): Uint8Array {
  return Uint8Array.of(n >> 8, n & 0xff);
}

describe('IPv4', () => {
  it('reproduces the well-known example header (checksum 0xb861)', () => {
    const pkt = ipv4(
      { src: '192.168.0.1', dst: '192.168.0.199', protocol: IPPROTO_UDP, ttl: 64, df: true, totalLength: 0x73 },
      new Uint8Array(0),
    );
    expect(hex(pkt)).toBe('45 00 00 73 00 00 40 00 40 11 b8 61 c0 a8 00 01 c0 a8 00 c7');
    expect(internetChecksum(pkt)).toBe(0);
  });

  it('pads options to a multiple of 4 and counts them in IHL', () => {
    const pkt = ipv4({ protocol: 6, options: Uint8Array.of(1, 1, 1) }, new Uint8Array(3));
    expect(pkt[0]).toBe(0x46);
    expect(pkt.length).toBe(24 + 3);
    expect((pkt[2]! << 8) | pkt[3]!).toBe(27);
    expect(checksumVerifies(pkt, 0, 24)).toBe(true);
  });

  it('encodes flags and fragment offset', () => {
    const frame = udp4Frame({ mf: true, fragOffset: 185, df: false });
    expect(hex(frame.subarray(14 + 6, 14 + 8))).toBe(hex(u16(0x2000 | 185)));
  });
});

describe('L4 checksums include the pseudo-header', () => {
  it('UDP over IPv4', () => {
    const frame = udp4Frame({ src: '10.1.1.1', dst: '10.2.2.2', srcPort: 53, dstPort: 33333, payload: Uint8Array.of(1, 2, 3) });
    const seg = frame.subarray(34);
    expect(hex(seg.subarray(0, 6))).toBe('00 35 82 35 00 0b');
    const pseudo = [Uint8Array.of(10, 1, 1, 1, 10, 2, 2, 2, 0, IPPROTO_UDP), u16(seg.length)];
    expect(sum16([...pseudo, seg])).toBe(0xffff);
  });

  it('TCP over IPv4, with flags', () => {
    const frame = tcp4Frame({ flags: { syn: true, ack: true }, payload: Uint8Array.of(9, 9, 9, 9, 9) });
    const seg = frame.subarray(34);
    expect(seg[12]).toBe(5 << 4);
    expect(seg[13]).toBe(0x12);
    const pseudo = [Uint8Array.of(10, 0, 0, 1, 10, 0, 0, 2, 0, IPPROTO_TCP), u16(seg.length)];
    expect(sum16([...pseudo, seg])).toBe(0xffff);
  });

  it('UDP, TCP and ICMPv6 over IPv6', () => {
    for (const [frame, proto] of [
      [udp6Frame({ payload: Uint8Array.of(7) }), IPPROTO_UDP],
      [tcp6Frame(), IPPROTO_TCP],
      [icmp6Frame({ payload: Uint8Array.of(1, 2) }), IPPROTO_ICMPV6],
    ] as const) {
      expect((frame[12]! << 8) | frame[13]!).toBe(ETH_P_IPV6);
      expect(frame[14]! >> 4).toBe(6);
      expect(frame[14 + 6]).toBe(proto);
      const seg = frame.subarray(54);
      expect((frame[18]! << 8) | frame[19]!).toBe(seg.length);
      const pseudo = [frame.subarray(22, 54), Uint8Array.of(0, 0), u16(seg.length), Uint8Array.of(0, 0, 0, proto)];
      expect(sum16([...pseudo, seg])).toBe(0xffff);
    }
  });

  it('ICMP echo over IPv4', () => {
    const frame = icmp4Frame({ id: 0x1234, seq: 7, payload: Uint8Array.of(0xab) });
    expect(frame[14 + 9]).toBe(1);
    expect(checksumVerifies(frame, 14, 34)).toBe(true);
    expect(checksumVerifies(frame, 34)).toBe(true);
  });
});

describe('Ethernet', () => {
  it('places addresses, EtherType and VLAN tags', () => {
    const frame = udp4Frame({ srcMac: '0a:0b:0c:0d:0e:0f', dstMac: 'ff:ff:ff:ff:ff:ff', vlans: [{ id: 100, tpid: ETH_P_8021AD, pcp: 5 }, 7] });
    expect(hex(frame.subarray(0, 12))).toBe('ff ff ff ff ff ff 0a 0b 0c 0d 0e 0f');
    expect(hex(frame.subarray(12, 22))).toBe(hex(Uint8Array.of(...u16(ETH_P_8021AD), ...u16((5 << 13) | 100), ...u16(ETH_P_8021Q), ...u16(7), ...u16(ETH_P_IP))));
    expect(frame[22]).toBe(0x45);
  });

  it('builds exact lengths, pads and truncates', () => {
    const full = udp4FrameOfLength();
    expect(full.length).toBe(ETH_FRAME_LEN);
    expect((full[16]! << 8) | full[17]!).toBe(1500);
    expect(udp4FrameOfLength(64, { vlans: [1] }).length).toBe(64);
    const small = udp4Frame();
    expect(small.length).toBe(42);
    const padded = padFrame(small);
    expect(padded.length).toBe(60);
    expect(hex(padded.subarray(0, 42))).toBe(hex(small));
    expect(padded.subarray(42).every((b) => b === 0)).toBe(true);
    expect(truncateFrame(small, 20).length).toBe(20);
  });
});

describe('checksum sealing', () => {
  it('makes a prefix sum to 0xffff, odd lengths included', () => {
    for (const cover of [64, 65, 1500]) {
      const sealed = sealChecksum(udp4FrameOfLength(1514), cover, 40);
      expect(checksumVerifies(sealed, 0, cover)).toBe(true);
      expect(sum16([sealed.subarray(0, cover)])).toBe(0xffff);
    }
    expect(() => sealChecksum(udp4Frame(), 64, 41)).toThrow();
  });
});

describe('addresses', () => {
  it('parses MAC, IPv4 and IPv6 text', () => {
    expect(hex(parseMac('02:00:00:00:00:0a'))).toBe('02 00 00 00 00 0a');
    expect(ipv4ToNumber('10.0.0.1')).toBe(0x0a000001);
    expect(ipv4ToNumber('255.255.255.255')).toBe(0xffffffff);
    expect(hex(parseIpv6('::'))).toBe(hex(new Uint8Array(16)));
    expect(hex(parseIpv6('::1'))).toBe(hex(Uint8Array.of(...new Array<number>(15).fill(0), 1)));
    expect(hex(parseIpv6('fe80::1:2'))).toBe('fe 80 00 00 00 00 00 00 00 00 00 00 00 01 00 02');
    expect(hex(parseIpv6('1:2:3:4:5:6:7:8'))).toBe('00 01 00 02 00 03 00 04 00 05 00 06 00 07 00 08');
    for (const bad of ['1::2::3', '1:2:3', 'g::1', '1:2:3:4:5:6:7:8:9', '1:2:3:4::5:6:7:8']) {
      expect(() => parseIpv6(bad), bad).toThrow();
    }
    for (const bad of ['1.2.3', '1.2.3.256', 'a.b.c.d']) expect(() => ipv4ToNumber(bad), bad).toThrow();
    expect(() => parseMac('02:00:00:00:00')).toThrow();
  });
});
