// Test frames for XDP programs: Ethernet (with 802.1Q/802.1ad tags), IPv4 (with options), IPv6,
// UDP, TCP and ICMP/ICMPv6 echo, built the way the wire carries them (RFC 791, 8200, 768, 9293,
// 792, 4443; IEEE 802.3 and 802.1Q), with correct checksums. Every function is pure and returns a
// fresh Uint8Array, so a test can take a frame, break one byte, and keep the original.
//
// The one's-complement sum (RFC 1071) here is the test-side reference that the checksum programs in
// test/progs (xdp_loop, xdp_csum_frame, xdp_alu32, xdp_misc) are compared against.

export const ETH_P_IP = 0x0800;
export const ETH_P_ARP = 0x0806;
export const ETH_P_8021Q = 0x8100;
export const ETH_P_8021AD = 0x88a8;
export const ETH_P_IPV6 = 0x86dd;

export const IPPROTO_ICMP = 1;
export const IPPROTO_IPIP = 4;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_ICMPV6 = 58;

export const ETH_HLEN = 14;
export const VLAN_HLEN = 4;
export const IPV4_HLEN = 20;
export const IPV6_HLEN = 40;
export const UDP_HLEN = 8;
export const TCP_HLEN = 20;
/** Smallest Ethernet frame without the FCS; shorter frames are padded on the wire. */
export const ETH_ZLEN = 60;
/** A full-size frame: 1500 B of IP MTU plus the Ethernet header. */
export const ETH_FRAME_LEN = 1514;

export const DEFAULT_SRC_MAC = '02:00:00:00:00:01';
export const DEFAULT_DST_MAC = '02:00:00:00:00:02';
export const DEFAULT_SRC_IP = '10.0.0.1';
export const DEFAULT_DST_IP = '10.0.0.2';
export const DEFAULT_SRC_IP6 = 'fd00::1';
export const DEFAULT_DST_IP6 = 'fd00::2';

// ---------------------------------------------------------------------------------------------
// Addresses

export function parseMac(mac: string): Uint8Array {
  const parts = mac.split(':');
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{1,2}$/.test(p))) {
    throw new Error(`bad MAC address '${mac}'`);
  }
  return Uint8Array.from(parts, (p) => parseInt(p, 16));
}

export function parseIpv4(addr: string): Uint8Array {
  const parts = addr.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) {
    throw new Error(`bad IPv4 address '${addr}'`);
  }
  return Uint8Array.from(parts, Number);
}

/** RFC 4291 text form, with at most one "::"; no embedded IPv4 form. */
export function parseIpv6(addr: string): Uint8Array {
  const halves = addr.split('::');
  if (halves.length > 2) throw new Error(`bad IPv6 address '${addr}'`);
  const groups = (s: string): number[] => {
    if (s === '') return [];
    return s.split(':').map((g) => {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) throw new Error(`bad IPv6 address '${addr}'`);
      return parseInt(g, 16);
    });
  };
  const head = groups(halves[0] ?? '');
  const tail = halves.length === 2 ? groups(halves[1] ?? '') : [];
  const missing = 8 - head.length - tail.length;
  if ((halves.length === 1 && missing !== 0) || (halves.length === 2 && missing < 1)) {
    throw new Error(`bad IPv6 address '${addr}'`);
  }
  const all = [...head, ...new Array<number>(halves.length === 2 ? missing : 0).fill(0), ...tail];
  const out = new Uint8Array(16);
  all.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}

/** An IPv4 address as the u32 a BPF program sees after bpf_ntohl(). */
export function ipv4ToNumber(addr: string): number {
  const b = parseIpv4(addr);
  return ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
}

// ---------------------------------------------------------------------------------------------
// Checksums (RFC 1071)

/**
 * The 32-bit one's-complement accumulation of big-endian 16-bit words over bytes[start, end),
 * an odd last byte padded with zero, starting from `initial`. Not folded.
 */
export function onesComplementAdd(bytes: Uint8Array, start = 0, end = bytes.length, initial = 0): number {
  let sum = initial;
  let i = start;
  for (; i + 1 < end; i += 2) sum += (bytes[i]! << 8) | bytes[i + 1]!;
  if (i < end) sum += bytes[i]! << 8;
  // Fold as we go would also do; the sum of 750 words cannot overflow a double.
  return sum;
}

