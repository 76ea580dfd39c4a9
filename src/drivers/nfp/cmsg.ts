// Request/reply over the ctrl channel: the common control-message code of
// drivers/net/ethernet/netronome/nfp/ccm.c (tags, sending, waiting for the reply, checking its type and
// size) and the BPF map messages of nfp/bpf/cmsg.c (MAP_ALLOC, MAP_FREE, the entry operations with
// their small cache, the ONE firmware-status -> errno table, and the receive path that tells replies
// from BPF_EVENT messages). Message layouts are the firmware ABI in src/nic/ccm.ts.
//
// Waiting. The kernel busy-polls for 200 us and then sleeps up to 5 s. Here a request's caller gets a
// Promise, and the request itself (an NfpCcmRequest: the part of the kernel's waiting stack frame
// that looks at the reply) waits in a table by tag. The receive path matches each reply to its
// request, checks type and size and hands it over while it is still in its slot of the reply ring: a
// map op copies its key and value out and settles its caller's Promise there, so a reply costs no
// copy, no allocation and no hop through further Promises. The host's event loop keeps running while
// the firmware works, and many requests can be in flight. One timer, armed for the oldest request,
// turns requests unanswered after the timeout into ETIMEDOUT. The 'busy' mode spins on the ring
// instead, blocking the event loop for the whole round trip: it exists only so that the benchmark can
// show what that costs.
//
// Tags are 16-bit and handed out in order; at most U16_MAX/4 may be in flight, so a tag is reused only
// long after its request was answered or given up (a late or duplicated reply then matches nothing and
// is dropped with a warning, instead of answering someone else's request).

import { BpfError, errnoNumber, strerror, type ErrnoName } from '../../bpf/errno.js';
import {
  CMSG_REPLY_MAP_ALLOC_TBL_SZ, CMSG_REPLY_MAP_FREE_TBL_SZ, CMSG_REPLY_MAP_OP_SZ, CMSG_REPLY_MAP_SIMPLE_SZ,
  CMSG_REQ_MAP_ALLOC_TBL_SZ, CMSG_REQ_MAP_FREE_TBL_SZ, CMSG_REQ_MAP_OP_SZ, NFP_CCM_ABI_VERSION, NFP_CCM_HDR_SZ,
  NFP_CCM_TYPE_BPF_BPF_EVENT, NFP_CCM_TYPE_BPF_MAP_ALLOC, NFP_CCM_TYPE_BPF_MAP_DELETE, NFP_CCM_TYPE_BPF_MAP_FREE,
  NFP_CCM_TYPE_BPF_MAP_GETFIRST, NFP_CCM_TYPE_BPF_MAP_GETNEXT, NFP_CCM_TYPE_BPF_MAP_LOOKUP,
  NFP_CCM_TYPE_BPF_MAP_UPDATE, __NFP_CCM_REPLY, cmsg_map_reply_size, cmsg_map_req_size, nfp_ccm_get_tag,
  nfp_ccm_get_type,
} from '../../nic/ccm.js';
import type { NfpCtrlVnic } from './ctrl.js';
import { NFP_BPF_MAP_CACHE_TIME_NS, type NfpAppBpf } from './main.js';
import { nfp_bpf_event_output, type NfpBpfMap } from './offload.js';
import type { BpfOffloadedMap } from '../../kernel/offload.js';
import type { BpfMap } from '../../kernel/maps/map.js';

/** NFP_CCM_TAG_ALLOC_SPAN: requests allowed in flight (U16_MAX / 4). */
export const NFP_CCM_TAG_ALLOC_SPAN = Math.floor(0xffff / 4);
/** How long a request waits for its reply (msecs_to_jiffies(5000) in nfp_ccm_wait_reply()). */
export const NFP_CCM_TIMEOUT_MS = 5000;

export type NfpCcmWaitMode = 'async' | 'busy';

