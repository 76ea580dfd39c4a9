// dev_xdp_attach and friends: the kernel's rules for attaching XDP programs to net devices, checked
// for their errno and extack text (net/core/dev.c, the messages bpf_offload.py compares), the
// reference counts that keep attached programs alive, and what rtnl reports (IFLA_XDP).

import { describe, expect, it } from 'vitest';
import { BPF_ATTACH_TYPE } from '../../src/bpf/prog-types.js';
import { NetlinkExtAck } from '../../src/kernel/net/extack.js';
import {
  XDP_ATTACHED_DRV, XDP_ATTACHED_NONE, XDP_ATTACHED_SKB, XDP_FLAGS_DRV_MODE, XDP_FLAGS_HW_MODE, XDP_FLAGS_REPLACE,
  XDP_FLAGS_SKB_MODE, XDP_FLAGS_UPDATE_IF_NOEXIST, XDP_MODE_DRV, XDP_MODE_SKB, dev_generic_xdp_prog, dev_xdp_prog,
  dev_xdp_prog_count, dev_xdp_prog_id, rtnl_setlink_xdp, rtnl_xdp_fill, unregister_netdevice,
} from '../../src/kernel/net/dev-xdp.js';
import { VETH_XDP_MAX_MTU, dev_set_mtu, netdev_rx } from '../../src/kernel/net/rx.js';
import { attachError, makeTestHost } from './dev-xdp-harness.js';

const PASS = 'r0 = 2\nexit';
const DROP = 'r0 = 1\nexit';

describe('dev_xdp_attach: modes', () => {
  it('attaches generic XDP to any device and reports it as XDP_ATTACHED_SKB', async () => {
    const h = makeTestHost();
    const { prog } = h.asm(PASS);
    await h.attach(h.lo, prog, XDP_FLAGS_SKB_MODE);
    expect(dev_xdp_prog_id(h.lo, XDP_MODE_SKB)).toBe(prog.id);
    expect(dev_generic_xdp_prog(h.lo)).toBe(prog);
    expect(rtnl_xdp_fill(h.lo)).toEqual({ attached: XDP_ATTACHED_SKB, prog_id: prog.id, skb_prog_id: prog.id, drv_prog_id: 0, hw_prog_id: 0 });
  });

  it('picks native mode when no mode is asked and the driver has ndo_bpf, generic otherwise', async () => {
    const h = makeTestHost();
    const { prog } = h.asm(PASS);
    await h.attach(h.veth0, prog, 0);
    expect(dev_xdp_prog(h.veth0, XDP_MODE_DRV)).toBe(prog);
    expect(rtnl_xdp_fill(h.veth0).attached).toBe(XDP_ATTACHED_DRV);
    await h.attach(h.lo, prog, 0);
    expect(dev_xdp_prog(h.lo, XDP_MODE_SKB)).toBe(prog);
  });

  it('refuses native mode on a device whose driver has no ndo_bpf (EOPNOTSUPP)', async () => {
    const h = makeTestHost();
    const { prog } = h.asm(PASS);
    expect(await attachError(h.attach(h.lo, prog, XDP_FLAGS_DRV_MODE))).toEqual({ errno: 'EOPNOTSUPP', msg: 'Underlying driver does not support XDP in native mode' });
    expect(dev_xdp_prog_count(h.lo)).toBe(0);
  });

  it('refuses two mode flags, and native next to generic', async () => {
    const h = makeTestHost();
    const { prog } = h.asm(PASS);
    expect(await attachError(h.attach(h.veth0, prog, XDP_FLAGS_SKB_MODE | XDP_FLAGS_DRV_MODE))).toEqual({ errno: 'EINVAL', msg: 'Only one XDP mode flag can be set' });
    await h.attach(h.veth0, prog, XDP_FLAGS_DRV_MODE);
    expect(await attachError(h.attach(h.veth0, prog, XDP_FLAGS_SKB_MODE))).toEqual({ errno: 'EEXIST', msg: "Native and generic XDP can't be active at the same time" });
    // Removing in the other mode is not an attach: nothing to check, nothing changes.
    await h.attach(h.veth0, null, XDP_FLAGS_SKB_MODE);
    expect(dev_xdp_prog(h.veth0, XDP_MODE_DRV)).toBe(prog);
  });

  it('XDP_FLAGS_UPDATE_IF_NOEXIST (ip without -force) refuses to replace; without it the program is replaced', async () => {
    const h = makeTestHost();
    const a = h.asm(PASS).prog;
    const b = h.asm(DROP).prog;
    await h.attach(h.veth0, a, XDP_FLAGS_UPDATE_IF_NOEXIST | XDP_FLAGS_DRV_MODE);
    expect(await attachError(h.attach(h.veth0, b, XDP_FLAGS_UPDATE_IF_NOEXIST | XDP_FLAGS_DRV_MODE))).toEqual({ errno: 'EBUSY', msg: 'XDP program already attached' });
    await h.attach(h.veth0, b, XDP_FLAGS_DRV_MODE);
    expect(dev_xdp_prog(h.veth0, XDP_MODE_DRV)).toBe(b);
  });

  it('XDP_FLAGS_REPLACE compares the expected program', async () => {
    const h = makeTestHost();
    const a = h.asm(PASS).prog;
    const b = h.asm(DROP).prog;
    await h.attach(h.veth0, a, XDP_FLAGS_SKB_MODE);
    expect(await attachError(h.attach(h.veth0, b, XDP_FLAGS_SKB_MODE, a))).toEqual({ errno: 'EINVAL', msg: 'XDP_FLAGS_REPLACE is not specified' });
    expect(await attachError(h.attach(h.veth0, a, XDP_FLAGS_SKB_MODE | XDP_FLAGS_REPLACE, b))).toEqual({ errno: 'EEXIST', msg: 'Active program does not match expected' });
    await h.attach(h.veth0, b, XDP_FLAGS_SKB_MODE | XDP_FLAGS_REPLACE, a);
    expect(dev_xdp_prog(h.veth0, XDP_MODE_SKB)).toBe(b);
  });

  it('refuses devmap and cpumap programs', async () => {
    const h = makeTestHost();
    const dm = h.asm(PASS, { expectedAttachType: BPF_ATTACH_TYPE.XDP_DEVMAP }).prog;
    expect(await attachError(h.attach(h.veth0, dm, XDP_FLAGS_SKB_MODE))).toEqual({ errno: 'EINVAL', msg: 'BPF_XDP_DEVMAP programs can not be attached to a device' });
    const cm = h.asm(PASS, { expectedAttachType: BPF_ATTACH_TYPE.XDP_CPUMAP }).prog;
    expect(await attachError(h.attach(h.veth0, cm, XDP_FLAGS_SKB_MODE))).toEqual({ errno: 'EINVAL', msg: 'BPF_XDP_CPUMAP programs can not be attached to a device' });
  });

  it('hands offload mode to the driver, which may refuse without a message (veth: EINVAL)', async () => {
    const h = makeTestHost();
    const { prog } = h.asm(PASS);
    const extack = new NetlinkExtAck();
    const { dev_xdp_attach } = await import('../../src/kernel/net/dev-xdp.js');
    await expect(dev_xdp_attach(h.k, h.veth0, extack, prog, null, XDP_FLAGS_HW_MODE)).rejects.toMatchObject({ errno: 'EINVAL' });
    expect(extack._msg).toBeUndefined();
    expect(dev_xdp_prog_count(h.veth0)).toBe(0);
  });
});

