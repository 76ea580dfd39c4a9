// The reference interpreter (the role of kernel/bpf/core.c ___bpf_prog_run). Its dispatch is generated
// from the opcode table, as v86 generates its interpreter: one `case` per entry of OPS. The arithmetic,
// compare and byte-swap cases are alu.ts's source templates pasted in place (the semantics are written
// once, there, independently of the JIT's code templates, which is what makes the interpreter a
// reference the JIT is checked against); memory goes through a plain-memory fast path or the shared
// runtime.ts.
//
// A program is pre-decoded once into a flat Int32Array, 4 words per instruction: the entry's index in OPS
// with dst, src and off packed in one word, imm, and the jump distance of a jump or call (or a lddw's
// upper imm). The dispatch loop reads no objects, fetches one word per instruction and the others only in
// the cases that use them, and a run allocates nothing. Control never leaves the decoded array: falling
// off the end, or a jump (or bpf-to-bpf call) whose target is outside the program, lands on a sentinel
// slot past the last instruction that raises the fault, so the loop needs no per-instruction range check.

import type { Insn } from '../../bpf/insn.js';
import { ATOMIC_OPS, MAX_BPF_STACK, OPS, findOp, type OpInfo } from '../../bpf/opcodes.js';
import { BPF_FUNC_tail_call } from '../../bpf/helpers.js';
import { ALU32_SRC, ALU64_SRC, ALU_SCOPE, JMP32_SRC, JMP64_SRC, endianSrc } from './alu.js';
import { MAX_CALL_FRAMES, type ExecContext, type ExecProgram } from './context.js';
import { REGION_HI_BASE } from './memory.js';
import { atomic, callHelper, fault, ldAbs, load, lastLoadedHi, store, tailCallTarget } from './runtime.js';

/** Words per pre-decoded instruction. */
const W = 4;
/** Entry index of slots that are not instructions (a lddw's second half, garbage). */
const INVALID = 0xff;
/** Entry index of a sentinel slot: reaching it is a jump out of range to the insn in its imm word. */
const OUT_OF_RANGE = 0xfe;
/** How many instructions the run loop's int32 budget counter is armed with at a time. */
const BUDGET_STEP = 0x40000000;

interface Decoded {
  readonly n: number;
  readonly code: Int32Array;
}

const OP_INDEX = new Map<OpInfo, number>(OPS.map((op, i) => [op, i]));
if (OPS.length >= OUT_OF_RANGE) throw new Error('BUG: the interpreter packs an OPS index into 8 bits');

const decodedCache = new WeakMap<readonly Insn[], Decoded>();
/** The last program decoded (kept alive until another runs): a run of the same program skips the WeakMap. */
let lastInsns: readonly Insn[] | undefined;
let lastDecoded: Decoded | undefined;

/** Static target of a jump or local call at i (the instruction executed next when it is taken). */
function staticTarget(op: OpInfo, x: Insn, i: number): number | undefined {
  if (op.kind === 'ja') return i + 1 + (op.long ? x.imm : x.off);
  if (op.kind === 'jcond') return i + 1 + x.off;
  if (op.kind === 'call' && op.target === 'local') return i + 1 + x.imm;
  return undefined;
}

function predecode(insns: readonly Insn[]): Decoded {
  if (insns === lastInsns) return lastDecoded!;
  let d = decodedCache.get(insns);
  if (d === undefined) {
    d = decode(insns);
    decodedCache.set(insns, d);
  }
  lastInsns = insns;
  lastDecoded = d;
  return d;
}

function decode(insns: readonly Insn[]): Decoded {
  const n = insns.length;
  // Sentinels: slots n and n + 1 (falling off the end, or a lddw in the last slot skipping past it),
  // then one per distinct jump target outside the program.
  const outside = new Map<number, number>([[n, n], [n + 1, n + 1]]);
  const ops = insns.map((x) => findOp(x.code, x.src, x.off, x.imm));
  ops.forEach((op, i) => {
    const t = op === undefined ? undefined : staticTarget(op, insns[i]!, i);
    if (t !== undefined && (t < 0 || t > n) && !outside.has(t)) outside.set(t, n + outside.size);
  });
  const code = new Int32Array((n + outside.size) * W);
  for (const [t, slot] of outside) {
    code[slot * W] = OUT_OF_RANGE;
    code[slot * W + 1] = t;
  }
  for (let i = 0; i < n; i++) {
    const x = insns[i]!;
    const op = ops[i];
    const idx = op === undefined ? INVALID : OP_INDEX.get(op)!;
    code[i * W] = idx | (x.dst << 8) | (x.src << 12) | ((x.off & 0xffff) << 16);
    code[i * W + 1] = x.imm;
    if (op === undefined) continue;
    const t = staticTarget(op, x, i);
    if (t !== undefined) {
      // A target outside the program is its sentinel (the fault still names the target asked for).
      const slot = outside.get(t) ?? t;
      code[i * W + 2] = slot - i - 1;
    }
    if (op.kind === 'lddw') {
      code[i * W + 2] = insns[i + 1]?.imm ?? 0;
      if (i + 1 < n) code[++i * W] = INVALID;
    }
  }
  return { n, code };
}