/**
 * A request waiting for its reply: what the caller of nfp_ccm_communicate() does with the reply once
 * it is back. The receive path calls reply() with a reply of the right type (and size, if the request
 * fixed one) — valid only during the call, since it is read in its ring slot — or fail() with the
 * error that ended the wait. Exactly one of the two is called, once.
 */
export abstract class NfpCcmRequest {
  /** Set when the request is sent: its type, and when it times out (performance.now() ms). */
  type = 0;
  deadline = 0;

  /** reply_size: the exact size the reply must have, or 0 for any. */
  constructor(readonly reply_size: number) {}

  abstract reply(skb: Uint8Array): void;
  abstract fail(e: BpfError): void;
}

/** The plain nfp_ccm_communicate(): the caller gets a copy of the reply. */
class NfpCcmReplyCopy extends NfpCcmRequest {
  constructor(reply_size: number, private readonly resolve: (skb: Uint8Array) => void, private readonly reject: (e: BpfError) => void) {
    super(reply_size);
  }

  reply(skb: Uint8Array): void {
    this.resolve(skb.slice());
  }

  fail(e: BpfError): void {
    this.reject(e);
  }
}

export interface NfpCcmOptions {
  /** Reply timeout in ms (default NFP_CCM_TIMEOUT_MS). */
  timeoutMs?: number;
  waitMode?: NfpCcmWaitMode;
  /** Busy-wait mode with the firmware in-process: run it while spinning. */
  pump?: () => void;
}

const hex2 = (n: number): string => `0x${n.toString(16).padStart(2, '0')}`;

/** struct nfp_ccm: tag allocation, replies waiting for their caller, and the callers waiting. */
export class NfpCcm {
  private readonly tag_allocator = new Uint8Array(0x10000);
  private tag_alloc_next = 0;
  private tag_alloc_last = 0;
  /** ccm->replies: replies that arrived before their caller looked (busy-wait mode), copied. */
  private readonly replies = new Map<number, Uint8Array>();
  /** The wait queue, by tag: tags are handed out in order, so this is request (and deadline) order. */
  private readonly waiting: (NfpCcmRequest | undefined)[] = new Array<NfpCcmRequest | undefined>(0x10000).fill(undefined);
  private timer: ReturnType<typeof setTimeout> | undefined;
  private dead: BpfError | undefined;
  timeoutMs: number;
  waitMode: NfpCcmWaitMode;
  private readonly pump: (() => void) | undefined;

  constructor(private readonly ctrl: NfpCtrlVnic, private readonly warn: (msg: string) => void, opts: NfpCcmOptions = {}) {
    this.timeoutMs = opts.timeoutMs ?? NFP_CCM_TIMEOUT_MS;
    this.waitMode = opts.waitMode ?? 'async';
    this.pump = opts.pump;
  }

  /** Requests in flight (tags allocated and not yet freed). */
  get inFlight(): number {
    return (this.tag_alloc_next - this.tag_alloc_last) & 0xffff;
  }

  private all_tags_busy(): boolean {
    return ((this.tag_alloc_next - this.tag_alloc_last) & 0xffff) > NFP_CCM_TAG_ALLOC_SPAN;
  }

  /** nfp_ccm_alloc_tag(): the next tag, or -1 (with the kernel's warning) when too many are in flight. */
  private alloc_tag(): number {
    if (this.all_tags_busy()) {
      this.warn('all FW request contexts busy!');
      return -1;
    }
    const tag = this.tag_alloc_next;
    if (this.tag_allocator[tag] !== 0) throw new Error(`BUG: ccm tag ${tag} allocated twice`);
    this.tag_allocator[tag] = 1;
    this.tag_alloc_next = (tag + 1) & 0xffff;
    return tag;
  }

  /** nfp_ccm_free_tag(): and move tag_alloc_last past every tag already freed. */
  private free_tag(tag: number): void {
    if (this.tag_allocator[tag] === 0) throw new Error(`BUG: ccm tag ${tag} freed twice`);
    this.tag_allocator[tag] = 0;
    while (this.tag_allocator[this.tag_alloc_last] === 0 && this.tag_alloc_last !== this.tag_alloc_next) {
      this.tag_alloc_last = (this.tag_alloc_last + 1) & 0xffff;
    }
  }

