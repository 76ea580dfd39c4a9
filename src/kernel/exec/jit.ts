// The host JIT: BPF -> JavaScript source, compiled once per program by V8 (the role of
// arch/x86/net/bpf_jit_comp.c). A short pipeline of named passes:
//
//   splitFunctions   bpf-to-bpf subprograms become separate JS functions (r1-r5 arguments, r6-r9 locals)
//   layoutFunction   (cfg.ts) loops become `while (true)` and forward jumps `break` out of labelled
//                    blocks, so V8 sees real structured control flow, not a dispatcher (PERFORMANCE.md)
//   hiDead           demanded bits, backwards: which 64-bit results nobody needs the upper half of
//   emitFunction     one JS statement group per instruction; a 64-bit register is two int32 locals;
//                    a short straight loop of a verified program is unrolled (unrollFactor)
//   link             new Function() over the runtime shared with the interpreter
//
// Semantics are the interpreter's: the same alu.ts for the rare operations (64-bit division), the same
// runtime.ts for anything that is not plain memory (ctx fields, faults, helpers, atomics, tail calls).
// A program whose control flow cannot be structured (irreducible, or jumping between subprograms) is
// refused with ENOTSUPP and the caller runs it on the interpreter, as the kernel falls back when its JIT fails.

import { BpfError } from '../../bpf/errno.js';
import type { Insn } from '../../bpf/insn.js';
import { BPF_FUNC_map_lookup_elem, BPF_FUNC_tail_call } from '../../bpf/helpers.js';
import { BPF_MAP_TYPE } from '../../bpf/prog-types.js';

const BPF_MAP_TYPE_ARRAY = BPF_MAP_TYPE.ARRAY;
const BPF_MAP_TYPE_PERCPU_ARRAY = BPF_MAP_TYPE.PERCPU_ARRAY;
import { ATOMIC_OPS, MAX_BPF_STACK, findOp, type AluOp, type JmpCond, type OpInfo } from '../../bpf/opcodes.js';
import { ALU64, RES, bswap32, mulhiu } from './alu.js';
import { MAX_CALL_FRAMES, type ExecContext, type ExecEnv, type ExecProgram } from './context.js';
import { REGION_HI_BASE, type Region } from './memory.js';
import { layoutFunction, type Block, type Loop } from './cfg.js';
import type { InsnAux } from '../verifier/verifier.js';
import * as runtime from './runtime.js';
import { HashTab } from '../maps/hashtab.js';
import { xdp_func_proto } from '../helpers/index.js';

export interface JitProgram {
  /** Run on CPU x with r1 = ctx (and r2, for uBPF-style callers); r0 is left in x.R[0..1]. */
  run(x: ExecContext, ctxLo: number, ctxHi: number, r2?: number): void;
  /** Enter with explicit r1 and frame pointer (tail calls). */
  enter(x: ExecContext, r1l: number, r1h: number, fp: number): void;
  /**
   * Run `n` times with the same r1, as BPF_PROG_TEST_RUN's repeat loop and the datapath's batches do:
   * the loop lives inside the image, so every call into the program is monomorphic.
   */
  runN(x: ExecContext, ctxLo: number, ctxHi: number, n: number): void;
  /** The generated JavaScript, for `bpftool prog dump jited` on the host and for debugging. */
  readonly source: string;
}

const cannot = (why: string): BpfError => new BpfError('ENOTSUPP', `JIT: ${why}`);

// ---------------------------------------------------------------------------------------------------
// Pass 1: functions

interface Func {
  readonly start: number;
  readonly end: number; // exclusive
  readonly index: number;
}

function splitFunctions(insns: readonly Insn[], ops: readonly (OpInfo | undefined)[]): Func[] {
  const starts = new Set<number>([0]);
  ops.forEach((op, i) => {
    if (op?.kind === 'call' && op.target === 'local') starts.add(i + insns[i]!.imm + 1);
    if (op?.kind === 'lddw' && op.pseudo === 4) starts.add(i + insns[i]!.imm + 1);
  });
  const sorted = [...starts].sort((a, b) => a - b);
  for (const s of sorted) if (s < 0 || s >= insns.length || ops[s] === undefined) throw cannot(`call to invalid target ${s}`);
  return sorted.map((start, index) => ({ start, end: sorted[index + 1] ?? insns.length, index }));
}

// ---------------------------------------------------------------------------------------------------
// Pass 3: code

const lo = (r: number): string => `r${r}l`;
const hi = (r: number): string => `r${r}h`;

/** 32-bit ALU: an int32 expression of a and b (both int32 expressions). */
const ALU32_JS: Record<AluOp, (a: string, b: string) => string> = {
  add: (a, b) => `(${a} + ${b}) | 0`,
  sub: (a, b) => `(${a} - ${b}) | 0`,
  mul: (a, b) => `Math.imul(${a}, ${b})`,
  div: (a, b) => `(${b} === 0 ? 0 : ((${a} >>> 0) / (${b} >>> 0)) | 0)`,
  sdiv: (a, b) => `(${b} === 0 ? 0 : ${b} === -1 ? -${a} | 0 : (${a} / ${b}) | 0)`,
  mod: (a, b) => `(${b} === 0 ? ${a} : ((${a} >>> 0) % (${b} >>> 0)) | 0)`,
  smod: (a, b) => `(${b} === 0 ? ${a} : ${b} === -1 ? 0 : (${a} % ${b}) | 0)`,
  or: (a, b) => `${a} | ${b}`,
  and: (a, b) => `${a} & ${b}`,
  xor: (a, b) => `${a} ^ ${b}`,
  lsh: (a, b) => `${a} << (${b} & 31)`,
  rsh: (a, b) => `(${a} >>> (${b} & 31)) | 0`,
  arsh: (a, b) => `${a} >> (${b} & 31)`,
  neg: (a) => `-${a} | 0`,
  mov: (_a, b) => b,
  movsx8: (_a, b) => `(${b} << 24) >> 24`,
  movsx16: (_a, b) => `(${b} << 16) >> 16`,
  movsx32: (_a, b) => b,
};

/**
 * 64-bit ALU: statements updating (dl, dh) from (bl, bh). `t` is a scratch local. Shifts by an
 * immediate get their own straight-line code; everything rare goes through alu.ts.
 */
