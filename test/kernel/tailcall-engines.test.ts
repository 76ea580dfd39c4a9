// bpf_tail_call's limit is per run: every run of a program starts with no tail calls taken, on the
// interpreter and on the JIT, in one-shot test runs and in repeated ones (runN). xdp_tc_chain's tc_loop
// counts itself and tail-calls itself until MAX_TAIL_CALL_CNT (33) stops it: 34 hits per run.
import { describe, expect, it } from 'vitest';
import * as pk from '../oracle/packets.js';
import { dumpEmu, loadEmu, runEmu } from './emu-harness.js';

const ST_LOOP = 4;
const loopHits = (emu: ReturnType<typeof loadEmu>): bigint =>
  Buffer.from(dumpEmu(emu, 'hits')[ST_LOOP]!.values[0]!, 'hex').readBigUInt64LE(0);

describe('the tail-call count starts again with every run', () => {
  for (const engine of ['interpreter', 'jit'] as const) {
    it(`${engine}: one run after another, then a repeated run`, () => {
      const emu = loadEmu('xdp_tc_chain');
      const frame = pk.udp4Frame({ dstPort: 9 });
      for (let run = 1; run <= 3; run++) {
        expect(runEmu(emu, 'tc_loop', frame, engine).retval).toBe(1); // XDP_DROP after the last call
        expect(loopHits(emu), `after run ${run}`).toBe(34n * BigInt(run));
      }
      runEmu(emu, 'tc_loop', frame, engine, 5);
      expect(loopHits(emu)).toBe(34n * 8n);
    });
  }
});
