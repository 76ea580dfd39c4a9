// The BPF instruction set (RFC 9669, ISA v1-v4 plus the Linux extensions: pseudo lddw sources,
// bpf-to-bpf and kfunc calls, callx, legacy LD_ABS/LD_IND). This is the ONE opcode table of the project:
// the decoder, encoder, both assemblers and disassemblers, the verifier, the interpreter and the JITs
// all derive from OPS. Constants keep the kernel's names (include/uapi/linux/bpf.h, bpf_common.h).

// ---- instruction classes (low 3 bits of the opcode) ----
export const BPF_LD = 0x00;
export const BPF_LDX = 0x01;
export const BPF_ST = 0x02;
export const BPF_STX = 0x03;
export const BPF_ALU = 0x04;
export const BPF_JMP = 0x05;
export const BPF_JMP32 = 0x06;
export const BPF_ALU64 = 0x07;

// ---- load/store: size (bits 3-4) and mode (bits 5-7) ----
export const BPF_W = 0x00;
export const BPF_H = 0x08;
export const BPF_B = 0x10;
export const BPF_DW = 0x18;
export const BPF_IMM = 0x00;
export const BPF_ABS = 0x20;
export const BPF_IND = 0x40;
export const BPF_MEM = 0x60;
export const BPF_MEMSX = 0x80;
export const BPF_ATOMIC = 0xc0;

// ---- ALU / JMP: source bit and operation (bits 4-7) ----
export const BPF_K = 0x00;
export const BPF_X = 0x08;
export const BPF_TO_LE = 0x00;
export const BPF_TO_BE = 0x08;

export const BPF_ADD = 0x00;
export const BPF_SUB = 0x10;
export const BPF_MUL = 0x20;
export const BPF_DIV = 0x30;
export const BPF_OR = 0x40;
export const BPF_AND = 0x50;
export const BPF_LSH = 0x60;
export const BPF_RSH = 0x70;
export const BPF_NEG = 0x80;
export const BPF_MOD = 0x90;
export const BPF_XOR = 0xa0;
export const BPF_MOV = 0xb0;
export const BPF_ARSH = 0xc0;
export const BPF_END = 0xd0;

export const BPF_JA = 0x00;
export const BPF_JEQ = 0x10;
export const BPF_JGT = 0x20;
export const BPF_JGE = 0x30;
export const BPF_JSET = 0x40;
export const BPF_JNE = 0x50;
export const BPF_JSGT = 0x60;
export const BPF_JSGE = 0x70;
export const BPF_CALL = 0x80;
export const BPF_EXIT = 0x90;
export const BPF_JLT = 0xa0;
export const BPF_JLE = 0xb0;
export const BPF_JSLT = 0xc0;
export const BPF_JSLE = 0xd0;

// ---- atomics: the operation lives in imm ----
export const BPF_FETCH = 0x01;
export const BPF_XCHG = 0xe0 | BPF_FETCH;
export const BPF_CMPXCHG = 0xf0 | BPF_FETCH;

// ---- pseudo sources (src_reg of lddw and call) ----
export const BPF_PSEUDO_MAP_FD = 1;
export const BPF_PSEUDO_MAP_VALUE = 2;
export const BPF_PSEUDO_BTF_ID = 3;
export const BPF_PSEUDO_FUNC = 4;
export const BPF_PSEUDO_MAP_IDX = 5;
export const BPF_PSEUDO_MAP_IDX_VALUE = 6;
export const BPF_PSEUDO_CALL = 1;
export const BPF_PSEUDO_KFUNC_CALL = 2;

export const BPF_REG_0 = 0;
export const BPF_REG_1 = 1;
export const BPF_REG_10 = 10;
/** R0-R9 general purpose, R10 the read-only frame pointer. */
export const MAX_BPF_REG = 11;
export const BPF_INSN_SIZE = 8;
/** Kernel limit per frame (MAX_BPF_STACK). */
export const MAX_BPF_STACK = 512;

