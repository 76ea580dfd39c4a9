// The NFP JIT's memory instructions (drivers/net/ethernet/netronome/nfp/bpf/jit.c): the BPF stack in the
// core's local memory (LMEM, reached only through the LM address pointers; the five access cases of the
// seed paper, section "Stack Offload", chosen from what the verifier proved about the pointer), packet
// data in CTM (read32_swap / write8_swap on the 32-bit CTM address, with the packet cache: consecutive
// reads through one pointer fetch their 64-byte window once), map values in EMEM (read32_swap on the
// 40-bit address the lookup helper returned), atomic adds on map values (the atomic engine's add_imm or
// add), the context (data/data_end come from the packet vector), queue selection, and the cBPF packet
// loads (LD_ABS/LD_IND: big-endian, bounds-checked against the packet length, abort when outside).

import { BpfError } from '../../bpf/errno.js';
import { BPF_PROG_TYPE } from '../../bpf/prog-types.js';
import { XDP_MD } from '../../kernel/net/xdp.js';
import {
  CMD_OVE_DATA_SHIFT, CMD_OVE_LEN, CMD_OV_LEN_SHIFT, PKT_VEL_QSEL_SET_BIT, RE_REG_LM_IDX_MAX, reg_lm, reg_lm_inc, reg_xfer,
  type NfpReg,
} from '../../nic/isa.js';
import {
  NFP_REG_ST_IMM, RELO_BR_GO_ABORT, addr40_offset, emit_alu, emit_br, emit_br_relo, emit_cmd, emit_cmd_any, emit_cmd_indir, emit_csr_wr,
  emit_ld_field, emit_ld_field_any, emit_shf, imm_a, imm_b, imm_both, imma_a, imma_b, nfp_prog_confirm_current_offset,
  nfp_prog_current_offset, plen_reg, pptr_reg, pv_qsel_set, pv_qsel_val, re_load_imm_any, reg_a, reg_b, reg_both, reg_imm, reg_none,
  stack_imm, stack_reg, ur_load_imm_any, wrp_immed, wrp_mov, wrp_nops, wrp_reg_or_subpart, wrp_reg_subpart, wrp_zext,
} from './jit-emit.js';
import {
  FLAG_INSN_DO_ZEXT, FLAG_INSN_PTR_CALLER_STACK_FRAME, type NfpInsnMeta, type NfpProg, type NfpStackCase,
} from './prog.js';
import { SKB_DATA, SKB_DATA_END, SKB_LEN } from './support.js';

type Cb = (nfp_prog: NfpProg, meta: NfpInsnMeta) => void;

const REG_WIDTH = 4;
/** NFP_NET_RXR_MAX: the queue a too-large rx_queue_index selects. */
const NFP_NET_RXR_MAX = 64;

const roundDown = (x: number, a: number): number => Math.floor(x / a) * a;
const roundUp = (x: number, a: number): number => Math.ceil(x / a) * a;
const ptrOff = (meta: NfpInsnMeta): number => meta.ptr.off + Number(BigInt.asIntN(64, meta.ptr.var_off.value));

function eopnotsupp(why: string): never {
  throw new BpfError('EOPNOTSUPP', `nfp: ${why}`);
}

// ---------------------------------------------------------------------------------------------------
// CTM packet data and EMEM map values

/** data_ld(): big-endian bytes from the packet (read8), for LD_ABS/LD_IND. */
function data_ld(nfp_prog: NfpProg, meta: NfpInsnMeta, offset: NfpReg, dst_gpr: number, size: number): void {
  const sz = Math.max(size, 4);
  const shift = size < 4 ? 4 - size : 0;
  emit_cmd(nfp_prog, 'read8', '32b', 0, pptr_reg(), offset, sz - 1, 'swap');
  let i = 0;
  if (shift) emit_shf(nfp_prog, reg_both(dst_gpr), reg_none(), 'none', reg_xfer(0), 'r_shf', shift * 8);
  else for (; i * 4 < size; i++) wrp_mov(nfp_prog, reg_both(dst_gpr + i), reg_xfer(i));
  if (i < 2) wrp_zext(nfp_prog, meta, dst_gpr);
}

