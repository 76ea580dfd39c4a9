// The nfp device verifier hook: what the NIC refuses, each with the driver's exact "[nfp] " line in the
// verifier log (facts 4.1) and its errno, inside the one verifier walk — before the core's own check of
// the instruction, as the kernel calls it. Firmware without a capability (image variants) refuses the
// helpers that need it; the JIT's own refusals (the code store) come with the kernel log's lines.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BpfError } from '../../src/bpf/errno.js';
import { assemble } from '../../src/bpf/asm.js';
import { BPF_PROG_TYPE } from '../../src/bpf/prog-types.js';
import { nfp_bpf_opt_remove_insns, nfp_bpf_opt_replace_insn } from '../../src/drivers/nfp/verifier.js';
import { FLAG_INSN_SKIP_VERIFIER_OPT } from '../../src/drivers/nfp/prog.js';
import { VerifierLog } from '../../src/kernel/verifier/log.js';
import { VerifierEnv } from '../../src/kernel/verifier/verifier.js';
import { BPF_MAP_TYPE_ARRAY, imageVariant, offloadMap, removeImageVariants, u32 } from './helpers.js';
import { NfpLoadError, bootHost, nfpLoadAsm, nfpLoadObject, type NfpLoadOptions, type TestHost } from './nfp-run.js';

let h: TestHost;
let bare: TestHost;
let meta: TestHost;
let small: TestHost;

/** A firmware image without some capability records (by TLV type), or with the ADJUST_HEAD flags cleared. */
function variant(name: string, dropTypes: readonly number[], clearAdjustHeadFlags = false, maxLen?: number): string {
  return imageVariant('nfp-bpf-60c', (doc) => {
    doc['name'] = name;
    const rtsym = doc['rtsym'] as Record<string, unknown>;
    let caps = rtsym['_abi_bpf_capabilities'] as string[];
    caps = caps.filter((r) => !dropTypes.some((t) => r.startsWith(`0${t}000000`)));
    if (clearAdjustHeadFlags) caps = caps.map((r) => (r.startsWith('02000000') ? r.replace('14000000  01000000', '14000000  00000000') : r));
    rtsym['_abi_bpf_capabilities'] = caps;
    if (maxLen !== undefined) ((doc['vnic'] as Record<string, unknown>)['bpf'] as Record<string, unknown>)['max_len'] = maxLen;
  });
}

beforeAll(async () => {
  h = await bootHost();
  bare = await bootHost({ firmware: variant('nfp-bpf-bare', [1, 2, 4, 5, 6]) });
  meta = await bootHost({ firmware: variant('nfp-bpf-meta', [], true) });
  small = await bootHost({ firmware: variant('nfp-bpf-small', [], false, 40) });
});
afterAll(async () => {
  for (const x of [h, bare, meta, small]) await x?.shutdown();
  removeImageVariants();
});

function refused(host: TestHost, text: string, opts: NfpLoadOptions = {}): NfpLoadError {
  try {
    nfpLoadAsm(host, text, opts);
  } catch (e) {
    if (e instanceof NfpLoadError) return e;
    throw e;
  }
  throw new Error('the NIC accepted the program');
}

/** The load fails with `errno` and the log has exactly this [nfp] line. */
function expectNfp(host: TestHost, text: string, errno: string, line: string, opts: NfpLoadOptions = {}): NfpLoadError {
  const e = refused(host, text, opts);
  expect(e.log).toContain(`[nfp] ${line}\n`);
  expect(e.errno, e.log).toBe(errno);
  return e;
}

const lookupR0 = (fd: number): string => `
r1 = 0
*(u32 *)(r10 - 4) = r1
r2 = r10
r2 += -4
ld_pseudo r1, 1, ${fd}
call 1
if r0 == 0 goto out
`;
const out = '\nout:\nr0 = 2\nexit';

