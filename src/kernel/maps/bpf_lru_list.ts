// kernel/bpf/bpf_lru_list.c, approximated: which element an LRU hash map evicts when it is full.
//
// The kernel keeps active / inactive / free lists (per map, or per CPU with BPF_F_NO_COMMON_LRU),
// sets a node's `ref` bit when a program looks the element up, rotates referenced inactive nodes to
// the active list, and shrinks the inactive list from its tail, taking nodes whose ref bit is clear.
// Modelled here: the same ref bit, set by program lookups (not by syscall lookups, as
// htab_lru_map_lookup_elem_sys) and by an update that replaces an element, and a CLOCK (second
// chance) sweep over the element pool standing in for the list rotation: a live element with its
// ref bit set gets the bit cleared and is passed over once; the first live element found with the
// bit clear is the victim. So an element used since the hand last passed survives, and the victim
// is one not used for a full sweep — "approximately least recently used", as the kernel's is.
// Not modelled: per-CPU lists and the batch refill of LOCAL_FREE_TARGET nodes (eviction here is one
// element at a time, when an insert finds the map full).

import { ELEM_LIVE, ELEM_STATE } from './freelist.js';

/** Word offset of the ref bit in an element header (after next, hash, state). */
export const ELEM_LRU_REF = 3;

export class BpfLru {
  constructor(
    private readonly i32: Int32Array,
    /** Word index of the clock hand (shared, so every writer thread continues the same sweep). */
    private readonly handWord: number,
    private readonly cap: number,
    private readonly elem0W: number,
    private readonly strideW: number,
  ) {}

  /** bpf_lru_node_set_ref(): written only when clear, so hot elements do not bounce a cache line. */
  static set_ref(i32: Int32Array, elemWord: number): void {
    if (i32[elemWord + ELEM_LRU_REF] === 0) Atomics.store(i32, elemWord + ELEM_LRU_REF, 1);
  }

  static clear_ref(i32: Int32Array, elemWord: number): void {
    Atomics.store(i32, elemWord + ELEM_LRU_REF, 0);
  }

  /**
   * Pick the element to evict (called with the map's writer lock held): -1 only if no element is
   * live. At most two sweeps: the first may only clear ref bits.
   */
  pick_victim(): number {
    const i32 = this.i32;
    let hand = i32[this.handWord]!;
    for (let step = 0; step < 2 * this.cap; step++) {
      const idx = hand;
      hand = hand + 1 === this.cap ? 0 : hand + 1;
      const w = this.elem0W + idx * this.strideW;
      if (Atomics.load(i32, w + ELEM_STATE) !== ELEM_LIVE) continue;
      if (i32[w + ELEM_LRU_REF] !== 0) {
        BpfLru.clear_ref(i32, w);
        continue;
      }
      i32[this.handWord] = hand;
      return idx;
    }
    i32[this.handWord] = hand;
    return -1;
  }
}
