// The nfp driver's probe and remove for the emulated card, reduced to what BPF offload needs:
// nfp_main.c's nfp_pci_probe() (load the firmware), nfp_net_main.c's nfp_net_pci_probe() (pick the
// app the firmware implements from its `_pf0_net_app_id` symbol, bring up the ctrl vNIC if the app
// talks to the firmware, one net device per port), nfp_app_bpf's init/start/ndo_init (bpf/main.c,
// via ./main.ts) and the remove path.
//
// Nothing about the card is hard-coded: the app, the ABI, the capabilities, the limits and the
// number of ports come from the image through NIC memory and the vNIC BARs. An unsupported ABI does not
// stop the port from coming up — the kernel log says "unsupported BPF ABI version: N", host XDP works,
// and only offload is refused ("NFP firmware does not support eBPF offload").

import { BpfError } from '../../bpf/errno.js';
import type { Kernel } from '../../kernel/kernel.js';
import { unregister_netdevice } from '../../kernel/net/dev-xdp.js';
import type { NetDevice } from '../../kernel/net/netdev.js';
import { CMSG_REPLY_MAP_SIMPLE_SZ } from '../../nic/ccm.js';
import { NFP_NET_CFG_BPF_MAX_LEN, NFP_NET_CFG_BPF_STACK_SZ, NFP_NET_DEFAULT_MTU, type NfpNetCtrlBar } from '../../nic/ctrl-bar.js';
import type { FirmwareStarter, NfpDevice } from '../../nic/device.js';
import { NfpCcm, nfp_bpf_ctrl_msg_rx, type NfpCcmWaitMode } from './cmsg.js';
import { NfpCtrlVnic } from './ctrl.js';
import {
  NfpAppBpf, NfpLog, nfp_bpf_ctrl_cmsg_mtu, nfp_bpf_init_capabilities, nfp_bpf_parse_capabilities, nfp_bpf_set_cmsg_sizes,
  nfp_bpf_start, nfp_net_ebpf_capable, type CapabilityParse,
} from './main.js';
import { nfp_net_xdp } from './net.js';
import { nfp_bpf_dev_ops } from './prog.js';

/** enum nfp_app_id. */
export const NFP_APP_CORE_NIC = 0x1;
export const NFP_APP_BPF_NIC = 0x2;

/** The Netronome OUI, for the ports' MAC addresses. */
const NETRONOME_OUI = [0x00, 0x15, 0x4d] as const;

export interface NfpProbeOptions {
  readonly kernel: Kernel;
  readonly device: NfpDevice;
  /** How the card's firmware runs (firmware/runner.ts). */
  readonly firmware: FirmwareStarter;
  /** Name of the first port (default nfp0; further ports nfp1, nfp2, ...). */
  readonly netdevName?: string;
  /** Control-message reply timeout (default 5 s, as the kernel). */
  readonly cmsgTimeoutMs?: number;
  /** 'async' (default) or 'busy' (the benchmark's comparison). */
  readonly waitMode?: NfpCcmWaitMode;
}

/** One port: its net device and its vNIC's control BAR (struct nfp_net, the part used here). */
export interface NfpPort {
  readonly netdev: NetDevice;
  readonly bar: NfpNetCtrlBar;
}

const ports = new WeakMap<NetDevice, { pf: NfpPf; port: NfpPort }>();

/** The nfp port behind a net device (netdev_priv()), if it is one. */
export function nfp_port_from_netdev(netdev: NetDevice): { pf: NfpPf; port: NfpPort } | undefined {
  return ports.get(netdev);
}

/** struct nfp_pf: one probed card. */
export class NfpPf {
  readonly kernel: Kernel;
  readonly device: NfpDevice;
  readonly log: NfpLog;
  readonly app: 'ebpf' | 'nic';
  /** The BPF app's state; null for the plain NIC app. */
  readonly bpf: NfpAppBpf | null;
  readonly ctrl: NfpCtrlVnic | null;
  readonly ports: NfpPort[] = [];
  /** How the capability records parsed (for `firmware list` and tests). */
  readonly caps: CapabilityParse | null;
  private gone = false;
  private removing: Promise<void> | undefined;

