// End to end on the NIC: every test/progs object the NFP accepts goes through the verifier with the
// nfp device hook and the NFP JIT, is attached by the driver (nfp_net_bpf_offload: relocation, code
// store, reconfig), and runs on the 60-core datapath in worker threads — each program replacing the
// previous one live — on the packets of the host differential tests. Verdicts, output packets and map
// contents must be the host interpreter's; perf events reach the driver as BPF_EVENT messages.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nfp_bpf_event_output } from '../../src/drivers/nfp/offload.js';
import { nfp_net_bpf_offload, nfp_prog_load, type NfpNet } from '../../src/drivers/nfp/xdp.js';
import { NetlinkExtAck } from '../../src/kernel/net/extack.js';
import { mapPinName } from '../../src/libbpf/object.js';
import { decodeBpfEvent } from '../../src/nic/ccm.js';
import { NfpCorePool, piscinaCores } from '../../src/nic/cores.js';
import { dumpEmu, loadEmu, runEmu } from '../kernel/emu-harness.js';
import { bootHost, nfpLoadObject, type TestHost } from '../drivers/nfp-run.js';
import { TEST_OBJECTS } from '../oracle/programs.js';
import * as pk from '../oracle/packets.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const XDP_NAMES = ['XDP_ABORTED', 'XDP_DROP', 'XDP_PASS', 'XDP_TX'];

/** Every entry of an offloaded map through the driver, sorted by key (dumpEmu's shape). */
async function dumpNic(h: TestHost, fd: number): Promise<{ key: string; values: string[] }[]> {
  const out: { key: string; values: string[] }[] = [];
  let key: Uint8Array | null = null;
  for (;;) {
    try {
      key = await h.sys.mapGetNextKeyAsync({ map_fd: fd, key });
    } catch {
      break;
    }
    out.push({ key: hex(key), values: [hex(await h.sys.mapLookupAsync({ map_fd: fd, key }))] });
  }
  return out.sort((a, b) => a.key.localeCompare(b.key));
}

let h: TestHost;
let pool: NfpCorePool;
let nn: NfpNet;
const events: Uint8Array[] = [];
let loaded = false;

beforeAll(async () => {
  h = await bootHost();
  pool = await NfpCorePool.start(h.device!, piscinaCores({ threads: 2 }), { slots: 64, onEvent: (m) => events.push(m) });
  nn = { bar: h.device!.bars[0]!, ustore: h.device!.memory.ustore, mtu: 1500, log: h.nfp!.log };
});
afterAll(async () => {
  await pool?.stop();
  await h?.shutdown();
});

const OFFLOADED = TEST_OBJECTS.filter((o) => o.nfpOffload && o.deterministic);

describe('test/progs through the NFP JIT on the datapath in worker threads, against the host interpreter', () => {
  for (const obj of OFFLOADED) {
    it(`${obj.name}: verdicts, packets and maps`, async () => {
      const emu = loadEmu(obj.name);
      for (const prog of obj.progs) {
        const l = await nfpLoadObject(h, obj.name, prog);
        if (obj.name === 'xdp_l4lb') {
          for (let slot = 0; slot < 512; slot++) {
            const key = new Uint8Array(4);
            new DataView(key.buffer).setUint32(0, slot, true);
            const value = new Uint8Array(32);
            value.set([10, 0, 0, 100], 0);
            value.set([10, 1, slot >> 8, slot & 0xff], 4);
            value.set([0x02, 0xbe, 0xef, 0, slot >> 8, slot & 0xff], 24);
            emu.sys.mapUpdate({ map_fd: emu.maps['servers']!, key, value });
            await h.sys.mapUpdateAsync({ map_fd: l.maps.get('servers')!.fd, key, value });
          }
        }
        const gen = pool.imageGen;
        await nfp_net_bpf_offload(nn, nfp_prog_load(l.nfp_prog), loaded, new NetlinkExtAck());
        loaded = true;
        expect(pool.imageGen).toBeGreaterThan(gen);
        events.length = 0;
        const frames = pk.diffPackets();
        // One core: the packets meet the maps in the order the host interpreter sees them.
        const res = await pool.run(frames, { core: 0 });
        frames.forEach((frame, n) => {
          const host = runEmu(emu, prog, frame, 'interpreter');
          const want = XDP_NAMES[host.retval] ?? 'XDP_ABORTED';
          const r = res[n]!;
          expect({ verdict: r.verdict, status: r.status }, `${prog} packet ${n}`).toEqual({ verdict: want, status: 'ok' });
          expect(r.packet === null ? null : hex(r.packet), `${prog} packet ${n}`).toBe(want === 'XDP_PASS' || want === 'XDP_TX' ? hex(host.data_out!) : null);
        });
        if (obj.name === 'xdp_perf') {
          expect(events.length).toBeGreaterThan(0);
          for (const m of events) {
            expect(decodeBpfEvent(m).map_ptr).toBe(BigInt(l.maps.get('events')!.map.id));
            expect(nfp_bpf_event_output(h.nfp!.bpf!, m, h.kernel.rcu)).toBe(0);
          }
        }
        for (const [name, { fd, map }] of l.maps) {
          if (map.map_type !== 1 && map.map_type !== 2) continue;
          expect(await dumpNic(h, fd), `map ${name}`).toEqual(dumpEmu(emu, mapPinName(name)));
        }
      }
    }, 30_000);
  }
});
