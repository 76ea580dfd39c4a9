// RCU for the simulated kernel: include/linux/rcupdate.h (rcu_read_lock/unlock, synchronize_rcu,
// call_rcu, rcu_barrier, the polled grace-period API get_state_synchronize_rcu /
// poll_state_synchronize_rcu) and the lockdep checks of kernel/locking/lockdep.c and
// kernel/sched/core.c (__might_sleep) that catch sleeping inside a read-side section.
//
// Readers may live in any thread (the host CPUs, worker threads), so the reader state is in a
// SharedArrayBuffer: one slot per reader thread and a global grace-period sequence GP. This is the
// userspace-RCU "general purpose" scheme rather than the kernel's tree RCU:
//   - GP is odd (so a slot of 0 always means "not reading") and only grows, by 2 per advance.
//   - The outermost rcu_read_lock() stores the GP it saw into its slot; rcu_read_unlock() stores 0.
//   - A grace period for a cookie c (= GP when the caller unlinked something) has elapsed once GP has
//     been advanced past c and every slot is 0 or holds an epoch > c: every reader that could have
//     seen the unlinked object has left its section. All Atomics operations are sequentially
//     consistent, so a reader whose slot store is not yet visible to the scan starts its traversal
//     after the unlink and cannot reach the object.
// Epoch comparisons are wrap-aware ((a - b) | 0), which holds while no reader stays inside one
// section across 2^30 grace periods.
//
// Waiting never spins on the event loop: synchronize_rcu() polls with Atomics.waitAsync on a wake
// word that an exiting reader bumps when a waiter has announced itself, with a timer both as the
// fallback poll and to keep the process alive (a pending waitAsync alone does not).
//
// Lockdep: sleeping (an `await`, or a call marked might_sleep()) inside a read-side section is a bug
// in the kernel; here it is reported through a hook with kernel-style text and counted. The `await`
// case is caught by a microtask queued at the outermost rcu_read_lock(): microtasks only run once the
// synchronous code has returned to the event loop, so a section still open then spans a yield.

const GP = 0; // grace-period sequence (odd)
const WAITERS = 1; // number of synchronize_rcu() waiters in any thread
const WAKE = 2; // bumped by an exiting reader when WAITERS != 0
const NSLOTS = 3; // number of reader slots
const HIGH = 4; // 1 + highest slot index ever owned (bounds the scan)
const HDR_WORDS = 8;

/** Default number of reader slots: one per thread that reads (host CPUs, workers, the main thread). */
export const RCU_DEFAULT_MAX_READERS = 64;

/** How long one wait of synchronize_rcu()/call_rcu processing sleeps before rescanning, in ms. */
const RCU_POLL_MS = 2;

/** A lockdep finding, as the kernel would print it. */
export interface LockdepReport {
  /** 'sleep' for might_sleep()/an await inside a section, 'rcu' for suspicious RCU usage. */
  readonly kind: 'sleep' | 'rcu';
  /** The first line of the splat. */
  readonly title: string;
  /** The whole splat, multi-line. */
  readonly text: string;
}

export type LockdepReporter = (report: LockdepReport) => void;

function defaultReporter(report: LockdepReport): void {
  process.stderr.write(report.text + '\n');
}

/** Wrap-aware "a is after b" for GP epochs. */
function after(a: number, b: number): boolean {
  return ((a - b) | 0) > 0;
}

interface PendingCallback {
  readonly cookie: number;
  readonly cb: () => void;
}

/**
 * One thread's handle on the kernel's RCU: the shared state plus this thread's reader slot. Create it
 * once on the host (`Rcu.create()`), pass `rcu.sab` to a worker, and `Rcu.attach(sab)` there.
 */
export class Rcu {
  readonly sab: SharedArrayBuffer;
  private readonly ctl: Int32Array;
  private readonly slotBase: number;
  private readonly ownerBase: number;
  private readonly nslots: number;
  /** This thread's reader slot. */
  readonly slot: number;
  /** Read-side nesting depth of this thread (rcu_preempt_depth()). */
  private depth = 0;
  private checkQueued = false;
  private readonly callbacks: PendingCallback[] = [];
  private cbTimer: ReturnType<typeof setTimeout> | undefined;
  private released = false;

  /** Lockdep findings so far, in this thread. Tests read it. */
  lockdepCount = 0;
  /** The last finding's text, for tests and error messages. */
  lastLockdep: LockdepReport | undefined;
  private reporter: LockdepReporter = defaultReporter;
  /** CONFIG_PROVE_RCU: the await detector and the datapath "lookup without rcu_read_lock" check. */
  proveRcu = true;

