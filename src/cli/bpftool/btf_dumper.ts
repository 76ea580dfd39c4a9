// tools/bpf/bpftool/btf_dumper.c: values formatted through their BTF types (`map dump` of a map with
// BTF, the "formatted" member of `-j map dump`), C signatures of functions (the `proto` lines of
// `prog dump xlated`), and line info (`; source line` above the instructions it covers).
// The printf formats are bpftool v7.1's: integers in decimal by their BTF signedness, bitfields and
// 128-bit integers in hex, char arrays as strings when they hold a printable NUL-terminated text.

import {
  BTF_INT_BOOL, BTF_INT_CHAR, BTF_INT_SIGNED, BTF_KIND_ARRAY, BTF_KIND_CONST, BTF_KIND_DATASEC, BTF_KIND_ENUM,
  BTF_KIND_ENUM64, BTF_KIND_FLOAT, BTF_KIND_FUNC, BTF_KIND_FUNC_PROTO, BTF_KIND_FWD, BTF_KIND_INT, BTF_KIND_PTR,
  BTF_KIND_RESTRICT, BTF_KIND_STRUCT, BTF_KIND_TYPEDEF, BTF_KIND_TYPE_TAG, BTF_KIND_UNION, BTF_KIND_UNKN,
  BTF_KIND_VAR, BTF_KIND_VOLATILE, BTF_VAR_STATIC, lineColumn, lineNumber, type Btf, type BtfType, type BpfLineInfo,
} from '../../bpf/btf.js';
import type { JsonWriter } from './json_writer.js';

const EINVAL = -22;

export interface BtfDumper {
  readonly btf: Btf;
  readonly jw: JsonWriter;
  /** Plain-text `map dump` (pointers as %p, chars as 0x..) rather than `-j`. */
  readonly isPlainText: boolean;
}

/** A little-endian view of the bytes being formatted; reads past the end see zeros. */
class Bytes {
  constructor(readonly buf: Uint8Array, readonly off: number) {}

  at(delta: number): Bytes {
    return new Bytes(this.buf, this.off + delta);
  }

  u8(i = 0): number {
    return this.buf[this.off + i] ?? 0;
  }

  /** An unsigned little-endian integer of n bytes. */
  uint(n: number): bigint {
    let v = 0n;
    for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(this.u8(i));
    return v;
  }

  int(n: number): bigint {
    return BigInt.asIntN(n * 8, this.uint(n));
  }
}

const hex = (v: bigint): string => v.toString(16);

/** btf_int128_print(): a 128-bit value as 0x..., quoted in JSON. */
function int128Print(jw: JsonWriter, v: bigint, plain: boolean): void {
  const upper = v >> 64n;
  const lower = v & 0xffff_ffff_ffff_ffffn;
  const text = upper === 0n ? `0x${hex(lower)}` : `0x${hex(upper)}${hex(lower).padStart(16, '0')}`;
  jw.printf(plain ? text : `"${text}"`);
}

/** btf_dumper_bitfield(): nr_bits bits from bit_offset of data (little endian). */
function bitfield(nrBits: number, bitOffset: number, data: Bytes, jw: JsonWriter, plain: boolean): void {
  const bytes = Math.ceil((bitOffset + nrBits) / 8);
  const v = (data.uint(Math.min(bytes, 16)) >> BigInt(bitOffset)) & ((1n << BigInt(nrBits)) - 1n);
  int128Print(jw, v, plain);
}

function intBits(bits: number, intOffset: number, bitOffset: number, data: Bytes, jw: JsonWriter, plain: boolean): void {
  const total = bitOffset + intOffset;
  bitfield(bits, total & 7, data.at(total >> 3), jw, plain);
}

/** isprint() in the C locale. */
const isprint = (c: number): boolean => c >= 0x20 && c <= 0x7e;

