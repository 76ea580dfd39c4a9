// The host's receive path for frames arriving on a net device, and the device state `ip link` shows:
// a driver's NAPI poll running its native XDP program (drivers/net/*: the XDP switch every driver
// has), generic XDP (net/core/dev.c do_xdp_generic, netif_receive_generic_xdp, generic_xdp_tx),
// xdp_do_redirect / xdp_do_generic_redirect to another device (net/core/filter.c,
// kernel/bpf/devmap.c with its egress programs and broadcast), the device's link state, MTU
// (dev_set_mtu_ext, dev_validate_mtu) and struct rtnl_link_stats64 counters, and a veth-like driver
// for the host's own devices.
//
// A frame's path, as on a real host:
//   NIC cores (an offloaded program, when the device's driver registered a NetdevHwRx)
//     -> PASS -> native XDP (the driver's program, XDP_MODE_DRV) or generic XDP (XDP_MODE_SKB)
//       -> PASS: the stack (the device's `stack` sink), TX: out of the same device (its `wire` sink),
//          REDIRECT: out of another device (bpf_redirect / bpf_redirect_map), DROP / ABORTED: freed.
// Frames run on the host CPU their RSS queue maps to (queue = flow hash mod the device's rx queues,
// CPU = queue mod the CPU count), in NAPI-sized batches under rcu_read_lock(), on each CPU's reused
// xdp_buff: nothing is allocated per frame except the copies a sink keeps.
//
// Accounting (a modelling choice, where real drivers differ): rx_packets/rx_bytes count every frame the
// device received; rx_dropped counts the ones the host (or the NIC) then dropped — XDP_DROP, XDP_ABORTED,
// unsupported actions, failed redirects; rx_length_errors the frames the MAC refused (runts, above the
// MTU). tx_packets/tx_bytes count frames sent out of the device. Per-mode XDP verdict counts are kept as
// IFLA_XDP_XSTATS names them (rx_xdp_pass, rx_xdp_drop, ...).
//
// The fields below belong in struct net_device (netdev.ts); they live in a side table keyed by the
// device until they move there.

import { BpfError, type ErrnoName } from '../../bpf/errno.js';
import type { ExecContext } from '../exec/context.js';
import { xdp_redirect_target_ifindex, BPF_F_BROADCAST, BPF_F_EXCLUDE_INGRESS } from '../helpers/filter.js';
import type { BpfRedirectInfo, DatapathMap } from '../helpers/proto.js';
import type { Kernel } from '../kernel.js';
import { BPF_MAP_TYPE_DEVMAP, BPF_MAP_TYPE_DEVMAP_HASH, type BpfMap } from '../maps/map.js';
import type { NdoBpf } from '../offload.js';
import type { BpfProg } from '../prog.js';
import { runProg, xdpBuffOf } from '../test_run.js';
import { dev_generic_xdp_prog, dev_xdp_prog, XDP_MODE_DRV, XDP_MODE_HW, XDP_MODE_SKB } from './dev-xdp.js';
import { NetlinkExtAck } from './extack.js';
import { ETH_HLEN, ETH_MIN_MTU, IP_MAX_MTU, LOOPBACK_IFINDEX, type NetDevice, type NetDeviceConfig } from './netdev.js';
import {
  PAGE_SIZE, SKB_SHARED_INFO_SIZE, XDP_ABORTED, XDP_DROP, XDP_PACKET_HEADROOM, XDP_PASS, XDP_REDIRECT, XDP_TX, XdpBuff,
} from './xdp.js';

/** enum netdev_xdp_act (include/uapi/linux/netdev.h): what a driver's XDP path can do. */
export const NETDEV_XDP_ACT_BASIC = 1 << 0; // XDP_PASS, XDP_DROP, XDP_ABORTED, XDP_TX
export const NETDEV_XDP_ACT_REDIRECT = 1 << 1; // the driver's XDP path handles XDP_REDIRECT
export const NETDEV_XDP_ACT_NDO_XMIT = 1 << 2; // a native-mode redirect target (ndo_xdp_xmit)
export const NETDEV_XDP_ACT_XSK_ZEROCOPY = 1 << 3;
export const NETDEV_XDP_ACT_HW_OFFLOAD = 1 << 4;
export const NETDEV_XDP_ACT_RX_SG = 1 << 5;
export const NETDEV_XDP_ACT_NDO_XMIT_SG = 1 << 6;

