// Tail calls on the NIC and partial offload, piece by piece — nfp-emu's PAPER-ONLY model of the seed
// paper's future work (upstream nfp refuses PROG_ARRAY and bpf_tail_call): the TAIL_CALL capability,
// the kernel's gate for prog arrays on a device and their update rules, the verifier hook's refusals,
// the JIT's sequence and what a tail call costs on the cores, linking into the code store (ENOSPC, the
// second bank), a test run, and the resume word of a tail call into a host program.

import { afterAll, describe, expect, it } from 'vitest';
import { assemble } from '../../src/bpf/asm.js';
import { runBpftool, syscallFor } from '../../src/cli/bpftool/main.js';
import { NfpAppBpf, NfpLog, nfp_bpf_parse_capabilities } from '../../src/drivers/nfp/main.js';
import { nfp_resume_decode } from '../../src/drivers/nfp/tail_call.js';
import { XDP_FLAGS_HW_MODE, rtnl_setlink_xdp } from '../../src/kernel/net/dev-xdp.js';
import { BPF_PROG_TYPE_XDP, type ProgLoadAttr } from '../../src/kernel/syscall.js';
import { NFP_MEM_LATENCY, NFP_RESUME_VALID, NFP_TC_ENTRY_HOST, NFP_XBANK_BRANCH_PENALTY } from '../../src/nic/isa.js';
import { loadImage } from '../../src/nic/core.js';
import { NfpJsEngine } from '../../src/nic/exec-js.js';
import { startNicDatapath, type NicDatapath } from '../../src/scenario/nic.js';
import pino from 'pino';
import * as pk from '../oracle/packets.js';
import { bootHost, expectErrno, imageVariant, removeImageVariants, tlv, u32, type TestHost } from './helpers.js';

const BPF_MAP_TYPE_PROG_ARRAY = 3;
const BPF_PROG_TYPE_SCHED_CLS = 3;
const XDP_DROP = 1;
const XDP_PASS = 2;
const XDP_TX = 3;

afterAll(() => removeImageVariants());

interface Rig {
  readonly h: TestHost;
  readonly nic: NicDatapath;
  stop(): Promise<void>;
}

/** A host with the NIC's cores in-process (deterministic), on `firmware` (default: the shipped 60-core image). */
async function rig(firmware?: string): Promise<Rig> {
  const h = await bootHost(firmware !== undefined ? { firmware } : {});
  const nic = (await startNicDatapath(h, { mode: 'in-process' }))!;
  return { h, nic, stop: async () => { await nic.stop(); await h.shutdown(); } };
}

/** A PROG_ARRAY on nfp0, or on the host (`host`). */
function progArray(h: TestHost, entries = 4, host = false): Promise<number> {
  return h.sys.mapCreateAsync({
    map_type: BPF_MAP_TYPE_PROG_ARRAY, key_size: 4, value_size: 4, max_entries: entries, map_name: 'jmp', ...(host ? {} : { map_ifindex: h.ifindex }),
  });
}

/** BPF_PROG_LOAD of assembly, for nfp0 unless `host`; the verifier log in `attr.log_buf` on failure. */
function load(h: TestHost, text: string, opts: { host?: boolean; type?: number; attr?: Partial<ProgLoadAttr> } = {}): Promise<number> {
  return h.sys.progLoadAsync({
    prog_type: opts.type ?? BPF_PROG_TYPE_XDP, insns: assemble(text), license: 'GPL', log_level: 1, log_size: 1 << 20,
    ...(opts.host === true ? {} : { prog_ifindex: h.ifindex }), ...opts.attr,
  });
}

function update(h: TestHost, map: number, index: number, prog: number, flags = 0): Promise<void> {
  return h.sys.mapUpdateAsync({ map_fd: map, key: u32(index), value: u32(prog), flags });
}

/** Tail call through `map` slot `slot`; falls through to `ret`. */
const caller = (map: number, slot: number, ret = XDP_DROP): string => `r2 = 0
ld_pseudo r2, 1, ${map}
r3 = ${slot}
call 12
r0 = ${ret}
exit`;
const ret = (v: number): string => `r0 = ${v}\nexit`;

async function attach(h: TestHost, fd: number): Promise<void> {
  await rtnl_setlink_xdp(h.kernel, h.kernel.netdevs.dev_get_by_name('nfp0')!, { fd, flags: XDP_FLAGS_HW_MODE });
}