export const bpfClass = (code: number): number => code & 0x07;
export const bpfSize = (code: number): number => code & 0x18;
export const bpfMode = (code: number): number => code & 0xe0;
export const bpfOp = (code: number): number => code & 0xf0;
export const bpfSrc = (code: number): number => code & 0x08;

// ---- the semantic operations; handler maps are typed Record<...> over these ----
export const ALU_OPS = {
  add: BPF_ADD, sub: BPF_SUB, mul: BPF_MUL, div: BPF_DIV, sdiv: BPF_DIV, or: BPF_OR, and: BPF_AND,
  lsh: BPF_LSH, rsh: BPF_RSH, neg: BPF_NEG, mod: BPF_MOD, smod: BPF_MOD, xor: BPF_XOR, mov: BPF_MOV,
  movsx8: BPF_MOV, movsx16: BPF_MOV, movsx32: BPF_MOV, arsh: BPF_ARSH,
} as const;
export type AluOp = keyof typeof ALU_OPS;

export const JMP_CONDS = {
  jeq: BPF_JEQ, jgt: BPF_JGT, jge: BPF_JGE, jset: BPF_JSET, jne: BPF_JNE, jsgt: BPF_JSGT,
  jsge: BPF_JSGE, jlt: BPF_JLT, jle: BPF_JLE, jslt: BPF_JSLT, jsle: BPF_JSLE,
} as const;
export type JmpCond = keyof typeof JMP_CONDS;

export const ATOMIC_OPS = {
  add: BPF_ADD, or: BPF_OR, and: BPF_AND, xor: BPF_XOR,
  fetch_add: BPF_ADD | BPF_FETCH, fetch_or: BPF_OR | BPF_FETCH, fetch_and: BPF_AND | BPF_FETCH,
  fetch_xor: BPF_XOR | BPF_FETCH, xchg: BPF_XCHG, cmpxchg: BPF_CMPXCHG,
} as const;
export type AtomicOp = keyof typeof ATOMIC_OPS;

export type EndOp = 'le' | 'be' | 'bswap';
export type Size = 1 | 2 | 4 | 8;
export type LddwPseudo = 0 | 1 | 2 | 3 | 4 | 5 | 6;
export type CallKind = 'helper' | 'local' | 'kfunc';

/** Which encoded fields an instruction gives meaning to; every other field must be zero. */
export interface FieldUse {
  readonly dst: boolean;
  readonly src: boolean;
  readonly off: boolean;
  readonly imm: boolean;
}

/** Fields whose value selects this entry among those sharing an opcode byte. */
export interface Discriminator {
  readonly src?: number;
  readonly off?: number;
  readonly imm?: number;
}

interface OpBase {
  /** Unique key of the entry: the mnemonic, plus `_imm`/`_reg` where both operand forms exist. */
  readonly name: string;
  /** The uBPF/conformance mnemonic (`add`, `add32`, `ldxdw`, `jne32`, `lock_fetch_add32`). */
  readonly mnemonic: string;
  readonly code: number;
  readonly match: Discriminator;
  readonly fields: FieldUse;
  /** The lowest ISA version (clang -mcpu=vN) that has it; 0 for Linux-only extensions. */
  readonly isa: 1 | 2 | 3 | 4;
}

export type OpInfo =
  | (OpBase & { readonly kind: 'alu'; readonly op: AluOp; readonly alu64: boolean; readonly srcReg: boolean })
  | (OpBase & { readonly kind: 'end'; readonly op: EndOp; readonly alu64: boolean; readonly bits: 16 | 32 | 64 })
  | (OpBase & { readonly kind: 'ja'; readonly long: boolean })
  | (OpBase & { readonly kind: 'jcond'; readonly cond: JmpCond; readonly jmp32: boolean; readonly srcReg: boolean })
  | (OpBase & { readonly kind: 'call'; readonly target: CallKind })
  | (OpBase & { readonly kind: 'callx' })
  | (OpBase & { readonly kind: 'exit' })
  | (OpBase & { readonly kind: 'lddw'; readonly pseudo: LddwPseudo })
  | (OpBase & { readonly kind: 'ldabs'; readonly indirect: boolean; readonly size: Size })
  | (OpBase & { readonly kind: 'ldx'; readonly size: Size; readonly signed: boolean })
  | (OpBase & { readonly kind: 'st'; readonly size: Size })
  | (OpBase & { readonly kind: 'stx'; readonly size: Size })
  | (OpBase & { readonly kind: 'atomic'; readonly op: AtomicOp; readonly size: 4 | 8 });

