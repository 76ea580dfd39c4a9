// `nfp-emu firmware list`: every image, with what the driver reads from its capability records.

import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { listFirmwareImages } from '../../src/nic/fw-image.js';

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const stdout = new PassThrough(), stderr = new PassThrough();
  let out = '', err = '';
  stdout.on('data', (c) => { out += c; });
  stderr.on('data', (c) => { err += c; });
  const code = await main(['node', 'nfp-emu', ...args], { stdout, stderr });
  return { code, out, err };
}

describe('nfp-emu firmware list', () => {
  it('shows every image, marks the default, and the driver\'s view of the capabilities', async () => {
    const { code, out } = await cli('firmware', 'list');
    expect(code).toBe(0);
    for (const e of listFirmwareImages()) expect(out).toContain(e.image!.name);
    expect(out).toMatch(/^nfp-bpf-60c \*\s+ebpf\s+3\s+60\s+4\s+800\s+8192 insns\s+2GiB\/8GiB\/24GiB/m);
    expect(out).toMatch(/^nfp-bpf-abi1\s+ebpf\s+1!/m);
    expect(out).toContain('nfp-bpf-abi1: driver: unsupported BPF ABI version: 1');
    expect(out).toContain('nfp-bpf-60c: RANDOM QUEUE_SELECT ADJUST_TAIL CMSG_MULTI_ENT');
    expect(out).toContain('nfp-bpf-40c: maps hash+array (128 maps, 4194304 elements, key <= 56 B, value <= 56 B, element <= 64 B)');
  });

  it('-j prints JSON', async () => {
    const { code, out } = await cli('firmware', 'list', '-j');
    expect(code).toBe(0);
    const list = JSON.parse(out) as { name: string; default: boolean; cores: number; bpf: { abi_version: number; offload_supported: boolean; maps: { types: string[] } } | null }[];
    const byName = Object.fromEntries(list.map((x) => [x.name, x]));
    expect(byName['nfp-bpf-60c']).toMatchObject({ default: true, cores: 60, bpf: { abi_version: 3, offload_supported: true, maps: { types: ['hash', 'array'] } } });
    expect(byName['nfp-bpf-abi1']!.bpf!.offload_supported).toBe(false);
    expect(byName['nfp-nic']!.bpf).toBeNull();
  });
});
