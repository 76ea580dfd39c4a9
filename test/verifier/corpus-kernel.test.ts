// Keeps the verifier corpus honest: every case goes to the machine's own kernel (kernel/bpf/verifier.c)
// and must get the verdict and the log line its header records. Assembly cases are loaded with a raw
// BPF_PROG_LOAD (corpus/kernel-load.c, the exact instructions nfp-emu gets); C cases with
// `bpftool prog loadall` on their committed object. Skipped, with the reason in the title, where the
// kernel cannot be asked or is of another series than the one the expectations came from.

import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { afterAll, describe, expect, it } from 'vitest';
import { KernelOracle, kernelSkipReason } from '../oracle/kernel.js';
import {
  KERNEL_OF_RECORD, describeLog, describeVerdict, kernelLoader, listCases, loadOnKernel, logMatches, reasonLines,
  type CorpusCase,
} from './corpus.js';

const cases = listCases();

/** `6.18.44-fc-v769` -> `6.18`. */
const series = (release: string): string => /^(\d+\.\d+)/.exec(release)?.[1] ?? release;

function versionSkip(): string {
  if (process.platform !== 'linux') return `not Linux (${process.platform})`;
  const running = os.release();
  if (series(running) !== series(KERNEL_OF_RECORD)) {
    return `the expectations come from Linux ${KERNEL_OF_RECORD}; this kernel is ${running}, whose verifier words things differently`;
  }
  return '';
}

/** Can kernel-load be built and does a trivial XDP program load through it? */
function rawLoadSkip(): string {
  const v = versionSkip();
  if (v !== '') return v;
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'not root: BPF_PROG_LOAD of XDP programs needs CAP_BPF + CAP_NET_ADMIN';
  const loader = kernelLoader();
  if ('reason' in loader) return loader.reason;
  // r0 = 2; exit
  const r = spawnSync(loader.bin, [], { input: 'prog 6 0 0 1 4096\ninsns b7000000020000009500000000000000\n', encoding: 'utf8' });
  if (r.status !== 0 || !r.stdout.startsWith('ok\n')) return `a trivial XDP program does not load: ${r.stdout.slice(0, 200)}${r.stderr.trim()}`;
  return '';
}

function bpftoolSkip(): string {
  return versionSkip() || kernelSkipReason();
}

function check(c: CorpusCase, oracle: KernelOracle): void {
  const k = loadOnKernel(c, oracle);
  const why = reasonLines(k.log).slice(0, 4).join('\n    ');
  expect(describeVerdict(k), `${c.id}: the kernel said\n    ${why}`).toBe(describeVerdict(c.expect));
  // libbpf shows no log for a program it loaded: nothing to compare for an accepted C case.
  if (c.kind === 'c' && k.accepted) return;
  for (const want of c.log) {
    expect(logMatches(want, k.log), `${c.id}: ${describeLog(want)} is not in the kernel's log:\n    ${why}`).toBe(true);
  }
}

const asmCases = cases.filter((c) => c.kind === 'asm');
const cCases = cases.filter((c) => c.kind === 'c');
const asmSkip = rawLoadSkip();
const cSkip = bpftoolSkip();

describe.skipIf(asmSkip !== '')(`assembly corpus on the kernel (raw BPF_PROG_LOAD)${asmSkip ? ` - skipped: ${asmSkip}` : ''}`, () => {
  const oracle = new KernelOracle();
  afterAll(() => oracle.cleanup());
  it.each(asmCases.map((c) => [c.id, c] as const))('%s', (_id, c) => check(c, oracle), 120_000);
});

describe.skipIf(cSkip !== '')(`C corpus on the kernel (bpftool prog loadall)${cSkip ? ` - skipped: ${cSkip}` : ''}`, () => {
  const oracle = new KernelOracle();
  afterAll(() => oracle.cleanup());
  it.each(cCases.map((c) => [c.id, c] as const))('%s', (_id, c) => check(c, oracle), 120_000);
});
