// ELF64 little-endian relocatable objects as clang -target bpf writes them (include/uapi/linux/elf.h,
// the System V gABI): the header, section headers and their names, the symbol table and SHT_REL
// relocation tables. This is the bottom of the object loader (object.ts does what libbpf's
// bpf_object__elf_init/elf_collect do on top of it). Nothing here trusts the file: every offset, size
// and count is checked against the buffer before it is read, and a malformed file is a
// BpfError('EINVAL') that names what is wrong. Reads never allocate in proportion to a number taken
// from the file without first checking that the bytes it describes are really there.

import { BpfError } from './errno.js';

// ---- e_ident, e_type, e_machine ----
export const ELFMAG = [0x7f, 0x45, 0x4c, 0x46] as const; // "\x7fELF"
export const EI_CLASS = 4;
export const EI_DATA = 5;
export const EI_VERSION = 6;
export const ELFCLASS64 = 2;
export const ELFDATA2LSB = 1;
export const EV_CURRENT = 1;
export const ET_REL = 1;
export const EM_NONE = 0;
export const EM_BPF = 247;

// ---- section header types and flags ----
export const SHT_NULL = 0;
export const SHT_PROGBITS = 1;
export const SHT_SYMTAB = 2;
export const SHT_STRTAB = 3;
export const SHT_RELA = 4;
export const SHT_NOBITS = 8;
export const SHT_REL = 9;
export const SHT_LLVM_ADDRSIG = 0x6fff4c03;
export const SHF_WRITE = 0x1;
export const SHF_ALLOC = 0x2;
export const SHF_EXECINSTR = 0x4;

// ---- special section indexes ----
export const SHN_UNDEF = 0;
export const SHN_LORESERVE = 0xff00;
export const SHN_ABS = 0xfff1;
export const SHN_COMMON = 0xfff2;
export const SHN_XINDEX = 0xffff;

// ---- symbols ----
export const STB_LOCAL = 0;
export const STB_GLOBAL = 1;
export const STB_WEAK = 2;
export const STT_NOTYPE = 0;
export const STT_OBJECT = 1;
export const STT_FUNC = 2;
export const STT_SECTION = 3;
export const STT_FILE = 4;
export const STV_DEFAULT = 0;
export const STV_INTERNAL = 1;
export const STV_HIDDEN = 2;

// ---- BPF relocation types (llvm/BinaryFormat/ELFRelocs/BPF.def) ----
export const R_BPF_NONE = 0;
export const R_BPF_64_64 = 1;
export const R_BPF_64_ABS64 = 2;
export const R_BPF_64_ABS32 = 3;
export const R_BPF_64_NODYLD32 = 4;
export const R_BPF_64_32 = 10;

const R_BPF_NAMES: Readonly<Record<number, string>> = {
  [R_BPF_NONE]: 'R_BPF_NONE',
  [R_BPF_64_64]: 'R_BPF_64_64',
  [R_BPF_64_ABS64]: 'R_BPF_64_ABS64',
  [R_BPF_64_ABS32]: 'R_BPF_64_ABS32',
  [R_BPF_64_NODYLD32]: 'R_BPF_64_NODYLD32',
  [R_BPF_64_32]: 'R_BPF_64_32',
};

/** `R_BPF_64_64`, or `type N` for a number LLVM does not define. */
export function relocTypeName(type: number): string {
  return R_BPF_NAMES[type] ?? `type ${type}`;
}

export const ELF64_EHDR_SIZE = 64;
export const ELF64_SHDR_SIZE = 64;
export const ELF64_SYM_SIZE = 24;
export const ELF64_REL_SIZE = 16;

export interface ElfHeader {
  readonly type: number;
  readonly machine: number;
  readonly shoff: number;
  readonly shnum: number;
  readonly shstrndx: number;
}

export interface ElfSection {
  readonly index: number;
  readonly name: string;
  readonly type: number;
  readonly flags: number;
  readonly offset: number;
  /** sh_size; for SHT_NOBITS the size in memory, with no bytes in the file. */
  readonly size: number;
  readonly link: number;
  readonly info: number;
  readonly addralign: number;
  readonly entsize: number;
  /** The section's bytes (a view into the file); empty for SHT_NOBITS. */
  readonly data: Uint8Array;
}

