// The bpf(2) system call (kernel/bpf/syscall.c): one method per command, taking the command's part of
// union bpf_attr with the kernel's field names. Methods throw BpfError; `bpf()` is the raw entry point
// that returns -errno, as the kernel does, and writes results back into the attr as the kernel writes
// them to user memory.

import { BpfError, isBpfError } from '../bpf/errno.js';
import { decodeProgram, encode, type Insn } from '../bpf/insn.js';
import {
  BPF_DW, BPF_IMM, BPF_LD, BPF_PSEUDO_BTF_ID, BPF_PSEUDO_FUNC, BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_IDX,
  BPF_PSEUDO_MAP_IDX_VALUE, BPF_PSEUDO_MAP_VALUE,
} from '../bpf/opcodes.js';
import {
  BPF_F_ANY_ALIGNMENT, BPF_F_SLEEPABLE, BPF_F_STRICT_ALIGNMENT, BPF_F_TEST_RND_HI32, BPF_F_TEST_STATE_FREQ, BPF_F_XDP_DEV_BOUND_ONLY,
  BPF_F_XDP_HAS_FRAGS,
} from '../bpf/prog-types.js';
import { progTag, tagDigestForKernel } from '../bpf/tag.js';
import { lineNumber, type Btf, type BpfFuncInfo, type BpfLineInfo } from '../bpf/btf.js';
import { jitCompile } from './exec/jit.js';
import { BtfObject, KERNEL_VERSION, type Kernel } from './kernel.js';
import { map_create } from './maps/create.js';
import {
  BPF_MAP_TYPE_ARRAY, BPF_OBJ_NAME_LEN, type BpfMap, type BpfMapCreateAttr,
} from './maps/map.js';
import { mapMemoryUsage } from './maps/mem_usage.js';
import { bpf_map_is_offloaded, type BpfOffloadedMap } from './offload.js';
import { BpfProg } from './prog.js';
import { bpf_prog_test_run_xdp } from './test_run.js';
import { verifyStructure } from './verifier/cfg.js';
import { VerifierLog } from './verifier/log.js';
import { BPF_MAX_VAR_OFF, bpfCheck, type InsnAux, type LdImmMap } from './verifier/verifier.js';
import { fixupProgram } from './verifier/fixup.js';

/** adjust_btf_func/line info: records follow their instruction; ones whose instruction went are dropped. */
function rebaseLineInfo(lines: readonly BpfLineInfo[], indexMap: Int32Array): BpfLineInfo[] {
  const out: BpfLineInfo[] = [];
  for (const l of lines) {
    const k = indexMap[l.insnOff];
    if (k !== undefined && k >= 0 && (out.length === 0 || out[out.length - 1]!.insnOff !== k)) out.push({ ...l, insnOff: k });
  }
  return out;
}

/** enum bpf_cmd. */
export const BPF_CMD = {
  BPF_MAP_CREATE: 0, BPF_MAP_LOOKUP_ELEM: 1, BPF_MAP_UPDATE_ELEM: 2, BPF_MAP_DELETE_ELEM: 3,
  BPF_MAP_GET_NEXT_KEY: 4, BPF_PROG_LOAD: 5, BPF_OBJ_PIN: 6, BPF_OBJ_GET: 7, BPF_PROG_ATTACH: 8,
  BPF_PROG_DETACH: 9, BPF_PROG_TEST_RUN: 10, BPF_PROG_GET_NEXT_ID: 11, BPF_MAP_GET_NEXT_ID: 12,
  BPF_PROG_GET_FD_BY_ID: 13, BPF_MAP_GET_FD_BY_ID: 14, BPF_OBJ_GET_INFO_BY_FD: 15, BPF_PROG_QUERY: 16,
  BPF_RAW_TRACEPOINT_OPEN: 17, BPF_BTF_LOAD: 18, BPF_BTF_GET_FD_BY_ID: 19, BPF_TASK_FD_QUERY: 20,
  BPF_MAP_LOOKUP_AND_DELETE_ELEM: 21, BPF_MAP_FREEZE: 22, BPF_BTF_GET_NEXT_ID: 23, BPF_PROG_BIND_MAP: 35,
} as const;

export const BPF_PROG_TYPE_SOCKET_FILTER = 1;
export const BPF_PROG_TYPE_SCHED_CLS = 3;
export const BPF_PROG_TYPE_SCHED_ACT = 4;
export const BPF_PROG_TYPE_XDP = 6;

/** Program types this kernel can load (the others are valid numbers this emulator has no context for). */
const LOADABLE_PROG_TYPES = new Set([BPF_PROG_TYPE_SOCKET_FILTER, BPF_PROG_TYPE_SCHED_CLS, BPF_PROG_TYPE_SCHED_ACT, BPF_PROG_TYPE_XDP]);

/** BPF_COMPLEXITY_LIMIT_INSNS: the most instructions a privileged load may have. */
export const BPF_COMPLEXITY_LIMIT_INSNS = 1_000_000;

