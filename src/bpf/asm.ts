// An assembler for the pseudo-C BPF syntax of LLVM (llvm-mc -triple bpf, what llvm-objdump prints and
// what disasm.ts formats as flavour 'llvm'): `r0 = *(u32 *)(r1 + 4)`, `if w1 s< 5 goto -3`,
// `lock *(u64 *)(r10 - 8) += r1`, `r1 = 0x1122334455667788 ll`, with `name:` labels for jump, call and
// subprog-address targets as llvm-mc takes them (`goto out`, `call my_func`). It also reads the lossless
// spellings the formatter can add (`call pc-1`, `call kfunc 1234`), the alu32 forms (`w1 = *(u32 *)...`),
// and LLVM 17+'s v4 spellings llvm-14 lacks. The operator text comes from disasm.ts and every encoding
// from the opcode table, so what the formatter prints reads back to the same instruction.

import { assembleLines, buildInsn, fitsBits, lddwSecondSlot, lineError, splitImm64, toInt32, type Fields, type Parsed, type SourceLine } from './asm-common.js';
import { ALU_TEXT, ATOMIC_TEXT, JMP_TEXT, KFUNC_WORD, LLVM_XCHG_NAME, loadType } from './disasm.js';
import type { Insn } from './insn.js';
import { MAX_BPF_REG, OPS, type AluOp, type AtomicOp, type JmpCond, type OpInfo, type OpKind, type Size } from './opcodes.js';

/** Assemble LLVM-syntax BPF text; a ldimm64 takes two slots. Bad input is a BpfError(EINVAL) naming the line. */
export function assemble(text: string): Insn[] {
  return assembleLines(text, parseStatement);
}

// ---- reverse spelling maps, built from the formatter's tables ----

/** Compound assignments (`+=`, `s>>=`): every ALU op whose operator is not plain `=`. */
const ALU_BY_OPERATOR = new Map<string, AluOp>();
/** `(s8)` -> movsx8. */
const MOVSX_BY_CAST = new Map<string, AluOp>();
for (const [op, [operator, prefix]] of Object.entries(ALU_TEXT) as [AluOp, readonly [string, string]][]) {
  if (operator !== '=') ALU_BY_OPERATOR.set(operator, op);
  else if (prefix.startsWith('(')) MOVSX_BY_CAST.set(prefix, op);
}
const JMP_BY_OPERATOR = new Map((Object.entries(JMP_TEXT) as [JmpCond, string][]).map(([cond, text]) => [text, cond]));
const LOCK_BY_OPERATOR = new Map<string, AtomicOp>();
const FETCH_BY_NAME = new Map<string, AtomicOp>();
for (const [op, form] of Object.entries(ATOMIC_TEXT) as [AtomicOp, (typeof ATOMIC_TEXT)[AtomicOp]][]) {
  if (form.form === 'lock') LOCK_BY_OPERATOR.set(form.operator, op);
  if (form.form === 'fetch') FETCH_BY_NAME.set(`atomic_fetch_${form.name}`, op);
}
const XCHG_BY_NAME = new Map<string, { op: 'xchg' | 'cmpxchg'; size: 4 | 8 }>();
for (const op of ['xchg', 'cmpxchg'] as const) {
  for (const size of [4, 8] as const) XCHG_BY_NAME.set(LLVM_XCHG_NAME[op][size], { op, size });
}
const TYPES = new Map<string, { size: Size; signed: boolean }>();
for (const size of [1, 2, 4, 8] as const) {
  TYPES.set(loadType(size, false), { size, signed: false });
  if (size !== 8) TYPES.set(loadType(size, true), { size, signed: true });
}

type Entry<K extends OpKind> = Extract<OpInfo, { kind: K }>;

/** The table entry of a kind that satisfies pred, or undefined (e.g. a 32-bit movsx from s32 does not exist). */
function entry<K extends OpKind>(kind: K, pred: (op: Entry<K>) => boolean = () => true): Entry<K> | undefined {
  for (const op of OPS) if (op.kind === kind && pred(op as Entry<K>)) return op as Entry<K>;
  return undefined;
}

