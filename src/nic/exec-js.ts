// The fast NFP engine: an image translated to JavaScript once (per image, per worker) and compiled by
// V8, for the datapath's cores. It must agree with the reference interpreter in src/nic/core.ts
// exactly — registers, memories, condition codes, PREV_ALU, and busy/stall cycles — and a random
// differential test (test/nic/core-diff.test.ts) holds it to that.
//
// Shape of the code (PERFORMANCE.md): basic blocks in address order inside `switch (pc)` in a loop, so
// straight-line code falls from one case into the next and only taken branches go back through the
// switch. V8 does not optimize very large functions, so the blocks are cut into chunks of about 128
// instructions, one function each, and a small dispatcher (`run`) moves between chunks and calls the
// firmware. Each block adds its issue cycles once, on entry; a taken branch adds its refill penalty on
// the taken path; a memory command adds the latency it waited. Condition codes and PREV_ALU live in
// locals, and a dataflow pass over the blocks keeps an ALU operation from computing a condition code
// (or PREV_ALU) that nothing reads before the next operation overwrites it.
//
// Memory commands are specialised when the image is translated: the command, its length, transfer
// registers, byte order, signal and addressing mode are known then, so the common cases — 32-bit mode
// into the local CTM, 40-bit mode into EMEM below 4 GiB, aligned and inside the backed bytes — run as
// a few typed-array accesses (atomic adds as direct calls to the atomic engine); everything else (other
// targets, unaligned or out-of-range addresses, a length override from PREV_ALU, a command that
// faults) calls the interpreter's runtime, nfpRuntime.cmd, so both engines give the same result.
//
// A branch group (branch + its defer slots) and a swapping command with its defer slots are emitted as
// units, the defer slots inline; a jump into a defer slot gets a block of its own. A `rtn` to an address
// that is not a block start (the translator takes return addresses from the image's immeds) hands the
// rest of the run to the interpreter, which gives the same result more slowly.

import { BpfError } from '../bpf/errno.js';
import { disasmInsn } from './asm.js';
import { nfp_atomic_add_be32, nfp_atomic_add_be64 } from './atomic.js';
import {
  NFP_DEFAULT_MAX_CYCLES, NFP_RUN_EXIT, NfpInterpreter, nfpBudgetExceeded, nfpFirmwareCall, nfpInDeferSlot, nfpRuntime, validateImage,
  type NfpCmdSpec, type NfpContext, type NfpCore, type NfpEngine, type NfpEngineOptions, type NfpHooks, type NfpImage,
} from './core.js';
import {
  CMD_OVE_DATA_SHIFT, CMD_OVE_LEN, CMD_OV_LEN_SHIFT, NFP_ADDR40_EMEM, NFP_ALU_OPS, NFP_BRANCH_PENALTY, NFP_MAX_CODE_ADDR, NFP_MUL_STEPS,
  NFP_USTORE_BANK_SHIFT, NFP_XBANK_BRANCH_PENALTY, NFP_XFER_REGS, nfpDeferOf, nfpIsBranch,
  type NfpAlu, type NfpBrCond, type NfpImmed, type NfpInsn, type NfpLdField, type NfpOp, type NfpReg, type NfpShf,
} from './isa.js';

type ChunkFn = (core: NfpCore, x: NfpContext, pc: number, lim: number) => number;

/** What the generated code calls: the shared runtime (the dispatcher in `run` does the firmware). */
interface GenRuntime {
  readonly mulStep: typeof nfpRuntime.mulStep;
  readonly csrRead: typeof nfpRuntime.csrRead;
  readonly csrWrite: typeof nfpRuntime.csrWrite;
  readonly ctxArb: typeof nfpRuntime.ctxArb;
  readonly cmd: typeof nfpRuntime.cmd;
  readonly add32: typeof nfp_atomic_add_be32;
  readonly add64: typeof nfp_atomic_add_be64;
  budget(pc: number): never;
}

// ---------------------------------------------------------------------------------------------------
// Blocks

interface Plan {
  /** Block starts, ascending: the case labels. */
  readonly leaders: readonly number[];
  readonly isLeader: ReadonlySet<number>;
}

/** The number of instructions a unit starting at index i covers (branch/command groups, csr_rd + immed). */
function unitLength(insns: readonly NfpInsn[], i: number): number {
  const x = insns[i]!;
  if (x.op === 'local_csr_rd') return 2;
  return 1 + nfpDeferOf(x);
}

const endsBlock = nfpIsBranch;

