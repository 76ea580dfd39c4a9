// Developer tool: every assembly case of the corpus on the machine's kernel and on nfp-emu at one log
// level, and how many logs are identical line for line (map addresses aside), with the first
// difference of each that is not. `npx tsx test/verifier/logdiff.ts [--level 2] [--only REGEX] [id-prefix...]`
// --only compares just the lines matching REGEX (e.g. the stack liveness lines: ' insn \d+ [+-]|live stack').

import { spawnSync } from 'node:child_process';
import { errnoName } from '../../src/bpf/errno.js';
import { describeVerdict, kernelLoader, kernelLoadInput, listCases, loadOnEmu } from './corpus.js';

const args = process.argv.slice(2);
const li = args.indexOf('--level');
const level = li >= 0 ? Number(args.splice(li, 2)[1]) : 1;
const oi = args.indexOf('--only');
const only = oi >= 0 ? new RegExp(args.splice(oi, 2)[1] ?? '') : undefined;
const prefixes = args;
const loader = kernelLoader();
if ('reason' in loader) throw new Error(loader.reason);

/** Map pointers print as kernel addresses there and as small numbers here. */
const norm = (log: string): string[] => log.split('\n').filter((l) => only === undefined || only.test(l)).map((l) =>
  l.replace(/^(\d+: \(18\) r\d+ = )0x[0-9a-f]+\s*;/, '$1MAP ;').replace(/^(\s+\d+: [.\d]{10} \(18\) r\d+ = )0x[0-9a-f]+$/, '$1MAP')
    .replace(/(before \d+: \(18\) r\d+ = )0x[0-9a-f]+$/, '$1MAP'));

let same = 0, total = 0;
for (const c of listCases()) {
  if (c.kind !== 'asm') continue;
  if (prefixes.length > 0 && !prefixes.some((p) => c.id.startsWith(p))) continue;
  if (c.logSize > 16 << 20) continue; // the million-instruction cases
  total++;
  const input = kernelLoadInput(c).replace(/^prog (\d+) (\d+) (\d+) \d+ /, `prog $1 $2 $3 ${level} `);
  const r = spawnSync(loader.bin, [], { input, encoding: 'utf8', maxBuffer: 256 << 20 });
  const m = /^(ok|errno (\d+))\nlog (\d+)\n/.exec(r.stdout);
  if (m === null) continue;
  const kv = m[1] === 'ok' ? 'accept' : `reject ${errnoName(Number(m[2]))}`;
  const k = norm(r.stdout.slice(m[0].length));
  const e = loadOnEmu(c, level);
  const ours = norm(e.log);
  const ev = describeVerdict(e);
  let diff = -1;
  for (let i = 0; i < Math.max(k.length, ours.length); i++) {
    if (k[i] !== ours[i]) { diff = i; break; }
  }
  if (diff < 0 && kv === ev) { same++; continue; }
  console.log(`${c.id}: kernel ${kv}, nfp-emu ${ev}${diff >= 0 ? `, line ${diff + 1}` : ''}`);
  if (diff >= 0) {
    console.log(`   kernel | ${k[diff] ?? '<end>'}`);
    console.log(`   emu    | ${ours[diff] ?? '<end>'}`);
  }
}
console.log(`${same}/${total} logs identical at level ${level}`);