/** data_ld_host_order(): little-endian (host order) reads through read32_swap, masked to the size. */
function data_ld_host_order(nfp_prog: NfpProg, meta: NfpInsnMeta, dst_gpr: number, lreg: NfpReg, rreg: NfpReg, size: number, mode: '32b' | '40b_ba'): void {
  const sz = Math.max(size, 4);
  const mask = size < 4 ? (1 << size) - 1 : 0;
  emit_cmd(nfp_prog, 'read32_swap', mode, 0, lreg, rreg, sz / 4 - 1, 'swap');
  let i = 0;
  if (mask) emit_ld_field_any(nfp_prog, reg_both(dst_gpr), mask, reg_xfer(0), 'r_rot', 0, true);
  else for (; i * 4 < size; i++) wrp_mov(nfp_prog, reg_both(dst_gpr + i), reg_xfer(i));
  if (i < 2) wrp_zext(nfp_prog, meta, dst_gpr);
}

function construct_data_ind_ld(nfp_prog: NfpProg, meta: NfpInsnMeta, offset: number, src: number, size: number): void {
  // The true offset (src_reg + imm), then the packet length check.
  const tmp = ur_load_imm_any(nfp_prog, offset, imm_b());
  emit_alu(nfp_prog, imm_both(), reg_a(src), 'add', tmp);
  emit_alu(nfp_prog, imm_a(), imm_a(), 'add', reg_imm(size));
  emit_alu(nfp_prog, reg_none(), plen_reg(), 'sub', imm_a());
  emit_br_relo(nfp_prog, 'bcc', 15000, 0, RELO_BR_GO_ABORT);
  data_ld(nfp_prog, meta, imm_b(), 0, size);
}

function construct_data_ld(nfp_prog: NfpProg, meta: NfpInsnMeta, offset: number, size: number): void {
  let tmp = ur_load_imm_any(nfp_prog, offset + size, imm_a());
  emit_alu(nfp_prog, reg_none(), plen_reg(), 'sub', tmp);
  emit_br_relo(nfp_prog, 'bcc', 15000, 0, RELO_BR_GO_ABORT);
  tmp = re_load_imm_any(nfp_prog, offset, imm_b());
  data_ld(nfp_prog, meta, tmp, 0, size);
}

export const data_ld1: Cb = (p, m) => construct_data_ld(p, m, m.insn.imm, 1);
export const data_ld2: Cb = (p, m) => construct_data_ld(p, m, m.insn.imm, 2);
export const data_ld4: Cb = (p, m) => construct_data_ld(p, m, m.insn.imm, 4);
export const data_ind_ld1: Cb = (p, m) => construct_data_ind_ld(p, m, m.insn.imm, m.insn.src * 2, 1);
export const data_ind_ld2: Cb = (p, m) => construct_data_ind_ld(p, m, m.insn.imm, m.insn.src * 2, 2);
export const data_ind_ld4: Cb = (p, m) => construct_data_ind_ld(p, m, m.insn.imm, m.insn.src * 2, 4);

function data_stx_host_order(nfp_prog: NfpProg, dst_gpr: number, offset: NfpReg, src_gpr: number, size: number): void {
  for (let i = 0; i * 4 < size; i++) wrp_mov(nfp_prog, reg_xfer(i), reg_a(src_gpr + i));
  emit_cmd(nfp_prog, 'write8_swap', '32b', 0, reg_a(dst_gpr), offset, size - 1, 'swap');
}

function data_st_host_order(nfp_prog: NfpProg, dst_gpr: number, offset: NfpReg, imm: number, size: number): void {
  wrp_immed(nfp_prog, reg_xfer(0), imm);
  if (size === 8) wrp_immed(nfp_prog, reg_xfer(1), imm < 0 ? 0xffffffff : 0);
  emit_cmd(nfp_prog, 'write8_swap', '32b', 0, reg_a(dst_gpr), offset, size - 1, 'swap');
}

