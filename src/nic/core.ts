// One NFP microengine (ME) running a loaded image: its contexts' registers, its local memory, the memory
// commands that reach CTM/IMEM/EMEM, and the reference interpreter over decoded instructions. The fast
// engine (src/nic/exec-js.ts) translates the same image to JavaScript and must agree with this one
// exactly, in state and in cycles; a differential test holds them to it.
//
// The firmware hands control to an image and gets it back through code-store addresses it owns
// (NfpHooks): a branch to such an address calls the firmware's handler, which returns where to go on
// (a helper returns to the address the image left in B0, as nfp_bpf's map helpers do) or NFP_RUN_EXIT
// to end the run (the datapath's "next packet" address). So `run(core, ctx, entry)` is one packet.
//
// The cycle model (model: see isa.ts for the constants). Each context counts `busy` cycles (one per
// instruction issued, plus the pipeline refill of taken branches) and `stall` cycles (memory latency
// it waited for in a context swap). The four contexts of an ME take turns on one pipeline, so an ME
// that keeps T contexts busy needs max(sum of busy, sum of (busy + stall) / T) cycles for the packets
// they ran: latency hides behind the other contexts' work until the pipeline is saturated
// (nfpCoreCycles). Running packets one after another is exact for the data: contexts share only maps,
// and those change through atomics.

import { BpfError } from '../bpf/errno.js';
import { bswap32, nfp_atomic_add_be32, nfp_atomic_add_be64 } from './atomic.js';
import { decodeWord, nfp_ustore_calc_ecc_insn } from './asm.js';
import {
  CMD_OVE_DATA_SHIFT, CMD_OVE_LEN, CMD_OV_LEN_SHIFT, NFP_ALU_OPS, NFP_BRANCH_PENALTY, NFP_BR_CONDS, NFP_CMDS, NFP_CMD_MODES, NFP_CONTEXTS,
  NFP_CSRS, NFP_GPRS_PER_BANK, NFP_LM_CSR_WRITE_LATENCY, NFP_LM_POINTERS, NFP_MAX_CODE_ADDR, NFP_MEM_LATENCY, NFP_MUL_STEPS, NFP_OPS,
  NFP_SIGNALS, NFP_USTORE_BANK_SHIFT, NFP_XBANK_BRANCH_PENALTY, NFP_XFER_REGS, nfpDeferOf, nfpLmPointersUsed,
  type NfpAlu, type NfpCmd, type NfpCsr, type NfpImmed, type NfpInsn, type NfpLdField, type NfpMemTarget, type NfpMulStep, type NfpOp,
  type NfpReg, type NfpShf,
} from './isa.js';
import { NFP_USTORE_WORD, type NicMemory } from './memory.js';

/** A firmware handler's answer that ends the run (the image went to the firmware's "next packet"). */
export const NFP_RUN_EXIT = -1;

/** Firmware code at a code-store address: returns the next PC or NFP_RUN_EXIT; charges its own cycles. */
export type NfpHook = (core: NfpCore, x: NfpContext) => number;
export type NfpHooks = ReadonlyMap<number, NfpHook>;

const efault = (why: string): BpfError => new BpfError('EFAULT', `nfp core: ${why}`);

// Memory words are read with Atomics on Int32Array views and byte-swapped as needed, which assumes the
// host is little-endian (every platform Node runs the emulator on); say so rather than compute garbage.
if (new Uint8Array(Uint32Array.of(1).buffer)[0] !== 1) throw new Error('nfp core: the NFP model needs a little-endian host');

// ---------------------------------------------------------------------------------------------------
// State

/** One hardware context (thread) of an ME: what a packet's run reads and writes besides memory. */
export class NfpContext {
  readonly gprA = new Int32Array(NFP_GPRS_PER_BANK);
  readonly gprB = new Int32Array(NFP_GPRS_PER_BANK);
  /** $xfer_n as a source: what the last memory read brought. */
  readonly xferIn = new Int32Array(NFP_XFER_REGS);
  /** $xfer_n as a destination: what the next memory write sends. */
  readonly xferOut = new Int32Array(NFP_XFER_REGS);
  /** ActLMAddr0..3: LMEM byte addresses. */
  readonly lmAddr = new Int32Array(NFP_LM_POINTERS);
  /** Latency still owed by a command that signals sigN without swapping (ctx_arb[sigN] pays it). */
  readonly sigLatency = new Float64Array(NFP_SIGNALS);
  /** Condition codes of the last ALU operation, 0 or 1. */
  z = 0;
  n = 0;
  c = 0;
  v = 0;
  /**
   * PREV_ALU (model): alu and alu_shf leave their result and their A operand (0 for the B-only
   * operators); immed and ld_field leave their result in both. An indirect shift takes its amount from
   * the A operand's bits 4:0 and asr its sign from the result's bit 31 (jit.c: "the first insn will
   * set both indirect shift amount (source A) and signedness bit (MSB of result)"); an indirect_ref
   * command takes its overrides from the result.
   */
  prevAlu = 0;
  prevAluA = 0;
  /** The multiplier: operands latched by `start`, the type and steps done (-1: no sequence). */
  mulA = 0;
  mulB = 0;
  mulType = -1;
  mulSteps = 0;
  mulLast = 0;
  /** Cycles this context issued instructions, and waited for memory with its context swapped out. */
  busy = 0;
  stall = 0;
  /** The firmware address whose handler ended the last run. */
  exitPc = -1;

  constructor(readonly index: number) {}

  /** Back to power-on state, cycle counters included. */
  reset(): void {
    this.gprA.fill(0); this.gprB.fill(0); this.xferIn.fill(0); this.xferOut.fill(0); this.lmAddr.fill(0); this.sigLatency.fill(0);
    this.z = this.n = this.c = this.v = 0;
    this.prevAlu = this.prevAluA = 0;
    this.mulA = this.mulB = this.mulSteps = this.mulLast = 0;
    this.mulType = -1;
    this.busy = this.stall = 0;
    this.exitPc = -1;
  }
}

