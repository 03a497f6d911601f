/**
 * Turn decoded images and MedMNIST uint8 arrays into model input: Float32Array HWC in [-1, 1].
 * -1 is black, so padding with -1 adds black borders (as the images' own background).
 */
import sharp from 'sharp';
import { decodeImage, type DecodedImage } from './decode.ts';

/**
 * How a non-square or differently sized image reaches size×size:
 *  - 'pad' (default): fit the whole image inside and pad the short side with black, so no
 *    anatomy is cropped and the aspect ratio is kept;
 *  - 'stretch': resize both sides independently (distorts aspect);
 *  - 'crop': resize the short side to size and center-crop (may cut off image borders).
 */
export type FitMode = 'pad' | 'stretch' | 'crop';

export interface PreprocessOptions {
  size: number;
  channels: 1 | 3;
  fit?: FitMode;
  /**
   * Side of the content inside the size×size square (default: size): the image is fitted to
   * contentSize² and padded with black to size², as MedMNIST's 28² images sit in a 32² square.
   */
  contentSize?: number;
}

/**
 * Centre an HWC image of side `from` on a square of side `to` filled with `fill`: −1 (black) for
 * model-space floats, 0 (black) for the compact 8/16-bit form (preprocessCompact).
 */
export function padCenter<T extends Float32Array | Uint8Array | Uint16Array>(img: T, from: number, to: number, channels: number, fill = -1): T {
  if (from === to) return img;
  if (from > to) throw new Error(`cannot pad a ${from}² image into ${to}²: the content size must not exceed the image size`);
  const out = new (img.constructor as { new (n: number): T })(to * to * channels);
  if (fill !== 0) out.fill(fill);
  const off = Math.floor((to - from) / 2);
  for (let y = 0; y < from; y++) out.set(img.subarray(y * from * channels, (y + 1) * from * channels), ((y + off) * to + off) * channels);
  return out;
}

/**
 * Samples in [0, 1]. 8-bit: x/255. 16-bit: x/max of the image, because 16-bit medical PNG/TIFFs
 * rarely use the full 0..65535 range (12-bit detectors) and would come out near-black.
 * Float (DICOM) data is already windowed to [0, 1].
 */
export function toUnitRange(img: DecodedImage): Float32Array {
  const src = img.data, out = new Float32Array(src.length);
  if (src instanceof Uint8Array) { for (let i = 0; i < src.length; i++) out[i] = src[i] / 255; return out; }
  if (src instanceof Uint16Array) {
    let max = 0;
    for (let i = 0; i < src.length; i++) if (src[i] > max) max = src[i];
    const k = max > 0 ? 1 / max : 0;
    for (let i = 0; i < src.length; i++) out[i] = src[i] * k;
    return out;
  }
  for (let i = 0; i < src.length; i++) out[i] = Math.min(1, Math.max(0, src[i]));
  return out;
}

/** Gray↔RGB. RGB→gray uses Rec. 601 luma weights (what PIL and most MedMNIST tooling use). */
export function convertChannels<T extends Float32Array | Uint8Array>(src: T, pixels: number, from: 1 | 3, to: 1 | 3): T {
  if (from === to) return src;
  const out = new (src.constructor as { new (n: number): T })(pixels * to);
  if (from === 1) {
    for (let p = 0; p < pixels; p++) { const v = src[p]; out[3 * p] = v; out[3 * p + 1] = v; out[3 * p + 2] = v; }
  } else {
    const round = src instanceof Uint8Array;
    for (let p = 0; p < pixels; p++) {
      const v = 0.299 * src[3 * p] + 0.587 * src[3 * p + 1] + 0.114 * src[3 * p + 2];
      out[p] = round ? Math.round(v) : v;
    }
  }
  return out;
}

/** Map [0, 1] → [-1, 1] in place. */
export function unitToSigned(a: Float32Array): Float32Array {
  for (let i = 0; i < a.length; i++) a[i] = a[i] * 2 - 1;
  return a;
}

/**
 * Resize a [0, 1] HWC image with sharp (Lanczos, so downscaling is anti-aliased). sharp has no
 * usable float pipeline for raw input, so samples travel as 16-bit (error < 1e-5); the 16-bit
 * result is what the compact cache stores (preprocessCompact), so it is returned as such.
 */
