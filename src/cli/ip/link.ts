// `ip link show` and `ip link set` of iproute2 6.1 (ip/iplink.c, ip/ipaddress.c print_linkinfo and
// print_link_stats64, ip/iplink_xdp.c, lib/bpf_libbpf.c, lib/bpf_legacy.c bpf_parse) on the emulated
// host: the same words, the same output (plain, -s, -s -s, -d, -j, -p) and the same messages and exit
// statuses. A `set` builds what iproute2 sends in one RTM_NEWLINK and the kernel applies it in
// do_setlink()'s order (MTU, flags, XDP), stopping at the first error.
//
// The XDP program of `xdp* obj FILE [sec NAME]` is loaded by the libbpf loader before anything is sent,
// with prog_ifindex (and map_ifindex for all but offload-neutral maps) for xdpoffload, as iproute2's
// load_bpf_object() does; only the programs of that section are loaded.

import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { errnoNumber, isBpfError, strerror, type ErrnoName } from '../../bpf/errno.js';
import { loadObject, type BpfObject } from '../../bpf/object.js';
import { nfp_port_from_netdev } from '../../drivers/nfp/probe.js';
import type { Kernel } from '../../kernel/kernel.js';
import { BPF_MAP_TYPE_PERF_EVENT_ARRAY } from '../../kernel/maps/map.js';
import {
  XDP_ATTACHED_DRV, XDP_ATTACHED_HW, XDP_ATTACHED_MULTI, XDP_ATTACHED_NONE, XDP_ATTACHED_SKB, XDP_FLAGS_DRV_MODE,
  XDP_FLAGS_HW_MODE, XDP_FLAGS_SKB_MODE, XDP_FLAGS_UPDATE_IF_NOEXIST, rtnl_locked, rtnl_setlink_xdp, rtnl_xdp_fill,
} from '../../kernel/net/dev-xdp.js';
import { NetlinkExtAck } from '../../kernel/net/extack.js';
import { LOOPBACK_IFINDEX, type NetDevice } from '../../kernel/net/netdev.js';
import { dev_change_flags_up, dev_set_mtu, netdev_rx, type LinkStats64 } from '../../kernel/net/rx.js';
import type { BpfProgInfo, BpfSyscall } from '../../kernel/syscall.js';
import { ProgLoadError, loadObjectIntoKernelAsync } from '../../libbpf/object.js';
import { formatIpJson, type IpJson } from './json.js';

/** One `ip` process: its options, its output and the host it talks to. */
export interface IpContext {
  readonly kernel: Kernel;
  readonly sys: BpfSyscall;
  /** -s, given this many times. */
  readonly stats: number;
  readonly details: boolean;
  readonly json: boolean;
  readonly pretty: boolean;
  /** -force: replace XDP programs (no XDP_FLAGS_UPDATE_IF_NOEXIST). */
  readonly force: boolean;
  readonly cwd: string;
  out(s: string): void;
  err(s: string): void;
}

/** exit(status) from inside a command (iproute2's exit(-1) after a message is 255). */
export class IpExit extends Error {
  constructor(readonly status: number) {
    super(`exit(${status})`);
  }
}

/** matches(): is `cmd` a prefix of `pattern` (the way iproute2 abbreviates every keyword)? */
export function matches(cmd: string | undefined, pattern: string): boolean {
  return cmd !== undefined && cmd.length > 0 && cmd.length <= pattern.length && pattern.startsWith(cmd);
}

/** incomplete_command(). */
function incomplete(ctx: IpContext): never {
  ctx.err('Command line is not complete. Try option "help"\n');
  throw new IpExit(255);
}

function invarg(ctx: IpContext, msg: string, arg: string): never {
  ctx.err(`Error: argument "${arg}" is wrong: ${msg}\n`);
  throw new IpExit(255);
}

function duparg(ctx: IpContext, key: string, arg: string): never {
  ctx.err(`Error: duplicate "${key}": "${arg}" is the second value.\n`);
  throw new IpExit(255);
}

