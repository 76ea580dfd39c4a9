// tools/bpf/bpftool/main.c: option parsing (GNU getopt_long, as bpftool calls it), cmd_select() with
// bpftool's prefix matching, help/version, and `batch file FILE` — several commands against one host,
// split by bpftool's make_args() (whitespace, '...' and "..." words, `#` comments, `\` continuations),
// as one JSON array of {"command": [...], "output": ...} with -j. The first failing command ends the
// batch with its status.
//
// runBpftool() is one bpftool process on an emulated host: it takes the Kernel (a host booted with the
// NIC per `nfp-emu bpftool` invocation, or the caller's, to share state between commands) and resolves
// to the exit status — a Promise, because commands on offloaded maps and programs wait for the device
// as the real process sleeps in bpf(). registerBpftool() adds `nfp-emu bpftool ...` to the CLI.

import { startNicDatapath } from '../../scenario/nic.js';
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { isBpfError } from '../../bpf/errno.js';
import { createHost, type Host } from '../../host.js';
import { BtfObject, Kernel } from '../../kernel/kernel.js';
import { hostOptionsFrom } from '../firmware.js';
import { BpfSyscall } from '../../kernel/syscall.js';
import { Args, Bpftool, Exit, isPrefix, Killed, Stdio, type BpftoolOutput } from './common.js';
import { JsonDepthAssertion } from './json_writer.js';
import { FEATURE_CMDS, FEATURE_HELP } from './feature.js';
import { MAP_CMDS, MAP_HELP } from './map.js';
import { NET_CMDS, NET_HELP } from './net.js';
import { PROG_CMDS, PROG_HELP, type Cmd } from './prog.js';

export const BPFTOOL_VERSION = '7.1.0';
export const LIBBPF_VERSION = '1.1';

const MAIN_HELP = (bin: string): string => `Usage: ${bin} [OPTIONS] OBJECT { COMMAND | help }
       ${bin} batch file FILE
       ${bin} version

       OBJECT := { prog | map | link | cgroup | perf | net | feature | btf | gen | struct_ops | iter }
       OPTIONS := { {-j|--json} [{-p|--pretty}] | {-d|--debug} | {-l|--legacy} |
                    {-V|--version} }
`;

/** do_help() of an object: its usage text on stderr, `null` in JSON. */
function helpPrinter(text: (bin: string, obj: string) => string, obj: string): (b: Bpftool) => void {
  return (b) => {
    if (b.jsonOutput) b.jw.null();
    else b.out.err(text(b.binName, obj));
  };
}

/** cmd_select(): the first command the word abbreviates; none is the help, and -1. */
async function cmdSelect(b: Bpftool, cmds: readonly Cmd[], argv: readonly string[], help: (b: Bpftool) => void): Promise<number> {
  b.lastHelp = help;
  if (argv.length < 1) return await cmds[0]![1](b, new Args([], b));
  for (const [name, fn] of cmds) {
    if (isPrefix(argv[0], name)) {
      if (name === 'help') {
        help(b);
        return 0;
      }
      const a = new Args(argv, b);
      a.next();
      return await fn(b, a);
    }
  }
  help(b);
  return -1;
}

/** An object of bpftool the emulated host has nothing for. */
function notEmulated(obj: string): (b: Bpftool, a: Args) => number {
  return (b) => {
    b.p_err(`'${obj}' is not supported by the emulated bpftool`);
    return -1;
  };
}

/** `link { show | list }`: the emulated kernel has no BPF links, so the list is empty. */
function doLink(b: Bpftool, a: Args): number {
  if (a.count === 0 || isPrefix(a.cur, 'show') || isPrefix(a.cur, 'list')) {
    if (a.count > 1) return notEmulated('link')(b, a);
    if (b.jsonOutput) {
      b.jw.startArray();
      b.jw.endArray();
    }
    return 0;
  }
  return notEmulated('link')(b, a);
}

