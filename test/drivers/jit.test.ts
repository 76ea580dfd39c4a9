// The NFP JIT, path by path: hand-written programs whose results (every register, stored into the
// packet) must match the host interpreter's on both NFP engines — 64-bit arithmetic with carries,
// ALU32 and its zero-extension, the multiplier's 16x16 and 32x32 sequences, division by constants
// (shift, reciprocal, wide reciprocal, above 2^31, by 0 and 1), shifts by a register in each range,
// byte swaps, every compare, the stack at every offset and size, packet reads through the cache and
// writes — plus the stack cases with their cycles, the zero-extension savings, BPF-to-BPF calls,
// adjust_head's two paths, adjust_tail, queue selection, the TC outro, LD_ABS/IND and relocation.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assemble } from '../../src/bpf/asm.js';
import type { Insn } from '../../src/bpf/insn.js';
import { BPF_PROG_TYPE } from '../../src/bpf/prog-types.js';
import { Kernel } from '../../src/kernel/kernel.js';
import type { BpfProg } from '../../src/kernel/prog.js';
import { BpfSyscall } from '../../src/kernel/syscall.js';
import { VerifierLog } from '../../src/kernel/verifier/log.js';
import { VerifierEnv } from '../../src/kernel/verifier/verifier.js';
import { OP_RELO_TYPE, reloOf, RELO_BR_HELPER, RELO_BR_NEXT_PKT, RELO_IMMED_REL } from '../../src/drivers/nfp/jit-emit.js';
import { reciprocal_value_adv } from '../../src/drivers/nfp/jit-alu.js';
import { nfp_bpf_dev_ops, nfp_bpf_vnic_of, nfp_bar_of, nfp_prog_of, type NfpProgOffload } from '../../src/drivers/nfp/prog.js';
import { decodeWord } from '../../src/nic/asm.js';
import * as pk from '../oracle/packets.js';
import { NfpRunner, bootHost, nfpLoadAsm, nfpLoadInsns, nfpLoadObject, type NfpLoaded, type NfpRunResult, type TestHost } from './nfp-run.js';

let h: TestHost;
const k = new Kernel({ cpus: 1, prandomSeed: 1 });
const sys = new BpfSyscall(k);
beforeAll(async () => { h = await bootHost(); });
afterAll(async () => { await h.shutdown(); });

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** The host interpreter's result for `insns` on `frame`. */
function hostRun(insns: readonly Insn[], frame: Uint8Array, progType = BPF_PROG_TYPE.XDP): { retval: number; data: string } {
  const fd = sys.progLoad({ prog_type: progType, insns, license: 'GPL' });
  try {
    const p = k.fds.get(fd)!.obj as BpfProg;
    p.jited = undefined;
    const r = sys.progTestRun({ prog_fd: fd, data_in: frame });
    return { retval: r.retval, data: hex(r.data_out!) };
  } finally {
    sys.close(fd);
  }
}

/** Run on both NFP engines; they must agree exactly. */
function nfpRun(l: NfpLoaded, frame: Uint8Array): NfpRunResult {
  const r = new NfpRunner(h, l);
  const a = r.run('interpreter', frame);
  const b = r.run('js', frame);
  expect(b, 'JS engine vs interpreter').toEqual(a);
  return a;
}

/** A 160-byte frame whose bytes are known and varied (the programs read operands from it). */
const FRAME = (() => {
  const f = pk.padFrame(pk.udp4Frame({ dstPort: 9, payload: pk.patternPayload(140, 7) }), 182);
  for (let i = 42; i < 182; i++) f[i] = (i * 89 + 0x5d) & 0xff;
  return f;
})();

/**
 * `body` between a prologue that puts the packet in r9 (and bounds-checks 160 bytes) and an epilogue
 * that stores r0-r8 into the packet's first 72 bytes; the result is compared with the host's.
 */
function wrapped(body: string, subprogs = ''): string {
  return `r9 = *(u32 *)(r1 + 0)\nr8 = *(u32 *)(r1 + 4)\nr7 = r9\nr7 += 160\nif r7 > r8 goto fail
r0 = 0\nr1 = 0\nr2 = 0\nr3 = 0\nr4 = 0\nr5 = 0\nr6 = 0\nr7 = 0\nr8 = 0
${body}
${[0, 1, 2, 3, 4, 5, 6, 7, 8].map((r) => `*(u64 *)(r9 + ${8 * r}) = r${r}`).join('\n')}
r0 = 2\nexit\nfail:\nr0 = 1\nexit\n${subprogs}`;
}

