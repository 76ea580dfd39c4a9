// The fast NFP engine: a whole image translated to one JavaScript function, compiled once per image
// (per worker) by V8, for the datapath's cores. It must agree with the reference interpreter in
// src/nic/core.ts exactly — registers, memories, condition codes, PREV_ALU, and busy/stall cycles — and
// a random differential test holds it to that.
//
// Shape of the code (PERFORMANCE.md): one `switch (pc)` over basic blocks inside a loop; blocks are
// emitted in address order so straight-line code falls from one case into the next and only taken
// branches go back through the dispatcher. Each block adds its issue cycles once, on entry; a taken
// branch adds its refill penalty on the taken path; a memory command adds the latency it waited.
// Condition codes and PREV_ALU live in locals, and an ALU operation computes them only when something
// in the block can still read them before the next ALU operation overwrites them.
//
// A branch group (branch + its defer slots) and a swapping command with its defer slots are emitted as
// units, the defer slots inline; a jump into a defer slot gets a block of its own. A `rtn` to an address
// that is not a block start (the translator guesses return addresses from the image's immeds) hands
// the rest of the run to the interpreter, which gives the same result more slowly.

import { BpfError } from '../bpf/errno.js';
import { disasmInsn } from './asm.js';
import {
  NFP_DEFAULT_MAX_CYCLES, NFP_RUN_EXIT, NfpInterpreter, nfpBudgetExceeded, nfpFirmwareCall, nfpInDeferSlot, nfpRuntime, validateImage,
  type NfpContext, type NfpCore, type NfpEngine, type NfpEngineOptions, type NfpHooks, type NfpImage,
} from './core.js';
import {
  NFP_ALU_OPS, NFP_BRANCH_PENALTY, NFP_MAX_CODE_ADDR, NFP_MUL_STEPS, nfpDeferOf, nfpIsBranch,
  type NfpAlu, type NfpBrCond, type NfpImmed, type NfpInsn, type NfpLdField, type NfpOp, type NfpReg, type NfpShf,
} from './isa.js';

type RunFn = (core: NfpCore, x: NfpContext, pc: number) => number;

