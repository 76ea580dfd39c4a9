// The scenario file: YAML read with positions (the `yaml` package's document and line counter), checked
// field by field against the schema below, and turned into typed steps. Every error names the file,
// the line and the column of the offending node — an unknown field, a value of the wrong type or out of
// range, a packet that cannot be built, a file that cannot be read — and nothing is run unless the
// whole file is valid. Packets and pcap inputs are built here, so their errors point into the file too.
//
//   name: drop-udp9                       # optional (default: the file's name)
//   description: ...                      # optional
//   boot:                                 # optional
//     firmware: nfp-bpf-60c               # image name, NAME:SIZE, or none (no NIC)
//     cpus: 2                             # host CPUs
//     cores: 60                           # the NIC's cores: picks nfp-bpf-<N>c, or must match the image
//     jit: true                           # host BPF JIT (false: the interpreter)
//     up: true                            # bring the NIC's ports up
//     devices: [{name: veth0, mac: ..., mtu: 1500, up: true}]   # veth-like host devices
//   steps:
//     - load: {object: F.o, program: P | section: S, offload: DEV, pin: PATH, as: NAME, globals: {VAR: V}}
//     - attach: {dev: D, prog: NAME | pinned: PATH, mode: auto|generic|drv|offload, force: false}
//     - detach: {dev: D, mode: auto|generic|drv|offload}
//     - map: {op: update|lookup|delete|dump, map: NAME | {pinned: P} | {id: N}, key, value, flags,
//             repeat: N, parallel: N}
//     - send: {dev: D, packets: [PACKET...] | pcap: F, count: N}
//     - expect: {verdicts, xdp, stats, stack, wire, map}
//     - bpftool: "ARGS" | [ARGS] | {args, rc, stdout, stderr}
//     - ip: "ARGS" | [ARGS] | {args, rc, stdout, stderr}
//     - dmesg: {grep: TEXT, contains: TEXT, matches: RE}   # the kernel log
//     - capture: {dev: D, sink: wire|stack, pcap: OUT}
//     - together: [STEP, STEP...]   # at the same time: one send with map, attach, tool steps
//     - report: {}
//   A step may also carry `name:` (a title) and `fails: {errno: E, contains: TEXT}` (it must fail so).

import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, resolve } from 'node:path';
import { LineCounter, isAlias, isMap, isScalar, isSeq, parseDocument, type Document, type Node } from 'yaml';
import { ERRNO, type ErrnoName } from '../bpf/errno.js';
import { buildPackets, parseIpv4, parseIpv6, parseMac, type PacketSpec, type Ranged, type RangedAddr, type VlanSpec } from './packet.js';
import { readPcap } from './pcap.js';

// ------------------------------------------------------------------ the typed scenario

export interface Pos {
  readonly line: number;
  readonly col: number;
}

/** A map key or value: an integer sized to the map's key/value, bytes, or (keys) a range of integers. */
export type ValueSpec =
  | { readonly kind: 'int'; readonly value: bigint }
  /** A device's ifindex, known once the host has booted (devmap values, redirect targets). */
  | { readonly kind: 'ifindex'; readonly dev: string }
  | { readonly kind: 'bytes'; readonly bytes: Uint8Array }
  | { readonly kind: 'range'; readonly from: number; readonly to: number };

export type MapRef = { readonly name: string } | { readonly pinned: string } | { readonly id: number };

export interface FailSpec {
  readonly errno?: ErrnoName;
  /** Text the error message (or the verifier log) must contain. */
  readonly contains?: string;
}

export type XdpModeName = 'auto' | 'generic' | 'drv' | 'offload';
export const FATES = ['pass', 'drop', 'aborted', 'tx', 'redirect', 'error'] as const;
export type FateName = (typeof FATES)[number];
export const VERDICTS = ['aborted', 'drop', 'pass', 'tx', 'redirect', 'invalid'] as const;
export type VerdictName = (typeof VERDICTS)[number];
export const STAT_FIELDS = [
  'rx_packets', 'tx_packets', 'rx_bytes', 'tx_bytes', 'rx_errors', 'tx_errors', 'rx_dropped', 'tx_dropped', 'multicast',
  'collisions', 'rx_length_errors', 'rx_over_errors', 'rx_crc_errors', 'rx_frame_errors', 'rx_fifo_errors', 'rx_missed_errors',
  'tx_aborted_errors', 'tx_carrier_errors', 'tx_fifo_errors', 'tx_heartbeat_errors', 'tx_window_errors',
] as const;
export type StatField = (typeof STAT_FIELDS)[number];

export interface TextExpect {
  readonly equals?: string;
  readonly contains?: readonly string[];
  readonly matches?: RegExp;
}

export interface SinkExpect {
  readonly at: Pos;
  readonly dev: string;
  /** Frames that reached the sink during the last send. */
  readonly count?: number;
  /** Exactly these frames, in order. */
  readonly packets?: readonly Uint8Array[];
  /** Every frame equals this one. */
  readonly each?: Uint8Array;
}

export interface MapExpect {
  readonly at: Pos;
  readonly map: MapRef;
  readonly key?: ValueSpec;
  /** The element's value (per-CPU maps: summed over the CPUs). */
  readonly value?: ValueSpec;
  /** The key has no element. */
  readonly missing?: boolean;
  /** How many elements the map holds. */
  readonly entries?: number;
}

interface StepCommon {
  readonly at: Pos;
  readonly index: number;
  readonly title?: string;
  readonly fails?: FailSpec;
}

export interface LoadStep extends StepCommon {
  readonly kind: 'load';
  readonly object: string;
  readonly program?: string;
  readonly section?: string;
  /** Device name: the object's programs and maps are bound to it (prog_ifindex, map_ifindex). */
  readonly offload?: string;
  readonly pin?: string;
  readonly as?: string;
  /** .data/.rodata variables to set before the load, as a libbpf skeleton does. */
  readonly globals?: Readonly<Record<string, ValueSpec>>;
}

export interface AttachStep extends StepCommon {
  readonly kind: 'attach';
  readonly dev: string;
  readonly prog?: string;
  readonly pinned?: string;
  readonly mode: XdpModeName;
  readonly force: boolean;
}

export interface DetachStep extends StepCommon {
  readonly kind: 'detach';
  readonly dev: string;
  readonly mode: XdpModeName;
}

export interface MapStep extends StepCommon {
  readonly kind: 'map';
  readonly op: 'update' | 'lookup' | 'delete' | 'dump';
  readonly map: MapRef;
  readonly key?: ValueSpec;
  readonly value?: ValueSpec;
  /** lookup: the value it must find. */
  readonly expectValue?: ValueSpec;
  readonly flags: number;
  readonly repeat: number;
  readonly parallel: number;
}

export interface SendStep extends StepCommon {
  readonly kind: 'send';
  readonly dev: string;
  readonly frames: readonly Uint8Array[];
  readonly count: number;
  /** Where the frames came from, for the report. */
  readonly source: string;
}

