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
   * The text as written: finished chunks, then the tail being appended to. Chunks stay a few KB so
   * that rewinding (print_insn_state takes back a newline, a finished branch rewinds its trace) slices
   * little, and joining a 50 MB trace is a join of thousands of pieces rather than millions.
   */
  private pieces: string[] = [];
  private tail = '';
  private length = 0;

  constructor(readonly level: number, readonly size: number) {
    if ((level & ~BPF_LOG_MASK) !== 0) throw new BpfError('EINVAL', `log_level 0x${level.toString(16)} has unknown bits`);
    if (level !== 0 && (size < BPF_LOG_MIN_SIZE || size > 0xffffffff >>> 2)) {
      throw new BpfError('EINVAL', `log_size ${size} out of range [${BPF_LOG_MIN_SIZE}, ${0xffffffff >>> 2}]`);
    }
    if (level === 0 && size !== 0) throw new BpfError('EINVAL', 'log_size without log_level');
  }

  get enabled(): boolean {
    return this.level !== 0;
  }

  /** Characters written so far (where a branch's log starts, to rewind to when it ends). */
  get position(): number {
    return this.length;
  }

  /** bpf_vlog_reset(): drop what was written after `pos`. */
  truncate(pos: number): void {
    if (pos >= this.length) return;
    let tailStart = this.length - this.tail.length;
    while (pos < tailStart) {
      // The cut is in an earlier chunk: it becomes the tail again.
      this.tail = this.pieces.pop()!;
      this.length = tailStart;
      tailStart -= this.tail.length;
    }
    this.tail = this.tail.slice(0, pos - tailStart);
    this.length = pos;
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
    // The whole text is kept (branches rewind into it); text() cuts it to the user's buffer.
    if (this.tail.length >= CHUNK) {
      this.pieces.push(this.tail);
      this.tail = '';
    }
    this.tail += text;
    this.length += text.length;
  }

  private joined(): string {
    if (this.pieces.length > 0) {
      this.pieces.push(this.tail);
      this.tail = this.pieces.join('');
      this.pieces = [];
    }
    return this.tail;
  }

  /** Bytes the whole log needed (bpf_attr.log_true_size). */
  get trueSize(): number {
    return this.enabled ? Buffer.byteLength(this.joined()) : 0;
  }

  /** What lands in the user's buffer (at most size-1 bytes plus the NUL). */
  text(): string {
    if (!this.enabled) return '';
    const all = this.joined();
    if (all.length <= this.size - 1 && Buffer.byteLength(all) <= this.size - 1) return all;
    const bytes = Buffer.from(all);
    if (bytes.length <= this.size - 1) return all;
    return (this.level & BPF_LOG_FIXED) !== 0 ? bytes.subarray(0, this.size - 1).toString() : bytes.subarray(bytes.length - (this.size - 1)).toString();
  }

  /** bpf_vlog_finalize(): a log that did not fit fails the load with ENOSPC. */
  finalize(): void {
    if (!this.enabled) return;
    const need = this.trueSize + 1;
    if (need > this.size) throw new BpfError('ENOSPC', `verifier log of ${need} bytes does not fit in ${this.size}`);
  }
}

export { BPF_LOG_MIN_ALIGNMENT };
