// BTF and .BTF.ext: the dump of every real object equals bpftool's, sizes resolve as libbpf's
// btf__resolve_size, and broken sections are EINVAL without hanging.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  BTF_KIND_ARRAY, BTF_KIND_CONST, BTF_KIND_DATASEC, BTF_KIND_FUNC, BTF_KIND_FUNC_PROTO, BTF_KIND_FWD, BTF_KIND_INT,
  BTF_KIND_PTR, BTF_KIND_STRUCT, BTF_KIND_TYPEDEF, BTF_KIND_VAR, BTF_KIND_VOLATILE, dumpBtf, encodeBtf, formatLineInfo,
  lineNumber, parseBtf, parseBtfExt,
} from '../../src/bpf/btf.js';
import { parseElf, sectionByName } from '../../src/bpf/elf.js';
import { isBpfError, type ErrnoName } from '../../src/bpf/errno.js';
import { loadObject } from '../../src/bpf/object.js';
import { bpftoolBtfDump, hasTool, kernelLineInfo, kernelLoadUnavailable } from './fixtures/bpftool.js';

const objectsIn = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.o')).sort().map((f) => `${dir}/${f}`) : []);
const REAL = [...objectsIn('/usr/lib/x86_64-linux-gnu/bpf'), ...objectsIn('test/bpf/fixtures'), ...objectsIn('test/progs')];

/** A copy of a section's bytes (a plain Uint8Array: Buffer.slice would share memory). */
const section = (path: string, name: string): Uint8Array => {
  const s = sectionByName(parseElf(readFileSync(path)), name);
  if (s === undefined) throw new Error(`${path}: no ${name}`);
  return new Uint8Array(s.data);
};

const expectErr = (f: () => unknown, errno: ErrnoName, re: RegExp): void => {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(isBpfError(err, errno), `expected BpfError ${errno}, got ${String(err)}`).toBe(true);
  expect((err as Error).message).toMatch(re);
};

/** A tiny BTF writer: types as [kind, nameOff, info-vlen/kflag, sizeOrType, ...extra u32s]. */
class BtfBuilder {
  strs: number[] = [0];
  words: number[] = [];
  count = 0;
  str(s: string): number {
    const off = this.strs.length;
    this.strs.push(...new TextEncoder().encode(s), 0);
    return off;
  }
  add(kind: number, name: string, vlen: number, sizeOrType: number, extra: number[] = [], kflag = false): number {
    this.words.push(name === '' ? 0 : this.str(name), ((kflag ? 1 : 0) << 31 | kind << 24 | vlen) >>> 0, sizeOrType, ...extra);
    return ++this.count;
  }
  int(name: string, size: number, signed = false): number {
    return this.add(BTF_KIND_INT, name, 0, size, [((signed ? 1 : 0) << 24) | (size * 8)]);
  }
  bytes(): Uint8Array {
    const types = new Uint8Array(this.words.length * 4);
    const dv = new DataView(types.buffer);
    this.words.forEach((w, i) => dv.setUint32(i * 4, w >>> 0, true));
    const strs = Uint8Array.from(this.strs);
    const out = new Uint8Array(24 + types.length + strs.length);
    const h = new DataView(out.buffer);
    h.setUint16(0, 0xeb9f, true);
    h.setUint8(2, 1);
    h.setUint32(4, 24, true);
    h.setUint32(12, types.length, true);
    h.setUint32(16, types.length, true);
    h.setUint32(20, strs.length, true);
    out.set(types, 24);
    out.set(strs, 24 + types.length);
    return out;
  }
}

describe.skipIf(!hasTool('bpftool'))('every real object against `bpftool btf dump file` (skipped: bpftool missing)', () => {
  it.each(REAL)('%s', (path) => {
    expect(dumpBtf(parseBtf(section(path, '.BTF')))).toBe(bpftoolBtfDump(path));
  });
});

