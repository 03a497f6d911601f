// The baselines' augmentations (method.md §8). Expected values are written out here or computed from
// the formulas, never by the functions under test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Rng, augmentBatch, flipVerticalSome, gaussianBlurSome, mirrorSome, rotateSome, validateBaselineAugment,
  DEFAULT_BASELINE_AUGMENT, ROTATION_FILL, type BaselineAugment,
} from '../../src/data/index.ts';

type Shape = [number, number, number, number];
const f32 = (a: number[]) => Float32Array.from(a);
/** n·h·w·c values uniform in [lo, hi), from a seed. */
function randomImages([n, h, w, c]: Shape, seed: number, lo = -1, hi = 1): Float32Array {
  const r = new Rng(seed);
  return Float32Array.from({ length: n * h * w * c }, () => lo + (hi - lo) * r.float());
}
/** Channel k of an NHWC batch as its own 1-channel batch. */
function channel(x: Float32Array, [n, h, w, c]: Shape, k: number): Float32Array {
  return Float32Array.from({ length: n * h * w }, (_, i) => x[i * c + k]!);
}
function assertClose(a: Float32Array, b: ArrayLike<number>, tol: number, msg?: string): void {
  assert.equal(a.length, b.length, msg);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) <= tol, `${msg ?? ''} [${i}] ${a[i]} vs ${b[i]}`);
}
/** The 1-D kernel from torchvision's formula, written independently of gaussianKernel1d. */
function kernel1d(sigma: number, k = 5): number[] {
  const half = (k - 1) / 2;
  const v = Array.from({ length: k }, (_, i) => Math.exp(-((i - half) ** 2) / (2 * sigma * sigma)));
  const s = v.reduce((a, b) => a + b, 0);
  return v.map((x) => x / s);
}
/** An Rng stand-in that replays a script and fails when asked for more. */
function scripted(values: number[]): { float(): number; left(): number } {
  let i = 0;
  return {
    float() { if (i >= values.length) throw new Error(`rng asked for draw ${i + 1} of ${values.length}`); return values[i++]!; },
    left() { return values.length - i; },
  };
}

test('flipVerticalSome flips the chosen images top–bottom, every channel', () => {
  const x = f32([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]); // 2 images of 2×3
  assert.deepEqual([...flipVerticalSome(x, [2, 2, 3, 1], [false, true])], [1, 2, 3, 4, 5, 6, 10, 11, 12, 7, 8, 9]);
  // 1 image 3×1 with 2 channels: rows (1,2) (3,4) (5,6) → (5,6) (3,4) (1,2)
  assert.deepEqual([...flipVerticalSome(f32([1, 2, 3, 4, 5, 6]), [1, 3, 1, 2], [true])], [5, 6, 3, 4, 1, 2]);
  const y = f32([1, 2, 3, 4]);
  const out = flipVerticalSome(y, [1, 2, 2, 1], [false]);
  assert.notEqual(out, y, 'a new buffer');
  assert.deepEqual([...out], [1, 2, 3, 4]);
});

test('rotateSome: angle 0 is an exact copy in a new buffer', () => {
  const x = randomImages([3, 5, 7, 2], 1);
  const out = rotateSome(x, [3, 5, 7, 2], [0, 0, 0]);
  assert.notEqual(out, x);
  assert.deepEqual([...out], [...x]);
});

