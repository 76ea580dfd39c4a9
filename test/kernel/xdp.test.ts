// struct xdp_buff and the xdp_md context: the frame layout BPF_PROG_TEST_RUN builds, test_run's
// ctx_in/ctx_out rules, what a program may load and store through the context, and the three
// adjust helpers at their exact boundaries, on both engines.
//
// Boundary numbers marked "kernel" were measured on the machine's 6.18 kernel with bpftool prog run
// on a 64-byte packet (return value, data_out size); the emulator must give the same.

import { describe, expect, it } from 'vitest';
import { BpfError } from '../../src/bpf/errno.js';
import {
  PAGE_SIZE, SKB_SHARED_INFO_SIZE, XDP_FRAME_SIZE, XDP_MD, XDP_PACKET_HEADROOM, XdpBuff, xdp_md_from_bytes,
  xdp_md_to_bytes, type XdpMd,
} from '../../src/kernel/net/xdp.js';
import { xdp_adjust_head, xdp_adjust_meta, xdp_adjust_tail } from '../../src/kernel/helpers/filter.js';
import { AddressSpace } from '../../src/kernel/exec/memory.js';
import { NetDeviceRegistry } from '../../src/kernel/net/netdev.js';
import { ENGINES, asm, makeHost, s64 } from './xdp-harness.js';

const errno = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    if (e instanceof BpfError) return e.errno;
    throw e;
  }
  return 'no error';
};

const md = (m: Partial<XdpMd>): XdpMd => ({ data: 0, data_end: 0, data_meta: 0, ingress_ifindex: 0, rx_queue_index: 0, egress_ifindex: 0, ...m });
const pkt = (n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 7 + 1) & 0xff);

