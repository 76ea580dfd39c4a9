// The NFP JIT's calls and exits (drivers/net/ethernet/netronome/nfp/bpf/jit.c): helpers that are
// firmware code (map lookup/update/delete, perf_event_output: a branch to the address the FUNC
// capability advertised, relocated per vNIC, with the return address in B0), helpers done inline
// (get_prandom_u32 from the pseudo-random CSR, adjust_head and adjust_tail on the packet vector),
// BPF-to-BPF calls (frames 64 B aligned in LMEM, the return address in the callee's frame, R6-R9 saved by
// shared subroutines), and the program's exit: the intro that reads the packet length and the outro
// that turns R0 into the verdict the firmware reads from A0 (see notes/contract-fw-abi.md). PAPER-ONLY:
// bpf_tail_call into programs linked into the code store (the seed paper's future work, tail_call.ts).

import { BpfError } from '../../bpf/errno.js';
import { BPF_FUNC_map_update_elem } from '../../bpf/helpers.js';
import { BPF_PROG_TYPE } from '../../bpf/prog-types.js';
import { br_set_offset } from '../../nic/asm.js';
import {
  BR_OFF_RELO, NFP_ADDR40_IMEM, NFP_MAX_TAIL_CALL_CNT, NFP_PV_LM_PTR, PKT_VEC_RESUME, STATIC_REG_TAIL_CALL_CNT, reg_lm, reg_xfer,
} from '../../nic/isa.js';
import {
  NFP_BPF_ABI_FLAGS, OP_RELO_TYPE, RELO_BR_GO_CALL_POP_REGS, RELO_BR_GO_CALL_PUSH_REGS, RELO_BR_GO_OUT, RELO_BR_HELPER, RELO_BR_NEXT_PKT,
  RELO_IMMED_REL, __emit_csr_rd, emit_alu, emit_br, emit_br_bset, emit_br_relo, emit_cmd, emit_csr_wr, emit_immed, emit_ld_field, emit_rtn,
  emit_shf, imm_a, imm_b, imma_b, nfp_prog_confirm_current_offset, nfp_prog_current_offset, plen_reg, pptr_reg, pv_len, reg_a, reg_b,
  reg_both, reg_imm, reg_none, ret_reg, stack_imm, stack_reg, ur_load_imm_any, wrp_immed, wrp_immed_relo, wrp_mov, wrp_nops,
} from './jit-emit.js';
import { FLAG_INSN_PTR_CALLER_STACK_FRAME, STACK_FRAME_ALIGN, UINT_MAX, type NfpInsnMeta, type NfpProg } from './prog.js';
import { nfp_bpf_helper, nfp_reg_type_num } from './support.js';

type Cb = (nfp_prog: NfpProg, meta: NfpInsnMeta) => void;

const ETH_HLEN = 14;
const roundUp = (x: number, a: number): number => Math.ceil(x / a) * a;

// ---------------------------------------------------------------------------------------------------
// Inline helpers

/**
 * bpf_xdp_adjust_head(): move the packet start by R2. With the hook's guarantee of one call site and
 * one small constant delta within what the firmware always allows, only the pointer and lengths move
 * ("5 vs 14 cycles"); otherwise the new offset (the low 16 bits of the CTM packet address are the
 * offset in the packet buffer) is checked against the firmware's limits and the length against
 * ETH_HLEN, and R0 = -EINVAL on failure.
 */