function doVersion(b: Bpftool): number {
  if (b.jsonOutput) {
    const jw = b.jw;
    jw.startObject();
    jw.name('version');
    jw.printf(`"${BPFTOOL_VERSION}"`);
    jw.name('libbpf_version');
    jw.printf(`"${LIBBPF_VERSION}"`);
    jw.name('features');
    jw.startObject();
    jw.boolField('libbfd', false);
    jw.boolField('libbpf_strict', !b.legacyLibbpf);
    jw.boolField('skeletons', false);
    jw.endObject();
    jw.endObject();
  } else {
    b.printf(`${b.binName} v${BPFTOOL_VERSION}\nusing libbpf v${LIBBPF_VERSION}\nfeatures:${b.legacyLibbpf ? '' : ' libbpf_strict'}\n`);
  }
  return 0;
}

function mainHelp(b: Bpftool): void {
  if (b.jsonOutput) b.jw.null();
  else b.out.err(MAIN_HELP(b.binName));
}

const CMDS: readonly Cmd[] = [
  ['help', () => 0],
  ['batch', doBatch],
  ['prog', (b, a) => cmdSelect(b, PROG_CMDS, a.rest(), helpPrinter(PROG_HELP, a.prev))],
  ['map', (b, a) => cmdSelect(b, MAP_CMDS, a.rest(), helpPrinter(MAP_HELP, a.prev))],
  ['link', doLink],
  ['cgroup', notEmulated('cgroup')],
  ['perf', notEmulated('perf')],
  ['net', (b, a) => cmdSelect(b, NET_CMDS, a.rest(), helpPrinter(NET_HELP, a.prev))],
  ['feature', (b, a) => cmdSelect(b, FEATURE_CMDS, a.rest(), helpPrinter(FEATURE_HELP, a.prev))],
  ['btf', notEmulated('btf')],
  ['gen', notEmulated('gen')],
  ['struct_ops', notEmulated('struct_ops')],
  ['iter', notEmulated('iter')],
  ['version', (b) => doVersion(b)],
];

async function topSelect(b: Bpftool, argv: readonly string[]): Promise<number> {
  if (argv.length < 1) {
    mainHelp(b);
    return 0;
  }
  return await cmdSelect(b, CMDS, argv, mainHelp);
}

const BATCH_LINE_LEN_MAX = 65536;
const BATCH_ARG_NB_MAX = 4096;

/** make_args(): a batch line split into words; undefined after an error (reported). */
export function makeArgs(b: Bpftool, line: string, cmdNb: number): string[] | undefined {
  const ws = ' \t\r\n';
  const out: string[] = [];
  let i = 0;
  while (i < line.length) {
    while (i < line.length && ws.includes(line[i]!)) i++;
    if (i >= line.length) break;
    if (out.length >= BATCH_ARG_NB_MAX - 1) {
      b.p_err(`too many arguments to command ${cmdNb}`);
      return undefined;
    }
    const q = line[i];
    if (q === "'" || q === '"') {
      const end = line.indexOf(q, i + 1);
      if (end < 0) {
        b.p_err(`unterminated quoted string in command ${cmdNb}`);
        return undefined;
      }
      out.push(line.slice(i + 1, end));
      i = end + 1;
    } else {
      let end = i;
      while (end < line.length && !ws.includes(line[end]!)) end++;
      out.push(line.slice(i, end));
      i = end + 1;
    }
  }
  return out;
}

/** fgets() over the file: lines with their newline, each at most BATCH_LINE_LEN_MAX - 1 bytes. */
function* fgets(text: string): Generator<string> {
  let i = 0;
  while (i < text.length) {
    const nl = text.indexOf('\n', i);
    let end = nl < 0 ? text.length : nl + 1;
    if (end - i > BATCH_LINE_LEN_MAX - 1) end = i + BATCH_LINE_LEN_MAX - 1;
    yield text.slice(i, end);
    i = end;
  }
}

const stripComment = (s: string): string => {
  const h = s.indexOf('#');
  return h < 0 ? s : s.slice(0, h);
};