function duparg2(ctx: IpContext, key: string, arg: string): never {
  ctx.err(`Error: either "${key}" is duplicate, or "${arg}" is a garbage.\n`);
  throw new IpExit(255);
}

/** get_unsigned(): a decimal, 0x hex or 0 octal number (strtoul with base 0), all of the word. */
function getUnsigned(s: string): number | undefined {
  let v: number;
  if (/^0[xX][0-9a-fA-F]+$/.test(s)) v = parseInt(s, 16);
  else if (/^0[0-7]*$/.test(s)) v = parseInt(s, 8);
  else if (/^[1-9][0-9]*$/.test(s)) v = parseInt(s, 10);
  else return undefined;
  return v <= 0xffffffff ? v : undefined;
}

/** A netlink request the kernel refused: the extack as iproute2 prints it, or the errno. */
function rtnlError(ctx: IpContext, e: unknown, extack: NetlinkExtAck): number {
  if (!isBpfError(e)) throw e;
  const msg = extack._msg;
  if (msg !== undefined) ctx.err(`Error: ${msg}${msg.endsWith('.') ? '' : '.'}\n`);
  else ctx.err(`RTNETLINK answers: ${strerror(e.errno)}\n`);
  return 2;
}

// ------------------------------------------------------------------ show

const FLAG_ORDER = ['LOOPBACK', 'BROADCAST', 'MULTICAST', 'UP', 'LOWER_UP'] as const;

interface LinkView {
  readonly dev: NetDevice;
  readonly flags: string[];
  readonly qdisc: string;
  readonly operstate: string;
  readonly linkType: 'loopback' | 'ether';
  readonly broadcast: string;
  readonly kind: string | undefined;
  readonly parent: { bus: string; dev: string } | undefined;
}

function linkView(dev: NetDevice): LinkView {
  const r = netdev_rx(dev);
  const lo = dev.ifindex === LOOPBACK_IFINDEX;
  const set = new Set<string>(lo ? ['LOOPBACK'] : ['BROADCAST', 'MULTICAST']);
  if (r.up) set.add('UP');
  if (r.up && r.carrier) set.add('LOWER_UP');
  const flags: string[] = FLAG_ORDER.filter((f) => set.has(f));
  if (r.up && !r.carrier) flags.unshift('NO-CARRIER');
  // A device's qdisc is attached when it goes up (dev_activate): noqueue for the queue-less virtual
  // devices, mq for a multi-queue NIC, pfifo_fast for a single queue; noop while down.
  const nfp = nfp_port_from_netdev(dev);
  const qdisc = !r.up ? 'noop' : lo || r.driver === 'veth' ? 'noqueue' : dev.num_rx_queues > 1 ? 'mq' : 'pfifo_fast';
  const operstate = lo ? 'UNKNOWN' : !r.up ? 'DOWN' : r.carrier ? 'UP' : 'LOWERLAYERDOWN';
  return {
    dev, flags, qdisc, operstate, linkType: lo ? 'loopback' : 'ether',
    broadcast: lo ? '00:00:00:00:00:00' : 'ff:ff:ff:ff:ff:ff',
    kind: r.driver === 'veth' ? 'veth' : undefined,
    parent: nfp !== undefined ? { bus: 'pci', dev: nfp.pf.device.pciAddr } : undefined,
  };
}

/** bpf_dump_prog_info(): the program's id, and with its info name, tag, jited (and with -d more). */
function progInfo(ctx: IpContext, id: number): BpfProgInfo | undefined {
  let fd: number;
  try {
    fd = ctx.sys.progGetFdById(id);
  } catch {
    return undefined;
  }
  try {
    return ctx.sys.progInfo(fd);
  } catch {
    return undefined;
  } finally {
    ctx.sys.close(fd);
  }
}

