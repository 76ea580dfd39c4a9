// The soundness fuzzer's memory sanitizer: an ExecSanitizer (src/kernel/exec/context.ts) that holds
// every access of a checked interpreter run to what the verifier may allow an XDP program — the job
// KASAN does for the kernel's own code, applied to what a verified BPF program touches:
//
//   packet     inside [data_meta, data_end) of the current xdp_buff (net/core/filter.c: the verifier's
//              packet range is learnt against data_end; headroom and tailroom are in the same page but
//              never the program's to read)
//   stack      inside one live frame: the current function's 512 bytes below its r10, or a caller's
//              frame through a pointer it passed down; never across a frame boundary
//   map value  inside one element's value_size bytes, of an element the program was handed this run
//              (a lookup's result or the BPF_PSEUDO_MAP_VALUE element) — not its padding, not the
//              next element, not the hash table's element headers
//   ctx        xdp_is_valid_access(): aligned 4-byte loads of the xdp_md fields, no stores
//
// Helper calls are checked the same way from their prototypes: every ARG_PTR_TO_MAP_KEY/VALUE and
// ARG_PTR_TO_MEM (with the ARG_CONST_SIZE after it) must name bytes the program could access itself.
// A violation throws SanitizerViolation, which ends the run.

import { BPF_PROG_TYPE } from '../../../src/bpf/prog-types.js';
import { MAX_BPF_STACK } from '../../../src/bpf/opcodes.js';
import { ALU64, RES } from '../../../src/kernel/exec/alu.js';
import type { ExecContext, ExecSanitizer } from '../../../src/kernel/exec/context.js';
import { REGION_HI_BASE, formatPtr, type Region } from '../../../src/kernel/exec/memory.js';
import { func_proto } from '../../../src/kernel/helpers/index.js';
import type { BpfMap } from '../../../src/kernel/maps/map.js';
import { XDP_MD, type XdpBuff } from '../../../src/kernel/net/xdp.js';

export type ViolationKind = 'packet' | 'stack' | 'map_value' | 'ctx' | 'region' | 'helper_arg';

export class SanitizerViolation extends Error {
  constructor(
    readonly kind: ViolationKind,
    readonly pc: number,
    readonly detail: string,
  ) {
    super(`insn ${pc}: ${kind}: ${detail}`);
  }
}

/** The xdp_md loads xdp_is_valid_access() allows a program that is not a devmap program. */
const CTX_LOAD_OFFSETS = new Set<number>([XDP_MD.data, XDP_MD.data_end, XDP_MD.data_meta, XDP_MD.ingress_ifindex, XDP_MD.rx_queue_index]);

/** Where one map's elements' values are: how to find the value an offset falls in. */
export interface ValueLayout {
  readonly map: BpfMap;
  readonly valueSize: number;
}

export class XdpSanitizer implements ExecSanitizer {
  /** Map value elements handed to the program this run: map -> set of value offsets in map.mem. */
  private readonly handed = new Map<BpfMap, Set<number>>();
  /** Accesses checked in this sanitizer's life (a measure that the hooks ran at all). */
  checks = 0;

  constructor(
    private readonly buff: XdpBuff,
    /** Elements every run starts with: the BPF_PSEUDO_MAP_VALUE targets, by map. */
    private readonly directValues: ReadonlyMap<BpfMap, number>,
  ) {}

  /** A new run (a new packet): only the direct-value elements are handed out. */
  begin(): void {
    this.handed.clear();
    for (const [m, off] of this.directValues) this.handed.set(m, new Set([off]));
  }

  /** bpf_map_lookup_elem returned (r0hi, r0lo): the program may use that element now. */
  handOut(region: Region | undefined, off: number): void {
    if (region?.kind !== 'map_value') return;
    const map = region.object as BpfMap;
    let s = this.handed.get(map);
    if (s === undefined) this.handed.set(map, (s = new Set()));
    s.add(off);
  }

  access(x: ExecContext, hi: number, lo: number, off: number, size: number, write: boolean, pc: number, depth: number): void {
    // The address as the engines compute it: a 64-bit add of the sign-extended offset.
    ALU64.add(lo, hi, off, off >> 31);
    this.check(x, RES[1]!, RES[0]! >>> 0, size, write, pc, depth, 'access');
  }

