// Usage: node --import tsx scripts/ood-v2-experiment.ts <model dir> <in-distribution npz> <other data…> (writes runs/ood-v2/<model>.json;
// the committed results are bench/results/ood-v2-*.json). Seeds noise by position, unlike the library (src/classify/ood.ts).
// Session 9: OOD score v2 measured once by the rule in docs/results-notes.md.
import * as tf from '@tensorflow/tfjs';
import fs from 'node:fs';
import { initRuntime } from '../src/runtime/index.ts';
import { loadPipeline } from '../src/pipeline/index.ts';
import { DiffusionClassifier, classifySettings } from '../src/classify/index.ts';
import { alphaSigma, logSnr } from '../src/diffusion/index.ts';
import { Rng } from '../src/util/index.ts';
import { auroc, oodScore } from '../src/stats/index.ts';

await initRuntime({});
const [modelDir, inData, ...others] = process.argv.slice(2);
const p = await loadPipeline(modelDir!);
const TIMES = Array.from({ length: 10 }, (_, i) => 0.05 + 0.1 * i);
const K = p.classNames.length;

function features(images: Float32Array, count: number): number[][] {
  const xs = p.toModelSpaceArray(images, count);
  const mc = p.denoiser.config, px = mc.imageSize * mc.imageSize * mc.inChannels;
  const out: number[][] = [];
  const B = 25; // images per call → 250 rows
  for (let s = 0; s < count; s += B) {
    const n = Math.min(B, count - s), rows = n * TIMES.length;
    const z = new Float32Array(rows * px), eps = new Float32Array(rows * px);
    const lam = new Float32Array(rows), al = new Float32Array(rows), si = new Float32Array(rows);
    for (let i = 0; i < n; i++) {
      const rng = new Rng(1000003 * (s + i) + 17); // seeded per position in the set
      const x = xs.subarray((s + i) * px, (s + i + 1) * px);
      TIMES.forEach((t, j) => {
        const r = i * TIMES.length + j, l = logSnr(t, p.schedule), { alpha, sigma } = alphaSigma(l);
        const e = rng.normals(px);
        for (let q = 0; q < px; q++) { z[r * px + q] = alpha * x[q]! + sigma * e[q]!; eps[r * px + q] = e[q]!; }
        lam[r] = l; al[r] = alpha; si[r] = sigma;
      });
    }
    const err = tf.tidy(() => {
      const shape: [number, number, number, number] = [rows, mc.imageSize, mc.imageSize, mc.inChannels];
      const zt = tf.tensor4d(z, shape);
      const v = p.denoiser.apply(zt, tf.tensor1d(lam), tf.tensor1d(new Int32Array(rows).fill(K), 'int32'));
      const col = (a: Float32Array) => tf.tensor4d(a, [rows, 1, 1, 1]);
      const epsHat = tf.add(tf.mul(col(si), zt), tf.mul(col(al), v));
      return tf.mean(tf.square(tf.sub(epsHat, tf.tensor4d(eps, shape))), [1, 2, 3]).dataSync() as Float32Array;
    });
    for (let i = 0; i < n; i++) out.push(TIMES.map((_, j) => Math.log(err[i * TIMES.length + j]!)));
  }
  return out;
}

function fitGaussian(f: number[][]) {
  const d = f[0]!.length, n = f.length;
  const mu = Array.from({ length: d }, (_, j) => f.reduce((a, r) => a + r[j]!, 0) / n);
  const C = Array.from({ length: d }, (_, a) => Array.from({ length: d }, (_, b) => f.reduce((s, r) => s + (r[a]! - mu[a]!) * (r[b]! - mu[b]!), 0) / (n - 1)));
  const meanVar = C.reduce((s, r, i) => s + r[i]!, 0) / d;
  for (let i = 0; i < d; i++) C[i]![i]! += 1e-3 * meanVar;
  // invert by Gauss-Jordan
  const A = C.map((r, i) => [...r, ...Array.from({ length: d }, (_, j) => (i === j ? 1 : 0))]);
  for (let c = 0; c < d; c++) {
    let piv = c; for (let r = c + 1; r < d; r++) if (Math.abs(A[r]![c]!) > Math.abs(A[piv]![c]!)) piv = r;
    [A[c], A[piv]] = [A[piv]!, A[c]!];
    const v = A[c]![c]!; for (let j = 0; j < 2 * d; j++) A[c]![j]! /= v;
    for (let r = 0; r < d; r++) if (r !== c) { const m = A[r]![c]!; for (let j = 0; j < 2 * d; j++) A[r]![j]! -= m * A[c]![j]!; }
  }
  const P = A.map((r) => r.slice(d));
  return (x: number[]) => { const y = x.map((v, i) => v - mu[i]!); return Math.sqrt(y.reduce((s, yi, i) => s + yi * P[i]!.reduce((t, pij, j) => t + pij * y[j]!, 0), 0)); };
}

const ham = (d: string) => d.endsWith('ham10000/split.csv'); // data/ham10000/split.csv
const load = (data: string, split: string, limit?: number) => p.loadSplit(data, split, { limit, csv: ham(data) ? { labelColumn: 'melanoma' } : undefined });
const t0 = Date.now();
const train = await load(inData!, 'train', 300);
const dist = fitGaussian(features(train.images, train.count));
const val = await load(inData!, 'val');
const valScores = features(val.images, val.count).map(dist).sort((a, b) => a - b);
const k = Math.ceil((valScores.length + 1) * 0.98);
const threshold = k > valScores.length ? Infinity : valScores[k - 1]!;
const isBreast = inData!.includes('breast');
const test = await load(inData!, 'test', isBreast ? undefined : 200);
const testScores = features(test.images, test.count).map(dist);
const flag = (s: number[]) => s.filter((x) => x > threshold).length / s.length;
const result: Record<string, unknown> = { model: modelDir, threshold, valImages: val.count, testImages: test.count, falseFlags: flag(testScores), sets: [] as unknown[] };
// v1 on the same images, for HAM10000 (v1's other sets were measured in session 6 on these same images)
const s1 = classifySettings(p, { n: 25 });
const clf = new DiffusionClassifier(p, { ...s1.config, decisionThreshold: null, earlyStop: 'off', keepErrors: false });
const v1 = (im: Float32Array, c: number) => clf.classify(im, c).map((r) => oodScore(r.meanErrors));
let v1In: number[] | null = null;
for (const o of others) {
  const s = await load(o, 'test', 200);
  const sc = features(s.images, s.count).map(dist);
  const labels = [...testScores.map(() => 0), ...sc.map(() => 1)];
  const row: Record<string, unknown> = { data: o, images: s.count, auroc: auroc(labels, [...testScores, ...sc], 1), flagged: flag(sc) };
  if (ham(o)) {
    v1In ??= v1(test.images, test.count);
    const h1 = v1(s.images, s.count);
    row.v1Auroc = auroc(labels, [...v1In, ...h1], 1);
  }
  (result.sets as unknown[]).push(row);
  console.log(JSON.stringify(row));
}
result.seconds = (Date.now() - t0) / 1000;
console.log(JSON.stringify(result, null, 1));
fs.mkdirSync('runs/ood-v2', { recursive: true });
fs.writeFileSync(`runs/ood-v2/${modelDir!.split('/').pop()}.json`, JSON.stringify(result, null, 1));
