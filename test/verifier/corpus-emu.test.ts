// The verifier corpus on nfp-emu: every case through BpfSyscall.progLoad (log_level 1), held to what
// the real kernel said (the case headers, checked by corpus-kernel.test.ts).
//
// One rule is hard: nfp-emu must never accept a program the kernel rejects - that is the verifier's
// whole purpose. The only exceptions are the cases in KNOWN_UNVERIFIED, each with the check that is
// still missing; the list may only shrink, and an entry the emulator now rejects must be removed.
// Everything else is a scoreboard: how many cases get the kernel's verdict (same accept/reject, same
// errno) and how many logs contain the kernel's line, asserted against FLOOR. When the verifier gets
// better, raise FLOOR to the printed numbers so it cannot silently get worse again.

import { beforeAll, describe, expect, it } from 'vitest';
import { describeLog, describeVerdict, listCases, runOnEmu, type CorpusCase, type EmuVerdict } from './corpus.js';

/** The scoreboard's floor. Raise it to the printed numbers when the verifier improves. */
const FLOOR = {
  /** Cases where nfp-emu accepts what the kernel accepts and rejects with the kernel's errno what it rejects. */
  sameVerdict: 336,
  /** Cases whose log holds every expected line (an accepted C case has none and counts). */
  logMatched: 336,
} as const;

/**
 * Cases the kernel rejects and nfp-emu still accepts, with the check nfp-emu lacks. The verifier
 * engineer empties this list; nothing may be added to it to make the test pass.
 */
const KNOWN_UNVERIFIED: Readonly<Record<string, string>> = {};

/** Wall-clock budget of one case; a verifier that needs longer is counted as giving no verdict. */
const EMU_CASE_BUDGET_MS = 10_000;

const cases = listCases();
const byId = new Map(cases.map((c) => [c.id, c]));

function sameVerdict(c: CorpusCase, v: EmuVerdict): boolean {
  if (c.expect.accept) return v.outcome === 'accept';
  return v.outcome === 'reject' && v.errno === c.expect.errno;
}

const logMatched = (v: EmuVerdict): boolean => v.logMatched.every(Boolean) && v.outcome !== 'timeout' && v.outcome !== 'crash';

function got(v: EmuVerdict): string {
  if (v.outcome === 'reject') return `reject ${v.errno ?? '?'}`;
  return v.outcome;
}

describe('verifier corpus on nfp-emu (BpfSyscall.progLoad, log_level 1)', () => {
  let results: Map<string, EmuVerdict>;

  beforeAll(async () => {
    results = await runOnEmu(cases, EMU_CASE_BUDGET_MS);
  }, 30 * 60_000);

  it('never accepts a program the kernel rejects (outside KNOWN_UNVERIFIED)', () => {
    const unsafe = cases.filter((c) => !c.expect.accept && results.get(c.id)?.outcome === 'accept' && !(c.id in KNOWN_UNVERIFIED));
    const lines = unsafe.map((c) => `  ${c.id}: the kernel says ${describeVerdict(c.expect)} (${c.title})`);
    expect(unsafe.map((c) => c.id), `nfp-emu accepted programs the kernel rejects:\n${lines.join('\n')}`).toEqual([]);
  });

  it('KNOWN_UNVERIFIED names only rejected cases that nfp-emu still accepts', () => {
    const stale: string[] = [];
    for (const [id, reason] of Object.entries(KNOWN_UNVERIFIED)) {
      const c = byId.get(id);
      if (c === undefined) stale.push(`${id}: no such case`);
      else if (c.expect.accept) stale.push(`${id}: the kernel accepts it; it does not belong here`);
      else if (results.get(id)?.outcome !== 'accept') stale.push(`${id}: nfp-emu now gives ${got(results.get(id)!)} - remove it from KNOWN_UNVERIFIED`);
      if (reason.trim() === '') stale.push(`${id}: no reason given`);
    }
    expect(stale, stale.join('\n')).toEqual([]);
  });

  it('scoreboard: same verdict and log line at or above FLOOR', () => {
    let same = 0;
    let logs = 0;
    const rows: string[] = [];
    const slow: string[] = [];
    for (const c of cases) {
      const v = results.get(c.id)!;
      const s = sameVerdict(c, v);
      const l = logMatched(v);
      if (s) same++;
      if (l) logs++;
      if (v.ms > 1000) slow.push(`${c.id} ${Math.round(v.ms)} ms`);
      if (s && l) continue;
      const missing = c.log.filter((_, i) => !v.logMatched[i]).map(describeLog);
      const detail = s ? `log lacks ${missing.join(', ')}` : `want ${describeVerdict(c.expect)}, got ${got(v)}`;
      rows.push(`  ${s ? 'log    ' : 'VERDICT'} ${c.id}: ${detail}${v.reasons.length > 0 ? ` | ${v.reasons.join(' / ')}` : ''}`);
    }
    const n = cases.length;
    console.log(
      [
        `verifier corpus on nfp-emu: ${same}/${n} same verdict, ${logs}/${n} log line matched (floor ${FLOOR.sameVerdict} / ${FLOOR.logMatched})`,
        ...rows,
        ...(slow.length > 0 ? [`  slow (over 1 s): ${slow.join(', ')}`] : []),
      ].join('\n'),
    );
    expect(same, `same verdict fell below FLOOR.sameVerdict`).toBeGreaterThanOrEqual(FLOOR.sameVerdict);
    expect(logs, `log lines matched fell below FLOOR.logMatched`).toBeGreaterThanOrEqual(FLOOR.logMatched);
  });
});
