// How many rows one inference call of a denoiser may take. tf.tidy frees a forward pass's
// intermediates only when it ends, so a call's peak grows with its rows: ~16 MB per row for the
// 28² `small` UNet, ~51 MB for `unet-64` at 64². The classifier's default of 256 rows fits the
// first in the wasm heap and not the second, so the rows are capped from a measurement.
import { tf, tensorHeapCapBytes, withPrecision } from '../runtime/index.ts';
import type { Denoiser } from './types.ts';

const perRow = new WeakMap<Denoiser, number>();

/** Peak tensor bytes one more row adds to a forward pass (measured at 1 and 2 rows, fp32; cached per model). */
export function forwardBytesPerRow(model: Denoiser): number {
  const known = perRow.get(model);
  if (known !== undefined) return known;
  const c = model.config;
  const peak = (b: number) => {
    const before = tf.memory().numBytes;
    let top = 0;
    // tf.profile is async; a synchronous estimate: bytes alive at the end of an untidied pass
    tf.tidy(() => {
      const v = model.apply(tf.zeros([b, c.imageSize, c.imageSize, c.inChannels]), tf.zeros([b]), tf.zeros([b], 'int32'));
      v.dataSync();
      top = tf.memory().numBytes - before;
    });
    return top;
  };
  const bytes = withPrecision('fp32', () => Math.max(1, peak(2) - peak(1)));
  perRow.set(model, bytes);
  return bytes;
}

/** `requested` rows, or fewer so that one forward call stays within the tensor heap (at least 1). */
export function rowsThatFit(model: Denoiser, requested: number, capBytes = tensorHeapCapBytes()): number {
  if (!Number.isFinite(capBytes)) return requested;
  const free = capBytes - tf.memory().numBytes;
  return Math.max(1, Math.min(requested, Math.floor((0.8 * free) / forwardBytesPerRow(model))));
}