function adjust_head(nfp_prog: NfpProg, meta: NfpInsnMeta): void {
  const tmp = imm_a();
  const tmp_len = imm_b();
  const ah = nfp_prog.bpf.adjust_head;
  if (nfp_prog.adjust_head_location !== UINT_MAX) {
    if (nfp_prog.adjust_head_location !== meta.n) throw new BpfError('EINVAL', 'nfp: adjust_head at an instruction the verifier did not record');
    emit_alu(nfp_prog, pptr_reg(), reg_a(2 * 2), 'add', pptr_reg());
    emit_alu(nfp_prog, plen_reg(), plen_reg(), 'sub', reg_a(2 * 2));
    emit_alu(nfp_prog, pv_len(), pv_len(), 'sub', reg_a(2 * 2));
    wrp_immed(nfp_prog, reg_both(0), 0);
    wrp_immed(nfp_prog, reg_both(1), 0);
    return;
  }
  const ret_einval = nfp_prog_current_offset(nfp_prog) + 14;
  const end = ret_einval + 2;
  // A temporary, because the offset is only a part of the packet pointer.
  emit_alu(nfp_prog, tmp, reg_a(2 * 2), 'add_2b', pptr_reg());
  // The result must fit the datapath's constraints.
  emit_alu(nfp_prog, reg_none(), tmp, 'sub', reg_imm(ah.off_min));
  emit_br(nfp_prog, 'bcc', ret_einval, 0);
  emit_alu(nfp_prog, reg_none(), reg_imm(ah.off_max), 'sub', tmp);
  emit_br(nfp_prog, 'bcc', ret_einval, 0);
  // The length must stay at least ETH_HLEN.
  emit_alu(nfp_prog, tmp_len, plen_reg(), 'sub', reg_a(2 * 2));
  emit_alu(nfp_prog, reg_none(), tmp_len, 'sub', reg_imm(ETH_HLEN));
  emit_br(nfp_prog, 'bmi', ret_einval, 0);
  wrp_immed(nfp_prog, reg_both(0), 0);
  wrp_immed(nfp_prog, reg_both(1), 0);
  // The new offset into the pointer's low half; skip the -EINVAL (the lengths in the defer slots).
  emit_ld_field(nfp_prog, pptr_reg(), 0x3, tmp, 'r_rot', 0);
  emit_br(nfp_prog, 'br', end, 2);
  emit_alu(nfp_prog, plen_reg(), plen_reg(), 'sub', reg_a(2 * 2));
  emit_alu(nfp_prog, pv_len(), pv_len(), 'sub', reg_a(2 * 2));
  nfp_prog_confirm_current_offset(nfp_prog, ret_einval);
  wrp_immed(nfp_prog, reg_both(0), -22);
  wrp_immed(nfp_prog, reg_both(1), 0xffffffff);
  nfp_prog_confirm_current_offset(nfp_prog, end);
}

/** bpf_xdp_adjust_tail(): shrink only (the add must overflow), never below ETH_HLEN; else R0 = -EINVAL. */
function adjust_tail(nfp_prog: NfpProg): void {
  const plen = imm_a();
  const delta = reg_a(2 * 2);
  const ret_einval = nfp_prog_current_offset(nfp_prog) + 9;
  const end = nfp_prog_current_offset(nfp_prog) + 11;
  emit_alu(nfp_prog, plen, plen_reg(), 'add', delta);
  // delta == 0 is not allowed by the kernel: the add must overflow to make the length smaller.
  emit_br(nfp_prog, 'bcc', ret_einval, 0);
  emit_alu(nfp_prog, reg_none(), plen, 'sub', reg_imm(ETH_HLEN));
  emit_br(nfp_prog, 'bmi', ret_einval, 0);
  emit_alu(nfp_prog, plen_reg(), plen_reg(), 'add', delta);
  emit_alu(nfp_prog, pv_len(), pv_len(), 'add', delta);
  emit_br(nfp_prog, 'br', end, 2);
  wrp_immed(nfp_prog, reg_both(0), 0);
  wrp_immed(nfp_prog, reg_both(1), 0);
  nfp_prog_confirm_current_offset(nfp_prog, ret_einval);
  wrp_immed(nfp_prog, reg_both(0), -22);
  wrp_immed(nfp_prog, reg_both(1), 0xffffffff);
  nfp_prog_confirm_current_offset(nfp_prog, end);
}

/**
 * map_call_stack_common(): the firmware's map helper takes the table id in A0 and the key where LM
 * pointer 0 points (the frame base unless the key is elsewhere), the value of an update where LM
 * pointer 2 points; it returns to the address in B0 with the result in R0.
 */
