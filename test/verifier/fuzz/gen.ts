// The soundness fuzzer's program generator: XDP programs that look like what people write (and the
// mistakes they make), so that a good share passes the verifier and what passes is worth running.
//
// A program is its main function — `r6 = r1`, a list of snippets, `r0 = ...; exit` — an `out:` block
// every failed check jumps to, and sometimes subprograms. The generator keeps a rough model of what
// each register holds (ctx, packet pointer with the bytes it believes were checked, data_end, map
// value, stack pointer, bounded scalar...) so that snippets pick sensible operands; at each decision
// a small chance of a mistake (an off-by-one bounds check, a missing NULL check, an access past the
// value, an unbounded offset, a stale packet pointer after bpf_xdp_adjust_head...) makes the program
// one the verifier must refuse. Which it does is the verifier's business: the runner then holds every
// accepted program's memory accesses to the rules (sanitizer.ts).
//
// Same seed, same program: the generator reads nothing but its Rng.

import type { Insn } from '../../../src/bpf/insn.js';
import { BPF_FUNC } from '../../../src/bpf/helpers.js';
import {
  BPF_ADD, BPF_ALU, BPF_ALU64, BPF_AND, BPF_ARSH, BPF_ATOMIC, BPF_B, BPF_DIV, BPF_DW, BPF_END, BPF_FETCH, BPF_H,
  BPF_JEQ, BPF_JGE, BPF_JGT, BPF_JLE, BPF_JLT, BPF_JMP, BPF_JMP32, BPF_JNE, BPF_JSET, BPF_JSGE, BPF_JSGT, BPF_JSLE,
  BPF_JSLT, BPF_K, BPF_LDX, BPF_LSH, BPF_MEM, BPF_MEMSX, BPF_MOD, BPF_MOV, BPF_MUL, BPF_NEG, BPF_OR,
  BPF_PSEUDO_MAP_IDX, BPF_PSEUDO_MAP_IDX_VALUE, BPF_RSH, BPF_ST, BPF_STX, BPF_SUB, BPF_TO_BE, BPF_W, BPF_X, BPF_XOR,
  MAX_BPF_STACK,
} from '../../../src/bpf/opcodes.js';
import { BPF_MAP_TYPE } from '../../../src/bpf/prog-types.js';
import { Rng } from '../kernel-diff.js';
import { Asm, link } from './asm.js';

export { Rng };

/** The maps every generated program may use, created once per fuzzing kernel in this order (fd_array). */
export interface MapSpec {
  readonly name: string;
  readonly type: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
}

export const FUZZ_MAPS: readonly MapSpec[] = [
  // value_size 12: 4 bytes of padding before the next element, so a run past the value is seen.
  { name: 'arr12', type: BPF_MAP_TYPE.ARRAY, keySize: 4, valueSize: 12, maxEntries: 4 },
  // hash values sit between element headers and keys.
  { name: 'hash20', type: BPF_MAP_TYPE.HASH, keySize: 8, valueSize: 20, maxEntries: 8 },
  // the single-element array that BPF_PSEUDO_MAP_VALUE needs.
  { name: 'one8', type: BPF_MAP_TYPE.ARRAY, keySize: 4, valueSize: 8, maxEntries: 1 },
  { name: 'arr64', type: BPF_MAP_TYPE.ARRAY, keySize: 4, valueSize: 64, maxEntries: 2 },
];
export const DIRECT_VALUE_MAP = 2;

/**
 * The fuzzing host's network (runner.ts): eth0 forwards and routes 192.168.0.0/16 through a resolved
 * gateway, so a bpf_fib_lookup of `dst` from `ifindex` succeeds and writes its results.
 */
export const FUZZ_NET = { ifindex: 2, dst: 0x0101a8c0 /* 192.168.1.1, network order read as a LE u32 */ } as const;

export interface GenProgram {
  readonly seed: number;
  readonly insns: Insn[];
  /** The snippets the main function was built from, for the report. */
  readonly snippets: readonly string[];
}

// ---------------------------------------------------------------------------------------------------
// The model

type Kind =
  | { readonly t: 'none' }
  | { readonly t: 'ctx' }
  /** data (or data_meta) + off, of packet pointer family `id`; `epoch` goes stale when the packet moves. */
  | { readonly t: 'pkt'; readonly id: number; readonly off: number; readonly epoch: number; readonly meta: boolean }
  | { readonly t: 'end'; readonly epoch: number }
  | { readonly t: 'mapnull'; readonly map: number }
  /** A map value pointer at `off`, plus a variable part believed to be at most `vmax`. */
  | { readonly t: 'mapval'; readonly map: number; readonly off: number; readonly vmax: number }
  /** A stack pointer at `off` of a frame whose usable bytes are [lo, hi) (own frame: [-512, 0)). */
  | { readonly t: 'fp'; readonly off: number; readonly lo: number; readonly hi: number }
  /** A scalar believed to be at most `max` (unsigned), or of unknown range. */
  | { readonly t: 'scalar'; readonly max: number | undefined };

const NONE: Kind = { t: 'none' };
const SCALAR: Kind = { t: 'scalar', max: undefined };

const SIZES = [1, 2, 4, 8] as const;
const SIZE_CODE: Record<number, number> = { 1: BPF_B, 2: BPF_H, 4: BPF_W, 8: BPF_DW };
const XDP_ACTIONS = [0, 1, 2, 3, 4];

/** One function being generated: its buffer and its model. */
class Func {
  readonly a = new Asm();
  readonly regs: Kind[] = Array.from({ length: 11 }, () => NONE);
  /** Spilled registers by 8-byte-aligned frame offset. */
  readonly spills = new Map<number, Kind>();
  /** Stack bytes written (frame offsets). */
  readonly init = new Set<number>();
  constructor(
    readonly name: string,
    readonly out: string,
    readonly depth: number,
  ) {
    this.regs[10] = { t: 'fp', off: 0, lo: -MAX_BPF_STACK, hi: 0 };
  }
}

export class Generator {
  private readonly rng: Rng;
  /** Per-program chance of a deliberate mistake at each decision point. */
  private readonly slip: number;
  private readonly funcs: Func[] = [];
  private f!: Func;
  private labelSeq = 0;
  private pktId = 0;
  private epoch = 0;
  /** Range believed checked, per packet pointer family. */
  private readonly range = new Map<number, number>();
  readonly snippets: string[] = [];

  constructor(readonly seed: number) {
    this.rng = new Rng(seed);
    this.slip = this.rng.pick([0.01, 0.04, 0.08, 0.15]);
  }

  // ------------------------------------------------------------------------------- small helpers

  private chance(p: number): boolean {
    return this.rng.chance(p);
  }

  private mistake(weight = 1): boolean {
    return this.rng.chance(this.slip * weight);
  }

  private int(lo: number, hi: number): number {
    return lo + this.rng.int(hi - lo + 1);
  }

  private pick<T>(xs: readonly T[]): T {
    return this.rng.pick(xs);
  }

  private fresh(what: string): string {
    return `${what}_${this.labelSeq++}`;
  }

  private regsOf(pred: (k: Kind, r: number) => boolean): number[] {
    const out: number[] = [];
    for (let r = 0; r <= 9; r++) if (pred(this.f.regs[r]!, r)) out.push(r);
    return out;
  }

