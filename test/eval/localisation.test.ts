// evaluate --explain k on a CSV with lesion masks (HAM10000-shaped: path, label, split, mask):
// report.json gains the localisation figures, report.html the paragraph and per-image lines;
// a mask that cannot be read is counted and left out; without a mask column nothing appears.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { setup } from '../helpers.ts';
import { createPipeline } from '../../src/pipeline/index.ts';
import { createDenoiser } from '../../src/models/index.ts';
import { evaluate } from '../../src/eval/index.ts';

before(setup);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meddiff-localisation-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

type Box = [x0: number, y0: number, x1: number, y1: number];
async function png(name: string, channels: 1 | 3, box: Box, fg: number): Promise<void> {
  const w = 40, h = 30, data = Buffer.alloc(w * h * channels, 30);
  for (let y = box[1]; y < box[3]; y++) for (let x = box[0]; x < box[2]; x++) data.fill(channels === 1 ? 255 : fg, (y * w + x) * channels, (y * w + x + 1) * channels);
  await sharp(data, { raw: { width: w, height: h, channels } }).png().toFile(path.join(dir, name));
}

test('evaluate --explain reports mass inside the lesion and the pointing game beside the centred blob', async () => {
  // 40×30 images padded into the model's 32² (scale 0.8): a 10×10 lesion becomes 8×8 = 6.25% of the square
  const centre: Box = [15, 10, 25, 20], corner: Box = [0, 0, 10, 10];
  const rows = ['path,label,split,mask'];
  const spec: [Box, string, boolean][] = [[centre, 'benign', true], [corner, 'melanoma', true], [centre, 'melanoma', false], [corner, 'benign', true]];
  for (const [i, [box, label, hasMask]] of spec.entries()) {
    await png(`img${i}.png`, 3, box, 120 + 40 * i);
    if (hasMask) await png(`img${i}_mask.png`, 1, box, 255);
    rows.push(`img${i}.png,${label},test,img${i}_mask.png`);
  }
  const csv = path.join(dir, 'split.csv');
  fs.writeFileSync(csv, rows.join('\n') + '\n');
  const p = createPipeline({ denoiser: createDenoiser({ preset: 'tiny', inChannels: 12 }), classNames: ['benign', 'melanoma'] });
  try {
    assert.equal(p.imageSize, 32);
    const warnings: string[] = [];
    const out = path.join(dir, 'report');
    const s = await evaluate(p, {
      data: csv, split: 'test', csv: { maskColumn: 'mask' }, out, classify: { n: 2 },
      explain: { images: 3, settings: { steps: 2 } }, logger: { warn: (m) => warnings.push(m) },
    });
    const ex = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8')).explanations as Record<string, number>;
    assert.deepEqual(ex, s.explanations, 'report.json holds the figures evaluate returns');
    assert.equal(ex.images, 3);
    assert.equal(ex.tExplain, 0.3, 'colour explanations start from t = 0.3, as the paper says');
    assert.equal(ex.localisedImages, 2, 'the third explained image has no readable mask');
    assert.equal(ex.masksUnusable, 1);
    assert.equal(warnings.filter((w) => /img2_mask\.png left out of the localisation: .*file not found/.test(w)).length, 1, warnings.join('\n'));
    for (const k of ['massInsideMask', 'pointingGame', 'blobMassInsideMask', 'blobPointingGame']) {
      assert.ok(ex[k]! >= 0 && ex[k]! <= 1, `${k} = ${ex[k]}`);
    }
    assert.ok(Math.abs(ex.maskAreaFraction! - 0.0625) < 0.01, `mask area ${ex.maskAreaFraction}: the masks were fitted like the images`);
    // the centred lesion holds the blob's peak, the corner one does not
    assert.equal(ex.blobPointingGame, 0.5);
    assert.ok(Math.abs(ex.massInsideMaskVsBlob! - ex.massInsideMask! / ex.blobMassInsideMask!) < 1e-12);
    const html = fs.readFileSync(path.join(out, 'report.html'), 'utf8');
    assert.match(html, /Localisation against the lesion masks of 2 explained images/);
    assert.match(html, /1 of the 3 listed masks could not be used/);
    assert.equal(html.match(/lesion: \d+% of \|Δ\| inside/g)?.length, 2, 'a localisation line for each image with a mask');

    // the same data without its mask column: no localisation figures and no section
    const plain = await evaluate(p, { data: csv, split: 'test', out: path.join(dir, 'plain'), classify: { n: 2 }, explain: { images: 2, settings: { steps: 2 } } });
    assert.equal(plain.explanations?.images, 2);
    assert.equal('localisedImages' in plain.explanations!, false);
    assert.doesNotMatch(fs.readFileSync(path.join(dir, 'plain', 'report.html'), 'utf8'), /Localisation against/);
  } finally {
    p.dispose();
  }
});