describe('the opcode table and registers', () => {
  it('refuses instructions the JIT has no code for, before the core looks at them', () => {
    expectNfp(h, 'r0 = 7\nr0 %= 3\nexit', 'EINVAL', 'instruction 0x97 not supported');
    expectNfp(h, 'r0 = 7\nr0 = le16 r0\nexit', 'EINVAL', 'instruction 0xd4 not supported');
    expectNfp(h, 'r0 = 7\nr0 = bswap16 r0\nexit', 'EINVAL', 'instruction 0xd7 not supported');
    expectNfp(h, 'gotol +0\nr0 = 2\nexit', 'EINVAL', 'instruction 0x6 not supported');
    // movsx shares its opcode byte with mov: the kernel's byte-indexed table would take it as a mov.
    expectNfp(h, 'r1 = 1\nr0 = (s8)r1\nexit', 'EINVAL', 'instruction 0xbf not supported');
  });

  it('refuses helpers the NIC does not have', () => {
    expectNfp(h, 'call 5\nr0 = 2\nexit', 'EOPNOTSUPP', 'unsupported function id: 5');
    expectNfp(h, 'r2 = 1\ncall 23\nr0 = 2\nexit', 'EOPNOTSUPP', 'unsupported function id: 23');
  });
});

describe('map helpers', () => {
  it('want a constant, 4-byte aligned stack pointer for the key', async () => {
    const fd = await offloadMap(h);
    expectNfp(h, `r2 = 0\nld_pseudo r1, 1, ${fd}\ncall 1${out}`, 'EOPNOTSUPP', 'map_lookup: unsupported ptr type 1');
    expectNfp(h, `r2 = r10\nr2 += -6\nld_pseudo r1, 1, ${fd}\ncall 1${out}`, 'EOPNOTSUPP', 'map_lookup: unaligned stack pointer 6');
    expectNfp(h, `call 7\nr0 &= 7\nr2 = r10\nr2 += -16\nr2 += r0\nld_pseudo r1, 1, ${fd}\ncall 3${out}`, 'EOPNOTSUPP', 'map_delete: variable pointer');
  });

  it('keep atomic counters zero-initialised: an update from the program may not write them', async () => {
    const fd = await offloadMap(h);
    expectNfp(h, `${lookupR0(fd)}r1 = 1\nlock *(u64 *)(r0 + 0) += r1
r1 = 5\n*(u64 *)(r10 - 16) = r1\nr2 = r10\nr2 += -4\nr3 = r10\nr3 += -16\nr4 = 0\nld_pseudo r1, 1, ${fd}\ncall 2${out}`,
    'EOPNOTSUPP', 'value at offset 0/15 may be non-zero, bpf_map_update_elem() is required to initialize atomic counters to zero to avoid offload endian issues');
  });

  it('refuse a counter the host has set to a value that is not byte-swap neutral', async () => {
    const fd = await offloadMap(h, { map_type: BPF_MAP_TYPE_ARRAY, max_entries: 4 });
    await h.sys.mapUpdateAsync({ map_fd: fd, key: u32(1), value: Uint8Array.of(1, 0, 0, 0, 0, 0, 0, 0) });
    expectNfp(h, `${lookupR0(fd)}r1 = 1\nlock *(u32 *)(r0 + 0) += r1${out}`, 'EOPNOTSUPP', 'atomic counter in map value may already be initialized to non-zero value off: 0');
  });

  it('track how each value word is used: read, never written, or an atomic counter', async () => {
    let fd = await offloadMap(h);
    expectNfp(h, `${lookupR0(fd)}r1 = 1\nlock *(u64 *)(r0 + 0) += r1\nr1 = *(u32 *)(r0 + 4)${out}`, 'EOPNOTSUPP', 'map value use type conflict atomic vs read off: 4');
    fd = await offloadMap(h);
    expectNfp(h, `${lookupR0(fd)}r1 = 1\n*(u32 *)(r0 + 0) = r1${out}`, 'EOPNOTSUPP', 'map writes not supported');
    expectNfp(h, `${lookupR0(fd)}r1 = *(u64 *)(r0 + 8)${out}`, 'EINVAL', 'map value access out-of-bounds');
    expectNfp(h, `${lookupR0(fd)}r6 = r0\ncall 7\nr0 &= 4\nr6 += r0\nr1 = *(u32 *)(r6 + 0)${out}`, 'EOPNOTSUPP', 'map value offset is variable');
  });

  it('take atomic adds only to map values, of scalars, and only add', async () => {
    const fd = await offloadMap(h);
    expectNfp(h, 'r1 = 0\n*(u64 *)(r10 - 8) = r1\nr1 = 1\nlock *(u64 *)(r10 - 8) += r1\nr0 = 2\nexit', 'EOPNOTSUPP', 'atomic add not to a map value pointer: 6');
    expectNfp(h, `${lookupR0(fd)}r1 = 1\nr1 = atomic_fetch_add((u64 *)(r0 + 0), r1)${out}`, 'EOPNOTSUPP', 'atomic op not implemented: 1');
    expectNfp(h, `${lookupR0(fd)}lock *(u64 *)(r0 + 0) += r10${out}`, 'EOPNOTSUPP', 'atomic add not of a scalar: 6');
  });
});

