// The firmware's control-message handler: it reads requests from the ctrl vNIC ring (src/nic/mailbox.ts),
// answers each with the reply the driver expects (type | 0x80, same tag; src/nic/ccm.ts), and owns the
// offloaded map tables in NIC memory (firmware/maptable.ts): MAP_ALLOC carves a table out of EMEM and
// publishes it in the IMEM directory, MAP_FREE returns it, and the entry operations read and write it.
// It also sends the unsolicited BPF_EVENT messages.
//
// The handler enforces the limits of the image's `bpf:` section — the same ones its capability records
// advertise — so a request the driver should have refused is refused here too, with a status code.
// Every table lives in shared memory and the directory says where, so a restarted handler (a firmware
// reset) picks the tables up again and an acknowledged update survives the reset.
//
// It runs in a worker (workers/nfp-ctrl.ts) or in-process (tests), driven by poll(): drain the
// requests, send what is due, and say when to come back. Faults armed on the mailbox (tests) are
// applied as each reply goes out.

import { BPF_MAP_TYPE } from '../src/bpf/prog-types.js';
import {
  CMSG_BPF_EVENT_SZ, CMSG_REPLY_MAP_ALLOC_TBL_SZ, CMSG_REPLY_MAP_FREE_TBL_SZ, CMSG_REPLY_MAP_OP_SZ,
  CMSG_REPLY_MAP_SIMPLE_SZ, CMSG_REQ_MAP_ALLOC_TBL_SZ, CMSG_REQ_MAP_FREE_TBL_SZ, CMSG_REQ_MAP_OP_SZ,
  CMSG_MAP_KEY_LW, CMSG_MAP_VALUE_LW, CMSG_RC_ERR_MAP_E2BIG, CMSG_RC_ERR_MAP_ERR, CMSG_RC_ERR_MAP_FD,
  CMSG_RC_ERR_MAP_NOENT, CMSG_RC_ERR_MAP_NOMEM, CMSG_RC_ERR_MAP_PARSE, CMSG_RC_SUCCESS, NFP_CCM_ABI_VERSION,
  NFP_CCM_HDR_SZ, NFP_CCM_TYPE_BPF_BPF_EVENT, NFP_CCM_TYPE_BPF_MAP_ALLOC, NFP_CCM_TYPE_BPF_MAP_DELETE,
  NFP_CCM_TYPE_BPF_MAP_FREE, NFP_CCM_TYPE_BPF_MAP_GETFIRST, NFP_CCM_TYPE_BPF_MAP_GETNEXT,
  NFP_CCM_TYPE_BPF_MAP_LOOKUP, NFP_CCM_TYPE_BPF_MAP_UPDATE, __NFP_CCM_REPLY,
} from '../src/nic/ccm.js';
import type { NfpDeviceShared } from '../src/nic/device.js';
import type { FirmwareBpfParams } from '../src/nic/fw-image.js';
import { CtrlMailbox, MBOX, MBOX_FAULT, MBOX_STATE_DEAD } from '../src/nic/mailbox.js';
import { NicMemory } from '../src/nic/memory.js';
import {
  MAP_DIR_ENTRY_BYTES, MAP_DIR_IMEM_OFF, MapTable, map_dir_clear, map_dir_read, map_dir_write, map_table_bytes,
} from './maptable.js';

/** Tables start this far into EMEM (the firmware keeps the first page for itself). */
const EMEM_TABLE_BASE = 4096;
const TABLE_ALIGN = 64;

interface Extent {
  base: number;
  bytes: number;
}

interface Outgoing {
  due: number;
  bytes: Uint8Array;
}

/** Counters a test or `nfp-emu` can read. */
export interface FirmwareCtrlStats {
  requests: number;
  replies: number;
  /** Messages too short to answer (no header). */
  dropped: number;
  events: number;
}

