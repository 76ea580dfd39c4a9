// tools/bpf/bpftool/prog.c: `bpftool prog` — show/list, dump xlated, pin, load/loadall (bpftool's
// load_with_options() over libbpf's bpf_object__open/load/pin), and run (BPF_PROG_TEST_RUN). Output,
// messages and exit codes are bpftool v7.1's with libbpf v1.1, the pair this machine has.
// With `dev NAME` (or v7.2's `offload_dev NAME`) the object is loaded for the device: every program
// bound to it (prog_ifindex) and every map but perf event arrays created on it, waiting for the device;
// show prints the device, `dump jited` the device's own image (./jit_disasm.ts) and `run` runs the
// program where the device's driver can.

import { readFileSync, writeFileSync } from 'node:fs';
import { ERRNO, errnoNumber, isBpfError, strerror, type ErrnoName } from '../../bpf/errno.js';
import { encode } from '../../bpf/insn.js';
import { LIBBPF_PIN_BY_NAME, loadObject, type BpfObject, type MapSpec, type ProgramSpec } from '../../bpf/object.js';
import { BPF_ATTACH_TYPE, BPF_PROG_TYPE, findSecDef, PROG_TYPE_NAMES } from '../../bpf/prog-types.js';
import { BPF_MAP_TYPE_ARRAY, BPF_MAP_TYPE_PERF_EVENT_ARRAY } from '../../kernel/maps/map.js';
import type { BpfMapCreateAttr } from '../../kernel/maps/map.js';
import type { BpfMapInfo, BpfProgInfo, BpfSyscall } from '../../kernel/syscall.js';
import { loadObjectIntoKernel, loadObjectIntoKernelAsync, mapPinName, ProgLoadError, type LoadedObject } from '../../libbpf/object.js';
import { btfDumperType } from './btf_dumper.js';
import { bpf_prog_is_offloaded } from '../../kernel/offload.js';
import { BpfProg } from '../../kernel/prog.js';
import {
  Args, Bpftool, BpfObjType, detectCommonPrefix, Exit, ifNameToIndex, doPinAny, errnoOf, errstr, isPrefix, mapParseFd, mountBpffsForPin,
  pinnedPaths, printDataJson, printDevJson, printDevPlain, progFullName, progParseFd, progParseFds, Stdio, strtoul, u32,
} from './common.js';
import { disasmPrintInsn, ifindexToBfdParams, type BfdParams } from './jit_disasm.js';
import { JsonWriter } from './json_writer.js';
import { dumpXlatedCfg } from './cfg.js';
import { dumpXlatedJson, dumpXlatedPlain, funcStarts, jitedKsymNames, xlatedInsnText, type DumpData } from './xlated_dumper.js';

/** libbpf v1.1's program type names (libbpf_bpf_prog_type_str) end at BPF_PROG_TYPE_SYSCALL. */
const LIBBPF_PROG_TYPE_MAX = BPF_PROG_TYPE.SYSCALL;

export function progTypeName(type: number): string | undefined {
  return type <= LIBBPF_PROG_TYPE_MAX ? PROG_TYPE_NAMES[type]?.toLowerCase() : undefined;
}

/**
 * libbpf v1.1's section_defs[] by name, as libbpf_prog_type_by_name() lists them when it fails. A
 * `type` argument must name one of these (the emulator's table is a newer libbpf's, with more).
 */
const LIBBPF_V1_1_SEC_NAMES = ('socket sk_reuseport/migrate sk_reuseport kprobe+ uprobe+ uprobe.s+ kretprobe+ uretprobe+ '
  + 'uretprobe.s+ kprobe.multi+ kretprobe.multi+ ksyscall+ kretsyscall+ usdt+ tc classifier action tracepoint+ tp+ '
  + 'raw_tracepoint+ raw_tp+ raw_tracepoint.w+ raw_tp.w+ tp_btf+ fentry+ fmod_ret+ fexit+ fentry.s+ fmod_ret.s+ '
  + 'fexit.s+ freplace+ lsm+ lsm.s+ lsm_cgroup+ iter+ iter.s+ syscall xdp.frags/devmap xdp/devmap xdp.frags/cpumap '
  + 'xdp/cpumap xdp.frags xdp perf_event lwt_in lwt_out lwt_xmit lwt_seg6local sockops sk_skb/stream_parser '
  + 'sk_skb/stream_verdict sk_skb sk_msg lirc_mode2 flow_dissector cgroup_skb/ingress cgroup_skb/egress cgroup/skb '
  + 'cgroup/sock_create cgroup/sock_release cgroup/sock cgroup/post_bind4 cgroup/post_bind6 cgroup/bind4 cgroup/bind6 '
  + 'cgroup/connect4 cgroup/connect6 cgroup/sendmsg4 cgroup/sendmsg6 cgroup/recvmsg4 cgroup/recvmsg6 '
  + 'cgroup/getpeername4 cgroup/getpeername6 cgroup/getsockname4 cgroup/getsockname6 cgroup/sysctl cgroup/getsockopt '
  + 'cgroup/setsockopt cgroup/dev struct_ops+ sk_lookup');
const LIBBPF_V1_1_SECS = new Set(LIBBPF_V1_1_SEC_NAMES.split(' '));

/** libbpf_prog_type_by_name(): a section name to a program type and expected attach type. */
function progTypeByName(name: string): { progType: number; attachType: number } | undefined {
  const def = findSecDef(name);
  if (def === undefined || !LIBBPF_V1_1_SECS.has(def.sec)) return undefined;
  return { progType: BPF_PROG_TYPE[def.progType], attachType: def.attachType === null ? 0 : BPF_ATTACH_TYPE[def.attachType] };
}

/** get_prog_type_by_name(): the lookup again with libbpf's debug output when it fails. */
function progTypeByNameLoud(b: Bpftool, name: string): { progType: number; attachType: number } | undefined {
  const t = progTypeByName(name);
  if (t === undefined) {
    b.libbpfWarn(`failed to guess program type from ELF section '${name}'`);
    b.libbpfWarn(`supported section(type) names are: ${LIBBPF_V1_1_SEC_NAMES}`);
  }
  return t;
}

// ---------------------------------------------------------------------------------------------
// show