export interface ElfSymbol {
  readonly index: number;
  readonly name: string;
  readonly nameOff: number;
  /** st_value: for a defined symbol in a relocatable object, its byte offset in its section. */
  readonly value: number;
  readonly size: number;
  readonly bind: number;
  readonly type: number;
  readonly visibility: number;
  readonly shndx: number;
}

export interface ElfRel {
  /** r_offset: byte offset in the target section. */
  readonly offset: number;
  /** ELF64_R_SYM(r_info) */
  readonly sym: number;
  /** ELF64_R_TYPE(r_info) */
  readonly type: number;
}

export interface ElfFile {
  readonly bytes: Uint8Array;
  readonly header: ElfHeader;
  /** Indexed by section number; [0] is the null section. */
  readonly sections: readonly ElfSection[];
  /** The one SHT_SYMTAB section, or undefined for a stripped object. */
  readonly symtab?: ElfSection;
  /** Symbols of .symtab by index ([0] is the null symbol); empty when there is no symbol table. */
  readonly symbols: readonly ElfSymbol[];
}

const fail = (what: string): never => {
  throw new BpfError('EINVAL', `elf: ${what}`);
};

/**
 * A u64 field as a JS number. Values above 2^53 lose precision but stay larger than any buffer, so
 * every bounds check below still rejects them; exact 64-bit values are never needed for a BPF object.
 */
function u64(dv: DataView, off: number): number {
  return dv.getUint32(off, true) + dv.getUint32(off + 4, true) * 0x1_0000_0000;
}

const utf8 = new TextDecoder('utf-8');

/** A NUL-terminated string at `off` inside a string table, or an error naming the table. */
export function strtabString(table: Uint8Array, off: number, what: string): string {
  if (off >= table.length) fail(`${what}: string offset ${off} is past the end of the table (${table.length} bytes)`);
  const end = table.indexOf(0, off);
  if (end < 0) fail(`${what}: string at offset ${off} is not NUL-terminated`);
  return utf8.decode(table.subarray(off, end));
}

function sectionName(shstrtab: Uint8Array, off: number, index: number): string {
  return strtabString(shstrtab, off, `section ${index} name`);
}

/**
 * Parse an ELF64 little-endian relocatable BPF object. Checks the identification, the type (ET_REL),
 * the machine (EM_BPF, or EM_NONE that old LLVM wrote, which libbpf also accepts), the section header
 * table (in bounds, aligned, not overlapping the ELF header), every section's bytes (in bounds, not
 * overlapping the header tables or each other), the section-name table and the symbol table.
 */
