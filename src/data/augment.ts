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

// ---------------------------------------------------------------------------------------------
// The discriminative baselines' training augmentations (method.md §8, paper appendix B): rotation
// ±30°, horizontal and vertical flips p = 0.5, Gaussian blur kernel 5 with σ ∈ [0.1, 2], following
// torchvision's RandomRotation / RandomHorizontalFlip / RandomVerticalFlip / GaussianBlur. Each call
// allocates its output and at most two one-image scratch buffers (blur's float64 pass, augmentBatch's
// rotated image), never per-image or per-pixel arrays: they run on every training batch.

type Shape = [number, number, number, number];

/** Fill for pixels rotated in from outside: −1 is black in the [−1, 1] range the models see (torchvision's RandomRotation fills 0 = black on [0, 1] tensors). */
export const ROTATION_FILL = -1;

function checkBatch(fn: string, images: Float32Array, shape: readonly number[], perImage?: { name: string; length: number }): void {
  if (!(images instanceof Float32Array)) throw new Error(`${fn}: images must be a Float32Array`);
  if (!Array.isArray(shape) || shape.length !== 4 || !shape.every((d) => Number.isInteger(d) && d >= 1)) {
    throw new Error(`${fn}: shape must be [n, h, w, c] of positive integers, got ${JSON.stringify(shape)}`);
  }
  const [n, h, w, c] = shape as Shape;
  if (images.length !== n * h * w * c) throw new Error(`${fn}: images has ${images.length} values but shape [${shape.join(', ')}] needs ${n * h * w * c}`);
  if (perImage && perImage.length !== n) throw new Error(`${fn}: ${perImage.name} has ${perImage.length} entries for ${n} images`);
}

/** Copy of NHWC images with the chosen ones flipped top–bottom. */
export function flipVerticalSome(images: Float32Array, shape: Shape, which: readonly boolean[]): Float32Array {
  checkBatch('flipVerticalSome', images, shape, { name: 'which', length: which.length });
  const [n, h, w, c] = shape;
  const out = Float32Array.from(images);
  const row = w * c;
  for (let i = 0; i < n; i++) {
    if (!which[i]) continue;
    const base = i * h * row;
    for (let r = 0; r < h; r++) {
      const dst = base + r * row, src = base + (h - 1 - r) * row;
      for (let j = 0; j < row; j++) out[dst + j] = images[src + j]!;
    }
  }
  return out;
}

/** cos and sin of an angle in degrees, exact at multiples of 90° so quarter turns are exact permutations. */
function cosSin(deg: number): [number, number] {
  const q = deg / 90;
  if (Number.isInteger(q)) { const m = ((q % 4) + 4) % 4; return [[1, 0], [0, 1], [-1, 0], [0, -1]][m] as [number, number]; }
  const a = (deg * Math.PI) / 180;
  return [Math.cos(a), Math.sin(a)];
}

/**
 * One image from src[so..] into dst[do..]: flipped (left–right, top–bottom) and then rotated by `deg`
 * counter-clockwise about the centre ((w−1)/2, (h−1)/2), as torchvision's rotate, with bilinear
 * sampling; corners outside the image count as `fill` (torchvision blends its fill the same way).
 */