// ---------------------------------------------------------------------------------------------------
// The stack in LMEM

type LmemStep = (nfp_prog: NfpProg, gpr: number, gpr_byte: number, off: number, size: number, first: boolean, new_gpr: boolean,
  last: boolean, lm3: boolean, needs_inc: boolean) => boolean;

/**
 * wrp_lmem_load(): one slice of a stack read into a GPR. Whole words move; a part of a word is merged
 * with ld_field, which reaches only 8 words (restricted operand) — beyond that the word goes through
 * imm_a first. Returns whether a part went through imm_a (the fifth case).
 */
const wrp_lmem_load: LmemStep = (nfp_prog, dst, dst_byte, off, size, first, new_gpr, last, lm3, needs_inc) => {
  const should_inc = needs_inc && new_gpr && !last;
  if (dst_byte + size > 4 || (off % 4) + size > 4) eopnotsupp('stack load slice crosses a word');
  const idx = Math.floor(off / 4);
  if (size === 4) {
    wrp_mov(nfp_prog, reg_both(dst), should_inc ? reg_lm_inc(3) : reg_lm(lm3 ? 3 : 0, idx));
    return false;
  }
  if (lm3 && idx > RE_REG_LM_IDX_MAX) eopnotsupp('stack load beyond the LM pointer window');
  const src_byte = off % 4;
  const mask = ((1 << size) - 1) << dst_byte;
  const { sc, shf } = byteMove(src_byte, dst_byte);
  let reg: NfpReg;
  let rmw = false;
  if (idx <= RE_REG_LM_IDX_MAX) {
    reg = reg_lm(lm3 ? 3 : 0, idx);
  } else {
    reg = imm_a();
    rmw = true;
    // A later slice of the same LMEM word going into a new GPR finds the word in imm_a already.
    if (first || !new_gpr) wrp_mov(nfp_prog, reg, reg_lm(0, idx));
  }
  emit_ld_field_any(nfp_prog, reg_both(dst), mask, reg, sc, shf, new_gpr);
  if (should_inc) wrp_mov(nfp_prog, reg_none(), reg_lm_inc(3));
  return rmw;
};

/** wrp_lmem_store(): one slice of a stack write from a GPR; beyond 8 words a read-modify-write via imm_a. */
const wrp_lmem_store: LmemStep = (nfp_prog, src, src_byte, off, size, first, new_gpr, last, lm3, needs_inc) => {
  const should_inc = needs_inc && new_gpr && !last;
  if (src_byte + size > 4 || (off % 4) + size > 4) eopnotsupp('stack store slice crosses a word');
  const idx = Math.floor(off / 4);
  if (size === 4) {
    wrp_mov(nfp_prog, should_inc ? reg_lm_inc(3) : reg_lm(lm3 ? 3 : 0, idx), reg_b(src));
    return false;
  }
  if (lm3 && idx > RE_REG_LM_IDX_MAX) eopnotsupp('stack store beyond the LM pointer window');
  const dst_byte = off % 4;
  const mask = ((1 << size) - 1) << dst_byte;
  const { sc, shf } = byteMove(src_byte, dst_byte);
  let reg: NfpReg;
  let rmw = false;
  if (idx <= RE_REG_LM_IDX_MAX) {
    reg = reg_lm(lm3 ? 3 : 0, idx);
  } else {
    reg = imm_a();
    rmw = true;
    // Only the first and last LMEM words need the read; a middle one is overwritten whole.
    if (first || last) wrp_mov(nfp_prog, reg, reg_lm(0, idx));
  }
  emit_ld_field(nfp_prog, reg, mask, reg_b(src), sc, shf);
  if (new_gpr || last) {
    if (idx > RE_REG_LM_IDX_MAX) wrp_mov(nfp_prog, reg_lm(0, idx), reg);
    if (should_inc) wrp_mov(nfp_prog, reg_none(), reg_lm_inc(3));
  }
  return rmw;
};

