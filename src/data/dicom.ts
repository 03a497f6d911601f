/**
 * DICOM images via dicom-parser: uncompressed (implicit/explicit VR, little/big endian, deflated)
 * and encapsulated (RLE in TypeScript; JPEG baseline, JPEG lossless, JPEG-LS, JPEG 2000 and HTJ2K
 * through codecs loaded only when such a file is met). One frame per call (`frame`, default the first).
 *
 * Grayscale: stored value → Modality LUT (Rescale Slope/Intercept) → VOI LUT (Window Center/Width
 * when present, else the frame's min–max) → [0, 1], inverted for MONOCHROME1.
 * Colour: RGB, YBR_FULL and YBR_FULL_422 (converted to RGB), planar configuration handled, and
 * PALETTE COLOR (through its red/green/blue lookup tables); 8-bit RGB out.
 */
import { inflateRawSync } from 'node:zlib';
import dicomParser from 'dicom-parser';
import type { DecodedImage } from './image.ts';
import type { CodecFrame } from './codecs/external.ts';
import { codestreamDims, endsWithEoi, frameData } from './dicom-frames.ts';

export interface DicomDecodeOptions {
  /** Frame of a multi-frame image to decode (0-based, default 0). */
  frame?: number;
  /**
   * 'voi' (default): the file's Window Center/Width when present, else the data range; 'range':
   * always the data range (what meddiff did before it read VOI; models trained then keep it).
   */
  window?: DicomWindowRule;
  /**
   * Most pixels (rows × columns) a frame may have, and the bound on what a deflated dataset may
   * inflate to (6 bytes per pixel, plus room for the header): a server's limit on uploads.
   */
  maxPixels?: number;
}

export const DICOM_UNCOMPRESSED: Record<string, string> = {
  '1.2.840.10008.1.2': 'Implicit VR Little Endian',
  '1.2.840.10008.1.2.1': 'Explicit VR Little Endian',
  '1.2.840.10008.1.2.1.99': 'Deflated Explicit VR Little Endian',
  '1.2.840.10008.1.2.2': 'Explicit VR Big Endian',
};

/** Compressed transfer syntaxes decodeDicom reads. */
export const DICOM_COMPRESSED: Record<string, string> = {
  '1.2.840.10008.1.2.4.50': 'JPEG Baseline (Process 1)',
  '1.2.840.10008.1.2.4.51': 'JPEG Extended (Process 2 & 4)',
  '1.2.840.10008.1.2.4.57': 'JPEG Lossless, Non-Hierarchical (Process 14)',
  '1.2.840.10008.1.2.4.70': 'JPEG Lossless, First-Order Prediction',
  '1.2.840.10008.1.2.4.80': 'JPEG-LS Lossless',
  '1.2.840.10008.1.2.4.81': 'JPEG-LS Near-Lossless',
  '1.2.840.10008.1.2.4.90': 'JPEG 2000 Lossless Only',
  '1.2.840.10008.1.2.4.91': 'JPEG 2000',
  '1.2.840.10008.1.2.4.201': 'HTJ2K Lossless',
  '1.2.840.10008.1.2.4.202': 'HTJ2K Lossless RPCL',
  '1.2.840.10008.1.2.4.203': 'HTJ2K',
  '1.2.840.10008.1.2.5': 'RLE Lossless',
};

/** Known but not decoded: named in the error. */
const DICOM_UNSUPPORTED: Record<string, string> = {
  '1.2.840.10008.1.2.4.100': 'MPEG2',
  '1.2.840.10008.1.2.4.102': 'MPEG-4 AVC/H.264',
  '1.2.840.10008.1.2.4.110': 'JPEG XL Lossless',
  '1.2.840.10008.1.2.4.112': 'JPEG XL',
};

/** Largest frame accepted, in samples (rows × columns × samples per pixel): 2^28, a 1 GiB Float32Array. */
export const MAX_FRAME_SAMPLES = 2 ** 28;
/** Largest inflated dataset for Deflated Explicit VR Little Endian. */
const MAX_INFLATED_BYTES = 2 ** 31 - 1;

const FIX_HINT = 're-export it, or convert it to uncompressed (gdcmconv --raw in.dcm out.dcm; dcmdjpeg/dcmdrle), or skip bad files (skipBad / --skip-bad)';

