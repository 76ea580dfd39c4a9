// bpf_trace_printk() of kernel/trace/bpf_trace.c, with the format checking of bpf_bprintf_prepare()
// (kernel/bpf/helpers.c) and the output of bstr_printf() (lib/vsprintf.c), and the trace pipe it
// writes to (/sys/kernel/tracing/trace_pipe, one line per call in the kernel's layout):
//
//            <idle>-0       [001] ..s1.   123.456789: bpf_trace_printk: the message
//
// Formats: at most 3 arguments; %d %i %u %x %X with an optional l or ll, flags [0 +-] and a width;
// %c; %s (and %ks %us) reading a NUL-terminated string from the address space; %p (hashed, as the
// kernel prints pointers), %px (raw), %pK, %ps %pS %pB (no symbols here: 0x<address>), %pI4 %pi4 %pI6
// %pi6 (an address read from memory); %%. Anything else, a non-printable character, or a format that
// is not NUL-terminated within fmt_size is -EINVAL, before anything is printed. The return value is
// the length of the formatted message (vsnprintf's, even where the 1023-byte buffer truncates it).
// Each line also goes to pino at debug level.
//
// Formatting builds strings: like the kernel's, this helper is a debugging aid, not a datapath.

import type { Logger } from 'pino';
import { BPF_FUNC_trace_printk } from '../../bpf/helpers.js';
import type { ExecContext, HelperFn } from '../exec/context.js';
import { REGION_HI_BASE } from '../exec/memory.js';
import { arg, memArg, proto, retInt, type BpfHelperDef, type HelperEnv } from './proto.js';

const EINVAL = -22;
/** MAX_TRACE_PRINTK_VARARGS */
const MAX_TRACE_PRINTK_VARARGS = 3;
/** MAX_BPRINTF_BUF: the formatted message, NUL included. */
const MAX_BPRINTF_BUF = 1024;
/** MAX_BPRINTF_BIN_ARGS: room for strings copied in by %s. */
const MAX_BPRINTF_BIN_ARGS = 512;

export interface TraceContext {
  /** The interrupted task's comm and pid (XDP runs in softirq on whatever task was there). */
  comm: string;
  pid: number;
  /** The latency-format flags column (irqs-off, need-resched, hardirq/softirq, preempt depth, migrate). */
  flags: string;
}

/**
 * The trace ring as trace_pipe shows it: lines kept until read (bounded: the oldest are dropped past
 * `capacity`, as an overwriting ring buffer does), and passed to listeners as they are written.
 */
export class TracePipe {
  private lines: string[] = [];
  private readonly listeners = new Set<(line: string) => void>();
  /** Lines dropped because nobody read them in time. */
  overruns = 0;
  context: TraceContext = { comm: '<idle>', pid: 0, flags: '..s1.' };

  constructor(readonly capacity = 4096, private readonly clock: () => number = () => 0, private readonly log?: Logger) {}

  /** trace_bpf_trace_printk(): one event on `cpu`. */
  write(cpu: number, message: string): void {
    const ns = Math.max(0, Math.floor(this.clock()));
    const secs = Math.floor(ns / 1e9);
    const usecs = Math.floor((ns % 1e9) / 1e3);
    const c = this.context;
    const line = `${c.comm.padStart(16)}-${String(c.pid).padEnd(7)} [${String(cpu).padStart(3, '0')}] ${c.flags} `
      + `${String(secs).padStart(5)}.${String(usecs).padStart(6, '0')}: bpf_trace_printk: ${message}\n`;
    if (this.lines.length >= this.capacity) {
      this.lines.shift();
      this.overruns++;
    }
    this.lines.push(line);
    this.log?.debug({ cpu }, `bpf_trace_printk: ${message.replace(/\n$/, '')}`);
    for (const l of this.listeners) l(line);
  }

  /** Read trace_pipe: returns the pending lines and consumes them. */
  read(): string[] {
    const out = this.lines;
    this.lines = [];
    return out;
  }

