// The verifier corpus (issue 4): programs the kernel's verifier (kernel/bpf/verifier.c) must accept or
// reject, each with the verdict and a line of the log that the real kernel gave. One case file drives
// both sides: corpus-kernel.test.ts hands it to the machine's kernel, corpus-emu.test.ts to nfp-emu's
// BpfSyscall.progLoad. test/verifier/corpus/README.md describes the format; in short:
//
//   test/verifier/corpus/<group>/<name>.s     LLVM-syntax assembly (src/bpf/asm.ts), header in `#` lines
//   test/verifier/corpus/c/<name>.c + .o      C built by corpus/build.sh (clang-14), header in `//` lines
//
//   # Reads the EtherType with no data_end check.      <- first comment line: the title
//   # prog: xdp                                         <- enum bpf_prog_type, lower case (default xdp)
//   # map: counters array key=4 value=8 entries=1       <- maps in order; `ld_pseudo rN, 1, <index>`
//   # flags: strict_alignment                           <- prog_flags (optional)
//   # expect: reject EACCES                             <- or `accept`
//   # log: invalid access to packet, off=12 size=2      <- substring, or /regex/ (any number of lines)
//
// An assembly case names its maps by index: `ld_pseudo r1, 1, 0` (BPF_PSEUDO_MAP_FD) or
// `ld_pseudo r1, 2, 0` (BPF_PSEUDO_MAP_VALUE, the value offset in the upper 32 bits) gets the fd of the
// case's map 0 before the load; `fd: raw` turns that off for cases about bad fds. fd_array holds every
// map's fd, so BPF_PSEUDO_MAP_IDX (`ld_pseudo r1, 5, 0`) works as well.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { assemble } from '../../src/bpf/asm.js';
import { ERRNO, errnoName, isBpfError, type ErrnoName } from '../../src/bpf/errno.js';
import { encode, type Insn } from '../../src/bpf/insn.js';
import { loadObject } from '../../src/bpf/object.js';
import { BPF_DW, BPF_IMM, BPF_LD, BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE } from '../../src/bpf/opcodes.js';
import { BPF_MAP_TYPE, BPF_PROG_TYPE, MAP_TYPE_NAMES, PROG_TYPE_NAMES } from '../../src/bpf/prog-types.js';
import { Kernel } from '../../src/kernel/kernel.js';
import { BpfSyscall, type ProgLoadAttr } from '../../src/kernel/syscall.js';
import { loadObjectIntoKernel, ProgLoadError } from '../../src/libbpf/object.js';
import type { KernelOracle } from '../oracle/kernel.js';

export const CORPUS_DIR = fileURLToPath(new URL('./corpus/', import.meta.url));

/**
 * The kernel the expectations were taken from (`uname -r`). Verdicts and log lines are the kernel's
 * own; another kernel series words some messages differently, so the kernel test only holds a kernel
 * of the same major.minor to them.
 */
export const KERNEL_OF_RECORD = '6.18.44-fc-v769';

/**
 * The log size both sides get unless a case asks for more (`log-size:`). A level-1 log holds the trace of
 * the failing path, so a program that exhausts the one-million-instruction budget writes some 50 MB; with
 * a smaller buffer the kernel keeps the tail and fails the load with ENOSPC instead of E2BIG.
 */
export const LOG_SIZE = 16 << 20;

/** The verifier log level the corpus is recorded at: errors plus the path that led to them. */
export const LOG_LEVEL = 1;

export type Verdict = { readonly accept: true } | { readonly accept: false; readonly errno: ErrnoName };

export type LogExpectation = { readonly text: string } | { readonly regex: RegExp };

export interface MapDecl {
  readonly name: string;
  readonly type: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly flags: number;
}

export interface CorpusCase {
  /** `<group>/<name>`, the path under corpus/ without the extension. */
  readonly id: string;
  readonly kind: 'asm' | 'c';
  /** The case file (.s, or the .c whose committed .o is loaded). */
  readonly file: string;
  readonly title: string;
  readonly progType: number;
  readonly expectedAttachType: number;
  readonly progFlags: number;
  readonly license: string;
  readonly maps: readonly MapDecl[];
  /** bpf_attr.log_size for this case (LOG_SIZE unless the header says `log-size:`). */
  readonly logSize: number;
  /** Leave lddw map references as written (cases about bad fds). */
  readonly rawFds: boolean;
  readonly expect: Verdict;
  /**
   * Every one of these must be found in the log. Accepted assembly cases default to the `processed N
   * insns` line; accepted C cases have none (libbpf gives no log for a successful load).
   */
  readonly log: readonly LogExpectation[];
}

