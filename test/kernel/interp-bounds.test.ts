// The interpreter's control never leaves its decoded program: falling off the end, a jump or a
// bpf-to-bpf call to a target outside the program, and a computed callx target outside it all fault
// with "insn <target>: jump out of range", after counting the instructions run; a budget stops a loop
// at exactly the instruction past it. (interpreter.ts aims such targets at sentinel slots instead of
// checking the pc on every instruction.)

import { describe, expect, it } from 'vitest';
import { insn, type Insn } from '../../src/bpf/insn.js';
import { ExecContext } from '../../src/kernel/exec/context.js';
import { interpret } from '../../src/kernel/exec/interpreter.js';
import { AddressSpace } from '../../src/kernel/exec/memory.js';

const MOV_K = 0xb7, ADD_K = 0x07, JA = 0x05, JEQ_K = 0x15, JNE_K = 0x55, JMP32_JA = 0x06, CALL = 0x85, CALLX = 0x8d, EXIT = 0x95, LDDW = 0x18;

/** Run on a fresh CPU: the fault's message (or undefined) and the instructions counted. */
function run(insns: Insn[] | ((mem: AddressSpace) => Insn[]), maxInsns?: number): { error: string | undefined; r0: number; count: number } {
  const mem = new AddressSpace();
  const x = new ExecContext({ mem, helpers: [] });
  if (typeof insns === 'function') insns = insns(mem);
  let error: string | undefined;
  try {
    interpret({ insns, name: 't' }, x, 0, 0, maxInsns === undefined ? undefined : { maxInsns });
  } catch (e) {
    error = (e as Error).message;
  }
  return { error, r0: x.R[0]!, count: x.insnCount };
}

describe('interpreter: targets outside the program', () => {
  it('falling off the end faults at the insn past the last', () => {
    expect(run([insn(MOV_K, 0, 0, 0, 1), insn(ADD_K, 0, 0, 0, 2)])).toEqual({ error: 'insn 2: jump out of range', r0: 3, count: 3 });
  });

  it('a lddw in the last slot skips past the end', () => {
    expect(run([insn(MOV_K, 0, 0, 0, 1), insn(LDDW, 1, 0, 0, 7)]).error).toBe('insn 3: jump out of range');
  });

  it('a taken jump forward or backward out of the program faults at its target; not taken, it falls through', () => {
    expect(run([insn(MOV_K, 0, 0, 0, 5), insn(JA, 0, 0, 40), insn(EXIT)]).error).toBe('insn 42: jump out of range');
    expect(run([insn(MOV_K, 0, 0, 0, 5), insn(JEQ_K, 0, 0, -9, 5), insn(EXIT)]).error).toBe('insn -7: jump out of range');
    expect(run([insn(MOV_K, 0, 0, 0, 5), insn(JEQ_K, 0, 0, -9, 6), insn(EXIT)])).toEqual({ error: undefined, r0: 5, count: 3 });
    // gotol: the distance is in imm.
    expect(run([insn(MOV_K, 0, 0, 0, 5), insn(JMP32_JA, 0, 0, 0, 1000), insn(EXIT)]).error).toBe('insn 1002: jump out of range');
    // Two jumps to the same outside target, and one to the slot just past the end.
    const two = [insn(MOV_K, 0, 0, 0, 1), insn(JEQ_K, 0, 0, 50, 2), insn(JEQ_K, 0, 0, 49, 1), insn(EXIT)];
    expect(run(two).error).toBe('insn 52: jump out of range');
    expect(run([insn(MOV_K, 0, 0, 0, 1), insn(JA, 0, 0, 1), insn(EXIT)]).error).toBe('insn 3: jump out of range');
  });

  it('a bpf-to-bpf call outside the program faults at its target; a callx to one too', () => {
    expect(run([insn(CALL, 0, 1, 0, 100), insn(EXIT)]).error).toBe('insn 101: jump out of range');
    // callx through a BPF function pointer (a 'func' region's tag, the callee's first insn in the low
    // half): in the program it runs the callee, past it it faults at the target.
    const callx = (target: number) => (mem: AddressSpace): Insn[] => {
      const func = mem.map('func', new Uint8Array(0));
      return [insn(LDDW, 1, 0, 0, target), insn(0, 0, 0, 0, func.hi), insn(CALLX, 1), insn(EXIT), insn(MOV_K, 0, 0, 0, 9), insn(EXIT)];
    };
    expect(run(callx(4))).toEqual({ error: undefined, r0: 9, count: 5 });
    expect(run(callx(60)).error).toBe('insn 60: jump out of range');
    // Not a function: uBPF's callx takes the register as a helper id.
    expect(run([insn(MOV_K, 1, 0, 0, 77), insn(CALLX, 1), insn(EXIT)]).error).toBe('insn 1: invalid func unknown#77');
  });

  it('a budget stops at the instruction past it, counting it', () => {
    // r0 = 0; loop: r0 += 1; if r0 != 1000 goto loop; exit
    const loop = [insn(MOV_K, 0, 0, 0, 0), insn(ADD_K, 0, 0, 0, 1), insn(JNE_K, 0, 0, -2, 1000), insn(EXIT)];
    expect(run(loop)).toEqual({ error: undefined, r0: 1000, count: 2002 });
    expect(run(loop, 2002).error).toBeUndefined();
    const over = run(loop, 2001);
    expect(over.error).toBe('insn 3: instruction budget exhausted');
    expect(over.count).toBe(2002);
    expect(run(loop, 7)).toEqual({ error: 'insn 1: instruction budget exhausted', r0: 3, count: 8 });
  });
});
