// BPF arithmetic on 64-bit values held as two int32 halves (lo, hi), exactly as RFC 9669 section 4
// defines it: wrap-around, shift counts masked to the operand width, division by zero giving 0 and
// modulo by zero leaving the dividend, signed division truncating toward zero (INT_MIN / -1 wraps), 32-bit
// operations zero-extending into the upper half. This is the reference semantics the interpreter runs
// and the JITs are tested against (the role of the ALU part of kernel/bpf/core.c ___bpf_prog_run).
//
// Each operation is written ONCE, as a short JavaScript source template over int32 locals: the
// interpreter pastes the templates into its generated dispatch loop (a call per instruction, which V8
// cannot inline into a function that large, costs more than the operation), and the functions exported
// here (ALU64, ALU32, JMP64, JMP32, endian) are compiled from the same templates for everyone else.
// The host JIT keeps its own code templates, written separately, so that the two engines check each other.

import type { AluOp, EndOp, JmpCond } from '../../bpf/opcodes.js';

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

/** 64-bit division and modulo (rare, and exact only through BigInt); results in RES. */
function div64(alo: number, ahi: number, blo: number, bhi: number): void {
  if ((blo | bhi) === 0) set(0, 0);
  else if ((ahi | bhi) === 0) set(((alo >>> 0) / (blo >>> 0)) | 0, 0);
  else setBig(toBig(alo, ahi) / toBig(blo, bhi));
}

function sdiv64(alo: number, ahi: number, blo: number, bhi: number): void {
  if ((blo | bhi) === 0) set(0, 0);
  else setBig(BigInt.asIntN(64, toBigSigned(alo, ahi) / toBigSigned(blo, bhi)));
}

function mod64(alo: number, ahi: number, blo: number, bhi: number): void {
  if ((blo | bhi) === 0) set(alo, ahi);
  else if ((ahi | bhi) === 0) set(((alo >>> 0) % (blo >>> 0)) | 0, 0);
  else setBig(toBig(alo, ahi) % toBig(blo, bhi));
}

function smod64(alo: number, ahi: number, blo: number, bhi: number): void {
  if ((blo | bhi) === 0) set(alo, ahi);
  else setBig(toBigSigned(alo, ahi) % toBigSigned(blo, bhi));
}

export function bswap16(x: number): number {
  return ((x & 0xff) << 8) | ((x >>> 8) & 0xff);
}

