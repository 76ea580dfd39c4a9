// Soundness fuzzing of the verifier (issue 4), the bounded run: generated XDP programs (fuzz/gen.ts)
// go through BPF_PROG_LOAD, and every accepted one runs on the checked interpreter over many packets
// with each memory access held to what the verifier may allow (fuzz/sanitizer.ts). A failure that no
// entry of KNOWN_BUGS explains fails the test. `npm run fuzz` is the long run.
//
// The sanitizer is itself tested first: with the verifier switched off, the programs it must catch
// are caught, and a clean program runs clean.

import { describe, expect, it } from 'vitest';
import { assemble } from '../../src/bpf/asm.js';
import { FuzzHost, formatFailure, formatStats, fuzzRange, newStats, type Failure } from './fuzz/runner.js';
import { FIXED_BUGS, KNOWN_BUGS, knownBugOf } from './fuzz/known-bugs.js';

/** Seeds of the bounded run: fixed, so a failure here reproduces with `npm run fuzz -- --seed N`. */
const FIRST_SEED = 1;
const PROGRAMS = 3000;
const PACKETS = 8;

function runAsm(host: FuzzHost, text: string, lengths: readonly number[], meta = 0): { accepted: boolean; failures: Failure[] } {
  const insns = assemble(text);
  const r = host.load(insns);
  if (!r.ok) return { accepted: false, failures: [] };
  try {
    const failures: Failure[] = [];
    for (const len of lengths) {
      const f = host.run(0, r.prog, { bytes: new Uint8Array(len + meta).fill(0x11), meta }, insns);
      if (f !== undefined) failures.push(f);
    }
    return { accepted: true, failures };
  } finally {
    host.close(r.fd);
  }
}

describe('the sanitizer, on programs the verifier did not check', () => {
  const host = new FuzzHost({ verifier: 'structural' });

  it('catches a read of the tailroom just past data_end', () => {
    const { failures } = runAsm(host, `
r2 = *(u32 *)(r1 + 0)
r3 = *(u32 *)(r1 + 4)
r0 = *(u8 *)(r3 + 0)
exit`, [14, 60]);
    expect(failures.map((f) => f.kind)).toEqual(['packet', 'packet']);
    expect(failures[0]!.message).toMatch(/outside \[data_meta \d+, data_end \d+\)/);
  });

  it('catches a read of the headroom just before data, and lets the metadata be read', () => {
    const before = runAsm(host, 'r2 = *(u32 *)(r1 + 0)\nr0 = *(u8 *)(r2 - 1)\nexit', [64]);
    expect(before.failures.map((f) => f.kind)).toEqual(['packet']);
    const meta = runAsm(host, 'r2 = *(u32 *)(r1 + 0)\nr0 = *(u8 *)(r2 - 1)\nexit', [64], 8);
    expect(meta.failures).toEqual([]);
  });

  it('catches a stack access above r10, below the frame, and across frames in a call', () => {
    expect(runAsm(host, '*(u64 *)(r10 + 0) = 1\nr0 = 0\nexit', [14]).failures.map((f) => f.kind)).toEqual(['stack']);
    expect(runAsm(host, '*(u8 *)(r10 - 513) = 1\nr0 = 0\nexit', [14]).failures.map((f) => f.kind)).toEqual(['stack']);
    // The callee reads 8 bytes at its r10 - 4: half in its frame, half in the caller's.
    const across = runAsm(host, `
call pc+2
r0 = 0
exit
r0 = *(u64 *)(r10 - 4)
exit`, [14]);
    expect(across.failures.map((f) => f.kind)).toEqual(['stack']);
    // A callee may read its caller's frame through a pointer the caller passed.
    const passed = runAsm(host, `
*(u64 *)(r10 - 8) = 5
r1 = r10
r1 += -8
call pc+1
exit
r0 = *(u64 *)(r1 + 0)
exit`, [14]);
    expect(passed.failures).toEqual([]);
  });

  it('catches map value accesses into the padding, the next element, and elements never handed out', () => {
    const lookup = (then: string): string => `
*(u32 *)(r10 - 4) = 1
r2 = r10
r2 += -4
ld_pseudo r1, 5, 0
call 1
if r0 == 0 goto out
${then}
out:
r0 = 2
exit`;
    expect(runAsm(host, lookup('r0 = *(u32 *)(r0 + 8)\nexit'), [14]).failures).toEqual([]);
    expect(runAsm(host, lookup('r0 = *(u32 *)(r0 + 12)\nexit'), [14]).failures.map((f) => f.kind)).toEqual(['map_value']);
    expect(runAsm(host, lookup('r0 = *(u32 *)(r0 + 16)\nexit'), [14]).failures.map((f) => f.kind)).toEqual(['map_value']);
    expect(runAsm(host, lookup('r0 = *(u64 *)(r0 + 8)\nexit'), [14]).failures.map((f) => f.kind)).toEqual(['map_value']);
  });

  it('catches ctx loads the verifier would refuse, and helper arguments past their memory', () => {
    expect(runAsm(host, 'r0 = *(u16 *)(r1 + 0)\nexit', [14]).failures.map((f) => f.kind)).toEqual(['ctx']);
    expect(runAsm(host, 'r0 = *(u32 *)(r1 + 20)\nexit', [14]).failures.map((f) => f.kind)).toEqual(['ctx']);
    const csum = runAsm(host, `
r1 = *(u32 *)(r1 + 0)
r2 = 64
r3 = 0
r4 = 0
r5 = 0
call 28
exit`, [14, 64, 100]);
    // 64 bytes from data: past data_end of the 14-byte packet only.
    expect(csum.failures.map((f) => f.kind)).toEqual(['packet']);
    expect(csum.failures[0]!.message).toContain('bpf_csum_diff r1 read of 64 bytes');
  });
});