/** print_boot_time(): load_time (ns since boot) as wall-clock time, in the host's local time zone. */
function bootTime(b: Bpftool, loadTimeNs: bigint, json: boolean): string {
  const bootMs = BigInt(Math.trunc(b.kernel.bootTimeMs));
  const secs = bootMs / 1000n + ((bootMs % 1000n) * 1_000_000n + loadTimeNs) / 1_000_000_000n;
  if (json) return String(secs); // strftime("%s")
  const d = new Date(Number(secs) * 1000);
  const p2 = (n: number): string => String(n).padStart(2, '0');
  const off = -d.getTimezoneOffset();
  const tz = `${off < 0 ? '-' : '+'}${p2(Math.floor(Math.abs(off) / 60))}${p2(Math.abs(off) % 60)}`;
  // strftime("%FT%T%z")
  return `${d.getFullYear()}-${p2(d.getMonth() + 1)}-${p2(d.getDate())}T${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())}${tz}`;
}

function printProgHeaderJson(b: Bpftool, info: BpfProgInfo): void {
  const jw = b.jw;
  jw.numberField('id', info.id);
  const type = progTypeName(info.type);
  if (type !== undefined) jw.stringField('type', type);
  else jw.numberField('type', info.type);
  if (info.name !== '') jw.stringField('name', progFullName(b, info));
  jw.name('tag');
  jw.printf(`"${info.tag}"`);
  jw.boolField('gpl_compatible', info.gpl_compatible);
  if (info.run_time_ns !== 0n) {
    jw.numberField('run_time_ns', info.run_time_ns);
    jw.numberField('run_cnt', info.run_cnt);
  }
}

function printProgHeaderPlain(b: Bpftool, info: BpfProgInfo): void {
  const type = progTypeName(info.type);
  let s = `${info.id}: ${type !== undefined ? `${type}  ` : `type ${info.type}  `}`;
  if (info.name !== '') s += `name ${progFullName(b, info)}  `;
  s += `tag ${info.tag}`;
  b.printf(s);
  printDevPlain(b, info.ifindex, info.netns_dev, info.netns_ino);
  b.printf(info.gpl_compatible ? '  gpl' : '');
  if (info.run_time_ns !== 0n) b.printf(` run_time_ns ${info.run_time_ns} run_cnt ${info.run_cnt}`);
  b.printf('\n');
}

/**
 * find_metadata() + show_prog_metadata(): the `bpf_metadata_*` variables of the program's first
 * `.rodata` map (an ARRAY with a 4-byte key, one entry and BTF), printed under "metadata".
 */
function showProgMetadata(b: Bpftool, info: BpfProgInfo): void {
  for (const id of info.map_ids) {
    let fd: number;
    try {
      fd = b.own(b.sys.mapGetFdById(id));
    } catch {
      return;
    }
    try {
      let mi: BpfMapInfo;
      try {
        mi = b.sys.mapInfo(fd);
      } catch {
        return; // find_metadata() gives up quietly (a device map whose device is gone)
      }
      if (mi.type !== BPF_MAP_TYPE_ARRAY || mi.key_size !== 4 || mi.max_entries !== 1 || mi.btf_value_type_id === 0 || !mi.name.includes('.rodata')) continue;
      let value: Uint8Array;
      try {
        value = b.sys.mapLookup({ map_fd: fd, key: new Uint8Array(4) });
      } catch {
        return;
      }
      const btf = b.kernel.btfs.get(mi.btf_id)?.btf;
      const sec = btf?.typeById(mi.btf_value_type_id);
      if (btf === undefined || sec === undefined || sec.kind !== 15 /* BTF_KIND_DATASEC */) return;
      let header = false;
      let plainWriter: JsonWriter | undefined;
      for (const vsi of sec.vars) {
        const v = btf.typeById(vsi.type);
        if (v === undefined || v.kind !== 14 /* BTF_KIND_VAR */ || !v.name.startsWith('bpf_metadata_')) continue;
        const name = v.name.slice('bpf_metadata_'.length);
        if (b.jsonOutput) {
          if (!header) {
            b.jw.name('metadata');
            b.jw.startObject();
            header = true;
          }
          b.jw.name(name);
          btfDumperType({ btf, jw: b.jw, isPlainText: false }, v.type, value, vsi.offset);
        } else {
          if (!header) {
            b.printf('\tmetadata:');
            plainWriter = new JsonWriter(b.out);
            header = true;
          }
          b.printf(`\n\t\t${name} = `);
          plainWriter!.reset();
          btfDumperType({ btf, jw: plainWriter!, isPlainText: true }, v.type, value, vsi.offset);
        }
      }
      if (header) {
        if (b.jsonOutput) b.jw.endObject();
        else plainWriter!.destroy();
      }
      return;
    } finally {
      b.close(fd);
    }
  }
}

function printProgJson(b: Bpftool, info: BpfProgInfo, pins: Map<number, string[]> | undefined): void {
  const jw = b.jw;
  jw.startObject();
  printProgHeaderJson(b, info);
  printDevJson(b, info.ifindex, info.netns_dev, info.netns_ino);
  if (info.load_time !== 0n) {
    jw.name('loaded_at');
    jw.printf(bootTime(b, info.load_time, true));
    jw.numberField('uid', info.created_by_uid);
  }
  jw.numberField('bytes_xlated', info.xlated_prog_len);
  if (info.jited_prog_len !== 0) {
    jw.boolField('jited', true);
    jw.numberField('bytes_jited', info.jited_prog_len);
  } else {
    jw.boolField('jited', false);
  }
  jw.numberField('bytes_memlock', info.memlock);
  if (info.map_ids.length > 0) {
    jw.name('map_ids');
    jw.startArray();
    for (const id of info.map_ids) jw.number(id);
    jw.endArray();
  }
  if (info.btf_id !== 0) jw.numberField('btf_id', info.btf_id);
  if (pins !== undefined) {
    jw.name('pinned');
    jw.startArray();
    for (const p of pins.get(info.id) ?? []) jw.string(p);
    jw.endArray();
  }
  showProgMetadata(b, info);
  jw.endObject();
}

function printProgPlain(b: Bpftool, info: BpfProgInfo, pins: Map<number, string[]> | undefined): void {
  printProgHeaderPlain(b, info);
  if (info.load_time !== 0n) b.printf(`\tloaded_at ${bootTime(b, info.load_time, false)}  uid ${info.created_by_uid}\n`);
  let s = `\txlated ${info.xlated_prog_len}B`;
  s += info.jited_prog_len !== 0 ? `  jited ${info.jited_prog_len}B` : '  not jited';
  s += `  memlock ${info.memlock}B`;
  if (info.map_ids.length > 0) s += `  map_ids ${info.map_ids.join(',')}`;
  for (const p of pins?.get(info.id) ?? []) s += `\n\tpinned ${p}`;
  if (info.btf_id !== 0) s += `\n\tbtf_id ${info.btf_id}`;
  b.printf(`${s}\n`);
  showProgMetadata(b, info);
}