function alu64Js(op: AluOp, dl: string, dh: string, bl: string, bh: string, imm: number | undefined): string {
  const viaRes = `ALU64.${op}(${dl}, ${dh}, ${bl}, ${bh}); ${dl} = RES[0]; ${dh} = RES[1];`;
  switch (op) {
    case 'add': return `t = (${dl} + ${bl}) | 0; ${dh} = (${dh} + ${bh} + ((t >>> 0) < (${dl} >>> 0) ? 1 : 0)) | 0; ${dl} = t;`;
    case 'sub': return `t = (${dl} - ${bl}) | 0; ${dh} = (${dh} - ${bh} - ((${dl} >>> 0) < (${bl} >>> 0) ? 1 : 0)) | 0; ${dl} = t;`;
    case 'mul': return `t = Math.imul(${dl}, ${bl}); ${dh} = (mulhiu(${dl} >>> 0, ${bl} >>> 0) + Math.imul(${dl}, ${bh}) + Math.imul(${dh}, ${bl})) | 0; ${dl} = t;`;
    case 'or': case 'and': case 'xor': {
      const o = op === 'or' ? '|' : op === 'and' ? '&' : '^';
      return `${dl} = ${dl} ${o} ${bl}; ${dh} = ${dh} ${o} ${bh};`;
    }
    case 'mov': return `${dl} = ${bl}; ${dh} = ${bh};`;
    case 'neg': return `t = -${dl} | 0; ${dh} = (~${dh} + (${dl} === 0 ? 1 : 0)) | 0; ${dl} = t;`;
    case 'movsx8': return `${dl} = (${bl} << 24) >> 24; ${dh} = ${dl} >> 31;`;
    case 'movsx16': return `${dl} = (${bl} << 16) >> 16; ${dh} = ${dl} >> 31;`;
    case 'movsx32': return `${dl} = ${bl}; ${dh} = ${dl} >> 31;`;
    case 'lsh': case 'rsh': case 'arsh': {
      if (imm === undefined) return viaRes;
      const n = imm & 63;
      if (n === 0) return '';
      if (op === 'lsh') {
        return n < 32 ? `${dh} = (${dh} << ${n}) | (${dl} >>> ${32 - n}); ${dl} = ${dl} << ${n};`
          : `${dh} = ${dl} << ${n - 32}; ${dl} = 0;`;
      }
      if (op === 'rsh') {
        return n < 32 ? `${dl} = (${dl} >>> ${n}) | (${dh} << ${32 - n}); ${dh} = (${dh} >>> ${n}) | 0;`
          : `${dl} = (${dh} >>> ${n - 32}) | 0; ${dh} = 0;`;
      }
      return n < 32 ? `${dl} = (${dl} >>> ${n}) | (${dh} << ${32 - n}); ${dh} = ${dh} >> ${n};`
        : `${dl} = ${dh} >> ${n - 32}; ${dh} = ${dh} >> 31;`;
    }
    case 'div': case 'sdiv': case 'mod': case 'smod':
      return viaRes;
  }
}

/**
 * 64-bit ALU on the lower half alone, for a result whose upper half nothing demands (hiDead): the
 * upper half is left as it was. Undefined for the operations that need the general code.
 */
function alu64LoJs(op: AluOp, dl: string, dh: string, bl: string, imm: number | undefined): string | undefined {
  switch (op) {
    case 'add': return `${dl} = (${dl} + ${bl}) | 0;`;
    case 'sub': return `${dl} = (${dl} - ${bl}) | 0;`;
    case 'mul': return `${dl} = Math.imul(${dl}, ${bl});`;
    case 'and': return `${dl} = ${dl} & ${bl};`;
    case 'or': return `${dl} = ${dl} | ${bl};`;
    case 'xor': return `${dl} = ${dl} ^ ${bl};`;
    case 'mov': return `${dl} = ${bl};`;
    case 'neg': return `${dl} = -${dl} | 0;`;
    case 'lsh': case 'rsh': case 'arsh': {
      if (imm === undefined) return undefined;
      const n = imm & 63;
      if (n === 0) return '';
      if (op === 'lsh') return n < 32 ? `${dl} = ${dl} << ${n};` : `${dl} = 0;`;
      if (n < 32) return `${dl} = (${dl} >>> ${n}) | (${dh} << ${32 - n});`;
      return op === 'rsh' ? `${dl} = (${dh} >>> ${n - 32}) | 0;` : `${dl} = ${dh} >> ${n - 32};`;
    }
    default: return undefined;
  }
}

const UNSIGNED: Partial<Record<JmpCond, string>> = { jgt: '>', jge: '>=', jlt: '<', jle: '<=' };
const SIGNED: Partial<Record<JmpCond, string>> = { jsgt: '>', jsge: '>=', jslt: '<', jsle: '<=' };

function cond64(c: JmpCond, al: string, ah: string, bl: string, bh: string): string {
  if (c === 'jeq') return `${al} === ${bl} && ${ah} === ${bh}`;
  if (c === 'jne') return `${al} !== ${bl} || ${ah} !== ${bh}`;
  if (c === 'jset') return `(${al} & ${bl}) !== 0 || (${ah} & ${bh}) !== 0`;
  const u = UNSIGNED[c];
  if (u !== undefined) return `${ah} !== ${bh} ? (${ah} >>> 0) ${u[0]} (${bh} >>> 0) : (${al} >>> 0) ${u} (${bl} >>> 0)`;
  const s = SIGNED[c]!;
  return `${ah} !== ${bh} ? ${ah} ${s[0]} ${bh} : (${al} >>> 0) ${s} (${bl} >>> 0)`;
}

function cond32(c: JmpCond, a: string, b: string): string {
  if (c === 'jeq') return `${a} === ${b}`;
  if (c === 'jne') return `${a} !== ${b}`;
  if (c === 'jset') return `(${a} & ${b}) !== 0`;
  const u = UNSIGNED[c];
  if (u !== undefined) return `(${a} >>> 0) ${u} (${b} >>> 0)`;
  return `${a} ${SIGNED[c]!} ${b}`;
}

const ENDIAN_JS = (op: 'le' | 'be' | 'bswap', bits: 16 | 32 | 64, dl: string, dh: string): string => {
  if (op === 'le') return bits === 16 ? `${dl} = ${dl} & 0xffff; ${dh} = 0;` : bits === 32 ? `${dh} = 0;` : '';
  if (bits === 16) return `${dl} = ((${dl} & 0xff) << 8) | ((${dl} >>> 8) & 0xff); ${dh} = 0;`;
  if (bits === 32) return `${dl} = bswap32(${dl}); ${dh} = 0;`;
  return `t = bswap32(${dh}); ${dh} = bswap32(${dl}); ${dl} = t;`;
};

const ARGS = 'r1l, r1h, r2l, r2h, r3l, r3h, r4l, r4h, r5l, r5h';
const SAVE_ARGS = 'R[2] = r1l; R[3] = r1h; R[4] = r2l; R[5] = r2h; R[6] = r3l; R[7] = r3h; R[8] = r4l; R[9] = r4h; R[10] = r5l; R[11] = r5h;';

/** BPF instructions a loop may grow to by unrolling. */
const UNROLL_INSNS = 128;
const MAX_UNROLL = 8;

/**
 * How many copies of a loop's body to emit: more than one only for a loop that is a straight chain of
 * blocks in layout order (each block goes on to the next or leaves the loop, and only the last one goes
 * back to the header), with a short body.
 */
function unrollFactor(loop: Loop, chain: readonly number[], blocks: readonly Block[], ops: readonly (OpInfo | undefined)[]): number {
  let size = 0;
  for (let k = 0; k < chain.length; k++) {
    const b = chain[k]!;
    if (!loop.blocks.has(b)) return 1;
    const next = k + 1 < chain.length ? chain[k + 1]! : loop.header;
    for (const s of blocks[b]!.succs) if (loop.blocks.has(s) && s !== next) return 1;
    for (let i = blocks[b]!.start; i < blocks[b]!.end; i++) if (ops[i] !== undefined) size++;
  }
  return Math.max(1, Math.min(MAX_UNROLL, Math.floor(UNROLL_INSNS / size)));
}

// ---------------------------------------------------------------------------------------------------
// Pass 2b: which upper halves matter

