// Pictures of an explanation: difference maps in a diverging colour map (blue = the model would
// remove intensity, red = it would add it) or a sequential one for |Δ|, and overlays on the input.
import { toUint8, type PixelImage, type RgbImage } from './images.ts';

/** Blue (−1) → white (0) → red (+1), for signed maps. */
function diverging(v: number): [number, number, number] {
  const t = Math.max(-1, Math.min(1, v));
  if (t >= 0) return [255, Math.round(255 * (1 - t)), Math.round(255 * (1 - t))];
  return [Math.round(255 * (1 + t)), Math.round(255 * (1 + t)), 255];
}

/** Black → red → yellow → white, for magnitudes in [0, 1]. */
function heat(v: number): [number, number, number] {
  const t = Math.max(0, Math.min(1, v)) * 3;
  return [Math.round(255 * Math.min(1, t)), Math.round(255 * Math.min(1, Math.max(0, t - 1))), Math.round(255 * Math.min(1, Math.max(0, t - 2)))];
}

/** Symmetric scale for a map: its largest magnitude, but at least `floor` so noise is not blown up. */
export function mapScale(d: Float32Array, floor = 0.05): number {
  let m = 0;
  for (const v of d) m = Math.max(m, Math.abs(v));
  return Math.max(m, floor);
}

export function differenceImage(d: Float32Array, width: number, height: number, signed: boolean, scale = mapScale(d)): RgbImage {
  const out = new Uint8Array(width * height * 3);
  for (let p = 0; p < width * height; p++) out.set(signed ? diverging(d[p]! / scale) : heat(d[p]! / scale), p * 3);
  return { data: out, width, height, channels: 3 };
}

/** The input in grey with the difference map laid over it where it is strong. */
export function overlayImage(input: Float32Array, channels: number, d: Float32Array, width: number, height: number, signed: boolean, scale = mapScale(d)): RgbImage {
  const base = toUint8(input, width, height, channels as 1 | 3);
  const out = new Uint8Array(width * height * 3);
  for (let p = 0; p < width * height; p++) {
    const g = channels === 1 ? base.data[p]! : Math.round((base.data[p * 3]! + base.data[p * 3 + 1]! + base.data[p * 3 + 2]!) / 3);
    const a = Math.min(1, Math.abs(d[p]!) / scale) * 0.8;
    const col = signed ? diverging(d[p]! / scale) : heat(d[p]! / scale);
    for (let ch = 0; ch < 3; ch++) out[p * 3 + ch] = Math.round((1 - a) * g + a * col[ch]!);
  }
  return { data: out, width, height, channels: 3 };
}

/**
 * The difference map as RGBA for laying over the input at any opacity (the web app's slider):
 * the map's colour, alpha following |Δ| so unchanged pixels stay transparent.
 */
export function differenceOverlayImage(d: Float32Array, width: number, height: number, signed: boolean, scale = mapScale(d)): PixelImage {
  const out = new Uint8Array(width * height * 4);
  for (let p = 0; p < width * height; p++) {
    out.set(signed ? diverging(d[p]! / scale) : heat(d[p]! / scale), p * 4);
    out[p * 4 + 3] = Math.round(255 * Math.min(1, Math.abs(d[p]!) / scale));
  }
  return { data: out, width, height, channels: 4 };
}
