// The BPF firmware's helper handlers: the code at the FUNC addresses the firmware advertises in its
// `_abi_bpf_capabilities` records (nfp/bpf/fw.h bpf_cap_tlv_func), which a JITed image reaches with a
// relocated branch (RELO_BR_HELPER) and leaves with the return address in B0 — Netronome's
// nic-firmware apps/nic/ebpf.uc and maps/*.uc, modeled. The calling convention is jit.c's
// map_call_stack_common() and nfp_perf_event_output() (see /work/notes/contract-fw-abi.md):
//
//   map_lookup_elem  A0 = table id (tid), key in LMEM at ActLMAddr0 -> R0 = the value's 40-bit EMEM
//                    address (hi byte in GPR 1, low word in GPR 0) or 0
//   map_update_elem  A0 = tid, key at ActLMAddr0, value at ActLMAddr2, flags in R4 -> R0 = 0 / -errno
//   map_delete_elem  A0 = tid, key at ActLMAddr0 -> R0 = 0 / -errno
//   perf_event_output  R2 = the perf event array's map id, R3 = flags, R4 = data (A1 says what R4
//                    points into), R5 = size -> a BPF_EVENT control message to the host; R0 = 0
//
// Tables are firmware/maptable.ts's, in NIC memory, shared with the control handler and every other
// core; a handler turns a tid into a table through the IMEM directory once per loaded image (a program
// holds its maps for as long as it is loaded, so a tid cannot change meaning under it).
//
// Each handler charges the cycles its firmware code would take (the NfpHook contract): the constants
// below are model values — nothing public gives the firmware's — sized from what the code must do
// (hash the key, walk a bucket in EMEM, take the table lock) at the memory latencies of isa.ts.

import { BPF_FUNC_map_delete_elem, BPF_FUNC_map_lookup_elem, BPF_FUNC_map_update_elem, BPF_FUNC_perf_event_output } from '../src/bpf/helpers.js';
import { errnoNumber, type ErrnoName } from '../src/bpf/errno.js';
import {
  CMSG_BPF_EVENT_SZ, CMSG_RC_ERR_MAP_E2BIG, CMSG_RC_ERR_MAP_ERR, CMSG_RC_ERR_MAP_EXIST, CMSG_RC_ERR_MAP_FD, CMSG_RC_ERR_MAP_NOENT,
  CMSG_RC_ERR_MAP_NOMEM, CMSG_RC_ERR_MAP_PARSE, CMSG_RC_SUCCESS, NFP_CCM_ABI_VERSION, NFP_CCM_TYPE_BPF_BPF_EVENT,
} from '../src/nic/ccm.js';
import { NFP_RUN_EXIT, type NfpContext, type NfpCore, type NfpHook } from '../src/nic/core.js';
import type { FirmwareImage } from '../src/nic/fw-image.js';
import { NFP_ADDR40_EMEM, NFP_PV_LM_PTR, PKT_VEC_PKT_LEN, PKT_VEC_PKT_PTR } from '../src/nic/isa.js';
import type { NicMemory } from '../src/nic/memory.js';
import { MapTable, map_dir_read } from './maptable.js';

/** enum bpf_cap_tlv_type BPF_CAP_TYPE_FUNC (nfp/bpf/fw.h). */
const NFP_BPF_CAP_TYPE_FUNC = 1;

/** The pointer types jit.c passes in A1 for perf_event_output's R4 (a fixed firmware ABI). */
export const NFP_BPF_SCALAR_VALUE = 1;
export const NFP_BPF_MAP_VALUE = 4;
export const NFP_BPF_STACK = 6;
export const NFP_BPF_PACKET_DATA = 8;

/** BPF_F_CTXLEN_MASK of perf_event_output's flags (include/uapi/linux/bpf.h), bits 51:32: its high word's part. */
const BPF_F_CTXLEN_MASK_HI = 0xfffff;

// ---------------------------------------------------------------------------------------------------
// Cycle model of the handlers (model values; see the top of the file)

