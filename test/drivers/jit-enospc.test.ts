// A program too big for the code store of the production image (nfp-bpf-60c: 8k instructions, the
// BPF area the vNIC's NFP_NET_CFG_BPF_MAX_LEN names), through the syscall and through bpftool: the
// JIT stops at the limit with ENOSPC (jit.c nfp_prog_push(): "instruction limit reached (%u NFP
// instructions)", then nfp_bpf_translate()'s "Translation failed with error %d"), and nothing is left
// behind. nfp-verifier.test.ts shows the same against a 40-instruction test firmware; here the limit
// is the real one, first with generated programs sized to the limit, then with test/progs/xdp_big.o, a
// 400-rule firewall compiled into straight-line code: through libbpf and through `nfp-emu bpftool prog
// load ... offload_dev nfp0` the hook takes it and the JIT runs out of room part way through; on the
// host, and on a test image with a code store twice the size, it runs as its rules say.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assemble } from '../../src/bpf/asm.js';
import { encode } from '../../src/bpf/insn.js';
import { loadObject, type BpfObject } from '../../src/bpf/object.js';
import { BPF_PROG_TYPE } from '../../src/bpf/prog-types.js';
import { runBpftool } from '../../src/cli/bpftool/main.js';
import { main } from '../../src/cli/main.js';
import { XDP_FLAGS_HW_MODE, rtnl_setlink_xdp } from '../../src/kernel/net/dev-xdp.js';
import { nfp_bpf_dev_ops, nfp_prog_of, type NfpProgOffload } from '../../src/drivers/nfp/prog.js';
import { ProgLoadError, loadObjectIntoKernel, loadObjectIntoKernelAsync } from '../../src/libbpf/object.js';
import { NFP_NET_CFG_BPF_MAX_LEN } from '../../src/nic/ctrl-bar.js';
import { startNicDatapath, type NicDatapath } from '../../src/scenario/nic.js';
import { buildElf } from '../bpf/fixtures/elf-build.js';
import { progObject } from '../oracle/kernel.js';
import * as pk from '../oracle/packets.js';
import { bootHost, expectErrno, imageVariant, removeImageVariants, u32, type TestHost } from './helpers.js';

const XDP_DROP = 1;
const XDP_PASS = 2;
const SHT_PROGBITS = 1;
const SHF_ALLOC_EXECINSTR = 0x6;
const STT_FUNC = 2;

let h: TestHost;
let maxLen: number;
const tmp = mkdtempSync(join(tmpdir(), 'nfpemu-enospc-'));
beforeAll(async () => {
  h = await bootHost();
  const offdev = h.nfp!.bpf!.bpf_dev;
  if (offdev.ops === null) Object.assign(offdev, { ops: nfp_bpf_dev_ops });
  maxLen = h.device!.bars[0]!.readw(NFP_NET_CFG_BPF_MAX_LEN);
});
afterAll(async () => {
  rmSync(tmp, { recursive: true, force: true });
  await h?.shutdown();
});

/** `n` 64-bit register adds (two NFP instructions each: add and add with carry) between a set-up and XDP_PASS. */
const adds = (n: number): string => `r1 = 1\nr2 = 3\n${'r1 += r2\n'.repeat(n)}r0 = 2\nexit`;

const progIds = (): number[] => {
  const out: number[] = [];
  for (let id = h.kernel.progs.nextAfter(0); id !== undefined; id = h.kernel.progs.nextAfter(id)) out.push(id);
  return out;
};

