// The kernel's BPF offload infrastructure for maps (kernel/bpf/offload.c): offload devices
// (struct bpf_offload_dev, one per ASIC) and the net devices registered to them, offloaded maps
// (struct bpf_offloaded_map) bound to a net device by map_ifindex, and the dispatch of the bpf()
// map commands on such a map to the driver's struct bpf_map_dev_ops.
//
// As in the kernel, map operations on an offloaded map run in process context and may sleep: the
// driver sends a control message and waits for the firmware's reply. syscall.c branches to the offload
// path before it would take rcu_read_lock(), and here every operation starts with might_sleep(), so
// calling one inside an RCU read-side section is reported by the RCU lockdep detector. The wait is an
// `await` — the host's event loop keeps running — and the operations return Promises (the syscall's
// *Async methods). The operations hold bpf_devs_lock for reading (an rwsem: they may sleep under it);
// allocation, free and device unregistration take it for writing.
//
// When the last net device of an offload device goes away, its maps are freed on the device
// (BPF_OFFLOAD_MAP_FREE), lose their id, and stay behind as orphans whose every operation returns
// ENODEV, as the kernel's do. With another port of the same ASIC still registered, they move there.
//
// Programs (bpf_prog_offload_*) come with the program-offload stage; BpfOffloadDev.ops is where their
// bpf_prog_offload_ops will go.

import { BpfError } from '../bpf/errno.js';
import type { Kernel } from './kernel.js';
import { bpf_map_alloc_check } from './maps/create.js';
import {
  BPF_EXIST, BPF_MAP_TYPE_ARRAY, BPF_MAP_TYPE_HASH, BpfMap, EOPNOTSUPP, bpf_map_init_from_attr, bpf_map_type_name,
  type BpfMapCreateAttr, type BpfMapDesc, type BpfMapShared,
} from './maps/map.js';
import type { NetlinkExtAck } from './net/extack.js';
import type { NetDevice } from './net/netdev.js';
import type { BpfProg } from './prog.js';
import type { Rcu } from './rcu.js';

/** enum bpf_netdev_command: the commands of ndo_bpf (XDP_SETUP_XSK_POOL is not modeled). */
export type BpfNetdevCommand = 'XDP_SETUP_PROG' | 'XDP_SETUP_PROG_HW' | 'BPF_OFFLOAD_MAP_ALLOC' | 'BPF_OFFLOAD_MAP_FREE';

/** struct netdev_bpf: ndo_bpf's argument, by command. */
export type NetdevBpf =
  | { readonly command: 'XDP_SETUP_PROG' | 'XDP_SETUP_PROG_HW'; readonly flags: number; readonly prog: BpfProg | null; readonly extack: NetlinkExtAck }
  | { readonly command: 'BPF_OFFLOAD_MAP_ALLOC' | 'BPF_OFFLOAD_MAP_FREE'; readonly offmap: BpfOffloadedMap };

/**
 * struct bpf_map_dev_ops: a driver's operations on an offloaded map. Each may sleep (awaits the
 * device) and throws a BpfError with the errno the kernel would return.
 */
export interface BpfMapDevOps {
  map_lookup_elem(offmap: BpfOffloadedMap, key: Uint8Array, value: Uint8Array): Promise<void>;
  map_update_elem(offmap: BpfOffloadedMap, key: Uint8Array, value: Uint8Array, flags: number): Promise<void>;
  map_delete_elem(offmap: BpfOffloadedMap, key: Uint8Array): Promise<void>;
  /** key null: the first key. */
  map_get_next_key(offmap: BpfOffloadedMap, key: Uint8Array | null, next: Uint8Array): Promise<void>;
}

/**
 * netdev_ops->ndo_bpf. XDP_SETUP_PROG(_HW) installs (or with a null prog removes) the device's
 * driver-mode or offloaded XDP program, setting extack on failure; BPF_OFFLOAD_MAP_ALLOC sets
 * offmap.dev_ops and offmap.dev_priv, or throws; BPF_OFFLOAD_MAP_FREE releases the device's table.
 */
export type NdoBpf = (netdev: NetDevice, bpf: NetdevBpf) => Promise<void>;

