// The host's forwarding information base and neighbour table, as much of them as bpf_fib_lookup()
// consults: the IPv4 FIB (net/ipv4/fib_trie.c fib_table_lookup, fib_rules.c's default rules,
// fib_semantics.c's route types and ip_mtu_from_fib_result), the IPv6 FIB (net/ipv6/route.c
// fib6_table_lookup, ip6_mtu_from_fib6) and the neighbour cache (net/core/neighbour.c, NUD_* states).
//
// Model, and where it is simpler than the kernel:
//  - Tables by id (local 255, main 254, default 253). A lookup without BPF_FIB_LOOKUP_DIRECT walks the
//    default rules in order (local, main, default); a miss or a `throw` route goes on to the next table
//    (-EAGAIN in fib_rules_lookup), the end of the rules is -ENETUNREACH. There are no custom rules, so
//    a mark (BPF_FIB_LOOKUP_MARK) never changes the result.
//  - Within a table the longest prefix wins, then the lowest metric (fib_priority). A route with an
//    output device other than the flow's oif is skipped, as fib_lookup_good_nhc() does.
//  - One nexthop per route (no multipath), no lightweight tunnels unless a route is marked `encap`.
//  - Route errors are the kernel's: blackhole -EINVAL, unreachable -EHOSTUNREACH, prohibit -EACCES.
// Addresses: IPv4 as host-order u32 numbers, IPv6 as 16-byte arrays (network order, as in in6_addr).

import { BpfError } from '../../bpf/errno.js';
import { AF_INET, AF_INET6, ETH_ALEN, IP_MAX_MTU, parseMac, type NetDevice, type NetDeviceRegistry } from './netdev.js';

export const RT_TABLE_DEFAULT = 253;
export const RT_TABLE_MAIN = 254;
export const RT_TABLE_LOCAL = 255;

/** include/uapi/linux/rtnetlink.h enum rtn_type (the ones a FIB holds). */
export const RTN_UNICAST = 1;
export const RTN_LOCAL = 2;
export const RTN_BROADCAST = 3;
export const RTN_ANYCAST = 4;
export const RTN_MULTICAST = 5;
export const RTN_BLACKHOLE = 6;
export const RTN_UNREACHABLE = 7;
export const RTN_PROHIBIT = 8;
export const RTN_THROW = 9;

export type RouteType = 'unicast' | 'local' | 'broadcast' | 'anycast' | 'multicast' | 'blackhole' | 'unreachable' | 'prohibit' | 'throw';

const RTN_BY_NAME: Record<RouteType, number> = {
  unicast: RTN_UNICAST, local: RTN_LOCAL, broadcast: RTN_BROADCAST, anycast: RTN_ANYCAST, multicast: RTN_MULTICAST,
  blackhole: RTN_BLACKHOLE, unreachable: RTN_UNREACHABLE, prohibit: RTN_PROHIBIT, throw: RTN_THROW,
};

/** The errno values fib_table_lookup() returns for reject routes (fib_props[].error) and for a miss. */
export const FIB_EINVAL = -22;
export const FIB_EHOSTUNREACH = -113;
export const FIB_EACCES = -13;
export const FIB_EAGAIN = -11;
export const FIB_ENETUNREACH = -101;

/** IPV6_MIN_MTU and IP6_MAX_MTU (include/net/ipv6.h). */
export const IPV6_MIN_MTU = 1280;
export const IP6_MAX_MTU = 0xffff + 40;

// ------------------------------------------------------------------ neighbour states

export const NUD_INCOMPLETE = 0x01;
export const NUD_REACHABLE = 0x02;
export const NUD_STALE = 0x04;
export const NUD_DELAY = 0x08;
export const NUD_PROBE = 0x10;
export const NUD_FAILED = 0x20;
export const NUD_NOARP = 0x40;
export const NUD_PERMANENT = 0x80;
export const NUD_NONE = 0x00;
/** include/net/neighbour.h: states with a usable link-layer address. */
export const NUD_VALID = NUD_PERMANENT | NUD_NOARP | NUD_REACHABLE | NUD_PROBE | NUD_STALE | NUD_DELAY;

