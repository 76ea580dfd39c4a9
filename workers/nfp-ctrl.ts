// Worker entry of the firmware's control-message handler (firmware/ctrl.ts): attach the card's memory
// and mailbox from workerData, then answer requests until the device asks the firmware to stop. Between
// batches it sleeps on the request ring's producer index, waking early for a reply it was told to
// delay (a fault test).
//
// It does not spin on the ring before sleeping: the host sends a burst of requests and wakes the
// firmware once for all of them (src/drivers/nfp/ctrl.ts), so nothing arrives within a short spin
// after a batch is answered, and on a machine with few CPUs a spinning firmware only takes time from
// the host it is waiting for.

import { workerData } from 'node:worker_threads';
import { FirmwareCtrl } from '../firmware/ctrl.js';
import type { NfpDeviceShared } from '../src/nic/device.js';
import { MBOX } from '../src/nic/mailbox.js';

const { dev } = workerData as { dev: NfpDeviceShared };
const fw = new FirmwareCtrl(dev);
const hdr = fw.mbox.hdr;
/** Sleep at most this long, so a stop request is seen even without a doorbell. */
const IDLE_WAIT_MS = 50;

for (;;) {
  // Read the producer index before draining: a request that lands after the drain then makes the
  // wait below return at once instead of sleeping on it.
  const seen = Atomics.load(hdr, MBOX.H2F_PROD);
  const due = fw.poll(performance.now());
  if (fw.stopRequested) break;
  const wait = due === Infinity ? IDLE_WAIT_MS : Math.min(IDLE_WAIT_MS, due - performance.now());
  if (wait <= 0) continue;
  fw.mbox.fwSleep(seen, wait);
}
