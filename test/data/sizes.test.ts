// Issue 15 item 2: files are cached in their compact 8/16-bit form (bit-identical to the float path),
// and the bad inputs of the list are each named, counted by skipBad, or noticed once.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import {
  openDataset, decodeImage, toUnitRange, unitToSigned, resizeUnit, convertChannels, preprocessImage, type DecodedImage,
} from '../../src/data/index.ts';
import { DERM_JPG, PNEUMONIA, tempDir } from './helpers.ts';

const tmp = tempDir();
after(tmp.cleanup);

/** A w×h PNG with a gradient (gray or RGB, 8 or 16 bits). */
async function png(file: string, w: number, h: number, o: { channels?: 1 | 3; deep?: boolean } = {}): Promise<string> {
  const c = o.channels ?? 1, n = w * h * c;
  const px = o.deep ? new Uint16Array(n).map((_, i) => (i * 977) % 4096) : new Uint8Array(n).map((_, i) => (i * 37) % 256);
  const img = sharp(Buffer.from(px.buffer), { raw: { width: w, height: h, channels: c } });
  // without toColourspace sharp writes a 1-channel raw image as an RGB PNG
  await img.toColourspace(o.deep ? (c === 1 ? 'grey16' : 'rgb16') : (c === 1 ? 'b-w' : 'srgb')).png().toFile(file);
  return file;
}

/** The float path as it was before the cache: unit range, channels, sharp resize, [−1, 1], written out here. */
async function floatPath(img: DecodedImage, size: number, channels: 1 | 3): Promise<Float32Array> {
  const unit = convertChannels(toUnitRange(img), img.width * img.height, img.channels, channels);
  return unitToSigned(await resizeUnit(unit, img.width, img.height, channels, size, 'pad'));
}

function folder(name: string): string {
  const root = join(tmp.dir, name);
  mkdirSync(join(root, 'a'), { recursive: true });
  mkdirSync(join(root, 'b'), { recursive: true });
  return root;
}

test('the compact cache gives bit-identical images: 8-bit as is, 8-bit resized, 16-bit, RGB', async () => {
  const root = folder('exact');
  const files = [
    await png(join(root, 'a', 'same.png'), 24, 24), // 8-bit at the image size: stored as uint8
    await png(join(root, 'a', 'big.png'), 61, 47), // resized by sharp: stored as uint16
    await png(join(root, 'b', 'deep.png'), 24, 24, { deep: true }), // 16-bit at the image size: float
    await png(join(root, 'b', 'deep-big.png'), 50, 30, { deep: true }),
  ];
  for (const channels of [1, 3] as const) {
    const ds = await openDataset(root, { imageSize: 24, channels, splitFractions: [1, 0, 0], split: 'train' });
    const split = ds.split('train');
    const byPath = new Map(Array.from({ length: split.size }, (_, i) => split.get(i)).map((s) => [s.path!, s.image]));
    for (const f of files) {
      const img = await decodeImage(f);
      const want = await floatPath(img, 24, channels);
      assert.deepEqual(byPath.get(f), want, `${f} (${channels} channels) is what the float path gives`);
      assert.deepEqual(await preprocessImage(img, { size: 24, channels }), want, 'preprocessImage unchanged');
    }
    // same.png 1 byte a sample, big.png 2 (uint16), deep.png 4 (float), deep-big.png 2
    assert.equal(ds.cacheBytes, 24 * 24 * channels * (1 + 2 + 4 + 2), `cache bytes at ${channels} channels`);
  }
});

test('a JPEG colour photo resized to 64²: half the bytes of float32, values identical', async () => {
  const root = folder('jpeg');
  copyFileSync(DERM_JPG, join(root, 'a', 'x.jpg'));
  copyFileSync(DERM_JPG, join(root, 'b', 'y.jpg'));
  const ds = await openDataset(root, { imageSize: 64, splitFractions: [1, 0, 0], split: 'train' });
  assert.equal(ds.channels, 3);
  assert.equal(ds.cacheBytes, 2 * 64 * 64 * 3 * 2, 'uint16 cache: 2 bytes per sample');
  const want = await floatPath(await decodeImage(DERM_JPG), 64, 3);
  assert.deepEqual(ds.get('train', 0).image, want);
  assert.notEqual(ds.get('train', 0).image, ds.get('train', 0).image, 'each get() expands a fresh copy');
});

