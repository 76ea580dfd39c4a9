// A clang-built BPF ELF object turned into program and map specifications the way libbpf's
// bpf_object__open() + bpf_object__relocate() do it (src/libbpf.c): programs are the function symbols of
// executable sections, typed by libbpf's section_defs[]; `.text` functions are subprograms appended
// to each program that calls them (transitively) with call and lddw-func offsets fixed; maps come from
// BTF-defined `.maps`, the legacy `maps` section, global data (`.data*`, `.rodata*`, `.bss*`) and
// `.kconfig` externs, named and flagged as libbpf does; map references in code become
// BPF_PSEUDO_MAP_FD / BPF_PSEUDO_MAP_VALUE lddw pairs whose imm holds the map's index until a loader
// substitutes the fd (see withMapFds()). func_info/line_info from .BTF.ext are rebased onto the final
// instruction layout, as libbpf hands them to BPF_PROG_LOAD.
//
// What is not done here: anything that needs a kernel (creating maps, resolving ksyms/kfuncs against
// vmlinux BTF, CO-RE relocations, reading /proc/config.gz), and struct_ops. Those are recorded
// (externs, notes) for the loader. Everything that comes from the file is checked: a malformed or
// hostile object is BpfError('EINVAL') with a message naming the section, symbol or instruction.

import {
  Btf, BTF_FUNC_EXTERN, BTF_INT_BOOL, BTF_INT_SIGNED, BTF_KIND_ARRAY, BTF_KIND_DATASEC, BTF_KIND_ENUM,
  BTF_KIND_ENUM64, BTF_KIND_FUNC, BTF_KIND_FUNC_PROTO, BTF_KIND_INT, BTF_KIND_NAMES, BTF_KIND_PTR, BTF_KIND_STRUCT,
  BTF_KIND_VAR, BTF_VAR_GLOBAL_ALLOCATED, BTF_VAR_GLOBAL_EXTERN, BTF_VAR_STATIC, parseBtf, parseBtfExt,
  type BpfFuncInfo, type BpfLineInfo, type BtfExt, type BtfExtInfoSec, type BtfStruct, type BtfType,
  type BtfVarSecinfo,
} from './btf.js';
import {
  parseElf, parseRel, relocTypeName, sectionByName, R_BPF_64_32, R_BPF_64_64, R_BPF_64_ABS64, SHF_EXECINSTR,
  SHN_LORESERVE, SHN_UNDEF, SHT_LLVM_ADDRSIG, SHT_NOBITS, SHT_PROGBITS, SHT_REL, SHT_STRTAB, SHT_SYMTAB, STB_GLOBAL,
  STB_LOCAL, STB_WEAK, STT_FUNC, STT_NOTYPE, STT_OBJECT, STT_SECTION, STV_HIDDEN, STV_INTERNAL,
  type ElfFile, type ElfSection, type ElfSymbol,
} from './elf.js';
import { BpfError, isBpfError } from './errno.js';
import { decodeRaw, type Insn } from './insn.js';
import {
  BPF_CALL, BPF_DW, BPF_IMM, BPF_INSN_SIZE, BPF_JMP, BPF_LD, BPF_PSEUDO_CALL, BPF_PSEUDO_FUNC,
  BPF_PSEUDO_KFUNC_CALL, BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE,
} from './opcodes.js';
import {
  BPF_ATTACH_TYPE, BPF_F_MMAPABLE, BPF_F_RDONLY_PROG, BPF_MAP_TYPE, BPF_PROG_TYPE, findSecDef, secDefProgFlags,
  type SecDef,
} from './prog-types.js';

/** BPF_OBJ_NAME_LEN: object, map and program names the kernel keeps are at most 15 chars + NUL. */
export const BPF_OBJ_NAME_LEN = 16;
/** BPF_COMPLEXITY_LIMIT_INSNS: the most instructions a (privileged) program may have. */
export const BPF_COMPLEXITY_LIMIT_INSNS = 1_000_000;
/**
 * KMALLOC_MAX_SIZE on x86-64: the largest value an ARRAY map may have (array_map_alloc_check() says
 * E2BIG above it), so the largest global-data section or .kconfig a loadable object can have.
 */
export const KMALLOC_MAX_SIZE = 1 << 22;
/** Bound on everything relocation may produce for one object (instructions, BTF.ext records). */
const OBJECT_EXPANSION_LIMIT = 4_000_000;
const SCAN_LIMIT = 50_000_000;
/** libbpf's enum libbpf_pin_type. */
export const LIBBPF_PIN_NONE = 0;
export const LIBBPF_PIN_BY_NAME = 1;
/** sizeof(struct bpf_map_def) of the legacy `maps` section: type, key_size, value_size, max_entries, map_flags. */
export const BPF_MAP_DEF_SIZE = 20;
const PAGE_SIZE = 4096;

const LDDW = BPF_LD | BPF_IMM | BPF_DW;
const CALL = BPF_JMP | BPF_CALL;

export interface LoadObjectOptions {
  /**
   * Whose rules set BPF_F_MMAPABLE on internal maps. 'current' (default): libbpf's map_is_mmapable()
   * (since Linux 6.2's libbpf), only maps whose DATASEC has a non-static, non-hidden variable. 'v1.1':
   * the libbpf 1.1 of Linux 6.1 and bpftool 7.1, every internal map.
   */
  libbpf?: 'current' | 'v1.1';
  /** Root for LIBBPF_PIN_BY_NAME pin paths (libbpf's pin_root_path). Default /sys/fs/bpf. */
  pinRootPath?: string;
}

/** How an lddw refers to a map: its fd (BPF_PSEUDO_MAP_FD) or an address inside its value (BPF_PSEUDO_MAP_VALUE). */
export type MapRelocKind = 'map_fd' | 'map_value';

export interface MapReloc {
  /** Index of the lddw's first slot in ProgramSpec.insns. */
  readonly insnIdx: number;
  readonly mapIdx: number;
  readonly kind: MapRelocKind;
  /** For map_value, the byte offset into the value (also in the second slot's imm). */
  readonly offset: number;
}

/** A reference to a kernel symbol a loader must resolve (libbpf's RELO_EXTERN_LD64 / RELO_EXTERN_CALL for ksyms). */
export interface ExternReloc {
  readonly insnIdx: number;
  readonly name: string;
  readonly kind: 'ksym' | 'kfunc';
}

export interface SubprogPlacement {
  readonly name: string;
  /** Where its first instruction landed in ProgramSpec.insns. */
  readonly insnOff: number;
  readonly insnCnt: number;
}

export interface ProgramSpec {
  readonly name: string;
  /** The ELF section, without libbpf's leading '?' (which only clears autoload). */
  readonly section: string;
  readonly sectionIndex: number;
  /** enum bpf_prog_type from the section name; 0 (UNSPEC) when no section definition matches. */
  readonly progType: number;
  readonly expectedAttachType: number;
  /** BPF_PROG_LOAD prog_flags implied by the section (BPF_F_SLEEPABLE, BPF_F_XDP_HAS_FRAGS). */
  readonly progFlags: number;
  readonly secDef: SecDef | undefined;
  readonly autoload: boolean;
  /** Instruction offset of the function in its section. */
  readonly secInsnOff: number;
  /** The program's own instructions; insns.length also counts appended subprograms. */
  readonly secInsnCnt: number;
  /** Relocated instructions: map lddw imm = map index (see withMapFds), calls fixed, subprograms appended. */
  readonly insns: Insn[];
  readonly subprogs: readonly SubprogPlacement[];
  readonly mapRelocs: readonly MapReloc[];
  readonly externRelocs: readonly ExternReloc[];
  /** bpf_func_info records, insnOff in instructions of `insns` (what BPF_PROG_LOAD takes). */
  readonly funcInfo: readonly BpfFuncInfo[];
  readonly funcInfoRecSize: number;
  /** bpf_line_info records, insnOff in instructions of `insns`. */
  readonly lineInfo: readonly BpfLineInfo[];
  readonly lineInfoRecSize: number;
}

/** A slot of a map-in-map or prog-array initialised in `.maps` (`.values = { [0] = &other }`). */
export interface InitSlot {
  readonly index: number;
  readonly kind: 'map' | 'prog';
  readonly name: string;
  /** Index into BpfObject.maps or BpfObject.programs. */
  readonly target: number;
}

export type LibbpfMapType = 'user' | 'data' | 'bss' | 'rodata' | 'kconfig';

export interface MapSpec {
  /** libbpf's map->name: the variable name, or `<obj>.<section>` for internal maps (internal_map_name()). */
  readonly name: string;
  /** The ELF section of an internal map (libbpf's real_name), else the map's name. */
  readonly realName: string;
  readonly type: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly flags: number;
  readonly numaNode: number;
  readonly mapExtra: number;
  readonly pinning: number;
  /** Where LIBBPF_PIN_BY_NAME pins it. */
  readonly pinPath?: string;
  readonly internal: boolean;
  readonly libbpfType: LibbpfMapType;
  /** Initial value of internal maps (zero-filled for .bss and .kconfig). */
  readonly initialData?: Uint8Array;
  /** BTF ids as libbpf passes them to BPF_MAP_CREATE (0 for map types the kernel takes without BTF). */
  readonly btfKeyTypeId: number;
  readonly btfValueTypeId: number;
  readonly innerMap?: MapSpec;
  readonly initSlots: readonly InitSlot[];
  readonly sectionIndex: number;
  readonly secOffset: number;
}

export interface KconfigExtern {
  readonly name: string;
  readonly kind: 'kcfg';
  readonly size: number;
  readonly align: number;
  /** Offset in the .kconfig map's value. */
  readonly dataOff: number;
  readonly isWeak: boolean;
  readonly kcfgType: 'char' | 'bool' | 'int' | 'tristate' | 'char_arr';
  readonly isSigned: boolean;
}

