// The BPF firmware's datapath: what each NFP core does for every packet, and the loop a group of cores
// runs in one thread — Netronome's nic-firmware apps/nic/ebpf.uc (ebpf_call and its packet handling)
// as the emulator models it. The host's side of the rings, the layout and the starters are in
// src/nic/cores.ts; the JIT<->firmware contract is /work/notes/contract-fw-abi.md.
//
// Per packet, a core:
//   1. takes the next descriptor of its RX ring and checks it (a length that is no frame, or a frame
//      longer than the slot, is counted and dropped: never a crash);
//   2. copies the frame's first INL_MTU*64-32 bytes (the split point) into its CTM packet buffer at
//      NFP_PKT_OFFSET — the receive DMA of the real card — and fills the context's packet vector in
//      LMEM: pv_len (length | firmware flags), pv_ctm_ptr (buffer number << 16 | offset), queue
//      selection cleared;
//   3. points LM pointer 0 and A22 at the context's stack, LM pointer 1 at the packet vector, zeroes the
//      tail-call count (A26) and the resume word (paper-only tail calls), and runs the image from
//      BPF_START until it branches to BPF_DONE (helpers: firmware/helpers.ts);
//   4. decodes the verdict byte from A0 bits 23:16, counts statistic 0..3, and for pass/TX copies the
//      (possibly head- or tail-adjusted) packet back to the slot — the transmit DMA — with, for a pass,
//      the resume word a tail call into a host program left (paper-only partial offload);
//   5. charges its own receive/transmit work (NFP_FW_PKT_BUSY / NFP_FW_PKT_STALL) on top of the image's
//      cycles, in the context that ran the packet.
//
// Packets are assigned to the core's contexts in turn; the contexts run one after another here, and
// the cycle model (nfpCoreCycles) credits the latency they would hide behind each other. A group of
// cores (one worker thread) runs one packet at a time, so it needs one CTM packet buffer per island.
//
// Images change only between batches. The first group watches the vNIC BAR's UPDATE word (the
// firmware's reconfig handler), publishes a request in the pool header, and acknowledges it in the BAR
// once every group has switched; each group translates a new image to JavaScript once (NfpJsEngine).

import { BpfError } from '../src/bpf/errno.js';
import {
  DESC_BYTES, D_BUSY, D_CTX, D_GEN, D_LEN, D_META, D_OUT_LEN, D_OUT_OFF, D_QSEL, D_STALL, D_STATUS, D_VERDICT, ETH_HLEN, E_DROPS, E_PROD, E_CONS,
  G_BAD_TID, G_COMPILES, G_DELETES, G_ERR_TEXT_BYTES, G_EVENTS, G_EVENT_DROPS, G_FAULTS, G_HITS, G_LOOKUPS, G_UPDATES, H_ACK, H_ACK_ERR,
  H_DONE, H_DOORBELL, H_ENABLED, H_WAKE_AT, H_GROUPS, H_IMAGE_ADDR, H_IMAGE_GEN, H_IMAGE_SIZE, H_LOAD_SEQ, H_READY, H_STOP, NFP_CTM_BUF_SHIFT,
  NFP_PKT_BAD_PV, NFP_PKT_BAD_VERDICT, NFP_PKT_FAULT, NFP_PKT_MALFORMED, NFP_PKT_NO_PROG, NFP_PKT_OFFSET, NFP_PKT_OK, NFP_PKT_OVERSIZE,
  R_BASE, R_CONS, R_LOOP, R_PROD, SLOT_DATA, S_ACT_DROP, S_ACT_PASS, S_ACT_TX, S_BAD_PV, S_BAD_VERDICT, S_BATCHES, S_BUSY0, S_BYTES_IN,
  S_BYTES_OUT, S_FAULT, S_MALFORMED, S_NO_PROG, S_OVERSIZE, S_PACKETS, S_STALL0, S_STAT0, evOff, evSlotOff, gerrOff, gstatOff, ringHdrOff,
  scratchOff, slotOff, statOff, type NfpCoreRunner, type NfpCoreStarter, type NfpCoresLayout, type NfpCoresShared,
} from '../src/nic/cores.js';
import { NfpCore, loadImage, type NfpEngine } from '../src/nic/core.js';
import {
  NFP_NET_CFG_BPF_ADDR, NFP_NET_CFG_BPF_SIZE, NFP_NET_CFG_CTRL, NFP_NET_CFG_CTRL_BPF, NFP_NET_CFG_UPDATE, NFP_NET_CFG_UPDATE_BPF,
  NFP_NET_CFG_UPDATE_ERR, NfpNetCtrlBar,
} from '../src/nic/ctrl-bar.js';
import { nfpEngine } from '../src/nic/exec-js.js';
import {
  NFP_BPF_VERDICT_SHIFT, NFP_PV_LM_PTR, NFP_RESUME_VALID, NFP_STACK_LM_PTR, PKT_VEC_PKT_LEN, PKT_VEC_PKT_PTR, PKT_VEC_QSEL_SET, PKT_VEC_QSEL_VAL,
  PKT_VEC_RESUME, PKT_VEL_QSEL_SET_BIT, NFP_USTORE_BANK_SHIFT, STATIC_REG_STACK, STATIC_REG_TAIL_CALL_CNT,
} from '../src/nic/isa.js';
import { NFP_USTORE_WORD, NicMemory } from '../src/nic/memory.js';
import { NfpFwHelpers, nfpFwFuncs, nfpFwTailCall, type NfpEventSink, type NfpFwTailCall } from './helpers.js';

