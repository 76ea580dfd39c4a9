// The firmware's control-message handler, driven with raw messages on the mailbox (no driver): what it
// answers, the limits it enforces, the tables it keeps in NIC memory, and that a restarted handler
// finds them again. Also: every shipped image advertises (in its capability records, as the driver
// parses them) exactly what its handler implements.

import { describe, expect, it } from 'vitest';
import { FirmwareCtrl } from '../../firmware/ctrl.js';
import { MapTable, map_dir_read } from '../../firmware/maptable.js';
import { imageCapabilities } from '../../src/cli/firmware.js';
import {
  CMSG_RC_ERR_MAP_E2BIG, CMSG_RC_ERR_MAP_ERR, CMSG_RC_ERR_MAP_EXIST, CMSG_RC_ERR_MAP_FD, CMSG_RC_ERR_MAP_NOENT,
  CMSG_RC_ERR_MAP_NOMEM, CMSG_RC_ERR_MAP_PARSE, CMSG_RC_SUCCESS, NFP_CCM_TYPE_BPF_MAP_ALLOC, NFP_CCM_TYPE_BPF_MAP_DELETE,
  NFP_CCM_TYPE_BPF_MAP_FREE, NFP_CCM_TYPE_BPF_MAP_GETFIRST, NFP_CCM_TYPE_BPF_MAP_GETNEXT, NFP_CCM_TYPE_BPF_MAP_LOOKUP,
  NFP_CCM_TYPE_BPF_MAP_UPDATE, cmsg_map_reply_size, cmsg_reply_rc, decodeReplyMapAllocTbl, decodeReplyMapFreeTbl, decodeReplyMapOp,
  encodeReqMapAllocTbl, encodeReqMapFreeTbl, encodeReqMapOp,
} from '../../src/nic/ccm.js';
import { NfpDevice } from '../../src/nic/device.js';
import { MBOX } from '../../src/nic/mailbox.js';
import { listFirmwareImages, loadFirmwareImage } from '../../src/nic/fw-image.js';
import { BPF_MAP_TYPE_ARRAY, BPF_MAP_TYPE_HASH, u32 } from '../drivers/helpers.js';

const KS = 56, VS = 56, ES = KS + VS;

function rig(name = 'nfp-bpf-60c', opts: { ememBackingCap?: number } = {}) {
  const dev = new NfpDevice(loadFirmwareImage(name), opts);
  let fw = new FirmwareCtrl(dev.shared());
  let tag = 0;
  const call = (msg: Uint8Array): Uint8Array => {
    expect(dev.mailbox.hostSend(msg)).toBe(true);
    fw.poll(performance.now());
    const r = dev.mailbox.hostRecv();
    if (r === null) throw new Error('no reply');
    return r;
  };
  const hdr = (type: number) => ({ type, ver: 1, tag: ++tag });
  const alloc = (type: number, key: number, value: number, max: number, flags = 0) =>
    decodeReplyMapAllocTbl(call(encodeReqMapAllocTbl({ hdr: hdr(NFP_CCM_TYPE_BPF_MAP_ALLOC), key_size: key, value_size: value, max_entries: max, map_type: type, map_flags: flags })));
  const op = (type: number, tid: number, key: Uint8Array | null, value: Uint8Array | null, flags = 0, count = 1) => {
    const data = new Uint8Array(ES);
    if (key !== null) data.set(key);
    if (value !== null) data.set(value, KS);
    const raw = call(encodeReqMapOp({ hdr: hdr(type), tid, count, flags, data }));
    return { raw, ...decodeReplyMapOp(raw) };
  };
  return {
    dev, call, alloc, op, hdr,
    get fw() { return fw; },
    restart() { fw = new FirmwareCtrl(dev.shared()); },
  };
}

