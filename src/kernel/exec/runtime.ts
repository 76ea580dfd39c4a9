// What the interpreter and the JIT's generated code share at run time: memory loads and stores through
// regions (ctx regions answer through their accessor), atomics, helper calls, bpf_tail_call and the
// legacy LD_ABS/LD_IND packet loads. One implementation, so the engines cannot drift apart here.

import { BpfError } from '../../bpf/errno.js';
import { ATOMIC_OPS, type AtomicOp } from '../../bpf/opcodes.js';
import { ALU64, RES } from './alu.js';
import { MAX_TAIL_CALL_CNT, type ExecContext, type ExecProgram } from './context.js';
import { memoryFault, type CtxAccess } from './memory.js';

export const ATOMIC_NAMES = Object.keys(ATOMIC_OPS) as AtomicOp[];

export const fault = (pc: number, what: string): BpfError => new BpfError('EFAULT', `insn ${pc}: ${what}`);

/** Upper half of the last value a load produced (the lower half is the return value). */
export let loadedHi = 0;

/**
 * Load `size` bytes at (hi, lo + off) for instruction pc: returns the low 32 bits (zero- or
 * sign-extended) and leaves the upper half in `loadedHi`.
 */
export function load(x: ExecContext, hi: number, lo: number, off: number, size: number, signed: boolean, pc: number): number {
  ALU64.add(lo, hi, off, off >> 31);
  const alo = RES[0]!, ahi = RES[1]!;
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
  ALU64.add(lo, hi, off, off >> 31);
  const alo = RES[0]!, ahi = RES[1]!;
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
 * An atomic read-modify-write on memory at R[dst] + off with R[src] (and r0 for cmpxchg), on x.R.
 * The JS engines are single-threaded per CPU; maps shared with other threads use Atomics in their own
 * update paths, and this models a program's lock-prefixed instruction on its own CPU.
 */
export function atomic(x: ExecContext, pc: number, op: AtomicOp, size: 4 | 8, dst: number, src: number, off: number): void {
  const R = x.R;
  ALU64.add(R[2 * dst]!, R[2 * dst + 1]!, off, off >> 31);
  const alo = RES[0]!, ahi = RES[1]!;
  const r = x.env.mem.access(ahi, alo, size, true, pc);
  if (!r.plain) throw memoryFault(pc, true, size, ahi, alo);
  const dv = r.dv;
  const o = alo >>> 0;
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
      // Compares with r0 (all 64 bits, or the low 32), and always loads the old value into r0.
      const eq = oldLo === R[0] && (size === 4 || oldHi === R[1]);
      nLo = eq ? sLo : oldLo; nHi = eq ? sHi : oldHi;
      R[0] = oldLo; R[1] = oldHi;
      break;
    }
  }
  dv.setInt32(o, nLo, true);
  if (size === 8) dv.setInt32(o + 4, nHi, true);
  if (op !== 'cmpxchg' && (op === 'xchg' || op.startsWith('fetch_'))) {
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
