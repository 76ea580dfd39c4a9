// Shared by the NIC, firmware and driver tests: hosts booted with a given image (shipped, or a variant
// written to a temporary file), offloaded maps, keys, and errno assertions.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { expect } from 'vitest';
import { BpfError, type ErrnoName } from '../../src/bpf/errno.js';
import type { InProcessFirmware } from '../../firmware/runner.js';
import { createHost, type Host, type HostOptions } from '../../src/host.js';
import { firmwareDir } from '../../src/nic/fw-image.js';
import type { BpfMapCreateAttr } from '../../src/kernel/maps/map.js';

export const BPF_MAP_TYPE_HASH = 1;
export const BPF_MAP_TYPE_ARRAY = 2;

export interface TestHost extends Host {
  /** The in-process firmware (the latest one after a reset). */
  fw(): InProcessFirmware;
  ifindex: number;
}

/** A host with the firmware in-process (deterministic) unless asked otherwise. */
export async function bootHost(opts: HostOptions = {}): Promise<TestHost> {
  let fw: InProcessFirmware | undefined;
  const h = await createHost({
    firmwareMode: 'in-process',
    onFirmwareStart: (f) => { fw = f; },
    cmsgTimeoutMs: 300,
    ...opts,
  });
  return Object.assign(h, {
    fw: (): InProcessFirmware => {
      if (fw === undefined) throw new Error('no in-process firmware');
      return fw;
    },
    ifindex: h.kernel.netdevs.dev_get_by_name('nfp0')?.ifindex ?? 0,
  });
}

/** BPF_MAP_CREATE on nfp0. */
export function offloadMap(h: TestHost, attr: Partial<BpfMapCreateAttr> = {}): Promise<number> {
  return h.sys.mapCreateAsync({
    map_type: BPF_MAP_TYPE_HASH, key_size: 4, value_size: 8, max_entries: 16, map_name: 'm', map_ifindex: h.ifindex, ...attr,
  });
}

export function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
}

export function u64le(n: bigint, size = 8): Uint8Array {
  const b = new Uint8Array(size);
  new DataView(b.buffer).setBigUint64(0, n, true);
  return b;
}

/** Await `p` and check it fails with `errno` (and a message containing `msg`, if given). */
export async function expectErrno(p: Promise<unknown>, errno: ErrnoName, msg?: string | RegExp): Promise<BpfError> {
  let err: unknown;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  expect(err, `expected ${errno}`).toBeInstanceOf(BpfError);
  const be = err as BpfError;
  expect(be.errno, be.message).toBe(errno);
  if (typeof msg === 'string') expect(be.message).toContain(msg);
  else if (msg !== undefined) expect(be.message).toMatch(msg);
  return be;
}

const tmpDirs: string[] = [];

/**
 * A shipped image's YAML with changes applied, written to a temporary file; returns its path (usable
 * as `firmware`). `edit` gets the parsed document.
 */
export function imageVariant(base: string, edit: (doc: Record<string, unknown>) => void): string {
  const doc = parse(readFileSync(join(firmwareDir(), `${base}.yaml`), 'utf8')) as Record<string, unknown>;
  edit(doc);
  const dir = mkdtempSync(join(tmpdir(), 'nfp-emu-fw-'));
  tmpDirs.push(dir);
  const file = join(dir, `${String(doc['name'])}.yaml`);
  writeFileSync(file, stringify(doc));
  return file;
}

export function removeImageVariants(): void {
  for (const d of tmpDirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

/** One little-endian TLV record as the image's hex. */
export function tlv(type: number, ...words: number[]): string {
  const le = (x: number): string => {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, x >>> 0, true);
    return Array.from(b, (v) => v.toString(16).padStart(2, '0')).join('');
  };
  return [le(type), le(words.length * 4), ...words.map(le)].join(' ');
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Wait until `cond` holds (polling), or give up after `ms`; returns whether it held. Not a timing assert. */
export async function until(cond: () => boolean, ms = 5000): Promise<boolean> {
  const end = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > end) return false;
    await sleep(2);
  }
  return true;
}