  private check(x: ExecContext, hi: number, o: number, size: number, write: boolean, pc: number, depth: number, what: string): void {
    this.checks++;
    const r = x.env.mem.regions[(hi - REGION_HI_BASE) | 0];
    const desc = `${what} ${write ? 'write' : 'read'} of ${size} bytes at ${formatPtr(hi, o)}`;
    if (r === undefined) throw new SanitizerViolation('region', pc, `${desc}: no region there`);
    switch (r.kind) {
      case 'packet': {
        if (r !== this.buff.packet) throw new SanitizerViolation('packet', pc, `${desc}: not this run's packet`);
        const b = this.buff;
        const start = b.meta_unsupported ? b.data : b.data_meta;
        if (o < start || o + size > b.data_end) {
          throw new SanitizerViolation('packet', pc, `${desc}: frame offset ${o}..${o + size} outside [data_meta ${start}, data_end ${b.data_end}) (data ${b.data})`);
        }
        return;
      }
      case 'stack': {
        if (r !== x.stack) throw new SanitizerViolation('stack', pc, `${desc}: another CPU's stack`);
        const top = x.stackTop;
        const low = top - (depth + 1) * MAX_BPF_STACK;
        const frame = Math.floor((top - 1 - o) / MAX_BPF_STACK);
        const frameEnd = Math.floor((top - (o + size)) / MAX_BPF_STACK);
        if (o < low || o + size > top || frame !== frameEnd) {
          throw new SanitizerViolation('stack', pc, `${desc}: fp${o - (top - depth * MAX_BPF_STACK)} in frame ${depth} is outside the live frames or crosses one's edge`);
        }
        return;
      }
      case 'map_value': {
        const map = r.object as BpfMap;
        const s = this.handed.get(map);
        if (s !== undefined) {
          for (const base of s) if (o >= base && o + size <= base + map.value_size) return;
        }
        throw new SanitizerViolation('map_value', pc, `${desc}: map ${map.name || map.id} offset ${o} is not inside the ${map.value_size}-byte value of an element the program was given (${[...(s ?? [])].join(', ') || 'none'})`);
      }
      case 'ctx':
        if (what !== 'access') throw new SanitizerViolation('ctx', pc, `${desc}: the context passed as memory`);
        if (write || size !== 4 || !CTX_LOAD_OFFSETS.has(o)) throw new SanitizerViolation('ctx', pc, `${desc}: xdp_md offset ${o} is not a field the verifier permits this way`);
        return;
      default:
        throw new SanitizerViolation('region', pc, `${desc}: a ${r.kind} region`);
    }
  }

  call(x: ExecContext, id: number, pc: number, depth: number): void {
    const def = func_proto(BPF_PROG_TYPE.XDP, id);
    if (def === undefined) return; // the run will fail with "unknown func" on its own
    const args = def.proto.arg_type;
    const R = x.R;
    let map: BpfMap | undefined;
    for (let i = 0; i < args.length; i++) {
      const a = args[i]!;
      const n = i + 1;
      const hi = R[2 * n + 1]!, lo = R[2 * n]! >>> 0;
      switch (a.type) {
        case 'ARG_CONST_MAP_PTR': {
          const r = x.env.mem.regions[(hi - REGION_HI_BASE) | 0];
          map = r?.kind === 'map' ? (r.object as BpfMap) : undefined;
          break;
        }
        case 'ARG_PTR_TO_MAP_KEY':
        case 'ARG_PTR_TO_MAP_VALUE':
          if (map === undefined) throw new SanitizerViolation('helper_arg', pc, `${def.name}: r${n} is a map key/value without a map`);
          this.check(x, hi, lo, a.type === 'ARG_PTR_TO_MAP_KEY' ? map.key_size : map.value_size, false, pc, depth, `${def.name} r${n}`);
          break;
        case 'ARG_PTR_TO_MEM':
        case 'ARG_PTR_TO_UNINIT_MEM': {
          const sizeArg = args[i + 1];
          const len = sizeArg?.type === 'ARG_CONST_SIZE' || sizeArg?.type === 'ARG_CONST_SIZE_OR_ZERO' ? R[2 * (n + 1)]! >>> 0 : undefined;
          if (len === undefined) break; // fixed-size structs (fib params) are the helper's own business
          if (R[2 * (n + 1) + 1] !== 0) throw new SanitizerViolation('helper_arg', pc, `${def.name}: size r${n + 1} does not fit 32 bits`);
          if (a.flags.includes('PTR_MAYBE_NULL') && hi === 0 && lo === 0) break;
          if (len === 0) break;
          this.check(x, hi, lo, len, a.type === 'ARG_PTR_TO_UNINIT_MEM', pc, depth, `${def.name} r${n}`);
          break;
        }
        default:
          break;
      }
    }
  }
}
