// Frames from a description, as a traffic generator builds them: Ethernet (IEEE 802.3) with 802.1Q /
// 802.1ad tags, IPv4 (RFC 791, options, fragments), IPv6 (RFC 8200), UDP (RFC 768), TCP (RFC 9293) and
// ICMP / ICMPv6 (RFC 792 / 4443), checksums computed (RFC 1071) unless a field says otherwise, then a
// payload and optional padding. A field may be a range; a description with ranges stands for every
// combination of their values (the frames a generator would sweep through), in order, the last
// field varying fastest.
//
// The scenario schema (schema.ts) turns YAML into a PacketSpec; this module only builds bytes, and
// refuses what cannot be built (an address that does not parse, a value that does not fit its field)
// with an Error naming the field, which the schema reports at the field's line and column.

/** A number, or every integer in [from, to]. */
export type Ranged = number | { readonly from: number; readonly to: number };
/** An address, or every address in [from, to] (IPv4 and MAC addresses count up as integers). */
export type RangedAddr = string | { readonly from: string; readonly to: string };

export interface VlanSpec {
  readonly id: Ranged;
  readonly pcp?: number;
  readonly dei?: number;
  /** 0x8100 (802.1Q, default) or 0x88a8 (802.1ad, an outer tag). */
  readonly tpid?: number;
}

export interface EthSpec {
  readonly src?: RangedAddr;
  readonly dst?: RangedAddr;
  /** EtherType; by default from the next layer (IPv4, IPv6), or 0x88b5 (local experimental) with none. */
  readonly type?: number;
}

export interface Ipv4Spec {
  readonly src?: RangedAddr;
  readonly dst?: RangedAddr;
  readonly ttl?: Ranged;
  readonly tos?: Ranged;
  readonly id?: Ranged;
  readonly df?: boolean;
  readonly mf?: boolean;
  readonly frag_offset?: number;
  /** Protocol number; by default from the next layer (UDP 17, TCP 6, ICMP 1), else 253 (experimental). */
  readonly proto?: number;
  /** Option bytes, a multiple of 4 and at most 40. */
  readonly options?: Uint8Array;
  /** 'bad': the correct checksum with its low bit flipped. */
  readonly checksum?: 'auto' | 'bad' | number;
}

export interface Ipv6Spec {
  readonly src?: RangedAddr;
  readonly dst?: RangedAddr;
  readonly hop_limit?: Ranged;
  readonly traffic_class?: number;
  readonly flow_label?: number;
  readonly next_header?: number;
}

export interface UdpSpec {
  readonly sport?: Ranged;
  readonly dport?: Ranged;
  /** 'auto' (default), 'none' (0, IPv4 only) or 'bad'. */
  readonly checksum?: 'auto' | 'none' | 'bad' | number;
}

export interface TcpSpec {
  readonly sport?: Ranged;
  readonly dport?: Ranged;
  readonly seq?: number;
  readonly ack?: number;
  /** Flags by name: fin syn rst psh ack urg ece cwr. Default: syn. */
  readonly flags?: readonly string[];
  readonly window?: number;
  readonly checksum?: 'auto' | 'bad' | number;
}

export interface IcmpSpec {
  /** Echo request by default (8 for ICMP, 128 for ICMPv6). */
  readonly type?: number;
  readonly code?: number;
  readonly id?: Ranged;
  readonly seq?: Ranged;
  readonly checksum?: 'auto' | 'bad' | number;
}

export interface PacketSpec {
  readonly eth?: EthSpec;
  readonly vlan?: readonly VlanSpec[];
  readonly ipv4?: Ipv4Spec;
  readonly ipv6?: Ipv6Spec;
  readonly udp?: UdpSpec;
  readonly tcp?: TcpSpec;
  readonly icmp?: IcmpSpec;
  readonly payload?: Uint8Array;
  /** Pad the frame with zeros to this many bytes (no FCS); an error if it is already longer. */
  readonly size?: number;
  /** A whole frame, instead of the layers. */
  readonly raw?: Uint8Array;
  /** Send this frame (each combination) this many times in a row. */
  readonly count?: number;
}

/** The most frames one description may stand for. */
export const MAX_COMBINATIONS = 1 << 20;

