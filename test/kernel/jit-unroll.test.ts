// The host JIT unrolls short straight loops of verified programs (jit.ts unrollFactor): the body is
// emitted several times, each copy keeping every exit test. This differential test makes loops whose
// exits fire at every position of every copy: generated XDP programs with a bounded counted loop (a
// do-while latch or a while test at the top), exits on packet bytes and on a bounds check against
// data_end inside the body, 64- and 32-bit arithmetic on accumulators, loaded through BPF_PROG_LOAD
// (full verifier, so the JIT has its facts) and run on the JIT and on the interpreter over packets of
// many lengths and contents, which must agree on the verdict and the packet.

import { describe, expect, it } from 'vitest';
import { assemble } from '../../src/bpf/asm.js';
import { BPF_PROG_TYPE } from '../../src/bpf/prog-types.js';
import { Kernel } from '../../src/kernel/kernel.js';
import type { BpfProg } from '../../src/kernel/prog.js';
import { BpfSyscall, type ProgLoadAttr } from '../../src/kernel/syscall.js';

const PROGRAMS = 120;
const PACKETS = 12;

/** xorshift32, so that a failing seed reproduces. */
function rng(seed: number) {
  let s = seed | 0 || 1;
  const next = (): number => {
    s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
    return s >>> 0;
  };
  return {
    int: (n: number): number => next() % n,
    pick: <T>(xs: readonly T[]): T => xs[next() % xs.length]!,
    chance: (p: number): boolean => next() / 2 ** 32 < p,
  };
}

type Rng = ReturnType<typeof rng>;

const ALU = ['+=', '-=', '&=', '|=', '^=', '*='] as const;
const SHIFT = ['<<=', '>>=', 's>>='] as const;
/** Accumulators the body computes on; r2-r4 are the body's scratch, r6 the counter, r8/r9 data_end/data. */
const ACC = [0, 1, 5, 7] as const;

function alu(r: Rng): string {
  const w = r.chance(0.4);
  const reg = (n: number): string => `${w ? 'w' : 'r'}${n}`;
  const d = r.pick(ACC);
  if (r.chance(0.2)) return `${reg(d)} ${r.pick(SHIFT)} ${r.int(w ? 32 : 64)}`;
  const src = r.chance(0.5) ? reg(r.chance(0.3) ? 4 : r.pick(ACC)) : String(r.chance(0.5) ? r.int(300) : -r.int(300));
  return `${reg(d)} ${r.pick(ALU)} ${src}`;
}

function generate(seed: number): string {
  const r = rng(seed);
  const trips = 1 + r.int(40);
  const topTest = r.chance(0.4);
  const lines = ['r9 = *(u32 *)(r1 + 0)', 'r8 = *(u32 *)(r1 + 4)', 'r7 = r9', 'r7 += 64', 'if r7 > r8 goto fail'];
  for (const a of ACC) lines.push(r.chance(0.5) ? `r${a} = *(u32 *)(r9 + ${4 * r.int(16)})` : `r${a} = ${r.int(1000)}`);
  lines.push('r4 = 0', 'r6 = 0', 'loop:');
  if (topTest) lines.push(`if r6 >= ${trips} goto out`);
  const steps = 1 + r.int(8);
  for (let i = 0; i < steps; i++) {
    const what = r.int(6);
    if (what < 3) {
      lines.push(alu(r));
    } else if (what < 5) {
      // A byte past the checked header, one further each iteration: the bounds check leaves the loop
      // at the end of a short packet, in whichever copy of the body that iteration runs.
      lines.push('r3 = r9', 'r3 += r6', `r3 += ${64 + r.int(8)}`, 'r2 = r3', 'r2 += 1', 'if r2 > r8 goto out', 'r4 = *(u8 *)(r3 + 0)');
      if (r.chance(0.6)) {
        const op = r.pick(['>', '==', '&']);
        lines.push(`if r4 ${op} ${op === '>' ? 180 + r.int(70) : op === '&' ? 1 << r.int(8) : r.int(256)} goto out`);
      }
    } else {
      // A data-dependent exit on an accumulator.
      lines.push(`if w${r.pick(ACC)} ${r.pick(['s>', '>', '<', '=='])} ${r.int(5000)} goto out`);
    }
  }
  lines.push('r6 += 1');
  lines.push(topTest ? 'goto loop' : `if r6 < ${trips} goto loop`);
  lines.push('out:');
  ACC.forEach((a, k) => lines.push(`*(u64 *)(r9 + ${8 * k}) = r${a}`));
  lines.push('*(u64 *)(r9 + 32) = r6', 'r0 = 3', 'exit', 'fail:', 'r0 = 1', 'exit');
  return lines.join('\n');
}

/** Whether the JIT's source emitted some instruction more than once (an unrolled loop). */
function unrolled(source: string): boolean {
  const seen = new Set<string>();
  for (const m of source.matchAll(/\/\* (\d+) \*\//g)) {
    if (seen.has(m[1]!)) return true;
    seen.add(m[1]!);
  }
  return false;
}

describe('host JIT: unrolled loops', () => {
  it(`${PROGRAMS} generated loops give the same result on the JIT and on the interpreter`, () => {
    const k = new Kernel({ cpus: 1, prandomSeed: 1 });
    const sys = new BpfSyscall(k);
    let unrolledCount = 0;
    for (let seed = 1; seed <= PROGRAMS; seed++) {
      const text = generate(seed);
      const attr: ProgLoadAttr = { prog_type: BPF_PROG_TYPE.XDP, insns: assemble(text), license: 'GPL' };
      const fd = sys.progLoad(attr);
      const prog = k.fds.get(fd)!.obj as BpfProg;
      const jited = prog.jited;
      expect(jited, `seed ${seed}: the program is JIT-compiled`).toBeDefined();
      if (unrolled(jited!.source)) unrolledCount++;
      const r = rng(seed * 7919);
      for (let p = 0; p < PACKETS; p++) {
        const data = new Uint8Array(60 + r.int(60)).map(() => r.int(256));
        prog.jited = jited;
        const a = sys.progTestRun({ prog_fd: fd, data_in: data });
        prog.jited = undefined;
        const b = sys.progTestRun({ prog_fd: fd, data_in: data });
        expect({ retval: a.retval, data: Buffer.from(a.data_out!).toString('hex') }, `seed ${seed}, packet ${p}: JIT vs interpreter\n${text}`)
          .toEqual({ retval: b.retval, data: Buffer.from(b.data_out!).toString('hex') });
      }
      prog.jited = jited;
      sys.close(fd);
    }
    // Nearly every loop here is short and straight: the JIT must have unrolled them, or this proves little.
    expect(unrolledCount).toBeGreaterThan(PROGRAMS * 0.8);
  });
});
