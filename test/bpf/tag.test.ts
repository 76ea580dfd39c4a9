// The program tag: what the running kernel reports for the same programs, and the rules of
// bpf_prog_calc_tag() (which immediates are left out of the digest).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { release } from 'node:os';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseElf } from '../../src/bpf/elf.js';
import { insn, type Insn } from '../../src/bpf/insn.js';
import { findProgram, loadObject, withMapFds } from '../../src/bpf/object.js';
import { BPF_DW, BPF_IMM, BPF_JMP, BPF_EXIT, BPF_LD, BPF_PSEUDO_FUNC, BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE } from '../../src/bpf/opcodes.js';
import { SEC_ATTACH_BTF } from '../../src/bpf/prog-types.js';
import { progTag, tagDigestForKernel, tagInput } from '../../src/bpf/tag.js';
import { kernelLoadAll, kernelLoadUnavailable, type KernelLoad } from './fixtures/bpftool.js';

const objectsIn = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.o')).sort().map((f) => `${dir}/${f}`) : []);
const REAL = [...objectsIn('/usr/lib/x86_64-linux-gnu/bpf'), ...objectsIn('test/bpf/fixtures'), ...objectsIn('test/progs')];

const LDDW = BPF_LD | BPF_IMM | BPF_DW;
const EXIT = BPF_JMP | BPF_EXIT;
const lddw = (dst: number, src: number, lo: number, hi: number): Insn[] => [insn(LDDW, dst, src, 0, lo), insn(0, 0, 0, 0, hi)];
const MOV64_IMM = 0xb7;

describe('bpf_prog_calc_tag() rules', () => {
  const prog = (src: number, lo: number, hi: number): Insn[] => [...lddw(1, src, lo, hi), insn(MOV64_IMM, 0, 0, 0, 2), insn(EXIT)];

  it('leaves the fd and the value offset of map lddw pairs out of the digest', () => {
    expect(progTag(prog(BPF_PSEUDO_MAP_FD, 3, 0))).toBe(progTag(prog(BPF_PSEUDO_MAP_FD, 99, 0)));
    expect(progTag(prog(BPF_PSEUDO_MAP_VALUE, 3, 16))).toBe(progTag(prog(BPF_PSEUDO_MAP_VALUE, 7, 40)));
    const bytes = tagInput(prog(BPF_PSEUDO_MAP_VALUE, 3, 16));
    expect([...bytes.subarray(4, 8), ...bytes.subarray(12, 16)]).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    expect(bytes[1]).toBe(0x21); // src_reg 2 (map value), dst_reg 1: kept
  });

  it('keeps the immediates of every other lddw', () => {
    expect(progTag(prog(0, 3, 0))).not.toBe(progTag(prog(0, 4, 0)));
    expect(progTag(prog(0, 3, 0))).not.toBe(progTag(prog(0, 3, 1)));
    expect(progTag(prog(BPF_PSEUDO_FUNC, 3, 0))).not.toBe(progTag(prog(BPF_PSEUDO_FUNC, 4, 0)));
  });

  it('zeroes the second slot only when it is well formed', () => {
    const bad = [insn(LDDW, 1, BPF_PSEUDO_MAP_FD, 0, 3), insn(0, 1, 0, 0, 5), insn(EXIT)];
    const bytes = tagInput(bad);
    expect(new DataView(bytes.buffer).getInt32(12, true)).toBe(5);
  });

  it('is 16 hex digits of SHA-256 (Linux >= 6.18) or SHA-1 (before)', () => {
    const p = prog(0, 1, 2);
    expect(progTag(p)).toMatch(/^[0-9a-f]{16}$/);
    expect(progTag(p, 'sha1')).toMatch(/^[0-9a-f]{16}$/);
    expect(progTag(p, 'sha1')).not.toBe(progTag(p, 'sha256'));
    expect(tagDigestForKernel(6, 17)).toBe('sha1');
    expect(tagDigestForKernel(6, 18)).toBe('sha256');
    expect(tagDigestForKernel(7, 0)).toBe('sha256');
    expect(tagDigestForKernel(5, 19)).toBe('sha1');
  });

  it('does not depend on the fds a loader substitutes', () => {
    const obj = loadObject(readFileSync('test/bpf/fixtures/btf_maps.o'), 'btf_maps.o');
    const p = findProgram(obj, 'xdp_first')!;
    expect(p.mapRelocs.length).toBeGreaterThan(0);
    expect(progTag(withMapFds(p, obj.maps.map((_, i) => 3 + i)))).toBe(progTag(p.insns));
    expect(progTag(withMapFds(p, obj.maps.map((_, i) => 50 + 2 * i)))).toBe(progTag(p.insns));
  });
});

const noKernel = kernelLoadUnavailable();
const [kmaj, kmin] = release().split('.').map(Number);
const digest = tagDigestForKernel(kmaj ?? 0, kmin ?? 0);

describe.skipIf(noKernel !== undefined)(`the running kernel's tags (${release()}, ${digest}) (skipped: ${noKernel})`, () => {
  const kernel = new Map<string, KernelLoad>();
  const loadable = (path: string): string | undefined => {
    const obj = loadObject(readFileSync(path), path);
    if (obj.programs.some((p) => (p.secDef?.flags ?? 0) & SEC_ATTACH_BTF)) return 'its programs attach to a BTF target given at run time';
    if (parseElf(readFileSync(path)).sections.some((s) => s.name === 'maps')) return 'libbpf >= 1.0 rejects legacy "maps" sections';
    return undefined;
  };
  beforeAll(() => {
    for (const path of REAL) if (loadable(path) === undefined) kernel.set(path, kernelLoadAll(path));
  }, 120_000);

  it.for(REAL)('%s: every program has the tag the kernel computes', (path, ctx) => {
    const why = loadable(path);
    if (why !== undefined) return ctx.skip(why);
    const k = kernel.get(path)!;
    if (!k.ok && path.startsWith('test/progs/')) return ctx.skip(`the kernel refused another engineer's program: ${k.error.split('\n').slice(-3).join(' ')}`);
    if (!k.ok) throw new Error(k.error);
    const obj = loadObject(readFileSync(path), path);
    expect(k.progs.length).toBe(obj.programs.length);
    for (const kp of k.progs) expect(progTag(findProgram(obj, kp.pin)!.insns, digest), kp.pin).toBe(kp.tag);
  });
});
