// Tail calls on the NIC and partial offload: nfp-emu's model of the seed paper's FUTURE WORK (netdev 2.1,
// "Handling Tail Calls", "Partial Offloading", Figure 6). PAPER-ONLY — upstream nfp refuses
// BPF_MAP_TYPE_PROG_ARRAY and bpf_tail_call, and offload is all-or-nothing per program (facts §1.7);
// nothing in this file exists in a real driver, and only firmware images that advertise the
// NFP_BPF_CAP_TYPE_TAIL_CALL record (main.ts) reach it.
//
// The design:
//   - A PROG_ARRAY created on the device (map_ifindex) is a run of slots in the firmware's tail-call
//     table in IMEM (the record gives its place and size). A slot holds 0 (empty), the code-store
//     address of a linked program, or NFP_TC_ENTRY_HOST (a host program: partial offload). The driver
//     keeps the host-side mirror: which program each slot holds (the references the array owns), so
//     bpftool's lookups give program ids, and the host finds a resumed packet's program there.
//   - "Adding the programs to the already JITed image": a program put in a device prog array is linked,
//     once, into the code store's BPF area, from the top down (the attached program starts at
//     BPF_START and grows up), relocated for its address by the JIT's nfp_bpf_relo_for_vnic(). The area
//     from BPF_START to the last linked program is one image for the firmware: the gaps are NOPs, and the
//     firmware's link list (IMEM) names the entry points. A linked program keeps its address for as long
//     as a slot holds it, even if the attached program changes.
//   - "Link multiple code stores": a firmware may give the area a second 8k bank (the record's
//     bank_insns, at code addresses 8192 and up: the neighbouring ME's store in the model,
//     src/nic/isa.ts), used for linked programs once the first is full; a branch across banks costs
//     NFP_XBANK_BRANCH_PENALTY more cycles on the cores. No room in either is ENOSPC.
//   - Updates are asynchronous, like every offloaded map op, and keep the cores consistent: new code is
//     written and the firmware reloads the image (a reconfig: the cores switch between batches, no packet
//     lost or counted twice) before a slot points at it; a slot stops pointing at a program before its
//     room is given back, and a core's translated image keeps the old code until the next reload, so a
//     packet that read the old slot still finds it.
//   - Partial offload: when a NIC program tail-calls into a slot that holds a host program, the JITed
//     sequence passes the packet to the host with a resume word naming the table slot (and the tail
//     calls taken); the driver's receive path (dp.ts) runs the host program at that slot, as the paper's
//     Figure 6 injects the packet "at the correct XDP program in the list".
//
// The kernel's prog_fd_array rules apply where they can (kernel/bpf/arraymap.c, core.c): BPF_ANY only,
// E2BIG past max_entries (both checked in kernel/offload.ts), EINVAL for an extension program or one
// whose type is not the array's owner's (the first program stored or verified with it). Not modeled:
// the owner's jited flag (a device program and a host one are never both "jited" in one sense).

import { BpfError, type ErrnoName } from '../../bpf/errno.js';
import { BPF_PROG_TYPE } from '../../bpf/prog-types.js';
import { array_map_get_next_key } from '../../kernel/maps/arraymap.js';
import { NUMA_NO_NODE, load_u32, store_u32, type RefCounted } from '../../kernel/maps/map.js';
import type { BpfMapDevOps, BpfOffloadedMap } from '../../kernel/offload.js';
import { BpfProg } from '../../kernel/prog.js';
import { encodeInsn, nfp_ustore_calc_ecc_insn } from '../../nic/asm.js';
import {
  NFP_NET_CFG_BPF_ADDR, NFP_NET_CFG_BPF_DONE, NFP_NET_CFG_BPF_INL_MTU, NFP_NET_CFG_BPF_MAX_LEN, NFP_NET_CFG_BPF_SIZE, NFP_NET_CFG_BPF_STACK_SZ,
  NFP_NET_CFG_BPF_START, NFP_NET_CFG_CTRL, NFP_NET_CFG_CTRL_BPF, NFP_NET_CFG_UPDATE_BPF, type NfpNetCtrlBar,
} from '../../nic/ctrl-bar.js';
import { NFP_RESUME_SLOT_MASK, NFP_RESUME_VALID, NFP_TC_ENTRY_HOST, NFP_USTORE_BANK_SHIFT, nfpNop } from '../../nic/isa.js';
import { NFP_USTORE_WORD } from '../../nic/memory.js';
import { nfp_bpf_relo_for_vnic } from './jit.js';
import type { NfpAppBpf } from './main.js';
import { NfpProg } from './prog.js';
import { nfp_port_from_netdev, type NfpPort } from './probe.js';
import { nfp_net_of_port, nfp_net_reconfig, type NfpNet } from './xdp.js';