function agree(body: string, subprogs = '', frame = FRAME): NfpLoaded {
  const insns = assemble(wrapped(body, subprogs));
  const l = nfpLoadInsns(h, insns);
  const nfp = nfpRun(l, frame);
  const host = hostRun(insns, frame);
  expect({ verdict: nfp.verdict, data: hex(nfp.data) }).toEqual({ verdict: 0x11, data: host.data });
  return l;
}

/** A few unknown operands read from the packet: r1-r4 u32, r5 u64 (the verifier knows only their ranges). */
const LOADS = 'r1 = *(u32 *)(r9 + 80)\nr2 = *(u32 *)(r9 + 84)\nr3 = *(u16 *)(r9 + 90)\nr4 = *(u8 *)(r9 + 93)\nr5 = *(u64 *)(r9 + 96)';

describe('arithmetic matches the host interpreter', () => {
  it('64-bit add/sub with carry, neg, the logical immediates with their no-op forms, moves', () => {
    agree(`${LOADS}\nr0 = 0xffffffff\nr0 += 1\nr6 = r5\nr6 += r1\nr7 = r5\nr7 -= r2\nr8 = r5\nr8 = -r8
r1 &= -1\nr2 |= 0\nr3 ^= 0\nr4 &= 0\nr5 |= -1\nr1 ^= -1\nr2 += -7\nr3 -= -9\nw4 = -1\nr5 = -3`);
  });

  it('ALU32 results, their upper halves and 32-bit moves', () => {
    agree(`${LOADS}\nr0 = r5\nw0 += w1\nr6 = r5\nw6 = w6\nr7 = r5\nw7 -= 5\nr8 = r5\nw8 = -w8\nw1 |= 0x80000000\nw2 ^= w3\nw3 &= 0xf0f0\nr4 = r5\nw4 = 7`);
  });

  it('multiplies: 16x16, 32x32, a 32-bit multiply by a negative immediate, 64-bit products', () => {
    agree(`${LOADS}\nr0 = r3\nr0 *= 1000\nr6 = r1\nr6 *= r2\nw7 = w1\nw7 *= -3\nr8 = r4\nr8 *= r3\nw2 *= w1\nr3 *= 0xffff\nr4 *= 65537\nr5 = r1\nr5 *= 7`);
  });

  it('divides by constants: shifts, reciprocals (narrow and wide), above 2^31, by 0 and by 1', () => {
    const divisors = [1, 2, 3, 7, 10, 641, 0x7fffffff, 0x10000, 0x80000000, 0x80000001, 0xfffffffe, 0, 12345];
    // The verifier does not follow a quotient's range (nor does the kernel's), so each dividend is read afresh.
    const body = divisors.map((d, i) => {
      const r = i % 7;
      const src = ['*(u32 *)(r9 + 80)', '*(u32 *)(r9 + 84)', '*(u16 *)(r9 + 90)', '*(u8 *)(r9 + 93)'][i % 4]!;
      return `r${r} = ${src}\nr8 = ${d} ll\nr${r} /= r8`;
    }).join('\n');
    agree(`${LOADS}\n${body}\nr5 = *(u32 *)(r9 + 80)\nr5 /= 3\nw6 = *(u32 *)(r9 + 84)\nw6 /= 7\nr7 = *(u32 *)(r9 + 84)\nr7 /= 0x7fffffff`);
    for (const d of [3, 5, 7, 10, 641, 1000, 0x7fffffff]) {
      const r = reciprocal_value_adv(d, 32);
      for (const x of [0, 1, d - 1, d, d + 1, 0xffffffff, 0x12345678]) {
        // The reciprocal multiplication the JIT emits, in exact arithmetic (the wide case adds back).
        const t = (BigInt(x) * BigInt(r.m)) >> 32n;
        const q = r.is_wide_m ? (((BigInt(x) - t) >> 1n) + t) >> BigInt(r.sh - 1) : t >> BigInt(r.sh);
        expect(Number(q), `${x} / ${d}`).toBe(Math.floor(x / d));
      }
    }
  });

  it('shifts by a register below 32, from 32 up, across 32 (tested at run time), and by a constant', () => {
    const cases = [['r6 &= 31', 'lt32'], ['r6 &= 31\nr6 += 32', 'ge32'], ['r6 &= 63', 'straddle'], ['r6 = 5', 'const']];
    for (const [mask] of cases) {
      for (const amt of ['r1', 'r2', 'r3']) {
        agree(`${LOADS}\nr6 = ${amt}\n${mask}\nr0 = r5\nr0 <<= r6\nr7 = r5\nr7 >>= r6\nr8 = r5\nr8 s>>= r6\nr6 &= 31\nw1 <<= w6\nw2 >>= w6\nw3 = w5\nw3 s>>= w6\nr4 = r5\nr4 s>>= 40\nr5 <<= 33`);
      }
    }
  });

  it('byte swaps to big-endian of 16, 32 and 64 bits', () => {
    agree(`${LOADS}\nr0 = r5\nr0 = be16 r0\nr6 = r5\nr6 = be32 r6\nr7 = r5\nr7 = be64 r7\nr8 = r1\nr8 = be64 r8`);
  });

  it('every compare, 64 and 32 bits, against registers and (negative) immediates', () => {
    const conds = ['==', '!=', '>', '>=', '<', '<=', 's>', 's>=', 's<', 's<=', '&'];
    // Each outcome lands in its own packet byte, and the operands are loaded afresh (dead after the
    // compare), so the two paths join in equal states and the verifier prunes them.
    const ops: Record<string, string> = { a: 'r6 = *(u32 *)(r9 + 80)', b: 'r7 = *(u32 *)(r9 + 84)', c: 'r6 = *(u64 *)(r9 + 96)', d: 'r7 = *(u16 *)(r9 + 90)' };
    const lines: string[] = [`${LOADS}`];
    let n = 0;
    for (const c of conds) {
      for (const [la, lb, a, b] of [['a', 'b', 'r6', 'r7'], ['c', 'b', 'r6', 'r7'], ['a', 'd', 'w6', 'w7'], ['c', '', 'r6', '-5'], ['a', '', 'w6', '-2147483648'],
        ['c', '', 'r6', '0x7fffffff'], ['a', '', 'r6', '0'], ['c', '', 'w6', '-1']] as const) {
        lines.push(`${ops[la]}\n${lb === '' ? '' : `${ops[lb]}\n`}*(u8 *)(r9 + ${72 + n}) = 0\nif ${a} ${c} ${b} goto l${n}\n*(u8 *)(r9 + ${72 + n}) = 1\nl${n}:`);
        n++;
      }
    }
    lines.push('r6 = 0\nr7 = 0');
    agree(lines.join('\n'));
  });

  it('the stack at every size, offset and alignment, in the first 64 bytes and beyond, across 32-byte windows', () => {
    const lines: string[] = [LOADS];
    let i = 0;
    for (const off of [8, 12, 30, 33, 60, 63, 70, 94, 95, 100, 127, 200, 256, 300, 400, 500]) {
      for (const [size, type] of [[1, 'u8'], [2, 'u16'], [4, 'u32'], [8, 'u64']] as const) {
        if (off < size || (off % size) !== 0) continue;
        lines.push(`*(${type} *)(r10 - ${off}) = r5\nr${i % 7} = *(${type} *)(r10 - ${off})\nr5 += r1`);
        i++;
      }
    }
    lines.push('*(u64 *)(r10 - 64) = 0x1234\n*(u32 *)(r10 - 100) = -5\nr7 = *(u64 *)(r10 - 64)\nr8 = *(u32 *)(r10 - 100)');
    agree(lines.join('\n'));
  });

  it('packet reads through the cache (aligned, unaligned over two and three words) and writes of every size', () => {
    agree(`r0 = *(u64 *)(r9 + 81)\nr1 = *(u32 *)(r9 + 83)\nr2 = *(u16 *)(r9 + 87)\nr3 = *(u8 *)(r9 + 90)\nr4 = *(u64 *)(r9 + 92)
r5 = *(u64 *)(r9 + 122)\nr6 = *(u16 *)(r9 + 140)\n*(u8 *)(r9 + 100) = r0\n*(u16 *)(r9 + 101) = r1\n*(u32 *)(r9 + 103) = r2\n*(u64 *)(r9 + 107) = r5
*(u32 *)(r9 + 115) = 0x55aa\n*(u64 *)(r9 + 119) = -2\nr7 = *(u64 *)(r9 + 100)\nr8 = *(u64 *)(r9 + 113)`);
  });
});

