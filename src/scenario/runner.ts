// The scenario runner: boots the host a scenario describes (kernel, host devices, the NIC with its
// firmware) and runs the steps in order, the way a user would at a shell — objects through the libbpf
// loader, attachments through IFLA_XDP, map operations through bpf() (the asynchronous commands, which
// wait for the NIC's firmware on offloaded maps), frames into a device's receive path, and the emulated
// bpftool and ip. Each step yields a StepResult (what happened, in a few lines, and its data); the first
// step that fails (an error it did not expect, an expectation that does not hold) ends the run. The
// host is shut down whatever happens.
//
// The tools are injected (ScenarioTools) so that this layer does not depend on the CLI above it.

import { readFileSync, writeFileSync } from 'node:fs';
import { basename, relative } from 'node:path';
import { BpfError, isBpfError, strerror, type ErrnoName } from '../bpf/errno.js';
import { BTF_KIND_DATASEC } from '../bpf/btf.js';
import { loadObject, type BpfObject } from '../bpf/object.js';
import { BPF_MAP_TYPE } from '../bpf/prog-types.js';
import { createHost, type Host } from '../host.js';
import {
  XDP_FLAGS_DRV_MODE, XDP_FLAGS_HW_MODE, XDP_FLAGS_SKB_MODE, XDP_FLAGS_UPDATE_IF_NOEXIST, rtnl_setlink_xdp,
} from '../kernel/net/dev-xdp.js';
import { NetlinkExtAck } from '../kernel/net/extack.js';
import type { NetDevice } from '../kernel/net/netdev.js';
import { dev_change_flags_up, host_netdev_register, netdev_rx, netif_receive, type NetdevHwStats, type RxReport } from '../kernel/net/rx.js';
import type { BpfSyscall } from '../kernel/syscall.js';
import type { Kernel } from '../kernel/kernel.js';
import { ProgLoadError, loadObjectIntoKernelAsync, type LoadedObject } from '../libbpf/object.js';
import { startNicDatapath, type NicDatapath } from './nic.js';
import { hexBytes } from './packet.js';
import { writePcap } from './pcap.js';
import {
  STAT_FIELDS, ValueSizeError, valueBytes, type AttachStep, type CaptureStep, type DetachStep, type DmesgStep, type ExpectStep, type LoadStep, type MapRef,
  type MapStep, type Scenario, type SendStep, type SinkExpect, type Step, type TextExpect, type TogetherStep, type ToolStep, type ValueSpec, type XdpModeName,
} from './schema.js';

/** The emulated tools a scenario can run (cli/bpftool and cli/ip give them). */
export interface ToolIo {
  readonly kernel: Kernel;
  readonly sys: BpfSyscall;
  readonly stdout: { write(s: string): unknown };
  readonly stderr: { write(s: string): unknown };
  readonly cwd: string;
}

export interface ScenarioTools {
  bpftool(argv: readonly string[], io: ToolIo): Promise<number>;
  ip(argv: readonly string[], io: ToolIo): Promise<number>;
}

export interface RunOptions {
  /** Overrides the scenario's boot.firmware (the CLI's --firmware). */
  readonly firmware?: string;
  /** Where the NIC's firmware runs (default: worker threads). */
  readonly firmwareMode?: 'worker' | 'in-process';
  readonly tools?: ScenarioTools;
  /** Called once the host is up (progress output). */
  readonly onBoot?: (h: HostSummary) => void;
  /** Called as each step ends (progress output). */
  readonly onStep?: (r: StepResult) => void;
}

export interface StepResult {
  readonly index: number;
  readonly kind: Step['kind'];
  readonly line: number;
  readonly col: number;
  readonly title: string | undefined;
  readonly ok: boolean;
  /** One line: what the step did. */
  readonly summary: string;
  /** More lines: counts, tool output, mismatches. */
  readonly details: readonly string[];
  /** Why the step failed. */
  readonly error?: string;
  readonly ms: number;
  readonly data?: unknown;
}

export interface DeviceSummary {
  readonly name: string;
  readonly ifindex: number;
  readonly up: boolean;
  readonly mtu: number;
  readonly xdp: { readonly generic: number; readonly drv: number; readonly offload: number };
  readonly stats: Record<string, number>;
  readonly stack: number;
  readonly wire: number;
}

export interface HostSummary {
  readonly cpus: number;
  readonly jit: boolean;
  readonly firmware: string | null;
  readonly nic: { readonly cores: number; readonly clockMhz: number; readonly abi: number; readonly ports: readonly string[]; readonly offload: boolean } | null;
  readonly devices: readonly string[];
}

export interface ScenarioReport {
  readonly name: string;
  readonly file: string;
  readonly description?: string;
  readonly ok: boolean;
  readonly host: HostSummary | null;
  readonly steps: readonly StepResult[];
  /** Steps not run after a failure. */
  readonly skipped: number;
  readonly devices: readonly DeviceSummary[];
  /** A failure outside any step (the host did not boot). */
  readonly error?: string;
  readonly ms: number;
}

/** A step's failure with the lines that explain it. */
class StepFailure extends Error {
  constructor(message: string, readonly details: readonly string[] = []) {
    super(message);
  }
}

interface LoadedProg {
  readonly name: string;
  readonly fd: number;
  readonly id: number;
}

interface SinkMark {
  readonly packets: number;
  readonly kept: number;
}

/** The state of one run: the host and what the steps made. */
class Run {
  readonly progs = new Map<string, LoadedProg>();
  /** Maps of loaded objects by name, newest object first. */
  readonly maps: { name: string; fd: number; obj: string }[] = [];
  readonly objects: LoadedObject[] = [];
  last: { report: RxReport; stack: Map<NetDevice, SinkMark>; wire: Map<NetDevice, SinkMark> } | undefined;

  constructor(readonly sc: Scenario, readonly host: Host, readonly opts: RunOptions) {}