function plan(image: NfpImage, branchTargets: ReadonlySet<number>): Plan {
  const { base, insns } = image;
  const end = base + insns.length;
  const leaders = new Set<number>([base, ...branchTargets]);
  // Entry points reached by computed branches only (tail-call targets); never the middle of a unit.
  for (const e of image.entries ?? []) if (!nfpInDeferSlot(insns, e - base) && insns[e - base - 1]?.op !== 'local_csr_rd') leaders.add(e);
  insns.forEach((x, i) => {
    if (endsBlock(x)) leaders.add(base + i + 1 + nfpDeferOf(x));
    // Return addresses a helper call or a subprogram call builds with a plain immed (RELO_IMMED_REL).
    if (x.op === 'immed' && x.width === 'all' && !x.invert && x.shift === 0 && x.imm > base && x.imm < end) {
      const j = x.imm - base;
      if (!nfpInDeferSlot(insns, j) && insns[j - 1]?.op !== 'local_csr_rd') leaders.add(x.imm);
    }
  });
  // A unit that swallows a block start must end where a block starts, so the walk after it lands on one.
  for (let changed = true; changed;) {
    changed = false;
    for (let i = 0; i < insns.length;) {
      const n = unitLength(insns, i);
      for (let k = 1; k < n; k++) {
        if (leaders.has(base + i + k) && !leaders.has(base + i + n)) {
          leaders.add(base + i + n);
          changed = true;
        }
      }
      i += n;
    }
  }
  const sorted = [...leaders].filter((l) => l >= base && l < end).sort((a, b) => a - b);
  return { leaders: sorted, isLeader: new Set(sorted) };
}

// ---------------------------------------------------------------------------------------------------
// Code for operands

class Gen {
  private tmp = 0;

  constructor(readonly image: NfpImage) {}

  fresh(prefix: string): string {
    return `${prefix}${this.tmp++}`;
  }

  /** [statements, expression] reading a source operand (LM post-modification happens in the statements). */
  src(r: NfpReg): [string, string] {
    switch (r.type) {
      case 'gpr': return ['', `${r.bank === 'b' ? 'B' : 'A'}[${r.n}]`];
      case 'xfer': return ['', `XI[${r.n}]`];
      case 'imm': return ['', `${r.value}`];
      case 'none': return ['', '0'];
      case 'lm': {
        if (r.mod === 'none') return ['', `LM[${r.off ? `((LP[${r.ptr}] >>> 2) | ${r.off})` : `(LP[${r.ptr}] >>> 2)`} & WM]`];
        const t = this.fresh('p');
        return [`const ${t} = LP[${r.ptr}]; LP[${r.ptr}] = (${t} ${r.mod === 'inc' ? '+' : '-'} 4) & BM; `, `LM[(${t} >>> 2) & WM]`];
      }
    }
  }

  /** Statements writing `v` (a variable) to a destination. */
  dst(r: NfpReg, v: string): string {
    switch (r.type) {
      case 'gpr':
        if (r.bank === 'a') return `A[${r.n}] = ${v}; `;
        if (r.bank === 'b') return `B[${r.n}] = ${v}; `;
        return `A[${r.n}] = ${v}; B[${r.n}] = ${v}; `;
      case 'xfer': return `XO[${r.n}] = ${v}; `;
      case 'lm': {
        if (r.mod === 'none') return `LM[${r.off ? `((LP[${r.ptr}] >>> 2) | ${r.off})` : `(LP[${r.ptr}] >>> 2)`} & WM] = ${v}; `;
        const t = this.fresh('p');
        return `{ const ${t} = LP[${r.ptr}]; LM[(${t} >>> 2) & WM] = ${v}; LP[${r.ptr}] = (${t} ${r.mod === 'inc' ? '+' : '-'} 4) & BM; } `;
      }
      case 'imm': case 'none': return '';
    }
  }

  /** The current value of a read-modify-write destination (the bank of the field it sits in). */
  old(r: NfpReg, inB: boolean): [string, string] {
    if (r.type === 'gpr') return ['', `${r.bank === 'b' || (r.bank === 'both' && inB) ? 'B' : 'A'}[${r.n}]`];
    return this.src(r);
  }
}

/** The shifter on B (`a` is the double shift's high word); an indirect amount is PREV_ALU's A operand, bits 4:0. */
function shiftExpr(sc: NfpShf['sc'], a: string, b: string, amount: number | 'indirect'): string {
  if (amount === 'indirect') {
    switch (sc) {
      case 'r_shf': return `((${b} >>> (pa & 31)) | 0)`;
      case 'l_shf': return `(${b} << (pa & 31))`;
      case 'r_dshf': return `((pa & 31) === 0 ? ${b} : ((${b} >>> (pa & 31)) | (${a} << (32 - (pa & 31)))) | 0)`;
      case 'r_rot': throw new BpfError('EFAULT', 'nfp: indirect rotation');
    }
  }
  const n = amount;
  switch (sc) {
    case 'r_rot': return n === 0 ? b : `(((${b} >>> ${n}) | (${b} << ${32 - n})) | 0)`;
    case 'r_shf': return `((${b} >>> ${n}) | 0)`;
    case 'l_shf': return `(${b} << ${n})`;
    case 'r_dshf': return n === 0 ? b : `(((${b} >>> ${n}) | (${a} << ${32 - n})) | 0)`;
  }
}