test('rotateSome: a quarter turn on a square image is exactly transpose then top–bottom flip (counter-clockwise)', () => {
  // [[1, 2], [3, 4]] turned 90° counter-clockwise → [[2, 4], [1, 3]]
  assert.deepEqual([...rotateSome(f32([1, 2, 3, 4]), [1, 2, 2, 1], [90])], [2, 4, 1, 3]);
  const [n, s, c] = [2, 5, 3];
  const x = randomImages([n, s, s, c], 2);
  const at = (i: number, r: number, col: number, k: number) => x[((i * s + r) * s + col) * c + k]!;
  const expect90 = new Float32Array(x.length), expect270 = new Float32Array(x.length), expect180 = new Float32Array(x.length);
  for (let i = 0; i < n; i++) for (let r = 0; r < s; r++) for (let col = 0; col < s; col++) for (let k = 0; k < c; k++) {
    const o = ((i * s + r) * s + col) * c + k;
    expect90[o] = at(i, col, s - 1 - r, k); // transpose, then flip rows
    expect270[o] = at(i, s - 1 - col, r, k);
    expect180[o] = at(i, s - 1 - r, s - 1 - col, k);
  }
  assert.deepEqual([...rotateSome(x, [n, s, s, c], [90, 90])], [...expect90]);
  assert.deepEqual([...rotateSome(x, [n, s, s, c], [-90, 270])], [...expect270]);
  assert.deepEqual([...rotateSome(x, [n, s, s, c], [180, -180])], [...expect180]);
});

test('rotateSome: 360° is the identity', () => {
  const x = randomImages([2, 6, 6, 1], 3);
  assertClose(rotateSome(x, [2, 6, 6, 1], [360, -720]), x, 1e-6);
});

test('rotateSome: bilinear sampling about the centre reproduces a rotated linear ramp; outside is the fill', () => {
  const [h, w] = [9, 11];
  const f = (x: number, y: number) => 0.1 * x - 0.05 * y;
  const x = Float32Array.from({ length: h * w }, (_, i) => f(i % w, Math.floor(i / w)));
  const deg = 23, a = (deg * Math.PI) / 180;
  const out = rotateSome(x, [1, h, w, 1], [deg]);
  const fillOut = rotateSome(x, [1, h, w, 1], [deg], 5);
  const [cx, cy] = [(w - 1) / 2, (h - 1) / 2];
  let inside = 0, outside = 0;
  for (let r = 0; r < h; r++) for (let c = 0; c < w; c++) {
    // the source point: output offset turned back by −deg (y points down, counter-clockwise on screen)
    const sx = cx + (c - cx) * Math.cos(a) - (r - cy) * Math.sin(a);
    const sy = cy + (c - cx) * Math.sin(a) + (r - cy) * Math.cos(a);
    const o = r * w + c;
    if (sx >= 0 && sx <= w - 1 && sy >= 0 && sy <= h - 1) {
      inside++;
      assert.ok(Math.abs(out[o]! - f(sx, sy)) < 1e-5, `(${r}, ${c}): ${out[o]} vs ${f(sx, sy)}`);
    } else if (sx < -1 || sx > w || sy < -1 || sy > h) {
      outside++;
      assert.equal(out[o], ROTATION_FILL);
      assert.equal(fillOut[o], 5);
    }
  }
  assert.ok(inside > 50 && outside >= 4, `${inside} inside, ${outside} outside`);
  assert.equal(ROTATION_FILL, -1);
});

test('rotateSome and gaussianBlurSome keep values within the input range (and the fill)', () => {
  const shape: Shape = [4, 12, 10, 2];
  const x = randomImages(shape, 4, -0.4, 0.7);
  let [lo, hi] = [Infinity, -Infinity];
  for (const v of x) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  const rot = rotateSome(x, shape, [13, -29.5, 45, 100], 0);
  assert.ok(rot.every((v) => v >= lo && v <= hi), 'rotation with a fill inside the range');
  assert.ok(rotateSome(x, shape, [13, -29.5, 45, 100]).every((v) => v >= -1 && v <= hi), 'rotation with the −1 fill');
  const blur = gaussianBlurSome(x, shape, [0.1, 0.7, 2, 10]);
  assert.ok(blur.every((v) => v >= lo && v <= hi), 'blur');
  assert.ok(blur.some((v, i) => Math.abs(v - x[i]!) > 1e-3), 'the blur changed something');
});

