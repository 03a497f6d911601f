#!/usr/bin/env node
// `npm run build` and the `prepare` script (run by `npm ci` / `npm install` in a clone, by `npm pack`
// and `npm publish`): compiles src/ to dist/ with tsconfig.build.json.
//
//   - dist/ is deleted first, so files moved or removed in src/ leave nothing stale behind.
//   - tsc rewrites `./x.ts` to `./x.js` in the emitted JS (rewriteRelativeImportExtensions) but not in the
//     declarations (microsoft/TypeScript#61037). TypeScript reads `.ts` specifiers in a .d.ts fine, other
//     tools (IDEs, api-extractor) do not, so they are rewritten here too. Same length, so the .d.ts.map
//     files stay exact.
//   - `--out-dir <dir>` builds elsewhere (scripts/pack-test.mjs, which must not touch the repo's dist/).
//   - As `prepare` without TypeScript installed (`npm ci --omit=dev`) it prints one line and exits 0;
//     bin/meddiff.js then says what to run.
//   - The web app of `meddiff serve` is bundled into dist/ui/ with esbuild (scripts/build-ui.mjs);
//     without esbuild (a dev dependency) that step prints one line and the build goes on: the server
//     then says what to run.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildUi } from './build-ui.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outAt = process.argv.indexOf('--out-dir');
const dist = outAt > 0 && process.argv[outAt + 1] ? path.resolve(process.argv[outAt + 1]) : path.join(root, 'dist');
const asPrepare = process.env.npm_lifecycle_event === 'prepare';

let tsc;
try {
  tsc = path.join(path.dirname(createRequire(import.meta.url).resolve('typescript/package.json')), 'bin', 'tsc');
} catch {
  const msg = 'meddiff: TypeScript is not installed (a dev dependency), dist/ not built; run npm install, then npm run build';
  if (asPrepare) {
    process.stdout.write(msg + '\n');
    process.exit(0);
  }
  process.stderr.write(msg + '\n');
  process.exit(1);
}

const t0 = performance.now();
fs.rmSync(dist, { recursive: true, force: true });
const r = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json'), '--outDir', dist], { cwd: root, stdio: 'inherit' });
if (r.status !== 0) {
  process.stderr.write(`meddiff: build failed (tsc exited with ${r.status ?? r.signal})\n`);
  process.exit(1);
}

// `from './x.ts'`, `import('./x.ts')`, `export * from '../y/index.ts'`; never `.d.ts`, never bare specifiers.
const SPEC = /((?:\bfrom|\bimport)\s*\(?\s*)(['"])(\.{1,2}\/[^'"\n]*?)(?<!\.d)\.(m|c)?ts\2/g;
let files = 0, rewritten = 0;
function walk(dir) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p);
    else if (/\.d\.[mc]?ts$/.test(e.name)) {
      files++;
      const text = fs.readFileSync(p, 'utf8');
      const out = text.replace(SPEC, (_m, pre, q, spec, mc) => {
        rewritten++;
        return `${pre}${q}${spec}.${mc ?? ''}js${q}`;
      });
      if (out !== text) fs.writeFileSync(p, out);
    }
  }
}
walk(dist);

let ui = ', web app in ui/';
try {
  await buildUi({ outDir: path.join(dist, 'ui') });
} catch (e) {
  if (e?.code !== 'ERR_MODULE_NOT_FOUND' || !String(e.message).includes("'esbuild'")) {
    process.stderr.write(`meddiff: build failed (the web app: ${e?.message ?? e})\n`);
    process.exit(1);
  }
  process.stdout.write('meddiff: esbuild is not installed (a dev dependency), the web app of meddiff serve not built; run npm install, then npm run build\n');
  ui = ', no web app';
}
process.stdout.write(`meddiff: built ${outAt > 0 ? dist : 'dist'}/ in ${((performance.now() - t0) / 1000).toFixed(1)} s (${files} declaration files, ${rewritten} import paths rewritten to .js${ui})\n`);