function dicomTsError(uid: string, path: string): Error {
  const name = DICOM_UNSUPPORTED[uid] ?? 'unknown or compressed';
  return new Error(`unsupported transfer syntax ${uid} (${name}) in ${path}: convert to uncompressed, e.g. with dcmdjpeg/gdcmconv ` +
    `(gdcmconv --raw in.dcm out.dcm)`);
}

function parserMessage(e: unknown): string {
  return e instanceof Error ? e.message : typeof e === 'string' ? e : (e as { exception?: string })?.exception ?? String(e);
}

export type DicomWindowRule = 'voi' | 'range';

/** Decode one frame (default the first) of a DICOM file. */
export async function decodeDicom(bytes: Uint8Array, path = '<dicom>', opts: DicomDecodeOptions = {}): Promise<DecodedImage> {
  // Read the transfer syntax first so unsupported files get the specific error, not a parse failure.
  let ts = '1.2.840.10008.1.2'; // raw datasets without the Part 10 header are implicit VR LE
  try { ts = dicomParser.readPart10Header(bytes).string('x00020010')?.replace(/\0/g, '').trim() || ts; } catch { /* no DICM preamble */ }
  const compressed = ts in DICOM_COMPRESSED;
  if (!compressed && !(ts in DICOM_UNCOMPRESSED)) throw dicomTsError(ts, path);
  const tsName = DICOM_COMPRESSED[ts] ?? DICOM_UNCOMPRESSED[ts];

  let ds: dicomParser.DataSet;
  try {
    const cap = opts.maxPixels === undefined ? MAX_INFLATED_BYTES : Math.min(MAX_INFLATED_BYTES, opts.maxPixels * 6 + 2 ** 24);
    ds = dicomParser.parseDicom(bytes, { TransferSyntaxUID: '1.2.840.10008.1.2', inflater: ((a: Uint8Array, at: number) => inflate(a, at, cap)) as unknown as dicomParser.ParseDicomOptions['inflater'] });
  } catch (e) {
    throw new Error(`${path}: not a readable DICOM file (${parserMessage(e)}); check the file is complete, re-export it, or skip bad files (skipBad / --skip-bad)`);
  }
  const bad = (why: string) => new Error(`${path}: unsupported DICOM image: ${why}`);
  const corrupt = (why: string) => new Error(`${path}: corrupt DICOM pixel data (${tsName}): ${why}; the file is truncated or damaged — ${FIX_HINT}`);
  const pixel = ds.elements.x7fe00010;
  if (!pixel) throw new Error(`${path}: DICOM file has no PixelData (7FE0,0010); it is not an image (e.g. a report or SR) — leave it out of the data set`);

  const rows = ds.uint16('x00280010') ?? 0, cols = ds.uint16('x00280011') ?? 0;
  const spp = ds.uint16('x00280002') ?? 1;
  const bitsAllocated = ds.uint16('x00280100') ?? 0;
  const bitsStored = ds.uint16('x00280101') ?? bitsAllocated;
  const signed = (ds.uint16('x00280103') ?? 0) === 1;
  const photometric = (ds.string('x00280004') ?? (spp === 3 ? 'RGB' : 'MONOCHROME2')).trim().toUpperCase();
  const planar = ds.uint16('x00280006') ?? 0;
  const frames = Math.max(1, ds.intString('x00280008') ?? 1);
  const frame = opts.frame ?? 0;
  if (rows <= 0 || cols <= 0) throw bad(`missing Rows/Columns (${rows}x${cols}); the header is incomplete — re-export the file`);
  if (bitsAllocated !== 8 && bitsAllocated !== 16) throw bad(`BitsAllocated ${bitsAllocated} (supported: 8, 16); convert with gdcmconv/dcmconv`);
  if (bitsStored < 1 || bitsStored > bitsAllocated) throw bad(`BitsStored ${bitsStored} with BitsAllocated ${bitsAllocated}; the header is inconsistent — re-export the file`);
  const isMono = photometric === 'MONOCHROME1' || photometric === 'MONOCHROME2';
  const colourKinds = ['RGB', 'YBR_FULL', 'YBR_FULL_422', 'YBR_RCT', 'YBR_ICT'];
  const isPalette = photometric === 'PALETTE COLOR';
  if (!((isMono || isPalette) && spp === 1) && !(colourKinds.includes(photometric) && spp === 3)) {
    throw bad(`PhotometricInterpretation ${photometric} with ${spp} samples (supported: MONOCHROME1/2, PALETTE COLOR, RGB, YBR_FULL, YBR_FULL_422); convert with gdcmconv/dcmconv`);
  }
  const isJ2k = ts.startsWith('1.2.840.10008.1.2.4.9') || ts.startsWith('1.2.840.10008.1.2.4.20');
  if ((photometric === 'YBR_RCT' || photometric === 'YBR_ICT') && !isJ2k) {
    throw bad(`PhotometricInterpretation ${photometric} outside JPEG 2000; the header is inconsistent — re-export the file`);
  }
  if (photometric.startsWith('YBR') && bitsAllocated !== 8) throw bad(`${photometric} with BitsAllocated ${bitsAllocated} (supported: 8); convert with gdcmconv/dcmconv`);
  if (!Number.isInteger(frame) || frame < 0 || frame >= frames) {
    throw new Error(`${path}: frame ${frame} requested, but the image has ${frames} frame(s) (NumberOfFrames); ask for 0..${frames - 1}`);
  }
  const hw = rows * cols, n = hw * spp;
  if (opts.maxPixels !== undefined && hw > opts.maxPixels) throw bad(`${cols}x${rows} is ${hw} pixels, more than the ${opts.maxPixels} allowed here; downsample it first`);
  if (n > MAX_FRAME_SAMPLES) {
    throw bad(`${cols}x${rows}x${spp} is ${n} samples per frame, more than the ${MAX_FRAME_SAMPLES} accepted; downsample it first (e.g. gdcmscu/ImageMagick) or check the header`);
  }
  const bytesPer = (bitsAllocated / 8) as 1 | 2;

  let at: (i: number) => number;
  let layout: CodecFrame['layout'] | 'ybr422' = planar === 1 ? 'plane' : 'pixel';
  let colour = photometric === 'RGB' || photometric === 'YBR_RCT' || photometric === 'YBR_ICT' ? 'RGB' : photometric.startsWith('YBR') ? 'YBR' : 'mono';
  // Read the palettes before any decoding, so a bad palette fails fast.
  const paletteModule = isPalette ? await import('./dicom-palette.ts') : undefined;
  const palette = paletteModule?.readPalette(ds, path, signed);
  if (!compressed) {
    if (pixel.encapsulatedPixelData) throw corrupt(`PixelData is encapsulated but the transfer syntax ${ts} is uncompressed`);
    // Uncompressed YBR_FULL_422 stores Y1 Y2 Cb Cr for each pair of pixels: 2 samples per pixel on average.
    const packed422 = photometric === 'YBR_FULL_422';
    if (packed422 && (cols % 2 !== 0 || planar !== 0)) throw bad(`uncompressed YBR_FULL_422 needs an even number of columns and PlanarConfiguration 0 (got ${cols}, ${planar})`);
    const frameBytes = (packed422 ? hw * 2 : n) * bytesPer;
    const start = frame * frameBytes;
    const have = Math.min(pixel.length, ds.byteArray.length - pixel.dataOffset);
    if (have < start + frameBytes) {
      throw corrupt(`PixelData has ${have} bytes, frame ${frame} needs bytes ${start}..${start + frameBytes} for ${cols}x${rows}x${spp}x${bitsAllocated} bits`);
    }
    const view = new DataView(ds.byteArray.buffer, ds.byteArray.byteOffset + pixel.dataOffset + start, frameBytes);
    const little = ts !== '1.2.840.10008.1.2.2';
    at = bytesPer === 1 ? (i) => view.getUint8(i) : (i) => view.getUint16(i * 2, little);
    if (packed422) layout = 'ybr422';
  } else {
    if (!pixel.encapsulatedPixelData) throw corrupt(`transfer syntax ${ts} is compressed but PixelData is not encapsulated`);
    const data = frameData(ds, pixel, frame, frames, corrupt);
    // The codecs allocate what their codestream header says: check it against the DICOM header first.
    const dims = ts === '1.2.840.10008.1.2.5' ? undefined : codestreamDims(data);
    if (dims && (dims.width !== cols || (dims.height !== 0 && dims.height !== rows) || dims.components !== spp)) {
      throw corrupt(`frame ${frame}'s codestream is ${dims.width}x${dims.height}x${dims.components}, the header says ${cols}x${rows}x${spp}`);
    }
    const { CodecError, CodecMissingError } = await import('./codecs/external.ts');
    // Third-party codecs run in a worker with a time limit (a damaged stream can make one loop).
    const { decodeSandboxed } = await import('./codecs/sandbox.ts');
    let out: CodecFrame;
    try {
      if (ts === '1.2.840.10008.1.2.5') {
        const { decodeRle } = await import('./codecs/rle.ts');
        out = decodeRle(data, rows, cols, spp, bytesPer);
      } else if (ts === '1.2.840.10008.1.2.4.50' || ts === '1.2.840.10008.1.2.4.51') {
        if (bitsStored > 8) {
          // 12-bit (process 4): our decoder; components come back as coded (YBR stays YBR).
          if (ts !== '1.2.840.10008.1.2.4.51') throw corrupt(`JPEG Baseline holds 8-bit samples, the header says BitsStored ${bitsStored}`);
          if (bitsStored > 12) throw bad(`${bitsStored}-bit JPEG Extended (the standard allows 8 or 12 bits); re-export the file`);
          const { decodeJpegExtended } = await import('./codecs/jpeg-extended.ts');
          out = decodeJpegExtended(data);
        } else {
          out = await decodeSandboxed('jpeg', data, hw);
          if (out.components === 3) colour = 'RGB'; // libjpeg returns RGB whatever the YBR label
        }
      } else if (ts === '1.2.840.10008.1.2.4.57' || ts === '1.2.840.10008.1.2.4.70') {
        if (spp === 3 && bytesPer === 2) throw bad('16-bit colour JPEG Lossless is not supported; convert with dcmdjpeg or gdcmconv --raw');
        out = await decodeSandboxed('jpeg-lossless', data, hw, bytesPer);
      } else if (ts === '1.2.840.10008.1.2.4.80' || ts === '1.2.840.10008.1.2.4.81') {
        // CharLS needs the end-of-image marker anyway, and on a stream cut inside a scan it can spin
        // for tens of seconds before failing: refuse a missing EOI up front.
        if (!endsWithEoi(data)) throw corrupt(`frame ${frame}'s JPEG-LS codestream has no end-of-image marker (FFD9): it is truncated`);
        out = await decodeSandboxed('jpeg-ls', data, hw);
      } else if (ts.startsWith('1.2.840.10008.1.2.4.20')) {
        out = await decodeSandboxed('htj2k', data, hw);
      } else {
        out = await decodeSandboxed('jpeg2000', data, hw);
      }
    } catch (e) {
      if (e instanceof CodecMissingError) throw new Error(`${path}: cannot decode ${tsName}: ${e.message}, or convert the file to uncompressed (gdcmconv --raw in.dcm out.dcm)`);
      if (e instanceof CodecError) throw corrupt(`frame ${frame}: ${e.message}`);
      throw e;
    }
    if (out.width !== cols || out.height !== rows || out.components !== spp) {
      throw corrupt(`frame ${frame} decodes to ${out.width}x${out.height}x${out.components}, the header says ${cols}x${rows}x${spp}`);
    }
    if (out.samples.length < n) throw corrupt(`frame ${frame} decodes to ${out.samples.length} samples, expected ${n}`);
    const s = out.samples;
    at = (i) => s[i];
    layout = out.layout;
  }

  const mask = bitsStored >= 32 ? 0xffffffff : (1 << bitsStored) - 1, signBit = 1 << (bitsStored - 1);
  const sample = (i: number): number => {
    // Mask away overlay bits above BitsStored, then sign-extend when PixelRepresentation=1.
    let v = at(i) & mask;
    if (signed && (v & signBit)) v -= mask + 1;
    return v;
  };

  if (paletteModule && palette) {
    return { data: paletteModule.applyPalette(palette, hw, sample), width: cols, height: rows, channels: 3, bitDepth: 8, format: 'dicom', path };
  }
  if (colour !== 'mono') {
    const out = new Uint8Array(n);
    const shift = Math.max(0, bitsStored - 8);
    const idx: (p: number, c: number) => number =
      layout === 'plane' ? (p, c) => c * hw + p
        : layout === 'line' ? (p, c) => (Math.floor(p / cols) * 3 + c) * cols + (p % cols)
          : layout === 'ybr422' ? (p, c) => 4 * (p >> 1) + (c === 0 ? (p & 1) : c + 1)
            : (p, c) => p * 3 + c;
    if (colour === 'RGB') {
      for (let p = 0; p < hw; p++) for (let c = 0; c < 3; c++) out[p * 3 + c] = sample(idx(p, c)) >> shift;
    } else {
      // YBR_FULL (PS3.3 C.7.6.3.1.2), 8-bit: full-range ITU-R BT.601.
      const clamp = (v: number) => (v < 0 ? 0 : v > 255 ? 255 : Math.round(v));
      for (let p = 0; p < hw; p++) {
        const y = sample(idx(p, 0)), cb = sample(idx(p, 1)) - 128, cr = sample(idx(p, 2)) - 128;
        out[p * 3] = clamp(y + 1.402 * cr);
        out[p * 3 + 1] = clamp(y - 0.344136 * cb - 0.714136 * cr);
        out[p * 3 + 2] = clamp(y + 1.772 * cb);
      }
    }
    return { data: out, width: cols, height: rows, channels: 3, bitDepth: 8, format: 'dicom', path };
  }

  const slope = ds.floatString('x00281053') ?? 1, intercept = ds.floatString('x00281052') ?? 0;
  const out = new Float32Array(n);
  let min = Infinity, max = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = sample(i) * slope + intercept;
    out[i] = v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const invert = photometric === 'MONOCHROME1'; // low values are white
  const voi = opts.window === 'range' ? undefined : readVoi(ds);
  let window: NonNullable<DecodedImage['window']>;
  if (voi) {
    const f = voiFunction(voi.center, voi.width, voi.fn);
    for (let i = 0; i < n; i++) { const u = f.map(out[i]); out[i] = invert ? 1 - u : u; }
    window = { min: f.lo, max: f.hi, center: voi.center, width: voi.width, voiFunction: voi.fn };
  } else {
    // No Window Center/Width: window to the frame's data range.
    const range = max - min;
    for (let i = 0; i < n; i++) { const u = range > 0 ? (out[i] - min) / range : 0; out[i] = invert ? 1 - u : u; }
    window = { min, max };
  }
  return { data: out, width: cols, height: rows, channels: 1, bitDepth: bitsStored, format: 'dicom', path, window };
}