describe('registers (jit.c: BPF rN in the pair 2n/2n+1, written to both banks; R10 never held)', () => {
  it('puts each 64-bit register in GPRs 2n (low) and 2n+1 (high) of bank A and bank B alike', () => {
    const value = (n: number): bigint => (BigInt(0x10203040 * n + 0x0a0b) << 32n) | BigInt(0x50607080 + 0x01010101 * n);
    const sets = [1, 2, 3, 4, 5, 6, 7, 8, 9].map((n) => `r${n} = 0x${value(n).toString(16)} ll`).join('\n');
    const l = nfpLoadAsm(h, `${sets}\nr0 = 2\nexit`);
    const r = new NfpRunner(h, l);
    for (const e of ['interpreter', 'js'] as const) {
      expect(r.run(e, FRAME).verdict).toBe(0x11);
      const x = r.core.contexts[0]!;
      // From r2 up: the XDP outro works in A0/A1 and B2 (jit.c nfp_outro_xdp), r0's and r1's GPRs.
      for (let n = 2; n <= 9; n++) {
        const got = [x.gprA[2 * n]! >>> 0, x.gprA[2 * n + 1]! >>> 0, x.gprB[2 * n]! >>> 0, x.gprB[2 * n + 1]! >>> 0];
        const lo = Number(value(n) & 0xffffffffn);
        const hi = Number(value(n) >> 32n);
        expect(got, `${e}: r${n}`).toEqual([lo, hi, lo, hi]);
      }
    }
  });

  it('gives R10 no register: a copy of it is the stack base (A22) plus the frame depth', () => {
    const l = nfpLoadAsm(h, 'r1 = 7\n*(u64 *)(r10 - 24) = r1\nr2 = r10\nr3 = r10\nr3 += -24\nr0 = 2\nexit');
    const depth = l.nfp_prog.stack_frame_depth;
    expect(depth).toBe(24);
    // The copy is computed (alu from A22 and the depth, immed 0 above), never moved from a register.
    const copy = l.nfp_prog.insns.findIndex((m) => m.insn.src === 10 && m.insn.dst === 2);
    const words = l.nfp_prog.prog.slice(l.nfp_prog.insns[copy]!.off, l.nfp_prog.insns[copy + 1]!.off);
    expect(words.map((w) => decodeWord(w & ~OP_RELO_TYPE).op)).toEqual(['alu', 'immed']);
    const r = new NfpRunner(h, l);
    for (const e of ['interpreter', 'js'] as const) {
      r.run(e, FRAME, 1); // context 1: its stack starts at 512, so the base is not 0
      const x = r.core.contexts[1]!;
      expect(x.gprA[22]).toBe(512);
      expect([x.gprA[4], x.gprA[5], x.gprB[4], x.gprB[5]], e).toEqual([512 + depth, 0, 512 + depth, 0]);
      expect([x.gprA[6], x.gprB[6]], e).toEqual([512 + depth - 24, 512 + depth - 24]);
      // The store went where that pointer points: LMEM is word-addressed, the u64 as two words.
      expect([r.core.lm[(512 + depth - 24) >> 2], r.core.lm[((512 + depth - 24) >> 2) + 1]], e).toEqual([7, 0]);
    }
  });
});

