#!/usr/bin/env node
// Runs every test/**/*.test.ts with node's test runner, once per backend given
// (default: the fastest available, then pure wasm), so both compute paths stay green.
// test/package/ (packs and installs the npm tarball), test/browser/ (the web app in Debian's chromium) and
// the server's queue tests (timing of jobs, not their numbers) are backend-independent and slow: first pass only.
//   node scripts/run-tests.mjs [auto|native|wasm|cpu ...] [-- file filter substrings]
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const argv = process.argv.slice(2);
const sep = argv.indexOf('--');
const backends = (sep >= 0 ? argv.slice(0, sep) : argv);
const filters = sep >= 0 ? argv.slice(sep + 1) : [];
if (backends.length === 0) backends.push('auto', 'wasm');
// Without the native addon 'auto' is pure wasm: run that once, not twice.
const nativeBuilt = fs.existsSync('native/build/Release/meddiff_native.node') && process.env.MEDDIFF_NATIVE !== '0';
if (!nativeBuilt && backends.includes('auto') && backends.includes('wasm')) backends.splice(backends.indexOf('auto'), 1);

function find(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? find(p) : e.name.endsWith('.test.ts') ? [p] : [];
  });
}
const files = find('test').sort().filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)));
const ONCE = ['test/package/', 'test/browser/', 'test/server/queue.test.ts'];
const once = (f) => ONCE.some((p) => f.split(path.sep).join('/').startsWith(p));
let failed = false;
for (const [i, backend] of backends.entries()) {
  const run = files.filter((f) => i === 0 || !once(f));
  if (run.length === 0) continue;
  process.stdout.write(`\n=== tests on backend: ${backend} (${run.length} files) ===\n`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', ...run], {
    // fp32 unless asked: the suite checks kernels and models against fp32 references. The default
    // ('auto': bf16 on AVX512_BF16 CPUs) is tested where it matters: test/runtime/precision.test.ts,
    // the shipped models' CI checks (test/models/shipped.test.ts) and the CLI's auto test.
    stdio: 'inherit', env: { ...process.env, MEDDIFF_BACKEND: backend, MEDDIFF_PRECISION: process.env.MEDDIFF_PRECISION ?? 'fp32' },
  });
  if (r.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
