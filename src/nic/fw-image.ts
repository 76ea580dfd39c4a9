// Firmware images for the emulated NFP: the files in firmware/images/ (one YAML file per image), read
// the way the NIC's firmware loader would place them. Models what nfpcore's nfp_nffw/nfp_rtsym give the
// driver: the image's parameters (cores, threads, clock, memories, the vNIC registers it programs) and
// its run-time symbols — raw bytes such as `_abi_bpf_capabilities` (the BPF capability TLV records) and
// `_pf0_net_app_id` (which nfp_app the firmware implements). The driver parses those bytes itself
// (src/drivers/nfp/probe.ts), as the kernel does; nothing here interprets them.
//
// The `bpf:` section is the firmware's own view of what its control-message handler implements (map
// types and limits, the cmsg element slot sizes): firmware/ctrl.ts enforces it. The capabilities it
// advertises to the driver are only the symbol bytes; a test checks that the two agree for every
// shipped image (a real firmware is built from one set of constants).

import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { BpfError } from '../bpf/errno.js';
import { MAP_TYPE_NAMES } from '../bpf/prog-types.js';

export interface FirmwareDatapath {
  readonly cores: number;
  readonly threadsPerCore: number;
  readonly clockMhz: number;
  readonly codeStoreInsns: number;
  readonly stackBytesPerThread: number;
  /**
   * Code-store banks the BPF area may use (PAPER-ONLY "link multiple code stores": a second bank is the
   * neighbouring ME's store, for tail-call targets; see isa.ts). Absent: one.
   */
  readonly codeStoreBanks?: number;
}

export interface FirmwareMemory {
  readonly ctmIslands: number;
  readonly ctmBytesPerIsland: number;
  readonly imemBytes: number;
  readonly ememCacheBytes: number;
  /** The board DRAM sizes this image is built for; the first is the default. */
  readonly ememVariants: readonly number[];
  readonly lmemBytesPerCore: number;
}

/** The data vNIC's control BAR as the firmware programs it (nfp_net_ctrl.h). */
export interface FirmwareVnic {
  /** NFP_NET_CFG_CAP has NFP_NET_CFG_CTRL_BPF. */
  readonly bpfCapable: boolean;
  readonly maxMtu: number;
  /** NFP_NET_CFG_BPF_*; abi 0 for a firmware without a BPF datapath. */
  readonly bpf: {
    readonly abi: number;
    readonly relo: boolean;
    readonly maxLen: number;
    readonly start: number;
    readonly done: number;
    readonly stackSz: number;
    readonly inlMtu: number;
  };
}

/** The ctrl vNIC that carries control messages (src/nic/mailbox.ts). */
export interface FirmwareCtrlVnic {
  readonly maxMtu: number;
  readonly ringSlots: number;
}

/** What the firmware's BPF control handler implements. */
export interface FirmwareBpfParams {
  /** 2: fixed 64-byte key and value slots in map-op messages; 3: slots of max_key_sz / max_val_sz. */
  readonly cmsgAbi: number;
  /** BPF_MAP_TYPE_* numbers. */
  readonly mapTypes: readonly number[];
  readonly maxMaps: number;
  readonly maxElems: number;
  readonly maxKeySz: number;
  readonly maxValSz: number;
  readonly maxElemSz: number;
  /** Several elements per GETFIRST/GETNEXT reply (CMSG_MULTI_ENT). */
  readonly multiEnt: boolean;
}

export interface FirmwareImage {
  readonly name: string;
  readonly description: string;
  /** The file it came from. */
  readonly file: string;
  /** The nfp_app it implements: 'ebpf' (NFP_APP_BPF_NIC) or 'nic' (NFP_APP_CORE_NIC). */
  readonly app: 'ebpf' | 'nic';
  readonly chip: string;
  readonly pci: { readonly vendor: number; readonly device: number };
  readonly ports: number;
  readonly datapath: FirmwareDatapath;
  readonly memory: FirmwareMemory;
  readonly vnic: FirmwareVnic;
  readonly ctrl: FirmwareCtrlVnic;
  readonly bpf: FirmwareBpfParams | null;
  /** Run-time symbols: name -> bytes. */
  readonly rtsym: Readonly<Record<string, Uint8Array>>;
}