function resampleInto(src: Float32Array, so: number, dst: Float32Array, dO: number, h: number, w: number, c: number,
  deg: number, flipH: boolean, flipV: boolean, fill: number): void {
  if (deg === 0 && !flipH && !flipV) { dst.set(src.subarray(so, so + h * w * c), dO); return; }
  const [cos, sin] = cosSin(deg);
  const cx = (w - 1) / 2, cy = (h - 1) / 2;
  // offset of (column x, row y) of the flipped view is so + xBase + x·xStep + yBase + y·yStep
  const xStep = flipH ? -c : c, yStep = flipV ? -w * c : w * c;
  const base = so + (flipH ? (w - 1) * c : 0) + (flipV ? (h - 1) * w * c : 0);
  let d = dO;
  for (let r = 0; r < h; r++) {
    const dy = r - cy;
    for (let x = 0; x < w; x++, d += c) {
      const dx = x - cx;
      // inverse map: the source point that lands on output (x, r) (y points down, so CCW on screen)
      const sx = cx + dx * cos - dy * sin, sy = cy + dx * sin + dy * cos;
      const x0 = Math.floor(sx), y0 = Math.floor(sy);
      const fx = sx - x0, fy = sy - y0;
      const s00 = base + x0 * xStep + y0 * yStep;
      if (x0 >= 0 && x0 < w - 1 && y0 >= 0 && y0 < h - 1) { // all four corners inside: the common case
        const w00 = (1 - fx) * (1 - fy), w01 = fx * (1 - fy), w10 = (1 - fx) * fy, w11 = fx * fy;
        for (let k = 0; k < c; k++) {
          const s = s00 + k;
          dst[d + k] = w00 * src[s]! + w01 * src[s + xStep]! + w10 * src[s + yStep]! + w11 * src[s + xStep + yStep]!;
        }
        continue;
      }
      if (fx === 0 && fy === 0) { // on a pixel centre (on the last row or column): copy, exact for quarter turns
        const inside = x0 >= 0 && x0 < w && y0 >= 0 && y0 < h;
        for (let k = 0; k < c; k++) dst[d + k] = inside ? src[s00 + k]! : fill;
        continue;
      }
      const inX0 = x0 >= 0 && x0 < w, inX1 = x0 + 1 >= 0 && x0 + 1 < w;
      const inY0 = y0 >= 0 && y0 < h, inY1 = y0 + 1 >= 0 && y0 + 1 < h;
      const w00 = (1 - fx) * (1 - fy), w01 = fx * (1 - fy), w10 = (1 - fx) * fy, w11 = fx * fy;
      for (let k = 0; k < c; k++) {
        const s = s00 + k;
        dst[d + k] = w00 * (inY0 && inX0 ? src[s]! : fill) + w01 * (inY0 && inX1 ? src[s + xStep]! : fill)
          + w10 * (inY1 && inX0 ? src[s + yStep]! : fill) + w11 * (inY1 && inX1 ? src[s + xStep + yStep]! : fill);
      }
    }
  }
}

/**
 * Copy of NHWC images, image i rotated anglesDegrees[i] counter-clockwise about its centre (bilinear;
 * pixels from outside are `fill`, default −1 = black, see ROTATION_FILL). Angle 0 is an exact copy,
 * a quarter turn an exact permutation.
 */
export function rotateSome(images: Float32Array, shape: Shape, anglesDegrees: readonly number[], fill = ROTATION_FILL): Float32Array {
  checkBatch('rotateSome', images, shape, { name: 'anglesDegrees', length: anglesDegrees.length });
  if (!Number.isFinite(fill)) throw new Error(`rotateSome: fill must be a finite number, got ${fill}`);
  const [n, h, w, c] = shape;
  const out = Float32Array.from(images);
  const size = h * w * c;
  for (let i = 0; i < n; i++) {
    const a = anglesDegrees[i]!;
    if (!Number.isFinite(a)) throw new Error(`rotateSome: anglesDegrees[${i}] must be a finite number, got ${a}`);
    if (a !== 0) resampleInto(images, i * size, out, i * size, h, w, c, a, false, false, fill);
  }
  return out;
}

