// The nfp driver's side of putting a JITed program on the card (drivers/net/ethernet/netronome/nfp/bpf/
// offload.c nfp_net_bpf_offload() with nfp_net_bpf_load/start/stop, main.c nfp_bpf_vnic_alloc() and
// nfp_bpf_check_mtu(), and nfp_net_common.c's nfp_net_reconfig()).
//
// Loading: the program must fit what the vNIC advertises (the packet split point against the MTU, the
// stack, the code-store length), is relocated for the vNIC (the JIT's nfp_bpf_relo_for_vnic), written
// to the card, and announced with BPF_SIZE/BPF_ADDR and a reconfig UPDATE_BPF; the first load also
// sets CTRL_BPF (UPDATE_GEN) so packets go through it. A live program may be replaced only when the
// firmware advertises NFP_NET_BPF_CAP_RELO, else EBUSY and "FW does not support live reload".
// Unloading clears CTRL_BPF.
//
// The model's DMA: the kernel maps the relocated image for the device and passes its bus address in
// BPF_ADDR; the firmware copies it into its code store. Here the driver writes the image into the
// code store's BPF area (from BPF_START) itself and BPF_ADDR holds that byte offset; the cores
// (firmware/datapath.ts) translate it when they acknowledge the reconfig, between two batches.
//
// nfp_net_reconfig() writes the UPDATE word and waits for the firmware to clear it (an error bit or a
// timeout is -EIO). The wait is an `await` on the BAR word (Atomics.waitAsync); with in-process cores
// the caller passes their pump, which runs the firmware while the driver waits.
//
// ndo_bpf(XDP_SETUP_PROG_HW) reaches nfp_net_xdp_setup_hw(): main.c's nfp_bpf_xdp_offload() decides
// load / replace / unload from CTRL_BPF and the vNIC's current XDP program (nn->xdp_hw), and
// xdp_attachment_setup() keeps the program's reference.
//
// nfp_bpf_test_run() is nfp-emu's own: BPF_PROG_TEST_RUN of an offloaded program (bpftool prog run),
// which the real kernel cannot do. The program runs on a private view of the card (own CTM, LMEM,
// code store and BAR, the card's maps) through the same load path and datapath, so it need not be
// attached and the live traffic is not disturbed; the duration it reports is the cycle model's.

import { BpfError, type ErrnoName } from '../../bpf/errno.js';
import { NetlinkExtAck } from '../../kernel/net/extack.js';
import type { NetDevice } from '../../kernel/net/netdev.js';
import type { NetdevBpf } from '../../kernel/offload.js';
import type { BpfProg } from '../../kernel/prog.js';
import type { TestRunAttr, TestRunResult } from '../../kernel/syscall.js';
import { ETH_HLEN, NfpCorePool, nfpTestDevice, type NfpCoreStarter } from '../../nic/cores.js';
import type { NfpDeviceShared } from '../../nic/device.js';
import {
  NFP_NET_BPF_CAP_RELO, NFP_NET_CFG_BPF_ADDR, NFP_NET_CFG_BPF_CAP, NFP_NET_CFG_BPF_DONE, NFP_NET_CFG_BPF_INL_MTU, NFP_NET_CFG_BPF_MAX_LEN,
  NFP_NET_CFG_BPF_SIZE, NFP_NET_CFG_BPF_STACK_SZ, NFP_NET_CFG_BPF_START, NFP_NET_CFG_CTRL, NFP_NET_CFG_CTRL_BPF, NFP_NET_CFG_UPDATE,
  NFP_NET_CFG_UPDATE_BPF, NFP_NET_CFG_UPDATE_ERR, NFP_NET_CFG_UPDATE_GEN, NfpNetCtrlBar,
} from '../../nic/ctrl-bar.js';
import { NFP_USTORE_WORD } from '../../nic/memory.js';
import { nfp_net_ebpf_capable, type NfpAppBpf, type NfpLog } from './main.js';
import { nfp_prog_of, type NfpProgOffload } from './prog.js';
import { nfp_port_from_netdev, type NfpPf, type NfpPort } from './probe.js';
import { nfp_bpf_tc_of, type NfpTailCallState } from './tail_call.js';

/** NFP_NET_POLL_TIMEOUT: how long nfp_net_reconfig() waits for the firmware (5 s). */
export const NFP_NET_POLL_TIMEOUT_MS = 5000;

