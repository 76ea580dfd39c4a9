// The emulated bpftool against the real one. Each test/cli/bpftool-golden/*.golden file holds commands
// and what this machine's bpftool v7.1 printed for them (recorded by capture.mjs, in a private bpffs);
// the same commands run here, in order, on one emulated host (each command a bpftool process of its
// own), and every line of stdout and stderr and the exit status must match once the values no two
// kernels share are masked: object ids, load times, JIT image sizes, run durations.
// Where the real tool is present, it is run again and must still print the recorded output, so the
// goldens cannot go stale against the tool they claim to come from.

import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runBpftool } from '../../src/cli/bpftool/main.js';
import { Kernel } from '../../src/kernel/kernel.js';

const GOLDEN = join(import.meta.dirname, 'bpftool-golden');
const ROOT = join(import.meta.dirname, '..', '..');

interface Step {
  readonly directive?: string;
  readonly args?: string[];
  readonly line: string;
  stdout: string;
  stderr: string;
  status: number;
  masks: [RegExp, string][];
  /** A hash map's entries come in its hash seed's order: compare them as a set. */
  unordered: boolean;
  /** A difference owned by another part of the emulator, with why: the output must still differ. */
  known?: string;
}

/** Two JSON strings separated by a blank: the arguments of @mask. */
function jsonStrings(text: string): [string, string] {
  const end = /^"(?:[^"\\]|\\.)*"/.exec(text);
  if (end === null) throw new Error(`golden: bad @mask ${text}`);
  return [JSON.parse(end[0]) as string, JSON.parse(text.slice(end[0].length).trim()) as string];
}

/** A .golden file: its directives and commands with the recorded output. */
function parseGolden(text: string): Step[] {
  const steps: Step[] = [];
  let masks: [RegExp, string][] = [];
  let unordered = false;
  let known: string | undefined;
  let cur: Step | undefined;
  let out: string[] = [];
  let err: string[] = [];
  let noNl = false;
  const finish = (): void => {
    if (cur === undefined) return;
    cur.stdout = out.length === 0 ? '' : `${out.join('\n')}${noNl ? '' : '\n'}`;
    cur.stderr = err.length === 0 ? '' : `${err.join('\n')}\n`;
    cur = undefined;
  };
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('$ ')) {
      finish();
      cur = { args: line.slice(2).split(/\s+/).filter((w) => w !== ''), line, stdout: '', stderr: '', status: -1, masks, unordered, ...(known !== undefined ? { known } : {}) };
      masks = [];
      unordered = false;
      known = undefined;
      out = [];
      err = [];
      noNl = false;
      steps.push(cur);
    } else if (line.startsWith('> ') || line === '>') {
      out.push(line.slice(2));
    } else if (line.startsWith('! ') || line === '!') {
      err.push(line.slice(2));
    } else if (line === '\\ no newline') {
      noNl = true;
    } else if (line.startsWith('= ')) {
      cur!.status = Number(line.slice(2));
    } else if (line.startsWith('@mask ')) {
      const [re, rep] = jsonStrings(line.slice(6));
      masks.push([new RegExp(re, 'g'), rep]);
    } else if (line === '@unordered') {
      unordered = true;
    } else if (line.startsWith('@known ')) {
      known = line.slice(7);
    } else if (line.startsWith('@')) {
      finish();
      steps.push({ directive: line, line, stdout: '', stderr: '', status: 0, masks: [], unordered: false });
    } else {
      throw new Error(`golden: cannot read line: ${line}`);
    }
  }
  finish();
  return steps;
}

const digits = (s: string): string => s.replace(/\d+/g, '<id>');

