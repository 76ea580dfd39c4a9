// Differential test against the real kernel: every deterministic XDP program in test/progs runs the
// same packet sequence through BPF_PROG_TEST_RUN on the machine's kernel and on nfp-emu's interpreter
// and JIT; return values and output packets must be identical, and so must every map's contents after
// the sequence (per-CPU maps compared by their per-CPU sum, since the kernel's test run uses whichever
// CPU it is scheduled on).
import { afterAll, describe, expect, it } from 'vitest';
import { KernelOracle, kernelSkipReason, type MapEntry } from '../oracle/kernel.js';
import * as pk from '../oracle/packets.js';
import { TEST_OBJECTS } from '../oracle/programs.js';
import { dumpEmu, loadEmu, runEmu, type Entry } from './emu-harness.js';

const skip = kernelSkipReason();

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function kernelEntries(entries: MapEntry[], percpu: boolean): Entry[] {
  return entries.map((e) => ({ key: hex(e.key), values: percpu ? e.values.map(hex) : [hex(e.value)] }))
    .sort((a, b) => a.key.localeCompare(b.key));
}

/** Per-CPU values folded into a sum per 8-byte word, so placement on CPUs does not matter. */
function fold(entries: Entry[]): Entry[] {
  return entries.map((e) => {
    if (e.values.length <= 1) return e;
    const words = e.values[0]!.length / 16;
    const sums = Array.from({ length: words }, (_, w) => e.values.reduce((s, v) => s + Buffer.from(v.slice(w * 16, w * 16 + 16).padEnd(16, '0'), 'hex').readBigUInt64LE(0), 0n));
    return { key: e.key, values: [sums.map((s) => s.toString(16)).join(',')] };
  });
}

describe.skipIf(skip !== '')(`nfp-emu vs the kernel on test/progs${skip === '' ? '' : ` (skipped: ${skip})`}`, () => {
  const oracle = skip === '' ? new KernelOracle() : undefined;
  afterAll(() => oracle?.cleanup());

  for (const obj of TEST_OBJECTS.filter((o) => o.deterministic)) {
    it(`${obj.name}: verdicts, packets and maps agree`, () => {
      const theirs = oracle!.load(`${obj.name}`.startsWith('/') ? obj.name : `${new URL(`../progs/${obj.name}.o`, import.meta.url).pathname}`);
      const interp = loadEmu(obj.name);
      const jit = loadEmu(obj.name);
      for (const prog of obj.progs) {
        for (const [n, frame] of pk.diffPackets().entries()) {
          const k = oracle!.run(theirs.progs[prog]!, frame);
          for (const [engine, emu] of [['interpreter', interp], ['jit', jit]] as const) {
            const ours = runEmu(emu, prog, frame, engine);
            expect({ retval: ours.retval, data: hex(ours.data_out!) }, `${prog} packet ${n} on the ${engine}`)
              .toEqual({ retval: k.retval, data: hex(k.dataOut) });
          }
        }
      }
      for (const map of obj.maps) {
        const info = oracle!.mapInfo(theirs.maps[map]!);
        if (info.type === 'prog_array' || info.type === 'perf_event_array') continue; // fds, not data
        const percpu = info.type.startsWith('percpu') || info.type.startsWith('lru_percpu');
        const expected = fold(kernelEntries(oracle!.mapDump(theirs.maps[map]!), percpu));
        expect(fold(dumpEmu(interp, map)), `map ${map} (interpreter)`).toEqual(expected);
        expect(fold(dumpEmu(jit, map)), `map ${map} (JIT)`).toEqual(expected);
      }
    });
  }
});
