#!/usr/bin/env node
// Records what the machine's real bpftool (v7.1, libbpf v1.1) prints for the commands of each
// `*.cases` file next to this script, into `*.golden`, which test/cli/bpftool-golden.test.ts replays
// against the emulated bpftool. Run as root where bpftool and unshare exist:
//
//     node test/cli/bpftool-golden/capture.mjs            # every .cases file
//     node test/cli/bpftool-golden/capture.mjs map-ops    # one
//     node test/cli/bpftool-golden/capture.mjs --dir D    # the .cases in D, goldens written to D
//
// Everything runs in a private mount namespace with a fresh bpffs on /sys/fs/bpf (in place of the
// machine's, not stacked on it, or `-f` would list each pin once per mount), so the pins of the cases
// never touch the machine's bpffs and their objects go away with the namespace; and in a fresh network
// namespace, whose only device is a loopback `lo` (ifindex 1, down) as on a freshly booted emulated
// host, so XDP attached by the cases touches no device of the machine. Commands run
// from the repository root, so object paths in the cases are relative to it.
//
// A .cases file, line by line:
//   # ...                     a comment (not copied)
//   @mkdir PATH               make a directory (on the bpffs: the emulated replay makes it there too)
//   @hexfile PATH HEX         write a file with these bytes (packets for `prog run`)
//   @textfile PATH JSON       write a file with this text, given as a JSON string (batch files)
//   @mask REGEX REPLACEMENT   for the next command only: a normalization both sides get (JSON strings)
//   @unordered                for the next command only: its output lines (or JSON array) as a set
//   @known WHY                the next command's output differs for a reason another part owns
//   $ ARGS...                 run `bpftool ARGS...` (words split on blanks)
// The .golden file repeats the directives and, after each `$` line, the output: `> ` stdout lines,
// `! ` stderr lines, `\ no newline` when stdout does not end with one, and `= STATUS`.

import { spawnSync } from 'node:child_process';
import { constants } from 'node:os';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..', '..');

if (process.env.NFPEMU_CAPTURE_INNER !== '1') {
  const r = spawnSync('unshare', ['-m', '-n', '--propagation', 'private', 'sh', '-c', 'umount -l /sys/fs/bpf 2>/dev/null; mount -t bpf bpf /sys/fs/bpf && exec "$0" "$@"', process.execPath, fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: 'inherit', env: { ...process.env, NFPEMU_CAPTURE_INNER: '1' },
  });
  process.exit(r.status ?? 1);
}

const argv = process.argv.slice(2);
const dirAt = argv.indexOf('--dir');
const dir = dirAt >= 0 ? argv.splice(dirAt, 2)[1] : here;
const only = argv;
const files = readdirSync(dir).filter((f) => f.endsWith('.cases') && (only.length === 0 || only.includes(f.replace(/\.cases$/, ''))));
for (const f of files) {
  const out = [];
  const made = [];
  for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    out.push(line);
    if (line.startsWith('@mkdir ')) {
      mkdirSync(line.slice(7), { recursive: true });
    } else if (line.startsWith('@hexfile ')) {
      const [, path, hex] = line.split(' ');
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, Buffer.from(hex, 'hex'));
      made.push(path);
    } else if (line.startsWith('@textfile ')) {
      const sp = line.indexOf(' ', 10);
      const path = line.slice(10, sp);
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, JSON.parse(line.slice(sp + 1)));
      made.push(path);
    } else if (line.startsWith('@mask ') || line === '@unordered' || line.startsWith('@known ')) {
      // read by the test
    } else if (line.startsWith('$ ')) {
      const args = line.slice(2).split(/\s+/).filter((w) => w !== '');
      const r = spawnSync('bpftool', args, { cwd: root, encoding: 'latin1', maxBuffer: 64 << 20 });
      const stdout = r.stdout ?? '';
      const lines = stdout.split('\n');
      const noNl = !stdout.endsWith('\n') && stdout !== '';
      if (!noNl) lines.pop();
      for (const l of lines) out.push(`> ${l}`);
      if (noNl) out.push('\\ no newline');
      const err = (r.stderr ?? '').split('\n');
      if (err[err.length - 1] === '') err.pop();
      for (const l of err) out.push(`! ${l}`);
      // A signal ends it as the shell reports it: 128 + the signal's number.
      out.push(`= ${r.status ?? 128 + (constants.signals[r.signal] ?? 0)}`);
    } else {
      throw new Error(`${f}: cannot read line: ${line}`);
    }
  }
  for (const p of made) rmSync(p, { force: true });
  writeFileSync(join(dir, f.replace(/\.cases$/, '.golden')), `${out.join('\n')}\n`);
  console.log(`${f}: ${out.filter((l) => l.startsWith('$ ')).length} commands`);
}
