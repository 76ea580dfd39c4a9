// Test harness for the NFP JIT: load a program for the NIC (offloaded maps, the verifier with the nfp
// device hook, the dead-code rewrites, the JIT) and run the relocated image on an NFP core model with a
// small stand-in for the firmware datapath, both engines (the reference interpreter and the JS
// translation). It follows notes/contract-fw-abi.md: the packet in CTM (in a 64 KiB buffer, at offset
// 128, so the low 16 bits of the packet address are its offset in the buffer as adjust_head expects),
// the packet vector in LMEM behind LM pointer 1, the thread's stack base in A22 and LM pointer 0, the
// map helpers at the FUNC addresses over the firmware's tables (firmware/maptable.ts), BPF_DONE ends
// the run with the verdict in A0.
//
// The stand-in goes away when the firmware datapath (firmware/datapath.ts, another engineer's) lands;
// its helper cycle charges are this harness's guesses, not the firmware's.

import { readFileSync } from 'node:fs';
import { BpfError } from '../../src/bpf/errno.js';
import { assemble as bpfAssemble } from '../../src/bpf/asm.js';
import type { Insn } from '../../src/bpf/insn.js';
import { loadObject, withMapFds } from '../../src/bpf/object.js';
import { BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_IDX } from '../../src/bpf/opcodes.js';
import { BPF_PROG_TYPE } from '../../src/bpf/prog-types.js';
import type { BpfMap } from '../../src/kernel/maps/map.js';
import { fixupProgram } from '../../src/kernel/verifier/fixup.js';
import { VerifierLog } from '../../src/kernel/verifier/log.js';
import { bpfCheck, type LdImmMap } from '../../src/kernel/verifier/verifier.js';
import { nfp_bpf_relo_for_vnic } from '../../src/drivers/nfp/jit.js';
import type { NfpJitOptions } from '../../src/drivers/nfp/jit.js';
import {
  nfp_bar_of, nfp_bpf_dev_ops, nfp_bpf_set_jit_options, nfp_bpf_verifier_ops, nfp_bpf_vnic_of, nfp_prog_of,
  type NfpProg, type NfpProgOffload,
} from '../../src/drivers/nfp/prog.js';
import { MapTable, map_dir_read } from '../../firmware/maptable.js';
import {
  CMSG_RC_ERR_MAP_E2BIG, CMSG_RC_ERR_MAP_EXIST, CMSG_RC_ERR_MAP_NOENT, CMSG_RC_SUCCESS,
} from '../../src/nic/ccm.js';
import {
  NFP_RUN_EXIT, NfpCore, NfpInterpreter, loadImage, nfpAddr40, type NfpContext, type NfpEngine, type NfpHook, type NfpImage,
} from '../../src/nic/core.js';
import { NfpJsEngine } from '../../src/nic/exec-js.js';
import type { NicMemory } from '../../src/nic/memory.js';
import { progObject } from '../oracle/kernel.js';
import { bootHost, type TestHost } from './helpers.js';

export type { TestHost };
export { bootHost };

// ---------------------------------------------------------------------------------------------------
// Loading

export interface NfpLoaded {
  readonly nfp_prog: NfpProg;
  readonly offload: NfpProgOffload;
  /** The verifier log (level 1). */
  readonly log: string;
  /** The maps the program uses, by the object's map name. */
  readonly maps: ReadonlyMap<string, { fd: number; map: BpfMap }>;
}

export interface NfpLoadOptions {
  readonly progType?: number;
  readonly jit?: NfpJitOptions;
  /** Map fds the instructions' lddw name, for hand-written programs. */
  readonly mapFds?: ReadonlyMap<string, number>;
}

export class NfpLoadError extends BpfError {
  constructor(readonly log: string, cause: BpfError) {
    super(cause.errno, cause.message, { cause });
  }
}

/** resolve_pseudo_ldimm64(): lddw map fds -> maps, as BPF_PROG_LOAD does before the verifier. */
function resolveMaps(h: TestHost, insns: readonly Insn[]): Map<number, LdImmMap> {
  const ldImm = new Map<number, LdImmMap>();
  for (let i = 0; i < insns.length; i++) {
    const x = insns[i]!;
    if (x.code !== 0x18) continue;
    if (x.src === BPF_PSEUDO_MAP_FD || x.src === BPF_PSEUDO_MAP_IDX) {
      const f = h.kernel.fds.get(x.imm);
      if (f === undefined || f.kind !== 'map') throw new BpfError('EBADF', `fd ${x.imm} is not a map`);
      ldImm.set(i, { map: f.obj as BpfMap, valueOff: undefined });
    }
    i++;
  }
  return ldImm;
}

