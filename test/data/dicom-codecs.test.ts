/**
 * Compressed DICOM, VOI windowing, colour models and frame selection, on fixtures made here:
 * synthetic 16-bit (12 stored), signed 16-bit, 8-bit gray and RGB images, each written
 * uncompressed and as compressed twins (RLE and JPEG lossless by the encoders in encoders.ts,
 * JPEG-LS / JPEG 2000 by the cornerstone codecs' own encoders, JPEG baseline by sharp).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeImage, decodeImageBytes } from '../../src/data/decode.ts';
import { makeDicom, patchUS, TS, tempDir, type DicomImageSpec } from './helpers.ts';
import { encodeHtj2k, encodeJpeg2000, encodeJpegBaseline, encodeJpegLossless, encodeJpegLs, encodeRle } from './encoders.ts';

const tmp = tempDir('meddiff-dicom-');
after(tmp.cleanup);

const W = 34, H = 21, HW = W * H;
const grid = <T extends Uint8Array | Uint16Array | Int16Array>(arr: T, f: (x: number, y: number, c: number) => number, spp = 1): T => {
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) for (let c = 0; c < spp; c++) arr[(y * W + x) * spp + c] = f(x, y, c);
  return arr;
};
// Textured, with flat rows on top (RLE replicate runs) and the extremes present.
const GRAY12 = grid(new Uint16Array(HW), (x, y) => (y < 3 ? 1000 : y === H - 1 && x === 0 ? 4095 : (x * 97 + y * 61 + ((x * y) % 13) * 50) % 4096));
const SIGNED = grid(new Int16Array(HW), (x, y) => (y < 2 ? -1024 : ((x * 131 + y * 17 + ((x ^ y) % 7) * 300) % 4001) - 2000));
const GRAY8 = grid(new Uint8Array(HW), (x, y) => (y < 2 ? 40 : (x * 5 + y * 9 + ((x * y) % 7) * 11) % 256));
const RGB = grid(new Uint8Array(HW * 3), (x, y, c) => (y < 2 ? 200 : [x * 7, y * 11, (x * y + 3 * x) % 256][c] % 256), 3);
// Smooth versions for the lossy codecs.
const SMOOTH8 = grid(new Uint8Array(HW), (x, y) => Math.round(128 + 100 * Math.sin(x / 6) * Math.cos(y / 5)));
const SMOOTH12 = grid(new Uint16Array(HW), (x, y) => Math.round(2048 + 1800 * Math.sin(x / 7) * Math.cos(y / 6)));
const SMOOTH_RGB = grid(new Uint8Array(HW * 3), (x, y, c) => Math.round(128 + 90 * Math.sin(x / 8 + c) * Math.cos(y / 7 - c)), 3);

type Kind = 'gray12' | 'signed' | 'gray8' | 'rgb';
const BASE: Record<Kind, { pixels: ArrayLike<number>; spec: Partial<DicomImageSpec>; spp: 1 | 3; bits: number; bytes: 1 | 2 }> = {
  gray12: { pixels: GRAY12, spec: { bitsAllocated: 16, bitsStored: 12 }, spp: 1, bits: 12, bytes: 2 },
  signed: { pixels: SIGNED, spec: { bitsAllocated: 16, bitsStored: 16, signed: true, slope: 1, intercept: -24 }, spp: 1, bits: 16, bytes: 2 },
  gray8: { pixels: GRAY8, spec: { bitsAllocated: 8 }, spp: 1, bits: 8, bytes: 1 },
  rgb: { pixels: RGB, spec: { bitsAllocated: 8, samplesPerPixel: 3 }, spp: 3, bits: 8, bytes: 1 },
};

let fileNo = 0;
async function decodeSpec(spec: DicomImageSpec, opts: { frame?: number } = {}) {
  const f = join(tmp.dir, `f${fileNo++}.dcm`);
  writeFileSync(f, makeDicom(spec));
  return decodeImage(f, undefined, opts);
}
const spec = (k: Kind, extra: Partial<DicomImageSpec> = {}): DicomImageSpec =>
  ({ rows: H, cols: W, pixels: BASE[k].pixels, ...BASE[k].spec, ...extra });
/** Unsigned views of the samples, as a codec sees them (two's complement for signed). */
const u16 = (a: Int16Array) => new Uint16Array(a.buffer, a.byteOffset, a.length);
const typed = (k: Kind): Uint8Array | Uint16Array => {
  const p = BASE[k].pixels;
  return p instanceof Int16Array ? u16(p) : (p as Uint8Array | Uint16Array);
};

