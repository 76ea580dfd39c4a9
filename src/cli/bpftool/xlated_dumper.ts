// tools/bpf/bpftool/xlated_dumper.c: `prog dump xlated` as plain text and JSON. Each instruction is
// printed by the kernel's print_bpf_insn() (the 'kernel' flavour of src/bpf/disasm.ts), preceded by the
// C signature of the function starting there (func_info) and by the source line it comes from
// (line_info, found as libbpf's bpf_prog_linfo__lfind() finds it).
//
// Call targets are named as bpftool names them through /proc/kallsyms: a helper by its function, a
// bpf-to-bpf call of a JIT-compiled program by the callee's kallsyms symbol `bpf_prog_<tag>_<name>`.
// The tag of a callee is the kernel's: bpf_prog_calc_tag() of that function's instructions as
// jit_subprogs() leaves them, each call's off set to the callee's index and its imm to 1.

import { btfFuncName, btfDumpLinfoJson, btfDumpLinfoPlain, btfDumperTypeOnly } from './btf_dumper.js';
import { fprintHex, printHexDataJson, type Bpftool } from './common.js';
import type { Btf, BpfFuncInfo, BpfLineInfo } from '../../bpf/btf.js';
import { formatInsn, xlatedImmName } from '../../bpf/disasm.js';
import { BPF_FUNC_tail_call, helperName } from '../../bpf/helpers.js';
import { encode, type Insn } from '../../bpf/insn.js';
import { BPF_DW, BPF_IMM, BPF_JMP, BPF_LD, BPF_PSEUDO_CALL } from '../../bpf/opcodes.js';
import { kernelCallName } from '../../kernel/verifier/fixup.js';
import { progTag, tagDigestForKernel } from '../../bpf/tag.js';
import { KERNEL_VERSION } from '../../kernel/kernel.js';

const LDDW = BPF_LD | BPF_IMM | BPF_DW;
const CALL = 0x85;
/** BPF_TAIL_CALL: the kernel-internal opcode a tail call becomes for the JIT. */
const BPF_TAIL_CALL = 0xf0;

/** struct dump_data: what the dumpers know besides the instructions. */
export interface DumpData {
  readonly btf: Btf | undefined;
  readonly funcInfo: readonly BpfFuncInfo[];
  readonly lineInfo: readonly BpfLineInfo[];
  /** kallsyms names of the JIT image's functions (bpf_prog_info.jited_ksyms); empty when interpreted. */
  readonly jitedKsyms: readonly string[];
  /** First instruction of each function, in order (the kernel's subprog starts). */
  readonly funcStarts: readonly number[];
}

/**
 * Where each function of a program starts: its func_info, else the targets of its bpf-to-bpf calls
 * (an xlated call keeps the relative offset in `off` and the callee's number in `imm`).
 */
export function funcStarts(insns: readonly Insn[], funcInfo: readonly BpfFuncInfo[]): number[] {
  if (funcInfo.length > 0) return funcInfo.map((f) => f.insnOff);
  const starts = new Set<number>([0]);
  for (let i = 0; i < insns.length; i++) {
    const x = insns[i]!;
    if (x.code === CALL && x.src === BPF_PSEUDO_CALL && x.off !== 0) starts.add(i + x.off + 1);
    if (x.code === LDDW) i++;
  }
  return [...starts].sort((a, b) => a - b);
}

/**
 * The kallsyms names of a JIT-compiled program's functions: `bpf_prog_<tag>_<name>`, the name from BTF
 * (or `F` for a subprogram without func_info, the program's own name for the main function). The tag
 * is bpf_prog_calc_tag() of the function as jit_subprogs() hashes it: the xlated instructions with
 * each call's off holding the callee's number and imm 1, a tail call as BPF_JMP|BPF_TAIL_CALL imm 0.
 */
export function jitedKsymNames(progName: string, insns: readonly Insn[], starts: readonly number[], funcInfo: readonly BpfFuncInfo[], btf: Btf | undefined): string[] {
  const digest = tagDigestForKernel(...KERNEL_VERSION);
  const asJitted = insns.map((x) => {
    if (x.code === CALL && x.src === BPF_PSEUDO_CALL) return { ...x, off: x.imm, imm: 1 };
    if (x.code === CALL && x.src === 0 && x.imm === BPF_FUNC_tail_call) return { ...x, code: BPF_JMP | BPF_TAIL_CALL, imm: 0 };
    return x;
  });
  return starts.map((start, k) => {
    const end = starts[k + 1] ?? insns.length;
    const fi = funcInfo[k];
    const name = (fi !== undefined && btf !== undefined ? btfFuncName(btf, fi.typeId) : undefined) ?? (k === 0 ? progName : 'F');
    return `bpf_prog_${progTag(asJitted.slice(start, end), digest)}_${name}`;
  });
}

/** The last helper of this bpftool's own copy of kernel/bpf/disasm.c (Linux 6.1): bpf_user_ringbuf_drain. */
const BPFTOOL_FUNC_MAX_ID = 209;

/**
 * __func_get_name() with bpftool's print_call(): a helper id the disassembler knows by name; else the
 * kallsyms symbol at __bpf_call_base + imm (the kernel function a rewritten call jumps to); a
 * bpf-to-bpf call as `%+d` of its offset, with the callee's symbol when the program is JIT-compiled.
 */