/**
 * Verify (with the nfp hook) and translate `insns` for nfp0, as BPF_PROG_LOAD with prog_ifindex does:
 * prepare, the walk with insn_hook and finalize, the dead-code rewrites, translate.
 */
export function nfpLoadInsns(h: TestHost, insns: readonly Insn[], opts: NfpLoadOptions = {}): NfpLoaded {
  const netdev = h.kernel.netdevs.dev_get_by_name('nfp0');
  const bpf = h.nfp?.bpf;
  if (netdev === undefined || bpf === undefined || bpf === null) throw new Error('no nfp0 with a BPF app');
  const offload: NfpProgOffload = { offdev: bpf.bpf_dev, netdev, dev_priv: null, opt_failed: false, jited_image: null };
  const log = new VerifierLog(1, 1 << 26);
  const ldImm = resolveMaps(h, insns);
  try {
    const { env } = bpfCheck({
      progType: opts.progType ?? BPF_PROG_TYPE.XDP, expectedAttachType: 0, insns, ldImm, gplCompatible: true, log,
      offload: nfp_bpf_verifier_ops(offload), offloaded: true,
    });
    fixupProgram(env, insns, env.aux, {
      replaceInsn: (off, insn) => nfp_bpf_dev_ops.replace_insn(offload, env, off, insn),
      removeInsns: (off, cnt) => nfp_bpf_dev_ops.remove_insns(offload, env, off, cnt),
    }, true);
    nfp_bpf_set_jit_options(opts.jit ?? {});
    try {
      nfp_bpf_dev_ops.translate(offload);
    } finally {
      nfp_bpf_set_jit_options({});
    }
  } catch (e) {
    if (e instanceof BpfError) throw new NfpLoadError(log.text(), e);
    throw e;
  }
  return { nfp_prog: nfp_prog_of(offload), offload, log: log.text(), maps: new Map() };
}

/** Assemble LLVM-syntax BPF and load it for the NIC. */
export function nfpLoadAsm(h: TestHost, text: string, opts: NfpLoadOptions = {}): NfpLoaded {
  return nfpLoadInsns(h, bpfAssemble(text), opts);
}

const OFFLOADABLE = new Set([1, 2]); // HASH, ARRAY

/** Load a test/progs object's program for the NIC: its HASH/ARRAY maps offloaded, perf arrays on the host. */
export async function nfpLoadObject(h: TestHost, name: string, prog: string, opts: NfpLoadOptions = {}): Promise<NfpLoaded> {
  const path = progObject(name);
  const obj = loadObject(readFileSync(path), path);
  const spec = obj.programs.find((p) => p.name === prog);
  if (spec === undefined) throw new Error(`${name} has no program ${prog}`);
  const maps = new Map<string, { fd: number; map: BpfMap }>();
  const fds: number[] = [];
  for (const m of obj.maps) {
    let fd: number;
    if (OFFLOADABLE.has(m.type) && m.flags === 0) {
      fd = await h.sys.mapCreateAsync({
        map_type: m.type, key_size: m.keySize, value_size: m.valueSize, max_entries: m.maxEntries, map_name: m.name.slice(0, 15), map_ifindex: h.ifindex,
      });
    } else {
      const maxEntries = m.type === 4 && m.maxEntries === 0 ? h.kernel.mapEnv.num_possible_cpus : m.maxEntries;
      fd = h.sys.mapCreate({ map_type: m.type, key_size: m.keySize, value_size: m.valueSize, max_entries: maxEntries, map_flags: m.flags, map_name: m.name.slice(0, 15) });
    }
    fds.push(fd);
    maps.set(m.name, { fd, map: h.kernel.fds.get(fd)!.obj as BpfMap });
  }
  const loaded = nfpLoadInsns(h, withMapFds(spec, fds), { ...opts, progType: opts.progType ?? spec.progType });
  return { ...loaded, maps };
}

// ---------------------------------------------------------------------------------------------------
// Running

/** Where the stand-in firmware keeps things (per thread t of the core). */
export const PKT_BUF_BYTES = 64 << 10;
/** The packet starts this far into its buffer: room for adjust_head (the image's guaranteed_sub 84 from off_min 44). */
export const PKT_HEADROOM = 128;
export const PV_LMEM_BASE = 2048;
/** Firmware flags in pv_len's upper bits that the image must mask off. */
export const PV_LEN_FLAGS = 0x5a5a << 16;

export interface NfpEvent {
  readonly map_id: number;
  readonly flags: bigint;
  readonly data: Uint8Array;
  readonly pkt: Uint8Array;
}

