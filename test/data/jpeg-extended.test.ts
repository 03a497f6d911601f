/**
 * decodeJpegExtended (JPEG DCT sequential, 8 and 12 bits) against independent implementations:
 * sharp-encoded 8-bit streams decoded by libjpeg-turbo (WebAssembly), and the fixtures in
 * fixtures/jpeg12/ made by DCMTK 3.6.7 (dcmcjpeg / dcmdjpeg, libijg12) and libjpeg-turbo 2.1.5
 * (see its README.md; rebuilt by scripts/make-jpeg12-fixtures.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import sharp from 'sharp';
import { decodeJpegExtended, MAX_JPEG_SAMPLES } from '../../src/data/codecs/jpeg-extended.ts';
import { CodecError, decodeJpegBaseline, type CodecFrame } from '../../src/data/codecs/external.ts';
import { encodeJpegBaseline } from './encoders.ts';
import { applyOps, prng } from '../fuzz/mutate.ts';
import { opsArb, params } from '../fuzz/helpers.ts';

const FIX = fileURLToPath(new URL('./fixtures/jpeg12/', import.meta.url));
const bytes = (name: string) => Uint8Array.from(readFileSync(FIX + name));
const u16 = (name: string) => new Uint16Array(bytes(name).buffer);

/** Max and mean absolute difference; lengths must agree. */
function diff(a: ArrayLike<number>, b: ArrayLike<number>): { max: number; mean: number } {
  assert.equal(a.length, b.length, 'sample counts differ');
  let max = 0, sum = 0;
  for (let i = 0; i < a.length; i++) { const d = Math.abs(a[i] - b[i]); if (d > max) max = d; sum += d; }
  return { max, mean: sum / a.length };
}
function close(a: ArrayLike<number>, b: ArrayLike<number>, what: string, max = 2, mean = 0.5): void {
  const d = diff(a, b);
  assert.ok(d.max <= max && d.mean <= mean, `${what}: max |Δ| ${d.max} (≤ ${max}), mean ${d.mean.toFixed(3)} (≤ ${mean})`);
}

/** libjpeg's YCbCr → RGB (jdcolor.c: 16-bit fixed point, rounded tables), so only IDCT rounding differs. */
function ycbcrToRgb(s: ArrayLike<number>): Uint8Array {
  const FIX = (x: number) => Math.round(x * 65536), HALF = 1 << 15;
  const out = new Uint8Array(s.length);
  const clamp = (v: number) => (v < 0 ? 0 : v > 255 ? 255 : v);
  for (let i = 0; i < s.length; i += 3) {
    const y = s[i], cb = s[i + 1] - 128, cr = s[i + 2] - 128;
    out[i] = clamp(y + ((FIX(1.402) * cr + HALF) >> 16));
    out[i + 1] = clamp(y + ((-FIX(0.34414) * cb - FIX(0.71414) * cr + HALF) >> 16));
    out[i + 2] = clamp(y + ((FIX(1.772) * cb + HALF) >> 16));
  }
  return out;
}

/**
 * libjpeg's h2v2 "fancy" (triangle) upsampling of the chroma of a 4:2:0 frame (jdsample.c), which
 * libjpeg-turbo applies by default; our decoder replicates, so its subsampled planes are read back
 * from every second sample and upsampled the same way before comparing.
 */
