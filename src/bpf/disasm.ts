// BPF instructions as text, one formatter for three spellings:
//  - 'llvm': what `llvm-objdump-14 -d` prints (LLVM's BPFInstPrinter over BPFInstrInfo.td), e.g.
//    `r0 = *(u32 *)(r1 + 4)`, `if w1 s< 5 goto -3`. Where llvm-14 has no decoder for an instruction (ISA v4,
//    BPF_MOD, BPF_JSET, BPF_ST) it prints `<unknown>`; we print the spelling LLVM 17+ uses instead.
//  - 'kernel': print_bpf_insn() of kernel/bpf/disasm.c, as the verifier log and `bpftool prog dump xlated`
//    (tools/bpf/bpftool/xlated_dumper.c) show it: `(85) call bpf_map_lookup_elem#1`, `goto pc+3`. Names of
//    helpers, subprogs and maps come from callbacks, as the kernel's struct bpf_insn_cbs (cb_call, cb_imm).
//  - 'ubpf': the uBPF / bpf_conformance mnemonics (`ldxw %r0, [%r1+4]`), formatted by ubpf.ts.
// The assembler (asm.ts) reads the 'llvm' text back through the same spelling tables below.

import { encode, lddwImm64, type Insn } from './insn.js';
import {
  BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_IDX_VALUE, BPF_PSEUDO_MAP_VALUE, BPF_PSEUDO_FUNC, findOp, isWide, SIZE_TYPE,
  type AluOp, type AtomicOp, type JmpCond, type OpInfo, type Size,
} from './opcodes.js';
import { formatUbpf } from './ubpf.js';

export type Flavour = 'llvm' | 'kernel' | 'ubpf';

export interface DisasmOptions {
  /** Default 'llvm'. */
  readonly flavour?: Flavour;
  /**
   * llvm: decode as `llvm-objdump --mattr=+alu32` does, naming the 32-bit subregister in sub-64-bit loads,
   * stores and 32-bit atomics (`w1 = *(u32 *)(r2 + 0)`). Off by default, as plain `llvm-objdump -d`.
   */
  readonly alu32?: boolean;
  /**
   * llvm: spell what llvm's text loses so the assembler gets the same instruction back. llvm prints a
   * bpf-to-bpf call (src_reg 1) and a kfunc call (src_reg 2) exactly like a helper call (`call -1`); with
   * this they read `call pc-1` (the kernel's spelling) and `call kfunc 1234[, btf_fd_idx]`.
   */
  readonly lossless?: boolean;
  /**
   * kernel: the kernel's cb_call. The text after `call ` for a helper or kfunc (printed as `NAME#imm`),
   * or after `call pc` for a bpf-to-bpf call. Undefined falls back to the kernel's own choice: `unknown`,
   * `kernel-function`, or the signed pc-relative offset.
   */
  readonly callName?: (insn: Insn) => string | undefined;
  /** kernel: the kernel's cb_imm for ldimm64; `xlatedImmName` is bpftool's. Default `0x%llx` of the value. */
  readonly immName?: (insns: readonly Insn[], i: number, imm64: bigint) => string | undefined;
  /** kernel: false hides map pointers (prints 0), as the verifier log does for unprivileged users. Default true, as bpftool. */
  readonly allowPtrLeaks?: boolean;
}

export interface ListingOptions extends DisasmOptions {
  /**
   * Prefix each line as the flavour's tool does: llvm-objdump `%8d:\t<bytes>\t`, bpftool `% 4d: `,
   * bpf_conformance `%4d: `. Without it each line is bare text the assemblers read back.
   */
  readonly listing?: boolean;
  /** With listing, the raw bytes: llvm inline (as objdump), kernel a second line (bpftool `opcodes`), ubpf ` ; bytes`. */
  readonly opcodes?: boolean;
}

// ---- spelling tables, keyed by the opcode table's semantic ops ----

/**
 * `dst OPERATOR PREFIX src`: the C operators LLVM and the kernel share (bpf_alu_string, bpf_alu_sign_string,
 * bpf_movsx_string). neg prints `r1 = -r1`, so its "source" is dst itself.
 */
export const ALU_TEXT: Record<AluOp, readonly [operator: string, srcPrefix: string]> = {
  add: ['+=', ''], sub: ['-=', ''], mul: ['*=', ''], div: ['/=', ''], sdiv: ['s/=', ''], or: ['|=', ''],
  and: ['&=', ''], lsh: ['<<=', ''], rsh: ['>>=', ''], neg: ['=', '-'], mod: ['%=', ''], smod: ['s%=', ''],
  xor: ['^=', ''], mov: ['=', ''], movsx8: ['=', '(s8)'], movsx16: ['=', '(s16)'], movsx32: ['=', '(s32)'],
  arsh: ['s>>=', ''],
};

