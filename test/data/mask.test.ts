// Lesion masks go through the geometry of their images: a synthetic image whose white square is
// the mask must stay aligned with the mask under every fit, content size and mask resolution.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { csvMaskPaths, decodeImage, loadMask, loadMasks, preprocessImage, type MaskGeometry } from '../../src/data/index.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meddiff-mask-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A w×h PNG with value(x, y) in every channel (1 or 3 channels). */
async function pngOf(name: string, w: number, h: number, channels: 1 | 3, value: (x: number, y: number) => number): Promise<string> {
  const data = Buffer.alloc(w * h * channels);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data.fill(value(x, y), (y * w + x) * channels, (y * w + x + 1) * channels);
  const file = path.join(dir, name);
  await sharp(data, { raw: { width: w, height: h, channels } }).png().toFile(file);
  return file;
}

/** A w×h PNG: `inside` pixels get `fg`, others `bg`. */
const png = (name: string, w: number, h: number, channels: 1 | 3, inside: (x: number, y: number) => boolean, fg = 255, bg = 0) =>
  pngOf(name, w, h, channels, (x, y) => (inside(x, y) ? fg : bg));

// an off-centre lesion in a landscape image, so pad, crop and stretch all place it differently
const lesion = (s: number) => (x: number, y: number) => x >= 4 * s && x < 15 * s && y >= 3 * s && y < 13 * s;

const GEOMETRIES: MaskGeometry[] = [
  { size: 16, fit: 'pad' }, { size: 16, fit: 'crop' }, { size: 16, contentSize: 13, fit: 'crop' }, { size: 16, fit: 'stretch' }, { size: 32, contentSize: 28, fit: 'pad' },
];

test('a mask and its image stay aligned under pad, crop, stretch and a content size', async () => {
  const image = await png('img.png', 40, 30, 3, lesion(1));
  const mask = await png('img_mask.png', 40, 30, 1, lesion(1));
  const decoded = await decodeImage(image);
  for (const g of GEOMETRIES) {
    const x = await preprocessImage(decoded, { size: g.size, contentSize: g.contentSize, channels: 3, fit: g.fit });
    const m = await loadMask(mask, g);
    assert.equal(m.length, g.size * g.size);
    let inside = 0;
    for (let i = 0; i < m.length; i++) {
      // the same resize of the same 0/1 pattern: the image is bright exactly where the mask is 1
      assert.equal(m[i], x[i * 3]! >= 0 ? 1 : 0, `${JSON.stringify(g)}: pixel ${i % g.size},${Math.floor(i / g.size)}`);
      inside += m[i]!;
    }
    assert.ok(inside > 0 && inside < m.length / 2, `${JSON.stringify(g)}: ${inside} lesion pixels`);
  }
});

test('a mask at twice the image resolution lands on the same pixels (up to its edge)', async () => {
  const image = await png('small.png', 40, 30, 1, lesion(1));
  const big = await png('big_mask.png', 80, 60, 1, lesion(2));
  for (const g of GEOMETRIES) {
    const x = await preprocessImage(await decodeImage(image), { size: g.size, contentSize: g.contentSize, channels: 1, fit: g.fit });
    const m = await loadMask(big, g, { image: { width: 40, height: 30 } });
    let differ = 0;
    for (let i = 0; i < m.length; i++) if (m[i] !== (x[i]! >= 0 ? 1 : 0)) differ++;
    assert.ok(differ <= g.size / 4, `${JSON.stringify(g)}: ${differ} pixels differ`);
  }
});

test('interpolated masks are cut at 128, 0/1 label masks count as masks, another aspect ratio is refused', async () => {
  const g: MaskGeometry = { size: 20 };
  // 200 in the lesion, 100 in a ring around it (interpolation residue): only the lesion counts
  const core = (x: number, y: number) => x >= 5 && x < 10 && y >= 5 && y < 10;
  const soft = await pngOf('soft.png', 20, 20, 1, (x, y) => (core(x, y) ? 200 : Math.abs(x - 7) <= 4 && Math.abs(y - 7) <= 4 ? 100 : 0));
  const m = await loadMask(soft, g);
  assert.equal(m.reduce((a, v) => a + v, 0), 25);
  assert.equal(m[7 * 20 + 7], 1);
  assert.equal(m[3 * 20 + 3], 0);
  const labels = await png('labels.png', 20, 20, 1, (x, y) => x < 4 && y < 5, 1, 0);
  assert.equal((await loadMask(labels, g)).reduce((a, v) => a + v, 0), 20);
  const mask = await png('img_mask2.png', 40, 30, 1, lesion(1));
  await assert.rejects(loadMask(mask, g, { image: { width: 40, height: 40 } }), /img_mask2\.png: the mask is 40×30 but its image is 40×40; .*aspect ratio/);
  await assert.rejects(loadMask(mask, { size: 16, contentSize: 20 }), /contentSize must be an integer in \[1, size = 16\], got 20/);
});

test('masks from a CSV manifest: listed ones loaded in image order, missing and empty ones reported', async () => {
  await png('a.png', 40, 30, 3, lesion(1));
  await png('a_mask.png', 40, 30, 1, lesion(1));
  await png('b.png', 40, 30, 3, () => false);
  await png('b_mask.png', 40, 30, 1, () => false);
  await png('c.png', 40, 30, 3, () => false);
  const csv = path.join(dir, 'split.csv');
  fs.writeFileSync(csv, 'path,label,lesion_mask\na.png,x,a_mask.png\nb.png,y,b_mask.png\nc.png,y,gone.png\n');
  const paths = ['c.png', 'a.png', 'b.png'].map((f) => path.join(dir, f));
  const listed = await csvMaskPaths(csv, { maskColumn: 'lesion_mask' }, paths);
  assert.deepEqual(listed, ['gone.png', 'a_mask.png', 'b_mask.png'].map((f) => path.join(dir, f)));
  assert.deepEqual(await csvMaskPaths(csv, {}, paths), [undefined, undefined, undefined], 'no mask column: no masks');
  assert.deepEqual(await csvMaskPaths('data/breastmnist.npz', { maskColumn: 'lesion_mask' }, paths), [undefined, undefined, undefined]);
  const lm = await loadMasks(paths, listed, { size: 16 });
  assert.equal(lm.listed, 3);
  assert.deepEqual(lm.masks.map((m) => m !== null), [false, true, false]);
  assert.deepEqual(lm.problems.map((p) => p.index), [0, 2]);
  assert.match(lm.problems[0]!.reason, /gone\.png: file not found/);
  assert.match(lm.problems[1]!.reason, /empty after fitting/);
});
