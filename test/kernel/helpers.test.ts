// The helpers' kernel semantics and error returns, through programs on both engines where a program
// is the natural caller. Values marked "kernel" were measured on the machine's 6.18 kernel with
// BPF_PROG_TEST_RUN (bpftool prog run) on programs doing the same calls.

import { describe, expect, it } from 'vitest';
import { BPF_FUNC, helperName } from '../../src/bpf/helpers.js';
import { BPF_PROG_TYPE } from '../../src/bpf/prog-types.js';
import { isBpfError } from '../../src/bpf/errno.js';
import {
  BPF_F_BROADCAST, csum_diff, xdp_redirect_target_ifindex,
} from '../../src/kernel/helpers/filter.js';
import { bpf_base_func_proto, buildHelpers, func_proto, helpersOf, xdp_func_proto } from '../../src/kernel/helpers/index.js';
import { prandom_u32_state } from '../../src/kernel/helpers/helpers.js';
import {
  BPF_ANY, BPF_EXIST, BPF_F_CURRENT_CPU, BPF_MAP_TYPE_ARRAY, BPF_MAP_TYPE_DEVMAP, BPF_MAP_TYPE_DEVMAP_HASH, BPF_MAP_TYPE_HASH,
  BPF_MAP_TYPE_PERCPU_ARRAY, BPF_MAP_TYPE_PERF_EVENT_ARRAY, BPF_NOEXIST,
} from '../../src/kernel/maps/map.js';
import { PerfEventSink } from '../../src/kernel/maps/perf_event.js';
import { XDP_ABORTED, XDP_DROP, XDP_PASS, XDP_REDIRECT } from '../../src/kernel/net/xdp.js';
import { ENGINES, asm, makeHost, ptrOf, s64, type Host } from './xdp-harness.js';

const u32 = (n: number): Uint8Array => Uint8Array.of(n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24);
const u64le = (b: Uint8Array, o = 0): bigint => new DataView(b.buffer, b.byteOffset).getBigUint64(o, true);
const pkt = (n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 7 + 1) & 0xff);

function hostWithPacket(len = 64, opts: Parameters<typeof makeHost>[0] = {}): Host {
  const h = makeHost(opts);
  for (const b of h.xdp) b.testRunInit(pkt(len), undefined, h.netdevs);
  return h;
}

/** A read-only string or buffer in the address space, and its pointer. */
function blob(h: Host, bytes: Uint8Array): bigint {
  return ptrOf(h.mem.map('mem', bytes));
}

const cstr = (s: string): Uint8Array => Uint8Array.from([...Buffer.from(s, 'latin1'), 0]);

