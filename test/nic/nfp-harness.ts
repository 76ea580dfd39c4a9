// Shared pieces of the NFP ISA and core tests: a small NIC, running one program on both engines from
// identical state and comparing everything they can change, and a generator of random instructions.

import { expect } from 'vitest';
import { assemble, buildImage } from '../../src/nic/asm.js';
import {
  NFP_RUN_EXIT, NfpCore, NfpInterpreter, loadImage, type NfpContext, type NfpEngine, type NfpHook, type NfpImage,
} from '../../src/nic/core.js';
import { NfpJsEngine } from '../../src/nic/exec-js.js';
import {
  NFP_ALU_OPS, NFP_BR_CONDS, NFP_CMDS, NFP_CSRS, NFP_MUL_STEPS, NFP_SHF_OPS,
  nfpAlu, nfpBr, nfpBrBit, nfpBrByte, nfpCmd, nfpCsrRd, nfpCsrWr, nfpCtxArb, nfpImmed, nfpLdField, nfpMul, nfpMulLast, nfpRtn, nfpShf,
  reg_a, reg_b, reg_both, reg_imm, reg_lm, reg_lm_dec, reg_lm_inc, reg_none, reg_xfer,
  type NfpAluOp, type NfpBrCond, type NfpCmdMode, type NfpCmdName, type NfpCsr, type NfpInsn, type NfpMulStep, type NfpReg, type NfpShfOp,
} from '../../src/nic/isa.js';
import { NicMemory, type NicMemoryLayout } from '../../src/nic/memory.js';

export const LAYOUT: NicMemoryLayout = {
  cores: 2, threadsPerCore: 4, ctmIslands: 1, ctmBytesPerIsland: 64 << 10, imemBytes: 1 << 20, ememBytes: 1 << 26,
  ememCacheBytes: 1 << 16, lmemBytesPerCore: 4096, codeStoreInsns: 8192, stackBytesPerThread: 512,
};

/** Where test images are placed, and the firmware addresses they may use. */
export const BASE = 256;
export const EXIT = 16;
export const HELPER = 100;

/** A NIC with 64 KiB of EMEM backed, so 40-bit commands have something to hit. */
export function makeNic(): NicMemory {
  const mem = NicMemory.create(LAYOUT);
  expect(mem.emem_reserve(64 << 10)).toBe(true);
  return mem;
}

/**
 * The default firmware: EXIT ends the run; HELPER stands in for a map helper with the JIT's calling
 * convention (map_call_stack_common: A0 = map id, B0 = return address, result in R0): R0 = A0 + A4
 * (the key pointer's low word), charging 20 busy and 7 stall cycles.
 */
export function defaultHooks(extra: [number, NfpHook][] = []): Map<number, NfpHook> {
  return new Map<number, NfpHook>([
    [EXIT, () => NFP_RUN_EXIT],
    [HELPER, (_core, x) => {
      const ret = x.gprB[0]!;
      const r = (x.gprA[0]! + x.gprA[4]!) | 0;
      x.gprA[0] = x.gprB[0] = r;
      x.gprA[1] = x.gprB[1] = 0;
      x.busy += 20;
      x.stall += 7;
      return ret;
    }],
    ...extra,
  ]);
}

export interface Snapshot {
  readonly exit: number | string;
  readonly gprA: number[];
  readonly gprB: number[];
  readonly xferIn: number[];
  readonly xferOut: number[];
  readonly lmAddr: number[];
  readonly flags: [number, number, number, number];
  readonly prevAlu: [number, number];
  readonly mul: number[];
  readonly busy: number;
  readonly stall: number;
  readonly sig: number[];
  readonly rng: number;
  readonly lm: number[];
  readonly ctm: number[];
  readonly emem: number[];
  /** With RunSetup.digest: FNV-1a of all of CTM and the backed EMEM and of IMEM's first 64 KiB (else empty). */
  readonly digest: number[];
}

/** FNV-1a over 32-bit words of `bytes` bytes from the start of `buf` (a fixed-length view: fast even on a growable buffer). */
function fnv1a(buf: ArrayBufferLike, bytes: number): number {
  const w = new Int32Array(buf, 0, bytes >> 2);
  let h = 0x811c9dc5;
  for (let i = 0; i < w.length; i++) h = Math.imul(h ^ w[i]!, 0x01000193);
  return h >>> 0;
}

