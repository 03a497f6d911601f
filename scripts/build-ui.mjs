#!/usr/bin/env node
// Bundles the web app `meddiff serve` serves (src/server/ui/) with esbuild: app.ts and its imports
// into one app.js, beside index.html and style.css. buildUi() returns the files in memory (the
// server's fallback when dist/ui is missing or stale); with `outDir` it also writes them there.
//   node scripts/build-ui.mjs [--out-dir <dir>]      (default dist/ui)
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const uiDir = path.join(root, 'src', 'server', 'ui');

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

/** Writes through a temp file and a rename, so a server reading the folder never sees half a file. */
function writeAtomic(file, body) {
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  fs.writeFileSync(tmp, body);
  try {
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

/**
 * @param {{ outDir?: string }} [options]
 * @returns {Promise<Map<string, { body: Buffer, type: string }>>} file name → contents and MIME type
 */
export async function buildUi({ outDir } = {}) {
  // Imported here, not at the top, so `npm ci --omit=dev` (no esbuild) can still load this module
  // and report what is missing.
  const esbuild = await import('esbuild');
  const result = await esbuild.build({
    entryPoints: [path.join(uiDir, 'app.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2020',
    minify: true,
    sourcemap: false,
    legalComments: 'none',
    tsconfig: path.join(uiDir, 'tsconfig.json'),
    outfile: 'app.js',
    write: false,
    logLevel: 'silent',
  });
  const files = new Map();
  for (const f of result.outputFiles) files.set(path.basename(f.path), { body: Buffer.from(f.contents), type: TYPES[path.extname(f.path)] });
  for (const name of ['index.html', 'style.css']) {
    files.set(name, { body: fs.readFileSync(path.join(uiDir, name)), type: TYPES[path.extname(name)] });
  }
  if (outDir) {
    fs.mkdirSync(outDir, { recursive: true });
    for (const [name, { body }] of files) writeAtomic(path.join(outDir, name), body);
  }
  return files;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const at = process.argv.indexOf('--out-dir');
  const outDir = at > 0 && process.argv[at + 1] ? path.resolve(process.argv[at + 1]) : path.join(root, 'dist', 'ui');
  const t0 = performance.now();
  try {
    const files = await buildUi({ outDir });
    const kb = [...files.values()].reduce((n, f) => n + f.body.length, 0) / 1024;
    process.stdout.write(`meddiff: built the web app into ${path.relative(process.cwd(), outDir) || '.'}/ (${files.size} files, ${kb.toFixed(0)} KB) in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  } catch (e) {
    process.stderr.write(`meddiff: building the web app failed: ${e.message}\n`);
    process.exit(1);
  }
}
