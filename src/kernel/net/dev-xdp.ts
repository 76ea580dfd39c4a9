// XDP attachment to net devices: the XDP part of net/core/dev.c (dev_xdp_attach, dev_xdp_install,
// generic_xdp_install, dev_xdp_uninstall, dev_change_xdp_fd, dev_xdp_prog_id) and the IFLA_XDP side of
// net/core/rtnetlink.c (do_setlink's flag checks, rtnl_xdp_fill), with the uapi values of
// include/uapi/linux/if_link.h (XDP_FLAGS_*, XDP_ATTACHED_*).
//
// A device has one program slot per mode (dev->xdp_state[XDP_MODE_SKB | DRV | HW]):
//  - SKB ("generic", xdpgeneric): the kernel runs the program on the host for every received frame,
//    whatever the driver; generic_xdp_install is its "driver".
//  - DRV ("native", xdpdrv): the driver's ndo_bpf(XDP_SETUP_PROG) takes the program and its receive
//    path runs it on the host before any skb exists.
//  - HW ("offload", xdpoffload): ndo_bpf(XDP_SETUP_PROG_HW) hands a program bound to the device
//    (loaded with prog_ifindex) to the NIC, which runs it on its own cores.
// HW may coexist with one of the other two; SKB and DRV exclude each other. The checks, their order,
// their errnos and their extack messages are the kernel's (v6.18); there are no BPF links and no upper
// devices here, so the checks that only concern those never fire and are left out.
//
// Reference counts follow the kernel: dev_xdp_install() takes a reference that the "driver" owns (the
// driver drops it when the program is replaced or removed: generic_xdp_install does so for SKB mode),
// and the xdp_state slot holds one more, dropped when the slot changes. Every change runs under the
// RTNL lock — an async mutex here, because ndo_bpf may sleep while the driver talks to the device.

import { BpfError, isBpfError, type ErrnoName } from '../../bpf/errno.js';
import { BPF_ATTACH_TYPE, BPF_PROG_TYPE } from '../../bpf/prog-types.js';
import type { Kernel } from '../kernel.js';
import { bpf_prog_is_dev_bound, bpf_prog_is_offloaded, type NdoBpf } from '../offload.js';
import type { BpfProg } from '../prog.js';
import { NetlinkExtAck } from './extack.js';
import type { NetDevice } from './netdev.js';

// include/uapi/linux/if_link.h
export const XDP_FLAGS_UPDATE_IF_NOEXIST = 1 << 0;
export const XDP_FLAGS_SKB_MODE = 1 << 1;
export const XDP_FLAGS_DRV_MODE = 1 << 2;
export const XDP_FLAGS_HW_MODE = 1 << 3;
export const XDP_FLAGS_REPLACE = 1 << 4;
export const XDP_FLAGS_MODES = XDP_FLAGS_SKB_MODE | XDP_FLAGS_DRV_MODE | XDP_FLAGS_HW_MODE;
export const XDP_FLAGS_MASK = XDP_FLAGS_UPDATE_IF_NOEXIST | XDP_FLAGS_MODES | XDP_FLAGS_REPLACE;

/** enum bpf_xdp_mode (include/linux/netdevice.h): the index of dev->xdp_state[]. */
export const XDP_MODE_SKB = 0;
export const XDP_MODE_DRV = 1;
export const XDP_MODE_HW = 2;
export const __MAX_XDP_MODE = 3;
export type BpfXdpMode = typeof XDP_MODE_SKB | typeof XDP_MODE_DRV | typeof XDP_MODE_HW;
export const XDP_MODES: readonly BpfXdpMode[] = [XDP_MODE_SKB, XDP_MODE_DRV, XDP_MODE_HW];

/** The names iproute2 and this emulator use for the modes. */
export const XDP_MODE_NAMES: Readonly<Record<BpfXdpMode, string>> = { [XDP_MODE_SKB]: 'generic', [XDP_MODE_DRV]: 'drv', [XDP_MODE_HW]: 'offload' };

/** IFLA_XDP_ATTACHED values (enum in if_link.h). */
export const XDP_ATTACHED_NONE = 0;
export const XDP_ATTACHED_DRV = 1;
export const XDP_ATTACHED_SKB = 2;
export const XDP_ATTACHED_HW = 3;
export const XDP_ATTACHED_MULTI = 4;

