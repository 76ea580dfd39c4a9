// tools/bpf/bpftool/cfg.c: `prog dump xlated PROG visual`, the program's control-flow graph in DOT.
// Functions start at bpf-to-bpf call targets and are numbered in the order the calls are met; basic
// blocks start at jump targets and after conditional jumps; each function gets ENTRY (0) and EXIT (1)
// blocks and its blocks are numbered from 2 in address order. Instructions print with their index
// relative to the function, through a 64-byte buffer as bpftool's print_insn_for_graph() does.
//
// A block that ends in a bpf-to-bpf call gets, as any block ending in a jump-class instruction, an
// edge to `off + 1` past it, which is in another function: bpftool finds no block there and
// dereferences NULL printing that edge. It dies of SIGSEGV (status 139) with the lines it had printed
// (its stdout is line-buffered); so does this one.

import type { Insn } from '../../bpf/insn.js';
import { BPF_CALL, BPF_EXIT, BPF_JA, BPF_JMP, BPF_JMP32, BPF_PSEUDO_CALL } from '../../bpf/opcodes.js';
import { Killed, type Bpftool } from './common.js';

/** 128 + SIGSEGV. */
const SEGFAULT_STATUS = 139;

const LDDW = 0x18;
const ENTRY_BLOCK_INDEX = 0;
const EXIT_BLOCK_INDEX = 1;
const NUM_FIXED_BLOCKS = 2;

interface Func {
  readonly idx: number;
  readonly start: number;
  end: number;
  /** Real blocks in address order: [head, tail], with their numbers. */
  bbs: { head: number; tail: number; idx: number }[];
}

const isJmpClass = (x: Insn): boolean => (x.code & 0x07) === BPF_JMP || (x.code & 0x07) === BPF_JMP32;
const op = (x: Insn): number => x.code & 0xf0;

/** print_insn_for_graph(): vsnprintf into 64 bytes, then `\l\` line ends and <>|& escaped for DOT. */
function forGraph(text: string): string {
  const buf = `${text}\n`.slice(0, 63);
  let out = '';
  for (const c of buf) {
    if (c === '\n') out += '\\l\\\n';
    else if (c === '<' || c === '>' || c === '|' || c === '&') out += `\\${c}`;
    else out += c;
  }
  return out;
}

/**
 * dump_xlated_cfg(). `callTarget(i)` is where the bpf-to-bpf call at i goes (bpftool reads it from the
 * call's off); `text(i)` prints instruction i as print_bpf_insn() with an interpreted program's names.
 */
export function dumpXlatedCfg(b: Bpftool, insns: readonly Insn[], callTarget: (i: number) => number, text: (i: number) => string): void {
  // cfg_partition_funcs(): numbered in discovery order, kept in address order.
  const funcs: Func[] = [];
  const appendFunc = (start: number): void => {
    if (funcs.some((f) => f.start === start)) return;
    funcs.push({ idx: funcs.length, start, end: 0, bbs: [] });
  };
  appendFunc(0);
  insns.forEach((x, i) => {
    if (x.code === (BPF_JMP | BPF_CALL) && x.src === BPF_PSEUDO_CALL) appendFunc(callTarget(i));
  });
  funcs.sort((p, q) => p.start - q.start);
  funcs.forEach((f, k) => {
    f.end = (funcs[k + 1]?.start ?? insns.length) - 1;
  });

  let s = 'digraph "DOT graph for eBPF program" {\n';
  for (const f of funcs) {
    // func_partition_bb_head()/_tail(): every raw slot is looked at, a lddw's second half too.
    const heads = new Set<number>([f.start]);
    for (let i = f.start; i <= f.end; i++) {
      const x = insns[i]!;
      if (!isJmpClass(x) || op(x) === BPF_EXIT || op(x) === BPF_CALL) continue;
      heads.add(i + x.off + 1);
      if (op(x) !== BPF_JA) heads.add(i + 1);
    }
    const sorted = [...heads].sort((p, q) => p - q);
    f.bbs = sorted.map((head, k) => ({ head, tail: k + 1 < sorted.length ? sorted[k + 1]! - 1 : f.end, idx: NUM_FIXED_BLOCKS + k }));
    const byHead = new Map(f.bbs.map((bb) => [bb.head, bb.idx]));

    s += `subgraph "cluster_${f.idx}" {\n\tstyle="dashed";\n\tcolor="black";\n\tlabel="func_${f.idx} ()";\n`;
    s += `\tfn_${f.idx}_bb_${ENTRY_BLOCK_INDEX} [shape=Mdiamond,style=filled,label="ENTRY"];\n\n`;
    for (const bb of f.bbs) {
      s += `\tfn_${f.idx}_bb_${bb.idx} [shape=record,style=filled,label="{`;
      // dump_xlated_for_graph(): indices from the function's start, ` | ` between instructions.
      let double = false;
      for (let i = bb.head; i <= bb.tail; i++) {
        if (double) {
          double = false;
          continue;
        }
        double = insns[i]!.code === LDDW;
        s += `${String(i - f.start).padStart(4)}: ${forGraph(text(i))}`;
        if (i !== bb.tail) s += ' | ';
      }
      s += '}"];\n\n';
    }
    s += `\tfn_${f.idx}_bb_${EXIT_BLOCK_INDEX} [shape=Mdiamond,style=filled,label="EXIT"];\n\n`;

    // func_add_bb_edges() + draw_bb_succ_edges(): every edge drawn alike.
    const edge = (from: number, to: number | undefined): string => {
      if (to === undefined) {
        b.printf(s);
        throw new Killed(SEGFAULT_STATUS);
      }
      return `\tfn_${f.idx}_bb_${from}:s -> fn_${f.idx}_bb_${to}:n [style="solid,bold", color=black, weight=10, constraint=true];\n`;
    };
    s += edge(ENTRY_BLOCK_INDEX, f.bbs[0]?.idx ?? EXIT_BLOCK_INDEX);
    f.bbs.forEach((bb, k) => {
      const next = f.bbs[k + 1]?.idx ?? EXIT_BLOCK_INDEX;
      const x = insns[bb.tail]!;
      if (!isJmpClass(x) || op(x) === BPF_EXIT) {
        s += edge(bb.idx, next);
      } else if (op(x) === BPF_JA) {
        s += edge(bb.idx, byHead.get(bb.tail + x.off + 1));
      } else {
        s += edge(bb.idx, next);
        // A bpf-to-bpf call's off is the callee's distance in Linux's xlated program.
        const target = op(x) === BPF_CALL && x.src === BPF_PSEUDO_CALL ? callTarget(bb.tail) : bb.tail + x.off + 1;
        s += edge(bb.idx, byHead.get(target));
      }
    });
    s += `\tfn_${f.idx}_bb_${ENTRY_BLOCK_INDEX}:s -> fn_${f.idx}_bb_${EXIT_BLOCK_INDEX}:n [style="invis", constraint=true];\n}\n`;
  }
  b.printf(`${s}}\n`);
}