function dumpInt(t: Extract<BtfType, { kind: typeof BTF_KIND_INT }>, bitOffset: number, data: Bytes, jw: JsonWriter, plain: boolean): number {
  const bits = t.bits;
  if (bitOffset !== 0 || t.bitsOffset !== 0 || (bits & 7) !== 0) {
    intBits(bits, t.bitsOffset, bitOffset, data, jw, plain);
    return 0;
  }
  if (bits === 128) {
    int128Print(jw, data.uint(16), plain);
    return 0;
  }
  switch (t.encoding) {
    case 0:
    case BTF_INT_SIGNED:
      if (bits === 64 || bits === 32 || bits === 16 || bits === 8) {
        jw.printf(String(t.encoding === BTF_INT_SIGNED ? data.int(bits / 8) : data.uint(bits / 8)));
      } else {
        intBits(bits, t.bitsOffset, bitOffset, data, jw, plain);
      }
      return 0;
    case BTF_INT_CHAR: {
      const c = data.u8();
      if (isprint(c)) jw.printf(`"${String.fromCharCode(c)}"`);
      else if (plain) jw.printf(`0x${c.toString(16)}`);
      else jw.printf(`"\\u00${c.toString(16).padStart(2, '0')}"`);
      return 0;
    }
    case BTF_INT_BOOL:
      // bpftool reads a bool through an int pointer: the three bytes after it count too.
      jw.bool(data.uint(4) !== 0n);
      return 0;
    default:
      return EINVAL;
  }
}

const isMod = (k: number): boolean => k === BTF_KIND_VOLATILE || k === BTF_KIND_CONST || k === BTF_KIND_RESTRICT || k === BTF_KIND_TYPE_TAG;

/** is_str_array(): an array of char holding a printable, NUL-terminated string. */
function isStrArray(btf: Btf, t: Extract<BtfType, { kind: typeof BTF_KIND_ARRAY }>, data: Bytes): boolean {
  if (t.nelems === 0) return false;
  let elem = btf.typeById(t.type);
  // Typedefs to char are not skipped: they do not count as strings.
  while (elem !== undefined && isMod(elem.kind)) elem = btf.typeById((elem as { type: number }).type);
  if (elem === undefined || elem.kind !== BTF_KIND_INT || elem.size !== 1) return false;
  if (elem.encoding !== BTF_INT_CHAR && elem.name !== 'char') return false;
  for (let i = 0; i < t.nelems; i++) {
    const c = data.u8(i);
    if (c === 0) return true;
    // A signed char: bytes from 0x80 are negative, so `*s <= 0x1f` holds for them too.
    if (c <= 0x1f || c >= 0x7f) return false;
  }
  return false;
}

function cString(data: Bytes): string {
  let s = '';
  for (let i = 0; ; i++) {
    const c = data.u8(i);
    if (c === 0 || data.off + i >= data.buf.length) return s;
    s += String.fromCharCode(c);
  }
}

function dumpArray(d: BtfDumper, t: Extract<BtfType, { kind: typeof BTF_KIND_ARRAY }>, data: Bytes): number {
  if (isStrArray(d.btf, t, data)) {
    d.jw.string(cString(data));
    return 0;
  }
  let elemSize: number;
  try {
    elemSize = d.btf.resolveSize(t.type);
  } catch {
    return EINVAL;
  }
  d.jw.startArray();
  let ret = 0;
  for (let i = 0; i < t.nelems; i++) {
    ret = doType(d, t.type, 0, data.at(i * elemSize));
    if (ret) break;
  }
  d.jw.endArray();
  return ret;
}

function dumpEnum(d: BtfDumper, t: Extract<BtfType, { kind: typeof BTF_KIND_ENUM }>, data: Bytes): number {
  if (t.size !== 1 && t.size !== 2 && t.size !== 4 && t.size !== 8) return EINVAL;
  const value = data.int(t.size);
  // struct btf_enum's val is an s32, compared with the sign-extended value.
  for (const e of t.values) {
    if (value === BigInt(e.value | 0)) {
      d.jw.string(e.name);
      return 0;
    }
  }
  d.jw.printf(String(value));
  return 0;
}

function dumpEnum64(d: BtfDumper, t: Extract<BtfType, { kind: typeof BTF_KIND_ENUM64 }>, data: Bytes): number {
  const value = data.uint(8);
  for (const e of t.values) {
    if (BigInt.asUintN(64, e.value) === value) {
      d.jw.string(e.name);
      return 0;
    }
  }
  d.jw.printf(String(BigInt.asIntN(64, value)));
  return 0;
}

function dumpStruct(d: BtfDumper, t: Extract<BtfType, { kind: typeof BTF_KIND_STRUCT | typeof BTF_KIND_UNION }>, data: Bytes): number {
  let ret = 0;
  d.jw.startObject();
  for (const m of t.members) {
    d.jw.name(m.name);
    const at = data.at(m.bitOffset >> 3);
    if (m.bitfieldSize !== 0) {
      bitfield(m.bitfieldSize, m.bitOffset & 7, at, d.jw, d.isPlainText);
    } else {
      ret = doType(d, m.type, m.bitOffset & 7, at);
      if (ret) break;
    }
  }
  d.jw.endObject();
  return ret;
}

