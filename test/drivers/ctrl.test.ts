// The host side of the ctrl vNIC: the wake-up protocol with the firmware. The firmware wakes a
// waiting host only while the host's flag is up, and takes the flag with the wake-up; this replays,
// step by step, the interleaving where that wake-up is spent on a message the host's drain has already
// picked up, and checks that the next message still wakes the host. Also: a burst of requests wakes a
// sleeping firmware once, and a wake-up with many replies waiting hands the app at most a budget of them
// per turn of the event loop.

import { describe, expect, it } from 'vitest';
import { NFP_CTRL_RX_BUDGET, NfpCtrlVnic } from '../../src/drivers/nfp/ctrl.js';
import { CtrlMailbox, MBOX } from '../../src/nic/mailbox.js';
import { until } from './helpers.js';

describe('ctrl vNIC receive path', () => {
  it('a wake-up spent during the drain is not lost: the next reply still wakes the host', async () => {
    const mb = CtrlMailbox.create({ maxMessageBytes: 64, nslots: 8 });
    const got: number[] = [];
    let spendWakeup = true;
    const ctrl = new NfpCtrlVnic({
      mailbox: mb,
      doorbell: () => {},
      rx: (skb) => {
        got.push(skb[0]!);
        if (spendWakeup) {
          // The firmware's flag-taking wake-up for this message lands now, while the host drains.
          spendWakeup = false;
          if (Atomics.compareExchange(mb.hdr, MBOX.HOST_WAITING, 1, 0) === 1) Atomics.notify(mb.hdr, MBOX.F2H_PROD);
        }
      },
      onDead: () => {},
    });
    // The first reply is in the ring before the host starts waiting (its wake-up comes late, above).
    expect(mb.fwSend(Uint8Array.of(1, 0, 0, 0), 4)).toBe(true);
    ctrl.start();
    expect(got).toEqual([1]);
    // The host now sleeps; the second reply must wake it.
    expect(mb.fwSend(Uint8Array.of(2, 0, 0, 0), 4)).toBe(true);
    expect(await until(() => got.length === 2, 2000)).toBe(true);
    expect(got).toEqual([1, 2]);
    ctrl.stop();
  });

  it('a full request ring keeps the rest in a backlog and sends it as the firmware catches up', () => {
    const mb = CtrlMailbox.create({ maxMessageBytes: 64, nslots: 2 });
    let rings = 0;
    const ctrl = new NfpCtrlVnic({ mailbox: mb, doorbell: () => { rings++; }, rx: () => {}, onDead: () => {} });
    for (let i = 0; i < 5; i++) ctrl.tx(Uint8Array.of(i, 1, 0, 0));
    expect(ctrl.backlogLength).toBe(3);
    const buf = new Uint8Array(64);
    const seen: number[] = [];
    for (let round = 0; round < 3; round++) {
      while (mb.fwRecvInto(buf) >= 0) seen.push(buf[0]!);
      ctrl.poll();
    }
    expect(seen).toEqual([0, 1, 2, 3, 4]);
    expect(ctrl.backlogLength).toBe(0);
    expect(rings).toBeGreaterThanOrEqual(5);
  });

  it('a burst of requests wakes a sleeping firmware once, after the burst, from a microtask', async () => {
    const mb = CtrlMailbox.create({ maxMessageBytes: 64, nslots: 64 });
    const ctrl = new NfpCtrlVnic({ mailbox: mb, doorbell: () => {}, rx: () => {}, onDead: () => {} });
    // The firmware sleeps on the request ring (what fwSleep() announces).
    Atomics.store(mb.hdr, MBOX.FW_SLEEPING, 1);
    for (let i = 0; i < 10; i++) ctrl.tx(Uint8Array.of(i, 1, 0, i));
    // All ten are in the ring, and nobody has paid for a futex wake yet.
    expect(mb.requestProd - mb.requestCons).toBe(10);
    expect(mb.stat(MBOX.STAT_FW_WAKEUPS)).toBe(0);
    expect(Atomics.load(mb.hdr, MBOX.FW_SLEEPING)).toBe(1);
    await Promise.resolve();
    expect(mb.stat(MBOX.STAT_FW_WAKEUPS)).toBe(1);
    expect(Atomics.load(mb.hdr, MBOX.FW_SLEEPING)).toBe(0);
    // A firmware that is awake is not woken at all.
    for (let i = 0; i < 10; i++) ctrl.tx(Uint8Array.of(i, 1, 0, i));
    await Promise.resolve();
    expect(mb.stat(MBOX.STAT_FW_WAKEUPS)).toBe(1);
    const buf = new Uint8Array(64);
    const seen: number[] = [];
    while (mb.fwRecvInto(buf) >= 0) seen.push(buf[3]!);
    expect(seen).toEqual([...Array.from({ length: 10 }, (_, i) => i), ...Array.from({ length: 10 }, (_, i) => i)]);
  });

  it(`a wake-up with many replies waiting hands the app at most ${NFP_CTRL_RX_BUDGET} per turn of the event loop, all in order`, async () => {
    const n = 3 * NFP_CTRL_RX_BUDGET + 5;
    const mb = CtrlMailbox.create({ maxMessageBytes: 64, nslots: 256 });
    const got: number[] = [];
    const ctrl = new NfpCtrlVnic({
      mailbox: mb, doorbell: () => {}, onDead: () => {},
      // Each message is a view of exactly its bytes.
      rx: (skb) => { expect(skb.length).toBe(4); got.push((skb[2]! << 8) | skb[3]!); },
    });
    for (let i = 0; i < n; i++) expect(mb.fwPost(Uint8Array.of(0x83, 1, i >> 8, i & 0xff), 4)).toBe(true);
    ctrl.start();
    expect(got.length).toBe(NFP_CTRL_RX_BUDGET);
    // Other work queued now runs between two turns, before the rest is handed over.
    let between = -1;
    setImmediate(() => { between = got.length; });
    expect(await until(() => got.length === n, 2000)).toBe(true);
    expect(between).toBe(2 * NFP_CTRL_RX_BUDGET);
    expect(got).toEqual(Array.from({ length: n }, (_, i) => i));
    ctrl.stop();
  });

  it('while the budget is spent the kick waits: the firmware is woken once, after the last turn, for every request sent meanwhile', async () => {
    const n = 3 * NFP_CTRL_RX_BUDGET + 5;
    const mb = CtrlMailbox.create({ maxMessageBytes: 64, nslots: 256 });
    // Each reply's caller sends its next request at once.
    const ctrl: NfpCtrlVnic = new NfpCtrlVnic({ mailbox: mb, doorbell: () => {}, onDead: () => {}, rx: (skb) => ctrl.tx(Uint8Array.of(3, 1, skb[2]!, skb[3]!)) });
    for (let i = 0; i < n; i++) expect(mb.fwPost(Uint8Array.of(0x83, 1, i >> 8, i & 0xff), 4)).toBe(true);
    Atomics.store(mb.hdr, MBOX.FW_SLEEPING, 1);
    ctrl.start();
    await Promise.resolve();
    // One turn's requests are in the ring; more turns follow, so nobody woke the firmware yet.
    expect(mb.requestProd).toBe(NFP_CTRL_RX_BUDGET);
    expect(mb.stat(MBOX.STAT_FW_WAKEUPS)).toBe(0);
    expect(await until(() => mb.requestProd === n, 2000)).toBe(true);
    await new Promise((r) => setImmediate(r));
    expect(mb.stat(MBOX.STAT_FW_WAKEUPS)).toBe(1);
    expect(Atomics.load(mb.hdr, MBOX.FW_SLEEPING)).toBe(0);
    ctrl.stop();
  });
});
