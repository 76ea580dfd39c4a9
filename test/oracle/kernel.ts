// The kernel oracle: asks the real Linux kernel, through bpftool(8), what it makes of a BPF object,
// so differential tests can hold the emulator to the kernel's answer. It wraps the commands a user
// would type - `bpftool prog loadall` (BPF_PROG_LOAD + BPF_OBJ_PIN), `bpftool prog run`
// (BPF_PROG_TEST_RUN), `bpftool -j map dump|lookup|update|delete`, `bpftool -j prog show` - and
// turns their output into typed values. Everything it pins lives under
// /sys/fs/bpf/nfp-emu-test-<pid>-<n>/ and is removed by cleanup().
//
// Synchronous on purpose: each call is one short bpftool process, and tests read better without
// awaits. Failures of the kernel come back as BpfError with the errno the kernel gave.
//
// Behaviour of BPF_PROG_TEST_RUN worth knowing (kernel 6.x, net/bpf/test_run.c):
//  - `repeat N` runs the program N times on the SAME buffer: changes to the packet and to
//    data/data_end (bpf_xdp_adjust_head/tail) accumulate from one run to the next. Use repeat 1
//    when the output packet matters; repeat N is for counters and timing.
//  - data_out starts at data_meta, so metadata pushed by bpf_xdp_adjust_meta() comes first.
//  - the input must be at least ETH_HLEN (14) bytes, and XDP_REDIRECT/XDP_TX are only reported, not
//    carried out (unless the live-frames mode, which bpftool does not use, is asked for).

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BpfError, ERRNO, errnoName } from '../../src/bpf/errno.js';
import type { ErrnoName } from '../../src/bpf/errno.js';

/** test/progs, where the committed objects live. */
export const PROGS_DIR = fileURLToPath(new URL('../progs/', import.meta.url));

/** The committed object for a program source name: progObject('xdp_l4lb') -> .../xdp_l4lb.o */
export function progObject(name: string): string {
  return path.join(PROGS_DIR, `${name}.o`);
}

export const BPFFS = '/sys/fs/bpf';
const PIN_PREFIX = 'nfp-emu-test';
const BPFTOOL_TIMEOUT_MS = 120_000;

// XDP verdicts (include/uapi/linux/bpf.h enum xdp_action).
export const XDP_ABORTED = 0;
export const XDP_DROP = 1;
export const XDP_PASS = 2;
export const XDP_TX = 3;
export const XDP_REDIRECT = 4;

// ---------------------------------------------------------------------------------------------
// Running bpftool

interface ToolResult {
  status: number;
  stdout: string;
  stderr: string;
}