/** popcount of a 32-bit word (hweight32). */
function hweight32(x: number): number {
  let n = 0;
  for (let v = x >>> 0; v !== 0; v &= v - 1) n++;
  return n;
}

/** dev->xdp_state[] and dev->xdp_prog (the program generic XDP runs) of one device. */
class NetdevXdpState {
  readonly xdp_state: (BpfProg | null)[] = [null, null, null];
  /** dev->xdp_prog: what generic_xdp_install() installed (the SKB-mode "driver"'s reference). */
  xdp_prog: BpfProg | null = null;
}

const states = new WeakMap<NetDevice, NetdevXdpState>();

function stateOf(dev: NetDevice): NetdevXdpState {
  let s = states.get(dev);
  if (s === undefined) {
    s = new NetdevXdpState();
    states.set(dev, s);
  }
  return s;
}

/** dev_xdp_prog(): the program attached in `mode`, or null. */
export function dev_xdp_prog(dev: NetDevice, mode: BpfXdpMode): BpfProg | null {
  return states.get(dev)?.xdp_state[mode] ?? null;
}

/** dev_xdp_prog_id(): its id, 0 when none. */
export function dev_xdp_prog_id(dev: NetDevice, mode: BpfXdpMode): number {
  return dev_xdp_prog(dev, mode)?.id ?? 0;
}

/** dev_xdp_prog_count(): how many modes have a program. */
export function dev_xdp_prog_count(dev: NetDevice): number {
  const s = states.get(dev);
  if (s === undefined) return 0;
  let n = 0;
  for (const p of s.xdp_state) if (p !== null) n++;
  return n;
}

/** The program generic XDP runs for frames received on `dev` (rcu_dereference(dev->xdp_prog)). */
export function dev_generic_xdp_prog(dev: NetDevice): BpfProg | null {
  return states.get(dev)?.xdp_prog ?? null;
}

/** dev_xdp_mode(): the mode flags ask for; none means native if the driver has ndo_bpf, else generic. */
export function dev_xdp_mode(k: Kernel, dev: NetDevice, flags: number): BpfXdpMode {
  if ((flags & XDP_FLAGS_HW_MODE) !== 0) return XDP_MODE_HW;
  if ((flags & XDP_FLAGS_DRV_MODE) !== 0) return XDP_MODE_DRV;
  if ((flags & XDP_FLAGS_SKB_MODE) !== 0) return XDP_MODE_SKB;
  return k.offload.ndo_bpf_of(dev) !== undefined ? XDP_MODE_DRV : XDP_MODE_SKB;
}

/**
 * generic_xdp_install(): the SKB mode's "driver". It owns the reference dev_xdp_install() took and
 * drops the one of the program it replaces.
 */
const generic_xdp_install: NdoBpf = async (dev, bpf) => {
  if (bpf.command !== 'XDP_SETUP_PROG') throw new BpfError('EINVAL', `generic XDP: ${bpf.command} is not an XDP install command`);
  const s = stateOf(dev);
  const old = s.xdp_prog;
  s.xdp_prog = bpf.prog;
  old?.put();
};

/** dev_xdp_bpf_op(): who installs a program in `mode` — generic XDP, or the driver's ndo_bpf. */
function dev_xdp_bpf_op(k: Kernel, dev: NetDevice, mode: BpfXdpMode): NdoBpf | undefined {
  return mode === XDP_MODE_SKB ? generic_xdp_install : k.offload.ndo_bpf_of(dev);
}

// ------------------------------------------------------------------ the RTNL lock

/** A FIFO async mutex: rtnl_lock() may sleep, and ndo_bpf may sleep while holding it. */
class Rtnl {
  private held = false;
  private readonly waiters: (() => void)[] = [];

  async lock(): Promise<void> {
    if (!this.held) {
      this.held = true;
      return;
    }
    await new Promise<void>((wake) => this.waiters.push(wake));
  }

  unlock(): void {
    const next = this.waiters.shift();
    if (next !== undefined) next();
    else this.held = false;
  }
}

const rtnls = new WeakMap<Kernel, Rtnl>();

