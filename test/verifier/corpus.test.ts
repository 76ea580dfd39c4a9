// The verifier corpus itself, without a kernel: every case file parses, assembles (or has its object),
// names only maps it declares, and the corpus covers what issue 4 asks for. Where clang-14 is present,
// the committed objects of the C cases must be what corpus/build.sh makes of their sources.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadObject } from '../../src/bpf/object.js';
import { BPF_DW, BPF_IMM, BPF_LD, BPF_PSEUDO_MAP_IDX, BPF_PSEUDO_MAP_IDX_VALUE } from '../../src/bpf/opcodes.js';
import { BPF_PROG_TYPE } from '../../src/bpf/prog-types.js';
import { CORPUS_DIR, asmProgram, kernelLoadInput, listCases, objectFile, parseCase, reasonLines } from './corpus.js';

const cases = listCases();
const LDDW = BPF_LD | BPF_IMM | BPF_DW;

describe('verifier corpus: the case files', () => {
  it('has at least 150 cases with unique ids, in both verdicts and both languages', () => {
    expect(cases.length).toBeGreaterThanOrEqual(150);
    expect(new Set(cases.map((c) => c.id)).size).toBe(cases.length);
    const accepted = cases.filter((c) => c.expect.accept).length;
    expect(accepted).toBeGreaterThanOrEqual(50);
    expect(cases.length - accepted).toBeGreaterThanOrEqual(100);
    expect(cases.filter((c) => c.kind === 'c').length).toBeGreaterThanOrEqual(15);
  });

  it('covers XDP, socket filter and tc programs', () => {
    const types = new Set(cases.map((c) => c.progType));
    for (const t of [BPF_PROG_TYPE.XDP, BPF_PROG_TYPE.SOCKET_FILTER, BPF_PROG_TYPE.SCHED_CLS]) expect(types).toContain(t);
  });

  it.each(cases.filter((c) => c.kind === 'asm').map((c) => [c.id, c] as const))('%s assembles and uses exactly the maps it declares', (_id, c) => {
    const { insns, refs } = asmProgram(c);
    expect(insns.length).toBeGreaterThan(0);
    // Maps reached by fd (patched) or by fd_array index: a declared map nobody uses usually means a
    // wrong index in the program.
    const used = new Set(refs.map((r) => r.map));
    for (const x of insns) {
      // A lddw's second half has code 0, so only first halves match.
      if (x.code === LDDW && (x.src === BPF_PSEUDO_MAP_IDX || x.src === BPF_PSEUDO_MAP_IDX_VALUE)) used.add(x.imm);
    }
    if (!c.rawFds) expect([...used].sort()).toEqual(c.maps.map((_, i) => i));
    const input = kernelLoadInput(c);
    expect(input).toMatch(/^prog \d+ \d+ \d+ 1 \d+\n/);
    expect(/^insns ([0-9a-f]*)$/m.exec(input)?.[1]).toHaveLength(insns.length * 16);
  });

  it.each(cases.filter((c) => c.kind === 'c').map((c) => [c.id, c] as const))('%s has an object with one program', (_id, c) => {
    const o = objectFile(c);
    expect(fs.existsSync(o), `${o} is missing: run bash test/verifier/corpus/build.sh`).toBe(true);
    const obj = loadObject(fs.readFileSync(o), o);
    expect(obj.programs.map((p) => p.name)).toEqual([path.basename(c.id)]);
    expect(obj.programs[0]!.progType).toBe(c.progType);
  });

  it('refuses a header without a verdict, or a rejection without a log line', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'corpus-case-'));
    try {
      const f = path.join(dir, 'x.s');
      fs.writeFileSync(f, '# A title.\nr0 = 2\nexit\n');
      expect(() => parseCase(f)).toThrow(/no `expect:` line/);
      fs.writeFileSync(f, '# A title.\n# expect: reject EACCES\nr0 = 2\nexit\n');
      expect(() => parseCase(f)).toThrow(/needs a `log:` line/);
      fs.writeFileSync(f, '# A title.\n# expect: reject EWHAT\n# log: x\nexit\n');
      expect(() => parseCase(f)).toThrow(/expect must be/);
      fs.writeFileSync(f, '# A title.\n# map: m nosuchmap key=4\n# expect: accept\nexit\n');
      expect(() => parseCase(f)).toThrow(/unknown map type/);
      fs.writeFileSync(f, '# A title\n# spanning two lines.\n# prog: tc\n# flags: strict_alignment\n# expect: accept\nr0 = 0\nexit\n');
      const c = parseCase(f);
      expect(c.title).toBe('A title spanning two lines.');
      expect(c.progType).toBe(BPF_PROG_TYPE.SCHED_CLS);
      expect(c.progFlags).toBe(1);
      expect(c.log).toHaveLength(1); // the default `processed N insns` line
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reasonLines() finds the reason after the trace, and the whole log of a structural refusal', () => {
    const traced = '0: R1=ctx() R10=fp0\n0: (95) exit\nR0 !read_ok\nprocessed 1 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0\n';
    expect(reasonLines(traced)).toEqual(['R0 !read_ok']);
    expect(reasonLines('last insn is not an exit or jmp\nverification time 5 usec\n')).toEqual(['last insn is not an exit or jmp']);
  });
});

const clang = process.env['CLANG'] ?? 'clang-14';
const clangSkip = spawnSync(clang, ['--version'], { encoding: 'utf8' }).error !== undefined ? `${clang} is not installed` : '';

describe.skipIf(clangSkip !== '')(`verifier corpus: C objects are current${clangSkip ? ` - skipped: ${clangSkip}` : ''}`, () => {
  it('build.sh rebuilds every committed object byte for byte', () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'corpus-build-'));
    try {
      fs.cpSync(path.join(CORPUS_DIR, 'c'), path.join(tmp, 'c'), { recursive: true });
      fs.copyFileSync(path.join(CORPUS_DIR, 'build.sh'), path.join(tmp, 'build.sh'));
      // build.sh maps its own directory to test/verifier/corpus/c in the debug info, so the copy
      // gives the same bytes as the checkout.
      const r = spawnSync('bash', [path.join(tmp, 'build.sh')], { encoding: 'utf8', env: { ...process.env, CLANG: clang } });
      expect(r.status, r.stderr).toBe(0);
      const stale = cases.filter((c) => c.kind === 'c').filter((c) => {
        const fresh = fs.readFileSync(path.join(tmp, 'c', `${path.basename(c.id)}.o`));
        return !fresh.equals(fs.readFileSync(objectFile(c)));
      });
      expect(stale.map((c) => c.id), 'rebuild with: bash test/verifier/corpus/build.sh').toEqual([]);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }, 120_000);
});