export interface KsymExtern {
  readonly name: string;
  readonly kind: 'ksym';
  readonly isWeak: boolean;
  readonly isFunc: boolean;
  /** Local BTF id of the symbol's type (0 for a typeless ksym). */
  readonly typeId: number;
}

export type Extern = KconfigExtern | KsymExtern;

export interface SkippedSection {
  readonly index: number;
  readonly name: string;
  readonly reason: string;
}

export interface BpfObject {
  /** libbpf's obj->name: the file's basename up to the first '.', at most 15 chars. */
  readonly name: string;
  readonly license: string;
  /** From the `version` section; 0 when absent (libbpf would fill in the running kernel's). */
  readonly kernVersion: number;
  readonly programs: readonly ProgramSpec[];
  readonly maps: readonly MapSpec[];
  readonly externs: readonly Extern[];
  /** The object's BTF after libbpf's DATASEC fixups, if it has a valid .BTF. */
  readonly btf?: Btf;
  readonly btfExt?: BtfExt;
  /** Sections libbpf ignores or skips, with why (DWARF, unrecognized data sections such as libxdp's). */
  readonly skipped: readonly SkippedSection[];
  /** Things done differently from or left undone by a real load (CO-RE, struct_ops, ignored BTF errors). */
  readonly notes: readonly string[];
}

const fail = (msg: string): never => {
  throw new BpfError('EINVAL', msg);
};

/** libbpf's bpf_object__new() naming: basename, cut at the first '.', truncated to 15 characters. */
export function objectName(path: string): string {
  const base = path.slice(path.lastIndexOf('/') + 1).slice(0, BPF_OBJ_NAME_LEN - 1);
  const dot = base.indexOf('.');
  return dot >= 0 ? base.slice(0, dot) : base;
}

/** libbpf's internal_map_name(): `<first 8 of obj>.<section>` with its rules for long and dotted names. */
export function internalMapName(objName: string, realName: string): string {
  let sfxLen = Math.max(7, realName.length);
  if (sfxLen >= BPF_OBJ_NAME_LEN) sfxLen = BPF_OBJ_NAME_LEN - 1;
  // Two or more dots (".rodata.foo") is a custom section: its ELF name is used without the prefix.
  const pfxLen = realName.indexOf('.', 1) >= 0 ? 0 : Math.min(BPF_OBJ_NAME_LEN - sfxLen - 1, objName.length);
  const name = (objName.slice(0, pfxLen) + realName.slice(0, sfxLen)).slice(0, BPF_OBJ_NAME_LEN - 1);
  return name.replace(/[^A-Za-z0-9_.]/g, '_');
}

// ---------------------------------------------------------------------------------------------
// Internal state, mirroring libbpf's struct bpf_program / bpf_map / extern_desc during open.

type RelocType = 'ld64' | 'call' | 'data' | 'extern_ld64' | 'extern_call' | 'subprog_addr';

interface RelocDesc {
  type: RelocType;
  insnIdx: number;
  mapIdx: number;
  symOff: number;
  extIdx: number;
}

interface Prog {
  readonly name: string;
  readonly secName: string;
  readonly secIdx: number;
  readonly secInsnOff: number;
  readonly secInsnCnt: number;
  readonly autoload: boolean;
  readonly symGlobal: boolean;
  /** Own instructions (subprograms are copied from here into each main program). */
  readonly own: Insn[];
  relocs: RelocDesc[];
  relocByInsn: Map<number, RelocDesc>;
  // per main program being relocated
  insns: Insn[];
  subInsnOff: number;
  funcInfo: BpfFuncInfo[] | null;
  lineInfo: BpfLineInfo[] | null;
  funcInfoRecSize: number;
  lineInfoRecSize: number;
  placements: SubprogPlacement[];
  mapRelocs: MapReloc[];
  externRelocs: ExternReloc[];
}

interface MapState {
  name: string;
  realName: string;
  libbpfType: LibbpfMapType;
  secIdx: number;
  secOffset: number;
  btfVarIdx: number;
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  numaNode: number;
  mapExtra: number;
  pinning: number;
  btfKeyTypeId: number;
  btfValueTypeId: number;
  initialData?: Uint8Array;
  inner?: MapState;
  initSlots: InitSlot[];
}

interface ExternDesc {
  readonly kind: 'kcfg' | 'ksym';
  readonly name: string;
  readonly symIdx: number;
  readonly btfId: number;
  readonly isWeak: boolean;
  readonly isFunc: boolean;
  readonly typeId: number;
  readonly size: number;
  readonly align: number;
  readonly kcfgType: KconfigExtern['kcfgType'];
  readonly isSigned: boolean;
  dataOff: number;
}

type SecType = 'unused' | 'relo' | 'bss' | 'data' | 'rodata';

class Loader {
  readonly elf: ElfFile;
  readonly objName: string;
  readonly opts: Required<LoadObjectOptions>;
  readonly secTypes: SecType[];
  readonly skipped: SkippedSection[] = [];
  readonly notes: string[] = [];
  license = '';
  kernVersion = 0;
  progs: Prog[] = [];
  maps: MapState[] = [];
  externs: ExternDesc[] = [];
  kconfigMapIdx = -1;
  textShndx = -1;
  btfMapsShndx = -1;
  legacyMapsShndx = -1;
  btfMapsSecBtfId = 0;
  btf: Btf | undefined;
  btfExt: BtfExt | undefined;
  /** For each .BTF.ext info section, the ELF section it describes (libbpf's seg->sec_idxs). */
  funcInfoSecIdx: number[] = [];
  lineInfoSecIdx: number[] = [];
  budget = OBJECT_EXPANSION_LIMIT;
  /** Work budget for scans whose length the file controls (BTF.ext records visited per program). */
  scanBudget = SCAN_LIMIT;
  /** Symbol indexes per section index, so per-section walks are linear in the symbol table. */
  readonly symsBySection = new Map<number, ElfSymbol[]>();
  /** Lookups that would otherwise be linear scans per relocation or per variable. */
  readonly externBySym = new Map<number, number>();
  readonly mapBySecOff = new Map<string, number>();
  readonly dataMapBySec = new Map<number, number>();

  constructor(bytes: Uint8Array, name: string, opts: LoadObjectOptions) {
    this.elf = parseElf(bytes);
    this.objName = name;
    this.opts = { libbpf: opts.libbpf ?? 'current', pinRootPath: opts.pinRootPath ?? '/sys/fs/bpf' };
    this.secTypes = new Array<SecType>(this.elf.sections.length).fill('unused');
    for (const sym of this.elf.symbols) {
      const list = this.symsBySection.get(sym.shndx);
      if (list === undefined) this.symsBySection.set(sym.shndx, [sym]);
      else list.push(sym);
    }
  }

  get symbols(): readonly ElfSymbol[] {
    return this.elf.symbols;
  }

  section(idx: number): ElfSection {
    const s = this.elf.sections[idx];
    if (s === undefined) fail(`elf: section index ${idx} out of range (${this.elf.sections.length} sections)`);
    return s!;
  }

  skip(s: ElfSection, reason: string): void {
    this.skipped.push({ index: s.index, name: s.name, reason });
  }

  spend(n: number, what: string): void {
    this.budget -= n;
    if (this.budget < 0) fail(`object expands to more than ${OBJECT_EXPANSION_LIMIT} ${what} during relocation`);
  }

  // ---- bpf_object__elf_collect ----

  collect(): void {
    const elf = this.elf;
    const symtab = elf.symtab;
    if (symtab === undefined) fail("elf: couldn't find symbol table, stripped object file?");
    let btfSec: ElfSection | undefined;
    let btfExtSec: ElfSection | undefined;
    for (let idx = 1; idx < elf.sections.length; idx++) {
      const s = elf.sections[idx]!;
      const name = s.name;
      if (ignoreElfSection(s)) {
        this.skip(s, 'ignored');
        continue;
      }
      if (name === 'license') {
        if (s.type === SHT_NOBITS) fail('invalid license section');
        const n = Math.min(s.data.length, 63);
        const nul = s.data.subarray(0, n).indexOf(0);
        this.license = new TextDecoder('latin1').decode(s.data.subarray(0, nul < 0 ? n : nul));
      } else if (name === 'version') {
        if (s.type === SHT_NOBITS || s.data.length !== 4) fail(`invalid kver section: ${s.size} bytes, expected 4`);
        this.kernVersion = new DataView(s.data.buffer, s.data.byteOffset, 4).getUint32(0, true);
      } else if (name === 'maps') {
        this.legacyMapsShndx = idx;
      } else if (name === '.maps') {
        this.btfMapsShndx = idx;
      } else if (name === '.BTF') {
        if (s.type !== SHT_PROGBITS) fail('elf: .BTF is not SHT_PROGBITS');
        btfSec = s;
      } else if (name === '.BTF.ext') {
        if (s.type !== SHT_PROGBITS) fail('elf: .BTF.ext is not SHT_PROGBITS');
        btfExtSec = s;
      } else if (s.type === SHT_SYMTAB) {
        // parsed with the file
      } else if (s.type === SHT_PROGBITS && s.size > 0) {
        if (s.flags & SHF_EXECINSTR) {
          if (name === '.text') this.textShndx = idx;
          this.addPrograms(s);
        } else if (name === '.data' || name.startsWith('.data.')) {
          this.secTypes[idx] = 'data';
        } else if (name === '.rodata' || name.startsWith('.rodata.')) {
          this.secTypes[idx] = 'rodata';
        } else if (name === '.struct_ops' || name === '.struct_ops.link') {
          this.skip(s, 'struct_ops is not supported');
          this.notes.push(`section '${name}': struct_ops maps are not supported and were skipped`);
        } else {
          this.skip(s, 'unrecognized data section');
        }
      } else if (s.type === SHT_REL) {
        if (s.entsize !== 16 || s.info >= elf.sections.length) fail(`elf: relocation section ${idx} '${name}' is malformed (entsize ${s.entsize}, target ${s.info})`);
        const target = elf.sections[s.info]!;
        if (!(target.flags & SHF_EXECINSTR) && name !== '.rel.maps') {
          this.skip(s, `relocations for non-executable section '${target.name}'`);
          continue;
        }
        this.secTypes[idx] = 'relo';
      } else if (s.type === SHT_NOBITS && (name === '.bss' || name.startsWith('.bss.'))) {
        this.secTypes[idx] = 'bss';
      } else {
        this.skip(s, 'unrecognized section');
      }
    }
    const strtabIdx = symtab!.link;
    if (strtabIdx === 0 || strtabIdx >= elf.sections.length) fail('elf: symbol strings section missing or invalid');
    this.progs.sort((a, b) => a.secIdx - b.secIdx || a.secInsnOff - b.secInsnOff);
    this.initBtf(btfSec, btfExtSec);
  }

