// BPF arithmetic on 64-bit values held as two int32 halves (lo, hi), exactly as RFC 9669 section 4
// defines it: wrap-around, shift counts masked to the operand width, division by zero giving 0 and
// modulo by zero leaving the dividend, signed division truncating toward zero (INT_MIN / -1 wraps), 32-bit
// operations zero-extending into the upper half. This is the reference semantics the interpreter runs
// and the JITs are tested against. Results are left in RES (no allocation per operation).

import type { AluOp, JmpCond } from '../../bpf/opcodes.js';

/** Result of the last operation: RES[0] = lo, RES[1] = hi. */
export const RES = new Int32Array(2);

const set = (lo: number, hi: number): void => {
  RES[0] = lo;
  RES[1] = hi;
};

const toBig = (lo: number, hi: number): bigint => (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
const toBigSigned = (lo: number, hi: number): bigint => BigInt.asIntN(64, toBig(lo, hi));
const setBig = (v: bigint): void => set(Number(BigInt.asIntN(32, v)), Number(BigInt.asIntN(32, v >> 32n)));

/** High 32 bits of the 64-bit product of two uint32s. */
export function mulhiu(a: number, b: number): number {
  const a0 = a & 0xffff, a1 = a >>> 16, b0 = b & 0xffff, b1 = b >>> 16;
  const t = a0 * b0;
  const m1 = a1 * b0 + (t >>> 16);
  const m2 = a0 * b1 + (m1 & 0xffff);
  return (a1 * b1 + (m1 >>> 16) + (m2 >>> 16)) | 0;
}

function shl64(lo: number, hi: number, n: number): void {
  n &= 63;
  if (n === 0) set(lo, hi);
  else if (n < 32) set(lo << n, (hi << n) | (lo >>> (32 - n)));
  else set(0, lo << (n - 32));
}

function shr64(lo: number, hi: number, n: number): void {
  n &= 63;
  if (n === 0) set(lo, hi);
  else if (n < 32) set((lo >>> n) | (hi << (32 - n)), hi >>> n);
  else set(hi >>> (n - 32), 0);
}

function sar64(lo: number, hi: number, n: number): void {
  n &= 63;
  if (n === 0) set(lo, hi);
  else if (n < 32) set((lo >>> n) | (hi << (32 - n)), hi >> n);
  else set(hi >> (n - 32), hi >> 31);
}

type Alu64 = (alo: number, ahi: number, blo: number, bhi: number) => void;
type Alu32 = (a: number, b: number) => number;

/** ALU64: dst = dst OP src. For `neg`, only the first operand is used; for movsx, the second. */
export const ALU64: Readonly<Record<AluOp, Alu64>> = {
  add(alo, ahi, blo, bhi) {
    const lo = (alo + blo) | 0;
    set(lo, (ahi + bhi + ((lo >>> 0) < (alo >>> 0) ? 1 : 0)) | 0);
  },
  sub(alo, ahi, blo, bhi) {
    const lo = (alo - blo) | 0;
    set(lo, (ahi - bhi - ((alo >>> 0) < (blo >>> 0) ? 1 : 0)) | 0);
  },
  mul(alo, ahi, blo, bhi) {
    set(Math.imul(alo, blo), (mulhiu(alo >>> 0, blo >>> 0) + Math.imul(alo, bhi) + Math.imul(ahi, blo)) | 0);
  },
  div(alo, ahi, blo, bhi) {
    if ((blo | bhi) === 0) set(0, 0);
    else if ((ahi | bhi) === 0) set(((alo >>> 0) / (blo >>> 0)) | 0, 0);
    else setBig(toBig(alo, ahi) / toBig(blo, bhi));
  },
  sdiv(alo, ahi, blo, bhi) {
    if ((blo | bhi) === 0) set(0, 0);
    else setBig(BigInt.asIntN(64, toBigSigned(alo, ahi) / toBigSigned(blo, bhi)));
  },
  mod(alo, ahi, blo, bhi) {
    if ((blo | bhi) === 0) set(alo, ahi);
    else if ((ahi | bhi) === 0) set(((alo >>> 0) % (blo >>> 0)) | 0, 0);
    else setBig(toBig(alo, ahi) % toBig(blo, bhi));
  },
  smod(alo, ahi, blo, bhi) {
    if ((blo | bhi) === 0) set(alo, ahi);
    else setBig(toBigSigned(alo, ahi) % toBigSigned(blo, bhi));
  },
  or: (alo, ahi, blo, bhi) => set(alo | blo, ahi | bhi),
  and: (alo, ahi, blo, bhi) => set(alo & blo, ahi & bhi),
  xor: (alo, ahi, blo, bhi) => set(alo ^ blo, ahi ^ bhi),
  lsh: (alo, ahi, blo) => shl64(alo, ahi, blo),
  rsh: (alo, ahi, blo) => shr64(alo, ahi, blo),
  arsh: (alo, ahi, blo) => sar64(alo, ahi, blo),
  neg(alo, ahi) {
    set(-alo | 0, (~ahi + (alo === 0 ? 1 : 0)) | 0);
  },
  mov: (_alo, _ahi, blo, bhi) => set(blo, bhi),
  movsx8: (_alo, _ahi, blo) => set((blo << 24) >> 24, ((blo << 24) >> 24) >> 31),
  movsx16: (_alo, _ahi, blo) => set((blo << 16) >> 16, ((blo << 16) >> 16) >> 31),
  movsx32: (_alo, _ahi, blo) => set(blo, blo >> 31),
};

/** ALU32 on the low halves; the caller zero-extends the result into the upper half. */
export const ALU32: Readonly<Record<AluOp, Alu32>> = {
  add: (a, b) => (a + b) | 0,
  sub: (a, b) => (a - b) | 0,
  mul: (a, b) => Math.imul(a, b),
  div: (a, b) => (b === 0 ? 0 : ((a >>> 0) / (b >>> 0)) | 0),
  sdiv: (a, b) => (b === 0 ? 0 : b === -1 ? -a | 0 : (a / b) | 0),
  mod: (a, b) => (b === 0 ? a : ((a >>> 0) % (b >>> 0)) | 0),
  smod: (a, b) => (b === 0 ? a : b === -1 ? 0 : (a % b) | 0),
  or: (a, b) => a | b,
  and: (a, b) => a & b,
  xor: (a, b) => a ^ b,
  lsh: (a, b) => a << (b & 31),
  rsh: (a, b) => a >>> (b & 31),
  arsh: (a, b) => a >> (b & 31),
  neg: (a) => -a | 0,
  mov: (_a, b) => b,
  movsx8: (_a, b) => (b << 24) >> 24,
  movsx16: (_a, b) => (b << 16) >> 16,
  movsx32: (_a, b) => b,
};

export function bswap16(x: number): number {
  return ((x & 0xff) << 8) | ((x >>> 8) & 0xff);
}

export function bswap32(x: number): number {
  return ((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24);
}

/** Byte-swap ops on a little-endian machine: to-le truncates, to-be and bswap swap and truncate. */
export function endian(op: 'le' | 'be' | 'bswap', bits: 16 | 32 | 64, lo: number, hi: number): void {
  if (op === 'le') {
    if (bits === 16) set(lo & 0xffff, 0);
    else if (bits === 32) set(lo, 0);
    else set(lo, hi);
  } else if (bits === 16) set(bswap16(lo), 0);
  else if (bits === 32) set(bswap32(lo), 0);
  else set(bswap32(hi), bswap32(lo));
}

type Cmp64 = (alo: number, ahi: number, blo: number, bhi: number) => boolean;
type Cmp32 = (a: number, b: number) => boolean;

const ult = (alo: number, ahi: number, blo: number, bhi: number): boolean =>
  ahi !== bhi ? ahi >>> 0 < bhi >>> 0 : alo >>> 0 < blo >>> 0;
const slt = (alo: number, ahi: number, blo: number, bhi: number): boolean =>
  ahi !== bhi ? ahi < bhi : alo >>> 0 < blo >>> 0;

export const JMP64: Readonly<Record<JmpCond, Cmp64>> = {
  jeq: (alo, ahi, blo, bhi) => alo === blo && ahi === bhi,
  jne: (alo, ahi, blo, bhi) => alo !== blo || ahi !== bhi,
  jset: (alo, ahi, blo, bhi) => (alo & blo) !== 0 || (ahi & bhi) !== 0,
  jgt: (alo, ahi, blo, bhi) => ult(blo, bhi, alo, ahi),
  jge: (alo, ahi, blo, bhi) => !ult(alo, ahi, blo, bhi),
  jlt: ult,
  jle: (alo, ahi, blo, bhi) => !ult(blo, bhi, alo, ahi),
  jsgt: (alo, ahi, blo, bhi) => slt(blo, bhi, alo, ahi),
  jsge: (alo, ahi, blo, bhi) => !slt(alo, ahi, blo, bhi),
  jslt: slt,
  jsle: (alo, ahi, blo, bhi) => !slt(blo, bhi, alo, ahi),
};

export const JMP32: Readonly<Record<JmpCond, Cmp32>> = {
  jeq: (a, b) => a === b,
  jne: (a, b) => a !== b,
  jset: (a, b) => (a & b) !== 0,
  jgt: (a, b) => a >>> 0 > b >>> 0,
  jge: (a, b) => a >>> 0 >= b >>> 0,
  jlt: (a, b) => a >>> 0 < b >>> 0,
  jle: (a, b) => a >>> 0 <= b >>> 0,
  jsgt: (a, b) => a > b,
  jsge: (a, b) => a >= b,
  jslt: (a, b) => a < b,
  jsle: (a, b) => a <= b,
};
