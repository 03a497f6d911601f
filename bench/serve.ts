// bench:serve — `meddiff serve` under load on loopback: latency of single requests (classify and
// explain, one at a time: the figures a person at the web app waits), then a bounded load loop of
// concurrent clients (p50/p95 latency, throughput, 429s, errors), and the server's resident
// memory before and after the loop.
//   npm run bench:serve [-- --model models/pneumoniamnist-unet --clients 20 --requests 5 --single 20 --explains 5]
import fs from 'node:fs';
import { initRuntime } from '../src/runtime/index.ts';
import { startServer } from '../src/server/index.ts';
import { machine, writeResult } from './common.ts';

const args = process.argv.slice(2);
const opt = (name: string, def: string) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1]! : def; };
const modelDir = opt('model', 'models/pneumoniamnist-unet');
const clients = Number(opt('clients', '20')), perClient = Number(opt('requests', '5'));
const singles = Number(opt('single', '20')), explains = Number(opt('explains', '5'));
const image = fs.readFileSync(opt('image', 'data/fixtures/nih_cxr14_00000001_000.png'));
const rt = await initRuntime({});
const srv = await startServer({ models: [modelDir], port: 0, logger: false, queue: 8 });

function body(): FormData {
  const f = new FormData();
  f.append('file', new Blob([image], { type: 'image/png' }), 'x.png');
  return f;
}
const pct = (xs: number[], p: number) => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))]! : NaN; };
const rss = () => process.memoryUsage().rss / 2 ** 20;

async function timed(url: string): Promise<{ ms: number; status: number; json: Record<string, unknown> | null; retryAfter: number }> {
  const t = performance.now();
  const r = await fetch(`${srv.url}${url}`, { method: 'POST', body: body(), headers: { accept: 'application/json' } });
  const text = await r.text();
  return { ms: performance.now() - t, status: r.status, json: r.headers.get('content-type')?.includes('json') ? JSON.parse(text) as Record<string, unknown> : null, retryAfter: Number(r.headers.get('retry-after') ?? 0) };
}

// 1. one request at a time (after one warm-up each)
await timed('/api/classify');
const one: number[] = [], compute: number[] = [], passes: number[] = [];
for (let i = 0; i < singles; i++) {
  const r = await timed('/api/classify');
  if (r.status !== 200) throw new Error(`classify answered ${r.status}: ${JSON.stringify(r.json)}`);
  one.push(r.ms); compute.push(1000 * (r.json!.seconds as number)); passes.push(r.json!.forwardPasses as number);
}
await timed('/api/explain');
const ex: number[] = [];
for (let i = 0; i < explains; i++) {
  const r = await timed('/api/explain');
  if (r.status !== 200) throw new Error(`explain answered ${r.status}: ${JSON.stringify(r.json)}`);
  ex.push(r.ms);
}
console.log(`single classify: p50 ${pct(one, 0.5).toFixed(0)} ms, p95 ${pct(one, 0.95).toFixed(0)} ms (compute p50 ${pct(compute, 0.5).toFixed(0)} ms, ${pct(passes, 0.5)} forward passes)`);
console.log(`single explain: p50 ${pct(ex, 0.5).toFixed(0)} ms, p95 ${pct(ex, 0.95).toFixed(0)} ms`);

// 2. the load loop: every client sends `perClient` classify requests back to back; a 429 waits its Retry-After and counts
const rssBefore = rss();
const lat: number[] = [], loadCompute: number[] = [];
let ok = 0, busy = 0, errors = 0;
const statuses: Record<string, number> = {};
const t0 = performance.now();
await Promise.all(Array.from({ length: clients }, async () => {
  for (let k = 0; k < perClient;) {
    const r = await timed('/api/classify');
    statuses[r.status] = (statuses[r.status] ?? 0) + 1;
    if (r.status === 200) { ok++; k++; lat.push(r.ms); loadCompute.push(1000 * (r.json!.seconds as number)); } else if (r.status === 429) { busy++; await new Promise((res) => setTimeout(res, 1000 * Math.max(1, r.retryAfter))); } else { errors++; k++; }
  }
}));
const seconds = (performance.now() - t0) / 1000;
if (global.gc) global.gc();
const rssAfter = rss();
await srv.close();

const result = {
  backend: rt.backend, threads: rt.threads, isa: rt.libraries?.isa ?? null, machine: machine(), model: modelDir, image: opt('image', 'data/fixtures/nih_cxr14_00000001_000.png'),
  single: {
    classify: { requests: singles, p50Ms: pct(one, 0.5), p95Ms: pct(one, 0.95), computeP50Ms: pct(compute, 0.5), forwardPassesP50: pct(passes, 0.5) },
    explain: { requests: explains, p50Ms: pct(ex, 0.5), p95Ms: pct(ex, 0.95) },
  },
  load: {
    clients, requestsPerClient: perClient, seconds, ok, tooBusy429: busy, errors, statuses,
    throughputPerSec: ok / seconds, p50Ms: pct(lat, 0.5), p95Ms: pct(lat, 0.95), computeP50Ms: pct(loadCompute, 0.5), workerBusyFraction: loadCompute.reduce((a, b) => a + b, 0) / 1000 / seconds,
    rssMiB: { before: rssBefore, after: rssAfter, ratio: rssAfter / rssBefore },
  },
  targets: { classifyP50MsAtMost: 1000, explainP50MsAtMost: 3000, rssRatioAtMost: 1.1 },
  date: new Date().toISOString(),
};
console.log(`load: ${clients} clients × ${perClient}: ${ok} ok, ${busy} × 429, ${errors} errors in ${seconds.toFixed(1)} s (${result.load.throughputPerSec.toFixed(2)} req/s); p50 ${result.load.p50Ms.toFixed(0)} ms, p95 ${result.load.p95Ms.toFixed(0)} ms, compute p50 ${result.load.computeP50Ms.toFixed(0)} ms, worker busy ${(100 * result.load.workerBusyFraction).toFixed(0)}%; RSS ${rssBefore.toFixed(0)} → ${rssAfter.toFixed(0)} MiB (×${(rssAfter / rssBefore).toFixed(3)})`);
console.log(`written ${writeResult(`serve-${rt.backend}.json`, result)}`);