describe('pointers, stack and context', () => {
  it('loads and stores go through the context, the stack, a map value or the packet only', () => {
    expectNfp(h, 'r2 = *(u32 *)(r1 + 4)\nr0 = *(u8 *)(r2 + 0)\nr0 = 2\nexit', 'EINVAL', 'unsupported ptr type: 9');
    expectNfp(h, 'r0 = *(u32 *)(r1 + 12)\nr0 = 2\nexit', 'EOPNOTSUPP', 'unsupported load from context field at offset 12 size 4');
    expectNfp(h, 'r2 = 0\n*(u32 *)(r1 + 0) = r2\nr0 = 2\nexit', 'EOPNOTSUPP', 'unsupported store to context field');
    expectNfp(h, '*(u32 *)(r1 + 16) = 1\nr0 = 2\nexit', 'EOPNOTSUPP', 'unsupported store to context field');
  });

  it('one instruction sees one pointer type on every path', () => {
    const e = refused(h, `r6 = *(u32 *)(r1 + 0)\nr7 = *(u32 *)(r1 + 4)\nr8 = r6\nr8 += 8\nif r8 > r7 goto out
r1 = 0\n*(u64 *)(r10 - 8) = r1\ncall 7\nr9 = r10\nr9 += -8\nif r0 > 100 goto l1\nr9 = r6\nl1:\nr0 = *(u32 *)(r9 + 0)${out}`);
    expect(e.errno).toBe('EINVAL');
    expect(e.log).toMatch(/\[nfp\] ptr type changed for instruction (8 -> 6|6 -> 8)\n/);
  });

  it('stack pointers are constant, and where they differ between paths they agree modulo 4', () => {
    expectNfp(h, 'r1 = 0\n*(u64 *)(r10 - 16) = r1\n*(u64 *)(r10 - 8) = r1\ncall 7\nr0 &= 7\nr2 = r10\nr2 += -16\nr2 += r0\nr0 = *(u8 *)(r2 + 0)\nr0 = 2\nexit',
      'EINVAL', 'variable ptr stack access');
    const e = refused(h, 'r1 = 0\n*(u64 *)(r10 - 8) = r1\ncall 7\nr2 = r10\nr2 += -8\nif r0 > 100 goto l1\nr2 = r10\nr2 += -6\nl1:\nr0 = *(u8 *)(r2 + 0)\nr0 = 2\nexit');
    expect(e.errno).toBe('EINVAL');
    expect(e.log).toMatch(/\[nfp\] stack access changed location was:(-6 is:-8|-8 is:-6)\n/);
    // The same alignment is fine (the JIT computes the address at run time).
    expect(() => nfpLoadAsm(h, 'r1 = 0\n*(u64 *)(r10 - 16) = r1\n*(u64 *)(r10 - 8) = r1\ncall 7\nr2 = r10\nr2 += -8\nif r0 > 100 goto l1\nr2 = r10\nr2 += -12\nl1:\nr0 = *(u8 *)(r2 + 0)\nr0 = 2\nexit')).not.toThrow();
  });

  it('sizes the stack over the call graph, each frame 64 B aligned with its return address', () => {
    const prog = 'r1 = 0\n*(u64 *)(r10 - 480) = r1\ncall sub\nr0 = 2\nexit\nsub:\nr1 = 0\n*(u64 *)(r10 - 32) = r1\nr0 = 0\nexit';
    expectNfp(h, prog, 'EOPNOTSUPP', 'stack too large: program 576B > FW stack 512B');
    const l = nfpLoadAsm(h, prog.replace('r10 - 480', 'r10 - 400'));
    expect(l.nfp_prog.stack_size).toBe(448 + 64);
  });
});

