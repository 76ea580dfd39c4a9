// struct xdp_buff (include/net/xdp.h) as the host lays it out, and the struct xdp_md context that
// XDP programs see (include/uapi/linux/bpf.h; its loads are net/core/filter.c xdp_is_valid_access()
// and xdp_convert_ctx_access()).
//
// The frame is one page (PAGE_SIZE, 4096 bytes) mapped as a 'packet' region, so a packet pointer is
// (packet region tag, byte offset in the frame) and data_hard_start is offset 0:
//
//   0          40                 data_meta   data          data_end          4096-320    4096
//   | xdp_frame | headroom ... meta |  packet bytes  | tailroom ... | skb_shared_info |
//
// The first sizeof(struct xdp_frame) bytes are kept for xdp_convert_buff_to_frame(), so adjust_head and
// adjust_meta may not move below them; the last SKB_DATA_ALIGN(sizeof(struct skb_shared_info)) bytes
// are kept for the skb a frame may become, so adjust_tail may not grow into them. The data pointers
// live in this object and are read by the ctx accessor: a 4-byte load of xdp_md->data gives the full
// 64-bit packet pointer, which is what the verifier's context rewrite (BPF_LDX_MEM(BPF_DW, ...,
// offsetof(struct xdp_buff, data))) makes of it in the kernel.
//
// One XdpBuff per CPU (ExecContext), reused for every packet: nothing here allocates per packet.
// Only linear buffers: multi-buffer frames (xdp.frags) are not modelled.

import { BpfError } from '../../bpf/errno.js';
import type { AddressSpace, CtxAccess, CtxMirror, Region } from '../exec/memory.js';
import { ETH_HLEN, LOOPBACK_IFINDEX, type NetDeviceRegistry } from './netdev.js';

export const PAGE_SIZE = 4096;
/** include/uapi/linux/bpf.h: XDP_PACKET_HEADROOM. */
export const XDP_PACKET_HEADROOM = 256;
/** SKB_DATA_ALIGN(sizeof(struct skb_shared_info)) on x86-64 (320 bytes). */
export const SKB_SHARED_INFO_SIZE = 320;
/** sizeof(struct xdp_frame) on x86-64. */
export const XDP_FRAME_SIZE = 40;
/** type_max(skb_shared_info.meta_len), the metadata limit of xdp_metalen_invalid() since 6.6 (was 32). */
export const XDP_META_MAX = 255;

/** enum xdp_action */
export const XDP_ABORTED = 0;
export const XDP_DROP = 1;
export const XDP_PASS = 2;
export const XDP_TX = 3;
export const XDP_REDIRECT = 4;

/** struct xdp_md field offsets (all __u32). */
export const XDP_MD = {
  data: 0,
  data_end: 4,
  data_meta: 8,
  ingress_ifindex: 12,
  rx_queue_index: 16,
  egress_ifindex: 20,
} as const;
export const XDP_MD_SIZE = 24;

/** xdp_metalen_invalid(). */
export function xdp_metalen_invalid(metalen: number): boolean {
  return (metalen & 3) !== 0 || metalen > XDP_META_MAX;
}

/** struct xdp_md as BPF_PROG_TEST_RUN's ctx_in/ctx_out carry it. */
export interface XdpMd {
  data: number;
  data_end: number;
  data_meta: number;
  ingress_ifindex: number;
  rx_queue_index: number;
  egress_ifindex: number;
}

/**
 * bpf_ctx_init() for an xdp_md: a short ctx_in is zero-filled; a longer one must be zero past
 * sizeof(struct xdp_md) (bpf_check_uarg_tail_zero: E2BIG otherwise).
 */
export function xdp_md_from_bytes(ctxIn: Uint8Array): XdpMd {
  for (let i = XDP_MD_SIZE; i < ctxIn.length; i++) {
    if (ctxIn[i] !== 0) throw new BpfError('E2BIG', `ctx_in: byte ${i} past struct xdp_md (${XDP_MD_SIZE} bytes) is not zero`);
  }
  const b = new Uint8Array(XDP_MD_SIZE);
  b.set(ctxIn.subarray(0, XDP_MD_SIZE));
  const dv = new DataView(b.buffer);
  return {
    data: dv.getUint32(0, true), data_end: dv.getUint32(4, true), data_meta: dv.getUint32(8, true),
    ingress_ifindex: dv.getUint32(12, true), rx_queue_index: dv.getUint32(16, true), egress_ifindex: dv.getUint32(20, true),
  };
}