function map_call_stack_common(nfp_prog: NfpProg, meta: NfpInsnMeta): void {
  // We only have to reload LM0 if the key is not at the start of the stack.
  const lm_off = nfp_prog.stack_frame_depth + Number(BigInt.asIntN(64, meta.arg2.reg.var_off.value)) + meta.arg2.reg.off;
  const load_lm_ptr = meta.arg2.var_off || lm_off !== 0 || (meta.flags & FLAG_INSN_PTR_CALLER_STACK_FRAME) !== 0;
  if (load_lm_ptr) emit_csr_wr(nfp_prog, reg_b(2 * 2), 'ActLMAddr0');
  if (meta.func_id === BPF_FUNC_map_update_elem) emit_csr_wr(nfp_prog, reg_b(3 * 2), 'ActLMAddr2');
  emit_br_relo(nfp_prog, 'br', BR_OFF_RELO + meta.func_id, 2, RELO_BR_HELPER);
  const ret_tgt = nfp_prog_current_offset(nfp_prog) + 2;
  // The map (its table id, in R1's low half) into A0, the return address into B0.
  wrp_mov(nfp_prog, reg_a(0), reg_a(2));
  wrp_immed_relo(nfp_prog, reg_b(0), ret_tgt, RELO_IMMED_REL);
  nfp_prog_confirm_current_offset(nfp_prog, ret_tgt);
  if (!load_lm_ptr) return;
  emit_csr_wr(nfp_prog, stack_reg(), 'ActLMAddr0');
  wrp_nops(nfp_prog, 3);
}

/** bpf_get_prandom_u32(): the CSR value arrives in the immed that follows its read. */
function nfp_get_prandom_u32(nfp_prog: NfpProg): void {
  __emit_csr_rd(nfp_prog, 'PseudoRndNum');
  emit_immed(nfp_prog, reg_both(0), 0, 'all', false, 0);
  emit_immed(nfp_prog, reg_both(1), 0, 'all', false, 0);
}

/** bpf_perf_event_output(): a firmware branch; A1 tells the firmware what R4 points to. */
function nfp_perf_event_output(nfp_prog: NfpProg, meta: NfpInsnMeta): void {
  const ptr_type = ur_load_imm_any(nfp_prog, nfp_reg_type_num(meta.arg1), imm_a());
  const ret_tgt = nfp_prog_current_offset(nfp_prog) + 3;
  emit_br_relo(nfp_prog, 'br', BR_OFF_RELO + meta.func_id, 2, RELO_BR_HELPER);
  wrp_mov(nfp_prog, reg_a(1), ptr_type);
  wrp_immed_relo(nfp_prog, reg_b(0), ret_tgt, RELO_IMMED_REL);
  nfp_prog_confirm_current_offset(nfp_prog, ret_tgt);
}

/** Point the branch at `idx` (emitted with a placeholder target) at `target`, keeping its relocation type. */
function br_patch(nfp_prog: NfpProg, idx: number, target: number): void {
  const w = nfp_prog.prog[idx];
  if (w === undefined) return; // the code store ran out; the translation fails with ENOSPC
  nfp_prog.prog[idx] = br_set_offset(w & ~OP_RELO_TYPE, target) | (w & OP_RELO_TYPE);
}