export type NudState = 'incomplete' | 'reachable' | 'stale' | 'delay' | 'probe' | 'failed' | 'noarp' | 'permanent' | 'none';

const NUD_BY_NAME: Record<NudState, number> = {
  incomplete: NUD_INCOMPLETE, reachable: NUD_REACHABLE, stale: NUD_STALE, delay: NUD_DELAY, probe: NUD_PROBE,
  failed: NUD_FAILED, noarp: NUD_NOARP, permanent: NUD_PERMANENT, none: NUD_NONE,
};

// ------------------------------------------------------------------ addresses

/** "192.0.2.1" -> 0xc0000201, or EINVAL. */
export function parseIpv4(text: string): number {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (m === null || m.slice(1).some((p) => Number(p) > 255)) throw new BpfError('EINVAL', `'${text}' is not an IPv4 address`);
  return ((Number(m[1]) << 24) | (Number(m[2]) << 16) | (Number(m[3]) << 8) | Number(m[4])) >>> 0;
}

export function formatIpv4(a: number): string {
  return `${a >>> 24}.${(a >>> 16) & 0xff}.${(a >>> 8) & 0xff}.${a & 0xff}`;
}

/** "2001:db8::1" (with an optional embedded IPv4 tail) -> 16 bytes, or EINVAL. */
export function parseIpv6(text: string): Uint8Array {
  const bad = (): BpfError => new BpfError('EINVAL', `'${text}' is not an IPv6 address`);
  let s = text;
  const words: number[] = [];
  const v4 = /^(.*:)(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})$/.exec(s);
  let tail: number[] = [];
  if (v4 !== null) {
    const a = parseIpv4(v4[2]!);
    tail = [a >>> 16, a & 0xffff];
    s = v4[1]!.endsWith('::') ? v4[1]! : v4[1]!.slice(0, -1);
  }
  const halves = s.split('::');
  if (halves.length > 2) throw bad();
  const parse = (h: string): number[] => (h === '' ? [] : h.split(':').map((w) => {
    if (!/^[0-9a-fA-F]{1,4}$/.test(w)) throw bad();
    return parseInt(w, 16);
  }));
  const head = parse(halves[0]!);
  const rest = halves.length === 2 ? parse(halves[1]!) : [];
  const given = head.length + rest.length + tail.length;
  if (halves.length === 1 ? given !== 8 : given > 7) throw bad();
  words.push(...head, ...new Array<number>(8 - given).fill(0), ...rest, ...tail);
  const out = new Uint8Array(16);
  words.forEach((w, i) => { out[2 * i] = w >>> 8; out[2 * i + 1] = w & 0xff; });
  return out;
}

