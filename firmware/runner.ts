// Where the firmware's control handler runs. On the NIC it has cores of its own; here it gets either a
// worker thread (the default: it answers while the host's event loop does other work, and sleeps on the
// request ring with Atomics.wait) or the host's own thread (deterministic tests: it runs when the
// doorbell schedules it, in a microtask, or when a busy-waiting host pumps it).
//
// Worker threads cannot load .ts files: from the built tree (dist/) the worker entry is plain .js;
// from the TypeScript sources (tsx, vitest) the worker first registers tsx's loader (a devDependency)
// and then imports the .ts entry. spawnModuleWorker() does that for any entry, so the tests' stand-ins
// for NIC cores start the same way.

import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';
import { BpfError } from '../src/bpf/errno.js';
import type { FirmwareInstance, FirmwareStarter, NfpDeviceShared } from '../src/nic/device.js';
import { FirmwareCtrl } from './ctrl.js';

/**
 * Start `entry` (a .js module, or a .ts module under tsx's loader) in a worker thread. Throws ENOEXEC
 * with what to do when a .ts entry cannot be loaded.
 */
export function spawnModuleWorker(entry: URL, opts: WorkerOptions = {}): Worker {
  if (!entry.pathname.endsWith('.ts')) return new Worker(entry, opts);
  let tsxApi: string;
  try {
    // The package's ESM entry (its CommonJS one cannot register the loader from an eval worker).
    tsxApi = pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')).href;
  } catch {
    throw new BpfError('ENOEXEC', `cannot start ${entry.pathname} in a worker: running from the TypeScript sources needs tsx (npm install), or run the built CLI (npm run build)`);
  }
  const boot = `import(${JSON.stringify(tsxApi)}).then(({ register }) => { register(); return import(${JSON.stringify(entry.href)}); })`
    + '.catch((e) => { setImmediate(() => { throw e; }); });';
  return new Worker(boot, { ...opts, eval: true });
}

/** The worker entry of the control handler, next to this module in the source or the built tree. */
export function defaultCtrlWorkerEntry(): URL {
  const ext = import.meta.url.endsWith('.ts') ? 'ts' : 'js';
  return new URL(`../workers/nfp-ctrl.${ext}`, import.meta.url);
}

export interface WorkerFirmwareOptions {
  /** The worker entry (default: workers/nfp-ctrl next to this module). */
  entry?: URL;
  /** A firmware crash (an exception in the handler); the device stops answering. */
  onError?: (e: Error) => void;
}

/** The control handler in its own thread. The thread does not keep the host process alive. */
export function workerFirmware(opts: WorkerFirmwareOptions = {}): FirmwareStarter {
  return (dev: NfpDeviceShared): FirmwareInstance => {
    const w = spawnModuleWorker(opts.entry ?? defaultCtrlWorkerEntry(), { workerData: { dev } });
    let exited = false;
    const exit = new Promise<void>((resolve) => w.once('exit', () => { exited = true; resolve(); }));
    w.on('error', (e) => opts.onError?.(e));
    w.unref();
    return {
      kind: 'worker',
      async stop(): Promise<void> {
        if (exited) return;
        // The device has set FW_STOP and rung the doorbell: the loop ends between two messages.
        const timer = setTimeout(() => { void w.terminate(); }, 2000);
        await exit;
        clearTimeout(timer);
      },
    };
  };
}

export interface InProcessFirmware extends FirmwareInstance {
  /** The handler itself (tests look at its tables and counters). */
  readonly ctrl: FirmwareCtrl;
}

/**
 * The control handler on the host's thread: the doorbell schedules a poll in a microtask, a delayed
 * reply arms a timer, and pump() runs it at once (a busy-waiting host).
 */
export function inProcessFirmware(onStart?: (fw: InProcessFirmware) => void): FirmwareStarter {
  return (dev: NfpDeviceShared): FirmwareInstance => {
    const ctrl = new FirmwareCtrl(dev);
    let scheduled = false;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = (): void => {
      scheduled = false;
      if (stopped) return;
      const due = ctrl.poll(performance.now());
      if (timer !== undefined) {
        clearTimeout(timer);
        timer = undefined;
      }
      if (due !== Infinity && !stopped) timer = setTimeout(run, Math.max(0, due - performance.now()));
    };
    const fw: InProcessFirmware = {
      kind: 'in-process',
      ctrl,
      pump: run,
      doorbell(): void {
        if (scheduled || stopped) return;
        scheduled = true;
        queueMicrotask(run);
      },
      async stop(): Promise<void> {
        stopped = true;
        if (timer !== undefined) clearTimeout(timer);
      },
    };
    onStart?.(fw);
    // Requests may already be waiting (a restart after a reset).
    fw.doorbell!();
    return fw;
  };
}