test('dicom codecs: lossless twins decode to exactly the uncompressed pixels', async () => {
  type Enc = (k: Kind) => Promise<Uint8Array> | Uint8Array;
  const b = (k: Kind) => BASE[k];
  const codecs: Array<[string, string, Kind[], Enc]> = [
    ['RLE', TS.rle, ['gray12', 'signed', 'gray8', 'rgb'], (k) => encodeRle(typed(k), H, W, b(k).spp, b(k).bytes)],
    ['JPEG-LS', TS.jpegLs, ['gray12', 'signed', 'gray8', 'rgb'], (k) => encodeJpegLs(typed(k), H, W, b(k).spp, b(k).bits)],
    ['JPEG 2000', TS.j2kLossless, ['gray12', 'signed', 'gray8', 'rgb'],
      (k) => encodeJpeg2000(BASE[k].pixels as Uint8Array | Uint16Array | Int16Array, H, W, b(k).spp, b(k).bits, { signed: k === 'signed' })],
    ['HTJ2K', TS.htj2k, ['gray12', 'signed', 'gray8', 'rgb'],
      (k) => encodeHtj2k(BASE[k].pixels as Uint8Array | Uint16Array | Int16Array, H, W, b(k).spp, b(k).bits, { signed: k === 'signed' })],
    ['HTJ2K RPCL', TS.htj2kRpcl, ['gray12'], (k) => encodeHtj2k(typed(k), H, W, 1, 12)],
    ['JPEG lossless SV1', TS.jpegLosslessSV1, ['gray12', 'signed', 'gray8', 'rgb'], (k) => encodeJpegLossless(typed(k), H, W, b(k).spp, b(k).bits, 1)],
    ['JPEG lossless predictor 6', TS.jpegLossless, ['gray12', 'gray8'], (k) => encodeJpegLossless(typed(k), H, W, b(k).spp, b(k).bits, 6)],
  ];
  for (const [name, ts, kinds, enc] of codecs) {
    for (const k of kinds) {
      const want = await decodeSpec(spec(k));
      const got = await decodeSpec(spec(k, { transferSyntax: ts, encapsulated: [[await enc(k)]] }));
      const label = `${name} ${k}`;
      assert.deepEqual([got.width, got.height, got.channels, got.bitDepth], [W, H, b(k).spp, want.bitDepth], label);
      assert.equal(got.data.constructor, want.data.constructor, label);
      assert.deepEqual(got.window, want.window, label);
      assert.ok(Buffer.from(got.data.buffer).equals(Buffer.from(want.data.buffer)), `${label}: pixels differ`);
    }
  }
  // The uncompressed twin itself: signed stored -2000..2000 + intercept -24, min–max windowed.
  const s = await decodeSpec(spec('signed'));
  let lo = Infinity, hi = -Infinity; for (const v of SIGNED) { lo = Math.min(lo, v - 24); hi = Math.max(hi, v - 24); }
  assert.deepEqual(s.window, { min: lo, max: hi });
  assert.ok(Math.abs(s.data[5 * W + 3] - (SIGNED[5 * W + 3] - 24 - lo) / (hi - lo)) < 1e-6);
});

