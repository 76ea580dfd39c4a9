// `nfp-emu objdump FILE.o`: the disassembly `llvm-objdump -d` prints for a BPF object (every non-empty
// executable section, a `<symbol>:` header wherever a symbol starts, jump targets annotated with the
// label at the target), and with --maps the maps as libbpf would create them from the object.

import { readFileSync } from 'node:fs';
import { BpfError } from '../bpf/errno.js';
import { disassemble } from '../bpf/disasm.js';
import { parseElf, type ElfFile, type ElfSymbol } from '../bpf/elf.js';
import { decodeRaw } from '../bpf/insn.js';
import { loadObject, type MapSpec } from '../bpf/object.js';
import { findOp } from '../bpf/opcodes.js';
import { jumpTarget } from '../kernel/exec/cfg.js';
import { mapTypeStr } from '../bpf/prog-types.js';

const SHF_EXECINSTR = 0x4;
const STT_SECTION = 3;
const STT_FILE = 4;

/** Symbols that name a place in a section, by byte offset, in llvm-objdump's order (address, then name). */
function labelsOf(elf: ElfFile, shndx: number): Map<number, string[]> {
  const byOff = new Map<number, string[]>();
  const syms: ElfSymbol[] = elf.symbols.filter((s) => s.shndx === shndx && s.type !== STT_SECTION && s.type !== STT_FILE && s.name !== '');
  syms.sort((a, b) => a.value - b.value || a.name.localeCompare(b.name));
  for (const s of syms) byOff.set(s.value, [...(byOff.get(s.value) ?? []), s.name]);
  return byOff;
}

/** The whole `llvm-objdump -d` text for an object file's bytes. */
export function objdump(bytes: Uint8Array, displayName: string): string {
  const elf = parseElf(bytes);
  const out: string[] = ['', `${displayName}:\tfile format elf64-bpf`, ''];
  for (const sec of elf.sections) {
    if ((sec.flags & SHF_EXECINSTR) === 0 || sec.size === 0) continue;
    if (sec.data.length % 8 !== 0) throw new BpfError('EINVAL', `section ${sec.name}: size ${sec.data.length} is not a multiple of 8`);
    out.push(`Disassembly of section ${sec.name}:`);
    const insns = decodeRaw(sec.data);
    const labels = labelsOf(elf, sec.index);
    const listing = disassemble(insns, { flavour: 'llvm', listing: true, opcodes: true });
    let line = 0;
    for (let i = 0; i < insns.length; i++) {
      for (const name of labels.get(i * 8) ?? []) out.push('', `${(i * 8).toString(16).padStart(16, '0')} <${name}>:`);
      const x = insns[i]!;
      const op = findOp(x.code, x.src, x.off, x.imm);
      let text = listing[line++] ?? '';
      const t = op === undefined ? undefined : jumpTarget(op, x, i);
      const target = t === undefined ? undefined : labels.get(t * 8)?.[0];
      if (target !== undefined) text += ` <${target}>`;
      out.push(text);
      if (op?.kind === 'lddw') i++;
    }
    out.push('');
  }
  return out.join('\n');
}

/** The maps of an object as libbpf creates them: name, type, sizes, flags, pinning, initial data. */
export function mapsListing(bytes: Uint8Array, path: string): string {
  const obj = loadObject(bytes, path);
  const rows = obj.maps.map((m: MapSpec) => [
    m.name, mapTypeStr(m.type), `key ${m.keySize}B`, `value ${m.valueSize}B`, `max_entries ${m.maxEntries}`,
    `flags 0x${m.flags.toString(16)}`,
    m.internal ? `${m.realName} (${m.initialData?.length ?? 0}B initial data)` : m.pinPath !== undefined ? `pinned ${m.pinPath}` : '',
  ]);
  if (rows.length === 0) return `${path}: no maps\n`;
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  const lines = rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c]!)).join('  ').trimEnd());
  return `Maps of ${path} (as libbpf creates them):\n${lines.join('\n')}\n`;
}

export function runObjdump(file: string, opts: { maps?: boolean }, write: (s: string) => void): void {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    throw new BpfError('ENOENT', `'${file}': ${(e as Error).message}`);
  }
  write(objdump(bytes, file));
  if (opts.maps) write(`\n${mapsListing(bytes, file)}`);
}