/** What one side made of a case. */
export interface LoadOutcome {
  readonly accepted: boolean;
  /** The errno of a rejection. */
  readonly errno: ErrnoName | undefined;
  /** The verifier log ('' when the side gives none, e.g. libbpf on a successful load). */
  readonly log: string;
}

// ---------------------------------------------------------------------------------------------
// Reading case files

const PROCESSED_LINE: LogExpectation = { regex: /^processed \d+ insns \(limit 1000000\)/m };

const PROG_FLAG_BITS: Record<string, number> = {
  strict_alignment: 1 << 0,
  any_alignment: 1 << 1,
  test_rnd_hi32: 1 << 2,
  xdp_has_frags: 1 << 5,
};

/** Section-type aliases a reader expects: tc is BPF_PROG_TYPE_SCHED_CLS, as libbpf's SEC("tc"). */
const PROG_ALIASES: Record<string, string> = { tc: 'sched_cls', socket: 'socket_filter' };

function caseError(file: string, what: string): Error {
  return new Error(`${path.relative(CORPUS_DIR, file)}: ${what}`);
}

function parseProgType(file: string, v: string): number {
  const name = (PROG_ALIASES[v] ?? v).toUpperCase();
  if (!(PROG_TYPE_NAMES as readonly string[]).includes(name)) throw caseError(file, `unknown program type '${v}'`);
  return BPF_PROG_TYPE[name as keyof typeof BPF_PROG_TYPE];
}

function parseMap(file: string, v: string): MapDecl {
  const [name, type, ...kv] = v.split(/\s+/);
  if (name === undefined || type === undefined) throw caseError(file, `map needs a name and a type: '${v}'`);
  const upper = type.toUpperCase();
  if (!(MAP_TYPE_NAMES as readonly string[]).includes(upper)) throw caseError(file, `unknown map type '${type}'`);
  const fields: Record<string, number> = { key: 4, value: 8, entries: 1, flags: 0 };
  for (const p of kv) {
    const m = /^(key|value|entries|flags)=(0x[0-9a-f]+|\d+)$/i.exec(p);
    if (m === null) throw caseError(file, `bad map field '${p}' (key=N value=N entries=N flags=N)`);
    fields[m[1]!] = Number(m[2]);
  }
  return {
    name,
    type: BPF_MAP_TYPE[upper as keyof typeof BPF_MAP_TYPE],
    keySize: fields['key']!,
    valueSize: fields['value']!,
    maxEntries: fields['entries']!,
    flags: fields['flags']!,
  };
}

function parseVerdict(file: string, v: string): Verdict {
  if (v === 'accept') return { accept: true };
  const m = /^reject\s+(E[A-Z0-9]+)$/.exec(v);
  if (m === null || !(m[1]! in ERRNO)) throw caseError(file, `expect must be 'accept' or 'reject E...', not '${v}'`);
  return { accept: false, errno: m[1] as ErrnoName };
}

function parseLog(v: string): LogExpectation {
  const m = /^\/(.*)\/([a-z]*)$/.exec(v);
  return m !== null ? { regex: new RegExp(m[1]!, m[2]!.includes('m') ? m[2] : `${m[2]}m`) } : { text: v };
}

export interface ParseOptions {
  /** Refuse a rejected case without a `log:` line (default); record.ts reads such drafts. */
  readonly requireLog?: boolean;
}

