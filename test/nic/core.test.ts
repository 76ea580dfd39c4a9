// What each NFP instruction does and costs, on both engines (every run goes through runBoth, which runs
// the reference interpreter and the JS translation from the same state and requires identical results).
// References are computed here independently, mostly with BigInt, from the instruction's meaning.

import { describe, expect, it } from 'vitest';
import { BpfError } from '../../src/bpf/errno.js';
import { nfp_atomic_read_be32, nfp_atomic_read_be64 } from '../../src/nic/atomic.js';
import { assemble, buildImage, disasmInsn, nfp_ustore_calc_ecc_insn } from '../../src/nic/asm.js';
import {
  NFP_RUN_EXIT, NfpCore, NfpInterpreter, loadImage, nfpAddr40, nfpCoreCycles, nfpImageFromCodeStore, nfpWriteCodeStore,
  type NfpContext, type NfpEngine, type NfpHook,
} from '../../src/nic/core.js';
import { NfpJsEngine } from '../../src/nic/exec-js.js';
import {
  NFP_ALU_OPS, NFP_BRANCH_PENALTY, NFP_MEM_LATENCY, PKT_VEC_PKT_LEN, PKT_VEC_PKT_PTR, reg_both, wrpImmed, type NfpAluOp,
} from '../../src/nic/isa.js';
import type { NicMemory } from '../../src/nic/memory.js';
import { BASE, EXIT, HELPER, LAYOUT, defaultHooks, makeNic, rng, runBoth } from './nfp-harness.js';

const M32 = 0xffffffffn;
const u = (v: number): bigint => BigInt(v >>> 0);
const s32 = (v: bigint): number => Number(BigInt.asIntN(32, v));
const pair = (x: { gprA: number[] }, lo: number): bigint => (u(x.gprA[lo + 1]!) << 32n) | u(x.gprA[lo]!);
const setBoth = (x: NfpContext, n: number, v: number): void => { x.gprA[n] = v | 0; x.gprB[n] = v | 0; };
const set64 = (x: NfpContext, lo: number, v: bigint): void => { setBoth(x, lo, s32(v & M32)); setBoth(x, lo + 1, s32(v >> 32n)); };

function edgeAndRandom32(seed: number, n: number): number[] {
  const r = rng(seed);
  const out = [0, 1, 2, 0x7fffffff, 0x80000000, 0xffffffff, 0xfffffffe, 0x8000, 0xffff, 0x10000];
  while (out.length < n) out.push((Math.floor(r() * 0x100000000)) >>> 0);
  return out;
}

function edgeAndRandom64(seed: number, n: number): bigint[] {
  const r = rng(seed);
  const out = [0n, 1n, M32, M32 + 1n, (1n << 63n) - 1n, 1n << 63n, (1n << 64n) - 1n, (1n << 64n) - 2n, 0x1_0000_0000n];
  while (out.length < n) out.push((BigInt(Math.floor(r() * 2 ** 32)) << 32n) | BigInt(Math.floor(r() * 2 ** 32)));
  return out;
}

// ---------------------------------------------------------------------------------------------------

describe('ALU operations and their condition codes', () => {
  /** Reference: result and N Z C V of `a op b` with carry-in `cin` (model semantics, isa.ts). */
  function ref(op: NfpAluOp, a: number, b: number, cin: number): { r: number; z: number; n: number; c: number; v: number } {
    const ua = u(a), ub = u(b), sa = BigInt(a | 0), sb = BigInt(b | 0);
    let r: bigint; let c = 0; let v = 0;
    const sov = (x: bigint): number => (x < -(1n << 31n) || x > (1n << 31n) - 1n ? 1 : 0);
    switch (op) {
      case 'none': r = ub; break;
      case 'not': r = ~ub & M32; break;
      case 'and': r = ua & ub; break;
      case 'and_not_a': r = ~ua & ub & M32; break;
      case 'and_not_b': r = ua & ~ub & M32; break;
      case 'or': r = ua | ub; break;
      case 'xor': r = ua ^ ub; break;
      case 'add': { const t = ua + ub; r = t & M32; c = Number(t >> 32n); v = sov(sa + sb); break; }
      case 'add_c': { const t = ua + ub + BigInt(cin); r = t & M32; c = Number(t >> 32n); v = sov(sa + sb + BigInt(cin)); break; }
      case 'sub': { const t = ua - ub; r = t & M32; c = t >= 0n ? 1 : 0; v = sov(sa - sb); break; }
      case 'sub_c': { const t = ua - ub - BigInt(1 - cin); r = t & M32; c = t >= 0n ? 1 : 0; v = sov(sa - sb - BigInt(1 - cin)); break; }
      case 'add_2b': { const t = (ua & 0xffffn) + (ub & 0xffffn); r = t & 0xffffn; c = Number(t >> 16n); break; }
    }
    return { r: s32(r), z: r === 0n ? 1 : 0, n: Number(r >> 31n), c, v };
  }

  for (const op of Object.keys(NFP_ALU_OPS) as NfpAluOp[]) {
    it(`${NFP_ALU_OPS[op].text}`, () => {
      const vals = edgeAndRandom32(op.length * 7919, 14);
      for (let i = 0; i < vals.length; i++) {
        const a = vals[i]!, b = vals[(i * 5 + 3) % vals.length]!, cin = i & 1;
        const text = NFP_ALU_OPS[op].bOnly
          ? `alu[gprA_3, --, ${NFP_ALU_OPS[op].text}, gprB_2], gpr_wrboth\nbr[.${EXIT}]`
          : `alu[gprA_3, gprA_1, ${NFP_ALU_OPS[op].text}, gprB_2], gpr_wrboth\nbr[.${EXIT}]`;
        const { interp: s } = runBoth(text, { setup: (_c, x) => { x.gprA[1] = a; x.gprB[2] = b; x.c = cin; } });
        const e = ref(op, a, b, cin);
        expect(s.gprA[3], `${op} ${a} ${b} ${cin}`).toBe(e.r);
        expect(s.gprB[3]).toBe(e.r);
        expect(s.flags, `${op} ${a.toString(16)} ${b.toString(16)} c=${cin}`).toEqual([e.z, e.n, e.c, e.v]);
        // PREV_ALU keeps the result and the A operand (the indirect shift amount comes from it).
        expect(s.prevAlu).toEqual([e.r, NFP_ALU_OPS[op].bOnly ? 0 : a | 0]);
      }
    });
  }
});

