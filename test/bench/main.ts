// `npm run bench`: every benchmark of the project, printed as tables with ratios measured in one run.
import { benchHost } from './host.js';
import { benchMailbox } from './mailbox.js';
import { benchNic } from './nic.js';
import { benchVerifier } from './verifier.js';

const out = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

out(`nfp-emu bench — node ${process.version}, ${new Date().toISOString()}`);
out('');
benchHost(out);
out('');
benchVerifier(out);
await benchMailbox(out);
await benchNic(out);
