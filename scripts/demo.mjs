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
const args = ['bin/meddiff.js', 'evaluate', '--model', model, '--data', 'data/pneumoniamnist.npz', '--split', 'test',
  '--n', process.env.MEDDIFF_DEMO_N ?? '25', '--early-stop', 'decided', '--explain', '8', '--out', out, ...process.argv.slice(2)];
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