// ---- tokens ----

// Operators that start with `s` (signed forms) before identifiers, longest operators first.
const TOKEN = /\s*(s(?:>>=|\/=|%=|>=|<=|>|<)|<<=|>>=|[-+*/%|&^]=|==|!=|>=|<=|0x[0-9a-f]+|\d+|[A-Za-z_.$][\w.$]*|[-+*()[\],<>=&])/iy;
const NUMBER = /^(0x[0-9a-f]+|\d+)$/i;
const REGISTER = /^([rw])(\d+)$/;
const IDENT = /^[A-Za-z_.$][\w.$]*$/;

function tokenize(text: string, line: SourceLine): string[] {
  const toks: string[] = [];
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < text.length) {
    const at = TOKEN.lastIndex;
    const m = TOKEN.exec(text);
    if (m === null) {
      if (text.slice(at).trim() === '') break;
      throw lineError(line, `unexpected character '${text.slice(at).trim()[0]}'`);
    }
    toks.push(m[1]!);
  }
  return toks;
}

interface Reg {
  readonly n: number;
  /** Written as the 32-bit subregister wN. */
  readonly w: boolean;
}

type Target = { readonly value: number } | { readonly label: string };

class Cursor {
  private k = 0;
  constructor(private readonly toks: readonly string[], private readonly line: SourceLine) {}

  fail(what: string): never {
    throw lineError(this.line, what);
  }

  peek(ahead = 0): string | undefined {
    return this.toks[this.k + ahead];
  }

  next(what: string): string {
    const t = this.toks[this.k];
    if (t === undefined) this.fail(`expected ${what} at end of line`);
    this.k++;
    return t;
  }

  eat(t: string): boolean {
    if (this.toks[this.k] !== t) return false;
    this.k++;
    return true;
  }

  expect(t: string): void {
    const got = this.toks[this.k];
    if (got !== t) this.fail(`expected '${t}' ${got === undefined ? 'at end of line' : `before '${got}'`}`);
    this.k++;
  }

  end(): void {
    const t = this.toks[this.k];
    if (t !== undefined) this.fail(`unexpected '${t}' after the instruction`);
  }

  isReg(ahead = 0): boolean {
    return REGISTER.test(this.toks[this.k + ahead] ?? '');
  }

  isInt(): boolean {
    const t = this.peek();
    return NUMBER.test(t ?? '') || ((t === '-' || t === '+') && NUMBER.test(this.peek(1) ?? ''));
  }

  reg(): Reg {
    const t = this.next('a register');
    const m = REGISTER.exec(t);
    if (m === null) this.fail(`expected a register, got '${t}'`);
    const n = Number(m[2]);
    if (n >= MAX_BPF_REG) this.fail(`invalid register ${t}: BPF has r0-r10`);
    return { n, w: m[1] === 'w' };
  }

  /** A 64-bit register (r0-r10); w names only appear where LLVM prints them. */
  reg64(): number {
    const r = this.reg();
    if (r.w) this.fail(`expected r${r.n}, not w${r.n}, here`);
    return r.n;
  }

  int(): bigint {
    let sign = 1n;
    if (this.eat('-')) sign = -1n;
    else this.eat('+');
    const t = this.next('a number');
    if (!NUMBER.test(t)) this.fail(`expected a number, got '${t}'`);
    return sign * BigInt(t);
  }

  /** A 32-bit immediate: llvm-mc takes anything that fits as signed or unsigned (0xffffffff is -1). */
  imm32(): number {
    const v = this.int();
    if (!fitsBits(v, 32)) this.fail(`immediate ${v} does not fit 32 bits`);
    return toInt32(v);
  }

