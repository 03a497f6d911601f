/**
 * Encoders for compressed DICOM test fixtures, made here from synthetic pixels (nothing downloaded):
 * RLE Lossless (PS3.5 Annex G) and JPEG lossless process 14 (ITU-T T.81 Annex H) written in
 * TypeScript; JPEG-LS and JPEG 2000 through the encoders in the full (encode + decode) builds of
 * the cornerstone codecs; JPEG baseline through sharp.
 */
import { createRequire } from 'node:module';
import sharp from 'sharp';

const require = createRequire(import.meta.url);

// ---------------------------------------------------------------- RLE (PS3.5 Annex G)

/** PackBits one row: replicate runs of ≥ 2 equal bytes, literal runs otherwise (≤ 128 each). */
function packBitsRow(row: Uint8Array, out: number[]): void {
  let i = 0;
  while (i < row.length) {
    let run = 1;
    while (i + run < row.length && run < 128 && row[i + run] === row[i]) run++;
    if (run >= 2) { out.push(257 - run, row[i]); i += run; continue; } // -(run-1) as a byte
    let lit = 1;
    while (i + lit < row.length && lit < 128 && !(i + lit + 1 < row.length && row[i + lit] === row[i + lit + 1])) lit++;
    out.push(lit - 1);
    for (let k = 0; k < lit; k++) out.push(row[i + k]);
    i += lit;
  }
}

/**
 * One RLE frame (= one fragment) from interleaved samples (rows × cols × spp, each `bytes` wide):
 * one segment per sample byte, most significant byte first, each row packed separately.
 */
export function encodeRle(samples: ArrayLike<number>, rows: number, cols: number, spp: number, bytes: 1 | 2): Uint8Array {
  const segments: Uint8Array[] = [];
  for (let c = 0; c < spp; c++) {
    for (let b = bytes - 1; b >= 0; b--) {
      const seg: number[] = [];
      const row = new Uint8Array(cols);
      for (let y = 0; y < rows; y++) {
        for (let x = 0; x < cols; x++) row[x] = (samples[(y * cols + x) * spp + c] >> (8 * b)) & 0xff;
        packBitsRow(row, seg);
      }
      if (seg.length % 2) seg.push(0x80); // pad to even length with a no-op
      segments.push(Uint8Array.from(seg));
    }
  }
  const header = new Uint8Array(64);
  const dv = new DataView(header.buffer);
  dv.setUint32(0, segments.length, true);
  let off = 64;
  segments.forEach((s, k) => { dv.setUint32(4 + 4 * k, off, true); off += s.length; });
  const out = new Uint8Array(off);
  out.set(header);
  off = 64;
  for (const s of segments) { out.set(s, off); off += s.length; }
  return out;
}

// ---------------------------------------------------------------- JPEG lossless (T.81 Annex H)

/**
 * JPEG lossless, non-hierarchical (SOF3), Huffman coded, point transform 0, no restarts:
 * `predictor` 1 is the selection value of transfer syntax .70; .57 allows 1–7.
 * One fixed DC table: the 17 difference categories, 5-bit codes each.
 */
export function encodeJpegLossless(samples: ArrayLike<number>, rows: number, cols: number, spp: 1 | 3, precision: number, predictor = 1): Uint8Array {
  const out: number[] = [];
  const u16 = (v: number) => out.push(v >> 8, v & 0xff);
  u16(0xffd8);
  u16(0xffc3); u16(8 + 3 * spp); out.push(precision); u16(rows); u16(cols); out.push(spp);
  for (let c = 0; c < spp; c++) out.push(c + 1, 0x11, 0);
  u16(0xffc4); u16(2 + 1 + 16 + 17); out.push(0x00);
  for (let l = 1; l <= 16; l++) out.push(l === 5 ? 17 : 0);
  for (let s = 0; s <= 16; s++) out.push(s);
  u16(0xffda); u16(6 + 2 * spp); out.push(spp);
  for (let c = 0; c < spp; c++) out.push(c + 1, 0x00);
  out.push(predictor, 0, 0);

  let acc = 0, nbits = 0;
  const put = (value: number, len: number) => {
    for (let k = len - 1; k >= 0; k--) {
      acc = (acc << 1) | ((value >> k) & 1);
      if (++nbits === 8) { out.push(acc); if (acc === 0xff) out.push(0); acc = 0; nbits = 0; }
    }
  };
  const px = (y: number, x: number, c: number) => samples[(y * cols + x) * spp + c];
  for (let y = 0; y < rows; y++) {
    for (let x = 0; x < cols; x++) {
      for (let c = 0; c < spp; c++) {
        let pred: number;
        if (y === 0 && x === 0) pred = 1 << (precision - 1);
        else if (y === 0) pred = px(y, x - 1, c);
        else if (x === 0) pred = px(y - 1, x, c);
        else {
          const a = px(y, x - 1, c), b = px(y - 1, x, c), cc = px(y - 1, x - 1, c);
          pred = [0, a, b, cc, a + b - cc, a + ((b - cc) >> 1), b + ((a - cc) >> 1), (a + b) >> 1][predictor];
        }
        let d = (px(y, x, c) - pred) & 0xffff;
        if (d >= 0x8000) d -= 0x10000;
        const mag = Math.abs(d);
        const ssss = d === -0x8000 ? 16 : mag === 0 ? 0 : 32 - Math.clz32(mag);
        put(ssss, 5);
        if (ssss > 0 && ssss < 16) put(d > 0 ? d : d - 1 + (1 << ssss), ssss);
      }
    }
  }
  if (nbits > 0) put(0xff, 8 - nbits); // pad with 1-bits
  u16(0xffd9);
  return Uint8Array.from(out);
}