/** How many of r1-r5 helper `id` reads: its prototype's arguments (5 for a helper without one). */
function helperArgs(id: number): number {
  return xdp_func_proto(id)?.proto.arg_type.length ?? 5;
}

/** Every bit from 0 up to the highest set bit of x (x as uint32). */
function smear(x: number): number {
  x |= x >>> 1; x |= x >>> 2; x |= x >>> 4; x |= x >>> 8; x |= x >>> 16;
  return x | 0;
}

/**
 * Bits of each register's 64-bit value that some later instruction's result depends on ("demanded
 * bits", as LLVM's DemandedBits), computed backwards over the function's blocks to a fixpoint: per
 * instruction, whether the upper half of the value it writes to dst is demanded at all. Where it is
 * not, the emitter leaves the upper half stale instead of computing it (a 64-bit add without its carry,
 * a shift without its upper word): clang keeps 32-bit hashes and checksums in 64-bit registers, and
 * V8 cannot drop those computations itself because every deopt point keeps every local alive.
 * Anything the analysis does not model demands all 64 bits of what it reads; only upper halves are
 * ever skipped, and an instruction whose upper half is skipped still computes its lower half.
 */
function hiDead(fn: Func, blocks: readonly Block[], insns: readonly Insn[], ops: readonly (OpInfo | undefined)[], aux: readonly InsnAux[] | undefined): Uint8Array {
  const NREG = 11;
  const dead = new Uint8Array(fn.end - fn.start);
  const liveIn = blocks.map(() => new Int32Array(2 * NREG));
  const D = new Int32Array(2 * NREG); // working demand: D[2r] low bits, D[2r + 1] high bits
  const full = (r: number): void => { D[2 * r] = -1; D[2 * r + 1] = -1; };
  const lowHalf = (r: number): void => { D[2 * r] = -1; };
  const add = (r: number, lo: number, hi: number): void => { D[2 * r] = D[2 * r]! | lo; D[2 * r + 1] = D[2 * r + 1]! | hi; };
  const all = (): void => { for (let r = 0; r < NREG; r++) full(r); };

  /** D before instruction i, from D after it; records whether dst's upper half is demanded after i. */
  const transfer = (i: number): void => {
    const op = ops[i];
    if (op === undefined) return;
    const x = insns[i]!;
    const dLo = D[2 * x.dst]!, dHi = D[2 * x.dst + 1]!;
    dead[i - fn.start] = dHi === 0 ? 1 : 0;
    switch (op.kind) {
      case 'alu': {
        D[2 * x.dst] = 0; D[2 * x.dst + 1] = 0;
        const src = op.srcReg ? x.src : -1;
        if (!op.alu64) {
          // The result's upper half is 0; its lower half reads the lower halves.
          if ((dLo | dHi) !== 0) {
            if (op.op !== 'mov' && op.op !== 'movsx8' && op.op !== 'movsx16' && op.op !== 'movsx32') lowHalf(x.dst);
            if (src >= 0) lowHalf(src);
          }
          return;
        }
        if ((dLo | dHi) === 0) return;
        // Carries and products move information upwards only.
        const upLo = dHi !== 0 ? -1 : smear(dLo), upHi = smear(dHi);
        switch (op.op) {
          case 'mov':
            if (src >= 0) add(src, dLo, dHi);
            return;
          case 'and': case 'or': case 'xor': {
            // AND with a constant reads only the bits it keeps; with a register below 2^32 (the
            // verifier's fact, as narrowAlu64 uses it), no upper half at all.
            const srcHi0 = src >= 0 && aux !== undefined && (aux[i]!.hi0 & (1 << src)) !== 0;
            const [mLo, mHi] = op.op !== 'and' ? [-1, -1] : src < 0 ? [x.imm, x.imm >> 31] : srcHi0 ? [-1, 0] : [-1, -1];
            add(x.dst, dLo & mLo, dHi & mHi);
            if (src >= 0) add(src, dLo & mLo, dHi & mHi);
            return;
          }
          case 'add': case 'sub': case 'mul': case 'neg':
            add(x.dst, upLo, upHi);
            if (src >= 0) add(src, upLo, upHi);
            return;
          case 'lsh': case 'rsh': case 'arsh': {
            if (src >= 0) { full(x.dst); full(src); return; }
            const n = x.imm & 63;
            if (op.op === 'lsh') {
              // Result bit k is input bit k - n.
              if (n === 0) add(x.dst, dLo, dHi);
              else if (n < 32) add(x.dst, (dLo >>> n) | (dHi << (32 - n)), dHi >>> n);
              else add(x.dst, dHi >>> (n - 32), 0);
              return;
            }
            // rsh/arsh: result bit k is input bit k + n (arsh: or the sign bit, for the top n bits).
            let lo: number, hi: number;
            if (n === 0) { lo = dLo; hi = dHi; } else if (n < 32) { lo = dLo << n; hi = (dHi << n) | (dLo >>> (32 - n)); } else { lo = 0; hi = dLo << (n - 32); }
            if (op.op === 'arsh' && n !== 0) hi |= 1 << 31;
            add(x.dst, lo, hi);
            return;
          }
          default:
            full(x.dst);
            if (src >= 0) full(src);
            return;
        }
      }
      case 'end':
        // le16/le32/be16/be32 read and write the lower half; 64-bit forms swap the halves.
        if (op.bits === 64) full(x.dst);
        else if ((dLo | dHi) !== 0) { D[2 * x.dst + 1] = 0; lowHalf(x.dst); } else { D[2 * x.dst + 1] = 0; }
        if (op.bits !== 64) dead[i - fn.start] = 0; // the emitter's own code sets the upper half
        return;
      case 'lddw':
        D[2 * x.dst] = 0; D[2 * x.dst + 1] = 0;
        return;
      case 'ldx':
        D[2 * x.dst] = 0; D[2 * x.dst + 1] = 0;
        full(x.src);
        return;
      case 'st': full(x.dst); return;
      case 'stx':
        full(x.dst);
        if (op.size === 8) full(x.src); else lowHalf(x.src);
        return;
      case 'jcond': {
        const a = aux?.[i];
        const narrow = op.jmp32 || (a !== undefined && narrowCompare(op, x, a));
        if (narrow) { lowHalf(x.dst); if (op.srcReg) lowHalf(x.src); } else { full(x.dst); if (op.srcReg) full(x.src); }
        return;
      }
      case 'ja': return;
      case 'exit':
        D.fill(0);
        full(0);
        return;
      case 'call': {
        // r0 is the call's; the arguments go out whole. A helper reads only the arguments of its
        // prototype (a map lookup, inline or not, r1 and r2); the other registers keep their values
        // in this image, so what is demanded of them after the call is demanded before it.
        D[0] = 0; D[1] = 0;
        const nargs = op.target === 'helper' && x.imm !== BPF_FUNC_tail_call ? helperArgs(x.imm) : 5;
        for (let r = 1; r <= nargs; r++) full(r);
        return;
      }
      default:
        // callx, ldabs, atomics: everything they might read, whole.
        all();
        return;
    }
  };

  const inFunc = (b: number): boolean => blocks[b] !== undefined && blocks[b]!.start >= fn.start && blocks[b]!.end <= fn.end;
  for (let changed = true; changed;) {
    changed = false;
    for (let b = blocks.length - 1; b >= 0; b--) {
      const blk = blocks[b]!;
      if (!inFunc(b)) continue;
      D.fill(0);
      for (const s of blk.succs) { const li = liveIn[s]!; for (let k = 0; k < D.length; k++) D[k] = D[k]! | li[k]!; }
      for (let i = blk.end - 1; i >= blk.start; i--) transfer(i);
      const li = liveIn[b]!;
      for (let k = 0; k < D.length; k++) if (li[k] !== D[k]) { li[k] = D[k]!; changed = true; }
    }
  }
  return dead;
}