export class FirmwareCtrl {
  readonly mem: NicMemory;
  readonly mbox: CtrlMailbox;
  readonly params: FirmwareBpfParams | null;
  /** Element slot sizes in map-op messages (ABI 2: 64 bytes each; ABI 3: the max key/value sizes). */
  readonly cmsgKeySz: number;
  readonly cmsgValSz: number;
  readonly stats: FirmwareCtrlStats = { requests: 0, replies: 0, dropped: 0, events: 0 };
  private readonly tables: (MapTable | undefined)[] = [];
  private elemsInUse = 0;
  private tablesInUse = 0;
  private extents: Extent[] = [];
  private readonly rx: Uint8Array;
  private readonly rxView: DataView;
  /** rx and tx are two parts of this one buffer, so a key or value is echoed with one copyWithin(). */
  private readonly io: Uint8Array;
  /** txOf()'s views, by length. */
  private readonly txViews: (Uint8Array | undefined)[];
  /** Replies are built here and copied into the ring (a copy is kept only for a delayed one). */
  private readonly tx: Uint8Array;
  private readonly txView: DataView;
  private readonly outgoing: Outgoing[] = [];
  private readonly maxTid: number;

  constructor(dev: NfpDeviceShared) {
    this.mem = NicMemory.attach(dev.memory);
    this.mbox = CtrlMailbox.attach(dev.mailbox);
    this.params = dev.image.app === 'ebpf' ? dev.image.bpf : null;
    const abi3 = this.params !== null && this.params.cmsgAbi >= 3;
    this.cmsgKeySz = abi3 ? this.params!.maxKeySz : CMSG_MAP_KEY_LW * 4;
    this.cmsgValSz = abi3 ? this.params!.maxValSz : CMSG_MAP_VALUE_LW * 4;
    const rxBytes = this.mbox.maxMessageBytes;
    // Room for the largest reply even on a ring with a small MTU (an error reply's element slot).
    const txBytes = this.mbox.maxMessageBytes + CMSG_REPLY_MAP_OP_SZ + 2 * (this.cmsgKeySz + this.cmsgValSz);
    const io = new ArrayBuffer(rxBytes + txBytes);
    this.io = new Uint8Array(io);
    this.rx = new Uint8Array(io, 0, rxBytes);
    this.rxView = new DataView(io, 0, rxBytes);
    this.tx = new Uint8Array(io, rxBytes, txBytes);
    this.txView = new DataView(io, rxBytes, txBytes);
    this.txViews = new Array<Uint8Array | undefined>(txBytes + 1).fill(undefined);
    this.maxTid = this.params?.maxMaps ?? 0;
    if (MAP_DIR_IMEM_OFF + (this.maxTid + 1) * MAP_DIR_ENTRY_BYTES > this.mem.layout.imemBytes / 2) {
      throw new Error(`firmware: ${this.maxTid} map directory entries do not fit IMEM`);
    }
    this.recover();
  }

  /** Pick up the tables a previous run of the handler left in NIC memory. */
  private recover(): void {
    for (let tid = 1; tid <= this.maxTid; tid++) {
      const e = map_dir_read(this.mem, tid);
      if (e === undefined) continue;
      this.tables[tid] = new MapTable(this.mem, e);
      this.tablesInUse++;
      this.elemsInUse += e.maxEntries;
      this.extents.push({ base: e.base, bytes: e.bytes });
    }
    this.extents.sort((a, b) => a.base - b.base);
  }

  /** The table of `tid`, for tests and the cores. */
  table(tid: number): MapTable | undefined {
    return this.tables[tid];
  }

  get stopRequested(): boolean {
    return Atomics.load(this.mbox.hdr, MBOX.FW_STOP) !== 0 || this.mbox.state === MBOX_STATE_DEAD;
  }

  // ---------------------------------------------------------------- the loop