  private find(pred: (k: Kind, r: number) => boolean): number | undefined {
    const rs = this.regsOf(pred);
    return rs.length === 0 ? undefined : this.pick(rs);
  }

  /** A register to write, not one of `keep`: r0-r5 mostly, r7-r9 for values that outlive a call. */
  private temp(keep: readonly number[], long = false): number {
    const pool = long ? [7, 8, 9] : [0, 2, 3, 4, 5, 7, 8, 9];
    const precious = (r: number): boolean => {
      const k = this.f.regs[r]!;
      return k.t === 'ctx' || (r >= 6 && k.t !== 'none' && !this.chance(0.3));
    };
    const free = pool.filter((r) => !keep.includes(r) && !precious(r));
    const any = pool.filter((r) => !keep.includes(r));
    return this.pick(free.length > 0 ? free : any);
  }

  private set(r: number, k: Kind): void {
    this.f.regs[r] = k;
  }

  private isPkt(k: Kind): k is Extract<Kind, { t: 'pkt' }> {
    return k.t === 'pkt' && k.epoch === this.epoch;
  }

  /** Bytes believed readable at a packet pointer. */
  private avail(k: Extract<Kind, { t: 'pkt' }>): number {
    return (this.range.get(k.id) ?? 0) - k.off;
  }

  private ctxReg(): number | undefined {
    return this.find((k) => k.t === 'ctx');
  }

  private callClobbers(changesPkt: boolean): void {
    for (let r = 1; r <= 5; r++) this.set(r, NONE);
    if (changesPkt) {
      this.epoch++;
      this.range.clear();
    }
  }

  // ------------------------------------------------------------------------------- instructions

  private ldx(size: number, dst: number, src: number, off: number, signed = false): void {
    this.f.a.i(BPF_LDX | (signed && size < 8 ? BPF_MEMSX : BPF_MEM) | SIZE_CODE[size]!, dst, src, off, 0);
  }

  private stx(size: number, dst: number, src: number, off: number): void {
    this.f.a.i(BPF_STX | BPF_MEM | SIZE_CODE[size]!, dst, src, off, 0);
  }

  private st(size: number, dst: number, off: number, imm: number): void {
    this.f.a.i(BPF_ST | BPF_MEM | SIZE_CODE[size]!, dst, 0, off, imm);
  }

  private alu(op: number, dst: number, srcOrImm: { reg: number } | { imm: number }, alu32 = false): void {
    const cls = alu32 ? BPF_ALU : BPF_ALU64;
    if ('reg' in srcOrImm) this.f.a.i(cls | op | BPF_X, dst, srcOrImm.reg, 0, 0);
    else this.f.a.i(cls | op | BPF_K, dst, 0, 0, srcOrImm.imm);
  }

  private jmpImm(op: number, dst: number, imm: number, target: string, jmp32 = false): void {
    this.f.a.jmp((jmp32 ? BPF_JMP32 : BPF_JMP) | op | BPF_K, dst, 0, imm, target);
  }

  private jmpReg(op: number, dst: number, src: number, target: string, jmp32 = false): void {
    this.f.a.jmp((jmp32 ? BPF_JMP32 : BPF_JMP) | op | BPF_X, dst, src, 0, target);
  }

  private mapLd(dst: number, map: number): void {
    this.f.a.lddw(dst, BPF_PSEUDO_MAP_IDX, map, 0);
    this.set(dst, NONE);
  }

  // ------------------------------------------------------------------------------- the program

  generate(): GenProgram {
    const main = new Func('main', 'out', 0);
    this.funcs.push(main);
    this.f = main;
    this.set(1, { t: 'ctx' });
    if (!this.mistake(0.3)) {
      main.a.mov(6, 1);
      this.set(6, { t: 'ctx' });
    }
    const n = this.int(2, 9);
    for (let i = 0; i < n; i++) this.snippet();
    this.epilogue();
    return { seed: this.seed, insns: link(this.funcs.map((f) => f.a)), snippets: this.snippets };
  }

  private epilogue(): void {
    const a = this.f.a;
    const s = this.find((k) => k.t === 'scalar');
    if (s !== undefined && this.chance(0.4)) {
      if (s !== 0) a.mov(0, s);
      this.alu(BPF_AND, 0, { imm: 3 });
    } else if (this.mistake(0.3)) {
      // r0 as whatever it holds: a pointer leak, or not initialised.
    } else {
      a.movImm(0, this.pick(XDP_ACTIONS));
    }
    a.exit();
    // The failure exit, where some check jumps (an unreferenced block would be unreachable code).
    if (a.entries.some((e) => 'target' in e && e.target === this.f.out)) {
      a.label(this.f.out);
      a.movImm(0, this.f.depth === 0 ? this.pick([1, 2]) : 0);
      a.exit();
    }
  }

  private readonly table: readonly [string, number, () => void][] = [
    ['pkt_ptrs', 6, () => this.loadPktPtrs()],
    ['pkt_check', 7, () => this.boundsCheck()],
    ['pkt_access', 7, () => this.pktAccess()],
    ['pkt_var', 6, () => this.varPkt()],
    ['alu', 6, () => this.aluChain()],
    ['scalar_ptr', 6, () => this.scalarAsOffset()],
    ['stack', 5, () => this.stackOps()],
    ['lookup', 6, () => this.mapLookup()],
    ['map_access', 6, () => this.mapAccess()],
    ['direct_value', 1, () => this.directValue()],
    ['loop', 3, () => this.loop()],
    ['call', 2, () => this.callSub()],
    ['helper', 5, () => this.helperCall()],
    ['ctx', 2, () => this.ctxAccess()],
    ['meta', 2, () => this.metaAccess()],
    ['ptr_misc', 1, () => this.ptrMisc()],
    ['spill_clobber', 2, () => this.spillClobber()],
    ['fib', 1, () => this.fibLookup()],
  ];

  private snippet(): void {
    const total = this.table.reduce((s, [, w]) => s + w, 0);
    let roll = this.rng.int(total);
    for (const [name, w, fn] of this.table) {
      roll -= w;
      if (roll < 0) {
        if (this.f.depth === 0) this.snippets.push(name);
        fn();
        return;
      }
    }
  }

  // ------------------------------------------------------------------------------- packet

  private loadPktPtrs(): void {
    const c = this.ctxReg();
    if (c === undefined) return;
    const p = this.temp([c], this.chance(0.6));
    const e = this.temp([c, p], this.chance(0.6));
    const bad = this.mistake();
    this.ldx(bad ? this.pick([2, 8]) : 4, p, c, 0);
    this.ldx(4, e, c, bad ? 4 : this.mistake(0.5) ? 8 : 4);
    this.set(p, { t: 'pkt', id: ++this.pktId, off: 0, epoch: this.epoch, meta: false });
    this.set(e, { t: 'end', epoch: this.epoch });
  }