function bpftool(h: TestHost) {
  return async (cmd: string): Promise<{ status: number; stdout: string; stderr: string }> => {
    let stdout = '';
    let stderr = '';
    const status = await runBpftool(cmd.split(/\s+/), {
      kernel: h.kernel, sys: syscallFor(h.kernel), stdout: { write: (s: string) => { stdout += s; } }, stderr: { write: (s: string) => { stderr += s; } },
    });
    return { status, stdout, stderr };
  };
}

// ---------------------------------------------------------------------------------------------------

describe('the TAIL_CALL capability (paper-only)', () => {
  const parse = (caps: string): { bpf: NfpAppBpf; log: string[] } => {
    const log: string[] = [];
    const logger = pino({ level: 'debug' }, { write: (s: string) => { log.push((JSON.parse(s) as { msg: string }).msg); } });
    const bpf = new NfpAppBpf(new NfpLog(logger, 'tc'));
    const bytes = Uint8Array.from(Buffer.from(caps.replace(/\s+/g, ''), 'hex'));
    nfp_bpf_parse_capabilities(bpf, bytes);
    return { bpf, log };
  };

  it('the production images advertise it (the 70-core one with a second code-store bank); the older ones do not, and keep the real refusal', async () => {
    for (const [fw, bank] of [['nfp-bpf-60c', 0], ['nfp-bpf-70c', 8192]] as const) {
      const h = await bootHost({ firmware: fw });
      try {
        expect(h.nfp!.bpf!.tail_call).toEqual({ supported: true, partial: true, table_off: 0x200000, table_slots: 4096, link_off: 0x204000, max_links: 256, bank_insns: bank });
        expect(h.nfp!.bpf!.bpf_dev.prog_array_offload).toBe(true);
      } finally {
        await h.shutdown();
      }
    }
    const h = await bootHost({ firmware: 'nfp-bpf-40c' });
    try {
      expect(h.nfp!.bpf!.tail_call.supported).toBe(false);
      await expectErrno(progArray(h), 'EINVAL', 'only array and hash maps can be offloaded, not prog_array');
    } finally {
      await h.shutdown();
    }
  });

  it('a malformed record leaves the capability off with the driver\'s line', () => {
    const short = parse(tlv(0x100, 1, 0x200000, 16));
    expect(short.bpf.tail_call.supported).toBe(false);
    expect(short.log).toContain('nfp tc: truncated tail call TLV: 12');
    const odd = parse(tlv(0x100, 1, 0x200002, 16, 0x204000, 8, 0));
    expect(odd.bpf.tail_call.supported).toBe(false);
    expect(odd.log.some((l) => l.includes('invalid tail call TLV: table of 16 slots at 0x200002'))).toBe(true);
    const good = parse(tlv(0x100, 0, 0x1000, 16, 0x2000, 8, 0));
    expect(good.bpf.tail_call).toMatchObject({ supported: true, partial: false, table_slots: 16 });
  });
});

