// Soundness bugs the fuzzer found in nfp-emu's verifier (src/kernel/verifier/verifier.ts): each with a
// minimal reproducer (LLVM-syntax assembly for src/bpf/asm.ts), what goes wrong, and a test for "this
// failing program shows this bug" so fuzz runs can tell known failures from new ones. KNOWN_BUGS are not
// fixed yet: fuzz.test.ts reports them but does not fail on them. FIXED_BUGS are the ones the verifier
// now refuses; their reproducers stay as regression tests (fuzz.test.ts fails if one is accepted again).
//
// The reproducers use the fuzzer's maps (FUZZ_MAPS in gen.ts): `ld_pseudo rN, 5, 0` is the ARRAY map
// arr12 (key 4, value 12, 4 entries) through fd_array.

import type { Insn } from '../../../src/bpf/insn.js';
import {
  BPF_ADD, BPF_ALU, BPF_ALU64, BPF_ATOMIC, BPF_CALL, BPF_DW, BPF_JMP, BPF_JMP32, BPF_K, BPF_LD, BPF_LDX, BPF_MEM, BPF_MEMSX, BPF_MOV,
  BPF_ST, BPF_STX, BPF_SUB, BPF_X, bpfClass, bpfMode, bpfSize,
} from '../../../src/bpf/opcodes.js';

export interface KnownBug {
  readonly id: string;
  /**
   * 'unsound': an accepted program breaks memory safety (the sanitizer fails its runs).
   * 'divergence': the kernel refuses what nfp-emu accepts, without a memory-safety failure in nfp-emu.
   */
  readonly kind: 'unsound' | 'divergence';
  readonly title: string;
  /** What the verifier does wrong, and what the kernel does instead. */
  readonly explanation: string;
  /** The fuzzer seed that first showed it (`npm run fuzz -- --seed N` prints the program). */
  readonly seed: number;
  /** A minimal program the verifier accepts and whose run breaks the rules. */
  readonly reproducer: string;
  /** Does a failing generated program show this bug? (A static property of its instructions.) */
  matches(insns: readonly Insn[]): boolean;
  /** The kernel's refusal line for programs that show it (for the kernel comparison). */
  readonly kernelReason: RegExp;
  /**
   * The kernel's line alone identifies the bug (it names the very check nfp-emu lacks), so a refused
   * program is attributed without `matches`, which follows only straight-line stack pointers.
   */
  readonly byKernelReason?: boolean;
  /** The kernel's errno for such programs, where the line alone is ambiguous. */
  readonly kernelErrno?: string;
}

const SIZE_BYTES: Record<number, number> = { 0x00: 4, 0x08: 2, 0x10: 1, 0x18: 8 };

/**
 * Loads, stores and atomics on the stack at an offset that is not a multiple of the size. Which
 * registers hold r10 + constant is followed through `rX = r10` and `rX += imm` in program order (an
 * approximation that ignores jumps, enough for the generator's straight-line stack code).
 */
function misalignedStackAccess(insns: readonly Insn[]): boolean {
  const fp: (number | undefined)[] = Array.from({ length: 11 }, () => undefined);
  fp[10] = 0;
  for (const x of insns) {
    const cls = bpfClass(x.code);
    const size = SIZE_BYTES[bpfSize(x.code)]!;
    const mode = bpfMode(x.code);
    if (cls === BPF_LDX && (mode === BPF_MEM || mode === BPF_MEMSX)) {
      const base = fp[x.src];
      if (base !== undefined && (base + x.off) % size !== 0) return true;
      fp[x.dst] = undefined;
      continue;
    }
    if (cls === BPF_ST || (cls === BPF_STX && (mode === BPF_MEM || mode === BPF_ATOMIC))) {
      const base = fp[x.dst];
      if (base !== undefined && (base + x.off) % size !== 0) return true;
      if (mode === BPF_ATOMIC) fp[x.src] = undefined;
      continue;
    }
    if (x.code === (BPF_ALU64 | BPF_MOV | BPF_X) && x.off === 0) fp[x.dst] = fp[x.src];
    else if (x.code === (BPF_ALU64 | BPF_ADD | BPF_K)) fp[x.dst] = fp[x.dst] === undefined ? undefined : fp[x.dst]! + x.imm;
    else if (x.code === (BPF_JMP | BPF_CALL)) for (let r = 0; r <= 5; r++) fp[r] = undefined;
    else if (cls === BPF_ALU || cls === BPF_ALU64 || cls === BPF_LD) fp[x.dst] = undefined;
  }
  return false;
}