export {
  BPF_F_ANY_ALIGNMENT, BPF_F_SLEEPABLE, BPF_F_STRICT_ALIGNMENT, BPF_F_TEST_RND_HI32, BPF_F_TEST_STATE_FREQ, BPF_F_XDP_DEV_BOUND_ONLY,
  BPF_F_XDP_HAS_FRAGS,
} from '../bpf/prog-types.js';
const PROG_LOAD_FLAGS = BPF_F_STRICT_ALIGNMENT | BPF_F_ANY_ALIGNMENT | BPF_F_TEST_RND_HI32 | BPF_F_TEST_STATE_FREQ
  | BPF_F_SLEEPABLE | BPF_F_XDP_HAS_FRAGS | BPF_F_XDP_DEV_BOUND_ONLY;

export interface ProgLoadAttr {
  prog_type: number;
  insns: readonly Insn[] | Uint8Array;
  license: string;
  log_level?: number;
  /** Size of the user's log buffer; the log is returned in `log_buf` (ENOSPC when it does not fit). */
  log_size?: number;
  log_buf?: string;
  kern_version?: number;
  prog_flags?: number;
  prog_name?: string;
  prog_ifindex?: number;
  expected_attach_type?: number;
  prog_btf_fd?: number;
  func_info?: readonly BpfFuncInfo[];
  line_info?: readonly BpfLineInfo[];
  fd_array?: readonly number[];
}

export interface MapElemAttr {
  map_fd: number;
  key?: Uint8Array | null;
  value?: Uint8Array;
  flags?: number;
}

export interface TestRunAttr {
  prog_fd: number;
  data_in?: Uint8Array;
  /** Room for data_out (data_size_out); the output is returned in `data_out`. */
  data_size_out?: number;
  ctx_in?: Uint8Array;
  ctx_size_out?: number;
  repeat?: number;
  flags?: number;
  cpu?: number;
  batch_size?: number;
}

export interface TestRunResult {
  retval: number;
  /** Average ns per run, as the kernel reports it. */
  duration: number;
  data_out?: Uint8Array;
  /** The full output size (data_size_out), which may exceed the buffer (then ENOSPC). */
  data_size_out: number;
  ctx_out?: Uint8Array;
}

/** What a program type provides for BPF_PROG_TEST_RUN (net/bpf/test_run.c). */
export type TestRunner = (kernel: Kernel, prog: BpfProg, attr: TestRunAttr) => TestRunResult;
const testRunners = new Map<number, TestRunner>([[BPF_PROG_TYPE_XDP, bpf_prog_test_run_xdp]]);

/** struct bpf_prog_info, the fields bpftool prints. */
export interface BpfProgInfo {
  type: number;
  id: number;
  tag: string;
  jited_prog_len: number;
  /** A device program's image (bpftool prog dump jited); host programs' JIT output is JavaScript. */
  jited_prog_insns?: Uint8Array;
  /** The BTF func_info / line_info records (none for an offloaded program, as the kernel gives none). */
  func_info: readonly BpfFuncInfo[];
  line_info: readonly BpfLineInfo[];
  xlated_prog_len: number;
  load_time: bigint;
  created_by_uid: number;
  map_ids: number[];
  name: string;
  ifindex: number;
  gpl_compatible: boolean;
  netns_dev: bigint;
  netns_ino: bigint;
  btf_id: number;
  run_time_ns: bigint;
  run_cnt: bigint;
  verified_insns: number;
  memlock: number;
}

/** struct bpf_map_info. */
export interface BpfMapInfo {
  type: number;
  id: number;
  key_size: number;
  value_size: number;
  max_entries: number;
  map_flags: number;
  name: string;
  ifindex: number;
  netns_dev: bigint;
  netns_ino: bigint;
  btf_id: number;
  btf_key_type_id: number;
  btf_value_type_id: number;
  memlock: number;
  frozen: boolean;
}

/** license_is_gpl_compatible() (include/linux/license.h). */
export function licenseIsGplCompatible(license: string): boolean {
  return ['GPL', 'GPL v2', 'GPL and additional rights', 'Dual BSD/GPL', 'Dual MIT/GPL', 'Dual MPL/GPL'].includes(license);
}

/** bpf_obj_name_cpy(): up to 15 characters of [A-Za-z0-9_.]. */
export function objNameCpy(name: string | undefined, what: string): string {
  if (name === undefined) return '';
  if (name.length >= BPF_OBJ_NAME_LEN) throw new BpfError('EINVAL', `${what}: name '${name}' is longer than ${BPF_OBJ_NAME_LEN - 1} characters`);
  if (!/^[A-Za-z0-9_.]*$/.test(name)) throw new BpfError('EINVAL', `${what}: name '${name}' has a character other than [A-Za-z0-9_.]`);
  return name;
}