/** Every handler: the branch in, reading A0/B0, the directory entry cached in LMEM, and the `rtn` out. */
export const NFP_FW_HELPER_CALL_BUSY = 8;
/** Hashing the key: per 32-bit key word (CRC-style hash unit steps plus the loads from LMEM). */
export const NFP_FW_HASH_BUSY_PER_WORD = 3;
/** Walking a bucket: compare and branch per element; each element read is one EMEM access. */
export const NFP_FW_HASH_PROBE_BUSY = 6;
/** A hash lookup reads the bucket head and the element it stops on: two EMEM round trips. */
export const NFP_FW_HASH_LOOKUP_EMEM_READS = 2;
/** An array lookup is index arithmetic and a bound check: no memory access. */
export const NFP_FW_ARRAY_LOOKUP_BUSY = 6;
/** A write takes the table lock (an atomic test-and-set), finds or links the element, releases the lock. */
export const NFP_FW_UPDATE_BUSY = 24;
export const NFP_FW_UPDATE_EMEM_ACCESSES = 4;
/** Copying a value word between LMEM and EMEM's write buffer. */
export const NFP_FW_COPY_BUSY_PER_WORD = 1;
/** perf_event_output builds a ctrl packet in CTM and queues it to the ctrl vNIC's TX ring. */
export const NFP_FW_EVENT_BUSY = 40;
export const NFP_FW_EVENT_CTM_ACCESSES = 2;

/** The helper addresses an image advertises (0 when a helper is absent). */
export interface NfpFwFuncs {
  readonly map_lookup: number;
  readonly map_update: number;
  readonly map_delete: number;
  readonly perf_event_output: number;
}

/**
 * The firmware's own FUNC records, read from its `_abi_bpf_capabilities` bytes (the firmware was
 * built with these addresses; the driver parses the same records in src/drivers/nfp/main.ts).
 */
export function nfpFwFuncs(image: FirmwareImage): NfpFwFuncs {
  const caps = image.rtsym['_abi_bpf_capabilities'];
  const out = { map_lookup: 0, map_update: 0, map_delete: 0, perf_event_output: 0 };
  if (caps === undefined) return out;
  const dv = new DataView(caps.buffer, caps.byteOffset, caps.byteLength);
  for (let p = 0; p + 8 <= caps.length;) {
    const type = dv.getUint32(p, true);
    const len = dv.getUint32(p + 4, true);
    if (type === NFP_BPF_CAP_TYPE_FUNC && len >= 8 && p + 16 <= caps.length) {
      const id = dv.getUint32(p + 8, true);
      const addr = dv.getUint32(p + 12, true);
      if (id === BPF_FUNC_map_lookup_elem) out.map_lookup = addr;
      else if (id === BPF_FUNC_map_update_elem) out.map_update = addr;
      else if (id === BPF_FUNC_map_delete_elem) out.map_delete = addr;
      else if (id === BPF_FUNC_perf_event_output) out.perf_event_output = addr;
    }
    p += 8 + len;
  }
  return out;
}

/** enum bpf_cap_tlv_type NFP_BPF_CAP_TYPE_TAIL_CALL: nfp-emu's, PAPER-ONLY (src/drivers/nfp/main.ts). */
const NFP_BPF_CAP_TYPE_TAIL_CALL = 0x100;

/** Where the firmware keeps its tail-call table and link list in IMEM (paper-only; null: no tail calls). */
export interface NfpFwTailCall {
  readonly tableOff: number;
  readonly tableSlots: number;
  readonly linkOff: number;
  readonly maxLinks: number;
  /** Instructions of a second code-store bank after the BPF area (0: none). */
  readonly bankInsns: number;
}

/** The firmware's own TAIL_CALL record, as it was built with it (the driver parses the same bytes). */
export function nfpFwTailCall(image: FirmwareImage): NfpFwTailCall | null {
  const caps = image.rtsym['_abi_bpf_capabilities'];
  if (caps === undefined) return null;
  const dv = new DataView(caps.buffer, caps.byteOffset, caps.byteLength);
  for (let p = 0; p + 8 <= caps.length;) {
    const type = dv.getUint32(p, true);
    const len = dv.getUint32(p + 4, true);
    if (type === NFP_BPF_CAP_TYPE_TAIL_CALL && len >= 24 && p + 32 <= caps.length) {
      return {
        tableOff: dv.getUint32(p + 12, true), tableSlots: dv.getUint32(p + 16, true), linkOff: dv.getUint32(p + 20, true),
        maxLinks: dv.getUint32(p + 24, true), bankInsns: dv.getUint32(p + 28, true),
      };
    }
    p += 8 + len;
  }
  return null;
}

