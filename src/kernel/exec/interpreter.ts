// The reference interpreter (the role of kernel/bpf/core.c ___bpf_prog_run). Its dispatch is generated
// from the opcode table, as v86 generates its interpreter: one `case` per entry of OPS, each calling the
// semantic functions of alu.ts by name (so every call site is monomorphic and V8 inlines it) and the
// shared runtime.ts for what is not plain memory. The semantics are alu.ts's, written independently of
// the JIT's code templates, which is what makes the interpreter a reference the JIT is checked against.
//
// A program is pre-decoded once into a flat Int32Array (4 words per instruction: the entry's index in
// OPS with dst/src packed, off, imm, the lddw's upper imm), so a run allocates nothing.

import type { Insn } from '../../bpf/insn.js';
import { MAX_BPF_STACK, OPS, findOp, type OpInfo } from '../../bpf/opcodes.js';
import { BPF_FUNC_tail_call } from '../../bpf/helpers.js';
import { ALU32, ALU64, JMP32, JMP64, RES, endian } from './alu.js';
import { MAX_CALL_FRAMES, type ExecContext, type ExecProgram } from './context.js';
import { REGION_HI_BASE } from './memory.js';
import { atomic, callHelper, fault, ldAbs, load, lastLoadedHi, store, tailCallTarget } from './runtime.js';

/** Words per pre-decoded instruction. */
const W = 4;
/** Entry index of slots that are not instructions (a lddw's second half, garbage). */
const INVALID = 0xff;

interface Decoded {
  readonly n: number;
  readonly code: Int32Array;
}

const OP_INDEX = new Map<OpInfo, number>(OPS.map((op, i) => [op, i]));
if (OPS.length >= INVALID) throw new Error('BUG: the interpreter packs an OPS index into 8 bits');

const decodedCache = new WeakMap<readonly Insn[], Decoded>();

function predecode(insns: readonly Insn[]): Decoded {
  const cached = decodedCache.get(insns);
  if (cached) return cached;
  const n = insns.length;
  const code = new Int32Array(n * W);
  for (let i = 0; i < n; i++) {
    const x = insns[i]!;
    const op = findOp(x.code, x.src, x.off, x.imm);
    const idx = op === undefined ? INVALID : OP_INDEX.get(op)!;
    code[i * W] = idx | (x.dst << 8) | (x.src << 12);
    code[i * W + 1] = x.off;
    code[i * W + 2] = x.imm;
    if (op?.kind === 'lddw') {
      code[i * W + 3] = insns[i + 1]?.imm ?? 0;
      code[++i * W] = INVALID;
    }
  }
  const d = { n, code };
  decodedCache.set(insns, d);
  return d;
}

// ---------------------------------------------------------------------------------------------------
// The case bodies, by kind of table entry. In scope: R (registers), di/si (dst/src register index * 2),
// imm, off, pc, x (the CPU), and the functions bound in `scope` below.

/**
 * A bpf-to-bpf call: push the return pc and the caller's r6-r9 on the frame stack (a flat Int32Array
 * made on the first call) and give the callee the frame below. Emitted inline, since pc, depth and
 * frames must not be captured by a closure (a captured variable lives in a heap context).
 */
const enterCall = (target: string): string => [
  `{ const t = ${target};`,
  'if (depth + 1 >= MAX_CALL_FRAMES) throw fault(pc, `the call stack of ${MAX_CALL_FRAMES} frames is too deep`);',
  'if (frames === undefined) frames = new Int32Array(MAX_CALL_FRAMES * 9);',
  'const f = depth * 9; frames[f] = pc; for (let r = 0; r < 8; r++) frames[f + 1 + r] = R[12 + r];',
  'depth++; R[20] = (R[20] - MAX_BPF_STACK) | 0; pc = t; }',
].join(' ');

/** Return from a bpf-to-bpf call, or end the program from its outermost frame. */
const EXIT = [
  'if (depth === 0) return;',
  '{ depth--; const f = depth * 9; for (let r = 0; r < 8; r++) R[12 + r] = frames[f + 1 + r];',
  'R[20] = (R[20] + MAX_BPF_STACK) | 0; pc = frames[f]; }',
].join(' ');

const B_K = 'imm, imm >> 31';
const B_X = 'R[si], R[si + 1]';

/**
 * The case body of a table entry. `checked` builds interpretChecked()'s flavour: every memory access and
 * helper call is first shown to x.sanitizer (bound to S at entry), and memory goes through the runtime's
 * checked load/store instead of the plain-memory fast path.
 */