/** struct nfp_bpf_vnic: where this vNIC runs programs (read from its BAR at init). */
export interface NfpBpfVnic {
  /** NFP_NET_CFG_BPF_START: the code-store address programs are relocated to. */
  readonly start_off: number;
  /** NFP_NET_CFG_BPF_DONE: the firmware's "next packet" address (RELO_BR_NEXT_PKT's target). */
  readonly tgt_done: number;
}

/** nfp_bpf_vnic_alloc(): the BAR's BPF_START / BPF_DONE. */
export function nfp_bpf_vnic_alloc(bar: NfpNetCtrlBar): NfpBpfVnic {
  return { start_off: bar.readw(NFP_NET_CFG_BPF_START), tgt_done: bar.readw(NFP_NET_CFG_BPF_DONE) };
}

/** What the load path reads of a JITed program (struct nfp_prog, which implements it, and prog->aux). */
export interface NfpProgLoad {
  /** NFP instructions of the image (nfp_prog->prog_len). */
  readonly prog_len: number;
  /** Stack bytes (nfp_prog->stack_size). */
  readonly stack_size: number;
  /** prog->aux->max_pkt_offset: one past the furthest packet byte the program may read. */
  readonly max_pkt_offset: number;
  /** nfp_bpf_relo_for_vnic(): the image relocated for this vNIC (BpfError on failure). */
  relo_for_vnic(bv: NfpBpfVnic): readonly bigint[];
}

/** struct nfp_net, the part the BPF offload path uses. */
export interface NfpNet {
  readonly bar: NfpNetCtrlBar;
  /** The card's code store (NicMemory.ustore). */
  readonly ustore: Uint8Array;
  /** nn->dp.netdev->mtu. */
  readonly mtu: number;
  readonly log?: NfpLog;
  /** In-process cores: run the firmware while the driver waits for a reconfig (NfpCorePool.pump). */
  readonly pump?: () => void;
  /** Override NFP_NET_POLL_TIMEOUT (tests of a firmware that never answers). */
  readonly reconfigTimeoutMs?: number;
  /**
   * nfp-emu, PAPER-ONLY: the card's tail-call state (tail_call.ts). With it, a load places the program
   * below the tail-call targets linked in the code store and writes them too (a test run's private
   * code store gets the card's linked programs at the same addresses).
   */
  readonly tc?: NfpTailCallState;
}

const reconfigLocks = new WeakMap<SharedArrayBuffer, Promise<void>>();

/**
 * nfp_net_reconfig(): ask the firmware to apply `update` and wait until it has (UPDATE back to 0).
 * The firmware's error bit, or no answer in time, is EIO (the kernel's -EIO). Calls on one BAR are
 * serialised (nn->reconfig_lock).
 */
export function nfp_net_reconfig(nn: NfpNet, update: number): Promise<void> {
  const prev = reconfigLocks.get(nn.bar.sab) ?? Promise.resolve();
  const run = prev.then(() => reconfigLocked(nn, update));
  reconfigLocks.set(nn.bar.sab, run.then(() => undefined, () => undefined));
  return run;
}

async function reconfigLocked(nn: NfpNet, update: number): Promise<void> {
  const w = new Int32Array(nn.bar.sab);
  const idx = NFP_NET_CFG_UPDATE >> 2;
  const timeout = nn.reconfigTimeoutMs ?? NFP_NET_POLL_TIMEOUT_MS;
  Atomics.store(w, idx, update | 0);
  const deadline = performance.now() + timeout;
  for (;;) {
    nn.pump?.();
    const v = Atomics.load(w, idx);
    if (v === 0) return;
    if ((v & NFP_NET_CFG_UPDATE_ERR) !== 0) {
      nn.log?.err(`Reconfig error (status: 0x${hex8(v)} update: 0x${hex8(update)} ctrl: 0x${hex8(nn.bar.readl(NFP_NET_CFG_CTRL))})`);
      throw new BpfError('EIO', 'the firmware refused the reconfig');
    }
    const left = deadline - performance.now();
    if (left <= 0) {
      nn.log?.err(`Reconfig timeout for 0x${hex8(update)} after ${timeout}ms`);
      throw new BpfError('EIO', `the firmware did not answer a reconfig in ${timeout} ms`);
    }
    if (nn.pump !== undefined) {
      // In-process cores answer when pumped; give the event loop a turn and pump again.
      await new Promise((r) => setTimeout(r, 1));
    } else {
      const r = Atomics.waitAsync(w, idx, v, Math.min(left, 100));
      if (r.async) await r.value;
    }
  }
}

