// The helper registry: for a program type, which helper each id means (the kernel's per-type
// get_func_proto callbacks: xdp_func_proto() in net/core/filter.c, falling back to
// bpf_base_func_proto() in kernel/bpf/helpers.c), and the `helpers` array of an ExecEnv built from
// those entries for one environment. The verifier reads the same entries' prototypes.

import pino from 'pino';
import { BPF_PROG_TYPE } from '../../bpf/prog-types.js';
import type { HelperFn } from '../exec/context.js';
import { NetDeviceRegistry } from '../net/netdev.js';
import { Fib } from '../net/route.js';
import { BPF_TRACE_PRINTK, TracePipe } from './bpf_trace.js';
import {
  BPF_CSUM_DIFF, BPF_XDP_ADJUST_HEAD, BPF_XDP_ADJUST_META, BPF_XDP_ADJUST_TAIL, BPF_XDP_EVENT_OUTPUT,
  BPF_XDP_FIB_LOOKUP, BPF_XDP_GET_BUFF_LEN, BPF_XDP_LOAD_BYTES, BPF_XDP_REDIRECT, BPF_XDP_REDIRECT_MAP,
  BPF_XDP_STORE_BYTES,
} from './filter.js';
import {
  BPF_GET_CURRENT_PID_TGID, BPF_GET_PRANDOM_U32, BPF_GET_SMP_PROCESSOR_ID, BPF_KTIME_GET_NS, BPF_MAP_DELETE_ELEM, BPF_MAP_LOOKUP_ELEM,
  BPF_MAP_UPDATE_ELEM, BPF_TAIL_CALL, defaultMapValueRegion, prandom_seed_state,
} from './helpers.js';
import { BpfRedirectInfo, type BpfHelperDef, type HelperEnv } from './proto.js';
import type { Logger } from 'pino';

export type { BpfHelperDef, BpfFuncProto, HelperEnv } from './proto.js';

const byId = (defs: readonly BpfHelperDef[]): ReadonlyMap<number, BpfHelperDef> => new Map(defs.map((d) => [d.id, d]));

/** bpf_base_func_proto() for a privileged (CAP_BPF + CAP_PERFMON) loader, as root is. */
const BASE = byId([
  BPF_MAP_LOOKUP_ELEM, BPF_MAP_UPDATE_ELEM, BPF_MAP_DELETE_ELEM, BPF_GET_PRANDOM_U32, BPF_GET_SMP_PROCESSOR_ID,
  BPF_TAIL_CALL, BPF_KTIME_GET_NS, BPF_TRACE_PRINTK, BPF_GET_CURRENT_PID_TGID,
]);

/** xdp_func_proto(): XDP's own flavours first (redirect, perf_event_output, fib_lookup...). */
const XDP = byId([
  BPF_XDP_EVENT_OUTPUT, BPF_CSUM_DIFF, BPF_XDP_ADJUST_HEAD, BPF_XDP_ADJUST_META, BPF_XDP_REDIRECT,
  BPF_XDP_REDIRECT_MAP, BPF_XDP_ADJUST_TAIL, BPF_XDP_GET_BUFF_LEN, BPF_XDP_LOAD_BYTES, BPF_XDP_STORE_BYTES,
  BPF_XDP_FIB_LOOKUP,
]);

export function bpf_base_func_proto(id: number): BpfHelperDef | undefined {
  return BASE.get(id);
}

export function xdp_func_proto(id: number): BpfHelperDef | undefined {
  return XDP.get(id) ?? bpf_base_func_proto(id);
}

/**
 * The helper an id names for a program type (enum bpf_prog_type), or undefined: the verifier then says
 * "unknown func". Only XDP programs have their own table so far.
 */
export function func_proto(progType: number, id: number): BpfHelperDef | undefined {
  if (progType === BPF_PROG_TYPE.XDP) return xdp_func_proto(id);
  return undefined;
}

/** Every helper a program type may call, by id (for listings such as `bpftool feature`). */
export function helpersOf(progType: number): BpfHelperDef[] {
  const ids = progType === BPF_PROG_TYPE.XDP ? [...XDP.keys(), ...BASE.keys()] : [];
  return [...new Set(ids)].sort((a, b) => a - b).map((id) => func_proto(progType, id)!);
}

export interface HelperEnvOptions {
  /** num_possible_cpus() */
  ncpus: number;
  netdevs?: NetDeviceRegistry;
  fib?: Fib;
  /** Seed of every CPU's bpf_get_prandom_u32 state (CPU n gets (seed, n)); default: random. */
  seed?: number;
  /** CLOCK_MONOTONIC in ns; default: the host's, read without allocating. */
  ktime_get_ns?: () => number;
  trace?: TracePipe;
  logger?: Logger;
  /** The value region of a map, for loaders that map it themselves (kernel.ts regionsOf(map).values). */
  mapValueRegion?: HelperEnv['mapValueRegion'];
}

/** The host's CLOCK_MONOTONIC: process.hrtime is that clock on Linux; performance.now() avoids a BigInt per call. */
function hostMonotonicNs(): () => number {
  const base = Number(process.hrtime.bigint()) - performance.now() * 1e6;
  return () => base + performance.now() * 1e6;
}

/** murmur3's 32-bit finaliser: every input bit reaches every output bit. */
function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

export function createHelperEnv(opts: HelperEnvOptions): HelperEnv {
  const ncpus = opts.ncpus;
  if (!Number.isInteger(ncpus) || ncpus < 1) throw new RangeError(`bad CPU count ${ncpus}`);
  const netdevs = opts.netdevs ?? opts.fib?.netdevs ?? new NetDeviceRegistry();
  const fib = opts.fib ?? new Fib(netdevs);
  const ktime = opts.ktime_get_ns ?? hostMonotonicNs();
  const log = opts.logger ?? pino({ level: 'silent' });
  const prandom = new Uint32Array(4 * ncpus);
  const seed = opts.seed ?? (Math.random() * 0x100000000) >>> 0;
  // The kernel seeds each CPU's state from get_random_bytes(); here each CPU's 64-bit seed is mixed
  // from (seed, cpu), because the generator ignores the low bits of each word and nearby seeds would
  // give the same sequence.
  for (let cpu = 0; cpu < ncpus; cpu++) {
    const lo = mix32(seed ^ Math.imul(cpu + 1, 0x9e3779b9));
    prandom_seed_state(prandom, cpu, lo, mix32(lo ^ 0x85ebca6b));
  }
  return {
    ncpus, netdevs, fib, prandom, log,
    redirect: Array.from({ length: ncpus }, () => new BpfRedirectInfo()),
    ktime_get_ns: ktime,
    trace: opts.trace ?? new TracePipe(4096, ktime, log),
    mapValueRegion: opts.mapValueRegion ?? defaultMapValueRegion,
  };
}

/** The `helpers` array of an ExecEnv for programs of `progType`, indexed by helper id. */
export function buildHelpers(progType: number, env: HelperEnv): (HelperFn | undefined)[] {
  const out: (HelperFn | undefined)[] = [];
  for (const def of helpersOf(progType)) if (def.impl !== null) out[def.id] = def.impl(env);
  return out;
}