function bpftool(args: readonly string[]): ToolResult {
  const r = spawnSync('bpftool', args, { encoding: 'utf8', timeout: BPFTOOL_TIMEOUT_MS, maxBuffer: 64 << 20 });
  if (r.error) throw r.error;
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/**
 * bpftool reports a failed syscall as text ("update failed: File exists"); its exit status is not
 * reliably the errno. The strerror text at the end of the message is, so map it back through the
 * project's one errno table.
 */
function errnoFromText(text: string): ErrnoName | undefined {
  for (const [name, [, message]] of Object.entries(ERRNO)) {
    if (text.includes(message)) return name as ErrnoName;
  }
  return undefined;
}

function toolError(what: string, r: ToolResult): BpfError {
  let message = r.stderr.trim();
  try {
    const parsed: unknown = JSON.parse(r.stdout);
    if (parsed !== null && typeof parsed === 'object' && 'error' in parsed && typeof parsed.error === 'string') {
      message = parsed.error;
    }
  } catch {
    // Not JSON: stderr carries the message.
  }
  if (message === '') message = `exit status ${r.status}`;
  return new BpfError(errnoFromText(message) ?? 'EIO', `${what}: ${message}`);
}

function bpftoolJson(what: string, args: readonly string[]): unknown {
  const r = bpftool(['-j', ...args]);
  if (r.status !== 0) throw toolError(what, r);
  const text = r.stdout.trim();
  return text === '' ? null : (JSON.parse(text) as unknown);
}

/** "0x0a" strings, as bpftool -j prints keys and values, to bytes. */
function bytesOf(json: unknown, what: string): Uint8Array {
  if (!Array.isArray(json)) throw new Error(`bpftool: expected a byte array for ${what}`);
  return Uint8Array.from(json, (b) => {
    if (typeof b !== 'string') throw new Error(`bpftool: expected "0x.." strings for ${what}`);
    return parseInt(b, 16);
  });
}

function hexArgs(bytes: Uint8Array): string[] {
  return ['hex', ...Array.from(bytes, (b) => b.toString(16).padStart(2, '0'))];
}

// ---------------------------------------------------------------------------------------------
// Availability

export type KernelAvailability = { ok: true } | { ok: false; reason: string };

let availability: KernelAvailability | undefined;

function bpffsMounted(): boolean {
  try {
    return fs
      .readFileSync('/proc/mounts', 'utf8')
      .split('\n')
      .some((line) => {
        const [, mountPoint, type] = line.split(' ');
        return mountPoint === BPFFS && type === 'bpf';
      });
  } catch {
    return false;
  }
}

function probe(): KernelAvailability {
  if (process.platform !== 'linux') return { ok: false, reason: `not Linux (${process.platform})` };
  const version = spawnSync('bpftool', ['version'], { encoding: 'utf8', timeout: 10_000 });
  if (version.error) return { ok: false, reason: `bpftool not runnable: ${version.error.message}` };
  if (version.status !== 0) return { ok: false, reason: `bpftool version failed: ${version.stderr.trim()}` };
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    return { ok: false, reason: 'not root: loading and test-running BPF programs needs CAP_BPF + CAP_NET_ADMIN' };
  }
  if (!bpffsMounted()) {
    spawnSync('mount', ['-t', 'bpf', 'bpf', BPFFS], { encoding: 'utf8', timeout: 10_000 });
    if (!bpffsMounted()) return { ok: false, reason: `no bpf filesystem at ${BPFFS}, and mounting one failed` };
  }
  const trivial = progObject('xdp_pass');
  if (!fs.existsSync(trivial)) return { ok: false, reason: `${trivial} is missing (run test/progs/build.sh)` };
  const oracle = new KernelOracle();
  try {
    const obj = oracle.load(trivial);
    const prog = obj.progs['xdp_pass'];
    if (prog === undefined) return { ok: false, reason: 'xdp_pass.o loaded without an xdp_pass program' };
    const r = oracle.run(prog, new Uint8Array(64));
    if (r.retval !== XDP_PASS) return { ok: false, reason: `xdp_pass returned ${r.retval} on the kernel` };
    return { ok: true };
  } catch (e) {
    return { ok: false, reason: `a trivial XDP program does not load and run: ${(e as Error).message}` };
  } finally {
    oracle.cleanup();
  }
}

/**
 * Can tests ask the kernel? bpftool present, root, bpffs mounted (or mountable) at /sys/fs/bpf, and
 * xdp_pass.o loads and test-runs. Probed once per process.
 */
export function kernelAvailability(): KernelAvailability {
  availability ??= probe();
  return availability;
}

/** For describe.skipIf / it.skipIf: the reason, or '' when the kernel can be asked. */
export function kernelSkipReason(): string {
  const a = kernelAvailability();
  return a.ok ? '' : a.reason;
}

// ---------------------------------------------------------------------------------------------
// Results

/** Pinned paths of what one object put in the kernel, by program name and by map pin name. */
export interface LoadedObject {
  object: string;
  /** /sys/fs/bpf/nfp-emu-test-<pid>-<n> */
  dir: string;
  /** program (function) name -> pinned path */
  progs: Record<string, string>;
  /**
   * map pin name -> pinned path. The pin name is the map's name with '.' turned into '_' (libbpf
   * does this), so global data appears as e.g. `xdp_subp_bss` for the map `xdp_subp.bss`.
   */
  maps: Record<string, string>;
}