const COND_JS: Readonly<Record<NfpBrCond, string>> = {
  beq: 'fz === 1', bne: 'fz === 0', bmi: 'fn === 1', bpl: 'fn === 0', bcs: 'fc === 1', bcc: 'fc === 0', bvs: 'fv === 1', bvc: 'fv === 0',
  bge: 'fn === fv', blt: 'fn !== fv', ble: '(fz === 1 || fn !== fv)', bgt: '(fz === 0 && fn === fv)', br: 'true',
};

const BYTE_MASK = (m: number): number => ((m & 1 ? 0xff : 0) | (m & 2 ? 0xff00 : 0) | (m & 4 ? 0xff0000 : 0) | (m & 8 ? 0xff000000 : 0)) | 0;

// ---------------------------------------------------------------------------------------------------
// Liveness of each condition code and of PREV_ALU, across blocks: an ALU operation computes only what
// a later instruction can read before something overwrites it.

const LZ = 1, LN = 2, LC = 4, LV = 8, LPA = 16, LPO = 32;
const LFLAGS = LZ | LN | LC | LV;
const LALL = LFLAGS | LPA | LPO;

const COND_READS: Readonly<Record<NfpBrCond, number>> = {
  beq: LZ, bne: LZ, bmi: LN, bpl: LN, bcs: LC, bcc: LC, bvs: LV, bvc: LV, bge: LN | LV, blt: LN | LV, ble: LZ | LN | LV, bgt: LZ | LN | LV, br: 0,
};

/** [read, written] bits of one instruction. */
function effects(x: NfpInsn): [number, number] {
  switch (x.op) {
    case 'alu': return [x.alu === 'add_c' || x.alu === 'sub_c' ? LC : 0, LALL];
    case 'alu_shf': return [(x.shift === 'indirect' ? LPA : 0) | (x.shf === 'ashr' ? LPO : 0), LALL];
    case 'immed': return [0, LPA | LPO];
    case 'ld_field': return [x.shift === 'indirect' ? LPA : 0, LPA | LPO];
    case 'br': return [COND_READS[x.cond], 0];
    case 'cmd': return [x.indirect ? LPO : 0, 0];
    default: return [0, 0];
  }
}

/** What must be kept after each instruction of `seq` (execution order), given what is live at its end. */
function liveAfter(insns: readonly NfpInsn[], seq: readonly number[], liveOut: number): { after: number[]; liveIn: number } {
  const after = new Array<number>(seq.length);
  let live = liveOut;
  for (let k = seq.length - 1; k >= 0; k--) {
    after[k] = live;
    const [r, w] = effects(insns[seq[k]!]!);
    live = (live & ~w) | r;
  }
  return { after, liveIn: live };
}

// ---------------------------------------------------------------------------------------------------
// Code for instructions (one generator per instruction of the table)

type InsnGen<T extends NfpInsn> = (g: Gen, x: T, i: number, live: number) => string;

/** Statements updating the live condition codes after `s = l op r` (C and V per operator; logical ops clear them). */
function aluFlags(op: NfpAlu['alu'], live: number): string {
  let c = '0';
  let v = '0';
  switch (op) {
    case 'add': c = '(l >>> 0) + (r >>> 0) > 4294967295 ? 1 : 0'; v = '(~(l ^ r) & (l ^ s)) >>> 31'; break;
    case 'add_c': c = '(l >>> 0) + (r >>> 0) + fc > 4294967295 ? 1 : 0'; v = '(~(l ^ r) & (l ^ s)) >>> 31'; break;
    case 'sub': c = '(l >>> 0) >= (r >>> 0) ? 1 : 0'; v = '((l ^ r) & (l ^ s)) >>> 31'; break;
    case 'sub_c': c = '(l >>> 0) - (r >>> 0) - (1 - fc) >= 0 ? 1 : 0'; v = '((l ^ r) & (l ^ s)) >>> 31'; break;
    case 'add_2b': c = 'u >>> 16'; break;
    default: break;
  }
  // fc last: add_c/sub_c read the incoming carry on its right-hand side.
  return `${live & LZ ? 'fz = s === 0 ? 1 : 0; ' : ''}${live & LN ? 'fn = s >>> 31; ' : ''}${live & LV ? `fv = ${v}; ` : ''}${live & LC ? `fc = ${c}; ` : ''}`;
}

const ALU_JS: Readonly<Record<NfpAlu['alu'], string>> = {
  none: 'r', not: '~r', and: 'l & r', and_not_a: '~l & r', and_not_b: 'l & ~r', or: 'l | r', xor: 'l ^ r',
  add: '(l + r) | 0', add_c: '(l + r + fc) | 0', sub: '(l - r) | 0', sub_c: '(l - r - (1 - fc)) | 0', add_2b: 'u & 65535',
};

function immedValue(x: NfpImmed): number {
  let v = x.imm << (8 * x.shift);
  if (x.invert) v = ~v;
  return v | 0;
}

