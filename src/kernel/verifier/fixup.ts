// What the kernel does to a program after do_check() proved it safe, producing the "xlated" program
// that `bpftool prog dump xlated` shows and bpf_prog_info.xlated_prog_len counts (kernel/bpf/verifier.c):
//
//   opt_hard_wire_dead_code_branches  a conditional jump the walk found always or never taken becomes
//                                     `goto` or `goto +0`; opt_remove_dead_code drops what no path reached;
//                                     opt_remove_nops drops `goto +0`. Root only (we load as root). An
//                                     offload device is told (replace_insn / remove_insns) and may refuse.
//   convert_ctx_accesses              xdp_md field loads become loads from struct xdp_buff and the
//                                     structures behind it (xdp_convert_ctx_access)
//   do_misc_fixups                    map lookups inlined (array_map_gen_lookup, htab_map_gen_lookup...),
//                                     other map helpers become direct calls of the map's ops
//
// Map lddw keep BPF_PSEUDO_MAP_FD/VALUE with the map id (what bpf_insn_prepare_dump gives bpftool). The
// engines run the program as verified; this form is for introspection and its sizes.

import { BpfError } from '../../bpf/errno.js';
import { insn, type Insn } from '../../bpf/insn.js';
import {
  BPF_ADD, BPF_ALU64, BPF_B, BPF_CALL, BPF_DW, BPF_JA, BPF_JEQ, BPF_JGE, BPF_JMP, BPF_JNE, BPF_K, BPF_LDX,
  BPF_LSH, BPF_MEM, BPF_MOV, BPF_MUL, BPF_ST, BPF_W, BPF_X, findOp, type OpInfo,
} from '../../bpf/opcodes.js';
import { func_proto } from '../helpers/index.js';
import {
  BPF_MAP_TYPE_ARRAY, BPF_MAP_TYPE_DEVMAP, BPF_MAP_TYPE_DEVMAP_HASH, BPF_MAP_TYPE_HASH, BPF_MAP_TYPE_LRU_HASH, BPF_MAP_TYPE_LRU_PERCPU_HASH,
  BPF_MAP_TYPE_PERCPU_ARRAY, BPF_MAP_TYPE_PERCPU_HASH, round_up, type BpfMap,
} from '../maps/map.js';
import { XDP_MD } from '../net/xdp.js';
import {
  HTAB_ELEM_LRU_REF, NET_DEVICE_IFINDEX, PCPU_CPU_NUMBER, SIZEOF_BPF_ARRAY, SIZEOF_HTAB_ELEM, XDP_BUFF,
  XDP_RXQ_INFO, XDP_TXQ_INFO,
} from '../kstruct.js';
import type { InsnAux, VerifierEnv } from './verifier.js';

/** The kernel-internal MOV of a per-CPU address (BPF_MOV64_PERCPU_REG): off = BPF_ADDR_PERCPU. */
const BPF_ADDR_PERCPU = -1;
const BPF_ARRAY_VALUE = SIZEOF_BPF_ARRAY;
const HTAB_ELEM_KEY = SIZEOF_HTAB_ELEM;
const BPF_FUNC_get_smp_processor_id = 8;

const BPF_FUNC_map_lookup_elem = 1;
const BPF_FUNC_map_update_elem = 2;
const BPF_FUNC_map_delete_elem = 3;
const BPF_FUNC_tail_call = 12;
const BPF_FUNC_redirect_map = 51;

/**
 * Kernel functions a rewritten call may name, with a stand-in for their kallsyms offset from
 * __bpf_call_base (bpftool prints `call NAME#OFFSET`; the real offsets depend on the kernel build).
 */
