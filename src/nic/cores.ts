// The NFP's BPF cores as a pool: the 60 (or 40/56/70) microengines of the firmware image, spread over
// the host's worker threads (piscina), each thread hosting a contiguous share of the cores and running
// the firmware's datapath loop (firmware/datapath.ts) on them. This file is the card's side of that
// arrangement that the host sees: the one SharedArrayBuffer that carries packets, verdicts and
// statistics between the host and the cores, handed to every thread once, and the host's API on it.
//
// Packets move through rings, not messages. Each core has an RX ring of fixed slots; a slot is a
// 64-byte descriptor and a packet buffer with NFP_PKT_OFFSET bytes of headroom (the same offset the
// firmware gives a packet in its CTM buffer, so a head adjusted by the program lands inside the slot).
// The host writes a packet, bumps the ring's producer index and rings the pool's doorbell; the core's
// thread takes a batch, runs the loaded image on each packet, writes the verdict, the output packet
// (XDP_PASS / XDP_TX, in place) and the cycles into the slot, then publishes its consumer index and
// the pool's completion counter. The host harvests the slots the consumer index has passed. A slot is
// reused only after the host has harvested it, so nothing is lost or overwritten.
//
// The host works in bursts, as a driver does per NAPI poll and per ring refill (rxBurst): it posts
// hundreds of frames before it publishes the producer indices and rings the doorbell once, sleeps
// until the cores' completion counter says the burst is done (the cores wake it once, at H_WAKE_AT),
// and reads every completed descriptor in one pass into typed arrays by frame index. No object,
// Promise or message per frame.
//
// A ring can also run as a traffic generator (R_LOOP > 0, for the bench): its first R_LOOP slots are
// templates that the core replays until it has taken R_PROD packets; outputs go to a per-core scratch
// buffer (the wire) so the templates stay intact.
//
// Programs: the driver writes the relocated image into the code store, programs BPF_SIZE/BPF_ADDR and
// sets NFP_NET_CFG_UPDATE in the vNIC's BAR (src/drivers/nfp/xdp.ts). The firmware's first group
// notices the request between two batches, publishes it here (H_IMAGE_GEN), and every group switches
// to it at its next batch boundary, translating the image to JavaScript once; when every group has
// acknowledged, the first group clears the BAR's UPDATE word, which the driver is waiting for. A batch
// therefore runs entirely on one image: a replacement loses and duplicates no packet.
//
// Where the cores run is a starter (like the control handler's FirmwareStarter): piscinaCores() here,
// or inProcessCores() in firmware/datapath.ts (same code, no threads, deterministic).

import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { BpfError } from '../bpf/errno.js';
import { nfpCoreCycles } from './core.js';
import { NFP_NET_CFG_BAR_SZ, NFP_NET_CFG_CTRL, NFP_NET_CFG_CTRL_BPF, NFP_NET_CFG_UPDATE, NfpNetCtrlBar } from './ctrl-bar.js';
import type { NfpDevice, NfpDeviceShared } from './device.js';

export const NFP_CORES_MAGIC = 0x4e464343; // "NFCC"

/**
 * Where the firmware puts the first packet byte in its CTM packet buffer (the low 16 bits of
 * pv_ctm_ptr, which the JIT's adjust_head checks against the ADJUST_HEAD capability's off_min/off_max).
 * 128 is what the shipped images' capability is built around: guaranteed_sub 84 = 128 - off_min 44,
 * and 128 + guaranteed_add 112 stays below off_max 248.
 */
export const NFP_PKT_OFFSET = 128;
/** CTM packet buffers are addressed by packet number in bits 31:16 (jit.c: "offset is just a part of the pkt ptr"). */
export const NFP_CTM_BUF_SHIFT = 16;
/** Packet buffers per CTM island the model can address (an island is 256 KiB in the shipped images). */
export const NFP_CTM_BUFS_PER_ISLAND_MAX = 4;
export const ETH_HLEN = 14;

// Pool header (Int32 words)
export const H_MAGIC = 0;
export const H_CORES = 1;
export const H_GROUPS = 2;
export const H_SLOTS = 3;
export const H_SLOT_BYTES = 4;
export const H_MAX_FRAME = 5;
/** Set by the host: every group returns from its loop. */
export const H_STOP = 6;
/** Bumped (and notified) by the host when it posts packets, by the firmware when it publishes a reconfig. */
export const H_DOORBELL = 7;
/** Packets completed by all cores (wrapping); notified after every batch. */
export const H_DONE = 8;
/** The reconfig generation the firmware publishes; groups acknowledge it in H_ACK + group. */
export const H_IMAGE_GEN = 9;
/** Bumped for every UPDATE_BPF: a new image to translate. */
export const H_LOAD_SEQ = 10;
/** Where the image is: byte offset in the code store (BPF_ADDR) and instructions (BPF_SIZE). */
export const H_IMAGE_ADDR = 11;
export const H_IMAGE_SIZE = 12;
/** NFP_NET_CFG_CTRL_BPF: packets go through the program. */
export const H_ENABLED = 13;
/** Groups that have started their loop. */
export const H_READY = 14;
export const H_PORT = 15;
export const H_EV_SLOTS = 16;
export const H_EV_SLOT_BYTES = 17;
/** The datapath's engine: 0 js, 1 interpreter. */
export const H_ENGINE = 18;
/**
 * The H_DONE count at which the host wants to be woken: the cores notify only once the completions
 * reach it, so a host waiting for a long generator run is not woken after every batch (on a machine
 * with as many CPUs as core threads, each wake-up is taken from a core thread).
 */
export const H_WAKE_AT = 19;
export const H_ACK = 64;
export const H_ACK_ERR = 96;
export const NFP_CORES_MAX_GROUPS = 32;
const HDR_BYTES = 1024;

// Per-core ring header (Int32 words)
/** Packets posted (host-owned, free-running). */
export const R_PROD = 0;
/** Packets completed (firmware-owned, free-running). */
export const R_CONS = 1;
/** Generator mode: the number of template slots (0: a normal ring). */
export const R_LOOP = 2;
/** Generator mode: the sequence number that replays template 0. */
export const R_BASE = 3;
const RING_HDR_BYTES = 64;

// Per-core statistics (Float64)
export const S_PACKETS = 0;
export const S_BYTES_IN = 1;
/** Verdict statistics 0..3 (the high nibble of nfp_outro_xdp's verdict): pass, drop, tx, abort. */
export const S_STAT0 = 2;
export const S_NO_PROG = 6;
export const S_MALFORMED = 7;
export const S_OVERSIZE = 8;
export const S_FAULT = 9;
export const S_BAD_VERDICT = 10;
export const S_BAD_PV = 11;
export const S_BYTES_OUT = 12;
export const S_BATCHES = 13;
/** Actions (the low nibble): pass, drop, tx/redirect. */
export const S_ACT_PASS = 14;
export const S_ACT_DROP = 15;
export const S_ACT_TX = 16;
/** Busy and stall cycles per context (4 contexts). */
export const S_BUSY0 = 20;
export const S_STALL0 = 24;
const STAT_WORDS = 32;
const STAT_BYTES = STAT_WORDS * 8;

