// The object loader: every real object loads; programs and maps match what libbpf + the kernel make of
// the same object (bpftool prog loadall in a private bpffs); the fixtures' maps, relocations,
// sub-programs and func/line info are what their C source says.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { BTF_KIND_FUNC, dumpBtf, encodeBtf, parseBtf } from '../../src/bpf/btf.js';
import { parseElf, SHF_EXECINSTR, STT_FUNC } from '../../src/bpf/elf.js';
import { isBpfError } from '../../src/bpf/errno.js';
import {
  findMap, findProgram, internalMapName, loadObject, objectName, withMapFds, type BpfObject, type LoadObjectOptions,
  type ProgramSpec,
} from '../../src/bpf/object.js';
import {
  BPF_CALL, BPF_DW, BPF_IMM, BPF_JMP, BPF_LD, BPF_PSEUDO_CALL, BPF_PSEUDO_FUNC, BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE,
} from '../../src/bpf/opcodes.js';
import {
  BPF_ATTACH_TYPE, BPF_F_MMAPABLE, BPF_F_NO_PREALLOC, BPF_F_RDONLY_PROG, BPF_F_XDP_HAS_FRAGS, BPF_MAP_TYPE, BPF_PROG_TYPE,
  findSecDef, mapTypeStr, progTypeStr, SEC_ATTACH_BTF,
} from '../../src/bpf/prog-types.js';
import { bpftoolLibbpfVersion, kernelLoadAll, kernelLoadUnavailable, type KernelLoad } from './fixtures/bpftool.js';

const XDP_TOOLS = '/usr/lib/x86_64-linux-gnu/bpf';
const objectsIn = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.o')).sort().map((f) => `${dir}/${f}`) : []);
const XDP_OBJS = objectsIn(XDP_TOOLS);
const FIXTURES = 'test/bpf/fixtures';
const REAL = [...XDP_OBJS, ...objectsIn(FIXTURES), ...objectsIn('test/progs')];
const load = (path: string, opts?: LoadObjectOptions): BpfObject => loadObject(readFileSync(path), path, opts);

const LDDW = BPF_LD | BPF_IMM | BPF_DW;
const CALL = BPF_JMP | BPF_CALL;

describe('every real object loads', () => {
  it.skipIf(XDP_OBJS.length === 0)(`the 15 xdp-tools objects are there (skipped: ${XDP_TOOLS} missing)`, () => {
    expect(XDP_OBJS.length).toBe(15);
  });

  it.each(REAL)('%s: one program per function symbol outside .text, with its section', (path) => {
    const obj = load(path);
    const elf = parseElf(readFileSync(path));
    const expected = elf.symbols
      .filter((s) => s.type === STT_FUNC && elf.sections[s.shndx]!.flags & SHF_EXECINSTR && elf.sections[s.shndx]!.name !== '.text')
      .map((s) => `${elf.sections[s.shndx]!.name}/${s.name}`)
      .sort();
    expect(obj.programs.map((p) => `${p.section}/${p.name}`).sort()).toEqual(expected);
    expect(obj.license).not.toBe('');
    for (const p of obj.programs) {
      const def = findSecDef(p.section)!;
      expect(p.progType).toBe(BPF_PROG_TYPE[def.progType]);
      expect(p.insns.length).toBe(p.secInsnCnt + p.subprogs.reduce((n, s) => n + s.insnCnt, 0));
      // BPF_PROG_LOAD wants func_info[0] on insn 0 and line_info sorted within the program.
      if (p.funcInfo.length > 0) expect(p.funcInfo[0]!.insnOff).toBe(0);
      for (const li of p.lineInfo) expect(li.insnOff).toBeLessThan(p.insns.length);
      for (const r of p.mapRelocs) {
        const x = p.insns[r.insnIdx]!;
        expect(x.code).toBe(LDDW);
        expect(x.src).toBe(r.kind === 'map_fd' ? BPF_PSEUDO_MAP_FD : BPF_PSEUDO_MAP_VALUE);
        expect(x.imm).toBe(r.mapIdx);
        expect(obj.maps[r.mapIdx]).toBeDefined();
      }
    }
  });

  it.skipIf(XDP_OBJS.length === 0)('libxdp sections are skipped as libbpf skips them (skipped: xdp-tools missing)', () => {
    const obj = load(`${XDP_TOOLS}/xdpfilt_alw_all.o`);
    expect(obj.skipped).toContainEqual(expect.objectContaining({ name: '.xdp_run_config', reason: 'unrecognized data section' }));
    expect(obj.skipped).toContainEqual(expect.objectContaining({ name: '.debug_info', reason: 'ignored' }));
    const disp = load(`${XDP_TOOLS}/xdp-dispatcher.o`);
    expect(disp.skipped).toContainEqual(expect.objectContaining({ name: 'xdp_metadata', reason: 'unrecognized data section' }));
    expect(disp.maps.map((m) => m.name)).toEqual(['xdp_disp.rodata']);
  });
});