export const KERNEL_CALLS: ReadonlyMap<string, number> = new Map([
  // Read off the 6.18 kernel's xlated programs:
  ['bpf_csum_diff', 10508336], ['bpf_ktime_get_ns', 274096], ['bpf_trace_printk', -63248], ['bpf_user_rnd_u32', 23440],
  ['bpf_xdp_adjust_head', 10509360], ['bpf_xdp_adjust_tail', 10528032], ['bpf_xdp_event_output', 10510224],
  ['bpf_xdp_fib_lookup', 10548400], ['bpf_xdp_redirect', 10558624], ['dev_map_redirect', 524560],
  // Stand-ins for the rest (the real offsets depend on the build):
  ['bpf_xdp_adjust_meta', 10509872], ['bpf_xdp_get_buff_len', 10527264], ['bpf_xdp_load_bytes', 10527520],
  ['bpf_xdp_store_bytes', 10527776], ['dev_hash_map_redirect', 524816], ['bpf_map_lookup_elem', 336000],
  ['bpf_map_update_elem', 336128], ['bpf_map_delete_elem', 336256], ['bpf_get_smp_processor_id', 23184],
  ['__htab_map_lookup_elem', 336864], ['htab_map_update_elem', 349616], ['htab_map_delete_elem', 347648],
  ['htab_lru_map_update_elem', 350592], ['htab_lru_map_delete_elem', 348160],
  ['htab_percpu_map_update_elem', 351232], ['htab_lru_percpu_map_update_elem', 351744],
  ['htab_lru_percpu_map_lookup_elem', 343936], ['array_map_update_elem', 327680], ['array_map_delete_elem', 327424],
  ['percpu_array_map_update_elem', 328192], ['percpu_array_map_delete_elem', 327424],
]);
const callByName = new Map([...KERNEL_CALLS].map(([n, imm]) => [imm, n]));

/** The kernel function a rewritten call's imm names, for the xlated dump. */
export function kernelCallName(imm: number): string | undefined {
  return callByName.get(imm);
}

const ldx = (size: number, dst: number, src: number, off: number): Insn => insn(BPF_LDX | BPF_MEM | size, dst, src, off);
const call = (name: string): Insn => insn(BPF_JMP | BPF_CALL, 0, 0, 0, KERNEL_CALLS.get(name)!);

/** xdp_convert_ctx_access: the loads that replace one xdp_md field load. */
function convertXdpCtx(x: Insn, field: number): Insn[] {
  const { dst, src } = x;
  switch (field) {
    case XDP_MD.data: return [ldx(BPF_DW, dst, src, XDP_BUFF.data)];
    case XDP_MD.data_end: return [ldx(BPF_DW, dst, src, XDP_BUFF.data_end)];
    case XDP_MD.data_meta: return [ldx(BPF_DW, dst, src, XDP_BUFF.data_meta)];
    case XDP_MD.ingress_ifindex:
      return [ldx(BPF_DW, dst, src, XDP_BUFF.rxq), ldx(BPF_DW, dst, dst, XDP_RXQ_INFO.dev), ldx(BPF_W, dst, dst, NET_DEVICE_IFINDEX)];
    case XDP_MD.rx_queue_index:
      return [ldx(BPF_DW, dst, src, XDP_BUFF.rxq), ldx(BPF_W, dst, dst, XDP_RXQ_INFO.queue_index)];
    case XDP_MD.egress_ifindex:
      return [ldx(BPF_DW, dst, src, XDP_BUFF.txq), ldx(BPF_DW, dst, dst, XDP_TXQ_INFO.dev), ldx(BPF_W, dst, dst, NET_DEVICE_IFINDEX)];
    default: return [x];
  }
}

const isPow2 = (n: number): boolean => n > 0 && (n & (n - 1)) === 0;