  onLine(listener: (line: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

export const bpf_trace_printk_proto = proto({
  func: 'bpf_trace_printk', gpl_only: true, ret_type: 'RET_INTEGER',
  args: [arg('ARG_PTR_TO_MEM', 'MEM_RDONLY'), arg('ARG_CONST_SIZE')],
});

const isprint = (c: number): boolean => c >= 0x20 && c < 0x7f;
const isspace = (c: number): boolean => c === 0x20 || (c >= 0x09 && c <= 0x0d);
const ispunct = (c: number): boolean => isprint(c) && c !== 0x20 && !/[0-9A-Za-z]/.test(String.fromCharCode(c));
/** Ends a %s / %p conversion: NUL, space or punctuation (bpf_bprintf_prepare's rule). */
const endsConv = (c: number | undefined): boolean => c === undefined || c === 0 || isspace(c) || ispunct(c);

/** Bytes at (hi, lo) up to a NUL or `max` bytes, or undefined if the address is not readable memory. */
function readString(x: ExecContext, lo: number, hi: number, max: number): string | undefined {
  const r = x.env.mem.regions[(hi - REGION_HI_BASE) | 0];
  const off = lo >>> 0;
  if (r === undefined || !r.plain || off >= r.size) return undefined;
  let s = '';
  for (let i = off; i < r.size && i - off < max - 1; i++) {
    const c = r.u8[i]!;
    if (c === 0) break;
    s += String.fromCharCode(c);
  }
  return s;
}

function readBytes(x: ExecContext, lo: number, hi: number, n: number): Uint8Array {
  const r = x.env.mem.regions[(hi - REGION_HI_BASE) | 0];
  const off = lo >>> 0;
  // copy_from_kernel_nofault() failing leaves zeros.
  if (r === undefined || !r.plain || off + n > r.size) return new Uint8Array(n);
  return r.u8.slice(off, off + n);
}

/** A stable stand-in for the kernel's siphash of a pointer (ptr_to_id): not the address, same per address. */
function hashPointer(v: bigint): string {
  let h = v ^ 0x5bd1e9955bd1e995n;
  h = BigInt.asUintN(64, (h ^ (h >> 33n)) * 0xff51afd7ed558ccdn);
  h = BigInt.asUintN(64, (h ^ (h >> 33n)) * 0xc4ceb9fe1a85ec53n);
  h ^= h >> 33n;
  return h.toString(16).padStart(16, '0');
}

function pad(s: string, width: number, left: boolean, zero: boolean): string {
  if (s.length >= width) return s;
  if (left) return s.padEnd(width);
  if (zero) {
    const sign = /^[-+ ]/.test(s) ? s[0]! : '';
    return sign + s.slice(sign.length).padStart(width - sign.length, '0');
  }
  return s.padStart(width);
}

/**
 * bpf_bprintf_prepare() + bstr_printf(): the message, or -EINVAL. `args` are the three 64-bit
 * arguments as (lo, hi) pairs.
 */
export function bpf_trace_format(x: ExecContext, fmt: Uint8Array, args: readonly (readonly [number, number])[]): string | number {
  const nul = fmt.indexOf(0);
  if (nul < 0) return EINVAL;
  let out = '';
  let numSpec = 0;
  let binUsed = 0;
  for (let i = 0; i < nul; i++) {
    const c = fmt[i]!;
    if ((!isprint(c) && !isspace(c)) || c > 0x7f) return EINVAL;
    if (c !== 0x25 /* % */) {
      out += String.fromCharCode(c);
      continue;
    }
    if (fmt[i + 1] === 0x25) {
      out += '%';
      i++;
      continue;
    }
    if (numSpec >= MAX_TRACE_PRINTK_VARARGS) return EINVAL;
    const [alo, ahi] = args[numSpec]!;
    i++;
    let left = false, zero = false, plus = false, space = false;
    for (;; i++) {
      const f = fmt[i];
      if (f === 0x30) zero = true;
      else if (f === 0x2d) left = true;
      else if (f === 0x2b) plus = true;
      else if (f === 0x20) space = true;
      else break;
    }
    let width = 0;
    if (fmt[i]! >= 0x31 && fmt[i]! <= 0x39) {
      while (fmt[i]! >= 0x30 && fmt[i]! <= 0x39) width = width * 10 + (fmt[i++]! - 0x30);
    }
    const conv = fmt[i];
    const u64 = (BigInt(ahi >>> 0) << 32n) | BigInt(alo >>> 0);
    if (conv === 0x70 /* p */) {
      const n = fmt[i + 1];
      let text: string;
      if (endsConv(n)) {
        text = u64 === 0n ? '0000000000000000' : hashPointer(u64);
      } else if ((n === 0x6b || n === 0x75) && fmt[i + 2] === 0x73) { // %ks %us
        if (!endsConv(fmt[i + 3])) return EINVAL;
        i += 2;
        text = readString(x, alo, ahi, MAX_BPRINTF_BIN_ARGS - binUsed) ?? '';
        binUsed += text.length + 1;
      } else if (n === 0x4b /* K */) {
        text = u64 === 0n ? '0000000000000000' : hashPointer(u64);
        i++;
      } else if (n === 0x78 /* x */) {
        text = u64.toString(16).padStart(16, '0');
        i++;
      } else if (n === 0x73 || n === 0x53 || n === 0x42) { // %ps %pS %pB: no kallsyms here
        text = `0x${u64.toString(16)}`;
        i++;
      } else if ((n === 0x69 || n === 0x49) && (fmt[i + 2] === 0x34 || fmt[i + 2] === 0x36)) {
        const v6 = fmt[i + 2] === 0x36;
        const b = readBytes(x, alo, ahi, v6 ? 16 : 4);
        if (!v6) text = Array.from(b, (d) => (n === 0x69 ? String(d).padStart(3, '0') : String(d))).join('.');
        else if (n === 0x49) text = Array.from({ length: 8 }, (_, k) => ((b[2 * k]! << 8) | b[2 * k + 1]!).toString(16).padStart(4, '0')).join(':');
        else text = Array.from(b, (d) => d.toString(16).padStart(2, '0')).join('');
        i += 2;
      } else {
        return EINVAL;
      }
      out += pad(text, width, left, false);
      numSpec++;
      continue;
    }
    if (conv === 0x73 /* s */) {
      if (!endsConv(fmt[i + 1])) return EINVAL;
      const s = readString(x, alo, ahi, MAX_BPRINTF_BIN_ARGS - binUsed) ?? '';
      binUsed += s.length + 1;
      out += pad(s, width, left, false);
      numSpec++;
      continue;
    }
    if (conv === 0x63 /* c */) {
      out += pad(String.fromCharCode(alo & 0xff), width, left, false);
      numSpec++;
      continue;
    }
    let bits = 32;
    if (fmt[i] === 0x6c) { bits = 64; i++; }
    if (fmt[i] === 0x6c) { bits = 64; i++; }
    const t = fmt[i];
    if (t !== 0x69 && t !== 0x64 && t !== 0x75 && t !== 0x78 && t !== 0x58) return EINVAL;
    const v = bits === 64 ? u64 : BigInt(alo >>> 0);
    let text: string;
    if (t === 0x69 || t === 0x64) {
      const sv = BigInt.asIntN(bits, v);
      text = (sv >= 0n ? (plus ? '+' : space ? ' ' : '') : '') + sv.toString();
    } else if (t === 0x75) {
      text = v.toString();
    } else {
      text = v.toString(16);
      if (t === 0x58) text = text.toUpperCase();
    }
    out += pad(text, width, left, zero && !left);
    numSpec++;
  }
  return out;
}

function bpf_trace_printk(env: HelperEnv): HelperFn {
  const args: [number, number][] = [[0, 0], [0, 0], [0, 0]];
  return (x) => {
    const size = x.R[4]! >>> 0;
    const r = memArg(x, 1, size, false, 'bpf_trace_printk');
    const off = x.R[2]! >>> 0;
    args[0]![0] = x.R[6]!; args[0]![1] = x.R[7]!;
    args[1]![0] = x.R[8]!; args[1]![1] = x.R[9]!;
    args[2]![0] = x.R[10]!; args[2]![1] = x.R[11]!;
    const msg = bpf_trace_format(x, r.u8.subarray(off, off + size), args);
    if (typeof msg === 'number') {
      retInt(x, msg);
      return;
    }
    env.trace.write(x.cpu, msg.length < MAX_BPRINTF_BUF ? msg : msg.slice(0, MAX_BPRINTF_BUF - 1));
    retInt(x, msg.length);
  };
}

export const BPF_TRACE_PRINTK: BpfHelperDef = { id: BPF_FUNC_trace_printk, name: 'bpf_trace_printk', proto: bpf_trace_printk_proto, impl: bpf_trace_printk };