  private pktAndEnd(): { p: number; e: number } | undefined {
    const p = this.find((k) => this.isPkt(k) && !k.meta) ?? (this.mistake() ? this.find((k) => k.t === 'pkt') : undefined);
    const e = this.find((k) => k.t === 'end' && (k.epoch === this.epoch || this.mistake()));
    if (p === undefined || e === undefined) {
      this.loadPktPtrs();
      const p2 = this.find((k) => this.isPkt(k) && !k.meta);
      const e2 = this.find((k) => k.t === 'end' && k.epoch === this.epoch);
      return p2 === undefined || e2 === undefined ? undefined : { p: p2, e: e2 };
    }
    return { p, e };
  }

  /**
   * `t = p + n; if t > data_end goto out` in one of its spellings (the eight compare forms, both
   * operand orders), or with a mistake: inverted, 32-bit, off by one.
   */
  private checkRange(p: number, e: number, n: number): void {
    const pk = this.f.regs[p]!;
    if (pk.t !== 'pkt') return;
    const a = this.f.a;
    const t = this.temp([p, e]);
    a.mov(t, p);
    if (n !== 0) this.alu(BPF_ADD, t, { imm: n });
    const out = this.f.out;
    const ok = this.fresh('ok');
    const jmp32 = this.mistake(0.3);
    const form = this.int(0, 7);
    const inverted = this.mistake(0.3);
    const [oFail, oPass] = inverted ? [ok, out] : [out, ok];
    switch (form) {
      case 0: this.jmpReg(BPF_JGT, t, e, oFail, jmp32); break;
      case 1: this.jmpReg(BPF_JLT, e, t, oFail, jmp32); break;
      case 2: this.jmpReg(BPF_JGE, t, e, oFail, jmp32); break; // stricter than needed
      case 3: this.jmpReg(BPF_JLE, e, t, oFail, jmp32); break;
      case 4: this.jmpReg(BPF_JLE, t, e, oPass, jmp32); a.ja(oFail); break;
      case 5: this.jmpReg(BPF_JGE, e, t, oPass, jmp32); a.ja(oFail); break;
      case 6: this.jmpReg(BPF_JLT, t, e, oPass, jmp32); a.ja(oFail); break;
      default: this.jmpReg(BPF_JGT, e, t, oPass, jmp32); a.ja(oFail); break;
    }
    a.label(ok);
    // What the author believes now: n bytes from p (sometimes one more than were checked).
    const believed = pk.off + n + (this.mistake() ? this.pick([1, 2, 4]) : 0);
    this.range.set(pk.id, Math.max(this.range.get(pk.id) ?? 0, believed));
    this.set(t, { ...pk, off: pk.off + n });
  }

  private boundsCheck(): void {
    const pe = this.pktAndEnd();
    if (pe === undefined) return;
    const n = this.pick([1, 2, 4, 8, 14, 20, 34, 42, 54, 60, 64, 100, 200, this.int(1, 1600)]);
    this.checkRange(pe.p, pe.e, n);
  }

  /** A load, store or atomic through a pointer register at a constant offset of `size` bytes. */
  private memOp(ptr: number, off: number, size: number, keep: readonly number[]): void {
    const a = this.f.a;
    const what = this.rng.int(10);
    if (what < 5) {
      const d = this.temp([ptr, ...keep]);
      const signed = this.chance(0.1);
      this.ldx(size, d, ptr, off, signed);
      this.set(d, { t: 'scalar', max: signed || size === 8 ? undefined : 2 ** (8 * size) - 1 });
    } else if (what < 7) {
      this.st(size, ptr, off, this.rng.int(7) === 0 ? -1 : this.int(0, 300));
    } else if (what < 9) {
      const s = this.find((k) => k.t === 'scalar') ?? (this.mistake() ? this.find((k) => k.t !== 'none') : undefined);
      if (s === undefined) this.st(size, ptr, off, 7);
      else this.stx(size, ptr, s, off);
    } else if (!this.isPkt(this.f.regs[ptr]!) || this.mistake()) {
      const s = this.find((k) => k.t === 'scalar');
      const src = s ?? this.temp([ptr, ...keep]);
      if (s === undefined) {
        a.movImm(src, 1);
        this.set(src, { t: 'scalar', max: 1 });
      }
      const asize = size === 4 || size === 8 ? size : this.pick([4, 8]);
      const op = this.pick([BPF_ADD, BPF_ADD | BPF_FETCH, BPF_OR, BPF_XOR | BPF_FETCH, 0xe1 /* xchg */]);
      a.i(BPF_STX | BPF_ATOMIC | SIZE_CODE[asize]!, ptr, src, off, op);
      if ((op & BPF_FETCH) !== 0) this.set(src, SCALAR);
    } else {
      this.st(size, ptr, off, 0);
    }
  }

  private pktAccess(): void {
    let p = this.find((k) => this.isPkt(k) && this.avail(k) > 0) ?? (this.mistake() ? this.find((k) => k.t === 'pkt') : undefined);
    if (p === undefined) {
      this.boundsCheck();
      p = this.find((k) => this.isPkt(k) && this.avail(k) > 0);
      if (p === undefined) return;
    }
    const k = this.f.regs[p]!;
    const avail = k.t === 'pkt' ? this.avail(k) : 0;
    const count = this.int(1, 3);
    for (let i = 0; i < count; i++) {
      const fits = SIZES.filter((s) => s <= avail);
      const size = fits.length > 0 && !this.mistake() ? this.pick(fits) : this.pick(SIZES);
      let off = this.int(0, Math.max(0, avail - size));
      if (this.mistake()) off = this.pick([avail - size + 1, avail, -1, -size, avail + 4]);
      this.memOp(p, off, size, []);
    }
  }

  /** A scalar from the packet (or elsewhere) bounded one way or another, then used as an offset. */
  private boundedScalar(keep: readonly number[], limit: number): number | undefined {
    const a = this.f.a;
    let v: number;
    const src = this.find((k) => this.isPkt(k) && this.avail(k) >= 4);
    const choice = this.rng.int(5);
    if (src !== undefined && choice < 3) {
      v = this.temp([src, ...keep]);
      const size = this.pick([1, 2, 4]);
      this.ldx(size, v, src, 0);
    } else if (choice === 3) {
      const m = this.find((k) => k.t === 'mapval' && k.vmax === 0 && FUZZ_MAPS[k.map]!.valueSize - k.off >= 8);
      if (m === undefined) return this.find((k) => k.t === 'scalar' && !keep.includes(0));
      v = this.temp([m, ...keep]);
      this.ldx(this.pick([1, 4, 8]), v, m, 0);
    } else {
      // bpf_get_prandom_u32 clobbers r1-r5: only when nothing kept lives there.
      if (keep.some((r) => r <= 5) || this.f.regs.slice(1, 6).some((k) => k.t !== 'none' && k.t !== 'scalar')) return undefined;
      a.call(BPF_FUNC['get_prandom_u32']!);
      this.callClobbers(false);
      v = this.temp([0, ...keep], true);
      a.mov(v, 0);
    }
    // The bound: a mask, a shift, a compare (unsigned, signed, 32-bit), or (a mistake) none.
    const bound = this.mistake(2) ? -1 : this.rng.int(7);
    let max: number | undefined = limit;
    const p2 = 2 ** Math.max(0, Math.floor(Math.log2(Math.max(1, limit + 1))));
    switch (bound) {
      case 0: this.alu(BPF_AND, v, { imm: p2 - 1 }); max = p2 - 1; break;
      case 1: this.alu(BPF_AND, v, { imm: p2 - 1 }, true); max = p2 - 1; break;
      case 2: this.jmpImm(BPF_JGT, v, limit, this.f.out); break;
      case 3: this.jmpImm(BPF_JGE, v, limit + 1, this.f.out); break;
      case 4: this.jmpImm(BPF_JGT, v, limit, this.f.out, true); break; // the upper half is unchecked
      case 5: {
        // signed compare only: a value with the sign bit set passes
        this.jmpImm(BPF_JSGT, v, limit, this.f.out);
        if (!this.mistake(3)) this.jmpImm(BPF_JSLT, v, 0, this.f.out);
        break;
      }
      case 6: {
        this.alu(BPF_RSH, v, { imm: this.int(1, 8) });
        this.alu(BPF_AND, v, { imm: p2 - 1 });
        max = p2 - 1;
        break;
      }
      default: max = undefined;
    }
    if (this.mistake()) {
      // arithmetic after the check that the author forgets about
      this.alu(this.pick([BPF_ADD, BPF_SUB, BPF_LSH]), v, { imm: this.pick([1, 2, 3, 8]) }, this.chance(0.5));
      max = undefined;
    }
    this.set(v, { t: 'scalar', max });
    return v;
  }