// ---------------------------------------------------------------------------------------------
// Against libbpf and the kernel.

const noKernel = kernelLoadUnavailable();
const libbpfVer = bpftoolLibbpfVersion();
/** bpftool's libbpf: 1.1 (Linux 6.1) marks every internal map mmapable; later ones only those with globals. */
const bpftoolRules: LoadObjectOptions = { libbpf: libbpfVer !== undefined && (libbpfVer[0] < 1 || (libbpfVer[0] === 1 && libbpfVer[1] <= 1)) ? 'v1.1' : 'current' };

/** The number of possible CPUs (/sys/devices/system/cpu/possible, e.g. "0-1"). */
function possibleCpus(): number {
  let n = 0;
  for (const part of readFileSync('/sys/devices/system/cpu/possible', 'utf8').trim().split(',')) {
    const [a, b] = part.split('-').map(Number);
    n += b === undefined ? 1 : b - a! + 1;
  }
  return n;
}

/** Why the machine's libbpf cannot load this object, from what the object contains; undefined if it can. */
function libbpfCannotLoad(obj: BpfObject, path: string): string | undefined {
  if (obj.programs.some((p) => (p.secDef?.flags ?? 0) & SEC_ATTACH_BTF)) return 'its programs attach to a BTF target given at run time';
  if (parseElf(readFileSync(path)).sections.some((s) => s.name === 'maps')) return 'libbpf >= 1.0 rejects legacy "maps" sections';
  return undefined;
}

describe.skipIf(noKernel !== undefined)(`against bpftool prog loadall (skipped: ${noKernel})`, () => {
  const kernel = new Map<string, KernelLoad>();
  beforeAll(() => {
    for (const path of REAL) if (libbpfCannotLoad(load(path), path) === undefined) kernel.set(path, kernelLoadAll(path));
  }, 120_000);

  it.for(REAL)('%s: program types and maps as the kernel holds them', (path, ctx) => {
    const obj = load(path, bpftoolRules);
    const why = libbpfCannotLoad(obj, path);
    if (why !== undefined) return ctx.skip(why);
    const k = kernel.get(path)!;
    if (!k.ok && path.startsWith('test/progs/')) return ctx.skip(`the kernel refused another engineer's program: ${k.error.split('\n').slice(-3).join(' ')}`);
    if (!k.ok) throw new Error(k.error);
    expect(k.progs.map((p) => p.pin).sort()).toEqual(obj.programs.map((p) => p.name).sort());
    for (const kp of k.progs) expect(progTypeStr(findProgram(obj, kp.pin)!.progType)).toBe(kp.type);
    // Every map the kernel holds for the programs is one of ours, with the same definition.
    for (const km of k.maps) {
      const m = obj.maps.find((x) => x.name.slice(0, 15) === km.name);
      expect(m, `map ${km.name}`).toBeDefined();
      // What happens after the spec: libbpf sizes an unsized perf event array to the possible CPUs
      // (map_set_def_max_entries), and the kernel makes devmaps read-only to programs (dev_map_init_map).
      const max = m!.type === BPF_MAP_TYPE.PERF_EVENT_ARRAY && m!.maxEntries === 0 ? possibleCpus() : m!.maxEntries;
      const devmap = m!.type === BPF_MAP_TYPE.DEVMAP || m!.type === BPF_MAP_TYPE.DEVMAP_HASH;
      expect({ type: mapTypeStr(m!.type), key: m!.keySize, value: m!.valueSize, max, flags: m!.flags | (devmap ? BPF_F_RDONLY_PROG : 0) })
        .toEqual({ type: km.type, key: km.bytes_key, value: km.bytes_value, max: km.max_entries, flags: km.flags });
      expect(km.frozen ?? 0).toBe(m!.libbpfType === 'rodata' || m!.libbpfType === 'kconfig' ? 1 : 0);
    }
    // And every map our programs reference is one the kernel got.
    const used = new Set(obj.programs.flatMap((p) => p.mapRelocs.map((r) => obj.maps[r.mapIdx]!.name.slice(0, 15))));
    for (const name of used) expect(k.maps.map((x) => x.name)).toContain(name);
  });

  it.for(REAL)('%s: BTF after the DATASEC fixups is what libbpf gave the kernel', (path, ctx) => {
    const obj = load(path, bpftoolRules);
    if (libbpfCannotLoad(obj, path) !== undefined) return ctx.skip(libbpfCannotLoad(obj, path)!);
    const k = kernel.get(path)!;
    if (!k.ok || k.btf === undefined) return ctx.skip('the kernel did not load it');
    expect(dumpBtf(obj.btf!)).toBe(k.btf);
  });
});