// ---------------------------------------------------------------------------------------------------
// The case bodies, by kind of table entry. In scope: R (registers), di/si (dst/src register index * 2),
// off, imm (loaded by the cases that use it), p (the slot's first word), pc, x (the CPU), and the
// functions bound in `scope` below. A taken jump adds its distance, word 2.

/** `const` declarations of the template inputs that `src` uses, each from its expression in `from`. */
function inputs(src: string, from: Record<string, string>): string {
  const used = Object.entries(from).filter(([name]) => new RegExp(`\\b${name}\\b`).test(src));
  return used.length === 0 ? '' : `const ${used.map(([name, e]) => `${name} = ${e}`).join(', ')};`;
}

/**
 * A bpf-to-bpf call: push the return pc and the caller's r6-r9 on the frame stack (a flat Int32Array
 * made on the first call; before it, an empty one, so that the variable keeps one type) and give the
 * callee the frame below. Emitted inline, since pc, depth and
 * frames must not be captured by a closure (a captured variable lives in a heap context).
 */
const enterCall = (target: string, dynamic: boolean): string => [
  `{ const t = ${target};`,
  'if (depth + 1 >= MAX_CALL_FRAMES) throw fault(pc, `the call stack of ${MAX_CALL_FRAMES} frames is too deep`);',
  // A static target outside the program was aimed at a sentinel by decode(); a computed one is checked.
  dynamic ? 'if (((t + 1) >>> 0) >= n) throw fault(t + 1, \'jump out of range\');' : '',
  'if (frames.length === 0) frames = new Int32Array(MAX_CALL_FRAMES * 9);',
  'const f = depth * 9; frames[f] = pc; for (let r = 0; r < 8; r++) frames[f + 1 + r] = R[12 + r];',
  'depth++; R[20] = (R[20] - MAX_BPF_STACK) | 0; pc = t; }',
].join(' ');

/** Return from a bpf-to-bpf call, or end the program from its outermost frame. */
const EXIT = [
  'if (depth === 0) return;',
  '{ depth--; const f = depth * 9; for (let r = 0; r < 8; r++) R[12 + r] = frames[f + 1 + r];',
  'R[20] = (R[20] + MAX_BPF_STACK) | 0; pc = frames[f]; }',
].join(' ');

/** Where the template inputs come from: dst, and src or the sign-extended immediate. */
const DST64 = { al: 'R[di]', ah: 'R[di | 1]' };
const SRC64 = (srcReg: boolean): Record<string, string> => (srcReg ? { bl: 'R[si]', bh: 'R[si | 1]' } : { bl: 'imm', bh: 'imm >> 31' });

/**
 * The case body of a table entry. `checked` builds interpretChecked()'s flavour: every memory access and
 * helper call is first shown to x.sanitizer (bound to S at entry), and memory goes through the runtime's
 * checked load/store instead of the plain-memory fast path.
 */
