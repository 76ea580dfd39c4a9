// bpftool on device-bound maps and programs: what no golden file can hold, because this machine has
// no offload device (test/cli/bpftool-golden/offload.golden has what the real tool prints here: the
// refusals). The expected text below is built from the real bpftool v7.1's format strings, quoted
// next to each check (tools/bpf/bpftool/common.c print_dev_plain()/print_dev_json()/
// ifindex_to_bfd_params(), map.c, prog.c, jit_disasm.c of the libbfd build), from libbpf v1.1's (its
// lines of a device load), and from the bpftool checks of the kernel's
// tools/testing/selftests/net/bpf_offload.py, which runs them on netdevsim as these do on the
// emulated netdevsim and NIC.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BpfError } from '../../src/bpf/errno.js';
import { runBpftool, syscallFor } from '../../src/cli/bpftool/main.js';
import { hexPrint } from '../../src/cli/bpftool/prog.js';
import { NsimDev } from '../../src/drivers/netdevsim/netdevsim.js';
import { nfp_bpf_dev_ops } from '../../src/drivers/nfp/prog.js';
import { Kernel } from '../../src/kernel/kernel.js';
import { INIT_NET_NS, type BpfProgOffload, type BpfProgOffloadOps } from '../../src/kernel/offload.js';
import { BpfSyscall, type BpfMapInfo, type BpfProgInfo, type TestRunResult } from '../../src/kernel/syscall.js';
import { MBOX_FAULT } from '../../src/nic/mailbox.js';
import { bootHost, imageVariant, removeImageVariants, type TestHost } from '../drivers/helpers.js';

const ROOT = join(import.meta.dirname, '..', '..');
const MAP_RET0 = 'test/cli/bpftool-golden/xdp_map_ret0.o';
const PASS = 'test/progs/xdp_pass.o';
const tmp = mkdtempSync(join(tmpdir(), 'nfpemu-bpftool-offload-'));
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
  removeImageVariants();
});

interface Result {
  status: number;
  stdout: string;
  stderr: string;
}

/** bpftool processes on one emulated host. */
function tool(kernel: Kernel, sys: BpfSyscall = syscallFor(kernel)) {
  return async (cmd: string | readonly string[], stdin?: Uint8Array): Promise<Result> => {
    const argv = typeof cmd === 'string' ? cmd.split(/\s+/).filter((w) => w !== '') : cmd;
    let stdout = '';
    let stderr = '';
    const status = await runBpftool(argv, {
      kernel, sys, cwd: ROOT,
      stdout: { write: (s: string) => { stdout += s; } },
      stderr: { write: (s: string) => { stderr += s; } },
      ...(stdin !== undefined ? { readStdin: () => stdin } : {}),
    });
    return { status, stdout, stderr };
  };
}

/** A command's exit status: its return value as the process's 8 bits (-errno is 256 - errno). */
const exit = (ret: number): number => ret & 0xff;

/** print_dev_json(): "dev": {"ifindex", "ns_dev", "ns_inode"[, "ifname"]}, in that order. */
function devJson(ifindex: number, ifname?: string): string {
  const fields = `"ifindex":${ifindex},"ns_dev":${INIT_NET_NS.netns_dev},"ns_inode":${INIT_NET_NS.netns_ino}`;
  return `"dev":{${fields}${ifname !== undefined ? `,"ifname":"${ifname}"` : ''}}`;
}

/** bpf_offload.py's hex key and value of a u32 key and a long value, as bpftool's DATA words. */
const u32Words = (n: number): string => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24].join(' ');
const longWords = (n: number): string => `${u32Words(n)} 0 0 0 0`;
const hexBytes = (words: string): string => words.split(' ').map((w) => Number(w).toString(16).padStart(2, '0')).join(' ');

// ---------------------------------------------------------------------------------------------
// Maps on the NIC: every element command goes down the control channel and waits for the firmware.

async function nicHost(opts: Parameters<typeof bootHost>[0] = {}): Promise<{ h: TestHost; run: ReturnType<typeof tool> }> {
  const h = await bootHost(opts);
  return { h, run: tool(h.kernel, h.sys) };
}

