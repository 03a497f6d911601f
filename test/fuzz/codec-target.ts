/**
 * Fuzz target for the compressed-DICOM codecs: seeds are small DICOM files holding every codestream
 * meddiff decodes (RLE, JPEG lossless, JPEG-LS, JPEG 2000, HTJ2K, JPEG baseline, 12-bit JPEG
 * extended, palette colour), made here by the fixture encoders (the 12-bit JPEG: a DCMTK-made
 * fixture). The structure-aware mutation damages the codestream itself
 * (header fields, truncation, flipped bytes) and wraps it again in a consistent DICOM, so the input
 * gets past the DICOM checks and reaches the codec — where mutating the whole file mostly does not.
 */
import { readFileSync } from 'node:fs';
import { INTERESTING } from './mutate.ts';
import { imageTarget, type Target } from './targets.ts';
import { makeDicom, TS, type DicomImageSpec } from '../data/helpers.ts';
import { encodeHtj2k, encodeJpeg2000, encodeJpegBaseline, encodeJpegLossless, encodeJpegLs, encodeRle } from '../data/encoders.ts';

const W = 12, H = 10, HW = W * H;
const gray12 = Uint16Array.from({ length: HW }, (_, i) => (i * 337 + ((i * i) % 17) * 90) % 4096);
const gray8 = Uint8Array.from({ length: HW }, (_, i) => (i * 29 + ((i * 7) % 5) * 30) % 256);
const rgb = Uint8Array.from({ length: HW * 3 }, (_, i) => (i * 41 + (i % 3) * 70) % 256);

/** The spec and codestream behind each seed, so a mutated codestream can be wrapped again. */
const origin = new WeakMap<Uint8Array, { spec: DicomImageSpec; frames: Uint8Array[] }>();

async function codecSeeds(): Promise<Uint8Array[]> {
  const g12: Partial<DicomImageSpec> = { bitsAllocated: 16, bitsStored: 12, pixels: gray12 };
  const g8: Partial<DicomImageSpec> = { bitsAllocated: 8, pixels: gray8 };
  const c8: Partial<DicomImageSpec> = { bitsAllocated: 8, samplesPerPixel: 3, pixels: rgb };
  const ramp = (f: (i: number) => number) => Array.from({ length: 256 }, (_, i) => f(i) & 0xffff);
  const palette = { entries: 256, firstMapped: 0, bits: 16 as const, red: ramp((i) => i * 256), green: ramp((i) => 65535 - i * 256), blue: ramp((i) => i * 97) };
  const cases: Array<[Partial<DicomImageSpec>, string, Uint8Array[]]> = [
    [g12, TS.rle, [encodeRle(gray12, H, W, 1, 2)]],
    [c8, TS.rle, [encodeRle(rgb, H, W, 3, 1)]],
    [g12, TS.jpegLosslessSV1, [encodeJpegLossless(gray12, H, W, 1, 12, 1)]],
    [g8, TS.jpegLossless, [encodeJpegLossless(gray8, H, W, 1, 8, 6)]],
    [g12, TS.jpegLs, [await encodeJpegLs(gray12, H, W, 1, 12)]],
    [g12, TS.jpegLsNear, [await encodeJpegLs(gray12, H, W, 1, 12, 3)]],
    [c8, TS.jpegLs, [await encodeJpegLs(rgb, H, W, 3, 8, 0, 1)]],
    [g12, TS.j2kLossless, [await encodeJpeg2000(gray12, H, W, 1, 12)]],
    [g12, TS.j2k, [await encodeJpeg2000(gray12, H, W, 1, 12, { ratio: 4 })]],
    [{ ...c8, photometric: 'YBR_RCT' }, TS.j2kLossless, [await encodeJpeg2000(rgb, H, W, 3, 8, { colourTransform: true })]],
    [g12, TS.htj2k, [await encodeHtj2k(gray12, H, W, 1, 12)]],
    [g12, TS.htj2kLossy, [await encodeHtj2k(gray12, H, W, 1, 12, { step: 0.01 })]],
    [{ ...c8, photometric: 'YBR_RCT' }, TS.htj2k, [await encodeHtj2k(rgb, H, W, 3, 8, { colourTransform: true })]],
    [g8, TS.jpegBaseline, [await encodeJpegBaseline(gray8, H, W, 1, 90)]],
    [{ ...c8, photometric: 'YBR_FULL_422' }, TS.jpegBaseline, [await encodeJpegBaseline(rgb, H, W, 3, 90)]],
    [{ bitsAllocated: 8, pixels: gray8, photometric: 'PALETTE COLOR', palette }, TS.rle, [encodeRle(gray8, H, W, 1, 1)]],
  ];
  // 12-bit JPEG extended: DCMTK made it (committed fixture; no 12-bit encoder here), 64×48.
  const jpeg12 = new Uint8Array(readFileSync(new URL('../data/fixtures/jpeg12/gray12-q90.jpg', import.meta.url)));
  const j12: Array<[DicomImageSpec, Uint8Array]> = [[{ rows: 48, cols: 64, pixels: [], bitsAllocated: 16, bitsStored: 12, transferSyntax: TS.jpegExtended }, jpeg12]];
  const out: Uint8Array[] = [];
  for (const [extra, ts, frames] of cases) {
    const spec = { rows: H, cols: W, pixels: [], ...extra, transferSyntax: ts } as DicomImageSpec;
    const bytes = makeDicom({ ...spec, encapsulated: [frames] });
    origin.set(bytes, { spec, frames });
    out.push(bytes);
  }
  for (const [spec, cs] of j12) {
    const bytes = makeDicom({ ...spec, encapsulated: [[cs]] });
    origin.set(bytes, { spec, frames: [cs] });
    out.push(bytes);
  }
  // Two frames of JPEG-LS with an offset table: the frame selection path.
  const two = { rows: H, cols: W, pixels: [], bitsAllocated: 16 as const, bitsStored: 12, transferSyntax: TS.jpegLs } as DicomImageSpec;
  const f2 = [await encodeJpegLs(gray12, H, W, 1, 12), await encodeJpegLs(gray12.map((v) => 4095 - v), H, W, 1, 12)];
  const multi = makeDicom({ ...two, encapsulated: f2.map((f) => [f]) });
  origin.set(multi, { spec: two, frames: f2 });
  out.push(multi);
  return out;
}