/** The code store holds a NOP wherever the image has no program (ECC computed, as the loader writes it). */
const NOP_WORD = nfp_ustore_calc_ecc_insn(encodeInsn(nfpNop()));

/** One program linked into the code store for tail calls. */
export interface NfpLinked {
  readonly nfp_prog: NfpProg;
  /** Code-store address of its first instruction. */
  readonly addr: number;
  readonly len: number;
  /** The image relocated for `addr`, as the code store holds it. */
  readonly words: readonly bigint[];
  /** Slots (of any array) that hold it. */
  refs: number;
}

/** The driver's state of one offloaded PROG_ARRAY: its table slots and the host-side mirror. */
export class NfpBpfProgArray {
  /** The program in each slot (the array's reference), or null. */
  readonly slots: (BpfProg | null)[];
  /** The linked image behind each slot (null: empty or a host program); kept as the program's offload may go first. */
  readonly linkedProgs: (NfpProg | null)[];
  /** enum bpf_prog_type of the programs it may hold (map->owner.type); 0 until the first one. */
  owner_type = 0;
  freed = false;

  constructor(readonly offmap: BpfOffloadedMap, readonly bpf: NfpAppBpf, readonly tc: NfpTailCallState, readonly slot_base: number) {
    this.slots = new Array<BpfProg | null>(offmap.max_entries).fill(null);
    this.linkedProgs = new Array<NfpProg | null>(offmap.max_entries).fill(null);
  }

  get max_entries(): number {
    return this.offmap.max_entries;
  }

  /** IMEM byte address of slot 0 of this array (what the JITed tail-call sequence reads from). */
  get table_addr(): number {
    return this.bpf.tail_call.table_off + this.slot_base * 4;
  }
}

/** What a tail call's resume word says (the partial-offload metadata of a packet passed to the host). */
export interface NfpResume {
  /** The tail-call table slot. */
  readonly slot: number;
  /** Tail calls the packet had taken on the NIC (this one included). */
  readonly cnt: number;
}

export function nfp_resume_decode(word: number): NfpResume | null {
  if ((word & NFP_RESUME_VALID) === 0) return null;
  return { slot: word & NFP_RESUME_SLOT_MASK, cnt: (word >>> 24) & 0x3f };
}

/** The card's tail-call state: the code store's BPF area, the programs linked into it, the table. */
export class NfpTailCallState {
  /** The vNIC's BPF_START, the end of its BPF area (BPF_START + BPF_MAX_LEN) and BPF_DONE. */
  readonly start: number;
  readonly end: number;
  readonly done: number;
  /** The attached program, relocated for BPF_START (empty: none). */
  private main: readonly bigint[] = [];
  /** Linked programs, by address. */
  readonly linked: NfpLinked[] = [];
  /** Which table slots are taken. */
  private readonly slotUsed: Uint8Array;
  readonly arrays = new Set<NfpBpfProgArray>();
  private tail: Promise<void> = Promise.resolve();
  /** Counters for tests and reports. */
  readonly stats = { links: 0, unlinks: 0, reloads: 0 };

  constructor(readonly bpf: NfpAppBpf, readonly bar: NfpNetCtrlBar, readonly ustore: Uint8Array, readonly imem: Int32Array) {
    this.start = bar.readw(NFP_NET_CFG_BPF_START);
    this.end = this.start + bar.readw(NFP_NET_CFG_BPF_MAX_LEN);
    this.done = bar.readw(NFP_NET_CFG_BPF_DONE);
    this.slotUsed = new Uint8Array(bpf.tail_call.table_slots);
  }

  /** Run `f` with the code store to itself (loads, links, unlinks are serialised). */
  locked<T>(f: () => Promise<T>): Promise<T> {
    const r = this.tail.then(f);
    this.tail = r.then(() => undefined, () => undefined);
    return r;
  }

  /** Instructions the attached program may take: up to the lowest linked program. */
  roomForMain(): number {
    return (this.linked[0]?.addr ?? this.end) - this.start;
  }

  /** The attached program went (its room goes back to the linked programs). */
  forgetMain(): void {
    this.main = [];
  }

  get mainLen(): number {
    return this.main.length;
  }