async function resizeU16(src: Float32Array, width: number, height: number, channels: 1 | 3, size: number, fit: FitMode): Promise<Uint16Array> {
  const u16 = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) u16[i] = Math.round(Math.min(1, Math.max(0, src[i])) * 65535);
  const { data } = await sharp(u16, { raw: { width, height, channels } })
    .resize(size, size, { fit: fit === 'pad' ? 'contain' : fit === 'crop' ? 'cover' : 'fill', background: { r: 0, g: 0, b: 0 }, position: 'centre' })
    .toColourspace(channels === 1 ? 'grey16' : 'rgb16')
    .raw({ depth: 'ushort' }).toBuffer({ resolveWithObject: true });
  if (data.byteLength !== 2 * size * size * channels) throw new Error(`resize produced ${data.byteLength / 2} samples, expected ${size * size * channels}`);
  // copy: sharp's buffer may sit unaligned in a shared pool, and the cache must own its bytes
  return new Uint16Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
}

/** Resize a [0, 1] HWC image to size² with sharp (see resizeU16); same-size input is returned as is. */
export async function resizeUnit(src: Float32Array, width: number, height: number, channels: 1 | 3, size: number, fit: FitMode = 'pad'): Promise<Float32Array> {
  if (width === size && height === size) return src;
  const out16 = await resizeU16(src, width, height, channels, size, fit);
  const out = new Float32Array(out16.length);
  for (let i = 0; i < out.length; i++) out[i] = out16[i] / 65535;
  return out;
}

/**
 * A preprocessed image in its smallest exact form (issue 15: a 10k × 128² × 3 data set is 2 GB
 * as float32): Uint8Array (8-bit source already at the content size, value x/255), Uint16Array
 * (anything sharp resized, value x/65535), else Float32Array (16-bit or DICOM data kept at its
 * size), already in [−1, 1]. expandCompact gives exactly what preprocessImage returns.
 */
export type CompactImage = Uint8Array | Uint16Array | Float32Array;

/** How much the fit scales the image up to content² (≤ 1: no upscaling). */
export function upscaleFactor(width: number, height: number, content: number, fit: FitMode = 'pad'): number {
  if (fit === 'pad') return content / Math.max(width, height);
  if (fit === 'crop') return content / Math.min(width, height);
  return Math.max(content / width, content / height);
}

/** Decoded image → compact size×size×channels (fitted to contentSize², then padded with black). */
export async function preprocessCompact(img: DecodedImage, opts: PreprocessOptions): Promise<CompactImage> {
  checkOptions(opts);
  const { size, channels } = opts;
  const content = opts.contentSize ?? size;
  if (!Number.isInteger(content) || content < 1 || content > size) throw new Error(`contentSize must be an integer in [1, size = ${size}], got ${content}`);
  const pixels = img.width * img.height;
  const sameSize = img.width === content && img.height === content;
  // RGB→gray is a weighted sum, not an 8-bit value: only gray→RGB (a copy) keeps 8-bit samples
  if (sameSize && img.data instanceof Uint8Array && !(img.channels === 3 && channels === 1)) {
    // a copy when unchanged: the cache must not keep the decoder's buffer (or whatever it is a view of) alive
    const px = img.channels === channels ? img.data.slice() : convertChannels(img.data, pixels, img.channels, channels);
    return padCenter(px, content, size, channels, 0);
  }
  const unit = convertChannels(toUnitRange(img), pixels, img.channels, channels);
  if (sameSize) return padCenter(unitToSigned(unit), content, size, channels);
  return padCenter(await resizeU16(unit, img.width, img.height, channels, content, opts.fit ?? 'pad'), content, size, channels, 0);
}

// [−1, 1] values of every 8- and 16-bit sample, computed as the float path does (x/255 or x/65535
// rounded to float32, then ×2−1), so expanding a compact image is bit-identical to preprocessImage.
let lut8: Float32Array | null = null, lut16: Float32Array | null = null;
function signedLut(levels: number): Float32Array {
  const unit = new Float32Array(levels);
  for (let i = 0; i < levels; i++) unit[i] = i / (levels - 1);
  return unitToSigned(unit);
}

/** Compact image → Float32Array in [−1, 1]. Float input is returned as is (shared: do not modify). */
export function expandCompact(img: CompactImage): Float32Array {
  if (img instanceof Float32Array) return img;
  const lut = img instanceof Uint8Array ? (lut8 ??= signedLut(256)) : (lut16 ??= signedLut(65536));
  const out = new Float32Array(img.length);
  for (let i = 0; i < img.length; i++) out[i] = lut[img[i]];
  return out;
}

/** Decoded image → Float32Array size×size×channels in [-1, 1] (fitted to contentSize², then padded). */
export async function preprocessImage(img: DecodedImage, opts: PreprocessOptions): Promise<Float32Array> {
  return expandCompact(await preprocessCompact(img, opts));
}

/** Decode + preprocess one file. */
export async function loadImageFile(path: string, opts: PreprocessOptions): Promise<Float32Array> {
  return preprocessImage(await decodeImage(path), opts);
}

