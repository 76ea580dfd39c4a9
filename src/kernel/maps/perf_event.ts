// A BPF output perf event (perf_event_open with PERF_TYPE_SOFTWARE / PERF_COUNT_SW_BPF_OUTPUT on one
// CPU) with its mmap'ed ring buffer: kernel/events/ring_buffer.c and the record layout of
// include/uapi/linux/perf_event.h. A PERF_EVENT_ARRAY slot holds one; bpf_perf_event_output() on
// that CPU writes a record, and a reader (libbpf's perf_buffer, bpftool map event_pipe) drains it.
//
// The ring is a SharedArrayBuffer: a header standing in for struct perf_event_mmap_page (data_head
// written by the producer, data_tail by the consumer, both byte counters that wrap at 2^32) and a
// power-of-two data area. Records are the kernel's, so a reader written for the real ring works:
//   PERF_RECORD_SAMPLE (sample_type PERF_SAMPLE_RAW):
//     struct perf_event_header { u32 type = 9; u16 misc = PERF_RECORD_MISC_KERNEL; u16 size; }
//     u32 size of the raw data (rounded so that the record stays 8-byte aligned), raw data, zero pad
//   PERF_RECORD_LOST: header (type 2), u64 id, u64 lost — written before the next record that fits
//     after some were dropped for lack of space, as perf_output_begin() does.
// One producer per ring (the CPU the event is bound to) and one consumer; a full ring drops the
// record and bpf_perf_event_output() returns -ENOSPC.

import { BpfError } from '../../bpf/errno.js';
import { E2BIG, ENOSPC, memcpy, round_up } from './map.js';
import type { RefCounted } from './map.js';

export const PERF_RECORD_LOST = 2;
export const PERF_RECORD_SAMPLE = 9;
export const PERF_RECORD_MISC_KERNEL = 1;

const HEAD = 0; // data_head: bytes written (producer)
const TAIL = 1; // data_tail: bytes consumed (consumer)
const LOST_PENDING = 2; // records dropped since the last PERF_RECORD_LOST
const LOST_TOTAL = 3;
const HDR_BYTES = 64;

const LOST_RECORD_BYTES = 24;

export interface PerfEventSinkOptions {
  /** The CPU the event is bound to (perf_event_open's cpu); bpf_perf_event_output from another CPU fails. */
  cpu: number;
  /** Data pages, a power of two (perf requires it), 8 by default, as libbpf's perf_buffer default. */
  pages?: number;
  page_size?: number;
  /** The object's id (what the syscall layer calls it); 0 by default. */
  id?: number;
}

export class PerfEventSink implements RefCounted {
  readonly id: number;
  readonly cpu: number;
  readonly sab: SharedArrayBuffer;
  private readonly ctl: Int32Array;
  private readonly data: Uint8Array;
  /** Size of the data area in bytes. */
  readonly size: number;
  private readonly mask: number;
  private refcnt = 1;
  /** Called when the last reference goes (the syscall layer closes the event). */
  onRelease: ((sink: PerfEventSink) => void) | undefined;

  private constructor(sab: SharedArrayBuffer, cpu: number, id: number) {
    this.sab = sab;
    this.cpu = cpu;
    this.id = id;
    this.ctl = new Int32Array(sab, 0, HDR_BYTES >> 2);
    this.size = sab.byteLength - HDR_BYTES;
    this.mask = this.size - 1;
    this.data = new Uint8Array(sab, HDR_BYTES, this.size);
  }

  static create(opts: PerfEventSinkOptions): PerfEventSink {
    const pages = opts.pages ?? 8;
    const page = opts.page_size ?? 4096;
    const bytes = pages * page;
    if (!Number.isInteger(pages) || pages < 1 || (bytes & (bytes - 1)) !== 0) {
      throw new BpfError('EINVAL', `perf event ring: ${pages} data pages of ${page} bytes is not a power of two`);
    }
    if (!Number.isInteger(opts.cpu) || opts.cpu < 0) throw new BpfError('EINVAL', `perf event ring: bad cpu ${opts.cpu}`);
    return new PerfEventSink(new SharedArrayBuffer(HDR_BYTES + bytes), opts.cpu, opts.id ?? 0);
  }

  /** The same ring seen from another thread (a reader, or the CPU's worker). */
  static attach(sab: SharedArrayBuffer, cpu: number, id = 0): PerfEventSink {
    return new PerfEventSink(sab, cpu, id);
  }

  /** Records dropped so far because the ring was full. */
  get lost(): number {
    return Atomics.load(this.ctl, LOST_TOTAL);
  }

  /** Bytes written and not yet read. */
  get pending(): number {
    return (Atomics.load(this.ctl, HEAD) - Atomics.load(this.ctl, TAIL)) >>> 0;
  }

  private put_u32(pos: number, v: number): void {
    const d = this.data;
    const m = this.mask;
    d[pos & m] = v & 0xff;
    d[(pos + 1) & m] = (v >>> 8) & 0xff;
    d[(pos + 2) & m] = (v >>> 16) & 0xff;
    d[(pos + 3) & m] = (v >>> 24) & 0xff;
  }