  /** A jump or call target: a signed distance, or a label resolved after the whole text is read. */
  target(bits: 16 | 32): Target {
    if (this.isInt()) {
      const v = this.int();
      if (v < -(1n << BigInt(bits - 1)) || v >= 1n << BigInt(bits - 1)) this.fail(`jump offset ${v} does not fit ${bits} bits`);
      return { value: Number(v) };
    }
    const t = this.next('a jump target');
    if (!IDENT.test(t) || REGISTER.test(t)) this.fail(`expected a jump offset or label, got '${t}'`);
    return { label: t };
  }

  /** `(u32 *)`: the access type of a load, store or atomic. */
  accessType(): { size: Size; signed: boolean } {
    this.expect('(');
    const t = this.next('an access type');
    const type = TYPES.get(t);
    if (type === undefined) this.fail(`unknown access type '${t}': expected one of ${[...TYPES.keys()].join(', ')}`);
    this.expect('*');
    this.expect(')');
    return type;
  }

  /** `r1 + 4`, `r10 - 8` (LLVM always prints the offset; it may be left out here). */
  address(): { base: number; off: number } {
    const base = this.reg64();
    let off = 0n;
    if (this.peek() === '+' || this.peek() === '-') {
      const negative = this.next('+ or -') === '-';
      const v = this.int();
      off = negative ? -v : v;
    }
    if (off < -0x8000n || off > 0x7fffn) this.fail(`offset ${off} does not fit 16 bits`);
    return { base, off: Number(off) };
  }

  /** `(r1 + 4)`. */
  memory(): { base: number; off: number } {
    this.expect('(');
    const a = this.address();
    this.expect(')');
    return a;
  }
}

// ---- statements ----

function one(c: Cursor, op: OpInfo | undefined, f: Fields, what: string): Parsed {
  if (op === undefined) c.fail(what);
  c.end();
  return { insns: [buildInsn(op, f)] };
}

function withTarget(c: Cursor, insns: Insn[], t: Target, field: 'off' | 'imm'): Parsed {
  c.end();
  if ('label' in t) return { insns, label: { name: t.label, field } };
  insns[0]![field] = t.value;
  return { insns };
}

function sameWidth(c: Cursor, a: Reg, b: Reg): void {
  if (a.w !== b.w) c.fail(`r and w registers mixed: both operands must be ${a.w ? 'w' : 'r'} registers`);
}

function parseStatement(text: string, line: SourceLine): Parsed {
  const c = new Cursor(tokenize(text, line), line);
  const head = c.peek();
  switch (head) {
    case 'exit':
      c.next('exit');
      return one(c, entry('exit'), {}, 'no exit');
    case 'goto':
    case 'gotol': {
      c.next(head);
      const long = head === 'gotol';
      const op = entry('ja', (o) => o.long === long)!;
      return withTarget(c, [buildInsn(op, {})], c.target(long ? 32 : 16), long ? 'imm' : 'off');
    }
    case 'call':
      return parseCall(c);
    case 'callx':
      c.next(head);
      return one(c, entry('callx'), { dst: c.reg64() }, 'no callx');
    case 'if':
      return parseIf(c);
    case 'lock':
      return parseLock(c);
    case 'ld_pseudo':
      return parseLdPseudo(c);
    case '*':
      return parseStore(c);
  }
  if (!c.isReg()) c.fail(head === undefined ? 'empty statement' : `unknown instruction '${head}'`);
  return parseAssignment(c);
}

function parseCall(c: Cursor): Parsed {
  c.next('call');
  if (c.eat('pc')) {
    const t = c.target(32);
    return withTarget(c, [buildInsn(entry('call', (o) => o.target === 'local')!, {})], t, 'imm');
  }
  if (c.peek() === KFUNC_WORD && c.peek(1) !== undefined) {
    c.next(KFUNC_WORD);
    const imm = c.imm32();
    let off = 0;
    if (c.eat(',')) {
      const v = c.int();
      if (v < -0x8000n || v > 0x7fffn) c.fail(`kfunc BTF index ${v} does not fit 16 bits`);
      off = Number(v);
    }
    return one(c, entry('call', (o) => o.target === 'kfunc'), { imm, off }, 'no kfunc call');
  }
  // llvm-mc: a number is a helper id, a symbol is a bpf-to-bpf call.
  if (c.isInt()) return one(c, entry('call', (o) => o.target === 'helper'), { imm: c.imm32() }, 'no helper call');
  return withTarget(c, [buildInsn(entry('call', (o) => o.target === 'local')!, {})], c.target(32), 'imm');
}

