#!/usr/bin/env node
// Throws mutated inputs at every file parser and counts what happens:
//   ok      the parser returned a well-formed result
//   clear   it threw an Error naming the input (not a TypeError/RangeError/SyntaxError from deep inside)
//   crash   anything else: a non-Error throw, a builtin error escaping, an Error not naming the input,
//           a malformed result, or the process dying (native crash, out of memory)
//   hang    one input ran past --seconds-per-input (the child is killed and restarted after it)
// Each parser runs in a child process that writes a progress record *before* each input, so the
// parent can pin a hang or a process death to the input index and carry on after it. Inputs are a
// pure function of (seed, parser, index): `--child npz --start 1234 --count 1 --seed 1 --dump x.bin` writes one out.
//
//   node --import tsx scripts/fuzz.mjs [--per-parser 100000] [--seconds-per-input 2] [--seed 1]
//        [--only npy,npz,csv,safetensors,calibration,decode,dicom-codecs] [--max-seconds 0] [--decode-seconds 300]
//        [--decode-inputs N (default: --per-parser)] [--jobs 2] [--out bench/results/fuzz.json]
// --decode-seconds caps the sharp/DICOM decode path (slower per input) at that many seconds.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const PARSERS = ['npy', 'npz', 'csv', 'safetensors', 'calibration', 'decode', 'dicom-codecs'];
// progress record: Float64 slots
const REC = { index: 0, ok: 1, clear: 2, crash: 3, hang: 4, done: 5, maxMs: 6, maxMsIndex: 7, slow: 8, elapsed: 9 };
const REC_LEN = 16;

function args(argv) {
  const o = { decodeInputs: 0, perParser: 100000, secondsPerInput: 2, seed: 1, only: PARSERS, maxSeconds: 0, decodeSeconds: 300, jobs: Math.min(2, os.availableParallelism?.() ?? 2), out: 'bench/results/fuzz.json' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i], v = () => argv[++i];
    if (a === '--per-parser') o.perParser = Number(v());
    else if (a === '--seconds-per-input') o.secondsPerInput = Number(v());
    else if (a === '--seed') o.seed = Number(v());
    else if (a === '--only') o.only = v().split(',');
    else if (a === '--max-seconds') o.maxSeconds = Number(v());
    else if (a === '--decode-seconds') o.decodeSeconds = Number(v());
    else if (a === '--decode-inputs') o.decodeInputs = Number(v());
    else if (a === '--jobs') o.jobs = Number(v());
    else if (a === '--out') o.out = v();
    else if (a === '--child') o.child = v();
    else if (a === '--start') o.start = Number(v());
    else if (a === '--count') o.count = Number(v());
    else if (a === '--progress') o.progress = v();
    else if (a === '--crashes') o.crashes = v();
    else if (a === '--dump') o.dump = v();
    else if (a === '--help' || a === '-h') { process.stdout.write(fs.readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(1, 16).map((l) => l.replace(/^\/\/ ?/, '')).join('\n') + '\n'); process.exit(0); }
    else throw new Error(`fuzz: unknown option ${a}`);
  }
  for (const p of o.only) if (!PARSERS.includes(p)) throw new Error(`fuzz: unknown parser '${p}' (choose from ${PARSERS.join(', ')})`);
  return o;
}

// ------------------------------------------------------------------ child: run one parser's range