/** Run `fn` under rtnl_lock() of the kernel `k`. */
export async function rtnl_locked<T>(k: Kernel, fn: () => Promise<T> | T): Promise<T> {
  let r = rtnls.get(k);
  if (r === undefined) {
    r = new Rtnl();
    rtnls.set(k, r);
  }
  await r.lock();
  try {
    return await fn();
  } finally {
    r.unlock();
  }
}

// ------------------------------------------------------------------ install / attach

/** An attach failure: the errno, and the extack message when the kernel or the driver set one. */
function fail(extack: NetlinkExtAck, errno: ErrnoName, msg?: string): never {
  if (msg !== undefined) extack.set(msg);
  throw new BpfError(errno, msg ?? extack._msg);
}

/**
 * dev_xdp_install(): hand `prog` (null: remove) to the mode's installer with a reference it owns.
 * A driver refuses by throwing a BpfError (and setting the extack, as NL_SET_ERR_MSG does).
 */
async function dev_xdp_install(k: Kernel, dev: NetDevice, mode: BpfXdpMode, bpf_op: NdoBpf, extack: NetlinkExtAck, flags: number, prog: BpfProg | null): Promise<void> {
  prog?.get();
  try {
    await bpf_op(dev, { command: mode === XDP_MODE_HW ? 'XDP_SETUP_PROG_HW' : 'XDP_SETUP_PROG', flags, prog, extack });
  } catch (e) {
    prog?.put();
    if (!isBpfError(e)) throw e;
    // The driver's own words go to the kernel log; the user sees the extack (or the errno) as in Linux.
    k.log.debug({ dev: dev.name }, `${dev.name}: ndo_bpf(${mode === XDP_MODE_HW ? 'XDP_SETUP_PROG_HW' : 'XDP_SETUP_PROG'}) failed: ${e.message}`);
    throw new BpfError(e.errno, extack._msg ?? e.message, { cause: e });
  }
}

/**
 * dev_xdp_attach() for a program attachment (no BPF link): install `newProg` (null: detach) in the
 * mode `flags` name, replacing what is there. With XDP_FLAGS_REPLACE, `oldProg` must be what is
 * attached. Throws a BpfError with the kernel's errno; the extack carries the kernel's message.
 * The caller keeps its own references to newProg and oldProg.
 */
export async function dev_xdp_attach(k: Kernel, dev: NetDevice, extack: NetlinkExtAck, newProg: BpfProg | null, oldProg: BpfProg | null, flags: number): Promise<void> {
  const num_modes = hweight32(flags & XDP_FLAGS_MODES);
  // just one XDP mode bit should be set, zero defaults to drv/skb mode
  if (num_modes > 1) fail(extack, 'EINVAL', 'Only one XDP mode flag can be set');
  // avoid ambiguity if offload + drv/skb mode progs are both loaded
  if (num_modes === 0 && dev_xdp_prog_count(dev) > 1) fail(extack, 'EINVAL', 'More than one program loaded, unset mode is ambiguous');
  // old_prog != NULL implies XDP_FLAGS_REPLACE is set
  if (oldProg !== null && (flags & XDP_FLAGS_REPLACE) === 0) fail(extack, 'EINVAL', 'XDP_FLAGS_REPLACE is not specified');

  const mode = dev_xdp_mode(k, dev, flags);
  const curProg = dev_xdp_prog(dev, mode);
  if ((flags & XDP_FLAGS_REPLACE) !== 0 && curProg !== oldProg) fail(extack, 'EEXIST', 'Active program does not match expected');

  if (newProg !== null) {
    const offload = mode === XDP_MODE_HW;
    const other_mode = mode === XDP_MODE_SKB ? XDP_MODE_DRV : XDP_MODE_SKB;
    if ((flags & XDP_FLAGS_UPDATE_IF_NOEXIST) !== 0 && curProg !== null) fail(extack, 'EBUSY', 'XDP program already attached');
    if (!offload && dev_xdp_prog(dev, other_mode) !== null) fail(extack, 'EEXIST', "Native and generic XDP can't be active at the same time");
    if (!offload && bpf_prog_is_offloaded(newProg)) fail(extack, 'EINVAL', 'Using offloaded program without HW_MODE flag is not supported');
    if (bpf_prog_is_dev_bound(newProg) && !k.offload.bpf_offload_dev_match(newProg, dev)) fail(extack, 'EINVAL', 'Program bound to different device');
    if (bpf_prog_is_dev_bound(newProg) && mode === XDP_MODE_SKB) fail(extack, 'EINVAL', "Can't attach device-bound programs in generic mode");
    if (newProg.expectedAttachType === BPF_ATTACH_TYPE.XDP_DEVMAP) fail(extack, 'EINVAL', 'BPF_XDP_DEVMAP programs can not be attached to a device');
    if (newProg.expectedAttachType === BPF_ATTACH_TYPE.XDP_CPUMAP) fail(extack, 'EINVAL', 'BPF_XDP_CPUMAP programs can not be attached to a device');
  }

  // don't call drivers if the effective program didn't change
  if (newProg !== curProg) {
    const bpf_op = dev_xdp_bpf_op(k, dev, mode);
    if (bpf_op === undefined) fail(extack, 'EOPNOTSUPP', 'Underlying driver does not support XDP in native mode');
    await dev_xdp_install(k, dev, mode, bpf_op, extack, flags, newProg);
  }

  // dev_xdp_set_prog(): the slot's own reference.
  newProg?.get();
  stateOf(dev).xdp_state[mode] = newProg;
  curProg?.put();
}