function caseBody(op: OpInfo, checked: boolean): string {
  switch (op.kind) {
    case 'alu':
      if (op.alu64) return `ALU64_${op.op}(R[di], R[di + 1], ${op.srcReg ? B_X : B_K}); R[di] = RES[0]; R[di + 1] = RES[1];`;
      return `R[di] = ALU32_${op.op}(R[di], ${op.srcReg ? 'R[si]' : 'imm'}); R[di + 1] = 0;`;
    case 'end':
      return `endian('${op.op}', ${op.bits}, R[di], R[di + 1]); R[di] = RES[0]; R[di + 1] = RES[1];`;
    case 'ja':
      return `pc += ${op.long ? 'imm' : 'off'};`;
    case 'jcond':
      if (op.jmp32) return `if (JMP32_${op.cond}(R[di], ${op.srcReg ? 'R[si]' : 'imm'})) pc += off;`;
      return `if (JMP64_${op.cond}(R[di], R[di + 1], ${op.srcReg ? B_X : B_K})) pc += off;`;
    case 'call':
      if (op.target === 'local') return enterCall('pc + imm');
      if (op.target === 'kfunc') return 'throw fault(pc, `kernel function calls are not supported (btf_id ${imm})`);';
      return [
        checked ? 'S.call(x, imm, pc, depth);' : '',
        `if (imm !== ${BPF_FUNC_tail_call}) { callHelper(x, imm, pc); break; }`,
        'const target = tailCallTarget(x, pc);',
        'if (target === undefined) break; /* a failed tail call falls through */',
        // The kernel's tail call jumps into the target and reuses the frame: the target's r0 is what this
        // function returns.
        'budget.left -= count; x.insnCount += count; count = 0;',
        'execute(x, predecode(target.insns), budget); limit = budget.left;',
        EXIT,
      ].join(' ');
    case 'callx':
      // Linux: the register holds a BPF function (lddw BPF_PSEUDO_FUNC; its low half is the callee's first
      // instruction). uBPF and the conformance suite: a helper id.
      return `if (mem.region(R[di + 1])?.kind !== 'func') { ${checked ? 'S.call(x, R[di], pc, depth); ' : ''}callHelper(x, R[di], pc); break; } ${enterCall('R[di] - 1')}`;
    case 'exit':
      return EXIT;
    case 'lddw':
      return 'R[di] = imm; R[di + 1] = code[p + 3]; pc++;';
    case 'ldabs': {
      const off = op.indirect ? 'imm + R[si]' : 'imm';
      return `const v = ldAbs(x, ${off}, ${op.size}, pc); R[1] = 0; if (v === undefined) { R[0] = 0; return; } R[0] = v;`;
    }
    case 'ldx': {
      // Plain memory directly; ctx fields and faults through runtime.load.
      const get = op.signed
        ? { 1: 'r.dv.getInt8(o)', 2: 'r.dv.getInt16(o, true)', 4: 'r.dv.getInt32(o, true)', 8: '' }[op.size]
        : { 1: 'r.u8[o]', 2: 'r.dv.getUint16(o, true)', 4: 'r.dv.getInt32(o, true)', 8: 'r.dv.getInt32(o, true)' }[op.size];
      const hi = op.size === 8 ? 'r.dv.getInt32(o + 4, true)' : op.signed ? 'R[di] >> 31' : '0';
      if (checked) {
        return `S.access(x, R[si + 1], R[si], off, ${op.size}, false, pc, depth);`
          + ` R[di] = load(x, R[si + 1], R[si], off, ${op.size}, ${op.signed}, pc); R[di + 1] = lastLoadedHi();`;
      }
      return `const r = regions[(R[si + 1] - BASE) | 0]; const o = (R[si] >>> 0) + off;`
        + ` if (r !== undefined && r.plain && o >= 0 && o + ${op.size} <= r.size) { R[di] = ${get}; R[di + 1] = ${hi}; break; }`
        + ` R[di] = load(x, R[si + 1], R[si], off, ${op.size}, ${op.signed}, pc); R[di + 1] = lastLoadedHi();`;
    }
    case 'st':
    case 'stx': {
      const [vl, vh] = op.kind === 'st' ? ['imm', 'imm >> 31'] : ['R[si]', 'R[si + 1]'];
      const set = { 1: `r.u8[o] = ${vl}`, 2: `r.dv.setUint16(o, ${vl}, true)`, 4: `r.dv.setInt32(o, ${vl}, true)`, 8: `r.dv.setInt32(o, ${vl}, true); r.dv.setInt32(o + 4, ${vh}, true)` }[op.size];
      if (checked) {
        return `S.access(x, R[di + 1], R[di], off, ${op.size}, true, pc, depth);`
          + ` store(x, R[di + 1], R[di], off, ${op.size}, ${vl}, ${vh}, pc);`;
      }
      return `const r = regions[(R[di + 1] - BASE) | 0]; const o = (R[di] >>> 0) + off;`
        + ` if (r !== undefined && r.plain && r.writable && o >= 0 && o + ${op.size} <= r.size) { ${set}; break; }`
        + ` store(x, R[di + 1], R[di], off, ${op.size}, ${vl}, ${vh}, pc);`;
    }
    case 'atomic':
      // A read-modify-write: shown to the sanitizer as the write it includes.
      return `${checked ? `S.access(x, R[di + 1], R[di], off, ${op.size}, true, pc, depth); ` : ''}atomic(x, pc, '${op.op}', ${op.size}, di >> 1, si >> 1, off);`;
  }
}