describe('multiplication and division', () => {
  it('want u32 operands and a constant divisor', () => {
    expectNfp(h, 'r1 = 0x100000000 ll\nr1 *= 3\nr0 = 2\nexit', 'EINVAL', 'multiplier is not within u32 value range');
    expectNfp(h, 'r1 = 3\nr2 = 0x100000000 ll\nr1 *= r2\nr0 = 2\nexit', 'EINVAL', 'multiplicand is not within u32 value range');
    expectNfp(h, 'r1 = 3\nr1 *= -3\nr0 = 2\nexit', 'EINVAL', "sign extended multiplicand won't be within u32 value range");
    expect(() => nfpLoadAsm(h, 'w1 = 3\nw1 *= -3\nr0 = 2\nexit')).not.toThrow();
    expectNfp(h, 'r1 = 0x100000000 ll\nr1 /= 3\nr0 = 2\nexit', 'EINVAL', 'dividend is not within u32 value range');
    expectNfp(h, 'call 7\nr2 = r0\nr1 = 10\nr1 /= r2\nr0 = 2\nexit', 'EINVAL', 'divisor is not constant');
    expectNfp(h, 'r1 = 10\nr2 = 0x100000000 ll\nr1 /= r2\nr0 = 2\nexit', 'EINVAL', 'divisor is not within u32 value range');
    expectNfp(h, 'r1 = 10\nr1 /= -3\nr0 = 2\nexit', 'EINVAL', 'divide by negative constant is not supported');
  });
});

describe('TC exits', () => {
  const tc = { progType: BPF_PROG_TYPE.SCHED_CLS };
  it('need a constant return code the NIC can report to TC', () => {
    expectNfp(h, 'r0 = r10\nexit', 'EINVAL', 'unsupported exit state: 6, var_off: (0; 0)', tc);
    expectNfp(h, 'r0 = 0\nexit', 'EINVAL', 'unsupported exit state: 1, imm: 0', tc);
    expectNfp(h, 'r0 = 7\nexit', 'EINVAL', 'unsupported exit state: 1, imm: 7', tc);
    for (const ok of [2, 4, 5, 8, -1]) expect(() => nfpLoadAsm(h, `r0 = ${ok}\nexit`, tc), `TC return ${ok}`).not.toThrow();
  });
});

describe('perf_event_output', () => {
  const perf = (host: TestHost): number => host.sys.mapCreate({ map_type: 4, key_size: 4, value_size: 4, max_entries: 2, map_name: 'events' });
  const prog = (fd: number, flags: string, data: string): string =>
    `r6 = 0\n*(u64 *)(r10 - 8) = r6\n${flags}\n${data}\nr5 = 8\nld_pseudo r2, 1, ${fd}\ncall 25\nr0 = 2\nexit`;
  it('wants BPF_F_CURRENT_CPU and data on the stack, in a map value or in the packet, and warns', () => {
    const fd = perf(h);
    expectNfp(h, prog(fd, 'r3 = 0', 'r4 = r10\nr4 += -8'), 'EOPNOTSUPP', 'event_output: must use BPF_F_CURRENT_CPU, var_off: (0; 0)');
    expectNfp(h, prog(fd, 'r3 = 0xffffffff ll', 'r4 = r1'), 'EOPNOTSUPP', 'event_output: unsupported ptr type: 2');
    const l = nfpLoadAsm(h, prog(fd, 'r3 = 0xffffffff ll', 'r4 = r10\nr4 += -8'), { logLevel: 2 });
    expect(l.log).toContain('[nfp] warning: return codes and behavior of event_output helper differ for offload!\n');
    expect(h.dmesg.has('bpf: note: return codes and behavior of bpf_event_output() helper differs for offloaded programs!')).toBe(true);
  });
});