/** VLAN_HLEN: the MAC accepts one tag beyond the MTU (xdp_ok_fwd_dev allows it too). */
export const VLAN_HLEN = 4;
/** The largest frame one page holds with XDP's headroom and the skb_shared_info tailroom. */
export const XDP_MAX_FRAME = PAGE_SIZE - XDP_PACKET_HEADROOM - SKB_SHARED_INFO_SIZE;
/** NAPI_POLL_WEIGHT: frames per poll (one rcu_read_lock() section). */
export const NAPI_POLL_WEIGHT = 64;
/** Frames handed to the NIC at a time. */
export const HW_BATCH = 4096;
/** How many frames a sink keeps by default (it counts them all). */
export const SINK_KEEP = 4096;

/** struct rtnl_link_stats64 (include/uapi/linux/if_link.h). */
export class LinkStats64 {
  rx_packets = 0;
  tx_packets = 0;
  rx_bytes = 0;
  tx_bytes = 0;
  rx_errors = 0;
  tx_errors = 0;
  rx_dropped = 0;
  tx_dropped = 0;
  multicast = 0;
  collisions = 0;
  rx_length_errors = 0;
  rx_over_errors = 0;
  rx_crc_errors = 0;
  rx_frame_errors = 0;
  rx_fifo_errors = 0;
  rx_missed_errors = 0;
  tx_aborted_errors = 0;
  tx_carrier_errors = 0;
  tx_fifo_errors = 0;
  tx_heartbeat_errors = 0;
  tx_window_errors = 0;
  rx_compressed = 0;
  tx_compressed = 0;
  rx_nohandler = 0;
}

/** IFLA_XDP_XSTATS of one device and one place the program ran (generic, drv, offload). */
export class XdpStats {
  rx_xdp_packets = 0;
  rx_xdp_bytes = 0;
  rx_xdp_aborted = 0;
  rx_xdp_drop = 0;
  rx_xdp_invalid = 0;
  rx_xdp_pass = 0;
  rx_xdp_redirect = 0;
  rx_xdp_redirect_errors = 0;
  rx_xdp_tx = 0;
  rx_xdp_tx_errors = 0;

  count(act: number, bytes: number): void {
    this.rx_xdp_packets++;
    this.rx_xdp_bytes += bytes;
    switch (act) {
      case XDP_ABORTED: this.rx_xdp_aborted++; break;
      case XDP_DROP: this.rx_xdp_drop++; break;
      case XDP_PASS: this.rx_xdp_pass++; break;
      case XDP_TX: this.rx_xdp_tx++; break;
      case XDP_REDIRECT: this.rx_xdp_redirect++; break;
      default: this.rx_xdp_invalid++; break;
    }
  }
}

/** Where frames end up: it counts all of them and keeps copies of the first `keep`. */
export class FrameSink {
  packets = 0;
  bytes = 0;
  readonly frames: Uint8Array[] = [];

  constructor(public keep = SINK_KEEP) {}

  push(buf: Uint8Array, start: number, end: number): void {
    this.packets++;
    this.bytes += end - start;
    if (this.frames.length < this.keep) this.frames.push(buf.slice(start, end));
  }

  clear(): void {
    this.packets = 0;
    this.bytes = 0;
    this.frames.length = 0;
  }
}

/**
 * A NIC that runs an offloaded program before the host sees the frames (the driver registers it for
 * its ports). It returns each frame's XDP action in `acts` and, for XDP_PASS and XDP_TX, the frame as
 * the program left it in `out` (the same array as the input when unchanged).
 */
export interface NetdevHwRx {
  xdp_hw_rx(dev: NetDevice, frames: readonly Uint8Array[], acts: Uint8Array, out: Uint8Array[]): Promise<void>;
  /** The NIC's own counters, for reports: packets and modeled cycles per core, and its clock. */
  hw_stats?(): NetdevHwStats;
}

/** What a NIC says about its cores (cumulative since it started). */
export interface NetdevHwStats {
  readonly perCore: readonly { readonly core: number; readonly packets: number; readonly cycles: number }[];
  readonly clockMhz: number;
}

/** How a device's MTU change reaches its driver (ndo_change_mtu); a refusal throws a BpfError. */
export type NdoChangeMtu = (dev: NetDevice, newMtu: number, extack: NetlinkExtAck) => void | Promise<void>;

