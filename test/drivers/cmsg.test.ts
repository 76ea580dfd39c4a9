// The control channel under stress and faults: requests in flight and the tag cap, replies that are
// dropped, late, duplicated or corrupted, a firmware reset and the device vanishing mid-operation.
// Every case ends without a hang, with a clear errno (and the driver's log line), and with every update
// the host saw acknowledged still in the NIC's table. Most run with the firmware in-process (timing is
// deterministic); the last ones with the firmware in its worker thread.

import { afterEach, describe, expect, it } from 'vitest';
import type { ErrnoName } from '../../src/bpf/errno.js';
import { NFP_CCM_TAG_ALLOC_SPAN } from '../../src/drivers/nfp/cmsg.js';
import { MBOX, MBOX_FAULT, type MboxFaultPlan } from '../../src/nic/mailbox.js';
import { bootHost, expectErrno, offloadMap, sleep, u32, until, type TestHost } from './helpers.js';

const hosts: TestHost[] = [];
async function boot(opts: Parameters<typeof bootHost>[0] = {}): Promise<TestHost> {
  const h = await bootHost({ cmsgTimeoutMs: 150, ...opts });
  hosts.push(h);
  return h;
}
afterEach(async () => {
  await Promise.all(hosts.splice(0).map((h) => h.shutdown()));
});

const val = (n: number) => Uint8Array.of(n & 0xff, (n >> 8) & 0xff, 0, 0, 0, 0, 0, 0x5a);

/** Updates the host saw acknowledged, to check afterwards. */
class Acked {
  readonly map = new Map<number, number>();

  async update(h: TestHost, fd: number, key: number, n: number): Promise<ErrnoName | 'ok'> {
    try {
      await h.sys.mapUpdateAsync({ map_fd: fd, key: u32(key), value: val(n) });
      this.map.set(key, n);
      return 'ok';
    } catch (e) {
      return (e as { errno: ErrnoName }).errno;
    }
  }

  /** Every acknowledged update is in the table (the last acknowledged value of each key). */
  async check(h: TestHost, fd: number): Promise<void> {
    for (const [k, n] of this.map) expect([...await h.sys.mapLookupAsync({ map_fd: fd, key: u32(k) })], `key ${k}`).toEqual([...val(n)]);
  }
}

function fault(h: TestHost, plan: MboxFaultPlan): void {
  h.device!.mailbox.injectFault(plan);
}

describe('requests in flight', () => {
  it('many at once are matched to their replies by tag', async () => {
    const h = await boot();
    const fd = await offloadMap(h, { max_entries: 1024 });
    const acked = new Acked();
    const r = await Promise.all(Array.from({ length: 1000 }, (_, i) => acked.update(h, fd, i, i * 3)));
    expect(r.every((x) => x === 'ok')).toBe(true);
    await acked.check(h, fd);
  });

  it(`at most U16_MAX/4 (${NFP_CCM_TAG_ALLOC_SPAN}) in flight: the next is EAGAIN, and the rest time out`, async () => {
    // A timeout long enough that all of them are in flight before the first one expires.
    const h = await boot({ cmsgTimeoutMs: 2000 });
    const fd = await offloadMap(h);
    await h.device!.unloadFirmware();
    const ps = Array.from({ length: NFP_CCM_TAG_ALLOC_SPAN + 2 }, () => h.sys.mapLookupAsync({ map_fd: fd, key: u32(1) }).then(() => 'ok', (e: { errno: string }) => e.errno));
    await sleep(20);
    expect(h.nfp!.bpf!.ccm.inFlight).toBe(NFP_CCM_TAG_ALLOC_SPAN + 1);
    expect(h.dmesg.has('all FW request contexts busy!')).toBe(true);
    const r = await Promise.all(ps);
    const counts = new Map<string, number>();
    for (const x of r) counts.set(x, (counts.get(x) ?? 0) + 1);
    expect(Object.fromEntries(counts)).toEqual({ ETIMEDOUT: NFP_CCM_TAG_ALLOC_SPAN + 1, EAGAIN: 1 });
    expect(r[NFP_CCM_TAG_ALLOC_SPAN + 1]).toBe('EAGAIN');
    expect(h.nfp!.bpf!.ccm.inFlight).toBe(0);
  });
});

