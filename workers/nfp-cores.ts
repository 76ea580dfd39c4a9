// Worker entry of the NFP core pool (piscina): one task per thread, which attaches the card's memories
// and the pool's rings and runs its group of cores' datapath loop (firmware/datapath.ts) until the host
// stops the pool. The task's return value is a summary; everything else goes through shared memory.

import { NfpDatapath } from '../firmware/datapath.js';
import type { NfpCoresShared } from '../src/nic/cores.js';

export interface NfpCoresTask {
  readonly shared: NfpCoresShared;
  readonly group: number;
}

export default function nfpCoresTask(task: NfpCoresTask): { group: number; packets: number } {
  return new NfpDatapath(task.shared, task.group).runLoop();
}