/**
 * model: the firmware's own issue cycles per packet — taking the RX descriptor, setting up the packet
 * vector and LM pointers, the branch into the image and back, decoding the verdict, building the TX
 * descriptor and updating the statistics. Nothing public gives nic-firmware's figure; ~100 instructions
 * of microcode is what that work takes in the open nic-firmware's RX/TX paths.
 */
export const NFP_FW_PKT_BUSY = 100;
/**
 * model: memory latency the firmware's own per-packet work waits for: the work queue read that hands
 * the thread a packet (CTM), the packet metadata read (CTM) and the TX descriptor write (CTM); the
 * other contexts hide it.
 */
export const NFP_FW_PKT_STALL_CTM_ACCESSES = 3;

/** model: firmware flags in pv_len above the 14-bit length (the image must mask them off). */
export const NFP_PV_LEN_MASK = 0x3fff;
/** The packet is entirely in CTM (not split between CTM and EMEM). */
export const NFP_PV_FLAG_CTM_ONLY = 1 << 31;
/** The CTM buffer's size class (2 KiB). */
export const NFP_PV_FLAG_BUF_2K = 3 << 14;

/** Packets a core takes per batch: a replacement waits at most this long per core. */
export const NFP_FW_BATCH = 128;

/** LMEM per context: its stack (STACK_SZ * 64 bytes) at the bottom; the packet vectors after all stacks. */
const PV_BYTES = 32;

/** One core's run-time state in its group. */
interface CoreRt {
  readonly id: number;
  /** Rebuilt (same LMEM, CTM and contexts' counters) when EMEM's views are taken anew. */
  core: NfpCore;
  /** Int32 index of the ring header; statistics as a Float64 index; slot 0's byte offset; scratch. */
  readonly rh: number;
  readonly st: number;
  readonly slots: number;
  readonly scratch: number;
  /** This group's CTM packet buffer on the core's island: byte offset (== 32-bit CTM address). */
  readonly buf: number;
  /** Per context: stack base (LMEM byte address) and packet vector (LMEM byte address). */
  readonly stack: Int32Array;
  readonly pv: Int32Array;
  cons: number;
  nextCtx: number;
  /** The contexts' busy/stall counters as the statistics last took them. */
  readonly busySeen: Float64Array;
  readonly stallSeen: Float64Array;
}

/** A group of cores on one thread: the datapath loop over the pool's rings. */
export class NfpDatapath {
  readonly group: number;
  readonly first: number;
  readonly count: number;
  readonly mem: NicMemory;
  readonly helpers: NfpFwHelpers;
  readonly layout: NfpCoresLayout;
  /** The engine of the current image (null: none loaded). */
  engine: NfpEngine | null = null;
  private enabled = false;
  private gen = 0;
  private loadSeq = 0;
  private readonly shared: NfpCoresShared;
  private readonly i32: Int32Array;
  private readonly u8: Uint8Array;
  private readonly i64: BigInt64Array;
  private readonly f64: Float64Array;
  private readonly bar: NfpNetCtrlBar;
  private readonly barI32: Int32Array;
  private readonly ustore: DataView;
  private readonly cores: CoreRt[];
  private readonly start: number;
  private readonly maxLen: number;
  private readonly split: number;
  private readonly threads: number;
  private readonly maxFrame: number;
  private readonly slotMask: number;
  private readonly coordinator: boolean;
  private readonly groups: number;
  /** Coordinator: the reconfig generation waiting for every group's acknowledgement (0: none). */
  private pendingGen = 0;
  private readonly ev: Int32Array;
  private readonly evBase: number;
  private evNext = 0;
  private readonly gst: number;
  private readonly stallPerPkt: number;
  /** Paper-only tail calls: where the link list of linked programs' entry points is (null: none). */
  private readonly tailCall: NfpFwTailCall | null;

