// The stack liveness lines of 6.18's kernel/bpf/liveness.c in the level-2 verifier log: which
// instruction's live_before / must_write_acc changed, per call chain and frame, and how many passes each
// update took. The expected lines were recorded from this machine's 6.18 kernel (a raw BPF_PROG_LOAD
// of the same instructions through corpus/kernel-load.c); where that kernel can be asked, the programs
// (and a few more) are compared with it live as well, and so are the programs of xdp-tools' compiled
// objects (loaded with `bpftool -d prog loadall`, whose libbpf debug output carries the level-2 log).
// State pruning asks the same analysis at every log level: a program whose verdict depends on it gets
// the same verdict and instruction count at levels 1, 2 and 4, and the kernel's.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { assemble } from '../../src/bpf/asm.js';
import { encode } from '../../src/bpf/insn.js';
import { loadObject } from '../../src/bpf/object.js';
import { Kernel } from '../../src/kernel/kernel.js';
import { BpfSyscall, type ProgLoadAttr } from '../../src/kernel/syscall.js';
import { loadObjectIntoKernel } from '../../src/libbpf/object.js';
import { isBpfError } from '../../src/bpf/errno.js';
import { CORPUS_DIR, kernelLoader, parseCase } from './corpus.js';

const BPF_PROG_TYPE_XDP = 6;
const LIVENESS_LINE = / insn \d+ [+-]|live stack update done/;

interface Case {
  name: string;
  text: string;
  /** The liveness lines of the kernel's level-2 log, in order (note the trailing blanks it prints). */
  kernel?: string[];
}