test('dicom codecs: lossy twins stay within the stated tolerance', async () => {
  // Window Center/Width chosen so the VOI maps stored x to x / (2^bits - 1): errors read in stored units.
  const in8 = { windowCenter: 128, windowWidth: 256 }, in12 = { windowCenter: 2048, windowWidth: 4096 };
  const maxErr = (got: ArrayLike<number>, want: ArrayLike<number>, scale: number) => {
    let m = 0, sum = 0;
    for (let i = 0; i < want.length; i++) { const e = Math.abs(got[i] * scale - want[i]); m = Math.max(m, e); sum += e; }
    return { max: m, mean: sum / want.length };
  };
  // JPEG-LS near-lossless: NEAR bounds every sample's error exactly.
  for (const near of [1, 3]) {
    const d = await decodeSpec({ rows: H, cols: W, pixels: GRAY12, bitsStored: 12, ...in12, transferSyntax: TS.jpegLsNear,
      encapsulated: [[await encodeJpegLs(GRAY12, H, W, 1, 12, near)]] });
    const e = maxErr(d.data, GRAY12, 4095);
    assert.ok(e.max <= near + 1e-3, `JPEG-LS NEAR=${near}: max error ${e.max}`);
  }
  // JPEG 2000 irreversible at 4:1 on a smooth 12-bit image: within 1% of the range, mean within 0.2%.
  {
    const d = await decodeSpec({ rows: H, cols: W, pixels: SMOOTH12, bitsStored: 12, ...in12, transferSyntax: TS.j2k,
      encapsulated: [[await encodeJpeg2000(SMOOTH12, H, W, 1, 12, { ratio: 4 })]] });
    const e = maxErr(d.data, SMOOTH12, 4095);
    assert.ok(e.max <= 41 && e.mean <= 8, `JPEG 2000 4:1: ${JSON.stringify(e)}`);
  }
  // HTJ2K irreversible (quantisation step 0.002 of the range) on the same image: the same bounds.
  {
    const d = await decodeSpec({ rows: H, cols: W, pixels: SMOOTH12, bitsStored: 12, ...in12, transferSyntax: TS.htj2kLossy,
      encapsulated: [[await encodeHtj2k(SMOOTH12, H, W, 1, 12, { step: 0.002 })]] });
    const e = maxErr(d.data, SMOOTH12, 4095);
    assert.ok(e.max <= 41 && e.mean <= 8 && e.max > 0, `HTJ2K lossy: ${JSON.stringify(e)}`);
  }
  // 12-bit JPEG extended (process 4, DCMTK-made fixture): within 2 stored units of DCMTK's own decode.
  {
    const fx = (f: string) => readFileSync(fileURLToPath(new URL(`./fixtures/jpeg12/${f}`, import.meta.url)));
    const ref = new Uint16Array(new Uint8Array(fx('gray12-q90.dcmtk.bin')).buffer);
    const d = await decodeSpec({ rows: 48, cols: 64, pixels: [], bitsStored: 12, ...in12, transferSyntax: TS.jpegExtended,
      encapsulated: [[new Uint8Array(fx('gray12-q90.jpg'))]] });
    assert.deepEqual([d.width, d.height, d.channels, d.bitDepth], [64, 48, 1, 12]);
    const e = maxErr(d.data, ref, 4095);
    assert.ok(e.max <= 2 + 1e-3 && e.mean <= 0.5, `12-bit JPEG extended vs DCMTK: ${JSON.stringify(e)}`);
  }
  // JPEG baseline (sharp, quality 95) on smooth 8-bit gray: max error ≤ 6, mean ≤ 1.5 (of 255).
  for (const ts of [TS.jpegBaseline, TS.jpegExtended]) {
    const d = await decodeSpec({ rows: H, cols: W, pixels: SMOOTH8, bitsAllocated: 8, ...in8, transferSyntax: ts,
      encapsulated: [[await encodeJpegBaseline(SMOOTH8, H, W, 1, 95)]] });
    const e = maxErr(d.data, SMOOTH8, 255);
    assert.ok(e.max <= 6 && e.mean <= 1.5, `JPEG gray ${ts}: ${JSON.stringify(e)}`);
  }
  // JPEG baseline colour, labelled YBR_FULL_422 (4:2:0 chroma) and YBR_FULL (4:4:4): RGB out.
  for (const [photometric, chroma, tol] of [['YBR_FULL_422', '4:2:0', { max: 24, mean: 3 }], ['YBR_FULL', '4:4:4', { max: 8, mean: 1.5 }]] as const) {
    const d = await decodeSpec({ rows: H, cols: W, pixels: SMOOTH_RGB, bitsAllocated: 8, samplesPerPixel: 3, photometric, transferSyntax: TS.jpegBaseline,
      encapsulated: [[await encodeJpegBaseline(SMOOTH_RGB, H, W, 3, 95, chroma)]] });
    assert.equal(d.channels, 3);
    const e = maxErr(d.data, SMOOTH_RGB, 1);
    assert.ok(e.max <= tol.max && e.mean <= tol.mean, `JPEG ${photometric}: ${JSON.stringify(e)}`);
  }
});