async function child(o) {
  // the codec sandbox must stop a looping codec before the per-input limit does
  process.env.MEDDIFF_CODEC_TIMEOUT_MS ??= String(Math.floor(o.secondsPerInput * 500));
  const { allTargets, makeInput, runOne } = await import('../test/fuzz/targets.ts');
  const { codecTarget } = await import('../test/fuzz/codec-target.ts');
  const { prng, hashSeed } = await import('../test/fuzz/mutate.ts');
  const t = [...allTargets(), codecTarget].find((x) => x.name === o.child);
  const seeds = await t.seeds();
  await t.warmUp?.(seeds);
  const input = (i) => makeInput(t, seeds, prng(hashSeed(o.seed, t.name, i)));
  if (o.dump) { fs.writeFileSync(o.dump, input(o.start).bytes); process.stdout.write(`wrote input ${o.start} (${input(o.start).how}) to ${o.dump}\n`); return; }
  const rec = new Float64Array(REC_LEN);
  if (fs.existsSync(o.progress)) rec.set(read(o.progress));
  const fd = fs.openSync(o.progress, 'r+');
  const recBytes = new Uint8Array(rec.buffer);
  const write = () => fs.writeSync(fd, recBytes, 0, recBytes.length, 0);
  const crashFd = fs.openSync(o.crashes, 'a');
  const limitMs = o.secondsPerInput * 1000;
  const t0 = performance.now() - rec[REC.elapsed] * 1000;
  const stopAt = o.maxSeconds > 0 ? t0 + o.maxSeconds * 1000 : Infinity;
  const end = o.start + o.count;
  for (let i = o.start; i < end; i++) {
    rec[REC.index] = i; rec[REC.elapsed] = (performance.now() - t0) / 1000;
    write(); // before the input: if it hangs or kills the process, the parent knows which one
    if (performance.now() > stopAt) { rec[REC.index] = i; break; }
    // self-test of the supervisor: FUZZ_SELFTEST_HANG=<index> spins, FUZZ_SELFTEST_DIE=<index> aborts the process
    if (String(i) === process.env.FUZZ_SELFTEST_HANG) for (;;);
    if (String(i) === process.env.FUZZ_SELFTEST_DIE) process.abort();
    const { bytes, how } = input(i);
    const label = `fuzz-${t.name}-${i}`;
    const s = performance.now();
    const c = await runOne(t, bytes, label);
    const ms = performance.now() - s;
    if (ms > rec[REC.maxMs]) { rec[REC.maxMs] = ms; rec[REC.maxMsIndex] = i; }
    if (ms > limitMs) {
      // finished, but past the per-input limit: counted as a hang
      rec[REC.slow]++; rec[REC.hang]++;
      fs.writeSync(crashFd, JSON.stringify({ index: i, how, slow: true, ms: Math.round(ms), outcome: c.outcome }) + '\n');
    } else rec[REC[c.outcome]]++;
    if (c.outcome === 'crash') fs.writeSync(crashFd, JSON.stringify({ index: i, how, kind: c.kind, message: c.message }) + '\n');
    rec[REC.index] = i + 1;
  }
  rec[REC.done] = 1; rec[REC.elapsed] = (performance.now() - t0) / 1000;
  write();
  fs.closeSync(fd);
  t.close?.();
}

// ------------------------------------------------------------------ parent: supervise the children

const read = (file) => { const b = fs.readFileSync(file); return new Float64Array(b.buffer.slice(b.byteOffset, b.byteOffset + REC_LEN * 8)); };

async function supervise(o, parser, tmp) {
  const progress = path.join(tmp, `${parser}.progress`), crashes = path.join(tmp, `${parser}.crashes.jsonl`);
  fs.writeFileSync(progress, new Uint8Array(REC_LEN * 8)); fs.writeFileSync(crashes, '');
  const maxSeconds = parser === 'decode' && o.decodeSeconds > 0 ? o.decodeSeconds : o.maxSeconds;
  const total = parser === 'decode' && o.decodeInputs > 0 ? o.decodeInputs : o.perParser;
  const hangs = [], deaths = [];
  let start = 0;
  const started = performance.now();
  for (;;) {
    const remaining = maxSeconds > 0 ? maxSeconds - (performance.now() - started) / 1000 : 0;
    if (maxSeconds > 0 && remaining <= 0) break;
    const cargs = ['--import', 'tsx', '--max-old-space-size=2048', fileURLToPath(import.meta.url), '--child', parser, '--start', String(start), '--count', String(total - start),
      '--seed', String(o.seed), '--seconds-per-input', String(o.secondsPerInput), '--progress', progress, '--crashes', crashes, '--max-seconds', String(maxSeconds)];
    const p = spawn(process.execPath, cargs, { stdio: ['ignore', 'inherit', 'pipe'] });
    let stderr = '';
    p.stderr.on('data', (d) => { stderr = (stderr + d).slice(-4000); });
    let last = -1, since = performance.now(), killed = false;
    const timer = setInterval(() => {
      let r; try { r = read(progress); } catch { return; }
      if (r[REC.index] !== last) { last = r[REC.index]; since = performance.now(); return; }
      // slack for start-up (loading sharp, building seeds, warming codecs) before the first input of a
      // child (the record still shows the previous child's last input, or 0)
      const limit = o.secondsPerInput * 1000 + (last <= start ? 20000 : 250);
      if (performance.now() - since > limit) { killed = true; p.kill('SIGKILL'); }
    }, 100);
    const [code, signal] = await new Promise((res) => p.on('exit', (c, s) => res([c, s])));
    clearInterval(timer);
    const r = read(progress);
    if (r[REC.done] === 1 && code === 0) break;
    const at = r[REC.index];
    if (killed) { hangs.push(at); r[REC.hang]++; }
    else { deaths.push({ index: at, code, signal, stderr: stderr.trim().split('\n').slice(-5).join('\n') }); r[REC.crash]++; }
    r[REC.index] = at + 1;
    fs.writeFileSync(progress, new Uint8Array(r.buffer));
    start = at + 1;
    if (start >= total) break;
    if (deaths.length > 20) { process.stderr.write(`fuzz ${parser}: the child died ${deaths.length} times; stopping this parser\n`); break; }
  }
  const r = read(progress);
  const signatures = new Map();
  const slow = [];
  for (const line of fs.readFileSync(crashes, 'utf8').split('\n').filter(Boolean)) {
    const c = JSON.parse(line);
    if (c.slow) { slow.push({ index: c.index, ms: c.ms, how: c.how, outcome: c.outcome }); continue; }
    const sig = `${c.kind}: ${String(c.message).replace(/fuzz-[\w]+-\d+/g, '<input>').replace(/\d+/g, 'N')}`;
    const s = signatures.get(sig) ?? { kind: c.kind, example: c.message, firstIndex: c.index, how: c.how, count: 0 };
    s.count++; signatures.set(sig, s);
  }
  const inputs = r[REC.ok] + r[REC.clear] + r[REC.crash] + r[REC.hang];
  return {
    inputs, ok: r[REC.ok], clearErrors: r[REC.clear], crashes: r[REC.crash], hangs: r[REC.hang],
    seconds: Number(((performance.now() - started) / 1000).toFixed(1)),
    inputsPerSecond: Math.round(inputs / Math.max(1e-9, (performance.now() - started) / 1000)),
    stoppedBy: inputs >= total ? 'count' : 'time',
    maxMsPerInput: Number(r[REC.maxMs].toFixed(1)), slowestIndex: r[REC.maxMsIndex],
    crashKinds: [...signatures.values()].sort((a, b) => b.count - a.count).slice(0, 20),
    hangIndices: hangs.slice(0, 50), slowInputs: slow.slice(0, 50), processDeaths: deaths.slice(0, 20),
  };
}