/** Where a core's BPF_EVENT messages go: a ring the host drains (src/nic/cores.ts). */
export interface NfpEventSink {
  /** Room for a message of `len` bytes: the byte offset to build it at in `u8`, or -1 (dropped). */
  reserve(len: number): number;
  readonly u8: Uint8Array;
  /** The message built at the reserved offset is complete. */
  commit(): void;
}

/** Firmware status -> the errno a program sees from map_update_elem / map_delete_elem. */
const RC_ERRNO = new Map<number, ErrnoName | null>([
  [CMSG_RC_SUCCESS, null],
  [CMSG_RC_ERR_MAP_FD, 'EBADFD'],
  [CMSG_RC_ERR_MAP_NOENT, 'ENOENT'],
  [CMSG_RC_ERR_MAP_ERR, 'EINVAL'],
  [CMSG_RC_ERR_MAP_PARSE, 'EIO'],
  [CMSG_RC_ERR_MAP_EXIST, 'EEXIST'],
  [CMSG_RC_ERR_MAP_NOMEM, 'ENOMEM'],
  [CMSG_RC_ERR_MAP_E2BIG, 'E2BIG'],
]);

function rcToRet(rc: number): number {
  const e = RC_ERRNO.get(rc);
  return e === null ? 0 : -errnoNumber(e ?? 'EIO');
}

/** Counters of what the handlers did (per group of cores; read by tests and the bench). */
export interface NfpFwHelperStats {
  lookups: number;
  hits: number;
  updates: number;
  deletes: number;
  events: number;
  eventDrops: number;
  /** Calls naming a table id with no live table behind it. */
  badTid: number;
}

const MAX_KEY = 256;

/** R0 (the GPR pair 0/1, both banks) <- a 64-bit value given as (hi, lo). */
function setR0(x: NfpContext, hi: number, lo: number): void {
  x.gprA[0] = lo | 0;
  x.gprB[0] = lo | 0;
  x.gprA[1] = hi | 0;
  x.gprB[1] = hi | 0;
}

/**
 * The handlers of one group of cores (one worker thread): the code-store hooks to hand an engine,
 * plus the table cache they share. Not thread-safe by design: a group runs on one thread.
 */
export class NfpFwHelpers {
  readonly hooks: Map<number, NfpHook>;
  readonly stats: NfpFwHelperStats = { lookups: 0, hits: 0, updates: 0, deletes: 0, events: 0, eventDrops: 0, badTid: 0 };
  private tables: (MapTable | null | undefined)[] = [];
  /** Keys and values gathered from LMEM when they wrap around its end, and the value's 8-byte pad. */
  private readonly key = new Uint8Array(MAX_KEY);
  private readonly val = new Uint8Array(MAX_KEY);
  private readonly valView = new DataView(this.val.buffer);
  private readonly lmU8: Uint8Array;

  constructor(private mem: NicMemory, readonly funcs: NfpFwFuncs, done: number, private readonly events: NfpEventSink | null) {
    this.lmU8 = mem.lmem;
    this.hooks = new Map<number, NfpHook>([[done, () => NFP_RUN_EXIT]]);
    const add = (addr: number, h: NfpHook): void => {
      if (addr === 0) return;
      if (this.hooks.has(addr)) throw new Error(`firmware: two handlers at code-store address ${addr}`);
      this.hooks.set(addr, h);
    };
    add(funcs.map_lookup, (core, x) => this.map_lookup(core, x));
    add(funcs.map_update, (core, x) => this.map_update(core, x));
    add(funcs.map_delete, (core, x) => this.map_delete(core, x));
    add(funcs.perf_event_output, (core, x) => this.perf_event_output(core, x));
  }

  /** A new image: forget the tables the old one named; reach NIC memory through `mem` from now on. */
  reset(mem: NicMemory = this.mem): void {
    this.tables = [];
    this.mem = mem;
  }

  private table(tid: number): MapTable | null {
    let t = this.tables[tid];
    if (t === undefined) {
      const e = tid > 0 ? map_dir_read(this.mem, tid) : undefined;
      t = e === undefined ? null : new MapTable(this.mem, e);
      if (tid >= 0 && tid < 4096) this.tables[tid] = t;
    }
    if (t === null) this.stats.badTid++;
    return t;
  }

  /**
   * Where a key of `len` bytes at LMEM byte address `addr` can be read: its offset in the LMEM byte
   * view, or -1 when it wraps around the end of the core's LMEM (as the LM pointers do) and was
   * gathered into this.key instead.
   */
  private keyAt(core: NfpCore, addr: number, len: number): number {
    const a = addr & core.lmByteMask;
    const base = core.lm.byteOffset;
    if (a + len <= core.lmByteMask + 1) return base + a;
    for (let i = 0; i < len; i++) this.key[i] = this.lmU8[base + ((a + i) & core.lmByteMask)]!;
    return -1;
  }

