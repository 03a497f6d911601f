#!/usr/bin/env node
// Writes models/<name>/ci-check.json: the accuracy of a shipped model on a fixed, evenly spread test
// subset with a small N, which test/models/shipped.test.ts re-measures on every CI run.
//   node --import tsx scripts/ci-check.mjs models/pneumoniamnist-unet data/pneumoniamnist.npz [images=48] [n=11]
import path from 'node:path';
import { initRuntime, writeFileAtomic } from '../src/runtime/index.ts';
import { loadTrainedModel, datasetOptionsFor } from '../src/train/index.ts';
import { DiffusionClassifier, loadCalibration } from '../src/classify/index.ts';
import { openDataset, stackSplit } from '../src/data/index.ts';

const [dir, data, imagesArg = '48', nArg = '11'] = process.argv.slice(2);
if (!dir || !data) { console.error('usage: ci-check.mjs <model dir> <data> [images] [n]'); process.exit(2); }
await initRuntime({ log: false });
const tm = loadTrainedModel(dir);
const ds = await openDataset(data, { ...datasetOptionsFor(tm), split: 'test' });
const { images, labels, count } = stackSplit(ds.split('test'), { limit: Number(imagesArg), spread: true });
// the shipped settings: the time window of the model's calibration, if it has one
const tRange = loadCalibration(tm.dir, tm.weightsSha256)?.tRange ?? [0, 1];
const r = new DiffusionClassifier(tm, { n: Number(nArg), seed: 0, tRange, keepErrors: false }).classify(images, count);
const accuracy = r.filter((x, i) => x.votePred === labels[i]).length / count;
// native and wasm round differently; allow two images to change their vote
const check = { data, split: 'test', images: count, n: Number(nArg), seed: 0, tRange, accuracy, tolerance: +(2 / count + 1e-9).toFixed(6) };
writeFileAtomic(path.join(dir, 'ci-check.json'), JSON.stringify(check, null, 2) + '\n');
console.log(JSON.stringify(check));