function progText(ctx: IpContext, id: number): string {
  let s = `id ${id} `;
  const info = progInfo(ctx, id);
  if (info === undefined) return s;
  s += `name ${info.name} tag ${info.tag} `;
  if (info.jited_prog_len !== 0) s += 'jited ';
  if (ctx.details) {
    if (info.load_time !== 0n) s += `load_time ${info.load_time} created_by_uid ${info.created_by_uid} `;
    if (info.btf_id !== 0) s += `btf_id ${info.btf_id} `;
  }
  return s;
}

function progJson(ctx: IpContext, id: number): { [k: string]: IpJson } {
  const o: { [k: string]: IpJson } = { id };
  const info = progInfo(ctx, id);
  if (info === undefined) return o;
  o['name'] = info.name;
  o['tag'] = info.tag;
  o['jited'] = info.jited_prog_len !== 0 ? 1 : 0;
  if (ctx.details) {
    if (info.load_time !== 0n) {
      o['load_time'] = info.load_time;
      o['created_by_uid'] = info.created_by_uid;
    }
    if (info.btf_id !== 0) o['btf_id'] = info.btf_id;
  }
  return o;
}

const XDP_MODE_WORD: Readonly<Record<number, string>> = {
  [XDP_ATTACHED_DRV]: 'xdp', [XDP_ATTACHED_SKB]: 'xdpgeneric', [XDP_ATTACHED_HW]: 'xdpoffload', [XDP_ATTACHED_MULTI]: 'xdpmulti',
};

/** size_columns(): each column as wide as its widest number (and at least its header). */
function sizeColumns(cols: number[], ...vals: number[]): void {
  vals.forEach((v, i) => {
    let len = 1;
    for (let p = 10; p <= v; p *= 10) len++;
    if (len > cols[i]!) cols[i] = len;
  });
}

const pad = (s: string | number, w: number): string => String(s).padStart(w);

/** print_link_stats64() as text: the RX/TX rows (and with -s -s their error rows). */
function statsText(s: LinkStats64, carrierChanges: number, level: number): string {
  const cols = ['*X errors:'.length, 'packets'.length, 'errors'.length, 'dropped'.length, 'heartbt'.length, 'overrun'.length, 'compressed'.length];
  sizeColumns(cols, s.rx_bytes, s.rx_packets, s.rx_errors, s.rx_dropped, s.rx_missed_errors, s.multicast, s.rx_compressed);
  if (level > 1) sizeColumns(cols, 0, s.rx_length_errors, s.rx_crc_errors, s.rx_frame_errors, s.rx_fifo_errors, s.rx_over_errors, s.rx_nohandler);
  sizeColumns(cols, s.tx_bytes, s.tx_packets, s.tx_errors, s.tx_dropped, s.tx_carrier_errors, s.collisions, s.tx_compressed);
  if (level > 1) sizeColumns(cols, 0, s.tx_aborted_errors, s.tx_fifo_errors, s.tx_window_errors, s.tx_heartbeat_errors, carrierChanges);
  const c = (i: number): number => cols[i]!;
  const num = (w: number, v: number): string => `${pad(v, w)} `;
  let t = `    RX: ${pad('bytes', c(0) - 4)} ${pad('packets', c(1))} ${pad('errors', c(2))} ${pad('dropped', c(3))} ${pad('missed', c(4))} ${pad('mcast', c(5))} ${pad(s.rx_compressed ? 'compressed' : '', c(6))}\n`;
  t += `    ${num(c(0), s.rx_bytes)}${num(c(1), s.rx_packets)}${num(c(2), s.rx_errors)}${num(c(3), s.rx_dropped)}${num(c(4), s.rx_missed_errors)}${num(c(5), s.multicast)}`;
  if (s.rx_compressed) t += num(c(6), s.rx_compressed);
  if (level > 1) {
    t += `\n    RX errors:${pad('', c(0) - 10)} ${pad('length', c(1))} ${pad('crc', c(2))} ${pad('frame', c(3))} ${pad('fifo', c(4))} ${pad('overrun', c(5))}${s.rx_nohandler ? ` ${pad('nohandler', c(6))}` : ''}\n`;
    t += `${pad('', c(0) + 5)}${num(c(1), s.rx_length_errors)}${num(c(2), s.rx_crc_errors)}${num(c(3), s.rx_frame_errors)}${num(c(4), s.rx_fifo_errors)}${num(c(5), s.rx_over_errors)}`;
    if (s.rx_nohandler) t += num(c(6), s.rx_nohandler);
  }
  t += `\n    TX: ${pad('bytes', c(0) - 4)} ${pad('packets', c(1))} ${pad('errors', c(2))} ${pad('dropped', c(3))} ${pad('carrier', c(4))} ${pad('collsns', c(5))} ${pad(s.tx_compressed ? 'compressed' : '', c(6))}\n`;
  t += `    ${num(c(0), s.tx_bytes)}${num(c(1), s.tx_packets)}${num(c(2), s.tx_errors)}${num(c(3), s.tx_dropped)}${num(c(4), s.tx_carrier_errors)}${num(c(5), s.collisions)}`;
  if (s.tx_compressed) t += num(c(6), s.tx_compressed);
  if (level > 1) {
    t += `\n    TX errors:${pad('', c(0) - 10)} ${pad('aborted', c(1))} ${pad('fifo', c(2))} ${pad('window', c(3))} ${pad('heartbt', c(4))} ${pad('transns', c(5))}\n`;
    t += `${pad('', c(0) + 5)}${num(c(1), s.tx_aborted_errors)}${num(c(2), s.tx_fifo_errors)}${num(c(3), s.tx_window_errors)}${num(c(4), s.tx_heartbeat_errors)}${num(c(5), carrierChanges)}`;
  }
  return t;
}