  /** A value of `len` bytes from LMEM into this.val, zero-padded to `stride` (the table copies 8-byte units). */
  private gatherValue(core: NfpCore, addr: number, len: number, stride: number): void {
    const base = core.lm.byteOffset;
    for (let i = 0; i < len; i++) this.val[i] = this.lmU8[base + ((addr + i) & core.lmByteMask)]!;
    this.val.fill(0, len, stride);
  }

  private map_lookup(core: NfpCore, x: NfpContext): number {
    const ret = x.gprB[0]!;
    const tid = x.gprA[0]!;
    this.stats.lookups++;
    x.busy += NFP_FW_HELPER_CALL_BUSY;
    const t = this.table(tid);
    if (t === null) {
      setR0(x, 0, 0);
      return ret;
    }
    const k = this.keyAt(core, x.lmAddr[0]!, t.keySize);
    const idx = k >= 0 ? t.lookup(this.lmU8, k) : t.lookup(this.key, 0);
    if (t.isArray) {
      x.busy += NFP_FW_ARRAY_LOOKUP_BUSY;
    } else {
      x.busy += NFP_FW_HASH_BUSY_PER_WORD * ((t.keySize + 3) >> 2) + NFP_FW_HASH_PROBE_BUSY;
      x.stall += NFP_FW_HASH_LOOKUP_EMEM_READS * core.latency.emem;
    }
    if (idx < 0) {
      setR0(x, 0, 0);
      return ret;
    }
    this.stats.hits++;
    const off = t.valueOff(idx);
    setR0(x, NFP_ADDR40_EMEM | Math.floor(off / 0x100000000), off >>> 0);
    return ret;
  }

  private map_update(core: NfpCore, x: NfpContext): number {
    const ret = x.gprB[0]!;
    const tid = x.gprA[0]!;
    const flags = x.gprA[8]! >>> 0;
    this.stats.updates++;
    const t = this.table(tid);
    x.busy += NFP_FW_HELPER_CALL_BUSY;
    if (t === null) {
      setR0(x, -1, -errnoNumber('EINVAL'));
      return ret;
    }
    const k = this.keyAt(core, x.lmAddr[0]!, t.keySize);
    this.gatherValue(core, x.lmAddr[2]!, t.valueSize, t.valStride);
    const rc = k >= 0 ? t.update(this.lmU8, k, this.valView, 0, flags) : t.update(this.key, 0, this.valView, 0, flags);
    x.busy += NFP_FW_UPDATE_BUSY + NFP_FW_HASH_BUSY_PER_WORD * ((t.keySize + 3) >> 2) + NFP_FW_COPY_BUSY_PER_WORD * (t.valStride >> 2);
    x.stall += NFP_FW_UPDATE_EMEM_ACCESSES * core.latency.emem;
    const r = rcToRet(rc);
    setR0(x, r < 0 ? -1 : 0, r);
    return ret;
  }

  private map_delete(core: NfpCore, x: NfpContext): number {
    const ret = x.gprB[0]!;
    const tid = x.gprA[0]!;
    this.stats.deletes++;
    const t = this.table(tid);
    x.busy += NFP_FW_HELPER_CALL_BUSY;
    if (t === null) {
      setR0(x, -1, -errnoNumber('EINVAL'));
      return ret;
    }
    const k = this.keyAt(core, x.lmAddr[0]!, t.keySize);
    const rc = k >= 0 ? t.delete(this.lmU8, k) : t.delete(this.key, 0);
    x.busy += NFP_FW_UPDATE_BUSY + NFP_FW_HASH_BUSY_PER_WORD * ((t.keySize + 3) >> 2);
    x.stall += NFP_FW_UPDATE_EMEM_ACCESSES * core.latency.emem;
    const r = rcToRet(rc);
    setR0(x, r < 0 ? -1 : 0, r);
    return ret;
  }

