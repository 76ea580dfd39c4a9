// `nfp-emu objdump` against llvm-objdump-14 on every BPF object in the repository (and xdp-tools'),
// whole text, line by line; and the CLI's handling of bad input.
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { objdump } from '../../src/cli/objdump.js';

const ROOT = join(import.meta.dirname, '../..');
const LLVM = 'llvm-objdump-14';
const haveLlvm = spawnSync(LLVM, ['--version']).status === 0;

function objects(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) return objects(p);
    return f.endsWith('.o') ? [p] : [];
  });
}

const repoObjects = [...objects(join(ROOT, 'test/progs')), ...objects(join(ROOT, 'test/bpf/fixtures'))];
const xdpTools = (() => {
  try {
    return objects('/usr/lib/x86_64-linux-gnu/bpf');
  } catch {
    return [];
  }
})();

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const stdout = new PassThrough(), stderr = new PassThrough();
  let out = '', err = '';
  stdout.on('data', (c) => { out += c; });
  stderr.on('data', (c) => { err += c; });
  const code = await main(['node', 'nfp-emu', ...args], { stdout, stderr });
  return { code, out, err };
}

describe.skipIf(!haveLlvm)(`objdump matches ${LLVM} -d${haveLlvm ? '' : ` (skipped: ${LLVM} is not installed)`}`, () => {
  it.each([...repoObjects, ...xdpTools].map((p) => [relative(ROOT, p), p]))('%s', (_name, path) => {
    const display = relative(ROOT, path);
    const theirs = execFileSync(LLVM, ['-d', display], { cwd: ROOT, encoding: 'utf8' });
    const ours = objdump(readFileSync(path), display);
    expect(ours.split('\n')).toEqual(theirs.split('\n'));
  });
});

describe('nfp-emu objdump', () => {
  it('has objects to check', () => {
    expect(repoObjects.length).toBeGreaterThanOrEqual(15);
  });

  it('prints the disassembly and the maps of a real object', async () => {
    const r = await cli('objdump', '--maps', join(ROOT, 'test/progs/xdp_counter.o'));
    expect(r.code).toBe(0);
    expect(r.out).toContain('Disassembly of section xdp:');
    expect(r.out).toMatch(/lock \*\(u64 \*\)\(r\d \+ \d+\) \+= r\d/);
    expect(r.out).toMatch(/^proto_stats\s+array\s+key 4B\s+value 16B\s+max_entries 256/m);
    expect(r.out).toMatch(/^src_stats\s+hash\s+key 4B/m);
  });

  it('names what is wrong with a bad file, without a stack trace', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nfp-emu-objdump-'));
    const bad = join(dir, 'bad.o');
    const good = readFileSync(join(ROOT, 'test/progs/xdp_pass.o'));
    writeFileSync(bad, good.subarray(0, 100));
    const r = await cli('objdump', bad);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^nfp-emu: .+/);
    expect(r.err).not.toMatch(/at .*\.ts:\d+/);
    const missing = await cli('objdump', join(dir, 'nope.o'));
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/nope\.o/);
  });
});
