#!/usr/bin/env node
// `npm run test:package` (and test/package/tarball.test.ts): the npm package as a user gets it.
//
//   1. stages the files `npm pack` would take (its own dry-run list, so the "files" whitelist is what is
//      tested), builds dist/ into the stage (never touching the repo's dist/, which other tests may be
//      running) and packs it; checks what the tarball holds and leaves out;
//   2. installs the tarball into a temp project (`type: module`) from the npm cache `npm ci` filled,
//      and puts the repo's native addon where the installed package looks for it (see PACK_TEST_NATIVE);
//   3. type-checks scripts/package-consumer/consumer.ts there with the repo's tsc (nodenext, strict,
//      our declarations fully checked; errors inside third-party .d.ts are counted, not fatal), with
//      an import of every "exports" subpath;
//   4. imports every subpath, runs scripts/package-consumer/consumer.mjs on the installed package and
//      `meddiff info --json` through the installed bin;
//   5. runs the same consumer.mjs on the repo's src/index.ts (tsx) and fails on any difference.
//
//   node scripts/pack-test.mjs [--keep]   --keep: leave the temp folders and print where (PACK_TEST_KEEP_ON_FAIL=1: on failure only)
// Env: MEDDIFF_BACKEND applies to both runs. PACK_TEST_NATIVE: 'copy' (default; the package's install
// script runs with MEDDIFF_SKIP_NATIVE=1 and the repo's built addon, if any, is copied to
// node_modules/meddiff/native/build/Release/: saves the ~15 s compile), 'build' (the install script
// compiles it in node_modules/meddiff as for a user) or 'off' (MEDDIFF_NATIVE=0 on both sides).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isDeepStrictEqual } from 'node:util';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const keep = process.argv.includes('--keep');
const nativeMode = process.env.PACK_TEST_NATIVE ?? 'copy';
if (!['copy', 'build', 'off'].includes(nativeMode)) { process.stderr.write(`pack-test: PACK_TEST_NATIVE must be copy, build or off\n`); process.exit(1); }
const ADDON = path.join('native', 'build', 'Release', 'meddiff_native.node');
// The call under test: one shipped model, the two chest X-ray fixtures, loaded by path.
const MODEL = path.join(root, 'models', 'pneumoniamnist-unet');
const IMAGES = ['nih_cxr14_00000001_000.png', 'nih_cxr14_00027426_000.png'].map((f) => path.join(root, 'data', 'fixtures', f));
// In the tarball: these must be there, nothing under these may be.
const MUST = ['package.json', 'README.md', 'LICENSE', 'bin/meddiff.js', 'dist/index.js', 'dist/index.d.ts', 'dist/cli/index.js',
  'dist/server/worker.js', 'dist/ui/index.html', 'dist/ui/app.js', 'dist/ui/style.css',
  'native/build.mjs', 'native/binding.gyp'];
const NEVER = ['models/', 'data/', 'test/', 'native/build/', 'node_modules/', 'scripts/', 'bench/', 'docs/', 'reports/', '.ci/'];

const t00 = performance.now();
let t0 = performance.now();
function phase(name) {
  const now = performance.now();
  process.stdout.write(`pack-test: ${name} ${((now - t0) / 1000).toFixed(1)} s\n`);
  t0 = now;
}
const children = new Set();
function fail(msg) {
  for (const c of children) c.kill();
  process.stderr.write(`pack-test: FAIL: ${msg}\n`);
  if (keep || process.env.PACK_TEST_KEEP_ON_FAIL === '1') process.stderr.write(`pack-test: temp folders kept in ${tmp}\n`);
  else fs.rmSync(tmp, { recursive: true, force: true });
  process.exit(1);
}

// npm's lifecycle variables from an outer `npm test` must not leak into the npm calls below.
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) =>
  !/^npm_(package_|lifecycle_|command$|config_local_prefix$)/.test(k) && k !== 'INIT_CWD'));
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
/** Runs a command (asynchronously: the reference run goes on meanwhile); resolves to { code, out, err }. */
function exec(cmd, args, cwd, extraEnv = {}) {
  return new Promise((resolve) => {
    const c = spawn(cmd, args, { cwd, env: { ...env, ...extraEnv } });
    children.add(c);
    c.on('exit', () => children.delete(c));
    let out = '', err = '';
    c.stdout.on('data', (d) => { out += d; });
    c.stderr.on('data', (d) => { err += d; });
    c.on('error', (e) => resolve({ code: -1, out, err: err + e.message }));
    c.on('close', (code, signal) => resolve({ code: code ?? signal, out, err }));
  });
}
/** exec, failing on a non-zero exit; resolves to stdout. */
async function sh(cmd, args, cwd, extraEnv = {}) {
  const r = await exec(cmd, args, cwd, extraEnv);
  if (r.code !== 0) fail(`${cmd} ${args.join(' ')} (in ${cwd}) exited with ${r.code}:\n${r.err}${r.out}`);
  return r.out;
}
const lastJson = (text) => JSON.parse(text.slice(text.search(/^[[{]/m)));

for (const f of [MODEL, ...IMAGES]) if (!fs.existsSync(f)) { process.stderr.write(`pack-test: ${f} is missing\n`); process.exit(1); }
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'meddiff-pack-'));
const stage = path.join(tmp, 'stage'), project = path.join(tmp, 'project');
fs.mkdirSync(stage);
fs.mkdirSync(project);

