// XDP attach in offload mode and its interplay with the other modes, through netdevsim (the kernel's
// reference offload device): the behaviours tools/testing/selftests/net/bpf_offload.py checks (numbers
// 23-35 and 54 of nfp-offload-facts.md §2), with the kernel's errnos and extack messages.

import { describe, expect, it } from 'vitest';
import { assemble } from '../../src/bpf/asm.js';
import { NsimDev } from '../../src/drivers/netdevsim/netdevsim.js';
import { Kernel } from '../../src/kernel/kernel.js';
import {
  XDP_ATTACHED_DRV, XDP_ATTACHED_HW, XDP_ATTACHED_MULTI, XDP_FLAGS_DRV_MODE, XDP_FLAGS_HW_MODE, XDP_FLAGS_SKB_MODE,
  XDP_FLAGS_UPDATE_IF_NOEXIST, XDP_MODE_HW, dev_xdp_attach, dev_xdp_prog, rtnl_setlink_xdp, rtnl_xdp_fill, unregister_netdevice,
} from '../../src/kernel/net/dev-xdp.js';
import { NetlinkExtAck } from '../../src/kernel/net/extack.js';
import type { BpfProg } from '../../src/kernel/prog.js';
import { BPF_F_XDP_DEV_BOUND_ONLY, BPF_PROG_TYPE_XDP, BpfSyscall } from '../../src/kernel/syscall.js';

const RET2 = assemble('r0 = 2\nexit');

async function setup() {
  const k = new Kernel({ cpus: 2 });
  const sys = new BpfSyscall(k);
  const a = await NsimDev.create(k, { id: 1, ports: 2 });
  const b = await NsimDev.create(k, { id: 2, ports: 1 });
  const load = async (ifindex: number, flags = 0): Promise<{ fd: number; prog: BpfProg }> => {
    const fd = await sys.progLoadAsync({ prog_type: BPF_PROG_TYPE_XDP, insns: RET2, license: 'GPL', prog_ifindex: ifindex, prog_flags: flags });
    return { fd, prog: k.progOf(fd, 'test') };
  };
  const host = (): { fd: number; prog: BpfProg } => {
    const fd = sys.progLoad({ prog_type: BPF_PROG_TYPE_XDP, insns: RET2, license: 'GPL' });
    return { fd, prog: k.progOf(fd, 'test') };
  };
  const attach = async (dev: (typeof a.ports)[number], prog: BpfProg | null, flags: number): Promise<{ errno: string; extack: string | undefined } | undefined> => {
    const extack = new NetlinkExtAck();
    try {
      await dev_xdp_attach(k, dev.netdev, extack, prog, null, flags);
      return undefined;
    } catch (e) {
      return { errno: (e as { errno: string }).errno, extack: extack._msg };
    }
  };
  return { k, sys, a, b, load, host, attach };
}

