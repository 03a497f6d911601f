// bench:train — img/s of the real training pipeline (data loading, wavelet, noise, loss, Adam,
// EMA, logging, checkpoints) on PneumoniaMNIST per image size with the preset sized for it
// (32²: small, 64²: unet-64, 128²: unet-128), against the pure model step on a fixed batch, with
// the automatic micro-batch, the cost per image (parameters, forward GFLOP) and the peak RSS.
// Each size runs in its own process, so the peak RSS is that size's (maxRSS never goes down).
//   npm run bench:train [-- --steps 40 --batch 64 --sizes 32,64,128 --memory-budget 8000 --out file.json]
// One JSON line per size on stdout; all of them in bench/results/train-<backend>.json (or --out).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { initRuntime } from '../src/runtime/index.ts';
import { trainFromData, Trainer, validateTrainConfig, type MicroBatchChoice, type StepMetrics } from '../src/train/index.ts';
import { createDenoiser, presetConfig } from '../src/models/index.ts';
import { createPipeline } from '../src/pipeline/index.ts';
import { writeFileAtomic } from '../src/util/index.ts';
import { forwardGflopPerImage, machine, RESULTS_DIR } from './common.ts';

const args = process.argv.slice(2);
const opt = (name: string, def: string) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1]! : def; };
const steps = Number(opt('steps', '30')), batch = Number(opt('batch', '64'));
const budget = args.includes('--memory-budget') ? Number(opt('memory-budget', '0')) : undefined;
/** The preset sized for each pixel side (docs/data.md, "Sizes, memory and presets"). */
const PRESET_FOR: Record<number, string> = { 32: 'small', 64: 'unet-64', 128: 'unet-128' };

if (args.includes('--one')) {
  const size = Number(opt('one', '32'));
  console.log(JSON.stringify(await benchSize(size)));
} else {
  const sizes = opt('sizes', '32,64,128').split(',').map(Number);
  for (const s of sizes) if (!PRESET_FOR[s]) throw new Error(`--sizes: no preset for ${s}; allowed: ${Object.keys(PRESET_FOR).join(', ')}`);
  const results = [];
  for (const s of sizes) {
    const pass = ['--steps', String(steps), '--batch', String(batch), ...(budget !== undefined ? ['--memory-budget', String(budget)] : [])];
    const out = execFileSync(process.execPath, [...process.execArgv, new URL(import.meta.url).pathname, '--one', String(s), ...pass], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    const line = out.trim().split('\n').at(-1)!;
    console.log(line);
    results.push(JSON.parse(line) as { backend: string });
  }
  const file = opt('out', path.join(RESULTS_DIR, `train-${results[0]!.backend}.json`));
  writeFileAtomic(file, JSON.stringify({ machine: machine(), batch, steps, date: new Date().toISOString(), sizes: results }, null, 2) + '\n');
  console.error(`written ${file}`);
}

async function benchSize(size: number) {
  const rt = await initRuntime({});
  const preset = PRESET_FOR[size]!;
  const modelCfg = presetConfig(preset, { imageSize: size / 2, inChannels: 4, numClasses: 2 });

  // 1) the full pipeline, as `meddiff train` runs it (auto micro-batch; a checkpoint every 10 steps to include its cost)
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-train-run-'));
  const log: StepMetrics[] = [];
  let choice: MicroBatchChoice | undefined;
  const tStart = performance.now();
  await trainFromData({
    data: 'data/pneumoniamnist.npz', out, config: preset, imageSize: size, valEvery: 0, memoryBudgetMB: budget,
    train: { steps, batchSize: batch, logEvery: 1, checkpointEvery: 10 }, onLog: (m) => log.push(m), onReady: (i) => { choice = i.microBatch; },
  });
  const wallSec = (performance.now() - tStart) / 1000;
  fs.rmSync(out, { recursive: true, force: true });
  const warm = Math.min(5, Math.max(1, Math.floor(log.length / 2)));
  const timed = log.slice(warm);
  const pipelineImgPerSec = timed.length > 0 ? (timed.length * batch) / (timed.at(-1)!.elapsedSec - log[warm - 1]!.elapsedSec) : NaN;
  const microBatch = choice?.microBatch ?? batch;

  // 2) pure step: Trainer.trainStep on one fixed batch at the same micro-batch (no data pipeline, logging or checkpoints)
  const model = createDenoiser(modelCfg);
  const gflop = await forwardGflopPerImage(model), params = model.parameterCount();
  const cfg = validateTrainConfig({ batchSize: batch, microBatch, steps: 1000 });
  const fixed = { images: new Float32Array(batch * size * size).map((_, i) => Math.sin(i) * 0.8), labels: Int32Array.from({ length: batch }, (_, i) => i % 2) };
  const pipeline = createPipeline({ denoiser: model, classNames: ['a', 'b'], preprocess: { imageSize: size, channels: 1, wavelet: { levels: 1, scale: cfg.haarScale } } });
  const trainer = new Trainer({
    pipeline, config: cfg, dataFingerprint: 'bench', outDir: fs.mkdtempSync(path.join(os.tmpdir(), 'bench-train-')),
    openSource: () => ({ next: async () => fixed, position: () => null }),
  });
  trainer.trainStep(fixed);
  const pureSteps = Math.max(2, Math.floor(steps / 3));
  const t0 = performance.now();
  for (let i = 0; i < pureSteps; i++) trainer.trainStep(fixed);
  const pureStepImgPerSec = (pureSteps * batch * 1000) / (performance.now() - t0);
  trainer.dispose(); model.dispose();

  const r = {
    backend: rt.backend, threads: rt.threads, size, preset, params, forwardGflopPerImage: +gflop.toFixed(3),
    batch, microBatch, microBatchNote: choice?.note ?? null, steps,
    pureStepImgPerSec, pipelineImgPerSec, overheadPct: 100 * (1 - pipelineImgPerSec / pureStepImgPerSec),
    peakRssMB: process.resourceUsage().maxRSS / 1024, wallSec, date: new Date().toISOString(),
  };
  console.error(`${size}² ${preset} (${(r.params / 1e6).toFixed(2)} M params, ${r.forwardGflopPerImage} GFLOP/image), batch ${batch} as ${microBatch}-image passes, ${rt.backend} ${rt.threads} threads: ` +
    `pure ${pureStepImgPerSec.toFixed(1)} img/s, pipeline ${pipelineImgPerSec.toFixed(1)} img/s, peak RSS ${r.peakRssMB.toFixed(0)} MB`);
  return r;
}
