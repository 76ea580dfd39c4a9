// `npm run fuzz`: the long soundness-fuzzing run (issue 4). Seeds are consecutive from --from, so any
// failure reproduces with `npm run fuzz -- --seed N`.
//
//   npm run fuzz                                   5 minutes from seed 1000000
//   npm run fuzz -- --seconds 3600 --from 1       an hour from seed 1
//   npm run fuzz -- --count 50000                 50000 programs
//   npm run fuzz -- --seed 98                     one program: listing, verdict, log, runs
//   npm run fuzz -- --kernel 5000                 also compare 5000 verdicts with the machine's kernel
//
// Exits 1 when a failure no KNOWN_BUGS entry explains was found (or a verdict divergence of the
// dangerous kind that none explains), 0 otherwise. Known failures are counted and listed by bug.

import { disassemble } from '../../../src/bpf/disasm.js';
import { generate } from './gen.js';
import { KNOWN_BUGS, knownBugOf, knownDivergenceOf } from './known-bugs.js';
import { kernelVerdicts, kernelVerdictTool } from './oracle.js';
import { FuzzHost, formatFailure, formatStats, fuzzOne, newStats, packetsFor, type Failure } from './runner.js';
import { Rng } from './gen.js';

interface Args {
  from: number;
  count: number;
  seconds: number;
  packets: number;
  seed: number | undefined;
  kernel: number;
}

function parseArgs(argv: readonly string[]): Args {
  const a: Args = { from: 1_000_000, count: Infinity, seconds: 300, packets: 16, seed: undefined, kernel: 0 };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = Number(argv[++i]);
    if (!Number.isFinite(value)) throw new Error(`${flag} needs a number`);
    switch (flag) {
      case '--from': a.from = value; break;
      case '--count': a.count = value; a.seconds = a.seconds === 300 ? Infinity : a.seconds; break;
      case '--seconds': a.seconds = value; break;
      case '--packets': a.packets = value; break;
      case '--seed': a.seed = value; break;
      case '--kernel': a.kernel = value; break;
      default: throw new Error(`unknown option ${flag} (--from --count --seconds --packets --seed --kernel)`);
    }
  }
  return a;
}

/** One seed, verbosely: what was generated, the verdict with its log, and each run. */
function showSeed(seed: number, packets: number): void {
  const host = new FuzzHost();
  const g = generate(seed);
  console.log(`seed ${seed}: snippets ${g.snippets.join(', ')}`);
  console.log(disassemble(g.insns, { flavour: 'llvm', lossless: true, listing: true }).join('\n'));
  const r = host.load(g.insns, 2);
  console.log(r.ok ? '\nverdict: accepted' : `\nverdict: refused, ${r.errno}: ${r.message}`);
  console.log(r.log ?? '');
  if (!r.ok) return;
  const rng = new Rng(seed ^ 0x5eed5eed);
  for (const pkt of packetsFor(rng, packets)) {
    host.fillMaps(rng);
    const f = host.run(seed, r.prog, pkt, g.insns);
    console.log(f === undefined ? `run on ${pkt.bytes.length - pkt.meta} bytes (+${pkt.meta} meta): r0 = ${host.x.R[0]! >>> 0}` : formatFailure(f));
  }
}

function main(): number {
  const args = parseArgs(process.argv.slice(2));
  if (args.seed !== undefined) {
    showSeed(args.seed, args.packets);
    return 0;
  }
  const host = new FuzzHost();
  const stats = newStats();
  const byBug = new Map<string, number[]>();
  const unknown: Failure[] = [];
  const t0 = Date.now();
  let lastReport = t0;
  let slowest = { seed: 0, ms: 0 };
  for (let seed = args.from; seed < args.from + args.count && Date.now() - t0 < args.seconds * 1000; seed++) {
    const s0 = Date.now();
    const f = fuzzOne(host, generate(seed), args.packets, stats);
    const ms = Date.now() - s0;
    if (ms > slowest.ms) slowest = { seed, ms };
    if (f !== undefined) {
      const bug = knownBugOf(f.insns);
      if (bug === undefined) {
        unknown.push(f);
        console.log(formatFailure(f));
      } else byBug.set(bug.id, [...(byBug.get(bug.id) ?? []), seed]);
    }
    if (Date.now() - lastReport > 30_000) {
      lastReport = Date.now();
      console.log(`... seed ${seed}: ${stats.programs} programs, ${stats.accepted} accepted, ${stats.failures.length} failures (${unknown.length} unknown)`);
    }
  }
  console.log(formatStats(stats, Date.now() - t0));
  console.log(`  slowest program: seed ${slowest.seed}, ${slowest.ms} ms`);
  for (const b of KNOWN_BUGS) {
    const seeds = byBug.get(b.id) ?? [];
    if (seeds.length > 0) console.log(`  known bug ${b.id}: ${seeds.length} programs (seeds ${seeds.slice(0, 10).join(', ')}${seeds.length > 10 ? ', ...' : ''})`);
  }
  console.log(`  unknown failures: ${unknown.length}${unknown.length > 0 ? ` (seeds ${unknown.slice(0, 20).map((f) => f.seed).join(', ')})` : ''}`);

  let unexplained = 0;
  if (args.kernel > 0) {
    const tool = kernelVerdictTool();
    if ('reason' in tool) console.log(`kernel comparison skipped: ${tool.reason}`);
    else {
      const progs = Array.from({ length: args.kernel }, (_, i) => generate(args.from + i));
      const verdicts = kernelVerdicts(progs.map((g) => g.insns));
      const cmp = new Host2(host);
      progs.forEach((g, i) => cmp.compare(g.seed, g.insns, verdicts[i]!));
      unexplained = cmp.report();
    }
  }
  return unknown.length > 0 || unexplained > 0 ? 1 : 0;
}

/** Tallies of nfp-emu vs kernel verdicts. */
class Host2 {
  private both = 0;
  private neither = 0;
  private stricter = 0;
  private readonly known = new Map<string, number[]>();
  private readonly unexplained: string[] = [];
  constructor(private readonly host: FuzzHost) {}

  compare(seed: number, insns: Parameters<FuzzHost['load']>[0], k: ReturnType<typeof kernelVerdicts>[number]): void {
    const r = this.host.load(insns);
    if (r.ok) this.host.close(r.fd);
    if (r.ok && k.ok) this.both++;
    else if (!r.ok && !k.ok) this.neither++;
    else if (!r.ok) this.stricter++;
    else if (!k.ok) {
      const bug = knownDivergenceOf(insns, k.reason, k.errno);
      if (bug === undefined) this.unexplained.push(`seed ${seed}: kernel ${k.errno} "${k.reason}"`);
      else this.known.set(bug.id, [...(this.known.get(bug.id) ?? []), seed]);
    }
  }

  report(): number {
    const dangerous = [...this.known.values()].reduce((n, s) => n + s.length, 0) + this.unexplained.length;
    console.log(`kernel comparison: both accept ${this.both}, both refuse ${this.neither}, kernel refuses but nfp-emu accepts ${dangerous}, nfp-emu refuses but the kernel accepts ${this.stricter}`);
    for (const [id, seeds] of this.known) console.log(`  known bug ${id}: ${seeds.length} (seeds ${seeds.slice(0, 10).join(', ')})`);
    for (const u of this.unexplained.slice(0, 50)) console.log(`  UNEXPLAINED ${u}`);
    return this.unexplained.length;
  }
}

process.exitCode = main();