  /**
   * Handle every request waiting, then send the replies that are due. Returns when to be polled again
   * for a delayed reply (ms on `now`'s clock), or Infinity.
   *
   * Replies are posted as they are made but the host is woken once, after the batch: a wake-up is a
   * futex call here and a trip through its event loop there, so the host takes the whole batch from
   * one wake-up instead of waking for the first reply and then finding more.
   */
  poll(now: number): number {
    const replies = this.stats.replies;
    for (;;) {
      if (this.stopRequested) break;
      const len = this.mbox.fwRecvInto(this.rx);
      if (len < 0) break;
      this.stats.requests++;
      const n = this.handle(len);
      if (n >= 0) this.send(n, now);
    }
    const next = this.outgoing.length === 0 ? Infinity : this.flush(now);
    if (this.stats.replies !== replies) this.mbox.fwKick();
    return next;
  }

  /** Send the reply in this.tx[0..len) to the host, applying the channel's armed fault. */
  private send(len: number, now: number): void {
    const f = this.mbox.takeFault();
    if (f.kind === MBOX_FAULT.NONE && this.outgoing.length === 0 && this.mbox.fwPost(this.txOf(len), len)) {
      this.stats.replies++;
      return;
    }
    let msg = this.tx.slice(0, len);
    switch (f.kind) {
      case MBOX_FAULT.NONE:
        break;
      case MBOX_FAULT.DROP:
        return;
      case MBOX_FAULT.DELAY:
        this.outgoing.push({ due: now + f.arg, bytes: msg });
        return;
      case MBOX_FAULT.DUPLICATE:
        this.outgoing.push({ due: now, bytes: msg });
        break;
      case MBOX_FAULT.CORRUPT_TYPE:
        msg[0] = msg[0]! & 0x7f;
        break;
      case MBOX_FAULT.TRUNCATE:
        msg = msg.subarray(0, Math.max(0, msg.length - (f.arg > 0 ? f.arg : 4)));
        break;
      case MBOX_FAULT.CORRUPT_RC:
        if (msg.length >= CMSG_REPLY_MAP_SIMPLE_SZ) new DataView(msg.buffer, msg.byteOffset).setUint32(4, f.arg > 0 ? f.arg : 0x77);
        break;
      case MBOX_FAULT.CORRUPT_TAG:
        msg[2] = msg[2]! ^ 0x5a;
        msg[3] = msg[3]! ^ 0xa5;
        break;
    }
    this.outgoing.push({ due: now, bytes: msg });
  }

  /** Post what is due, oldest first; a full ring keeps the rest for the next poll. The caller wakes the host. */
  private flush(now: number): number {
    let next = Infinity;
    let i = 0;
    while (i < this.outgoing.length) {
      const o = this.outgoing[i]!;
      if (o.due > now) {
        next = Math.min(next, o.due);
        i++;
        continue;
      }
      if (!this.mbox.fwPost(o.bytes, o.bytes.length)) return now + 1;
      this.stats.replies++;
      this.outgoing.splice(i, 1);
    }
    return next;
  }

  /** Messages waiting to go out (delayed replies, or a full ring). */
  get backlog(): number {
    return this.outgoing.length;
  }

  /** Send a BPF_EVENT (perf event output of an offloaded program) to the host. */
  sendEvent(cpu: number, mapId: bigint, pkt: Uint8Array, data: Uint8Array, now: number): void {
    const pktPad = (pkt.length + 3) & ~3;
    const msg = new Uint8Array(CMSG_BPF_EVENT_SZ + pktPad + data.length);
    const v = new DataView(msg.buffer);
    msg[0] = NFP_CCM_TYPE_BPF_BPF_EVENT;
    msg[1] = NFP_CCM_ABI_VERSION;
    v.setUint32(4, cpu);
    v.setBigUint64(8, mapId);
    v.setUint32(16, data.length);
    v.setUint32(20, pkt.length);
    msg.set(pkt, CMSG_BPF_EVENT_SZ);
    msg.set(data, CMSG_BPF_EVENT_SZ + pktPad);
    this.stats.events++;
    this.outgoing.push({ due: now, bytes: msg });
    this.flush(now);
    this.mbox.fwKick();
  }