describe('the code store of the production image', () => {
  it('is the BPF area the vNIC advertises: nearly 8k instructions', () => {
    expect(h.device!.image.datapath.codeStoreInsns).toBe(8192);
    expect(maxLen).toBeGreaterThan(7000);
    expect(maxLen).toBeLessThanOrEqual(8192);
  });

  it('takes a program that fits, and refuses one instruction pair more than fits with ENOSPC at BPF_MAX_LEN', async () => {
    // Size the program from what fits: one that loads, and its image length.
    const small = await h.sys.progLoadAsync({ prog_type: BPF_PROG_TYPE.XDP, insns: assemble(adds(1000)), license: 'GPL', prog_ifindex: h.ifindex });
    const len1000 = nfp_prog_of(h.kernel.progOf(small, 'test').offload as NfpProgOffload).prog.length;
    h.sys.close(small);
    const room = Math.floor((maxLen - (len1000 - 2 * 1000)) / 2); // adds that fit beside the fixed part
    const fits = await h.sys.progLoadAsync({ prog_type: BPF_PROG_TYPE.XDP, insns: assemble(adds(room)), license: 'GPL', prog_ifindex: h.ifindex });
    expect(nfp_prog_of(h.kernel.progOf(fits, 'test').offload as NfpProgOffload).prog.length).toBeLessThanOrEqual(maxLen);
    h.sys.close(fits);

    const before = progIds();
    h.dmesg.clear();
    const attr = { prog_type: BPF_PROG_TYPE.XDP, insns: assemble(adds(room + 1)), license: 'GPL', prog_ifindex: h.ifindex, log_level: 1, log_size: 1 << 20 };
    await expectErrno(h.sys.progLoadAsync(attr), 'ENOSPC', `instruction limit reached (${maxLen} NFP instructions)`);
    expect(h.dmesg.has(`NFP net bpf: instruction limit reached (${maxLen} NFP instructions)`)).toBe(true);
    expect(h.dmesg.text()).toMatch(/NFP net bpf: Translation failed with error -28 \(translated: \d+\)/);
    expect(progIds()).toEqual(before);
  });

  it('bpftool prog load ... offload_dev nfp0 of such an object: libbpf\'s failure with -28, no program pinned', async () => {
    const insns = encode(assemble(adds(maxLen)));
    const obj = buildElf([
      { name: 'xdp', type: SHT_PROGBITS, flags: SHF_ALLOC_EXECINSTR, data: insns },
      { name: 'license', type: SHT_PROGBITS, flags: 0x3, data: new TextEncoder().encode('GPL\0') },
    ], [{ name: 'xdp_huge', shndx: 1, value: 0, size: insns.length, bind: 1, type: STT_FUNC }]);
    const file = join(tmp, 'xdp_huge.o');
    writeFileSync(file, obj);
    let stdout = '';
    let stderr = '';
    const before = progIds();
    h.dmesg.clear();
    const status = await runBpftool(['prog', 'load', file, '/sys/fs/bpf/enospc_huge', 'offload_dev', 'nfp0'], {
      kernel: h.kernel, sys: h.sys, cwd: tmp,
      stdout: { write: (s: string) => { stdout += s; } },
      stderr: { write: (s: string) => { stderr += s; } },
    });
    expect(status).not.toBe(0);
    expect(stdout).toBe('');
    // The verifier passed it (the log is its statistics line only); the JIT did not.
    expect(stderr).toMatch(/^libbpf: prog 'xdp_huge': BPF program load failed: No space left on device\nlibbpf: prog 'xdp_huge': -- BEGIN PROG LOAD LOG --\nprocessed \d+ insns [^\n]*\n-- END PROG LOAD LOG --\n/);
    expect(stderr).toContain("libbpf: prog 'xdp_huge': failed to load: -28\n");
    expect(stderr).toContain('Error: failed to load object file\n');
    expect(h.dmesg.has(`NFP net bpf: instruction limit reached (${maxLen} NFP instructions)`)).toBe(true);
    expect(progIds()).toEqual(before);
  });
});

// ---------------------------------------------------------------------------------------------------
// test/progs/xdp_big.o: the program written to be too big. Everything in it is something the NIC
// takes (no modulo, no 64-bit multiply, the map only read and atomically added to), so the hook lets
// it through and it is the JIT that stops, at the code store's end. On a test image whose BPF area
// spans two code stores it translates in full and runs on the card as on the host.

const NUM_RULES = 400;