  /** bpf_object__add_programs(): one program per STT_FUNC symbol of an executable section. */
  addPrograms(sec: ElfSection): void {
    for (const sym of this.symsBySection.get(sec.index) ?? []) {
      if (sym.type !== STT_FUNC) continue;
      const off = sym.value;
      const size = sym.size;
      if (off + size > sec.size) fail(`sec '${sec.name}': program '${sym.name}' at offset ${off} crosses section boundary`);
      if (sec.index !== this.textShndx && sym.bind === STB_LOCAL) {
        fail(`sec '${sec.name}': program '${sym.name}' is static and not supported`);
      }
      if (size === 0 || size % BPF_INSN_SIZE !== 0 || off % BPF_INSN_SIZE !== 0) {
        fail(`sec '${sec.name}': corrupted program '${sym.name}', offset ${off}, size ${size}`);
      }
      const autoload = !sec.name.startsWith('?');
      const own = decodeRaw(sec.data.subarray(off, off + size));
      this.progs.push({
        name: sym.name, secName: autoload ? sec.name : sec.name.slice(1), secIdx: sec.index, secInsnOff: off / BPF_INSN_SIZE,
        secInsnCnt: size / BPF_INSN_SIZE, autoload, symGlobal: sym.bind !== STB_LOCAL, own, relocs: [], relocByInsn: new Map(),
        insns: [], subInsnOff: 0, funcInfo: null, lineInfo: null, funcInfoRecSize: 0, lineInfoRecSize: 0, placements: [],
        mapRelocs: [], externRelocs: [],
      });
    }
  }

  /** bpf_object__init_btf(): a bad .BTF/.BTF.ext is fatal only when maps or externs need BTF. */
  initBtf(btfSec: ElfSection | undefined, btfExtSec: ElfSection | undefined): void {
    const needsBtf = this.btfMapsShndx >= 0;
    if (btfSec !== undefined) {
      try {
        this.btf = parseBtf(btfSec.data);
      } catch (e) {
        if (!isBpfError(e) || needsBtf) throw e;
        this.notes.push(`.BTF ignored: ${e.message}`);
      }
    }
    if (btfExtSec !== undefined && this.btf !== undefined) {
      try {
        this.btfExt = parseBtfExt(btfExtSec.data, this.btf);
      } catch (e) {
        if (!isBpfError(e) || needsBtf) throw e;
        this.notes.push(`.BTF.ext ignored: ${e.message}`);
      }
    }
    if (needsBtf && this.btf === undefined) fail('BTF is required, but is missing or corrupted');
    if (this.btfExt !== undefined) {
      const idxOf = (s: BtfExtInfoSec<unknown>): number => (s.secName === '' ? -1 : sectionByName(this.elf, s.secName)?.index ?? -1);
      this.funcInfoSecIdx = this.btfExt.funcInfo.map(idxOf);
      this.lineInfoSecIdx = this.btfExt.lineInfo.map(idxOf);
      if (this.btfExt.coreRelos.length > 0) {
        this.notes.push('CO-RE relocations are present and were not applied (they need the target kernel\'s BTF)');
      }
    }
  }

  requireBtf(what: string): Btf {
    if (this.btf === undefined) fail(`${what}: the object has no (valid) BTF`);
    return this.btf!;
  }

  // ---- bpf_object__collect_externs ----

  collectExterns(): void {
    let varOrFuncByName: Map<string, number> | undefined;
    let datasecOfVar: Map<number, number> | undefined;
    for (const sym of this.symsBySection.get(SHN_UNDEF) ?? []) {
      if (!((sym.bind === STB_GLOBAL || sym.bind === STB_WEAK) && sym.type === STT_NOTYPE)) continue;
      if (sym.name === '') continue;
      const btf = this.requireBtf(`extern '${sym.name}'`);
      if (varOrFuncByName === undefined || datasecOfVar === undefined) {
        // find_extern_btf_id() and find_extern_sec_btf_id() take the first match in id order.
        varOrFuncByName = new Map();
        datasecOfVar = new Map();
        for (let i = 1; i < btf.count; i++) {
          const t = btf.types[i]!;
          if ((t.kind === BTF_KIND_VAR || t.kind === BTF_KIND_FUNC) && !varOrFuncByName.has(t.name)) varOrFuncByName.set(t.name, i);
          if (t.kind === BTF_KIND_DATASEC) for (const v of t.vars) if (!datasecOfVar.has(v.type)) datasecOfVar.set(v.type, i);
        }
      }
      const btfId = varOrFuncByName.get(sym.name) ?? -1;
      if (btfId < 0) fail(`failed to find BTF for extern '${sym.name}'`);
      const t = btf.type(btfId) as Extract<BtfType, { kind: typeof BTF_KIND_VAR | typeof BTF_KIND_FUNC }>;
      if ((t.kind === BTF_KIND_VAR && t.linkage !== BTF_VAR_GLOBAL_EXTERN) || (t.kind === BTF_KIND_FUNC && t.linkage !== BTF_FUNC_EXTERN)) {
        fail(`extern '${sym.name}': BTF ${BTF_KIND_NAMES[t.kind]} [${btfId}] is not extern`);
      }
      const secId = datasecOfVar.get(btfId) ?? -1;
      if (secId <= 0) fail(`failed to find BTF for extern '${sym.name}' [${btfId}] section`);
      const secName = btf.type(secId).name;
      const isWeak = sym.bind === STB_WEAK;
      if (secName === '.kconfig') {
        if (t.kind === BTF_KIND_FUNC) fail(`extern function ${t.name} is unsupported under .kconfig section`);
        const size = this.btfSize(t.type, `extern (kcfg) '${t.name}'`);
        if (size <= 0) fail(`failed to resolve size of extern (kcfg) '${t.name}'`);
        const align = btf.alignOf(t.type);
        if (align <= 0) fail(`failed to determine alignment of extern (kcfg) '${t.name}'`);
        const kt = kcfgType(btf, t.type);
        if (kt === undefined) fail(`extern (kcfg) '${t.name}': type is unsupported`);
        this.externs.push({ kind: 'kcfg', name: t.name, symIdx: sym.index, btfId, isWeak, isFunc: false, typeId: t.type, size, align, kcfgType: kt!.type, isSigned: kt!.signed, dataOff: 0 });
      } else if (secName === '.ksyms') {
        const typeId = btf.skipModsAndTypedefs(t.type).id;
        this.externs.push({ kind: 'ksym', name: t.name, symIdx: sym.index, btfId, isWeak, isFunc: t.kind === BTF_KIND_FUNC, typeId, size: 0, align: 0, kcfgType: 'int', isSigned: false, dataOff: 0 });
      } else {
        fail(`unrecognized extern section '${secName}'`);
      }
    }
    if (this.externs.length === 0) return;
    // Sorted by kind, kcfg ones by (alignment desc, size asc), ties by name, as libbpf's cmp_externs.
    this.externs.sort((a, b) => {
      if (a.kind !== b.kind) return a.kind === 'kcfg' ? -1 : 1;
      if (a.kind === 'kcfg' && a.align !== b.align) return b.align - a.align;
      if (a.kind === 'kcfg' && a.size !== b.size) return a.size - b.size;
      return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
    });
    for (let i = 0; i < this.externs.length; i++) this.externBySym.set(this.externs[i]!.symIdx, i);
    const btf = this.btf!;
    const ksymSec = btf.findByName('.ksyms', BTF_KIND_DATASEC);
    if (ksymSec > 0 && this.externs.some((e) => e.kind === 'ksym')) {
      // Each ksym becomes a 4-byte allocated int in BTF so the kernel accepts the DATASEC.
      const intId = btf.types.findIndex((t) => t.kind === BTF_KIND_INT && t.bits === 32);
      const sec = btf.type(ksymSec);
      if (sec.kind === BTF_KIND_DATASEC) {
        const vars: BtfVarSecinfo[] = sec.vars.map((v, i) => {
          const vt = btf.type(v.type);
          if (vt.kind === BTF_KIND_VAR) btf.fixupVar(v.type, BTF_VAR_GLOBAL_ALLOCATED, intId > 0 ? intId : 0);
          else this.notes.push(`ksym function '${vt.name}': its BTF DATASEC entry was left as is`);
          return { ...v, offset: i * 4, size: 4 };
        });
        btf.fixupDatasec(ksymSec, vars.length * 4, vars);
      }
    }
    let off = 0;
    for (const e of this.externs) {
      if (e.kind !== 'kcfg') continue;
      e.dataOff = Math.ceil(off / e.align) * e.align;
      off = e.dataOff + e.size;
    }
    const kcfgByName = new Map<string, ExternDesc>();
    for (const e of this.externs) if (e.kind === 'kcfg' && !kcfgByName.has(e.name)) kcfgByName.set(e.name, e);
    const kcfgSec = btf.findByName('.kconfig', BTF_KIND_DATASEC);
    if (kcfgSec > 0) {
      const sec = btf.type(kcfgSec);
      if (sec.kind === BTF_KIND_DATASEC) {
        const vars = sec.vars.map((v) => {
          const vt = btf.type(v.type);
          const ext = kcfgByName.get(vt.name);
          if (ext === undefined) return fail(`failed to find extern definition for BTF var '${vt.name}'`);
          btf.setVarLinkage(v.type, BTF_VAR_GLOBAL_ALLOCATED);
          return { ...v, offset: ext.dataOff };
        });
        btf.fixupDatasec(kcfgSec, off, vars);
      }
    }
  }

