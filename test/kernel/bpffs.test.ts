// bpffs: the pin namespace of kernel/bpf/inode.c. Errnos as a real bpffs gives them (checked on a
// 6.18 kernel: see the comment at the top of src/kernel/bpffs.ts); pins hold a reference.

import { describe, expect, it } from 'vitest';
import { BpfFs, BPFFS_MOUNT } from '../../src/kernel/bpffs.js';
import { map_create } from '../../src/kernel/maps/create.js';
import { BPF_MAP_TYPE_ARRAY } from '../../src/kernel/maps/map.js';
import { FakeObj, errnoOf, makeEnv } from './maps-helpers.js';

describe('bpffs', () => {
  it('pins, gets and unlinks objects, holding a reference while pinned', () => {
    const fs = new BpfFs();
    const prog = new FakeObj(7);
    fs.pin('/sys/fs/bpf/xdp_prog', prog, 'prog');
    expect(prog.refs).toBe(2);
    const got = fs.get('/sys/fs/bpf/xdp_prog');
    expect(got).toEqual({ obj: prog, type: 'prog' });
    expect(prog.refs).toBe(3); // BPF_OBJ_GET hands the caller a reference of its own
    got.obj.put();
    fs.unlink('/sys/fs/bpf/xdp_prog');
    expect(prog.refs).toBe(1);
    expect(errnoOf(() => fs.get('/sys/fs/bpf/xdp_prog'))).toBe('ENOENT');
  });

  it('a pinned map outlives its creator\'s reference', () => {
    const fs = new BpfFs();
    const m = map_create({ map_type: BPF_MAP_TYPE_ARRAY, key_size: 4, value_size: 4, max_entries: 1 }, makeEnv());
    let freed = false;
    m.onFree = () => { freed = true; };
    fs.pin('/sys/fs/bpf/counters', m, 'map');
    m.put(); // the creating fd is closed
    expect(freed).toBe(false);
    expect(fs.get('/sys/fs/bpf/counters').obj).toBe(m);
    m.put(); // the reference BPF_OBJ_GET gave us
    fs.unlink('/sys/fs/bpf/counters');
    expect(freed).toBe(true);
  });

  it('directories: mkdir, nested pins, readdir in creation order, rmdir', () => {
    const fs = new BpfFs();
    fs.mkdir('/sys/fs/bpf/tc');
    fs.mkdir('/sys/fs/bpf/tc/globals');
    const a = new FakeObj(1);
    const b = new FakeObj(2);
    fs.pin('/sys/fs/bpf/tc/globals/zeta', a, 'map');
    fs.pin('/sys/fs/bpf/tc/globals/alpha', b, 'link');
    expect(fs.readdir('/sys/fs/bpf/tc/globals')).toEqual([
      { name: 'zeta', type: 'map', mode: 0o600, id: 1 },
      { name: 'alpha', type: 'link', mode: 0o600, id: 2 },
    ]);
    expect(fs.readdir('/sys/fs/bpf')).toEqual([{ name: 'tc', type: 'dir', mode: 0o755 }]);
    expect(fs.stat('/sys/fs/bpf/tc/globals/zeta')).toEqual({ type: 'map', mode: 0o600 });
    expect(errnoOf(() => fs.rmdir('/sys/fs/bpf/tc/globals'))).toBe('ENOTEMPTY');
    fs.unlink('/sys/fs/bpf/tc/globals/zeta');
    fs.unlink('/sys/fs/bpf/tc/globals/alpha');
    fs.rmdir('/sys/fs/bpf/tc/globals');
    expect(fs.readdir('/sys/fs/bpf/tc')).toEqual([]);
    expect(fs.pins()).toEqual([]);
  });

  it('errnos as the kernel gives them', () => {
    const fs = new BpfFs();
    const o = new FakeObj(3);
    fs.mkdir('/sys/fs/bpf/d');
    fs.pin('/sys/fs/bpf/d/m', o, 'map');
    expect(errnoOf(() => fs.pin('/sys/fs/bpf/d/m', o, 'map'))).toBe('EEXIST');
    expect(errnoOf(() => fs.pin('/sys/fs/bpf/d/', o, 'map'))).toBe('EEXIST');
    expect(errnoOf(() => fs.pin('/sys/fs/bpf/nodir/m', o, 'map'))).toBe('ENOENT');
    expect(errnoOf(() => fs.pin('/sys/fs/bpf/d/m/x', o, 'map'))).toBe('ENOTDIR');
    expect(errnoOf(() => fs.pin('/sys/fs/bpf/d/a.b', o, 'map'))).toBe('EPERM');
    expect(errnoOf(() => fs.mkdir('/sys/fs/bpf/a.b'))).toBe('EPERM');
    expect(errnoOf(() => fs.pin('/tmp/m', o, 'map'))).toBe('EPERM');
    expect(errnoOf(() => fs.mkdir('/tmp/pinmaps'))).toBe('EPERM');
    expect(errnoOf(() => fs.get('/sys/fs/bpf/d'))).toBe('EACCES');
    expect(errnoOf(() => fs.get('/sys/fs/bpf/zz'))).toBe('ENOENT');
    expect(errnoOf(() => fs.get('/tmp/m'))).toBe('ENOENT');
    expect(errnoOf(() => fs.unlink('/sys/fs/bpf/d'))).toBe('EISDIR');
    expect(errnoOf(() => fs.unlink('/sys/fs/bpf/d/zz'))).toBe('ENOENT');
    expect(errnoOf(() => fs.rmdir('/sys/fs/bpf/d/m'))).toBe('ENOTDIR');
    expect(errnoOf(() => fs.rmdir('/sys/fs/bpf'))).toBe('EBUSY');
    expect(errnoOf(() => fs.mkdir('/sys/fs/bpf/d'))).toBe('EEXIST');
    expect(errnoOf(() => fs.readdir('/sys/fs/bpf/d/m'))).toBe('ENOTDIR');
    expect(errnoOf(() => fs.pin('/sys/fs/bpf/' + 'x'.repeat(256), o, 'map'))).toBe('ENAMETOOLONG');
    expect(o.refs).toBe(2); // only the one successful pin holds a reference
    expect(() => fs.pin('/tmp/m', o, 'map')).toThrow(/not on a BPF file system/);
  });

  it('resolves . and .. and repeated slashes as the VFS does', () => {
    const fs = new BpfFs();
    const o = new FakeObj(4);
    fs.mkdir('/sys/fs/bpf/a');
    fs.pin('/sys/fs/bpf//a/./../a/p', o, 'prog');
    expect(fs.get('/sys/fs/bpf/a/p').obj).toBe(o);
    expect(fs.pins().map((p) => p.path)).toEqual(['/sys/fs/bpf/a/p']);
  });

  it('several mounts; umount drops every pin of that instance', () => {
    const fs = new BpfFs();
    fs.mount('/run/bpf');
    expect(fs.mountpoints).toEqual([BPFFS_MOUNT, '/run/bpf']);
    expect(errnoOf(() => fs.mount('/run/bpf'))).toBe('EBUSY');
    const o = new FakeObj(5);
    fs.pin('/run/bpf/x', o, 'map');
    fs.pin('/sys/fs/bpf/x', o, 'map');
    expect(fs.isBpffs('/run/bpf')).toBe(true);
    expect(fs.isBpffs('/run')).toBe(false);
    expect(o.refs).toBe(3);
    fs.umount('/run/bpf');
    expect(o.refs).toBe(2);
    expect(errnoOf(() => fs.get('/run/bpf/x'))).toBe('ENOENT');
    expect(errnoOf(() => fs.umount('/run/bpf'))).toBe('EINVAL');
  });
});
