// The control-flow graph of one BPF function, and a structured layout of it for the JIT.
//
// Basic blocks, dominators (Cooper, Harvey & Kennedy's iterative algorithm), natural loops from back
// edges (u -> h where h dominates u), and an order of the blocks in which every forward edge points
// forward and every loop is contiguous and starts with its header (the "CFG sort" of LLVM's WebAssembly
// backend). In that order, a back edge is `continue L_h` out of a `while (true)` and a forward edge to v
// is `break B_v` out of a labelled block that opens where v's innermost enclosing loop opens and closes
// right before v. This works for every reducible CFG; an irreducible one is reported so the caller can
// fall back to the interpreter.

import type { Insn } from '../../bpf/insn.js';
import type { OpInfo } from '../../bpf/opcodes.js';

export interface Block {
  readonly id: number;
  /** First and one-past-last instruction index. */
  readonly start: number;
  readonly end: number;
  /** Jump target of the last instruction, if it jumps. */
  readonly jump: number | undefined;
  /** Block reached by falling through the last instruction, if it can. */
  readonly fallthrough: number | undefined;
  readonly succs: readonly number[];
}

export interface Loop {
  readonly header: number;
  readonly blocks: ReadonlySet<number>;
  parent: Loop | undefined;
}

export interface Layout {
  readonly blocks: readonly Block[];
  /** Reachable block ids in emission order. */
  readonly order: readonly number[];
  /** Loops by header block id. */
  readonly loops: ReadonlyMap<number, Loop>;
  /** The innermost loop each block belongs to. */
  readonly loopOf: ReadonlyMap<number, Loop>;
}

export type CfgResult = { readonly ok: true; readonly layout: Layout } | { readonly ok: false; readonly why: string };

/** Target of a jump instruction at i, or undefined for other instructions. */
export function jumpTarget(op: OpInfo, x: Insn, i: number): number | undefined {
  if (op.kind === 'ja') return i + (op.long ? x.imm : x.off) + 1;
  if (op.kind === 'jcond') return i + x.off + 1;
  return undefined;
}

