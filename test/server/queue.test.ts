// Compute off the event loop: a bounded queue (429 with Retry-After), the per-request time limit,
// cancellation reaching the busy worker, /health answering during a job, graceful shutdown.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { buildApp, ComputePool, HttpError, startServer } from '../../src/server/index.ts';
import { MODEL, XRAY, form } from './helpers.ts';

// The queue's mechanics, not the kernels, are under test here: its workers run on wasm. With the native
// addon, stopping or replacing worker threads in quick succession has taken the whole process down
// (silently, 3 runs in 8 on 2 busy cores; open issue, docs/server.md). Workers and the spawned server inherit this.
process.env.MEDDIFF_BACKEND = 'wasm';

const SLOW = { n: '301', earlyStop: 'off' };
const statusOf = async (p: Promise<unknown>) => p.then(() => 200, (e: HttpError) => e.statusCode);

test('a flood fills the queue: 200 or 429 with Retry-After, never anything else; /health answers meanwhile', async () => {
  const { app } = await buildApp({ models: [MODEL], logger: false, queue: 1 });
  try {
    const f = form({ n: '51', earlyStop: 'off' }, [{ bytes: XRAY }]);
    const floods = Array.from({ length: 6 }, () => app.inject({ method: 'POST', url: '/api/classify', ...f }));
    await new Promise((r) => setTimeout(r, 20));
    const t0 = performance.now();
    const health = await app.inject({ url: '/health' });
    const healthMs = performance.now() - t0;
    const rs = await Promise.all(floods);
    const codes = rs.map((r) => r.statusCode).sort();
    assert.ok(codes.every((c) => c === 200 || c === 429), codes.join(','));
    assert.ok(codes.includes(429), `some requests refused: ${codes.join(',')}`);
    assert.ok(codes.filter((c) => c === 200).length >= 2, 'the running job and the one waiting finish');
    const busy = rs.find((r) => r.statusCode === 429)!;
    assert.ok(Number(busy.headers['retry-after']) >= 1);
    assert.equal(health.statusCode, 200);
    assert.ok(health.json().queue.running + health.json().queue.waiting >= 1, 'health saw the job running');
    assert.ok(healthMs < 2000, `health answered in ${healthMs.toFixed(0)} ms while a job ran`);
  } finally { await app.close(); }
});

