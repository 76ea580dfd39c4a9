// The nfp net device's ndo_bpf (drivers/net/ethernet/netronome/nfp/nfp_net_common.c, nfp_net_xdp):
// driver-mode XDP is the vNIC's own (the host CPU runs the program on the receive path, here the
// kernel's rx path reads it from the device's XDP state), offload goes to the BPF app's load path
// (xdp.ts), and every other command (map offload) to the app (nfp_ndo_bpf in offload.ts; a prog array,
// paper-only, to tail_call.ts).

import { BpfError } from '../../bpf/errno.js';
import type { NetDevice } from '../../kernel/net/netdev.js';
import type { NetdevBpf } from '../../kernel/offload.js';
import type { BpfProg } from '../../kernel/prog.js';
import { BPF_MAP_TYPE_PROG_ARRAY } from '../../kernel/maps/map.js';
import type { NfpAppBpf } from './main.js';
import { nfp_ndo_bpf } from './offload.js';
import { nfp_bpf_prog_array_alloc, nfp_bpf_prog_array_free } from './tail_call.js';
import { nfp_net_xdp_setup_hw } from './xdp.js';

/** XDP_PACKET_HEADROOM, NFP_NET_MAX_PREPEND, VLAN_HLEN, ETH_HLEN and PAGE_SIZE as the driver sizes buffers. */
const XDP_PACKET_HEADROOM = 256;
const NFP_NET_MAX_PREPEND = 64;
const VLAN_HLEN = 4;
const ETH_HLEN = 14;
const PAGE_SIZE = 4096;

/** nn->dp.xdp_prog: the driver-mode program of each port (the reference dev_xdp_install() gave it). */
const xdpDrv = new WeakMap<NetDevice, BpfProg>();

/**
 * nfp_net_calc_fl_bufsz_xdp(): a receive buffer with XDP holds the headroom, the largest prepend, two
 * VLAN tags and the frame; nfp_net_check_config() refuses an MTU whose buffer outgrows a page.
 */
export function nfp_net_xdp_mtu_ok(mtu: number): boolean {
  return XDP_PACKET_HEADROOM + NFP_NET_MAX_PREPEND + ETH_HLEN + VLAN_HLEN * 2 + mtu <= PAGE_SIZE;
}

/** nfp_net_xdp_setup_drv(): swap the data path's program (a ring reconfig when XDP turns on or off). */
function nfp_net_xdp_setup_drv(netdev: NetDevice, bpf: Extract<NetdevBpf, { command: 'XDP_SETUP_PROG' | 'XDP_SETUP_PROG_HW' }>): void {
  if (bpf.prog !== null && !nfp_net_xdp_mtu_ok(netdev.mtu)) {
    bpf.extack.setMod('nfp', 'MTU too large w/ XDP enabled');
    throw new BpfError('EINVAL', `${netdev.name}: MTU ${netdev.mtu} too large w/ XDP enabled`);
  }
  const old = xdpDrv.get(netdev) ?? null;
  if (bpf.prog !== null) xdpDrv.set(netdev, bpf.prog);
  else xdpDrv.delete(netdev);
  old?.put(); // xdp_attachment_setup(): the old program's reference goes
}

/** nfp_net_xdp(): the port's ndo_bpf. */
export async function nfp_net_xdp(bpf: NfpAppBpf | null, netdev: NetDevice, cmd: NetdevBpf): Promise<void> {
  switch (cmd.command) {
    case 'XDP_SETUP_PROG':
      return nfp_net_xdp_setup_drv(netdev, cmd);
    case 'XDP_SETUP_PROG_HW':
      return nfp_net_xdp_setup_hw(bpf, netdev, cmd);
    default:
      // nfp-emu, PAPER-ONLY: a prog array on the card is the firmware's tail-call table (tail_call.ts).
      if (bpf !== null && cmd.offmap.map_type === BPF_MAP_TYPE_PROG_ARRAY) {
        return cmd.command === 'BPF_OFFLOAD_MAP_ALLOC' ? nfp_bpf_prog_array_alloc(bpf, cmd.offmap) : nfp_bpf_prog_array_free(bpf, cmd.offmap);
      }
      return nfp_ndo_bpf(bpf, netdev, cmd);
  }
}