function parseIf(c: Cursor): Parsed {
  c.next('if');
  const dst = c.reg();
  const optext = c.next('a comparison');
  const cond = JMP_BY_OPERATOR.get(optext);
  if (cond === undefined) c.fail(`unknown comparison '${optext}': expected one of ${[...JMP_BY_OPERATOR.keys()].join(' ')}`);
  const f: Fields = { dst: dst.n };
  const srcReg = c.isReg();
  if (srcReg) {
    const src = c.reg();
    sameWidth(c, dst, src);
    f.src = src.n;
  } else {
    f.imm = c.imm32();
  }
  c.expect('goto');
  const op = entry('jcond', (o) => o.cond === cond && o.jmp32 === dst.w && o.srcReg === srcReg)!;
  return withTarget(c, [buildInsn(op, f)], c.target(16), 'off');
}

/** `lock *(u64 *)(r1 + 0) += r2`. */
function parseLock(c: Cursor): Parsed {
  c.next('lock');
  c.expect('*');
  const { size } = c.accessType();
  const { base, off } = c.memory();
  const optext = c.next('an atomic operator');
  const aop = LOCK_BY_OPERATOR.get(optext);
  if (aop === undefined) c.fail(`unknown atomic operator '${optext}': expected one of ${[...LOCK_BY_OPERATOR.keys()].join(' ')}`);
  const src = atomicOperand(c, size);
  return one(c, entry('atomic', (o) => o.op === aop && o.size === size), { dst: base, off, src }, `no ${size * 8}-bit atomic ${optext}`);
}

/** The register of a W/DW atomic: LLVM prints a 32-bit one as wN (with +alu32) or rN. */
function atomicOperand(c: Cursor, size: Size): number {
  const r = c.reg();
  if (r.w && size === 8) c.fail(`a 64-bit atomic takes r${r.n}, not w${r.n}`);
  return r.n;
}

/** `ld_pseudo r1, 2, 42`: LLVM's ldimm64 with a pseudo source. */
function parseLdPseudo(c: Cursor): Parsed {
  c.next('ld_pseudo');
  const dst = c.reg64();
  c.expect(',');
  const pseudo = c.int();
  c.expect(',');
  const value = c.int();
  c.end();
  const op = entry('lddw', (o) => BigInt(o.pseudo) === pseudo);
  if (op === undefined) c.fail(`unknown ldimm64 pseudo source ${pseudo}`);
  if (!fitsBits(value, 64)) c.fail(`immediate ${value} does not fit 64 bits`);
  const [lo, hi] = splitImm64(value);
  return { insns: [buildInsn(op, { dst, imm: lo }), lddwSecondSlot(hi)] };
}

/** `*(u32 *)(r1 + 4) = r2` (STX) or `= 5` (ST). */
function parseStore(c: Cursor): Parsed {
  c.next('*');
  const type = c.accessType();
  if (type.signed) c.fail(`a store has no signed access type (${loadType(type.size, true)})`);
  const { base, off } = c.memory();
  c.expect('=');
  if (c.isReg()) {
    const src = c.reg();
    if (src.w && type.size === 8) c.fail(`a 64-bit store takes r${src.n}, not w${src.n}`);
    return one(c, entry('stx', (o) => o.size === type.size), { dst: base, off, src: src.n }, 'no such store');
  }
  return one(c, entry('st', (o) => o.size === type.size), { dst: base, off, imm: c.imm32() }, 'no such store');
}

