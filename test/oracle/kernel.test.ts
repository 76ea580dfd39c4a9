// The real kernel on the project's test programs: every object in test/progs loads and passes the
// verifier, the negative ones are refused with the right log line, and the programs do on the
// kernel what their C says - verdicts, output packets and map contents, checked against values
// computed here from the packets, not copied from a run. Skips, with the reason, where the kernel
// cannot be asked (no bpftool, not root, no bpffs).

import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BpfError } from '../../src/bpf/errno.js';
import {
  KernelOracle,
  PROGS_DIR,
  XDP_DROP,
  XDP_PASS,
  XDP_REDIRECT,
  XDP_TX,
  kernelSkipReason,
  progObject,
  readU32,
  readU64,
  sumU64,
  u32Key,
} from './kernel.js';
import type { LoadedObject } from './kernel.js';
import {
  ETH_HLEN,
  IPPROTO_IPIP,
  IPPROTO_TCP,
  IPPROTO_UDP,
  arpFrame,
  checksumVerifies,
  hex,
  icmp4Frame,
  padFrame,
  parseIpv4,
  parseMac,
  patternPayload,
  sealChecksum,
  tcp4Frame,
  truncateFrame,
  udp4Frame,
  udp4FrameOfLength,
  udp6Frame,
} from './packets.js';
import { NEGATIVE_OBJECTS, TEST_OBJECTS } from './programs.js';

/** A copy of `bytes` with bits `mask` of byte `at` inverted. */
function flipBits(bytes: Uint8Array, at: number, mask: number): Uint8Array {
  const out = bytes.slice();
  out[at] = (out[at] ?? 0) ^ mask;
  return out;
}

const skip = kernelSkipReason();
if (skip !== '') console.warn(`kernel oracle tests skipped: ${skip}`);

describe('test/progs manifest', () => {
  it('lists exactly the objects in the folder', () => {
    const inFolder = [
      ...fs.readdirSync(PROGS_DIR).filter((f) => f.endsWith('.o')),
      ...fs.readdirSync(path.join(PROGS_DIR, 'negative')).map((f) => `negative/${f}`).filter((f) => f.endsWith('.o')),
    ].map((f) => f.slice(0, -2));
    const listed = [...TEST_OBJECTS.map((o) => o.name), ...NEGATIVE_OBJECTS.map((o) => o.name)];
    expect(listed.sort()).toEqual(inFolder.sort());
  });

  it('has a C source next to every object', () => {
    for (const o of [...TEST_OBJECTS, ...NEGATIVE_OBJECTS]) {
      expect(fs.existsSync(path.join(PROGS_DIR, `${o.name}.c`)), o.name).toBe(true);
    }
  });
});