export function snapshot(core: NfpCore, x: NfpContext, mem: NicMemory, exit: number | string, digest = false): Snapshot {
  return {
    exit,
    gprA: [...x.gprA], gprB: [...x.gprB], xferIn: [...x.xferIn], xferOut: [...x.xferOut], lmAddr: [...x.lmAddr],
    flags: [x.z, x.n, x.c, x.v], prevAlu: [x.prevAlu, x.prevAluA], mul: [x.mulA, x.mulB, x.mulType, x.mulSteps, x.mulLast],
    busy: x.busy, stall: x.stall, sig: [...x.sigLatency], rng: core.rng,
    lm: [...core.lm], ctm: [...mem.ctm.subarray(0, 4096)], emem: [...mem.emem.subarray(0, 4096)],
    digest: digest ? [fnv1a(mem.ctm.buffer, mem.ctm.byteLength), fnv1a(mem.imem.buffer, 64 << 10), fnv1a(mem.emem.buffer, mem.ememBacked)] : [],
  };
}

export interface RunSetup {
  readonly hooks?: Map<number, NfpHook>;
  /** Initialise memories and the context (run identically for both engines). */
  readonly setup?: (core: NfpCore, x: NfpContext, mem: NicMemory) => void;
  readonly entry?: number;
  readonly maxCycles?: number;
  /** Compare whole memories too (Snapshot.digest), not only their first 4 KiB. */
  readonly digest?: boolean;
}

export interface BothResult {
  readonly interp: Snapshot;
  readonly js: Snapshot;
  readonly image: NfpImage;
  readonly jsEngine: NfpJsEngine;
}

/** Run `program` (text or instructions) once on each engine from the same state; they must agree. */
export function runBoth(program: string | readonly NfpInsn[], opts: RunSetup = {}): BothResult {
  const insns = typeof program === 'string' ? assemble(program, { base: BASE }) : program;
  const image = loadImage(buildImage(insns), { base: BASE });
  const hooks = opts.hooks ?? defaultHooks();
  const engines: NfpEngine[] = [new NfpInterpreter(image, hooks, { maxCycles: opts.maxCycles }), new NfpJsEngine(image, hooks, { maxCycles: opts.maxCycles })];
  const snaps = engines.map((e) => {
    const mem = makeNic();
    const core = NfpCore.fromNic(mem, 0);
    const x = core.contexts[0]!;
    opts.setup?.(core, x, mem);
    let exit: number | string;
    try {
      exit = e.run(core, x, opts.entry ?? BASE);
    } catch (err) {
      exit = `${(err as { errno?: string }).errno ?? 'throw'}: ${(err as Error).message}`;
    }
    return snapshot(core, x, mem, exit, opts.digest);
  });
  const [i, j] = [snaps[0]!, snaps[1]!];
  if (typeof i.exit === 'string' || typeof j.exit === 'string') {
    // A faulted run leaves the context unspecified; the engines must agree on the error (and for the
    // cycle budget, only on the errno: they notice it at different instructions).
    expect(typeof j.exit, `JS engine vs interpreter: ${j.exit} / ${i.exit}`).toBe(typeof i.exit);
    if (String(i.exit).startsWith('ELOOP')) expect(String(j.exit)).toMatch(/^ELOOP: /);
    else expect(j.exit, 'JS engine vs interpreter').toBe(i.exit);
  } else {
    expect(j, 'JS engine vs interpreter').toEqual(i);
  }
  return { interp: snaps[0]!, js: snaps[1]!, image, jsEngine: engines[1] as NfpJsEngine };
}

// ---------------------------------------------------------------------------------------------------
// Random instructions