// ---------------------------------------------------------------------------------------------
// The fixtures, checked against their C source.

interface CallTarget { at: number; target: number; kind: 'call' | 'func' }
const callTargets = (p: ProgramSpec): CallTarget[] =>
  p.insns.flatMap((x, i): CallTarget[] => {
    if (x.code === CALL && x.src === BPF_PSEUDO_CALL) return [{ at: i, target: i + x.imm + 1, kind: 'call' }];
    if (x.code === LDDW && x.src === BPF_PSEUDO_FUNC) return [{ at: i, target: i + x.imm + 1, kind: 'func' }];
    return [];
  });

describe('fixture btf_maps.o', () => {
  const obj = load(`${FIXTURES}/btf_maps.o`);
  const map = (n: string) => {
    const m = findMap(obj, n);
    if (m === undefined) throw new Error(`no map ${n}`);
    return m;
  };

  it('has both XDP programs and the license', () => {
    expect(obj.programs.map((p) => p.name).sort()).toEqual(['xdp_first', 'xdp_second']);
    expect(obj.license).toBe('GPL');
    for (const p of obj.programs) {
      expect(p.progType).toBe(BPF_PROG_TYPE.XDP);
      expect(p.expectedAttachType).toBe(BPF_ATTACH_TYPE.XDP);
    }
  });

  it('reads BTF map definitions: types, sizes from key/value types or numbers, flags, pinning', () => {
    expect(map('fixture_counters')).toMatchObject({ type: BPF_MAP_TYPE.PERCPU_ARRAY, keySize: 4, valueSize: 8, maxEntries: 4, pinning: 1, pinPath: '/sys/fs/bpf/fixture_counters', internal: false });
    expect(map('flows')).toMatchObject({ type: BPF_MAP_TYPE.HASH, keySize: 16, valueSize: 16, maxEntries: 1024, flags: BPF_F_NO_PREALLOC, pinning: 0 });
    expect(obj.btf!.type(map('flows').btfKeyTypeId).name).toBe('flow_key');
    expect(map('lru_sized')).toMatchObject({ type: BPF_MAP_TYPE.LRU_HASH, keySize: 8, valueSize: 24, maxEntries: 128, btfKeyTypeId: 0, btfValueTypeId: 0 });
    expect(map('flows').pinPath).toBeUndefined();
  });

  it('reads map-in-map with its inner definition and initial slot, and prog-array slots', () => {
    const outer = map('outer');
    expect(outer).toMatchObject({ type: BPF_MAP_TYPE.ARRAY_OF_MAPS, keySize: 4, valueSize: 4, maxEntries: 4, btfKeyTypeId: 0, btfValueTypeId: 0 });
    expect(outer.innerMap).toMatchObject({ name: 'outer.inner', type: BPF_MAP_TYPE.ARRAY, keySize: 4, valueSize: 4, maxEntries: 8 });
    expect(outer.initSlots).toEqual([{ index: 2, kind: 'map', name: 'inner_a', target: obj.maps.indexOf(map('inner_a')) }]);
    const jumps = map('jumps');
    expect(jumps).toMatchObject({ type: BPF_MAP_TYPE.PROG_ARRAY, keySize: 4, valueSize: 4, maxEntries: 3 });
    expect(jumps.initSlots).toEqual([{ index: 1, kind: 'prog', name: 'xdp_second', target: obj.programs.findIndex((p) => p.name === 'xdp_second') }]);
  });

  it('turns global data sections into one-element arrays named as libbpf names them', () => {
    const elf = parseElf(readFileSync(`${FIXTURES}/btf_maps.o`));
    const sym = (n: string) => elf.symbols.find((s) => s.name === n)!;
    const rodata = map('.rodata');
    expect(rodata).toMatchObject({ name: 'btf_maps.rodata', type: BPF_MAP_TYPE.ARRAY, keySize: 4, maxEntries: 1, internal: true, flags: BPF_F_RDONLY_PROG | BPF_F_MMAPABLE });
    const rv = new DataView(rodata.initialData!.buffer);
    expect(rv.getUint32(sym('max_len').value, true)).toBe(1514);
    expect(rodata.initialData![sym('mode').value]).toBe(3);
    const data = map('.data');
    expect(data).toMatchObject({ name: 'btf_maps.data', valueSize: 4, flags: BPF_F_MMAPABLE });
    expect(new DataView(data.initialData!.buffer).getUint32(0, true)).toBe(16);
    const bss = map('.bss');
    expect(bss).toMatchObject({ name: 'btf_maps.bss', valueSize: 16, flags: BPF_F_MMAPABLE });
    expect([...bss.initialData!]).toEqual(new Array(16).fill(0));
    const tuning = map('.data.tuning');
    expect(tuning).toMatchObject({ name: '.data.tuning', valueSize: 16 });
    expect([...new Uint32Array(tuning.initialData!.buffer)]).toEqual([1, 2, 3, 4]);
    expect(obj.btf!.type(rodata.btfValueTypeId).name).toBe('.rodata');
  });

  it('relocates map and global-data references to pseudo lddw pairs', () => {
    const p = findProgram(obj, 'xdp_first')!;
    const byMap = (n: string) => p.mapRelocs.filter((r) => obj.maps[r.mapIdx]!.name === n);
    expect(byMap('fixture_counters').map((r) => r.kind)).toEqual(['map_fd']);
    expect(byMap('jumps').map((r) => r.kind)).toEqual(['map_fd']);
    const elf = parseElf(readFileSync(`${FIXTURES}/btf_maps.o`));
    const off = (n: string) => elf.symbols.find((s) => s.name === n)!.value;
    // Each map_value reference carries the variable's offset in the second slot's imm.
    for (const r of p.mapRelocs.filter((x) => x.kind === 'map_value')) expect(p.insns[r.insnIdx + 1]!.imm).toBe(r.offset);
    expect(byMap('btf_maps.rodata').map((r) => r.offset)).toContain(off('max_len'));
    expect(byMap('btf_maps.data').map((r) => r.offset)).toContain(off('sample_rate'));
    expect(byMap('btf_maps.bss').map((r) => r.offset)).toContain(off('seen_packets'));
  });

  it('withMapFds puts fds where the map indexes were and nowhere else', () => {
    const p = findProgram(obj, 'xdp_first')!;
    const fds = obj.maps.map((_, i) => 100 + i);
    const out = withMapFds(p, fds);
    for (const r of p.mapRelocs) expect(out[r.insnIdx]!.imm).toBe(100 + r.mapIdx);
    const touched = new Set(p.mapRelocs.map((r) => r.insnIdx));
    out.forEach((x, i) => { if (!touched.has(i)) expect(x).toEqual(p.insns[i]); });
    expect(() => withMapFds(p, [])).toThrow(/no fd for map/);
  });

  it("sets mmapable as the chosen libbpf does: 'current' only with non-static variables", () => {
    const cur = load(`${FIXTURES}/btf_maps.o`);
    const old = load(`${FIXTURES}/btf_maps.o`, { libbpf: 'v1.1' });
    // .bss holds global seen_packets and static hidden_total: mmapable either way.
    expect(findMap(cur, '.bss')!.flags).toBe(BPF_F_MMAPABLE);
    expect(findMap(old, '.bss')!.flags).toBe(BPF_F_MMAPABLE);
  });
});