test('gaussianBlurSome: σ ≤ 0 copies; a constant image stays exactly constant', () => {
  const x = randomImages([2, 6, 6, 1], 5);
  assert.deepEqual([...gaussianBlurSome(x, [2, 6, 6, 1], [0, -1])], [...x]);
  for (const v of [0.3, -0.7731, 1]) {
    const flat = new Float32Array(2 * 7 * 5 * 3).fill(v);
    const out = gaussianBlurSome(flat, [2, 7, 5, 3], [0.1, 1.9]);
    assert.ok(out.every((y) => y === Math.fround(v)), `constant ${v}`);
  }
});

test('gaussianBlurSome: an impulse becomes the outer product of the normalised 1-D kernel', () => {
  for (const [sigma, kernel] of [[1.3, 5], [0.6, 3], [2, 7]] as const) {
    const s = 9, mid = 4, half = (kernel - 1) / 2;
    const x = new Float32Array(s * s);
    x[mid * s + mid] = 1;
    const k = kernel1d(sigma, kernel);
    const expected = Array.from({ length: s * s }, (_, i) => {
      const dr = Math.floor(i / s) - mid, dc = (i % s) - mid;
      return Math.abs(dr) <= half && Math.abs(dc) <= half ? k[dr + half]! * k[dc + half]! : 0;
    });
    assertClose(gaussianBlurSome(x, [1, s, s, 1], [sigma], kernel), expected, 1e-7, `σ ${sigma}, kernel ${kernel}`);
  }
});

test('gaussianBlurSome pads by reflection without repeating the edge, as torchvision', () => {
  // one row, impulse at the left edge: reflect (c b | a b c) gives [k2, k1, k0, 0 …]; edge repeat would give [k0+k1+k2, k0+k1, k0, …]
  const k = kernel1d(1);
  const out = gaussianBlurSome(f32([1, 0, 0, 0, 0, 0]), [1, 1, 6, 1], [1]);
  assertClose(out, [k[2]!, k[1]!, k[0]!, 0, 0, 0], 1e-7);
  // a column, impulse at the bottom edge
  const col = gaussianBlurSome(f32([0, 0, 0, 0, 1]), [1, 5, 1, 1], [1]);
  assertClose(col, [0, 0, k[0]!, k[1]!, k[2]!], 1e-7);
  const corner = new Float32Array(16); corner[0] = 1; // 4×4, impulse top-left: [k2, k1, k0, 0] ⊗ [k2, k1, k0, 0]
  const edge = [k[2]!, k[1]!, k[0]!, 0];
  assertClose(gaussianBlurSome(corner, [1, 4, 4, 1], [1]), edge.flatMap((a) => edge.map((b) => a * b)), 1e-7);
  const k3 = kernel1d(0.8, 3); // the general (not unrolled) path: both edges of a row and of a column
  assertClose(gaussianBlurSome(f32([1, 0, 0, 0, 1]), [1, 1, 5, 1], [0.8], 3), [k3[1]!, k3[0]!, 0, k3[0]!, k3[1]!], 1e-7);
  assertClose(gaussianBlurSome(f32([1, 0, 0, 0, 1]), [1, 5, 1, 1], [0.8], 3), [k3[1]!, k3[0]!, 0, k3[0]!, k3[1]!], 1e-7);
});

test('every augmentation treats channels independently: a 3-channel image is three 1-channel images', () => {
  const shape: Shape = [3, 8, 9, 3], one: Shape = [3, 8, 9, 1];
  const x = randomImages(shape, 6);
  const cfg = validateBaselineAugment({ blur: { p: 1 } });
  const ops: [string, (v: Float32Array, s: Shape) => Float32Array][] = [
    ['flipVerticalSome', (v, s) => flipVerticalSome(v, s, [true, false, true])],
    ['rotateSome', (v, s) => rotateSome(v, s, [17, -30, 90])],
    ['gaussianBlurSome', (v, s) => gaussianBlurSome(v, s, [0.5, 0, 1.7])],
    ['augmentBatch', (v, s) => augmentBatch(v, s, cfg, new Rng(7))],
  ];
  for (const [name, op] of ops) {
    const all = op(x, shape);
    for (let k = 0; k < 3; k++) assert.deepEqual([...channel(all, shape, k)], [...op(channel(x, shape, k), one)], `${name}, channel ${k}`);
  }
});