export const ETH_P_IP = 0x0800;
export const ETH_P_IPV6 = 0x86dd;
export const ETH_P_8021Q = 0x8100;
export const ETH_P_8021AD = 0x88a8;
/** IEEE 802 local experimental EtherType, for frames with no network layer. */
export const ETH_P_802_EX1 = 0x88b5;
export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_ICMPV6 = 58;
/** RFC 3692 experimental protocol number, for IPv4/IPv6 with nothing above. */
export const IPPROTO_EXPERIMENT = 253;

export const DEFAULTS = {
  src_mac: '02:00:00:00:00:01', dst_mac: '02:00:00:00:00:02',
  src_ip: '10.0.0.1', dst_ip: '10.0.0.2', src_ip6: 'fd00::1', dst_ip6: 'fd00::2',
  sport: 1234, dport: 5678,
} as const;

const TCP_FLAG_BITS: Readonly<Record<string, number>> = { fin: 0x01, syn: 0x02, rst: 0x04, psh: 0x08, ack: 0x10, urg: 0x20, ece: 0x40, cwr: 0x80 };

// ------------------------------------------------------------------ addresses

export function parseMac(s: string): Uint8Array {
  const parts = s.split(':');
  if (parts.length !== 6 || !parts.every((p) => /^[0-9a-fA-F]{1,2}$/.test(p))) throw new Error(`'${s}' is not a MAC address (aa:bb:cc:dd:ee:ff)`);
  return Uint8Array.from(parts, (p) => parseInt(p, 16));
}

export function parseIpv4(s: string): Uint8Array {
  const parts = s.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) throw new Error(`'${s}' is not an IPv4 address`);
  return Uint8Array.from(parts, Number);
}

