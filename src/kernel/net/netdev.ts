// A minimal struct net_device (include/linux/netdevice.h) and the per-namespace ifindex registry of
// net/core/dev.c (register_netdevice, dev_get_by_index, dev_get_by_name): what the XDP context, the
// redirect helpers and bpf_fib_lookup() need to know about a device. The attach modes (generic, drv,
// offload) build on this later; nothing here runs packets.
//
// As in a fresh network namespace, the loopback device is registered first and gets ifindex 1;
// BPF_PROG_TEST_RUN's default xdp_rxq is loopback's rx queue 0 (net/bpf/test_run.c).

import { BpfError } from '../../bpf/errno.js';

export const ETH_ALEN = 6;
export const ETH_HLEN = 14;
/** ETH_DATA_LEN: the Ethernet default MTU. */
export const ETH_DATA_LEN = 1500;
/** ETH_MIN_MTU and the largest MTU this model accepts (IP_MAX_MTU). */
export const ETH_MIN_MTU = 68;
export const IP_MAX_MTU = 0xffff;
/** The loopback device's MTU (drivers/net/loopback.c: 64 KiB). */
export const LOOPBACK_MTU = 1 << 16;
export const LOOPBACK_IFINDEX = 1;
/** include/uapi/linux/if.h: IFNAMSIZ, including the NUL. */
export const IFNAMSIZ = 16;

export const AF_INET = 2;
export const AF_INET6 = 10;

export interface NetDeviceConfig {
  name: string;
  /** dev->dev_addr as "aa:bb:cc:dd:ee:ff" or 6 bytes; default: a locally administered address from the ifindex. */
  mac?: string | Uint8Array;
  mtu?: number;
  /** dev->num_rx_queues (= real_num_rx_queues here). */
  rxQueues?: number;
  /** Ask for this ifindex (as `ip link add ... index N`); default: the next free one. */
  ifindex?: number;
  /** net.ipv4.conf.<dev>.forwarding (IN_DEV_FORWARD). The kernel's default is 0. */
  forwarding?: boolean;
  /** net.ipv6.conf.<dev>.forwarding. The kernel's default is 0. */
  ipv6Forwarding?: boolean;
  /**
   * Does the driver reserve room for XDP metadata? Drivers that do not call
   * xdp_set_data_meta_invalid(), and bpf_xdp_adjust_meta() then fails with -ENOTSUPP.
   */
  xdpMetadata?: boolean;
}

/** An IPv4 address on a device (struct in_ifaddr), host byte order. */
export interface InIfaddr {
  readonly address: number;
  readonly prefixlen: number;
}

/** An IPv6 address on a device (struct inet6_ifaddr). */
export interface Inet6Ifaddr {
  readonly address: Uint8Array;
  readonly prefixlen: number;
}

export class NetDevice {
  readonly ifindex: number;
  readonly name: string;
  /** dev->dev_addr: the source MAC of frames this device sends (bpf_fib_lookup's smac). */
  readonly dev_addr: Uint8Array;
  mtu: number;
  readonly num_rx_queues: number;
  real_num_rx_queues: number;
  ipv4_forwarding: boolean;
  ipv6_forwarding: boolean;
  xdp_metadata: boolean;
  readonly ipv4_addrs: InIfaddr[] = [];
  readonly ipv6_addrs: Inet6Ifaddr[] = [];

  constructor(ifindex: number, cfg: NetDeviceConfig, mac: Uint8Array) {
    this.ifindex = ifindex;
    this.name = cfg.name;
    this.dev_addr = mac;
    this.mtu = cfg.mtu ?? ETH_DATA_LEN;
    this.num_rx_queues = cfg.rxQueues ?? 1;
    this.real_num_rx_queues = this.num_rx_queues;
    this.ipv4_forwarding = cfg.forwarding ?? false;
    this.ipv6_forwarding = cfg.ipv6Forwarding ?? false;
    this.xdp_metadata = cfg.xdpMetadata ?? true;
  }

  /** The MAC address as `ip link` prints it. */
  get address(): string {
    return formatMac(this.dev_addr);
  }
}

export function parseMac(text: string): Uint8Array {
  const parts = text.split(':');
  if (parts.length !== ETH_ALEN || !parts.every((p) => /^[0-9a-fA-F]{1,2}$/.test(p))) {
    throw new BpfError('EINVAL', `'${text}' is not a MAC address (aa:bb:cc:dd:ee:ff)`);
  }
  return Uint8Array.from(parts.map((p) => parseInt(p, 16)));
}

export function formatMac(mac: Uint8Array): string {
  return Array.from(mac.subarray(0, ETH_ALEN), (b) => b.toString(16).padStart(2, '0')).join(':');
}