type VoiFn = 'LINEAR' | 'LINEAR_EXACT' | 'SIGMOID';

/** Window Center/Width (0028,1050/1051), first value, and VOI LUT Function (0028,1056); undefined when absent or unusable. */
function readVoi(ds: dicomParser.DataSet): { center: number; width: number; fn: VoiFn } | undefined {
  const center = ds.floatString('x00281050', 0), width = ds.floatString('x00281051', 0);
  if (center === undefined || width === undefined || !Number.isFinite(center) || !Number.isFinite(width)) return undefined;
  const raw = (ds.string('x00281056') ?? 'LINEAR').trim().toUpperCase();
  const fn: VoiFn = raw === 'LINEAR_EXACT' || raw === 'SIGMOID' ? raw : 'LINEAR';
  if (fn === 'LINEAR' ? width < 1 : width <= 0) return undefined; // invalid per PS3.3 C.11.2.1.2: fall back to min–max
  return { center, width, fn };
}

/** The VOI functions of PS3.3 C.11.2.1.2–3 with output range [0, 1], and the input range [lo, hi] they map. */
function voiFunction(c: number, w: number, fn: VoiFn): { map: (x: number) => number; lo: number; hi: number } {
  if (fn === 'LINEAR_EXACT') {
    const lo = c - w / 2, hi = c + w / 2;
    return { lo, hi, map: (x) => (x <= lo ? 0 : x > hi ? 1 : (x - c) / w + 0.5) };
  }
  if (fn === 'SIGMOID') return { lo: c - w / 2, hi: c + w / 2, map: (x) => 1 / (1 + Math.exp((-4 * (x - c)) / w)) };
  // LINEAR: if x <= c - 0.5 - (w-1)/2 → 0; else if x > c - 0.5 + (w-1)/2 → 1; else ((x - (c - 0.5)) / (w-1) + 0.5).
  const lo = c - 0.5 - (w - 1) / 2, hi = c - 0.5 + (w - 1) / 2;
  return { lo, hi, map: (x) => (x <= lo ? 0 : x > hi ? 1 : (x - (c - 0.5)) / (w - 1) + 0.5) };
}

function inflate(arr: Uint8Array, position: number, cap: number): Uint8Array {
  let inflated: Buffer;
  try { inflated = inflateRawSync(arr.subarray(position), { maxOutputLength: cap }); } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || e instanceof RangeError) throw new Error(`the deflated dataset inflates to more than ${cap} bytes (a decompression bomb, or an image larger than allowed)`);
    throw e;
  }
  const full = new Uint8Array(position + inflated.length);
  full.set(arr.subarray(0, position));
  full.set(inflated, position);
  return full;
}