  private varPkt(): void {
    const pe = this.pktAndEnd();
    if (pe === undefined) return;
    let { p, e } = pe;
    const pk = this.f.regs[p]!;
    if (pk.t !== 'pkt') return;
    if (this.avail(pk) < 4) {
      this.checkRange(p, e, this.pick([4, 8, 14, 34]));
      p = this.find((k) => this.isPkt(k) && this.avail(k) >= 4) ?? p;
    }
    const limit = this.pick([7, 15, 31, 63, 255, 1023, 1500]);
    const v = this.boundedScalar([p, e], limit);
    if (v === undefined) return;
    e = this.find((k) => k.t === 'end' && k.epoch === this.epoch) ?? e;
    p = this.find((k) => this.isPkt(k) && !k.meta) ?? p;
    const q = this.temp([p, e, v]);
    const a = this.f.a;
    const m = this.pick([1, 2, 4, 8, 14]);
    const checkFirst = this.mistake();
    if (checkFirst) this.checkRange(p, e, m);
    if (this.chance(0.5)) {
      a.mov(q, p);
      this.alu(BPF_ADD, q, { reg: v });
    } else {
      a.mov(q, v);
      this.alu(BPF_ADD, q, { reg: p });
    }
    const base = this.f.regs[p]!;
    this.set(q, { t: 'pkt', id: ++this.pktId, off: 0, epoch: this.epoch, meta: base.t === 'pkt' && base.meta });
    if (!checkFirst) this.checkRange(q, e, m);
    const size = this.pick(SIZES.filter((s) => s <= m));
    const off = this.mistake() ? m - size + 1 : this.int(0, m - size);
    this.memOp(q, off, size, [e]);
  }

  // ------------------------------------------------------------------------------- scalars

  private aluChain(): void {
    const a = this.f.a;
    let regs = this.regsOf((k) => k.t === 'scalar');
    if (regs.length === 0 || this.chance(0.3)) {
      const r = this.temp([]);
      if (this.chance(0.5)) {
        a.movImm(r, this.int(-5, 300));
        this.set(r, { t: 'scalar', max: undefined });
      } else {
        const c = this.ctxReg();
        if (c === undefined) return;
        this.ldx(4, r, c, this.pick([12, 16]));
        this.set(r, SCALAR);
      }
      regs = [r];
    }
    const ops = [BPF_ADD, BPF_SUB, BPF_MUL, BPF_DIV, BPF_OR, BPF_AND, BPF_LSH, BPF_RSH, BPF_NEG, BPF_MOD, BPF_XOR, BPF_MOV, BPF_ARSH, BPF_END];
    const n = this.int(2, 7);
    let skip: string | undefined;
    let skipIn = 0;
    for (let i = 0; i < n; i++) {
      const d = this.pick(regs);
      const alu32 = this.chance(0.4);
      const op = this.chance(0.3) ? this.pick([BPF_AND, BPF_ADD, BPF_RSH]) : this.pick(ops);
      if (op === BPF_NEG) this.alu(BPF_NEG, d, { imm: 0 }, alu32);
      else if (op === BPF_END) a.i(BPF_ALU | BPF_END | BPF_TO_BE, d, 0, 0, this.pick([16, 32, 64]));
      else if (op === BPF_MOV && this.chance(0.5)) {
        // a 32-bit or sign-extending register copy (movsx: off 8/16/32)
        const s = this.pick(regs);
        a.i((alu32 ? BPF_ALU : BPF_ALU64) | BPF_MOV | BPF_X, d, s, this.chance(0.3) ? this.pick(alu32 ? [8, 16] : [8, 16, 32]) : 0, 0);
      } else if (this.chance(0.3) && regs.length > 1) {
        this.alu(op, d, { reg: this.pick(regs) }, alu32);
      } else {
        const imm = op === BPF_LSH || op === BPF_RSH || op === BPF_ARSH
          ? (this.mistake() ? this.pick([64, 32, -1]) : this.int(0, alu32 ? 31 : 63))
          : op === BPF_DIV || op === BPF_MOD ? (this.mistake() ? 0 : this.int(1, 17)) : this.pick([0, 1, 3, 7, 8, 0xff, 0xffff, -1, -8, 0x7fffffff, this.int(0, 100)]);
        this.alu(op, d, { imm }, alu32);
      }
      if (skip === undefined && this.chance(0.3)) {
        skip = this.fresh('skip');
        skipIn = this.int(1, 3);
        const jop = this.pick([BPF_JEQ, BPF_JNE, BPF_JGT, BPF_JGE, BPF_JLT, BPF_JLE, BPF_JSGT, BPF_JSGE, BPF_JSLT, BPF_JSLE, BPF_JSET]);
        if (regs.length > 1 && this.chance(0.3)) this.jmpReg(jop, d, this.pick(regs), skip, this.chance(0.3));
        else this.jmpImm(jop, d, this.pick([0, 1, 8, 16, 255, -1, 0x10000, this.int(0, 64)]), skip, this.chance(0.3));
      } else if (skip !== undefined && --skipIn === 0) {
        a.label(skip);
        skip = undefined;
      }
    }
    if (skip !== undefined) a.label(skip);
    for (const r of regs) this.set(r, SCALAR);
    // Sometimes the chain ends in a bound the author relies on.
    const d = this.pick(regs);
    if (this.chance(0.5)) {
      const k = this.pick([3, 7, 12, 15, 60, 63, 255]);
      if (this.chance(0.5)) {
        this.alu(BPF_AND, d, { imm: k }, this.chance(0.3));
        this.set(d, { t: 'scalar', max: k });
      } else {
        const jop = this.pick([BPF_JGT, BPF_JGE, BPF_JSGT]);
        this.jmpImm(jop, d, k, this.f.out, this.chance(0.2));
        this.set(d, { t: 'scalar', max: k });
      }
    }
  }