describe('bpftool map on maps offloaded to the NIC (map create ... dev nfp0)', () => {
  it('creates them on the device and shows the device: "  offloaded_to nfp0" and "dev": {...}', async () => {
    const { h, run } = await nicHost();
    try {
      expect(await run('map create /sys/fs/bpf/h type hash key 4 value 8 entries 16 name offh dev nfp0')).toEqual({ status: 0, stdout: '', stderr: '' });
      expect(await run('-j map create /sys/fs/bpf/a type array key 4 value 4 entries 4 name offa dev nfp0')).toEqual({ status: 0, stdout: 'null\n', stderr: '' });
      // show_map_header_plain(): "%u: " type "  " "name %s  " "flags 0x%x", then print_dev_plain().
      const plain = await run('map show');
      expect(plain.status).toBe(0);
      expect(plain.stdout).toMatch(/^(\d+): hash {2}name offh {2}flags 0x0 {2}offloaded_to nfp0\n\tkey 4B {2}value 8B {2}max_entries 16 {2}memlock \d+B\n(\d+): array {2}name offa {2}flags 0x0 {2}offloaded_to nfp0\n\tkey 4B {2}value 4B {2}max_entries 4 {2}memlock \d+B\n$/);
      // show_map_close_json(): the header fields, print_dev_json(), then the sizes.
      const json = await run('-j map show pinned /sys/fs/bpf/h');
      expect(json.stdout).toContain(`"name":"offh","flags":0,${devJson(h.ifindex, 'nfp0')},"bytes_key":4,"bytes_value":8,"max_entries":16,`);
      const [info] = JSON.parse((await run('-j map list')).stdout) as { id: number; dev: { ifindex: number } }[];
      expect(info!.dev.ifindex).toBe(h.kernel.netdevs.dev_get_by_name('nfp0')!.ifindex);
      // The map is the device's: the kernel has it as an offloaded map.
      expect(h.kernel.maps.get(info!.id)!.constructor.name).toBe('BpfOffloadedMap');
    } finally {
      await h.shutdown();
    }
  });

  it('update, lookup, getnext, dump and delete go to the device and back', async () => {
    const { h, run } = await nicHost();
    try {
      await run('map create /sys/fs/bpf/h type hash key 4 value 8 entries 16 name offh dev nfp0');
      expect(await run(`map update pinned /sys/fs/bpf/h key ${u32Words(7)} value ${longWords(0x1234)}`)).toEqual({ status: 0, stdout: '', stderr: '' });
      expect((await run(`-j map update pinned /sys/fs/bpf/h key ${u32Words(9)} value ${longWords(5)} noexist`)).stdout).toBe('null\n');
      // What the device holds, asked without bpftool.
      const fd = h.sys.objGet('/sys/fs/bpf/h');
      expect([...await h.sys.mapLookupAsync({ map_fd: fd, key: Uint8Array.of(7, 0, 0, 0) })]).toEqual([0x34, 0x12, 0, 0, 0, 0, 0, 0]);
      h.sys.close(fd);
      // print_entry_plain(): "key: %s  value: %s" on one line when both fit.
      expect(await run(`map lookup pinned /sys/fs/bpf/h key ${u32Words(7)}`)).toEqual({ status: 0, stdout: `key: 07 00 00 00  value: ${hexBytes(longWords(0x1234))}\n`, stderr: '' });
      expect(JSON.parse((await run(`-j map lookup pinned /sys/fs/bpf/h key ${u32Words(9)}`)).stdout)).toEqual({ key: ['0x09', '0x00', '0x00', '0x00'], value: ['0x05', '0x00', '0x00', '0x00', '0x00', '0x00', '0x00', '0x00'] });
      const dump = await run('map dump pinned /sys/fs/bpf/h');
      expect(dump.status).toBe(0);
      expect(dump.stdout.split('\n').sort()).toEqual(['', 'Found 2 elements', `key: 07 00 00 00  value: ${hexBytes(longWords(0x1234))}`, `key: 09 00 00 00  value: ${hexBytes(longWords(5))}`].sort());
      const first = await run('map getnext pinned /sys/fs/bpf/h');
      expect(first.stdout).toMatch(/^key: None\nnext key:\n0[79] 00 00 00\n$/);
      expect(await run(`map delete pinned /sys/fs/bpf/h key ${u32Words(7)}`)).toEqual({ status: 0, stdout: '', stderr: '' });
      expect((await run('map dump pinned /sys/fs/bpf/h')).stdout).toBe(`key: 09 00 00 00  value: ${hexBytes(longWords(5))}\nFound 1 element\n`);
    } finally {
      await h.shutdown();
    }
  });

  it('prints the device\'s errors as bpftool does, with -errno as the exit status', async () => {
    const { h, run } = await nicHost();
    try {
      await run('map create /sys/fs/bpf/h type hash key 4 value 8 entries 16 name offh dev nfp0');
      await run('map create /sys/fs/bpf/a type array key 4 value 4 entries 4 name offa dev nfp0');
      await run(`map update pinned /sys/fs/bpf/h key ${u32Words(1)} value ${longWords(1)}`);
      // do_update(): p_err("update failed: %s", strerror(errno)) and libbpf's -errno.
      expect(await run(`map update pinned /sys/fs/bpf/h key ${u32Words(1)} value ${longWords(2)} noexist`)).toEqual({ status: exit(-17), stdout: '', stderr: 'Error: update failed: File exists\n' });
      expect(await run(`map update pinned /sys/fs/bpf/h key ${u32Words(2)} value ${longWords(2)} exist`)).toEqual({ status: exit(-2), stdout: '', stderr: 'Error: update failed: No such file or directory\n' });
      // An array's elements cannot be deleted (the driver: EINVAL).
      expect(await run('map delete pinned /sys/fs/bpf/a key 1 0 0 0')).toEqual({ status: exit(-22), stdout: '', stderr: 'Error: delete failed: Invalid argument\n' });
      // do_lookup() on a missing key: "key:\n%s\n\nNot found\n", or null in JSON.
      expect(await run('map lookup pinned /sys/fs/bpf/h key 9 0 0 0')).toEqual({ status: exit(-2), stdout: 'key:\n09 00 00 00\n\nNot found\n', stderr: '' });
      expect(await run('-j map lookup pinned /sys/fs/bpf/h key 9 0 0 0')).toEqual({ status: exit(-2), stdout: 'null\n', stderr: '' });
      expect(await run('map getnext pinned /sys/fs/bpf/h key 1 0 0 0')).toEqual({ status: exit(-2), stdout: '', stderr: 'Error: can\'t get next key: No such file or directory\n' });
      // No lookup-and-delete on a device: the kernel's ENOTSUPP, which strerror() does not know.
      expect(await run('map pop pinned /sys/fs/bpf/a')).toEqual({ status: exit(-524), stdout: '', stderr: 'Error: pop failed: Unknown error 524\n' });
      // The channel's failures: a lost reply times out, an unknown status is EIO.
      h.device!.mailbox.injectFault({ kind: MBOX_FAULT.DROP });
      expect(await run(`map lookup pinned /sys/fs/bpf/h key ${u32Words(1)}`)).toEqual({ status: exit(-110), stdout: '', stderr: 'Error: lookup failed: Connection timed out\n' });
      h.device!.mailbox.injectFault({ kind: MBOX_FAULT.CORRUPT_RC, arg: 99 });
      expect(await run(`map update pinned /sys/fs/bpf/h key ${u32Words(1)} value ${longWords(3)}`)).toEqual({ status: exit(-5), stdout: '', stderr: 'Error: update failed: Input/output error\n' });
    } finally {
      await h.shutdown();
    }
  });

  it('refuses what the device cannot create: "map create failed: %s"', async () => {
    const { h, run } = await nicHost();
    try {
      expect(await run('map create /sys/fs/bpf/x type lru_hash key 4 value 4 entries 4 name x dev nfp0')).toEqual({ status: 255, stdout: '', stderr: 'Error: map create failed: Invalid argument\n' });
      expect(await run('-j map create /sys/fs/bpf/x type hash key 4 value 4 entries 4 name x flags 1 dev nfp0')).toEqual({ status: 255, stdout: '{"error":"map create failed: Invalid argument"}\n', stderr: '' });
      expect(await run('map create /sys/fs/bpf/x type hash key 4 value 4 entries 4 name x dev nfp1')).toEqual({ status: 255, stdout: '', stderr: 'Error: unrecognized netdevice \'nfp1\': No such device\n' });
      expect(await run('map create /sys/fs/bpf/x type hash key 4 value 4 entries 4 dev nfp0 name x dev nfp0')).toEqual({ status: 255, stdout: '', stderr: 'Error: offload device already specified\n' });
      expect(h.kernel.maps.nextAfter(0)).toBeUndefined();
    } finally {
      await h.shutdown();
    }
  });

  it('after the device is gone: "No such device", for a command in flight and for every later one', async () => {
    const { h, run } = await nicHost({ cmsgTimeoutMs: 2000 });
    await run('map create /sys/fs/bpf/h type hash key 4 value 8 entries 16 name offh dev nfp0');
    await run('map pin pinned /sys/fs/bpf/h /sys/fs/bpf/h2');
    // -f: both pins of the map, with its device.
    expect((await run('-f map show pinned /sys/fs/bpf/h')).stdout).toMatch(/offloaded_to nfp0\n\tkey 4B {2}value 8B {2}max_entries 16 {2}memlock \d+B\n\tpinned \/sys\/fs\/bpf\/h2?\n\tpinned \/sys\/fs\/bpf\/h2?\n$/);
    // The reply is late; the card vanishes meanwhile.
    h.device!.mailbox.injectFault({ kind: MBOX_FAULT.DELAY, arg: 500 });
    const inFlight = run(`map lookup pinned /sys/fs/bpf/h key ${u32Words(1)}`);
    await new Promise((r) => setTimeout(r, 20));
    await h.nfp!.remove({ surprise: true });
    expect(await inFlight).toEqual({ status: exit(-19), stdout: '', stderr: 'Error: lookup failed: No such device\n' });
    await h.kernel.offload.settle();
    // map_parse_fd_and_info(): "can't get map info: %s" (exit -1); do_show_subset() returns libbpf's -errno.
    expect(await run(`map lookup pinned /sys/fs/bpf/h key ${u32Words(1)}`)).toEqual({ status: 255, stdout: '', stderr: 'Error: can\'t get map info: No such device\n' });
    expect(await run('map show pinned /sys/fs/bpf/h2')).toEqual({ status: exit(-19), stdout: '', stderr: 'Error: can\'t get map info: No such device\n' });
    expect(await run('-j map show pinned /sys/fs/bpf/h')).toEqual({ status: exit(-19), stdout: '{"error":"can\'t get map info: No such device"}\n', stderr: '' });
    // maps_have_btf() meets it first in a dump.
    expect(await run('map dump pinned /sys/fs/bpf/h')).toEqual({ status: 255, stdout: '', stderr: 'Error: can\'t get map info: No such device\n' });
    // The orphan has no id any more: the list is empty.
    expect(await run('map show')).toEqual({ status: 0, stdout: '', stderr: '' });
    await h.shutdown();
  });

  it('runs a batch of device commands in order, each waiting for the one before', async () => {
    const { h, run } = await nicHost();
    try {
      const file = join(tmp, 'offload-batch.txt');
      writeFileSync(file, [
        'map create /sys/fs/bpf/b type array key 4 value 4 entries 2 name offb dev nfp0',
        'map update pinned /sys/fs/bpf/b key 1 0 0 0 value 0xaa 0 0 0',
        'map lookup pinned /sys/fs/bpf/b key 1 0 0 0',
        'map dump pinned /sys/fs/bpf/b',
        '',
      ].join('\n'));
      expect(await run(`batch file ${file}`)).toEqual({
        status: 0, stderr: '',
        stdout: 'key: 01 00 00 00  value: aa 00 00 00\nkey: 00 00 00 00  value: 00 00 00 00\nkey: 01 00 00 00  value: aa 00 00 00\nFound 2 elements\nprocessed 4 commands\n',
      });
    } finally {
      await h.shutdown();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Programs and their maps on netdevsim: the bpftool checks of bpf_offload.py.

async function nsimHost(ports = 1) {
  const kernel = new Kernel({ cpus: 2 });
  const sdev = await NsimDev.create(kernel, { ports });
  return { kernel, sdev, run: tool(kernel), ifindex: sdev.ports[0]!.netdev.ifindex };
}

/** libbpf v1.1 on a device map with BTF: the device refuses BTF (ENOTSUPP), libbpf retries without. */
const retryWithoutBtf = (map: string): string => `libbpf: Error in bpf_create_map_xattr(${map}):ERROR: strerror_r(-524)=22(-524). Retrying without BTF.\n`;

describe('bpftool prog load ... dev on netdevsim (bpf_offload.py)', () => {
  it('binds the program and every map to the device and shows the device info of all three', async () => {
    const { kernel, run, ifindex } = await nsimHost();
    // bpf_object__create_map() warns once per map (libbpf_strerror_r() cannot name ENOTSUPP: glibc's
    // XSI strerror_r() fails with EINVAL, checked against this machine's libbpf.a).
    expect(await run(`prog load ${MAP_RET0} /sys/fs/bpf/p dev eni0np1`)).toEqual({ status: 0, stdout: '', stderr: retryWithoutBtf('htab') + retryWithoutBtf('array') });
    const plain = await run('prog show pinned /sys/fs/bpf/p');
    // print_prog_header_plain(): "tag %s", print_dev_plain() "  offloaded_to %s", then "  gpl".
    expect(plain.stdout).toMatch(/^\d+: xdp {2}name xdp_map_ret0 {2}tag 6d64057ec781fd83 {2}offloaded_to eni0np1 {2}gpl\n\tloaded_at \S+ {2}uid 0\n\txlated \d+B {2}jited \d+B {2}memlock \d+B {2}map_ids (\d+),(\d+)\n/);
    const prog = JSON.parse((await run('-j prog show pinned /sys/fs/bpf/p')).stdout) as { map_ids: number[]; jited: boolean };
    expect((await run('-j prog show pinned /sys/fs/bpf/p')).stdout).toContain(`"gpl_compatible":true,${devJson(ifindex, 'eni0np1')},"loaded_at":`);
    expect(prog.jited).toBe(true);
    for (const id of prog.map_ids) {
      expect((await run(`map show id ${id}`)).stdout).toMatch(new RegExp(`^${id}: (hash {2}name htab|array {2}name array) {2}flags 0x0 {2}offloaded_to eni0np1\\n`));
      expect((await run(`-j map show id ${id}`)).stdout).toContain(`"flags":0,${devJson(ifindex, 'eni0np1')},`);
      expect(kernel.maps.get(id)!.constructor.name).toBe('BpfOffloadedMap');
    }
    // A program without a device has no "dev" (bpf_offload.py: "Test bpftool bound info reporting").
    await run(`prog load ${PASS} /sys/fs/bpf/host`);
    expect((await run('-j prog show pinned /sys/fs/bpf/host')).stdout).not.toContain('"dev"');
    // bpftool v7.2's spelling of the option is taken too; loadall binds every program.
    expect((await run(`prog loadall ${PASS} /sys/fs/bpf/all offload_dev eni0np1`)).status).toBe(0);
    expect((await run('prog show pinned /sys/fs/bpf/all/xdp_pass')).stdout).toContain('  offloaded_to eni0np1  gpl\n');
  });

  it('reports the device by ifindex and namespace when it is not in bpftool\'s namespace (no ifname)', async () => {
    const { kernel, ifindex } = await nsimHost();
    class OtherNs extends BpfSyscall {
      override progInfo(fd: number): BpfProgInfo {
        return { ...super.progInfo(fd), netns_ino: 0xf0000123n };
      }

      override mapInfo(fd: number): BpfMapInfo {
        return { ...super.mapInfo(fd), netns_ino: 0xf0000123n };
      }
    }
    const run = tool(kernel, new OtherNs(kernel));
    await run(`prog load ${MAP_RET0} /sys/fs/bpf/p dev eni0np1`);
    // print_dev_plain(): "ifindex %u ns_dev %llu ns_ino %llu"; print_dev_json() leaves ifname out.
    expect((await run('prog show pinned /sys/fs/bpf/p')).stdout).toContain(`tag 6d64057ec781fd83  offloaded_to ifindex ${ifindex} ns_dev ${INIT_NET_NS.netns_dev} ns_ino ${0xf0000123}  gpl\n`);
    expect((await run('-j map show name htab')).stdout).toContain(`"dev":{"ifindex":${ifindex},"ns_dev":${INIT_NET_NS.netns_dev},"ns_inode":${0xf0000123}},`);
    // ifindex_to_bfd_params() has no name to read sysfs with.
    expect(await run('prog dump jited pinned /sys/fs/bpf/p')).toEqual({ status: 255, stdout: '', stderr: `Error: Can't get net device name for ifindex ${ifindex}: Success\n` });
  });

  it('updates, dumps, walks and deletes the device maps as bpf_offload.py expects', async () => {
    const { run } = await nsimHost();
    await run(`prog load ${MAP_RET0} /sys/fs/bpf/p dev eni0np1`);
    for (const m of ['htab', 'array']) {
      for (let i = 0; i < 2; i++) expect((await run(`map update name ${m} key ${u32Words(i)} value ${longWords(i)}`)).status, `${m} ${i}`).toBe(0);
    }
    // "added too many entries": netdevsim keeps two.
    expect(await run(`map update name htab key ${u32Words(3)} value ${longWords(3)}`)).toEqual({ status: exit(-7), stdout: '', stderr: 'Error: update failed: Argument list too long\n' });
    for (let i = 0; i < 2; i++) expect((await run(`map update name htab key ${u32Words(i)} value ${longWords(i * 3)} exist`)).status).toBe(0);
    expect((await run(`map update name htab key ${u32Words(3)} value ${longWords(3)} exist`)).stderr).toBe('Error: update failed: No such file or directory\n');
    expect((await run(`map update name htab key ${u32Words(0)} value ${longWords(3)} noexist`)).stderr).toBe('Error: update failed: File exists\n');
    const dump = JSON.parse((await run('-j map dump name htab')).stdout) as { key: string[]; value: string[] }[];
    expect(dump.map((e) => [Number(e.key[0]), Number(e.value[0])])).toEqual([[0, 0], [1, 3]]);
    // getnext: no key gives 0, 0 gives 1, 1 is the end.
    expect(JSON.parse((await run('-j map getnext name htab')).stdout)).toEqual({ key: null, next_key: ['0x00', '0x00', '0x00', '0x00'] });
    expect(JSON.parse((await run(`-j map getnext name htab key ${u32Words(0)}`)).stdout)).toMatchObject({ next_key: ['0x01', '0x00', '0x00', '0x00'] });
    expect((await run(`map getnext name htab key ${u32Words(1)}`)).stderr).toBe('Error: can\'t get next key: No such file or directory\n');
    expect((await run(`map delete name htab key ${u32Words(0)}`)).status).toBe(0);
    expect((await run(`map delete name htab key ${u32Words(0)}`)).stderr).toBe('Error: delete failed: No such file or directory\n');
    expect((await run(`map delete name array key ${u32Words(0)}`)).stderr).toBe('Error: delete failed: Invalid argument\n');
  });

  it('dumps the xlated program; jited needs the device\'s PCI vendor, which netdevsim has not', async () => {
    const { run } = await nsimHost();
    await run(`prog load ${MAP_RET0} /sys/fs/bpf/p dev eni0np1`);
    const xlated = await run('prog dump xlated pinned /sys/fs/bpf/p');
    expect(xlated.status).toBe(0);
    expect(xlated.stdout).toContain('   0: (b7) r1 = 0\n');
    expect(xlated.stdout).toMatch(/ {3}4: \(18\) r1 = map\[id:\d+\]\n {3}6: \(85\) call bpf_map_lookup_elem#1\n/);
    // read_sysfs_hex_int(): "Can't open %s: %s"; ifindex_to_bfd_params(): "Can't get device vendor id for %s".
    expect(await run('prog dump jited pinned /sys/fs/bpf/p')).toEqual({
      status: 255, stdout: '',
      stderr: 'Error: Can\'t open /sys/class/net/eni0np1/device/vendor: No such file or directory\nError: Can\'t get device vendor id for eni0np1\n',
    });
    // The kernel has no test run for an offloaded program without a driver that runs it: ENOTSUPP.
    writeFileSync(join(tmp, 'pkt.bin'), new Uint8Array(64));
    expect(await run(`prog run pinned /sys/fs/bpf/p data_in ${join(tmp, 'pkt.bin')}`)).toEqual({ status: exit(-524), stdout: '', stderr: 'Error: failed to run program: Unknown error 524\n' });
  });

  it('after the device is removed: "can\'t get prog info: No such device" and ENODEV for the maps', async () => {
    const { kernel, sdev, run } = await nsimHost();
    await run(`prog load ${MAP_RET0} /sys/fs/bpf/p dev eni0np1 pinmaps /sys/fs/bpf/m`);
    await sdev.remove();
    await kernel.offload.settle();
    // show_prog(): p_err("can't get prog info: %s") and -1.
    expect(await run('prog show pinned /sys/fs/bpf/p')).toEqual({ status: 255, stdout: '', stderr: 'Error: can\'t get prog info: No such device\n' });
    // do_dump(): the same words, and libbpf's -errno.
    expect(await run('prog dump xlated pinned /sys/fs/bpf/p')).toEqual({ status: exit(-19), stdout: '', stderr: 'Error: can\'t get prog info: No such device\n' });
    expect(await run('map show pinned /sys/fs/bpf/m/htab')).toEqual({ status: exit(-19), stdout: '', stderr: 'Error: can\'t get map info: No such device\n' });
    expect(await run('map show')).toEqual({ status: 0, stdout: '', stderr: '' });
  });

  // bpf_offload.py: "bpftool_prog_list(expected=0)" once the device is gone: the orphaned program
  // lost its id (bpf_prog_free_id in __bpf_prog_offload_destroy), though its pin keeps it alive.
  it('lists no program once its device is gone', async () => {
    const { kernel, sdev, run } = await nsimHost();
    await run(`prog load ${PASS} /sys/fs/bpf/p dev eni0np1`);
    await sdev.remove();
    await kernel.offload.settle();
    expect(await run('prog show')).toEqual({ status: 0, stdout: '', stderr: '' });
  });
});

// ---------------------------------------------------------------------------------------------
// bpftool net: XDP per device and mode, with offload (net.golden has the modes lo can take).

describe('bpftool net with offloaded XDP (netdevsim)', () => {
  it('attaches a device program in offload mode, next to a driver-mode one, and lists both', async () => {
    const { kernel, run, ifindex } = await nsimHost();
    await run(`prog load ${PASS} /sys/fs/bpf/dev dev eni0np1`);
    await run(`prog load ${MAP_RET0} /sys/fs/bpf/host`);
    const id = async (pin: string): Promise<number> => (JSON.parse((await run(`-j prog show pinned ${pin}`)).stdout) as { id: number }).id;
    const devId = await id('/sys/fs/bpf/dev');
    const hostId = await id('/sys/fs/bpf/host');
    expect(await run('net attach xdpoffload pinned /sys/fs/bpf/dev dev eni0np1')).toEqual({ status: 0, stdout: '', stderr: '' });
    // do_xdp_dump_one(): "%s(%d)", then xdp_dump_prog_id()'s " %s" " id %u".
    expect((await run('net show')).stdout).toBe(`xdp:\neni0np1(${ifindex}) offload id ${devId}\n\ntc:\n\nflow_dissector:\n\n`);
    // A device program only in HW mode (dev_xdp_attach()'s words, as libbpf prints the extack).
    expect(await run('net attach xdpdrv pinned /sys/fs/bpf/dev dev eni0np1')).toEqual({
      status: exit(-22), stdout: '',
      stderr: 'libbpf: Kernel error message: Using offloaded program without HW_MODE flag is not supported\nError: interface xdpdrv attach failed: Invalid argument\n',
    });
    expect((await run('net attach xdpdrv pinned /sys/fs/bpf/host dev eni0np1')).status).toBe(0);
    // XDP_ATTACHED_MULTI: each mode's id, "multi_attachments" in JSON.
    expect((await run('net show dev eni0np1')).stdout).toBe(`xdp:\neni0np1(${ifindex}) driver id ${hostId} offload id ${devId}\n\ntc:\n\nflow_dissector:\n\n`);
    expect(JSON.parse((await run('-j net show dev eni0np1')).stdout)).toEqual([{
      xdp: [{ devname: 'eni0np1', ifindex, multi_attachments: [{ mode: 'driver', id: hostId }, { mode: 'offload', id: devId }] }], tc: [], flow_dissector: [],
    }]);
    // Two programs: detaching needs the mode.
    expect((await run('net detach xdpoffload dev eni0np1')).status).toBe(0);
    expect((await run('net show')).stdout).toBe(`xdp:\neni0np1(${ifindex}) driver id ${hostId}\n\ntc:\n\nflow_dissector:\n\n`);
    expect((await run('net detach xdp dev eni0np1')).status).toBe(0);
    expect((await run('net show')).stdout).toBe('xdp:\n\ntc:\n\nflow_dissector:\n\n');
    expect(kernel.fds.size).toBe(0);
  });

  it('refuses a program bound to another device, and a host program in offload mode', async () => {
    const { kernel, run } = await nsimHost();
    const other = await NsimDev.create(kernel, { id: 1 });
    await run(`prog load ${PASS} /sys/fs/bpf/dev dev eni0np1`);
    await run(`prog load ${PASS} /sys/fs/bpf/host`);
    expect(await run(`net attach xdpoffload pinned /sys/fs/bpf/dev dev ${other.ports[0]!.netdev.name}`)).toEqual({
      status: exit(-22), stdout: '',
      stderr: 'libbpf: Kernel error message: Program bound to different device\nError: interface xdpoffload attach failed: Invalid argument\n',
    });
    const r = await run('net attach xdpoffload pinned /sys/fs/bpf/host dev eni0np1');
    expect(r.status).toBe(exit(-22));
    expect(r.stderr).toMatch(/^libbpf: Kernel error message: netdevsim: xdpoffload of non-bound program\nError: interface xdpoffload attach failed: Invalid argument\n$/);
  });
});

// ---------------------------------------------------------------------------------------------
// prog dump jited of a program on the NIC: the NFP disassembly, as the libbfd build prints it.

/**
 * A hand-made NFP image, [code-store word, nfp-dis.c text] (the binutils testsuite's objdump of
 * NFP-6xxx code, as test/nic/isa.test.ts has them). Eleven words, so the PC prefix gets its padding.
 */
const IMAGE: readonly (readonly [bigint, string])[] = [
  [0x000540f0012cd000n, 'immed[gprA_0, 0x1234]'], [0x000880a0a00c2400n, 'alu[*l$index0, gprA_0, +, 0x9]'],
  [0x000e40a0c0000402n, 'alu[gprA_0, gprB_1, +, gprA_2]'], [0x000000f00ff003ffn, 'immed[gprB_0, 0xffff]'],
  [0x0005a081f200da00n, 'alu_shf[--, --, B, 0x16, <<1]'], [0x000000f0000c0300n, 'nop'],
  [0x000000f0000c0300n, 'nop'], [0x000000f0000c0300n, 'nop'], [0x000000f0000c0300n, 'nop'],
  [0x000000f0000c0300n, 'nop'], [0x000000f0000c0300n, 'nop'],
];

function imageBytes(): Uint8Array {
  const b = new Uint8Array(IMAGE.length * 8);
  const dv = new DataView(b.buffer);
  IMAGE.forEach(([w], i) => dv.setBigUint64(i * 8, w, true));
  return b;
}

/**
 * Program offload ops for the NIC's offload device that verify nothing and "translate" to IMAGE, in
 * place of the NFP JIT (src/drivers/nfp/jit*.ts, not there yet); optionally a test run.
 */
function handMadeOps(testRun?: () => TestRunResult): BpfProgOffloadOps {
  return {
    prepare: () => {},
    insn_hook: () => {},
    finalize: () => {},
    replace_insn: () => {},
    remove_insns: () => {},
    translate: (offload: BpfProgOffload) => { offload.jited_image = imageBytes(); },
    destroy: () => {},
    ...(testRun !== undefined ? { test_run: () => Promise.resolve(testRun()) } : {}),
  };
}

async function nicWithImage(firmware?: string, testRun?: () => TestRunResult) {
  const { h, run } = await nicHost(firmware !== undefined ? { firmware } : {});
  const offdev = h.nfp!.bpf!.bpf_dev;
  const original = offdev.ops;
  Object.assign(offdev, { ops: handMadeOps(testRun) });
  expect((await run(`prog load ${PASS} /sys/fs/bpf/p dev nfp0`)).status).toBe(0);
  return { h, run, original };
}

describe('bpftool prog dump jited of a program on the NIC', () => {
  it('disassembles the image as NFP-6xxx with ctx4: "%4x:\\t" and nfp-dis.c\'s line per word', async () => {
    const { h, run } = await nicWithImage();
    try {
      const expected = IMAGE.map(([, text], i) => `${(i * 8).toString(16).padStart(4)}:\t${i < 10 ? ' ' : ''}.${i}  ${text}\n`).join('');
      expect(await run('prog dump jited pinned /sys/fs/bpf/p')).toEqual({ status: 0, stdout: expected, stderr: '' });
      // opcodes: "\n\t" and "%02x " for each byte of the word.
      const withBytes = IMAGE.map(([w, text], i) => {
        const bytes = Array.from({ length: 8 }, (_, k) => `${((w >> BigInt(8 * k)) & 0xffn).toString(16).padStart(2, '0')} `).join('');
        return `${(i * 8).toString(16).padStart(4)}:\t${i < 10 ? ' ' : ''}.${i}  ${text}\n\t${bytes}\n`;
      }).join('');
      expect((await run('prog dump jited pinned /sys/fs/bpf/p opcodes')).stdout).toBe(withBytes);
      // JSON: {"pc": "0x%x", "operation": the first piece nfp-dis.c prints (its PC prefix), "operands"}.
      const json = JSON.parse((await run('-j prog dump jited pinned /sys/fs/bpf/p opcodes')).stdout) as { pc: string; operation: string; operands: string[]; opcodes: string[] }[];
      expect(json.map((x) => x.pc)).toEqual(IMAGE.map((_, i) => `0x${(i * 8).toString(16)}`));
      expect(json.map((x) => x.operation)).toEqual(IMAGE.map((_, i) => `${i < 10 ? ' ' : ''}.${i}`));
      expect(json.map((x) => x.operands.join(''))).toEqual(IMAGE.map(([, t]) => t));
      expect(json[0]!.opcodes).toEqual(['0x00', '0xd0', '0x2c', '0x01', '0xf0', '0x40', '0x05', '0x00']);
      // prog show: the image's length is jited_prog_len.
      expect((await run('prog show pinned /sys/fs/bpf/p')).stdout).toContain(`  offloaded_to nfp0  gpl\n`);
      expect((await run('prog show pinned /sys/fs/bpf/p')).stdout).toContain(`  jited ${IMAGE.length * 8}B  `);
      // file: the image's bytes.
      const file = join(tmp, 'jited.bin');
      expect(await run(`prog dump jited pinned /sys/fs/bpf/p file ${file}`)).toEqual({ status: 0, stdout: '', stderr: '' });
      expect(new Uint8Array(readFileSync(file))).toEqual(imageBytes());
      // Several programs: each with its header, a blank line between.
      await run(`prog load ${PASS} /sys/fs/bpf/p2 dev nfp0`);
      const both = await run('prog dump jited name xdp_pass');
      expect(both.stdout.split(/\n(?=\d+: xdp)/).map((part) => part.replace(/^.*\n/, ''))).toEqual([expected, expected]);
      // A host program is still this bpftool's: no libbfd.
      await run(`prog load ${PASS} /sys/fs/bpf/host`);
      expect(await run('prog dump jited pinned /sys/fs/bpf/host')).toEqual({ status: 255, stdout: '', stderr: 'Error: No libbfd support\n' });
    } finally {
      await h.shutdown();
    }
  });

  it('says so for an NFP device id it does not know, and refuses another vendor', async () => {
    const unknownId = imageVariant('nfp-bpf-60c', (doc) => { doc['name'] = 'nfp-bpf-60c-dev1234'; doc['pci'] = { vendor: 0x19ee, device: 0x1234 }; });
    const a = await nicWithImage(unknownId);
    try {
      const r = await a.run('prog dump jited pinned /sys/fs/bpf/p');
      expect(r.stderr).toBe('Unknown NFP device ID, assuming it is NFP-6xxx arch\n');
      expect(r.stdout.split('\n')).toHaveLength(IMAGE.length + 1);
      // p_info() is silent in JSON.
      expect((await a.run('-j prog dump jited pinned /sys/fs/bpf/p')).stderr).toBe('');
    } finally {
      await a.h.shutdown();
    }
    const intel = imageVariant('nfp-bpf-60c', (doc) => { doc['name'] = 'nfp-bpf-60c-intel'; doc['pci'] = { vendor: 0x8086, device: 0x4000 }; });
    const b = await nicWithImage(intel);
    try {
      expect(await b.run('prog dump jited pinned /sys/fs/bpf/p')).toEqual({ status: 255, stdout: '', stderr: 'Error: Can\'t get bfd arch name for device vendor id 0x8086\n' });
    } finally {
      await b.h.shutdown();
    }
  });

  it('prog run: on the device when its driver runs programs, else the kernel\'s ENOTSUPP', async () => {
    const pkt = new Uint8Array(64).fill(7);
    const ran = await nicWithImage(undefined, () => ({ retval: 3, duration: 25, data_size_out: pkt.length, data_out: pkt }));
    try {
      // The output packet as hex_print() shows it (checked against the real tool in prog-ops.golden).
      expect(await ran.run('prog run pinned /sys/fs/bpf/p data_in - data_out -', pkt)).toEqual({ status: 0, stdout: `${hexPrint(pkt)}Return value: 3, duration: 25ns\n`, stderr: '' });
    } finally {
      await ran.h.shutdown();
    }
    const none = await nicWithImage();
    try {
      expect(await none.run('prog run pinned /sys/fs/bpf/p data_in -', pkt)).toEqual({ status: exit(-524), stdout: '', stderr: 'Error: failed to run program: Unknown error 524\n' });
    } finally {
      await none.h.shutdown();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// End to end with the nfp driver's own verifier hook and JIT.

/**
 * The NIC with its driver's program-offload ops: the probe's when it registers them, else
 * nfp_bpf_dev_ops installed here (what the probe's bpf_offload_dev_create() is to pass).
 */
async function nicWithNfpJit() {
  const { h, run } = await nicHost();
  const offdev = h.nfp!.bpf!.bpf_dev;
  if (offdev.ops === null) Object.assign(offdev, { ops: nfp_bpf_dev_ops });
  return { h, run };
}

/** The nfp verifier's support table (nfp-offload-facts §1.6) for the shipped 60-core image's capabilities. */
// bpf_tail_call: nfp-emu's paper-only tail calls, which the default firmware (nfp-bpf-60c) advertises.
const NFP_HELPERS = ['bpf_map_lookup_elem', 'bpf_map_update_elem', 'bpf_map_delete_elem', 'bpf_get_prandom_u32', 'bpf_tail_call', 'bpf_perf_event_output', 'bpf_xdp_adjust_head', 'bpf_xdp_adjust_tail'];

describe('bpftool with the nfp driver\'s JIT', () => {
  it('loads a program for nfp0, shows its NFP image and dumps it: one line per word, the prefetch NOPs last', async () => {
    const { h, run } = await nicWithNfpJit();
    try {
      expect(await run(`prog load test/progs/xdp_drop_udp9.o /sys/fs/bpf/d dev nfp0`)).toEqual({ status: 0, stdout: '', stderr: '' });
      const show = (await run('prog show pinned /sys/fs/bpf/d')).stdout;
      expect(show).toContain('  offloaded_to nfp0  gpl\n');
      const bytes = Number(/ jited (\d+)B /.exec(show)![1]);
      expect(bytes % 8).toBe(0);
      const dump = await run('prog dump jited pinned /sys/fs/bpf/d');
      expect(dump.status).toBe(0);
      const lines = dump.stdout.split('\n').slice(0, -1);
      expect(lines).toHaveLength(bytes / 8);
      lines.forEach((l, i) => expect(l).toMatch(new RegExp(`^${(i * 8).toString(16).padStart(4)}:\\t *\\.${i}  \\S`)));
      // NFP_USTORE_PREFETCH_WINDOW: the JIT ends the image with 8 NOPs.
      expect(lines.slice(-8).map((l) => l.replace(/^.*  /, ''))).toEqual(Array(8).fill('nop'));
      // The device's image, not the host's: xlated is the BPF program.
      expect((await run('prog dump xlated pinned /sys/fs/bpf/d')).stdout).toContain('   1: (61) r2 = *(u32 *)(r1 +4)\n');
    } finally {
      await h.shutdown();
    }
  });

  it('refuses what the NIC cannot run, with the [nfp] line in the verifier log libbpf prints', async () => {
    const { h, run } = await nicWithNfpJit();
    try {
      const r = await run('prog load test/progs/xdp_fib.o /sys/fs/bpf/f dev nfp0');
      expect(r.status).toBe(255);
      expect(r.stderr).toMatch(/^libbpf: prog 'xdp_fib_fwd': BPF program load failed: Operation not supported\nlibbpf: prog 'xdp_fib_fwd': -- BEGIN PROG LOAD LOG --\n/);
      expect(r.stderr).toMatch(/\n\[nfp\] [^\n]+\nprocessed \d+ insns [^\n]*\n-- END PROG LOAD LOG --\nlibbpf: prog 'xdp_fib_fwd': failed to load: -95\nlibbpf: failed to load object 'test\/progs\/xdp_fib.o'\nError: failed to load object file\n/);
      expect(h.kernel.progs.nextAfter(0)).toBeUndefined();
    } finally {
      await h.shutdown();
    }
  });

  it('feature probe dev nfp0: the helpers the nfp verifier takes with this firmware', async () => {
    const { h, run } = await nicWithNfpJit();
    try {
      const json = JSON.parse((await run('-j feature probe dev nfp0')).stdout) as { program_types: Record<string, boolean>; helpers: Record<string, string[]> };
      expect(json.program_types).toEqual({ have_sched_cls_prog_type: true, have_xdp_prog_type: true });
      expect(json.helpers['xdp_available_helpers']).toEqual(NFP_HELPERS);
      expect(json.helpers['sched_cls_available_helpers']).toEqual(NFP_HELPERS);
    } finally {
      await h.shutdown();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// bpftool feature probe dev NAME (feature.golden has the loopback, which offloads nothing)

/** The helpers bpftool v7.1 knows (ids 1..209), less the three it probes only with `full`. */
const V7_1_HELPERS = 209;

describe('bpftool feature probe dev', () => {
  it('on netdevsim: both program types, both map types, and every helper (nothing in the log names one unknown)', async () => {
    const { run } = await nsimHost();
    const r = await run('feature probe dev eni0np1');
    expect(r.status).toBe(0);
    // print_start_section()/print_bool_feature(): "%s is %savailable\n", a blank line after each section.
    expect(r.stdout).toMatch(/^Scanning system call availability\.\.\.\nbpf\(\) syscall is available\n\nScanning eBPF program types\.\.\.\neBPF program_type sched_cls is available\neBPF program_type xdp is available\n\nScanning eBPF map types\.\.\.\neBPF map_type hash is available\neBPF map_type array is available\n\nScanning eBPF helper functions\.\.\.\neBPF helpers supported for program type sched_cls:\n\t- bpf_map_lookup_elem\n/);
    // A socket filter cannot be bound to a device: the misc probes say NOT.
    expect(r.stdout).toMatch(/\n\nScanning miscellaneous eBPF features\.\.\.\nLarge program size limit is NOT available\nBounded loop support is NOT available\nISA extension v2 is NOT available\nISA extension v3 is NOT available\n\n$/);
    // The kernel's words for a helper a program type cannot use ("program of this type cannot use
    // helper") are not the ones v7.1 looks for, so every helper counts — as on a real 6.x kernel.
    const json = JSON.parse((await run('-j feature probe dev eni0np1')).stdout) as { helpers: Record<string, string[]>; program_types: Record<string, boolean>; misc: Record<string, boolean> };
    expect(json.program_types).toEqual({ have_sched_cls_prog_type: true, have_xdp_prog_type: true });
    expect(json.helpers['xdp_available_helpers']).toHaveLength(V7_1_HELPERS - 3);
    expect(json.helpers['xdp_available_helpers']).not.toContain('bpf_trace_printk');
    expect(Object.values(json.misc)).toEqual([false, false, false, false]);
    const full = JSON.parse((await run('-j feature probe dev eni0np1 full')).stdout) as { helpers: Record<string, string[]> };
    expect(full.helpers['sched_cls_available_helpers']).toHaveLength(V7_1_HELPERS);
    expect((await run('feature probe dev eni0np1 macros prefix P_')).stdout).toContain('#define P_HAVE_XDP_PROG_TYPE\n\n/*** eBPF map types ***/\n#define P_HAVE_HASH_MAP_TYPE\n');
  });

  it('on the NIC: the helpers the device\'s verifier refuses ("unsupported function id") are left out', async () => {
    const { h, run } = await nicHost();
    try {
      // Before program offload: the maps are the device's, the program types are not.
      const before = JSON.parse((await run('-j feature probe dev nfp0')).stdout) as { program_types: Record<string, boolean>; map_types: Record<string, boolean>; helpers: Record<string, string[]> };
      expect(before.map_types).toEqual({ have_hash_map_type: true, have_array_map_type: true });
      expect(before.program_types).toEqual({ have_sched_cls_prog_type: h.nfp!.bpf!.bpf_dev.ops !== null, have_xdp_prog_type: h.nfp!.bpf!.bpf_dev.ops !== null });
      // A device hook that takes only the map helpers, with the nfp verifier's message for the rest.
      const refusing: BpfProgOffloadOps = {
        ...handMadeOps(),
        insn_hook: (_o, env, idx) => {
          const x = env.insns[idx]!;
          if (x.code === 0x85 && ![1, 2, 3].includes(x.imm)) {
            env.log.write(`[nfp] unsupported function id: ${x.imm}\n`);
            throw new BpfError('EOPNOTSUPP', `unsupported function id: ${x.imm}`);
          }
        },
      };
      Object.assign(h.nfp!.bpf!.bpf_dev, { ops: refusing });
      const plain = await run('feature probe dev nfp0');
      expect(plain.stdout).toContain('eBPF helpers supported for program type sched_cls:\n\t- bpf_map_lookup_elem\n\t- bpf_map_update_elem\n\t- bpf_map_delete_elem\neBPF helpers supported for program type xdp:\n\t- bpf_map_lookup_elem\n\t- bpf_map_update_elem\n\t- bpf_map_delete_elem\n\n');
      expect(plain.stdout).toContain('eBPF program_type sched_cls is available\neBPF program_type xdp is available\n');
      // With `unprivileged` every probe bound to the device is refused (EPERM).
      expect((await run('feature probe dev nfp0 unprivileged')).stdout).toContain('eBPF helpers supported for program type xdp:\n\tProgram type not supported\n');
      expect(h.kernel.progs.nextAfter(0)).toBeUndefined();
      expect(h.kernel.maps.nextAfter(0)).toBeUndefined();
    } finally {
      await h.shutdown();
    }
  });
});

// ---------------------------------------------------------------------------------------------

describe('robustness with offload devices', () => {
  it('answers any argument list with a status, never a stack trace, and leaves no fd open', async () => {
    const { kernel, run } = await nsimHost(2);
    await run(`prog load ${MAP_RET0} /sys/fs/bpf/p dev eni0np1 pinmaps /sys/fs/bpf/m`);
    await run('map create /sys/fs/bpf/h type hash key 4 value 8 entries 2 name h dev eni0np2');
    const before = kernel.fds.size;
    const words = ['prog', 'map', 'show', 'dump', 'jited', 'xlated', 'load', 'loadall', 'create', 'update', 'lookup', 'delete',
      'getnext', 'pop', 'freeze', 'run', 'dev', 'offload_dev', 'eni0np1', 'eni0np2', 'lo', 'nfp0', 'pinned', '/sys/fs/bpf/p',
      '/sys/fs/bpf/h', '/sys/fs/bpf/m/htab', 'key', 'value', '0', '1', '3', 'hex', 'exist', 'noexist', 'type', 'hash', 'array',
      'entries', 'name', 'htab', MAP_RET0, 'opcodes', 'file', '-j', 'data_in', 'id', '1', '2', ''];
    let seed = 4242;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    for (let k = 0; k < 800; k++) {
      const argv = Array.from({ length: 1 + rnd(10) }, () => words[rnd(words.length)]!);
      const r = await run(argv);
      const where = `bpftool ${argv.join(' ')}`;
      expect(r.status, where).toBeGreaterThanOrEqual(0);
      expect(r.status, where).toBeLessThanOrEqual(255);
      expect(r.stderr, where).not.toMatch(/emulator failure|\n\s+at /);
    }
    expect(kernel.fds.size).toBe(before);
  });
});