  /**
   * nfp_ccm_communicate(): send `skb` (its header is filled in here) and wait for the reply, which
   * must be of the reply type and, if reply_size is not 0, of exactly that size (else EIO). The
   * caller gets a copy of the reply.
   */
  communicate(skb: Uint8Array, type: number, reply_size: number): Promise<Uint8Array> {
    return new Promise<Uint8Array>((resolve, reject) => this.send(skb, type, new NfpCcmReplyCopy(reply_size, resolve, reject)));
  }

  /**
   * The sending half of nfp_ccm_communicate(): allocate a tag, fill in the header, queue `skb` (the
   * ctrl vNIC copies it before this returns, so the caller may reuse its buffer) and leave `req` to
   * wait for the reply. Never throws: EAGAIN (too many in flight), a dead device, and in busy-wait
   * mode the whole round trip end in req.
   */
  send(skb: Uint8Array, type: number, req: NfpCcmRequest): void {
    if (this.dead !== undefined) return req.fail(this.dead);
    const tag = this.alloc_tag();
    if (tag < 0) return req.fail(new BpfError('EAGAIN', 'all FW request contexts busy!'));
    skb[0] = type;
    skb[1] = NFP_CCM_ABI_VERSION;
    skb[2] = tag >>> 8;
    skb[3] = tag & 0xff;
    req.type = type;
    if (this.waitMode === 'busy') {
      this.ctrl.tx(skb);
      // No microtask runs before the spin ends: wake the firmware now.
      this.ctrl.kick();
      const reply = this.wait_reply_busy(type, tag);
      if (reply instanceof BpfError) req.fail(reply);
      else this.complete(req, reply);
      return;
    }
    req.deadline = performance.now() + this.timeoutMs;
    this.waiting[tag] = req;
    if (this.timer === undefined) this.armTimer();
    this.ctrl.tx(skb);
  }

  /** The reply's type and size checks of nfp_ccm_communicate(); then it is the request's. */
  private complete(req: NfpCcmRequest, skb: Uint8Array): void {
    const reply_type = nfp_ccm_get_type(skb);
    if (reply_type !== __NFP_CCM_REPLY(req.type)) {
      const msg = `cmsg drop - wrong type ${hex2(reply_type)} != ${hex2(__NFP_CCM_REPLY(req.type))}!`;
      this.warn(msg);
      return req.fail(new BpfError('EIO', msg));
    }
    if (req.reply_size !== 0 && skb.length !== req.reply_size) {
      const msg = `cmsg drop - type ${hex2(req.type)} wrong size ${skb.length} != ${req.reply_size}!`;
      this.warn(msg);
      return req.fail(new BpfError('EIO', msg));
    }
    req.reply(skb);
  }

  /** The busy-wait mode: spin on the ring until the reply is there (a copy) or the timeout passes. */
  private wait_reply_busy(type: number, tag: number): Uint8Array | BpfError {
    const deadline = performance.now() + this.timeoutMs;
    for (;;) {
      this.pump?.();
      this.ctrl.poll();
      const skb = this.replies.get(tag);
      if (skb !== undefined) {
        this.replies.delete(tag);
        this.free_tag(tag);
        return skb;
      }
      if (this.dead !== undefined) {
        this.free_tag(tag);
        return this.dead;
      }
      if (performance.now() > deadline) {
        this.free_tag(tag);
        this.warn(`timeout waiting for response to ${hex2(type)}`);
        return new BpfError('ETIMEDOUT', `timeout waiting for response to ${hex2(type)}`);
      }
    }
  }

