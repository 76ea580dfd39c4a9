// tools/bpf/bpftool/map.c: `bpftool map` — show/list, dump, lookup, update, delete, getnext, pin,
// create, freeze, and the queue/stack spellings (peek/push/enqueue/pop/dequeue). Keys and values are
// printed as hex bytes, or through the map's BTF where it has one (a pretty JSON writer on stdout in
// plain mode, the "formatted" member with -j). Per-CPU maps print one value per possible CPU, each
// value 8-byte aligned, as the kernel returns them. A map created on a device (`dev NAME`, map_ifindex)
// lives there: its element commands wait for the device through the syscall's asynchronous path, its
// show has the device, and after the device is gone every command fails with ENODEV.

import { strerror } from '../../bpf/errno.js';
import { BPF_MAP_TYPE, MAP_TYPE_NAMES } from '../../bpf/prog-types.js';
import type { Btf } from '../../bpf/btf.js';
import {
  BPF_ANY, BPF_EXIST, BPF_MAP_TYPE_LRU_PERCPU_HASH, BPF_MAP_TYPE_PERCPU_ARRAY, BPF_MAP_TYPE_PERCPU_HASH,
  BPF_MAP_TYPE_PROG_ARRAY, BPF_NOEXIST, type BpfMap,
} from '../../kernel/maps/map.js';
import type { BpfMapInfo } from '../../kernel/syscall.js';
import { btfDumperType, type BtfDumper } from './btf_dumper.js';
import {
  Args, badArg, BpfObjType, doPinAny, doPinFd, errnoOf, errstr, fprintHex, isPrefix, mapParseFd, mapParseFdAndInfo,
  mapParseFds, ifNameToIndex, parseU32Arg, pinnedPaths, printDevJson, printDevPlain, printHexDataJson, progParseFd, strtoul,
  type Bpftool,
} from './common.js';
import { JsonWriter } from './json_writer.js';
import { progTypeName, type Cmd } from './prog.js';
import { errnoNumber } from '../../bpf/errno.js';

const BPF_MAP_TYPE_ARRAY_OF_MAPS = BPF_MAP_TYPE.ARRAY_OF_MAPS;
const BPF_MAP_TYPE_HASH_OF_MAPS = BPF_MAP_TYPE.HASH_OF_MAPS;
const BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE = BPF_MAP_TYPE.PERCPU_CGROUP_STORAGE;
const BPF_MAP_TYPE_REUSEPORT_SOCKARRAY = BPF_MAP_TYPE.REUSEPORT_SOCKARRAY;
/** libbpf v1.1's map type names (libbpf_bpf_map_type_str) end at BPF_MAP_TYPE_USER_RINGBUF. */
const LIBBPF_MAP_TYPE_MAX = BPF_MAP_TYPE.USER_RINGBUF;

export function mapTypeName(type: number): string | undefined {
  return type <= LIBBPF_MAP_TYPE_MAX ? MAP_TYPE_NAMES[type]?.toLowerCase() : undefined;
}

const mapIsPerCpu = (t: number): boolean =>
  t === BPF_MAP_TYPE_PERCPU_HASH || t === BPF_MAP_TYPE_PERCPU_ARRAY || t === BPF_MAP_TYPE_LRU_PERCPU_HASH || t === BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE;
const mapIsMapOfMaps = (t: number): boolean => t === BPF_MAP_TYPE_ARRAY_OF_MAPS || t === BPF_MAP_TYPE_HASH_OF_MAPS;
const mapIsMapOfProgs = (t: number): boolean => t === BPF_MAP_TYPE_PROG_ARRAY;
const roundUp8 = (n: number): number => (n + 7) & ~7;

/** alloc_value(): a per-CPU value is one 8-byte aligned slot per possible CPU. */
function allocValueSize(b: Bpftool, info: BpfMapInfo): number {
  return mapIsPerCpu(info.type) ? roundUp8(info.value_size) * b.possibleCpus : info.value_size;
}

/**
 * bpftool reuses one struct bpf_map_info across the maps it walks, and this kernel (6.18) reads the
 * struct in before filling it (for info.hash), writing the BTF fields only for maps that have BTF.
 * So a map without BTF listed after one with BTF shows the other's btf_id, as the real pair prints it.
 */
class ReusedMapInfo {
  private btf = { btf_id: 0, btf_key_type_id: 0, btf_value_type_id: 0 };

  /** bpf_map_get_info_by_fd(); throws the syscall's error (ENODEV for an orphaned offloaded map). */
  get(b: Bpftool, fd: number): BpfMapInfo {
    const info = b.sys.mapInfo(fd);
    if (info.btf_id !== 0) {
      this.btf = { btf_id: info.btf_id, btf_key_type_id: info.btf_key_type_id, btf_value_type_id: info.btf_value_type_id };
      return info;
    }
    return { ...info, ...this.btf };
  }
}