/** How a byte lane moves from `from` to `to` within a word (real shift amounts). */
function byteMove(from: number, to: number): { sc: 'r_rot' | 'r_shf' | 'l_shf'; shf: number } {
  if (from === to) return { sc: 'r_rot', shf: 0 };
  if (from < to) return { sc: 'l_shf', shf: (to - from) * 8 };
  return { sc: 'r_shf', shf: (from - to) * 8 };
}

/**
 * mem_op_stack(): a stack access of `size` bytes at the frame offset the verifier proved, in one of
 * the cases of the seed paper (recorded in meta.stack_case):
 *   4: the offset differs between paths (same alignment) or the pointer is into a caller's frame:
 *      LM pointer 3 = the pointer register + insn.off at run time, then post-increment;
 *   1: the access lies in the frame's bottom 64 bytes: LM pointer 0 (the frame base) with an index
 *      (5: a sub-word piece beyond index 7 goes through imm_a, read-modify-write);
 *   2: it lies in one 32 B-aligned window: LM pointer 3 = stack + window (the index is ORed in);
 *   3: it crosses a 32 B boundary: LM pointer 3 = stack + word, then post-increment.
 * Setting LM pointer 3 costs the CSR write and 3 NOPs (2 when a narrow load's zero-extension fills one).
 */
function mem_op_stack(nfp_prog: NfpProg, meta: NfpInsnMeta, size: number, ptr_off: number, gpr: number, ptr_gpr: number, clr_gpr: boolean, step: LmemStep): void {
  let off = nfp_prog.stack_frame_depth + meta.insn.off + ptr_off;
  let first = true;
  let needs_inc = false;
  let lm3 = true;
  let prev_gpr = 255;
  let gpr_byte = 0;
  let kase: NfpStackCase;
  if (meta.ptr_not_const || (meta.flags & FLAG_INSN_PTR_CALLER_STACK_FRAME)) {
    // Any of the offsets seen will do: they all have the same alignment, and the low bits of the
    // value are dropped when it is written to the LM address register.
    const stack_off_reg = ur_load_imm_any(nfp_prog, meta.insn.off, stack_imm());
    emit_alu(nfp_prog, imm_b(), reg_a(ptr_gpr), 'add', stack_off_reg);
    needs_inc = true;
    kase = 4;
  } else if (off + size <= 64) {
    lm3 = false;
    kase = 1;
  } else if (roundDown(off, 32) === roundDown(off + size - 1, 32)) {
    // The 32 B alignment matters: the index is ORed into the LM address, not added.
    const stack_off_reg = ur_load_imm_any(nfp_prog, roundDown(off, 32), stack_imm());
    emit_alu(nfp_prog, imm_b(), stack_reg(), 'add', stack_off_reg);
    off %= 32;
    kase = 2;
  } else {
    const stack_off_reg = ur_load_imm_any(nfp_prog, roundDown(off, 4), stack_imm());
    emit_alu(nfp_prog, imm_b(), stack_reg(), 'add', stack_off_reg);
    needs_inc = true;
    kase = 3;
  }
  const narrow_ld = clr_gpr && size < 8;
  if (lm3) {
    emit_csr_wr(nfp_prog, imm_b(), 'ActLMAddr3');
    // For a narrow load one slot is filled by the zeroing of the upper half (if that is not elided).
    wrp_nops(nfp_prog, narrow_ld && (meta.flags & FLAG_INSN_DO_ZEXT) ? 2 : 3);
  }
  if (narrow_ld) wrp_zext(nfp_prog, meta, gpr);
  let rmw = false;
  while (size) {
    let slice_size = Math.min(size, 4 - gpr_byte);
    const slice_end = Math.min(off + slice_size, roundUp(off + 1, 4));
    slice_size = slice_end - off;
    const last = slice_size === size;
    if (needs_inc) off %= 4;
    rmw = step(nfp_prog, gpr, gpr_byte, off, slice_size, first, gpr !== prev_gpr, last, lm3, needs_inc) || rmw;
    prev_gpr = gpr;
    first = false;
    gpr_byte += slice_size;
    if (gpr_byte >= 4) {
      gpr_byte -= 4;
      gpr++;
    }
    size -= slice_size;
    off += slice_size;
  }
  meta.stack_case = kase === 1 && rmw ? 5 : kase;
}