// ---------------------------------------------------------------- JPEG-LS, JPEG 2000 (cornerstone wasm)

interface Encoder {
  getDecodedBuffer(frameInfo: object): Uint8Array;
  getEncodedBuffer(): Uint8Array;
  encode(): void;
  delete(): void;
  setNearLossless(n: number): void;
  setInterleaveMode(m: number): void;
  setDecompositions(n: number): void;
  setQuality(lossless: boolean, quality: number): void;
  setCompressionRatio(layer: number, ratio: number): void;
}
type Module = Record<string, new () => Encoder>;
const modules = new Map<string, Promise<Module>>();
function wasm(pkg: string): Promise<Module> {
  let m = modules.get(pkg);
  if (!m) {
    const factory = require(`${pkg}/wasmjs`) as (o: object) => Promise<Module>;
    m = factory({ print: () => {}, printErr: () => {} });
    modules.set(pkg, m);
  }
  return m;
}

function bytesOf(samples: Uint8Array | Uint16Array | Int16Array): Uint8Array {
  return new Uint8Array(samples.buffer, samples.byteOffset, samples.byteLength);
}

/**
 * JPEG-LS via CharLS. `samples` are laid out as `interleave` says: 2 sample (RGBRGB…),
 * 1 line (R row, G row, B row), 0 none (R plane, G plane, B plane). near = 0 is lossless.
 */
export async function encodeJpegLs(samples: Uint8Array | Uint16Array, rows: number, cols: number, spp: number, bits: number, near = 0, interleave = 2): Promise<Uint8Array> {
  const m = await wasm('@cornerstonejs/codec-charls');
  const enc = new m.JpegLSEncoder();
  try {
    enc.getDecodedBuffer({ width: cols, height: rows, bitsPerSample: bits, componentCount: spp }).set(bytesOf(samples));
    enc.setNearLossless(near);
    if (spp > 1) enc.setInterleaveMode(interleave);
    enc.encode();
    return enc.getEncodedBuffer().slice();
  } finally { enc.delete(); }
}

/** JPEG 2000 codestream via OpenJPEG: lossless (reversible 5/3) or lossy at a compression ratio. */
export async function encodeJpeg2000(samples: Uint8Array | Uint16Array | Int16Array, rows: number, cols: number, spp: number, bits: number,
  opts: { signed?: boolean; colourTransform?: boolean; ratio?: number } = {}): Promise<Uint8Array> {
  const m = await wasm('@cornerstonejs/codec-openjpeg');
  const enc = new m.J2KEncoder();
  try {
    enc.getDecodedBuffer({ width: cols, height: rows, bitsPerSample: bits, componentCount: spp, isSigned: !!opts.signed, isUsingColorTransform: !!opts.colourTransform })
      .set(bytesOf(samples));
    enc.setDecompositions(2);
    if (opts.ratio) { enc.setQuality(false, 0); enc.setCompressionRatio(0, opts.ratio); } else enc.setQuality(true, 0);
    enc.encode();
    return enc.getEncodedBuffer().slice();
  } finally { enc.delete(); }
}

/** HTJ2K codestream via OpenJPH: lossless (reversible) or lossy with a quantisation step. */
export async function encodeHtj2k(samples: Uint8Array | Uint16Array | Int16Array, rows: number, cols: number, spp: number, bits: number,
  opts: { signed?: boolean; colourTransform?: boolean; step?: number } = {}): Promise<Uint8Array> {
  const m = await wasm('@cornerstonejs/codec-openjph');
  const enc = new m.HTJ2KEncoder();
  try {
    enc.getDecodedBuffer({ width: cols, height: rows, bitsPerSample: bits, componentCount: spp, isSigned: !!opts.signed, isUsingColorTransform: !!opts.colourTransform })
      .set(bytesOf(samples));
    enc.setQuality(opts.step === undefined, opts.step ?? 0);
    enc.encode();
    return enc.getEncodedBuffer().slice();
  } finally { enc.delete(); }
}

// ---------------------------------------------------------------- JPEG baseline (sharp)

/** 8-bit JPEG baseline; gray stays one component; colour is YCbCr with the given chroma subsampling. */
export async function encodeJpegBaseline(samples: Uint8Array, rows: number, cols: number, spp: 1 | 3, quality: number, chroma: '4:2:0' | '4:4:4' = '4:2:0'): Promise<Uint8Array> {
  const img = sharp(samples, { raw: { width: cols, height: rows, channels: spp } });
  const buf = await (spp === 1 ? img.toColourspace('b-w') : img).jpeg({ quality, chromaSubsampling: chroma }).toBuffer();
  return new Uint8Array(buf);
}
