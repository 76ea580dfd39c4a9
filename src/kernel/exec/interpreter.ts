// The reference interpreter (kernel/bpf/core.c ___bpf_prog_run plays this role in Linux). Simple on
// purpose: every instruction goes through the semantic tables in alu.ts and the checked memory accessors
// of memory.ts, so it is the yardstick the JITs are compared with. It still pre-decodes each program once
// into flat typed arrays so that a run allocates nothing.

import { BpfError } from '../../bpf/errno.js';
import type { Insn } from '../../bpf/insn.js';
import {
  ALU_OPS, ATOMIC_OPS, JMP_CONDS, MAX_BPF_STACK, findOp,
  type AluOp, type AtomicOp, type JmpCond, type OpInfo,
} from '../../bpf/opcodes.js';
import { BPF_FUNC_tail_call } from '../../bpf/helpers.js';
import { ALU32, ALU64, JMP32, JMP64, RES, endian } from './alu.js';
import { MAX_CALL_FRAMES, MAX_TAIL_CALL_CNT, type ExecContext, type ExecProgram } from './context.js';
import type { CtxAccess, Region } from './memory.js';

// Instruction classes of the pre-decoded form: one `switch` arm each.
const enum K {
  Alu64K, Alu64X, Alu32K, Alu32X, End, Ja, Jmp64K, Jmp64X, Jmp32K, Jmp32X, Call, CallLocal, CallKfunc,
  Callx, Exit, Lddw, LdAbs, LdInd, Ldx, Ldxs, St, Stx, Atomic, Nop,
}

const ALU_NAMES = Object.keys(ALU_OPS) as AluOp[];
const JMP_NAMES = Object.keys(JMP_CONDS) as JmpCond[];
const ATOMIC_NAMES = Object.keys(ATOMIC_OPS) as AtomicOp[];
const END_OPS = ['le', 'be', 'bswap'] as const;
const END_BITS = [16, 32, 64] as const;
const ALU64_FNS = ALU_NAMES.map((n) => ALU64[n]);
const ALU32_FNS = ALU_NAMES.map((n) => ALU32[n]);
const JMP64_FNS = JMP_NAMES.map((n) => JMP64[n]);
const JMP32_FNS = JMP_NAMES.map((n) => JMP32[n]);

interface Decoded {
  readonly n: number;
  readonly kind: Uint8Array;
  /** ALU/JMP/atomic op index, END bits, access size. */
  readonly fn: Uint8Array;
  readonly dst: Uint8Array;
  readonly src: Uint8Array;
  readonly off: Int32Array;
  readonly imm: Int32Array;
  /** lddw: the upper 32 bits of the immediate. */
  readonly imm2: Int32Array;
}

function classify(op: OpInfo): [K, number] {
  switch (op.kind) {
    case 'alu': return [op.alu64 ? (op.srcReg ? K.Alu64X : K.Alu64K) : op.srcReg ? K.Alu32X : K.Alu32K, ALU_NAMES.indexOf(op.op)];
    case 'end': return [K.End, (END_OPS.indexOf(op.op) << 2) | END_BITS.indexOf(op.bits)];
    case 'ja': return [K.Ja, op.long ? 1 : 0];
    case 'jcond': return [op.jmp32 ? (op.srcReg ? K.Jmp32X : K.Jmp32K) : op.srcReg ? K.Jmp64X : K.Jmp64K, JMP_NAMES.indexOf(op.cond)];
    case 'call': return [op.target === 'helper' ? K.Call : op.target === 'local' ? K.CallLocal : K.CallKfunc, 0];
    case 'callx': return [K.Callx, 0];
    case 'exit': return [K.Exit, 0];
    case 'lddw': return [K.Lddw, 0];
    case 'ldabs': return [op.indirect ? K.LdInd : K.LdAbs, op.size];
    case 'ldx': return [op.signed ? K.Ldxs : K.Ldx, op.size];
    case 'st': return [K.St, op.size];
    case 'stx': return [K.Stx, op.size];
    case 'atomic': return [K.Atomic, ATOMIC_NAMES.indexOf(op.op) | (op.size === 8 ? 0x80 : 0)];
  }
}

const decodedCache = new WeakMap<readonly Insn[], Decoded>();

