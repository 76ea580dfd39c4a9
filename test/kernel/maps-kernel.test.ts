// The emulated maps against the real kernel, through bpftool: the errno of each creation check and
// of the common update/delete failures, and the BPF_MAP_GET_NEXT_KEY order of a hash map with
// BPF_F_ZERO_SEED (which only matches if jhash, the bucket count and the insert-at-head chains are
// the kernel's). Skipped, with the reason in the test name, where bpftool, root or a bpffs at
// /sys/fs/bpf is missing. Pins only under a folder of its own, removed at the end.

import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { ERRNO } from '../../src/bpf/errno.js';
import type { ErrnoName } from '../../src/bpf/errno.js';
import { map_create } from '../../src/kernel/maps/create.js';
import { BPF_F_ZERO_SEED, bpf_map_type_name } from '../../src/kernel/maps/map.js';
import type { BpfMapCreateAttr } from '../../src/kernel/maps/map.js';
import { allKeys, errnoOf, makeEnv, readU32, u32 } from './maps-helpers.js';

const DIR = `/sys/fs/bpf/nfpemu-maps-test-${process.pid}`;

function bpftool(args: string[]): { ok: boolean; out: string; err: string } {
  try {
    return { ok: true, out: execFileSync('bpftool', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }), err: '' };
  } catch (e) {
    const x = e as { stdout?: string; stderr?: string };
    return { ok: false, out: x.stdout ?? '', err: x.stderr ?? '' };
  }
}

function probe(): string | null {
  try {
    execFileSync('bpftool', ['version'], { stdio: 'ignore' });
  } catch {
    return 'bpftool is not installed';
  }
  try {
    mkdirSync(DIR, { recursive: true });
  } catch {
    return 'no writable bpffs at /sys/fs/bpf';
  }
  const r = bpftool(['map', 'create', `${DIR}/probe`, 'type', 'array', 'key', '4', 'value', '4', 'entries', '1', 'name', 'probe']);
  rmSync(`${DIR}/probe`, { force: true });
  return r.ok ? null : `bpf() map creation is not allowed here (${r.err.trim()})`;
}

const skipReason = probe();
afterAll(() => {
  rmSync(DIR, { recursive: true, force: true });
});

/** The errno behind a bpftool "Error: ... failed: <strerror>" line. */
function errnoFromBpftool(err: string): ErrnoName | 'unknown' {
  const m = /failed: (.+)$/m.exec(err.trim());
  const text = m?.[1]?.trim() ?? err.trim();
  for (const [name, [, str]] of Object.entries(ERRNO)) if (str === text) return name as ErrnoName;
  return 'unknown';
}

function createArgs(a: BpfMapCreateAttr, path: string): string[] {
  const args = ['map', 'create', path, 'type', bpf_map_type_name(a.map_type), 'key', String(a.key_size),
    'value', String(a.value_size), 'entries', String(a.max_entries), 'name', a.map_name ?? 'm'];
  if (a.map_flags) args.push('flags', String(a.map_flags));
  return args;
}

const cases: BpfMapCreateAttr[] = [
  { map_type: 2, key_size: 4, value_size: 8, max_entries: 0 },
  { map_type: 2, key_size: 8, value_size: 8, max_entries: 4 },
  { map_type: 2, key_size: 4, value_size: 8, max_entries: 4, map_flags: 1 },
  { map_type: 2, key_size: 4, value_size: 8, max_entries: 4, map_flags: 0x800 },
  { map_type: 2, key_size: 4, value_size: 8, max_entries: 4, map_flags: 0x180 },
  { map_type: 2, key_size: 4, value_size: 8, max_entries: 0xffffffff },
  { map_type: 6, key_size: 4, value_size: 32769, max_entries: 4 },
  { map_type: 6, key_size: 4, value_size: 32768, max_entries: 4 },
  { map_type: 1, key_size: 4, value_size: 8, max_entries: 0xffffffff },
  { map_type: 1, key_size: 4, value_size: 8, max_entries: 2 ** 27 + 1 },
  { map_type: 1, key_size: 4, value_size: 4194304, max_entries: 4 },
  { map_type: 1, key_size: 4, value_size: 8, max_entries: 4, map_flags: 2 },
  { map_type: 1, key_size: 4, value_size: 8, max_entries: 4, map_flags: 0x40 },
  { map_type: 9, key_size: 4, value_size: 8, max_entries: 4, map_flags: 1 },
  { map_type: 9, key_size: 4, value_size: 8, max_entries: 4, map_flags: 2 },
  { map_type: 3, key_size: 4, value_size: 8, max_entries: 4 },
  { map_type: 4, key_size: 4, value_size: 4, max_entries: 4, map_flags: 0x800 },
  { map_type: 14, key_size: 4, value_size: 12, max_entries: 4 },
  { map_type: 14, key_size: 4, value_size: 8, max_entries: 4, map_flags: 1 },
  { map_type: 25, key_size: 4, value_size: 4, max_entries: 4 },
  { map_type: 25, key_size: 8, value_size: 4, max_entries: 4 },
  { map_type: 2, key_size: 4, value_size: 8, max_entries: 4, map_name: 'bad-name' },
];

