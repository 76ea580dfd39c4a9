// `nfp-emu ip`: iproute2 6.1's ip link show/set on the emulated host, compared with what the real
// tool prints (the formats below were taken from iproute2 6.1 on Linux 6.18: the line layout, the
// xdp words, the -s column sizing, the JSON spacing, the messages and the exit statuses).

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { NsimDev } from '../../src/drivers/netdevsim/netdevsim.js';
import { runIp } from '../../src/cli/ip/main.js';
import { formatIpJson } from '../../src/cli/ip/json.js';
import { XDP_MODE_SKB, dev_xdp_prog } from '../../src/kernel/net/dev-xdp.js';
import { netdev_rx, netif_receive } from '../../src/kernel/net/rx.js';
import { udp4Frame } from '../oracle/packets.js';
import { PROGS, makeTestHost, type TestHost } from '../kernel/dev-xdp-harness.js';

async function ip(h: TestHost, ...argv: string[]): Promise<{ rc: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const rc = await runIp(argv, {
    kernel: h.k, sys: h.sys, cwd: PROGS,
    stdout: { write: (s: string) => { out += s; } },
    stderr: { write: (s: string) => { err += s; } },
  });
  return { rc, out, err };
}

const LO = `1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN mode DEFAULT group default qlen 1000
    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00
`;
const ZERO_STATS = `    RX:  bytes packets errors dropped  missed   mcast           
             0       0      0       0       0       0 
    TX:  bytes packets errors dropped carrier collsns           
             0       0      0       0       0       0 
`;