test('dicom VOI: Window Center/Width applied after rescale, per PS3.3 C.11.2.1.2', async () => {
  const pixels = [0, 74, 75, 99, 100, 124, 125, 1000];
  const linear = (x: number, c: number, w: number) =>
    x <= c - 0.5 - (w - 1) / 2 ? 0 : x > c - 0.5 + (w - 1) / 2 ? 1 : (x - (c - 0.5)) / (w - 1) + 0.5;
  const close = (a: ArrayLike<number>, b: number[], label: string) =>
    b.forEach((v, i) => assert.ok(Math.abs(a[i] - v) < 1e-6, `${label}[${i}]: ${a[i]} vs ${v}`));

  // LINEAR, c = 100, w = 51 on the stored values (slope 1, intercept 0): edges at 74.5 and 124.5.
  const d = await decodeSpec({ rows: 1, cols: 8, pixels, windowCenter: 100, windowWidth: 51 });
  close(d.data, pixels.map((x) => linear(x, 100, 51)), 'linear');
  assert.deepEqual(Array.from(d.data.subarray(0, 3), (v) => Math.round(v * 100) / 100), [0, 0, 0.01]);
  assert.deepEqual(d.window, { min: 74.5, max: 124.5, center: 100, width: 51, voiFunction: 'LINEAR' });

  // After Rescale Slope/Intercept (modality values 2x - 10), first of several values, MONOCHROME1 inverted.
  const m = await decodeSpec({ rows: 1, cols: 8, pixels, slope: 2, intercept: -10, windowCenter: [140, 9999], windowWidth: [101, 5],
    photometric: 'MONOCHROME1' });
  close(m.data, pixels.map((x) => 1 - linear(2 * x - 10, 140, 101)), 'rescaled mono1');
  assert.equal(m.window?.center, 140);

  // LINEAR_EXACT and SIGMOID (VOI LUT Function).
  const e = await decodeSpec({ rows: 1, cols: 8, pixels, windowCenter: 100, windowWidth: 50, voiFunction: 'LINEAR_EXACT' });
  close(e.data, pixels.map((x) => Math.min(1, Math.max(0, (x - 100) / 50 + 0.5))), 'linear exact');
  const s = await decodeSpec({ rows: 1, cols: 8, pixels, windowCenter: 100, windowWidth: 50, voiFunction: 'SIGMOID' });
  close(s.data, pixels.map((x) => 1 / (1 + Math.exp((-4 * (x - 100)) / 50))), 'sigmoid');

  // Width < 1 is invalid: min–max windowing as without a window.
  const bad = await decodeSpec({ rows: 1, cols: 8, pixels, windowCenter: 100, windowWidth: 0 });
  assert.deepEqual(bad.window, { min: 0, max: 1000 });

  // Compressed files get the same VOI (RLE, 12-bit).
  const r = await decodeSpec({ rows: H, cols: W, pixels: GRAY12, bitsStored: 12, windowCenter: 1500, windowWidth: 1000, transferSyntax: TS.rle,
    encapsulated: [[encodeRle(GRAY12, H, W, 1, 2)]] });
  close(r.data, Array.from(GRAY12, (x) => linear(x, 1500, 1000)), 'rle voi');
});

