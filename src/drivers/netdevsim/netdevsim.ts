// netdevsim (drivers/net/netdevsim/): the kernel's simulated network device, the reference driver for
// BPF offload's control plane. It verifies nothing itself and runs no packets: its insn hook says hello
// on the last instruction, "translating" only marks the program xlated, and offloaded maps hold at most
// two elements in driver memory. What it does have is every decision of the offload infrastructure
// (bind, verifier hook, translate, destroy, attach in driver and offload mode, map alloc and free) with
// debugfs knobs that make each step refuse, which is what tools/testing/selftests/net/bpf_offload.py
// drives. The emulator uses it the same way: to test the kernel's offload plumbing without the NFP.
//
// One simulated device (struct nsim_dev, `sdev`) has one or more ports (struct netdevsim), all
// registered with one bpf_offload_dev: a program bound to one port can be attached to another.

import { BpfError } from '../../bpf/errno.js';
import type { Kernel } from '../../kernel/kernel.js';
import { unregister_netdevice } from '../../kernel/net/dev-xdp.js';
import type { NetDevice } from '../../kernel/net/netdev.js';
import type { BpfOffloadDev, BpfOffloadedMap, BpfProgOffload, NetdevBpf } from '../../kernel/offload.js';
import type { BpfProg } from '../../kernel/prog.js';
import { nsim_bpf, nsim_bpf_dev_ops, type NsimBoundMap, type NsimBoundProg } from './bpf.js';

/** NSIM_XDP_MAX_MTU: the largest MTU with an XDP program attached. */
export const NSIM_XDP_MAX_MTU = 4000;

/** The per-port debugfs files (/sys/kernel/debug/netdevsim/netdevsim<N>/ports/<P>/), with their defaults. */
export interface NsimPortDebugfs {
  bpf_bind_accept: boolean;
  /** Milliseconds the insn hook sleeps on instruction 0 (here: a busy wait, as msleep would block). */
  bpf_bind_verifier_delay: number;
  bpf_bind_verifier_accept: boolean;
  bpf_tc_accept: boolean;
  bpf_tc_non_bound_accept: boolean;
  bpf_xdpdrv_accept: boolean;
  bpf_xdpoffload_accept: boolean;
  bpf_map_accept: boolean;
}

/** struct netdevsim: one port. */
export class Netdevsim {
  readonly dfs: NsimPortDebugfs = {
    bpf_bind_accept: true, bpf_bind_verifier_delay: 0, bpf_bind_verifier_accept: true, bpf_tc_accept: true,
    bpf_tc_non_bound_accept: false, bpf_xdpdrv_accept: true, bpf_xdpoffload_accept: true, bpf_map_accept: true,
  };
  /** The program the "hardware" runs (TC or XDP offload), and its id (debugfs bpf_offloaded_id). */
  bpf_offloaded: BpfProg | null = null;
  /** Driver-mode and offloaded XDP programs as the driver tracks them (xdp_attachment_info). */
  xdp: BpfProg | null = null;
  xdp_hw: BpfProg | null = null;

  constructor(readonly sdev: NsimDev, readonly netdev: NetDevice) {}

  get bpf_offloaded_id(): number {
    return this.bpf_offloaded?.id ?? 0;
  }

  /** nsim_change_mtu(): not above NSIM_XDP_MAX_MTU while a driver-mode program is attached. */
  change_mtu(mtu: number): void {
    if (this.xdp !== null && mtu > NSIM_XDP_MAX_MTU) throw new BpfError('EBUSY', `${this.netdev.name}: MTU ${mtu} is too large with XDP enabled`);
    this.netdev.mtu = mtu;
  }
}

/** struct nsim_dev: the simulated device, its offload device and what is bound to it. */
export class NsimDev {
  readonly ports: Netdevsim[] = [];
  readonly bpf_dev: BpfOffloadDev<NsimDev>;
  /** debugfs bpf_bound_progs/<n>/{id,state,loaded}, by creation order. */
  readonly bpf_bound_progs: NsimBoundProg[] = [];
  readonly bpf_bound_maps = new Set<NsimBoundMap>();
  prog_id_gen = 0;

  private constructor(readonly kernel: Kernel, readonly id: number) {
    this.bpf_dev = kernel.offload.bpf_offload_dev_create(nsim_bpf_dev_ops, this);
  }

  /**
   * `echo "ID PORTS" > /sys/bus/netdevsim/new_device`: a device with `ports` net devices named
   * `eni<ID>np<P>` (netdevsim's physical port names) or as given.
   */
  static async create(kernel: Kernel, opts: { id?: number; ports?: number; names?: readonly string[] } = {}): Promise<NsimDev> {
    const sdev = new NsimDev(kernel, opts.id ?? 0);
    const n = opts.ports ?? opts.names?.length ?? 1;
    try {
      for (let p = 0; p < n; p++) {
        const netdev = kernel.netdevs.register({ name: opts.names?.[p] ?? `eni${sdev.id}np${p + 1}` });
        const ns = new Netdevsim(sdev, netdev);
        sdev.ports.push(ns);
        nsimOf.set(netdev, ns);
        kernel.offload.netdev_set_ndo_bpf(netdev, (dev: NetDevice, bpf: NetdevBpf) => nsim_bpf(nsimOf.get(dev)!, bpf));
        await kernel.offload.bpf_offload_dev_netdev_register(sdev.bpf_dev, netdev);
      }
    } catch (e) {
      await sdev.remove();
      throw e;
    }
    return sdev;
  }

  /**
   * `echo ID > /sys/bus/netdevsim/del_device`: each port is unregistered (its XDP programs uninstalled
   * first, as unregister_netdevice() does), then leaves the offload device; bound programs and maps
   * are orphaned.
   */
  async remove(): Promise<void> {
    for (const ns of this.ports.splice(0)) {
      if (this.kernel.netdevs.dev_get_by_index(ns.netdev.ifindex) === ns.netdev) await unregister_netdevice(this.kernel, ns.netdev);
      await this.kernel.offload.bpf_offload_dev_netdev_unregister(this.bpf_dev, ns.netdev);
      nsimOf.delete(ns.netdev);
    }
    this.kernel.offload.bpf_offload_dev_destroy(this.bpf_dev);
  }
}

const nsimOf = new WeakMap<NetDevice, Netdevsim>();

/** netdev_priv() for a netdevsim port. */
export function nsim_from_netdev(netdev: NetDevice): Netdevsim | undefined {
  return nsimOf.get(netdev);
}

/** The port an offloaded program or map was bound to. */
export function nsim_of_offload(o: BpfProgOffload | BpfOffloadedMap): Netdevsim {
  const ns = o.netdev === null ? undefined : nsimOf.get(o.netdev);
  if (ns === undefined) throw new BpfError('ENODEV', 'netdevsim: the device is gone');
  return ns;
}