/** bpf_jmp_string / LLVM's J<> multiclass. */
export const JMP_TEXT: Record<JmpCond, string> = {
  jeq: '==', jgt: '>', jge: '>=', jset: '&', jne: '!=', jsgt: 's>', jsge: 's>=', jlt: '<', jle: '<=',
  jslt: 's<', jsle: 's<=',
};

/**
 * The four shapes of an atomic: `lock *(u64 *)(r1 + 0) += r2`, `r2 = atomic_fetch_add(...)`, xchg and
 * cmpxchg. `name` is the word after `atomic_fetch_`, or the operator of the plain form.
 */
export type AtomicForm =
  | { readonly form: 'lock'; readonly operator: string }
  | { readonly form: 'fetch'; readonly name: string }
  | { readonly form: 'xchg' }
  | { readonly form: 'cmpxchg' };

export const ATOMIC_TEXT: Record<AtomicOp, AtomicForm> = {
  add: { form: 'lock', operator: '+=' }, or: { form: 'lock', operator: '|=' },
  and: { form: 'lock', operator: '&=' }, xor: { form: 'lock', operator: '^=' },
  fetch_add: { form: 'fetch', name: 'add' }, fetch_or: { form: 'fetch', name: 'or' },
  fetch_and: { form: 'fetch', name: 'and' }, fetch_xor: { form: 'fetch', name: 'xor' },
  xchg: { form: 'xchg' }, cmpxchg: { form: 'cmpxchg' },
};

/** LLVM's names for the xchg/cmpxchg pseudo-functions, by operand size: `xchg_64`, `cmpxchg32_32`. */
export const LLVM_XCHG_NAME: Record<'xchg' | 'cmpxchg', Record<4 | 8, string>> = {
  xchg: { 8: 'xchg_64', 4: 'xchg32_32' },
  cmpxchg: { 8: 'cmpxchg_64', 4: 'cmpxchg32_32' },
};

/** The `(s8 *)` type of a sign-extending load (BPF_MEMSX, v4). */
export const loadType = (size: Size, signed: boolean): string => (signed ? `s${size * 8}` : SIZE_TYPE[size]);

/** Lossless LLVM spelling of a kfunc call: `call kfunc <btf_id>[, <fd_array index of its BTF>]`. */
export const KFUNC_WORD = 'kfunc';

// ---- the formatter ----

const signed = (n: number): string => (n >= 0 ? `+${n}` : `${n}`);
const hex32 = (n: number): string => `0x${(n >>> 0).toString(16)}`;

/**
 * The text of the instruction at index i (a ldimm64 reads its second slot too). An encoding the table
 * does not know prints as llvm-objdump does: `<unknown>`.
 */
export function formatInsn(insns: readonly Insn[], i: number, opts: DisasmOptions = {}): string {
  const x = insns[i];
  if (x === undefined) throw new RangeError(`formatInsn: no instruction at index ${i}`);
  const flavour = opts.flavour ?? 'llvm';
  // The kernel-internal per-CPU address move (BPF_MOV64_PERCPU_REG, off = BPF_ADDR_PERCPU = -1) in an
  // xlated program: bpftool 7.1 prints it as a plain register move.
  if (flavour === 'kernel' && x.code === 0xbf && x.off === -1) return formatInsn([{ ...x, off: 0 }], 0, opts);
  const op = findOp(x.code, x.src, x.off, x.imm);
  if (op === undefined || (op.kind === 'lddw' && insns[i + 1] === undefined)) {
    return flavour === 'kernel' ? `(${hex2(x.code)}) BUG_${hex2(x.code)}` : flavour === 'ubpf' ? `unknown 0x${hex2(x.code)}` : '<unknown>';
  }
  if (flavour === 'ubpf') return formatUbpf(insns, i, op);
  const text = formatPseudoC(insns, i, x, op, flavour === 'kernel', opts);
  return flavour === 'kernel' ? `(${hex2(x.code)}) ${text}` : text;
}

const hex2 = (n: number): string => n.toString(16).padStart(2, '0');