  /** A scalar added to a map value, packet or stack pointer and then dereferenced. */
  private scalarAsOffset(): void {
    const targets = this.regsOf((k) => (k.t === 'mapval' && k.vmax === 0) || k.t === 'fp' || (this.isPkt(k) && this.avail(k) > 0));
    if (targets.length === 0) {
      this.mapLookup();
      return;
    }
    const ptr = this.pick(targets);
    const k = this.f.regs[ptr]!;
    let room: number;
    if (k.t === 'mapval') room = FUZZ_MAPS[k.map]!.valueSize - k.off;
    else if (k.t === 'fp') room = Math.min(64, k.hi - k.off);
    else if (k.t === 'pkt') room = this.avail(k);
    else return;
    if (room <= 0) return;
    const s = this.find((x) => x.t === 'scalar' && x.max !== undefined && x.max < room) ?? this.boundedScalar([ptr], Math.max(0, room - 1));
    if (s === undefined) return;
    const q = this.temp([ptr, s]);
    const a = this.f.a;
    if (k.t === 'fp' && !this.chance(0.5)) {
      // variable stack offsets go downwards from a fixed base
      a.mov(q, ptr);
      this.alu(BPF_ADD, q, { imm: -Math.min(64, -k.lo + k.off) });
      this.alu(BPF_ADD, q, { reg: s });
    } else {
      a.mov(q, ptr);
      this.alu(BPF_ADD, q, { reg: s });
    }
    const sk = this.f.regs[s]!;
    const vmax = sk.t === 'scalar' ? sk.max ?? room : room;
    if (k.t === 'mapval') this.set(q, { ...k, vmax });
    else this.set(q, NONE);
    if (k.t === 'pkt') {
      // a packet pointer with a new variable part needs a new check
      const e = this.find((x) => x.t === 'end' && x.epoch === this.epoch);
      this.set(q, { t: 'pkt', id: ++this.pktId, off: 0, epoch: this.epoch, meta: k.meta });
      if (e !== undefined && !this.mistake()) this.checkRange(q, e, this.pick([1, 2, 4]));
    }
    const size = this.pick(SIZES);
    const left = k.t === 'mapval' ? room - vmax : 8;
    const off = this.mistake() ? Math.max(0, left - size + 1) : Math.max(0, this.int(0, Math.max(0, left - size)));
    this.memOp(q, k.t === 'fp' && this.chance(0.5) ? -off - size : off, size, [ptr]);
  }

  // ------------------------------------------------------------------------------- stack

  private stackSlot(size: number): number {
    let off = -size * this.int(1, Math.floor(128 / size));
    if (this.mistake()) off = this.pick([-MAX_BPF_STACK - size, 0, -MAX_BPF_STACK - 1, -size + 1, 8, -4 - (size === 8 ? 0 : 0)]);
    return off;
  }

  private stackOps(): void {
    const a = this.f.a;
    const n = this.int(1, 4);
    for (let i = 0; i < n; i++) {
      switch (this.rng.int(6)) {
        case 0: {
          const size = this.pick(SIZES);
          const off = this.stackSlot(size);
          this.st(size, 10, off, this.int(-2, 1000));
          for (let b = off; b < off + size; b++) this.f.init.add(b);
          break;
        }
        case 1: {
          const size = this.pick(SIZES);
          const written = [...this.f.init].filter((o) => o % size === 0 && o + size <= 0);
          const off = written.length > 0 && !this.mistake(2) ? this.pick(written) : this.stackSlot(size);
          const d = this.temp([]);
          this.ldx(size, d, 10, off);
          this.set(d, { t: 'scalar', max: size === 8 ? undefined : 2 ** (8 * size) - 1 });
          break;
        }
        case 2: case 3: {
          // spill a pointer (or scalar) and fill it back, maybe after clobbering part of the slot
          const src = this.find((k) => k.t !== 'none' && k.t !== 'fp') ?? this.find((k) => k.t !== 'none');
          if (src === undefined) break;
          const off = -8 * this.int(1, 16);
          this.stx(8, 10, src, off);
          this.f.spills.set(off, this.f.regs[src]!);
          for (let b = off; b < off + 8; b++) this.f.init.add(b);
          if (this.mistake()) {
            this.st(this.pick([1, 4]), 10, off + this.pick([0, 4]), 0);
            this.f.spills.set(off, SCALAR);
          }
          const d = this.temp([src], this.chance(0.5));
          if (this.mistake(0.5)) {
            this.ldx(4, d, 10, off); // a partial fill of a spilled pointer
            this.set(d, SCALAR);
          } else {
            this.ldx(8, d, 10, off);
            this.set(d, this.f.spills.get(off)!);
          }
          break;
        }
        case 4: {
          const d = this.temp([]);
          a.mov(d, 10);
          const off = -8 * this.int(1, 32);
          this.alu(BPF_ADD, d, { imm: off });
          const fp = this.f.regs[10]!;
          this.set(d, fp.t === 'fp' ? { ...fp, off } : NONE);
          const size = this.pick(SIZES);
          this.memOp(d, this.mistake() ? -off : this.pick([0, -size, 8 - size].filter((o) => off + o >= -MAX_BPF_STACK && off + o + size <= 0)), size, []);
          break;
        }
        default: {
          // a stack pointer passed down to us, or our own: read a byte inside what we know
          const p = this.find((k) => k.t === 'fp' && k.hi - k.off > 0);
          if (p === undefined) break;
          const k = this.f.regs[p]!;
          if (k.t !== 'fp') break;
          const size = this.pick(SIZES.filter((s) => s <= k.hi - k.off));
          const room = Math.min(k.hi - k.off - size, 64);
          const off = this.mistake() ? k.hi - k.off - size + this.pick([1, 8]) : -this.int(0, Math.min(64, k.off - k.lo)) + Math.max(0, Math.min(room, 0));
          this.memOp(p, Math.min(off, k.hi - k.off - size + (this.mistake() ? 4 : 0)), size, []);
        }
      }
    }
  }

  /**
   * A pointer spilled to an aligned slot, then part of the slot overwritten by a store that is not
   * (a misaligned wider store from the slot below, or a narrow one inside), then filled and used.
   */
  private spillClobber(): void {
    const src = this.find((k) => k.t === 'mapval' || this.isPkt(k) || k.t === 'fp' || k.t === 'ctx');
    if (src === undefined) {
      this.mapLookup();
      return;
    }
    const slot = -8 * this.int(2, 8);
    this.stx(8, 10, src, slot);
    const s = this.find((k) => k.t === 'scalar');
    const size = this.pick([2, 4, 8]);
    // Overlap the slot's low bytes from below (misaligned), or write inside it.
    const off = this.chance(0.6) ? slot - size + this.pick([1, 2, 4].filter((d) => d < size) .concat([1])) : slot + this.pick([0, 1, 2, 4]);
    if (s !== undefined && this.chance(0.5)) this.stx(size, 10, s, off);
    else this.st(size, 10, off, this.pick([64, 0x1000, -1, 4096 * 16]));
    const d = this.temp([src], true);
    this.ldx(8, d, 10, slot);
    this.set(d, this.f.regs[src]!);
    this.memOp(d, 0, this.pick([1, 4]), []);
  }