function caseBody(op: OpInfo, checked: boolean): string {
  switch (op.kind) {
    case 'alu': {
      if (op.alu64) {
        const src = ALU64_SRC[op.op];
        return `${inputs(src, { ...DST64, ...SRC64(op.srcReg) })} let rl = 0, rh = 0; ${src} R[di] = rl; R[di | 1] = rh;`;
      }
      const src = ALU32_SRC[op.op];
      return `${inputs(src, { a: 'R[di]', b: op.srcReg ? 'R[si]' : 'imm' })} R[di] = ${src}; R[di | 1] = 0;`;
    }
    case 'end': {
      const src = endianSrc(op.op, op.bits);
      return `${inputs(src, DST64)} let rl = 0, rh = 0; ${src} R[di] = rl; R[di | 1] = rh;`;
    }
    case 'ja':
      return 'pc = (pc + code[p | 2]) | 0;';
    case 'jcond': {
      if (op.jmp32) {
        const src = JMP32_SRC[op.cond];
        return `${inputs(src, { a: 'R[di]', b: op.srcReg ? 'R[si]' : 'imm' })} if (${src}) pc = (pc + code[p | 2]) | 0;`;
      }
      const src = JMP64_SRC[op.cond];
      return `${inputs(src, { ...DST64, ...SRC64(op.srcReg) })} if (${src}) pc = (pc + code[p | 2]) | 0;`;
    }
    case 'call':
      if (op.target === 'local') return enterCall('pc + code[p | 2]', false);
      if (op.target === 'kfunc') return 'throw fault(pc, `kernel function calls are not supported (btf_id ${imm})`);';
      return [
        checked ? 'S.call(x, imm, pc, depth);' : '',
        `if (imm !== ${BPF_FUNC_tail_call}) { callHelper(x, imm, pc); break; }`,
        'const target = tailCallTarget(x, pc);',
        'if (target === undefined) break; /* a failed tail call falls through */',
        // The kernel's tail call jumps into the target and reuses the frame: the target's r0 is what this
        // function returns.
        'execute(x, predecode(target.insns), limit - (granted - left));',
        EXIT,
      ].join(' ');
    case 'callx':
      // Linux: the register holds a BPF function (lddw BPF_PSEUDO_FUNC; its low half is the callee's first
      // instruction). uBPF and the conformance suite: a helper id.
      return `if (mem.region(R[di | 1])?.kind !== 'func') { ${checked ? 'S.call(x, R[di], pc, depth); ' : ''}callHelper(x, R[di], pc); break; } ${enterCall('R[di] - 1', true)}`;
    case 'exit':
      return EXIT;
    case 'lddw':
      return 'R[di] = imm; R[di | 1] = code[p | 2]; pc = (pc + 1) | 0;';
    case 'ldabs': {
      const off = op.indirect ? 'imm + R[si]' : 'imm';
      return `const v = ldAbs(x, ${off}, ${op.size}, pc); R[1] = 0; if (v === undefined) { R[0] = 0; return; } R[0] = v;`;
    }
    case 'ldx': {
      // Plain memory directly; other ctx accesses and faults through runtime.load.
      const get = op.signed
        ? { 1: 'r.dv.getInt8(o)', 2: 'r.dv.getInt16(o, true)', 4: 'r.dv.getInt32(o, true)', 8: '' }[op.size]
        : { 1: 'r.u8[o]', 2: 'r.dv.getUint16(o, true)', 4: 'r.dv.getInt32(o, true)', 8: 'r.dv.getInt32(o, true)' }[op.size];
      const hi = op.size === 8 ? 'r.dv.getInt32(o + 4, true)' : op.signed ? 'R[di] >> 31' : '0';
      if (checked) {
        return `S.access(x, R[si | 1], R[si], off, ${op.size}, false, pc, depth);`
          + ` R[di] = load(x, R[si | 1], R[si], off, ${op.size}, ${op.signed}, pc); R[di | 1] = lastLoadedHi();`;
      }
      // A ctx field in bounds goes to the ctx's accessor here, as runtime.load would take it there.
      return `const r = regions[(R[si | 1] - BASE) | 0]; const o = (R[si] >>> 0) + off;`
        + ` if (r !== undefined && o >= 0 && o + ${op.size} <= r.size) {`
        + ` if (r.plain) { R[di] = ${get}; R[di | 1] = ${hi}; break; }`
        + ` if (r.kind === 'ctx') { if (!r.object.load(o, ${op.size}, pair)) throw fault(pc, \`invalid bpf_context access off=\${o} size=${op.size}\`);`
        + ` R[di] = pair[0]; R[di | 1] = pair[1]; break; } }`
        + ` R[di] = load(x, R[si | 1], R[si], off, ${op.size}, ${op.signed}, pc); R[di | 1] = lastLoadedHi();`;
    }
    case 'st':
    case 'stx': {
      const [vl, vh] = op.kind === 'st' ? ['imm', 'imm >> 31'] : ['R[si]', 'R[si | 1]'];
      const set = { 1: `r.u8[o] = ${vl}`, 2: `r.dv.setUint16(o, ${vl}, true)`, 4: `r.dv.setInt32(o, ${vl}, true)`, 8: `r.dv.setInt32(o, ${vl}, true); r.dv.setInt32(o + 4, ${vh}, true)` }[op.size];
      if (checked) {
        return `S.access(x, R[di | 1], R[di], off, ${op.size}, true, pc, depth);`
          + ` store(x, R[di | 1], R[di], off, ${op.size}, ${vl}, ${vh}, pc);`;
      }
      return `const r = regions[(R[di | 1] - BASE) | 0]; const o = (R[di] >>> 0) + off;`
        + ` if (r !== undefined && r.plain && r.writable && o >= 0 && o + ${op.size} <= r.size) { ${set}; break; }`
        + ` store(x, R[di | 1], R[di], off, ${op.size}, ${vl}, ${vh}, pc);`;
    }
    case 'atomic':
      // A read-modify-write: shown to the sanitizer as the write it includes.
      return `${checked ? `S.access(x, R[di | 1], R[di], off, ${op.size}, true, pc, depth); ` : ''}atomic(x, pc, ${ATOMIC_OPS[op.op]}, ${op.size}, di >> 1, si >> 1, off);`;
  }
}