/** struct bpf_offload_dev: one per ASIC; `priv` is the driver's (bpf_offload_dev_priv()). */
export class BpfOffloadDev<Priv = unknown> {
  /** The registered net devices (ports), newest first as list_add() leaves them. */
  readonly netdevs: BpfOffloadNetdev[] = [];

  constructor(readonly ops: unknown, readonly priv: Priv) {}
}

/** struct bpf_offload_netdev. */
export interface BpfOffloadNetdev {
  readonly netdev: NetDevice;
  readonly offdev: BpfOffloadDev;
  readonly maps: Set<BpfOffloadedMap>;
}

function enodev(what: string): BpfError {
  return new BpfError('ENODEV', `${what}: the map's device is gone`);
}

/**
 * struct bpf_offloaded_map: a map whose elements live on a device. It has no host memory: the
 * datapath methods are never reached (the verifier refuses a host program using an offloaded map)
 * and the synchronous syscall methods refuse, since every operation waits for the device.
 */
export class BpfOffloadedMap extends BpfMap {
  /** offmap->netdev: null once the device is gone (the map is an orphan). */
  netdev: NetDevice | null;
  /** Set by the driver's BPF_OFFLOAD_MAP_ALLOC. */
  dev_ops: BpfMapDevOps | null = null;
  dev_priv: unknown = null;
  readonly mem = new Uint8Array(0);
  private readonly offload: BpfOffload;

  constructor(desc: BpfMapDesc, ncpus: number, rcu: Rcu, offload: BpfOffload, netdev: NetDevice) {
    super(desc, ncpus, rcu);
    this.offload = offload;
    this.netdev = netdev;
  }

  shared(): BpfMapShared {
    throw new Error(`BUG: offloaded map ${this.id} lives on its device and cannot be attached in another thread`);
  }

  lookupOffset(): number {
    return -1;
  }

  updateFromProg(): number {
    return -EOPNOTSUPP;
  }

  deleteFromProg(): number {
    return -EOPNOTSUPP;
  }

  protected map_lookup_elem_sys(): number {
    return -EOPNOTSUPP;
  }

  protected map_update_elem_sys(): number {
    return -EOPNOTSUPP;
  }

  protected map_delete_elem_sys(): number {
    return -EOPNOTSUPP;
  }

  protected map_get_next_key(): number {
    return -EOPNOTSUPP;
  }

  private sync(cmd: string): never {
    throw new Error(`BUG: ${cmd} on offloaded map ${this.id}: the device answers asynchronously; use BpfSyscall's *Async methods`);
  }

  override lookup(): Uint8Array {
    return this.sync('BPF_MAP_LOOKUP_ELEM');
  }

  override update(): void {
    this.sync('BPF_MAP_UPDATE_ELEM');
  }

  override delete(): void {
    this.sync('BPF_MAP_DELETE_ELEM');
  }

  override getNextKey(): Uint8Array {
    return this.sync('BPF_MAP_GET_NEXT_KEY');
  }

  /** map_lookup_and_delete_elem() has no offload path: -ENOTSUPP, as the kernel returns. */
  override lookupAndDelete(): Uint8Array {
    throw new BpfError('ENOTSUPP', 'BPF_MAP_LOOKUP_AND_DELETE_ELEM is not supported on offloaded maps');
  }

  /** bpf_map_offload_map_free(): the last reference went; the device frees its table. */
  override map_free(): void {
    this.offload.bpf_map_offload_map_free(this);
  }
}

export function bpf_map_is_offloaded(map: BpfMap): map is BpfOffloadedMap {
  return map instanceof BpfOffloadedMap;
}

/**
 * A sleeping reader-writer lock (struct rw_semaphore): waiters queue in order and a waiting writer
 * holds back later readers, so device removal is not starved by a stream of map operations.
 */
export class RwSem {
  private readers = 0;
  private writer = false;
  private readonly queue: { write: boolean; wake: () => void }[] = [];

  /** down_read() when it does not have to wait; false otherwise (then await down_read()). */
  tryDownRead(): boolean {
    if (this.writer || this.queue.length > 0) return false;
    this.readers++;
    return true;
  }