export function parseElf(bytes: Uint8Array): ElfFile {
  if (bytes.length < ELF64_EHDR_SIZE) fail(`file is ${bytes.length} bytes, too short for an ELF header`);
  for (let i = 0; i < 4; i++) if (bytes[i] !== ELFMAG[i]) fail('not an ELF file (bad magic)');
  if (bytes[EI_CLASS] !== ELFCLASS64) fail(`not a 64-bit ELF object (EI_CLASS ${bytes[EI_CLASS]})`);
  if (bytes[EI_DATA] !== ELFDATA2LSB) fail(`endianness mismatch: EI_DATA ${bytes[EI_DATA]}, only little-endian objects are supported`);
  if (bytes[EI_VERSION] !== EV_CURRENT) fail(`unknown ELF version ${bytes[EI_VERSION]}`);

  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const type = dv.getUint16(16, true);
  const machine = dv.getUint16(18, true);
  if (type !== ET_REL) fail(`not a relocatable object (e_type ${type}); a BPF object is ET_REL`);
  if (machine !== EM_BPF && machine !== EM_NONE) fail(`not an eBPF object: e_machine ${machine}, expected EM_BPF (${EM_BPF})`);
  const shoff = u64(dv, 40);
  const ehsize = dv.getUint16(52, true);
  const shentsize = dv.getUint16(58, true);
  let shnum = dv.getUint16(60, true);
  let shstrndx = dv.getUint16(62, true);
  if (ehsize !== ELF64_EHDR_SIZE) fail(`bad e_ehsize ${ehsize}`);
  if (shoff === 0) fail('no section header table');
  if (shentsize !== ELF64_SHDR_SIZE) fail(`bad e_shentsize ${shentsize}, expected ${ELF64_SHDR_SIZE}`);
  if (shoff % 8 !== 0) fail(`section header table at ${shoff} is not 8-byte aligned`);
  if (shoff < ELF64_EHDR_SIZE) fail(`section header table at ${shoff} overlaps the ELF header`);
  if (shoff + ELF64_SHDR_SIZE > bytes.length) fail(`section header table at ${shoff} is past the end of the file (${bytes.length} bytes)`);

  // Extended numbering (gABI): counts that do not fit in 16 bits live in section 0's header.
  if (shnum === 0) shnum = u64(dv, shoff + 32);
  if (shstrndx === SHN_XINDEX) shstrndx = dv.getUint32(shoff + 40, true);
  if (shnum === 0) fail('no sections');
  if (shoff + shnum * ELF64_SHDR_SIZE > bytes.length) {
    fail(`section header table (${shnum} entries at ${shoff}) runs past the end of the file (${bytes.length} bytes)`);
  }
  if (shstrndx === SHN_UNDEF || shstrndx >= shnum) fail(`bad e_shstrndx ${shstrndx} (${shnum} sections)`);

  interface Raw { name: number; type: number; flags: number; offset: number; size: number; link: number; info: number; addralign: number; entsize: number }
  const raw: Raw[] = new Array(shnum);
  for (let i = 0; i < shnum; i++) {
    const p = shoff + i * ELF64_SHDR_SIZE;
    raw[i] = {
      name: dv.getUint32(p, true), type: dv.getUint32(p + 4, true), flags: u64(dv, p + 8), offset: u64(dv, p + 24),
      size: u64(dv, p + 32), link: dv.getUint32(p + 40, true), info: dv.getUint32(p + 44, true),
      addralign: u64(dv, p + 48), entsize: u64(dv, p + 56),
    };
  }

  // Every section with bytes in the file must lie inside it, clear of the ELF header and the
  // section header table, and clear of every other section.
  const shtEnd = shoff + shnum * ELF64_SHDR_SIZE;
  const spans: { start: number; end: number; index: number }[] = [];
  for (let i = 1; i < shnum; i++) {
    const s = raw[i]!;
    if (s.type === SHT_NOBITS || s.type === SHT_NULL || s.size === 0) continue;
    const end = s.offset + s.size;
    if (end > bytes.length) fail(`section ${i} (offset ${s.offset}, size ${s.size}) is past the end of the file (${bytes.length} bytes)`);
    if (s.offset < ELF64_EHDR_SIZE) fail(`section ${i} (offset ${s.offset}) overlaps the ELF header`);
    if (s.offset < shtEnd && end > shoff) fail(`section ${i} (offset ${s.offset}, size ${s.size}) overlaps the section header table`);
    spans.push({ start: s.offset, end, index: i });
  }
  spans.sort((a, b) => a.start - b.start);
  for (let k = 1; k < spans.length; k++) {
    const a = spans[k - 1]!;
    const b = spans[k]!;
    if (b.start < a.end) fail(`sections ${a.index} and ${b.index} overlap`);
  }

  const strRaw = raw[shstrndx]!;
  if (strRaw.type !== SHT_STRTAB) fail(`section-name table (section ${shstrndx}) is not SHT_STRTAB`);
  const shstrtab = bytes.subarray(strRaw.offset, strRaw.offset + strRaw.size);
  if (shstrtab.length === 0) fail('section-name table is empty');

  const sections: ElfSection[] = new Array(shnum);
  for (let i = 0; i < shnum; i++) {
    const s = raw[i]!;
    const data = s.type === SHT_NOBITS || i === 0 ? new Uint8Array(0) : bytes.subarray(s.offset, s.offset + s.size);
    sections[i] = {
      index: i, name: i === 0 ? '' : sectionName(shstrtab, s.name, i), type: s.type, flags: s.flags, offset: s.offset,
      size: s.size, link: s.link, info: s.info, addralign: s.addralign, entsize: s.entsize, data,
    };
  }

  let symtab: ElfSection | undefined;
  for (const s of sections) {
    if (s.type !== SHT_SYMTAB) continue;
    if (symtab !== undefined) fail(`multiple symbol tables (sections ${symtab.index} and ${s.index})`);
    symtab = s;
  }
  const symbols = symtab === undefined ? [] : parseSymbols(dv, sections, symtab);
  return { bytes, header: { type, machine, shoff, shnum, shstrndx }, sections, ...(symtab ? { symtab } : {}), symbols };
}