function emitFunction(fn: Func, funcs: readonly Func[], insns: readonly Insn[], ops: readonly (OpInfo | undefined)[], img: ImageContext): string {
  const aux = img.aux;
  const cfg = layoutFunction(insns, ops, fn.start, fn.end);
  if (!cfg.ok) throw cannot(cfg.why);
  const { blocks, order, loops, loopOf } = cfg.layout;
  const dead = hiDead(fn, blocks, insns, ops, aux);
  img.hiDeadAt = (i) => dead[i - fn.start] === 1;
  const pos = new Map<number, number>(order.map((b, i) => [b, i]));
  const funcAt = (start: number): Func => funcs.find((f) => f.start === start)!;
  const ret = (): string => 'RH = r0h; return r0l;';
  const fellOff = (i: number): string => `throw fault(${i}, 'fell off the end of the function');`;

  // Where each forward target's labelled block opens: the start of its innermost enclosing loop.
  const opensAt = new Map<number, number[]>(); // loop header block, or -1 for the function
  const labelled = new Set<number>();
  const jump = (u: number, v: number): string => {
    const loop = loops.get(v);
    if (loop !== undefined && loop.blocks.has(u)) {
      // A verified program's loops are bounded (the verifier walked every iteration); only unverified
      // code (the conformance suite, uBPF-style loads) needs a budget to turn a runaway loop into an error.
      if (aux !== undefined) return `continue L${v};`;
      return `{ if (--budget < 0) throw fault(${blocks[u]!.end - 1}, 'instruction budget exhausted'); continue L${v}; }`;
    }
    if (pos.get(v)! === pos.get(u)! + 1) return '';
    if (pos.get(v)! < pos.get(u)!) throw new Error(`BUG: JIT layout has a backward non-loop edge ${u} -> ${v}`);
    if (!labelled.has(v)) {
      labelled.add(v);
      let region = loopOf.get(v);
      if (region?.header === v) region = region.parent;
      const key = region?.header ?? -1;
      opensAt.set(key, [...(opensAt.get(key) ?? []), v]);
    }
    return `break B${v};`;
  };

  // Emit the body first (it discovers the labels), then wrap the labels in.
  const body: string[] = [];
  const lastOfLoop = new Map<number, number[]>(); // block -> headers of loops that end after it
  for (const l of loops.values()) {
    let last = l.header;
    for (const b of l.blocks) if (pos.get(b)! > pos.get(last)!) last = b;
    lastOfLoop.set(last, [...(lastOfLoop.get(last) ?? []), l.header]);
  }
  for (const list of lastOfLoop.values()) list.sort((a, b) => loops.get(a)!.blocks.size - loops.get(b)!.blocks.size);

  /** The statements of block b, with `edge` deciding how each way out of it is written. */
  const emitBlock = (b: number, edge: (u: number, v: number) => string): void => {
    const blk = blocks[b]!;
    for (let i = blk.start; i < blk.end; i++) {
      const op = ops[i];
      if (op === undefined) continue; // a lddw's second slot
      const x = insns[i]!;
      if (op.kind === 'ja') {
        const j = edge(b, blk.jump!);
        if (j !== '') body.push(`/* ${i} */ ${j}`);
      } else if (op.kind === 'jcond') {
        // Ends the block: both ways out are decided here.
        const taken = edge(b, blk.jump!);
        const fall = blk.fallthrough === undefined ? fellOff(i) : edge(b, blk.fallthrough);
        if (taken !== '') body.push(`/* ${i} */ if (${condJs(op, x, aux?.[i])}) ${taken}`, fall);
        else if (fall !== '') body.push(`/* ${i} */ if (!(${condJs(op, x, aux?.[i])})) ${fall}`);
        continue;
      } else {
        body.push(`/* ${i} */ ${emitInsn(op, x, i, insns, funcAt, ret, img)}`);
      }
    }
    const last = ops[blk.end - 1] ?? ops[blk.end - 2]; // a block may end in a lddw's second slot
    if (last?.kind !== 'jcond') {
      if (blk.fallthrough !== undefined) body.push(edge(b, blk.fallthrough));
      else if (last?.kind !== 'exit' && last?.kind !== 'ja') body.push(fellOff(blk.end - 1));
    }
  };

  for (const b of order) {
    body.push(`@close ${b}`);
    const loop = loops.get(b);
    if (loop !== undefined) {
      body.push(`L${b}: while (true) {`, `@open ${b}`);
      // Unrolled copies of a short straight loop: in each, the back edge falls into the next copy and
      // what fell out of the loop leaves it explicitly; the copy emitted last is the ordinary body.
      // Exits keep their own tests, so every iteration does exactly what the loop did (V8 does not
      // unroll; the back edge's interrupt check and the loop overhead are what a short body pays most).
      const chain = order.slice(pos.get(b)!, pos.get(b)! + loop.blocks.size);
      const copies = aux === undefined ? 1 : unrollFactor(loop, chain, blocks, ops);
      const inCopy = (u: number, v: number): string => {
        if (v === b) return '';
        const j = jump(u, v);
        return j === '' && !loop.blocks.has(v) ? `break L${b};` : j;
      };
      for (let c = 1; c < copies; c++) for (const cb of chain) emitBlock(cb, inCopy);
    }
    emitBlock(b, jump);
    for (const h of lastOfLoop.get(b) ?? []) body.push(`break; } // L${h}`);
  }

  const out: string[] = [`function F${fn.index}(${ARGS}, fp) {`,
    'let r0l = 0, r0h = 0, r6l = 0, r6h = 0, r7l = 0, r7h = 0, r8l = 0, r8h = 0, r9l = 0, r9h = 0, r10l = fp, r10h = SH, t = 0, u = 0, o = 0, kh = 0, ke = 0, kw = 0, budget = BUDGET;'];
  const locals = img.takeLocals();
  if (locals !== '') out.push(locals);
  const open = (key: number): void => {
    const targets = (opensAt.get(key) ?? []).sort((a, b) => pos.get(b)! - pos.get(a)!);
    for (const v of targets) out.push(`B${v}: {`);
  };
  open(-1);
  for (const line of body) {
    if (line.startsWith('@close ')) {
      const b = Number(line.slice(7));
      if (labelled.has(b)) out.push(`} // B${b}`);
    } else if (line.startsWith('@open ')) {
      open(Number(line.slice(6)));
    } else if (line !== '') {
      out.push(line);
    }
  }
  out.push('}');
  return out.join('\n');
}

