// The automatic micro-batch (issue 15 item 2): at 128² one image's activations take hundreds of
// MB, so a batch of 64 in one pass would need tens of GB. The memory of a step is measured, not
// guessed from the architecture: one forward + backward at batch 1 and at batch 2 under
// tf.profile gives the fixed part (gradients, weight-sized temporaries) and the part per image.
import os from 'node:os';
import { tf, withPrecision, tensorHeapCapBytes } from '../runtime/index.ts';
import type { Denoiser } from '../models/index.ts';

/** Default budget: this fraction of the machine's memory (the rest: data cache, Node, the OS, other jobs). */
export const DEFAULT_MEMORY_FRACTION = 0.5;
export { tensorHeapCapBytes, WASM_HEAP_PLAN_BYTES } from '../runtime/index.ts';

/** Copies of the weights a training run holds besides the probe's gradients: weights, Adam m and v, EMA, the accumulated gradients. */
export const MODEL_STATE_COPIES = 5;

export interface StepMemory {
  /** Bytes of one copy of the weights (float32). */
  paramBytes: number;
  /** Bytes a forward + backward pass needs whatever its batch (gradients, temporaries of weight size). */
  fixedBytes: number;
  /** Bytes each image of a micro-batch adds (activations kept for the backward pass). */
  perImageBytes: number;
}

/** Peak tensor bytes of a forward + backward pass at batch b, above what was allocated before. */
export async function stepPeakBytes(model: Denoiser, b: number): Promise<number> {
  const c = model.config, before = tf.memory().numBytes;
  const prof = await withPrecision('fp32', () => tf.profile(() => {
    tf.tidy(() => {
      const x = tf.zeros([b, c.imageSize, c.imageSize, c.inChannels]);
      const logSnr = tf.zeros([b]), y = tf.zeros([b], 'int32');
      const { value } = tf.variableGrads(() => tf.mean(tf.square(model.apply(x, logSnr, y))) as tf.Scalar, model.params.list());
      value.dataSync();
    });
  }));
  return Math.max(0, prof.peakBytes - before);
}

/** Measure the memory of a training step of `model` (two passes: batch 1 and 2; no weights change, no random draws). */
export async function measureStepMemory(model: Denoiser): Promise<StepMemory> {
  const one = await stepPeakBytes(model, 1), two = await stepPeakBytes(model, 2);
  const perImageBytes = Math.max(1, two - one);
  return { paramBytes: 4 * model.parameterCount(), fixedBytes: Math.max(0, one - perImageBytes), perImageBytes };
}

export interface MicroBatchChoice {
  microBatch: number;
  /** Bytes the step is estimated to need at that micro-batch (model state + fixed + per image × microBatch). */
  estimateBytes: number;
  budgetBytes: number;
  /** One line for the log: what was chosen and why. */
  note: string;
}

const mb = (x: number) => `${(x / 2 ** 20).toFixed(0)} MB`;

/**
 * The largest divisor of batchSize whose step fits the budget (default: DEFAULT_MEMORY_FRACTION
 * of os.totalmem(), and never above the tensor heap cap); 1 when none does, with a note that says so.
 */
export function chooseMicroBatch(batchSize: number, m: StepMemory, requestedBytes = DEFAULT_MEMORY_FRACTION * os.totalmem(), heapCapBytes = tensorHeapCapBytes()): MicroBatchChoice {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`chooseMicroBatch: batchSize must be a positive integer, got ${batchSize}`);
  if (!(requestedBytes > 0)) throw new Error(`memory budget must be > 0 bytes, got ${requestedBytes}`);
  const budgetBytes = Math.min(requestedBytes, heapCapBytes);
  const capped = budgetBytes < requestedBytes ? `, capped from ${mb(requestedBytes)} by the 4 GiB wasm heap that holds the tensors` : '';
  const base = MODEL_STATE_COPIES * m.paramBytes + m.fixedBytes;
  const need = (k: number) => base + k * m.perImageBytes;
  let micro = 1;
  for (let k = batchSize; k >= 1; k--) if (batchSize % k === 0 && need(k) <= budgetBytes) { micro = k; break; }
  const what = `~${mb(m.perImageBytes)} of activations per image, ${mb(base)} for weights, optimizer state and gradients`;
  const note = need(micro) <= budgetBytes
    ? `micro-batch ${micro} of batch ${batchSize} (auto: ${what}; step ~${mb(need(micro))} of a ${mb(budgetBytes)} budget${capped})`
    : `micro-batch 1 of batch ${batchSize} (auto), but even that needs ~${mb(need(1))}, over the ${mb(budgetBytes)} budget${capped} (${what}); use a smaller model or image size${capped ? '' : ', or raise --memory-budget'}`;
  return { microBatch: micro, estimateBytes: need(micro), budgetBytes, note };
}
