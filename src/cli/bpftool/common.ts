// tools/bpf/bpftool/common.c and main.h: the state of one bpftool process (main.c's globals), its
// output (p_err/p_info, the JSON writer), argument walking as the NEXT_ARG/REQ_ARGS macros do it,
// C's strtoul as bpftool parses numbers, and the object handles PROG/MAP := id | pinned | tag | name.
//
// A bpftool "process" runs against an emulated Kernel through the bpf() syscall layer (BpfSyscall),
// holding file descriptors as a real process does; everything it opens is closed when it exits.
// Messages and exit codes are bpftool v7.1's (the version this machine has, with libbpf v1.1):
// a command's return value is the exit status, so -1 exits 255 and -errno exits 256 - errno.

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { errnoNumber, isBpfError, strerror, type ErrnoName } from '../../bpf/errno.js';
import type { Kernel } from '../../kernel/kernel.js';
import type { BpfMapInfo, BpfProgInfo, BpfSyscall } from '../../kernel/syscall.js';
import { BPF_OBJ_NAME_LEN } from '../../kernel/maps/map.js';
import { INIT_NET_NS } from '../../kernel/offload.js';
import { nfp_port_from_netdev } from '../../drivers/nfp/probe.js';
import { btfFuncName } from './btf_dumper.js';
import { JsonWriter, type TextSink } from './json_writer.js';

/** exit(): unwinds a bpftool command to the process's end with this status. */
export class Exit extends Error {
  constructor(readonly status: number) {
    super(`exit(${status})`);
  }
}

/** The process killed by a signal (a crash of the real tool that the emulation reproduces). */
export class Killed extends Exit {}

/** A failed system call as a C program sees it: errno. */
export function errnoOf(e: unknown): ErrnoName {
  if (isBpfError(e)) return e.errno;
  throw e;
}

/** strerror(errno) of a failed call. */
export function errstr(e: unknown): string {
  return strerror(errnoOf(e));
}

/** Where bpftool's text goes: stdout is buffered as stdio buffers it, stderr is not. */
export interface BpftoolOutput {
  stdout: { write(s: string): unknown; isTTY?: boolean };
  stderr: { write(s: string): unknown };
}

export class Stdio implements TextSink {
  private buf: string[] = [];
  private size = 0;

  constructor(private readonly io: BpftoolOutput) {}

  /** printf() to stdout. */
  write(s: string): void {
    if (s.length === 0) return;
    this.buf.push(s);
    this.size += s.length;
    if (this.size > 1 << 16) this.flush();
  }

  /** fprintf(stderr, ...). A terminal's stdout is line-buffered, so it shows up in order. */
  err(s: string): void {
    if (this.io.stdout.isTTY === true) this.flush();
    this.io.stderr.write(s);
  }

  flush(): void {
    if (this.buf.length === 0) return;
    this.io.stdout.write(this.buf.join(''));
    this.buf = [];
    this.size = 0;
  }

  /**
   * The process dies (abort(), a signal): bpftool's stdout is line-buffered (setlinebuf() in main), so
   * the complete lines it printed are out and the rest of the last one is lost.
   */
  die(): void {
    const text = this.buf.join('');
    this.buf = [];
    this.size = 0;
    const end = text.lastIndexOf('\n');
    if (end >= 0) this.io.stdout.write(text.slice(0, end + 1));
  }
}

export enum BpfObjType {
  UNKNOWN = 0,
  PROG = 1,
  MAP = 2,
  LINK = 3,
}

const OBJ_TYPE_NAMES = ['unknown', 'prog', 'map', 'link'] as const;

/** main.c's globals and the process's view of the kernel. */
export class Bpftool {
  readonly binName = 'bpftool';
  jsonOutput = false;
  prettyOutput = false;
  /** -f: list the pins of each object. */
  showPinned = false;
  /** -n: never mount a bpffs to pin. */
  blockMount = false;
  /** -l: libbpf's legacy mode (quiets the strict-mode warning of failed loads). */
  legacyLibbpf = false;
  /** -m: relaxed map definitions (the object loader accepts them either way). */
  relaxedMaps = false;
  /** -d: libbpf's debug output and verifier logs of the loads. */
  verifierLogs = false;
  /** -L: load through a light skeleton (not emulated). */
  useLoader = false;
  json: JsonWriter | undefined;
  /** What usage() prints: the help of the command being parsed (main.c's last_do_help). */
  lastHelp: (b: Bpftool) => void = () => {};
  private readonly openFds = new Set<number>();

