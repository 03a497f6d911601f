#!/usr/bin/env node
// Builds the optional oneDNN addon (native/build/Release/meddiff_native.node).
//
//   node native/build.mjs           npm `install` script: builds when missing or out of date. Never fails:
//                                    if g++, the oneDNN headers or the build are missing it prints one line
//                                    and exits 0 (the wasm backend is used instead).
//   node native/build.mjs --force   `npm run build:native`: always rebuilds, shows the compiler output and
//                                    exits 1 if the build fails.
//   --verbose                        show node-gyp output also without --force.
//   MEDDIFF_SKIP_NATIVE=1           skip the build entirely.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const target = path.join(here, 'build', 'Release', 'meddiff_native.node');
const force = process.argv.includes('--force');
const verbose = force || process.argv.includes('--verbose');

function notice(reason) {
  process.stdout.write(`meddiff: native kernels not built (${reason}); the wasm backend will be used\n`);
  process.exit(force ? 1 : 0);
}

function has(cmd, args = ['--version']) {
  const r = spawnSync(cmd, args, { stdio: 'ignore' });
  return r.status === 0;
}

function findNodeGyp() {
  const req = createRequire(import.meta.url);
  const candidates = [];
  try { candidates.push(req.resolve('node-gyp/bin/node-gyp.js')); } catch { /* not installed locally */ }
  if (process.env.npm_config_node_gyp) candidates.push(process.env.npm_config_node_gyp);
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  candidates.push(path.join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  candidates.push('/usr/share/nodejs/node-gyp/bin/node-gyp.js');
  return candidates.find((c) => c && existsSync(c)) ?? null;
}

function findNodeDir() {
  if (process.env.npm_config_nodedir) return process.env.npm_config_nodedir;
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  for (const d of [prefix, '/usr', '/usr/local']) {
    if (existsSync(path.join(d, 'include', 'node', 'node_api.h')) && existsSync(path.join(d, 'include', 'node', 'common.gypi'))) return d;
  }
  return null; // node-gyp would download headers (needs network)
}

function upToDate() {
  if (!existsSync(target)) return false;
  const built = statSync(target).mtimeMs;
  const inputs = [path.join(here, 'binding.gyp'), ...readdirSync(path.join(here, 'src')).map((f) => path.join(here, 'src', f))];
  return inputs.every((f) => statSync(f).mtimeMs <= built);
}

function lastErrorLine(text) {
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  const err = lines.find((l) => /\berror\b/i.test(l) && !/^gyp (ERR|info)/.test(l)) ?? lines.find((l) => /error/i.test(l)) ?? lines.at(-1) ?? 'unknown error';
  return err.length > 200 ? err.slice(0, 197) + '...' : err;
}

if (process.env.MEDDIFF_SKIP_NATIVE === '1' && !force) notice('MEDDIFF_SKIP_NATIVE=1');
if (process.platform !== 'linux' || process.arch !== 'x64') notice(`unsupported platform ${process.platform}-${process.arch}`);
if (!force && upToDate()) {
  if (verbose) process.stdout.write(`meddiff: native kernels up to date (${path.relative(process.cwd(), target)})\n`);
  process.exit(0);
}
if (!has('g++')) notice('g++ not found');
if (!has('python3')) notice('python3 not found (node-gyp needs it)');
if (!existsSync('/usr/include/oneapi/dnnl/dnnl.hpp')) notice('oneDNN headers missing: apt-get install libdnnl-dev');
const gyp = findNodeGyp();
if (!gyp) notice('node-gyp not found');
const nodedir = findNodeDir();

const args = [gyp, 'rebuild', ...(nodedir ? [`--nodedir=${nodedir}`] : [])];
const t0 = Date.now();
const r = spawnSync(process.execPath, args, { cwd: here, encoding: 'utf8', stdio: verbose ? 'inherit' : 'pipe', env: { ...process.env } });
if (r.error) notice(`node-gyp did not start: ${r.error.message}`);
if (r.status !== 0) notice(verbose ? `node-gyp exited with ${r.status}` : `build failed: ${lastErrorLine(`${r.stderr ?? ''}\n${r.stdout ?? ''}`)}`);

// Check that it loads (libdnnl.so.2 present at run time, symbols resolve).
const check = spawnSync(process.execPath, ['-e', `const a = require(${JSON.stringify(target)}); const v = a.version(); console.log('oneDNN ' + v.onednn + ', ' + v.isa + ', ' + v.cpuRuntime)`], { encoding: 'utf8' });
if (check.status !== 0) notice(`built but cannot be loaded: ${lastErrorLine(check.stderr ?? '')}`);
process.stdout.write(`meddiff: native kernels built in ${((Date.now() - t0) / 1000).toFixed(1)} s (${check.stdout.trim()})\n`);