async function main() {
  const o = args(process.argv.slice(2));
  if (o.child) return child(o);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'meddiff-fuzz-'));
  const results = {};
  const queue = [...o.only];
  const t0 = performance.now();
  const worker = async () => {
    for (let p; (p = queue.shift()) !== undefined;) {
      process.stdout.write(`fuzz ${p}: up to ${o.perParser} inputs…\n`);
      const r = await supervise(o, p, tmp);
      results[p] = r;
      process.stdout.write(`fuzz ${p}: ${r.inputs} inputs in ${r.seconds}s: ${r.ok} ok, ${r.clearErrors} clear errors, ${r.crashes} crashes, ${r.hangs} hangs (slowest ${r.maxMsPerInput} ms)\n`);
      for (const k of r.crashKinds) process.stdout.write(`  ${k.count}× ${k.kind}: ${k.example} (first at index ${k.firstIndex}, ${k.how})\n`);
      for (const d of r.processDeaths) process.stdout.write(`  process died at index ${d.index} (code ${d.code}, signal ${d.signal}): ${d.stderr}\n`);
      if (r.hangIndices.length) process.stdout.write(`  killed (no progress past the limit) at ${r.hangIndices.join(', ')}\n`);
      if (r.slowInputs.length) process.stdout.write(`  finished past the limit: ${r.slowInputs.map((x) => `#${x.index} ${x.ms} ms`).join(', ')}\n`);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, o.jobs) }, worker));
  fs.rmSync(tmp, { recursive: true, force: true });
  let sharpVersions = {};
  try { sharpVersions = (await import('sharp')).default.versions; } catch { /* optional */ }
  const cpu = os.cpus()[0]?.model ?? 'unknown';
  const report = {
    date: new Date().toISOString(), seed: o.seed, perParser: o.perParser, secondsPerInput: o.secondsPerInput, jobs: o.jobs,
    decodeSeconds: o.only.includes('decode') ? o.decodeSeconds : undefined, decodeInputs: o.only.includes('decode') ? (o.decodeInputs || o.perParser) : undefined, totalSeconds: Number(((performance.now() - t0) / 1000).toFixed(1)),
    node: process.version, isa: `${os.platform()} ${os.arch()}, ${cpu} (${os.availableParallelism?.() ?? os.cpus().length} cores)`,
    libraries: { sharp: sharpVersions.sharp, vips: sharpVersions.vips },
    reproduce: 'node --import tsx scripts/fuzz.mjs --child <parser> --start <index> --count 1 --seed <seed> --dump input.bin',
    parsers: Object.fromEntries(o.only.filter((p) => results[p]).map((p) => [p, results[p]])),
  };
  fs.mkdirSync(path.dirname(o.out), { recursive: true });
  fs.writeFileSync(o.out, JSON.stringify(report, null, 2) + '\n');
  process.stdout.write(`wrote ${o.out}\n`);
  const bad = Object.values(results).reduce((a, r) => a + r.crashes + r.hangs, 0);
  process.exitCode = bad > 0 ? 1 : 0;
}

main().catch((e) => { process.stderr.write(`${e.stack ?? e}\n`); process.exit(2); });