  constructor(
    readonly kernel: Kernel,
    readonly sys: BpfSyscall,
    readonly out: Stdio,
    readonly readStdin: () => Uint8Array = () => readFileSync(0),
    /** The process's working directory, for the host files it reads and writes (objects, packets, batches). */
    readonly cwd: string = process.cwd(),
  ) {}

  /** A host file path as the process opens it (messages keep the path as given). */
  hostPath(p: string): string {
    return resolve(this.cwd, p);
  }

  /** The JSON writer, which exists whenever jsonOutput is set. */
  get jw(): JsonWriter {
    if (this.json === undefined) throw new Error('BUG: JSON output without a writer');
    return this.json;
  }

  startJson(pretty: boolean): void {
    this.json ??= new JsonWriter(this.out);
    this.jsonOutput = true;
    this.json.setPretty(pretty);
  }

  printf(s: string): void {
    this.out.write(s);
  }

  /** p_err(): `Error: ...` on stderr, or {"error": ...} in the JSON output. */
  p_err(msg: string): void {
    if (this.jsonOutput) {
      const jw = this.jw;
      jw.startObject();
      jw.name('error');
      jw.enquote(msg);
      jw.endObject();
    } else {
      this.out.err(`Error: ${msg}\n`);
    }
  }

  /** p_info(): a note on stderr, silent in JSON mode. */
  p_info(msg: string): void {
    if (!this.jsonOutput) this.out.err(`${msg}\n`);
  }

  /** libbpf's own messages (its default print callback writes them to stderr in every mode). */
  libbpfWarn(msg: string): void {
    this.out.err(`libbpf: ${msg}\n`);
  }

  /** usage(): the current command's help, then exit(-1). */
  usage(): never {
    this.lastHelp(this);
    throw new Exit(255);
  }

  // ---- file descriptors: what the process holds, closed at exit as the kernel closes them

  /** Keep an fd returned by a syscall. */
  own(fd: number): number {
    this.openFds.add(fd);
    return fd;
  }

  close(fd: number): void {
    if (!this.openFds.delete(fd)) throw new Error(`BUG: bpftool closes fd ${fd} it does not hold`);
    this.sys.close(fd);
  }

  /** Process exit. */
  closeAll(): void {
    for (const fd of [...this.openFds]) this.close(fd);
  }

  /** get_fd_type() (readlink of /proc/self/fd/N: anon_inode:bpf-map, bpf-prog, bpf-link). */
  fdType(fd: number): BpfObjType {
    const f = this.kernel.fds.get(fd);
    if (f === undefined) return BpfObjType.UNKNOWN;
    return f.kind === 'prog' ? BpfObjType.PROG : f.kind === 'map' ? BpfObjType.MAP : BpfObjType.UNKNOWN;
  }

  /** get_possible_cpus(). */
  get possibleCpus(): number {
    return this.kernel.cpus.length;
  }
}

export function objTypeName(t: BpfObjType): string {
  return OBJ_TYPE_NAMES[t];
}

// ---------------------------------------------------------------------------------------------
// Arguments: a cursor over argv, as the C code moves argc/argv.

export class Args {
  private pos = 0;

  constructor(private readonly argv: readonly string[], private readonly b: Bpftool) {}

  /** argc. */
  get count(): number {
    return this.argv.length - this.pos;
  }

  /** *argv (undefined when none is left, as argv[argc] is NULL). */
  get cur(): string | undefined {
    return this.argv[this.pos];
  }

  at(i: number): string | undefined {
    return this.argv[this.pos + i];
  }

  /** argv[-1]: the word before the cursor. */
  get prev(): string {
    return this.argv[this.pos - 1] ?? '';
  }

  /** NEXT_ARG(): step over a word; running out is usage(). */
  next(): void {
    this.pos++;
    if (this.count < 0) this.b.usage();
  }