function showProg(b: Bpftool, fd: number, pins: Map<number, string[]> | undefined): number {
  let info: BpfProgInfo;
  try {
    info = b.sys.progInfo(fd);
  } catch (e) {
    // A device program whose device is gone (ENODEV).
    b.p_err(`can't get prog info: ${errstr(e)}`);
    return -1;
  }
  if (b.jsonOutput) printProgJson(b, info, pins);
  else printProgPlain(b, info, pins);
  return 0;
}

function doShow(b: Bpftool, a: Args): number {
  const pins = b.showPinned ? pinnedPaths(b, BpfObjType.PROG) : undefined;
  if (a.count === 2) {
    const fds = progParseFds(b, a);
    if (fds === undefined || fds.length === 0) return -1;
    // do_show_subset(): the first program without info ends the list.
    if (b.jsonOutput && fds.length > 1) b.jw.startArray();
    let err = 0;
    let i = 0;
    for (; i < fds.length && err === 0; i++) {
      err = showProg(b, fds[i]!, pins);
      b.close(fds[i]!);
    }
    for (; i < fds.length; i++) b.close(fds[i]!);
    if (b.jsonOutput && fds.length > 1) b.jw.endArray();
    return err;
  }
  if (a.count !== 0) {
    b.p_err(`what is '${a.cur}'?`);
    return -1;
  }
  if (b.jsonOutput) b.jw.startArray();
  let id = 0;
  let err = 0;
  for (;;) {
    try {
      id = b.sys.progGetNextId(id);
    } catch (e) {
      if (errnoOf(e) !== 'ENOENT') {
        b.p_err(`can't get next program: ${errstr(e)}`);
        err = -1;
      }
      break;
    }
    let fd: number;
    try {
      fd = b.own(b.sys.progGetFdById(id));
    } catch (e) {
      if (errnoOf(e) === 'ENOENT') continue;
      b.p_err(`can't get prog by id (${id}): ${errstr(e)}`);
      err = -1;
      break;
    }
    err = showProg(b, fd, pins);
    b.close(fd);
    if (err) break;
  }
  if (b.jsonOutput) b.jw.endArray();
  return err;
}

// ---------------------------------------------------------------------------------------------
// dump

function progDump(b: Bpftool, fd: number, info: BpfProgInfo, file: string | undefined, opcodes: boolean, linum: boolean, visual: boolean): number {
  const insns = b.sys.progXlated(fd);
  if (insns.length === 0) {
    b.p_err('error retrieving insn dump: kernel.kptr_restrict set?');
    return -1;
  }
  const btf = info.btf_id !== 0 ? b.kernel.btfs.get(info.btf_id)?.btf : undefined;
  if (info.btf_id !== 0 && btf === undefined) {
    b.p_err('failed to get btf');
    return -1;
  }
  if (file !== undefined) {
    const raw = encode(insns);
    try {
      writeFileSync(b.hostPath(file), raw, { mode: 0o600 });
    } catch (e) {
      b.p_err(`can't open file ${file}: ${hostErr(e)}`);
      return -1;
    }
    if (b.jsonOutput) b.jw.null();
    return 0;
  }
  const funcInfo = info.func_info;
  const starts = funcStarts(insns, funcInfo);
  const dd: DumpData = {
    btf, funcInfo, lineInfo: info.line_info, funcStarts: starts,
    jitedKsyms: info.jited_prog_len !== 0 ? jitedKsymNames(info.name, insns, starts, funcInfo, btf) : [],
  };
  if (visual) {
    // This bpftool prints no graph in JSON, only its null.
    if (b.jsonOutput) b.jw.null();
    else dumpXlatedCfg(b, insns, (i) => starts[insns[i]!.imm] ?? i + insns[i]!.off + 1, (i) => xlatedInsnText({ ...dd, jitedKsyms: [] }, insns, i));
  } else if (b.jsonOutput) {
    dumpXlatedJson(b, dd, insns, opcodes, linum);
  } else {
    dumpXlatedPlain(b, dd, insns, opcodes, linum);
  }
  return 0;
}

/**
 * Does the PROG handle in `argv` name device programs only? Looked up as bpftool would, by a process
 * that prints nothing and keeps nothing open.
 */
function namesDevicePrograms(b: Bpftool, argv: readonly string[]): boolean {
  const quiet = new Bpftool(b.kernel, b.sys, new Stdio({ stdout: { write: () => true }, stderr: { write: () => true } }), b.readStdin, b.cwd);
  try {
    const fds = progParseFds(quiet, new Args(argv, quiet));
    if (fds === undefined || fds.length === 0) return false;
    return fds.every((fd) => {
      const prog = b.kernel.fds.get(fd)?.obj;
      return prog instanceof BpfProg && bpf_prog_is_offloaded(prog);
    });
  } catch (e) {
    if (e instanceof Exit) return false;
    throw e;
  } finally {
    quiet.closeAll();
  }
}

/** prog_dump() of the jited image of a device program: the device's code, disassembled for it. */
function progDumpJited(b: Bpftool, info: BpfProgInfo, file: string | undefined, opcodes: boolean): number {
  const image = info.jited_prog_insns;
  if (info.jited_prog_len === 0 || image === undefined) {
    b.p_info('no instructions returned');
    return -1;
  }
  if (info.btf_id !== 0 && b.kernel.btfs.get(info.btf_id) === undefined) {
    b.p_err('failed to get btf');
    return -1;
  }
  if (file !== undefined) {
    try {
      writeFileSync(b.hostPath(file), image.subarray(0, info.jited_prog_len), { mode: 0o600 });
    } catch (e) {
      b.p_err(`can't open file ${file}: ${hostErr(e)}`);
      return -1;
    }
    if (b.jsonOutput) b.jw.null();
    return 0;
  }
  let params: BfdParams | undefined;
  if (info.ifindex !== 0) {
    params = ifindexToBfdParams(b, info.ifindex, info.netns_dev, info.netns_ino);
    if (params === undefined) return -1;
  }
  if (params === undefined) throw new Error(`BUG: program ${info.id} has a jited image for bpftool but no device`);
  disasmPrintInsn(b, image.subarray(0, info.jited_prog_len), opcodes, params);
  return 0;
}

