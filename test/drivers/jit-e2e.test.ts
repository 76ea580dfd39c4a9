// End to end through the bpf() syscall: BPF_PROG_LOAD with prog_ifindex = nfp0 runs the nfp driver's
// bpf_prog_offload_ops (prepare, the hook on every instruction, finalize, the dead-code rewrites,
// translate); BPF_OBJ_GET_INFO_BY_FD gives the JIT's unrelocated image; BPF_PROG_TEST_RUN runs it on
// the card; XDP attach in HW mode puts the image, relocated for the vNIC, in the code store.
// The same instructions loaded for the host are the reference.

import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assemble } from '../../src/bpf/asm.js';
import { BpfError } from '../../src/bpf/errno.js';
import { loadObject } from '../../src/bpf/object.js';
import { nfp_bpf_dev_ops, nfp_bpf_vnic_of, nfp_bar_of, nfp_prog_image, nfp_prog_of, type NfpProgOffload } from '../../src/drivers/nfp/prog.js';
import { XDP_FLAGS_HW_MODE } from '../../src/kernel/net/dev-xdp.js';
import { NetlinkExtAck } from '../../src/kernel/net/extack.js';
import type { BpfProgOffloadOps } from '../../src/kernel/offload.js';
import { BPF_PROG_TYPE_XDP, type ProgLoadAttr } from '../../src/kernel/syscall.js';
import { NFP_USTORE_WORD } from '../../src/nic/memory.js';
import { NfpCorePool } from '../../src/nic/cores.js';
import { inProcessCores } from '../../firmware/datapath.js';
import { nfp_net_set_datapath, nfp_net_xdp_setup_hw } from '../../src/drivers/nfp/xdp.js';
import { progObject } from '../oracle/kernel.js';
import * as pk from '../oracle/packets.js';
import { BPF_MAP_TYPE_ARRAY, BPF_MAP_TYPE_HASH, bootHost, expectErrno, u32, type TestHost } from './helpers.js';

/** The driver's ops as the kernel's plumbing sees them (a type check that they fit). */
const OPS: BpfProgOffloadOps = nfp_bpf_dev_ops;

let h: TestHost;
let pool: NfpCorePool;
beforeAll(async () => {
  h = await bootHost();
  // The probe registers the card's offload device; until it passes the driver's ops, install them.
  const offdev = h.nfp!.bpf!.bpf_dev;
  if (offdev.ops === null) Object.assign(offdev, { ops: OPS });
  // The card's cores in-process, as whoever builds the host is to wire them (nfp_net_set_datapath).
  pool = await NfpCorePool.start(h.device!, inProcessCores({ groups: 1 }), {});
  nfp_net_set_datapath(h.device!.bars[0]!, { pump: () => pool.pump(), testRunStarter: inProcessCores() });
});
afterAll(async () => {
  await pool?.stop();
  await h?.shutdown();
});

/** Per IP protocol: packets and bytes (atomic adds); per source address: the last length; drop UDP. */
const counter = (arr: number, hash: number): string => `
r6 = r1
r7 = *(u32 *)(r6 + 0)
r8 = *(u32 *)(r6 + 4)
r1 = r7
r1 += 34
if r1 > r8 goto pass
r9 = r8
r9 -= r7
r1 = *(u8 *)(r7 + 23)
*(u32 *)(r10 - 4) = r1
r2 = r10
r2 += -4
ld_pseudo r1, 1, ${arr}
call 1
if r0 == 0 goto pass
r1 = 1
lock *(u64 *)(r0 + 0) += r1
lock *(u64 *)(r0 + 8) += r9
r1 = *(u32 *)(r7 + 26)
*(u32 *)(r10 - 8) = r1
*(u64 *)(r10 - 16) = r9
r2 = r10
r2 += -8
r3 = r10
r3 += -16
r4 = 0
ld_pseudo r1, 1, ${hash}
call 2
r1 = *(u8 *)(r7 + 23)
r0 = 1
if r1 == 17 goto out
pass:
r0 = 2
out:
exit`;

