// The real kernel's verdicts on generated programs, for comparing with nfp-emu's verifier: the programs
// go to kernel-verdict.c (built once per process with the host's C compiler), which loads them with
// raw BPF_PROG_LOAD against maps like the fuzzer's. The direction that matters for soundness is
// "the kernel refuses, nfp-emu accepts".

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { errnoName } from '../../../src/bpf/errno.js';
import { encode, type Insn } from '../../../src/bpf/insn.js';
import { FUZZ_MAPS } from './gen.js';

const SOURCE = fileURLToPath(new URL('./kernel-verdict.c', import.meta.url));

export type KernelVerdict = { readonly ok: true } | { readonly ok: false; readonly errno: string; readonly reason: string };

let built: { bin: string } | { reason: string } | undefined;

/** The loader binary, or why the kernel cannot be asked here. */
export function kernelVerdictTool(): { bin: string } | { reason: string } {
  if (built !== undefined) return built;
  if (process.platform !== 'linux') return (built = { reason: 'not Linux' });
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return (built = { reason: 'not root (BPF_PROG_LOAD of XDP needs CAP_BPF + CAP_NET_ADMIN)' });
  const cc = process.env['CC'] ?? 'cc';
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nfp-emu-fuzz-'));
  const bin = path.join(dir, 'kernel-verdict');
  const r = spawnSync(cc, ['-O1', '-Wall', '-o', bin, SOURCE], { encoding: 'utf8', timeout: 60_000 });
  if (r.error !== undefined || r.status !== 0) {
    fs.rmSync(dir, { recursive: true, force: true });
    return (built = { reason: `cannot build kernel-verdict.c with '${cc}': ${r.error?.message ?? r.stderr.trim()}` });
  }
  process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  // A trivial program must load, or the kernel is not usable here (no bpf(), a lockdown...).
  const probe = runTool(bin, [[{ code: 0xb7, dst: 0, src: 0, off: 0, imm: 2 }, { code: 0x95, dst: 0, src: 0, off: 0, imm: 0 }]]);
  if ('reason' in probe) return (built = probe);
  if (!probe.verdicts[0]!.ok) return (built = { reason: `the kernel refuses a trivial XDP program: ${probe.verdicts[0]!.reason}` });
  return (built = { bin });
}

function runTool(bin: string, progs: readonly (readonly Insn[])[]): { verdicts: KernelVerdict[] } | { reason: string } {
  const lines = FUZZ_MAPS.map((m) => `map ${m.type} ${m.keySize} ${m.valueSize} ${m.maxEntries}`);
  for (const p of progs) lines.push(`prog ${Buffer.from(encode(p)).toString('hex')}`);
  const r = spawnSync(bin, [], { input: `${lines.join('\n')}\n`, encoding: 'utf8', timeout: 600_000, maxBuffer: 64 << 20 });
  if (r.error !== undefined) return { reason: `kernel-verdict: ${r.error.message}` };
  if (r.status !== 0) return { reason: `kernel-verdict exited ${r.status}: ${r.stdout.trim()} ${r.stderr.trim()}` };
  const out = r.stdout.split('\n').filter((l) => l !== '');
  if (out.length !== progs.length) return { reason: `kernel-verdict answered ${out.length} of ${progs.length} programs` };
  return {
    verdicts: out.map((l) => {
      if (l === 'ok') return { ok: true };
      const m = /^err (\d+) ?(.*)$/.exec(l);
      if (m === null) throw new Error(`kernel-verdict printed ${l}`);
      return { ok: false, errno: errnoName(Number(m[1])) ?? `errno ${m[1]}`, reason: m[2] ?? '' };
    }),
  };
}

/** The kernel's verdict on each program, in order. Throws if the tool is unavailable. */
export function kernelVerdicts(progs: readonly (readonly Insn[])[]): KernelVerdict[] {
  const tool = kernelVerdictTool();
  if ('reason' in tool) throw new Error(tool.reason);
  const r = runTool(tool.bin, progs);
  if ('reason' in r) throw new Error(r.reason);
  return r.verdicts;
}