/**
 * For small uint8 arrays (MedMNIST): 'pad' centers the image on a black canvas (28→32 keeps
 * pixels 1:1, what the bench model uses); 'resize' is bilinear (area-averaged when shrinking);
 * 'auto' (default) pads when the target is at most 25% larger, else resizes.
 */
export type ArrayResize = 'auto' | 'pad' | 'resize';

export interface ArrayPreprocessOptions { size: number; channels: 1 | 3; arrayResize?: ArrayResize }

/** One uint8 HWC image (h×w×c) → Float32Array size×size×channels in [-1, 1]. Synchronous and cheap. */
export function preprocessU8(src: Uint8Array, height: number, width: number, channels: 1 | 3, opts: ArrayPreprocessOptions): Float32Array {
  checkOptions(opts);
  const { size } = opts, c = opts.channels;
  const px = convertChannels(src, height * width, channels, c);
  let mode = opts.arrayResize ?? 'auto';
  if (mode === 'auto') mode = size >= Math.max(height, width) && size <= 1.25 * Math.max(height, width) ? 'pad' : 'resize';
  if (mode === 'pad' && (size < height || size < width)) {
    throw new Error(`cannot pad a ${width}x${height} image to ${size}x${size}; use arrayResize 'resize' or a larger image size`);
  }
  const out = new Float32Array(size * size * c);
  if (mode === 'pad') {
    out.fill(-1);
    const top = (size - height) >> 1, left = (size - width) >> 1;
    for (let y = 0; y < height; y++) {
      const so = y * width * c, o = ((y + top) * size + left) * c;
      for (let i = 0; i < width * c; i++) out[o + i] = px[so + i] / 127.5 - 1;
    }
    return out;
  }
  // Keep aspect: scale to fit, then pad (square MedMNIST images fill the canvas).
  const scale = Math.min(size / width, size / height);
  const nw = Math.max(1, Math.round(width * scale)), nh = Math.max(1, Math.round(height * scale));
  const top = (size - nh) >> 1, left = (size - nw) >> 1;
  out.fill(-1);
  // Sample with a box of the source footprint when shrinking (anti-aliasing), bilinear when growing.
  const sx = width / nw, sy = height / nh;
  for (let y = 0; y < nh; y++) {
    for (let x = 0; x < nw; x++) {
      const o = ((y + top) * size + x + left) * c;
      for (let k = 0; k < c; k++) out[o + k] = sampleArea(px, width, height, c, k, x * sx, y * sy, sx, sy) / 127.5 - 1;
    }
  }
  return out;
}

/** Mean of the source over the box [x0, x0+w)×[y0, y0+h) for shrinking; bilinear at its center otherwise. */
function sampleArea(px: Uint8Array, w: number, h: number, c: number, k: number, x0: number, y0: number, bw: number, bh: number): number {
  if (bw <= 1 && bh <= 1) {
    const fx = Math.min(w - 1, Math.max(0, x0 + bw / 2 - 0.5)), fy = Math.min(h - 1, Math.max(0, y0 + bh / 2 - 0.5));
    const ix = Math.floor(fx), iy = Math.floor(fy), ax = fx - ix, ay = fy - iy;
    const ix1 = Math.min(w - 1, ix + 1), iy1 = Math.min(h - 1, iy + 1);
    const at = (xx: number, yy: number) => px[(yy * w + xx) * c + k];
    return (1 - ay) * ((1 - ax) * at(ix, iy) + ax * at(ix1, iy)) + ay * ((1 - ax) * at(ix, iy1) + ax * at(ix1, iy1));
  }
  let sum = 0, wsum = 0;
  for (let yy = Math.floor(y0); yy < Math.min(h, Math.ceil(y0 + bh)); yy++) {
    const wy = Math.min(yy + 1, y0 + bh) - Math.max(yy, y0);
    for (let xx = Math.floor(x0); xx < Math.min(w, Math.ceil(x0 + bw)); xx++) {
      const wx = Math.min(xx + 1, x0 + bw) - Math.max(xx, x0);
      sum += wx * wy * px[(yy * w + xx) * c + k]; wsum += wx * wy;
    }
  }
  return wsum > 0 ? sum / wsum : 0;
}

function checkOptions(o: { size: number; channels: number }): void {
  if (!Number.isInteger(o.size) || o.size < 1) throw new Error(`image size must be a positive integer, got ${o.size}`);
  if (o.channels !== 1 && o.channels !== 3) throw new Error(`channels must be 1 (grayscale) or 3 (RGB), got ${o.channels}`);
}