describe.skipIf(!existsSync(`${XDP_TOOLS}/xdp-dispatcher.o`))('the xdp-dispatcher .rodata holds only a static (skipped: xdp-tools missing)', () => {
  it('is mmapable under libbpf 1.1 rules only', () => {
    expect(findMap(load(`${XDP_TOOLS}/xdp-dispatcher.o`), '.rodata')!.flags).toBe(BPF_F_RDONLY_PROG);
    expect(findMap(load(`${XDP_TOOLS}/xdp-dispatcher.o`, { libbpf: 'v1.1' }), '.rodata')!.flags).toBe(BPF_F_RDONLY_PROG | BPF_F_MMAPABLE);
  });
  it('appends the ten prog slots and compat_test to xdp_dispatcher, leaving xdp_pass alone', () => {
    const obj = load(`${XDP_TOOLS}/xdp-dispatcher.o`);
    const d = findProgram(obj, 'xdp_dispatcher')!;
    expect(d.subprogs.map((s) => s.name)).toEqual(['prog0', 'prog1', 'prog2', 'prog3', 'prog4', 'prog5', 'prog6', 'prog7', 'prog8', 'prog9', 'compat_test']);
    expect(findProgram(obj, 'xdp_pass')!.subprogs).toEqual([]);
    const starts = new Set(d.subprogs.map((s) => s.insnOff));
    for (const c of callTargets(d)) expect(starts.has(c.target)).toBe(true);
  });
});

