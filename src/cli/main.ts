// The nfp-emu command line: a thin commander front end over the library (STYLE.md rule 11).
// buildProgram() takes its output streams so tests drive the CLI in-process.

import { Command, CommanderError } from 'commander';
import type { Writable } from 'node:stream';
import { isBpfError } from '../bpf/errno.js';
import { judge, loadConformanceDir, runConformance, type Engine } from '../kernel/exec/conformance.js';
import { registerBpftool } from './bpftool/main.js';
import { registerFirmware } from './firmware.js';
import { registerIp } from './ip/main.js';
import { registerRun } from './run.js';
import { runObjdump } from './objdump.js';

export interface CliIo {
  stdout: Writable;
  stderr: Writable;
}

/** What a command action sets to end the process with a status other than 0. */
export interface CliState {
  exitCode: number;
}

/**
 * Wrap a command action: a BpfError (bad input, a failed syscall) is printed as one line naming what
 * is wrong and ends with status 1; anything else is a bug and propagates with its stack.
 */
export function guarded<A extends unknown[]>(io: CliIo, state: CliState, fn: (...args: A) => void | Promise<void>) {
  return async (...args: A): Promise<void> => {
    try {
      await fn(...args);
    } catch (e) {
      if (!isBpfError(e)) throw e;
      io.stderr.write(`nfp-emu: ${e.message}\n`);
      state.exitCode = 1;
    }
  };
}

export function buildProgram(io: CliIo, state: CliState = { exitCode: 0 }): Command {
  const program = new Command('nfp-emu')
    .description('Emulator of a Linux host with a Netronome-style SmartNIC running offloaded eBPF/XDP')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    });

  program.command('objdump')
    .description('disassemble a BPF object as llvm-objdump -d does')
    .argument('<file>', 'a clang-built BPF ELF object')
    .option('--maps', 'also list the maps as libbpf would create them')
    .action(guarded(io, state, (file: string, opts: { maps?: boolean }) => {
      runObjdump(file, opts, (s) => io.stdout.write(s));
    }));

  program.command('conformance')
    .description('run bpf_conformance .data files on the interpreter and the JIT')
    .argument('<dir>', 'a folder of .data files (e.g. ../shared/conformance/tests)')
    .option('--engine <engine>', 'interpreter, jit or both', 'both')
    .option('--negative', 'the files must be refused (the suite\'s negative/ folder)')
    .option('-v, --verbose', 'print every file\'s verdict')
    .action(guarded(io, state, (dir: string, opts: { engine: string; negative?: boolean; verbose?: boolean }) => {
      const engines: Engine[] = opts.engine === 'both' ? ['interpreter', 'jit'] : [opts.engine as Engine];
      if (!engines.every((e) => e === 'interpreter' || e === 'jit')) throw new CommanderError(2, 'nfp-emu', `unknown engine '${opts.engine}'`);
      let cases;
      try {
        cases = loadConformanceDir(dir);
      } catch (e) {
        io.stderr.write(`nfp-emu: cannot read '${dir}': ${(e as Error).message}\n`);
        state.exitCode = 1;
        return;
      }
      for (const engine of engines) {
        const verdicts = cases.map((c) => judge(c, runConformance(c, engine), opts.negative === true));
        for (const v of verdicts) if (opts.verbose || !v.pass) io.stdout.write(`${v.pass ? 'PASS' : 'FAIL'} ${engine} ${v.name}: ${v.detail}\n`);
        const passed = verdicts.filter((v) => v.pass).length;
        io.stdout.write(`${engine}: ${passed} passed, ${verdicts.length - passed} failed\n`);
        if (passed !== verdicts.length) state.exitCode = 1;
      }
    }));

  registerBpftool(program, io, state);
  registerFirmware(program, io, state);
  registerIp(program, io, state);
  registerRun(program, io, state);

  return program;
}

/** Run the CLI; resolves to the process exit code. */
export async function main(argv: readonly string[], io: CliIo = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const state: CliState = { exitCode: 0 };
  const program = buildProgram(io, state);
  try {
    await program.parseAsync(argv as string[]);
    return state.exitCode;
  } catch (e) {
    // commander has already printed its message (usage errors, --help, --version).
    if (e instanceof CommanderError) return e.exitCode;
    throw e;
  }
}