export type OpKind = OpInfo['kind'];

export const SIZE_CODE: Record<Size, number> = { 1: BPF_B, 2: BPF_H, 4: BPF_W, 8: BPF_DW };
/** uBPF size suffixes: b, h, w, dw. */
export const SIZE_SUFFIX: Record<Size, string> = { 1: 'b', 2: 'h', 4: 'w', 8: 'dw' };
/** LLVM/kernel C-like type names: u8 .. u64. */
export const SIZE_TYPE: Record<Size, string> = { 1: 'u8', 2: 'u16', 4: 'u32', 8: 'u64' };

const SIZES: readonly Size[] = [4, 2, 1, 8];

const f = (dst: boolean, src: boolean, off: boolean, imm: boolean): FieldUse => ({ dst, src, off, imm });

function buildTable(): OpInfo[] {
  const ops: OpInfo[] = [];

  // ALU and ALU64. sdiv/smod are div/mod with off=1 (v4); movsx is mov with off=8/16/32 (v4).
  for (const alu64 of [true, false]) {
    const cls = alu64 ? BPF_ALU64 : BPF_ALU;
    const sfx = alu64 ? '' : '32';
    for (const [op, opcode] of Object.entries(ALU_OPS) as [AluOp, number][]) {
      if (op === 'movsx32' && !alu64) continue; // RFC 9669: 32-bit MOVSX takes 8- and 16-bit sources only
      const off = op === 'sdiv' || op === 'smod' ? 1 : op.startsWith('movsx') ? Number(op.slice(5)) : 0;
      const isa = off !== 0 ? 4 : alu64 ? 1 : 3;
      for (const srcReg of op === 'neg' ? [false] : [false, true]) {
        if (op.startsWith('movsx') && !srcReg) continue; // only the register form sign-extends
        const mnemonic = op.startsWith('movsx') ? `movsx${op.slice(5)}${alu64 ? 64 : 32}` : `${op}${sfx}`;
        const name = op === 'neg' || op.startsWith('movsx') ? mnemonic : `${mnemonic}_${srcReg ? 'reg' : 'imm'}`;
        ops.push({
          kind: 'alu', op, alu64, srcReg, name, mnemonic, isa,
          code: cls | opcode | (srcReg ? BPF_X : BPF_K),
          match: { off },
          fields: op === 'neg' ? f(true, false, false, false) : srcReg ? f(true, true, false, false) : f(true, false, false, true),
        });
      }
    }
  }

  // Byte swaps: ALU|END with TO_LE/TO_BE (v1), ALU64|END|K is the unconditional bswap (v4).
  for (const bits of [16, 32, 64] as const) {
    ops.push({ kind: 'end', op: 'le', alu64: false, bits, name: `le${bits}`, mnemonic: `le${bits}`, isa: 1, code: BPF_ALU | BPF_END | BPF_TO_LE, match: { imm: bits }, fields: f(true, false, false, false) });
    ops.push({ kind: 'end', op: 'be', alu64: false, bits, name: `be${bits}`, mnemonic: `be${bits}`, isa: 1, code: BPF_ALU | BPF_END | BPF_TO_BE, match: { imm: bits }, fields: f(true, false, false, false) });
    ops.push({ kind: 'end', op: 'bswap', alu64: true, bits, name: `bswap${bits}`, mnemonic: `bswap${bits}`, isa: 4, code: BPF_ALU64 | BPF_END | BPF_K, match: { imm: bits }, fields: f(true, false, false, false) });
  }

  // Jumps. JMP32|JA is `gotol` with its 32-bit offset in imm (v4).
  ops.push({ kind: 'ja', long: false, name: 'ja', mnemonic: 'ja', isa: 1, code: BPF_JMP | BPF_JA, match: {}, fields: f(false, false, true, false) });
  ops.push({ kind: 'ja', long: true, name: 'ja32', mnemonic: 'ja32', isa: 4, code: BPF_JMP32 | BPF_JA, match: {}, fields: f(false, false, false, true) });
  for (const jmp32 of [false, true]) {
    for (const [cond, opcode] of Object.entries(JMP_CONDS) as [JmpCond, number][]) {
      const isa = jmp32 ? 3 : cond === 'jlt' || cond === 'jle' || cond === 'jslt' || cond === 'jsle' ? 2 : 1;
      for (const srcReg of [false, true]) {
        ops.push({
          kind: 'jcond', cond, jmp32, srcReg, name: `${cond}${jmp32 ? '32' : ''}_${srcReg ? 'reg' : 'imm'}`, mnemonic: `${cond}${jmp32 ? '32' : ''}`, isa,
          code: (jmp32 ? BPF_JMP32 : BPF_JMP) | opcode | (srcReg ? BPF_X : BPF_K),
          match: {},
          fields: srcReg ? f(true, true, true, false) : f(true, false, true, true),
        });
      }
    }
  }
  ops.push({ kind: 'call', target: 'helper', name: 'call', mnemonic: 'call', isa: 1, code: BPF_JMP | BPF_CALL, match: { src: 0 }, fields: f(false, false, false, true) });
  ops.push({ kind: 'call', target: 'local', name: 'call_local', mnemonic: 'call_local', isa: 1, code: BPF_JMP | BPF_CALL, match: { src: BPF_PSEUDO_CALL }, fields: f(false, false, false, true) });
  // A kfunc call's off selects the BTF (0 = vmlinux, else an fd_array index).
  ops.push({ kind: 'call', target: 'kfunc', name: 'call_kfunc', mnemonic: 'call_kfunc', isa: 1, code: BPF_JMP | BPF_CALL, match: { src: BPF_PSEUDO_KFUNC_CALL }, fields: f(false, false, true, true) });
  ops.push({ kind: 'callx', name: 'callx', mnemonic: 'callx', isa: 1, code: BPF_JMP | BPF_CALL | BPF_X, match: {}, fields: f(true, false, false, false) });
  ops.push({ kind: 'exit', name: 'exit', mnemonic: 'exit', isa: 1, code: BPF_JMP | BPF_EXIT, match: {}, fields: f(false, false, false, false) });

  // 64-bit immediate load, two slots; src selects what the immediate means.
  const lddwNames = ['lddw', 'lddw_map_fd', 'lddw_map_value', 'lddw_btf_id', 'lddw_func', 'lddw_map_idx', 'lddw_map_idx_value'];
  for (let pseudo = 0; pseudo <= 6; pseudo++) {
    ops.push({ kind: 'lddw', pseudo: pseudo as LddwPseudo, name: lddwNames[pseudo]!, mnemonic: lddwNames[pseudo]!, isa: 1, code: BPF_LD | BPF_IMM | BPF_DW, match: { src: pseudo }, fields: f(true, false, false, true) });
  }

  // Legacy packet loads (cBPF heritage): r0 = ntoh(*(packet + imm [+ src])).
  for (const size of [4, 2, 1] as const) {
    const sfx = SIZE_SUFFIX[size];
    ops.push({ kind: 'ldabs', indirect: false, size, name: `ldabs${sfx}`, mnemonic: `ldabs${sfx}`, isa: 1, code: BPF_LD | BPF_ABS | SIZE_CODE[size], match: {}, fields: f(false, false, false, true) });
    ops.push({ kind: 'ldabs', indirect: true, size, name: `ldind${sfx}`, mnemonic: `ldind${sfx}`, isa: 1, code: BPF_LD | BPF_IND | SIZE_CODE[size], match: {}, fields: f(false, true, false, true) });
  }

  for (const size of SIZES) {
    const sfx = SIZE_SUFFIX[size];
    ops.push({ kind: 'ldx', size, signed: false, name: `ldx${sfx}`, mnemonic: `ldx${sfx}`, isa: 1, code: BPF_LDX | BPF_MEM | SIZE_CODE[size], match: {}, fields: f(true, true, true, false) });
    if (size !== 8) {
      ops.push({ kind: 'ldx', size, signed: true, name: `ldxs${sfx}`, mnemonic: `ldxs${sfx}`, isa: 4, code: BPF_LDX | BPF_MEMSX | SIZE_CODE[size], match: {}, fields: f(true, true, true, false) });
    }
    ops.push({ kind: 'st', size, name: `st${sfx}`, mnemonic: `st${sfx}`, isa: 1, code: BPF_ST | BPF_MEM | SIZE_CODE[size], match: {}, fields: f(true, false, true, true) });
    ops.push({ kind: 'stx', size, name: `stx${sfx}`, mnemonic: `stx${sfx}`, isa: 1, code: BPF_STX | BPF_MEM | SIZE_CODE[size], match: {}, fields: f(true, true, true, false) });
  }

  // Atomics: STX|ATOMIC|W/DW, the operation in imm. Only ADD without FETCH exists before v3.
  for (const size of [8, 4] as const) {
    for (const [op, imm] of Object.entries(ATOMIC_OPS) as [AtomicOp, number][]) {
      ops.push({
        kind: 'atomic', op, size, name: `lock_${op}${size === 4 ? '32' : ''}`, mnemonic: `lock_${op}${size === 4 ? '32' : ''}`, isa: op === 'add' ? 1 : 3,
        code: BPF_STX | BPF_ATOMIC | SIZE_CODE[size], match: { imm }, fields: f(true, true, true, false),
      });
    }
  }
  return ops;
}

