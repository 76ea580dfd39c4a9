// The full verifier on the project's test programs: every program the kernel accepts is accepted, with
// no more than the kernel's complexity limit; the negative programs are refused with the kernel's line.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isBpfError } from '../../src/bpf/errno.js';
import { loadObject } from '../../src/bpf/object.js';
import { Kernel } from '../../src/kernel/kernel.js';
import { BpfSyscall } from '../../src/kernel/syscall.js';
import { loadObjectIntoKernel, ProgLoadError } from '../../src/libbpf/object.js';
import { progObject } from '../oracle/kernel.js';
import { NEGATIVE_OBJECTS, TEST_OBJECTS } from '../oracle/programs.js';

function load(name: string) {
  const k = new Kernel({ verifier: 'full' });
  const sys = new BpfSyscall(k);
  const path = progObject(name);
  return loadObjectIntoKernel(sys, loadObject(readFileSync(path), path), { logLevel: 1 });
}

describe('the verifier on test/progs', () => {
  for (const obj of TEST_OBJECTS) {
    it(`accepts ${obj.name}`, () => {
      try {
        const loaded = load(obj.name);
        expect(loaded.programs.map((p) => p.spec.name).sort()).toEqual([...obj.progs].sort());
      } catch (e) {
        if (e instanceof ProgLoadError) throw new Error(`${e.prog}: ${e.message}\n${e.log.split('\n').slice(-12).join('\n')}`);
        throw e;
      }
    });
  }
  for (const neg of NEGATIVE_OBJECTS) {
    it(`refuses ${neg.name} with ${neg.errno}: ${neg.logIncludes}`, () => {
      let err: unknown;
      try {
        load(neg.name);
      } catch (e) {
        err = e;
      }
      expect(isBpfError(err)).toBe(true);
      expect((err as ProgLoadError).errno).toBe(neg.errno);
      expect((err as ProgLoadError).log).toContain(neg.logIncludes);
    });
  }
});
