// The firmware ABI of the NFP's control messages: include-level facts of
// drivers/net/ethernet/netronome/nfp/ccm.h (common header, types, reply bit) and nfp/bpf/fw.h (the BPF
// map messages, their status codes and the BPF_EVENT record). Both sides of the mailbox read this one
// definition: the host driver (src/drivers/nfp/cmsg.ts) builds requests and checks replies with it; the
// firmware's control handler (firmware/ctrl.ts) parses requests and builds replies with it.
//
// Every field after the one-byte type and version is big-endian, as the NFP is. Sizes are the C
// structs' sizeof(); a map-op message carries `count` elements, each `key[cmsg_key_sz]
// value[cmsg_val_sz]` (ABI 2: 64-byte slots; ABI 3: the firmware's max key and value sizes).

/** enum nfp_ccm_type. */
export const NFP_CCM_TYPE_BPF_MAP_ALLOC = 1;
export const NFP_CCM_TYPE_BPF_MAP_FREE = 2;
export const NFP_CCM_TYPE_BPF_MAP_LOOKUP = 3;
export const NFP_CCM_TYPE_BPF_MAP_UPDATE = 4;
export const NFP_CCM_TYPE_BPF_MAP_DELETE = 5;
export const NFP_CCM_TYPE_BPF_MAP_GETNEXT = 6;
export const NFP_CCM_TYPE_BPF_MAP_GETFIRST = 7;
export const NFP_CCM_TYPE_BPF_BPF_EVENT = 8;
export const NFP_CCM_TYPE_CRYPTO_RESET = 9;
export const NFP_CCM_TYPE_CRYPTO_ADD = 10;
export const NFP_CCM_TYPE_CRYPTO_DEL = 11;
export const NFP_CCM_TYPE_CRYPTO_UPDATE = 12;
export const __NFP_CCM_TYPE_MAX = 13;

export type NfpCcmType = 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 | 10 | 11 | 12;

export const NFP_CCM_TYPE_NAMES: Readonly<Record<number, string>> = {
  1: 'BPF_MAP_ALLOC', 2: 'BPF_MAP_FREE', 3: 'BPF_MAP_LOOKUP', 4: 'BPF_MAP_UPDATE', 5: 'BPF_MAP_DELETE',
  6: 'BPF_MAP_GETNEXT', 7: 'BPF_MAP_GETFIRST', 8: 'BPF_BPF_EVENT', 9: 'CRYPTO_RESET', 10: 'CRYPTO_ADD',
  11: 'CRYPTO_DEL', 12: 'CRYPTO_UPDATE',
};

export const NFP_CCM_ABI_VERSION = 1;
export const NFP_CCM_TYPE_REPLY_BIT = 7;

/** __NFP_CCM_REPLY(req): the reply to a request has the request's type with bit 7 set. */
export function __NFP_CCM_REPLY(type: number): number {
  return (1 << NFP_CCM_TYPE_REPLY_BIT) | type;
}

/** enum nfp_bpf_cmsg_status: the firmware's status words (rc). The driver maps them to errno. */
export const CMSG_RC_SUCCESS = 0;
export const CMSG_RC_ERR_MAP_FD = 1;
export const CMSG_RC_ERR_MAP_NOENT = 2;
export const CMSG_RC_ERR_MAP_ERR = 3;
export const CMSG_RC_ERR_MAP_PARSE = 4;
export const CMSG_RC_ERR_MAP_EXIST = 5;
export const CMSG_RC_ERR_MAP_NOMEM = 6;
export const CMSG_RC_ERR_MAP_E2BIG = 7;

/** BPF ABI v2: fixed key and value slots of 16 long-words (64 bytes) in map-op messages. */
export const CMSG_MAP_KEY_LW = 16;
export const CMSG_MAP_VALUE_LW = 16;

// sizeof() of the structs.
export const NFP_CCM_HDR_SZ = 4;
export const CMSG_REPLY_MAP_SIMPLE_SZ = 8;
export const CMSG_REQ_MAP_ALLOC_TBL_SZ = 24;
export const CMSG_REPLY_MAP_ALLOC_TBL_SZ = 12;
export const CMSG_REQ_MAP_FREE_TBL_SZ = 8;
export const CMSG_REPLY_MAP_FREE_TBL_SZ = 12;
export const CMSG_REQ_MAP_OP_SZ = 16;
export const CMSG_REPLY_MAP_OP_SZ = 16;
export const CMSG_BPF_EVENT_SZ = 24;

/** struct nfp_ccm_hdr. */
export interface NfpCcmHdr {
  type: number;
  ver: number;
  tag: number;
}

