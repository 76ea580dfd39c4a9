// `nfp-emu run FILE.yaml [--json] [--firmware NAME]`: the main job. The scenario is read and checked
// (an error names file:line:col and exits 2), the host boots, the steps run with their progress printed
// as they end, and the run exits 0 when every step passed, 1 otherwise. With --json the whole report is
// printed once, at the end, as JSON. The emulated bpftool and ip are handed to the runner for the
// scenario's tool steps.

import type { Command } from 'commander';
import { isBpfError } from '../bpf/errno.js';
import { formatHeader, formatStep, formatSummary, reportJson } from '../scenario/report.js';
import { runScenario, type ScenarioTools } from '../scenario/runner.js';
import { ScenarioError, loadScenario } from '../scenario/schema.js';
import { runBpftool } from './bpftool/main.js';
import { runIp } from './ip/main.js';

export interface RunIo {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
}

/** The emulated tools, as the scenario runner calls them. */
export const SCENARIO_TOOLS: ScenarioTools = {
  bpftool: (argv, io) => runBpftool(argv, { kernel: io.kernel, sys: io.sys, stdout: io.stdout, stderr: io.stderr, cwd: io.cwd }),
  ip: (argv, io) => runIp(argv, io),
};

/** Run one scenario file: the exit status. */
export async function runScenarioFile(file: string, opts: { json?: boolean; firmware?: string; firmwareMode?: 'worker' | 'in-process' }, io: RunIo): Promise<number> {
  let sc;
  try {
    sc = loadScenario(file);
  } catch (e) {
    if (!(e instanceof ScenarioError)) throw e;
    io.stderr.write(`nfp-emu run: ${e.message}\n`);
    return 2;
  }
  const json = opts.json === true;
  const rep = await runScenario(sc, {
    ...(opts.firmware !== undefined ? { firmware: opts.firmware } : {}),
    ...(opts.firmwareMode !== undefined ? { firmwareMode: opts.firmwareMode } : {}),
    tools: SCENARIO_TOOLS,
    ...(json ? {} : {
      onBoot: (host) => void io.stdout.write(formatHeader({ name: sc.name, file, host, ...(sc.description !== undefined ? { description: sc.description } : {}) })),
      onStep: (r) => void io.stdout.write(formatStep(r)),
    }),
  });
  if (json) io.stdout.write(reportJson(rep));
  else io.stdout.write(formatSummary(rep));
  return rep.ok ? 0 : 1;
}

export function registerRun(program: Command, io: RunIo, state: { exitCode: number }): void {
  program
    .command('run')
    .description('run a YAML scenario: boot the host and the NIC, load, attach, send packets, check, report')
    .argument('<file>', 'a scenario (see scenarios/*.yaml)')
    .option('--json', 'print the report as JSON')
    .action(async (file: string, o: { json?: boolean }, cmd: Command) => {
      const g = cmd.optsWithGlobals<{ firmware?: string }>();
      try {
        state.exitCode = await runScenarioFile(file, { json: o.json === true, ...(g.firmware !== undefined ? { firmware: g.firmware } : {}) }, io);
      } catch (e) {
        if (!isBpfError(e)) throw e;
        io.stderr.write(`nfp-emu run: ${e.message}\n`);
        state.exitCode = 1;
      }
    });
}
