// ip/ip.c of iproute2 6.1: the global options (-s, -d, -j, -p, -force, -batch, -V), the object
// dispatch with iproute2's abbreviations, and `-batch FILE` (one command per line, `#` comments; the
// first failing line ends the batch unless -force). runIp() is one `ip` process on an emulated host;
// registerIp() adds `nfp-emu ip ...`, which boots a fresh host (with the NIC named by --firmware) for
// the command and shuts it down afterwards — use -batch, or a scenario, to keep state between commands.

import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { Command } from 'commander';
import { isBpfError } from '../../bpf/errno.js';
import { createHost } from '../../host.js';
import { startNicDatapath } from '../../scenario/nic.js';
import type { Kernel } from '../../kernel/kernel.js';
import type { BpfSyscall } from '../../kernel/syscall.js';
import { hostOptionsFrom } from '../firmware.js';
import { IpExit, ipLinkSet, ipLinkShow, linkUsage, matches, type IpContext } from './link.js';

export const IPROUTE2_VERSION = '6.1.0';

export interface IpOptions {
  readonly kernel: Kernel;
  readonly sys: BpfSyscall;
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
  /** Where relative paths (objects, batch files) are taken from (default: this process's). */
  cwd?: string;
}

const USAGE = `Usage: ip [ OPTIONS ] OBJECT { COMMAND | help }
       ip [ -force ] -batch filename
where  OBJECT := { link }
       OPTIONS := { -V[ersion] | -s[tatistics] | -d[etails] | -j[son] | -p[retty] |
                    -f[orce] | -b[atch] [filename] }
(the objects and options nfp-emu emulates)
`;

interface Globals {
  stats: number;
  details: boolean;
  json: boolean;
  pretty: boolean;
  force: boolean;
  batch: string | undefined;
}

/** One command line of an object (`link ...`): its exit status. */
async function doCmd(ctx: IpContext, argv: readonly string[]): Promise<number> {
  const [obj, ...rest] = argv;
  if (obj === undefined) return 0;
  if (matches(obj, 'link')) return doLink(ctx, rest);
  if (matches(obj, 'help')) {
    ctx.err(USAGE);
    return 255;
  }
  if (['address', 'route', 'rule', 'neighbor', 'neighbour', 'ntable', 'tunnel', 'maddress', 'monitor', 'netns', 'tcpmetrics', 'token', 'vrf', 'mroute', 'mptcp', 'nexthop', 'stats', 'xfrm', 'mrule', 'tap', 'macsec', 'sr', 'ila', 'fou', 'l2tp', 'netconf', 'tuntap'].some((o) => matches(obj, o))) {
    ctx.err(`nfp-emu: 'ip ${obj}' is not emulated (ip link is)\n`);
    return 255;
  }
  ctx.err(`Object "${obj}" is unknown, try "ip help".\n`);
  return 1;
}

async function doLink(ctx: IpContext, argv: readonly string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || matches(cmd, 'show') || matches(cmd, 'lst') || matches(cmd, 'list')) return ipLinkShow(ctx, rest);
  if (matches(cmd, 'set') || matches(cmd, 'change')) return ipLinkSet(ctx, rest);
  if (matches(cmd, 'help')) return linkUsage(ctx);
  if (['add', 'delete', 'xstats', 'afstats', 'property'].some((c) => matches(cmd, c))) {
    ctx.err(`nfp-emu: 'ip link ${cmd}' is not emulated (show and set are)\n`);
    return 255;
  }
  ctx.err(`Command "${cmd}" is unknown, try "ip link help".\n`);
  return 255;
}

/** makeargs(): split a batch line into words (quotes group, `#` starts a comment). */
export function makeArgs(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inWord = false;
  let quote: string | undefined;
  for (const c of line) {
    if (quote !== undefined) {
      if (c === quote) quote = undefined;
      else cur += c;
      continue;
    }
    if (c === '#') break;
    if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
    } else if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (inWord) out.push(cur);
  return out;
}