  constructor(kernel: Kernel, device: NfpDevice, app: 'ebpf' | 'nic', bpf: NfpAppBpf | null, ctrl: NfpCtrlVnic | null, caps: CapabilityParse | null) {
    this.kernel = kernel;
    this.device = device;
    this.log = bpf?.log ?? new NfpLog(kernel.log, device.pciAddr);
    this.app = app;
    this.bpf = bpf;
    this.ctrl = ctrl;
    this.caps = caps;
  }

  get removed(): boolean {
    return this.gone;
  }

  /** nfp_net_ebpf_capable() for a port (the first by default). */
  ebpfCapable(port: NfpPort | undefined = this.ports[0]): boolean {
    return port !== undefined && !this.gone && nfp_net_ebpf_capable(this.bpf, port.bar);
  }

  /**
   * What nfp_bpf_xdp_offload() checks before anything else: the vNIC must be eBPF capable. The
   * program-offload attach calls this; it throws EINVAL (the kernel's errno for XDP) with the message
   * the driver gives for TC: "NFP firmware does not support eBPF offload".
   */
  xdp_offload_check(netdev: NetDevice): void {
    const p = this.ports.find((x) => x.netdev === netdev);
    if (p === undefined) throw new BpfError('ENODEV', `${netdev.name} is not a port of ${this.device.pciAddr}`);
    if (!this.ebpfCapable(p)) throw new BpfError('EINVAL', 'NFP firmware does not support eBPF offload');
  }

  /** The BAR's BPF limits the JIT and attach will check against. */
  bpfLimits(port: NfpPort | undefined = this.ports[0]): { maxLen: number; stackBytes: number } {
    if (port === undefined) return { maxLen: 0, stackBytes: 0 };
    return { maxLen: port.bar.readw(NFP_NET_CFG_BPF_MAX_LEN), stackBytes: port.bar.readb(NFP_NET_CFG_BPF_STACK_SZ) * 64 };
  }

  /**
   * nfp_pci_remove(): the ports go (their offloaded maps are freed on the card and orphaned), then the
   * ctrl channel and the firmware. With `surprise` (the card already vanished) the channel is killed
   * first, so callers waiting for the firmware get ENODEV at once instead of a timeout.
   */
  remove(opts: { surprise?: boolean } = {}): Promise<void> {
    this.removing ??= this.doRemove(opts.surprise === true);
    return this.removing;
  }

  private async doRemove(surprise: boolean): Promise<void> {
    this.gone = true;
    const why = `${this.device.pciAddr}: device removed`;
    if (surprise) this.bpf?.ccm.kill('ENODEV', why);
    for (const p of this.ports) {
      // unregister_netdev(): the port's XDP programs are uninstalled first (the offloaded one unloaded
      // with the card, which goes right after), then the port leaves the offload device.
      if (this.kernel.netdevs.dev_get_by_index(p.netdev.ifindex) === p.netdev) await unregister_netdevice(this.kernel, p.netdev);
      if (this.bpf !== null) await this.kernel.offload.bpf_offload_dev_netdev_unregister(this.bpf.bpf_dev, p.netdev);
      ports.delete(p.netdev);
    }
    if (this.bpf !== null) {
      this.kernel.offload.bpf_offload_dev_destroy(this.bpf.bpf_dev);
      this.bpf.ccm.kill('ENODEV', why);
    }
    this.ctrl?.stop();
    await this.device.unloadFirmware();
  }
}

function parseAppId(device: NfpDevice, log: NfpLog): 'ebpf' | 'nic' {
  const id = device.rtsym_read_le('_pf0_net_app_id');
  if (id === undefined || id === BigInt(NFP_APP_CORE_NIC)) return 'nic';
  if (id === BigInt(NFP_APP_BPF_NIC)) return 'ebpf';
  log.err(`failed to find app with ID 0x${id.toString(16).padStart(2, '0')}`);
  throw new BpfError('EINVAL', `${device.pciAddr}: firmware app id 0x${id.toString(16)} is not supported by this driver`);
}

