#!/usr/bin/env node
// `npm start`: the main job on the shipped model. Classifies the PneumoniaMNIST test set with
// uncertainty, explains a few images with counterfactuals, writes demo-report/report.html and
// says where it is and what to run on your own data.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const model = 'models/pneumoniamnist-unet';
const out = process.env.MEDDIFF_DEMO_OUT ?? 'demo-report';
if (!fs.existsSync(path.join(model, 'state.json'))) {
  console.error(`meddiff: the shipped model ${model} is missing; train one with:\n  meddiff train --data data/pneumoniamnist.npz --out runs/pneu --config small`);
  process.exit(1);
}
// Without the native kernels (pure wasm, one thread) the whole test set takes ~20 minutes on 2 cores:
// the demo then classifies an evenly spread subset, so a first run still ends in a few minutes.
const info = spawnSync(process.execPath, ['bin/meddiff.js', 'info', '--json'], { encoding: 'utf8' });
let backend = 'unknown';
try { backend = JSON.parse(info.stdout).backend; } catch { /* info failed: evaluate will say why */ }
const WASM_LIMIT = process.env.MEDDIFF_DEMO_LIMIT ?? '200';
const subset = backend !== 'native' && !process.argv.includes('--limit') ? ['--limit', WASM_LIMIT] : [];
if (subset.length) {
  console.log(`meddiff demo: backend ${backend} (the native kernels are not built: apt-get install -y libdnnl-dev g++ make python3, then npm run build:native);
  classifying ${WASM_LIMIT} of the 624 test images, spread evenly, to finish in minutes (MEDDIFF_DEMO_LIMIT to change, npm start -- --limit 624 for all)`);
}
const args = ['bin/meddiff.js', 'evaluate', '--model', model, '--data', 'data/pneumoniamnist.npz', '--split', 'test',
  '--n', process.env.MEDDIFF_DEMO_N ?? '25', '--early-stop', 'decided', '--explain', '8', ...subset, '--out', out, ...process.argv.slice(2)];
console.log(`meddiff demo: ${args.slice(1).join(' ')}`);
const t0 = Date.now();
const r = spawnSync(process.execPath, args, { stdio: 'inherit' });
if (r.status !== 0) process.exit(r.status ?? 1);
console.log(`
Done in ${((Date.now() - t0) / 1000).toFixed(0)} s. Open ${path.resolve(out, 'report.html')}
(predictions: ${path.resolve(out, 'predictions.csv')}, figures: ${path.resolve(out, 'report.json')}).

On your own data:
  meddiff classify --model ${model} your_xray.png scans/*.dcm        # prediction, vote share, uncertainty
  meddiff explain  --model ${model} --out explain/ your_xray.png      # counterfactual + difference map
  meddiff train    --data your_folder/ --out runs/mine --config small  # root/<class>/*.png|jpg|dcm or a CSV
  meddiff evaluate --model runs/mine --data your_folder/ --split test
`);
