// struct bpf_insn: the 8-byte encoding (opcode:8, dst_reg:4, src_reg:4, off:16, imm:32, little-endian)
// and a program as an array of them. A lddw occupies two slots, as in the kernel, so instruction indexes
// (jump targets, verifier log lines, line info) are the kernel's.

import { BpfError } from './errno.js';
import {
  BPF_INSN_SIZE, MAX_BPF_REG, findOp, isWide, OPS_BY_CODE, type OpInfo,
} from './opcodes.js';

export interface Insn {
  code: number;
  dst: number;
  src: number;
  /** signed 16-bit */
  off: number;
  /** signed 32-bit */
  imm: number;
}

export const insn = (code: number, dst = 0, src = 0, off = 0, imm = 0): Insn => ({ code, dst, src, off, imm });

/** Decode without validation: bytes -> slots. Throws only if the length is not a multiple of 8. */
export function decodeRaw(bytes: Uint8Array): Insn[] {
  if (bytes.length % BPF_INSN_SIZE !== 0) {
    throw new BpfError('EINVAL', `program size ${bytes.length} is not a multiple of ${BPF_INSN_SIZE}`);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Insn[] = new Array(bytes.length / BPF_INSN_SIZE);
  for (let i = 0, p = 0; p < bytes.length; i++, p += BPF_INSN_SIZE) {
    const regs = bytes[p + 1]!;
    out[i] = { code: bytes[p]!, dst: regs & 0x0f, src: regs >> 4, off: dv.getInt16(p + 2, true), imm: dv.getInt32(p + 4, true) };
  }
  return out;
}

export function encode(insns: readonly Insn[]): Uint8Array {
  const bytes = new Uint8Array(insns.length * BPF_INSN_SIZE);
  const dv = new DataView(bytes.buffer);
  insns.forEach((x, i) => {
    const p = i * BPF_INSN_SIZE;
    bytes[p] = x.code;
    bytes[p + 1] = (x.dst & 0x0f) | ((x.src & 0x0f) << 4);
    dv.setInt16(p + 2, x.off, true);
    dv.setInt32(p + 4, x.imm, true);
  });
  return bytes;
}

/** Why an instruction is malformed, or null. Checks the opcode, its discriminator, reserved fields, registers. */
export function checkInsn(insns: readonly Insn[], i: number): string | null {
  const x = insns[i]!;
  const candidates = OPS_BY_CODE[x.code];
  if (!candidates || candidates.length === 0) return `unknown opcode ${hex2(x.code)}`;
  const op = findOp(x.code, x.src, x.off, x.imm);
  if (op === undefined) {
    const which = candidates[0]!.match;
    const field = which.src !== undefined ? `src_reg ${x.src}` : which.off !== undefined ? `off ${x.off}` : `imm ${x.imm}`;
    return `invalid ${field} for opcode ${hex2(x.code)}`;
  }
  const u = op.fields;
  if (!u.dst && x.dst !== 0) return `${op.name} uses reserved fields: dst_reg ${x.dst}`;
  if (!u.src && op.match.src === undefined && x.src !== 0) return `${op.name} uses reserved fields: src_reg ${x.src}`;
  if (!u.off && op.match.off === undefined && x.off !== 0) return `${op.name} uses reserved fields: off ${x.off}`;
  if (!u.imm && op.match.imm === undefined && x.imm !== 0) return `${op.name} uses reserved fields: imm ${x.imm}`;
  if (x.dst >= MAX_BPF_REG) return `invalid dst register r${x.dst}`;
  if (u.src && x.src >= MAX_BPF_REG) return `invalid src register r${x.src}`;
  if (isWide(x.code)) {
    const next = insns[i + 1];
    if (next === undefined) return 'truncated lddw: missing second slot';
    if (next.code !== 0 || next.dst !== 0 || next.src !== 0 || next.off !== 0) return 'lddw second slot uses reserved fields';
  }
  return null;
}

/**
 * Decode and validate a whole program. Malformed input is a BpfError(EINVAL) naming the instruction
 * index and the reason, e.g. `insn 3: invalid src register r12`.
 */
export function decodeProgram(bytes: Uint8Array): Insn[] {
  const insns = decodeRaw(bytes);
  if (insns.length === 0) throw new BpfError('EINVAL', 'empty program');
  for (let i = 0; i < insns.length; i++) {
    const why = checkInsn(insns, i);
    if (why !== null) throw new BpfError('EINVAL', `insn ${i}: ${why}`);
    if (isWide(insns[i]!.code)) i++;
  }
  return insns;
}

/** The table entry of an instruction known to be valid (decoded by decodeProgram or built by the assembler). */
export function opOf(x: Insn): OpInfo {
  const op = findOp(x.code, x.src, x.off, x.imm);
  if (op === undefined) throw new Error(`BUG: opOf on an invalid instruction ${hex2(x.code)}`);
  return op;
}

/** The 64-bit immediate of a lddw at index i, as a bigint (cold paths only: tools, not the datapath). */
export function lddwImm64(insns: readonly Insn[], i: number): bigint {
  const lo = BigInt(insns[i]!.imm >>> 0);
  const hi = BigInt(insns[i + 1]!.imm >>> 0);
  return (hi << 32n) | lo;
}

export const hex2 = (n: number): string => `0x${n.toString(16).padStart(2, '0')}`;