/** The folder of the shipped images: NFP_EMU_FIRMWARE_DIR, or firmware/images above this module. */
export function firmwareDir(): string {
  const env = process.env['NFP_EMU_FIRMWARE_DIR'];
  if (env !== undefined && env !== '') return resolve(env);
  // From src/nic (tsx, vitest) or dist/src/nic (the built CLI): the first ancestor with the folder.
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const cand = join(dir, 'firmware', 'images');
    if (existsSync(cand) && statSync(cand).isDirectory()) return cand;
    dir = dirname(dir);
  }
  throw new BpfError('ENOENT', 'firmware images: no firmware/images folder above the nfp-emu modules (set NFP_EMU_FIRMWARE_DIR)');
}

export interface FirmwareListEntry {
  readonly file: string;
  readonly image?: FirmwareImage;
  /** Why the file is not a usable image. */
  readonly error?: string;
}

/** Every image file in the folder, parsed; a broken file is listed with its error instead of failing. */
export function listFirmwareImages(dir = firmwareDir()): FirmwareListEntry[] {
  const files = readdirSync(dir).filter((f) => f.endsWith('.yaml') || f.endsWith('.yml')).sort();
  return files.map((f) => {
    const file = join(dir, f);
    try {
      return { file, image: parseFirmwareImage(readFileSync(file, 'utf8'), file) };
    } catch (e) {
      if (e instanceof BpfError) return { file, error: e.message };
      throw e;
    }
  });
}

/** request_firmware(): an image by name (the `name:` of a file in the folder) or by path. */
export function loadFirmwareImage(nameOrPath: string, dir?: string): FirmwareImage {
  if (nameOrPath.includes('/') || /\.ya?ml$/.test(nameOrPath)) {
    let text: string;
    try {
      text = readFileSync(nameOrPath, 'utf8');
    } catch (e) {
      throw new BpfError('ENOENT', `firmware image '${nameOrPath}': ${(e as Error).message}`);
    }
    return parseFirmwareImage(text, nameOrPath);
  }
  const entries = listFirmwareImages(dir ?? firmwareDir());
  const hit = entries.find((e) => e.image?.name === nameOrPath || basename(e.file).replace(/\.ya?ml$/, '') === nameOrPath);
  if (hit === undefined) {
    const known = entries.flatMap((e) => (e.image !== undefined ? [e.image.name] : [])).join(', ');
    throw new BpfError('ENOENT', `no firmware image '${nameOrPath}' (images: ${known}; see \`nfp-emu firmware list\`)`);
  }
  if (hit.image === undefined) throw new BpfError('EINVAL', hit.error ?? `${hit.file}: broken image`);
  return hit.image;
}

// ------------------------------------------------------------------ parsing

/** "256KiB", "4MiB", "2GiB", or a plain byte count. */
export function parseSize(v: unknown, where: string): number {
  if (typeof v === 'number' && Number.isSafeInteger(v) && v > 0) return v;
  if (typeof v === 'string') {
    const m = /^\s*(\d+)\s*(B|KiB|MiB|GiB)?\s*$/.exec(v);
    if (m !== null) {
      const mult = { B: 1, KiB: 1 << 10, MiB: 1 << 20, GiB: 2 ** 30 }[m[2] as 'B' | 'KiB' | 'MiB' | 'GiB' ?? 'B'];
      const n = Number(m[1]) * mult;
      if (n > 0 && Number.isSafeInteger(n)) return n;
    }
  }
  throw new BpfError('EINVAL', `${where}: '${String(v)}' is not a size (e.g. 256KiB, 4MiB, 2GiB)`);
}

/** A size as the list prints it: 2GiB, 256KiB, 3MiB. */
export function formatSize(n: number): string {
  for (const [unit, m] of [['GiB', 2 ** 30], ['MiB', 1 << 20], ['KiB', 1 << 10]] as const) {
    if (n >= m && n % m === 0) return `${n / m}${unit}`;
  }
  return `${n}B`;
}

class Reader {
  constructor(readonly file: string) {}

  fail(path: string, why: string): never {
    throw new BpfError('EINVAL', `${this.file}: ${path}: ${why}`);
  }