function fancy420(f: CodecFrame): Uint8Array {
  const { width: W, height: H } = f, cw = Math.ceil(W / 2), ch = Math.ceil(H / 2);
  const out = Uint8Array.from(f.samples);
  for (let c = 1; c < 3; c++) {
    const at = (x: number, y: number) => f.samples[(Math.min(2 * y, H - 1) * W + Math.min(2 * x, W - 1)) * 3 + c];
    for (let y = 0; y < H; y++) {
      const r = y >> 1, other = y & 1 ? Math.min(r + 1, ch - 1) : Math.max(r - 1, 0);
      const col = (x: number) => 3 * at(x, r) + at(x, other);
      for (let x = 0; x < W; x++) {
        const k = x >> 1, cur = col(k);
        let v: number;
        if (cw === 1) v = (cur * 4 + (x & 1 ? 7 : 8)) >> 4;
        else if (x & 1) v = k === cw - 1 ? (cur * 4 + 7) >> 4 : (cur * 3 + col(k + 1) + 7) >> 4;
        else v = k === 0 ? (cur * 4 + 8) >> 4 : (cur * 3 + col(k - 1) + 8) >> 4;
        out[(y * W + x) * 3 + c] = v;
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------- (a) 8-bit, sharp encodes, libjpeg-turbo decodes

const W = 34, H = 21;
const SMOOTH = (x: number, y: number, c: number) => Math.round(128 + 90 * Math.sin(x / 6 + c) * Math.cos(y / 5 - c) + (x > 20 && c === 0 ? 25 : 0));
const image = (spp: 1 | 3) => {
  const a = new Uint8Array(W * H * spp);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) for (let c = 0; c < spp; c++) a[(y * W + x) * spp + c] = SMOOTH(x, y, c);
  return a;
};

test('8-bit gray (sharp, odd size 34x21, several qualities) matches libjpeg-turbo', async () => {
  for (const q of [20, 75, 95, 100]) {
    const jpg = await encodeJpegBaseline(image(1), H, W, 1, q);
    const mine = decodeJpegExtended(jpg), ref = await decodeJpegBaseline(jpg);
    assert.deepEqual([mine.width, mine.height, mine.components, mine.bitsPerSample, mine.layout], [W, H, 1, 8, 'pixel']);
    assert.ok(mine.samples instanceof Uint8Array);
    close(mine.samples, ref.samples, `gray q${q}`);
  }
});

test('8-bit colour 4:4:4 and 4:2:0 (sharp) match libjpeg-turbo after the same YCbCr→RGB and upsampling', async () => {
  for (const chroma of ['4:4:4', '4:2:0'] as const) {
    for (const q of [50, 90]) {
      const jpg = await encodeJpegBaseline(image(3), H, W, 3, q, chroma);
      const mine = decodeJpegExtended(jpg), ref = await decodeJpegBaseline(jpg);
      assert.equal(mine.components, 3);
      const ycc = chroma === '4:2:0' ? fancy420(mine) : mine.samples;
      // IDCT rounding (±1) in Y and in Cr (or Cb) adds up through R = Y + 1.402 Cr to 2.4, hence ≤ 3 here.
      close(ycbcrToRgb(ycc), ref.samples, `colour ${chroma} q${q}`, 3);
    }
  }
});

test('8-bit restart intervals (libjpeg-turbo 2.1.5 fixtures): gray matches libjpeg-turbo, 4:2:2 colour matches IJG', async () => {
  const gray = bytes('gray8-rst.jpg');
  const mine = decodeJpegExtended(gray);
  close(mine.samples, (await decodeJpegBaseline(gray)).samples, 'gray8-rst vs libjpeg-turbo (wasm)');
  close(mine.samples, bytes('gray8-rst.ijg.bin'), 'gray8-rst vs libjpeg-turbo 2.1.5');
  const ycc = decodeJpegExtended(bytes('ycc8-422-rst.jpg'));
  assert.deepEqual([ycc.width, ycc.height, ycc.components], [34, 21, 3]);
  close(ycc.samples, bytes('ycc8-422-rst.ijg.bin'), 'ycc8-422-rst vs libjpeg-turbo 2.1.5');
});

// ---------------------------------------------------------------- (b) 12-bit, DCMTK fixtures

/** The first DQT table of a codestream (zig-zag order), read here independently of the decoder. */
function firstDqt(jpg: Uint8Array): number[] {
  for (let i = 2; i + 4 < jpg.length; i++) {
    if (jpg[i] === 0xff && jpg[i + 1] === 0xdb) {
      const pq = jpg[i + 4] >> 4;
      return Array.from({ length: 64 }, (_, k) => (pq ? (jpg[i + 5 + 2 * k] << 8) | jpg[i + 6 + 2 * k] : jpg[i + 5 + k]));
    }
  }
  throw new Error('no DQT');
}

test('12-bit gray (dcmcjpeg +ee, q90) matches dcmdjpeg and stays close to the original', () => {
  const jpg = bytes('gray12-q90.jpg');
  const mine = decodeJpegExtended(jpg);
  assert.deepEqual([mine.width, mine.height, mine.components, mine.bitsPerSample, mine.layout], [64, 48, 1, 12, 'pixel']);
  assert.ok(mine.samples instanceof Uint16Array);
  close(mine.samples, u16('gray12-q90.dcmtk.bin'), 'gray12-q90 vs DCMTK');
  // JPEG's 8x8 DCT is orthonormal, so the pixel MSE is the mean over the 64 coefficients of their
  // quantisation error, each at most q/2 (+1 for the encoder's integer FDCT), plus ≤ 0.5 for rounding.
  const q = firstDqt(jpg);
  const bound = Math.sqrt(q.reduce((a, v) => a + (v / 2 + 1) ** 2, 0) / 64) + 0.5;
  const orig = u16('gray12.orig.bin');
  const rmse = Math.sqrt(Array.from(orig).reduce((a, v, i) => a + (v - mine.samples[i]) ** 2, 0) / orig.length);
  assert.ok(rmse < bound, `RMSE ${rmse.toFixed(2)} vs the original exceeds the quantisation bound ${bound.toFixed(2)}`);
  assert.ok(bound < 20, `quality 90 tables should be fine (bound ${bound.toFixed(1)} of 4095)`);
});

test('12-bit gray with restart markers (DCMTK libijg12) matches dcmdjpeg', () => {
  const mine = decodeJpegExtended(bytes('gray12-rst.jpg'));
  close(mine.samples, u16('gray12-rst.dcmtk.bin'), 'gray12-rst vs DCMTK');
  close(mine.samples, u16('gray12.orig.bin'), 'gray12-rst vs original', 40, 3);
});

test('12-bit colour: interleaved 4:2:0 with restarts, and one scan per component, match IJG 12-bit', () => {
  for (const name of ['ybr12-420-rst', 'ybr12-444-scans']) {
    const mine = decodeJpegExtended(bytes(`${name}.jpg`));
    assert.deepEqual([mine.width, mine.height, mine.components, mine.bitsPerSample], [34, 21, 3, 12]);
    close(mine.samples, u16(`${name}.ijg.bin`), name);
  }
});

test('16-bit DQT tables decode like the same values in 8-bit tables', () => {
  const jpg = bytes('gray12-q90.jpg');
  const at = jpg.findIndex((b, i) => b === 0xff && jpg[i + 1] === 0xdb);
  const len = (jpg[at + 2] << 8) | jpg[at + 3];
  assert.equal(len, 67, 'the fixture has one 8-bit table');
  const table = jpg.subarray(at + 5, at + 69);
  const seg = [0xff, 0xdb, 0, 131, 0x10 | (jpg[at + 4] & 15), ...Array.from(table).flatMap((v) => [0, v])];
  const wide = Uint8Array.from([...jpg.subarray(0, at), ...seg, ...jpg.subarray(at + 69)]);
  assert.deepEqual(decodeJpegExtended(wide).samples, decodeJpegExtended(jpg).samples);
});

test('a 512x512 12-bit-sized image decodes in well under a second', async () => {
  const big = new Uint8Array(512 * 512).map((_, i) => (i * 7 + (i >> 9) * 13) & 255);
  const jpg = new Uint8Array(await sharp(big, { raw: { width: 512, height: 512, channels: 1 } }).toColourspace('b-w').jpeg({ quality: 95 }).toBuffer());
  const t0 = performance.now();
  decodeJpegExtended(jpg);
  assert.ok(performance.now() - t0 < 1000, 'decoding 512x512 took over a second');
});

// ---------------------------------------------------------------- (c) malformed streams

const throwsCodec = (data: Uint8Array, re: RegExp) => assert.throws(() => decodeJpegExtended(data), (e: unknown) => e instanceof CodecError && re.test(e.message));
const sofAt = (jpg: Uint8Array) => jpg.findIndex((b, i) => b === 0xff && (jpg[i + 1] === 0xc0 || jpg[i + 1] === 0xc1));

test('truncated streams throw CodecError naming the truncation', () => {
  const jpg = bytes('gray12-rst.jpg');
  const sos = jpg.findIndex((b, i) => b === 0xff && jpg[i + 1] === 0xda);
  for (const n of [3, 10, sofAt(jpg) + 5, sos + 6, sos + 20, Math.floor(jpg.length / 2), jpg.length - 12]) {
    throwsCodec(jpg.subarray(0, n), /truncat/);
  }
});

test('progressive, arithmetic and hierarchical SOFs are refused by name; missing tables are named', async () => {
  const prog = new Uint8Array(await sharp(image(1), { raw: { width: W, height: H, channels: 1 } }).jpeg({ progressive: true }).toBuffer());
  throwsCodec(prog, /SOF2 \(progressive/);
  const jpg = bytes('gray12-q90.jpg'), at = sofAt(jpg);
  for (const [m, re] of [[0xc2, /SOF2 \(progressive/], [0xc9, /SOF9.*arithmetic/], [0xc5, /SOF5.*hierarchical/], [0xc3, /SOF3 \(lossless/]] as const) {
    const bad = jpg.slice(); bad[at + 1] = m;
    throwsCodec(bad, re);
  }
  const sof0 = jpg.slice(); sof0[at + 1] = 0xc0;
  throwsCodec(sof0, /SOF0 precision 12 not supported/);
  const dht = jpg.findIndex((b, i) => b === 0xff && jpg[i + 1] === 0xc4);
  const noDht = jpg.slice(); noDht[dht + 1] = 0xfe; // the first DHT becomes a comment
  throwsCodec(noDht, /no DHT defined \(missing tables\)/);
});

test('garbage bytes throw CodecError quickly, never hang', () => {
  const r = prng(7);
  for (let k = 0; k < 200; k++) {
    const junk = Uint8Array.from({ length: 1 + Math.floor(r() * 3000) }, () => Math.floor(r() * 256));
    if (k % 2) junk.set([0xff, 0xd8]); // past the SOI check, into the marker loop
    const t0 = performance.now();
    throwsCodec(junk, /./);
    assert.ok(performance.now() - t0 < 500);
  }
});

test('a header claiming a huge frame is refused before allocating', () => {
  const jpg = bytes('gray12-q90.jpg'), at = sofAt(jpg);
  const patch = (w: number, h: number) => {
    const b = jpg.slice();
    b.set([h >> 8, h & 255, w >> 8, w & 255], at + 5);
    return b;
  };
  const before = process.memoryUsage().arrayBuffers;
  throwsCodec(patch(65535, 65535), new RegExp(`exceeds the ${MAX_JPEG_SAMPLES}-sample limit`));
  // Under the limit but far more blocks than 1.4 kB can code.
  throwsCodec(patch(16000, 16000), /only \d+ are left \(truncated codestream or a wrong frame size\)/);
  assert.ok(process.memoryUsage().arrayBuffers - before < 64 * 2 ** 20, 'a buffer for the claimed size was allocated');
});

// ---------------------------------------------------------------- (d) mutations: decode to the declared size or CodecError

test('property: random mutations of valid streams decode to a consistent frame or throw CodecError', () => {
  const seeds = ['gray12-rst.jpg', 'ybr12-420-rst.jpg', 'gray8-rst.jpg', 'ybr12-444-scans.jpg'].map(bytes);
  fc.assert(fc.property(fc.nat(), opsArb, (k, ops) => {
    const data = applyOps(seeds[k % seeds.length], ops, seeds);
    let f: CodecFrame;
    try { f = decodeJpegExtended(data); } catch (e) {
      if (e instanceof CodecError) return;
      throw e;
    }
    // The frame must be the one its own header declares.
    const at = sofAt(data);
    assert.ok(at >= 0);
    const declared = [(data[at + 7] << 8) | data[at + 8], (data[at + 5] << 8) | data[at + 6], data[at + 9], data[at + 4]];
    assert.deepEqual([f.width, f.height, f.components, f.bitsPerSample], declared);
    assert.equal(f.samples.length, f.width * f.height * f.components);
    assert.ok(f.samples instanceof (f.bitsPerSample === 8 ? Uint8Array : Uint16Array));
    const max = (1 << f.bitsPerSample) - 1;
    assert.ok(f.samples.every((v) => v <= max));
  }), params(400));
});
