// The offload path from the command line, as a user drives it: `nfp-emu [--firmware IMAGE] bpftool
// ...` boots a host whose NIC runs the firmware's datapath, and
//   - `prog load OBJ PATH offload_dev nfp0` goes through the nfp verifier hook and the NFP JIT,
//     `prog run` runs the program on the card's cores (the real kernel refuses BPF_PROG_TEST_RUN for a
//     device program; nfp-emu's driver runs it), `prog dump jited [opcodes]` prints the NFP image;
//   - `net attach xdpoffload ... overwrite` replaces a program on the card live where the firmware
//     advertises NFP_NET_BPF_CAP_RELO, and otherwise fails as bpftool does on the driver's EBUSY and
//     extack "nfp: FW does not support live reload", the old program still attached.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { runBpftool, syscallFor } from '../../src/cli/bpftool/main.js';
import { main } from '../../src/cli/main.js';
import { createHost } from '../../src/host.js';
import { netdev_rx, netif_receive } from '../../src/kernel/net/rx.js';
import { startNicDatapath } from '../../src/scenario/nic.js';
import { OP_RELO_TYPE } from '../../src/drivers/nfp/jit-emit.js';
import { decodeWord } from '../../src/nic/asm.js';
import { imageVariant, removeImageVariants } from '../drivers/helpers.js';
import { udp4Frame } from '../oracle/packets.js';

const ROOT = join(import.meta.dirname, '..', '..');
const tmp = mkdtempSync(join(tmpdir(), 'nfpemu-offload-cli-'));
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
  removeImageVariants();
});

interface Result {
  status: number;
  stdout: string;
  stderr: string;
}

/** One `nfp-emu [globals] bpftool batch file FILE` process with these lines. */
async function batch(name: string, lines: readonly string[], globals: readonly string[] = []): Promise<Result> {
  const file = join(tmp, `${name}.batch`);
  writeFileSync(file, `${lines.join('\n')}\n`);
  let stdout = '';
  let stderr = '';
  const sink = (f: (s: string) => void): Writable => new Writable({ write(c, _e, cb) { f(String(c)); cb(); } });
  const status = await main(['node', 'nfp-emu', ...globals, 'bpftool', 'batch', 'file', file], { stdout: sink((s) => { stdout += s; }), stderr: sink((s) => { stderr += s; }) });
  return { status, stdout, stderr };
}

const DROP_UDP9 = join(ROOT, 'test/progs/xdp_drop_udp9.o');

/** net show's "nfp0(IFINDEX) offload id N" lines, in order. */
const offloadIds = (stdout: string): number[] => [...stdout.matchAll(/^nfp0\(\d+\) offload id (\d+)$/gm)].map((m) => Number(m[1]));
const PASS = join(ROOT, 'test/progs/xdp_pass.o');