  /**
   * nfp_ccm_rx(): a reply arrived; `skb` is valid only during the call. One that nobody waits for is
   * dropped with a warning.
   */
  rx(skb: Uint8Array): void {
    // After kill() nobody waits any more; the tags it left allocated must not collect replies.
    if (this.dead !== undefined) return;
    if (skb.length < NFP_CCM_HDR_SZ) {
      this.warn(`cmsg drop - too short ${skb.length}!`);
      return;
    }
    const tag = nfp_ccm_get_tag(skb);
    if (this.tag_allocator[tag] === 0) {
      this.warn(`cmsg drop - no one is waiting for tag ${tag}!`);
      return;
    }
    const req = this.waiting[tag];
    if (req === undefined) {
      // A busy-waiting caller picks it up from ccm->replies.
      this.replies.set(tag, skb.slice());
      return;
    }
    this.waiting[tag] = undefined;
    this.free_tag(tag);
    this.complete(req, skb);
  }

  /** The oldest request waiting (the lowest tag still allocated that has one), or -1. */
  private oldestWaiting(): number {
    for (let tag = this.tag_alloc_last; tag !== this.tag_alloc_next; tag = (tag + 1) & 0xffff) {
      if (this.waiting[tag] !== undefined) return tag;
    }
    return -1;
  }

  private armTimer(): void {
    const tag = this.oldestWaiting();
    if (tag < 0) {
      this.timer = undefined;
      return;
    }
    this.timer = setTimeout(this.expire, Math.max(0, this.waiting[tag]!.deadline - performance.now()));
  }

  /** Give up on every request past its deadline: drop its tag, ETIMEDOUT. */
  private readonly expire = (): void => {
    this.timer = undefined;
    // A reply may be sitting in the ring right now: take it before declaring a timeout.
    this.ctrl.poll();
    const now = performance.now();
    const end = this.tag_alloc_next;
    for (let tag = this.tag_alloc_last; tag !== end; tag = (tag + 1) & 0xffff) {
      const req = this.waiting[tag];
      if (req === undefined) continue;
      if (req.deadline > now) break;
      this.waiting[tag] = undefined;
      this.free_tag(tag);
      this.warn(`timeout waiting for response to ${hex2(req.type)}`);
      req.fail(new BpfError('ETIMEDOUT', `timeout waiting for response to ${hex2(req.type)}`));
    }
    this.armTimer();
  };