/** An offloaded map operation's error, naming the command and the map as the host maps' errors do. */
function offloadOp<T>(cmd: string, map: BpfOffloadedMap, op: Promise<T>): Promise<T> {
  return op.catch((e: unknown) => {
    if (!isBpfError(e)) throw e;
    const label = map.name !== '' ? `map '${map.name}'` : `map id ${map.id}`;
    throw new BpfError(e.errno, `${cmd} on ${label}: ${e.message}`, { cause: e });
  });
}

/**
 * verbose_linfo(): before an instruction, the source line its line_info record gives, as
 * "<line, left-trimmed> @ <file's base name>:<line number>" — when the record differs from the last
 * one printed (env->prev_linfo, reset once per verification) in file or line number.
 */
function verboseLinfo(btf: Btf, lineInfo: readonly BpfLineInfo[]): (insnIdx: number) => string | undefined {
  let prev: BpfLineInfo | undefined;
  return (insnIdx) => {
    // find_linfo(): the last record starting at or before the instruction.
    let lo = 0, hi = lineInfo.length - 1, found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (lineInfo[mid]!.insnOff <= insnIdx) { found = mid; lo = mid + 1; } else hi = mid - 1;
    }
    const li = found < 0 ? undefined : lineInfo[found];
    if (li === undefined || li === prev) return undefined;
    // A record for another column of the same line prints nothing (and is not remembered).
    if (prev !== undefined && li.fileNameOff === prev.fileNameOff && lineNumber(li) === lineNumber(prev)) return undefined;
    prev = li;
    const file = btf.str(li.fileNameOff);
    return `${btf.str(li.lineOff).replace(/^\s+/, '')} @ ${file.slice(file.lastIndexOf('/') + 1)}:${lineNumber(li)}`;
  };
}

export class BpfSyscall {
  constructor(readonly k: Kernel) {}

  // ------------------------------------------------------------------------------------- maps

  mapCreate(attr: BpfMapCreateAttr): number {
    if ((attr.map_ifindex ?? 0) !== 0) throw new Error('BUG: BPF_MAP_CREATE with map_ifindex waits for the device: use BpfSyscall.mapCreateAsync()');
    objNameCpy(attr.map_name, 'BPF_MAP_CREATE');
    if ((attr.btf_fd ?? 0) !== 0) this.k.fileOf(attr.btf_fd!, 'btf', 'BPF_MAP_CREATE');
    const map = map_create(attr, this.k.mapEnv);
    this.k.registerMap(map);
    if ((attr.btf_fd ?? 0) !== 0) {
      const btf = this.k.fds.get(attr.btf_fd!)!.obj as BtfObject;
      btf.get();
      map.btf = btf;
      map.btf_key_type_id = attr.btf_key_type_id ?? 0;
      map.btf_value_type_id = attr.btf_value_type_id ?? 0;
    }
    return this.k.fds.install({ kind: 'map', obj: map });
  }

  mapLookup(attr: MapElemAttr): Uint8Array {
    const map = this.k.mapOf(attr.map_fd, 'BPF_MAP_LOOKUP_ELEM');
    return map.lookup(this.key(map, attr.key), attr.flags ?? 0);
  }

  mapUpdate(attr: MapElemAttr): void {
    const map = this.k.mapOf(attr.map_fd, 'BPF_MAP_UPDATE_ELEM');
    if (map.frozen) throw new BpfError('EPERM', 'BPF_MAP_UPDATE_ELEM: map is frozen');
    if (attr.value === undefined) throw new BpfError('EFAULT', 'BPF_MAP_UPDATE_ELEM: no value');
    map.update(this.key(map, attr.key), attr.value, attr.flags ?? 0);
  }

  mapDelete(attr: MapElemAttr): void {
    const map = this.k.mapOf(attr.map_fd, 'BPF_MAP_DELETE_ELEM');
    if (map.frozen) throw new BpfError('EPERM', 'BPF_MAP_DELETE_ELEM: map is frozen');
    map.delete(this.key(map, attr.key));
  }

  /** The key after `key` (the first key for null or a missing key, as hash maps do); throws ENOENT at the end. */
  mapGetNextKey(attr: MapElemAttr): Uint8Array {
    const map = this.k.mapOf(attr.map_fd, 'BPF_MAP_GET_NEXT_KEY');
    return map.getNextKey(attr.key === undefined || attr.key === null ? null : this.key(map, attr.key));
  }

  mapLookupAndDelete(attr: MapElemAttr): Uint8Array {
    const map = this.k.mapOf(attr.map_fd, 'BPF_MAP_LOOKUP_AND_DELETE_ELEM');
    return map.lookupAndDelete(this.key(map, attr.key), attr.flags ?? 0);
  }

  mapFreeze(mapFd: number): void {
    const map = this.k.mapOf(mapFd, 'BPF_MAP_FREEZE');
    if (map.frozen) throw new BpfError('EBUSY', 'BPF_MAP_FREEZE: map is already frozen');
    map.frozen = true;
  }

