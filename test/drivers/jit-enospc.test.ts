// A program too big for the code store of the production image (nfp-bpf-60c: 8k instructions, the
// BPF area the vNIC's NFP_NET_CFG_BPF_MAX_LEN names), through the syscall and through bpftool: the
// JIT stops at the limit with ENOSPC (jit.c nfp_prog_push(): "instruction limit reached (%u NFP
// instructions)", then nfp_bpf_translate()'s "Translation failed with error %d"), and nothing is left
// behind. nfp-verifier.test.ts shows the same against a 40-instruction test firmware; here the limit
// is the real one. (test/progs/xdp_big.o, written to be too big, never gets that far on any image: the
// hook refuses its `rule % 3` — clang's r / 3 * 3 after the unrolled loop — as a multiplication
// outside u32, as the upstream driver would.)

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assemble } from '../../src/bpf/asm.js';
import { encode } from '../../src/bpf/insn.js';
import { BPF_PROG_TYPE } from '../../src/bpf/prog-types.js';
import { runBpftool } from '../../src/cli/bpftool/main.js';
import { nfp_bpf_dev_ops, nfp_prog_of, type NfpProgOffload } from '../../src/drivers/nfp/prog.js';
import { NFP_NET_CFG_BPF_MAX_LEN } from '../../src/nic/ctrl-bar.js';
import { buildElf } from '../bpf/fixtures/elf-build.js';
import { bootHost, expectErrno, type TestHost } from './helpers.js';

const SHT_PROGBITS = 1;
const SHF_ALLOC_EXECINSTR = 0x6;
const STT_FUNC = 2;

let h: TestHost;
let maxLen: number;
const tmp = mkdtempSync(join(tmpdir(), 'nfpemu-enospc-'));
beforeAll(async () => {
  h = await bootHost();
  const offdev = h.nfp!.bpf!.bpf_dev;
  if (offdev.ops === null) Object.assign(offdev, { ops: nfp_bpf_dev_ops });
  maxLen = h.device!.bars[0]!.readw(NFP_NET_CFG_BPF_MAX_LEN);
});
afterAll(async () => {
  rmSync(tmp, { recursive: true, force: true });
  await h?.shutdown();
});

/** `n` 64-bit register adds (two NFP instructions each: add and add with carry) between a set-up and XDP_PASS. */
const adds = (n: number): string => `r1 = 1\nr2 = 3\n${'r1 += r2\n'.repeat(n)}r0 = 2\nexit`;

const progIds = (): number[] => {
  const out: number[] = [];
  for (let id = h.kernel.progs.nextAfter(0); id !== undefined; id = h.kernel.progs.nextAfter(id)) out.push(id);
  return out;
};

describe('the code store of the production image', () => {
  it('is the BPF area the vNIC advertises: nearly 8k instructions', () => {
    expect(h.device!.image.datapath.codeStoreInsns).toBe(8192);
    expect(maxLen).toBeGreaterThan(7000);
    expect(maxLen).toBeLessThanOrEqual(8192);
  });

  it('takes a program that fits, and refuses one instruction pair more than fits with ENOSPC at BPF_MAX_LEN', async () => {
    // Size the program from what fits: one that loads, and its image length.
    const small = await h.sys.progLoadAsync({ prog_type: BPF_PROG_TYPE.XDP, insns: assemble(adds(1000)), license: 'GPL', prog_ifindex: h.ifindex });
    const len1000 = nfp_prog_of(h.kernel.progOf(small, 'test').offload as NfpProgOffload).prog.length;
    h.sys.close(small);
    const room = Math.floor((maxLen - (len1000 - 2 * 1000)) / 2); // adds that fit beside the fixed part
    const fits = await h.sys.progLoadAsync({ prog_type: BPF_PROG_TYPE.XDP, insns: assemble(adds(room)), license: 'GPL', prog_ifindex: h.ifindex });
    expect(nfp_prog_of(h.kernel.progOf(fits, 'test').offload as NfpProgOffload).prog.length).toBeLessThanOrEqual(maxLen);
    h.sys.close(fits);

    const before = progIds();
    h.dmesg.clear();
    const attr = { prog_type: BPF_PROG_TYPE.XDP, insns: assemble(adds(room + 1)), license: 'GPL', prog_ifindex: h.ifindex, log_level: 1, log_size: 1 << 20 };
    await expectErrno(h.sys.progLoadAsync(attr), 'ENOSPC', `instruction limit reached (${maxLen} NFP instructions)`);
    expect(h.dmesg.has(`NFP net bpf: instruction limit reached (${maxLen} NFP instructions)`)).toBe(true);
    expect(h.dmesg.text()).toMatch(/NFP net bpf: Translation failed with error -28 \(translated: \d+\)/);
    expect(progIds()).toEqual(before);
  });

  it('bpftool prog load ... offload_dev nfp0 of such an object: libbpf\'s failure with -28, no program pinned', async () => {
    const insns = encode(assemble(adds(maxLen)));
    const obj = buildElf([
      { name: 'xdp', type: SHT_PROGBITS, flags: SHF_ALLOC_EXECINSTR, data: insns },
      { name: 'license', type: SHT_PROGBITS, flags: 0x3, data: new TextEncoder().encode('GPL\0') },
    ], [{ name: 'xdp_huge', shndx: 1, value: 0, size: insns.length, bind: 1, type: STT_FUNC }]);
    const file = join(tmp, 'xdp_huge.o');
    writeFileSync(file, obj);
    let stdout = '';
    let stderr = '';
    const before = progIds();
    h.dmesg.clear();
    const status = await runBpftool(['prog', 'load', file, '/sys/fs/bpf/enospc_huge', 'offload_dev', 'nfp0'], {
      kernel: h.kernel, sys: h.sys, cwd: tmp,
      stdout: { write: (s: string) => { stdout += s; } },
      stderr: { write: (s: string) => { stderr += s; } },
    });
    expect(status).not.toBe(0);
    expect(stdout).toBe('');
    // The verifier passed it (the log is its statistics line only); the JIT did not.
    expect(stderr).toMatch(/^libbpf: prog 'xdp_huge': BPF program load failed: No space left on device\nlibbpf: prog 'xdp_huge': -- BEGIN PROG LOAD LOG --\nprocessed \d+ insns [^\n]*\n-- END PROG LOAD LOG --\n/);
    expect(stderr).toContain("libbpf: prog 'xdp_huge': failed to load: -28\n");
    expect(stderr).toContain('Error: failed to load object file\n');
    expect(h.dmesg.has(`NFP net bpf: instruction limit reached (${maxLen} NFP instructions)`)).toBe(true);
    expect(progIds()).toEqual(before);
  });
});
