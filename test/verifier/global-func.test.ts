// Global functions (BTF_FUNC_GLOBAL in func_info) are verified once, on their own, from their BTF
// prototype, whatever the callers pass - the kernel's do_check_subprogs. The corpus (c/global_func_*)
// holds the verdicts and log lines against the kernel; this checks what the corpus cannot see in an
// accepted program: how many times the function is walked, and what the callers are told.

import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadObject } from '../../src/bpf/object.js';
import { Kernel } from '../../src/kernel/kernel.js';
import { BpfSyscall, type ProgLoadAttr } from '../../src/kernel/syscall.js';
import { loadObjectIntoKernel } from '../../src/libbpf/object.js';

const C_DIR = path.join(path.dirname(new URL(import.meta.url).pathname), 'corpus', 'c');

/** Loads a corpus C object with the given log level and returns the verifier log of its program. */
function logOf(name: string, logLevel: number): string {
  const sys = new BpfSyscall(new Kernel({ cpus: 2, prandomSeed: 1 }));
  let log = '';
  const progLoad = sys.progLoad.bind(sys);
  sys.progLoad = (attr: ProgLoadAttr): number => {
    try {
      return progLoad(attr);
    } finally {
      log = attr.log_buf ?? '';
    }
  };
  const file = path.join(C_DIR, `${name}.o`);
  loadObjectIntoKernel(sys, loadObject(fs.readFileSync(file), file), { logLevel });
  return log;
}

const count = (text: string, what: string): number => text.split(what).length - 1;

describe('global functions', () => {
  it('a function called from two places with different arguments is walked once', () => {
    const log = logOf('global_func_called_twice', 2);
    expect(count(log, "Func#1 ('byte_at') is global and assumed valid.")).toBe(2);
    expect(count(log, 'Validating byte_at() func#1...')).toBe(1);
    expect(count(log, "Func#1 ('byte_at') is safe for any args that match its prototype")).toBe(1);
    // The walk of the function starts from its prototype: the context and an unknown scalar.
    expect(log).toMatch(/Validating byte_at\(\) func#1\.\.\.\n\d+: R1=ctx\(\) R2=scalar\(\) R10=fp0\n/);
  });

  it('the caller gets an unknown 64-bit scalar in R0, not what the function returns', () => {
    const log = logOf('global_func_called_twice', 2);
    const afterCall = /assumed valid\.\n(\d+): R0=scalar\(\)\n/.exec(log);
    expect(afterCall, log).not.toBeNull();
  });

  it('a level-1 log of an accepted program keeps only the last function line and the statistics', () => {
    const log = logOf('global_func_mem_checked', 1);
    expect(log.split('\n').filter((l) => l !== '')).toEqual([
      "Func#1 ('read_checked') is safe for any args that match its prototype",
      expect.stringMatching(/^processed \d+ insns \(limit 1000000\)/),
    ]);
  });

  it('a pointer argument is memory of the pointed size, NULL unless tagged arg:nonnull', () => {
    expect(logOf('global_func_mem_checked', 2)).toContain('R1=mem_or_null(id=2,sz=4)');
    expect(logOf('global_func_nonnull', 2)).toContain('R1=mem(sz=4)');
  });
});