// Slot descriptor (Int32 words)
/** In: the frame length in bytes. */
export const D_LEN = 0;
/** In: the host's tag for the packet (returned as is). */
export const D_TAG = 1;
/** Out: the verdict byte the image left in A0 bits 23:16 (0x11 pass, 0x22 drop, 0x44 tx, 0x82 abort); 0 when it did not run. */
export const D_VERDICT = 2;
/** Out: NFP_PKT_* status. */
export const D_STATUS = 3;
/** Out: where the output packet starts relative to where the input started (negative: the head grew). */
export const D_OUT_OFF = 4;
export const D_OUT_LEN = 5;
/** Out: the reconfig generation whose image ran the packet. */
export const D_GEN = 6;
export const D_BUSY = 7;
export const D_STALL = 8;
/** Out: queue selection (bit 16 set: selected; low 16 bits the queue). */
export const D_QSEL = 9;
/** Out: the context (thread) that ran it. */
export const D_CTX = 10;
/**
 * Out: the resume word of a packet passed to the host by a tail call into a host program (0: none) —
 * nfp-emu's PAPER-ONLY partial offload, the metadata the seed paper's Figure 6 hands the host.
 */
export const D_META = 11;
export const DESC_BYTES = 64;
/** Where a slot's packet bytes start: after the descriptor and the headroom. */
export const SLOT_DATA = DESC_BYTES + NFP_PKT_OFFSET;

/** D_STATUS values. */
export const NFP_PKT_OK = 0;
/** No program is enabled (CTRL_BPF clear): the packet goes to the host untouched. */
export const NFP_PKT_NO_PROG = 1;
/** The descriptor is not a frame (length below ETH_HLEN). */
export const NFP_PKT_MALFORMED = 2;
/** The frame is longer than a ring slot holds. */
export const NFP_PKT_OVERSIZE = 3;
/** The image faulted (EFAULT) or ran out of its cycle budget (ELOOP): the packet is dropped. */
export const NFP_PKT_FAULT = 4;
/** A0 does not hold a verdict nfp_outro_xdp/tc_da could build: dropped. */
export const NFP_PKT_BAD_VERDICT = 5;
/** The packet vector the image left points outside the packet buffer: dropped. */
export const NFP_PKT_BAD_PV = 6;
export const NFP_PKT_STATUS_NAMES = ['ok', 'no-prog', 'malformed', 'oversize', 'fault', 'bad-verdict', 'bad-pv'] as const;
export type NfpPktStatusName = (typeof NFP_PKT_STATUS_NAMES)[number];

// Per-group area: event ring header (Int32), helper statistics (Float64), the last error's text
export const E_PROD = 0;
export const E_CONS = 1;
export const E_DROPS = 2;
const EV_HDR_BYTES = 64;
export const G_LOOKUPS = 0;
export const G_HITS = 1;
export const G_UPDATES = 2;
export const G_DELETES = 3;
export const G_EVENTS = 4;
export const G_EVENT_DROPS = 5;
export const G_BAD_TID = 6;
/** Images translated (once per load per group). */
export const G_COMPILES = 7;
export const G_FAULTS = 8;
const GSTAT_BYTES = 128;
export const G_ERR_TEXT_BYTES = 512;

/** What the pool's shared buffer holds and where: plain data, computed once and given to every thread. */
export interface NfpCoresLayout {
  readonly cores: number;
  readonly threadsPerCore: number;
  readonly groups: number;
  readonly slots: number;
  readonly slotBytes: number;
  readonly maxFrame: number;
  readonly evSlots: number;
  readonly evSlotBytes: number;
  /** Byte offsets of each core's ring header, statistics, first slot and TX scratch buffer. */
  readonly coreBase: readonly number[];
  readonly coreBytes: number;
  /** Byte offset of each group's area (event ring, helper statistics, error text). */
  readonly groupBase: readonly number[];
  readonly groupBytes: number;
  /** The first core and the number of cores of each group. */
  readonly share: readonly (readonly [number, number])[];
  /** The CTM packet buffer (0..3) each group uses on each island. */
  readonly ctmBuf: readonly (readonly number[])[];
  readonly totalBytes: number;
}

export const ringHdrOff = (l: NfpCoresLayout, core: number): number => l.coreBase[core]!;
export const statOff = (l: NfpCoresLayout, core: number): number => l.coreBase[core]! + RING_HDR_BYTES;
export const slotOff = (l: NfpCoresLayout, core: number, slot: number): number => l.coreBase[core]! + RING_HDR_BYTES + STAT_BYTES + slot * l.slotBytes;
export const scratchOff = (l: NfpCoresLayout, core: number): number => slotOff(l, core, l.slots);
export const evOff = (l: NfpCoresLayout, group: number): number => l.groupBase[group]!;
export const evSlotOff = (l: NfpCoresLayout, group: number, slot: number): number => l.groupBase[group]! + EV_HDR_BYTES + slot * l.evSlotBytes;
export const gstatOff = (l: NfpCoresLayout, group: number): number => l.groupBase[group]! + EV_HDR_BYTES + l.evSlots * l.evSlotBytes;
export const gerrOff = (l: NfpCoresLayout, group: number): number => gstatOff(l, group) + GSTAT_BYTES;

/** Group g's cores: a contiguous share, as even as it gets. */
export function nfpCoreShare(cores: number, groups: number, g: number): [number, number] {
  const first = Math.floor((g * cores) / groups);
  return [first, Math.floor(((g + 1) * cores) / groups) - first];
}

export interface NfpCoresConfig {
  readonly cores: number;
  readonly threadsPerCore: number;
  readonly ctmIslands: number;
  readonly ctmBytesPerIsland: number;
  /** Groups of cores (worker threads; 1 in-process). */
  readonly groups: number;
  /** RX slots per core (a power of two). */
  readonly slots: number;
  /** The longest frame a slot holds. */
  readonly maxFrame: number;
  readonly evSlots: number;
  readonly evSlotBytes: number;
}

export function nfpCoresLayout(c: NfpCoresConfig): NfpCoresLayout {
  const bad = (why: string): BpfError => new BpfError('EINVAL', `nfp cores: ${why}`);
  if (!Number.isInteger(c.slots) || c.slots < 2 || (c.slots & (c.slots - 1)) !== 0) throw bad(`${c.slots} ring slots: must be a power of two >= 2`);
  if (!Number.isInteger(c.maxFrame) || c.maxFrame < 64 || c.maxFrame > 0x3fff) throw bad(`a slot of ${c.maxFrame} bytes: frames are 64..16383 bytes (pv_len has 14 bits)`);
  if (!Number.isInteger(c.groups) || c.groups < 1 || c.groups > Math.min(NFP_CORES_MAX_GROUPS, c.cores)) throw bad(`${c.groups} groups for ${c.cores} cores`);
  if (c.threadsPerCore > 4) throw bad(`${c.threadsPerCore} contexts per core (4 are modeled)`);
  if (c.ctmBytesPerIsland < NFP_CTM_BUFS_PER_ISLAND_MAX << NFP_CTM_BUF_SHIFT) throw bad(`CTM islands of ${c.ctmBytesPerIsland} bytes hold no 64 KiB packet buffers`);
  // One CTM packet buffer per (group, island): a group runs one packet at a time, and packet buffers
  // sit on 64 KiB boundaries (packet-number addressing), of which an island has four.
  const perIsland = Math.ceil(c.cores / c.ctmIslands);
  const share = Array.from({ length: c.groups }, (_, g) => nfpCoreShare(c.cores, c.groups, g));
  const ctmBuf = share.map(() => new Array<number>(c.ctmIslands).fill(-1));
  for (let isl = 0; isl < c.ctmIslands; isl++) {
    let next = 0;
    share.forEach(([first, count], g) => {
      const lo = isl * perIsland, hi = lo + perIsland;
      if (first < hi && first + count > lo) {
        if (next >= NFP_CTM_BUFS_PER_ISLAND_MAX) throw bad(`${c.groups} groups put more than ${NFP_CTM_BUFS_PER_ISLAND_MAX} threads on CTM island ${isl}; use fewer worker threads`);
        ctmBuf[g]![isl] = next++;
      }
    });
  }
  // +8: the DMAs move 8-byte units and may read up to 7 bytes past a frame.
  const slotBytes = Math.ceil((SLOT_DATA + c.maxFrame + 8) / 64) * 64;
  const coreBytes = RING_HDR_BYTES + STAT_BYTES + (c.slots + 1) * slotBytes;
  const groupBytes = Math.ceil((EV_HDR_BYTES + c.evSlots * c.evSlotBytes + GSTAT_BYTES + G_ERR_TEXT_BYTES) / 64) * 64;
  const coreBase = Array.from({ length: c.cores }, (_, i) => HDR_BYTES + i * coreBytes);
  const gb = HDR_BYTES + c.cores * coreBytes;
  const groupBase = Array.from({ length: c.groups }, (_, g) => gb + g * groupBytes);
  return {
    cores: c.cores, threadsPerCore: c.threadsPerCore, groups: c.groups, slots: c.slots, slotBytes, maxFrame: c.maxFrame,
    evSlots: c.evSlots, evSlotBytes: c.evSlotBytes, coreBase, coreBytes, groupBase, groupBytes, share, ctmBuf,
    totalBytes: gb + c.groups * groupBytes,
  };
}