  down_read(): Promise<void> {
    if (this.tryDownRead()) return Promise.resolve();
    return new Promise((wake) => this.queue.push({ write: false, wake }));
  }

  up_read(): void {
    if (this.readers <= 0) throw new Error('BUG: up_read() without down_read()');
    this.readers--;
    this.wakeup();
  }

  down_write(): Promise<void> {
    if (!this.writer && this.readers === 0 && this.queue.length === 0) {
      this.writer = true;
      return Promise.resolve();
    }
    return new Promise((wake) => this.queue.push({ write: true, wake }));
  }

  up_write(): void {
    if (!this.writer) throw new Error('BUG: up_write() without down_write()');
    this.writer = false;
    this.wakeup();
  }

  private wakeup(): void {
    while (this.queue.length > 0 && !this.writer) {
      const w = this.queue[0]!;
      if (w.write) {
        if (this.readers > 0) return;
        this.queue.shift();
        this.writer = true;
        w.wake();
        return;
      }
      this.queue.shift();
      this.readers++;
      w.wake();
    }
  }
}

/** The kernel's offload state: offdevs, bpf_devs_lock and the net devices' ndo_bpf. */
export class BpfOffload {
  /** bpf_devs_lock. */
  readonly bpf_devs_lock = new RwSem();
  /** The offdevs hash table: net device -> its registration. */
  private readonly offdevs = new Map<NetDevice, BpfOffloadNetdev>();
  /** netdev->netdev_ops->ndo_bpf of drivers that have one. */
  private readonly ndos = new WeakMap<NetDevice, NdoBpf>();
  /** Map frees still talking to their device (they run in the background, as in a workqueue). */
  private readonly pending = new Set<Promise<void>>();

  constructor(private readonly k: Kernel) {}

  /** A driver's net device implements ndo_bpf (set when it registers the device). */
  netdev_set_ndo_bpf(netdev: NetDevice, ndo: NdoBpf): void {
    this.ndos.set(netdev, ndo);
  }

  ndo_bpf_of(netdev: NetDevice): NdoBpf | undefined {
    return this.ndos.get(netdev);
  }

  // ---------------------------------------------------------------- offload devices

  bpf_offload_dev_create<Priv>(ops: unknown, priv: Priv): BpfOffloadDev<Priv> {
    return new BpfOffloadDev(ops, priv);
  }

  bpf_offload_dev_destroy(offdev: BpfOffloadDev): void {
    if (offdev.netdevs.length !== 0) this.k.log.warn(`WARNING: bpf_offload_dev_destroy() with ${offdev.netdevs.length} net devices still registered`);
  }

  /** bpf_offload_dev_priv(). */
  bpf_offload_dev_priv<Priv>(offdev: BpfOffloadDev<Priv>): Priv {
    return offdev.priv;
  }

  async bpf_offload_dev_netdev_register(offdev: BpfOffloadDev, netdev: NetDevice): Promise<void> {
    await this.bpf_devs_lock.down_write();
    try {
      if (this.offdevs.has(netdev)) throw new BpfError('EEXIST', `${netdev.name}: failed to register for BPF offload`);
      const ondev: BpfOffloadNetdev = { netdev, offdev, maps: new Set() };
      this.offdevs.set(netdev, ondev);
      offdev.netdevs.unshift(ondev);
    } finally {
      this.bpf_devs_lock.up_write();
    }
  }

  /**
   * bpf_offload_dev_netdev_unregister(): the device's maps move to another port of the same ASIC, or
   * are freed on the device and orphaned. Waits for map operations in flight (they hold the lock).
   */
  async bpf_offload_dev_netdev_unregister(offdev: BpfOffloadDev, netdev: NetDevice): Promise<void> {
    await this.bpf_devs_lock.down_write();
    try {
      const ondev = this.offdevs.get(netdev);
      if (ondev === undefined) {
        this.k.log.warn(`WARNING: ${netdev.name} was not registered for BPF offload`);
        return;
      }
      this.offdevs.delete(netdev);
      offdev.netdevs.splice(offdev.netdevs.indexOf(ondev), 1);
      const altdev = offdev.netdevs[0];
      if (altdev !== undefined) {
        for (const m of ondev.maps) {
          m.netdev = altdev.netdev;
          altdev.maps.add(m);
        }
      } else {
        for (const m of [...ondev.maps]) await this.__bpf_map_offload_destroy(m);
      }
      ondev.maps.clear();
    } finally {
      this.bpf_devs_lock.up_write();
    }
  }