/**
 * bpf_tail_call(ctx, prog_array, index) — nfp-emu, PAPER-ONLY (upstream jit.c has no tail calls; the
 * seed paper's future work, see tail_call.ts). With R3's low half as the index (a u32, as the kernel
 * takes it), the kernel's order of checks:
 *
 *     alu[--, A6, -, max_entries] ; bcs[out]          index >= max_entries: fall through
 *     alu[--, A26, -, 33] ; bcs[out]                  MAX_TAIL_CALL_CNT taken: fall through
 *     alu[A26, A26, +, 1]                             counted before the slot is read, as the kernel does
 *     alu_shf[imm_a, --, B, B6, <<2]                  the slot's IMEM address: the array's table + 4 * index
 *     immed[imm_b, table] ; alu[imm_a, imm_a, +, imm_b]
 *     mem[read32_swap, $xfer0, imm_a, <<8, 0x40, 1], ctx_swap[sig1]   one IMEM read (the context swaps out)
 *     alu[imm_a, --, B, $xfer0] ; beq[out]            an empty slot: fall through
 *     br_bset[imm_a, 31, host]                        (partial offload) a host program's slot
 *     rtn[imm_a]                                      into the linked program (its intro takes over)
 *   host:                                             the resume word into the packet vector, then
 *     ...                                             exit with the XDP_PASS verdict (to the host)
 *   out:
 *
 * Nothing needs saving: the target starts over from the packet vector and the stack base, which the
 * calling program (the main subprogram: the hook refuses others) has left as the firmware set them.
 */
function nfp_tail_call(nfp_prog: NfpProg, meta: NfpInsnMeta): void {
  const arr = meta.tc_map;
  if (arr === null) throw new BpfError('EINVAL', 'nfp: tail call without the prog array the verifier recorded');
  const cnt = reg_a(STATIC_REG_TAIL_CALL_CNT);
  const idx = 3 * 2;
  const outs: number[] = [];
  const brOut = (cond: 'bcs' | 'beq'): void => {
    outs.push(nfp_prog_current_offset(nfp_prog));
    emit_br(nfp_prog, cond, 0, 0);
  };
  emit_alu(nfp_prog, reg_none(), reg_a(idx), 'sub', ur_load_imm_any(nfp_prog, arr.max_entries, imm_b()));
  brOut('bcs');
  emit_alu(nfp_prog, reg_none(), cnt, 'sub', reg_imm(NFP_MAX_TAIL_CALL_CNT));
  brOut('bcs');
  emit_alu(nfp_prog, cnt, cnt, 'add', reg_imm(1));
  emit_shf(nfp_prog, imm_a(), reg_none(), 'none', reg_b(idx), 'l_shf', 2);
  wrp_immed(nfp_prog, imm_b(), arr.table_addr);
  emit_alu(nfp_prog, imm_a(), imm_a(), 'add', imm_b());
  emit_cmd(nfp_prog, 'read32_swap', '40b_ba', 0, imm_a(), reg_imm(NFP_ADDR40_IMEM), 0, 'swap');
  wrp_mov(nfp_prog, imm_a(), reg_xfer(0));
  brOut('beq');
  const partial = nfp_prog.bpf.tail_call.partial;
  const toHost = nfp_prog_current_offset(nfp_prog);
  if (partial) emit_br_bset(nfp_prog, imm_a(), 31, 0, 0);
  emit_rtn(nfp_prog, imm_a(), 0);
  if (partial) {
    br_patch(nfp_prog, toHost, nfp_prog_current_offset(nfp_prog));
    // The resume word: valid bit and count in the top byte, the table slot below.
    emit_alu(nfp_prog, imma_b(), cnt, 'or', reg_imm(0x80));
    emit_alu(nfp_prog, imm_a(), reg_a(idx), 'add', ur_load_imm_any(nfp_prog, arr.slot_base, imm_b()));
    emit_shf(nfp_prog, imm_b(), imm_a(), 'or', imma_b(), 'l_shf', 24);
    wrp_mov(nfp_prog, reg_lm(NFP_PV_LM_PTR, PKT_VEC_RESUME), imm_b());
    // Pass, as the outros build it (0x11: action pass, statistic 0).
    emit_br_relo(nfp_prog, 'br', BR_OFF_RELO, 2, RELO_BR_NEXT_PKT);
    wrp_mov(nfp_prog, reg_a(0), NFP_BPF_ABI_FLAGS());
    emit_ld_field(nfp_prog, reg_a(0), 0xc, reg_imm(0x11), 'l_shf', 16);
  }
  const out = nfp_prog_current_offset(nfp_prog);
  for (const o of outs) br_patch(nfp_prog, o, out);
}