  constructor(shared: NfpCoresShared, group: number) {
    const l = shared.layout;
    if (!Number.isInteger(group) || group < 0 || group >= l.groups) throw new BpfError('EINVAL', `nfp datapath: no group ${group}`);
    this.shared = shared;
    this.layout = l;
    this.group = group;
    [this.first, this.count] = l.share[group]!;
    this.coordinator = group === 0;
    this.i32 = new Int32Array(shared.sab);
    this.u8 = new Uint8Array(shared.sab);
    this.i64 = new BigInt64Array(shared.sab);
    this.f64 = new Float64Array(shared.sab);
    this.groups = this.i32[H_GROUPS]!;
    this.mem = NicMemory.attach(shared.dev.memory);
    const img = shared.dev.image;
    this.bar = new NfpNetCtrlBar(shared.dev.bars[shared.port]);
    this.barI32 = new Int32Array(shared.dev.bars[shared.port]!);
    this.ustore = new DataView(this.mem.ustore.buffer, this.mem.ustore.byteOffset, this.mem.ustore.byteLength);
    const vb = img.vnic.bpf;
    this.start = vb.start;
    this.maxLen = vb.maxLen;
    this.threads = img.datapath.threadsPerCore;
    this.maxFrame = l.maxFrame;
    this.slotMask = l.slots - 1;
    // The split point: bytes of a frame the firmware keeps in CTM (the rest would stay in EMEM).
    this.split = vb.inlMtu > 0 ? Math.min(vb.inlMtu * 64 - 32, l.maxFrame) : l.maxFrame;
    const stackBytes = Math.max(vb.stackSz * 64, 64);
    if (this.threads * (stackBytes + PV_BYTES) > this.mem.layout.lmemBytesPerCore) {
      throw new BpfError('EINVAL', `nfp datapath: ${this.threads} contexts x (${stackBytes} B stack + packet vector) exceed ${this.mem.layout.lmemBytesPerCore} B of LMEM`);
    }
    this.evBase = evOff(l, group);
    this.ev = this.i32;
    this.gst = gstatOff(l, group) >> 3;
    const perIsland = Math.ceil(img.datapath.cores / img.memory.ctmIslands);
    this.cores = [];
    for (let id = this.first; id < this.first + this.count; id++) {
      const core = NfpCore.fromNic(this.mem, id);
      const island = Math.floor(id / perIsland);
      const bufIdx = l.ctmBuf[group]![island]!;
      const stack = new Int32Array(this.threads);
      const pv = new Int32Array(this.threads);
      for (let t = 0; t < this.threads; t++) {
        stack[t] = t * stackBytes;
        pv[t] = this.threads * stackBytes + t * PV_BYTES;
      }
      this.cores.push({
        id, core, rh: ringHdrOff(l, id) >> 2, st: statOff(l, id) >> 3, slots: slotOff(l, id, 0), scratch: scratchOff(l, id),
        buf: bufIdx << NFP_CTM_BUF_SHIFT, stack, pv, cons: Atomics.load(this.i32, (ringHdrOff(l, id) >> 2) + R_CONS), nextCtx: 0,
        busySeen: new Float64Array(this.threads), stallSeen: new Float64Array(this.threads),
      });
    }
    this.stallPerPkt = NFP_FW_PKT_STALL_CTM_ACCESSES * (this.cores[0]?.core.latency.ctm ?? 0);
    const sink: NfpEventSink = {
      u8: this.u8,
      reserve: (len) => this.evReserve(len),
      commit: () => this.evCommit(),
    };
    this.helpers = new NfpFwHelpers(this.mem, nfpFwFuncs(img), vb.done, sink);
    this.tailCall = nfpFwTailCall(img);
  }

  // ---------------------------------------------------------------- events

  private evReserve(len: number): number {
    const l = this.layout;
    const eh = this.evBase >> 2;
    const prod = this.ev[eh + E_PROD]!;
    if (len + 4 > l.evSlotBytes || ((prod - Atomics.load(this.ev, eh + E_CONS)) | 0) >= l.evSlots) {
      this.ev[eh + E_DROPS] = this.ev[eh + E_DROPS]! + 1;
      return -1;
    }
    const so = evSlotOff(l, this.group, (prod >>> 0) % l.evSlots);
    this.ev[so >> 2] = len;
    this.evNext = (prod + 1) | 0;
    return so + 4;
  }