  /**
   * The device is gone: every caller waiting gets `errno` now, and so does every later request. The
   * tags stay allocated, so a reply that still arrives matches nobody.
   */
  kill(errno: ErrnoName, why: string): void {
    this.dead = new BpfError(errno, why);
    for (let tag = this.tag_alloc_last; tag !== this.tag_alloc_next; tag = (tag + 1) & 0xffff) {
      const req = this.waiting[tag];
      if (req === undefined) continue;
      this.waiting[tag] = undefined;
      req.fail(new BpfError(errno, `${why} while waiting for response to ${hex2(req.type)}`));
    }
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  get isDead(): boolean {
    return this.dead !== undefined;
  }
}

// ====================================================================== the BPF messages (bpf/cmsg.c)

/** enum nfp_bpf_cmsg_status -> errno: the ONE table (nfp_bpf_ctrl_rc_to_errno()). */
const NFP_BPF_CTRL_RC_TO_ERRNO: readonly (ErrnoName | null)[] = [
  null, // CMSG_RC_SUCCESS
  'EBADFD', // CMSG_RC_ERR_MAP_FD
  'ENOENT', // CMSG_RC_ERR_MAP_NOENT
  'EINVAL', // CMSG_RC_ERR_MAP_ERR
  'EIO', // CMSG_RC_ERR_MAP_PARSE
  'EEXIST', // CMSG_RC_ERR_MAP_EXIST
  'ENOMEM', // CMSG_RC_ERR_MAP_NOMEM
  'E2BIG', // CMSG_RC_ERR_MAP_E2BIG
];

/** nfp_bpf_ctrl_rc_to_errno(): null for success; an unknown status is EIO with a warning. */
export function nfp_bpf_ctrl_rc_to_errno(bpf: NfpAppBpf, reply: Uint8Array): ErrnoName | null {
  const rc = be32(reply, 4);
  if (rc >= NFP_BPF_CTRL_RC_TO_ERRNO.length) {
    bpf.cmsg_warn(`FW responded with invalid status: ${rc}`);
    return 'EIO';
  }
  return NFP_BPF_CTRL_RC_TO_ERRNO[rc]!;
}

/** The error a firmware status becomes: its errno, and strerror() as the message (what bpftool shows). */
function rcError(errno: ErrnoName): BpfError {
  return new BpfError(errno, strerror(errno));
}

function be32(b: Uint8Array, off: number): number {
  return ((b[off]! << 24) | (b[off + 1]! << 16) | (b[off + 2]! << 8) | b[off + 3]!) >>> 0;
}

function put_be32(b: Uint8Array, off: number, v: number): void {
  b[off] = v >>> 24;
  b[off + 1] = (v >>> 16) & 0xff;
  b[off + 2] = (v >>> 8) & 0xff;
  b[off + 3] = v & 0xff;
}

/** nfp_bpf_ctrl_alloc_map(): MAP_ALLOC; the firmware's table id. */
export async function nfp_bpf_ctrl_alloc_map(bpf: NfpAppBpf, map: BpfMap): Promise<number> {
  const req = new Uint8Array(CMSG_REQ_MAP_ALLOC_TBL_SZ);
  put_be32(req, 4, map.key_size);
  put_be32(req, 8, map.value_size);
  put_be32(req, 12, map.max_entries);
  put_be32(req, 16, map.map_type);
  put_be32(req, 20, 0);
  const reply = await bpf.ccm.communicate(req, NFP_CCM_TYPE_BPF_MAP_ALLOC, CMSG_REPLY_MAP_ALLOC_TBL_SZ);
  const err = nfp_bpf_ctrl_rc_to_errno(bpf, reply);
  if (err !== null) throw rcError(err);
  return be32(reply, 8);
}

/** nfp_bpf_ctrl_free_map(): MAP_FREE; failures are only warned about (the table leaks on the device). */
export async function nfp_bpf_ctrl_free_map(bpf: NfpAppBpf, nfp_map: NfpBpfMap): Promise<void> {
  const req = new Uint8Array(CMSG_REQ_MAP_FREE_TBL_SZ);
  put_be32(req, 4, nfp_map.tid);
  let reply: Uint8Array;
  try {
    reply = await bpf.ccm.communicate(req, NFP_CCM_TYPE_BPF_MAP_FREE, CMSG_REPLY_MAP_FREE_TBL_SZ);
  } catch (e) {
    if (!(e instanceof BpfError)) throw e;
    bpf.cmsg_warn('leaking map - I/O error');
    return;
  }
  const err = nfp_bpf_ctrl_rc_to_errno(bpf, reply);
  if (err !== null) bpf.cmsg_warn(`leaking map - FW responded with: -${errnoNumber(err)}`);
}

function nfp_bpf_ctrl_op_cache_invalidate(op: number): boolean {
  return op === NFP_CCM_TYPE_BPF_MAP_UPDATE || op === NFP_CCM_TYPE_BPF_MAP_DELETE;
}

function nfp_bpf_ctrl_op_cache_capable(op: number): boolean {
  return op === NFP_CCM_TYPE_BPF_MAP_LOOKUP || op === NFP_CCM_TYPE_BPF_MAP_GETNEXT;
}

function nfp_bpf_ctrl_op_cache_fill(op: number): boolean {
  return op === NFP_CCM_TYPE_BPF_MAP_GETFIRST || op === NFP_CCM_TYPE_BPF_MAP_GETNEXT;
}

/** Byte offset in a reply of element n's key (the value follows cmsg_key_sz bytes later). */
function replyKeyOff(bpf: NfpAppBpf, n: number): number {
  return CMSG_REPLY_MAP_OP_SZ + (bpf.cmsg_key_sz + bpf.cmsg_val_sz) * n;
}

function bytesEq(a: Uint8Array, aOff: number, b: Uint8Array, len: number): boolean {
  for (let i = 0; i < len; i++) if (a[aOff + i] !== b[i]) return false;
  return true;
}

/**
 * nfp_bpf_ctrl_op_cache_get(): serve a LOOKUP or GETNEXT from the cached GETFIRST/GETNEXT reply
 * (0 entries to ask for), or say how many to ask for. An UPDATE/DELETE drops the cache and blocks
 * refilling it until it is done.
 */
function nfp_bpf_ctrl_op_cache_get(nfp_map: NfpBpfMap, op: number, key: Uint8Array | null, out_key: Uint8Array | null,
  out_value: Uint8Array | null): number {
  const bpf = nfp_map.bpf;
  const map = nfp_map.offmap;
  let n_entries = nfp_bpf_ctrl_op_cache_fill(op) ? bpf.cmsg_cache_cnt : 1;
  if (nfp_map.cache_blockers > 0) n_entries = 1;

  if (nfp_bpf_ctrl_op_cache_invalidate(op)) {
    nfp_map.cache_blockers++;
    nfp_map.cache = null;
    return n_entries;
  }
  if (!nfp_bpf_ctrl_op_cache_capable(op) || nfp_map.cache === null || key === null) return n_entries;
  if (nfp_map.cache_to < bpf.ktime_get_ns()) {
    nfp_map.cache = null;
    return n_entries;
  }
  const reply = nfp_map.cache;
  const count = be32(reply, 8);
  for (let i = 0; i < count; i++) {
    if (!bytesEq(reply, replyKeyOff(bpf, i), key, map.key_size)) continue;
    if (op === NFP_CCM_TYPE_BPF_MAP_LOOKUP) {
      const vo = replyKeyOff(bpf, i) + bpf.cmsg_key_sz;
      out_value!.set(reply.subarray(vo, vo + map.value_size));
    }
    if (op === NFP_CCM_TYPE_BPF_MAP_GETNEXT) {
      if (i + 1 === count) break;
      out_key!.set(reply.subarray(replyKeyOff(bpf, i + 1), replyKeyOff(bpf, i + 1) + map.key_size));
    }
    return 0;
  }
  return n_entries;
}

/**
 * nfp_bpf_ctrl_op_cache_put(): keep a filler's reply (if nothing changed meanwhile; `skb` is the
 * message in its ring slot, so the cache takes a copy); end a blocker.
 */
function nfp_bpf_ctrl_op_cache_put(nfp_map: NfpBpfMap, op: number, skb: Uint8Array | null, cache_gen: number): void {
  const blocker = nfp_bpf_ctrl_op_cache_invalidate(op);
  const filler = nfp_bpf_ctrl_op_cache_fill(op);
  if (!blocker && !filler) return;
  if (blocker) {
    nfp_map.cache_blockers--;
    nfp_map.cache_gen++;
  }
  if (filler && skb !== null && nfp_map.cache_blockers === 0 && nfp_map.cache_gen === cache_gen) {
    nfp_map.cache_to = nfp_map.bpf.ktime_get_ns() + NFP_BPF_MAP_CACHE_TIME_NS;
    nfp_map.cache = skb.slice();
  }
}

/** The device's map-op request buffer (one element's room), zeroed: one per device, reused. */
let reqBpf: NfpAppBpf | undefined;
let reqBuf: Uint8Array = new Uint8Array(0);
const reqBuffers = new WeakMap<NfpAppBpf, Uint8Array>();

function nfp_bpf_cmsg_map_req(bpf: NfpAppBpf): Uint8Array {
  const size = cmsg_map_req_size(bpf.cmsg_key_sz, bpf.cmsg_val_sz, 1);
  if (bpf === reqBpf && reqBuf.length === size) {
    reqBuf.fill(0);
    return reqBuf;
  }
  let b = reqBuffers.get(bpf);
  if (b === undefined || b.length !== size) {
    b = new Uint8Array(size);
    reqBuffers.set(bpf, b);
  } else {
    b.fill(0);
  }
  reqBpf = bpf;
  reqBuf = b;
  return b;
}

/** Update flags as the syscall gives them: a u64, as a number or a bigint. */
export type MapUpdateFlags = number | bigint;

/** The low 32 bits of the flags, or -1 when any higher bit is set. */
function flagsLow32(flags: MapUpdateFlags): number {
  if (typeof flags === 'number') return Number.isInteger(flags) && flags >= 0 && flags <= 0xffffffff ? flags : -1;
  return flags >= 0n && flags <= 0xffffffffn ? Number(flags) : -1;
}

/** memcpy() for the few bytes of a key or value (a loop beats subarray().set() at this size). */
function copyBytes(dst: Uint8Array, dOff: number, src: Uint8Array, sOff: number, len: number): void {
  for (let i = 0; i < len; i++) dst[dOff + i] = src[sOff + i]!;
}

/**
 * The second half of nfp_bpf_ctrl_entry_op(), run by the receive path on the reply: the firmware's
 * status, the reply's size for the entries it says it holds, the key and value copied out, the cache
 * updated — then the caller's Promise settles.
 */
class NfpBpfMapOpRequest extends NfpCcmRequest {
  constructor(
    private readonly nfp_map: NfpBpfMap,
    private readonly op: number,
    private readonly n_entries: number,
    private readonly cache_gen: number,
    private readonly out_key: Uint8Array | null,
    private readonly out_value: Uint8Array | null,
    private readonly resolve: () => void,
    private readonly reject: (e: BpfError) => void,
  ) {
    super(0);
  }

