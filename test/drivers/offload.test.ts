// Map offload end to end: bpf(BPF_MAP_CREATE) with map_ifindex through the kernel's offload layer and
// the nfp driver to the firmware's tables, and the map commands on the result. Errors are checked by
// errno and message (and the driver's kernel log line); the atomic-counter byte swap, the op cache,
// might_sleep(), device removal (orphans) and the BPF_EVENT path are each shown working.

import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { NFP_CCM_TYPE_BPF_BPF_EVENT } from '../../src/nic/ccm.js';
import { MBOX } from '../../src/nic/mailbox.js';
import { nfp_atomic_add_be32, nfp_atomic_read_be32 } from '../../src/nic/atomic.js';
import { MapTable, map_dir_read } from '../../firmware/maptable.js';
import { bpf_map_is_offloaded, type BpfOffloadedMap } from '../../src/kernel/offload.js';
import {
  NFP_MAP_USE_ATOMIC_CNT, NFP_MAP_USE_READ, nfp_bpf_map_mark_used_one, nfp_bpf_map_of, nfp_bpf_map_ops,
} from '../../src/drivers/nfp/offload.js';
import {
  BPF_MAP_TYPE_ARRAY, BPF_MAP_TYPE_HASH, bootHost, expectErrno, imageVariant, offloadMap, removeImageVariants, tlv, u32, until,
  type TestHost,
} from './helpers.js';

const hosts: TestHost[] = [];
async function boot(opts: Parameters<typeof bootHost>[0] = {}): Promise<TestHost> {
  const h = await bootHost(opts);
  hosts.push(h);
  return h;
}
afterEach(async () => {
  await Promise.all(hosts.splice(0).map((h) => h.shutdown()));
});
afterAll(removeImageVariants);

function offmapOf(h: TestHost, fd: number): BpfOffloadedMap {
  const m = h.kernel.mapOf(fd, 'test');
  if (!bpf_map_is_offloaded(m)) throw new Error('not offloaded');
  return m;
}

/** The firmware's table behind an offloaded map, read from NIC memory. */
function tableOf(h: TestHost, fd: number): MapTable {
  const tid = nfp_bpf_map_of(offmapOf(h, fd)).tid;
  return new MapTable(h.device!.memory, map_dir_read(h.device!.memory, tid)!);
}

function requests(h: TestHost): number {
  return h.device!.mailbox.stat(MBOX.STAT_REQUESTS);
}