  /** GET_ARG(): the current word, stepping over it. */
  get(): string {
    const a = this.argv[this.pos] ?? '';
    this.next();
    return a;
  }

  /** REQ_ARGS(n). */
  req(n: number): boolean {
    if (this.count >= n) return true;
    this.b.p_err(`'${this.prev}' needs at least ${n} arguments, ${this.count} found`);
    return false;
  }

  /** The rest, for a sub-command (cmd_select passes argv + 1). */
  rest(): string[] {
    return this.argv.slice(this.pos);
  }
}

/** BAD_ARG(). */
export function badArg(b: Bpftool, a: Args): number {
  b.p_err(`what is '${a.cur ?? '(null)'}'?`);
  return -1;
}

/** is_prefix(): `pfx` abbreviates `str` (bpftool accepts any prefix of a keyword, even an empty one). */
export function isPrefix(pfx: string | undefined, str: string): boolean {
  return pfx !== undefined && str.startsWith(pfx);
}

/** detect_common_prefix(): refuse an abbreviation that fits several keywords. */
export function detectCommonPrefix(b: Bpftool, arg: string, ...refs: string[]): boolean {
  const hits = refs.filter((r) => isPrefix(arg, r));
  if (hits.length < 2) return false;
  b.p_err(`ambiguous prefix: '${arg}' could be '${hits.join("' or '")}'`);
  return true;
}

/**
 * strtoul(str, &end, base) as glibc parses it: leading blanks, a sign, 0x/0 prefixes for base 0, the
 * value modulo 2^64 (an overflow saturates). `ok` is bpftool's `!*endptr` check.
 */
export function strtoul(str: string, base: 0 | 10 | 16): { value: bigint; ok: boolean } {
  let i = 0;
  while (i < str.length && ' \t\n\v\f\r'.includes(str[i]!)) i++;
  let neg = false;
  if (str[i] === '+' || str[i] === '-') {
    neg = str[i] === '-';
    i++;
  }
  let b: number = base;
  const hexPfx = str[i] === '0' && (str[i + 1] === 'x' || str[i + 1] === 'X') && /[0-9a-fA-F]/.test(str[i + 2] ?? '');
  if ((b === 0 || b === 16) && hexPfx) {
    i += 2;
    b = 16;
  } else if (b === 0) {
    b = str[i] === '0' ? 8 : 10;
  }
  const start = i;
  let v = 0n;
  let overflow = false;
  for (; i < str.length; i++) {
    const d = parseInt(str[i]!, 36);
    if (Number.isNaN(d) || d >= b) break;
    v = v * BigInt(b) + BigInt(d);
    if (v > 0xffff_ffff_ffff_ffffn) overflow = true;
  }
  if (i === start) return { value: 0n, ok: str.length === 0 }; // no digits: endptr = str
  if (overflow) v = 0xffff_ffff_ffff_ffffn;
  else if (neg) v = (1n << 64n) - v & 0xffff_ffff_ffff_ffffn;
  return { value: v, ok: i === str.length };
}

/** `unsigned int x = strtoul(...)`. */
export const u32 = (v: bigint): number => Number(v & 0xffff_ffffn);

/** parse_u32_arg(): `KEYWORD N`, refusing a second non-zero value. */
export function parseU32Arg(b: Bpftool, a: Args, current: number, what: string): number | undefined {
  a.next();
  if (current !== 0) {
    b.p_err(`${what} already specified`);
    return undefined;
  }
  const arg = a.cur ?? '';
  const r = strtoul(arg, 0);
  if (!r.ok) {
    b.p_err(`can't parse ${arg} as ${what}`);
    return undefined;
  }
  a.next();
  return u32(r.value);
}

// ---------------------------------------------------------------------------------------------
// Output helpers.

const hex2 = (n: number): string => n.toString(16).padStart(2, '0');

/** fprint_hex(): bytes as `%02hhx` with `sep`, two spaces after each 8, a newline after each 16. */
export function fprintHex(data: Uint8Array, n: number, sep: string): string {
  let s = '';
  for (let i = 0; i < n; i++) {
    if (i === 0) s += hex2(data[i] ?? 0);
    else if (i % 16 === 0) s += `\n${hex2(data[i] ?? 0)}`;
    else if (i % 8 === 0) s += `  ${hex2(data[i] ?? 0)}`;
    else s += `${sep}${hex2(data[i] ?? 0)}`;
  }
  return s;
}

