#!/usr/bin/env node
// The bf16 agreement check (issue 20): classifies a data split with a model at fp32 and at bf16 in one
// process, same seed and settings (what `meddiff classify` answers: the calibrated decision, window and
// mirror view), and compares the decisions against the bar bf16 must pass before it may be turned on:
// decisions agree on >= 99.5% of the images and accuracy moves <= 0.3 points, on the FULL PneumoniaMNIST
// test split. Writes bench/results/precision-check-<model>-<split>[-limit<k>].json (temp file + rename).
//
//   node --import tsx scripts/precision-check.mjs --model models/pneumoniamnist-unet --data data/pneumoniamnist.npz
//        [--split test] [--limit k] [--n 11] [--seed 0]
//   (--limit k: an evenly spread subset of k images, for a quick look; it cannot pass the bar: see `conclusive`)
// Exit status 0 whether or not the bar is met (the verdict is in the JSON); 2 on bad arguments.
import path from 'node:path';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { initRuntime, setPrecision } from '../src/runtime/index.ts';
import { loadPipeline } from '../src/pipeline/index.ts';
import { measureSubset } from '../src/eval/index.ts';
import { writeFileAtomic } from '../src/util/index.ts';

/** The issue's bar for turning bf16 on. */
export const BF16_BAR = { minAgreement: 0.995, maxAccuracyChangePoints: 0.3 };

const argv = process.argv.slice(2);
const opt = (name, def) => { const i = argv.indexOf(`--${name}`); return i >= 0 ? argv[i + 1] : def; };
const int = (name, def, min) => {
  const v = opt(name, def);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) { console.error(`--${name} must be an integer >= ${min}, got '${v}'`); process.exit(2); }
  return n;
};
const model = opt('model'), data = opt('data');
if (!model || !data) { console.error('usage: precision-check.mjs --model <dir> --data <npz|folder|csv> [--split test] [--limit k] [--n 11] [--seed 0]'); process.exit(2); }
const split = opt('split', 'test'), limit = int('limit', undefined, 1), n = int('n', '11', 1), seed = int('seed', '0', 0);

const rt = await initRuntime({ backend: 'native', log: true });
if (rt.libraries.bf16 !== 'yes') { console.error(`precision-check: this CPU has no bf16 ISA (oneDNN ISA ${rt.libraries.isa}); nothing to check`); process.exit(2); }
const p = loadPipeline(model);
// measureSubset with images = Infinity takes the whole split (loadSplit's limit keeps an evenly spread subset otherwise)
const spec = { data, split, images: limit ?? Number.POSITIVE_INFINITY, n, seed };
const runs = {};
try {
  // warm-up at both precisions (primitive creation, heap growth), so the timed runs compare like with like
  for (const precision of ['fp32', 'bf16']) { setPrecision(precision); await measureSubset(p, { ...spec, images: 2 }); }
  for (const precision of ['fp32', 'bf16']) {
    setPrecision(precision);
    const t0 = performance.now();
    const r = await measureSubset(p, spec);
    runs[precision] = { ...r, seconds: (performance.now() - t0) / 1000 };
    console.error(`  ${precision}: accuracy ${(100 * r.accuracy).toFixed(2)}% on ${r.images} images, ${runs[precision].seconds.toFixed(1)} s`);
  }
} finally {
  setPrecision('fp32');
  p.dispose();
}
const a = runs.fp32, b = runs.bf16;
if (a.labels.some((y, i) => y !== b.labels[i])) throw new Error('precision-check: the two runs saw different images (labels differ)');
const disagree = a.predictions.map((y, i) => (y !== b.predictions[i] ? i : -1)).filter((i) => i >= 0);
const agreement = 1 - disagree.length / a.images;
const accuracyChangePoints = 100 * (b.accuracy - a.accuracy);
const meetsBar = agreement >= BF16_BAR.minAgreement && Math.abs(accuracyChangePoints) <= BF16_BAR.maxAccuracyChangePoints;
const result = {
  model, data, split, images: a.images, limit: limit ?? null, n, seed, calibrated: a.calibrated, tRange: a.tRange, mirror: a.mirror,
  fp32: { accuracy: a.accuracy, seconds: a.seconds }, bf16: { accuracy: b.accuracy, seconds: b.seconds },
  agreement, disagreements: disagree.length, disagreeingImages: disagree, accuracyChangePoints, bar: BF16_BAR, meetsBar,
  // only the full split decides whether bf16 may be turned on
  conclusive: limit === undefined,
  // one run each, on a possibly shared machine: indicative only (bench/unet.ts --precision alternates calls)
  speedBf16VsFp32: a.seconds / b.seconds,
  runtime: { backend: rt.backend, threads: rt.threads, onednn: rt.libraries.onednn, isa: rt.libraries.isa, cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length, loadavg: os.loadavg()[0] },
  date: new Date().toISOString(),
};
const name = `precision-check-${path.basename(path.resolve(model))}-${split}${limit !== undefined ? `-limit${limit}` : ''}.json`;
const file = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'bench', 'results', name);
writeFileAtomic(file, JSON.stringify(result, null, 2) + '\n');
console.log(`agreement ${(100 * agreement).toFixed(2)}% (${disagree.length} of ${a.images} decisions differ; bar >= ${100 * BF16_BAR.minAgreement}%), ` +
  `accuracy ${(100 * a.accuracy).toFixed(2)}% fp32 -> ${(100 * b.accuracy).toFixed(2)}% bf16 (${accuracyChangePoints >= 0 ? '+' : ''}${accuracyChangePoints.toFixed(2)} points; bar <= ${BF16_BAR.maxAccuracyChangePoints}): ` +
  `${meetsBar ? 'meets' : 'misses'} the bar${result.conclusive ? '' : ` on this ${a.images}-image subset (not conclusive: run without --limit)`}; bf16 ${result.speedBf16VsFp32.toFixed(2)}× the speed`);
console.log(`written ${path.relative(process.cwd(), file)}`);
