// Test helper: run a small straight-line BPF program through the real kernel's verifier and return its
// log at level 2, so the bounds and format tests can compare against what the kernel itself prints.
// The program is assembled with the project's assembler (it knows the v4 instructions clang-14 lacks),
// wrapped in a minimal relocatable ELF (one `xdp` section, a GPL license) and loaded with
// `bpftool -d prog load`, whose libbpf debug output carries the verifier log. Everything pinned lives
// under /sys/fs/bpf/nfp-emu-verifier-<pid>/ and is removed at once.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { assemble } from '../../src/bpf/asm.js';
import { SHT_PROGBITS } from '../../src/bpf/elf.js';
import { encode, type Insn } from '../../src/bpf/insn.js';
import { buildElf } from '../bpf/fixtures/elf-build.js';

const SHF_ALLOC = 2;
const SHF_WRITE = 1;
const SHF_EXECINSTR = 4;
const STT_FUNC = 2;
const STT_OBJECT = 1;

/** Why the live kernel cannot be asked here, or null when it can. */
export function kernelUnavailable(): string | null {
  if (process.platform !== 'linux') return 'not Linux';
  const which = spawnSync('bpftool', ['version'], { encoding: 'utf8' });
  if (which.error || which.status !== 0) return 'bpftool is not installed';
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'not root (BPF_PROG_LOAD needs CAP_BPF)';
  if (!fs.existsSync('/sys/fs/bpf')) return '/sys/fs/bpf is not mounted';
  const probe = kernelVerifierLog('r0 = 0\nexit');
  if (!probe.ok) return `the kernel refused a trivial program: ${probe.log.slice(0, 200)}`;
  return null;
}

export interface KernelLoad {
  ok: boolean;
  /** The verifier log between libbpf's BEGIN/END markers. */
  log: string;
}

let counter = 0;

/** Load a program (LLVM-syntax text, or instructions) as an XDP program and return the level-2 log. */
export function kernelVerifierLog(program: string | readonly Insn[]): KernelLoad {
  const insns = typeof program === 'string' ? assemble(program) : program;
  const code = encode(insns);
  const license = new TextEncoder().encode('GPL\0');
  const elf = buildElf(
    [
      { name: 'xdp', type: SHT_PROGBITS, flags: SHF_ALLOC | SHF_EXECINSTR, data: code },
      { name: 'license', type: SHT_PROGBITS, flags: SHF_ALLOC | SHF_WRITE, data: license },
    ],
    [
      { name: 'prog', shndx: 1, value: 0, size: code.length, bind: 1, type: STT_FUNC },
      { name: '_license', shndx: 2, value: 0, size: license.length, bind: 1, type: STT_OBJECT },
    ],
  );
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nfp-emu-verifier-'));
  const pinDir = `/sys/fs/bpf/nfp-emu-verifier-${process.pid}`;
  const pin = `${pinDir}/p${counter++}`;
  try {
    const obj = path.join(dir, 'prog.o');
    fs.writeFileSync(obj, elf);
    fs.mkdirSync(pinDir, { recursive: true });
    const r = spawnSync('bpftool', ['-d', 'prog', 'load', obj, pin, 'type', 'xdp'], { encoding: 'utf8', timeout: 60_000 });
    const out = `${r.stdout ?? ''}${r.stderr ?? ''}`;
    const begin = out.indexOf('-- BEGIN PROG LOAD LOG --');
    const end = out.indexOf('-- END PROG LOAD LOG --');
    const log = begin >= 0 && end > begin ? out.slice(out.indexOf('\n', begin) + 1, end) : out;
    return { ok: r.status === 0, log };
  } finally {
    fs.rmSync(pin, { force: true });
    fs.rmSync(pinDir, { recursive: true, force: true });
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