export interface NfpRunResult {
  /** The verdict byte from A0 bits 23:16 (0x11 pass, 0x22 drop, 0x44 tx, 0x82 abort). */
  readonly verdict: number;
  /** R0's low half as the image left it in B0. */
  readonly r0: number;
  readonly data: Uint8Array;
  readonly qsel: { set: number; val: number };
  readonly busy: number;
  readonly stall: number;
}

/** The verdict the XDP outro gives R0 (the NIC's XDP_REDIRECT and unknown codes abort). */
export function xdpVerdict(retval: number): number {
  return [0x82, 0x22, 0x11, 0x44][retval] ?? 0x82;
}

const tables = new WeakMap<NicMemory, Map<number, MapTable>>();

function tableOf(mem: NicMemory, tid: number): MapTable | undefined {
  let t = tables.get(mem);
  if (t === undefined) tables.set(mem, t = new Map());
  let table = t.get(tid);
  if (table === undefined) {
    const e = map_dir_read(mem, tid);
    if (e === undefined) return undefined;
    t.set(tid, table = new MapTable(mem, e));
  }
  return table;
}

const RC_ERRNO: Readonly<Record<number, number>> = {
  [CMSG_RC_SUCCESS]: 0, [CMSG_RC_ERR_MAP_NOENT]: -2, [CMSG_RC_ERR_MAP_EXIST]: -17, [CMSG_RC_ERR_MAP_E2BIG]: -7,
};

/** A runner of one translated program on core 0 of the host's NIC. */
export class NfpRunner {
  readonly image: NfpImage;
  readonly engines: { readonly interpreter: NfpEngine; readonly js: NfpEngine };
  readonly events: NfpEvent[] = [];
  readonly mem: NicMemory;
  readonly start: number;
  readonly done: number;
  private readonly lm8: Uint8Array;
  private readonly core: NfpCore;

  constructor(h: TestHost, readonly loaded: NfpLoaded) {
    const nfp_prog = loaded.nfp_prog;
    const bar = nfp_bar_of(loaded.offload.netdev);
    const vnic = nfp_bpf_vnic_of(bar);
    this.start = vnic.start_off;
    this.done = vnic.tgt_done;
    this.mem = h.device!.memory;
    this.core = NfpCore.fromNic(this.mem, 0);
    this.lm8 = new Uint8Array(this.core.lm.buffer, this.core.lm.byteOffset, this.core.lm.byteLength);
    const words = nfp_bpf_relo_for_vnic(nfp_prog, vnic);
    this.image = loadImage(words, { base: vnic.start_off });
    const hooks = this.hooks(nfp_prog);
    this.engines = { interpreter: new NfpInterpreter(this.image, hooks), js: new NfpJsEngine(this.image, hooks) };
  }

  private hooks(nfp_prog: NfpProg): Map<number, NfpHook> {
    const h = nfp_prog.bpf.helpers;
    const mem = this.mem;
    const lm8 = this.lm8;
    const ret = (x: NfpContext, r0lo: number, r0hi: number): void => {
      x.gprA[0] = x.gprB[0] = r0lo;
      x.gprA[1] = x.gprB[1] = r0hi;
    };
    const hooks = new Map<number, NfpHook>();
    hooks.set(this.done, () => NFP_RUN_EXIT);
    const keyOf = (x: NfpContext, lmPtr: number, len: number): Uint8Array => {
      const a = x.lmAddr[lmPtr]! & ~3;
      return lm8.slice(a, a + len);
    };
    const withTable = (x: NfpContext, f: (t: MapTable) => void): number => {
      this.retAddr = x.gprB[0]! & 0x3fff;
      const t = tableOf(mem, x.gprA[0]!);
      if (t === undefined) throw new BpfError('EFAULT', `nfp-run: no table ${x.gprA[0]}`);
      f(t);
      return this.retAddr;
    };
    hooks.set(h.map_lookup, (core, x) => withTable(x, (t) => {
      const idx = t.lookup(keyOf(x, 0, t.keySize), 0);
      if (idx < 0) ret(x, 0, 0);
      else {
        const a = nfpAddr40('emem', t.valueOff(idx));
        ret(x, a.lo | 0, a.hi);
      }
      x.busy += 16;
      x.stall += core.latency.emem * (t.isArray ? 1 : 2);
    }));
    hooks.set(h.map_update, (core, x) => withTable(x, (t) => {
      const key = keyOf(x, 0, t.keySize);
      const value = new Uint8Array(t.valStride);
      value.set(keyOf(x, 2, t.valueSize));
      const rc = t.update(key, 0, new DataView(value.buffer), 0, x.gprA[8]! >>> 0);
      const e = RC_ERRNO[rc] ?? -22;
      ret(x, e, e < 0 ? -1 : 0);
      x.busy += 24;
      x.stall += core.latency.emem * 3;
    }));
    hooks.set(h.map_delete, (core, x) => withTable(x, (t) => {
      const rc = t.delete(keyOf(x, 0, t.keySize), 0);
      const e = RC_ERRNO[rc] ?? -22;
      ret(x, e, e < 0 ? -1 : 0);
      x.busy += 20;
      x.stall += core.latency.emem * 2;
    }));
    hooks.set(h.perf_event_output, (core, x) => {
      this.retAddr = x.gprB[0]! & 0x3fff;
      const type = x.gprA[1]!;
      const size = x.gprA[10]! >>> 0;
      const flags = (BigInt(x.gprA[7]! >>> 0) << 32n) | BigInt(x.gprA[6]! >>> 0);
      const lo = x.gprA[8]! >>> 0;
      let data: Uint8Array;
      if (type === 6) data = lm8.slice(lo, lo + size);
      else if (type === 8) data = core.ctm.slice(lo, lo + size);
      else if (type === 4) data = core.emem.slice(lo, lo + size);
      else data = new Uint8Array(0);
      const pv = x.lmAddr[1]! >>> 2;
      const pktLen = Number((flags >> 32n) & 0xfffffn);
      const ptr = core.lm[pv + 2]! >>> 0;
      this.events.push({ map_id: x.gprA[4]!, flags, data, pkt: core.ctm.slice(ptr, ptr + pktLen) });
      ret(x, 0, 0);
      x.busy += 40;
      return this.retAddr;
    });
    return hooks;
  }

