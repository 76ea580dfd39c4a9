// What the NFP can run, in one place: the BPF instructions the JIT has a callback for (the kernel's
// instr_cb[256] in drivers/net/ethernet/netronome/nfp/bpf/jit.c, whose non-NULL entries are what
// nfp_bpf_supported_opcode() accepts), the helpers (nfp_bpf_check_helper_call() in verifier.c and
// helper_call() in jit.c), the pointer types a load or store may go through, and the context fields.
// The device verifier hook (verifier.ts) and the JIT (jit*.ts) both read this file, so the hook never
// accepts an instruction the JIT cannot emit; the JIT's callback table is typed Record<NfpInstrCb, ...>,
// so a callback named here without code there does not compile.
//
// One deliberate difference from the kernel: instr_cb is indexed by the opcode byte only, so the v4
// encodings that share a byte with a supported one (sdiv = div with off 1, movsx = mov with off 8/16/32)
// would pass the kernel's opcode check and be translated as div/mov. Here the table is keyed by the
// opcode table's entries (src/bpf/opcodes.ts), and those refuse with the same "instruction ... not
// supported" line.

import {
  BPF_FUNC_get_prandom_u32, BPF_FUNC_map_delete_elem, BPF_FUNC_map_lookup_elem, BPF_FUNC_map_update_elem,
  BPF_FUNC_perf_event_output, BPF_FUNC_tail_call, BPF_FUNC_xdp_adjust_head, BPF_FUNC_xdp_adjust_tail,
} from '../../bpf/helpers.js';
import { BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_IDX, OPS, type OpInfo } from '../../bpf/opcodes.js';
import { BPF_PROG_TYPE } from '../../bpf/prog-types.js';
import type { RegState, RegType } from '../../kernel/verifier/state.js';
import { XDP_MD } from '../../kernel/net/xdp.js';

/** The JIT's callbacks, by the kernel's function names. */
export type NfpInstrCb =
  | 'mov_reg64' | 'mov_imm64' | 'xor_reg64' | 'xor_imm64' | 'and_reg64' | 'and_imm64' | 'or_reg64' | 'or_imm64'
  | 'add_reg64' | 'add_imm64' | 'sub_reg64' | 'sub_imm64' | 'mul_reg64' | 'mul_imm64' | 'div_reg64' | 'div_imm64'
  | 'neg_reg64' | 'shl_reg64' | 'shl_imm64' | 'shr_reg64' | 'shr_imm64' | 'ashr_reg64' | 'ashr_imm64'
  | 'mov_reg' | 'mov_imm' | 'xor_reg' | 'xor_imm' | 'and_reg' | 'and_imm' | 'or_reg' | 'or_imm'
  | 'add_reg' | 'add_imm' | 'sub_reg' | 'sub_imm' | 'mul_reg' | 'mul_imm' | 'div_reg' | 'div_imm'
  | 'neg_reg' | 'shl_reg' | 'shl_imm' | 'shr_reg' | 'shr_imm' | 'ashr_reg' | 'ashr_imm'
  | 'end_reg32' | 'imm_ld8'
  | 'data_ld1' | 'data_ld2' | 'data_ld4' | 'data_ind_ld1' | 'data_ind_ld2' | 'data_ind_ld4'
  | 'mem_ldx1' | 'mem_ldx2' | 'mem_ldx4' | 'mem_ldx8' | 'mem_stx1' | 'mem_stx2' | 'mem_stx4' | 'mem_stx8'
  | 'mem_st1' | 'mem_st2' | 'mem_st4' | 'mem_st8' | 'mem_atomic4' | 'mem_atomic8'
  | 'jump' | 'jeq_imm' | 'jeq32_imm' | 'cmp_imm' | 'jset_imm' | 'jne_imm' | 'jeq_reg' | 'cmp_reg' | 'jset_reg' | 'jne_reg'
  | 'call' | 'jmp_exit';

const ALU_BASE: Partial<Record<string, string>> = {
  mov: 'mov', xor: 'xor', and: 'and', or: 'or', add: 'add', sub: 'sub', mul: 'mul', div: 'div',
  lsh: 'shl', rsh: 'shr', arsh: 'ashr',
};

