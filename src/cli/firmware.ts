// `nfp-emu firmware list` and the global `--firmware NAME` option. The list shows each image in
// firmware/images: what it is built for (cores, threads, clock, code store, memories) and its BPF
// capabilities as the nfp driver reads them from `_abi_bpf_capabilities` — the same parser the probe
// uses, so a record the driver would warn about shows up here with the driver's words.
//
// Commands that boot a host read the global option with hostOptionsFrom(command).

import { Command } from 'commander';
import pino from 'pino';
import { isBpfError } from '../bpf/errno.js';
import { mapTypeStr } from '../bpf/prog-types.js';
import {
  NFP_BPF_ADJUST_HEAD_NO_META, NfpAppBpf, NfpLog, nfp_bpf_init_capabilities, nfp_bpf_parse_capabilities,
} from '../drivers/nfp/main.js';
import { DEFAULT_FIRMWARE, type HostOptions } from '../host.js';
import { firmwareDir, formatSize, listFirmwareImages, type FirmwareImage } from '../nic/fw-image.js';
import type { CliIo, CliState } from './main.js';

/** What the driver makes of an image's capability records, and what it would log. */
export interface ImageCapabilities {
  readonly bpf: NfpAppBpf | null;
  readonly log: readonly string[];
  readonly wellFormed: boolean;
}

export function imageCapabilities(image: FirmwareImage): ImageCapabilities {
  if (image.app !== 'ebpf') return { bpf: null, log: [], wellFormed: true };
  const log: string[] = [];
  const logger = pino({ level: 'debug', base: undefined, timestamp: false }, {
    write: (s: string) => {
      for (const line of s.split('\n')) if (line !== '') log.push((JSON.parse(line) as { msg: string }).msg);
    },
  });
  const bpf = new NfpAppBpf(new NfpLog(logger, 'firmware'));
  nfp_bpf_init_capabilities(bpf);
  const sym = image.rtsym['_abi_bpf_capabilities'];
  const r = nfp_bpf_parse_capabilities(bpf, sym);
  return { bpf, log, wellFormed: r.ok };
}

function mapTypes(mask: number): string[] {
  const out: string[] = [];
  for (let t = 0; t < 32; t++) if ((mask & (1 << t)) !== 0) out.push(mapTypeStr(t));
  return out;
}

function capSummary(b: NfpAppBpf): string[] {
  const parts: string[] = [];
  if (b.maps.types !== 0) {
    parts.push(`maps ${mapTypes(b.maps.types).join('+')} (${b.maps.max_maps} maps, ${b.maps.max_elems} elements, key <= ${b.maps.max_key_sz} B, value <= ${b.maps.max_val_sz} B, element <= ${b.maps.max_elem_sz} B)`);
  }
  const helpers = Object.entries(b.helpers).filter(([, a]) => a !== 0).map(([n, a]) => `${n}@0x${a.toString(16)}`);
  if (helpers.length > 0) parts.push(`helpers ${helpers.join(' ')}`);
  const ah = b.adjust_head;
  if (ah.off_max !== 0) parts.push(`adjust_head ${ah.off_min}..${ah.off_max} (guaranteed -${ah.guaranteed_sub}/+${ah.guaranteed_add}${(ah.flags & NFP_BPF_ADJUST_HEAD_NO_META) !== 0 ? ', no meta' : ''})`);
  const flags = [['RANDOM', b.pseudo_random], ['QUEUE_SELECT', b.queue_select], ['ADJUST_TAIL', b.adjust_tail], ['CMSG_MULTI_ENT', b.cmsg_multi_ent]] as const;
  const on = flags.filter(([, v]) => v).map(([n]) => n);
  if (on.length > 0) parts.push(on.join(' '));
  return parts;
}

function abiText(c: ImageCapabilities, image: FirmwareImage): string {
  if (c.bpf === null) return '-';
  if (c.bpf.abi_version === 0) return `${image.vnic.bpf.abi}!`;
  return String(c.bpf.abi_version);
}