const hex8 = (v: number): string => (v >>> 0).toString(16).padStart(8, '0');

function fail(extack: NetlinkExtAck, errno: ErrnoName, msg: string): never {
  extack.setMod('nfp', msg);
  throw new BpfError(errno, `nfp: ${msg}`);
}

/** nfp_bpf_offload_check_mtu(): could the program read past the packet split point at this MTU? */
function nfp_bpf_offload_check_mtu(nn: NfpNet, prog: NfpProgLoad, mtu: number): boolean {
  const fw_mtu = nn.bar.readb(NFP_NET_CFG_BPF_INL_MTU) * 64 - 32;
  const pkt_off = Math.min(prog.max_pkt_offset, mtu);
  return fw_mtu < pkt_off;
}

/**
 * nfp_bpf_check_mtu(): an MTU change while a program is offloaded must not let it read beyond the
 * split point (EBUSY, with the kernel's info line).
 */
export function nfp_bpf_check_mtu(nn: NfpNet, prog: NfpProgLoad | null, new_mtu: number): void {
  if ((nn.bar.readl(NFP_NET_CFG_CTRL) & NFP_NET_CFG_CTRL_BPF) === 0 || prog === null) return;
  if (nfp_bpf_offload_check_mtu(nn, prog, new_mtu)) {
    nn.log?.info('BPF offload active, potential packet access beyond hardware packet boundary');
    throw new BpfError('EBUSY', 'BPF offload active, potential packet access beyond hardware packet boundary');
  }
}

/** nfp_net_bpf_load(): check against the vNIC, relocate, write to the card, reconfig UPDATE_BPF. */
export async function nfp_net_bpf_load(nn: NfpNet, prog: NfpProgLoad, extack: NetlinkExtAck): Promise<void> {
  if (nfp_bpf_offload_check_mtu(nn, prog, nn.mtu)) {
    fail(extack, 'EOPNOTSUPP', 'BPF offload not supported with potential packet access beyond HW packet split boundary');
  }
  const max_stack = nn.bar.readb(NFP_NET_CFG_BPF_STACK_SZ) * 64;
  if (prog.stack_size > max_stack) fail(extack, 'EOPNOTSUPP', 'stack too large');
  const max_prog_len = nn.bar.readw(NFP_NET_CFG_BPF_MAX_LEN);
  if (prog.prog_len > max_prog_len) fail(extack, 'EOPNOTSUPP', 'program too long');

  const bv = nfp_bpf_vnic_alloc(nn.bar);
  const img = prog.relo_for_vnic(bv);
  const addr = bv.start_off * NFP_USTORE_WORD;
  if (img.length !== prog.prog_len || addr + img.length * NFP_USTORE_WORD > nn.ustore.length) {
    throw new BpfError('EINVAL', `nfp: a relocated image of ${img.length} instructions does not fit the code store from ${bv.start_off}`);
  }
  const load = async (size: number): Promise<void> => {
    nn.bar.writew(NFP_NET_CFG_BPF_SIZE, size);
    nn.bar.writeq(NFP_NET_CFG_BPF_ADDR, BigInt(addr));
    try {
      await nfp_net_reconfig(nn, NFP_NET_CFG_UPDATE_BPF);
    } catch (e) {
      if (e instanceof BpfError) fail(extack, e.errno, 'FW command error while loading BPF');
      throw e;
    }
  };
  const tc = nn.tc;
  if (tc !== undefined) {
    // nfp-emu, PAPER-ONLY: the image goes below the tail-call targets linked in the code store, and
    // the firmware loads everything up to the last of them.
    await tc.locked(async () => {
      const room = tc.roomForMain();
      if (img.length > room) {
        fail(extack, 'ENOSPC', `program too long: ${img.length} NFP instructions, ${room} left below the tail-call targets linked in the code store`);
      }
      await load(tc.render(nn.ustore, img) - bv.start_off);
    });
    return;
  }
  // The "DMA": the image lands in the code store's BPF area, little-endian words.
  const dv = new DataView(nn.ustore.buffer, nn.ustore.byteOffset, nn.ustore.byteLength);
  for (let i = 0; i < img.length; i++) dv.setBigUint64(addr + i * NFP_USTORE_WORD, img[i]!, true);
  await load(prog.prog_len);
}

