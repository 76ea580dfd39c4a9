// The bpf_conformance suite (../shared/conformance) on the interpreter and the JIT: every program gives
// its expected r0, and every file of the negative folder is refused.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { judge, loadConformanceDir, runConformance, type Engine } from '../../src/kernel/exec/conformance.js';

const SUITE = join(import.meta.dirname, '../../../shared/conformance');
const present = existsSync(join(SUITE, 'tests'));

/** Negative files that only a verifier can refuse; the conformance runner executes without one. */
const NEEDS_VERIFIER: Record<string, string> = {
  error: 'reads r0 before writing it: the verifier says "R0 !read_ok" (issue 4); the bare ISA runs it',
};

describe.skipIf(!present)(`bpf_conformance${present ? '' : ` (skipped: ${SUITE} is not on this machine)`}`, () => {
  const cases = present ? loadConformanceDir(join(SUITE, 'tests')) : [];
  const negative = present ? loadConformanceDir(join(SUITE, 'negative')) : [];

  for (const engine of ['interpreter', 'jit'] as Engine[]) {
    it(`passes all ${cases.length} tests on the ${engine}`, () => {
      expect(cases.length).toBeGreaterThanOrEqual(313);
      const failed = cases.map((c) => judge(c, runConformance(c, engine))).filter((v) => !v.pass);
      expect(failed.map((v) => `${v.name}: ${v.detail}`)).toEqual([]);
    });

    it(`refuses the negative files on the ${engine} (skipped, needing the verifier: ${Object.keys(NEEDS_VERIFIER).join(', ')})`, () => {
      const accepted = negative.filter((c) => !(c.name in NEEDS_VERIFIER))
        .map((c) => judge(c, runConformance(c, engine), true)).filter((v) => !v.pass);
      expect(accepted.map((v) => `${v.name}: ${v.detail}`)).toEqual([]);
    });
  }
});