  /**
   * bpf_fib_lookup(ctx, params, 64, flags) with struct bpf_fib_lookup on the stack; the helper writes
   * its results (ifindex, rt_metric, smac, dmac...) there, over whatever was spilled in those bytes.
   */
  private fibLookup(): void {
    const a = this.f.a;
    const c = this.ctxReg();
    if (c === undefined) return;
    const base = -64 - 8 * this.int(0, 4);
    for (let i = 0; i < 64; i += 8) this.st(8, 10, base + i, 0);
    this.st(1, 10, base, 2); // family AF_INET
    this.st(4, 10, base + 8, this.chance(0.8) ? FUZZ_NET.ifindex : 1);
    this.st(4, 10, base + 32, this.chance(0.8) ? FUZZ_NET.dst : 0x0100007f);
    for (let b = base; b < base + 64; b++) this.f.init.add(b);
    // Sometimes a pointer sits in the output part of the struct while the helper runs.
    const ptr = this.find((k) => k.t === 'mapval' || this.isPkt(k) || k.t === 'ctx');
    const spill = ptr !== undefined && this.chance(0.6) ? base + this.pick([8, 48, 56]) : undefined;
    if (spill !== undefined && ptr !== undefined) {
      this.stx(8, 10, ptr, spill);
      this.f.spills.set(spill, this.f.regs[ptr]!);
    }
    const keep = spill !== undefined && ptr !== undefined ? this.f.regs[ptr]! : NONE;
    if (c !== 1) a.mov(1, c);
    a.mov(2, 10);
    this.alu(BPF_ADD, 2, { imm: base });
    a.movImm(3, this.mistake() ? 72 : 64);
    a.movImm(4, this.pick([0, 0, 1 /* DIRECT */, 4 /* SKIP_NEIGH */]));
    a.call(BPF_FUNC['fib_lookup']!);
    this.callClobbers(false);
    this.set(0, SCALAR);
    if (spill !== undefined) {
      const d = this.temp([0], true);
      this.ldx(8, d, 10, spill);
      this.set(d, keep);
      this.memOp(d, 0, 1, []);
    }
  }

  // ------------------------------------------------------------------------------- maps

  private mapLookup(): void {
    // r1-r5 are clobbered by the call: anything precious there is lost (the model forgets it).
    const a = this.f.a;
    const map = this.pick([0, 0, 1, 1, 2, 3]);
    const spec = FUZZ_MAPS[map]!;
    const ks = spec.keySize;
    const koff = -ks * this.int(1, 4);
    const key = spec.type === BPF_MAP_TYPE.HASH ? this.int(0, 9) : this.int(0, spec.maxEntries + (this.chance(0.2) ? 2 : 0));
    if (!this.mistake(0.5)) {
      this.st(ks, 10, koff, key);
      for (let b = koff; b < koff + ks; b++) this.f.init.add(b);
    }
    this.mapLd(1, map);
    a.mov(2, 10);
    this.alu(BPF_ADD, 2, { imm: this.mistake(0.5) ? koff + this.pick([2, 4, -8]) : koff });
    a.call(BPF_FUNC['map_lookup_elem']!);
    this.callClobbers(false);
    const keepNull = this.mistake(1.5);
    const dst = this.temp([0], true);
    if (!keepNull) {
      if (this.chance(0.6)) {
        this.jmpImm(BPF_JEQ, 0, 0, this.f.out);
      } else {
        const ok = this.fresh('found');
        this.jmpImm(BPF_JNE, 0, 0, ok);
        a.ja(this.f.out);
        a.label(ok);
      }
    }
    if (this.chance(0.7)) {
      a.mov(dst, 0);
      this.set(dst, keepNull ? { t: 'mapnull', map } : { t: 'mapval', map, off: 0, vmax: 0 });
    }
    this.set(0, keepNull ? { t: 'mapnull', map } : { t: 'mapval', map, off: 0, vmax: 0 });
    if (keepNull && this.chance(0.5)) {
      // the NULL check after the use, or on a copy
      this.memOp(dst, 0, 4, []);
    }
  }

  private mapAccess(): void {
    const v = this.find((k) => k.t === 'mapval') ?? (this.mistake() ? this.find((k) => k.t === 'mapnull') : undefined);
    if (v === undefined) {
      this.mapLookup();
      return;
    }
    const k = this.f.regs[v]!;
    const vs = k.t === 'mapval' || k.t === 'mapnull' ? FUZZ_MAPS[k.map]!.valueSize : 8;
    const koff = k.t === 'mapval' ? k.off : 0;
    const vmax = k.t === 'mapval' ? k.vmax : 0;
    const n = this.int(1, 3);
    for (let i = 0; i < n; i++) {
      const room = vs - koff - vmax;
      const fits = SIZES.filter((s) => s <= room);
      const size = fits.length > 0 && !this.mistake() ? this.pick(fits) : this.pick(SIZES);
      let off = this.int(0, Math.max(0, room - size));
      if (this.mistake()) off = this.pick([room - size + 1, room, -1, -koff - 1, vs]);
      this.memOp(v, off, size, []);
    }
  }

  private directValue(): void {
    const d = this.temp([], this.chance(0.5));
    const vs = FUZZ_MAPS[DIRECT_VALUE_MAP]!.valueSize;
    const off = this.mistake() ? this.pick([vs, vs + 4, -4]) : this.int(0, vs - 1);
    this.f.a.lddw(d, BPF_PSEUDO_MAP_IDX_VALUE, DIRECT_VALUE_MAP, off);
    this.set(d, { t: 'mapval', map: DIRECT_VALUE_MAP, off, vmax: 0 });
  }

  // ------------------------------------------------------------------------------- control flow

  private loop(): void {
    const a = this.f.a;
    const i = this.temp([], true);
    const acc = this.temp([i]);
    const head = this.fresh('loop');
    const k = this.int(1, 12);
    // Never a step of 0: the kernel refuses an endless loop only after a million processed
    // instructions, and a run without a watchdog cannot afford a verifier that takes long over one.
    const step = this.pick([1, 1, 2]);
    a.movImm(i, 0);
    a.movImm(acc, 0);
    a.label(head);
    this.set(i, { t: 'scalar', max: k });
    this.set(acc, SCALAR);
    const v = this.find((x) => x.t === 'mapval' && x.vmax === 0);
    const p = this.find((x) => this.isPkt(x) && this.avail(x) > 0);
    const body = this.rng.int(3);
    if (body === 0 && v !== undefined) {
      const t = this.temp([i, acc, v]);
      a.mov(t, v);
      this.alu(BPF_ADD, t, { reg: i });
      this.ldx(1, t, t, 0);
      this.alu(BPF_ADD, acc, { reg: t });
      this.set(t, SCALAR);
    } else if (body === 1 && p !== undefined) {
      const e = this.find((x) => x.t === 'end' && x.epoch === this.epoch);
      if (e !== undefined) {
        const t = this.temp([i, acc, p, e]);
        a.mov(t, p);
        this.alu(BPF_ADD, t, { reg: i });
        this.alu(BPF_ADD, t, { imm: 1 });
        this.jmpReg(BPF_JGT, t, e, this.f.out);
        this.ldx(1, t, t, -1);
        this.alu(BPF_XOR, acc, { reg: t });
        this.set(t, SCALAR);
      }
    } else {
      this.alu(this.pick([BPF_ADD, BPF_XOR, BPF_MUL]), acc, { reg: i });
      this.alu(BPF_RSH, acc, { imm: 1 }, this.chance(0.5));
    }
    this.alu(BPF_ADD, i, { imm: step }, this.chance(0.3));
    const form = this.rng.int(4);
    if (form === 0) this.jmpImm(BPF_JLT, i, k, head);
    else if (form === 1) this.jmpImm(BPF_JLE, i, k - 1, head, true);
    else if (form === 2) this.jmpImm(BPF_JNE, i, step === 2 ? k * 2 : k, head);
    else this.jmpImm(BPF_JSLT, i, k, head);
    this.set(i, { t: 'scalar', max: 2 * k });
    this.set(acc, SCALAR);
  }