describe('64-bit arithmetic on register pairs (jit.c add_reg64 / sub_reg64 / neg_reg64)', () => {
  it('carries through add/+carry and borrows through -/-carry', () => {
    const v = edgeAndRandom64(11, 24);
    for (let i = 0; i < v.length; i++) {
      const a = v[i]!, b = v[(i * 7 + 1) % v.length]!, c = v[(i * 3 + 2) % v.length]!, d = v[(i * 11 + 5) % v.length]!;
      const { interp: s } = runBoth(`
        alu[gprA_2, gprA_2, +, gprB_4], gpr_wrboth
        alu[gprA_3, gprA_3, +carry, gprB_5], gpr_wrboth
        alu[gprA_6, gprA_6, -, gprB_8], gpr_wrboth
        alu[gprA_7, gprA_7, -carry, gprB_9], gpr_wrboth
        alu[gprA_10, 0x0, -, gprB_10], gpr_wrboth
        alu[gprA_11, 0x0, -carry, gprB_11], gpr_wrboth
        br[.${EXIT}]`, { setup: (_c, x) => { set64(x, 2, a); set64(x, 4, b); set64(x, 6, c); set64(x, 8, d); set64(x, 10, d); } });
      expect(pair(s, 2), `${a} + ${b}`).toBe((a + b) & ((1n << 64n) - 1n));
      expect(pair(s, 6), `${c} - ${d}`).toBe(BigInt.asUintN(64, c - d));
      expect(pair(s, 10), `-${d}`).toBe(BigInt.asUintN(64, -d));
    }
  });
});

describe('compares via sub + sub_c and the flags (jit.c cmp_reg, jmp_code_map)', () => {
  const MAP = {
    jgt: { br: 'bcc', swap: true, ref: (a: bigint, b: bigint) => a > b },
    jge: { br: 'bcs', swap: false, ref: (a: bigint, b: bigint) => a >= b },
    jlt: { br: 'bcc', swap: false, ref: (a: bigint, b: bigint) => a < b },
    jle: { br: 'bcs', swap: true, ref: (a: bigint, b: bigint) => a <= b },
    jsgt: { br: 'blt', swap: true, ref: (a: bigint, b: bigint, w: number) => BigInt.asIntN(w, a) > BigInt.asIntN(w, b) },
    jsge: { br: 'bge', swap: false, ref: (a: bigint, b: bigint, w: number) => BigInt.asIntN(w, a) >= BigInt.asIntN(w, b) },
    jslt: { br: 'blt', swap: false, ref: (a: bigint, b: bigint, w: number) => BigInt.asIntN(w, a) < BigInt.asIntN(w, b) },
    jsle: { br: 'bge', swap: true, ref: (a: bigint, b: bigint, w: number) => BigInt.asIntN(w, a) <= BigInt.asIntN(w, b) },
  } as const;

  for (const [name, m] of Object.entries(MAP)) {
    it(`${name} (64-bit and 32-bit) as ${m.br}`, () => {
      const v = edgeAndRandom64(name.length * 31, 14);
      for (let i = 0; i < v.length; i++) {
        for (const [a, b] of [[v[i]!, v[(i * 3 + 1) % v.length]!], [v[i]!, v[i]!], [v[i]!, v[i]! + 1n & ((1n << 64n) - 1n)]] as [bigint, bigint][]) {
          for (const w of [64, 32]) {
            const [l, r] = m.swap ? [4, 2] : [2, 4];
            const hiCmp = w === 64 ? `alu[--, gprA_${l + 1}, -carry, gprB_${r + 1}]` : '';
            const { interp: s } = runBoth(`
              alu[--, gprA_${l}, -, gprB_${r}]
              ${hiCmp}
              ${m.br}[.taken]
              immed[gprA_0, 0x0], gpr_wrboth
              br[.${EXIT}]
            taken:
              immed[gprA_0, 0x1], gpr_wrboth
              br[.${EXIT}]`, { setup: (_c, x) => { set64(x, 2, a); set64(x, 4, b); } });
            const mask = w === 64 ? (1n << 64n) - 1n : M32;
            expect(s.gprA[0], `${name}/${w} ${a} ${b}`).toBe(m.ref(a & mask, b & mask, w) ? 1 : 0);
          }
        }
      }
    });
  }

  it('jeq/jne through xor + or and beq/bne (jit.c jeq_imm, wrp_test_reg)', () => {
    for (const [a, b] of [[5n, 5n], [5n, 6n], [1n << 40n, 1n << 40n], [1n << 40n, 1n << 41n], [0n, 1n << 32n]] as [bigint, bigint][]) {
      const { interp: s } = runBoth(`
        alu[gprA_21, gprA_2, XOR, gprB_4]
        alu[gprB_21, gprA_3, XOR, gprB_5]
        alu[--, gprA_21, OR, gprB_21]
        beq[.eq]
        immed[gprA_0, 0x0], gpr_wrboth
        br[.${EXIT}]
      eq: immed[gprA_0, 0x1], gpr_wrboth
        br[.${EXIT}]`, { setup: (_c, x) => { set64(x, 2, a); set64(x, 4, b); } });
      expect(s.gprA[0]).toBe(a === b ? 1 : 0);
    }
  });
});