describe('a PROG_ARRAY on nfp0: the kernel\'s rules for its elements', () => {
  it('BPF_ANY only, E2BIG past the end, fds that are programs; ids out, ENOENT for empty slots; a host array refuses a device program', async () => {
    const { h, stop } = await rig();
    try {
      const jmp = await progArray(h);
      expect(h.sys.mapInfo(jmp)).toMatchObject({ type: BPF_MAP_TYPE_PROG_ARRAY, ifindex: h.ifindex });
      const target = await load(h, ret(XDP_PASS));
      await expectErrno(update(h, jmp, 0, target, 2), 'EINVAL', 'only take BPF_ANY');
      await expectErrno(update(h, jmp, 4, target), 'E2BIG', 'index 4 is out of range (max_entries 4)');
      await expectErrno(update(h, jmp, 0, jmp), 'EINVAL', 'is not a program');
      await expectErrno(update(h, jmp, 0, 999), 'EBADF');
      await expectErrno(h.sys.mapLookupAsync({ map_fd: jmp, key: u32(0) }), 'ENOENT');
      await update(h, jmp, 2, target);
      const id = h.sys.progInfo(target).id;
      expect(new DataView((await h.sys.mapLookupAsync({ map_fd: jmp, key: u32(2) })).buffer).getUint32(0, true)).toBe(id);
      // get_next_key walks every index (an array), lookups of the empty ones are ENOENT.
      const keys: number[] = [];
      for (let k: Uint8Array | null = null; ;) {
        try {
          k = await h.sys.mapGetNextKeyAsync({ map_fd: jmp, key: k });
        } catch {
          break;
        }
        keys.push(new DataView(k.buffer).getUint32(0, true));
      }
      expect(keys).toEqual([0, 1, 2, 3]);
      // The first program stored made the array XDP's: a TC program is refused.
      const tc = await load(h, ret(2 /* TC_ACT_SHOT */), { type: BPF_PROG_TYPE_SCHED_CLS });
      await expectErrno(update(h, jmp, 1, tc), 'EINVAL', `is of type ${BPF_PROG_TYPE_SCHED_CLS}; the array holds programs of type 6`);
      await expectErrno(h.sys.mapDeleteAsync({ map_fd: jmp, key: u32(1) }), 'ENOENT');
      await expectErrno(h.sys.mapDeleteAsync({ map_fd: jmp, key: u32(9) }), 'E2BIG');
      await h.sys.mapDeleteAsync({ map_fd: jmp, key: u32(2) });
      await expectErrno(h.sys.mapLookupAsync({ map_fd: jmp, key: u32(2) }), 'ENOENT');
      // Upstream (bpf_prog_map_compatible, 6.3+): a program bound to a device stays out of host arrays.
      const hostJmp = await progArray(h, 4, true);
      await expectErrno(update(h, hostJmp, 0, target), 'EINVAL', `program ${id} is bound to a device`);
    } finally {
      await stop();
    }
  });

  it('bpftool map dump shows the program ids of the filled slots, as for any prog array', async () => {
    const { h, stop } = await rig();
    try {
      const jmp = await progArray(h);
      const a = await load(h, ret(XDP_PASS));
      const b = await load(h, ret(XDP_DROP));
      await update(h, jmp, 0, a);
      await update(h, jmp, 3, b);
      h.sys.objPin(jmp, '/sys/fs/bpf/tc_jmp');
      const le = (n: number): string => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24].map((x) => x.toString(16).padStart(2, '0')).join(' ');
      const dump = await bpftool(h)('map dump pinned /sys/fs/bpf/tc_jmp');
      expect(dump.status).toBe(0);
      expect(dump.stdout).toBe(`key: 00 00 00 00  value: ${le(h.sys.progInfo(a).id)}\nkey: 03 00 00 00  value: ${le(h.sys.progInfo(b).id)}\nFound 2 elements\n`);
      const show = await bpftool(h)('map show pinned /sys/fs/bpf/tc_jmp');
      expect(show.stdout).toMatch(/prog_array {2}name jmp {2}flags 0x0 {2}offloaded_to nfp0/);
    } finally {
      await stop();
    }
  });

  it('partial offload: a host program takes a slot where the firmware has partial offload, and is refused where it has not', async () => {
    const { h, stop } = await rig();
    try {
      const jmp = await progArray(h);
      const host = await load(h, ret(XDP_TX), { host: true });
      await update(h, jmp, 1, host);
      const tc = h.nfp!.bpf!.tc!;
      const a = [...tc.arrays][0]!;
      expect(tc.readSlot(a.slot_base + 1)).toBe(NFP_TC_ENTRY_HOST);
      expect(new DataView((await h.sys.mapLookupAsync({ map_fd: jmp, key: u32(1) })).buffer).getUint32(0, true)).toBe(h.sys.progInfo(host).id);
    } finally {
      await stop();
    }
    const noPartial = imageVariant('nfp-bpf-60c', (doc) => {
      const caps = (doc['rtsym'] as Record<string, string[]>)['_abi_bpf_capabilities']!;
      const i = caps.findIndex((r) => r.startsWith('00010000'));
      caps[i] = tlv(0x100, 0, 0x200000, 4096, 0x204000, 256, 0);
      doc['name'] = 'nfp-bpf-60c-no-partial';
    });
    const r = await rig(noPartial);
    try {
      const jmp = await progArray(r.h);
      const host = await load(r.h, ret(XDP_TX), { host: true });
      await expectErrno(update(r.h, jmp, 1, host), 'EINVAL', 'is not offloaded to nfp0, and the firmware has no partial offload');
    } finally {
      await r.stop();
    }
  });
});

