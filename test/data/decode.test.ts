import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { decodeImage } from '../../src/data/index.ts';
import { CXR_PNG, DERM_JPG, makeDicom, TS, tempDir } from './helpers.ts';

const tmp = tempDir();
after(tmp.cleanup);

test('decode: 8-bit grayscale PNG fixture stays single-channel', async () => {
  const d = await decodeImage(CXR_PNG);
  assert.deepEqual([d.width, d.height, d.channels, d.bitDepth, d.format], [512, 512, 1, 8, 'png']);
  assert.ok(d.data instanceof Uint8Array && d.data.length === 512 * 512);
  let max = 0; for (const v of d.data) max = Math.max(max, v);
  assert.ok(max > 200, 'a chest X-ray has bright regions');
});

test('decode: RGB JPEG fixture', async () => {
  const d = await decodeImage(DERM_JPG);
  assert.deepEqual([d.width, d.height, d.channels, d.bitDepth, d.format], [600, 450, 3, 8, 'jpeg']);
  assert.equal(d.data.length, 600 * 450 * 3);
});

test('decode: 16-bit PNG and TIFF keep 16-bit samples', async () => {
  const w = 40, h = 30, px = new Uint16Array(w * h).map((_, i) => i * 3); // 12-bit-like range 0..3597
  const png = join(tmp.dir, 'deep.png'), tif = join(tmp.dir, 'deep.tiff');
  await sharp(px, { raw: { width: w, height: h, channels: 1 } }).toColourspace('grey16').png().toFile(png);
  await sharp(px, { raw: { width: w, height: h, channels: 1 } }).toColourspace('grey16').tiff({ compression: 'lzw' }).toFile(tif);
  for (const f of [png, tif]) {
    const d = await decodeImage(f);
    assert.deepEqual([d.width, d.height, d.channels, d.bitDepth], [w, h, 1, 16]);
    assert.ok(d.data instanceof Uint16Array);
    assert.deepEqual(Array.from(d.data.subarray(0, 4)), [0, 3, 6, 9]);
    assert.equal(d.data[w * h - 1], (w * h - 1) * 3);
  }
});

test('decode: corrupt PNG and missing file name the path', async () => {
  const bad = join(tmp.dir, 'corrupt.png');
  writeFileSync(bad, Buffer.from('this is not a png, just garbage bytes \x00\x01\x02'));
  await assert.rejects(decodeImage(bad), (e: Error) => e.message.startsWith(`${bad}: cannot decode image`) && /skip/.test(e.message));
  const half = join(tmp.dir, 'half.png');
  const full = await sharp(CXR_PNG).png().toBuffer();
  writeFileSync(half, full.subarray(0, full.length >> 1));
  await assert.rejects(decodeImage(half), (e: Error) => e.message.startsWith(`${half}: cannot decode image`));
  await assert.rejects(decodeImage(join(tmp.dir, 'nope.png')), /nope\.png: file not found/);
});

test('decode: DICOM 16-bit signed with rescale, every uncompressed transfer syntax', async () => {
  // CT-like: stored -1000..1000 signed, slope 1, intercept -24 → HU -1024..976.
  const pixels = [-1000, -500, 0, 500, 1000, 250].map((v) => v & 0xffff);
  for (const ts of [TS.explicitLE, TS.implicitLE, TS.explicitBE, TS.deflatedLE]) {
    const f = join(tmp.dir, `ct_${ts}.dcm`);
    writeFileSync(f, makeDicom({ rows: 2, cols: 3, pixels, signed: true, bitsStored: 16, slope: 1, intercept: -24, transferSyntax: ts }));
    const d = await decodeImage(f);
    assert.deepEqual([d.width, d.height, d.channels, d.format], [3, 2, 1, 'dicom'], ts);
    assert.deepEqual(d.window, { min: -1024, max: 976 }, ts);
    assert.deepEqual(Array.from(d.data, (v) => Math.round(v * 1000) / 1000), [0, 0.25, 0.5, 0.75, 1, 0.625], ts);
  }
});