function condJs(op: Extract<OpInfo, { kind: 'jcond' }>, x: Insn, a: InsnAux | undefined): string {
  const dl = lo(x.dst), dh = hi(x.dst);
  if (op.jmp32) return cond32(op.cond, dl, op.srcReg ? lo(x.src) : String(x.imm));
  if (a !== undefined && narrowCompare(op, x, a)) {
    // Both sides have the same upper half (zero, or one packet's tag) and a low half below 2^31 or
    // a non-negative 32-bit value: the low halves decide, compared unsigned.
    const u = (c: JmpCond): JmpCond => (SIGNED[c] !== undefined ? (({ jsgt: 'jgt', jsge: 'jge', jslt: 'jlt', jsle: 'jle' }) as Record<string, JmpCond>)[c]! : c);
    return cond32(u(op.cond), dl, op.srcReg ? lo(x.src) : String(x.imm));
  }
  return cond64(op.cond, dl, dh, op.srcReg ? lo(x.src) : String(x.imm), op.srcReg ? hi(x.src) : String(x.imm >> 31));
}

/**
 * Whether a 64-bit compare reduces to its low halves, from what the verifier proved on every path:
 * two scalars below 2^32 (a non-negative immediate counts), or two packet pointers (one region, so
 * one tag). Signed compares of values below 2^32 order like unsigned ones.
 */
function narrowCompare(op: Extract<OpInfo, { kind: 'jcond' }>, x: Insn, a: InsnAux): boolean {
  const bit = (r: number): number => 1 << r;
  if (!op.srcReg) return (a.hi0 & bit(x.dst)) !== 0 && x.imm >= 0;
  if ((a.hi0 & bit(x.dst)) !== 0 && (a.hi0 & bit(x.src)) !== 0) return true;
  return (a.pkt & bit(x.dst)) !== 0 && (a.pkt & bit(x.src)) !== 0 && op.cond !== 'jset';
}

/**
 * ALU64 code when the verifier proved the halves need no carrying: a scalar result below 2^32 from
 * operands below 2^32 is computed on the low halves (upper half 0), and a pointer moved by a small
 * scalar keeps its upper half (its region tag). Undefined when the general 64-bit code is needed.
 */
function narrowAlu64(op: Extract<OpInfo, { kind: 'alu' }>, x: Insn, a: InsnAux): string | undefined {
  const bit = (r: number): number => 1 << r;
  const dl = lo(x.dst), dh = hi(x.dst), sl = lo(x.src);
  const srcHi0 = op.srcReg ? (a.hi0 & bit(x.src)) !== 0 : x.imm >= 0;
  const b = op.srcReg ? sl : String(x.imm);
  if ((op.op === 'add' || op.op === 'sub') && (a.ptr & bit(x.dst)) !== 0 && a.dstAfter === 'ptr' && (op.srcReg ? srcHi0 : true)) {
    return `${dl} = (${dl} ${op.op === 'add' ? '+' : '-'} ${b}) | 0;`;
  }
  // x & y is below 2^32 whenever y is, whatever x holds (clang's 32-bit rotates on 64-bit registers
  // mask before they shift); V8 then folds the zero upper half into what follows.
  if (op.op === 'and' && srcHi0) return `${dl} = ${dl} & ${b}; ${dh} = 0;`;
  if (a.dstAfter !== 'hi0' || !srcHi0) return undefined;
  const dstHi0 = (a.hi0 & bit(x.dst)) !== 0;
  switch (op.op) {
    case 'mov': case 'movsx8': case 'movsx16': case 'movsx32': case 'neg':
      return undefined;
    case 'rsh': case 'arsh':
      if (!dstHi0) return undefined;
      if (!op.srcReg) return x.imm >= 32 ? `${dl} = 0; ${dh} = 0;` : `${dl} = (${dl} >>> ${x.imm}) | 0; ${dh} = 0;`;
      return `${dl} = ${sl} >= 32 ? 0 : (${dl} >>> ${sl}) | 0; ${dh} = 0;`;
    case 'lsh':
      // A result below 2^32 shifted by 32 or more can only come from 0.
      if (!dstHi0) return undefined;
      return `${dl} = ${dl} << (${b} & 31); ${dh} = 0;`;
    case 'sdiv': case 'smod':
      // Both operands are non-negative 64-bit values: signed and unsigned division agree.
      if (!dstHi0) return undefined;
      return `${dl} = ${ALU32_JS[op.op === 'sdiv' ? 'div' : 'mod'](dl, b)}; ${dh} = 0;`;
    default:
      if (!dstHi0) return undefined;
      return `${dl} = ${ALU32_JS[op.op](dl, b)}; ${dh} = 0;`;
  }
}

/** Code for a non-jump instruction. */
/**
 * Where a verified memory instruction points, as the verifier proved it on every path: the DataView
 * to use directly (packet, stack, one map's values) or a context field. Undefined: use the checked paths.
 */
type ProvenBase = { readonly dv: string } | { readonly ctxField: number } | undefined;

function provenBase(img: ImageContext, i: number, x: Insn, op: OpInfo): ProvenBase {
  const a = img.aux?.[i];
  if (a === undefined || a.ptrType === undefined || a.ptrTypeMixed) return undefined;
  switch (a.ptrType) {
    case 'pkt': case 'pkt_meta': return { dv: img.local('PKT') };
    case 'fp': return { dv: img.local('STK') };
    case 'map_value': {
      if (a.memMapMixed || a.memMap === undefined) return undefined;
      const v = img.mapView(a.memMap);
      return v === undefined ? undefined : { dv: v };
    }
    case 'ctx':
      return op.kind === 'ldx' && op.size === 4 && a.ctxField !== undefined && x.off === a.ctxField ? { ctxField: a.ctxField } : undefined;
    default: return undefined;
  }
}