describe('the device verifier hook', () => {
  const tailCallWithoutArray = 'r2 = 0\nr3 = 0\ncall 12\nr0 = 2\nexit';

  it('a firmware without tail calls refuses helper 12 as upstream does; one with them wants the call through a prog array on the card', async () => {
    const old = await bootHost({ firmware: 'nfp-bpf-40c' });
    try {
      const attr: ProgLoadAttr = { prog_type: BPF_PROG_TYPE_XDP, insns: assemble(tailCallWithoutArray), license: 'GPL', prog_ifindex: old.ifindex, log_level: 1, log_size: 1 << 20 };
      await expectErrno(old.sys.progLoadAsync(attr), 'EOPNOTSUPP');
      expect(attr.log_buf).toContain('[nfp] unsupported function id: 12\n');
    } finally {
      await old.shutdown();
    }
    const { h, stop } = await rig();
    try {
      const attr: ProgLoadAttr = { prog_type: BPF_PROG_TYPE_XDP, insns: assemble(tailCallWithoutArray), license: 'GPL', prog_ifindex: h.ifindex, log_level: 1, log_size: 1 << 20 };
      await expectErrno(h.sys.progLoadAsync(attr), 'EINVAL');
      expect(attr.log_buf).toContain('[nfp] tail call: the prog array is not on this device\n');
      // A host array cannot even be named by a device program (the kernel's offload check).
      const hostJmp = await progArray(h, 4, true);
      await expectErrno(load(h, caller(hostJmp, 0)), 'EINVAL', 'offload device mismatch between prog and map');
    } finally {
      await stop();
    }
  });

  it('refuses a tail call from a subprogram and one whose prog array differs between paths', async () => {
    const { h, stop } = await rig();
    try {
      const a = await progArray(h);
      const b = await progArray(h);
      const sub = `call f
r0 = 2
exit
f:
r2 = 0
ld_pseudo r2, 1, ${a}
r3 = 0
call 12
r0 = 1
exit`;
      const attr1: Partial<ProgLoadAttr> = {};
      await expectErrno(load(h, sub, { attr: attr1 }), 'EOPNOTSUPP');
      const mixed = `r6 = *(u32 *)(r1 + 0)
r7 = *(u32 *)(r1 + 4)
r2 = 0
ld_pseudo r2, 1, ${a}
if r6 > r7 goto l1
ld_pseudo r2, 1, ${b}
l1:
r3 = 0
call 12
r0 = 2
exit`;
      const attr: ProgLoadAttr = { prog_type: BPF_PROG_TYPE_XDP, insns: assemble(mixed), license: 'GPL', prog_ifindex: h.ifindex, log_level: 1, log_size: 1 << 20 };
      await expectErrno(h.sys.progLoadAsync(attr), 'EINVAL');
      expect(attr.log_buf).toContain('[nfp] tail call: a different prog array on another path\n');
      const subAttr: ProgLoadAttr = { prog_type: BPF_PROG_TYPE_XDP, insns: assemble(sub), license: 'GPL', prog_ifindex: h.ifindex, log_level: 1, log_size: 1 << 20 };
      await expectErrno(h.sys.progLoadAsync(subAttr), 'EOPNOTSUPP');
      expect(subAttr.log_buf).toContain('[nfp] tail call from a subprogram not supported\n');
    } finally {
      await stop();
    }
  });
});