function parseAssignment(c: Cursor): Parsed {
  const dst = c.reg();
  const optext = c.next('an operator');
  if (optext !== '=') {
    const aluop = ALU_BY_OPERATOR.get(optext);
    if (aluop === undefined) c.fail(`unknown operator '${optext}'`);
    return parseAlu(c, dst, aluop);
  }
  const t = c.peek();
  if (t === '-' && c.isReg(1)) {
    c.next('-');
    const src = c.reg();
    if (src.n !== dst.n || src.w !== dst.w) c.fail(`negation works in place: expected ${dst.w ? 'w' : 'r'}${dst.n} = -${dst.w ? 'w' : 'r'}${dst.n}`);
    return one(c, entry('alu', (o) => o.op === 'neg' && o.alu64 === !dst.w), { dst: dst.n }, 'no neg');
  }
  if (t === '*') return parseLoad(c, dst);
  if (t === '(') {
    c.next('(');
    const cast = `(${c.next('a cast type')})`;
    c.expect(')');
    const aluop = MOVSX_BY_CAST.get(cast);
    if (aluop === undefined) c.fail(`unknown sign-extension ${cast}: expected one of ${[...MOVSX_BY_CAST.keys()].join(' ')}`);
    const src = c.reg();
    sameWidth(c, dst, src);
    return one(c, entry('alu', (o) => o.op === aluop && o.alu64 === !dst.w), { dst: dst.n, src: src.n }, `no 32-bit sign extension from ${cast}`);
  }
  if (t !== undefined && /^(le|be|bswap)(16|32|64)$/.test(t)) return parseEnd(c, dst);
  if (t !== undefined && FETCH_BY_NAME.has(t)) return parseFetch(c, dst, FETCH_BY_NAME.get(t)!);
  if (t !== undefined && XCHG_BY_NAME.has(t)) return parseXchg(c, dst, XCHG_BY_NAME.get(t)!);
  if (c.isReg()) return parseAlu(c, dst, 'mov');
  if (c.isInt()) {
    const v = c.int();
    if (c.eat('ll')) {
      if (dst.w) c.fail('a 64-bit immediate load takes an r register');
      if (!fitsBits(v, 64)) c.fail(`immediate ${v} does not fit 64 bits`);
      c.end();
      const [lo, hi] = splitImm64(v);
      return { insns: [buildInsn(entry('lddw', (o) => o.pseudo === 0)!, { dst: dst.n, imm: lo }), lddwSecondSlot(hi)] };
    }
    if (!fitsBits(v, 32)) c.fail(`immediate ${v} does not fit 32 bits (a 64-bit constant needs the 'll' suffix)`);
    return one(c, entry('alu', (o) => o.op === 'mov' && o.alu64 === !dst.w && !o.srcReg), { dst: dst.n, imm: toInt32(v) }, 'no mov');
  }
  return c.fail(`cannot read the right-hand side '${t ?? ''}'`);
}

/** `r1 += r2`, `w1 s>>= 3`, `r1 = r2`. */
function parseAlu(c: Cursor, dst: Reg, aluop: AluOp): Parsed {
  const srcReg = c.isReg();
  const f: Fields = { dst: dst.n };
  if (srcReg) {
    const src = c.reg();
    sameWidth(c, dst, src);
    f.src = src.n;
  } else {
    f.imm = c.imm32();
  }
  return one(c, entry('alu', (o) => o.op === aluop && o.alu64 === !dst.w && o.srcReg === srcReg), f, `no ${aluop} with ${srcReg ? 'a register' : 'an immediate'}`);
}