describe('BPF_MAP_CREATE with map_ifindex', () => {
  it('allocates the map on the NIC: the firmware has the table, bpftool sees the device', async () => {
    const h = await boot();
    const fd = await offloadMap(h, { max_entries: 100, map_name: 'flows' });
    const info = h.sys.mapInfo(fd);
    expect(info).toMatchObject({ type: BPF_MAP_TYPE_HASH, key_size: 4, value_size: 8, max_entries: 100, name: 'flows', ifindex: h.ifindex });
    expect(tableOf(h, fd).maxEntries).toBe(100);
    expect(h.nfp!.bpf!.maps_in_use).toBe(1);
    expect(h.nfp!.bpf!.map_elems_in_use).toBe(100);
  });

  it('the driver\'s checks, with its messages in the kernel log', async () => {
    const h = await boot();
    const cases: [Parameters<typeof offloadMap>[1], 'EINVAL' | 'ENOMEM', string][] = [
      [{ map_flags: 1 /* BPF_F_NO_PREALLOC */ }, 'EINVAL', 'map flags are not supported'],
      [{ map_flags: 4 /* BPF_F_NUMA_NODE */, numa_node: 0 }, 'EINVAL', 'map flags are not supported'],
      [{ max_entries: 4194305 }, 'ENOMEM', 'map with too many elements: 4194305, left: 4194304'],
      [{ key_size: 40, value_size: 32 }, 'ENOMEM', 'map elements too large: 72, FW max element size (key+value): 64'],
      [{ key_size: 57, value_size: 1 }, 'ENOMEM', 'map elements too large'],
    ];
    for (const [attr, errno, msg] of cases) {
      await expectErrno(offloadMap(h, attr), errno, msg);
      expect(h.dmesg.has(`NFP net bpf: ${msg}`)).toBe(true);
    }
    expect(h.nfp!.bpf!.maps_in_use).toBe(0);
  });

  it('key and value size limits, and a type the firmware does not offer', async () => {
    const file = imageVariant('nfp-bpf-60c', (doc) => {
      doc['name'] = 'test-limits';
      (doc['rtsym'] as Record<string, unknown>)['_abi_bpf_capabilities'] = [tlv(7, 3), tlv(3, 1 << BPF_MAP_TYPE_HASH, 2, 100, 8, 16, 64), tlv(8)];
    });
    const h = await boot({ firmware: file });
    await expectErrno(offloadMap(h, { map_type: BPF_MAP_TYPE_ARRAY }), 'EOPNOTSUPP', 'map type not supported');
    expect(h.dmesg.has('NFP net bpf: map type not supported')).toBe(true);
    await expectErrno(offloadMap(h, { key_size: 12 }), 'ENOMEM', 'map key size 12, FW max is 8');
    await expectErrno(offloadMap(h, { value_size: 24 }), 'ENOMEM', 'map value size 24, FW max is 16');
    await expectErrno(offloadMap(h, { max_entries: 101 }), 'ENOMEM', 'map with too many elements: 101, left: 100');
    await offloadMap(h, { max_entries: 60 });
    await expectErrno(offloadMap(h, { max_entries: 41 }), 'ENOMEM', 'map with too many elements: 41, left: 40');
    await offloadMap(h, { max_entries: 40 });
    await expectErrno(offloadMap(h, { max_entries: 1 }), 'ENOMEM', 'too many maps for a device');
    expect(h.dmesg.has('NFP net bpf: too many maps for a device')).toBe(true);
  });

  it('the kernel\'s checks before the driver: type, device, BTF', async () => {
    const h = await boot();
    await expectErrno(offloadMap(h, { map_type: 5 /* percpu_hash */ }), 'EINVAL', 'only array and hash maps can be offloaded, not percpu_hash');
    await expectErrno(offloadMap(h, { map_ifindex: 1 }), 'EOPNOTSUPP', 'lo cannot offload');
    await expectErrno(offloadMap(h, { map_ifindex: 77 }), 'EINVAL', 'no net device with ifindex 77');
    await expectErrno(offloadMap(h, { btf_key_type_id: 1, btf_value_type_id: 2 }), 'ENOTSUPP', 'do not take BTF');
    await expectErrno(offloadMap(h, { map_type: BPF_MAP_TYPE_ARRAY, key_size: 8 }), 'EINVAL');
    await expectErrno(offloadMap(h, { map_name: 'a-b' }), 'EINVAL', "name 'a-b'");
    const nic = await boot({ firmware: 'nfp-nic' });
    await expectErrno(offloadMap(nic), 'EINVAL', 'nfp0 is not registered for BPF offload');
  });

  it('the NIC running out of memory for the table is ENOMEM', async () => {
    const h = await boot({ ememBackingCap: 1 << 20 });
    await expectErrno(offloadMap(h, { max_entries: 100000 }), 'ENOMEM', 'Cannot allocate memory');
    expect(h.nfp!.bpf!.maps_in_use).toBe(0);
    await offloadMap(h, { max_entries: 1000 });
  });

  it('a frozen offloaded map refuses writes', async () => {
    const h = await boot();
    const fd = await offloadMap(h);
    h.sys.mapFreeze(fd);
    await expectErrno(h.sys.mapUpdateAsync({ map_fd: fd, key: u32(1), value: new Uint8Array(8) }), 'EPERM', 'frozen');
    await expectErrno(h.sys.mapDeleteAsync({ map_fd: fd, key: u32(1) }), 'EPERM', 'frozen');
    await expectErrno(h.sys.mapLookupAsync({ map_fd: fd, key: u32(1) }), 'ENOENT');
  });

  it('the synchronous map commands refuse an offloaded map loudly', async () => {
    const h = await boot();
    const fd = await offloadMap(h);
    expect(() => h.sys.mapLookup({ map_fd: fd, key: u32(0) })).toThrow(/BUG: BPF_MAP_LOOKUP_ELEM on offloaded map .*Async/);
    expect(() => h.sys.mapCreate({ map_type: 1, key_size: 4, value_size: 4, max_entries: 1, map_ifindex: h.ifindex })).toThrow(/mapCreateAsync/);
    await expectErrno(h.sys.mapLookupAndDeleteAsync({ map_fd: fd, key: u32(0) }), 'ENOTSUPP');
  });
});

