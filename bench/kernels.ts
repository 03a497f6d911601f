// GFLOP/s of the conv / matmul kernels on the active backend (initRuntime: MEDDIFF_BACKEND=native|wasm),
// and as a percentage of the dnnl_sgemm peak at 2048^3 measured in the same run.
//
//   npm run bench:kernels                      all kernels, batch 64
//   npm run bench:kernels -- --only conv-fwd   only some kinds (conv-fwd, conv-bwd-data, conv-bwd-weights, matmul)
//   npm run bench:kernels -- --batch 16        smaller batch (quick check)
//   MEDDIFF_BACKEND=wasm npm run bench:kernels -- --only conv-fwd
//
// Writes bench/results/kernels-<backend>.json (temp file + rename). FLOPs = 2 * MACs; for every conv pass
// 2*N*OH*OW*KH*KW*Ci*Co. Each measurement: 1 warm-up call, then calls until ~0.6 s (at least 2, at most 20);
// median and best are reported (the machine may be shared; % of peak uses the best call, like the peak itself).
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { initRuntime, tf } from '../src/runtime/index.ts';
import { loadNativeAddon } from '../src/runtime/native.ts';

const argv = process.argv.slice(2);
const arg = (name: string): string | undefined => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
};
const BATCH = Number(arg('batch') ?? 64);
const ONLY = arg('only')?.split(',');
const BUDGET_S = Number(arg('seconds') ?? 0.6);
const want = (kind: string) => !ONLY || ONLY.some((o) => kind.startsWith(o));

const loadBefore = os.loadavg()[0]!;
const rt = await initRuntime({ log: true });
const addon = loadNativeAddon().addon;

function time(f: () => void): { ms: number; best: number; reps: number } {
  f(); // warm-up: primitive creation, heap growth
  const times: number[] = [];
  const t0 = performance.now();
  while (times.length < 20 && (times.length < 2 || performance.now() - t0 < BUDGET_S * 1000)) {
    const t = performance.now();
    f();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return { ms: times[Math.floor(times.length / 2)]!, best: times[0]!, reps: times.length };
}

// --- sgemm peak -----------------------------------------------------------------------------------
let peak: number;
let peakSource: string;
if (addon) {
  peak = addon.benchSgemm(2048, 3);
  peakSource = 'dnnl_sgemm 2048^3 (addon)';
} else {
  const a = tf.randomNormal([2048, 2048]), b = tf.randomNormal([2048, 2048]);
  const { ms } = time(() => tf.tidy(() => { tf.matMul(a, b); }));
  tf.dispose([a, b]);
  peak = (2 * 2048 ** 3) / (ms / 1000) / 1e9;
  peakSource = `BatchMatMul 2048^3 on ${rt.backend} (addon unavailable)`;
}

/** gflops from the median time, gflopsBest from the fastest call; pctPeak = gflopsBest / peak (the peak is a best-of-3 too). */
interface Row { kind: string; shape: string; gflop: number; ms: number; msBest: number; reps: number; gflops: number; gflopsBest: number; pctPeak: number; impl?: string }
const rows: Row[] = [];
function record(kind: string, shape: string, flops: number, f: () => void): Row {
  const { ms, best, reps } = time(f);
  const gflops = flops / (ms / 1000) / 1e9, gflopsBest = flops / (best / 1000) / 1e9;
  const row: Row = { kind, shape, gflop: flops / 1e9, ms, msBest: best, reps, gflops, gflopsBest, pctPeak: (100 * gflopsBest) / peak,
    impl: rt.backend === 'native' && addon ? addon.lastImpl() : undefined };
  rows.push(row);
  process.stderr.write(`  ${kind.padEnd(17)} ${shape.padEnd(34)} ${gflops.toFixed(1).padStart(7)} GFLOP/s (best ${gflopsBest.toFixed(1)})\n`);
  return row;
}

// --- convolutions ---------------------------------------------------------------------------------
interface ConvShape { name: string; h: number; w: number; ci: number; co: number; k: number; s: number }
const convShapes: ConvShape[] = [
  { name: '16x16 64->64 s1 3x3', h: 16, w: 16, ci: 64, co: 64, k: 3, s: 1 },
  { name: '16x16 64->128 s1 3x3', h: 16, w: 16, ci: 64, co: 128, k: 3, s: 1 },
  { name: '8x8 128->128 s1 3x3', h: 8, w: 8, ci: 128, co: 128, k: 3, s: 1 },
  { name: '4x4 128->128 s1 3x3', h: 4, w: 4, ci: 128, co: 128, k: 3, s: 1 },
  { name: '16x16->8x8 64->64 s2 3x3', h: 16, w: 16, ci: 64, co: 64, k: 3, s: 2 },
  { name: '16x16 128->64 1x1', h: 16, w: 16, ci: 128, co: 64, k: 1, s: 1 },
];
const convSummary: Array<{ shape: string; fwdBwdGflops: number; fwdBwdGflopsBest: number; pctPeak: number }> = [];
for (const c of convShapes) {
  const kinds = ['conv-fwd', 'conv-bwd-data', 'conv-bwd-weights'].filter(want);
  if (!kinds.length) continue;
  const x = tf.randomNormal([BATCH, c.h, c.w, c.ci]) as tf.Tensor4D;
  const w = tf.randomNormal([c.k, c.k, c.ci, c.co], 0, 0.1) as tf.Tensor4D;
  const oh = Math.ceil(c.h / c.s), ow = Math.ceil(c.w / c.s);
  const dy = tf.randomNormal([BATCH, oh, ow, c.co]) as tf.Tensor4D;
  const flops = 2 * BATCH * oh * ow * c.k * c.k * c.ci * c.co;
  const shape = `N${BATCH} ${c.name}`;
  const got: Row[] = [];
  if (want('conv-fwd')) got.push(record('conv-fwd', shape, flops, () => tf.tidy(() => { tf.conv2d(x, w, c.s, 'same'); })));
  if (want('conv-bwd-data')) {
    got.push(record('conv-bwd-data', shape, flops, () => tf.tidy(() => { tf.conv2dTranspose(dy, w, [BATCH, c.h, c.w, c.ci], c.s, 'same'); })));
  }
  if (want('conv-bwd-weights')) {
    got.push(record('conv-bwd-weights', shape, flops, () => tf.tidy(() => {
      tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { strides: [c.s, c.s], pad: 'same', dataFormat: 'NHWC', filterShape: [c.k, c.k, c.ci, c.co] });
    })));
  }
  if (got.length === 3) {
    const g = (3 * flops) / (got.reduce((s, r) => s + r.ms, 0) / 1000) / 1e9;
    const gb = (3 * flops) / (got.reduce((s, r) => s + r.msBest, 0) / 1000) / 1e9;
    convSummary.push({ shape, fwdBwdGflops: g, fwdBwdGflopsBest: gb, pctPeak: (100 * gb) / peak });
  }
  tf.dispose([x, w, dy]);
}

