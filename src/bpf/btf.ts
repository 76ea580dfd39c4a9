// BTF, the BPF Type Format (include/uapi/linux/btf.h, Documentation/bpf/btf.rst), as libbpf's btf.c
// reads it: the .BTF section (header, type section, string section) and the .BTF.ext section
// (func_info and line_info records per ELF section, plus the count of CO-RE relocations). Types keep
// the kernel's kinds and field names; sizes resolve with btf__resolve_size() semantics. Every read is
// bounds-checked, every type id a type refers to is checked when the section is parsed, and every walk
// along a chain of types is bounded (libbpf's MAX_RESOLVE_DEPTH), so a hostile section is a
// BpfError('EINVAL') naming what is wrong, never a hang or an exception of another kind.

import { BpfError } from './errno.js';

export const BTF_MAGIC = 0xeb9f;
export const BTF_VERSION = 1;
export const BTF_HEADER_SIZE = 24;
/** The largest string offset and type id the format can express (btf.h). */
export const BTF_MAX_NAME_OFFSET = 0x00ff_ffff;
export const BTF_MAX_TYPE = 0x000f_ffff;
/** libbpf's bound on modifier/typedef/array chains. */
export const MAX_RESOLVE_DEPTH = 32;

export const BTF_KIND_UNKN = 0;
export const BTF_KIND_INT = 1;
export const BTF_KIND_PTR = 2;
export const BTF_KIND_ARRAY = 3;
export const BTF_KIND_STRUCT = 4;
export const BTF_KIND_UNION = 5;
export const BTF_KIND_ENUM = 6;
export const BTF_KIND_FWD = 7;
export const BTF_KIND_TYPEDEF = 8;
export const BTF_KIND_VOLATILE = 9;
export const BTF_KIND_CONST = 10;
export const BTF_KIND_RESTRICT = 11;
export const BTF_KIND_FUNC = 12;
export const BTF_KIND_FUNC_PROTO = 13;
export const BTF_KIND_VAR = 14;
export const BTF_KIND_DATASEC = 15;
export const BTF_KIND_FLOAT = 16;
export const BTF_KIND_DECL_TAG = 17;
export const BTF_KIND_TYPE_TAG = 18;
export const BTF_KIND_ENUM64 = 19;

/** Kind names as bpftool prints them (`[3] STRUCT 'foo' ...`), indexed by kind. */
export const BTF_KIND_NAMES = [
  'UNKN', 'INT', 'PTR', 'ARRAY', 'STRUCT', 'UNION', 'ENUM', 'FWD', 'TYPEDEF', 'VOLATILE', 'CONST', 'RESTRICT',
  'FUNC', 'FUNC_PROTO', 'VAR', 'DATASEC', 'FLOAT', 'DECL_TAG', 'TYPE_TAG', 'ENUM64',
] as const;

export const BTF_INT_SIGNED = 1 << 0;
export const BTF_INT_CHAR = 1 << 1;
export const BTF_INT_BOOL = 1 << 2;

export const BTF_VAR_STATIC = 0;
export const BTF_VAR_GLOBAL_ALLOCATED = 1;
export const BTF_VAR_GLOBAL_EXTERN = 2;

export const BTF_FUNC_STATIC = 0;
export const BTF_FUNC_GLOBAL = 1;
export const BTF_FUNC_EXTERN = 2;

type RefKind =
  | typeof BTF_KIND_PTR | typeof BTF_KIND_TYPEDEF | typeof BTF_KIND_VOLATILE | typeof BTF_KIND_CONST
  | typeof BTF_KIND_RESTRICT | typeof BTF_KIND_TYPE_TAG;

interface BtfTypeBase {
  readonly id: number;
  readonly nameOff: number;
  /** The name, '' when anonymous. */
  readonly name: string;
  readonly kflag: boolean;
  readonly vlen: number;
}

export interface BtfMember { readonly name: string; readonly nameOff: number; readonly type: number; readonly bitOffset: number; readonly bitfieldSize: number }
export interface BtfEnumValue { readonly name: string; readonly nameOff: number; readonly value: number }
export interface BtfEnum64Value { readonly name: string; readonly nameOff: number; readonly value: bigint }
export interface BtfParam { readonly name: string; readonly nameOff: number; readonly type: number }
export interface BtfVarSecinfo { readonly type: number; readonly offset: number; readonly size: number }