export interface NfpCoreOptions {
  /** Memory latencies in cycles (default NFP_MEM_LATENCY). */
  readonly latency?: Partial<Record<NfpMemTarget, number>>;
}

/** What an ME reaches: its LMEM, its island's CTM, IMEM and EMEM (views over the NIC's shared buffers). */
export class NfpCore {
  readonly contexts: NfpContext[];
  /** This ME's LMEM as 32-bit words. */
  readonly lm: Int32Array;
  readonly lmWordMask: number;
  readonly lmByteMask: number;
  readonly ctm: Uint8Array;
  readonly ctmI32: Int32Array;
  readonly ctmI64: BigInt64Array;
  readonly imem: Uint8Array;
  readonly imemI32: Int32Array;
  readonly imemI64: BigInt64Array;
  /** EMEM views track the growable buffer: only what the firmware has backed is reachable. */
  readonly emem: Uint8Array;
  readonly ememI32: Int32Array;
  readonly ememI64: BigInt64Array;
  /** Byte-addressed word access (unaligned reads). */
  readonly ctmDv: DataView;
  readonly imemDv: DataView;
  private ememDvFixed: DataView;
  readonly latency: Readonly<Record<NfpMemTarget, number>>;
  /** PSEUDO_RND_NUM: a per-ME xorshift32, deterministic so both engines see the same numbers. */
  rng: number;

  private constructor(readonly id: number, parts: {
    lm: Int32Array; ctm: Uint8Array; imem: Uint8Array; emem: Uint8Array; ememI32: Int32Array; ememI64: BigInt64Array; threads: number;
  }, opts: NfpCoreOptions) {
    const words = parts.lm.length;
    if (words === 0 || (words & (words - 1)) !== 0) throw new BpfError('EINVAL', `nfp core: LMEM of ${words * 4} bytes is not a power of two`);
    if (parts.threads > NFP_CONTEXTS) throw new BpfError('EINVAL', `nfp core: ${parts.threads} contexts per ME; only 4-context mode (ctx4) is modeled`);
    this.lm = parts.lm;
    this.lmWordMask = words - 1;
    this.lmByteMask = words * 4 - 1;
    this.ctm = parts.ctm;
    this.ctmI32 = new Int32Array(parts.ctm.buffer, parts.ctm.byteOffset, parts.ctm.byteLength >> 2);
    this.ctmI64 = new BigInt64Array(parts.ctm.buffer, parts.ctm.byteOffset, parts.ctm.byteLength >> 3);
    this.imem = parts.imem;
    this.imemI32 = new Int32Array(parts.imem.buffer, parts.imem.byteOffset, parts.imem.byteLength >> 2);
    this.imemI64 = new BigInt64Array(parts.imem.buffer, parts.imem.byteOffset, parts.imem.byteLength >> 3);
    this.emem = parts.emem;
    this.ememI32 = parts.ememI32;
    this.ememI64 = parts.ememI64;
    this.ctmDv = new DataView(parts.ctm.buffer, parts.ctm.byteOffset, parts.ctm.byteLength);
    this.imemDv = new DataView(parts.imem.buffer, parts.imem.byteOffset, parts.imem.byteLength);
    this.ememDvFixed = new DataView(parts.emem.buffer, parts.emem.byteOffset, parts.emem.byteLength);
    this.latency = { ...NFP_MEM_LATENCY, ...opts.latency };
    this.rng = ((0x9e3779b9 ^ Math.imul(id + 1, 0x85ebca6b)) | 1) >>> 0;
    this.contexts = Array.from({ length: parts.threads }, (_, i) => new NfpContext(i));
  }

  /** ME number `coreId` of a NIC: its slice of LMEM and the CTM of its island. */
  static fromNic(mem: NicMemory, coreId: number, opts: NfpCoreOptions = {}): NfpCore {
    const l = mem.layout;
    if (!Number.isInteger(coreId) || coreId < 0 || coreId >= l.cores) throw new BpfError('EINVAL', `nfp core: no ME ${coreId} (the NIC has ${l.cores})`);
    const perIsland = Math.ceil(l.cores / l.ctmIslands);
    const island = Math.floor(coreId / perIsland);
    return new NfpCore(coreId, {
      lm: new Int32Array(mem.lmem.buffer, mem.lmem.byteOffset + coreId * l.lmemBytesPerCore, l.lmemBytesPerCore >> 2),
      ctm: new Uint8Array(mem.ctm.buffer, mem.ctm.byteOffset + island * l.ctmBytesPerIsland, l.ctmBytesPerIsland),
      imem: mem.imem,
      emem: mem.emem,
      ememI32: mem.ememI32,
      ememI64: mem.ememI64,
      threads: l.threadsPerCore,
    }, opts);
  }

  /**
   * Byte-addressed EMEM access: a fixed-length DataView over the bytes `emem` covers (V8 makes views
   * that track a growable SharedArrayBuffer slow), taken again only when a length-tracking `emem` grew.
   */
  get ememDv(): DataView {
    const dv = this.ememDvFixed;
    if (dv.byteLength === this.emem.byteLength) return dv;
    return (this.ememDvFixed = new DataView(this.emem.buffer, this.emem.byteOffset, this.emem.byteLength));
  }

  /** The next PSEUDO_RND_NUM value. */
  nextRandom(): number {
    let s = this.rng;
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    this.rng = s >>> 0;
    return s | 0;
  }
}

/** The 40-bit address of an offset in a memory (model: NFP_ADDR40_*), as the (hi, lo) register pair. */
export function nfpAddr40(target: 'ctm' | 'imem' | 'emem', offset: number): { readonly hi: number; readonly lo: number } {
  const base = { ctm: 0x00, imem: 0x40, emem: 0x80 }[target];
  if (!Number.isSafeInteger(offset) || offset < 0 || offset >= 2 ** 38) throw new BpfError('EINVAL', `nfp: offset ${offset} out of the 40-bit map`);
  return { hi: base | Math.floor(offset / 2 ** 32), lo: offset >>> 0 };
}