  private evCommit(): void {
    Atomics.store(this.ev, (this.evBase >> 2) + E_PROD, this.evNext);
  }

  // ---------------------------------------------------------------- images

  /** Record an error's text where the host can read it (pool.lastError()). Off the hot path. */
  private noteError(msg: string): void {
    const o = gerrOff(this.layout, this.group);
    const b = new TextEncoder().encode(msg.slice(0, G_ERR_TEXT_BYTES - 8));
    this.u8.set(b, o + 4);
    this.i32[o >> 2] = b.length;
  }

  /** The coordinator's reconfig handler: a new UPDATE request in the BAR becomes a pool generation. */
  private reconfigStart(): void {
    if (this.pendingGen !== 0) return;
    const upd = Atomics.load(this.barI32, NFP_NET_CFG_UPDATE >> 2);
    if (upd === 0 || (upd & NFP_NET_CFG_UPDATE_ERR) !== 0) return;
    const ctrl = this.bar.readl(NFP_NET_CFG_CTRL);
    if (upd & NFP_NET_CFG_UPDATE_BPF) {
      this.i32[H_IMAGE_ADDR] = Number(this.bar.readq(NFP_NET_CFG_BPF_ADDR) & 0x7fffffffn);
      this.i32[H_IMAGE_SIZE] = this.bar.readw(NFP_NET_CFG_BPF_SIZE);
      this.i32[H_LOAD_SEQ] = (this.i32[H_LOAD_SEQ]! + 1) | 0;
    }
    this.i32[H_ENABLED] = (ctrl & NFP_NET_CFG_CTRL_BPF) !== 0 ? 1 : 0;
    const gen = (Atomics.load(this.i32, H_IMAGE_GEN) + 1) | 0;
    this.pendingGen = gen;
    Atomics.store(this.i32, H_IMAGE_GEN, gen);
    Atomics.add(this.i32, H_DOORBELL, 1);
    Atomics.notify(this.i32, H_DOORBELL);
  }

  /** The coordinator: once every group runs the new generation, answer the driver in the BAR. */
  private reconfigFinish(): void {
    const gen = this.pendingGen;
    if (gen === 0) return;
    let err = 0;
    for (let g = 0; g < this.groups; g++) {
      if (Atomics.load(this.i32, H_ACK + g) !== gen) return;
      err |= this.i32[H_ACK_ERR + g]!;
    }
    this.pendingGen = 0;
    Atomics.store(this.barI32, NFP_NET_CFG_UPDATE >> 2, err !== 0 ? NFP_NET_CFG_UPDATE_ERR : 0);
    Atomics.notify(this.barI32, NFP_NET_CFG_UPDATE >> 2);
  }

  /** Between batches: switch to the published generation (translating a new image once). */
  private syncImage(): void {
    const gen = Atomics.load(this.i32, H_IMAGE_GEN);
    if (gen === this.gen) return;
    let err = 0;
    const seq = this.i32[H_LOAD_SEQ]!;
    if (seq !== this.loadSeq) {
      this.loadSeq = seq;
      try {
        this.engine = this.translate(this.i32[H_IMAGE_ADDR]!, this.i32[H_IMAGE_SIZE]!);
        this.f64[this.gst + G_COMPILES] = this.f64[this.gst + G_COMPILES]! + 1;
      } catch (e) {
        // The old image (if any) keeps running; the driver hears "FW command error while loading BPF".
        if (!(e instanceof BpfError)) throw e;
        err = 1;
        this.noteError(`loading BPF: ${e.message}`);
      }
      this.helpers.reset(this.fixEmem());
    }
    this.enabled = this.i32[H_ENABLED] !== 0;
    this.gen = gen;
    this.i32[H_ACK_ERR + this.group] = err;
    Atomics.store(this.i32, H_ACK + this.group, gen);
  }

  /**
   * EMEM views of a fixed length: the bytes backed now. NicMemory's EMEM views track the growable
   * buffer's length, and V8 makes every access through a length-tracking view of a growable
   * SharedArrayBuffer many times slower (and contended between threads) than through a fixed-length
   * one. A loaded program reaches only the tables that existed when it was loaded (it holds its
   * maps), and EMEM only grows, so views taken at image load cover everything it can touch. The
   * cores are rebuilt on them; their contexts' cycle counters and random state carry over.
   */
  private fixEmem(): NicMemory {
    const mem = this.mem;
    const n = mem.ememSab.byteLength;
    const fixed = Object.create(mem, {
      emem: { value: new Uint8Array(mem.ememSab, 0, n) },
      ememI32: { value: new Int32Array(mem.ememSab, 0, n >> 2) },
      ememI64: { value: new BigInt64Array(mem.ememSab, 0, n >> 3) },
    }) as NicMemory;
    for (const c of this.cores) {
      const old = c.core;
      const core = NfpCore.fromNic(fixed, c.id);
      core.rng = old.rng;
      core.contexts.forEach((x, t) => {
        x.busy = old.contexts[t]!.busy;
        x.stall = old.contexts[t]!.stall;
      });
      c.core = core;
    }
    return fixed;
  }