/** Folds a one's-complement accumulation to 16 bits (not complemented). */
export function foldSum(sum: number): number {
  let s = sum;
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return s;
}

/** The Internet checksum of bytes[start, end): the complement of the folded sum. */
export function internetChecksum(bytes: Uint8Array, start = 0, end = bytes.length, initial = 0): number {
  return ~foldSum(onesComplementAdd(bytes, start, end, initial)) & 0xffff;
}

/** True when bytes[start, end) carries a valid Internet checksum (they sum to 0xffff). */
export function checksumVerifies(bytes: Uint8Array, start = 0, end = bytes.length): boolean {
  return foldSum(onesComplementAdd(bytes, start, end)) === 0xffff;
}

/**
 * A copy of `frame` where the 16-bit word at `at` (even, inside [0, coverLength)) is set so that
 * the first `coverLength` bytes sum to 0xffff. That is what xdp_loop (64 B) and xdp_csum_frame
 * (whole frame) accept; flipping any other byte afterwards makes them drop.
 */
export function sealChecksum(frame: Uint8Array, coverLength: number, at: number): Uint8Array {
  if (at % 2 !== 0 || at < 0 || at + 2 > coverLength || coverLength > frame.length) {
    throw new Error(`sealChecksum: word at ${at} must be even and inside the first ${coverLength} of ${frame.length} bytes`);
  }
  const out = frame.slice();
  out[at] = 0;
  out[at + 1] = 0;
  const check = internetChecksum(out, 0, coverLength);
  out[at] = check >> 8;
  out[at + 1] = check & 0xff;
  return out;
}

function pseudoHeaderSum(src: Uint8Array, dst: Uint8Array, protocol: number, length: number): number {
  let sum = onesComplementAdd(src) + onesComplementAdd(dst) + protocol;
  if (src.length === 16) sum += Math.floor(length / 0x10000) + (length & 0xffff);
  else sum += length;
  return sum;
}

// ---------------------------------------------------------------------------------------------
// Layers. Each takes its payload and returns header + payload.

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

function put16(b: Uint8Array, off: number, v: number): void {
  b[off] = (v >> 8) & 0xff;
  b[off + 1] = v & 0xff;
}

function put32(b: Uint8Array, off: number, v: number): void {
  b[off] = (v >>> 24) & 0xff;
  b[off + 1] = (v >>> 16) & 0xff;
  b[off + 2] = (v >>> 8) & 0xff;
  b[off + 3] = v & 0xff;
}

export interface VlanTag {
  id: number;
  /** Priority code point, 0..7. */
  pcp?: number;
  /** The tag's own TPID; 0x8100 (802.1Q) unless given, 0x88a8 for an 802.1ad outer tag. */
  tpid?: number;
}

export interface EthernetOptions {
  dst?: string;
  src?: string;
  etherType: number;
  /** Outermost first. */
  vlans?: readonly (number | VlanTag)[];
}

export function ethernet(opts: EthernetOptions, payload: Uint8Array): Uint8Array {
  const vlans = (opts.vlans ?? []).map((v) => (typeof v === 'number' ? { id: v } : v));
  const hdr = new Uint8Array(ETH_HLEN + VLAN_HLEN * vlans.length);
  hdr.set(parseMac(opts.dst ?? DEFAULT_DST_MAC), 0);
  hdr.set(parseMac(opts.src ?? DEFAULT_SRC_MAC), 6);
  let off = 12;
  for (const tag of vlans) {
    if (tag.id < 0 || tag.id > 4095) throw new Error(`VLAN id ${tag.id} out of range`);
    put16(hdr, off, tag.tpid ?? ETH_P_8021Q);
    put16(hdr, off + 2, ((tag.pcp ?? 0) << 13) | tag.id);
    off += VLAN_HLEN;
  }
  put16(hdr, off, opts.etherType);
  return concat(hdr, payload);
}