async function doBatch(b: Bpftool, a: Args): Promise<number> {
  if (a.count < 2) {
    b.p_err('too few parameters for batch');
    return -1;
  } else if (!isPrefix(a.cur, 'file')) {
    b.p_err(`expected 'file', got: ${a.cur!}`);
    return -1;
  } else if (a.count > 2) {
    b.p_err('too many parameters for batch');
    return -1;
  }
  a.next();
  const file = a.cur!;
  let text: string;
  try {
    text = file === '-' ? Buffer.from(b.readStdin()).toString('utf8') : readFileSync(b.hostPath(file), 'utf8');
  } catch (e) {
    const code = (e as { code?: string }).code;
    b.p_err(`Can't open file (${file}): ${code === 'ENOENT' ? 'No such file or directory' : code === 'EACCES' ? 'Permission denied' : code === 'EISDIR' ? 'Is a directory' : String(e)}`);
    return -1;
  }
  if (b.jsonOutput) b.jw.startArray();
  let lines = 0;
  let err = 0;
  const reader = fgets(text);
  done: for (let r = reader.next(); !r.done; r = reader.next()) {
    let buf = stripComment(r.value);
    if (buf.length === BATCH_LINE_LEN_MAX - 1) {
      b.p_err('reading batch file failed: Argument list too long');
      err = -1;
      break;
    }
    // A line ending in a backslash continues on the next one.
    while (buf.includes('\\\n')) {
      const next = reader.next();
      if (next.done || next.value.length === 0) {
        b.p_err(`missing continuation line on command ${lines}`);
        err = -1;
        break done;
      }
      const cont = stripComment(next.value);
      if (buf.length + cont.length + 1 > BATCH_LINE_LEN_MAX) {
        b.p_err(`command ${lines} is too long`);
        err = -1;
        break done;
      }
      buf = buf.slice(0, buf.length - 2) + cont;
    }
    const argv = makeArgs(b, buf, lines);
    if (argv === undefined) {
      err = -1;
      break;
    }
    if (argv.length === 0) continue;
    if (b.jsonOutput) {
      const jw = b.jw;
      jw.startObject();
      jw.name('command');
      jw.startArray();
      for (const w of argv) jw.string(w);
      jw.endArray();
      jw.name('output');
    }
    err = await topSelect(b, argv);
    if (b.jsonOutput) b.jw.endObject();
    if (err) break;
    lines++;
  }
  if (!err && !b.jsonOutput) b.printf(`processed ${lines} commands\n`);
  if (b.jsonOutput) b.jw.endArray();
  return err;
}

// ---------------------------------------------------------------------------------------------
// Options: getopt_long(argc, argv, "VhpjfldmnB:L", ...) with GNU argument permutation.

const LONG_OPTS: readonly (readonly [name: string, short: string, hasArg: boolean])[] = [
  ['json', 'j', false], ['help', 'h', false], ['pretty', 'p', false], ['version', 'V', false], ['bpffs', 'f', false],
  ['mapcompat', 'm', false], ['nomount', 'n', false], ['debug', 'd', false], ['use-loader', 'L', false],
  ['base-btf', 'B', true], ['legacy', 'l', false],
];
const SHORT_OPTS: Readonly<Record<string, boolean>> = Object.fromEntries(LONG_OPTS.map(([, s, arg]) => [s, arg]));

type Opt = { ok: true; opt: string } | { ok: false; word: string };

/** Options first, operands after: GNU getopt moves operands behind the options it finds. */
function getopt(argv: readonly string[]): { opts: Opt[]; operands: string[] } {
  const opts: Opt[] = [];
  const operands: string[] = [];
  let prevWord = 'bpftool';
  for (let i = 0; i < argv.length; i++) {
    const w = argv[i]!;
    if (w === '--') {
      operands.push(...argv.slice(i + 1));
      break;
    }
    if (!w.startsWith('-') || w === '-') {
      operands.push(w);
      continue;
    }
    if (w.startsWith('--')) {
      const [name, value] = w.slice(2).split('=', 2) as [string, string | undefined];
      const exact = LONG_OPTS.find((o) => o[0] === name);
      const cands = exact !== undefined ? [exact] : LONG_OPTS.filter((o) => o[0].startsWith(name));
      const o = cands.length === 1 ? cands[0]! : undefined;
      if (o === undefined || (!o[2] && value !== undefined)) {
        opts.push({ ok: false, word: w });
      } else if (o[2] && value === undefined) {
        if (i + 1 < argv.length) opts.push({ ok: true, opt: o[1] }), i++;
        else opts.push({ ok: false, word: w });
      } else {
        opts.push({ ok: true, opt: o[1] });
      }
      prevWord = w;
      continue;
    }
    for (let k = 1; k < w.length; k++) {
      const c = w[k]!;
      const last = k === w.length - 1;
      if (!(c in SHORT_OPTS)) {
        // bpftool names argv[optind - 1]: the word itself once getopt has moved past it.
        opts.push({ ok: false, word: last ? w : prevWord });
        break;
      }
      if (SHORT_OPTS[c]) {
        if (!last) {
          opts.push({ ok: true, opt: c });
        } else if (i + 1 < argv.length) {
          opts.push({ ok: true, opt: c });
          i++;
        } else {
          opts.push({ ok: false, word: w });
        }
        break;
      }
      opts.push({ ok: true, opt: c });
    }
    prevWord = w;
  }
  return { opts, operands };
}