describe('the shifter', () => {
  const ONES = (1n << 64n) - 1n;

  it('shifts 64-bit pairs by constants (jit.c __shl_imm64, __shr_imm64, __ashr_imm64)', () => {
    const vals = edgeAndRandom64(77, 8);
    for (const n of [1, 5, 16, 31, 32, 33, 47, 63]) {
      for (const v of vals) {
        const shl = n < 32
          ? `dbl_shf[gprA_3, gprA_3, gprB_2, >>${32 - n}], gpr_wrboth\nalu_shf[gprA_2, --, B, gprB_2, <<${n}], gpr_wrboth`
          : n === 32 ? 'alu[gprA_3, --, B, gprB_2], gpr_wrboth\nimmed[gprA_2, 0x0], gpr_wrboth'
            : `alu_shf[gprA_3, --, B, gprB_2, <<${n - 32}], gpr_wrboth\nimmed[gprA_2, 0x0], gpr_wrboth`;
        const shr = n < 32
          ? `dbl_shf[gprA_4, gprA_5, gprB_4, >>${n}], gpr_wrboth\nalu_shf[gprA_5, --, B, gprB_5, >>${n}], gpr_wrboth`
          : n === 32 ? 'alu[gprA_4, --, B, gprB_5], gpr_wrboth\nimmed[gprA_5, 0x0], gpr_wrboth'
            : `alu_shf[gprA_4, --, B, gprB_5, >>${n - 32}], gpr_wrboth\nimmed[gprA_5, 0x0], gpr_wrboth`;
        const ashr = n < 32
          ? `dbl_shf[gprA_6, gprA_7, gprB_6, >>${n}], gpr_wrboth\nalu[--, gprA_7, OR, 0x0]\nasr[gprA_7, gprB_7, >>${n}], gpr_wrboth`
          : n === 32 ? 'alu[gprA_6, --, B, gprB_7], gpr_wrboth\nasr[gprA_7, gprB_7, >>31], gpr_wrboth'
            : `alu[--, gprA_7, OR, 0x0]\nasr[gprA_6, gprB_7, >>${n - 32}], gpr_wrboth\nasr[gprA_7, gprB_7, >>31], gpr_wrboth`;
        const { interp: s } = runBoth(`${shl}\n${shr}\n${ashr}\nbr[.${EXIT}]`, { setup: (_c, x) => { set64(x, 2, v); set64(x, 4, v); set64(x, 6, v); } });
        expect(pair(s, 2), `${v} << ${n}`).toBe((v << BigInt(n)) & ONES);
        expect(pair(s, 4), `${v} >> ${n}`).toBe(v >> BigInt(n));
        expect(pair(s, 6), `${v} s>> ${n}`).toBe(BigInt.asUintN(64, BigInt.asIntN(64, v) >> BigInt(n)));
      }
    }
  });

  it('shifts by a register, branching on bit 5 when the range straddles 32 (jit.c shl_reg64, shr_reg64, ashr_reg64)', () => {
    const vals = edgeAndRandom64(99, 6);
    const r = rng(5);
    for (let k = 0; k < 40; k++) {
      const v = vals[k % vals.length]!;
      const n = k < 4 ? [1, 31, 32, 63][k]! : 1 + Math.floor(r() * 63);
      const prog = `
        ; shl: R1 (2,3) <<= R4 (8)
        br_bset[gprA_8, 5, .shl_ge32]
        alu[gprA_21, 0x20, -, gprB_8], gpr_wrboth
        alu[--, gprA_21, OR, 0x0]
        dbl_shf[gprA_3, gprA_3, gprB_2, >>indirect], gpr_wrboth
        br[.shr], defer[2]
        alu[--, gprA_8, OR, 0x0]
        alu_shf[gprA_2, --, B, gprB_2, <<indirect], gpr_wrboth
      shl_ge32:
        alu[--, gprA_8, OR, 0x0]
        alu_shf[gprA_3, --, B, gprB_2, <<indirect], gpr_wrboth
        immed[gprA_2, 0x0], gpr_wrboth
      shr:
        ; shr: R2 (4,5) >>= R4
        br_bset[gprA_8, 5, .shr_ge32]
        alu[--, gprA_8, OR, 0x0]
        dbl_shf[gprA_4, gprA_5, gprB_4, >>indirect], gpr_wrboth
        br[.ashr], defer[2]
        alu[--, gprA_8, OR, 0x0]
        alu_shf[gprA_5, --, B, gprB_5, >>indirect], gpr_wrboth
      shr_ge32:
        alu[--, gprA_8, OR, 0x0]
        alu_shf[gprA_4, --, B, gprB_5, >>indirect], gpr_wrboth
        immed[gprA_5, 0x0], gpr_wrboth
      ashr:
        ; ashr: R3 (6,7) s>>= R4
        br_bset[gprA_8, 5, .ashr_ge32]
        alu[--, gprA_8, OR, 0x0]
        dbl_shf[gprA_6, gprA_7, gprB_6, >>indirect], gpr_wrboth
        br[.${EXIT}], defer[2]
        alu[--, gprA_8, OR, gprB_7]
        asr[gprA_7, gprB_7, >>indirect], gpr_wrboth
      ashr_ge32:
        alu[--, gprA_8, OR, gprB_7]
        asr[gprA_6, gprB_7, >>indirect], gpr_wrboth
        asr[gprA_7, gprB_7, >>31], gpr_wrboth
        br[.${EXIT}]`;
      const { interp: s } = runBoth(prog, { setup: (_c, x) => { set64(x, 2, v); set64(x, 4, v); set64(x, 6, v); set64(x, 8, BigInt(n)); } });
      expect(pair(s, 2), `${v} << ${n}`).toBe((v << BigInt(n)) & ONES);
      expect(pair(s, 4), `${v} >> ${n}`).toBe(v >> BigInt(n));
      expect(pair(s, 6), `${v} s>> ${n}`).toBe(BigInt.asUintN(64, BigInt.asIntN(64, v) >> BigInt(n)));
    }
  });

  it('rotates, masks and complements B (alu_shf operators)', () => {
    const { interp: s } = runBoth(`
      alu_shf[gprA_1, --, B, gprB_2, >>rot8]
      alu_shf[gprA_3, gprA_4, AND, gprB_2, >>4]
      alu_shf[gprA_5, gprA_4, AND~, gprB_2, <<4]
      alu_shf[gprA_6, gprA_4, ~AND, gprB_2, >>rot0]
      alu_shf[gprA_7, gprA_4, OR, gprB_2, <<31]
      alu_shf[gprA_8, --, ~B, gprB_2, >>rot31]
      alu_shf[gprA_9, 0xf, AND, gprB_2, >>12]
      br[.${EXIT}]`, { setup: (_c, x) => { x.gprB[2] = 0x12345678; x.gprA[4] = 0x0ff00ff0; } });
    const b = 0x12345678, a = 0x0ff00ff0;
    expect(s.gprA[1]).toBe(((b >>> 8) | (b << 24)) | 0);
    expect(s.gprA[3]).toBe(a & (b >>> 4));
    expect(s.gprA[5]).toBe(a & ~(b << 4));
    expect(s.gprA[6]).toBe(~a & b);
    expect(s.gprA[7]).toBe(a | (b << 31));
    expect(s.gprA[8]).toBe(~(((b >>> 31) | (b << 1)) | 0));
    expect(s.gprA[9]).toBe(0xf & (b >>> 12));
    // alu_shf sets Z and N from its result and clears C and V.
    expect(s.flags).toEqual([0, 0, 0, 0]);
  });
});