describe('dev_xdp_attach: references', () => {
  it('keeps an attached program alive after its fd is closed, and frees it on detach', async () => {
    const h = makeTestHost();
    const { fd, prog } = h.asm(PASS);
    await h.attach(h.veth0, prog, XDP_FLAGS_SKB_MODE);
    h.sys.close(fd);
    expect(h.k.progs.get(prog.id)).toBe(prog);
    // the slot's reference and generic XDP's own
    expect(prog.refcount).toBe(2);
    await h.attach(h.veth0, null, XDP_FLAGS_SKB_MODE);
    expect(h.k.progs.get(prog.id)).toBeUndefined();
  });

  it('drops the replaced program\'s references (native mode, where the driver holds one)', async () => {
    const h = makeTestHost();
    const a = h.asm(PASS);
    const b = h.asm(DROP);
    await h.attach(h.veth0, a.prog, XDP_FLAGS_DRV_MODE);
    await h.attach(h.veth0, b.prog, XDP_FLAGS_DRV_MODE);
    h.sys.close(a.fd);
    expect(h.k.progs.get(a.prog.id)).toBeUndefined();
    expect(b.prog.refcount).toBe(3);
  });

  it('a refused attach leaves the references as they were', async () => {
    const h = makeTestHost();
    const { prog } = h.asm(PASS);
    await attachError(h.attach(h.lo, prog, XDP_FLAGS_DRV_MODE));
    expect(prog.refcount).toBe(1);
  });

  it('unregister_netdevice() uninstalls every program and frees it with the device', async () => {
    const h = makeTestHost();
    const { fd, prog } = h.asm(PASS);
    await h.attach(h.veth1, prog, XDP_FLAGS_DRV_MODE);
    h.sys.close(fd);
    await unregister_netdevice(h.k, h.veth1);
    expect(h.k.netdevs.dev_get_by_name('veth1')).toBeUndefined();
    expect(h.k.progs.get(prog.id)).toBeUndefined();
  });
});

