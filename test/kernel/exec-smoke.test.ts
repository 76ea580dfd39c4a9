import { expect, it } from 'vitest';
import { insn } from '../../src/bpf/insn.js';
import { AddressSpace } from '../../src/kernel/exec/memory.js';
import { ExecContext } from '../../src/kernel/exec/context.js';
import { interpret } from '../../src/kernel/exec/interpreter.js';
import { jitCompile } from '../../src/kernel/exec/jit.js';

it('smoke: sum loop on interpreter and JIT', () => {
  // r0 = 0; r1 = 10; loop: r0 += r1; r1 -= 1; if r1 != 0 goto loop; exit
  const insns = [insn(0xb7, 0, 0, 0, 0), insn(0xb7, 1, 0, 0, 10), insn(0x0f, 0, 1), insn(0x17, 1, 0, 0, 1), insn(0x55, 1, 0, -3, 0), insn(0x95)];
  const env = { mem: new AddressSpace(), helpers: [] };
  const x = new ExecContext(env);
  interpret({ insns, name: 't' }, x, 0, 0);
  expect(x.R[0]).toBe(55);
  const j = jitCompile({ insns, name: 't' }, env);
  x.R[0] = 0;
  j.run(x, 0, 0);
  expect(x.R[0]).toBe(55);
});