/** What a thread needs to run its share of the cores: plain data, structured-cloneable. */
export interface NfpCoresShared {
  readonly dev: NfpDeviceShared;
  readonly sab: SharedArrayBuffer;
  readonly layout: NfpCoresLayout;
  /** The data vNIC (BAR) whose program the cores run. */
  readonly port: number;
  readonly engine: 'js' | 'interpreter';
  /** Cycle budget per packet (a looping image is stopped, and the packet dropped as a fault). */
  readonly maxCycles: number;
}

/** Where the cores run. */
export interface NfpCoreRunner {
  readonly kind: 'workers' | 'in-process';
  /** Worker threads (0 in-process). */
  readonly threads: number;
  /** In-process: run every group until nothing moves. */
  readonly pump?: () => void;
  /** A group died of a bug (not bad input, which never kills a core): the error. */
  readonly failure: Error | undefined;
  stop(): Promise<void>;
}

export interface NfpCoreStarter {
  /** How many groups of cores (threads) it runs for a card of `cores` cores. */
  groups(cores: number): number;
  start(shared: NfpCoresShared): Promise<NfpCoreRunner>;
}

/** How many worker threads the machine sensibly has for the cores (one per CPU). */
export function nfpDefaultThreads(cores: number): number {
  return Math.max(1, Math.min(availableParallelism(), cores, NFP_CORES_MAX_GROUPS));
}

/** The piscina entry, next to this module in the source tree (via a tsx bootstrap) or the built one. */
export function defaultCoresWorkerEntry(): string {
  const fromTs = import.meta.url.endsWith('.ts');
  return fileURLToPath(new URL(fromTs ? '../../workers/nfp-cores-boot.mjs' : '../../workers/nfp-cores.js', import.meta.url));
}

export interface PiscinaCoresOptions {
  /** Worker threads (default nfpDefaultThreads()). */
  readonly threads?: number;
  /** The worker file (default: workers/nfp-cores). */
  readonly filename?: string;
  /** How long a group may take to start (tsx compiles the sources in each thread). */
  readonly startTimeoutMs?: number;
}

/** The cores in a piscina pool: one long-running task per thread, each running its group's loop. */
export function piscinaCores(opts: PiscinaCoresOptions = {}): NfpCoreStarter {
  return { groups: (cores) => Math.min(cores, opts.threads ?? nfpDefaultThreads(cores)), start: (shared) => startPiscina(shared, opts) };
}

async function startPiscina(shared: NfpCoresShared, opts: PiscinaCoresOptions): Promise<NfpCoreRunner> {
  {
    const n = shared.layout.groups;
    const pool = new Piscina({
      filename: opts.filename ?? defaultCoresWorkerEntry(),
      minThreads: n,
      maxThreads: n,
      concurrentTasksPerWorker: 1,
      idleTimeout: Infinity,
      recordTiming: false,
    });
    let failure: Error | undefined;
    const tasks = Array.from({ length: n }, (_, group) => {
      const t = pool.run({ shared, group }) as Promise<unknown>;
      return t.catch((e: unknown) => { failure ??= e instanceof Error ? e : new Error(String(e)); });
    });
    const hdr = new Int32Array(shared.sab, 0, HDR_BYTES >> 2);
    const deadline = performance.now() + (opts.startTimeoutMs ?? 30_000);
    for (;;) {
      const ready = Atomics.load(hdr, H_READY);
      if (ready >= n) break;
      if (failure !== undefined || performance.now() > deadline) {
        Atomics.store(hdr, H_STOP, 1);
        await pool.destroy();
        throw failure ?? new BpfError('ETIMEDOUT', `nfp cores: ${n - ready} of ${n} worker threads did not start`);
      }
      const w = Atomics.waitAsync(hdr, H_READY, ready, 50);
      if (w.async) await w.value;
    }
    let stopped: Promise<void> | undefined;
    return {
      kind: 'workers',
      threads: n,
      get failure() { return failure; },
      stop(): Promise<void> {
        stopped ??= (async () => {
          Atomics.store(hdr, H_STOP, 1);
          Atomics.add(hdr, H_DOORBELL, 1);
          Atomics.notify(hdr, H_DOORBELL);
          await Promise.all(tasks);
          await pool.destroy();
        })();
        return stopped;
      },
    };
  }
}

/**
 * A private view of a card for running one program apart from the live datapath (BPF_PROG_TEST_RUN
 * on the NIC): its own CTM, LMEM, code store and a copy of one vNIC's BAR without a program, but the
 * card's IMEM and EMEM — the offloaded maps the program names are the real ones.
 */
export function nfpTestDevice(dev: NfpDeviceShared, port = 0): NfpDeviceShared {
  const src = dev.bars[port];
  if (src === undefined) throw new BpfError('EINVAL', `nfp: no port ${port}`);
  const bar = new NfpNetCtrlBar(new SharedArrayBuffer(NFP_NET_CFG_BAR_SZ));
  new Uint8Array(bar.sab).set(new Uint8Array(src));
  bar.writel(NFP_NET_CFG_CTRL, bar.readl(NFP_NET_CFG_CTRL) & ~NFP_NET_CFG_CTRL_BPF);
  bar.writel(NFP_NET_CFG_UPDATE, 0);
  const m = dev.memory;
  return {
    image: dev.image,
    mailbox: dev.mailbox,
    bars: [bar.sab],
    memory: { ...m, ctm: new SharedArrayBuffer(m.ctm.byteLength), lmem: new SharedArrayBuffer(m.lmem.byteLength), ustore: new SharedArrayBuffer(m.ustore.byteLength) },
  };
}

// ---------------------------------------------------------------------------------------------------
// The host's side

/** XDP's name for a verdict statistic (nfp_outro_xdp: stat0 pass, stat1 drop, stat2 tx, stat3 abort). */
export const NFP_XDP_STAT_NAMES = ['XDP_PASS', 'XDP_DROP', 'XDP_TX', 'XDP_ABORTED'] as const;