  /** One past the last instruction of the image the firmware loads. */
  extent(mainLen = this.main.length): number {
    let e = this.start + mainLen;
    for (const l of this.linked) e = Math.max(e, l.addr + l.len);
    return e;
  }

  /**
   * Write the BPF area of `ustore` — the attached program `main` (the card's own when not given), NOPs,
   * the linked programs — and the link list the firmware reads entry points from. Returns the extent.
   * For the card's code store, `main` becomes the attached program.
   */
  render(ustore: Uint8Array, main?: readonly bigint[]): number {
    const m = main ?? this.main;
    if (main !== undefined && ustore === this.ustore) this.main = main;
    const extent = this.extent(m.length);
    const dv = new DataView(ustore.buffer, ustore.byteOffset, ustore.byteLength);
    if (extent * NFP_USTORE_WORD > ustore.byteLength) throw new BpfError('EINVAL', `nfp: an image up to ${extent} does not fit the code store`);
    for (let i = 0; i < m.length; i++) dv.setBigUint64((this.start + i) * NFP_USTORE_WORD, m[i]!, true);
    let at = this.start + m.length;
    for (const l of this.linked) {
      for (; at < l.addr; at++) dv.setBigUint64(at * NFP_USTORE_WORD, NOP_WORD, true);
      for (let i = 0; i < l.len; i++) dv.setBigUint64((l.addr + i) * NFP_USTORE_WORD, l.words[i]!, true);
      at = l.addr + l.len;
    }
    // The link list: how many, then the entry points (as many as the firmware has room for).
    const tc = this.bpf.tail_call;
    const w = tc.link_off >> 2;
    const n = Math.min(this.linked.length, tc.max_links);
    for (let i = 0; i < n; i++) Atomics.store(this.imem, w + 1 + i, this.linked[i]!.addr);
    Atomics.store(this.imem, w, n);
    return extent;
  }

  /**
   * The second code-store bank (paper-only "link multiple code stores"): the addresses of the second 8k
   * of the code-address space (src/nic/isa.ts NFP_USTORE_BANK_SHIFT), as many as the firmware gives.
   */
  get bankBase(): number {
    return 1 << NFP_USTORE_BANK_SHIFT;
  }

  get bankEnd(): number {
    // No more than the code store holds (a record promising more than the card has is taken at its card).
    const words = this.ustore.byteLength / NFP_USTORE_WORD;
    return Math.max(this.bankBase, Math.min(this.bankBase + this.bpf.tail_call.bank_insns, words));
  }

  /** The free ranges of the BPF area above the attached program (bank 0), then of the second bank. */
  private gaps(): { lo: number; hi: number; bank: 0 | 1 }[] {
    const out: { lo: number; hi: number; bank: 0 | 1 }[] = [];
    const walk = (lo: number, hi: number, bank: 0 | 1): void => {
      let at = lo;
      for (const l of this.linked) {
        if (l.addr + l.len <= lo || l.addr >= hi) continue;
        if (l.addr > at) out.push({ lo: at, hi: l.addr, bank });
        at = Math.max(at, l.addr + l.len);
      }
      if (hi > at) out.push({ lo: at, hi, bank });
    };
    walk(this.start + this.main.length, this.end, 0);
    if (this.bankEnd > this.bankBase) walk(this.bankBase, this.bankEnd, 1);
    return out;
  }

  /**
   * Room for `len` instructions, or -1: in the BPF area from the top down (the attached program grows
   * up from BPF_START), else in the second bank from the bottom up (a shorter image for the firmware).
   */
  private alloc(len: number): number {
    const gaps = this.gaps();
    for (let i = gaps.length - 1; i >= 0; i--) {
      const g = gaps[i]!;
      if (g.bank === 0 && g.hi - g.lo >= len) return g.hi - len;
    }
    for (const g of gaps) if (g.bank === 1 && g.hi - g.lo >= len) return g.lo;
    return -1;
  }

  /** Free instructions (both banks), and the largest free range. */
  private free(): { free: number; largest: number } {
    let free = 0, largest = 0;
    for (const g of this.gaps()) {
      free += g.hi - g.lo;
      largest = Math.max(largest, g.hi - g.lo);
    }
    return { free, largest };
  }

