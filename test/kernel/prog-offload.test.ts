// The kernel's program offload (kernel/bpf/offload.c) driven through netdevsim, the kernel's own
// reference device: binding at load (prog_ifindex), the device hook inside the verifier walk, translate,
// info, map/program device matching, destroy on close and orphaning on device removal. The behaviours
// are the ones tools/testing/selftests/net/bpf_offload.py checks on a real kernel.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { assemble } from '../../src/bpf/asm.js';
import { isBpfError } from '../../src/bpf/errno.js';
import { loadObject } from '../../src/bpf/object.js';
import { NsimDev } from '../../src/drivers/netdevsim/netdevsim.js';
import { Kernel } from '../../src/kernel/kernel.js';
import { BPF_MAP_TYPE_ARRAY, BPF_MAP_TYPE_HASH, BPF_MAP_TYPE_PERF_EVENT_ARRAY } from '../../src/kernel/maps/map.js';
import type { BpfProg } from '../../src/kernel/prog.js';
import { BPF_F_XDP_DEV_BOUND_ONLY, BPF_PROG_TYPE_SOCKET_FILTER, BPF_PROG_TYPE_XDP, BpfSyscall, type ProgLoadAttr } from '../../src/kernel/syscall.js';
import { loadObjectIntoKernelAsync } from '../../src/libbpf/object.js';
import { progObject } from '../oracle/kernel.js';

async function setup(ports = 2) {
  const k = new Kernel({ cpus: 2 });
  const sys = new BpfSyscall(k);
  const sdev = await NsimDev.create(k, { ports });
  return { k, sys, sdev, nsim: sdev.ports[0]!, ifindex: sdev.ports[0]!.netdev.ifindex };
}

const RET2 = assemble('r0 = 2\nexit');

function xdpAttr(extra: Partial<ProgLoadAttr> = {}): ProgLoadAttr {
  return { prog_type: BPF_PROG_TYPE_XDP, insns: RET2, license: 'GPL', log_level: 1, log_size: 1 << 20, ...extra };
}

function expectErrno(f: () => unknown, errno: string): void {
  try {
    f();
  } catch (e) {
    expect(isBpfError(e) ? e.errno : e).toBe(errno);
    return;
  }
  throw new Error(`expected ${errno}`);
}

async function expectErrnoAsync(p: Promise<unknown>, errno: string): Promise<void> {
  await p.then(() => { throw new Error(`expected ${errno}`); }, (e: unknown) => expect(isBpfError(e) ? e.errno : e).toBe(errno));
}