const GENS: { readonly [K in NfpOp]: InsnGen<Extract<NfpInsn, { op: K }>> } = {
  alu(g, x, _i, live) {
    const [pa, a] = g.src(x.a);
    const [pb, b] = g.src(x.b);
    const u = x.alu === 'add_2b' ? 'const u = (l & 65535) + (r & 65535); ' : '';
    const bOnly = NFP_ALU_OPS[x.alu].bOnly;
    return `{ ${pa}${pb}const l = ${a}, r = ${b}; ${u}const s = ${ALU_JS[x.alu]}; ${aluFlags(x.alu, live)}${g.dst(x.dst, 's')}${live & LPA ? `pa = ${bOnly ? '0' : 'l'}; ` : ''}${live & LPO ? 'po = s; ' : ''}}`;
  },
  alu_shf(g, x, _i, live) {
    const [pa, a] = g.src(x.a);
    const [pb, b] = g.src(x.b);
    let s: string;
    if (x.shf === 'ashr') {
      const n = x.shift === 'indirect' ? '(pa & 31)' : `${x.shift}`;
      s = x.shift === 'indirect'
        ? `(pa & 31) === 0 ? b : ((b >>> (pa & 31)) | ((po >>> 31) ? -1 << (32 - (pa & 31)) : 0)) | 0`
        : `((b >>> ${n}) | ((po >>> 31) ? -1 << ${32 - (x.shift as number)} : 0)) | 0`;
    } else {
      const sh = shiftExpr(x.sc, 'a', 'b', x.shift);
      s = { none: sh, not: `~${sh}`, and: `a & ${sh}`, and_not_a: `~a & ${sh}`, and_not_b: `a & ~${sh}`, or: `a | ${sh}` }[x.shf];
    }
    const flags = `${live & LZ ? 'fz = s === 0 ? 1 : 0; ' : ''}${live & LN ? 'fn = s >>> 31; ' : ''}${live & LV ? 'fv = 0; ' : ''}${live & LC ? 'fc = 0; ' : ''}`;
    return `{ ${pa}${pb}const a = ${a}, b = ${b}; const s = ${s}; ${flags}${g.dst(x.dst, 's')}${live & LPA ? 'pa = a; ' : ''}${live & LPO ? 'po = s; ' : ''}}`;
  },
  immed(g, x, _i, live) {
    if (x.width === 'all') {
      const v = immedValue(x);
      return `{ const s = ${v}; ${g.dst(x.dst, 's')}${live & LPA ? 'pa = s; ' : ''}${live & LPO ? 'po = s; ' : ''}}`;
    }
    // immed_b/immed_w write only their bytes of each register file the destination names.
    const mask = ((x.width === 'byte' ? 0xff : 0xffff) << (8 * x.shift)) | 0;
    const v = (x.imm << (8 * x.shift)) & mask;
    const merge = (cell: string): string => `${cell} = (${cell} & ${~mask}) | ${v}`;
    let code: string;
    switch (x.dst.type) {
      case 'gpr':
        code = x.dst.bank === 'a' ? `const s = ${merge(`A[${x.dst.n}]`)};`
          : x.dst.bank === 'b' ? `const s = ${merge(`B[${x.dst.n}]`)};`
            : `${merge(`B[${x.dst.n}]`)}; const s = ${merge(`A[${x.dst.n}]`)};`;
        break;
      case 'xfer': code = `const s = ${merge(`XO[${x.dst.n}]`)};`; break;
      case 'lm': {
        const t = g.fresh('p');
        const post = x.dst.mod === 'none' ? '' : `LP[${x.dst.ptr}] = (${t} ${x.dst.mod === 'inc' ? '+' : '-'} 4) & BM; `;
        code = `const ${t} = LP[${x.dst.ptr}]; const s = ${merge(`LM[${x.dst.off ? `((${t} >>> 2) | ${x.dst.off})` : `(${t} >>> 2)`} & WM]`)}; ${post}`;
        break;
      }
      default: code = `const s = ${v};`;
    }
    return `{ ${code} ${live & LPA ? 'pa = s; ' : ''}${live & LPO ? 'po = s; ' : ''}}`;
  },
  ld_field(g, x, _i, live) {
    return ldFieldCode(g, x, live);
  },
  mul_step(g, x, i) {
    const code = nfpRuntime.mulCode(x.step);
    const pc = g.image.base + i;
    if (NFP_MUL_STEPS[x.step].last) return `{ const s = rt.mulStep(x, ${code}, 0, 0, ${pc}); ${g.dst(x.dst, 's')}}`;
    const [pa, a] = g.src(x.a);
    const [pb, b] = g.src(x.b);
    return `{ ${pa}${pb}rt.mulStep(x, ${code}, ${a}, ${b}, ${pc}); }`;
  },
  // Control flow is emitted by the block walker; these only read the operand the decision needs.
  br() { return ''; },
  br_bit() { return ''; },
  br_byte() { return ''; },
  rtn() { return ''; },
  local_csr_rd() { return ''; },
  local_csr_wr(g, x) {
    const [p, v] = g.src(x.src);
    return `{ ${p}rt.csrWrite(core, x, ${JSON.stringify(x.csr)}, ${v}); }`;
  },
  ctx_arb(_g, x) {
    return `st += rt.ctxArb(x, ${x.evMask});`;
  },
  cmd() { return ''; },
};