/** Rule i of xdp_big.c, from its formula: network, prefix mask, destination port range, verdict. */
function bigRule(i: number): { net: number; mask: number; lo: number; hi: number; action: number } {
  const mask = (0xffffffff << (32 - (16 + (i % 9)))) >>> 0;
  const net = (0x0a000000 | ((i & 255) << 16) | ((i >> 8) << 15)) >>> 0;
  const lo = 1024 + 7 * i;
  return { net: (net & mask) >>> 0, mask, lo, hi: lo + (i % 5), action: i % 3 === 0 ? XDP_DROP : XDP_PASS };
}

/** What xdp_big does with a TCP or UDP frame from `saddr` to `dport`: the verdict and the counter it bumps. */
function bigVerdict(saddr: number, dport: number): { action: number; rule: number } {
  for (let i = 0; i < NUM_RULES; i++) {
    const r = bigRule(i);
    if (((saddr & r.mask) >>> 0) === r.net && dport >= r.lo && dport <= r.hi) return { action: r.action, rule: i };
  }
  return { action: XDP_PASS, rule: NUM_RULES };
}

const ipv4 = (a: number): string => [a >>> 24, (a >>> 16) & 255, (a >>> 8) & 255, a & 255].join('.');

/**
 * Frames at the edges of some rules (first and last address of the network, lowest and highest port,
 * one past each), the first rule and the last, both halves of the network formula (i >> 8), and frames
 * the program passes without looking at the rules (ICMP, IPv6, ARP).
 */
function bigFrames(): { frame: Uint8Array; counted?: { saddr: number; dport: number } }[] {
  const out: { frame: Uint8Array; counted?: { saddr: number; dport: number } }[] = [];
  for (const i of [0, 1, 2, 3, 4, 8, 9, 13, 255, 256, 257, 300, 398, 399]) {
    const r = bigRule(i);
    const last = (r.net | ~r.mask) >>> 0;
    for (const [saddr, dport, tcp] of [[r.net, r.lo, true], [last, r.hi, false], [last + 1, r.lo, true], [r.net, r.hi + 1, false], [r.net, r.lo - 1, true]] as const) {
      const o = { src: ipv4(saddr >>> 0), dstPort: dport };
      out.push({ frame: tcp ? pk.tcp4Frame(o) : pk.udp4Frame(o), counted: { saddr: saddr >>> 0, dport } });
    }
  }
  out.push({ frame: pk.icmp4Frame({ src: '10.3.0.1' }) }, { frame: pk.udp6Frame({ dstPort: 1045 }) }, { frame: pk.arpFrame() });
  return out;
}

/** The hit counts xdp_big should have after `frames`, by rule (NUM_RULES: matched no rule). */
function expectedHits(frames: ReturnType<typeof bigFrames>, times = 1): Map<number, bigint> {
  const hits = new Map<number, bigint>();
  for (const f of frames) {
    if (f.counted === undefined) continue;
    const { rule } = bigVerdict(f.counted.saddr, f.counted.dport);
    hits.set(rule, (hits.get(rule) ?? 0n) + BigInt(times));
  }
  return hits;
}

const le64 = (v: Uint8Array): bigint => new DataView(v.buffer, v.byteOffset, v.byteLength).getBigUint64(0, true);

/** The non-zero counters of rule_hits, read through the syscall (async: the map may be on the card). */
async function readHits(host: TestHost, fd: number): Promise<Map<number, bigint>> {
  const hits = new Map<number, bigint>();
  for (let k = 0; k <= NUM_RULES; k++) {
    const v = le64(await host.sys.mapLookupAsync({ map_fd: fd, key: u32(k) }));
    if (v !== 0n) hits.set(k, v);
  }
  return hits;
}

const bigObject = (): BpfObject => {
  const path = progObject('xdp_big');
  return loadObject(readFileSync(path), path);
};

const mapIds = (): number[] => {
  const out: number[] = [];
  for (let id = h.kernel.maps.nextAfter(0); id !== undefined; id = h.kernel.maps.nextAfter(id)) out.push(id);
  return out;
};