  private constructor(sab: SharedArrayBuffer) {
    this.sab = sab;
    this.ctl = new Int32Array(sab);
    this.nslots = Atomics.load(this.ctl, NSLOTS);
    this.slotBase = HDR_WORDS;
    this.ownerBase = HDR_WORDS + this.nslots;
    this.slot = this.allocSlot();
  }

  /** The RCU state of a new kernel; this thread gets the first reader slot. */
  static create(maxReaders = RCU_DEFAULT_MAX_READERS): Rcu {
    if (!Number.isInteger(maxReaders) || maxReaders < 1) throw new RangeError(`rcu: bad reader count ${maxReaders}`);
    const sab = new SharedArrayBuffer((HDR_WORDS + 2 * maxReaders) * 4);
    const ctl = new Int32Array(sab);
    ctl[GP] = 1;
    ctl[NSLOTS] = maxReaders;
    return new Rcu(sab);
  }

  /** Join an existing kernel's RCU from another thread (or as another reader of the same thread). */
  static attach(sab: SharedArrayBuffer): Rcu {
    return new Rcu(sab);
  }

  private allocSlot(): number {
    for (let i = 0; i < this.nslots; i++) {
      if (Atomics.compareExchange(this.ctl, this.ownerBase + i, 0, 1) === 0) {
        Atomics.store(this.ctl, this.slotBase + i, 0);
        for (;;) {
          const high = Atomics.load(this.ctl, HIGH);
          if (high > i || Atomics.compareExchange(this.ctl, HIGH, high, i + 1) === high) break;
        }
        return i;
      }
    }
    throw new Error(`rcu: all ${this.nslots} reader slots are taken; create the Rcu with more readers`);
  }

  /** Give the reader slot back (a thread that stops reading, e.g. a worker about to exit). */
  release(): void {
    if (this.released) return;
    if (this.depth !== 0) throw new Error('rcu: release() inside an RCU read-side critical section');
    this.released = true;
    Atomics.store(this.ctl, this.slotBase + this.slot, 0);
    Atomics.store(this.ctl, this.ownerBase + this.slot, 0);
    if (this.cbTimer !== undefined) clearTimeout(this.cbTimer);
  }

  /**
   * Free the slot of a reader thread that ended without release() (a worker that crashed or was
   * terminated, perhaps inside a section), as RCU forgets an offlined CPU (rcutree_dead_cpu):
   * otherwise its stale epoch would hold every later grace period back forever.
   */
  rcutree_dead_reader(slot: number): void {
    if (!Number.isInteger(slot) || slot < 0 || slot >= this.nslots) throw new RangeError(`rcu: no reader slot ${slot}`);
    if (slot === this.slot && !this.released) throw new Error('rcu: rcutree_dead_reader() on this thread\'s own slot');
    Atomics.store(this.ctl, this.slotBase + slot, 0);
    Atomics.store(this.ctl, this.ownerBase + slot, 0);
    if (Atomics.load(this.ctl, WAITERS) !== 0) {
      Atomics.add(this.ctl, WAKE, 1);
      Atomics.notify(this.ctl, WAKE);
    }
  }

  // ---------------------------------------------------------------- read side

  rcu_read_lock(): void {
    if (this.depth++ === 0) {
      Atomics.store(this.ctl, this.slotBase + this.slot, Atomics.load(this.ctl, GP));
      if (this.proveRcu && !this.checkQueued) {
        this.checkQueued = true;
        queueMicrotask(this.checkYield);
      }
    }
  }

  rcu_read_unlock(): void {
    if (this.depth === 0) throw new Error('rcu: rcu_read_unlock() without rcu_read_lock()');
    if (--this.depth === 0) {
      Atomics.store(this.ctl, this.slotBase + this.slot, 0);
      if (Atomics.load(this.ctl, WAITERS) !== 0) {
        Atomics.add(this.ctl, WAKE, 1);
        Atomics.notify(this.ctl, WAKE);
      }
    }
  }

  /** rcu_read_lock_held(): is this thread inside a read-side section? */
  rcu_read_lock_held(): boolean {
    return this.depth !== 0;
  }

  /** rcu_preempt_depth(). */
  get nesting(): number {
    return this.depth;
  }

  // Bound once so that queueMicrotask() gets the same function every time (no closure per section).
  // One report per offending section: a section still open is not re-armed (only the outermost
  // rcu_read_lock() queues the check).
  private readonly checkYield = (): void => {
    this.checkQueued = false;
    if (this.depth !== 0) {
      this.lockdep('rcu', 'WARNING: suspicious RCU usage',
        'kernel/rcu/tree_plugin.h: Voluntary context switch within RCU read-side critical section!\n' +
        `(an await or a return to the event loop while rcu_read_lock() is held, depth ${this.depth})`);
    }
  };

