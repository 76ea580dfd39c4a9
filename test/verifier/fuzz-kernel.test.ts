// The fuzzer's programs against the machine's kernel (issue 4): the same generated programs go to
// nfp-emu's BPF_PROG_LOAD and to the real one (fuzz/kernel-verdict.c, raw bpf(2)), and the verdicts
// are compared. "The kernel refuses, nfp-emu accepts" is the dangerous direction: each such program
// must be explained by an entry of KNOWN_BUGS, or the test fails. The other direction (nfp-emu
// stricter than the kernel) is counted and printed, not failed.

import { describe, expect, it } from 'vitest';
import { FuzzHost, reasonClass } from './fuzz/runner.js';
import { generate } from './fuzz/gen.js';
import { knownDivergenceOf } from './fuzz/known-bugs.js';
import { kernelVerdicts, kernelVerdictTool } from './fuzz/oracle.js';

const FIRST_SEED = 1;
const SAMPLE = 1500;

const tool = kernelVerdictTool();
const skip = 'reason' in tool ? tool.reason : '';

describe.skipIf(skip !== '')(`verdicts of generated programs, nfp-emu vs the kernel${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it(`${SAMPLE} programs: every one the kernel refuses and nfp-emu accepts is a known bug`, { timeout: 120_000 }, () => {
    const host = new FuzzHost();
    const progs = Array.from({ length: SAMPLE }, (_, i) => generate(FIRST_SEED + i));
    const kernel = kernelVerdicts(progs.map((g) => g.insns));
    expect(kernel).toHaveLength(SAMPLE);
    let agreeAccept = 0;
    let agreeReject = 0;
    const emuStricter = new Map<string, number>();
    const known = new Map<string, number[]>();
    const unexplained: string[] = [];
    progs.forEach((g, i) => {
      const k = kernel[i]!;
      const r = host.load(g.insns);
      if (r.ok) host.close(r.fd);
      if (r.ok && k.ok) agreeAccept++;
      else if (!r.ok && !k.ok) agreeReject++;
      else if (!r.ok) {
        const c = reasonClass(r.errno, r.message);
        emuStricter.set(c, (emuStricter.get(c) ?? 0) + 1);
      } else if (!k.ok) {
        const bug = knownDivergenceOf(g.insns, k.reason, k.errno);
        if (bug === undefined) unexplained.push(`seed ${g.seed}: kernel ${k.errno} "${k.reason}"`);
        else known.set(bug.id, [...(known.get(bug.id) ?? []), g.seed]);
      }
    });
    const dangerous = [...known.values()].reduce((n, s) => n + s.length, 0) + unexplained.length;
    console.log(
      `[fuzz-kernel] ${SAMPLE} programs: both accept ${agreeAccept}, both refuse ${agreeReject}, ` +
        `kernel refuses but nfp-emu accepts ${dangerous}, nfp-emu refuses but the kernel accepts ${[...emuStricter.values()].reduce((a, b) => a + b, 0)}`,
    );
    for (const [id, seeds] of known) console.log(`[fuzz-kernel]   known bug ${id}: ${seeds.length} (seeds ${seeds.slice(0, 8).join(', ')}${seeds.length > 8 ? ', ...' : ''})`);
    for (const [c, n] of [...emuStricter].sort((a, b) => b[1] - a[1])) console.log(`[fuzz-kernel]   nfp-emu stricter: ${n}  ${c}`);
    // The comparison means something only if both verdicts occur often.
    expect(agreeAccept).toBeGreaterThan(SAMPLE * 0.2);
    expect(agreeReject).toBeGreaterThan(SAMPLE * 0.2);
    expect(unexplained).toEqual([]);
  });
});