  get k(): Kernel {
    return this.host.kernel;
  }

  get sys(): BpfSyscall {
    return this.host.sys;
  }

  dev(name: string): NetDevice {
    const d = this.k.netdevs.dev_get_by_name(name);
    if (d === undefined) throw new StepFailure(`no device '${name}' (devices: ${[...this.k.netdevs].map((x) => x.name).join(', ')})`);
    return d;
  }

  rel(p: string): string {
    const r = relative(this.sc.dir, p);
    return r.startsWith('..') ? p : r;
  }
}

/** Lines of a tool's output the text report shows. */
const TOOL_LINES = 40;

const MODE_FLAGS: Readonly<Record<XdpModeName, number>> = { auto: 0, generic: XDP_FLAGS_SKB_MODE, drv: XDP_FLAGS_DRV_MODE, offload: XDP_FLAGS_HW_MODE };

const PERCPU_TYPES = new Set<number>([BPF_MAP_TYPE.PERCPU_ARRAY, BPF_MAP_TYPE.PERCPU_HASH, BPF_MAP_TYPE.LRU_PERCPU_HASH]);

// ------------------------------------------------------------------ boot

async function boot(sc: Scenario, opts: RunOptions): Promise<{ host: Host; nic: NicDatapath | undefined; summary: HostSummary }> {
  const b = sc.boot;
  const firmware = opts.firmware ?? b.firmware;
  const host = await createHost({
    ...(firmware !== null ? { firmware } : { nic: false }),
    ...(opts.firmwareMode !== undefined ? { firmwareMode: opts.firmwareMode } : {}),
    kernel: { cpus: b.cpus, jit: b.jit },
  });
  try {
    const k = host.kernel;
    if (b.cores !== undefined && host.image !== undefined && b.cores !== host.image.datapath.cores) {
      throw new BpfError('EINVAL', `the scenario wants a NIC with ${b.cores} cores; firmware ${host.image.name} has ${host.image.datapath.cores}`);
    }
    const ports = host.nfp?.ports.map((p) => p.netdev) ?? [];
    if (b.up) for (const p of ports) dev_change_flags_up(p, true);
    for (const d of b.devices) {
      host_netdev_register(k, { name: d.name, up: d.up, ...(d.mac !== undefined ? { mac: d.mac } : {}), ...(d.mtu !== undefined ? { mtu: d.mtu } : {}) });
    }
    const nfp = host.nfp;
    const nic = await startNicDatapath(host, { mode: opts.firmwareMode === 'in-process' ? 'in-process' : 'worker' });
    return {
      host, nic,
      summary: {
        cpus: k.cpus.length, jit: k.jitEnabled, firmware: host.image?.name ?? null,
        nic: host.image !== undefined && nfp !== undefined ? {
          cores: b.cores ?? host.image.datapath.cores, clockMhz: host.image.datapath.clockMhz, abi: nfp.bpf?.abi_version ?? 0,
          ports: ports.map((p) => p.name), offload: nfp.ebpfCapable(),
        } : null,
        devices: b.devices.map((d) => d.name),
      },
    };
  } catch (e) {
    await host.shutdown();
    throw e;
  }
}

// ------------------------------------------------------------------ steps

function modeName(m: XdpModeName): string {
  return m === 'auto' ? 'the driver\'s default mode' : m;
}

async function doLoad(run: Run, s: LoadStep): Promise<{ summary: string; details: string[] }> {
  let obj: BpfObject;
  try {
    obj = loadObject(new Uint8Array(readFileSync(s.object)), s.object);
  } catch (e) {
    if (!isBpfError(e)) throw e;
    throw new BpfError(e.errno, `${run.rel(s.object)}: ${e.message}`);
  }
  let only: string[];
  if (s.program !== undefined) {
    if (!obj.programs.some((p) => p.name === s.program)) {
      throw new StepFailure(`${run.rel(s.object)} has no program '${s.program}' (it has: ${obj.programs.map((p) => p.name).join(', ')})`);
    }
    only = [s.program];
  } else if (s.section !== undefined) {
    only = obj.programs.filter((p) => p.section === s.section).map((p) => p.name);
    if (only.length === 0) throw new StepFailure(`${run.rel(s.object)} has no section '${s.section}' (it has: ${[...new Set(obj.programs.map((p) => p.section))].join(', ')})`);
  } else {
    const first = obj.programs.find((p) => p.autoload) ?? obj.programs[0];
    if (first === undefined) throw new StepFailure(`${run.rel(s.object)} has no programs`);
    only = [first.name];
  }
  if (s.globals !== undefined) obj = setGlobals(run, obj, s.globals, run.rel(s.object));
  const ifindex = s.offload !== undefined ? run.dev(s.offload).ifindex : undefined;
  const loaded = await loadObjectIntoKernelAsync(run.sys, obj, { only, ...(ifindex !== undefined ? { ifindex } : {}) });
  run.objects.push(loaded);
  for (const m of loaded.maps) run.maps.unshift({ name: m.spec.name, fd: m.fd, obj: basename(s.object) });
  const details: string[] = [];
  const names: string[] = [];
  for (const p of loaded.programs) {
    const info = run.sys.progInfo(p.fd);
    const name = loaded.programs.length === 1 && s.as !== undefined ? s.as : p.spec.name;
    run.progs.set(name, { name, fd: p.fd, id: info.id });
    names.push(name);
    const where = info.ifindex !== 0
      ? `offloaded to ${s.offload}: ${info.jited_prog_len} bytes of NFP code`
      : info.jited_prog_len !== 0 ? 'host JIT' : 'host interpreter';
    details.push(`prog ${p.spec.name} id ${info.id}: ${info.xlated_prog_len / 8} insns xlated, ${info.verified_insns} processed by the verifier, ${where}`);
    if (s.pin !== undefined) {
      run.sys.objPin(p.fd, loaded.programs.length === 1 ? s.pin : `${s.pin}/${p.spec.name}`);
      details.push(`pinned at ${loaded.programs.length === 1 ? s.pin : `${s.pin}/${p.spec.name}`}`);
    }
  }
  for (const m of loaded.maps) {
    const info = run.sys.mapInfo(m.fd);
    details.push(`map ${m.spec.name} id ${info.id}: ${BPF_MAP_TYPE_NAME(info.type)} key ${info.key_size}B value ${info.value_size}B max ${info.max_entries}${info.ifindex !== 0 ? ` on ${s.offload}` : ''}`);
  }
  return { summary: `${basename(s.object)}: ${names.join(', ')}${s.offload !== undefined ? ` for ${s.offload}` : ''}`, details };
}

