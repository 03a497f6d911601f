#!/usr/bin/env node
// The `meddiff` command. Runs the compiled CLI (dist/cli/index.js, built by `npm run build`, which
// `npm ci` runs through the `prepare` script and which ships in the npm package).
//
// Falls back to the TypeScript sources through tsx (a dev dependency) when
//   - dist/ is missing (a clone where the build has not run),
//   - MEDDIFF_FROM_SOURCE=1, or
//   - in a source checkout (tsconfig.json next to src/; never in an installed package), a file in src/
//     is newer than dist/cli/index.js: so editing src/ and running the command, or the tests that
//     spawn it, never runs a stale build.
// Without dist/ and without tsx it says to run `npm run build`.
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';

const compiled = new URL('../dist/cli/index.js', import.meta.url);
const source = new URL('../src/cli/index.ts', import.meta.url);

function newestSource(dir) {
  let newest = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = new URL(e.name + (e.isDirectory() ? '/' : ''), dir);
    newest = Math.max(newest, e.isDirectory() ? newestSource(p) : fs.statSync(p).mtimeMs);
  }
  return newest;
}

function useSource() {
  if (!fs.existsSync(source)) return false;
  if (process.env.MEDDIFF_FROM_SOURCE === '1' || !fs.existsSync(compiled)) return true;
  if (!fs.existsSync(new URL('../tsconfig.json', import.meta.url))) return false;
  try {
    return newestSource(new URL('../src/', import.meta.url)) > fs.statSync(compiled).mtimeMs;
  } catch {
    return false;
  }
}

let entry = compiled;
if (useSource()) {
  let register = null;
  try {
    ({ register } = await import('tsx/esm/api'));
  } catch {
    if (!fs.existsSync(compiled)) {
      process.stderr.write(`meddiff: the compiled CLI ${fileURLToPath(compiled)} is missing and tsx (a dev dependency) is not installed to run the sources.\nRun: npm install && npm run build\n`);
      process.exit(1);
    }
  }
  if (register) {
    register();
    entry = source;
  }
} else if (!fs.existsSync(compiled)) {
  process.stderr.write(`meddiff: the compiled CLI ${fileURLToPath(compiled)} is missing. Run: npm run build\n`);
  process.exit(1);
}
const { main } = await import(entry.href);
await main(process.argv);
