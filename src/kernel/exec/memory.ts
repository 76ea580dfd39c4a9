// The address space BPF programs see on the emulated host. There is no flat memory: every object a
// pointer can reach (a stack, a context, a packet frame, a map's values) is a REGION, and a 64-bit
// pointer is (hi = the region's tag, lo = byte offset in the region). Pointer arithmetic is plain 64-bit
// arithmetic; running off either end of a region carries or borrows into `hi`, which then names no
// region, so the access faults — the emulator's equivalent of an unmapped kernel address.
//
// Verified programs never fault: the verifier proves every access in bounds, which is also what lets the
// JIT replace a region lookup by a direct typed-array access. Unverified code (the conformance suite,
// fuzzing) gets a BpfError(EFAULT) naming the access.

import { BpfError } from '../../bpf/errno.js';

/** hi half of region 0's pointers: kernel-looking addresses (0xffff_9000_0000_0000 + (id << 32)). */
export const REGION_HI_BASE = 0xffff9000 | 0;
export const MAX_REGIONS = 1 << 20;

export type RegionKind =
  | 'stack' // BPF stack frames (PTR_TO_STACK)
  | 'ctx' // program context (PTR_TO_CTX): loads and stores go through the ctx object
  | 'packet' // an xdp_buff frame: headroom + data + tailroom (PTR_TO_PACKET*)
  | 'map' // a map itself (CONST_PTR_TO_MAP); not readable by programs
  | 'map_value' // a map's value memory (PTR_TO_MAP_VALUE)
  | 'mem' // plain memory, e.g. the conformance suite's input buffer
  | 'func'; // a BPF function address (lddw BPF_PSEUDO_FUNC), for callx

/** What a context region answers for: loads produce (lo, hi) in `out`, since some fields are pointers. */
export interface CtxAccess {
  load(off: number, size: number, out: Int32Array): boolean;
  store(off: number, size: number, lo: number, hi: number): boolean;
}

/**
 * A context whose readable fields are all 4-byte words: it keeps them in two arrays (low and high
 * halves, the high half being a region tag for pointer fields) that engines may read directly instead
 * of calling load(). The kernel gets the same effect by rewriting context accesses at load time.
 */
export interface CtxMirror {
  readonly mdLo: Int32Array;
  readonly mdHi: Int32Array;
  /** Bytes from the start readable through the mirror (aligned 4-byte loads only). */
  readonly mirrorBytes: number;
}

export interface Region {
  readonly id: number;
  /** The pointer tag: what a pointer into this region has in its upper 32 bits (as int32). */
  readonly hi: number;
  readonly kind: RegionKind;
  readonly u8: Uint8Array;
  readonly dv: DataView;
  readonly size: number;
  readonly writable: boolean;
  /** Plain memory the engines may read directly (not a ctx, a map handle or a function). */
  readonly plain: boolean;
  /** The kernel object behind the region (a map, a function index, a ctx accessor). */
  readonly object: unknown;
}

export class AddressSpace {
  /** Indexed by region id; the JIT's accessors read it directly. */
  readonly regions: (Region | undefined)[] = [];
  private readonly free: number[] = [];
  /** Bumped whenever the mapping changes, so that caches of regions can tell they are stale. */
  epoch = 0;

  map(kind: RegionKind, u8: Uint8Array, opts: { writable?: boolean; object?: unknown } = {}): Region {
    const id = this.free.pop() ?? this.regions.length;
    if (id >= MAX_REGIONS) throw new BpfError('ENOMEM', 'address space exhausted');
    const region: Region = {
      id, hi: (REGION_HI_BASE + id) | 0, kind, u8, size: u8.length,
      dv: new DataView(u8.buffer, u8.byteOffset, u8.byteLength),
      writable: opts.writable ?? true, object: opts.object,
      plain: kind !== 'ctx' && kind !== 'map' && kind !== 'func',
    };
    this.epoch++;
    this.regions[id] = region;
    return region;
  }

  unmap(region: Region): void {
    if (this.regions[region.id] !== region) throw new Error(`BUG: unmapping region ${region.id} twice`);
    this.regions[region.id] = undefined;
    this.free.push(region.id);
    this.epoch++;
  }

  /** The region a pointer's upper half names, or undefined (an unmapped address). */
  region(hi: number): Region | undefined {
    return this.regions[(hi - REGION_HI_BASE) | 0];
  }

  /**
   * Region for an access of `size` bytes at (hi, lo) by instruction `pc`, checked; throws EFAULT
   * otherwise. A ctx region is returned for its accessor to decide.
   */
  access(hi: number, lo: number, size: number, write: boolean, pc: number): Region {
    const r = this.regions[(hi - REGION_HI_BASE) | 0];
    const off = lo >>> 0;
    if (r === undefined || off + size > r.size || (write && !r.writable) || r.kind === 'map' || r.kind === 'func') {
      throw memoryFault(pc, write, size, hi, lo);
    }
    return r;
  }

  /** Copy `len` bytes starting at a pointer out of the address space (helpers taking ARG_PTR_TO_MEM). */
  bytes(hi: number, lo: number, len: number, what: string): Uint8Array {
    if (len === 0) return new Uint8Array(0);
    const r = this.regions[(hi - REGION_HI_BASE) | 0];
    const off = lo >>> 0;
    if (r === undefined || !r.plain || off + len > r.size) {
      throw new BpfError('EFAULT', `${what}: invalid access of ${len} bytes at ${formatPtr(hi, lo)}`);
    }
    return r.u8.subarray(off, off + len);
  }
}

export function memoryFault(pc: number, write: boolean, size: number, hi: number, lo: number): BpfError {
  return new BpfError('EFAULT', `insn ${pc}: invalid ${write ? 'write' : 'read'} of ${size} bytes at ${formatPtr(hi, lo)}`);
}

export function formatPtr(hi: number, lo: number): string {
  return `0x${(hi >>> 0).toString(16).padStart(8, '0')}${(lo >>> 0).toString(16).padStart(8, '0')}`;
}