/** What differs between any two kernels running the same commands. */
const MASKS: readonly [RegExp, string | ((m: string) => string)][] = [
  [/^\d+: (?=[a-z_]+ {2}|type \d+ {2})/gm, '<id>: '],
  [/("id": ?)\d+/g, '$1<id>'],
  [/\bbtf_id \d+/g, 'btf_id <id>'],
  [/("btf_id": ?)\d+/g, '$1<id>'],
  [/map_ids [\d,]+/g, digits],
  [/"map_ids": ?\[[\d,]*/g, digits],
  [/map\[id:\d+\]/g, 'map[id:<id>]'],
  [/loaded_at \S+/g, 'loaded_at <time>'],
  [/("loaded_at": ?)\d+/g, '$1<time>'],
  [/jited \d+B/g, 'jited <n>B'],
  [/("bytes_jited": ?)\d+/g, '$1<n>'],
  [/(duration(?: \(average\))?: )\d+ns/g, '$1<n>ns'],
  // A map lddw's imm is the map's id, in the raw bytes of `opcodes` too.
  [/^( {7}18 [12][0-9a-f] [0-9a-f]{2} [0-9a-f]{2})(?: [0-9a-f]{2}){4}/gm, '$1 <map id>'],
  [/("code": ?"0x18",\s*"src_reg": ?"0x[12]",[\s\S]*?"imm": ?\[)"0x[0-9a-f]{2}","0x[0-9a-f]{2}","0x[0-9a-f]{2}","0x[0-9a-f]{2}"/g, '$1<map id>'],
  // A helper call's imm is the helper's offset from __bpf_call_base in that kernel's build.
  [/(call [A-Za-z_]\w*)#-?\d+/g, '$1#<imm>'],
  [/("duration": ?)\d+/g, '$1<n>'],
];

function normalize(s: string, masks: readonly [RegExp, string][], unordered = false): string {
  for (const [re, rep] of masks) s = s.replace(re, rep);
  for (const [re, rep] of MASKS) s = typeof rep === 'string' ? s.replace(re, rep) : s.replace(re, rep);
  if (!unordered) return s;
  try {
    const v: unknown = JSON.parse(s);
    if (Array.isArray(v)) return `(as a set) ${JSON.stringify(v.map((x) => JSON.stringify(x)).sort())}`;
  } catch {
    // plain text: one entry per line
  }
  return `(as a set)\n${s.split('\n').sort().join('\n')}`;
}

/** Make what a directive asks for, on the emulated host or (files) on this one. */
function applyDirective(kernel: Kernel, d: string, made: string[]): void {
  if (d.startsWith('@mkdir ')) {
    const path = d.slice(7);
    const parts = path.split('/').filter((p) => p !== '');
    for (let i = 4; i <= parts.length; i++) {
      const p = `/${parts.slice(0, i).join('/')}`;
      if (!kernel.bpffs.isBpffs(p)) kernel.bpffs.mkdir(p);
    }
  } else if (d.startsWith('@hexfile ')) {
    const [, path, hex] = d.split(' ') as [string, string, string];
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, Buffer.from(hex, 'hex'));
    made.push(path);
  } else if (d.startsWith('@textfile ')) {
    const sp = d.indexOf(' ', 10);
    const path = d.slice(10, sp);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, JSON.parse(d.slice(sp + 1)) as string);
    made.push(path);
  }
}

interface Mismatch {
  readonly command: string;
  readonly what: string;
  readonly expected: string;
  readonly actual: string;
}

/** Replay a golden file on a fresh emulated host; every difference after masking. */
async function replay(steps: readonly Step[]): Promise<Mismatch[]> {
  const kernel = new Kernel();
  const made: string[] = [];
  const bad: Mismatch[] = [];
  try {
    for (const s of steps) {
      if (s.directive !== undefined) {
        applyDirective(kernel, s.directive, made);
        continue;
      }
      let stdout = '';
      let stderr = '';
      const status = await runBpftool(s.args!, { kernel, cwd: ROOT, stdout: { write: (x: string) => { stdout += x; } }, stderr: { write: (x: string) => { stderr += x; } } });
      const diffs: Mismatch[] = [];
      const cmp = (what: string, expected: string, actual: string): void => {
        const e = normalize(expected, s.masks, s.unordered);
        const a = normalize(actual, s.masks, s.unordered);
        if (e !== a) diffs.push({ command: s.line, what, expected: e, actual: a });
      };
      cmp('stdout', s.stdout, stdout);
      cmp('stderr', s.stderr, stderr);
      cmp('status', String(s.status), String(status));
      if (s.known === undefined) bad.push(...diffs);
      else if (diffs.length === 0) bad.push({ command: s.line, what: 'known difference', expected: `a difference: ${s.known}`, actual: 'none: remove the @known line' });
    }
  } finally {
    for (const p of made) rmSync(p, { force: true });
  }
  return bad;
}

function report(bad: readonly Mismatch[], max = 12): string {
  return bad.slice(0, max).map((m) => `${m.command} [${m.what}]\n--- real bpftool\n${m.expected}\n--- emulated\n${m.actual}`).join('\n\n');
}

const goldens = readdirSync(GOLDEN).filter((f) => f.endsWith('.golden')).sort();

describe('the emulated bpftool prints what bpftool v7.1 printed (test/cli/bpftool-golden)', () => {
  for (const f of goldens) {
    it(f.replace(/\.golden$/, ''), async () => {
      const steps = parseGolden(readFileSync(join(GOLDEN, f), 'utf8'));
      const commands = steps.filter((s) => s.args !== undefined).length;
      expect(commands).toBeGreaterThan(0);
      const bad = await replay(steps);
      // BPFTOOL_GOLDEN_DIFF=FILE writes every difference there, for working through them.
      if (process.env.BPFTOOL_GOLDEN_DIFF !== undefined) writeFileSync(`${process.env.BPFTOOL_GOLDEN_DIFF}.${f}`, report(bad, Infinity));
      expect(bad.length, `${bad.length} differences in ${commands} commands:\n${report(bad)}`).toBe(0);
    });
  }
});

// ---- the goldens are still what the real tool prints

const root = process.getuid?.() === 0;
const have = (cmd: string): boolean => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const liveWhy = !have('bpftool') ? 'bpftool not installed'
  : !/v7\.1\./.test(spawnSync('bpftool', ['version'], { encoding: 'utf8' }).stdout ?? '') ? 'bpftool is not v7.1'
    : !have('unshare') ? 'unshare not installed' : !root ? 'not root' : '';

describe.skipIf(liveWhy !== '')(`the goldens equal the live bpftool${liveWhy === '' ? '' : ` (skipped: ${liveWhy})`}`, () => {
  it('prints the recorded output again (after masking ids and times)', async () => {
    const out = mkdtempSync(join(tmpdir(), 'nfpemu-bpftool-live-'));
    try {
      const cases = readdirSync(GOLDEN).filter((x) => x.endsWith('.cases'));
      for (const f of cases) writeFileSync(join(out, f), readFileSync(join(GOLDEN, f)));
      // One capture per file, all at once: each runs in namespaces of its own, and most of the time
      // is bpftool's start-up, once per command.
      const runs = await Promise.all(cases.map((f) => new Promise<{ file: string; status: number | null; stderr: string }>((done) => {
        const c = spawn(process.execPath, [join(GOLDEN, 'capture.mjs'), '--dir', out, f.replace(/\.cases$/, '')], { cwd: ROOT, timeout: 300_000 });
        let stderr = '';
        c.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
        c.on('close', (status) => done({ file: f, status, stderr }));
      })));
      for (const r of runs) expect(r.status, `${r.file}: ${r.stderr}`).toBe(0);
      for (const f of goldens) {
        const recorded = parseGolden(readFileSync(join(GOLDEN, f), 'utf8')).filter((s) => s.args !== undefined);
        const live = parseGolden(readFileSync(join(out, f), 'utf8')).filter((s) => s.args !== undefined);
        expect(live.map((s) => s.line)).toEqual(recorded.map((s) => s.line));
        const bad: Mismatch[] = [];
        live.forEach((s, i) => {
          const g = recorded[i]!;
          for (const [what, e, a] of [['stdout', g.stdout, s.stdout], ['stderr', g.stderr, s.stderr], ['status', String(g.status), String(s.status)]] as const) {
            const ne = normalize(e, g.masks, g.unordered);
            const na = normalize(a, g.masks, g.unordered);
            if (ne !== na) bad.push({ command: s.line, what, expected: ne, actual: na });
          }
        });
        expect(bad.length, `${f}: the live bpftool no longer prints the golden:\n${report(bad)}`).toBe(0);
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
    // The real bpftool replays every case; on a loaded 2-CPU machine that takes minutes, as capture.mjs's timeout allows.
  }, 320_000);
});
