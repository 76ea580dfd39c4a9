// `nfp-emu conformance DIR` prints `N passed, N failed` per engine and exits non-zero on a failure.
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const stdout = new PassThrough(), stderr = new PassThrough();
  let out = '', err = '';
  stdout.on('data', (c) => { out += c; });
  stderr.on('data', (c) => { err += c; });
  const code = await main(['node', 'nfp-emu', ...args], { stdout, stderr });
  return { code, out, err };
}

const SUITE = join(import.meta.dirname, '../../../shared/conformance/tests');

describe('nfp-emu conformance', () => {
  it.skipIf(!existsSync(SUITE))(`passes the suite on both engines${existsSync(SUITE) ? '' : ' (skipped: the suite is not on this machine)'}`, async () => {
    const r = await cli('conformance', SUITE);
    expect(r.out).toContain('interpreter: 313 passed, 0 failed');
    expect(r.out).toContain('jit: 313 passed, 0 failed');
    expect(r.code).toBe(0);
  });

  it('reports a wrong result and a malformed file, and exits 1', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nfp-emu-conf-'));
    writeFileSync(join(dir, 'good.data'), '-- asm\nmov %r0, 7\nexit\n-- result\n0x7\n');
    writeFileSync(join(dir, 'wrong.data'), '-- asm\nmov %r0, 7\nexit\n-- result\n0x8\n');
    writeFileSync(join(dir, 'broken.data'), '-- asm\nmov %r0, %r99\nexit\n-- result\n0x0\n');
    const r = await cli('conformance', '--engine', 'jit', dir);
    expect(r.out).toContain('FAIL jit wrong: r0 = 0x7, expected 0x8');
    expect(r.out).toMatch(/FAIL jit broken: .*%r99/);
    expect(r.out).toContain('jit: 1 passed, 2 failed');
    expect(r.code).toBe(1);
  });

  it('names a missing folder', async () => {
    const r = await cli('conformance', '/nonexistent/dir');
    expect(r.code).toBe(1);
    expect(r.err).toContain('/nonexistent/dir');
  });
});