describe('map commands on an offloaded map', () => {
  it('hash: update flags, lookup, get_next_key walk, delete', async () => {
    const h = await boot();
    const fd = await offloadMap(h, { max_entries: 3 });
    const v = (n: number) => Uint8Array.of(n, 1, 2, 3, 4, 5, 6, 7);
    await expectErrno(h.sys.mapUpdateAsync({ map_fd: fd, key: u32(1), value: v(1), flags: 2 }), 'ENOENT', "BPF_MAP_UPDATE_ELEM on map 'm': No such file or directory");
    await h.sys.mapUpdateAsync({ map_fd: fd, key: u32(1), value: v(1), flags: 1 });
    await expectErrno(h.sys.mapUpdateAsync({ map_fd: fd, key: u32(1), value: v(2), flags: 1 }), 'EEXIST', 'File exists');
    await h.sys.mapUpdateAsync({ map_fd: fd, key: u32(2), value: v(2) });
    await h.sys.mapUpdateAsync({ map_fd: fd, key: u32(3), value: v(3) });
    await expectErrno(h.sys.mapUpdateAsync({ map_fd: fd, key: u32(4), value: v(4) }), 'E2BIG');
    expect([...await h.sys.mapLookupAsync({ map_fd: fd, key: u32(2) })]).toEqual([...v(2)]);
    await expectErrno(h.sys.mapLookupAsync({ map_fd: fd, key: u32(9) }), 'ENOENT');
    const keys: number[] = [];
    let k: Uint8Array | null = null;
    for (;;) {
      try {
        k = await h.sys.mapGetNextKeyAsync({ map_fd: fd, key: k });
      } catch (e) {
        expect((e as { errno: string }).errno).toBe('ENOENT');
        break;
      }
      keys.push(k[0]!);
    }
    expect(keys.sort()).toEqual([1, 2, 3]);
    await h.sys.mapDeleteAsync({ map_fd: fd, key: u32(2) });
    await expectErrno(h.sys.mapDeleteAsync({ map_fd: fd, key: u32(2) }), 'ENOENT');
    await expectErrno(h.sys.mapLookupAsync({ map_fd: fd, key: u32(1), flags: 4 }), 'EINVAL');
    await expectErrno(h.sys.mapLookupAsync({ map_fd: fd, key: new Uint8Array(3) }), 'EINVAL', 'key of 3 bytes');
    await expectErrno(h.sys.mapUpdateAsync({ map_fd: fd, key: u32(1), value: new Uint8Array(7) }), 'EINVAL', 'value of 7 bytes');
  });

  it('array: delete is EINVAL; every index exists, zeroed', async () => {
    const h = await boot();
    const fd = await offloadMap(h, { map_type: BPF_MAP_TYPE_ARRAY, max_entries: 4 });
    const sent = requests(h);
    await expectErrno(h.sys.mapDeleteAsync({ map_fd: fd, key: u32(1) }), 'EINVAL', 'cannot delete from an array map');
    expect(requests(h)).toBe(sent);
    expect([...await h.sys.mapLookupAsync({ map_fd: fd, key: u32(3) })]).toEqual(new Array(8).fill(0));
    await expectErrno(h.sys.mapUpdateAsync({ map_fd: fd, key: u32(4), value: new Uint8Array(8) }), 'E2BIG');
    await expectErrno(h.sys.mapUpdateAsync({ map_fd: fd, key: u32(0), value: new Uint8Array(8), flags: 1 }), 'EEXIST');
    expect([...await h.sys.mapGetNextKeyAsync({ map_fd: fd, key: u32(2) })]).toEqual([...u32(3)]);
  });

  it('update flags: above BPF_EXIST is EINVAL in the kernel; above 32 bits is EOPNOTSUPP in the driver', async () => {
    const h = await boot();
    const fd = await offloadMap(h);
    await expectErrno(h.sys.mapUpdateAsync({ map_fd: fd, key: u32(1), value: new Uint8Array(8), flags: 4 }), 'EINVAL', 'above BPF_EXIST');
    await expectErrno(h.sys.mapUpdateAsync({ map_fd: fd, key: u32(1), value: new Uint8Array(8), flags: 2 ** 32 }), 'EINVAL');
    const sent = requests(h);
    await expectErrno(nfp_bpf_map_ops.map_update_elem(offmapOf(h, fd), u32(1), new Uint8Array(8), 2 ** 32 + 1), 'EOPNOTSUPP', 'more than 32 bits of flags');
    const { nfp_bpf_ctrl_update_entry } = await import('../../src/drivers/nfp/cmsg.js');
    await expectErrno(nfp_bpf_ctrl_update_entry(offmapOf(h, fd), u32(1), new Uint8Array(8), 1n << 40n), 'EOPNOTSUPP');
    expect(requests(h)).toBe(sent);
  });

  it('atomic counters: the driver byte-swaps the words programs add to, as the NIC stores them big-endian', async () => {
    const h = await boot();
    const fd = await offloadMap(h, { value_size: 16 });
    const nm = nfp_bpf_map_of(offmapOf(h, fd));
    expect(nfp_bpf_map_mark_used_one(nm, 0, NFP_MAP_USE_ATOMIC_CNT)).toBeNull();
    expect(nfp_bpf_map_mark_used_one(nm, 4, NFP_MAP_USE_READ)).toBeNull();
    const value = new Uint8Array(16);
    const dv = new DataView(value.buffer);
    dv.setUint32(0, 0x01020304, true);
    dv.setUint32(4, 0x0a0b0c0d, true);
    await h.sys.mapUpdateAsync({ map_fd: fd, key: u32(5), value });
    expect([...value.subarray(0, 4)]).toEqual([4, 3, 2, 1]); // the caller's buffer is left alone
    const t = tableOf(h, fd);
    const e = t.lookup(u32(5), 0);
    const mem = h.device!.memory;
    // In NIC memory: the counter word big-endian, the read word as the host wrote it.
    expect([...mem.emem.subarray(t.valueOff(e), t.valueOff(e) + 8)]).toEqual([1, 2, 3, 4, 0x0d, 0x0c, 0x0b, 0x0a]);
    // The NIC's atomic engine adds to it; the host reads the sum in its own byte order.
    nfp_atomic_add_be32(mem.ememI32, t.valueOff(e) >> 2, 0x100);
    const got = new DataView((await h.sys.mapLookupAsync({ map_fd: fd, key: u32(5) })).buffer);
    expect(got.getUint32(0, true)).toBe(0x01020404);
    expect(got.getUint32(4, true)).toBe(0x0a0b0c0d);
    expect(nfp_atomic_read_be32(mem.ememI32, t.valueOff(e) >> 2)).toBe(0x01020404);
  });

  it('a word set to a non-palindromic value before any program counts on it cannot become a counter', async () => {
    const h = await boot();
    const fd = await offloadMap(h);
    await h.sys.mapUpdateAsync({ map_fd: fd, key: u32(1), value: Uint8Array.of(7, 7, 7, 7, 1, 0, 0, 0) });
    const nm = nfp_bpf_map_of(offmapOf(h, fd));
    expect(nfp_bpf_map_mark_used_one(nm, 0, NFP_MAP_USE_ATOMIC_CNT)).toBeNull();
    expect(nfp_bpf_map_mark_used_one(nm, 4, NFP_MAP_USE_ATOMIC_CNT)).toBe('atomic counter in map value may already be initialized to non-zero value off: 4');
    expect(nfp_bpf_map_mark_used_one(nm, 0, NFP_MAP_USE_READ)).toBe('map value use type conflict atomic vs read off: 0');
  });

  it('the lookup/getnext cache: filled by GETFIRST/GETNEXT (4 entries), served without a message, dropped by an update, expired after 250 us', async () => {
    const h = await boot();
    // The driver's clock stands still unless the test moves it, so nothing here depends on timing.
    let now = 1e9;
    h.nfp!.bpf!.ktime_get_ns = () => now;
    const fd = await offloadMap(h, { max_entries: 64 });
    for (let k = 0; k < 10; k++) await h.sys.mapUpdateAsync({ map_fd: fd, key: u32(k), value: Uint8Array.of(k, 0, 0, 0, 0, 0, 0, 0) });
    const first = await h.sys.mapGetNextKeyAsync({ map_fd: fd, key: null });
    const sent = requests(h);
    // The next three keys and all four values come from the cached reply.
    let k = first;
    for (let i = 0; i < 3; i++) {
      expect((await h.sys.mapLookupAsync({ map_fd: fd, key: k }))[0]).toBe(k[0]);
      k = await h.sys.mapGetNextKeyAsync({ map_fd: fd, key: k });
    }
    expect(requests(h)).toBe(sent);
    // The fourth key is the last cached: its successor needs the firmware.
    await h.sys.mapGetNextKeyAsync({ map_fd: fd, key: k });
    expect(requests(h)).toBe(sent + 1);
    // An update invalidates it: the same lookup goes to the firmware and sees the new value.
    await h.sys.mapUpdateAsync({ map_fd: fd, key: k, value: Uint8Array.of(99, 0, 0, 0, 0, 0, 0, 0) });
    const before = requests(h);
    expect((await h.sys.mapLookupAsync({ map_fd: fd, key: k }))[0]).toBe(99);
    expect(requests(h)).toBe(before + 1);
    // A fresh fill serves a lookup up to 250 us later, and not after.
    const f2 = await h.sys.mapGetNextKeyAsync({ map_fd: fd, key: null });
    now += 250_000;
    const at = requests(h);
    await h.sys.mapLookupAsync({ map_fd: fd, key: f2 });
    expect(requests(h)).toBe(at);
    now += 1;
    await h.sys.mapLookupAsync({ map_fd: fd, key: f2 });
    expect(requests(h)).toBe(at + 1);
  });

  it('a cached reply is the driver\'s own copy: replies that pass through the receive path later do not change what it serves', async () => {
    const h = await boot();
    h.nfp!.bpf!.ktime_get_ns = () => 1e9;
    const a = await offloadMap(h, { max_entries: 64 });
    const b = await offloadMap(h, { max_entries: 64 });
    for (let k = 0; k < 4; k++) {
      await h.sys.mapUpdateAsync({ map_fd: a, key: u32(k), value: Uint8Array.of(10 + k, 0, 0, 0, 0, 0, 0, 0) });
      await h.sys.mapUpdateAsync({ map_fd: b, key: u32(k), value: Uint8Array.of(200 + k, 0, 0, 0, 0, 0, 0, 0) });
    }
    // GETFIRST fills a's cache; b's replies then come through the same ring slots.
    const first = await h.sys.mapGetNextKeyAsync({ map_fd: a, key: null });
    for (let k = 0; k < 4; k++) expect((await h.sys.mapLookupAsync({ map_fd: b, key: u32(k) }))[0]).toBe(200 + k);
    const sent = requests(h);
    let k = first;
    for (let i = 0; i < 4; i++) {
      expect((await h.sys.mapLookupAsync({ map_fd: a, key: k }))[0]).toBe(10 + k[0]!);
      if (i < 3) k = await h.sys.mapGetNextKeyAsync({ map_fd: a, key: k });
    }
    expect(requests(h)).toBe(sent);
  });

  it('offloaded map operations may sleep: inside an RCU read-side section lockdep says so', async () => {
    const h = await boot();
    const fd = await offloadMap(h);
    const reports: string[] = [];
    h.kernel.rcu.setLockdepReporter((r) => reports.push(r.title));
    await h.sys.mapUpdateAsync({ map_fd: fd, key: u32(1), value: new Uint8Array(8) });
    expect(reports).toEqual([]);
    h.kernel.rcu.rcu_read_lock();
    const p = h.sys.mapLookupAsync({ map_fd: fd, key: u32(1) });
    h.kernel.rcu.rcu_read_unlock();
    await p;
    expect(reports[0]).toMatch(/^BUG: sleeping function called from invalid context at bpf_map_offload_lookup_elem/);
  });

  it('closing the last fd frees the table on the NIC', async () => {
    const h = await boot();
    const fd = await offloadMap(h, { max_entries: 10 });
    const tid = nfp_bpf_map_of(offmapOf(h, fd)).tid;
    h.sys.close(fd);
    await h.kernel.offload.settle();
    expect(map_dir_read(h.device!.memory, tid)).toBeUndefined();
    expect([h.nfp!.bpf!.maps_in_use, h.nfp!.bpf!.map_elems_in_use]).toEqual([0, 0]);
  });
});