/**
 * dev_change_xdp_fd(): the netlink path (IFLA_XDP_FD). The fds are the caller's: a program fd, or a
 * negative value to detach. bpf_prog_get_type_dev() refuses, without a message, an fd that is not an
 * XDP program, and an offloaded program unless the mode is DRV or HW (attach_drv).
 */
export async function dev_change_xdp_fd(k: Kernel, dev: NetDevice, extack: NetlinkExtAck, fd: number, expectedFd: number, flags: number): Promise<void> {
  const mode = dev_xdp_mode(k, dev, flags);
  const progOf = (f: number): BpfProg => {
    const file = k.fds.get(f);
    if (file === undefined) throw new BpfError('EBADF', `IFLA_XDP: bad file descriptor ${f}`);
    if (file.kind !== 'prog') throw new BpfError('EINVAL', `IFLA_XDP: fd ${f} is not a BPF program`);
    const prog = file.obj as BpfProg;
    if (prog.type !== BPF_PROG_TYPE.XDP) throw new BpfError('EINVAL', `IFLA_XDP: program ${prog.id} is not an XDP program`);
    if (bpf_prog_is_offloaded(prog) && mode === XDP_MODE_SKB) throw new BpfError('EINVAL', `IFLA_XDP: program ${prog.id} is offloaded and cannot run in generic mode`);
    return prog;
  };
  const newProg = fd >= 0 ? progOf(fd) : null;
  const oldProg = expectedFd >= 0 ? progOf(expectedFd) : null;
  await dev_xdp_attach(k, dev, extack, newProg, oldProg, flags);
}

/** What a netlink RTM_SETLINK carries in its IFLA_XDP nest. */
export interface IflaXdp {
  /** IFLA_XDP_FD: a program fd, or -1 to detach. */
  readonly fd: number;
  /** IFLA_XDP_FLAGS. */
  readonly flags?: number;
  /** IFLA_XDP_EXPECTED_FD (with XDP_FLAGS_REPLACE). */
  readonly expectedFd?: number;
}

/**
 * do_setlink()'s IFLA_XDP handling (net/core/rtnetlink.c): unknown flags and several modes are EINVAL
 * before anything else; XDP_FLAGS_REPLACE needs an expected fd. Runs under the RTNL lock.
 */
export async function rtnl_setlink_xdp(k: Kernel, dev: NetDevice, xdp: IflaXdp, extack = new NetlinkExtAck()): Promise<void> {
  const flags = xdp.flags ?? 0;
  if (!Number.isInteger(flags) || flags < 0 || flags > 0xffffffff || (flags & ~XDP_FLAGS_MASK) !== 0) {
    throw new BpfError('EINVAL', `IFLA_XDP_FLAGS 0x${(flags >>> 0).toString(16)} has unknown bits`);
  }
  if (hweight32(flags & XDP_FLAGS_MODES) > 1) throw new BpfError('EINVAL', 'IFLA_XDP_FLAGS asks for more than one mode');
  let expectedFd = -1;
  if ((flags & XDP_FLAGS_REPLACE) !== 0) {
    if (xdp.expectedFd === undefined) throw new BpfError('EINVAL', 'XDP_FLAGS_REPLACE without IFLA_XDP_EXPECTED_FD');
    expectedFd = xdp.expectedFd;
  }
  await rtnl_locked(k, () => dev_change_xdp_fd(k, dev, extack, xdp.fd, expectedFd, flags));
}

