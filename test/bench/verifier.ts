// `npm run bench` (verifier part): time to verify the repository's largest programs with nfp-emu's
// verifier vs the machine's kernel (bpftool -d prints libbpf's "verification time"), side by side.
// Target (issue 4): the largest object within 5x of the kernel.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { loadObject, withMapFds } from '../../src/bpf/object.js';
import { Kernel } from '../../src/kernel/kernel.js';
import { BpfSyscall, type ProgLoadAttr } from '../../src/kernel/syscall.js';
import { loadObjectIntoKernel } from '../../src/libbpf/object.js';
import { kernelSkipReason, progObject } from '../oracle/kernel.js';

const OBJECTS = ['xdp_big', 'xdp_csum_frame', 'xdp_l4lb'];

/**
 * Median ms to verify the object's programs on nfp-emu: maps created once, two warm-up loads, then the
 * median of 7. The host JIT is off (bpf_jit_enable=0) because the kernel's "verification time" ends
 * with bpf_check(), before bpf_prog_select_runtime() JIT-compiles the program.
 */
function ours(name: string): { ms: number; cpuMs: number; processed: string } {
  const path = progObject(name);
  const obj = loadObject(readFileSync(path), path);
  const k = new Kernel({ jit: false });
  const sys = new BpfSyscall(k);
  const loaded = loadObjectIntoKernel(sys, obj);
  const fds = loaded.maps.map((m) => m.fd);
  const times: number[] = [];
  const cpu: number[] = [];
  let processed = '';
  for (let r = 0; r < 9; r++) {
    const t0 = process.hrtime.bigint();
    const c0 = process.cpuUsage();
    for (const p of obj.programs) {
      const attr: ProgLoadAttr = { prog_type: p.progType, insns: withMapFds(p, fds), license: obj.license, log_level: 4, log_size: 1 << 16 };
      sys.close(sys.progLoad(attr));
      processed = /processed (\d+) insns/.exec(attr.log_buf ?? '')?.[1] ?? '?';
    }
    if (r >= 2) {
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
      const c = process.cpuUsage(c0);
      cpu.push((c.user + c.system) / 1000);
    }
  }
  times.sort((a, b) => a - b);
  cpu.sort((a, b) => a - b);
  return { ms: times[3]!, cpuMs: cpu[3]!, processed };
}

/** libbpf prints the verifier's statistics on stderr with -d; the median of three loads. */
function kernelVerify(name: string): { ms: number; processed: string } | undefined {
  const runs = [kernelVerifyOnce(name), kernelVerifyOnce(name), kernelVerifyOnce(name)];
  if (runs.some((r) => r === undefined)) return undefined;
  const sorted = (runs as { ms: number; processed: string }[]).sort((a, b) => a.ms - b.ms);
  return sorted[1];
}

function kernelVerifyOnce(name: string): { ms: number; processed: string } | undefined {
  const dir = mkdtempSync('/sys/fs/bpf/nfp-emu-bench-');
  try {
    const res = execFileSync('sh', ['-c', `bpftool -d prog loadall ${progObject(name)} ${join(dir, 'p')} 2>&1 >/dev/null`], { encoding: 'utf8', maxBuffer: 1 << 28 });
    const us = [...res.matchAll(/verification time (\d+) usec/g)].reduce((s, m) => s + Number(m[1]), 0);
    const processed = [...res.matchAll(/processed (\d+) insns/g)].map((m) => m[1]).join('+');
    return { ms: us / 1000, processed };
  } catch {
    return undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function benchVerifier(out: (line: string) => void): void {
  const skip = kernelSkipReason();
  out('Verifier: time to verify (ms; nfp-emu: median of 7 loads after 2 warm-ups, JIT off; kernel: median of 3 loads, libbpf\'s verification time)');
  if (skip !== '') out(`  (kernel column skipped: ${skip})`);
  out('  (a loaded machine stretches wall time: the CPU column is the process\'s CPU time over the same loads, GC threads included)');
  out(`  ${'object'.padEnd(16)}${'nfp-emu ms'.padStart(12)}${'CPU ms'.padStart(9)}${'processed'.padStart(11)}${'kernel ms'.padStart(11)}${'processed'.padStart(11)}${'ratio'.padStart(8)}${'CPU ratio'.padStart(11)}`);
  for (const name of OBJECTS) {
    const o = ours(name);
    const k = skip === '' ? kernelVerify(name) : undefined;
    const ratio = (v: number): string => (k !== undefined && k.ms > 0 ? (v / k.ms).toFixed(2) : '—');
    out(`  ${name.padEnd(16)}${o.ms.toFixed(1).padStart(12)}${o.cpuMs.toFixed(1).padStart(9)}${o.processed.padStart(11)}${(k?.ms.toFixed(1) ?? '—').padStart(11)}${(k?.processed ?? '—').padStart(11)}${ratio(o.ms).padStart(8)}${ratio(o.cpuMs).padStart(11)}`);
  }
  out('  target: the largest object (xdp_big) within 5x of the kernel');
}
