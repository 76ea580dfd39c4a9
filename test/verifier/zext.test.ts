// zext_dst: a 32-bit write needs its upper half zeroed only when something reads that half later.
import { describe, expect, it } from 'vitest';
import { assemble } from '../../src/bpf/asm.js';
import { bpfCheck } from '../../src/kernel/verifier/verifier.js';
import { VerifierLog } from '../../src/kernel/verifier/log.js';

function zext(text: string): boolean[] {
  const insns = assemble(text);
  const { env } = bpfCheck({ progType: 6, expectedAttachType: 0, insns, ldImm: new Map(), gplCompatible: true, log: new VerifierLog(0, 0) });
  return env.aux.map((a) => a.zext_dst);
}

describe('zext_dst', () => {
  it('is set when a 64-bit operation reads the upper half', () => {
    expect(zext('w1 = 5\nr0 = 0\nr0 += r1\nexit')).toEqual([true, false, false, false]);
  });
  it('is not set when only 32-bit operations read the register', () => {
    // w1 is only read by a 32-bit add; w0's last write is read whole by exit.
    expect(zext('w1 = 5\nw0 = 0\nw0 += w1\nexit')).toEqual([false, false, true, false]);
  });
  it('is not set when the register is written whole before any read', () => {
    expect(zext('w1 = 5\nr1 = 7\nr0 = r1\nexit')).toEqual([false, false, false, false]);
  });
  it('follows both paths of a branch and counts the return value as a 64-bit read', () => {
    expect(zext('w0 = 1\nw2 = 3\nif w2 > 1 goto +1\nr0 += r2\nexit')).toEqual([true, true, false, false, false]);
  });
  it('counts narrow loads as 32-bit definitions', () => {
    expect(zext('r0 = *(u8 *)(r10 - 8)\nexit'.replace('exit', 'exit'))[0]).toBe(true);
  });
});