function helper_call(nfp_prog: NfpProg, meta: NfpInsnMeta): void {
  switch (nfp_bpf_helper(meta.insn.imm)) {
    case 'adjust_head': return adjust_head(nfp_prog, meta);
    case 'adjust_tail': return adjust_tail(nfp_prog);
    case 'map_lookup': case 'map_update': case 'map_delete': return map_call_stack_common(nfp_prog, meta);
    case 'prandom': return nfp_get_prandom_u32(nfp_prog);
    case 'event_output': return nfp_perf_event_output(nfp_prog, meta);
    case 'tail_call': return nfp_tail_call(nfp_prog, meta);
    case undefined:
      nfp_prog.bpf.log.pr_info('verifier allowed unsupported function');
      throw new BpfError('EOPNOTSUPP', `nfp: verifier allowed unsupported function ${meta.insn.imm}`);
  }
}

// ---------------------------------------------------------------------------------------------------
// BPF-to-BPF calls

/**
 * bpf_to_bpf_call(): move the stack base past this frame (64 B aligned), pass the return address in
 * ret_reg (the callee's prologue keeps it in its frame), and jump to the callee — through the
 * subroutine that saves R6-R9 first when the callee writes them (imm_b then holds the callee's
 * address, which nfp_fixup_branches fills in).
 */
function bpf_to_bpf_call(nfp_prog: NfpProg, meta: NfpInsnMeta): void {
  const stack_depth = roundUp(nfp_prog.stack_frame_depth, STACK_FRAME_ALIGN);
  // The callee accounts for the return address, so the main function's depth may be 0.
  if (stack_depth) {
    const tmp = ur_load_imm_any(nfp_prog, stack_depth, stack_imm());
    emit_alu(nfp_prog, stack_reg(), stack_reg(), 'add', tmp);
    emit_csr_wr(nfp_prog, stack_reg(), 'ActLMAddr0');
  }
  const dst = meta.jmp_dst;
  if (dst === null) throw new BpfError('ELOOP', 'nfp: BUG: BPF-to-BPF call has no destination recorded');
  let ret_tgt: number;
  let offset_br: number;
  if (nfp_prog.subprog[dst.subprog_idx]?.needs_reg_push) {
    ret_tgt = nfp_prog_current_offset(nfp_prog) + 3;
    emit_br_relo(nfp_prog, 'br', BR_OFF_RELO, 2, RELO_BR_GO_CALL_PUSH_REGS);
    offset_br = nfp_prog_current_offset(nfp_prog);
    wrp_immed_relo(nfp_prog, imm_b(), 0, RELO_IMMED_REL);
  } else {
    ret_tgt = nfp_prog_current_offset(nfp_prog) + 2;
    emit_br(nfp_prog, 'br', 0, 1);
    offset_br = nfp_prog_current_offset(nfp_prog);
  }
  wrp_immed_relo(nfp_prog, ret_reg(), ret_tgt, RELO_IMMED_REL);
  nfp_prog_confirm_current_offset(nfp_prog, ret_tgt);
  if (stack_depth) {
    const tmp = ur_load_imm_any(nfp_prog, stack_depth, stack_imm());
    emit_alu(nfp_prog, stack_reg(), stack_reg(), 'sub', tmp);
    emit_csr_wr(nfp_prog, stack_reg(), 'ActLMAddr0');
    wrp_nops(nfp_prog, 3);
  }
  meta.num_insns_after_br = nfp_prog_current_offset(nfp_prog) - offset_br;
}

export const call: Cb = (nfp_prog, meta) => {
  if (meta.op?.kind === 'call' && meta.op.target === 'local') bpf_to_bpf_call(nfp_prog, meta);
  else helper_call(nfp_prog, meta);
};