export function xdp_md_to_bytes(md: XdpMd): Uint8Array {
  const b = new Uint8Array(XDP_MD_SIZE);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, md.data, true);
  dv.setUint32(4, md.data_end, true);
  dv.setUint32(8, md.data_meta, true);
  dv.setUint32(12, md.ingress_ifindex, true);
  dv.setUint32(16, md.rx_queue_index, true);
  dv.setUint32(20, md.egress_ifindex, true);
  return b;
}

export interface XdpBuffOptions {
  /** The program was loaded with expected_attach_type BPF_XDP_DEVMAP: egress_ifindex is readable. */
  devmapProg?: boolean;
  /** The program is offloaded (bpf_prog_is_offloaded): it may write rx_queue_index. */
  offloaded?: boolean;
}

/**
 * struct xdp_buff plus its xdp_rxq_info / xdp_txq_info, and the CtxAccess that presents it to a
 * program as struct xdp_md. Pointers (data, data_end, data_meta) are byte offsets in `frame`.
 */
export class XdpBuff implements CtxAccess, CtxMirror {
  readonly frame = new Uint8Array(PAGE_SIZE);
  /** The frame as programs address it (PTR_TO_PACKET*). */
  readonly packet: Region;
  /** The struct xdp_md the program's r1 points at (PTR_TO_CTX). */
  readonly ctx: Region;
  /** xdp->data_hard_start: always the start of the frame. */
  readonly data_hard_start = 0;
  /**
   * The struct xdp_md a program reads, word by word: the low halves (packet offsets for data,
   * data_end, data_meta; u32 values for the rest) and the high halves (the packet region's tag for
   * the pointers, 0 for the rest). The buffer's fields live here, so the mirror is never stale and the
   * JIT reads a ctx field with one array load (CtxMirror).
   */
  readonly mdLo = new Int32Array(XDP_MD_SIZE / 4);
  readonly mdHi = new Int32Array(XDP_MD_SIZE / 4);
  frame_sz = PAGE_SIZE;

  /** egress_ifindex is readable only by devmap programs: otherwise the mirror covers the first five fields. */
  get mirrorBytes(): number {
    return this.devmapProg ? XDP_MD_SIZE : XDP_MD.egress_ifindex;
  }

  get data(): number { return this.mdLo[0]!; }
  set data(v: number) { this.mdLo[0] = v; }
  get data_end(): number { return this.mdLo[1]!; }
  set data_end(v: number) { this.mdLo[1] = v; }
  get data_meta(): number { return this.mdLo[2]!; }
  set data_meta(v: number) { this.mdLo[2] = v; }
  /** xdp->rxq->dev->ifindex and xdp->rxq->queue_index. */
  get rxq_ifindex(): number { return this.mdLo[3]!; }
  set rxq_ifindex(v: number) { this.mdLo[3] = v; }
  get rxq_queue_index(): number { return this.mdLo[4]!; }
  set rxq_queue_index(v: number) { this.mdLo[4] = v; }
  /** xdp->txq->dev->ifindex, for programs run on a devmap entry. */
  get txq_ifindex(): number { return this.mdLo[5]!; }
  set txq_ifindex(v: number) { this.mdLo[5] = v; }
  devmapProg: boolean;
  offloaded: boolean;

  constructor(readonly mem: AddressSpace, opts: XdpBuffOptions = {}) {
    this.packet = mem.map('packet', this.frame, { object: this });
    this.ctx = mem.map('ctx', new Uint8Array(XDP_MD_SIZE), { object: this });
    this.devmapProg = opts.devmapProg ?? false;
    this.offloaded = opts.offloaded ?? false;
    this.data = this.data_end = this.data_meta = XDP_PACKET_HEADROOM;
    this.rxq_ifindex = LOOPBACK_IFINDEX;
    this.mdHi[0] = this.mdHi[1] = this.mdHi[2] = this.packet.hi;
  }

  /** Give the regions back to the address space. */
  release(): void {
    this.mem.unmap(this.packet);
    this.mem.unmap(this.ctx);
  }

