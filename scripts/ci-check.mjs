#!/usr/bin/env node
// Writes models/<name>/ci-check.json: the accuracy of what `meddiff classify` answers (calibrated
// decision, calibrated window and mirror) on a fixed, evenly spread test subset with a small N,
// which test/models/shipped.test.ts re-measures on every CI run with the same function.
//   node --import tsx scripts/ci-check.mjs models/pneumoniamnist-unet data/pneumoniamnist.npz [images=48] [n=11]
//   node --import tsx scripts/ci-check.mjs models/pneumoniamnist-resnet18 data/pneumoniamnist.npz [images=192]   (a baseline)
import path from 'node:path';
import { initRuntime } from '../src/runtime/index.ts';
import { writeFileAtomic } from '../src/util/index.ts';
import { isBaselineFolder, loadBaselinePipeline, loadPipeline } from '../src/pipeline/index.ts';
import { measureBaselineSubset, measureSubset } from '../src/eval/index.ts';

const [dir, data, imagesArg = '48', nArg = '11'] = process.argv.slice(2);
if (!dir || !data) { console.error('usage: ci-check.mjs <model dir> <data> [images] [n]'); process.exit(2); }
await initRuntime({ log: false });
if (isBaselineFolder(dir)) {
  // a baseline: its answer on an evenly spread test subset (192 images by default), no noise pairs
  const p = loadBaselinePipeline(dir);
  const spec = { kind: 'baseline', data, split: 'test', images: Number(process.argv[4] ?? 192) };
  const r = await measureBaselineSubset(p, spec);
  p.dispose();
  const check = { ...spec, images: r.images, calibrated: r.calibrated, accuracy: r.accuracy, tolerance: +(2 / r.images + 1e-9).toFixed(6) };
  writeFileAtomic(path.join(dir, 'ci-check.json'), JSON.stringify(check, null, 2) + '\n');
  console.log(JSON.stringify(check));
  process.exit(0);
}
const p = loadPipeline(dir);
const spec = { data, split: 'test', images: Number(imagesArg), n: Number(nArg), seed: 0 };
const r = await measureSubset(p, spec);
p.dispose();
// native and wasm round differently; allow two images to change their decision
const check = { ...spec, images: r.images, calibrated: r.calibrated, tRange: r.tRange, mirror: r.mirror, accuracy: r.accuracy, tolerance: +(2 / r.images + 1e-9).toFixed(6) };
writeFileAtomic(path.join(dir, 'ci-check.json'), JSON.stringify(check, null, 2) + '\n');
console.log(JSON.stringify(check));