/** Reads the `# key: value` header (or `// key: value` in C) that opens a case file. */
export function parseCase(file: string, opts: ParseOptions = {}): CorpusCase {
  const text = fs.readFileSync(file, 'utf8');
  const kind = file.endsWith('.c') ? 'c' : 'asm';
  const comment = kind === 'c' ? /^\s*\/\/\s?(.*)$/ : /^\s*#\s?(.*)$/;
  let title = '';
  let progType: number = BPF_PROG_TYPE.XDP;
  let progFlags = 0;
  let expectedAttachType = 0;
  let license = 'GPL';
  let rawFds = false;
  let logSize = LOG_SIZE;
  let expect: Verdict | undefined;
  const maps: MapDecl[] = [];
  const log: LogExpectation[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const m = comment.exec(line);
    if (m === null) break;
    const body = m[1]!.trim();
    const kv = /^([a-z-]+):\s*(.*)$/.exec(body);
    if (kv === null) {
      if (title === '') title = body;
      else if (body !== '') title += ` ${body}`;
      continue;
    }
    const [, key, value] = kv as unknown as [string, string, string];
    switch (key) {
      case 'prog': progType = parseProgType(file, value); break;
      case 'attach': expectedAttachType = Number(value); break;
      case 'flags':
        for (const f of value.split(/[\s,|]+/)) {
          const bit = PROG_FLAG_BITS[f];
          if (bit === undefined) throw caseError(file, `unknown prog flag '${f}'`);
          progFlags |= bit;
        }
        break;
      case 'license': license = value; break;
      case 'map': maps.push(parseMap(file, value)); break;
      case 'fd': rawFds = value === 'raw'; break;
      case 'log-size': logSize = Number(value); break;
      case 'expect': expect = parseVerdict(file, value); break;
      case 'log': log.push(parseLog(value)); break;
      default: throw caseError(file, `unknown header key '${key}'`);
    }
  }
  if (expect === undefined) throw caseError(file, 'no `expect:` line');
  if (title === '') throw caseError(file, 'no title line');
  if (!expect.accept && log.length === 0 && opts.requireLog !== false) throw caseError(file, 'a rejected case needs a `log:` line');
  // libbpf shows no log for a program it loaded, so an accepted C case has no line to hold either side to.
  if (expect.accept && log.length === 0 && kind === 'asm') log.push(PROCESSED_LINE);
  const id = path.relative(CORPUS_DIR, file).replace(/\.(s|c)$/, '').split(path.sep).join('/');
  return { id, kind, file, title, progType, expectedAttachType, progFlags, license, maps, logSize, rawFds, expect, log };
}

/** Every case, sorted by id. */
export function listCases(opts: ParseOptions = {}): CorpusCase[] {
  const out: CorpusCase[] = [];
  for (const group of fs.readdirSync(CORPUS_DIR, { withFileTypes: true })) {
    if (!group.isDirectory()) continue;
    const dir = path.join(CORPUS_DIR, group.name);
    for (const f of fs.readdirSync(dir)) {
      if (f.endsWith('.s') || f.endsWith('.c')) out.push(parseCase(path.join(dir, f), opts));
    }
  }
  return out.sort((a, b) => a.id.localeCompare(b.id));
}

export function logMatches(want: LogExpectation, log: string): boolean {
  return 'text' in want ? log.includes(want.text) : want.regex.test(log);
}

export function describeLog(want: LogExpectation): string {
  return 'text' in want ? JSON.stringify(want.text) : String(want.regex);
}

export function describeVerdict(v: Verdict | LoadOutcome): string {
  if ('accept' in v) return v.accept ? 'accept' : `reject ${v.errno}`;
  return v.accepted ? 'accept' : `reject ${v.errno ?? '?'}`;
}

// ---------------------------------------------------------------------------------------------
// Assembly cases: the instructions and where the map fds go

/** A map reference to patch: the lddw at `insn` gets the fd of map `map`. */
export interface MapRef {
  readonly insn: number;
  readonly map: number;
}

/** The assembled program and its map references (empty for `fd: raw`). */
export function asmProgram(c: CorpusCase): { insns: Insn[]; refs: MapRef[] } {
  if (c.kind !== 'asm') throw new Error(`${c.id} is not an assembly case`);
  const insns = assemble(fs.readFileSync(c.file, 'utf8'));
  const refs: MapRef[] = [];
  if (c.rawFds) return { insns, refs };
  for (let i = 0; i < insns.length; i++) {
    const x = insns[i]!;
    if (x.code !== (BPF_LD | BPF_IMM | BPF_DW)) continue;
    if (x.src === BPF_PSEUDO_MAP_FD || x.src === BPF_PSEUDO_MAP_VALUE) {
      if (x.imm < 0 || x.imm >= c.maps.length) throw caseError(c.file, `insn ${i} names map ${x.imm}, but the case declares ${c.maps.length}`);
      refs.push({ insn: i, map: x.imm });
    }
    i++;
  }
  return { insns, refs };
}

/** The C case's committed object. */
export function objectFile(c: CorpusCase): string {
  return c.file.replace(/\.c$/, '.o');
}

// ---------------------------------------------------------------------------------------------
// The emulator's side

