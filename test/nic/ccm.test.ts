// The control-message wire format (src/nic/ccm.ts): every message round-trips through encode/decode,
// fields are big-endian where the ABI says so, and the sizes are the C structs'.

import { describe, expect, it } from 'vitest';
import {
  CMSG_BPF_EVENT_SZ, CMSG_REPLY_MAP_ALLOC_TBL_SZ, CMSG_REPLY_MAP_FREE_TBL_SZ, CMSG_REPLY_MAP_OP_SZ, CMSG_REQ_MAP_ALLOC_TBL_SZ,
  CMSG_REQ_MAP_FREE_TBL_SZ, CMSG_REQ_MAP_OP_SZ, NFP_CCM_ABI_VERSION, NFP_CCM_TYPE_BPF_BPF_EVENT, NFP_CCM_TYPE_BPF_MAP_ALLOC,
  NFP_CCM_TYPE_BPF_MAP_DELETE, NFP_CCM_TYPE_BPF_MAP_FREE, NFP_CCM_TYPE_BPF_MAP_GETFIRST, NFP_CCM_TYPE_BPF_MAP_GETNEXT,
  NFP_CCM_TYPE_BPF_MAP_LOOKUP, NFP_CCM_TYPE_BPF_MAP_UPDATE, NFP_CCM_TYPE_NAMES, __NFP_CCM_REPLY, cmsg_map_reply_size,
  cmsg_map_req_size, cmsg_reply_rc, decodeBpfEvent, decodeHdr, decodeReplyMapAllocTbl, decodeReplyMapFreeTbl,
  decodeReplyMapOp, decodeReqMapAllocTbl, decodeReqMapFreeTbl, decodeReqMapOp, encodeBpfEvent, encodeReplyMapAllocTbl,
  encodeReplyMapFreeTbl, encodeReplyMapOp, encodeReqMapAllocTbl, encodeReqMapFreeTbl, encodeReqMapOp, nfp_ccm_get_tag,
  nfp_ccm_get_type,
} from '../../src/nic/ccm.js';

const hdr = (type: number, tag: number) => ({ type, ver: NFP_CCM_ABI_VERSION, tag });
const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 37 + seed) & 0xff);

describe('ccm header', () => {
  it('type, version and a big-endian 16-bit tag', () => {
    const b = encodeReqMapFreeTbl({ hdr: hdr(NFP_CCM_TYPE_BPF_MAP_FREE, 0xbeef), tid: 1 });
    expect([...b.subarray(0, 4)]).toEqual([2, 1, 0xbe, 0xef]);
    expect(nfp_ccm_get_type(b)).toBe(2);
    expect(nfp_ccm_get_tag(b)).toBe(0xbeef);
    expect(decodeHdr(b)).toEqual({ type: 2, ver: 1, tag: 0xbeef });
  });

  it('reply type is the request type with bit 7 set, for every type', () => {
    for (let t = 1; t <= 12; t++) {
      expect(__NFP_CCM_REPLY(t)).toBe(0x80 | t);
      expect(NFP_CCM_TYPE_NAMES[t]).toBeDefined();
    }
    expect(NFP_CCM_TYPE_NAMES[NFP_CCM_TYPE_BPF_MAP_GETFIRST]).toBe('BPF_MAP_GETFIRST');
  });

  it('refuses to decode what is too short', () => {
    expect(() => decodeHdr(new Uint8Array(3))).toThrow(RangeError);
    expect(() => decodeReqMapAllocTbl(new Uint8Array(CMSG_REQ_MAP_ALLOC_TBL_SZ - 1))).toThrow(/shorter than 24/);
    expect(() => decodeReplyMapOp(new Uint8Array(CMSG_REPLY_MAP_OP_SZ - 1))).toThrow(RangeError);
    expect(() => decodeBpfEvent(new Uint8Array(CMSG_BPF_EVENT_SZ - 1))).toThrow(RangeError);
  });
});