// ---------------------------------------------------------------------------------------------------
// Loads

function mem_ldx_skb(nfp_prog: NfpProg, meta: NfpInsnMeta, size: number): void {
  const dst = reg_both(meta.insn.dst * 2);
  if (size !== 4) eopnotsupp(`__sk_buff load of ${size} bytes`);
  switch (meta.insn.off) {
    case SKB_LEN: wrp_mov(nfp_prog, dst, plen_reg()); break;
    case SKB_DATA: wrp_mov(nfp_prog, dst, pptr_reg()); break;
    case SKB_DATA_END: emit_alu(nfp_prog, dst, plen_reg(), 'add', pptr_reg()); break;
    default: eopnotsupp(`__sk_buff field at ${meta.insn.off}`);
  }
  wrp_immed(nfp_prog, reg_both(meta.insn.dst * 2 + 1), 0);
}

/** XDP data/data_end: the packet vector's CTM pointer, and that plus the length. Always zero-extended. */
function mem_ldx_xdp(nfp_prog: NfpProg, meta: NfpInsnMeta, size: number): void {
  const dst = reg_both(meta.insn.dst * 2);
  if (size !== 4) eopnotsupp(`xdp_md load of ${size} bytes`);
  switch (meta.insn.off) {
    case XDP_MD.data: wrp_mov(nfp_prog, dst, pptr_reg()); break;
    case XDP_MD.data_end: emit_alu(nfp_prog, dst, plen_reg(), 'add', pptr_reg()); break;
    default: eopnotsupp(`xdp_md field at ${meta.insn.off}`);
  }
  wrp_immed(nfp_prog, reg_both(meta.insn.dst * 2 + 1), 0);
}

function mem_ldx_data(nfp_prog: NfpProg, meta: NfpInsnMeta, size: number): void {
  const tmp = re_load_imm_any(nfp_prog, meta.insn.off, imm_b());
  data_ld_host_order(nfp_prog, meta, meta.insn.dst * 2, reg_a(meta.insn.src * 2), tmp, size, '32b');
}

function mem_ldx_emem(nfp_prog: NfpProg, meta: NfpInsnMeta, size: number): void {
  const tmp = re_load_imm_any(nfp_prog, meta.insn.off, imm_b());
  const { rega, regb } = addr40_offset(nfp_prog, meta.insn.src * 2, tmp);
  data_ld_host_order(nfp_prog, meta, meta.insn.dst * 2, rega, regb, size, '40b_ba');
}

/** The packet cache: one read of the window [range_start, range_end) into the transfer registers. */
function mem_ldx_data_init_pktcache(nfp_prog: NfpProg, meta: NfpInsnMeta): void {
  const { range_start, range_end } = meta.pkt_cache;
  const off = re_load_imm_any(nfp_prog, range_start, imm_b());
  const len = range_end - range_start;
  const xfer_num = roundUp(len, REG_WIDTH) / REG_WIDTH;
  const indir = len > 8 * REG_WIDTH;
  // Longer than a command's own length field: PREV_ALU overrides it.
  if (indir) wrp_immed(nfp_prog, reg_none(), CMD_OVE_LEN | ((xfer_num - 1) << CMD_OV_LEN_SHIFT));
  emit_cmd_any(nfp_prog, 'read32_swap', '32b', 0, reg_a(meta.insn.src * 2), off, xfer_num - 1, 'swap', indir);
}