  // ---------------------------------------------------------------- requests

  /** One request in this.rx[0..len): the reply's length in this.tx, or -1 when there is nothing to answer. */
  private handle(len: number): number {
    if (len < NFP_CCM_HDR_SZ) {
      this.stats.dropped++;
      return -1;
    }
    const type = this.rx[0]!;
    const tag = (this.rx[2]! << 8) | this.rx[3]!;
    if (this.rx[1] !== NFP_CCM_ABI_VERSION || this.params === null) return this.errorReply(type, tag, CMSG_RC_ERR_MAP_PARSE);
    switch (type) {
      case NFP_CCM_TYPE_BPF_MAP_ALLOC:
        return this.mapAlloc(len, tag);
      case NFP_CCM_TYPE_BPF_MAP_FREE:
        return this.mapFree(len, tag);
      case NFP_CCM_TYPE_BPF_MAP_LOOKUP:
      case NFP_CCM_TYPE_BPF_MAP_UPDATE:
      case NFP_CCM_TYPE_BPF_MAP_DELETE:
      case NFP_CCM_TYPE_BPF_MAP_GETFIRST:
      case NFP_CCM_TYPE_BPF_MAP_GETNEXT:
        return this.mapOp(type, len, tag);
      default:
        return this.errorReply(type, tag, CMSG_RC_ERR_MAP_PARSE);
    }
  }

  /** The first `len` bytes of this.tx as an array of its own (kept per length): the ring copies it with one set(). */
  private txOf(len: number): Uint8Array {
    let v = this.txViews[len];
    if (v === undefined) v = this.txViews[len] = this.tx.subarray(0, len);
    return v;
  }

  /** Copy `len` bytes of the request at `from` into the reply at `to` (a memmove within this.io). */
  private echo(from: number, to: number, len: number): void {
    const txBase = this.tx.byteOffset;
    this.io.copyWithin(txBase + to, from, from + len);
  }

  /** The reply header and status in this.tx, zeroing the `size` bytes of the reply first. */
  private replyHdr(type: number, tag: number, rc: number, size: number): void {
    this.tx.fill(0, 0, size);
    this.tx[0] = __NFP_CCM_REPLY(type) & 0xff;
    this.tx[1] = NFP_CCM_ABI_VERSION;
    this.tx[2] = (tag >>> 8) & 0xff;
    this.tx[3] = tag & 0xff;
    this.txView.setUint32(4, rc);
  }

  /** A failed request's reply, in the shape of that type's reply (a map op's has room for one element). */
  private errorReply(type: number, tag: number, rc: number): number {
    let size = CMSG_REPLY_MAP_SIMPLE_SZ;
    if (type === NFP_CCM_TYPE_BPF_MAP_ALLOC) size = CMSG_REPLY_MAP_ALLOC_TBL_SZ;
    else if (type === NFP_CCM_TYPE_BPF_MAP_FREE) size = CMSG_REPLY_MAP_FREE_TBL_SZ;
    else if (type >= NFP_CCM_TYPE_BPF_MAP_LOOKUP && type <= NFP_CCM_TYPE_BPF_MAP_GETFIRST) size = CMSG_REPLY_MAP_OP_SZ + this.cmsgKeySz + this.cmsgValSz;
    this.replyHdr(type, tag, rc, size);
    return size;
  }

  private mapAlloc(len: number, tag: number): number {
    const p = this.params!;
    if (len < CMSG_REQ_MAP_ALLOC_TBL_SZ) return this.errorReply(NFP_CCM_TYPE_BPF_MAP_ALLOC, tag, CMSG_RC_ERR_MAP_PARSE);
    const v = this.rxView;
    const keySize = v.getUint32(4), valueSize = v.getUint32(8), maxEntries = v.getUint32(12);
    const mapType = v.getUint32(16), mapFlags = v.getUint32(20);
    const rc = this.allocTable(p, mapType, keySize, valueSize, maxEntries, mapFlags);
    this.replyHdr(NFP_CCM_TYPE_BPF_MAP_ALLOC, tag, rc < 0 ? -rc : CMSG_RC_SUCCESS, CMSG_REPLY_MAP_ALLOC_TBL_SZ);
    this.txView.setUint32(8, rc < 0 ? 0 : rc);
    return CMSG_REPLY_MAP_ALLOC_TBL_SZ;
  }