/** Damage one codestream and wrap it again: header values, truncation, flipped or zeroed bytes. */
function damage(cs: Uint8Array, r: () => number): Uint8Array {
  const b = Uint8Array.from(cs);
  const c = r();
  if (c < 0.35) {
    // A header field: the first 80 bytes hold SOF/SIZ/LSE/RLE-header values.
    const at = Math.floor(r() * Math.min(80, Math.max(1, b.length - 2)));
    const v = INTERESTING[Math.floor(r() * INTERESTING.length)];
    if (r() < 0.5) { b[at] = (v >> 8) & 0xff; b[at + 1] = v & 0xff; } else b[at] = v & 0xff;
    return b;
  }
  if (c < 0.6) return b.subarray(0, Math.floor(r() * b.length)); // truncated inside the stream
  const k = 1 + Math.floor(r() * 8);
  for (let j = 0; j < k; j++) {
    const at = Math.floor(r() * b.length);
    b[at] = r() < 0.3 ? 0xff : r() < 0.5 ? 0 : b[at] ^ (1 << Math.floor(r() * 8));
  }
  return b;
}

function codecStructured(seed: Uint8Array, r: () => number): Uint8Array {
  const o = origin.get(seed);
  if (!o) return imageTarget.structured!(seed, r);
  const pick = Math.floor(r() * o.frames.length);
  const frames = o.frames.map((f, i) => [i === pick ? damage(f, r) : f]);
  return makeDicom({ ...o.spec, encapsulated: frames });
}

export const codecTarget: Target = {
  name: 'dicom-codecs', async: true,
  seeds: codecSeeds,
  run: imageTarget.run,
  structured: codecStructured,
  // a looping codec is stopped after MEDDIFF_CODEC_TIMEOUT_MS (1 s here), then a fresh worker starts
  limitMs: 6000,
  async warmUp(seeds) { for (const s of seeds) await imageTarget.run(s, 'warm-up'); },
};