function frames(): Uint8Array[] {
  return [
    pk.udp4Frame({ dstPort: 9 }),
    pk.tcp4Frame({ dstPort: 80, flags: { syn: true } }),
    pk.tcp4Frame({ src: '10.9.8.7', dstPort: 443, payload: pk.patternPayload(100, 3) }),
    pk.icmp4Frame({}),
    pk.udp4Frame({ src: '10.9.8.7', dstPort: 53, payload: pk.patternPayload(40) }),
    pk.truncateFrame(pk.udp4Frame({ dstPort: 9 }), 30),
    pk.udp4FrameOfLength(1514, { dstPort: 4000 }),
  ];
}

const hex = (b: Uint8Array | undefined): string => Buffer.from(b ?? []).toString('hex');

async function dump(fd: number): Promise<string[]> {
  const out: string[] = [];
  let key: Uint8Array | null = null;
  for (;;) {
    try {
      key = await h.sys.mapGetNextKeyAsync({ map_fd: fd, key });
    } catch (e) {
      if (e instanceof BpfError && e.errno === 'ENOENT') break;
      throw e;
    }
    out.push(`${hex(key)}=${hex(await h.sys.mapLookupAsync({ map_fd: fd, key }))}`);
  }
  return out.sort();
}

describe('BPF_PROG_LOAD for nfp0 through the syscall: the nfp hook and JIT', () => {
  it('counts and drops on the card exactly as the host does: verdicts, packets and both maps (BPF_PROG_TEST_RUN on the NIC)', async () => {
    const mk = (type: number, key: number, value: number, entries: number, ifindex: number): Promise<number> =>
      h.sys.mapCreateAsync({ map_type: type, key_size: key, value_size: value, max_entries: entries, map_name: 'c', map_ifindex: ifindex });
    const nic = { arr: await mk(BPF_MAP_TYPE_ARRAY, 4, 16, 256, h.ifindex), hash: await mk(BPF_MAP_TYPE_HASH, 4, 8, 64, h.ifindex) };
    const host = { arr: await mk(BPF_MAP_TYPE_ARRAY, 4, 16, 256, 0), hash: await mk(BPF_MAP_TYPE_HASH, 4, 8, 64, 0) };
    const nicFd = await h.sys.progLoadAsync({ prog_type: BPF_PROG_TYPE_XDP, insns: assemble(counter(nic.arr, nic.hash)), license: 'GPL', prog_ifindex: h.ifindex });
    const hostFd = await h.sys.progLoadAsync({ prog_type: BPF_PROG_TYPE_XDP, insns: assemble(counter(host.arr, host.hash)), license: 'GPL' });

    const info = h.sys.progInfo(nicFd);
    expect(info.ifindex).toBe(h.ifindex);
    const nfp_prog = nfp_prog_of(h.kernel.progOf(nicFd, 'test').offload as NfpProgOffload);
    expect(info.jited_prog_insns).toEqual(nfp_prog_image(nfp_prog));
    expect(info.jited_prog_len).toBe(nfp_prog.prog.length * 8);

    let dropped = 0;
    for (const [n, data_in] of frames().entries()) {
      const want = h.sys.progTestRun({ prog_fd: hostFd, data_in, data_size_out: 2048 });
      const got = await h.sys.progTestRunAsync({ prog_fd: nicFd, data_in, data_size_out: 2048 });
      expect(got.retval, `frame ${n}`).toBe(want.retval);
      if (want.retval === 2) {
        expect(hex(got.data_out), `frame ${n}`).toBe(hex(want.data_out));
        expect(got.data_size_out, `frame ${n}`).toBe(data_in.length);
      }
      if (want.retval === 1) dropped++;
      expect(got.duration).toBeGreaterThan(0);
    }
    expect(dropped).toBe(3);
    const hostArr = await dump(host.arr);
    expect(await dump(nic.arr)).toEqual(hostArr);
    expect(await dump(nic.hash)).toEqual(await dump(host.hash));
    // The UDP row: 3 packets (the truncated one never reaches the lookup), 42 + 82 + 1514 bytes.
    const udp = await h.sys.mapLookupAsync({ map_fd: nic.arr, key: u32(17) });
    const dv = new DataView(udp.buffer, udp.byteOffset);
    expect([dv.getBigUint64(0, true), dv.getBigUint64(8, true)]).toEqual([3n, BigInt(frames()[0]!.length + frames()[4]!.length + 1514)]);
  }, 20_000);

  it('a test/progs object: the syscall gives the image the driver JITs; attached in HW mode it sits in the code store relocated for the vNIC and the datapath runs it', async () => {
    const path = progObject('xdp_drop_udp9');
    const spec = loadObject(readFileSync(path), path).programs[0]!;
    const fd = await h.sys.progLoadAsync({ prog_type: spec.progType, insns: spec.insns, license: 'GPL', prog_ifindex: h.ifindex, prog_name: spec.name });
    const hostFd = await h.sys.progLoadAsync({ prog_type: spec.progType, insns: spec.insns, license: 'GPL' });
    const prog = h.kernel.progOf(fd, 'test');
    const nfp_prog = nfp_prog_of(prog.offload as NfpProgOffload);
    const image = h.sys.progInfo(fd).jited_prog_insns!;
    const words = Array.from({ length: image.length / 8 }, (_, i) => new DataView(image.buffer, image.byteOffset).getBigUint64(i * 8, true));
    expect(words).toEqual(nfp_prog.prog);

    // ndo_bpf(XDP_SETUP_PROG_HW) as dev_xdp_install() issues it, with the reference it takes.
    // (nfp_ndo_bpf does not route the XDP commands to xdp.ts yet, so dev_xdp_attach() cannot be used.)
    const netdev = h.kernel.netdevs.dev_get_by_name('nfp0')!;
    prog.get();
    await nfp_net_xdp_setup_hw(h.nfp!.bpf!, netdev, { command: 'XDP_SETUP_PROG_HW', flags: XDP_FLAGS_HW_MODE, prog, extack: new NetlinkExtAck() });
    const vnic = nfp_bpf_vnic_of(nfp_bar_of(netdev));
    const relocated = nfp_prog.relo_for_vnic(vnic);
    const ustore = h.device!.memory.ustore;
    const dv = new DataView(ustore.buffer, ustore.byteOffset, ustore.byteLength);
    expect(relocated.map((_, i) => dv.getBigUint64((vnic.start_off + i) * NFP_USTORE_WORD, true))).toEqual(relocated);
    // Relocation changed the branches (targets moved to the vNIC's start, exits to its done label).
    expect(relocated.filter((w, i) => w !== words[i]).length).toBeGreaterThan(0);

    const res = await pool.run(frames(), { core: 0 });
    frames().forEach((data_in, n) => {
      const want = h.sys.progTestRun({ prog_fd: hostFd, data_in, data_size_out: 2048 });
      expect(res[n]!.verdict, `frame ${n}`).toBe(['XDP_ABORTED', 'XDP_DROP', 'XDP_PASS', 'XDP_TX'][want.retval]);
      if (want.retval === 2) expect(hex(res[n]!.packet ?? undefined), `frame ${n}`).toBe(hex(want.data_out));
    });
    await nfp_net_xdp_setup_hw(h.nfp!.bpf!, netdev, { command: 'XDP_SETUP_PROG_HW', flags: XDP_FLAGS_HW_MODE, prog: null, extack: new NetlinkExtAck() });
    h.sys.close(fd);
    h.sys.close(hostFd);
  });

  it('refuses what the NIC cannot run: the [nfp] line in log_buf, the errno, and no program left behind', async () => {
    const ids = (): number[] => {
      const out: number[] = [];
      for (let id = h.kernel.progs.nextAfter(0); id !== undefined; id = h.kernel.progs.nextAfter(id)) out.push(id);
      return out;
    };
    const before = ids();
    const attr: ProgLoadAttr = { prog_type: BPF_PROG_TYPE_XDP, insns: assemble('r0 = 7\nr0 %= 3\nexit'), license: 'GPL', prog_ifindex: h.ifindex, log_level: 1, log_size: 1 << 16 };
    await expectErrno(h.sys.progLoadAsync(attr), 'EINVAL');
    expect(attr.log_buf).toMatch(/\n1: \(97\) r0 %= 3\n\[nfp\] instruction 0x97 not supported\nprocessed 2 insns /);
    expect(ids()).toEqual(before);
  });
});