/** map->ops->map_gen_lookup for the map types that have one (as root: no Spectre index masking). */
function genLookup(map: BpfMap): Insn[] | undefined {
  const R0 = 0, R1 = 1, R2 = 2;
  const elem = round_up(map.value_size, 8);
  const keyOff = HTAB_ELEM_KEY + round_up(map.key_size, 8);
  switch (map.map_type) {
    case BPF_MAP_TYPE_ARRAY:
      return [
        insn(BPF_ALU64 | BPF_ADD | BPF_K, R1, 0, 0, BPF_ARRAY_VALUE),
        ldx(BPF_W, R0, R2, 0),
        insn(BPF_JMP | BPF_JGE | BPF_K, R0, 0, 3, map.max_entries),
        isPow2(elem) ? insn(BPF_ALU64 | BPF_LSH | BPF_K, R0, 0, 0, Math.log2(elem)) : insn(BPF_ALU64 | BPF_MUL | BPF_K, R0, 0, 0, elem),
        insn(BPF_ALU64 | BPF_ADD | BPF_X, R0, R1),
        insn(BPF_JMP | BPF_JA, 0, 0, 1),
        insn(BPF_ALU64 | BPF_MOV | BPF_K, R0),
      ];
    case BPF_MAP_TYPE_PERCPU_ARRAY:
      // The last mov is BPF_MOV64_PERCPU_REG in the kernel (off = BPF_ADDR_PERCPU); it prints the same.
      return [
        insn(BPF_ALU64 | BPF_ADD | BPF_K, R1, 0, 0, BPF_ARRAY_VALUE),
        ldx(BPF_W, R0, R2, 0),
        insn(BPF_JMP | BPF_JGE | BPF_K, R0, 0, 5, map.max_entries),
        insn(BPF_ALU64 | BPF_LSH | BPF_K, R0, 0, 0, 3),
        insn(BPF_ALU64 | BPF_ADD | BPF_X, R0, R1),
        ldx(BPF_DW, R0, R0, 0),
        insn(BPF_ALU64 | BPF_MOV | BPF_X, R0, R0, BPF_ADDR_PERCPU),
        insn(BPF_JMP | BPF_JA, 0, 0, 1),
        insn(BPF_ALU64 | BPF_MOV | BPF_K, R0),
      ];
    case BPF_MAP_TYPE_HASH:
      return [call('__htab_map_lookup_elem'), insn(BPF_JMP | BPF_JEQ | BPF_K, R0, 0, 1, 0), insn(BPF_ALU64 | BPF_ADD | BPF_K, R0, 0, 0, keyOff)];
    case BPF_MAP_TYPE_LRU_HASH:
      return [
        call('__htab_map_lookup_elem'),
        insn(BPF_JMP | BPF_JEQ | BPF_K, R0, 0, 4, 0),
        ldx(BPF_B, R1, R0, HTAB_ELEM_LRU_REF),
        insn(BPF_JMP | BPF_JNE | BPF_K, R1, 0, 1, 0),
        insn(BPF_ST | BPF_MEM | BPF_B, R0, 0, HTAB_ELEM_LRU_REF, 1),
        insn(BPF_ALU64 | BPF_ADD | BPF_K, R0, 0, 0, keyOff),
      ];
    case BPF_MAP_TYPE_PERCPU_HASH:
      return [
        call('__htab_map_lookup_elem'),
        insn(BPF_JMP | BPF_JEQ | BPF_K, R0, 0, 3, 0),
        insn(BPF_ALU64 | BPF_ADD | BPF_K, R0, 0, 0, keyOff),
        ldx(BPF_DW, R0, R0, 0),
        insn(BPF_ALU64 | BPF_MOV | BPF_X, R0, R0, BPF_ADDR_PERCPU),
      ];
    case BPF_MAP_TYPE_LRU_PERCPU_HASH:
      // No map_gen_lookup: a direct call of the map's own lookup.
      return [call('htab_lru_percpu_map_lookup_elem')];
    default:
      return undefined;
  }
}

/** The map op a map helper call becomes when the map is known (the `ops->map_*_elem` direct calls). */
function mapOpCall(map: BpfMap, helper: number): Insn | undefined {
  if (helper === BPF_FUNC_redirect_map) {
    const name = map.map_type === BPF_MAP_TYPE_DEVMAP ? 'dev_map_redirect' : map.map_type === BPF_MAP_TYPE_DEVMAP_HASH ? 'dev_hash_map_redirect' : undefined;
    return name === undefined ? undefined : call(name);
  }
  const kind = helper === BPF_FUNC_map_update_elem ? 'update' : helper === BPF_FUNC_map_delete_elem ? 'delete' : undefined;
  if (kind === undefined) return undefined;
  const prefix: Record<number, string> = {
    [BPF_MAP_TYPE_HASH]: 'htab_map', [BPF_MAP_TYPE_LRU_HASH]: 'htab_lru_map', [BPF_MAP_TYPE_PERCPU_HASH]: 'htab_percpu_map',
    [BPF_MAP_TYPE_LRU_PERCPU_HASH]: 'htab_lru_percpu_map', [BPF_MAP_TYPE_ARRAY]: 'array_map', [BPF_MAP_TYPE_PERCPU_ARRAY]: 'percpu_array_map',
  };
  const name = `${prefix[map.map_type] ?? ''}_${kind}_elem`;
  return KERNEL_CALLS.has(name) ? call(name) : undefined;
}

