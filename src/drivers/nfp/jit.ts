// The NFP JIT (drivers/net/ethernet/netronome/nfp/bpf/jit.c): BPF -> NFP microcode for one program, as a
// pipeline of named passes over the per-instruction records the verifier hook filled in (prog.ts,
// verifier.ts):
//
//   nfp_bpf_jit_prepare()       (at prepare) jump targets, subprogram starts
//   nfp_bpf_replace_map_ptrs()  a map lddw becomes the firmware's table id (or a perf array's map id)
//   nfp_bpf_optimize()          reg_init, neg_add_sub, ld_mask, ld_shift, pkt_cache
//   nfp_translate()             intro, one callback per instruction (instr_cb), outro, prefetch NOPs
//   nfp_fixup_branches()        internal jumps get their NFP targets
//   nfp_bpf_relo_for_vnic()     (at load) a copy placed at the vNIC's BPF_START, special branches to
//                               the firmware, relocation bytes cleared, ECC computed
//
// The callbacks live in jit-alu.ts (arithmetic, jumps), jit-mem.ts (stack, packet, map values, atomics,
// LD_ABS), jit-helpers.ts (helpers, calls, exits, intro/outro); jit-emit.ts writes the words through the
// NFP instruction table. Which BPF instructions have a callback is support.ts's table; the callback
// table here is typed by it, so the verifier hook and the JIT cannot disagree.
//
// Not done here (the kernel does it): nfp_bpf_opt_ldst_gather, which turns load/store pairs that copy
// packet or map bytes into the packet into one CPP bulk copy — the code without it is the same pairs,
// one read and one write each.

import { BpfError, errnoNumber } from '../../bpf/errno.js';
import { findOp, BPF_ALU, BPF_ALU64, BPF_JMP, BPF_JMP32, BPF_K, BPF_ADD, BPF_SUB, BPF_ABS, BPF_IND, BPF_LD, BPF_W, BPF_H, BPF_B, bpfClass, bpfMode, bpfSize, bpfOp, bpfSrc } from '../../bpf/opcodes.js';
import { bpf_map_is_offloaded } from '../../kernel/offload.js';
import { br_add_offset, br_get_offset, br_set_offset, decodeWord, encodeInsn, nfp_ustore_calc_ecc_insn } from '../../nic/asm.js';
import { BR_OFF_RELO, NFP_FORMATS, NFP_USTORE_PREFETCH_WINDOW } from '../../nic/isa.js';
import * as alu from './jit-alu.js';
import {
  OP_RELO_TYPE, RELO_BR_GO_ABORT, RELO_BR_GO_CALL_POP_REGS, RELO_BR_GO_CALL_PUSH_REGS, RELO_BR_GO_OUT, RELO_BR_HELPER, RELO_BR_NEXT_PKT,
  RELO_BR_REL, RELO_IMMED_REL, RELO_NONE, reloOf, wrp_nops,
} from './jit-emit.js';
import { call, jmp_exit, nfp_intro, nfp_outro, nfp_subprog_prologue } from './jit-helpers.js';
import * as mem from './jit-mem.js';
import { NfpBpfMap } from './offload.js';
import { NfpBpfProgArray } from './tail_call.js';
import {
  FLAG_INSN_DO_ZEXT, FLAG_INSN_IS_JUMP_DST, FLAG_INSN_IS_SUBPROG_START, FLAG_INSN_SKIP_MASK, FLAG_INSN_SKIP_PREC_DEPENDENT,
  nfp_is_subprog_start, type NfpBpfVnic, type NfpInsnMeta, type NfpProg,
} from './prog.js';
import type { NfpInstrCb } from './support.js';
import { nfp_bpf_instr_cb } from './support.js';

type Cb = (nfp_prog: NfpProg, meta: NfpInsnMeta) => void;