  /** A bpf-to-bpf call with arguments of every kind; the callee is generated now and laid out later. */
  private callSub(): void {
    if (this.f.depth >= 2 || this.funcs.length >= 4) return;
    const a = this.f.a;
    const args: Kind[] = [NONE, NONE, NONE, NONE, NONE, NONE];
    // r1 = ctx, r2 = 16 initialised stack bytes, r3 = a map value or scalar, r4 = packet, r5 = scalar
    const c = this.ctxReg();
    if (c !== undefined && c !== 1) a.mov(1, c);
    if (c !== undefined) args[1] = { t: 'ctx' };
    const own = this.f.regs[10]!;
    if (own.t === 'fp') {
      const base = -16 * this.int(1, 4);
      if (!this.mistake()) {
        this.st(8, 10, base, 0);
        this.st(8, 10, base + 8, this.int(0, 99));
      }
      a.mov(2, 10);
      this.alu(BPF_ADD, 2, { imm: base });
      args[2] = { t: 'fp', off: base, lo: base, hi: base + 16 };
    }
    const v = this.find((k) => k.t === 'mapval' && k.vmax === 0);
    if (v !== undefined && v !== 3) {
      a.mov(3, v);
      args[3] = this.f.regs[v]!;
    } else if (v === 3) args[3] = this.f.regs[3]!;
    const p = this.find((k) => this.isPkt(k) && this.avail(k) > 0);
    if (p !== undefined && p !== 4) a.mov(4, p);
    if (p !== undefined) args[4] = this.f.regs[p]!;
    a.movImm(5, this.int(0, 40));
    args[5] = { t: 'scalar', max: 40 };

    const name = this.fresh('sub');
    const callee = new Func(name, `${name}_out`, this.f.depth + 1);
    for (let r = 1; r <= 5; r++) callee.regs[r] = args[r]!;
    const caller = this.f;
    this.funcs.push(callee);
    this.f = callee;
    callee.a.label(name);
    // The callee's model of packet ranges is the caller's (same path); helpers it calls may move the packet.
    const n = this.int(1, 4);
    for (let i = 0; i < n; i++) this.snippet();
    this.epilogue();
    this.f = caller;
    a.callLocal(name);
    this.callClobbers(false);
    this.set(0, SCALAR);
  }

  // ------------------------------------------------------------------------------- helpers

  private helperCall(): void {
    const a = this.f.a;
    const c = this.ctxReg();
    switch (this.rng.int(9)) {
      case 0: {
        const id = this.pick([BPF_FUNC['get_prandom_u32']!, BPF_FUNC['ktime_get_ns']!, BPF_FUNC['get_smp_processor_id']!]);
        a.call(id);
        this.callClobbers(false);
        this.set(0, SCALAR);
        const d = this.temp([0], true);
        a.mov(d, 0);
        this.set(d, SCALAR);
        return;
      }
      case 1: case 2: {
        // bpf_xdp_adjust_head / _meta / _tail: every packet pointer is stale afterwards
        if (c === undefined) return;
        const id = this.pick([BPF_FUNC['xdp_adjust_head']!, BPF_FUNC['xdp_adjust_meta']!, BPF_FUNC['xdp_adjust_tail']!]);
        if (c !== 1) a.mov(1, c);
        a.movImm(2, this.pick([-4, -8, -14, -32, 4, 8, 14, 20, 100, -100, -400, 0]));
        a.call(id);
        this.callClobbers(true);
        this.set(0, SCALAR);
        if (this.chance(0.5)) this.jmpImm(BPF_JNE, 0, 0, this.f.out);
        if (this.mistake(3)) {
          // use a pointer from before the call
          const old = this.find((k) => k.t === 'pkt');
          if (old !== undefined) this.memOp(old, 0, 1, []);
        }
        return;
      }
      case 3: {
        // bpf_csum_diff(from, from_size, to, to_size, seed)
        const src = this.memArg([], 4);
        if (src === undefined) return;
        if (src.reg !== 1) a.mov(1, src.reg);
        a.movImm(2, src.len);
        if (this.chance(0.5)) {
          a.movImm(3, 0);
          a.movImm(4, 0);
        } else {
          if (src.reg !== 3) a.mov(3, src.reg);
          a.movImm(4, this.mistake() ? src.len + 4 : src.len);
        }
        a.movImm(5, this.int(0, 0xffff));
        a.call(BPF_FUNC['csum_diff']!);
        this.callClobbers(false);
        this.set(0, SCALAR);
        return;
      }
      case 4: case 5: {
        // bpf_xdp_load_bytes / store_bytes(ctx, offset, buf, len)
        if (c === undefined) return;
        const store = this.chance(0.4);
        const len = this.pick([1, 2, 4, 8, 14, 16, 32]);
        const off = -len - 8 * this.int(0, 8);
        if (store && !this.mistake()) this.fillStack(off, len);
        if (c !== 1) a.mov(1, c);
        a.movImm(2, this.pick([0, 1, 6, 12, 14, 60, 1000]));
        a.mov(3, 10);
        this.alu(BPF_ADD, 3, { imm: off });
        a.movImm(4, this.mistake() ? len + 8 : len);
        a.call(BPF_FUNC[store ? 'xdp_store_bytes' : 'xdp_load_bytes']!);
        this.callClobbers(false);
        this.set(0, SCALAR);
        if (!store) for (let b = off; b < off + len; b++) this.f.init.add(b);
        return;
      }
      case 6: {
        // bpf_map_update_elem(map, key, value, flags) with key and value on the stack
        const map = this.pick([0, 1, 3]);
        const spec = FUZZ_MAPS[map]!;
        const koff = -8;
        const voff = -8 - Math.ceil(spec.valueSize / 8) * 8;
        this.st(spec.keySize, 10, koff, this.int(0, spec.maxEntries + 1));
        if (!this.mistake()) for (let i = 0; i < spec.valueSize; i += 4) this.st(4, 10, voff + i, this.int(0, 1000));
        this.mapLd(1, map);
        a.mov(2, 10);
        this.alu(BPF_ADD, 2, { imm: koff });
        const v = this.find((k) => k.t === 'mapval' && k.vmax === 0 && k.map === map && k.off === 0);
        if (v !== undefined && this.chance(0.4)) a.mov(3, v);
        else {
          a.mov(3, 10);
          this.alu(BPF_ADD, 3, { imm: this.mistake() ? voff + 8 : voff });
        }
        a.movImm(4, this.pick([0, 0, 1, 2]));
        a.call(BPF_FUNC['map_update_elem']!);
        this.callClobbers(false);
        this.set(0, SCALAR);
        return;
      }
      case 7: {
        const map = this.pick([0, 1]);
        this.st(FUZZ_MAPS[map]!.keySize, 10, -8, this.int(0, 5));
        this.mapLd(1, map);
        a.mov(2, 10);
        this.alu(BPF_ADD, 2, { imm: -8 });
        a.call(BPF_FUNC['map_delete_elem']!);
        this.callClobbers(false);
        this.set(0, SCALAR);
        return;
      }
      default: {
        if (c === undefined) return;
        if (this.chance(0.5)) {
          if (c !== 1) a.mov(1, c);
          a.call(BPF_FUNC['xdp_get_buff_len']!);
        } else {
          a.movImm(1, this.int(0, 3));
          a.movImm(2, 0);
          a.call(BPF_FUNC['redirect']!);
        }
        this.callClobbers(false);
        this.set(0, SCALAR);
      }
    }
  }