  reply(reply: Uint8Array): void {
    const { nfp_map, op } = this;
    const bpf = nfp_map.bpf;
    if (reply.length < CMSG_REPLY_MAP_OP_SZ) {
      bpf.cmsg_warn(`cmsg drop - type ${hex2(op)} too short ${reply.length}!`);
      return this.fail(new BpfError('EIO', `cmsg drop - type ${hex2(op)} too short ${reply.length}!`));
    }
    const count = be32(reply, 8);
    let err = nfp_bpf_ctrl_rc_to_errno(bpf, reply);
    // The firmware sizes its reply for the good entries, plus one extra entry if there was an error.
    const reply_entries = count + (err !== null ? 1 : 0);
    if (this.n_entries > 1 && count > 0) err = null;
    if (err !== null) return this.fail(rcError(err));
    const want = cmsg_map_reply_size(bpf.cmsg_key_sz, bpf.cmsg_val_sz, reply_entries);
    if (reply.length !== want) {
      bpf.cmsg_warn(`cmsg drop - type ${hex2(op)} too short ${reply.length} for ${reply_entries} entries!`);
      return this.fail(new BpfError('EIO', `cmsg drop - type ${hex2(op)} too short ${reply.length} for ${reply_entries} entries!`));
    }
    const offmap = nfp_map.offmap;
    if (this.out_key !== null) copyBytes(this.out_key, 0, reply, replyKeyOff(bpf, 0), offmap.key_size);
    if (this.out_value !== null) copyBytes(this.out_value, 0, reply, replyKeyOff(bpf, 0) + bpf.cmsg_key_sz, offmap.value_size);
    nfp_bpf_ctrl_op_cache_put(nfp_map, op, reply, this.cache_gen);
    this.resolve();
  }