function ldFieldCode(g: Gen, x: NfpLdField, live: number): string {
  const inB = (x.dst.type === 'gpr' && x.dst.bank === 'b') || (x.src.type === 'gpr' && x.src.bank === 'a');
  const [ps, src] = g.src(x.src);
  const [po, old] = x.zero ? ['', '0'] : g.old(x.dst, inB);
  const m = BYTE_MASK(x.bmask);
  return `{ ${ps}const v = ${shiftExpr(x.sc, '0', src, x.shift)}; ${po}const s = (${old} & ${~m}) | (v & ${m}); ${g.dst(x.dst, 's')}${live & LPA ? 'pa = s; ' : ''}${live & LPO ? 'po = s; ' : ''}}`;
}

// ---------------------------------------------------------------------------------------------------
// Memory commands

/** A word of the transfer registers byte-swapped (bswap32 in src/nic/atomic.ts), as an expression on `v`. */
const BSWAP_V = '(((v & 255) << 24) | ((v & 65280) << 8) | ((v >>> 8) & 65280) | (v >>> 24))';

/**
 * Statements executing command `c` (instruction index k) whose operands were read into ca and cb and
 * PREV_ALU into cp, adding what the context waits to `st` — what nfpRuntime.cmd does, specialised (see
 * the top of the file). The fast path covers one target: CTM for the 32-bit mode, EMEM for the 40-bit
 * modes; its conditions are the interpreter's own (aligned where it reads or writes whole words,
 * inside the backed bytes, no length override), and anything else goes to nfpRuntime.cmd.
 */
function cmdCode(c: NfpCmdSpec, k: number): string {
  const slow = `st += rt.cmd(core, x, K[${k}], ca, cb, cp);`;
  const xf = c.xfer;
  const n = c.count;
  // Commands that always fault (transfer registers overrun; add_imm without its immediate) fault there.
  if (c.kind === 0 && xf + ((n + 3) >> 2) > NFP_XFER_REGS) return slow;
  if ((c.kind === 1 || c.kind === 3) && xf + n > NFP_XFER_REGS) return slow;
  if (c.kind === 2 && xf + ((n + 3) >> 2) > NFP_XFER_REGS) return slow;
  if (c.kind === 4 && xf + 1 >= NFP_XFER_REGS) return slow;
  if (c.kind === 5 && !c.indirect) return slow;
  const emem = c.mode !== 4;
  const [M8, M32, M64, SZ, LAT] = emem ? ['E8', 'E32', 'E64', 'E8.length', 'LE'] : ['C8', 'C32', 'C64', 'C8.length', 'LC'];
  // 32-bit mode: the local CTM at A + B. 40-bit modes: bits 39:32 from the "<<8" operand; the fast path
  // takes EMEM below 4 GiB (high byte NFP_ADDR40_EMEM), the offset then being the other operand.
  const [hiOp, loOp] = c.mode === 0 ? ['ca', 'cb'] : ['cb', 'ca'];
  const addr = emem ? `const off = ${loOp} >>> 0;` : 'const off = (ca + cb) >>> 0;';
  const conds: string[] = emem ? [`(${hiOp} & 255) === ${NFP_ADDR40_EMEM}`] : [];
  if (c.indirect && c.kind <= 3) conds.push(`(cp & ${CMD_OVE_LEN}) === 0`);
  if (c.kind === 5) conds.push(`((cp >>> ${CMD_OVE_DATA_SHIFT}) & 7) === 2`);
  const done = c.swap ? `st += ${LAT};` : c.sig !== 0 ? `if (SL[${c.sig}] < ${LAT}) SL[${c.sig}] = ${LAT};` : '';
  let body: string;
  switch (c.kind) {
    case 0: { // read8: bytes packed big-endian into the transfer registers
      conds.push(`off + ${n} <= ${SZ}`);
      body = '';
      for (let w = 0; w < (n + 3) >> 2; w++) {
        const bytes: string[] = [];
        for (let b = 4 * w; b < n && b < 4 * w + 4; b++) bytes.push(`(${M8}[off + ${b}] << ${24 - 8 * (b & 3)})`);
        body += `XI[${xf + w}] = ${bytes.join(' | ')}; `;
      }
      break;
    }
    case 1: { // read32 / read32_swap: aligned words other threads may bump are read whole (plain reads in CTM, as the interpreter)
      conds.push(`off + ${4 * n} <= ${SZ}`);
      body = 'if ((off & 3) === 0) { const w = off >> 2; ';
      for (let i = 0; i < n; i++) {
        const load = emem ? `Atomics.load(${M32}, w + ${i})` : `${M32}[w + ${i}]`;
        body += c.swapBytes ? `XI[${xf + i}] = ${load}; ` : `{ const v = ${load}; XI[${xf + i}] = ${BSWAP_V}; } `;
      }
      body += '} else { ';
      if (emem) body += 'const ED = core.ememDv; ';
      for (let i = 0; i < n; i++) body += `XI[${xf + i}] = ${emem ? 'ED' : 'CD'}.getInt32(off + ${4 * i}, ${c.swapBytes}); `;
      body += '} ';
      break;
    }
    case 2: { // write8 / write8_swap
      conds.push(`off + ${n} <= ${SZ}`);
      body = '';
      for (let b = 0; b < n; b++) body += `${M8}[off + ${b}] = XO[${xf + (b >> 2)}] >>> ${c.swapBytes ? 8 * (b & 3) : 24 - 8 * (b & 3)}; `;
      break;
    }
    case 3: { // write32 / write32_swap: the same bytes as the interpreter's byte stores
      conds.push('(off & 3) === 0', `off + ${4 * n} <= ${SZ}`);
      body = 'const w = off >> 2; ';
      for (let i = 0; i < n; i++) body += c.swapBytes ? `${M32}[w + ${i}] = XO[${xf + i}]; ` : `{ const v = XO[${xf + i}]; ${M32}[w + ${i}] = ${BSWAP_V}; } `;
      break;
    }
    default: { // add / add64 / add_imm / add64_imm: the big-endian atomic engine; out of range it does nothing
      const lo = c.kind === 5 ? 'cp >>> 16' : `XO[${xf}]`;
      const wideHi = c.kind === 5 ? '0' : `XO[${xf + 1}]`;
      const wide64 = `{ const p = off - (off % 8); if (p + 8 <= ${SZ}) rt.add64(${M32}, ${M64}, p / 8, ${lo}, ${wideHi}); }`;
      const narrow = `{ const p = off - (off % 4); if (p + 4 <= ${SZ}) rt.add32(${M32}, p / 4, ${lo} | 0); }`;
      if (c.is64) body = wide64;
      else if (c.indirect) body = `if ((cp & ${CMD_OVE_LEN}) !== 0 && ((cp >>> ${CMD_OV_LEN_SHIFT}) & 4) !== 0) ${wide64} else ${narrow}`;
      else body = narrow;
      break;
    }
  }
  if (conds.length === 0) return `${addr} ${body}${done}`;
  return `${addr} if (${conds.join(' && ')}) { ${body}${done} } else { ${slow} }`;
}