function formatPseudoC(insns: readonly Insn[], i: number, x: Insn, op: OpInfo, kernel: boolean, o: DisasmOptions): string {
  const reg = (n: number, w = false): string => `${w ? 'w' : 'r'}${n}`;
  // LLVM spaces the sign (`r1 - 8`), the kernel glues it to the number with %+d (`r1 -8`).
  const mem = (base: number, off: number): string =>
    kernel ? `r${base} ${signed(off)}` : `r${base} ${off < 0 ? '-' : '+'} ${Math.abs(off)}`;
  const target = (n: number): string => (kernel ? `pc${signed(n)}` : signed(n));
  // With +alu32, llvm-objdump decodes sub-64-bit loads, stores and atomics onto 32-bit subregisters.
  const sub32 = !kernel && o.alu32 === true;

  switch (op.kind) {
    case 'alu': {
      const [operator, prefix] = ALU_TEXT[op.op];
      const w = !op.alu64;
      const rhs = op.op === 'neg' ? reg(x.dst, w) : op.srcReg ? reg(x.src, w) : String(x.imm);
      return `${reg(x.dst, w)} ${operator} ${prefix}${rhs}`;
    }
    case 'end':
      return `r${x.dst} = ${op.op}${op.bits} r${x.dst}`;
    case 'ja':
      return op.long ? `gotol ${target(x.imm)}` : `goto ${target(x.off)}`;
    case 'jcond': {
      const w = op.jmp32;
      // The kernel prints a compared immediate as %x of the u32; LLVM as a signed decimal.
      const rhs = op.srcReg ? reg(x.src, w) : kernel ? hex32(x.imm) : String(x.imm);
      return `if ${reg(x.dst, w)} ${JMP_TEXT[op.cond]} ${rhs} goto ${target(x.off)}`;
    }
    case 'call':
      if (kernel) {
        const name = o.callName?.(x);
        if (op.target === 'local') return `call pc${name ?? signed(x.imm)}`;
        return `call ${name ?? (op.target === 'kfunc' ? 'kernel-function' : 'unknown')}#${x.imm}`;
      }
      if (o.lossless === true && op.target === 'local') return `call pc${signed(x.imm)}`;
      if (o.lossless === true && op.target === 'kfunc') return `call ${KFUNC_WORD} ${x.imm}${x.off !== 0 ? `, ${x.off}` : ''}`;
      return `call ${x.imm}`;
    case 'callx':
      // Linux and newer LLVM keep the register in dst (llvm-14 reads it from imm). The kernel never prints
      // callx (its verifier refuses it); its disasm.c would call it a helper call, so we keep `callx`.
      return `callx r${x.dst}`;
    case 'exit':
      return 'exit';
    case 'lddw':
      return formatLddw(insns, i, x, op.pseudo, kernel, o);
    case 'ldabs': {
      const type = SIZE_TYPE[op.size];
      if (!op.indirect) return `r0 = *(${type} *)skb[${x.imm}]`;
      if (kernel) return `r0 = *(${type} *)skb[r${x.src} + ${x.imm}]`;
      // LLVM's LD_IND has no immediate operand and prints `skb[r1]`; we add a non-zero one rather than lose it.
      return x.imm === 0 ? `r0 = *(${type} *)skb[r${x.src}]` : `r0 = *(${type} *)skb[${mem(x.src, x.imm)}]`;
    }
    case 'ldx':
      return `${reg(x.dst, sub32 && op.size !== 8 && !op.signed)} = *(${loadType(op.size, op.signed)} *)(${mem(x.src, x.off)})`;
    case 'st':
      return `*(${SIZE_TYPE[op.size]} *)(${mem(x.dst, x.off)}) = ${x.imm}`;
    case 'stx':
      return `*(${SIZE_TYPE[op.size]} *)(${mem(x.dst, x.off)}) = ${reg(x.src, sub32 && op.size !== 8)}`;
    case 'atomic': {
      const type = SIZE_TYPE[op.size];
      const form = ATOMIC_TEXT[op.op];
      if (kernel) {
        const k64 = op.size === 8 ? '64' : '';
        switch (form.form) {
          case 'lock': return `lock *(${type} *)(${mem(x.dst, x.off)}) ${form.operator} r${x.src}`;
          case 'fetch': return `r${x.src} = atomic${k64}_fetch_${form.name}((${type} *)(${mem(x.dst, x.off)}), r${x.src})`;
          case 'xchg': return `r${x.src} = atomic${k64}_xchg((${type} *)(${mem(x.dst, x.off)}), r${x.src})`;
          case 'cmpxchg': return `r0 = atomic${k64}_cmpxchg((${type} *)(${mem(x.dst, x.off)}), r0, r${x.src})`;
        }
      }
      // llvm-14 decodes the 32-bit atomics other than a plain add only with +alu32 (and prints them on
      // w registers); without it they are `<unknown>`, so we print what +alu32 prints.
      const w = op.size === 4 && (sub32 || op.op !== 'add');
      switch (form.form) {
        case 'lock': return `lock *(${type} *)(${mem(x.dst, x.off)}) ${form.operator} ${reg(x.src, w)}`;
        case 'fetch': return `${reg(x.src, w)} = atomic_fetch_${form.name}((${type} *)(${mem(x.dst, x.off)}), ${reg(x.src, w)})`;
        case 'xchg': return `${reg(x.src, w)} = ${LLVM_XCHG_NAME.xchg[op.size]}(${mem(x.dst, x.off)}, ${reg(x.src, w)})`;
        case 'cmpxchg': return `${reg(0, w)} = ${LLVM_XCHG_NAME.cmpxchg[op.size]}(${mem(x.dst, x.off)}, ${reg(0, w)}, ${reg(x.src, w)})`;
      }
    }
  }
}

