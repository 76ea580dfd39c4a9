import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { loadObject } from '../../src/bpf/object.js';
import { Kernel } from '../../src/kernel/kernel.js';
import { BpfSyscall } from '../../src/kernel/syscall.js';
import { loadObjectIntoKernel } from '../../src/libbpf/object.js';

it('loads every test program into the emulated kernel', () => {
  const k = new Kernel();
  const sys = new BpfSyscall(k);
  for (const f of ['xdp_pass', 'xdp_counter', 'xdp_subprog', 'xdp_tailcall', 'xdp_l4lb', 'xdp_big', 'xdp_adjust']) {
    const path = join(import.meta.dirname, '../progs', `${f}.o`);
    const obj = loadObject(readFileSync(path), path);
    const loaded = loadObjectIntoKernel(sys, obj);
    expect(loaded.programs.length).toBeGreaterThan(0);
    for (const p of loaded.programs) {
      const info = sys.progInfo(p.fd);
      console.log(f, p.spec.name, info.tag, info.xlated_prog_len, info.map_ids, k.progs.get(info.id)!.jited ? 'jit' : 'interp');
    }
  }
});