  // ---------------------------------------------------------------- lockdep

  /** Install the lockdep reporter (default: the splat on stderr). Returns the previous one. */
  setLockdepReporter(reporter: LockdepReporter): LockdepReporter {
    const prev = this.reporter;
    this.reporter = reporter;
    return prev;
  }

  /**
   * might_sleep(): the host marks the points where it may block (offloaded map operations waiting
   * for the firmware, synchronize_rcu). Inside a read-side section that is a bug, reported as
   * __might_sleep() reports it.
   */
  might_sleep(where?: string): void {
    if (this.depth === 0) return;
    this.lockdep('sleep', `BUG: sleeping function called from invalid context at ${where ?? callerLocation()}`,
      'in_atomic(): 0, irqs_disabled(): 0, non_block: 0, pid: ' + process.pid + ', name: node\n' +
      'preempt_count: 0, expected: 0\n' +
      `RCU nest depth: ${this.depth}, expected: 0`);
  }

  /**
   * RCU_LOCKDEP_WARN for an rcu_dereference() outside a read-side section (a map lookup from the
   * datapath without rcu_read_lock()). Cheap when it does not fire: callers test nesting first.
   */
  lockdep_rcu_suspicious(what: string): void {
    this.lockdep('rcu', 'WARNING: suspicious RCU usage', `${what}\nrcu_scheduler_active = 2, debug_locks = 1\nno locks held by node/${process.pid}.`);
  }

  private lockdep(kind: LockdepReport['kind'], title: string, body: string): void {
    this.lockdepCount++;
    const text = `=============================\n${title}\n-----------------------------\n${body}`;
    const report: LockdepReport = { kind, title, text };
    this.lastLockdep = report;
    this.reporter(report);
  }

  // ---------------------------------------------------------------- polled grace periods

  /** get_state_synchronize_rcu(): a cookie that needs one full grace period from now. */
  get_state_synchronize_rcu(): number {
    return Atomics.load(this.ctl, GP);
  }

  /**
   * start_poll_synchronize_rcu(): like get_state, but also starts the grace period (advances GP so
   * that readers entering from now on do not hold it back).
   */
  start_poll_synchronize_rcu(): number {
    const cookie = Atomics.load(this.ctl, GP);
    this.advance(cookie);
    return cookie;
  }

  private advance(cookie: number): void {
    // Only move GP past the cookie once; a failed exchange means another thread already did.
    if (Atomics.load(this.ctl, GP) === cookie) Atomics.compareExchange(this.ctl, GP, cookie, (cookie + 2) | 0);
  }

  /**
   * The oldest epoch among readers that are inside a section right now, or the current GP when none
   * is: every cookie strictly before it has had its grace period. Callers advance GP past their
   * newest cookie first (see start_poll_synchronize_rcu).
   */
  rcu_gp_floor(): number {
    const ctl = this.ctl;
    let floor = Atomics.load(ctl, GP);
    const high = Atomics.load(ctl, HIGH);
    for (let i = 0; i < high; i++) {
      const e = Atomics.load(ctl, this.slotBase + i);
      if (e !== 0 && after(floor, e)) floor = e;
    }
    return floor;
  }

  /**
   * For batch reclaim: start the grace period of `newest` (the newest cookie the caller holds) and
   * return the floor; each cookie c with Rcu.gp_passed(c, floor) may be reclaimed.
   */
  rcu_gp_floor_after(newest: number): number {
    this.advance(newest);
    return this.rcu_gp_floor();
  }

  /** poll_state_synchronize_rcu(cookie): has a full grace period elapsed since the cookie? */
  poll_state_synchronize_rcu(cookie: number): boolean {
    this.advance(cookie);
    return after(this.rcu_gp_floor(), cookie);
  }

  /** Is `cookie` before `floor` (a value from rcu_gp_floor())? For batch reclaim in shared memory. */
  static gp_passed(cookie: number, floor: number): boolean {
    return after(floor, cookie);
  }

  // ---------------------------------------------------------------- waiting