function statsJson(s: LinkStats64, carrierChanges: number, level: number): IpJson {
  const rx: { [k: string]: IpJson } = { bytes: s.rx_bytes, packets: s.rx_packets, errors: s.rx_errors, dropped: s.rx_dropped, over_errors: s.rx_over_errors, multicast: s.multicast };
  if (s.rx_compressed) rx['compressed'] = s.rx_compressed;
  if (level > 1) Object.assign(rx, { length_errors: s.rx_length_errors, crc_errors: s.rx_crc_errors, frame_errors: s.rx_frame_errors, fifo_errors: s.rx_fifo_errors, missed_errors: s.rx_missed_errors });
  if (level > 1 && s.rx_nohandler) rx['nohandler'] = s.rx_nohandler;
  const tx: { [k: string]: IpJson } = { bytes: s.tx_bytes, packets: s.tx_packets, errors: s.tx_errors, dropped: s.tx_dropped, carrier_errors: s.tx_carrier_errors, collisions: s.collisions };
  if (s.tx_compressed) tx['compressed'] = s.tx_compressed;
  if (level > 1) Object.assign(tx, { aborted_errors: s.tx_aborted_errors, fifo_errors: s.tx_fifo_errors, window_errors: s.tx_window_errors, heartbeat_errors: s.tx_heartbeat_errors, carrier_changes: carrierChanges });
  return { rx, tx };
}

