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
// Programs bound to a device (BPF_PROG_LOAD with prog_ifindex) get a struct bpf_prog_offload: the
// device's bpf_prog_offload_ops prepare the driver's state, see every instruction of every path inside
// the one verifier walk (insn_hook), check the whole program (finalize), follow the verifier's dead-code
// rewrites (replace_insn, remove_insns), and translate the program to the device's image. The host never
// runs such a program. When the device goes away the program is orphaned like a map (ENODEV for info).

import { BpfError } from '../bpf/errno.js';
import type { Kernel } from './kernel.js';
import { BPF_F_XDP_DEV_BOUND_ONLY, BPF_F_XDP_HAS_FRAGS, BPF_PROG_TYPE } from '../bpf/prog-types.js';
import { bpf_map_alloc_check } from './maps/create.js';
import {
  BPF_ANY, BPF_EXIST, BPF_MAP_TYPE_ARRAY, BPF_MAP_TYPE_HASH, BPF_MAP_TYPE_PERF_EVENT_ARRAY, BPF_MAP_TYPE_PROG_ARRAY, BpfMap, EOPNOTSUPP,
  bpf_map_init_from_attr, bpf_map_type_name, type BpfMapCreateAttr, type BpfMapDesc, type BpfMapShared, type RefCounted,
} from './maps/map.js';
import type { Insn } from '../bpf/insn.js';
import type { NetlinkExtAck } from './net/extack.js';
import type { NetDevice } from './net/netdev.js';
import type { BpfProg } from './prog.js';
import type { TestRunAttr, TestRunResult } from './syscall.js';
import type { BpfOffloadOps, VerifierEnv } from './verifier/verifier.js';
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
  /**
   * nfp-emu, PAPER-ONLY (tail calls on the device): BPF_MAP_UPDATE_ELEM of an offloaded PROG_ARRAY. The
   * kernel has resolved the fd the user stored into the program (map_fd_get_ptr, one reference, which
   * the driver keeps on success and the kernel drops on failure).
   */
  map_update_prog?(offmap: BpfOffloadedMap, index: number, prog: RefCounted): Promise<void>;
}

/**
 * netdev_ops->ndo_bpf. XDP_SETUP_PROG(_HW) installs (or with a null prog removes) the device's
 * driver-mode or offloaded XDP program, setting extack on failure; BPF_OFFLOAD_MAP_ALLOC sets
 * offmap.dev_ops and offmap.dev_priv, or throws; BPF_OFFLOAD_MAP_FREE releases the device's table.
 */
export type NdoBpf = (netdev: NetDevice, bpf: NetdevBpf) => Promise<void>;

/**
 * struct bpf_prog_offload_ops: the driver's side of loading a program for its device. The verifier
 * callbacks run synchronously inside the walk (a thrown BpfError refuses the load with its errno; the
 * driver writes its reason to env.log first, as the kernel's drivers do with bpf_verifier_log_write).
 * `offload` is what the kernel reaches as env->prog->aux->offload.
 */
export interface BpfProgOffloadOps {
  insn_hook(offload: BpfProgOffload, env: VerifierEnv, insn_idx: number, prev_insn_idx: number): void;
  finalize(offload: BpfProgOffload, env: VerifierEnv): void;
  /** opt_hard_wire_dead_code_branches() turned a conditional jump at `off` into `insn`. */
  replace_insn(offload: BpfProgOffload, env: VerifierEnv, off: number, insn: Insn): void;
  /** opt_remove_dead_code() / opt_remove_nops() removed `cnt` instructions at `off`. */
  remove_insns(offload: BpfProgOffload, env: VerifierEnv, off: number, cnt: number): void;
  /** Before the walk: allocate offload.dev_priv (the kernel's prepare runs after resolve_pseudo_ldimm64). */
  prepare(offload: BpfProgOffload, env: VerifierEnv): void;
  /** After verification: set offload.jited_image, or throw (the load fails with that errno). */
  translate(offload: BpfProgOffload, prog: BpfProg): void;
  destroy(offload: BpfProgOffload): void;
  /**
   * nfp-emu's addition: BPF_PROG_TEST_RUN on the device. The kernel has none (aux->ops is
   * bpf_offload_prog_ops, without test_run: ENOTSUPP); with an emulated NIC the program can run there.
   */
  test_run?(offload: BpfProgOffload, prog: BpfProg, attr: TestRunAttr): Promise<TestRunResult>;
}