  /** synchronize_rcu(): resolves once every reader that was inside a section at the call has left. */
  async synchronize_rcu(): Promise<void> {
    this.might_sleep('synchronize_rcu');
    if (this.depth !== 0) {
      this.lockdep('rcu', 'WARNING: suspicious RCU usage',
        'kernel/rcu/tree.c: Illegal synchronize_rcu() in RCU read-side critical section');
      throw new Error('rcu: synchronize_rcu() called inside an RCU read-side critical section would never return');
    }
    const cookie = this.start_poll_synchronize_rcu();
    while (!this.poll_state_synchronize_rcu(cookie)) await this.waitForReaders();
  }

  /**
   * synchronize_rcu_expedited(), blocking this thread (Atomics.wait, which Node allows on the main
   * thread too) instead of returning a promise: for the few synchronous syscall paths that must wait
   * for other threads' readers (a hash update that finds every spare element still in its grace
   * period). Gives up after timeoutMs and returns false. Never call it inside a read-side section.
   */
  synchronize_rcu_expedited(timeoutMs = 1000): boolean {
    this.might_sleep('synchronize_rcu_expedited');
    if (this.depth !== 0) return false;
    const ctl = this.ctl;
    const cookie = this.start_poll_synchronize_rcu();
    const deadline = performance.now() + timeoutMs;
    while (!this.poll_state_synchronize_rcu(cookie)) {
      const left = deadline - performance.now();
      if (left <= 0) return false;
      Atomics.add(ctl, WAITERS, 1);
      const seen = Atomics.load(ctl, WAKE);
      if (!this.poll_state_synchronize_rcu(cookie)) Atomics.wait(ctl, WAKE, seen, Math.min(left, RCU_POLL_MS));
      Atomics.sub(ctl, WAITERS, 1);
    }
    return true;
  }

  /** One sleep until a reader leaves its section (or the poll timeout). */
  private async waitForReaders(): Promise<void> {
    const ctl = this.ctl;
    Atomics.add(ctl, WAITERS, 1);
    try {
      const seen = Atomics.load(ctl, WAKE);
      const w = Atomics.waitAsync(ctl, WAKE, seen, RCU_POLL_MS);
      if (!w.async) return;
      let timer: ReturnType<typeof setTimeout> | undefined;
      // The timer keeps the event loop alive for the duration of the wait; waitAsync alone does not.
      await Promise.race([w.value, new Promise<void>((resolve) => { timer = setTimeout(resolve, RCU_POLL_MS + 1); })]);
      if (timer !== undefined) clearTimeout(timer);
    } finally {
      Atomics.sub(ctl, WAITERS, 1);
    }
  }

  /**
   * call_rcu(cb): run cb after a grace period. Callbacks run from a timer in this thread, in order;
   * the timer does not keep the process alive (rcu_barrier() does).
   */
  call_rcu(cb: () => void): void {
    this.callbacks.push({ cookie: this.start_poll_synchronize_rcu(), cb });
    this.scheduleCallbacks();
  }

  private scheduleCallbacks(): void {
    if (this.cbTimer !== undefined || this.callbacks.length === 0 || this.released) return;
    this.cbTimer = setTimeout(this.runCallbacks, RCU_POLL_MS);
    this.cbTimer.unref();
  }

  private readonly runCallbacks = (): void => {
    this.cbTimer = undefined;
    this.rcu_do_batch();
    this.scheduleCallbacks();
  };

  /** Invoke every callback whose grace period has elapsed; returns how many ran. */
  private rcu_do_batch(): number {
    const cbs = this.callbacks;
    if (cbs.length === 0) return 0;
    const newest = cbs[cbs.length - 1];
    if (newest !== undefined) this.advance(newest.cookie);
    const floor = this.rcu_gp_floor();
    let n = 0;
    while (n < cbs.length) {
      const head = cbs[n];
      if (head === undefined || !after(floor, head.cookie)) break;
      n++;
    }
    const ready = cbs.splice(0, n);
    for (const p of ready) p.cb();
    return n;
  }

  /** rcu_barrier(): resolves once every callback queued by this thread so far has run. */
  async rcu_barrier(): Promise<void> {
    this.might_sleep('rcu_barrier');
    while (this.callbacks.length !== 0) {
      this.rcu_do_batch();
      if (this.callbacks.length !== 0) await this.waitForReaders();
    }
  }

  /** Number of call_rcu() callbacks still waiting in this thread. */
  get pendingCallbacks(): number {
    return this.callbacks.length;
  }
}

/** "file:line" of the caller's caller, for the might_sleep() splat (only built when it fires). */
function callerLocation(): string {
  const stack = new Error().stack?.split('\n') ?? [];
  // [0] "Error", [1] callerLocation, [2] might_sleep, [3] the caller that may sleep.
  const line = stack[3]?.trim() ?? 'unknown';
  return line.replace(/^at\s+/, '');
}