/** print_linkinfo() for `ip link show`: two or more lines per device. */
function linkText(ctx: IpContext, v: LinkView): string {
  const dev = v.dev;
  const r = netdev_rx(dev);
  const xdp = rtnl_xdp_fill(dev);
  let t = `${dev.ifindex}: ${dev.name}: <${v.flags.join(',')}> mtu ${dev.mtu} `;
  if (xdp.attached !== XDP_ATTACHED_NONE) t += `${XDP_MODE_WORD[xdp.attached] ?? `xdp[${xdp.attached}]`} `;
  t += `qdisc ${v.qdisc} state ${v.operstate} mode DEFAULT group default qlen 1000\n`;
  t += `    link/${v.linkType} ${dev.address} brd ${v.broadcast}`;
  if (ctx.details) {
    const lo = dev.ifindex === LOOPBACK_IFINDEX;
    t += ` promiscuity 0  allmulti 0 minmtu ${lo ? 0 : r.min_mtu} maxmtu ${lo ? 0 : r.max_mtu} `;
    if (v.kind !== undefined) t += `\n    ${v.kind} `;
    t += `addrgenmode eui64 numtxqueues ${dev.num_rx_queues} numrxqueues ${dev.num_rx_queues} gso_max_size 65536 gso_max_segs 65535 tso_max_size 65536 tso_max_segs 65535 gro_max_size 65536 `;
    if (v.parent !== undefined) t += `parentbus ${v.parent.bus} parentdev ${v.parent.dev} `;
  }
  if (xdp.attached !== XDP_ATTACHED_NONE) {
    if (xdp.prog_id !== 0) t += `\n    prog/xdp ${progText(ctx, xdp.prog_id)}`;
    if (xdp.attached === XDP_ATTACHED_MULTI) {
      if (xdp.skb_prog_id !== 0) t += `\n    prog/xdpgeneric ${progText(ctx, xdp.skb_prog_id)}`;
      if (xdp.drv_prog_id !== 0) t += `\n    prog/xdpdrv ${progText(ctx, xdp.drv_prog_id)}`;
      if (xdp.hw_prog_id !== 0) t += `\n    prog/xdpoffload ${progText(ctx, xdp.hw_prog_id)}`;
    }
  }
  if (ctx.stats > 0) t += `\n${statsText(r.stats, r.carrier_changes, ctx.stats)}`;
  return `${t}\n`;
}

function linkJson(ctx: IpContext, v: LinkView): IpJson {
  const dev = v.dev;
  const r = netdev_rx(dev);
  const xdp = rtnl_xdp_fill(dev);
  const o: { [k: string]: IpJson } = { ifindex: dev.ifindex, ifname: dev.name, flags: v.flags, mtu: dev.mtu };
  if (xdp.attached !== XDP_ATTACHED_NONE) {
    const x: { [k: string]: IpJson } = { mode: xdp.attached };
    if (xdp.prog_id !== 0) x['prog'] = progJson(ctx, xdp.prog_id);
    const attached: IpJson[] = [];
    if (xdp.skb_prog_id !== 0) attached.push({ mode: XDP_ATTACHED_SKB, prog: progJson(ctx, xdp.skb_prog_id) });
    if (xdp.drv_prog_id !== 0) attached.push({ mode: XDP_ATTACHED_DRV, prog: progJson(ctx, xdp.drv_prog_id) });
    if (xdp.hw_prog_id !== 0) attached.push({ mode: XDP_ATTACHED_HW, prog: progJson(ctx, xdp.hw_prog_id) });
    x['attached'] = attached;
    o['xdp'] = x;
  }
  Object.assign(o, {
    qdisc: v.qdisc, operstate: v.operstate, linkmode: 'DEFAULT', group: 'default', txqlen: 1000,
    link_type: v.linkType, address: dev.address, broadcast: v.broadcast,
  });
  if (ctx.details) {
    const lo = dev.ifindex === LOOPBACK_IFINDEX;
    Object.assign(o, { promiscuity: 0, allmulti: 0, min_mtu: lo ? 0 : r.min_mtu, max_mtu: lo ? 0 : r.max_mtu });
    if (v.kind !== undefined) o['linkinfo'] = { info_kind: v.kind };
    Object.assign(o, {
      inet6_addr_gen_mode: 'eui64', num_tx_queues: dev.num_rx_queues, num_rx_queues: dev.num_rx_queues, gso_max_size: 65536,
      gso_max_segs: 65535, tso_max_size: 65536, tso_max_segs: 65535, gro_max_size: 65536,
    });
    if (v.parent !== undefined) Object.assign(o, { parentbus: v.parent.bus, parentdev: v.parent.dev });
  }
  if (ctx.stats > 0) o['stats64'] = statsJson(r.stats, r.carrier_changes, ctx.stats);
  return o;
}