/**
 * The verdict byte decoded: action (low nibble: 1 pass, 2 drop, 4 redirect/TX) and statistic (high
 * nibble, one bit, or none), or null when no outro could have built it.
 */
export function nfpDecodeVerdict(v: number): { action: 'pass' | 'drop' | 'tx'; stat: number } | null {
  if (v < 0 || v > 0xff) return null;
  const act = v & 0xf;
  const hi = v >>> 4;
  const stat = hi === 0 ? -1 : hi === 1 ? 0 : hi === 2 ? 1 : hi === 4 ? 2 : hi === 8 ? 3 : -2;
  if (stat === -2) return null;
  if (act === 1) return { action: 'pass', stat };
  if (act === 2) return { action: 'drop', stat };
  if (act === 4) return { action: 'tx', stat };
  return null;
}

export interface NfpPacketResult {
  /** XDP_PASS / XDP_DROP / XDP_TX / XDP_ABORTED from the verdict's statistic; XDP_PASS without a program. */
  readonly verdict: string;
  /** What the NIC does with the packet. */
  readonly action: 'pass' | 'drop' | 'tx';
  /** The verdict byte (0 when the image did not run). */
  readonly raw: number;
  readonly status: NfpPktStatusName;
  /** The output frame for pass and tx (a copy); null when dropped. */
  readonly packet: Uint8Array | null;
  /** rx_queue_index the program selected, or null. */
  readonly queue: number | null;
  /** Partial offload (paper-only): the resume word for the host (NFP_RESUME_VALID set), or 0. */
  readonly resume: number;
  readonly core: number;
  readonly ctx: number;
  readonly busy: number;
  readonly stall: number;
  /** The reconfig generation whose image ran it. */
  readonly gen: number;
  readonly tag: number;
}

/**
 * Frames the host posts between two doorbells in a burst: the cores start on the first chunk while the
 * host copies the next (a doorbell that wakes a sleeping thread costs a few microseconds).
 */
export const NFP_RX_POST_CHUNK = 1024;

/** What the NIC does with a frame: the verdict byte's low nibble, as nfp_outro_xdp builds it. */
export const NFP_ACT_PASS = 1;
export const NFP_ACT_DROP = 2;
export const NFP_ACT_TX = 4;

/** Verdict byte -> NFP_ACT_* (0: no outro builds that byte) and -> statistic (-1 none, 0..3). */
const VERDICT_ACTION = Uint8Array.from({ length: 256 }, (_, v) => {
  const d = nfpDecodeVerdict(v);
  return d === null ? 0 : d.action === 'pass' ? NFP_ACT_PASS : d.action === 'drop' ? NFP_ACT_DROP : NFP_ACT_TX;
});
const VERDICT_STAT = Int8Array.from({ length: 256 }, (_, v) => nfpDecodeVerdict(v)?.stat ?? -1);

/**
 * The completed RX descriptors of a burst, by frame index, in typed arrays that the caller keeps and
 * the next burst reuses (they grow, never shrink): the driver reads verdicts and output frames from
 * here without an object per frame. Output frames (pass, TX) are copied out of the rings into `data`,
 * so the rings can take the next burst while the host still works on this one.
 */
export class NfpRxBurst {
  /** Frames in the burst. */
  n = 0;
  /** NFP_ACT_*: pass to the host, drop, or transmit (a descriptor that is no verdict is a drop). */
  action = new Uint8Array(0);
  /** The verdict as XDP names it: an index into NFP_XDP_STAT_NAMES. */
  verdict = new Uint8Array(0);
  /** NFP_PKT_* status (an index into NFP_PKT_STATUS_NAMES). */
  status = new Uint8Array(0);
  /** The verdict byte (0 when the image did not run). */
  raw = new Int32Array(0);
  /** Partial offload (paper-only): the resume word, or 0. */
  resume = new Uint32Array(0);
  /** rx_queue_index the program selected, -1 for none. */
  queue = new Int32Array(0);
  core = new Int32Array(0);
  ctx = new Int32Array(0);
  busy = new Int32Array(0);
  stall = new Int32Array(0);
  gen = new Int32Array(0);
  /**
   * The output frame of a pass or TX: bytes outStart .. outStart + outLen of `data`. outStart -1: the
   * input frame itself (no program ran, so nothing changed it).
   */
  outStart = new Int32Array(0);
  outLen = new Int32Array(0);
  data = new Uint8Array(0);
  /** `data` as 32-bit words (copies move words where source and destination align alike). */
  data32 = new Int32Array(0);
  /** Bytes of `data` in use. */
  dataUsed = 0;

  constructor(capacity = 0) {
    this.reset(capacity);
    this.n = 0;
  }

  /** Make room for n frames and forget the last burst. */
  reset(n: number): void {
    if (n > this.action.length) {
      const c = Math.max(n, this.action.length * 2, 64);
      this.action = new Uint8Array(c);
      this.verdict = new Uint8Array(c);
      this.status = new Uint8Array(c);
      this.raw = new Int32Array(c);
      this.resume = new Uint32Array(c);
      this.queue = new Int32Array(c);
      this.core = new Int32Array(c);
      this.ctx = new Int32Array(c);
      this.busy = new Int32Array(c);
      this.stall = new Int32Array(c);
      this.gen = new Int32Array(c);
      this.outStart = new Int32Array(c);
      this.outLen = new Int32Array(c);
    }
    this.n = n;
    this.dataUsed = 0;
  }

  /** Room for `bytes` bytes of output frames in all (the copies made so far kept). */
  reserveData(bytes: number): void {
    if (bytes <= this.data.length) return;
    const d = new Uint8Array((Math.max(bytes, this.data.length * 2, 1 << 16) + 3) & ~3);
    d.set(this.data.subarray(0, this.dataUsed));
    this.data = d;
    this.data32 = new Int32Array(d.buffer);
  }

  /** Frame i's output as a view of `data` (valid until the burst is reused); null when it was dropped. */
  packet(i: number, input: Uint8Array): Uint8Array | null {
    if (this.action[i] === NFP_ACT_DROP) return null;
    const s = this.outStart[i]!;
    return s < 0 ? input : this.data.subarray(s, s + this.outLen[i]!);
  }
}

export interface NfpCoreStats {
  readonly core: number;
  readonly packets: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  /** Verdict statistics 0..3: pass, drop, tx, abort. */
  readonly stats: readonly [number, number, number, number];
  readonly actions: { readonly pass: number; readonly drop: number; readonly tx: number };
  readonly noProg: number;
  readonly errors: { readonly malformed: number; readonly oversize: number; readonly fault: number; readonly badVerdict: number; readonly badPv: number };
  readonly batches: number;
  readonly busy: readonly number[];
  readonly stall: readonly number[];
  /** nfpCoreCycles() over the contexts' busy and stall cycles: the ME's time for these packets. */
  readonly cycles: number;
}

export interface NfpPoolStats {
  readonly perCore: readonly NfpCoreStats[];
  readonly packets: number;
  readonly stats: readonly [number, number, number, number];
  readonly errors: number;
  readonly noProg: number;
  /** Modeled ME cycles per packet, over every core that ran packets. */
  readonly cyclesPerPacket: number;
  /** The card's modeled packets/s: every core busy at this many cycles per packet, at the firmware's clock. */
  readonly modeledPps: number;
  readonly clockMhz: number;
  readonly helpers: { lookups: number; hits: number; updates: number; deletes: number; events: number; eventDrops: number; badTid: number; compiles: number; faults: number };
}