test('decode: DICOM MONOCHROME1 inverts, 12-bit stored masks high bits, 8-bit and RGB', async () => {
  const mono1 = join(tmp.dir, 'm1.dcm');
  writeFileSync(mono1, makeDicom({ rows: 1, cols: 3, pixels: [0, 2048, 4095 | 0xf000], bitsStored: 12, photometric: 'MONOCHROME1' }));
  const d1 = await decodeImage(mono1);
  assert.equal(d1.bitDepth, 12);
  assert.deepEqual(d1.window, { min: 0, max: 4095 }); // overlay bits above BitsStored ignored
  assert.deepEqual(Array.from(d1.data, (v) => Math.round(v * 100) / 100), [1, 0.5, 0]);

  const eight = join(tmp.dir, 'e.dcm');
  writeFileSync(eight, makeDicom({ rows: 2, cols: 2, pixels: [10, 20, 30, 50], bitsAllocated: 8 }));
  assert.deepEqual(Array.from((await decodeImage(eight)).data), [0, 0.25, 0.5, 1]);

  const rgb = join(tmp.dir, 'rgb.dcm');
  writeFileSync(rgb, makeDicom({ rows: 1, cols: 2, pixels: [255, 0, 0, 0, 128, 255], bitsAllocated: 8, samplesPerPixel: 3 }));
  const d3 = await decodeImage(rgb);
  assert.equal(d3.channels, 3);
  assert.deepEqual(Array.from(d3.data), [255, 0, 0, 0, 128, 255]);

  // Detected by the DICM preamble even without the extension.
  const noext = join(tmp.dir, 'IMG0001');
  copyFileSync(eight, noext);
  assert.equal((await decodeImage(noext)).format, 'dicom');
});

test('decode: unsupported or broken compressed DICOM says what to do', async () => {
  // A transfer syntax meddiff does not decode gets the conversion hint.
  const f = join(tmp.dir, 'jpegxl.dcm');
  writeFileSync(f, makeDicom({ rows: 2, cols: 2, pixels: [0, 1, 2, 3], bitsAllocated: 8, transferSyntax: TS.jpegXl }));
  await assert.rejects(decodeImage(f), {
    message: `unsupported transfer syntax 1.2.840.10008.1.2.4.110 (JPEG XL Lossless) in ${f}: ` +
      'convert to uncompressed, e.g. with dcmdjpeg/gdcmconv (gdcmconv --raw in.dcm out.dcm)',
  });
  // JPEG baseline is decoded now; an empty JPEG (SOI, EOI) is a corrupt file, named, with the fixes.
  const jpeg = join(tmp.dir, 'jpeg.dcm');
  writeFileSync(jpeg, makeDicom({ rows: 2, cols: 2, pixels: [0, 1, 2, 3], bitsAllocated: 8, transferSyntax: TS.jpegBaseline }));
  await assert.rejects(decodeImage(jpeg), (e: Error) => e.message.startsWith(`${jpeg}: corrupt DICOM pixel data (JPEG Baseline (Process 1))`) &&
    /re-export it.*gdcmconv --raw.*--skip-bad/.test(e.message));
  const garbage = join(tmp.dir, 'garbage.dcm');
  writeFileSync(garbage, Buffer.alloc(300, 7));
  await assert.rejects(decodeImage(garbage), (e: Error) => e.message.startsWith(garbage));
});

test('an image that declares more pixels than meddiff decodes is refused from its header (decompression bomb)', async () => {
  const { default: sharp } = await import('sharp');
  // 9000² black pixels compress to a few hundred kB: the header, not the file size, gives it away
  const png = await sharp({ create: { width: 9000, height: 9000, channels: 3, background: '#000' } }).png({ compressionLevel: 9 }).toBuffer();
  await assert.rejects(decodeImage(png, 'bomb.png'), /bomb\.png: the image declares more than the 67108864 pixels meddiff decodes/);
});