/** Modeled ME cycles for work its contexts did (see the top of this file). */
export function nfpCoreCycles(busy: number, stall: number, threads: number = NFP_CONTEXTS): number {
  return Math.max(busy, (busy + stall) / threads);
}

// ---------------------------------------------------------------------------------------------------
// Loaded images

/** A memory command with everything the hardware decodes once (the runtime's hot path reads numbers). */
export class NfpCmdSpec {
  /** 0 read8, 1 read32, 2 write8, 3 write32, 4 add, 5 add_imm. */
  readonly kind: number;
  readonly swapBytes: boolean;
  readonly is64: boolean;
  readonly mode: number;
  readonly xfer: number;
  readonly count: number;
  readonly swap: boolean;
  readonly sig: number;
  readonly indirect: boolean;

  constructor(readonly insn: NfpCmd, readonly pc: number) {
    const info = NFP_CMDS[insn.cmd];
    this.kind = info.dir === 'read' ? (info.unit === 'byte' ? 0 : 1) : info.dir === 'write' ? (info.unit === 'byte' ? 2 : 3) : insn.cmd.endsWith('_imm') ? 5 : 4;
    this.swapBytes = info.swap;
    this.is64 = insn.cmd.startsWith('add64');
    this.mode = NFP_CMD_MODES[insn.mode];
    this.xfer = insn.xfer;
    this.count = insn.count;
    this.swap = insn.swap;
    this.sig = insn.sig;
    this.indirect = insn.indirect;
  }
}

export interface NfpImage {
  /** Code-store address of the first word. */
  readonly base: number;
  readonly words: readonly bigint[];
  readonly insns: readonly NfpInsn[];
  /** The command spec of each `cmd` (undefined elsewhere). */
  readonly cmds: readonly (NfpCmdSpec | undefined)[];
  /**
   * Code-store addresses control may reach only through a computed `rtn` (tail-call targets linked into
   * the image — paper-only, see src/drivers/nfp/tail_call.ts). A hint for the JS engine, which makes
   * them block starts; the interpreter needs none.
   */
  readonly entries?: readonly number[];
}

/** Decode a relocated image (words as the code store holds them, ECC bits allowed) placed at `base`. */
export function loadImage(words: readonly bigint[], opts: { base?: number; entries?: readonly number[] } = {}): NfpImage {
  const base = opts.base ?? 0;
  if (!Number.isInteger(base) || base < 0 || base + words.length > NFP_MAX_CODE_ADDR) {
    throw new BpfError('EINVAL', `nfp: an image of ${words.length} instructions at ${base} does not fit the ${NFP_MAX_CODE_ADDR}-word address space`);
  }
  const insns = words.map((w, i) => {
    // A code store word carries ECC in bits 45..51 (nfp_ustore_calc_ecc_insn); a word without it is
    // an image not loaded yet, which is fine, but a wrong one is a corrupted store.
    if ((w >> 45n) !== 0n && (w >> 52n) === 0n && nfp_ustore_calc_ecc_insn(w) !== w) {
      throw new BpfError('EIO', `nfp: ustore ECC error in instruction ${base + i} (0x${w.toString(16)})`);
    }
    try {
      return decodeWord(w);
    } catch (e) {
      if (e instanceof BpfError) throw new BpfError(e.errno, `${e.message} (instruction ${base + i})`);
      throw e;
    }
  });
  const cmds = insns.map((x, i) => (x.op === 'cmd' ? new NfpCmdSpec(x, base + i) : undefined));
  const entries = opts.entries?.filter((e) => Number.isInteger(e) && e >= base && e < base + words.length);
  return entries !== undefined && entries.length > 0 ? { base, words, insns, cmds, entries } : { base, words, insns, cmds };
}

/** Write an image's words into the NIC's code store at `start` (what the driver's load does). */
export function nfpWriteCodeStore(mem: NicMemory, start: number, words: readonly bigint[]): void {
  const size = mem.layout.codeStoreInsns;
  if (!Number.isInteger(start) || start < 0 || start + words.length > size) {
    throw new BpfError('ENOSPC', `nfp: ${words.length} instructions at ${start} do not fit the ${size}-instruction code store`);
  }
  const dv = new DataView(mem.ustore.buffer, mem.ustore.byteOffset, mem.ustore.byteLength);
  words.forEach((w, i) => dv.setBigUint64((start + i) * NFP_USTORE_WORD, w, true));
}

/** The image `count` words long at `start` of the NIC's code store, decoded (what a core loads). */
export function nfpImageFromCodeStore(mem: NicMemory, start: number, count: number): NfpImage {
  const size = mem.layout.codeStoreInsns;
  if (!Number.isInteger(start) || !Number.isInteger(count) || start < 0 || count < 0 || start + count > size) {
    throw new BpfError('EINVAL', `nfp: code store range ${start}+${count} outside the ${size}-instruction store`);
  }
  const dv = new DataView(mem.ustore.buffer, mem.ustore.byteOffset, mem.ustore.byteLength);
  const words = Array.from({ length: count }, (_, i) => dv.getBigUint64((start + i) * NFP_USTORE_WORD, true));
  return loadImage(words, { base: start });
}

/**
 * What the engines rely on, checked once per image and firmware: every branch lands in the image or on
 * a firmware address; defer slots hold only plain ALU-class work and stay inside the image; a
 * local_csr_rd is followed by the immed that receives the value and no branch lands on that immed; an
 * LM pointer is not used in the 3 instructions after it is written (the hardware would still use the
 * old value; the JIT pads with NOPs). Returns the branch targets inside the image.
 */
