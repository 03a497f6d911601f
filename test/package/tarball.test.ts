// The npm package as a user gets it: scripts/pack-test.mjs packs the repo, installs the tarball into a
// temp project, type-checks a TypeScript consumer against the published declarations, runs a JS
// consumer (loadPipeline + classify on a shipped model) and compares it with the same call on src/.
// Backend-independent and slow (npm install): scripts/run-tests.mjs runs test/package/ on the first
// backend pass only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';

test('the packed tarball installs, type-checks and classifies like the sources', { timeout: 600_000 }, () => {
  const r = spawnSync(process.execPath, [path.resolve('scripts/pack-test.mjs')], { encoding: 'utf8', timeout: 590_000 });
  process.stdout.write(r.stdout.split('\n').filter((l) => l.startsWith('pack-test:')).map((l) => `# ${l}\n`).join(''));
  assert.equal(r.status, 0, `pack-test failed:\n${r.stderr}\n${r.stdout}`);
  assert.match(r.stdout, /pack-test: OK/);
});
