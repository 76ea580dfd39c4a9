// The uBPF assembly dialect as the bpf_conformance suite writes it (its src/bpf_assembler.cc and
// bpf_disassembler.cc; shared/conformance/README.md): `ldxw %r0, [%r1+4]`, `jgt %r1, %r2, label`,
// `lock fetch add32 [%r10-8], %r1`, `movsx1632 %r0, %r1`, `call local func1`. Mnemonics are the opcode
// table's `mnemonic` field; this file adds only how operands are written.
//
// Linux-only instructions, which uBPF has no words for, are spelled here as:
//   lddw %r1, map_fd 5            ldimm64 with src_reg BPF_PSEUDO_MAP_FD (likewise map_idx, btf_id)
//   lddw %r1, map_value 5, 8      ... BPF_PSEUDO_MAP_VALUE: map fd, then the offset held in the second slot
//                                 (likewise map_idx_value; btf_id takes the module BTF fd there)
//   lddw %r1, func +3             ... BPF_PSEUDO_FUNC: a pc-relative subprog address; a label works too
//   call runtime 1234[, 2]        kfunc call (src_reg 2: bpf_conformance's "runtime" call), then the
//                                 fd_array index of its BTF when not vmlinux
//   call %r2                      callx, the register in dst as Linux and LLVM encode it (`callx %r2` too)
//   ldabsh 12 / ldindb %r1, 14    legacy packet loads, as uBPF's own disassembler named them

import { assembleLines, buildInsn, fitsBits, isHexLiteral, lddwSecondSlot, lineError, parseInteger, splitImm64, toInt32, type Parsed, type SourceLine } from './asm-common.js';
import type { Insn } from './insn.js';
import { lddwImm64 } from './insn.js';
import { MAX_BPF_REG, OPS, type CallKind, type OpInfo } from './opcodes.js';

// ---- spelling ----

const CALL_WORDS: Record<CallKind, string> = { helper: 'call', local: 'call local', kfunc: 'call runtime' };

/** The words before the operands: the table mnemonic, with the lock prefix and call modes spelled apart. */
function mnemonicOf(op: OpInfo): string {
  switch (op.kind) {
    case 'atomic': return op.mnemonic.replace(/_/g, ' ');  // lock_fetch_add32 -> lock fetch add32
    case 'call': return CALL_WORDS[op.target];
    case 'callx': return 'call';
    case 'lddw': return 'lddw';
    default: return op.mnemonic;
  }
}

/** `map_fd` for lddw_map_fd: the word naming a ldimm64 pseudo source, '' for a plain constant. */
const pseudoWord = (op: Extract<OpInfo, { kind: 'lddw' }>): string => op.name.slice('lddw_'.length);

/** bpf_conformance's _format_imm: small and negative numbers in decimal, the rest as u32 hex. */
function imm(n: number): string {
  return (n < 0 && n !== -0x80000000) || (n >= 0 && n <= 10) ? String(n) : `0x${(n >>> 0).toString(16)}`;
}

const reg = (n: number): string => `%r${n}`;
const mem = (base: number, off: number): string => (off === 0 ? `[%r${base}]` : `[%r${base}${off > 0 ? '+' : ''}${off}]`);
const target = (n: number): string => (n >= 0 ? `+${n}` : `${n}`);