/** net/core/dev.c dev_valid_name(). */
function dev_valid_name(name: string): boolean {
  if (name.length === 0 || name.length >= IFNAMSIZ) return false;
  if (name === '.' || name === '..') return false;
  return !/[/:\s]/.test(name);
}

/** The devices of the (one) network namespace, by ifindex and by name. */
export class NetDeviceRegistry {
  private readonly byIndex = new Map<number, NetDevice>();
  private readonly byName = new Map<string, NetDevice>();
  private nextIndex = LOOPBACK_IFINDEX;
  readonly loopback: NetDevice;

  constructor() {
    this.loopback = this.register({ name: 'lo', mac: new Uint8Array(ETH_ALEN), mtu: LOOPBACK_MTU });
  }

  /** register_netdevice(): EINVAL for a bad name/MAC/MTU, EEXIST for a taken name, EBUSY for a taken ifindex. */
  register(cfg: NetDeviceConfig): NetDevice {
    if (!dev_valid_name(cfg.name)) throw new BpfError('EINVAL', `'${cfg.name}' is not a valid device name`);
    if (this.byName.has(cfg.name)) throw new BpfError('EEXIST', `device '${cfg.name}' already exists`);
    const mtu = cfg.mtu ?? ETH_DATA_LEN;
    const maxMtu = cfg.name === 'lo' ? LOOPBACK_MTU : IP_MAX_MTU;
    if (!Number.isInteger(mtu) || mtu < ETH_MIN_MTU || mtu > maxMtu) {
      throw new BpfError('EINVAL', `MTU ${mtu} of '${cfg.name}' is outside ${ETH_MIN_MTU}..${maxMtu}`);
    }
    const rxq = cfg.rxQueues ?? 1;
    if (!Number.isInteger(rxq) || rxq < 1 || rxq > 4096) throw new BpfError('EINVAL', `'${cfg.name}': ${rxq} rx queues`);
    let given: Uint8Array | undefined;
    if (cfg.mac !== undefined) {
      given = typeof cfg.mac === 'string' ? parseMac(cfg.mac) : Uint8Array.from(cfg.mac);
      if (given.length !== ETH_ALEN) throw new BpfError('EINVAL', `a MAC address has ${ETH_ALEN} bytes, not ${given.length}`);
    }
    let ifindex: number;
    if (cfg.ifindex !== undefined) {
      if (!Number.isInteger(cfg.ifindex) || cfg.ifindex <= 0 || cfg.ifindex > 0x7fffffff) {
        throw new BpfError('EINVAL', `ifindex ${cfg.ifindex} is not valid`);
      }
      if (this.byIndex.has(cfg.ifindex)) throw new BpfError('EBUSY', `ifindex ${cfg.ifindex} is taken by '${this.byIndex.get(cfg.ifindex)!.name}'`);
      ifindex = cfg.ifindex;
    } else {
      // dev_index_reserve(): the next free index, cyclically from the last one handed out.
      while (this.byIndex.has(this.nextIndex)) this.nextIndex++;
      ifindex = this.nextIndex++;
    }
    // A locally administered unicast address (eth_random_addr sets bit 1 and clears bit 0 of byte 0),
    // made from the ifindex so that runs are reproducible.
    const mac = given ?? Uint8Array.of(0x02, 0x00, 0x00, (ifindex >>> 16) & 0xff, (ifindex >>> 8) & 0xff, ifindex & 0xff);
    const dev = new NetDevice(ifindex, { ...cfg, mtu, rxQueues: rxq }, mac);
    this.byIndex.set(ifindex, dev);
    this.byName.set(dev.name, dev);
    return dev;
  }

  unregister(ifindex: number): void {
    const dev = this.byIndex.get(ifindex);
    if (dev === undefined) throw new BpfError('ENODEV', `no device with ifindex ${ifindex}`);
    if (dev === this.loopback) throw new BpfError('EINVAL', 'the loopback device cannot be removed');
    this.byIndex.delete(ifindex);
    this.byName.delete(dev.name);
  }

  /** dev_get_by_index_rcu(). */
  dev_get_by_index(ifindex: number): NetDevice | undefined {
    return this.byIndex.get(ifindex);
  }

  dev_get_by_name(name: string): NetDevice | undefined {
    return this.byName.get(name);
  }

  /** A device by ifindex or name, or ENODEV. */
  get(dev: number | string): NetDevice {
    const d = typeof dev === 'number' ? this.byIndex.get(dev) : this.byName.get(dev);
    if (d === undefined) throw new BpfError('ENODEV', `no device ${typeof dev === 'number' ? `with ifindex ${dev}` : `'${dev}'`}`);
    return d;
  }

  [Symbol.iterator](): IterableIterator<NetDevice> {
    return [...this.byIndex.values()].sort((a, b) => a.ifindex - b.ifindex)[Symbol.iterator]();
  }
}