  /** The image the driver put in the code store, decoded, checked and translated for this thread. */
  private translate(addr: number, size: number): NfpEngine {
    // A second code-store bank (paper-only tail calls, from code address 8192) lengthens what the firmware takes.
    const bank = this.tailCall?.bankInsns ?? 0;
    const maxLen = bank > 0 ? (1 << NFP_USTORE_BANK_SHIFT) + bank - this.start : this.maxLen;
    if (size <= 0 || size > maxLen) throw new BpfError('EINVAL', `an image of ${size} instructions (the firmware takes 1..${maxLen})`);
    if (addr < 0 || addr % NFP_USTORE_WORD !== 0 || addr + size * NFP_USTORE_WORD > this.ustore.byteLength) {
      throw new BpfError('EINVAL', `an image at code-store byte ${addr} of ${size} instructions is outside the code store`);
    }
    const words = new Array<bigint>(size);
    for (let i = 0; i < size; i++) words[i] = this.ustore.getBigUint64(addr + i * NFP_USTORE_WORD, true);
    const image = loadImage(words, { base: this.start, entries: this.linkedEntries() });
    return nfpEngine(this.shared.engine, image, this.helpers.hooks, { maxCycles: this.shared.maxCycles });
  }

  /**
   * Paper-only tail calls: the entry points of the programs the driver linked into the image, from the
   * link list it keeps in IMEM (reached only by the tail-call sequence's rtn: block starts for the JS
   * engine).
   */
  private linkedEntries(): number[] {
    const tc = this.tailCall;
    if (tc === null || tc.linkOff + 4 * (tc.maxLinks + 1) > this.mem.imem.byteLength) return [];
    const i32 = this.mem.imemI32;
    const w = tc.linkOff >> 2;
    const n = Math.min(Atomics.load(i32, w) >>> 0, tc.maxLinks);
    return Array.from({ length: n }, (_, i) => Atomics.load(i32, w + 1 + i));
  }

  // ---------------------------------------------------------------- packets

  /**
   * One pass: reconfig, image switch, then one batch from every core's ring. Returns the packets
   * processed (0: nothing to do).
   */
  poll(): number {
    if (this.coordinator) this.reconfigStart();
    this.syncImage();
    let n = 0;
    for (let i = 0; i < this.cores.length; i++) n += this.batch(this.cores[i]!);
    if (n > 0) {
      const done = (Atomics.add(this.i32, H_DONE, n) + n) | 0;
      if (((done - Atomics.load(this.i32, H_WAKE_AT)) | 0) >= 0) Atomics.notify(this.i32, H_DONE);
    }
    if (this.coordinator) this.reconfigFinish();
    return n;
  }

  private flushHelperStats(): void {
    const s = this.helpers.stats;
    const f = this.f64;
    const g = this.gst;
    f[g + G_LOOKUPS] = s.lookups;
    f[g + G_HITS] = s.hits;
    f[g + G_UPDATES] = s.updates;
    f[g + G_DELETES] = s.deletes;
    f[g + G_EVENTS] = s.events;
    f[g + G_EVENT_DROPS] = s.eventDrops + this.ev[(this.evBase >> 2) + E_DROPS]!;
    f[g + G_BAD_TID] = s.badTid;
  }

