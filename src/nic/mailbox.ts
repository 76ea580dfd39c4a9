// The control channel between the host driver and the firmware's control-message handler: on a real
// NFP, the "ctrl vNIC" (a dedicated vNIC whose rings carry control messages as packets; nfp_net's
// nfp_ctrl_tx()/nfp_ctrl_rx() on the host side). Here it is two single-producer single-consumer rings
// of fixed-size slots in one SharedArrayBuffer: host->firmware (requests) and firmware->host (replies and
// unsolicited events such as BPF_EVENT). A slot holds a 4-byte length and the message bytes; messages
// are opaque here (their format is src/nic/ccm.ts).
//
// Producer and consumer indices are free-running 32-bit counters (slot = index % nslots). Each side
// publishes a message by storing the producer index after the bytes, so the consumer that sees the new
// index also sees the bytes (Atomics are sequentially consistent). The firmware sleeps on the request
// producer index (Atomics.wait in its worker); the host waits for replies on the reply producer index
// with Atomics.waitAsync, so the host's event loop never blocks on the NIC.
//
// The header also carries the device state (up / dead), the firmware epoch (bumped on every firmware
// start), the MTU the driver configured, a few counters, and a fault plan used by tests: the firmware
// consults it for each reply it sends (drop, delay, duplicate, corrupt) — faults of the channel, which
// the driver must survive with a clear errno and no hang.

/** Header word indices (Int32). */
export const MBOX = {
  MAGIC: 0,
  SLOT_BYTES: 1,
  NSLOTS: 2,
  H2F_PROD: 3,
  H2F_CONS: 4,
  F2H_PROD: 5,
  F2H_CONS: 6,
  STATE: 7,
  FW_EPOCH: 8,
  CTRL_MTU: 9,
  FAULT_KIND: 10,
  FAULT_COUNT: 11,
  FAULT_ARG: 12,
  FAULT_SKIP: 13,
  /** Set by the host to ask the firmware loop to stop (reset, unload); the firmware clears it. */
  FW_STOP: 14,
  /** 1 while the firmware sleeps on H2F_PROD: only then does the host pay for a wake-up. */
  FW_SLEEPING: 15,
  /** 1 while the host waits (Atomics.waitAsync) on F2H_PROD: only then does the firmware wake it. */
  HOST_WAITING: 20,
  /** The largest message either side may send (the ctrl vNIC's maximum MTU). */
  MAX_MSG: 21,
  STAT_REQUESTS: 16,
  STAT_REPLIES: 17,
  STAT_FAULTS: 18,
  STAT_TX_FULL: 19,
  /** Futex wake-ups each side paid for: the host waking a sleeping firmware, the firmware a waiting host. */
  STAT_FW_WAKEUPS: 22,
  STAT_HOST_WAKEUPS: 23,
  /**
   * Requests the firmware found only when its idle wait ran out, nobody having woken it: each is a
   * wake-up the host owed and did not pay (a protocol bug, or a kick held back for a moment).
   */
  STAT_FW_LATE: 24,
} as const;

const HDR_WORDS = 32;
const HDR_BYTES = HDR_WORDS * 4;
const MBOX_MAGIC = 0x4e465043; // "NFPC"

/** MBOX.STATE values. */
export const MBOX_STATE_DOWN = 0;
export const MBOX_STATE_UP = 1;
/** The device is gone (surprise removal): nothing will ever answer again. */
export const MBOX_STATE_DEAD = 2;

/** Faults the channel can inject on firmware->host messages (MBOX.FAULT_KIND). */
export const MBOX_FAULT = {
  NONE: 0,
  /** The reply is lost. */
  DROP: 1,
  /** The reply is sent FAULT_ARG ms late. */
  DELAY: 2,
  /** The reply is sent twice. */
  DUPLICATE: 3,
  /** The reply's type byte is changed (reply bit cleared). */
  CORRUPT_TYPE: 4,
  /** The reply loses its last FAULT_ARG bytes (default 4). */
  TRUNCATE: 5,
  /** The reply's status word is set to FAULT_ARG (an rc the driver does not know, by default). */
  CORRUPT_RC: 6,
  /** The reply's tag is changed, so it matches no request. */
  CORRUPT_TAG: 7,
} as const;
export type MboxFaultKind = (typeof MBOX_FAULT)[keyof typeof MBOX_FAULT];