test('augmentBatch draws hflip, vflip, angle, blur on/off, σ per image, in that order', () => {
  const shape: Shape = [2, 7, 7, 2], one: Shape = [1, 7, 7, 2];
  const x = randomImages(shape, 8);
  const size = 7 * 7 * 2;
  // image 0: mirror (0.2 < 0.5), no vflip (0.9), angle (2·0.5 − 1)·30 = 0, no blur (0.9 ≥ 0.5): exactly the mirror
  // image 1: no mirror, vflip, angle (2·0.75 − 1)·30 = 15°, blur (0.1 < 0.5) with σ = 0.1 + 1.9·0.5 = 1.05
  const rng = scripted([0.2, 0.9, 0.5, 0.9, 0.9, 0.2, 0.75, 0.1, 0.5]);
  const out = augmentBatch(x, shape, DEFAULT_BASELINE_AUGMENT, rng);
  assert.equal(rng.left(), 0, 'nine draws: four for the unblurred image, five for the blurred one');
  assert.deepEqual([...out.subarray(0, size)], [...mirrorSome(x.subarray(0, size), one, [true])]);
  const second = gaussianBlurSome(rotateSome(flipVerticalSome(x.slice(size), one, [true]), one, [15]), one, [1.05]);
  assertClose(out.subarray(size), second, 1e-6);
  // mirror and rotation together: mirrored first, then turned
  const both = augmentBatch(x.slice(0, size), one, DEFAULT_BASELINE_AUGMENT, scripted([0.1, 0.1, 0.25, 0.99]));
  assertClose(both, rotateSome(flipVerticalSome(mirrorSome(x.slice(0, size), one, [true]), one, [true]), one, [-15]), 1e-6);
});

test('augmentBatch: a switched-off augmentation draws nothing', () => {
  const shape: Shape = [3, 4, 4, 1];
  const x = randomImages(shape, 9);
  const cases: [Partial<BaselineAugment>, number][] = [
    [{ rotate: 0, hflip: false, vflip: false, blur: null }, 0],
    [{ rotate: 0, hflip: false, vflip: true, blur: null }, 3],
    [{ rotate: 10, hflip: false, vflip: false, blur: null }, 3],
    [{ rotate: 0, hflip: false, vflip: false, blur: { kernel: 5, sigma: [0.1, 2], p: 0 } }, 0],
    [{ rotate: 0, hflip: true, vflip: false, blur: { kernel: 5, sigma: [0.1, 2], p: 1 } }, 9], // hflip, on/off, σ
  ];
  for (const [partial, draws] of cases) {
    const rng = scripted(new Array<number>(draws).fill(0.3));
    const out = augmentBatch(x, shape, validateBaselineAugment(partial), rng);
    assert.equal(rng.left(), 0, JSON.stringify(partial));
    if (draws === 0) assert.deepEqual([...out], [...x], 'all off → a copy');
  }
});

test('augmentBatch is deterministic for a seed and resumes from a saved RNG state', () => {
  const shape: Shape = [8, 10, 10, 1];
  const a = randomImages(shape, 10), b = randomImages(shape, 11);
  const cfg = DEFAULT_BASELINE_AUGMENT;
  const r1 = new Rng(42);
  const a1 = augmentBatch(a, shape, cfg, r1);
  const saved = r1.getState();
  const b1 = augmentBatch(b, shape, cfg, r1);
  assert.deepEqual([...augmentBatch(a, shape, cfg, new Rng(42))], [...a1], 'same seed, same batch');
  assert.deepEqual([...augmentBatch(b, shape, cfg, Rng.fromState(JSON.parse(JSON.stringify(saved))))], [...b1], 'resumed');
  assert.notDeepEqual([...augmentBatch(a, shape, cfg, new Rng(43))], [...a1], 'other seed');
  assert.notDeepEqual([...a1], [...a], 'something changed');
});