describe('xdp_buff for BPF_PROG_TEST_RUN', () => {
  const devs = new NetDeviceRegistry();
  const eth1 = devs.register({ name: 'eth1', rxQueues: 4 });

  it('lays the packet out after 256 bytes of headroom in a 4096-byte frame, on loopback rx queue 0', () => {
    const b = new XdpBuff(new AddressSpace());
    b.testRunInit(pkt(64), undefined, devs);
    expect([b.data_hard_start, b.data, b.data_end, b.data_meta, b.frame_sz]).toEqual([0, 256, 320, 256, PAGE_SIZE]);
    expect(b.data_hard_end).toBe(PAGE_SIZE - SKB_SHARED_INFO_SIZE);
    expect([b.rxq_ifindex, b.rxq_queue_index]).toEqual([devs.loopback.ifindex, 0]);
    expect(b.dataOut()).toEqual(pkt(64));
    expect(b.packet.kind).toBe('packet');
    expect(b.packet.size).toBe(PAGE_SIZE);
  });

  it('takes metadata from the headroom: data_in starts with it, data stays at XDP_PACKET_HEADROOM', () => {
    const b = new XdpBuff(new AddressSpace());
    const input = pkt(72);
    b.testRunInit(input, md({ data: 8, data_end: 72, ingress_ifindex: eth1.ifindex, rx_queue_index: 3 }), devs);
    expect([b.data_meta, b.data, b.data_end]).toEqual([XDP_PACKET_HEADROOM - 8, XDP_PACKET_HEADROOM, XDP_PACKET_HEADROOM + 64]);
    expect(b.metalen).toBe(8);
    expect([b.rxq_ifindex, b.rxq_queue_index]).toEqual([eth1.ifindex, 3]);
    expect(b.dataOut()).toEqual(input);
    // ctx_out: data and data_end relative to data_meta, the rest as given.
    expect(b.ctxOut(md({ data: 8, data_end: 72, ingress_ifindex: eth1.ifindex, rx_queue_index: 3 })))
      .toEqual(md({ data: 8, data_end: 72, ingress_ifindex: eth1.ifindex, rx_queue_index: 3 }));
    xdp_adjust_head(b, 10);
    expect(b.ctxOut(md({ data: 8, data_end: 72 }))).toEqual(md({ data: 8, data_end: 62 }));
  });

  it('zeroes the frame (kzalloc) so headroom grown into reads 0', () => {
    const b = new XdpBuff(new AddressSpace());
    b.frame.fill(0xee);
    b.testRunInit(pkt(20), undefined, devs);
    expect(b.frame.subarray(0, XDP_PACKET_HEADROOM).every((v) => v === 0)).toBe(true);
    expect(b.frame.subarray(XDP_PACKET_HEADROOM + 20).every((v) => v === 0)).toBe(true);
  });

  it('refuses ctx_in and data_in as test_run does', () => {
    const b = new XdpBuff(new AddressSpace());
    const d = pkt(64);
    expect(errno(() => b.testRunInit(d, md({ data_end: 64, data_meta: 4 }), devs))).toBe('EINVAL');
    expect(errno(() => b.testRunInit(d, md({ data_end: 63 }), devs))).toBe('EINVAL');
    expect(errno(() => b.testRunInit(d, md({ data: 65, data_end: 64 }), devs))).toBe('EINVAL');
    expect(errno(() => b.testRunInit(d, md({ data: 6, data_end: 64 }), devs))).toBe('EINVAL');
    expect(errno(() => b.testRunInit(pkt(300), md({ data: 256, data_end: 300 }), devs))).toBe('EINVAL');
    expect(errno(() => b.testRunInit(d, md({ data_end: 64, egress_ifindex: 1 }), devs))).toBe('EINVAL');
    expect(errno(() => b.testRunInit(d, md({ data_end: 64, rx_queue_index: 1 }), devs))).toBe('EINVAL');
    expect(errno(() => b.testRunInit(d, md({ data_end: 64, ingress_ifindex: 99 }), devs))).toBe('ENODEV');
    expect(errno(() => b.testRunInit(d, md({ data_end: 64, ingress_ifindex: eth1.ifindex, rx_queue_index: 4 }), devs))).toBe('EINVAL');
    expect(errno(() => b.testRunInit(pkt(13), undefined, devs))).toBe('EINVAL'); // kernel: EINVAL below ETH_HLEN
    expect(errno(() => b.testRunInit(pkt(14), undefined, devs))).toBe('no error');
    // 4096 - 256 - 320 = 3520 bytes fit one page; more would need fragments.
    expect(errno(() => b.testRunInit(pkt(3520), undefined, devs))).toBe('no error');
    expect(errno(() => b.testRunInit(pkt(3521), undefined, devs))).toBe('EOPNOTSUPP');
    // The largest metadata that passes xdp_metalen_invalid and still leaves room for the xdp_frame.
    expect(errno(() => b.testRunInit(pkt(252 + 14), md({ data: 252, data_end: 266 }), devs))).toBe('no error');
  });

  it('reads ctx_in bytes: zero-filled when short, E2BIG when non-zero past sizeof(struct xdp_md)', () => {
    const m = md({ data: 4, data_end: 100, ingress_ifindex: 2, rx_queue_index: 1 });
    expect(xdp_md_from_bytes(xdp_md_to_bytes(m))).toEqual(m);
    expect(xdp_md_from_bytes(new Uint8Array(8))).toEqual(md({}));
    const long = new Uint8Array(32);
    expect(xdp_md_from_bytes(long)).toEqual(md({}));
    long[30] = 1;
    expect(errno(() => xdp_md_from_bytes(long))).toBe('E2BIG');
  });
});