/** The receive/transmit side of a struct net_device. */
export class NetdevRx {
  /** IFF_UP (administratively up). */
  up: boolean;
  /** The link partner is there (IFF_LOWER_UP once up). */
  carrier = true;
  /** rtnl's IFLA_CARRIER_CHANGES. */
  carrier_changes = 0;
  xdp_features = NETDEV_XDP_ACT_BASIC;
  min_mtu = ETH_MIN_MTU;
  max_mtu = IP_MAX_MTU;
  /** The driver's name (ethtool -i), for ip -d and reports. */
  driver = 'unknown';
  readonly stats = new LinkStats64();
  /** IFLA_XDP_XSTATS per mode, indexed by enum bpf_xdp_mode. */
  readonly xdp: readonly [XdpStats, XdpStats, XdpStats] = [new XdpStats(), new XdpStats(), new XdpStats()];
  /** Frames XDP_PASS (or no program) delivered to the host's stack. */
  readonly stack = new FrameSink();
  /** Frames sent out of the device. */
  readonly wire = new FrameSink();
  ndo_change_mtu: NdoChangeMtu | undefined;
  hw: NetdevHwRx | undefined;

  constructor(loopback: boolean) {
    this.up = loopback;
    if (loopback) this.driver = 'loopback';
  }
}

const rxs = new WeakMap<NetDevice, NetdevRx>();

/** The device's receive/transmit state (created on first use: loopback starts up, others down). */
export function netdev_rx(dev: NetDevice): NetdevRx {
  let r = rxs.get(dev);
  if (r === undefined) {
    r = new NetdevRx(dev.ifindex === LOOPBACK_IFINDEX);
    rxs.set(dev, r);
  }
  return r;
}

/** dev_open() / dev_close() as `ip link set dev X up|down` do them. */
export function dev_change_flags_up(dev: NetDevice, up: boolean): void {
  const r = netdev_rx(dev);
  if (r.up === up) return;
  r.up = up;
  if (r.carrier) r.carrier_changes++;
}

/**
 * dev_set_mtu_ext(): the same MTU is a no-op; dev_validate_mtu() checks the device's range (EINVAL with
 * the kernel's extack); then the driver's ndo_change_mtu may refuse (an nfp with an offloaded program
 * that could read past the new split point, a veth with a native program).
 */
export async function dev_set_mtu(dev: NetDevice, newMtu: number, extack = new NetlinkExtAck()): Promise<void> {
  if (newMtu === dev.mtu) return;
  const r = netdev_rx(dev);
  const fail = (errno: ErrnoName, msg: string): never => {
    extack.set(msg);
    throw new BpfError(errno, msg);
  };
  if (!Number.isInteger(newMtu) || newMtu < 0 || newMtu < r.min_mtu) fail('EINVAL', 'mtu less than device minimum');
  if (r.max_mtu > 0 && newMtu > r.max_mtu) fail('EINVAL', 'mtu greater than device maximum');
  if (r.ndo_change_mtu !== undefined) {
    try {
      await r.ndo_change_mtu(dev, newMtu, extack);
    } catch (e) {
      if (e instanceof BpfError) throw new BpfError(e.errno, extack._msg ?? e.message, { cause: e });
      throw e;
    }
  }
  dev.mtu = newMtu;
}

// ------------------------------------------------------------------ the host's own devices (veth)

/** veth's largest MTU with a (non-frags) XDP program: one page less headroom, tailroom and the header. */
export const VETH_XDP_MAX_MTU = XDP_MAX_FRAME - ETH_HLEN;

export interface HostNetdevConfig extends NetDeviceConfig {
  /** Bring it up at once (default true: a scenario's devices are cabled and up). */
  up?: boolean;
}

/**
 * A host device modeled on veth (drivers/net/veth.c): native XDP through ndo_bpf(XDP_SETUP_PROG),
 * refused while the MTU does not fit a page (and the MTU capped while a program is attached); a
 * redirect target (ndo_xdp_xmit); no offload. What it transmits goes to its `wire` sink, as if the
 * other end of the cable were outside this host. One rx queue per host CPU.
 */
