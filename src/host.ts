// Boot an emulated host: a Kernel, the NFP card built from a firmware image (default: the 60-core
// production image), its firmware started (in a worker thread, or in-process for deterministic
// tests), the nfp driver probed, its port registered as nfp0. Every command that needs a host builds it
// here, which is how the CLI's global `--firmware NAME` reaches them all.
//
// The kernel log (pino) goes to a ring buffer the host keeps — `host.dmesg` — unless a logger is given.

import pino, { type Logger } from 'pino';
import { BpfError } from './bpf/errno.js';
import { inProcessFirmware, workerFirmware, type InProcessFirmware } from '../firmware/runner.js';
import { Kernel, type KernelOptions } from './kernel/kernel.js';
import { BpfSyscall } from './kernel/syscall.js';
import { nfp_pci_probe, type NfpPf } from './drivers/nfp/probe.js';
import type { NfpCcmWaitMode } from './drivers/nfp/cmsg.js';
import { NfpDevice } from './nic/device.js';
import { formatSize, loadFirmwareImage, parseSize, type FirmwareImage } from './nic/fw-image.js';

/** The image a host boots when nobody says otherwise. */
export const DEFAULT_FIRMWARE = 'nfp-bpf-60c';

export interface HostOptions {
  /** Image name (or path), optionally with the board's DRAM: `nfp-bpf-60c`, `nfp-bpf-60c:8GiB`. */
  firmware?: string;
  /** Build the host without the NIC (a plain kernel). */
  nic?: boolean;
  /** Where the firmware's control handler runs (default 'worker'). */
  firmwareMode?: 'worker' | 'in-process';
  /** In-process firmware: called with it each time it starts (tests look inside). */
  onFirmwareStart?: (fw: InProcessFirmware) => void;
  /** Control-message reply timeout in ms (default 5000). */
  cmsgTimeoutMs?: number;
  /** How the driver waits for replies (default 'async'; 'busy' only for the benchmark). */
  waitMode?: NfpCcmWaitMode;
  /** Cap on the real memory backing the NIC's EMEM (tests). */
  ememBackingCap?: number;
  kernel?: KernelOptions;
}

/** One kernel log line. */
export interface DmesgLine {
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly msg: string;
}

/** The kernel's log ring buffer (dmesg). */
export class Dmesg {
  static readonly MAX_LINES = 4096;
  readonly lines: DmesgLine[] = [];

  /** A pino destination that parses each record into the buffer. */
  readonly stream = {
    write: (s: string): void => {
      for (const line of s.split('\n')) {
        if (line === '') continue;
        const rec = JSON.parse(line) as { level: number; msg?: string };
        const level = rec.level >= 50 ? 'error' : rec.level >= 40 ? 'warn' : rec.level >= 30 ? 'info' : 'debug';
        this.lines.push({ level, msg: rec.msg ?? '' });
        if (this.lines.length > Dmesg.MAX_LINES) this.lines.shift();
      }
    },
  };

  /** The buffer as `dmesg` prints it (messages only). */
  text(minLevel: DmesgLine['level'] = 'debug'): string {
    const order = ['debug', 'info', 'warn', 'error'];
    const min = order.indexOf(minLevel);
    return this.lines.filter((l) => order.indexOf(l.level) >= min).map((l) => `${l.msg}\n`).join('');
  }

  /** Does any line contain `text`? */
  has(text: string): boolean {
    return this.lines.some((l) => l.msg.includes(text));
  }

  clear(): void {
    this.lines.length = 0;
  }
}

export interface Host {
  readonly kernel: Kernel;
  readonly sys: BpfSyscall;
  readonly image: FirmwareImage | undefined;
  readonly device: NfpDevice | undefined;
  /** The probed card (undefined without a NIC). */
  readonly nfp: NfpPf | undefined;
  readonly dmesg: Dmesg;
  /** Unbind the driver, stop the firmware, wait for background work. */
  shutdown(): Promise<void>;
}

/** `NAME` or `NAME:SIZE` -> the image name and the board's DRAM size. */
export function parseFirmwareSpec(spec: string): { name: string; ememBytes: number | undefined } {
  const i = spec.lastIndexOf(':');
  if (i <= 0 || spec.slice(i + 1).includes('/')) return { name: spec, ememBytes: undefined };
  return { name: spec.slice(0, i), ememBytes: parseSize(spec.slice(i + 1), `--firmware ${spec}`) };
}

export async function createHost(opts: HostOptions = {}): Promise<Host> {
  const dmesg = new Dmesg();
  const logger: Logger = opts.kernel?.logger ?? pino({ level: 'debug', base: undefined, timestamp: false }, dmesg.stream);
  const kernel = new Kernel({ ...opts.kernel, logger });
  const sys = new BpfSyscall(kernel);
  if (opts.nic === false) {
    return { kernel, sys, image: undefined, device: undefined, nfp: undefined, dmesg, shutdown: async () => {} };
  }
  const { name, ememBytes } = parseFirmwareSpec(opts.firmware ?? DEFAULT_FIRMWARE);
  const image = loadFirmwareImage(name);
  if (ememBytes !== undefined && !image.memory.ememVariants.includes(ememBytes)) {
    throw new BpfError('EINVAL', `firmware ${image.name} is built for EMEM of ${image.memory.ememVariants.map(formatSize).join(', ')}, not ${formatSize(ememBytes)}`);
  }
  const device = new NfpDevice(image, {
    ...(ememBytes !== undefined ? { ememBytes } : {}),
    ...(opts.ememBackingCap !== undefined ? { ememBackingCap: opts.ememBackingCap } : {}),
  });
  const firmware = opts.firmwareMode === 'in-process'
    ? inProcessFirmware(opts.onFirmwareStart)
    : workerFirmware({ onError: (e) => kernel.log.error(`nfp ${device.pciAddr}: firmware crashed: ${e.message}`) });
  const nfp = await nfp_pci_probe({
    kernel, device, firmware,
    ...(opts.cmsgTimeoutMs !== undefined ? { cmsgTimeoutMs: opts.cmsgTimeoutMs } : {}),
    ...(opts.waitMode !== undefined ? { waitMode: opts.waitMode } : {}),
  });
  let down: Promise<void> | undefined;
  return {
    kernel, sys, image, device, nfp, dmesg,
    shutdown(): Promise<void> {
      down ??= (async () => {
        await nfp.remove();
        await kernel.offload.settle();
        await device.unloadFirmware();
      })();
      return down;
    },
  };
}
