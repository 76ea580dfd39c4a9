// The soundness fuzzer's runner: loads each generated program through nfp-emu's bpf(BPF_PROG_LOAD)
// (so through the verifier, as every load goes), and runs every accepted one on the checked interpreter
// (interpretChecked, src/kernel/exec/interpreter.ts) over many packets and map contents, with the
// sanitizer holding each memory access to what the verifier may allow. Any violation, any EFAULT or
// other exception, any run that does not end, on an accepted program, is a soundness failure.
//
// The packets are set up as BPF_PROG_TEST_RUN sets them up (XdpBuff.testRunInit: the frame zeroed, data
// at XDP_PACKET_HEADROOM, optional metadata from a ctx_in), lengths from 14 to 1500 bytes.

import { BpfError, isBpfError } from '../../../src/bpf/errno.js';
import { disassemble } from '../../../src/bpf/disasm.js';
import type { Insn } from '../../../src/bpf/insn.js';
import { BPF_FUNC } from '../../../src/bpf/helpers.js';
import { BPF_PROG_TYPE } from '../../../src/bpf/prog-types.js';
import { ExecContext, type ExecEnv, type HelperFn } from '../../../src/kernel/exec/context.js';
import { interpretChecked } from '../../../src/kernel/exec/interpreter.js';
import { Kernel } from '../../../src/kernel/kernel.js';
import type { BpfMap } from '../../../src/kernel/maps/map.js';
import { XdpBuff, type XdpMd } from '../../../src/kernel/net/xdp.js';
import type { BpfProg } from '../../../src/kernel/prog.js';
import { BpfSyscall } from '../../../src/kernel/syscall.js';
import { BPF_MAP_TYPE } from '../../../src/bpf/prog-types.js';
import { DIRECT_VALUE_MAP, FUZZ_MAPS, FUZZ_NET, Rng, generate, type GenProgram } from './gen.js';
import { SanitizerViolation, XdpSanitizer, type ViolationKind } from './sanitizer.js';

/** More than any generated program can need on one packet: running out means it did not terminate. */
export const RUN_BUDGET = 1 << 20;

export type FailureKind = ViolationKind | 'exception' | 'budget';

/** One packet a program ran on. */
export interface TestPacket {
  readonly bytes: Uint8Array;
  /** Bytes of metadata at the front (ctx_in data), 0 for none. */
  readonly meta: number;
}

export interface Failure {
  readonly seed: number;
  readonly kind: FailureKind;
  readonly pc: number;
  readonly message: string;
  readonly packet: TestPacket;
  readonly insns: readonly Insn[];
}

export type LoadResult = { readonly ok: true; readonly prog: BpfProg; readonly fd: number } | { readonly ok: false; readonly errno: string; readonly message: string };

export interface FuzzStats {
  programs: number;
  accepted: number;
  runs: number;
  /** Memory accesses and helper arguments the sanitizer checked. */
  checks: number;
  /** Rejections by errno and reason (numbers stripped). */
  readonly rejected: Map<string, number>;
  readonly failures: Failure[];
  /** Which snippets the accepted programs were made of. */
  readonly acceptedSnippets: Map<string, number>;
}

export function newStats(): FuzzStats {
  return { programs: 0, accepted: 0, runs: 0, checks: 0, rejected: new Map(), failures: [], acceptedSnippets: new Map() };
}

/** A kernel with the fuzzer's maps, a CPU whose runs are checked, and its xdp_buff. */
export class FuzzHost {
  readonly k: Kernel;
  readonly sys: BpfSyscall;
  readonly mapFds: number[];
  readonly maps: BpfMap[];
  readonly x: ExecContext;
  readonly buff: XdpBuff;
  readonly sanitizer: XdpSanitizer;

  /** `verifier: 'structural'` builds a host without the verifier, for testing that the sanitizer catches what it should. */
  constructor(opts: { verifier?: 'full' | 'structural' } = {}) {
    this.k = new Kernel({ cpus: 1, jit: false, prandomSeed: 1, ...(opts.verifier !== undefined ? { verifier: opts.verifier } : {}) });
    this.sys = new BpfSyscall(this.k);
    this.mapFds = FUZZ_MAPS.map((m) =>
      this.sys.mapCreate({ map_type: m.type, key_size: m.keySize, value_size: m.valueSize, max_entries: m.maxEntries, map_name: m.name }),
    );
    this.maps = this.mapFds.map((fd) => this.k.mapOf(fd, 'fuzz'));
    // A forwarding device with a gateway route and a resolved neighbour, so that bpf_fib_lookup
    // succeeds and writes its results into the program's memory (FUZZ_NET in gen.ts).
    const eth0 = this.k.netdevs.register({ name: 'eth0', forwarding: true, mac: '02:00:00:00:00:01' });
    if (eth0.ifindex !== FUZZ_NET.ifindex) throw new Error(`BUG: eth0 is ifindex ${eth0.ifindex}, the generator assumes ${FUZZ_NET.ifindex}`);
    this.k.fib.addAddress('eth0', '10.0.0.1/24');
    this.k.fib.addRoute({ dst: '192.168.0.0/16', via: '10.0.0.254', dev: 'eth0' });
    this.k.fib.addNeigh('eth0', '10.0.0.254', 'aa:bb:cc:00:00:02');
    this.buff = new XdpBuff(this.k.mem);
    const direct = this.maps[DIRECT_VALUE_MAP]!;
    this.sanitizer = new XdpSanitizer(this.buff, new Map([[direct, direct.lookupOffset(new Uint8Array(4), 0, 0)]]));
    // bpf_map_lookup_elem hands the program an element: the sanitizer learns which.
    const helpers: (HelperFn | undefined)[] = [...this.k.helpers];
    const lookup = helpers[BPF_FUNC['map_lookup_elem']!]!;
    const san = this.sanitizer;
    helpers[BPF_FUNC['map_lookup_elem']!] = (x) => {
      lookup(x);
      if (x.R[0] !== 0 || x.R[1] !== 0) san.handOut(x.env.mem.region(x.R[1]!), x.R[0]! >>> 0);
    };
    const k = this.k;
    const env: ExecEnv = { mem: k.mem, helpers, tailCallTarget: (m, i) => k.tailCallTarget(m, i) };
    this.x = new ExecContext(env, 0);
    this.x.sanitizer = this.sanitizer;
  }