// 5 (started first, it runs while npm works): the reference, from the repo's sources.
const consumerUrl = pathToFileURL(path.join(root, 'scripts', 'package-consumer', 'consumer.mjs')).href;
const runArgs = JSON.stringify([MODEL, IMAGES]);
const refCode = `const { run } = await import(${JSON.stringify(consumerUrl)});
const [model, images] = ${runArgs};
process.stdout.write(JSON.stringify(await run(await import(${JSON.stringify(pathToFileURL(path.join(root, 'src', 'index.ts')).href)}), model, images)) + '\\n');`;
const nativeEnv = nativeMode === 'off' ? { MEDDIFF_NATIVE: '0' } : {};
const reference = exec(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', refCode], root, nativeEnv)
  .then((r) => ({ ...r, seconds: (performance.now() - t00) / 1000 }));

// 1. stage + build + pack
const dry = lastJson(await sh(npm, ['pack', '--dry-run', '--json', '--ignore-scripts'], root))[0];
for (const { path: f } of dry.files) {
  if (f.startsWith('dist/')) continue;
  fs.mkdirSync(path.join(stage, path.dirname(f)), { recursive: true });
  fs.copyFileSync(path.join(root, f), path.join(stage, f));
}
await sh(process.execPath, [path.join(root, 'scripts', 'build.mjs'), '--out-dir', path.join(stage, 'dist')], root);
phase('build');
const packed = lastJson(await sh(npm, ['pack', '--json', '--ignore-scripts', '--pack-destination', tmp], stage))[0];
const tgz = path.join(tmp, packed.filename);
const inTar = packed.files.map((f) => f.path);
const missing = MUST.filter((f) => !inTar.includes(f));
if (missing.length) fail(`the tarball lacks ${missing.join(', ')}`);
const extra = inTar.filter((f) => NEVER.some((d) => f.startsWith(d)));
if (extra.length) fail(`the tarball holds what it should not: ${extra.slice(0, 10).join(', ')}${extra.length > 10 ? ` (+${extra.length - 10})` : ''}`);
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const subpaths = [];
for (const [key, target] of Object.entries(pkg.exports)) {
  if (key === '.' || key === './package.json') continue;
  const js = (typeof target === 'string' ? target : target.default).replace(/^\.\//, '');
  if (!inTar.includes(js)) fail(`exports '${key}' -> ${js} is not in the tarball`);
  subpaths.push(`meddiff/${key.slice(2)}`);
}
phase(`pack (${inTar.length} files, ${(packed.size / 1024).toFixed(0)} KiB)`);

// 2. install into a fresh project
// meddiff's own dependencies at the versions the repo's lockfile holds (the comparison with the
// sources below is exact, so a newer patch release of tfjs or sharp must not slip in)
const lock = JSON.parse(fs.readFileSync(path.join(root, 'package-lock.json'), 'utf8'));
const overrides = Object.fromEntries(Object.keys(JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).dependencies ?? {})
  .map((d) => [d, lock.packages?.[`node_modules/${d}`]?.version]).filter(([, v]) => v));
fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'meddiff-pack-test', private: true, type: 'module', overrides }, null, 2));
const typesNode = JSON.parse(fs.readFileSync(path.join(root, 'node_modules', '@types', 'node', 'package.json'), 'utf8')).version;
const installOut = await sh(npm, ['install', '--prefer-offline', '--no-audit', '--no-fund', tgz, `@types/node@${typesNode}`], project,
  nativeMode === 'build' ? {} : { MEDDIFF_SKIP_NATIVE: '1' });
let nativeNote = /meddiff: native kernels[^\n]*/.exec(installOut)?.[0]?.replace(/^meddiff: /, '');
if (nativeMode === 'copy' && fs.existsSync(path.join(root, ADDON))) {
  const to = path.join(project, 'node_modules', 'meddiff', ADDON);
  fs.mkdirSync(path.dirname(to), { recursive: true });
  fs.copyFileSync(path.join(root, ADDON), to);
  nativeNote = `the repo's ${ADDON} copied in`;
} else if (nativeMode === 'build') {
  nativeNote ??= fs.existsSync(path.join(project, 'node_modules', 'meddiff', ADDON)) ? `its install script built ${ADDON}` : `no ${ADDON} built`;
}
phase(`npm install${nativeNote ? ` (${nativeNote})` : ''}`);