/** torchvision's 1-D Gaussian kernel: exp(−x²/2σ²) at x = −(k−1)/2 … (k−1)/2, normalised to sum 1. */
export function gaussianKernel1d(sigma: number, kernel: number): Float64Array {
  if (!Number.isInteger(kernel) || kernel < 1 || kernel % 2 === 0) throw new Error(`gaussianKernel1d: kernel must be an odd positive integer, got ${kernel}`);
  if (!(sigma > 0) || !Number.isFinite(sigma)) throw new Error(`gaussianKernel1d: sigma must be a positive finite number, got ${sigma}`);
  const half = (kernel - 1) / 2, k = new Float64Array(kernel);
  let sum = 0;
  for (let i = 0; i < kernel; i++) { const x = (i - half) / sigma; sum += k[i] = Math.exp(-0.5 * x * x); }
  for (let i = 0; i < kernel; i++) k[i]! /= sum;
  return k;
}

/** Index i reflected into [0, n) without repeating the edge (d c b | a b c d | c b a), as torch's 'reflect' padding; any i, any n. */
function reflect(i: number, n: number): number {
  if (n === 1) return 0;
  const p = 2 * (n - 1);
  const m = ((i % p) + p) % p;
  return m < n ? m : p - m;
}

/** Reusable scratch for blurring images of one shape (allocated once per call). */
interface BlurWork { kernel: number; tmp: Float64Array; acc: Float64Array; }

function blurWork(h: number, w: number, c: number, kernel: number): BlurWork {
  return { kernel, tmp: new Float64Array(h * w * c), acc: new Float64Array(w * c) };
}

/**
 * One image from src[so..] into dst[do..]: separable blur, along rows into tmp, then along columns,
 * reflect-padded. Each tap is one streaming pass over a row (the edges, where taps reflect, apart),
 * in float64 so a constant image comes back exactly.
 */
function blurInto(src: Float32Array, so: number, dst: Float32Array, dO: number, h: number, w: number, c: number, k: Float64Array, work: BlurWork): void {
  const { kernel, tmp, acc } = work;
  const half = (kernel - 1) / 2, row = w * c;
  const lo = Math.min(half, w), hi = Math.max(lo, w - half); // columns [lo, hi) need no reflection
  const five = kernel === 5, [k0, k1, k2, k3, k4] = five ? k : [0, 0, 0, 0, 0];
  const edge = (rs: number, rt: number, x: number) => {
    for (let ch = 0; ch < c; ch++) {
      let s = 0;
      for (let j = 0; j < kernel; j++) s += k[j]! * src[rs + reflect(x + j - half, w) * c + ch]!;
      tmp[rt + x * c + ch] = s;
    }
  };
  for (let r = 0; r < h; r++) {
    const rs = so + r * row, rt = r * row, e = rt + hi * c;
    if (five) { // the paper's kernel, unrolled
      for (let i = rt + lo * c, q = rs + lo * c; i < e; i++, q++) {
        tmp[i] = k0! * src[q - 2 * c]! + k1! * src[q - c]! + k2! * src[q]! + k3! * src[q + c]! + k4! * src[q + 2 * c]!;
      }
    } else {
      tmp.fill(0, rt + lo * c, e);
      for (let j = 0; j < kernel; j++) {
        const kj = k[j]!, shift = (j - half) * c;
        for (let i = rt + lo * c, q = rs + lo * c + shift; i < e; i++, q++) tmp[i]! += kj * src[q]!;
      }
    }
    for (let x = 0; x < lo; x++) edge(rs, rt, x);
    for (let x = hi; x < w; x++) edge(rs, rt, x);
  }
  for (let r = 0; r < h; r++) {
    const d = dO + r * row;
    if (five) {
      const t0 = reflect(r - 2, h) * row, t1 = reflect(r - 1, h) * row, t2 = r * row, t3 = reflect(r + 1, h) * row, t4 = reflect(r + 2, h) * row;
      for (let i = 0; i < row; i++) dst[d + i] = k0! * tmp[t0 + i]! + k1! * tmp[t1 + i]! + k2! * tmp[t2 + i]! + k3! * tmp[t3 + i]! + k4! * tmp[t4 + i]!;
      continue;
    }
    acc.fill(0);
    for (let j = 0; j < kernel; j++) {
      const kj = k[j]!, t = reflect(r + j - half, h) * row;
      for (let i = 0; i < row; i++) acc[i]! += kj * tmp[t + i]!;
    }
    dst.set(acc, d);
  }
}