export function formatIpv6(a: Uint8Array, off = 0): string {
  const w: number[] = [];
  for (let i = 0; i < 8; i++) w.push((a[off + 2 * i]! << 8) | a[off + 2 * i + 1]!);
  // RFC 5952: the longest run (>= 2) of zero words becomes "::".
  let best = -1, bestLen = 1;
  for (let i = 0; i < 8;) {
    if (w[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  const hex = (xs: number[]): string => xs.map((x) => x.toString(16)).join(':');
  return best < 0 ? hex(w) : `${hex(w.slice(0, best))}::${hex(w.slice(best + bestLen))}`;
}

function prefixMask4(len: number): number {
  return len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
}

/** Do the first `len` bits of a (at aOff) and b agree? */
function prefixEq6(a: Uint8Array, aOff: number, b: Uint8Array, len: number): boolean {
  const full = len >>> 3;
  for (let i = 0; i < full; i++) if (a[aOff + i] !== b[i]) return false;
  const rem = len & 7;
  if (rem === 0) return true;
  const mask = (0xff << (8 - rem)) & 0xff;
  return ((a[aOff + full]! ^ b[full]!) & mask) === 0;
}

/** ipv6_addr_type() & (MULTICAST | LINKLOCAL | LOOPBACK): addresses never forwarded (rt6_need_strict). */
export function rt6_need_strict(a: Uint8Array, off = 0): boolean {
  if (a[off] === 0xff) return true; // multicast
  if (a[off] === 0xfe && (a[off + 1]! & 0xc0) === 0x80) return true; // fe80::/10
  for (let i = 0; i < 15; i++) if (a[off + i] !== 0) return false;
  return a[off + 15] === 1; // ::1
}

// ------------------------------------------------------------------ routes

interface RouteCommon {
  readonly table: number;
  readonly prefixlen: number;
  /** RTN_* */
  readonly type: number;
  /** Output device (nhc_dev), 0 for reject routes. */
  readonly oif: number;
  /** fib_priority / fib6_metric: what bpf_fib_lookup reports as rt_metric. */
  readonly metric: number;
  /** RTAX_MTU; used only when locked (`mtu lock N`), as ip_mtu_from_fib_result() does. */
  readonly mtu: number;
  readonly mtuLocked: boolean;
  /** A lightweight-tunnel encap on the nexthop (BPF_FIB_LKUP_RET_UNSUPP_LWT). */
  readonly lwt: boolean;
  /** Gateway family: 0 (directly connected), AF_INET or AF_INET6. */
  readonly gwFamily: number;
  readonly gw4: number;
  readonly gw6: Uint8Array;
}

export interface Route4 extends RouteCommon {
  readonly family: typeof AF_INET;
  readonly dst: number;
  readonly mask: number;
  /** fib_prefsrc, 0 if none. */
  readonly prefsrc: number;
}

export interface Route6 extends RouteCommon {
  readonly family: typeof AF_INET6;
  readonly dst: Uint8Array;
  /** fib6_prefsrc, undefined if none. */
  readonly prefsrc: Uint8Array | undefined;
}

/** What `ip route add` takes. */
export interface RouteSpec {
  /** "10.0.0.0/8", "192.0.2.1" (a /32), "default", "2001:db8::/32", "default6" for ::/0. */
  dst: string;
  type?: RouteType;
  /** Gateway: an IPv4 or IPv6 address (an IPv4 route may have an IPv6 gateway, RFC 5549). */
  via?: string;
  /** Output device, by ifindex or name. Required for unicast and local routes. */
  dev?: number | string;
  metric?: number;
  table?: number;
  src?: string;
  mtu?: number;
  mtuLock?: boolean;
  encap?: boolean;
}

export interface Neighbour {
  readonly ifindex: number;
  readonly family: number;
  /** lladdr */
  readonly ha: Uint8Array;
  nud_state: number;
}

const ZERO16 = new Uint8Array(16);

export class Fib {
  private readonly v4 = new Map<number, Route4[]>();
  private readonly v6 = new Map<number, Route6[]>();
  /** IPv4 neighbours by ifindex * 2^32 + address. */
  private readonly neigh4 = new Map<number, Neighbour>();
  /** IPv6 neighbours by ifindex: few per device, compared byte by byte (no key allocation per lookup). */
  private readonly neigh6 = new Map<number, { addr: Uint8Array; n: Neighbour }[]>();

  constructor(readonly netdevs: NetDeviceRegistry) {
    for (const t of [RT_TABLE_LOCAL, RT_TABLE_MAIN, RT_TABLE_DEFAULT]) {
      this.v4.set(t, []);
      this.v6.set(t, []);
    }
  }

  /** `ip route add`: EINVAL for a malformed spec, ENODEV for an unknown device, EEXIST for a duplicate. */
  addRoute(spec: RouteSpec): Route4 | Route6 {
    const type = RTN_BY_NAME[spec.type ?? 'unicast'];
    if (type === undefined) throw new BpfError('EINVAL', `unknown route type '${spec.type}'`);
    const v6 = spec.dst === 'default6' || spec.dst.includes(':');
    const [addrText, lenText] = spec.dst === 'default' || spec.dst === 'default6' ? ['', '0'] : spec.dst.split('/');
    const maxLen = v6 ? 128 : 32;
    const prefixlen = lenText === undefined ? maxLen : Number(lenText);
    if (!Number.isInteger(prefixlen) || prefixlen < 0 || prefixlen > maxLen || !/^\d+$/.test(String(lenText ?? maxLen))) {
      throw new BpfError('EINVAL', `bad prefix length in '${spec.dst}'`);
    }
    const rejects = type === RTN_BLACKHOLE || type === RTN_UNREACHABLE || type === RTN_PROHIBIT || type === RTN_THROW;
    let oif = 0;
    if (spec.dev !== undefined) oif = this.netdevs.get(spec.dev).ifindex;
    else if (!rejects) throw new BpfError('EINVAL', `route to ${spec.dst} needs a device`);
    let gwFamily = 0, gw4 = 0, gw6: Uint8Array = ZERO16;
    if (spec.via !== undefined) {
      if (rejects) throw new BpfError('EINVAL', `a ${spec.type} route has no gateway`);
      if (spec.via.includes(':')) { gwFamily = AF_INET6; gw6 = parseIpv6(spec.via); } else {
        if (v6) throw new BpfError('EINVAL', `an IPv6 route cannot have the IPv4 gateway ${spec.via}`);
        gwFamily = AF_INET; gw4 = parseIpv4(spec.via);
      }
    }
    const mtu = spec.mtu ?? 0;
    if (!Number.isInteger(mtu) || mtu < 0 || mtu > IP_MAX_MTU) throw new BpfError('EINVAL', `bad route MTU ${mtu}`);
    const common = {
      table: spec.table ?? (type === RTN_LOCAL || type === RTN_BROADCAST ? RT_TABLE_LOCAL : RT_TABLE_MAIN),
      prefixlen, type, oif, metric: spec.metric ?? 0, mtu, mtuLocked: spec.mtuLock ?? false, lwt: spec.encap ?? false,
      gwFamily, gw4, gw6,
    };
    if (!Number.isInteger(common.table) || common.table < 1 || common.table > 0xffffffff) throw new BpfError('EINVAL', `bad table ${common.table}`);
    if (v6) {
      const dst = addrText === '' ? new Uint8Array(16) : parseIpv6(addrText!);
      for (let b = prefixlen; b < 128; b++) dst[b >>> 3]! &= ~(0x80 >>> (b & 7));
      const r: Route6 = { ...common, family: AF_INET6, dst, prefsrc: spec.src === undefined ? undefined : parseIpv6(spec.src) };
      const list = this.table6(r.table);
      if (list.some((x) => x.prefixlen === prefixlen && prefixEq6(x.dst, 0, dst, 128) && x.metric === r.metric)) {
        throw new BpfError('EEXIST', `route ${spec.dst} metric ${r.metric} exists in table ${r.table}`);
      }
      list.push(r);
      list.sort((a, b) => b.prefixlen - a.prefixlen || a.metric - b.metric);
      return r;
    }
    const mask = prefixMask4(prefixlen);
    const r: Route4 = {
      ...common, family: AF_INET, dst: (addrText === '' ? 0 : parseIpv4(addrText!) & mask) >>> 0, mask,
      prefsrc: spec.src === undefined ? 0 : parseIpv4(spec.src),
    };
    const list = this.table4(r.table);
    if (list.some((x) => x.prefixlen === prefixlen && x.dst === r.dst && x.metric === r.metric)) {
      throw new BpfError('EEXIST', `route ${spec.dst} metric ${r.metric} exists in table ${r.table}`);
    }
    list.push(r);
    list.sort((a, b) => b.prefixlen - a.prefixlen || a.metric - b.metric);
    return r;
  }

  /** `ip route del`: ESRCH if there is no such route. */
  deleteRoute(route: Route4 | Route6): void {
    const list: (Route4 | Route6)[] = route.family === AF_INET ? this.table4(route.table) : this.table6(route.table);
    const i = list.indexOf(route);
    if (i < 0) throw new BpfError('ESRCH', 'no such route');
    list.splice(i, 1);
  }

  /**
   * `ip addr add A/N dev D`: the address goes on the device, a local route for A into the local table
   * and the connected prefix route into main (what fib_add_ifaddr / addrconf do).
   */
  addAddress(dev: number | string, cidr: string): void {
    const d = this.netdevs.get(dev);
    const [a, l] = cidr.split('/');
    if (a!.includes(':')) {
      const address = parseIpv6(a!);
      const prefixlen = l === undefined ? 128 : Number(l);
      d.ipv6_addrs.push({ address, prefixlen });
      this.addRoute({ dst: `${a}/128`, type: 'local', dev: d.ifindex, table: RT_TABLE_LOCAL });
      if (prefixlen < 128) this.addRoute({ dst: `${a}/${prefixlen}`, dev: d.ifindex, metric: 256 });
      return;
    }
    const address = parseIpv4(a!);
    const prefixlen = l === undefined ? 32 : Number(l);
    if (!Number.isInteger(prefixlen) || prefixlen < 0 || prefixlen > 32) throw new BpfError('EINVAL', `bad prefix length in '${cidr}'`);
    d.ipv4_addrs.push({ address, prefixlen });
    this.addRoute({ dst: `${a}/32`, type: 'local', dev: d.ifindex, table: RT_TABLE_LOCAL, src: a });
    if (prefixlen < 32) this.addRoute({ dst: `${formatIpv4(address & prefixMask4(prefixlen))}/${prefixlen}`, dev: d.ifindex, src: a });
  }

  /** `ip neigh replace ADDR lladdr MAC dev D nud STATE`. */
  addNeigh(dev: number | string, address: string, lladdr: string | Uint8Array, state: NudState = 'reachable'): Neighbour {
    const d = this.netdevs.get(dev);
    const ha = typeof lladdr === 'string' ? parseMac(lladdr) : Uint8Array.from(lladdr);
    if (ha.length !== ETH_ALEN) throw new BpfError('EINVAL', `lladdr has ${ha.length} bytes`);
    const nud = NUD_BY_NAME[state];
    if (nud === undefined) throw new BpfError('EINVAL', `unknown neighbour state '${state}'`);
    if (address.includes(':')) {
      const addr = parseIpv6(address);
      const n: Neighbour = { ifindex: d.ifindex, family: AF_INET6, ha, nud_state: nud };
      const list = this.neigh6.get(d.ifindex) ?? [];
      const i = list.findIndex((e) => prefixEq6(e.addr, 0, addr, 128));
      if (i >= 0) list[i] = { addr, n }; else list.push({ addr, n });
      this.neigh6.set(d.ifindex, list);
      return n;
    }
    const n: Neighbour = { ifindex: d.ifindex, family: AF_INET, ha, nud_state: nud };
    this.neigh4.set(d.ifindex * 0x100000000 + parseIpv4(address), n);
    return n;
  }

  /** __ipv4_neigh_lookup_noref(). */
  neigh_lookup4(ifindex: number, addr: number): Neighbour | undefined {
    return this.neigh4.get(ifindex * 0x100000000 + (addr >>> 0));
  }

  /** __ipv6_neigh_lookup_noref(): the address at a[off..off+16). */
  neigh_lookup6(ifindex: number, a: Uint8Array, off = 0): Neighbour | undefined {
    const list = this.neigh6.get(ifindex);
    if (list === undefined) return undefined;
    for (const e of list) if (prefixEq6(a, off, e.addr, 128)) return e.n;
    return undefined;
  }

  hasTable(tbid: number): boolean {
    return this.v4.has(tbid);
  }

  private table4(tbid: number): Route4[] {
    let t = this.v4.get(tbid);
    if (t === undefined) { t = []; this.v4.set(tbid, t); this.v6.set(tbid, []); }
    return t;
  }

  private table6(tbid: number): Route6[] {
    let t = this.v6.get(tbid);
    if (t === undefined) { t = []; this.v6.set(tbid, t); this.v4.set(tbid, []); }
    return t;
  }

  /**
   * fib_table_lookup() in one table: the route, or a negative errno (a reject route's error, or
   * -EAGAIN for a miss or a throw route, so that rule walking goes on).
   */
  fib_table_lookup4(tbid: number, daddr: number, oif: number): Route4 | number {
    const t = this.v4.get(tbid);
    if (t === undefined) return FIB_EAGAIN;
    for (const r of t) {
      if (((daddr & r.mask) >>> 0) !== r.dst) continue;
      switch (r.type) {
        case RTN_BLACKHOLE: return FIB_EINVAL;
        case RTN_UNREACHABLE: return FIB_EHOSTUNREACH;
        case RTN_PROHIBIT: return FIB_EACCES;
        case RTN_THROW: return FIB_EAGAIN;
      }
      if (oif !== 0 && r.oif !== oif) continue;
      return r;
    }
    return FIB_EAGAIN;
  }

  /** fib_lookup(): one table for DIRECT (tbid given), else the default rules. */
  fib_lookup4(daddr: number, oif: number, tbid?: number): Route4 | number {
    if (tbid !== undefined) {
      const r = this.fib_table_lookup4(tbid, daddr, oif);
      return r === FIB_EAGAIN ? FIB_ENETUNREACH : r;
    }
    for (const t of DEFAULT_RULES) {
      const r = this.fib_table_lookup4(t, daddr, oif);
      if (r !== FIB_EAGAIN) return r;
    }
    return FIB_ENETUNREACH;
  }

  /**
   * fib6_table_lookup(): the best route for the address at a[off..off+16), undefined for a miss or a
   * throw route (ip6_null_entry, so that rule walking goes on). The flow's oif only breaks ties
   * between routes of the same prefix (rt6_score_route without RT6_LOOKUP_F_IFACE).
   */
  fib6_table_lookup(tbid: number, a: Uint8Array, off: number, oif: number): Route6 | undefined {
    const t = this.v6.get(tbid);
    if (t === undefined) return undefined;
    let best: Route6 | undefined;
    for (const r of t) {
      if (best !== undefined && r.prefixlen < best.prefixlen) break;
      if (!prefixEq6(a, off, r.dst, r.prefixlen)) continue;
      if (r.type === RTN_THROW) return best;
      if (best === undefined) best = r;
      else if (oif !== 0 && best.oif !== oif && r.oif === oif) best = r;
    }
    return best;
  }

  fib6_lookup(a: Uint8Array, off: number, oif: number, tbid?: number): Route6 | undefined {
    if (tbid !== undefined) return this.fib6_table_lookup(tbid, a, off, oif);
    for (const t of DEFAULT_RULES) {
      const r = this.fib6_table_lookup(t, a, off, oif);
      if (r !== undefined) return r;
    }
    return undefined;
  }

  /** ip_mtu_from_fib_result(): a locked route MTU, else the device's (capped at IP_MAX_MTU). */
  ip_mtu_from_fib_result(r: Route4, dev: NetDevice): number {
    if (r.mtuLocked && r.mtu !== 0) return r.mtu;
    return Math.min(dev.mtu, IP_MAX_MTU);
  }

  /** ip6_mtu_from_fib6(): a locked route MTU, else max(IPV6_MIN_MTU, the device's mtu6). */
  ip6_mtu_from_fib6(r: Route6, dev: NetDevice): number {
    if (r.mtuLocked && r.mtu !== 0) return r.mtu;
    return Math.min(Math.max(IPV6_MIN_MTU, dev.mtu), IP6_MAX_MTU);
  }

  /** inet_select_addr()-like: the route's prefsrc, else the output device's first IPv4 address, else 0. */
  fib_result_prefsrc(r: Route4): number {
    if (r.prefsrc !== 0) return r.prefsrc;
    return this.netdevs.dev_get_by_index(r.oif)?.ipv4_addrs[0]?.address ?? 0;
  }

  /** ipv6_dev_get_saddr()-like: the route's prefsrc, else the device's first non-link-local address. */
  ipv6_dev_get_saddr(r: Route6): Uint8Array | undefined {
    if (r.prefsrc !== undefined) return r.prefsrc;
    const dev = this.netdevs.dev_get_by_index(r.oif);
    return dev?.ipv6_addrs.find((x) => !rt6_need_strict(x.address))?.address;
  }

  /** `ip route show table all`-like listing, for debugging and the CLI. */
  routes(): (Route4 | Route6)[] {
    return [...[...this.v4.values()].flat(), ...[...this.v6.values()].flat()];
  }
}

/** The default FIB rules: 0 from all lookup local, 32766 lookup main, 32767 lookup default. */
const DEFAULT_RULES = [RT_TABLE_LOCAL, RT_TABLE_MAIN, RT_TABLE_DEFAULT] as const;
