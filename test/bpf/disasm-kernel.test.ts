// The 'kernel' flavour against the real thing: programs loaded into this machine's kernel, dumped with
// `bpftool prog dump xlated ... opcodes`, each line compared with formatInsn on the dumped bytes. Call
// names are bpftool's own (kallsyms and the kernel's helper table): they reach the formatter through the
// callName callback, which is the point of the callback; map names go through xlatedImmName.

import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { disassemble, formatInsn, xlatedImmName } from '../../src/bpf/disasm.js';
import { decodeRaw, insn, type Insn } from '../../src/bpf/insn.js';
import { findOp } from '../../src/bpf/opcodes.js';

const bpffs = existsSync('/proc/mounts') && /\s\/sys\/fs\/bpf\s+bpf\s/.test(readFileSync('/proc/mounts', 'utf8'));
const root = process.getuid?.() === 0;
const haveBpftool = spawnSync('bpftool', ['version'], { encoding: 'utf8' }).status === 0;
const haveUnshare = spawnSync('unshare', ['--version'], { encoding: 'utf8' }).status === 0;
const why = !haveBpftool ? 'bpftool not installed' : !haveUnshare ? 'unshare not installed' : !root ? 'not root' : !bpffs ? 'no bpffs at /sys/fs/bpf' : '';

interface Dumped {
  readonly where: string;
  readonly text: string;
  readonly insns: Insn[];
}

// Everything runs in a private mount namespace with a fresh bpffs on /sys/fs/bpf: objects whose maps are
// pinned by name (xdp-tools' xdpfilt) pin them there, not in the machine's bpffs, and all of it goes away
// with the namespace.
const SCRIPT = `mount -t bpf bpf /sys/fs/bpf || exit 1
k=0
for obj in "$@"; do
  k=$((k + 1)); dir=/sys/fs/bpf/obj$k
  bpftool prog loadall "$obj" "$dir" type xdp >/dev/null 2>&1 || continue
  for p in "$dir"/*; do echo "=== $obj $(basename "$p")"; bpftool prog dump xlated pinned "$p" opcodes; done
done`;

