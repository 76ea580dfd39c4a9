// The nfp-emu command line: a thin commander front end over the library (STYLE.md rule 11).
// buildProgram() takes its output streams so tests drive the CLI in-process.

import { Command, CommanderError } from 'commander';
import type { Writable } from 'node:stream';

export interface CliIo {
  stdout: Writable;
  stderr: Writable;
}

export function buildProgram(io: CliIo): Command {
  const program = new Command('nfp-emu')
    .description('Emulator of a Linux host with a Netronome-style SmartNIC running offloaded eBPF/XDP')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    });
  return program;
}

/** Run the CLI; resolves to the process exit code. */
export async function main(argv: readonly string[], io: CliIo = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync(argv as string[]);
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode;
    throw e;
  }
}