export function bswap32(x: number): number {
  return ((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24);
}

/** What the templates may call, by the names they use: code that pastes a template binds these. */
export const ALU_SCOPE: Readonly<Record<string, unknown>> = { RES, mulhiu, div64, sdiv64, mod64, smod64 };

// ---------------------------------------------------------------------------------------------------
// The templates. Inputs are int32 locals named al, ah (dst: lo, hi) and bl, bh (src or sign-extended
// imm); a 64-bit template assigns the int32 locals rl, rh (declared by the caller) and reads its inputs
// only before its last assignment to them, so the caller may give rl/rh the same storage as nothing
// else. A block `{ }` around a template scopes its own temporaries.

/** ALU64: statements setting rl, rh from al, ah, bl, bh. */
export const ALU64_SRC: Readonly<Record<AluOp, string>> = {
  add: 'rl = (al + bl) | 0; rh = (ah + bh + ((rl >>> 0) < (al >>> 0) ? 1 : 0)) | 0;',
  sub: 'rl = (al - bl) | 0; rh = (ah - bh - ((al >>> 0) < (bl >>> 0) ? 1 : 0)) | 0;',
  mul: 'rl = Math.imul(al, bl); rh = (mulhiu(al >>> 0, bl >>> 0) + Math.imul(al, bh) + Math.imul(ah, bl)) | 0;',
  div: 'div64(al, ah, bl, bh); rl = RES[0]; rh = RES[1];',
  sdiv: 'sdiv64(al, ah, bl, bh); rl = RES[0]; rh = RES[1];',
  mod: 'mod64(al, ah, bl, bh); rl = RES[0]; rh = RES[1];',
  smod: 'smod64(al, ah, bl, bh); rl = RES[0]; rh = RES[1];',
  or: 'rl = al | bl; rh = ah | bh;',
  and: 'rl = al & bl; rh = ah & bh;',
  xor: 'rl = al ^ bl; rh = ah ^ bh;',
  // The count is masked to 6 bits; JavaScript masks shift counts to 5, so the halves are moved by hand.
  lsh: '{ const n = bl & 63; if (n === 0) { rl = al; rh = ah; } else if (n < 32) { rl = al << n; rh = (ah << n) | (al >>> (32 - n)); } else { rl = 0; rh = al << (n - 32); } }',
  rsh: '{ const n = bl & 63; if (n === 0) { rl = al; rh = ah; } else if (n < 32) { rl = (al >>> n) | (ah << (32 - n)); rh = (ah >>> n) | 0; } else { rl = (ah >>> (n - 32)) | 0; rh = 0; } }',
  arsh: '{ const n = bl & 63; if (n === 0) { rl = al; rh = ah; } else if (n < 32) { rl = (al >>> n) | (ah << (32 - n)); rh = ah >> n; } else { rl = ah >> (n - 32); rh = ah >> 31; } }',
  neg: 'rl = -al | 0; rh = (~ah + (al === 0 ? 1 : 0)) | 0;',
  mov: 'rl = bl; rh = bh;',
  movsx8: 'rl = (bl << 24) >> 24; rh = rl >> 31;',
  movsx16: 'rl = (bl << 16) >> 16; rh = rl >> 31;',
  movsx32: 'rl = bl; rh = bl >> 31;',
};

/** ALU32 on the low halves: an int32 expression of a and b (the caller zero-extends into the upper half). */
export const ALU32_SRC: Readonly<Record<AluOp, string>> = {
  add: '(a + b) | 0',
  sub: '(a - b) | 0',
  mul: 'Math.imul(a, b)',
  div: '(b === 0 ? 0 : ((a >>> 0) / (b >>> 0)) | 0)',
  sdiv: '(b === 0 ? 0 : b === -1 ? -a | 0 : (a / b) | 0)',
  mod: '(b === 0 ? a : ((a >>> 0) % (b >>> 0)) | 0)',
  smod: '(b === 0 ? a : b === -1 ? 0 : (a % b) | 0)',
  or: 'a | b',
  and: 'a & b',
  xor: 'a ^ b',
  lsh: 'a << (b & 31)',
  rsh: '(a >>> (b & 31)) | 0',
  arsh: 'a >> (b & 31)',
  neg: '-a | 0',
  mov: 'b',
  movsx8: '(b << 24) >> 24',
  movsx16: '(b << 16) >> 16',
  movsx32: 'b',
};

/** 64-bit unsigned and signed "a < b" as expressions over (xl, xh) and (yl, yh). */
const ult = (xl: string, xh: string, yl: string, yh: string): string =>
  `(${xh} !== ${yh} ? (${xh} >>> 0) < (${yh} >>> 0) : (${xl} >>> 0) < (${yl} >>> 0))`;
const slt = (xl: string, xh: string, yl: string, yh: string): string =>
  `(${xh} !== ${yh} ? ${xh} < ${yh} : (${xl} >>> 0) < (${yl} >>> 0))`;

/** JMP: a boolean expression of al, ah, bl, bh. */
export const JMP64_SRC: Readonly<Record<JmpCond, string>> = {
  jeq: 'al === bl && ah === bh',
  jne: 'al !== bl || ah !== bh',
  jset: '(al & bl) !== 0 || (ah & bh) !== 0',
  jgt: ult('bl', 'bh', 'al', 'ah'),
  jge: `!${ult('al', 'ah', 'bl', 'bh')}`,
  jlt: ult('al', 'ah', 'bl', 'bh'),
  jle: `!${ult('bl', 'bh', 'al', 'ah')}`,
  jsgt: slt('bl', 'bh', 'al', 'ah'),
  jsge: `!${slt('al', 'ah', 'bl', 'bh')}`,
  jslt: slt('al', 'ah', 'bl', 'bh'),
  jsle: `!${slt('bl', 'bh', 'al', 'ah')}`,
};

/** JMP32: a boolean expression of a and b (the low halves). */
export const JMP32_SRC: Readonly<Record<JmpCond, string>> = {
  jeq: 'a === b',
  jne: 'a !== b',
  jset: '(a & b) !== 0',
  jgt: 'a >>> 0 > b >>> 0',
  jge: 'a >>> 0 >= b >>> 0',
  jlt: 'a >>> 0 < b >>> 0',
  jle: 'a >>> 0 <= b >>> 0',
  jsgt: 'a > b',
  jsge: 'a >= b',
  jslt: 'a < b',
  jsle: 'a <= b',
};

const BSWAP16 = (x: string): string => `(((${x} & 0xff) << 8) | ((${x} >>> 8) & 0xff))`;
const BSWAP32 = (x: string): string => `(((${x} & 0xff) << 24) | ((${x} & 0xff00) << 8) | ((${x} >>> 8) & 0xff00) | (${x} >>> 24))`;

/**
 * Byte-swap ops on a little-endian machine, statements setting rl, rh from al, ah: to-le truncates,
 * to-be and bswap swap and truncate.
 */
export function endianSrc(op: EndOp, bits: 16 | 32 | 64): string {
  if (op === 'le') return bits === 16 ? 'rl = al & 0xffff; rh = 0;' : bits === 32 ? 'rl = al; rh = 0;' : 'rl = al; rh = ah;';
  if (bits === 16) return `rl = ${BSWAP16('al')}; rh = 0;`;
  if (bits === 32) return `rl = ${BSWAP32('al')}; rh = 0;`;
  return `rl = ${BSWAP32('ah')}; rh = ${BSWAP32('al')};`;
}

// ---------------------------------------------------------------------------------------------------
// The same semantics as functions, compiled from the templates.

type Alu64 = (alo: number, ahi: number, blo: number, bhi: number) => void;
type Alu32 = (a: number, b: number) => number;
type Cmp64 = (alo: number, ahi: number, blo: number, bhi: number) => boolean;
type Cmp32 = (a: number, b: number) => boolean;

/** Compile `body` as a function of `params` with ALU_SCOPE's names bound. */
function compile<F>(params: string, body: string): F {
  const names = Object.keys(ALU_SCOPE);
  const make = new Function(...names, `'use strict'; return function (${params}) { ${body} };`) as (...v: unknown[]) => F;
  return make(...names.map((n) => ALU_SCOPE[n]));
}

function table<K extends string, F>(src: Readonly<Record<K, string>>, build: (s: string) => F): Readonly<Record<K, F>> {
  return Object.fromEntries(Object.entries(src).map(([k, s]) => [k, build(s as string)])) as Record<K, F>;
}

/** ALU64: dst = dst OP src, result in RES. For `neg`, only the first operand is used; for movsx, the second. */
export const ALU64: Readonly<Record<AluOp, Alu64>> = table(ALU64_SRC, (s) =>
  compile<Alu64>('al, ah, bl, bh', `let rl = 0, rh = 0; ${s} RES[0] = rl; RES[1] = rh;`));

/** ALU32 on the low halves; the caller zero-extends the result into the upper half. */
export const ALU32: Readonly<Record<AluOp, Alu32>> = table(ALU32_SRC, (s) => compile<Alu32>('a, b', `return ${s};`));

export const JMP64: Readonly<Record<JmpCond, Cmp64>> = table(JMP64_SRC, (s) => compile<Cmp64>('al, ah, bl, bh', `return ${s};`));

export const JMP32: Readonly<Record<JmpCond, Cmp32>> = table(JMP32_SRC, (s) => compile<Cmp32>('a, b', `return ${s};`));

const ENDIAN_FNS = new Map<string, (lo: number, hi: number) => void>();
for (const op of ['le', 'be', 'bswap'] as const) {
  for (const bits of [16, 32, 64] as const) {
    ENDIAN_FNS.set(`${op}${bits}`, compile('al, ah', `let rl = 0, rh = 0; ${endianSrc(op, bits)} RES[0] = rl; RES[1] = rh;`));
  }
}

/** A byte swap, result in RES. */
export function endian(op: EndOp, bits: 16 | 32 | 64, lo: number, hi: number): void {
  ENDIAN_FNS.get(`${op}${bits}`)!(lo, hi);
}