  /**
   * Up to NFP_FW_BATCH packets of one core's ring, start to finish (see the top of the file). The hot
   * loop keeps what it needs in locals and counts in locals too; the shared statistics are updated
   * once per batch, the per-context cycles from the contexts' own counters.
   */
  private batch(c: CoreRt): number {
    const i32 = this.i32;
    const prod = Atomics.load(i32, c.rh + R_PROD);
    let n = (prod - c.cons) | 0;
    if (n <= 0) return 0;
    if (n > NFP_FW_BATCH) n = NFP_FW_BATCH;
    const loop = i32[c.rh + R_LOOP]!;
    const base = i32[c.rh + R_BASE]!;
    const wire = loop > 0;
    const f64 = this.f64;
    const u8 = this.u8;
    const core = c.core;
    const ctm = core.ctmI32;
    const ctm64 = core.ctmI64;
    const i64 = this.i64;
    const lm = core.lm;
    const engine = this.enabled ? this.engine : null;
    const start = this.start;
    const split = this.split;
    const maxFrame = this.maxFrame;
    const threads = this.threads;
    const slotBytes = this.layout.slotBytes;
    const slotMask = this.slotMask;
    const gen = this.gen;
    const stallPerPkt = this.stallPerPkt;
    const pkt = c.buf + NFP_PKT_OFFSET;
    let bytesIn = 0, bytesOut = 0, noProg = 0, malformed = 0, oversize = 0, pass = 0, drop = 0, tx = 0;
    let st0 = 0, st1 = 0, st2 = 0, st3 = 0;
    let t = c.nextCtx;
    for (let k = 0; k < n; k++) {
      const seq = (c.cons + k) | 0;
      const slot = wire ? ((seq - base) >>> 0) % loop : (seq >>> 0) & slotMask;
      const so = c.slots + slot * slotBytes;
      const d = so >> 2;
      const len = i32[d + D_LEN]!;
      let status = NFP_PKT_OK;
      let raw = 0;
      let outOff = 0;
      let outLen = 0;
      let qsel = 0;
      let meta = 0;
      let busy = 0;
      let stall = 0;
      let ctx = -1;
      if (len < ETH_HLEN || len > maxFrame) {
        if (len < ETH_HLEN) { status = NFP_PKT_MALFORMED; malformed++; } else { status = NFP_PKT_OVERSIZE; oversize++; }
        drop++;
      } else if (engine === null) {
        status = NFP_PKT_NO_PROG;
        outLen = len;
        noProg++;
        pass++;
        bytesIn += len;
      } else {
        bytesIn += len;
        ctx = t;
        const x = core.contexts[t]!;
        t = t + 1 === threads ? 0 : t + 1;
        // Receive: the first `inl` bytes into the CTM buffer, in 8-byte units (slot and buffer are 8-aligned).
        const inl = len < split ? len : split;
        copyQuads(i64, (so + SLOT_DATA) >> 3, ctm64, pkt >> 3, (inl + 7) >> 3);
        // The packet vector and the LM pointers the contract promises.
        const pvb = c.pv[ctx]!;
        const pvw = pvb >> 2;
        lm[pvw + PKT_VEC_PKT_LEN] = len | NFP_PV_FLAG_BUF_2K | (len <= split ? NFP_PV_FLAG_CTM_ONLY : 0);
        lm[pvw + PKT_VEC_PKT_PTR] = pkt;
        lm[pvw + PKT_VEC_QSEL_SET] = 0;
        lm[pvw + PKT_VEC_QSEL_VAL] = 0;
        lm[pvw + PKT_VEC_RESUME] = 0;
        const sb = c.stack[ctx]!;
        x.gprA[STATIC_REG_STACK] = sb;
        x.gprA[STATIC_REG_TAIL_CALL_CNT] = 0;
        x.lmAddr[NFP_STACK_LM_PTR] = sb;
        x.lmAddr[NFP_PV_LM_PTR] = pvb;
        const b0 = x.busy;
        const s0 = x.stall;
        let ran = true;
        try {
          engine.run(core, x, start);
        } catch (e) {
          ran = false;
          status = this.fault(c, ctx, e);
        }
        x.busy += NFP_FW_PKT_BUSY;
        x.stall += stallPerPkt;
        busy = x.busy - b0;
        stall = x.stall - s0;
        if (!ran) {
          drop++;
        } else {
          const v = x.gprA[0]! >>> NFP_BPF_VERDICT_SHIFT;
          raw = v;
          const stat = v > 0xff ? -2 : VERDICT_STAT[v]!;
          const act = v & 0xf;
          if (stat === -2 || (act !== 1 && act !== 2 && act !== 4)) {
            status = NFP_PKT_BAD_VERDICT;
            this.bump(c, S_BAD_VERDICT);
            drop++;
          } else {
            if (stat === 0) st0++;
            else if (stat === 1) st1++;
            else if (stat === 2) st2++;
            else if (stat === 3) st3++;
            if (act === 2) {
              drop++;
            } else {
              // Transmit (or pass to the host): the packet as the vector now describes it.
              const plen = lm[pvw + PKT_VEC_PKT_LEN]! & NFP_PV_LEN_MASK;
              const o = (lm[pvw + PKT_VEC_PKT_PTR]! - c.buf) | 0;
              const inlEnd = NFP_PKT_OFFSET + inl;
              if (o < 0 || o > inlEnd || plen > inlEnd - o + (len - inl)) {
                status = NFP_PKT_BAD_PV;
                this.bump(c, S_BAD_PV);
                drop++;
              } else {
                const part = plen < inlEnd - o ? plen : inlEnd - o;
                const out = wire ? c.scratch + DESC_BYTES : so + DESC_BYTES;
                copyOut(core.ctm, ctm, ctm64, c.buf + o, u8, i32, i64, out + o, part);
                // The frame's tail beyond the split point never left the slot; on the wire it follows.
                if (wire && plen > part) u8.copyWithin(out + o + part, so + SLOT_DATA + inl, so + SLOT_DATA + inl + plen - part);
                outOff = o - NFP_PKT_OFFSET;
                outLen = plen;
                bytesOut += plen;
                if (act === 1) pass++;
                else tx++;
                if ((lm[pvw + PKT_VEC_QSEL_SET]! & (1 << PKT_VEL_QSEL_SET_BIT)) !== 0) qsel = 0x10000 | (lm[pvw + PKT_VEC_QSEL_VAL]! & 0xffff);
                // Paper-only partial offload: a passed packet may carry a resume word for the host.
                if (act === 1 && (lm[pvw + PKT_VEC_RESUME]! & NFP_RESUME_VALID) !== 0) meta = lm[pvw + PKT_VEC_RESUME]!;
              }
            }
          }
        }
      }
      i32[d + D_VERDICT] = raw;
      i32[d + D_STATUS] = status;
      i32[d + D_OUT_OFF] = outOff;
      i32[d + D_OUT_LEN] = outLen;
      i32[d + D_GEN] = gen;
      i32[d + D_BUSY] = busy;
      i32[d + D_STALL] = stall;
      i32[d + D_QSEL] = qsel;
      i32[d + D_CTX] = ctx;
      i32[d + D_META] = meta;
    }
    c.nextCtx = t;
    const s = c.st;
    f64[s + S_PACKETS] = f64[s + S_PACKETS]! + n;
    f64[s + S_BYTES_IN] = f64[s + S_BYTES_IN]! + bytesIn;
    f64[s + S_BYTES_OUT] = f64[s + S_BYTES_OUT]! + bytesOut;
    f64[s + S_STAT0] = f64[s + S_STAT0]! + st0;
    f64[s + S_STAT0 + 1] = f64[s + S_STAT0 + 1]! + st1;
    f64[s + S_STAT0 + 2] = f64[s + S_STAT0 + 2]! + st2;
    f64[s + S_STAT0 + 3] = f64[s + S_STAT0 + 3]! + st3;
    f64[s + S_ACT_PASS] = f64[s + S_ACT_PASS]! + pass;
    f64[s + S_ACT_DROP] = f64[s + S_ACT_DROP]! + drop;
    f64[s + S_ACT_TX] = f64[s + S_ACT_TX]! + tx;
    f64[s + S_NO_PROG] = f64[s + S_NO_PROG]! + noProg;
    f64[s + S_MALFORMED] = f64[s + S_MALFORMED]! + malformed;
    f64[s + S_OVERSIZE] = f64[s + S_OVERSIZE]! + oversize;
    f64[s + S_BATCHES] = f64[s + S_BATCHES]! + 1;
    // The contexts count their own cycles; the statistics take what they counted since the last batch.
    for (let k = 0; k < threads; k++) {
      const x = core.contexts[k]!;
      f64[s + S_BUSY0 + k] = f64[s + S_BUSY0 + k]! + (x.busy - c.busySeen[k]!);
      f64[s + S_STALL0 + k] = f64[s + S_STALL0 + k]! + (x.stall - c.stallSeen[k]!);
      c.busySeen[k] = x.busy;
      c.stallSeen[k] = x.stall;
    }
    // Everything the batch counted is published before its packets are: a host that sees them done
    // reads statistics that include them.
    this.flushHelperStats();
    c.cons = (c.cons + n) | 0;
    Atomics.store(i32, c.rh + R_CONS, c.cons);
    return n;
  }

