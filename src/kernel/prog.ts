// struct bpf_prog and its aux data (include/linux/bpf.h): what BPF_PROG_LOAD creates and everything that
// holds a program (an fd, a pin, a PROG_ARRAY slot, an XDP attachment) keeps alive by reference.

import type { Insn } from '../bpf/insn.js';
import type { BpfFuncInfo, BpfLineInfo } from '../bpf/btf.js';
import type { ExecProgram } from './exec/context.js';
import type { JitProgram } from './exec/jit.js';
import type { Region } from './exec/memory.js';
import type { BpfMap, RefCounted } from './maps/map.js';
import type { BpfProgOffload } from './offload.js';
import type { InsnAux } from './verifier/verifier.js';

export class BpfProg implements RefCounted, ExecProgram {
  /** prog->aux->id, from the prog IDR; 0 until allocated. */
  id = 0;
  private refcnt = 1;
  /** Runs counted and time spent, when bpf_stats are enabled (kernel.bpf_stats_enabled). */
  runCnt = 0;
  runTimeNs = 0;
  /** The JIT image, when the JIT is enabled and could compile the program. */
  jited: JitProgram | undefined;
  /** What the verifier proved per instruction (bpf_insn_aux_data), for the JITs; absent if unverified. */
  aux: readonly InsnAux[] | undefined;
  /** Called once when the last reference goes: the kernel frees the id and the used maps. */
  onFree: ((prog: BpfProg) => void) | undefined;
  /** prog->aux->offload: the device binding (prog_ifindex); null for host programs and orphans. */
  offload: BpfProgOffload | null = null;
  /** prog->aux->dev_bound: loaded with prog_ifindex (stays true when the device goes away). */
  devBound = false;
  /** prog->aux->offload_requested: the device runs it (not BPF_F_XDP_DEV_BOUND_ONLY). */
  offloadRequested = false;

  constructor(
    readonly type: number,
    readonly expectedAttachType: number,
    readonly name: string,
    readonly tag: string,
    readonly gplCompatible: boolean,
    /** ktime_get_boottime_ns() at load, as bpf_prog_info.load_time. */
    readonly loadTime: bigint,
    readonly uid: number,
    /** The program as the engines run it: map and function lddw turned into pointers. */
    readonly insns: readonly Insn[],
    /** The kernel's view for `prog dump xlated`: map lddw keep (src = pseudo, imm = map id). */
    readonly xlated: readonly Insn[],
    /** prog->aux->used_maps: the maps its lddw name, and any BPF_PROG_BIND_MAP added. */
    readonly usedMaps: BpfMap[],
    /** The region whose pointers are this program's BPF function addresses (lddw BPF_PSEUDO_FUNC). */
    readonly funcRegion: Region | undefined,
    readonly btfId: number,
    readonly funcInfo: readonly BpfFuncInfo[],
    readonly lineInfo: readonly BpfLineInfo[],
    /** Instructions the verifier processed (bpf_prog_info.verified_insns). */
    readonly verifiedInsns: number,
  ) {}

  get(): void {
    if (this.refcnt <= 0) throw new Error(`BUG: prog ${this.id} used after free`);
    this.refcnt++;
  }

  put(): void {
    if (this.refcnt <= 0) throw new Error(`BUG: prog ${this.id} put after free`);
    if (--this.refcnt === 0) this.onFree?.(this);
  }

  get refcount(): number {
    return this.refcnt;
  }

  /** bpf_prog_size(): pages charged for the program (bpftool's memlock). */
  get memlock(): number {
    const PAGE = 4096;
    return Math.ceil((72 + this.xlated.length * 8) / PAGE) * PAGE;
  }
}