describe('real objects', () => {
  it.each(REAL)('%s: re-encoding gives back the section byte for byte', (path) => {
    const raw = section(path, '.BTF');
    expect(Buffer.from(encodeBtf(parseBtf(raw))).equals(Buffer.from(raw))).toBe(true);
  });

  it.each(REAL)('%s: .BTF.ext func_info names the functions, line_info points at source lines', (path) => {
    const elf = parseElf(readFileSync(path));
    const btf = parseBtf(sectionByName(elf, '.BTF')!.data);
    const ext = parseBtfExt(sectionByName(elf, '.BTF.ext')!.data, btf);
    expect(ext.funcInfoRecSize).toBe(8);
    expect(ext.lineInfoRecSize).toBe(16);
    for (const sec of ext.funcInfo) {
      // Each func_info record sits on the first instruction of a function symbol of that section.
      const elfSec = sectionByName(elf, sec.secName)!;
      const funcs = new Map(elf.symbols.filter((s) => s.shndx === elfSec.index && s.type === 2).map((s) => [s.value, s.name]));
      for (const r of sec.records) {
        const t = btf.type(r.typeId);
        expect(t.kind).toBe(BTF_KIND_FUNC);
        expect(funcs.get(r.insnOff)).toBe(t.name);
      }
    }
    for (const sec of ext.lineInfo) {
      // Line 0 marks compiler-made code; real lines carry their source text.
      expect(sec.records.some((r) => lineNumber(r) > 0)).toBe(true);
      for (const r of sec.records) expect(btf.str(r.fileNameOff)).toMatch(/\.[ch]$/);
    }
  });

  it.each(objectsIn('test/bpf/fixtures'))('%s: line_info text is the source line it names', (path) => {
    const elf = parseElf(readFileSync(path));
    const btf = parseBtf(sectionByName(elf, '.BTF')!.data);
    const ext = parseBtfExt(sectionByName(elf, '.BTF.ext')!.data, btf);
    const src = readFileSync(path.replace(/\.o$/, '.c'), 'utf8').split('\n');
    let checked = 0;
    for (const sec of ext.lineInfo) {
      for (const r of sec.records) {
        if (lineNumber(r) === 0 || !btf.str(r.fileNameOff).endsWith(path.replace(/^.*\//, '').replace(/\.o$/, '.c'))) continue;
        expect(btf.str(r.lineOff)).toBe(src[lineNumber(r) - 1]);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(5);
  });

  it('resolves the sizes of the fixture map types as their C declarations', () => {
    const btf = parseBtf(section('test/bpf/fixtures/btf_maps.o', '.BTF'));
    const flowKey = btf.findByName('flow_key', BTF_KIND_STRUCT);
    expect(flowKey).toBeGreaterThan(0);
    expect(btf.resolveSize(flowKey)).toBe(16); // 4+4+2+2+1, padded to 4
    expect(btf.alignOf(flowKey)).toBe(4);
    const u64 = btf.findByName('__u64', BTF_KIND_TYPEDEF);
    expect(btf.resolveSize(u64)).toBe(8);
    expect(btf.findByName('no_such_type')).toBe(-1);
    expect(btf.findByName('void')).toBe(0);
  });
});

describe('btf__resolve_size semantics', () => {
  const b = new BtfBuilder();
  const int = b.int('int', 4, true); // 1
  const td = b.add(BTF_KIND_TYPEDEF, 'u32_t', 0, int); // 2
  const cst = b.add(BTF_KIND_CONST, '', 0, td); // 3
  const vol = b.add(BTF_KIND_VOLATILE, '', 0, cst); // 4
  const st = b.add(BTF_KIND_STRUCT, 'pair', 2, 12, [b.str('a'), int, 0, b.str('b'), vol, 64]); // 5
  const arr = b.add(BTF_KIND_ARRAY, '', 0, 0, [st, int, 10]); // 6
  const ptr = b.add(BTF_KIND_PTR, '', 0, st); // 7
  const fwd = b.add(BTF_KIND_FWD, 'opaque', 0, 0); // 8
  const loopA = b.add(BTF_KIND_TYPEDEF, 'loop_a', 0, 10); // 9 -> 10
  const loopB = b.add(BTF_KIND_TYPEDEF, 'loop_b', 0, 9); // 10 -> 9
  const big = b.add(BTF_KIND_ARRAY, '', 0, 0, [int, int, 0x4000_0000]); // 11: 4 GiB
  const proto = b.add(BTF_KIND_FUNC_PROTO, '', 0, int); // 12
  const func = b.add(BTF_KIND_FUNC, 'f', 1, proto); // 13
  const v = b.add(BTF_KIND_VAR, 'v', 0, arr, [1]); // 14
  const ds = b.add(BTF_KIND_DATASEC, '.data', 1, 120, [v, 0, 120]); // 15
  const zero = b.add(BTF_KIND_ARRAY, '', 0, 0, [st, int, 0]); // 16
  const btf = parseBtf(b.bytes());

  it('follows typedefs and modifiers', () => {
    expect(btf.resolveSize(vol)).toBe(4);
    expect(btf.skipModsAndTypedefs(vol).id).toBe(int);
    expect(btf.resolveType(v)).toBe(arr);
  });
  it('multiplies through arrays', () => expect(btf.resolveSize(arr)).toBe(120));
  it('takes pointers as 8 bytes', () => expect(btf.resolveSize(ptr)).toBe(8));
  it('takes vars and datasecs', () => {
    expect(btf.resolveSize(v)).toBe(120);
    expect(btf.resolveSize(ds)).toBe(120);
  });
  it('gives 0 for a zero-length array', () => expect(btf.resolveSize(zero)).toBe(0));
  it('refuses void, forward declarations and functions', () => {
    expectErr(() => btf.resolveSize(0), 'EINVAL', /size/);
    expectErr(() => btf.resolveSize(fwd), 'EINVAL', /size/);
    expectErr(() => btf.resolveSize(func), 'EINVAL', /FUNC/);
    expectErr(() => btf.resolveSize(proto), 'EINVAL', /FUNC_PROTO/);
  });
  it('stops on a typedef loop instead of hanging', () => {
    expectErr(() => btf.resolveSize(loopA), 'EINVAL', /size/);
    expectErr(() => btf.skipModsAndTypedefs(loopB), 'EINVAL', /chain longer/);
    expectErr(() => btf.resolveType(loopA), 'EINVAL', /resolve/);
    expectErr(() => btf.alignOf(loopA), 'EINVAL', /chain longer/);
  });
  it('reports sizes beyond 32 bits as E2BIG', () => expectErr(() => btf.resolveSize(big), 'E2BIG', /32 bits/));
  it('refuses ids out of range', () => {
    expect(btf.typeById(999)).toBeUndefined();
    expectErr(() => btf.type(999), 'EINVAL', /type id 999 out of range/);
    expectErr(() => btf.resolveSize(999), 'EINVAL', /size/);
  });
});

describe('malformed .BTF: EINVAL naming the problem', () => {
  const good = (() => {
    const b = new BtfBuilder();
    const i = b.int('int', 4);
    b.add(BTF_KIND_PTR, '', 0, i);
    return b.bytes();
  })();
  const withU32 = (at: number, v: number): Uint8Array => {
    const c = good.slice();
    new DataView(c.buffer).setUint32(at, v >>> 0, true);
    return c;
  };
  it('accepts the unbroken section', () => expect(parseBtf(good).count).toBe(3));
  it('truncated header', () => expectErr(() => parseBtf(good.subarray(0, 20)), 'EINVAL', /too short/));
  it('bad magic', () => expectErr(() => parseBtf(withU32(0, 0x1234)), 'EINVAL', /magic/));
  it('strings past the end', () => expectErr(() => parseBtf(good.subarray(0, good.length - 2)), 'EINVAL', /total size/));
  it('types overlapping strings', () => expectErr(() => parseBtf(withU32(12, 1000)), 'EINVAL', /layout/));
  it('misaligned type section', () => {
    const typeLen = new DataView(good.buffer).getUint32(12, true);
    const strLen = new DataView(good.buffer).getUint32(20, true);
    const c = good.slice();
    const dv = new DataView(c.buffer);
    dv.setUint32(8, 2, true);
    dv.setUint32(16, typeLen + 2, true);
    dv.setUint32(20, strLen - 2, true);
    expectErr(() => parseBtf(c), 'EINVAL', /not aligned/);
  });
  it('string section not starting with NUL', () => {
    const c = good.slice();
    c[c.length - 5] = 0x41;
    const typeLen = new DataView(c.buffer).getUint32(12, true);
    c[24 + typeLen] = 0x41;
    expectErr(() => parseBtf(c), 'EINVAL', /string section/);
  });
  it('unknown kind', () => expectErr(() => parseBtf(withU32(24 + 4, 25 << 24)), 'EINVAL', /unsupported BTF_KIND 25/));
  it('type running past the section', () => expectErr(() => parseBtf(withU32(24 + 4, (BTF_KIND_STRUCT << 24) | 50)), 'EINVAL', /malformed/));
  it('referenced type id out of range', () => expectErr(() => parseBtf(withU32(24 + 16 + 8, 77)), 'EINVAL', /type id 77 out of range/));
  it('name offset outside the strings', () => expectErr(() => parseBtf(withU32(24, 9999)), 'EINVAL', /name offset 9999/));
});

describe('malformed .BTF.ext: EINVAL naming the problem', () => {
  const path = 'test/bpf/fixtures/subprogs.o';
  const btf = parseBtf(section(path, '.BTF'));
  const ext = section(path, '.BTF.ext');
  const withU32 = (at: number, v: number): Uint8Array => {
    const c = ext.slice();
    new DataView(c.buffer).setUint32(at, v >>> 0, true);
    return c;
  };
  const hdrLen = new DataView(ext.buffer, ext.byteOffset).getUint32(4, true);
  const funcOff = new DataView(ext.buffer, ext.byteOffset).getUint32(8, true);
  const lineOff = new DataView(ext.buffer, ext.byteOffset).getUint32(16, true);

  it('parses the unbroken section', () => expect(parseBtfExt(ext, btf).funcInfo.length).toBeGreaterThan(0));
  it('truncated header', () => expectErr(() => parseBtfExt(ext.subarray(0, 6), btf), 'EINVAL', /header/));
  it('section beyond the end', () => expectErr(() => parseBtfExt(withU32(12, 1 << 20), btf), 'EINVAL', /beyond the end/));
  it('record size too small', () => expectErr(() => parseBtfExt(withU32(hdrLen + funcOff, 4), btf), 'EINVAL', /record size 4/));
  it('record count larger than the data', () => expectErr(() => parseBtfExt(withU32(hdrLen + funcOff + 8, 0x7fff_ffff), btf), 'EINVAL', /num_records/));
  it('zero records', () => expectErr(() => parseBtfExt(withU32(hdrLen + funcOff + 8, 0), btf), 'EINVAL', /no records/));
  it('line_info string offset outside the BTF strings', () => expectErr(() => parseBtfExt(withU32(hdrLen + lineOff + 4 + 8 + 8, 0xffffff), btf), 'EINVAL', /line_off/));
});

const noKernel = kernelLoadUnavailable();
describe.skipIf(noKernel !== undefined)(`source lines as \`bpftool prog dump xlated linum\` shows them (skipped: ${noKernel})`, () => {
  it.each(objectsIn('test/bpf/fixtures').filter((p) => !p.includes('legacy')))('%s', (path) => {
    const kernel = kernelLineInfo(path);
    expect(kernel).toBeDefined();
    const obj = loadObject(readFileSync(path), path);
    for (const p of obj.programs) {
      const ours = new Set(p.lineInfo.map((li) => formatLineInfo(obj.btf!, li, true)));
      const theirs = kernel!.get(p.name)!;
      expect(theirs.length).toBeGreaterThan(0);
      // The verifier drops the line info of dead code, so the kernel's lines are a subset of ours.
      for (const line of theirs) expect(ours.has(line), line).toBe(true);
    }
  });
});