describe('ip link show', () => {
  it('lists the devices as iproute2 does, with the state of each', async () => {
    const h = makeTestHost();
    const { dev_change_flags_up } = await import('../../src/kernel/net/rx.js');
    dev_change_flags_up(h.veth1, false);
    const r = await ip(h, 'link', 'show');
    expect(r).toEqual({
      rc: 0, err: '',
      out: `${LO}2: veth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP mode DEFAULT group default qlen 1000
    link/ether 02:00:00:00:00:02 brd ff:ff:ff:ff:ff:ff
3: veth1: <BROADCAST,MULTICAST> mtu 1500 qdisc noop state DOWN mode DEFAULT group default qlen 1000
    link/ether 02:00:00:00:00:03 brd ff:ff:ff:ff:ff:ff
`,
    });
    // Abbreviations and the optional dev keyword.
    expect((await ip(h, 'l', 'sh', 'dev', 'lo')).out).toBe(LO);
    expect((await ip(h, 'link', 'lo')).err).toBe('Command "lo" is unknown, try "ip link help".\n');
    expect(await ip(h, 'link', 'show', 'nosuch')).toEqual({ rc: 1, out: '', err: 'Device "nosuch" does not exist.\n' });
    expect(await ip(h, 'link', 'show', 'lo', 'dev', 'lo')).toMatchObject({ rc: 255, err: 'Error: either "dev" is duplicate, or "lo" is a garbage.\n' });
  });

  it('shows an attached program: the mode word on the first line, prog/xdp below (and more with -d)', async () => {
    const h = makeTestHost();
    expect(await ip(h, 'link', 'set', 'dev', 'veth0', 'xdpgeneric', 'obj', 'xdp_pass.o', 'sec', 'xdp')).toEqual({ rc: 0, out: '', err: '' });
    const prog = dev_xdp_prog(h.veth0, XDP_MODE_SKB)!;
    expect((await ip(h, 'link', 'show', 'veth0')).out).toBe(`2: veth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 xdpgeneric qdisc noqueue state UP mode DEFAULT group default qlen 1000
    link/ether 02:00:00:00:00:02 brd ff:ff:ff:ff:ff:ff
    prog/xdp id ${prog.id} name xdp_pass tag 614b434cd8324ecc jited 
`);
    const d = (await ip(h, '-d', 'link', 'show', 'veth0')).out.split('\n');
    expect(d[1]).toBe('    link/ether 02:00:00:00:00:02 brd ff:ff:ff:ff:ff:ff promiscuity 0  allmulti 0 minmtu 68 maxmtu 65535 ');
    expect(d[2]).toMatch(/^ {4}veth addrgenmode eui64 numtxqueues 2 numrxqueues 2 /);
    expect(d[3]).toMatch(new RegExp(`^    prog/xdp id ${prog.id} name xdp_pass tag 614b434cd8324ecc jited load_time \\d+ created_by_uid 0 btf_id \\d+ $`));
  });

  it('-j and -p: iproute2\'s JSON, with the xdp object and its attached list', async () => {
    const h = makeTestHost();
    await ip(h, 'link', 'set', 'dev', 'veth0', 'xdpdrv', 'obj', 'xdp_pass.o', 'sec', 'xdp');
    const id = h.k.progs.nextAfter(0)!;
    const prog = { id, name: 'xdp_pass', tag: '614b434cd8324ecc', jited: 1 };
    const expected = [{
      ifindex: 2, ifname: 'veth0', flags: ['BROADCAST', 'MULTICAST', 'UP', 'LOWER_UP'], mtu: 1500,
      xdp: { mode: 1, prog, attached: [{ mode: 1, prog }] },
      qdisc: 'noqueue', operstate: 'UP', linkmode: 'DEFAULT', group: 'default', txqlen: 1000, link_type: 'ether',
      address: '02:00:00:00:00:02', broadcast: 'ff:ff:ff:ff:ff:ff',
    }];
    const j = await ip(h, '-j', 'link', 'show', 'dev', 'veth0');
    expect(JSON.parse(j.out)).toEqual(expected);
    expect(j.out).toBe(`${JSON.stringify(expected)}\n`);
    const p = await ip(h, '-j', '-p', 'link', 'show', 'dev', 'veth0');
    expect(p.out).toBe(formatIpJson(expected, true));
    expect(p.out).toContain(`        "flags": [ "BROADCAST","MULTICAST","UP","LOWER_UP" ],\n`);
    expect(p.out).toContain(`            "attached": [ {\n                    "mode": 1,\n`);
    expect(p.out.endsWith('"broadcast": "ff:ff:ff:ff:ff:ff"\n    } ]\n')).toBe(true);
  });

  it('-s and -s -s: the counters of the receive path, columns widened to the widest number', async () => {
    const h = makeTestHost();
    expect((await ip(h, '-s', 'link', 'show', 'lo')).out).toBe(LO + ZERO_STATS);
    await ip(h, 'link', 'set', 'dev', 'veth0', 'xdpgeneric', 'obj', 'xdp_drop_udp9.o', 'sec', 'xdp');
    const f9 = udp4Frame({ dstPort: 9 });
    const f53 = udp4Frame({ dstPort: 53 });
    await netif_receive(h.k, h.veth0, [f9, f53], { repeat: 1000 });
    const lines = (await ip(h, '-s', '-s', 'link', 'show', 'veth0')).out.split('\n');
    expect(lines.slice(3)).toEqual([
      '    RX:  bytes packets errors dropped  missed   mcast           ',
      `    ${String(1000 * (f9.length + f53.length)).padStart(10)}    2000      0    1000       0       0 `,
      '    RX errors:  length    crc   frame    fifo overrun',
      '                     0      0       0       0       0 ',
      '    TX:  bytes packets errors dropped carrier collsns           ',
      '             0       0      0       0       0       0 ',
      '    TX errors: aborted   fifo  window heartbt transns',
      '                     0      0       0       0       0 ',
      '',
    ]);
    // A number wider than its header widens the column for both rows.
    netdev_rx(h.veth1).stats.rx_bytes = 123456789012;
    const wide = (await ip(h, '-s', 'link', 'show', 'veth1')).out.split('\n');
    expect(wide[2]).toBe('    RX:    bytes packets errors dropped  missed   mcast           ');
    expect(wide[3]).toBe('    123456789012       0      0       0       0       0 ');
    expect(wide[5]).toBe('               0       0      0       0       0       0 ');
    const js = JSON.parse((await ip(h, '-j', '-s', 'link', 'show', 'veth0')).out) as [{ stats64: unknown }];
    expect(js[0].stats64).toEqual({
      rx: { bytes: 1000 * (f9.length + f53.length), packets: 2000, errors: 0, dropped: 1000, over_errors: 0, multicast: 0 },
      tx: { bytes: 0, packets: 0, errors: 0, dropped: 0, carrier_errors: 0, collisions: 0 },
    });
  });
});

