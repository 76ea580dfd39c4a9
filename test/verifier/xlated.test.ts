// The xlated program (after the verifier's rewrites) against the kernel's: same length, and the same
// instructions as `bpftool prog dump xlated` prints them, map ids and kernel call offsets aside.
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { disassemble, xlatedImmName } from '../../src/bpf/disasm.js';
import { decodeRaw } from '../../src/bpf/insn.js';
import { loadObject } from '../../src/bpf/object.js';
import { Kernel } from '../../src/kernel/kernel.js';
import { BpfSyscall } from '../../src/kernel/syscall.js';
import { loadObjectIntoKernel } from '../../src/libbpf/object.js';
import { KernelOracle, kernelSkipReason, progObject } from '../oracle/kernel.js';
import { TEST_OBJECTS } from '../oracle/programs.js';

const skip = kernelSkipReason();
/** Map ids and kernel call offsets differ between any two loads; the instruction around them must not. */
const normalise = (line: string): string => line.replace(/map\[id:\d+\]/g, 'map[id:N]').replace(/#-?\d+/g, '#N');

describe.skipIf(skip !== '')(`xlated programs equal the kernel's${skip === '' ? '' : ` (skipped: ${skip})`}`, () => {
  const oracle = skip === '' ? new KernelOracle() : undefined;
  afterAll(() => oracle?.cleanup());
  for (const obj of TEST_OBJECTS) {
    it(obj.name, () => {
      const k = new Kernel();
      const sys = new BpfSyscall(k);
      const path = progObject(obj.name);
      const ours = loadObjectIntoKernel(sys, loadObject(readFileSync(path), path));
      const theirs = oracle!.load(path);
      for (const p of ours.programs) {
        const kernelBytes = oracle!.xlated(theirs.progs[p.spec.name]!);
        const theirText = disassemble(decodeRaw(kernelBytes), { flavour: 'kernel', immName: xlatedImmName }).map(normalise);
        const ourText = disassemble(sys.progXlated(p.fd) as never, { flavour: 'kernel', immName: xlatedImmName }).map(normalise);
        expect(ourText, p.spec.name).toEqual(theirText);
        expect(sys.progInfo(p.fd).xlated_prog_len, `${p.spec.name} xlated length`).toBe(kernelBytes.length);
      }
    });
  }
});
