// Golden images: what `bpftool prog dump jited` prints for a few test/progs programs offloaded to the
// NFP (the unrelocated image the kernel hands user space, through the ONE NFP disassembler), checked in
// under test/drivers/jited-golden/ and reviewed by diff when the JIT changes. Regenerate with
// UPDATE_GOLDEN=1 npx vitest run test/drivers/jit-golden.test.ts
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nfp_prog_image } from '../../src/drivers/nfp/prog.js';
import { formatJitedDump } from '../../src/nic/asm.js';
import { bootHost, nfpLoadObject, type TestHost } from './nfp-run.js';

const update = process.env['UPDATE_GOLDEN'] === '1';
const dir = new URL('./jited-golden/', import.meta.url);

let h: TestHost;
// One host, programs loaded in this order: the map table ids in the images are then always the same.
beforeAll(async () => { h = await bootHost(); });
afterAll(async () => { await h.shutdown(); });

const GOLDEN: readonly { obj: string; prog: string; opcodes?: boolean }[] = [
  { obj: 'xdp_l4lb', prog: 'xdp_l4lb' },
  { obj: 'xdp_pass', prog: 'xdp_pass', opcodes: true },
  { obj: 'xdp_drop_udp9', prog: 'xdp_drop_udp9' },
  { obj: 'xdp_adjust', prog: 'xdp_trim' },
];

describe('bpftool prog dump jited of offloaded programs', () => {
  for (const g of GOLDEN) {
    it(`${g.prog}${g.opcodes ? ' (opcodes)' : ''}`, async () => {
      const l = await nfpLoadObject(h, g.obj, g.prog);
      const text = formatJitedDump(nfp_prog_image(l.nfp_prog), { opcodes: g.opcodes ?? false });
      const file = new URL(`${g.prog}${g.opcodes ? '.opcodes' : ''}.txt`, dir);
      if (update || !existsSync(file)) writeFileSync(file, text);
      expect(text).toBe(readFileSync(file, 'utf8'));
      // Every word disassembles; the special branches show their BR_OFF_RELO targets.
      expect(text).not.toContain('invalid_instruction');
      expect(text).toMatch(/br\[\.15000\]/);
    });
  }
});