/**
 * Apply per-instruction patches (index -> replacement) and fix every jump that crosses a patch
 * (bpf_patch_insn_data + adjust_jmp_off): jumps inside a replacement are relative already.
 */
function patch(insns: readonly Insn[], ops: readonly (OpInfo | undefined)[], patches: ReadonlyMap<number, readonly Insn[]>): { out: Insn[]; newIndex: Int32Array } {
  const newIndex = new Int32Array(insns.length + 1);
  let n = 0;
  for (let i = 0; i < insns.length; i++) {
    newIndex[i] = n;
    const p = patches.get(i);
    n += p === undefined ? 1 : p.length;
  }
  newIndex[insns.length] = n;
  const out: Insn[] = [];
  for (let i = 0; i < insns.length; i++) {
    const p = patches.get(i);
    if (p !== undefined) {
      out.push(...p.map((x) => ({ ...x })));
      continue;
    }
    const x = { ...insns[i]! };
    const op = ops[i];
    const here = newIndex[i]! + 1;
    if (op?.kind === 'ja' && !op.long) x.off = newIndex[i + insns[i]!.off + 1]! - here;
    else if (op?.kind === 'ja') x.imm = newIndex[i + insns[i]!.imm + 1]! - here;
    else if (op?.kind === 'jcond') x.off = newIndex[i + insns[i]!.off + 1]! - here;
    else if ((op?.kind === 'call' && op.target === 'local') || (op?.kind === 'lddw' && op.pseudo === 4)) x.imm = newIndex[i + insns[i]!.imm + 1]! - here;
    out.push(x);
  }
  return { out, newIndex };
}

const opsOf = (insns: readonly Insn[]): (OpInfo | undefined)[] => {
  const ops = insns.map((x) => findOp(x.code, x.src, x.off, x.imm));
  for (let i = 0; i < ops.length; i++) if (ops[i]?.kind === 'lddw') ops[++i] = undefined;
  return ops;
};

export interface FixupResult {
  readonly xlated: Insn[];
  /** Original instruction index -> xlated index (-1 when removed), for line info. */
  readonly indexMap: Int32Array;
}

/**
 * Produce the xlated program from the verified one. `insns` are as loaded, with map lddw already
 * carrying (src = pseudo, imm = map id); `aux` is the walk's record. An offload device's
 * replace/remove callbacks may refuse a dead-code rewrite (it fails the load).
 */
/**
 * The rewrites after a successful walk. `dev` follows the dead-code passes for an offloaded program's
 * driver; `offloaded` skips convert_ctx_accesses (the device translates ctx itself) and the host-only
 * call rewrites, as the kernel does for a program whose aux->ops are bpf_offload_prog_ops.
 */