/** struct bpf_offload_dev: one per ASIC; `priv` is the driver's (bpf_offload_dev_priv()). */
export class BpfOffloadDev<Priv = unknown> {
  /** The registered net devices (ports), newest first as list_add() leaves them. */
  readonly netdevs: BpfOffloadNetdev[] = [];
  /**
   * nfp-emu, PAPER-ONLY: the device takes BPF_MAP_TYPE_PROG_ARRAY maps (tail calls linked on the device,
   * the seed paper's future work). The driver sets it from what its firmware advertises; upstream no
   * device does, and bpf_map_offload_map_alloc() refuses the type as the kernel does.
   */
  prog_array_offload = false;

  constructor(readonly ops: BpfProgOffloadOps | null, readonly priv: Priv) {}
}

/** struct bpf_offload_netdev. */
export interface BpfOffloadNetdev {
  readonly netdev: NetDevice;
  readonly offdev: BpfOffloadDev;
  readonly maps: Set<BpfOffloadedMap>;
  readonly progs: Set<BpfProgOffload>;
}

/** struct bpf_prog_offload: a program's binding to a device. */
export class BpfProgOffload {
  /** The program, once the load got that far (translate). */
  prog: BpfProg | null = null;
  /** The driver's state (nfp_prog), set by prepare. */
  dev_priv: unknown = null;
  /** prepare succeeded: destroy must run. */
  dev_state = false;
  opt_failed = false;
  /** The device image, as bpf_prog_info.jited_prog_insns gives it to user space. */
  jited_image: Uint8Array | null = null;

  constructor(public netdev: NetDevice, readonly offdev: BpfOffloadDev) {}

  get jited_len(): number {
    return this.jited_image?.length ?? 0;
  }
}

/** bpf_prog_is_dev_bound(): loaded with prog_ifindex (offloaded, or XDP with BPF_F_XDP_DEV_BOUND_ONLY). */
export function bpf_prog_is_dev_bound(prog: BpfProg): boolean {
  return prog.devBound;
}

/** bpf_prog_is_offloaded(): the device runs it (prog->aux->offload_requested). */
export function bpf_prog_is_offloaded(prog: BpfProg): boolean {
  return prog.offloadRequested;
}

/** bpf_map_offload_neutral(): a map an offloaded program may use from the host side (perf events). */
export function bpf_map_offload_neutral(map: BpfMap): boolean {
  return map.map_type === BPF_MAP_TYPE_PERF_EVENT_ARRAY;
}

/**
 * The network namespace of every device here (init_net) as bpf_*_info reports it: the nsfs device and
 * inode of /proc/self/ns/net (PROC_NET_INIT_INO; nsfs is device 0:4 on the kernels this models).
 */