export type BtfType =
  | (BtfTypeBase & { readonly kind: typeof BTF_KIND_UNKN })
  | (BtfTypeBase & { readonly kind: typeof BTF_KIND_INT; readonly size: number; readonly encoding: number; readonly bitsOffset: number; readonly bits: number })
  | (BtfTypeBase & { readonly kind: RefKind; readonly type: number })
  | (BtfTypeBase & { readonly kind: typeof BTF_KIND_ARRAY; readonly type: number; readonly indexType: number; readonly nelems: number })
  | (BtfTypeBase & { readonly kind: typeof BTF_KIND_STRUCT | typeof BTF_KIND_UNION; readonly size: number; readonly members: readonly BtfMember[] })
  | (BtfTypeBase & { readonly kind: typeof BTF_KIND_ENUM; readonly size: number; readonly values: readonly BtfEnumValue[] })
  | (BtfTypeBase & { readonly kind: typeof BTF_KIND_ENUM64; readonly size: number; readonly values: readonly BtfEnum64Value[] })
  | (BtfTypeBase & { readonly kind: typeof BTF_KIND_FWD })
  | (BtfTypeBase & { readonly kind: typeof BTF_KIND_FUNC; readonly type: number; /** vlen holds the linkage */ readonly linkage: number })
  | (BtfTypeBase & { readonly kind: typeof BTF_KIND_FUNC_PROTO; /** the return type */ readonly type: number; readonly params: readonly BtfParam[] })
  | (BtfTypeBase & { readonly kind: typeof BTF_KIND_VAR; readonly type: number; readonly linkage: number })
  | (BtfTypeBase & { readonly kind: typeof BTF_KIND_DATASEC; readonly size: number; readonly vars: readonly BtfVarSecinfo[] })
  | (BtfTypeBase & { readonly kind: typeof BTF_KIND_FLOAT; readonly size: number })
  | (BtfTypeBase & { readonly kind: typeof BTF_KIND_DECL_TAG; readonly type: number; readonly componentIdx: number });

export type BtfDatasec = Extract<BtfType, { kind: typeof BTF_KIND_DATASEC }>;
export type BtfStruct = Extract<BtfType, { kind: typeof BTF_KIND_STRUCT | typeof BTF_KIND_UNION }>;
export type BtfVar = Extract<BtfType, { kind: typeof BTF_KIND_VAR }>;

const VOID: BtfType = { id: 0, kind: BTF_KIND_UNKN, nameOff: 0, name: '', kflag: false, vlen: 0 };

const fail = (what: string): never => {
  throw new BpfError('EINVAL', `btf: ${what}`);
};

const utf8 = new TextDecoder('utf-8');

export const isModifier = (k: number): boolean =>
  k === BTF_KIND_VOLATILE || k === BTF_KIND_CONST || k === BTF_KIND_RESTRICT || k === BTF_KIND_TYPE_TAG;

/** A parsed .BTF section. Type ids are the kernel's: 0 is void, 1.. the types in section order. */
export class Btf {
  /** Pointer size of the target; libbpf forces 8 for BPF objects (btf__set_pointer_size). */
  readonly pointerSize = 8;
  readonly #types: BtfType[];
  readonly #strings: Uint8Array;

  constructor(types: BtfType[], strings: Uint8Array) {
    this.#types = types;
    this.#strings = strings;
  }

  /** btf__type_cnt(): the number of types including void. */
  get count(): number {
    return this.#types.length;
  }

  /** The raw string section. */
  get strings(): Uint8Array {
    return this.#strings;
  }

  /** All types, [0] being void. */
  get types(): readonly BtfType[] {
    return this.#types;
  }

  /** btf__type_by_id(): the type, or undefined when the id is out of range. */
  typeById(id: number): BtfType | undefined {
    return this.#types[id];
  }

  /** The type, or EINVAL naming the id. */
  type(id: number): BtfType {
    const t = this.#types[id];
    if (t === undefined) fail(`type id ${id} out of range (${this.#types.length} types)`);
    return t!;
  }

  /** Whether `off` starts a string of the string section (btf_name_offset_valid). */
  validStringOffset(off: number): boolean {
    return off < this.#strings.length && off <= BTF_MAX_NAME_OFFSET;
  }