  /** BPF_SIZE/BPF_ADDR for the whole area and a reconfig: the cores reload between batches. */
  private async reload(nn: NfpNet): Promise<void> {
    const bar = nn.bar;
    bar.writew(NFP_NET_CFG_BPF_SIZE, this.extent() - this.start);
    bar.writeq(NFP_NET_CFG_BPF_ADDR, BigInt(this.start * NFP_USTORE_WORD));
    this.stats.reloads++;
    await nfp_net_reconfig(nn, NFP_NET_CFG_UPDATE_BPF);
  }

  /**
   * Link `nfp_prog` (once; later calls count references). When the vNIC runs a program the firmware
   * reloads the image before this resolves, so the cores have the code before any slot points at it.
   */
  link(nfp_prog: NfpProg, nn: NfpNet): Promise<NfpLinked> {
    return this.locked(async () => {
      const have = this.linked.find((l) => l.nfp_prog === nfp_prog);
      if (have !== undefined) {
        have.refs++;
        return have;
      }
      const fail = (errno: ErrnoName, msg: string): never => {
        this.bpf.log.pr_info(msg);
        throw new BpfError(errno, `nfp: ${msg}`);
      };
      // What nfp_net_bpf_load() checks of an attached program holds for one reached by a tail call.
      const fw_mtu = nn.bar.readb(NFP_NET_CFG_BPF_INL_MTU) * 64 - 32;
      if (fw_mtu < Math.min(nfp_prog.max_pkt_offset, nn.mtu)) fail('EOPNOTSUPP', 'tail call target may access the packet beyond the HW packet split boundary');
      if (nfp_prog.stack_size > nn.bar.readb(NFP_NET_CFG_BPF_STACK_SZ) * 64) fail('EOPNOTSUPP', 'tail call target: stack too large');
      const len = nfp_prog.prog_len;
      const addr = this.alloc(len);
      if (addr < 0) {
        const f = this.free();
        const banks = this.bankEnd > this.bankBase ? `, in two code-store banks of ${this.end - this.start} + ${this.bankEnd - this.bankBase}` : '';
        fail('ENOSPC', `no room in the code store for a tail call target of ${len} NFP instructions (${f.free} free${banks}, largest range ${f.largest}; the attached program takes ${this.main.length})`);
      }
      const l: NfpLinked = { nfp_prog, addr, len, words: nfp_bpf_relo_for_vnic(nfp_prog, { start_off: addr, tgt_done: this.done }), refs: 1 };
      this.linked.push(l);
      this.linked.sort((a, b) => a.addr - b.addr);
      this.stats.links++;
      this.render(this.ustore);
      if ((nn.bar.readl(NFP_NET_CFG_CTRL) & NFP_NET_CFG_CTRL_BPF) !== 0) {
        try {
          await this.reload(nn);
        } catch (e) {
          this.linked.splice(this.linked.indexOf(l), 1);
          this.render(this.ustore);
          throw e;
        }
      }
      return l;
    });
  }

  /**
   * Drop a reference; the last gives the room back (NOPs in the code store). No reload: no slot points
   * at it any more, and the cores keep the old code until their next reload.
   */
  unlink(nfp_prog: NfpProg): Promise<void> {
    return this.locked(async () => {
      const i = this.linked.findIndex((l) => l.nfp_prog === nfp_prog);
      if (i < 0 || --this.linked[i]!.refs > 0) return;
      this.linked.splice(i, 1);
      this.stats.unlinks++;
      this.render(this.ustore);
    });
  }

  /** A run of `n` table slots, zeroed: its first slot, or -1. */
  allocSlots(n: number): number {
    for (let base = 0; base + n <= this.slotUsed.length;) {
      let k = 0;
      while (k < n && this.slotUsed[base + k] === 0) k++;
      if (k === n) {
        this.slotUsed.fill(1, base, base + n);
        for (let i = 0; i < n; i++) this.writeSlot(base + i, 0);
        return base;
      }
      base += k + 1;
    }
    return -1;
  }

  freeSlots(base: number, n: number): void {
    for (let i = 0; i < n; i++) this.writeSlot(base + i, 0);
    this.slotUsed.fill(0, base, base + n);
  }

  get slotsFree(): number {
    let n = 0;
    for (const u of this.slotUsed) if (u === 0) n++;
    return n;
  }

  /** One slot of the live table: a single aligned store, so a core reads the old or the new entry. */
  writeSlot(slot: number, entry: number): void {
    Atomics.store(this.imem, (this.bpf.tail_call.table_off >> 2) + slot, entry | 0);
  }

  readSlot(slot: number): number {
    return Atomics.load(this.imem, (this.bpf.tail_call.table_off >> 2) + slot) >>> 0;
  }