/**
 * The fdinfo owner of a program array (owner_prog_type, owner_jited): the first program that used
 * it. The kernel records it when such a program is verified; bpftool sees it from then on, so once
 * seen here it is remembered for the map's life.
 */
const owners = new WeakMap<BpfMap, { type: number; jited: boolean }>();

function progArrayOwner(b: Bpftool, id: number): { type: number; jited: boolean } | undefined {
  const map = b.kernel.maps.get(id);
  if (map === undefined) return undefined;
  let owner = owners.get(map);
  if (owner !== undefined) return owner;
  for (let pid = b.kernel.progs.nextAfter(0); pid !== undefined; pid = b.kernel.progs.nextAfter(pid)) {
    const p = b.kernel.progs.get(pid)!;
    if (p.usedMaps.includes(map)) {
      owner = { type: p.type, jited: p.jited !== undefined };
      owners.set(map, owner);
      return owner;
    }
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// show

function showMapHeaderJson(jw: JsonWriter, info: BpfMapInfo): void {
  jw.numberField('id', info.id);
  const type = mapTypeName(info.type);
  if (type !== undefined) jw.stringField('type', type);
  else jw.numberField('type', info.type);
  if (info.name !== '') jw.stringField('name', info.name);
  jw.name('flags');
  jw.printf(String(info.map_flags | 0));
}

function showMapHeaderPlain(b: Bpftool, info: BpfMapInfo): void {
  const type = mapTypeName(info.type);
  let s = `${info.id}: ${type !== undefined ? `${type}  ` : `type ${info.type}  `}`;
  if (info.name !== '') s += `name ${info.name}  `;
  s += `flags 0x${(info.map_flags >>> 0).toString(16)}`;
  b.printf(s);
  printDevPlain(b, info.ifindex, info.netns_dev, info.netns_ino);
  b.printf('\n');
}

function showMapJson(b: Bpftool, info: BpfMapInfo, pins: Map<number, string[]> | undefined): void {
  const jw = b.jw;
  jw.startObject();
  showMapHeaderJson(jw, info);
  printDevJson(b, info.ifindex, info.netns_dev, info.netns_ino);
  jw.numberField('bytes_key', info.key_size);
  jw.numberField('bytes_value', info.value_size);
  jw.numberField('max_entries', info.max_entries);
  jw.numberField('bytes_memlock', info.memlock);
  if (info.type === BPF_MAP_TYPE_PROG_ARRAY) {
    const owner = progArrayOwner(b, info.id);
    if (owner !== undefined) {
      const t = progTypeName(owner.type);
      if (t !== undefined) jw.stringField('owner_prog_type', t);
      else jw.numberField('owner_prog_type', owner.type);
      jw.boolField('owner_jited', owner.jited);
    }
  }
  jw.numberField('frozen', info.frozen ? 1 : 0);
  if (info.btf_id !== 0) jw.numberField('btf_id', info.btf_id);
  if (pins !== undefined) {
    jw.name('pinned');
    jw.startArray();
    for (const p of pins.get(info.id) ?? []) jw.string(p);
    jw.endArray();
  }
  jw.endObject();
}

function showMapPlain(b: Bpftool, info: BpfMapInfo, pins: Map<number, string[]> | undefined): void {
  showMapHeaderPlain(b, info);
  let s = `\tkey ${info.key_size}B  value ${info.value_size}B  max_entries ${info.max_entries}  memlock ${info.memlock}B`;
  if (info.type === BPF_MAP_TYPE_PROG_ARRAY) {
    const owner = progArrayOwner(b, info.id);
    if (owner !== undefined) {
      const t = progTypeName(owner.type);
      s += `\n\towner_prog_type ${t ?? owner.type}  owner${owner.jited ? '' : ' not'} jited`;
    }
  }
  for (const p of pins?.get(info.id) ?? []) s += `\n\tpinned ${p}`;
  if (info.btf_id !== 0 || info.frozen) s += '\n\t';
  if (info.btf_id !== 0) s += `btf_id ${info.btf_id}`;
  if (info.frozen) s += `${info.btf_id !== 0 ? '  ' : ''}frozen`;
  b.printf(`${s}\n`);
}

function doShow(b: Bpftool, a: Args): number {
  const pins = b.showPinned ? pinnedPaths(b, BpfObjType.MAP) : undefined;
  const reuse = new ReusedMapInfo();
  /** show_map_close_*() after bpf_map_get_info_by_fd(); the failed call's -errno, or 0. */
  const show = (fd: number): number => {
    let info: BpfMapInfo;
    try {
      info = reuse.get(b, fd);
    } catch (e) {
      b.p_err(`can't get map info: ${errstr(e)}`);
      return fail(e);
    }
    if (b.jsonOutput) showMapJson(b, info, pins);
    else showMapPlain(b, info, pins);
    return 0;
  };
  if (a.count === 2) {
    // do_show_subset(): the first map without info ends the list with libbpf's -errno.
    const fds = mapParseFds(b, a);
    if (fds === undefined || fds.length === 0) return -1;
    if (b.jsonOutput && fds.length > 1) b.jw.startArray();
    let err = 0;
    let i = 0;
    for (; i < fds.length && err === 0; i++) {
      err = show(fds[i]!);
      b.close(fds[i]!);
    }
    for (; i < fds.length; i++) b.close(fds[i]!);
    if (b.jsonOutput && fds.length > 1) b.jw.endArray();
    return err;
  }
  if (a.count !== 0) return badArg(b, a);
  if (b.jsonOutput) b.jw.startArray();
  let id = 0;
  let err = 0;
  for (;;) {
    try {
      id = b.sys.mapGetNextId(id);
    } catch (e) {
      if (errnoOf(e) !== 'ENOENT') {
        b.p_err(`can't get next map: ${errstr(e)}`);
        err = -1;
      }
      break;
    }
    let fd: number;
    try {
      fd = b.own(b.sys.mapGetFdById(id));
    } catch (e) {
      if (errnoOf(e) === 'ENOENT') continue;
      b.p_err(`can't get map by id (${id}): ${errstr(e)}`);
      err = -1;
      break;
    }
    const r = show(fd);
    b.close(fd);
    if (r !== 0) {
      err = -1;
      break;
    }
  }
  if (b.jsonOutput) b.jw.endArray();
  return err;
}

// ---------------------------------------------------------------------------------------------
// entries

/** The map's BTF when it has a value type (get_map_kv_btf), as btf__load_from_kernel_by_id. */
function mapKvBtf(b: Bpftool, info: BpfMapInfo): Btf | undefined | null {
  if (info.btf_value_type_id === 0) return undefined;
  return b.kernel.btfs.get(info.btf_id)?.btf ?? null;
}

/** do_dump_btf(): {"key": ..., "value": ...} through BTF. */
function doDumpBtf(b: Bpftool, d: BtfDumper, info: BpfMapInfo, key: Uint8Array, value: Uint8Array): number {
  let ret = 0;
  d.jw.startObject();
  if (info.btf_key_type_id !== 0) {
    d.jw.name('key');
    ret = btfDumperType(d, info.btf_key_type_id, key);
    if (ret) {
      d.jw.endObject();
      return ret;
    }
  }
  if (!mapIsPerCpu(info.type)) {
    d.jw.name('value');
    ret = btfDumperType(d, info.btf_value_type_id, value);
  } else {
    d.jw.name('values');
    d.jw.startArray();
    const step = roundUp8(info.value_size);
    for (let i = 0; i < b.possibleCpus; i++) {
      d.jw.startObject();
      d.jw.numberField('cpu', i);
      d.jw.name('value');
      ret = btfDumperType(d, info.btf_value_type_id, value, i * step);
      d.jw.endObject();
      if (ret) break;
    }
    d.jw.endArray();
  }
  d.jw.endObject();
  return ret;
}

function printEntryJson(b: Bpftool, info: BpfMapInfo, key: Uint8Array, value: Uint8Array, btf: Btf | undefined): void {
  const jw = b.jw;
  jw.startObject();
  jw.name('key');
  printHexDataJson(jw, key, info.key_size);
  if (!mapIsPerCpu(info.type)) {
    jw.name('value');
    printHexDataJson(jw, value, info.value_size);
  } else {
    const step = roundUp8(info.value_size);
    jw.name('values');
    jw.startArray();
    for (let i = 0; i < b.possibleCpus; i++) {
      jw.startObject();
      jw.numberField('cpu', i);
      jw.name('value');
      printHexDataJson(jw, value.subarray(i * step), info.value_size);
      jw.endObject();
    }
    jw.endArray();
  }
  if (btf !== undefined) {
    jw.name('formatted');
    doDumpBtf(b, { btf, jw, isPlainText: false }, info, key, value);
  }
  jw.endObject();
}

function printEntryPlain(b: Bpftool, info: BpfMapInfo, key: Uint8Array, value: Uint8Array): void {
  let s = '';
  if (!mapIsPerCpu(info.type)) {
    const breakNames = info.key_size > 16 || info.value_size > 16;
    const singleLine = info.key_size + info.value_size <= 24 && !breakNames;
    if (info.key_size) s += `key:${breakNames ? '\n' : ' '}${fprintHex(key, info.key_size, ' ')}${singleLine ? '  ' : '\n'}`;
    if (info.value_size) s += `value:${breakNames ? '\n' : ' '}${fprintHex(value, info.value_size, ' ')}`;
    s += '\n';
  } else {
    const step = roundUp8(info.value_size);
    if (info.key_size) s += `key:\n${fprintHex(key, info.key_size, ' ')}\n`;
    if (info.value_size) {
      for (let i = 0; i < b.possibleCpus; i++) {
        s += `value (CPU ${String(i).padStart(2, '0')}):${info.value_size > 16 ? '\n' : ' '}${fprintHex(value.subarray(i * step), info.value_size, ' ')}\n`;
      }
    }
  }
  b.printf(s);
}

/** print_entry_error(): a key whose value could not be read. */
function printEntryError(b: Bpftool, info: BpfMapInfo, key: Uint8Array, errno: ReturnType<typeof errnoOf>): void {
  // An empty slot of a program array or a map of maps is no entry, not an error.
  if ((mapIsMapOfMaps(info.type) || mapIsMapOfProgs(info.type)) && errno === 'ENOENT') return;
  if (b.jsonOutput) {
    const jw = b.jw;
    jw.startObject();
    jw.name('key');
    printHexDataJson(jw, key, info.key_size);
    jw.name('value');
    jw.startObject();
    jw.stringField('error', strerror(errno));
    jw.endObject();
    jw.endObject();
    return;
  }
  const msg = errno === 'ENOENT' ? '<no entry>' : errno === 'ENOSPC' && info.type === BPF_MAP_TYPE_REUSEPORT_SOCKARRAY ? '<cannot read>' : strerror(errno);
  const breakNames = info.key_size > 16 || msg.length > 16;
  const singleLine = info.key_size + msg.length <= 24 && !breakNames;
  b.printf(`key:${breakNames ? '\n' : ' '}${fprintHex(key, info.key_size, ' ')}${singleLine ? '  ' : '\n'}value:${breakNames ? '\n' : ' '}${msg}\n`);
}

/**
 * BPF_MAP_LOOKUP_ELEM: value_size bytes, all CPUs' for per-CPU maps. An offloaded map's element is on
 * its device, so the call waits for the device's answer, as bpftool sleeps in bpf() for it.
 */
function lookup(b: Bpftool, fd: number, key: Uint8Array | null): Promise<Uint8Array> {
  return b.sys.mapLookupAsync({ map_fd: fd, key });
}

/** BPF_MAP_GET_NEXT_KEY (a null key asks for the first one). */
function getNextKey(b: Bpftool, fd: number, key: Uint8Array | null): Promise<Uint8Array> {
  return b.sys.mapGetNextKeyAsync({ map_fd: fd, key });
}

async function dumpMapElem(b: Bpftool, fd: number, key: Uint8Array, info: BpfMapInfo, btf: Btf | undefined, btfWriter: JsonWriter | undefined): Promise<boolean> {
  let value: Uint8Array;
  try {
    value = await lookup(b, fd, key);
  } catch (e) {
    printEntryError(b, info, key, errnoOf(e));
    return false;
  }
  if (b.jsonOutput) printEntryJson(b, info, key, value, btf);
  else if (btf !== undefined && btfWriter !== undefined) doDumpBtf(b, { btf, jw: btfWriter, isPlainText: true }, info, key, value);
  else printEntryPlain(b, info, key, value);
  return true;
}

async function mapDump(b: Bpftool, fd: number, info: BpfMapInfo, wtr: JsonWriter | undefined, showHeader: boolean): Promise<number> {
  let btf: Btf | undefined;
  if (wtr !== undefined) {
    const r = mapKvBtf(b, info);
    if (r === null) {
      b.p_err('failed to get btf');
      return -1;
    }
    btf = r;
    if (showHeader) {
      wtr.startObject();
      showMapHeaderJson(wtr, info);
      wtr.name('elements');
    }
    wtr.startArray();
  } else if (showHeader) {
    showMapHeaderPlain(b, info);
  }
  if (info.type === BPF_MAP_TYPE_REUSEPORT_SOCKARRAY && info.value_size !== 8) {
    b.p_info(`Warning: cannot read values from ${mapTypeName(info.type)} map with value_size != 8`);
  }
  let n = 0;
  let prev: Uint8Array | null = null;
  let err = 0;
  for (;;) {
    let key: Uint8Array;
    try {
      key = await getNextKey(b, fd, prev);
    } catch (e) {
      if (errnoOf(e) !== 'ENOENT') err = -errnoNumber(errnoOf(e));
      break;
    }
    if (await dumpMapElem(b, fd, key, info, btf, wtr)) n++;
    prev = key;
  }
  if (wtr !== undefined) {
    wtr.endArray();
    if (showHeader) wtr.endObject();
  } else {
    b.printf(`Found ${n} element${n !== 1 ? 's' : ''}\n`);
  }
  return err;
}

/** maps_have_btf(), with its own reused bpf_map_info. */
function mapsHaveBtf(b: Bpftool, fds: readonly number[]): -1 | 0 | 1 {
  const reuse = new ReusedMapInfo();
  for (const fd of fds) {
    try {
      if (reuse.get(b, fd).btf_id === 0) return 0;
    } catch (e) {
      b.p_err(`can't get map info: ${errstr(e)}`);
      return -1;
    }
  }
  return 1;
}

async function doDump(b: Bpftool, a: Args): Promise<number> {
  if (a.count !== 2) b.usage();
  const fds = mapParseFds(b, a);
  if (fds === undefined || fds.length === 0) return -1;
  let wtr: JsonWriter | undefined;
  let btfWriter: JsonWriter | undefined;
  const plainBtf = b.jsonOutput ? 0 : mapsHaveBtf(b, fds);
  if (plainBtf < 0) {
    for (const fd of fds) b.close(fd);
    return -1;
  }
  if (b.jsonOutput) {
    wtr = b.jw;
  } else if (plainBtf === 1) {
    // maps_have_btf(): plain output goes through a pretty JSON writer of its own.
    btfWriter = new JsonWriter(b.out);
    btfWriter.setPretty(true);
    wtr = btfWriter;
  }
  const reuse = new ReusedMapInfo();
  let err = -1;
  if (wtr !== undefined && fds.length > 1) wtr.startArray();
  let i = 0;
  for (; i < fds.length; i++) {
    let info: BpfMapInfo;
    try {
      info = reuse.get(b, fds[i]!);
    } catch (e) {
      // bpftool breaks out here with err as the previous map left it.
      b.p_err(`can't get map info: ${errstr(e)}`);
      break;
    }
    err = await mapDump(b, fds[i]!, info, wtr, fds.length > 1);
    if (wtr === undefined && i !== fds.length - 1) b.printf('\n');
    b.close(fds[i]!);
    if (err) {
      i++;
      break;
    }
  }
  for (; i < fds.length; i++) b.close(fds[i]!);
  if (wtr !== undefined && fds.length > 1) wtr.endArray();
  btfWriter?.destroy();
  return err;
}

/** parse_bytes(): `[hex] B0 B1 ...`, exactly n of them. */
function parseBytes(b: Bpftool, a: Args, name: string, n: number): Uint8Array | undefined {
  let base: 0 | 16 = 0;
  if (isPrefix(a.cur, 'hex')) {
    base = 16;
    a.next();
  }
  const out = new Uint8Array(n);
  let i = 0;
  while (i < n && a.cur !== undefined) {
    const r = strtoul(a.cur, base);
    if (!r.ok) {
      b.p_err(`error parsing byte: ${a.cur}`);
      return undefined;
    }
    out[i] = Number(r.value & 0xffn);
    i++;
    a.next();
  }
  if (i !== n) {
    b.p_err(`${name} expected ${n} bytes got ${i}`);
    return undefined;
  }
  return out;
}

interface Elem {
  key: Uint8Array | null;
  value: Uint8Array | null;
  flags: number;
  /** The prog or map fd a VALUE named, closed after the update. */
  valueFd: number | undefined;
}

/**
 * parse_elem(): `key DATA`, `value VALUE` and an update flag, in any order. `wantKey`/`wantValue` say
 * which the command takes, each once; keySize/valueSize are the sizes the command passes (0 when it
 * takes none, which makes a second one "unnecessary" rather than a "duplicate").
 */
function parseElem(b: Bpftool, a: Args, info: BpfMapInfo, wantKey: boolean, wantValue: boolean, wantFlags: boolean, e: Elem, keySize = info.key_size, valueSize = wantValue ? info.value_size : 0): number {
  for (;;) {
    const w = a.cur;
    if (w === undefined) {
      if (!wantKey && !wantValue) return 0;
      b.p_err(`did not find ${wantKey ? 'key' : 'value'}`);
      return -1;
    }
    if (isPrefix(w, 'key')) {
      if (!wantKey) {
        b.p_err(keySize ? 'duplicate key' : 'unnecessary key');
        return -1;
      }
      a.next();
      const key = parseBytes(b, a, 'key', info.key_size);
      if (key === undefined) return -1;
      e.key = key;
      wantKey = false;
    } else if (isPrefix(w, 'value')) {
      if (!wantValue) {
        b.p_err(valueSize ? 'duplicate value' : 'unnecessary value');
        return -1;
      }
      a.next();
      const value = new Uint8Array(allocValueSize(b, info));
      if (mapIsMapOfMaps(info.type) || mapIsMapOfProgs(info.type)) {
        const progs = mapIsMapOfProgs(info.type);
        if (info.value_size !== 4) {
          b.p_err(`value smaller than 4B for ${progs ? 'map of progs' : 'map in map'}?`);
          return -1;
        }
        if (a.cur === undefined || a.at(1) === undefined) {
          b.p_err(`not enough value arguments for ${progs ? 'map of progs' : 'map in map'}`);
          return -1;
        }
        if (progs && isPrefix(a.cur, 'id')) {
          b.p_info('Warning: updating program array via MAP_ID, make sure this map is kept open\n         by some process or pinned otherwise update will be lost');
        }
        // The handle is parsed as if it were the whole command line: two words.
        const sub = new Args([a.cur, a.at(1)!], b);
        const fd = progs ? progParseFd(b, sub) : mapParseFd(b, sub);
        if (fd < 0) return -1;
        a.next();
        a.next();
        new DataView(value.buffer).setUint32(0, fd, true);
        e.valueFd = fd;
      } else {
        const v = parseBytes(b, a, 'value', info.value_size);
        if (v === undefined) return -1;
        // fill_per_cpu_value(): every CPU gets the value.
        const step = mapIsPerCpu(info.type) ? roundUp8(info.value_size) : 0;
        for (let i = 0; i < (step ? b.possibleCpus : 1); i++) value.set(v, i * step);
      }
      e.value = value;
      wantValue = false;
    } else if (isPrefix(w, 'any') || isPrefix(w, 'noexist') || isPrefix(w, 'exist')) {
      if (!wantFlags) {
        b.p_err(`flags specified multiple times: ${w}`);
        return -1;
      }
      e.flags = isPrefix(w, 'any') ? BPF_ANY : isPrefix(w, 'noexist') ? BPF_NOEXIST : BPF_EXIST;
      wantFlags = false;
      a.next();
    } else {
      b.p_err(`expected key or value, got: ${w}`);
      return -1;
    }
  }
}

/** print_key_value(): a looked-up element, through BTF when the map has it. */
function printKeyValue(b: Bpftool, info: BpfMapInfo, key: Uint8Array, value: Uint8Array): void {
  const btf = mapKvBtf(b, info);
  if (btf === null) {
    b.p_err('failed to get btf');
    return;
  }
  if (b.jsonOutput) {
    printEntryJson(b, info, key, value, btf);
  } else if (btf !== undefined) {
    const w = new JsonWriter(b.out);
    w.setPretty(true);
    doDumpBtf(b, { btf, jw: w, isPlainText: true }, info, key, value);
    w.destroy();
  } else {
    printEntryPlain(b, info, key, value);
  }
}

/** A syscall's failure as bpftool's return value: -errno. */
const fail = (e: unknown): number => -errnoNumber(errnoOf(e));

async function doUpdate(b: Bpftool, a: Args): Promise<number> {
  if (a.count < 2) b.usage();
  const m = mapParseFdAndInfo(b, a);
  if (m === undefined) return -1;
  const e: Elem = { key: info0(m.info), value: null, flags: BPF_ANY, valueFd: undefined };
  let err = parseElem(b, a, m.info, m.info.key_size !== 0, m.info.value_size !== 0, true, e);
  if (!err) {
    try {
      await b.sys.mapUpdateAsync({ map_fd: m.fd, key: e.key, value: e.value ?? new Uint8Array(0), flags: e.flags });
    } catch (x) {
      b.p_err(`update failed: ${errstr(x)}`);
      err = fail(x);
    }
  }
  if (e.valueFd !== undefined) b.close(e.valueFd);
  b.close(m.fd);
  if (!err && b.jsonOutput) b.jw.null();
  return err;
}

/** A key_size of 0 (queues, stacks) passes a NULL key. */
function info0(info: BpfMapInfo): Uint8Array | null {
  return info.key_size === 0 ? null : new Uint8Array(info.key_size);
}

async function doLookup(b: Bpftool, a: Args): Promise<number> {
  if (a.count < 2) b.usage();
  const m = mapParseFdAndInfo(b, a);
  if (m === undefined) return -1;
  try {
    const e: Elem = { key: info0(m.info), value: null, flags: 0, valueFd: undefined };
    const err = parseElem(b, a, m.info, m.info.key_size !== 0, false, false, e);
    if (err) return err;
    const key = e.key ?? new Uint8Array(0);
    let value: Uint8Array;
    try {
      value = await lookup(b, m.fd, e.key);
    } catch (x) {
      if (errnoOf(x) === 'ENOENT') {
        if (b.jsonOutput) b.jw.null();
        else b.printf(`key:\n${fprintHex(key, m.info.key_size, ' ')}\n\nNot found\n`);
      } else {
        b.p_err(`lookup failed: ${errstr(x)}`);
      }
      return fail(x);
    }
    printKeyValue(b, m.info, key, value);
    return 0;
  } finally {
    b.close(m.fd);
  }
}

async function doGetnext(b: Bpftool, a: Args): Promise<number> {
  if (a.count < 2) b.usage();
  const m = mapParseFdAndInfo(b, a);
  if (m === undefined) return -1;
  try {
    let key: Uint8Array | null = null;
    if (a.count > 0) {
      const e: Elem = { key: null, value: null, flags: 0, valueFd: undefined };
      const err = parseElem(b, a, m.info, true, false, false, e);
      if (err) return err;
      key = e.key;
    }
    let next: Uint8Array;
    try {
      next = await getNextKey(b, m.fd, key);
    } catch (x) {
      b.p_err(`can't get next key: ${errstr(x)}`);
      return fail(x);
    }
    if (b.jsonOutput) {
      const jw = b.jw;
      jw.startObject();
      if (key !== null) {
        jw.name('key');
        printHexDataJson(jw, key, m.info.key_size);
      } else {
        jw.nullField('key');
      }
      jw.name('next_key');
      printHexDataJson(jw, next, m.info.key_size);
      jw.endObject();
    } else {
      const k = key !== null ? `key:\n${fprintHex(key, m.info.key_size, ' ')}\n` : 'key: None\n';
      b.printf(`${k}next key:\n${fprintHex(next, m.info.key_size, ' ')}\n`);
    }
    return 0;
  } finally {
    b.close(m.fd);
  }
}

async function doDelete(b: Bpftool, a: Args): Promise<number> {
  if (a.count < 2) b.usage();
  const m = mapParseFdAndInfo(b, a);
  if (m === undefined) return -1;
  let err: number;
  try {
    const e: Elem = { key: new Uint8Array(m.info.key_size), value: null, flags: 0, valueFd: undefined };
    err = parseElem(b, a, m.info, true, false, false, e);
    if (!err) {
      try {
        await b.sys.mapDeleteAsync({ map_fd: m.fd, key: e.key });
      } catch (x) {
        b.p_err(`delete failed: ${errstr(x)}`);
        err = fail(x);
      }
    }
  } finally {
    b.close(m.fd);
  }
  if (!err && b.jsonOutput) b.jw.null();
  return err;
}

function doPin(b: Bpftool, a: Args): number {
  const err = doPinAny(b, a, mapParseFd);
  if (!err && b.jsonOutput) b.jw.null();
  return err;
}

/** libbpf v1.1's map_type_from_str(): exact names only. */
function mapTypeFromStr(s: string): number {
  for (let t = 0; t <= LIBBPF_MAP_TYPE_MAX; t++) if (mapTypeName(t) === s) return t;
  return -1;
}

async function doCreate(b: Bpftool, a: Args): Promise<number> {
  if (!a.req(7)) return -1;
  const pinfile = a.get();
  let ifindex = 0;
  let type = 0;
  let keySize = 0;
  let valueSize = 0;
  let maxEntries = 0;
  let flags = 0;
  let name: string | undefined;
  let innerFd: number | undefined;
  const done = (err: number): number => {
    if (innerFd !== undefined) b.close(innerFd);
    return err;
  };
  while (a.count > 0) {
    if (!a.req(2)) return done(-1);
    if (isPrefix(a.cur, 'type')) {
      a.next();
      if (type !== 0) {
        b.p_err('map type already specified');
        return done(-1);
      }
      type = mapTypeFromStr(a.cur!);
      if (type < 0) {
        b.p_err(`unrecognized map type: ${a.cur!}`);
        return done(-1);
      }
      a.next();
    } else if (isPrefix(a.cur, 'name')) {
      a.next();
      name = a.get();
    } else if (isPrefix(a.cur, 'key')) {
      const v = parseU32Arg(b, a, keySize, 'key size');
      if (v === undefined) return done(-1);
      keySize = v;
    } else if (isPrefix(a.cur, 'value')) {
      const v = parseU32Arg(b, a, valueSize, 'value size');
      if (v === undefined) return done(-1);
      valueSize = v;
    } else if (isPrefix(a.cur, 'entries')) {
      const v = parseU32Arg(b, a, maxEntries, 'max entries');
      if (v === undefined) return done(-1);
      maxEntries = v;
    } else if (isPrefix(a.cur, 'flags')) {
      const v = parseU32Arg(b, a, flags, 'flags');
      if (v === undefined) return done(-1);
      flags = v;
    } else if (isPrefix(a.cur, 'dev')) {
      a.next();
      if (ifindex !== 0) {
        b.p_err('offload device already specified');
        return done(-1);
      }
      ifindex = ifNameToIndex(b, a.cur!);
      if (ifindex === 0) {
        b.p_err(`unrecognized netdevice '${a.cur!}': ${strerror('ENODEV')}`);
        return done(-1);
      }
      a.next();
    } else if (isPrefix(a.cur, 'inner_map')) {
      a.next();
      if (!a.req(2)) b.usage();
      const m = mapParseFdAndInfo(b, a);
      if (m === undefined) return -1;
      innerFd = m.fd;
    } else {
      b.p_err(`unknown arg ${a.cur!}`);
      return done(-1);
    }
  }
  if (name === undefined) {
    b.p_err('map name not specified');
    return done(-1);
  }
  if (innerFd !== undefined) {
    b.p_err('maps of maps (inner_map) are not supported by the emulated kernel');
    return done(-1);
  }
  let fd: number;
  try {
    // libbpf's bpf_map_create() keeps the first BPF_OBJ_NAME_LEN - 1 characters of the name.
    // With `dev` the map is created on the device (map_ifindex), which answers asynchronously.
    fd = b.own(await b.sys.mapCreateAsync({
      map_type: type, key_size: keySize, value_size: valueSize, max_entries: maxEntries, map_flags: flags, map_name: name.slice(0, 15),
      ...(ifindex !== 0 ? { map_ifindex: ifindex } : {}),
    }));
  } catch (e) {
    b.p_err(`map create failed: ${errstr(e)}`);
    return done(-1);
  }
  const err = doPinFd(b, fd, pinfile);
  b.close(fd);
  if (err) return done(err);
  if (b.jsonOutput) b.jw.null();
  return done(0);
}

async function doPopDequeue(b: Bpftool, a: Args): Promise<number> {
  if (a.count < 2) b.usage();
  const m = mapParseFdAndInfo(b, a);
  if (m === undefined) return -1;
  try {
    const key = info0(m.info);
    let value: Uint8Array;
    try {
      value = await b.sys.mapLookupAndDeleteAsync({ map_fd: m.fd, key });
    } catch (x) {
      if (errnoOf(x) === 'ENOENT') {
        if (b.jsonOutput) b.jw.null();
        else b.printf('Error: empty map\n');
      } else {
        b.p_err(`pop failed: ${errstr(x)}`);
      }
      return fail(x);
    }
    printKeyValue(b, m.info, key ?? new Uint8Array(0), value);
    return 0;
  } finally {
    b.close(m.fd);
  }
}

function doFreeze(b: Bpftool, a: Args): number {
  if (!a.req(2)) return -1;
  const fd = mapParseFd(b, a);
  if (fd < 0) return -1;
  if (a.count > 0) {
    b.close(fd);
    return badArg(b, a);
  }
  try {
    b.sys.mapFreeze(fd);
  } catch (e) {
    b.p_err(`failed to freeze map: ${errstr(e)}`);
    return fail(e);
  } finally {
    b.close(fd);
  }
  if (b.jsonOutput) b.jw.null();
  return 0;
}

function doEventPipe(b: Bpftool): number {
  b.p_err("'map event_pipe' (perf ring reading) is not supported by the emulated bpftool");
  return -1;
}

export const MAP_HELP = (bin: string, obj: string): string => `Usage: ${bin} ${obj} { show | list }   [MAP]
       ${bin} ${obj} create     FILE type TYPE key KEY_SIZE value VALUE_SIZE \\
                                  entries MAX_ENTRIES name NAME [flags FLAGS] \\
                                  [inner_map MAP] [dev NAME]
       ${bin} ${obj} dump       MAP
       ${bin} ${obj} update     MAP [key DATA] [value VALUE] [UPDATE_FLAGS]
       ${bin} ${obj} lookup     MAP [key DATA]
       ${bin} ${obj} getnext    MAP [key DATA]
       ${bin} ${obj} delete     MAP  key DATA
       ${bin} ${obj} pin        MAP  FILE
       ${bin} ${obj} event_pipe MAP [cpu N index M]
       ${bin} ${obj} peek       MAP
       ${bin} ${obj} push       MAP value VALUE
       ${bin} ${obj} pop        MAP
       ${bin} ${obj} enqueue    MAP value VALUE
       ${bin} ${obj} dequeue    MAP
       ${bin} ${obj} freeze     MAP
       ${bin} ${obj} help

       MAP := { id MAP_ID | pinned FILE | name MAP_NAME }
       DATA := { [hex] BYTES }
       PROG := { id PROG_ID | pinned FILE | tag PROG_TAG | name PROG_NAME }
       VALUE := { DATA | MAP | PROG }
       UPDATE_FLAGS := { any | exist | noexist }
       TYPE := { hash | array | prog_array | perf_event_array | percpu_hash |
                 percpu_array | stack_trace | cgroup_array | lru_hash |
                 lru_percpu_hash | lpm_trie | array_of_maps | hash_of_maps |
                 devmap | devmap_hash | sockmap | cpumap | xskmap | sockhash |
                 cgroup_storage | reuseport_sockarray | percpu_cgroup_storage |
                 queue | stack | sk_storage | struct_ops | ringbuf | inode_storage |
                 task_storage | bloom_filter | user_ringbuf }
       OPTIONS := { {-j|--json} [{-p|--pretty}] | {-d|--debug} | {-l|--legacy} |
                    {-f|--bpffs} | {-n|--nomount} }
`;

export const MAP_CMDS: readonly Cmd[] = [
  ['show', doShow],
  ['list', doShow],
  ['help', () => 0], // the caller prints the help, which knows the object word typed
  ['dump', doDump],
  ['update', doUpdate],
  ['lookup', doLookup],
  ['getnext', doGetnext],
  ['delete', doDelete],
  ['pin', doPin],
  ['event_pipe', doEventPipe],
  ['create', doCreate],
  ['peek', doLookup],
  ['push', doUpdate],
  ['enqueue', doUpdate],
  ['pop', doPopDequeue],
  ['dequeue', doPopDequeue],
  ['freeze', doFreeze],
];
