// Child process of corpus-emu.test.ts: loads the named corpus cases on nfp-emu one after the other and
// reports each as a line on stdout, so the parent can give every case a time budget. A verifier that
// loops forever on one program then costs that case, not the whole run (progLoad is synchronous and
// cannot be interrupted in-process).
//   node --import tsx test/verifier/corpus/emu-runner.ts <id>...
// Lines: `start <id>`, then `done <json EmuVerdict>`.

import { emuVerdict, listCases } from '../corpus.js';

const wanted = new Set(process.argv.slice(2));
for (const c of listCases()) {
  if (!wanted.has(c.id)) continue;
  process.stdout.write(`start ${c.id}\n`);
  process.stdout.write(`done ${JSON.stringify(emuVerdict(c))}\n`);
}