  /** xdp_init_buff(): the frame size and the receive queue. */
  xdp_init_buff(frame_sz: number, rxq_ifindex: number, rxq_queue_index: number): void {
    if (!Number.isInteger(frame_sz) || frame_sz < XDP_PACKET_HEADROOM + SKB_SHARED_INFO_SIZE || frame_sz > PAGE_SIZE) {
      throw new Error(`BUG: xdp frame_sz ${frame_sz} does not fit a page`);
    }
    this.frame_sz = frame_sz;
    this.rxq_ifindex = rxq_ifindex;
    this.rxq_queue_index = rxq_queue_index;
  }

  /**
   * xdp_prepare_buff(): data at `headroom`, `len` bytes; data_meta == data when the driver supports
   * metadata, else data + 1 (xdp_set_data_meta_invalid) and bpf_xdp_adjust_meta() fails.
   */
  xdp_prepare_buff(headroom: number, len: number, metaValid: boolean): void {
    this.data = headroom;
    this.data_end = headroom + len;
    this.data_meta = metaValid ? headroom : headroom + 1;
  }

  /** xdp_data_hard_end(): the end of the area the packet may grow into. */
  get data_hard_end(): number {
    return this.frame_sz - SKB_SHARED_INFO_SIZE;
  }

  /** xdp_data_meta_unsupported() */
  get meta_unsupported(): boolean {
    return this.data_meta > this.data;
  }

  /** xdp_get_metalen() */
  get metalen(): number {
    return this.meta_unsupported ? 0 : this.data - this.data_meta;
  }

  /** xdp_get_buff_len() of a linear buffer. */
  get len(): number {
    return this.data_end - this.data;
  }

  /**
   * A driver's receive path: `len` bytes of `src` at `off` become the packet at XDP_PACKET_HEADROOM,
   * received on (ifindex, queue). Headroom and tailroom keep whatever they held, as a reused page does.
   */
  receive(src: Uint8Array, off: number, len: number, ifindex: number, queue: number, metaValid = true): void {
    if (len > this.frame_sz - XDP_PACKET_HEADROOM - SKB_SHARED_INFO_SIZE) {
      throw new BpfError('EINVAL', `a ${len}-byte frame does not fit one page with XDP headroom and tailroom`);
    }
    this.rxq_ifindex = ifindex;
    this.rxq_queue_index = queue;
    this.frame.set(src.subarray(off, off + len), XDP_PACKET_HEADROOM);
    this.xdp_prepare_buff(XDP_PACKET_HEADROOM, len, metaValid);
  }