function formatLddw(insns: readonly Insn[], i: number, x: Insn, pseudo: number, kernel: boolean, o: DisasmOptions): string {
  const imm64 = lddwImm64(insns, i);
  if (kernel) {
    const isPtr = x.src === BPF_PSEUDO_MAP_FD || x.src === BPF_PSEUDO_MAP_VALUE;
    const shown = isPtr && o.allowPtrLeaks === false ? 0n : imm64;
    return `r${x.dst} = ${o.immName?.(insns, i, shown) ?? `0x${shown.toString(16)}`}`;
  }
  if (pseudo === 0) return `r${x.dst} = ${BigInt.asIntN(64, imm64)} ll`;
  // LLVM's LD_pseudo prints only the low word, unsigned; the whole 64-bit value is the same number while the
  // high word is 0 and keeps a map value offset otherwise. The tab is LLVM's ("ld_pseudo\t$dst, $pseudo, $imm").
  return `ld_pseudo\tr${x.dst}, ${pseudo}, ${imm64}`;
}

/**
 * bpftool's print_imm for `prog dump xlated`, after the kernel's bpf_insn_prepare_dump() put map ids in
 * imm: `map[id:5]`, `map[id:5][0]+8`, `map[idx:0]+8`, `subprog[+3]`, else `0x%llx`.
 */
export function xlatedImmName(insns: readonly Insn[], i: number, imm64: bigint): string {
  const x = insns[i]!;
  const next = insns[i + 1]!;
  switch (x.src) {
    case BPF_PSEUDO_MAP_FD: return `map[id:${x.imm >>> 0}]`;
    case BPF_PSEUDO_MAP_VALUE: return `map[id:${x.imm >>> 0}][0]+${next.imm >>> 0}`;
    case BPF_PSEUDO_MAP_IDX_VALUE: return `map[idx:${x.imm >>> 0}]+${next.imm >>> 0}`;
    case BPF_PSEUDO_FUNC: return `subprog[${signed(x.imm)}]`;
    default: return `0x${imm64.toString(16)}`;
  }
}

// ---- whole programs ----

/**
 * One line per instruction (a ldimm64's second slot has none), bare text by default; with `listing`, laid
 * out as the flavour's tool prints it. Bare 'ubpf' text, and 'llvm' text with `lossless`, assemble back to
 * the same instructions (ubpf.ts, asm.ts).
 */
export function disassemble(insns: readonly Insn[], opts: ListingOptions = {}): string[] {
  const lines: string[] = [];
  for (let i = 0; i < insns.length; i += isWide(insns[i]!.code) && i + 1 < insns.length ? 2 : 1) {
    const text = formatInsn(insns, i, opts);
    lines.push(...(opts.listing === true ? listingLines(insns, i, text, opts) : [text]));
  }
  return lines;
}

function listingLines(insns: readonly Insn[], i: number, text: string, o: ListingOptions): string[] {
  const slots = isWide(insns[i]!.code) && i + 1 < insns.length ? 2 : 1;
  const bytes = Array.from(encode(insns.slice(i, i + slots)), (b) => hex2(b)).join(' ');
  switch (o.flavour ?? 'llvm') {
    case 'llvm':
      return [`${String(i).padStart(8)}:\t${o.opcodes === true ? `${bytes}\t` : ''}${text}`];
    case 'kernel':
      return o.opcodes === true ? [`${String(i).padStart(4)}: ${text}`, `       ${bytes}`] : [`${String(i).padStart(4)}: ${text}`];
    case 'ubpf':
      return [`${String(i).padStart(4)}: ${text}${o.opcodes === true ? ` ; ${bytes}` : ''}`];
  }
}
