// Random programs through the NFP JIT against the host interpreter: bodies drawn from the opcode table
// (only what support.ts says the NIC runs), shaped so the nfp hook accepts them (multiplier and dividend
// operands made u32, divisors constant, shift amounts masked), mixing ALU64 and ALU32 (so the
// zero-extension elision meets 64-bit reads), forward jumps, stack and packet accesses of every size.
// Each program stores every register into the packet; the packet must come back the same from the host
// interpreter and from both NFP engines. A failure names its seed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insn, type Insn } from '../../src/bpf/insn.js';
import { assemble } from '../../src/bpf/asm.js';
import { OPS, type OpInfo } from '../../src/bpf/opcodes.js';
import { BPF_PROG_TYPE } from '../../src/bpf/prog-types.js';
import { nfp_bpf_instr_cb } from '../../src/drivers/nfp/support.js';
import { Kernel } from '../../src/kernel/kernel.js';
import type { BpfProg } from '../../src/kernel/prog.js';
import { BpfSyscall } from '../../src/kernel/syscall.js';
import * as pk from '../oracle/packets.js';
import { NfpLoadError, NfpRunner, bootHost, nfpLoadInsns, type TestHost } from './nfp-run.js';

const PROGRAMS = Number(process.env['NFP_JIT_RANDOM'] ?? 100);
const FIRST = Number(process.env['NFP_JIT_RANDOM_FIRST'] ?? 1);

let h: TestHost;
const k = new Kernel({ cpus: 1, prandomSeed: 1 });
const sys = new BpfSyscall(k);
beforeAll(async () => { h = await bootHost(); });
afterAll(async () => { await h.shutdown(); });

function rng(seed: number) {
  let s = seed | 0 || 1;
  const next = (): number => {
    s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
    return s >>> 0;
  };
  return {
    int: (n: number): number => next() % n,
    pick: <T>(xs: readonly T[]): T => xs[next() % xs.length]!,
    imm: (): number => {
      const c = next() % 7;
      return c === 0 ? 0 : c === 1 ? -1 : c === 2 ? next() % 64 : c === 3 ? -(next() % 300) : c === 4 ? (0x80000000 | 0) : c === 5 ? next() % 0x10000 : next() | 0;
    },
  };
}

const ALU = OPS.filter((o) => (o.kind === 'alu' || o.kind === 'end') && nfp_bpf_instr_cb(o) !== undefined);
const JCOND = OPS.filter((o) => o.kind === 'jcond' && nfp_bpf_instr_cb(o) !== undefined);
/** An instruction of the table with the fields it does not use left zero. */
const enc = (op: OpInfo, dst: number, src: number, off: number, imm: number): Insn =>
  insn(op.code, op.fields.dst ? dst : 0, op.match.src ?? (op.fields.src ? src : 0), op.match.off ?? (op.fields.off ? off : 0), op.match.imm ?? (op.fields.imm ? imm : 0));
const MOV32 = OPS.find((o) => o.name === 'mov32_reg')!;
const AND64 = OPS.find((o) => o.name === 'and_imm')!;
const ADD64 = OPS.find((o) => o.name === 'add_imm')!;

/** One ALU instruction on r0-r7, with whatever the NIC needs around it. */
function aluInsn(r: ReturnType<typeof rng>, p: Insn[]): void {
  const op = r.pick(ALU) as Extract<OpInfo, { kind: 'alu' | 'end' }>;
  const dst = r.int(8);
  let src = r.int(8);
  let imm = r.imm();
  if (op.kind === 'end') {
    p.push(enc(op, dst, 0, 0, r.pick([16, 32, 64])));
    return;
  }
  const bits = op.alu64 ? 64 : 32;
  if (op.op === 'mul' || op.op === 'div') {
    // u32 operands (a 32-bit move zero-extends); for ALU64 a non-negative immediate.
    p.push(enc(MOV32, dst, dst, 0, 0));
    if (op.srcReg) {
      src = 8;
      if (op.op === 'div') {
        const d = r.pick([0, 1, 2, 3, 7, 10, 100, 0x7fffffff, 0x80000000, 0x80000001, 0xfffffffe, 641, 65536]);
        p.push(insn(0x18, 8, 0, 0, d | 0), insn(0, 0, 0, 0, 0));
      } else {
        p.push(enc(MOV32, 8, r.int(8), 0, 0));
      }
    } else if (op.alu64 || op.op === 'div') {
      imm = Math.abs(imm) & 0x7fffffff;
      if (op.op === 'div' && imm === 0) imm = 1 + r.int(1000); // a constant 0 divisor is refused by the core
    }
  } else if (op.op === 'lsh' || op.op === 'rsh' || op.op === 'arsh') {
    if (op.srcReg) {
      // Below the width, from 32 up, or anywhere: the three shapes of shift-by-register code.
      src = 8;
      p.push(enc(MOV32, 8, r.int(8), 0, 0), enc(AND64, 8, 0, 0, bits - 1));
      if (bits === 64 && r.int(3) === 0) p.push(enc(AND64, 8, 0, 0, 31), enc(ADD64, 8, 0, 0, 32));
    } else {
      imm = r.int(bits);
    }
  }
  p.push(enc(op, dst, src, 0, imm));
}

const TYPES = [[1, 'u8'], [2, 'u16'], [4, 'u32'], [8, 'u64']] as const;

