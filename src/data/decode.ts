/**
 * Decode one image file into raw pixels: PNG/JPEG/TIFF (8/16-bit) via sharp, and uncompressed
 * DICOM via dicom-parser. Pixel data is interleaved HWC; alpha is dropped.
 */
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import sharp from 'sharp';
import dicomParser from 'dicom-parser';

export interface DecodedImage {
  /**
   * Uint8Array: 0..255. Uint16Array: 16-bit samples (often only 10-14 bits used).
   * Float32Array: DICOM grayscale, already windowed to its data range and mapped to [0, 1].
   */
  data: Uint8Array | Uint16Array | Float32Array;
  width: number;
  height: number;
  channels: 1 | 3;
  /** Bits per sample in the source (8, 16, or DICOM BitsStored). */
  bitDepth: number;
  format: string;
  path: string;
  /** DICOM only: the modality-value range (after RescaleSlope/Intercept) that was mapped to [0, 1]. */
  window?: { min: number; max: number };
}

export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.tif', '.tiff', '.dcm', '.dicom'];

export const DICOM_UNCOMPRESSED: Record<string, string> = {
  '1.2.840.10008.1.2': 'Implicit VR Little Endian',
  '1.2.840.10008.1.2.1': 'Explicit VR Little Endian',
  '1.2.840.10008.1.2.1.99': 'Deflated Explicit VR Little Endian',
  '1.2.840.10008.1.2.2': 'Explicit VR Big Endian',
};

const DICOM_COMPRESSED: Record<string, string> = {
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

/**
 * Decode a file by path, or bytes already in memory (an upload): by content (DICOM preamble) or,
 * for paths, the extension. `name` labels the bytes in error messages. Errors say what to do.
 */
export async function decodeImage(input: string | Uint8Array, name?: string): Promise<DecodedImage> {
  if (typeof input !== 'string') return decodeImageBytes(input, name ?? '<buffer>');
  const path = input;
  let bytes: Buffer;
  try { bytes = await readFile(path); } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(code === 'ENOENT' ? `${path}: file not found` : `${path}: cannot read file: ${code ?? (e as Error).message}`);
  }
  const ext = extname(path).toLowerCase();
  if (ext === '.dcm' || ext === '.dicom') return decodeDicom(bytes, path);
  return decodeImageBytes(bytes, path);
}

/** Decode in-memory bytes by their content: DICOM (Part 10 preamble), else PNG/JPEG/TIFF via sharp. */
export async function decodeImageBytes(bytes: Uint8Array, name = '<buffer>'): Promise<DecodedImage> {
  if (isDicomP10(bytes)) return decodeDicom(bytes, name);
  return decodeWithSharp(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), name);
}

function isDicomP10(b: Uint8Array): boolean {
  return b.length > 132 && b[128] === 0x44 && b[129] === 0x49 && b[130] === 0x43 && b[131] === 0x4d;
}

async function decodeWithSharp(bytes: Buffer, path: string): Promise<DecodedImage> {
  try {
    const meta = await sharp(bytes).metadata();
    const deep = meta.depth === 'ushort' || meta.depth === 'short';
    const gray = meta.space === 'b-w' || meta.space === 'grey16' || (meta.channels ?? 3) - (meta.hasAlpha ? 1 : 0) === 1;
    // sharp's raw output is sRGB unless asked otherwise; keep grayscale single-channel.
    const space = gray ? (deep ? 'grey16' : 'b-w') : (deep ? 'rgb16' : 'srgb');
    const { data, info } = await sharp(bytes).autoOrient().toColourspace(space).removeAlpha()
      .raw({ depth: deep ? 'ushort' : 'uchar' }).toBuffer({ resolveWithObject: true });
    const channels = info.channels;
    if (channels !== 1 && channels !== 3) throw new Error(`unexpected ${channels} channels after conversion`);
    const pixels = deep
      ? new Uint16Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength))
      : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    return { data: pixels, width: info.width, height: info.height, channels, bitDepth: deep ? 16 : 8, format: meta.format ?? 'unknown', path };
  } catch (e) {
    throw new Error(`${path}: cannot decode image (${(e as Error).message.trim()}); the file is corrupt or not a PNG/JPEG/TIFF — re-export it, or skip bad files (skipBad / --skip-bad)`);
  }
}

function dicomTsError(uid: string, path: string): Error {
  const name = DICOM_COMPRESSED[uid] ?? 'unknown or compressed';
  return new Error(`unsupported transfer syntax ${uid} (${name}) in ${path}: convert to uncompressed, e.g. with dcmdjpeg/gdcmconv ` +
    `(gdcmconv --raw in.dcm out.dcm)`);
}