describe('immed, ld_field and byte swaps', () => {
  it('loads any 32-bit constant with wrp_immed (one or two instructions)', () => {
    const vals = edgeAndRandom32(123, 40).concat([0x3fff, 0xfffff000, 0x007fffff, 0x00abcd00, 0xffff0000, 0xff0000ff]);
    const insns = vals.flatMap((v, i) => wrpImmed(reg_both(i % 20), v).map((x) => ({ x, i })));
    // 20 registers at a time; check after each batch.
    for (let start = 0; start < vals.length; start += 20) {
      const batch = vals.slice(start, start + 20);
      const prog = batch.flatMap((v, i) => wrpImmed(reg_both(i), v));
      const { interp: s } = runBoth([...prog, ...assemble(`br[.${EXIT}]`)]);
      batch.forEach((v, i) => { expect(s.gprA[i]! >>> 0, `0x${v.toString(16)}`).toBe(v >>> 0); expect(s.gprB[i]! >>> 0).toBe(v >>> 0); });
    }
    expect(insns.length).toBeGreaterThan(vals.length);
  });

  it('writes one byte or one word of each register file it names (immed_b, immed_w), including transfer-out registers', () => {
    const { interp: s } = runBoth(`
      immed_b2[gprA_1, 0xab]
      immed_w1[gprB_2, 0xbeef]
      immed_w0[gprA_3, 0x1234], gpr_wrboth
      immed[$xfer_5, 0xbeef]
      immed_w1[$xfer_5, 0xdead]
      br[.${EXIT}]`, { setup: (_c, x) => { x.gprA[1] = 0x11223344; x.gprB[2] = 0x55667788; x.gprA[3] = 0x99aabbcc | 0; x.gprB[3] = 0x11223344; x.xferIn[5] = 0x77777777; } });
    expect(s.gprA[1]! >>> 0).toBe(0x11ab3344);
    expect(s.gprB[2]! >>> 0).toBe(0xbeef7788);
    expect(s.gprA[3]! >>> 0).toBe(0x99aa1234);
    expect(s.gprB[3]! >>> 0).toBe(0x11221234);
    // jit.c wrp_immed builds a large constant to store this way: the transfer-out register, not the in one.
    expect(s.xferOut[5]! >>> 0).toBe(0xdeadbeef);
  });

  it('swaps bytes to big-endian 16/32/64 the way jit.c end_reg32 does', () => {
    const v = 0x1122334455667788n;
    const { interp: s } = runBoth(`
      ; be16 on R1 (2,3)
      ld_field[gprA_2, 1001, gprB_2, >>rot8], gpr_wrboth
      ld_field[gprB_2, 1110, gprA_2, >>16], gpr_wrboth
      immed[gprA_3, 0x0], gpr_wrboth
      ; be32 on R2 (4,5)
      ld_field[gprA_4, 1111, gprA_4, >>rot8], gpr_wrboth
      ld_field[gprB_4, 0101, gprA_4, >>rot16], gpr_wrboth
      immed[gprA_5, 0x0], gpr_wrboth
      ; be64 on R3 (6,7)
      alu[gprA_21, --, B, gprB_7]
      ld_field[gprA_7, 1111, gprA_6, >>rot8], gpr_wrboth
      ld_field[gprB_7, 0101, gprA_7, >>rot16], gpr_wrboth
      ld_field[gprA_6, 1111, gprA_21, >>rot8], gpr_wrboth
      ld_field[gprB_6, 0101, gprA_6, >>rot16], gpr_wrboth
      br[.${EXIT}]`, { setup: (_c, x) => { set64(x, 2, v); set64(x, 4, v); set64(x, 6, v); } });
    expect(pair(s, 2)).toBe(0x8877n);
    expect(pair(s, 4)).toBe(0x88776655n);
    expect(pair(s, 6)).toBe(0x8877665544332211n);
  });

  it('merges under a byte mask, clears with ld_field_w_clr, and feeds PREV_ALU', () => {
    const { interp: s } = runBoth(`
      ld_field[gprA_1, 0110, gprB_2, <<8]
      ld_field_w_clr[gprA_3, 0011, gprB_2, >>8]
      immed[gprA_21, 0x890]
      ld_field[gprA_21, 1100, gprB_4, <<16]
      br[.${EXIT}]`, { setup: (_c, x) => { x.gprA[1] = 0x11223344; x.gprB[2] = 0xaabbccdd | 0; x.gprA[3] = -1; x.gprB[4] = 0x1234; } });
    expect(s.gprA[1]! >>> 0).toBe(0x11ccdd44);
    expect(s.gprA[3]! >>> 0).toBe(0x0000bbcc);
    expect(s.gprA[21]! >>> 0).toBe(0x12340890);
    expect(s.prevAlu[0] >>> 0).toBe(0x12340890);
  });
});

describe('the multiplier (mul_step sequences, jit.c wrp_mul_u32 / wrp_mul_u16)', () => {
  it('computes 32x32 -> 64 and 16x16 -> 32 products', () => {
    const vals = edgeAndRandom32(2024, 16);
    for (let i = 0; i < vals.length; i++) {
      const a = vals[i]!, b = vals[(i * 5 + 7) % vals.length]!;
      const { interp: s } = runBoth(`
        mul_step[gprA_2, gprB_4], start
        mul_step[gprA_2, gprB_4], 32x32_step1
        mul_step[gprA_2, gprB_4], 32x32_step2
        mul_step[gprA_2, gprB_4], 32x32_step3
        mul_step[gprA_2, gprB_4], 32x32_step4
        mul_step[gprA_6, --], 32x32_last, gpr_wrboth
        mul_step[gprA_7, --], 32x32_last2, gpr_wrboth
        mul_step[gprA_2, gprB_4], start
        mul_step[gprA_2, gprB_4], 16x16_step1
        mul_step[gprA_2, gprB_4], 16x16_step2
        mul_step[gprA_8, --], 16x16_last, gpr_wrboth
        br[.${EXIT}]`, { setup: (_c, x) => { x.gprA[2] = a; x.gprB[4] = b; } });
      expect(pair(s, 6), `${a} * ${b}`).toBe(u(a) * u(b));
      expect(s.gprA[8]! >>> 0).toBe(Number((u(a) & 0xffffn) * (u(b) & 0xffffn)));
    }
  });

  it('faults a sequence that skips a step or reads the high word too early, the same on both engines', () => {
    const skip = runBoth(`mul_step[gprA_2, gprB_4], start\nmul_step[gprA_2, gprB_4], 32x32_step1\nmul_step[gprA_2, gprB_4], 32x32_step3\nbr[.${EXIT}]`);
    expect(skip.interp.exit).toBe(`EFAULT: nfp core: mul_step 32x32_step3 out of sequence at .${BASE + 2}`);
    const early = runBoth(`mul_step[gprA_2, gprB_4], start\nmul_step[gprA_6, --], 32x32_last2\nbr[.${EXIT}]`);
    expect(early.interp.exit).toMatch(/EFAULT: nfp core: mul_step 32x32_last2 out of sequence/);
  });
});

