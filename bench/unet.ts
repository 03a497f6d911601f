// bench:unet — the denoiser benchmark: a training step (batch 64, Adam) and inference (batch 256) of
// the bench UNet and of dit-s (both 16² × 4 arrays: 32² grayscale after one Haar stage) on the
// active backend, one JSON line per architecture and the DiT/UNet ratio; optionally the PyTorch
// twin of the UNet in the same run for a fair ratio.
//   npm run bench:unet [-- --backend wasm] [--arch unet,dit] [--reps 5] [--profile] [--no-torch]   (results: denoisers-*.json; unet-*.json with the twin)
//                      [--composite]   also time the step with composite Adam (both), and dit-s with composite LayerNorm,
//                                      GELU and gated residual (the fused kernels' gain)
//   npm run bench:unet -- --adam [--arch unet,dit] [--reps 5]   the optimizer update alone, fused vs composite (adam-<backend>.json)
//   npm run bench:unet -- --precision fp32,bf16 [--arch unet,dit] [--reps 5]
//                      inference only (batch 256), the precisions alternating call by call in one run, so that load from
//                      other jobs hits both alike; forward/s per precision, their ratio, and bf16's deviation from fp32
//                      (results: precision-<backend>.json; the training step and the other result files are left alone)
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { fusedAdamAvailable, initRuntime, parsePrecision, setPrecision, tf, useFusedAdam, type Precision } from '../src/runtime/index.ts';
import { useFusedTransformerKernels } from '../src/runtime/transformer.ts';
import { createDenoiser } from '../src/models/index.ts';
import { Adam } from '../src/train/index.ts';
import { forwardGflopPerImage as forwardGflop, machine, timeMedian, writeResult } from './common.ts';

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(`--${name}`);
const opt = (name: string, def: string) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1]! : def; };
const rt = await initRuntime({ backend: opt('backend', process.env.MEDDIFF_BACKEND ?? 'auto') as never });
const reps = Number(opt('reps', rt.backend === 'native' ? '5' : '2'));
const trainBatch = Number(opt('train-batch', '64'));
const inferBatch = Number(opt('infer-batch', '256'));
const PRESETS: Record<string, string> = { unet: 'bench', dit: 'dit-s' };
const archs = opt('arch', 'unet,dit').split(',');
for (const a of archs) if (!PRESETS[a]) throw new Error(`--arch: unknown '${a}'; allowed: ${Object.keys(PRESETS).join(', ')}`);

const batch = (b: number) => ({ x: tf.randomNormal([b, 16, 16, 4]), logSnr: tf.randomUniform([b], -15, 15), y: tf.randomUniform([b], 0, 3, 'int32') });
const train = batch(trainBatch), infer = batch(inferBatch);

/** Median ms per precision of the inference step, the precisions alternating call by call (after one warm-up each). */
async function comparePrecisions(arch: string, precisions: Precision[]) {
  const model = createDenoiser({ preset: PRESETS[arch]! });
  const gflop = await forwardGflop(model);
  const forward = (p: Precision) => { setPrecision(p); return tf.tidy(() => Float32Array.from(model.apply(infer.x, infer.logSnr, infer.y).dataSync() as Float32Array)); };
  const outs = new Map(precisions.map((p) => [p, forward(p)] as const));
  const times = new Map<Precision, number[]>(precisions.map((p) => [p, []]));
  for (let r = 0; r < reps; r++) {
    for (const p of precisions) {
      const t = performance.now();
      forward(p);
      times.get(p)!.push(performance.now() - t);
    }
  }
  setPrecision('fp32');
  model.dispose();
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const ref = outs.get('fp32');
  const byPrecision = Object.fromEntries(precisions.map((p) => {
    const ms = median(times.get(p)!), out = outs.get(p)!;
    let d = 0, m = 0;
    if (ref) for (let i = 0; i < ref.length; i++) { d = Math.max(d, Math.abs(out[i]! - ref[i]!)); m = Math.max(m, Math.abs(ref[i]!)); }
    // null also when the fp32 output is all zeros (an untrained denoiser's zero-initialised last layer)
    return [p, { inferMs: ms, inferForwardPerSec: (inferBatch * 1000) / ms, relMaxDiffVsFp32: ref && m > 0 ? d / m : null }];
  }));
  const f = byPrecision.fp32, b = byPrecision.bf16;
  return { arch, preset: PRESETS[arch]!, forwardGflopPerImage: +gflop.toFixed(3), inferBatch, reps, byPrecision,
    bf16VsFp32Speed: f && b ? b.inferForwardPerSec / f.inferForwardPerSec : null };
}