export interface NfpCorePoolOptions {
  /** RX slots per core (default 256). */
  readonly slots?: number;
  /** Longest frame a slot holds (default 2048). */
  readonly maxFrame?: number;
  readonly port?: number;
  readonly engine?: 'js' | 'interpreter';
  readonly maxCycles?: number;
  /** Event ring per group: slots and bytes per slot. */
  readonly evSlots?: number;
  readonly evSlotBytes?: number;
  /** BPF_EVENT messages from perf_event_output, in the ccm wire format (ccm.ts), as the host drains them. */
  readonly onEvent?: (msg: Uint8Array) => void;
}

/**
 * Serialises the host's users of the rings (run, rxBurst, generate): one packet stream at a time owns
 * them. A caller that finds them free starts at once, synchronously (a burst is posted and the cores
 * rung before lock() returns), so that the driver can hand the cores its next burst and then do its
 * own work on the previous one while they run; the others wait their turn in order.
 */
class Mutex {
  private held = false;
  private readonly waiting: (() => void)[] = [];

  lock<T>(f: () => Promise<T>): Promise<T> {
    if (!this.held) {
      this.held = true;
      return this.hold(f);
    }
    return new Promise<void>((resolve) => this.waiting.push(resolve)).then(() => this.hold(f));
  }

  private async hold<T>(f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } finally {
      // Handed straight to the next waiter (held stays set), or released.
      const next = this.waiting.shift();
      if (next !== undefined) next();
      else this.held = false;
    }
  }
}

export class NfpCorePool {
  readonly layout: NfpCoresLayout;
  readonly shared: NfpCoresShared;
  readonly clockMhz: number;
  private readonly i32: Int32Array;
  private readonly u8: Uint8Array;
  private readonly f64: Float64Array;
  private readonly hdr: Int32Array;
  /** Per core: slots the host has harvested (free-running, like R_PROD). */
  private readonly harvested: Int32Array;
  private nextCore = 0;
  /** Per core: the host's producer index (it owns R_PROD), the ring header's Int32 index, slot 0's byte offset. */
  private readonly prod: Int32Array;
  private readonly ringHdr: Int32Array;
  private readonly slot0: Int32Array;
  private readonly mutex = new Mutex();
  private readonly onEvent: ((msg: Uint8Array) => void) | undefined;
  private stopped = false;
  /**
   * Why a burst was given up (its ETIMEDOUT): its frames may still complete into the rings later, where
   * the next burst would take their descriptors for its own, so nothing more is posted.
   */
  private hung: string | undefined;

  private constructor(shared: NfpCoresShared, clockMhz: number, readonly runner: NfpCoreRunner, onEvent: ((msg: Uint8Array) => void) | undefined) {
    this.shared = shared;
    this.layout = shared.layout;
    this.clockMhz = clockMhz;
    this.i32 = new Int32Array(shared.sab);
    this.u8 = new Uint8Array(shared.sab);
    this.f64 = new Float64Array(shared.sab);
    this.hdr = new Int32Array(shared.sab, 0, HDR_BYTES >> 2);
    this.harvested = new Int32Array(this.layout.cores);
    this.prod = new Int32Array(this.layout.cores);
    this.ringHdr = Int32Array.from({ length: this.layout.cores }, (_, c) => ringHdrOff(this.layout, c) >> 2);
    this.slot0 = Int32Array.from({ length: this.layout.cores }, (_, c) => slotOff(this.layout, c, 0));
    this.onEvent = onEvent;
  }

  /** Lay out the rings for a card and start its cores with `starter`. */
  static async start(device: NfpDevice | NfpDeviceShared, starter: NfpCoreStarter, opts: NfpCorePoolOptions = {}): Promise<NfpCorePool> {
    const dev = 'shared' in device && typeof device.shared === 'function' ? device.shared() : device as NfpDeviceShared;
    const img = dev.image;
    const dp = img.datapath;
    const groups = starter.groups(dp.cores);
    const layout = nfpCoresLayout({
      cores: dp.cores, threadsPerCore: dp.threadsPerCore, ctmIslands: img.memory.ctmIslands, ctmBytesPerIsland: img.memory.ctmBytesPerIsland,
      groups, slots: opts.slots ?? 256, maxFrame: opts.maxFrame ?? 2048, evSlots: opts.evSlots ?? 64, evSlotBytes: opts.evSlotBytes ?? 512,
    });
    let sab: SharedArrayBuffer;
    try {
      sab = new SharedArrayBuffer(layout.totalBytes);
    } catch (e) {
      throw new BpfError('ENOMEM', `nfp cores: cannot allocate ${layout.totalBytes} bytes of rings`, { cause: e });
    }
    const port = opts.port ?? 0;
    if (!Number.isInteger(port) || port < 0 || port >= dev.bars.length) throw new BpfError('EINVAL', `nfp cores: no port ${port}`);
    const hdr = new Int32Array(sab, 0, HDR_BYTES >> 2);
    hdr[H_MAGIC] = NFP_CORES_MAGIC;
    hdr[H_CORES] = layout.cores;
    hdr[H_GROUPS] = layout.groups;
    hdr[H_SLOTS] = layout.slots;
    hdr[H_SLOT_BYTES] = layout.slotBytes;
    hdr[H_MAX_FRAME] = layout.maxFrame;
    hdr[H_PORT] = port;
    hdr[H_EV_SLOTS] = layout.evSlots;
    hdr[H_EV_SLOT_BYTES] = layout.evSlotBytes;
    hdr[H_ENGINE] = opts.engine === 'interpreter' ? 1 : 0;
    const shared: NfpCoresShared = { dev, sab, layout, port, engine: opts.engine ?? 'js', maxCycles: opts.maxCycles ?? 1_000_000 };
    const runner = await starter.start(shared);
    return new NfpCorePool(shared, dp.clockMhz, runner, opts.onEvent);
  }

  get cores(): number {
    return this.layout.cores;
  }

  /** In-process cores: run what is due now (a no-op with worker threads, which run by themselves). */
  pump(): void {
    this.runner.pump?.();
    this.drainEvents();
  }

  private check(): void {
    if (this.stopped) throw new BpfError('ENODEV', 'nfp cores: the pool is stopped');
    if (this.hung !== undefined) throw new BpfError('EIO', `nfp cores: ${this.hung}; the datapath must be restarted`);
    if (this.runner.failure !== undefined) throw new BpfError('EIO', `nfp cores: a core thread died: ${this.runner.failure.message}`, { cause: this.runner.failure });
  }

  /** Free slots in a core's ring. */
  room(core: number): number {
    const prod = this.i32[(ringHdrOff(this.layout, core) >> 2) + R_PROD]!;
    return this.layout.slots - ((prod - this.harvested[core]!) | 0);
  }

  /**
   * Put a frame on a core's RX ring; false when the ring is full. A frame longer than a slot is still
   * posted (its length only) and comes back with status 'oversize', as the NIC would count and drop it.
   */
  post(core: number, frame: Uint8Array, tag = 0): boolean {
    const l = this.layout;
    const rh = ringHdrOff(l, core) >> 2;
    if (this.i32[rh + R_LOOP] !== 0) throw new BpfError('EBUSY', `nfp cores: core ${core} is generating traffic`);
    const prod = this.i32[rh + R_PROD]!;
    if (((prod - this.harvested[core]!) | 0) >= l.slots) return false;
    const so = slotOff(l, core, (prod >>> 0) & (l.slots - 1));
    const d = so >> 2;
    this.i32[d + D_LEN] = frame.length;
    this.i32[d + D_TAG] = tag;
    this.i32[d + D_STATUS] = -1;
    if (frame.length <= l.maxFrame) this.u8.set(frame, so + SLOT_DATA);
    Atomics.store(this.i32, rh + R_PROD, (prod + 1) | 0);
    return true;
  }