// 3. type-check a TypeScript consumer against the published declarations
for (const f of ['consumer.ts', 'tsconfig.json']) fs.copyFileSync(path.join(root, 'scripts', 'package-consumer', f), path.join(project, f));
fs.writeFileSync(path.join(project, 'subpaths.ts'), `${subpaths.map((s, i) => `import * as m${i} from '${s}';`).join('\n')}
export const modules: object[] = [${subpaths.map((_, i) => `m${i}`).join(', ')}];\n`);
const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const tr = await exec(process.execPath, [tsc, '-p', project, '--pretty', 'false'], project);
const diags = `${tr.out}${tr.err}`.split('\n').filter((l) => /error TS\d+/.test(l));
// Ours: the consumer's files and meddiff's declarations; not TypeScript's lib files nor other packages'.
const ours = diags.filter((l) => {
  const f = path.resolve(project, l.replace(/\(\d+,\d+\).*$/, ''));
  const rel = path.relative(project, f);
  return !rel.startsWith('..') && (!rel.startsWith('node_modules') || rel.startsWith(path.join('node_modules', 'meddiff') + path.sep));
});
if (ours.length) fail(`type errors in the consumer or in meddiff's declarations:\n${ours.join('\n')}`);
if (tr.code !== 0 && diags.length === 0) fail(`tsc exited with ${tr.code}:\n${tr.out}${tr.err}`);
const dtsTs = inTar.filter((f) => f.endsWith('.d.ts')).filter((f) => /from\s+['"]\.{1,2}\/[^'"]*(?<!\.d)\.ts['"]/.test(fs.readFileSync(path.join(project, 'node_modules', 'meddiff', f), 'utf8')));
if (dtsTs.length) fail(`declarations still import .ts paths: ${dtsTs.join(', ')}`);
phase(`tsc consumer.ts + ${subpaths.length} subpaths${diags.length ? ` (${diags.length} errors inside third-party .d.ts ignored)` : ''}`);

// 4. the installed package at run time
fs.copyFileSync(path.join(root, 'scripts', 'package-consumer', 'consumer.mjs'), path.join(project, 'consumer.mjs'));
fs.writeFileSync(path.join(project, 'check.mjs'), `for (const s of ${JSON.stringify(subpaths)}) {
  const m = await import(s);
  if (Object.keys(m).length === 0) throw new Error(s + ' exports nothing');
}
const { run } = await import('./consumer.mjs');
const [model, images] = ${runArgs};
// the server from the package: its compiled worker and its bundled web app
const { buildApp } = await import('meddiff/server');
const { readFileSync } = await import('node:fs');
const s = await buildApp({ models: [model], logger: false });
const page = await s.app.inject({ url: '/' });
if (page.statusCode !== 200 || !page.body.includes('<html')) throw new Error('serve: GET / answered ' + page.statusCode + ': ' + page.body.slice(0, 200));
const c = await s.app.inject({ method: 'POST', url: '/api/classify?n=3', payload: readFileSync(images[0]), headers: { 'content-type': 'application/octet-stream' } });
if (c.statusCode !== 200) throw new Error('serve: classify answered ' + c.statusCode + ': ' + c.body);
await s.app.close();
process.stdout.write(JSON.stringify(await run(await import('meddiff'), model, images)) + '\\n');
`);
const installed = lastJson(await sh(process.execPath, ['check.mjs'], project, nativeEnv));
const info = lastJson(await sh(path.join(project, 'node_modules', '.bin', 'meddiff'), ['info', '--json'], project, nativeEnv));
if (info.meddiff !== pkg.version) fail(`installed 'meddiff info' reports version ${info.meddiff}, package.json has ${pkg.version}`);
if (info.backend !== installed.backend) fail(`installed 'meddiff info' runs on ${info.backend}, the library on ${installed.backend}`);
phase(`run installed package (${installed.backend}, classify ${installed.seconds.toFixed(1)} s; serve: page and classify)`);

// 5. compare with the repo's sources
const ref = await reference;
if (ref.code !== 0) fail(`the reference run from src/ failed:\n${ref.err}${ref.out}`);
const expected = lastJson(ref.out);
phase(`reference from src/ (finished at ${ref.seconds.toFixed(1)} s)`);
const strip = ({ seconds: _s, ...rest }) => rest;
if (expected.backend !== installed.backend) {
  fail(`backends differ: the installed package ran on '${installed.backend}', the repo on '${expected.backend}'` +
    (expected.backend === 'native' ? ' (the native addon did not build or load in node_modules/meddiff; see native/build.mjs)' : ''));
}
if (!isDeepStrictEqual(strip(installed), strip(expected))) {
  fail(`the installed package and the repo's sources disagree:\n  installed: ${JSON.stringify(strip(installed))}\n  repo:      ${JSON.stringify(strip(expected))}`);
}
for (const r of installed.results) {
  if (installed.classNames[r.predicted] !== r.prediction) fail(`prediction '${r.prediction}' is not classNames[${r.predicted}]`);
  if (Math.abs(r.shares.reduce((a, b) => a + b, 0) - 1) > 1e-9) fail(`shares ${r.shares} do not sum to 1`);
}
process.stdout.write(`pack-test: OK in ${((performance.now() - t00) / 1000).toFixed(1)} s: ${JSON.stringify(strip(installed).results.map((r) => [r.prediction, r.shares]))} on ${installed.backend}, identical to the repo's sources\n`);
if (keep) process.stdout.write(`pack-test: kept ${tmp}\n`);
else fs.rmSync(tmp, { recursive: true, force: true });
