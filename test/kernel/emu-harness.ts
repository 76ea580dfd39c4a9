// Test harness for the emulated host: load an object from test/progs the way `bpftool prog loadall`
// does, run programs through BPF_PROG_TEST_RUN on a chosen engine, and dump maps.
import { readFileSync } from 'node:fs';
import { loadObject } from '../../src/bpf/object.js';
import { interpret } from '../../src/kernel/exec/interpreter.js';
import { Kernel } from '../../src/kernel/kernel.js';
import type { BpfProg } from '../../src/kernel/prog.js';
import { BpfSyscall } from '../../src/kernel/syscall.js';
import { mapPinName, loadObjectIntoKernel, type LoadedObject } from '../../src/libbpf/object.js';
import { progObject } from '../oracle/kernel.js';

export type Engine = 'interpreter' | 'jit';

export interface EmuObject {
  readonly k: Kernel;
  readonly sys: BpfSyscall;
  readonly loaded: LoadedObject;
  /** program name -> fd */
  readonly progs: Record<string, number>;
  /** map pin name -> fd */
  readonly maps: Record<string, number>;
}

export function loadEmu(name: string, k = new Kernel({ cpus: 2, prandomSeed: 1 })): EmuObject {
  const sys = new BpfSyscall(k);
  const path = progObject(name);
  const loaded = loadObjectIntoKernel(sys, loadObject(readFileSync(path), path));
  const progs = Object.fromEntries(loaded.programs.map((p) => [p.spec.name, p.fd]));
  const maps = Object.fromEntries(loaded.maps.map((m) => [mapPinName(m.spec.name), m.fd]));
  return { k, sys, loaded, progs, maps };
}

/** BPF_PROG_TEST_RUN with the program forced onto one engine (the JIT image is kept aside meanwhile). */
export function runEmu(emu: EmuObject, prog: string, data: Uint8Array, engine: Engine, repeat = 1) {
  const fd = emu.progs[prog];
  if (fd === undefined) throw new Error(`no program ${prog}`);
  const p = emu.k.fds.get(fd)!.obj as BpfProg;
  const image = p.jited;
  if (engine === 'interpreter') p.jited = undefined;
  else if (image === undefined) throw new Error(`${prog} has no JIT image`);
  try {
    return emu.sys.progTestRun({ prog_fd: fd, data_in: data, repeat });
  } finally {
    p.jited = image;
  }
}

export interface Entry {
  key: string;
  /** hex per CPU for per-CPU maps, one element otherwise */
  values: string[];
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** Every entry of a map, sorted by key; per-CPU values split per CPU. */
export function dumpEmu(emu: EmuObject, map: string): Entry[] {
  const fd = emu.maps[map];
  if (fd === undefined) throw new Error(`no map ${map}`);
  const info = emu.sys.mapInfo(fd);
  const percpu = [5, 6, 10].includes(info.type);
  const out: Entry[] = [];
  let key: Uint8Array | null = null;
  for (;;) {
    try {
      key = emu.sys.mapGetNextKey({ map_fd: fd, key });
    } catch {
      break;
    }
    let value: Uint8Array;
    try {
      value = emu.sys.mapLookup({ map_fd: fd, key });
    } catch {
      continue; // prog arrays and perf event arrays have empty slots
    }
    const stride = Math.ceil(info.value_size / 8) * 8;
    const values = percpu
      ? Array.from({ length: value.length / stride }, (_, c) => hex(value.subarray(c * stride, c * stride + info.value_size)))
      : [hex(value)];
    out.push({ key: hex(key), values });
  }
  return out.sort((a, b) => a.key.localeCompare(b.key));
}

export { interpret };