/**
 * dev_xdp_uninstall(): remove every mode's program (the device is going away). A driver that fails to
 * remove its program is a kernel WARN; the slot is cleared regardless, as in the kernel.
 */
export async function dev_xdp_uninstall(k: Kernel, dev: NetDevice): Promise<void> {
  const s = states.get(dev);
  if (s === undefined) return;
  for (const mode of XDP_MODES) {
    const prog = s.xdp_state[mode] ?? null;
    if (prog === null) continue;
    const bpf_op = dev_xdp_bpf_op(k, dev, mode);
    if (bpf_op !== undefined) {
      try {
        await dev_xdp_install(k, dev, mode, bpf_op, new NetlinkExtAck(), 0, null);
      } catch (e) {
        if (!isBpfError(e)) throw e;
        k.log.warn(`WARNING: dev_xdp_uninstall: ${dev.name} failed to remove its ${XDP_MODE_NAMES[mode]} program: ${e.message}`);
      }
    }
    s.xdp_state[mode] = null;
    prog.put();
  }
}

/** A devmap's NETDEV_UNREGISTER handler (kernel/bpf/devmap.c dev_map_notification). */
interface DevmapLike {
  dev_map_netdev_unregister(ifindex: number): number;
}

/**
 * unregister_netdevice(): the device's XDP programs are uninstalled (dev_xdp_uninstall), devmap
 * slots naming it are emptied (the devmap notifier), then it leaves the namespace. Runs under RTNL.
 */
export async function unregister_netdevice(k: Kernel, dev: NetDevice): Promise<void> {
  await rtnl_locked(k, async () => {
    await dev_xdp_uninstall(k, dev);
    for (let id = k.maps.nextAfter(0); id !== undefined; id = k.maps.nextAfter(id)) {
      const m = k.maps.get(id) as Partial<DevmapLike> | undefined;
      m?.dev_map_netdev_unregister?.(dev.ifindex);
    }
    if (k.netdevs.dev_get_by_index(dev.ifindex) === dev) k.netdevs.unregister(dev.ifindex);
  });
}

/** rtnl_xdp_fill(): the IFLA_XDP nest of RTM_NEWLINK, as `ip link show` reads it. */
export interface RtnlXdpInfo {
  /** IFLA_XDP_ATTACHED. */
  readonly attached: number;
  /** IFLA_XDP_PROG_ID: present (non-zero) only when exactly one mode has a program. */
  readonly prog_id: number;
  /** IFLA_XDP_SKB_PROG_ID, IFLA_XDP_DRV_PROG_ID, IFLA_XDP_HW_PROG_ID (0: absent). */
  readonly skb_prog_id: number;
  readonly drv_prog_id: number;
  readonly hw_prog_id: number;
}

export function rtnl_xdp_fill(dev: NetDevice): RtnlXdpInfo {
  let mode = XDP_ATTACHED_NONE;
  let prog_id = 0;
  const report = (id: number, tgt: number): void => {
    if (id === 0) return;
    prog_id = id;
    mode = mode !== XDP_ATTACHED_NONE ? XDP_ATTACHED_MULTI : tgt;
  };
  const skb = dev_xdp_prog_id(dev, XDP_MODE_SKB);
  const drv = dev_xdp_prog_id(dev, XDP_MODE_DRV);
  const hw = dev_xdp_prog_id(dev, XDP_MODE_HW);
  report(skb, XDP_ATTACHED_SKB);
  report(drv, XDP_ATTACHED_DRV);
  report(hw, XDP_ATTACHED_HW);
  return {
    attached: mode, prog_id: mode === XDP_ATTACHED_MULTI ? 0 : prog_id,
    skb_prog_id: skb, drv_prog_id: drv, hw_prog_id: hw,
  };
}