describe('round trips', () => {
  it('MAP_ALLOC request and reply', () => {
    const req = { hdr: hdr(NFP_CCM_TYPE_BPF_MAP_ALLOC, 7), key_size: 4, value_size: 0x01020304, max_entries: 4194304, map_type: 1, map_flags: 0 };
    const b = encodeReqMapAllocTbl(req);
    expect(b.length).toBe(CMSG_REQ_MAP_ALLOC_TBL_SZ);
    expect([...b.subarray(8, 12)]).toEqual([1, 2, 3, 4]);
    expect(decodeReqMapAllocTbl(b)).toEqual(req);
    const rep = { hdr: hdr(__NFP_CCM_REPLY(NFP_CCM_TYPE_BPF_MAP_ALLOC), 7), rc: 6, tid: 0xdeadbeef };
    const r = encodeReplyMapAllocTbl(rep);
    expect(r.length).toBe(CMSG_REPLY_MAP_ALLOC_TBL_SZ);
    expect(cmsg_reply_rc(r)).toBe(6);
    expect(decodeReplyMapAllocTbl(r)).toEqual(rep);
  });

  it('MAP_FREE request and reply', () => {
    const req = { hdr: hdr(NFP_CCM_TYPE_BPF_MAP_FREE, 65535), tid: 127 };
    expect(encodeReqMapFreeTbl(req).length).toBe(CMSG_REQ_MAP_FREE_TBL_SZ);
    expect(decodeReqMapFreeTbl(encodeReqMapFreeTbl(req))).toEqual(req);
    const rep = { hdr: hdr(0x82, 65535), rc: 0, count: 12345 };
    expect(encodeReplyMapFreeTbl(rep).length).toBe(CMSG_REPLY_MAP_FREE_TBL_SZ);
    expect(decodeReplyMapFreeTbl(encodeReplyMapFreeTbl(rep))).toEqual(rep);
  });

  for (const type of [NFP_CCM_TYPE_BPF_MAP_LOOKUP, NFP_CCM_TYPE_BPF_MAP_UPDATE, NFP_CCM_TYPE_BPF_MAP_DELETE,
    NFP_CCM_TYPE_BPF_MAP_GETNEXT, NFP_CCM_TYPE_BPF_MAP_GETFIRST]) {
    it(`${NFP_CCM_TYPE_NAMES[type]} request and reply, ABI 2 and ABI 3 slot sizes`, () => {
      for (const [ks, vs] of [[64, 64], [56, 56]] as const) {
        const n = type === NFP_CCM_TYPE_BPF_MAP_GETNEXT ? 4 : 1;
        const req = { hdr: hdr(type, 300 + type), tid: 3, count: n, flags: 2, data: bytes(ks + vs, type) };
        const b = encodeReqMapOp(req);
        expect(b.length).toBe(cmsg_map_req_size(ks, vs, 1));
        expect([...b.subarray(8, 16)]).toEqual([0, 0, 0, n, 0, 0, 0, 2]);
        expect(decodeReqMapOp(b)).toEqual(req);
        const rep = { hdr: hdr(__NFP_CCM_REPLY(type), 300 + type), rc: 2, count: n, resv: 0, data: bytes((ks + vs) * n, type + 1) };
        const r = encodeReplyMapOp(rep);
        expect(r.length).toBe(cmsg_map_reply_size(ks, vs, n));
        expect(decodeReplyMapOp(r)).toEqual(rep);
      }
    });
  }

  it('BPF_EVENT (firmware to host): be64 map id, sizes, packet then data', () => {
    const ev = { hdr: hdr(NFP_CCM_TYPE_BPF_BPF_EVENT, 0), cpu_id: 59, map_ptr: 0x0000000100000002n, data_size: 8, pkt_size: 6, data: bytes(16, 9) };
    const b = encodeBpfEvent(ev);
    expect(b.length).toBe(CMSG_BPF_EVENT_SZ + 16);
    expect([...b.subarray(8, 16)]).toEqual([0, 0, 0, 1, 0, 0, 0, 2]);
    expect(decodeBpfEvent(b)).toEqual(ev);
  });

  it('sizes of the C structs', () => {
    expect([CMSG_REQ_MAP_OP_SZ, CMSG_REPLY_MAP_OP_SZ, CMSG_BPF_EVENT_SZ]).toEqual([16, 16, 24]);
    expect(cmsg_map_reply_size(56, 56, 4)).toBe(16 + 112 * 4);
  });
});