export interface MboxFaultPlan {
  kind: MboxFaultKind;
  /** How many replies the fault hits (default 1). */
  count?: number;
  /** DELAY: milliseconds; TRUNCATE: bytes; CORRUPT_RC: the status. */
  arg?: number;
  /** Replies to let through untouched before the fault starts (default 0). */
  skip?: number;
}

export interface CtrlMailboxConfig {
  /** Largest message either side may send (the ctrl vNIC's maximum MTU). */
  maxMessageBytes: number;
  /** Slots per ring. */
  nslots: number;
}

export class CtrlMailbox {
  readonly sab: SharedArrayBuffer;
  readonly hdr: Int32Array;
  readonly nslots: number;
  /** Bytes per slot: the length word and the largest message. */
  readonly slotBytes: number;
  readonly maxMessageBytes: number;
  private readonly u8: Uint8Array;
  private readonly dv: DataView;
  private readonly h2fBase: number;
  private readonly f2hBase: number;
  /** hostRecvView()'s views, by reply-ring slot; fwRecvInto()'s, by request-ring slot. */
  private readonly f2hViews: (Uint8Array | undefined)[];
  private readonly h2fViews: (Uint8Array | undefined)[];

  private constructor(sab: SharedArrayBuffer) {
    this.sab = sab;
    this.hdr = new Int32Array(sab, 0, HDR_WORDS);
    if (Atomics.load(this.hdr, MBOX.MAGIC) !== MBOX_MAGIC) throw new Error('ctrl mailbox: not a mailbox buffer');
    this.slotBytes = this.hdr[MBOX.SLOT_BYTES]!;
    this.nslots = this.hdr[MBOX.NSLOTS]!;
    this.maxMessageBytes = this.hdr[MBOX.MAX_MSG]!;
    this.u8 = new Uint8Array(sab);
    this.dv = new DataView(sab);
    this.h2fBase = HDR_BYTES;
    this.f2hBase = HDR_BYTES + this.nslots * this.slotBytes;
    this.f2hViews = new Array<Uint8Array | undefined>(this.nslots).fill(undefined);
    this.h2fViews = new Array<Uint8Array | undefined>(this.nslots).fill(undefined);
  }

  static create(cfg: CtrlMailboxConfig): CtrlMailbox {
    const { maxMessageBytes, nslots } = cfg;
    if (!Number.isInteger(maxMessageBytes) || maxMessageBytes < 16 || maxMessageBytes > 65535) {
      throw new RangeError(`ctrl mailbox: bad message size ${maxMessageBytes}`);
    }
    if (!Number.isInteger(nslots) || nslots < 2 || nslots > 65536) throw new RangeError(`ctrl mailbox: bad slot count ${nslots}`);
    const slotBytes = (maxMessageBytes + 4 + 7) & ~7;
    const sab = new SharedArrayBuffer(HDR_BYTES + 2 * nslots * slotBytes);
    const hdr = new Int32Array(sab, 0, HDR_WORDS);
    hdr[MBOX.SLOT_BYTES] = slotBytes;
    hdr[MBOX.NSLOTS] = nslots;
    hdr[MBOX.CTRL_MTU] = maxMessageBytes;
    hdr[MBOX.MAX_MSG] = maxMessageBytes;
    Atomics.store(hdr, MBOX.MAGIC, MBOX_MAGIC);
    return new CtrlMailbox(sab);
  }

  static attach(sab: SharedArrayBuffer): CtrlMailbox {
    return new CtrlMailbox(sab);
  }

  // ---------------------------------------------------------------- state

  get state(): number {
    return Atomics.load(this.hdr, MBOX.STATE);
  }