describe('the stack access cases (seed paper, "Stack Offload")', () => {
  /** Load `type` at `off` below a frame of `depth` bytes; returns the case and the load's own cycles. */
  function stackCase(depth: number, type: string, off: number): { kase: number; cycles: number; insns: number } {
    const pre = `r1 = 0x1122334455667788 ll\n*(u64 *)(r10 - ${depth}) = r1\n${Array.from({ length: depth / 8 }, (_, i) => `*(u64 *)(r10 - ${8 * (i + 1)}) = r1`).join('\n')}`;
    const withLoad = nfpLoadAsm(h, `${pre}\nr0 = *(${type} *)(r10 - ${off})\nexit`);
    const without = nfpLoadAsm(h, `${pre}\nr0 = r1\nexit`);
    const a = nfpRun(withLoad, FRAME);
    const b = nfpRun(without, FRAME);
    const idx = withLoad.nfp_prog.insns.findIndex((m) => m.op?.kind === 'ldx');
    const meta = withLoad.nfp_prog.insns[idx]!;
    const size = Number(type.slice(1)) / 8;
    const expected = BigInt.asUintN(size * 8, 0x1122334455667788n >> BigInt(8 * ((8 - (off % 8)) % 8)));
    expect(BigInt(a.r0)).toBe(expected & 0xffffffffn);
    // r0 = r1 is two instructions: the load's cycles are the difference plus those two.
    return { kase: meta.stack_case, cycles: a.busy - b.busy + 2, insns: withLoad.nfp_prog.insns[idx + 1]!.off - meta.off };
  }

  /**
   * The cycles of the load in `prog` (text with a `LOAD` line), measured as stackCase() does: the run
   * against the same program with R0 given the loaded value directly — a lddw, four immeds — so that
   * every other path, the outro's included, is the same.
   */
  function loadCycles(prog: string, load: string): number {
    const a = nfpRun(nfpLoadAsm(h, prog.replace('LOAD', load)), FRAME);
    const b = nfpRun(nfpLoadAsm(h, prog.replace('LOAD', 'r0 = 0x1122334455667788 ll')), FRAME);
    return a.busy - b.busy + 4;
  }

  it('1: constant offset in the frame\'s bottom 64 bytes — LM pointer 0 with an index, no set-up', () => {
    expect(stackCase(16, 'u64', 16)).toEqual({ kase: 1, cycles: 2, insns: 2 });
    expect(stackCase(16, 'u16', 14)).toEqual({ kase: 1, cycles: 2, insns: 2 }); // ld_field + the upper half cleared
  });

  it('2: one 32 B window beyond 64 — LM pointer 3 set (alu, CSR write, 3 NOPs), then indexed', () => {
    expect(stackCase(128, 'u64', 40)).toEqual({ kase: 2, cycles: 7, insns: 7 });
  });

  it('3: across a 32 B boundary beyond 64 — LM pointer 3 with post-increment', () => {
    // The verifier keeps stack accesses aligned and frames a multiple of 8 (grow_stack_state), so an
    // 8-byte access straddles a 32 B window only in a subprogram, whose nfp frame adds the 4-byte return
    // address: a 136 B frame is 140 on the NIC, and fp-16 is frame offset 124, bytes 124..131 across 128.
    const stores = Array.from({ length: 17 }, (_, i) => `*(u64 *)(r10 - ${8 * (i + 1)}) = r1`).join('\n');
    const l = nfpLoadAsm(h, `r1 = 0x1122334455667788 ll\ncall sub\nexit\nsub:\n${stores}\nr0 = *(u64 *)(r10 - 16)\nexit`);
    const idx = l.nfp_prog.insns.findIndex((m) => m.op?.kind === 'ldx');
    const meta = l.nfp_prog.insns[idx]!;
    expect(meta.stack_case).toBe(3);
    expect(l.nfp_prog.insns[idx + 1]!.off - meta.off).toBe(7);
    expect(nfpRun(l, FRAME).r0).toBe(0x55667788);
    // LM pointer 3 set (alu, CSR write, 3 NOPs), then a move with post-increment and one without.
    expect(loadCycles(`r1 = 0x1122334455667788 ll\ncall sub\nexit\nsub:\n${stores}\nLOAD\nexit`, 'r0 = *(u64 *)(r10 - 16)')).toBe(7);
  });

  it('4: a pointer whose offset differs between paths — LM pointer 3 from the register at run time', () => {
    const prog = `r1 = 0x1122334455667788 ll\n*(u64 *)(r10 - 8) = r1\n*(u64 *)(r10 - 16) = r1\ncall 7\nr2 = r10\nr2 += -8\nif r0 > 0 goto l1\nr2 += -8\nl1:\nr0 = *(u64 *)(r2 + 0)\nexit`;
    const l = nfpLoadAsm(h, prog);
    const meta = l.nfp_prog.insns.find((m) => m.op?.kind === 'ldx')!;
    expect(meta.ptr_not_const).toBe(true);
    expect(meta.stack_case).toBe(4);
    expect(nfpRun(l, FRAME).r0).toBe(0x55667788);
    // The pointer comes from the register at run time: the address computed, the CSR write, 3 NOPs,
    // then the two moves through it — code and cycles as case 3's, with no offset known.
    const idx = l.nfp_prog.insns.indexOf(meta);
    expect(l.nfp_prog.insns[idx + 1]!.off - meta.off).toBe(7);
    expect(loadCycles(prog.replace('r0 = *(u64 *)(r2 + 0)', 'LOAD'), 'r0 = *(u64 *)(r2 + 0)')).toBe(7);
  });

  it('5: a sub-word piece beyond the restricted operands\' reach (index > 7) goes through a GPR', () => {
    expect(stackCase(64, 'u16', 30)).toEqual({ kase: 5, cycles: 3, insns: 3 }); // word into imm_a, ld_field, clear
    expect(stackCase(64, 'u16', 62)).toEqual({ kase: 1, cycles: 2, insns: 2 }); // index 0: within reach
  });
});