/**
 * Set .data / .rodata variables before the load, as a libbpf skeleton does between open and load: the
 * variable's offset and size come from the section's BTF DATASEC.
 */
function setGlobals(run: Run, obj: BpfObject, globals: Readonly<Record<string, ValueSpec>>, file: string): BpfObject {
  const btf = obj.btf;
  if (btf === undefined) throw new StepFailure(`${file} has no BTF: its global variables cannot be found by name`);
  const maps = obj.maps.map((m) => ({ spec: m, data: m.initialData !== undefined ? Uint8Array.from(m.initialData) : undefined }));
  for (const [name, value] of Object.entries(globals)) {
    let done = false;
    for (const m of maps) {
      if (m.data === undefined || (m.spec.libbpfType !== 'data' && m.spec.libbpfType !== 'rodata')) continue;
      const sec = btf.types.find((t) => t.kind === BTF_KIND_DATASEC && t.name === m.spec.realName);
      if (sec === undefined || sec.kind !== BTF_KIND_DATASEC) continue;
      const v = sec.vars.find((x) => btf.type(x.type).name === name);
      if (v === undefined) continue;
      m.data.set(bytesFor(run, value, v.size, `load.globals.${name}`), v.offset);
      done = true;
    }
    if (!done) {
      const known = maps.flatMap((m) => {
        const sec = btf.types.find((t) => t.kind === BTF_KIND_DATASEC && t.name === m.spec.realName);
        return sec !== undefined && sec.kind === BTF_KIND_DATASEC && (m.spec.libbpfType === 'data' || m.spec.libbpfType === 'rodata') ? sec.vars.map((x) => btf.type(x.type).name) : [];
      });
      throw new StepFailure(`${file} has no .data or .rodata variable '${name}'${known.length > 0 ? ` (it has: ${known.join(', ')})` : ''}`);
    }
  }
  return { ...obj, maps: maps.map((m) => (m.data !== undefined && m.data !== m.spec.initialData ? { ...m.spec, initialData: m.data } : m.spec)) };
}

function BPF_MAP_TYPE_NAME(t: number): string {
  const e = Object.entries(BPF_MAP_TYPE).find(([, v]) => v === t);
  return e !== undefined ? e[0].toLowerCase() : `type ${t}`;
}

/** Send IFLA_XDP; an extack becomes the step's error as iproute2 would print it. */
async function setXdp(run: Run, dev: NetDevice, fd: number, flags: number): Promise<void> {
  const extack = new NetlinkExtAck();
  try {
    await rtnl_setlink_xdp(run.k, dev, { fd, flags }, extack);
  } catch (e) {
    if (!isBpfError(e)) throw e;
    throw new BpfError(e.errno, extack._msg !== undefined ? `Error: ${extack._msg}` : `RTNETLINK answers: ${strerror(e.errno)}`, { cause: e });
  }
}

async function doAttach(run: Run, s: AttachStep): Promise<string> {
  const dev = run.dev(s.dev);
  let fd: number;
  let close = false;
  let what: string;
  if (s.prog !== undefined) {
    const p = run.progs.get(s.prog);
    if (p === undefined) throw new StepFailure(`no program '${s.prog}' was loaded (loaded: ${[...run.progs.keys()].join(', ') || 'none'})`);
    fd = p.fd;
    what = `${s.prog} (id ${p.id})`;
  } else {
    fd = run.sys.objGet(s.pinned!);
    close = true;
    what = s.pinned!;
  }
  try {
    await setXdp(run, dev, fd, MODE_FLAGS[s.mode] | (s.force ? 0 : XDP_FLAGS_UPDATE_IF_NOEXIST));
  } finally {
    if (close) run.sys.close(fd);
  }
  return `${what} -> ${s.dev} in ${modeName(s.mode)}`;
}

async function doDetach(run: Run, s: DetachStep): Promise<string> {
  await setXdp(run, run.dev(s.dev), -1, MODE_FLAGS[s.mode]);
  return `${s.dev} (${modeName(s.mode)})`;
}

interface MapHandle {
  readonly fd: number;
  readonly close: boolean;
  readonly label: string;
  readonly keySize: number;
  readonly valueSize: number;
  readonly percpu: boolean;
  readonly offloaded: boolean;
}

function openMap(run: Run, ref: MapRef): MapHandle {
  let fd: number;
  let close = false;
  let label: string;
  if ('name' in ref) {
    const m = run.maps.find((x) => x.name === ref.name);
    if (m === undefined) throw new StepFailure(`no map '${ref.name}' in the loaded objects (maps: ${[...new Set(run.maps.map((x) => x.name))].join(', ') || 'none'})`);
    fd = m.fd;
    label = ref.name;
  } else if ('pinned' in ref) {
    fd = run.sys.objGet(ref.pinned);
    close = true;
    label = ref.pinned;
  } else {
    fd = run.sys.mapGetFdById(ref.id);
    close = true;
    label = `id ${ref.id}`;
  }
  const info = run.sys.mapInfo(fd);
  return { fd, close, label, keySize: info.key_size, valueSize: info.value_size, percpu: PERCPU_TYPES.has(info.type), offloaded: info.ifindex !== 0 };
}