  /** Wake the cores: packets are waiting. */
  kick(): void {
    Atomics.add(this.hdr, H_DOORBELL, 1);
    Atomics.notify(this.hdr, H_DOORBELL);
  }

  /** Packets a core has completed and the host has not harvested. */
  completed(core: number): number {
    const cons = Atomics.load(this.i32, (ringHdrOff(this.layout, core) >> 2) + R_CONS);
    return (cons - this.harvested[core]!) | 0;
  }

  /** Read the next completed slot of a core (call completed() first). */
  harvest(core: number): NfpPacketResult {
    const l = this.layout;
    const h = this.harvested[core]!;
    const so = slotOff(l, core, (h >>> 0) & (l.slots - 1));
    const d = so >> 2;
    const raw = this.i32[d + D_VERDICT]!;
    const status = this.i32[d + D_STATUS]!;
    const dec = nfpDecodeVerdict(raw);
    const action = status === NFP_PKT_NO_PROG ? 'pass' : status !== NFP_PKT_OK || dec === null ? 'drop' : dec.action;
    const verdict = status === NFP_PKT_NO_PROG ? 'XDP_PASS' : dec !== null && dec.stat >= 0 && status === NFP_PKT_OK ? NFP_XDP_STAT_NAMES[dec.stat]! : action === 'drop' ? 'XDP_DROP' : action === 'tx' ? 'XDP_TX' : 'XDP_PASS';
    let packet: Uint8Array | null = null;
    if (action !== 'drop') {
      const off = so + SLOT_DATA + this.i32[d + D_OUT_OFF]!;
      packet = this.u8.slice(off, off + this.i32[d + D_OUT_LEN]!);
    }
    const q = this.i32[d + D_QSEL]!;
    this.harvested[core] = (h + 1) | 0;
    return {
      verdict, action, raw, status: NFP_PKT_STATUS_NAMES[status] ?? 'fault', packet, queue: q & 0x10000 ? q & 0xffff : null, resume: this.i32[d + D_META]! >>> 0,
      core, ctx: this.i32[d + D_CTX]!, busy: this.i32[d + D_BUSY]!, stall: this.i32[d + D_STALL]!, gen: this.i32[d + D_GEN]!, tag: this.i32[d + D_TAG]!,
    };
  }

  /**
   * Wait until the completion counter reaches `seen + want` — or `ms` pass; in-process, pump instead.
   * The cores notify only once H_DONE reaches H_WAKE_AT, so the host sleeps through the batches before
   * (and a count that moved, but not far enough, is waited for again, not spun on).
   */
  private async progress(seen: number, ms: number, want = 1): Promise<void> {
    if (this.runner.pump !== undefined) {
      this.pump();
      return;
    }
    const target = (seen + Math.max(1, want)) | 0;
    Atomics.store(this.hdr, H_WAKE_AT, target);
    const until = performance.now() + ms;
    for (;;) {
      // H_WAKE_AT is stored before H_DONE is read: a core that adds after this read sees the target.
      const cur = Atomics.load(this.hdr, H_DONE);
      if (((cur - target) | 0) >= 0 || this.runner.failure !== undefined) break;
      const left = until - performance.now();
      if (left <= 0) break;
      const w = Atomics.waitAsync(this.hdr, H_DONE, cur, left);
      if (w.async && (await w.value) === 'timed-out') break;
    }
    this.drainEvents();
  }

  /**
   * Run frames through the cores and return one result per frame, in order. `core` pins every frame
   * to one core; by default they go round-robin over all cores (the NIC's distribution is not
   * modeled). Only one run() uses the rings at a time. The burst path (rxBurst) with an object and a
   * copy per frame: for tests and BPF_PROG_TEST_RUN, not the receive path.
   */
  run(frames: readonly Uint8Array[], opts: { core?: number; timeoutMs?: number } = {}): Promise<NfpPacketResult[]> {
    const res = new NfpRxBurst(frames.length);
    return this.rxBurst(frames, res, opts).then(() => {
      const out = new Array<NfpPacketResult>(frames.length);
      for (let i = 0; i < frames.length; i++) {
        const act = res.action[i]!;
        const q = res.queue[i]!;
        const p = res.packet(i, frames[i]!);
        out[i] = {
          verdict: NFP_XDP_STAT_NAMES[res.verdict[i]!]!, action: act === NFP_ACT_PASS ? 'pass' : act === NFP_ACT_TX ? 'tx' : 'drop', raw: res.raw[i]!,
          status: NFP_PKT_STATUS_NAMES[res.status[i]!] ?? 'fault', packet: p === null ? null : p.slice(), queue: q < 0 ? null : q, resume: res.resume[i]!,
          core: res.core[i]!, ctx: res.ctx[i]!, busy: res.busy[i]!, stall: res.stall[i]!, gen: res.gen[i]!, tag: i,
        };
      }
      return out;
    });
  }

  /**
   * The driver's receive path for a burst of frames (a NAPI poll's worth, or many): the frames go onto
   * the cores' RX rings round-robin (or all onto `core`), the producer indices are published and the
   * doorbell rung once per NFP_RX_POST_CHUNK frames posted (the cores start on the first chunk while
   * the host copies the rest), and every pass over the rings reads all the completed descriptors into
   * `res`, by frame index (each descriptor's tag), before the host sleeps until the rest are done — one
   * wake-up, not one per frame. A burst larger than the rings is posted as they drain. Nothing is
   * allocated per frame, and no message passes per frame.
   *
   * A caller that finds the rings free has its burst posted before this returns (the promise settles
   * when every frame is done): a driver can start the next burst and then finish the last one's host
   * work while the cores run.
   */
  rxBurst(frames: readonly Uint8Array[], res: NfpRxBurst, opts: { core?: number; timeoutMs?: number } = {}): Promise<void> {
    const l = this.layout;
    if (opts.core !== undefined && (!Number.isInteger(opts.core) || opts.core < 0 || opts.core >= l.cores)) {
      return Promise.reject(new BpfError('EINVAL', `nfp cores: no core ${opts.core}`));
    }
    return this.mutex.lock(() => this.rxBurstHeld(frames, res, opts.core ?? -1, opts.timeoutMs ?? 60_000));
  }

  private async rxBurstHeld(frames: readonly Uint8Array[], res: NfpRxBurst, pin: number, timeoutMs: number): Promise<void> {
    this.check();
    const n = frames.length;
    res.reset(n);
    for (let c = 0; c < this.layout.cores; c++) {
      const rh = this.ringHdr[c]!;
      if (this.i32[rh + R_LOOP] !== 0) throw new BpfError('EBUSY', `nfp cores: core ${c} is generating traffic`);
      this.prod[c] = this.i32[rh + R_PROD]!;
    }
    const deadline = performance.now() + timeoutMs;
    let next = this.postBurst(frames, 0, pin);
    let done = 0;
    while (done < n) {
      // Read H_DONE before the rings: a completion after this pass changes it, and the wait returns.
      const seen = Atomics.load(this.hdr, H_DONE);
      const got = this.harvestBurst(res, pin);
      done += got;
      if (next < n && got > 0) next = this.postBurst(frames, next, pin);
      if (done >= n) break;
      if (got === 0) {
        this.check();
        if (performance.now() > deadline) {
          this.hung = `a burst timed out with ${n - done} of ${n} packets not completed`;
          throw new BpfError('ETIMEDOUT', `nfp cores: ${n - done} of ${n} packets not completed`);
        }
        // Woken once the frames in flight are done (half of them, while more wait for ring room).
        const inFlight = next - done;
        await this.progress(seen, 100, next < n ? inFlight >> 1 : inFlight);
      }
    }
    this.drainEvents();
  }