describe('local memory through LM pointers', () => {
  const lmSetup = (core: NfpCore, x: NfpContext): void => {
    for (let i = 0; i < 1024; i++) core.lm[i] = 0x1000 + i;
    x.lmAddr[0] = 0x200;
    x.lmAddr[1] = 0x100;
    x.lmAddr[3] = 0x204;
  };

  it('indexes a pointer with the offset ORed in (not added), from both operand kinds', () => {
    const { interp: s } = runBoth(`
      alu[gprA_1, --, B, *l$index0[3]]
      alu[gprA_2, --, B, *l$index0[15]]
      alu[gprA_3, --, B, *l$index3[1]]
      alu_shf[gprA_4, --, B, *l$index3[7], >>rot0]
      alu[gprA_5, gprA_1, +, *l$index1[2]]
      br[.${EXIT}]`, { setup: lmSetup });
    expect(s.gprA.slice(1, 6)).toEqual([0x1000 + 0x83, 0x1000 + 0x8f, 0x1000 + 0x81, 0x1000 + 0x87, 0x1083 + 0x1042]);
  });

  it('post-increments and post-decrements, and wraps at the end of LMEM', () => {
    const { interp: s } = runBoth(`
      alu[*l$index3++, --, B, gprB_1]
      alu[*l$index3++, --, B, gprB_2]
      alu[*l$index3++, --, B, gprB_3]
      alu[gprA_10, --, B, *l$index3--]
      alu[gprA_11, --, B, *l$index3--]
      alu[gprA_12, --, B, *l$index2++]
      alu[gprA_13, --, B, *l$index2++]
      br[.${EXIT}]`, { setup: (core, x) => { lmSetup(core, x); x.gprB[1] = 11; x.gprB[2] = 22; x.gprB[3] = 33; x.lmAddr[2] = 4092; } });
    expect(s.lm.slice(0x81, 0x84)).toEqual([11, 22, 33]);
    expect(s.gprA[10]).toBe(0x1000 + 0x84);
    expect(s.gprA[11]).toBe(33);
    expect(s.gprA[12]).toBe(0x1000 + 1023);
    expect(s.gprA[13]).toBe(0x1000);
    expect(s.lmAddr).toEqual([0x200, 0x100, 4, 0x204 + 12 - 8]);
  });

  it('sets a pointer with local_csr_wr (3 instructions before use) and reads it back with local_csr_rd', () => {
    const { interp: s } = runBoth(`
      local_csr_wr[ActLMAddr3, gprA_5]
      nop
      nop
      nop
      alu[gprA_1, --, B, *l$index3[1]]
      local_csr_rd[ActLMAddr3]
      immed[gprA_2, 0x0], gpr_wrboth
      local_csr_wr[ActLMAddr2, 0x40]
      alu[gprA_3, --, B, gprB_9]
      alu[gprA_3, --, B, gprB_9]
      alu[gprA_3, --, B, gprB_9]
      alu[gprA_4, --, B, *l$index2]
      br[.${EXIT}]`, { setup: (core, x) => { lmSetup(core, x); x.gprA[5] = 0x300; } });
    expect(s.gprA[1]).toBe(0x1000 + 0xc1);
    expect(s.gprA[2]).toBe(0x300);
    expect(s.gprB[2]).toBe(0x300);
    expect(s.gprA[4]).toBe(0x1000 + 0x10);
  });

  it('refuses an image that uses a pointer in the 3 instructions after writing it', () => {
    const img = loadImage(buildImage(assemble(`local_csr_wr[ActLMAddr3, gprA_5]\nnop\nalu[gprA_1, --, B, *l$index3[1]]\nbr[.${EXIT}]`)), { base: BASE });
    expect(() => new NfpInterpreter(img, defaultHooks())).toThrow(/instruction 258: uses LM pointer 3 2 instruction\(s\) after local_csr_wr\[ActLMAddr3\]/);
    expect(() => new NfpJsEngine(img, defaultHooks())).toThrow(BpfError);
  });
});