describe('ip link set', () => {
  it('replaces only with -force, and enforces the mode rules with the kernel\'s messages', async () => {
    const h = makeTestHost();
    await ip(h, 'link', 'set', 'veth0', 'xdp', 'obj', 'xdp_pass.o', 'sec', 'xdp');
    expect(await ip(h, 'link', 'set', 'veth0', 'xdp', 'obj', 'xdp_drop_udp9.o', 'sec', 'xdp')).toEqual({ rc: 2, out: '', err: 'Error: XDP program already attached.\n' });
    expect(await ip(h, 'link', 'set', 'veth0', 'xdpgeneric', 'obj', 'xdp_pass.o', 'sec', 'xdp')).toEqual({ rc: 2, out: '', err: "Error: Native and generic XDP can't be active at the same time.\n" });
    expect((await ip(h, '-force', 'link', 'set', 'veth0', 'xdp', 'obj', 'xdp_drop_udp9.o', 'sec', 'xdp')).rc).toBe(0);
    expect((await ip(h, 'link', 'show', 'veth0')).out).toContain('name xdp_drop_udp9 ');
    expect(await ip(h, 'link', 'set', 'lo', 'xdpdrv', 'obj', 'xdp_pass.o', 'sec', 'xdp')).toEqual({ rc: 2, out: '', err: 'Error: Underlying driver does not support XDP in native mode.\n' });
    expect((await ip(h, 'link', 'set', 'veth0', 'xdp', 'off')).rc).toBe(0);
    expect((await ip(h, 'link', 'show', 'veth0')).out).not.toContain('xdp');
  });

  it('closes everything it opened: only attached programs survive the command', async () => {
    const h = makeTestHost();
    await ip(h, 'link', 'set', 'veth0', 'xdpgeneric', 'obj', 'xdp_counter.o', 'sec', 'xdp');
    expect(h.k.fds.size).toBe(0);
    const id = dev_xdp_prog(h.veth0, XDP_MODE_SKB)!.id;
    expect(h.k.progs.get(id)).toBeDefined();
    await ip(h, 'link', 'set', 'veth0', 'xdpgeneric', 'off');
    expect(h.k.progs.get(id)).toBeUndefined();
    // A refused attach frees what it loaded.
    await ip(h, 'link', 'set', 'lo', 'xdpdrv', 'obj', 'xdp_pass.o', 'sec', 'xdp');
    expect(h.k.progs.nextAfter(0)).toBeUndefined();
  });

  it('loading failures print libbpf\'s lines and exit 255 before anything is changed', async () => {
    const h = makeTestHost();
    expect(await ip(h, 'link', 'set', 'veth0', 'xdp', 'obj', 'nonexistent.o', 'sec', 'xdp')).toEqual({ rc: 255, out: '', err: 'Cannot initialize ELF context!\n' });
    expect(await ip(h, 'link', 'set', 'veth0', 'xdp', 'obj', 'xdp_pass.o')).toEqual({ rc: 255, out: '', err: "object file doesn't contain sec prog\n" });
    expect(await ip(h, 'link', 'set', 'veth0', 'xdp', 'obj', 'xdp_pass.o', 'sec', 'nosuch')).toEqual({ rc: 255, out: '', err: "object file doesn't contain sec nosuch\n" });
    const bad = await ip(h, 'link', 'set', 'veth0', 'xdp', 'obj', 'negative/xdp_map_null.o', 'sec', 'xdp');
    expect(bad.rc).toBe(255);
    const lines = bad.err.split('\n');
    expect(lines[0]).toBe("libbpf: prog 'xdp_map_null': BPF program load failed: Permission denied");
    expect(lines[1]).toBe("libbpf: prog 'xdp_map_null': -- BEGIN PROG LOAD LOG --");
    expect(bad.err).toContain("R0 invalid mem access 'map_value_or_null'\n");
    expect(lines.slice(-4)).toEqual(['-- END PROG LOAD LOG --', "libbpf: prog 'xdp_map_null': failed to load: -13", "libbpf: failed to load object 'negative/xdp_map_null.o'", '']);
    expect(await ip(h, 'link', 'set', 'veth0', 'xdp', 'foo')).toEqual({ rc: 255, out: '', err: 'What mode is "foo"?\n' });
    expect(await ip(h, 'link', 'set', 'veth0', 'xdp', 'obj')).toEqual({ rc: 255, out: '', err: 'Command line is not complete. Try option "help"\n' });
    expect(await ip(h, 'link', 'set', 'veth0', 'xdp', 'pinned', '/sys/fs/bpf/none')).toEqual({ rc: 255, out: '', err: "Couldn't retrieve pinned program '/sys/fs/bpf/none': No such file or directory\n" });
    expect(h.k.progs.nextAfter(0)).toBeUndefined();
  });

  it('attaches a pinned program', async () => {
    const h = makeTestHost();
    const { fd, prog } = h.obj('xdp_pass');
    h.sys.objPin(fd, '/sys/fs/bpf/p');
    h.sys.close(fd);
    expect((await ip(h, 'link', 'set', 'dev', 'veth1', 'xdpgeneric', 'pinned', '/sys/fs/bpf/p')).rc).toBe(0);
    expect(dev_xdp_prog(h.veth1, XDP_MODE_SKB)).toBe(prog);
  });

  it('mtu, up and down, with the kernel\'s range checks and the words iproute2 complains about', async () => {
    const h = makeTestHost();
    expect((await ip(h, 'link', 'set', 'veth0', 'mtu', '9000', 'down')).rc).toBe(0);
    expect(h.veth0.mtu).toBe(9000);
    expect((await ip(h, 'link', 'show', 'veth0')).out).toContain('<BROADCAST,MULTICAST> mtu 9000 qdisc noop state DOWN');
    expect(await ip(h, 'link', 'set', 'veth0', 'mtu', '10')).toEqual({ rc: 2, out: '', err: 'Error: mtu less than device minimum.\n' });
    expect(await ip(h, 'link', 'set', 'veth0', 'mtu', 'abc')).toEqual({ rc: 255, out: '', err: 'Error: argument "abc" is wrong: Invalid "mtu" value\n\n' });
    expect(await ip(h, 'link', 'set', 'veth0', 'mtu', '1500', 'mtu', '1400')).toMatchObject({ rc: 255, err: 'Error: duplicate "mtu": "1400" is the second value.\n' });
    expect(await ip(h, 'link', 'set', 'veth0', 'bogus')).toEqual({ rc: 255, out: '', err: 'Error: either "dev" is duplicate, or "bogus" is a garbage.\n' });
    expect(await ip(h, 'link', 'set', 'nosuch', 'up')).toEqual({ rc: 1, out: '', err: 'Cannot find device "nosuch"\n' });
    expect(await ip(h, 'link', 'set', 'up')).toEqual({ rc: 255, out: '', err: 'Not enough information: "dev" argument is required.\n' });
    expect(await ip(h, 'link', 'set')).toEqual({ rc: 255, out: '', err: 'Not enough information: "dev" argument is required.\n' });
    // With native XDP, veth caps the MTU at what a page holds.
    await ip(h, 'link', 'set', 'veth0', 'mtu', '1500', 'up', 'xdpdrv', 'obj', 'xdp_pass.o', 'sec', 'xdp');
    expect(await ip(h, 'link', 'set', 'veth0', 'mtu', '9000')).toEqual({ rc: 2, out: '', err: 'Error: mtu greater than device maximum.\n' });
  });

  it('xdpoffload loads the object for the device and attaches in offload mode; multi-attach shows xdpmulti', async () => {
    const h = makeTestHost();
    const sdev = await NsimDev.create(h.k, { ports: 1, names: ['sim0'] });
    expect(await ip(h, 'link', 'set', 'dev', 'sim0', 'xdpoffload', 'obj', 'xdp_pass.o', 'sec', 'xdp')).toEqual({ rc: 0, out: '', err: '' });
    const off = sdev.ports[0]!.bpf_offloaded_id;
    expect(off).toBeGreaterThan(0);
    expect(h.sys.progInfo(h.sys.progGetFdById(off)).ifindex).toBe(sdev.ports[0]!.netdev.ifindex);
    expect(await ip(h, 'link', 'set', 'dev', 'sim0', 'xdpdrv', 'obj', 'xdp_pass.o', 'sec', 'xdp')).toEqual({ rc: 0, out: '', err: '' });
    const out = (await ip(h, 'link', 'show', 'sim0')).out.split('\n');
    expect(out[0]).toMatch(/^4: sim0: <BROADCAST,MULTICAST> mtu 1500 xdpmulti qdisc noop/);
    expect(out[2]).toMatch(/^ {4}prog\/xdpdrv id \d+ name xdp_pass tag 614b434cd8324ecc jited $/);
    expect(out[3]).toBe(`    prog/xdpoffload id ${off} name xdp_pass tag 614b434cd8324ecc jited `);
    const js = JSON.parse((await ip(h, '-j', 'link', 'show', 'sim0')).out) as [{ xdp: { mode: number; prog?: unknown; attached: { mode: number }[] } }];
    expect(js[0].xdp.mode).toBe(4);
    expect(js[0].xdp.prog).toBeUndefined();
    expect(js[0].xdp.attached.map((a) => a.mode)).toEqual([1, 3]);
    expect(await ip(h, 'link', 'set', 'dev', 'sim0', 'xdp', 'off')).toEqual({ rc: 2, out: '', err: 'Error: More than one program loaded, unset mode is ambiguous.\n' });
    // An offloaded program cannot run on the host; a device-less one cannot be offloaded.
    expect((await ip(h, 'link', 'set', 'dev', 'veth0', 'xdpoffload', 'obj', 'xdp_pass.o', 'sec', 'xdp')).rc).toBe(255);
    expect(h.k.fds.size).toBe(1);
  });
});