  // ---------------------------------------------------------------- maps, asynchronous
  // The map commands as Promises: for an offloaded map they wait for the device (kernel/bpf/offload.c,
  // outside any RCU read-side section, as syscall.c branches before rcu_read_lock()); for a host map
  // they are the synchronous commands above. Callers that may meet offloaded maps use these.

  /** BPF_MAP_CREATE, with map_ifindex: the driver allocates the map on the device (MAP_ALLOC). */
  async mapCreateAsync(attr: BpfMapCreateAttr): Promise<number> {
    if ((attr.map_ifindex ?? 0) === 0) return this.mapCreate(attr);
    objNameCpy(attr.map_name, 'BPF_MAP_CREATE');
    const map = await this.k.offload.bpf_map_offload_map_alloc(attr);
    this.k.registerMap(map);
    return this.k.fds.install({ kind: 'map', obj: map });
  }

  async mapLookupAsync(attr: MapElemAttr): Promise<Uint8Array> {
    const cmd = 'BPF_MAP_LOOKUP_ELEM';
    const map = this.k.mapOf(attr.map_fd, cmd);
    if (!bpf_map_is_offloaded(map)) return this.mapLookup(attr);
    if ((attr.flags ?? 0) !== 0) throw new BpfError('EINVAL', `${cmd}: flags 0x${(attr.flags ?? 0).toString(16)} on an offloaded map`);
    return await offloadOp(cmd, map, this.k.offload.bpf_map_offload_lookup_elem(map, this.key(map, attr.key)));
  }

  async mapUpdateAsync(attr: MapElemAttr): Promise<void> {
    const cmd = 'BPF_MAP_UPDATE_ELEM';
    const map = this.k.mapOf(attr.map_fd, cmd);
    if (!bpf_map_is_offloaded(map)) return this.mapUpdate(attr);
    if (map.frozen) throw new BpfError('EPERM', `${cmd}: map is frozen`);
    if (attr.value === undefined) throw new BpfError('EFAULT', `${cmd}: no value`);
    if (attr.value.length !== map.value_size) throw new BpfError('EINVAL', `${cmd}: value of ${attr.value.length} bytes for a map with value_size ${map.value_size}`);
    return await offloadOp(cmd, map, this.k.offload.bpf_map_offload_update_elem(map, this.key(map, attr.key), attr.value, attr.flags ?? 0));
  }

  async mapDeleteAsync(attr: MapElemAttr): Promise<void> {
    const cmd = 'BPF_MAP_DELETE_ELEM';
    const map = this.k.mapOf(attr.map_fd, cmd);
    if (!bpf_map_is_offloaded(map)) return this.mapDelete(attr);
    if (map.frozen) throw new BpfError('EPERM', `${cmd}: map is frozen`);
    return await offloadOp(cmd, map, this.k.offload.bpf_map_offload_delete_elem(map, this.key(map, attr.key)));
  }

  async mapGetNextKeyAsync(attr: MapElemAttr): Promise<Uint8Array> {
    const cmd = 'BPF_MAP_GET_NEXT_KEY';
    const map = this.k.mapOf(attr.map_fd, cmd);
    if (!bpf_map_is_offloaded(map)) return this.mapGetNextKey(attr);
    const key = attr.key === undefined || attr.key === null ? null : this.key(map, attr.key);
    return await offloadOp(cmd, map, this.k.offload.bpf_map_offload_get_next_key(map, key));
  }

  async mapLookupAndDeleteAsync(attr: MapElemAttr): Promise<Uint8Array> {
    return this.mapLookupAndDelete(attr);
  }

  private key(map: BpfMap, key: Uint8Array | null | undefined): Uint8Array {
    if (key === undefined || key === null) throw new BpfError('EFAULT', 'no key');
    if (key.length !== map.key_size) throw new BpfError('EINVAL', `key of ${key.length} bytes for a map with key_size ${map.key_size}`);
    return key;
  }

  // ------------------------------------------------------------------------------------- programs

  /**
   * BPF_PROG_LOAD: returns the program fd; the verifier log (if asked for) is left in attr.log_buf.
   * A device-bound load (prog_ifindex) takes bpf_devs_lock; when a device operation in flight holds
   * it, the load has to wait, which only progLoadAsync can do (EAGAIN here).
   */
  progLoad(attr: ProgLoadAttr): number {
    if ((attr.prog_ifindex ?? 0) === 0) return this.bpf_prog_load(attr);
    const lock = this.k.offload.bpf_devs_lock;
    if (!lock.tryDownRead()) throw new BpfError('EAGAIN', 'BPF_PROG_LOAD: an offload device operation is in flight; a device-bound load must wait for it (progLoadAsync)');
    try {
      return this.bpf_prog_load(attr);
    } finally {
      lock.up_read();
    }
  }