describe('capability records agree with the handler', () => {
  for (const e of listFirmwareImages()) {
    const im = e.image!;
    if (im.bpf === null) continue;
    it(im.name, () => {
      const c = imageCapabilities(im);
      const b = c.bpf!;
      expect(c.wellFormed).toBe(true);
      const types = im.bpf!.mapTypes.reduce((m, t) => m | (1 << t), 0);
      expect(b.maps).toEqual({
        types, max_maps: im.bpf!.maxMaps, max_elems: im.bpf!.maxElems, max_key_sz: im.bpf!.maxKeySz,
        max_val_sz: im.bpf!.maxValSz, max_elem_sz: im.bpf!.maxElemSz,
      });
      expect(b.cmsg_multi_ent).toBe(im.bpf!.multiEnt);
      // The vNIC's ABI register and the ABI record (2 when absent) say the same.
      expect(im.vnic.bpf.abi).toBe(b.abi_version === 0 ? im.vnic.bpf.abi : b.abi_version);
      expect(im.bpf!.cmsgAbi).toBe(b.abi_version >= 3 ? 3 : 2);
    });
  }
});

describe('MAP_ALLOC and MAP_FREE', () => {
  it('allocates a table in EMEM, publishes it in the IMEM directory, and frees it', () => {
    const r = rig();
    const a = r.alloc(BPF_MAP_TYPE_HASH, 4, 8, 1000);
    expect(a.rc).toBe(CMSG_RC_SUCCESS);
    expect(a.hdr.type).toBe(0x81);
    const dir = map_dir_read(r.dev.memory, a.tid)!;
    expect(dir).toMatchObject({ type: BPF_MAP_TYPE_HASH, keySize: 4, valueSize: 8, maxEntries: 1000 });
    expect(r.dev.memory.ememBacked).toBeGreaterThanOrEqual(dir.base + dir.bytes);
    r.op(NFP_CCM_TYPE_BPF_MAP_UPDATE, a.tid, u32(1), new Uint8Array(8));
    const f = decodeReplyMapFreeTbl(r.call(encodeReqMapFreeTbl({ hdr: r.hdr(NFP_CCM_TYPE_BPF_MAP_FREE), tid: a.tid })));
    expect(f).toMatchObject({ rc: CMSG_RC_SUCCESS, count: 1 });
    expect(map_dir_read(r.dev.memory, a.tid)).toBeUndefined();
    const again = decodeReplyMapFreeTbl(r.call(encodeReqMapFreeTbl({ hdr: r.hdr(NFP_CCM_TYPE_BPF_MAP_FREE), tid: a.tid })));
    expect(again.rc).toBe(CMSG_RC_ERR_MAP_FD);
    // The freed space and tid are reused.
    const b = r.alloc(BPF_MAP_TYPE_HASH, 4, 8, 1000);
    expect(b.tid).toBe(a.tid);
    expect(map_dir_read(r.dev.memory, b.tid)!.base).toBe(dir.base);
  });

  it('enforces its own limits with status codes', () => {
    const r = rig();
    expect(r.alloc(5 /* percpu hash */, 4, 8, 10).rc).toBe(CMSG_RC_ERR_MAP_ERR);
    expect(r.alloc(BPF_MAP_TYPE_HASH, 4, 8, 10, 1).rc).toBe(CMSG_RC_ERR_MAP_ERR);
    expect(r.alloc(BPF_MAP_TYPE_ARRAY, 8, 8, 10).rc).toBe(CMSG_RC_ERR_MAP_ERR);
    expect(r.alloc(BPF_MAP_TYPE_HASH, 60, 4, 10).rc).toBe(CMSG_RC_ERR_MAP_E2BIG);
    expect(r.alloc(BPF_MAP_TYPE_HASH, 32, 40, 10).rc).toBe(CMSG_RC_ERR_MAP_E2BIG);
    expect(r.alloc(BPF_MAP_TYPE_HASH, 4, 4, 4194305).rc).toBe(CMSG_RC_ERR_MAP_NOMEM);
    for (let i = 0; i < 128; i++) expect(r.alloc(BPF_MAP_TYPE_ARRAY, 4, 4, 1).rc).toBe(CMSG_RC_SUCCESS);
    expect(r.alloc(BPF_MAP_TYPE_ARRAY, 4, 4, 1).rc).toBe(CMSG_RC_ERR_MAP_NOMEM);
  });

  it('runs out of EMEM backing as an out-of-memory, not a crash', () => {
    const r = rig('nfp-bpf-60c', { ememBackingCap: 1 << 20 });
    expect(r.alloc(BPF_MAP_TYPE_HASH, 8, 8, 100000).rc).toBe(CMSG_RC_ERR_MAP_NOMEM);
    expect(r.alloc(BPF_MAP_TYPE_HASH, 8, 8, 1000).rc).toBe(CMSG_RC_SUCCESS);
  });
});

