// The verifier log's source lines (verbose_linfo): before an instruction whose line_info record differs
// from the last one printed, "; <source line> @ <file>:<line>". Compared with the real kernel on the
// negative objects of test/progs, whose failed loads the kernel logs at level 1.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isBpfError } from '../../src/bpf/errno.js';
import { loadObject } from '../../src/bpf/object.js';
import { Kernel } from '../../src/kernel/kernel.js';
import { BpfSyscall } from '../../src/kernel/syscall.js';
import { ProgLoadError, loadObjectIntoKernel } from '../../src/libbpf/object.js';
import { KernelOracle, kernelSkipReason } from '../oracle/kernel.js';

const NEGATIVE = ['xdp_no_bounds_check', 'xdp_map_null'];
const objectPath = (name: string): string => new URL(`../progs/negative/${name}.o`, import.meta.url).pathname;

function emuLog(name: string): string {
  const sys = new BpfSyscall(new Kernel({ cpus: 1 }));
  const path = objectPath(name);
  try {
    loadObjectIntoKernel(sys, loadObject(readFileSync(path), path), { logLevel: 1 });
  } catch (e) {
    if (e instanceof ProgLoadError) return e.log;
    if (isBpfError(e)) throw new Error(`${name}: ${e.message}`);
    throw e;
  }
  throw new Error(`${name} loaded; it is a negative object`);
}

const sourceLines = (log: string): string[] => log.split('\n').filter((l) => l.startsWith('; '));

describe('verifier log source lines', () => {
  it.each(NEGATIVE)('%s: the log names the source line before the instructions', (name) => {
    const lines = sourceLines(emuLog(name));
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) expect(l).toMatch(new RegExp(`^; .* @ ${name}\\.c:\\d+$`));
    // Consecutive lines differ: a record is printed once until another one is.
    for (let i = 1; i < lines.length; i++) expect(lines[i]).not.toBe(lines[i - 1]);
  });

  const skip = kernelSkipReason();
  it.skipIf(skip !== '').each(NEGATIVE)(`%s: the same source lines as the kernel${skip !== '' ? ` (skipped: ${skip})` : ''}`, (name) => {
    const oracle = new KernelOracle();
    try {
      const attempt = oracle.tryLoad(objectPath(name));
      if (attempt.ok) throw new Error(`the kernel loaded ${name}`);
      expect(sourceLines(emuLog(name))).toEqual(sourceLines(attempt.log));
    } finally {
      oracle.cleanup();
    }
  });
});