export interface ExpectStep extends StepCommon {
  readonly kind: 'expect';
  readonly verdicts?: Partial<Record<FateName, number>>;
  readonly xdp?: Partial<Record<'offload' | 'drv' | 'generic', Partial<Record<VerdictName, number>>>>;
  readonly stats?: Readonly<Record<string, Partial<Record<StatField, number>>>>;
  readonly stack?: readonly SinkExpect[];
  readonly wire?: readonly SinkExpect[];
  readonly map?: readonly MapExpect[];
}

export interface ToolStep extends StepCommon {
  readonly kind: 'bpftool' | 'ip';
  readonly args: readonly string[];
  readonly rc?: number;
  readonly stdout?: TextExpect;
  readonly stderr?: TextExpect;
}

export interface CaptureStep extends StepCommon {
  readonly kind: 'capture';
  readonly dev: string;
  readonly sink: 'wire' | 'stack';
  readonly pcap: string;
}

export interface ReportStep extends StepCommon {
  readonly kind: 'report';
}

/** The kernel log (dmesg), optionally only lines containing `grep`, with text checks. */
export interface DmesgStep extends StepCommon {
  readonly kind: 'dmesg';
  readonly grep?: string;
  readonly expect?: TextExpect;
}

/** Steps run at the same time (traffic while the host rewrites maps, a program replaced under traffic). */
export interface TogetherStep extends StepCommon {
  readonly kind: 'together';
  readonly steps: readonly Step[];
}

export type Step = LoadStep | AttachStep | DetachStep | MapStep | SendStep | ExpectStep | ToolStep | CaptureStep | ReportStep | DmesgStep | TogetherStep;

export interface HostDeviceSpec {
  readonly name: string;
  readonly mac?: string;
  readonly mtu?: number;
  readonly up: boolean;
}

export interface Boot {
  /** Firmware image (NAME or NAME:SIZE), or null for a host without the NIC. */
  readonly firmware: string | null;
  readonly cpus: number;
  /** The NIC's core count the scenario wants (the image must have exactly that many). */
  readonly cores?: number;
  readonly jit: boolean;
  readonly up: boolean;
  readonly devices: readonly HostDeviceSpec[];
}

export interface Scenario {
  readonly file: string;
  readonly dir: string;
  readonly name: string;
  readonly description?: string;
  readonly boot: Boot;
  readonly steps: readonly Step[];
}

// ------------------------------------------------------------------ errors and reading

/** A scenario that cannot be run: the message starts with file:line:col. */
export class ScenarioError extends Error {
  constructor(readonly file: string, readonly line: number, readonly col: number, readonly reason: string) {
    super(`${file}:${line}:${col}: ${reason}`);
    this.name = 'ScenarioError';
  }
}

type YNode = Node | null | undefined;

class Reader {
  constructor(readonly file: string, readonly dir: string, readonly doc: Document, readonly lc: LineCounter) {}

  pos(node: YNode): Pos {
    const off = node?.range?.[0] ?? 0;
    const p = this.lc.linePos(off);
    return { line: p.line, col: p.col };
  }

  fail(node: YNode, msg: string): never {
    const p = this.pos(node);
    throw new ScenarioError(this.file, p.line, p.col, msg);
  }

  deref(node: YNode): YNode {
    return isAlias(node) ? (node.resolve(this.doc) as YNode) : node;
  }

  /** A mapping's fields by name; every name must be in `allowed`. */
  fields(node: YNode, what: string, allowed: readonly string[]): Fields {
    const n = this.deref(node);
    if (!isMap(n)) this.fail(n ?? node, `${what} must be a mapping (with ${allowed.join(', ')})`);
    const out = new Map<string, { key: Node; value: YNode }>();
    for (const pair of n.items) {
      const k = pair.key as YNode;
      if (!isScalar(k) || typeof k.value !== 'string') this.fail(k ?? n, `${what}: field names must be words`);
      const name = k.value as string;
      if (!allowed.includes(name)) this.fail(k, `unknown field '${name}' in ${what} (expected one of: ${allowed.join(', ')})`);
      if (out.has(name)) this.fail(k, `field '${name}' appears twice in ${what}`);
      out.set(name, { key: k, value: this.deref(pair.value as YNode) });
    }
    return new Fields(this, n, what, out);
  }

  str(node: YNode, what: string): string {
    const n = this.deref(node);
    if (!isScalar(n) || typeof n.value !== 'string') this.fail(n ?? node, `${what} must be a string`);
    return n.value as string;
  }

  bool(node: YNode, what: string): boolean {
    const n = this.deref(node);
    if (!isScalar(n) || typeof n.value !== 'boolean') this.fail(n ?? node, `${what} must be true or false`);
    return n.value as boolean;
  }

  bigint(node: YNode, what: string): bigint {
    const n = this.deref(node);
    if (!isScalar(n)) this.fail(n ?? node, `${what} must be an integer`);
    const v = n.value;
    if (typeof v === 'bigint') return v;
    if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v);
    if (typeof v === 'string' && /^-?(0x[0-9a-fA-F]+|[0-9]+)$/.test(v)) return BigInt(v.startsWith('-') ? -BigInt(v.slice(1)) : BigInt(v));
    return this.fail(n, `${what} must be an integer, not ${JSON.stringify(v)}`);
  }

  int(node: YNode, what: string, min: number, max: number): number {
    const v = this.bigint(node, what);
    if (v < BigInt(min) || v > BigInt(max)) this.fail(this.deref(node), `${what} ${v} is out of range ${min}..${max}`);
    return Number(v);
  }

  seq(node: YNode, what: string): Node[] {
    const n = this.deref(node);
    if (!isSeq(n)) this.fail(n ?? node, `${what} must be a list`);
    return n.items as Node[];
  }

  /** A path relative to the scenario's folder. */
  path(node: YNode, what: string): string {
    const p = this.str(node, what);
    return isAbsolute(p) ? p : resolve(this.dir, p);
  }

  /** An input file that must exist and be readable. */
  inputFile(node: YNode, what: string): string {
    const p = this.path(node, what);
    let ok = false;
    try {
      ok = existsSync(p) && statSync(p).isFile();
    } catch {
      ok = false;
    }
    if (!ok) this.fail(this.deref(node), `${what}: cannot read '${this.str(node, what)}' (${p})`);
    return p;
  }
}

class Fields {
  constructor(readonly r: Reader, readonly node: Node, readonly what: string, readonly map: Map<string, { key: Node; value: YNode }>) {}

  has(name: string): boolean {
    return this.map.has(name);
  }

  get(name: string): YNode {
    return this.map.get(name)?.value;
  }

  /** The value node of a field that must be there. */
  need(name: string): YNode {
    const f = this.map.get(name);
    if (f === undefined) this.r.fail(this.node, `${this.what} needs '${name}'`);
    if (f.value === null || f.value === undefined || (isScalar(f.value) && f.value.value === null)) this.r.fail(f.key, `${this.what}: '${name}' has no value`);
    return f.value;
  }