export type LoadAttempt =
  | { ok: true; loaded: LoadedObject }
  | {
      ok: false;
      /** From libbpf's "failed to load: -N", when it got that far. */
      errno: ErrnoName | undefined;
      /** The kernel verifier's log, between libbpf's BEGIN/END PROG LOAD LOG markers; '' if none. */
      log: string;
      /** Everything bpftool printed on stderr. */
      stderr: string;
    };

export interface RunOptions {
  /** Runs of the program (BPF_PROG_TEST_RUN repeat). Default 1. */
  repeat?: number;
  /** Size of the output buffer; default bpftool's (large enough for any test frame). */
  dataSizeOut?: number;
  /** A struct xdp_md to pass in (ingress_ifindex, rx_queue_index); returned as ctxOut. */
  ctxIn?: Uint8Array;
}

export interface RunResult {
  retval: number;
  /** The packet after the (last) run, metadata first if any. */
  dataOut: Uint8Array;
  /** Average ns per run, as the kernel measured it. */
  durationNs: number;
  ctxOut?: Uint8Array;
}

export interface ProgInfo {
  id: number;
  name: string;
  type: string;
  /** The 8-byte program tag (SHA-1 prefix of the original instructions) as 16 hex digits. */
  tag: string;
  bytesXlated: number;
  jited: boolean;
  bytesJited: number;
  mapIds: number[];
}

export interface MapInfo {
  id: number;
  name: string;
  type: string;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
}

export interface MapEntry {
  key: Uint8Array;
  /** The value; for a per-CPU map, CPU 0's. */
  value: Uint8Array;
  /** Per-CPU maps: one value per possible CPU, in CPU order. Other maps: [value]. */
  values: Uint8Array[];
}

export type UpdateFlag = 'any' | 'noexist' | 'exist';

function num(obj: Record<string, unknown>, key: string): number {
  const v = obj[key];
  if (typeof v !== 'number') throw new Error(`bpftool: field ${key} missing or not a number`);
  return v;
}

function str(obj: Record<string, unknown>, key: string): string {
  const v = obj[key];
  if (typeof v !== 'string') throw new Error(`bpftool: field ${key} missing or not a string`);
  return v;
}

function record(json: unknown, what: string): Record<string, unknown> {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new Error(`bpftool: ${what} is not an object`);
  return json as Record<string, unknown>;
}

function entryOf(json: unknown): MapEntry {
  const e = record(json, 'map entry');
  const key = bytesOf(e['key'], 'key');
  if ('values' in e) {
    const values = (e['values'] as unknown[]).map((v) => bytesOf(record(v, 'per-CPU value')['value'], 'value'));
    return { key, value: values[0] ?? new Uint8Array(0), values };
  }
  const value = bytesOf(e['value'], 'value');
  return { key, value, values: [value] };
}

// ---------------------------------------------------------------------------------------------
// The oracle

let dirCounter = 0;
const openOracles = new Set<KernelOracle>();
let exitHookInstalled = false;

/**
 * One test file's conversation with the kernel. Create it in the test file, call cleanup() in
 * afterAll; a process exit hook removes whatever a crashed test left pinned.
 *
 *   const kernel = new KernelOracle();
 *   afterAll(() => kernel.cleanup());
 *   const obj = kernel.load(progObject('xdp_drop_udp9'));
 *   kernel.run(obj.progs.xdp_drop_udp9!, frame).retval
 */
export class KernelOracle {
  private readonly dirs: string[] = [];
  private scratchDir: string | undefined;
  private scratchSeq = 0;

