// The element allocator of the preallocated maps: kernel/bpf/percpu_freelist.c (a free list of
// preallocated elements) combined with the RCU-deferred reuse the kernel gets from bpf_mem_alloc /
// call_rcu for non-preallocated maps.
//
// The kernel lets a preallocated hash element be reused at once (htab->extra_elems, the freelist
// push in free_htab_elem) and accepts that a program still holding the old pointer may see it
// change. Here readers in other threads must never see a torn value or follow a reused link, so an
// unlinked element is *retired*: it goes into a FIFO stamped with an RCU cookie and returns to the
// free list only once rcu_gp_floor() shows that every reader who could hold it has left its
// read-side section. Reclaim is polled (no callbacks, no thread of its own), so it works the same
// from any thread that takes the map's writer lock.
//
// One shared free list instead of per-CPU lists: writers are serialised by the map's lock anyway.
// Everything lives in the owning map's SharedArrayBuffer; every method must be called with that
// map's writer lock held.

import { Rcu } from '../rcu.js';

/** Element states, kept in the element header so that readers and checkers can see them. */
export const ELEM_FREE = 0;
export const ELEM_LIVE = 1;
export const ELEM_RETIRED = 2;

/** Word offsets inside an element header (the element's first words). */
export const ELEM_NEXT = 0;
export const ELEM_STATE = 2;

const P_FREE = 0; // head of the free list (element index) or -1
const P_NFREE = 1;
const P_RHEAD = 2; // retire FIFO: consumer counter
const P_RTAIL = 3; // retire FIFO: producer counter
export const FREELIST_HDR_WORDS = 4;

/** Words of shared memory the retire FIFO needs for `cap` elements (index + cookie per entry). */
export function retire_ring_words(cap: number): number {
  return cap * 2;
}

export class RcuFreelist {
  constructor(
    private readonly i32: Int32Array,
    /** Word index of the 4-word header. */
    private readonly hdr: number,
    /** Word index of the retire FIFO (retire_ring_words(cap) words). */
    private readonly ring: number,
    /** Number of elements. */
    readonly cap: number,
    /** Word index of element 0's header. */
    private readonly elem0: number,
    /** Element size in words. */
    private readonly strideW: number,
    private readonly rcu: Rcu,
  ) {}

  /** pcpu_freelist_populate(): every element free, handed out in index order. */
  populate(): void {
    const i32 = this.i32;
    i32[this.hdr + P_FREE] = -1;
    for (let idx = this.cap - 1; idx >= 0; idx--) {
      const w = this.elem0 + idx * this.strideW;
      i32[w + ELEM_NEXT] = i32[this.hdr + P_FREE]!;
      i32[w + ELEM_STATE] = ELEM_FREE;
      i32[this.hdr + P_FREE] = idx;
    }
    i32[this.hdr + P_NFREE] = this.cap;
    i32[this.hdr + P_RHEAD] = 0;
    i32[this.hdr + P_RTAIL] = 0;
  }

  /** pcpu_freelist_pop(): a free element (not yet visible to readers), or -1. */
  pop(): number {
    const i32 = this.i32;
    let idx = i32[this.hdr + P_FREE]!;
    if (idx < 0) {
      this.reclaim();
      idx = i32[this.hdr + P_FREE]!;
      if (idx < 0) return -1;
    }
    const w = this.elem0 + idx * this.strideW;
    i32[this.hdr + P_FREE] = Atomics.load(i32, w + ELEM_NEXT);
    i32[this.hdr + P_NFREE]!--;
    return idx;
  }

  /** Give back an element no reader can have seen (popped but never linked). */
  push(idx: number): void {
    const i32 = this.i32;
    const w = this.elem0 + idx * this.strideW;
    Atomics.store(i32, w + ELEM_STATE, ELEM_FREE);
    Atomics.store(i32, w + ELEM_NEXT, i32[this.hdr + P_FREE]!);
    i32[this.hdr + P_FREE] = idx;
    i32[this.hdr + P_NFREE]!++;
  }

  /**
   * An element was just unlinked from where readers find it: reuse it after a grace period. Its
   * `next` link is left as it was, so a reader standing on it still reaches the rest of the chain.
   */
  retire(idx: number): void {
    const i32 = this.i32;
    Atomics.store(i32, this.elem0 + idx * this.strideW + ELEM_STATE, ELEM_RETIRED);
    const tail = i32[this.hdr + P_RTAIL]!;
    const slot = this.ring + (tail % this.cap) * 2;
    i32[slot] = idx;
    // Start the grace period now, so that readers entering after the unlink do not hold it back.
    i32[slot + 1] = this.rcu.start_poll_synchronize_rcu();
    i32[this.hdr + P_RTAIL] = (tail + 1) % (this.cap * 2);
  }

  /** Number of retired elements still waiting for their grace period. */
  get nretired(): number {
    const n = this.i32[this.hdr + P_RTAIL]! - this.i32[this.hdr + P_RHEAD]!;
    return n < 0 ? n + this.cap * 2 : n;
  }

  get nfree(): number {
    return this.i32[this.hdr + P_NFREE]!;
  }

  /** Move every retired element whose grace period has elapsed to the free list; returns how many. */
  reclaim(): number {
    const i32 = this.i32;
    const n = this.nretired;
    if (n === 0) return 0;
    const head = i32[this.hdr + P_RHEAD]!;
    const newest = i32[this.ring + ((head + n - 1) % this.cap) * 2 + 1]!;
    const floor = this.rcu.rcu_gp_floor_after(newest);
    let done = 0;
    while (done < n) {
      const slot = this.ring + ((head + done) % this.cap) * 2;
      if (!Rcu.gp_passed(i32[slot + 1]!, floor)) break;
      this.push(i32[slot]!);
      done++;
    }
    i32[this.hdr + P_RHEAD] = (head + done) % (this.cap * 2);
    return done;
  }
}
