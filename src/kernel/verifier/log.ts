// struct bpf_verifier_log (kernel/bpf/log.c): what BPF_PROG_LOAD writes into the user's log buffer.
// log_level 1 gives the verdict and its reasons, 2 every instruction; the buffer is the user's size, and
// since 6.4 it keeps the most recent text when it overflows ("rotating" mode) and the load then fails with
// ENOSPC, unless BPF_LOG_FIXED asks for the old keep-the-start behaviour.

import { BpfError } from '../../bpf/errno.js';

export const BPF_LOG_LEVEL1 = 1;
export const BPF_LOG_LEVEL2 = 2;
export const BPF_LOG_STATS = 4;
export const BPF_LOG_FIXED = 8;
const BPF_LOG_MASK = BPF_LOG_LEVEL1 | BPF_LOG_LEVEL2 | BPF_LOG_STATS | BPF_LOG_FIXED;
const BPF_LOG_MIN_ALIGNMENT = 8;
/** How long the tail grows before it is set aside as a chunk. */
const CHUNK = 4096;
/** The smallest buffer the kernel accepts when a log is asked for. */
export const BPF_LOG_MIN_SIZE = 128;

export class VerifierLog {
  /**
   * The retained text: finished chunks, then the tail being appended to. Chunks stay a few KB so that
   * rewinding (print_insn_state takes back a newline, a finished branch rewinds its trace) slices
   * little, and joining a long trace joins thousands of pieces rather than millions. The text kept is
   * [start, end): a rotating log drops its oldest chunks once far more than the buffer is kept (the
   * user only gets the newest size-1 bytes); a BPF_LOG_FIXED one keeps only its first size-1 bytes.
   */
  private pieces: string[] = [];
  private tail = '';
  private start = 0;
  private retained = 0;
  /** log->end_pos, in characters. */
  private end = 0;
  /** log->len_max - 1: the longest the log ever was, in bytes. */
  private peak = 0;
  /** Bytes beyond one per character written so far (UTF-8 in BTF source lines); never given back. */
  private extraBytes = 0;
  private readonly fixed: boolean;
  /** How much text a rotating log keeps at least. */
  private readonly keep: number;

  constructor(readonly level: number, readonly size: number) {
    if ((level & ~BPF_LOG_MASK) !== 0) throw new BpfError('EINVAL', `log_level 0x${level.toString(16)} has unknown bits`);
    if (level !== 0 && (size < BPF_LOG_MIN_SIZE || size > 0xffffffff >>> 2)) {
      throw new BpfError('EINVAL', `log_size ${size} out of range [${BPF_LOG_MIN_SIZE}, ${0xffffffff >>> 2}]`);
    }
    if (level === 0 && size !== 0) throw new BpfError('EINVAL', 'log_size without log_level');
    this.fixed = (level & BPF_LOG_FIXED) !== 0;
    this.keep = Math.max(size, 1 << 20);
  }

  get enabled(): boolean {
    return this.level !== 0;
  }

  /** Characters written so far (where a branch's log starts, to rewind to when it ends). */
  get position(): number {
    return this.end;
  }

  /** bpf_vlog_reset(): drop what was written after `pos`. */
  truncate(pos: number): void {
    if (pos >= this.end) return;
    this.end = pos;
    const keepTo = pos - this.start;
    if (keepTo <= 0) {
      // Rewound past what a rotating log still holds: its window becomes empty.
      this.pieces = [];
      this.tail = '';
      this.retained = 0;
      this.start = pos;
      return;
    }
    if (keepTo >= this.retained) return;
    let tailStart = this.retained - this.tail.length;
    while (keepTo < tailStart) {
      this.tail = this.pieces.pop()!;
      tailStart -= this.tail.length;
    }
    this.tail = this.tail.slice(0, keepTo - tailStart);
    this.retained = keepTo;
  }

  get verbose(): boolean {
    return (this.level & BPF_LOG_LEVEL2) !== 0;
  }

  /** env->log.level & BPF_LOG_LEVEL: the walk is traced (level 1 or 2, not statistics alone). */
  get traced(): boolean {
    return (this.level & (BPF_LOG_LEVEL1 | BPF_LOG_LEVEL2)) !== 0;
  }

  /** verbose(): append text when logging is on. */
  write(text: string): void {
    if (this.level === 0) return;
    if (this.fixed) {
      // Only the start is ever shown: text past the buffer is counted, not kept.
      const room = this.size - 1 - this.start - this.retained;
      if (room > 0 && this.start + this.retained === this.end) this.append(text.length <= room ? text : text.slice(0, room));
    } else {
      this.append(text);
      if (this.retained > 2 * this.keep) this.dropOldest();
    }
    this.end += text.length;
    if (this.end + this.extraBytes > this.peak) this.peak = this.end + this.extraBytes;
  }

  /** Like write(), for text that may hold characters beyond ASCII (source lines from BTF). */
  writeUtf8(text: string): void {
    this.extraBytes += Buffer.byteLength(text) - text.length;
    this.write(text);
  }

  private append(text: string): void {
    if (this.tail.length >= CHUNK) {
      this.pieces.push(this.tail);
      this.tail = '';
    }
    this.tail += text;
    this.retained += text.length;
  }

  /** A rotating log forgets its oldest chunks, keeping at least `keep` characters. */
  private dropOldest(): void {
    let i = 0;
    while (i < this.pieces.length && this.retained - this.pieces[i]!.length >= this.keep) {
      this.retained -= this.pieces[i]!.length;
      this.start += this.pieces[i]!.length;
      i++;
    }
    if (i > 0) this.pieces = this.pieces.slice(i);
  }

  private joined(): string {
    if (this.pieces.length > 0) {
      this.pieces.push(this.tail);
      this.tail = this.pieces.join('');
      this.pieces = [];
    }
    return this.tail;
  }

  /** Bytes the log needed at its longest, with the NUL (bpf_attr.log_true_size: log->len_max). */
  get trueSize(): number {
    return this.enabled ? this.peak + 1 : 0;
  }

  /** What lands in the user's buffer (at most size-1 bytes plus the NUL). */
  text(): string {
    if (!this.enabled) return '';
    const all = this.joined();
    if (all.length <= this.size - 1 && Buffer.byteLength(all) <= this.size - 1) return all;
    const bytes = Buffer.from(all);
    if (bytes.length <= this.size - 1) return all;
    return this.fixed ? bytes.subarray(0, this.size - 1).toString() : bytes.subarray(bytes.length - (this.size - 1)).toString();
  }

  /** bpf_vlog_finalize(): a log that at any point did not fit fails the load with ENOSPC. */
  finalize(): void {
    if (!this.enabled) return;
    const need = this.trueSize;
    if (need > this.size) throw new BpfError('ENOSPC', `verifier log of ${need} bytes does not fit in ${this.size}`);
  }
}

export { BPF_LOG_MIN_ALIGNMENT };