  private retAddr = 0;

  /** Run one packet on thread `t` of core 0 with the named engine. */
  run(engine: 'interpreter' | 'js', packet: Uint8Array, t = 0): NfpRunResult {
    const core = this.core;
    const x = core.contexts[t]!;
    x.reset();
    const stack = t * 512;
    const pv = PV_LMEM_BASE + t * 32;
    const buf = t * PKT_BUF_BYTES;
    const ptr = buf + PKT_HEADROOM;
    core.ctm.fill(0, buf, buf + PKT_BUF_BYTES);
    core.ctm.set(packet, ptr);
    core.lm.fill(0, stack >> 2, (stack + 512) >> 2);
    core.lm[pv >> 2] = (packet.length & 0x3fff) | PV_LEN_FLAGS;
    core.lm[(pv >> 2) + 1] = 0;
    core.lm[(pv >> 2) + 2] = ptr;
    core.lm[(pv >> 2) + 4] = 0;
    core.lm[(pv >> 2) + 6] = 0;
    x.gprA[22] = stack;
    x.lmAddr[0] = stack;
    x.lmAddr[1] = pv;
    const exit = this.engines[engine].run(core, x, this.start);
    if (exit !== this.done) throw new Error(`run ended at .${exit}, not BPF_DONE`);
    const outPtr = core.lm[(pv >> 2) + 2]! >>> 0;
    const outLen = core.lm[pv >> 2]! & 0x3fff;
    return {
      verdict: (x.gprA[0]! >>> 16) & 0xff,
      r0: x.gprB[0]! >>> 0,
      data: core.ctm.slice(outPtr, outPtr + outLen),
      qsel: { set: core.lm[(pv >> 2) + 4]!, val: core.lm[(pv >> 2) + 6]! },
      busy: x.busy,
      stall: x.stall,
    };
  }
}

/** Both engines on one packet; they must agree (the caller asserts); returns the interpreter's. */
export function runBoth(r: NfpRunner, packet: Uint8Array): { interp: NfpRunResult; js: NfpRunResult } {
  const interp = r.run('interpreter', packet);
  const js = r.run('js', packet);
  return { interp, js };
}

/** Every entry of an offloaded map through the driver (byte-swapped counters and all), sorted by key. */
export async function dumpNfpMap(h: TestHost, fd: number): Promise<{ key: string; values: string[] }[]> {
  const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
  const out: { key: string; values: string[] }[] = [];
  let key: Uint8Array | null = null;
  for (;;) {
    try {
      key = await h.sys.mapGetNextKeyAsync({ map_fd: fd, key });
    } catch (e) {
      if (e instanceof BpfError && e.errno === 'ENOENT') break;
      throw e;
    }
    const value = await h.sys.mapLookupAsync({ map_fd: fd, key });
    out.push({ key: hex(key), values: [hex(value)] });
  }
  return out.sort((a, b) => a.key.localeCompare(b.key));
}