describe('memory commands', () => {
  const PKT = [0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a];
  const pktSetup = (_core: NfpCore, x: NfpContext, mem: NicMemory): void => {
    mem.ctm.set(PKT, 0x400);
    setBoth(x, 6, 0x400);
  };

  it('reads packet bytes from CTM in host order, network order and bytes (read32_swap, read32, read8)', () => {
    const { interp: s } = runBoth(`
      mem[read32_swap, $xfer_0, gprA_6, 0x7, 2], ctx_swap[sig1]
      alu[gprA_1, --, B, $xfer_0]
      alu[gprA_2, --, B, $xfer_1]
      mem[read32, $xfer_2, gprA_6, 0xc, 1], ctx_swap[sig1]
      mem[read8, $xfer_3, gprA_6, 0x1, 3], ctx_swap[sig2]
      br[.${EXIT}]`, { setup: pktSetup });
    expect(s.gprA[1]! >>> 0).toBe(0xaa998877);
    expect(s.gprA[2]! >>> 0).toBe(0xeeddccbb);
    expect(s.xferIn[2]! >>> 0).toBe(0xccddeeff);
    expect(s.xferIn[3]! >>> 0).toBe(0x11223300);
    expect(s.stall).toBe(3 * NFP_MEM_LATENCY.ctm);
  });

  it('writes bytes and words from the transfer-out registers (write8_swap, write32_swap, write32)', () => {
    const { interp: s } = runBoth(`
      immed[$xfer_0, 0xbeef]
      immed_w1[$xfer_0, 0xdead]
      mem[write8_swap, $xfer_0, gprA_6, 0x0, 3], ctx_swap[sig1]
      immed[$xfer_1, 0x1234]
      mem[write32_swap, $xfer_1, gprA_6, 0x8, 1], ctx_swap[sig1]
      mem[write32, $xfer_1, gprA_6, 0x10, 1], ctx_swap[sig1]
      alu[$xfer_2, --, B, $xfer_2]
      br[.${EXIT}]`, { setup: (c, x, m) => { pktSetup(c, x, m); x.xferIn[2] = 77; } });
    expect(s.ctm.slice(0x400, 0x404)).toEqual([0xef, 0xbe, 0xad, 0x33]);
    expect(s.ctm.slice(0x408, 0x40c)).toEqual([0x34, 0x12, 0x00, 0x00]);
    expect(s.ctm.slice(0x410, 0x414)).toEqual([0x00, 0x00, 0x12, 0x34]);
    // Transfer registers are two files: a move copies what a read brought into what a write will send.
    expect(s.xferOut[2]).toBe(77);
  });

  it('reaches EMEM and IMEM through 40-bit addresses, and unmapped space reads as all-ones', () => {
    const e = nfpAddr40('emem', 0x100);
    const i = nfpAddr40('imem', 0x80);
    const { interp: s } = runBoth(`
      mem[read32_swap, $xfer_0, gprA_2, <<8, gprB_3, 1], ctx_swap[sig1]
      mem[read32_swap, $xfer_1, gprB_5, <<8, gprA_4, 1], ctx_swap[sig1]
      mem[read32_swap, $xfer_2, gprB_7, <<8, gprA_6, 2], ctx_swap[sig1]
      immed[$xfer_0, 0x55]
      mem[write8, $xfer_0, gprB_7, <<8, gprA_6, 1], ctx_swap[sig1]
      br[.${EXIT}]`, {
      setup: (_c, x, mem) => {
        mem.emem.set([1, 2, 3, 4], 0x100);
        mem.imem.set([9, 8, 7, 6], 0x80);
        x.gprA[2] = e.hi; x.gprB[3] = e.lo;
        x.gprB[5] = i.hi; x.gprA[4] = i.lo;
        x.gprB[7] = 0xc0; x.gprA[6] = 0;
      },
    });
    expect(s.xferIn.slice(0, 4).map((v) => v >>> 0)).toEqual([0x04030201, 0x06070809, 0xffffffff, 0xffffffff]);
    expect(s.stall).toBe(NFP_MEM_LATENCY.emem + NFP_MEM_LATENCY.imem + 2 * NFP_MEM_LATENCY.ctm);
  });

  it('adds to big-endian counters atomically: add with a transfer register, add64, and add_imm through PREV_ALU (jit.c mem_xadd)', () => {
    const c = nfpAddr40('emem', 0x200);
    let mem2: NicMemory | undefined;
    const { interp: s } = runBoth(`
      ; 32-bit add of R2 (B2) to the counter R1 points at (A2/B3), xfer filled in the defer slot
      mem[add, $xfer_0, gprB_3, <<8, gprA_2, 1], ctx_swap[sig1], defer[1]
      alu[$xfer_0, --, B, gprB_4]
      ; 64-bit add at +8
      alu[gprA_20, gprA_2, +, 0x8]
      alu[gprB_20, gprB_3, +carry, 0x0]
      mem[add64, $xfer_0, gprB_20, <<8, gprA_20, 5], ctx_swap[sig1], defer[2]
      alu[$xfer_0, --, B, gprB_4]
      alu[$xfer_1, --, B, gprB_5]
      ; add_imm of a 16-bit value: no context swap, the value rides in PREV_ALU
      immed[gprA_21, 0x890]
      ld_field[gprA_21, 1100, gprB_8, <<16]
      mem[add_imm, $xfer_0, gprB_3, <<8, gprA_2, 1], indirect_ref
      br[.${EXIT}]`, {
      setup: (_c, x, mem) => {
        mem2 = mem;
        x.gprA[2] = c.lo; x.gprB[3] = c.hi;
        x.gprB[4] = 0xfffffff0 | 0; x.gprB[5] = 1; x.gprB[8] = 0x1234;
        mem.emem.set([0x00, 0x00, 0x00, 0x20], 0x200);
        mem.emem.set([0x00, 0x00, 0x00, 0x20, 0x00, 0x00, 0x00, 0x01], 0x208);
      },
    });
    const i32 = new Int32Array(mem2!.emem.buffer);
    expect(nfp_atomic_read_be32(i32, 0x200 / 4)).toBe(((0x20 + 0xfffffff0 + 0x1234) >>> 0));
    expect(nfp_atomic_read_be64(new BigInt64Array(mem2!.emem.buffer), 0x208 / 8)).toBe(((1n << 32n) | 0x20n) + ((1n << 32n) | 0xfffffff0n));
    expect(s.stall).toBe(2 * NFP_MEM_LATENCY.emem);
  });

  it('takes a longer length from PREV_ALU with indirect_ref (jit.c mem_ldx_data_init_pktcache)', () => {
    const { interp: s } = runBoth(`
      immed[--, 0x980]
      mem[read32_swap, $xfer_0, gprA_6, 0x0, 1], indirect_ref, ctx_swap[sig1]
      br[.${EXIT}]`, { setup: pktSetup });
    expect(s.xferIn.slice(0, 6).map((v) => v >>> 0)).toEqual([0x33221100, 0x77665544, 0xbbaa9988, 0xffeeddcc, 0x04030201, 0x08070605]);
    expect(s.xferIn[10]).toBe(0);
  });

  it('faults add_imm without its PREV_ALU immediate, and transfer-register overruns', () => {
    const a = runBoth(`mem[add_imm, $xfer_0, gprA_2, 0x0, 1]\nbr[.${EXIT}]`);
    expect(a.interp.exit).toMatch(/EFAULT: nfp core: add_imm without its immediate in PREV_ALU/);
    const b = runBoth(`mem[read32_swap, $xfer_30, gprA_2, 0x0, 4], ctx_swap[sig1]\nbr[.${EXIT}]`);
    expect(b.interp.exit).toMatch(/EFAULT: nfp core: read32 of 4 words overruns the transfer registers/);
  });
});