  obj(v: unknown, path: string): Record<string, unknown> {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) this.fail(path, 'must be a mapping');
    return v as Record<string, unknown>;
  }

  int(o: Record<string, unknown>, key: string, path: string, min = 1, max = 0xffffffff): number {
    const v = o[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) this.fail(`${path}.${key}`, `must be an integer in ${min}..${max}, not ${String(v)}`);
    return v;
  }

  str(o: Record<string, unknown>, key: string, path: string): string {
    const v = o[key];
    if (typeof v !== 'string' || v === '') this.fail(`${path}.${key}`, 'must be a non-empty string');
    return v;
  }

  bool(o: Record<string, unknown>, key: string, path: string, dflt: boolean): boolean {
    const v = o[key];
    if (v === undefined) return dflt;
    if (typeof v !== 'boolean') this.fail(`${path}.${key}`, 'must be true or false');
    return v;
  }

  size(o: Record<string, unknown>, key: string, path: string): number {
    try {
      return parseSize(o[key], `${path}.${key}`);
    } catch (e) {
      this.fail(`${path}.${key}`, (e as Error).message.replace(/^.*?: /, ''));
    }
  }

  /** Hex bytes: a string or a list of strings (one TLV record per line); spaces ignored. */
  hex(v: unknown, path: string): Uint8Array {
    const parts = Array.isArray(v) ? v : [v];
    let text = '';
    parts.forEach((p, i) => {
      if (typeof p !== 'string') this.fail(`${path}[${i}]`, 'must be a string of hex bytes');
      text += p.replace(/\s+/g, '');
    });
    if (!/^([0-9a-fA-F]{2})*$/.test(text)) this.fail(path, 'must be hex bytes (pairs of hex digits)');
    const out = new Uint8Array(text.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
    return out;
  }
}

function mapTypeNumber(r: Reader, name: unknown, path: string): number {
  if (typeof name !== 'string') r.fail(path, 'must be a map type name (hash, array, ...)');
  const i = (MAP_TYPE_NAMES as readonly string[]).indexOf(name.toUpperCase());
  if (i <= 0) r.fail(path, `unknown map type '${name}'`);
  return i;
}

