// Worker threads cannot load .ts files (Node 20 has no type stripping, and vitest's transform only
// runs in the test's own thread). So that the reader threads of the concurrency tests run the REAL
// map and RCU code rather than a re-implementation, this transpiles src/kernel/rcu.ts,
// src/kernel/maps/create.ts and everything they import (relative `.js` imports, NodeNext style)
// with the project's own TypeScript compiler into a temporary directory, keeping the source tree
// layout. The worker body (maps-worker.mjs) imports from there.

import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const ENTRIES = ['src/kernel/rcu.ts', 'src/kernel/maps/create.ts'];

let built: string | undefined;

/** Transpile the entries and their imports once per test process; returns the output root. */
export function buildWorkerModules(): string {
  if (built !== undefined) return built;
  const out = mkdtempSync(join(tmpdir(), 'nfp-emu-maps-worker-'));
  writeFileSync(join(out, 'package.json'), '{"type":"module"}\n');
  const seen = new Set<string>();
  const queue = ENTRIES.map((e) => resolve(repo, e));
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const src = readFileSync(file, 'utf8');
    for (const m of src.matchAll(/from\s+'(\.{1,2}\/[^']+)\.js'/g)) queue.push(resolve(dirname(file), `${m[1]}.ts`));
    const js = ts.transpileModule(src, {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true },
      fileName: file,
    }).outputText;
    const dest = join(out, relative(repo, file)).replace(/\.ts$/, '.js');
    mkdirSync(dirname(dest), { recursive: true });
    writeFileSync(dest, js);
  }
  built = out;
  return out;
}

/** Remove the transpiled tree (call from afterAll, once the workers are gone). */
export function cleanupWorkerModules(): void {
  if (built === undefined) return;
  rmSync(built, { recursive: true, force: true });
  built = undefined;
}

export const WORKER_BODY = fileURLToPath(new URL('./maps-worker.mjs', import.meta.url));