/** instr_cb[]: one callback per supported instruction (support.ts names them). */
const INSTR_CB: Readonly<Record<NfpInstrCb, Cb>> = {
  mov_reg64: alu.mov_reg64, mov_imm64: alu.mov_imm64, xor_reg64: alu.xor_reg64, xor_imm64: alu.xor_imm64,
  and_reg64: alu.and_reg64, and_imm64: alu.and_imm64, or_reg64: alu.or_reg64, or_imm64: alu.or_imm64,
  add_reg64: alu.add_reg64, add_imm64: alu.add_imm64, sub_reg64: alu.sub_reg64, sub_imm64: alu.sub_imm64,
  mul_reg64: alu.mul_reg64, mul_imm64: alu.mul_imm64, div_reg64: alu.div_reg64, div_imm64: alu.div_imm64,
  neg_reg64: alu.neg_reg64, shl_reg64: alu.shl_reg64, shl_imm64: alu.shl_imm64, shr_reg64: alu.shr_reg64,
  shr_imm64: alu.shr_imm64, ashr_reg64: alu.ashr_reg64, ashr_imm64: alu.ashr_imm64,
  mov_reg: alu.mov_reg, mov_imm: alu.mov_imm, xor_reg: alu.xor_reg, xor_imm: alu.xor_imm, and_reg: alu.and_reg,
  and_imm: alu.and_imm, or_reg: alu.or_reg, or_imm: alu.or_imm, add_reg: alu.add_reg, add_imm: alu.add_imm,
  sub_reg: alu.sub_reg, sub_imm: alu.sub_imm, mul_reg: alu.mul_reg, mul_imm: alu.mul_imm, div_reg: alu.div_reg,
  div_imm: alu.div_imm, neg_reg: alu.neg_reg, shl_reg: alu.shl_reg, shl_imm: alu.shl_imm, shr_reg: alu.shr_reg,
  shr_imm: alu.shr_imm, ashr_reg: alu.ashr_reg, ashr_imm: alu.ashr_imm,
  end_reg32: alu.end_reg32, imm_ld8: alu.imm_ld8,
  data_ld1: mem.data_ld1, data_ld2: mem.data_ld2, data_ld4: mem.data_ld4,
  data_ind_ld1: mem.data_ind_ld1, data_ind_ld2: mem.data_ind_ld2, data_ind_ld4: mem.data_ind_ld4,
  mem_ldx1: mem.mem_ldx1, mem_ldx2: mem.mem_ldx2, mem_ldx4: mem.mem_ldx4, mem_ldx8: mem.mem_ldx8,
  mem_stx1: mem.mem_stx1, mem_stx2: mem.mem_stx2, mem_stx4: mem.mem_stx4, mem_stx8: mem.mem_stx8,
  mem_st1: mem.mem_st1, mem_st2: mem.mem_st2, mem_st4: mem.mem_st4, mem_st8: mem.mem_st8,
  mem_atomic4: mem.mem_atomic4, mem_atomic8: mem.mem_atomic8,
  jump: alu.jump, jeq_imm: alu.jeq_imm, jeq32_imm: alu.jeq32_imm, cmp_imm: alu.cmp_imm, jset_imm: alu.jset_imm,
  jne_imm: alu.jne_imm, jeq_reg: alu.jeq_reg, cmp_reg: alu.cmp_reg, jset_reg: alu.jset_reg, jne_reg: alu.jne_reg,
  call, jmp_exit,
};

/** What a translation can be asked to do differently (tests and measurements; the kernel has no such knobs). */
export interface NfpJitOptions {
  /** Clear the upper half after every 32-bit result, as the JIT did before Linux 5.3 (zext_dst ignored). */
  readonly zextAlways?: boolean;
  /** Skip the packet cache optimisation (every packet read is its own command). */
  readonly noPktCache?: boolean;
}

const isJmp = (m: NfpInsnMeta): boolean => {
  const c = bpfClass(m.insn.code);
  return (c === BPF_JMP || c === BPF_JMP32) && m.op !== undefined;
};
const isHelperCall = (m: NfpInsnMeta): boolean => m.op?.kind === 'call' && m.op.target === 'helper';
const isPseudoCall = (m: NfpInsnMeta): boolean => m.op?.kind === 'call' && m.op.target === 'local';
const isExit = (m: NfpInsnMeta): boolean => m.op?.kind === 'exit';
const ldstBytes = (m: NfpInsnMeta): number => {
  const op = m.op;
  return op !== undefined && (op.kind === 'ldx' || op.kind === 'stx' || op.kind === 'st' || op.kind === 'atomic') ? op.size : 0;
};