/** Parse one image file's text; BpfError(EINVAL) naming the file and the field on anything wrong. */
export function parseFirmwareImage(text: string, file: string): FirmwareImage {
  const r: Reader = new Reader(file);
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new BpfError('EINVAL', `${file}: not valid YAML: ${(e as Error).message}`);
  }
  const top = r.obj(doc, '(top)');
  const app = top['app'];
  if (app !== 'ebpf' && app !== 'nic') r.fail('app', `must be 'ebpf' or 'nic', not ${String(app)}`);
  const pci = r.obj(top['pci'], 'pci');
  const dp = r.obj(top['datapath'], 'datapath');
  const mem = r.obj(top['memory'], 'memory');
  const ctm = r.obj(mem['ctm'], 'memory.ctm');
  const emem = r.obj(mem['emem'], 'memory.emem');
  const variants = emem['variants'];
  if (!Array.isArray(variants) || variants.length === 0) r.fail('memory.emem.variants', 'must be a list of sizes');
  const vnic = r.obj(top['vnic'], 'vnic');
  const vbpf = r.obj(vnic['bpf'] ?? {}, 'vnic.bpf');
  const ctrl = r.obj(top['ctrl'], 'ctrl');
  const vcap = vnic['cap'] ?? [];
  if (!Array.isArray(vcap) || !vcap.every((c) => c === 'bpf')) r.fail('vnic.cap', "must be a list of capabilities (only 'bpf' is modeled)");
  const vbcap = vbpf['cap'] ?? [];
  if (!Array.isArray(vbcap) || !vbcap.every((c) => c === 'relo')) r.fail('vnic.bpf.cap', "must be a list of BPF capabilities (only 'relo')");
  const abi = vbpf['abi'] === undefined ? 0 : r.int(vbpf, 'abi', 'vnic.bpf', 0, 255);

  let bpf: FirmwareBpfParams | null = null;
  if (top['bpf'] !== undefined && top['bpf'] !== null) {
    const b = r.obj(top['bpf'], 'bpf');
    const types = b['map_types'] ?? [];
    if (!Array.isArray(types)) r.fail('bpf.map_types', 'must be a list of map type names');
    bpf = {
      cmsgAbi: r.int(b, 'cmsg_abi', 'bpf', 2, 3),
      mapTypes: types.map((t, i) => mapTypeNumber(r, t, `bpf.map_types[${i}]`)),
      maxMaps: r.int(b, 'max_maps', 'bpf', 0),
      maxElems: r.int(b, 'max_elems', 'bpf', 0),
      maxKeySz: r.int(b, 'max_key_sz', 'bpf', 0, 256),
      maxValSz: r.int(b, 'max_val_sz', 'bpf', 0, 256),
      maxElemSz: r.int(b, 'max_elem_sz', 'bpf', 0, 512),
      multiEnt: r.bool(b, 'multi_ent', 'bpf', false),
    };
  }

  const rtsym: Record<string, Uint8Array> = {};
  const syms = top['rtsym'] ?? {};
  for (const [name, v] of Object.entries(r.obj(syms, 'rtsym'))) rtsym[name] = r.hex(v, `rtsym.${name}`);

  const image: FirmwareImage = {
    name: r.str(top, 'name', '(top)'),
    description: r.str(top, 'description', '(top)'),
    file,
    app,
    chip: r.str(top, 'chip', '(top)'),
    pci: { vendor: r.int(pci, 'vendor', 'pci', 0, 0xffff), device: r.int(pci, 'device', 'pci', 0, 0xffff) },
    ports: top['ports'] === undefined ? 1 : r.int(top, 'ports', '(top)', 1, 8),
    datapath: {
      cores: r.int(dp, 'cores', 'datapath', 1, 1024),
      threadsPerCore: r.int(dp, 'threads_per_core', 'datapath', 1, 8),
      clockMhz: r.int(dp, 'clock_mhz', 'datapath', 1, 10000),
      codeStoreInsns: r.int(dp, 'code_store_insns', 'datapath', 1, 1 << 20),
      stackBytesPerThread: r.int(dp, 'stack_bytes_per_thread', 'datapath', 1, 1 << 16),
      ...(dp['code_store_banks'] !== undefined ? { codeStoreBanks: r.int(dp, 'code_store_banks', 'datapath', 1, 2) } : {}),
    },
    memory: {
      ctmIslands: r.int(ctm, 'islands', 'memory.ctm', 1, 64),
      ctmBytesPerIsland: r.size(ctm, 'per_island', 'memory.ctm'),
      imemBytes: r.size(mem, 'imem', 'memory'),
      ememCacheBytes: r.size(emem, 'cache', 'memory.emem'),
      ememVariants: variants.map((v, i) => parseSize(v, `${file}: memory.emem.variants[${i}]`)),
      lmemBytesPerCore: r.size(mem, 'lmem_per_core', 'memory'),
    },
    vnic: {
      bpfCapable: vcap.includes('bpf'),
      maxMtu: r.int(vnic, 'max_mtu', 'vnic', 68, 65535),
      bpf: {
        abi,
        relo: vbcap.includes('relo'),
        maxLen: vbpf['max_len'] === undefined ? 0 : r.int(vbpf, 'max_len', 'vnic.bpf', 0, 0xffff),
        start: vbpf['start'] === undefined ? 0 : r.int(vbpf, 'start', 'vnic.bpf', 0, 0xffff),
        done: vbpf['done'] === undefined ? 0 : r.int(vbpf, 'done', 'vnic.bpf', 0, 0xffff),
        stackSz: vbpf['stack_sz'] === undefined ? 0 : r.int(vbpf, 'stack_sz', 'vnic.bpf', 0, 255),
        inlMtu: vbpf['inl_mtu'] === undefined ? 0 : r.int(vbpf, 'inl_mtu', 'vnic.bpf', 0, 255),
      },
    },
    ctrl: {
      maxMtu: r.int(ctrl, 'max_mtu', 'ctrl', 16, 65535),
      ringSlots: ctrl['ring_slots'] === undefined ? 256 : r.int(ctrl, 'ring_slots', 'ctrl', 2, 65536),
    },
    bpf,
    rtsym,
  };
  if ((image.datapath.codeStoreBanks ?? 1) > 1 && image.datapath.codeStoreInsns * (image.datapath.codeStoreBanks ?? 1) > 1 << 14) {
    r.fail('datapath.code_store_banks', `${image.datapath.codeStoreBanks} banks of ${image.datapath.codeStoreInsns} instructions pass the 14-bit code address`);
  }
  const codeEnd = image.vnic.bpf.start + image.vnic.bpf.maxLen;
  if (codeEnd > image.datapath.codeStoreInsns) r.fail('vnic.bpf', `start ${image.vnic.bpf.start} + max_len ${image.vnic.bpf.maxLen} pass the ${image.datapath.codeStoreInsns}-instruction code store`);
  if (image.vnic.bpf.stackSz * 64 > image.datapath.stackBytesPerThread) r.fail('vnic.bpf.stack_sz', `${image.vnic.bpf.stackSz} x 64 B exceed the ${image.datapath.stackBytesPerThread} B stack per thread`);
  return image;
}