/** `r0 = *(u32 *)(r1 + 4)`, `r0 = *(s8 *)(...)`, `r0 = *(u16 *)skb[12]`, `r0 = *(u8 *)skb[r1]`. */
function parseLoad(c: Cursor, dst: Reg): Parsed {
  c.next('*');
  const type = c.accessType();
  if (c.eat('skb')) {
    if (dst.n !== 0 || dst.w) c.fail('a legacy packet load always loads into r0');
    if (type.signed || type.size === 8) c.fail(`a legacy packet load reads u8, u16 or u32, not ${loadType(type.size, type.signed)}`);
    c.expect('[');
    if (c.isReg()) {
      // skb[r1 + imm]: unlike a memory offset, the added immediate is 32 bits wide.
      const src = c.reg64();
      let imm = 0;
      if (c.peek() === '+' || c.peek() === '-') {
        const negative = c.next('+ or -') === '-';
        const v = c.int();
        if (!fitsBits(negative ? -v : v, 32)) c.fail(`packet offset ${negative ? -v : v} does not fit 32 bits`);
        imm = toInt32(negative ? -v : v);
      }
      c.expect(']');
      return one(c, entry('ldabs', (o) => o.indirect && o.size === type.size), { src, imm }, 'no such packet load');
    }
    const imm = c.imm32();
    c.expect(']');
    return one(c, entry('ldabs', (o) => !o.indirect && o.size === type.size), { imm }, 'no such packet load');
  }
  const { base, off } = c.memory();
  if (dst.w && (type.size === 8 || type.signed)) c.fail(`a ${loadType(type.size, type.signed)} load takes r${dst.n}, not w${dst.n}`);
  return one(c, entry('ldx', (o) => o.size === type.size && o.signed === type.signed), { dst: dst.n, src: base, off }, `no ${loadType(type.size, type.signed)} load`);
}

/** `r1 = be16 r1`, `r1 = bswap64 r1`. */
function parseEnd(c: Cursor, dst: Reg): Parsed {
  const word = c.next('a byte-swap');
  const m = /^(le|be|bswap)(16|32|64)$/.exec(word)!;
  const src = c.reg();
  if (dst.w || src.w || src.n !== dst.n) c.fail(`a byte swap works in place on an r register: expected r${dst.n} = ${word} r${dst.n}`);
  return one(c, entry('end', (o) => o.op === m[1] && o.bits === Number(m[2])), { dst: dst.n }, `no ${word}`);
}

/** `r2 = atomic_fetch_add((u64 *)(r1 + 0), r2)`. */
function parseFetch(c: Cursor, dst: Reg, aop: AtomicOp): Parsed {
  const name = c.next('atomic_fetch_*');
  c.expect('(');
  const { size } = c.accessType();
  const { base, off } = c.memory();
  c.expect(',');
  const src = atomicOperand(c, size);
  c.expect(')');
  if (src !== dst.n) c.fail(`${name} loads the old value into its operand register: expected r${src} = ...`);
  return one(c, entry('atomic', (o) => o.op === aop && o.size === size), { dst: base, off, src }, `no ${size * 8}-bit ${name}`);
}

/** `r2 = xchg_64(r1 + 0, r2)`, `r0 = cmpxchg_64(r1 + 0, r0, r2)`. */
function parseXchg(c: Cursor, dst: Reg, x: { op: 'xchg' | 'cmpxchg'; size: 4 | 8 }): Parsed {
  const name = c.next(x.op);
  c.expect('(');
  const { base, off } = c.address();
  c.expect(',');
  if (x.op === 'cmpxchg') {
    // BPF_CMPXCHG compares with and loads into r0, implicitly.
    const r0 = c.reg();
    if (r0.n !== 0 || dst.n !== 0) c.fail(`${name} compares with and returns in r0: expected r0 = ${name}(..., r0, src)`);
    c.expect(',');
  }
  const src = atomicOperand(c, x.size);
  c.expect(')');
  if (x.op === 'xchg' && src !== dst.n) c.fail(`${name} returns the old value in its operand register: expected r${src} = ...`);
  return one(c, entry('atomic', (o) => o.op === x.op && o.size === x.size), { dst: base, off, src }, `no ${name}`);
}