  fail(e: BpfError): void {
    nfp_bpf_ctrl_op_cache_put(this.nfp_map, this.op, null, this.cache_gen);
    this.reject(e);
  }
}

/**
 * nfp_bpf_ctrl_entry_op(): one LOOKUP / UPDATE / DELETE / GETFIRST / GETNEXT. Rejects with BpfError:
 * the firmware's status as errno, EIO for a malformed reply, ETIMEDOUT, EAGAIN, EOPNOTSUPP for flags
 * the message cannot carry.
 */
export function nfp_bpf_ctrl_entry_op(offmap: BpfOffloadedMap, op: number, key: Uint8Array | null, value: Uint8Array | null,
  flags: MapUpdateFlags, out_key: Uint8Array | null, out_value: Uint8Array | null): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const nfp_map = offmap.dev_priv as NfpBpfMap;
    const bpf = nfp_map.bpf;
    // FW messages have no space for more than 32 bits of flags.
    const flags32 = flagsLow32(flags);
    if (flags32 < 0) return reject(new BpfError('EOPNOTSUPP', 'FW messages have no space for more than 32 bits of flags'));

    // The generation before this op: a fill is kept only if no blocker finished meanwhile.
    const cache_gen = nfp_map.cache_gen;
    const n_entries = nfp_bpf_ctrl_op_cache_get(nfp_map, op, key, out_key, out_value);
    if (n_entries === 0) return resolve();