// ---------------------------------------------------------------------------------------------------
// Preparation (at prepare time)

/** nfp_bpf_jit_prepare(): where every jump and call goes; the targets of calls start subprograms. */
export function nfp_bpf_jit_prepare(nfp_prog: NfpProg): void {
  for (const meta of nfp_prog.insns) {
    if (!isJmp(meta) || isExit(meta) || isHelperCall(meta)) continue;
    const op = meta.op!;
    if (op.kind === 'call' && op.target !== 'local') continue;
    const pseudo_call = isPseudoCall(meta);
    const dst_idx = meta.n + 1 + (pseudo_call ? meta.insn.imm : op.kind === 'ja' && op.long ? meta.insn.imm : meta.insn.off);
    const dst_meta = nfp_prog.insns[dst_idx];
    if (dst_meta === undefined) continue; // the verifier refuses jumps out of the program
    if (pseudo_call) dst_meta.flags |= FLAG_INSN_IS_SUBPROG_START;
    dst_meta.flags |= FLAG_INSN_IS_JUMP_DST;
    meta.jmp_dst = dst_meta;
  }
}

// ---------------------------------------------------------------------------------------------------
// Map pointers and optimisations

/** nfp_bpf_replace_map_ptrs(): the firmware's table id for offloaded maps, the map id for perf arrays. */
function nfp_bpf_replace_map_ptrs(nfp_prog: NfpProg): void {
  for (const [idx, { map }] of nfp_prog.ldImm) {
    const meta1 = nfp_prog.insns[idx];
    const meta2 = nfp_prog.insns[idx + 1];
    if (meta1 === undefined || meta2 === undefined) continue;
    if ((meta1.flags | meta2.flags) & FLAG_INSN_SKIP_MASK) continue;
    let id: number;
    if (map.map_type === 4 /* BPF_MAP_TYPE_PERF_EVENT_ARRAY: offload-neutral */) {
      id = map.id;
    } else if (bpf_map_is_offloaded(map) && map.dev_priv instanceof NfpBpfMap) {
      id = map.dev_priv.tid;
    } else if (bpf_map_is_offloaded(map) && map.dev_priv instanceof NfpBpfProgArray) {
      // nfp-emu, paper-only: the tail-call sequence reads the array's table; R2 holds its first slot.
      id = map.dev_priv.slot_base;
    } else {
      throw new BpfError('EINVAL', `nfp: map ${map.id} is neither offloaded to this device nor offload-neutral`);
    }
    meta1.insn.imm = id;
    meta2.insn.imm = 0;
  }
}

/** nfp_bpf_opt_reg_init(): skip the `r6 = r1` programs start with; the context is never a real pointer here. */
function nfp_bpf_opt_reg_init(nfp_prog: NfpProg): void {
  for (const meta of nfp_prog.insns) {
    const x = meta.insn;
    // Programs converted from cBPF start with register xoring.
    if (x.code === (BPF_ALU64 | 0xa0 | 0x08) && x.src === x.dst) continue;
    if (x.code === (BPF_ALU64 | 0xb0 | 0x08) && x.src === 1 && x.dst === 6) meta.flags |= FLAG_INSN_SKIP_PREC_DEPENDENT;
    if (!(meta.flags & FLAG_INSN_SKIP_MASK)) return;
  }
}

/**
 * nfp_bpf_opt_neg_add_sub(): add/sub of a negative immediate becomes sub/add of a positive one (which
 * fits an operand more often); the >=/< compares with a negative immediate add instead of subtract.
 * INT_MIN is left alone: its negation is itself, and the kernel's rewrite of it changes the result.
 */