describe('struct xdp_md through a program', () => {
  for (const engine of ENGINES) {
    it(`${engine}: data/data_end are packet pointers, the u32 fields zero-extended`, () => {
      const h = makeHost();
      const eth1 = h.netdevs.register({ name: 'eth1', rxQueues: 2 });
      h.xdp[0]!.testRunInit(pkt(100), md({ data_end: 100, ingress_ifindex: eth1.ifindex, rx_queue_index: 1 }), h.netdevs);
      // r0 = (data_end - data) + ingress_ifindex * 1000 + rx_queue_index * 100000 + first byte * 1e6
      const prog = asm(`
        r2 = *(u32 *)(r1 + 0)
        r3 = *(u32 *)(r1 + 4)
        r0 = r3
        r0 -= r2
        r4 = *(u32 *)(r1 + 12)
        r4 *= 1000
        r0 += r4
        r4 = *(u32 *)(r1 + 16)
        r4 *= 100000
        r0 += r4
        r5 = *(u8 *)(r2 + 0)
        r5 *= 1000000
        r0 += r5
        exit`);
      expect(h.run(engine, prog)).toBe(BigInt(100 + eth1.ifindex * 1000 + 100000 + pkt(1)[0]! * 1000000));
      // The pointer itself: the packet region's tag in the upper half, the frame offset in the lower.
      const ptr = h.run(engine, asm('r0 = *(u32 *)(r1 + 0)\nexit'));
      expect(ptr).toBe((BigInt(h.xdp[0]!.packet.hi >>> 0) << 32n) | BigInt(XDP_PACKET_HEADROOM));
      expect(h.run(engine, asm('r0 = *(u32 *)(r1 + 8)\nexit')) & 0xffffffffn).toBe(BigInt(XDP_PACKET_HEADROOM));
    });

    it(`${engine}: refuses what the verifier refuses (other sizes, egress_ifindex, stores, past the end)`, () => {
      const h = makeHost();
      h.xdp[0]!.testRunInit(pkt(64), undefined, h.netdevs);
      for (const bad of [
        'r0 = *(u64 *)(r1 + 0)', 'r0 = *(u16 *)(r1 + 12)', 'r0 = *(u8 *)(r1 + 16)', 'r0 = *(u32 *)(r1 + 2)',
        'r0 = *(u32 *)(r1 + 20)', 'r0 = *(u32 *)(r1 + 24)', '*(u32 *)(r1 + 16) = r1', '*(u32 *)(r1 + 0) = r1',
      ]) {
        expect(() => h.run(engine, asm(`${bad}\nexit`)), bad).toThrow(/invalid bpf_context access|invalid (read|write)/);
      }
    });

    it(`${engine}: egress_ifindex for devmap programs, rx_queue_index writes for offloaded ones`, () => {
      const h = makeHost();
      const b = h.xdp[0]!;
      b.testRunInit(pkt(64), undefined, h.netdevs);
      b.devmapProg = true;
      b.txq_ifindex = 7;
      expect(h.run(engine, asm('r0 = *(u32 *)(r1 + 20)\nexit'))).toBe(7n);
      b.offloaded = true;
      h.run(engine, asm('r2 = 3\n*(u32 *)(r1 + 16) = r2\nr0 = 0\nexit'));
      expect(b.rxq_queue_index).toBe(3);
      expect(() => h.run(engine, asm('*(u16 *)(r1 + 16) = r1\nexit'))).toThrow(/invalid bpf_context access/);
    });

    it(`${engine}: a program rewrites the packet in place`, () => {
      const h = makeHost();
      h.xdp[0]!.testRunInit(pkt(64), undefined, h.netdevs);
      // Swap the first two bytes if the frame holds at least 2 bytes.
      const prog = asm(`
        r2 = *(u32 *)(r1 + 0)
        r3 = *(u32 *)(r1 + 4)
        r4 = r2
        r4 += 2
        if r4 > r3 goto out
        r5 = *(u8 *)(r2 + 0)
        r6 = *(u8 *)(r2 + 1)
        *(u8 *)(r2 + 0) = r6
        *(u8 *)(r2 + 1) = r5
      out:
        r0 = 2
        exit`);
      expect(h.run(engine, prog)).toBe(2n);
      const want = pkt(64);
      [want[0], want[1]] = [want[1]!, want[0]!];
      expect(h.xdp[0]!.dataOut()).toEqual(want);
    });
  }
});

/** A program calling helper `id` with r2 = delta; r0 is its return. */
const adjust = (id: number, delta: number) => asm(`r2 = ${delta}\ncall ${id}\nexit`);
const HEAD = 44, META = 54, TAIL = 65;