describe('fixture subprogs.o', () => {
  const obj = load(`${FIXTURES}/subprogs.o`);
  const prog = (n: string) => findProgram(obj, n)!;

  it('types each program from its section', () => {
    expect(prog('xdp_a')).toMatchObject({ section: 'xdp', progType: BPF_PROG_TYPE.XDP, expectedAttachType: BPF_ATTACH_TYPE.XDP, progFlags: 0 });
    expect(prog('xdp_frags')).toMatchObject({ section: 'xdp.frags', progType: BPF_PROG_TYPE.XDP, progFlags: BPF_F_XDP_HAS_FRAGS });
    expect(prog('tc_main')).toMatchObject({ section: 'tc', progType: BPF_PROG_TYPE.SCHED_CLS, expectedAttachType: 0 });
    expect(obj.programs.map((p) => p.name)).not.toContain('leaf');
  });

  it('appends the sub-programs each program reaches, in the order it first reaches them', () => {
    expect(prog('xdp_a').subprogs.map((s) => s.name)).toEqual(['global_helper', 'middle', 'leaf']);
    expect(prog('xdp_b').subprogs.map((s) => s.name)).toEqual(['middle', 'leaf', 'loop_cb']);
    expect(prog('xdp_frags').subprogs.map((s) => s.name)).toEqual(['leaf']);
    expect(prog('tc_main').subprogs.map((s) => s.name)).toEqual(['global_helper', 'middle', 'leaf']);
  });

  it('points every call and callback address at the start of an appended sub-program', () => {
    for (const p of obj.programs) {
      const starts = new Map(p.subprogs.map((s) => [s.insnOff, s.name]));
      const targets = callTargets(p);
      expect(targets.length).toBeGreaterThan(0);
      for (const t of targets) expect(starts.has(t.target), `${p.name} insn ${t.at}`).toBe(true);
    }
    const cb = callTargets(prog('xdp_b')).filter((t) => t.kind === 'func');
    expect(cb.map((t) => prog('xdp_b').subprogs.find((s) => s.insnOff === t.target)!.name)).toEqual(['loop_cb']);
  });

  it('rebases func_info onto the appended layout, one record per function', () => {
    for (const p of obj.programs) {
      expect(p.funcInfo.map((f) => f.insnOff)).toEqual([0, ...p.subprogs.map((s) => s.insnOff)]);
      expect(p.funcInfo.map((f) => obj.btf!.type(f.typeId).name)).toEqual([p.name, ...p.subprogs.map((s) => s.name)]);
      for (const f of p.funcInfo) expect(obj.btf!.type(f.typeId).kind).toBe(BTF_KIND_FUNC);
      // line_info: each function's records stay inside it and in order.
      const bounds = [0, ...p.subprogs.map((s) => s.insnOff), p.insns.length];
      for (let k = 0; k + 1 < bounds.length; k++) {
        const inside = p.lineInfo.filter((l) => l.insnOff >= bounds[k]! && l.insnOff < bounds[k + 1]!);
        expect(inside.length).toBeGreaterThan(0);
        expect(inside[0]!.insnOff).toBe(bounds[k]);
      }
    }
  });

  it('leaves the global map reference of the shared sub-program relocated in each program', () => {
    for (const n of ['xdp_a', 'tc_main']) {
      const p = prog(n);
      const helper = p.subprogs.find((s) => s.name === 'global_helper')!;
      expect(p.mapRelocs).toHaveLength(1);
      const r = p.mapRelocs[0]!;
      expect(r.insnIdx).toBeGreaterThanOrEqual(helper.insnOff);
      expect(r.insnIdx).toBeLessThan(helper.insnOff + helper.insnCnt);
      expect(obj.maps[r.mapIdx]!.name).toBe('totals');
    }
  });
});