describe('device removal orphans the maps', () => {
  it('every operation is ENODEV afterwards, the id is gone, the fd still closes', async () => {
    const h = await boot();
    const fd = await offloadMap(h);
    const id = h.sys.mapInfo(fd).id;
    await h.sys.mapUpdateAsync({ map_fd: fd, key: u32(1), value: new Uint8Array(8) });
    await h.nfp!.remove();
    expect(h.kernel.netdevs.dev_get_by_name('nfp0')).toBeUndefined();
    await expectErrno(h.sys.mapLookupAsync({ map_fd: fd, key: u32(1) }), 'ENODEV', "BPF_MAP_LOOKUP_ELEM on map 'm': bpf_map_offload_lookup_elem: the map's device is gone");
    await expectErrno(h.sys.mapUpdateAsync({ map_fd: fd, key: u32(1), value: new Uint8Array(8) }), 'ENODEV');
    await expectErrno(h.sys.mapDeleteAsync({ map_fd: fd, key: u32(1) }), 'ENODEV');
    await expectErrno(h.sys.mapGetNextKeyAsync({ map_fd: fd, key: null }), 'ENODEV');
    expect(() => h.sys.mapInfo(fd)).toThrow(/device is gone/);
    expect(() => h.sys.mapGetFdById(id)).toThrow(/no map with id/);
    expect(() => h.sys.mapGetNextId(0)).toThrow(/no more maps/);
    h.sys.close(fd);
    await h.kernel.offload.settle();
  });

  it('with a second port of the same card, the maps move there instead', async () => {
    const file = imageVariant('nfp-bpf-60c', (doc) => { doc['name'] = 'test-2port'; doc['ports'] = 2; });
    const h = await boot({ firmware: file });
    const nfp1 = h.kernel.netdevs.get('nfp1');
    const fd = await offloadMap(h);
    await h.sys.mapUpdateAsync({ map_fd: fd, key: u32(1), value: new Uint8Array(8).fill(3) });
    await h.kernel.offload.bpf_offload_dev_netdev_unregister(h.nfp!.bpf!.bpf_dev, h.kernel.netdevs.get('nfp0'));
    expect(h.sys.mapInfo(fd).ifindex).toBe(nfp1.ifindex);
    expect([...await h.sys.mapLookupAsync({ map_fd: fd, key: u32(1) })]).toEqual(new Array(8).fill(3));
    await h.kernel.offload.bpf_offload_dev_netdev_unregister(h.nfp!.bpf!.bpf_dev, nfp1);
    await expectErrno(h.sys.mapLookupAsync({ map_fd: fd, key: u32(1) }), 'ENODEV');
  });
});

