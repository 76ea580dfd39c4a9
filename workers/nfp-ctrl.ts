// Worker entry of the firmware's control-message handler (firmware/ctrl.ts): attach the card's memory
// and mailbox from workerData, then answer requests until the device asks the firmware to stop. Between
// batches it sleeps on the request ring's producer index, waking early for a reply it was told to
// delay (a fault test).

import { workerData } from 'node:worker_threads';
import { FirmwareCtrl } from '../firmware/ctrl.js';
import type { NfpDeviceShared } from '../src/nic/device.js';
import { MBOX } from '../src/nic/mailbox.js';

const { dev } = workerData as { dev: NfpDeviceShared };
const fw = new FirmwareCtrl(dev);
const hdr = fw.mbox.hdr;
/** Sleep at most this long, so a stop request is seen even without a doorbell. */
const IDLE_WAIT_MS = 50;
/**
 * Before sleeping, poll the ring this long: the firmware has cores of its own, and a request that
 * arrives within it costs the host no futex wake-up (the host only wakes a firmware that sleeps).
 */
const POLL_BEFORE_SLEEP_MS = 0.05;

for (;;) {
  // Read the producer index before draining: a request that lands after the drain then makes the
  // wait below return at once instead of sleeping on it.
  const seen = Atomics.load(hdr, MBOX.H2F_PROD);
  const due = fw.poll(performance.now());
  if (fw.stopRequested) break;
  const wait = due === Infinity ? IDLE_WAIT_MS : Math.min(IDLE_WAIT_MS, due - performance.now());
  if (wait <= 0) continue;
  const until = performance.now() + POLL_BEFORE_SLEEP_MS;
  while (Atomics.load(hdr, MBOX.H2F_PROD) === seen && performance.now() < until && !fw.stopRequested);
  if (Atomics.load(hdr, MBOX.H2F_PROD) === seen) fw.mbox.fwSleep(seen, wait);
}
