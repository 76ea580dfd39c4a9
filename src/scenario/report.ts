// The scenario report as a user reads it: a header naming the scenario and the host it booted, one line
// per step (its number, its line in the file, what it did, ok or FAIL) with a few indented lines under
// it, and a closing summary with each device's counters. `--json` prints the ScenarioReport itself.

import type { ScenarioReport, StepResult } from './runner.js';

const pad = (s: string, n: number): string => (s.length >= n ? s : s + ' '.repeat(n - s.length));

/** The lines of one step (the runner streams them as steps end). */
export function formatStep(r: StepResult): string {
  const mark = r.ok ? 'ok  ' : 'FAIL';
  const title = r.title !== undefined ? `${r.title}: ` : '';
  let t = `${mark} ${pad(`${r.index}`, 3)} ${pad(r.kind, 8)} ${title}${r.summary}  (line ${r.line}, ${r.ms < 10 ? r.ms.toFixed(1) : Math.round(r.ms)} ms)\n`;
  for (const d of r.details) t += `            ${d.replace(/\n/g, '\n            ')}\n`;
  if (r.error !== undefined) t += `            error: ${r.error}\n`;
  return t;
}

export function formatHeader(rep: Pick<ScenarioReport, 'name' | 'file' | 'description' | 'host'>): string {
  let t = `scenario ${rep.name} (${rep.file})\n`;
  if (rep.description !== undefined) t += `  ${rep.description.trim().replace(/\n/g, '\n  ')}\n`;
  const h = rep.host;
  if (h !== null) {
    const nic = h.nic === null
      ? (h.firmware === null ? 'no NIC' : `NIC firmware ${h.firmware}`)
      : `NIC ${h.firmware}: ${h.nic.cores} cores at ${h.nic.clockMhz} MHz, BPF ABI ${h.nic.abi}${h.nic.offload ? '' : ' (offload refused)'}, ports ${h.nic.ports.join(', ')}`;
    t += `host: ${h.cpus} CPUs, BPF ${h.jit ? 'JIT' : 'interpreter'}; ${nic}${h.devices.length > 0 ? `; host devices ${h.devices.join(', ')}` : ''}\n`;
  }
  return t;
}

export function formatSummary(rep: ScenarioReport): string {
  let t = '';
  if (rep.error !== undefined) t += `error: ${rep.error}\n`;
  if (rep.devices.length > 0) {
    t += 'devices:\n';
    for (const d of rep.devices) {
      const s = d.stats;
      const parts = [`rx ${s['rx_packets'] ?? 0} (${s['rx_bytes'] ?? 0} B)`, `tx ${s['tx_packets'] ?? 0}`];
      if (s['rx_dropped']) parts.push(`dropped ${s['rx_dropped']}`);
      if (s['rx_errors']) parts.push(`rx errors ${s['rx_errors']}`);
      parts.push(`to the stack ${d.stack}`);
      const x = Object.entries(d.xdp).filter(([, n]) => n !== 0).map(([m, n]) => `${m} ${n}`);
      if (x.length > 0) parts.push(`XDP ran ${x.join(', ')}`);
      t += `  ${pad(`${d.name}${d.up ? '' : ' (down)'}`, 12)} ${parts.join(', ')}\n`;
    }
  }
  const passed = rep.steps.filter((s) => s.ok).length;
  const total = rep.steps.length + rep.skipped;
  t += rep.ok
    ? `PASS: ${passed} of ${total} steps in ${(rep.ms / 1000).toFixed(2)} s\n`
    : `FAIL: ${passed} of ${total} steps passed${rep.skipped > 0 ? `, ${rep.skipped} not run` : ''} (${(rep.ms / 1000).toFixed(2)} s)\n`;
  return t;
}

export function formatReport(rep: ScenarioReport): string {
  return formatHeader(rep) + rep.steps.map(formatStep).join('') + formatSummary(rep);
}

/** The report as JSON (bigints as numbers where they fit, else strings). */
export function reportJson(rep: ScenarioReport): string {
  return `${JSON.stringify(rep, (_k, v: unknown) => (typeof v === 'bigint' ? (v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString()) : v instanceof Uint8Array ? Array.from(v) : v), 2)}\n`;
}