describe('test/progs/xdp_big.o, a rule set compiled into more code than one code store holds', () => {
  it('the reference rules are what the frames exercise: drops and passes, first and last rule, misses', () => {
    const frames = bigFrames();
    const verdicts = frames.flatMap((f) => (f.counted === undefined ? [] : [bigVerdict(f.counted.saddr, f.counted.dport)]));
    expect(verdicts.some((v) => v.action === XDP_DROP)).toBe(true);
    expect(verdicts.some((v) => v.action === XDP_PASS && v.rule < NUM_RULES)).toBe(true);
    expect(verdicts.some((v) => v.rule === 0)).toBe(true);
    expect(verdicts.some((v) => v.rule === NUM_RULES - 1)).toBe(true);
    expect(verdicts.some((v) => v.rule === NUM_RULES)).toBe(true);
  });

  it('loads on the host and runs there as its rules say: verdicts and per-rule counters', () => {
    const lo = loadObjectIntoKernel(h.sys, bigObject());
    try {
      const fd = lo.programs.find((p) => p.spec.name === 'xdp_big')!.fd;
      const hits = lo.maps.find((m) => m.spec.name === 'rule_hits')!.fd;
      expect(h.sys.progInfo(fd).ifindex).toBe(0);
      const frames = bigFrames();
      for (const [n, f] of frames.entries()) {
        const want = f.counted === undefined ? XDP_PASS : bigVerdict(f.counted.saddr, f.counted.dport).action;
        expect(h.sys.progTestRun({ prog_fd: fd, data_in: f.frame, repeat: 2 }).retval, `frame ${n}`).toBe(want);
      }
      const got = new Map<number, bigint>();
      for (let k = 0; k <= NUM_RULES; k++) {
        const v = le64(h.sys.mapLookup({ map_fd: hits, key: u32(k) }));
        if (v !== 0n) got.set(k, v);
      }
      expect(got).toEqual(expectedHits(frames, 2));
    } finally {
      for (const x of [...lo.programs, ...lo.maps]) h.sys.close(x.fd);
      if (lo.btfFd !== undefined) h.sys.close(lo.btfFd);
    }
  });

  it(`through libbpf for nfp0: the hook takes every instruction, the JIT stops at BPF_MAX_LEN with ENOSPC`, async () => {
    expect(maxLen).toBe(7936); // nfp-bpf-60c's NFP_NET_CFG_BPF_MAX_LEN
    const obj = bigObject();
    const bpfInsns = obj.programs.find((p) => p.name === 'xdp_big')!.insns.length;
    const progsBefore = progIds();
    const mapsBefore = mapIds();
    h.dmesg.clear();
    const e = await loadObjectIntoKernelAsync(h.sys, obj, { ifindex: h.ifindex, logLevel: 1 }).then(() => undefined, (x: unknown) => x);
    expect(e).toBeInstanceOf(ProgLoadError);
    const err = e as ProgLoadError;
    expect(err.prog).toBe('xdp_big');
    expect(err.errno).toBe('ENOSPC');
    expect(err.message).toContain('instruction limit reached (7936 NFP instructions)');
    // The verifier walked it to the end with the hook and refused nothing: its log is the statistics line.
    expect(err.log).toMatch(/^processed \d+ insns \(limit 1000000\) [^\n]*\n$/);
    expect(err.log).not.toContain('[nfp]');
    expect(h.dmesg.has('NFP net bpf: instruction limit reached (7936 NFP instructions)')).toBe(true);
    // The code store was full part way through the program, not at its last instruction.
    const translated = Number(/NFP net bpf: Translation failed with error -28 \(translated: (\d+)\)/.exec(h.dmesg.text())?.[1]);
    expect(translated).toBeGreaterThan(NUM_RULES);
    expect(translated).toBeLessThan(bpfInsns - 100);
    expect(progIds()).toEqual(progsBefore);
    expect(mapIds()).toEqual(mapsBefore);
  });

  it('nfp-emu bpftool prog load test/progs/xdp_big.o PATH offload_dev nfp0: libbpf\'s lines for -28, exit 255', async () => {
    let stdout = '';
    let stderr = '';
    const sink = (f: (s: string) => void): Writable => new Writable({ write(c, _e, cb) { f(String(c)); cb(); } });
    // The path as the user types it from the repository root (libbpf names the object by it).
    const obj = relative(process.cwd(), progObject('xdp_big'));
    const status = await main(['node', 'nfp-emu', 'bpftool', 'prog', 'load', obj, '/sys/fs/bpf/xdp_big', 'offload_dev', 'nfp0'], {
      stdout: sink((s) => { stdout += s; }), stderr: sink((s) => { stderr += s; }),
    });
    expect(status).toBe(255);
    expect(stdout).toBe('');
    const err = stderr.split('\n');
    const at = err.indexOf("libbpf: prog 'xdp_big': BPF program load failed: No space left on device");
    expect(at).toBeGreaterThanOrEqual(0);
    // The verifier passed it (its log is the statistics line only); the JIT did not.
    expect(err.slice(at + 1, at + 7)).toEqual([
      "libbpf: prog 'xdp_big': -- BEGIN PROG LOAD LOG --",
      expect.stringMatching(/^processed \d+ insns \(limit 1000000\) max_states_per_insn \d+ total_states \d+ peak_states \d+ mark_read \d+$/),
      '-- END PROG LOAD LOG --',
      "libbpf: prog 'xdp_big': failed to load: -28",
      `libbpf: failed to load object '${obj}'`,
      'Error: failed to load object file',
    ]);
    expect(stderr).not.toContain('[nfp]');
  });
});

