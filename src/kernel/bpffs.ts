// The BPF file system, kernel/bpf/inode.c: the pin namespace under /sys/fs/bpf. BPF_OBJ_PIN puts a
// program, map or link at a path, holding a reference so the object outlives its fds;
// BPF_OBJ_GET takes a new reference from a path; unlink drops the pin's reference. Directories are
// made and removed as on any file system (bpftool and libbpf create e.g. a `pinmaps` directory).
//
// Only bpffs mounts are modelled, not the rest of the host's file systems, so a path outside every
// mount is "not on a BPF file system": creating there is EPERM, as the kernel answers when the parent
// directory is not a bpffs directory (libbpf says EINVAL before it even asks). Paths are absolute;
// a relative path is taken from '/' (the emulated host's working directory).
//
// The kernel's errors, checked against a real bpffs: a missing parent ENOENT, an existing name
// EEXIST, a parent that is not a directory ENOTDIR, a name with a dot EPERM (bpf_lookup reserves
// dots), BPF_OBJ_GET of a directory EACCES (bpf_inode_type), rmdir of a non-empty directory
// ENOTEMPTY, unlink of a directory EISDIR.

import { BpfError } from '../bpf/errno.js';
import type { RefCounted } from './maps/map.js';

export type BpfObjType = 'prog' | 'map' | 'link';

/** The default mount point. */
export const BPFFS_MOUNT = '/sys/fs/bpf';

const PATH_MAX = 4096;
const NAME_MAX = 255;

/** Pinned files are created S_IRUSR|S_IWUSR (less the umask), directories as mkdir(2) asks. */
const PIN_MODE = 0o600;
const DIR_MODE = 0o755;

interface DirNode {
  readonly kind: 'dir';
  readonly children: Map<string, Node>;
  readonly mode: number;
}

interface ObjNode {
  readonly kind: BpfObjType;
  readonly obj: RefCounted;
  readonly mode: number;
}

type Node = DirNode | ObjNode;

export interface BpfFsEntry {
  readonly name: string;
  readonly type: 'dir' | BpfObjType;
  readonly mode: number;
  /** The pinned object's id, for objects. */
  readonly id?: number;
}

export interface BpfFsPin {
  readonly path: string;
  readonly type: BpfObjType;
  readonly obj: RefCounted;
}

function newDir(mode = DIR_MODE): DirNode {
  return { kind: 'dir', children: new Map(), mode };
}

/** Split a path into its components, resolving '.' and '..' as the VFS does. */
function components(op: string, path: string): string[] {
  if (typeof path !== 'string' || path.length === 0) throw new BpfError('ENOENT', `${op}: empty path`);
  if (path.length >= PATH_MAX) throw new BpfError('ENAMETOOLONG', `${op}: path longer than ${PATH_MAX - 1} bytes`);
  const out: string[] = [];
  for (const c of path.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') {
      out.pop();
      continue;
    }
    if (c.length > NAME_MAX) throw new BpfError('ENAMETOOLONG', `${op}: '${c.slice(0, 32)}...' is longer than ${NAME_MAX} bytes`);
    out.push(c);
  }
  return out;
}

function join(parts: readonly string[]): string {
  return '/' + parts.join('/');
}

export class BpfFs {
  /** Mount point (normalised) -> root directory of that bpffs instance. */
  private readonly mounts = new Map<string, DirNode>();

  constructor(mountpoints: readonly string[] = [BPFFS_MOUNT]) {
    for (const m of mountpoints) this.mount(m);
  }

  /** mount -t bpf bpf <path>: a new, empty instance. */
  mount(path: string): void {
    const key = join(components('mount', path));
    if (this.mounts.has(key)) throw new BpfError('EBUSY', `mount: a BPF file system is already mounted on ${key}`);
    this.mounts.set(key, newDir(0o1777)); // drwxrwxrwt, as the real mount
  }

  /** umount: every pinned object of that instance loses its pin's reference. */
  umount(path: string): void {
    const key = join(components('umount', path));
    const root = this.mounts.get(key);
    if (root === undefined) throw new BpfError('EINVAL', `umount: ${key} is not a BPF file system mount point`);
    this.mounts.delete(key);
    const drop = (dir: DirNode): void => {
      for (const n of dir.children.values()) {
        if (n.kind === 'dir') drop(n);
        else n.obj.put();
      }
      dir.children.clear();
    };
    drop(root);
  }

  get mountpoints(): string[] {
    return [...this.mounts.keys()];
  }

  /** Find the bpffs instance holding `parts`: [root, components below the mount point], or null. */
  private locate(parts: readonly string[]): [DirNode, string[], string] | null {
    for (let n = parts.length; n >= 0; n--) {
      const key = join(parts.slice(0, n));
      const root = this.mounts.get(key);
      if (root !== undefined) return [root, parts.slice(n), key];
    }
    return null;
  }