  /** A new table: its tid, or -rc. */
  private allocTable(p: FirmwareBpfParams, type: number, key: number, val: number, max: number, flags: number): number {
    if (!p.mapTypes.includes(type) || flags !== 0) return -CMSG_RC_ERR_MAP_ERR;
    if (key === 0 || val === 0 || max === 0) return -CMSG_RC_ERR_MAP_ERR;
    if (type === BPF_MAP_TYPE.ARRAY && key !== 4) return -CMSG_RC_ERR_MAP_ERR;
    if (key > p.maxKeySz || val > p.maxValSz || ((key + 7) & ~7) + ((val + 7) & ~7) > p.maxElemSz) return -CMSG_RC_ERR_MAP_E2BIG;
    // Values travel padded to 8 bytes: the padded value must fit the message's slot.
    if (((key + 7) & ~7) > this.cmsgKeySz || ((val + 7) & ~7) > this.cmsgValSz) return -CMSG_RC_ERR_MAP_E2BIG;
    if (this.tablesInUse >= p.maxMaps || p.maxElems - this.elemsInUse < max) return -CMSG_RC_ERR_MAP_NOMEM;
    let tid = 1;
    while (tid <= this.maxTid && this.tables[tid] !== undefined) tid++;
    if (tid > this.maxTid) return -CMSG_RC_ERR_MAP_NOMEM;
    const bytes = map_table_bytes(type, key, val, max);
    const base = this.ememAlloc(bytes);
    if (base < 0) return -CMSG_RC_ERR_MAP_NOMEM;
    const entry = { tid, type, keySize: key, valueSize: val, maxEntries: max, base, bytes };
    const t = new MapTable(this.mem, entry);
    t.init();
    map_dir_write(this.mem, entry);
    this.tables[tid] = t;
    this.tablesInUse++;
    this.elemsInUse += max;
    return tid;
  }

  /** First fit in EMEM above EMEM_TABLE_BASE; the region is zeroed. -1 when EMEM (or its backing) is full. */
  private ememAlloc(bytes: number): number {
    const size = Math.ceil(bytes / TABLE_ALIGN) * TABLE_ALIGN;
    let at = EMEM_TABLE_BASE;
    let i = 0;
    for (; i < this.extents.length; i++) {
      const x = this.extents[i]!;
      if (x.base - at >= size) break;
      at = Math.ceil((x.base + x.bytes) / TABLE_ALIGN) * TABLE_ALIGN;
    }
    if (at + size > this.mem.layout.ememBytes || !this.mem.emem_reserve(at + size)) return -1;
    this.mem.emem.fill(0, at, at + size);
    this.extents.splice(i, 0, { base: at, bytes: size });
    return at;
  }

  private mapFree(len: number, tag: number): number {
    if (len < CMSG_REQ_MAP_FREE_TBL_SZ) return this.errorReply(NFP_CCM_TYPE_BPF_MAP_FREE, tag, CMSG_RC_ERR_MAP_PARSE);
    const tid = this.rxView.getUint32(4);
    const t = tid <= this.maxTid ? this.tables[tid] : undefined;
    if (t === undefined) return this.errorReply(NFP_CCM_TYPE_BPF_MAP_FREE, tag, CMSG_RC_ERR_MAP_FD);
    const count = t.count;
    map_dir_clear(this.mem, tid);
    this.tables[tid] = undefined;
    this.tablesInUse--;
    this.elemsInUse -= t.maxEntries;
    this.extents = this.extents.filter((x) => x.base !== t.base);
    this.replyHdr(NFP_CCM_TYPE_BPF_MAP_FREE, tag, CMSG_RC_SUCCESS, CMSG_REPLY_MAP_FREE_TBL_SZ);
    this.txView.setUint32(8, count);
    return CMSG_REPLY_MAP_FREE_TBL_SZ;
  }