test('dicom colour: YBR_FULL, YBR_FULL_422, planar configuration, JPEG-LS interleave modes, J2K colour transform', async () => {
  // Forward full-range YCbCr (PS3.3 C.7.6.3.1.2); decoding should give back RGB within rounding.
  const toYbr = (r: number, g: number, b: number) => [
    0.299 * r + 0.587 * g + 0.114 * b, -0.168736 * r - 0.331264 * g + 0.5 * b + 128, 0.5 * r - 0.418688 * g - 0.081312 * b + 128,
  ].map((v) => Math.min(255, Math.max(0, Math.round(v))));
  const ybr = new Uint8Array(HW * 3);
  for (let p = 0; p < HW; p++) ybr.set(toYbr(RGB[p * 3], RGB[p * 3 + 1], RGB[p * 3 + 2]), p * 3);
  const near = (got: ArrayLike<number>, want: ArrayLike<number>, tol: number, label: string) => {
    let m = 0; for (let i = 0; i < want.length; i++) m = Math.max(m, Math.abs(got[i] - want[i]));
    assert.ok(m <= tol, `${label}: max error ${m} > ${tol}`);
  };
  const rgbSpec = { rows: H, cols: W, bitsAllocated: 8 as const, samplesPerPixel: 3 as const };
  near((await decodeSpec({ ...rgbSpec, pixels: ybr, photometric: 'YBR_FULL' })).data, RGB, 2, 'YBR_FULL');
  near((await decodeSpec({ ...rgbSpec, pixels: ybr, photometric: 'YBR_FULL', transferSyntax: TS.rle, encapsulated: [[encodeRle(ybr, H, W, 3, 1)]] })).data,
    RGB, 2, 'RLE YBR_FULL');

  // YBR_FULL_422 uncompressed: Y1 Y2 Cb Cr for each pixel pair; RGB by the inverse of PS3.3 C.7.6.3.1.2.
  const packed: number[] = [], want422: number[] = [];
  const toRgb = (y: number, cb: number, cr: number) => [y + 1.402 * (cr - 128), y - 0.344136 * (cb - 128) - 0.714136 * (cr - 128), y + 1.772 * (cb - 128)]
    .map((v) => Math.min(255, Math.max(0, Math.round(v))));
  for (let p = 0; p < HW; p += 2) {
    const y1 = (p * 7) % 256, y2 = (p * 7 + 50) % 256, cb = 64 + (p % 128), cr = 200 - (p % 150);
    packed.push(y1, y2, cb, cr);
    want422.push(...toRgb(y1, cb, cr), ...toRgb(y2, cb, cr));
  }
  // makeDicom writes rows*cols*spp samples: padded, the decoder reads only rows*cols*2.
  const pad = Array.from({ length: HW * 3 - packed.length }, () => 0);
  near((await decodeSpec({ ...rgbSpec, pixels: [...packed, ...pad], photometric: 'YBR_FULL_422' })).data, want422, 0, 'YBR_FULL_422');

  // Planar configuration 1 (RRR…GGG…BBB…).
  const planar = new Uint8Array(HW * 3);
  for (let p = 0; p < HW; p++) for (let c = 0; c < 3; c++) planar[c * HW + p] = RGB[p * 3 + c];
  assert.deepEqual(Array.from((await decodeSpec({ ...rgbSpec, pixels: planar, planar: 1 })).data), Array.from(RGB));

  // JPEG-LS: none (planes), line and sample interleave all give RGB.
  const line = new Uint8Array(HW * 3);
  for (let y = 0; y < H; y++) for (let c = 0; c < 3; c++) for (let x = 0; x < W; x++) line[(y * 3 + c) * W + x] = RGB[(y * W + x) * 3 + c];
  for (const [mode, buf] of [[0, planar], [1, line], [2, RGB]] as const) {
    const d = await decodeSpec({ ...rgbSpec, pixels: RGB, transferSyntax: TS.jpegLs, encapsulated: [[await encodeJpegLs(buf, H, W, 3, 8, 0, mode)]] });
    assert.deepEqual(Array.from(d.data), Array.from(RGB), `JPEG-LS interleave ${mode}`);
  }
  // JPEG 2000 with the reversible colour transform (YBR_RCT): RGB out, exact.
  const j = await decodeSpec({ ...rgbSpec, pixels: RGB, photometric: 'YBR_RCT', transferSyntax: TS.j2kLossless,
    encapsulated: [[await encodeJpeg2000(RGB, H, W, 3, 8, { colourTransform: true })]] });
  assert.deepEqual(Array.from(j.data), Array.from(RGB));
  // HTJ2K with the reversible colour transform: RGB out, exact.
  const h = await decodeSpec({ ...rgbSpec, pixels: RGB, photometric: 'YBR_RCT', transferSyntax: TS.htj2k,
    encapsulated: [[await encodeHtj2k(RGB, H, W, 3, 8, { colourTransform: true })]] });
  assert.deepEqual(Array.from(h.data), Array.from(RGB));
});

