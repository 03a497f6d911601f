// bench:train — img/s of the real training pipeline (data loading, wavelet, noise, loss, Adam,
// EMA, logging, checkpoints) on PneumoniaMNIST with the `small` config, against the pure
// model step on a fixed batch measured in the same run; and peak RSS.
//   npm run bench:train [-- --steps 40 --batch 64]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { initRuntime } from '../src/runtime/index.ts';
import { trainFromData, Trainer, validateTrainConfig, type StepMetrics } from '../src/train/index.ts';
import { createDenoiser } from '../src/models/index.ts';
import { createPipeline } from '../src/pipeline/index.ts';
import { machine, writeResult } from './common.ts';

const args = process.argv.slice(2);
const opt = (name: string, def: string) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1]! : def; };
const steps = Number(opt('steps', '30')), batch = Number(opt('batch', '64')), warm = 5;
const rt = await initRuntime({});

// 1) pure step: Trainer.trainStep on one fixed batch (no data pipeline, no logging, no checkpoints)
const model = createDenoiser({ preset: 'small' });
const cfg = validateTrainConfig({ batchSize: batch, microBatch: batch, steps: 1000 });
const px = 32 * 32;
const fixed = { images: new Float32Array(batch * px).map((_, i) => Math.sin(i) * 0.8), labels: Int32Array.from({ length: batch }, (_, i) => i % 2) };
const pipeline = createPipeline({ denoiser: model, classNames: ['a', 'b'], preprocess: { imageSize: 32, channels: 1, wavelet: { levels: 1, scale: cfg.haarScale } } });
const trainer = new Trainer({
  pipeline, config: cfg, dataFingerprint: 'bench', outDir: fs.mkdtempSync(path.join(os.tmpdir(), 'bench-train-')),
  openSource: () => ({ next: async () => fixed, position: () => null }),
});
for (let i = 0; i < 2; i++) trainer.trainStep(fixed);
const t0 = performance.now();
const pureSteps = Math.max(5, Math.floor(steps / 3));
for (let i = 0; i < pureSteps; i++) trainer.trainStep(fixed);
const pureImgPerSec = (pureSteps * batch * 1000) / (performance.now() - t0);
trainer.dispose(); model.dispose();

// 2) the full pipeline, as `meddiff train` runs it (checkpoint every 10 steps to include its cost)
const out = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-train-run-'));
const log: StepMetrics[] = [];
const tStart = performance.now();
await trainFromData({ data: 'data/pneumoniamnist.npz', out, config: 'small', valEvery: 0, train: { steps, batchSize: batch, microBatch: batch, logEvery: 1, checkpointEvery: 10 }, onLog: (m) => log.push(m) });
const total = (performance.now() - tStart) / 1000;
const timed = log.slice(warm);
const pipelineImgPerSec = (timed.length * batch) / (timed.at(-1)!.elapsedSec - log[warm - 1]!.elapsedSec);
fs.rmSync(out, { recursive: true, force: true });

const result = {
  backend: rt.backend, threads: rt.threads, machine: machine(), config: 'small', batch, steps,
  pureStepImgPerSec: pureImgPerSec, pipelineImgPerSec, overheadPct: 100 * (1 - pipelineImgPerSec / pureImgPerSec),
  peakRssMB: process.resourceUsage().maxRSS / 1024, wallSec: total, date: new Date().toISOString(),
};
console.log(`meddiff train, PneumoniaMNIST, small config, batch ${batch}, backend ${rt.backend} (${rt.threads} threads, ${result.machine.cores} cores)`);
console.log(`  pure step ${pureImgPerSec.toFixed(1)} img/s; full pipeline ${pipelineImgPerSec.toFixed(1)} img/s → overhead ${result.overheadPct.toFixed(1)}%`);
console.log(`  peak RSS ${result.peakRssMB.toFixed(0)} MB`);
console.log(`  written ${writeResult(`train-${rt.backend}.json`, result)}`);