/** print_hex_data_json(): `["0x01","0x02"]`. */
export function printHexDataJson(jw: JsonWriter, data: Uint8Array, len = data.length): void {
  jw.startArray();
  for (let i = 0; i < len; i++) jw.printf(`"0x${hex2(data[i] ?? 0)}"`);
  jw.endArray();
}

/** print_data_json(): `[1,2]`. */
export function printDataJson(jw: JsonWriter, data: Uint8Array): void {
  jw.startArray();
  for (const x of data) jw.printf(String(x));
  jw.endArray();
}

/**
 * ifindex_to_name_ns(): the device's name when the object's namespace (the nsfs device and inode the
 * kernel reported) is bpftool's own — stat("/proc/self/ns/net"); the emulated host runs every process
 * in init_net — and if_indextoname() finds it (else errno ENXIO). bpftool compares the numbers as
 * __u32, which this keeps.
 */
export function ifindexToNameNs(b: Bpftool, ifindex: number, nsDev: bigint, nsIno: bigint): string | undefined {
  if (!inOwnNetns(nsDev, nsIno)) return undefined;
  return b.kernel.netdevs.dev_get_by_index(ifindex)?.name;
}

/** Is the namespace the kernel reported (nsfs device and inode) bpftool's own? */
export function inOwnNetns(nsDev: bigint, nsIno: bigint): boolean {
  const u32of = (v: bigint): bigint => v & 0xffff_ffffn;
  return u32of(nsDev) === u32of(INIT_NET_NS.netns_dev) && u32of(nsIno) === u32of(INIT_NET_NS.netns_ino);
}

/** print_dev_plain() / print_dev_json() for a program or map bound to a device. */
export function printDevPlain(b: Bpftool, ifindex: number, nsDev: bigint, nsIno: bigint): void {
  if (ifindex === 0) return;
  const name = ifindexToNameNs(b, ifindex, nsDev, nsIno);
  b.printf(`  offloaded_to ${name ?? `ifindex ${ifindex} ns_dev ${nsDev} ns_ino ${nsIno}`}`);
}

export function printDevJson(b: Bpftool, ifindex: number, nsDev: bigint, nsIno: bigint): void {
  if (ifindex === 0) return;
  const jw = b.jw;
  jw.name('dev');
  jw.startObject();
  jw.numberField('ifindex', ifindex);
  jw.numberField('ns_dev', nsDev);
  jw.numberField('ns_inode', nsIno);
  const name = ifindexToNameNs(b, ifindex, nsDev, nsIno);
  if (name !== undefined) jw.stringField('ifname', name);
  jw.endObject();
}

/**
 * read_sysfs_netdev_hex_int(): /sys/class/net/DEV/device/ENTRY (the PCI function's `vendor` or
 * `device` id) as strtol(.., 0) reads it, or -1 after bpftool's "Can't open" error. The emulated
 * host's only PCI network functions are the nfp's; other devices (loopback, netdevsim) have no PCI
 * parent and so no such file.
 */
export function readSysfsNetdevHexInt(b: Bpftool, devname: string, entry: 'vendor' | 'device'): number {
  const path = `/sys/class/net/${devname}/device/${entry}`;
  const netdev = b.kernel.netdevs.dev_get_by_name(devname);
  const pci = netdev === undefined ? undefined : nfp_port_from_netdev(netdev)?.pf.device;
  if (pci === undefined) {
    b.p_err(`Can't open ${path}: ${strerror('ENOENT')}`);
    return -1;
  }
  return entry === 'vendor' ? pci.pciVendor : pci.pciDevice;
}

/** if_nametoindex(): the device's ifindex on the emulated host; 0 (errno ENODEV) when it has none. */
export function ifNameToIndex(b: Bpftool, name: string): number {
  return b.kernel.netdevs.dev_get_by_name(name)?.ifindex ?? 0;
}