  /** Count one event in a core's statistics (the rare ones, off the batch's local counters). */
  private bump(c: CoreRt, which: number): void {
    this.f64[c.st + which] = this.f64[c.st + which]! + 1;
  }

  /** An image that faulted (EFAULT) or ran away (ELOOP) costs the packet, never the core. */
  private fault(c: CoreRt, ctx: number, e: unknown): number {
    if (!(e instanceof BpfError)) throw e;
    this.bump(c, S_FAULT);
    this.f64[this.gst + G_FAULTS] = this.f64[this.gst + G_FAULTS]! + 1;
    this.noteError(`core ${c.id} ctx ${ctx}: ${e.message}`);
    return NFP_PKT_FAULT;
  }

  // ---------------------------------------------------------------- the loop

  /**
   * A worker thread's life: poll until told to stop, sleeping on the doorbell when every ring is
   * empty. The first group wakes every millisecond even so: it is the firmware's reconfig handler and
   * the driver's UPDATE request rings no doorbell of ours.
   */
  runLoop(): { group: number; packets: number } {
    let packets = 0;
    Atomics.add(this.i32, H_READY, 1);
    Atomics.notify(this.i32, H_READY);
    for (;;) {
      const bell = Atomics.load(this.i32, H_DOORBELL);
      if (Atomics.load(this.i32, H_STOP) !== 0) break;
      const n = this.poll();
      packets += n;
      if (n > 0) continue;
      Atomics.wait(this.i32, H_DOORBELL, bell, this.coordinator || this.pendingGen !== 0 ? 1 : 20);
    }
    return { group: this.group, packets };
  }
}

