// Shared fixtures of the XDP context and helper tests: a host with CPUs, net devices, a FIB and the
// XDP helpers; maps created through the real map code; and a runner that executes a program on the
// interpreter or the JIT against a CPU's xdp_buff.

import { assemble } from '../../src/bpf/asm.js';
import { BPF_PROG_TYPE } from '../../src/bpf/prog-types.js';
import type { Insn } from '../../src/bpf/insn.js';
import { ExecContext, type ExecEnv } from '../../src/kernel/exec/context.js';
import { interpret } from '../../src/kernel/exec/interpreter.js';
import { jitCompile } from '../../src/kernel/exec/jit.js';
import { AddressSpace, type Region } from '../../src/kernel/exec/memory.js';
import { buildHelpers, createHelperEnv, type HelperEnv } from '../../src/kernel/helpers/index.js';
import { map_create } from '../../src/kernel/maps/create.js';
import type { BpfMap, BpfMapCreateAttr, MapEnv, RefCounted } from '../../src/kernel/maps/map.js';
import { NetDeviceRegistry } from '../../src/kernel/net/netdev.js';
import { Fib } from '../../src/kernel/net/route.js';
import { XdpBuff } from '../../src/kernel/net/xdp.js';
import { Rcu } from '../../src/kernel/rcu.js';
import { BpfError } from '../../src/bpf/errno.js';

export const ENGINES = ['interpreter', 'jit'] as const;
export type EngineName = (typeof ENGINES)[number];

export interface Host {
  readonly mem: AddressSpace;
  readonly env: HelperEnv;
  readonly exec: ExecEnv;
  readonly cpus: ExecContext[];
  readonly xdp: XdpBuff[];
  readonly netdevs: NetDeviceRegistry;
  readonly fib: Fib;
  readonly mapEnv: MapEnv;
  readonly fds: Map<number, RefCounted>;
  /** A map created by the real map code, with its 'map' region (what lddw map_fd loads). */
  createMap(attr: BpfMapCreateAttr): { map: BpfMap; region: Region };
  /** Run insns on `engine` with r1 = the CPU's XDP context; returns r0 as an unsigned 64-bit bigint. */
  run(engine: EngineName, insns: readonly Insn[], cpu?: number): bigint;
}

export function makeHost(opts: { ncpus?: number; seed?: number; clock?: () => number } = {}): Host {
  const ncpus = opts.ncpus ?? 2;
  const mem = new AddressSpace();
  const netdevs = new NetDeviceRegistry();
  const fib = new Fib(netdevs);
  const env = createHelperEnv({
    ncpus, netdevs, fib, seed: opts.seed ?? 1,
    ...(opts.clock !== undefined ? { ktime_get_ns: opts.clock } : {}),
  });
  const exec: ExecEnv = { mem, helpers: buildHelpers(BPF_PROG_TYPE.XDP, env) };
  const cpus = Array.from({ length: ncpus }, (_, i) => new ExecContext(exec, i));
  const xdp = cpus.map(() => new XdpBuff(mem));
  const rcu = Rcu.create();
  rcu.setLockdepReporter(() => {});
  const fds = new Map<number, RefCounted>();
  const mapEnv: MapEnv = {
    rcu, num_possible_cpus: ncpus,
    map_fd_get_ptr: (_m, fd) => {
      const o = fds.get(fd);
      if (o === undefined) throw new BpfError('EBADF', `fd ${fd}`);
      o.get();
      return o;
    },
    dev_get_by_index: (ifindex) => netdevs.dev_get_by_index(ifindex) !== undefined,
  };
  const jitted = new WeakMap<readonly Insn[], ReturnType<typeof jitCompile>>();
  return {
    mem, env, exec, cpus, xdp, netdevs, fib, mapEnv, fds,
    createMap(attr) {
      const map = map_create(attr, mapEnv);
      return { map, region: mem.map('map', new Uint8Array(0), { object: map, writable: false }) };
    },
    run(engine, insns, cpu = 0) {
      const x = cpus[cpu]!;
      const ctx = xdp[cpu]!.ctx;
      rcu.rcu_read_lock();
      try {
        if (engine === 'interpreter') {
          interpret({ insns, name: 'test' }, x, 0, ctx.hi, { maxInsns: 1_000_000 });
        } else {
          let j = jitted.get(insns);
          if (j === undefined) {
            j = jitCompile({ insns, name: 'test' }, exec);
            jitted.set(insns, j);
          }
          x.jitBudget = 1_000_000;
          j.run(x, 0, ctx.hi);
        }
      } finally {
        rcu.rcu_read_unlock();
      }
      return (BigInt(x.R[1]! >>> 0) << 32n) | BigInt(x.R[0]! >>> 0);
    },
  };
}

/** Assemble LLVM-syntax text; `{name}` placeholders become 64-bit constants (map pointers). */
export function asm(text: string, consts: Record<string, bigint | number> = {}): Insn[] {
  return assemble(text.replace(/\{(\w+)\}/g, (_, k: string) => {
    const v = consts[k];
    if (v === undefined) throw new Error(`no constant ${k}`);
    return `0x${BigInt.asUintN(64, BigInt(v)).toString(16)} ll`;
  }));
}

/** The 64-bit constant of a pointer to offset 0 of a region (a map handle). */
export function ptrOf(r: Region, off = 0): bigint {
  return (BigInt(r.hi >>> 0) << 32n) | BigInt(off >>> 0);
}

/** A signed view of a helper's int return in r0. */
export const s64 = (v: bigint): bigint => BigInt.asIntN(64, v);

/** An Ethernet + IPv4 frame of `len` bytes (at least 34) with the given IPv4 header fields. */
export function ipv4Frame(len: number, fill = 0): Uint8Array {
  const f = new Uint8Array(len).fill(fill);
  f.set([0x02, 0, 0, 0, 0, 0xbb, 0x02, 0, 0, 0, 0, 0xaa, 0x08, 0x00], 0);
  f[14] = 0x45;
  return f;
}
