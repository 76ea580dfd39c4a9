// Developer tool: load one assembly program (a corpus case, or any .s file with a corpus-style header) on
// the machine's kernel and on nfp-emu, and print both verdicts and logs, to see where the two verifiers
// part. `npx tsx test/verifier/probe.ts <case-id | file.s> [--level 2] [--tail N]`

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { errnoName } from '../../src/bpf/errno.js';
import { CORPUS_DIR, describeVerdict, kernelLoader, kernelLoadInput, loadOnEmu, parseCase, type CorpusCase } from './corpus.js';

const args = process.argv.slice(2);
const opt = (name: string, dflt: number): number => {
  const i = args.indexOf(name);
  if (i < 0) return dflt;
  const v = Number(args[i + 1]);
  args.splice(i, 2);
  return v;
};
const level = opt('--level', 1);
const tail = opt('--tail', 40);
const target = args[0];
if (target === undefined) throw new Error('usage: probe.ts <case-id | file.s> [--level 2] [--tail N]');
const file = fs.existsSync(target) ? target : path.join(CORPUS_DIR, `${target}.s`);
const c: CorpusCase = parseCase(file, { requireLog: false });

const last = (log: string): string => log.split('\n').slice(-tail).join('\n');

const loader = kernelLoader();
if ('reason' in loader) console.log(`kernel: ${loader.reason}`);
else {
  const input = kernelLoadInput(c).replace(/^prog (\d+) (\d+) (\d+) \d+ /, `prog $1 $2 $3 ${level} `);
  const r = spawnSync(loader.bin, [], { input, encoding: 'utf8', maxBuffer: 256 << 20 });
  const m = /^(ok|errno (\d+))\nlog (\d+)\n/.exec(r.stdout);
  const verdict = m === null ? r.stdout.slice(0, 100) : m[1] === 'ok' ? 'accept' : `reject ${errnoName(Number(m[2]))}`;
  console.log(`==== kernel: ${verdict}\n${last(m === null ? '' : r.stdout.slice(m[0].length))}`);
}
const emu = loadOnEmu(c, level);
console.log(`==== nfp-emu: ${describeVerdict(emu)} (expected ${describeVerdict(c.expect)})\n${last(emu.log)}`);