describe('fixture legacy_maps.o', () => {
  const obj = load(`${FIXTURES}/legacy_maps.o`);
  it('reads struct bpf_map_def records from the "maps" section', () => {
    expect(obj.maps.map((m) => ({ n: m.name, t: m.type, k: m.keySize, v: m.valueSize, e: m.maxEntries, f: m.flags }))).toEqual([
      { n: 'legacy_counts', t: BPF_MAP_TYPE.ARRAY, k: 4, v: 8, e: 16, f: 0 },
      { n: 'legacy_hash', t: BPF_MAP_TYPE.HASH, k: 4, v: 4, e: 256, f: BPF_F_NO_PREALLOC },
    ]);
    expect(obj.maps.every((m) => !m.internal && m.btfKeyTypeId === 0)).toBe(true);
  });
  it('reads license and kernel version, types the classifier', () => {
    expect(obj.license).toBe('Dual BSD/GPL');
    expect(obj.kernVersion).toBe(0x060100);
    expect(obj.programs[0]).toMatchObject({ name: 'tc_count', progType: BPF_PROG_TYPE.SCHED_CLS });
    expect(obj.programs[0]!.mapRelocs.map((r) => [obj.maps[r.mapIdx]!.name, r.kind])).toEqual([['legacy_counts', 'map_fd'], ['legacy_hash', 'map_fd']]);
  });
});

describe('fixture kconfig.o', () => {
  const obj = load(`${FIXTURES}/kconfig.o`);
  it('lays out __kconfig externs by alignment then size, in a read-only .kconfig map', () => {
    expect(obj.externs.map((e) => [e.name, e.kind === 'kcfg' ? e.dataOff : -1])).toEqual([
      ['LINUX_HAS_SYSCALL_WRAPPER', 0], ['LINUX_KERNEL_VERSION', 8], ['LINUX_HAS_BPF_COOKIE', 12],
    ]);
    const k = findMap(obj, '.kconfig')!;
    expect(k).toMatchObject({ name: 'kconfig.kconfig', valueSize: 13, flags: BPF_F_RDONLY_PROG | BPF_F_MMAPABLE, libbpfType: 'kconfig' });
    const ds = obj.btf!.type(k.btfValueTypeId);
    expect(ds.kind === 15 && ds.vars.map((v) => v.offset)).toEqual([0, 8, 12]);
  });
  it('relocates extern reads to map-value loads at their offsets', () => {
    const p = findProgram(obj, 'sock_filter')!;
    expect(p.progType).toBe(BPF_PROG_TYPE.SOCKET_FILTER);
    expect(findProgram(obj, 'tp_getpid')!.progType).toBe(BPF_PROG_TYPE.TRACEPOINT);
    const kIdx = obj.maps.indexOf(findMap(obj, '.kconfig')!);
    expect(p.mapRelocs.filter((r) => r.mapIdx === kIdx).map((r) => r.offset).sort((a, b) => a - b)).toEqual([8, 12]);
  });
});

describe('names as libbpf gives them', () => {
  it('object names: basename cut at the first dot, at most 15 characters', () => {
    expect(objectName('/usr/lib/bpf/xdp-dispatcher.o')).toBe('xdp-dispatcher');
    expect(objectName('prog.bpf.o')).toBe('prog');
    expect(objectName('xsk_def_xdp_prog_5.3.o')).toBe('xsk_def_xdp_pro');
  });
  it('internal maps: 8 characters of the object, the section, sanitized', () => {
    expect(internalMapName('my_object_name', '.rodata')).toBe('my_objec.rodata');
    expect(internalMapName('my_object_name', '.bss')).toBe('my_objec.bss');
    expect(internalMapName('my_object_name', '.kconfig')).toBe('my_obje.kconfig');
    expect(internalMapName('my_object_name', '.rodata.abracadabra')).toBe('.rodata.abracad');
    expect(internalMapName('xdp-dispatcher', '.rodata')).toBe('xdp_disp.rodata');
    expect(internalMapName('x', '.data')).toBe('x.data');
  });
});

