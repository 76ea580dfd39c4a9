// netdevsim's BPF offload (drivers/net/netdevsim/bpf.c): bound-program state, the verifier hook,
// XDP attach in driver and offload mode, and the two-element offloaded maps. Messages go to the
// verifier log with the "[netdevsim] " prefix and to extack with NL_SET_ERR_MSG_MOD's "netdevsim: ".

import { BpfError } from '../../bpf/errno.js';
import { BPF_EXIST, BPF_MAP_TYPE_ARRAY, BPF_MAP_TYPE_HASH, BPF_NOEXIST } from '../../kernel/maps/map.js';
import type { NetlinkExtAck } from '../../kernel/net/extack.js';
import type { BpfMapDevOps, BpfOffloadedMap, BpfProgOffload, BpfProgOffloadOps, NetdevBpf } from '../../kernel/offload.js';
import type { BpfProg } from '../../kernel/prog.js';
import type { VerifierEnv } from '../../kernel/verifier/verifier.js';
import { NSIM_XDP_MAX_MTU, nsim_of_offload, type Netdevsim, type NsimDev } from './netdevsim.js';

/** NSIM_BPF_MAX_KEYS: elements an offloaded map can hold. */
export const NSIM_BPF_MAX_KEYS = 2;

/** struct nsim_bpf_bound_prog: debugfs bpf_bound_progs/<n>/. */
export interface NsimBoundProg {
  readonly name: string;
  readonly sdev: NsimDev;
  readonly offload: BpfProgOffload;
  /** "verify" until translated, then "xlated". */
  state: 'verify' | 'xlated';
  is_loaded: boolean;
  /** The program's id once it has one (debugfs `id`). */
  readonly id: number;
}

/** struct nsim_bpf_bound_map. */
export interface NsimBoundMap {
  readonly offmap: BpfOffloadedMap;
  readonly entry: ({ key: Uint8Array; value: Uint8Array } | null)[];
}

const ea = (extack: NetlinkExtAck, msg: string): void => extack.setMod('netdevsim', msg);

function boundProg(offload: BpfProgOffload): NsimBoundProg {
  return offload.dev_priv as NsimBoundProg;
}

/** msleep() for bpf_bind_verifier_delay: the loading thread really sleeps, as the kernel's would. */
function msleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

export const nsim_bpf_dev_ops: BpfProgOffloadOps = {
  /** nsim_bpf_verifier_prep() + nsim_bpf_create_prog(). */
  prepare(offload: BpfProgOffload): void {
    const ns = nsim_of_offload(offload);
    if (!ns.dfs.bpf_bind_accept) throw new BpfError('EOPNOTSUPP', 'netdevsim: bpf_bind_accept is off');
    const sdev = ns.sdev;
    const state: NsimBoundProg = {
      name: String(sdev.prog_id_gen++), sdev, offload, state: 'verify', is_loaded: false,
      get id(): number { return offload.prog?.id ?? 0; },
    };
    sdev.bpf_bound_progs.push(state);
    offload.dev_priv = state;
  },

  /** nsim_bpf_verify_insn(). */
  insn_hook(offload: BpfProgOffload, env: VerifierEnv, insnIdx: number): void {
    const ns = boundProg(offload).sdev.ports.find((p) => p.netdev === offload.netdev) ?? nsim_of_offload(offload);
    if (ns.dfs.bpf_bind_verifier_delay > 0 && insnIdx === 0) msleep(ns.dfs.bpf_bind_verifier_delay);
    if (insnIdx === env.insns.length - 1) {
      env.log.write('[netdevsim] Hello from netdevsim!\n');
      if (!ns.dfs.bpf_bind_verifier_accept) throw new BpfError('EOPNOTSUPP', 'netdevsim: bpf_bind_verifier_accept is off');
    }
  },

  finalize(): void {},
  replace_insn(): void {
    throw new BpfError('EOPNOTSUPP', 'netdevsim does not follow instruction rewrites');
  },
  remove_insns(): void {
    throw new BpfError('EOPNOTSUPP', 'netdevsim does not follow instruction rewrites');
  },

  /** nsim_bpf_translate(): nothing to emit; the "image" is the program's tag. */
  translate(offload: BpfProgOffload, prog: BpfProg): void {
    boundProg(offload).state = 'xlated';
    offload.jited_image = Uint8Array.from(Buffer.from(prog.tag, 'hex'));
  },

  /** nsim_bpf_destroy_prog(). */
  destroy(offload: BpfProgOffload): void {
    const state = boundProg(offload);
    if (state.is_loaded) state.sdev.kernel.log.warn('WARNING: netdevsim: offload state destroyed while program still bound');
    const list = state.sdev.bpf_bound_progs;
    const i = list.indexOf(state);
    if (i >= 0) list.splice(i, 1);
  },
};