describe('nfp-emu bpftool on nfp0', () => {
  it('prog load ... offload_dev nfp0, prog run on the cores, prog dump jited with and without opcodes', async () => {
    const udp9 = join(tmp, 'udp9.bin');
    const udp53 = join(tmp, 'udp53.bin');
    const out53 = join(tmp, 'out53.bin');
    writeFileSync(udp9, udp4Frame({ dstPort: 9 }));
    writeFileSync(udp53, udp4Frame({ dstPort: 53 }));
    const r = await batch('run', [
      `prog load ${DROP_UDP9} /sys/fs/bpf/d offload_dev nfp0`,
      'prog show pinned /sys/fs/bpf/d',
      `prog run pinned /sys/fs/bpf/d data_in ${udp9}`,
      `prog run pinned /sys/fs/bpf/d data_in ${udp53} data_out ${out53} repeat 50`,
      'prog dump jited pinned /sys/fs/bpf/d',
      'prog dump jited pinned /sys/fs/bpf/d opcodes',
    ]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const out = r.stdout.split('\n');
    expect(out[0]).toMatch(/^\d+: xdp {2}name xdp_drop_udp9 {2}tag [0-9a-f]{16} {2}offloaded_to nfp0 {2}gpl$/);
    const jited = Number(/ jited (\d+)B /.exec(r.stdout)![1]);
    const n = jited / 8;
    // Drop for UDP port 9, pass (unchanged) otherwise: the card's verdicts as XDP return values.
    expect(out[3]).toMatch(/^Return value: 1, duration: \d+ns$/);
    expect(out[4]).toMatch(/^Return value: 2, duration \(average\): \d+ns$/);
    expect(readFileSync(out53)).toEqual(Buffer.from(udp4Frame({ dstPort: 53 })));
    // Without opcodes one line per NFP instruction; with them each line is followed by its 8 bytes.
    const plain = out.slice(5, 5 + n);
    plain.forEach((l, i) => expect(l).toMatch(new RegExp(`^ *${(i * 8).toString(16)}:\\t *\\.${i}  \\S`)));
    const withOpcodes = out.slice(5 + n, 5 + 3 * n);
    expect(withOpcodes.filter((_, i) => i % 2 === 0)).toEqual(plain);
    for (const bytesLine of withOpcodes.filter((_, i) => i % 2 === 1)) {
      expect(bytesLine).toMatch(/^\t([0-9a-f]{2} ){8}$/);
      const b = Buffer.from(bytesLine.trim().split(' ').map((x) => parseInt(x, 16)));
      // The image user space gets is the unrelocated one: the driver's relocation byte is in the top.
      expect(() => decodeWord(b.readBigUInt64LE(0) & ~OP_RELO_TYPE)).not.toThrow();
    }
    expect(out.slice(5 + 3 * n)).toEqual(['processed 6 commands', '']);
  });

  it('net attach xdpoffload ... overwrite: live on the production image; EBUSY "FW does not support live reload" without NFP_NET_BPF_CAP_RELO', async () => {
    const lines = [
      `prog load ${DROP_UDP9} /sys/fs/bpf/a offload_dev nfp0`,
      `prog load ${PASS} /sys/fs/bpf/b offload_dev nfp0`,
      'net attach xdpoffload pinned /sys/fs/bpf/a dev nfp0',
      'net show dev nfp0',
      'net attach xdpoffload pinned /sys/fs/bpf/b dev nfp0 overwrite',
      'net show dev nfp0',
    ];
    const live = await batch('live', lines);
    expect(live.stderr).toBe('');
    expect(live.status).toBe(0);
    expect(offloadIds(live.stdout)).toEqual([1, 2]);

    const norelo = imageVariant('nfp-bpf-60c', (doc) => {
      delete (doc['vnic'] as { bpf: Record<string, unknown> }).bpf['cap'];
      doc['name'] = 'nfp-bpf-60c-norelo';
    });
    // The batch ends at the refused command, with bpftool's lines and -EBUSY as the status.
    const refused = await batch('norelo', lines, ['--firmware', norelo]);
    expect(refused.stderr).toBe('libbpf: Kernel error message: nfp: FW does not support live reload\nError: interface xdpoffload attach failed: Device or resource busy\n');
    expect(refused.status).toBe(256 - 16);
    expect(offloadIds(refused.stdout)).toEqual([1]);

    // Command by command on one host with that firmware (as `nfp-emu bpftool` sets it up): after the
    // refusal the old program is still attached and the card still drops UDP port 9 with it; detaching
    // first and attaching anew is allowed.
    const h = await createHost({ firmwareMode: 'in-process', firmware: norelo });
    const nic = (await startNicDatapath(h, { mode: 'in-process' }))!;
    try {
      const run = async (cmd: string): Promise<Result> => {
        let stdout = '';
        let stderr = '';
        const status = await runBpftool(cmd.split(' '), {
          kernel: h.kernel, sys: syscallFor(h.kernel),
          stdout: { write: (x: string) => { stdout += x; } },
          stderr: { write: (x: string) => { stderr += x; } },
        });
        return { status, stdout, stderr };
      };
      for (const l of lines.slice(0, 3)) expect(await run(l)).toEqual({ status: 0, stdout: '', stderr: '' });
      expect((await run(lines[4]!)).status).toBe(256 - 16);
      expect(offloadIds((await run('net show dev nfp0')).stdout)).toEqual([1]);
      const dev = h.kernel.netdevs.dev_get_by_name('nfp0')!;
      netdev_rx(dev).up = true;
      const fates = async (): Promise<number[]> => {
        const r = await netif_receive(h.kernel, dev, [udp4Frame({ dstPort: 9 }), udp4Frame({ dstPort: 53 })], { repeat: 8 });
        return [r.fates.drop, r.fates.pass];
      };
      expect(await fates()).toEqual([8, 8]);
      expect(await run('net detach xdpoffload dev nfp0')).toEqual({ status: 0, stdout: '', stderr: '' });
      expect(await run('net attach xdpoffload pinned /sys/fs/bpf/b dev nfp0')).toEqual({ status: 0, stdout: '', stderr: '' });
      expect(offloadIds((await run('net show dev nfp0')).stdout)).toEqual([2]);
      expect(await fates()).toEqual([0, 16]);
      expect(nic.pool.stats().errors).toBe(0);
    } finally {
      await nic.stop();
      await h.shutdown();
    }
  });
});
