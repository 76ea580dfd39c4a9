// The NFP's memories as the firmware and the cores see them: CTM (cluster target memory, where packets
// sit while a core works on them), IMEM (on-chip internal memory), EMEM (external DRAM behind an on-chip
// cache; offloaded map tables live here), LMEM (each core's local memory; the BPF stack) and the code
// store (ustore) that holds the JITed image. Sizes come from the firmware image (firmware/images/*.yaml),
// which the NIC model is built from.
//
// Every memory is a SharedArrayBuffer so that worker threads standing in for the firmware and the cores
// attach the same bytes (NicMemory.attach(memory.shared())) and use Atomics on them, as the NFP's
// engines do. EMEM is modeled at 2, 8 or 24 GB but backed lazily: its buffer is a growable
// SharedArrayBuffer that starts empty and grows (in EMEM_GROW_STEP steps) as the firmware allocates
// tables, up to EMEM_BACKING_CAP bytes of real memory. The modeled size still bounds what the firmware
// may allocate; the cap only says how much of it the emulator is willing to back with host RAM. An
// allocation past the cap fails as an out-of-memory on the NIC would, and says why.

import { BpfError } from '../bpf/errno.js';

/** The most host memory one NIC's EMEM may take (growable SharedArrayBuffers are capped below 4 GiB). */
export const EMEM_BACKING_CAP = 1 << 30;
/** EMEM backing grows in steps of this many bytes, so a table allocation rarely reallocates. */
export const EMEM_GROW_STEP = 1 << 20;
/** Bytes per NFP microword in the code store (64-bit instructions, ECC computed on load). */
export const NFP_USTORE_WORD = 8;
/**
 * The top of IMEM holds the run-time symbol table the firmware loader places (nfp_rtsym): the driver
 * reads `_abi_bpf_capabilities` and the app id from here, as nfp_rtsym_map() reads NIC memory.
 */
export const IMEM_RTSYM_AREA = 64 << 10;

/** The sizes of one NIC's memories, as the firmware image gives them. */
export interface NicMemoryLayout {
  readonly cores: number;
  readonly threadsPerCore: number;
  /** CTM islands and bytes per island (each island's cores share its CTM). */
  readonly ctmIslands: number;
  readonly ctmBytesPerIsland: number;
  readonly imemBytes: number;
  /** The modeled EMEM (board DRAM) size; only what is used gets backed. */
  readonly ememBytes: number;
  readonly ememCacheBytes: number;
  readonly lmemBytesPerCore: number;
  /** Instructions per code store; every BPF core runs the same image, so one store is modeled. */
  readonly codeStoreInsns: number;
  readonly stackBytesPerThread: number;
}

/** What another thread needs to attach the same memories: plain data, structured-cloneable. */
export interface NicMemoryShared {
  readonly layout: NicMemoryLayout;
  readonly ctm: SharedArrayBuffer;
  readonly imem: SharedArrayBuffer;
  readonly emem: SharedArrayBuffer;
  readonly lmem: SharedArrayBuffer;
  readonly ustore: SharedArrayBuffer;
  readonly ememBackingCap: number;
}

function sab(bytes: number, what: string): SharedArrayBuffer {
  try {
    return new SharedArrayBuffer(bytes);
  } catch (e) {
    throw new BpfError('ENOMEM', `NIC ${what}: cannot allocate ${bytes} bytes`, { cause: e });
  }
}

export class NicMemory {
  readonly layout: NicMemoryLayout;
  readonly ctm: Uint8Array;
  readonly imem: Uint8Array;
  readonly imemI32: Int32Array;
  readonly lmem: Uint8Array;
  readonly ustore: Uint8Array;
  /** EMEM views track the growable buffer's length: views made once stay valid as it grows. */
  readonly emem: Uint8Array;
  readonly ememI32: Int32Array;
  readonly ememI64: BigInt64Array;
  readonly ememSab: SharedArrayBuffer;
  /** How much EMEM this emulator backs with real memory (min of the modeled size and the cap). */
  readonly ememBackingCap: number;
  private readonly sabs: Omit<NicMemoryShared, 'layout' | 'ememBackingCap'>;