function nsim_prog_set_loaded(prog: BpfProg | null, loaded: boolean): void {
  if (prog?.offload == null) return;
  boundProg(prog.offload).is_loaded = loaded;
}

function nsim_bpf_offload(ns: Netdevsim, prog: BpfProg | null): void {
  nsim_prog_set_loaded(ns.bpf_offloaded, false);
  ns.bpf_offloaded = prog;
  nsim_prog_set_loaded(prog, true);
}

function nsim_setup_prog_checks(ns: Netdevsim, prog: BpfProg | null, extack: NetlinkExtAck): void {
  if (prog?.offload != null && prog.offloadRequested) {
    ea(extack, 'attempt to load offloaded prog to drv');
    throw new BpfError('EINVAL', 'netdevsim: attempt to load offloaded prog to drv');
  }
  if (ns.netdev.mtu > NSIM_XDP_MAX_MTU) {
    ea(extack, 'MTU too large w/ XDP enabled');
    throw new BpfError('EINVAL', 'netdevsim: MTU too large w/ XDP enabled');
  }
}

function nsim_setup_prog_hw_checks(ns: Netdevsim, prog: BpfProg | null, extack: NetlinkExtAck): void {
  if (prog === null) return;
  const fail = (msg: string): never => {
    ea(extack, msg);
    throw new BpfError('EINVAL', `netdevsim: ${msg}`);
  };
  if (prog.offload === null) fail('xdpoffload of non-bound program');
  if (!ns.sdev.kernel.offload.bpf_offload_dev_match(prog, ns.netdev)) fail('program bound to different dev');
  if (boundProg(prog.offload!).state !== 'xlated') fail('offloading program in bad state');
}

/** nsim_xdp_set_prog(). */
function nsim_xdp_set_prog(ns: Netdevsim, bpf: Extract<NetdevBpf, { command: 'XDP_SETUP_PROG' | 'XDP_SETUP_PROG_HW' }>): void {
  if (bpf.command === 'XDP_SETUP_PROG' && !ns.dfs.bpf_xdpdrv_accept) {
    ea(bpf.extack, 'driver XDP disabled in DebugFS');
    throw new BpfError('EOPNOTSUPP', 'netdevsim: driver XDP disabled in DebugFS');
  }
  if (bpf.command === 'XDP_SETUP_PROG_HW') {
    if (!ns.dfs.bpf_xdpoffload_accept) {
      ea(bpf.extack, 'XDP offload disabled in DebugFS');
      throw new BpfError('EOPNOTSUPP', 'netdevsim: XDP offload disabled in DebugFS');
    }
    // nsim_xdp_offload_prog(): the "hardware" runs one program, TC or XDP.
    const active = ns.xdp_hw !== null;
    if (!active && bpf.prog !== null && ns.bpf_offloaded !== null) {
      ea(bpf.extack, 'TC program is already loaded');
      throw new BpfError('EBUSY', 'netdevsim: TC program is already loaded');
    }
    if (active || bpf.prog !== null) nsim_bpf_offload(ns, bpf.prog);
    xdp_attachment_setup(ns.xdp_hw, bpf.prog);
    ns.xdp_hw = bpf.prog;
  } else {
    xdp_attachment_setup(ns.xdp, bpf.prog);
    ns.xdp = bpf.prog;
  }
}

/** xdp_attachment_setup(): the driver owns the reference dev_xdp_install() gave it; the old one goes. */
function xdp_attachment_setup(old: BpfProg | null, prog: BpfProg | null): void {
  if (old !== null && old !== prog) old.put();
}

/** nsim_bpf(): netdevsim's ndo_bpf. */
export async function nsim_bpf(ns: Netdevsim, bpf: NetdevBpf): Promise<void> {
  switch (bpf.command) {
    case 'XDP_SETUP_PROG':
      nsim_setup_prog_checks(ns, bpf.prog, bpf.extack);
      return nsim_xdp_set_prog(ns, bpf);
    case 'XDP_SETUP_PROG_HW':
      nsim_setup_prog_hw_checks(ns, bpf.prog, bpf.extack);
      return nsim_xdp_set_prog(ns, bpf);
    case 'BPF_OFFLOAD_MAP_ALLOC':
      if (!ns.dfs.bpf_map_accept) throw new BpfError('EOPNOTSUPP', 'netdevsim: bpf_map_accept is off');
      return nsim_bpf_map_alloc(ns, bpf.offmap);
    case 'BPF_OFFLOAD_MAP_FREE':
      ns.sdev.bpf_bound_maps.delete(nmapOf(bpf.offmap));
      return;
  }
}

