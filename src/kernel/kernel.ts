// The simulated host kernel: the state behind the bpf() syscall (kernel/bpf/syscall.c) — the prog, map
// and BTF IDRs, one process's fd table, bpffs, RCU, the address space programs run in and one execution
// context per CPU. Commands themselves are in syscall.ts; this file is the state and its lifetimes.

import pino, { type Logger } from 'pino';
import { BpfError } from '../bpf/errno.js';
import type { Btf } from '../bpf/btf.js';
import { BpfFs } from './bpffs.js';
import { ExecContext, type ExecEnv, type ExecProgram, type HelperFn } from './exec/context.js';
import { AddressSpace, type Region } from './exec/memory.js';
import type { BpfMap, MapEnv, RefCounted } from './maps/map.js';
import { BpfProg } from './prog.js';
import { Rcu } from './rcu.js';
import { BPF_PROG_TYPE } from '../bpf/prog-types.js';
import { buildHelpers, createHelperEnv, type HelperEnv } from './helpers/index.js';
import { NetDeviceRegistry } from './net/netdev.js';
import { Fib } from './net/route.js';
import { BpfOffload } from './offload.js';

/** The kernel release the emulator follows (uname -r): it decides the tag digest and bpftool's output. */
export const KERNEL_RELEASE = '6.18.0-nfp-emu';
export const KERNEL_VERSION: readonly [number, number] = [6, 18];

/** An ID allocator as the kernel's idr_alloc_cyclic(): ids from 1 up, never reused until they wrap. */
export class Idr<T> {
  private readonly objs = new Map<number, T>();
  private next = 1;

  alloc(obj: T): number {
    for (let tries = 0; tries < 0x7fffffff; tries++) {
      const id = this.next;
      this.next = this.next >= 0x7fffffff ? 1 : this.next + 1;
      if (!this.objs.has(id)) {
        this.objs.set(id, obj);
        return id;
      }
    }
    throw new BpfError('ENOSPC', 'id space exhausted');
  }

  remove(id: number): void {
    this.objs.delete(id);
  }

  get(id: number): T | undefined {
    return this.objs.get(id);
  }

  /** The smallest id greater than `start` (BPF_*_GET_NEXT_ID). */
  nextAfter(start: number): number | undefined {
    let best: number | undefined;
    for (const id of this.objs.keys()) if (id > start && (best === undefined || id < best)) best = id;
    return best;
  }
}

/** A BTF object loaded with BPF_BTF_LOAD. */
export class BtfObject implements RefCounted {
  id = 0;
  private refcnt = 1;
  onFree: ((btf: BtfObject) => void) | undefined;

  constructor(readonly btf: Btf) {}

  get(): void {
    this.refcnt++;
  }

  put(): void {
    if (--this.refcnt === 0) this.onFree?.(this);
  }
}

export type FileKind = 'prog' | 'map' | 'btf';

export interface BpfFile {
  readonly kind: FileKind;
  readonly obj: BpfProg | BpfMap | BtfObject;
}

/** A process's file descriptor table; fds 0-2 are the standard streams, as in a real process. */
export class FdTable {
  private readonly files = new Map<number, BpfFile>();

  install(file: BpfFile): number {
    let fd = 3;
    while (this.files.has(fd)) fd++;
    this.files.set(fd, file);
    return fd;
  }

  get(fd: number): BpfFile | undefined {
    return Number.isInteger(fd) ? this.files.get(fd) : undefined;
  }

  /** close(2): drops the file's reference. */
  close(fd: number): void {
    const f = this.files.get(fd);
    if (f === undefined) throw new BpfError('EBADF', `close: bad file descriptor ${fd}`);
    this.files.delete(fd);
    f.obj.put();
  }

  closeAll(): void {
    for (const fd of [...this.files.keys()]) this.close(fd);
  }

  get size(): number {
    return this.files.size;
  }
}

export interface KernelOptions {
  /** num_possible_cpus(): host CPUs, each with its own execution context and per-CPU map slots. */
  cpus?: number;
  /** net.core.bpf_jit_enable: run programs JIT-compiled (default) or on the interpreter. */
  jit?: boolean;
  /** kernel.bpf_stats_enabled: count run_cnt / run_time_ns. */
  stats?: boolean;
  logger?: Logger;
  /** Wall-clock time of boot, in ms since the epoch (for bpftool's loaded_at). Default: now. */
  bootTimeMs?: number;
  /** Seed of bpf_get_prandom_u32 (reproducible runs); default random. */
  prandomSeed?: number;
  /**
   * Which verifier PROG_LOAD runs: the full state-tracking one, or only its structural passes (CFG,
   * jump ranges, reachability). 'structural' until the full one verifies every test program.
   */
  verifier?: 'full' | 'structural';
}

/** What the kernel keeps per map beyond the map itself: the regions programs reach it through. */
export interface MapRegions {
  /** CONST_PTR_TO_MAP: what `lddw rX, map_fd` loads. */
  readonly handle: Region;
  /** PTR_TO_MAP_VALUE: the map's value memory. */
  readonly values: Region;
}