function mem_ldx_data_from_pktcache_unaligned(nfp_prog: NfpProg, meta: NfpInsnMeta, size: number): void {
  const insn_off = meta.insn.off - meta.pkt_cache.range_start;
  const dst_gpr = meta.insn.dst * 2;
  const dst_hi = reg_both(dst_gpr + 1);
  const dst_lo = reg_both(dst_gpr);
  const idx = Math.floor(insn_off / REG_WIDTH);
  const off = insn_off % REG_WIDTH;
  const src_lo = reg_xfer(idx);
  let len_lo = size;
  let len_mid = 0;
  // The read may span as many as three transfer registers.
  if (size > REG_WIDTH - off) {
    len_lo = REG_WIDTH - off;
    len_mid = size - len_lo;
    if (size > 2 * REG_WIDTH - off) len_mid = REG_WIDTH;
  }
  wrp_reg_subpart(nfp_prog, dst_lo, src_lo, len_lo, off);
  if (!len_mid) {
    wrp_zext(nfp_prog, meta, dst_gpr);
    return;
  }
  const src_mid = reg_xfer(idx + 1);
  if (size <= REG_WIDTH) {
    wrp_reg_or_subpart(nfp_prog, dst_lo, src_mid, len_mid, len_lo);
    wrp_zext(nfp_prog, meta, dst_gpr);
  } else {
    const src_hi = reg_xfer(idx + 2);
    wrp_reg_or_subpart(nfp_prog, dst_lo, src_mid, REG_WIDTH - len_lo, len_lo);
    wrp_reg_subpart(nfp_prog, dst_hi, src_mid, len_lo, REG_WIDTH - len_lo);
    wrp_reg_or_subpart(nfp_prog, dst_hi, src_hi, REG_WIDTH - len_lo, len_lo);
  }
}

function mem_ldx_data_from_pktcache_aligned(nfp_prog: NfpProg, meta: NfpInsnMeta, size: number): void {
  const idx = (meta.insn.off - meta.pkt_cache.range_start) / REG_WIDTH;
  const dst_gpr = meta.insn.dst * 2;
  const dst_lo = reg_both(dst_gpr);
  const src_lo = reg_xfer(idx);
  if (size < REG_WIDTH) {
    wrp_reg_subpart(nfp_prog, dst_lo, src_lo, size, 0);
    wrp_zext(nfp_prog, meta, dst_gpr);
  } else if (size === REG_WIDTH) {
    wrp_mov(nfp_prog, dst_lo, src_lo);
    wrp_zext(nfp_prog, meta, dst_gpr);
  } else {
    wrp_mov(nfp_prog, dst_lo, src_lo);
    wrp_mov(nfp_prog, reg_both(dst_gpr + 1), reg_xfer(idx + 1));
  }
}

function mem_ldx_data_from_pktcache(nfp_prog: NfpProg, meta: NfpInsnMeta, size: number): void {
  const off = meta.insn.off - meta.pkt_cache.range_start;
  if (off % REG_WIDTH === 0) mem_ldx_data_from_pktcache_aligned(nfp_prog, meta, size);
  else mem_ldx_data_from_pktcache_unaligned(nfp_prog, meta, size);
}

function mem_ldx(nfp_prog: NfpProg, meta: NfpInsnMeta, size: number): void {
  switch (meta.ptr.type) {
    case 'ctx':
      if (nfp_prog.type === BPF_PROG_TYPE.XDP) return mem_ldx_xdp(nfp_prog, meta, size);
      return mem_ldx_skb(nfp_prog, meta, size);
    case 'pkt':
      if (meta.pkt_cache.range_end) {
        if (meta.pkt_cache.do_init) mem_ldx_data_init_pktcache(nfp_prog, meta);
        return mem_ldx_data_from_pktcache(nfp_prog, meta, size);
      }
      return mem_ldx_data(nfp_prog, meta, size);
    case 'fp':
      return mem_op_stack(nfp_prog, meta, size, ptrOff(meta), meta.insn.dst * 2, meta.insn.src * 2, true, wrp_lmem_load);
    case 'map_value':
      return mem_ldx_emem(nfp_prog, meta, size);
    default:
      eopnotsupp(`load through a ${meta.ptr.type} pointer`);
  }
}

export const mem_ldx1: Cb = (p, m) => mem_ldx(p, m, 1);
export const mem_ldx2: Cb = (p, m) => mem_ldx(p, m, 2);
export const mem_ldx4: Cb = (p, m) => mem_ldx(p, m, 4);
export const mem_ldx8: Cb = (p, m) => mem_ldx(p, m, 8);

