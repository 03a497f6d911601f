import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  preprocessU8, preprocessImage, loadImageFile, decodeImage, loadMedMNIST, convertChannels, toUnitRange, type DecodedImage,
} from '../../src/data/index.ts';
import { BREAST, CXR_PNG, DERM_JPG } from './helpers.ts';

function range(a: Float32Array): [number, number] {
  let lo = Infinity, hi = -Infinity;
  for (const v of a) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  return [lo, hi];
}

test('preprocess: MedMNIST 28→32 is a centered pad with -1 (black), pixels kept 1:1', async () => {
  const m = await loadMedMNIST(BREAST);
  const s = m.splits.train, src = s.images.subarray(0, 784);
  const out = preprocessU8(src, 28, 28, 1, { size: 32, channels: 1 });
  assert.equal(out.length, 32 * 32);
  for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) {
    const v = out[y * 32 + x];
    if (y < 2 || y >= 30 || x < 2 || x >= 30) assert.equal(v, -1);
    else assert.ok(Math.abs(v - (src[(y - 2) * 28 + (x - 2)] / 255 * 2 - 1)) < 1e-6);
  }
  const [lo, hi] = range(out);
  assert.ok(lo >= -1 && hi <= 1);
});

test('preprocess: arrays resize up and down, and convert gray↔RGB', () => {
  const src = new Uint8Array(28 * 28).fill(255);
  const up = preprocessU8(src, 28, 28, 1, { size: 64, channels: 1 }); // auto → resize (64 > 1.25×28)
  assert.ok(up.every((v) => Math.abs(v - 1) < 1e-6));
  const checker = new Uint8Array(64 * 64).map((_, i) => ((i % 64) + (i >> 6)) % 2 ? 255 : 0);
  const down = preprocessU8(checker, 64, 64, 1, { size: 32, channels: 3 });
  assert.equal(down.length, 32 * 32 * 3);
  assert.ok(down.every((v) => Math.abs(v) < 1e-6), 'area averaging turns a 1-px checkerboard into flat gray');
  assert.throws(() => preprocessU8(src, 28, 28, 1, { size: 16, channels: 1, arrayResize: 'pad' }), /cannot pad a 28x28 image to 16x16/);
  assert.deepEqual(Array.from(convertChannels(Uint8Array.from([255, 0, 0, 10, 10, 10]), 2, 3, 1)), [76, 10]);
  assert.deepEqual(Array.from(convertChannels(Uint8Array.from([7]), 1, 1, 3)), [7, 7, 7]);
});

test('preprocess: grayscale CXR PNG 512² → 64² in [-1, 1]', async () => {
  const out = await loadImageFile(CXR_PNG, { size: 64, channels: 1 });
  assert.equal(out.length, 64 * 64);
  const [lo, hi] = range(out);
  assert.ok(lo >= -1 && hi <= 1 && lo < -0.8 && hi > 0.6, `range ${lo}..${hi}`);
  const rgb = await loadImageFile(CXR_PNG, { size: 32, channels: 3 });
  assert.equal(rgb.length, 32 * 32 * 3);
  assert.equal(rgb[3 * 500], rgb[3 * 500 + 1]);
});

test('preprocess: 600×450 JPEG pads to a square by default (no cropping); stretch and crop differ', async () => {
  const img = await decodeImage(DERM_JPG);
  const pad = await preprocessImage(img, { size: 64, channels: 3 });
  const row = (a: Float32Array, y: number) => a.subarray(y * 64 * 3, (y + 1) * 64 * 3);
  // 600×450 → 64×48, so 8 black rows above and below.
  for (const y of [0, 7, 56, 63]) assert.ok(row(pad, y).every((v) => v === -1), `row ${y} is padding`);
  for (const y of [8, 32, 55]) assert.ok(row(pad, y).some((v) => v > -0.9), `row ${y} has skin`);
  const stretch = await preprocessImage(img, { size: 64, channels: 3, fit: 'stretch' });
  const crop = await preprocessImage(img, { size: 64, channels: 1, fit: 'crop' });
  assert.ok(row(stretch, 0).some((v) => v > -0.9));
  assert.equal(crop.length, 64 * 64);
  assert.ok(crop.subarray(0, 64).some((v) => v > -0.9));
});

test('preprocess: 16-bit scales by the image max, DICOM float passes through', async () => {
  const data = new Uint16Array(32 * 32).map((_, i) => i); // max 1023 (a 10-bit image)
  const img: DecodedImage = { data, width: 32, height: 32, channels: 1, bitDepth: 16, format: 'png', path: 'x.png' };
  const out = await preprocessImage(img, { size: 32, channels: 1 });
  assert.equal(out[0], -1);
  assert.equal(out[1023], 1);
  assert.ok(Math.abs(out[512] - (512 / 1023 * 2 - 1)) < 1e-6);
  const f: DecodedImage = { data: Float32Array.from([0, 0.5, 1, 0.25]), width: 2, height: 2, channels: 1, bitDepth: 12, format: 'dicom', path: 'y.dcm' };
  assert.deepEqual(Array.from(toUnitRange(f)), [0, 0.5, 1, 0.25]);
  assert.deepEqual(Array.from(await preprocessImage(f, { size: 2, channels: 1 })), [-1, 0, 1, -0.5]);
  await assert.rejects(preprocessImage(f, { size: 0, channels: 1 }), /image size must be a positive integer/);
});