  load(insns: readonly Insn[], logLevel = 0): LoadResult & { log?: string } {
    const attr = {
      prog_type: BPF_PROG_TYPE.XDP, insns, license: 'GPL', fd_array: this.mapFds, prog_name: 'fuzz',
      log_level: logLevel, log_size: logLevel > 0 ? 1 << 24 : 0,
    };
    try {
      const fd = this.sys.progLoad(attr);
      return { ok: true, fd, prog: this.k.progOf(fd, 'fuzz'), ...(logLevel > 0 ? { log: (attr as { log_buf?: string }).log_buf ?? '' } : {}) };
    } catch (e) {
      if (!isBpfError(e)) throw e;
      return { ok: false, errno: e.errno, message: e.message, ...(logLevel > 0 ? { log: (attr as { log_buf?: string }).log_buf ?? '' } : {}) };
    }
  }

  close(fd: number): void {
    this.sys.close(fd);
  }

  /** Fresh map contents: random array values, hash keys 0..4 present. */
  fillMaps(rng: Rng): void {
    FUZZ_MAPS.forEach((m, i) => {
      const fd = this.mapFds[i]!;
      const value = (): Uint8Array => {
        const v = new Uint8Array(m.valueSize);
        const mode = rng.int(4);
        for (let b = 0; b < v.length; b++) v[b] = mode === 0 ? 0 : mode === 1 ? 0xff : rng.int(256);
        return v;
      };
      if (m.type === BPF_MAP_TYPE.HASH) {
        for (let key = 0; key < 10; key++) {
          const kb = keyBytes(key, m.keySize);
          try {
            this.sys.mapDelete({ map_fd: fd, key: kb });
          } catch (e) {
            if (!isBpfError(e, 'ENOENT')) throw e;
          }
        }
        for (let key = 0; key < 5; key++) this.sys.mapUpdate({ map_fd: fd, key: keyBytes(key, m.keySize), value: value() });
      } else {
        for (let key = 0; key < m.maxEntries; key++) this.sys.mapUpdate({ map_fd: fd, key: keyBytes(key, m.keySize), value: value() });
      }
    });
  }

  /** One checked run; returns the failure, or undefined for a clean exit. */
  run(seed: number, prog: BpfProg, pkt: TestPacket, insns: readonly Insn[] = prog.insns): Failure | undefined {
    const ctx: XdpMd | undefined = pkt.meta > 0
      ? { data: pkt.meta, data_end: pkt.bytes.length, data_meta: 0, ingress_ifindex: 0, rx_queue_index: 0, egress_ifindex: 0 }
      : undefined;
    this.buff.testRunInit(pkt.bytes, ctx, this.k.netdevs);
    this.sanitizer.begin();
    const fail = (kind: FailureKind, pc: number, message: string): Failure => ({ seed, kind, pc, message, packet: pkt, insns });
    this.k.rcu.rcu_read_lock();
    try {
      interpretChecked(prog, this.x, 0, this.buff.ctx.hi, { maxInsns: RUN_BUDGET });
      return undefined;
    } catch (e) {
      if (e instanceof SanitizerViolation) return fail(e.kind, e.pc, e.message);
      const pc = Number(/insn (\d+)/.exec((e as Error).message)?.[1] ?? -1);
      if (isBpfError(e) && e.message.includes('instruction budget exhausted')) return fail('budget', pc, e.message);
      if (e instanceof BpfError) return fail('exception', pc, `${e.errno}: ${e.message}`);
      return fail('exception', pc, `${(e as Error).name}: ${(e as Error).stack ?? String(e)}`);
    } finally {
      this.k.rcu.rcu_read_unlock();
    }
  }
}

function keyBytes(key: number, size: number): Uint8Array {
  const b = new Uint8Array(size);
  new DataView(b.buffer).setUint32(0, key, true);
  return b;
}