describe('ip: options, objects and -batch', () => {
  it('reports unknown options and objects as iproute2 does', async () => {
    const h = makeTestHost();
    expect(await ip(h, '-x', 'link')).toEqual({ rc: 255, out: '', err: 'Option "-x" is unknown, try "ip -help".\n' });
    expect(await ip(h, 'foo')).toEqual({ rc: 1, out: '', err: 'Object "foo" is unknown, try "ip help".\n' });
    expect((await ip(h, 'route')).err).toBe("nfp-emu: 'ip route' is not emulated (ip link is)\n");
    expect((await ip(h, '-V')).out).toMatch(/^ip utility, iproute2-6\.1\.0/);
    expect((await ip(h)).rc).toBe(255);
  });

  it('-batch runs the lines in one process and stops at the first failure (unless -force)', async () => {
    const h = makeTestHost();
    const dir = mkdtempSync(join(tmpdir(), 'nfp-emu-ip-'));
    const file = join(dir, 'cmds');
    writeFileSync(file, `# attach, then fail, then never reached
link set dev veth0 xdpgeneric obj ${PROGS}xdp_pass.o sec xdp
link set dev veth0 xdpgeneric obj ${PROGS}xdp_pass.o sec xdp

link set dev veth1 mtu 1400
`);
    const r = await ip(h, '-batch', file);
    expect(r).toEqual({ rc: 1, out: '', err: `Error: XDP program already attached.\nCommand failed ${file}:3\n` });
    expect(h.veth1.mtu).toBe(1500);
    const f = await ip(h, '-force', '-batch', file);
    expect(f.rc).toBe(0);
    expect(h.veth1.mtu).toBe(1400);
  });

  it('never throws on malformed argument lists (a fixed-seed fuzz)', async () => {
    const h = makeTestHost();
    const words = ['link', 'l', 'set', 'show', 'dev', 'veth0', 'lo', 'nosuch', 'mtu', '0', '9000', '-1', 'up', 'down', 'xdp', 'xdpgeneric',
      'xdpdrv', 'xdpoffload', 'obj', 'sec', 'xdp', 'xdp_pass.o', 'pinned', 'off', 'none', '-s', '-j', '-force', 'help', '', '"', 'verbose'];
    let seed = 12345;
    const rnd = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    for (let t = 0; t < 300; t++) {
      const argv = Array.from({ length: 1 + rnd(8) }, () => words[rnd(words.length)]!);
      const r = await ip(h, ...argv);
      expect([0, 1, 2, 255], argv.join(' ')).toContain(r.rc);
    }
  });
});

