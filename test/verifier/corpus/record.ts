// Asks the machine's kernel about corpus cases and prints what it said, to write or check a case's
// header: `npx tsx test/verifier/corpus/record.ts [id-prefix...]`. With --fill, a rejected case that
// has no `log:` line yet gets the kernel's first reason line written into its header; the verdict is
// never written for you - a case states what its author expects, and the kernel test checks it.

import fs from 'node:fs';
import { describeVerdict, listCases, loadOnKernel, reasonLines } from '../corpus.js';
import { KernelOracle } from '../../oracle/kernel.js';

const args = process.argv.slice(2);
const fill = args.includes('--fill');
const prefixes = args.filter((a) => a !== '--fill');
const oracle = new KernelOracle();


try {
  const cases = prefixes.length === 0 ? listCases({ requireLog: false }) : listCases({ requireLog: false }).filter((c) => prefixes.some((p) => c.id.startsWith(p)));
  for (const c of cases) {
    const k = loadOnKernel(c, oracle);
    const mark = describeVerdict(c.expect) === describeVerdict(k) ? '  ' : '!!';
    const reasons = reasonLines(k.log);
    console.log(`${mark} ${c.id}: expected ${describeVerdict(c.expect)}, kernel ${describeVerdict(k)}`);
    for (const l of reasons) console.log(`     | ${l}`);
    if (fill && !k.accepted && reasons.length > 0 && !fs.readFileSync(c.file, 'utf8').match(/^(#|\/\/)\s*log:/m)) {
      const text = fs.readFileSync(c.file, 'utf8');
      const tag = c.kind === 'c' ? '//' : '#';
      const lines = text.split('\n');
      const at = lines.findIndex((l) => l.startsWith(`${tag} expect:`));
      lines.splice(at + 1, 0, `${tag} log: ${reasons[0]}`);
      fs.writeFileSync(c.file, lines.join('\n'));
    }
  }
} finally {
  oracle.cleanup();
}