function nfp_bpf_opt_neg_add_sub(nfp_prog: NfpProg): void {
  for (const meta of nfp_prog.insns) {
    if (meta.flags & FLAG_INSN_SKIP_MASK) continue;
    const x = meta.insn;
    const cls = bpfClass(x.code);
    const isAlu = cls === BPF_ALU || cls === BPF_ALU64;
    if (!isAlu && !isJmp(meta)) continue;
    if (bpfSrc(x.code) !== BPF_K || x.imm >= 0 || x.imm === -0x80000000) continue;
    if (!isAlu) {
      if (meta.op?.kind !== 'jcond') continue;
      const c = meta.op.cond;
      if (c !== 'jge' && c !== 'jsge' && c !== 'jlt' && c !== 'jslt') continue;
      meta.jump_neg_op = true;
    } else {
      const op = bpfOp(x.code);
      if (op === BPF_ADD) x.code = cls | BPF_SUB | BPF_K;
      else if (op === BPF_SUB) x.code = cls | BPF_ADD | BPF_K;
      else continue;
      (meta as { op: unknown }).op = findOp(x.code, x.src, x.off, -x.imm);
    }
    x.imm = -x.imm;
  }
}

/** nfp_bpf_opt_ld_mask(): a mask right after LD_ABS/IND that the load's zero-extension already did. */
function nfp_bpf_opt_ld_mask(nfp_prog: NfpProg): void {
  const exp_mask: Partial<Record<number, number>> = { [BPF_B]: 0xff, [BPF_H]: 0xffff, [BPF_W]: -1 };
  for (let i = 0; i + 1 < nfp_prog.insns.length; i++) {
    const insn = nfp_prog.insns[i]!.insn;
    const meta2 = nfp_prog.insns[i + 1]!;
    const next = meta2.insn;
    if (bpfClass(insn.code) !== BPF_LD || (bpfMode(insn.code) !== BPF_ABS && bpfMode(insn.code) !== BPF_IND)) continue;
    if (next.code !== (BPF_ALU64 | 0x50 | BPF_K)) continue;
    const mask = exp_mask[bpfSize(insn.code)];
    if (mask === undefined || mask !== next.imm) continue;
    if (next.src || next.dst) continue;
    if (meta2.flags & FLAG_INSN_IS_JUMP_DST) continue;
    meta2.flags |= FLAG_INSN_SKIP_PREC_DEPENDENT;
  }
}

/** nfp_bpf_opt_ld_shift(): the `<<= 32; >>= 32` pair after a 4-byte LD_ABS/IND (its result is already 32-bit). */
function nfp_bpf_opt_ld_shift(nfp_prog: NfpProg): void {
  const LSH = BPF_ALU64 | 0x60 | BPF_K;
  const RSH = BPF_ALU64 | 0x70 | BPF_K;
  for (let i = 0; i + 2 < nfp_prog.insns.length; i++) {
    const insn = nfp_prog.insns[i]!.insn;
    const meta2 = nfp_prog.insns[i + 1]!;
    const meta3 = nfp_prog.insns[i + 2]!;
    const n1 = meta2.insn;
    const n2 = meta3.insn;
    if (bpfClass(insn.code) !== BPF_LD || (bpfMode(insn.code) !== BPF_ABS && bpfMode(insn.code) !== BPF_IND)) continue;
    if (bpfSize(insn.code) !== BPF_W) continue;
    if (!((n1.code === LSH && n2.code === RSH) || (n1.code === RSH && n2.code === LSH))) continue;
    if (n1.src || n1.dst || n2.src || n2.dst) continue;
    if (n1.imm !== 0x20 || n2.imm !== 0x20) continue;
    if ((meta2.flags | meta3.flags) & FLAG_INSN_IS_JUMP_DST) continue;
    meta2.flags |= FLAG_INSN_SKIP_PREC_DEPENDENT;
    meta3.flags |= FLAG_INSN_SKIP_PREC_DEPENDENT;
  }
}

/**
 * nfp_bpf_opt_pkt_cache(): consecutive packet reads through the same pointer (same verifier id and
 * fixed offset) within a 64-byte window are served by one read of the window into the transfer
 * registers. A jump target, a call, a packet store or a read of anything else ends the run.
 */