  /** Walk to the directory that contains the last component. */
  private parentOf(op: string, path: string, create: boolean): [DirNode, string] {
    const parts = components(op, path);
    const where = this.locate(parts);
    if (where === null) {
      throw new BpfError(create ? 'EPERM' : 'ENOENT', `${op} ${path}: not on a BPF file system (mounted at ${this.mountpoints.join(', ') || 'nowhere'})`);
    }
    const [root, rel] = where;
    if (rel.length === 0) throw new BpfError(create ? 'EEXIST' : 'EBUSY', `${op} ${path}: is the mount point of a BPF file system`);
    let dir = root;
    for (let i = 0; i < rel.length - 1; i++) {
      const name = rel[i]!;
      if (name.includes('.')) throw new BpfError('EPERM', `${op} ${path}: names with a dot are reserved in a BPF file system`);
      const next = dir.children.get(name);
      if (next === undefined) throw new BpfError('ENOENT', `${op} ${path}: ${name}: No such file or directory`);
      if (next.kind !== 'dir') throw new BpfError('ENOTDIR', `${op} ${path}: ${name}: Not a directory`);
      dir = next;
    }
    const last = rel[rel.length - 1]!;
    if (last.includes('.')) throw new BpfError('EPERM', `${op} ${path}: names with a dot are reserved in a BPF file system`);
    return [dir, last];
  }

  /** The node at `path` (a mount point is its root directory). */
  private lookup(op: string, path: string): Node {
    const parts = components(op, path);
    const where = this.locate(parts);
    if (where === null) throw new BpfError('ENOENT', `${op} ${path}: not on a BPF file system`);
    if (where[1].length === 0) return where[0];
    const [dir, name] = this.parentOf(op, path, false);
    const node = dir.children.get(name);
    if (node === undefined) throw new BpfError('ENOENT', `${op} ${path}: No such file or directory`);
    return node;
  }

  /** Is `path` an existing directory on a bpffs (bpftool's is_bpffs(), statfs f_type BPF_FS_MAGIC)? */
  isBpffs(path: string): boolean {
    try {
      return this.lookup('statfs', path).kind === 'dir';
    } catch {
      return false;
    }
  }

  mkdir(path: string, mode = DIR_MODE): void {
    const [dir, name] = this.parentOf('mkdir', path, true);
    if (dir.children.has(name)) throw new BpfError('EEXIST', `mkdir ${path}: File exists`);
    dir.children.set(name, newDir(mode & 0o7777));
  }

  rmdir(path: string): void {
    const [dir, name] = this.parentOf('rmdir', path, false);
    const node = dir.children.get(name);
    if (node === undefined) throw new BpfError('ENOENT', `rmdir ${path}: No such file or directory`);
    if (node.kind !== 'dir') throw new BpfError('ENOTDIR', `rmdir ${path}: Not a directory`);
    if (node.children.size !== 0) throw new BpfError('ENOTEMPTY', `rmdir ${path}: Directory not empty`);
    dir.children.delete(name);
  }

  /** BPF_OBJ_PIN: the pin takes its own reference on the object. */
  pin(path: string, obj: RefCounted, type: BpfObjType): void {
    const [dir, name] = this.parentOf('BPF_OBJ_PIN', path, true);
    if (dir.children.has(name)) throw new BpfError('EEXIST', `BPF_OBJ_PIN ${path}: File exists`);
    obj.get();
    dir.children.set(name, { kind: type, obj, mode: PIN_MODE });
  }

  /** BPF_OBJ_GET: the object pinned at `path`, with a new reference for the caller. */
  get(path: string): { obj: RefCounted; type: BpfObjType } {
    const node = this.lookup('BPF_OBJ_GET', path);
    if (node.kind === 'dir') throw new BpfError('EACCES', `BPF_OBJ_GET ${path}: is a directory, not a pinned object`);
    node.obj.get();
    return { obj: node.obj, type: node.kind };
  }

  /** unlink(2): remove a pin, dropping its reference (the object lives on if others hold it). */
  unlink(path: string): void {
    const [dir, name] = this.parentOf('unlink', path, false);
    const node = dir.children.get(name);
    if (node === undefined) throw new BpfError('ENOENT', `unlink ${path}: No such file or directory`);
    if (node.kind === 'dir') throw new BpfError('EISDIR', `unlink ${path}: Is a directory`);
    dir.children.delete(name);
    node.obj.put();
  }

  /** readdir(3) of a directory, in creation order. */
  readdir(path: string): BpfFsEntry[] {
    const node = this.lookup('readdir', path);
    if (node.kind !== 'dir') throw new BpfError('ENOTDIR', `readdir ${path}: Not a directory`);
    return [...node.children].map(([name, n]) =>
      n.kind === 'dir' ? { name, type: 'dir', mode: n.mode } : { name, type: n.kind, mode: n.mode, id: n.obj.id });
  }

  /** stat(2): what is at `path`. */
  stat(path: string): { type: 'dir' | BpfObjType; mode: number } {
    const node = this.lookup('stat', path);
    return { type: node.kind, mode: node.mode };
  }

  /** Every pin of every mount, as bpftool's nftw() over the mounts finds them (`pinned` lines). */
  pins(): BpfFsPin[] {
    const out: BpfFsPin[] = [];
    const walk = (dir: DirNode, prefix: string): void => {
      for (const [name, n] of dir.children) {
        const p = prefix === '/' ? `/${name}` : `${prefix}/${name}`;
        if (n.kind === 'dir') walk(n, p);
        else out.push({ path: p, type: n.kind, obj: n.obj });
      }
    };
    for (const [m, root] of this.mounts) walk(root, m);
    return out;
  }
}