/** Loads the case through nfp-emu's bpf(2) on a fresh Kernel, with the log on. Never throws for a rejection. */
export function loadOnEmu(c: CorpusCase, logLevel: number = LOG_LEVEL): LoadOutcome {
  const sys = new BpfSyscall(new Kernel({ cpus: 2, prandomSeed: 1 }));
  if (c.kind === 'c') {
    try {
      loadObjectIntoKernel(sys, loadObject(fs.readFileSync(objectFile(c)), objectFile(c)), { logLevel: LOG_LEVEL });
      return { accepted: true, errno: undefined, log: '' };
    } catch (e) {
      if (e instanceof ProgLoadError) return { accepted: false, errno: e.errno as ErrnoName, log: e.log };
      if (isBpfError(e)) return { accepted: false, errno: e.errno as ErrnoName, log: '' };
      throw e;
    }
  }
  const { insns, refs } = asmProgram(c);
  const fds = c.maps.map((m) =>
    sys.mapCreate({ map_type: m.type, key_size: m.keySize, value_size: m.valueSize, max_entries: m.maxEntries, map_flags: m.flags, map_name: m.name }),
  );
  const patched = insns.map((x) => ({ ...x }));
  for (const r of refs) patched[r.insn]!.imm = fds[r.map]!;
  const attr: ProgLoadAttr = {
    prog_type: c.progType,
    expected_attach_type: c.expectedAttachType,
    prog_flags: c.progFlags,
    insns: patched,
    license: c.license,
    log_level: logLevel,
    log_size: c.logSize,
    prog_name: 'corpus',
    ...(fds.length > 0 ? { fd_array: fds } : {}),
  };
  try {
    sys.close(sys.progLoad(attr));
    return { accepted: true, errno: undefined, log: attr.log_buf ?? '' };
  } catch (e) {
    if (!isBpfError(e)) throw e;
    return { accepted: false, errno: e.errno as ErrnoName, log: attr.log_buf ?? '' };
  }
}

/** What the emulator made of a case, in the form emu-runner.ts reports it. */
export interface EmuVerdict {
  readonly id: string;
  /** 'timeout': no answer within the budget; 'crash': progLoad threw something that is not a BpfError. */
  readonly outcome: 'accept' | 'reject' | 'timeout' | 'crash';
  readonly errno?: ErrnoName;
  /** For each of the case's log expectations: found in the log? */
  readonly logMatched: readonly boolean[];
  /** The log's reason lines (or the crash message), for the scoreboard. */
  readonly reasons: readonly string[];
  readonly ms: number;
}

/** Loads one case on the emulator and condenses the outcome (the full log of a 1M-insn case is 50 MB). */
export function emuVerdict(c: CorpusCase): EmuVerdict {
  const t0 = performance.now();
  let o: LoadOutcome;
  try {
    o = loadOnEmu(c);
  } catch (e) {
    const ms = performance.now() - t0;
    return { id: c.id, outcome: 'crash', logMatched: c.log.map(() => false), reasons: [String((e as Error).stack ?? e).slice(0, 600)], ms };
  }
  const ms = performance.now() - t0;
  return {
    id: c.id,
    outcome: o.accepted ? 'accept' : 'reject',
    ...(o.errno !== undefined ? { errno: o.errno } : {}),
    logMatched: c.log.map((want) => logMatches(want, o.log)),
    reasons: reasonLines(o.log).slice(0, 3).map((l) => l.slice(0, 200)),
    ms,
  };
}

const RUNNER = fileURLToPath(new URL('./corpus/emu-runner.ts', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Runs the cases on the emulator in a child process (emu-runner.ts), giving each case `budgetMs`: a
 * case that takes longer is reported as 'timeout', the child is killed and a new one carries on with
 * the cases after it.
 */
export async function runOnEmu(cases: readonly CorpusCase[], budgetMs: number): Promise<Map<string, EmuVerdict>> {
  const results = new Map<string, EmuVerdict>();
  let pending = cases.map((c) => c.id);
  while (pending.length > 0) {
    const batch = pending;
    const before = results.size;
    await new Promise<void>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', RUNNER, ...batch], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      let buffered = '';
      let stderr = '';
      let current: string | undefined;
      let started = 0;
      let timer: NodeJS.Timeout | undefined;
      const arm = (): void => {
        clearTimeout(timer);
        timer = setTimeout(() => {
          if (current !== undefined) results.set(current, { id: current, outcome: 'timeout', logMatched: [], reasons: [`no verdict after ${budgetMs} ms`], ms: budgetMs });
          child.kill('SIGKILL');
        }, budgetMs);
      };
      child.stdout.setEncoding('utf8');
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (d: string) => { stderr = (stderr + d).slice(-4000); });
      child.stdout.on('data', (d: string) => {
        buffered += d;
        for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          if (line.startsWith('start ')) {
            current = line.slice(6);
            started = performance.now();
            arm();
          } else if (line.startsWith('done ')) {
            const v = JSON.parse(line.slice(5)) as EmuVerdict;
            results.set(v.id, v);
            current = undefined;
            clearTimeout(timer);
          }
        }
      });
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(timer);
        if (current !== undefined && !results.has(current)) {
          // The child died inside a case (out of memory, a native crash): that case crashed.
          results.set(current, { id: current, outcome: 'crash', logMatched: [], reasons: [`emu-runner exited (${code}) inside the case: ${stderr.trim().slice(-400)}`], ms: performance.now() - started });
        }
        if (results.size === before) reject(new Error(`emu-runner gave no verdict (exit ${code}): ${stderr.trim()}`));
        else resolve();
      });
    });
    pending = pending.filter((id) => !results.has(id));
  }
  return results;
}