/** The uBPF text of the instruction at i, whose table entry is op (see disasm.ts formatInsn, flavour 'ubpf'). */
export function formatUbpf(insns: readonly Insn[], i: number, op: OpInfo): string {
  const x = insns[i]!;
  const m = mnemonicOf(op);
  switch (op.kind) {
    case 'alu':
      if (op.op === 'neg') return `${m} ${reg(x.dst)}`;
      return `${m} ${reg(x.dst)}, ${op.srcReg ? reg(x.src) : imm(x.imm)}`;
    case 'end': return `${m} ${reg(x.dst)}`;
    case 'ja': return `${m} ${target(op.long ? x.imm : x.off)}`;
    case 'jcond': return `${m} ${reg(x.dst)}, ${op.srcReg ? reg(x.src) : imm(x.imm)}, ${target(x.off)}`;
    case 'call':
      if (op.target === 'local') return `${m} ${target(x.imm)}`;
      return `${m} ${x.imm}${op.target === 'kfunc' && x.off !== 0 ? `, ${x.off}` : ''}`;
    case 'callx': return `${m} ${reg(x.dst)}`;
    case 'exit': return m;
    case 'lddw': {
      if (op.pseudo === 0) return `${m} ${reg(x.dst)}, 0x${lddwImm64(insns, i).toString(16)}`;
      const hi = insns[i + 1]!.imm;
      const value = op.name === 'lddw_func' ? target(x.imm) : String(x.imm);
      return `${m} ${reg(x.dst)}, ${pseudoWord(op)} ${value}${hi !== 0 ? `, ${hi}` : ''}`;
    }
    case 'ldabs': return op.indirect ? `${m} ${reg(x.src)}, ${imm(x.imm)}` : `${m} ${imm(x.imm)}`;
    case 'ldx': return `${m} ${reg(x.dst)}, ${mem(x.src, x.off)}`;
    case 'st': return `${m} ${mem(x.dst, x.off)}, ${imm(x.imm)}`;
    case 'stx':
    case 'atomic': return `${m} ${mem(x.dst, x.off)}, ${reg(x.src)}`;
  }
}

// ---- assembler ----

/** Entries by the words before their operands; aliases the suite uses as well. */
const BY_MNEMONIC: ReadonlyMap<string, readonly OpInfo[]> = (() => {
  const m = new Map<string, OpInfo[]>();
  const add = (key: string, op: OpInfo) => {
    const list = m.get(key);
    if (list === undefined) m.set(key, [op]);
    else list.push(op);
  };
  for (const op of OPS) {
    add(mnemonicOf(op), op);
    // RFC 9669 calls the unconditional byte swap SWAP; bpf_conformance accepts both spellings.
    if (op.kind === 'end' && op.op === 'bswap') add(`swap${op.bits}`, op);
    if (op.kind === 'call' && op.target === 'helper') add('call helper', op);
    if (op.kind === 'callx') add('callx', op);
  }
  return m;
})();

const CALL_MODES = new Set(['local', 'runtime', 'helper']);
const LABEL_NAME = /^[A-Za-z_.$][\w.$]*$/;

/** Assemble uBPF/bpf_conformance text. A ldimm64 takes two slots; `exit` names the first exit unless a label does. */
export function assembleUbpf(text: string): Insn[] {
  return assembleLines(text, parseLine, { implicitExitLabel: true });
}

function parseLine(text: string, line: SourceLine): Parsed {
  const words = text.split(/\s+/);
  let mnemonic = words.shift()!;
  // `lock [fetch] op`, `call [local|runtime|helper]`: the leading words are part of the mnemonic.
  if (mnemonic === 'lock') {
    if (words[0] === 'fetch') mnemonic += ` ${words.shift()!}`;
    const opWord = words.shift();
    if (opWord === undefined || opWord.startsWith('[')) throw lineError(line, 'invalid number of operands for lock: expected an operation, a memory operand and a register');
    mnemonic += ` ${opWord}`;
  } else if (mnemonic === 'call' && words.length > 1 && CALL_MODES.has(words[0]!)) {
    mnemonic += ` ${words.shift()!}`;
  }
  const rest = words.join(' ').trim();
  const operands = rest === '' ? [] : rest.split(',').map((s) => s.trim());
  const candidates = BY_MNEMONIC.get(mnemonic);
  if (candidates === undefined) throw lineError(line, `invalid mnemonic '${mnemonic}'`);
  return new OperandParser(line, mnemonic, operands).parse(candidates);
}

class OperandParser {
  constructor(private readonly line: SourceLine, private readonly mnemonic: string, private readonly ops: readonly string[]) {}

  private fail(what: string): never {
    throw lineError(this.line, what);
  }

  private count(min: number, max = min): void {
    const n = this.ops.length;
    if (n < min || n > max) {
      this.fail(`invalid number of operands for ${this.mnemonic}: expected ${min === max ? min : `${min} to ${max}`}, got ${n}`);
    }
  }

  private operand(k: number): string {
    const s = this.ops[k]!;
    if (s === '') this.fail(`empty operand ${k + 1}`);
    return s;
  }

  private isReg(k: number): boolean {
    return this.operand(k).startsWith('%');
  }

