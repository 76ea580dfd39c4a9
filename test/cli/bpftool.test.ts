// The emulated bpftool on its own: what the golden files cannot cover because the real kernel is shared
// with the rest of the machine (handles by name or tag, listing every object), what only the emulator
// decides (a fresh host per CLI invocation, CPU counts, fds), and robustness (no stack trace, no fd
// left open, JSON that parses) on inputs chosen to break it.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encode } from '../../src/bpf/insn.js';
import { runBpftool, syscallFor } from '../../src/cli/bpftool/main.js';
import { main } from '../../src/cli/main.js';
import { Kernel } from '../../src/kernel/kernel.js';
import { NEGATIVE_OBJECTS } from '../oracle/programs.js';
import { padFrame, udp4Frame } from '../oracle/packets.js';

const PROGS = join(import.meta.dirname, '..', 'progs');
const tmp = mkdtempSync(join(tmpdir(), 'nfpemu-bpftool-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface Result {
  status: number;
  stdout: string;
  stderr: string;
}

/** One emulated host; each call is a bpftool process on it. */
function host(kernel = new Kernel()) {
  const run = async (cmd: string | readonly string[], stdin?: Uint8Array): Promise<Result> => {
    const argv = typeof cmd === 'string' ? cmd.split(/\s+/).filter((w) => w !== '') : cmd;
    let stdout = '';
    let stderr = '';
    const status = await runBpftool(argv, {
      kernel,
      stdout: { write: (s: string) => { stdout += s; } },
      stderr: { write: (s: string) => { stderr += s; } },
      ...(stdin !== undefined ? { readStdin: () => stdin } : {}),
    });
    return { status, stdout, stderr };
  };
  return { kernel, run };
}

async function cli(args: readonly string[], globals: readonly string[] = []): Promise<Result> {
  let stdout = '';
  let stderr = '';
  const sink = (f: (s: string) => void): Writable => new Writable({ write(c, _e, cb) { f(String(c)); cb(); } });
  const status = await main(['node', 'nfp-emu', ...globals, 'bpftool', ...args], { stdout: sink((s) => { stdout += s; }), stderr: sink((s) => { stderr += s; }) });
  return { status, stdout, stderr };
}

describe('nfp-emu bpftool (the CLI)', () => {
  it('hands every word to bpftool, options included, and exits with its status', async () => {
    const v = await cli(['-j', 'version']);
    expect(v.status).toBe(0);
    expect(JSON.parse(v.stdout)).toMatchObject({ version: '7.1.0', libbpf_version: '1.1' });
    const h = await cli(['-h']);
    expect(h.stderr).toMatch(/^Usage: bpftool \[OPTIONS\] OBJECT/);
    const e = await cli(['map', 'show', 'pinned', '/sys/fs/bpf/nonexist']);
    expect(e).toEqual({ status: 255, stdout: '', stderr: 'Error: bpf obj get (/sys/fs/bpf/nonexist): No such file or directory\n' });
    const u = await cli(['map', 'create', '/sys/fs/bpf/m', 'type', 'hash', 'key', '4', 'value', '4', 'entries', '4', 'name', 'm']);
    expect(u.status).toBe(0);
  });

  it('boots a fresh host for each invocation: nothing loaded before lasts', async () => {
    expect((await cli(['prog', 'load', join(PROGS, 'xdp_pass.o'), '/sys/fs/bpf/p'])).status).toBe(0);
    expect(await cli(['-j', 'prog', 'show'])).toEqual({ status: 0, stdout: '[]\n', stderr: '' });
    expect((await cli(['prog', 'show', 'pinned', '/sys/fs/bpf/p'])).status).toBe(255);
  });

  it('boots the host with the NIC of the global --firmware option: nfp0 takes offloaded maps', async () => {
    const file = join(tmp, 'offload-batch.txt');
    writeFileSync(file, 'map create /sys/fs/bpf/m type hash key 4 value 4 entries 4 name m dev nfp0\nmap show pinned /sys/fs/bpf/m\n');
    const r = await cli(['batch', 'file', file]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^\d+: hash {2}name m {2}flags 0x0 {2}offloaded_to nfp0\n\tkey 4B {2}value 4B {2}max_entries 4 {2}memlock \d+B\nprocessed 2 commands\n$/);
    // The plain NIC firmware has no BPF app: its port cannot take maps (no ndo_bpf).
    const nic = await cli(['map', 'create', '/sys/fs/bpf/m', 'type', 'hash', 'key', '4', 'value', '4', 'entries', '4', 'name', 'm', 'dev', 'nfp0'], ['--firmware', 'nfp-nic']);
    expect(nic.status).toBe(255);
    expect(nic.stderr).toMatch(/^Error: map create failed: /);
    expect(await cli(['version'], ['--firmware', 'no-such-image'])).toMatchObject({ status: 1, stdout: '' });
  });
});

describe('handles that match several objects', () => {
  const h = host();
  beforeAll(async () => {
    await h.run(`prog load ${PROGS}/xdp_pass.o /sys/fs/bpf/a`);
    await h.run(`prog load ${PROGS}/xdp_pass.o /sys/fs/bpf/b`);
    await h.run(`prog loadall ${PROGS}/xdp_redirect.o /sys/fs/bpf/r`);
  });

  it('shows every program of a name or tag, as one JSON array', async () => {
    const plain = await h.run('prog show name xdp_pass');
    expect(plain.status).toBe(0);
    expect(plain.stdout.match(/^\d+: xdp {2}name xdp_pass {2}tag 614b434cd8324ecc {2}gpl$/gm)).toHaveLength(2);
    const json = JSON.parse((await h.run('-j prog show tag 614b434cd8324ecc')).stdout) as { id: number; name: string }[];
    expect(json.map((p) => p.name)).toEqual(['xdp_pass', 'xdp_pass']);
    expect(new Set(json.map((p) => p.id)).size).toBe(2);
  });

  it('refuses to run or pin "several programs"', async () => {
    writeFileSync(join(tmp, 'pkt.bin'), padFrame(udp4Frame({ dstPort: 9 })));
    expect(await h.run(`prog run name xdp_pass data_in ${join(tmp, 'pkt.bin')}`)).toEqual({ status: 255, stdout: '', stderr: 'Error: several programs match this handle\n' });
    expect((await h.run('prog pin name xdp_pass /sys/fs/bpf/c')).stderr).toBe('Error: several programs match this handle\n');
  });

  it('matches a long program name by its BTF name, not by the 15 characters the kernel keeps', async () => {
    expect((await h.run('prog show name xdp_redirect_ifindex')).stdout).toMatch(/name xdp_redirect_ifindex /);
    expect(await h.run('prog show name xdp_redirect_if')).toEqual({ status: 255, stdout: '', stderr: '' });
  });

  it('dumps several maps of one name, each with its header', async () => {
    await h.run('map create /sys/fs/bpf/m1 type array key 4 value 4 entries 2 name twin');
    await h.run('map create /sys/fs/bpf/m2 type array key 4 value 4 entries 1 name twin');
    const json = JSON.parse((await h.run('-j map dump name twin')).stdout) as { name: string; elements: unknown[] }[];
    expect(json.map((m) => [m.name, m.elements.length])).toEqual([['twin', 2], ['twin', 1]]);
    const plain = (await h.run('map dump name twin')).stdout;
    expect(plain).toMatch(/^\d+: array {2}name twin {2}flags 0x0\nkey: 00 00 00 00 {2}value: 00 00 00 00\nkey: 01 00 00 00 {2}value: 00 00 00 00\nFound 2 elements\n\n\d+: array/);
    expect((await h.run('map update name twin key 0 0 0 0 value 1 0 0 0')).stderr).toBe('Error: several maps match this handle\n');
  });
});

describe('listing every object', () => {
  it('shows each map, a map without BTF listed after one with BTF repeating its btf_id (bpftool reuses its bpf_map_info)', async () => {
    const h = host();
    expect((await h.run(`prog loadall ${PROGS}/xdp_counter.o /sys/fs/bpf/c`)).status).toBe(0);
    expect((await h.run('map create /sys/fs/bpf/plain type hash key 4 value 4 entries 4 name plain')).status).toBe(0);
    const list = (await h.run('map show')).stdout;
    const btfId = /btf_id (\d+)/.exec(list)![1];
    expect(list).toMatch(new RegExp(`name plain {2}flags 0x0\\n\\tkey 4B {2}value 4B {2}max_entries 4 {2}memlock \\d+B\\n\\tbtf_id ${btfId}\\n`));
    expect((await h.run('map show pinned /sys/fs/bpf/plain')).stdout).not.toMatch(/btf_id/);
    const json = JSON.parse((await h.run('-j map list')).stdout) as { name: string; btf_id?: number }[];
    expect(json.map((m) => m.name)).toEqual(['proto_stats', 'cpu_packets', 'src_stats', 'plain']);
    expect(json[3]!.btf_id).toBe(Number(btfId));
  });

  it('lists programs with their load time as the kernel clock says, local time in plain text', async () => {
    const kernel = new Kernel({ bootTimeMs: Date.UTC(2025, 0, 2, 3, 4, 5, 600) });
    const h = host(kernel);
    await h.run(`prog load ${PROGS}/xdp_pass.o /sys/fs/bpf/p`);
    const [info] = JSON.parse((await h.run('-j prog list')).stdout) as { loaded_at: number; id: number }[];
    const loadNs = kernel.progs.get(info!.id)!.loadTime;
    expect(info!.loaded_at).toBe(Math.floor((Date.UTC(2025, 0, 2, 3, 4, 5, 600) * 1e6 + Number(loadNs)) / 1e9));
    const d = new Date(info!.loaded_at * 1000);
    const p2 = (n: number): string => String(n).padStart(2, '0');
    const off = -d.getTimezoneOffset();
    const when = `${d.getFullYear()}-${p2(d.getMonth() + 1)}-${p2(d.getDate())}T${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())}${off < 0 ? '-' : '+'}${p2(Math.floor(Math.abs(off) / 60))}${p2(Math.abs(off) % 60)}`;
    expect((await h.run('prog list')).stdout).toContain(`\tloaded_at ${when}  uid 0\n`);
  });

  it('has no links to show; objects it has nothing for say so', async () => {
    const h = host();
    expect(await h.run('link show')).toEqual({ status: 0, stdout: '', stderr: '' });
    expect((await h.run('-j link list')).stdout).toBe('[]\n');
    expect(await h.run('cgroup show /sys/fs/cgroup')).toEqual({ status: 255, stdout: '', stderr: "Error: 'cgroup' is not supported by the emulated bpftool\n" });
  });
});

describe('an interpreted program (net.core.bpf_jit_enable=0)', () => {
  it('is "not jited" and its bpf-to-bpf calls have no kallsyms symbol', async () => {
    const h = host(new Kernel({ jit: false }));
    expect((await h.run(`prog loadall ${PROGS}/xdp_subprog.o /sys/fs/bpf/s`)).status).toBe(0);
    expect((await h.run('prog show pinned /sys/fs/bpf/s/xdp_subprog')).stdout).toMatch(/\n\txlated 1056B {2}not jited {2}memlock 4096B {2}map_ids /);
    expect(JSON.parse((await h.run('-j prog show pinned /sys/fs/bpf/s/xdp_subprog')).stdout)).toMatchObject({ jited: false });
    expect(JSON.parse((await h.run('-j prog show pinned /sys/fs/bpf/s/xdp_subprog')).stdout)).not.toHaveProperty('bytes_jited');
    const calls = (await h.run('prog dump xlated pinned /sys/fs/bpf/s/xdp_subprog')).stdout.match(/\(85\) call pc.*$/gm);
    expect(calls).toEqual(['(85) call pc+12', '(85) call pc+1', '(85) call pc+1']);
  });
});

describe('per-CPU values', () => {
  it('prints one value per possible CPU of the emulated host', async () => {
    const h = host(new Kernel({ cpus: 4 }));
    await h.run('map create /sys/fs/bpf/pc type percpu_array key 4 value 4 entries 1 name pc');
    expect((await h.run('map update pinned /sys/fs/bpf/pc key 0 0 0 0 value 7 0 0 0')).status).toBe(0);
    expect((await h.run('map lookup pinned /sys/fs/bpf/pc key 0 0 0 0')).stdout).toBe(
      'key:\n00 00 00 00\nvalue (CPU 00): 07 00 00 00\nvalue (CPU 01): 07 00 00 00\nvalue (CPU 02): 07 00 00 00\nvalue (CPU 03): 07 00 00 00\n');
    const j = JSON.parse((await h.run('-j map lookup pinned /sys/fs/bpf/pc key 0 0 0 0')).stdout) as { values: { cpu: number }[] };
    expect(j.values.map((v) => v.cpu)).toEqual([0, 1, 2, 3]);
  });
});

describe('program arrays', () => {
  it('take a program by handle and read back its id', async () => {
    const h = host();
    expect((await h.run(`prog loadall ${PROGS}/xdp_tailcall.o /sys/fs/bpf/t pinmaps /sys/fs/bpf/tm`)).status).toBe(0);
    const ids: Record<string, number> = {};
    for (const n of ['xdp_tail_entry', 'xdp_stage_ipv4', 'xdp_stage_ipv6', 'xdp_stage_udp']) {
      ids[n] = (JSON.parse((await h.run(`-j prog show pinned /sys/fs/bpf/t/${n}`)).stdout) as { id: number }).id;
    }
    const hex = (id: number): string => Array.from(new Uint8Array(new Uint32Array([id]).buffer), (x) => x.toString(16).padStart(2, '0')).join(' ');
    expect((await h.run('map update pinned /sys/fs/bpf/tm/jmp_table key 2 0 0 0 value pinned /sys/fs/bpf/t/xdp_stage_ipv6')).status).toBe(0);
    expect((await h.run('map lookup pinned /sys/fs/bpf/tm/jmp_table key 2 0 0 0')).stdout).toBe(`key: 02 00 00 00  value: ${hex(ids.xdp_stage_ipv6!)}\n`);
    const byId = await h.run(`map update pinned /sys/fs/bpf/tm/jmp_table key 1 0 0 0 value id ${ids.xdp_stage_udp}`);
    expect(byId.stderr).toBe('Warning: updating program array via MAP_ID, make sure this map is kept open\n         by some process or pinned otherwise update will be lost\n');
    expect((await h.run('map show pinned /sys/fs/bpf/tm/jmp_table')).stdout).toMatch(/\n\towner_prog_type xdp {2}owner jited\n$/);
    expect((await h.run('map delete pinned /sys/fs/bpf/tm/jmp_table key 2 0 0 0')).status).toBe(0);
    expect((await h.run('map dump pinned /sys/fs/bpf/tm/jmp_table')).stdout).toMatch(/^key: 00 00 00 00 {2}value: .*\nkey: 01 00 00 00 {2}value: .*\nFound 2 elements\n$/);
  });
});

describe('batch', () => {
  it('runs its commands as one process on one host; -j makes one array', async () => {
    const h = host();
    const file = join(tmp, 'batch.txt');
    writeFileSync(file, [
      '# make a map, fill it, read it back',
      'map create /sys/fs/bpf/bm type array key 4 value 4 entries 2 name bm',
      "map update pinned '/sys/fs/bpf/bm' key 1 0 0 0 value 0xaa 0 0 0",
      'map \\',
      '   lookup pinned /sys/fs/bpf/bm key 1 0 0 0   # the continuation joins the lines',
      '',
    ].join('\n'));
    const plain = await h.run(`batch file ${file}`);
    expect(plain).toEqual({ status: 0, stdout: 'key: 01 00 00 00  value: aa 00 00 00\nprocessed 3 commands\n', stderr: '' });
    const json = JSON.parse((await host().run(`-j batch file ${file}`)).stdout) as { command: string[]; output: unknown }[];
    expect(json.map((c) => c.command.join(' '))).toEqual([
      'map create /sys/fs/bpf/bm type array key 4 value 4 entries 2 name bm',
      'map update pinned /sys/fs/bpf/bm key 1 0 0 0 value 0xaa 0 0 0',
      'map lookup pinned /sys/fs/bpf/bm key 1 0 0 0',
    ]);
    expect(json.map((c) => c.output)).toEqual([null, null, { key: ['0x01', '0x00', '0x00', '0x00'], value: ['0xaa', '0x00', '0x00', '0x00'] }]);
  });

  it('reads the batch from standard input with `-`', async () => {
    const r = await host().run('batch file -', new TextEncoder().encode('version\nversion\n'));
    expect(r.stdout).toBe('bpftool v7.1.0\nusing libbpf v1.1\nfeatures: libbpf_strict\n'.repeat(2) + 'processed 2 commands\n');
  });

  it('aborts as bpftool does on usage() inside a -j batch: the JSON stream is unfinished, the output lost', async () => {
    const file = join(tmp, 'usage.txt');
    writeFileSync(file, 'version\nprog dump xlated\n');
    expect(await host().run(`-j batch file ${file}`)).toEqual({
      status: 134, stdout: '', stderr: "bpftool: json_writer.c:107: jsonw_destroy: Assertion `self->depth == 0' failed.\n",
    });
  });
});

describe('prog run and dump to files', () => {
  it('takes data_in from standard input and writes data_out to a file', async () => {
    const h = host();
    await h.run(`prog load ${PROGS}/xdp_drop_udp9.o /sys/fs/bpf/d`);
    const pkt = padFrame(udp4Frame({ dstPort: 9 }));
    const out = join(tmp, 'out.bin');
    const r = await h.run(`prog run pinned /sys/fs/bpf/d data_in - data_out ${out} repeat 3`, pkt);
    expect(r.stdout).toMatch(/^Return value: 1, duration \(average\): \d+ns\n$/);
    expect(new Uint8Array(readFileSync(out))).toEqual(pkt);
    expect((await h.run('prog run pinned /sys/fs/bpf/d data_in - ctx_in -', pkt)).stderr).toBe('Error: cannot use standard input for both data_in and ctx_in\n');
  });

  it('writes the xlated instructions to a file as raw bytes', async () => {
    const h = host();
    await h.run(`prog load ${PROGS}/xdp_counter.o /sys/fs/bpf/c`);
    const file = join(tmp, 'xlated.bin');
    expect(await h.run(`-j prog dump xlated pinned /sys/fs/bpf/c file ${file}`)).toEqual({ status: 0, stdout: 'null\n', stderr: '' });
    const id = (JSON.parse((await h.run('-j prog show pinned /sys/fs/bpf/c')).stdout) as { id: number }).id;
    expect(new Uint8Array(readFileSync(file))).toEqual(encode(h.kernel.progs.get(id)!.xlated));
  });
});

describe('prog tracelog', () => {
  it('prints what bpf_trace_printk() left in trace_pipe, once', async () => {
    const h = host();
    await h.run(`prog load ${PROGS}/xdp_misc.o /sys/fs/bpf/m`);
    const pkt = padFrame(udp4Frame({ dstPort: 53 }));
    pkt[24] = pkt[24]! ^ 0xff; // break the IPv4 header checksum: xdp_misc prints a line and drops
    expect((await h.run('prog run pinned /sys/fs/bpf/m data_in -', pkt)).stdout).toMatch(/^Return value: 1, /);
    const log = await h.run('prog tracelog');
    expect(log.status).toBe(0);
    expect(log.stdout).toMatch(/^ +\S+-\d+ +\[\d{3}\] \S+ +\d+\.\d{6}: bpf_trace_printk: xdp_misc: bad IPv4 header checksum 0x[0-9a-f]+\n$/);
    expect((await h.run('-j prog tracelog')).stdout).toBe('[]\n');
    expect((await h.run('prog tracelog now')).status).toBe(255);
  });
});

describe('refused programs', () => {
  for (const neg of NEGATIVE_OBJECTS) {
    it(`${neg.name}: libbpf's lines around the verifier log, then bpftool's error`, async () => {
      const h = host();
      const obj = join(PROGS, `${neg.name}.o`);
      const r = await h.run(`prog load ${obj} /sys/fs/bpf/x`);
      expect(r.status).toBe(255);
      const prog = neg.name.split('/').pop()!;
      expect(r.stderr).toMatch(new RegExp(`^libbpf: prog '${prog}': BPF program load failed: Permission denied\nlibbpf: prog '${prog}': -- BEGIN PROG LOAD LOG --\n`));
      expect(r.stderr).toContain(neg.logIncludes);
      expect(r.stderr).toContain(`-- END PROG LOAD LOG --\nlibbpf: prog '${prog}': failed to load: -13\nlibbpf: failed to load object '${obj}'\nError: failed to load object file\nWarning: bpftool is now running in libbpf strict mode`);
      expect((await h.run(`-j prog load ${obj} /sys/fs/bpf/x`)).stdout).toBe('{"error":"failed to load object file"}\n');
      expect(h.kernel.progs.nextAfter(0)).toBeUndefined();
    });
  }
});

describe('robustness', () => {
  it('leaves no file descriptor open, whatever the command did', async () => {
    const h = host();
    const sys = syscallFor(h.kernel);
    const before = h.kernel.fds.size;
    const cmds = [
      `prog loadall ${PROGS}/xdp_subprog.o /sys/fs/bpf/s pinmaps /sys/fs/bpf/sm`,
      `prog load ${PROGS}/xdp_tailcall.o /sys/fs/bpf/t pinmaps /sys/fs/bpf/nodir/x`,
      `prog load ${PROGS}/negative/xdp_map_null.o /sys/fs/bpf/n`,
      'prog show', 'map show', '-j map dump name xdp_subp.bss', 'prog dump xlated name xdp_subprog',
      'map update pinned /sys/fs/bpf/sm/xdp_subp_data key 0 0 0 0 value 1 2', 'map lookup pinned /sys/fs/bpf/sm/xdp_subp_data key 0 0 0 0',
      'map freeze pinned /sys/fs/bpf/sm/xdp_subp_data', 'map freeze pinned /sys/fs/bpf/sm/xdp_subp_data',
      'prog pin pinned /sys/fs/bpf/s/xdp_subprog /sys/fs/bpf/s/xdp_subprog', 'map create /sys/fs/bpf/x type hash key 4 value 4 entries 0 name x',
      'prog attach pinned /sys/fs/bpf/s/xdp_subprog stream_parser pinned /sys/fs/bpf/sm/xdp_subp_data',
      'prog run pinned /sys/fs/bpf/s/xdp_subprog data_in /nonexistent',
    ];
    for (const c of cmds) await h.run(c);
    expect(h.kernel.fds.size).toBe(before);
    expect(sys).toBe(syscallFor(h.kernel));
  });

  it('answers any argument list with a status, never a stack trace', async () => {
    const words = ['prog', 'map', 'show', 'list', 'dump', 'xlated', 'jited', 'load', 'loadall', 'pin', 'run', 'create', 'update',
      'lookup', 'delete', 'getnext', 'freeze', 'pop', 'push', 'batch', 'file', 'id', 'name', 'tag', 'pinned', 'key', 'value',
      'hex', 'any', 'exist', 'noexist', 'type', 'entries', 'flags', 'data_in', 'data_out', 'repeat', 'opcodes', 'linum',
      '0', '1', '-1', '0x', '4294967296', 'zz', '/sys/fs/bpf/c', '/sys/fs/bpf/h', '/sys/fs/bpf', '-j', '-p', '-f', '--', '', 'dev', 'lo',
      `${PROGS}/xdp_counter.o`, 'hash', 'array', 'prog_array', '99999999999999999999999'];
    const h = host();
    await h.run(`prog loadall ${PROGS}/xdp_counter.o /sys/fs/bpf/c`);
    await h.run('map create /sys/fs/bpf/h type hash key 4 value 4 entries 4 name h');
    let seed = 12345;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    for (let k = 0; k < 3000; k++) {
      const argv = Array.from({ length: 1 + rnd(9) }, () => words[rnd(words.length)]!);
      const r = await h.run(argv);
      const where = `bpftool ${argv.join(' ')}`;
      expect(r.status, where).toBeGreaterThanOrEqual(0);
      expect(r.status, where).toBeLessThanOrEqual(255);
      expect(r.stderr, where).not.toMatch(/emulator failure|\n\s+at /);
    }
    expect(h.kernel.fds.size).toBe(0);
  });

  it('prints JSON that parses for every command that prints something', async () => {
    const h = host();
    await h.run(`prog loadall ${PROGS}/xdp_flowtable.o /sys/fs/bpf/f pinmaps /sys/fs/bpf/fm`);
    await h.run(`prog loadall ${PROGS}/xdp_misc.o /sys/fs/bpf/mi pinmaps /sys/fs/bpf/mim`);
    const cmds = ['prog show', 'map show', 'version', 'prog dump xlated pinned /sys/fs/bpf/f/xdp_flowtable opcodes',
      'map dump pinned /sys/fs/bpf/fm/flows', 'map dump pinned /sys/fs/bpf/mim/xdp_misc_rodata',
      'map lookup pinned /sys/fs/bpf/fm/port_packets key 1 0 0 0', 'map getnext pinned /sys/fs/bpf/fm/flows', 'map bogus'];
    for (const c of cmds) {
      for (const opt of ['-j', '-p']) {
        const r = await h.run(`${opt} ${c}`);
        expect(() => JSON.parse(r.stdout), `${opt} ${c}: ${r.stdout}`).not.toThrow();
      }
    }
  });
});