    // One request buffer per device: the ctrl vNIC copies it before send() returns.
    const req = nfp_bpf_cmsg_map_req(bpf);
    put_be32(req, 4, nfp_map.tid);
    put_be32(req, 8, n_entries);
    put_be32(req, 12, flags32);
    if (key !== null) copyBytes(req, CMSG_REQ_MAP_OP_SZ, key, 0, offmap.key_size);
    if (value !== null) copyBytes(req, CMSG_REQ_MAP_OP_SZ + bpf.cmsg_key_sz, value, 0, offmap.value_size);
    bpf.ccm.send(req, op, new NfpBpfMapOpRequest(nfp_map, op, n_entries, cache_gen, out_key, out_value, resolve, reject));
  });
}

export function nfp_bpf_ctrl_update_entry(offmap: BpfOffloadedMap, key: Uint8Array, value: Uint8Array, flags: MapUpdateFlags): Promise<void> {
  return nfp_bpf_ctrl_entry_op(offmap, NFP_CCM_TYPE_BPF_MAP_UPDATE, key, value, flags, null, null);
}

export function nfp_bpf_ctrl_del_entry(offmap: BpfOffloadedMap, key: Uint8Array): Promise<void> {
  return nfp_bpf_ctrl_entry_op(offmap, NFP_CCM_TYPE_BPF_MAP_DELETE, key, null, 0, null, null);
}

export function nfp_bpf_ctrl_lookup_entry(offmap: BpfOffloadedMap, key: Uint8Array, value: Uint8Array): Promise<void> {
  return nfp_bpf_ctrl_entry_op(offmap, NFP_CCM_TYPE_BPF_MAP_LOOKUP, key, null, 0, null, value);
}

export function nfp_bpf_ctrl_getfirst_entry(offmap: BpfOffloadedMap, next_key: Uint8Array): Promise<void> {
  return nfp_bpf_ctrl_entry_op(offmap, NFP_CCM_TYPE_BPF_MAP_GETFIRST, null, null, 0, next_key, null);
}

export function nfp_bpf_ctrl_getnext_entry(offmap: BpfOffloadedMap, key: Uint8Array, next_key: Uint8Array): Promise<void> {
  return nfp_bpf_ctrl_entry_op(offmap, NFP_CCM_TYPE_BPF_MAP_GETNEXT, key, null, 0, next_key, null);
}

/** nfp_bpf_ctrl_msg_rx(): the app's receive hook — events go to perf, replies to the waiters. */
export function nfp_bpf_ctrl_msg_rx(bpf: NfpAppBpf, skb: Uint8Array): void {
  if (skb.length < CMSG_REPLY_MAP_SIMPLE_SZ) {
    bpf.cmsg_warn(`cmsg drop - too short ${skb.length}!`);
    return;
  }
  if (nfp_ccm_get_type(skb) === NFP_CCM_TYPE_BPF_BPF_EVENT) {
    nfp_bpf_event_output(bpf, skb, bpf.rcu);
    return;
  }
  bpf.ccm.rx(skb);
}