function nfp_bpf_opt_pkt_cache(nfp_prog: NfpProg): void {
  let range_node: NfpInsnMeta | null = null;
  let range_start = 0;
  let range_end = 0;
  let cache_avail = false;
  let range_ptr_off = 0;
  let range_ptr_id = 0;
  const close = (): void => {
    if (range_node !== null) {
      range_node.pkt_cache.range_start = range_start;
      range_node.pkt_cache.range_end = range_end;
    }
  };
  for (const meta of nfp_prog.insns) {
    if (meta.flags & FLAG_INSN_IS_JUMP_DST) cache_avail = false;
    if (meta.flags & FLAG_INSN_SKIP_MASK) continue;
    const op = meta.op;
    const kind = op?.kind;
    const storePkt = (kind === 'stx' || kind === 'st') && meta.ptr.type === 'pkt';
    if (storePkt || kind === 'call' || kind === 'ldabs') {
      cache_avail = false;
      continue;
    }
    if (kind !== 'ldx') continue;
    if (meta.ptr.type !== 'pkt' || meta.ldst_gather_len) {
      cache_avail = false;
      continue;
    }
    const off = meta.insn.off;
    const end = off + ldstBytes(meta);
    if (cache_avail && meta.ptr.id === range_ptr_id && meta.ptr.off === range_ptr_off) {
      const new_start = Math.min(range_start, off);
      const new_end = Math.max(range_end, end);
      if (new_start === range_start && new_end === range_end) continue;
      if (new_end - new_start <= 64) {
        range_start = new_start;
        range_end = new_end;
        continue;
      }
    }
    // Start a new window here (ending the current one).
    cache_avail = true;
    close();
    range_node = meta;
    meta.pkt_cache.do_init = true;
    range_ptr_id = meta.ptr.id;
    range_ptr_off = meta.ptr.off;
    range_start = off;
    range_end = end;
  }
  close();
  for (const meta of nfp_prog.insns) {
    if (meta.flags & FLAG_INSN_SKIP_MASK) continue;
    if (meta.op?.kind !== 'ldx' || meta.ptr.type !== 'pkt' || meta.ldst_gather_len) continue;
    if (meta.pkt_cache.do_init) {
      range_start = meta.pkt_cache.range_start;
      range_end = meta.pkt_cache.range_end;
    } else {
      meta.pkt_cache.range_start = range_start;
      meta.pkt_cache.range_end = range_end;
    }
  }
}

function nfp_bpf_optimize(nfp_prog: NfpProg, opts: NfpJitOptions): void {
  nfp_bpf_opt_reg_init(nfp_prog);
  nfp_bpf_opt_neg_add_sub(nfp_prog);
  nfp_bpf_opt_ld_mask(nfp_prog);
  nfp_bpf_opt_ld_shift(nfp_prog);
  if (!opts.noPktCache) nfp_bpf_opt_pkt_cache(nfp_prog);
}

// ---------------------------------------------------------------------------------------------------
// Translation

const stripRelo = (w: bigint): bigint => w & ~OP_RELO_TYPE;

/** nfp_is_br(): a branch word (br or br_bit), whatever its relocation byte. */
function nfp_is_br(w: bigint): boolean {
  const x = stripRelo(w);
  return (x & NFP_FORMATS.br.mask) === NFP_FORMATS.br.base || (x & NFP_FORMATS.br_bit.mask) === NFP_FORMATS.br_bit.base;
}

function withRelo(w: bigint, f: (x: bigint) => bigint): bigint {
  return f(stripRelo(w)) | (w & OP_RELO_TYPE);
}

function immedValue(w: bigint): number {
  const x = decodeWord(stripRelo(w));
  if (x.op !== 'immed' || x.width !== 'all' || x.invert || x.shift !== 0) throw new BpfError('EFAULT', "nfp: Can't decode/encode immed!");
  return x.imm;
}

function immedSetValue(w: bigint, value: number): bigint {
  return withRelo(w, (x) => {
    const d = decodeWord(x);
    if (d.op !== 'immed') throw new BpfError('EFAULT', "nfp: Can't decode/encode immed!");
    return encodeInsn({ ...d, imm: value & 0xffff });
  });
}

function nfp_start_subprog(nfp_prog: NfpProg, meta: NfpInsnMeta): void {
  const depth = nfp_prog.subprog[meta.subprog_idx]?.stack_depth ?? 0;
  nfp_prog.stack_frame_depth = Math.ceil(depth / 4) * 4;
  nfp_subprog_prologue(nfp_prog);
}

function checkError(nfp_prog: NfpProg): void {
  if (nfp_prog.error !== null) throw nfp_prog.error;
}