  btfSize(typeId: number, what: string): number {
    try {
      return this.requireBtf(what).resolveSize(typeId);
    } catch (e) {
      if (isBpfError(e)) fail(`${what}: can't determine size for type [${typeId}]: ${e.message}`);
      throw e;
    }
  }

  // ---- bpf_object_fixup_btf: DATASEC sizes and variable offsets from the ELF ----

  fixupBtf(): void {
    const btf = this.btf;
    if (btf === undefined) return;
    // find_elf_var_sym(): the first global or weak STT_OBJECT with the name.
    const objByName = new Map<string, ElfSymbol>();
    for (const s of this.symbols) {
      if (s.type === STT_OBJECT && (s.bind === STB_GLOBAL || s.bind === STB_WEAK) && !objByName.has(s.name)) objByName.set(s.name, s);
    }
    for (let id = 1; id < btf.count; id++) {
      const t = btf.types[id]!;
      if (t.kind !== BTF_KIND_DATASEC) continue;
      const secName = t.name;
      if (secName === '.kconfig' || secName === '.ksyms') {
        btf.fixupDatasec(id, t.size, [...t.vars].sort((a, b) => a.offset - b.offset));
        continue;
      }
      let size = t.size;
      const fixOffsets = size === 0;
      if (fixOffsets) {
        const s = sectionByName(this.elf, secName);
        size = s?.size ?? 0;
        if (size === 0) fail(`sec '${secName}': failed to determine size from ELF for its BTF DATASEC [${id}]`);
      }
      const vars: BtfVarSecinfo[] = [];
      for (let i = 0; i < t.vars.length; i++) {
        const vsi = t.vars[i]!;
        const v = btf.type(vsi.type);
        if (v.kind !== BTF_KIND_VAR) fail(`sec '${secName}': unexpected non-VAR type [${vsi.type}] in DATASEC`);
        const tv = v as Extract<BtfType, { kind: typeof BTF_KIND_VAR }>;
        if (tv.linkage === BTF_VAR_STATIC || tv.linkage === BTF_VAR_GLOBAL_EXTERN) {
          vars.push(vsi);
          continue;
        }
        const sym = objByName.get(tv.name);
        if (sym === undefined) fail(`sec '${secName}': failed to find ELF symbol for VAR '${tv.name}'`);
        vars.push(fixOffsets ? { ...vsi, offset: sym!.value } : vsi);
        // A hidden global behaves as static: libbpf marks it so, which also decides mmapability.
        if (this.opts.libbpf === 'current' && (sym!.visibility === STV_HIDDEN || sym!.visibility === STV_INTERNAL)) {
          btf.setVarLinkage(vsi.type, BTF_VAR_STATIC);
        }
      }
      vars.sort((a, b) => a.offset - b.offset);
      btf.fixupDatasec(id, size, vars);
    }
  }

  // ---- bpf_object__init_maps ----

  addMap(m: Omit<MapState, 'initSlots' | 'btfVarIdx' | 'numaNode' | 'mapExtra' | 'pinning' | 'btfKeyTypeId' | 'btfValueTypeId'> & Partial<MapState>): MapState {
    const full: MapState = { btfVarIdx: 0, numaNode: 0, mapExtra: 0, pinning: 0, btfKeyTypeId: 0, btfValueTypeId: 0, initSlots: [], ...m };
    this.maps.push(full);
    return full;
  }

  /** libbpf 0.x bpf_object__init_user_maps(): equally sized struct bpf_map_def records, one per symbol. */
  initLegacyMaps(): void {
    if (this.legacyMapsShndx < 0) return;
    const sec = this.section(this.legacyMapsShndx);
    if (sec.type === SHT_NOBITS) fail("elf: failed to get legacy map definitions: 'maps' has no data");
    const syms = (this.symsBySection.get(sec.index) ?? []).filter((s) => s.type !== STT_SECTION);
    if (sec.size === 0 || syms.length === 0 || sec.size % syms.length !== 0) {
      fail(`elf: unable to determine legacy map definition size ('maps' is ${sec.size} bytes, ${syms.length} symbols)`);
    }
    const defSz = sec.size / syms.length;
    const dv = new DataView(sec.data.buffer, sec.data.byteOffset, sec.data.byteLength);
    for (const sym of syms) {
      if (sym.bind === STB_LOCAL) fail(`map '${sym.name}' (legacy): static maps are not supported`);
      if (sym.value + defSz > sec.size) fail(`corrupted maps section: last map "${sym.name}" too small`);
      const f = [0, 0, 0, 0, 0];
      for (let i = 0; i < 5 && i * 4 + 4 <= defSz; i++) f[i] = dv.getUint32(sym.value + i * 4, true);
      for (let b = BPF_MAP_DEF_SIZE; b < defSz; b++) {
        if (sec.data[sym.value + b] !== 0) fail(`maps section: "${sym.name}" has unrecognized, non-zero options`);
      }
      this.addMap({
        name: sym.name, realName: sym.name, libbpfType: 'user', secIdx: sec.index, secOffset: sym.value,
        type: f[0]!, keySize: f[1]!, valueSize: f[2]!, maxEntries: f[3]!, flags: f[4]!,
      });
    }
  }

  /** bpf_object__init_user_btf_maps(): one map per VAR of the `.maps` DATASEC. */
  initBtfMaps(): void {
    if (this.btfMapsShndx < 0) return;
    const btf = this.requireBtf('.maps');
    const sec = this.section(this.btfMapsShndx);
    const secId = btf.findByName('.maps', BTF_KIND_DATASEC);
    if (secId < 0) fail("DATASEC '.maps' not found");
    this.btfMapsSecBtfId = secId;
    const ds = btf.type(secId);
    if (ds.kind !== BTF_KIND_DATASEC) return;
    ds.vars.forEach((vi, varIdx) => {
      const v = btf.type(vi.type);
      const mapName = v.name;
      if (mapName === '') fail(`map #${varIdx}: empty name`);
      if (vi.offset + vi.size > sec.size) fail(`map '${mapName}' BTF data is corrupted`);
      if (v.kind !== BTF_KIND_VAR) fail(`map '${mapName}': unexpected var kind ${BTF_KIND_NAMES[v.kind]}`);
      const tv = v as Extract<BtfType, { kind: typeof BTF_KIND_VAR }>;
      if (tv.linkage !== BTF_VAR_GLOBAL_ALLOCATED) fail(`map '${mapName}': unsupported map linkage ${tv.linkage === BTF_VAR_STATIC ? 'static' : 'extern'}`);
      const def = btf.skipModsAndTypedefs(tv.type).type;
      if (def.kind !== BTF_KIND_STRUCT) fail(`map '${mapName}': unexpected def kind ${BTF_KIND_NAMES[def.kind]}`);
      const st = def as BtfStruct;
      if (st.size > vi.size) fail(`map '${mapName}': invalid def size`);
      const parsed = this.parseBtfMapDef(mapName, st, false);
      const m = this.addMap({ name: mapName, realName: mapName, libbpfType: 'user', secIdx: sec.index, secOffset: vi.offset, btfVarIdx: varIdx, ...parsed.def });
      if (parsed.def.pinning === LIBBPF_PIN_BY_NAME) m.pinning = LIBBPF_PIN_BY_NAME;
      if (parsed.inner !== undefined) {
        m.inner = { ...parsed.inner, name: `${mapName}.inner`, realName: `${mapName}.inner`, libbpfType: 'user', secIdx: sec.index, secOffset: 0, btfVarIdx: 0, initSlots: [] };
      }
    });
  }

