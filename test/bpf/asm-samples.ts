// Instructions for every opcode-table entry with non-trivial field values (extreme and negative offsets and
// immediates, r0 and r10, a ldimm64 high word), shared by the assembler, uBPF and llvm-objdump tests.

import { insn, type Insn } from '../../src/bpf/insn.js';
import { OPS, type OpInfo } from '../../src/bpf/opcodes.js';

const DST = [0, 10, 3, 9, 1, 5];
const SRC = [10, 0, 4, 1, 9, 7];
const OFF = [-32768, 32767, -7, 0, -1, 12];
const IMM = [-2147483648, 2147483647, -1, 0, 0x1234, -4660];
const HIGH = [0, -1, 0x55, 0x7fffffff, 0, 1];

export const VARIANTS = DST.length;

/** Variant k of op: one instruction, or two slots for a ldimm64. */
export function sample(op: OpInfo, k: number): Insn[] {
  const f = op.fields;
  const x = insn(
    op.code,
    f.dst ? DST[k]! : 0,
    op.match.src ?? (f.src ? SRC[k]! : 0),
    op.match.off ?? (f.off ? OFF[k]! : 0),
    op.match.imm ?? (f.imm ? IMM[k]! : 0),
  );
  return op.kind === 'lddw' ? [x, insn(0, 0, 0, 0, HIGH[k]!)] : [x];
}

/** Every variant of every entry: [op, program]. */
export function allSamples(): [OpInfo, Insn[]][] {
  const out: [OpInfo, Insn[]][] = [];
  for (const op of OPS) for (let k = 0; k < VARIANTS; k++) out.push([op, sample(op, k)]);
  return out;
}