function closeMap(run: Run, m: MapHandle): void {
  if (m.close) run.sys.close(m.fd);
}

/** A key or value's bytes, with device names turned into their ifindex. */
function bytesFor(run: Run, spec: ValueSpec, size: number, what: string): Uint8Array {
  return valueBytes(spec.kind === 'ifindex' ? { kind: 'int', value: BigInt(run.dev(spec.dev).ifindex) } : spec, size, what);
}

/** The keys a key spec stands for. */
function keysOf(run: Run, spec: ValueSpec, size: number, what: string): Uint8Array[] {
  if (spec.kind !== 'range') return [bytesFor(run, spec, size, what)];
  const out: Uint8Array[] = [];
  for (let v = spec.from; v <= spec.to; v++) out.push(valueBytes({ kind: 'int', value: BigInt(v) }, size, what));
  return out;
}

/** A per-CPU lookup's values summed (as u64 words when the value is a multiple of 8 bytes, else u32). */
function percpuSum(raw: Uint8Array, valueSize: number, ncpus: number): Uint8Array {
  const stride = Math.ceil(valueSize / 8) * 8;
  const word = valueSize % 8 === 0 ? 8 : 4;
  const out = new Uint8Array(valueSize);
  const dv = new DataView(out.buffer);
  const src = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  for (let off = 0; off + word <= valueSize; off += word) {
    let s = 0n;
    for (let c = 0; c < ncpus; c++) s += word === 8 ? src.getBigUint64(c * stride + off, true) : BigInt(src.getUint32(c * stride + off, true));
    if (word === 8) dv.setBigUint64(off, BigInt.asUintN(64, s), true);
    else dv.setUint32(off, Number(BigInt.asUintN(32, s)), true);
  }
  return out;
}

/** Run `n` operations with at most `parallel` in flight. */
async function pool(n: number, parallel: number, op: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) await op(next++);
  };
  await Promise.all(Array.from({ length: Math.min(parallel, n) }, worker));
}

async function lookupValue(run: Run, m: MapHandle, key: Uint8Array): Promise<Uint8Array | null> {
  try {
    const raw = await run.sys.mapLookupAsync({ map_fd: m.fd, key });
    return m.percpu ? percpuSum(raw, m.valueSize, run.k.cpus.length) : raw;
  } catch (e) {
    if (isBpfError(e, 'ENOENT')) return null;
    throw e;
  }
}

async function mapKeys(run: Run, m: MapHandle): Promise<Uint8Array[]> {
  const keys: Uint8Array[] = [];
  let key: Uint8Array | null = null;
  for (;;) {
    try {
      key = await run.sys.mapGetNextKeyAsync({ map_fd: m.fd, key });
    } catch (e) {
      if (isBpfError(e, 'ENOENT')) break;
      throw e;
    }
    keys.push(key);
    if (keys.length > 1 << 20) throw new StepFailure(`map ${m.label}: more than ${1 << 20} keys`);
  }
  return keys;
}

async function doMap(run: Run, s: MapStep): Promise<{ summary: string; details: string[] }> {
  const m = openMap(run, s.map);
  try {
    const where = m.offloaded ? ' (offloaded: control messages to the NIC)' : '';
    if (s.op === 'dump') {
      const keys = await mapKeys(run, m);
      const details: string[] = [];
      for (const key of keys.slice(0, 16)) {
        const v = await lookupValue(run, m, key);
        details.push(`key: ${hexBytes(key)}  value${m.percpu ? ' (sum over CPUs)' : ''}: ${v === null ? '<gone>' : hexBytes(v, 32)}`);
      }
      if (keys.length > 16) details.push(`... ${keys.length - 16} more`);
      return { summary: `dump ${m.label}${where}: ${keys.length} element${keys.length === 1 ? '' : 's'}`, details };
    }
    const keys = keysOf(run, s.key!, m.keySize, 'map.key');
    const value = s.value !== undefined ? bytesFor(run, s.value, m.valueSize, 'map.value') : undefined;
    const total = keys.length * s.repeat;
    const t0 = process.hrtime.bigint();
    let found: Uint8Array | null | undefined;
    await pool(total, s.parallel, async (i) => {
      const key = keys[i % keys.length]!;
      if (s.op === 'update') await run.sys.mapUpdateAsync({ map_fd: m.fd, key, value: value!, flags: s.flags });
      else if (s.op === 'delete') await run.sys.mapDeleteAsync({ map_fd: m.fd, key });
      else {
        const v = await lookupValue(run, m, key);
        if (v === null) throw new BpfError('ENOENT', `map ${m.label}: no element with key ${hexBytes(key)}`);
        found = v;
      }
    });
    const ns = Number(process.hrtime.bigint() - t0);
    const details: string[] = [];
    if (total > 1) details.push(`${total} operations (${s.parallel} in flight) in ${(ns / 1e6).toFixed(1)} ms: ${fmtRate(total, ns)} ops/s`);
    if (s.op === 'lookup' && found !== undefined && found !== null) {
      details.push(`value${m.percpu ? ' (sum over CPUs)' : ''}: ${hexBytes(found, 64)}`);
      if (s.expectValue !== undefined) {
        const want = bytesFor(run, s.expectValue, m.valueSize, 'map.value');
        if (!bytesEqual(found, want)) throw new StepFailure(`map ${m.label}: the value is ${hexBytes(found)}, expected ${hexBytes(want)}`);
      }
    }
    const keyText = keys.length === 1 ? `key ${hexBytes(keys[0]!)}` : `${keys.length} keys`;
    return { summary: `${s.op} ${m.label} ${keyText}${value !== undefined ? ` value ${hexBytes(value, 16)}` : ''}${where}`, details };
  } finally {
    closeMap(run, m);
  }
}

function fmtRate(n: number, ns: number): string {
  if (ns <= 0) return '-';
  const r = (n * 1e9) / ns;
  return r >= 1e6 ? `${(r / 1e6).toFixed(2)} M` : r >= 1e3 ? `${(r / 1e3).toFixed(1)} k` : r.toFixed(0);
}