describe('what the firmware advertises', () => {
  it('refuses helpers a firmware without the capability cannot run', async () => {
    expectNfp(bare, 'r2 = -14\ncall 44\nr0 = 2\nexit', 'EOPNOTSUPP', 'adjust_head not supported by FW');
    expectNfp(meta, 'r2 = -14\ncall 44\nr0 = 2\nexit', 'EOPNOTSUPP', 'adjust_head: FW requires shifting metadata, not supported by the driver');
    expectNfp(bare, 'r2 = -14\ncall 65\nr0 = 2\nexit', 'EOPNOTSUPP', 'adjust_tail not supported by FW');
    expectNfp(bare, 'call 7\nr0 = 2\nexit', 'EOPNOTSUPP', "bpf_get_prandom_u32(): FW doesn't support random number generation");
    expectNfp(bare, 'r2 = 3\n*(u32 *)(r1 + 16) = r2\nr0 = 2\nexit', 'EOPNOTSUPP', 'queue selection not supported by FW');
    const fd = await offloadMap(bare);
    expectNfp(bare, lookupR0(fd) + out, 'EOPNOTSUPP', 'map_lookup: not supported by FW');
    expectNfp(bare, `r1 = 0\n*(u64 *)(r10 - 16) = r1\n*(u32 *)(r10 - 4) = r1\nr2 = r10\nr2 += -4\nr3 = r10\nr3 += -16\nr4 = 0\nld_pseudo r1, 1, ${fd}\ncall 2${out}`, 'EOPNOTSUPP', 'map_update: not supported by FW');
    expectNfp(bare, `r1 = 0\n*(u32 *)(r10 - 4) = r1\nr2 = r10\nr2 += -4\nld_pseudo r1, 1, ${fd}\ncall 3${out}`, 'EOPNOTSUPP', 'map_delete: not supported by FW');
    const pfd = bare.sys.mapCreate({ map_type: 4, key_size: 4, value_size: 4, max_entries: 2, map_name: 'events' });
    expectNfp(bare, `r3 = 0xffffffff ll\nr4 = 0\nr5 = 0\nld_pseudo r2, 1, ${pfd}\ncall 25\nr0 = 2\nexit`, 'EOPNOTSUPP', 'event_output: not supported by FW');
  });

  it('a map of another device or of the host is refused with the core verifier\'s line', () => {
    const fd = h.sys.mapCreate({ map_type: BPF_MAP_TYPE_ARRAY, key_size: 4, value_size: 8, max_entries: 4, map_name: 'host' });
    const e = refused(h, lookupR0(fd) + out);
    expect(e.errno).toBe('EINVAL');
    expect(e.log).toContain('offload device mismatch between prog and map\n');
  });
});

describe('the JIT', () => {
  it('fills the code store no further than BPF_MAX_LEN: ENOSPC, with the kernel log lines', async () => {
    try {
      await nfpLoadObject(small, 'xdp_drop_udp9', 'xdp_drop_udp9');
      throw new Error('loaded');
    } catch (e) {
      expect(e).toBeInstanceOf(BpfError);
      expect((e as BpfError).errno).toBe('ENOSPC');
      expect((e as BpfError).message).toContain('instruction limit reached (40 NFP instructions)');
    }
    expect(small.dmesg.has('NFP net bpf: instruction limit reached (40 NFP instructions)')).toBe(true);
    expect(small.dmesg.text()).toMatch(/NFP net bpf: Translation failed with error -28 \(translated: \d+\)/);
  });

  it('xdp_big passes the hook (nothing in it the NIC refuses) and is too big for the code store', async () => {
    const e = await nfpLoadObject(h, 'xdp_big', 'xdp_big').then(() => undefined, (x: unknown) => x as NfpLoadError);
    expect(e?.errno).toBe('ENOSPC');
    expect(e?.message).toContain('instruction limit reached (7936 NFP instructions)');
    expect(e?.log).not.toContain('[nfp]');
  });
});