function parseSymbols(dv: DataView, sections: readonly ElfSection[], symtab: ElfSection): ElfSymbol[] {
  const where = `symbol table (section ${symtab.index})`;
  if (symtab.entsize !== ELF64_SYM_SIZE) fail(`${where}: sh_entsize ${symtab.entsize}, expected ${ELF64_SYM_SIZE}`);
  if (symtab.size % ELF64_SYM_SIZE !== 0) fail(`${where}: size ${symtab.size} is not a multiple of ${ELF64_SYM_SIZE}`);
  if (symtab.offset % 8 !== 0) fail(`${where}: offset ${symtab.offset} is not 8-byte aligned`);
  const strtab = sections[symtab.link];
  if (strtab === undefined || symtab.link === 0 || strtab.type !== SHT_STRTAB) {
    fail(`${where}: sh_link ${symtab.link} is not a string table`);
  }
  const strs = strtab!.data;
  const n = symtab.size / ELF64_SYM_SIZE;
  const out: ElfSymbol[] = new Array(n);
  const base = symtab.offset;
  for (let i = 0; i < n; i++) {
    const p = base + i * ELF64_SYM_SIZE;
    const nameOff = dv.getUint32(p, true);
    const info = dv.getUint8(p + 4);
    const other = dv.getUint8(p + 5);
    out[i] = {
      index: i, nameOff, name: nameOff === 0 ? '' : strtabString(strs, nameOff, `symbol ${i} name`),
      bind: info >> 4, type: info & 0xf, visibility: other & 0x3, shndx: dv.getUint16(p + 6, true),
      value: u64(dv, p + 8), size: u64(dv, p + 16),
    };
  }
  return out;
}

/** The entries of an SHT_REL section, checked for entry size, alignment and symbol indexes. */
export function parseRel(elf: ElfFile, rel: ElfSection): ElfRel[] {
  const where = `relocation section ${rel.index} '${rel.name}'`;
  if (rel.type !== SHT_REL) fail(`${where} is not SHT_REL`);
  if (rel.entsize !== ELF64_REL_SIZE) fail(`${where}: sh_entsize ${rel.entsize}, expected ${ELF64_REL_SIZE}`);
  if (rel.size % ELF64_REL_SIZE !== 0) fail(`${where}: size ${rel.size} is not a multiple of ${ELF64_REL_SIZE}`);
  if (rel.offset % 8 !== 0) fail(`${where}: offset ${rel.offset} is not 8-byte aligned`);
  const dv = new DataView(elf.bytes.buffer, elf.bytes.byteOffset, elf.bytes.byteLength);
  const n = rel.size / ELF64_REL_SIZE;
  const out: ElfRel[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const p = rel.offset + i * ELF64_REL_SIZE;
    const sym = dv.getUint32(p + 12, true);
    if (sym >= elf.symbols.length) fail(`${where}: relocation #${i} refers to symbol #${sym}, the table has ${elf.symbols.length}`);
    out[i] = { offset: u64(dv, p), type: dv.getUint32(p + 8, true), sym };
  }
  return out;
}

/** The first section with this name (libbpf's elf_sec_by_name), or undefined. */
export function sectionByName(elf: ElfFile, name: string): ElfSection | undefined {
  for (let i = 1; i < elf.sections.length; i++) if (elf.sections[i]!.name === name) return elf.sections[i];
  return undefined;
}