describe('bpf_map_lookup_elem / update / delete', () => {
  for (const engine of ENGINES) {
    it(`${engine}: lookup gives a map_value pointer or NULL; the program counts through it`, () => {
      const h = hostWithPacket();
      const { map, region } = h.createMap({ map_type: BPF_MAP_TYPE_ARRAY, key_size: 4, value_size: 8, max_entries: 4 });
      // key = 2; v = lookup(); if (!v) return 0; *v += 5; return *v
      const prog = asm(`
        r2 = 2
        *(u32 *)(r10 - 4) = r2
        r1 = {map}
        r2 = r10
        r2 += -4
        call 1
        if r0 == 0 goto miss
        r1 = 5
        lock *(u64 *)(r0 + 0) += r1
        r0 = *(u64 *)(r0 + 0)
        exit
      miss:
        r0 = 0
        exit`, { map: ptrOf(region) });
      expect(h.run(engine, prog)).toBe(5n);
      expect(h.run(engine, prog)).toBe(10n);
      expect(u64le(map.lookup(u32(2)))).toBe(10n);
      // key 9 is out of range: NULL.
      const miss = asm(`r2 = 9\n*(u32 *)(r10 - 4) = r2\nr1 = {map}\nr2 = r10\nr2 += -4\ncall 1\nexit`, { map: ptrOf(region) });
      expect(h.run(engine, miss)).toBe(0n);
      // A hit's upper half names the value region, the lower half is the offset in it.
      const hit = asm(`r2 = 3\n*(u32 *)(r10 - 4) = r2\nr1 = {map}\nr2 = r10\nr2 += -4\ncall 1\nexit`, { map: ptrOf(region) });
      const p = h.run(engine, hit);
      const vr = h.mem.region(Number(p >> 32n) | 0)!;
      expect(vr.kind).toBe('map_value');
      expect(vr.u8).toBe(map.mem);
      expect(Number(p & 0xffffffffn)).toBe(map.lookupOffset(u32(3), 0, 0));
    });

    it(`${engine}: update and delete return 0 or the map's -errno`, () => {
      const h = hostWithPacket();
      const hash = h.createMap({ map_type: BPF_MAP_TYPE_HASH, key_size: 4, value_size: 8, max_entries: 2 });
      const arr = h.createMap({ map_type: BPF_MAP_TYPE_ARRAY, key_size: 4, value_size: 8, max_entries: 2 });
      const upd = (m: bigint, key: number, val: number, flags: number) => asm(`
        r1 = ${key}
        *(u32 *)(r10 - 4) = r1
        r1 = ${val}
        *(u64 *)(r10 - 16) = r1
        r1 = {m}
        r2 = r10
        r2 += -4
        r3 = r10
        r3 += -16
        r4 = ${flags}
        call 2
        exit`, { m });
      const del = (m: bigint, key: number) => asm(`r1 = ${key}\n*(u32 *)(r10 - 4) = r1\nr1 = {m}\nr2 = r10\nr2 += -4\ncall 3\nexit`, { m });
      const H = ptrOf(hash.region), A = ptrOf(arr.region);
      expect(s64(h.run(engine, upd(H, 1, 11, BPF_ANY)))).toBe(0n);
      expect(u64le(hash.map.lookup(u32(1)))).toBe(11n);
      expect(s64(h.run(engine, upd(H, 1, 12, BPF_NOEXIST)))).toBe(-17n); // EEXIST
      expect(s64(h.run(engine, upd(H, 2, 12, BPF_EXIST)))).toBe(-2n); // ENOENT
      expect(s64(h.run(engine, upd(H, 1, 12, 5)))).toBe(-22n); // EINVAL: unknown flags
      expect(s64(h.run(engine, upd(H, 2, 1, BPF_ANY)))).toBe(0n);
      expect(s64(h.run(engine, upd(H, 3, 1, BPF_ANY)))).toBe(-7n); // E2BIG: full
      expect(s64(h.run(engine, del(H, 2)))).toBe(0n);
      expect(s64(h.run(engine, del(H, 2)))).toBe(-2n);
      expect(s64(h.run(engine, upd(A, 0, 7, BPF_NOEXIST)))).toBe(-17n); // array slots always exist
      expect(s64(h.run(engine, upd(A, 5, 7, BPF_ANY)))).toBe(-7n);
      expect(s64(h.run(engine, del(A, 0)))).toBe(-22n); // arrays cannot delete
      // A flag in the upper 32 bits of the u64 is an unknown flag too.
      const hiFlag = asm(`r1 = 0\n*(u32 *)(r10 - 4) = r1\n*(u64 *)(r10 - 16) = r1\nr1 = {m}\nr2 = r10\nr2 += -4\nr3 = r10\nr3 += -16\nr4 = 0x100000000 ll\ncall 2\nexit`, { m: A });
      expect(s64(h.run(engine, hiFlag))).toBe(-22n);
    });
  }

  it('per-CPU maps: each CPU looks up its own copy', () => {
    const h = hostWithPacket();
    const { map, region } = h.createMap({ map_type: BPF_MAP_TYPE_PERCPU_ARRAY, key_size: 4, value_size: 8, max_entries: 1 });
    const prog = asm(`
      r2 = 0
      *(u32 *)(r10 - 4) = r2
      r1 = {map}
      r2 = r10
      r2 += -4
      call 1
      if r0 == 0 goto out
      r1 = *(u64 *)(r0 + 0)
      r1 += 1
      *(u64 *)(r0 + 0) = r1
    out:
      exit`, { map: ptrOf(region) });
    h.run('interpreter', prog, 0);
    h.run('jit', prog, 1);
    h.run('jit', prog, 1);
    const all = map.lookup(u32(0));
    expect([u64le(all, 0), u64le(all, 8)]).toEqual([1n, 2n]);
  });

  it('a bad map or key pointer is EFAULT naming the helper', () => {
    const h = hostWithPacket();
    const { region } = h.createMap({ map_type: BPF_MAP_TYPE_ARRAY, key_size: 4, value_size: 8, max_entries: 1 });
    const notMap = asm('r1 = r10\nr2 = r10\ncall 1\nexit');
    const nullKey = asm('r1 = {map}\nr2 = 0\ncall 1\nexit', { map: ptrOf(region) });
    const keyOffEnd = asm('r1 = {map}\nr2 = r10\nr2 += -2\ncall 1\nexit', { map: ptrOf(region) });
    for (const engine of ENGINES) {
      for (const [p, re] of [[notMap, /bpf_map_lookup_elem: r1 .* is not a map pointer/], [nullKey, /bpf_map_lookup_elem: invalid read of 4 bytes/], [keyOffEnd, /bpf_map_lookup_elem: invalid read/]] as const) {
        try {
          h.run(engine, p);
          expect.fail('no fault');
        } catch (e) {
          expect(isBpfError(e, 'EFAULT')).toBe(true);
          expect((e as Error).message).toMatch(re);
        }
      }
    }
  });
});

