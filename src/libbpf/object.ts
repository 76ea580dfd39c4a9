// libbpf's bpf_object__load() on the emulated kernel: load the object's BTF, create (or reuse pinned)
// maps with their initial contents, load each program with its map fds, fill PROG_ARRAY slots declared in
// `.maps`, pin what the object asks to pin. The user-space side of the syscall, as tools/lib/bpf is:
// bpftool, `ip link ... obj` and the scenario runner all load objects through here.

import { BpfError, isBpfError } from '../bpf/errno.js';
import { LIBBPF_PIN_BY_NAME, withMapFds, type BpfObject, type MapSpec, type ProgramSpec } from '../bpf/object.js';
import { BPF_MAP_TYPE_PERF_EVENT_ARRAY, BPF_MAP_TYPE_PROG_ARRAY } from '../kernel/maps/map.js';
import type { BpfSyscall, ProgLoadAttr } from '../kernel/syscall.js';

export interface LoadedMap {
  readonly spec: MapSpec;
  readonly fd: number;
}

export interface LoadedProgram {
  readonly spec: ProgramSpec;
  readonly fd: number;
}

export interface LoadedObject {
  readonly obj: BpfObject;
  readonly btfFd: number | undefined;
  readonly maps: readonly LoadedMap[];
  readonly programs: readonly LoadedProgram[];
}

export interface ObjectLoadOptions {
  /** Program type for every program (bpftool `type`), overriding what the section says. */
  progType?: number;
  expectedAttachType?: number;
  /** Load only these programs (by name); default: every autoload program. */
  only?: readonly string[];
  /** Verifier log level for the loads; the log of a failed load is in the thrown error's `log`. */
  logLevel?: number;
  /** Offload: bind maps and programs to this net device (prog_ifindex / map_ifindex). */
  ifindex?: number;
}

/** A failed program load, with the verifier log as libbpf prints it. */
export class ProgLoadError extends BpfError {
  constructor(readonly prog: string, readonly log: string, cause: BpfError) {
    super(cause.errno, cause.message, { cause });
  }
}

/** libbpf's pin path for a map: `<root>/<name>` with '.' replaced (sanitize_pin_path / pin name). */
export function mapPinName(name: string): string {
  return name.replace(/\./g, '_');
}

/**
 * One bpf() call of the load: a thunk the driver runs. The same steps serve the synchronous loader and,
 * for offload (whose map and program loads wait for the device), the asynchronous one.
 */
type Step = () => unknown;

function* call<T>(f: () => T): Generator<Step, Awaited<T>, unknown> {
  return (yield f) as Awaited<T>;
}

function runSync<T>(gen: Generator<Step, T, unknown>): T {
  let r = gen.next();
  while (!r.done) {
    let value: unknown;
    try {
      value = r.value();
      if (value instanceof Promise) throw new Error('BUG: this load waits for a device (offload): use loadObjectIntoKernelAsync()');
    } catch (e) {
      r = gen.throw(e);
      continue;
    }
    r = gen.next(value);
  }
  return r.value;
}

async function runAsync<T>(gen: Generator<Step, T, unknown>): Promise<T> {
  let r = gen.next();
  while (!r.done) {
    let value: unknown;
    try {
      value = await r.value();
    } catch (e) {
      r = gen.throw(e);
      continue;
    }
    r = gen.next(value);
  }
  return r.value;
}

/** bpf_object__load() for host programs and maps. */
export function loadObjectIntoKernel(sys: BpfSyscall, obj: BpfObject, opts: ObjectLoadOptions = {}): LoadedObject {
  return runSync(loadSteps(sys, obj, opts));
}

/**
 * bpf_object__load() that may wait for a device: with `ifindex`, every map but the offload-neutral ones
 * (perf event arrays, which the device feeds from the host side) is created on the device and every
 * program is bound to it, as bpftool's `prog load ... offload_dev` and `ip link set ... xdpoffload` do.
 */
export function loadObjectIntoKernelAsync(sys: BpfSyscall, obj: BpfObject, opts: ObjectLoadOptions = {}): Promise<LoadedObject> {
  return runAsync(loadSteps(sys, obj, opts));
}