/** A subtraction (of a constant or a register) from a register that holds r10 + constant. */
function fpSubtraction(insns: readonly Insn[]): boolean {
  const fp: boolean[] = Array.from({ length: 11 }, () => false);
  fp[10] = true;
  for (const x of insns) {
    const cls = bpfClass(x.code);
    if (x.code === (BPF_ALU64 | BPF_SUB | BPF_K) || x.code === (BPF_ALU64 | BPF_SUB | BPF_X)) {
      if (fp[x.dst]) return true;
      continue;
    }
    if (x.code === (BPF_ALU64 | BPF_MOV | BPF_X) && x.off === 0) fp[x.dst] = fp[x.src]!;
    else if (x.code === (BPF_ALU64 | BPF_ADD | BPF_K)) continue;
    else if (x.code === (BPF_JMP | BPF_CALL)) for (let r = 0; r <= 5; r++) fp[r] = false;
    else if (cls === BPF_ALU || cls === BPF_ALU64 || cls === BPF_LD || cls === BPF_LDX) fp[x.dst] = false;
  }
  return false;
}

/** A conditional jump comparing a register with itself (`if r0 s>= r0 goto ...`). */
function sameRegisterCompare(insns: readonly Insn[]): boolean {
  return insns.some((x) => (bpfClass(x.code) === BPF_JMP || bpfClass(x.code) === BPF_JMP32) && (x.code & 0xf0) !== BPF_CALL && (x.code & 0xf0) !== 0x90 && (x.code & BPF_X) !== 0 && x.dst === x.src);
}

/** A bpf_fib_lookup call followed somewhere by an 8-byte fill from the stack. */
function fibThenFill(insns: readonly Insn[]): boolean {
  const call = insns.findIndex((x) => x.code === (BPF_JMP | BPF_CALL) && x.src === 0 && x.imm === 69);
  return call >= 0 && insns.slice(call).some((x) => x.code === (BPF_LDX | BPF_MEM | BPF_DW) && x.src === 10);
}

