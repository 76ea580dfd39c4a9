// Hostile input: truncated and randomly mutated copies of real objects, and crafted bombs, must load
// or fail with BpfError EINVAL — never another exception, never a hang.
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseElf, SHF_EXECINSTR, SHT_PROGBITS, SHT_REL, STB_GLOBAL, STB_LOCAL, STT_FUNC, STT_SECTION, R_BPF_64_32 } from '../../src/bpf/elf.js';
import { isBpfError } from '../../src/bpf/errno.js';
import { encode, insn } from '../../src/bpf/insn.js';
import { loadObject } from '../../src/bpf/object.js';
import { BPF_CALL, BPF_EXIT, BPF_JMP, BPF_PSEUDO_CALL } from '../../src/bpf/opcodes.js';
import { buildElf, rels } from './fixtures/elf-build.js';

const XDP = '/usr/lib/x86_64-linux-gnu/bpf';
const SEEDS = [
  'test/bpf/fixtures/btf_maps.o',
  'test/bpf/fixtures/subprogs.o',
  'test/bpf/fixtures/kconfig.o',
  'test/bpf/fixtures/legacy_maps.o',
  ...[`${XDP}/xdp-dispatcher.o`, `${XDP}/xdpfilt_alw_all.o`].filter(existsSync),
];

/** Outcome of one load: 'ok', 'EINVAL', or the unexpected exception. */
function attempt(bytes: Uint8Array): { result: 'ok' | 'EINVAL' | 'bad'; err?: unknown } {
  try {
    loadObject(bytes, 'fuzz.o');
    return { result: 'ok' };
  } catch (e) {
    return isBpfError(e, 'EINVAL') ? { result: 'EINVAL' } : { result: 'bad', err: e };
  }
}

/** mulberry32: a small deterministic PRNG, so every run mutates the same way. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Run loads, return the worst time and the first unexpected exception (with what caused it). */
function campaign(cases: Iterable<[string, Uint8Array]>): { n: number; worstMs: number; counts: Record<string, number>; bad?: string } {
  let n = 0;
  let worstMs = 0;
  const counts: Record<string, number> = { ok: 0, EINVAL: 0, bad: 0 };
  let bad: string | undefined;
  for (const [what, bytes] of cases) {
    const t0 = performance.now();
    const r = attempt(bytes);
    worstMs = Math.max(worstMs, performance.now() - t0);
    counts[r.result]!++;
    n++;
    if (r.result === 'bad' && bad === undefined) bad = `${what}: ${(r.err as Error)?.stack ?? String(r.err)}`;
  }
  return { n, worstMs, counts, ...(bad !== undefined ? { bad } : {}) };
}

describe('truncated copies', () => {
  it.each(SEEDS)('%s: every prefix length', (path) => {
    const full = new Uint8Array(readFileSync(path));
    function* prefixes(): Generator<[string, Uint8Array]> {
      for (let len = 0; len < full.length; len++) yield [`length ${len}`, full.slice(0, len)];
    }
    const r = campaign(prefixes());
    expect(r.bad).toBeUndefined();
    expect(r.counts.ok).toBe(0);
    expect(r.worstMs).toBeLessThan(500);
  });

  it.each(SEEDS)('%s: the section header table kept, section bytes cut off (zeroed tail)', (path) => {
    const full = new Uint8Array(readFileSync(path));
    const shoff = Number(new DataView(full.buffer).getBigUint64(40, true));
    function* zeroed(): Generator<[string, Uint8Array]> {
      for (let from = 64; from < shoff; from += 8) {
        const c = full.slice();
        c.fill(0, from, shoff);
        yield [`zeroed from ${from}`, c];
      }
    }
    const r = campaign(zeroed());
    expect(r.bad).toBeUndefined();
    expect(r.worstMs).toBeLessThan(500);
  });
});