function marks(run: Run, which: 'stack' | 'wire'): Map<NetDevice, SinkMark> {
  const out = new Map<NetDevice, SinkMark>();
  for (const d of run.k.netdevs) {
    const sink = netdev_rx(d)[which];
    out.set(d, { packets: sink.packets, kept: sink.frames.length });
  }
  return out;
}

function fatesLine(f: RxReport['fates']): string {
  return Object.entries(f).filter(([, v]) => v !== 0).map(([k, v]) => `${k} ${v}`).join(', ') || 'none';
}

/** What the NIC's cores did between two snapshots of their counters. */
export interface NicRun {
  readonly packets: number;
  readonly coresUsed: number;
  readonly cores: number;
  readonly cyclesPerPacket: number;
  /** Every core of the card busy at that many cycles per packet, at the firmware's clock. */
  readonly modeledPps: number;
  readonly perCore: readonly { readonly core: number; readonly packets: number; readonly cycles: number }[];
}

function nicDelta(before: NetdevHwStats, after: NetdevHwStats): NicRun {
  const perCore = after.perCore.map((c, i) => ({ core: c.core, packets: c.packets - (before.perCore[i]?.packets ?? 0), cycles: c.cycles - (before.perCore[i]?.cycles ?? 0) }));
  const packets = perCore.reduce((n, c) => n + c.packets, 0);
  const cycles = perCore.reduce((n, c) => n + c.cycles, 0);
  const cpp = packets > 0 ? cycles / packets : 0;
  return {
    packets, coresUsed: perCore.filter((c) => c.packets > 0).length, cores: perCore.length, cyclesPerPacket: cpp,
    modeledPps: cpp > 0 ? (perCore.length * after.clockMhz * 1e6) / cpp : 0, perCore,
  };
}