describe('ALU32 zero-extension only where the verifier says the upper half is read (zext_dst)', () => {
  it('saves instructions on xdp_alu32 (-mcpu=v3) against clearing after every 32-bit result', async () => {
    const marked = await nfpLoadObject(h, 'xdp_alu32', 'xdp_alu32');
    const always = await nfpLoadObject(h, 'xdp_alu32', 'xdp_alu32', { jit: { zextAlways: true } });
    const saved = always.nfp_prog.prog_len - marked.nfp_prog.prog_len;
    // Every 32-bit result whose upper half the verifier found unread costs one immed less.
    const unread = marked.nfp_prog.insns.filter((m) => {
      const op = m.op;
      const narrow = (op?.kind === 'alu' && !op.alu64 && op.op !== 'mov' && op.op !== 'mul' && op.op !== 'div') || (op?.kind === 'ldx' && op.size < 8 && m.ptr.type !== 'ctx');
      return narrow && !(m.flags & (1 << 6)) && !(m.flags & 0x38);
    }).length;
    expect(saved).toBeGreaterThan(20);
    expect(saved).toBe(unread);
    // Both images give the same packets.
    for (const f of [pk.udp4Frame({ dstPort: 9 }), pk.tcp4Frame({ dstPort: 80 }), pk.udp4FrameOfLength(64)]) {
      const a = nfpRun(marked, f);
      const b = nfpRun(always, f);
      expect({ v: b.verdict, d: hex(b.data) }).toEqual({ v: a.verdict, d: hex(a.data) });
      expect(b.busy).toBeGreaterThanOrEqual(a.busy);
    }
  });
});