/** A small deterministic PRNG (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class Gen {
  constructor(readonly r: () => number, readonly gprMax = 31) {}

  int(n: number): number { return Math.floor(this.r() * n); }
  pick<T>(xs: readonly T[]): T { return xs[this.int(xs.length)]!; }
  u32(): number {
    const k = this.int(4);
    if (k === 0) return this.pick([0, 1, 0x7fffffff, 0x80000000, 0xffffffff, 0xfffffffe, 31, 32, 33]);
    if (k === 1) return this.int(256);
    return (this.int(0x10000) << 16 | this.int(0x10000)) >>> 0;
  }

  gpr(bank: 'a' | 'b'): NfpReg { return bank === 'a' ? reg_a(this.int(this.gprMax + 1)) : reg_b(this.int(this.gprMax + 1)); }

  /** A source for the given field kind; `lmOk` allows LM operands (with post-modification when unrestricted). */
  src(kind: 'ur' | 're', bank: 'a' | 'b', lmOk = true): NfpReg {
    const k = this.int(10);
    if (k < 5) return this.gpr(bank);
    if (k < 6) return reg_xfer(this.int(32));
    if (k < 8 && lmOk) {
      const ptr = this.int(4);
      if (kind === 'ur' && this.int(3) === 0) return this.int(2) ? reg_lm_inc(ptr) : reg_lm_dec(ptr);
      return reg_lm(ptr, this.int(kind === 'ur' ? 16 : 8));
    }
    return reg_imm(this.int(kind === 'ur' ? 256 : 128));
  }

  /** Two sources that can share one instruction (different kinds, each in a field it fits). */
  pair(kind: 'ur' | 're', lmOk = true): [NfpReg, NfpReg] {
    for (;;) {
      const a = this.src(kind, this.int(2) ? 'a' : 'b', lmOk);
      const b = this.src(kind, this.int(2) ? 'a' : 'b', lmOk);
      const t = (x: NfpReg): string => (x.type === 'gpr' ? `gpr_${x.bank}` : x.type);
      if (t(a) === t(b)) continue;
      if (a.type === 'imm' && b.type === 'imm') continue;
      return [a, b];
    }
  }

  dst(kind: 'ur' | 're', lmOk = true): NfpReg {
    const k = this.int(12);
    if (k < 6) return reg_both(this.int(this.gprMax + 1));
    if (k < 7) return reg_a(this.int(this.gprMax + 1));
    if (k < 8) return reg_b(this.int(this.gprMax + 1));
    if (k < 9) return reg_xfer(this.int(32));
    if (k < 10) return reg_none();
    if (!lmOk) return reg_both(this.int(this.gprMax + 1));
    const ptr = this.int(4);
    if (kind === 'ur' && this.int(3) === 0) return reg_lm_inc(ptr);
    return reg_lm(ptr, this.int(kind === 'ur' ? 16 : 8));
  }

  alu(): NfpInsn {
    const op = this.pick(Object.keys(NFP_ALU_OPS) as NfpAluOp[]);
    if (NFP_ALU_OPS[op].bOnly) return nfpAlu(this.dst('ur'), reg_none(), op, this.src('ur', this.int(2) ? 'a' : 'b'));
    const [a, b] = this.pair('ur');
    return nfpAlu(this.dst('ur'), a, op, b);
  }

  shf(): NfpInsn {
    const dbl = this.int(5) === 0;
    const op: NfpShfOp = dbl ? 'none' : this.pick(Object.keys(NFP_SHF_OPS) as NfpShfOp[]);
    const sc = dbl ? 'r_dshf' : op === 'ashr' ? 'r_shf' : this.pick(['r_rot', 'r_shf', 'l_shf'] as const);
    const shift = sc !== 'r_rot' && this.int(4) === 0 ? 'indirect' as const : sc === 'r_rot' ? this.int(32) : 1 + this.int(31);
    const [a, b] = this.pair('re');
    const bOnly = NFP_SHF_OPS[op].bOnly && !dbl;
    return nfpShf(this.dst('re'), bOnly ? reg_none() : a, op, b, sc, shift);
  }

  immed(): NfpInsn {
    const width = this.pick(['all', 'all', 'all', 'byte', 'word'] as const);
    const d = this.dst('ur');
    const dst = d.type === 'none' && width !== 'all' ? reg_both(3) : d;
    if (width === 'byte') return nfpImmed(dst, this.int(256), 'byte', false, this.pick([0, 1, 2] as const));
    if (width === 'word') return nfpImmed(dst, this.int(0x10000), 'word', false, this.pick([0, 2] as const));
    return nfpImmed(dst, this.int(0x10000), 'all', this.int(3) === 0, this.pick([0, 1, 2] as const));
  }

  ldField(): NfpInsn {
    for (;;) {
      const dst = this.dst('re');
      if (dst.type === 'none') continue;
      const src = this.src('re', this.int(2) ? 'a' : 'b');
      const t = (x: NfpReg): string => (x.type === 'gpr' ? `gpr_${x.bank}` : x.type);
      if (t(dst) === t(src) || (dst.type === 'gpr' && dst.bank === 'both' && src.type === 'gpr' && src.bank === 'both')) continue;
      const sc = this.pick(['r_rot', 'r_shf', 'l_shf'] as const);
      const shift = sc !== 'r_rot' && this.int(4) === 0 ? 'indirect' as const : sc === 'r_rot' ? this.int(32) : 1 + this.int(31);
      return nfpLdField(dst, 1 + this.int(15), src, sc, shift, this.int(3) === 0);
    }
  }

  /** A whole multiply: start, the steps, last (and last2 for 32x32). */
  mulSeq(): NfpInsn[] {
    const [a, b] = this.pair('ur', false);
    const wide = this.int(2) === 0;
    const steps: NfpMulStep[] = wide ? ['32x32_step1', '32x32_step2', '32x32_step3', '32x32_step4'] : ['16x16_step1', '16x16_step2'];
    const out: NfpInsn[] = [nfpMul('start', a, b), ...steps.map((s) => nfpMul(s, a, b))];
    out.push(nfpMulLast(wide ? '32x32_last' : '16x16_last', reg_both(this.int(20))));
    if (wide && this.int(2)) out.push(nfpMulLast('32x32_last2', reg_both(this.int(20))));
    return out;
  }

  /** Any single instruction of the table, for encoding round trips (targets are arbitrary). */
  any(): NfpInsn {
    switch (this.int(13)) {
      case 0: case 1: return this.alu();
      case 2: return this.shf();
      case 3: return this.immed();
      case 4: return this.ldField();
      case 5: {
        const s = this.pick(Object.keys(NFP_MUL_STEPS) as NfpMulStep[]);
        if (!NFP_MUL_STEPS[s].last) return nfpMul(s, ...this.pair('ur'));
        const d = this.dst('ur');
        return nfpMulLast(s as '32x32_last', d.type === 'none' ? reg_both(1) : d);
      }
      case 6: return nfpBr(this.pick(Object.keys(NFP_BR_CONDS) as NfpBrCond[]), this.int(16384), this.int(4));
      case 7: { const s = this.src('re', this.int(2) ? 'a' : 'b'); return nfpBrBit(this.int(2) === 0, s.type === 'imm' ? reg_a(1) : s, this.int(32), this.int(16384), this.int(4)); }
      case 8: { const s = this.src('re', this.int(2) ? 'a' : 'b'); return nfpBrByte(this.int(2) === 0, s.type === 'imm' ? reg_b(2) : s, this.int(4), this.int(256), this.int(16384), this.int(4)); }
      case 9: { const s = this.src('ur', this.int(2) ? 'a' : 'b'); return nfpRtn(s.type === 'imm' ? reg_a(21) : s, this.int(4)); }
      case 10: { const csr = this.pick(Object.keys(NFP_CSRS) as NfpCsr[]); return this.int(3) === 0 ? nfpCsrRd(csr) : nfpCsrWr(csr, this.src('ur', this.int(2) ? 'a' : 'b')); }
      case 11: return this.int(3) === 0 ? nfpCtxArb('voluntary') : nfpCtxArb([...new Set([1 + this.int(15), 1 + this.int(15)])]);
      default: return this.cmd();
    }
  }

  cmd(): NfpInsn {
    const name = this.pick(Object.keys(NFP_CMDS) as NfpCmdName[]);
    const info = NFP_CMDS[name];
    const mode = this.pick(['32b', '40b_ab', '40b_ba'] as NfpCmdMode[]);
    const swap = this.int(3) !== 0;
    let count = 1 + this.int(8);
    while (((count - 1) & info.lenMask) !== info.lenFixed) count = 1 + this.int(8);
    const opnd = (field: 'a' | 'b'): NfpReg => {
      const k = this.int(6);
      if (k < 4 || mode !== '32b') return field === 'a' ? reg_a(this.int(32)) : reg_b(this.int(32));
      if (k === 4) return reg_imm(this.int(128));
      return reg_lm(this.int(2), this.int(8));
    };
    let a = opnd('a');
    let b = opnd('b');
    if (a.type === b.type && a.type !== 'gpr') b = reg_b(this.int(32));
    return nfpCmd(name, mode, this.int(24), a, b, count, { swap, defer: swap ? this.int(3) : 0, sig: this.int(16), indirect: this.int(4) === 0 });
  }
}

export function assembleAt(text: string): NfpInsn[] {
  return assemble(text, { base: BASE });
}