/** The functions the generated cases call, by the names they use. */
const scope: Record<string, unknown> = {
  RES, endian, MAX_BPF_STACK, MAX_CALL_FRAMES, BASE: REGION_HI_BASE, INVALID, W,
  atomic, callHelper, fault, ldAbs, load, lastLoadedHi, store, tailCallTarget,
};
for (const [name, fn] of Object.entries(ALU64)) scope[`ALU64_${name}`] = fn;
for (const [name, fn] of Object.entries(ALU32)) scope[`ALU32_${name}`] = fn;
for (const [name, fn] of Object.entries(JMP64)) scope[`JMP64_${name}`] = fn;
for (const [name, fn] of Object.entries(JMP32)) scope[`JMP32_${name}`] = fn;

type Execute = (x: ExecContext, d: Decoded, budget: { left: number }) => void;

/** The run loop: fetch, bounds and budget checks, and the generated switch. */
function buildExecute(checked: boolean): Execute {
  const cases = OPS.map((op, i) => `case ${i}: { /* ${op.name} */ ${caseBody(op, checked)} break; }`).join('\n      ');
  const source = `
const { ${Object.keys(scope).join(', ')} } = scope;
function execute(x, d, budget) {
  const R = x.R, mem = x.env.mem, regions = mem.regions, code = d.code, n = d.n;${checked ? `
  const S = x.sanitizer;
  if (S === undefined) throw new Error('BUG: a checked run without a sanitizer');` : ''}
  let limit = budget.left;
  let pc = 0, count = 0, depth = 0, frames;
  try {
    for (;;) {
      if (++count > limit) throw fault(pc, 'instruction budget exhausted');
      if (pc >= n || pc < 0) throw fault(pc, 'jump out of range');
      const p = pc * W, w = code[p], off = code[p + 1], imm = code[p + 2];
      const di = (w >> 7) & 0x1e, si = (w >> 11) & 0x1e;
      switch (w & 0xff) {
      ${cases}
      default: throw fault(pc, 'invalid instruction');
      }
      pc++;
    }
  } finally {
    budget.left -= count;
    x.insnCount += count;
  }
}
return execute;`;
  const self = new Function('scope', 'predecode', source) as (s: typeof scope, p: typeof predecode) => Execute;
  return self(scope, predecode);
}

const execute = buildExecute(false);
/** Built on first use: only soundness tests run checked. */
let executeChecked: Execute | undefined;

/** An instruction budget turns a runaway loop in unverified code into an error, not a hang. */
export interface RunOptions {
  maxInsns?: number;
  /** r2 at entry (uBPF passes the input length there; the kernel leaves it 0). */
  r2?: number;
}

/**
 * Run `prog` on CPU x with the context pointer (ctxLo, ctxHi) in r1 and r10 at the top of the stack.
 * Returns with r0 in x.R[0..1]. A memory fault, an unknown helper or an exhausted budget throws a
 * BpfError naming the instruction.
 */
export function interpret(prog: ExecProgram, x: ExecContext, ctxLo: number, ctxHi: number, opts: RunOptions = {}): void {
  x.reset(ctxLo, ctxHi);
  x.R[4] = opts.r2 ?? 0;
  execute(x, predecode(prog.insns), { left: opts.maxInsns ?? Infinity });
}

/**
 * interpret(), with x.sanitizer shown every memory access and helper call before it happens (the
 * soundness fuzzer's checked mode). Slower: no plain-memory fast path.
 */
export function interpretChecked(prog: ExecProgram, x: ExecContext, ctxLo: number, ctxHi: number, opts: RunOptions = {}): void {
  x.reset(ctxLo, ctxHi);
  x.R[4] = opts.r2 ?? 0;
  executeChecked ??= buildExecute(true);
  executeChecked(x, predecode(prog.insns), { left: opts.maxInsns ?? Infinity });
}