test('dicom PALETTE COLOR: stored values index the red/green/blue tables, clamped at both ends', async () => {
  // 8-bit entries: 200 entries from stored value 20; below 20 → entry 0, past 219 → entry 199.
  const n8 = 200, red = Array.from({ length: n8 }, (_, i) => i), green = Array.from({ length: n8 }, (_, i) => 255 - i),
    blue = Array.from({ length: n8 }, (_, i) => (i * 37) % 256);
  const want8 = (v: number) => { const k = Math.min(n8 - 1, Math.max(0, v - 20)); return [red[k], green[k], blue[k]]; };
  const p8 = await decodeSpec({ ...spec('gray8'), photometric: 'PALETTE COLOR', palette: { entries: n8, firstMapped: 20, bits: 8, red, green, blue } });
  assert.deepEqual([p8.channels, p8.bitDepth], [3, 8]);
  assert.deepEqual(Array.from(p8.data), Array.from(GRAY8).flatMap(want8));
  assert.ok(Array.from(GRAY8).some((v) => v < 20) && Array.from(GRAY8).some((v) => v > 219), 'the fixture exercises both clamps');

  // 16-bit entries using the full range are scaled to 8 bits (>> 8); 12-bit stored indices, RLE-compressed.
  const n16 = 4096, ramp = (f: (i: number) => number) => Array.from({ length: n16 }, (_, i) => f(i) & 0xffff);
  const pal16 = { entries: n16, firstMapped: 0, bits: 16 as const, red: ramp((i) => i * 16), green: ramp((i) => 65535 - i * 16), blue: ramp((i) => (i * 977) % 65536) };
  for (const ts of [TS.explicitLE, TS.rle]) {
    const p16 = await decodeSpec({ ...spec('gray12'), photometric: 'PALETTE COLOR', palette: pal16, transferSyntax: ts,
      ...(ts === TS.rle ? { encapsulated: [[encodeRle(GRAY12, H, W, 1, 2)]] } : {}) });
    assert.deepEqual(Array.from(p16.data), Array.from(GRAY12).flatMap((v) => [pal16.red[v] >> 8, pal16.green[v] >> 8, pal16.blue[v] >> 8]), ts);
  }
  // 16-bit entries that only use 8 bits (some writers): taken as they are.
  const small = { ...pal16, red: ramp((i) => i % 256), green: ramp((i) => (i * 3) % 256), blue: ramp(() => 7) };
  const ps = await decodeSpec({ ...spec('gray12'), photometric: 'PALETTE COLOR', palette: small });
  assert.deepEqual(Array.from(ps.data.subarray(0, 3)), [small.red[GRAY12[0]], small.green[GRAY12[0]], 7]);

  // A missing table is named.
  const f = join(tmp.dir, 'palette-missing.dcm');
  writeFileSync(f, makeDicom({ ...spec('gray8'), photometric: 'PALETTE COLOR' }));
  await assert.rejects(decodeImage(f), { message: new RegExp(`^${f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: unsupported PALETTE COLOR image: the red palette descriptor \\(0028,1101\\) is missing`) });
});

test('dicom frames: the `frame` option picks one frame of uncompressed, RLE and fragmented JPEG-LS data', async () => {
  const frames = [0, 1, 2].map((f) => grid(new Uint16Array(HW), (x, y) => (x * 31 + y * 7 + f * 1000) % 4096));
  const all = new Uint16Array(HW * 3);
  frames.forEach((fr, f) => all.set(fr, f * HW));
  const base = { rows: H, cols: W, bitsStored: 12, windowCenter: 2048, windowWidth: 4096 };
  const check = (d: { data: ArrayLike<number> }, f: number, label: string) =>
    assert.ok(frames[f].every((v, i) => Math.abs(d.data[i] * 4095 - v) < 1e-3), `${label}: frame ${f}`);
  for (const f of [0, 1, 2]) check(await decodeSpec({ ...base, pixels: all, frames: 3 }, { frame: f }), f, 'uncompressed');
  const rle = frames.map((fr) => [encodeRle(fr, H, W, 1, 2)]);
  for (const offsetTable of [true, false]) {
    for (const f of [0, 1, 2]) check(await decodeSpec({ ...base, pixels: [], transferSyntax: TS.rle, encapsulated: rle, offsetTable }, { frame: f }), f, `RLE table=${offsetTable}`);
  }
  // JPEG-LS frames split over two fragments each: found by the offset table, or by the SOI markers without one.
  const jls = await Promise.all(frames.map(async (fr) => { const c = await encodeJpegLs(fr, H, W, 1, 12); return [c.subarray(0, 40), c.subarray(40)]; }));
  for (const offsetTable of [true, false]) {
    for (const f of [0, 1, 2]) check(await decodeSpec({ ...base, pixels: [], transferSyntax: TS.jpegLs, encapsulated: jls, offsetTable }, { frame: f }), f, `JPEG-LS table=${offsetTable}`);
  }
  // Default is the first frame; out of range says what exists.
  check(await decodeSpec({ ...base, pixels: [], transferSyntax: TS.rle, encapsulated: rle }), 0, 'default');
  await assert.rejects(decodeSpec({ ...base, pixels: all, frames: 3 }, { frame: 3 }), /frame 3 requested, but the image has 3 frame\(s\).*0\.\.2/);
});