/** Load each object (skipping those the verifier refuses) and dump its programs, in a private bpffs. */
function loadAndDump(objs: readonly string[]): Dumped[] {
  const r = spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c', SCRIPT, 'sh', ...objs], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`unshare/bpftool: ${r.stderr}`);
  const lines = r.stdout.split('\n');
  const out: Dumped[] = [];
  let prog = '';
  for (let k = 0; k < lines.length; k++) {
    if (lines[k]!.startsWith('=== ')) prog = lines[k]!.slice(4);
    // `  12: (85) call bpf_tail_call#12` followed by `       85 00 00 00 0c 00 00 00`.
    const m = /^\s*(\d+): (\(.*)$/.exec(lines[k]!);
    const b = /^\s+((?:[0-9a-f]{2} ?)+)$/.exec(lines[k + 1] ?? '');
    if (m === null || b === null) continue;
    out.push({ where: `${prog}:${m[1]}`, text: m[2]!, insns: decodeRaw(Uint8Array.from(b[1]!.trim().split(' '), (h) => parseInt(h, 16))) });
  }
  return out;
}

function objects(): string[] {
  const out: string[] = [];
  const sys = '/usr/lib/x86_64-linux-gnu/bpf';
  if (existsSync(sys)) out.push(...readdirSync(sys).filter((f) => f.endsWith('.o')).map((f) => join(sys, f)));
  const ours = join(import.meta.dirname, '..', 'progs');
  if (existsSync(ours)) out.push(...readdirSync(ours).filter((f) => f.endsWith('.o')).map((f) => join(ours, f)));
  return out;
}

describe.skipIf(why !== '')(`kernel flavour = bpftool prog dump xlated${why === '' ? '' : ` (skipped: ${why})`}`, () => {
  it('matches every dumped instruction of the programs this kernel accepts', () => {
    let lines = 0;
    for (const d of loadAndDump(objects())) {
      const x = d.insns[0]!;
      // Instructions only the kernel makes (internal opcodes outside the ISA) are not ours to print.
      if (findOp(x.code, x.src, x.off, x.imm) === undefined) continue;
      const name = /\) call (?:pc)?(.*?)(?:#-?\d+)?$/.exec(d.text)?.[1];
      expect(formatInsn(d.insns, 0, { flavour: 'kernel', callName: () => name, immName: xlatedImmName }), d.where).toBe(d.text);
      lines++;
    }
    expect(lines).toBeGreaterThan(100);
  });
});

describe('kernel flavour (kernel/bpf/disasm.c print_bpf_insn)', () => {
  const k = (xs: Insn[], opts = {}) => formatInsn(xs, 0, { flavour: 'kernel', ...opts });

  it('prints the opcode byte, %+d offsets and %x jump immediates', () => {
    expect(k([insn(0xb7, 0, 0, 0, 0)])).toBe('(b7) r0 = 0');
    expect(k([insn(0x79, 1, 6, 8)])).toBe('(79) r1 = *(u64 *)(r6 +8)');
    expect(k([insn(0x7b, 10, 1, -8)])).toBe('(7b) *(u64 *)(r10 -8) = r1');
    expect(k([insn(0x15, 3, 0, 1, 0x81)])).toBe('(15) if r3 == 0x81 goto pc+1');
    expect(k([insn(0x56, 3, 0, -2, -1)])).toBe('(56) if w3 != 0xffffffff goto pc-2');
    expect(k([insn(0x05, 0, 0, 3)])).toBe('(05) goto pc+3');
    expect(k([insn(0x95)])).toBe('(95) exit');
    expect(k([insn(0xdb, 0, 1, 0, 0x01)])).toBe('(db) r1 = atomic64_fetch_add((u64 *)(r0 +0), r1)');
    expect(k([insn(0xc3, 0, 1, 4, 0xf1)])).toBe('(c3) r0 = atomic_cmpxchg((u32 *)(r0 +4), r0, r1)');
    expect(k([insn(0x40, 0, 2, 0, 14)])).toBe('(40) r0 = *(u32 *)skb[r2 + 14]');
  });

  it('names calls through callName, with the kernel\'s fallbacks', () => {
    const helper = [insn(0x85, 0, 0, 0, 1)];
    expect(k(helper, { callName: (x: Insn) => (x.imm === 1 ? 'bpf_map_lookup_elem' : undefined) })).toBe('(85) call bpf_map_lookup_elem#1');
    expect(k(helper)).toBe('(85) call unknown#1');
    expect(k([insn(0x85, 0, 1, 0, 3)])).toBe('(85) call pc+3');
    expect(k([insn(0x85, 0, 2, 0, 777)])).toBe('(85) call kernel-function#777');
  });

  it('names ldimm64 values through immName, as bpftool does', () => {
    const mapFd = [insn(0x18, 1, 1, 0, 5), insn(0)];
    expect(k(mapFd, { immName: xlatedImmName })).toBe('(18) r1 = map[id:5]');
    expect(k([insn(0x18, 1, 2, 0, 5), insn(0, 0, 0, 0, 8)], { immName: xlatedImmName })).toBe('(18) r1 = map[id:5][0]+8');
    expect(k([insn(0x18, 2, 0, 0, 1), insn(0, 0, 0, 0, 0x10081800)])).toBe('(18) r2 = 0x1008180000000001');
    // Without allow_ptr_leaks the verifier log hides a map pointer.
    expect(k(mapFd, { allowPtrLeaks: false })).toBe('(18) r1 = 0x0');
  });

  it('lays out a listing as bpftool does, one line per ldimm64', () => {
    const prog = [insn(0xb7, 0, 0, 0, 0), insn(0x18, 1, 1, 0, 5), insn(0), insn(0x95)];
    expect(disassemble(prog, { flavour: 'kernel', listing: true, opcodes: true, immName: xlatedImmName })).toEqual([
      '   0: (b7) r0 = 0',
      '       b7 00 00 00 00 00 00 00',
      '   1: (18) r1 = map[id:5]',
      '       18 11 00 00 05 00 00 00 00 00 00 00 00 00 00 00',
      '   3: (95) exit',
      '       95 00 00 00 00 00 00 00',
    ]);
    expect(disassemble(prog, { listing: true, opcodes: true })).toEqual([
      '       0:\tb7 00 00 00 00 00 00 00\tr0 = 0',
      '       1:\t18 11 00 00 05 00 00 00 00 00 00 00 00 00 00 00\tld_pseudo\tr1, 1, 5',
      '       3:\t95 00 00 00 00 00 00 00\texit',
    ]);
    expect(disassemble(prog, { flavour: 'ubpf', listing: true })).toEqual(['   0: mov %r0, 0', '   1: lddw %r1, map_fd 5', '   3: exit']);
    expect(disassemble(prog)).toHaveLength(3);
  });

  it('prints encodings outside the table without failing', () => {
    const bad = [insn(0xff)];
    expect(formatInsn(bad, 0)).toBe('<unknown>');
    expect(formatInsn(bad, 0, { flavour: 'kernel' })).toBe('(ff) BUG_ff');
    expect(formatInsn(bad, 0, { flavour: 'ubpf' })).toBe('unknown 0xff');
    // A ldimm64 cut short has no second slot to read.
    expect(formatInsn([insn(0x18, 1)], 0)).toBe('<unknown>');
  });
});