  /** The offload device a net device is registered with, if any. */
  bpf_offload_find_netdev(netdev: NetDevice): BpfOffloadNetdev | undefined {
    return this.offdevs.get(netdev);
  }

  /** Do two net devices belong to the same offload device (__bpf_offload_dev_match)? */
  bpf_offload_same_dev(a: NetDevice, b: NetDevice): boolean {
    if (a === b) return true;
    const x = this.offdevs.get(a), y = this.offdevs.get(b);
    return x !== undefined && y !== undefined && x.offdev === y.offdev;
  }

  // ---------------------------------------------------------------- maps

  /**
   * BPF_MAP_CREATE with map_ifindex: map_create()'s shared checks, then bpf_map_offload_map_alloc():
   * only array and hash maps (EINVAL), a device with ndo_bpf (EOPNOTSUPP) registered for offload
   * (EINVAL), and the driver's BPF_OFFLOAD_MAP_ALLOC.
   */
  async bpf_map_offload_map_alloc(attr: BpfMapCreateAttr): Promise<BpfOffloadedMap> {
    bpf_map_alloc_check(attr, this.k.mapEnv);
    if (attr.map_type !== BPF_MAP_TYPE_ARRAY && attr.map_type !== BPF_MAP_TYPE_HASH) {
      throw new BpfError('EINVAL', `BPF_MAP_CREATE: only array and hash maps can be offloaded, not ${bpf_map_type_name(attr.map_type)}`);
    }
    // bpf_map_offload_ops.map_check_btf is map_check_no_btf(): offloaded maps take no BTF.
    if ((attr.btf_key_type_id ?? 0) !== 0 || (attr.btf_value_type_id ?? 0) !== 0 || (attr.btf_vmlinux_value_type_id ?? 0) !== 0) {
      throw new BpfError('ENOTSUPP', 'BPF_MAP_CREATE: offloaded maps do not take BTF key/value types');
    }
    const desc = bpf_map_init_from_attr(attr);
    await this.bpf_devs_lock.down_write();
    try {
      const ifindex = attr.map_ifindex ?? 0;
      const netdev = this.k.netdevs.dev_get_by_index(ifindex);
      if (netdev === undefined) throw new BpfError('EINVAL', `BPF_MAP_CREATE: no net device with ifindex ${ifindex}`);
      const ndo = this.ndos.get(netdev);
      if (ndo === undefined) throw new BpfError('EOPNOTSUPP', `BPF_MAP_CREATE: ${netdev.name} cannot offload (its driver has no ndo_bpf)`);
      const ondev = this.offdevs.get(netdev);
      if (ondev === undefined) throw new BpfError('EINVAL', `BPF_MAP_CREATE: ${netdev.name} is not registered for BPF offload`);
      const offmap = new BpfOffloadedMap(desc, this.k.mapEnv.num_possible_cpus, this.k.rcu, this, netdev);
      await ndo(netdev, { command: 'BPF_OFFLOAD_MAP_ALLOC', offmap });
      if (offmap.dev_ops === null) throw new Error(`BUG: ${netdev.name}'s BPF_OFFLOAD_MAP_ALLOC left no dev_ops`);
      ondev.maps.add(offmap);
      return offmap;
    } finally {
      this.bpf_devs_lock.up_write();
    }
  }

  /** Free on the device, forget the id, orphan. Called with bpf_devs_lock held for writing. */
  private async __bpf_map_offload_destroy(offmap: BpfOffloadedMap): Promise<void> {
    const netdev = offmap.netdev!;
    try {
      await this.ndos.get(netdev)?.(netdev, { command: 'BPF_OFFLOAD_MAP_FREE', offmap });
    } catch (e) {
      this.k.log.warn(`WARNING: ${netdev.name}: BPF_OFFLOAD_MAP_FREE of map ${offmap.id} failed: ${(e as Error).message}`);
    }
    // bpf_map_free_id(): BPF_MAP_GET_NEXT_ID must not find the dead map.
    if (offmap.id !== 0) {
      this.k.maps.remove(offmap.id);
      offmap.id = 0;
    }
    this.offdevs.get(netdev)?.maps.delete(offmap);
    offmap.netdev = null;
  }