// ---------------------------------------------------------------------------------------------------
// Blocks and the function

interface Block {
  readonly start: number;
  /** Instruction indexes in execution order (defer slots inline). */
  readonly seq: readonly number[];
  /** Where control may go next: block starts, or undefined when it cannot be known (rtn, firmware). */
  readonly succs: readonly number[] | undefined;
  /** The PC after the block when it does not branch. */
  readonly after: number;
}

function buildBlock(image: NfpImage, p: Plan, start: number): Block {
  const { base, insns } = image;
  const end = base + insns.length;
  const seq: number[] = [];
  let i = start - base;
  for (;;) {
    const n = unitLength(insns, i);
    for (let k = 0; k < n; k++) seq.push(i + k);
    const x = insns[i]!;
    i += n;
    if (endsBlock(x)) {
      const after = base + i;
      if (x.op === 'rtn') return { start, seq, succs: undefined, after };
      const inImage = x.target >= base && x.target < end;
      if (!inImage) return { start, seq, succs: undefined, after };
      const succs = x.op === 'br' && x.cond === 'br' ? [x.target] : [x.target, after];
      return { start, seq, succs: succs.every((t) => p.isLeader.has(t)) ? succs : undefined, after };
    }
    if (base + i >= end) return { start, seq, succs: undefined, after: base + i };
    if (p.isLeader.has(base + i)) return { start, seq, succs: [base + i], after: base + i };
  }
}

/** Live-out of every block: the usual backward dataflow; unknown successors keep everything live. */
function solveLiveness(insns: readonly NfpInsn[], blocks: readonly Block[]): Map<number, number> {
  const liveIn = new Map<number, number>(blocks.map((b) => [b.start, 0]));
  const liveOut = new Map<number, number>();
  for (let changed = true; changed;) {
    changed = false;
    for (let k = blocks.length - 1; k >= 0; k--) {
      const b = blocks[k]!;
      const out = b.succs === undefined ? LALL : b.succs.reduce((m, t) => m | liveIn.get(t)!, 0);
      liveOut.set(b.start, out);
      const { liveIn: inn } = liveAfter(insns, b.seq, out);
      if (inn !== liveIn.get(b.start)) {
        liveIn.set(b.start, inn);
        changed = true;
      }
    }
  }
  return liveOut;
}