async function doSend(run: Run, s: SendStep): Promise<{ summary: string; details: string[]; data: RxReport & { nic?: NicRun } }> {
  const dev = run.dev(s.dev);
  const stack = marks(run, 'stack');
  const wire = marks(run, 'wire');
  const hw = netdev_rx(dev).hw;
  const nicBefore = hw?.hw_stats?.();
  const rep = await netif_receive(run.k, dev, s.frames, { repeat: s.count });
  run.last = { report: rep, stack, wire };
  const nicAfter = hw?.hw_stats?.();
  const nic = nicBefore !== undefined && nicAfter !== undefined ? nicDelta(nicBefore, nicAfter) : undefined;
  const details = [`fates: ${fatesLine(rep.fates)}`];
  for (const [where, v] of Object.entries(rep.verdicts)) {
    const what = where === 'offload' ? 'NIC (offloaded XDP)' : where === 'drv' ? 'native XDP on the host' : 'generic XDP on the host';
    details.push(`${what}: ${Object.entries(v).filter(([, n]) => n !== 0).map(([k, n]) => `${k.toUpperCase()} ${n}`).join(', ') || 'nothing'}`);
  }
  if (rep.cpu_frames.some((n) => n !== 0)) details.push(`host CPUs: ${rep.cpu_frames.map((n, i) => `cpu${i} ${n}`).join(', ')}`);
  for (const [which, m] of [['stack', stack], ['wire', wire]] as const) {
    for (const [d, before] of m) {
      const n = netdev_rx(d)[which].packets - before.packets;
      if (n !== 0) details.push(`${d.name}: ${n} frame${n === 1 ? '' : 's'} ${which === 'stack' ? 'to the stack' : 'sent out'}`);
    }
  }
  if (nic !== undefined && nic.packets > 0) {
    const busiest = nic.perCore.reduce((a, b) => (b.packets > a.packets ? b : a));
    details.push(`NIC: ${nic.packets} packets on ${nic.coresUsed} of ${nic.cores} cores (busiest: core ${busiest.core}, ${busiest.packets}), ${nic.cyclesPerPacket.toFixed(1)} cycles/packet`);
    details.push(`NIC modeled rate: ${fmtRate(nic.modeledPps, 1e9)} packets/s with all ${nic.cores} cores busy`);
  }
  details.push(`emulator: ${(rep.ns / 1e6).toFixed(1)} ms, ${fmtRate(rep.frames, rep.ns)} packets/s`);
  const mult = s.count > 1 ? ` x ${s.count}` : '';
  return { summary: `${s.source}${mult} (${rep.frames} frames, ${rep.bytes} bytes) to ${s.dev}`, details, data: { ...rep, ...(nic !== undefined ? { nic } : {}) } };
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function checkSink(run: Run, which: 'stack' | 'wire', e: SinkExpect, bad: string[]): string {
  const dev = run.dev(e.dev);
  const sink = netdev_rx(dev)[which];
  const mark = run.last?.[which].get(dev) ?? { packets: 0, kept: 0 };
  const n = sink.packets - mark.packets;
  const frames = sink.frames.slice(mark.kept);
  const where = `${which} of ${e.dev} (line ${e.at.line})`;
  if (e.count !== undefined && n !== e.count) bad.push(`${where}: ${n} frames, expected ${e.count}`);
  const want = e.packets ?? (e.each !== undefined ? undefined : null);
  if (want !== undefined && want !== null) {
    if (frames.length < n && want.length > frames.length) bad.push(`${where}: only the first ${frames.length} of ${n} frames are kept`);
    else if (frames.length !== want.length) bad.push(`${where}: ${frames.length} frames, expected ${want.length}`);
    else {
      const i = frames.findIndex((f, k) => !bytesEqual(f, want[k]!));
      if (i >= 0) bad.push(`${where}: frame ${i + 1} differs\n      got:      ${hexBytes(frames[i]!, 64)}\n      expected: ${hexBytes(want[i]!, 64)}`);
    }
  }
  if (e.each !== undefined) {
    const i = frames.findIndex((f) => !bytesEqual(f, e.each!));
    if (i >= 0) bad.push(`${where}: frame ${i + 1} differs\n      got:      ${hexBytes(frames[i]!, 64)}\n      expected: ${hexBytes(e.each, 64)}`);
  }
  return `${which} ${e.dev}: ${n} frame${n === 1 ? '' : 's'}`;
}

async function doExpect(run: Run, s: ExpectStep): Promise<{ summary: string; details: string[] }> {
  const bad: string[] = [];
  const said: string[] = [];
  const needSend = (): RxReport => {
    if (run.last === undefined) throw new StepFailure('verdicts and frames are checked after a send step; none ran yet');
    return run.last.report;
  };
  if (s.verdicts !== undefined) {
    const f = needSend().fates;
    for (const [k, want] of Object.entries(s.verdicts)) {
      const got = f[k as keyof typeof f];
      if (got !== want) bad.push(`verdicts: ${k} ${got}, expected ${want}`);
    }
    said.push(`verdicts ${Object.entries(s.verdicts).map(([k, v]) => `${k}=${v}`).join(' ')}`);
  }
  if (s.xdp !== undefined) {
    const rep = needSend();
    for (const [where, counts] of Object.entries(s.xdp)) {
      const got = rep.verdicts[where as keyof RxReport['verdicts']];
      for (const [k, want] of Object.entries(counts ?? {})) {
        const n = got?.[k as keyof NonNullable<typeof got>] ?? 0;
        if (n !== want) bad.push(`xdp.${where}: ${k} ${n}, expected ${want}${got === undefined ? ` (no program ran in ${where} mode)` : ''}`);
      }
      said.push(`${where} XDP ${Object.entries(counts ?? {}).map(([k, v]) => `${k}=${v}`).join(' ')}`);
    }
  }
  if (s.stats !== undefined) {
    for (const [name, want] of Object.entries(s.stats)) {
      const st = netdev_rx(run.dev(name)).stats;
      for (const [k, v] of Object.entries(want)) {
        const got = st[k as (typeof STAT_FIELDS)[number]];
        if (got !== v) bad.push(`stats of ${name}: ${k} ${got}, expected ${v}`);
      }
      said.push(`${name} counters`);
    }
  }
  if (s.stack !== undefined || s.wire !== undefined) needSend();
  for (const e of s.stack ?? []) said.push(checkSink(run, 'stack', e, bad));
  for (const e of s.wire ?? []) said.push(checkSink(run, 'wire', e, bad));
  for (const e of s.map ?? []) {
    const m = openMap(run, e.map);
    try {
      if (e.key !== undefined) {
        const key = bytesFor(run, e.key, m.keySize, 'expect.map.key');
        const v = await lookupValue(run, m, key);
        if (e.missing === true && v !== null) bad.push(`map ${m.label} (line ${e.at.line}): key ${hexBytes(key)} has value ${hexBytes(v, 32)}, expected no element`);
        if (e.missing === false && v === null) bad.push(`map ${m.label} (line ${e.at.line}): no element with key ${hexBytes(key)}`);
        if (e.value !== undefined) {
          const want = bytesFor(run, e.value, m.valueSize, 'expect.map.value');
          if (v === null) bad.push(`map ${m.label} (line ${e.at.line}): no element with key ${hexBytes(key)}, expected ${hexBytes(want)}`);
          else if (!bytesEqual(v, want)) bad.push(`map ${m.label} (line ${e.at.line}): key ${hexBytes(key)} has ${hexBytes(v)}${m.percpu ? ' (sum over CPUs)' : ''}, expected ${hexBytes(want)}`);
        }
        said.push(`map ${m.label}[${hexBytes(key)}]`);
      }
      if (e.entries !== undefined) {
        const n = (await mapKeys(run, m)).length;
        if (n !== e.entries) bad.push(`map ${m.label} (line ${e.at.line}): ${n} elements, expected ${e.entries}`);
        said.push(`map ${m.label}: ${e.entries} elements`);
      }
    } finally {
      closeMap(run, m);
    }
  }
  if (bad.length > 0) throw new StepFailure(`${bad.length} expectation${bad.length === 1 ? '' : 's'} not met`, bad);
  return { summary: said.join('; '), details: [] };
}

function checkText(which: string, text: string, e: TextExpect | undefined, bad: string[]): void {
  if (e === undefined) return;
  if (e.equals !== undefined && text !== e.equals) bad.push(`${which} is not exactly the expected text`);
  for (const c of e.contains ?? []) if (!text.includes(c)) bad.push(`${which} does not contain ${JSON.stringify(c)}`);
  if (e.matches !== undefined && !e.matches.test(text)) bad.push(`${which} does not match /${e.matches.source}/`);
}

async function doTool(run: Run, s: ToolStep): Promise<{ summary: string; details: string[]; data: { rc: number; stdout: string; stderr: string } }> {
  const tool = run.opts.tools?.[s.kind];
  if (tool === undefined) throw new StepFailure(`the ${s.kind} tool is not available to this runner`);
  let stdout = '';
  let stderr = '';
  const rc = await tool(s.args, {
    kernel: run.k, sys: run.sys, cwd: run.sc.dir,
    stdout: { write: (t: string) => { stdout += t; } },
    stderr: { write: (t: string) => { stderr += t; } },
  });
  const all = [...stdout.split('\n'), ...stderr.split('\n').map((l) => (l === '' ? l : `(stderr) ${l}`))].filter((l) => l !== '');
  // The report shows the start of a long output; --json has all of it.
  const details = all.length > TOOL_LINES ? [...all.slice(0, TOOL_LINES), `... ${all.length - TOOL_LINES} more lines`] : all;
  const summary = `${s.kind} ${s.args.join(' ')}${rc !== 0 ? ` (exit ${rc})` : ''}`;
  const bad: string[] = [];
  const wantRc = s.rc ?? (s.fails !== undefined ? undefined : 0);
  if (wantRc !== undefined && rc !== wantRc) bad.push(`exit status ${rc}, expected ${wantRc}`);
  if (s.fails !== undefined) {
    if (rc === 0) bad.push('exit status 0, expected a failure');
    if (s.fails.contains !== undefined && !stderr.includes(s.fails.contains) && !stdout.includes(s.fails.contains)) bad.push(`the output does not contain ${JSON.stringify(s.fails.contains)}`);
  }
  checkText('stdout', stdout, s.stdout, bad);
  checkText('stderr', stderr, s.stderr, bad);
  if (bad.length > 0) throw new StepFailure(bad.join('; '), details);
  return { summary, details, data: { rc, stdout, stderr } };
}

function doDmesg(run: Run, s: DmesgStep): { summary: string; details: string[] } {
  const lines = run.host.dmesg.lines.map((l) => l.msg).filter((m) => s.grep === undefined || m.includes(s.grep));
  const bad: string[] = [];
  checkText('the kernel log', lines.map((l) => `${l}\n`).join(''), s.expect, bad);
  const details = lines.length > TOOL_LINES ? [...lines.slice(-TOOL_LINES)] : lines;
  if (bad.length > 0) throw new StepFailure(bad.join('; '), details);
  return { summary: `${lines.length} line${lines.length === 1 ? '' : 's'}${s.grep !== undefined ? ` with '${s.grep}'` : ''}`, details };
}

function doCapture(run: Run, s: CaptureStep): string {
  const sink = netdev_rx(run.dev(s.dev))[s.sink];
  try {
    writeFileSync(s.pcap, writePcap(sink.frames));
  } catch (e) {
    throw new StepFailure(`cannot write ${s.pcap}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const cut = sink.packets > sink.frames.length ? ` (the first ${sink.frames.length} of ${sink.packets})` : '';
  return `${sink.frames.length} frames${cut} from the ${s.sink} of ${s.dev} to ${run.rel(s.pcap)}`;
}

export function deviceSummaries(k: Kernel): DeviceSummary[] {
  return [...k.netdevs].map((d) => {
    const r = netdev_rx(d);
    const stats: Record<string, number> = {};
    for (const f of STAT_FIELDS) if (r.stats[f] !== 0) stats[f] = r.stats[f];
    return {
      name: d.name, ifindex: d.ifindex, up: r.up, mtu: d.mtu,
      xdp: { generic: r.xdp[0].rx_xdp_packets, drv: r.xdp[1].rx_xdp_packets, offload: r.xdp[2].rx_xdp_packets },
      stats, stack: r.stack.packets, wire: r.wire.packets,
    };
  });
}

function deviceLines(k: Kernel): string[] {
  return deviceSummaries(k).map((d) => {
    const parts = [`${d.name}${d.up ? '' : ' (down)'}:`, `rx ${d.stats['rx_packets'] ?? 0}`, `tx ${d.stats['tx_packets'] ?? 0}`];
    if (d.stats['rx_dropped']) parts.push(`dropped ${d.stats['rx_dropped']}`);
    if (d.stats['rx_errors']) parts.push(`rx errors ${d.stats['rx_errors']}`);
    parts.push(`to stack ${d.stack}`);
    const x = Object.entries(d.xdp).filter(([, n]) => n !== 0).map(([m, n]) => `${m} ${n}`);
    if (x.length > 0) parts.push(`XDP runs: ${x.join(', ')}`);
    return parts.join(', ').replace(':,', ':');
  });
}

/** Run one step: its result, given `fails`. */
async function runStep(run: Run, s: Step): Promise<StepResult> {
  if (s.kind === 'together') return runTogether(run, s);
  const t0 = performance.now();
  const base = { index: s.index, kind: s.kind, line: s.at.line, col: s.at.col, title: s.title };
  let summary = '';
  let details: string[] = [];
  let data: unknown;
  let err: unknown;
  try {
    switch (s.kind) {
      case 'load': ({ summary, details } = await doLoad(run, s)); break;
      case 'attach': summary = await doAttach(run, s); break;
      case 'detach': summary = await doDetach(run, s); break;
      case 'map': ({ summary, details } = await doMap(run, s)); break;
      case 'send': ({ summary, details, data } = await doSend(run, s)); break;
      case 'expect': ({ summary, details } = await doExpect(run, s)); break;
      case 'bpftool':
      case 'ip': ({ summary, details, data } = await doTool(run, s)); break;
      case 'capture': summary = doCapture(run, s); break;
      case 'dmesg': ({ summary, details } = doDmesg(run, s)); break;
      case 'report': summary = 'devices so far'; details = deviceLines(run.k); break;
    }
  } catch (e) {
    err = e;
  }
  const ms = performance.now() - t0;
  const done = (ok: boolean, extra: Partial<StepResult> = {}): StepResult => ({ ...base, ok, summary, details, ms, ...(data !== undefined ? { data } : {}), ...extra });
  if (s.kind === 'bpftool' || s.kind === 'ip') {
    if (err === undefined) return done(true, s.fails !== undefined ? { summary: `${summary} — failed as expected` } : {});
  }
  if (err === undefined) {
    if (s.fails !== undefined) return done(false, { error: 'the step succeeded, but it was expected to fail' });
    return done(true);
  }
  // Anything else is a bug of the emulator: the run stops here and says so, with where it broke.
  if (!(err instanceof StepFailure) && !isBpfError(err) && !(err instanceof ValueSizeError)) {
    const e = err instanceof Error ? err : new Error(String(err));
    const stack = (e.stack ?? '').split('\n').slice(1, 9).map((l) => l.trim());
    return { ...base, ok: false, summary: summary || describe(s), details: stack, error: `emulator bug: ${e.message}`, ms: performance.now() - t0 };
  }
  const e = err as Error;
  const log = err instanceof ProgLoadError ? err.log : '';
  const message = err instanceof ProgLoadError ? `BPF program load of '${err.prog}' failed: ${strerror(err.errno)} (${err.message})` : e.message;
  const logLines = log.split('\n').filter((l) => l !== '');
  if (s.fails !== undefined && !(err instanceof StepFailure && s.kind === 'expect')) {
    const errno: ErrnoName | undefined = isBpfError(err) ? err.errno : undefined;
    const problems: string[] = [];
    if (s.fails.errno !== undefined && errno !== s.fails.errno) problems.push(`errno ${errno ?? 'none'}, expected ${s.fails.errno}`);
    if (s.fails.contains !== undefined && !message.includes(s.fails.contains) && !log.includes(s.fails.contains)) problems.push(`the error does not mention ${JSON.stringify(s.fails.contains)}`);
    const tail = logLines.slice(-4).map((l) => `verifier: ${l}`);
    if (problems.length === 0) {
      return { ...base, ok: true, summary: `${summary || describe(s)} — failed as expected: ${message}`, details: tail, ms };
    }
    return { ...base, ok: false, summary: summary || describe(s), details: [...tail, ...(err instanceof StepFailure ? err.details : [])], error: `${message} (${problems.join('; ')})`, ms };
  }
  const more = err instanceof StepFailure ? [...details, ...err.details] : [...details, ...logLines.slice(-12).map((l) => `verifier: ${l}`)];
  return { ...base, ok: false, summary: summary || describe(s), details: more, error: message, ms };
}

/** Sub-steps started together; the step passes when all of them do. */
async function runTogether(run: Run, s: TogetherStep): Promise<StepResult> {
  const t0 = performance.now();
  const rs = await Promise.all(s.steps.map((sub) => runStep(run, sub)));
  const details: string[] = [];
  for (const r of rs) {
    details.push(`${r.ok ? 'ok  ' : 'FAIL'} ${r.kind} ${r.summary} (line ${r.line}, ${Math.round(r.ms)} ms)`);
    for (const d of r.details) details.push(`     ${d}`);
    if (r.error !== undefined) details.push(`     error: ${r.error}`);
  }
  const bad = rs.find((r) => !r.ok);
  return {
    index: s.index, kind: s.kind, line: s.at.line, col: s.at.col, title: s.title, ok: bad === undefined,
    summary: `${rs.length} steps at once: ${rs.map((r) => r.kind).join(', ')}`, details, ms: performance.now() - t0,
    ...(bad !== undefined ? { error: `line ${bad.line}: ${bad.error}` } : {}),
    data: rs.map((r) => r.data ?? null),
  };
}

/** A step's one-line description before it ran (for failures). */
function describe(s: Step): string {
  switch (s.kind) {
    case 'load': return `${basename(s.object)}${s.program !== undefined ? ` program ${s.program}` : ''}${s.offload !== undefined ? ` for ${s.offload}` : ''}`;
    case 'attach': return `${s.prog ?? s.pinned} -> ${s.dev} in ${modeName(s.mode)}`;
    case 'detach': return `${s.dev} (${modeName(s.mode)})`;
    case 'map': return `${s.op} ${'name' in s.map ? s.map.name : 'pinned' in s.map ? s.map.pinned : `id ${s.map.id}`}`;
    case 'send': return `${s.source} to ${s.dev}`;
    case 'expect': return 'expectations';
    case 'bpftool':
    case 'ip': return `${s.kind} ${s.args.join(' ')}`;
    case 'capture': return `${s.sink} of ${s.dev}`;
    case 'dmesg': return 'the kernel log';
    case 'together': return `${s.steps.length} steps at once`;
    case 'report': return 'report';
  }
}

/** Boot the scenario's host, run its steps, shut the host down: the report. */
export async function runScenario(sc: Scenario, opts: RunOptions = {}): Promise<ScenarioReport> {
  // Some waits are Atomics.waitAsync on NIC memory, which does not keep Node's event loop alive: a
  // timer does, so that a wait ends (or times out) instead of the process quietly exiting mid-run.
  const keepAlive = setInterval(() => {}, 1 << 30);
  try {
    return await runScenarioAlive(sc, opts);
  } finally {
    clearInterval(keepAlive);
  }
}

async function runScenarioAlive(sc: Scenario, opts: RunOptions): Promise<ScenarioReport> {
  const t0 = performance.now();
  const head = { name: sc.name, file: sc.file, ...(sc.description !== undefined ? { description: sc.description } : {}) };
  let booted: { host: Host; nic: NicDatapath | undefined; summary: HostSummary };
  try {
    booted = await boot(sc, opts);
  } catch (e) {
    if (!isBpfError(e) && !(e instanceof Error && /firmware/i.test(e.message))) throw e;
    return { ...head, ok: false, host: null, steps: [], skipped: sc.steps.length, devices: [], error: `boot: ${(e as Error).message}`, ms: performance.now() - t0 };
  }
  const run = new Run(sc, booted.host, opts);
  opts.onBoot?.(booted.summary);
  const results: StepResult[] = [];
  let ok = true;
  try {
    for (const s of sc.steps) {
      const r = await runStep(run, s);
      results.push(r);
      opts.onStep?.(r);
      if (!r.ok) {
        ok = false;
        break;
      }
    }
    return {
      ...head, ok, host: booted.summary, steps: results, skipped: sc.steps.length - results.length,
      devices: deviceSummaries(run.k), ms: performance.now() - t0,
    };
  } finally {
    for (const o of run.objects) {
      for (const p of o.programs) try { run.sys.close(p.fd); } catch { /* already closed */ }
      for (const m of o.maps) try { run.sys.close(m.fd); } catch { /* already closed */ }
      if (o.btfFd !== undefined) try { run.sys.close(o.btfFd); } catch { /* already closed */ }
    }
    await booted.nic?.stop();
    await booted.host.shutdown();
  }
}