export function validateImage(image: NfpImage, hooks: NfpHooks): Set<number> {
  const { base, insns } = image;
  const end = base + insns.length;
  const bad = (i: number, why: string): BpfError => new BpfError('EINVAL', `nfp: instruction ${base + i}: ${why}`);
  const targets = new Set<number>();
  insns.forEach((x, i) => {
    if (x.op === 'br' || x.op === 'br_bit' || x.op === 'br_byte') {
      if (x.target >= base && x.target < end) targets.add(x.target);
      else if (!hooks.has(x.target)) throw bad(i, `branch to .${x.target}, neither in the image nor a firmware address`);
    }
    const d = nfpDeferOf(x);
    if (d > 0) {
      if (i + d >= insns.length) throw bad(i, `${d} defer slot(s) run past the end of the image`);
      for (let k = 1; k <= d; k++) {
        const s = insns[i + k]!;
        if (!NFP_OPS[s.op].deferSlot) throw bad(i + k, `${s.op} cannot sit in a defer slot`);
      }
    }
    if (x.op === 'local_csr_rd' && insns[i + 1]?.op !== 'immed') throw bad(i, 'local_csr_rd must be followed by the immed that receives the value');
    if (x.op === 'local_csr_wr' && NFP_CSRS[x.csr].lmPtr >= 0) {
      const ptr = NFP_CSRS[x.csr].lmPtr;
      for (let k = 1; k <= NFP_LM_CSR_WRITE_LATENCY && i + k < insns.length; k++) {
        if (nfpLmPointersUsed(insns[i + k]!) & (1 << ptr)) {
          throw bad(i + k, `uses LM pointer ${ptr} ${k} instruction(s) after local_csr_wr[${x.csr}] (the write takes ${NFP_LM_CSR_WRITE_LATENCY})`);
        }
      }
    }
  });
  insns.forEach((x, i) => {
    if (x.op === 'local_csr_rd' && targets.has(base + i + 1)) throw bad(i + 1, 'a branch lands between local_csr_rd and its immed');
  });
  return targets;
}

/** Instruction i sits in the defer slots of an earlier branch or command. */
export function nfpInDeferSlot(insns: readonly NfpInsn[], i: number): boolean {
  for (let k = 1; k <= 3 && i - k >= 0; k++) if (nfpDeferOf(insns[i - k]!) >= k) return true;
  return false;
}

// ---------------------------------------------------------------------------------------------------
// The runtime both engines call for what is not plain register arithmetic

const MUL_CODES: Readonly<Record<NfpMulStep, number>> = Object.fromEntries(
  (Object.keys(NFP_MUL_STEPS) as NfpMulStep[]).map((k, i) => [k, i]),
) as Record<NfpMulStep, number>;
const MUL_BY_CODE = Object.keys(NFP_MUL_STEPS) as NfpMulStep[];

/** High 32 bits of an unsigned 32x32 product, without BigInt. */
function mulhiu(a: number, b: number): number {
  const a0 = a & 0xffff, a1 = a >>> 16, b0 = b & 0xffff, b1 = b >>> 16;
  const lo = a0 * b0;
  const mid1 = a1 * b0 + (lo >>> 16);
  const mid2 = a0 * b1 + (mid1 & 0xffff);
  return (a1 * b1 + Math.floor(mid1 / 0x10000) + Math.floor(mid2 / 0x10000)) | 0;
}

