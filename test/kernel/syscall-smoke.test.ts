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

it('maps and programs keep their BTF alive; frozen is the map\'s own state; PROG_BIND_MAP adds a used map once', () => {
  const k = new Kernel();
  const sys = new BpfSyscall(k);
  const path = join(import.meta.dirname, '../progs', 'xdp_subprog.o');
  const loaded = loadObjectIntoKernel(sys, loadObject(readFileSync(path), path));
  const btfFd = loaded.btfFd!;
  const btfId = k.btfs.nextAfter(0)!;
  const prog = loaded.programs[0]!;
  const withBtf = loaded.maps.find((m) => sys.mapInfo(m.fd).btf_id !== 0 && !sys.mapInfo(m.fd).frozen);
  expect(withBtf, 'a BTF-described map').toBeDefined();
  const mapId = sys.mapInfo(withBtf!.fd).id;
  const progId = sys.progInfo(prog.fd).id;
  // Closing the BTF fd leaves the BTF object alive while the map and program use it.
  sys.close(btfFd);
  expect(k.btfs.get(btfId)).toBeDefined();
  // Freezing is visible through another syscall instance (it is the map's state, not a side table).
  const other = new BpfSyscall(k);
  const fd2 = other.mapGetFdById(mapId);
  sys.mapFreeze(withBtf!.fd);
  expect(other.mapInfo(fd2).frozen).toBe(true);
  expect(() => other.mapFreeze(fd2)).toThrow(/already frozen/);
  expect(() => other.mapUpdate({ map_fd: fd2, key: new Uint8Array(withBtf!.spec.keySize), value: new Uint8Array(withBtf!.spec.valueSize) })).toThrow(/frozen/);
  other.close(fd2);
  // PROG_BIND_MAP: a fresh array map joins map_ids once; flags are refused.
  const extra = sys.mapCreate({ map_type: 2, key_size: 4, value_size: 4, max_entries: 1 });
  const extraId = sys.mapInfo(extra).id;
  expect(() => sys.progBindMap({ prog_fd: prog.fd, map_fd: extra, flags: 1 })).toThrow(/flags/);
  sys.progBindMap({ prog_fd: prog.fd, map_fd: extra });
  sys.progBindMap({ prog_fd: prog.fd, map_fd: extra });
  expect(sys.progInfo(prog.fd).map_ids.filter((id) => id === extraId)).toHaveLength(1);
  sys.close(extra);
  expect(k.maps.get(extraId), 'the bound map lives on with the program').toBeDefined();
  // When everything is closed, the maps, the program and finally the BTF go.
  for (const p of loaded.programs) sys.close(p.fd);
  for (const m of loaded.maps) sys.close(m.fd);
  expect(k.progs.get(progId)).toBeUndefined();
  expect(k.maps.get(extraId)).toBeUndefined();
  expect(k.btfs.get(btfId)).toBeUndefined();
});