describe('objects broken in the loader\'s own checks: EINVAL naming the problem', () => {
  const bytes = new Uint8Array(readFileSync(`${FIXTURES}/btf_maps.o`));
  const elf = parseElf(bytes);
  const dv = new DataView(bytes.buffer);
  const relxdp = elf.sections.find((s) => s.name === '.relxdp')!;
  const expectEinval = (b: Uint8Array, re: RegExp): void => {
    let err: unknown;
    try {
      loadObject(b, 'broken.o');
    } catch (e) {
      err = e;
    }
    expect(isBpfError(err, 'EINVAL'), String(err)).toBe(true);
    expect((err as Error).message).toMatch(re);
  };
  const withRel = (i: number, field: 'offset' | 'type' | 'sym', v: number): Uint8Array => {
    const c = bytes.slice();
    const p = relxdp.offset + i * 16;
    const d = new DataView(c.buffer);
    if (field === 'offset') d.setBigUint64(p, BigInt(v), true);
    else d.setUint32(p + (field === 'type' ? 8 : 12), v, true);
    return c;
  };
  const sym0 = dv.getUint32(relxdp.offset + 12, true);

  it('an unknown relocation type', () => expectEinval(withRel(0, 'type', 3), /R_BPF_64_ABS32 on lddw, expected R_BPF_64_64/));
  it('a relocation past its section', () => expectEinval(withRel(0, 'offset', relxdp.size + 0x10000), /invalid offset/));
  it('a relocation not on an instruction boundary', () => expectEinval(withRel(0, 'offset', 4), /invalid offset 0x4/));
  it('a relocation on an instruction that is no lddw or call', () => expectEinval(withRel(0, 'offset', 0), /invalid relo for code/));
  it('a relocation against a symbol of an unrelated section', () => {
    const license = elf.symbols.find((s) => s.name === '_license')!;
    expect(license.index).not.toBe(sym0);
    expectEinval(withRel(0, 'sym', license.index), /bad map relo against a symbol in section 'license'/);
  });
  it('a program symbol that is static outside .text', () => {
    const s = elf.symbols.find((x) => x.name === 'xdp_second')!;
    const c = bytes.slice();
    c[elf.symtab!.offset + s.index * 24 + 4] = (0 << 4) | STT_FUNC;
    expectEinval(c, /program 'xdp_second' is static/);
  });
  it('a program crossing its section boundary', () => {
    const s = elf.symbols.find((x) => x.name === 'xdp_second')!;
    const c = bytes.slice();
    new DataView(c.buffer).setBigUint64(elf.symtab!.offset + s.index * 24 + 16, 1n << 20n, true);
    expectEinval(c, /crosses section boundary/);
  });
  it('an object without a symbol table', () => {
    const c = bytes.slice();
    new DataView(c.buffer).setUint32(elf.header.shoff + elf.symtab!.index * 64 + 4, 1, true); // SHT_SYMTAB -> SHT_PROGBITS
    expectEinval(c, /symbol table/);
  });
  it('a BTF map whose definition is not a struct', () => {
    const c = bytes.slice();
    const btfSec = elf.sections.find((s) => s.name === '.BTF')!;
    const btf = parseBtf(btfSec.data);
    const v = btf.types.find((t) => t.name === 'flows' && t.kind === 14)!;
    // Point the VAR at an int type.
    const intId = btf.findByName('int');
    const enc = encodeBtf(btf);
    const at = findVarOffset(enc, v.id);
    new DataView(c.buffer).setUint32(btfSec.offset + at + 8, intId, true);
    expectEinval(c, /map 'flows': unexpected def kind INT/);
  });
});

/** Byte offset of type `id`'s struct btf_type inside an encoded .BTF (header is 24 bytes, types follow). */
function findVarOffset(enc: Uint8Array, id: number): number {
  const btf = parseBtf(enc);
  let p = 24;
  for (let i = 1; i < id; i++) {
    const t = btf.types[i]!;
    const vlen = t.vlen;
    const extra = [0, 4, 0, 12, vlen * 12, vlen * 12, vlen * 8, 0, 0, 0, 0, 0, 0, vlen * 8, 4, vlen * 12, 0, 4, 0, vlen * 12][t.kind]!;
    p += 12 + extra;
  }
  return p;
}