export function fixupProgram(env: VerifierEnv, insns: readonly Insn[], aux: readonly InsnAux[], dev?: {
  replaceInsn?(off: number, insn: Insn): void;
  removeInsns?(off: number, cnt: number): void;
}, offloaded = false): FixupResult {
  let cur = insns.map((x) => ({ ...x }));
  // Original index -> current index (-1 once removed).
  let index = Int32Array.from(cur.keys());

  // opt_hard_wire_dead_code_branches, opt_remove_dead_code, opt_remove_nops
  const ops0 = opsOf(cur);
  cur.forEach((x, i) => {
    // A side no path reached makes the jump unconditional, whatever decided it (the other side may
    // still be reached from elsewhere, so "decided here" is not enough).
    if (ops0[i]?.kind !== 'jcond') return;
    let off: number;
    if (aux[i + 1]?.seen !== true) off = x.off;
    else if (aux[i + 1 + x.off]?.seen !== true) off = 0;
    else return;
    const repl = insn(BPF_JMP | BPF_JA, 0, 0, off);
    dev?.replaceInsn?.(i, repl);
    cur[i] = repl;
  });
  const ops1 = opsOf(cur);
  const gone = new Set<number>();
  for (let i = 0; i < cur.length; i++) {
    const seen = aux[i]?.seen === true || (i > 0 && ops1[i - 1]?.kind === 'lddw' && aux[i - 1]?.seen === true);
    const nop = ops1[i]?.kind === 'ja' && cur[i]!.off === 0 && cur[i]!.code === (BPF_JMP | BPF_JA);
    if (!seen || nop) gone.add(i);
  }
  if (gone.size > 0) {
    for (let i = 0, run = -1; i <= cur.length; i++) {
      const g = i < cur.length && gone.has(i);
      if (g && run < 0) run = i;
      if (!g && run >= 0) {
        dev?.removeInsns?.(run, i - run);
        run = -1;
      }
    }
    // Removing is patching to nothing; a jump to removed code lands on the next kept instruction.
    const r = patch(cur, ops1, new Map([...gone].map((i) => [i, []])));
    cur = r.out;
    index = index.map((k) => (gone.has(k) ? -1 : r.newIndex[k]!));
  }

  // convert_ctx_accesses + do_misc_fixups, keyed by the surviving instructions' original indexes.
  const patches = new Map<number, readonly Insn[]>();
  const ops2 = opsOf(cur);
  const origOf = new Int32Array(cur.length).fill(-1);
  index.forEach((k, old) => { if (k >= 0) origOf[k] = old; });
  for (let k = 0; k < cur.length; k++) {
    const old = origOf[k]!;
    const a = old >= 0 ? aux[old] : undefined;
    const op = ops2[k];
    const x = cur[k]!;
    if (a === undefined || op === undefined) continue;
    if (op.kind === 'ldx' && a.ptrType === 'ctx' && !a.ptrTypeMixed && a.ctxField !== undefined && env.opts.progType === 6) {
      patches.set(k, convertXdpCtx(x, a.ctxField));
    } else if (op.kind === 'call' && op.target === 'helper' && x.imm === BPF_FUNC_get_smp_processor_id) {
      // Inlined on x86-64: r0 = *(u32 *)this_cpu_ptr(&pcpu_hot.cpu_number).
      patches.set(k, [
        insn(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, PCPU_CPU_NUMBER),
        insn(BPF_ALU64 | BPF_MOV | BPF_X, 0, 0, BPF_ADDR_PERCPU),
        ldx(BPF_W, 0, 0, 0),
      ]);
    } else if (op.kind === 'call' && op.target === 'helper' && a.map !== undefined && !a.mapMixed
      && (x.imm === BPF_FUNC_map_lookup_elem ? genLookup(a.map) : mapOpCall(a.map, x.imm)) !== undefined) {
      patches.set(k, x.imm === BPF_FUNC_map_lookup_elem ? genLookup(a.map)! : [mapOpCall(a.map, x.imm)!]);
    } else if (op.kind === 'call' && op.target === 'helper' && x.imm !== BPF_FUNC_tail_call) {
      // do_misc_fixups: the call goes to the program type's implementation (fn->func), which is what
      // the xlated program names.
      const impl = func_proto(env.opts.progType, x.imm)?.proto.func;
      const imm = impl === undefined ? undefined : KERNEL_CALLS.get(impl);
      if (imm !== undefined) patches.set(k, [insn(x.code, 0, 0, 0, imm)]);
    }
  }
  if (offloaded) patches.clear();
  if (patches.size > 0) {
    const r = patch(cur, ops2, patches);
    cur = r.out;
    index = index.map((k) => (k < 0 ? -1 : r.newIndex[k]!));
  }
  if (cur.length > 1_000_000) throw new BpfError('E2BIG', 'program too large after rewriting');
  // fixup_call_args() leaves an offloaded program's calls alone: the device JIT links subprograms itself.
  if (offloaded) return { xlated: cur, indexMap: index };
  // jit_subprogs(): once the subprograms are JITed separately, a bpf-to-bpf call's imm holds the callee's
  // subprogram number (which bpftool prints as `call pc+N`).
  const ops3 = opsOf(cur);
  const starts = new Set<number>([0]);
  cur.forEach((x, i) => { if (ops3[i]?.kind === 'call' && x.src === 1) starts.add(i + x.imm + 1); });
  const order = [...starts].sort((a, b) => a - b);
  cur.forEach((x, i) => {
    if (ops3[i]?.kind !== 'call' || x.src !== 1) return;
    x.off = x.imm; // the relative offset stays in off (call_imm)
    x.imm = order.indexOf(i + x.imm + 1);
  });
  return { xlated: cur, indexMap: index };
}
