// The nfp driver's receive path from a card whose cores run the offloaded program (nfp_net_rx() in
// drivers/net/ethernet/netronome/nfp/nfd3/dp.c, reduced to what the emulator models): each RX
// descriptor's verdict becomes the frame's XDP action for the kernel's receive path (a NetdevHwRx,
// src/kernel/net/rx.ts), with the frame as the card left it.
//
// PAPER-ONLY partial offload (the seed paper's "Partial Offloading" and Figure 6; upstream offload is
// all-or-nothing per program): a frame the card passed with a resume word — a NIC program tail-called
// into a prog array slot that holds a host program (tail_call.ts) — is run here by that host program,
// on the host CPU its RSS queue maps to and under rcu_read_lock(), as the NAPI poll runs a driver-mode XDP
// program: the chain's first programs ran on the NIC cores, the rest runs on the host. The host program
// is found through the prog array's host-side mirror (the slot the resume word names); its verdict is
// the frame's.
//
// Per-side statistics: the card counts what its cores did (per-core packets, cycles and verdicts: the
// resumed frames are passes there); nfp_net_partial_stats() counts the frames handed over, the host
// runs and their verdicts, and the host runs are also counted as driver-mode XDP (IFLA_XDP_XSTATS
// "drv"), and as the program's run_cnt/run_time_ns when bpf_stats are on.
//
// What this does not do (and why): the kernel's rx path counts the frame's final action under
// "offload", since its NetdevHwRx has no way to say "this frame ran a host program chosen by the
// driver"; a driver-mode program attached to the port as well would run after a resumed one passes;
// XDP_REDIRECT from a resumed program is an abort (the nfp's driver XDP path here has no redirect); and
// the host program starts its own tail-call count (the resume word carries the NIC's, which the
// kernel's interpreter has no way to take).

import type { Kernel } from '../../kernel/kernel.js';
import { XDP_MODE_DRV } from '../../kernel/net/dev-xdp.js';
import type { NetDevice } from '../../kernel/net/netdev.js';
import { XDP_MAX_FRAME, netdev_rx, rx_flow_hash, type NetdevHwRx, type NetdevHwStats } from '../../kernel/net/rx.js';
import { PAGE_SIZE, XDP_ABORTED, XDP_DROP, XDP_PASS, XDP_REDIRECT, XDP_TX } from '../../kernel/net/xdp.js';
import { runProg, xdpBuffOf } from '../../kernel/test_run.js';
import { NFP_ACT_PASS, NFP_ACT_TX, NFP_PKT_NO_PROG, NFP_PKT_OK, NfpRxBurst, type NfpCorePool, type NfpPacketResult } from '../../nic/cores.js';
import { nfp_port_from_netdev } from './probe.js';
import { nfp_bpf_resume_prog } from './tail_call.js';

/** The XDP action a descriptor says (an image that faulted or built no verdict is an abort). */
export function nfp_net_rx_action(r: NfpPacketResult): number {
  if (r.status !== 'ok' && r.status !== 'no-prog') return XDP_ABORTED;
  if (r.action === 'pass') return XDP_PASS;
  if (r.action === 'tx') return XDP_TX;
  return r.verdict === 'XDP_ABORTED' ? XDP_ABORTED : XDP_DROP;
}

/** Partial offload's two sides, per port (paper-only). */
export interface NfpPartialStats {
  /** Frames the card passed to the host with a resume word: the NIC side of the chain ended there. */
  nic_to_host: number;
  /** Of those, the ones a host program ran, and its verdicts. */
  host_runs: number;
  readonly host: { aborted: number; drop: number; pass: number; tx: number; redirect: number; invalid: number };
  /** Resume words naming a slot that no longer held a host program (the frame is dropped as aborted). */
  miss: number;
}

const partialStats = new WeakMap<NetDevice, NfpPartialStats>();

export function nfp_net_partial_stats(dev: NetDevice): NfpPartialStats {
  let s = partialStats.get(dev);
  if (s === undefined) {
    s = { nic_to_host: 0, host_runs: 0, host: { aborted: 0, drop: 0, pass: 0, tx: 0, redirect: 0, invalid: 0 }, miss: 0 };
    partialStats.set(dev, s);
  }
  return s;
}

function countHost(s: NfpPartialStats, act: number): void {
  const h = s.host;
  if (act === XDP_ABORTED) h.aborted++;
  else if (act === XDP_DROP) h.drop++;
  else if (act === XDP_PASS) h.pass++;
  else if (act === XDP_TX) h.tx++;
  else if (act === XDP_REDIRECT) h.redirect++;
  else h.invalid++;
}