  /**
   * Post frames[from..] until the burst is posted or the next frame's ring is full; publish the
   * producer indices and ring the doorbell per chunk. Returns the index of the first frame not posted.
   */
  private postBurst(frames: readonly Uint8Array[], from: number, pin: number): number {
    const l = this.layout;
    const i32 = this.i32;
    const u8 = this.u8;
    const prod = this.prod;
    const harvested = this.harvested;
    const slot0 = this.slot0;
    const cores = l.cores;
    const slots = l.slots;
    const mask = slots - 1;
    const slotBytes = l.slotBytes;
    const maxFrame = l.maxFrame;
    const n = frames.length;
    let core = pin >= 0 ? pin : this.nextCore;
    let i = from;
    while (i < n) {
      const end = Math.min(n, i + NFP_RX_POST_CHUNK);
      const first = i;
      for (; i < end; i++) {
        const p = prod[core]!;
        if (((p - harvested[core]!) | 0) >= slots) break;
        const so = slot0[core]! + (p & mask) * slotBytes;
        const f = frames[i]!;
        const len = f.length;
        i32[(so >> 2) + D_LEN] = len;
        i32[(so >> 2) + D_TAG] = i;
        // A frame longer than a slot goes with its length only: the core counts and drops it (oversize).
        if (len <= maxFrame) u8.set(f, so + SLOT_DATA);
        prod[core] = (p + 1) | 0;
        if (pin < 0) core = core + 1 === cores ? 0 : core + 1;
      }
      if (i === first) break;
      this.publish(pin);
      if (i < end) break;
    }
    if (pin < 0) this.nextCore = core;
    return i;
  }

  /** Make the posted descriptors visible to the cores (their producer indices) and ring the doorbell. */
  private publish(pin: number): void {
    const i32 = this.i32;
    const from = pin >= 0 ? pin : 0;
    const to = pin >= 0 ? pin + 1 : this.layout.cores;
    for (let c = from; c < to; c++) {
      const rh = this.ringHdr[c]!;
      const p = this.prod[c]!;
      if (i32[rh + R_PROD] !== p) Atomics.store(i32, rh + R_PROD, p);
    }
    this.kick();
  }

  /** One pass over the rings: every completed descriptor into `res`. Returns how many. */
  private harvestBurst(res: NfpRxBurst, pin: number): number {
    const l = this.layout;
    const i32 = this.i32;
    const harvested = this.harvested;
    const mask = l.slots - 1;
    const slotBytes = l.slotBytes;
    const from = pin >= 0 ? pin : 0;
    const to = pin >= 0 ? pin + 1 : l.cores;
    let got = 0;
    for (let c = from; c < to; c++) {
      const cons = Atomics.load(i32, this.ringHdr[c]! + R_CONS);
      const h0 = harvested[c]!;
      if (cons === h0) continue;
      let h = h0;
      const base = this.slot0[c]!;
      for (; h !== cons; h = (h + 1) | 0) {
        const so = base + (h & mask) * slotBytes;
        const d = so >> 2;
        const i = i32[d + D_TAG]!;
        const raw = i32[d + D_VERDICT]!;
        const status = i32[d + D_STATUS]!;
        // As harvest() decides: no program passes; a failed packet or a byte no outro builds drops.
        const ok = status === NFP_PKT_OK && raw >= 0 && raw <= 0xff;
        const dec = ok ? VERDICT_ACTION[raw]! : 0;
        const act = status === NFP_PKT_NO_PROG ? NFP_ACT_PASS : dec === 0 ? NFP_ACT_DROP : dec;
        const stat = ok && dec !== 0 ? VERDICT_STAT[raw]! : -1;
        res.action[i] = act;
        res.verdict[i] = stat >= 0 ? stat : act === NFP_ACT_DROP ? 1 : act === NFP_ACT_TX ? 2 : 0;
        res.status[i] = status;
        res.raw[i] = raw;
        res.resume[i] = i32[d + D_META]!;
        const q = i32[d + D_QSEL]!;
        res.queue[i] = (q & 0x10000) !== 0 ? q & 0xffff : -1;
        res.core[i] = c;
        res.ctx[i] = i32[d + D_CTX]!;
        res.busy[i] = i32[d + D_BUSY]!;
        res.stall[i] = i32[d + D_STALL]!;
        res.gen[i] = i32[d + D_GEN]!;
        if (act === NFP_ACT_DROP) continue;
        const len = i32[d + D_OUT_LEN]!;
        res.outLen[i] = len;
        res.outStart[i] = status === NFP_PKT_NO_PROG ? -1 : this.copyOut(res, so + SLOT_DATA + i32[d + D_OUT_OFF]!, len);
      }
      harvested[c] = h;
      got += (h - h0) | 0;
    }
    return got;
  }

  /** Copy an output frame out of its ring slot into the burst's data; returns where it starts there. */
  private copyOut(res: NfpRxBurst, from: number, len: number): number {
    // Placed to align with the source modulo 4, so the body moves as words.
    let pos = res.dataUsed;
    pos += (from - pos) & 3;
    res.reserveData(pos + len);
    const dst = res.data;
    const src = this.u8;
    let k = 0;
    const head = Math.min(len, (4 - (from & 3)) & 3);
    for (; k < head; k++) dst[pos + k] = src[from + k]!;
    const words = (len - k) >> 2;
    const s32 = (from + k) >> 2;
    const d32 = (pos + k) >> 2;
    const d = res.data32;
    const i32 = this.i32;
    for (let w = 0; w < words; w++) d[d32 + w] = i32[s32 + w]!;
    for (k += words << 2; k < len; k++) dst[pos + k] = src[from + k]!;
    res.dataUsed = pos + len;
    return pos;
  }