export interface BpftoolOptions extends BpftoolOutput {
  /** The emulated host; a fresh Kernel when absent (state lasts for this one invocation). */
  kernel?: Kernel;
  /** The kernel's syscall layer (it keeps per-map state, so share it with other users of the kernel). */
  sys?: BpfSyscall;
  /** Standard input, for `data_in -` and `batch file -`. */
  readStdin?: () => Uint8Array;
  /** The working directory relative host paths are taken from (default: this process's). */
  cwd?: string;
}

/**
 * The syscall layer with one thing the emulated kernel does not do yet: in Linux a map or program
 * created with BTF holds a reference on it (btf_get() in map_create() and bpf_prog_load()), so the BTF
 * outlives the loader's BTF fd and bpftool can read it by id later. Until BpfSyscall takes that
 * reference itself, the maps and programs created through this one do.
 */
class BtfHoldingSyscall extends BpfSyscall {
  override mapCreate(attr: Parameters<BpfSyscall['mapCreate']>[0]): number {
    const fd = super.mapCreate(attr);
    this.holdBtf(attr.btf_fd, fd);
    return fd;
  }

  override progLoad(attr: Parameters<BpfSyscall['progLoad']>[0]): number {
    const fd = super.progLoad(attr);
    this.holdBtf(attr.prog_btf_fd, fd);
    return fd;
  }

  private holdBtf(btfFd: number | undefined, fd: number): void {
    if (btfFd === undefined || btfFd === 0) return;
    const btf = this.k.fds.get(btfFd)?.obj;
    const obj = this.k.fds.get(fd)?.obj;
    if (!(btf instanceof BtfObject) || obj === undefined || obj instanceof BtfObject) return;
    btf.get();
    // Both BpfMap and BpfProg call onFree(self) once, when their last reference goes.
    const holder = obj as { onFree: ((o: unknown) => void) | undefined };
    const prev = holder.onFree;
    holder.onFree = (o) => {
      prev?.(o);
      btf.put();
    };
  }
}

const syscalls = new WeakMap<Kernel, BpfSyscall>();

/** The BpfSyscall bpftool uses for a kernel: one per kernel, as its map state lives there. */
export function syscallFor(kernel: Kernel): BpfSyscall {
  let sys = syscalls.get(kernel);
  if (sys === undefined) {
    sys = new BtfHoldingSyscall(kernel);
    syscalls.set(kernel, sys);
  }
  return sys;
}

/**
 * One bpftool process: main(argc, argv) with argv[0] dropped. Resolves to the exit status. It is
 * asynchronous because some bpf() commands wait for a device (offloaded maps and programs), as the
 * real process sleeps in the syscall; the output is the same whether or not a command waited.
 */