/** `ip link show [ [dev] NAME ]`. */
export function ipLinkShow(ctx: IpContext, args: readonly string[]): number {
  let name: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === 'dev') {
      if (++i >= args.length) incomplete(ctx);
      if (name !== undefined) duparg2(ctx, 'dev', args[i]!);
      name = args[i]!;
    } else if (matches(a, 'help')) {
      return linkUsage(ctx);
    } else if (name === undefined) {
      name = a;
    } else {
      duparg2(ctx, 'dev', a);
    }
  }
  let devs: NetDevice[];
  if (name !== undefined) {
    const dev = ctx.kernel.netdevs.dev_get_by_name(name);
    if (dev === undefined) {
      ctx.err(`Device "${name}" does not exist.\n`);
      return 1;
    }
    devs = [dev];
  } else {
    devs = [...ctx.kernel.netdevs];
  }
  const views = devs.map(linkView);
  if (ctx.json) ctx.out(formatIpJson(views.map((v) => linkJson(ctx, v)), ctx.pretty));
  else for (const v of views) ctx.out(linkText(ctx, v));
  return 0;
}

// ------------------------------------------------------------------ set

interface XdpRequest {
  readonly flags: number;
  /** A program fd, or -1 to detach. */
  readonly fd: number;
}

/** A map creation libbpf has already reported. */
class MapCreateFailed extends Error {
  constructor(cause: unknown) {
    super('map creation failed', { cause });
  }
}

/** iproute2's libbpf print callback (silent_print): libbpf's warnings, each on its own line. */
function libbpfWarn(ctx: IpContext, msg: string): void {
  ctx.err(`libbpf: ${msg}\n`);
}

/** libbpf_strerror_r(): glibc's text, or libbpf's complaint for the kernel-internal errnos. */
function libbpfStrerror(errno: ErrnoName, sign: 1 | -1): string {
  const text = strerror(errno);
  return text.startsWith('Unknown error') ? `ERROR: strerror_r(${sign * errnoNumber(errno)})=${errnoNumber('EINVAL')}` : text;
}

/**
 * load_bpf_object() + iproute2_load_libbpf(): open, select the section's programs, load (for offload,
 * on the device), keep a descriptor of the first program and close the rest of the object.
 */
async function loadXdpObject(ctx: IpContext, file: string, section: string, ifindex: number | undefined, fds: number[]): Promise<number> {
  const path = isAbsolute(file) ? file : resolve(ctx.cwd, file);
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch {
    ctx.err('Cannot initialize ELF context!\n');
    throw new IpExit(255);
  }
  if (bytes.length < 4 || bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) {
    ctx.err('Cannot initialize ELF context!\n');
    throw new IpExit(255);
  }
  let obj: BpfObject;
  try {
    obj = loadObject(bytes, file, { libbpf: 'v1.1' });
  } catch (e) {
    if (!isBpfError(e)) throw e;
    libbpfWarn(ctx, e.message);
    ctx.err('ERROR: opening BPF object file failed\n');
    throw new IpExit(255);
  }
  const only = obj.programs.filter((p) => p.section === section).map((p) => p.name);
  if (only.length === 0) {
    ctx.err(`object file doesn't contain sec ${section}\n`);
    throw new IpExit(255);
  }
  // libbpf's view of the map creations: a device map is first tried with its BTF, which the kernel
  // refuses (ENOTSUPP), and libbpf warns and retries without; a map that cannot be created is named.
  const sys = Object.create(ctx.sys) as BpfSyscall;
  sys.mapCreateAsync = async (attr) => {
    const spec = obj.maps.find((m) => m.name.slice(0, 15) === attr.map_name);
    if ((attr.map_ifindex ?? 0) !== 0 && obj.btf !== undefined && spec !== undefined && (spec.btfKeyTypeId !== 0 || spec.btfValueTypeId !== 0)) {
      libbpfWarn(ctx, `Error in bpf_create_map_xattr(${spec.name}):${libbpfStrerror('ENOTSUPP', -1)}(-${errnoNumber('ENOTSUPP')}). Retrying without BTF.`);
    }
    try {
      return await ctx.sys.mapCreateAsync(attr);
    } catch (e) {
      if (isBpfError(e)) libbpfWarn(ctx, `map '${spec?.name ?? attr.map_name}': failed to create: ${libbpfStrerror(e.errno, -1)}(${e.code})`);
      throw new MapCreateFailed(e);
    }
  };
  try {
    const loaded = await loadObjectIntoKernelAsync(sys, obj, { only, ...(ifindex !== undefined ? { ifindex } : {}) });
    // bpf_object__close(): everything but a dup of the chosen program's fd goes.
    const first = loaded.programs[0]!;
    for (const m of loaded.maps) ctx.sys.close(m.fd);
    for (const p of loaded.programs) if (p !== first) ctx.sys.close(p.fd);
    if (loaded.btfFd !== undefined) ctx.sys.close(loaded.btfFd);
    fds.push(first.fd);
    return first.fd;
  } catch (e) {
    if (e instanceof ProgLoadError) {
      libbpfWarn(ctx, `prog '${e.prog}': BPF program load failed: ${libbpfStrerror(e.errno, 1)}`);
      if (e.log !== '') libbpfWarn(ctx, `prog '${e.prog}': -- BEGIN PROG LOAD LOG --\n${e.log}-- END PROG LOAD LOG --`);
      libbpfWarn(ctx, `prog '${e.prog}': failed to load: ${e.code}`);
    } else if (e instanceof MapCreateFailed) {
      if (!isBpfError(e.cause)) throw e.cause;
    } else if (isBpfError(e)) {
      libbpfWarn(ctx, e.message);
    } else {
      throw e;
    }
    libbpfWarn(ctx, `failed to load object '${file}'`);
    throw new IpExit(255);
  }
}