  constructor() {
    openOracles.add(this);
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      process.once('exit', () => {
        for (const o of openOracles) o.cleanup();
      });
    }
  }

  /** A fresh, unique pin directory: mkdir is atomic, so two processes never share one. */
  private newPinDir(): string {
    for (;;) {
      const dir = path.join(BPFFS, `${PIN_PREFIX}-${process.pid}-${dirCounter++}`);
      try {
        fs.mkdirSync(dir);
        this.dirs.push(dir);
        return dir;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
    }
  }

  private scratchFile(name: string): string {
    this.scratchDir ??= fs.mkdtempSync(path.join(os.tmpdir(), `${PIN_PREFIX}-${process.pid}-`));
    return path.join(this.scratchDir, `${this.scratchSeq++}-${name}`);
  }

  /** `bpftool prog loadall OBJ DIR/progs pinmaps DIR/maps`; a load failure is returned, not thrown. */
  tryLoad(object: string): LoadAttempt {
    if (!fs.existsSync(object)) throw new BpfError('ENOENT', `no such object: ${object}`);
    const dir = this.newPinDir();
    const progDir = path.join(dir, 'progs');
    const mapDir = path.join(dir, 'maps');
    const r = bpftool(['prog', 'loadall', object, progDir, 'pinmaps', mapDir]);
    if (r.status !== 0) {
      const begin = r.stderr.indexOf('-- BEGIN PROG LOAD LOG --');
      const end = r.stderr.indexOf('-- END PROG LOAD LOG --');
      const log = begin >= 0 && end > begin ? r.stderr.slice(r.stderr.indexOf('\n', begin) + 1, end) : '';
      const m = /failed to load: -(\d+)/.exec(r.stderr);
      return { ok: false, errno: m?.[1] !== undefined ? errnoName(Number(m[1])) : undefined, log, stderr: r.stderr };
    }
    const pins = (d: string): Record<string, string> => {
      const out: Record<string, string> = {};
      if (fs.existsSync(d)) for (const name of fs.readdirSync(d).sort()) out[name] = path.join(d, name);
      return out;
    };
    return { ok: true, loaded: { object, dir, progs: pins(progDir), maps: pins(mapDir) } };
  }

  /** As tryLoad, but a rejected object throws a BpfError carrying the verifier log. */
  load(object: string): LoadedObject {
    const a = this.tryLoad(object);
    if (a.ok) return a.loaded;
    throw new BpfError(a.errno ?? 'EINVAL', `kernel refused ${path.basename(object)}:\n${a.log || a.stderr}`);
  }

  /** `bpftool prog run pinned PROG data_in ... data_out ... repeat N`. */
  run(prog: string, data: Uint8Array, opts: RunOptions = {}): RunResult {
    const dataIn = this.scratchFile('data_in');
    const dataOut = this.scratchFile('data_out');
    fs.writeFileSync(dataIn, data);
    const args = ['prog', 'run', 'pinned', prog, 'data_in', dataIn, 'data_out', dataOut];
    if (opts.dataSizeOut !== undefined) args.push('data_size_out', String(opts.dataSizeOut));
    let ctxOut: string | undefined;
    if (opts.ctxIn !== undefined) {
      const ctxIn = this.scratchFile('ctx_in');
      ctxOut = this.scratchFile('ctx_out');
      fs.writeFileSync(ctxIn, opts.ctxIn);
      args.push('ctx_in', ctxIn, 'ctx_out', ctxOut);
    }
    args.push('repeat', String(opts.repeat ?? 1));
    const res = record(bpftoolJson(`prog run ${path.basename(prog)}`, args), 'prog run result');
    const result: RunResult = {
      retval: num(res, 'retval'),
      dataOut: fs.existsSync(dataOut) ? new Uint8Array(fs.readFileSync(dataOut)) : new Uint8Array(0),
      durationNs: num(res, 'duration'),
    };
    if (ctxOut !== undefined && fs.existsSync(ctxOut)) result.ctxOut = new Uint8Array(fs.readFileSync(ctxOut));
    return result;
  }

  /** `bpftool -j prog show pinned PROG`. */
  progInfo(prog: string): ProgInfo {
    const p = record(bpftoolJson('prog show', ['prog', 'show', 'pinned', prog]), 'prog show');
    const mapIds = p['map_ids'];
    return {
      id: num(p, 'id'),
      name: str(p, 'name'),
      type: str(p, 'type'),
      tag: str(p, 'tag'),
      bytesXlated: num(p, 'bytes_xlated'),
      jited: p['jited'] === true,
      bytesJited: typeof p['bytes_jited'] === 'number' ? p['bytes_jited'] : 0,
      mapIds: Array.isArray(mapIds) ? mapIds.filter((x): x is number => typeof x === 'number') : [],
    };
  }

  /**
   * The program as the kernel runs it after verification (`bpftool prog dump xlated ... file`):
   * raw struct bpf_insn, with map fds replaced by map addresses and helper calls resolved.
   */
  xlated(prog: string): Uint8Array {
    const file = this.scratchFile('xlated');
    const r = bpftool(['prog', 'dump', 'xlated', 'pinned', prog, 'file', file]);
    if (r.status !== 0) throw toolError('prog dump xlated', r);
    return new Uint8Array(fs.readFileSync(file));
  }

  /** `bpftool -j map show pinned MAP`. */
  mapInfo(map: string): MapInfo {
    const m = record(bpftoolJson('map show', ['map', 'show', 'pinned', map]), 'map show');
    return {
      id: num(m, 'id'),
      name: str(m, 'name'),
      type: str(m, 'type'),
      keySize: num(m, 'bytes_key'),
      valueSize: num(m, 'bytes_value'),
      maxEntries: num(m, 'max_entries'),
      flags: num(m, 'flags'),
    };
  }

  /** Every entry, in the kernel's iteration order. */
  mapDump(map: string): MapEntry[] {
    const json = bpftoolJson('map dump', ['map', 'dump', 'pinned', map]);
    if (!Array.isArray(json)) throw new Error('bpftool: map dump is not an array');
    // Slots that hold nothing (an empty devmap or prog array slot) come as {"value": {"error": ...}}.
    const present = json.filter((e) => {
      const v = record(e, 'map entry')['value'];
      return !(v !== null && typeof v === 'object' && !Array.isArray(v) && 'error' in v);
    });
    return present.map(entryOf);
  }

  /** The entry for `key`, or null when there is none (ENOENT). */
  mapLookup(map: string, key: Uint8Array): MapEntry | null {
    const r = bpftool(['-j', 'map', 'lookup', 'pinned', map, 'key', ...hexArgs(key)]);
    if (r.status !== 0) {
      // A missing key prints "null" (or an error naming ENOENT) and exits non-zero.
      if (r.stdout.trim() === 'null' || errnoFromText(r.stdout + r.stderr) === 'ENOENT') return null;
      throw toolError('map lookup', r);
    }
    const text = r.stdout.trim();
    return text === '' || text === 'null' ? null : entryOf(JSON.parse(text));
  }

  /** BPF_MAP_UPDATE_ELEM. For a per-CPU map the value is written to every CPU. */
  mapUpdate(map: string, key: Uint8Array, value: Uint8Array, flag: UpdateFlag = 'any'): void {
    bpftoolJson('map update', ['map', 'update', 'pinned', map, 'key', ...hexArgs(key), 'value', ...hexArgs(value), flag]);
  }

  /** A PROG_ARRAY slot (tail-call target) or another map-of-programs entry: value is a pinned program. */
  mapUpdateProg(map: string, key: Uint8Array, prog: string): void {
    bpftoolJson('map update', ['map', 'update', 'pinned', map, 'key', ...hexArgs(key), 'value', 'pinned', prog]);
  }

  mapDelete(map: string, key: Uint8Array): void {
    bpftoolJson('map delete', ['map', 'delete', 'pinned', map, 'key', ...hexArgs(key)]);
  }

  /**
   * Unpins everything this oracle loaded (the kernel frees programs and maps with their last
   * reference) and removes its scratch files. Safe to call twice.
   */
  cleanup(): void {
    for (const dir of this.dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
    if (this.scratchDir !== undefined) {
      fs.rmSync(this.scratchDir, { recursive: true, force: true });
      this.scratchDir = undefined;
    }
    openOracles.delete(this);
  }
}

// ---------------------------------------------------------------------------------------------
// Byte helpers for keys and values (BPF maps hold host-endian, i.e. little-endian, numbers)

export function u32Key(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n >>> 0, true);
  return b;
}

export function readU32(bytes: Uint8Array, offset = 0): number {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(offset, true);
}

export function readU64(bytes: Uint8Array, offset = 0): bigint {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(offset, true);
}

/** The sum of one u64 field over all CPUs of a per-CPU entry. */
export function sumU64(values: readonly Uint8Array[], offset = 0): bigint {
  return values.reduce((acc, v) => acc + readU64(v, offset), 0n);
}