describe('xdp_big on a test image with a 16k-instruction code store', () => {
  let big: TestHost;
  let nic: NicDatapath;
  beforeAll(async () => {
    const fw = imageVariant('nfp-bpf-60c', (doc) => {
      doc['name'] = 'nfp-bpf-16k';
      (doc['datapath'] as Record<string, unknown>)['code_store_insns'] = 16384;
      ((doc['vnic'] as Record<string, unknown>)['bpf'] as Record<string, unknown>)['max_len'] = 16384 - 256;
    });
    big = await bootHost({ firmware: fw });
    const offdev = big.nfp!.bpf!.bpf_dev;
    if (offdev.ops === null) Object.assign(offdev, { ops: nfp_bpf_dev_ops });
    nic = (await startNicDatapath(big, { mode: 'in-process' }))!;
  });
  afterAll(async () => {
    await nic?.stop();
    await big?.shutdown();
    removeImageVariants();
  });

  it('translates in full to more NFP instructions than the production BPF_MAX_LEN, and runs on the card as on the host', async () => {
    const lo = await loadObjectIntoKernelAsync(big.sys, bigObject(), { ifindex: big.ifindex });
    const fd = lo.programs.find((p) => p.spec.name === 'xdp_big')!.fd;
    const hits = lo.maps.find((m) => m.spec.name === 'rule_hits')!.fd;
    expect(big.sys.progInfo(fd).ifindex).toBe(big.ifindex);
    const nfpInsns = big.sys.progInfo(fd).jited_prog_len / 8;
    console.log(`xdp_big: ${nfpInsns} NFP instructions (production BPF_MAX_LEN ${maxLen})`);
    expect(nfpInsns).toBeGreaterThan(maxLen);
    // Attached in HW mode: the image goes into the code store and the card's cores run it.
    await rtnl_setlink_xdp(big.kernel, big.kernel.netdevs.dev_get_by_name('nfp0')!, { fd, flags: XDP_FLAGS_HW_MODE });
    const frames = bigFrames();
    const results = await nic.pool.run(frames.map((f) => f.frame));
    for (const [n, f] of frames.entries()) {
      const want = f.counted === undefined ? XDP_PASS : bigVerdict(f.counted.saddr, f.counted.dport).action;
      expect(results[n]!.status, `frame ${n}`).toBe('ok');
      expect(results[n]!.verdict, `frame ${n}`).toBe(want === XDP_DROP ? 'XDP_DROP' : 'XDP_PASS');
    }
    expect(await readHits(big, hits)).toEqual(expectedHits(frames));
  });
});