// ---------------------------------------------------------------------------------------------------
// Stores

/**
 * BPF_ST: packet stores write the immediate through the transfer registers (mem_st_data); stack
 * stores (nfp-emu, see verifier.ts) put it in a free GPR pair and take the STX path.
 */
function mem_st(nfp_prog: NfpProg, meta: NfpInsnMeta, size: number): void {
  if (meta.ptr.type === 'pkt') {
    const off = re_load_imm_any(nfp_prog, meta.insn.off, imm_b());
    return data_st_host_order(nfp_prog, meta.insn.dst * 2, off, meta.insn.imm, size);
  }
  if (meta.ptr.type === 'fp') {
    wrp_immed(nfp_prog, reg_both(NFP_REG_ST_IMM), meta.insn.imm);
    if (size === 8) wrp_immed(nfp_prog, reg_both(NFP_REG_ST_IMM + 1), meta.insn.imm < 0 ? 0xffffffff : 0);
    return mem_op_stack(nfp_prog, meta, size, ptrOff(meta), NFP_REG_ST_IMM, meta.insn.dst * 2, false, wrp_lmem_store);
  }
  eopnotsupp(`store of an immediate through a ${meta.ptr.type} pointer`);
}

export const mem_st1: Cb = (p, m) => mem_st(p, m, 1);
export const mem_st2: Cb = (p, m) => mem_st(p, m, 2);
export const mem_st4: Cb = (p, m) => mem_st(p, m, 4);
export const mem_st8: Cb = (p, m) => mem_st(p, m, 8);

/** Queue selection: the low byte of the value, or NFP_NET_RXR_MAX when it does not fit the field. */
function nfp_queue_select(nfp_prog: NfpProg, meta: NfpInsnMeta): void {
  const jmp_tgt = nfp_prog_current_offset(nfp_prog) + 5;
  emit_alu(nfp_prog, reg_none(), reg_a(meta.insn.src * 2), 'and_not_b', reg_imm(0xff));
  emit_br(nfp_prog, 'beq', jmp_tgt, 2);
  // Set the "queue selected" bit and the queue value (both in the defer slots).
  emit_shf(nfp_prog, pv_qsel_set(), pv_qsel_set(), 'or', reg_imm(1), 'l_shf', PKT_VEL_QSEL_SET_BIT);
  emit_ld_field(nfp_prog, pv_qsel_val(), 0x1, reg_b(meta.insn.src * 2), 'r_rot', 0);
  // Skipped when the value fits.
  emit_ld_field(nfp_prog, pv_qsel_val(), 0x1, reg_imm(NFP_NET_RXR_MAX), 'r_rot', 0);
  nfp_prog_confirm_current_offset(nfp_prog, jmp_tgt);
}

function mem_stx(nfp_prog: NfpProg, meta: NfpInsnMeta, size: number): void {
  if (meta.ptr.type === 'pkt') {
    const off = re_load_imm_any(nfp_prog, meta.insn.off, imm_b());
    return data_stx_host_order(nfp_prog, meta.insn.dst * 2, off, meta.insn.src * 2, size);
  }
  if (meta.ptr.type === 'fp') return mem_op_stack(nfp_prog, meta, size, ptrOff(meta), meta.insn.src * 2, meta.insn.dst * 2, false, wrp_lmem_store);
  if (meta.ptr.type === 'ctx' && size === 4 && nfp_prog.type === BPF_PROG_TYPE.XDP && meta.insn.off === XDP_MD.rx_queue_index) {
    return nfp_queue_select(nfp_prog, meta);
  }
  eopnotsupp(`store through a ${meta.ptr.type} pointer`);
}

export const mem_stx1: Cb = (p, m) => mem_stx(p, m, 1);
export const mem_stx2: Cb = (p, m) => mem_stx(p, m, 2);
export const mem_stx4: Cb = (p, m) => mem_stx(p, m, 4);
export const mem_stx8: Cb = (p, m) => mem_stx(p, m, 8);