describe('malformed requests', () => {
  it('answers PARSE to a bad version, a short request, zero count, an unknown type; MAP_FD to a bad tid', () => {
    const r = rig();
    const tid = r.alloc(BPF_MAP_TYPE_HASH, 4, 8, 10).tid;
    const bad = encodeReqMapAllocTbl({ hdr: { type: NFP_CCM_TYPE_BPF_MAP_ALLOC, ver: 2, tag: 9 }, key_size: 4, value_size: 4, max_entries: 1, map_type: 1, map_flags: 0 });
    expect(decodeReplyMapAllocTbl(r.call(bad))).toMatchObject({ rc: CMSG_RC_ERR_MAP_PARSE, hdr: { tag: 9, type: 0x81 } });
    const short = r.call(Uint8Array.of(NFP_CCM_TYPE_BPF_MAP_LOOKUP, 1, 0, 5, 0, 0, 0, tid));
    expect(decodeReplyMapOp(short)).toMatchObject({ rc: CMSG_RC_ERR_MAP_PARSE });
    expect(short.length).toBe(cmsg_map_reply_size(KS, VS, 1));
    expect(r.op(NFP_CCM_TYPE_BPF_MAP_LOOKUP, tid, u32(1), null, 0, 0).rc).toBe(CMSG_RC_ERR_MAP_PARSE);
    expect(r.op(NFP_CCM_TYPE_BPF_MAP_LOOKUP, 99, u32(1), null).rc).toBe(CMSG_RC_ERR_MAP_FD);
    const unknown = r.call(Uint8Array.of(42, 1, 0, 1, 0, 0, 0, 0));
    expect([unknown.length, unknown[0], cmsg_reply_rc(unknown)]).toEqual([8, 0x80 | 42, CMSG_RC_ERR_MAP_PARSE]);
    // Shorter than a header: nothing to answer.
    r.dev.mailbox.hostSend(Uint8Array.of(3, 1));
    r.fw.poll(0);
    expect(r.dev.mailbox.hostRecv()).toBeNull();
    expect(r.fw.stats.dropped).toBe(1);
  });
});