export function host_netdev_register(k: Kernel, cfg: HostNetdevConfig): NetDevice {
  const dev = k.netdevs.register({ rxQueues: k.cpus.length, ...cfg });
  const r = netdev_rx(dev);
  r.driver = 'veth';
  r.xdp_features = NETDEV_XDP_ACT_BASIC | NETDEV_XDP_ACT_REDIRECT | NETDEV_XDP_ACT_NDO_XMIT;
  r.up = cfg.up ?? true;
  let prog: BpfProg | null = null;
  const ndo: NdoBpf = async (netdev, bpf) => {
    if (bpf.command !== 'XDP_SETUP_PROG') throw new BpfError('EINVAL', `veth: ndo_bpf(${bpf.command}) is not supported`);
    if (bpf.prog !== null && netdev.mtu > VETH_XDP_MAX_MTU) {
      bpf.extack.setMod('veth', 'Peer MTU is too large to set XDP');
      throw new BpfError('ERANGE', bpf.extack._msg);
    }
    const old = prog;
    prog = bpf.prog;
    // veth_xdp_set(): the MTU may not grow past what a page holds while a program runs.
    r.max_mtu = prog !== null ? VETH_XDP_MAX_MTU : IP_MAX_MTU;
    old?.put();
  };
  k.offload.netdev_set_ndo_bpf(dev, ndo);
  return dev;
}

// ------------------------------------------------------------------ receive

/** What became of the frames of one receive call. */
export interface RxFates {
  /** Delivered to the stack (XDP_PASS, or no program). */
  pass: number;
  drop: number;
  /** XDP_ABORTED and actions the path does not support. */
  aborted: number;
  /** Sent back out of the receiving device. */
  tx: number;
  /** Sent out of another device (each copy of a broadcast counts). */
  redirect: number;
  /** Refused by the MAC (runt, above the MTU, device down) or a redirect/TX that failed. */
  error: number;
}

export interface RxReport {
  readonly dev: string;
  /** Frames offered (frames x repeat). */
  readonly frames: number;
  readonly bytes: number;
  readonly fates: RxFates;
  /** XDP actions by where the program ran (only places that ran one). */
  readonly verdicts: Partial<Record<'offload' | 'drv' | 'generic', Record<'aborted' | 'drop' | 'pass' | 'tx' | 'redirect' | 'invalid', number>>>;
  /** Frames handled by each host CPU (the host part of the path). */
  readonly cpu_frames: number[];
  /** Wall-clock time of the call, ns. */
  readonly ns: number;
}

export interface RxOptions {
  /** Send the frame list this many times (default 1). */
  repeat?: number;
}

const devmapBuffs = new WeakMap<ExecContext, XdpBuff>();

function devmapBuffOf(x: ExecContext): XdpBuff {
  let b = devmapBuffs.get(x);
  if (b === undefined) {
    b = new XdpBuff(x.env.mem, { devmapProg: true });
    devmapBuffs.set(x, b);
  }
  return b;
}

/** A flow hash for RSS: IPv4/IPv6 addresses and TCP/UDP ports when present, else the MAC addresses. */
export function rx_flow_hash(f: Uint8Array): number {
  let h = 0x9e3779b9;
  const mix = (v: number): void => {
    h = Math.imul(h ^ v, 0x85ebca6b);
    h ^= h >>> 13;
  };
  let off = 12;
  let proto = f.length >= 14 ? (f[12]! << 8) | f[13]! : 0;
  while ((proto === 0x8100 || proto === 0x88a8) && f.length >= off + 6) {
    off += 4;
    proto = (f[off]! << 8) | f[off + 1]!;
  }
  const l3 = off + 2;
  let l4 = -1;
  let ipproto = 0;
  if (proto === 0x0800 && f.length >= l3 + 20) {
    for (let i = 12; i < 20; i++) mix(f[l3 + i]!);
    ipproto = f[l3 + 9]!;
    l4 = l3 + (f[l3]! & 0xf) * 4;
  } else if (proto === 0x86dd && f.length >= l3 + 40) {
    for (let i = 8; i < 40; i++) mix(f[l3 + i]!);
    ipproto = f[l3 + 6]!;
    l4 = l3 + 40;
  } else {
    for (let i = 0; i < Math.min(12, f.length); i++) mix(f[i]!);
  }
  if ((ipproto === 6 || ipproto === 17) && l4 > 0 && f.length >= l4 + 4) {
    for (let i = 0; i < 4; i++) mix(f[l4 + i]!);
  }
  return h >>> 0;
}

const warnedInvalid = new WeakSet<Kernel>();