  /** BPF_PROG_LOAD that waits for bpf_devs_lock, as a device-bound load in the kernel sleeps on it. */
  async progLoadAsync(attr: ProgLoadAttr): Promise<number> {
    if ((attr.prog_ifindex ?? 0) === 0) return this.bpf_prog_load(attr);
    const lock = this.k.offload.bpf_devs_lock;
    await lock.down_write();
    try {
      return this.bpf_prog_load(attr);
    } finally {
      lock.up_write();
    }
  }

  private bpf_prog_load(attr: ProgLoadAttr): number {
    const k = this.k;
    const log = new VerifierLog(attr.log_level ?? 0, attr.log_size ?? 0);
    const flags = attr.prog_flags ?? 0;
    if ((flags & ~PROG_LOAD_FLAGS) !== 0) throw new BpfError('EINVAL', `BPF_PROG_LOAD: unknown prog_flags 0x${flags.toString(16)}`);
    if (!LOADABLE_PROG_TYPES.has(attr.prog_type)) throw new BpfError('EINVAL', `BPF_PROG_LOAD: unsupported program type ${attr.prog_type}`);
    const name = objNameCpy(attr.prog_name, 'BPF_PROG_LOAD');
    if (typeof attr.license !== 'string') throw new BpfError('EFAULT', 'BPF_PROG_LOAD: no license');

    const raw = attr.insns instanceof Uint8Array ? attr.insns : encode(attr.insns);
    const count = raw.length / 8;
    if (count === 0 || count > BPF_COMPLEXITY_LIMIT_INSNS) throw new BpfError(count === 0 ? 'EINVAL' : 'E2BIG', `BPF_PROG_LOAD: ${count} instructions`);
    let insns: Insn[];
    try {
      insns = decodeProgram(raw);
    } catch (e) {
      if (isBpfError(e)) {
        log.write(`${e.message}\n`);
        attr.log_buf = log.text();
      }
      throw e;
    }
    // The tag is taken before anything is rewritten (bpf_prog_calc_tag in resolve_pseudo_ldimm64).
    const tag = progTag(insns, tagDigestForKernel(...KERNEL_VERSION));

    // bpf_prog_dev_bound_init(): bound to the device before the verifier runs, so the device hook sees it.
    const dev = (attr.prog_ifindex ?? 0) !== 0 ? k.offload.bpf_prog_dev_bound_init(attr.prog_type, flags, attr.prog_ifindex!) : null;
    const offloaded = dev !== null && (flags & BPF_F_XDP_DEV_BOUND_ONLY) === 0;
    const usedMaps: BpfMap[] = [];
    const ldImm = new Map<number, LdImmMap>();
    let funcRegion: BpfProg['funcRegion'];
    const exec = insns.map((x) => ({ ...x }));
    let xlated = insns.map((x) => ({ ...x }));
    let lineInfo: readonly BpfLineInfo[] = attr.line_info ?? [];
    let funcInfo: readonly BpfFuncInfo[] = attr.func_info ?? [];
    try {
      for (let i = 0; i < insns.length; i++) {
        const x = insns[i]!;
        if (x.code !== (BPF_LD | BPF_IMM | BPF_DW)) continue;
        const second = insns[i + 1]!;
        switch (x.src) {
          case 0:
            break;
          case BPF_PSEUDO_MAP_FD:
          case BPF_PSEUDO_MAP_VALUE:
          case BPF_PSEUDO_MAP_IDX:
          case BPF_PSEUDO_MAP_IDX_VALUE: {
            const isIdx = x.src === BPF_PSEUDO_MAP_IDX || x.src === BPF_PSEUDO_MAP_IDX_VALUE;
            const fd = isIdx ? attr.fd_array?.[x.imm] : x.imm;
            const f = fd === undefined ? undefined : k.fds.get(fd);
            if (f === undefined || f.kind !== 'map') {
              log.write(`fd ${fd ?? x.imm} is not pointing to valid bpf_map\n`);
              throw new BpfError('EBADF', `BPF_PROG_LOAD: fd ${fd ?? x.imm} is not pointing to valid bpf_map`);
            }
            const map = f.obj as BpfMap;
            // check_map_prog_compatibility(): device maps only for programs on that device, and
            // device programs use host maps only when those are offload-neutral (perf events).
            if ((offloaded || bpf_map_is_offloaded(map)) && !k.offload.bpf_offload_prog_map_match(offloaded ? dev : null, map)) {
              log.write('offload device mismatch between prog and map\n');
              throw new BpfError('EINVAL', `BPF_PROG_LOAD: offload device mismatch between prog and map ${map.id}`);
            }
            const isValue = x.src === BPF_PSEUDO_MAP_VALUE || x.src === BPF_PSEUDO_MAP_IDX_VALUE;
            if (bpf_map_is_offloaded(map)) {
              // The device program reads the map by id; the host never runs it, so no host pointers.
              if (isValue) {
                log.write('no direct value access support for this map type\n');
                throw new BpfError('EINVAL', 'BPF_PROG_LOAD: no direct value access support for an offloaded map');
              }
              xlated[i]!.imm = map.id;
              ldImm.set(i, { map, valueOff: undefined });
            } else if (isValue) {
              const regions = k.regionsOf(map);
              const off = second.imm >>> 0;
              // resolve_pseudo_ldimm64(): only an array map has map_direct_value_addr, and
              // array_map_direct_value_addr() takes one element (ENOTSUPP) and an offset inside it (EINVAL).
              if (off >= BPF_MAX_VAR_OFF) {
                log.write(`direct value offset of ${off} is not allowed\n`);
                throw new BpfError('EINVAL', `BPF_PROG_LOAD: direct value offset of ${off} is not allowed`);
              }
              if (map.map_type !== BPF_MAP_TYPE_ARRAY) {
                log.write('no direct value access support for this map type\n');
                throw new BpfError('EINVAL', 'BPF_PROG_LOAD: no direct value access support for this map type');
              }
              if (map.max_entries !== 1 || off >= map.value_size) {
                log.write(`invalid access to map value pointer, value_size=${map.value_size} off=${off}\n`);
                throw new BpfError(map.max_entries !== 1 ? 'ENOTSUPP' : 'EINVAL', `BPF_PROG_LOAD: invalid access to map value pointer, value_size=${map.value_size} off=${off}`);
              }
              const base = map.lookupOffset(new Uint8Array(4), 0, 0);
              exec[i]!.src = 0; exec[i]!.imm = base + off; exec[i + 1]!.imm = regions.values.hi;
              xlated[i]!.src = BPF_PSEUDO_MAP_VALUE; xlated[i]!.imm = map.id;
              ldImm.set(i, { map, valueOff: off });
            } else {
              if (second.imm !== 0) {
                log.write('unrecognized bpf_ld_imm64 insn\n');
                throw new BpfError('EINVAL', 'BPF_PROG_LOAD: unrecognized bpf_ld_imm64 insn');
              }
              const regions = k.regionsOf(map);
              exec[i]!.src = 0; exec[i]!.imm = 0; exec[i + 1]!.imm = regions.handle.hi;
              xlated[i]!.src = BPF_PSEUDO_MAP_FD; xlated[i]!.imm = map.id;
              ldImm.set(i, { map, valueOff: undefined });
            }
            if (!usedMaps.includes(map)) {
              map.get();
              usedMaps.push(map);
            }
            break;
          }
          case BPF_PSEUDO_FUNC: {
            const target = i + x.imm + 1;
            if (target < 0 || target >= insns.length) {
              log.write(`invalid subprog target ${target}\n`);
              throw new BpfError('EINVAL', `BPF_PROG_LOAD: lddw BPF_PSEUDO_FUNC to ${target} out of range`);
            }
            funcRegion ??= k.mem.map('func', new Uint8Array(0), { writable: false });
            exec[i]!.src = 0; exec[i]!.imm = target; exec[i + 1]!.imm = funcRegion.hi;
            break;
          }
          case BPF_PSEUDO_BTF_ID:
          default:
            log.write('unrecognized bpf_ld_imm64 insn\n');
            throw new BpfError('EINVAL', `BPF_PROG_LOAD: unsupported lddw source ${x.src} at insn ${i}`);
        }
        i++;
      }
      let processed: number;
      let aux: InsnAux[] | undefined;
      if (k.verifier === 'full') {
        const { env } = bpfCheck({
          progType: attr.prog_type, expectedAttachType: attr.expected_attach_type ?? 0, insns, ldImm,
          gplCompatible: licenseIsGplCompatible(attr.license), log, progFlags: attr.prog_flags ?? 0, nrCpuIds: k.cpus.length,
          ...(offloaded ? { offload: k.offload.bpf_prog_offload_verifier_ops(dev), offloaded } : {}),
          ...(log.enabled && (attr.prog_btf_fd ?? 0) !== 0 && (attr.line_info?.length ?? 0) > 0
            ? { lineText: verboseLinfo((k.fileOf(attr.prog_btf_fd!, 'btf', 'BPF_PROG_LOAD').obj as BtfObject).btf, attr.line_info!) }
            : {}),
          // Global functions are verified from their BTF prototype (func_info names each subprogram's FUNC).
          ...((attr.prog_btf_fd ?? 0) !== 0 && (attr.func_info?.length ?? 0) > 0
            ? { btf: (k.fileOf(attr.prog_btf_fd!, 'btf', 'BPF_PROG_LOAD').obj as BtfObject).btf, funcInfo: attr.func_info! }
            : {}),
        });
        processed = env.insnProcessed;
        aux = env.aux;
        const fixed = fixupProgram(env, xlated, env.aux, offloaded ? k.offload.bpf_prog_offload_rewrites(dev, env) : undefined, offloaded);
        xlated = fixed.xlated;
        lineInfo = rebaseLineInfo(attr.line_info ?? [], fixed.indexMap);
        funcInfo = (attr.func_info ?? []).map((f) => ({ ...f, insnOff: Math.max(0, fixed.indexMap[f.insnOff] ?? f.insnOff) }));
      } else {
        processed = verifyStructure(insns, log);
      }
      log.finalize();
      attr.log_buf = log.text();

      const btf = (attr.prog_btf_fd ?? 0) !== 0 ? k.fileOf(attr.prog_btf_fd!, 'btf', 'BPF_PROG_LOAD').obj as BtfObject : undefined;
      const btfId = btf?.id ?? 0;
      const prog = new BpfProg(
        attr.prog_type, attr.expected_attach_type ?? 0, name, tag, licenseIsGplCompatible(attr.license),
        k.bootNs(), 0, exec, xlated, usedMaps, funcRegion, btfId, funcInfo, lineInfo,
        processed,
      );
      prog.aux = aux;
      prog.devBound = dev !== null;
      prog.offloadRequested = offloaded;
      prog.offload = dev;
      if (offloaded) {
        // bpf_prog_offload_compile(): the device's JIT; the host has nothing to run.
        k.offload.bpf_prog_offload_compile(dev, prog);
      } else if (k.jitEnabled) {
        try {
          prog.jited = jitCompile(prog, k);
        } catch (e) {
          // As with a kernel JIT failure without CONFIG_BPF_JIT_ALWAYS_ON: the interpreter runs it.
          if (!isBpfError(e, 'ENOTSUPP')) throw e;
          k.log.debug({ prog: name, why: e.message }, 'JIT failed, falling back to the interpreter');
        }
      }
      btf?.get(); // prog->aux->btf: the program keeps its BTF alive (put when the program is freed)
      k.registerProg(prog);
      return k.fds.install({ kind: 'prog', obj: prog });
    } catch (e) {
      for (const m of usedMaps) m.put();
      if (funcRegion !== undefined) k.mem.unmap(funcRegion);
      if (dev !== null) k.offload.bpf_prog_dev_bound_destroy(dev);
      attr.log_buf = log.text();
      throw e;
    }
  }