  /** How many elements fit in a reply on the channel's current MTU. */
  private get maxReplyEntries(): number {
    return Math.max(1, Math.floor((this.mbox.mtu - CMSG_REPLY_MAP_OP_SZ) / (this.cmsgKeySz + this.cmsgValSz)));
  }

  private mapOp(type: number, len: number, tag: number): number {
    const ks = this.cmsgKeySz, vs = this.cmsgValSz, es = ks + vs;
    if (len < CMSG_REQ_MAP_OP_SZ + (type === NFP_CCM_TYPE_BPF_MAP_GETFIRST ? 0 : es)) return this.errorReply(type, tag, CMSG_RC_ERR_MAP_PARSE);
    const v = this.rxView;
    const tid = v.getUint32(4), count = v.getUint32(8), flags = v.getUint32(12);
    if (count === 0) return this.errorReply(type, tag, CMSG_RC_ERR_MAP_PARSE);
    const t = tid <= this.maxTid ? this.tables[tid] : undefined;
    if (t === undefined) return this.errorReply(type, tag, CMSG_RC_ERR_MAP_FD);
    const key = CMSG_REQ_MAP_OP_SZ;
    const val = CMSG_REQ_MAP_OP_SZ + ks;
    const out = CMSG_REPLY_MAP_OP_SZ;
    const tx = this.tx;

    if (type === NFP_CCM_TYPE_BPF_MAP_GETFIRST || type === NFP_CCM_TYPE_BPF_MAP_GETNEXT) {
      const want = Math.min(count, this.maxReplyEntries);
      // Room for the good entries, plus one if there was an error (as the firmware sizes it).
      this.replyHdr(type, tag, CMSG_RC_SUCCESS, out + es * (want + 1));
      let e = type === NFP_CCM_TYPE_BPF_MAP_GETFIRST ? t.nextAfterKey(null, 0) : t.nextAfterKey(this.rx, key);
      let n = 0;
      for (; n < want && e >= 0; n++) {
        t.readKey(e, tx, out + es * n);
        t.readValue(e, this.txView, out + es * n + ks);
        if (n + 1 < want) e = t.nextAfterElem(e);
      }
      const rc = n === want ? CMSG_RC_SUCCESS : CMSG_RC_ERR_MAP_NOENT;
      this.txView.setUint32(4, rc);
      this.txView.setUint32(8, n);
      return out + es * (n + (rc === CMSG_RC_SUCCESS ? 0 : 1));
    }

    const size = out + es;
    let rc: number;
    switch (type) {
      case NFP_CCM_TYPE_BPF_MAP_LOOKUP: {
        const e = t.lookup(this.rx, key);
        rc = e < 0 ? CMSG_RC_ERR_MAP_NOENT : CMSG_RC_SUCCESS;
        this.replyHdr(type, tag, rc, size);
        if (e >= 0) {
          this.echo(key, out, ks);
          t.readValue(e, this.txView, out + ks);
        }
        break;
      }
      case NFP_CCM_TYPE_BPF_MAP_UPDATE:
        rc = t.update(this.rx, key, this.rxView, val, flags);
        this.replyHdr(type, tag, rc, size);
        if (rc === CMSG_RC_SUCCESS) this.echo(key, out, es);
        break;
      default:
        rc = t.delete(this.rx, key);
        this.replyHdr(type, tag, rc, size);
        if (rc === CMSG_RC_SUCCESS) this.echo(key, out, ks);
        break;
    }
    this.txView.setUint32(8, rc === CMSG_RC_SUCCESS ? 1 : 0);
    return size;
  }
}