/** Every instruction of the ISA, once. */
export const OPS: readonly OpInfo[] = Object.freeze(buildTable());

/** OPS by opcode byte; entries sharing a byte differ in their discriminator. */
export const OPS_BY_CODE: readonly (readonly OpInfo[])[] = (() => {
  const t: OpInfo[][] = Array.from({ length: 256 }, () => []);
  for (const op of OPS) t[op.code]!.push(op);
  return t;
})();

export const OPS_BY_NAME: ReadonlyMap<string, OpInfo> = (() => {
  const m = new Map<string, OpInfo>();
  for (const op of OPS) {
    if (m.has(op.name)) throw new Error(`BUG: duplicate BPF op name ${op.name}`);
    m.set(op.name, op);
  }
  return m;
})();

/** Whether an instruction's fields select this table entry. */
export function matches(op: OpInfo, src: number, off: number, imm: number): boolean {
  const m = op.match;
  return (m.src === undefined || m.src === src) && (m.off === undefined || m.off === off) && (m.imm === undefined || m.imm === imm);
}

/** The table entry for the given fields, or undefined. */
export function findOp(code: number, src: number, off: number, imm: number): OpInfo | undefined {
  const candidates = OPS_BY_CODE[code & 0xff];
  if (candidates === undefined) return undefined;
  for (const op of candidates) if (matches(op, src, off, imm)) return op;
  return undefined;
}

/** Two-slot instructions (lddw). */
export const isWide = (code: number): boolean => code === (BPF_LD | BPF_IMM | BPF_DW);

/** Conditional and unconditional jumps (not calls or exit). */
export function isJump(op: OpInfo): boolean {
  return op.kind === 'ja' || op.kind === 'jcond';
}