  progTestRun(attr: TestRunAttr): TestRunResult {
    const prog = this.k.progOf(attr.prog_fd, 'BPF_PROG_TEST_RUN');
    if (prog.offloadRequested) throw new BpfError('EAGAIN', 'BPF_PROG_TEST_RUN: an offloaded program runs on its device; use progTestRunAsync');
    const runner = testRunners.get(prog.type);
    if (runner === undefined) throw new BpfError('ENOTSUPP', `BPF_PROG_TEST_RUN: not supported for program type ${prog.type}`);
    return runner(this.k, prog, attr);
  }

  /**
   * BPF_PROG_TEST_RUN that may wait for a device: an offloaded program runs on the NIC when its driver
   * can (the real kernel has no test_run for offloaded programs: ENOTSUPP); host programs as progTestRun.
   */
  async progTestRunAsync(attr: TestRunAttr): Promise<TestRunResult> {
    const prog = this.k.progOf(attr.prog_fd, 'BPF_PROG_TEST_RUN');
    if (!prog.offloadRequested) return this.progTestRun(attr);
    prog.get();
    try {
      return await this.k.offload.bpf_prog_offload_test_run(prog, attr);
    } finally {
      prog.put();
    }
  }

  /**
   * BPF_PROG_BIND_MAP: add a map to the program's used maps, so it lives as long as the program and
   * shows in its map_ids (libbpf binds .rodata this way for bpftool's metadata). Binding a map the
   * program already uses changes nothing.
   */
  progBindMap(attr: { prog_fd: number; map_fd: number; flags?: number }): void {
    if ((attr.flags ?? 0) !== 0) throw new BpfError('EINVAL', `BPF_PROG_BIND_MAP: flags 0x${(attr.flags ?? 0).toString(16)}`);
    const map = this.k.mapOf(attr.map_fd, 'BPF_PROG_BIND_MAP');
    const prog = this.k.progOf(attr.prog_fd, 'BPF_PROG_BIND_MAP');
    if (prog.usedMaps.includes(map)) return;
    map.get();
    prog.usedMaps.push(map);
  }