  private get_u32(pos: number): number {
    const d = this.data;
    const m = this.mask;
    return (d[pos & m]! | (d[(pos + 1) & m]! << 8) | (d[(pos + 2) & m]! << 16) | (d[(pos + 3) & m]! << 24)) >>> 0;
  }

  private put_bytes(pos: number, src: Uint8Array, off: number, len: number): void {
    const start = pos & this.mask;
    const first = Math.min(len, this.size - start);
    memcpy(this.data, start, src, off, first);
    if (first < len) memcpy(this.data, 0, src, off + first, len - first);
  }

  private zero(pos: number, len: number): void {
    for (let i = 0; i < len; i++) this.data[(pos + i) & this.mask] = 0;
  }

  /**
   * perf_event_output() with PERF_SAMPLE_RAW data made of two fragments (the program's buffer, then
   * for XDP/skb the packet bytes that BPF_F_CTXLEN_MASK asked for; len2 may be 0). 0 or -errno.
   * No allocation.
   */
  perf_event_output(buf1: Uint8Array, off1: number, len1: number, buf2: Uint8Array | null, off2: number, len2: number): number {
    const ctl = this.ctl;
    const rawLen = len1 + len2;
    const need = 8 + round_up(4 + rawLen, 8);
    if (need > 0xffff) return -E2BIG; // perf_event_header.size is a u16
    let head = ctl[HEAD]! >>> 0;
    const free = this.size - ((head - Atomics.load(ctl, TAIL)) >>> 0);
    const lost = ctl[LOST_PENDING]!;
    if (free < need + (lost !== 0 ? LOST_RECORD_BYTES : 0)) {
      ctl[LOST_PENDING] = lost + 1;
      Atomics.add(ctl, LOST_TOTAL, 1);
      return -ENOSPC;
    }
    if (lost !== 0) {
      this.put_u32(head, PERF_RECORD_LOST);
      this.put_u32(head + 4, LOST_RECORD_BYTES << 16);
      this.put_u32(head + 8, this.id);
      this.put_u32(head + 12, 0);
      this.put_u32(head + 16, lost);
      this.put_u32(head + 20, 0);
      head = (head + LOST_RECORD_BYTES) >>> 0;
      ctl[LOST_PENDING] = 0;
    }
    const raw = need - 12;
    this.put_u32(head, PERF_RECORD_SAMPLE);
    this.put_u32(head + 4, PERF_RECORD_MISC_KERNEL | (need << 16));
    this.put_u32(head + 8, raw);
    this.put_bytes(head + 12, buf1, off1, len1);
    if (len2 > 0 && buf2 !== null) this.put_bytes(head + 12 + len1, buf2, off2, len2);
    this.zero(head + 12 + rawLen, raw - rawLen);
    // Publish: the record is complete before data_head moves past it.
    Atomics.store(ctl, HEAD, (head + need) | 0);
    return 0;
  }

  /**
   * Drain the ring, as perf_buffer__consume() does: onSample(raw data, cpu) for each sample (the raw
   * data includes the alignment padding, as the kernel reports it), onLost(count, cpu) for each lost
   * record. Returns the number of records read.
   */
  read(onSample: (data: Uint8Array, cpu: number) => void, onLost?: (lost: number, cpu: number) => void): number {
    const ctl = this.ctl;
    let tail = Atomics.load(ctl, TAIL) >>> 0;
    const head = Atomics.load(ctl, HEAD) >>> 0;
    let n = 0;
    while (tail !== head) {
      const type = this.get_u32(tail);
      const size = this.get_u32(tail + 4) >>> 16;
      if (size < 8) throw new Error(`perf ring of cpu ${this.cpu}: corrupt record at ${tail} (size ${size})`);
      if (type === PERF_RECORD_SAMPLE) {
        const raw = this.get_u32(tail + 8);
        const out = new Uint8Array(raw);
        const start = (tail + 12) & this.mask;
        const first = Math.min(raw, this.size - start);
        out.set(this.data.subarray(start, start + first));
        if (first < raw) out.set(this.data.subarray(0, raw - first), first);
        onSample(out, this.cpu);
      } else if (type === PERF_RECORD_LOST) {
        onLost?.(this.get_u32(tail + 16) + this.get_u32(tail + 20) * 0x100000000, this.cpu);
      }
      tail = (tail + size) >>> 0;
      n++;
    }
    Atomics.store(ctl, TAIL, tail | 0);
    return n;
  }

  get(): void {
    if (this.refcnt <= 0) throw new Error(`perf event ${this.id}: get after release`);
    this.refcnt++;
  }

  put(): void {
    if (this.refcnt <= 0) throw new Error(`perf event ${this.id}: put after release`);
    if (--this.refcnt === 0) this.onRelease?.(this);
  }

  get refcount(): number {
    return this.refcnt;
  }
}

/** Is this object a BPF output perf event (what perf_event_fd_array_get_ptr() accepts)? */
export function is_perf_event_sink(obj: RefCounted): obj is PerfEventSink {
  return typeof (obj as Partial<PerfEventSink>).perf_event_output === 'function';
}
