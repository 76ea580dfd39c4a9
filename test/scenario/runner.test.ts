// The scenario runner end to end: the shipped scenarios pass; a scenario whose expectations do not hold
// fails at that step with what differed, and stops; `fails:` turns an expected error into a pass (and
// an unexpected success into a failure); the CLI's exit statuses and its JSON report.

import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SCENARIO_TOOLS, runScenarioFile } from '../../src/cli/run.js';
import { readPcap } from '../../src/scenario/pcap.js';
import { runScenario, type ScenarioReport } from '../../src/scenario/runner.js';
import { loadScenario, parseScenario } from '../../src/scenario/schema.js';
import { udp4Frame } from '../oracle/packets.js';

const SCENARIOS = fileURLToPath(new URL('../../scenarios/', import.meta.url));
const PROGS = fileURLToPath(new URL('../progs/', import.meta.url));
const DIR = mkdtempSync(join(tmpdir(), 'nfp-emu-run-'));

function run(text: string): Promise<ScenarioReport> {
  const file = join(DIR, `s${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, text);
  return runScenario(parseScenario(text, file), { firmwareMode: 'in-process', tools: SCENARIO_TOOLS });
}

function capture(): { io: { stdout: { write(s: string): boolean }; stderr: { write(s: string): boolean } }; out: () => string; err: () => string } {
  let o = '';
  let e = '';
  return {
    io: { stdout: { write: (s) => { o += s; return true; } }, stderr: { write: (s) => { e += s; return true; } } },
    out: () => o, err: () => e,
  };
}

describe('the shipped scenarios', () => {
  const files = readdirSync(SCENARIOS).filter((f) => f.endsWith('.yaml')).sort();
  it('are there, and the README\'s main command runs one of them on the default firmware', () => {
    expect(files.length).toBeGreaterThanOrEqual(2);
    const readme = readFileSync(fileURLToPath(new URL('../../README.md', import.meta.url)), 'utf8');
    const m = /npm install && npx nfp-emu run scenarios\/(\S+\.yaml)\n/.exec(readme);
    expect(m?.[1]).toBeDefined();
    expect(files).toContain(m![1]);
    expect(loadScenario(join(SCENARIOS, m![1]!)).boot.firmware).toBe('nfp-bpf-60c');
  });
  for (const f of files) {
    it(`${f} passes`, async () => {
      const rep = await runScenario(loadScenario(join(SCENARIOS, f)), { firmwareMode: 'in-process', tools: SCENARIO_TOOLS });
      const failed = rep.steps.find((s) => !s.ok);
      expect(failed === undefined ? rep.error ?? 'ok' : `step ${failed.index} (line ${failed.line}): ${failed.error}\n${failed.details.join('\n')}`).toBe('ok');
      expect(rep.ok).toBe(true);
      expect(rep.skipped).toBe(0);
    }, 20_000);
  }
});

describe('runScenario', () => {
  const head = `boot: {firmware: none, devices: [veth0]}\nsteps:\n  - load: {object: ${PROGS}xdp_drop_udp9.o}\n  - attach: {dev: veth0, prog: xdp_drop_udp9, mode: generic}\n`;

  it('stops at a failed expectation and says what differed', async () => {
    const rep = await run(`${head}  - send: {dev: veth0, packets: [{ipv4: {}, udp: {dport: 9}}], count: 4}
  - expect:
      verdicts: {drop: 3, pass: 0}
      stats: {veth0: {rx_packets: 4, tx_packets: 1}}
  - report: {}
`);
    expect(rep.ok).toBe(false);
    expect(rep.steps.map((s) => s.ok)).toEqual([true, true, true, false]);
    expect(rep.skipped).toBe(1);
    const bad = rep.steps[3]!;
    expect(bad.line).toBe(6);
    expect(bad.error).toBe('2 expectations not met');
    expect(bad.details).toEqual(['verdicts: drop 4, expected 3', 'stats of veth0: tx_packets 0, expected 1']);
  });

  it('compares output frames and reports the first that differs', async () => {
    const rep = await run(`${head}  - send: {dev: veth0, packets: [{ipv4: {}, udp: {dport: 53}}, {ipv4: {}, udp: {dport: 54}}]}
  - expect:
      stack: {dev: veth0, packets: [{ipv4: {}, udp: {dport: 53}}, {ipv4: {}, udp: {dport: 55}}]}
`);
    expect(rep.ok).toBe(false);
    expect(rep.steps[3]!.details[0]).toMatch(/^stack of veth0 \(line 7\): frame 2 differs\n {6}got: {6}02 00 00 00 00 02 /);
  });

  it('fails: an expected error passes (with its reason), an unexpected success fails', async () => {
    const rep = await run(`boot: {firmware: none, devices: [veth0]}
steps:
  - load: {object: ${PROGS}negative/xdp_map_null.o}
    fails: {errno: EACCES, contains: "R0 invalid mem access 'map_value_or_null'"}
  - load: {object: ${PROGS}xdp_pass.o}
  - attach: {dev: lo, prog: xdp_pass, mode: drv}
    fails: {errno: EOPNOTSUPP, contains: Underlying driver does not support XDP in native mode}
  - attach: {dev: veth0, prog: xdp_pass}
    fails: {errno: EINVAL}
`);
    expect(rep.steps.map((s) => s.ok)).toEqual([true, true, true, false]);
    expect(rep.steps[0]!.summary).toContain('failed as expected: BPF program load of \'xdp_map_null\' failed: Permission denied');
    expect(rep.steps[0]!.details.some((d) => d.includes("R0 invalid mem access 'map_value_or_null'"))).toBe(true);
    expect(rep.steps[3]!.error).toBe('the step succeeded, but it was expected to fail');
  });

  it('map steps and expectations: host maps through bpf(), per-CPU values summed over the CPUs', async () => {
    const rep = await run(`boot: {firmware: none, cpus: 2, devices: [veth0]}
steps:
  - load: {object: ${PROGS}xdp_counter.o}
  - attach: {dev: veth0, prog: xdp_count, mode: generic}
  - send:
      dev: veth0
      count: 5
      packets:
        - {ipv4: {src: 10.0.0.1}, udp: {sport: "1000-1003"}}
  - expect:
      map:
        - {map: proto_stats, key: 17, value: {u64: [20, 840]}}
        - {map: cpu_packets, key: 0, value: {u64: 20}}
        - {map: src_stats, key: {be32: 0x0a000001}, value: {u64: [20, 840]}}
        - {map: src_stats, entries: 1}
        - {map: proto_stats, key: 6, value: {u64: [0, 0]}}
  - map: {op: delete, map: src_stats, key: [10, 0, 0, 1]}
  - expect:
      map: {map: src_stats, key: [10, 0, 0, 1], missing: true}
  - map: {op: lookup, map: src_stats, key: [10, 0, 0, 1]}
    fails: {errno: ENOENT}
`);
    const failed = rep.steps.find((s) => !s.ok);
    expect(failed?.details ?? []).toEqual([]);
    expect(rep.ok).toBe(true);
  });

  it('tool steps: output in the details, exit status and text checks', async () => {
    const rep = await run(`boot: {firmware: none}
steps:
  - ip: {args: [link, show, lo], stdout: {contains: [LOOPBACK], matches: "^1: lo:"}}
  - ip: link show nosuch
    fails: {contains: does not exist}
  - bpftool: {args: prog show, rc: 0}
  - ip: {args: link show, stdout: {equals: nothing}}
`);
    expect(rep.steps.map((s) => s.ok)).toEqual([true, true, true, false]);
    expect(rep.steps[0]!.details[0]).toBe('1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN mode DEFAULT group default qlen 1000');
    expect(rep.steps[1]!.summary).toContain('(exit 1) — failed as expected');
    expect(rep.steps[3]!.error).toBe('stdout is not exactly the expected text');
  });

  it('capture writes the frames a device sent as a pcap', async () => {
    const out = join(DIR, 'tx.pcap');
    const rep = await run(`boot: {firmware: none, devices: [veth0, veth1]}
steps:
  - load: {object: ${PROGS}xdp_redirect.o, program: xdp_redirect_ifindex, globals: {redirect_ifindex: {ifindex: veth1}}}
  - attach: {dev: veth0, prog: xdp_redirect_ifindex, mode: generic}
  - send: {dev: veth0, packets: [{eth: {src: "02:00:00:00:00:01", dst: "02:00:00:00:00:02"}, ipv4: {}, udp: {}}], count: 3}
  - capture: {dev: veth1, pcap: ${out}}
`);
    expect(rep.ok).toBe(true);
    const swapped = udp4Frame({ srcMac: '02:00:00:00:00:02', dstMac: '02:00:00:00:00:01' });
    expect(readPcap(new Uint8Array(readFileSync(out))).records.map((r) => r.data)).toEqual([swapped, swapped, swapped]);
  });

  it('together: steps at the same time, each reported; the step fails when one of them does', async () => {
    const rep = await run(`boot: {firmware: none, devices: [veth0]}
steps:
  - load: {object: ${PROGS}xdp_counter.o}
  - attach: {dev: veth0, prog: xdp_count, mode: generic}
  - together:
      - send: {dev: veth0, packets: [{ipv4: {src: 10.0.0.9}, udp: {}}], count: 2000}
      - map: {op: update, map: proto_stats, key: {from: 100, to: 199}, value: {u64: [1, 1]}, parallel: 8}
  - expect:
      verdicts: {pass: 2000}
      map:
        - {map: proto_stats, key: 17, value: {u64: [2000, 84000]}}
        - {map: proto_stats, key: 150, value: {u64: [1, 1]}}
  - together:
      - map: {op: lookup, map: src_stats, key: {ipv4: 10.0.0.9}}
      - map: {op: lookup, map: src_stats, key: {ipv4: 10.0.0.8}}
`);
    expect(rep.steps.map((s) => s.ok)).toEqual([true, true, true, true, false]);
    expect(rep.steps[2]!.summary).toBe('2 steps at once: send, map');
    expect(rep.steps[2]!.details[0]).toMatch(/^ok {3}send 1 packet x 2000 \(2000 frames/);
    expect(rep.steps[4]!.error).toMatch(/^line 15: map src_stats: no element with key 0a 00 00 08/);
  });

  it('an emulator bug in a step ends the run as a failed step that says where it broke', async () => {
    const file = join(DIR, 'bug.yaml');
    const text = 'boot: {firmware: none, devices: [veth0]}\nsteps:\n  - report:\n  - report:\n';
    writeFileSync(file, text);
    const sc = parseScenario(text, file);
    // A tool that breaks an invariant, standing in for a bug anywhere below the runner.
    const rep = await runScenario({ ...sc, steps: [sc.steps[0]!, { kind: 'ip', args: ['link'], at: { line: 4, col: 5 }, index: 2 }] }, {
      firmwareMode: 'in-process', tools: { ...SCENARIO_TOOLS, ip: () => { throw new Error('BUG: an invariant broke'); } },
    });
    expect(rep.ok).toBe(false);
    expect(rep.steps[1]!.error).toBe('emulator bug: BUG: an invariant broke');
    expect(rep.steps[1]!.details[0]).toMatch(/^at /);
  });

  it('a boot the host refuses is a report with an error, not a crash', async () => {
    const rep = await run('boot: {firmware: no-such-image}\nsteps: [{report: }]\n');
    expect(rep.ok).toBe(false);
    expect(rep.error).toMatch(/^boot: .*no-such-image/);
    expect(rep.skipped).toBe(1);
  });
});

describe('nfp-emu run', () => {
  it('exits 2 with file:line:col for an invalid scenario, 1 for a failing one, 0 when it passes', async () => {
    const bad = join(DIR, 'bad.yaml');
    writeFileSync(bad, 'steps:\n  - sendd: {}\n');
    const c1 = capture();
    expect(await runScenarioFile(bad, {}, c1.io)).toBe(2);
    expect(c1.err()).toBe(`nfp-emu run: ${bad}:2:5: unknown field 'sendd' in step 1 (expected one of: load, attach, detach, map, send, expect, bpftool, ip, dmesg, capture, report, together, name, fails)\n`);
    const failing = join(DIR, 'failing.yaml');
    writeFileSync(failing, 'boot: {firmware: none}\nsteps:\n  - expect: {stats: {lo: {rx_packets: 1}}}\n');
    const c2 = capture();
    expect(await runScenarioFile(failing, { firmwareMode: 'in-process' }, c2.io)).toBe(1);
    expect(c2.out()).toContain('FAIL 1   expect');
    expect(c2.out()).toContain('stats of lo: rx_packets 0, expected 1');
    expect(c2.out()).toMatch(/FAIL: 0 of 1 steps passed/);
  });

  it('--json prints one JSON report', async () => {
    const c = capture();
    const rc = await runScenarioFile(join(SCENARIOS, 'host-xdp-drop.yaml'), { json: true, firmwareMode: 'in-process' }, c.io);
    expect(rc).toBe(0);
    const rep = JSON.parse(c.out()) as ScenarioReport;
    expect(rep.ok).toBe(true);
    expect(rep.host?.nic?.cores).toBe(60);
    const send = rep.steps.find((s) => s.kind === 'send')!;
    expect((send.data as { fates: { drop: number } }).fates.drop).toBe(1000);
  });
});