test('dicom errors: truncated or inconsistent data names the file and what to do, never crashes', async () => {
  const named = (f: string, re: RegExp) => (e: Error) => {
    assert.ok(e.message.startsWith(f), `names the file: ${e.message}`);
    assert.match(e.message, re);
    return true;
  };
  const write = (name: string, bytes: Uint8Array) => { const f = join(tmp.dir, name); writeFileSync(f, bytes); return f; };
  const fix = /re-export it|skip-bad/;

  // A truncated RLE fragment (complete file, short segment).
  const rle = encodeRle(GRAY12, H, W, 1, 2);
  const f1 = write('rle-short.dcm', makeDicom({ ...spec('gray12'), transferSyntax: TS.rle, encapsulated: [[rle.subarray(0, rle.length - 40)]] }));
  await assert.rejects(decodeImage(f1), named(f1, /RLE segment 2 decodes to \d+ of 714 bytes \(truncated fragment\?\).*re-export it/));

  // The file itself cut inside the fragment, for every codec.
  const cases: Array<[string, string, Uint8Array]> = [
    ['rle', TS.rle, rle],
    ['jls', TS.jpegLs, await encodeJpegLs(GRAY12, H, W, 1, 12)],
    ['j2k', TS.j2kLossless, await encodeJpeg2000(GRAY12, H, W, 1, 12)],
    ['jpegll', TS.jpegLosslessSV1, encodeJpegLossless(GRAY12, H, W, 1, 12)],
    ['jpeg', TS.jpegBaseline, await encodeJpegBaseline(SMOOTH8, H, W, 1, 90)],
  ];
  for (const [name, ts, data] of cases) {
    const eight = ts === TS.jpegBaseline;
    const full = makeDicom({ ...spec(eight ? 'gray8' : 'gray12'), transferSyntax: ts, encapsulated: [[data]] });
    const cut = write(`${name}-cut.dcm`, full.subarray(0, full.length - 8 - Math.floor(data.length / 2)));
    await assert.rejects(decodeImage(cut), named(cut, fix), `${name} cut file`);
    // The codestream cut short inside a well-formed fragment: the codec's failure, wrapped.
    const shortStream = write(`${name}-short.dcm`, makeDicom({ ...spec(eight ? 'gray8' : 'gray12'), transferSyntax: ts, encapsulated: [[data.subarray(0, data.length >> 1)]] }));
    await assert.rejects(decodeImage(shortStream), named(shortStream, fix), `${name} short codestream`);
    // Garbage instead of a codestream.
    const junk = write(`${name}-junk.dcm`, makeDicom({ ...spec(eight ? 'gray8' : 'gray12'), transferSyntax: ts, encapsulated: [[new Uint8Array(200).fill(0x5a)]] }));
    await assert.rejects(decodeImage(junk), named(junk, fix), `${name} junk`);
  }
  // The same codec still works after failures (a failed wasm instance is not reused broken).
  const ok = await decodeSpec({ ...spec('gray12'), transferSyntax: TS.jpegLs, encapsulated: [[await encodeJpegLs(GRAY12, H, W, 1, 12)]] });
  assert.equal(ok.width, W);

  // Codestream dimensions that disagree with the header are refused before decoding.
  const f2 = write('dims.dcm', makeDicom({ ...spec('gray12'), rows: 2 * H, transferSyntax: TS.jpegLs, encapsulated: [[await encodeJpegLs(GRAY12, H, W, 1, 12)]] }));
  await assert.rejects(decodeImage(f2), named(f2, /codestream is 34x21x1, the header says 34x42x1/));

  // Absurd dimensions, checked before allocating anything.
  const huge = makeDicom({ rows: 2, cols: 2, pixels: [1, 2, 3, 4], bitsAllocated: 8 });
  const f3 = write('huge.dcm', patchUS(patchUS(huge, 0x0028, 0x0010, 60000), 0x0028, 0x0011, 60000));
  await assert.rejects(decodeImage(f3), named(f3, /3600000000 samples per frame, more than the 268435456 accepted; downsample/));
  const f4 = write('short.dcm', patchUS(makeDicom({ rows: 2, cols: 2, pixels: [1, 2, 3, 4], bitsAllocated: 8 }), 0x0028, 0x0010, 1000));
  await assert.rejects(decodeImage(f4), named(f4, /PixelData has 4 bytes, frame 0 needs bytes 0\.\.2000 for 2x1000x1x8 bits.*re-export it/));
  const full = makeDicom({ rows: 100, cols: 100, pixels: GRAY8 });
  const f4b = write('cut.dcm', full.subarray(0, full.length - 5000));
  await assert.rejects(decodeImage(f4b), named(f4b, fix));
  const f5 = write('rle-huge.dcm', makeDicom({ rows: 16000, cols: 16000, pixels: [], transferSyntax: TS.rle, encapsulated: [[rle]] }));
  await assert.rejects(decodeImage(f5), named(f5, /too few for 16000x16000/));

  // Still-unsupported transfer syntaxes name themselves and the conversion.
  const f6 = write('jpegxl.dcm', makeDicom({ ...spec('gray8'), transferSyntax: TS.jpegXl }));
  await assert.rejects(decodeImage(f6), {
    message: `unsupported transfer syntax 1.2.840.10008.1.2.4.110 (JPEG XL Lossless) in ${f6}: convert to uncompressed, e.g. with dcmdjpeg/gdcmconv (gdcmconv --raw in.dcm out.dcm)`,
  });
  // Bytes without a name get the '<buffer>' label.
  await assert.rejects(decodeImageBytes(makeDicom({ ...spec('gray12'), transferSyntax: TS.rle, encapsulated: [[rle.subarray(0, 100)]] })), { message: /^<buffer>: / });
});