// ---------------------------------------------------------------------------------------------
// Pinned objects and the bpffs.

const dirname = (p: string): string => {
  const t = p.replace(/\/+$/, '');
  const i = t.lastIndexOf('/');
  return i < 0 ? '.' : i === 0 ? '/' : t.slice(0, i);
};

/** open_obj_pinned(): BPF_OBJ_GET of a path. */
export function openObjPinned(b: Bpftool, path: string, quiet = false): number {
  try {
    return b.own(b.sys.objGet(path));
  } catch (e) {
    if (!quiet) {
      const errno = errnoOf(e);
      if (errno === 'EACCES') {
        // bpftool's dirname() cuts its copy of the path in place before the message prints it.
        const dir = dirname(path);
        b.p_err(`bpf obj get (${dir}): ${b.kernel.bpffs.isBpffs(dir) ? strerror(errno) : 'directory not in bpf file system (bpffs)'}`);
      } else {
        b.p_err(`bpf obj get (${path}): ${strerror(errno)}`);
      }
    }
    return -1;
  }
}

/** open_obj_pinned_any(): a pinned object of the expected kind. */
export function openObjPinnedAny(b: Bpftool, path: string, expected: BpfObjType): number {
  const fd = openObjPinned(b, path);
  if (fd < 0) return -1;
  const type = b.fdType(fd);
  if (type !== expected) {
    b.p_err(`incorrect object type: ${objTypeName(type)}`);
    b.close(fd);
    return -1;
  }
  return fd;
}

/** mount_bpffs_for_pin(): the directory of a pin must be on a bpffs, else bpftool mounts one there. */
export function mountBpffsForPin(b: Bpftool, name: string): number {
  const dir = dirname(name);
  if (b.kernel.bpffs.isBpffs(dir)) return 0;
  if (b.blockMount) {
    b.p_err('no BPF file system found, not mounting it due to --nomount option');
    return -1;
  }
  // mnt_fs() starts with `mount --make-private DIR`. The emulated host's file system is its bpffs
  // mounts and nothing else, so a directory that is not a bpffs directory does not exist.
  b.p_err(`can't mount BPF file system to pin the object (${name}): mount --make-private ${dir} failed: ${strerror('ENOENT')}`);
  return -1;
}

/** do_pin_fd(). */
export function doPinFd(b: Bpftool, fd: number, name: string): number {
  const err = mountBpffsForPin(b, name);
  if (err) return err;
  try {
    b.sys.objPin(fd, name);
    return 0;
  } catch (e) {
    const errno = errnoOf(e);
    b.p_err(`can't pin the object (${name}): ${strerror(errno)}`);
    return -errnoNumber(errno);
  }
}

/** do_pin_any(): `OBJECT FILE`. */
export function doPinAny(b: Bpftool, a: Args, getFd: (b: Bpftool, a: Args) => number): number {
  const fd = getFd(b, a);
  if (fd < 0) return fd;
  const err = doPinFd(b, fd, a.cur ?? '');
  b.close(fd);
  return err;
}

/**
 * build_pinned_obj_table(): the pins of every bpffs mount, by object id, for -f, in the order bpftool
 * lists them. nftw() walks each mount depth-first in readdir order, which on bpffs is newest first;
 * each pin goes into libbpf's hashmap, which puts an entry at the head of its bucket and, every time
 * it grows (before an insert that would fill it past 3/4, doubling from 4), re-adds each bucket's
 * entries at the head of their new bucket, reversing them. Pins of one object share a bucket, so
 * their order is their insertion order reversed once per insert and once per growth since.
 */
export function pinnedPaths(b: Bpftool, type: BpfObjType): Map<number, string[]> {
  const want = type === BpfObjType.PROG ? 'prog' : type === BpfObjType.MAP ? 'map' : 'link';
  const table = new Map<number, string[]>();
  let size = 0;
  let cap = 0;
  const insert = (id: number, path: string): void => {
    if (cap === 0 || Math.floor(((size + 1) * 4) / 3) > cap) {
      cap = cap === 0 ? 4 : cap * 2;
      for (const list of table.values()) list.reverse();
    }
    const list = table.get(id);
    if (list === undefined) table.set(id, [path]);
    else list.unshift(path);
    size++;
  };
  const walk = (dir: string): void => {
    for (const e of b.kernel.bpffs.readdir(dir).reverse()) {
      const path = dir === '/' ? `/${e.name}` : `${dir}/${e.name}`;
      if (e.type === 'dir') walk(path);
      else if (e.type === want && e.id !== undefined) insert(e.id, path);
    }
  };
  for (const m of b.kernel.bpffs.mountpoints) walk(m);
  return table;
}

