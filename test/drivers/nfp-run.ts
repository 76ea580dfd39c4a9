// Test harness for the NFP JIT: load a program for the NIC (offloaded maps, the verifier with the nfp
// device hook, the dead-code rewrites, the JIT) and run it
//   - on the firmware's datapath (NfpRig: firmware/datapath.ts's in-process core pool, the driver's
//     load path xdp.ts), one host per NFP engine, packets through the RX rings — what the NIC does;
//   - or one packet on one context of core 0 (NfpRunner), set up as the datapath does it
//     (notes/contract-fw-abi.md), with the firmware's own helper handlers (firmware/helpers.ts), when a
//     test needs what the datapath does not report: R0, the registers, the image's own cycles.

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
import type { NfpJitOptions } from '../../src/drivers/nfp/jit.js';
import {
  nfp_bar_of, nfp_bpf_dev_ops, nfp_bpf_set_jit_options, nfp_bpf_verifier_ops, nfp_bpf_vnic_of, nfp_prog_of, type NfpProg, type NfpProgOffload,
} from '../../src/drivers/nfp/prog.js';
import { NFP_FW_PKT_BUSY, inProcessCores } from '../../firmware/datapath.js';
import { NfpFwHelpers, nfpFwFuncs, type NfpEventSink } from '../../firmware/helpers.js';
import { nfp_net_bpf_offload, type NfpNet } from '../../src/drivers/nfp/xdp.js';
import { NetlinkExtAck } from '../../src/kernel/net/extack.js';
import { decodeBpfEvent, type CmsgBpfEvent } from '../../src/nic/ccm.js';
import { NfpCore, NfpInterpreter, loadImage, type NfpEngine, type NfpImage } from '../../src/nic/core.js';
import { NfpCorePool, NFP_CTM_BUF_SHIFT, NFP_PKT_OFFSET, type NfpPacketResult } from '../../src/nic/cores.js';
import { NfpJsEngine } from '../../src/nic/exec-js.js';
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
  /** The verifier log level (2 keeps the walk of a load that succeeds, with the hook's lines). */
  logLevel?: number;
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
  // Level 1 keeps only a failed walk (a successful one is reset to the stats line, as the kernel's).
  const log = new VerifierLog(opts.logLevel ?? 1, 1 << 26);
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
// One packet on one context

/** The verdict the XDP outro gives R0 (the NIC's XDP_REDIRECT and unknown codes abort). */
export function xdpVerdict(retval: number): number {
  return [0x82, 0x22, 0x11, 0x44][retval] ?? 0x82;
}

/** Firmware flags in pv_len's upper bits that the image must mask off (the datapath's 2K buffer class). */
export const PV_LEN_FLAGS = 3 << 14;
/** LMEM per thread: the stack (STACK_SZ * 64 B), the packet vectors after all four stacks. */
const STACK_BYTES = 512;
const PV_BASE = 4 * STACK_BYTES;

export interface NfpRunResult {
  /** The verdict byte from A0 bits 23:16 (0x11 pass, 0x22 drop, 0x44 tx, 0x82 abort). */
  readonly verdict: number;
  /** R0's low half as the image left it in B0. */
  readonly r0: number;
  readonly data: Uint8Array;
  readonly qsel: { set: number; val: number };
  /** The image's own cycles (and its helpers'), without the datapath's per-packet work. */
  readonly busy: number;
  readonly stall: number;
}

/** A translated program on core 0 of the host's NIC, both engines, the firmware's helper handlers. */
export class NfpRunner {
  readonly image: NfpImage;
  readonly engines: { readonly interpreter: NfpEngine; readonly js: NfpEngine };
  /** BPF_EVENT messages the perf_event_output handler built. */
  readonly events: CmsgBpfEvent[] = [];
  readonly start: number;
  readonly core: NfpCore;
  private readonly evBuf = new Uint8Array(1 << 16);
  private evAt = 0;
  private evLen = 0;

  constructor(h: TestHost, readonly loaded: NfpLoaded) {
    const vnic = nfp_bpf_vnic_of(nfp_bar_of(loaded.offload.netdev));
    this.start = vnic.start_off;
    const mem = h.device!.memory;
    this.core = NfpCore.fromNic(mem, 0);
    this.image = loadImage(loaded.nfp_prog.relo_for_vnic(vnic), { base: vnic.start_off });
    const sink: NfpEventSink = {
      u8: this.evBuf,
      reserve: (len) => { this.evLen = len; this.evAt = 0; return 0; },
      commit: () => { this.events.push(decodeBpfEvent(this.evBuf.slice(this.evAt, this.evAt + this.evLen))); },
    };
    const helpers = new NfpFwHelpers(mem, nfpFwFuncs(h.device!.image), vnic.tgt_done, sink);
    this.engines = { interpreter: new NfpInterpreter(this.image, helpers.hooks), js: new NfpJsEngine(this.image, helpers.hooks) };
  }

  /** Run one packet on thread `t` of core 0, set up as firmware/datapath.ts does. */
  run(engine: 'interpreter' | 'js', packet: Uint8Array, t = 0): NfpRunResult {
    const core = this.core;
    const x = core.contexts[t]!;
    x.reset();
    const stack = t * STACK_BYTES;
    const pv = PV_BASE + t * 32;
    const buf = t << NFP_CTM_BUF_SHIFT;
    const ptr = buf + NFP_PKT_OFFSET;
    core.ctm.fill(0, buf, buf + (1 << NFP_CTM_BUF_SHIFT));
    core.ctm.set(packet, ptr);
    core.lm.fill(0, stack >> 2, (stack + STACK_BYTES) >> 2);
    core.lm[pv >> 2] = (packet.length & 0x3fff) | PV_LEN_FLAGS;
    core.lm[(pv >> 2) + 2] = ptr;
    core.lm[(pv >> 2) + 4] = 0;
    core.lm[(pv >> 2) + 6] = 0;
    x.gprA[22] = stack;
    x.lmAddr[0] = stack;
    x.lmAddr[1] = pv;
    this.engines[engine].run(core, x, this.start);
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

// ---------------------------------------------------------------------------------------------------
// The datapath

/** A host whose NIC runs the firmware datapath in-process with one NFP engine. */
export interface NfpRig {
  readonly h: TestHost;
  readonly pool: NfpCorePool;
  readonly nn: NfpNet;
  /** BPF_EVENT messages, as the host drained them. */
  readonly events: CmsgBpfEvent[];
  /** nfp_net_bpf_offload(): load (or replace) the program on nfp0. */
  load(l: NfpLoaded): Promise<void>;
  run(frames: readonly Uint8Array[]): Promise<NfpPacketResult[]>;
  stop(): Promise<void>;
}

export { NFP_FW_PKT_BUSY };

export async function nfpRig(engine: 'interpreter' | 'js'): Promise<NfpRig> {
  const h = await bootHost();
  const events: CmsgBpfEvent[] = [];
  const pool = await NfpCorePool.start(h.device!, inProcessCores({ groups: 1 }), { engine, onEvent: (m) => events.push(decodeBpfEvent(m)) });
  const nn: NfpNet = { bar: h.device!.bars[0]!, ustore: h.device!.memory.ustore, mtu: 1500, pump: () => pool.pump(), log: h.nfp!.log };
  let loaded = false;
  return {
    h, pool, nn, events,
    async load(l) {
      const ext = new NetlinkExtAck();
      await nfp_net_bpf_offload(nn, l.nfp_prog, loaded, ext);
      loaded = true;
    },
    run: (frames) => pool.run(frames, { core: 0 }),
    async stop() {
      await pool.stop();
      await h.shutdown();
    },
  };
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