function predecode(insns: readonly Insn[]): Decoded {
  const cached = decodedCache.get(insns);
  if (cached) return cached;
  const n = insns.length;
  const d: Decoded = {
    n, kind: new Uint8Array(n), fn: new Uint8Array(n), dst: new Uint8Array(n), src: new Uint8Array(n),
    off: new Int32Array(n), imm: new Int32Array(n), imm2: new Int32Array(n),
  };
  for (let i = 0; i < n; i++) {
    const x = insns[i]!;
    const op = findOp(x.code, x.src, x.off, x.imm);
    if (op === undefined) {
      // The second slot of a lddw, or garbage that decodeProgram would have refused.
      d.kind[i] = K.Nop;
      continue;
    }
    const [kind, fn] = classify(op);
    d.kind[i] = kind;
    d.fn[i] = fn;
    d.dst[i] = x.dst;
    d.src[i] = x.src;
    d.off[i] = x.off;
    d.imm[i] = x.imm;
    if (kind === K.Lddw) d.imm2[i] = insns[i + 1]?.imm ?? 0;
  }
  decodedCache.set(insns, d);
  return d;
}

/** Options for a run: an instruction budget turns a runaway unverified loop into an error, not a hang. */
export interface RunOptions {
  maxInsns?: number;
}

const fault = (pc: number, what: string): BpfError => new BpfError('EFAULT', `insn ${pc}: ${what}`);

/**
 * Run `prog` with the context pointer (ctxLo, ctxHi) in r1 on CPU x. Returns with r0 in x.R[0..1].
 * A memory fault, an unknown helper or an exceeded budget throws BpfError naming the instruction.
 */