  /**
   * bpf_perf_event_output() on the NIC: the BPF_EVENT message (ccm.ts layout: cpu, map id, data and
   * packet sizes, the packet bytes padded to 4, then the data) goes to the host asynchronously; the
   * program always sees 0, whatever becomes of the event (the kernel warns that offloaded programs
   * get different return codes). Data the firmware cannot read (bad pointer type, out of range)
   * drops the event.
   */
  private perf_event_output(core: NfpCore, x: NfpContext): number {
    const ret = x.gprB[0]!;
    x.busy += NFP_FW_HELPER_CALL_BUSY + NFP_FW_EVENT_BUSY;
    x.stall += NFP_FW_EVENT_CTM_ACCESSES * core.latency.ctm;
    const sink = this.events;
    // A1 (the pointer type) is R0's high word: read the arguments before R0 gets the result.
    const ptrType = x.gprA[1]!;
    const mapIdLo = x.gprA[4]! >>> 0;
    const mapIdHi = x.gprA[5]! >>> 0;
    // R3, the flags: BPF_F_INDEX_MASK (the low word) is the cpu, BPF_F_CTXLEN_MASK the packet bytes to add.
    const cpu = x.gprA[6]! >>> 0;
    const ctxLen = x.gprA[7]! & BPF_F_CTXLEN_MASK_HI;
    const dataLo = x.gprA[8]! >>> 0;
    const dataHi = x.gprA[9]! >>> 0;
    const size = x.gprA[10]! >>> 0;
    setR0(x, 0, 0);
    // The packet, as the firmware's packet vector says it is now.
    const pv = ((x.lmAddr[NFP_PV_LM_PTR]! >>> 2) & core.lmWordMask);
    const plen = core.lm[pv + PKT_VEC_PKT_LEN]! & 0x3fff;
    const pptr = core.lm[pv + PKT_VEC_PKT_PTR]! >>> 0;
    const pktSize = Math.min(ctxLen, plen);
    let src: Uint8Array;
    let srcOff: number;
    let srcMask = -1;
    switch (ptrType) {
      case NFP_BPF_STACK:
        src = this.lmU8;
        srcOff = core.lm.byteOffset;
        srcMask = core.lmByteMask;
        break;
      case NFP_BPF_PACKET_DATA:
        src = core.ctm;
        srcOff = 0;
        break;
      case NFP_BPF_MAP_VALUE:
        if ((dataHi & 0xc0) !== NFP_ADDR40_EMEM) return this.dropEvent(ret);
        src = core.emem;
        srcOff = (dataHi & 0x3f) * 0x100000000;
        break;
      default:
        return this.dropEvent(ret);
    }
    const from = srcMask >= 0 ? dataLo & srcMask : dataLo;
    if (sink === null || size > 0xffff || (srcMask < 0 && srcOff + from + size > src.length) || pptr + pktSize > core.ctm.length) return this.dropEvent(ret);
    const pktPad = (pktSize + 3) & ~3;
    const len = CMSG_BPF_EVENT_SZ + pktPad + size;
    const at = sink.reserve(len);
    if (at < 0) return this.dropEvent(ret);
    const o = sink.u8;
    // struct cmsg_bpf_event: the ccm header, then big-endian cpu_id, map_ptr, data_size, pkt_size.
    o[at] = NFP_CCM_TYPE_BPF_BPF_EVENT;
    o[at + 1] = NFP_CCM_ABI_VERSION;
    o[at + 2] = 0;
    o[at + 3] = 0;
    putBe32(o, at + 4, cpu);
    putBe32(o, at + 8, mapIdHi);
    putBe32(o, at + 12, mapIdLo);
    putBe32(o, at + 16, size);
    putBe32(o, at + 20, pktSize);
    let p = at + CMSG_BPF_EVENT_SZ;
    for (let i = 0; i < pktSize; i++) o[p + i] = core.ctm[pptr + i]!;
    for (let i = pktSize; i < pktPad; i++) o[p + i] = 0;
    p += pktPad;
    if (srcMask >= 0) for (let i = 0; i < size; i++) o[p + i] = src[srcOff + ((from + i) & srcMask)]!;
    else for (let i = 0; i < size; i++) o[p + i] = src[srcOff + from + i]!;
    x.busy += (pktPad + size) >> 2;
    sink.commit();
    this.stats.events++;
    return ret;
  }

  private dropEvent(ret: number): number {
    this.stats.eventDrops++;
    return ret;
  }
}

function putBe32(o: Uint8Array, at: number, v: number): void {
  o[at] = v >>> 24;
  o[at + 1] = v >>> 16;
  o[at + 2] = v >>> 8;
  o[at + 3] = v;
}