describe('time, randomness, CPU number', () => {
  for (const engine of ENGINES) {
    it(`${engine}: bpf_ktime_get_ns returns the 64-bit monotonic clock`, () => {
      let now = 5_000_000_000_123;
      const h = hostWithPacket(64, { clock: () => now });
      const prog = asm('call 5\nexit');
      expect(h.run(engine, prog)).toBe(5_000_000_000_123n);
      now += 1000;
      expect(h.run(engine, prog)).toBe(5_000_000_001_123n);
      // The host clock: non-decreasing, and about CLOCK_MONOTONIC (process.hrtime).
      const real = hostWithPacket();
      const a = real.run(engine, prog);
      const b = real.run(engine, prog);
      expect(b >= a).toBe(true);
      expect(Math.abs(Number(a - process.hrtime.bigint()))).toBeLessThan(1e9);
    });

    it(`${engine}: bpf_get_smp_processor_id is the CPU the program runs on`, () => {
      const h = hostWithPacket(64, { ncpus: 3 });
      expect([0, 1, 2].map((c) => h.run(engine, asm('call 8\nexit'), c))).toEqual([0n, 1n, 2n]);
    });
  }

  it('bpf_get_prandom_u32: per-CPU Tausworthe state, reproducible from a seed', () => {
    const draw = (seed: number, cpu: number, engine: (typeof ENGINES)[number]) => {
      const h = hostWithPacket(64, { seed });
      return Array.from({ length: 8 }, () => h.run(engine, asm('call 7\nexit'), cpu));
    };
    const a = draw(42, 0, 'interpreter');
    expect(draw(42, 0, 'jit')).toEqual(a);
    expect(draw(43, 0, 'jit')).not.toEqual(a);
    expect(draw(42, 1, 'interpreter')).not.toEqual(a);
    expect(a.every((v) => v >= 0n && v < 1n << 32n)).toBe(true);
    expect(new Set(a).size).toBe(8);
    expect(a.some((v) => v >= 1n << 31n)).toBe(true);
  });

  it('prandom_u32_state is lib/random32.c\'s TAUSWORTHE() on each of the four words', () => {
    // The macro as written in C, on BigInt: ((s & c) << d) ^ (((s << a) ^ s) >> b), all u32.
    const M = 0xffffffffn;
    const taus = (s: bigint, a: bigint, b: bigint, c: bigint, d: bigint): bigint => ((((s & c) << d) & M) ^ ((((s << a) & M) ^ s) >> b)) & M;
    const st = Uint32Array.of(0x12345678, 0x9abcdef0, 0x0fedcba9, 0x87654321);
    let [s1, s2, s3, s4] = Array.from(st, BigInt) as [bigint, bigint, bigint, bigint];
    for (let i = 0; i < 100; i++) {
      s1 = taus(s1, 6n, 13n, 4294967294n, 18n);
      s2 = taus(s2, 2n, 27n, 4294967288n, 2n);
      s3 = taus(s3, 13n, 21n, 4294967280n, 7n);
      s4 = taus(s4, 3n, 12n, 4294967168n, 13n);
      expect(BigInt(prandom_u32_state(st, 0))).toBe(s1 ^ s2 ^ s3 ^ s4);
    }
  });
});

