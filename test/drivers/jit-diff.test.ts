// The NIC against the host: every test/progs program the NFP accepts goes through the verifier with
// the nfp device hook, the NFP JIT and relocation, then runs on the NFP core model — the reference
// interpreter and the JS translation — with the packets of the host differential tests. The verdict
// (as the NIC's outro encodes the host interpreter's return value), R0, the output packet and every
// map's contents (read back through the driver, atomic counters byte-swapped) must match the host
// interpreter's, and the two NFP engines must agree to the cycle. Both engines run every packet against
// the same NIC maps, so the host interpreter runs each packet twice as well.
//
// NFP_JIT_STATS=1 prints each program's image size and its cycles per packet.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mapPinName } from '../../src/libbpf/object.js';
import { TEST_OBJECTS } from '../oracle/programs.js';
import * as pk from '../oracle/packets.js';
import { dumpEmu, loadEmu, runEmu } from '../kernel/emu-harness.js';
import { NfpRunner, bootHost, dumpNfpMap, nfpLoadObject, xdpVerdict, type NfpLoaded, type TestHost } from './nfp-run.js';

const stats = process.env['NFP_JIT_STATS'] === '1';

/** The packet sequence of test/kernel/xdp-diff-kernel.test.ts, plus a TCP SYN big enough to sample. */
function packets(): Uint8Array[] {
  return [
    pk.udp4Frame({ dstPort: 9 }),
    pk.udp4Frame({ dstPort: 53, payload: pk.patternPayload(40) }),
    pk.tcp4Frame({ dstPort: 80, flags: { syn: true } }),
    pk.tcp4Frame({ dstPort: 443, payload: pk.patternPayload(100, 3) }),
    pk.icmp4Frame({}),
    pk.udp6Frame({ dstPort: 9 }),
    pk.tcp6Frame({ dstPort: 22 }),
    pk.udp4Frame({ vlans: [100], dstPort: 9 }),
    pk.udp4Frame({ src: '192.168.1.7', dstPort: 7, ipOptions: new Uint8Array([1, 1, 1, 0]) }),
    pk.arpFrame({}),
    pk.truncateFrame(pk.udp4Frame({ dstPort: 9 }), 30),
    pk.udp4FrameOfLength(1514, { dstPort: 4000 }),
    pk.udp4FrameOfLength(64, { dstPort: 9 }),
    pk.tcp4Frame({ src: '10.1.2.3', dstPort: 8080, flags: { syn: true }, payload: pk.patternPayload(60, 5) }),
  ];
}

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

let h: TestHost;
beforeAll(async () => { h = await bootHost(); });
afterAll(async () => { await h.shutdown(); });

const OFFLOADED = TEST_OBJECTS.filter((o) => o.nfpOffload && o.deterministic);

describe('NFP JIT on the core model vs the host interpreter', () => {
  it('covers the programs the issue names as offloadable', () => {
    expect(OFFLOADED.map((o) => o.name)).toEqual(
      expect.arrayContaining(['xdp_pass', 'xdp_drop_udp9', 'xdp_alu32', 'xdp_loop', 'xdp_csum_frame', 'xdp_adjust', 'xdp_l4lb', 'xdp_perf']),
    );
  });

  for (const obj of OFFLOADED) {
    it(`${obj.name}: verdicts, R0, packets, maps and cycles agree`, async () => {
      const emu = loadEmu(obj.name);
      const loads = new Map<string, NfpLoaded>();
      for (const prog of obj.progs) loads.set(prog, await nfpLoadObject(h, obj.name, prog));
      if (obj.name === 'xdp_l4lb') {
        const nic = loads.get('xdp_l4lb')!.maps.get('servers')!.fd;
        for (const { key, value } of l4lbBackends()) {
          emu.sys.mapUpdate({ map_fd: emu.maps['servers']!, key, value });
          await h.sys.mapUpdateAsync({ map_fd: nic, key, value });
        }
      }
      for (const prog of obj.progs) {
        const runner = new NfpRunner(h, loads.get(prog)!);
        const cycles: string[] = [];
        for (const [n, frame] of packets().entries()) {
          // Each NFP engine runs the packet against the same NIC maps, so the host sees it twice too.
          const host = runEmu(emu, prog, frame, 'interpreter');
          const again = runEmu(emu, prog, frame, 'interpreter');
          expect({ retval: again.retval, data: hex(again.data_out!) }, `${prog} packet ${n}: host run twice`)
            .toEqual({ retval: host.retval, data: hex(host.data_out!) });
          const interp = runner.run('interpreter', frame);
          const js = runner.run('js', frame);
          expect(js, `${prog} packet ${n}: JS engine vs interpreter`).toEqual(interp);
          expect({ verdict: interp.verdict, r0: interp.r0, data: hex(interp.data) }, `${prog} packet ${n}`)
            .toEqual({ verdict: xdpVerdict(host.retval), r0: host.retval >>> 0, data: hex(host.data_out!) });
          cycles.push(`${interp.busy}+${interp.stall}`);
        }
        if (stats) {
          const l = loads.get(prog)!;
          console.log(`${prog}: ${l.nfp_prog.prog_len} NFP insns (${l.nfp_prog.insns.length} BPF), busy+stall per packet: ${cycles.join(' ')}`);
        }
        if (prog === 'xdp_syn_events') {
          // Two SYNs (packets 2 and 13): the event carries the flow and the frame's first bytes.
          expect(runner.events.length).toBeGreaterThan(0);
          const syn = packets()[13]!;
          const ev = runner.events.filter((e) => e.pkt.length === Math.min(64, syn.length)).at(-1)!;
          expect(hex(ev.pkt)).toBe(hex(syn.subarray(0, 64)));
          expect(hex(ev.data.subarray(0, 8))).toBe(hex(syn.subarray(26, 34)));
          expect(new DataView(ev.data.buffer, ev.data.byteOffset).getUint32(12, true)).toBe(syn.length);
          expect(ev.map_id).toBe(loads.get(prog)!.maps.get('events')!.map.id);
        }
      }
      for (const map of obj.maps) {
        const spec = [...loads.values()][0]!.maps;
        const entry = [...spec.entries()].find(([name]) => mapPinName(name) === map);
        if (entry === undefined || entry[1].map.map_type === 4) continue;
        expect(await dumpNfpMap(h, entry[1].fd), `map ${map}`).toEqual(dumpEmu(emu, map));
      }
    });
  }
});