describe('BPF-to-BPF calls', () => {
  it('pass arguments and results, keep the caller\'s frame, save R6-R9 for a callee that writes them', () => {
    const l = agree(`${LOADS}\nr6 = r5\nr8 = r3\n*(u64 *)(r10 - 8) = r5\ncall add3\nr7 = r0\nr1 = r8\nr8 = *(u64 *)(r10 - 8)\ncall leaf\nr6 ^= r0\nr0 = r7\nr1 = r6\nr2 = r7\nr3 = r8\nr4 = r0\nr5 = 5`,
      'add3:\nr6 = 99\n*(u64 *)(r10 - 16) = r1\nr0 = r1\nr0 += r2\nr1 = *(u64 *)(r10 - 16)\nr0 += r1\nr0 += r6\nexit\nleaf:\nr0 = r1\nr0 *= 3\nexit');
    const p = l.nfp_prog;
    expect(p.subprog_cnt).toBe(3);
    expect(p.subprog.map((s) => s.needs_reg_push)).toEqual([true, true, false]);
    expect(p.tgt_call_push_regs).toBeGreaterThan(0);
  });

  it('a callee reads its caller\'s stack through a pointer argument', () => {
    agree(`${LOADS}\n*(u64 *)(r10 - 24) = r5\n*(u32 *)(r10 - 12) = r1\nr1 = r10\nr1 += -24\ncall rd\nr8 = r0\nr1 = 1\nr2 = 2\nr3 = 3\nr4 = 4\nr5 = 5`,
      'rd:\nr0 = *(u64 *)(r1 + 0)\nr2 = *(u32 *)(r1 + 12)\nr0 ^= r2\nexit');
  });
});