  private reg(k: number): number {
    const s = this.operand(k);
    const m = /^%r(\d+)$/.exec(s);
    if (m === null) this.fail(s.startsWith('%') ? `invalid register ${s}` : `expected a register, got '${s}'`);
    const n = Number(m[1]);
    if (n >= MAX_BPF_REG) this.fail(`invalid register ${s}: BPF has %r0-%r10`);
    return n;
  }

  /** bpf_conformance reads hex as the 32-bit pattern (0xffffffff is -1) and decimal as a signed int32. */
  private imm32(k: number): number {
    const s = this.operand(k);
    const v = parseInteger(s);
    if (v === undefined) this.fail(`invalid immediate '${s}'`);
    const ok = isHexLiteral(s) ? fitsBits(v, 32) : v >= -(1n << 31n) && v < 1n << 31n;
    if (!ok) this.fail(`immediate ${s} out of the 32-bit range`);
    return toInt32(v);
  }

  private int(s: string, bits: 16 | 32, what: string): number {
    const v = parseInteger(s);
    if (v === undefined) this.fail(`invalid ${what} '${s}'`);
    if (v < -(1n << BigInt(bits - 1)) || v >= 1n << BigInt(bits - 1)) this.fail(`${what} ${s} out of the ${bits}-bit range`);
    return Number(v);
  }

  /** `[%r1]`, `[%r1+4]`, `[%r10-8]`. */
  private mem(k: number): { base: number; off: number } {
    const s = this.operand(k);
    const m = /^\[\s*(%\w+)\s*(?:([+-])\s*(\w+)\s*)?\]$/.exec(s);
    if (m === null) this.fail(`invalid memory operand '${s}': expected [%rN], [%rN+off] or [%rN-off]`);
    const base = this.regText(m[1]!);
    const off = m[2] === undefined ? 0 : this.int(`${m[2]}${m[3]!}`, 16, 'offset');
    return { base, off };
  }

  private regText(s: string): number {
    const m = /^%r(\d+)$/.exec(s);
    if (m === null || Number(m[1]) >= MAX_BPF_REG) this.fail(`invalid register ${s}`);
    return Number(m[1]);
  }

  /** A jump target: `+N`/`-N`, or a label whose distance assembleLines fills in. */
  private target(k: number, bits: 16 | 32): { value: number } | { label: string } {
    const s = this.operand(k);
    if (/^[+-]?(0x[0-9a-f]+|\d+)$/i.test(s)) return { value: this.int(s, bits, 'jump offset') };
    if (!LABEL_NAME.test(s)) this.fail(`invalid jump target '${s}'`);
    return { label: s };
  }

  private withTarget(insns: Insn[], t: { value: number } | { label: string }, field: 'off' | 'imm'): Parsed {
    if ('label' in t) return { insns, label: { name: t.label, field } };
    insns[0]![field] = t.value;
    return { insns };
  }