export const nfpRuntime = {
  mulCode: (s: NfpMulStep): number => MUL_CODES[s],

  /**
   * One mul_step (model: the product is computed from the operands latched by `start`; the steps must
   * come in order and complete, or the run faults, which is how a JIT that miscounts them shows up).
   * Returns the word a last/last2 step writes.
   */
  mulStep(x: NfpContext, code: number, a: number, b: number, pc: number): number {
    const name = MUL_BY_CODE[code]!;
    const s = NFP_MUL_STEPS[name];
    const broken = (): BpfError => efault(`mul_step ${name} out of sequence at .${pc}`);
    if (name === 'start') {
      x.mulA = a;
      x.mulB = b;
      x.mulType = 0;
      x.mulSteps = 0;
      x.mulLast = 0;
      return 0;
    }
    if (!s.last) {
      if ((x.mulType !== 0 && x.mulType !== s.type) || x.mulSteps !== s.step || x.mulLast) throw broken();
      x.mulType = s.type;
      x.mulSteps = s.step + 1;
      return 0;
    }
    if (s.step === 4) {
      if (x.mulType !== s.type || x.mulSteps !== (s.type === 3 ? 4 : 2) || x.mulLast) throw broken();
      x.mulLast = 1;
      return s.type === 3 ? Math.imul(x.mulA, x.mulB) : Math.imul(x.mulA & 0xffff, x.mulB & 0xffff);
    }
    if (x.mulType !== 3 || !x.mulLast) throw broken();
    x.mulType = -1;
    return mulhiu(x.mulA >>> 0, x.mulB >>> 0);
  },

  csrRead(core: NfpCore, x: NfpContext, csr: NfpCsr): number {
    const p = NFP_CSRS[csr].lmPtr;
    return p >= 0 ? x.lmAddr[p]! : core.nextRandom();
  },

  csrWrite(core: NfpCore, x: NfpContext, csr: NfpCsr, v: number): void {
    const p = NFP_CSRS[csr].lmPtr;
    if (p >= 0) x.lmAddr[p] = v & core.lmByteMask;
    else core.rng = (v | 0) === 0 ? 1 : v >>> 0;
  },

  /** ctx_arb: wait for the signals in the mask (the latency still owed by their commands). */
  ctxArb(x: NfpContext, evMask: number): number {
    let wait = 0;
    for (let s = 1; s < NFP_SIGNALS; s++) {
      if ((evMask >> s) & 1) {
        if (x.sigLatency[s]! > wait) wait = x.sigLatency[s]!;
        x.sigLatency[s] = 0;
      }
    }
    return wait;
  },

  /**
   * Execute a memory command whose operands read `a` and `b` at issue, with PREV_ALU `prevAlu`. Returns
   * the latency the context waits now (a swapping command) or 0 (the latency is owed to its signal).
   */
  cmd(core: NfpCore, x: NfpContext, c: NfpCmdSpec, a: number, b: number, prevAlu: number): number {
    // Address: 32-bit mode reaches the local CTM; 40-bit modes take bits 39:32 from the "<<8" operand.
    let region: number;
    let off: number;
    if (c.mode === 4) {
      region = 0;
      off = (a + b) >>> 0;
    } else {
      const hi = (c.mode === 0 ? a : b) & 0xff;
      const lo = (c.mode === 0 ? b : a) >>> 0;
      region = hi >>> 6;
      off = (hi & 0x3f) * 0x100000000 + lo;
    }
    let u8: Uint8Array;
    let i32: Int32Array;
    let lat: number;
    if (region === 0) { u8 = core.ctm; i32 = core.ctmI32; lat = core.latency.ctm; }
    else if (region === 1) { u8 = core.imem; i32 = core.imemI32; lat = core.latency.imem; }
    else if (region === 2) { u8 = core.emem; i32 = core.ememI32; lat = core.latency.emem; }
    else { u8 = EMPTY; i32 = EMPTY_I32; lat = core.latency.ctm; }
    // Unmapped or unbacked bytes read as all-ones and swallow writes, as a bus error would leave them.
    const size = u8.length;
    let count = c.count;
    let wide = c.is64;
    if (c.indirect && (prevAlu & CMD_OVE_LEN)) {
      const ov = (prevAlu >>> CMD_OV_LEN_SHIFT) & 0x1f;
      if (c.kind === 5 || c.kind === 4) wide = wide || (ov & 4) !== 0;
      else count = ov + 1;
    }
    const XI = x.xferIn;
    const XO = x.xferOut;
    const xf = c.xfer;
    switch (c.kind) {
      case 0: { // read8: bytes packed big-endian into the transfer registers
        const words = (count + 3) >> 2;
        if (xf + words > NFP_XFER_REGS) throw efault(`read8 of ${count} bytes overruns the transfer registers at .${c.pc}`);
        for (let w = 0; w < words; w++) XI[xf + w] = 0;
        for (let k = 0; k < count; k++) {
          const p = off + k;
          const byte = p < size ? u8[p]! : 0xff;
          XI[xf + (k >> 2)] = XI[xf + (k >> 2)]! | (byte << (24 - 8 * (k & 3)));
        }
        break;
      }
      case 1: { // read32 (big-endian words) / read32_swap (little-endian, the host's order)
        if (xf + count > NFP_XFER_REGS) throw efault(`read32 of ${count} words overruns the transfer registers at .${c.pc}`);
        const le = c.swapBytes;
        if (off + 4 * count <= size) {
          const dv = region === 0 ? core.ctmDv : region === 1 ? core.imemDv : core.ememDv;
          if ((off & 3) !== 0) {
            for (let w = 0; w < count; w++) XI[xf + w] = dv.getInt32(off + 4 * w, le);
          } else if (region === 0) {
            // This context's packet: plain reads.
            for (let w = 0; w < count; w++) { const v = i32[(off >> 2) + w]!; XI[xf + w] = le ? v : bswap32(v); }
          } else {
            // Words other threads may bump atomically are read whole (the host is little-endian).
            for (let w = 0; w < count; w++) { const v = Atomics.load(i32, (off >> 2) + w); XI[xf + w] = le ? v : bswap32(v); }
          }
          break;
        }
        for (let w = 0; w < count; w++) {
          const p = off + 4 * w;
          const v = (p < size ? u8[p]! : 0xff) | ((p + 1 < size ? u8[p + 1]! : 0xff) << 8) | ((p + 2 < size ? u8[p + 2]! : 0xff) << 16) | ((p + 3 < size ? u8[p + 3]! : 0xff) << 24);
          XI[xf + w] = le ? v : bswap32(v);
        }
        break;
      }
      case 2: { // write8 / write8_swap
        if (xf + ((count + 3) >> 2) > NFP_XFER_REGS) throw efault(`write8 of ${count} bytes overruns the transfer registers at .${c.pc}`);
        for (let k = 0; k < count; k++) {
          const p = off + k;
          if (p >= size) continue;
          const v = XO[xf + (k >> 2)]!;
          u8[p] = c.swapBytes ? v >>> (8 * (k & 3)) : v >>> (24 - 8 * (k & 3));
        }
        break;
      }
      case 3: { // write32 / write32_swap
        if (xf + count > NFP_XFER_REGS) throw efault(`write32 of ${count} words overruns the transfer registers at .${c.pc}`);
        for (let w = 0; w < count; w++) {
          const v = c.swapBytes ? XO[xf + w]! : bswap32(XO[xf + w]!);
          for (let k = 0; k < 4; k++) {
            const p = off + 4 * w + k;
            if (p < size) u8[p] = v >>> (8 * k);
          }
        }
        break;
      }
      default: { // add / add64 / add_imm / add64_imm: the big-endian atomic engine
        let lo: number;
        let hi = 0;
        if (c.kind === 5) {
          if (!c.indirect || ((prevAlu >>> CMD_OVE_DATA_SHIFT) & 7) !== 2) throw efault(`add_imm without its immediate in PREV_ALU (indirect_ref) at .${c.pc}`);
          lo = prevAlu >>> 16;
        } else {
          lo = XO[xf]!;
          hi = wide ? XO[xf + 1]! : 0;
        }
        if (wide) {
          const p = off - (off % 8);
          if (p + 8 <= size) {
            const i64 = region === 0 ? core.ctmI64 : region === 1 ? core.imemI64 : core.ememI64;
            nfp_atomic_add_be64(i32, i64, p / 8, lo, hi);
          }
        } else {
          const p = off - (off % 4);
          if (p + 4 <= size) nfp_atomic_add_be32(i32, p / 4, lo | 0);
        }
        break;
      }
    }
    if (c.swap) return lat;
    if (c.sig !== 0 && x.sigLatency[c.sig]! < lat) x.sigLatency[c.sig] = lat;
    return 0;
  },
};