/** Decode the first frame of an uncompressed DICOM file. */
export function decodeDicom(bytes: Uint8Array, path = '<dicom>'): DecodedImage {
  // Read the transfer syntax first so compressed files get the specific error, not a parse failure.
  let ts = '1.2.840.10008.1.2'; // raw datasets without the Part 10 header are implicit VR LE
  try { ts = dicomParser.readPart10Header(bytes).string('x00020010')?.trim() || ts; } catch { /* no DICM preamble */ }
  if (!(ts in DICOM_UNCOMPRESSED)) throw dicomTsError(ts, path);

  let ds: dicomParser.DataSet;
  try { ds = dicomParser.parseDicom(bytes, { TransferSyntaxUID: '1.2.840.10008.1.2' }); } catch (e) {
    const msg = e instanceof Error ? e.message : typeof e === 'string' ? e : (e as { exception?: string })?.exception ?? String(e);
    throw new Error(`${path}: not a readable DICOM file (${msg}); check the file is complete`);
  }
  const bad = (why: string) => new Error(`${path}: unsupported DICOM image: ${why}`);
  const pixel = ds.elements.x7fe00010;
  if (!pixel) throw new Error(`${path}: DICOM file has no PixelData (7FE0,0010); it is not an image (e.g. a report or SR)`);
  if (pixel.encapsulatedPixelData) throw dicomTsError(ts, path);

  const rows = ds.uint16('x00280010') ?? 0, cols = ds.uint16('x00280011') ?? 0;
  const spp = ds.uint16('x00280002') ?? 1;
  const bitsAllocated = ds.uint16('x00280100') ?? 0;
  const bitsStored = ds.uint16('x00280101') ?? bitsAllocated;
  const signed = (ds.uint16('x00280103') ?? 0) === 1;
  const photometric = (ds.string('x00280004') ?? (spp === 3 ? 'RGB' : 'MONOCHROME2')).trim().toUpperCase();
  const planar = ds.uint16('x00280006') ?? 0;
  if (rows <= 0 || cols <= 0) throw bad(`missing Rows/Columns (${rows}x${cols})`);
  if (bitsAllocated !== 8 && bitsAllocated !== 16) throw bad(`BitsAllocated ${bitsAllocated} (supported: 8, 16)`);
  if (bitsStored < 1 || bitsStored > bitsAllocated) throw bad(`BitsStored ${bitsStored} with BitsAllocated ${bitsAllocated}`);
  const isMono = photometric === 'MONOCHROME1' || photometric === 'MONOCHROME2';
  if (!(isMono && spp === 1) && !(photometric === 'RGB' && spp === 3)) {
    throw bad(`PhotometricInterpretation ${photometric} with ${spp} samples (supported: MONOCHROME1/2, RGB); convert with gdcmconv/dcmconv`);
  }
  const bytesPer = bitsAllocated / 8;
  const n = rows * cols * spp; // first frame only
  if (pixel.length < n * bytesPer) throw bad(`PixelData has ${pixel.length} bytes, expected ${n * bytesPer} for ${cols}x${rows}x${spp} (file truncated?)`);

  const view = new DataView(ds.byteArray.buffer, ds.byteArray.byteOffset + pixel.dataOffset, n * bytesPer);
  const little = ts !== '1.2.840.10008.1.2.2';
  const mask = bitsStored >= 32 ? 0xffffffff : (1 << bitsStored) - 1, signBit = 1 << (bitsStored - 1);
  const sample = (i: number): number => {
    // Mask away overlay bits above BitsStored, then sign-extend when PixelRepresentation=1.
    let v = (bytesPer === 1 ? view.getUint8(i) : view.getUint16(i * 2, little)) & mask;
    if (signed && (v & signBit)) v -= mask + 1;
    return v;
  };

  if (!isMono) {
    const out = new Uint8Array(n);
    const shift = Math.max(0, bitsStored - 8);
    for (let p = 0, hw = rows * cols; p < hw; p++) {
      for (let c = 0; c < 3; c++) out[p * 3 + c] = sample(planar === 1 ? c * hw + p : p * 3 + c) >> shift;
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
  // Window to the data range; MONOCHROME1 means low values are white, so invert.
  const range = max - min, invert = photometric === 'MONOCHROME1';
  for (let i = 0; i < n; i++) {
    const u = range > 0 ? (out[i] - min) / range : 0;
    out[i] = invert ? 1 - u : u;
  }
  return { data: out, width: cols, height: rows, channels: 1, bitDepth: bitsStored, format: 'dicom', path, window: { min, max } };
}