export interface Ipv4Options {
  src?: string;
  dst?: string;
  protocol: number;
  ttl?: number;
  tos?: number;
  id?: number;
  /** Don't Fragment. */
  df?: boolean;
  /** More Fragments. */
  mf?: boolean;
  /** Fragment offset in 8-byte units. */
  fragOffset?: number;
  /** Raw option bytes; padded with End-of-Options to a multiple of 4. */
  options?: Uint8Array;
  /** Overrides the computed total length (for malformed-length tests). */
  totalLength?: number;
  /** Overrides the computed header checksum (for bad-checksum tests). */
  checksum?: number;
}

export function ipv4(opts: Ipv4Options, payload: Uint8Array): Uint8Array {
  const optLen = Math.ceil((opts.options?.length ?? 0) / 4) * 4;
  const hlen = IPV4_HLEN + optLen;
  if (hlen > 60) throw new Error('IPv4 options longer than 40 bytes');
  const hdr = new Uint8Array(hlen);
  hdr[0] = 0x40 | (hlen / 4);
  hdr[1] = opts.tos ?? 0;
  put16(hdr, 2, opts.totalLength ?? hlen + payload.length);
  put16(hdr, 4, opts.id ?? 0);
  put16(hdr, 6, (opts.df ? 0x4000 : 0) | (opts.mf ? 0x2000 : 0) | (opts.fragOffset ?? 0));
  hdr[8] = opts.ttl ?? 64;
  hdr[9] = opts.protocol;
  hdr.set(parseIpv4(opts.src ?? DEFAULT_SRC_IP), 12);
  hdr.set(parseIpv4(opts.dst ?? DEFAULT_DST_IP), 16);
  if (opts.options) hdr.set(opts.options, IPV4_HLEN);
  put16(hdr, 10, opts.checksum ?? internetChecksum(hdr));
  return concat(hdr, payload);
}

export interface Ipv6Options {
  src?: string;
  dst?: string;
  nextHeader: number;
  hopLimit?: number;
  trafficClass?: number;
  flowLabel?: number;
}

export function ipv6(opts: Ipv6Options, payload: Uint8Array): Uint8Array {
  const hdr = new Uint8Array(IPV6_HLEN);
  const tc = opts.trafficClass ?? 0;
  put32(hdr, 0, ((6 << 28) | (tc << 20) | ((opts.flowLabel ?? 0) & 0xfffff)) >>> 0);
  put16(hdr, 4, payload.length);
  hdr[6] = opts.nextHeader;
  hdr[7] = opts.hopLimit ?? 64;
  hdr.set(parseIpv6(opts.src ?? DEFAULT_SRC_IP6), 8);
  hdr.set(parseIpv6(opts.dst ?? DEFAULT_DST_IP6), 24);
  return concat(hdr, payload);
}

/** The addresses the L4 checksum covers (the pseudo-header); v4 or v6 by their length. */
export interface PseudoHeader {
  src: Uint8Array;
  dst: Uint8Array;
}

export function udp(
  opts: { srcPort: number; dstPort: number },
  payload: Uint8Array,
  pseudo: PseudoHeader,
): Uint8Array {
  const seg = new Uint8Array(UDP_HLEN + payload.length);
  put16(seg, 0, opts.srcPort);
  put16(seg, 2, opts.dstPort);
  put16(seg, 4, seg.length);
  seg.set(payload, UDP_HLEN);
  let check = internetChecksum(seg, 0, seg.length, pseudoHeaderSum(pseudo.src, pseudo.dst, IPPROTO_UDP, seg.length));
  // RFC 768: a computed zero goes on the wire as all ones; zero means "no checksum".
  if (check === 0) check = 0xffff;
  put16(seg, 6, check);
  return seg;
}

export interface TcpFlags {
  fin?: boolean;
  syn?: boolean;
  rst?: boolean;
  psh?: boolean;
  ack?: boolean;
  urg?: boolean;
}

export interface TcpOptions {
  srcPort: number;
  dstPort: number;
  seq?: number;
  ackNum?: number;
  flags?: TcpFlags;
  window?: number;
  /** Raw TCP option bytes; padded with End-of-Options to a multiple of 4. */
  options?: Uint8Array;
}

