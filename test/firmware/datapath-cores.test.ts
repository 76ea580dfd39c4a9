// The datapath on every card the firmware images describe — 40, 56, 60 and 70 cores, BPF ABI 2 and 3 —
// in worker threads: each thread hosts its share of the cores (nfpCoreShare), every core takes its
// packets from its own RX ring and runs the NFP JIT's image of a test/progs object, and the pool's
// statistics and modeled rate follow the card's core count and clock. The 60-core image is what the
// rest of the tests use; here the others show that nothing assumes 60.

import { afterAll, describe, expect, it } from 'vitest';
import { nfp_net_bpf_offload, nfp_prog_load, type NfpNet } from '../../src/drivers/nfp/xdp.js';
import { NetlinkExtAck } from '../../src/kernel/net/extack.js';
import { NfpCorePool, nfpCoreShare, piscinaCores } from '../../src/nic/cores.js';
import { bootHost, nfpLoadObject, type TestHost } from '../drivers/nfp-run.js';
import * as pk from '../oracle/packets.js';

const THREADS = 2;
const hosts: TestHost[] = [];
const pools: NfpCorePool[] = [];
afterAll(async () => {
  for (const p of pools) await p.stop();
  for (const h of hosts) await h.shutdown();
});

describe('the cores of each image in worker threads', () => {
  for (const [image, cores, abi] of [['nfp-bpf-40c', 40, 2], ['nfp-bpf-56c', 56, 2], ['nfp-bpf-60c', 60, 3], ['nfp-bpf-70c', 70, 3]] as const) {
    it(`${image}: ${cores} cores over ${THREADS} threads, each core running xdp_drop_udp9 on its ring`, async () => {
      const h = await bootHost({ firmware: image });
      hosts.push(h);
      const dev = h.device!;
      expect([dev.image.datapath.cores, dev.image.vnic.bpf.abi]).toEqual([cores, abi]);
      const l = await nfpLoadObject(h, 'xdp_drop_udp9', 'xdp_drop_udp9');
      const pool = await NfpCorePool.start(dev, piscinaCores({ threads: THREADS }));
      pools.push(pool);
      expect(pool.runner.threads).toBe(THREADS);
      expect(pool.cores).toBe(cores);
      // Each thread's share, as the layout gives it: the whole card, no core twice.
      const shares = Array.from({ length: THREADS }, (_, g) => nfpCoreShare(cores, THREADS, g));
      expect(shares.reduce((a, [, n]) => a + n, 0)).toBe(cores);
      expect(shares.map(([first]) => first)).toEqual([0, shares[0]![1]]);

      const nn: NfpNet = { bar: dev.bars[0]!, ustore: dev.memory.ustore, mtu: 1500 };
      await nfp_net_bpf_offload(nn, nfp_prog_load(l.nfp_prog), false, new NetlinkExtAck());
      const PER_CORE = 2000;
      await pool.generate([pk.udp4Frame({ dstPort: 9 }), pk.udp4Frame({ dstPort: 53 })], PER_CORE);
      const st = pool.stats();
      expect(st.perCore).toHaveLength(cores);
      expect(st.perCore.map((c) => c.packets)).toEqual(Array(cores).fill(PER_CORE));
      expect(st.stats).toEqual([(cores * PER_CORE) / 2, (cores * PER_CORE) / 2, 0, 0]);
      expect(st.errors).toBe(0);
      // One translation of the image per thread, whatever the number of cores it hosts.
      expect(st.helpers.compiles).toBe(THREADS);
      // The same image and traffic cost every core the same cycles; the card's rate scales with its cores.
      const cycles = st.perCore[0]!.cycles;
      expect(st.perCore.every((c) => c.cycles === cycles)).toBe(true);
      expect(st.modeledPps).toBeCloseTo((cores * dev.image.datapath.clockMhz * 1e6) / (cycles / PER_CORE), 0);
    }, 60_000);
  }
});
