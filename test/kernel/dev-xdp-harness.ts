// Fixtures of the XDP attach and receive-path tests: a kernel with a few host devices (veth-like, with
// native XDP) and programs loaded the way a user loads them — clang objects from test/progs through
// the libbpf loader, or short assembled programs for one behaviour each.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { assemble } from '../../src/bpf/asm.js';
import { loadObject } from '../../src/bpf/object.js';
import { BPF_PROG_TYPE } from '../../src/bpf/prog-types.js';
import { Kernel } from '../../src/kernel/kernel.js';
import { NetlinkExtAck } from '../../src/kernel/net/extack.js';
import { dev_xdp_attach } from '../../src/kernel/net/dev-xdp.js';
import type { NetDevice } from '../../src/kernel/net/netdev.js';
import { host_netdev_register } from '../../src/kernel/net/rx.js';
import type { BpfProg } from '../../src/kernel/prog.js';
import { BpfSyscall } from '../../src/kernel/syscall.js';
import { loadObjectIntoKernel } from '../../src/libbpf/object.js';

export const PROGS = fileURLToPath(new URL('../progs/', import.meta.url));

export interface TestHost {
  readonly k: Kernel;
  readonly sys: BpfSyscall;
  readonly veth0: NetDevice;
  readonly veth1: NetDevice;
  readonly lo: NetDevice;
  /** Load one program of a test/progs object; returns its fd and the program. */
  obj(name: string, prog?: string): { fd: number; prog: BpfProg; maps: Map<string, number> };
  /** Assemble and load an XDP program. */
  asm(text: string, opts?: { expectedAttachType?: number }): { fd: number; prog: BpfProg };
  /** dev_xdp_attach() with a fresh extack; resolves to the extack message (undefined on success) or throws. */
  attach(dev: NetDevice, prog: BpfProg | null, flags: number, old?: BpfProg | null): Promise<void>;
}

export function makeTestHost(opts: { cpus?: number } = {}): TestHost {
  const k = new Kernel({ cpus: opts.cpus ?? 2, prandomSeed: 1 });
  k.rcu.setLockdepReporter(() => {});
  const sys = new BpfSyscall(k);
  const veth0 = host_netdev_register(k, { name: 'veth0' });
  const veth1 = host_netdev_register(k, { name: 'veth1' });
  return {
    k, sys, veth0, veth1, lo: k.netdevs.loopback,
    obj(name, prog) {
      const o = loadObject(new Uint8Array(readFileSync(`${PROGS}${name}.o`)), `${name}.o`);
      const only = prog !== undefined ? [prog] : [o.programs[0]!.name];
      const loaded = loadObjectIntoKernel(sys, o, { only });
      const p = loaded.programs[0]!;
      const maps = new Map(loaded.maps.map((m) => [m.spec.name, m.fd]));
      return { fd: p.fd, prog: k.progOf(p.fd, 'test'), maps };
    },
    asm(text, o = {}) {
      const fd = sys.progLoad({
        prog_type: BPF_PROG_TYPE.XDP, insns: assemble(text), license: 'GPL',
        ...(o.expectedAttachType !== undefined ? { expected_attach_type: o.expectedAttachType } : {}),
      });
      return { fd, prog: k.progOf(fd, 'test') };
    },
    attach(dev, prog, flags, old = null) {
      return dev_xdp_attach(k, dev, new NetlinkExtAck(), prog, old, flags);
    },
  };
}

/** The extack message and errno of a failing attach. */
export async function attachError(p: Promise<void>): Promise<{ errno: string; msg: string }> {
  try {
    await p;
  } catch (e) {
    const err = e as { errno?: string; message: string };
    return { errno: err.errno ?? 'none', msg: err.message };
  }
  throw new Error('the attach succeeded');
}