export function tcp(opts: TcpOptions, payload: Uint8Array, pseudo: PseudoHeader): Uint8Array {
  const optLen = Math.ceil((opts.options?.length ?? 0) / 4) * 4;
  const hlen = TCP_HLEN + optLen;
  const seg = new Uint8Array(hlen + payload.length);
  const f = opts.flags ?? { ack: true };
  put16(seg, 0, opts.srcPort);
  put16(seg, 2, opts.dstPort);
  put32(seg, 4, opts.seq ?? 1);
  put32(seg, 8, opts.ackNum ?? 0);
  seg[12] = (hlen / 4) << 4;
  seg[13] =
    (f.fin ? 0x01 : 0) | (f.syn ? 0x02 : 0) | (f.rst ? 0x04 : 0) | (f.psh ? 0x08 : 0) | (f.ack ? 0x10 : 0) | (f.urg ? 0x20 : 0);
  put16(seg, 14, opts.window ?? 65535);
  if (opts.options) seg.set(opts.options, TCP_HLEN);
  seg.set(payload, hlen);
  put16(seg, 16, internetChecksum(seg, 0, seg.length, pseudoHeaderSum(pseudo.src, pseudo.dst, IPPROTO_TCP, seg.length)));
  return seg;
}

/** ICMP (v4) echo request (type 8) or reply (type 0). */
export function icmpEcho(opts: { type?: 0 | 8; id?: number; seq?: number }, payload: Uint8Array): Uint8Array {
  const msg = new Uint8Array(8 + payload.length);
  msg[0] = opts.type ?? 8;
  put16(msg, 4, opts.id ?? 1);
  put16(msg, 6, opts.seq ?? 1);
  msg.set(payload, 8);
  put16(msg, 2, internetChecksum(msg));
  return msg;
}

/** ICMPv6 echo request (128) or reply (129); the checksum covers the IPv6 pseudo-header. */
export function icmp6Echo(
  opts: { type?: 128 | 129; id?: number; seq?: number },
  payload: Uint8Array,
  pseudo: PseudoHeader,
): Uint8Array {
  const msg = new Uint8Array(8 + payload.length);
  msg[0] = opts.type ?? 128;
  put16(msg, 4, opts.id ?? 1);
  put16(msg, 6, opts.seq ?? 1);
  msg.set(payload, 8);
  put16(msg, 2, internetChecksum(msg, 0, msg.length, pseudoHeaderSum(pseudo.src, pseudo.dst, IPPROTO_ICMPV6, msg.length)));
  return msg;
}

// ---------------------------------------------------------------------------------------------
// Whole frames

export interface FrameOptions {
  srcMac?: string;
  dstMac?: string;
  vlans?: readonly (number | VlanTag)[];
  src?: string;
  dst?: string;
  ttl?: number;
  tos?: number;
  id?: number;
  df?: boolean;
  mf?: boolean;
  fragOffset?: number;
  ipOptions?: Uint8Array;
  payload?: Uint8Array;
}

export interface PortOptions {
  srcPort?: number;
  dstPort?: number;
}

function ethFor(o: FrameOptions, etherType: number, payload: Uint8Array): Uint8Array {
  const eo: EthernetOptions = { etherType };
  if (o.dstMac !== undefined) eo.dst = o.dstMac;
  if (o.srcMac !== undefined) eo.src = o.srcMac;
  if (o.vlans !== undefined) eo.vlans = o.vlans;
  return ethernet(eo, payload);
}

function ipv4For(o: FrameOptions, protocol: number, payload: Uint8Array): Uint8Array {
  const io: Ipv4Options = { protocol, src: o.src ?? DEFAULT_SRC_IP, dst: o.dst ?? DEFAULT_DST_IP };
  if (o.ttl !== undefined) io.ttl = o.ttl;
  if (o.tos !== undefined) io.tos = o.tos;
  if (o.id !== undefined) io.id = o.id;
  if (o.df !== undefined) io.df = o.df;
  if (o.mf !== undefined) io.mf = o.mf;
  if (o.fragOffset !== undefined) io.fragOffset = o.fragOffset;
  if (o.ipOptions !== undefined) io.options = o.ipOptions;
  return ethFor(o, ETH_P_IP, ipv4(io, payload));
}