describe('bpf_trace_printk', () => {
  function printk(fmt: string | Uint8Array, args: (number | bigint)[] = [], size?: number) {
    const h = hostWithPacket(64, { clock: () => 1e9 });
    const bytes = typeof fmt === 'string' ? cstr(fmt) : fmt;
    const f = blob(h, bytes);
    const regs = args.map((a, i) => `r${i + 3} = 0x${BigInt.asUintN(64, BigInt(a)).toString(16)} ll`).join('\n');
    const prog = asm(`r1 = {f}\nr2 = ${size ?? bytes.length}\n${regs}\ncall 6\nexit`, { f });
    const results = ENGINES.map((engine) => ({ r0: s64(h.run(engine, prog)), lines: h.env.trace.read() }));
    expect(results[1]).toEqual(results[0]);
    return { ret: results[0]!.r0, lines: results[0]!.lines, h };
  }
  const msg = (line: string | undefined): string => line!.replace(/^.*?bpf_trace_printk: /s, '');

  it('formats integers as the kernel (return values: kernel)', () => {
    let r = printk('hi %d %u %x', [-5, 7, 255]);
    expect([r.ret, msg(r.lines[0])]).toEqual([10n, 'hi -5 7 ff\n']);
    r = printk('lx %lx lld %lld c%c', [0x1234abcd, -3n, 0x5a]);
    expect([r.ret, msg(r.lines[0])]).toEqual([21n, 'lx 1234abcd lld -3 cZ\n']);
    r = printk('%5d|%-4u|%08x|%X\n', [42, 7, 0xbeef]);
    expect(r.ret).toBe(-22n); // a 4th conversion: bpf_printk() sends that to bpf_trace_vprintk instead
    r = printk('%5d|%-4u|%08x\n', [42, 7, 0xbeef]);
    expect([r.ret, msg(r.lines[0])]).toEqual([20n, '   42|7   |0000beef\n\n']);
    r = printk('%%d literal %d', [1]);
    expect([r.ret, msg(r.lines[0])]).toEqual([12n, '%d literal 1\n']);
    r = printk('%d %u %llu', [0xffffffff, 0xffffffff, -1n]);
    expect(msg(r.lines[0])).toBe('-1 4294967295 18446744073709551615\n');
    r = printk('%lld %llx %li', [-(2n ** 63n), 2n ** 64n - 1n, 2n ** 40n]);
    expect(msg(r.lines[0])).toBe('-9223372036854775808 ffffffffffffffff 1099511627776\n');
  });

  it('reads %s and %pI4 / %pi4 / %pI6 from memory (kernel: "ip %pI4 %pi4" returns 30)', () => {
    const h = hostWithPacket();
    const s = blob(h, cstr('str'));
    const ip = blob(h, Uint8Array.of(192, 168, 0, 1));
    const ip6 = blob(h, Uint8Array.from({ length: 16 }, (_, i) => (i === 0 ? 0x20 : i === 1 ? 0x01 : i === 15 ? 1 : 0)));
    const run = (fmt: string, args: bigint[]) => {
      const f = blob(h, cstr(fmt));
      const regs = args.map((a, i) => `r${i + 3} = 0x${a.toString(16)} ll`).join('\n');
      const ret = s64(h.run('jit', asm(`r1 = {f}\nr2 = ${fmt.length + 1}\n${regs}\ncall 6\nexit`, { f })));
      return [ret, msg(h.env.trace.read()[0])] as const;
    };
    expect(run('s=%s end', [s])).toEqual([9n, 's=str end\n']);
    expect(run('ip %pI4 %pi4', [ip, ip])).toEqual([30n, 'ip 192.168.0.1 192.168.000.001\n']);
    expect(run('%pI6', [ip6])[1]).toBe('2001:0000:0000:0000:0000:0000:0000:0001\n');
    expect(run('%pi6', [ip6])[1]).toBe('20010000000000000000000000000001\n');
    expect(run('[%s]', [0n])).toEqual([2n, '[]\n']); // an unreadable string prints as empty
    expect(run('%px', [0xffff888012345678n])[1]).toBe('ffff888012345678\n');
    expect(run('%pS', [0xffffffff81000000n])[1]).toBe('0xffffffff81000000\n');
    const hashed = run('%p', [0xffff888012345678n])[1];
    expect(hashed).toMatch(/^[0-9a-f]{16}\n$/);
    expect(hashed).not.toBe('ffff888012345678\n');
    expect(run('%p', [0xffff888012345678n])[1]).toBe(hashed);
  });

  it('returns -EINVAL, printing nothing, for formats the kernel refuses', () => {
    for (const [fmt, args] of [
      ['bad %q', [1]], ['%d %d %d %d', [1, 2, 3, 4]], ['%sx', [0]], ['%5.2d', [1]], ['%pZ', [0]], ['%hd', [1]],
      ['tab\tok \x01bad', []],
    ] as const) {
      const r = printk(fmt, [...args]);
      expect([fmt, r.ret, r.lines.length]).toEqual([fmt, -22n, 0]);
    }
    // No NUL within fmt_size.
    expect(printk(Buffer.from('no nul'), [], 6).ret).toBe(-22n);
    // A NUL before fmt_size ends the format.
    expect(msg(printk(cstr('ab\0cd'), []).lines[0])).toBe('ab\n');
    // Whitespace is allowed.
    expect(printk('tab\tnl\n', []).ret).toBe(7n);
  });

  it('writes trace_pipe lines in the kernel\'s layout, on the CPU that printed', () => {
    let now = 1500_904_272_123;
    const h = hostWithPacket(64, { clock: () => now });
    const f = blob(h, cstr('hello %d'));
    h.env.trace.context = { comm: 'bpftool', pid: 29197, flags: 'b..11' };
    h.run('interpreter', asm('r1 = {f}\nr2 = 9\nr3 = 7\ncall 6\nexit', { f }), 1);
    now += 1_000_000;
    h.run('jit', asm('r1 = {f}\nr2 = 9\nr3 = 8\ncall 6\nexit', { f }), 0);
    expect(h.env.trace.read()).toEqual([
      '         bpftool-29197   [001] b..11  1500.904272: bpf_trace_printk: hello 7\n',
      '         bpftool-29197   [000] b..11  1500.905272: bpf_trace_printk: hello 8\n',
    ]);
    expect(h.env.trace.read()).toEqual([]);
  });
});