/** instr_cb[]: the callback for one entry of the opcode table, or undefined (not supported). */
function instrCbOf(op: OpInfo): NfpInstrCb | undefined {
  switch (op.kind) {
    case 'alu': {
      if (op.op === 'neg') return op.alu64 ? 'neg_reg64' : 'neg_reg';
      const base = ALU_BASE[op.op];
      if (base === undefined) return undefined; // mod, smod, sdiv, movsx: no NFP code
      return `${base}_${op.srcReg ? 'reg' : 'imm'}${op.alu64 ? '64' : ''}` as NfpInstrCb;
    }
    case 'end':
      // BPF_ALU | BPF_END | BPF_X only: to big-endian. To-little-endian is a no-op the JIT never
      // learned, and ALU64 bswap came later.
      return op.op === 'be' ? 'end_reg32' : undefined;
    case 'lddw':
      // Plain constants and map pointers (nfp_bpf_replace_map_ptrs turns the map into its table id).
      return op.pseudo === 0 || op.pseudo === BPF_PSEUDO_MAP_FD || op.pseudo === BPF_PSEUDO_MAP_IDX ? 'imm_ld8' : undefined;
    case 'ldabs':
      if (op.size === 8) return undefined;
      return `${op.indirect ? 'data_ind_ld' : 'data_ld'}${op.size}` as NfpInstrCb;
    case 'ldx':
      return op.signed ? undefined : (`mem_ldx${op.size}` as NfpInstrCb);
    case 'stx':
      return `mem_stx${op.size}` as NfpInstrCb;
    case 'st':
      return `mem_st${op.size}` as NfpInstrCb;
    case 'atomic':
      // Every atomic shares these two opcode bytes; the hook refuses all but BPF_ADD with its own line.
      return op.size === 4 ? 'mem_atomic4' : 'mem_atomic8';
    case 'ja':
      return op.long ? undefined : 'jump';
    case 'jcond':
      if (op.srcReg) {
        if (op.cond === 'jeq') return 'jeq_reg';
        if (op.cond === 'jne') return 'jne_reg';
        if (op.cond === 'jset') return 'jset_reg';
        return 'cmp_reg';
      }
      if (op.cond === 'jeq') return op.jmp32 ? 'jeq32_imm' : 'jeq_imm';
      if (op.cond === 'jne') return 'jne_imm';
      if (op.cond === 'jset') return 'jset_imm';
      return 'cmp_imm';
    case 'call':
      return op.target === 'kfunc' ? undefined : 'call';
    case 'callx':
      return undefined;
    case 'exit':
      return 'jmp_exit';
  }
}

const INSTR_CB = new Map<OpInfo, NfpInstrCb>();
for (const op of OPS) {
  const cb = instrCbOf(op);
  if (cb !== undefined) INSTR_CB.set(op, cb);
}

/** The JIT callback for an instruction (its opcode-table entry), or undefined. */
export function nfp_bpf_instr_cb(op: OpInfo | undefined): NfpInstrCb | undefined {
  return op === undefined ? undefined : INSTR_CB.get(op);
}

/** nfp_bpf_supported_opcode(). */
export function nfp_bpf_supported_opcode(op: OpInfo | undefined): boolean {
  return nfp_bpf_instr_cb(op) !== undefined;
}

// ---------------------------------------------------------------------------------------------------
// Helpers

/**
 * The helpers the NIC has, by how the driver names them in its log lines. 'tail_call' is nfp-emu's,
 * PAPER-ONLY (the seed paper's future work): the hook takes it only from a firmware that advertises
 * NFP_BPF_CAP_TYPE_TAIL_CALL, and refuses it as upstream does ("unsupported function id: 12") otherwise.
 */
export type NfpHelper = 'adjust_head' | 'adjust_tail' | 'map_lookup' | 'map_update' | 'map_delete' | 'prandom' | 'event_output' | 'tail_call';