function ipv6For(o: FrameOptions, nextHeader: number, payload: Uint8Array): Uint8Array {
  const io: Ipv6Options = { nextHeader, src: o.src ?? DEFAULT_SRC_IP6, dst: o.dst ?? DEFAULT_DST_IP6 };
  if (o.ttl !== undefined) io.hopLimit = o.ttl;
  if (o.tos !== undefined) io.trafficClass = o.tos;
  return ethFor(o, ETH_P_IPV6, ipv6(io, payload));
}

function pseudo4(o: FrameOptions): PseudoHeader {
  return { src: parseIpv4(o.src ?? DEFAULT_SRC_IP), dst: parseIpv4(o.dst ?? DEFAULT_DST_IP) };
}

function pseudo6(o: FrameOptions): PseudoHeader {
  return { src: parseIpv6(o.src ?? DEFAULT_SRC_IP6), dst: parseIpv6(o.dst ?? DEFAULT_DST_IP6) };
}

const EMPTY = new Uint8Array(0);

/** Ethernet / IPv4 / UDP. Defaults: 10.0.0.1:1234 -> 10.0.0.2:5678, empty payload. */
export function udp4Frame(o: FrameOptions & PortOptions = {}): Uint8Array {
  const seg = udp({ srcPort: o.srcPort ?? 1234, dstPort: o.dstPort ?? 5678 }, o.payload ?? EMPTY, pseudo4(o));
  return ipv4For(o, IPPROTO_UDP, seg);
}

/** Ethernet / IPv4 / TCP. Defaults: 10.0.0.1:40000 -> 10.0.0.2:80, ACK. */
export function tcp4Frame(o: FrameOptions & PortOptions & { flags?: TcpFlags; seq?: number; ackNum?: number } = {}): Uint8Array {
  const to: TcpOptions = { srcPort: o.srcPort ?? 40000, dstPort: o.dstPort ?? 80 };
  if (o.flags !== undefined) to.flags = o.flags;
  if (o.seq !== undefined) to.seq = o.seq;
  if (o.ackNum !== undefined) to.ackNum = o.ackNum;
  return ipv4For(o, IPPROTO_TCP, tcp(to, o.payload ?? EMPTY, pseudo4(o)));
}

/** Ethernet / IPv4 / ICMP echo request. */
export function icmp4Frame(o: FrameOptions & { id?: number; seq?: number } = {}): Uint8Array {
  const eo: { id?: number; seq?: number } = {};
  if (o.id !== undefined) eo.id = o.id;
  if (o.seq !== undefined) eo.seq = o.seq;
  return ipv4For(o, IPPROTO_ICMP, icmpEcho(eo, o.payload ?? EMPTY));
}

/** Ethernet / IPv6 / UDP. Defaults: [fd00::1]:1234 -> [fd00::2]:5678. */
export function udp6Frame(o: FrameOptions & PortOptions = {}): Uint8Array {
  const seg = udp({ srcPort: o.srcPort ?? 1234, dstPort: o.dstPort ?? 5678 }, o.payload ?? EMPTY, pseudo6(o));
  return ipv6For(o, IPPROTO_UDP, seg);
}

/** Ethernet / IPv6 / TCP. */
export function tcp6Frame(o: FrameOptions & PortOptions & { flags?: TcpFlags } = {}): Uint8Array {
  const to: TcpOptions = { srcPort: o.srcPort ?? 40000, dstPort: o.dstPort ?? 80 };
  if (o.flags !== undefined) to.flags = o.flags;
  return ipv6For(o, IPPROTO_TCP, tcp(to, o.payload ?? EMPTY, pseudo6(o)));
}

/** Ethernet / IPv6 / ICMPv6 echo request. */
export function icmp6Frame(o: FrameOptions & { id?: number; seq?: number } = {}): Uint8Array {
  const eo: { id?: number; seq?: number } = {};
  if (o.id !== undefined) eo.id = o.id;
  if (o.seq !== undefined) eo.seq = o.seq;
  return ipv6For(o, IPPROTO_ICMPV6, icmp6Echo(eo, o.payload ?? EMPTY, pseudo6(o)));
}