  set state(s: number) {
    Atomics.store(this.hdr, MBOX.STATE, s);
    // Wake both sides so that a sleeper notices (the host's reply wait, the firmware's request wait).
    Atomics.notify(this.hdr, MBOX.F2H_PROD);
    Atomics.notify(this.hdr, MBOX.H2F_PROD);
  }

  get epoch(): number {
    return Atomics.load(this.hdr, MBOX.FW_EPOCH);
  }

  /** The MTU the driver set on the ctrl vNIC: the firmware sizes multi-entry replies to it. */
  get mtu(): number {
    return Atomics.load(this.hdr, MBOX.CTRL_MTU);
  }

  set mtu(v: number) {
    if (!Number.isInteger(v) || v < 1 || v > this.maxMessageBytes) throw new RangeError(`ctrl mailbox: MTU ${v} outside 1..${this.maxMessageBytes}`);
    Atomics.store(this.hdr, MBOX.CTRL_MTU, v);
  }

  stat(word: number): number {
    return Atomics.load(this.hdr, word);
  }

  // ---------------------------------------------------------------- host side

  /**
   * Queue a request for the firmware and wake it; false when the ring is full (the caller keeps it in
   * a backlog).
   */
  hostSend(msg: Uint8Array): boolean {
    if (!this.hostPost(msg)) return false;
    this.hostKick();
    return true;
  }

  /**
   * Queue a request without waking the firmware: a host sending a burst posts each request and wakes
   * the firmware once, with hostKick(), when the burst is done.
   */
  hostPost(msg: Uint8Array): boolean {
    if (msg.length > this.maxMessageBytes) throw new RangeError(`ctrl mailbox: ${msg.length}-byte message exceeds ${this.maxMessageBytes}`);
    const prod = Atomics.load(this.hdr, MBOX.H2F_PROD);
    if (((prod - Atomics.load(this.hdr, MBOX.H2F_CONS)) | 0) >= this.nslots) {
      Atomics.add(this.hdr, MBOX.STAT_TX_FULL, 1);
      return false;
    }
    this.write(this.h2fBase, prod, msg, msg.length);
    Atomics.store(this.hdr, MBOX.H2F_PROD, (prod + 1) | 0);
    return true;
  }

  /**
   * Wake the firmware if it sleeps on the request ring. A futex wake costs microseconds; a busy
   * firmware will find the requests anyway. fwSleep() stores its flag before it re-reads the index, so
   * one of the two sides always sees the other, however late the kick comes after the post. The flag
   * is taken with the wake-up, so a burst of requests costs one wake-up, not one each.
   */
  hostKick(): void {
    if (Atomics.compareExchange(this.hdr, MBOX.FW_SLEEPING, 1, 0) === 1) {
      Atomics.add(this.hdr, MBOX.STAT_FW_WAKEUPS, 1);
      Atomics.notify(this.hdr, MBOX.H2F_PROD);
    }
  }

  /** The next firmware->host message (a copy), or null when the ring is empty. */
  hostRecv(): Uint8Array | null {
    const v = this.hostRecvView();
    if (v === null) return null;
    const msg = v.slice();
    this.hostRecvDone();
    return msg;
  }

  /**
   * The next firmware->host message in place: a view of its bytes in the ring slot, valid until
   * hostRecvDone() gives the slot back, or null when the ring is empty. The receive path reads each
   * message where the firmware wrote it; the views are made once per slot (again only when a slot's
   * message length changes), so this allocates nothing in the steady state.
   */
  hostRecvView(): Uint8Array | null {
    const cons = Atomics.load(this.hdr, MBOX.F2H_CONS);
    if (cons === Atomics.load(this.hdr, MBOX.F2H_PROD)) return null;
    const slot = (cons >>> 0) % this.nslots;
    const off = this.f2hBase + slot * this.slotBytes;
    const len = Math.min(this.dv.getUint32(off, true), this.maxMessageBytes);
    let v = this.f2hViews[slot];
    if (v === undefined || v.length !== len) v = this.f2hViews[slot] = new Uint8Array(this.sab, off + 4, len);
    return v;
  }