function emitInsn(op: OpInfo, x: Insn, i: number, insns: readonly Insn[], funcAt: (start: number) => Func, ret: () => string, img: ImageContext): string {
  const proven = provenBase(img, i, x, op);
  const facts = img.aux?.[i];
  const dl = lo(x.dst), dh = hi(x.dst), sl = lo(x.src), sh = hi(x.src);
  switch (op.kind) {
    case 'alu': {
      const [bl, bh] = op.srcReg ? [sl, sh] : [String(x.imm), String(x.imm >> 31)];
      const narrow = op.alu64 && facts !== undefined ? narrowAlu64(op, x, facts) : undefined;
      if (narrow !== undefined) return narrow;
      const loOnly = op.alu64 && img.hiDeadAt(i) ? alu64LoJs(op.op, dl, dh, bl, op.srcReg ? undefined : x.imm) : undefined;
      if (loOnly !== undefined) return loOnly;
      if (op.alu64) return alu64Js(op.op, dl, dh, bl, bh, op.srcReg ? undefined : x.imm);
      return `${dl} = ${ALU32_JS[op.op](dl, op.srcReg ? sl : String(x.imm))}; ${dh} = 0;`;
    }
    case 'end': return ENDIAN_JS(op.op, op.bits, dl, dh);
    case 'ja': case 'jcond': throw new Error('BUG: jumps are emitted by emitFunction');
    case 'call': {
      if (op.target === 'local') {
        const f = funcAt(i + x.imm + 1);
        return `if (DEPTH + 1 >= ${MAX_CALL_FRAMES}) throw fault(${i}, 'the call stack of ${MAX_CALL_FRAMES} frames is too deep'); `
          + `DEPTH++; r0l = F${f.index}(${ARGS}, (r10l - ${MAX_BPF_STACK}) | 0); r0h = RH; DEPTH--;`;
      }
      if (op.target === 'kfunc') return `throw fault(${i}, 'kernel function calls are not supported (btf_id ${x.imm})');`;
      if (x.imm === BPF_FUNC_tail_call) {
        return `${SAVE_ARGS} T = tailCallTarget(x, ${i}); if (T !== undefined) { enterOther(T, x, r1l, r1h, r10l); r0l = R[0]; r0h = R[1]; ${ret()} }`;
      }
      if (img.aux !== undefined) {
        const inline = inlineMapLookup(x, i, img);
        if (inline !== undefined) return inline;
        // A verified program's helper is bound as a constant of the image: a direct, monomorphic call.
        const h = img.env.helpers[x.imm];
        if (h === undefined) return `throw fault(${i}, 'invalid func unknown#${x.imm}');`;
        return `${SAVE_ARGS} ${img.bind(h, 'H')}(x); r0l = R[0]; r0h = R[1];`;
      }
      return `${SAVE_ARGS} callHelper(x, ${x.imm}, ${i}); r0l = R[0]; r0h = R[1];`;
    }
    case 'callx':
      return `if (RG[(${dh} - BASE) | 0]?.kind === 'func') { r0l = CALLX(${dl}, ${i}, ${ARGS}, (r10l - ${MAX_BPF_STACK}) | 0); r0h = RH; } `
        + `else { ${SAVE_ARGS} callHelper(x, ${dl}, ${i}); r0l = R[0]; r0h = R[1]; }`;
    case 'exit': return ret();
    case 'lddw': return `${dl} = ${x.imm}; ${dh} = ${insns[i + 1]!.imm};`;
    case 'ldabs': {
      const off = op.indirect ? `${x.imm} + ${sl}` : String(x.imm);
      return `${SAVE_ARGS} R[12] = r6l; R[13] = r6h; t = ldAbs(x, ${off}, ${op.size}, ${i}); r0h = 0; if (t === undefined) { r0l = 0; ${ret()} } r0l = t;`;
    }
    case 'ldx': {
      // Proven by the verifier: no tag or bound to check.
      if (proven !== undefined) {
        if ('ctxField' in proven) return `${dl} = ${img.local('CTXLO')}[${proven.ctxField >> 2}]; ${dh} = ${img.local('CTXHI')}[${proven.ctxField >> 2}];`;
        return `o = (${sl} >>> 0) + ${x.off}; ${DV_GET[op.signed ? -op.size : op.size]!(proven.dv, dl, dh)}`;
      }
      // A 4-byte load from the run's context reads its mirror (CTXT is the ctx tag, or a tag no
      // pointer has when the context has no mirror).
      const ctx = op.size === 4 && !op.signed
        ? `if (${sh} === CTXT && o >= 0 && o < CTXN && (o & 3) === 0) { ${dl} = CTXLO[o >> 2]; ${dh} = CTXHI[o >> 2]; } else ` : '';
      // Site cache: the region this instruction touched last, checked by tag and bound.
      const fast = `if (${sh} === CH[${i}] && o >= 0 && o <= CN[${i}]) { ${DV_GET[op.signed ? -op.size : op.size]!(`CDV[${i}]`, dl, dh)} }`;
      return `o = (${sl} >>> 0) + ${x.off}; ${ctx}${fast} else { ${dl} = LDM(${i}, ${sh}, ${sl}, ${x.off}, ${op.size}, ${op.signed}); ${dh} = LH; }`;
    }
    case 'st': case 'stx': {
      const [vl, vh] = op.kind === 'st' ? [String(x.imm), String(x.imm >> 31)] : [sl, sh];
      if (proven !== undefined && 'dv' in proven) return `o = (${dl} >>> 0) + ${x.off}; ${DV_SET[op.size]!(proven.dv, vl, vh)}`;
      const fast = `if (${dh} === CH[${i}] && o >= 0 && o <= CN[${i}]) { ${DV_SET[op.size]!(`CDV[${i}]`, vl, vh)} }`;
      return `o = (${dl} >>> 0) + ${x.off}; ${fast} else STM(${i}, ${dh}, ${dl}, ${x.off}, ${op.size}, ${vl}, ${vh});`;
    }
    case 'atomic': {
      // A plain add into memory the verifier pinned (a counter in a map value): read, add, write back.
      // The host JIT runs one CPU per thread; maps shared with other threads use their own update paths.
      if (op.op === 'add' && proven !== undefined && 'dv' in proven) {
        const dv = proven.dv;
        if (op.size === 4) return `o = (${dl} >>> 0) + ${x.off}; ${dv}.setInt32(o, (${dv}.getInt32(o, true) + ${sl}) | 0, true);`;
        // The upper word changes only with a carry or a non-zero upper half to add (never, when the
        // verifier proved src below 2^32: a counter's usual increment).
        const srcHi0 = facts !== undefined && (facts.hi0 & (1 << x.src)) !== 0;
        return `o = (${dl} >>> 0) + ${x.off}; t = ${dv}.getInt32(o, true); u = (t + ${sl}) | 0; ${dv}.setInt32(o, u, true); `
          + `if (${srcHi0 ? '' : `${sh} !== 0 || `}(u >>> 0) < (t >>> 0)) ${dv}.setInt32(o + 4, (${dv}.getInt32(o + 4, true) + ${sh} + ((u >>> 0) < (t >>> 0) ? 1 : 0)) | 0, true);`;
      }
      // Through the shared runtime on x.R; r0 and src come back changed for fetch/xchg/cmpxchg.
      const sync = `R[${2 * x.dst}] = ${dl}; R[${2 * x.dst + 1}] = ${dh}; R[${2 * x.src}] = ${sl}; R[${2 * x.src + 1}] = ${sh};`;
      const back = op.op === 'cmpxchg' ? ' r0l = R[0]; r0h = R[1];' : op.op.startsWith('fetch_') || op.op === 'xchg' ? ` ${sl} = R[${2 * x.src}]; ${sh} = R[${2 * x.src + 1}];` : '';
      return `R[0] = r0l; R[1] = r0h; ${sync} atomic(x, ${i}, ${ATOMIC_OPS[op.op]}, ${op.size}, ${x.dst}, ${x.src}, ${x.off});${back}`;
    }
  }
}

/**
 * What the emitter knows about the image being built: the verifier's records, and the objects the
 * generated code refers to by name (a map's value DataView, a map object, a helper) — bound once as
 * constants of the image, so that every call site in the generated code is monomorphic.
 */
class ImageContext {
  private readonly names = new Map<unknown, string>();
  readonly values: unknown[] = [];

  constructor(readonly env: ExecEnv, readonly aux: readonly InsnAux[] | undefined) {}

  /** Whether the upper half instruction i writes is demanded by nothing (hiDead), for the function being emitted. */
  hiDeadAt: (i: number) => boolean = () => false;

  /** Image-level names the function being emitted reads, by the local each is read through. */
  private readonly locals = new Map<string, string>();

  /**
   * The local through which the function being emitted reads an image-level name (PKT, STK, CTXLO, a
   * map's value view...). They are read once at the function's entry: every one is set before a run
   * starts and stays the same through it, and a local is what V8 keeps in a register across a loop,
   * where a variable of the enclosing scope is loaded and checked again on every use.
   */
  local(name: string): string {
    let l = this.locals.get(name);
    if (l === undefined) {
      l = name.toLowerCase();
      this.locals.set(name, l);
    }
    return l;
  }

