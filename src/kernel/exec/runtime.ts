// What the interpreter and the JIT's generated code share at run time: memory loads and stores through
// regions (ctx regions answer through their accessor), atomics, helper calls, bpf_tail_call and the
// legacy LD_ABS/LD_IND packet loads. One implementation, so the engines cannot drift apart here.

import { BpfError } from '../../bpf/errno.js';
import { ATOMIC_OPS, BPF_ADD, BPF_AND, BPF_CMPXCHG, BPF_FETCH, BPF_OR, BPF_XCHG, BPF_XOR, type AtomicOp } from '../../bpf/opcodes.js';
import { MAX_TAIL_CALL_CNT, type ExecContext, type ExecProgram } from './context.js';
import { memoryFault, type CtxAccess } from './memory.js';

export const ATOMIC_NAMES = Object.keys(ATOMIC_OPS) as AtomicOp[];

export const fault = (pc: number, what: string): BpfError => new BpfError('EFAULT', `insn ${pc}: ${what}`);

/** Upper half of the address (hi, lo) + off whose lower half is alo: the carry or borrow of the add. */
function addrHi(lo: number, hi: number, off: number, alo: number): number {
  return (hi + (off >> 31) + ((alo >>> 0) < (lo >>> 0) ? 1 : 0)) | 0;
}


/** Upper half of the last value a load produced (the lower half is the return value). */
export let loadedHi = 0;

/**
 * Load `size` bytes at (hi, lo + off) for instruction pc: returns the low 32 bits (zero- or
 * sign-extended) and leaves the upper half in `loadedHi`.
 */
export function load(x: ExecContext, hi: number, lo: number, off: number, size: number, signed: boolean, pc: number): number {
  const alo = (lo + off) | 0, ahi = addrHi(lo, hi, off, alo);
  const r = x.env.mem.access(ahi, alo, size, false, pc);
  const o = alo >>> 0;
  if (r.kind === 'ctx') {
    if (!(r.object as CtxAccess).load(o, size, x.pair)) throw fault(pc, `invalid bpf_context access off=${o} size=${size}`);
    loadedHi = x.pair[1]!;
    return x.pair[0]!;
  }
  const dv = r.dv;
  let v: number;
  switch (size) {
    case 1: v = signed ? dv.getInt8(o) : dv.getUint8(o); break;
    case 2: v = signed ? dv.getInt16(o, true) : dv.getUint16(o, true); break;
    case 4: v = dv.getInt32(o, true); break;
    default:
      loadedHi = dv.getInt32(o + 4, true);
      return dv.getInt32(o, true);
  }
  loadedHi = signed ? v >> 31 : 0;
  return v;
}

export function store(x: ExecContext, hi: number, lo: number, off: number, size: number, vlo: number, vhi: number, pc: number): void {
  const alo = (lo + off) | 0, ahi = addrHi(lo, hi, off, alo);
  const r = x.env.mem.access(ahi, alo, size, true, pc);
  const o = alo >>> 0;
  if (r.kind === 'ctx') {
    if (!(r.object as CtxAccess).store(o, size, vlo, vhi)) throw fault(pc, `invalid bpf_context access off=${o} size=${size}`);
    return;
  }
  const dv = r.dv;
  switch (size) {
    case 1: dv.setUint8(o, vlo); break;
    case 2: dv.setUint16(o, vlo, true); break;
    case 4: dv.setInt32(o, vlo, true); break;
    default: dv.setInt32(o, vlo, true); dv.setInt32(o + 4, vhi, true);
  }
}

/**
 * An atomic read-modify-write on memory at R[dst] + off with R[src] (and r0 for cmpxchg), on x.R; `code`
 * is the instruction's imm (ATOMIC_OPS: the operation, BPF_FETCH), as ___bpf_prog_run switches on it.
 * The JS engines are single-threaded per CPU; maps shared with other threads use Atomics in their own
 * update paths, and this models a program's lock-prefixed instruction on its own CPU.
 */