describe.skipIf(skip !== '')(`the real kernel${skip ? ` (skipped: ${skip})` : ''}`, () => {
  const kernel = new KernelOracle();
  afterAll(() => kernel.cleanup());

  /** Loads once per object for the whole file; tests that need a fresh map state load their own. */
  const loaded = new Map<string, LoadedObject>();
  const obj = (name: string): LoadedObject => {
    let o = loaded.get(name);
    if (o === undefined) {
      o = kernel.load(progObject(name));
      loaded.set(name, o);
    }
    return o;
  };
  const prog = (o: LoadedObject, name: string): string => {
    const p = o.progs[name];
    if (p === undefined) throw new Error(`${o.object} has no program ${name}`);
    return p;
  };
  const map = (o: LoadedObject, name: string): string => {
    const m = o.maps[name];
    if (m === undefined) throw new Error(`${o.object} has no map ${name}`);
    return m;
  };

  describe('every program loads and passes the verifier', () => {
    it.each(TEST_OBJECTS.map((o) => [o.name, o] as const))('%s', (_name, spec) => {
      const o = obj(spec.name);
      expect(Object.keys(o.progs).sort()).toEqual([...spec.progs]);
      expect(Object.keys(o.maps).sort()).toEqual([...spec.maps]);
      for (const p of Object.values(o.progs)) {
        const info = kernel.progInfo(p);
        expect(info.type).toBe('xdp');
        expect(info.tag).toMatch(/^[0-9a-f]{16}$/);
        expect(info.bytesXlated % 8).toBe(0);
        expect(info.bytesXlated).toBeGreaterThan(0);
        expect(kernel.xlated(p).length).toBe(info.bytesXlated);
      }
    });
  });

  describe('the negative programs are refused', () => {
    it.each(NEGATIVE_OBJECTS.map((o) => [o.name, o] as const))('%s', (_name, spec) => {
      const a = kernel.tryLoad(progObject(spec.name));
      expect(a.ok).toBe(false);
      if (a.ok) return;
      expect(a.errno).toBe(spec.errno);
      expect(a.log).toContain(spec.logIncludes);
      // The log is the kernel's: instruction lines with their index.
      expect(a.log).toMatch(/^\d+: \(/m);
      expect(() => kernel.load(progObject(spec.name))).toThrow(BpfError);
    });
  });

  describe('xdp_drop_udp9 (parse-and-drop)', () => {
    const run = (frame: Uint8Array) => kernel.run(prog(obj('xdp_drop_udp9'), 'xdp_drop_udp9'), frame).retval;

    it('drops UDP to port 9 and passes everything else', () => {
      expect(run(udp4Frame({ dstPort: 9 }))).toBe(XDP_DROP);
      expect(run(udp4Frame({ dstPort: 9, payload: patternPayload(100) }))).toBe(XDP_DROP);
      expect(run(udp4Frame({ dstPort: 53 }))).toBe(XDP_PASS);
      expect(run(udp4Frame({ srcPort: 9, dstPort: 10 }))).toBe(XDP_PASS);
      expect(run(tcp4Frame({ dstPort: 9 }))).toBe(XDP_PASS);
      expect(run(udp6Frame({ dstPort: 9 }))).toBe(XDP_PASS);
      expect(run(arpFrame())).toBe(XDP_PASS);
    });

    it('finds the UDP header after IPv4 options', () => {
      const options = Uint8Array.of(0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x00); // NOPs, EOL
      expect(run(udp4Frame({ dstPort: 9, ipOptions: options }))).toBe(XDP_DROP);
      expect(run(udp4Frame({ dstPort: 10, ipOptions: options }))).toBe(XDP_PASS);
    });

    it('passes frames that end inside a header', () => {
      const frame = udp4Frame({ dstPort: 9 });
      expect(run(truncateFrame(frame, ETH_HLEN + 20 + 7))).toBe(XDP_PASS);
      expect(run(truncateFrame(frame, ETH_HLEN + 19))).toBe(XDP_PASS);
      expect(run(truncateFrame(frame, ETH_HLEN))).toBe(XDP_PASS);
    });

    it('leaves the packet as it was', () => {
      const frame = udp4Frame({ dstPort: 53, payload: patternPayload(30) });
      expect(hex(kernel.run(prog(obj('xdp_drop_udp9'), 'xdp_drop_udp9'), frame).dataOut)).toBe(hex(frame));
    });
  });

  describe('xdp_counter', () => {
    // A fresh load, so the counters start from zero.
    let o: LoadedObject;
    beforeAll(() => {
      o = kernel.load(progObject('xdp_counter'));
    });
    const protoStats = (proto: number) => {
      const e = kernel.mapLookup(map(o, 'proto_stats'), u32Key(proto));
      if (e === null) throw new Error('ARRAY lookup cannot miss');
      return { packets: readU64(e.value, 0), bytes: readU64(e.value, 8) };
    };

    it('counts every run of `repeat N`, per protocol, per CPU and per source', () => {
      const udpFrame = udp4Frame({ src: '10.1.2.3', payload: patternPayload(50) });
      const tcpFrame = tcp4Frame({ src: '10.9.9.9' });
      const p = prog(o, 'xdp_count');

      expect(kernel.run(p, udpFrame, { repeat: 7 }).retval).toBe(XDP_PASS);
      expect(kernel.run(p, tcpFrame, { repeat: 3 }).retval).toBe(XDP_PASS);
      expect(kernel.run(p, udpFrame, { repeat: 5 }).retval).toBe(XDP_PASS);
      expect(kernel.run(p, arpFrame(), { repeat: 2 }).retval).toBe(XDP_PASS);

      expect(protoStats(IPPROTO_UDP)).toEqual({ packets: 12n, bytes: 12n * BigInt(udpFrame.length) });
      expect(protoStats(IPPROTO_TCP)).toEqual({ packets: 3n, bytes: 3n * BigInt(tcpFrame.length) });
      expect(protoStats(0)).toEqual({ packets: 2n, bytes: 2n * BigInt(arpFrame().length) });

      const perCpu = kernel.mapDump(map(o, 'cpu_packets'));
      expect(perCpu).toHaveLength(1);
      expect(sumU64(perCpu[0]!.values)).toBe(12n + 3n + 2n);

      const src = kernel.mapLookup(map(o, 'src_stats'), parseIpv4('10.1.2.3'));
      expect(src).not.toBeNull();
      expect(readU64(src!.value, 0)).toBe(12n);
      expect(readU64(src!.value, 8)).toBe(12n * BigInt(udpFrame.length));
      expect(kernel.mapDump(map(o, 'src_stats')).map((e) => hex(e.key)).sort()).toEqual(
        [hex(parseIpv4('10.1.2.3')), hex(parseIpv4('10.9.9.9'))].sort(),
      );
    });

    it('looks through VLAN tags and counts IPv6 by its next header', () => {
      const before = protoStats(IPPROTO_UDP).packets;
      const p = prog(o, 'xdp_count');
      kernel.run(p, udp4Frame({ vlans: [100] }));
      kernel.run(p, udp4Frame({ vlans: [{ id: 10, tpid: 0x88a8 }, 20] }));
      kernel.run(p, udp6Frame());
      expect(protoStats(IPPROTO_UDP).packets).toBe(before + 3n);
    });
  });

  describe('xdp_alu32 (-mcpu=v3)', () => {
    /** The program's flow hash, written again from its C source. */
    const rol32 = (x: number, s: number) => ((x << s) | (x >>> (32 - s))) >>> 0;
    const fmix32 = (x: number) => {
      let h = x >>> 0;
      h = (h ^ (h >>> 16)) >>> 0;
      h = Math.imul(h, 0x85ebca6b) >>> 0;
      h = (h ^ (h >>> 13)) >>> 0;
      h = Math.imul(h, 0xc2b2ae35) >>> 0;
      return (h ^ (h >>> 16)) >>> 0;
    };
    const flowHash = (frame: Uint8Array) => {
      const dv = new DataView(frame.buffer, frame.byteOffset);
      const ip = ETH_HLEN;
      const proto = frame[ip + 9]!;
      const le32 = (off: number) => dv.getUint32(off, true); // the program loads them as host-endian words
      const ports = proto === IPPROTO_TCP || proto === IPPROTO_UDP ? le32(ip + 20) : 0;
      let h = (0x9e3779b9 ^ proto) >>> 0;
      for (const w of [le32(ip + 12), le32(ip + 16), ports]) h = (Math.imul(rol32((h ^ w) >>> 0, 13), 5) + 0xe6546b64) >>> 0;
      return fmix32(h);
    };
    const run = (frame: Uint8Array) => kernel.run(prog(obj('xdp_alu32'), 'xdp_alu32'), frame);

    it('decrements the TTL, marks the DSCP from the flow hash and keeps the checksum valid', () => {
      for (const frame of [
        udp4Frame({ ttl: 64, tos: 0x03, srcPort: 1111, dstPort: 2222 }),
        tcp4Frame({ ttl: 2, src: '192.168.7.1', dst: '172.16.0.9' }),
        icmp4Frame({ ttl: 255 }),
      ]) {
        const r = run(frame);
        expect(r.retval).toBe(XDP_PASS);
        const out = r.dataOut;
        expect(out.length).toBe(frame.length);
        expect(out[ETH_HLEN + 8]).toBe(frame[ETH_HLEN + 8]! - 1);
        const dscp = (flowHash(frame) & 7) << 5;
        expect(out[ETH_HLEN + 1]).toBe(dscp | (frame[ETH_HLEN + 1]! & 3));
        expect(checksumVerifies(out, ETH_HLEN, ETH_HLEN + 20)).toBe(true);
        // Nothing but TOS, TTL and checksum changed.
        const changed = [...out.keys()].filter((i) => out[i] !== frame[i]);
        for (const i of changed) expect([ETH_HLEN + 1, ETH_HLEN + 8, ETH_HLEN + 10, ETH_HLEN + 11]).toContain(i);
      }
    });

    it('drops a bad header checksum and passes an expiring TTL untouched', () => {
      const bad = flipBits(udp4Frame(), ETH_HLEN + 11, 0x40);
      expect(run(bad).retval).toBe(XDP_DROP);
      const expiring = udp4Frame({ ttl: 1 });
      const r = run(expiring);
      expect(r.retval).toBe(XDP_PASS);
      expect(hex(r.dataOut)).toBe(hex(expiring));
    });
  });

  describe('checksum loops', () => {
    it('xdp_loop accepts 64 bytes that sum to 0xffff and drops any other', () => {
      const p = prog(obj('xdp_loop'), 'xdp_loop');
      const base = udp4Frame({ payload: patternPayload(40) }); // 82 B
      const sealed = sealChecksum(base, 64, 62);
      expect(checksumVerifies(sealed, 0, 64)).toBe(true);
      expect(kernel.run(p, sealed).retval).toBe(XDP_PASS);
      const broken = flipBits(sealed, 17, 0x01);
      expect(kernel.run(p, broken).retval).toBe(XDP_DROP);
      // Bytes after the first 64 do not count.
      const tail = flipBits(sealed, 70, 0xff);
      expect(kernel.run(p, tail).retval).toBe(XDP_PASS);
      // Frames shorter than 64 bytes are passed without a look.
      expect(kernel.run(p, truncateFrame(broken, 63)).retval).toBe(XDP_PASS);
    });

    it('xdp_csum_frame covers the whole frame, up to 1500 bytes, odd lengths too', () => {
      const p = prog(obj('xdp_csum_frame'), 'xdp_csum_frame');
      for (const len of [60, 61, 333, 1499, 1500]) {
        const sealed = sealChecksum(udp4FrameOfLength(Math.max(len, 42)).slice(0, len), len, 40);
        expect(checksumVerifies(sealed), `length ${len}`).toBe(true);
        expect(kernel.run(p, sealed).retval, `length ${len}`).toBe(XDP_PASS);
        const broken = flipBits(sealed, len - 1, 0x10);
        expect(kernel.run(p, broken).retval, `length ${len}, last byte flipped`).toBe(XDP_DROP);
      }
      // A full 1514 B frame: only the first 1500 bytes count.
      const full = sealChecksum(udp4FrameOfLength(1514), 1500, 40);
      expect(kernel.run(p, full).retval).toBe(XDP_PASS);
      const beyond = flipBits(full, 1505, 0xff);
      expect(kernel.run(p, beyond).retval).toBe(XDP_PASS);
    });
  });

  describe('xdp_subprog (bpf-to-bpf calls, global data)', () => {
    let o: LoadedObject;
    beforeAll(() => {
      o = kernel.load(progObject('xdp_subprog'));
    });
    const stats = () => {
      const e = kernel.mapLookup(map(o, 'xdp_subp_bss'), u32Key(0));
      if (e === null) throw new Error('.bss lookup cannot miss');
      return [0, 8, 16, 24].map((off) => readU64(e.value, off)); // passed, dropped, fragments, non_ipv4
    };

    it('filters through three levels of calls and counts in .bss', () => {
      const p = prog(o, 'xdp_subprog');
      const run = (f: Uint8Array) => kernel.run(p, f).retval;
      expect(run(udp4Frame({ dstPort: 53 }))).toBe(XDP_PASS);
      expect(run(udp4Frame({ dstPort: 7 }))).toBe(XDP_DROP); // blocked_port in .rodata
      expect(run(tcp4Frame({ srcPort: 7, dstPort: 80 }))).toBe(XDP_DROP);
      expect(run(icmp4Frame({ src: '127.0.0.5' }))).toBe(XDP_DROP); // martian source
      expect(run(icmp4Frame({ src: '0.1.2.3' }))).toBe(XDP_DROP);
      expect(run(tcp4Frame({ src: '10.0.0.9', dst: '10.0.0.9' }))).toBe(XDP_DROP); // land
      expect(run(icmp4Frame())).toBe(XDP_PASS);
      expect(run(udp4Frame({ mf: true }))).toBe(XDP_DROP); // drop_fragments = 1 in .data
      expect(run(udp6Frame())).toBe(XDP_PASS);
      expect(stats()).toEqual([2n, 6n, 1n, 1n]);
    });

    it('reads .data at run time: clearing drop_fragments lets fragments through', () => {
      const data = map(o, 'xdp_subp_data');
      expect(readU32(kernel.mapLookup(data, u32Key(0))!.value)).toBe(1);
      kernel.mapUpdate(data, u32Key(0), u32Key(0));
      expect(kernel.run(prog(o, 'xdp_subprog'), udp4Frame({ fragOffset: 100 })).retval).toBe(XDP_PASS);
      const info = kernel.mapInfo(map(o, 'xdp_subp_rodata'));
      expect(info.type).toBe('array');
      expect(info.name).toBe('xdp_subp.rodata');
    });
  });

  describe('xdp_adjust and xdp_meta', () => {
    it('xdp_ipip_encap pushes an outer IPv4 header and sends the frame back', () => {
      const frame = udp4Frame({ tos: 0x28, payload: patternPayload(21) });
      const r = kernel.run(prog(obj('xdp_adjust'), 'xdp_ipip_encap'), frame);
      expect(r.retval).toBe(XDP_TX);
      const out = r.dataOut;
      expect(out.length).toBe(frame.length + 20);
      expect(hex(out.subarray(0, 6))).toBe(hex(frame.subarray(6, 12))); // MACs swapped
      expect(hex(out.subarray(6, 12))).toBe(hex(frame.subarray(0, 6)));
      expect(hex(out.subarray(12, 14))).toBe('08 00');
      const outer = out.subarray(ETH_HLEN, ETH_HLEN + 20);
      expect(outer[0]).toBe(0x45);
      expect(outer[1]).toBe(0x28); // the inner TOS
      expect((outer[2]! << 8) | outer[3]!).toBe(frame.length - ETH_HLEN + 20);
      expect(outer[8]).toBe(64);
      expect(outer[9]).toBe(IPPROTO_IPIP);
      expect(hex(outer.subarray(12, 16))).toBe(hex(parseIpv4('192.0.2.1')));
      expect(hex(outer.subarray(16, 20))).toBe(hex(parseIpv4('198.51.100.1')));
      expect(checksumVerifies(outer)).toBe(true);
      expect(hex(out.subarray(ETH_HLEN + 20))).toBe(hex(frame.subarray(ETH_HLEN))); // inner packet untouched
      // Not IPv4: left alone.
      expect(kernel.run(prog(obj('xdp_adjust'), 'xdp_ipip_encap'), udp6Frame()).retval).toBe(XDP_PASS);
    });

    it('repeat N applies adjust_head N times to the same buffer, until the headroom runs out', () => {
      const frame = udp4Frame();
      const r = kernel.run(prog(obj('xdp_adjust'), 'xdp_ipip_encap'), frame, { repeat: 3 });
      expect(r.retval).toBe(XDP_TX);
      expect(r.dataOut.length).toBe(frame.length + 3 * 20);
      // The headroom (XDP_PACKET_HEADROOM, 256 B) holds 12 pushes of 20 B; the 13th fails.
      expect(kernel.run(prog(obj('xdp_adjust'), 'xdp_ipip_encap'), frame, { repeat: 13 }).retval).toBe(XDP_DROP);
    });

    it('xdp_trim cuts what follows the IPv4 datagram', () => {
      const p = prog(obj('xdp_adjust'), 'xdp_trim');
      const frame = udp4Frame({ payload: patternPayload(5) }); // 47 B
      const padded = padFrame(frame); // 60 B on the wire
      const r = kernel.run(p, padded);
      expect(r.retval).toBe(XDP_PASS);
      expect(hex(r.dataOut)).toBe(hex(frame));
      // Nothing to cut, or a datagram longer than the frame: unchanged.
      expect(kernel.run(p, frame).dataOut.length).toBe(frame.length);
      const cut = truncateFrame(udp4Frame({ payload: patternPayload(100) }), 80);
      expect(kernel.run(p, cut).dataOut.length).toBe(80);
    });

    it('xdp_meta_mark puts a 4-byte mark in front of the packet', () => {
      const frame = udp4Frame({ dstPort: 4789 });
      const r = kernel.run(prog(obj('xdp_meta'), 'xdp_meta_mark'), frame);
      expect(r.retval).toBe(XDP_PASS);
      expect(r.dataOut.length).toBe(frame.length + 4);
      expect(readU32(r.dataOut, 0)).toBe((IPPROTO_UDP << 16) | 4789);
      expect(hex(r.dataOut.subarray(4))).toBe(hex(frame));
    });
  });

  describe('xdp_tailcall', () => {
    let o: LoadedObject;
    beforeAll(() => {
      o = kernel.load(progObject('xdp_tailcall'));
    });
    const hits = () => kernel.mapDump(map(o, 'stage_hits')).map((e) => readU64(e.value));

    it('libbpf filled the program array from the static initialiser', () => {
      const ids = kernel.mapDump(map(o, 'jmp_table')).map((e) => [readU32(e.key), readU32(e.value)]);
      const idOf = (name: string) => kernel.progInfo(prog(o, name)).id;
      expect(ids).toEqual([
        [0, idOf('xdp_stage_ipv4')],
        [1, idOf('xdp_stage_ipv6')],
        [2, idOf('xdp_stage_udp')],
      ]);
    });

    it('chains entry -> IPv4 -> UDP and falls through an empty slot', () => {
      const entry = prog(o, 'xdp_tail_entry');
      expect(kernel.run(entry, udp4Frame({ dstPort: 9 })).retval).toBe(XDP_DROP); // decided two calls deep
      expect(kernel.run(entry, udp4Frame({ dstPort: 10 })).retval).toBe(XDP_PASS);
      expect(kernel.run(entry, tcp4Frame({ ttl: 1 })).retval).toBe(XDP_DROP);
      expect(kernel.run(entry, udp6Frame({ ttl: 1 })).retval).toBe(XDP_DROP);
      expect(kernel.run(entry, arpFrame()).retval).toBe(XDP_PASS);
      // entries: 5; IPv4 stage: 3; IPv6 stage: 1; UDP stage: 2
      expect(hits()).toEqual([3n, 1n, 2n, 5n]);

      kernel.mapDelete(map(o, 'jmp_table'), u32Key(2));
      expect(kernel.run(entry, udp4Frame({ dstPort: 9 })).retval).toBe(XDP_PASS);
      expect(hits()).toEqual([4n, 1n, 2n, 6n]);
      kernel.mapUpdateProg(map(o, 'jmp_table'), u32Key(2), prog(o, 'xdp_stage_udp'));
      expect(kernel.run(entry, udp4Frame({ dstPort: 9 })).retval).toBe(XDP_DROP);
    });
  });

  describe('xdp_l4lb', () => {
    let o: LoadedObject;
    beforeAll(() => {
      o = kernel.load(progObject('xdp_l4lb'));
    });
    const backend = (saddr: string, daddr: string, dmac: string) => {
      const v = new Uint8Array(32);
      v.set(parseIpv4(saddr), 0);
      v.set(parseIpv4(daddr), 4);
      v.set(parseMac(dmac), 24);
      return v;
    };

    it('drops balanced traffic while there is no backend, and passes what it does not balance', () => {
      const p = prog(o, 'xdp_l4lb');
      expect(kernel.run(p, tcp4Frame()).retval).toBe(XDP_DROP);
      expect(kernel.run(p, icmp4Frame()).retval).toBe(XDP_PASS);
      expect(kernel.run(p, udp6Frame()).retval).toBe(XDP_PASS);
      expect(kernel.run(p, udp4Frame({ mf: true })).retval).toBe(XDP_DROP);
    });

    it('tunnels TCP and UDP to the backend and counts packets and bytes', () => {
      const servers = map(o, 'servers');
      expect(kernel.mapInfo(servers)).toMatchObject({ type: 'hash', keySize: 4, valueSize: 32, maxEntries: 512 });
      // Only slot 0: every flow falls back to it.
      kernel.mapUpdate(servers, u32Key(0), backend('192.0.2.10', '10.200.0.1', '02:aa:bb:cc:dd:ee'));
      const p = prog(o, 'xdp_l4lb');
      const frames = [tcp4Frame({ payload: patternPayload(70) }), udp4Frame({ srcPort: 5353 })];
      for (const frame of frames) {
        const r = kernel.run(p, frame);
        expect(r.retval).toBe(XDP_TX);
        const out = r.dataOut;
        expect(out.length).toBe(frame.length + 20);
        expect(hex(out.subarray(0, 6))).toBe('02 aa bb cc dd ee');
        expect(hex(out.subarray(6, 12))).toBe(hex(frame.subarray(0, 6))); // our MAC: the old destination
        const outer = out.subarray(ETH_HLEN, ETH_HLEN + 20);
        expect(outer[9]).toBe(IPPROTO_IPIP);
        expect(hex(outer.subarray(12, 20))).toBe(hex(Uint8Array.of(192, 0, 2, 10, 10, 200, 0, 1)));
        expect((outer[2]! << 8) | outer[3]!).toBe(frame.length - ETH_HLEN + 20);
        expect(checksumVerifies(outer)).toBe(true);
        expect(hex(out.subarray(ETH_HLEN + 20))).toBe(hex(frame.subarray(ETH_HLEN)));
      }
      const v = kernel.mapLookup(servers, u32Key(0))!.value;
      expect(readU64(v, 16)).toBe(2n); // packets
      expect(readU64(v, 8)).toBe(BigInt(frames[0]!.length + 20 + frames[1]!.length + 20)); // bytes
    });
  });

  describe('xdp_big', () => {
    let o: LoadedObject;
    beforeAll(() => {
      o = kernel.load(progObject('xdp_big'));
    });

    it('is over 3000 instructions after verification', () => {
      expect(kernel.progInfo(prog(o, 'xdp_big')).bytesXlated / 8).toBeGreaterThan(3000);
    });

    it('applies the first matching rule and counts it', () => {
      const p = prog(o, 'xdp_big');
      // Rule 3: 10.3.0.0/19, ports 1045..1048, i % 3 == 0 -> drop.
      expect(kernel.run(p, udp4Frame({ src: '10.3.31.200', dstPort: 1048 })).retval).toBe(XDP_DROP);
      // Rule 4: 10.4.0.0/20, ports 1052..1056 -> pass.
      expect(kernel.run(p, tcp4Frame({ src: '10.4.15.1', dstPort: 1052 }), { repeat: 2 }).retval).toBe(XDP_PASS);
      // Rule 399: 10.143.128.0/19 (399 = 256 + 143, prefix 16 + 399 % 9 = 19), ports 3817..3821, 399 % 3 == 0.
      expect(kernel.run(p, udp4Frame({ src: '10.143.129.7', dstPort: 3821 })).retval).toBe(XDP_DROP);
      // Just outside rule 3 (/19) and its ports: no rule.
      expect(kernel.run(p, udp4Frame({ src: '10.3.32.1', dstPort: 1048 })).retval).toBe(XDP_PASS);
      expect(kernel.run(p, udp4Frame({ src: '10.3.0.1', dstPort: 1049 })).retval).toBe(XDP_PASS);
      const hits = kernel.mapDump(map(o, 'rule_hits'));
      const nonZero = hits.filter((e) => readU64(e.value) !== 0n).map((e) => [readU32(e.key), readU64(e.value)]);
      expect(nonZero).toEqual([
        [3, 1n],
        [4, 2n],
        [399, 1n],
        [400, 2n],
      ]);
    });
  });

  describe('helpers on the host only', () => {
    it('xdp_redirect: bpf_redirect and a DEVMAP with a fallback action', () => {
      const o = kernel.load(progObject('xdp_redirect'));
      const frame = udp4Frame();
      const r = kernel.run(prog(o, 'xdp_redirect_ifindex'), frame);
      expect(r.retval).toBe(XDP_REDIRECT);
      expect(hex(r.dataOut.subarray(0, 12))).toBe(hex(Uint8Array.of(...frame.subarray(6, 12), ...frame.subarray(0, 6))));
      // BPF_PROG_TEST_RUN's frames arrive on the loopback device, ifindex 1.
      const viaMap = prog(o, 'xdp_redirect_map');
      expect(kernel.run(viaMap, frame).retval).toBe(XDP_PASS);
      kernel.mapUpdate(map(o, 'tx_port'), u32Key(1), u32Key(1));
      expect(kernel.run(viaMap, frame).retval).toBe(XDP_REDIRECT);
    });

    it('xdp_fib: local destinations and expiring TTLs go to the stack', () => {
      const p = prog(obj('xdp_fib'), 'xdp_fib_fwd');
      expect(kernel.run(p, udp4Frame({ dst: '127.0.0.1' })).retval).toBe(XDP_PASS);
      expect(kernel.run(p, udp4Frame({ ttl: 1 })).retval).toBe(XDP_PASS);
      expect(kernel.run(p, arpFrame()).retval).toBe(XDP_PASS);
    });

    it('xdp_perf: passes everything, SYNs included, with no reader attached', () => {
      const o = obj('xdp_perf');
      const p = prog(o, 'xdp_syn_events');
      expect(kernel.run(p, tcp4Frame({ flags: { syn: true } })).retval).toBe(XDP_PASS);
      expect(kernel.run(p, tcp4Frame({ flags: { syn: true }, payload: patternPayload(200) })).retval).toBe(XDP_PASS);
      expect(kernel.run(p, tcp4Frame()).retval).toBe(XDP_PASS);
      expect(kernel.mapInfo(map(o, 'events')).type).toBe('perf_event_array');
    });

    it('xdp_misc: verdict from bpf_csum_diff; time, CPU and chance land in maps', () => {
      const o = kernel.load(progObject('xdp_misc'));
      const p = prog(o, 'xdp_misc');
      const good = udp4Frame();
      const bad = flipBits(good, ETH_HLEN + 10, 0x01);
      expect(kernel.run(p, good, { repeat: 100 }).retval).toBe(XDP_PASS);
      expect(kernel.run(p, bad).retval).toBe(XDP_DROP);
      expect(kernel.run(p, udp6Frame()).retval).toBe(XDP_PASS);
      const total = kernel.mapDump(map(o, 'cpu_packets')).reduce((n, e) => n + readU64(e.value), 0n);
      expect(total).toBe(102n);
      expect(readU64(kernel.mapLookup(map(o, 'last_seen_ns'), u32Key(0))!.value)).toBeGreaterThan(0n);
      expect(readU64(kernel.mapLookup(map(o, 'sampled'), u32Key(0))!.value)).toBeLessThanOrEqual(102n);
    });

    it('xdp_flowtable: LRU_HASH, PERCPU_HASH and LRU_PERCPU_HASH', () => {
      const o = kernel.load(progObject('xdp_flowtable'));
      const p = prog(o, 'xdp_flowtable');
      const frame = udp4Frame({ src: '10.7.0.1', dst: '10.8.0.1', srcPort: 1000, dstPort: 2000 });
      kernel.run(p, frame, { repeat: 4 });
      kernel.run(p, tcp4Frame({ src: '10.7.0.1', dstPort: 2000 }));

      const flows = kernel.mapDump(map(o, 'flows'));
      expect(flows).toHaveLength(2);
      const key = new Uint8Array(16);
      key.set(parseIpv4('10.7.0.1'), 0);
      key.set(parseIpv4('10.8.0.1'), 4);
      key.set([1000 >> 8, 1000 & 0xff, 2000 >> 8, 2000 & 0xff, IPPROTO_UDP], 8);
      const flow = kernel.mapLookup(map(o, 'flows'), key);
      expect(flow).not.toBeNull();
      expect([readU64(flow!.value, 0), readU64(flow!.value, 8)]).toEqual([4n, 4n * BigInt(frame.length)]);

      const port = kernel.mapLookup(map(o, 'port_packets'), u32Key(2000));
      expect(sumU64(port!.values)).toBe(5n);
      const src = kernel.mapLookup(map(o, 'src_bytes'), parseIpv4('10.7.0.1'));
      expect(sumU64(src!.values)).toBe(BigInt(4 * frame.length + tcp4Frame({ src: '10.7.0.1', dstPort: 2000 }).length));
    });
  });

  describe('the oracle itself', () => {
    it('reports map errors with the kernel errno', () => {
      const o = kernel.load(progObject('xdp_counter'));
      const src = map(o, 'src_stats');
      const key = parseIpv4('10.0.0.99');
      expect(kernel.mapLookup(src, key)).toBeNull();
      kernel.mapUpdate(src, key, new Uint8Array(16), 'noexist');
      expect(kernel.mapLookup(src, key)).not.toBeNull();
      const err = (() => {
        try {
          kernel.mapUpdate(src, key, new Uint8Array(16), 'noexist');
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(err).toBeInstanceOf(BpfError);
      expect((err as BpfError).errno).toBe('EEXIST');
      kernel.mapDelete(src, key);
      expect(kernel.mapLookup(src, key)).toBeNull();
    });

    it('passes on the kernel refusing a run: frames shorter than an Ethernet header', () => {
      const p = prog(obj('xdp_pass'), 'xdp_pass');
      expect(kernel.run(p, new Uint8Array(14)).retval).toBe(XDP_PASS);
      expect(() => kernel.run(p, new Uint8Array(13))).toThrow(expect.objectContaining({ errno: 'EINVAL' }));
    });

    it('measures a duration and removes its pins on cleanup', () => {
      const own = new KernelOracle();
      const o = own.load(progObject('xdp_pass'));
      const r = own.run(o.progs['xdp_pass']!, udp4Frame(), { repeat: 1000 });
      expect(r.retval).toBe(XDP_PASS);
      expect(r.durationNs).toBeGreaterThan(0);
      expect(o.dir).toMatch(new RegExp(`^/sys/fs/bpf/nfp-emu-test-${process.pid}-\\d+$`));
      expect(fs.existsSync(o.dir)).toBe(true);
      own.cleanup();
      expect(fs.existsSync(o.dir)).toBe(false);
      own.cleanup();
    });
  });
});