describe('nfp-emu ip (the command line)', () => {
  it('boots a host with the NIC and shows its port', async () => {
    const { main } = await import('../../src/cli/main.js');
    let out = '';
    let err = '';
    const io = { stdout: { write: (s: string) => { out += s; return true; } }, stderr: { write: (s: string) => { err += s; return true; } } };
    const rc = await main(['node', 'nfp-emu', 'ip', '-d', 'link', 'show', 'nfp0'], io as never);
    expect(err).toBe('');
    expect(rc).toBe(0);
    expect(out).toMatch(/^2: nfp0: <BROADCAST,MULTICAST> mtu 1500 qdisc noop state DOWN mode DEFAULT group default qlen 1000\n {4}link\/ether 00:15:4d:00:00:00 brd ff:ff:ff:ff:ff:ff promiscuity 0 {2}allmulti 0 minmtu 68 maxmtu \d+ addrgenmode eui64 numtxqueues 8 numrxqueues 8 .* parentbus pci parentdev [0-9a-f:.]+ \n$/);
  });
});

describe('ip link set ... xdpoffload on the NIC', () => {
  it('offloads an object to nfp0, whose cores then drop what it drops; -s shows the counts; off removes it', async () => {
    const { createHost } = await import('../../src/host.js');
    const { startNicDatapath } = await import('../../src/scenario/nic.js');
    const host = await createHost({ firmwareMode: 'in-process' });
    const nic = await startNicDatapath(host, { mode: 'in-process' });
    try {
      const h = { k: host.kernel, sys: host.sys } as unknown as TestHost;
      const nfp0 = host.kernel.netdevs.dev_get_by_name('nfp0')!;
      expect(await ip(h, 'link', 'set', 'dev', 'nfp0', 'up', 'xdpoffload', 'obj', 'xdp_drop_udp9.o', 'sec', 'xdp')).toEqual({ rc: 0, out: '', err: '' });
      const show = (await ip(h, 'link', 'show', 'nfp0')).out.split('\n');
      expect(show[0]).toMatch(/^2: nfp0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 xdpoffload qdisc mq state UP/);
      expect(show[2]).toMatch(/^ {4}prog\/xdp id \d+ name xdp_drop_udp9 tag 40a375147501caa7 jited $/);
      const rep = await netif_receive(host.kernel, nfp0, [udp4Frame({ dstPort: 9 }), udp4Frame({ dstPort: 53 })], { repeat: 50 });
      expect(rep.verdicts.offload).toMatchObject({ drop: 50, pass: 50 });
      expect(rep.fates).toMatchObject({ drop: 50, pass: 50 });
      const s = (await ip(h, '-s', 'link', 'show', 'nfp0')).out.split('\n');
      expect(s[4]).toBe('          4200     100      0      50       0       0 ');
      expect((await ip(h, 'link', 'set', 'dev', 'nfp0', 'xdpoffload', 'off')).rc).toBe(0);
      expect((await netif_receive(host.kernel, nfp0, [udp4Frame({ dstPort: 9 })])).fates.pass).toBe(1);
    } finally {
      await nic?.stop();
      await host.shutdown();
    }
  });
});