/** nfp_fixup_branches(): internal jumps to the NFP address of their BPF target. */
function nfp_fixup_branches(nfp_prog: NfpProg): void {
  const prog = nfp_prog.prog;
  const insns = nfp_prog.insns;
  insns.forEach((meta, i) => {
    if (meta.flags & FLAG_INSN_SKIP_MASK) return;
    if (!isJmp(meta)) return;
    if (isExit(meta) && meta.subprog_idx !== 0) return;
    if (isHelperCall(meta)) return;
    let br_idx = i === insns.length - 1 ? nfp_prog.last_bpf_off : insns[i + 1]!.off - 1;
    // A BPF-to-BPF call's stack restore comes after the branch.
    if (isPseudoCall(meta)) br_idx -= meta.num_insns_after_br;
    const w = prog[br_idx];
    if (w === undefined || !nfp_is_br(w)) {
      const msg = `Fixup found block not ending in branch ${br_idx} ${meta.insn.code.toString(16).padStart(2, '0')} ${(w ?? 0n).toString(16).padStart(16, '0')}!!`;
      nfp_prog.bpf.log.pr_info(msg);
      throw new BpfError('ELOOP', `nfp: ${msg}`);
    }
    if (isExit(meta)) return;
    // Leave special branches for later.
    if (reloOf(w) !== RELO_BR_REL && !isPseudoCall(meta)) return;
    const jmp_dst = meta.jmp_dst;
    if (jmp_dst === null) throw new BpfError('ELOOP', "nfp: Non-exit jump doesn't have destination info recorded!!");
    if (jmp_dst.flags & FLAG_INSN_SKIP_PREC_DEPENDENT) {
      nfp_prog.bpf.log.pr_info('Branch landing on removed instruction!!');
      throw new BpfError('ELOOP', 'nfp: Branch landing on removed instruction!!');
    }
    if (isPseudoCall(meta) && nfp_prog.subprog[jmp_dst.subprog_idx]?.needs_reg_push) {
      // The push subroutine returns to the callee: its address goes in the immed after the branch.
      const imm = prog[br_idx + 1]!;
      if (immedValue(imm) !== 0) throw new BpfError('EINVAL', 'nfp: BUG: failed to fix up callee register saving');
      prog[br_idx + 1] = immedSetValue(imm, jmp_dst.off);
    }
    if (reloOf(w) !== RELO_BR_REL) return;
    for (let idx = meta.off; idx <= br_idx; idx++) {
      if (nfp_is_br(prog[idx]!)) prog[idx] = withRelo(prog[idx]!, (x) => br_set_offset(x, jmp_dst.off));
    }
  });
}

/** The callback of one instruction, and the lddw second half's. */
function callbackOf(nfp_prog: NfpProg, meta: NfpInsnMeta, i: number): ((p: NfpProg, m: NfpInsnMeta) => void) | undefined {
  const prev = i > 0 ? nfp_prog.insns[i - 1] : undefined;
  if (prev?.double_cb === 'imm_ld8_part2') return (p, m) => alu.imm_ld8_part2(p, m, prev);
  const name = nfp_bpf_instr_cb(meta.op);
  return name === undefined ? undefined : INSTR_CB[name];
}

/** nfp_translate(): the whole image. */
function nfp_translate(nfp_prog: NfpProg): void {
  nfp_prog.stack_frame_depth = Math.ceil((nfp_prog.subprog[0]?.stack_depth ?? 0) / 4) * 4;
  nfp_intro(nfp_prog);
  checkError(nfp_prog);
  nfp_prog.insns.forEach((meta, i) => {
    meta.off = nfp_prog.prog.length;
    if (nfp_is_subprog_start(meta)) {
      nfp_start_subprog(nfp_prog, meta);
      checkError(nfp_prog);
    }
    if (meta.flags & FLAG_INSN_SKIP_MASK) {
      nfp_prog.n_translated++;
      return;
    }
    const cb = callbackOf(nfp_prog, meta, i);
    if (cb === undefined) throw new BpfError('ENOENT', `nfp: no translation for instruction ${i} (code 0x${meta.insn.code.toString(16)})`);
    cb(nfp_prog, meta);
    checkError(nfp_prog);
    nfp_prog.n_translated++;
  });
  nfp_prog.last_bpf_off = nfp_prog.prog.length - 1;
  nfp_outro(nfp_prog);
  checkError(nfp_prog);
  wrp_nops(nfp_prog, NFP_USTORE_PREFETCH_WINDOW);
  checkError(nfp_prog);
  nfp_fixup_branches(nfp_prog);
}