describe('faults on the replies', () => {
  it('a dropped reply: ETIMEDOUT, logged; the update itself did happen', async () => {
    const h = await boot();
    const fd = await offloadMap(h);
    fault(h, { kind: MBOX_FAULT.DROP });
    const t0 = performance.now();
    await expectErrno(h.sys.mapUpdateAsync({ map_fd: fd, key: u32(1), value: val(1) }), 'ETIMEDOUT', 'timeout waiting for response to 0x04');
    expect(performance.now() - t0).toBeGreaterThanOrEqual(140);
    expect(h.dmesg.has('timeout waiting for response to 0x04')).toBe(true);
    expect([...await h.sys.mapLookupAsync({ map_fd: fd, key: u32(1) })]).toEqual([...val(1)]);
  });

  it('a late reply: in time it is fine; too late it is ETIMEDOUT and then dropped as nobody\'s', async () => {
    const h = await boot();
    const fd = await offloadMap(h);
    fault(h, { kind: MBOX_FAULT.DELAY, arg: 40 });
    await h.sys.mapUpdateAsync({ map_fd: fd, key: u32(1), value: val(1) });
    fault(h, { kind: MBOX_FAULT.DELAY, arg: 300 });
    await expectErrno(h.sys.mapLookupAsync({ map_fd: fd, key: u32(1) }), 'ETIMEDOUT');
    expect(await until(() => h.dmesg.lines.some((l) => l.level === 'warn' && /cmsg drop - no one is waiting for tag \d+!/.test(l.msg)))).toBe(true);
    expect([...await h.sys.mapLookupAsync({ map_fd: fd, key: u32(1) })]).toEqual([...val(1)]);
  });

  it('a duplicated reply answers once; the copy is dropped', async () => {
    const h = await boot();
    const fd = await offloadMap(h);
    const acked = new Acked();
    fault(h, { kind: MBOX_FAULT.DUPLICATE, count: 3 });
    for (let i = 0; i < 3; i++) expect(await acked.update(h, fd, i, 100 + i)).toBe('ok');
    expect(await until(() => h.dmesg.lines.filter((l) => l.msg.includes('no one is waiting for tag')).length >= 3)).toBe(true);
    await sleep(5);
    expect(h.dmesg.lines.filter((l) => l.msg.includes('no one is waiting for tag')).length).toBe(3);
    await acked.check(h, fd);
  });

  it('a reply of the wrong type or size is EIO', async () => {
    const h = await boot();
    const fd = await offloadMap(h);
    await h.sys.mapUpdateAsync({ map_fd: fd, key: u32(1), value: val(1) });
    fault(h, { kind: MBOX_FAULT.CORRUPT_TYPE });
    await expectErrno(h.sys.mapLookupAsync({ map_fd: fd, key: u32(1) }), 'EIO', 'cmsg drop - wrong type 0x03 != 0x83!');
    fault(h, { kind: MBOX_FAULT.TRUNCATE });
    await expectErrno(h.sys.mapLookupAsync({ map_fd: fd, key: u32(1) }), 'EIO', 'cmsg drop - type 0x03 too short 124 for 1 entries!');
    fault(h, { kind: MBOX_FAULT.TRUNCATE, arg: 4 });
    await expectErrno(offloadMap(h), 'EIO', 'cmsg drop - type 0x01 wrong size 8 != 12!');
    fault(h, { kind: MBOX_FAULT.TRUNCATE, arg: 120 });
    await expectErrno(h.sys.mapLookupAsync({ map_fd: fd, key: u32(1) }), 'EIO', 'cmsg drop - type 0x03 too short 8!');
    // Too short to carry even a status: dropped on receipt, so the caller times out.
    fault(h, { kind: MBOX_FAULT.TRUNCATE, arg: 125 });
    await expectErrno(h.sys.mapLookupAsync({ map_fd: fd, key: u32(1) }), 'ETIMEDOUT');
    expect(h.dmesg.has('cmsg drop - too short 3!')).toBe(true);
    for (const line of ['wrong type', 'too short 124 for 1 entries', 'wrong size 8 != 12']) expect(h.dmesg.has(line)).toBe(true);
    expect([...await h.sys.mapLookupAsync({ map_fd: fd, key: u32(1) })]).toEqual([...val(1)]);
  });

  it('a corrupted tag matches nobody: dropped, and the request times out', async () => {
    const h = await boot();
    const fd = await offloadMap(h);
    fault(h, { kind: MBOX_FAULT.CORRUPT_TAG });
    await expectErrno(h.sys.mapLookupAsync({ map_fd: fd, key: u32(1) }), 'ETIMEDOUT');
    expect(h.dmesg.has('no one is waiting for tag')).toBe(true);
  });

  it('the one status table: each firmware status becomes its errno; an unknown one is EIO', async () => {
    const h = await boot();
    const fd = await offloadMap(h);
    await h.sys.mapUpdateAsync({ map_fd: fd, key: u32(1), value: val(1) });
    const expected: ErrnoName[] = ['EBADFD', 'ENOENT', 'EINVAL', 'EIO', 'EEXIST', 'ENOMEM', 'E2BIG', 'EIO'];
    for (let rc = 1; rc <= 8; rc++) {
      fault(h, { kind: MBOX_FAULT.CORRUPT_RC, arg: rc });
      await expectErrno(h.sys.mapDeleteAsync({ map_fd: fd, key: u32(2) }), expected[rc - 1]!);
    }
    expect(h.dmesg.has('FW responded with invalid status: 8')).toBe(true);
  });

  it('a MAP_FREE the firmware refuses only leaks the table, with a warning', async () => {
    const h = await boot();
    const fd = await offloadMap(h);
    fault(h, { kind: MBOX_FAULT.CORRUPT_RC, arg: 1 });
    h.sys.close(fd);
    await h.kernel.offload.settle();
    expect(h.dmesg.has('leaking map - FW responded with: -77')).toBe(true);
    expect(h.nfp!.bpf!.maps_in_use).toBe(0);
  });
});