describe('randomly mutated copies (fixed seed)', () => {
  it.each(SEEDS)('%s: 600 mutants of 1 to 8 random bytes', (path) => {
    const full = new Uint8Array(readFileSync(path));
    const rand = rng(0x5eed ^ full.length);
    function* mutants(): Generator<[string, Uint8Array]> {
      for (let i = 0; i < 600; i++) {
        const c = full.slice();
        const k = 1 + Math.floor(rand() * 8);
        const where: number[] = [];
        for (let j = 0; j < k; j++) {
          const at = Math.floor(rand() * c.length);
          // Mostly random bytes; sometimes the extremes that overflow counts and offsets.
          const pick = rand();
          c[at] = pick < 0.2 ? 0xff : pick < 0.3 ? 0 : Math.floor(rand() * 256);
          where.push(at);
        }
        yield [`mutant ${i} at ${where.join(',')}`, c];
      }
    }
    const r = campaign(mutants());
    expect(r.bad).toBeUndefined();
    expect(r.counts.EINVAL).toBeGreaterThan(0);
    expect(r.worstMs).toBeLessThan(500);
  });

  it.each(SEEDS)('%s: 400 mutants with random 32-bit words in the header tables, symbols and relocations', (path) => {
    const full = new Uint8Array(readFileSync(path));
    const shoff = Number(new DataView(full.buffer).getBigUint64(40, true));
    const rand = rng(0xbad ^ full.length);
    function* mutants(): Generator<[string, Uint8Array]> {
      for (let i = 0; i < 400; i++) {
        const c = full.slice();
        const dv = new DataView(c.buffer);
        // Half in the section header table, half anywhere word-aligned.
        const at = rand() < 0.5 ? shoff + 4 * Math.floor(rand() * ((c.length - shoff) / 4)) : 4 * Math.floor(rand() * (c.length / 4 - 1));
        const v = [0xffff_ffff, 0x8000_0000, 0x7fff_ffff, Math.floor(rand() * 0x1_0000_0000), Math.floor(rand() * 64)][Math.floor(rand() * 5)]!;
        if (at + 4 <= c.length) dv.setUint32(at, v >>> 0, true);
        yield [`word ${v} at ${at}`, c];
      }
    }
    const r = campaign(mutants());
    expect(r.bad).toBeUndefined();
    expect(r.worstMs).toBeLessThan(500);
  });
});

describe('mutations aimed at what the loader interprets (fixed seed)', () => {
  it.each(SEEDS)('%s: 300 mutants inside .BTF, .BTF.ext, .maps, maps, .symtab, .data, .rodata and relocation tables', (path) => {
    const full = new Uint8Array(readFileSync(path));
    const elf = parseElf(full);
    const spans = elf.sections
      .filter((s) => ['.BTF', '.BTF.ext', '.maps', 'maps', '.symtab', '.data', '.rodata'].includes(s.name) || (s.name.startsWith('.rel') && !s.name.includes('debug')))
      .filter((s) => s.data.length >= 4);
    const rand = rng(0xf0c5 ^ full.length);
    function* mutants(): Generator<[string, Uint8Array]> {
      for (let i = 0; i < 300; i++) {
        const c = full.slice();
        const where: string[] = [];
        for (let j = 1 + Math.floor(rand() * 3); j > 0; j--) {
          const sec = spans[Math.floor(rand() * spans.length)]!;
          const at = sec.offset + 4 * Math.floor(rand() * (sec.data.length / 4));
          const v = [0xffff_ffff, 0x8000_0000, 0, Math.floor(rand() * 100), Math.floor(rand() * 0x1_0000_0000)][Math.floor(rand() * 5)]!;
          new DataView(c.buffer).setUint32(at, v >>> 0, true);
          where.push(`${sec.name}+${at - sec.offset}=${v}`);
        }
        yield [`mutant ${i}: ${where.join(' ')}`, c];
      }
    }
    const r = campaign(mutants());
    expect(r.bad).toBeUndefined();
    expect(r.counts.EINVAL).toBeGreaterThan(0);
    expect(r.worstMs).toBeLessThan(500);
  });
});