describe('XDP offload mode (netdevsim)', () => {
  it('attaches a bound program in offload mode; the driver\'s hardware runs it', async () => {
    const { a, load, attach } = await setup();
    const p0 = a.ports[0]!;
    const { prog } = await load(p0.netdev.ifindex);
    expect(await attach(p0, prog, XDP_FLAGS_HW_MODE)).toBeUndefined();
    expect(p0.bpf_offloaded_id).toBe(prog.id);
    expect(rtnl_xdp_fill(p0.netdev)).toMatchObject({ attached: XDP_ATTACHED_HW, prog_id: prog.id, hw_prog_id: prog.id });
  });

  it('an offloaded program without the HW flag: "Using offloaded program without HW_MODE flag is not supported"', async () => {
    const { a, load, attach } = await setup();
    const p0 = a.ports[0]!;
    const { prog } = await load(p0.netdev.ifindex);
    expect(await attach(p0, prog, XDP_FLAGS_DRV_MODE)).toEqual({ errno: 'EINVAL', extack: 'Using offloaded program without HW_MODE flag is not supported' });
  });

  it('generic mode never sees an offloaded program: bpf_prog_get_type_dev refuses it, with no message', async () => {
    const { k, a, load } = await setup();
    const p0 = a.ports[0]!;
    const { fd } = await load(p0.netdev.ifindex);
    const extack = new NetlinkExtAck();
    await expect(rtnl_setlink_xdp(k, p0.netdev, { fd, flags: XDP_FLAGS_SKB_MODE }, extack)).rejects.toMatchObject({ errno: 'EINVAL' });
    expect(extack._msg).toBeUndefined();
  });

  it('a host program in offload mode is the driver\'s to refuse ("netdevsim: xdpoffload of non-bound program")', async () => {
    const { a, host, attach } = await setup();
    expect(await attach(a.ports[0]!, host().prog, XDP_FLAGS_HW_MODE)).toEqual({ errno: 'EINVAL', extack: 'netdevsim: xdpoffload of non-bound program' });
  });

  it('a program bound to another ASIC: "Program bound to different device"; other ports of the same ASIC are fine', async () => {
    const { a, b, load, attach } = await setup();
    const { prog } = await load(b.ports[0]!.netdev.ifindex);
    expect(await attach(a.ports[0]!, prog, XDP_FLAGS_HW_MODE)).toEqual({ errno: 'EINVAL', extack: 'Program bound to different device' });
    const onA = (await load(a.ports[0]!.netdev.ifindex)).prog;
    expect(await attach(a.ports[1]!, onA, XDP_FLAGS_HW_MODE)).toBeUndefined();
  });

  it('a dev-bound-only program in generic mode: "Can\'t attach device-bound programs in generic mode"', async () => {
    const { a, load, attach } = await setup();
    const p0 = a.ports[0]!;
    const { prog } = await load(p0.netdev.ifindex, BPF_F_XDP_DEV_BOUND_ONLY);
    expect(await attach(p0, prog, XDP_FLAGS_SKB_MODE)).toEqual({ errno: 'EINVAL', extack: "Can't attach device-bound programs in generic mode" });
    // ... but in driver mode it is the program's own device that runs it.
    expect(await attach(p0, prog, XDP_FLAGS_DRV_MODE)).toBeUndefined();
  });

  it('multi-attach: offload next to driver mode is XDP_ATTACHED_MULTI with both ids; the rules of bpf_offload.py', async () => {
    const { a, load, host, attach } = await setup();
    const p0 = a.ports[0]!;
    const off = (await load(p0.netdev.ifindex)).prog;
    const drv = host().prog;
    expect(await attach(p0, off, XDP_FLAGS_HW_MODE)).toBeUndefined();
    expect(await attach(p0, drv, XDP_FLAGS_DRV_MODE)).toBeUndefined();
    expect(rtnl_xdp_fill(p0.netdev)).toEqual({ attached: XDP_ATTACHED_MULTI, prog_id: 0, skb_prog_id: 0, drv_prog_id: drv.id, hw_prog_id: off.id });
    // replace without -force
    expect(await attach(p0, off, XDP_FLAGS_HW_MODE | XDP_FLAGS_UPDATE_IF_NOEXIST)).toEqual({ errno: 'EBUSY', extack: 'XDP program already attached' });
    // remove without a mode
    expect(await attach(p0, null, 0)).toEqual({ errno: 'EINVAL', extack: 'More than one program loaded, unset mode is ambiguous' });
    // unset offload: back to the driver-mode program alone, and the "hardware" is empty
    expect(await attach(p0, null, XDP_FLAGS_HW_MODE)).toBeUndefined();
    expect(rtnl_xdp_fill(p0.netdev)).toMatchObject({ attached: XDP_ATTACHED_DRV, prog_id: drv.id });
    expect(p0.bpf_offloaded_id).toBe(0);
    // re-attach
    expect(await attach(p0, off, XDP_FLAGS_HW_MODE)).toBeUndefined();
    expect(rtnl_xdp_fill(p0.netdev).attached).toBe(XDP_ATTACHED_MULTI);
  });

  it('removing XDP many times in each mode is harmless', async () => {
    const { a, attach } = await setup();
    for (const mode of [XDP_FLAGS_HW_MODE, XDP_FLAGS_DRV_MODE, 0, XDP_FLAGS_SKB_MODE]) {
      for (let i = 0; i < 3; i++) expect(await attach(a.ports[0]!, null, mode)).toBeUndefined();
    }
  });

  it('device removal uninstalls the offloaded program and drops the device\'s own reference', async () => {
    const { k, sys, a, load, attach } = await setup();
    const p1 = a.ports[1]!;
    const { fd, prog } = await load(p1.netdev.ifindex);
    expect(await attach(p1, prog, XDP_FLAGS_HW_MODE)).toBeUndefined();
    sys.close(fd);
    const id = prog.id;
    expect(k.progs.get(id)).toBe(prog);
    expect(prog.refcount).toBe(2); // the xdp_state slot's and the driver's (dev_xdp_install gave it one)
    await unregister_netdevice(k, p1.netdev);
    expect(dev_xdp_prog(p1.netdev, XDP_MODE_HW)).toBeNull();
    expect(p1.bpf_offloaded_id).toBe(0);
    // Both references are gone (netdevsim drops its own in xdp_attachment_setup): the program is freed.
    expect(prog.refcount).toBe(0);
    expect(k.progs.get(id)).toBeUndefined();
    await a.remove();
  });
});