  /** libbpf's parse_btf_map_def() in strict mode: the __uint/__type/__array fields of a map definition. */
  parseBtfMapDef(mapName: string, def: BtfStruct, isInner: boolean): { def: MapDef; inner?: MapDef } {
    const btf = this.btf!;
    const d: MapDef = { type: 0, keySize: 0, valueSize: 0, maxEntries: 0, flags: 0, numaNode: 0, mapExtra: 0, pinning: 0, btfKeyTypeId: 0, btfValueTypeId: 0 };
    let inner: MapDef | undefined;
    const intField = (m: BtfStruct['members'][number]): number => {
      const t = btf.skipModsAndTypedefs(m.type).type;
      if (t.kind !== BTF_KIND_PTR) fail(`map '${mapName}': attr '${m.name}': expected PTR, got ${BTF_KIND_NAMES[t.kind]}`);
      const arr = btf.typeById((t as { type: number }).type);
      if (arr === undefined || arr.kind !== BTF_KIND_ARRAY) fail(`map '${mapName}': attr '${m.name}': expected ARRAY, got ${arr === undefined ? 'nothing' : BTF_KIND_NAMES[arr.kind]}`);
      return (arr as { nelems: number }).nelems;
    };
    const typeField = (m: BtfStruct['members'][number], what: 'key' | 'value'): { size: number; id: number } => {
      const t = btf.type(m.type);
      if (t.kind !== BTF_KIND_PTR) fail(`map '${mapName}': ${what} spec is not PTR: ${BTF_KIND_NAMES[t.kind]}`);
      const id = (t as { type: number }).type;
      return { size: this.btfSize(id, `map '${mapName}': ${what}`), id };
    };
    const setSize = (cur: number, sz: number, what: string): number => {
      if (cur !== 0 && cur !== sz) fail(`map '${mapName}': conflicting ${what} size ${cur} != ${sz}`);
      return sz;
    };
    def.members.forEach((m, i) => {
      switch (m.name) {
        case 'type': d.type = intField(m); break;
        case 'max_entries': d.maxEntries = intField(m); break;
        case 'map_flags': d.flags = intField(m); break;
        case 'numa_node': d.numaNode = intField(m); break;
        case 'map_extra': d.mapExtra = intField(m); break;
        case 'key_size': d.keySize = setSize(d.keySize, intField(m), 'key'); break;
        case 'value_size': d.valueSize = setSize(d.valueSize, intField(m), 'value'); break;
        case 'key': {
          const k = typeField(m, 'key');
          d.keySize = setSize(d.keySize, k.size, 'key');
          d.btfKeyTypeId = k.id;
          break;
        }
        case 'value': {
          const v = typeField(m, 'value');
          d.valueSize = setSize(d.valueSize, v.size, 'value');
          d.btfValueTypeId = v.id;
          break;
        }
        case 'values': {
          const isMapInMap = d.type === BPF_MAP_TYPE.ARRAY_OF_MAPS || d.type === BPF_MAP_TYPE.HASH_OF_MAPS;
          const isProgArray = d.type === BPF_MAP_TYPE.PROG_ARRAY;
          const desc = isMapInMap ? 'map-in-map inner' : 'prog-array value';
          if (isInner) fail(`map '${mapName}': multi-level inner maps not supported`);
          if (i !== def.members.length - 1) fail(`map '${mapName}': 'values' member should be last`);
          if (!isMapInMap && !isProgArray) fail(`map '${mapName}': should be map-in-map or prog-array`);
          d.valueSize = setSize(d.valueSize, 4, 'value');
          const arr = btf.type(m.type);
          if (arr.kind !== BTF_KIND_ARRAY || arr.nelems !== 0) fail(`map '${mapName}': ${desc} spec is not a zero-sized array`);
          const ptr = btf.skipModsAndTypedefs((arr as { type: number }).type).type;
          if (ptr.kind !== BTF_KIND_PTR) fail(`map '${mapName}': ${desc} def is of unexpected kind ${BTF_KIND_NAMES[ptr.kind]}`);
          const target = btf.skipModsAndTypedefs((ptr as { type: number }).type).type;
          if (isProgArray) {
            if (target.kind !== BTF_KIND_FUNC_PROTO) fail(`map '${mapName}': prog-array value def is of unexpected kind ${BTF_KIND_NAMES[target.kind]}`);
            break;
          }
          if (target.kind !== BTF_KIND_STRUCT) fail(`map '${mapName}': map-in-map inner def is of unexpected kind ${BTF_KIND_NAMES[target.kind]}`);
          inner = this.parseBtfMapDef(`${mapName}.inner`, target as BtfStruct, true).def;
          break;
        }
        case 'pinning': {
          if (isInner) fail(`map '${mapName}': inner def can't be pinned`);
          const val = intField(m);
          if (val !== LIBBPF_PIN_NONE && val !== LIBBPF_PIN_BY_NAME) fail(`map '${mapName}': invalid pinning value ${val}`);
          d.pinning = val;
          break;
        }
        default:
          fail(`map '${mapName}': unknown field '${m.name}'`);
      }
    });
    if (d.type === BPF_MAP_TYPE.UNSPEC) fail(`map '${mapName}': map type isn't specified`);
    // fill_map_from_def(): ring buffers are sized to a power-of-2 number of pages.
    if (d.type === BPF_MAP_TYPE.RINGBUF || d.type === BPF_MAP_TYPE.USER_RINGBUF) d.maxEntries = adjustRingbufSize(d.maxEntries);
    return inner === undefined ? { def: d } : { def: d, inner };
  }

  /** bpf_object__init_global_data_maps() and bpf_object__init_kconfig_map(). */
  initGlobalDataMaps(): void {
    for (let idx = 1; idx < this.elf.sections.length; idx++) {
      const t = this.secTypes[idx]!;
      if (t !== 'data' && t !== 'rodata' && t !== 'bss') continue;
      const s = this.elf.sections[idx]!;
      if (s.size === 0) continue;
      // A .bss has no bytes in the file, so its size must be bounded before anything is allocated.
      if (s.size > KMALLOC_MAX_SIZE) fail(`map '${s.name}': ${s.size} bytes is larger than the largest map value the kernel creates (${KMALLOC_MAX_SIZE})`);
      const data = new Uint8Array(s.size);
      if (t !== 'bss') data.set(s.data);
      this.addInternalMap(t, s.name, idx, data);
    }
    let last: ExternDesc | undefined;
    for (const e of this.externs) if (e.kind === 'kcfg') last = e;
    if (last !== undefined) {
      if (last.dataOff + last.size > KMALLOC_MAX_SIZE) fail(`.kconfig: ${last.dataOff + last.size} bytes of externs is larger than the largest map value the kernel creates`);
      this.addInternalMap('kconfig', '.kconfig', this.elf.symtab!.index, new Uint8Array(last.dataOff + last.size));
      this.kconfigMapIdx = this.maps.length - 1;
    }
  }

  /** bpf_object__init_internal_map(): a one-element ARRAY holding the section. */
  addInternalMap(type: LibbpfMapType, realName: string, secIdx: number, data: Uint8Array): void {
    if (data.length > KMALLOC_MAX_SIZE) {
      fail(`map '${realName}': ${data.length} bytes is larger than the largest map value the kernel creates (${KMALLOC_MAX_SIZE})`);
    }
    let flags = type === 'rodata' || type === 'kconfig' ? BPF_F_RDONLY_PROG : 0;
    // map_fill_btf_type_info(): the value type is whatever BTF type carries the section's name.
    const valueId = this.btf?.findByName(realName) ?? -1;
    const btfValueTypeId = valueId > 0 ? valueId : 0;
    if (this.opts.libbpf === 'v1.1' || this.mapIsMmapable(btfValueTypeId)) flags |= BPF_F_MMAPABLE;
    this.addMap({
      name: internalMapName(this.objName, realName), realName, libbpfType: type, secIdx, secOffset: 0,
      type: BPF_MAP_TYPE.ARRAY, keySize: 4, valueSize: data.length, maxEntries: 1, flags, btfValueTypeId, initialData: data,
    });
  }

  /** map_is_mmapable(): the DATASEC holds at least one variable that is not static. */
  mapIsMmapable(valueTypeId: number): boolean {
    if (valueTypeId === 0 || this.btf === undefined) return false;
    const t = this.btf.type(valueTypeId);
    if (t.kind !== BTF_KIND_DATASEC) return false;
    return t.vars.some((v) => {
      const vt = this.btf!.typeById(v.type);
      return vt !== undefined && vt.kind === BTF_KIND_VAR && vt.linkage !== BTF_VAR_STATIC;
    });
  }

  // ---- bpf_object__collect_relos ----

  collectRelos(): void {
    // The first map at each (section, offset), as libbpf's linear search finds it.
    this.maps.forEach((m, i) => {
      const key = `${m.secIdx}:${m.secOffset}`;
      if (m.libbpfType === 'user' && !this.mapBySecOff.has(key)) this.mapBySecOff.set(key, i);
      if (m.libbpfType !== 'user' && m.libbpfType !== 'kconfig' && !this.dataMapBySec.has(m.secIdx)) this.dataMapBySec.set(m.secIdx, i);
    });
    for (let idx = 1; idx < this.elf.sections.length; idx++) {
      if (this.secTypes[idx] !== 'relo') continue;
      const rel = this.elf.sections[idx]!;
      if (rel.info === this.btfMapsShndx) this.collectMapRelos(rel);
      else this.collectProgRelos(rel);
    }
    for (const p of this.progs) {
      p.relocs.sort((a, b) => a.insnIdx - b.insnIdx);
      for (const r of p.relocs) if (!p.relocByInsn.has(r.insnIdx)) p.relocByInsn.set(r.insnIdx, r);
    }
  }

  collectProgRelos(rel: ElfSection): void {
    const target = this.section(rel.info);
    for (const [i, r] of parseRel(this.elf, rel).entries()) {
      const sym = this.symbols[r.sym]!;
      if (sym.shndx >= this.elf.sections.length) {
        fail(`sec '${rel.name}': corrupted symbol #${r.sym} pointing to invalid section #${sym.shndx} for relo #${i}`);
      }
      if (r.offset % BPF_INSN_SIZE !== 0 || r.offset >= target.size) fail(`sec '${rel.name}': invalid offset 0x${r.offset.toString(16)} for relo #${i}`);
      const insnIdx = r.offset / BPF_INSN_SIZE;
      const symName = sym.type === STT_SECTION && sym.nameOff === 0 ? (this.elf.sections[sym.shndx]?.name ?? '<?>') : sym.name;
      const prog = this.findProgBySecInsn(target.index, insnIdx);
      if (prog === undefined) {
        this.notes.push(`sec '${rel.name}': relo #${i} at insn #${insnIdx} is outside every program, skipped`);
        continue;
      }
      const local = insnIdx - prog.secInsnOff;
      prog.relocs.push(this.recordReloc(prog, local, symName, sym, r.type));
    }
  }