  // ------------------------------------------------------------------------------------- objects

  objPin(fd: number, pathname: string): void {
    const f = this.k.fds.get(fd);
    if (f === undefined) throw new BpfError('EBADF', `BPF_OBJ_PIN: bad file descriptor ${fd}`);
    if (f.kind === 'btf') throw new BpfError('EINVAL', 'BPF_OBJ_PIN: BTF objects cannot be pinned');
    f.obj.get();
    try {
      this.k.bpffs.pin(pathname, f.obj, f.kind);
    } catch (e) {
      f.obj.put();
      throw e;
    }
  }

  objGet(pathname: string): number {
    const { obj, type } = this.k.bpffs.get(pathname);
    if (type === 'link') throw new BpfError('EINVAL', 'BPF_OBJ_GET: links are not supported');
    obj.get();
    return this.k.fds.install({ kind: type, obj: obj as BpfProg | BpfMap });
  }

  progGetNextId(start: number): number {
    const id = this.k.progs.nextAfter(start);
    if (id === undefined) throw new BpfError('ENOENT', 'BPF_PROG_GET_NEXT_ID: no more programs');
    return id;
  }

  mapGetNextId(start: number): number {
    const id = this.k.maps.nextAfter(start);
    if (id === undefined) throw new BpfError('ENOENT', 'BPF_MAP_GET_NEXT_ID: no more maps');
    return id;
  }