if (args.includes('--precision')) {
  const precisions = opt('precision', 'fp32,bf16').split(',').map((p) => {
    const v = parsePrecision(p.trim(), '--precision');
    if (v === undefined || v === 'auto') throw new Error(`bench:unet --precision: name the precisions to compare (fp32, bf16), not '${p}'`);
    return v;
  });
  const loadBefore = os.loadavg()[0]!;
  const isa = rt.libraries.isa ? `oneDNN ${rt.libraries.onednn} ${rt.libraries.isa} (bf16: ${rt.libraries.bf16 ?? 'unknown'})` : 'no native addon';
  console.log(`inference B=${inferBatch} at ${precisions.join(' vs ')}, backend ${rt.backend}, ${rt.threads} threads, ${isa}; load average ${loadBefore.toFixed(2)}`);
  const results = [];
  for (const arch of archs) {
    const r = await comparePrecisions(arch, precisions);
    results.push(r);
    for (const [p, v] of Object.entries(r.byPrecision)) {
      console.log(`  ${arch} ${p}: ${v.inferMs.toFixed(0)} ms (${v.inferForwardPerSec.toFixed(1)} forward/s)` +
        (v.relMaxDiffVsFp32 !== null && p !== 'fp32' ? `, max |Δ| / max |fp32| = ${v.relMaxDiffVsFp32.toExponential(2)}` : ''));
    }
    if (r.bf16VsFp32Speed !== null) console.log(`  ${arch} bf16 / fp32 forward/s: ${r.bf16VsFp32Speed.toFixed(2)}×`);
  }
  console.log(`  written ${writeResult(`precision-${rt.backend}.json`, { backend: rt.backend, threads: rt.threads, machine: machine(), libraries: rt.libraries,
    loadavgBefore: loadBefore, loadavgAfter: os.loadavg()[0], results, date: new Date().toISOString() })}`);
  process.exit(0);
}

/**
 * --adam: the optimizer update alone (Adam + EMA over every parameter, fixed gradients), fused native
 * pass against the composite tfjs ops, calls alternating so that load from other jobs hits both alike.
 */
if (flag('adam')) {
  if (!fusedAdamAvailable()) throw new Error('bench:unet --adam needs the native addon with adamStep (npm run build:native)');
  const { Ema } = await import('../src/train/index.ts');
  const out = [];
  for (const arch of archs) {
    const model = createDenoiser({ preset: PRESETS[arch]! });
    const adam = new Adam(model.params.vars, { warmupSteps: 0 }), ema = new Ema(model.params.vars);
    const grads = Object.fromEntries([...model.params.vars].map(([n, v]) => [n, tf.randomNormal(v.shape, 0, 1e-3)]));
    const times: Record<'fused' | 'composite', number[]> = { fused: [], composite: [] };
    for (let i = 0; i < reps + 1; i++) {
      for (const mode of ['fused', 'composite'] as const) {
        useFusedAdam(mode === 'fused');
        const t = performance.now();
        adam.apply(grads, ema);
        if (i > 0) times[mode].push(performance.now() - t);
      }
    }
    useFusedAdam(true);
    const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
    const r = { arch, params: model.parameterCount(), fusedMs: med(times.fused), compositeMs: med(times.composite), speedup: med(times.composite) / med(times.fused) };
    console.log(`${arch}: Adam + EMA over ${(r.params / 1e6).toFixed(2)} M parameters: fused ${r.fusedMs.toFixed(1)} ms, composite ${r.compositeMs.toFixed(1)} ms (${r.speedup.toFixed(2)}×)`);
    out.push(r);
    tf.dispose(Object.values(grads)); adam.dispose(); ema.dispose(); model.dispose();
  }
  console.log(`  written ${writeResult(`adam-${rt.backend}.json`, { backend: rt.backend, threads: rt.threads, machine: machine(), libraries: rt.libraries,
    loadavg: os.loadavg()[0], reps, results: out, date: new Date().toISOString() })}`);
  process.exit(0);
}