/** RFC 4291 text (with at most one `::`, and an embedded IPv4 tail such as ::ffff:10.0.0.1). */
export function parseIpv6(s: string): Uint8Array {
  const bad = (): never => {
    throw new Error(`'${s}' is not an IPv6 address`);
  };
  let text = s;
  const v4 = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4 !== null) {
    // The dotted tail is two groups written another way.
    const b = parseIpv4(v4[2]!);
    text = `${v4[1]!}${((b[0]! << 8) | b[1]!).toString(16)}:${((b[2]! << 8) | b[3]!).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) bad();
  const group = (g: string): number => (/^[0-9a-fA-F]{1,4}$/.test(g) ? parseInt(g, 16) : bad());
  const side = (t: string): number[] => (t === '' ? [] : t.split(':').map(group));
  const head = side(halves[0]!);
  const rest = halves.length === 2 ? side(halves[1]!) : [];
  const zeros = halves.length === 2 ? 8 - head.length - rest.length : 0;
  if (halves.length === 2 ? zeros < 1 : head.length !== 8) bad();
  const all = [...head, ...new Array<number>(zeros).fill(0), ...rest];
  const out = new Uint8Array(16);
  all.forEach((g, i) => { out[2 * i] = g >> 8; out[2 * i + 1] = g & 0xff; });
  return out;
}

// ------------------------------------------------------------------ ranges

/** The values of a ranged number (validated against [0, max]). */
function numbers(v: Ranged, max: number, what: string): number[] {
  if (typeof v === 'number') {
    if (!Number.isInteger(v) || v < 0 || v > max) throw new Error(`${what} ${v} is not an integer in 0..${max}`);
    return [v];
  }
  if (typeof v !== 'object' || v === null) throw new Error(`${what} must be a number or a range`);
  if (!Number.isInteger(v.from) || !Number.isInteger(v.to) || v.from < 0 || v.to > max || v.from > v.to) {
    throw new Error(`${what} range ${v.from}..${v.to} is not within 0..${max} (from <= to)`);
  }
  if (v.to - v.from + 1 > MAX_COMBINATIONS) throw new Error(`${what} range has more than ${MAX_COMBINATIONS} values`);
  return Array.from({ length: v.to - v.from + 1 }, (_, i) => v.from + i);
}

/** The addresses of a ranged address, counting up the address as a big-endian integer. */
function addresses(v: RangedAddr, parse: (s: string) => Uint8Array, what: string): Uint8Array[] {
  if (typeof v === 'string') return [parse(v)];
  const a = parse(v.from);
  const b = parse(v.to);
  const toBig = (x: Uint8Array): bigint => x.reduce((acc, byte) => (acc << 8n) | BigInt(byte), 0n);
  const lo = toBig(a), hi = toBig(b);
  if (lo > hi) throw new Error(`${what} range ${v.from}..${v.to} counts down`);
  if (hi - lo + 1n > BigInt(MAX_COMBINATIONS)) throw new Error(`${what} range ${v.from}..${v.to} has more than ${MAX_COMBINATIONS} addresses`);
  const out: Uint8Array[] = [];
  for (let n = lo; n <= hi; n++) {
    const x = new Uint8Array(a.length);
    let t = n;
    for (let i = x.length - 1; i >= 0; i--) {
      x[i] = Number(t & 0xffn);
      t >>= 8n;
    }
    out.push(x);
  }
  return out;
}

// ------------------------------------------------------------------ checksums

/** The 16-bit one's-complement sum of bytes (RFC 1071), folded, not inverted. */
function onesSum(b: Uint8Array, start: number, end: number, init = 0): number {
  let s = init;
  for (let i = start; i + 1 < end; i += 2) s += (b[i]! << 8) | b[i + 1]!;
  if ((end - start) & 1) s += b[end - 1]! << 8;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

function putCsum(b: Uint8Array, at: number, mode: 'auto' | 'bad' | 'none' | number | undefined, sum: number): void {
  let v: number;
  if (typeof mode === 'number') v = mode;
  else if (mode === 'none') v = 0;
  else {
    v = ~sum & 0xffff;
    if (mode === 'bad') v ^= 1;
  }
  b[at] = v >> 8;
  b[at + 1] = v & 0xff;
}

const be16 = (b: Uint8Array, at: number, v: number): void => {
  b[at] = (v >> 8) & 0xff;
  b[at + 1] = v & 0xff;
};
const be32 = (b: Uint8Array, at: number, v: number): void => {
  b[at] = (v >>> 24) & 0xff;
  b[at + 1] = (v >>> 16) & 0xff;
  b[at + 2] = (v >>> 8) & 0xff;
  b[at + 3] = v & 0xff;
};

// ------------------------------------------------------------------ building

/** One combination: every ranged field resolved. */
interface Resolved {
  srcMac: Uint8Array; dstMac: Uint8Array;
  vlans: { id: number; pcp: number; dei: number; tpid: number }[];
  l3src: Uint8Array; l3dst: Uint8Array; ttl: number; tos: number; ipid: number;
  sport: number; dport: number; icmpId: number; icmpSeq: number;
}

/** Every ranged field as (name, values): the combinations are their product. */
function axes(p: PacketSpec): { name: keyof Resolved | `vlan${number}`; values: unknown[] }[] {
  const ax: { name: keyof Resolved | `vlan${number}`; values: unknown[] }[] = [];
  const v6 = p.ipv6 !== undefined;
  ax.push({ name: 'srcMac', values: addresses(p.eth?.src ?? DEFAULTS.src_mac, parseMac, 'eth.src') });
  ax.push({ name: 'dstMac', values: addresses(p.eth?.dst ?? DEFAULTS.dst_mac, parseMac, 'eth.dst') });
  (p.vlan ?? []).forEach((v, i) => ax.push({ name: `vlan${i}`, values: numbers(v.id, 4095, `vlan[${i}].id`) }));
  if (v6) {
    ax.push({ name: 'l3src', values: addresses(p.ipv6!.src ?? DEFAULTS.src_ip6, parseIpv6, 'ipv6.src') });
    ax.push({ name: 'l3dst', values: addresses(p.ipv6!.dst ?? DEFAULTS.dst_ip6, parseIpv6, 'ipv6.dst') });
    ax.push({ name: 'ttl', values: numbers(p.ipv6!.hop_limit ?? 64, 255, 'ipv6.hop_limit') });
  } else if (p.ipv4 !== undefined) {
    ax.push({ name: 'l3src', values: addresses(p.ipv4.src ?? DEFAULTS.src_ip, parseIpv4, 'ipv4.src') });
    ax.push({ name: 'l3dst', values: addresses(p.ipv4.dst ?? DEFAULTS.dst_ip, parseIpv4, 'ipv4.dst') });
    ax.push({ name: 'ttl', values: numbers(p.ipv4.ttl ?? 64, 255, 'ipv4.ttl') });
    ax.push({ name: 'tos', values: numbers(p.ipv4.tos ?? 0, 255, 'ipv4.tos') });
    ax.push({ name: 'ipid', values: numbers(p.ipv4.id ?? 0, 0xffff, 'ipv4.id') });
  }
  const l4 = p.udp ?? p.tcp;
  if (l4 !== undefined) {
    const w = p.udp !== undefined ? 'udp' : 'tcp';
    ax.push({ name: 'sport', values: numbers(l4.sport ?? DEFAULTS.sport, 0xffff, `${w}.sport`) });
    ax.push({ name: 'dport', values: numbers(l4.dport ?? DEFAULTS.dport, 0xffff, `${w}.dport`) });
  }
  if (p.icmp !== undefined) {
    ax.push({ name: 'icmpId', values: numbers(p.icmp.id ?? 0, 0xffff, 'icmp.id') });
    ax.push({ name: 'icmpSeq', values: numbers(p.icmp.seq ?? 0, 0xffff, 'icmp.seq') });
  }
  return ax;
}

/** How many frames a description stands for (combinations x count). */
export function packetCount(p: PacketSpec): number {
  if (p.raw !== undefined) return p.count ?? 1;
  let n = 1;
  for (const a of axes(p)) n *= a.values.length;
  return n * (p.count ?? 1);
}

function buildOne(p: PacketSpec, r: Resolved): Uint8Array {
  const v6 = p.ipv6 !== undefined;
  if (v6 && p.ipv4 !== undefined) throw new Error('a packet has ipv4 or ipv6, not both');
  const l4count = (p.udp !== undefined ? 1 : 0) + (p.tcp !== undefined ? 1 : 0) + (p.icmp !== undefined ? 1 : 0);
  if (l4count > 1) throw new Error('a packet has one of udp, tcp and icmp');
  if (l4count === 1 && p.ipv4 === undefined && !v6) throw new Error(`${p.udp ? 'udp' : p.tcp ? 'tcp' : 'icmp'} needs an ipv4 or ipv6 layer`);
  const payload = p.payload ?? new Uint8Array(0);

  // L4
  let l4: Uint8Array = new Uint8Array(0);
  let proto = IPPROTO_EXPERIMENT;
  if (p.udp !== undefined) {
    proto = IPPROTO_UDP;
    l4 = new Uint8Array(8 + payload.length);
    be16(l4, 0, r.sport);
    be16(l4, 2, r.dport);
    be16(l4, 4, l4.length);
    l4.set(payload, 8);
  } else if (p.tcp !== undefined) {
    proto = IPPROTO_TCP;
    const t = p.tcp;
    l4 = new Uint8Array(20 + payload.length);
    be16(l4, 0, r.sport);
    be16(l4, 2, r.dport);
    be32(l4, 4, t.seq ?? 0);
    be32(l4, 8, t.ack ?? 0);
    l4[12] = 5 << 4;
    let flags = 0;
    for (const f of t.flags ?? ['syn']) {
      const bit = TCP_FLAG_BITS[f.toLowerCase()];
      if (bit === undefined) throw new Error(`tcp flag '${f}' is not one of ${Object.keys(TCP_FLAG_BITS).join(', ')}`);
      flags |= bit;
    }
    l4[13] = flags;
    be16(l4, 14, t.window ?? 65535);
    l4.set(payload, 20);
  } else if (p.icmp !== undefined) {
    proto = v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP;
    l4 = new Uint8Array(8 + payload.length);
    l4[0] = p.icmp.type ?? (v6 ? 128 : 8);
    l4[1] = p.icmp.code ?? 0;
    be16(l4, 4, r.icmpId);
    be16(l4, 6, r.icmpSeq);
    l4.set(payload, 8);
  } else {
    l4 = payload;
  }

  // L3
  let l3: Uint8Array = new Uint8Array(0);
  let etherType = ETH_P_802_EX1;
  const pseudo = (len: number): number => {
    // The pseudo-header sum: addresses, protocol, length.
    let s = onesSum(r.l3src, 0, r.l3src.length);
    s = onesSum(r.l3dst, 0, r.l3dst.length, s);
    s += proto + (len & 0xffff) + (len >>> 16);
    while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
    return s;
  };
  if (p.ipv4 !== undefined) {
    const o = p.ipv4;
    etherType = ETH_P_IP;
    const opts = o.options ?? new Uint8Array(0);
    if (opts.length % 4 !== 0 || opts.length > 40) throw new Error(`ipv4.options has ${opts.length} bytes; a multiple of 4, at most 40`);
    const ihl = 20 + opts.length;
    const ipproto = o.proto ?? proto;
    l3 = new Uint8Array(ihl + l4.length);
    l3[0] = 0x40 | (ihl >> 2);
    l3[1] = r.tos;
    if (ihl + l4.length > 0xffff) throw new Error(`an IPv4 datagram of ${ihl + l4.length} bytes is above 65535`);
    be16(l3, 2, ihl + l4.length);
    be16(l3, 4, r.ipid);
    const frag = o.frag_offset ?? 0;
    if (!Number.isInteger(frag) || frag < 0 || frag > 0x1fff) throw new Error(`ipv4.frag_offset ${frag} is not in 0..8191 (8-byte units)`);
    be16(l3, 6, (o.df ? 0x4000 : 0) | (o.mf ? 0x2000 : 0) | frag);
    l3[8] = r.ttl;
    l3[9] = ipproto;
    l3.set(r.l3src, 12);
    l3.set(r.l3dst, 16);
    l3.set(opts, 20);
    putCsum(l3, 10, o.checksum, onesSum(l3, 0, ihl));
    l3.set(l4, ihl);
    proto = ipproto;
  } else if (v6) {
    const o = p.ipv6!;
    etherType = ETH_P_IPV6;
    if (l4.length > 0xffff) throw new Error(`an IPv6 payload of ${l4.length} bytes is above 65535`);
    l3 = new Uint8Array(40 + l4.length);
    const tc = o.traffic_class ?? 0;
    const fl = o.flow_label ?? 0;
    if (!Number.isInteger(tc) || tc < 0 || tc > 255) throw new Error(`ipv6.traffic_class ${tc} is not in 0..255`);
    if (!Number.isInteger(fl) || fl < 0 || fl > 0xfffff) throw new Error(`ipv6.flow_label ${fl} is not in 0..0xfffff`);
    be32(l3, 0, ((6 << 28) | (tc << 20) | fl) >>> 0);
    be16(l3, 4, l4.length);
    l3[6] = o.next_header ?? proto;
    l3[7] = r.ttl;
    l3.set(r.l3src, 8);
    l3.set(r.l3dst, 24);
    l3.set(l4, 40);
    proto = l3[6]!;
  } else {
    l3 = l4;
  }

  // L4 checksums (need the L3 addresses).
  const l4at = p.ipv4 !== undefined ? 20 + (p.ipv4.options?.length ?? 0) : v6 ? 40 : 0;
  const l4len = l3.length - l4at;
  if (p.udp !== undefined) {
    const mode = p.udp.checksum;
    if (mode === 'none' && v6) throw new Error('udp.checksum none is not allowed over IPv6 (RFC 8200)');
    if (mode === undefined || mode === 'auto' || mode === 'bad') {
      // A computed UDP checksum of 0 is sent as 0xffff (RFC 768).
      let v = ~onesSum(l3, l4at, l3.length, pseudo(l4len)) & 0xffff;
      if (v === 0) v = 0xffff;
      if (mode === 'bad') v ^= 1;
      be16(l3, l4at + 6, v);
    } else {
      putCsum(l3, l4at + 6, mode, 0);
    }
  } else if (p.tcp !== undefined) {
    putCsum(l3, l4at + 16, p.tcp.checksum, onesSum(l3, l4at, l3.length, pseudo(l4len)));
  } else if (p.icmp !== undefined) {
    const sum = v6 ? onesSum(l3, l4at, l3.length, pseudo(l4len)) : onesSum(l3, l4at, l3.length);
    putCsum(l3, l4at + 2, p.icmp.checksum, sum);
  }

  // L2
  const type = p.eth?.type ?? etherType;
  const tags = r.vlans;
  const frame = new Uint8Array(14 + 4 * tags.length + l3.length);
  frame.set(r.dstMac, 0);
  frame.set(r.srcMac, 6);
  let at = 12;
  for (const t of tags) {
    be16(frame, at, t.tpid);
    be16(frame, at + 2, (t.pcp << 13) | (t.dei << 12) | t.id);
    at += 4;
  }
  be16(frame, at, type);
  frame.set(l3, at + 2);
  if (p.size !== undefined) {
    if (frame.length > p.size) throw new Error(`the frame is ${frame.length} bytes, more than size ${p.size}`);
    const padded = new Uint8Array(p.size);
    padded.set(frame);
    return padded;
  }
  return frame;
}

/**
 * The frames of one description: every combination of its ranged fields (the last varying fastest),
 * each repeated `count` times in a row.
 */
export function buildPackets(p: PacketSpec): Uint8Array[] {
  const count = p.count ?? 1;
  if (!Number.isInteger(count) || count < 1) throw new Error(`count ${count} is not a positive integer`);
  if (p.raw !== undefined) {
    if (p.size !== undefined && p.size < p.raw.length) throw new Error(`the frame is ${p.raw.length} bytes, more than size ${p.size}`);
    const f = new Uint8Array(Math.max(p.raw.length, p.size ?? 0));
    f.set(p.raw);
    return new Array<Uint8Array>(count).fill(f);
  }
  for (const v of p.vlan ?? []) {
    const tpid = v.tpid ?? ETH_P_8021Q;
    if (!Number.isInteger(tpid) || tpid < 0 || tpid > 0xffff) throw new Error(`vlan tpid ${tpid} is not a 16-bit value`);
    if ((v.pcp ?? 0) < 0 || (v.pcp ?? 0) > 7 || !Number.isInteger(v.pcp ?? 0)) throw new Error(`vlan pcp ${v.pcp} is not in 0..7`);
    if ((v.dei ?? 0) !== 0 && v.dei !== 1) throw new Error(`vlan dei ${v.dei} is not 0 or 1`);
  }
  const ax = axes(p);
  let total = 1;
  for (const a of ax) total *= a.values.length;
  if (total * count > MAX_COMBINATIONS) throw new Error(`this packet stands for ${total * count} frames; at most ${MAX_COMBINATIONS}`);
  const out: Uint8Array[] = [];
  const idx = new Array<number>(ax.length).fill(0);
  for (let n = 0; n < total; n++) {
    const r: Resolved = {
      srcMac: new Uint8Array(6), dstMac: new Uint8Array(6), vlans: [], l3src: new Uint8Array(0), l3dst: new Uint8Array(0),
      ttl: 64, tos: 0, ipid: 0, sport: 0, dport: 0, icmpId: 0, icmpSeq: 0,
    };
    ax.forEach((a, i) => {
      const v = a.values[idx[i]!];
      if (a.name.startsWith('vlan')) {
        const k = Number(a.name.slice(4));
        const spec = p.vlan![k]!;
        r.vlans[k] = { id: v as number, pcp: spec.pcp ?? 0, dei: spec.dei ?? 0, tpid: spec.tpid ?? ETH_P_8021Q };
      } else {
        (r as unknown as Record<string, unknown>)[a.name] = v;
      }
    });
    const f = buildOne(p, r);
    for (let c = 0; c < count; c++) out.push(f);
    // Next combination: the last axis varies fastest.
    for (let i = ax.length - 1; i >= 0; i--) {
      if (++idx[i]! < ax[i]!.values.length) break;
      idx[i] = 0;
    }
  }
  return out;
}

/** Lowercase hex bytes separated by spaces (how reports and mismatch messages show frames). */
export function hexBytes(b: Uint8Array, max = b.length): string {
  const parts = Array.from(b.subarray(0, max), (x) => x.toString(16).padStart(2, '0'));
  return parts.join(' ') + (b.length > max ? ` ... (${b.length} bytes)` : '');
}
