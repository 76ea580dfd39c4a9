// Precision against the real kernel: the states bounds.ts computes, printed by format.ts, are the very
// text the kernel's verifier log shows for the same instructions. Recorded goldens
// (fixtures/scalar-goldens.json, from the machine's 6.18 kernel) run everywhere; the live comparison
// runs fresh random programs through this machine's kernel when bpftool and bpf() are available.

import { describe, expect, it } from 'vitest';
import { formatInsn } from '../../src/bpf/disasm.js';
import { scalar_equal } from '../../src/kernel/verifier/bounds.js';
import { print_scalar_state } from '../../src/kernel/verifier/format.js';
import { tnum_is_const } from '../../src/kernel/verifier/tnum.js';
import { buildProgram, parseLogStates, parseScalar, PROLOGUE_LEN, randomCase, Rng, simulate, stripIdAndPrecision, type DiffCase } from './kernel-diff.js';
import { kernelUnavailable, kernelVerifierLog } from './kernel-log.js';
import { loadGoldens, NAMED, namedCase, toDiffCase } from './scalar-goldens.js';

interface Mismatch {
  insn: number;
  reg: number;
  kernel: string;
  ours: string;
}

/** Compare our states with the kernel's texts for every register it printed after a step. */
function compare(c: DiffCase, kernel: ReadonlyMap<number, ReadonlyMap<number, string>>): { checked: number; mismatches: Mismatch[] } {
  const ours = simulate(c);
  const mismatches: Mismatch[] = [];
  let checked = 0;
  for (const [idx, regs] of ours) {
    const k = kernel.get(idx);
    if (k === undefined) {
      mismatches.push({ insn: idx, reg: -1, kernel: '(no state printed)', ours: '' });
      continue;
    }
    for (const [reg, state] of regs) {
      const text = k.get(reg);
      if (text === undefined) continue;
      checked++;
      const mine = print_scalar_state(state);
      // A constant prints as its value alone; other states print every field, so they must agree too.
      const same = mine === stripIdAndPrecision(text) && (tnum_is_const(state.var_off) || scalar_equal(state, parseScalar(text)));
      if (!same) mismatches.push({ insn: idx, reg, kernel: text, ours: mine });
    }
  }
  return { checked, mismatches };
}

function explain(c: DiffCase, m: Mismatch[]): string {
  const prog = buildProgram(c.prologue, c.steps);
  const listing = prog.map((_, i) => `  ${i}: ${formatInsn(prog, i, { flavour: 'llvm' })}`).join('\n');
  return `${m.map((x) => `insn ${x.insn} R${x.reg}: kernel ${x.kernel}\n${' '.repeat(String(x.insn).length + 11)}ours   ${x.ours}`).join('\n')}\n${listing}`;
}

const toMap = (states: Record<string, Record<string, string>>): Map<number, Map<number, string>> =>
  new Map(Object.entries(states).map(([i, regs]) => [Number(i), new Map(Object.entries(regs).map(([r, t]) => [Number(r), t]))]));

describe('scalar goldens recorded from the kernel', () => {
  const goldens = loadGoldens();

  it(`has the named programs and random ones (recorded on ${goldens.kernel})`, () => {
    expect(goldens.cases.filter((g) => !g.name.startsWith('random')).map((g) => g.name)).toEqual(NAMED.map((n) => n.name));
    expect(goldens.cases.length).toBeGreaterThan(50);
  });

  for (const g of goldens.cases) {
    it(g.name, () => {
      const c = toDiffCase(g);
      const { checked, mismatches } = compare(c, toMap(g.states));
      if (mismatches.length > 0) throw new Error(explain(c, mismatches));
      expect(checked).toBeGreaterThanOrEqual(g.steps.length);
    });
  }

  it('the named goldens say what their names say', () => {
    const at = (name: string, insn: number, reg: number): string => {
      const g = goldens.cases.find((x) => x.name.startsWith(name))!;
      return g.states[String(PROLOGUE_LEN + insn)]![String(reg)]!;
    };
    expect(at('r6 &= 0xff', 0, 6)).toBe('scalar(smin=smin32=0,smax=umax=smax32=umax32=255,var_off=(0x0; 0xff))');
    expect(at('r6 &= 0xff', 1, 6)).toBe('scalar(smin=smin32=0,smax=umax=smax32=umax32=10,var_off=(0x0; 0xf))');
    expect(at('negative constant', 0, 7)).toBe('0xfffffffffffe7960');
    expect(at('division and modulo', 1, 6)).toBe('scalar()');
    expect(at('a boolean mask forks', 1, 6)).toBe('-1');
    expect(at('the tnum and the range meet', 1, 6)).toBe('16');
    expect(at('an add with a constant', 0, 7)).toBe('scalar(id=2+5)');
  });
});

const unavailable = kernelUnavailable();

describe.skipIf(unavailable !== null)(`live comparison with this machine's kernel${unavailable === null ? '' : ` (skipped: ${unavailable})`}`, () => {
  it('the named programs', () => {
    for (const n of NAMED) {
      const c = namedCase(n);
      const r = kernelVerifierLog(buildProgram(c.prologue, c.steps));
      expect(r.ok, r.log).toBe(true);
      const { mismatches } = compare(c, parseLogStates(r.log));
      if (mismatches.length > 0) throw new Error(`${n.name}\n${explain(c, mismatches)}`);
    }
  });

  it('150 fresh random programs of 10 steps', () => {
    const rng = new Rng(0xb0b5);
    let checked = 0;
    for (let i = 0; i < 150; i++) {
      const c = randomCase(rng, 10);
      const r = kernelVerifierLog(buildProgram(c.prologue, c.steps));
      expect(r.ok, r.log).toBe(true);
      const res = compare(c, parseLogStates(r.log));
      if (res.mismatches.length > 0) throw new Error(`random program ${i}\n${explain(c, res.mismatches)}`);
      checked += res.checked;
    }
    expect(checked).toBeGreaterThan(1500);
  }, 120_000);
});