/** struct cmsg_req_map_alloc_tbl. */
export interface CmsgReqMapAllocTbl {
  hdr: NfpCcmHdr;
  key_size: number;
  value_size: number;
  max_entries: number;
  map_type: number;
  /** Reserved: the driver always sends 0. */
  map_flags: number;
}

/** struct cmsg_reply_map_alloc_tbl. */
export interface CmsgReplyMapAllocTbl {
  hdr: NfpCcmHdr;
  rc: number;
  tid: number;
}

/** struct cmsg_req_map_free_tbl. */
export interface CmsgReqMapFreeTbl {
  hdr: NfpCcmHdr;
  tid: number;
}

/** struct cmsg_reply_map_free_tbl. */
export interface CmsgReplyMapFreeTbl {
  hdr: NfpCcmHdr;
  rc: number;
  count: number;
}

/** struct cmsg_req_map_op: LOOKUP, UPDATE, DELETE, GETNEXT, GETFIRST requests. */
export interface CmsgReqMapOp {
  hdr: NfpCcmHdr;
  tid: number;
  count: number;
  flags: number;
  data: Uint8Array;
}

/** struct cmsg_reply_map_op. */
export interface CmsgReplyMapOp {
  hdr: NfpCcmHdr;
  rc: number;
  count: number;
  resv: number;
  data: Uint8Array;
}

/** struct cmsg_bpf_event: firmware->host, unsolicited (perf event output from an offloaded program). */
export interface CmsgBpfEvent {
  hdr: NfpCcmHdr;
  cpu_id: number;
  /** The perf event array's map id (named map_ptr in the ABI), a be64. */
  map_ptr: bigint;
  data_size: number;
  pkt_size: number;
  /** Packet bytes first, padded to 4, then the data. */
  data: Uint8Array;
}

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

/** nfp_ccm_get_type() / nfp_ccm_get_tag() without allocating (buffers of at least 4 bytes). */
export function nfp_ccm_get_type(b: Uint8Array): number {
  return b[0] ?? 0;
}

export function nfp_ccm_get_tag(b: Uint8Array): number {
  return ((b[2] ?? 0) << 8) | (b[3] ?? 0);
}

export function nfp_ccm_set_hdr(b: Uint8Array, hdr: NfpCcmHdr): void {
  b[0] = hdr.type & 0xff;
  b[1] = hdr.ver & 0xff;
  b[2] = (hdr.tag >>> 8) & 0xff;
  b[3] = hdr.tag & 0xff;
}

export function decodeHdr(b: Uint8Array): NfpCcmHdr {
  if (b.length < NFP_CCM_HDR_SZ) throw new RangeError(`ccm: ${b.length}-byte message has no header`);
  return { type: b[0]!, ver: b[1]!, tag: nfp_ccm_get_tag(b) };
}

function need(b: Uint8Array, n: number, what: string): DataView {
  if (b.length < n) throw new RangeError(`ccm: ${b.length}-byte ${what} is shorter than ${n}`);
  return view(b);
}

export function encodeReqMapAllocTbl(m: CmsgReqMapAllocTbl): Uint8Array {
  const b = new Uint8Array(CMSG_REQ_MAP_ALLOC_TBL_SZ);
  const v = view(b);
  nfp_ccm_set_hdr(b, m.hdr);
  v.setUint32(4, m.key_size);
  v.setUint32(8, m.value_size);
  v.setUint32(12, m.max_entries);
  v.setUint32(16, m.map_type);
  v.setUint32(20, m.map_flags);
  return b;
}

export function decodeReqMapAllocTbl(b: Uint8Array): CmsgReqMapAllocTbl {
  const v = need(b, CMSG_REQ_MAP_ALLOC_TBL_SZ, 'map alloc request');
  return {
    hdr: decodeHdr(b), key_size: v.getUint32(4), value_size: v.getUint32(8), max_entries: v.getUint32(12),
    map_type: v.getUint32(16), map_flags: v.getUint32(20),
  };
}

export function encodeReplyMapAllocTbl(m: CmsgReplyMapAllocTbl): Uint8Array {
  const b = new Uint8Array(CMSG_REPLY_MAP_ALLOC_TBL_SZ);
  nfp_ccm_set_hdr(b, m.hdr);
  view(b).setUint32(4, m.rc);
  view(b).setUint32(8, m.tid);
  return b;
}

export function decodeReplyMapAllocTbl(b: Uint8Array): CmsgReplyMapAllocTbl {
  const v = need(b, CMSG_REPLY_MAP_ALLOC_TBL_SZ, 'map alloc reply');
  return { hdr: decodeHdr(b), rc: v.getUint32(4), tid: v.getUint32(8) };
}

