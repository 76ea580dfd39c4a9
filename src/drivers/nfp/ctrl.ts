// The host side of the ctrl vNIC: what nfp_net's control-ring path does (nfp_ctrl_tx() queues a
// message, with a backlog when the ring is full; the ctrl vNIC's RX poll hands each received message to
// the app's ctrl_msg_rx()). The ring itself is src/nic/mailbox.ts.
//
// Receiving never blocks the host: the RX path waits for the firmware with Atomics.waitAsync on the
// reply ring's producer index, and each wake-up drains the messages waiting — up to a budget per turn
// of the event loop, as NAPI does, then again on the next turn — so one wake-up serves many requests
// in flight. A pending waitAsync does not keep Node alive; whoever waits for a reply
// holds a timer (the cmsg timeout) that does. poll() drains synchronously, for the busy-wait mode.
//
// Each message is handed to rx() where the firmware wrote it, as a view of its ring slot (made once
// per slot): like an skb the driver consumes before the next one comes, it is valid only during the
// call — the slot goes back to the firmware right after — and a consumer that keeps it copies it. No
// copy and no allocation per message.

import { CtrlMailbox, MBOX, MBOX_STATE_DEAD } from '../../nic/mailbox.js';

export interface NfpCtrlVnicOptions {
  readonly mailbox: CtrlMailbox;
  /** Wake the firmware after queueing a request (the device's doorbell). */
  readonly doorbell: () => void;
  /** nfp_app ctrl_msg_rx(): one received message, valid only during the call. */
  readonly rx: (skb: Uint8Array) => void;
  /** The device vanished (the channel went dead). */
  readonly onDead: () => void;
}

/**
 * Messages the receive path hands to the app per turn of the event loop (NAPI_POLL_WEIGHT, the
 * kernel's budget for one NAPI poll): with hundreds of replies waiting, one wake-up would otherwise
 * keep the event loop for all of them and for everything their callers do next.
 */
export const NFP_CTRL_RX_BUDGET = 64;

export class NfpCtrlVnic {
  readonly mailbox: CtrlMailbox;
  private readonly backlog: Uint8Array[] = [];
  private armed = false;
  private stopped = false;
  private deadSeen = false;
  private kickQueued = false;
  /** The receive path spent its budget: its next turn comes at once, with more requests to send. */
  private xmit_more = false;
  /** Requests were posted under xmit_more and nobody has woken the firmware for them yet. */
  private kickOwed = false;

  constructor(private readonly opts: NfpCtrlVnicOptions) {
    this.mailbox = opts.mailbox;
  }

  /** The ctrl vNIC's MTU (what the firmware sizes replies to). */
  get mtu(): number {
    return this.mailbox.mtu;
  }

  set mtu(v: number) {
    this.mailbox.mtu = v;
  }

  /** Start receiving. */
  start(): void {
    this.stopped = false;
    this.arm();
  }

  stop(): void {
    this.stopped = true;
    // No turn follows to pay a held kick: requests sent from now on wake the firmware themselves.
    this.xmit_more = false;
    if (this.kickOwed) this.kick();
    // Resolve the pending waitAsync so nothing is left waiting on a channel that is gone.
    Atomics.notify(this.mailbox.hdr, MBOX.F2H_PROD);
  }

  /**
   * nfp_ctrl_tx(): queue a message for the firmware. The bytes are copied before this returns (into
   * the ring, or into the backlog), so the caller may reuse its buffer.
   *
   * The firmware is not woken here but once for the burst, in a microtask queued by the first message:
   * callers woken by one batch of replies all send their next request in the same round of microtasks,
   * and the firmware then takes them all from one wake-up. While the receive path knows that more
   * replies are waiting for the next turn (it spent its budget), that kick waits for the last such
   * turn, as the kernel's xmit_more holds a queue's doorbell while more packets follow. Whoever cannot
   * let a microtask run first (a busy-waiting caller) calls kick() itself.
   */
  tx(skb: Uint8Array): void {
    if (this.backlog.length > 0 || !this.mailbox.hostPost(skb)) this.backlog.push(skb.slice());
    if (!this.kickQueued) {
      this.kickQueued = true;
      queueMicrotask(this.queuedKick);
    }
    this.opts.doorbell();
  }

  /** Wake the firmware for the messages queued so far (if it sleeps). */
  kick(): void {
    this.kickQueued = false;
    this.kickOwed = false;
    this.mailbox.hostKick();
  }

  /** The burst's kick, unless someone kicked since it was queued, or held while more turns follow. */
  private readonly queuedKick = (): void => {
    if (!this.kickQueued) return;
    if (this.xmit_more) {
      this.kickQueued = false;
      this.kickOwed = true;
      return;
    }
    this.kick();
  };

  /** Messages waiting for room in the ring. */
  get backlogLength(): number {
    return this.backlog.length;
  }

  /**
   * Drain the reply ring, up to `budget` messages (and refill the request ring from the backlog).
   * Returns messages received.
   */
  poll(budget = Infinity): number {
    let n = 0;
    while (n < budget) {
      const skb = this.mailbox.hostRecvView();
      if (skb === null) break;
      n++;
      try {
        this.opts.rx(skb);
      } finally {
        this.mailbox.hostRecvDone();
      }
    }
    if (this.backlog.length > 0) {
      let sent = 0;
      while (sent < this.backlog.length && this.mailbox.hostSend(this.backlog[sent]!)) sent++;
      if (sent > 0) {
        this.backlog.splice(0, sent);
        this.opts.doorbell();
      }
    }
    if (!this.deadSeen && this.mailbox.state === MBOX_STATE_DEAD) {
      this.deadSeen = true;
      this.opts.onDead();
    }
    return n;
  }

  /**
   * Wait for the firmware without blocking: announce the wait, read the producer index, drain, then
   * sleep on that index. The firmware wakes us only while the flag is up, and takes the flag with the
   * wake-up — possibly for a message the drain then picked up — so the flag is raised again after the
   * drain, before the wait; any message that lands from then on either moves the index off `seen`
   * (the wait returns at once) or finds the flag up (the firmware wakes us).
   */
  private arm(): void {
    if (this.armed || this.stopped) return;
    const hdr = this.mailbox.hdr;
    this.mailbox.hostWaiting(true);
    const seen = Atomics.load(hdr, MBOX.F2H_PROD);
    const n = this.poll(NFP_CTRL_RX_BUDGET);
    this.xmit_more = n === NFP_CTRL_RX_BUDGET;
    if (!this.xmit_more && this.kickOwed) this.kick();
    if (this.stopped || this.deadSeen) {
      this.mailbox.hostWaiting(false);
      return;
    }
    if (n === NFP_CTRL_RX_BUDGET) {
      // The budget is spent and more may be waiting: poll again on the next turn, as NAPI does,
      // instead of sleeping; timers and I/O run in between.
      this.mailbox.hostWaiting(false);
      this.armed = true;
      setImmediate(this.rearm);
      return;
    }
    this.mailbox.hostWaiting(true);
    const r = Atomics.waitAsync(hdr, MBOX.F2H_PROD, seen);
    this.armed = true;
    if (!r.async) {
      // More arrived while draining: go round again, but let the event loop run first.
      setImmediate(this.rearm);
      return;
    }
    void r.value.then(this.rearm);
  }

  private readonly rearm = (): void => {
    this.armed = false;
    this.mailbox.hostWaiting(false);
    this.arm();
  };
}
