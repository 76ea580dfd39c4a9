// The NIC's datapath wired into a booted host, as whoever builds the host must do it (the driver cannot
// know how the card's cores run): the card's cores started as a pool (worker threads, or in-process
// for deterministic runs), the driver told how they run (nfp_net_set_datapath: the pump it needs while
// it waits for a reconfig, the starter of test runs), and each port's receive path sent through them
// first (the driver's NetdevHwRx, src/drivers/nfp/dp.ts), so that an offloaded program sees every frame
// before the host does.
//
// This lives here until host.ts starts the datapath itself; the scenario runner and `nfp-emu ip` use it.

import { inProcessCores } from '../../firmware/datapath.js';
import { nfp_net_rx_action, nfp_net_rx_hw } from '../drivers/nfp/dp.js';
import { nfp_net_set_datapath } from '../drivers/nfp/xdp.js';
import type { Host } from '../host.js';
import { netdev_rx, type NetdevHwRx } from '../kernel/net/rx.js';
import { NfpCorePool, piscinaCores, type NfpPacketResult } from '../nic/cores.js';

export interface NicDatapath {
  readonly pool: NfpCorePool;
  /** Stop the cores (before the host shuts down). */
  stop(): Promise<void>;
}

/** The XDP action a NIC verdict stands for: what the driver sees in the packet's descriptor. */
export function nfpResultAction(r: NfpPacketResult): number {
  return nfp_net_rx_action(r);
}

/**
 * Start the card's cores and route its first port's traffic through them. Resolves to undefined for a
 * host without the NIC (or a card without ports).
 */
export async function startNicDatapath(
  host: Host, opts: { mode?: 'worker' | 'in-process'; threads?: number; /** RX slots per core (default 256). */ slots?: number } = {},
): Promise<NicDatapath | undefined> {
  const nfp = host.nfp;
  const device = host.device;
  const port = nfp?.ports[0];
  if (nfp === undefined || device === undefined || port === undefined) return undefined;
  const starter = opts.mode === 'in-process' ? inProcessCores({ groups: 1 }) : piscinaCores(opts.threads !== undefined ? { threads: opts.threads } : {});
  const pool = await NfpCorePool.start(device, starter, { port: 0, ...(opts.slots !== undefined ? { slots: opts.slots } : {}) });
  nfp_net_set_datapath(port.bar, {
    ...(pool.runner.pump !== undefined ? { pump: () => pool.pump() } : {}),
    testRunStarter: opts.mode === 'in-process' ? inProcessCores() : piscinaCores({ threads: 1 }),
  });
  // The driver's receive path through the cores (and, paper-only, the host half of partial offload).
  const hw: NetdevHwRx = nfp_net_rx_hw(host.kernel, pool);
  netdev_rx(port.netdev).hw = hw;
  let stopped: Promise<void> | undefined;
  return {
    pool,
    stop(): Promise<void> {
      stopped ??= (async () => {
        if (netdev_rx(port.netdev).hw === hw) netdev_rx(port.netdev).hw = undefined;
        await pool.stop();
      })();
      return stopped;
    },
  };
}