function* loadSteps(sys: BpfSyscall, obj: BpfObject, opts: ObjectLoadOptions): Generator<Step, LoadedObject, unknown> {
  const fds: number[] = [];
  const closeAll = (): void => {
    for (const fd of fds) sys.close(fd);
  };
  try {
    const btfFd = obj.btf !== undefined ? yield* call(() => sys.btfLoad(obj.btf!)) : undefined;
    if (btfFd !== undefined) fds.push(btfFd);

    const maps: LoadedMap[] = [];
    for (const spec of obj.maps) {
      const fd = yield* createMap(sys, spec, btfFd, opts);
      fds.push(fd);
      maps.push({ spec, fd });
    }
    const mapFds = maps.map((m) => m.fd);

    const programs: LoadedProgram[] = [];
    for (const spec of obj.programs) {
      if (opts.only !== undefined ? !opts.only.includes(spec.name) : !spec.autoload) continue;
      const attr: ProgLoadAttr = {
        prog_type: opts.progType ?? spec.progType,
        expected_attach_type: opts.expectedAttachType ?? spec.expectedAttachType,
        insns: withMapFds(spec, mapFds),
        license: obj.license,
        kern_version: obj.kernVersion,
        prog_flags: spec.progFlags,
        prog_name: spec.name.slice(0, 15),
        log_level: opts.logLevel ?? 0,
        log_size: opts.logLevel ? 1 << 24 : 0,
        ...(btfFd !== undefined ? { prog_btf_fd: btfFd, func_info: spec.funcInfo, line_info: spec.lineInfo } : {}),
        ...(opts.ifindex !== undefined ? { prog_ifindex: opts.ifindex } : {}),
      };
      const load = (a: ProgLoadAttr): (() => number | Promise<number>) => (opts.ifindex !== undefined ? () => sys.progLoadAsync(a) : () => sys.progLoad(a));
      try {
        const fd = (yield load(attr)) as number;
        fds.push(fd);
        programs.push({ spec, fd });
        // bpf_object_load_prog(): the .rodata map is bound to every program (bpftool reads metadata there).
        const rodata = maps.find((m) => m.spec.libbpfType === 'rodata');
        if (rodata !== undefined) yield* call(() => sys.progBindMap({ prog_fd: fd, map_fd: rodata.fd }));
      } catch (e) {
        if (!isBpfError(e)) throw e;
        // libbpf retries with the log on to show it (bpf_object_load_prog).
        let log = attr.log_buf ?? '';
        if (log === '') {
          const retry: ProgLoadAttr = { ...attr, log_level: 1, log_size: 1 << 24 };
          try {
            const fd = (yield load(retry)) as number;
            sys.close(fd);
          } catch {
            log = retry.log_buf ?? '';
          }
        }
        throw new ProgLoadError(spec.name, log, e);
      }
    }

    // PROG_ARRAY slots initialised in `.maps` (libbpf's init_prog_array_slots).
    for (const m of maps) {
      if (m.spec.type !== BPF_MAP_TYPE_PROG_ARRAY) continue;
      for (const slot of m.spec.initSlots) {
        const target = programs.find((p) => p.spec === obj.programs[slot.target]);
        if (target === undefined) continue;
        const key = new Uint8Array(4);
        new DataView(key.buffer).setUint32(0, slot.index, true);
        const value = new Uint8Array(4);
        new DataView(value.buffer).setUint32(0, target.fd, true);
        // A program array on a device (nfp-emu's paper-only tail calls) answers asynchronously.
        yield* call(() => (opts.ifindex !== undefined ? sys.mapUpdateAsync({ map_fd: m.fd, key, value }) : sys.mapUpdate({ map_fd: m.fd, key, value })));
      }
    }
    return { obj, btfFd, maps, programs };
  } catch (e) {
    closeAll();
    throw e;
  }
}

function* createMap(sys: BpfSyscall, spec: MapSpec, btfFd: number | undefined, opts: ObjectLoadOptions): Generator<Step, number, unknown> {
  // LIBBPF_PIN_BY_NAME: reuse a compatible pinned map (bpf_object__reuse_map), else pin after creating.
  if (spec.pinning === LIBBPF_PIN_BY_NAME && spec.pinPath !== undefined) {
    let fd: number | undefined;
    try {
      fd = yield* call(() => sys.objGet(spec.pinPath!));
    } catch (e) {
      if (!isBpfError(e, 'ENOENT')) throw e;
    }
    if (fd !== undefined) {
      const info = sys.mapInfo(fd);
      if (info.type !== spec.type || info.key_size !== spec.keySize || info.value_size !== spec.valueSize
        || info.max_entries !== spec.maxEntries || info.map_flags !== spec.flags) {
        sys.close(fd);
        throw new BpfError('EINVAL', `couldn't reuse pinned map at '${spec.pinPath}': parameter mismatch`);
      }
      return fd;
    }
  }
  const useBtf = btfFd !== undefined && (spec.btfKeyTypeId !== 0 || spec.btfValueTypeId !== 0);
  // A perf event array without max_entries gets one slot per possible CPU (libbpf's map_set_def_max_entries).
  const maxEntries = spec.type === BPF_MAP_TYPE_PERF_EVENT_ARRAY && spec.maxEntries === 0 ? sys.k.mapEnv.num_possible_cpus : spec.maxEntries;
  // bpf_map__is_offload_neutral(): perf event arrays stay on the host even for a device object.
  const onDevice = opts.ifindex !== undefined && spec.type !== BPF_MAP_TYPE_PERF_EVENT_ARRAY;
  const attr = {
    map_type: spec.type, key_size: spec.keySize, value_size: spec.valueSize, max_entries: maxEntries,
    map_flags: spec.flags, map_name: spec.name.slice(0, 15),
    ...(spec.numaNode !== 0 ? { numa_node: spec.numaNode } : {}),
    // Device maps take no BTF (bpf_map_offload_ops.map_check_btf refuses it); libbpf drops it on retry.
    ...(useBtf && !onDevice ? { btf_fd: btfFd, btf_key_type_id: spec.btfKeyTypeId, btf_value_type_id: spec.btfValueTypeId } : {}),
    ...(onDevice ? { map_ifindex: opts.ifindex } : {}),
  };
  const fd = yield* call(() => (onDevice ? sys.mapCreateAsync(attr) : sys.mapCreate(attr)));
  try {
    if (spec.initialData !== undefined && spec.libbpfType !== 'bss') {
      const update = { map_fd: fd, key: new Uint8Array(4), value: spec.initialData };
      yield* call(() => (onDevice ? sys.mapUpdateAsync(update) : sys.mapUpdate(update)));
    }
    if (spec.libbpfType === 'rodata' || spec.libbpfType === 'kconfig') yield* call(() => sys.mapFreeze(fd));
    if (spec.pinning === LIBBPF_PIN_BY_NAME && spec.pinPath !== undefined) yield* call(() => sys.objPin(fd, spec.pinPath!));
  } catch (e) {
    sys.close(fd);
    throw e;
  }
  return fd;
}