  /** At most one of these fields. */
  oneOf(names: readonly string[], required: boolean): string | undefined {
    // In the order they appear in the file, so that the error points at the second one.
    const present = names.filter((n) => this.map.has(n)).sort((a, b) => (this.map.get(a)!.key.range?.[0] ?? 0) - (this.map.get(b)!.key.range?.[0] ?? 0));
    if (present.length > 1) this.r.fail(this.map.get(present[1]!)!.key, `${this.what} takes one of ${names.join(', ')}, not both ${present[0]} and ${present[1]}`);
    if (present.length === 0 && required) this.r.fail(this.node, `${this.what} needs one of ${names.join(', ')}`);
    return present[0];
  }

  str(name: string): string | undefined {
    return this.has(name) ? this.r.str(this.need(name), `${this.what}.${name}`) : undefined;
  }

  int(name: string, min: number, max: number): number | undefined {
    return this.has(name) ? this.r.int(this.need(name), `${this.what}.${name}`, min, max) : undefined;
  }

  bool(name: string): boolean | undefined {
    return this.has(name) ? this.r.bool(this.need(name), `${this.what}.${name}`) : undefined;
  }
}

// ------------------------------------------------------------------ values

/** Typed fields a value may be made of (little-endian unless be*). */
const FIELD_TYPES: Readonly<Record<string, { size: number; be: boolean }>> = {
  u8: { size: 1, be: false }, u16: { size: 2, be: false }, u32: { size: 4, be: false }, u64: { size: 8, be: false },
  be16: { size: 2, be: true }, be32: { size: 4, be: true }, be64: { size: 8, be: true },
};

function intBytes(v: bigint, size: number, be: boolean): Uint8Array | undefined {
  const lim = 1n << BigInt(8 * size);
  if (v < -(lim >> 1n) || v >= lim) return undefined;
  let u = BigInt.asUintN(8 * size, v);
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) {
    out[be ? size - 1 - i : i] = Number(u & 0xffn);
    u >>= 8n;
  }
  return out;
}

/** Hex bytes as bpftool takes them: "0a 00 00 00", "0x0a 0x00", or one run "0a000000". */
function hexString(s: string): Uint8Array | undefined {
  const words = s.trim().split(/\s+/).filter((w) => w !== '');
  const bytes: number[] = [];
  for (let w of words) {
    if (w.startsWith('0x') || w.startsWith('0X')) w = w.slice(2);
    if (!/^[0-9a-fA-F]+$/.test(w) || w.length % 2 !== 0 && w.length > 2) return undefined;
    if (w.length <= 2) bytes.push(parseInt(w, 16));
    else for (let i = 0; i < w.length; i += 2) bytes.push(parseInt(w.slice(i, i + 2), 16));
  }
  return words.length > 0 ? Uint8Array.from(bytes) : undefined;
}

/**
 * A key or value: an integer (little-endian, the size of the map's key or value), a string of hex
 * bytes, a list of byte values, typed fields ({u32: 1}, {u64: [1, 2]}, {be16: 80}, {ipv4: "10.0.0.1"},
 * {mac: "02:00:..."}, or a list of such), or for keys a range {from, to}.
 */