test('validateBaselineAugment fills defaults (also inside blur) and names the bad field', () => {
  assert.deepEqual(DEFAULT_BASELINE_AUGMENT, { rotate: 30, hflip: true, vflip: true, blur: { kernel: 5, sigma: [0.1, 2], p: 0.5 } });
  assert.deepEqual(validateBaselineAugment({}), DEFAULT_BASELINE_AUGMENT);
  assert.deepEqual(validateBaselineAugment({ vflip: false, blur: { p: 1 } }), { rotate: 30, hflip: true, vflip: false, blur: { kernel: 5, sigma: [0.1, 2], p: 1 } });
  assert.equal(validateBaselineAugment({ blur: null }).blur, null);
  const bad: [unknown, string][] = [
    [{ rotate: -1 }, "'rotate'"], [{ rotate: 200 }, "'rotate'"], [{ rotate: NaN }, "'rotate'"], [{ hflip: 'yes' }, "'hflip'"],
    [{ vflip: 1 }, "'vflip'"], [{ vFlip: false }, "'vFlip' is not an augmentation"], [{ blur: true }, "'blur'"],
    [{ blur: { kernel: 4 } }, "'blur.kernel'"], [{ blur: { kernel: 0 } }, "'blur.kernel'"], [{ blur: { sigma: [2, 0.1] } }, "'blur.sigma'"],
    [{ blur: { sigma: [0, 1] } }, "'blur.sigma'"], [{ blur: { sigma: 1 } }, "'blur.sigma'"], [{ blur: { p: 1.5 } }, "'blur.p'"],
    [{ blur: { size: 5 } }, "'blur.size' is not a blur setting"],
  ];
  for (const [partial, field] of bad) {
    assert.throws(() => validateBaselineAugment(partial as Partial<BaselineAugment>), (e: Error) => e.message.includes(field), JSON.stringify(partial));
  }
});

test('shape and length errors name the argument', () => {
  const x = new Float32Array(2 * 3 * 3);
  const s: Shape = [2, 3, 3, 1];
  const expect = (fn: () => unknown, re: RegExp) => assert.throws(fn, re);
  expect(() => flipVerticalSome(x, s, [true]), /flipVerticalSome: which has 1 entries for 2 images/);
  expect(() => rotateSome(x, s, [1, 2, 3]), /rotateSome: anglesDegrees has 3 entries for 2 images/);
  expect(() => gaussianBlurSome(x, s, []), /gaussianBlurSome: sigmas has 0 entries for 2 images/);
  expect(() => rotateSome(x, [2, 3, 4, 1], [0, 0]), /rotateSome: images has 18 values but shape \[2, 3, 4, 1\] needs 24/);
  expect(() => augmentBatch(x, [3, 3, 3, 1], DEFAULT_BASELINE_AUGMENT, new Rng(0)), /augmentBatch: images has 18 values/);
  expect(() => gaussianBlurSome(x, [2, 3, 3] as unknown as Shape, [1, 1]), /gaussianBlurSome: shape must be \[n, h, w, c\]/);
  expect(() => rotateSome(x, s, [0, NaN]), /anglesDegrees\[1\]/);
  expect(() => rotateSome(x, s, [0, 0], NaN), /rotateSome: fill/);
  expect(() => gaussianBlurSome(x, s, [1, 1], 4), /gaussianBlurSome: kernel must be an odd positive integer/);
  expect(() => gaussianBlurSome(x, s, [1, Infinity]), /sigmas\[1\]/);
});