describe('BPF_EVENT from the firmware', () => {
  it('reaches the perf event array the program named; an unknown map id is dropped with a warning', async () => {
    const h = await boot();
    const got: { cpu: number; data: number[]; pkt: number[] }[] = [];
    h.nfp!.bpf!.maps_neutral.set(42, {
      map_id: 42, count: 1,
      ptr: {
        id: 42,
        perf_event_output(flags, cpu, b1, o1, l1, b2, o2, l2) {
          got.push({ cpu: flags === cpu ? cpu : -1, data: [...b1.subarray(o1, o1 + l1)], pkt: b2 === null ? [] : [...b2.subarray(o2, o2 + l2)] });
          return 0;
        },
      },
    });
    const fw = h.fw().ctrl;
    fw.sendEvent(7, 42n, Uint8Array.of(0xde, 0xad, 0xbe), Uint8Array.of(1, 2, 3, 4, 5), performance.now());
    fw.sendEvent(1, 43n, new Uint8Array(0), Uint8Array.of(9), performance.now());
    expect(await until(() => h.dmesg.has('perf event: map id 43 (0x2b) not recognized, dropping event'))).toBe(true);
    expect(got).toEqual([{ cpu: 7, data: [1, 2, 3, 4, 5], pkt: [0xde, 0xad, 0xbe] }]);
    expect(NFP_CCM_TYPE_BPF_BPF_EVENT).toBe(8);
  });
});