/**
 * xdp_parse() + bpf_parse(): `off`/`none`, or `obj|object-file FILE [section|sec NAME] [verbose]`, or
 * `pinned|object-pinned|fd PATH`. Returns the request and how many words it took.
 */
async function parseXdp(ctx: IpContext, args: readonly string[], at: number, mode: string, dev: string | undefined, fds: number[]): Promise<{ req: XdpRequest; next: number }> {
  let flags = ctx.force ? 0 : XDP_FLAGS_UPDATE_IF_NOEXIST;
  if (mode === 'xdpgeneric') flags |= XDP_FLAGS_SKB_MODE;
  if (mode === 'xdpdrv') flags |= XDP_FLAGS_DRV_MODE;
  let ifindex: number | undefined;
  if (mode === 'xdpoffload') {
    flags |= XDP_FLAGS_HW_MODE;
    ifindex = dev === undefined ? 0 : ctx.kernel.netdevs.dev_get_by_name(dev)?.ifindex ?? 0;
    if (ifindex === 0) incomplete(ctx);
  }
  let i = at;
  const word = args[i];
  if (word === undefined) incomplete(ctx);
  if (args.length - i === 1 && (word === 'none' || word === 'off')) return { req: { flags, fd: -1 }, next: i + 1 };
  const isObj = matches(word, 'object-file') || word === 'obj';
  const isPinned = matches(word, 'object-pinned') || matches(word, 'pinned') || matches(word, 'fd');
  if (!isObj && !isPinned) {
    ctx.err(`What mode is "${word}"?\n`);
    throw new IpExit(255);
  }
  if (++i >= args.length) incomplete(ctx);
  const file = args[i++]!;
  let section = 'prog';
  if (isObj) {
    if (i < args.length && matches(args[i], 'section')) {
      if (++i >= args.length) incomplete(ctx);
      section = args[i++]!;
    }
    if (i < args.length && matches(args[i], 'verbose')) i++;
    return { req: { flags, fd: await loadXdpObject(ctx, file, section, ifindex, fds) }, next: i };
  }
  // bpf_obj_pinned(): BPF_OBJ_GET on the (emulated) bpffs.
  try {
    const fd = ctx.sys.objGet(file);
    fds.push(fd);
    return { req: { flags, fd }, next: i };
  } catch (e) {
    if (!isBpfError(e)) throw e;
    ctx.err(`Couldn't retrieve pinned program '${file}': ${strerror(e.errno)}\n`);
    throw new IpExit(255);
  }
}

