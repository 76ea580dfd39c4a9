// The nfp driver's probe: every shipped image boots with port nfp0; the ABI and the capability records
// are read from the image as the kernel reads them, with the kernel's log lines for what it refuses;
// an unsupported ABI leaves the port (and host XDP) working and refuses only offload.

import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { BpfError } from '../../src/bpf/errno.js';
import { hostOptionsFrom } from '../../src/cli/firmware.js';
import { buildProgram } from '../../src/cli/main.js';
import { nfp_port_from_netdev } from '../../src/drivers/nfp/probe.js';
import { NFP_NET_CFG_BPF_ABI } from '../../src/nic/ctrl-bar.js';
import { PassThrough } from 'node:stream';
import { bootHost, expectErrno, imageVariant, offloadMap, removeImageVariants, tlv, u32, type TestHost } from './helpers.js';

const hosts: TestHost[] = [];
async function boot(firmware?: string, extra: Parameters<typeof bootHost>[0] = {}): Promise<TestHost> {
  const h = await bootHost({ ...(firmware !== undefined ? { firmware } : {}), ...extra });
  hosts.push(h);
  return h;
}
afterEach(async () => {
  await Promise.all(hosts.splice(0).map((h) => h.shutdown()));
});
afterAll(removeImageVariants);

/** XDP_PASS on the host: mov r0, 2; exit — through BPF_PROG_TEST_RUN. */
function hostXdpWorks(h: TestHost): number {
  const fd = h.sys.progLoad({
    prog_type: 6, license: 'GPL',
    insns: [{ code: 0xb7, dst: 0, src: 0, off: 0, imm: 2 }, { code: 0x95, dst: 0, src: 0, off: 0, imm: 0 }],
  });
  const r = h.sys.progTestRun({ prog_fd: fd, data_in: new Uint8Array(64) });
  h.sys.close(fd);
  return r.retval;
}

/** The production image's capability records, for variants to edit. */
const CAPS60 = [
  tlv(7, 3), tlv(1, 1, 0x40), tlv(1, 2, 0x60), tlv(1, 3, 0x80), tlv(1, 25, 0xa0), tlv(2, 1, 44, 248, 84, 112),
  tlv(3, 6, 128, 4194304, 56, 56, 64), tlv(4), tlv(5), tlv(6), tlv(8),
];

function variant(caps: string[], edit: (doc: Record<string, unknown>) => void = () => {}): string {
  return imageVariant('nfp-bpf-60c', (doc) => {
    doc['name'] = `test-${Math.random().toString(36).slice(2, 8)}`;
    (doc['rtsym'] as Record<string, unknown>)['_abi_bpf_capabilities'] = caps;
    edit(doc);
  });
}