/** The functions and constants the generated cases use, by the names they use. */
const scope: Record<string, unknown> = {
  ...ALU_SCOPE, MAX_BPF_STACK, MAX_CALL_FRAMES, BASE: REGION_HI_BASE, NO_FRAMES: new Int32Array(0),
  atomic, callHelper, fault, ldAbs, load, lastLoadedHi, store, tailCallTarget,
};

/** Run a decoded program from insn 0 with at most `limit` instructions (tail calls included). */
type Execute = (x: ExecContext, d: Decoded, limit: number) => void;

/** The run loop: fetch, budget check, and the generated switch. */
function buildExecute(checked: boolean): Execute {
  const cases = OPS.map((op, i) => {
    const body = caseBody(op, checked);
    return `case ${i}: { /* ${op.name} */ ${/\bimm\b/.test(body) ? 'const imm = code[p | 1]; ' : ''}${body} break; }`;
  }).join('\n      ');
  const source = `
const { ${Object.keys(scope).join(', ')} } = scope;
function execute(x, d, limit) {
  const R = x.R, pair = x.pair, mem = x.env.mem, regions = mem.regions, code = d.code, n = d.n;${checked ? `
  const S = x.sanitizer;
  if (S === undefined) throw new Error('BUG: a checked run without a sanitizer');` : ''}
  // The budget check counts an int32 down: \`left\` instructions remain of the \`granted\` so far, and it is
  // re-armed every 2^30 instructions of an unlimited run. granted - left have been counted.
  let pc = 0, depth = 0, frames = NO_FRAMES, left = (limit < ${BUDGET_STEP} ? limit : ${BUDGET_STEP}) | 0, granted = left;
  try {
    for (;;) {
      left = (left - 1) | 0;
      if (left < 0) {
        if (granted >= limit) throw fault(pc, 'instruction budget exhausted');
        const more = (limit - granted < ${BUDGET_STEP} ? limit - granted : ${BUDGET_STEP}) | 0;
        granted += more;
        left += more;
      }
      // pc and the counters are kept int32 with | 0 (V8 then needs no overflow checks), and p is a
      // multiple of W = 4, so p | 1 is p + 1.
      const p = pc << 2, w = code[p];
      const di = (w >> 7) & 0x1e, si = (w >> 11) & 0x1e, off = w >> 16;
      switch (w & 0xff) {
      ${cases}
      case ${OUT_OF_RANGE}: throw fault(code[p | 1], 'jump out of range');
      default: throw fault(pc, 'invalid instruction');
      }
      pc = (pc + 1) | 0;
    }
  } finally {
    x.insnCount += granted - left;
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
export function interpret(prog: ExecProgram, x: ExecContext, ctxLo: number, ctxHi: number, opts?: RunOptions): void {
  x.reset(ctxLo, ctxHi);
  x.R[4] = opts?.r2 ?? 0;
  execute(x, predecode(prog.insns), opts?.maxInsns ?? Infinity);
}

/**
 * interpret(), with x.sanitizer shown every memory access and helper call before it happens (the
 * soundness fuzzer's checked mode). Slower: no plain-memory fast path.
 */
export function interpretChecked(prog: ExecProgram, x: ExecContext, ctxLo: number, ctxHi: number, opts?: RunOptions): void {
  x.reset(ctxLo, ctxHi);
  x.R[4] = opts?.r2 ?? 0;
  executeChecked ??= buildExecute(true);
  executeChecked(x, predecode(prog.insns), opts?.maxInsns ?? Infinity);
}