describe('bpf_csum_diff', () => {
  /** x86-64 csum_partial as the kernel writes it: 64-bit little-endian words with carry, folded to 32 bits. */
  function refCsumPartial(b: Uint8Array, seed: bigint): bigint {
    const M64 = (1n << 64n) - 1n;
    let t = seed;
    for (let i = 0; i < b.length; i += 8) {
      let w = 0n;
      for (let k = 0; k < 8 && i + k < b.length; k++) w |= BigInt(b[i + k]!) << BigInt(8 * k);
      t += w;
      if (t > M64) t = (t & M64) + 1n;
    }
    const ror = ((t >> 32n) | (t << 32n)) & M64;
    return (((t + ror) & M64) >> 32n) & 0xffffffffn;
  }
  const M32 = 0xffffffffn;
  const add32 = (a: bigint, b: bigint): bigint => { const s = a + b; return (s & M32) + (s >> 32n); };
  const fold16 = (s: bigint): bigint => { const r = (s + (((s >> 16n) | (s << 16n)) & M32)) & M32; return r >> 16n; };
  function refCsumDiff(from: Uint8Array, to: Uint8Array, seed: bigint): bigint {
    let ret = seed;
    if (from.length && to.length) ret = add32(refCsumPartial(to, ret), ~refCsumPartial(from, 0n) & M32);
    else if (to.length) ret = refCsumPartial(to, ret);
    else if (from.length) ret = ~refCsumPartial(from, ~ret & M32) & M32;
    return fold16(ret);
  }

  it('agrees with a straightforward x86-64 reference on random buffers, sizes and seeds', () => {
    let s = 12345;
    const rnd = (n: number): number => { s = (s * 1103515245 + 12345) >>> 0; return s % n; };
    for (let i = 0; i < 2000; i++) {
      const from = Uint8Array.from({ length: rnd(4) === 0 ? 0 : rnd(80) }, () => (rnd(5) === 0 ? 0xff : rnd(256)));
      const to = Uint8Array.from({ length: rnd(4) === 0 ? 0 : rnd(80) }, () => (rnd(5) === 0 ? 0xff : rnd(256)));
      const seed = rnd(3) === 0 ? 0 : rnd(3) === 0 ? 0xffffffff : (rnd(65536) << 16) | rnd(65536);
      expect(BigInt(csum_diff(from, 0, from.length, to, 0, to.length, seed >>> 0)), `case ${i}`).toBe(refCsumDiff(from, to, BigInt(seed >>> 0)));
    }
  });

  // [from words, to words or bytes, from size, to size, seed, kernel's return]
  const words = (...w: number[]): Uint8Array => Uint8Array.from(w.flatMap((v) => [...u32(v)]));
  const buf = words(0x01020304, 0xa0b0c0d0, 0x55667788);
  const vectors: [string, number, number, number, number][] = [
    ['to 8 bytes', 0, 8, 0, 0x6587],
    ['from 8 bytes', 8, 0, 0, 0x9a78],
    ['from 4, to 4', 4, 4, 0, 0x5d7b],
    ['no data: the seed, folded', 0, 0, 0x1234, 0x1234],
    ['no data, seed 0xffffffff', 0, 0, 0xffffffff, 0xffff],
    ['to 6 bytes (not a multiple of 4)', 0, 6, 0, 0xc4d6],
    ['from 3 bytes', 3, 0, 0, 0xfcf9],
    ['from 3, to 5', 3, 5, 0, 0x7e5c],
  ];
  for (const engine of ENGINES) {
    it(`${engine}: the kernel's results on known vectors, through a program`, () => {
      const h = hostWithPacket();
      const p = blob(h, buf);
      for (const [what, fromSize, toSize, seed, want] of vectors) {
        const prog = asm(`
          r1 = ${fromSize === 0 ? '0' : '{p}'}
          r2 = ${fromSize}
          r3 = {q}
          r4 = ${toSize}
          r5 = 0x${seed.toString(16)} ll
          call 28
          exit`, { p, q: p + BigInt(fromSize) });
        expect(h.run(engine, prog), what).toBe(BigInt(want));
      }
      // More kernel vectors: seeds, all-ones, zeros, equal from/to, 256 + 256 and 516 bytes.
      const k = (from: Uint8Array, to: Uint8Array, seed: number): number => csum_diff(from, 0, from.length, to, 0, to.length, seed);
      expect(k(new Uint8Array(0), words(0xffffffff), 0x12345678)).toBe(0x68ac);
      expect(k(new Uint8Array(0), words(0xffffffff, 0xffffffff), 0)).toBe(0xffff);
      expect(k(new Uint8Array(0), words(0, 0), 0)).toBe(0);
      expect(k(words(0x11111111), new Uint8Array(0), 0xdeadbeef)).toBe(0x7b7b);
      expect(k(words(0x01020304), words(0x01020304), 0)).toBe(0xffff);
      expect(k(new Uint8Array(0), words(1), 0xffffffff)).toBe(1);
      const big = new Uint8Array(520);
      big.set(words(1, 2, 3));
      expect(k(big.subarray(0, 256), big.subarray(256, 512), 0)).toBe(0xfff9);
      expect(k(new Uint8Array(0), big.subarray(0, 516), 0)).toBe(6);
    });
  }

  it('reads from the packet too (pkt_access), and faults on a bad pointer', () => {
    const h = hostWithPacket(64);
    const prog = asm('r6 = r1\nr1 = 0\nr2 = 0\nr3 = *(u32 *)(r6 + 0)\nr4 = 20\nr5 = 0\ncall 28\nexit');
    const b = h.xdp[0]!;
    const want = csum_diff(null, 0, 0, b.frame, b.data, 20, 0);
    for (const engine of ENGINES) expect(h.run(engine, prog)).toBe(BigInt(want));
    expect(() => h.run('jit', asm('r1 = 0\nr2 = 0\nr3 = 0\nr4 = 8\nr5 = 0\ncall 28\nexit'))).toThrow(/bpf_csum_diff: invalid read of 8 bytes/);
  });
});