describe('the firmware resets, the device goes away', () => {
  it('a reset loses what was in flight (ETIMEDOUT); the tables and every acknowledged update survive', async () => {
    const h = await boot();
    const fd = await offloadMap(h, { max_entries: 256 });
    const acked = new Acked();
    for (let i = 0; i < 50; i++) await acked.update(h, fd, i, i);
    fault(h, { kind: MBOX_FAULT.DELAY, arg: 60, count: 1000 });
    const inflight = Array.from({ length: 20 }, (_, i) => acked.update(h, fd, 100 + i, 1000 + i));
    await sleep(10);
    await h.device!.resetFirmware();
    h.device!.mailbox.clearFault();
    const r = await Promise.all(inflight);
    expect(r.every((x) => x === 'ETIMEDOUT')).toBe(true);
    for (let i = 0; i < 50; i += 7) await acked.update(h, fd, i, 7000 + i);
    await acked.check(h, fd);
  });

  it('the device vanishing mid-operation: ENODEV at once for the waiters, ENODEV after, no hang', async () => {
    const h = await boot({ cmsgTimeoutMs: 5000 });
    const fd = await offloadMap(h);
    const acked = new Acked();
    await acked.update(h, fd, 1, 1);
    fault(h, { kind: MBOX_FAULT.DELAY, arg: 10000, count: 100 });
    const inflight = Array.from({ length: 5 }, (_, i) => acked.update(h, fd, 10 + i, i));
    await sleep(5);
    const t0 = performance.now();
    await h.device!.surpriseRemove();
    expect(await Promise.all(inflight)).toEqual(['ENODEV', 'ENODEV', 'ENODEV', 'ENODEV', 'ENODEV']);
    expect(performance.now() - t0).toBeLessThan(1000);
    await h.nfp!.remove();
    expect(h.kernel.netdevs.dev_get_by_name('nfp0')).toBeUndefined();
    await expectErrno(h.sys.mapLookupAsync({ map_fd: fd, key: u32(1) }), 'ENODEV');
    expect(h.dmesg.has('leaking map - I/O error')).toBe(true);
  });

  it('unbinding the driver with operations in flight lets them finish, then orphans the map', async () => {
    const h = await boot();
    const fd = await offloadMap(h);
    const acked = new Acked();
    fault(h, { kind: MBOX_FAULT.DELAY, arg: 20, count: 10 });
    const inflight = Array.from({ length: 5 }, (_, i) => acked.update(h, fd, i, i + 1));
    await sleep(1);
    const removal = h.nfp!.remove();
    expect(await Promise.all(inflight)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok']);
    await removal;
    // The port is unregistered (its XDP programs first) before it leaves the offload device, so an op
    // issued while the removal runs may still be served; once it is done, the map is an orphan.
    await expectErrno(h.sys.mapLookupAsync({ map_fd: fd, key: u32(0) }), 'ENODEV');
    // MAP_FREE reached the firmware before it was unloaded.
    expect(h.dmesg.has('leaking map')).toBe(false);
  });
});

describe('busy-wait mode', () => {
  it('works, and times out, but blocks the event loop for the whole round trip', async () => {
    const h = await boot({ waitMode: 'busy' });
    const fd = await offloadMap(h);
    await h.sys.mapUpdateAsync({ map_fd: fd, key: u32(1), value: val(1) });
    expect([...await h.sys.mapLookupAsync({ map_fd: fd, key: u32(1) })]).toEqual([...val(1)]);
    fault(h, { kind: MBOX_FAULT.DROP });
    let ticks = 0;
    const timer = setInterval(() => { ticks++; }, 5);
    const p = h.sys.mapLookupAsync({ map_fd: fd, key: u32(1) });
    // The spin ran before the call even returned its promise: no timer could fire meanwhile.
    expect(ticks).toBe(0);
    await expectErrno(p, 'ETIMEDOUT');
    clearInterval(timer);
  });
});

describe('the firmware in its worker thread', () => {
  it('answers, survives a dropped reply and a reset, keeping acknowledged updates', async () => {
    const h = await boot({ firmwareMode: 'worker', cmsgTimeoutMs: 2000 });
    expect(h.device!.firmware!.kind).toBe('worker');
    const fd = await offloadMap(h, { max_entries: 512 });
    const acked = new Acked();
    const r = await Promise.all(Array.from({ length: 300 }, (_, i) => acked.update(h, fd, i, i)));
    expect(r.every((x) => x === 'ok')).toBe(true);
    fault(h, { kind: MBOX_FAULT.DROP });
    await expectErrno(h.sys.mapLookupAsync({ map_fd: fd, key: u32(3) }), 'ETIMEDOUT');
    await h.device!.resetFirmware();
    await acked.update(h, fd, 400, 4);
    await acked.check(h, fd);
  });

  it('thousands of round trips one after another all complete (a lost wake-up would stall one until the timeout)', async () => {
    // A timeout longer than vitest's: a lost wake-up fails this test by hanging it, not by a time.
    const h = await boot({ firmwareMode: 'worker', cmsgTimeoutMs: 600_000 });
    const fd = await offloadMap(h, { max_entries: 64 });
    const value = new Uint8Array(8);
    for (let i = 0; i < 3000; i++) {
      value[0] = i & 0xff;
      await h.sys.mapUpdateAsync({ map_fd: fd, key: u32(i & 63), value });
      expect((await h.sys.mapLookupAsync({ map_fd: fd, key: u32(i & 63) }))[0]).toBe(i & 0xff);
    }
    // Nor did the firmware find a request only when its idle wait ran out (a wake-up the host owed).
    expect(h.device!.mailbox.stat(MBOX.STAT_FW_LATE)).toBe(0);
  });

  it('a burst of requests in flight costs the firmware one wake-up, not one each', async () => {
    const h = await boot({ firmwareMode: 'worker', cmsgTimeoutMs: 5000 });
    const fd = await offloadMap(h, { max_entries: 256 });
    const mb = h.device!.mailbox;
    // Let the firmware go to sleep on the empty ring.
    expect(await until(() => Atomics.load(mb.hdr, MBOX.FW_SLEEPING) === 1, 2000)).toBe(true);
    const woken = mb.stat(MBOX.STAT_FW_WAKEUPS);
    const r = await Promise.all(Array.from({ length: 200 }, (_, i) => h.sys.mapUpdateAsync({ map_fd: fd, key: u32(i), value: val(i) }).then(() => 'ok', (e: { errno: string }) => e.errno)));
    expect(r.every((x) => x === 'ok')).toBe(true);
    // All 200 were queued before the one wake-up (none, if the firmware's idle timer woke it first).
    expect(mb.stat(MBOX.STAT_FW_WAKEUPS) - woken).toBeLessThanOrEqual(1);
    expect(mb.stat(MBOX.STAT_REQUESTS)).toBeGreaterThanOrEqual(200);
    expect((await h.sys.mapLookupAsync({ map_fd: fd, key: u32(199) }))[0]).toBe(199);
  });

  it('a surprise removal wakes the host and fails what was waiting', async () => {
    const h = await boot({ firmwareMode: 'worker', cmsgTimeoutMs: 5000 });
    const fd = await offloadMap(h);
    fault(h, { kind: MBOX_FAULT.DELAY, arg: 20000, count: 10 });
    const p = h.sys.mapLookupAsync({ map_fd: fd, key: u32(1) });
    await sleep(20);
    const t0 = performance.now();
    const failed = expectErrno(p, 'ENODEV', 'device removed while waiting for response to 0x03');
    await h.device!.surpriseRemove();
    await failed;
    expect(performance.now() - t0).toBeLessThan(2500);
  });
});