// ---------------------------------------------------------------------------------------------
// The real kernel's side

const LOADER_SOURCE = path.join(CORPUS_DIR, 'kernel-load.c');
let loaderBinary: string | undefined;
let loaderProblem: string | undefined;

/**
 * corpus/kernel-load.c, compiled once per process with the host's C compiler (CC, else cc). Returns
 * the binary, or why there is none.
 */
export function kernelLoader(): { bin: string } | { reason: string } {
  if (loaderBinary !== undefined) return { bin: loaderBinary };
  if (loaderProblem !== undefined) return { reason: loaderProblem };
  const cc = process.env['CC'] ?? 'cc';
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nfp-emu-corpus-'));
  const bin = path.join(dir, 'kernel-load');
  const r = spawnSync(cc, ['-O1', '-Wall', '-o', bin, LOADER_SOURCE], { encoding: 'utf8', timeout: 60_000 });
  if (r.error !== undefined || r.status !== 0) {
    loaderProblem = `cannot build corpus/kernel-load.c with '${cc}': ${r.error?.message ?? r.stderr.trim()}`;
    fs.rmSync(dir, { recursive: true, force: true });
    return { reason: loaderProblem };
  }
  process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  loaderBinary = bin;
  return { bin };
}

/** The stdin of kernel-load for an assembly case. */
export function kernelLoadInput(c: CorpusCase): string {
  const { insns, refs } = asmProgram(c);
  const lines = [`prog ${c.progType} ${c.expectedAttachType} ${c.progFlags} ${LOG_LEVEL} ${c.logSize}`, `license ${c.license}`];
  for (const m of c.maps) lines.push(`map ${m.type} ${m.keySize} ${m.valueSize} ${m.maxEntries} ${m.flags} ${m.name}`);
  for (const r of refs) lines.push(`ref ${r.insn} ${r.map}`);
  lines.push(`insns ${Buffer.from(encode(insns)).toString('hex')}`);
  return `${lines.join('\n')}\n`;
}

/**
 * Loads the case into the machine's kernel: an assembly case through kernel-load (raw BPF_PROG_LOAD),
 * a C case through `bpftool prog loadall` (libbpf shows the log of a failed load only).
 */
export function loadOnKernel(c: CorpusCase, oracle: KernelOracle): LoadOutcome {
  if (c.kind === 'c') {
    const a = oracle.tryLoad(objectFile(c));
    if (a.ok) return { accepted: true, errno: undefined, log: '' };
    return { accepted: false, errno: a.errno, log: a.log };
  }
  const loader = kernelLoader();
  if ('reason' in loader) throw new Error(loader.reason);
  const r = spawnSync(loader.bin, [], { input: kernelLoadInput(c), encoding: 'utf8', timeout: 120_000, maxBuffer: 64 << 20 });
  if (r.error !== undefined) throw r.error;
  if (r.status !== 0) throw new Error(`kernel-load failed on ${c.id}: ${r.stderr.trim()}`);
  const me = /^map-errno (\d+)\n/.exec(r.stdout);
  if (me !== null) throw new Error(`${c.id}: the kernel refused a map: ${errnoName(Number(me[1])) ?? me[1]}`);
  const m = /^(ok|errno (\d+))\nlog (\d+)\n/.exec(r.stdout);
  if (m === null) throw new Error(`kernel-load printed something unexpected for ${c.id}: ${r.stdout.slice(0, 200)}`);
  const log = r.stdout.slice(m[0].length);
  if (m[1] === 'ok') return { accepted: true, errno: undefined, log };
  return { accepted: false, errno: errnoName(Number(m[2])), log };
}

/**
 * The lines of a level-1 log that say why: what follows the last traced instruction or state line
 * (`12: (61) r0 = ...`, `12: R0=...`) up to the statistics (`processed N insns ...`). For a refusal in
 * the structural passes, which trace nothing, that is the whole log.
 */
export function reasonLines(log: string): string[] {
  const lines = log.split('\n').filter((l) => l !== '');
  let start = 0;
  lines.forEach((l, i) => {
    if (/^\d+: /.test(l)) start = i + 1;
  });
  return lines.slice(start).filter((l) => !/^(processed \d+ insns|verification time|stack depth)/.test(l));
}