  /** The declaration of the locals the function just emitted uses; starts the next function afresh. */
  takeLocals(): string {
    const decl = this.locals.size === 0 ? '' : `const ${[...this.locals].map(([g, l]) => `${l} = ${g}`).join(', ')};`;
    this.locals.clear();
    return decl;
  }

  /** A name for a value in the image's constants. */
  bind(value: unknown, prefix: string): string {
    let name = this.names.get(value);
    if (name === undefined) {
      name = `${prefix}${this.values.length}`;
      this.values.push(value);
      this.names.set(value, name);
    }
    return name;
  }

  /** The region holding a map's values (PTR_TO_MAP_VALUE), if the map is in this address space. */
  valuesRegion(map: object): Region | undefined {
    return this.env.mem.regions.find((r) => r?.kind === 'map_value' && r.object === map);
  }

  mapView(map: object): string | undefined {
    const region = this.valuesRegion(map);
    return region === undefined ? undefined : this.local(this.bind(region.dv, 'MV'));
  }

  /** `const NAME = KS[i];` for every bound value. */
  declarations(): string[] {
    return [...this.names.values()].map((name, i) => `const ${name} = KS[${i}];`);
  }
}

/**
 * bpf_map_lookup_elem on the one map the verifier saw at this call, without the helper call: an array
 * lookup is index arithmetic (the kernel inlines it too, array_map_gen_lookup); a hash map's read side
 * is emitted inline for a key of 4, 8 or 16 bytes on the stack (HashTab.gen_lookup); other maps are
 * asked directly (map->ops->map_lookup_elem). The key pointer was checked by the verifier.
 */
function inlineMapLookup(x: Insn, i: number, img: ImageContext): string | undefined {
  const a = img.aux?.[i];
  if (x.imm !== BPF_FUNC_map_lookup_elem || a?.map === undefined || a.mapMixed) return undefined;
  const map = a.map;
  const values = img.valuesRegion(map);
  if (values === undefined) return undefined;
  // The key is on the stack more often than not: no region lookup for it there.
  const onStack = `r2h === ${img.local('SH')}`;
  if (map.map_type === BPF_MAP_TYPE_ARRAY || map.map_type === BPF_MAP_TYPE_PERCPU_ARRAY) {
    const arr = map as unknown as { stride: number; elem_size: number };
    const cpu = map.map_type === BPF_MAP_TYPE_PERCPU_ARRAY ? ` + ${img.local('CPU')} * ${arr.elem_size}` : '';
    return `{ t = (${onStack} ? ${img.local('STK')} : RG[(r2h - BASE) | 0].dv).getUint32(r2l >>> 0, true); `
      + `if ((t >>> 0) < ${map.max_entries}) { r0l = (Math.imul(t, ${arr.stride})${cpu}) | 0; r0h = ${values.hi}; } else { r0l = 0; r0h = 0; } }`;
  }
  const m = img.bind(map, 'MAP');
  const cpu = img.local('CPU');
  const general = `${m}.lookupOffset(${onStack} ? ${img.local('STKU8')} : RG[(r2h - BASE) | 0].u8, r2l >>> 0, ${cpu})`;
  const result = `if (t < 0) { r0l = 0; r0h = 0; } else { r0l = t; r0h = ${values.hi}; }`;
  // A hash key of 4, 8 or 16 bytes on the stack is read as int32 words straight from the stack's
  // DataView, and the map's read side is emitted inline (HashTab.gen_lookup, the kernel's map_gen_lookup).
  const stk = img.local('STK');
  const keyWords = map instanceof HashTab && (map.key_size === 4 || map.key_size === 8 || map.key_size === 16)
    ? Array.from({ length: map.key_size / 4 }, (_, j) => `${stk}.getInt32(o${j === 0 ? '' : ` + ${4 * j}`}, true)`) : undefined;
  const inline = keyWords === undefined ? undefined
    : (map as HashTab).gen_lookup(keyWords, cpu, ['kh', 'ke', 'kw'], 't', (v, prefix) => img.local(img.bind(v, prefix)));
  if (inline === undefined) return `{ t = ${general}; ${result} }`;
  return `{ if (${onStack}) { o = r2l >>> 0; ${inline} } else t = ${m}.lookupOffset(RG[(r2h - BASE) | 0].u8, r2l >>> 0, ${cpu}); ${result} }`;
}

/** DataView reads by access size (negative: sign-extending), as statements setting (dl, dh). */
const DV_GET: Record<number, (dv: string, dl: string, dh: string) => string> = {
  1: (dv, dl, dh) => `${dl} = ${dv}.getUint8(o); ${dh} = 0;`,
  2: (dv, dl, dh) => `${dl} = ${dv}.getUint16(o, true); ${dh} = 0;`,
  4: (dv, dl, dh) => `${dl} = ${dv}.getInt32(o, true); ${dh} = 0;`,
  8: (dv, dl, dh) => `${dh} = ${dv}.getInt32(o + 4, true); ${dl} = ${dv}.getInt32(o, true);`,
  [-1]: (dv, dl, dh) => `${dl} = ${dv}.getInt8(o); ${dh} = ${dl} >> 31;`,
  [-2]: (dv, dl, dh) => `${dl} = ${dv}.getInt16(o, true); ${dh} = ${dl} >> 31;`,
  [-4]: (dv, dl, dh) => `${dl} = ${dv}.getInt32(o, true); ${dh} = ${dl} >> 31;`,
};

const DV_SET: Record<number, (dv: string, vl: string, vh: string) => string> = {
  1: (dv, vl) => `${dv}.setUint8(o, ${vl});`,
  2: (dv, vl) => `${dv}.setUint16(o, ${vl}, true);`,
  4: (dv, vl) => `${dv}.setInt32(o, ${vl}, true);`,
  8: (dv, vl, vh) => `${dv}.setInt32(o, ${vl}, true); ${dv}.setInt32(o + 4, ${vh}, true);`,
};

/**
 * The slow paths of memory instructions: find the region, remember it in the instruction's site cache
 * (CH = its tag, CN = the last offset an access of this size may start at, CDV = its DataView) when it is
 * plain memory, and go through runtime.load/store (ctx fields, faults) otherwise. The caches are cleared
 * whenever the address space changed since the last run, so a reused tag never hits a stale entry.
 */