  /** Give the slot of the message hostRecvView() returned back to the firmware. */
  hostRecvDone(): void {
    Atomics.store(this.hdr, MBOX.F2H_CONS, (Atomics.load(this.hdr, MBOX.F2H_CONS) + 1) | 0);
  }

  /**
   * The host is about to wait for replies: announce it before reading the producer index it will
   * wait on, so that the firmware either sees the flag or its reply is already counted.
   */
  hostWaiting(on: boolean): void {
    Atomics.store(this.hdr, MBOX.HOST_WAITING, on ? 1 : 0);
  }

  /** The reply producer index: the host waits for it to move (Atomics.waitAsync). */
  get replyProd(): number {
    return Atomics.load(this.hdr, MBOX.F2H_PROD);
  }

  get replyCons(): number {
    return Atomics.load(this.hdr, MBOX.F2H_CONS);
  }

  // ---------------------------------------------------------------- firmware side

  /** Copy the next request into `buf`; returns its length, or -1 when the ring is empty. */
  fwRecvInto(buf: Uint8Array): number {
    const cons = Atomics.load(this.hdr, MBOX.H2F_CONS);
    if (cons === Atomics.load(this.hdr, MBOX.H2F_PROD)) return -1;
    const slot = (cons >>> 0) % this.nslots;
    const off = this.h2fBase + slot * this.slotBytes;
    const len = Math.min(this.dv.getUint32(off, true), this.maxMessageBytes, buf.length);
    if (len <= SMALL) {
      copyOut(buf, this.u8, off + 4, len);
    } else {
      // set() from a view of the slot (kept per slot, like the reply ring's) is a memcpy, allocation-free.
      let v = this.h2fViews[slot];
      if (v === undefined || v.length !== len) v = this.h2fViews[slot] = new Uint8Array(this.sab, off + 4, len);
      buf.set(v);
    }
    Atomics.store(this.hdr, MBOX.H2F_CONS, (cons + 1) | 0);
    Atomics.add(this.hdr, MBOX.STAT_REQUESTS, 1);
    return len;
  }

  /** Send `len` bytes of `msg` to the host and wake it; false when the ring is full (the firmware retries later). */
  fwSend(msg: Uint8Array, len: number): boolean {
    if (!this.fwPost(msg, len)) return false;
    this.fwKick();
    return true;
  }

  /**
   * Queue `len` bytes of `msg` for the host without waking it: a firmware answering a batch of
   * requests posts each reply and wakes the host once, with fwKick(), when the batch is done.
   */
  fwPost(msg: Uint8Array, len: number): boolean {
    const prod = Atomics.load(this.hdr, MBOX.F2H_PROD);
    if (((prod - Atomics.load(this.hdr, MBOX.F2H_CONS)) | 0) >= this.nslots) return false;
    this.write(this.f2hBase, prod, msg, len);
    Atomics.store(this.hdr, MBOX.F2H_PROD, (prod + 1) | 0);
    Atomics.add(this.hdr, MBOX.STAT_REPLIES, 1);
    return true;
  }

  /** Wake the host if it waits for messages (it takes the flag down with the wake-up). */
  fwKick(): void {
    if (Atomics.compareExchange(this.hdr, MBOX.HOST_WAITING, 1, 0) === 1) {
      Atomics.add(this.hdr, MBOX.STAT_HOST_WAKEUPS, 1);
      Atomics.notify(this.hdr, MBOX.F2H_PROD);
    }
  }

  /**
   * The firmware's idle wait (in its worker): sleep until the request producer index moves from
   * `seen`, a stop is asked for, or `ms` pass.
   */
  fwSleep(seen: number, ms: number): void {
    Atomics.store(this.hdr, MBOX.FW_SLEEPING, 1);
    if (Atomics.load(this.hdr, MBOX.H2F_PROD) === seen && Atomics.load(this.hdr, MBOX.FW_STOP) === 0) {
      const r = Atomics.wait(this.hdr, MBOX.H2F_PROD, seen, ms);
      if (r === 'timed-out' && Atomics.load(this.hdr, MBOX.H2F_PROD) !== seen) Atomics.add(this.hdr, MBOX.STAT_FW_LATE, 1);
    }
    Atomics.store(this.hdr, MBOX.FW_SLEEPING, 0);
  }