export function interpret(prog: ExecProgram, x: ExecContext, ctxLo: number, ctxHi: number, opts: RunOptions = {}): void {
  x.reset(ctxLo, ctxHi);
  const R = x.R;
  const mem = x.env.mem;
  const budget = opts.maxInsns ?? Infinity;
  let d = predecode(prog.insns);
  let pc = 0;
  let count = 0;
  // bpf-to-bpf call frames: return pc and callee-saved r6-r9 (lo/hi).
  const retPc: number[] = [];
  const saved: number[] = [];

  const load = (region: Region, off: number, size: number, signed: boolean, dst: number): void => {
    if (region.kind === 'ctx') {
      if (!(region.object as CtxAccess).load(off, size, x.pair)) throw fault(pc, `invalid ctx access off=${off} size=${size}`);
      R[2 * dst] = x.pair[0]!;
      R[2 * dst + 1] = x.pair[1]!;
      return;
    }
    const dv = region.dv;
    let lo: number, hi: number;
    switch (size) {
      case 1: lo = signed ? dv.getInt8(off) : dv.getUint8(off); hi = signed ? lo >> 31 : 0; break;
      case 2: lo = signed ? dv.getInt16(off, true) : dv.getUint16(off, true); hi = signed ? lo >> 31 : 0; break;
      case 4: lo = dv.getInt32(off, true); hi = signed ? lo >> 31 : 0; break;
      default: lo = dv.getInt32(off, true); hi = dv.getInt32(off + 4, true);
    }
    R[2 * dst] = lo;
    R[2 * dst + 1] = hi;
  };

  const store = (region: Region, off: number, size: number, lo: number, hi: number): void => {
    if (region.kind === 'ctx') {
      if (!(region.object as CtxAccess).store(off, size, lo, hi)) throw fault(pc, `invalid ctx store off=${off} size=${size}`);
      return;
    }
    const dv = region.dv;
    switch (size) {
      case 1: dv.setUint8(off, lo); break;
      case 2: dv.setUint16(off, lo, true); break;
      case 4: dv.setInt32(off, lo, true); break;
      default: dv.setInt32(off, lo, true); dv.setInt32(off + 4, hi, true);
    }
  };

  for (;;) {
    if (++count > budget) throw fault(pc, `instruction budget of ${budget} exceeded`);
    if (pc >= d.n || pc < 0) throw fault(pc, 'jump out of range');
    const dst = d.dst[pc]!, src = d.src[pc]!, fn = d.fn[pc]!;
    const di = 2 * dst, si = 2 * src;
    switch (d.kind[pc] as K) {
      case K.Alu64K: {
        const imm = d.imm[pc]!;
        ALU64_FNS[fn]!(R[di]!, R[di + 1]!, imm, imm >> 31);
        R[di] = RES[0]!; R[di + 1] = RES[1]!;
        break;
      }
      case K.Alu64X:
        ALU64_FNS[fn]!(R[di]!, R[di + 1]!, R[si]!, R[si + 1]!);
        R[di] = RES[0]!; R[di + 1] = RES[1]!;
        break;
      case K.Alu32K:
        R[di] = ALU32_FNS[fn]!(R[di]!, d.imm[pc]!); R[di + 1] = 0;
        break;
      case K.Alu32X:
        R[di] = ALU32_FNS[fn]!(R[di]!, R[si]!); R[di + 1] = 0;
        break;
      case K.End:
        endian(END_OPS[fn >> 2]!, END_BITS[fn & 3]!, R[di]!, R[di + 1]!);
        R[di] = RES[0]!; R[di + 1] = RES[1]!;
        break;
      case K.Ja:
        pc += fn === 1 ? d.imm[pc]! : d.off[pc]!;
        break;
      case K.Jmp64K: {
        const imm = d.imm[pc]!;
        if (JMP64_FNS[fn]!(R[di]!, R[di + 1]!, imm, imm >> 31)) pc += d.off[pc]!;
        break;
      }
      case K.Jmp64X:
        if (JMP64_FNS[fn]!(R[di]!, R[di + 1]!, R[si]!, R[si + 1]!)) pc += d.off[pc]!;
        break;
      case K.Jmp32K:
        if (JMP32_FNS[fn]!(R[di]!, d.imm[pc]!)) pc += d.off[pc]!;
        break;
      case K.Jmp32X:
        if (JMP32_FNS[fn]!(R[di]!, R[si]!)) pc += d.off[pc]!;
        break;
      case K.Call: {
        const id = d.imm[pc]!;
        if (id === BPF_FUNC_tail_call) {
          const target = tailCall(x, pc);
          if (target !== undefined) {
            // The kernel jumps into the target with r1 (ctx) and the stack frame kept; nothing returns here.
            d = predecode(target.insns);
            pc = 0;
            retPc.length = 0;
            saved.length = 0;
            continue;
          }
          break;
        }
        callHelper(x, id, pc);
        break;
      }
      case K.Callx: {
        // Linux: the register holds a BPF function address (lddw BPF_PSEUDO_FUNC); uBPF and the
        // conformance suite: a helper id.
        const region = mem.region(R[di + 1]!);
        if (region?.kind === 'func') {
          // A function pointer's low half is the callee's first instruction.
          pc = pushFrame(pc, R[di]! - 1);
          break;
        }
        callHelper(x, R[di]!, pc);
        break;
      }
      case K.CallLocal:
        pc = pushFrame(pc, pc + d.imm[pc]!);
        break;
      case K.CallKfunc:
        throw fault(pc, `kernel function calls are not supported (btf_id ${d.imm[pc]!})`);
      case K.Exit:
        if (retPc.length === 0) {
          x.insnCount += count;
          return;
        }
        pc = popFrame();
        break;
      case K.Lddw:
        R[di] = d.imm[pc]!;
        R[di + 1] = d.imm2[pc]!;
        pc++;
        break;
      case K.LdAbs:
      case K.LdInd: {
        // cBPF heritage: r0 = ntoh(packet[imm (+ src)]); out of bounds ends the program with r0 = 0.
        const off = d.imm[pc]! + (d.kind[pc] === K.LdInd ? R[si]! : 0);
        const v = ldAbs(x, off, fn, pc);
        if (v === undefined) {
          R[0] = 0; R[1] = 0;
          x.insnCount += count;
          return;
        }
        R[0] = v; R[1] = 0;
        break;
      }
      case K.Ldx:
      case K.Ldxs: {
        addr(R[si]!, R[si + 1]!, d.off[pc]!);
        const region = mem.access(ADDR[1]!, ADDR[0]!, fn, false, `insn ${pc}`);
        load(region, ADDR[0]! >>> 0, fn, d.kind[pc] === K.Ldxs, dst);
        break;
      }
      case K.St:
      case K.Stx: {
        addr(R[di]!, R[di + 1]!, d.off[pc]!);
        const region = mem.access(ADDR[1]!, ADDR[0]!, fn, true, `insn ${pc}`);
        if (d.kind[pc] === K.St) store(region, ADDR[0]! >>> 0, fn, d.imm[pc]!, d.imm[pc]! >> 31);
        else store(region, ADDR[0]! >>> 0, fn, R[si]!, R[si + 1]!);
        break;
      }
      case K.Atomic:
        atomic(x, pc, fn, dst, src, d.off[pc]!);
        break;
      case K.Nop:
        throw fault(pc, 'invalid instruction');
    }
    pc++;
  }

  function pushFrame(pc: number, target: number): number {
    if (retPc.length + 1 >= MAX_CALL_FRAMES) throw fault(pc, `the call stack of ${MAX_CALL_FRAMES} frames is too deep`);
    retPc.push(pc);
    for (let r = 12; r < 20; r++) saved.push(R[r]!);
    // The callee gets a fresh frame below the caller's.
    R[20] = (R[20]! - MAX_BPF_STACK) | 0;
    return target; // the loop's pc++ then lands on target + 1
  }

  function popFrame(): number {
    for (let r = 19; r >= 12; r--) R[r] = saved.pop()!;
    R[20] = (R[20]! + MAX_BPF_STACK) | 0;
    return retPc.pop()!;
  }
}