async function batch(ctx: IpContext, name: string): Promise<number> {
  let text: string;
  try {
    text = readFileSync(name === '-' ? 0 : isAbsolute(name) ? name : resolve(ctx.cwd, name), 'utf8');
  } catch {
    ctx.err(`Cannot open file "${name}" for reading: No such file or directory\n`);
    return 1;
  }
  let ret = 0;
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  for (let n = 0; n < lines.length; n++) {
    const argv = makeArgs(lines[n]!);
    if (argv.length === 0) continue;
    let status: number;
    try {
      status = await doCmd(ctx, argv);
    } catch (e) {
      if (!(e instanceof IpExit)) throw e;
      // exit() inside a batch line ends the whole process, as in iproute2.
      return e.status;
    }
    if (status !== 0) {
      ctx.err(`Command failed ${name}:${n + 1}\n`);
      ret = 1;
      if (!ctx.force) break;
    }
  }
  return ret;
}

/** main(argc, argv) of ip with argv[0] dropped: the exit status. */
export async function runIp(argv: readonly string[], opts: IpOptions): Promise<number> {
  const g: Globals = { stats: 0, details: false, json: false, pretty: false, force: false, batch: undefined };
  let i = 0;
  const err = (s: string): void => void opts.stderr.write(s);
  for (; i < argv.length; i++) {
    let opt = argv[i]!;
    if (opt === '--') {
      i++;
      break;
    }
    if (!opt.startsWith('-') || opt === '-') break;
    if (opt.startsWith('--')) opt = opt.slice(1);
    if (matches(opt, '-stats') || matches(opt, '-statistics')) g.stats++;
    else if (matches(opt, '-details')) g.details = true;
    else if (matches(opt, '-json')) g.json = true;
    else if (matches(opt, '-pretty')) g.pretty = true;
    else if (matches(opt, '-force')) g.force = true;
    else if (matches(opt, '-batch')) {
      if (++i >= argv.length) {
        err('Command line is not complete. Try option "help"\n');
        return 255;
      }
      g.batch = argv[i]!;
    } else if (matches(opt, '-Version')) {
      opts.stdout.write(`ip utility, iproute2-${IPROUTE2_VERSION}, libbpf 1.1.2 (nfp-emu)\n`);
      return 0;
    } else if (matches(opt, '-help')) {
      err(USAGE);
      return 255;
    } else {
      err(`Option "${argv[i]}" is unknown, try "ip -help".\n`);
      return 255;
    }
  }
  const ctx: IpContext = {
    kernel: opts.kernel, sys: opts.sys, stats: g.stats, details: g.details, json: g.json, pretty: g.pretty, force: g.force,
    cwd: opts.cwd ?? process.cwd(),
    out: (s) => void opts.stdout.write(s),
    err,
  };
  try {
    if (g.batch !== undefined) return await batch(ctx, g.batch);
    if (i >= argv.length) {
      err(USAGE);
      return 255;
    }
    return await doCmd(ctx, argv.slice(i));
  } catch (e) {
    if (e instanceof IpExit) return e.status;
    if (isBpfError(e)) {
      // The emulator refused something the real tool would have reported differently: say what.
      err(`nfp-emu: ${e.message}\n`);
      return 255;
    }
    throw e;
  }
}

/** `nfp-emu ip ...` on a freshly booted host. */
export function registerIp(program: Command, io: { stdout: { write(s: string): unknown }; stderr: { write(s: string): unknown } }, state: { exitCode: number }): void {
  program
    .command('ip')
    .description('iproute2\'s ip (link show/set, xdp/xdpgeneric/xdpdrv/xdpoffload; -s, -d, -j, -p, -batch) on a freshly booted host')
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .argument('[args...]')
    .action(async (args: string[], _opts: unknown, cmd: Command) => {
      // The NIC's waits (Atomics.waitAsync) do not keep the event loop alive; this timer does.
      const keepAlive = setInterval(() => {}, 1 << 30);
      const host = await createHost(hostOptionsFrom(cmd));
      const nic = await startNicDatapath(host);
      try {
        state.exitCode = await runIp(args, { kernel: host.kernel, sys: host.sys, ...io });
      } finally {
        await nic?.stop();
        await host.shutdown();
        clearInterval(keepAlive);
      }
    });
}