function genBlock(g: Gen, b: Block, liveOut: number, nextLabel: number | undefined): string {
  const { base, insns } = g.image;
  const seq = b.seq;
  const { after: live } = liveAfter(insns, seq, liveOut);
  let code = `case ${b.start}: {\n  cy += ${seq.length};\n`;
  const comment = (k: number): string => `/* .${base + k} ${disasmInsn(insns[k]!).replace(/\*\//g, '* /')} */ `;
  const one = (s: number): string => `  ${comment(seq[s]!)}${(GENS[insns[seq[s]!]!.op] as InsnGen<NfpInsn>)(g, insns[seq[s]!]!, seq[s]!, live[s]!)}\n`;
  let s = 0;
  while (s < seq.length) {
    const k = seq[s]!;
    const x = insns[k]!;
    if (x.op === 'local_csr_rd') {
      const imm = insns[k + 1] as NfpImmed;
      const l = live[s + 1]!;
      code += `  ${comment(k)}${comment(k + 1)}{ const s = rt.csrRead(core, x, ${JSON.stringify(x.csr)}); ${g.dst(imm.dst, 's')}${l & LPA ? 'pa = s; ' : ''}${l & LPO ? 'po = s; ' : ''}}\n`;
      s += 2;
    } else if (x.op === 'cmd') {
      const [pa, a] = g.src(x.a);
      const [pb, bb] = g.src(x.b);
      // Operands and PREV_ALU are read at issue, before the defer slots run.
      code += `  ${comment(k)}{ ${pa}${pb}const ca = ${a}, cb = ${bb}, cp = po;\n`;
      if (x.swap) for (let d = 1; d <= x.defer; d++) code += one(s + d);
      code += `  ${cmdCode(g.image.cmds[k]!, k)} }\n`;
      s += 1 + (x.swap ? x.defer : 0);
    } else if (endsBlock(x)) {
      const d = nfpDeferOf(x);
      let cond: string;
      let to: string;
      code += `  ${comment(k)}`;
      if (x.op === 'br') {
        cond = COND_JS[x.cond];
        to = `${x.target}`;
      } else if (x.op === 'rtn') {
        const [pr, r] = g.src(x.src);
        code += `${pr}const to = ${r} & ${NFP_MAX_CODE_ADDR - 1};\n`;
        cond = 'true';
        to = 'to';
      } else {
        const [pr, r] = g.src(x.src);
        code += pr;
        cond = x.op === 'br_bit'
          ? `((${r} >>> ${x.bit}) & 1) === ${x.set ? 1 : 0}`
          : `(((${r} >>> ${8 * x.byte}) & 255) === ${x.value}) === ${x.eq}`;
        to = `${x.target}`;
      }
      code += cond === 'true' ? '\n' : `const t = ${cond};\n`;
      for (let dd = 1; dd <= d; dd++) code += one(s + dd);
      // The refill penalty, and a bank crossing's (paper-only second code-store bank: see isa.ts).
      const bank = (base + k) >>> NFP_USTORE_BANK_SHIFT;
      let pen = `${Math.max(0, NFP_BRANCH_PENALTY - d)}`;
      if (x.op === 'rtn') pen += ` + ((to >>> ${NFP_USTORE_BANK_SHIFT}) !== ${bank} ? ${NFP_XBANK_BRANCH_PENALTY} : 0)`;
      else if ((x.target >>> NFP_USTORE_BANK_SHIFT) !== bank) pen = `${Math.max(0, NFP_BRANCH_PENALTY - d) + NFP_XBANK_BRANCH_PENALTY}`;
      const taken = `cy += ${pen}; pc = ${to}; continue;`;
      code += cond === 'true' ? `  ${taken}\n` : `  if (t) { ${taken} }\n${b.after === nextLabel ? '' : `  pc = ${b.after}; continue;\n`}`;
      return `${code}}\n`;
    } else {
      code += one(s);
      s += 1;
    }
  }
  if (b.after !== nextLabel) code += `  pc = ${b.after}; continue;\n`;
  return `${code}}\n`;
}

/**
 * V8 does not optimize very large functions, so the blocks are cut, in address order, into chunks of
 * at most this many instructions, each its own function; control crossing chunks goes through a small
 * dispatcher. Loops rarely straddle a cut, since blocks stay in address order.
 */
export const NFP_JS_CHUNK_INSNS = 128;

interface Generated {
  /** One function body per chunk: (core, x, pc, lim) -> the PC where control leaves the chunk. */
  readonly chunks: readonly string[];
  /** For each instruction of the image: the chunk holding the block that starts there, or -1. */
  readonly chunkOf: Int16Array;
}