/** A subprogram's return: through the R6-R9 restore subroutine, or straight back (rtn). */
function nfp_subprog_epilogue(nfp_prog: NfpProg, meta: NfpInsnMeta): void {
  if (nfp_prog.subprog[meta.subprog_idx]?.needs_reg_push) {
    // The restore subroutine jumps back to the caller itself, with the address popped here.
    emit_br_relo(nfp_prog, 'br', BR_OFF_RELO, 1, RELO_BR_GO_CALL_POP_REGS);
    wrp_mov(nfp_prog, ret_reg(), reg_lm(0, 0));
  } else {
    wrp_mov(nfp_prog, ret_reg(), reg_lm(0, 0));
    emit_rtn(nfp_prog, ret_reg(), 0);
  }
}

export const jmp_exit: Cb = (nfp_prog, meta) => {
  if (meta.subprog_idx === 0) emit_br_relo(nfp_prog, 'br', BR_OFF_RELO, 0, RELO_BR_GO_OUT);
  else nfp_subprog_epilogue(nfp_prog, meta);
};

/** The callee's prologue: its return address into the first word of its frame. */
export function nfp_subprog_prologue(nfp_prog: NfpProg): void {
  wrp_mov(nfp_prog, reg_lm(0, 0), ret_reg());
}

// ---------------------------------------------------------------------------------------------------
// Intro and outros

/** nfp_intro(): the packet length is the low 14 bits of the packet vector's first word. */
export function nfp_intro(nfp_prog: NfpProg): void {
  wrp_immed(nfp_prog, plen_reg(), 0x3fff);
  emit_alu(nfp_prog, plen_reg(), plen_reg(), 'and', pv_len());
}

/**
 * TC direct-action: 2 SHOT -> 0x22 drop (stat1); 4, 5 -> 0x02 drop; 7 REDIRECT -> 0x44 (stat2); the
 * rest, UNSPEC included, -> 0x11 pass (stat0). OK and RECLASSIFY cannot be told to TC (the hook
 * refuses them); an abort passes.
 */
function nfp_outro_tc_da(nfp_prog: NfpProg): void {
  nfp_prog.tgt_abort = nfp_prog_current_offset(nfp_prog);
  emit_br_relo(nfp_prog, 'br', BR_OFF_RELO, 2, RELO_BR_NEXT_PKT);
  wrp_mov(nfp_prog, reg_a(0), NFP_BPF_ABI_FLAGS());
  emit_ld_field(nfp_prog, reg_a(0), 0xc, reg_imm(0x11), 'l_shf', 16);
  nfp_prog.tgt_out = nfp_prog_current_offset(nfp_prog);
  // if R0 > 7 jump to abort
  emit_alu(nfp_prog, reg_none(), reg_imm(7), 'sub', reg_b(0));
  emit_br(nfp_prog, 'bcc', nfp_prog.tgt_abort, 0);
  wrp_mov(nfp_prog, reg_a(0), NFP_BPF_ABI_FLAGS());
  wrp_immed(nfp_prog, reg_b(2), 0x41221211);
  wrp_immed(nfp_prog, reg_b(3), 0x41001211);
  emit_shf(nfp_prog, reg_a(1), reg_none(), 'none', reg_b(0), 'l_shf', 2);
  emit_alu(nfp_prog, reg_none(), reg_a(1), 'or', reg_imm(0));
  emit_shf(nfp_prog, reg_a(2), reg_imm(0xf), 'and', reg_b(2), 'r_shf', 0);
  emit_alu(nfp_prog, reg_none(), reg_a(1), 'or', reg_imm(0));
  emit_shf(nfp_prog, reg_b(2), reg_imm(0xf), 'and', reg_b(3), 'r_shf', 0);
  emit_br_relo(nfp_prog, 'br', BR_OFF_RELO, 2, RELO_BR_NEXT_PKT);
  emit_shf(nfp_prog, reg_b(2), reg_a(2), 'or', reg_b(2), 'l_shf', 4);
  emit_ld_field(nfp_prog, reg_a(0), 0xc, reg_b(2), 'l_shf', 16);
}