describe('test/progs the NIC refuses', () => {
  const cases: [string, string, string, string][] = [
    ['xdp_misc', 'xdp_misc', 'EOPNOTSUPP', '[nfp] unsupported function id: 8'],
    ['xdp_meta', 'xdp_meta_mark', 'EOPNOTSUPP', '[nfp] unsupported function id: 54'],
    ['xdp_fib', 'xdp_fib_fwd', 'EOPNOTSUPP', '[nfp] unsupported load from context field at offset 12 size 4'],
    ['xdp_redirect', 'xdp_redirect_ifindex', 'EINVAL', '[nfp] instruction 0x18 not supported'],
    ['xdp_subprog', 'xdp_subprog', 'EINVAL', '[nfp] instruction 0x18 not supported'],
    // Maps the NIC cannot hold stay on the host, where an offloaded program may not use them.
    ['xdp_counter', 'xdp_count', 'EINVAL', 'offload device mismatch between prog and map'],
    ['xdp_tailcall', 'xdp_tail_entry', 'EINVAL', 'offload device mismatch between prog and map'],
    ['xdp_flowtable', 'xdp_flowtable', 'EINVAL', 'offload device mismatch between prog and map'],
  ];
  for (const [obj, prog, errno, line] of cases) {
    it(`${obj}/${prog}: ${line}`, async () => {
      const e = await nfpLoadObject(h, obj, prog).then(() => undefined, (x: unknown) => x as NfpLoadError);
      expect(e?.errno).toBe(errno);
      expect(e?.log).toContain(`${line}\n`);
    });
  }
});

describe('the verifier\'s dead-code rewrites', () => {
  it('accepts hard-wiring a conditional jump to its own target or to the next instruction, nothing else', () => {
    const l = nfpLoadAsm(h, 'r0 = 2\nif r0 > 1 goto l1\nr0 = 1\nl1:\nexit');
    const env = new VerifierEnv({ progType: 6, expectedAttachType: 0, insns: assemble('r0 = 2\nexit'), ldImm: new Map(), gplCompatible: true, log: new VerifierLog(1, 4096) });
    const p = l.nfp_prog;
    expect(() => nfp_bpf_opt_replace_insn(p, env, 1, { code: 0x05, dst: 0, src: 0, off: 1, imm: 0 })).not.toThrow();
    expect(() => nfp_bpf_opt_replace_insn(p, env, 1, { code: 0x05, dst: 0, src: 0, off: 0, imm: 0 })).not.toThrow();
    expect(p.insns[1]!.jmp_dst?.n).toBe(2);
    expect(() => nfp_bpf_opt_replace_insn(p, env, 1, { code: 0x05, dst: 0, src: 0, off: 1, imm: 0 })).toThrow(/branch hard wire at 1 changes target 2 -> 3/);
    expect(() => nfp_bpf_opt_replace_insn(p, env, 0, { code: 0xb7, dst: 0, src: 0, off: 0, imm: 3 })).toThrow(/unsupported instruction replacement b7 -> b7/);
    expect(env.log.text()).toContain('[nfp] branch hard wire at 1 changes target 2 -> 3\n');
    nfp_bpf_opt_remove_insns(p, env, 2, 1);
    expect(p.insns[2]!.flags & FLAG_INSN_SKIP_VERIFIER_OPT).not.toBe(0);
  });

  it('a branch the verifier proves never taken is hard-wired and its dead side emits nothing', () => {
    // opt_hard_wire_dead_code_branches() goes by which successor the walk never saw: here l1's code.
    const live = nfpLoadAsm(h, 'r0 = 2\nif r0 > 5 goto l1\nr0 = 1\nexit\nl1:\nr0 = 3\nexit');
    const branchy = nfpLoadAsm(h, 'call 7\nif r0 > 5 goto l1\nr0 = 1\nl1:\nr0 = 2\nexit');
    expect(live.nfp_prog.insns[1]!.flags & FLAG_INSN_SKIP_VERIFIER_OPT).not.toBe(0);
    expect(branchy.nfp_prog.insns[1]!.flags & FLAG_INSN_SKIP_VERIFIER_OPT).toBe(0);
  });
});