  /** libbpf's find_prog_by_sec_insn(): binary search over programs sorted by (section, offset). */
  findProgBySecInsn(secIdx: number, insnIdx: number): Prog | undefined {
    const ps = this.progs;
    if (ps.length === 0) return undefined;
    let l = 0;
    let r = ps.length - 1;
    while (l < r) {
      const m = l + ((r - l + 1) >> 1);
      const p = ps[m]!;
      if (p.secIdx < secIdx || (p.secIdx === secIdx && p.secInsnOff <= insnIdx)) l = m;
      else r = m - 1;
    }
    const p = ps[l]!;
    return p.secIdx === secIdx && insnIdx >= p.secInsnOff && insnIdx < p.secInsnOff + p.secInsnCnt ? p : undefined;
  }

  /** bpf_program__record_reloc(), plus a check that the ELF relocation type fits the instruction. */
  recordReloc(prog: Prog, insnIdx: number, symName: string, sym: ElfSymbol, rtype: number): RelocDesc {
    const insn = prog.own[insnIdx]!;
    const where = `prog '${prog.name}': relo against '${symName}' for insns[${insnIdx}]`;
    const isCall = insn.code === CALL;
    const isLddw = insn.code === LDDW;
    if (!isCall && !isLddw) fail(`${where}: invalid relo for code 0x${insn.code.toString(16)}`);
    if (isLddw && rtype !== R_BPF_64_64) fail(`${where}: relocation ${relocTypeName(rtype)} on lddw, expected R_BPF_64_64`);
    if (isCall && rtype !== R_BPF_64_32) fail(`${where}: relocation ${relocTypeName(rtype)} on call, expected R_BPF_64_32`);
    if (isLddw && insnIdx + 1 >= prog.secInsnCnt) fail(`${where}: lddw has no second slot in the program`);
    const desc: RelocDesc = { type: 'ld64', insnIdx, mapIdx: -1, symOff: 0, extIdx: -1 };

    if (sym.shndx === SHN_UNDEF && (sym.bind === STB_GLOBAL || sym.bind === STB_WEAK) && sym.type === STT_NOTYPE) {
      const extIdx = this.externBySym.get(sym.index) ?? -1;
      if (extIdx < 0) fail(`${where}: extern relo failed to find extern for '${symName}' (${sym.index})`);
      return { ...desc, type: isCall ? 'extern_call' : 'extern_ld64', extIdx };
    }
    if (isCall) {
      if (insn.src !== BPF_PSEUDO_CALL) fail(`${where}: incorrect bpf_call opcode (src_reg ${insn.src})`);
      if (sym.shndx === SHN_UNDEF || sym.shndx !== this.textShndx) {
        fail(`${where}: bad call relo against a symbol in section '${this.elf.sections[sym.shndx]?.name ?? sym.shndx}'`);
      }
      if (sym.value % BPF_INSN_SIZE !== 0) fail(`${where}: bad call relo at offset ${sym.value}`);
      return { ...desc, type: 'call', symOff: sym.value };
    }
    if (sym.shndx === SHN_UNDEF || sym.shndx >= SHN_LORESERVE) {
      fail(`${where}: invalid relo in special section 0x${sym.shndx.toString(16)}; forgot to initialize global var?`);
    }
    // sym_is_subprog(): a .text function, or a local section symbol of .text (static functions).
    if (sym.shndx === this.textShndx && ((sym.bind === STB_LOCAL && sym.type === STT_SECTION) || (sym.bind === STB_GLOBAL && sym.type === STT_FUNC))) {
      if (sym.value % BPF_INSN_SIZE !== 0 || insn.imm % BPF_INSN_SIZE !== 0) fail(`${where}: bad subprog addr relo at offset ${sym.value}+${insn.imm}`);
      return { ...desc, type: 'subprog_addr', symOff: sym.value };
    }
    const secName = this.elf.sections[sym.shndx]?.name ?? '<?>';
    const st = this.secTypes[sym.shndx];
    const isDataSec = st === 'data' || st === 'rodata' || st === 'bss';
    if (!isDataSec) {
      if (sym.shndx !== this.btfMapsShndx && sym.shndx !== this.legacyMapsShndx) fail(`${where}: bad map relo against a symbol in section '${secName}'`);
      const mapIdx = this.mapBySecOff.get(`${sym.shndx}:${sym.value}`) ?? -1;
      if (mapIdx < 0) fail(`${where}: map relo failed to find map for section '${secName}', off ${sym.value}`);
      return { ...desc, type: 'ld64', mapIdx };
    }
    const mapIdx = this.dataMapBySec.get(sym.shndx) ?? -1;
    if (mapIdx < 0) fail(`${where}: data relo failed to find map for section '${secName}'`);
    return { ...desc, type: 'data', mapIdx, symOff: sym.value };
  }

  /** bpf_object__collect_map_relos(): `.values = { &map_or_prog, ... }` in map-in-map and prog-array definitions. */
  collectMapRelos(rel: ElfSection): void {
    const btf = this.btf;
    if (btf === undefined || this.btfMapsSecBtfId === 0) fail('.maps relocations without a .maps DATASEC');
    const ds = btf!.type(this.btfMapsSecBtfId);
    if (ds.kind !== BTF_KIND_DATASEC) return;
    for (const [i, r] of parseRel(this.elf, rel).entries()) {
      const sym = this.symbols[r.sym]!;
      const name = sym.name === '' ? '<?>' : sym.name;
      if (r.type !== R_BPF_64_ABS64) fail(`.maps relo #${i}: relocation ${relocTypeName(r.type)}, expected R_BPF_64_ABS64`);
      // Each relocation searches the maps and programs linearly, as libbpf does; bound the total.
      this.scanBudget -= this.maps.length + this.progs.length;
      if (this.scanBudget < 0) fail(`object needs more than ${SCAN_LIMIT} lookups to relocate .maps`);
      let mapIdx = -1;
      let vi: BtfVarSecinfo | undefined;
      for (let j = 0; j < this.maps.length; j++) {
        const m = this.maps[j]!;
        if (m.secIdx !== this.btfMapsShndx || m.libbpfType !== 'user') continue;
        const v = ds.vars[m.btfVarIdx];
        if (v !== undefined && v.offset <= r.offset && r.offset + 8 <= v.offset + v.size) {
          mapIdx = j;
          vi = v;
          break;
        }
      }
      if (mapIdx < 0 || vi === undefined) fail(`.maps relo #${i}: cannot find map '${name}' at rel->r_offset ${r.offset}`);
      const map = this.maps[mapIdx]!;
      const isMapInMap = map.type === BPF_MAP_TYPE.ARRAY_OF_MAPS || map.type === BPF_MAP_TYPE.HASH_OF_MAPS;
      let slot: Omit<InitSlot, 'index'>;
      if (isMapInMap) {
        if (sym.shndx !== this.btfMapsShndx) fail(`.maps relo #${i}: '${name}' isn't a BTF-defined map`);
        if (map.type === BPF_MAP_TYPE.HASH_OF_MAPS && map.keySize !== 4) fail(`.maps relo #${i}: hash-of-maps '${map.name}' should have key size 4`);
        const t = findMapIndexByName(this.maps, name);
        if (t < 0) fail(`.maps relo #${i}: '${name}' isn't a valid map reference`);
        slot = { kind: 'map', name, target: t };
      } else if (map.type === BPF_MAP_TYPE.PROG_ARRAY) {
        const t = this.progs.findIndex((p) => !this.isSubprog(p) && p.name === name);
        if (t < 0) fail(`.maps relo #${i}: '${name}' isn't a valid program reference`);
        const p = this.progs[t]!;
        if (p.secIdx !== sym.shndx || p.secInsnOff * BPF_INSN_SIZE !== sym.value) fail(`.maps relo #${i}: '${name}' isn't an entry-point program`);
        slot = { kind: 'prog', name, target: t };
      } else {
        return fail(`.maps relo #${i}: map '${map.name}' is neither map-in-map nor prog-array`);
      }
      const varT = btf!.type(vi!.type);
      const def = btf!.skipModsAndTypedefs((varT as { type: number }).type).type;
      if (def.kind !== BTF_KIND_STRUCT || def.members.length === 0) fail(`.maps relo #${i}: map '${map.name}' has no members`);
      const last = (def as BtfStruct).members[(def as BtfStruct).members.length - 1]!;
      if (last.name !== 'values') fail(`.maps relo #${i}: map '${map.name}': last member is '${last.name}', not 'values'`);
      const moff = Math.floor(last.bitOffset / 8);
      if (r.offset - vi!.offset < moff) fail(`.maps relo #${i}: offset ${r.offset} is before map '${map.name}' values`);
      const rel8 = r.offset - vi!.offset - moff;
      if (rel8 % 8 !== 0) fail(`.maps relo #${i}: offset ${r.offset} is not pointer-aligned`);
      const index = rel8 / 8;
      const existing = map.initSlots.findIndex((s) => s.index === index);
      const entry: InitSlot = { index, ...slot };
      if (existing >= 0) map.initSlots[existing] = entry;
      else map.initSlots.push(entry);
    }
  }

  isSubprog(p: Prog): boolean {
    return p.secIdx === this.textShndx && this.progs.length > 1;
  }

  // ---- bpf_object__relocate ----