const EMPTY = new Uint8Array(0);
const EMPTY_I32 = new Int32Array(0);

// ---------------------------------------------------------------------------------------------------
// Engines

export interface NfpEngineOptions {
  /** A run that issues more cycles than this is stopped (ELOOP): an image must not hang the emulator. */
  readonly maxCycles?: number;
}

export const NFP_DEFAULT_MAX_CYCLES = 1_000_000;

export interface NfpEngine {
  readonly kind: 'interpreter' | 'js';
  readonly image: NfpImage;
  /**
   * Run context `x` of `core` from code-store address `entry` until a firmware handler ends the run;
   * returns that handler's address (x.exitPc). Cycles accumulate in x.busy and x.stall. A run that
   * faults throws a BpfError (EFAULT for what the hardware cannot do, ELOOP for the cycle budget) and
   * leaves the context unspecified: the engines agree on the error, not on how far they got.
   */
  run(core: NfpCore, x: NfpContext, entry: number): number;
}

export function nfpBudgetExceeded(pc: number, limit: number): BpfError {
  return new BpfError('ELOOP', `nfp core: run stopped at .${pc} after ${limit} cycles (an image loops forever?)`);
}

/** Firmware dispatch shared by both engines: a PC outside the image must be a firmware address. */
export function nfpFirmwareCall(hooks: NfpHooks, core: NfpCore, x: NfpContext, pc: number): number {
  const h = hooks.get(pc);
  if (h === undefined) throw efault(`PC .${pc} is neither in the image nor a firmware address`);
  const next = h(core, x);
  if (next === NFP_RUN_EXIT) {
    x.exitPc = pc;
    return NFP_RUN_EXIT;
  }
  if (!Number.isInteger(next) || next < 0 || next >= NFP_MAX_CODE_ADDR) throw efault(`firmware at .${pc} returned to ${next}`);
  return next;
}

// ---------------------------------------------------------------------------------------------------
// The reference interpreter

function rd(core: NfpCore, x: NfpContext, r: NfpReg): number {
  switch (r.type) {
    case 'gpr': return r.bank === 'b' ? x.gprB[r.n]! : x.gprA[r.n]!;
    case 'xfer': return x.xferIn[r.n]!;
    case 'lm': {
      const p = x.lmAddr[r.ptr]!;
      const v = core.lm[((p >>> 2) | r.off) & core.lmWordMask]!;
      if (r.mod === 'inc') x.lmAddr[r.ptr] = (p + 4) & core.lmByteMask;
      else if (r.mod === 'dec') x.lmAddr[r.ptr] = (p - 4) & core.lmByteMask;
      return v;
    }
    case 'imm': return r.value;
    case 'none': return 0;
  }
}

function wr(core: NfpCore, x: NfpContext, r: NfpReg, v: number): void {
  switch (r.type) {
    case 'gpr':
      if (r.bank !== 'b') x.gprA[r.n] = v;
      if (r.bank !== 'a') x.gprB[r.n] = v;
      return;
    case 'xfer': x.xferOut[r.n] = v; return;
    case 'lm': {
      const p = x.lmAddr[r.ptr]!;
      core.lm[((p >>> 2) | r.off) & core.lmWordMask] = v;
      if (r.mod === 'inc') x.lmAddr[r.ptr] = (p + 4) & core.lmByteMask;
      else if (r.mod === 'dec') x.lmAddr[r.ptr] = (p - 4) & core.lmByteMask;
      return;
    }
    case 'imm': case 'none': return;
  }
}

/** The value a read-modify-write destination holds now: the bank of the field it is encoded in. */
function rdDst(core: NfpCore, x: NfpContext, d: NfpReg, inB: boolean): number {
  if (d.type === 'gpr') return (d.bank === 'b' || (d.bank === 'both' && inB)) ? x.gprB[d.n]! : x.gprA[d.n]!;
  return rd(core, x, d);
}

/** ALU operations and their condition codes. */
function aluExec(x: NfpContext, op: NfpAlu['alu'], l: number, r: number): number {
  let res: number;
  let c = 0;
  let v = 0;
  switch (op) {
    case 'none': res = r; break;
    case 'not': res = ~r; break;
    case 'add': res = (l + r) | 0; c = (l >>> 0) + (r >>> 0) > 0xffffffff ? 1 : 0; v = (~(l ^ r) & (l ^ res)) >>> 31; break;
    case 'add_c': res = (l + r + x.c) | 0; c = (l >>> 0) + (r >>> 0) + x.c > 0xffffffff ? 1 : 0; v = (~(l ^ r) & (l ^ res)) >>> 31; break;
    case 'sub': res = (l - r) | 0; c = (l >>> 0) >= (r >>> 0) ? 1 : 0; v = ((l ^ r) & (l ^ res)) >>> 31; break;
    case 'sub_c': res = (l - r - (1 - x.c)) | 0; c = (l >>> 0) - (r >>> 0) - (1 - x.c) >= 0 ? 1 : 0; v = ((l ^ r) & (l ^ res)) >>> 31; break;
    case 'add_2b': { const s = (l & 0xffff) + (r & 0xffff); res = s & 0xffff; c = s >>> 16; break; }
    case 'and': res = l & r; break;
    case 'and_not_a': res = ~l & r; break;
    case 'and_not_b': res = l & ~r; break;
    case 'or': res = l | r; break;
    case 'xor': res = l ^ r; break;
  }
  x.z = res === 0 ? 1 : 0;
  x.n = res >>> 31;
  x.c = c;
  x.v = v;
  return res;
}