const PACKET_LENGTHS = [14, 15, 16, 20, 33, 34, 41, 42, 54, 60, 64, 100, 128, 255, 256, 512, 1024, 1499, 1500];

/** `n` packets for a program: varied lengths (14..1500), contents and metadata. */
export function packetsFor(rng: Rng, n: number): TestPacket[] {
  const out: TestPacket[] = [];
  for (let i = 0; i < n; i++) {
    const len = rng.chance(0.7) ? rng.pick(PACKET_LENGTHS) : 14 + rng.int(1487);
    const meta = rng.chance(0.2) ? rng.pick([4, 8, 16, 32]) : 0;
    const bytes = new Uint8Array(len + meta);
    const mode = rng.int(4);
    for (let b = 0; b < bytes.length; b++) {
      bytes[b] = mode === 0 ? rng.int(256) : mode === 1 ? (rng.chance(0.5) ? 0 : 0xff) : mode === 2 ? rng.int(16) : rng.pick([0, 1, 0x7f, 0x80, 0xff, rng.int(256)]);
    }
    out.push({ bytes, meta });
  }
  return out;
}

/** The rejection reason with the numbers taken out, so like reasons count together. */
export function reasonClass(errno: string, message: string): string {
  const m = message.replace(/^BPF_PROG_LOAD: /, '').replace(/-?\d+/g, 'N').replace(/R\d+/g, 'R');
  return `${errno} ${m}`.slice(0, 120);
}

/**
 * Generate, load and run the programs of seeds [from, from + count): every accepted program runs on
 * `packets` packets, with fresh map contents every 4 packets.
 */
export function fuzzRange(host: FuzzHost, from: number, count: number, packets: number, stats: FuzzStats = newStats(), onFailure?: (f: Failure) => void): FuzzStats {
  for (let seed = from; seed < from + count; seed++) {
    const g = generate(seed);
    fuzzOne(host, g, packets, stats, onFailure);
  }
  return stats;
}

export function fuzzOne(host: FuzzHost, g: GenProgram, packets: number, stats: FuzzStats, onFailure?: (f: Failure) => void): Failure | undefined {
  stats.programs++;
  const r = host.load(g.insns);
  if (!r.ok) {
    const c = reasonClass(r.errno, r.message);
    stats.rejected.set(c, (stats.rejected.get(c) ?? 0) + 1);
    return undefined;
  }
  stats.accepted++;
  for (const s of new Set(g.snippets)) stats.acceptedSnippets.set(s, (stats.acceptedSnippets.get(s) ?? 0) + 1);
  const rng = new Rng(g.seed ^ 0x5eed5eed);
  let failure: Failure | undefined;
  try {
    const pkts = packetsFor(rng, packets);
    for (let i = 0; i < pkts.length && failure === undefined; i++) {
      if (i % 4 === 0) host.fillMaps(rng);
      const before = host.sanitizer.checks;
      failure = host.run(g.seed, r.prog, pkts[i]!, g.insns);
      stats.checks += host.sanitizer.checks - before;
      stats.runs++;
    }
  } finally {
    host.close(r.fd);
  }
  if (failure !== undefined) {
    stats.failures.push(failure);
    onFailure?.(failure);
  }
  return failure;
}

/** Hex, 32 bytes a line. */
const hexLines = (b: Uint8Array): string[] => {
  const out: string[] = [];
  for (let i = 0; i < b.length; i += 32) out.push(Array.from(b.subarray(i, i + 32), (x) => x.toString(16).padStart(2, '0')).join(''));
  return out;
};

/** What a person needs to see a failure again: the seed, the access, the packet and the program. */
export function formatFailure(f: Failure): string {
  const listing = disassemble(f.insns, { flavour: 'llvm', lossless: true, listing: true }).join('\n');
  return [
    `soundness failure, seed ${f.seed}: ${f.kind} at insn ${f.pc}`,
    `  ${f.message.split('\n')[0]}`,
    `  packet: ${f.packet.bytes.length - f.packet.meta} bytes${f.packet.meta > 0 ? ` after ${f.packet.meta} bytes of metadata` : ''}:`,
    ...hexLines(f.packet.bytes).map((l) => `    ${l}`),
    '  program:',
    listing,
  ].join('\n');
}

/** Counts and rates, for the test log and `npm run fuzz`. */
export function formatStats(s: FuzzStats, ms: number): string {
  const lines = [
    `${s.programs} programs, ${s.accepted} accepted (${((100 * s.accepted) / Math.max(1, s.programs)).toFixed(1)}%), ` +
      `${s.runs} checked runs, ${s.checks} checked accesses, ${s.failures.length} failures, ${(ms / 1000).toFixed(1)} s`,
    '  top rejection reasons:',
    ...[...s.rejected.entries()].sort((a, b) => b[1] - a[1]).slice(0, 12).map(([r, n]) => `    ${String(n).padStart(6)}  ${r}`),
    `  accepted programs by snippet: ${[...s.acceptedSnippets.entries()].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`).join(', ')}`,
  ];
  return lines.join('\n');
}