/** bpf_warn_invalid_xdp_action(): once per boot, as pr_warn_once does. */
function warn_invalid_xdp_action(k: Kernel, dev: NetDevice, prog: BpfProg, act: number): void {
  if (warnedInvalid.has(k)) return;
  warnedInvalid.add(k);
  const what = act > XDP_REDIRECT ? 'Illegal' : 'Driver unsupported';
  k.log.warn(`${what} XDP return value ${act} on prog ${prog.name} (id ${prog.id}) dev ${dev.name}, expect packet loss!`);
}

/** xdp_ok_fwd_dev(): the target is up and the frame fits its MTU plus a VLAN tag. */
function xdp_ok_fwd_dev(fwd: NetDevice, len: number): boolean {
  return netdev_rx(fwd).up && len <= fwd.mtu + ETH_HLEN + VLAN_HLEN;
}

/** The device sends a frame (the driver's TX ring, or dev_queue_xmit): counted and kept by its wire sink. */
function dev_xmit(dev: NetDevice, buf: Uint8Array, start: number, end: number): void {
  const r = netdev_rx(dev);
  r.stats.tx_packets++;
  r.stats.tx_bytes += end - start;
  r.wire.push(buf, start, end);
}

/** What redirectTo() did with a frame (a positive redirect() result counts the copies sent). */
const SENT = 1;
const DROPPED = -1;
const FAILED = -2;

const le32 = (m: Uint8Array, o: number): number => (m[o]! | (m[o + 1]! << 8) | (m[o + 2]! << 16) | (m[o + 3]! << 24)) >>> 0;

/** Per-call state of the host path, reused across frames. */
class RxRun {
  readonly fates: RxFates = { pass: 0, drop: 0, aborted: 0, tx: 0, redirect: 0, error: 0 };

  constructor(readonly k: Kernel, readonly dev: NetDevice, readonly rx: NetdevRx) {}

  drop(): void {
    this.rx.stats.rx_dropped++;
  }

  /**
   * Run a devmap entry's egress program (dev_map_bpf_prog_run) on a copy of the frame: XDP_PASS lets
   * it go (possibly changed: the buffer holding it is returned); anything else drops it (null).
   */
  egressProg(x: ExecContext, prog: BpfProg, target: NetDevice, buf: Uint8Array, start: number, end: number): XdpBuff | null {
    const b = devmapBuffOf(x);
    b.xdp_init_buff(PAGE_SIZE, this.dev.ifindex, 0);
    b.receive(buf, start, end - start, this.dev.ifindex, 0, this.dev.xdp_metadata);
    b.txq_ifindex = target.ifindex;
    const act = runProg(prog, x, b.ctx.hi);
    if (act === XDP_PASS) return b;
    if (act !== XDP_DROP && act !== XDP_ABORTED) warn_invalid_xdp_action(this.k, target, prog, act);
    return null;
  }

  /**
   * Send to one redirect target: SENT, DROPPED (its devmap egress program dropped it, after the
   * redirect itself succeeded) or FAILED (no such device, down, too small, cannot take XDP frames).
   */
  redirectTo(x: ExecContext, ifindex: number, devmapProgId: number, native: boolean, buf: Uint8Array, start: number, end: number): number {
    const fwd = this.k.netdevs.dev_get_by_index(ifindex);
    if (fwd === undefined) return FAILED;
    // A native-mode redirect needs a driver that can take XDP frames (ndo_xdp_xmit); generic XDP
    // uses dev_queue_xmit, which every device has.
    if (native && (netdev_rx(fwd).xdp_features & NETDEV_XDP_ACT_NDO_XMIT) === 0) return FAILED;
    if (!xdp_ok_fwd_dev(fwd, end - start)) return FAILED;
    if (devmapProgId !== 0) {
      const prog = this.k.progs.get(devmapProgId);
      if (prog === undefined) return FAILED;
      const b = this.egressProg(x, prog, fwd, buf, start, end);
      if (b === null) return DROPPED;
      dev_xmit(fwd, b.frame, b.data, b.data_end);
      return SENT;
    }
    dev_xmit(fwd, buf, start, end);
    return SENT;
  }

