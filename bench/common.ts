import os from 'node:os';
import path from 'node:path';
import { writeFileAtomic } from '../src/util/index.ts';
import { runtimeInfo, tf } from '../src/runtime/index.ts';
import type { Denoiser } from '../src/models/index.ts';

export const RESULTS_DIR = path.join(path.dirname(new URL(import.meta.url).pathname), 'results');

/** Median wall time (ms) of `reps` calls after `warmup` calls. */
export async function timeMedian(fn: () => unknown | Promise<unknown>, reps: number, warmup = 1): Promise<number> {
  for (let i = 0; i < warmup; i++) await fn();
  const ts: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    await fn();
    ts.push(performance.now() - t);
  }
  ts.sort((a, b) => a - b);
  return ts[Math.floor(ts.length / 2)]!;
}

export function machine() {
  // the inference precision in force (default 'auto': bf16 on AVX512_BF16 CPUs), so results say what they measured
  const rt = runtimeInfo();
  return { cores: os.availableParallelism?.() ?? os.cpus().length, cpu: os.cpus()[0]?.model ?? 'unknown', node: process.version,
    ...(rt ? { inferencePrecision: rt.precision } : {}) };
}

export function writeResult(name: string, result: unknown): string {
  const file = path.join(RESULTS_DIR, name);
  writeFileAtomic(file, JSON.stringify(result, null, 2) + '\n');
  return file;
}

/**
 * Forward FLOPs per image (multiply-adds × 2, in GFLOP) of a denoiser's convolutions and matmuls,
 * counted from the kernels one batch-2 forward pass runs (the counter of bench/unet.ts, for any
 * input side and channel count).
 */
export async function forwardGflopPerImage(model: Denoiser): Promise<number> {
  const { imageSize: s, inChannels: c } = model.config;
  const size = (sh: readonly number[]) => sh.reduce((a, b) => a * b, 1);
  const x = tf.randomNormal([2, s, s, c]), logSnr = tf.tensor1d([-2, 3]), y = tf.tensor1d([0, 1], 'int32');
  const prof = await tf.profile(() => { tf.tidy(() => { model.apply(x, logSnr, y).dataSync(); }); });
  let f = 0;
  for (const k of prof.kernels) {
    const out = k.outputShapes[0] as number[], ins = k.inputShapes as number[][];
    if (k.name === 'Conv2D' || k.name === 'FusedConv2D') f += 2 * size(out) * ins[1]![0]! * ins[1]![1]! * ins[1]![2]!;
    if (k.name === 'BatchMatMul' || k.name === '_FusedMatMul') {
      const a = ins[0]!, m = out[out.length - 2]!;
      f += 2 * size(out) * (a[a.length - 1]! * a[a.length - 2]!) / m;
    }
  }
  tf.dispose([x, logSnr, y]);
  return f / 2 / 1e9;
}