function callName(dd: DumpData, insns: readonly Insn[], i: number): string | undefined {
  const x = insns[i]!;
  if (x.src === BPF_PSEUDO_CALL) {
    // xlated: imm is the callee's number, its start gives the offset the kernel keeps in off.
    const target = dd.funcStarts[x.imm];
    const off = target !== undefined ? target - i - 1 : x.off;
    const rel = off >= 0 ? `+${off}` : `${off}`;
    // print_call_pcrel(): interpreted programs show no address.
    if (dd.jitedKsyms.length === 0) return rel;
    const sym = dd.jitedKsyms[x.imm];
    return sym === undefined ? rel : `${rel}#${sym}`;
  }
  if (x.src === 0 && x.imm >= 0 && x.imm <= BPFTOOL_FUNC_MAX_ID) return helperName(x.imm);
  if (x.src === 0) return kernelCallName(x.imm);
  return undefined;
}

/** bpf_prog_linfo__lfind(): the last line_info at or before insn, from record nrSkip on. */
function lfind(lineInfo: readonly BpfLineInfo[], insn: number, nrSkip: number): BpfLineInfo | undefined {
  if (nrSkip >= lineInfo.length) return undefined;
  if (insn < lineInfo[nrSkip]!.insnOff) return undefined;
  let k = nrSkip;
  while (k + 1 < lineInfo.length && lineInfo[k + 1]!.insnOff <= insn) k++;
  return lineInfo[k];
}

/** print_bpf_insn() of instruction i with bpftool's callbacks. */
export function xlatedInsnText(dd: DumpData, insns: readonly Insn[], i: number): string {
  return formatInsn(insns, i, { flavour: 'kernel', callName: () => callName(dd, insns, i), immName: xlatedImmName });
}

/** dump_xlated_plain(). */
export function dumpXlatedPlain(b: Bpftool, dd: DumpData, insns: readonly Insn[], opcodes: boolean, linum: boolean): void {
  let rec = 0;
  let nrSkip = 0;
  let double = false;
  for (let i = 0; i < insns.length; i++) {
    if (double) {
      double = false;
      continue;
    }
    const fi = dd.funcInfo[rec];
    if (dd.btf !== undefined && fi !== undefined && fi.insnOff === i) {
      const sig = btfDumperTypeOnly(dd.btf, fi.typeId);
      if (sig !== '') b.printf(`${sig}:\n`);
      rec++;
    }
    const li = dd.btf !== undefined ? lfind(dd.lineInfo, i, nrSkip) : undefined;
    if (li !== undefined) {
      b.printf(btfDumpLinfoPlain(dd.btf!, li, '; ', linum) ?? '');
      nrSkip++;
    }
    double = insns[i]!.code === LDDW;
    b.printf(`${String(i).padStart(4)}: ${xlatedInsnText(dd, insns, i)}\n`);
    if (opcodes) {
      const raw = encode(insns.slice(i, double && i + 1 < insns.length ? i + 2 : i + 1));
      b.printf(`       ${fprintHex(raw, 8, ' ')}${raw.length > 8 ? ` ${fprintHex(raw.subarray(8), 8, ' ')}` : ''}\n`);
    }
  }
}

/** dump_xlated_json(). */
export function dumpXlatedJson(b: Bpftool, dd: DumpData, insns: readonly Insn[], opcodes: boolean, linum: boolean): void {
  const jw = b.jw;
  let rec = 0;
  let nrSkip = 0;
  let double = false;
  jw.startArray();
  for (let i = 0; i < insns.length; i++) {
    if (double) {
      double = false;
      continue;
    }
    const x = insns[i]!;
    double = x.code === LDDW;
    jw.startObject();
    const fi = dd.funcInfo[rec];
    if (dd.btf !== undefined && fi !== undefined && fi.insnOff === i) {
      const sig = btfDumperTypeOnly(dd.btf, fi.typeId);
      if (sig !== '') jw.stringField('proto', sig);
      rec++;
    }
    const li = dd.btf !== undefined ? lfind(dd.lineInfo, i, nrSkip) : undefined;
    if (li !== undefined) {
      btfDumpLinfoJson(jw, dd.btf!, li, linum);
      nrSkip++;
    }
    jw.name('disasm');
    jw.enquote(xlatedInsnText(dd, insns, i));
    if (opcodes) {
      const raw = encode(insns.slice(i, double && i + 1 < insns.length ? i + 2 : i + 1));
      jw.name('opcodes');
      jw.startObject();
      jw.name('code');
      jw.printf(`"0x${x.code.toString(16).padStart(2, '0')}"`);
      jw.name('src_reg');
      jw.printf(`"0x${x.src.toString(16)}"`);
      jw.name('dst_reg');
      jw.printf(`"0x${x.dst.toString(16)}"`);
      jw.name('off');
      printHexDataJson(jw, raw.subarray(2, 4));
      jw.name('imm');
      printHexDataJson(jw, raw.subarray(4, raw.length > 8 ? 16 : 8));
      jw.endObject();
    }
    jw.endObject();
  }
  jw.endArray();
}