describe('rtnl: IFLA_XDP', () => {
  it('checks the flags before anything else', async () => {
    const h = makeTestHost();
    const { fd } = h.asm(PASS);
    await expect(rtnl_setlink_xdp(h.k, h.veth0, { fd, flags: 1 << 5 })).rejects.toMatchObject({ errno: 'EINVAL' });
    await expect(rtnl_setlink_xdp(h.k, h.veth0, { fd, flags: XDP_FLAGS_SKB_MODE | XDP_FLAGS_HW_MODE })).rejects.toMatchObject({ errno: 'EINVAL' });
    await expect(rtnl_setlink_xdp(h.k, h.veth0, { fd, flags: XDP_FLAGS_REPLACE })).rejects.toMatchObject({ errno: 'EINVAL' });
    expect(rtnl_xdp_fill(h.veth0).attached).toBe(XDP_ATTACHED_NONE);
  });

  it('takes a program fd, refuses other fds and other program types', async () => {
    const h = makeTestHost();
    const { fd, prog } = h.asm(PASS);
    await expect(rtnl_setlink_xdp(h.k, h.veth0, { fd: 999 })).rejects.toMatchObject({ errno: 'EBADF' });
    const mapFd = h.sys.mapCreate({ map_type: 2, key_size: 4, value_size: 4, max_entries: 1 });
    await expect(rtnl_setlink_xdp(h.k, h.veth0, { fd: mapFd })).rejects.toMatchObject({ errno: 'EINVAL' });
    await rtnl_setlink_xdp(h.k, h.veth0, { fd, flags: XDP_FLAGS_SKB_MODE });
    expect(dev_xdp_prog(h.veth0, XDP_MODE_SKB)).toBe(prog);
    await rtnl_setlink_xdp(h.k, h.veth0, { fd: -1, flags: XDP_FLAGS_SKB_MODE });
    expect(dev_xdp_prog_count(h.veth0)).toBe(0);
  });

  it('serialises concurrent attaches under RTNL: exactly one of two no-replace attaches wins', async () => {
    const h = makeTestHost();
    const a = h.asm(PASS);
    const b = h.asm(DROP);
    const flags = XDP_FLAGS_DRV_MODE | XDP_FLAGS_UPDATE_IF_NOEXIST;
    const rs = await Promise.allSettled([rtnl_setlink_xdp(h.k, h.veth0, { fd: a.fd, flags }), rtnl_setlink_xdp(h.k, h.veth0, { fd: b.fd, flags })]);
    expect(rs.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    expect(dev_xdp_prog(h.veth0, XDP_MODE_DRV)).toBe(a.prog);
  });
});

describe('veth: native XDP and the MTU', () => {
  it('refuses native XDP while the MTU does not fit a page, and caps the MTU while attached', async () => {
    const h = makeTestHost();
    const { prog } = h.asm(PASS);
    await dev_set_mtu(h.veth0, 4000);
    expect(await attachError(h.attach(h.veth0, prog, XDP_FLAGS_DRV_MODE))).toEqual({ errno: 'ERANGE', msg: 'veth: Peer MTU is too large to set XDP' });
    await dev_set_mtu(h.veth0, VETH_XDP_MAX_MTU);
    await h.attach(h.veth0, prog, XDP_FLAGS_DRV_MODE);
    const extack = new NetlinkExtAck();
    await expect(dev_set_mtu(h.veth0, VETH_XDP_MAX_MTU + 1, extack)).rejects.toMatchObject({ errno: 'EINVAL' });
    expect(extack._msg).toBe('mtu greater than device maximum');
    await h.attach(h.veth0, null, XDP_FLAGS_DRV_MODE);
    await dev_set_mtu(h.veth0, 9000);
    expect(h.veth0.mtu).toBe(9000);
    // Generic XDP does not care about the MTU.
    await h.attach(h.veth0, prog, XDP_FLAGS_SKB_MODE);
    expect(netdev_rx(h.veth0).max_mtu).toBe(0xffff);
  });

  it('dev_set_mtu: the kernel\'s range messages', async () => {
    const h = makeTestHost();
    const extack = new NetlinkExtAck();
    await expect(dev_set_mtu(h.veth0, 10, extack)).rejects.toMatchObject({ errno: 'EINVAL' });
    expect(extack._msg).toBe('mtu less than device minimum');
    await expect(dev_set_mtu(h.veth0, 70000)).rejects.toMatchObject({ message: 'mtu greater than device maximum' });
    expect(h.veth0.mtu).toBe(1500);
  });
});