async function measure(arch: string) {
  const model = createDenoiser({ preset: PRESETS[arch]! });
  const adam = new Adam(model.params.vars, { warmupSteps: 0 });
  const trainStep = () => {
    const { value, grads } = tf.variableGrads(() => tf.mean(tf.square(tf.sub(model.apply(train.x, train.logSnr, train.y), train.x))) as tf.Scalar, model.params.list());
    const named: Record<string, tf.Tensor> = {};
    for (const [name, v] of model.params.vars) named[name] = grads[v.name]!;
    adam.apply(named);
    value.dispose();
    tf.dispose(Object.values(grads));
  };
  const inferStep = () => { tf.tidy(() => model.apply(infer.x, infer.logSnr, infer.y).dataSync()); };
  if (flag('profile')) {
    for (const [label, fn] of [['train', trainStep], ['infer', inferStep]] as const) {
      fn();
      const prof = await tf.profile(() => { fn(); });
      const byKernel = new Map<string, number>();
      // op scopes (customGrad, fused ops) are listed too: keep kernels only, or their time counts twice
      for (const k of prof.kernels) if (tf.getKernel(k.name, tf.getBackend())) byKernel.set(k.name, (byKernel.get(k.name) ?? 0) + Number(k.kernelTimeMs));
      const total = [...byKernel.values()].reduce((a, b) => a + b, 0);
      console.log(`\n${arch} ${label}: kernel time ${total.toFixed(0)} ms (profiling adds a read-back per kernel: shares, not wall time)`);
      for (const [k, ms] of [...byKernel].sort((a, b) => b[1] - a[1]).slice(0, 20)) console.log(`  ${k.padEnd(28)} ${ms.toFixed(1).padStart(8)} ms  ${(100 * ms / total).toFixed(1)}%`);
    }
  }
  const gflop = await forwardGflop(model);
  const trainMs = await timeMedian(trainStep, reps);
  const inferMs = await timeMedian(inferStep, reps);
  let compositeTrainMs: number | null = null, compositeAdamMs: number | null = null;
  if (arch === 'dit' && flag('composite')) {
    useFusedTransformerKernels(false);
    compositeTrainMs = await timeMedian(trainStep, reps);
    useFusedTransformerKernels(true);
  }
  if (flag('composite') && fusedAdamAvailable()) {
    // the same step with Adam as composite tfjs ops instead of the fused native pass
    useFusedAdam(false);
    compositeAdamMs = await timeMedian(trainStep, reps);
    useFusedAdam(true);
  }
  const memBefore = tf.memory().numTensors;
  trainStep();
  const leak = tf.memory().numTensors - memBefore;
  const r = {
    arch, preset: PRESETS[arch]!, params: model.parameterCount(), forwardGflopPerImage: +gflop.toFixed(3),
    trainBatch, trainStepMs: trainMs, trainImgPerSec: (trainBatch * 1000) / trainMs,
    inferBatch, inferMs, inferForwardPerSec: (inferBatch * 1000) / inferMs,
    ...(compositeTrainMs !== null ? { compositeKernelsTrainStepMs: compositeTrainMs } : {}),
    ...(compositeAdamMs !== null ? { compositeAdamTrainStepMs: compositeAdamMs } : {}), fusedAdam: fusedAdamAvailable(),
    tensorsLeakedPerStep: leak,
  };
  adam.dispose();
  model.dispose();
  return r;
}