function doDump(b: Bpftool, a: Args): number {
  let mode: 'jited' | 'xlated';
  if (isPrefix(a.cur, 'jited')) {
    // disasm_init() of a bpftool built without libbfd fails before the program is looked at; only a
    // device program's image, which this emulation disassembles as the libbfd build does, gets further.
    if (!namesDevicePrograms(b, a.rest().slice(1))) {
      b.p_err('No libbfd support');
      return -1;
    }
    mode = 'jited';
  } else if (isPrefix(a.cur, 'xlated')) {
    mode = 'xlated';
  } else {
    b.p_err(`expected 'xlated' or 'jited', got: ${a.cur ?? '(null)'}`);
    return -1;
  }
  a.next();
  if (a.count < 2) b.usage();
  const fds = progParseFds(b, a);
  if (fds === undefined || fds.length === 0) return -1;
  let file: string | undefined;
  let opcodes = false;
  let linum = false;
  let visual = false;
  const closeRest = (from: number): void => {
    for (let i = from; i < fds.length; i++) b.close(fds[i]!);
  };
  // This bpftool takes one option, then nothing more.
  if (isPrefix(a.cur, 'file')) {
    a.next();
    if (a.count === 0) {
      b.p_err('expected file path');
      closeRest(0);
      return -1;
    }
    if (fds.length > 1) {
      b.p_err('several programs matched');
      closeRest(0);
      return -1;
    }
    file = a.get();
  } else if (isPrefix(a.cur, 'opcodes')) {
    opcodes = true;
    a.next();
  } else if (isPrefix(a.cur, 'visual')) {
    if (fds.length > 1) {
      b.p_err('several programs matched');
      closeRest(0);
      return -1;
    }
    visual = true;
    a.next();
  } else if (isPrefix(a.cur, 'linum')) {
    linum = true;
    a.next();
  }
  if (a.count !== 0) {
    closeRest(0);
    b.usage();
  }
  if (b.jsonOutput && fds.length > 1) b.jw.startArray();
  let err = 0;
  for (let i = 0; i < fds.length; i++) {
    const fd = fds[i]!;
    let info: BpfProgInfo;
    try {
      info = b.sys.progInfo(fd);
    } catch (e) {
      // bpf_obj_get_info_by_fd() fails (a device program whose device is gone): libbpf's -errno.
      b.p_err(`can't get prog info: ${errstr(e)}`);
      err = -errnoNumber(errnoOf(e));
      closeRest(i);
      break;
    }
    if (b.jsonOutput && fds.length > 1) {
      b.jw.startObject();
      printProgHeaderJson(b, info);
      b.jw.name('insns');
    } else if (fds.length > 1) {
      printProgHeaderPlain(b, info);
    }
    err = mode === 'jited' ? progDumpJited(b, info, file, opcodes) : progDump(b, fd, info, file, opcodes, linum, visual);
    if (b.jsonOutput && fds.length > 1) b.jw.endObject();
    else if (i !== fds.length - 1 && fds.length > 1) b.printf('\n');
    b.close(fd);
    if (err) {
      closeRest(i + 1);
      break;
    }
  }
  if (b.jsonOutput && fds.length > 1) b.jw.endArray();
  return err;
}

/** strerror() of a failed host file operation (Node's error code is the errno name). */
function hostErr(e: unknown): string {
  const code = (e as { code?: unknown }).code;
  if (typeof code === 'string' && Object.hasOwn(ERRNO, code)) return strerror(code as ErrnoName);
  return e instanceof Error ? e.message : String(e);
}

// ---------------------------------------------------------------------------------------------
// pin

function doPin(b: Bpftool, a: Args): number {
  const err = doPinAny(b, a, progParseFd);
  if (!err && b.jsonOutput) b.jw.null();
  return err;
}

// ---------------------------------------------------------------------------------------------
// load / loadall: bpftool's load_with_options() over libbpf v1.1

const dirOf = (p: string): string => {
  const i = p.lastIndexOf('/');
  return i < 0 ? '.' : i === 0 ? '/' : p.slice(0, i);
};

/** libbpf's make_parent_dir(): mkdir(dirname(path), 0700), an existing one being fine. */
function makeParentDir(b: Bpftool, path: string): number {
  const dir = dirOf(path);
  try {
    // Outside the bpffs mounts the emulated host has no directories to create in.
    if (!b.kernel.bpffs.isBpffs(dirOf(dir)) && !b.kernel.bpffs.mountpoints.includes(dir)) {
      b.libbpfWarn(`failed to mkdir ${path}: ${strerror('ENOENT')}`);
      return -2;
    }
    b.kernel.bpffs.mkdir(dir, 0o700);
  } catch (e) {
    const errno = errnoOf(e);
    if (errno !== 'EEXIST') {
      b.libbpfWarn(`failed to mkdir ${path}: ${strerror(errno)}`);
      return -1;
    }
  }
  return 0;
}

/** libbpf's check_path(): statfs() of the directory must say bpffs (any file there will do). */
function checkPath(b: Bpftool, path: string): number {
  const dir = dirOf(path);
  try {
    b.kernel.bpffs.stat(dir);
    return 0;
  } catch (e) {
    b.libbpfWarn(`failed to statfs ${dir}: ${errstr(e)}`);
    return -errnoNumber(errnoOf(e));
  }
}

interface LoadState {
  readonly path: string;
  readonly obj: BpfObject;
  readonly loaded: LoadedObject;
  /** Maps pinned (by name, or by pinmaps), as libbpf's map->pinned. */
  readonly pinnedMaps: Map<number, string>;
}

/** bpf_program__pin(). */
function pinProgram(b: Bpftool, st: LoadState, spec: ProgramSpec, path: string): number {
  const p = st.loaded.programs.find((x) => x.spec === spec);
  if (p === undefined) {
    b.libbpfWarn(`prog '${spec.name}': can't pin program that wasn't loaded`);
    return -22;
  }
  let err = makeParentDir(b, path);
  if (err) return err;
  err = checkPath(b, path);
  if (err) return err;
  try {
    b.sys.objPin(p.fd, path);
  } catch (e) {
    b.libbpfWarn(`prog '${spec.name}': failed to pin at '${path}': ${errstr(e)}`);
    return -1;
  }
  return 0;
}

/** bpf_object__pin_programs(): every program under `dir` by name; on failure the ones pinned go again. */
function pinPrograms(b: Bpftool, st: LoadState, dir: string): number {
  const done: string[] = [];
  for (const spec of st.obj.programs) {
    const path = `${dir}/${spec.name}`;
    const err = pinProgram(b, st, spec, path);
    if (err) {
      for (const p of done.reverse()) unlinkQuiet(b, p);
      return err;
    }
    done.push(path);
  }
  return 0;
}