describe('program offload through netdevsim', () => {
  it('binds at load: the device hook runs in the walk, translate marks it xlated, info shows the device', async () => {
    const { k, sys, sdev, ifindex } = await setup();
    // Level 2: a level-1 log of a load that succeeds is reset to its stats line, hook lines included.
    const attr = xdpAttr({ prog_ifindex: ifindex, log_level: 2 });
    const fd = sys.progLoad(attr);
    expect(attr.log_buf).toContain('[netdevsim] Hello from netdevsim!');
    const info = sys.progInfo(fd);
    expect(info.ifindex).toBe(ifindex);
    expect(info.netns_ino).toBe(0xf0000000n);
    expect(info.jited_prog_len).toBeGreaterThan(0);
    expect(sdev.bpf_bound_progs.map((b) => [b.state, b.id])).toEqual([['xlated', info.id]]);
    const prog = k.fds.get(fd)!.obj as BpfProg;
    expect(prog.jited).toBeUndefined(); // the host never runs it
    sys.close(fd);
    expect(sdev.bpf_bound_progs).toEqual([]); // destroy ran
  });

  it('the hello line comes once, on the last instruction, after the instruction lines', async () => {
    const { sys, ifindex } = await setup();
    const attr = xdpAttr({ prog_ifindex: ifindex, log_level: 2, insns: assemble('r0 = 1\nif r0 > 0 goto +1\nr0 = 2\nexit') });
    sys.close(sys.progLoad(attr));
    const log = attr.log_buf!;
    expect(log.split('[netdevsim] Hello from netdevsim!').length - 1).toBe(1);
    expect(log.indexOf('[netdevsim]')).toBeGreaterThan(log.indexOf('(95) exit'));
  });

  it('refusals: bind, verifier hook, no offload device, program type, flags', async () => {
    const { k, sys, nsim, ifindex } = await setup();
    nsim.dfs.bpf_bind_accept = false;
    expectErrno(() => sys.progLoad(xdpAttr({ prog_ifindex: ifindex })), 'EOPNOTSUPP');
    nsim.dfs.bpf_bind_accept = true;
    nsim.dfs.bpf_bind_verifier_accept = false;
    const attr = xdpAttr({ prog_ifindex: ifindex });
    expectErrno(() => sys.progLoad(attr), 'EOPNOTSUPP');
    expect(attr.log_buf).toContain('[netdevsim] Hello from netdevsim!');
    nsim.dfs.bpf_bind_verifier_accept = true;
    expect(nsim.sdev.bpf_bound_progs).toEqual([]); // failed loads leave nothing bound
    expectErrno(() => sys.progLoad(xdpAttr({ prog_ifindex: k.netdevs.loopback.ifindex })), 'EOPNOTSUPP'); // no ndo_bpf
    expectErrno(() => sys.progLoad(xdpAttr({ prog_ifindex: 999 })), 'EINVAL');
    expectErrno(() => sys.progLoad(xdpAttr({ prog_ifindex: ifindex, prog_type: BPF_PROG_TYPE_SOCKET_FILTER })), 'EINVAL');
    expectErrno(() => sys.progLoad(xdpAttr({ prog_ifindex: ifindex, prog_flags: 1 /* STRICT_ALIGNMENT */ })), 'EINVAL');
  });

  it('maps and programs must be on the same device; perf event arrays are neutral', async () => {
    const { k, sys, sdev, ifindex } = await setup();
    const other = await NsimDev.create(k, { id: 1, ports: 1 });
    const mk = (t: number, dev?: number) => sys.mapCreateAsync({
      map_type: t, key_size: 4, value_size: 4, max_entries: t === BPF_MAP_TYPE_PERF_EVENT_ARRAY ? 2 : 2, ...(dev !== undefined ? { map_ifindex: dev } : {}),
    });
    const devMap = await mk(BPF_MAP_TYPE_HASH, ifindex);
    const port2Map = await mk(BPF_MAP_TYPE_ARRAY, sdev.ports[1]!.netdev.ifindex);
    const otherMap = await mk(BPF_MAP_TYPE_ARRAY, other.ports[0]!.netdev.ifindex);
    const hostMap = await mk(BPF_MAP_TYPE_ARRAY);
    const perf = await mk(BPF_MAP_TYPE_PERF_EVENT_ARRAY);
    // r1 = map_fd ll (BPF_LD | BPF_IMM | BPF_DW, src BPF_PSEUDO_MAP_FD); r0 = 2; exit
    const useMap = (fd: number) => [
      { code: 0x18, dst: 1, src: 1, off: 0, imm: fd }, { code: 0, dst: 0, src: 0, off: 0, imm: 0 }, ...RET2,
    ];
    const mismatch = (attr: ProgLoadAttr) => {
      expectErrno(() => sys.progLoad(attr), 'EINVAL');
      expect(attr.log_buf).toContain('offload device mismatch between prog and map');
    };
    sys.close(sys.progLoad(xdpAttr({ prog_ifindex: ifindex, insns: useMap(devMap) })));
    sys.close(sys.progLoad(xdpAttr({ prog_ifindex: ifindex, insns: useMap(port2Map) }))); // another port of the same ASIC
    sys.close(sys.progLoad(xdpAttr({ prog_ifindex: ifindex, insns: useMap(perf) })));
    mismatch(xdpAttr({ prog_ifindex: ifindex, insns: useMap(otherMap) }));
    mismatch(xdpAttr({ prog_ifindex: ifindex, insns: useMap(hostMap) }));
    mismatch(xdpAttr({ insns: useMap(devMap) })); // a host program cannot use a device map
    // dev-bound-only programs run on the host: they use host maps, not device maps.
    sys.close(sys.progLoad(xdpAttr({ prog_ifindex: ifindex, prog_flags: BPF_F_XDP_DEV_BOUND_ONLY, insns: useMap(hostMap) })));
    mismatch(xdpAttr({ prog_ifindex: ifindex, prog_flags: BPF_F_XDP_DEV_BOUND_ONLY, insns: useMap(devMap) }));
  });

  it('device removal orphans the program: info fails with ENODEV, the bound state is destroyed', async () => {
    const { k, sys, sdev, ifindex } = await setup(1);
    const fd = sys.progLoad(xdpAttr({ prog_ifindex: ifindex }));
    const prog = k.fds.get(fd)!.obj as BpfProg;
    await sdev.remove();
    expect(sdev.bpf_bound_progs).toEqual([]);
    expect(prog.offload).toBeNull();
    expectErrno(() => sys.progInfo(fd), 'ENODEV');
    sys.close(fd);
  });

  it('with two ports, removing one moves the program to the other', async () => {
    const { k, sys, sdev, ifindex } = await setup(2);
    const fd = sys.progLoad(xdpAttr({ prog_ifindex: ifindex }));
    const [first, second] = sdev.ports;
    await k.offload.bpf_offload_dev_netdev_unregister(sdev.bpf_dev, first!.netdev);
    expect(sys.progInfo(fd).ifindex).toBe(second!.netdev.ifindex);
    sys.close(fd);
  });

  it('test run: the kernel has none for offloaded programs; the sync call says to wait', async () => {
    const { sys, ifindex } = await setup();
    const fd = sys.progLoad(xdpAttr({ prog_ifindex: ifindex }));
    expectErrno(() => sys.progTestRun({ prog_fd: fd, data_in: new Uint8Array(64) }), 'EAGAIN');
    await expectErrnoAsync(sys.progTestRunAsync({ prog_fd: fd, data_in: new Uint8Array(64) }), 'ENOTSUPP');
    sys.close(fd);
  });

  it('a load waits for a device operation in flight (progLoadAsync); the sync load says EAGAIN', async () => {
    const { k, sys, ifindex } = await setup();
    await k.offload.bpf_devs_lock.down_write();
    expectErrno(() => sys.progLoad(xdpAttr({ prog_ifindex: ifindex })), 'EAGAIN');
    const pending = sys.progLoadAsync(xdpAttr({ prog_ifindex: ifindex }));
    let done = false;
    void pending.then(() => { done = true; });
    await new Promise((r) => setTimeout(r, 5));
    expect(done).toBe(false);
    k.offload.bpf_devs_lock.up_write();
    sys.close(await pending);
  });

  it('libbpf loads a real object onto the device: device maps, the device program, the verifier log', async () => {
    const { k, sys, sdev, ifindex } = await setup();
    const path = progObject('xdp_pass');
    const loaded = await loadObjectIntoKernelAsync(sys, loadObject(readFileSync(path), path), { ifindex, logLevel: 1 });
    expect(loaded.programs.length).toBeGreaterThan(0);
    for (const p of loaded.programs) expect(sys.progInfo(p.fd).ifindex).toBe(ifindex);
    for (const m of loaded.maps) expect(sys.mapInfo(m.fd).ifindex).toBe(ifindex);
    expect(sdev.bpf_bound_progs.every((b) => b.state === 'xlated')).toBe(true);
    for (const p of loaded.programs) sys.close(p.fd);
    for (const m of loaded.maps) sys.close(m.fd);
    if (loaded.btfFd !== undefined) sys.close(loaded.btfFd);
    await k.offload.settle();
  });

  it('an offloaded program keeps its helper calls and ctx loads in the xlated program (no host rewrites)', async () => {
    const { sys, ifindex } = await setup();
    const insns = assemble('r2 = *(u32 *)(r1 + 0)\ncall 7\nr0 = 2\nexit');
    const host = sys.progLoad(xdpAttr({ insns }));
    const dev = sys.progLoad(xdpAttr({ insns, prog_ifindex: ifindex }));
    expect(sys.progXlated(dev)).toEqual(insns);
    expect(sys.progXlated(host)).not.toEqual(insns);
    sys.close(host);
    sys.close(dev);
  });
});