function listPlain(io: CliIo): void {
  const entries = listFirmwareImages();
  const rows: string[][] = [['NAME', 'APP', 'BPF ABI', 'CORES', 'THREADS', 'MHZ', 'CODE STORE', 'EMEM', 'DESCRIPTION']];
  const notes: string[] = [];
  for (const e of entries) {
    if (e.image === undefined) {
      notes.push(`broken image ${e.file}: ${e.error}`);
      continue;
    }
    const im = e.image;
    const c = imageCapabilities(im);
    rows.push([
      im.name + (im.name === DEFAULT_FIRMWARE ? ' *' : ''), im.app, abiText(c, im), String(im.datapath.cores),
      String(im.datapath.threadsPerCore), String(im.datapath.clockMhz), `${im.datapath.codeStoreInsns} insns`,
      im.memory.ememVariants.map(formatSize).join('/'), im.description,
    ]);
    const lines: string[] = [];
    if (c.bpf !== null) {
      if (c.bpf.abi_version === 0) lines.push('offload refused: the driver does not support this BPF ABI version');
      lines.push(...capSummary(c.bpf));
    }
    lines.push(`CTM ${im.memory.ctmIslands} x ${formatSize(im.memory.ctmBytesPerIsland)}, IMEM ${formatSize(im.memory.imemBytes)}, EMEM cache ${formatSize(im.memory.ememCacheBytes)}, LMEM ${formatSize(im.memory.lmemBytesPerCore)}/core, stack ${im.datapath.stackBytesPerThread} B/thread`);
    for (const l of c.log) if (!l.includes('unknown BPF capability')) lines.push(`driver: ${l.replace(/^nfp firmware: /, '')}`);
    notes.push(...lines.map((l) => `  ${im.name}: ${l}`));
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) io.stdout.write(r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd() + '\n');
  io.stdout.write(`(* the default; select with --firmware NAME, or NAME:SIZE for another EMEM size; images in ${firmwareDir()})\n`);
  for (const n of notes) io.stdout.write(`${n}\n`);
}

function listJson(io: CliIo): void {
  const out = listFirmwareImages().map((e) => {
    if (e.image === undefined) return { file: e.file, error: e.error };
    const im = e.image;
    const c = imageCapabilities(im);
    return {
      name: im.name, default: im.name === DEFAULT_FIRMWARE, description: im.description, app: im.app, chip: im.chip,
      file: im.file, cores: im.datapath.cores, threads_per_core: im.datapath.threadsPerCore, clock_mhz: im.datapath.clockMhz,
      code_store_insns: im.datapath.codeStoreInsns, stack_bytes_per_thread: im.datapath.stackBytesPerThread,
      memory: {
        ctm_islands: im.memory.ctmIslands, ctm_bytes_per_island: im.memory.ctmBytesPerIsland, imem_bytes: im.memory.imemBytes,
        emem_cache_bytes: im.memory.ememCacheBytes, emem_bytes: im.memory.ememVariants, lmem_bytes_per_core: im.memory.lmemBytesPerCore,
      },
      bpf: c.bpf === null ? null : {
        abi_version: c.bpf.abi_version, offload_supported: c.bpf.abi_version !== 0, capabilities_well_formed: c.wellFormed,
        maps: { ...c.bpf.maps, types: mapTypes(c.bpf.maps.types) }, helpers: c.bpf.helpers, adjust_head: c.bpf.adjust_head,
        random: c.bpf.pseudo_random, queue_select: c.bpf.queue_select, adjust_tail: c.bpf.adjust_tail,
        cmsg_multi_ent: c.bpf.cmsg_multi_ent, driver_log: c.log,
      },
    };
  });
  io.stdout.write(JSON.stringify(out) + '\n');
}

/** Add `--firmware NAME` (global) and `firmware list` to the program. */
export function registerFirmware(program: Command, io: CliIo, state: CliState): void {
  program.option('--firmware <name>', `firmware image the NIC boots with (default ${DEFAULT_FIRMWARE}; see \`firmware list\`)`);
  const fw = program.command('firmware').description('the emulated NFP\'s firmware images');
  fw.command('list')
    .description('list the firmware images: cores, memories and BPF capabilities as the nfp driver reads them')
    .option('-j, --json', 'JSON output')
    .action((opts: { json?: boolean }) => {
      try {
        if (opts.json === true) listJson(io);
        else listPlain(io);
      } catch (e) {
        if (!isBpfError(e)) throw e;
        io.stderr.write(`nfp-emu: ${e.message}\n`);
        state.exitCode = 1;
      }
    });
}

/** The host options a command's global flags ask for (`--firmware NAME`). */
export function hostOptionsFrom(cmd: Command): HostOptions {
  const o = cmd.optsWithGlobals<{ firmware?: string }>();
  return o.firmware !== undefined ? { firmware: o.firmware } : {};
}