/** What the generated code calls: the shared runtime, the firmware, the interpreter for odd entries. */
interface GenRuntime {
  readonly mulStep: typeof nfpRuntime.mulStep;
  readonly csrRead: typeof nfpRuntime.csrRead;
  readonly csrWrite: typeof nfpRuntime.csrWrite;
  readonly ctxArb: typeof nfpRuntime.ctxArb;
  readonly cmd: typeof nfpRuntime.cmd;
  fw(core: NfpCore, x: NfpContext, pc: number): number;
  resume(core: NfpCore, x: NfpContext, pc: number): number;
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

/** The shifter on B (`a` is the double shift's high word); `k` is an expression for the amount. */
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
// Liveness of the condition codes and PREV_ALU inside a block (block ends: everything live)

interface Live {
  readonly flags: boolean;
  readonly pa: boolean;
  readonly po: boolean;
}

interface Effects {
  readsFlags: boolean;
  writesFlags: boolean;
  readsPa: boolean;
  readsPo: boolean;
  writesPrev: boolean;
}

function effects(x: NfpInsn): Effects {
  const e: Effects = { readsFlags: false, writesFlags: false, readsPa: false, readsPo: false, writesPrev: false };
  switch (x.op) {
    case 'alu': e.writesFlags = e.writesPrev = true; e.readsFlags = x.alu === 'add_c' || x.alu === 'sub_c'; break;
    case 'alu_shf': e.writesFlags = e.writesPrev = true; e.readsPa = x.shift === 'indirect'; e.readsPo = x.shf === 'ashr'; break;
    case 'immed': e.writesPrev = true; break;
    case 'ld_field': e.writesPrev = true; e.readsPa = x.shift === 'indirect'; break;
    case 'br': e.readsFlags = x.cond !== 'br'; break;
    case 'cmd': e.readsPo = x.indirect; break;
    default: break;
  }
  return e;
}

/** For a sequence of instruction indexes in execution order: what must be kept after each. */
function liveness(insns: readonly NfpInsn[], seq: readonly number[]): Live[] {
  const out: Live[] = new Array<Live>(seq.length);
  let flags = true;
  let pa = true;
  let po = true;
  for (let k = seq.length - 1; k >= 0; k--) {
    out[k] = { flags, pa, po };
    const e = effects(insns[seq[k]!]!);
    if (e.writesFlags) flags = false;
    if (e.readsFlags) flags = true;
    if (e.writesPrev) { pa = false; po = false; }
    if (e.readsPa) pa = true;
    if (e.readsPo) po = true;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Code for instructions (one generator per instruction of the table)

type InsnGen<T extends NfpInsn> = (g: Gen, x: T, i: number, live: Live) => string;

const zn = 'fz = s === 0 ? 1 : 0; fn = s >>> 31; ';

function aluExpr(op: NfpAlu['alu'], live: boolean): [string, string] {
  // [value of s, flag statements]
  switch (op) {
    case 'none': return ['r', live ? `${zn}fc = 0; fv = 0; ` : ''];
    case 'not': return ['~r', live ? `${zn}fc = 0; fv = 0; ` : ''];
    case 'and': return ['l & r', live ? `${zn}fc = 0; fv = 0; ` : ''];
    case 'and_not_a': return ['~l & r', live ? `${zn}fc = 0; fv = 0; ` : ''];
    case 'and_not_b': return ['l & ~r', live ? `${zn}fc = 0; fv = 0; ` : ''];
    case 'or': return ['l | r', live ? `${zn}fc = 0; fv = 0; ` : ''];
    case 'xor': return ['l ^ r', live ? `${zn}fc = 0; fv = 0; ` : ''];
    case 'add': return ['(l + r) | 0', live ? `${zn}fc = (l >>> 0) + (r >>> 0) > 4294967295 ? 1 : 0; fv = (~(l ^ r) & (l ^ s)) >>> 31; ` : ''];
    case 'add_c': return ['(l + r + fc) | 0', live ? `${zn}fc = (l >>> 0) + (r >>> 0) + fc > 4294967295 ? 1 : 0; fv = (~(l ^ r) & (l ^ s)) >>> 31; ` : ''];
    case 'sub': return ['(l - r) | 0', live ? `${zn}fc = (l >>> 0) >= (r >>> 0) ? 1 : 0; fv = ((l ^ r) & (l ^ s)) >>> 31; ` : ''];
    case 'sub_c': return ['(l - r - (1 - fc)) | 0', live ? `${zn}fc = (l >>> 0) - (r >>> 0) - (1 - fc) >= 0 ? 1 : 0; fv = ((l ^ r) & (l ^ s)) >>> 31; ` : ''];
    case 'add_2b': return ['u & 65535', live ? `${zn}fc = u >>> 16; fv = 0; ` : ''];
  }
}

function immedValue(x: NfpImmed): number {
  let v = x.imm << (8 * x.shift);
  if (x.invert) v = ~v;
  return v | 0;
}

const GENS: { readonly [K in NfpOp]: InsnGen<Extract<NfpInsn, { op: K }>> } = {
  alu(g, x, _i, live) {
    const [pa, a] = g.src(x.a);
    const [pb, b] = g.src(x.b);
    const [s, flags] = aluExpr(x.alu, live.flags);
    const u = x.alu === 'add_2b' ? 'const u = (l & 65535) + (r & 65535); ' : '';
    const bOnly = NFP_ALU_OPS[x.alu].bOnly;
    return `{ ${pa}${pb}const l = ${a}, r = ${b}; ${u}const s = ${s}; ${flags}${g.dst(x.dst, 's')}${live.pa ? `pa = ${bOnly ? '0' : 'l'}; ` : ''}${live.po ? 'po = s; ' : ''}}`;
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
    const flags = live.flags ? `${zn}fc = 0; fv = 0; ` : '';
    return `{ ${pa}${pb}const a = ${a}, b = ${b}; const s = ${s}; ${flags}${g.dst(x.dst, 's')}${live.pa ? 'pa = a; ' : ''}${live.po ? 'po = s; ' : ''}}`;
  },
  immed(g, x, _i, live) {
    if (x.width === 'all') {
      const v = immedValue(x);
      return `{ const s = ${v}; ${g.dst(x.dst, 's')}${live.pa ? 'pa = s; ' : ''}${live.po ? 'po = s; ' : ''}}`;
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
    return `{ ${code} ${live.pa ? 'pa = s; ' : ''}${live.po ? 'po = s; ' : ''}}`;
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

function ldFieldCode(g: Gen, x: NfpLdField, live: Live): string {
  const inB = (x.dst.type === 'gpr' && x.dst.bank === 'b') || (x.src.type === 'gpr' && x.src.bank === 'a');
  const [ps, src] = g.src(x.src);
  const [po, old] = x.zero ? ['', '0'] : g.old(x.dst, inB);
  const m = BYTE_MASK(x.bmask);
  return `{ ${ps}const v = ${shiftExpr(x.sc, '0', src, x.shift)}; ${po}const s = (${old} & ${~m}) | (v & ${m}); ${g.dst(x.dst, 's')}${live.pa ? 'pa = s; ' : ''}${live.po ? 'po = s; ' : ''}}`;
}

// ---------------------------------------------------------------------------------------------------
// Blocks and the function

function genBlock(g: Gen, p: Plan, start: number, nextLabel: number | undefined): string {
  const { base, insns } = g.image;
  const end = base + insns.length;
  // The units of the block, in execution order.
  const seq: number[] = [];
  let i = start - base;
  for (;;) {
    const n = unitLength(insns, i);
    for (let k = 0; k < n; k++) seq.push(i + k);
    if (endsBlock(insns[i]!)) { i += n; break; }
    i += n;
    if (base + i >= end || p.isLeader.has(base + i)) break;
  }
  const live = liveness(insns, seq);
  let code = `case ${start}: {\n  cy += ${seq.length};\n`;
  const comment = (k: number): string => `/* .${base + k} ${disasmInsn(insns[k]!).replace(/\*\//g, '* /')} */ `;
  let s = 0;
  while (s < seq.length) {
    const k = seq[s]!;
    const x = insns[k]!;
    const n = unitLength(insns, k);
    const inner = (from: number, count: number): string => {
      let c = '';
      for (let d = 0; d < count; d++) c += `  ${comment(seq[from + d]!)}${(GENS[insns[seq[from + d]!]!.op] as InsnGen<NfpInsn>)(g, insns[seq[from + d]!]!, seq[from + d]!, live[from + d]!)}\n`;
      return c;
    };
    if (x.op === 'local_csr_rd') {
      const imm = insns[k + 1] as NfpImmed;
      const l = live[s + 1]!;
      code += `  ${comment(k)}${comment(k + 1)}{ const s = rt.csrRead(core, x, ${JSON.stringify(x.csr)}); ${g.dst(imm.dst, 's')}${l.pa ? 'pa = s; ' : ''}${l.po ? 'po = s; ' : ''}}\n`;
    } else if (x.op === 'cmd') {
      const [pa, a] = g.src(x.a);
      const [pb, b] = g.src(x.b);
      if (x.swap && x.defer > 0) {
        code += `  ${comment(k)}{ ${pa}${pb}const ca = ${a}, cb = ${b}, cp = po;\n${inner(s + 1, x.defer)}  st += rt.cmd(core, x, K[${k}], ca, cb, cp); }\n`;
      } else {
        code += `  ${comment(k)}{ ${pa}${pb}st += rt.cmd(core, x, K[${k}], ${a}, ${b}, po); }\n`;
      }
    } else if (endsBlock(x)) {
      const d = nfpDeferOf(x);
      let cond: string;
      let to: string;
      if (x.op === 'br') {
        cond = COND_JS[x.cond];
        to = `${x.target}`;
      } else if (x.op === 'rtn') {
        const [pr, r] = g.src(x.src);
        code += `  ${comment(k)}${pr}const to = ${r} & ${NFP_MAX_CODE_ADDR - 1};\n`;
        cond = 'true';
        to = 'to';
      } else {
        const [pr, r] = g.src(x.src);
        code += `  ${comment(k)}${pr}`;
        cond = x.op === 'br_bit'
          ? `((${r} >>> ${x.bit}) & 1) === ${x.set ? 1 : 0}`
          : `(((${r} >>> ${8 * x.byte}) & 255) === ${x.value}) === ${x.eq}`;
        to = `${x.target}`;
      }
      if (x.op === 'br') code += `  ${comment(k)}`;
      code += `const t = ${cond};\n${inner(s + 1, d)}`;
      const pen = Math.max(0, NFP_BRANCH_PENALTY - d);
      const after = base + k + 1 + d;
      const taken = `cy += ${pen}; pc = ${to}; continue;`;
      code += cond === 'true' ? `  ${taken}\n` : `  if (t) { ${taken} }\n${after === nextLabel ? '' : `  pc = ${after}; continue;\n`}`;
      return `${code}}\n`;
    } else {
      code += inner(s, 1);
      s += 1;
      continue;
    }
    s += n;
  }
  const after = base + i;
  if (after !== nextLabel) code += `  pc = ${after}; continue;\n`;
  return `${code}}\n`;
}

function generate(image: NfpImage, p: Plan, maxCycles: number): string {
  const g = new Gen(image);
  const end = image.base + image.insns.length;
  let cases = '';
  p.leaders.forEach((l, k) => { cases += genBlock(g, p, l, p.leaders[k + 1]); });
  const flush = 'x.z = fz; x.n = fn; x.c = fc; x.v = fv; x.prevAluA = pa; x.prevAlu = po; x.busy += cy; x.stall += st; cy = 0; st = 0;';
  return `'use strict';
return function nfp_image_${image.base}(core, x, pc) {
  const A = x.gprA, B = x.gprB, XI = x.xferIn, XO = x.xferOut, LP = x.lmAddr, LM = core.lm;
  const WM = core.lmWordMask, BM = core.lmByteMask;
  let fz = x.z, fn = x.n, fc = x.c, fv = x.v, pa = x.prevAluA, po = x.prevAlu;
  let cy = 0, st = 0;
  const lim = x.busy + ${maxCycles};
  for (;;) {
    if (x.busy + cy > lim) rt.budget(pc);
    switch (pc) {
${cases}    default:
      ${flush}
      if (pc >= ${image.base} && pc < ${end}) return rt.resume(core, x, pc);
      pc = rt.fw(core, x, pc);
      if (pc === ${NFP_RUN_EXIT}) return x.exitPc;
      fz = x.z; fn = x.n; fc = x.c; fv = x.v; pa = x.prevAluA; po = x.prevAlu;
    }
  }
};
`;
}

/** The JavaScript engine: the image compiled to a function once; `run` calls it. */
export class NfpJsEngine implements NfpEngine {
  readonly kind = 'js' as const;
  /** The generated JavaScript (for debugging and for reading what V8 gets). */
  readonly source: string;
  /** Basic blocks the translator found. */
  readonly blocks: number;
  private readonly fn: RunFn;

  constructor(readonly image: NfpImage, hooks: NfpHooks, opts: NfpEngineOptions = {}) {
    const targets = validateImage(image, hooks);
    const maxCycles = opts.maxCycles ?? NFP_DEFAULT_MAX_CYCLES;
    const p = plan(image, targets);
    this.blocks = p.leaders.length;
    this.source = generate(image, p, maxCycles);
    const interp = new NfpInterpreter(image, hooks, opts);
    const rt: GenRuntime = {
      mulStep: nfpRuntime.mulStep,
      csrRead: nfpRuntime.csrRead,
      csrWrite: nfpRuntime.csrWrite,
      ctxArb: nfpRuntime.ctxArb,
      cmd: nfpRuntime.cmd,
      fw: (core, x, pc) => nfpFirmwareCall(hooks, core, x, pc),
      resume: (core, x, pc) => interp.runFrom(core, x, pc),
      budget: (pc) => { throw nfpBudgetExceeded(pc, maxCycles); },
    };
    this.fn = new Function('rt', 'K', this.source)(rt, image.cmds) as RunFn;
  }

  run(core: NfpCore, x: NfpContext, entry: number): number {
    return this.fn(core, x, entry);
  }
}

/** Build the engine the datapath wants ('js' by default; 'interpreter' for the reference). */
export function nfpEngine(kind: 'js' | 'interpreter', image: NfpImage, hooks: NfpHooks, opts: NfpEngineOptions = {}): NfpEngine {
  return kind === 'js' ? new NfpJsEngine(image, hooks, opts) : new NfpInterpreter(image, hooks, opts);
}