describe('cycles', () => {
  it('one per instruction; a taken branch pays the refill the defer slots do not cover; a fall-through pays nothing', () => {
    const plain = runBoth(`alu[gprA_1, --, B, 0x1]\nalu[gprA_2, --, B, 0x2]\nbr[.${EXIT}]`).interp;
    expect(plain.busy).toBe(3 + NFP_BRANCH_PENALTY);
    const deferred = runBoth(`br[.${EXIT}], defer[2]\nalu[gprA_1, --, B, 0x1]\nalu[gprA_2, --, B, 0x2]`).interp;
    expect(deferred.busy).toBe(3 + NFP_BRANCH_PENALTY - 2);
    expect(deferred.gprA.slice(1, 3)).toEqual([1, 2]);
    const notTaken = runBoth(`alu[--, --, B, 0x1]\nbeq[.${EXIT}]\nbr[.${EXIT}]`).interp;
    expect(notTaken.busy).toBe(3 + NFP_BRANCH_PENALTY);
    expect(runBoth(`alu[--, --, B, 0x0]\nbeq[.${EXIT}], defer[3]\nnop\nnop\nnop\nbr[.${EXIT}]`).interp.busy).toBe(5);
  });

  it('a loop costs its body every time round', () => {
    const s = runBoth(`
      immed[gprA_1, 0x10], gpr_wrboth
    top:
      alu[gprA_1, gprA_1, -, 0x1], gpr_wrboth
      bne[.top]
      br[.${EXIT}]`).interp;
    expect(s.busy).toBe(1 + 16 * 2 + 15 * NFP_BRANCH_PENALTY + 1 + NFP_BRANCH_PENALTY);
  });

  it('a swapping command waits its memory latency; a signalled one is paid at ctx_arb, overlapped; add_imm is free', () => {
    const e = nfpAddr40('emem', 0);
    const s = runBoth(`
      mem[read32_swap, $xfer_0, gprB_3, <<8, gprA_2, 1], sig_done[sig2]
      mem[read32_swap, $xfer_1, gprA_6, 0x0, 1], sig_done[sig3]
      ctx_arb[sig2, sig3]
      immed[gprA_21, 0x890]
      mem[add_imm, $xfer_0, gprB_3, <<8, gprA_2, 1], indirect_ref
      ctx_arb[voluntary]
      br[.${EXIT}]`, { setup: (_c, x) => { x.gprA[2] = e.lo; x.gprB[3] = e.hi; } }).interp;
    expect(s.stall).toBe(Math.max(NFP_MEM_LATENCY.emem, NFP_MEM_LATENCY.ctm));
    expect(s.busy).toBe(7 + NFP_BRANCH_PENALTY);
    expect(s.sig).toEqual(new Array(16).fill(0));
  });

  it('models an ME keeping four contexts busy: latency hides until the pipeline is full', () => {
    expect(nfpCoreCycles(100, 300, 4)).toBe(100);
    expect(nfpCoreCycles(100, 700, 4)).toBe(200);
    expect(nfpCoreCycles(100, 700, 1)).toBe(800);
  });

  it('uses the latencies a core is built with', () => {
    const img = loadImage(buildImage(assemble(`mem[read32, $xfer_0, gprA_1, 0x0, 1], ctx_swap[sig1]\nbr[.${EXIT}]`)), { base: BASE });
    const core = NfpCore.fromNic(makeNic(), 1, { latency: { ctm: 77 } });
    const x = core.contexts[3]!;
    new NfpJsEngine(img, defaultHooks()).run(core, x, BASE);
    expect(x.stall).toBe(77);
  });
});

describe('handing control to the firmware and back', () => {
  it('calls a helper with the JIT convention (A0 map id, B0 return address) and resumes at the return address', () => {
    const { interp: s, jsEngine } = runBoth(`
      alu[gprA_4, --, B, 0x30], gpr_wrboth
      br[.${HELPER}], defer[2]
      alu[gprA_0, --, B, 0x5]
      immed[gprB_0, .back]
      alu[gprA_9, --, B, 0x1]
    back:
      alu[gprA_10, gprA_0, +, 0x1], gpr_wrboth
      br[.${EXIT}]`);
    expect(s.gprA[9]).toBe(0);
    expect(s.gprA[10]).toBe(0x36);
    expect(s.exit).toBe(EXIT);
    expect(s.busy).toBe(4 + (NFP_BRANCH_PENALTY - 2) + 20 + 2 + NFP_BRANCH_PENALTY);
    expect(s.stall).toBe(7);
    expect(jsEngine.source).toContain(`case ${BASE + 5}:`);
  });

  it('returns through rtn, and a return address the translator did not guess still runs (handed to the interpreter)', () => {
    const { interp: s, jsEngine } = runBoth(`
      immed[gprA_20, 0x100]
      alu[gprA_21, gprA_20, +, 0x5]
      rtn[gprA_21], defer[1]
      alu[gprA_1, --, B, 0x1]
      alu[gprA_2, --, B, 0x2]
      alu[gprA_3, --, B, 0x3]
      br[.${EXIT}]`);
    expect(s.gprA.slice(1, 4)).toEqual([1, 0, 3]);
    expect(jsEngine.source).not.toContain(`case ${BASE + 5}:`);
  });

  it('refuses branches to addresses nobody owns, and faults a run that falls off the image', () => {
    const img = loadImage(buildImage(assemble('br[.42]')), { base: BASE });
    expect(() => new NfpInterpreter(img, defaultHooks())).toThrow(/instruction 256: branch to \.42, neither in the image nor a firmware address/);
    expect(() => new NfpJsEngine(img, defaultHooks())).toThrow(/branch to \.42/);
    const off = runBoth('immed[gprA_20, 0x5]\nrtn[gprA_20]');
    expect(off.interp.exit).toBe('EFAULT: nfp core: PC .5 is neither in the image nor a firmware address');
  });

  it('stops an image that never ends (ELOOP), on both engines', () => {
    const r = runBoth('top: br[.top]', { maxCycles: 5000 });
    expect(r.interp.exit).toMatch(/^ELOOP: nfp core: run stopped at \.256 after 5000 cycles/);
  });

  it('refuses defer slots holding control flow, and a local_csr_rd without its immed', () => {
    const bad = (text: string): string => {
      try { new NfpInterpreter(loadImage(buildImage(assemble(text, { base: BASE })), { base: BASE }), defaultHooks()); return 'ok'; } catch (e) { return (e as Error).message; }
    };
    expect(bad(`br[.${EXIT}], defer[1]\nbr[.${EXIT}]`)).toMatch(/instruction 257: br cannot sit in a defer slot/);
    expect(bad(`mem[read32, $xfer_0, gprA_1, 0x0, 1], ctx_swap[sig1], defer[1]\nmem[read32, $xfer_0, gprA_1, 0x0, 1], ctx_swap[sig1]`)).toMatch(/cmd cannot sit in a defer slot/);
    expect(bad('local_csr_rd[PseudoRndNum]\nalu[gprA_0, --, B, 0x1]')).toMatch(/local_csr_rd must be followed by the immed/);
    expect(bad(`local_csr_rd[PseudoRndNum]\nx: immed[gprA_0, 0x0]\nbr[.x]`)).toMatch(/a branch lands between local_csr_rd and its immed/);
  });

  it('draws pseudo-random numbers deterministically per ME, and reseeds on a CSR write', () => {
    const prog = `
      local_csr_rd[PseudoRndNum]
      immed[gprA_0, 0x0], gpr_wrboth
      local_csr_rd[PseudoRndNum]
      immed[gprA_1, 0x0], gpr_wrboth
      local_csr_wr[PseudoRndNum, 0x7]
      local_csr_rd[PseudoRndNum]
      immed[gprA_2, 0x0], gpr_wrboth
      br[.${EXIT}]`;
    const a = runBoth(prog).interp;
    const b = runBoth(prog).interp;
    expect(a.gprA.slice(0, 3)).toEqual(b.gprA.slice(0, 3));
    expect(a.gprA[0]).not.toBe(a.gprA[1]);
    let s = 7;
    s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
    expect(a.gprA[2]).toBe(s | 0);
  });
});