  /** bpf_map_offload_map_free(): in the background (the kernel frees maps from a workqueue). */
  bpf_map_offload_map_free(offmap: BpfOffloadedMap): void {
    const p = (async () => {
      await this.bpf_devs_lock.down_write();
      try {
        if (offmap.netdev !== null) await this.__bpf_map_offload_destroy(offmap);
      } finally {
        this.bpf_devs_lock.up_write();
      }
    })().catch((e: unknown) => this.k.log.error(`bpf_map_offload_map_free: ${(e as Error).message}`));
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }

  /** Wait until the background map frees are done (tests, shutdown). */
  async settle(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  /**
   * Enter a device op: might_sleep(), bpf_devs_lock for reading (callers await the result when it is a
   * Promise, i.e. when a writer holds or waits for the lock), then the map's ops — or ENODEV for an
   * orphan. The caller must up_read() when done.
   */
  private enter(what: string): Promise<void> | undefined {
    // A sleeping lock and a device round trip follow: never inside an RCU read-side section.
    this.k.rcu.might_sleep(what);
    return this.bpf_devs_lock.tryDownRead() ? undefined : this.bpf_devs_lock.down_read();
  }

  private devOps(map: BpfOffloadedMap, what: string): BpfMapDevOps {
    if (map.netdev === null || map.dev_ops === null) throw enodev(what);
    return map.dev_ops;
  }

  async bpf_map_offload_lookup_elem(map: BpfOffloadedMap, key: Uint8Array): Promise<Uint8Array> {
    const what = 'bpf_map_offload_lookup_elem';
    const value = new Uint8Array(map.value_size);
    const wait = this.enter(what);
    if (wait !== undefined) await wait;
    try {
      await this.devOps(map, what).map_lookup_elem(map, key, value);
    } finally {
      this.bpf_devs_lock.up_read();
    }
    return value;
  }

  /** Flags above BPF_EXIST are EINVAL here, before the driver sees them. */
  async bpf_map_offload_update_elem(map: BpfOffloadedMap, key: Uint8Array, value: Uint8Array, flags: number): Promise<void> {
    const what = 'bpf_map_offload_update_elem';
    if (!Number.isSafeInteger(flags) || flags < 0 || flags > BPF_EXIST) {
      throw new BpfError('EINVAL', `${what}: flags 0x${flags.toString(16)} above BPF_EXIST`);
    }
    const wait = this.enter(what);
    if (wait !== undefined) await wait;
    try {
      await this.devOps(map, what).map_update_elem(map, key, value, flags);
    } finally {
      this.bpf_devs_lock.up_read();
    }
  }

  async bpf_map_offload_delete_elem(map: BpfOffloadedMap, key: Uint8Array): Promise<void> {
    const what = 'bpf_map_offload_delete_elem';
    const wait = this.enter(what);
    if (wait !== undefined) await wait;
    try {
      await this.devOps(map, what).map_delete_elem(map, key);
    } finally {
      this.bpf_devs_lock.up_read();
    }
  }

  async bpf_map_offload_get_next_key(map: BpfOffloadedMap, key: Uint8Array | null): Promise<Uint8Array> {
    const what = 'bpf_map_offload_get_next_key';
    const next = new Uint8Array(map.key_size);
    const wait = this.enter(what);
    if (wait !== undefined) await wait;
    try {
      await this.devOps(map, what).map_get_next_key(map, key, next);
    } finally {
      this.bpf_devs_lock.up_read();
    }
    return next;
  }

  /** bpf_map_offload_info_fill(): the map's device ifindex, or ENODEV for an orphan. */
  bpf_map_offload_info_fill(map: BpfOffloadedMap): { ifindex: number } {
    if (map.netdev === null) throw new BpfError('ENODEV', `BPF_OBJ_GET_INFO_BY_FD: map's device is gone`);
    return { ifindex: map.netdev.ifindex };
  }
}