/**
 * Copy of NHWC images, image i blurred by a normalised `kernel`-tap Gaussian of σ = sigmas[i] along
 * each axis (separable, reflect padding, as torchvision's GaussianBlur); σ ≤ 0 leaves it unchanged.
 */
export function gaussianBlurSome(images: Float32Array, shape: Shape, sigmas: readonly number[], kernel = 5): Float32Array {
  checkBatch('gaussianBlurSome', images, shape, { name: 'sigmas', length: sigmas.length });
  if (!Number.isInteger(kernel) || kernel < 1 || kernel % 2 === 0) throw new Error(`gaussianBlurSome: kernel must be an odd positive integer, got ${kernel}`);
  const [n, h, w, c] = shape;
  const out = Float32Array.from(images);
  const size = h * w * c;
  let work: BlurWork | undefined;
  for (let i = 0; i < n; i++) {
    const s = sigmas[i]!;
    if (!Number.isFinite(s)) throw new Error(`gaussianBlurSome: sigmas[${i}] must be a finite number, got ${s}`);
    if (s <= 0) continue;
    work ??= blurWork(h, w, c, kernel);
    blurInto(images, i * size, out, i * size, h, w, c, gaussianKernel1d(s, kernel), work);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The paper's augmentation pipeline as one validated config, drawn per image from the run's RNG.

/** Gaussian blur settings: kernel taps, σ range drawn uniformly, and the chance an image is blurred. */
export interface BlurAugment { kernel: number; sigma: readonly [number, number]; p: number; }

/** The baselines' training augmentations; rotate 0, hflip/vflip false or blur null switch one off. */
export interface BaselineAugment {
  /** Rotation angle drawn uniformly from [−rotate, rotate] degrees (torchvision RandomRotation(rotate)); 0 = off. */
  rotate: number;
  /** Mirror left–right with probability 0.5. */
  hflip: boolean;
  /** Flip top–bottom with probability 0.5. */
  vflip: boolean;
  blur: BlurAugment | null;
}

/** A partial config as users and saved runs give it: missing fields (also inside blur) take the defaults. */
export type BaselineAugmentInput = Partial<Omit<BaselineAugment, 'blur'>> & { blur?: Partial<BlurAugment> | null };

/**
 * method.md §8. The paper does not say how often the blur is applied (torchvision's GaussianBlur on its
 * own blurs every image); p = 0.5 here, like the flips, so half the images keep their full detail.
 */
export const DEFAULT_BASELINE_AUGMENT: BaselineAugment = Object.freeze({
  rotate: 30, hflip: true, vflip: true, blur: Object.freeze({ kernel: 5, sigma: Object.freeze([0.1, 2]) as readonly [number, number], p: 0.5 }),
});

const AUGMENT_KEYS = ['rotate', 'hflip', 'vflip', 'blur'];
const BLUR_KEYS = ['kernel', 'sigma', 'p'];

function failAugment(field: string, msg: string): never {
  throw new Error(`invalid baseline augmentation: '${field}' ${msg}`);
}

/** A complete, checked augmentation config from a partial one; the error names the bad field. */
export function validateBaselineAugment(partial: BaselineAugmentInput = {}): BaselineAugment {
  if (partial === null || typeof partial !== 'object') failAugment('augment', `must be an object, got ${JSON.stringify(partial)}`);
  for (const k of Object.keys(partial)) if (!AUGMENT_KEYS.includes(k)) failAugment(k, `is not an augmentation; allowed: ${AUGMENT_KEYS.join(', ')}`);
  const d = DEFAULT_BASELINE_AUGMENT;
  const rotate = partial.rotate ?? d.rotate, hflip = partial.hflip ?? d.hflip, vflip = partial.vflip ?? d.vflip;
  if (typeof rotate !== 'number' || !(rotate >= 0 && rotate <= 180)) failAugment('rotate', `must be a number of degrees in [0, 180] (0 = off), got ${JSON.stringify(rotate)}`);
  if (typeof hflip !== 'boolean') failAugment('hflip', `must be true or false, got ${JSON.stringify(hflip)}`);
  if (typeof vflip !== 'boolean') failAugment('vflip', `must be true or false, got ${JSON.stringify(vflip)}`);
  const b = partial.blur === undefined ? d.blur : partial.blur;
  if (b === null) return { rotate, hflip, vflip, blur: null };
  if (typeof b !== 'object' || Array.isArray(b)) failAugment('blur', `must be { kernel, sigma, p } or null (off), got ${JSON.stringify(b)}`);
  for (const k of Object.keys(b)) if (!BLUR_KEYS.includes(k)) failAugment(`blur.${k}`, `is not a blur setting; allowed: ${BLUR_KEYS.join(', ')}`);
  const db = d.blur!;
  const kernel = b.kernel ?? db.kernel, sigma = b.sigma ?? db.sigma, p = b.p ?? db.p;
  if (typeof kernel !== 'number' || !Number.isInteger(kernel) || kernel < 1 || kernel % 2 === 0) failAugment('blur.kernel', `must be an odd positive integer, got ${JSON.stringify(kernel)}`);
  if (!Array.isArray(sigma) || sigma.length !== 2 || !sigma.every((s) => typeof s === 'number' && Number.isFinite(s) && s > 0) || sigma[0]! > sigma[1]!) {
    failAugment('blur.sigma', `must be [min, max] with 0 < min ≤ max, got ${JSON.stringify(sigma)}`);
  }
  if (typeof p !== 'number' || !(p >= 0 && p <= 1)) failAugment('blur.p', `must be a probability in [0, 1], got ${JSON.stringify(p)}`);
  return { rotate, hflip, vflip, blur: { kernel, sigma: [sigma[0]!, sigma[1]!], p } };
}

/**
 * A training batch augmented as torchvision's Compose([HFlip, VFlip, Rotation, RandomApply(Blur, p)]) would, into one
 * new buffer. Per image the draws come from `rng` in a fixed order — hflip, vflip, angle, blur on/off,
 * σ (only when blurred) — so a run resumed from its saved RNG state repeats them exactly. A switched-off
 * augmentation (and blur with p = 0) draws nothing, so switching one off shifts the later draws.
 */
export function augmentBatch(images: Float32Array, shape: Shape, cfg: BaselineAugment, rng: { float(): number }): Float32Array {
  checkBatch('augmentBatch', images, shape);
  const { rotate, hflip, vflip, blur } = validateBaselineAugment(cfg);
  const [n, h, w, c] = shape;
  const size = h * w * c;
  const out = new Float32Array(images.length);
  const blurOn = blur !== null && blur.p > 0;
  let work: BlurWork | undefined, mid: Float32Array | undefined;
  for (let i = 0; i < n; i++) {
    const fh = hflip && rng.float() < 0.5;
    const fv = vflip && rng.float() < 0.5;
    const angle = rotate > 0 ? (2 * rng.float() - 1) * rotate : 0;
    const blurred = blurOn && rng.float() < blur.p;
    const o = i * size;
    if (!blurred) { resampleInto(images, o, out, o, h, w, c, angle, fh, fv, ROTATION_FILL); continue; }
    const sigma = blur.sigma[0] + (blur.sigma[1] - blur.sigma[0]) * rng.float();
    work ??= blurWork(h, w, c, blur.kernel);
    mid ??= new Float32Array(size);
    resampleInto(images, o, mid, 0, h, w, c, angle, fh, fv, ROTATION_FILL);
    blurInto(mid, 0, out, o, h, w, c, gaussianKernel1d(sigma, blur.kernel), work);
  }
  return out;
}