  /**
   * The traffic generator (the bench's wire): each core in `cores` replays `templates` (or the ones
   * the function gives that core: a flow stays on one core, as a NIC's flow hash keeps it) until it
   * has taken `packetsPerCore` packets; resolves when all have. Verdicts are counted in the
   * statistics; outputs go to the wire (a scratch buffer).
   */
  generate(
    templates: readonly Uint8Array[] | ((core: number) => readonly Uint8Array[]),
    packetsPerCore: number,
    opts: { cores?: readonly number[]; timeoutMs?: number } = {},
  ): Promise<void> {
    return this.mutex.lock(async () => {
      this.check();
      const l = this.layout;
      const of = typeof templates === 'function' ? templates : (): readonly Uint8Array[] => templates;
      if (!Number.isSafeInteger(packetsPerCore) || packetsPerCore < 0 || packetsPerCore > 0x7fffffff) throw new BpfError('EINVAL', `nfp cores: ${packetsPerCore} packets per core`);
      const cores = opts.cores ?? Array.from({ length: l.cores }, (_, i) => i);
      const target = new Map<number, number>();
      for (const c of cores) {
        const mine = of(c);
        if (mine.length === 0 || mine.length > l.slots) throw new BpfError('EINVAL', `nfp cores: 1..${l.slots} templates per core, not ${mine.length}`);
      }
      for (const c of cores) {
        const rh = ringHdrOff(l, c) >> 2;
        const cons = Atomics.load(this.i32, rh + R_CONS);
        if (this.i32[rh + R_PROD] !== cons || this.harvested[c] !== cons) throw new BpfError('EBUSY', `nfp cores: core ${c} has packets in flight`);
        const mine = of(c);
        mine.forEach((t, i) => {
          const so = slotOff(l, c, i);
          this.i32[(so >> 2) + D_LEN] = t.length;
          this.i32[(so >> 2) + D_TAG] = i;
          if (t.length <= l.maxFrame) this.u8.set(t, so + SLOT_DATA);
        });
        this.i32[rh + R_LOOP] = mine.length;
        this.i32[rh + R_BASE] = cons;
        target.set(c, (cons + packetsPerCore) | 0);
        Atomics.store(this.i32, rh + R_PROD, (cons + packetsPerCore) | 0);
      }
      this.kick();
      const deadline = performance.now() + (opts.timeoutMs ?? 600_000);
      try {
        for (;;) {
          this.check();
          const seen = Atomics.load(this.hdr, H_DONE);
          let left = 0;
          for (const c of cores) left += (target.get(c)! - Atomics.load(this.i32, (ringHdrOff(l, c) >> 2) + R_CONS)) | 0;
          if (left === 0) break;
          if (performance.now() > deadline) throw new BpfError('ETIMEDOUT', 'nfp cores: the generator did not finish');
          await this.progress(seen, 100, left);
        }
      } finally {
        // Whatever was not taken is withdrawn; the ring goes back to normal at the consumer index.
        for (const c of cores) {
          const rh = ringHdrOff(l, c) >> 2;
          const cons = Atomics.load(this.i32, rh + R_CONS);
          this.harvested[c] = cons;
          if (cons === target.get(c)) {
            this.i32[rh + R_LOOP] = 0;
          } else {
            Atomics.store(this.i32, rh + R_PROD, cons);
          }
        }
      }
      this.drainEvents();
    });
  }

  /** Hand the BPF_EVENT messages the cores produced to onEvent (or drop them); returns how many. */
  drainEvents(sink = this.onEvent): number {
    const l = this.layout;
    let n = 0;
    for (let g = 0; g < l.groups; g++) {
      const eh = evOff(l, g) >> 2;
      let cons = this.i32[eh + E_CONS]!;
      const prod = Atomics.load(this.i32, eh + E_PROD);
      while (cons !== prod) {
        const so = evSlotOff(l, g, (cons >>> 0) % l.evSlots);
        const len = this.i32[so >> 2]!;
        if (sink !== undefined) sink(this.u8.slice(so + 4, so + 4 + len));
        cons = (cons + 1) | 0;
        n++;
      }
      Atomics.store(this.i32, eh + E_CONS, cons);
    }
    return n;
  }

  /** Per-core and total statistics, with the cycle model's figures. */
  stats(): NfpPoolStats {
    const l = this.layout;
    const f = this.f64;
    const perCore: NfpCoreStats[] = [];
    let packets = 0, errors = 0, noProg = 0, cyc = 0, cycPackets = 0;
    const st: [number, number, number, number] = [0, 0, 0, 0];
    for (let c = 0; c < l.cores; c++) {
      const s = statOff(l, c) >> 3;
      const busy = Array.from({ length: l.threadsPerCore }, (_, t) => f[s + S_BUSY0 + t]!);
      const stall = Array.from({ length: l.threadsPerCore }, (_, t) => f[s + S_STALL0 + t]!);
      const sb = busy.reduce((a, b) => a + b, 0);
      const ss = stall.reduce((a, b) => a + b, 0);
      const cs: NfpCoreStats = {
        core: c, packets: f[s + S_PACKETS]!, bytesIn: f[s + S_BYTES_IN]!, bytesOut: f[s + S_BYTES_OUT]!,
        stats: [f[s + S_STAT0]!, f[s + S_STAT0 + 1]!, f[s + S_STAT0 + 2]!, f[s + S_STAT0 + 3]!],
        actions: { pass: f[s + S_ACT_PASS]!, drop: f[s + S_ACT_DROP]!, tx: f[s + S_ACT_TX]! },
        noProg: f[s + S_NO_PROG]!,
        errors: { malformed: f[s + S_MALFORMED]!, oversize: f[s + S_OVERSIZE]!, fault: f[s + S_FAULT]!, badVerdict: f[s + S_BAD_VERDICT]!, badPv: f[s + S_BAD_PV]! },
        batches: f[s + S_BATCHES]!, busy, stall, cycles: nfpCoreCycles(sb, ss, l.threadsPerCore),
      };
      perCore.push(cs);
      packets += cs.packets;
      noProg += cs.noProg;
      errors += cs.errors.malformed + cs.errors.oversize + cs.errors.fault + cs.errors.badVerdict + cs.errors.badPv;
      for (let i = 0; i < 4; i++) st[i] = st[i]! + cs.stats[i]!;
      const ran = cs.packets - cs.noProg - cs.errors.malformed - cs.errors.oversize;
      if (ran > 0) {
        cyc += cs.cycles;
        cycPackets += ran;
      }
    }
    const helpers = { lookups: 0, hits: 0, updates: 0, deletes: 0, events: 0, eventDrops: 0, badTid: 0, compiles: 0, faults: 0 };
    for (let g = 0; g < l.groups; g++) {
      const s = gstatOff(l, g) >> 3;
      helpers.lookups += f[s + G_LOOKUPS]!;
      helpers.hits += f[s + G_HITS]!;
      helpers.updates += f[s + G_UPDATES]!;
      helpers.deletes += f[s + G_DELETES]!;
      helpers.events += f[s + G_EVENTS]!;
      helpers.eventDrops += f[s + G_EVENT_DROPS]!;
      helpers.badTid += f[s + G_BAD_TID]!;
      helpers.compiles += f[s + G_COMPILES]!;
      helpers.faults += f[s + G_FAULTS]!;
    }
    const cpp = cycPackets > 0 ? cyc / cycPackets : 0;
    return {
      perCore, packets, stats: st, errors, noProg, cyclesPerPacket: cpp,
      modeledPps: cpp > 0 ? (l.cores * this.clockMhz * 1e6) / cpp : 0, clockMhz: this.clockMhz, helpers,
    };
  }

  /** The last error text a group recorded (an image that failed to load, a packet that faulted). */
  lastError(group = 0): string {
    const o = gerrOff(this.layout, group);
    const len = this.i32[o >> 2]!;
    if (len <= 0) return '';
    return new TextDecoder().decode(this.u8.slice(o + 4, o + 4 + Math.min(len, G_ERR_TEXT_BYTES - 4)));
  }

  /** Zero every counter (between measurements; no packet may be in flight). */
  resetStats(): void {
    for (let c = 0; c < this.layout.cores; c++) this.f64.fill(0, statOff(this.layout, c) >> 3, (statOff(this.layout, c) >> 3) + STAT_WORDS);
  }

  /** The image generation every group runs now (equal once a reconfig is acknowledged). */
  get imageGen(): number {
    return Atomics.load(this.hdr, H_IMAGE_GEN);
  }

  /** Stop the cores (their threads end); run() and generate() then fail with ENODEV. */
  stop(): Promise<void> {
    this.stopped = true;
    return this.runner.stop();
  }
}