/** The shifter: B shifted by `n` (the high word `a` feeds a double shift); `n` is 0..31. */
function shifted(sc: NfpShf['sc'], a: number, b: number, n: number): number {
  switch (sc) {
    case 'r_rot': return n === 0 ? b : ((b >>> n) | (b << (32 - n))) | 0;
    case 'r_shf': return (b >>> n) | 0;
    case 'l_shf': return b << n;
    case 'r_dshf': return n === 0 ? b : ((b >>> n) | (a << (32 - n))) | 0;
  }
}

function shfExec(x: NfpContext, insn: NfpShf, a: number, b: number): number {
  const n = insn.shift === 'indirect' ? x.prevAluA & 31 : insn.shift;
  let res: number;
  if (insn.shf === 'ashr') {
    const sign = x.prevAlu >>> 31;
    res = n === 0 ? b : ((b >>> n) | (sign ? -1 << (32 - n) : 0)) | 0;
  } else {
    const s = shifted(insn.sc, a, b, n);
    switch (insn.shf) {
      case 'none': res = s; break;
      case 'not': res = ~s; break;
      case 'and': res = a & s; break;
      case 'and_not_a': res = ~a & s; break;
      case 'and_not_b': res = a & ~s; break;
      case 'or': res = a | s; break;
    }
  }
  x.z = res === 0 ? 1 : 0;
  x.n = res >>> 31;
  x.c = 0;
  x.v = 0;
  return res;
}

const BYTE_MASKS = Int32Array.from({ length: 16 }, (_, m) => (m & 1 ? 0xff : 0) | (m & 2 ? 0xff00 : 0) | (m & 4 ? 0xff0000 : 0) | (m & 8 ? 0xff000000 : 0));

function condTrue(x: NfpContext, cond: keyof typeof NFP_BR_CONDS): boolean {
  switch (cond) {
    case 'beq': return x.z === 1;
    case 'bne': return x.z === 0;
    case 'bmi': return x.n === 1;
    case 'bpl': return x.n === 0;
    case 'bcs': return x.c === 1;
    case 'bcc': return x.c === 0;
    case 'bvs': return x.v === 1;
    case 'bvc': return x.v === 0;
    case 'bge': return x.n === x.v;
    case 'blt': return x.n !== x.v;
    case 'ble': return x.z === 1 || x.n !== x.v;
    case 'bgt': return x.z === 0 && x.n === x.v;
    case 'br': return true;
  }
}

/**
 * Write only the bytes in `mask` of a destination: immed_b/immed_w enable bytes of the register file
 * they write rather than merge through the A port, which is why jit.c's wrp_immed can build a 32-bit
 * constant in a transfer-out register with immed + immed_w1. Returns what the destination now holds.
 */
function wrMasked(core: NfpCore, x: NfpContext, r: NfpReg, v: number, mask: number): number {
  switch (r.type) {
    case 'gpr': {
      let out = 0;
      if (r.bank !== 'a') out = x.gprB[r.n] = (x.gprB[r.n]! & ~mask) | (v & mask);
      if (r.bank !== 'b') out = x.gprA[r.n] = (x.gprA[r.n]! & ~mask) | (v & mask);
      return out;
    }
    case 'xfer': return x.xferOut[r.n] = (x.xferOut[r.n]! & ~mask) | (v & mask);
    case 'lm': {
      const p = x.lmAddr[r.ptr]!;
      const w = ((p >>> 2) | r.off) & core.lmWordMask;
      const out = core.lm[w] = (core.lm[w]! & ~mask) | (v & mask);
      if (r.mod === 'inc') x.lmAddr[r.ptr] = (p + 4) & core.lmByteMask;
      else if (r.mod === 'dec') x.lmAddr[r.ptr] = (p - 4) & core.lmByteMask;
      return out;
    }
    case 'imm': case 'none': return v & mask;
  }
}

/** The immed's result; `csr` replaces it when the immed receives a local_csr_rd. */
function immedExec(core: NfpCore, x: NfpContext, insn: NfpImmed, csr: number | undefined): void {
  let v: number;
  if (csr !== undefined) {
    v = csr;
    wr(core, x, insn.dst, v);
  } else if (insn.width === 'all') {
    v = insn.imm << (8 * insn.shift);
    if (insn.invert) v = ~v;
    wr(core, x, insn.dst, v);
  } else {
    const mask = (insn.width === 'byte' ? 0xff : 0xffff) << (8 * insn.shift);
    v = wrMasked(core, x, insn.dst, insn.imm << (8 * insn.shift), mask);
  }
  x.prevAlu = x.prevAluA = v;
}

function ldFieldExec(core: NfpCore, x: NfpContext, insn: NfpLdField): void {
  const inB = (insn.dst.type === 'gpr' && insn.dst.bank === 'b') || (insn.src.type === 'gpr' && insn.src.bank === 'a');
  const n = insn.shift === 'indirect' ? x.prevAluA & 31 : insn.shift;
  const val = shifted(insn.sc, 0, rd(core, x, insn.src), n);
  const m = BYTE_MASKS[insn.bmask]!;
  const old = insn.zero ? 0 : rdDst(core, x, insn.dst, inB);
  const res = (old & ~m) | (val & m);
  wr(core, x, insn.dst, res);
  x.prevAlu = x.prevAluA = res;
}

/**
 * The reference engine: instruction by instruction over the decoded image, every effect in the order
 * the hardware has it (operands read at issue; defer slots run before a branch or a swap takes effect).
 */
export class NfpInterpreter implements NfpEngine {
  readonly kind = 'interpreter' as const;
  private readonly end: number;
  private readonly maxCycles: number;

  constructor(readonly image: NfpImage, private readonly hooks: NfpHooks, opts: NfpEngineOptions = {}) {
    validateImage(image, hooks);
    this.end = image.base + image.insns.length;
    this.maxCycles = opts.maxCycles ?? NFP_DEFAULT_MAX_CYCLES;
  }