describe('running packets on a core (the shape of the firmware datapath loop)', () => {
  // An XDP-like image: plen from the packet vector (LM pointer 1), R1 = data, eth type at +12 in
  // host order; IPv4 -> XDP_PASS, ARP -> a map-helper call then XDP_TX, else XDP_DROP; the verdict
  // byte goes to A0 bits 23:16 and control to the firmware's "next packet" address, as nfp_outro_xdp.
  const IMAGE = `
      immed[gprB_22, 0x3fff]
      alu[gprB_22, gprB_22, AND, *l$index1]
      alu[gprA_2, --, B, *l$index1[2]], gpr_wrboth
      mem[read32_swap, $xfer_0, gprA_2, 0xc, 1], ctx_swap[sig1]
      ld_field_w_clr[gprA_4, 0011, $xfer_0], gpr_wrboth
      alu[--, gprA_4, XOR, 0x8]
      beq[.pass]
      immed[gprB_5, 0x608]
      alu[--, gprA_4, XOR, gprB_5]
      bne[.drop]
      br[.${HELPER}], defer[2]
      alu[gprA_0, --, B, 0x3]
      immed[gprB_0, .tx]
    tx: immed[gprB_2, 0x44]
      br[.out]
    pass: immed[gprB_2, 0x11]
      br[.out]
    drop: immed[gprB_2, 0x22]
    out:
      br[.${EXIT}], defer[2]
      alu[gprA_0, --, B, 0x0]
      ld_field[gprA_0, 1100, gprB_2, <<16]`;
  const PV_BASE = 0x800; // packet vectors after the 4 x 512 B stacks
  const ETH = [0x0800, 0x0806, 0x86dd];

  function runPackets(kind: 'interpreter' | 'js', n: number): { verdicts: number[]; busy: number; stall: number; perCtx: number[] } {
    const mem = makeNic();
    const core = NfpCore.fromNic(mem, 0);
    const image = loadImage(buildImage(assemble(IMAGE, { base: BASE })), { base: BASE });
    const hooks = defaultHooks();
    const engine: NfpEngine = kind === 'js' ? new NfpJsEngine(image, hooks) : new NfpInterpreter(image, hooks);
    const verdicts: number[] = [];
    for (let i = 0; i < n; i++) {
      const t = i % core.contexts.length;
      const x = core.contexts[t]!;
      // The firmware: the packet into this context's CTM buffer, its vector into LMEM, the pointers set.
      const pkt = 0x1000 + t * 0x800;
      mem.ctm.fill(0, pkt, pkt + 64);
      mem.ctm[pkt + 12] = ETH[i % 3]! >> 8;
      mem.ctm[pkt + 13] = ETH[i % 3]! & 0xff;
      const pv = (PV_BASE >> 2) + t * 8;
      core.lm[pv + PKT_VEC_PKT_LEN] = 64 | (1 << 20);
      core.lm[pv + PKT_VEC_PKT_PTR] = pkt;
      x.lmAddr[1] = pv << 2;
      x.lmAddr[0] = t * LAYOUT.stackBytesPerThread;
      x.gprA[22] = t * LAYOUT.stackBytesPerThread;
      const exit = engine.run(core, x, BASE);
      expect(exit).toBe(EXIT);
      verdicts.push((x.gprA[0]! >>> 16) & 0xff);
    }
    const busy = core.contexts.reduce((a, x) => a + x.busy, 0);
    const stall = core.contexts.reduce((a, x) => a + x.stall, 0);
    return { verdicts, busy, stall, perCtx: core.contexts.map((x) => x.busy) };
  }

  it('runs N packets round-robin on the 4 contexts; both engines give the same verdicts and cycles', () => {
    const a = runPackets('interpreter', 90);
    const b = runPackets('js', 90);
    expect(b).toEqual(a);
    expect(a.verdicts.slice(0, 3)).toEqual([0x11, 0x44, 0x22]);
    expect(a.stall).toBe(90 * NFP_MEM_LATENCY.ctm + 30 * 7);
    const cycles = nfpCoreCycles(a.busy, a.stall, 4);
    expect(cycles).toBe(Math.max(a.busy, (a.busy + a.stall) / 4));
    expect(cycles / 90).toBeGreaterThan(10);
  });
});

describe('the code store', () => {
  it('holds the image the driver writes (with ECC) and gives it back to the cores', () => {
    const mem = makeNic();
    const words = buildImage(assemble(`immed[gprA_1, 0x2a], gpr_wrboth\nbr[.${EXIT}]`));
    nfpWriteCodeStore(mem, BASE, words.map(nfp_ustore_calc_ecc_insn));
    const image = nfpImageFromCodeStore(mem, BASE, words.length);
    expect(image.insns.map(disasmInsn).slice(0, 2)).toEqual(['immed[gprA_1, 0x2a], gpr_wrboth', `br[.${EXIT}]`]);
    const core = NfpCore.fromNic(mem, 1);
    new NfpJsEngine(image, defaultHooks()).run(core, core.contexts[2]!, BASE);
    expect(core.contexts[2]!.gprB[1]).toBe(0x2a);
    expect(() => nfpWriteCodeStore(mem, LAYOUT.codeStoreInsns - 2, words)).toThrow(/do not fit the 8192-instruction code store/);
    // A flipped bit under a valid ECC is a corrupted store.
    nfpWriteCodeStore(mem, BASE, [nfp_ustore_calc_ecc_insn(words[0]!) ^ (1n << 3n)]);
    expect(() => nfpImageFromCodeStore(mem, BASE, 1)).toThrow(/ustore ECC error in instruction 256/);
    expect(() => nfpImageFromCodeStore(mem, 8000, 500)).toThrow(/outside the 8192-instruction store/);
  });
});

describe('hooks see and change the context', () => {
  it('lets a hook end the run from any address it owns, and reports which', () => {
    const other: NfpHook = (_c, x) => { x.gprA[30] = 1; return NFP_RUN_EXIT; };
    const s = runBoth(`alu[--, --, B, 0x1]\nbne[.17]\nbr[.${EXIT}]`, { hooks: defaultHooks([[17, other]]) }).interp;
    expect(s.exit).toBe(17);
    expect(s.gprA[30]).toBe(1);
  });
});
