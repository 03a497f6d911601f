// bench:unet — training step (batch 64, Adam + clipping) and inference (batch 256) of the bench
// UNet on the active backend; optionally the PyTorch twin in the same run for a fair ratio.
//   npm run bench:unet [-- --backend wasm] [--reps 5] [--profile] [--no-torch]
import { execFileSync } from 'node:child_process';
import { initRuntime, tf } from '../src/runtime/index.ts';
import { createDenoiser } from '../src/models/index.ts';
import { Adam } from '../src/train/index.ts';
import { machine, timeMedian, writeResult } from './common.ts';

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(`--${name}`);
const opt = (name: string, def: string) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1]! : def; };
const rt = await initRuntime({ backend: opt('backend', process.env.MEDDIFF_BACKEND ?? 'auto') as never });
const reps = Number(opt('reps', rt.backend === 'native' ? '5' : '2'));
const trainBatch = Number(opt('train-batch', '64'));
const inferBatch = Number(opt('infer-batch', '256'));

const model = createDenoiser({ preset: 'bench' });
const adam = new Adam(model.params.vars, { warmupSteps: 0 });
const batch = (b: number) => ({
  x: tf.randomNormal([b, 16, 16, 4]),
  logSnr: tf.randomUniform([b], -15, 15),
  y: tf.randomUniform([b], 0, 3, 'int32'),
});

const train = batch(trainBatch);
function trainStep() {
  const { value, grads } = tf.variableGrads(() => tf.mean(tf.square(tf.sub(model.apply(train.x, train.logSnr, train.y), train.x))) as tf.Scalar, model.params.list());
  const named: Record<string, tf.Tensor> = {};
  for (const [name, v] of model.params.vars) named[name] = grads[v.name]!;
  adam.apply(named);
  value.dispose();
  tf.dispose(Object.values(grads));
}
const infer = batch(inferBatch);
function inferStep() {
  tf.tidy(() => model.apply(infer.x, infer.logSnr, infer.y).dataSync());
}

if (flag('profile')) {
  for (const [label, fn] of [['train', trainStep], ['infer', inferStep]] as const) {
    fn();
    const prof = await tf.profile(() => { fn(); });
    const byKernel = new Map<string, number>();
    for (const k of prof.kernels) byKernel.set(k.name, (byKernel.get(k.name) ?? 0) + Number(k.kernelTimeMs));
    const total = [...byKernel.values()].reduce((a, b) => a + b, 0);
    console.log(`\n${label}: kernel time ${total.toFixed(0)} ms`);
    for (const [k, ms] of [...byKernel].sort((a, b) => b[1] - a[1]).slice(0, 20)) console.log(`  ${k.padEnd(28)} ${ms.toFixed(1).padStart(8)} ms  ${(100 * ms / total).toFixed(1)}%`);
  }
}

const trainMs = await timeMedian(trainStep, reps);
const inferMs = await timeMedian(inferStep, reps);
const memBefore = tf.memory().numTensors;
trainStep();
const leak = tf.memory().numTensors - memBefore;

let torch: { trainImgPerSec: number; inferForwardPerSec: number; version: string } | null = null;
if (!flag('no-torch')) {
  try {
    const out = execFileSync('/usr/bin/python3', [new URL('../../shared/bench/torch_unet_reference.py', import.meta.url).pathname, String(rt.threads)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const tr = /train step B=64: (\d+) ms/.exec(out), inf = /inference B=256: (\d+) ms/.exec(out), ver = /torch (\S+)/.exec(out);
    if (tr && inf) torch = { trainImgPerSec: 64000 / Number(tr[1]), inferForwardPerSec: 256000 / Number(inf[1]), version: ver?.[1] ?? '?' };
  } catch { /* PyTorch twin not available: report meddiff alone */ }
}

const result = {
  backend: rt.backend, threads: rt.threads, machine: machine(), params: model.parameterCount(),
  trainBatch, trainStepMs: trainMs, trainImgPerSec: (trainBatch * 1000) / trainMs,
  inferBatch, inferMs, inferForwardPerSec: (inferBatch * 1000) / inferMs,
  tensorsLeakedPerStep: leak, torch,
  ratioVsTorch: torch ? { train: (trainBatch * 1000) / trainMs / torch.trainImgPerSec, infer: (inferBatch * 1000) / inferMs / torch.inferForwardPerSec } : null,
  date: new Date().toISOString(),
};
console.log(`bench UNet (${(result.params / 1e6).toFixed(2)} M params), backend ${rt.backend}, ${rt.threads} threads, ${result.machine.cores} cores`);
console.log(`  train step B=${trainBatch}: ${trainMs.toFixed(0)} ms (${result.trainImgPerSec.toFixed(1)} img/s)`);
console.log(`  inference B=${inferBatch}: ${inferMs.toFixed(0)} ms (${result.inferForwardPerSec.toFixed(1)} forward/s)`);
if (torch) console.log(`  PyTorch ${torch.version} same run: ${torch.trainImgPerSec.toFixed(1)} img/s, ${torch.inferForwardPerSec.toFixed(1)} forward/s → ratio train ${result.ratioVsTorch!.train.toFixed(2)}×, infer ${result.ratioVsTorch!.infer.toFixed(2)}×`);
console.log(`  written ${writeResult(`unet-${rt.backend}.json`, result)}`);
console.log(JSON.stringify({ backend: rt.backend, threads: rt.threads, trainImgPerSec: +result.trainImgPerSec.toFixed(2), inferForwardPerSec: +result.inferForwardPerSec.toFixed(2) }));
