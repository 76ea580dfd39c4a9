// What bpfCheck does with the load attributes beyond the instructions (VerifierOptions): prog_flags'
// alignment modes, nr_cpu_ids for bpf_get_smp_processor_id()'s range, line info for the log. The
// expected lines are the kernel's, as the machine's 6.18 kernel printed them for the same programs.

import { describe, expect, it } from 'vitest';
import { assemble } from '../../src/bpf/asm.js';
import { isBpfError } from '../../src/bpf/errno.js';
import { BPF_F_ANY_ALIGNMENT, BPF_F_STRICT_ALIGNMENT, BPF_PROG_TYPE } from '../../src/bpf/prog-types.js';
import { VerifierLog } from '../../src/kernel/verifier/log.js';
import { bpfCheck, type VerifierOptions } from '../../src/kernel/verifier/verifier.js';

function check(text: string, extra: Partial<VerifierOptions> = {}): { ok: boolean; errno?: string; log: string } {
  const log = new VerifierLog(1, 1 << 20);
  try {
    bpfCheck({ progType: BPF_PROG_TYPE.XDP, expectedAttachType: 0, insns: assemble(text), ldImm: new Map(), gplCompatible: true, log, ...extra });
    return { ok: true, log: log.text() };
  } catch (e) {
    if (!isBpfError(e)) throw e;
    return { ok: false, errno: e.errno, log: log.text() };
  }
}

/** A u16 packet load at data + 13, inside a checked range: aligned only without NET_IP_ALIGN's 2. */
const PKT_U16_AT_13 = `
r2 = *(u32 *)(r1 + 0)
r3 = *(u32 *)(r1 + 4)
r4 = r2
r4 += 20
if r4 > r3 goto out
r0 = *(u16 *)(r2 + 13)
out:
r0 = 2
exit`;

describe('VerifierOptions', () => {
  it('progFlags: BPF_F_STRICT_ALIGNMENT holds packet accesses to NET_IP_ALIGN, BPF_F_ANY_ALIGNMENT lifts it', () => {
    expect(check(PKT_U16_AT_13).ok).toBe(true);
    const strict = check(PKT_U16_AT_13, { progFlags: BPF_F_STRICT_ALIGNMENT });
    expect(strict.errno).toBe('EACCES');
    expect(strict.log).toContain('misaligned packet access off 2+0+0+13 size 2\n');
    expect(check(PKT_U16_AT_13, { progFlags: BPF_F_STRICT_ALIGNMENT | BPF_F_ANY_ALIGNMENT }).ok).toBe(true);
  });

  it('progFlags: the stack is held to alignment whatever the flags', () => {
    const r = check('r1 = 0\n*(u64 *)(r10 - 7) = r1\nr0 = 2\nexit', { progFlags: BPF_F_ANY_ALIGNMENT });
    expect(r.errno).toBe('EACCES');
    expect(r.log).toContain('misaligned stack access off 0+0+-7 size 8\n');
  });

  it('nrCpuIds: bpf_get_smp_processor_id() returns below nr_cpu_ids', () => {
    const text = 'call 8\nr0 = 2\nexit';
    const level2 = (extra: Partial<VerifierOptions>): string => {
      const log = new VerifierLog(2, 1 << 20);
      bpfCheck({ progType: BPF_PROG_TYPE.XDP, expectedAttachType: 0, insns: assemble(text), ldImm: new Map(), gplCompatible: true, log, ...extra });
      return log.text();
    };
    expect(level2({ nrCpuIds: 2 })).toContain('0: (85) call bpf_get_smp_processor_id#8 ; R0=scalar(smin=smin32=0,smax=umax=smax32=umax32=1,var_off=(0x0; 0x1))');
    expect(level2({})).toContain('0: (85) call bpf_get_smp_processor_id#8 ; R0=scalar()');
  });

  it('lineText: a source line is shown when it changes, before the instruction', () => {
    const log = new VerifierLog(2, 1 << 20);
    const lines = ['int x = 1; @ a.c:1', 'int x = 1; @ a.c:1', 'return x; @ a.c:2'];
    bpfCheck({
      progType: BPF_PROG_TYPE.XDP, expectedAttachType: 0, insns: assemble('r1 = 1\nr0 = 2\nexit'), ldImm: new Map(), gplCompatible: true, log,
      lineText: (i) => lines[i],
    });
    const text = log.text();
    expect(text.match(/; int x = 1; @ a\.c:1\n/g)).toHaveLength(1);
    expect(text).toMatch(/; return x; @ a\.c:2\n2: \(95\) exit/);
  });
});