describe('adjust_head, adjust_tail, queue selection', () => {
  const frame = pk.udp4Frame({ dstPort: 53, payload: pk.patternPayload(40) });
  const head = (delta: number, extra = ''): string => `r6 = r1\nr2 = ${delta}\ncall 44\nif r0 != 0 goto bad\n${extra}
r2 = *(u32 *)(r6 + 0)\nr3 = *(u32 *)(r6 + 4)\nr4 = r2\nr4 += 14\nif r4 > r3 goto bad\nr5 = 0x0a0b0c0d\n*(u32 *)(r2 + 0) = r5\nr0 = 3\nexit\nbad:\nr0 = 1\nexit`;

  it('one call with a small constant takes the fast path; otherwise the checked one; both as the host', () => {
    const fast = nfpLoadAsm(h, head(-20));
    const slow = nfpLoadAsm(h, `r6 = r1\ncall 7\nr2 = -20\nif r0 > 0 goto l\nr2 = -24\nl:\nr1 = r6\n${head(-20).replace('r2 = -20\n', '')}`);
    expect(fast.nfp_prog.adjust_head_location).toBe(2);
    expect(slow.nfp_prog.adjust_head_location).toBe(0xffffffff);
    for (const [l, insns] of [[fast, assemble(head(-20))]] as const) {
      const r = nfpRun(l, frame);
      const host = hostRun(insns, frame);
      expect({ v: r.verdict, d: hex(r.data) }).toEqual({ v: 0x44, d: host.data });
    }
    // The firmware limits hold on the checked path: growing past the headroom fails with -EINVAL.
    const tooMuch = nfpLoadAsm(h, head(-100));
    expect(nfpRun(tooMuch, frame).verdict).toBe(0x22);
    expect(hostRun(assemble(head(-300)), frame).retval).toBe(1);
    // "5 vs 14 cycles": the fast path is the cheaper one.
    const cyc = (l: NfpLoaded): number => l.nfp_prog.insns[2]!.off;
    expect(cyc(fast)).toBeGreaterThan(0);
    const fastLen = fast.nfp_prog.insns[3]!.off - fast.nfp_prog.insns[2]!.off;
    const slowCall = slow.nfp_prog.insns.find((m) => m.insn.code === 0x85 && m.insn.imm === 44)!;
    const slowLen = slow.nfp_prog.insns[slowCall.n + 1]!.off - slowCall.off;
    expect({ fastLen, slowLen }).toEqual({ fastLen: 5, slowLen: 16 });
  });

  it('adjust_tail shrinks as the host does, never below ETH_HLEN; growing is refused on the NIC', () => {
    const text = (delta: number): string => `r6 = r1\nr2 = ${delta}\ncall 65\nr7 = r0\nr0 = 2\nif r7 == 0 goto out\nr0 = 1\nout:\nexit`;
    for (const delta of [-4, -30, -60]) {
      const r = nfpRun(nfpLoadAsm(h, text(delta)), frame);
      const host = hostRun(assemble(text(delta)), frame);
      expect({ v: r.verdict, d: hex(r.data) }, `delta ${delta}`).toEqual({ v: host.retval === 2 ? 0x11 : 0x22, d: host.data });
    }
    // The host grows a frame into its tailroom; the NFP JIT only shrinks (the add must overflow).
    expect(hostRun(assemble(text(4)), frame).retval).toBe(2);
    expect(nfpRun(nfpLoadAsm(h, text(4)), frame)).toMatchObject({ verdict: 0x22, data: frame });
  });

  it('a store to rx_queue_index selects the queue (too large: NFP_NET_RXR_MAX)', () => {
    for (const [q, val] of [[3, 3], [300, 64]]) {
      const r = nfpRun(nfpLoadAsm(h, `r2 = ${q}\n*(u32 *)(r1 + 16) = r2\nr0 = 2\nexit`), frame);
      expect(r.qsel).toEqual({ set: 1 << 4, val });
    }
  });
});