  relocate(): void {
    for (const p of this.progs) {
      for (const r of p.relocs) if (r.type === 'subprog_addr') p.own[r.insnIdx] = { ...p.own[r.insnIdx]!, src: BPF_PSEUDO_FUNC };
    }
    for (const p of this.progs) if (!this.isSubprog(p)) this.relocateCalls(p);
    for (const p of this.progs) if (!this.isSubprog(p)) this.relocateData(p);
  }

  /**
   * bpf_object__relocate_calls() + bpf_object__reloc_code(): walk the program; the first call into a
   * subprogram appends that subprogram's code to the end and walks it before going on (an explicit
   * stack instead of libbpf's recursion, so a deep call chain cannot exhaust the JS stack).
   */
  relocateCalls(main: Prog): void {
    for (const p of this.progs) if (this.isSubprog(p)) p.subInsnOff = 0;
    main.subInsnOff = 0;
    main.insns = main.own.map((x) => ({ ...x }));
    this.spend(main.insns.length, 'instructions');
    main.relocs = main.relocs.slice();
    main.funcInfo = null;
    main.lineInfo = null;
    main.placements = [];
    this.relocFuncAndLineInfo(main, main);
    const stack: { prog: Prog; next: number }[] = [{ prog: main, next: 0 }];
    while (stack.length > 0) {
      const fr = stack[stack.length - 1]!;
      if (fr.next >= fr.prog.secInsnCnt) {
        stack.pop();
        continue;
      }
      const prog = fr.prog;
      const insnIdx = fr.next++;
      const insn = main.insns[prog.subInsnOff + insnIdx]!;
      const isSubprogCall = insn.code === CALL && insn.src === BPF_PSEUDO_CALL && insn.dst === 0 && insn.off === 0;
      const isPseudoFunc = insn.code === LDDW && insn.src === BPF_PSEUDO_FUNC;
      if (!isSubprogCall && !isPseudoFunc) continue;
      const relo = prog.relocByInsn.get(insnIdx);
      if (relo?.type === 'extern_call') continue;
      if (relo !== undefined && relo.type !== 'call' && relo.type !== 'subprog_addr') {
        fail(`prog '${prog.name}': unexpected relo for insn #${insnIdx}, type ${relo.type}`);
      }
      let subInsnIdx: number;
      if (relo !== undefined) {
        // Global callees: imm = -1 and the symbol gives the offset; static ones: the section symbol and imm.
        subInsnIdx = relo.type === 'call' ? relo.symOff / BPF_INSN_SIZE + insn.imm + 1 : Math.trunc((relo.symOff + insn.imm) / BPF_INSN_SIZE);
      } else if (isPseudoFunc) {
        return fail(`prog '${prog.name}': missing subprog addr relo for insn #${insnIdx}`);
      } else {
        // A call within the same section needs no relocation: imm is relative to the call itself.
        subInsnIdx = prog.secInsnOff + insnIdx + insn.imm + 1;
      }
      const sub = this.findProgBySecInsn(this.textShndx, subInsnIdx);
      if (sub === undefined) fail(`prog '${prog.name}': insn #${insnIdx} calls .text insn ${subInsnIdx}, where there is no sub-program`);
      if (sub!.subInsnOff === 0) {
        this.appendSubprog(main, sub!);
        this.relocFuncAndLineInfo(main, sub!);
        stack.push({ prog: sub!, next: 0 });
      }
      // Re-read the slot as libbpf does: if `prog` just appended itself, its offset moved.
      main.insns[prog.subInsnOff + insnIdx]!.imm = sub!.subInsnOff - (prog.subInsnOff + insnIdx) - 1;
    }
  }

  appendSubprog(main: Prog, sub: Prog): void {
    sub.subInsnOff = main.insns.length;
    if (main.insns.length + sub.secInsnCnt > BPF_COMPLEXITY_LIMIT_INSNS) {
      fail(`prog '${main.name}': more than ${BPF_COMPLEXITY_LIMIT_INSNS} instructions with its sub-programs`);
    }
    this.spend(sub.secInsnCnt, 'instructions');
    for (const x of sub.own) main.insns.push({ ...x });
    // libbpf's append_subprog_relos() leaves a program's relocations alone when it "calls itself".
    if (sub !== main) for (const r of sub.relocs) main.relocs.push({ ...r, insnIdx: r.insnIdx + sub.subInsnOff });
    main.placements.push({ name: sub.name, insnOff: sub.subInsnOff, insnCnt: sub.secInsnCnt });
  }

  /** reloc_prog_func_and_line_info(): append `prog`'s slice of func/line info to `main`'s, rebased. */
  relocFuncAndLineInfo(main: Prog, prog: Prog): void {
    const ext = this.btfExt;
    if (ext === undefined) return;
    if (main === prog || main.funcInfo !== null) {
      const got = this.adjustExtInfo(prog, ext.funcInfo, this.funcInfoSecIdx, main.funcInfo ?? []);
      if (got === null) {
        if (main.funcInfo !== null) fail(`prog '${prog.name}': missing .BTF.ext function info`);
        this.notes.push(`prog '${prog.name}': missing .BTF.ext function info for the main program, skipping all of .BTF.ext func info`);
      } else {
        main.funcInfo = got;
        main.funcInfoRecSize = ext.funcInfoRecSize;
      }
    }
    if (main !== prog && main.lineInfo === null) return;
    const got = this.adjustExtInfo(prog, ext.lineInfo, this.lineInfoSecIdx, main.lineInfo ?? []);
    if (got === null) {
      if (main.lineInfo !== null) fail(`prog '${prog.name}': missing .BTF.ext line info`);
      this.notes.push(`prog '${prog.name}': missing .BTF.ext line info for the main program, skipping all of .BTF.ext line info`);
      return;
    }
    main.lineInfo = got;
    main.lineInfoRecSize = ext.lineInfoRecSize;
  }

  /** adjust_prog_btf_ext_info(): null when the first info section of prog's ELF section has none of its records. */
  adjustExtInfo<T extends { readonly insnOff: number }>(prog: Prog, secs: readonly BtfExtInfoSec<T>[], secIdx: readonly number[], acc: T[]): T[] | null {
    for (let s = 0; s < secs.length; s++) {
      if (secIdx[s] !== prog.secIdx) continue;
      const recs = secs[s]!.records;
      let start = -1;
      let end = -1;
      for (let i = 0; i < recs.length; i++) {
        if (--this.scanBudget < 0) fail(`object needs more than ${SCAN_LIMIT} .BTF.ext record visits to relocate`);
        const off = Math.floor(recs[i]!.insnOff / BPF_INSN_SIZE);
        if (off < prog.secInsnOff) continue;
        if (off >= prog.secInsnOff + prog.secInsnCnt) break;
        if (start < 0) start = i;
        end = i + 1;
      }
      if (start < 0) return null;
      this.spend(end - start, 'func/line info records');
      const adj = prog.subInsnOff - prog.secInsnOff;
      const out = acc.slice();
      for (let i = start; i < end; i++) {
        const r = recs[i]!;
        out.push({ ...r, insnOff: (Math.floor(r.insnOff / BPF_INSN_SIZE) + adj) >>> 0 });
      }
      return out;
    }
    return null;
  }

  /** bpf_object__relocate_data(): map, global-data and extern references in a main program's code. */
  relocateData(main: Prog): void {
    const mapRelocs: MapReloc[] = [];
    const externRelocs: ExternReloc[] = [];
    for (const relo of main.relocs) {
      const insn = main.insns[relo.insnIdx]!;
      const next = main.insns[relo.insnIdx + 1];
      switch (relo.type) {
        case 'ld64':
          insn.src = BPF_PSEUDO_MAP_FD;
          insn.imm = relo.mapIdx;
          mapRelocs.push({ insnIdx: relo.insnIdx, mapIdx: relo.mapIdx, kind: 'map_fd', offset: 0 });
          break;
        case 'data': {
          const off = (insn.imm + relo.symOff) | 0;
          next!.imm = off;
          insn.src = BPF_PSEUDO_MAP_VALUE;
          insn.imm = relo.mapIdx;
          mapRelocs.push({ insnIdx: relo.insnIdx, mapIdx: relo.mapIdx, kind: 'map_value', offset: off });
          break;
        }
        case 'extern_ld64': {
          const ext = this.externs[relo.extIdx]!;
          if (ext.kind === 'kcfg') {
            insn.src = BPF_PSEUDO_MAP_VALUE;
            insn.imm = this.kconfigMapIdx;
            next!.imm = ext.dataOff;
            mapRelocs.push({ insnIdx: relo.insnIdx, mapIdx: this.kconfigMapIdx, kind: 'map_value', offset: ext.dataOff });
          } else {
            externRelocs.push({ insnIdx: relo.insnIdx, name: ext.name, kind: 'ksym' });
          }
          break;
        }
        case 'extern_call': {
          const ext = this.externs[relo.extIdx]!;
          insn.src = BPF_PSEUDO_KFUNC_CALL;
          externRelocs.push({ insnIdx: relo.insnIdx, name: ext.name, kind: 'kfunc' });
          break;
        }
        case 'subprog_addr':
          if (insn.src !== BPF_PSEUDO_FUNC) fail(`prog '${main.name}': relo at insn #${relo.insnIdx}: bad insn`);
          break;
        case 'call':
          break;
      }
    }
    main.mapRelocs = mapRelocs;
    main.externRelocs = externRelocs;
  }

  // ---- results ----