  /**
   * xdp_do_redirect() / xdp_do_generic_redirect(): consume this CPU's bpf_redirect_info and send the
   * frame to its target(s). Returns how many copies went out, or DROPPED / FAILED when none did.
   */
  redirect(x: ExecContext, ri: BpfRedirectInfo, native: boolean, buf: Uint8Array, start: number, end: number): number {
    const bcast = ri.map !== null && (ri.flags & BPF_F_BROADCAST) !== 0 ? ri.map : null;
    const exclude = (ri.flags & BPF_F_EXCLUDE_INGRESS) !== 0;
    const single = bcast === null ? xdp_redirect_target_ifindex(ri) : 0;
    const progId = bcast === null && ri.tgt_map !== null && ri.tgt_map.value_size === 8 && ri.tgt_value >= 0 ? le32(ri.tgt_map.mem, ri.tgt_value + 4) : 0;
    // The helper's state is used up (the kernel clears map_id and map_type in xdp_do_redirect).
    ri.map_id = 0;
    ri.map_type = 0;
    ri.tgt_map = null;
    ri.tgt_value = -1;
    ri.map = null;
    ri.flags = 0;
    if (bcast === null) {
      if (single === 0) return FAILED;
      const r = this.redirectTo(x, single, progId, native, buf, start, end);
      return r === SENT ? 1 : r;
    }
    return this.broadcast(x, bcast, exclude, native, buf, start, end);
  }

  /** dev_map_enqueue_multi(): a copy to every device of the map (but the ingress one, if excluded). */
  broadcast(x: ExecContext, dmap: DatapathMap, exclude: boolean, native: boolean, buf: Uint8Array, start: number, end: number): number {
    if (dmap.map_type !== BPF_MAP_TYPE_DEVMAP && dmap.map_type !== BPF_MAP_TYPE_DEVMAP_HASH) return FAILED;
    const map = dmap as unknown as BpfMap;
    let sent = 0;
    let dropped = 0;
    let key: Uint8Array | null = null;
    for (;;) {
      let next: Uint8Array;
      try {
        next = map.getNextKey(key);
      } catch {
        break;
      }
      key = next;
      const off = dmap.lookupOffset(next, 0, x.cpu);
      if (off < 0) continue;
      const ifindex = le32(dmap.mem, off);
      if (ifindex === 0 || (exclude && ifindex === this.dev.ifindex)) continue;
      const progId = dmap.value_size === 8 ? le32(dmap.mem, off + 4) : 0;
      const r = this.redirectTo(x, ifindex, progId, native, buf, start, end);
      if (r === SENT) sent++;
      else if (r === DROPPED) dropped++;
    }
    return sent > 0 ? sent : dropped > 0 ? DROPPED : FAILED;
  }
}

function countVerdict(v: Record<string, number>, act: number): void {
  switch (act) {
    case XDP_ABORTED: v['aborted']!++; break;
    case XDP_DROP: v['drop']!++; break;
    case XDP_PASS: v['pass']!++; break;
    case XDP_TX: v['tx']!++; break;
    case XDP_REDIRECT: v['redirect']!++; break;
    default: v['invalid']!++; break;
  }
}

const zeroVerdicts = (): Record<'aborted' | 'drop' | 'pass' | 'tx' | 'redirect' | 'invalid', number> => ({ aborted: 0, drop: 0, pass: 0, tx: 0, redirect: 0, invalid: 0 });

/**
 * Frames arrive on `dev` from its link: the NIC's offloaded program first (when there is one), then the
 * host — the driver's native XDP program or generic XDP — and each frame's fate is counted. Resolves
 * when every frame has been handled.
 */