// ---------------------------------------------------------------------------------------------
// PROG := { id PROG_ID | pinned FILE | tag PROG_TAG | name PROG_NAME }

/** MAX_PROG_FULL_NAME. */
export const MAX_PROG_FULL_NAME = 128;
export const BPF_TAG_SIZE = 8;

/** get_prog_full_name(): the kernel keeps 15 characters; BTF's func_info has the whole name. */
export function progFullName(b: Bpftool, info: BpfProgInfo): string {
  if (info.name.length < BPF_OBJ_NAME_LEN - 1 || info.btf_id === 0) return info.name;
  const fi = info.func_info[0];
  const btf = b.kernel.btfs.get(info.btf_id)?.btf;
  if (fi === undefined || btf === undefined) return info.name;
  return btfFuncName(btf, fi.typeId) ?? info.name;
}

/** sscanf(arg, BPF_TAG_FMT, ...) == BPF_TAG_SIZE: eight `%02hhx`. */
export function parseTag(arg: string): string | undefined {
  let i = 0;
  let tag = '';
  for (let k = 0; k < BPF_TAG_SIZE; k++) {
    while (i < arg.length && ' \t\n\v\f\r'.includes(arg[i]!)) i++;
    const m = /^[0-9a-fA-F]{1,2}/.exec(arg.slice(i));
    if (m === null) return undefined;
    tag += m[0].toLowerCase().padStart(2, '0');
    i += m[0].length;
  }
  return tag;
}

function progFdsByNameTag(b: Bpftool, nametag: string, tag: boolean): number[] | undefined {
  const fds: number[] = [];
  let id = 0;
  for (;;) {
    try {
      id = b.sys.progGetNextId(id);
    } catch (e) {
      if (errnoOf(e) === 'ENOENT') return fds;
      b.p_err(errstr(e));
      break;
    }
    let fd: number;
    try {
      fd = b.own(b.sys.progGetFdById(id));
    } catch (e) {
      b.p_err(`can't get prog by id (${id}): ${errstr(e)}`);
      break;
    }
    let info: BpfProgInfo;
    try {
      info = b.sys.progInfo(fd);
    } catch (e) {
      b.p_err(`can't get prog info (${id}): ${errstr(e)}`);
      b.close(fd);
      break;
    }
    const match = tag ? info.tag === nametag : progFullName(b, info) === nametag;
    if (match) fds.push(fd);
    else b.close(fd);
  }
  for (const fd of fds) b.close(fd);
  return undefined;
}

/** prog_parse_fds(): the fds of every program the handle names; undefined after an error. */
export function progParseFds(b: Bpftool, a: Args): number[] | undefined {
  const what = a.cur;
  if (isPrefix(what, 'id')) {
    a.next();
    const arg = a.cur ?? '';
    const r = strtoul(arg, 0);
    if (!r.ok) {
      b.p_err(`can't parse ${arg} as ID`);
      return undefined;
    }
    a.next();
    const id = u32(r.value);
    try {
      return [b.own(b.sys.progGetFdById(id))];
    } catch (e) {
      b.p_err(`get by id (${id}): ${errstr(e)}`);
      return undefined;
    }
  } else if (isPrefix(what, 'tag')) {
    a.next();
    const tag = parseTag(a.cur ?? '');
    if (tag === undefined) {
      b.p_err("can't parse tag");
      return undefined;
    }
    a.next();
    return progFdsByNameTag(b, tag, true);
  } else if (isPrefix(what, 'name')) {
    a.next();
    const name = a.cur ?? '';
    if (name.length > MAX_PROG_FULL_NAME - 1) {
      b.p_err("can't parse name");
      return undefined;
    }
    a.next();
    return progFdsByNameTag(b, name, false);
  } else if (isPrefix(what, 'pinned')) {
    a.next();
    const path = a.cur ?? '';
    a.next();
    const fd = openObjPinnedAny(b, path, BpfObjType.PROG);
    return fd < 0 ? undefined : [fd];
  }
  b.p_err(`expected 'id', 'tag', 'name' or 'pinned', got: '${what ?? '(null)'}'?`);
  return undefined;
}