  run(core: NfpCore, x: NfpContext, entry: number): number {
    const limit = x.busy + this.maxCycles;
    let pc = entry;
    for (;;) {
      if (pc >= this.image.base && pc < this.end) {
        pc = this.exec(core, x, pc - this.image.base);
        if (x.busy > limit) throw nfpBudgetExceeded(pc, this.maxCycles);
      } else {
        pc = nfpFirmwareCall(this.hooks, core, x, pc);
        if (pc === NFP_RUN_EXIT) return x.exitPc;
      }
    }
  }

  /** Continue a run from an address only known at run time (used by the JS engine for odd `rtn` targets). */
  runFrom(core: NfpCore, x: NfpContext, pc: number): number {
    return this.run(core, x, pc);
  }

  /** Execute the instruction at index i (and what it drags along: defer slots, the immed of a csr read); returns the next PC. */
  private exec(core: NfpCore, x: NfpContext, i: number): number {
    const insn = this.image.insns[i]!;
    const next = this.image.base + i + 1;
    x.busy += NFP_OPS[insn.op].cycles;
    return (HANDLERS[insn.op] as Handler<NfpInsn>)(this, core, x, insn, i, next);
  }

  /** Run the defer slots after index i; returns the PC after them. */
  deferSlots(core: NfpCore, x: NfpContext, i: number, n: number): number {
    for (let k = 1; k <= n; k++) this.exec(core, x, i + k);
    return this.image.base + i + 1 + n;
  }

  insnAt(i: number): NfpInsn {
    return this.image.insns[i]!;
  }

  cmdAt(i: number): NfpCmdSpec {
    return this.image.cmds[i]!;
  }
}

type Handler<T extends NfpInsn> = (m: NfpInterpreter, core: NfpCore, x: NfpContext, insn: T, i: number, next: number) => number;

function branch(m: NfpInterpreter, core: NfpCore, x: NfpContext, i: number, defer: number, taken: boolean, target: number): number {
  const after = m.deferSlots(core, x, i, defer);
  if (!taken) return after;
  x.busy += Math.max(0, NFP_BRANCH_PENALTY - defer);
  // A second code-store bank (paper-only): a branch across the pair fetches from the other store.
  if ((target >>> NFP_USTORE_BANK_SHIFT) !== ((m.image.base + i) >>> NFP_USTORE_BANK_SHIFT)) x.busy += NFP_XBANK_BRANCH_PENALTY;
  return target;
}

/** One handler per instruction of the table (a missing one is a compile error). */
const HANDLERS: { readonly [K in NfpOp]: Handler<Extract<NfpInsn, { op: K }>> } = {
  alu(_m, core, x, insn, _i, next) {
    const l = rd(core, x, insn.a);
    const r = rd(core, x, insn.b);
    const res = aluExec(x, insn.alu, l, r);
    wr(core, x, insn.dst, res);
    x.prevAluA = NFP_ALU_OPS[insn.alu].bOnly ? 0 : l;
    x.prevAlu = res;
    return next;
  },
  alu_shf(_m, core, x, insn, _i, next) {
    const a = rd(core, x, insn.a);
    const b = rd(core, x, insn.b);
    const res = shfExec(x, insn, a, b);
    wr(core, x, insn.dst, res);
    x.prevAluA = a;
    x.prevAlu = res;
    return next;
  },
  immed(_m, core, x, insn, _i, next) {
    immedExec(core, x, insn, undefined);
    return next;
  },
  ld_field(_m, core, x, insn, _i, next) {
    ldFieldExec(core, x, insn);
    return next;
  },
  mul_step(m, core, x, insn, i, next) {
    const code = nfpRuntime.mulCode(insn.step);
    if (NFP_MUL_STEPS[insn.step].last) {
      wr(core, x, insn.dst, nfpRuntime.mulStep(x, code, 0, 0, m.image.base + i));
    } else {
      nfpRuntime.mulStep(x, code, rd(core, x, insn.a), rd(core, x, insn.b), m.image.base + i);
    }
    return next;
  },
  br(m, core, x, insn, i) {
    return branch(m, core, x, i, insn.defer, condTrue(x, insn.cond), insn.target);
  },
  br_bit(m, core, x, insn, i) {
    const v = rd(core, x, insn.src);
    return branch(m, core, x, i, insn.defer, ((v >>> insn.bit) & 1) === (insn.set ? 1 : 0), insn.target);
  },
  br_byte(m, core, x, insn, i) {
    const v = rd(core, x, insn.src);
    return branch(m, core, x, i, insn.defer, (((v >>> (8 * insn.byte)) & 0xff) === insn.value) === insn.eq, insn.target);
  },
  rtn(m, core, x, insn, i) {
    const to = rd(core, x, insn.src) & (NFP_MAX_CODE_ADDR - 1);
    return branch(m, core, x, i, insn.defer, true, to);
  },
  local_csr_rd(m, core, x, insn, i, next) {
    const v = nfpRuntime.csrRead(core, x, insn.csr);
    const imm = m.insnAt(i + 1) as NfpImmed;
    x.busy += NFP_OPS.immed.cycles;
    immedExec(core, x, imm, v);
    return next + 1;
  },
  local_csr_wr(_m, core, x, insn, _i, next) {
    nfpRuntime.csrWrite(core, x, insn.csr, rd(core, x, insn.src));
    return next;
  },
  ctx_arb(_m, _core, x, insn, _i, next) {
    x.stall += nfpRuntime.ctxArb(x, insn.evMask);
    return next;
  },
  cmd(m, core, x, insn, i, next) {
    const a = rd(core, x, insn.a);
    const b = rd(core, x, insn.b);
    const prev = x.prevAlu;
    const after = insn.swap ? m.deferSlots(core, x, i, insn.defer) : next;
    x.stall += nfpRuntime.cmd(core, x, m.cmdAt(i), a, b, prev);
    return after;
  },
};
