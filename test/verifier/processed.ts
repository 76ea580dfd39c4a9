// Developer tool: the `processed N insns` count of the corpus on the machine's kernel and on nfp-emu,
// one line per program that differs, then how many are equal. The count measures how often pruning
// fires, so it shows where nfp-emu prunes more or less than the kernel.
//   npx tsx test/verifier/processed.ts [--all] [id-prefix...]   every assembly case (log level 1)
//   npx tsx test/verifier/processed.ts --objects [--all] [file.o...]   the corpus's C objects (or the
//     given ones), each program loaded by `bpftool -d prog loadall` and by nfp-emu (log level 4; the
//     program's instructions alone, so a global function is walked as a static one there)
// --all prints equal counts too.

import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { loadObject, withMapFds } from '../../src/bpf/object.js';
import { Kernel } from '../../src/kernel/kernel.js';
import { BpfSyscall, type ProgLoadAttr } from '../../src/kernel/syscall.js';
import { loadObjectIntoKernel } from '../../src/libbpf/object.js';
import { kernelLoader, kernelLoadInput, listCases, loadOnEmu, objectFile } from './corpus.js';

const args = process.argv.slice(2);
const flag = (name: string): boolean => {
  const i = args.indexOf(name);
  if (i >= 0) args.splice(i, 1);
  return i >= 0;
};
const all = flag('--all');
const objects = flag('--objects');

const processed = (log: string): number | undefined => {
  const m = /^processed (\d+) insns/m.exec(log);
  return m === null ? undefined : Number(m[1]);
};

let same = 0, total = 0, emuSum = 0, kernelSum = 0;
function tally(id: string, k: number | undefined, e: number | undefined): void {
  if (k === undefined || e === undefined) {
    console.log(`${id}: kernel ${k ?? '?'}, nfp-emu ${e ?? '?'} (not counted)`);
    return;
  }
  total++;
  kernelSum += k;
  emuSum += e;
  if (k === e) same++;
  if (k !== e || all) console.log(`${id}: kernel ${k}, nfp-emu ${e}`);
}

/** Per program of the object, in section order: the kernel's count (bpftool prints libbpf's stats). */
function kernelObject(file: string): (number | undefined)[] {
  const dir = fs.mkdtempSync('/sys/fs/bpf/nfp-emu-processed-');
  try {
    const r = spawnSync('bpftool', ['-d', 'prog', 'loadall', file, path.join(dir, 'p')], { encoding: 'utf8', maxBuffer: 1 << 28 });
    return [...r.stderr.matchAll(/processed (\d+) insns/g)].map((m) => Number(m[1]));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function emuObject(file: string): (number | undefined)[] {
  const obj = loadObject(fs.readFileSync(file), file);
  const sys = new BpfSyscall(new Kernel({ cpus: 2, prandomSeed: 1 }));
  let fds: number[];
  try {
    fds = loadObjectIntoKernel(sys, obj).maps.map((m) => m.fd);
  } catch {
    return obj.programs.map(() => undefined);
  }
  return obj.programs.map((p) => {
    const attr: ProgLoadAttr = { prog_type: p.progType, insns: withMapFds(p, fds), license: obj.license, log_level: 4, log_size: 1 << 16 };
    try {
      sys.close(sys.progLoad(attr));
    } catch {
      return undefined;
    }
    return processed(attr.log_buf ?? '');
  });
}

if (objects) {
  execFileSync('sh', ['-c', 'mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf']);
  const files = args.length > 0 ? args : listCases().filter((c) => c.kind === 'c' && c.expect.accept).map(objectFile);
  for (const file of files) {
    const k = kernelObject(file), e = emuObject(file);
    const name = path.basename(file);
    if (k.length !== e.length) {
      console.log(`${name}: the kernel loaded ${k.length} programs, nfp-emu has ${e.length} (not counted)`);
      continue;
    }
    for (let i = 0; i < k.length; i++) tally(`${name}#${i}`, k[i], e[i]);
  }
} else {
  const loader = kernelLoader();
  if ('reason' in loader) throw new Error(loader.reason);
  for (const c of listCases()) {
    if (c.kind !== 'asm') continue;
    if (args.length > 0 && !args.some((p) => c.id.startsWith(p))) continue;
    if (c.logSize > 16 << 20) continue; // the million-instruction cases
    const input = kernelLoadInput(c).replace(/^prog (\d+) (\d+) (\d+) \d+ /, 'prog $1 $2 $3 1 ');
    const r = spawnSync(loader.bin, [], { input, encoding: 'utf8', maxBuffer: 256 << 20 });
    const m = /^(ok|errno (\d+))\nlog (\d+)\n/.exec(r.stdout);
    if (m === null) continue;
    tally(c.id, processed(r.stdout.slice(m[0].length)), processed(loadOnEmu(c, 1).log));
  }
}
console.log(`${same}/${total} processed counts equal to the kernel's (sum: kernel ${kernelSum}, nfp-emu ${emuSum})`);