function unlinkQuiet(b: Bpftool, path: string): void {
  try {
    b.kernel.bpffs.unlink(path);
  } catch {
    // bpf_program__unpin()'s failures are not reported.
  }
}

/** bpf_object__pin_maps(obj, dir): each map at `dir/<sanitized name>`, as bpf_map__pin() does it. */
function pinMaps(b: Bpftool, st: LoadState, dir: string): number {
  const maps = st.loaded.maps;
  for (let i = 0; i < maps.length; i++) {
    const m = maps[i]!;
    const path = `${dir}/${mapPinName(m.spec.name)}`;
    const err = pinMap(b, st, i, path);
    if (err) {
      for (let j = i - 1; j >= 0; j--) {
        const pinned = st.pinnedMaps.get(j);
        if (pinned === undefined) continue;
        unlinkQuiet(b, pinned);
        st.pinnedMaps.delete(j);
      }
      return err;
    }
  }
  return 0;
}

function pinMap(b: Bpftool, st: LoadState, idx: number, path: string): number {
  const m = st.loaded.maps[idx]!;
  const byName = m.spec.pinPath;
  if (byName !== undefined) {
    if (path !== byName) {
      b.libbpfWarn(`map '${m.spec.name}': already has pin path '${byName}' different from '${path}'`);
      return -22;
    }
    if (st.pinnedMaps.has(idx)) return 0;
  } else if (st.pinnedMaps.has(idx)) {
    b.libbpfWarn(`map '${m.spec.name}' already pinned`);
    return -17;
  }
  let err = makeParentDir(b, path);
  if (err) return err;
  err = checkPath(b, path);
  if (err) return err;
  try {
    b.sys.objPin(m.fd, path);
  } catch (e) {
    b.libbpfWarn(`failed to pin map: ${errstr(e)}`);
    return -1;
  }
  st.pinnedMaps.set(idx, path);
  return 0;
}

const STRICT_MODE_WARNING = 'Warning: bpftool is now running in libbpf strict mode and has more stringent requirements about BPF programs.\n'
  + "If it used to work for this object file but now doesn't, see --legacy option for more details.\n";

/** bpf_object__open_file(): the ELF, with libbpf's complaints when it cannot be read. */
function openObject(b: Bpftool, file: string): BpfObject | undefined {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(b.hostPath(file));
  } catch (e) {
    b.libbpfWarn(`elf: failed to open ${file}: ${hostErr(e)}`);
    return undefined;
  }
  if (bytes.length < 4 || bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) {
    b.libbpfWarn(`elf: '${file}' is not a proper ELF object`);
    return undefined;
  }
  try {
    // bpftool v7.1 links libbpf v1.1: its rules for internal maps, pins by name under /sys/fs/bpf.
    return loadObject(bytes, file, { libbpf: 'v1.1' });
  } catch (e) {
    if (!isBpfError(e)) throw e;
    b.libbpfWarn(e.message);
    return undefined;
  }
}

/**
 * libbpf_strerror_r() of libbpf v1.1: glibc's XSI strerror_r(), which fails with EINVAL for an errno it
 * has no text for (the kernel-internal ENOTSUPP, 524), and then libbpf prints that failure instead.
 */
function libbpfStrerror(errno: ErrnoName, sign: 1 | -1): string {
  const text = strerror(errno);
  return text.startsWith('Unknown error') ? `ERROR: strerror_r(${sign * errnoNumber(errno)})=${errnoNumber('EINVAL')}` : text;
}

/** One BPF_MAP_CREATE of a device map during a load, and how it ended. */
interface DeviceMapCreate {
  readonly errno: ErrnoName | undefined;
}

/**
 * The syscall layer as the loader sees it, recording each device map it creates (map_ifindex), in
 * order, with its outcome: what libbpf prints about those maps depends on it.
 */
function recordingDeviceMapCreates(sys: BpfSyscall, calls: DeviceMapCreate[]): BpfSyscall {
  return new Proxy(sys, {
    get(target, prop, receiver): unknown {
      if (prop === 'mapCreateAsync') {
        return async (attr: BpfMapCreateAttr): Promise<number> => {
          if ((attr.map_ifindex ?? 0) === 0) return await target.mapCreateAsync(attr);
          try {
            const fd = await target.mapCreateAsync(attr);
            calls.push({ errno: undefined });
            return fd;
          } catch (e) {
            calls.push({ errno: errnoOf(e) });
            throw e;
          }
        };
      }
      const v: unknown = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? (v as (...args: unknown[]) => unknown).bind(target) : v;
    },
  });
}

/**
 * What libbpf v1.1's bpf_object__create_map() printed for the device maps of an object. It passes the
 * object's BTF types with every map but perf event arrays; a device map takes none (the kernel's
 * map_check_no_btf(), after the device allocated it: ENOTSUPP), so a map with BTF fails once — with
 * the device's own errno if the allocation itself failed — and libbpf warns and retries without BTF.
 * The loader here creates device maps without BTF at once; the retry's outcome is the one call's.
 */
function reportDeviceMapCreates(b: Bpftool, obj: BpfObject, reused: ReadonlySet<MapSpec>, calls: readonly DeviceMapCreate[]): boolean {
  const specs = obj.maps.filter((m) => m.type !== BPF_MAP_TYPE_PERF_EVENT_ARRAY && !reused.has(m));
  let failed = false;
  calls.forEach((c, i) => {
    const spec = specs[i];
    if (spec === undefined) throw new Error(`BUG: device map create #${i} has no map in ${obj.maps.length}`);
    const errno = c.errno ?? 'ENOTSUPP';
    const err = `${libbpfStrerror(errno, -1)}(-${errnoNumber(errno)})`;
    if (obj.btf !== undefined && (spec.btfKeyTypeId !== 0 || spec.btfValueTypeId !== 0)) {
      b.libbpfWarn(`Error in bpf_create_map_xattr(${spec.name}):${err}. Retrying without BTF.`);
    }
    if (c.errno !== undefined) {
      b.libbpfWarn(`map '${spec.name}': failed to create: ${err}`);
      failed = true;
    }
  });
  return failed;
}

function pinExists(b: Bpftool, path: string): boolean {
  try {
    b.kernel.bpffs.get(path);
    return true;
  } catch {
    return false;
  }
}