/** Verdict byte -> statistic index (0..3), -1 for none, -2 for a byte no outro builds. */
const VERDICT_STAT = Int8Array.from({ length: 256 }, (_, v) => {
  const hi = v >>> 4;
  return hi === 0 ? -1 : hi === 1 ? 0 : hi === 2 ? 1 : hi === 4 ? 2 : hi === 8 ? 3 : -2;
});

/**
 * Copy `n` 8-byte units between BigInt64Arrays (the DMAs). Optimised code moves the 64-bit elements
 * without making BigInts (no allocation; checked by the bench's memory soak) and it is 2-3x faster than
 * a 32-bit loop; Float64Array would be faster still but may change NaN bit patterns.
 */
function copyQuads(from: BigInt64Array, s: number, to: BigInt64Array, d: number, n: number): void {
  for (let q = 0; q < n; q++) to[d + q] = from[s + q]!;
}

/**
 * Copy `n` bytes from CTM to the ring (the transmit DMA): by 8-byte or 4-byte units when both sides
 * allow (they align alike), the tail byte by byte so nothing after the packet is touched.
 */
function copyOut(ctm: Uint8Array, ctm32: Int32Array, ctm64: BigInt64Array, from: number, ring: Uint8Array, ring32: Int32Array, ring64: BigInt64Array, to: number, n: number): void {
  if ((from & 7) === 0 && (to & 7) === 0) {
    const quads = n >> 3;
    copyQuads(ctm64, from >> 3, ring64, to >> 3, quads);
    for (let k = quads << 3; k < n; k++) ring[to + k] = ctm[from + k]!;
    return;
  }
  if ((from & 3) === 0 && (to & 3) === 0) {
    const s = from >> 2, d = to >> 2;
    const words = n >> 2;
    for (let w = 0; w < words; w++) ring32[d + w] = ctm32[s + w]!;
    for (let k = words << 2; k < n; k++) ring[to + k] = ctm[from + k]!;
    return;
  }
  for (let k = 0; k < n; k++) ring[to + k] = ctm[from + k]!;
}

// ---------------------------------------------------------------------------------------------------

export interface InProcessCores extends NfpCoreRunner {
  /** The groups themselves (tests look at engines and helper counters). */
  readonly groups: readonly NfpDatapath[];
}

/**
 * The cores on the host's own thread: the same datapath, run when the host pumps (pool.run() does).
 * Deterministic: cores in order, packets in ring order. `groups` > 1 runs the multi-group protocol
 * (reconfig acknowledgements, one CTM buffer per group) on one thread.
 */
export function inProcessCores(opts: { groups?: number; onStart?: (r: InProcessCores) => void } = {}): NfpCoreStarter {
  return {
    groups: (cores) => Math.min(cores, opts.groups ?? 1),
    async start(shared: NfpCoresShared): Promise<NfpCoreRunner> {
      const groups = Array.from({ length: shared.layout.groups }, (_, g) => new NfpDatapath(shared, g));
      let failure: Error | undefined;
      const r: InProcessCores = {
        kind: 'in-process',
        threads: 0,
        groups,
        get failure() { return failure; },
        pump(): void {
          if (failure !== undefined) return;
          try {
            // Until nothing moves, and twice more so that a reconfig started in one pass is acknowledged.
            for (let idle = 0; idle < 2;) {
              let moved = 0;
              for (const g of groups) moved += g.poll();
              idle = moved > 0 ? 0 : idle + 1;
            }
          } catch (e) {
            failure = e instanceof Error ? e : new Error(String(e));
          }
        },
        async stop(): Promise<void> {},
      };
      opts.onStart?.(r);
      return r;
    },
  };
}