function emitAccessors(): string {
  return [
    'function LDM(site, h, l, off, size, signed) {',
    '  const r = RG[(h - BASE) | 0]; const o = (l >>> 0) + off;',
    '  if (r !== undefined && r.plain && o >= 0 && o + size <= r.size) {',
    '    CH[site] = h; CN[site] = r.size - size; CDV[site] = r.dv;',
    '    if (size === 8) { LH = r.dv.getInt32(o + 4, true); return r.dv.getInt32(o, true); }',
    '    const v = size === 1 ? (signed ? r.dv.getInt8(o) : r.dv.getUint8(o)) : size === 2 ? (signed ? r.dv.getInt16(o, true) : r.dv.getUint16(o, true)) : r.dv.getInt32(o, true);',
    '    LH = signed ? v >> 31 : 0; return v;',
    '  }',
    '  const v = load(x, h, l, off, size, signed, site); LH = lastLoadedHi(); return v;',
    '}',
    'function STM(site, h, l, off, size, vl, vh) {',
    '  const r = RG[(h - BASE) | 0]; const o = (l >>> 0) + off;',
    '  if (r !== undefined && r.plain && r.writable && o >= 0 && o + size <= r.size) { CH[site] = h; CN[site] = r.size - size; CDV[site] = r.dv; }',
    '  store(x, h, l, off, size, vl, vh, site);',
    '}',
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------------
// Pass 4: link

type Factory = (rt: unknown) => Pick<JitProgram, 'run' | 'enter' | 'runN'>;

const compiled = new WeakMap<ExecProgram, JitProgram>();

/** The JIT image of a program for an environment, compiled on first use and cached. */
export function jitCompile(prog: ExecProgram, env: ExecEnv): JitProgram {
  const cached = compiled.get(prog);
  if (cached !== undefined) return cached;
  const { insns } = prog;
  const ops = insns.map((x) => findOp(x.code, x.src, x.off, x.imm));
  // A lddw's second slot must not be mistaken for an instruction.
  for (let i = 0; i < ops.length; i++) if (ops[i]?.kind === 'lddw') ops[i + 1] = undefined;
  const funcs = splitFunctions(insns, ops);
  const aux = (prog as { aux?: readonly InsnAux[] }).aux;
  // The value memory of each map the verifier pinned an access to, as a constant of the image.
  const img = new ImageContext(env, aux);

  // The functions first: emitting them discovers the constants the image needs.
  const bodies = funcs.map((f) => emitFunction(f, funcs, insns, ops, img));
  const callx = funcs.length > 1
    ? `function CALLX(target, pc, ${ARGS}, fp) { if (DEPTH + 1 >= ${MAX_CALL_FRAMES}) throw fault(pc, 'the call stack of ${MAX_CALL_FRAMES} frames is too deep'); DEPTH++; let v; switch (target) { ${funcs.map((f) => `case ${f.start}: v = F${f.index}(${ARGS}, fp); break;`).join(' ')} default: throw fault(pc, 'callx to a non-function'); } DEPTH--; return v; }`
    : `function CALLX(target, pc, ${ARGS}, fp) { if (target !== 0) throw fault(pc, 'callx to a non-function'); DEPTH++; const v = F0(${ARGS}, fp); DEPTH--; return v; }`;

  const source = [
    `'use strict';`,
    `const { ALU64, RES, mulhiu, bswap32, load, store, lastLoadedHi, atomic, callHelper, tailCallTarget, ldAbs, fault, enterOther, RG, BASE, MEM, NOTAG, EMPTY, EMPTYDV, EMPTYU8, KS } = rt;`,
    ...img.declarations(),
    `let x = null, R = null, SH = 0, RH = 0, LH = 0, DEPTH = 0, BUDGET = 0x7fffffff, T = undefined, EPOCH = -1;`,
    `let CTXT = NOTAG, CTXN = 0, CTXLO = EMPTY, CTXHI = EMPTY, PKT = EMPTYDV, STK = EMPTYDV, STKU8 = EMPTYU8, CPU = 0;`,
    `const CH = new Int32Array(${insns.length}), CN = new Float64Array(${insns.length}).fill(-1), CDV = new Array(${insns.length}).fill(null);`,
    emitAccessors(),
    callx,
    ...bodies,
    // setup(): what a run needs from the CPU and the context, found once per run (or per batch).
    `function setup(cpu, r1h) { x = cpu; R = cpu.R; SH = cpu.stack.hi; DEPTH = 0;`,
    `  if (MEM.epoch !== EPOCH) { CH.fill(0); CN.fill(-1); EPOCH = MEM.epoch; }`,
    `  const c = RG[(r1h - BASE) | 0];`,
    `  if (c !== undefined && c.kind === 'ctx' && c.object.mdLo !== undefined) { CTXT = r1h; CTXN = c.object.mirrorBytes; CTXLO = c.object.mdLo; CTXHI = c.object.mdHi; const p = RG[(CTXHI[0] - BASE) | 0]; PKT = p === undefined ? EMPTYDV : p.dv; } else { CTXT = NOTAG; CTXN = 0; }`,
    `  STK = cpu.stack.dv; STKU8 = cpu.stack.u8; CPU = cpu.cpu; }`,
    `function enter(cpu, r1l, r1h, fp, r2l = 0) { setup(cpu, r1h);`,
    `  const r0l = F0(r1l, r1h, r2l, 0, 0, 0, 0, 0, 0, 0, fp); cpu.R[0] = r0l; cpu.R[1] = RH; }`,
    `function run(cpu, ctxLo, ctxHi, r2 = 0) { BUDGET = Math.min(cpu.jitBudget, 0x7fffffff) | 0; cpu.tailCallCnt = 0; enter(cpu, ctxLo, ctxHi, cpu.stackTop, r2); }`,
    // The same context and CPU for every run of a batch: set up once, then only the calls. A tail call
    // enters another image, which sets itself up; DEPTH is back to 0 after every run.
    `function runN(cpu, ctxLo, ctxHi, n) { BUDGET = Math.min(cpu.jitBudget, 0x7fffffff) | 0; setup(cpu, ctxHi); const fp = cpu.stackTop;`,
    `  let r0l = 0; for (let i = 0; i < n; i++) { cpu.tailCallCnt = 0; r0l = F0(ctxLo, ctxHi, 0, 0, 0, 0, 0, 0, 0, 0, fp); } cpu.R[0] = r0l; cpu.R[1] = RH; }`,
    `return { run, enter, runN };`,
  ].join('\n');

  let factory: Factory;
  try {
    factory = new Function('rt', source) as Factory;
  } catch (e) {
    throw new Error(`BUG: the JIT produced invalid JavaScript for ${prog.name}: ${(e as Error).message}`);
  }
  const rt = {
    ALU64, RES, mulhiu, bswap32,
    load: runtime.load, store: runtime.store, lastLoadedHi: runtime.lastLoadedHi, atomic: runtime.atomic,
    callHelper: runtime.callHelper, tailCallTarget: runtime.tailCallTarget, ldAbs: runtime.ldAbs, fault: runtime.fault,
    enterOther: (target: ExecProgram, x: ExecContext, r1l: number, r1h: number, fp: number) => runTarget(target, env, x, r1l, r1h, fp),
    RG: env.mem.regions, BASE: REGION_HI_BASE, MEM: env.mem,
    // A tag no region has: the high half of a pointer just below region 0's.
    NOTAG: (REGION_HI_BASE - 1) | 0, EMPTY: new Int32Array(0), EMPTYDV: new DataView(new ArrayBuffer(0)), EMPTYU8: new Uint8Array(0), KS: img.values,
  };
  const { run, enter, runN } = factory(rt);
  const image: JitProgram = { run, enter, runN, source };
  compiled.set(prog, image);
  return image;
}

function runTarget(target: ExecProgram, env: ExecEnv, x: ExecContext, r1l: number, r1h: number, fp: number): void {
  let image: JitProgram;
  try {
    image = jitCompile(target, env);
  } catch {
    throw runtime.fault(0, `tail call target ${target.name} cannot be JIT-compiled`);
  }
  image.enter(x, r1l, r1h, fp);
}