/** libbpf's messages for a failed bpf_object__load(). */
function reportLoadFailure(b: Bpftool, file: string, e: unknown, reported = false): void {
  if (reported) {
    // A device map's failure, already told by reportDeviceMapCreates().
  } else if (e instanceof ProgLoadError) {
    b.libbpfWarn(`prog '${e.prog}': BPF program load failed: ${libbpfStrerror(e.errno, 1)}`);
    if (e.log !== '') b.libbpfWarn(`prog '${e.prog}': -- BEGIN PROG LOAD LOG --\n${e.log}-- END PROG LOAD LOG --`);
    b.libbpfWarn(`prog '${e.prog}': failed to load: ${e.code}`);
  } else if (isBpfError(e)) {
    b.libbpfWarn(e.message);
  } else {
    throw e;
  }
  b.libbpfWarn(`failed to load object '${file}'`);
}

async function loadWithOptions(b: Bpftool, a: Args, firstProgOnly: boolean): Promise<number> {
  if (!a.req(2)) return -1;
  const file = a.get();
  const pinfile = a.get();
  let ifindex = 0;
  let common: { progType: number; attachType: number } | undefined;
  let pinmaps: string | undefined;
  while (a.count > 0) {
    if (isPrefix(a.cur, 'type')) {
      a.next();
      if (common !== undefined) {
        b.p_err('program type already specified');
        return -1;
      }
      if (!a.req(1)) return -1;
      common = progTypeByName(a.cur!) ?? progTypeByNameLoud(b, `${a.cur!}/`);
      if (common === undefined) return -1;
      a.next();
    } else if (isPrefix(a.cur, 'map')) {
      a.next();
      if (!a.req(4)) return -1;
      b.p_err('map replacement (map idx|name) is not supported by the emulated bpftool');
      return -1;
    } else if (isPrefix(a.cur, 'dev') || isPrefix(a.cur, 'offload_dev')) {
      // `dev NAME` is v7.1's spelling; `offload_dev NAME` is the one bpftool took from v7.2 on (when
      // `dev` became deprecated), accepted here too so that newer scripts run unchanged.
      a.next();
      if (ifindex !== 0) {
        b.p_err('offload device already specified');
        return -1;
      }
      if (!a.req(1)) return -1;
      ifindex = ifNameToIndex(b, a.cur!);
      if (ifindex === 0) {
        b.p_err(`unrecognized netdevice '${a.cur!}': ${strerror('ENODEV')}`);
        return -1;
      }
      a.next();
    } else if (isPrefix(a.cur, 'pinmaps')) {
      a.next();
      if (!a.req(1)) return -1;
      pinmaps = a.get();
    } else {
      b.p_err(`expected no more arguments, 'type', 'map' or 'dev', got: '${a.cur}'?`);
      return -1;
    }
  }
  if (b.useLoader) {
    b.p_err('the light skeleton loader (-L) is not supported by the emulated bpftool');
    return -1;
  }

  const obj = openObject(b, file);
  if (obj === undefined) {
    b.p_err('failed to open object file');
    return -1;
  }
  const fail = (): number => {
    if (!b.legacyLibbpf) b.p_info(STRICT_MODE_WARNING);
    return -1;
  };
  for (const p of obj.programs) {
    if (common === undefined && progTypeByName(p.section) === undefined) {
      progTypeByNameLoud(b, p.section);
      return fail();
    }
  }
  let loaded: LoadedObject;
  const loadOpts = {
    ...(common !== undefined ? { progType: common.progType, expectedAttachType: common.attachType } : {}),
    ...(b.verifierLogs ? { logLevel: 1 | 2 | 4 } : {}),
  };
  // Maps pinned by name that already exist are reused, not created (bpf_object__reuse_map).
  const reused = new Set(obj.maps.filter((m) => m.pinning === LIBBPF_PIN_BY_NAME && m.pinPath !== undefined && pinExists(b, m.pinPath)));
  const deviceMaps: DeviceMapCreate[] = [];
  try {
    // With a device, bpf_program__set_ifindex() on every program and bpf_map__set_ifindex() on every
    // map but perf event arrays: the loads then wait for the device.
    loaded = ifindex === 0
      ? loadObjectIntoKernel(b.sys, obj, loadOpts)
      : await loadObjectIntoKernelAsync(recordingDeviceMapCreates(b.sys, deviceMaps), obj, { ...loadOpts, ifindex });
    reportDeviceMapCreates(b, obj, reused, deviceMaps);
  } catch (e) {
    const mapFailed = reportDeviceMapCreates(b, obj, reused, deviceMaps);
    reportLoadFailure(b, file, e, mapFailed);
    b.p_err('failed to load object file');
    return fail();
  }
  const st: LoadState = { path: file, obj, loaded, pinnedMaps: new Map() };
  loaded.maps.forEach((m, i) => {
    if (m.spec.pinPath !== undefined) st.pinnedMaps.set(i, m.spec.pinPath);
  });
  try {
    if (loaded.btfFd !== undefined) b.own(loaded.btfFd);
    for (const m of loaded.maps) b.own(m.fd);
    for (const p of loaded.programs) b.own(p.fd);
    if (mountBpffsForPin(b, pinfile)) return fail();
    if (firstProgOnly) {
      const first = obj.programs[0];
      if (first === undefined) {
        b.p_err("object file doesn't contain any bpf program");
        return fail();
      }
      const p = loaded.programs.find((x) => x.spec === first);
      let pinned = false;
      try {
        // A program libbpf did not load has fd -1: bpf_obj_pin() says EBADF.
        if (p !== undefined) {
          b.sys.objPin(p.fd, pinfile);
          pinned = true;
        }
      } catch (e) {
        errnoOf(e);
      }
      if (!pinned) {
        b.p_err(`failed to pin program ${first.section}`);
        return fail();
      }
    } else if (pinPrograms(b, st, pinfile)) {
      b.p_err('failed to pin all programs');
      return fail();
    }
    if (pinmaps !== undefined && pinMaps(b, st, pinmaps)) {
      b.p_err('failed to pin all maps');
      if (firstProgOnly) unlinkQuiet(b, pinfile);
      else for (const p of obj.programs) unlinkQuiet(b, `${pinfile}/${p.name}`);
      return fail();
    }
    if (b.jsonOutput) b.jw.null();
    return 0;
  } finally {
    // bpf_object__close(): the object's fds go; what is pinned stays.
    for (const p of loaded.programs) b.close(p.fd);
    for (const m of loaded.maps) b.close(m.fd);
    if (loaded.btfFd !== undefined) b.close(loaded.btfFd);
  }
}

// ---------------------------------------------------------------------------------------------
// run: BPF_PROG_TEST_RUN

/** The default size of data_out and ctx_out (SZ_32K). */
const DEFAULT_SIZE_OUT = 32 * 1024;