/** ADDR = base + off as a 64-bit pointer (lo, hi); off is the signed 16-bit field. */
const ADDR = new Int32Array(2);
function addr(lo: number, hi: number, off: number): void {
  ALU64.add(lo, hi, off, off >> 31);
  ADDR[0] = RES[0]!;
  ADDR[1] = RES[1]!;
}

function callHelper(x: ExecContext, id: number, pc: number): void {
  const helper = x.env.helpers[id];
  if (helper === undefined) throw fault(pc, `unknown helper function ${id}`);
  helper(x);
}

/** bpf_tail_call(ctx, prog_array, index): the target, or undefined to fall through as the kernel does. */
function tailCall(x: ExecContext, pc: number): ExecProgram | undefined {
  const R = x.R;
  const region = x.env.mem.region(R[5]!);
  if (region?.kind !== 'map') throw fault(pc, 'bpf_tail_call: r2 is not a map');
  if (x.tailCallCnt >= MAX_TAIL_CALL_CNT) return undefined;
  const target = x.env.tailCallTarget?.(region.object, R[6]! >>> 0);
  if (target === undefined) return undefined;
  x.tailCallCnt++;
  return target;
}

function ldAbs(x: ExecContext, off: number, size: number, pc: number): number | undefined {
  const ctxRegion = x.env.mem.region(x.R[13]!);
  const ctx = ctxRegion?.object as { packet?(): Uint8Array } | undefined;
  if (ctxRegion?.kind !== 'ctx' || typeof ctx?.packet !== 'function') throw fault(pc, 'LD_ABS/LD_IND need the skb context in r6');
  const pkt = ctx.packet();
  if (off < 0 || off + size > pkt.length) return undefined;
  let v = 0;
  for (let i = 0; i < size; i++) v = (v << 8) | pkt[off + i]!;
  return v;
}

function atomic(x: ExecContext, pc: number, fn: number, dst: number, src: number, off: number): void {
  const R = x.R;
  const size = fn & 0x80 ? 8 : 4;
  const op = ATOMIC_NAMES[fn & 0x7f]!;
  addr(R[2 * dst]!, R[2 * dst + 1]!, off);
  const region = x.env.mem.access(ADDR[1]!, ADDR[0]!, size, true, `insn ${pc}`);
  if (region.kind === 'ctx') throw fault(pc, 'atomic on ctx');
  const dv = region.dv;
  const o = ADDR[0]! >>> 0;
  const oldLo = dv.getInt32(o, true);
  const oldHi = size === 8 ? dv.getInt32(o + 4, true) : 0;
  const sLo = R[2 * src]!, sHi = size === 8 ? R[2 * src + 1]! : 0;
  let nLo: number, nHi: number;
  switch (op) {
    case 'add': case 'fetch_add':
      ALU64.add(oldLo, oldHi, sLo, sHi); nLo = RES[0]!; nHi = RES[1]!; break;
    case 'or': case 'fetch_or': nLo = oldLo | sLo; nHi = oldHi | sHi; break;
    case 'and': case 'fetch_and': nLo = oldLo & sLo; nHi = oldHi & sHi; break;
    case 'xor': case 'fetch_xor': nLo = oldLo ^ sLo; nHi = oldHi ^ sHi; break;
    case 'xchg': nLo = sLo; nHi = sHi; break;
    case 'cmpxchg': {
      // Compares with r0 (64-bit, or its low 32 bits), always loads the old value into r0.
      const eq = oldLo === R[0] && (size === 4 || oldHi === R[1]);
      nLo = eq ? sLo : oldLo; nHi = eq ? sHi : oldHi;
      R[0] = oldLo; R[1] = oldHi;
      break;
    }
  }
  dv.setInt32(o, nLo, true);
  if (size === 8) dv.setInt32(o + 4, nHi, true);
  if (op.startsWith('fetch') || op === 'xchg') {
    R[2 * src] = oldLo;
    R[2 * src + 1] = oldHi;
  }
}