/** nfp_net_bpf_start(): packets go through the program. A failure only sets extack, as in the kernel. */
async function nfp_net_bpf_start(nn: NfpNet, extack: NetlinkExtAck): Promise<void> {
  nn.bar.writel(NFP_NET_CFG_CTRL, nn.bar.readl(NFP_NET_CFG_CTRL) | NFP_NET_CFG_CTRL_BPF);
  try {
    await nfp_net_reconfig(nn, NFP_NET_CFG_UPDATE_GEN);
  } catch (e) {
    if (!(e instanceof BpfError)) throw e;
    extack.setMod('nfp', 'FW command error while enabling BPF');
  }
}

/** nfp_net_bpf_stop(): packets no longer go through a program. */
async function nfp_net_bpf_stop(nn: NfpNet): Promise<void> {
  const ctrl = nn.bar.readl(NFP_NET_CFG_CTRL);
  // nfp-emu: the detached program's room goes back to the tail-call targets.
  if (nn.tc !== undefined && nn.ustore === nn.tc.ustore) nn.tc.forgetMain();
  if ((ctrl & NFP_NET_CFG_CTRL_BPF) === 0) return;
  nn.bar.writel(NFP_NET_CFG_CTRL, ctrl & ~NFP_NET_CFG_CTRL_BPF);
  await nfp_net_reconfig(nn, NFP_NET_CFG_UPDATE_GEN);
}

/**
 * nfp_net_bpf_offload(): load (`prog`, no `old_prog`), replace (`prog` and `old_prog`), or unload
 * (`old_prog` only). Throws a BpfError with the kernel's errno after setting extack where it does.
 * (bpf_offload_dev_match() — is the program bound to this device? — is the caller's, which holds the
 * kernel's objects.)
 */
export async function nfp_net_bpf_offload(nn: NfpNet, prog: NfpProgLoad | null, old_prog: boolean, extack: NetlinkExtAck): Promise<void> {
  if (prog !== null && old_prog) {
    const cap = nn.bar.readb(NFP_NET_CFG_BPF_CAP);
    if ((cap & NFP_NET_BPF_CAP_RELO) === 0) fail(extack, 'EBUSY', 'FW does not support live reload');
  }
  // Something else is loaded, a different program type?
  if (!old_prog && (nn.bar.readl(NFP_NET_CFG_CTRL) & NFP_NET_CFG_CTRL_BPF) !== 0) {
    throw new BpfError('EBUSY', 'nfp: a BPF program is already running on this vNIC');
  }
  if (old_prog && prog === null) {
    await nfp_net_bpf_stop(nn);
    return;
  }
  if (prog === null) return;
  await nfp_net_bpf_load(nn, prog, extack);
  if (!old_prog) await nfp_net_bpf_start(nn, extack);
}

/**
 * A program whose image is already placed for a vNIC (hand-assembled test images, or one the JIT
 * relocated): relocation checks that the vNIC is the one it was built for.
 */
export function nfpPlacedProg(words: readonly bigint[], opts: { start: number; stack_size?: number; max_pkt_offset?: number }): NfpProgLoad {
  return {
    prog_len: words.length,
    stack_size: opts.stack_size ?? 0,
    max_pkt_offset: opts.max_pkt_offset ?? 0,
    relo_for_vnic(bv: NfpBpfVnic): readonly bigint[] {
      if (bv.start_off !== opts.start) throw new BpfError('EINVAL', `nfp: the image is placed at ${opts.start}, the vNIC loads programs at ${bv.start_off}`);
      return words;
    },
  };
}

/** A JITed program (struct nfp_prog, which implements NfpProgLoad) as the load path takes it. */
export function nfp_prog_load(nfp_prog: NfpProgLoad): NfpProgLoad {
  return {
    prog_len: nfp_prog.prog_len,
    stack_size: nfp_prog.stack_size,
    max_pkt_offset: nfp_prog.max_pkt_offset,
    relo_for_vnic: (bv) => nfp_prog.relo_for_vnic(bv),
  };
}

// ---------------------------------------------------------------------------------------------------
// ndo_bpf(XDP_SETUP_PROG_HW)

/** How the card's cores run, as whoever built the host wired them (the driver cannot know). */
export interface NfpDatapathHooks {
  /** In-process cores: run them while the driver waits for a reconfig (NfpCorePool.pump). */
  readonly pump?: () => void;
  /** Where a test run's private cores run (inProcessCores() or piscinaCores()). */
  readonly testRunStarter?: NfpCoreStarter;
}