/**
 * nfp_bpf_jit(): map pointers, optimisations, translation. A failure is logged as the kernel does
 * ("Translation failed with error %d (translated: %u)"); the load fails with ENOSPC when the code store
 * is full (the wording; the kernel turns every translation error into EINVAL), else EINVAL.
 */
export function nfp_bpf_jit(nfp_prog: NfpProg, opts: NfpJitOptions = {}): void {
  nfp_prog.prog = [];
  nfp_prog.error = null;
  nfp_prog.n_translated = 0;
  if (opts.zextAlways) for (const meta of nfp_prog.insns) meta.flags |= FLAG_INSN_DO_ZEXT;
  nfp_bpf_replace_map_ptrs(nfp_prog);
  nfp_bpf_optimize(nfp_prog, opts);
  try {
    nfp_translate(nfp_prog);
  } catch (e) {
    if (!(e instanceof BpfError)) throw e;
    nfp_prog.bpf.log.pr_info(`Translation failed with error -${errnoNumber(e.errno)} (translated: ${nfp_prog.n_translated})`);
    if (e.errno === 'ENOSPC') throw e;
    throw new BpfError('EINVAL', `nfp: translation failed: ${e.message}`, { cause: e });
  }
}

// ---------------------------------------------------------------------------------------------------
// Relocation

/**
 * nfp_bpf_relo_for_vnic(): the image as a vNIC loads it at start_off: internal branches and code
 * addresses moved by start_off, exits to the firmware's "next packet" address, helper calls to the
 * FUNC addresses the firmware advertised; relocation bytes cleared and ECC computed.
 */
export function nfp_bpf_relo_for_vnic(nfp_prog: NfpProg, bv: NfpBpfVnic): bigint[] {
  const h = nfp_prog.bpf.helpers;
  const fail = (msg: string): never => {
    nfp_prog.bpf.log.pr_info(msg);
    throw new BpfError('EINVAL', `nfp: ${msg}`);
  };
  return nfp_prog.prog.map((w) => {
    const x = stripRelo(w);
    let out = x;
    switch (reloOf(w)) {
      case RELO_NONE: break;
      case RELO_BR_REL: out = br_add_offset(x, bv.start_off); break;
      case RELO_BR_GO_OUT: out = br_set_offset(x, nfp_prog.tgt_out + bv.start_off); break;
      case RELO_BR_GO_ABORT: out = br_set_offset(x, nfp_prog.tgt_abort + bv.start_off); break;
      case RELO_BR_GO_CALL_PUSH_REGS:
        if (!nfp_prog.tgt_call_push_regs) fail('BUG: failed to detect subprogram registers needs');
        out = br_set_offset(x, nfp_prog.tgt_call_push_regs + bv.start_off);
        break;
      case RELO_BR_GO_CALL_POP_REGS:
        if (!nfp_prog.tgt_call_pop_regs) fail('BUG: failed to detect subprogram registers needs');
        out = br_set_offset(x, nfp_prog.tgt_call_pop_regs + bv.start_off);
        break;
      case RELO_BR_NEXT_PKT: out = br_set_offset(x, bv.tgt_done); break;
      case RELO_BR_HELPER: {
        const func = br_get_offset(x) - BR_OFF_RELO;
        const addr = func === 1 ? h.map_lookup : func === 2 ? h.map_update : func === 3 ? h.map_delete : func === 25 ? h.perf_event_output : 0;
        if (addr === 0) fail(`relocation of unknown helper ${func}`);
        out = br_set_offset(x, addr);
        break;
      }
      case RELO_IMMED_REL: out = immedSetValue(x, immedValue(x) + bv.start_off); break;
      default: fail(`unknown relocation type ${reloOf(w)}`);
    }
    return nfp_ustore_calc_ecc_insn(out);
  });
}