  mapSpec(m: MapState, mainIdx: ReadonlyMap<number, number>): MapSpec {
    // bpf_object__create_map(): these map types are created without BTF key/value ids.
    const noBtf = NO_BTF_MAP_TYPES.has(m.type);
    return {
      name: m.name, realName: m.realName, type: m.type, keySize: m.keySize, valueSize: m.valueSize, maxEntries: m.maxEntries,
      flags: m.flags, numaNode: m.numaNode, mapExtra: m.mapExtra, pinning: m.pinning,
      ...(m.pinning === LIBBPF_PIN_BY_NAME ? { pinPath: `${this.opts.pinRootPath}/${m.name}` } : {}),
      internal: m.libbpfType !== 'user', libbpfType: m.libbpfType,
      ...(m.initialData !== undefined ? { initialData: m.initialData } : {}),
      btfKeyTypeId: noBtf ? 0 : m.btfKeyTypeId, btfValueTypeId: noBtf ? 0 : m.btfValueTypeId,
      ...(m.inner !== undefined ? { innerMap: this.mapSpec(m.inner, mainIdx) } : {}),
      // Program slots were found among all functions; report them as indexes of BpfObject.programs.
      initSlots: m.initSlots.map((sl) => (sl.kind === 'prog' ? { ...sl, target: mainIdx.get(sl.target) ?? -1 } : sl)).sort((a, b) => a.index - b.index),
      sectionIndex: m.secIdx, secOffset: m.secOffset,
    };
  }

  programSpec(p: Prog): ProgramSpec {
    const def = findSecDef(p.secName);
    return {
      name: p.name, section: p.secName, sectionIndex: p.secIdx,
      progType: def ? BPF_PROG_TYPE[def.progType] : BPF_PROG_TYPE.UNSPEC,
      expectedAttachType: def?.attachType ? BPF_ATTACH_TYPE[def.attachType] : 0,
      progFlags: def ? secDefProgFlags(def) : 0, secDef: def, autoload: p.autoload,
      secInsnOff: p.secInsnOff, secInsnCnt: p.secInsnCnt, insns: p.insns, subprogs: p.placements,
      mapRelocs: p.mapRelocs, externRelocs: p.externRelocs,
      funcInfo: p.funcInfo ?? [], funcInfoRecSize: p.funcInfo ? p.funcInfoRecSize : 0,
      lineInfo: p.lineInfo ?? [], lineInfoRecSize: p.lineInfo ? p.lineInfoRecSize : 0,
    };
  }

  result(): BpfObject {
    const externs: Extern[] = this.externs.map((e) => (e.kind === 'kcfg'
      ? { name: e.name, kind: 'kcfg', size: e.size, align: e.align, dataOff: e.dataOff, isWeak: e.isWeak, kcfgType: e.kcfgType, isSigned: e.isSigned }
      : { name: e.name, kind: 'ksym', isWeak: e.isWeak, isFunc: e.isFunc, typeId: e.typeId }));
    const mainIdx = new Map<number, number>();
    const mains: ProgramSpec[] = [];
    this.progs.forEach((p, i) => {
      if (this.isSubprog(p)) return;
      mainIdx.set(i, mains.length);
      mains.push(this.programSpec(p));
    });
    return {
      name: this.objName, license: this.license, kernVersion: this.kernVersion,
      programs: mains, maps: this.maps.map((m) => this.mapSpec(m, mainIdx)), externs,
      ...(this.btf !== undefined ? { btf: this.btf } : {}), ...(this.btfExt !== undefined ? { btfExt: this.btfExt } : {}),
      skipped: this.skipped, notes: this.notes,
    };
  }
}

interface MapDef {
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  numaNode: number;
  mapExtra: number;
  pinning: number;
  btfKeyTypeId: number;
  btfValueTypeId: number;
}

const NO_BTF_MAP_TYPES: ReadonlySet<number> = new Set([
  BPF_MAP_TYPE.PERF_EVENT_ARRAY, BPF_MAP_TYPE.CGROUP_ARRAY, BPF_MAP_TYPE.STACK_TRACE, BPF_MAP_TYPE.ARRAY_OF_MAPS,
  BPF_MAP_TYPE.HASH_OF_MAPS, BPF_MAP_TYPE.DEVMAP, BPF_MAP_TYPE.DEVMAP_HASH, BPF_MAP_TYPE.CPUMAP, BPF_MAP_TYPE.XSKMAP,
  BPF_MAP_TYPE.SOCKMAP, BPF_MAP_TYPE.SOCKHASH, BPF_MAP_TYPE.QUEUE, BPF_MAP_TYPE.STACK,
]);

interface NamedMap { readonly name: string; readonly realName: string; readonly libbpfType: LibbpfMapType }

/** map_uses_real_name(): custom .data.x/.rodata.x maps go by their section name. */
const usesRealName = (m: NamedMap): boolean =>
  (m.libbpfType === 'data' && m.realName !== '.data') || (m.libbpfType === 'rodata' && m.realName !== '.rodata');

/** bpf_object__find_map_by_name(): '.x' names match internal maps' sections, others the user-visible name. */
function findMapIndexByName(maps: readonly NamedMap[], name: string): number {
  return maps.findIndex((m) => {
    if (name.startsWith('.')) return m.libbpfType !== 'user' && m.realName === name;
    return usesRealName(m) ? m.realName === name : m.name === name;
  });
}

/** libbpf's ignore_elf_section(): string tables, address-significance tables, DWARF, empty .text. */
function ignoreElfSection(s: ElfSection): boolean {
  if (s.type === SHT_STRTAB || s.type === SHT_LLVM_ADDRSIG) return true;
  if (s.type === SHT_PROGBITS && s.size === 0 && s.name === '.text') return true;
  if (s.name.startsWith('.debug_')) return true;
  if (s.name.startsWith('.rel')) {
    const target = s.name.slice(4);
    if (target.startsWith('.debug_') || target === '.BTF' || target === '.BTF.ext') return true;
  }
  return false;
}

/** adjust_ringbuf_sz(): the next power-of-2 number of pages above the requested size. */
function adjustRingbufSize(sz: number): number {
  if (sz === 0) return 0;
  if (sz % PAGE_SIZE === 0 && isPow2(sz / PAGE_SIZE)) return sz;
  for (let mul = 1; mul <= Math.floor(0xffff_ffff / PAGE_SIZE); mul *= 2) if (mul * PAGE_SIZE > sz) return mul * PAGE_SIZE;
  return sz;
}

const isPow2 = (x: number): boolean => x > 0 && (x & (x - 1)) === 0;

/** libbpf's find_kcfg_type(): which Kconfig value kinds a __kconfig extern may hold. */
function kcfgType(btf: Btf, id: number, depth = 0): { type: KconfigExtern['kcfgType']; signed: boolean } | undefined {
  const t = btf.skipModsAndTypedefs(id).type;
  switch (t.kind) {
    case BTF_KIND_INT: {
      if (t.encoding & BTF_INT_BOOL) return t.size === 1 ? { type: 'bool', signed: false } : undefined;
      const signed = (t.encoding & BTF_INT_SIGNED) !== 0;
      if (t.size === 1) return { type: 'char', signed };
      if (t.size < 1 || t.size > 8 || !isPow2(t.size)) return undefined;
      return { type: 'int', signed };
    }
    case BTF_KIND_ENUM:
      return t.size === 4 && t.name === 'libbpf_tristate' ? { type: 'tristate', signed: false } : undefined;
    case BTF_KIND_ENUM64:
      return t.name === 'libbpf_tristate' ? { type: 'tristate', signed: false } : undefined;
    case BTF_KIND_ARRAY:
      if (t.nelems === 0 || depth > 0) return undefined;
      return kcfgType(btf, t.type, depth + 1)?.type === 'char' ? { type: 'char_arr', signed: false } : undefined;
    default:
      return undefined;
  }
}

/**
 * Open a BPF ELF object as libbpf's bpf_object__open_mem() + bpf_object__relocate() would, without a
 * kernel. `path` names the object (libbpf's naming: basename up to the first '.', e.g.
 * "/x/xdp_prog.bpf.o" -> "xdp_prog"), which prefixes internal map names. Malformed input: BpfError EINVAL.
 */
export function loadObject(bytes: Uint8Array, path?: string, opts: LoadObjectOptions = {}): BpfObject {
  const name = path === undefined ? `0-${bytes.length.toString(16)}`.slice(0, BPF_OBJ_NAME_LEN - 1) : objectName(path);
  try {
    const l = new Loader(bytes, name, opts);
    l.collect();
    l.collectExterns();
    l.fixupBtf();
    l.initLegacyMaps();
    l.initBtfMaps();
    l.initGlobalDataMaps();
    l.collectRelos();
    l.relocate();
    return l.result();
  } catch (e) {
    // The loader's contract is EINVAL for anything wrong with the file; a size overflow from BTF
    // (E2BIG) is a malformed object here too.
    if (isBpfError(e) && e.errno !== 'EINVAL') throw new BpfError('EINVAL', e.message, { cause: e });
    throw e;
  }
}

/** A copy of a program's instructions with each map lddw's imm set to the map's fd (what libbpf passes to BPF_PROG_LOAD). */
export function withMapFds(prog: ProgramSpec, fds: readonly number[]): Insn[] {
  const out = prog.insns.map((x) => ({ ...x }));
  for (const r of prog.mapRelocs) {
    const fd = fds[r.mapIdx];
    if (fd === undefined) throw new BpfError('EINVAL', `prog '${prog.name}': no fd for map #${r.mapIdx}`);
    out[r.insnIdx]!.imm = fd;
  }
  return out;
}

/** The program with this name (entry points only), or undefined. */
export function findProgram(obj: BpfObject, name: string): ProgramSpec | undefined {
  return obj.programs.find((p) => p.name === name);
}

/** The map with this name, as bpf_object__find_map_by_name(): `.rodata` etc. find internal maps by section. */
export function findMap(obj: BpfObject, name: string): MapSpec | undefined {
  return obj.maps[findMapIndexByName(obj.maps, name)];
}