  /**
   * BPF_PROG_TEST_RUN's setup of the buffer (net/bpf/test_run.c bpf_prog_test_run_xdp): `dataIn` is
   * data_in (metadata first when ctx.data > 0); `ctx` is ctx_in as xdp_md_from_bytes() read it, or
   * undefined. Throws the errno the kernel returns: EINVAL for a ctx that breaks the rules (data_meta
   * must be 0, data_end must be data_size_in, data <= data_end, data a valid metadata length,
   * egress_ifindex 0, rx_queue_index only with an ingress_ifindex and below its queue count), ENODEV for
   * an unknown ingress_ifindex, EINVAL for fewer than ETH_HLEN bytes. Frames larger than a page would
   * need fragments, which are not modelled (EOPNOTSUPP).
   */
  testRunInit(dataIn: Uint8Array, ctx: XdpMd | undefined, devs: NetDeviceRegistry): void {
    const size = dataIn.length;
    let headroom = XDP_PACKET_HEADROOM;
    const tailroom = SKB_SHARED_INFO_SIZE;
    if (ctx !== undefined) {
      if (ctx.data_meta !== 0) throw new BpfError('EINVAL', 'ctx_in: data_meta must be 0 (nothing may come before the metadata)');
      if (ctx.data_end !== size) throw new BpfError('EINVAL', `ctx_in: data_end ${ctx.data_end} is not data_size_in ${size}`);
      if (ctx.data > ctx.data_end) throw new BpfError('EINVAL', `ctx_in: data ${ctx.data} is past data_end ${ctx.data_end}`);
      if (xdp_metalen_invalid(ctx.data)) throw new BpfError('EINVAL', `ctx_in: ${ctx.data} bytes of metadata (a multiple of 4, at most ${XDP_META_MAX})`);
      // The metadata is allocated from the headroom, so the packet still starts at XDP_PACKET_HEADROOM.
      headroom -= ctx.data;
    }
    const maxDataSz = PAGE_SIZE - headroom - tailroom;
    if (size > maxDataSz) {
      throw new BpfError('EOPNOTSUPP', `data_in of ${size} bytes needs a multi-buffer frame (more than ${maxDataSz} bytes); not modelled`);
    }
    if (size < ETH_HLEN) throw new BpfError('EINVAL', `data_in of ${size} bytes is shorter than an Ethernet header (${ETH_HLEN})`);
    let ifindex = LOOPBACK_IFINDEX, queue = 0;
    if (ctx !== undefined) {
      if (ctx.egress_ifindex !== 0) throw new BpfError('EINVAL', 'ctx_in: egress_ifindex must be 0');
      if (ctx.ingress_ifindex === 0 && ctx.rx_queue_index !== 0) throw new BpfError('EINVAL', 'ctx_in: rx_queue_index needs an ingress_ifindex');
      if (ctx.ingress_ifindex !== 0) {
        const dev = devs.dev_get_by_index(ctx.ingress_ifindex);
        if (dev === undefined) throw new BpfError('ENODEV', `ctx_in: no device with ifindex ${ctx.ingress_ifindex}`);
        if (ctx.rx_queue_index >= dev.real_num_rx_queues) {
          throw new BpfError('EINVAL', `ctx_in: rx_queue_index ${ctx.rx_queue_index} but ${dev.name} has ${dev.real_num_rx_queues} rx queues`);
        }
        ifindex = dev.ifindex;
        queue = ctx.rx_queue_index;
      }
    }
    // bpf_test_init() kzalloc()s the buffer.
    this.frame.fill(0);
    this.frame.set(dataIn, headroom);
    this.xdp_init_buff(PAGE_SIZE, ifindex, queue);
    this.xdp_prepare_buff(headroom, size, true);
    this.txq_ifindex = 0;
    if (ctx !== undefined) this.data = this.data_meta + ctx.data;
  }

  /** What BPF_PROG_TEST_RUN copies to data_out: data_meta up to data_end (a copy). */
  dataOut(): Uint8Array {
    return this.frame.slice(this.meta_unsupported ? this.data : this.data_meta, this.data_end);
  }

  /** xdp_convert_buff_to_md(): ctx_out is ctx_in with data and data_end made relative to data_meta. */
  ctxOut(ctxIn: XdpMd): XdpMd {
    return { ...ctxIn, data: this.data - this.data_meta, data_end: this.data_end - this.data_meta };
  }

  // ------------------------------------------------------------------ CtxAccess: struct xdp_md

  /**
   * xdp_is_valid_access() + xdp_convert_ctx_access(): only aligned 4-byte loads inside struct xdp_md;
   * data, data_end and data_meta give packet pointers, the rest u32 values; egress_ifindex only for
   * BPF_XDP_DEVMAP programs.
   */
  load(off: number, size: number, out: Int32Array): boolean {
    if (size !== 4 || (off & 3) !== 0) return false;
    switch (off) {
      case XDP_MD.data: out[0] = this.data; out[1] = this.packet.hi; return true;
      case XDP_MD.data_end: out[0] = this.data_end; out[1] = this.packet.hi; return true;
      case XDP_MD.data_meta: out[0] = this.data_meta; out[1] = this.packet.hi; return true;
      case XDP_MD.ingress_ifindex: out[0] = this.rxq_ifindex; out[1] = 0; return true;
      case XDP_MD.rx_queue_index: out[0] = this.rxq_queue_index; out[1] = 0; return true;
      case XDP_MD.egress_ifindex:
        if (!this.devmapProg) return false;
        out[0] = this.txq_ifindex; out[1] = 0;
        return true;
      default: return false;
    }
  }

  /** Programs may not write xdp_md, except an offloaded program's rx_queue_index (the NIC picks the queue). */
  store(off: number, size: number, lo: number, _hi: number): boolean {
    if (this.offloaded && off === XDP_MD.rx_queue_index && size === 4) {
      this.rxq_queue_index = lo >>> 0;
      return true;
    }
    return false;
  }
}