describe('bpf_xdp_adjust_head / _meta / _tail at their boundaries', () => {
  const cases: [string, number, number, bigint, number][] = [
    // [what, helper, delta, return (kernel), data_out bytes (kernel)]
    ['head: down to the end of xdp_frame', HEAD, -(XDP_PACKET_HEADROOM - XDP_FRAME_SIZE), 0n, 280],
    ['head: one byte into xdp_frame', HEAD, -(XDP_PACKET_HEADROOM - XDP_FRAME_SIZE) - 1, -22n, 64],
    ['head: leave exactly ETH_HLEN', HEAD, 50, 0n, 14],
    ['head: leave less than ETH_HLEN', HEAD, 51, -22n, 64],
    ['tail: grow to xdp_data_hard_end', TAIL, 3456, 0n, 3520],
    ['tail: grow into skb_shared_info', TAIL, 3457, -22n, 64],
    ['tail: shrink to ETH_HLEN', TAIL, -50, 0n, 14],
    ['tail: shrink below ETH_HLEN', TAIL, -51, -22n, 64],
    ['meta: 32 bytes', META, -32, 0n, 96],
    ['meta: 36 bytes (more than 32 since 6.6)', META, -36, 0n, 100],
    ['meta: down to the end of xdp_frame', META, -216, 0n, 280],
    ['meta: into xdp_frame', META, -220, -22n, 64],
    ['meta: not a multiple of 4', META, -3, -13n, 64],
    ['meta: past data', META, 4, -22n, 64],
    ['meta: 0', META, 0, 0n, 64],
  ];
  for (const engine of ENGINES) {
    for (const [what, id, delta, ret, out] of cases) {
      it(`${engine}: ${what}`, () => {
        const h = makeHost();
        h.xdp[0]!.testRunInit(pkt(64), undefined, h.netdevs);
        expect(s64(h.run(engine, adjust(id, delta)))).toBe(ret);
        expect(h.xdp[0]!.dataOut().length).toBe(out);
      });
    }
  }

  it('adjust_head moves the metadata with the data (kernel: -184 -> 280 bytes, -185 -> EINVAL, +50 -> 46)', () => {
    const b = new XdpBuff(new AddressSpace());
    const devs = new NetDeviceRegistry();
    const run = (delta: number): [number, number] => {
      b.testRunInit(pkt(64), undefined, devs);
      expect(xdp_adjust_meta(b, -32)).toBe(0);
      b.frame.set(Uint8Array.from({ length: 32 }, (_, i) => 0xa0 + i), b.data_meta);
      return [xdp_adjust_head(b, delta), b.dataOut().length];
    };
    expect(run(-184)).toEqual([0, 280]);
    expect(b.frame.subarray(b.data_meta, b.data)).toEqual(Uint8Array.from({ length: 32 }, (_, i) => 0xa0 + i));
    expect(run(-185)).toEqual([-22, 96]);
    expect(run(50)).toEqual([0, 46]);
    expect(b.frame.subarray(b.data_meta, b.data)).toEqual(Uint8Array.from({ length: 32 }, (_, i) => 0xa0 + i));
    expect(b.data - b.data_meta).toBe(32);
  });

  it('adjust_meta is -ENOTSUPP on a driver without metadata support (data_meta = data + 1)', () => {
    const b = new XdpBuff(new AddressSpace());
    b.receive(pkt(64), 0, 64, 1, 0, false);
    expect(b.data_meta).toBe(b.data + 1);
    expect(b.metalen).toBe(0);
    expect(xdp_adjust_meta(b, -4)).toBe(-524);
    // adjust_head still works, and the invalid data_meta moves along.
    expect(xdp_adjust_head(b, -4)).toBe(0);
    expect(b.data_meta).toBe(b.data + 1);
    expect(b.dataOut().length).toBe(68);
  });

  it('adjust_tail clears what it grows into, and honours a smaller frame_sz', () => {
    const b = new XdpBuff(new AddressSpace());
    b.frame.fill(0xee);
    b.receive(pkt(64), 0, 64, 1, 0);
    expect(xdp_adjust_tail(b, 100)).toBe(0);
    expect(b.frame.subarray(XDP_PACKET_HEADROOM + 64, XDP_PACKET_HEADROOM + 164).every((v) => v === 0)).toBe(true);
    expect(b.frame[XDP_PACKET_HEADROOM + 164]).toBe(0xee);
    // A driver with 2 KiB buffers: xdp_data_hard_end() = 2048 - 320.
    b.xdp_init_buff(2048, 1, 0);
    b.xdp_prepare_buff(XDP_PACKET_HEADROOM, 64, true);
    const room = 2048 - SKB_SHARED_INFO_SIZE - (XDP_PACKET_HEADROOM + 64);
    expect(xdp_adjust_tail(b, room + 1)).toBe(-22);
    expect(xdp_adjust_tail(b, room)).toBe(0);
  });

  it('xdp_md offsets are the uapi ones', () => {
    expect(XDP_MD).toEqual({ data: 0, data_end: 4, data_meta: 8, ingress_ifindex: 12, rx_queue_index: 16, egress_ifindex: 20 });
  });
});