describe('soundness fuzzing of the verifier (bounded run)', () => {
  it(`${PROGRAMS} generated programs: every access of every accepted one is allowed`, { timeout: 120_000 }, () => {
    const host = new FuzzHost();
    const t0 = Date.now();
    const stats = fuzzRange(host, FIRST_SEED, PROGRAMS, PACKETS, newStats());
    const known = new Map<string, number[]>();
    const unknown: Failure[] = [];
    for (const f of stats.failures) {
      const bug = knownBugOf(f.insns);
      if (bug === undefined) unknown.push(f);
      else known.set(bug.id, [...(known.get(bug.id) ?? []), f.seed]);
    }
    console.log(`[fuzz] ${formatStats(stats, Date.now() - t0)}`);
    for (const [id, seeds] of known) console.log(`[fuzz] known bug ${id}: ${seeds.length} programs (seeds ${seeds.slice(0, 10).join(', ')}${seeds.length > 10 ? ', ...' : ''})`);
    for (const f of unknown.slice(0, 3)) console.log(formatFailure(f));
    // The run must exercise the verifier from both sides: enough accepted programs, enough refused.
    expect(stats.accepted).toBeGreaterThan(PROGRAMS * 0.25);
    expect(stats.programs - stats.accepted).toBeGreaterThan(PROGRAMS * 0.25);
    expect(stats.runs).toBeGreaterThan(stats.accepted * (PACKETS - 1));
    expect(unknown.map((f) => `seed ${f.seed}: ${f.message.split('\n')[0]}`)).toEqual([]);
  });
});

describe('FIXED_BUGS: the fuzzer\'s reproducers of fixed bugs stay refused', () => {
  const host = new FuzzHost();
  for (const bug of FIXED_BUGS) {
    it(`${bug.id} (${bug.kind}): ${bug.title}`, () => {
      const r = runAsm(host, bug.reproducer, [14, 64, 1500]);
      expect(r.accepted, `${bug.id}: the verifier accepts the reproducer again`).toBe(false);
    });
  }
});

if (KNOWN_BUGS.length > 0) describe('KNOWN_BUGS: reported, not failing', () => {
  const host = new FuzzHost();
  for (const bug of KNOWN_BUGS) {
    it(`${bug.id} (${bug.kind}): ${bug.title}`, () => {
      const r = runAsm(host, bug.reproducer, [14, 64, 1500]);
      const insns = assemble(bug.reproducer);
      // The entry's own test recognises its reproducer, so fuzz failures are attributed to it (entries
      // attributed by the kernel's message alone have none).
      if (bug.byKernelReason !== true) expect(bug.matches(insns)).toBe(true);
      if (!r.accepted) console.log(`[fuzz] ${bug.id}: the verifier now refuses the reproducer: remove it from KNOWN_BUGS`);
      else if (bug.kind === 'divergence') console.log(`[fuzz] ${bug.id} (still present): accepted by nfp-emu, refused by the kernel`);
      else if (r.failures.length === 0) console.log(`[fuzz] ${bug.id}: the reproducer now runs clean: remove it from KNOWN_BUGS`);
      else console.log(`[fuzz] ${bug.id} (still present): ${r.failures[0]!.message}`);
      // A divergence is not a memory-safety failure in nfp-emu: its reproducer must run clean.
      if (bug.kind === 'divergence') expect(r.failures).toEqual([]);
    });
  }
});