function getRunData(b: Bpftool, fname: string | undefined): Uint8Array | null | undefined {
  if (fname === undefined) return null;
  try {
    return fname === '-' ? b.readStdin() : readFileSync(b.hostPath(fname));
  } catch (e) {
    b.p_err(`failed to open ${fname}: ${hostErr(e)}`);
    return undefined;
  }
}

/** hex_print(): `od`-like rows of 16 bytes with their ASCII. */
export function hexPrint(data: Uint8Array): string {
  let s = '';
  for (let i = 0; i < data.length; i += 16) {
    s += `${i.toString(16).padStart(7, '0')}\t`;
    let j = i;
    for (; j < i + 16 && j < data.length; j++) s += `${data[j]!.toString(16).padStart(2, '0')}${j % 2 ? ' ' : ''}`;
    for (; j < i + 16; j++) s += `  ${j % 2 ? ' ' : ''}`;
    s += '| ';
    for (j = i; j < i + 16 && j < data.length; j++) {
      const c = data[j]!;
      s += `${c < 0x20 || c > 0x7e ? '.' : String.fromCharCode(c)}${j === i + 7 ? ' ' : ''}`;
    }
    s += '\n';
  }
  return s;
}

function printRunOutput(b: Bpftool, data: Uint8Array, fname: string | undefined, key: string): number {
  if (fname === undefined) return 0;
  if (fname === '-') {
    if (b.jsonOutput) {
      b.jw.name(key);
      printDataJson(b.jw, data);
    } else {
      b.printf(hexPrint(data));
    }
    return 0;
  }
  try {
    writeFileSync(b.hostPath(fname), data);
  } catch (e) {
    b.p_err(`failed to open ${fname}: ${hostErr(e)}`);
    return -1;
  }
  return 0;
}

async function doRun(b: Bpftool, a: Args): Promise<number> {
  if (!a.req(4)) return -1;
  const fd = progParseFd(b, a);
  if (fd < 0) return -1;
  try {
    let dataIn: string | undefined;
    let dataOut: string | undefined;
    let ctxIn: string | undefined;
    let ctxOut: string | undefined;
    let dataSizeOut = 0;
    let ctxSizeOut = 0;
    let repeat = 1;
    const stdinTwice = (): boolean => {
      if (dataIn === '-' && ctxIn === '-') {
        b.p_err('cannot use standard input for both data_in and ctx_in');
        return true;
      }
      return false;
    };
    const number = (what: string): number | undefined => {
      a.next();
      if (!a.req(1)) return undefined;
      const r = strtoul(a.cur!, 0);
      if (!r.ok) {
        b.p_err(`can't parse ${a.cur!} as ${what}`);
        return undefined;
      }
      a.next();
      return u32(r.value);
    };
    while (a.count > 0) {
      const w = a.cur!;
      if (detectCommonPrefix(b, w, 'data_in', 'data_out', 'data_size_out')) return -1;
      if (detectCommonPrefix(b, w, 'ctx_in', 'ctx_out', 'ctx_size_out')) return -1;
      if (isPrefix(w, 'data_in')) {
        a.next();
        if (!a.req(1)) return -1;
        dataIn = a.get();
        if (stdinTwice()) return -1;
      } else if (isPrefix(w, 'data_out')) {
        a.next();
        if (!a.req(1)) return -1;
        dataOut = a.get();
      } else if (isPrefix(w, 'data_size_out')) {
        const n = number('output data size');
        if (n === undefined) return -1;
        dataSizeOut = n;
      } else if (isPrefix(w, 'ctx_in')) {
        a.next();
        if (!a.req(1)) return -1;
        ctxIn = a.get();
        if (stdinTwice()) return -1;
      } else if (isPrefix(w, 'ctx_out')) {
        a.next();
        if (!a.req(1)) return -1;
        ctxOut = a.get();
      } else if (isPrefix(w, 'ctx_size_out')) {
        const n = number('output context size');
        if (n === undefined) return -1;
        ctxSizeOut = n;
      } else if (isPrefix(w, 'repeat')) {
        const n = number('repeat number');
        if (n === undefined) return -1;
        repeat = n;
      } else {
        b.p_err(`expected no more arguments, 'data_in', 'data_out', 'data_size_out', 'ctx_in', 'ctx_out', 'ctx_size_out' or 'repeat', got: '${w}'?`);
        return -1;
      }
    }
    const data = getRunData(b, dataIn);
    if (data === undefined) return -1;
    if (data !== null && dataSizeOut === 0) dataSizeOut = DEFAULT_SIZE_OUT;
    const ctx = getRunData(b, ctxIn);
    if (ctx === undefined) return -1;
    if (ctx !== null && ctxSizeOut === 0) ctxSizeOut = DEFAULT_SIZE_OUT;

    let res;
    try {
      // A device program runs on its device (where the emulated driver offers it; the real kernel has no
      // test run for offloaded programs: ENOTSUPP), so the call may wait.
      res = await b.sys.progTestRunAsync({
        prog_fd: fd, repeat,
        ...(data !== null ? { data_in: data, data_size_out: dataSizeOut } : {}),
        ...(ctx !== null ? { ctx_in: ctx, ctx_size_out: ctxSizeOut } : {}),
      });
    } catch (e) {
      const errno = errnoOf(e);
      b.p_err(`failed to run program: ${strerror(errno)}`);
      return -errnoNumber(errno);
    }
    // The kernel copies out what fits and says ENOSPC when the output was larger (bpf_test_finish).
    if (data !== null && res.data_size_out > dataSizeOut) {
      b.p_err(`failed to run program: ${strerror('ENOSPC')}`);
      return -28;
    }
    let err = 0;
    if (b.jsonOutput) b.jw.startObject();
    if (data !== null && res.data_size_out !== 0) err += printRunOutput(b, (res.data_out ?? new Uint8Array(0)).subarray(0, res.data_size_out), dataOut, 'data_out');
    if (ctx !== null && res.ctx_out !== undefined && res.ctx_out.length !== 0) err += printRunOutput(b, res.ctx_out.subarray(0, ctxSizeOut), ctxOut, 'ctx_out');
    const retval = res.retval >>> 0;
    const duration = Math.trunc(res.duration) >>> 0;
    if (b.jsonOutput) {
      b.jw.numberField('retval', retval);
      b.jw.numberField('duration', duration);
      b.jw.endObject();
    } else {
      b.printf(`Return value: ${retval}, duration${repeat > 1 ? ' (average)' : ''}: ${duration}ns\n`);
    }
    return err;
  } finally {
    b.close(fd);
  }
}