/** `ip link set [dev] NAME [up|down] [mtu N] [xdp|xdpgeneric|xdpdrv|xdpoffload {obj F [sec S] | pinned P | off}]`. */
export async function ipLinkSet(ctx: IpContext, args: readonly string[]): Promise<number> {
  let dev: string | undefined;
  let mtu: number | undefined;
  let up: boolean | undefined;
  let xdp: XdpRequest | undefined;
  // Descriptors this process holds (a real ip closes them when it exits).
  const fds: number[] = [];
  try {
    for (let i = 0; i < args.length;) {
      const a = args[i]!;
      if (a === 'up') {
        up = true;
        i++;
      } else if (a === 'down') {
        up = false;
        i++;
      } else if (a === 'mtu') {
        if (++i >= args.length) incomplete(ctx);
        if (mtu !== undefined) duparg(ctx, 'mtu', args[i]!);
        const v = getUnsigned(args[i]!);
        if (v === undefined) invarg(ctx, 'Invalid "mtu" value\n', args[i]!);
        mtu = v;
        i++;
      } else if (a === 'xdp' || a === 'xdpgeneric' || a === 'xdpdrv' || a === 'xdpoffload') {
        const r = await parseXdp(ctx, args, i + 1, a, dev, fds);
        xdp = r.req;
        i = r.next;
      } else if (matches(a, 'help')) {
        return linkUsage(ctx);
      } else if (a === 'dev' || dev === undefined) {
        if (a === 'dev' && ++i >= args.length) incomplete(ctx);
        if (dev !== undefined) duparg2(ctx, 'dev', args[i]!);
        dev = args[i]!;
        i++;
      } else if (['name', 'address', 'broadcast', 'txqueuelen', 'qlen', 'promisc', 'arp', 'multicast', 'alias', 'netns', 'master', 'nomaster', 'vf', 'group', 'type', 'link', 'state'].includes(a)) {
        ctx.err(`nfp-emu: 'ip link set ... ${a}' is not emulated (up, down, mtu and the xdp modes are)\n`);
        return 255;
      } else {
        duparg2(ctx, 'dev', a);
      }
    }
    if (dev === undefined) {
      ctx.err('Not enough information: "dev" argument is required.\n');
      return 255;
    }
    const netdev = ctx.kernel.netdevs.dev_get_by_name(dev);
    if (netdev === undefined) {
      ctx.err(`Cannot find device "${dev}"\n`);
      return 1;
    }
    // do_setlink(): MTU, then the flags, then XDP; what succeeded before an error stays done.
    const extack = new NetlinkExtAck();
    try {
      await rtnl_locked(ctx.kernel, async () => {
        if (mtu !== undefined) await dev_set_mtu(netdev, mtu, extack);
        if (up !== undefined) dev_change_flags_up(netdev, up);
      });
      if (xdp !== undefined) await rtnl_setlink_xdp(ctx.kernel, netdev, { fd: xdp.fd, flags: xdp.flags }, extack);
    } catch (e) {
      return rtnlError(ctx, e, extack);
    }
    return 0;
  } finally {
    for (const fd of fds) ctx.sys.close(fd);
  }
}

export function linkUsage(ctx: IpContext): number {
  ctx.err(`Usage: ip link set { DEVICE | dev DEVICE }
		[ { up | down } ]
		[ mtu MTU ]
		[ xdp { off |
			object FILE [ { section | sec } SECTION ] [ verbose ] |
			pinned FILE } ]
	ip link show [ DEVICE ]

(the ip link commands nfp-emu emulates; xdp may also be xdpgeneric, xdpdrv or xdpoffload)
`);
  return 255;
}