function nmapOf(offmap: BpfOffloadedMap): NsimBoundMap {
  return offmap.dev_priv as NsimBoundMap;
}

function keyEq(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** nsim_map_key_find(): the slot holding `key`, or -1. */
function nsim_map_key_find(nmap: NsimBoundMap, key: Uint8Array): number {
  return nmap.entry.findIndex((e) => e !== null && keyEq(e.key, key));
}

const nsim_bpf_map_ops: BpfMapDevOps = {
  async map_get_next_key(offmap, key, next) {
    const nmap = nmapOf(offmap);
    let idx = key === null ? -1 : nsim_map_key_find(nmap, key);
    idx = idx < 0 ? 0 : idx + 1;
    for (; idx < NSIM_BPF_MAX_KEYS; idx++) {
      const e = nmap.entry[idx];
      if (e != null) {
        next.set(e.key);
        return;
      }
    }
    throw new BpfError('ENOENT', 'netdevsim: no next key');
  },
  async map_lookup_elem(offmap, key, value) {
    const idx = nsim_map_key_find(nmapOf(offmap), key);
    if (idx < 0) throw new BpfError('ENOENT', 'netdevsim: no such key');
    value.set(nmapOf(offmap).entry[idx]!.value);
  },
  async map_update_elem(offmap, key, value, flags) {
    const nmap = nmapOf(offmap);
    let idx = nsim_map_key_find(nmap, key);
    if (idx < 0 && flags === BPF_EXIST) throw new BpfError('ENOENT', 'netdevsim: no such key');
    if (idx >= 0 && flags === BPF_NOEXIST) throw new BpfError('EEXIST', 'netdevsim: the key exists');
    if (idx < 0) {
      idx = nmap.entry.findIndex((e) => e === null);
      if (idx < 0) throw new BpfError('E2BIG', `netdevsim: the map holds ${NSIM_BPF_MAX_KEYS} elements`);
    }
    nmap.entry[idx] = { key: Uint8Array.from(key), value: Uint8Array.from(value) };
  },
  async map_delete_elem(offmap, key) {
    if (offmap.map_type === BPF_MAP_TYPE_ARRAY) throw new BpfError('EINVAL', 'netdevsim: array elements cannot be deleted');
    const nmap = nmapOf(offmap);
    const idx = nsim_map_key_find(nmap, key);
    if (idx < 0) throw new BpfError('ENOENT', 'netdevsim: no such key');
    nmap.entry[idx] = null;
  },
};

/** nsim_bpf_map_alloc(): array and hash of at most NSIM_BPF_MAX_KEYS, no flags; arrays come filled with zeros. */
function nsim_bpf_map_alloc(ns: Netdevsim, offmap: BpfOffloadedMap): void {
  if (offmap.map_type !== BPF_MAP_TYPE_ARRAY && offmap.map_type !== BPF_MAP_TYPE_HASH) throw new BpfError('EINVAL', 'netdevsim: only array and hash maps');
  if (offmap.max_entries > NSIM_BPF_MAX_KEYS) throw new BpfError('ENOMEM', `netdevsim: at most ${NSIM_BPF_MAX_KEYS} elements`);
  if (offmap.map_flags !== 0) throw new BpfError('EINVAL', 'netdevsim: no map flags');
  const nmap: NsimBoundMap = { offmap, entry: Array.from({ length: NSIM_BPF_MAX_KEYS }, () => null) };
  if (offmap.map_type === BPF_MAP_TYPE_ARRAY) {
    for (let i = 0; i < NSIM_BPF_MAX_KEYS; i++) {
      const key = new Uint8Array(offmap.key_size);
      new DataView(key.buffer).setUint32(0, i, true);
      nmap.entry[i] = { key, value: new Uint8Array(offmap.value_size) };
    }
  }
  offmap.dev_priv = nmap;
  offmap.dev_ops = nsim_bpf_map_ops;
  ns.sdev.bpf_bound_maps.add(nmap);
}