describe('entry operations', () => {
  it('hash: update flags, lookup, delete, full table', () => {
    const r = rig();
    const tid = r.alloc(BPF_MAP_TYPE_HASH, 4, 8, 2).tid;
    const v = (n: number) => Uint8Array.of(n, 0, 0, 0, 0, 0, 0, n);
    expect(r.op(NFP_CCM_TYPE_BPF_MAP_UPDATE, tid, u32(1), v(1), 2 /* EXIST */).rc).toBe(CMSG_RC_ERR_MAP_NOENT);
    expect(r.op(NFP_CCM_TYPE_BPF_MAP_UPDATE, tid, u32(1), v(1), 1 /* NOEXIST */).rc).toBe(CMSG_RC_SUCCESS);
    expect(r.op(NFP_CCM_TYPE_BPF_MAP_UPDATE, tid, u32(1), v(2), 1).rc).toBe(CMSG_RC_ERR_MAP_EXIST);
    expect(r.op(NFP_CCM_TYPE_BPF_MAP_UPDATE, tid, u32(1), v(3), 2).rc).toBe(CMSG_RC_SUCCESS);
    expect(r.op(NFP_CCM_TYPE_BPF_MAP_UPDATE, tid, u32(1), v(3), 4 /* F_LOCK */).rc).toBe(CMSG_RC_ERR_MAP_ERR);
    expect(r.op(NFP_CCM_TYPE_BPF_MAP_UPDATE, tid, u32(2), v(4)).rc).toBe(CMSG_RC_SUCCESS);
    expect(r.op(NFP_CCM_TYPE_BPF_MAP_UPDATE, tid, u32(3), v(5)).rc).toBe(CMSG_RC_ERR_MAP_E2BIG);
    const l = r.op(NFP_CCM_TYPE_BPF_MAP_LOOKUP, tid, u32(1), null);
    expect(l.rc).toBe(CMSG_RC_SUCCESS);
    expect([...l.data.subarray(KS, KS + 8)]).toEqual([...v(3)]);
    expect(r.op(NFP_CCM_TYPE_BPF_MAP_DELETE, tid, u32(1), null).rc).toBe(CMSG_RC_SUCCESS);
    expect(r.op(NFP_CCM_TYPE_BPF_MAP_DELETE, tid, u32(1), null).rc).toBe(CMSG_RC_ERR_MAP_NOENT);
    expect(r.op(NFP_CCM_TYPE_BPF_MAP_LOOKUP, tid, u32(1), null).rc).toBe(CMSG_RC_ERR_MAP_NOENT);
    expect(r.op(NFP_CCM_TYPE_BPF_MAP_UPDATE, tid, u32(3), v(5)).rc).toBe(CMSG_RC_SUCCESS);
    expect(r.fw.table(tid)!.count).toBe(2);
  });

  it('array: preallocated zeroed elements, NOEXIST is EXIST, out of range is E2BIG, no delete', () => {
    const r = rig();
    const tid = r.alloc(BPF_MAP_TYPE_ARRAY, 4, 12, 3).tid;
    const l = r.op(NFP_CCM_TYPE_BPF_MAP_LOOKUP, tid, u32(2), null);
    expect(l.rc).toBe(CMSG_RC_SUCCESS);
    expect([...l.data.subarray(KS, KS + 12)]).toEqual(new Array(12).fill(0));
    expect(r.op(NFP_CCM_TYPE_BPF_MAP_LOOKUP, tid, u32(3), null).rc).toBe(CMSG_RC_ERR_MAP_NOENT);
    expect(r.op(NFP_CCM_TYPE_BPF_MAP_UPDATE, tid, u32(0), new Uint8Array(12), 1).rc).toBe(CMSG_RC_ERR_MAP_EXIST);
    expect(r.op(NFP_CCM_TYPE_BPF_MAP_UPDATE, tid, u32(3), new Uint8Array(12)).rc).toBe(CMSG_RC_ERR_MAP_E2BIG);
    expect(r.op(NFP_CCM_TYPE_BPF_MAP_DELETE, tid, u32(0), null).rc).toBe(CMSG_RC_ERR_MAP_ERR);
    const first = r.op(NFP_CCM_TYPE_BPF_MAP_GETFIRST, tid, null, null, 0, 4);
    // Three elements of four asked: NOENT with the good ones, sized for one more.
    expect(first).toMatchObject({ rc: CMSG_RC_ERR_MAP_NOENT, count: 3 });
    expect(first.raw.length).toBe(cmsg_map_reply_size(KS, VS, 4));
    expect([0, 1, 2].map((i) => first.data[i * ES])).toEqual([0, 1, 2]);
    expect(r.op(NFP_CCM_TYPE_BPF_MAP_GETNEXT, tid, u32(2), null).rc).toBe(CMSG_RC_ERR_MAP_NOENT);
    expect(r.op(NFP_CCM_TYPE_BPF_MAP_GETNEXT, tid, u32(7), null).data[0]).toBe(0);
  });

  it('GETFIRST/GETNEXT return up to `count` elements, each with its value, and no more than the MTU fits', () => {
    const r = rig();
    const tid = r.alloc(BPF_MAP_TYPE_HASH, 4, 8, 64).tid;
    for (let k = 0; k < 20; k++) r.op(NFP_CCM_TYPE_BPF_MAP_UPDATE, tid, u32(k), Uint8Array.of(k, 0, 0, 0, 0, 0, 0, 0xaa));
    const seen: number[] = [];
    let rep = r.op(NFP_CCM_TYPE_BPF_MAP_GETFIRST, tid, null, null, 0, 4);
    for (;;) {
      expect(rep.raw.length).toBe(cmsg_map_reply_size(KS, VS, rep.count + (rep.rc === 0 ? 0 : 1)));
      for (let i = 0; i < rep.count; i++) {
        const k = rep.data[i * ES]!;
        expect(rep.data[i * ES + KS]).toBe(k);
        expect(rep.data[i * ES + KS + 7]).toBe(0xaa);
        seen.push(k);
      }
      if (rep.rc !== 0) break;
      rep = r.op(NFP_CCM_TYPE_BPF_MAP_GETNEXT, tid, u32(seen[seen.length - 1]!), null, 0, 4);
    }
    expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    r.dev.mailbox.mtu = 16 + 2 * ES;
    expect(r.op(NFP_CCM_TYPE_BPF_MAP_GETFIRST, tid, null, null, 0, 4).count).toBe(2);
  });

  it('a walk whose current key is deleted under it moves on and ends', () => {
    const r = rig();
    const tid = r.alloc(BPF_MAP_TYPE_HASH, 4, 8, 256).tid;
    for (let k = 0; k < 200; k++) r.op(NFP_CCM_TYPE_BPF_MAP_UPDATE, tid, u32(k), new Uint8Array(8));
    const t = new MapTable(r.dev.memory, map_dir_read(r.dev.memory, tid)!);
    let cur: Uint8Array | null = null;
    let steps = 0;
    const key = new Uint8Array(4);
    for (;;) {
      const e = t.nextAfterKey(cur, 0);
      if (e < 0) break;
      t.readKey(e, key, 0);
      // Delete what we stand on and a neighbour, as concurrent deleters would.
      r.op(NFP_CCM_TYPE_BPF_MAP_DELETE, tid, key, null);
      r.op(NFP_CCM_TYPE_BPF_MAP_DELETE, tid, u32((key[0]! * 7) % 200), null);
      cur = key.slice();
      expect(++steps).toBeLessThanOrEqual(200);
    }
    expect(t.count).toBe(0);
  });
});