describe('crafted objects', () => {
  const CALL = BPF_JMP | BPF_CALL;
  const EXIT = BPF_JMP | BPF_EXIT;

  it('a long chain of sub-programs (each calls the next) relocates without exhausting the stack', () => {
    // 20000 .text functions of 2 instructions: call next; exit. Same-section calls need no relocation.
    const n = 20_000;
    const text = new Uint8Array(n * 16);
    for (let i = 0; i < n; i++) {
      const last = i === n - 1;
      text.set(encode([last ? insn(0xb7, 0, 0, 0, 0) : insn(CALL, 0, BPF_PSEUDO_CALL, 0, 1), insn(EXIT)]), i * 16);
    }
    const main = encode([insn(CALL, 0, BPF_PSEUDO_CALL, 0, -1), insn(EXIT)]);
    const syms = [
      { name: 'main', shndx: 2, size: 16, bind: STB_GLOBAL, type: STT_FUNC },
      ...Array.from({ length: n }, (_, i) => ({ name: `f${i}`, shndx: 1, value: i * 16, size: 16, bind: STB_LOCAL, type: STT_FUNC })),
      { name: '', shndx: 1, bind: STB_LOCAL, type: STT_SECTION },
    ];
    const bytes = buildElf([
      { name: '.text', type: SHT_PROGBITS, flags: SHF_EXECINSTR, data: text },
      { name: 'xdp', type: SHT_PROGBITS, flags: SHF_EXECINSTR, data: main },
      { name: '.relxdp', type: SHT_REL, data: rels([{ offset: 0, sym: n + 2, type: R_BPF_64_32 }]), link: 4, info: 2 },
      { name: 'license', type: SHT_PROGBITS, data: new TextEncoder().encode('GPL\0') },
    ], syms);
    const t0 = performance.now();
    const obj = loadObject(bytes, 'chain.o');
    expect(performance.now() - t0).toBeLessThan(5000);
    const p = obj.programs[0]!;
    expect(p.subprogs.length).toBe(n);
    expect(p.insns.length).toBe(2 + 2 * n);
    // The last call lands on the last function.
    expect(p.subprogs[n - 1]!.name).toBe(`f${n - 1}`);
  });

  it('many programs each pulling in a large .text stop at the expansion limit with EINVAL', () => {
    const textInsns = 60_000;
    const text = encode([...Array.from({ length: textInsns - 1 }, () => insn(0xb7, 0, 0, 0, 1)), insn(EXIT)]);
    const progs = 100;
    const xdp = encode(Array.from({ length: progs }, () => [insn(CALL, 0, BPF_PSEUDO_CALL, 0, -1), insn(EXIT)]).flat());
    const syms = [
      { name: 'big', shndx: 1, size: textInsns * 8, bind: STB_GLOBAL, type: STT_FUNC },
      ...Array.from({ length: progs }, (_, i) => ({ name: `p${i}`, shndx: 2, value: i * 16, size: 16, bind: STB_GLOBAL, type: STT_FUNC })),
    ];
    const bytes = buildElf([
      { name: '.text', type: SHT_PROGBITS, flags: SHF_EXECINSTR, data: text },
      { name: 'xdp', type: SHT_PROGBITS, flags: SHF_EXECINSTR, data: xdp },
      { name: '.relxdp', type: SHT_REL, data: rels(Array.from({ length: progs }, (_, i) => ({ offset: i * 16, sym: 1, type: R_BPF_64_32 }))), link: 4, info: 2 },
    ], syms);
    const t0 = performance.now();
    let err: unknown;
    try {
      loadObject(bytes, 'bomb.o');
    } catch (e) {
      err = e;
    }
    expect(isBpfError(err, 'EINVAL'), String(err)).toBe(true);
    expect((err as Error).message).toMatch(/expands to more than/);
    expect(performance.now() - t0).toBeLessThan(10_000);
  });
});