/** Build the CFG of instructions [start, end) and lay it out; `ops[i]` is undefined for a lddw's 2nd slot. */
export function layoutFunction(insns: readonly Insn[], ops: readonly (OpInfo | undefined)[], start: number, end: number): CfgResult {
  // ---- basic blocks
  const leaders = new Set<number>([start]);
  for (let i = start; i < end; i++) {
    const op = ops[i];
    if (op === undefined) continue;
    const t = jumpTarget(op, insns[i]!, i);
    if (t !== undefined) {
      if (t < start || t >= end || ops[t] === undefined) return { ok: false, why: `jump out of the function or into a lddw at insn ${i}` };
      leaders.add(t);
    }
    if (t !== undefined || op.kind === 'exit') {
      const next = op.kind === 'lddw' ? i + 2 : i + 1;
      if (next < end) leaders.add(next);
    }
  }
  const starts = [...leaders].sort((a, b) => a - b);
  const blockAt = new Map<number, number>(starts.map((s, id) => [s, id]));
  const blocks: Block[] = starts.map((s, id) => {
    const e = starts[id + 1] ?? end;
    let last = e - 1;
    if (ops[last] === undefined && last > s) last--; // a lddw's second slot
    const op = ops[last];
    const t = op === undefined ? undefined : jumpTarget(op, insns[last]!, last);
    const jump = t === undefined ? undefined : blockAt.get(t)!;
    const falls = op === undefined || !(op.kind === 'exit' || op.kind === 'ja');
    const fallthrough = falls && e < end ? id + 1 : undefined;
    const succs = [...new Set([jump, fallthrough].filter((b): b is number => b !== undefined))];
    return { id, start: s, end: e, jump, fallthrough, succs };
  });
  const n = blocks.length;
  const preds: number[][] = Array.from({ length: n }, () => []);
  for (const b of blocks) for (const s of b.succs) preds[s]!.push(b.id);

  // ---- reverse postorder from the entry (unreachable blocks go last, in address order)
  const rpo: number[] = [];
  const seen = new Uint8Array(n);
  const stack: [number, number][] = [[0, 0]];
  seen[0] = 1;
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    const succs = blocks[top[0]]!.succs;
    if (top[1] < succs.length) {
      const s = succs[top[1]++]!;
      if (!seen[s]) { seen[s] = 1; stack.push([s, 0]); }
    } else {
      rpo.push(top[0]);
      stack.pop();
    }
  }
  rpo.reverse();
  const rpoIndex = new Int32Array(n).fill(-1);
  rpo.forEach((b, i) => { rpoIndex[b] = i; });

  // ---- dominators
  const idom = new Int32Array(n).fill(-1);
  idom[0] = 0;
  const intersect = (a: number, b: number): number => {
    while (a !== b) {
      while (rpoIndex[a]! > rpoIndex[b]!) a = idom[a]!;
      while (rpoIndex[b]! > rpoIndex[a]!) b = idom[b]!;
    }
    return a;
  };
  for (let changed = true; changed;) {
    changed = false;
    for (const b of rpo) {
      if (b === 0) continue;
      let d = -1;
      for (const p of preds[b]!) if (idom[p] !== -1) d = d === -1 ? p : intersect(p, d);
      if (d !== -1 && idom[b] !== d) { idom[b] = d; changed = true; }
    }
  }
  const dominates = (a: number, b: number): boolean => {
    for (let x = b; ; x = idom[x]!) {
      if (x === a) return true;
      if (x === 0 || idom[x] === -1) return false;
    }
  };

  // ---- natural loops; a retreating edge to a non-dominator means irreducible flow
  const loops = new Map<number, Loop>();
  for (const b of rpo) {
    for (const s of blocks[b]!.succs) {
      if (rpoIndex[s]! > rpoIndex[b]!) continue;
      if (!dominates(s, b)) return { ok: false, why: `irreducible control flow into insn ${blocks[s]!.start}` };
      const body = (loops.get(s)?.blocks as Set<number> | undefined) ?? new Set<number>([s]);
      const work = [b];
      while (work.length > 0) {
        const x = work.pop()!;
        if (body.has(x)) continue;
        body.add(x);
        for (const p of preds[x]!) if (rpoIndex[p] !== -1) work.push(p);
      }
      loops.set(s, { header: s, blocks: body, parent: undefined });
    }
  }
  const bySize = [...loops.values()].sort((a, b) => a.blocks.size - b.blocks.size);
  for (const l of bySize) l.parent = bySize.find((o) => o !== l && o.blocks.size > l.blocks.size && o.blocks.has(l.header));
  const loopOf = new Map<number, Loop>();
  for (const l of bySize) for (const b of l.blocks) if (!loopOf.has(b)) loopOf.set(b, l);

  // ---- order: topological over forward edges, each loop collapsed into its header while sorting its
  // parent region, then expanded in place; ties keep address order so fall-through stays fall-through.
  const reachable = rpo;
  const childOf = (region: Loop | undefined, b: number): number => {
    // The node that stands for block b inside `region`: b itself, or the header of the sub-loop holding it.
    let l = loopOf.get(b);
    let node = b;
    while (l !== undefined && l !== region) {
      node = l.header;
      l = l.parent;
    }
    return node;
  };
  const inRegion = (region: Loop | undefined, b: number): boolean => region === undefined || region.blocks.has(b);

  const order: number[] = [];
  const sortRegion = (region: Loop | undefined): void => {
    const members = reachable.filter((b) => inRegion(region, b));
    const nodes = [...new Set(members.map((b) => childOf(region, b)))];
    const indeg = new Map<number, number>(nodes.map((v) => [v, 0]));
    const edges = new Map<number, Set<number>>(nodes.map((v) => [v, new Set()]));
    for (const b of members) {
      const from = childOf(region, b);
      for (const s of blocks[b]!.succs) {
        if (!inRegion(region, s)) continue;
        const to = childOf(region, s);
        if (to === from || (region !== undefined && to === region.header)) continue; // inside a sub-loop, or a back edge
        if (!edges.get(from)!.has(to)) { edges.get(from)!.add(to); indeg.set(to, indeg.get(to)! + 1); }
      }
    }
    const ready = nodes.filter((v) => indeg.get(v) === 0);
    while (ready.length > 0) {
      ready.sort((a, b) => blocks[a]!.start - blocks[b]!.start);
      const v = ready.shift()!;
      const sub = loops.get(v);
      if (sub !== undefined && sub !== region) sortRegion(sub);
      else order.push(v);
      for (const w of edges.get(v)!) {
        indeg.set(w, indeg.get(w)! - 1);
        if (indeg.get(w) === 0) ready.push(w);
      }
    }
  };
  sortRegion(undefined);
  // Unreachable blocks are left out: no jump leads to them.
  return { ok: true, layout: { blocks, order, loops, loopOf } };
}