describe.skipIf(skipReason !== null)(`maps against the real kernel${skipReason === null ? '' : ` (skipped: ${skipReason})`}`, () => {
  for (const [i, a] of cases.entries()) {
    const label = `${bpf_map_type_name(a.map_type)} key ${a.key_size} value ${a.value_size} entries ${a.max_entries} flags 0x${(a.map_flags ?? 0).toString(16)}${a.map_name ? ` name ${a.map_name}` : ''}`;
    it(`create: ${label}`, () => {
      const path = `${DIR}/c${i}`;
      const r = bpftool(createArgs(a, path));
      rmSync(path, { force: true });
      const kernel = r.ok ? null : errnoFromBpftool(r.err);
      let ours: ErrnoName | null = null;
      try {
        map_create(a, makeEnv(2));
      } catch {
        ours = errnoOf(() => map_create(a, makeEnv(2)));
      }
      expect(ours).toBe(kernel);
    });
  }

  it('update/delete errnos: array NOEXIST, array delete, array out of range, full hash, missing hash key', () => {
    const arr = `${DIR}/arr`;
    const h = `${DIR}/h`;
    expect(bpftool(['map', 'create', arr, 'type', 'array', 'key', '4', 'value', '4', 'entries', '2', 'name', 'arr']).ok).toBe(true);
    expect(bpftool(['map', 'create', h, 'type', 'hash', 'key', '4', 'value', '4', 'entries', '1', 'name', 'h']).ok).toBe(true);
    const kernel = [
      bpftool(['map', 'update', 'pinned', arr, 'key', '0', '0', '0', '0', 'value', '1', '0', '0', '0', 'noexist']),
      bpftool(['map', 'delete', 'pinned', arr, 'key', '0', '0', '0', '0']),
      bpftool(['map', 'update', 'pinned', arr, 'key', '5', '0', '0', '0', 'value', '1', '0', '0', '0']),
      bpftool(['map', 'update', 'pinned', h, 'key', '1', '0', '0', '0', 'value', '1', '0', '0', '0']),
      bpftool(['map', 'update', 'pinned', h, 'key', '2', '0', '0', '0', 'value', '1', '0', '0', '0']),
      bpftool(['map', 'delete', 'pinned', h, 'key', '3', '0', '0', '0']),
      bpftool(['map', 'update', 'pinned', h, 'key', '3', '0', '0', '0', 'value', '1', '0', '0', '0', 'exist']),
    ].map((r) => (r.ok ? null : errnoFromBpftool(r.err)));
    const env = makeEnv(2);
    const ma = map_create({ map_type: 2, key_size: 4, value_size: 4, max_entries: 2 }, env);
    const mh = map_create({ map_type: 1, key_size: 4, value_size: 4, max_entries: 1 }, env);
    const run = (f: () => void) => { try { f(); return null; } catch { return errnoOf(f); } };
    const ours = [
      run(() => ma.update(u32(0), u32(1), 1)),
      run(() => ma.delete(u32(0))),
      run(() => ma.update(u32(5), u32(1))),
      run(() => mh.update(u32(1), u32(1))),
      run(() => mh.update(u32(2), u32(1))),
      run(() => mh.delete(u32(3))),
      run(() => mh.update(u32(3), u32(1), 2)),
    ];
    expect(ours).toEqual(kernel);
    expect(kernel).toEqual(['EEXIST', 'EINVAL', 'E2BIG', null, 'E2BIG', 'ENOENT', 'ENOENT']);
  });

  it('a devmap_hash iterates in the kernel\'s order (ifindex 1, the loopback device)', () => {
    const path = `${DIR}/dh`;
    expect(bpftool(['map', 'create', path, 'type', 'devmap_hash', 'key', '4', 'value', '4', 'entries', '8', 'name', 'dh']).ok).toBe(true);
    const m = map_create({ map_type: 25, key_size: 4, value_size: 4, max_entries: 8 }, makeEnv(2));
    for (const k of [9, 1, 17, 3, 11, 4]) {
      expect(bpftool(['map', 'update', 'pinned', path, 'key', ...Array.from(u32(k), String), 'value', '1', '0', '0', '0']).ok).toBe(true);
      m.update(u32(k), u32(1));
    }
    const dump = JSON.parse(bpftool(['-j', 'map', 'dump', 'pinned', path]).out) as Array<{ key: string[] }>;
    const kernelOrder = dump.map((e) => readU32(Uint8Array.from(e.key.map((x) => parseInt(x, 16)))));
    expect(allKeys(m).map((k) => readU32(k))).toEqual(kernelOrder);
  });

  it('a BPF_F_ZERO_SEED hash map iterates in the kernel\'s order', () => {
    const path = `${DIR}/zs`;
    expect(bpftool(['map', 'create', path, 'type', 'hash', 'key', '4', 'value', '4', 'entries', '16', 'name', 'zs', 'flags', String(BPF_F_ZERO_SEED)]).ok).toBe(true);
    const keys = [0, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 65536, 0xdeadbeef];
    const m = map_create({ map_type: 1, key_size: 4, value_size: 4, max_entries: 16, map_flags: BPF_F_ZERO_SEED }, makeEnv(2));
    for (const k of keys) {
      const b = Array.from(u32(k), String);
      expect(bpftool(['map', 'update', 'pinned', path, 'key', ...b, 'value', ...b]).ok).toBe(true);
      m.update(u32(k), u32(k));
    }
    const dump = JSON.parse(bpftool(['-j', 'map', 'dump', 'pinned', path]).out) as Array<{ key: string[] }>;
    const kernelOrder = dump.map((e) => readU32(Uint8Array.from(e.key.map((x) => parseInt(x, 16)))));
    expect(allKeys(m).map((k) => readU32(k))).toEqual(kernelOrder);
    expect(new Set(kernelOrder)).toEqual(new Set(keys));
  });
});