/** Probe the card: firmware, app, ctrl channel, ports. Resolves to the PF; the ports are registered. */
export async function nfp_pci_probe(opts: NfpProbeOptions): Promise<NfpPf> {
  const { kernel, device } = opts;
  const log = new NfpLog(kernel.log, device.pciAddr);
  device.startFirmware(opts.firmware);
  log.info(`Netronome Flow Processor ${device.image.chip} PCIe Card Probe`);
  log.info(`Firmware: ${device.image.name} (${device.image.datapath.cores} cores at ${device.image.datapath.clockMhz} MHz)`);
  const app = parseAppId(device, log);

  let bpf: NfpAppBpf | null = null;
  let ctrl: NfpCtrlVnic | null = null;
  let caps: CapabilityParse | null = null;
  if (app === 'ebpf') {
    // nfp_bpf_init()
    bpf = new NfpAppBpf(log);
    bpf.rcu = kernel.rcu;
    nfp_bpf_init_capabilities(bpf);
    caps = nfp_bpf_parse_capabilities(bpf, device.rtsym_read('_abi_bpf_capabilities'));
    nfp_bpf_set_cmsg_sizes(bpf);
    // The ctrl vNIC: ABI 3 asks for an MTU that fits a full cache fill; the firmware caps it.
    const want = bpf.abi_version >= 3 ? nfp_bpf_ctrl_cmsg_mtu(bpf) : NFP_NET_DEFAULT_MTU;
    const mtu = Math.max(CMSG_REPLY_MAP_SIMPLE_SZ, Math.min(want, device.mailbox.maxMessageBytes));
    const b = bpf;
    const pf: { current?: NfpPf } = {};
    ctrl = new NfpCtrlVnic({
      mailbox: device.mailbox,
      doorbell: () => device.ringDoorbell(),
      rx: (skb) => nfp_bpf_ctrl_msg_rx(b, skb),
      // The card vanished: the hot-unplug path removes the driver (as a PCI remove would).
      onDead: () => { pf.current?.remove({ surprise: true }).catch((e: unknown) => log.err(`remove after surprise removal: ${(e as Error).message}`)); },
    });
    ctrl.mtu = mtu;
    bpf.ccm = new NfpCcm(ctrl, (m) => b.cmsg_warn(m), {
      ...(opts.cmsgTimeoutMs !== undefined ? { timeoutMs: opts.cmsgTimeoutMs } : {}),
      ...(opts.waitMode !== undefined ? { waitMode: opts.waitMode } : {}),
      pump: () => device.firmware?.pump?.(),
    });
    bpf.bpf_dev = kernel.offload.bpf_offload_dev_create(nfp_bpf_dev_ops, bpf);
    // nfp-emu, PAPER-ONLY: tail calls link programs into the code store and fill a table in IMEM,
    // which the driver writes as it writes the code store (CPP); only a firmware advertising them
    // takes prog arrays.
    bpf.ustore = device.memory.ustore;
    bpf.imem = device.memory.imemI32;
    bpf.bpf_dev.prog_array_offload = bpf.tail_call.supported;
    nfp_bpf_start(bpf, mtu);
    const nfp = new NfpPf(kernel, device, app, bpf, ctrl, caps);
    pf.current = nfp;
    return finishProbe(opts, nfp);
  }
  return finishProbe(opts, new NfpPf(kernel, device, app, null, null, null));
}

async function finishProbe(opts: NfpProbeOptions, pf: NfpPf): Promise<NfpPf> {
  const { kernel, device } = opts;
  const base = opts.netdevName ?? 'nfp0';
  const m = /^(.*?)(\d+)$/.exec(base);
  try {
    for (let i = 0; i < device.bars.length; i++) {
      const name = i === 0 ? base : m !== null ? `${m[1]}${Number(m[2]) + i}` : `${base}${i}`;
      const netdev = kernel.netdevs.register({ name, mac: Uint8Array.of(...NETRONOME_OUI, 0, (i >> 8) & 0xff, i & 0xff), rxQueues: 8 });
      const port: NfpPort = { netdev, bar: device.bars[i]! };
      pf.ports.push(port);
      ports.set(netdev, { pf, port });
      kernel.offload.netdev_set_ndo_bpf(netdev, (dev, bpf) => nfp_net_xdp(pf.bpf, dev, bpf));
      // nfp_bpf_ndo_init(): every port of a BPF app joins the offload device, capable or not.
      if (pf.bpf !== null) await kernel.offload.bpf_offload_dev_netdev_register(pf.bpf.bpf_dev, netdev);
    }
  } catch (e) {
    await pf.remove();
    throw e;
  }
  pf.ctrl?.start();
  return pf;
}