export function atomic(x: ExecContext, pc: number, code: number, size: 4 | 8, dst: number, src: number, off: number): void {
  const R = x.R;
  const blo = R[2 * dst]!, alo = (blo + off) | 0, ahi = addrHi(blo, R[2 * dst + 1]!, off, alo);
  const r = x.env.mem.access(ahi, alo, size, true, pc);
  if (!r.plain) throw memoryFault(pc, true, size, ahi, alo);
  const dv = r.dv;
  const o = alo >>> 0;
  const oldLo = dv.getInt32(o, true);
  const oldHi = size === 8 ? dv.getInt32(o + 4, true) : 0;
  const sLo = R[2 * src]!, sHi = size === 8 ? R[2 * src + 1]! : 0;
  let nLo: number, nHi: number;
  switch (code) {
    case BPF_ADD: case BPF_ADD | BPF_FETCH:
      nLo = (oldLo + sLo) | 0; nHi = (oldHi + sHi + ((nLo >>> 0) < (oldLo >>> 0) ? 1 : 0)) | 0; break;
    case BPF_OR: case BPF_OR | BPF_FETCH: nLo = oldLo | sLo; nHi = oldHi | sHi; break;
    case BPF_AND: case BPF_AND | BPF_FETCH: nLo = oldLo & sLo; nHi = oldHi & sHi; break;
    case BPF_XOR: case BPF_XOR | BPF_FETCH: nLo = oldLo ^ sLo; nHi = oldHi ^ sHi; break;
    case BPF_XCHG: nLo = sLo; nHi = sHi; break;
    case BPF_CMPXCHG: {
      // Compares with r0 (all 64 bits, or the low 32), and always loads the old value into r0.
      const eq = oldLo === R[0] && (size === 4 || oldHi === R[1]);
      nLo = eq ? sLo : oldLo; nHi = eq ? sHi : oldHi;
      R[0] = oldLo; R[1] = oldHi;
      break;
    }
    default: throw fault(pc, `invalid atomic operation 0x${code.toString(16)}`);
  }
  dv.setInt32(o, nLo, true);
  if (size === 8) dv.setInt32(o + 4, nHi, true);
  // The fetch forms and xchg return the old value in src (cmpxchg in r0, above).
  if ((code & BPF_FETCH) !== 0 && code !== BPF_CMPXCHG) {
    R[2 * src] = oldLo;
    R[2 * src + 1] = oldHi;
  }
}

export function callHelper(x: ExecContext, id: number, pc: number): void {
  const helper = x.env.helpers[id];
  if (helper === undefined) throw fault(pc, `invalid func unknown#${id}`);
  helper(x);
}

/** bpf_tail_call(ctx, prog_array, index) with r2/r3 in x.R: the target, or undefined to fall through. */
export function tailCallTarget(x: ExecContext, pc: number): ExecProgram | undefined {
  const R = x.R;
  const region = x.env.mem.region(R[5]!);
  if (region?.kind !== 'map') throw fault(pc, 'bpf_tail_call: r2 is not a map pointer');
  if (x.tailCallCnt >= MAX_TAIL_CALL_CNT) return undefined;
  const target = x.env.tailCallTarget?.(region.object, R[6]! >>> 0);
  if (target === undefined) return undefined;
  x.tailCallCnt++;
  return target;
}

/** The skb-like context LD_ABS/LD_IND read from (r6); XDP programs may not use them. */
export interface PacketCtx {
  packet(): Uint8Array;
}

/** r0 = ntoh(packet[off..off+size)); undefined when out of bounds (the program then exits with 0). */
export function ldAbs(x: ExecContext, off: number, size: number, pc: number): number | undefined {
  const region = x.env.mem.region(x.R[13]!);
  const ctx = region?.object as Partial<PacketCtx> | undefined;
  if (region?.kind !== 'ctx' || typeof ctx?.packet !== 'function') throw fault(pc, 'BPF_LD_[ABS|IND] needs the skb context in r6');
  const pkt = ctx.packet();
  if (off < 0 || off + size > pkt.length) return undefined;
  let v = 0;
  for (let i = 0; i < size; i++) v = (v << 8) | pkt[off + i]!;
  return v;
}

/** `loadedHi` for generated code, which cannot see a live ES binding. */
export function lastLoadedHi(): number {
  return loadedHi;
}