describe('every shipped image boots', () => {
  for (const [name, abi, capable] of [
    ['nfp-bpf-40c', 2, true], ['nfp-bpf-56c', 2, true], ['nfp-bpf-60c', 3, true], ['nfp-bpf-70c', 3, true],
    ['nfp-bpf-abi1', 0, false], ['nfp-nic', undefined, false],
  ] as const) {
    it(`${name}: nfp0 up, ABI ${abi ?? '-'}, offload ${capable ? 'possible' : 'refused'}`, async () => {
      const h = await boot(name);
      const dev = h.kernel.netdevs.get('nfp0');
      expect(nfp_port_from_netdev(dev)?.pf).toBe(h.nfp);
      expect(h.nfp!.bpf?.abi_version).toBe(abi);
      expect(h.nfp!.ebpfCapable()).toBe(capable);
      expect(hostXdpWorks(h)).toBe(2);
      expect(h.dmesg.has(`Firmware: ${name}`)).toBe(true);
    });
  }

  it('the default is the 60-core production image', async () => {
    const h = await boot();
    expect(h.image!.name).toBe('nfp-bpf-60c');
    expect(h.device!.memory.layout.cores).toBe(60);
    expect(h.nfp!.bpf!.cmsg_cache_cnt).toBe(4);
    expect([h.nfp!.bpf!.cmsg_key_sz, h.nfp!.bpf!.cmsg_val_sz]).toEqual([56, 56]);
    expect(h.nfp!.bpfLimits()).toEqual({ maxLen: 7936, stackBytes: 512 });
  });

  it('an ABI 2 image uses 64-byte message slots and no op cache', async () => {
    const h = await boot('nfp-bpf-40c');
    expect([h.nfp!.bpf!.cmsg_key_sz, h.nfp!.bpf!.cmsg_val_sz, h.nfp!.bpf!.cmsg_cache_cnt]).toEqual([64, 64, 1]);
    const fd = await offloadMap(h);
    await h.sys.mapUpdateAsync({ map_fd: fd, key: u32(7), value: Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8) });
    expect([...await h.sys.mapLookupAsync({ map_fd: fd, key: u32(7) })]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('boots another EMEM size with NAME:SIZE, and refuses one the image is not built for', async () => {
    const h = await boot('nfp-bpf-60c:24GiB');
    expect(h.device!.memory.layout.ememBytes).toBe(24 * 2 ** 30);
    expect(h.device!.memory.ememBacked).toBeLessThan(2 ** 30);
    await expectErrno(bootHost({ firmware: 'nfp-bpf-60c:4GiB' }), 'EINVAL', 'not 4GiB');
    await expectErrno(bootHost({ firmware: 'nfp-bpf-61c' }), 'ENOENT', "no firmware image 'nfp-bpf-61c'");
  });
});

describe('an unsupported BPF ABI', () => {
  it('logs it, keeps the port and host XDP, and refuses offload with the driver\'s message', async () => {
    const h = await boot('nfp-bpf-abi1');
    expect(h.dmesg.lines.some((l) => l.level === 'warn' && l.msg.includes('unsupported BPF ABI version: 1'))).toBe(true);
    const dev = h.kernel.netdevs.get('nfp0');
    expect(hostXdpWorks(h)).toBe(2);
    let err: unknown;
    try {
      h.nfp!.xdp_offload_check(dev);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BpfError);
    expect((err as BpfError).errno).toBe('EINVAL');
    expect((err as BpfError).message).toBe('NFP firmware does not support eBPF offload');
    // It advertises no map capability either.
    await expectErrno(offloadMap(h), 'EOPNOTSUPP', 'offers no map offload');
  });

  it('a version record above 3 too', async () => {
    const h = await boot(variant([tlv(7, 4), ...CAPS60.slice(1)]));
    expect(h.dmesg.has('unsupported BPF ABI version: 4')).toBe(true);
    expect(h.nfp!.ebpfCapable()).toBe(false);
  });

  it('the vNIC must speak the ABI the records state', async () => {
    const h = await boot(variant(CAPS60, (doc) => { ((doc['vnic'] as Record<string, unknown>)['bpf'] as Record<string, unknown>)['abi'] = 2; }));
    expect(h.nfp!.ports[0]!.bar.readb(NFP_NET_CFG_BPF_ABI)).toBe(2);
    expect(h.nfp!.bpf!.abi_version).toBe(3);
    expect(h.nfp!.ebpfCapable()).toBe(false);
  });
});

describe('capability records', () => {
  it('an unknown record is skipped with a debug line; the rest counts', async () => {
    const h = await boot(variant([tlv(99, 1, 2, 3), ...CAPS60]));
    expect(h.dmesg.lines.some((l) => l.level === 'debug' && l.msg.includes('unknown BPF capability: 99'))).toBe(true);
    expect(h.nfp!.ebpfCapable()).toBe(true);
    expect(h.nfp!.bpf!.maps.max_maps).toBe(128);
  });

  it('a truncated maps record: the kernel\'s lines, no maps, everything else still read', async () => {
    const h = await boot(variant([tlv(7, 3), '03000000 08000000 06000000 80000000', ...CAPS60.slice(1, 6), ...CAPS60.slice(7)]));
    expect(h.dmesg.has('truncated maps TLV: 8')).toBe(true);
    expect(h.dmesg.lines.some((l) => l.level === 'error' && /invalid BPF capabilities at offset:\d+/.test(l.msg))).toBe(true);
    expect(h.nfp!.bpf!.maps.types).toBe(0);
    expect(h.nfp!.bpf!.helpers.map_lookup).toBe(0x40);
    expect(h.nfp!.bpf!.cmsg_multi_ent).toBe(true);
    expect(h.nfp!.ebpfCapable()).toBe(true);
    expect(h.kernel.netdevs.get('nfp0')).toBeDefined();
    await expectErrno(offloadMap(h), 'EOPNOTSUPP');
  });

  it('truncated function, adjust_head and ABI version records', async () => {
    const h = await boot(variant(['07000000 02000000 0300', '01000000 04000000 01000000', '02000000 08000000 01000000 2c000000', ...CAPS60.slice(6)]));
    for (const line of ['truncated ABI version TLV: 2', 'truncated function TLV: 4', 'truncated adjust_head TLV: 8']) expect(h.dmesg.has(line)).toBe(true);
    // Without its record the ABI stays the original 2, which the vNIC (ABI 3) does not speak.
    expect(h.nfp!.bpf!.abi_version).toBe(2);
    expect(h.nfp!.bpf!.helpers.map_lookup).toBe(0);
    expect(h.nfp!.ebpfCapable()).toBe(false);
  });

  it('adjust_head: min > max is invalid; limits that do not fit an immediate turn it off', async () => {
    const a = await boot(variant([...CAPS60.slice(0, 5), tlv(2, 1, 200, 100, 0, 0), ...CAPS60.slice(6)]));
    expect(a.dmesg.has('invalid adjust_head TLV: min > max')).toBe(true);
    expect(a.nfp!.bpf!.adjust_head.off_max).toBe(0);
    const b = await boot(variant([...CAPS60.slice(0, 5), tlv(2, 1, 44, 300, 84, 112), ...CAPS60.slice(6)]));
    expect(b.dmesg.lines.some((l) => l.level === 'warn' && l.msg.includes('disabling adjust_head - driver expects min/max to fit in as immediates'))).toBe(true);
    expect(b.nfp!.bpf!.adjust_head).toEqual({ flags: 0, off_min: 0, off_max: 0, guaranteed_sub: 0, guaranteed_add: 0 });
    expect(b.nfp!.bpf!.maps.max_maps).toBe(128);
  });

  it('a record running past the symbol ends parsing; bytes left over are reported', async () => {
    const past = await boot(variant([...CAPS60.slice(0, 6), '03000000 40000000 06000000']));
    expect(past.dmesg.has('invalid BPF capabilities at offset:')).toBe(true);
    expect(past.nfp!.bpf!.adjust_head.off_max).toBe(248);
    expect(past.nfp!.bpf!.maps.types).toBe(0);
    const left = await boot(variant([...CAPS60, '0400']));
    expect(left.dmesg.has(`BPF capabilities left after parsing, parsed:${CAPS60.join('').replace(/ /g, '').length / 2} total length:`)).toBe(true);
    expect(left.nfp!.bpf!.maps.types).toBe(6);
  });

  it('no capability symbol at all: the original ABI, nothing offered', async () => {
    const h = await boot(imageVariant('nfp-bpf-40c', (doc) => {
      doc['name'] = 'test-nocaps';
      delete (doc['rtsym'] as Record<string, unknown>)['_abi_bpf_capabilities'];
    }));
    expect(h.nfp!.bpf!.abi_version).toBe(2);
    expect(h.nfp!.ebpfCapable()).toBe(true);
    await expectErrno(offloadMap(h), 'EOPNOTSUPP');
  });

  it('a firmware app the driver does not know fails the probe, saying which', async () => {
    const file = variant(CAPS60, (doc) => { (doc['rtsym'] as Record<string, unknown>)['_pf0_net_app_id'] = '07000000 00000000'; });
    const err = await expectErrno(bootHost({ firmware: file }), 'EINVAL', 'firmware app id 0x7 is not supported');
    expect(err.message).toContain('0000:04:00.0');
  });

  it('a ctrl channel too small for one message: logged, and no map offload', async () => {
    const h = await boot(variant(CAPS60, (doc) => { (doc['ctrl'] as Record<string, unknown>)['max_mtu'] = 100; }));
    expect(h.dmesg.has('ctrl channel MTU below min required 100 < 128')).toBe(true);
    await expectErrno(offloadMap(h), 'EOPNOTSUPP', 'MTU too small');
  });
});

describe('--firmware', () => {
  it('is a global option commands read with hostOptionsFrom()', async () => {
    const io = { stdout: new PassThrough(), stderr: new PassThrough() };
    const program = buildProgram(io);
    let seen: unknown;
    program.command('probe-test').action((_o, cmd) => { seen = hostOptionsFrom(cmd); });
    await program.parseAsync(['node', 'nfp-emu', '--firmware', 'nfp-bpf-40c', 'probe-test']);
    expect(seen).toEqual({ firmware: 'nfp-bpf-40c' });
    const h = await boot((seen as { firmware: string }).firmware);
    expect(h.nfp!.bpf!.abi_version).toBe(2);
  });
});