export async function netif_receive(k: Kernel, dev: NetDevice, frames: readonly Uint8Array[], opts: RxOptions = {}): Promise<RxReport> {
  const repeat = opts.repeat ?? 1;
  if (!Number.isSafeInteger(repeat) || repeat < 0) throw new BpfError('EINVAL', `repeat ${repeat} is not a count`);
  const t0 = process.hrtime.bigint();
  const r = netdev_rx(dev);
  const run = new RxRun(k, dev, r);
  const fates = run.fates;
  const verdicts: RxReport['verdicts'] = {};
  const ncpus = k.cpus.length;
  const cpu_frames = new Array<number>(ncpus).fill(0);
  const nqueues = Math.max(1, dev.real_num_rx_queues);
  // RSS once per distinct frame: the same flow always lands on the same queue and CPU.
  const queueOf = Uint32Array.from(frames, (f) => rx_flow_hash(f) % nqueues);
  let bytes = 0;
  for (const f of frames) bytes += f.length;
  const report = (): RxReport => ({
    dev: dev.name, frames: frames.length * repeat, bytes: bytes * repeat, fates, verdicts, cpu_frames,
    ns: Number(process.hrtime.bigint() - t0),
  });
  if (frames.length === 0 || repeat === 0) return report();

  // The MAC: runts and frames above the MTU (plus a VLAN tag) never reach XDP.
  const maxLen = dev.mtu + ETH_HLEN + VLAN_HLEN;
  const admitted: Uint8Array[] = [];
  const admittedQueue: number[] = [];
  for (let i = 0; i < frames.length; i++) {
    const f = frames[i]!;
    if (f.length >= ETH_HLEN && f.length <= maxLen) {
      admitted.push(f);
      admittedQueue.push(queueOf[i]!);
    }
  }
  const refused = frames.length - admitted.length;
  let refusedBytes = 0;
  for (const f of frames) if (f.length < ETH_HLEN || f.length > maxLen) refusedBytes += f.length;
  const queues = Uint32Array.from(admittedQueue);
  const hwProg = dev_xdp_prog(dev, XDP_MODE_HW);
  const hw = hwProg !== null ? r.hw : undefined;
  if (hwProg !== null && hw === undefined) {
    // Running the frames past the host would silently skip the program the user offloaded.
    throw new BpfError('EOPNOTSUPP', `${dev.name}: an offloaded XDP program is attached but the driver has no NIC datapath to run it`);
  }
  const hwV = hw !== undefined ? (verdicts.offload = zeroVerdicts()) : undefined;
  // With a NIC in front, the frame list is repeated into batches of about HW_BATCH frames, so that the
  // cores get many frames per hand-over however short the list.
  const per = hw !== undefined && admitted.length > 0 ? Math.max(1, Math.floor(HW_BATCH / admitted.length)) : 1;
  const batch = per === 1 ? admitted : Array.from({ length: per * admitted.length }, (_, i) => admitted[i % admitted.length]!);
  const batchQueues = per === 1 ? queues : Uint32Array.from({ length: batch.length }, (_, i) => queues[i % queues.length]!);
  // Two sets of NIC results: the card's cores run one batch while the host's CPUs take the frames of
  // the one before up the stack, as a NIC and its host run at the same time. Frames still reach the
  // host in order: a batch's host pass starts only after the one before it has ended.
  const hwActs = [new Uint8Array(batch.length), new Uint8Array(batch.length)] as const;
  const hwOut = [batch.slice(), batch.slice()] as const;
  let nic = null as NicBatch | null;

  for (let rep = 0; rep < repeat;) {
    const n = Math.min(per, repeat - rep);
    rep += n;
    if (!r.up) {
      // A down device takes nothing in (and counts nothing).
      fates.error += n * frames.length;
      continue;
    }
    r.stats.rx_packets += n * refused;
    r.stats.rx_bytes += n * refusedBytes;
    r.stats.rx_length_errors += n * refused;
    r.stats.rx_errors += n * refused;
    fates.error += n * refused;
    if (admitted.length === 0) continue;
    const f = n === per ? batch : batch.slice(0, n * admitted.length);
    const q = n === per ? batchQueues : batchQueues.subarray(0, n * admitted.length);
    if (hw === undefined) {
      hostPath(k, dev, r, run, f, q, null, hwOut[0], hwV, verdicts, cpu_frames);
      continue;
    }
    const prev = nic;
    if (prev !== null) await prev.done;
    const b: 0 | 1 = prev === null || prev.b === 1 ? 0 : 1;
    const done = hw.xdp_hw_rx(dev, f, hwActs[b], hwOut[b]);
    // Awaited below; marked handled so that a failure while the host pass runs is not reported twice.
    done.catch(() => undefined);
    nic = { done, f, q, b };
    if (prev !== null) hostPath(k, dev, r, run, prev.f, prev.q, hwActs[prev.b], hwOut[prev.b], hwV, verdicts, cpu_frames);
  }
  if (nic !== null) {
    await nic.done;
    hostPath(k, dev, r, run, nic.f, nic.q, hwActs[nic.b], hwOut[nic.b], hwV, verdicts, cpu_frames);
  }
  return report();
}

/** A batch of frames the NIC is running: its results will be in the receive path's set `b`. */
interface NicBatch {
  readonly done: Promise<void>;
  readonly f: readonly Uint8Array[];
  readonly q: Uint32Array;
  readonly b: 0 | 1;
}