export const INIT_NET_NS = { netns_dev: 4n, netns_ino: 0xf0000000n } as const;

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

  bpf_offload_dev_create<Priv>(ops: BpfProgOffloadOps | null, priv: Priv): BpfOffloadDev<Priv> {
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
      const ondev: BpfOffloadNetdev = { netdev, offdev, maps: new Set(), progs: new Set() };
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
        for (const offload of ondev.progs) {
          offload.netdev = altdev.netdev;
          altdev.progs.add(offload);
        }
        for (const m of ondev.maps) {
          m.netdev = altdev.netdev;
          altdev.maps.add(m);
        }
      } else {
        for (const offload of [...ondev.progs]) this.__bpf_prog_offload_destroy(offload);
        for (const m of [...ondev.maps]) await this.__bpf_map_offload_destroy(m);
      }
      ondev.progs.clear();
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

  // ---------------------------------------------------------------- programs

  /**
   * bpf_prog_dev_bound_init(): BPF_PROG_LOAD with prog_ifindex binds the program to the device before
   * the verifier runs. Only XDP and TC programs, no load flags but DEV_BOUND_ONLY and HAS_FRAGS (frags
   * only when not offloading), a net device that exists and, for offload, is registered with an offload
   * device: EINVAL otherwise. Runs with bpf_devs_lock held for writing (EAGAIN-free: the caller holds it).
   */
  bpf_prog_dev_bound_init(progType: number, progFlags: number, ifindex: number): BpfProgOffload {
    const why = (msg: string): never => {
      throw new BpfError('EINVAL', `BPF_PROG_LOAD: ${msg}`);
    };
    if (progType !== BPF_PROG_TYPE.SCHED_CLS && progType !== BPF_PROG_TYPE.XDP) why('only XDP and TC programs can be bound to a device (prog_ifindex)');
    if ((progFlags & ~(BPF_F_XDP_DEV_BOUND_ONLY | BPF_F_XDP_HAS_FRAGS)) !== 0) why(`prog_flags 0x${progFlags.toString(16)} on a device-bound program`);
    if ((progFlags & BPF_F_XDP_HAS_FRAGS) !== 0 && (progFlags & BPF_F_XDP_DEV_BOUND_ONLY) === 0) why('BPF_F_XDP_HAS_FRAGS on an offloaded program');
    if (progType === BPF_PROG_TYPE.SCHED_CLS && (progFlags & BPF_F_XDP_DEV_BOUND_ONLY) !== 0) why('BPF_F_XDP_DEV_BOUND_ONLY on a TC program');
    // bpf_dev_offload_check(): the device must exist (EINVAL) and have a driver with ndo_bpf (EOPNOTSUPP).
    const netdev = this.k.netdevs.dev_get_by_index(ifindex);
    if (netdev === undefined) why(`no net device with ifindex ${ifindex}`);
    if (!this.ndos.has(netdev!)) throw new BpfError('EOPNOTSUPP', `BPF_PROG_LOAD: ${netdev!.name} cannot take BPF programs (its driver has no ndo_bpf)`);
    const ondev = this.offdevs.get(netdev!);
    const offloaded = (progFlags & BPF_F_XDP_DEV_BOUND_ONLY) === 0;
    if (ondev === undefined && offloaded) why(`${netdev!.name} is not registered for BPF offload`);
    // A dev-bound-only program on a device without offload gets an entry of its own in the kernel
    // (__bpf_offload_dev_netdev_register(NULL, netdev)); it only restricts where the program attaches.
    const offload = new BpfProgOffload(netdev!, ondev?.offdev ?? new BpfOffloadDev(null, null));
    ondev?.progs.add(offload);
    return offload;
  }

  /** The device ops as the verifier calls them for one load (verifier_prep, verify_insn, finalize). */
  bpf_prog_offload_verifier_ops(offload: BpfProgOffload): BpfOffloadOps {
    const ops = this.progOps(offload);
    return {
      prepare: (env) => {
        ops.prepare(offload, env);
        offload.dev_state = true;
      },
      insn_hook: (env, insnIdx, prevInsnIdx) => ops.insn_hook(offload, env, insnIdx, prevInsnIdx),
      finalize: (env) => ops.finalize(offload, env),
    };
  }

  /** bpf_prog_offload_replace_insn / remove_insns: a driver that cannot follow stops being told. */
  bpf_prog_offload_rewrites(offload: BpfProgOffload, env: VerifierEnv): { replaceInsn(off: number, insn: Insn): void; removeInsns(off: number, cnt: number): void } {
    const ops = this.progOps(offload);
    const guard = (f: () => void): void => {
      if (offload.opt_failed) return;
      try {
        f();
      } catch (e) {
        if (!(e instanceof BpfError)) throw e;
        offload.opt_failed = true;
      }
    };
    return {
      replaceInsn: (off, insn) => guard(() => ops.replace_insn(offload, env, off, insn)),
      removeInsns: (off, cnt) => guard(() => ops.remove_insns(offload, env, off, cnt)),
    };
  }

  /** bpf_prog_offload_compile(): the driver translates the verified program (its errno fails the load). */
  bpf_prog_offload_compile(offload: BpfProgOffload, prog: BpfProg): void {
    offload.prog = prog;
    if (offload.netdev === null) throw new BpfError('ENODEV', 'BPF_PROG_LOAD: the offload device is gone');
    this.progOps(offload).translate(offload, prog);
    if (offload.jited_image === null) throw new Error(`BUG: ${offload.netdev.name}'s translate left no image`);
  }

  /** bpf_prog_dev_bound_destroy(): the program is freed (or its load failed). */
  bpf_prog_dev_bound_destroy(offload: BpfProgOffload): void {
    this.__bpf_prog_offload_destroy(offload);
  }

  private __bpf_prog_offload_destroy(offload: BpfProgOffload): void {
    if (offload.dev_state) offload.offdev.ops?.destroy(offload);
    offload.dev_state = false;
    for (const ondev of this.offdevs.values()) ondev.progs.delete(offload);
    const prog = offload.prog;
    if (prog === null) return;
    prog.offload = null;
    // bpf_prog_free_id(): BPF_PROG_GET_NEXT_ID must not find the dead program (it stays open by fd).
    if (prog.id !== 0) {
      this.k.progs.remove(prog.id);
      prog.id = 0;
    }
  }

  private progOps(offload: BpfProgOffload): BpfProgOffloadOps {
    const ops = offload.offdev.ops;
    if (ops === null) throw new BpfError('EOPNOTSUPP', `BPF_PROG_LOAD: ${offload.netdev.name} cannot run BPF programs (its driver has no bpf_prog_offload_ops)`);
    return ops;
  }

  /** __bpf_offload_dev_match(): is the program bound to this device, or to another port of its ASIC? */
  bpf_offload_dev_match(prog: BpfProg, netdev: NetDevice): boolean {
    const offload = prog.offload;
    if (!bpf_prog_is_dev_bound(prog) || offload === null) return false;
    return this.bpf_offload_same_dev(offload.netdev, netdev);
  }

  /**
   * bpf_offload_prog_map_match(): may a program bound to `offload` (null: a host program) use this
   * map? Offloaded maps only on the same device; host maps only when offload-neutral.
   */
  bpf_offload_prog_map_match(offload: BpfProgOffload | null, map: BpfMap): boolean {
    if (!bpf_map_is_offloaded(map)) return bpf_map_offload_neutral(map);
    if (offload === null || map.netdev === null) return false;
    return this.bpf_offload_same_dev(offload.netdev, map.netdev);
  }

  /** bpf_prog_offload_info_fill(): the device and the image, or ENODEV once the device is gone. */
  bpf_prog_offload_info_fill(prog: BpfProg): { ifindex: number; netns_dev: bigint; netns_ino: bigint; jited_prog_insns: Uint8Array } {
    const offload = prog.offload;
    if (offload === null) throw new BpfError('ENODEV', `BPF_OBJ_GET_INFO_BY_FD: program ${prog.id}'s device is gone`);
    return { ifindex: offload.netdev.ifindex, ...INIT_NET_NS, jited_prog_insns: offload.jited_image ?? new Uint8Array(0) };
  }

  /** BPF_PROG_TEST_RUN of a device-bound program: on the device, where its driver can run it. */
  async bpf_prog_offload_test_run(prog: BpfProg, attr: TestRunAttr): Promise<TestRunResult> {
    const offload = prog.offload;
    if (offload === null) throw new BpfError('ENODEV', 'BPF_PROG_TEST_RUN: the program\'s device is gone');
    const run = offload.offdev.ops?.test_run;
    if (run === undefined) throw new BpfError('ENOTSUPP', `BPF_PROG_TEST_RUN: ${offload.netdev.name} cannot test-run offloaded programs`);
    const wait = this.enter('bpf_prog_offload_test_run');
    if (wait !== undefined) await wait;
    try {
      return await run.call(offload.offdev.ops, offload, prog, attr);
    } finally {
      this.bpf_devs_lock.up_read();
    }
  }

  // ---------------------------------------------------------------- maps

  /**
   * BPF_MAP_CREATE with map_ifindex: map_create()'s shared checks, then bpf_map_offload_map_alloc():
   * only array and hash maps (EINVAL), a device with ndo_bpf (EOPNOTSUPP) registered for offload
   * (EINVAL), and the driver's BPF_OFFLOAD_MAP_ALLOC.
   */
  async bpf_map_offload_map_alloc(attr: BpfMapCreateAttr): Promise<BpfOffloadedMap> {
    bpf_map_alloc_check(attr, this.k.mapEnv);
    const typeRefused = (): BpfError => new BpfError('EINVAL', `BPF_MAP_CREATE: only array and hash maps can be offloaded, not ${bpf_map_type_name(attr.map_type)}`);
    // nfp-emu: a PROG_ARRAY goes on only to a device that says it takes one (paper-only, see BpfOffloadDev).
    const progArray = attr.map_type === BPF_MAP_TYPE_PROG_ARRAY;
    if (attr.map_type !== BPF_MAP_TYPE_ARRAY && attr.map_type !== BPF_MAP_TYPE_HASH && !progArray) throw typeRefused();
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
      if (progArray && !ondev.offdev.prog_array_offload) throw typeRefused();
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
    if (map.map_type === BPF_MAP_TYPE_PROG_ARRAY) return this.bpf_map_offload_update_prog(map, key, value, flags);
    const wait = this.enter(what);
    if (wait !== undefined) await wait;
    try {
      await this.devOps(map, what).map_update_elem(map, key, value, flags);
    } finally {
      this.bpf_devs_lock.up_read();
    }
  }

  /**
   * nfp-emu, PAPER-ONLY: an offloaded PROG_ARRAY's update with bpf_fd_array_map_update_elem()'s checks in
   * its order (BPF_ANY only: EINVAL; an index past max_entries: E2BIG; then the fd: EBADF, EINVAL for
   * something that is not a program), the program handed to the driver with its reference.
   */
  private async bpf_map_offload_update_prog(map: BpfOffloadedMap, key: Uint8Array, value: Uint8Array, flags: number): Promise<void> {
    const what = 'bpf_map_offload_update_elem';
    if (flags !== BPF_ANY) throw new BpfError('EINVAL', `${what}: program arrays only take BPF_ANY, not flags ${flags}`);
    const index = new DataView(key.buffer, key.byteOffset, key.byteLength).getUint32(0, true);
    if (index >= map.max_entries) throw new BpfError('E2BIG', `${what}: index ${index} is out of range (max_entries ${map.max_entries})`);
    const get = this.k.mapEnv.map_fd_get_ptr;
    if (get === undefined) throw new BpfError('EBADF', `${what}: no fd table to resolve the stored fd`);
    const wait = this.enter(what);
    if (wait !== undefined) await wait;
    try {
      const ops = this.devOps(map, what);
      if (ops.map_update_prog === undefined) throw new BpfError('EINVAL', `${what}: the device cannot hold programs`);
      const prog = get(map, new DataView(value.buffer, value.byteOffset, value.byteLength).getInt32(0, true));
      try {
        await ops.map_update_prog(map, index, prog);
      } catch (e) {
        prog.put();
        throw e;
      }
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

  /** bpf_map_offload_info_fill(): the map's device ifindex and namespace, or ENODEV for an orphan. */
  bpf_map_offload_info_fill(map: BpfOffloadedMap): { ifindex: number; netns_dev: bigint; netns_ino: bigint } {
    if (map.netdev === null) throw new BpfError('ENODEV', `BPF_OBJ_GET_INFO_BY_FD: map's device is gone`);
    return { ifindex: map.netdev.ifindex, ...INIT_NET_NS };
  }
}