  parse(candidates: readonly OpInfo[]): Parsed {
    const first = candidates[0]!;
    // Entries sharing a mnemonic differ in whether an operand is a register (alu, jumps; call vs callx).
    const pick = (srcReg: boolean): OpInfo => {
      const op = candidates.find((c) => (c.kind === 'alu' || c.kind === 'jcond' ? c.srcReg === srcReg : c.kind === 'callx' ? srcReg : !srcReg));
      if (op === undefined) this.fail(`${this.mnemonic} takes ${srcReg ? 'no register' : 'a register'} operand here`);
      return op;
    };
    switch (first.kind) {
      case 'alu': {
        if (first.op === 'neg') {
          this.count(1);
          return { insns: [buildInsn(first, { dst: this.reg(0) })] };
        }
        this.count(2);
        const op = pick(this.isReg(1));
        return { insns: [buildInsn(op, op.kind === 'alu' && op.srcReg ? { dst: this.reg(0), src: this.reg(1) } : { dst: this.reg(0), imm: this.imm32(1) })] };
      }
      case 'end':
        this.count(1);
        return { insns: [buildInsn(first, { dst: this.reg(0) })] };
      case 'ja': {
        this.count(1);
        const long = first.long;
        return this.withTarget([buildInsn(first, {})], this.target(0, long ? 32 : 16), long ? 'imm' : 'off');
      }
      case 'jcond': {
        this.count(3);
        const op = pick(this.isReg(1));
        const f = op.kind === 'jcond' && op.srcReg ? { dst: this.reg(0), src: this.reg(1) } : { dst: this.reg(0), imm: this.imm32(1) };
        return this.withTarget([buildInsn(op, f)], this.target(2, 16), 'off');
      }
      case 'call':
      case 'callx':
        return this.parseCall(candidates, pick);
      case 'exit':
        this.count(0);
        return { insns: [buildInsn(first, {})] };
      case 'lddw':
        return this.parseLddw(candidates);
      case 'ldabs':
        if (first.indirect) {
          this.count(2);
          return { insns: [buildInsn(first, { src: this.reg(0), imm: this.imm32(1) })] };
        }
        this.count(1);
        return { insns: [buildInsn(first, { imm: this.imm32(0) })] };
      case 'ldx': {
        this.count(2);
        const dst = this.reg(0);
        const { base, off } = this.mem(1);
        return { insns: [buildInsn(first, { dst, src: base, off })] };
      }
      case 'st': {
        this.count(2);
        const { base, off } = this.mem(0);
        return { insns: [buildInsn(first, { dst: base, off, imm: this.imm32(1) })] };
      }
      case 'stx':
      case 'atomic': {
        this.count(2);
        const { base, off } = this.mem(0);
        return { insns: [buildInsn(first, { dst: base, off, src: this.reg(1) })] };
      }
    }
  }

  private parseCall(candidates: readonly OpInfo[], pick: (srcReg: boolean) => OpInfo): Parsed {
    const first = candidates[0]!;
    if (first.kind === 'call' && first.target === 'kfunc') {
      this.count(1, 2);
      return { insns: [buildInsn(first, { imm: this.int(this.operand(0), 32, 'kfunc id'), off: this.ops.length > 1 ? this.int(this.operand(1), 16, 'BTF index') : 0 })] };
    }
    this.count(1);
    if (first.kind === 'call' && first.target === 'local') return this.withTarget([buildInsn(first, {})], this.target(0, 32), 'imm');
    const op = pick(this.isReg(0));
    return { insns: [op.kind === 'callx' ? buildInsn(op, { dst: this.reg(0) }) : buildInsn(op, { imm: this.int(this.operand(0), 32, 'helper id') })] };
  }

  private parseLddw(candidates: readonly OpInfo[]): Parsed {
    this.count(2, 3);
    const dst = this.reg(0);
    const value = this.operand(1);
    const space = value.indexOf(' ');
    const word = space < 0 ? '' : value.slice(0, space);
    const op = candidates.find((c) => c.kind === 'lddw' && pseudoWord(c) === word);
    if (op === undefined || op.kind !== 'lddw') this.fail(`invalid lddw source '${word}': expected a constant or one of ${candidates.map((c) => (c.kind === 'lddw' ? pseudoWord(c) : '')).filter(Boolean).join(', ')}`);
    if (op.pseudo === 0) {
      if (this.ops.length !== 2) this.fail(`invalid number of operands for lddw: expected 2, got ${this.ops.length}`);
      const v = parseInteger(value);
      if (v === undefined) this.fail(`invalid immediate '${value}'`);
      if (!fitsBits(v, 64)) this.fail(`immediate ${value} out of the 64-bit range`);
      const [lo, hi] = splitImm64(v);
      return { insns: [buildInsn(op, { dst, imm: lo }), lddwSecondSlot(hi)] };
    }
    const arg = value.slice(space + 1).trim();
    const hi = this.ops.length > 2 ? this.int(this.operand(2), 32, 'second-slot immediate') : 0;
    const insns = [buildInsn(op, { dst }), lddwSecondSlot(hi)];
    if (op.name === 'lddw_func') {
      const t = /^[+-]?(0x[0-9a-f]+|\d+)$/i.test(arg) ? { value: this.int(arg, 32, 'subprog offset') } : LABEL_NAME.test(arg) ? { label: arg } : this.fail(`invalid subprog target '${arg}'`);
      return this.withTarget(insns, t, 'imm');
    }
    insns[0]!.imm = this.int(arg, 32, `${word} value`);
    return { insns };
  }
}