  private constructor(layout: NicMemoryLayout, s: Omit<NicMemoryShared, 'layout' | 'ememBackingCap'>, cap: number) {
    this.layout = layout;
    this.sabs = s;
    this.ctm = new Uint8Array(s.ctm);
    this.imem = new Uint8Array(s.imem);
    this.imemI32 = new Int32Array(s.imem);
    this.lmem = new Uint8Array(s.lmem);
    this.ustore = new Uint8Array(s.ustore);
    this.ememSab = s.emem;
    this.emem = new Uint8Array(s.emem);
    this.ememI32 = new Int32Array(s.emem);
    this.ememI64 = new BigInt64Array(s.emem);
    this.ememBackingCap = cap;
  }

  /** Allocate a NIC's memories. `ememBackingCap` lowers the real-memory cap (tests of the cap). */
  static create(layout: NicMemoryLayout, opts: { ememBackingCap?: number } = {}): NicMemory {
    checkLayout(layout);
    const cap = Math.min(layout.ememBytes, opts.ememBackingCap ?? EMEM_BACKING_CAP, EMEM_BACKING_CAP);
    let emem: SharedArrayBuffer;
    try {
      emem = new SharedArrayBuffer(0, { maxByteLength: cap });
    } catch (e) {
      throw new BpfError('ENOMEM', `NIC EMEM: cannot reserve ${cap} bytes of backing store`, { cause: e });
    }
    return new NicMemory(layout, {
      ctm: sab(layout.ctmIslands * layout.ctmBytesPerIsland, 'CTM'),
      imem: sab(layout.imemBytes, 'IMEM'),
      emem,
      lmem: sab(layout.cores * layout.lmemBytesPerCore, 'LMEM'),
      ustore: sab(layout.codeStoreInsns * NFP_USTORE_WORD, 'code store'),
    }, cap);
  }

  /** The same memories, in another thread. */
  static attach(shared: NicMemoryShared): NicMemory {
    return new NicMemory(shared.layout, shared, shared.ememBackingCap);
  }

  shared(): NicMemoryShared {
    return { layout: this.layout, ememBackingCap: this.ememBackingCap, ...this.sabs };
  }

  /** Bytes of EMEM currently backed by host memory. */
  get ememBacked(): number {
    return this.ememSab.byteLength;
  }

  /**
   * Make sure EMEM is backed up to `end` bytes. Returns false (nothing changes) when that passes the
   * modeled size or the backing cap; the caller reports it as the NIC's out-of-memory.
   */
  emem_reserve(end: number): boolean {
    if (!Number.isSafeInteger(end) || end < 0) throw new RangeError(`EMEM: bad end ${end}`);
    if (end > this.ememBackingCap) return false;
    const cur = this.ememSab.byteLength;
    if (end <= cur) return true;
    const want = Math.min(this.ememBackingCap, Math.ceil(end / EMEM_GROW_STEP) * EMEM_GROW_STEP);
    try {
      this.ememSab.grow(want);
    } catch {
      // Another thread may have grown it meanwhile; any failure to reach `end` is the NIC running out.
      return this.ememSab.byteLength >= end;
    }
    return true;
  }

  /** The stack bytes one core's LMEM holds for its BPF threads. */
  get stackBytesPerCore(): number {
    return this.layout.threadsPerCore * this.layout.stackBytesPerThread;
  }
}

function checkLayout(l: NicMemoryLayout): void {
  const ints: (keyof NicMemoryLayout)[] = [
    'cores', 'threadsPerCore', 'ctmIslands', 'ctmBytesPerIsland', 'imemBytes', 'ememBytes', 'ememCacheBytes',
    'lmemBytesPerCore', 'codeStoreInsns', 'stackBytesPerThread',
  ];
  for (const k of ints) {
    const v = l[k];
    if (!Number.isSafeInteger(v) || v <= 0) throw new BpfError('EINVAL', `NIC memory layout: ${k} must be a positive integer, not ${v}`);
  }
  if (l.imemBytes <= IMEM_RTSYM_AREA) throw new BpfError('EINVAL', `NIC memory layout: IMEM of ${l.imemBytes} bytes leaves no room beside the symbol area`);
  if (l.threadsPerCore * l.stackBytesPerThread > l.lmemBytesPerCore) {
    throw new BpfError('EINVAL', `NIC memory layout: ${l.threadsPerCore} threads x ${l.stackBytesPerThread} B of stack exceed ${l.lmemBytesPerCore} B of LMEM per core`);
  }
}
