// The scenario schema: what a valid file becomes, and for each kind of mistake the error a user gets —
// file, line and column of the offending node and what is wrong — plus a fuzz of malformed files that
// must only ever produce such errors (never a crash or a hang).

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ScenarioError, loadScenario, parseScenario, splitWords, valueBytes } from '../../src/scenario/schema.js';
import { udp4Frame } from '../oracle/packets.js';

const DIR = mkdtempSync(join(tmpdir(), 'nfp-emu-scenario-'));
writeFileSync(join(DIR, 'prog.o'), 'not really an object');
const FILE = join(DIR, 's.yaml');

const parse = (text: string) => parseScenario(text, FILE);

/** The error of parsing `text`: "line:col: message" relative to the file. */
function err(text: string): string {
  try {
    parse(text);
  } catch (e) {
    expect(e).toBeInstanceOf(ScenarioError);
    const se = e as ScenarioError;
    expect(se.message.startsWith(`${FILE}:${se.line}:${se.col}: `)).toBe(true);
    return `${se.line}:${se.col}: ${se.reason}`;
  }
  throw new Error('the scenario was accepted');
}

describe('scenario schema: valid files', () => {
  it('reads boot, steps and their defaults', () => {
    const sc = parse(`
name: demo
boot:
  firmware: nfp-bpf-40c
  cpus: 4
  devices: [veth0, {name: veth1, mtu: 9000, mac: "02:00:00:00:aa:01"}]
steps:
  - load: {object: prog.o, program: xdp_pass, offload: nfp0, globals: {redirect_ifindex: {ifindex: veth1}}}
  - attach: {dev: nfp0, prog: xdp_pass, mode: offload}
  - name: some traffic
    send:
      dev: nfp0
      count: 10
      packets:
        - ipv4: {src: 10.0.0.1}
          udp: {dport: "1-3"}
  - expect:
      verdicts: {pass: 30}
      stack: {dev: nfp0, count: 30}
      map: [{map: counters, key: 1, value: {u64: [1, 2]}}, {map: {pinned: /sys/fs/bpf/m}, entries: 3}]
  - map: {map: counters, key: {from: 0, to: 9}, value: [1, 0, 0, 0], repeat: 3, parallel: 8}
  - bpftool: map dump name counters
  - ip: {args: [-s, link, show], stdout: {contains: [nfp0]}}
  - detach: {dev: nfp0, mode: offload}
    fails: {errno: EINVAL, contains: something}
  - capture: {dev: nfp0, pcap: out.pcap}
  - report:
`);
    expect(sc.name).toBe('demo');
    expect(sc.boot).toEqual({ firmware: 'nfp-bpf-40c', cpus: 4, jit: true, up: true, devices: [{ name: 'veth0', up: true }, { name: 'veth1', up: true, mac: '02:00:00:00:aa:01', mtu: 9000 }] });
    expect(sc.steps.map((s) => s.kind)).toEqual(['load', 'attach', 'send', 'expect', 'map', 'bpftool', 'ip', 'detach', 'capture', 'report']);
    const [load, attach, send, exp, map, bpftool, ip, detach] = sc.steps;
    expect(load).toMatchObject({ kind: 'load', object: join(DIR, 'prog.o'), program: 'xdp_pass', offload: 'nfp0', globals: { redirect_ifindex: { kind: 'ifindex', dev: 'veth1' } }, at: { line: 8, col: 5 } });
    expect(attach).toMatchObject({ mode: 'offload', force: false });
    expect(send).toMatchObject({ kind: 'send', title: 'some traffic', count: 10, dev: 'nfp0' });
    if (send?.kind !== 'send') throw new Error();
    expect(send.frames).toEqual([1, 2, 3].map((p) => udp4Frame({ dstPort: p })));
    if (exp?.kind !== 'expect') throw new Error();
    expect(exp.verdicts).toEqual({ pass: 30 });
    expect(exp.stack).toMatchObject([{ dev: 'nfp0', count: 30 }]);
    expect(valueBytes(exp.map![0]!.value!, 16, 'v')).toEqual(Uint8Array.of(1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0));
    expect(exp.map![1]).toMatchObject({ map: { pinned: '/sys/fs/bpf/m' }, entries: 3 });
    expect(map).toMatchObject({ op: 'update', key: { kind: 'range', from: 0, to: 9 }, repeat: 3, parallel: 8, flags: 0 });
    expect(bpftool).toMatchObject({ args: ['map', 'dump', 'name', 'counters'] });
    expect(ip).toMatchObject({ args: ['-s', 'link', 'show'], stdout: { contains: ['nfp0'] } });
    expect(detach).toMatchObject({ fails: { errno: 'EINVAL', contains: 'something' } });
  });

  it('defaults: the 60-core image, 2 CPUs; firmware none for a host without the NIC', () => {
    expect(parse('steps: [{report: {}}]').boot).toEqual({ firmware: 'nfp-bpf-60c', cpus: 2, jit: true, up: true, devices: [] });
    expect(parse('boot: {firmware: none}\nsteps: [{report: }]').boot.firmware).toBeNull();
  });

  it('values: integers sized to the map, hex strings, byte lists, typed fields', () => {
    const v = (text: string): Uint8Array => {
      const s = parse(`steps:\n  - map: {map: m, key: 0, value: ${text}}`).steps[0]!;
      if (s.kind !== 'map') throw new Error();
      return valueBytes(s.value!, 8, 'value');
    };
    expect(v('258')).toEqual(Uint8Array.of(2, 1, 0, 0, 0, 0, 0, 0));
    expect(v('0xffffffffffffffff')).toEqual(new Uint8Array(8).fill(255));
    expect(v('"01 02 03 04 05 06 07 08"')).toEqual(Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8));
    expect(v('[{be32: 0x0a000001}, {u16: 80}, {u8: [1, 2]}]')).toEqual(Uint8Array.of(10, 0, 0, 1, 80, 0, 1, 2));
    expect(v('[{ipv4: 192.0.2.1}, {hex: "0000 0001"}]')).toEqual(Uint8Array.of(192, 0, 2, 1, 0, 0, 0, 1));
    expect(() => v('70000000000000000000')).toThrow(/does not fit 8 bytes/);
    expect(() => v('"01 02"')).toThrow(/has 2 bytes; the map's are 8/);
  });

  it('dmesg: all of the log, a filter, and text checks', () => {
    const steps = parse('steps:\n  - dmesg:\n  - dmesg: "ABI"\n  - dmesg: {grep: nfp, contains: [a, b], matches: "^x"}\n').steps;
    expect(steps).toMatchObject([{ kind: 'dmesg' }, { kind: 'dmesg', expect: { contains: ['ABI'] } }, { kind: 'dmesg', grep: 'nfp', expect: { contains: ['a', 'b'] } }]);
    expect(err('steps:\n  - dmesg: {grepp: x}\n')).toContain("2:13: unknown field 'grepp' in dmesg");
  });

  it('splits tool command lines like a shell', () => {
    expect(splitWords(`prog load "my prog.o" /sys/fs/bpf/p  type xdp`)).toEqual(['prog', 'load', 'my prog.o', '/sys/fs/bpf/p', 'type', 'xdp']);
    expect(() => splitWords('a "b')).toThrow(/unclosed/);
  });
});

