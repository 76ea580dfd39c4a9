// RCU: nesting, grace periods that wait for a reader in another thread (a worker_thread running the
// real rcu.ts), call_rcu / rcu_barrier, the polled API, the blocking expedited wait, and the lockdep
// reports for sleeping inside a read-side section.

import { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import { Rcu } from '../../src/kernel/rcu.js';
import type { LockdepReport } from '../../src/kernel/rcu.js';
import { WORKER_BODY, buildWorkerModules, cleanupWorkerModules } from './maps-worker-build.js';

const workers: Worker[] = [];
afterAll(async () => {
  await Promise.all(workers.map((w) => w.terminate()));
  cleanupWorkerModules();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A worker that enters a read-side section and holds it until ctl[2] is set (or holdMs). */
async function holdingReader(rcu: Rcu, holdMs?: number): Promise<{ ctl: Int32Array; done: Promise<unknown> }> {
  const ctl = new Int32Array(new SharedArrayBuffer(16));
  const w = new Worker(WORKER_BODY, { workerData: { root: buildWorkerModules(), mode: 'rcu-hold', rcuSab: rcu.sab, ctlSab: ctl.buffer, holdMs } });
  workers.push(w);
  const done = new Promise((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
  });
  for (let i = 0; i < 2000 && Atomics.load(ctl, 1) === 0; i++) await sleep(5);
  expect(Atomics.load(ctl, 1)).toBe(1);
  return { ctl, done };
}

function quietRcu(): { rcu: Rcu; reports: LockdepReport[] } {
  const rcu = Rcu.create(8);
  const reports: LockdepReport[] = [];
  rcu.setLockdepReporter((r) => reports.push(r));
  return { rcu, reports };
}

describe('read side', () => {
  it('nests; an unbalanced unlock is an invariant failure', () => {
    const { rcu } = quietRcu();
    rcu.rcu_read_lock();
    rcu.rcu_read_lock();
    rcu.rcu_read_unlock();
    expect(rcu.rcu_read_lock_held()).toBe(true);
    rcu.rcu_read_unlock();
    expect(rcu.rcu_read_lock_held()).toBe(false);
    expect(() => rcu.rcu_read_unlock()).toThrow(/without rcu_read_lock/);
  });

  it('reader slots are finite and come back on release', () => {
    const rcu = Rcu.create(2);
    const b = Rcu.attach(rcu.sab);
    expect(b.slot).not.toBe(rcu.slot);
    expect(() => Rcu.attach(rcu.sab)).toThrow(/reader slots/);
    b.release();
    expect(Rcu.attach(rcu.sab).slot).toBe(b.slot);
  });
});

describe('grace periods', () => {
  it('synchronize_rcu() with no reader resolves at once', async () => {
    const { rcu } = quietRcu();
    const t0 = performance.now();
    await rcu.synchronize_rcu();
    expect(performance.now() - t0).toBeLessThan(50);
  });

  it('synchronize_rcu() waits for a reader in a worker thread that holds rcu_read_lock', async () => {
    const { rcu } = quietRcu();
    const { ctl, done } = await holdingReader(rcu);
    let resolved = false;
    const gp = rcu.synchronize_rcu().then(() => {
      resolved = true;
      return Atomics.load(ctl, 3);
    });
    await sleep(150);
    expect(resolved).toBe(false);
    Atomics.store(ctl, 2, 1);
    Atomics.notify(ctl, 2);
    // The worker marked ctl[3] before leaving its section: the grace period ended after that.
    expect(await gp).toBe(1);
    await done;
  }, 20_000);

  it('a reader that enters after the grace period started does not hold it up (polled API)', async () => {
    const { rcu } = quietRcu();
    const cookie = rcu.start_poll_synchronize_rcu();
    const { ctl, done } = await holdingReader(rcu);
    expect(rcu.poll_state_synchronize_rcu(cookie)).toBe(true);
    const cookie2 = rcu.get_state_synchronize_rcu();
    expect(rcu.poll_state_synchronize_rcu(cookie2)).toBe(false);
    Atomics.store(ctl, 2, 1);
    await done;
    expect(rcu.poll_state_synchronize_rcu(cookie2)).toBe(true);
  }, 20_000);

  it('call_rcu() runs the callback only after the reader leaves; rcu_barrier() waits for it', async () => {
    const { rcu } = quietRcu();
    const { ctl, done } = await holdingReader(rcu);
    let ran = 0;
    rcu.call_rcu(() => ran++);
    await sleep(100);
    expect(ran).toBe(0);
    expect(rcu.pendingCallbacks).toBe(1);
    Atomics.store(ctl, 2, 1);
    await rcu.rcu_barrier();
    expect(ran).toBe(1);
    await done;
  }, 20_000);

  it('synchronize_rcu_expedited() blocks until the reader leaves, or times out', async () => {
    const { rcu } = quietRcu();
    const held = await holdingReader(rcu);
    expect(rcu.synchronize_rcu_expedited(30)).toBe(false);
    Atomics.store(held.ctl, 2, 1);
    await held.done;
    const { done } = await holdingReader(rcu, 80);
    const t0 = performance.now();
    expect(rcu.synchronize_rcu_expedited(5000)).toBe(true);
    expect(performance.now() - t0).toBeGreaterThan(20);
    await done;
  }, 20_000);
});

describe('dead readers', () => {
  it('a reader thread that ends inside its section stops holding grace periods once reaped', async () => {
    const { rcu } = quietRcu();
    const other = Rcu.attach(rcu.sab);
    other.setLockdepReporter(() => {});
    other.rcu_read_lock(); // as if its thread died here
    expect(rcu.synchronize_rcu_expedited(20)).toBe(false);
    rcu.rcutree_dead_reader(other.slot);
    await rcu.synchronize_rcu();
    expect(() => rcu.rcutree_dead_reader(rcu.slot)).toThrow(/own slot/);
    expect(() => rcu.rcutree_dead_reader(99)).toThrow(RangeError);
  });
});

describe('lockdep', () => {
  it('might_sleep() inside rcu_read_lock() reports a sleeping-in-atomic BUG; outside it does not', () => {
    const { rcu, reports } = quietRcu();
    rcu.might_sleep('offload map update');
    expect(rcu.lockdepCount).toBe(0);
    rcu.rcu_read_lock();
    rcu.rcu_read_lock();
    rcu.might_sleep('offload map update');
    rcu.rcu_read_unlock();
    rcu.rcu_read_unlock();
    expect(rcu.lockdepCount).toBe(1);
    expect(reports[0]!.kind).toBe('sleep');
    expect(reports[0]!.title).toBe('BUG: sleeping function called from invalid context at offload map update');
    expect(reports[0]!.text).toMatch(/RCU nest depth: 2, expected: 0/);
  });

  it('without a location, might_sleep() names its caller', () => {
    const { rcu, reports } = quietRcu();
    rcu.rcu_read_lock();
    rcu.might_sleep();
    rcu.rcu_read_unlock();
    expect(reports[0]!.title).toMatch(/rcu\.test\.ts/);
  });

  it('an await inside a read-side section is reported; a section closed before the await is not', async () => {
    const { rcu, reports } = quietRcu();
    rcu.rcu_read_lock();
    rcu.rcu_read_unlock();
    await Promise.resolve();
    expect(rcu.lockdepCount).toBe(0);
    rcu.rcu_read_lock();
    await Promise.resolve();
    rcu.rcu_read_unlock();
    expect(rcu.lockdepCount).toBe(1);
    expect(reports[0]!.text).toMatch(/Voluntary context switch within RCU read-side critical section/);
  });

  it('synchronize_rcu() inside a read-side section is refused loudly instead of hanging', async () => {
    const { rcu, reports } = quietRcu();
    rcu.rcu_read_lock();
    const p = rcu.synchronize_rcu();
    rcu.rcu_read_unlock();
    await expect(p).rejects.toThrow(/inside an RCU read-side critical section/);
    expect(reports.map((r) => r.kind)).toEqual(['sleep', 'rcu']);
  });
});