const CASES: Case[] = [
  {
    name: 'a write and a read of one slot',
    text: 'r1 = 1\n*(u64 *)(r10 - 8) = r1\nr0 = *(u64 *)(r10 - 8)\nexit',
    kernel: [
      '(0) frame 0 insn 2 +live -8 ',
      '(0) frame 0 insn 1 +written -8 ',
      '(0) frame 0 insn 0 +written -8 ',
      '(0) live stack update done in 2 iterations',
    ],
  },
  {
    name: 'a branch writing a different slot on each side',
    text: `call 7
r1 = 1
*(u64 *)(r10 - 8) = r1
if r0 > 5 goto big
*(u64 *)(r10 - 16) = r0
goto join
big:
*(u64 *)(r10 - 24) = r0
join:
r0 = *(u64 *)(r10 - 8)
exit`,
    kernel: [
      '(0) frame 0 insn 7 +live -8 ',
      '(0) frame 0 insn 6 +live -8 ',
      '(0) frame 0 insn 4 +live -8 ',
      '(0) frame 0 insn 4 +written -16 ',
      '(0) frame 0 insn 3 +live -8 ',
      '(0) frame 0 insn 2 +written -8 ',
      '(0) frame 0 insn 1 +written -8 ',
      '(0) frame 0 insn 0 +written -8 ',
      '(0) live stack update done in 2 iterations',
      '(0) frame 0 insn 6 +written -24 ',
      '(0) live stack update done in 2 iterations',
    ],
  },
  {
    name: 'a loop counting in a stack slot',
    text: `r1 = 0
*(u64 *)(r10 - 8) = r1
top:
r1 = *(u64 *)(r10 - 8)
r1 += 1
*(u64 *)(r10 - 8) = r1
if r1 < 4 goto top
r0 = 0
exit`,
    kernel: [
      '(0) frame 0 insn 4 +written -8 ',
      '(0) frame 0 insn 2 +live -8 ',
      '(0) frame 0 insn 2 +written -8 ',
      '(0) frame 0 insn 1 +written -8 ',
      '(0) frame 0 insn 0 +written -8 ',
      '(0) frame 0 insn 5 +live -8 ',
      '(0) live stack update done in 3 iterations',
    ],
  },
  {
    name: 'one store through a pointer to either of two slots (must_write is what every visit wrote)',
    text: 'call 7\nr1 = r10\nr1 += -8\nif r0 > 5 goto l\nr1 += -8\nl:\nr2 = 0\n*(u64 *)(r1 + 0) = r2\nr0 = *(u64 *)(r10 - 8)\nexit',
    kernel: [
      '(0) frame 0 insn 7 +live -8 ',
      '(0) frame 0 insn 6 +live -8 ',
      '(0) frame 0 insn 6 +written -16 ',
      '(0) frame 0 insn 5 +live -8 ',
      '(0) frame 0 insn 5 +written -16 ',
      '(0) frame 0 insn 3 +live -8 ',
      '(0) frame 0 insn 3 +written -16 ',
      '(0) frame 0 insn 1 +live -8 ',
      '(0) frame 0 insn 1 +written -16 ',
      '(0) frame 0 insn 0 +live -8 ',
      '(0) frame 0 insn 0 +written -16 ',
      '(0) live stack update done in 2 iterations',
      '(0) live stack update done in 1 iterations',
    ],
  },
  {
    name: "a subprogram writing its caller's slot: the callee's call chain, then the call site",
    text: `r1 = r10
r1 += -8
call sub
r0 = *(u64 *)(r10 - 8)
exit
sub:
r2 = 7
*(u64 *)(r1 + 0) = r2
*(u64 *)(r10 - 16) = r2
r0 = *(u64 *)(r10 - 16)
exit`,
    kernel: [
      '(2,5) frame 0 insn 6 +written -8 ',
      '(2,5) frame 0 insn 5 +written -8 ',
      '(2,5) frame 1 insn 8 +live -16 ',
      '(2,5) frame 1 insn 7 +written -16 ',
      '(2,5) frame 1 insn 5 +written -16 ',
      '(2,5) live stack update done in 2 iterations',
      '(0) frame 0 insn 2 +written -8 ',
      '(0) frame 0 insn 0 +written -8 ',
      '(0) live stack update done in 2 iterations',
      '(0) frame 0 insn 3 +live -8 ',
      '(0) live stack update done in 2 iterations',
    ],
  },
  {
    name: 'one subprogram called with either slot, read after the call on one path',
    text: `call 7
r6 = r0
r1 = r10
r1 += -8
if r6 > 5 goto l
r1 += -8
l:
call s
if r6 > 7 goto m
r0 = *(u64 *)(r10 - 16)
m:
r0 = 0
exit
s:
r2 = 0
*(u64 *)(r1 + 0) = r2
r0 = 0
exit`,
    kernel: [
      '(6,11) frame 0 insn 12 +written -16 ',
      '(6,11) frame 0 insn 11 +written -16 ',
      '(6,11) live stack update done in 2 iterations',
      '(0) frame 0 insn 6 +written -16 ',
      '(0) frame 0 insn 4 +written -16 ',
      '(0) frame 0 insn 1 +written -16 ',
      '(0) frame 0 insn 0 +written -16 ',
      '(0) live stack update done in 2 iterations',
      '(0) frame 0 insn 8 +live -16 ',
      '(0) frame 0 insn 7 +live -16 ',
      '(0) live stack update done in 2 iterations',
      '(6,11) live stack update done in 1 iterations',
      '(0) frame 0 insn 6 +live -16 ',
      '(0) frame 0 insn 4 +live -16 ',
      '(0) frame 0 insn 1 +live -16 ',
      '(0) frame 0 insn 0 +live -16 ',
      '(0) live stack update done in 2 iterations',
    ],
  },
  // Only compared live: a helper reading its key from the stack, a nested loop, partial writes.
  { name: 'a helper reading a stack buffer', text: 'r1 = 0\n*(u64 *)(r10 - 16) = r1\n*(u32 *)(r10 - 8) = r1\nr1 = r10\nr1 += -16\nr2 = 12\ncall 8\nr0 = 0\nexit' },
  {
    name: 'nested loops over two slots',
    text: `r1 = 0
*(u64 *)(r10 - 8) = r1
outer:
r2 = 0
*(u64 *)(r10 - 16) = r2
inner:
r2 = *(u64 *)(r10 - 16)
r2 += 1
*(u64 *)(r10 - 16) = r2
if r2 < 3 goto inner
r1 = *(u64 *)(r10 - 8)
r1 += 1
*(u64 *)(r10 - 8) = r1
if r1 < 3 goto outer
r0 = 0
exit`,
  },
  { name: 'a narrow write does not kill the slot', text: 'r1 = 0\n*(u64 *)(r10 - 8) = r1\ncall 7\nif r0 > 3 goto x\n*(u32 *)(r10 - 8) = r0\nx:\nr0 = *(u64 *)(r10 - 8)\nexit' },
];