/** What the driver keeps per vNIC for offload: nn->xdp_hw, and how the cores run. */
interface NfpVnicXdp {
  xdp_hw: BpfProg | null;
  dp: NfpDatapathHooks;
}

/** Keyed by the BAR's shared buffer: every NfpNetCtrlBar view of one vNIC finds the same state. */
const vnicXdp = new WeakMap<SharedArrayBuffer, NfpVnicXdp>();

function xdpOf(bar: NfpNetCtrlBar): NfpVnicXdp {
  let s = vnicXdp.get(bar.sab);
  if (s === undefined) vnicXdp.set(bar.sab, s = { xdp_hw: null, dp: {} });
  return s;
}

/**
 * struct nfp_net of a port as the offload path uses it: the BAR, the card's code store, the MTU, the
 * log, the pump of in-process cores and (nfp-emu, paper-only) the card's tail-call state.
 */
export function nfp_net_of_port(pf: NfpPf, port: NfpPort, mtu: number): NfpNet {
  const pump = xdpOf(port.bar).dp.pump;
  const tc = pf.bpf !== null ? nfp_bpf_tc_of(pf.bpf, port) : null;
  return {
    bar: port.bar, ustore: pf.device.memory.ustore, mtu, log: pf.log,
    ...(pump !== undefined ? { pump } : {}), ...(tc !== null ? { tc } : {}),
  };
}

/** Tell the driver how the vNIC's cores run (see NfpDatapathHooks). */
export function nfp_net_set_datapath(bar: NfpNetCtrlBar, dp: NfpDatapathHooks): void {
  xdpOf(bar).dp = dp;
}

/** nn->xdp_hw.prog: the program offloaded to this vNIC, or null. */
export function nfp_net_xdp_hw_prog(bar: NfpNetCtrlBar): BpfProg | null {
  return vnicXdp.get(bar.sab)?.xdp_hw ?? null;
}

/**
 * nfp_bpf_xdp_offload() (bpf/main.c): the vNIC must be eBPF capable; nothing to remove is fine; a
 * running program that is not XDP (TC) makes it EBUSY; otherwise load, replace or unload.
 */
export async function nfp_bpf_xdp_offload(bpf: NfpAppBpf | null, nn: NfpNet, prog: BpfProg | null, extack: NetlinkExtAck): Promise<void> {
  if (!nfp_net_ebpf_capable(bpf, nn.bar)) throw new BpfError('EINVAL', 'NFP firmware does not support eBPF offload');
  const running = (nn.bar.readl(NFP_NET_CFG_CTRL) & NFP_NET_CFG_CTRL_BPF) !== 0;
  const xdp_running = running && nfp_net_xdp_hw_prog(nn.bar) !== null;
  if (prog === null && !xdp_running) return;
  if (prog !== null && running && !xdp_running) throw new BpfError('EBUSY', 'nfp: a TC program is offloaded on this vNIC');
  let load: NfpProgLoad | null = null;
  if (prog !== null) {
    if (prog.offload === null) throw new BpfError('EINVAL', 'nfp: the program is not bound to a device');
    load = nfp_prog_of(prog.offload);
  }
  await nfp_net_bpf_offload(nn, load, running, extack);
}

/**
 * nfp_net_xdp_setup_hw() (nfp_net_common.c): offload through the app, then xdp_attachment_setup():
 * the vNIC keeps the reference dev_xdp_install() took and drops the old program's.
 */
export async function nfp_net_xdp_setup_hw(bpf: NfpAppBpf | null, netdev: NetDevice, cmd: Extract<NetdevBpf, { command: 'XDP_SETUP_PROG' | 'XDP_SETUP_PROG_HW' }>): Promise<void> {
  const p = nfp_port_from_netdev(netdev);
  if (p === undefined) throw new BpfError('ENODEV', `${netdev.name} is not an nfp port`);
  const st = xdpOf(p.port.bar);
  if (cmd.prog === null && p.pf.removed) {
    // The card is being removed (its firmware goes next): nothing to unload, only the reference to drop.
    const old = st.xdp_hw;
    st.xdp_hw = null;
    old?.put();
    return;
  }
  await nfp_bpf_xdp_offload(bpf, nfp_net_of_port(p.pf, p.port, netdev.mtu), cmd.prog, cmd.extack);
  const old = st.xdp_hw;
  st.xdp_hw = cmd.prog;
  old?.put();
}