function generate(image: NfpImage, p: Plan, chunkInsns: number): Generated {
  const g = new Gen(image);
  const blocks = p.leaders.map((l) => buildBlock(image, p, l));
  const liveOut = solveLiveness(image.insns, blocks);
  const chunkOf = new Int16Array(image.insns.length).fill(-1);
  const groups: Block[][] = [];
  let size = 0;
  for (const b of blocks) {
    if (groups.length === 0 || size + b.seq.length > chunkInsns) {
      groups.push([]);
      size = 0;
    }
    groups[groups.length - 1]!.push(b);
    size += b.seq.length;
    chunkOf[b.start - image.base] = groups.length - 1;
  }
  const flush = 'x.z = fz; x.n = fn; x.c = fc; x.v = fv; x.prevAluA = pa; x.prevAlu = po; x.busy += cy; x.stall += st;';
  const chunks = groups.map((bs, c) => {
    let cases = '';
    bs.forEach((b, k) => { cases += genBlock(g, b, liveOut.get(b.start)!, bs[k + 1]?.start); });
    const hasCmd = bs.some((b) => b.seq.some((i) => image.insns[i]!.op === 'cmd'));
    return `'use strict';
return function nfp_image_${image.base}_${c}(core, x, pc, lim) {
  const A = x.gprA, B = x.gprB, XI = x.xferIn, XO = x.xferOut, LP = x.lmAddr, LM = core.lm;
  const WM = core.lmWordMask, BM = core.lmByteMask;
${hasCmd ? '  const C8 = core.ctm, C32 = core.ctmI32, C64 = core.ctmI64, E8 = core.emem, E32 = core.ememI32, E64 = core.ememI64, CD = core.ctmDv, SL = x.sigLatency, LC = core.latency.ctm, LE = core.latency.emem;\n' : ''}  let fz = x.z, fn = x.n, fc = x.c, fv = x.v, pa = x.prevAluA, po = x.prevAlu;
  let cy = 0, st = 0;
  const left = lim - x.busy;
  for (;;) {
    if (cy > left) rt.budget(pc);
    switch (pc) {
${cases}    default:
      ${flush}
      return pc;
    }
  }
};
`;
  });
  return { chunks, chunkOf };
}

/** The JavaScript engine: the image compiled to functions once; `run` enters them. */
export class NfpJsEngine implements NfpEngine {
  readonly kind = 'js' as const;
  /** The generated JavaScript, one function per chunk (for debugging and for reading what V8 gets). */
  readonly source: string;
  /** Basic blocks the translator found, and the chunks (functions) they were cut into. */
  readonly blocks: number;
  readonly chunks: number;
  private readonly fns: readonly ChunkFn[];
  private readonly chunkOf: Int16Array;
  private readonly hooks: NfpHooks;
  private readonly interp: NfpInterpreter;
  private readonly maxCycles: number;

  constructor(readonly image: NfpImage, hooks: NfpHooks, opts: NfpEngineOptions & { chunkInsns?: number } = {}) {
    const targets = validateImage(image, hooks);
    this.maxCycles = opts.maxCycles ?? NFP_DEFAULT_MAX_CYCLES;
    const p = plan(image, targets);
    this.blocks = p.leaders.length;
    const gen = generate(image, p, opts.chunkInsns ?? NFP_JS_CHUNK_INSNS);
    this.chunks = gen.chunks.length;
    this.chunkOf = gen.chunkOf;
    this.source = gen.chunks.join('\n');
    this.hooks = hooks;
    this.interp = new NfpInterpreter(image, hooks, opts);
    const maxCycles = this.maxCycles;
    const rt: GenRuntime = {
      mulStep: nfpRuntime.mulStep,
      csrRead: nfpRuntime.csrRead,
      csrWrite: nfpRuntime.csrWrite,
      ctxArb: nfpRuntime.ctxArb,
      cmd: nfpRuntime.cmd,
      add32: nfp_atomic_add_be32,
      add64: nfp_atomic_add_be64,
      budget: (pc) => { throw nfpBudgetExceeded(pc, maxCycles); },
    };
    this.fns = gen.chunks.map((src) => new Function('rt', 'K', src)(rt, image.cmds) as ChunkFn);
  }

  run(core: NfpCore, x: NfpContext, entry: number): number {
    const { base } = this.image;
    const end = base + this.image.insns.length;
    const lim = x.busy + this.maxCycles;
    let pc = entry;
    for (;;) {
      if (pc >= base && pc < end) {
        const c = this.chunkOf[pc - base]!;
        // An address the translator did not take for a block start (a computed rtn target): the
        // interpreter finishes the run, with the same result.
        if (c < 0) return this.interp.runFrom(core, x, pc);
        pc = this.fns[c]!(core, x, pc, lim);
      } else {
        if (x.busy > lim) throw nfpBudgetExceeded(pc, this.maxCycles);
        pc = nfpFirmwareCall(this.hooks, core, x, pc);
        if (pc === NFP_RUN_EXIT) return x.exitPc;
      }
    }
  }
}

/** Build the engine the datapath wants ('js' by default; 'interpreter' for the reference). */
export function nfpEngine(kind: 'js' | 'interpreter', image: NfpImage, hooks: NfpHooks, opts: NfpEngineOptions = {}): NfpEngine {
  return kind === 'js' ? new NfpJsEngine(image, hooks, opts) : new NfpInterpreter(image, hooks, opts);
}