function doType(d: BtfDumper, typeId: number, bitOffset: number, data: Bytes): number {
  const t = d.btf.typeById(typeId);
  if (t === undefined) return EINVAL;
  switch (t.kind) {
    case BTF_KIND_INT:
      return dumpInt(t, bitOffset, data, d.jw, d.isPlainText);
    case BTF_KIND_STRUCT:
    case BTF_KIND_UNION:
      return dumpStruct(d, t, data);
    case BTF_KIND_ARRAY:
      return dumpArray(d, t, data);
    case BTF_KIND_ENUM:
      return dumpEnum(d, t, data);
    case BTF_KIND_ENUM64:
      return dumpEnum64(d, t, data);
    case BTF_KIND_PTR: {
      const v = data.uint(8);
      // glibc's %p prints a null pointer as (nil).
      d.jw.printf(d.isPlainText ? (v === 0n ? '(nil)' : `0x${hex(v)}`) : String(v));
      return 0;
    }
    case BTF_KIND_UNKN:
      d.jw.printf('(unknown)');
      return 0;
    case BTF_KIND_FWD:
      d.jw.printf('(fwd-kind-invalid)');
      return EINVAL;
    case BTF_KIND_TYPEDEF:
    case BTF_KIND_VOLATILE:
    case BTF_KIND_CONST:
    case BTF_KIND_RESTRICT: {
      let actual: number;
      try {
        actual = d.btf.resolveType(typeId);
      } catch {
        return EINVAL;
      }
      return doType(d, actual, bitOffset, data);
    }
    case BTF_KIND_VAR:
      d.jw.startObject();
      d.jw.name(t.name);
      {
        const ret = doType(d, t.type, bitOffset, data);
        d.jw.endObject();
        return ret;
      }
    case BTF_KIND_DATASEC: {
      let ret = 0;
      d.jw.startObject();
      d.jw.name(t.name);
      d.jw.startArray();
      for (const v of t.vars) {
        ret = doType(d, v.type, 0, data.at(v.offset));
        if (ret) break;
      }
      d.jw.endArray();
      d.jw.endObject();
      return ret;
    }
    default:
      // FLOAT, TYPE_TAG, DECL_TAG, FUNC...: this bpftool has no case for them (nor a closing paren).
      d.jw.printf('(unsupported-kind');
      return EINVAL;
  }
}

/** btf_dumper_type(): the value at buf[off] as its BTF type `typeId`. 0 or -errno. */
export function btfDumperType(d: BtfDumper, typeId: number, buf: Uint8Array, off = 0): number {
  return doType(d, typeId, 0, new Bytes(buf, off));
}

// ---------------------------------------------------------------------------------------------
// Type names and function signatures (btf_dumper_type_only), in a 1024-byte buffer as bpftool's.

const FUNC_SIG_SIZE = 1024;

class SigOverflow extends Error {}

function typeOnly(btf: Btf, typeId: number, out: { s: string }): void {
  const add = (text: string): void => {
    out.s += text;
    if (out.s.length >= FUNC_SIG_SIZE) throw new SigOverflow();
  };
  if (typeId === 0) {
    add('void ');
    return;
  }
  const t = btf.typeById(typeId);
  if (t === undefined) throw new SigOverflow();
  switch (t.kind) {
    case BTF_KIND_INT:
    case BTF_KIND_TYPEDEF:
    case BTF_KIND_FLOAT:
      add(`${t.name} `);
      break;
    case BTF_KIND_STRUCT:
      add(`struct ${t.name} `);
      break;
    case BTF_KIND_UNION:
      add(`union ${t.name} `);
      break;
    case BTF_KIND_ENUM:
    case BTF_KIND_ENUM64:
      add(`enum ${t.name} `);
      break;
    case BTF_KIND_ARRAY:
      typeOnly(btf, t.type, out);
      add(`[${t.nelems | 0}]`);
      break;
    case BTF_KIND_PTR:
      typeOnly(btf, t.type, out);
      add('* ');
      break;
    case BTF_KIND_FWD:
      add(`${t.kflag ? 'union' : 'struct'} ${t.name} `);
      break;
    case BTF_KIND_VOLATILE:
      add('volatile ');
      typeOnly(btf, t.type, out);
      break;
    case BTF_KIND_CONST:
      add('const ');
      typeOnly(btf, t.type, out);
      break;
    case BTF_KIND_RESTRICT:
      add('restrict ');
      typeOnly(btf, t.type, out);
      break;
    case BTF_KIND_FUNC_PROTO:
      dumpFunc(btf, t, undefined, out, add);
      break;
    case BTF_KIND_FUNC: {
      const proto = btf.typeById(t.type);
      if (proto === undefined || proto.kind !== BTF_KIND_FUNC_PROTO) throw new SigOverflow();
      dumpFunc(btf, proto, t, out, add);
      break;
    }
    case BTF_KIND_VAR:
      if (t.linkage === BTF_VAR_STATIC) add('static ');
      typeOnly(btf, t.type, out);
      add(` ${t.name}`);
      break;
    case BTF_KIND_DATASEC:
      add(`section ("${t.name}") `);
      break;
    default:
      throw new SigOverflow();
  }
}

