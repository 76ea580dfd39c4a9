import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { loadObject } from '../../src/bpf/object.js';
import { Kernel } from '../../src/kernel/kernel.js';
import { BpfSyscall } from '../../src/kernel/syscall.js';
import { loadObjectIntoKernel } from '../../src/libbpf/object.js';

it('loads the test programs into the emulated kernel and JIT-compiles them', () => {
  const k = new Kernel();
  const sys = new BpfSyscall(k);
  for (const f of ['xdp_pass', 'xdp_counter', 'xdp_subprog', 'xdp_tailcall', 'xdp_l4lb', 'xdp_big', 'xdp_adjust']) {
    const path = join(import.meta.dirname, '../progs', `${f}.o`);
    const obj = loadObject(readFileSync(path), path);
    const loaded = loadObjectIntoKernel(sys, obj);
    expect(loaded.programs.length).toBeGreaterThan(0);
    for (const p of loaded.programs) {
      const info = sys.progInfo(p.fd);
      expect(info.tag).toMatch(/^[0-9a-f]{16}$/);
      expect(info.name).toBe(p.spec.name.slice(0, 15));
      // Every map the object's program references is a used map, by id.
      for (const id of info.map_ids) expect(k.maps.get(id)).toBeDefined();
      expect(k.progs.get(info.id)!.jited, `${f}:${p.spec.name} JIT-compiled`).toBeDefined();
    }
  }
});