test('a job past the time limit is stopped in the worker (503), and the next job runs', async () => {
  const { app, pool } = await buildApp({ models: [MODEL], logger: false, timeoutSeconds: 0.3 });
  try {
    const r = await app.inject({ method: 'POST', url: '/api/classify', ...form(SLOW, [{ bytes: XRAY }]) });
    assert.equal(r.statusCode, 503, r.body);
    assert.match(r.json().message, /longer than the server's limit/);
    assert.equal(pool.counts.timeout, 1, JSON.stringify(pool.counts));
    const next = await app.inject({ method: 'POST', url: '/api/classify', ...form({ n: '2' }, [{ bytes: XRAY }]) });
    assert.equal(next.statusCode, 200, next.body);
  } finally { await app.close(); }
});

test('a job that ignores its time limit gets its worker replaced; a crashed worker is replaced and the next job runs', async () => {
  const pool = new ComputePool({ models: [{ id: 'm', dir: MODEL }], timeoutSeconds: 0.2, killGraceSeconds: 0.1 });
  try {
    await pool.ready();
    // one model call of 1001 pairs × 2 classes outlasts the 0.1 s grace, so the worker is terminated mid-call
    const slow = pool.run({ kind: 'classify', model: 'm', name: 'x', bytes: new Uint8Array(XRAY), fields: { n: 1001, earlyStop: 'off' } });
    assert.equal(await statusOf(slow), 503);
    assert.equal(pool.counts.timeout, 1);
    for (let i = 0; i < 1200 && !pool.state().ready; i++) await new Promise((r) => setTimeout(r, 100));
    assert.ok(pool.state().ready, 'a replacement worker loaded the models');
  } finally { await pool.close(); }
  const p2 = new ComputePool({ models: [{ id: 'm', dir: MODEL }] });
  try {
    await p2.ready();
    // a worker that dies: the next job, sent at once, waits for the replacement instead of failing
    await (p2 as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
    const next = await p2.run({ kind: 'classify', model: 'm', name: 'x', bytes: new Uint8Array(XRAY), fields: { n: 2 } });
    assert.ok((next.result as { pairsUsed: number }).pairsUsed >= 1);
    assert.equal(p2.failure, null);
  } finally { await p2.close(); }
});

test('explain over server-sent events with the queue full is an HTTP 429 with Retry-After, not an event', async () => {
  const { app } = await buildApp({ models: [MODEL], logger: false, queue: 0 });
  try {
    const f = form({ n: '51', earlyStop: 'off' }, [{ bytes: XRAY }]);
    const rs = await Promise.all(Array.from({ length: 3 }, () => app.inject({ method: 'POST', url: '/api/explain', ...f, headers: { ...f.headers, accept: 'text/event-stream' } })));
    const codes = rs.map((r) => r.statusCode).sort();
    assert.deepEqual(codes, [200, 429, 429]);
    const busy = rs.find((r) => r.statusCode === 429)!;
    assert.ok(Number(busy.headers['retry-after']) >= 1);
    assert.equal(busy.json().retryAfter, Number(busy.headers['retry-after']));
  } finally { await app.close(); }
});

test('cancelling a running job (the client went away) stops the worker mid-job', async () => {
  const pool = new ComputePool({ models: [{ id: 'm', dir: MODEL }] });
  try {
    await pool.ready();
    const ac = new AbortController();
    const slow = pool.run({ kind: 'classify', model: 'm', name: 'x', bytes: new Uint8Array(XRAY), fields: { n: 1001, earlyStop: 'off' } }, { signal: ac.signal });
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(pool.state().running, 1);
    ac.abort();
    // 499 comes only from the worker's own report that it stopped (a running job is never dropped on this side)
    assert.equal(await statusOf(slow), 499);
    const ok = await pool.run({ kind: 'classify', model: 'm', name: 'x', bytes: new Uint8Array(XRAY), fields: { n: 3 } });
    assert.ok((ok.result as { pairsUsed: number }).pairsUsed >= 2);
    // a waiting job cancelled before it starts is dropped from the queue
    const ac2 = new AbortController();
    const first = pool.run({ kind: 'classify', model: 'm', name: 'x', bytes: new Uint8Array(XRAY), fields: { n: 51 } });
    const second = pool.run({ kind: 'classify', model: 'm', name: 'x', bytes: new Uint8Array(XRAY), fields: { n: 51 } }, { signal: ac2.signal });
    assert.equal(pool.state().waiting, 1);
    ac2.abort();
    assert.equal(await statusOf(second), 499);
    assert.equal(await statusOf(first), 200);
  } finally { await pool.close(); }
});

test('uploads over the limit are refused from the header or while streaming (413)', async () => {
  const { app } = await buildApp({ models: [MODEL], logger: false, maxUploadBytes: 4096 });
  try {
    const r = await app.inject({ method: 'POST', url: '/api/classify', ...form({}, [{ bytes: Buffer.alloc(200_000, 1) }]) });
    assert.equal(r.statusCode, 413, r.body);
    const raw = await app.inject({ method: 'POST', url: '/api/classify', payload: Buffer.alloc(10_000, 7), headers: { 'content-type': 'application/octet-stream' } });
    assert.equal(raw.statusCode, 413, raw.body);
  } finally { await app.close(); }
});

test('binds 127.0.0.1 by default; a client that goes away stops its job; close() lets the job in progress finish', async () => {
  const srv = await startServer({ models: [MODEL], logger: false, port: 0 });
  const host = new URL(srv.url).hostname;
  assert.equal(host, '127.0.0.1');
  const slow = form({ n: '1001', earlyStop: 'off' }, [{ bytes: XRAY }]);
  const ac = new AbortController();
  const gone = fetch(`${srv.url}/api/classify`, { method: 'POST', body: slow.payload, headers: slow.headers, signal: ac.signal }).catch(() => null);
  await new Promise((r) => setTimeout(r, 300));
  ac.abort();
  await gone;
  // the worker itself reports the job stopped (not just dropped on this side)
  for (let i = 0; i < 600 && srv.pool.counts.cancelled === 0; i++) await new Promise((r) => setTimeout(r, 100));
  assert.equal(srv.pool.counts.cancelled, 1, JSON.stringify(srv.pool.counts));
  assert.equal(srv.pool.counts.done, 0);
  const f = form({ n: '51', earlyStop: 'off' }, [{ bytes: XRAY }]);
  const inflight = fetch(`${srv.url}/api/classify`, { method: 'POST', body: f.payload, headers: f.headers });
  await new Promise((r) => setTimeout(r, 100));
  await srv.close();
  const r = await inflight;
  assert.equal(r.status, 200);
  await assert.rejects(fetch(`${srv.url}/health`), 'no longer listening');
});

test('meddiff serve stops cleanly on SIGTERM', { timeout: 120_000 }, async () => {
  const child = spawn(process.execPath, ['bin/meddiff.js', 'serve', '--model', MODEL, '--port', '0', '--quiet'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, MEDDIFF_FROM_SOURCE: '1' } });
  let err = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr.on('data', (d) => { err += String(d); const m = /at (http:\/\/[\d.:]+)/.exec(err); if (m) resolve(m[1]!); });
    child.on('exit', (c) => reject(new Error(`exited ${c}: ${err}`)));
  });
  const h = await fetch(`${url}/health`);
  assert.equal(h.status, 200);
  const exit = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  child.kill('SIGTERM');
  assert.equal(await exit, 0, err);
  assert.match(err, /SIGTERM: finishing the requests in progress/);
});