/** btf_dump_func(): `RET NAME(TYPE ARG, ...)`. */
function dumpFunc(
  btf: Btf, proto: Extract<BtfType, { kind: typeof BTF_KIND_FUNC_PROTO }>, func: BtfType | undefined,
  out: { s: string }, add: (s: string) => void,
): void {
  typeOnly(btf, proto.type, out);
  add(func !== undefined ? `${func.name}(` : '(');
  proto.params.forEach((arg, i) => {
    if (i > 0) add(', ');
    if (arg.type !== 0) {
      typeOnly(btf, arg.type, out);
      if (arg.nameOff !== 0) add(arg.name);
      // An unnamed parameter of a FUNC_PROTO loses the space after its type.
      else if (out.s.endsWith(' ')) out.s = out.s.slice(0, -1);
    } else {
      add('...');
    }
  });
  add(')');
}

/** btf_dumper_type_only(): the C spelling of a type or function, '' when it cannot be spelled. */
export function btfDumperTypeOnly(btf: Btf | undefined, typeId: number): string {
  if (btf === undefined) return '';
  const out = { s: '' };
  try {
    typeOnly(btf, typeId, out);
  } catch (e) {
    if (e instanceof SigOverflow) return '';
    throw e;
  }
  return out.s;
}

// ---------------------------------------------------------------------------------------------
// Line info.

const strOrUndefined = (btf: Btf, off: number): string | undefined => (btf.validStringOffset(off) ? btf.str(off) : undefined);
const ltrim = (s: string): string => s.replace(/^[ \t\n\v\f\r]+/, '');

/** btf_dump_linfo_plain(): `; <line>` and with linum ` [file:F line_num:N line_col:C]`. */
export function btfDumpLinfoPlain(btf: Btf, li: BpfLineInfo, prefix: string, linum: boolean): string | undefined {
  const line = strOrUndefined(btf, li.lineOff);
  if (line === undefined) return undefined;
  if (!linum) return `${prefix}${ltrim(line)}\n`;
  const file = strOrUndefined(btf, li.fileNameOff) ?? '';
  return `${prefix}${ltrim(line)} [file:${file} line_num:${lineNumber(li)} line_col:${lineColumn(li)}]\n`;
}

/** btf_dump_linfo_json(): "src", and with linum "file", "line_num", "line_col" (the numbers when not 0). */
export function btfDumpLinfoJson(jw: JsonWriter, btf: Btf, li: BpfLineInfo, linum: boolean): void {
  const line = strOrUndefined(btf, li.lineOff);
  if (line !== undefined) jw.stringField('src', ltrim(line));
  if (!linum) return;
  const file = strOrUndefined(btf, li.fileNameOff);
  if (file !== undefined) jw.stringField('file', file);
  if (lineNumber(li) !== 0) jw.numberField('line_num', lineNumber(li));
  if (lineColumn(li) !== 0) jw.numberField('line_col', lineColumn(li));
}

/** The FUNC a func_info record names, for a program's full name. */
export function btfFuncName(btf: Btf, typeId: number): string | undefined {
  const t = btf.typeById(typeId);
  return t !== undefined && t.kind === BTF_KIND_FUNC ? t.name : undefined;
}