/** The XDP action of a burst's frame i: nfp_net_rx_action() on the descriptor as the burst keeps it. */
export function nfp_net_rx_burst_action(b: NfpRxBurst, i: number): number {
  const st = b.status[i]!;
  if (st !== NFP_PKT_OK && st !== NFP_PKT_NO_PROG) return XDP_ABORTED;
  const a = b.action[i]!;
  if (a === NFP_ACT_PASS) return XDP_PASS;
  if (a === NFP_ACT_TX) return XDP_TX;
  return b.verdict[i] === 3 ? XDP_ABORTED : XDP_DROP;
}

/**
 * The port's receive path through the card's cores (what whoever wires the datapath registers as the
 * device's NetdevHwRx): the cores' verdicts, and the host half of partial-offload chains.
 *
 * A call is a burst (the kernel hands over thousands of frames at a time): they are posted to the RX
 * rings and their descriptors read back in passes over the rings (pool.rxBurst), as a driver's NAPI
 * poll reads its ring, with no object or message per frame. The descriptors are kept per `out` array,
 * so a caller that alternates two of them can start the cores on one burst while it still works on the
 * frames of the other (whose output frames stay where they are).
 */
export function nfp_net_rx_hw(k: Kernel, pool: NfpCorePool): NetdevHwRx {
  const bursts = new WeakMap<Uint8Array[], NfpRxBurst>();
  return {
    async xdp_hw_rx(dev, frames, acts, out) {
      let res = bursts.get(out);
      if (res === undefined) {
        res = new NfpRxBurst(frames.length);
        bursts.set(out, res);
      }
      await pool.rxBurst(frames, res);
      const bpf = nfp_port_from_netdev(dev)?.pf.bpf ?? null;
      let locked = false;
      try {
        for (let i = 0; i < frames.length; i++) {
          let act = nfp_net_rx_burst_action(res, i);
          // A dropped frame has no output (the kernel reads out[i] only for XDP_PASS and XDP_TX).
          if (act !== XDP_PASS && act !== XDP_TX) {
            acts[i] = act;
            continue;
          }
          out[i] = res.packet(i, frames[i]!)!;
          if (res.resume[i] !== 0 && act === XDP_PASS && bpf !== null) {
            if (!locked) {
              k.rcu.rcu_read_lock();
              locked = true;
            }
            act = nfp_net_rx_resume(k, dev, res.resume[i]!, out, i);
          }
          acts[i] = act;
        }
      } finally {
        if (locked) k.rcu.rcu_read_unlock();
      }
    },
    hw_stats(): NetdevHwStats {
      const s = pool.stats();
      return { perCore: s.perCore.map((c) => ({ core: c.core, packets: c.packets, cycles: c.cycles })), clockMhz: s.clockMhz };
    },
  };
}

/**
 * Run the host program a resume word names on the frame out[i] (paper-only partial offload); returns
 * the frame's action and leaves the frame the program made in out[i]. Called under rcu_read_lock().
 */
function nfp_net_rx_resume(k: Kernel, dev: NetDevice, word: number, out: Uint8Array[], i: number): number {
  const st = nfp_net_partial_stats(dev);
  st.nic_to_host++;
  const bpf = nfp_port_from_netdev(dev)?.pf.bpf ?? null;
  const prog = bpf !== null ? nfp_bpf_resume_prog(bpf, word) : null;
  const f = out[i]!;
  if (prog === null || f.length > XDP_MAX_FRAME) {
    st.miss++;
    return XDP_ABORTED;
  }
  const queue = rx_flow_hash(f) % Math.max(1, dev.real_num_rx_queues);
  const x = k.cpus[queue % k.cpus.length]!;
  const buff = xdpBuffOf(x);
  buff.xdp_init_buff(PAGE_SIZE, dev.ifindex, queue);
  buff.receive(f, 0, f.length, dev.ifindex, queue, dev.xdp_metadata);
  buff.txq_ifindex = 0;
  const t0 = k.statsEnabled ? process.hrtime.bigint() : 0n;
  const act = runProg(prog, x, buff.ctx.hi);
  if (k.statsEnabled) {
    prog.runCnt++;
    prog.runTimeNs += Number(process.hrtime.bigint() - t0);
  }
  st.host_runs++;
  countHost(st, act);
  netdev_rx(dev).xdp[XDP_MODE_DRV].count(act, f.length);
  if (act === XDP_PASS || act === XDP_TX) {
    out[i] = buff.frame.slice(buff.data, buff.data_end);
    return act;
  }
  return act === XDP_DROP ? XDP_DROP : XDP_ABORTED;
}