// ---------------------------------------------------------------------------------------------

/** The attach types `prog attach` takes, with bpftool's traditional names, matched as prefixes in enum order. */
const ATTACH_TYPES: readonly (readonly [string, number])[] = [
  ['stream_parser', BPF_ATTACH_TYPE.SK_SKB_STREAM_PARSER], ['stream_verdict', BPF_ATTACH_TYPE.SK_SKB_STREAM_VERDICT],
  ['msg_verdict', BPF_ATTACH_TYPE.SK_MSG_VERDICT], ['flow_dissector', BPF_ATTACH_TYPE.FLOW_DISSECTOR],
  ['skb_verdict', BPF_ATTACH_TYPE.SK_SKB_VERDICT],
];

/**
 * `prog attach|detach PROG ATTACH_TYPE [MAP]`: a socket-map or flow-dissector attachment, which the
 * emulated kernel does not have, so after the arguments BPF_PROG_ATTACH fails as it would there.
 */
function attachDetach(b: Bpftool, a: Args, what: 'attach' | 'detach'): number {
  const EINVAL = -22;
  if (!a.req(3)) return EINVAL;
  const progFd = progParseFd(b, a);
  if (progFd < 0) return progFd;
  let mapFd = -1;
  try {
    const type = ATTACH_TYPES.find(([name]) => isPrefix(a.cur, name));
    if (type === undefined) {
      b.p_err('invalid attach/detach type');
      return EINVAL;
    }
    if (type[1] !== BPF_ATTACH_TYPE.FLOW_DISSECTOR) {
      a.next();
      if (!a.req(2)) return EINVAL;
      mapFd = mapParseFd(b, a);
      if (mapFd < 0) return mapFd;
    }
    b.p_err(what === 'attach' ? 'failed prog attach to map' : 'failed prog detach from map');
    return EINVAL;
  } finally {
    b.close(progFd);
    if (mapFd >= 0) b.close(mapFd);
  }
}

/**
 * `prog tracelog`: trace_pipe, where bpf_trace_printk() writes. bpftool reads it until interrupted; on
 * the emulated host nothing else runs while bpftool does, so it prints what is pending and stops as
 * bpftool does on SIGINT (closing its JSON array).
 */
function doTracelog(b: Bpftool, a: Args): number {
  if (a.count !== 0) b.usage();
  const lines = b.kernel.helperEnv.trace.read();
  if (b.jsonOutput) {
    b.jw.startArray();
    for (const l of lines) b.jw.string(l);
    b.jw.endArray();
  } else {
    for (const l of lines) b.printf(l);
  }
  return 0;
}

/** Sub-commands the emulated host has nothing for: no perf counters. */
function unsupported(what: string): (b: Bpftool, a: Args) => number {
  return (b) => {
    b.p_err(`'prog ${what}' is not supported by the emulated bpftool`);
    return -1;
  };
}

export const PROG_HELP = (bin: string, obj: string): string => `Usage: ${bin} ${obj} { show | list } [PROG]
       ${bin} ${obj} dump xlated PROG [{ file FILE | opcodes | visual | linum }]
       ${bin} ${obj} dump jited  PROG [{ file FILE | opcodes | linum }]
       ${bin} ${obj} pin   PROG FILE
       ${bin} ${obj} { load | loadall } OBJ  PATH \\
                         [type TYPE] [dev NAME] \\
                         [map { idx IDX | name NAME } MAP]\\
                         [pinmaps MAP_DIR]
       ${bin} ${obj} attach PROG ATTACH_TYPE [MAP]
       ${bin} ${obj} detach PROG ATTACH_TYPE [MAP]
       ${bin} ${obj} run PROG \\
                         data_in FILE \\
                         [data_out FILE [data_size_out L]] \\
                         [ctx_in FILE [ctx_out FILE [ctx_size_out M]]] \\
                         [repeat N]
       ${bin} ${obj} profile PROG [duration DURATION] METRICs
       ${bin} ${obj} tracelog
       ${bin} ${obj} help

       MAP := { id MAP_ID | pinned FILE | name MAP_NAME }
       PROG := { id PROG_ID | pinned FILE | tag PROG_TAG | name PROG_NAME }
       TYPE := { socket | kprobe | kretprobe | classifier | action |
                 tracepoint | raw_tracepoint | xdp | perf_event | cgroup/skb |
                 cgroup/sock | cgroup/dev | lwt_in | lwt_out | lwt_xmit |
                 lwt_seg6local | sockops | sk_skb | sk_msg | lirc_mode2 |
                 sk_reuseport | flow_dissector | cgroup/sysctl |
                 cgroup/bind4 | cgroup/bind6 | cgroup/post_bind4 |
                 cgroup/post_bind6 | cgroup/connect4 | cgroup/connect6 |
                 cgroup/getpeername4 | cgroup/getpeername6 |
                 cgroup/getsockname4 | cgroup/getsockname6 | cgroup/sendmsg4 |
                 cgroup/sendmsg6 | cgroup/recvmsg4 | cgroup/recvmsg6 |
                 cgroup/getsockopt | cgroup/setsockopt | cgroup/sock_release |
                 struct_ops | fentry | fexit | freplace | sk_lookup }
       ATTACH_TYPE := { sk_msg_verdict | sk_skb_verdict | sk_skb_stream_verdict |
                        sk_skb_stream_parser | flow_dissector }
       METRIC := { cycles | instructions | l1d_loads | llc_misses | itlb_misses | dtlb_misses }
       OPTIONS := { {-j|--json} [{-p|--pretty}] | {-d|--debug} | {-l|--legacy} |
                    {-f|--bpffs} | {-m|--mapcompat} | {-n|--nomount} |
                    {-L|--use-loader} }
`;

/** A command: its return value is the exit status; a Promise where it waits for a device. */
export type Cmd = readonly [name: string, fn: (b: Bpftool, a: Args) => number | Promise<number>];

export const PROG_CMDS: readonly Cmd[] = [
  ['show', doShow],
  ['list', doShow],
  ['help', () => 0], // replaced by the caller's help, which knows the object word typed
  ['dump', doDump],
  ['pin', doPin],
  ['load', (b, a) => loadWithOptions(b, a, true)],
  ['loadall', (b, a) => loadWithOptions(b, a, false)],
  ['attach', (b, a) => attachDetach(b, a, 'attach')],
  ['detach', (b, a) => attachDetach(b, a, 'detach')],
  ['tracelog', doTracelog],
  ['run', doRun],
  ['profile', unsupported('profile')],
];