/** The host's side of one pass over the frames (synchronous: it never sleeps). */
function hostPath(
  k: Kernel, dev: NetDevice, r: NetdevRx, run: RxRun, frames: readonly Uint8Array[], queueOf: Uint32Array,
  hwActs: Uint8Array | null, hwOut: readonly Uint8Array[], hwV: Record<string, number> | undefined,
  verdicts: RxReport['verdicts'], cpu_frames: number[],
): void {
  const fates = run.fates;
  const ncpus = k.cpus.length;
  const drvProg = dev_xdp_prog(dev, XDP_MODE_DRV);
  const prog = drvProg ?? dev_generic_xdp_prog(dev);
  const native = drvProg !== null;
  const mode = native ? XDP_MODE_DRV : XDP_MODE_SKB;
  const xs = r.xdp[mode];
  const v = prog !== null ? (verdicts[native ? 'drv' : 'generic'] ??= zeroVerdicts()) : undefined;
  const supportsRedirect = !native || (r.xdp_features & NETDEV_XDP_ACT_REDIRECT) !== 0;
  const stats = r.stats;
  let batch = 0;
  let runs = 0;
  let t = 0n;
  k.rcu.rcu_read_lock();
  if (prog !== null && k.statsEnabled) t = process.hrtime.bigint();
  try {
    for (let i = 0; i < frames.length; i++) {
      if (++batch === NAPI_POLL_WEIGHT) {
        // End of a NAPI poll: the read-side section ends (grace periods may complete) and a new one begins.
        batch = 0;
        k.rcu.rcu_read_unlock();
        k.rcu.rcu_read_lock();
      }
      let f = frames[i]!;
      const len0 = f.length;
      stats.rx_packets++;
      stats.rx_bytes += len0;
      if (hwActs !== null) {
        const act = hwActs[i]!;
        countVerdict(hwV!, act);
        r.xdp[XDP_MODE_HW].count(act, len0);
        if (act === XDP_TX) {
          const o = hwOut[i]!;
          dev_xmit(dev, o, 0, o.length);
          fates.tx++;
          continue;
        }
        if (act !== XDP_PASS) {
          run.drop();
          if (act === XDP_DROP) fates.drop++;
          else fates.aborted++;
          continue;
        }
        f = hwOut[i]!;
      }
      const queue = queueOf[i]!;
      const cpu = queue % ncpus;
      cpu_frames[cpu]!++;
      if (prog === null) {
        r.stack.push(f, 0, f.length);
        fates.pass++;
        continue;
      }
      const x = k.cpus[cpu]!;
      if (f.length > XDP_MAX_FRAME) {
        // Larger than a page: a multi-buffer frame, which this model does not build.
        run.drop();
        stats.rx_errors++;
        fates.error++;
        continue;
      }
      const buff = xdpBuffOf(x);
      buff.xdp_init_buff(PAGE_SIZE, dev.ifindex, queue);
      buff.receive(f, 0, f.length, dev.ifindex, queue, dev.xdp_metadata);
      buff.txq_ifindex = 0;
      const act = runProg(prog, x, buff.ctx.hi);
      runs++;
      countVerdict(v!, act);
      xs.count(act, f.length);
      // A driver whose XDP path has no redirect treats it as any unknown action.
      switch (act === XDP_REDIRECT && !supportsRedirect ? -1 : act) {
        case XDP_PASS:
          r.stack.push(buff.frame, buff.data, buff.data_end);
          fates.pass++;
          break;
        case XDP_TX:
          // The driver's XDP TX ring, or generic_xdp_tx(): out of the same device.
          dev_xmit(dev, buff.frame, buff.data, buff.data_end);
          fates.tx++;
          break;
        case XDP_REDIRECT: {
          const sent = run.redirect(x, k.helperEnv.redirect[x.cpu]!, native, buff.frame, buff.data, buff.data_end);
          if (sent > 0) {
            fates.redirect += sent;
          } else if (sent === DROPPED) {
            // Redirected, then dropped by the target's devmap program: not a redirect error.
            run.drop();
            fates.drop++;
          } else {
            xs.rx_xdp_redirect_errors++;
            run.drop();
            fates.error++;
          }
          break;
        }
        case XDP_DROP:
          run.drop();
          fates.drop++;
          break;
        default:
          if (act !== XDP_ABORTED) warn_invalid_xdp_action(k, dev, prog, act);
          run.drop();
          fates.aborted++;
          break;
      }
    }
  } finally {
    k.rcu.rcu_read_unlock();
  }
  if (prog !== null && k.statsEnabled) {
    prog.runCnt += runs;
    prog.runTimeNs += Number(process.hrtime.bigint() - t);
  }
}