/** An ARP request (who-has dst tell src), for "not IP" cases. */
export function arpFrame(o: { srcMac?: string; src?: string; dst?: string; vlans?: readonly (number | VlanTag)[] } = {}): Uint8Array {
  const arp = new Uint8Array(28);
  put16(arp, 0, 1); // Ethernet
  put16(arp, 2, ETH_P_IP);
  arp[4] = 6;
  arp[5] = 4;
  put16(arp, 6, 1); // request
  arp.set(parseMac(o.srcMac ?? DEFAULT_SRC_MAC), 8);
  arp.set(parseIpv4(o.src ?? DEFAULT_SRC_IP), 14);
  arp.set(parseIpv4(o.dst ?? DEFAULT_DST_IP), 24);
  const eo: EthernetOptions = { etherType: ETH_P_ARP, dst: 'ff:ff:ff:ff:ff:ff' };
  if (o.srcMac !== undefined) eo.src = o.srcMac;
  if (o.vlans !== undefined) eo.vlans = o.vlans;
  return ethernet(eo, arp);
}

/** A deterministic payload of `length` bytes (0, 1, 2, ... mod 251, so no period of 256). */
export function patternPayload(length: number, seed = 0): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (i + seed) % 251;
  return out;
}

/**
 * An Ethernet / IPv4 / UDP frame of exactly `frameLength` bytes (default 1514, a full 1500 B IP
 * packet), its payload a pattern.
 */
export function udp4FrameOfLength(frameLength = ETH_FRAME_LEN, o: FrameOptions & PortOptions = {}): Uint8Array {
  const vlanBytes = VLAN_HLEN * (o.vlans?.length ?? 0);
  const optBytes = Math.ceil((o.ipOptions?.length ?? 0) / 4) * 4;
  const overhead = ETH_HLEN + vlanBytes + IPV4_HLEN + optBytes + UDP_HLEN;
  if (frameLength < overhead) throw new Error(`a UDP frame needs at least ${overhead} bytes`);
  return udp4Frame({ ...o, payload: patternPayload(frameLength - overhead) });
}

/** Ethernet minimum-size padding: zero bytes up to `length` (default 60). IP lengths are unchanged. */
export function padFrame(frame: Uint8Array, length = ETH_ZLEN): Uint8Array {
  if (frame.length >= length) return frame.slice();
  const out = new Uint8Array(length);
  out.set(frame);
  return out;
}

/** The first `length` bytes: a frame cut short, as a snap length or a broken device would. */
export function truncateFrame(frame: Uint8Array, length: number): Uint8Array {
  return frame.slice(0, Math.max(0, Math.min(length, frame.length)));
}

/** Hex dump for assertion messages: "45 00 00 1c ...". */
export function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
}

/**
 * The differential tests' packet sequence (host vs the kernel, NFP JIT vs the host, the cores vs the
 * host): the protocols and corner cases the programs in test/progs branch on, and a TCP SYN big enough
 * for xdp_perf to sample.
 */
export function diffPackets(): Uint8Array[] {
  return [
    udp4Frame({ dstPort: 9 }),
    udp4Frame({ dstPort: 53, payload: patternPayload(40) }),
    tcp4Frame({ dstPort: 80, flags: { syn: true } }),
    tcp4Frame({ dstPort: 443, payload: patternPayload(100, 3) }),
    icmp4Frame({}),
    udp6Frame({ dstPort: 9 }),
    tcp6Frame({ dstPort: 22 }),
    udp4Frame({ vlans: [100], dstPort: 9 }),
    udp4Frame({ src: '192.168.1.7', dstPort: 7, ipOptions: new Uint8Array([1, 1, 1, 0]) }),
    arpFrame({}),
    truncateFrame(udp4Frame({ dstPort: 9 }), 30),
    udp4FrameOfLength(1514, { dstPort: 4000 }),
    udp4FrameOfLength(64, { dstPort: 9 }),
    tcp4Frame({ src: '10.1.2.3', dstPort: 8080, flags: { syn: true }, payload: patternPayload(60, 5) }),
  ];
}