const HELPERS: ReadonlyMap<number, NfpHelper> = new Map<number, NfpHelper>([
  [BPF_FUNC_xdp_adjust_head, 'adjust_head'],
  [BPF_FUNC_xdp_adjust_tail, 'adjust_tail'],
  [BPF_FUNC_map_lookup_elem, 'map_lookup'],
  [BPF_FUNC_map_update_elem, 'map_update'],
  [BPF_FUNC_map_delete_elem, 'map_delete'],
  [BPF_FUNC_get_prandom_u32, 'prandom'],
  [BPF_FUNC_perf_event_output, 'event_output'],
  [BPF_FUNC_tail_call, 'tail_call'],
]);

/** Which NIC helper a helper call is (undefined: "unsupported function id"). */
export function nfp_bpf_helper(func_id: number): NfpHelper | undefined {
  return HELPERS.get(func_id);
}

/** The helpers that are firmware branches (RELO_BR_HELPER, to a FUNC capability address). */
export const NFP_BPF_FW_HELPERS: readonly number[] = [BPF_FUNC_map_lookup_elem, BPF_FUNC_map_update_elem, BPF_FUNC_map_delete_elem, BPF_FUNC_perf_event_output];

// ---------------------------------------------------------------------------------------------------
// Pointer types (enum bpf_reg_type numbers are what the driver prints)

const REG_TYPE_NUM: Readonly<Record<RegType, number>> = {
  not_init: 0, scalar: 1, ctx: 2, map_ptr: 3, map_value: 4, map_key: 5, fp: 6, pkt_meta: 7, pkt: 8, pkt_end: 9, mem: 17, func: 20,
};
/** PTR_MAYBE_NULL, a flag bit above the base types (BPF_BASE_TYPE_BITS = 8). */
const PTR_MAYBE_NULL = 1 << 8;

/** A register's enum bpf_reg_type as the kernel numbers it (the "%d" of the [nfp] lines). */
export function nfp_reg_type_num(r: Pick<RegState, 'type' | 'maybeNull'>): number {
  return REG_TYPE_NUM[r.type] | (r.maybeNull ? PTR_MAYBE_NULL : 0);
}

/** The FW ABI's pointer type codes of perf_event_output's data argument (NFP_BPF_* in main.h). */
export const NFP_BPF_SCALAR_VALUE = 1;
export const NFP_BPF_MAP_VALUE = 4;
export const NFP_BPF_STACK = 6;
export const NFP_BPF_PACKET_DATA = 8;

/** Pointer types a load or store may go through (nfp_bpf_check_ptr). */
export const NFP_BPF_MEM_PTR_TYPES: ReadonlySet<RegType> = new Set<RegType>(['ctx', 'fp', 'map_value', 'pkt']);

// ---------------------------------------------------------------------------------------------------
// Context fields

/** struct __sk_buff offsets the TC JIT reads (mem_ldx_skb). */
export const SKB_LEN = 0;
export const SKB_DATA = 76;
export const SKB_DATA_END = 80;

/**
 * The context loads the JIT translates (mem_ldx_xdp / mem_ldx_skb): for XDP data and data_end, for TC
 * also len, all 4 bytes. The kernel finds anything else only at translation ("Translation failed");
 * the hook refuses it up front from this same list.
 */
export function nfp_bpf_ctx_load_ok(progType: number, off: number, size: number): boolean {
  if (size !== 4) return false;
  if (progType === BPF_PROG_TYPE.XDP) return off === XDP_MD.data || off === XDP_MD.data_end;
  if (progType === BPF_PROG_TYPE.SCHED_CLS) return off === SKB_LEN || off === SKB_DATA || off === SKB_DATA_END;
  return false;
}

/** The one context store: XDP rx_queue_index (queue selection), 4 bytes (mem_stx_xdp). */
export function nfp_bpf_ctx_store_ok(progType: number, off: number, size: number): boolean {
  return progType === BPF_PROG_TYPE.XDP && off === XDP_MD.rx_queue_index && size === 4;
}

/** Program types the JIT has an outro for (nfp_outro). */
export function nfp_bpf_prog_type_ok(progType: number): boolean {
  return progType === BPF_PROG_TYPE.XDP || progType === BPF_PROG_TYPE.SCHED_CLS;
}