export class Kernel implements ExecEnv {
  readonly mem = new AddressSpace();
  readonly rcu = Rcu.create();
  readonly bpffs = new BpfFs();
  readonly progs = new Idr<BpfProg>();
  readonly maps = new Idr<BpfMap>();
  readonly btfs = new Idr<BtfObject>();
  readonly fds = new FdTable();
  readonly cpus: readonly ExecContext[];
  readonly log: Logger;
  readonly bootTimeMs: number;
  readonly bootHr = process.hrtime.bigint();
  jitEnabled: boolean;
  statsEnabled: boolean;
  readonly verifier: 'full' | 'structural';
  /** The network namespace: devices (lo, and the NIC's ports once a driver probes), routes, neighbours. */
  readonly netdevs: NetDeviceRegistry;
  readonly fib: Fib;
  readonly helperEnv: HelperEnv;
  /**
   * Helper implementations by id. Host programs are XDP (or types with the same helpers); the verifier
   * decides which ids a program of a given type may call.
   */
  readonly helpers: readonly (HelperFn | undefined)[];
  readonly mapEnv: MapEnv;
  /** kernel/bpf/offload.c: offload devices, the net devices registered to them, offloaded maps. */
  readonly offload: BpfOffload;
  private readonly mapRegions = new WeakMap<BpfMap, MapRegions>();

  constructor(opts: KernelOptions = {}) {
    const ncpus = opts.cpus ?? 2;
    if (!Number.isInteger(ncpus) || ncpus < 1 || ncpus > 1024) throw new RangeError(`bad CPU count ${ncpus}`);
    this.log = opts.logger ?? pino({ level: 'silent' });
    this.bootTimeMs = opts.bootTimeMs ?? Date.now();
    this.jitEnabled = opts.jit ?? true;
    this.statsEnabled = opts.stats ?? false;
    this.verifier = opts.verifier ?? 'full';
    this.netdevs = new NetDeviceRegistry();
    this.fib = new Fib(this.netdevs);
    this.helperEnv = createHelperEnv({
      ncpus, netdevs: this.netdevs, fib: this.fib, logger: this.log,
      ...(opts.prandomSeed !== undefined ? { seed: opts.prandomSeed } : {}),
      mapValueRegion: (map) => this.regionsOf(map as BpfMap).values,
    });
    this.helpers = buildHelpers(BPF_PROG_TYPE.XDP, this.helperEnv);
    this.cpus = Array.from({ length: ncpus }, (_, cpu) => new ExecContext(this, cpu));
    this.mapEnv = {
      rcu: this.rcu,
      num_possible_cpus: ncpus,
      map_fd_get_ptr: (_map, fd) => {
        const f = this.fds.get(fd);
        if (f === undefined) throw new BpfError('EBADF', `bad file descriptor ${fd}`);
        if (f.kind !== 'prog') throw new BpfError('EINVAL', `fd ${fd} is not a program`);
        f.obj.get();
        return f.obj;
      },
      // A DEVMAP slot names a device of this namespace (dev_map_update_elem's dev_get_by_index()).
      dev_get_by_index: (ifindex) => this.netdevs.dev_get_by_index(ifindex) !== undefined,
    };
    this.offload = new BpfOffload(this);
  }

  /** ktime_get_boottime_ns(). */
  bootNs(): bigint {
    return process.hrtime.bigint() - this.bootHr;
  }

  /** Give a new map an id and its regions; the map's last put frees both. */
  registerMap(map: BpfMap): void {
    map.id = this.maps.alloc(map);
    const handle = this.mem.map('map', new Uint8Array(0), { object: map, writable: false });
    const values = this.mem.map('map_value', map.mem, { object: map });
    this.mapRegions.set(map, { handle, values });
    map.onFree = (m) => {
      m.btf?.put();
      m.btf = null;
      this.maps.remove(m.id);
      const r = this.mapRegions.get(m);
      if (r !== undefined) {
        this.mem.unmap(r.handle);
        this.mem.unmap(r.values);
      }
    };
  }

  regionsOf(map: BpfMap): MapRegions {
    const r = this.mapRegions.get(map);
    if (r === undefined) throw new Error(`BUG: map ${map.id} has no regions`);
    return r;
  }

  registerProg(prog: BpfProg): void {
    prog.id = this.progs.alloc(prog);
    prog.onFree = (p) => {
      if (p.offload !== null) this.offload.bpf_prog_dev_bound_destroy(p.offload);
      if (p.btfId !== 0) this.btfs.get(p.btfId)?.put();
      this.progs.remove(p.id);
      for (const m of p.usedMaps) m.put();
      if (p.funcRegion !== undefined) this.mem.unmap(p.funcRegion);
    };
  }

  /** ExecEnv: bpf_tail_call's target lookup in a PROG_ARRAY. */
  tailCallTarget(map: unknown, index: number): ExecProgram | undefined {
    const m = map as { getProg?: (index: number) => RefCounted | null };
    const target = m.getProg?.(index);
    return target instanceof BpfProg ? target : undefined;
  }

  fileOf(fd: number, kind: FileKind, cmd: string): BpfFile {
    const f = this.fds.get(fd);
    if (f === undefined) throw new BpfError('EBADF', `${cmd}: bad file descriptor ${fd}`);
    if (f.kind !== kind) throw new BpfError('EINVAL', `${cmd}: fd ${fd} is not a ${kind}`);
    return f;
  }

  progOf(fd: number, cmd: string): BpfProg {
    return this.fileOf(fd, 'prog', cmd).obj as BpfProg;
  }

  mapOf(fd: number, cmd: string): BpfMap {
    return this.fileOf(fd, 'map', cmd).obj as BpfMap;
  }
}