let torch: { trainImgPerSec: number; inferForwardPerSec: number; version: string } | null = null;
if (!flag('no-torch') && archs.includes('unet')) {
  try {
    const out = execFileSync('/usr/bin/python3', [new URL('../../shared/bench/torch_unet_reference.py', import.meta.url).pathname, String(rt.threads)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const tr = /train step B=64: (\d+) ms/.exec(out), inf = /inference B=256: (\d+) ms/.exec(out), ver = /torch (\S+)/.exec(out);
    if (tr && inf) torch = { trainImgPerSec: 64000 / Number(tr[1]), inferForwardPerSec: 256000 / Number(inf[1]), version: ver?.[1] ?? '?' };
  } catch { /* PyTorch twin not available: report meddiff alone */ }
}

const results = [];
for (const arch of archs) {
  const r = await measure(arch);
  results.push(r);
  console.log(`${arch} (${r.preset}, ${(r.params / 1e6).toFixed(2)} M params, ${r.forwardGflopPerImage} GFLOP/image forward), backend ${rt.backend}, ${rt.threads} threads`);
  console.log(`  train step B=${trainBatch}: ${r.trainStepMs.toFixed(0)} ms (${r.trainImgPerSec.toFixed(1)} img/s)${'compositeKernelsTrainStepMs' in r ? `; with composite LayerNorm, GELU and gated residual ${r.compositeKernelsTrainStepMs!.toFixed(0)} ms` : ''}` +
    `${'compositeAdamTrainStepMs' in r ? `; with composite Adam ${r.compositeAdamTrainStepMs!.toFixed(0)} ms` : ''}`);
  console.log(`  inference B=${inferBatch}: ${r.inferMs.toFixed(0)} ms (${r.inferForwardPerSec.toFixed(1)} forward/s)`);
  if (arch === 'unet') {
    const ratioVsTorch = torch ? { train: r.trainImgPerSec / torch.trainImgPerSec, infer: r.inferForwardPerSec / torch.inferForwardPerSec } : null;
    if (torch) console.log(`  PyTorch ${torch.version} same run: ${torch.trainImgPerSec.toFixed(1)} img/s, ${torch.inferForwardPerSec.toFixed(1)} forward/s → ratio train ${ratioVsTorch!.train.toFixed(2)}×, infer ${ratioVsTorch!.infer.toFixed(2)}×`);
    // the UNet's file keeps its earlier fields (docs/performance.md reads its PyTorch ratio): not rewritten without the twin
    if (!flag('no-torch')) writeResult(`unet-${rt.backend}.json`, { backend: rt.backend, threads: rt.threads, machine: machine(), ...r, torch, ratioVsTorch, date: new Date().toISOString() });
  }
}
const u = results.find((r) => r.arch === 'unet'), d = results.find((r) => r.arch === 'dit');
const ditVsUnet = u && d ? { train: d.trainImgPerSec / u.trainImgPerSec, infer: d.inferForwardPerSec / u.inferForwardPerSec, flops: d.forwardGflopPerImage / u.forwardGflopPerImage } : null;
if (ditVsUnet) console.log(`dit-s / bench UNet: train ${ditVsUnet.train.toFixed(2)}× the img/s, inference ${ditVsUnet.infer.toFixed(2)}× the forward/s, ${ditVsUnet.flops.toFixed(2)}× the FLOPs`);
console.log(`  written ${writeResult(`denoisers-${rt.backend}.json`, { backend: rt.backend, threads: rt.threads, machine: machine(), results, ditVsUnet, date: new Date().toISOString() })}`);
for (const r of results) {
  console.log(JSON.stringify({ arch: r.arch, preset: r.preset, backend: rt.backend, threads: rt.threads, params: r.params, forwardGflopPerImage: r.forwardGflopPerImage, trainImgPerSec: +r.trainImgPerSec.toFixed(2), inferForwardPerSec: +r.inferForwardPerSec.toFixed(2) }));
}