export function encodeReqMapFreeTbl(m: CmsgReqMapFreeTbl): Uint8Array {
  const b = new Uint8Array(CMSG_REQ_MAP_FREE_TBL_SZ);
  nfp_ccm_set_hdr(b, m.hdr);
  view(b).setUint32(4, m.tid);
  return b;
}

export function decodeReqMapFreeTbl(b: Uint8Array): CmsgReqMapFreeTbl {
  const v = need(b, CMSG_REQ_MAP_FREE_TBL_SZ, 'map free request');
  return { hdr: decodeHdr(b), tid: v.getUint32(4) };
}

export function encodeReplyMapFreeTbl(m: CmsgReplyMapFreeTbl): Uint8Array {
  const b = new Uint8Array(CMSG_REPLY_MAP_FREE_TBL_SZ);
  nfp_ccm_set_hdr(b, m.hdr);
  view(b).setUint32(4, m.rc);
  view(b).setUint32(8, m.count);
  return b;
}

export function decodeReplyMapFreeTbl(b: Uint8Array): CmsgReplyMapFreeTbl {
  const v = need(b, CMSG_REPLY_MAP_FREE_TBL_SZ, 'map free reply');
  return { hdr: decodeHdr(b), rc: v.getUint32(4), count: v.getUint32(8) };
}

export function encodeReqMapOp(m: CmsgReqMapOp): Uint8Array {
  const b = new Uint8Array(CMSG_REQ_MAP_OP_SZ + m.data.length);
  const v = view(b);
  nfp_ccm_set_hdr(b, m.hdr);
  v.setUint32(4, m.tid);
  v.setUint32(8, m.count);
  v.setUint32(12, m.flags);
  b.set(m.data, CMSG_REQ_MAP_OP_SZ);
  return b;
}

export function decodeReqMapOp(b: Uint8Array): CmsgReqMapOp {
  const v = need(b, CMSG_REQ_MAP_OP_SZ, 'map op request');
  return {
    hdr: decodeHdr(b), tid: v.getUint32(4), count: v.getUint32(8), flags: v.getUint32(12),
    data: b.subarray(CMSG_REQ_MAP_OP_SZ),
  };
}

export function encodeReplyMapOp(m: CmsgReplyMapOp): Uint8Array {
  const b = new Uint8Array(CMSG_REPLY_MAP_OP_SZ + m.data.length);
  const v = view(b);
  nfp_ccm_set_hdr(b, m.hdr);
  v.setUint32(4, m.rc);
  v.setUint32(8, m.count);
  v.setUint32(12, m.resv);
  b.set(m.data, CMSG_REPLY_MAP_OP_SZ);
  return b;
}

export function decodeReplyMapOp(b: Uint8Array): CmsgReplyMapOp {
  const v = need(b, CMSG_REPLY_MAP_OP_SZ, 'map op reply');
  return {
    hdr: decodeHdr(b), rc: v.getUint32(4), count: v.getUint32(8), resv: v.getUint32(12),
    data: b.subarray(CMSG_REPLY_MAP_OP_SZ),
  };
}

/** The rc word of any reply (struct cmsg_reply_map_simple). */
export function cmsg_reply_rc(b: Uint8Array): number {
  return need(b, CMSG_REPLY_MAP_SIMPLE_SZ, 'reply').getUint32(4);
}

export function encodeBpfEvent(m: CmsgBpfEvent): Uint8Array {
  const b = new Uint8Array(CMSG_BPF_EVENT_SZ + m.data.length);
  const v = view(b);
  nfp_ccm_set_hdr(b, m.hdr);
  v.setUint32(4, m.cpu_id);
  v.setBigUint64(8, m.map_ptr);
  v.setUint32(16, m.data_size);
  v.setUint32(20, m.pkt_size);
  b.set(m.data, CMSG_BPF_EVENT_SZ);
  return b;
}

export function decodeBpfEvent(b: Uint8Array): CmsgBpfEvent {
  const v = need(b, CMSG_BPF_EVENT_SZ, 'BPF event');
  return {
    hdr: decodeHdr(b), cpu_id: v.getUint32(4), map_ptr: v.getBigUint64(8), data_size: v.getUint32(16),
    pkt_size: v.getUint32(20), data: b.subarray(CMSG_BPF_EVENT_SZ),
  };
}

/** Bytes of a map-op request / reply carrying `n` elements of the given slot sizes. */
export function cmsg_map_req_size(keySz: number, valSz: number, n: number): number {
  return CMSG_REQ_MAP_OP_SZ + (keySz + valSz) * n;
}

export function cmsg_map_reply_size(keySz: number, valSz: number, n: number): number {
  return CMSG_REPLY_MAP_OP_SZ + (keySz + valSz) * n;
}
