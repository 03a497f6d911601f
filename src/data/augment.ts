// Augmentations on NHWC float batches: training draws the random choices from the trainer's RNG
// (a resumed run repeats them exactly); the classifier mirrors its alternate-pair view.

/** Copy of NHWC images with the chosen ones mirrored left–right. */
export function mirrorSome(images: Float32Array, [n, h, w, c]: [number, number, number, number], which: readonly boolean[]): Float32Array {
  const out = Float32Array.from(images);
  for (let i = 0; i < n; i++) {
    if (!which[i]) continue;
    for (let r = 0; r < h; r++) {
      const row = (i * h + r) * w * c;
      for (let x = 0; x < w; x++) for (let k = 0; k < c; k++) out[row + x * c + k] = images[row + (w - 1 - x) * c + k]!;
    }
  }
  return out;
}

/**
 * Copy of NHWC images, image i moved down by offsets[i][0] and right by offsets[i][1] pixels.
 * Pixels moved in from outside repeat the nearest edge, so no artificial border appears.
 */
export function shiftSome(images: Float32Array, [n, h, w, c]: [number, number, number, number], offsets: readonly (readonly [number, number])[]): Float32Array {
  const out = Float32Array.from(images);
  const clamp = (v: number, hi: number) => (v < 0 ? 0 : v > hi ? hi : v);
  for (let i = 0; i < n; i++) {
    const [dy, dx] = offsets[i]!;
    if (dy === 0 && dx === 0) continue;
    const base = i * h * w * c;
    for (let r = 0; r < h; r++) {
      const sr = clamp(r - dy, h - 1);
      for (let x = 0; x < w; x++) {
        const sx = clamp(x - dx, w - 1);
        for (let k = 0; k < c; k++) out[base + (r * w + x) * c + k] = images[base + (sr * w + sx) * c + k]!;
      }
    }
  }
  return out;
}