  /** The array a table slot belongs to. */
  arrayOfSlot(slot: number): NfpBpfProgArray | undefined {
    for (const a of this.arrays) if (slot >= a.slot_base && slot < a.slot_base + a.max_entries) return a;
    return undefined;
  }
}

/** The card's tail-call state, created on first use; null when the firmware has no tail calls. */
export function nfp_bpf_tc_of(bpf: NfpAppBpf, port: NfpPort): NfpTailCallState | null {
  if (!bpf.tail_call.supported || bpf.ustore === null || bpf.imem === null) return null;
  bpf.tc ??= new NfpTailCallState(bpf, port.bar, bpf.ustore, bpf.imem);
  return bpf.tc;
}

/** The nfp_prog of a program offloaded to this card, or null. */
function nfpProgOnCard(bpf: NfpAppBpf, prog: BpfProg): NfpProg | null {
  const p = prog.offloadRequested ? prog.offload?.dev_priv : undefined;
  return p instanceof NfpProg && p.bpf === bpf ? p : null;
}

export function nfp_bpf_prog_array_of(offmap: BpfOffloadedMap): NfpBpfProgArray {
  const a = offmap.dev_priv;
  if (!(a instanceof NfpBpfProgArray)) throw new Error(`BUG: map ${offmap.id} is not an nfp prog array`);
  return a;
}

const indexOf = (key: Uint8Array): number => load_u32(key, 0);

/**
 * A program leaves a slot: unlink its image from the code store (the one linked for the slot: the
 * program's own offload state may be gone already, as when the card goes away), drop the array's
 * reference after a grace period.
 */
async function nfp_bpf_prog_array_release(a: NfpBpfProgArray, prog: BpfProg, nfp_prog: NfpProg | null): Promise<void> {
  if (nfp_prog !== null) await a.tc.unlink(nfp_prog);
  // The host side may be running it (a resumed packet, under rcu_read_lock()).
  if (a.bpf.rcu !== undefined) a.bpf.rcu.call_rcu(() => prog.put());
  else prog.put();
}

/** The device ops of an offloaded PROG_ARRAY (struct bpf_map_dev_ops, nfp-emu). */
export const nfp_bpf_prog_array_ops: BpfMapDevOps = {
  /** prog_fd_array_sys_lookup_elem(): the program's id. */
  async map_lookup_elem(offmap, key, value) {
    const a = nfp_bpf_prog_array_of(offmap);
    const i = indexOf(key);
    const prog = i < a.max_entries ? a.slots[i] : null;
    if (prog === null || prog === undefined) throw new BpfError('ENOENT', 'no program in this slot');
    store_u32(value, 0, prog.id);
  },
  async map_update_elem() {
    throw new BpfError('EINVAL', 'a program array takes program fds (the kernel resolves them)');
  },
  async map_update_prog(offmap, index, ptr: RefCounted) {
    const a = nfp_bpf_prog_array_of(offmap);
    if (!(ptr instanceof BpfProg)) throw new BpfError('EINVAL', `fd of object ${ptr.id} is not a program`);
    const prog = ptr;
    if (prog.type === BPF_PROG_TYPE.EXT) throw new BpfError('EINVAL', 'an extension program cannot be a tail call target');
    if (a.owner_type !== 0 && prog.type !== a.owner_type) {
      throw new BpfError('EINVAL', `program ${prog.id} is of type ${prog.type}; the array holds programs of type ${a.owner_type}`);
    }
    const netdev = offmap.netdev;
    const p = netdev !== null ? nfp_port_from_netdev(netdev) : undefined;
    if (netdev === null || p === undefined) throw new BpfError('ENODEV', 'the prog array\'s device is gone');
    const nfp_prog = nfpProgOnCard(a.bpf, prog);
    let entry: number;
    if (nfp_prog !== null) {
      entry = (await a.tc.link(nfp_prog, nfp_net_of_port(p.pf, p.port, netdev.mtu))).addr;
    } else if (prog.devBound) {
      throw new BpfError('EINVAL', `program ${prog.id} is bound to another device`);
    } else if (!a.bpf.tail_call.partial) {
      throw new BpfError('EINVAL', `program ${prog.id} is not offloaded to ${netdev.name}, and the firmware has no partial offload`);
    } else if (prog.type !== BPF_PROG_TYPE.XDP) {
      throw new BpfError('EINVAL', `program ${prog.id}: partial offload resumes XDP programs only`);
    } else {
      entry = NFP_TC_ENTRY_HOST;
    }
    if (a.freed) {
      if (nfp_prog !== null) await a.tc.unlink(nfp_prog);
      throw new BpfError('ENODEV', 'the prog array was freed');
    }
    if (a.owner_type === 0) a.owner_type = prog.type;
    const old = a.slots[index] ?? null;
    const oldLinked = a.linkedProgs[index] ?? null;
    a.slots[index] = prog;
    a.linkedProgs[index] = nfp_prog;
    a.tc.writeSlot(a.slot_base + index, entry);
    if (old !== null) await nfp_bpf_prog_array_release(a, old, oldLinked);
  },
  /** fd_array_map_delete_elem(): E2BIG past the end, ENOENT for an empty slot. */
  async map_delete_elem(offmap, key) {
    const a = nfp_bpf_prog_array_of(offmap);
    const i = indexOf(key);
    if (i >= a.max_entries) throw new BpfError('E2BIG', `index ${i} is out of range (max_entries ${a.max_entries})`);
    const old = a.slots[i] ?? null;
    if (old === null) throw new BpfError('ENOENT', `slot ${i} is empty`);
    const oldLinked = a.linkedProgs[i] ?? null;
    a.slots[i] = null;
    a.linkedProgs[i] = null;
    a.tc.writeSlot(a.slot_base + i, 0);
    await nfp_bpf_prog_array_release(a, old, oldLinked);
  },
  async map_get_next_key(offmap, key, next) {
    const rc = array_map_get_next_key(offmap.max_entries, key, next);
    if (rc < 0) throw new BpfError('ENOENT', 'no next key');
  },
};