function emuLog(text: string, level: number): string {
  const sys = new BpfSyscall(new Kernel({ cpus: 2, prandomSeed: 1 }));
  const attr: ProgLoadAttr = {
    prog_type: BPF_PROG_TYPE_XDP, expected_attach_type: 0, prog_flags: 0, insns: assemble(text), license: 'GPL',
    log_level: level, log_size: 1 << 20, prog_name: 'live_stack',
  };
  sys.close(sys.progLoad(attr));
  return attr.log_buf ?? '';
}

/** Verdict and `processed N insns` of a load at `level` (4: statistics only). */
function emuOutcome(text: string, level: number): { verdict: string; processed: string | undefined } {
  const sys = new BpfSyscall(new Kernel({ cpus: 2, prandomSeed: 1 }));
  const attr: ProgLoadAttr = {
    prog_type: BPF_PROG_TYPE_XDP, expected_attach_type: 0, prog_flags: 0, insns: assemble(text), license: 'GPL',
    log_level: level, log_size: 1 << 20, prog_name: 'live_stack',
  };
  let verdict = 'accept';
  try {
    sys.close(sys.progLoad(attr));
  } catch (e) {
    if (!isBpfError(e)) throw e;
    verdict = `reject ${e.errno}`;
  }
  return { verdict, processed: /processed (\d+) insns/.exec(attr.log_buf ?? '')?.[1] };
}

const livenessLines = (log: string): string[] => log.split('\n').filter((l) => LIVENESS_LINE.test(l));

describe('stack liveness lines at log level 2 (recorded from Linux 6.18)', () => {
  for (const c of CASES) {
    if (c.kernel === undefined) continue;
    it(c.name, () => {
      expect(livenessLines(emuLog(c.text, 2))).toEqual(c.kernel);
    });
  }

  it('come after the instruction that ends the path and before the next branch', () => {
    const log = emuLog(CASES[1]!.text, 2).split('\n');
    const done = log.indexOf('(0) live stack update done in 2 iterations');
    expect(log[done - 9]).toMatch(/^8: \(95\) exit$/);
    expect(log[done + 1]).toBe('');
    expect(log[done + 2]).toMatch(/^from 3 to 6: /);
  });

  it('are not printed at log level 1', () => {
    for (const c of CASES) expect(livenessLines(emuLog(c.text, 1))).toEqual([]);
  });
});

/**
 * The store at 19 writes fp-16 on the first path and fp-8 on the second; the third path brings fp-8 =
 * 100 to it with the first path's registers. Only a slot every visit wrote is dead before the store, so
 * fp-8 is live, the third path is not pruned, and its out-of-bounds stack read is found.
 */
const MUST_WRITE_MEET = parseCase(`${CORPUS_DIR}stack/must_write_meet.s`);

describe('state pruning asks the live-stack analysis at every log level', () => {
  const text = fs.readFileSync(MUST_WRITE_MEET.file, 'utf8');

  it('a slot only some visits of a store write stays live: the unsafe path is walked and refused', () => {
    for (const level of [1, 2, 4]) expect(emuOutcome(text, level).verdict, `log level ${level}`).toBe('reject EACCES');
  });

  it('the same instructions are processed at log levels 1, 2 and 4', () => {
    const counts = [1, 2, 4].map((level) => emuOutcome(text, level).processed);
    expect(counts[0]).toMatch(/^\d+$/);
    expect(counts).toEqual([counts[0], counts[0], counts[0]]);
  });
});

/** Why the machine's kernel cannot be asked, or '' when it can. */
function kernelSkip(): string {
  if (process.platform !== 'linux') return 'not Linux';
  if (!os.release().startsWith('6.18.')) return `the lines are 6.18's; this kernel is ${os.release()}`;
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'not root: BPF_PROG_LOAD of XDP programs needs CAP_BPF';
  const loader = kernelLoader();
  if ('reason' in loader) return loader.reason;
  return '';
}

const skip = kernelSkip();

describe.skipIf(skip !== '')(`the same programs on this machine's kernel${skip !== '' ? ` (skipped: ${skip})` : ''}`, () => {
  for (const c of CASES) {
    it(c.name, () => {
      const loader = kernelLoader();
      if ('reason' in loader) throw new Error(loader.reason);
      const input = `prog ${BPF_PROG_TYPE_XDP} 0 0 2 ${1 << 20}\nlicense GPL\ninsns ${Buffer.from(encode(assemble(c.text))).toString('hex')}\n`;
      const r = spawnSync(loader.bin, [], { input, encoding: 'utf8', timeout: 60_000 });
      expect(r.stdout.startsWith('ok\n'), r.stdout.slice(0, 300)).toBe(true);
      const kernel = livenessLines(r.stdout);
      expect(kernel.length).toBeGreaterThan(0);
      expect(livenessLines(emuLog(c.text, 2))).toEqual(kernel);
    });
  }
});