describe('bpf_redirect and bpf_redirect_map', () => {
  for (const engine of ENGINES) {
    it(`${engine}: bpf_redirect records the ifindex; any flag is XDP_ABORTED (kernel)`, () => {
      const h = hostWithPacket();
      expect(h.run(engine, asm('r1 = 5\nr2 = 0\ncall 23\nexit'), 1)).toBe(BigInt(XDP_REDIRECT));
      const ri = h.env.redirect[1]!;
      expect([ri.tgt_index, ri.map_type, ri.map_id]).toEqual([5, 0, 0x7fffffff]);
      expect(xdp_redirect_target_ifindex(ri)).toBe(5);
      expect(h.env.redirect[0]!.tgt_index).toBe(0);
      expect(h.run(engine, asm('r1 = 6\nr2 = 1\ncall 23\nexit'), 1)).toBe(BigInt(XDP_ABORTED));
      expect(h.run(engine, asm('r1 = 6\nr2 = 0x100000000 ll\ncall 23\nexit'), 1)).toBe(BigInt(XDP_ABORTED));
      expect(ri.tgt_index).toBe(5);
    });

    it(`${engine}: bpf_redirect_map on a devmap: hit, miss with the default action, broadcast, bad flags`, () => {
      const h = hostWithPacket();
      const eth1 = h.netdevs.register({ name: 'eth1' });
      const { map, region } = h.createMap({ map_type: BPF_MAP_TYPE_DEVMAP, key_size: 4, value_size: 4, max_entries: 4 });
      map.update(u32(2), u32(eth1.ifindex));
      const call = (key: number, flags: number | bigint) => asm(`r1 = {m}\nr2 = ${key}\nr3 = 0x${BigInt(flags).toString(16)} ll\ncall 51\nexit`, { m: ptrOf(region) });
      const ri = h.env.redirect[0]!;
      expect(h.run(engine, call(2, 0))).toBe(BigInt(XDP_REDIRECT));
      expect([ri.tgt_index, ri.map_type, ri.map_id, ri.map]).toEqual([2, BPF_MAP_TYPE_DEVMAP, map.id, null]);
      expect(xdp_redirect_target_ifindex(ri)).toBe(eth1.ifindex);
      // An empty slot: the low bits of flags are the verdict, and the state is cleared.
      expect(h.run(engine, call(1, XDP_PASS))).toBe(BigInt(XDP_PASS));
      expect([ri.map_type, ri.map_id]).toEqual([0, 0x7fffffff]);
      expect(xdp_redirect_target_ifindex(ri)).toBe(ri.tgt_index); // an ifindex redirect to the stale index, as the kernel
      expect(h.run(engine, call(9, 0))).toBe(BigInt(XDP_ABORTED));
      // BPF_F_BROADCAST redirects even without an entry, to the whole map.
      expect(h.run(engine, call(1, BPF_F_BROADCAST))).toBe(BigInt(XDP_REDIRECT));
      expect(ri.map).toBe(map);
      expect(ri.flags).toBe(BPF_F_BROADCAST);
      // Unknown flag bits, or any in the upper half: XDP_ABORTED.
      expect(h.run(engine, call(2, 1 << 5))).toBe(BigInt(XDP_ABORTED));
      expect(h.run(engine, call(2, 1n << 40n))).toBe(BigInt(XDP_ABORTED));
      // The key is a u32: 2 + 2^32 is slot 2.
      expect(h.run(engine, asm(`r1 = {m}\nr2 = 0x100000002 ll\nr3 = 0\ncall 51\nexit`, { m: ptrOf(region) }))).toBe(BigInt(XDP_REDIRECT));
      expect(ri.tgt_index).toBe(2);
    });
  }

  it('bpf_redirect_map on a DEVMAP_HASH: the key is looked up in the hash, any u32 works', () => {
    const h = hostWithPacket();
    const eth1 = h.netdevs.register({ name: 'eth1' });
    const { map, region } = h.createMap({ map_type: BPF_MAP_TYPE_DEVMAP_HASH, key_size: 4, value_size: 4, max_entries: 4 });
    map.update(u32(0xdead0001), u32(eth1.ifindex));
    const call = (key: number, flags: number) => asm(`r1 = {m}\nr2 = 0x${key.toString(16)} ll\nr3 = ${flags}\ncall 51\nexit`, { m: ptrOf(region) });
    const ri = h.env.redirect[0]!;
    for (const engine of ENGINES) {
      expect(h.run(engine, call(0xdead0001, 0))).toBe(BigInt(XDP_REDIRECT));
      expect([ri.tgt_index, ri.map_type, xdp_redirect_target_ifindex(ri)]).toEqual([0xdead0001, BPF_MAP_TYPE_DEVMAP_HASH, eth1.ifindex]);
      expect(h.run(engine, call(1, XDP_DROP))).toBe(BigInt(XDP_DROP));
    }
  });

  it('a map type bpf_redirect_map does not take is refused as the verifier would (EINVAL)', () => {
    const h = hostWithPacket();
    const { region } = h.createMap({ map_type: BPF_MAP_TYPE_ARRAY, key_size: 4, value_size: 4, max_entries: 1 });
    expect(() => h.run('interpreter', asm('r1 = {m}\nr2 = 0\nr3 = 0\ncall 51\nexit', { m: ptrOf(region) })))
      .toThrow(/cannot pass map_type 2 into func bpf_redirect_map#51/);
  });
});

describe('bpf_perf_event_output from XDP', () => {
  function setup() {
    const h = hostWithPacket(64);
    const { map, region } = h.createMap({ map_type: BPF_MAP_TYPE_PERF_EVENT_ARRAY, key_size: 4, value_size: 4, max_entries: 2 });
    const sinks = [0, 1].map((cpu) => PerfEventSink.create({ cpu, pages: 1, page_size: 1024 }));
    sinks.forEach((s, cpu) => { h.fds.set(30 + cpu, s); map.update(u32(cpu), u32(30 + cpu)); });
    const meta = blob(h, Uint8Array.of(0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4));
    const call = (flags: bigint, size = 8) => asm(`r2 = {m}\nr3 = 0x${flags.toString(16)} ll\nr4 = {meta}\nr5 = ${size}\ncall 25\nexit`, { m: ptrOf(region), meta });
    return { h, sinks, call };
  }
  const records = (s: PerfEventSink): number[][] => {
    const out: number[][] = [];
    s.read((d) => out.push(Array.from(d)));
    return out;
  };

  for (const engine of ENGINES) {
    it(`${engine}: BPF_F_CURRENT_CPU with packet bytes in the upper 32 bits of flags`, () => {
      const { h, sinks, call } = setup();
      expect(s64(h.run(engine, call(BigInt(BPF_F_CURRENT_CPU) | (16n << 32n)), 1))).toBe(0n);
      const recs = records(sinks[1]!);
      expect(recs).toHaveLength(1);
      // meta, then 16 bytes from xdp->data, then zero padding to keep the record 8-byte aligned.
      expect(recs[0]!.slice(0, 24)).toEqual([0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, ...Array.from(pkt(16))]);
      expect(recs[0]!.length).toBe(28);
      expect(records(sinks[0]!)).toEqual([]);
      // An explicit index must be the running CPU's ring.
      expect(s64(h.run(engine, call(0n), 0))).toBe(0n);
      expect(records(sinks[0]!)).toHaveLength(1);
      expect(s64(h.run(engine, call(1n), 0))).toBe(-95n); // EOPNOTSUPP: the event is bound to CPU 1
      expect(s64(h.run(engine, call(2n), 0))).toBe(-7n); // E2BIG: no such slot
      expect(s64(h.run(engine, call(0n | (65n << 32n)), 0))).toBe(-14n); // EFAULT: more than the 64-byte frame
      expect(s64(h.run(engine, call(0n | (64n << 32n)), 0))).toBe(0n);
      expect(s64(h.run(engine, call(1n << 52n), 0))).toBe(-22n); // EINVAL: past BPF_F_CTXLEN_MASK
      expect(s64(h.run(engine, call(0n, 0), 0))).toBe(0n); // an empty record is fine
    });
  }
});

describe('bpf_xdp_get_buff_len / load_bytes / store_bytes', () => {
  for (const engine of ENGINES) {
    it(`${engine}: copy in and out of the linear buffer with the kernel's bounds`, () => {
      const h = hostWithPacket(40);
      const id = (n: string): number => func_proto(BPF_PROG_TYPE.XDP, BPF_FUNC[`xdp_${n}`]!)!.id;
      expect(h.run(engine, asm(`call ${id('get_buff_len')}\nexit`))).toBe(40n);
      const load = (off: number, len: number) => asm(`r6 = r10\nr6 += -16\nr2 = ${off}\nr3 = r6\nr4 = ${len}\ncall ${id('load_bytes')}\nif r0 != 0 goto out\nr0 = *(u64 *)(r10 - 16)\nout:\nexit`);
      expect(h.run(engine, load(32, 8))).toBe(u64le(pkt(40), 32));
      expect(s64(h.run(engine, load(33, 8)))).toBe(-22n);
      expect(s64(h.run(engine, load(0x10000, 8)))).toBe(-14n);
      const store = asm(`r2 = 0x1122334455667788 ll\n*(u64 *)(r10 - 8) = r2\nr2 = 4\nr3 = r10\nr3 += -8\nr4 = 8\ncall ${id('store_bytes')}\nexit`);
      expect(h.run(engine, store)).toBe(0n);
      expect(u64le(h.xdp[0]!.dataOut(), 4)).toBe(0x1122334455667788n);
    });
  }
});

describe('the helper table', () => {
  it('gives XDP its own flavours and falls back to the base helpers', () => {
    expect(xdp_func_proto(23)!.proto.func).toBe('bpf_xdp_redirect');
    expect(xdp_func_proto(25)!.proto.func).toBe('bpf_xdp_event_output');
    expect(xdp_func_proto(69)!.proto.func).toBe('bpf_xdp_fib_lookup');
    expect(xdp_func_proto(1)).toBe(bpf_base_func_proto(1));
    expect(xdp_func_proto(12)!.impl).toBeNull(); // bpf_tail_call: the engines
    expect(xdp_func_proto(9)).toBeUndefined(); // skb_store_bytes is not for XDP
    expect(func_proto(BPF_PROG_TYPE.SOCKET_FILTER, 1)).toBeUndefined();
  });

  it('names every entry as the kernel does and carries its prototype', () => {
    for (const def of helpersOf(BPF_PROG_TYPE.XDP)) {
      expect(def.name).toBe(helperName(def.id));
      expect(def.proto.arg_type.length).toBeLessThanOrEqual(5);
    }
    const p = (id: number) => xdp_func_proto(id)!.proto;
    expect(p(1)).toMatchObject({ ret_type: 'RET_PTR_TO_MAP_VALUE_OR_NULL', gpl_only: false, pkt_access: true });
    expect(p(1).arg_type.map((a) => a.type)).toEqual(['ARG_CONST_MAP_PTR', 'ARG_PTR_TO_MAP_KEY']);
    expect(p(6).gpl_only).toBe(true); // trace_printk
    expect(p(25).gpl_only).toBe(true);
    expect(p(69).gpl_only).toBe(true);
    expect(p(28).arg_type[0]).toEqual({ type: 'ARG_PTR_TO_MEM', flags: ['PTR_MAYBE_NULL', 'MEM_RDONLY'] });
    expect([44, 54, 65].map((id) => p(id).changes_pkt_data)).toEqual([true, true, true]);
    expect(p(23).changes_pkt_data).toBe(false);
  });

  it('builds an implementation for every helper the engines do not handle', () => {
    const h = makeHost();
    const helpers = buildHelpers(BPF_PROG_TYPE.XDP, h.env);
    const ids = helpersOf(BPF_PROG_TYPE.XDP).map((d) => d.id);
    expect(ids.filter((id) => helpers[id] === undefined)).toEqual([12]);
    expect(helpers.filter((f) => f !== undefined)).toHaveLength(ids.length - 1);
  });
});