  btfGetNextId(start: number): number {
    const id = this.k.btfs.nextAfter(start);
    if (id === undefined) throw new BpfError('ENOENT', 'BPF_BTF_GET_NEXT_ID: no more BTF objects');
    return id;
  }

  progGetFdById(id: number): number {
    const prog = this.k.progs.get(id);
    if (prog === undefined) throw new BpfError('ENOENT', `BPF_PROG_GET_FD_BY_ID: no program with id ${id}`);
    prog.get();
    return this.k.fds.install({ kind: 'prog', obj: prog });
  }

  mapGetFdById(id: number): number {
    const map = this.k.maps.get(id);
    if (map === undefined) throw new BpfError('ENOENT', `BPF_MAP_GET_FD_BY_ID: no map with id ${id}`);
    map.get();
    return this.k.fds.install({ kind: 'map', obj: map });
  }

  /** BPF_BTF_LOAD. The emulated kernel keeps the parsed BTF (libbpf has already sanitised it). */
  btfLoad(data: Btf): number {
    const btf = new BtfObject(data);
    btf.id = this.k.btfs.alloc(btf);
    btf.onFree = (b) => this.k.btfs.remove(b.id);
    return this.k.fds.install({ kind: 'btf', obj: btf });
  }

  progInfo(fd: number): BpfProgInfo {
    const p = this.k.progOf(fd, 'BPF_OBJ_GET_INFO_BY_FD');
    // bpf_prog_offload_info_fill(): a device program reports its device and the device's image.
    const dev = p.offloadRequested ? this.k.offload.bpf_prog_offload_info_fill(p) : undefined;
    return {
      type: p.type, id: p.id, tag: p.tag,
      jited_prog_len: dev?.jited_prog_insns.length ?? p.jited?.source.length ?? 0,
      ...(dev !== undefined ? { jited_prog_insns: dev.jited_prog_insns } : {}),
      xlated_prog_len: p.xlated.length * 8,
      load_time: p.loadTime, created_by_uid: p.uid,
      map_ids: p.usedMaps.map((m) => m.id), name: p.name, ifindex: dev?.ifindex ?? p.offload?.netdev.ifindex ?? 0,
      // bpf_prog_get_info_by_fd() stops after bpf_prog_offload_info_fill(): no BTF, func or line info.
      gpl_compatible: p.gplCompatible, netns_dev: dev?.netns_dev ?? 0n, netns_ino: dev?.netns_ino ?? 0n, btf_id: dev !== undefined ? 0 : p.btfId,
      func_info: dev !== undefined ? [] : p.funcInfo, line_info: dev !== undefined ? [] : p.lineInfo,
      run_time_ns: BigInt(p.runTimeNs), run_cnt: BigInt(p.runCnt), verified_insns: p.verifiedInsns,
      memlock: p.memlock,
    };
  }

  mapInfo(fd: number): BpfMapInfo {
    const m = this.k.mapOf(fd, 'BPF_OBJ_GET_INFO_BY_FD');
    const dev = bpf_map_is_offloaded(m) ? this.k.offload.bpf_map_offload_info_fill(m) : { ifindex: 0, netns_dev: 0n, netns_ino: 0n };
    return {
      type: m.map_type, id: m.id, key_size: m.key_size, value_size: m.value_size, max_entries: m.max_entries,
      map_flags: m.map_flags, name: m.name, ifindex: dev.ifindex, netns_dev: dev.netns_dev, netns_ino: dev.netns_ino,
      btf_id: m.btf?.id ?? 0, btf_key_type_id: m.btf_key_type_id, btf_value_type_id: m.btf_value_type_id,
      memlock: mapMemoryUsage(m), frozen: m.frozen,
    };
  }

  /** The program's xlated instructions (bpf_prog_info.xlated_prog_insns). */
  progXlated(fd: number): readonly Insn[] {
    return this.k.progOf(fd, 'BPF_OBJ_GET_INFO_BY_FD').xlated;
  }

  close(fd: number): void {
    this.k.fds.close(fd);
  }
}