/**
 * XDP: 0 ABORTED -> 0x82 drop (stat3); 1 DROP -> 0x22 drop (stat1); 2 PASS -> 0x11 pass (stat0);
 * 3 TX -> 0x44 redirect/TX (stat2); anything above 3, XDP_REDIRECT included, aborts. The byte for R0
 * is picked out of 0x44112282 by an indirect shift of R0 * 8.
 */
function nfp_outro_xdp(nfp_prog: NfpProg): void {
  nfp_prog.tgt_abort = nfp_prog_current_offset(nfp_prog);
  emit_br_relo(nfp_prog, 'br', BR_OFF_RELO, 2, RELO_BR_NEXT_PKT);
  wrp_mov(nfp_prog, reg_a(0), NFP_BPF_ABI_FLAGS());
  emit_ld_field(nfp_prog, reg_a(0), 0xc, reg_imm(0x82), 'l_shf', 16);
  nfp_prog.tgt_out = nfp_prog_current_offset(nfp_prog);
  // if R0 > 3 jump to abort
  emit_alu(nfp_prog, reg_none(), reg_imm(3), 'sub', reg_b(0));
  emit_br(nfp_prog, 'bcc', nfp_prog.tgt_abort, 0);
  wrp_immed(nfp_prog, reg_b(2), 0x44112282);
  emit_shf(nfp_prog, reg_a(1), reg_none(), 'none', reg_b(0), 'l_shf', 3);
  emit_alu(nfp_prog, reg_none(), reg_a(1), 'or', reg_imm(0));
  emit_shf(nfp_prog, reg_b(2), reg_imm(0xff), 'and', reg_b(2), 'r_shf', 0);
  emit_br_relo(nfp_prog, 'br', BR_OFF_RELO, 2, RELO_BR_NEXT_PKT);
  wrp_mov(nfp_prog, reg_a(0), NFP_BPF_ABI_FLAGS());
  emit_ld_field(nfp_prog, reg_a(0), 0xc, reg_b(2), 'l_shf', 16);
}

/** Save R6-R9 after the return address in the callee's frame; imm_b holds where to go on (the callee). */
function nfp_push_callee_registers(nfp_prog: NfpProg): void {
  nfp_prog.tgt_call_push_regs = nfp_prog_current_offset(nfp_prog);
  for (let reg = 6; reg <= 9; reg++) {
    const adj = reg * 2;
    const idx = (reg - 6) * 2;
    wrp_mov(nfp_prog, reg_lm(0, 1 + idx), reg_b(adj));
    // Jump back early: the last three moves go in the defer slots.
    if (reg === 8) emit_rtn(nfp_prog, imm_b(), 3);
    wrp_mov(nfp_prog, reg_lm(0, 1 + idx + 1), reg_b(adj + 1));
  }
}

/** Restore R6-R9; ret_reg holds the caller's return address. */
function nfp_pop_callee_registers(nfp_prog: NfpProg): void {
  nfp_prog.tgt_call_pop_regs = nfp_prog_current_offset(nfp_prog);
  for (let reg = 6; reg <= 9; reg++) {
    const adj = reg * 2;
    const idx = (reg - 6) * 2;
    wrp_mov(nfp_prog, reg_both(adj), reg_lm(0, 1 + idx));
    if (reg === 8) emit_rtn(nfp_prog, ret_reg(), 3);
    wrp_mov(nfp_prog, reg_both(adj + 1), reg_lm(0, 1 + idx + 1));
  }
}

export function nfp_outro(nfp_prog: NfpProg): void {
  if (nfp_prog.type === BPF_PROG_TYPE.SCHED_CLS) nfp_outro_tc_da(nfp_prog);
  else if (nfp_prog.type === BPF_PROG_TYPE.XDP) nfp_outro_xdp(nfp_prog);
  else throw new BpfError('EINVAL', `nfp: no outro for program type ${nfp_prog.type}`);
  if (!nfp_prog.subprog.slice(1).some((s) => s.needs_reg_push)) return;
  nfp_push_callee_registers(nfp_prog);
  nfp_pop_callee_registers(nfp_prog);
}