// ---------------------------------------------------------------------------------------------------
// BPF_PROG_TEST_RUN on the NIC (nfp-emu)

/** The XDP return code the NIC's verdict statistic stands for (stat0 pass, stat1 drop, stat2 tx, stat3 abort). */
const XDP_OF_STAT = [2, 1, 3, 0] as const;

/**
 * Run an offloaded XDP program `repeat` times on `data_in` on a private view of the card (see the top
 * of the file). retval is what the NIC's verdict says (an image that faults, or returns more than
 * XDP_TX, is XDP_ABORTED); duration is the modeled time of one run at the firmware's clock.
 */
export async function nfp_bpf_test_run(dev: NfpDeviceShared, port: number, mtu: number, prog: NfpProgLoad, attr: TestRunAttr, tc?: NfpTailCallState): Promise<TestRunResult> {
  const sab = dev.bars[port];
  if (sab === undefined) throw new BpfError('EINVAL', `nfp: no port ${port}`);
  const starter = vnicXdp.get(sab)?.dp.testRunStarter;
  if (starter === undefined) throw new BpfError('ENOTSUPP', 'nfp: this card\'s cores cannot test-run programs (no datapath wired)');
  const data = attr.data_in;
  if (data === undefined || data.length < ETH_HLEN) throw new BpfError('EINVAL', `nfp: test run needs a frame of at least ${ETH_HLEN} bytes`);
  if (data.length > 0x3fff) throw new BpfError('EINVAL', `nfp: a frame of ${data.length} bytes is longer than the NIC takes`);
  if ((attr.flags ?? 0) !== 0 || (attr.cpu ?? 0) !== 0 || (attr.batch_size ?? 0) !== 0) throw new BpfError('EINVAL', 'nfp: test run flags, cpu and batch_size are not supported on the NIC');
  if (attr.ctx_in !== undefined && attr.ctx_in.some((b) => b !== 0)) throw new BpfError('EINVAL', 'nfp: the NIC takes no xdp_md context');
  const repeat = Math.max(1, attr.repeat ?? 1);
  const priv = nfpTestDevice(dev, port);
  const pool = await NfpCorePool.start(priv, starter, { slots: 64, maxFrame: Math.max(2048, (data.length + 63) & ~63) });
  try {
    const pump = pool.runner.pump !== undefined ? (): void => pool.pump() : undefined;
    const nn: NfpNet = {
      bar: new NfpNetCtrlBar(priv.bars[0]), ustore: new Uint8Array(priv.memory.ustore), mtu, ...(pump !== undefined ? { pump } : {}),
      ...(tc !== undefined ? { tc } : {}),
    };
    await nfp_net_bpf_offload(nn, prog, false, new NetlinkExtAck());
    const res = await pool.run(Array.from({ length: repeat }, () => data), { core: 0 });
    const last = res[res.length - 1]!;
    const stat = (last.raw >>> 4) & 0xf;
    const retval = last.status !== 'ok' ? 0 : XDP_OF_STAT[stat === 1 ? 0 : stat === 2 ? 1 : stat === 4 ? 2 : 3];
    const cycles = res.reduce((s, r) => s + r.busy + r.stall, 0) / res.length;
    const out = last.packet;
    const result: TestRunResult = { retval, duration: Math.round((cycles * 1000) / pool.clockMhz), data_size_out: out?.length ?? 0 };
    if (out === null) return result;
    if (attr.data_size_out !== undefined && attr.data_size_out < out.length) {
      throw new BpfError('ENOSPC', `nfp: the output frame is ${out.length} bytes, data_size_out ${attr.data_size_out}`);
    }
    return { ...result, data_out: out };
  } finally {
    await pool.stop();
  }
}

/** bpf_prog_offload_ops.test_run for an nfp program: the vNIC, its card and MTU from the binding. */
export function nfp_bpf_prog_test_run(offload: NfpProgOffload, attr: TestRunAttr): Promise<TestRunResult> {
  const p = nfp_port_from_netdev(offload.netdev);
  if (p === undefined) throw new BpfError('ENODEV', `${offload.netdev.name} is not an nfp port`);
  const tc = p.pf.bpf !== null ? nfp_bpf_tc_of(p.pf.bpf, p.port) : null;
  return nfp_bpf_test_run(p.pf.device.shared(), p.pf.ports.indexOf(p.port), offload.netdev.mtu, nfp_prog_of(offload), attr, tc ?? undefined);
}