function generate(seed: number): Insn[] {
  const r = rng(seed);
  const text: string[] = ['r9 = *(u32 *)(r1 + 0)\nr8 = *(u32 *)(r1 + 4)\nr7 = r9\nr7 += 160\nif r7 > r8 goto fail'];
  // Registers from constants and from the packet; the stack zeroed so every read is initialised.
  for (let reg = 0; reg <= 8; reg++) text.push(r.int(2) ? `r${reg} = ${r.imm()} ll` : `r${reg} = *(u64 *)(r9 + ${80 + 8 * (reg % 8)})`);
  text.push('r1 = 0', ...Array.from({ length: 32 }, (_, i) => `*(u64 *)(r10 - ${8 * (i + 1)}) = r1`));
  const prologue = assemble(text.join('\n').replace('goto fail', 'goto +0'));
  const p: Insn[] = prologue.slice();
  const failJump = 4;
  const n = 15 + r.int(25);
  for (let i = 0; i < n; i++) {
    const what = r.int(12);
    if (what < 7) {
      aluInsn(r, p);
    } else if (what < 9) {
      const [size, type] = r.pick(TYPES);
      const stack = r.int(2) === 0;
      const off = stack ? -size * (1 + r.int(256 / size)) : 72 + size * r.int(88 / size);
      const base = stack ? 'r10' : 'r9';
      const reg = r.int(8);
      p.push(...assemble(r.int(2) ? `r${reg} = *(${type} *)(${base} ${off < 0 ? '-' : '+'} ${Math.abs(off)})` : `*(${type} *)(${base} ${off < 0 ? '-' : '+'} ${Math.abs(off)}) = r${reg}`));
    } else if (what < 10) {
      const [size, type] = r.pick(TYPES);
      p.push(...assemble(`*(${type} *)(r9 + ${72 + size * r.int(88 / size)}) = ${r.imm()}`));
    } else {
      // A forward conditional jump over 1-3 ALU instructions.
      const body: Insn[] = [];
      const skip = 1 + r.int(3);
      for (let j = 0; j < skip; j++) aluInsn(r, body);
      p.push(enc(r.pick(JCOND), r.int(8), r.int(8), body.length, r.imm()), ...body);
    }
  }
  const epilogue = assemble(`${[0, 1, 2, 3, 4, 5, 6, 7, 8].map((reg) => `*(u64 *)(r9 + ${8 * reg}) = r${reg}`).join('\n')}\nr0 = 2\nexit\nr0 = 1\nexit`);
  p.push(...epilogue);
  // The bounds check's jump goes to the final "r0 = 1".
  p[failJump] = { ...p[failJump]!, off: p.length - 2 - failJump - 1 };
  return p;
}

const FRAME = (() => {
  const f = pk.padFrame(pk.udp4Frame({ dstPort: 9 }), 200);
  for (let i = 42; i < 200; i++) f[i] = (i * 131 + 17) & 0xff;
  return f;
})();

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('random programs: NFP JIT (both engines) vs the host interpreter', () => {
  it(`${PROGRAMS} programs give the same packet`, async () => {
    let accepted = 0;
    const refusals = new Map<string, number>();
    for (let seed = FIRST; seed < FIRST + PROGRAMS; seed++) {
      const insns = generate(seed);
      let hostData: string;
      try {
        const fd = sys.progLoad({ prog_type: BPF_PROG_TYPE.XDP, insns, license: 'GPL' });
        const prog = k.fds.get(fd)!.obj as BpfProg;
        prog.jited = undefined;
        const res = sys.progTestRun({ prog_fd: fd, data_in: FRAME });
        sys.close(fd);
        expect(res.retval, `seed ${seed}: host`).toBe(2);
        hostData = hex(res.data_out!);
      } catch (e) {
        const why = `host: ${(e as Error).message.slice(0, 60)}`;
        refusals.set(why, (refusals.get(why) ?? 0) + 1);
        continue;
      }
      let loaded;
      try {
        loaded = nfpLoadInsns(h, insns);
      } catch (e) {
        if (!(e instanceof NfpLoadError)) throw e;
        const why = e.message.slice(0, 60);
        refusals.set(why, (refusals.get(why) ?? 0) + 1);
        continue;
      }
      const runner = new NfpRunner(h, loaded);
      const a = runner.run('interpreter', FRAME);
      const b = runner.run('js', FRAME);
      expect(b, `seed ${seed}: JS engine vs interpreter`).toEqual(a);
      if (process.env['NFP_JIT_RANDOM_DEBUG'] === '1' && hex(a.data) !== hostData) {
        const { formatInsn } = await import('../../src/bpf/disasm.js');
        console.log(insns.map((x, i) => `${i}: ${formatInsn(insns, i)}`).join('\n'));
        for (let r = 0; r < 9; r++) console.log(`r${r}: nfp ${hex(a.data).slice(r * 16, r * 16 + 16)} host ${hostData.slice(r * 16, r * 16 + 16)}`);
        console.log(hex(a.data).slice(144), '\n', hostData.slice(144));
      }
      expect({ verdict: a.verdict, data: hex(a.data) }, `seed ${seed}`).toEqual({ verdict: 0x11, data: hostData });
      accepted++;
    }
    // The generator shapes programs for the NIC: nearly all must be taken.
    expect(accepted, `refusals: ${JSON.stringify([...refusals])}`).toBeGreaterThanOrEqual(Math.floor(PROGRAMS * 0.9));
  });
});