describe.skipIf(skip !== '')(`pruning on this machine's kernel${skip !== '' ? ` (skipped: ${skip})` : ''}`, () => {
  it('the must_write meet case: the same verdict and processed count as the kernel', () => {
    const loader = kernelLoader();
    if ('reason' in loader) throw new Error(loader.reason);
    const text = fs.readFileSync(MUST_WRITE_MEET.file, 'utf8');
    const input = `prog ${BPF_PROG_TYPE_XDP} 0 0 1 ${1 << 20}\nlicense GPL\ninsns ${Buffer.from(encode(assemble(text))).toString('hex')}\n`;
    const r = spawnSync(loader.bin, [], { input, encoding: 'utf8', timeout: 60_000 });
    const processed = /processed (\d+) insns/.exec(r.stdout)?.[1];
    expect(processed).toBeDefined();
    expect(r.stdout.startsWith('errno 13\n'), r.stdout.slice(0, 300)).toBe(true);
    expect(emuOutcome(text, 1)).toEqual({ verdict: 'reject EACCES', processed });
  });
});

const XDP_TOOLS = '/usr/lib/x86_64-linux-gnu/bpf';
const OBJECTS = ['xdpfilt_alw_eth.o', 'xdpfilt_alw_ip.o', 'xdpfilt_dny_tcp.o', 'xdpdump_xdp.o'].map((f) => `${XDP_TOOLS}/${f}`);

function objectSkip(): string {
  if (skip !== '') return skip;
  if (!OBJECTS.every((f) => fs.existsSync(f))) return `xdp-tools' objects are not in ${XDP_TOOLS}`;
  const v = spawnSync('bpftool', ['version'], { encoding: 'utf8' });
  if (v.error !== undefined || v.status !== 0) return 'bpftool is not installed';
  if (!fs.existsSync('/sys/fs/bpf')) return '/sys/fs/bpf is not mounted';
  return '';
}

/** Each program's liveness lines as the kernel logs them, in the object's order. */
function kernelObjectLines(file: string): string[][] {
  const pinDir = `/sys/fs/bpf/nfp-emu-live-stack-${process.pid}`;
  try {
    const r = spawnSync('bpftool', ['-d', 'prog', 'loadall', file, pinDir], { encoding: 'utf8', timeout: 120_000, maxBuffer: 1 << 28 });
    expect(r.status, r.stderr.slice(-500)).toBe(0);
    const out = `${r.stdout}${r.stderr}`;
    const logs: string[][] = [];
    for (let at = out.indexOf('-- BEGIN PROG LOAD LOG --'); at >= 0; at = out.indexOf('-- BEGIN PROG LOAD LOG --', at + 1)) {
      logs.push(livenessLines(out.slice(at, out.indexOf('-- END PROG LOAD LOG --', at))));
    }
    return logs;
  } finally {
    fs.rmSync(pinDir, { recursive: true, force: true });
  }
}

/** The same through nfp-emu's libbpf, each program's level-2 log taken from its load attributes. */
function emuObjectLines(file: string): string[][] {
  const sys = new BpfSyscall(new Kernel({ cpus: 2, prandomSeed: 1 }));
  const logs: string[][] = [];
  const progLoad = sys.progLoad.bind(sys);
  sys.progLoad = (attr: ProgLoadAttr): number => {
    try {
      return progLoad(attr);
    } finally {
      logs.push(livenessLines(attr.log_buf ?? ''));
    }
  };
  loadObjectIntoKernel(sys, loadObject(fs.readFileSync(file), file), { logLevel: 2 });
  return logs;
}

const objSkip = objectSkip();

describe.skipIf(objSkip !== '')(`xdp-tools' programs on this machine's kernel${objSkip !== '' ? ` (skipped: ${objSkip})` : ''}`, () => {
  for (const file of OBJECTS) {
    it(file.slice(XDP_TOOLS.length + 1), () => {
      const kernel = kernelObjectLines(file);
      expect(kernel.flat().length).toBeGreaterThan(0);
      expect(emuObjectLines(file)).toEqual(kernel);
    });
  }
});
