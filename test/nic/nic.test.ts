// The hardware model: memories (sizes from the image, EMEM backed lazily up to a cap), the big-endian
// atomic engine, the ctrl mailbox ring, the control BAR, and the shipped firmware images.

import { describe, expect, it } from 'vitest';
import { BpfError } from '../../src/bpf/errno.js';
import { bswap32, nfp_atomic_add_be32, nfp_atomic_add_be64, nfp_atomic_read_be32, nfp_atomic_read_be64 } from '../../src/nic/atomic.js';
import { NFP_NET_CFG_BPF_ABI, NFP_NET_CFG_BPF_STACK_SZ, NFP_NET_CFG_CAP, NFP_NET_CFG_CTRL_BPF, NfpNetCtrlBar } from '../../src/nic/ctrl-bar.js';
import { NfpDevice } from '../../src/nic/device.js';
import { formatSize, listFirmwareImages, loadFirmwareImage, parseFirmwareImage, parseSize } from '../../src/nic/fw-image.js';
import { CtrlMailbox, MBOX, MBOX_FAULT } from '../../src/nic/mailbox.js';
import { EMEM_BACKING_CAP, NicMemory } from '../../src/nic/memory.js';

const GiB = 2 ** 30;

describe('firmware images', () => {
  it('ships the production 60-core image and the others, all valid', () => {
    const entries = listFirmwareImages();
    expect(entries.every((e) => e.error === undefined), entries.map((e) => e.error).join()).toBe(true);
    const names = entries.map((e) => e.image!.name).sort();
    expect(names).toEqual(['nfp-bpf-40c', 'nfp-bpf-56c', 'nfp-bpf-60c', 'nfp-bpf-70c', 'nfp-bpf-abi1', 'nfp-nic']);
    const cores = Object.fromEntries(entries.map((e) => [e.image!.name, e.image!.datapath.cores]));
    expect(cores).toMatchObject({ 'nfp-bpf-40c': 40, 'nfp-bpf-56c': 56, 'nfp-bpf-60c': 60, 'nfp-bpf-70c': 70 });
  });

  it('the production image: ABI 3, 4 threads at 800 MHz, 8k code store, 512 B stack, 2/8/24 GB EMEM', () => {
    const im = loadFirmwareImage('nfp-bpf-60c');
    expect(im.vnic.bpf.abi).toBe(3);
    expect(im.datapath).toEqual({ cores: 60, threadsPerCore: 4, clockMhz: 800, codeStoreInsns: 8192, stackBytesPerThread: 512 });
    expect(im.memory.ememVariants).toEqual([2 * GiB, 8 * GiB, 24 * GiB]);
    expect(im.bpf).toMatchObject({ maxMaps: 128, maxElems: 4194304, maxKeySz: 56, maxValSz: 56, maxElemSz: 64, multiEnt: true });
    expect(im.rtsym['_abi_bpf_capabilities']!.length).toBeGreaterThan(100);
  });

  it('the plain NIC image has no BPF capability symbol', () => {
    const im = loadFirmwareImage('nfp-nic');
    expect(im.app).toBe('nic');
    expect(im.rtsym['_abi_bpf_capabilities']).toBeUndefined();
    expect(im.bpf).toBeNull();
  });

  it('an unknown name is ENOENT and lists the images', () => {
    let err: unknown;
    try {
      loadFirmwareImage('nfp-bpf-99c');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BpfError);
    expect((err as BpfError).errno).toBe('ENOENT');
    expect((err as BpfError).message).toMatch(/no firmware image 'nfp-bpf-99c' \(images: .*nfp-bpf-60c/);
  });

  it('a broken file names the file and the field', () => {
    const good = `name: x\ndescription: d\napp: ebpf\nchip: c\npci: {vendor: 1, device: 2}\n`
      + 'datapath: {cores: 4, threads_per_core: 4, clock_mhz: 800, code_store_insns: 100, stack_bytes_per_thread: 512}\n'
      + 'memory: {ctm: {islands: 1, per_island: 1KiB}, imem: 1MiB, emem: {cache: 1MiB, variants: [2GiB]}, lmem_per_core: 4KiB}\n'
      + 'vnic: {max_mtu: 1500}\nctrl: {max_mtu: 1500}\n';
    expect(parseFirmwareImage(good, 'x.yaml').datapath.cores).toBe(4);
    const bad = (text: string, re: RegExp): void => {
      expect(() => parseFirmwareImage(text, 'x.yaml')).toThrow(re);
    };
    bad(good.replace('cores: 4', 'cores: -1'), /x\.yaml: datapath\.cores: must be an integer/);
    bad(good.replace('imem: 1MiB', 'imem: 1 megabyte'), /x\.yaml: memory\.imem/);
    bad(good.replace('app: ebpf', 'app: dpdk'), /x\.yaml: app: must be 'ebpf' or 'nic'/);
    bad(good + 'rtsym: {s: "0g"}\n', /x\.yaml: rtsym\.s: must be hex bytes/);
    bad(good + 'bpf: {cmsg_abi: 3, map_types: [lpm], max_maps: 1, max_elems: 1, max_key_sz: 1, max_val_sz: 1, max_elem_sz: 16}\n', /unknown map type 'lpm'/);
    bad('[1, 2', /not valid YAML/);
  });

  it('sizes parse and print', () => {
    expect(parseSize('256KiB', 'x')).toBe(262144);
    expect(parseSize('24GiB', 'x')).toBe(24 * GiB);
    expect(() => parseSize('2GB', 'x')).toThrow(/not a size/);
    expect(formatSize(8 * GiB)).toBe('8GiB');
    expect(formatSize(3 << 20)).toBe('3MiB');
  });
});

describe('NIC memory', () => {
  const layout = (ememBytes: number) => ({
    cores: 60, threadsPerCore: 4, ctmIslands: 5, ctmBytesPerIsland: 256 << 10, imemBytes: 4 << 20, ememBytes,
    ememCacheBytes: 3 << 20, lmemBytesPerCore: 4096, codeStoreInsns: 8192, stackBytesPerThread: 512,
  });

  it('allocates CTM, IMEM, LMEM and the code store at their sizes; EMEM starts unbacked', () => {
    const m = NicMemory.create(layout(24 * GiB));
    expect(m.ctm.length).toBe(5 * 256 * 1024);
    expect(m.imem.length).toBe(4 << 20);
    expect(m.lmem.length).toBe(60 * 4096);
    expect(m.ustore.length).toBe(8192 * 8);
    expect(m.ememBacked).toBe(0);
    expect(m.ememBackingCap).toBe(EMEM_BACKING_CAP);
    expect(m.stackBytesPerCore).toBe(2048);
  });

  it('EMEM grows on demand, views follow, and stops at the cap', () => {
    const m = NicMemory.create(layout(2 * GiB), { ememBackingCap: 4 << 20 });
    expect(m.emem_reserve(5000)).toBe(true);
    expect(m.ememBacked).toBe(1 << 20);
    m.emem[4999] = 7;
    const other = NicMemory.attach(m.shared());
    expect(other.emem[4999]).toBe(7);
    expect(m.emem_reserve(3 << 20)).toBe(true);
    expect(other.emem.length).toBe(3 << 20);
    expect(m.emem_reserve((4 << 20) + 1)).toBe(false);
    expect(m.ememBacked).toBe(3 << 20);
  });

  it('refuses a layout whose stacks do not fit LMEM', () => {
    expect(() => NicMemory.create({ ...layout(GiB), stackBytesPerThread: 2048 })).toThrow(/exceed 4096 B of LMEM/);
  });
});

describe('big-endian atomic engine', () => {
  it('a 32-bit add works on big-endian bytes and returns the old value', () => {
    const i32 = new Int32Array(new SharedArrayBuffer(8));
    const u8 = new Uint8Array(i32.buffer);
    u8.set([0x00, 0x00, 0x00, 0xff]);
    expect(nfp_atomic_add_be32(i32, 0, 1)).toBe(0xff);
    expect([...u8.subarray(0, 4)]).toEqual([0, 0, 1, 0]);
    expect(nfp_atomic_read_be32(i32, 0)).toBe(0x100);
    expect(nfp_atomic_add_be32(i32, 0, -0x101)).toBe(0x100);
    expect(nfp_atomic_read_be32(i32, 0)).toBe(0xffffffff);
    expect(bswap32(0x11223344) >>> 0).toBe(0x44332211);
  });

  it('a 64-bit add carries into the high word; both words are big-endian, low word first', () => {
    const i64 = new BigInt64Array(new SharedArrayBuffer(8));
    const i32 = new Int32Array(i64.buffer);
    const u8 = new Uint8Array(i64.buffer);
    u8.set([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]);
    nfp_atomic_add_be64(i32, i64, 0, 1, 0);
    expect([...u8]).toEqual([0, 0, 0, 0, 0, 0, 0, 1]);
    expect(nfp_atomic_read_be64(i64, 0)).toBe(0x100000000n);
  });

  it('a 64-bit add of any addend to any counter is the 64-bit sum (with and without a carry or borrow)', () => {
    const i64 = new BigInt64Array(new SharedArrayBuffer(8));
    const i32 = new Int32Array(i64.buffer);
    const dv = new DataView(i64.buffer);
    const edges = [0n, 1n, 0x7fffffffn, 0x80000000n, 0xfffffffen, 0xffffffffn, 0x100000000n, 0x1ffffffffn, 0xffffffff00000000n, 0xfffffffffffffffen, 0xffffffffffffffffn, 0x8000000000000000n, 0x123456789abcdefn];
    const cases: [bigint, bigint][] = [];
    for (const a of edges) for (const d of edges) cases.push([a, d]);
    let seed = 7;
    const r32 = (): bigint => BigInt((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0));
    for (let i = 0; i < 2000; i++) cases.push([(r32() << 32n) | r32(), i % 2 ? r32() & 0xffffn : (r32() << 32n) | r32()]);
    for (const [a, d] of cases) {
      // The counter as the NIC stores it: low word first, each word big-endian.
      dv.setUint32(0, Number(a & 0xffffffffn));
      dv.setUint32(4, Number(a >> 32n));
      nfp_atomic_add_be64(i32, i64, 0, Number(d & 0xffffffffn) | 0, Number(d >> 32n) | 0);
      expect(nfp_atomic_read_be64(i64, 0), `${a} + ${d}`).toBe(BigInt.asUintN(64, a + d));
    }
  });
});

describe('ctrl mailbox', () => {
  it('carries messages both ways, in order, across the wrap', () => {
    const mb = CtrlMailbox.create({ maxMessageBytes: 64, nslots: 4 });
    const buf = new Uint8Array(64);
    for (let round = 0; round < 10; round++) {
      for (let i = 0; i < 3; i++) expect(mb.hostSend(Uint8Array.of(round, i, 9))).toBe(true);
      for (let i = 0; i < 3; i++) {
        expect(mb.fwRecvInto(buf)).toBe(3);
        expect([...buf.subarray(0, 3)]).toEqual([round, i, 9]);
        expect(mb.fwSend(buf, 3)).toBe(true);
      }
      expect(mb.fwRecvInto(buf)).toBe(-1);
      for (let i = 0; i < 3; i++) expect([...mb.hostRecv()!]).toEqual([round, i, 9]);
      expect(mb.hostRecv()).toBeNull();
    }
    expect(mb.stat(MBOX.STAT_REQUESTS)).toBe(30);
  });

  it('a full ring refuses, and an oversized message is a bug', () => {
    const mb = CtrlMailbox.create({ maxMessageBytes: 16, nslots: 2 });
    expect(mb.hostSend(new Uint8Array(4))).toBe(true);
    expect(mb.hostSend(new Uint8Array(4))).toBe(true);
    expect(mb.hostSend(new Uint8Array(4))).toBe(false);
    expect(mb.stat(MBOX.STAT_TX_FULL)).toBe(1);
    expect(() => mb.hostSend(new Uint8Array(17))).toThrow(RangeError);
  });

  it('a fault plan hits the next replies after the skipped ones, then clears', () => {
    const mb = CtrlMailbox.create({ maxMessageBytes: 16, nslots: 2 });
    mb.injectFault({ kind: MBOX_FAULT.DELAY, arg: 30, count: 2, skip: 1 });
    expect(mb.takeFault().kind).toBe(MBOX_FAULT.NONE);
    expect(mb.takeFault()).toEqual({ kind: MBOX_FAULT.DELAY, arg: 30 });
    expect(mb.takeFault()).toEqual({ kind: MBOX_FAULT.DELAY, arg: 30 });
    expect(mb.takeFault().kind).toBe(MBOX_FAULT.NONE);
  });

  it('the firmware sleeps until a request arrives, and the host wakes only a sleeper', async () => {
    const mb = CtrlMailbox.create({ maxMessageBytes: 16, nslots: 4 });
    const t0 = performance.now();
    mb.fwSleep(mb.requestProd, 20);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(15);
    mb.hostSend(new Uint8Array(4));
    const t1 = performance.now();
    mb.fwSleep(mb.requestProd - 1, 2000);
    expect(performance.now() - t1).toBeLessThan(1000);
  });
});

describe('the card', () => {
  it('places run-time symbols in IMEM and programs the BARs from the image', () => {
    const dev = new NfpDevice(loadFirmwareImage('nfp-bpf-60c'), { ememBytes: 8 * GiB });
    expect(dev.memory.layout.ememBytes).toBe(8 * GiB);
    expect(dev.rtsym_read_le('_pf0_net_app_id')).toBe(2n);
    expect(dev.rtsym_read('_abi_bpf_capabilities')).toEqual(loadFirmwareImage('nfp-bpf-60c').rtsym['_abi_bpf_capabilities']);
    expect(dev.rtsym_read('nope')).toBeUndefined();
    const bar = dev.bars[0]!;
    expect(bar.readb(NFP_NET_CFG_BPF_ABI)).toBe(3);
    expect(bar.readb(NFP_NET_CFG_BPF_STACK_SZ) * 64).toBe(512);
    expect(bar.readl(NFP_NET_CFG_CAP) & NFP_NET_CFG_CTRL_BPF).not.toBe(0);
    expect(new NfpDevice(loadFirmwareImage('nfp-nic')).bars[0]!.readl(NFP_NET_CFG_CAP) & NFP_NET_CFG_CTRL_BPF).toBe(0);
  });

  it('refuses an EMEM size the image is not built for', () => {
    expect(() => new NfpDevice(loadFirmwareImage('nfp-bpf-60c'), { ememBytes: 4 * GiB })).toThrow(/not 4294967296/);
  });

  it('reads past the BAR as all-ones, as PCI does', () => {
    const bar = new NfpNetCtrlBar();
    expect(bar.readl(0x10000)).toBe(0xffffffff);
    expect(bar.readb(-1)).toBe(0xff);
  });
});