  /** The request producer index: the firmware sleeps until it moves. */
  get requestProd(): number {
    return Atomics.load(this.hdr, MBOX.H2F_PROD);
  }

  get requestCons(): number {
    return Atomics.load(this.hdr, MBOX.H2F_CONS);
  }

  /** A firmware reset loses the requests it had not read yet. */
  discardRequests(): number {
    const prod = Atomics.load(this.hdr, MBOX.H2F_PROD);
    const lost = (prod - Atomics.exchange(this.hdr, MBOX.H2F_CONS, prod)) | 0;
    return lost;
  }

  /** A firmware (re)start: bump the epoch, clear a stale stop request, and mark the channel up. */
  firmwareStarted(): number {
    Atomics.store(this.hdr, MBOX.FW_STOP, 0);
    const epoch = Atomics.add(this.hdr, MBOX.FW_EPOCH, 1) + 1;
    if (this.state !== MBOX_STATE_DEAD) this.state = MBOX_STATE_UP;
    return epoch;
  }

  // ---------------------------------------------------------------- faults (tests)

  /** Arm a fault on the next firmware->host messages. */
  injectFault(plan: MboxFaultPlan): void {
    Atomics.store(this.hdr, MBOX.FAULT_SKIP, plan.skip ?? 0);
    Atomics.store(this.hdr, MBOX.FAULT_ARG, plan.arg ?? 0);
    Atomics.store(this.hdr, MBOX.FAULT_COUNT, plan.count ?? 1);
    Atomics.store(this.hdr, MBOX.FAULT_KIND, plan.kind);
  }

  clearFault(): void {
    Atomics.store(this.hdr, MBOX.FAULT_KIND, MBOX_FAULT.NONE);
    Atomics.store(this.hdr, MBOX.FAULT_COUNT, 0);
  }

  /**
   * Called by the firmware for each message it sends: the fault that hits this message (NONE for
   * most), and its argument. Consumes one count of the plan.
   */
  takeFault(): { kind: MboxFaultKind; arg: number } {
    const kind = Atomics.load(this.hdr, MBOX.FAULT_KIND) as MboxFaultKind;
    if (kind === MBOX_FAULT.NONE) return NO_FAULT;
    if (Atomics.load(this.hdr, MBOX.FAULT_SKIP) > 0) {
      Atomics.sub(this.hdr, MBOX.FAULT_SKIP, 1);
      return NO_FAULT;
    }
    if (Atomics.sub(this.hdr, MBOX.FAULT_COUNT, 1) <= 1) Atomics.store(this.hdr, MBOX.FAULT_KIND, MBOX_FAULT.NONE);
    Atomics.add(this.hdr, MBOX.STAT_FAULTS, 1);
    return { kind, arg: Atomics.load(this.hdr, MBOX.FAULT_ARG) };
  }

  // ----------------------------------------------------------------

  private write(base: number, index: number, msg: Uint8Array, len: number): void {
    const off = base + (((index >>> 0) % this.nslots) * this.slotBytes);
    this.dv.setUint32(off, len, true);
    // set() of a whole array is a memcpy with nothing allocated: the fastest for any length.
    if (len === msg.length) {
      this.u8.set(msg, off + 4);
    } else if (len <= SMALL) {
      const u8 = this.u8;
      for (let i = 0; i < len; i++) u8[off + 4 + i] = msg[i]!;
    } else {
      this.u8.set(msg.subarray(0, len), off + 4);
    }
  }
}

/** Messages (or parts) up to this size are copied with a byte loop: cheaper than a subarray view and set(). */
const SMALL = 32;

function copyOut(dst: Uint8Array, src: Uint8Array, off: number, len: number): void {
  for (let i = 0; i < len; i++) dst[i] = src[off + i]!;
}

const NO_FAULT = Object.freeze({ kind: MBOX_FAULT.NONE as MboxFaultKind, arg: 0 });