// --- matmuls --------------------------------------------------------------------------------------
// f: C = A·B, d: dA = dC·Bᵀ, w: dB = Aᵀ·dC (the three products of a matmul's forward + backward).
interface MmShape { name: string; batch: number; m: number; k: number; n: number }
const mmShapes: MmShape[] = [
  { name: `attention QKᵀ ${BATCH}*4x[256x16]·[16x256]`, batch: BATCH * 4, m: 256, k: 16, n: 256 },
  { name: `attention AV ${BATCH}*4x[256x256]·[256x16]`, batch: BATCH * 4, m: 256, k: 256, n: 16 },
  { name: `2-D [${BATCH}x256]·[256x256]`, batch: 0, m: BATCH, k: 256, n: 256 },
  { name: `2-D [${BATCH * 256}x64]·[64x64]`, batch: 0, m: BATCH * 256, k: 64, n: 64 },
];
if (want('matmul')) {
  for (const s of mmShapes) {
    const bs = s.batch ? [s.batch] : [];
    const A = tf.randomNormal([...bs, s.m, s.k]), B = tf.randomNormal([...bs, s.k, s.n]), dC = tf.randomNormal([...bs, s.m, s.n]);
    const flops = 2 * Math.max(1, s.batch) * s.m * s.k * s.n;
    record('matmul-fwd', s.name, flops, () => tf.tidy(() => { tf.matMul(A, B); }));
    record('matmul-bwd-a', s.name, flops, () => tf.tidy(() => { tf.matMul(dC, B, false, true); }));
    record('matmul-bwd-b', s.name, flops, () => tf.tidy(() => { tf.matMul(A, dC, true, false); }));
    tf.dispose([A, B, dC]);
  }
}

// --- report ---------------------------------------------------------------------------------------
const lines: string[] = [];
lines.push(`backend ${rt.backend} (${rt.threads} thread${rt.threads > 1 ? 's' : ''}), ${os.cpus()[0]?.model ?? 'cpu'}; ` +
  `peak ${peak.toFixed(1)} GFLOP/s = ${peakSource}` + (rt.libraries.isa ? `; oneDNN ${rt.libraries.onednn} ${rt.libraries.isa}` : '') +
  `; load average ${loadBefore.toFixed(2)} before, ${os.loadavg()[0]!.toFixed(2)} after`);
lines.push('');
lines.push(`| kernel | shape | GFLOP | ms (median) | GFLOP/s (median) | GFLOP/s (best) | % peak (best) |${rt.backend === 'native' ? ' impl |' : ''}`);
lines.push(`|---|---|---:|---:|---:|---:|---:|${rt.backend === 'native' ? '---|' : ''}`);
for (const r of rows) {
  lines.push(`| ${r.kind} | ${r.shape} | ${r.gflop.toFixed(3)} | ${r.ms.toFixed(2)} | ${r.gflops.toFixed(1)} | ${r.gflopsBest.toFixed(1)} | ${r.pctPeak.toFixed(0)}% |` +
    (rt.backend === 'native' ? ` ${r.impl ?? ''} |` : ''));
}
if (convSummary.length) {
  lines.push('');
  lines.push('| conv fwd+bwd-data+bwd-weights | GFLOP/s (median) | GFLOP/s (best) | % peak (best) |');
  lines.push('|---|---:|---:|---:|');
  for (const s of convSummary) lines.push(`| ${s.shape} | ${s.fwdBwdGflops.toFixed(1)} | ${s.fwdBwdGflopsBest.toFixed(1)} | ${s.pctPeak.toFixed(0)}% |`);
}
process.stdout.write(lines.join('\n') + '\n');

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'results');
mkdirSync(dir, { recursive: true });
const file = path.join(dir, `kernels-${rt.backend}.json`);
const tmp = `${file}.${process.pid}.tmp`;
writeFileSync(tmp, JSON.stringify({
  date: new Date().toISOString(), backend: rt.backend, threads: rt.threads, batch: BATCH, cpu: os.cpus()[0]?.model, cores: os.cpus().length,
  libraries: rt.libraries, loadavgBefore: loadBefore, loadavgAfter: os.loadavg()[0], peakGflops: peak, peakSource, rows, convSummary,
}, null, 2) + '\n');
renameSync(tmp, file);
process.stderr.write(`wrote ${path.relative(process.cwd(), file)}\n`);