  /** Initialise [off, off + len) of the frame with the widest aligned stores that fit. */
  private fillStack(off: number, len: number): void {
    for (let i = 0; i < len;) {
      const size = [8, 4, 2, 1].find((s) => i + s <= len && (off + i) % s === 0)!;
      this.st(size, 10, off + i, this.int(0, 0x7fff));
      for (let b = off + i; b < off + i + size; b++) this.f.init.add(b);
      i += size;
    }
  }

  /** A pointer and length for a helper's memory argument: initialised stack, a map value, or checked packet. */
  private memArg(keep: readonly number[], minLen: number): { reg: number; len: number } | undefined {
    const a = this.f.a;
    const choice = this.rng.int(3);
    if (choice === 0) {
      const p = this.find((k, r) => !keep.includes(r) && this.isPkt(k) && this.avail(k) >= minLen);
      if (p !== undefined) {
        const k = this.f.regs[p]!;
        const avail = k.t === 'pkt' ? this.avail(k) : 0;
        return { reg: p, len: this.mistake() ? avail + 4 : Math.max(minLen, avail - (avail % 4)) };
      }
    }
    if (choice === 1) {
      const v = this.find((k, r) => !keep.includes(r) && k.t === 'mapval' && k.vmax === 0);
      if (v !== undefined) {
        const k = this.f.regs[v]!;
        const room = k.t === 'mapval' ? FUZZ_MAPS[k.map]!.valueSize - k.off : 0;
        return { reg: v, len: this.mistake() ? room + 4 : Math.max(1, room - (room % 4)) };
      }
    }
    const len = this.pick([4, 8, 16, 20]);
    const off = -len - 8 * this.int(0, 4);
    if (!this.mistake()) for (let i = 0; i < len; i += 4) this.st(4, 10, off + i, this.int(0, 0xffff));
    const r = this.temp(keep);
    a.mov(r, 10);
    this.alu(BPF_ADD, r, { imm: off });
    return { reg: r, len };
  }

  // ------------------------------------------------------------------------------- ctx and meta

  private ctxAccess(): void {
    const c = this.ctxReg();
    if (c === undefined) return;
    const d = this.temp([c]);
    if (this.mistake()) {
      switch (this.rng.int(4)) {
        case 0: this.ldx(this.pick([1, 2, 8]), d, c, this.pick([0, 12, 16])); break;
        case 1: this.ldx(4, d, c, this.pick([20, 24, 2, -4])); break;
        case 2: this.st(4, c, this.pick([0, 12, 16]), 1); break;
        default: {
          this.f.a.mov(d, c);
          this.alu(BPF_ADD, d, { imm: 12 });
          this.ldx(4, d, d, 0);
        }
      }
      this.set(d, SCALAR);
      return;
    }
    this.ldx(4, d, c, this.pick([12, 16]));
    this.set(d, { t: 'scalar', max: undefined });
  }

  private metaAccess(): void {
    const c = this.ctxReg();
    if (c === undefined) return;
    const a = this.f.a;
    const m = this.temp([c], true);
    const p = this.temp([c, m]);
    this.ldx(4, m, c, 8);
    this.ldx(4, p, c, this.mistake() ? 4 : 0);
    const t = this.temp([c, m, p]);
    const n = this.pick([1, 4, 8, 16]);
    a.mov(t, m);
    this.alu(BPF_ADD, t, { imm: n });
    this.jmpReg(this.pick([BPF_JGT, BPF_JGT, BPF_JGE]), t, p, this.f.out);
    const id = ++this.pktId;
    this.range.set(id, n + (this.mistake() ? 4 : 0));
    this.set(m, { t: 'pkt', id, off: 0, epoch: this.epoch, meta: true });
    this.set(p, { t: 'pkt', id: ++this.pktId, off: 0, epoch: this.epoch, meta: false });
    this.set(t, NONE);
    const size = this.pick(SIZES.filter((s) => s <= n));
    this.memOp(m, this.int(0, n - size), size, [p]);
  }

  private ptrMisc(): void {
    const a = this.f.a;
    const p = this.find((k) => k.t !== 'none' && k.t !== 'scalar' && k.t !== 'ctx');
    if (p === undefined) return;
    const d = this.temp([p]);
    switch (this.rng.int(6)) {
      case 0: // 32-bit arithmetic on a pointer
        a.mov(d, p);
        this.alu(BPF_ADD, d, { imm: 4 }, true);
        this.memOp(d, 0, 1, []);
        break;
      case 1: { // pointer minus pointer is a scalar: a length
        const e = this.find((k) => k.t === 'end');
        const q = this.find((k) => this.isPkt(k));
        if (e === undefined || q === undefined) return;
        a.mov(d, e);
        this.alu(BPF_SUB, d, { reg: q });
        this.jmpImm(BPF_JLT, d, this.pick([14, 20, 34]), this.f.out);
        this.set(d, SCALAR);
        if (this.mistake(3)) this.memOp(q, 12, 2, []); // believing the length check covers the access
        break;
      }
      case 2: // bitwise ops on pointers
        a.mov(d, p);
        this.alu(this.pick([BPF_AND, BPF_OR, BPF_XOR, BPF_MUL, BPF_LSH]), d, { imm: this.pick([-8, 1, 4]) });
        this.set(d, SCALAR);
        break;
      case 3: // pointer compared with a constant, then used
        this.jmpImm(this.pick([BPF_JEQ, BPF_JGT, BPF_JSET]), p, this.pick([0, 1, 4096]), this.f.out);
        break;
      case 4: // pointer arithmetic with a large constant, back and forth
        a.mov(d, p);
        this.alu(BPF_ADD, d, { imm: this.pick([1 << 20, 0x7fffffff, -(1 << 20)]) });
        this.alu(BPF_SUB, d, { imm: this.pick([1 << 20, 0x7fffffff, -(1 << 20)]) });
        this.set(d, this.f.regs[p]!);
        this.memOp(d, 0, 1, []);
        break;
      default: // copy through a 32-bit move
        a.i(BPF_ALU | BPF_MOV | BPF_X, d, p, 0, 0);
        this.set(d, SCALAR);
        if (this.mistake(2)) this.memOp(d, 0, 1, []);
    }
  }
}

/** The program for a seed. */
export function generate(seed: number): GenProgram {
  return new Generator(seed).generate();
}