// ---------------------------------------------------------------------------------------------------
// Atomic add on a map value

/**
 * mem_xadd(): the atomic engine adds to the big-endian word at the value's 40-bit address. A value that
 * fits 16 bits rides in the command itself (add_imm, data in PREV_ALU, no wait); a larger one goes
 * through a transfer register (add, the context waits). When the verifier saw both, a run-time compare
 * picks one.
 */
function mem_xadd(nfp_prog: NfpProg, meta: NfpInsnMeta, is64: boolean): void {
  const dst_gpr = meta.insn.dst * 2;
  const src_gpr = meta.insn.src * 2;
  const off = ur_load_imm_any(nfp_prog, meta.insn.off, imm_b());
  let out = nfp_prog_current_offset(nfp_prog);
  let full_add = out;
  if (meta.insn.off) { out += 2; full_add += 2; }
  if (meta.xadd_maybe_16bit) { out += 3; full_add += 3; }
  if (meta.xadd_over_16bit) out += 2 + (is64 ? 1 : 0);
  if (meta.xadd_maybe_16bit && meta.xadd_over_16bit) { out += 5; full_add += 5; }

  if (meta.xadd_maybe_16bit && meta.xadd_over_16bit) {
    const max_imm = imm_a();
    wrp_immed(nfp_prog, max_imm, 0xffff);
    emit_alu(nfp_prog, reg_none(), max_imm, 'sub', reg_b(src_gpr));
    emit_alu(nfp_prog, reg_none(), reg_imm(0), 'sub_c', reg_b(src_gpr + 1));
    // The address computation below sits in the defer slots, for both paths.
    emit_br(nfp_prog, 'bcc', full_add, meta.insn.off ? 2 : 0);
  }
  let addra: NfpReg = reg_a(dst_gpr);
  let addrb: NfpReg = reg_b(dst_gpr + 1);
  if (meta.insn.off) {
    emit_alu(nfp_prog, imma_a(), reg_a(dst_gpr), 'add', off);
    emit_alu(nfp_prog, imma_b(), reg_a(dst_gpr + 1), 'add_c', reg_imm(0));
    addra = imma_a();
    addrb = imma_b();
  }
  if (meta.xadd_maybe_16bit) {
    const prev_alu = imm_a();
    wrp_immed(nfp_prog, prev_alu, (2 << CMD_OVE_DATA_SHIFT) | CMD_OVE_LEN | ((0x8 | (is64 ? 4 : 0)) << CMD_OV_LEN_SHIFT));
    wrp_reg_or_subpart(nfp_prog, prev_alu, reg_b(src_gpr), 2, 2);
    // One encoding for both widths: the 64-bit add is bit 2 of the length override in PREV_ALU.
    emit_cmd_indir(nfp_prog, 'add_imm', '40b_ba', 0, addra, addrb, 0, 'no_swap');
    if (meta.xadd_over_16bit) emit_br(nfp_prog, 'br', out, 0);
  }
  nfp_prog_confirm_current_offset(nfp_prog, full_add);
  if (meta.xadd_over_16bit) {
    emit_cmd(nfp_prog, is64 ? 'add64' : 'add', '40b_ba', 0, addra, addrb, is64 ? 4 : 0, is64 ? 'swap_defer2' : 'swap_defer1');
    wrp_mov(nfp_prog, reg_xfer(0), reg_a(src_gpr));
    if (is64) wrp_mov(nfp_prog, reg_xfer(1), reg_a(src_gpr + 1));
  }
  nfp_prog_confirm_current_offset(nfp_prog, out);
}

export const mem_atomic4: Cb = (nfp_prog, meta) => {
  if (meta.insn.imm !== 0) eopnotsupp(`atomic op ${meta.insn.imm}`);
  mem_xadd(nfp_prog, meta, false);
};

export const mem_atomic8: Cb = (nfp_prog, meta) => {
  if (meta.insn.imm !== 0) eopnotsupp(`atomic op ${meta.insn.imm}`);
  mem_xadd(nfp_prog, meta, true);
};