describe('scenario schema: errors name the file, line and column', () => {
  const cases: [string, string, string][] = [
    ['YAML syntax', 'steps:\n  - send: {dev: nfp0\n', '3:1: YAML:'],
    ['an unknown top-level field', 'steps: [{report: }]\nstepz: []\n', "2:1: unknown field 'stepz' in the scenario (expected one of: name, description, boot, steps)"],
    ['an unknown step', 'steps:\n  - sned: {dev: nfp0}\n', "2:5: unknown field 'sned' in step 1"],
    ['two step kinds', 'steps:\n  - send: {}\n    load: {}\n', '3:5: step 1 takes one of load, attach, detach, map, send, expect, bpftool, ip, dmesg, capture, report, together, not both send and load'],
    ['no step kind', 'steps:\n  - name: x\n', '2:5: step 1 needs one of load, attach'],
    ['an unknown field in a step', 'steps:\n  - send: {dev: nfp0, packet: []}\n', "2:23: unknown field 'packet' in send (expected one of: dev, packets, pcap, count)"],
    ['a port out of range', 'steps:\n  - send:\n      dev: nfp0\n      packets:\n        - ipv4: {}\n          udp: {dport: 70000}\n', '6:24: send.packets[0].udp.dport 70000 is out of range 0..65535'],
    ['a bad address', 'steps:\n  - send: {dev: nfp0, packets: [{ipv4: {src: 10.0.0.256}}]}\n', "2:46: send.packets[0].ipv4.src: '10.0.0.256' is not an IPv4 address"],
    ['udp without ip', 'steps:\n  - send: {dev: nfp0, packets: [{udp: {}}]}\n', '2:34: send.packets[0]: udp needs an ipv4 or ipv6 layer'],
    ['a string where a number goes', 'boot: {cpus: two}\nsteps: [{report: }]\n', '1:14: boot.cpus must be an integer, not "two"'],
    ['a missing object file', 'steps:\n  - load: {object: nope.o}\n', "2:20: load.object: cannot read 'nope.o'"],
    ['a missing pcap', 'steps:\n  - send: {dev: nfp0, pcap: none.pcap}\n', "2:29: send.pcap: cannot read 'none.pcap'"],
    ['an unknown errno', 'steps:\n  - report:\n    fails: {errno: EWHAT}\n', "3:20: step 1.fails.errno 'EWHAT' is not an errno name"],
    ['an unknown mode', 'steps:\n  - attach: {dev: nfp0, prog: p, mode: hw}\n', "2:40: attach.mode 'hw' is not one of auto, generic, drv, offload"],
    ['attach without a program', 'steps:\n  - attach: {dev: nfp0}\n', '2:13: attach needs one of prog, pinned'],
    ['a bad map op', 'steps:\n  - map: {op: put, map: m, key: 1}\n', "2:15: map.op 'put' is not one of update, lookup, delete, dump"],
    ['update without a value', 'steps:\n  - map: {op: update, map: m, key: 1}\n', '2:10: map update needs a value'],
    ['bad hex', 'steps:\n  - map: {map: m, key: "zz"}\n', "2:24: map.key: 'zz' is not hex bytes"],
    ['an empty expect', 'steps:\n  - expect: {}\n', '2:13: expect needs something to check'],
    ['an unknown verdict', 'steps:\n  - expect: {verdicts: {dropped: 1}}\n', "2:25: unknown field 'dropped' in expect.verdicts"],
    ['an unknown counter', 'steps:\n  - expect: {stats: {nfp0: {rx_pkts: 1}}}\n', "2:29: unknown field 'rx_pkts' in expect.stats.nfp0"],
    ['a bad regex', 'steps:\n  - ip: {args: link, stdout: {matches: "("}}\n', '2:40: ip.stdout.matches:'],
    ['an unclosed quote', 'steps:\n  - bpftool: \'prog show "x\'\n', '2:14: bpftool: unclosed " quote'],
    ['an empty file', '', '1:1: the scenario is empty'],
    ['an expect inside together', 'steps:\n  - together:\n      - send: {dev: d, packets: [{raw: "01"}]}\n      - expect: {verdicts: {pass: 1}}\n', '4:9: together runs load, attach, detach, map, send, bpftool, ip steps; put expect after it'],
    ['two sends together', 'steps:\n  - together:\n      - send: {dev: d, packets: [{raw: "01"}]}\n      - send: {dev: e, packets: [{raw: "01"}]}\n', '4:9: together takes one send'],
    ['no steps', 'name: x\n', "1:1: the scenario needs 'steps'"],
    ['empty steps', 'steps: []\n', '1:8: steps is empty'],
    ['a duplicate device', 'boot: {devices: [veth0, veth0]}\nsteps: [{report: }]\n', "1:25: boot.devices[1]: device name 'veth0' is taken"],
    ['a device named like a NIC port', 'boot: {devices: [nfp0]}\nsteps: [{report: }]\n', "1:18: boot.devices[0]: device name 'nfp0' is taken"],
    ['a bad MAC', 'boot: {devices: [{name: v, mac: "02:00"}]}\nsteps: [{report: }]\n', "1:33: boot.devices[0].mac: '02:00' is not a MAC address"],
    ['a duplicate key', 'steps: [{report: }]\nsteps: [{report: }]\n', '2:1: YAML:'],
    ['a frame larger than its size', 'steps:\n  - send: {dev: d, packets: [{ipv4: {}, udp: {}, size: 20}]}\n', '2:30: send.packets[0]: the frame is 42 bytes, more than size 20'],
    ['too many combinations', 'steps:\n  - send: {dev: d, packets: [{ipv4: {src: 0.0.0.0-255.255.255.255}}]}\n', '2:30: send.packets[0]: ipv4.src range'],
  ];
  for (const [what, text, want] of cases) {
    it(what, () => {
      expect(err(text)).toContain(want);
    });
  }

  it('loadScenario: a missing file is a ScenarioError too', () => {
    expect(() => loadScenario(join(DIR, 'missing.yaml'))).toThrow(/missing\.yaml:1:1: no such file/);
    expect(() => loadScenario(DIR)).toThrow(/:1:1: is a directory/);
  });

  it('never fails any other way on malformed files (a fixed-seed fuzz over the example above)', () => {
    const base = `boot: {cpus: 2, devices: [veth0]}
steps:
  - load: {object: prog.o, program: p}
  - attach: {dev: veth0, prog: p, mode: generic}
  - send: {dev: veth0, count: 3, packets: [{ipv4: {src: 10.0.0.1}, udp: {dport: "1-3"}, payload: {size: 8}}]}
  - expect: {verdicts: {pass: 9}, map: {map: m, key: 1, value: {u64: 2}}}
  - map: {op: update, map: m, key: [1, 0, 0, 0], value: "02 00"}
  - ip: [link, show]
`;
    const alphabet = ' :-{}[],"\'\n#&*!|>0123456789abcxyz';
    let seed = 99;
    const rnd = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    let rejected = 0;
    for (let i = 0; i < 400; i++) {
      let t = base;
      for (let k = 0, n = 1 + rnd(3); k < n; k++) {
        const at = rnd(t.length);
        const op = rnd(3);
        const c = alphabet[rnd(alphabet.length)]!;
        t = op === 0 ? t.slice(0, at) + c + t.slice(at) : op === 1 ? t.slice(0, at) + t.slice(at + 1) : t.slice(0, at) + c + t.slice(at + 1);
      }
      try {
        parse(t);
      } catch (e) {
        if (!(e instanceof ScenarioError)) throw new Error(`a ${(e as Error).name} for:\n${t}\n${(e as Error).stack}`);
        expect(e.line).toBeGreaterThan(0);
        rejected++;
      }
    }
    expect(rejected).toBeGreaterThan(100);
  });
});