/** prog_parse_fd(): exactly one program. */
export function progParseFd(b: Bpftool, a: Args): number {
  const fds = progParseFds(b, a);
  if (fds === undefined || fds.length === 0) return -1;
  if (fds.length > 1) {
    b.p_err('several programs match this handle');
    for (const fd of fds) b.close(fd);
    return -1;
  }
  return fds[0]!;
}

// ---------------------------------------------------------------------------------------------
// MAP := { id MAP_ID | pinned FILE | name MAP_NAME }

function mapFdsByName(b: Bpftool, name: string): number[] | undefined {
  const fds: number[] = [];
  let id = 0;
  for (;;) {
    try {
      id = b.sys.mapGetNextId(id);
    } catch (e) {
      if (errnoOf(e) === 'ENOENT') return fds;
      b.p_err(errstr(e));
      break;
    }
    let fd: number;
    try {
      fd = b.own(b.sys.mapGetFdById(id));
    } catch (e) {
      b.p_err(`can't get map by id (${id}): ${errstr(e)}`);
      break;
    }
    let info: BpfMapInfo;
    try {
      info = b.sys.mapInfo(fd);
    } catch (e) {
      b.p_err(`can't get map info (${id}): ${errstr(e)}`);
      b.close(fd);
      break;
    }
    // strncmp(name, info.name, BPF_OBJ_NAME_LEN)
    if (info.name === name) fds.push(fd);
    else b.close(fd);
  }
  for (const fd of fds) b.close(fd);
  return undefined;
}

/** map_parse_fds(). */
export function mapParseFds(b: Bpftool, a: Args): number[] | undefined {
  const what = a.cur;
  if (isPrefix(what, 'id')) {
    a.next();
    const arg = a.cur ?? '';
    const r = strtoul(arg, 0);
    if (!r.ok) {
      b.p_err(`can't parse ${arg} as ID`);
      return undefined;
    }
    a.next();
    const id = u32(r.value);
    try {
      return [b.own(b.sys.mapGetFdById(id))];
    } catch (e) {
      b.p_err(`get map by id (${id}): ${errstr(e)}`);
      return undefined;
    }
  } else if (isPrefix(what, 'name')) {
    a.next();
    const name = a.cur ?? '';
    if (name.length > BPF_OBJ_NAME_LEN - 1) {
      b.p_err("can't parse name");
      return undefined;
    }
    a.next();
    return mapFdsByName(b, name);
  } else if (isPrefix(what, 'pinned')) {
    a.next();
    const path = a.cur ?? '';
    a.next();
    const fd = openObjPinnedAny(b, path, BpfObjType.MAP);
    return fd < 0 ? undefined : [fd];
  }
  b.p_err(`expected 'id', 'name' or 'pinned', got: '${what ?? '(null)'}'?`);
  return undefined;
}

/** map_parse_fd(). */
export function mapParseFd(b: Bpftool, a: Args): number {
  const fds = mapParseFds(b, a);
  if (fds === undefined || fds.length === 0) return -1;
  if (fds.length > 1) {
    b.p_err('several maps match this handle');
    for (const fd of fds) b.close(fd);
    return -1;
  }
  return fds[0]!;
}

/** map_parse_fd_and_info(). */
export function mapParseFdAndInfo(b: Bpftool, a: Args): { fd: number; info: BpfMapInfo } | undefined {
  const fd = mapParseFd(b, a);
  if (fd < 0) return undefined;
  try {
    return { fd, info: b.sys.mapInfo(fd) };
  } catch (e) {
    // An offloaded map whose device is gone has no info to give (ENODEV).
    b.p_err(`can't get map info: ${errstr(e)}`);
    b.close(fd);
    return undefined;
  }
}