test('bad inputs: missing file, unknown label, mask of another size — named, or skipped and counted', async () => {
  const root = join(tmp.dir, 'csv');
  mkdirSync(root, { recursive: true });
  await png(join(root, 'ok1.png'), 32, 32);
  await png(join(root, 'ok2.png'), 32, 32);
  await png(join(root, 'm1.png'), 32, 32);
  await png(join(root, 'm2.png'), 20, 32);
  const csv = join(root, 'list.csv');
  writeFileSync(csv, ['path,label,split,mask', 'ok1.png,a,train,m1.png', 'gone.png,a,train,m1.png', 'ok2.png,b,train,m2.png', 'ok1.png,zebra,train,m1.png', ''].join('\n'));
  const o = { imageSize: 16, classNames: ['a', 'b'], csv: { maskColumn: 'mask' } };
  await assert.rejects(openDataset(csv, o), new RegExp(`${csv} line 5: unknown label 'zebra' \\(known classes: a, b\\)`));
  const warnings: string[] = [];
  const ds = await openDataset(csv, { ...o, skipBad: true, onWarning: (m) => warnings.push(m) });
  assert.equal(ds.size('train'), 1);
  assert.equal(ds.skipped.length, 3, JSON.stringify(ds.skipped));
  const why = (p: string) => ds.skipped.filter((s) => s.path === join(root, p)).map((s) => s.reason).join(' | ');
  assert.match(why('gone.png'), /file not found/);
  assert.match(why('ok2.png'), new RegExp(`its mask ${join(root, 'm2.png')} is 20×32, the image is 32×32`));
  assert.match(why('ok1.png'), /unknown label 'zebra'.*line 5/);
  assert.equal(warnings.filter((w) => w.startsWith('skipping')).length, 3);
  // without skipBad the first bad row stops the open, naming the row's file and its CSV line
  writeFileSync(csv, ['path,label', 'ok1.png,a', 'gone.png,b', ''].join('\n'));
  await assert.rejects(openDataset(csv, { imageSize: 16 }), new RegExp(`${join(root, 'gone.png')}: file not found \\(listed at ${csv} line 3\\)`));
});

test('a folder outside the class list is skipped and counted with skipBad', async () => {
  const root = folder('classes');
  mkdirSync(join(root, 'c'));
  for (const d of ['a', 'b', 'c']) await png(join(root, d, 'x.png'), 16, 16);
  await assert.rejects(openDataset(root, { classNames: ['a', 'b'] }), /folder 'c' is not one of the expected classes \(a, b\)/);
  const ds = await openDataset(root, { classNames: ['a', 'b'], skipBad: true, splitFractions: [1, 0, 0], split: 'train' });
  assert.equal(ds.size('train'), 2);
  assert.deepEqual(ds.skipped.map((s) => s.path), [join(root, 'c', 'x.png')]);
});

test('images smaller than the image size: one warning with the count, or errors with upscale "error"', async () => {
  const root = folder('small');
  await png(join(root, 'a', 'tiny.png'), 10, 12);
  await png(join(root, 'a', 'smallish.png'), 30, 20);
  await png(join(root, 'b', 'fine.png'), 64, 80);
  const warnings: string[] = [];
  const ds = await openDataset(root, { imageSize: 32, splitFractions: [1, 0, 0], onWarning: (m) => warnings.push(m) });
  assert.equal(ds.size('train'), 3);
  const up = warnings.filter((w) => /scaled up/.test(w));
  assert.equal(up.length, 1, warnings.join('\n'));
  assert.match(up[0]!, new RegExp(`2 of 3 images are smaller than 32² and were scaled up \\(most: ${join(root, 'a', 'tiny.png')}, 10×12, 2\\.67×\\)`));
  await assert.rejects(openDataset(root, { imageSize: 32, upscale: 'error' }), new RegExp(`${join(root, 'a', 'smallish.png')}: 30×20 is smaller than the 32² image size`));
  const strict = await openDataset(root, { imageSize: 32, upscale: 'error', skipBad: true, splitFractions: [1, 0, 0] });
  assert.equal(strict.size('train'), 1);
  assert.equal(strict.skipped.length, 2);
});

test('grayscale given to a colour model and the reverse: converted, one notice per data set with a count', async () => {
  const root = folder('mixed');
  for (let i = 0; i < 3; i++) await png(join(root, 'a', `g${i}.png`), 16, 16);
  await png(join(root, 'b', 'c0.png'), 16, 16, { channels: 3 });
  const warnings: string[] = [];
  const rgb = await openDataset(root, { imageSize: 16, channels: 3, splitFractions: [1, 0, 0], onWarning: (m) => warnings.push(m) });
  assert.equal(rgb.channels, 3);
  assert.deepEqual(warnings, [`${root}: 3 grayscale images of 4: grayscale images are converted to RGB (the gray value copied to each channel) (3 channels expected)`]);
  warnings.length = 0;
  await openDataset(root, { imageSize: 16, channels: 1, splitFractions: [1, 0, 0], onWarning: (m) => warnings.push(m) });
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /1 colour image of 4: colour images are converted to grayscale/);
  warnings.length = 0;
  await openDataset(PNEUMONIA, { imageSize: 32, channels: 3, split: 'test', onWarning: (m) => warnings.push(m) });
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /pneumoniamnist\.npz: grayscale images are converted to RGB/);
});