describe('outros and LD_ABS', () => {
  it('XDP: 0 aborts, 1 drops, 2 passes, 3 transmits, anything else aborts', () => {
    const got = [0, 1, 2, 3, 4, 1000, -1].map((v) => nfpRun(nfpLoadAsm(h, `r0 = ${v}\nexit`), FRAME).verdict);
    expect(got).toEqual([0x82, 0x22, 0x11, 0x44, 0x82, 0x82, 0x82]);
  });

  it('TC direct-action: SHOT drops, STOLEN/QUEUED drop quietly, the rest (UNSPEC, above 7) passes', () => {
    const got = [2, 4, 5, 8, 1000, -1].map((v) => nfpRun(nfpLoadAsm(h, `r0 = ${v}\nexit`, { progType: BPF_PROG_TYPE.SCHED_CLS }), FRAME).verdict);
    expect(got).toEqual([0x22, 0x02, 0x02, 0x11, 0x11, 0x11]);
  });

  it('LD_ABS/LD_IND read big-endian, bounds-checked: outside the packet the program aborts', () => {
    // The core verifier here refuses LD_ABS for every program type (the kernel takes it for TC), so
    // this drives prepare/finalize/translate without the walk.
    const text = `r6 = r1\nr0 = *(u16 *)skb[12]\nr0 &= 0xffff\nif r0 != 0x800 goto drop\nr7 = 14\nr0 = *(u8 *)skb[r7 + 9]\nif r0 != 17 goto drop\nr0 = *(u32 *)skb[30]\nif r0 != 0x0a000002 goto drop
r0 = *(u32 *)skb[r7 + 1400]\nr0 = 2\nexit\ndrop:\nr0 = 4\nexit`;
    const insns = assemble(text);
    const netdev = h.kernel.netdevs.dev_get_by_name('nfp0')!;
    const offload: NfpProgOffload = { offdev: h.nfp!.bpf!.bpf_dev, netdev, dev_priv: null, opt_failed: false, jited_image: null };
    const env = new VerifierEnv({ progType: BPF_PROG_TYPE.SCHED_CLS, expectedAttachType: 0, insns, ldImm: new Map(), gplCompatible: true, log: new VerifierLog(1, 1 << 20) });
    nfp_bpf_dev_ops.prepare(offload, env);
    nfp_bpf_dev_ops.finalize(offload, env);
    nfp_bpf_dev_ops.translate(offload);
    const p = nfp_prog_of(offload);
    expect(p.insns[2]!.flags & (1 << 4)).not.toBe(0); // the mask after LD_ABS is dropped (opt_ld_mask)
    const l: NfpLoaded = { nfp_prog: p, offload, log: '', maps: new Map() };
    // Everything matches until the read at 1414 (beyond a short packet): abort, which TC passes (0x11).
    expect(nfpRun(l, pk.udp4Frame({ dstPort: 9 })).verdict).toBe(0x11);
    expect(nfpRun(l, pk.tcp4Frame({ dstPort: 9 })).verdict).toBe(0x02);
    const inBounds = nfpRun({ ...l }, pk.udp4FrameOfLength(1514, { dstPort: 9 }));
    expect(inBounds.verdict).toBe(0x22);
  });
});

describe('relocation for a vNIC', () => {
  it('internal branches and code addresses move to BPF_START, exits go to BPF_DONE, helpers to their FUNC address', async () => {
    const l = await nfpLoadObject(h, 'xdp_l4lb', 'xdp_l4lb');
    const p = l.nfp_prog;
    const vnic = nfp_bpf_vnic_of(nfp_bar_of(l.offload.netdev));
    const relocated = p.relo_for_vnic(vnic);
    const kinds = new Set(p.prog.map(reloOf));
    expect([...kinds].sort()).toEqual([0, 1, 2, 3, 6, 7, 8].filter((x) => kinds.has(x)));
    p.prog.forEach((w, i) => {
      const x = decodeWord(relocated[i]!);
      const before = decodeWord(w & ~(0xffn << 56n));
      if (reloOf(w) === RELO_BR_NEXT_PKT) expect(x.op === 'br' && x.target).toBe(vnic.tgt_done);
      if (reloOf(w) === RELO_BR_HELPER) expect(x.op === 'br' && x.target).toBe(h.nfp!.bpf!.helpers.map_lookup);
      if (reloOf(w) === RELO_IMMED_REL && x.op === 'immed' && before.op === 'immed') expect(x.imm).toBe(before.imm + vnic.start_off);
      // No relocation byte is left and the ECC bits are set.
      expect(relocated[i]! >> 56n).toBe(0n);
    });
    expect(relocated.some((w) => (w >> 45n) !== 0n)).toBe(true);
  });
});