/**
 * BPF_OFFLOAD_MAP_ALLOC of a PROG_ARRAY: a run of the firmware's tail-call table. Refused as
 * nfp_bpf_map_alloc() refuses map types the firmware does not advertise.
 */
export async function nfp_bpf_prog_array_alloc(bpf: NfpAppBpf, offmap: BpfOffloadedMap): Promise<void> {
  const refuse = (errno: ErrnoName, msg: string): never => {
    bpf.log.pr_info(msg);
    throw new BpfError(errno, msg);
  };
  const p = offmap.netdev !== null ? nfp_port_from_netdev(offmap.netdev) : undefined;
  const tc = p !== undefined ? nfp_bpf_tc_of(bpf, p.port) : null;
  if (tc === null) return refuse('EOPNOTSUPP', 'map type not supported');
  if (offmap.map_flags !== 0 || offmap.numa_node !== NUMA_NO_NODE) refuse('EINVAL', 'map flags are not supported');
  const base = tc.allocSlots(offmap.max_entries);
  if (base < 0) refuse('ENOMEM', `tail call table full: ${offmap.max_entries} slots asked, ${tc.slotsFree} of ${bpf.tail_call.table_slots} free`);
  const a = new NfpBpfProgArray(offmap, bpf, tc, base);
  tc.arrays.add(a);
  offmap.dev_priv = a;
  offmap.dev_ops = nfp_bpf_prog_array_ops;
}

/** BPF_OFFLOAD_MAP_FREE of a PROG_ARRAY: every slot emptied (programs unlinked and put), the run freed. */
export async function nfp_bpf_prog_array_free(_bpf: NfpAppBpf, offmap: BpfOffloadedMap): Promise<void> {
  const a = nfp_bpf_prog_array_of(offmap);
  a.freed = true;
  for (let i = 0; i < a.slots.length; i++) {
    const old = a.slots[i] ?? null;
    if (old === null) continue;
    const oldLinked = a.linkedProgs[i] ?? null;
    a.slots[i] = null;
    a.linkedProgs[i] = null;
    a.tc.writeSlot(a.slot_base + i, 0);
    await nfp_bpf_prog_array_release(a, old, oldLinked);
  }
  a.tc.freeSlots(a.slot_base, a.max_entries);
  a.tc.arrays.delete(a);
}

/**
 * The host side of partial offload: the host program a resume word names (the slot's program now), or
 * null when the slot no longer holds a host program (it changed while the packet was on its way).
 */
export function nfp_bpf_resume_prog(bpf: NfpAppBpf, word: number): BpfProg | null {
  const r = nfp_resume_decode(word);
  const tc = bpf.tc;
  if (r === null || tc === null) return null;
  const a = tc.arrayOfSlot(r.slot);
  const prog = a?.slots[r.slot - a.slot_base] ?? null;
  return prog !== null && !prog.devBound ? prog : null;
}