  /** btf__str_by_offset(): the string at `off`, or EINVAL. The section ends in NUL (checked at parse). */
  str(off: number): string {
    if (!this.validStringOffset(off)) fail(`string offset ${off} is outside the string section (${this.#strings.length} bytes)`);
    const end = this.#strings.indexOf(0, off);
    return utf8.decode(this.#strings.subarray(off, end));
  }

  /** libbpf's skip_mods_and_typedefs(): the first type that is not a modifier or typedef, with its id. */
  skipModsAndTypedefs(id: number): { id: number; type: BtfType } {
    let t = this.type(id);
    for (let depth = 0; isModifier(t.kind) || t.kind === BTF_KIND_TYPEDEF; depth++) {
      if (depth >= MAX_RESOLVE_DEPTH) fail(`type [${id}]: modifier/typedef chain longer than ${MAX_RESOLVE_DEPTH}`);
      id = (t as { type: number }).type;
      t = this.type(id);
    }
    return { id, type: t };
  }

  /** btf__resolve_type(): skip modifiers, typedefs and vars; EINVAL for void or a chain too long. */
  resolveType(id: number): number {
    let t = this.typeById(id);
    let depth = 0;
    while (depth < MAX_RESOLVE_DEPTH && t !== undefined && !isVoid(t) && (isModifier(t.kind) || t.kind === BTF_KIND_TYPEDEF || t.kind === BTF_KIND_VAR)) {
      id = (t as { type: number }).type;
      t = this.typeById(id);
      depth++;
    }
    if (depth === MAX_RESOLVE_DEPTH || t === undefined || isVoid(t)) fail(`cannot resolve type [${id}]`);
    return id;
  }

  /**
   * btf__resolve_size(): the size in bytes of a type, following typedefs, modifiers, vars, decl and
   * type tags, and multiplying through arrays. EINVAL for void, forward declarations, functions and
   * chains longer than MAX_RESOLVE_DEPTH; E2BIG when the size does not fit in 32 bits, as libbpf.
   */
  resolveSize(typeId: number): number {
    let nelems = 1;
    let size = -1;
    let t = this.typeById(typeId);
    for (let i = 0; i < MAX_RESOLVE_DEPTH && t !== undefined && !isVoid(t); i++) {
      switch (t.kind) {
        case BTF_KIND_INT: case BTF_KIND_STRUCT: case BTF_KIND_UNION: case BTF_KIND_ENUM:
        case BTF_KIND_ENUM64: case BTF_KIND_DATASEC: case BTF_KIND_FLOAT:
          size = t.size;
          break;
        case BTF_KIND_PTR:
          size = this.pointerSize;
          break;
        case BTF_KIND_TYPEDEF: case BTF_KIND_VOLATILE: case BTF_KIND_CONST: case BTF_KIND_RESTRICT:
        case BTF_KIND_VAR: case BTF_KIND_DECL_TAG: case BTF_KIND_TYPE_TAG:
          typeId = t.type;
          break;
        case BTF_KIND_ARRAY:
          if (nelems !== 0 && t.nelems > Math.floor(0xffff_ffff / nelems)) {
            throw new BpfError('E2BIG', `btf: size of type [${t.id}] does not fit in 32 bits`);
          }
          nelems *= t.nelems;
          typeId = t.type;
          break;
        default:
          fail(`type [${t.id}] (${BTF_KIND_NAMES[t.kind]}) has no size`);
      }
      if (size >= 0) break;
      t = this.typeById(typeId);
    }
    if (size < 0) fail(`cannot determine the size of type [${typeId}]`);
    if (nelems !== 0 && size > Math.floor(0xffff_ffff / nelems)) {
      throw new BpfError('E2BIG', `btf: size of type [${typeId}] does not fit in 32 bits`);
    }
    return nelems * size;
  }

  /** btf__align_of(), with the recursion bounded. */
  alignOf(id: number, depth = 0): number {
    if (depth > MAX_RESOLVE_DEPTH) fail(`type [${id}]: alignment chain longer than ${MAX_RESOLVE_DEPTH}`);
    const t = this.type(id);
    switch (t.kind) {
      case BTF_KIND_INT: case BTF_KIND_ENUM: case BTF_KIND_ENUM64: case BTF_KIND_FLOAT:
        return Math.min(this.pointerSize, t.size);
      case BTF_KIND_PTR:
        return this.pointerSize;
      case BTF_KIND_TYPEDEF: case BTF_KIND_VOLATILE: case BTF_KIND_CONST: case BTF_KIND_RESTRICT: case BTF_KIND_TYPE_TAG:
        return this.alignOf(t.type, depth + 1);
      case BTF_KIND_ARRAY:
        return this.alignOf(t.type, depth + 1);
      case BTF_KIND_STRUCT: case BTF_KIND_UNION: {
        let max = 1;
        for (const m of t.members) max = Math.max(max, this.alignOf(m.type, depth + 1));
        return max;
      }
      default:
        return fail(`type [${id}] (${BTF_KIND_NAMES[t.kind]}) has no alignment`);
    }
  }

  /** btf__find_by_name() / btf__find_by_name_kind(): the first type id with this name, or -1. */
  findByName(name: string, kind?: number): number {
    if (name === 'void') return 0;
    for (let i = 1; i < this.#types.length; i++) {
      const t = this.#types[i]!;
      if ((kind === undefined || t.kind === kind) && t.name === name) return i;
    }
    return -1;
  }

  /**
   * Replace a DATASEC (the loader's btf_fixup_datasec(): clang leaves section sizes and variable
   * offsets zero and libbpf fills them in from the ELF section and symbol tables before the BTF goes
   * to the kernel). Only DATASECs may be replaced, and only by DATASECs of the same id.
   */
  fixupDatasec(id: number, size: number, vars: readonly BtfVarSecinfo[]): void {
    const t = this.type(id);
    if (t.kind !== BTF_KIND_DATASEC) throw new Error(`BUG: fixupDatasec on [${id}] ${BTF_KIND_NAMES[t.kind]}`);
    this.#types[id] = { ...t, size, vars, vlen: vars.length };
  }

  /** Set a VAR's linkage (libbpf marks hidden globals and resolved externs this way). */
  setVarLinkage(id: number, linkage: number): void {
    const t = this.type(id);
    this.fixupVar(id, linkage, t.kind === BTF_KIND_VAR ? t.type : 0);
  }

  /** Set a VAR's linkage and type (libbpf turns ksym externs into allocated ints). */
  fixupVar(id: number, linkage: number, type: number): void {
    const t = this.type(id);
    if (t.kind !== BTF_KIND_VAR) throw new Error(`BUG: fixupVar on [${id}] ${BTF_KIND_NAMES[t.kind]}`);
    this.#types[id] = { ...t, linkage, type };
  }
}

/** libbpf's btf_type_is_void(): void itself, or a forward declaration. */
function isVoid(t: BtfType): boolean {
  return t.kind === BTF_KIND_UNKN || t.kind === BTF_KIND_FWD;
}

/** Bytes of the variable part that follows the 12-byte struct btf_type, per kind (libbpf btf_type_size). */
function extraSize(kind: number, vlen: number): number {
  switch (kind) {
    case BTF_KIND_FWD: case BTF_KIND_CONST: case BTF_KIND_VOLATILE: case BTF_KIND_RESTRICT: case BTF_KIND_PTR:
    case BTF_KIND_TYPEDEF: case BTF_KIND_FUNC: case BTF_KIND_FLOAT: case BTF_KIND_TYPE_TAG:
      return 0;
    case BTF_KIND_INT: case BTF_KIND_VAR: case BTF_KIND_DECL_TAG:
      return 4;
    case BTF_KIND_ENUM: case BTF_KIND_FUNC_PROTO:
      return vlen * 8;
    case BTF_KIND_ARRAY:
      return 12;
    case BTF_KIND_STRUCT: case BTF_KIND_UNION: case BTF_KIND_ENUM64: case BTF_KIND_DATASEC:
      return vlen * 12;
    default:
      return -1;
  }
}

/**
 * Parse a .BTF section (btf__new): header checks as btf_parse_hdr, the string section as
 * btf_parse_str_sec (starts and ends with NUL), each type as btf_parse_type_sec, then every name
 * offset and every referenced type id is checked (btf_validate_type).
 */
export function parseBtf(bytes: Uint8Array): Btf {
  if (bytes.length < BTF_HEADER_SIZE) fail(`section is ${bytes.length} bytes, too short for the header`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = dv.getUint16(0, true);
  if (magic === 0x9feb) fail('big-endian BTF is not supported');
  if (magic !== BTF_MAGIC) fail(`invalid magic 0x${magic.toString(16)}`);
  const version = dv.getUint8(2);
  if (version !== BTF_VERSION) fail(`unsupported version ${version}`);
  const hdrLen = dv.getUint32(4, true);
  if (hdrLen < BTF_HEADER_SIZE) fail(`header length ${hdrLen} is shorter than ${BTF_HEADER_SIZE}`);
  if (hdrLen > bytes.length) fail(`header length ${hdrLen} larger than the section (${bytes.length} bytes)`);
  const typeOff = dv.getUint32(8, true);
  const typeLen = dv.getUint32(12, true);
  const strOff = dv.getUint32(16, true);
  const strLen = dv.getUint32(20, true);
  const metaLeft = bytes.length - hdrLen;
  if (strOff + strLen > metaLeft) fail(`invalid total size: strings at ${strOff}+${strLen} past the end (${metaLeft} bytes after the header)`);
  if (typeOff + typeLen > strOff) fail(`invalid section layout: types at ${typeOff}+${typeLen}, strings at ${strOff}+${strLen}`);
  if (typeOff % 4 !== 0) fail('type section is not aligned to 4 bytes');

  const strings = bytes.subarray(hdrLen + strOff, hdrLen + strOff + strLen);
  if (strLen === 0 || strLen - 1 > BTF_MAX_NAME_OFFSET || strings[strLen - 1] !== 0 || strings[0] !== 0) {
    fail('invalid string section');
  }
  const str = (off: number, what: string): string => {
    if (off >= strLen) fail(`${what}: name offset ${off} outside the string section (${strLen} bytes)`);
    return off === 0 ? '' : utf8.decode(strings.subarray(off, strings.indexOf(0, off)));
  };

  const types: BtfType[] = [VOID];
  const base = hdrLen + typeOff;
  const end = base + typeLen;
  let p = base;
  while (p + 12 <= end) {
    const id = types.length;
    if (id > BTF_MAX_TYPE) fail(`more than ${BTF_MAX_TYPE} types`);
    const nameOff = dv.getUint32(p, true);
    const info = dv.getUint32(p + 4, true);
    const sizeOrType = dv.getUint32(p + 8, true);
    const vlen = info & 0xffff;
    const kind = (info >>> 24) & 0x1f;
    const kflag = (info >>> 31) === 1;
    const extra = extraSize(kind, vlen);
    if (extra < 0) fail(`type [${id}]: unsupported BTF_KIND ${kind}`);
    if (p + 12 + extra > end) fail(`type [${id}] is malformed: runs past the type section`);
    const name = str(nameOff, `type [${id}]`);
    const b: BtfTypeBase = { id, nameOff, name, kflag, vlen };
    const q = p + 12;
    let t: BtfType;
    switch (kind) {
      case BTF_KIND_INT: {
        const v = dv.getUint32(q, true);
        t = { ...b, kind, size: sizeOrType, encoding: (v >>> 24) & 0x0f, bitsOffset: (v >>> 16) & 0xff, bits: v & 0xff };
        break;
      }
      case BTF_KIND_PTR: case BTF_KIND_TYPEDEF: case BTF_KIND_VOLATILE: case BTF_KIND_CONST:
      case BTF_KIND_RESTRICT: case BTF_KIND_TYPE_TAG:
        t = { ...b, kind, type: sizeOrType };
        break;
      case BTF_KIND_ARRAY:
        t = { ...b, kind, type: dv.getUint32(q, true), indexType: dv.getUint32(q + 4, true), nelems: dv.getUint32(q + 8, true) };
        break;
      case BTF_KIND_STRUCT: case BTF_KIND_UNION: {
        const members: BtfMember[] = new Array(vlen);
        for (let i = 0; i < vlen; i++) {
          const m = q + i * 12;
          const mOff = dv.getUint32(m, true);
          const off = dv.getUint32(m + 8, true);
          members[i] = {
            nameOff: mOff, name: str(mOff, `type [${id}] member ${i}`), type: dv.getUint32(m + 4, true),
            bitOffset: kflag ? off & 0xff_ffff : off, bitfieldSize: kflag ? off >>> 24 : 0,
          };
        }
        t = { ...b, kind, size: sizeOrType, members };
        break;
      }
      case BTF_KIND_ENUM: {
        const values: BtfEnumValue[] = new Array(vlen);
        for (let i = 0; i < vlen; i++) {
          const e = q + i * 8;
          const eOff = dv.getUint32(e, true);
          values[i] = { nameOff: eOff, name: str(eOff, `type [${id}] enumerator ${i}`), value: kflag ? dv.getInt32(e + 4, true) : dv.getUint32(e + 4, true) };
        }
        t = { ...b, kind, size: sizeOrType, values };
        break;
      }
      case BTF_KIND_ENUM64: {
        const values: BtfEnum64Value[] = new Array(vlen);
        for (let i = 0; i < vlen; i++) {
          const e = q + i * 12;
          const eOff = dv.getUint32(e, true);
          const u = (BigInt(dv.getUint32(e + 8, true)) << 32n) | BigInt(dv.getUint32(e + 4, true));
          values[i] = { nameOff: eOff, name: str(eOff, `type [${id}] enumerator ${i}`), value: kflag ? BigInt.asIntN(64, u) : u };
        }
        t = { ...b, kind, size: sizeOrType, values };
        break;
      }
      case BTF_KIND_FWD:
        t = { ...b, kind };
        break;
      case BTF_KIND_FUNC:
        t = { ...b, kind, type: sizeOrType, linkage: vlen };
        break;
      case BTF_KIND_FUNC_PROTO: {
        const params: BtfParam[] = new Array(vlen);
        for (let i = 0; i < vlen; i++) {
          const a = q + i * 8;
          const aOff = dv.getUint32(a, true);
          params[i] = { nameOff: aOff, name: str(aOff, `type [${id}] param ${i}`), type: dv.getUint32(a + 4, true) };
        }
        t = { ...b, kind, type: sizeOrType, params };
        break;
      }
      case BTF_KIND_VAR:
        t = { ...b, kind, type: sizeOrType, linkage: dv.getUint32(q, true) };
        break;
      case BTF_KIND_DATASEC: {
        const vars: BtfVarSecinfo[] = new Array(vlen);
        for (let i = 0; i < vlen; i++) {
          const v = q + i * 12;
          vars[i] = { type: dv.getUint32(v, true), offset: dv.getUint32(v + 4, true), size: dv.getUint32(v + 8, true) };
        }
        t = { ...b, kind, size: sizeOrType, vars };
        break;
      }
      case BTF_KIND_FLOAT:
        t = { ...b, kind, size: sizeOrType };
        break;
      case BTF_KIND_DECL_TAG:
        t = { ...b, kind, type: sizeOrType, componentIdx: dv.getInt32(q, true) };
        break;
      default:
        return fail(`type [${id}]: unsupported BTF_KIND ${kind}`);
    }
    types.push(t);
    p += 12 + extra;
  }
  if (p !== end) fail('types data is malformed: trailing bytes after the last type');

  // btf_validate_type(): every id a type refers to must exist.
  const n = types.length;
  const ref = (id: number, from: BtfType, what: string): void => {
    if (id >= n) fail(`type [${from.id}] ${BTF_KIND_NAMES[from.kind]}: ${what} type id ${id} out of range (${n} types)`);
  };
  for (let i = 1; i < n; i++) {
    const t = types[i]!;
    switch (t.kind) {
      case BTF_KIND_PTR: case BTF_KIND_TYPEDEF: case BTF_KIND_VOLATILE: case BTF_KIND_CONST: case BTF_KIND_RESTRICT:
      case BTF_KIND_TYPE_TAG: case BTF_KIND_FUNC: case BTF_KIND_VAR: case BTF_KIND_DECL_TAG:
        ref(t.type, t, 'referenced');
        break;
      case BTF_KIND_FUNC_PROTO:
        ref(t.type, t, 'return');
        for (const a of t.params) ref(a.type, t, 'param');
        break;
      case BTF_KIND_ARRAY:
        ref(t.type, t, 'element');
        ref(t.indexType, t, 'index');
        break;
      case BTF_KIND_STRUCT: case BTF_KIND_UNION:
        for (const m of t.members) ref(m.type, t, 'member');
        break;
      case BTF_KIND_DATASEC:
        for (const v of t.vars) ref(v.type, t, 'var');
        break;
      default:
        break;
    }
  }
  return new Btf(types, strings);
}

/** Serialize back to a .BTF section (header, types, strings), e.g. after the loader's fixups. */
export function encodeBtf(btf: Btf): Uint8Array {
  let typeLen = 0;
  for (let i = 1; i < btf.count; i++) {
    const t = btf.types[i]!;
    typeLen += 12 + extraSize(t.kind, t.vlen);
  }
  const strLen = btf.strings.length;
  const out = new Uint8Array(BTF_HEADER_SIZE + typeLen + strLen);
  const dv = new DataView(out.buffer);
  dv.setUint16(0, BTF_MAGIC, true);
  dv.setUint8(2, BTF_VERSION);
  dv.setUint32(4, BTF_HEADER_SIZE, true);
  dv.setUint32(8, 0, true);
  dv.setUint32(12, typeLen, true);
  dv.setUint32(16, typeLen, true);
  dv.setUint32(20, strLen, true);
  let p = BTF_HEADER_SIZE;
  for (let i = 1; i < btf.count; i++) {
    const t = btf.types[i]!;
    dv.setUint32(p, t.nameOff, true);
    dv.setUint32(p + 4, (((t.kflag ? 1 : 0) << 31) | (t.kind << 24) | (t.vlen & 0xffff)) >>> 0, true);
    const q = p + 12;
    switch (t.kind) {
      case BTF_KIND_UNKN: case BTF_KIND_FWD:
        break;
      case BTF_KIND_INT:
        dv.setUint32(p + 8, t.size, true);
        dv.setUint32(q, ((t.encoding & 0x0f) << 24) | ((t.bitsOffset & 0xff) << 16) | (t.bits & 0xff), true);
        break;
      case BTF_KIND_PTR: case BTF_KIND_TYPEDEF: case BTF_KIND_VOLATILE: case BTF_KIND_CONST: case BTF_KIND_RESTRICT:
      case BTF_KIND_TYPE_TAG: case BTF_KIND_FUNC:
        dv.setUint32(p + 8, t.type, true);
        break;
      case BTF_KIND_ARRAY:
        dv.setUint32(q, t.type, true);
        dv.setUint32(q + 4, t.indexType, true);
        dv.setUint32(q + 8, t.nelems, true);
        break;
      case BTF_KIND_STRUCT: case BTF_KIND_UNION:
        dv.setUint32(p + 8, t.size, true);
        t.members.forEach((m, i) => {
          dv.setUint32(q + i * 12, m.nameOff, true);
          dv.setUint32(q + i * 12 + 4, m.type, true);
          dv.setUint32(q + i * 12 + 8, t.kflag ? ((m.bitfieldSize << 24) | m.bitOffset) >>> 0 : m.bitOffset, true);
        });
        break;
      case BTF_KIND_ENUM:
        dv.setUint32(p + 8, t.size, true);
        t.values.forEach((v, i) => {
          dv.setUint32(q + i * 8, v.nameOff, true);
          dv.setUint32(q + i * 8 + 4, v.value >>> 0, true);
        });
        break;
      case BTF_KIND_ENUM64:
        dv.setUint32(p + 8, t.size, true);
        t.values.forEach((v, i) => {
          const u = BigInt.asUintN(64, v.value);
          dv.setUint32(q + i * 12, v.nameOff, true);
          dv.setUint32(q + i * 12 + 4, Number(u & 0xffff_ffffn), true);
          dv.setUint32(q + i * 12 + 8, Number(u >> 32n), true);
        });
        break;
      case BTF_KIND_FUNC_PROTO:
        dv.setUint32(p + 8, t.type, true);
        t.params.forEach((a, i) => {
          dv.setUint32(q + i * 8, a.nameOff, true);
          dv.setUint32(q + i * 8 + 4, a.type, true);
        });
        break;
      case BTF_KIND_VAR:
        dv.setUint32(p + 8, t.type, true);
        dv.setUint32(q, t.linkage, true);
        break;
      case BTF_KIND_DATASEC:
        dv.setUint32(p + 8, t.size, true);
        t.vars.forEach((v, i) => {
          dv.setUint32(q + i * 12, v.type, true);
          dv.setUint32(q + i * 12 + 4, v.offset, true);
          dv.setUint32(q + i * 12 + 8, v.size, true);
        });
        break;
      case BTF_KIND_FLOAT:
        dv.setUint32(p + 8, t.size, true);
        break;
      case BTF_KIND_DECL_TAG:
        dv.setUint32(p + 8, t.type, true);
        dv.setInt32(q, t.componentIdx, true);
        break;
    }
    p = q + extraSize(t.kind, t.vlen);
  }
  out.set(btf.strings, p);
  return out;
}

// ---------------------------------------------------------------------------------------------
// bpftool's plain `btf dump` format (tools/bpf/bpftool/btf.c, dump_btf_type), one type per entry.

const INT_ENC: Readonly<Record<number, string>> = { 0: '(none)', [BTF_INT_SIGNED]: 'SIGNED', [BTF_INT_CHAR]: 'CHAR', [BTF_INT_BOOL]: 'BOOL' };
const VAR_LINKAGE = ['static', 'global', 'extern'] as const;
const FUNC_LINKAGE = ['static', 'global', 'extern'] as const;
const quoted = (s: string): string => `'${s === '' ? '(anon)' : s}'`;

/** One type as `bpftool btf dump` prints it: `[id] KIND 'name' ...`, members on tab-indented lines. */
export function formatBtfType(btf: Btf, id: number): string {
  const t = btf.type(id);
  let s = `[${id}] ${BTF_KIND_NAMES[t.kind]} ${quoted(t.name)}`;
  switch (t.kind) {
    case BTF_KIND_UNKN:
      break;
    case BTF_KIND_INT:
      s += ` size=${t.size} bits_offset=${t.bitsOffset} nr_bits=${t.bits} encoding=${INT_ENC[t.encoding] ?? 'UNKN'}`;
      break;
    case BTF_KIND_PTR: case BTF_KIND_CONST: case BTF_KIND_VOLATILE: case BTF_KIND_RESTRICT: case BTF_KIND_TYPEDEF:
    case BTF_KIND_TYPE_TAG:
      s += ` type_id=${t.type}`;
      break;
    case BTF_KIND_ARRAY:
      s += ` type_id=${t.type} index_type_id=${t.indexType} nr_elems=${t.nelems}`;
      break;
    case BTF_KIND_STRUCT: case BTF_KIND_UNION:
      s += ` size=${t.size} vlen=${t.vlen}`;
      for (const m of t.members) {
        s += `\n\t${quoted(m.name)} type_id=${m.type} bits_offset=${m.bitOffset}`;
        if (m.bitfieldSize) s += ` bitfield_size=${m.bitfieldSize}`;
      }
      break;
    case BTF_KIND_ENUM: case BTF_KIND_ENUM64:
      s += ` encoding=${t.kflag ? 'SIGNED' : 'UNSIGNED'} size=${t.size} vlen=${t.vlen}`;
      for (const v of t.values) s += `\n\t${quoted(v.name)} val=${v.value}`;
      break;
    case BTF_KIND_FWD:
      s += ` fwd_kind=${t.kflag ? 'union' : 'struct'}`;
      break;
    case BTF_KIND_FUNC:
      s += ` type_id=${t.type} linkage=${FUNC_LINKAGE[t.linkage] ?? 'UNKN'}`;
      break;
    case BTF_KIND_FUNC_PROTO:
      s += ` ret_type_id=${t.type} vlen=${t.vlen}`;
      for (const a of t.params) s += `\n\t${quoted(a.name)} type_id=${a.type}`;
      break;
    case BTF_KIND_VAR:
      s += ` type_id=${t.type}, linkage=${VAR_LINKAGE[t.linkage] ?? 'UNKN'}`;
      break;
    case BTF_KIND_DATASEC:
      s += ` size=${t.size} vlen=${t.vlen}`;
      for (const v of t.vars) {
        s += `\n\ttype_id=${v.type} offset=${v.offset} size=${v.size}`;
        const vt = btf.typeById(v.type);
        if (vt !== undefined) s += ` (${BTF_KIND_NAMES[vt.kind]} ${quoted(vt.name)})`;
      }
      break;
    case BTF_KIND_FLOAT:
      s += ` size=${t.size}`;
      break;
    case BTF_KIND_DECL_TAG:
      s += ` type_id=${t.type} component_idx=${t.componentIdx}`;
      break;
  }
  return s;
}

/** The whole of `bpftool btf dump file X.o` (plain format), one line per type plus member lines. */
export function dumpBtf(btf: Btf): string {
  const lines: string[] = [];
  for (let id = 1; id < btf.count; id++) lines.push(formatBtfType(btf, id));
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// .BTF.ext: struct btf_ext_header, then per kind of info a record size and per ELF section a
// btf_ext_info_sec { sec_name_off, num_info } followed by num_info records (libbpf btf_ext__new).

export const BTF_EXT_HEADER_MIN = 24; // up to line_info_len
export const BPF_FUNC_INFO_MIN_SIZE = 8;
export const BPF_LINE_INFO_MIN_SIZE = 16;
export const BPF_CORE_RELO_MIN_SIZE = 16;

/** struct bpf_func_info. insnOff is in bytes in .BTF.ext, in instructions once the loader rebases it. */
export interface BpfFuncInfo { readonly insnOff: number; readonly typeId: number }
/** struct bpf_line_info. line_col packs the line number (upper 22 bits) and column (lower 10). */
export interface BpfLineInfo { readonly insnOff: number; readonly fileNameOff: number; readonly lineOff: number; readonly lineCol: number }

export const lineNumber = (li: BpfLineInfo): number => li.lineCol >>> 10;
export const lineColumn = (li: BpfLineInfo): number => li.lineCol & 0x3ff;

/**
 * A line_info record as `bpftool prog dump xlated` prints it above the instructions it covers
 * (btf_dump_linfo_plain): `; <source line, left-trimmed>`, and with `linum`
 * ` [file:<path> line_num:<n> line_col:<c>]`.
 */
export function formatLineInfo(btf: Btf, li: BpfLineInfo, linum = false): string {
  const text = `; ${btf.str(li.lineOff).replace(/^\s+/, '')}`;
  return linum ? `${text} [file:${btf.str(li.fileNameOff)} line_num:${lineNumber(li)} line_col:${lineColumn(li)}]` : text;
}

export interface BtfExtInfoSec<T> {
  readonly secName: string;
  readonly records: readonly T[];
}

export interface BtfExt {
  readonly funcInfoRecSize: number;
  readonly lineInfoRecSize: number;
  readonly funcInfo: readonly BtfExtInfoSec<BpfFuncInfo>[];
  readonly lineInfo: readonly BtfExtInfoSec<BpfLineInfo>[];
  /** CO-RE relocation records per section (counted; applying them needs the target kernel's BTF). */
  readonly coreRelos: readonly BtfExtInfoSec<{ readonly insnOff: number; readonly typeId: number; readonly accessStrOff: number; readonly kind: number }>[];
}

const failExt = (what: string): never => {
  throw new BpfError('EINVAL', `btf.ext: ${what}`);
};

/**
 * Parse a .BTF.ext section against its .BTF (for section names, file names and source lines).
 * Checks as libbpf's btf_ext_parse_hdr/btf_ext_setup_info, plus the kernel's check that line_info
 * string offsets are valid (check_btf_line).
 */
export function parseBtfExt(bytes: Uint8Array, btf: Btf): BtfExt {
  if (bytes.length < 8) failExt('header not found');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = dv.getUint16(0, true);
  if (magic !== BTF_MAGIC) failExt(`invalid magic 0x${magic.toString(16)}`);
  if (dv.getUint8(2) !== BTF_VERSION) failExt(`unsupported version ${dv.getUint8(2)}`);
  if (dv.getUint8(3) !== 0) failExt(`unsupported flags 0x${dv.getUint8(3).toString(16)}`);
  const hdrLen = dv.getUint32(4, true);
  if (bytes.length < hdrLen) failExt('header not found');
  if (hdrLen < BTF_EXT_HEADER_MIN) failExt('header missing func_info, line_info');
  if (bytes.length === hdrLen) failExt('has no data');

  const setup = <T>(off: number, len: number, minRec: number, desc: string, read: (p: number) => T): { recSize: number; secs: BtfExtInfoSec<T>[] } => {
    const secs: BtfExtInfoSec<T>[] = [];
    if (len === 0) return { recSize: 0, secs };
    if (off % 4 !== 0) failExt(`${desc} section is not aligned to 4 bytes`);
    const start = hdrLen + off;
    if (start + len > bytes.length) failExt(`${desc} section (off:${off} len:${len}) is beyond the end of the section`);
    if (len < 4) failExt(`${desc} record size not found`);
    const recSize = dv.getUint32(start, true);
    if (recSize < minRec || recSize % 4 !== 0) failExt(`${desc} invalid record size ${recSize}`);
    let p = start + 4;
    let left = len - 4;
    if (left === 0) failExt(`${desc} section has no records`);
    while (left > 0) {
      if (left < 8) failExt(`${desc} section header not found`);
      const nameOff = dv.getUint32(p, true);
      const num = dv.getUint32(p + 4, true);
      if (num === 0) failExt(`${desc} section has no records`);
      const total = 8 + num * recSize;
      if (left < total) failExt(`${desc} section has incorrect num_records ${num}`);
      if (!btf.validStringOffset(nameOff)) failExt(`${desc} section name offset ${nameOff} is invalid`);
      const records: T[] = new Array(num);
      for (let i = 0; i < num; i++) records[i] = read(p + 8 + i * recSize);
      secs.push({ secName: btf.str(nameOff), records });
      p += total;
      left -= total;
    }
    return { recSize, secs };
  };

  const fi = setup(dv.getUint32(8, true), dv.getUint32(12, true), BPF_FUNC_INFO_MIN_SIZE, 'func_info',
    (p) => ({ insnOff: dv.getUint32(p, true), typeId: dv.getUint32(p + 4, true) }));
  const li = setup(dv.getUint32(16, true), dv.getUint32(20, true), BPF_LINE_INFO_MIN_SIZE, 'line_info', (p) => {
    const rec = { insnOff: dv.getUint32(p, true), fileNameOff: dv.getUint32(p + 4, true), lineOff: dv.getUint32(p + 8, true), lineCol: dv.getUint32(p + 12, true) };
    if (!btf.validStringOffset(rec.fileNameOff) || !btf.validStringOffset(rec.lineOff)) {
      failExt(`invalid line_info line_off ${rec.lineOff} or file_name_off ${rec.fileNameOff}`);
    }
    return rec;
  });
  const core = hdrLen >= 32
    ? setup(dv.getUint32(24, true), dv.getUint32(28, true), BPF_CORE_RELO_MIN_SIZE, 'core_relo',
      (p) => ({ insnOff: dv.getUint32(p, true), typeId: dv.getUint32(p + 4, true), accessStrOff: dv.getUint32(p + 8, true), kind: dv.getUint32(p + 12, true) }))
    : { recSize: 0, secs: [] };
  return { funcInfoRecSize: fi.recSize, lineInfoRecSize: li.recSize, funcInfo: fi.secs, lineInfo: li.secs, coreRelos: core.secs };
}