export async function runBpftool(argv: readonly string[], opts: BpftoolOptions): Promise<number> {
  const kernel = opts.kernel ?? new Kernel();
  const sys = opts.sys ?? syscallFor(kernel);
  const out = new Stdio(opts);
  const b = new Bpftool(kernel, sys, out, opts.readStdin, opts.cwd);
  b.lastHelp = mainHelp;
  let status: number;
  try {
    const r = await main(b, argv);
    status = r.status & 0xff;
    if (b.json !== undefined && r.closeJson) b.json.destroy();
  } catch (e) {
    if (e instanceof Killed) {
      b.out.die();
      status = e.status;
    } else if (e instanceof Exit) {
      status = e.status;
      // clean_and_exit(): the JSON writer is closed on the way out, and asserts it is complete.
      if (b.json !== undefined) {
        try {
          b.json.destroy();
        } catch (a) {
          if (!(a instanceof JsonDepthAssertion)) throw a;
          status = abort(b, a);
        }
      }
    } else if (e instanceof JsonDepthAssertion) {
      status = abort(b, e);
    } else {
      // The emulator failed where the real tool would not have: say so, without a stack trace.
      out.err(`Error: emulator failure: ${e instanceof Error ? e.message : String(e)}\n`);
      status = 255;
    }
  } finally {
    b.closeAll();
  }
  out.flush();
  return status;
}

/** abort() after a failed assert(): the status is 128 + SIGABRT. */
function abort(b: Bpftool, e: JsonDepthAssertion): number {
  b.out.die();
  b.out.err(`${e.message}\n`);
  return 134;
}

/** main(); closeJson is false where bpftool returns before jsonw_destroy() (-V, -h). */
async function main(b: Bpftool, argv: readonly string[]): Promise<{ status: number; closeJson: boolean }> {
  const { opts, operands } = getopt(argv);
  for (const o of opts) {
    if (!o.ok) {
      b.p_err(`unrecognized option '${o.word}'`);
      if (b.jsonOutput) throw new Exit(255);
      b.usage();
    }
    switch (o.opt) {
      case 'V':
        return { status: doVersion(b), closeJson: false };
      case 'h':
        mainHelp(b);
        return { status: 0, closeJson: false };
      case 'p':
        b.prettyOutput = true;
        b.startJson(true);
        break;
      case 'j':
        b.startJson(b.prettyOutput);
        break;
      case 'f':
        b.showPinned = true;
        break;
      case 'm':
        b.relaxedMaps = true;
        break;
      case 'n':
        b.blockMount = true;
        break;
      case 'd':
        b.verifierLogs = true;
        break;
      case 'L':
        b.useLoader = true;
        break;
      case 'l':
        b.legacyLibbpf = true;
        break;
      case 'B':
        // --base-btf only serves `btf dump` of split BTF, which this bpftool does not emulate.
        break;
    }
  }
  return { status: await topSelect(b, operands), closeJson: true };
}

/**
 * `nfp-emu bpftool ...`: every word after `bpftool` goes to bpftool's own parser; its status is the
 * CLI's. Each invocation boots a host of its own — the NIC with the image of the global `--firmware`
 * option, its port nfp0 ready for `dev nfp0` — and shuts it down after.
 */
export function registerBpftool(program: Command, io: BpftoolOutput, state: { exitCode: number }): void {
  program
    .command('bpftool')
    .description('bpftool v7.1 on the emulated host with the NIC (prog, map, batch; dev nfp0 to offload; -j/-p for JSON)')
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .argument('[args...]')
    .action(async (args: string[], _opts: unknown, cmd: Command) => {
      let host: Host;
      try {
        // The firmware's control handler in this thread: one bpftool process sends no traffic, and a
        // worker's start-up would cost more than the command.
        host = await createHost({ firmwareMode: 'in-process', ...hostOptionsFrom(cmd) });
      } catch (e) {
        if (!isBpfError(e)) throw e;
        io.stderr.write(`nfp-emu: ${e.message}\n`);
        state.exitCode = 1;
        return;
      }
      // The NIC's waits (Atomics.waitAsync) do not keep the event loop alive; this timer does.
      const keepAlive = setInterval(() => {}, 1 << 30);
      // The card's cores, in this thread: an offload attach waits for them to take the image, and
      // `prog run` on a device program runs there.
      const nic = await startNicDatapath(host, { mode: 'in-process' });
      try {
        state.exitCode = await runBpftool(args, { ...io, kernel: host.kernel, sys: syscallFor(host.kernel) });
      } finally {
        await nic?.stop();
        await host.shutdown();
        clearInterval(keepAlive);
      }
    });
}