describe('the JIT\'s tail call on the cores', () => {
  it('falls through on an empty slot, runs the target otherwise; bpftool prog dump jited shows the sequence; a test run gets the target too', async () => {
    const { h, nic, stop } = await rig();
    try {
      const jmp = await progArray(h);
      const target = await load(h, ret(XDP_TX));
      const main = await load(h, caller(jmp, 1));
      h.sys.objPin(main, '/sys/fs/bpf/tc_main');
      const dump = (await bpftool(h)('prog dump jited pinned /sys/fs/bpf/tc_main')).stdout;
      // The IMEM read of the slot, the indirect branch into the target, the partial-offload test.
      // The sequence: index bound, the count in A26, the slot's IMEM address, its read, empty / host / rtn.
      expect(dump).toMatch(/alu\[--, gprA_6, -, 0x4\]\n.*bcs\[\.(\d+)\]\n.*alu\[--, gprA_26, -, 0x21\]\n.*bcs\[\.\1\]\n.*alu\[gprA_26, gprA_26, \+, 0x1\]\n/);
      expect(dump).toMatch(/mem\[read32_swap, \$xfer_0, 0x40, <<8, gprA_21, 1\], ctx_swap\[sig1\]\n.*alu\[gprA_21, --, B, \$xfer_0\]\n.*beq\[\.\d+\]\n.*br_bset\[gprA_21, 31, \.\d+\]\n.*rtn\[gprA_21\]\n/);
      await attach(h, main);
      const frame = pk.udp4Frame({ dstPort: 53 });
      expect((await nic.pool.run([frame], { core: 0 }))[0]!.verdict).toBe('XDP_DROP');
      await update(h, jmp, 1, target);
      expect((await nic.pool.run([frame], { core: 0 }))[0]!.verdict).toBe('XDP_TX');
      // BPF_PROG_TEST_RUN on the card: the private code store gets the linked target.
      expect((await h.sys.progTestRunAsync({ prog_fd: main, data_in: frame, repeat: 1 })).retval).toBe(XDP_TX);
      await h.sys.mapDeleteAsync({ map_fd: jmp, key: u32(1) });
      expect((await nic.pool.run([frame], { core: 0 }))[0]!.verdict).toBe('XDP_DROP');
      expect(h.nfp!.bpf!.tc!.linked).toHaveLength(0);
    } finally {
      await stop();
    }
  });

  it('what a tail call costs: one IMEM read (the context swaps out) and a few instructions; a second bank adds the cross-bank branches', async () => {
    // The sizes the JIT gives the two programs, to build a BPF area with no room for the target beside
    // the attached program.
    const sizes = await rig();
    let mainLen: number;
    let targetLen: number;
    const cost: Record<string, { busy: number; stall: number }> = {};
    try {
      const { h, nic } = sizes;
      const jmp = await progArray(h);
      const target = await load(h, ret(XDP_PASS));
      const main = await load(h, caller(jmp, 0));
      mainLen = h.sys.progInfo(main).jited_prog_insns!.length / 8;
      targetLen = h.sys.progInfo(target).jited_prog_insns!.length / 8;
      const frame = pk.udp4Frame({ dstPort: 53 });
      const one = async (): Promise<{ busy: number; stall: number; verdict: string }> => {
        const r = (await nic.pool.run([frame], { core: 0 }))[0]!;
        return { busy: r.busy, stall: r.stall, verdict: r.verdict };
      };
      await attach(h, target);
      const alone = await one();
      expect(alone.verdict).toBe('XDP_PASS');
      await attach(h, main);
      const empty = await one();
      expect(empty.verdict).toBe('XDP_DROP');
      await update(h, jmp, 0, target);
      const taken = await one();
      expect(taken.verdict).toBe('XDP_PASS');
      cost['target alone'] = alone;
      cost['empty slot (falls through)'] = empty;
      cost['tail call into the target'] = taken;
      // The slot is read once from IMEM whatever it holds.
      expect(taken.stall - alone.stall).toBe(NFP_MEM_LATENCY.imem);
      expect(empty.stall - alone.stall).toBe(NFP_MEM_LATENCY.imem);
      expect(taken.busy).toBeGreaterThan(alone.busy);
      expect(taken.busy - alone.busy).toBeLessThan(40);
    } finally {
      await sizes.stop();
    }
    // No room for the target beside the attached program: ENOSPC with one bank, the second bank with two.
    const maxLen = mainLen + targetLen - 1;
    const small = (base: string): string => imageVariant(base, (doc) => {
      ((doc['vnic'] as Record<string, unknown>)['bpf'] as Record<string, unknown>)['max_len'] = maxLen;
      doc['name'] = `${base}-small`;
    });
    const one = await rig(small('nfp-bpf-60c'));
    try {
      const { h } = one;
      const jmp = await progArray(h);
      const target = await load(h, ret(XDP_PASS));
      const main = await load(h, caller(jmp, 0));
      await attach(h, main);
      await expectErrno(update(h, jmp, 0, target), 'ENOSPC', `no room in the code store for a tail call target of ${targetLen} NFP instructions`);
      expect(one.h.dmesg.has('no room in the code store')).toBe(true);
      // The other way round: a linked target leaves too little room for the program to attach.
      await rtnl_setlink_xdp(h.kernel, h.kernel.netdevs.dev_get_by_name('nfp0')!, { fd: -1, flags: XDP_FLAGS_HW_MODE });
      await update(h, jmp, 0, target);
      await expectErrno(attach(h, main), 'ENOSPC', `program too long: ${mainLen} NFP instructions, ${maxLen - targetLen} left below the tail-call targets`);
    } finally {
      await one.stop();
    }
    const two = await rig(small('nfp-bpf-70c'));
    try {
      const { h, nic } = two;
      const jmp = await progArray(h);
      const target = await load(h, ret(XDP_PASS));
      const main = await load(h, caller(jmp, 0));
      await attach(h, main);
      await update(h, jmp, 0, target);
      expect(h.nfp!.bpf!.tc!.linked[0]!.addr).toBe(8192);
      const r = (await nic.pool.run([pk.udp4Frame({ dstPort: 53 })], { core: 0 }))[0]!;
      expect(r.verdict).toBe('XDP_PASS');
      // Into the second bank (the rtn) and back out of it (the exit to the firmware's BPF_DONE).
      cost['tail call into the second bank'] = { busy: r.busy, stall: r.stall };
      expect(r.busy - cost['tail call into the target']!.busy).toBe(2 * NFP_XBANK_BRANCH_PENALTY);
    } finally {
      await two.stop();
    }
    console.log(`tail call cost on the NFP cores (cycles per packet, with the firmware's own ${'per-packet work'}):\n${Object.entries(cost).map(([k, v]) => `  ${k.padEnd(34)} busy ${v.busy}  stall ${v.stall}`).join('\n')}`);
  });

  it('the linked programs\' entry points reach the cores: the link list in IMEM, block starts for the JS engine', async () => {
    const { h, stop } = await rig();
    try {
      const jmp = await progArray(h);
      await update(h, jmp, 0, await load(h, ret(XDP_PASS)));
      await update(h, jmp, 1, await load(h, ret(XDP_DROP)));
      await attach(h, await load(h, caller(jmp, 1)));
      const tc = h.nfp!.bpf!.tc!;
      const entries = tc.linked.map((l) => l.addr);
      expect(entries).toHaveLength(2);
      // The link list the firmware reads: the count, then the addresses.
      const w = tc.bpf.tail_call.link_off >> 2;
      expect([...h.device!.memory.imemI32.subarray(w, w + 3)]).toEqual([2, ...entries]);
      // The BPF area as the firmware loads it: with the entry points, the JS engine starts a block at each.
      const dv = new DataView(h.device!.memory.ustore.buffer);
      const words = Array.from({ length: tc.extent() - tc.start }, (_, i) => dv.getBigUint64((tc.start + i) * 8, true));
      const plain = new NfpJsEngine(loadImage(words, { base: tc.start }), new Map([[tc.done, () => -1]]));
      const hinted = new NfpJsEngine(loadImage(words, { base: tc.start, entries }), new Map([[tc.done, () => -1]]));
      expect(hinted.blocks - plain.blocks).toBe(entries.length);
    } finally {
      await stop();
    }
  });

  it('the card going away: the prog array is freed on it (its programs unlinked) and orphaned', async () => {
    const { h, nic } = await rig();
    try {
      const jmp = await progArray(h);
      const target = await load(h, ret(XDP_PASS));
      await update(h, jmp, 0, target);
      expect(h.nfp!.bpf!.tc!.linked).toHaveLength(1);
      await nic.stop();
      await h.nfp!.remove();
      expect(h.nfp!.bpf!.tc!.linked).toHaveLength(0);
      expect(h.nfp!.bpf!.tc!.arrays.size).toBe(0);
      await expectErrno(update(h, jmp, 1, target), 'ENODEV');
    } finally {
      await h.shutdown();
    }
  });

  it('a tail call into a host program passes the packet with the resume word: the table slot and the calls taken', async () => {
    const { h, nic, stop } = await rig();
    try {
      const jmp = await progArray(h);
      const host = await load(h, ret(XDP_TX), { host: true });
      const main = await load(h, caller(jmp, 2));
      await update(h, jmp, 2, host);
      await attach(h, main);
      const r = (await nic.pool.run([pk.udp4Frame({ dstPort: 53 })], { core: 0 }))[0]!;
      expect(r.verdict).toBe('XDP_PASS');
      expect(r.resume & NFP_RESUME_VALID).not.toBe(0);
      const a = [...h.nfp!.bpf!.tc!.arrays][0]!;
      expect(nfp_resume_decode(r.resume)).toEqual({ slot: a.slot_base + 2, cnt: 1 });
    } finally {
      await stop();
    }
  });
});