function valueSpec(r: Reader, node: YNode, what: string, allowRange: boolean): ValueSpec {
  const n = r.deref(node);
  if (isScalar(n)) {
    if (typeof n.value === 'string') {
      const b = hexString(n.value);
      if (b === undefined) r.fail(n, `${what}: '${n.value}' is not hex bytes ("0a 00 00 00") — write numbers without quotes`);
      return { kind: 'bytes', bytes: b };
    }
    return { kind: 'int', value: r.bigint(n, what) };
  }
  if (isSeq(n)) {
    const items = n.items as Node[];
    if (items.length > 0 && items.every((i) => isScalar(r.deref(i)))) {
      return { kind: 'bytes', bytes: Uint8Array.from(items, (i, k) => r.int(i, `${what}[${k}]`, 0, 255)) };
    }
    const parts = items.map((i, k) => fieldBytes(r, i, `${what}[${k}]`));
    return { kind: 'bytes', bytes: concat(parts) };
  }
  if (isMap(n)) {
    if (n.items.length === 1 && isScalar(n.items[0]!.key) && n.items[0]!.key.value === 'ifindex') {
      return { kind: 'ifindex', dev: devName(r, n.items[0]!.value as Node, `${what}.ifindex`) };
    }
    if (allowRange && n.items.some((p) => isScalar(p.key) && (p.key.value === 'from' || p.key.value === 'to'))) {
      const f = r.fields(n, what, ['from', 'to']);
      const from = r.int(f.need('from'), `${what}.from`, 0, 0xffffffff);
      const to = r.int(f.need('to'), `${what}.to`, 0, 0xffffffff);
      if (to < from) r.fail(f.get('to'), `${what}: range ${from}..${to} counts down`);
      return { kind: 'range', from, to };
    }
    return { kind: 'bytes', bytes: fieldBytes(r, n, what) };
  }
  return r.fail(n ?? node, `${what} must be an integer, hex bytes, a list of bytes or typed fields`);
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function fieldBytes(r: Reader, node: YNode, what: string): Uint8Array {
  const f = r.fields(node, what, [...Object.keys(FIELD_TYPES), 'ipv4', 'mac', 'hex']);
  if (f.map.size !== 1) r.fail(f.node, `${what}: one typed field per item (${Object.keys(FIELD_TYPES).join(', ')}, ipv4, mac, hex)`);
  const [name, { value }] = [...f.map.entries()][0]!;
  if (name === 'ipv4' || name === 'mac') {
    const s = r.str(value, `${what}.${name}`);
    try {
      return name === 'ipv4' ? parseIpv4(s) : parseMac(s);
    } catch (e) {
      return r.fail(value, `${what}.${name}: ${(e as Error).message}`);
    }
  }
  if (name === 'hex') {
    const b = hexString(r.str(value, `${what}.hex`));
    if (b === undefined) r.fail(value, `${what}.hex is not hex bytes`);
    return b;
  }
  const t = FIELD_TYPES[name]!;
  const one = (v: YNode, w: string): Uint8Array => {
    const x = r.bigint(v, w);
    const b = intBytes(x, t.size, t.be);
    if (b === undefined) r.fail(r.deref(v), `${w} ${x} does not fit ${name}`);
    return b;
  };
  const d = r.deref(value);
  if (isSeq(d)) return concat((d.items as Node[]).map((v, k) => one(v, `${what}.${name}[${k}]`)));
  return one(value, `${what}.${name}`);
}

/** A key or value that does not fit the map it is used with (known only when the map exists). */
export class ValueSizeError extends Error {}

/** Size an integer value spec for a map's key or value. */
export function valueBytes(v: ValueSpec, size: number, what: string): Uint8Array {
  if (v.kind === 'bytes') {
    if (v.bytes.length !== size) throw new ValueSizeError(`${what} has ${v.bytes.length} bytes; the map's are ${size}`);
    return v.bytes;
  }
  if (v.kind === 'range') throw new ValueSizeError(`${what}: a range stands for several keys`);
  if (v.kind === 'ifindex') throw new Error(`BUG: ${what}: the ifindex of ${v.dev} was not resolved`);
  const b = intBytes(v.value, size, false);
  if (b === undefined) throw new ValueSizeError(`${what} ${v.value} does not fit ${size} bytes`);
  return b;
}

// ------------------------------------------------------------------ packets

const RANGE_RE = /^\s*(\d+)\s*-\s*(\d+)\s*$/;

function ranged(r: Reader, node: YNode, what: string, max: number): Ranged {
  const n = r.deref(node);
  if (isMap(n)) {
    const f = r.fields(n, what, ['from', 'to']);
    const from = r.int(f.need('from'), `${what}.from`, 0, max);
    const to = r.int(f.need('to'), `${what}.to`, 0, max);
    if (to < from) r.fail(f.get('to'), `${what}: range ${from}..${to} counts down`);
    return { from, to };
  }
  if (isScalar(n) && typeof n.value === 'string') {
    const m = RANGE_RE.exec(n.value);
    if (m === null) r.fail(n, `${what} must be a number or a range "A-B" / {from: A, to: B}`);
    const from = Number(m[1]), to = Number(m[2]);
    if (from > max || to > max) r.fail(n, `${what} range ${from}-${to} is out of range 0..${max}`);
    if (to < from) r.fail(n, `${what}: range ${from}-${to} counts down`);
    return { from, to };
  }
  return r.int(n, what, 0, max);
}

function rangedAddr(r: Reader, node: YNode, what: string, parse: (s: string) => Uint8Array): RangedAddr {
  const n = r.deref(node);
  let v: RangedAddr;
  if (isMap(n)) {
    const f = r.fields(n, what, ['from', 'to']);
    v = { from: r.str(f.need('from'), `${what}.from`), to: r.str(f.need('to'), `${what}.to`) };
  } else {
    const s = r.str(n, what);
    const parts = s.split('-');
    v = parts.length === 2 ? { from: parts[0]!.trim(), to: parts[1]!.trim() } : s;
  }
  try {
    if (typeof v === 'string') parse(v);
    else {
      parse(v.from);
      parse(v.to);
    }
  } catch (e) {
    r.fail(n, `${what}: ${(e as Error).message}`);
  }
  return v;
}

function bytesOf(r: Reader, node: YNode, what: string): Uint8Array {
  const n = r.deref(node);
  if (isMap(n)) {
    const f = r.fields(n, what, ['size', 'fill', 'text', 'hex', 'pattern', 'inner']);
    const k = f.oneOf(['size', 'text', 'hex', 'inner'], true);
    if (k === 'inner') {
      // A packet inside the payload (a tunnel's inner datagram): its bytes after the Ethernet header.
      const node = f.need('inner');
      const spec = packetSpec(r, node, `${what}.inner`);
      if (spec.eth !== undefined || spec.vlan !== undefined || spec.raw !== undefined || spec.count !== undefined) r.fail(r.deref(node), `${what}.inner is a network-layer packet: no eth, vlan, raw or count`);
      let built: Uint8Array[];
      try {
        built = buildPackets(spec);
      } catch (e) {
        return r.fail(r.deref(node), `${what}.inner: ${(e as Error).message}`);
      }
      if (built.length !== 1) r.fail(r.deref(node), `${what}.inner must describe one packet (no ranges)`);
      return built[0]!.slice(14);
    }
    if (k === 'text') return new TextEncoder().encode(r.str(f.need('text'), `${what}.text`));
    if (k === 'hex') {
      const b = hexString(r.str(f.need('hex'), `${what}.hex`));
      if (b === undefined) r.fail(f.get('hex'), `${what}.hex is not hex bytes`);
      return b;
    }
    const size = f.int('size', 0, 65535)!;
    if (f.has('fill') && f.has('pattern')) r.fail(f.get('pattern'), `${what}: fill or pattern, not both`);
    if (f.has('pattern')) {
      // Bytes counting up from the seed, as a generator's incrementing payload.
      const seed = f.int('pattern', 0, 255)!;
      return Uint8Array.from({ length: size }, (_, i) => (seed + i) & 0xff);
    }
    return new Uint8Array(size).fill(f.int('fill', 0, 255) ?? 0);
  }
  const v = valueSpec(r, n, what, false);
  if (v.kind !== 'bytes') r.fail(n, `${what} must be hex bytes, a list of bytes, or {size|text|hex: ...}`);
  return v.bytes;
}

function checksumOf(r: Reader, f: Fields, what: string, modes: readonly string[]): 'auto' | 'bad' | 'none' | number | undefined {
  const n = f.get('checksum');
  if (n === undefined) return undefined;
  if (isScalar(n) && typeof n.value === 'string') {
    if (!modes.includes(n.value)) r.fail(n, `${what}.checksum must be ${modes.join(', ')} or a number`);
    return n.value as 'auto' | 'bad' | 'none';
  }
  return r.int(n, `${what}.checksum`, 0, 0xffff);
}

function packetSpec(r: Reader, node: YNode, what: string): PacketSpec {
  const f = r.fields(node, what, ['eth', 'vlan', 'ipv4', 'ipv6', 'udp', 'tcp', 'icmp', 'payload', 'size', 'raw', 'count']);
  const p: { -readonly [K in keyof PacketSpec]: PacketSpec[K] } = {};
  if (f.has('raw')) {
    for (const k of ['eth', 'vlan', 'ipv4', 'ipv6', 'udp', 'tcp', 'icmp', 'payload']) if (f.has(k)) r.fail(f.map.get(k)!.key, `${what}: raw is a whole frame; it does not take ${k}`);
    p.raw = bytesOf(r, f.need('raw'), `${what}.raw`);
  }
  f.oneOf(['ipv4', 'ipv6'], false);
  f.oneOf(['udp', 'tcp', 'icmp'], false);
  if (f.has('eth')) {
    const e = r.fields(f.need('eth'), `${what}.eth`, ['src', 'dst', 'type']);
    p.eth = {
      ...(e.has('src') ? { src: rangedAddr(r, e.need('src'), `${what}.eth.src`, parseMac) } : {}),
      ...(e.has('dst') ? { dst: rangedAddr(r, e.need('dst'), `${what}.eth.dst`, parseMac) } : {}),
      ...(e.has('type') ? { type: e.int('type', 0, 0xffff)! } : {}),
    };
  }
  if (f.has('vlan')) {
    const vn = r.deref(f.need('vlan'));
    const items = isSeq(vn) ? (vn.items as Node[]) : [vn as Node];
    if (items.length > 2) r.fail(vn, `${what}.vlan: at most two tags (802.1ad outer + 802.1Q inner)`);
    p.vlan = items.map((it, i): VlanSpec => {
      const w = `${what}.vlan[${i}]`;
      const d = r.deref(it);
      if (!isMap(d)) return { id: ranged(r, d, w, 4095), ...(items.length === 2 && i === 0 ? { tpid: 0x88a8 } : {}) };
      const vf = r.fields(d, w, ['id', 'pcp', 'dei', 'tpid']);
      return {
        id: ranged(r, vf.need('id'), `${w}.id`, 4095),
        ...(vf.has('pcp') ? { pcp: vf.int('pcp', 0, 7)! } : {}),
        ...(vf.has('dei') ? { dei: vf.int('dei', 0, 1)! } : {}),
        ...(vf.has('tpid') ? { tpid: vf.int('tpid', 0, 0xffff)! } : items.length === 2 && i === 0 ? { tpid: 0x88a8 } : {}),
      };
    });
  }
  if (f.has('ipv4')) {
    const w = `${what}.ipv4`;
    const o = r.fields(f.need('ipv4'), w, ['src', 'dst', 'ttl', 'tos', 'id', 'df', 'mf', 'frag_offset', 'proto', 'options', 'checksum']);
    const cs = checksumOf(r, o, w, ['auto', 'bad']);
    p.ipv4 = {
      ...(o.has('src') ? { src: rangedAddr(r, o.need('src'), `${w}.src`, parseIpv4) } : {}),
      ...(o.has('dst') ? { dst: rangedAddr(r, o.need('dst'), `${w}.dst`, parseIpv4) } : {}),
      ...(o.has('ttl') ? { ttl: ranged(r, o.need('ttl'), `${w}.ttl`, 255) } : {}),
      ...(o.has('tos') ? { tos: ranged(r, o.need('tos'), `${w}.tos`, 255) } : {}),
      ...(o.has('id') ? { id: ranged(r, o.need('id'), `${w}.id`, 0xffff) } : {}),
      ...(o.has('df') ? { df: o.bool('df')! } : {}),
      ...(o.has('mf') ? { mf: o.bool('mf')! } : {}),
      ...(o.has('frag_offset') ? { frag_offset: o.int('frag_offset', 0, 0x1fff)! } : {}),
      ...(o.has('proto') ? { proto: o.int('proto', 0, 255)! } : {}),
      ...(o.has('options') ? { options: bytesOf(r, o.need('options'), `${w}.options`) } : {}),
      ...(cs !== undefined ? { checksum: cs as 'auto' | 'bad' | number } : {}),
    };
  }
  if (f.has('ipv6')) {
    const w = `${what}.ipv6`;
    const o = r.fields(f.need('ipv6'), w, ['src', 'dst', 'hop_limit', 'traffic_class', 'flow_label', 'next_header']);
    p.ipv6 = {
      ...(o.has('src') ? { src: rangedAddr(r, o.need('src'), `${w}.src`, parseIpv6) } : {}),
      ...(o.has('dst') ? { dst: rangedAddr(r, o.need('dst'), `${w}.dst`, parseIpv6) } : {}),
      ...(o.has('hop_limit') ? { hop_limit: ranged(r, o.need('hop_limit'), `${w}.hop_limit`, 255) } : {}),
      ...(o.has('traffic_class') ? { traffic_class: o.int('traffic_class', 0, 255)! } : {}),
      ...(o.has('flow_label') ? { flow_label: o.int('flow_label', 0, 0xfffff)! } : {}),
      ...(o.has('next_header') ? { next_header: o.int('next_header', 0, 255)! } : {}),
    };
  }
  for (const l4 of ['udp', 'tcp'] as const) {
    if (!f.has(l4)) continue;
    const w = `${what}.${l4}`;
    const o = r.fields(f.need(l4), w, l4 === 'udp' ? ['sport', 'dport', 'checksum'] : ['sport', 'dport', 'seq', 'ack', 'flags', 'window', 'checksum']);
    const cs = checksumOf(r, o, w, l4 === 'udp' ? ['auto', 'bad', 'none'] : ['auto', 'bad']);
    const common = {
      ...(o.has('sport') ? { sport: ranged(r, o.need('sport'), `${w}.sport`, 0xffff) } : {}),
      ...(o.has('dport') ? { dport: ranged(r, o.need('dport'), `${w}.dport`, 0xffff) } : {}),
      ...(cs !== undefined ? { checksum: cs } : {}),
    };
    if (l4 === 'udp') p.udp = common as PacketSpec['udp'];
    else {
      let flags: string[] | undefined;
      if (o.has('flags')) {
        const fn = r.deref(o.need('flags'));
        flags = isSeq(fn) ? (fn.items as Node[]).map((x, k) => r.str(x, `${w}.flags[${k}]`)) : r.str(fn, `${w}.flags`).split(/[\s,|]+/).filter((s) => s !== '');
        for (const fl of flags) {
          if (!['fin', 'syn', 'rst', 'psh', 'ack', 'urg', 'ece', 'cwr'].includes(fl.toLowerCase())) r.fail(fn, `${w}.flags: '${fl}' is not one of fin, syn, rst, psh, ack, urg, ece, cwr`);
        }
      }
      p.tcp = {
        ...common,
        ...(o.has('seq') ? { seq: o.int('seq', 0, 0xffffffff)! } : {}),
        ...(o.has('ack') ? { ack: o.int('ack', 0, 0xffffffff)! } : {}),
        ...(o.has('window') ? { window: o.int('window', 0, 0xffff)! } : {}),
        ...(flags !== undefined ? { flags } : {}),
      } as PacketSpec['tcp'];
    }
  }
  if (f.has('icmp')) {
    const w = `${what}.icmp`;
    const o = r.fields(f.need('icmp'), w, ['type', 'code', 'id', 'seq', 'checksum']);
    const cs = checksumOf(r, o, w, ['auto', 'bad']);
    p.icmp = {
      ...(o.has('type') ? { type: o.int('type', 0, 255)! } : {}),
      ...(o.has('code') ? { code: o.int('code', 0, 255)! } : {}),
      ...(o.has('id') ? { id: ranged(r, o.need('id'), `${w}.id`, 0xffff) } : {}),
      ...(o.has('seq') ? { seq: ranged(r, o.need('seq'), `${w}.seq`, 0xffff) } : {}),
      ...(cs !== undefined ? { checksum: cs as 'auto' | 'bad' | number } : {}),
    };
  }
  if (f.has('payload')) p.payload = bytesOf(r, f.need('payload'), `${what}.payload`);
  if (f.has('size')) p.size = f.int('size', 14, 65535)!;
  if (f.has('count')) p.count = f.int('count', 1, 1 << 20)!;
  if ((f.has('udp') || f.has('tcp') || f.has('icmp')) && !f.has('ipv4') && !f.has('ipv6')) {
    const l4 = f.has('udp') ? 'udp' : f.has('tcp') ? 'tcp' : 'icmp';
    r.fail(f.map.get(l4)!.key, `${what}: ${l4} needs an ipv4 or ipv6 layer`);
  }
  return p;
}

function packets(r: Reader, node: YNode, what: string): Uint8Array[] {
  const out: Uint8Array[] = [];
  r.seq(node, what).forEach((item, i) => {
    const spec = packetSpec(r, item, `${what}[${i}]`);
    let built: Uint8Array[];
    try {
      built = buildPackets(spec);
    } catch (e) {
      return r.fail(r.deref(item), `${what}[${i}]: ${(e as Error).message}`);
    }
    for (const fr of built) out.push(fr);
    if (out.length > 1 << 22) r.fail(item, `${what}: more than ${1 << 22} distinct frames`);
  });
  if (out.length === 0) r.fail(r.deref(node), `${what} is empty`);
  return out;
}

// ------------------------------------------------------------------ steps

const STEP_KINDS = ['load', 'attach', 'detach', 'map', 'send', 'expect', 'bpftool', 'ip', 'dmesg', 'capture', 'report', 'together'] as const;
/** What may run inside `together` (checks and snapshots belong after it). */
const CONCURRENT_KINDS = ['load', 'attach', 'detach', 'map', 'send', 'bpftool', 'ip'];
const MODES: readonly XdpModeName[] = ['auto', 'generic', 'drv', 'offload'];
const DEV_NAME_RE = /^[^\s/:]{1,15}$/;

function devName(r: Reader, node: YNode, what: string): string {
  const s = r.str(node, what);
  if (!DEV_NAME_RE.test(s)) r.fail(r.deref(node), `${what}: '${s}' is not a device name`);
  return s;
}

function mode(r: Reader, f: Fields, what: string): XdpModeName {
  if (!f.has('mode')) return 'auto';
  const m = r.str(f.need('mode'), `${what}.mode`);
  if (!(MODES as readonly string[]).includes(m)) r.fail(f.get('mode'), `${what}.mode '${m}' is not one of ${MODES.join(', ')}`);
  return m as XdpModeName;
}

function mapRef(r: Reader, node: YNode, what: string): MapRef {
  const n = r.deref(node);
  if (isScalar(n) && typeof n.value === 'string') return { name: n.value };
  const f = r.fields(n, what, ['name', 'pinned', 'id']);
  const k = f.oneOf(['name', 'pinned', 'id'], true)!;
  if (k === 'id') return { id: f.int('id', 1, 0x7fffffff)! };
  if (k === 'pinned') return { pinned: f.str('pinned')! };
  return { name: f.str('name')! };
}

function failSpec(r: Reader, node: YNode, what: string): FailSpec {
  const n = r.deref(node);
  if (isScalar(n) && n.value === true) return {};
  const f = r.fields(n, what, ['errno', 'contains']);
  const out: { errno?: ErrnoName; contains?: string } = {};
  if (f.has('errno')) {
    const e = f.str('errno')!;
    if (!(e in ERRNO)) r.fail(f.get('errno'), `${what}.errno '${e}' is not an errno name (EINVAL, EACCES, EOPNOTSUPP, ...)`);
    out.errno = e as ErrnoName;
  }
  if (f.has('contains')) out.contains = f.str('contains')!;
  return out;
}

function textExpect(r: Reader, node: YNode, what: string, also: readonly string[] = []): TextExpect {
  const n = r.deref(node);
  if (isScalar(n) && typeof n.value === 'string') return { contains: [n.value] };
  const f = r.fields(n, what, ['equals', 'contains', 'matches', ...also]);
  const out: { equals?: string; contains?: string[]; matches?: RegExp } = {};
  if (f.has('equals')) out.equals = f.str('equals')!;
  if (f.has('contains')) {
    const c = r.deref(f.need('contains'));
    out.contains = isSeq(c) ? (c.items as Node[]).map((x, k) => r.str(x, `${what}.contains[${k}]`)) : [r.str(c, `${what}.contains`)];
  }
  if (f.has('matches')) {
    const src = f.str('matches')!;
    try {
      out.matches = new RegExp(src, 'm');
    } catch (e) {
      r.fail(f.get('matches'), `${what}.matches: ${(e as Error).message}`);
    }
  }
  return out;
}

/** Shell-like words: spaces separate, single or double quotes group. */
export function splitWords(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inWord = false;
  let q: string | undefined;
  for (const c of s) {
    if (q !== undefined) {
      if (c === q) q = undefined;
      else cur += c;
    } else if (c === '"' || c === "'") {
      q = c;
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (q !== undefined) throw new Error(`unclosed ${q} quote`);
  if (inWord) out.push(cur);
  return out;
}

function toolStep(r: Reader, node: YNode, kind: 'bpftool' | 'ip', common: StepCommon): ToolStep {
  const n = r.deref(node);
  const words = (x: YNode, w: string): string[] => {
    const d = r.deref(x);
    if (isSeq(d)) return (d.items as Node[]).map((i, k) => {
      const v = r.deref(i);
      return isScalar(v) && (typeof v.value === 'number' || typeof v.value === 'bigint') ? String(v.value) : r.str(v, `${w}[${k}]`);
    });
    try {
      return splitWords(r.str(d, w));
    } catch (e) {
      return r.fail(d, `${w}: ${(e as Error).message}`);
    }
  };
  if (!isMap(n)) {
    const args = words(n, kind);
    if (args.length === 0) r.fail(n, `${kind} needs a command`);
    return { ...common, kind, args };
  }
  const f = r.fields(n, kind, ['args', 'rc', 'stdout', 'stderr']);
  const args = words(f.need('args'), `${kind}.args`);
  if (args.length === 0) r.fail(f.get('args'), `${kind} needs a command`);
  return {
    ...common, kind, args,
    ...(f.has('rc') ? { rc: f.int('rc', 0, 255)! } : {}),
    ...(f.has('stdout') ? { stdout: textExpect(r, f.need('stdout'), `${kind}.stdout`) } : {}),
    ...(f.has('stderr') ? { stderr: textExpect(r, f.need('stderr'), `${kind}.stderr`) } : {}),
  };
}

function counts<K extends string>(r: Reader, node: YNode, what: string, keys: readonly K[]): Partial<Record<K, number>> {
  const f = r.fields(node, what, keys);
  const out: Partial<Record<K, number>> = {};
  for (const k of keys) if (f.has(k)) out[k] = f.int(k, 0, Number.MAX_SAFE_INTEGER)!;
  return out;
}

function sinkExpects(r: Reader, node: YNode, what: string): SinkExpect[] {
  const n = r.deref(node);
  const items = isSeq(n) ? (n.items as Node[]) : [n as Node];
  return items.map((it, i) => {
    const w = isSeq(n) ? `${what}[${i}]` : what;
    const f = r.fields(it, w, ['dev', 'count', 'packets', 'each', 'pcap']);
    f.oneOf(['packets', 'each', 'pcap'], false);
    const out: { -readonly [K in keyof SinkExpect]: SinkExpect[K] } = { at: r.pos(f.node), dev: devName(r, f.need('dev'), `${w}.dev`) };
    if (f.has('count')) out.count = f.int('count', 0, Number.MAX_SAFE_INTEGER)!;
    if (f.has('packets')) out.packets = packets(r, f.need('packets'), `${w}.packets`);
    if (f.has('pcap')) out.packets = pcapFrames(r, f.need('pcap'), `${w}.pcap`);
    if (f.has('each')) {
      const node = f.need('each');
      let one: Uint8Array[];
      try {
        one = buildPackets(packetSpec(r, node, `${w}.each`));
      } catch (e) {
        if (e instanceof ScenarioError) throw e;
        return r.fail(r.deref(node), `${w}.each: ${(e as Error).message}`);
      }
      if (new Set(one).size !== 1) r.fail(r.deref(node), `${w}.each must describe one frame`);
      out.each = one[0]!;
    }
    return out;
  });
}

function pcapFrames(r: Reader, node: YNode, what: string): Uint8Array[] {
  const file = r.inputFile(node, what);
  try {
    return readPcap(new Uint8Array(readFileSync(file))).records.map((rec) => rec.data);
  } catch (e) {
    return r.fail(r.deref(node), `${what}: ${basename(file)}: ${(e as Error).message}`);
  }
}

function expectStep(r: Reader, node: YNode, common: StepCommon): ExpectStep {
  const f = r.fields(node, 'expect', ['verdicts', 'xdp', 'stats', 'stack', 'wire', 'map']);
  if (f.map.size === 0) r.fail(f.node, 'expect needs something to check (verdicts, xdp, stats, stack, wire, map)');
  const out: { -readonly [K in keyof ExpectStep]: ExpectStep[K] } = { ...common, kind: 'expect' };
  if (f.has('verdicts')) out.verdicts = counts(r, f.need('verdicts'), 'expect.verdicts', FATES);
  if (f.has('xdp')) {
    const x = r.fields(f.need('xdp'), 'expect.xdp', ['offload', 'drv', 'generic']);
    out.xdp = {};
    for (const k of ['offload', 'drv', 'generic'] as const) if (x.has(k)) out.xdp[k] = counts(r, x.need(k), `expect.xdp.${k}`, VERDICTS);
  }
  if (f.has('stats')) {
    const s = r.deref(f.need('stats'));
    if (!isMap(s)) r.fail(s, 'expect.stats must map device names to counters');
    const stats: Record<string, Partial<Record<StatField, number>>> = {};
    for (const pair of s.items) {
      const dev = devName(r, pair.key as Node, 'expect.stats device');
      stats[dev] = counts(r, pair.value as Node, `expect.stats.${dev}`, STAT_FIELDS);
    }
    out.stats = stats;
  }
  if (f.has('stack')) out.stack = sinkExpects(r, f.need('stack'), 'expect.stack');
  if (f.has('wire')) out.wire = sinkExpects(r, f.need('wire'), 'expect.wire');
  if (f.has('map')) {
    const m = r.deref(f.need('map'));
    const items = isSeq(m) ? (m.items as Node[]) : [m as Node];
    out.map = items.map((it, i) => {
      const w = isSeq(m) ? `expect.map[${i}]` : 'expect.map';
      const mf = r.fields(it, w, ['map', 'key', 'value', 'missing', 'entries']);
      const e: { -readonly [K in keyof MapExpect]: MapExpect[K] } = { at: r.pos(mf.node), map: mapRef(r, mf.need('map'), `${w}.map`) };
      if (mf.has('key')) e.key = valueSpec(r, mf.need('key'), `${w}.key`, false);
      if (mf.has('value')) e.value = valueSpec(r, mf.need('value'), `${w}.value`, false);
      if (mf.has('missing')) e.missing = mf.bool('missing')!;
      if (mf.has('entries')) e.entries = mf.int('entries', 0, 0x7fffffff)!;
      if ((e.value !== undefined || e.missing !== undefined) && e.key === undefined) r.fail(mf.node, `${w}: value and missing need a key`);
      if (e.value === undefined && e.missing === undefined && e.entries === undefined) r.fail(mf.node, `${w} needs value, missing or entries`);
      return e;
    });
  }
  return out;
}

const MAP_FLAGS: Readonly<Record<string, number>> = { any: 0, noexist: 1, exist: 2 };

function parseStep(r: Reader, node: Node, index: number): Step {
  const n = r.deref(node);
  if (!isMap(n)) r.fail(n ?? node, `step ${index} must be a mapping with one of: ${STEP_KINDS.join(', ')}`);
  const f = r.fields(n, `step ${index}`, [...STEP_KINDS, 'name', 'fails']);
  const kind = f.oneOf(STEP_KINDS, true) as (typeof STEP_KINDS)[number];
  const common: StepCommon = {
    at: r.pos(n), index,
    ...(f.has('name') ? { title: f.str('name')! } : {}),
    ...(f.has('fails') ? { fails: failSpec(r, f.need('fails'), `step ${index}.fails`) } : {}),
  };
  const body = f.get(kind);
  switch (kind) {
    case 'load': {
      const s = r.fields(body, 'load', ['object', 'program', 'section', 'offload', 'pin', 'as', 'globals']);
      let globals: Record<string, ValueSpec> | undefined;
      if (s.has('globals')) {
        const g = r.deref(s.need('globals'));
        if (!isMap(g)) r.fail(g, 'load.globals must map variable names to values');
        globals = {};
        for (const pair of g.items) {
          const name = r.str(pair.key as Node, 'load.globals variable');
          globals[name] = valueSpec(r, pair.value as Node, `load.globals.${name}`, false);
        }
      }
      s.oneOf(['program', 'section'], false);
      return {
        ...common, kind, object: r.inputFile(s.need('object'), 'load.object'),
        ...(s.has('program') ? { program: s.str('program')! } : {}),
        ...(s.has('section') ? { section: s.str('section')! } : {}),
        ...(s.has('offload') ? { offload: devName(r, s.need('offload'), 'load.offload') } : {}),
        ...(s.has('pin') ? { pin: s.str('pin')! } : {}),
        ...(s.has('as') ? { as: s.str('as')! } : {}),
        ...(globals !== undefined ? { globals } : {}),
      };
    }
    case 'attach': {
      const s = r.fields(body, 'attach', ['dev', 'prog', 'pinned', 'mode', 'force']);
      s.oneOf(['prog', 'pinned'], true);
      return {
        ...common, kind, dev: devName(r, s.need('dev'), 'attach.dev'), mode: mode(r, s, 'attach'), force: s.bool('force') ?? false,
        ...(s.has('prog') ? { prog: s.str('prog')! } : {}),
        ...(s.has('pinned') ? { pinned: s.str('pinned')! } : {}),
      };
    }
    case 'detach': {
      const s = r.fields(body, 'detach', ['dev', 'mode']);
      return { ...common, kind, dev: devName(r, s.need('dev'), 'detach.dev'), mode: mode(r, s, 'detach') };
    }
    case 'map': {
      const s = r.fields(body, 'map', ['op', 'map', 'key', 'value', 'flags', 'repeat', 'parallel']);
      const op = s.str('op') ?? (s.has('value') ? 'update' : 'lookup');
      if (!['update', 'lookup', 'delete', 'dump'].includes(op)) r.fail(s.get('op'), `map.op '${op}' is not one of update, lookup, delete, dump`);
      let flags = 0;
      if (s.has('flags')) {
        const fl = s.str('flags')!;
        if (!(fl in MAP_FLAGS)) r.fail(s.get('flags'), `map.flags '${fl}' is not one of any, noexist, exist`);
        flags = MAP_FLAGS[fl]!;
      }
      const key = s.has('key') ? valueSpec(r, s.need('key'), 'map.key', true) : undefined;
      const value = s.has('value') ? valueSpec(r, s.need('value'), 'map.value', false) : undefined;
      if ((op === 'update' || op === 'lookup' || op === 'delete') && key === undefined) r.fail(s.node, `map ${op} needs a key`);
      if (op === 'update' && value === undefined) r.fail(s.node, 'map update needs a value');
      if (op === 'dump' && (key !== undefined || value !== undefined)) r.fail(s.node, 'map dump takes no key or value');
      return {
        ...common, kind, op: op as MapStep['op'], map: mapRef(r, s.need('map'), 'map.map'), flags,
        repeat: s.int('repeat', 1, 100_000_000) ?? 1, parallel: s.int('parallel', 1, 4096) ?? 1,
        ...(key !== undefined ? { key } : {}),
        ...(op === 'update' && value !== undefined ? { value } : {}),
        ...(op === 'lookup' && value !== undefined ? { expectValue: value } : {}),
      };
    }
    case 'send': {
      const s = r.fields(body, 'send', ['dev', 'packets', 'pcap', 'count']);
      const src = s.oneOf(['packets', 'pcap'], true)!;
      const frames = src === 'packets' ? packets(r, s.need('packets'), 'send.packets') : pcapFrames(r, s.need('pcap'), 'send.pcap');
      if (frames.length === 0) r.fail(s.get(src), 'send: no frames');
      return {
        ...common, kind, dev: devName(r, s.need('dev'), 'send.dev'), frames, count: s.int('count', 1, 1_000_000_000) ?? 1,
        source: src === 'pcap' ? basename(s.str('pcap')!) : `${frames.length} packet${frames.length === 1 ? '' : 's'}`,
      };
    }
    case 'expect':
      return expectStep(r, body, common);
    case 'bpftool':
    case 'ip':
      return toolStep(r, body, kind, common);
    case 'capture': {
      const s = r.fields(body, 'capture', ['dev', 'sink', 'pcap']);
      const sink = s.str('sink') ?? 'wire';
      if (sink !== 'wire' && sink !== 'stack') r.fail(s.get('sink'), `capture.sink '${sink}' is not wire or stack`);
      return { ...common, kind, dev: devName(r, s.need('dev'), 'capture.dev'), sink, pcap: r.path(s.need('pcap'), 'capture.pcap') };
    }
    case 'dmesg': {
      const d = r.deref(body);
      if (d === null || d === undefined || (isScalar(d) && d.value === null)) return { ...common, kind };
      if (isScalar(d)) return { ...common, kind, expect: { contains: [r.str(d, 'dmesg')] } };
      const s = r.fields(d, 'dmesg', ['grep', 'contains', 'matches']);
      const grep = s.str('grep');
      const hasCheck = s.has('contains') || s.has('matches');
      const exp = hasCheck ? textExpect(r, d, 'dmesg', ['grep']) : undefined;
      return { ...common, kind, ...(grep !== undefined ? { grep } : {}), ...(exp !== undefined ? { expect: exp } : {}) };
    }
    case 'together': {
      if (f.has('fails')) r.fail(f.map.get('fails')!.key, 'together takes no fails: put it on the steps inside');
      const items = r.seq(body, 'together');
      if (items.length < 2) r.fail(r.deref(body), 'together needs at least two steps');
      const steps = items.map((it) => parseStep(r, it, index));
      let sends = 0;
      steps.forEach((st, k) => {
        if (!CONCURRENT_KINDS.includes(st.kind)) r.fail(r.deref(items[k]), `together runs ${CONCURRENT_KINDS.join(', ')} steps; put ${st.kind} after it`);
        if (st.kind === 'send' && ++sends > 1) r.fail(r.deref(items[k]), 'together takes one send (the expect after it checks that one)');
      });
      return { ...common, kind, steps };
    }
    case 'report': {
      const d = r.deref(body);
      if (d !== null && d !== undefined && !(isScalar(d) && d.value === null)) r.fields(d, 'report', []);
      return { ...common, kind };
    }
  }
}

function parseBoot(r: Reader, node: YNode): Boot {
  if (node === undefined || node === null) return { firmware: 'nfp-bpf-60c', cpus: 2, jit: true, up: true, devices: [] };
  const f = r.fields(node, 'boot', ['firmware', 'cpus', 'cores', 'jit', 'up', 'devices']);
  const cores = f.int('cores', 1, 4096);
  // `cores` alone picks the production image with that many cores (nfp-bpf-40c, -56c, -60c, -70c).
  let firmware: string | null = cores !== undefined ? `nfp-bpf-${cores}c` : 'nfp-bpf-60c';
  if (f.has('firmware')) {
    const fw = r.deref(f.get('firmware'));
    firmware = isScalar(fw) && (fw.value === null || fw.value === false || fw.value === 'none') ? null : r.str(fw, 'boot.firmware');
  }
  const devices: HostDeviceSpec[] = [];
  if (f.has('devices')) {
    const names = new Set<string>();
    r.seq(f.need('devices'), 'boot.devices').forEach((d, i) => {
      const w = `boot.devices[${i}]`;
      const dn = r.deref(d);
      const df = isScalar(dn) ? undefined : r.fields(dn, w, ['name', 'mac', 'mtu', 'up']);
      const name = devName(r, df === undefined ? dn : df.need('name'), `${w}.name`);
      if (names.has(name) || name === 'lo' || /^nfp\d+$/.test(name)) r.fail(d, `${w}: device name '${name}' is taken`);
      names.add(name);
      let mac: string | undefined;
      if (df?.has('mac')) {
        mac = df.str('mac')!;
        try {
          parseMac(mac);
        } catch (e) {
          r.fail(df.get('mac'), `${w}.mac: ${(e as Error).message}`);
        }
      }
      devices.push({ name, up: df?.bool('up') ?? true, ...(mac !== undefined ? { mac } : {}), ...(df?.has('mtu') ? { mtu: df.int('mtu', 68, 65535)! } : {}) });
    });
  }
  return {
    firmware, cpus: f.int('cpus', 1, 64) ?? 2, jit: f.bool('jit') ?? true, up: f.bool('up') ?? true, devices,
    ...(cores !== undefined ? { cores } : {}),
  };
}

/** Parse and check a scenario's text; `file` names it in errors and anchors its relative paths. */
export function parseScenario(text: string, file: string): Scenario {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true, intAsBigInt: true, strict: true });
  const dir = dirname(resolve(file));
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const p = lc.linePos(e.pos[0]);
    throw new ScenarioError(file, p.line, p.col, `YAML: ${e.message.split('\n')[0]}`);
  }
  const r = new Reader(file, dir, doc, lc);
  const root = doc.contents as YNode;
  if (root === null || root === undefined || (isScalar(root) && root.value === null)) throw new ScenarioError(file, 1, 1, 'the scenario is empty (it needs steps)');
  const f = r.fields(root, 'the scenario', ['name', 'description', 'boot', 'steps']);
  const steps = r.seq(f.need('steps'), 'steps').map((s, i) => parseStep(r, s, i + 1));
  if (steps.length === 0) r.fail(f.get('steps'), 'steps is empty');
  const name = f.str('name') ?? basename(file).replace(/\.ya?ml$/, '');
  const description = f.str('description');
  return { file, dir, name, ...(description !== undefined ? { description } : {}), boot: parseBoot(r, f.get('boot')), steps };
}

/** Read and parse a scenario file; a missing or unreadable file is a ScenarioError too. */
export function loadScenario(file: string): Scenario {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ScenarioError(file, 1, 1, code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : `cannot read it (${code ?? (e as Error).message})`);
  }
  return parseScenario(text, file);
}