test('dicom codecs run in a worker with a time limit: a codestream that makes OpenJPH loop is stopped, the next file decodes', async () => {
  // Found by the fuzzer (scripts/fuzz.mjs dicom-codecs, seed 1, input 1699): a damaged HTJ2K stream of a 12×10 image.
  const loop = fileURLToPath(new URL('./fixtures/htj2k-loop.dcm', import.meta.url));
  const before = process.env.MEDDIFF_CODEC_TIMEOUT_MS;
  process.env.MEDDIFF_CODEC_TIMEOUT_MS = '1500';
  try {
    const t0 = performance.now();
    await assert.rejects(decodeImage(loop), new RegExp(`^Error: ${loop.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: corrupt DICOM pixel data \\(HTJ2K\\): frame 0: the htj2k decoder did not finish within 1.5 s`));
    assert.ok(performance.now() - t0 < 15_000);
  } finally {
    if (before === undefined) delete process.env.MEDDIFF_CODEC_TIMEOUT_MS; else process.env.MEDDIFF_CODEC_TIMEOUT_MS = before;
  }
  const ok = await decodeSpec(spec('gray12', { transferSyntax: TS.htj2k, encapsulated: [[await encodeHtj2k(GRAY12, H, W, 1, 12)]] }));
  assert.deepEqual([ok.width, ok.height], [W, H]);
});

test('dicom codecs load lazily: uncompressed and RLE files load no codec, JPEG-LS starts the codec worker (and nothing in this thread)', async () => {
  const decodeUrl = new URL('../../src/data/decode.ts', import.meta.url).href;
  const helpersUrl = new URL('./helpers.ts', import.meta.url).href;
  const px = [1, 2, 3, 4];
  // Made here, so that the child never loads an encoder build.
  const rle = Buffer.from(encodeRle(px, 2, 2, 1, 2)).toString('base64');
  const jls = Buffer.from(await encodeJpegLs(Uint16Array.from(px), 2, 2, 1, 12)).toString('base64');
  const script = `
    import { createRequire } from 'node:module';
    const { decodeImageBytes } = await import(${JSON.stringify(decodeUrl)});
    const { makeDicom, TS } = await import(${JSON.stringify(helpersUrl)});
    const { sandboxStats } = await import(${JSON.stringify(new URL('../../src/data/codecs/sandbox.ts', import.meta.url).href)});
    const loaded = () => Object.keys(createRequire(import.meta.url).cache).filter((k) => /codec-|jpeg-lossless/.test(k)).length + sandboxStats.workersStarted;
    const frag = (b) => [[new Uint8Array(Buffer.from(b, 'base64'))]];
    await decodeImageBytes(makeDicom({ rows: 2, cols: 2, pixels: ${JSON.stringify(px)} }));
    await decodeImageBytes(makeDicom({ rows: 2, cols: 2, pixels: [], transferSyntax: TS.rle, encapsulated: frag(${JSON.stringify(rle)}) }));
    const before = loaded();
    await decodeImageBytes(makeDicom({ rows: 2, cols: 2, pixels: [], bitsStored: 12, transferSyntax: TS.jpegLs, encapsulated: frag(${JSON.stringify(jls)}) }));
    console.log(before, loaded());
  `;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    encoding: 'utf8', cwd: fileURLToPath(new URL('../..', import.meta.url)),
  });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), '0 1');
});