/** Found by the fuzzer and fixed: the verifier refuses each reproducer, as the kernel does. */
export const FIXED_BUGS: readonly KnownBug[] = [
  {
    id: 'misaligned-stack-store-keeps-spill',
    title: 'A misaligned stack store overwrites part of a spilled pointer, which stays a pointer',
    explanation:
      'The verifier has no alignment check for stack accesses, and its stack write (stackWrite) updates only ' +
      'the 8-byte slot the first byte falls in: an 8-byte store at fp-20 changes fp-20..fp-13, but the slot ' +
      'fp-16..fp-9 keeps its spilled map_value pointer. Filling fp-16 then gives a "map_value" whose low half ' +
      'the program chose: here offset 0x40, past the array\'s last element. The kernel refuses every ' +
      'misaligned stack access (check_ptr_alignment: strict for PTR_TO_STACK, "misaligned stack access ' +
      'off (0x0; 0x0)+-20+0 size 8"), because its spill tracking relies on aligned slots.',
    kind: 'unsound',
    seed: 5,
    kernelReason: /^misaligned stack access off/,
    byKernelReason: true,
    reproducer: `
*(u32 *)(r10 - 4) = 0
r2 = r10
r2 += -4
ld_pseudo r1, 5, 0
call 1
if r0 == 0 goto out
*(u64 *)(r10 - 16) = r0
r3 = 0x4000000000 ll
*(u64 *)(r10 - 20) = r3
r0 = *(u64 *)(r10 - 16)
r0 = *(u32 *)(r0 + 0)
exit
out:
r0 = 2
exit
`,
    matches: misalignedStackAccess,
  },
  {
    id: 'helper-write-keeps-spill',
    title: 'bpf_fib_lookup writes over a spilled pointer in its params struct, which stays a pointer',
    explanation:
      'bpf_fib_lookup\'s params argument is ARG_PTR_TO_MEM without MEM_RDONLY: the helper writes its results ' +
      '(ifindex, rt_metric, smac, dmac, VLAN, mtu) into the struct. checkHelperMem only checks that stack ' +
      'memory is initialised and leaves spilled registers in the range alone (it clobbers them only for ' +
      'ARG_PTR_TO_UNINIT_MEM). A map_value pointer spilled at params+48 (VLAN fields and smac) survives ' +
      'the call in the verifier\'s state while the helper overwrote it; the fill then dereferences ' +
      '0x00000002_00000000. The kernel clobbers spilled registers in a helper\'s writable stack range ' +
      '(check_stack_range_initialized with clobber: __mark_reg_unknown + scrub_spilled_slot).',
    kind: 'unsound',
    seed: 27,
    // The kernel's clobbered slot fills as a scalar: a load or store through it is refused (an atomic
    // is refused first for the alignment it cannot prove).
    kernelReason: /invalid mem access 'scalar'|^misaligned access off \(0x0; 0xffffffffffffffff\)/,
    reproducer: `
r6 = r1
*(u32 *)(r10 - 68) = 0
r2 = r10
r2 += -68
ld_pseudo r1, 5, 0
call 1
if r0 == 0 goto out
r7 = r0
*(u64 *)(r10 - 64) = 0
*(u64 *)(r10 - 56) = 0
*(u64 *)(r10 - 48) = 0
*(u64 *)(r10 - 40) = 0
*(u64 *)(r10 - 32) = 0
*(u64 *)(r10 - 24) = 0
*(u64 *)(r10 - 8) = 0
*(u8 *)(r10 - 64) = 2
*(u32 *)(r10 - 56) = 2
*(u32 *)(r10 - 32) = 0x0101a8c0
*(u64 *)(r10 - 16) = r7
r1 = r6
r2 = r10
r2 += -64
r3 = 64
r4 = 0
call 69
r7 = *(u64 *)(r10 - 16)
r0 = *(u8 *)(r7 + 0)
exit
out:
r0 = 2
exit
`,
    matches: fibThenFill,
  },
  {
    id: 'misaligned-atomic',
    kind: 'divergence',
    title: 'Misaligned atomic operations on map values and packets are accepted',
    explanation:
      'check_atomic() in the kernel checks the access with strict alignment whatever the architecture ' +
      '(strict_alignment_once): "misaligned value access off 0+0+9 size 8". nfp-emu\'s verifier has no ' +
      'alignment checks, so it accepts `lock *(u64 *)(r0 + 9) |= r4` on a map value. Not a memory-safety ' +
      'failure in the emulator (the access is in bounds), but a program nfp-emu loads that the kernel refuses.',
    seed: 46,
    kernelReason: /^misaligned (value |packet )?access off/,
    reproducer: `
*(u32 *)(r10 - 4) = 0
r2 = r10
r2 += -4
ld_pseudo r1, 5, 0
call 1
if r0 == 0 goto out
r4 = 1
lock *(u32 *)(r0 + 2) += r4
out:
r0 = 2
exit
`,
    // The offset may be variable: any atomic in a program the kernel refuses for a misaligned value or
    // packet access (only atomics are held to alignment on x86-64).
    matches: (insns) => insns.some((x) => bpfClass(x.code) === BPF_STX && bpfMode(x.code) === BPF_ATOMIC),
  },
  {
    id: 'fp-subtraction',
    kind: 'divergence',
    title: 'Subtracting from a stack pointer is accepted',
    explanation:
      'adjust_ptr_min_max_vals() refuses BPF_SUB on a PTR_TO_STACK ("R7 subtraction from stack pointer ' +
      'prohibited": JITs may not cope with it, test_verifier "invalid fp arithmetic"). nfp-emu\'s adjustPtr ' +
      'lets `r7 = r10; r7 += -1048576; r7 -= -1048576` through and checks only the final access, which is ' +
      'in bounds: no memory-safety failure, but a program the kernel refuses.',
    seed: 2005392,
    kernelReason: /subtraction from stack pointer prohibited/,
    byKernelReason: true,
    reproducer: `
r7 = r10
r7 += -64
r7 -= 8
*(u64 *)(r7 + 0) = 1
r0 = 2
exit
`,
    matches: fpSubtraction,
  },
  {
    id: 'same-register-compare',
    kind: 'divergence',
    title: '`if rX op rX` is decided, so the kernel\'s refusal of the dead branch is not repeated',
    explanation:
      'nfp-emu\'s branchTaken() decides a compare of a register with itself (`if r0 s>= r0` is always taken) ' +
      'and never walks the other branch; the 6.18 kernel does not decide it for a non-constant register, ' +
      'walks both, and refuses what it finds on the dead one (here `w0 /= 0`: "div by zero"). Sound (the ' +
      'refused instruction cannot run), but a program the kernel refuses.',
    seed: 2007097,
    kernelReason: /^div by zero$/,
    reproducer: `
call 7
if r0 s>= r0 goto ok
w0 /= 0
ok:
r0 = 2
exit
`,
    matches: sameRegisterCompare,
  },
  {
    id: 'no-mark-pkt-end',
    kind: 'divergence',
    title: 'A packet pointer found at or past data_end keeps the range learnt earlier',
    explanation:
      'After `if r0 < r9 goto` (r0 = data + 54, r9 = data_end) falls through, the kernel knows r0 >= data_end ' +
      'and marks r0 as beyond the end (mark_pkt_end: range BEYOND_PKT_END), so a later load through r0 is ' +
      'refused with EINVAL "R0 offset is outside of the packet". nfp-emu has no mark_pkt_end: r0 keeps the ' +
      'range 61 its family learnt from an earlier check (data + 60 < data_end), and the load is accepted. ' +
      'Sound (the two facts contradict each other, so the branch never runs), but a program the kernel ' +
      'refuses. Only this case gives EINVAL with that line (check_packet_access: reg->range < 0).',
    seed: 5007185,
    kernelReason: /offset is outside of the packet/,
    kernelErrno: 'EINVAL',
    byKernelReason: true,
    reproducer: `
r8 = *(u32 *)(r1 + 0)
r9 = *(u32 *)(r1 + 4)
r0 = r8
r0 += 60
if r0 >= r9 goto out
r0 = r8
r0 += 54
if r0 < r9 goto out
r0 = *(u8 *)(r0 + 0)
exit
out:
r0 = 2
exit
`,
    matches: () => false,
  },
];

/** Found and not fixed yet. */
export const KNOWN_BUGS: readonly KnownBug[] = [];

/** The known memory-safety bug a failing program shows, if any. */
export function knownBugOf(insns: readonly Insn[]): KnownBug | undefined {
  return KNOWN_BUGS.find((b) => b.kind === 'unsound' && b.matches(insns));
}

/** The known bug behind "the kernel refuses this, nfp-emu accepts it", if any. */
export function knownDivergenceOf(insns: readonly Insn[], kernelReason: string, kernelErrno: string): KnownBug | undefined {
  return KNOWN_BUGS.find((b) =>
    b.kernelReason.test(kernelReason) && (b.kernelErrno === undefined || b.kernelErrno === kernelErrno) && (b.byKernelReason === true || b.matches(insns)));
}