describe('restart', () => {
  it('a new handler on the same NIC memory finds the tables and their contents', () => {
    const r = rig();
    const a = r.alloc(BPF_MAP_TYPE_HASH, 4, 8, 10).tid;
    r.op(NFP_CCM_TYPE_BPF_MAP_UPDATE, a, u32(5), Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8));
    r.restart();
    expect([...r.op(NFP_CCM_TYPE_BPF_MAP_LOOKUP, a, u32(5), null).data.subarray(KS, KS + 8)]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    // Its accounting came back too: the next table gets another tid, not the live one.
    expect(r.alloc(BPF_MAP_TYPE_HASH, 4, 8, 10).tid).not.toBe(a);
  });
});

describe('the loop', () => {
  it('answers every request queued and wakes a waiting host once, after the batch', () => {
    const r = rig();
    const { tid } = r.alloc(BPF_MAP_TYPE_HASH, 4, 8, 16);
    const mb = r.dev.mailbox;
    const tags: number[] = [];
    for (let i = 0; i < 20; i++) {
      const hdr = r.hdr(NFP_CCM_TYPE_BPF_MAP_LOOKUP);
      tags.push(hdr.tag);
      expect(mb.hostSend(encodeReqMapOp({ hdr, tid, count: 1, flags: 0, data: new Uint8Array(ES) }))).toBe(true);
    }
    mb.hostWaiting(true);
    const woken = mb.stat(MBOX.STAT_HOST_WAKEUPS);
    r.fw.poll(performance.now());
    expect(mb.stat(MBOX.STAT_HOST_WAKEUPS) - woken).toBe(1);
    const got: number[] = [];
    for (let m = mb.hostRecv(); m !== null; m = mb.hostRecv()) {
      const d = decodeReplyMapOp(m);
      expect(d.rc).toBe(CMSG_RC_ERR_MAP_NOENT);
      got.push(d.hdr.tag);
    }
    expect(got).toEqual(tags);
    // A poll with nothing to answer does not wake the host.
    mb.hostWaiting(true);
    r.fw.poll(performance.now());
    expect(mb.stat(MBOX.STAT_HOST_WAKEUPS) - woken).toBe(1);
  });
});
