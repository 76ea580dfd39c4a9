// The NIC against the host: every test/progs program the NFP accepts goes through the verifier with
// the nfp device hook, the NFP JIT, the driver's load path (relocation into the code store, reconfig)
// and runs on the firmware datapath's cores — one host with the reference NFP interpreter, one with the
// JS translation — on the packets of the host differential tests. The verdict (as the NIC's outro
// encodes the host interpreter's return value), the packets passed or transmitted, the perf events and
// every map's contents (read back through the driver, atomic counters byte-swapped) must match the host
// interpreter's, and the two NFP engines must agree to the cycle.
//
// NFP_JIT_STATS=1 prints each program's image size and its cycles per packet.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mapPinName } from '../../src/libbpf/object.js';
import { TEST_OBJECTS } from '../oracle/programs.js';
import * as pk from '../oracle/packets.js';
import { dumpEmu, loadEmu, runEmu } from '../kernel/emu-harness.js';
import type { NfpPacketResult } from '../../src/nic/cores.js';
import { dumpNfpMap, nfpLoadObject, nfpRig, xdpVerdict, type NfpLoaded, type NfpRig } from './nfp-run.js';

const stats = process.env['NFP_JIT_STATS'] === '1';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** xdp_l4lb's backends: every slot of `servers` (key u32 slot, value struct backend). */
function l4lbBackends(): { key: Uint8Array; value: Uint8Array }[] {
  return Array.from({ length: 512 }, (_, slot) => {
    const key = new Uint8Array(4);
    new DataView(key.buffer).setUint32(0, slot, true);
    const value = new Uint8Array(32);
    value.set([10, 0, 0, 100], 0);
    value.set([10, 1, (slot >> 8) & 0xff, slot & 0xff], 4);
    value.set([0x02, 0xbe, 0xef, 0, (slot >> 8) & 0xff, slot & 0xff], 24);
    return { key, value };
  });
}

const ENGINES = ['interpreter', 'js'] as const;
type Engine = (typeof ENGINES)[number];
const rigs = {} as Record<Engine, NfpRig>;
beforeAll(async () => {
  for (const e of ENGINES) rigs[e] = await nfpRig(e);
});
afterAll(async () => {
  for (const e of ENGINES) await rigs[e]?.stop();
});

const OFFLOADED = TEST_OBJECTS.filter((o) => o.nfpOffload && o.deterministic);

describe('NFP JIT on the firmware datapath vs the host interpreter', () => {
  it('covers the programs the issue names as offloadable', () => {
    expect(OFFLOADED.map((o) => o.name)).toEqual(
      expect.arrayContaining(['xdp_pass', 'xdp_drop_udp9', 'xdp_alu32', 'xdp_loop', 'xdp_csum_frame', 'xdp_adjust', 'xdp_l4lb', 'xdp_perf']),
    );
  });

  for (const obj of OFFLOADED) {
    it(`${obj.name}: verdicts, packets, maps and cycles agree`, async () => {
      const emu = loadEmu(obj.name);
      const loads = {} as Record<Engine, Map<string, NfpLoaded>>;
      for (const e of ENGINES) {
        loads[e] = new Map();
        for (const prog of obj.progs) loads[e].set(prog, await nfpLoadObject(rigs[e].h, obj.name, prog));
      }
      if (obj.name === 'xdp_l4lb') {
        for (const { key, value } of l4lbBackends()) {
          emu.sys.mapUpdate({ map_fd: emu.maps['servers']!, key, value });
          for (const e of ENGINES) await rigs[e].h.sys.mapUpdateAsync({ map_fd: loads[e].get('xdp_l4lb')!.maps.get('servers')!.fd, key, value });
        }
      }
      const frames = pk.diffPackets();
      for (const prog of obj.progs) {
        const host = frames.map((f) => runEmu(emu, prog, f, 'interpreter'));
        const res = {} as Record<Engine, NfpPacketResult[]>;
        for (const e of ENGINES) {
          rigs[e].events.length = 0;
          await rigs[e].load(loads[e].get(prog)!);
          res[e] = await rigs[e].run(frames);
        }
        expect(res.js, `${prog}: the JS engine vs the interpreter`).toEqual(res.interpreter);
        res.interpreter.forEach((r, n) => {
          const want = xdpVerdict(host[n]!.retval);
          expect({ status: r.status, raw: r.raw }, `${prog} packet ${n}`).toEqual({ status: 'ok', raw: want });
          // Passed and transmitted packets come back as the host left them.
          if (r.action !== 'drop') expect(hex(r.packet!), `${prog} packet ${n}`).toBe(hex(host[n]!.data_out!));
        });
        if (stats) {
          const l = loads.interpreter.get(prog)!;
          const cyc = res.interpreter.map((r) => `${r.busy}+${r.stall}`).join(' ');
          console.log(`${prog}: ${l.nfp_prog.prog_len} NFP insns (${l.nfp_prog.insns.length} BPF); per packet busy+stall (firmware's included): ${cyc}`);
        }
        if (prog === 'xdp_syn_events') {
          // Two SYNs (packets 2 and 13): each event carries the frame's first bytes, then the flow.
          const syns = [2, 13];
          for (const e of ENGINES) {
            expect(rigs[e].events).toHaveLength(syns.length);
            rigs[e].events.forEach((ev, k) => {
              const syn = frames[syns[k]!]!;
              const sample = Math.min(64, syn.length);
              expect(ev.pkt_size).toBe(sample);
              expect(Number(ev.map_ptr)).toBe(loads[e].get(prog)!.maps.get('events')!.map.id);
              expect(hex(ev.data.subarray(0, sample))).toBe(hex(syn.subarray(0, sample)));
              const flow = ev.data.subarray((sample + 3) & ~3);
              expect(ev.data_size).toBe(16);
              expect(hex(flow.subarray(0, 8))).toBe(hex(syn.subarray(26, 34)));
              expect(new DataView(flow.buffer, flow.byteOffset).getUint32(12, true)).toBe(syn.length);
            });
          }
        }
      }
      for (const map of obj.maps) {
        for (const e of ENGINES) {
          const maps = [...loads[e].values()][0]!.maps;
          const entry = [...maps.entries()].find(([name]) => mapPinName(name) === map)?.[1];
          if (entry === undefined || entry.map.map_type === 4) continue;
          expect(await dumpNfpMap(rigs[e].h, entry.fd), `map ${map} (${e})`).toEqual(dumpEmu(emu, map));
        }
      }
    });
  }
});
