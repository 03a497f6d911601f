/**
 * Decode one image file into raw pixels: PNG/JPEG/TIFF (8/16-bit) via sharp, and DICOM
 * (uncompressed and compressed, see dicom.ts). Pixel data is interleaved HWC; alpha is dropped.
 */
import { readFile, stat } from 'node:fs/promises';
import { extname } from 'node:path';
import sharp from 'sharp';
import { decodeDicom } from './dicom.ts';

export type { DecodedImage } from './image.ts';
import type { DecodedImage } from './image.ts';

export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.tif', '.tiff', '.dcm', '.dicom'];

export { decodeDicom, DICOM_UNCOMPRESSED, DICOM_COMPRESSED, MAX_FRAME_SAMPLES, type DicomDecodeOptions, type DicomWindowRule } from './dicom.ts';
import type { DicomWindowRule } from './dicom.ts';

/** Options for decodeImage / decodeImageBytes. */
export interface DecodeOptions {
  /** DICOM only: frame of a multi-frame image (0-based, default 0). Ignored for other formats. */
  frame?: number;
  /** DICOM only: 'voi' (default, Window Center/Width when present) or 'range' (the data range). */
  window?: DicomWindowRule;
  /** Most pixels an image may declare (default MAX_IMAGE_PIXELS), checked from its header before decoding. */
  maxPixels?: number;
}

/**
 * Decode a file by path, or bytes already in memory (an upload): by content (DICOM preamble) or,
 * for paths, the extension. `name` labels the bytes in error messages. Errors say what to do.
 */
export async function decodeImage(input: string | Uint8Array, name?: string, opts: DecodeOptions = {}): Promise<DecodedImage> {
  if (typeof input !== 'string') return decodeImageBytes(input, name ?? '<buffer>', opts);
  const path = input;
  let bytes: Buffer;
  try { bytes = await readFile(path); } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(code === 'ENOENT' ? `${path}: file not found` : `${path}: cannot read file: ${code ?? (e as Error).message}`);
  }
  const ext = extname(path).toLowerCase();
  if (ext === '.dcm' || ext === '.dicom') return decodeDicom(bytes, path, opts);
  return decodeImageBytes(bytes, path, opts);
}

/** Decode in-memory bytes by their content: DICOM (Part 10 preamble), else PNG/JPEG/TIFF via sharp. */
export async function decodeImageBytes(bytes: Uint8Array, name = '<buffer>', opts: DecodeOptions = {}): Promise<DecodedImage> {
  if (isDicomP10(bytes)) return decodeDicom(bytes, name, opts);
  return decodeWithSharp(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), name, Math.min(opts.maxPixels ?? MAX_IMAGE_PIXELS, MAX_IMAGE_PIXELS));
}

/**
 * Width and height of an image file as decodeImage would return them, from the header alone for
 * PNG/JPEG/TIFF (EXIF orientations 5–8 swap them, as autoOrient does); DICOM is decoded.
 */
export async function imageDimensions(path: string): Promise<{ width: number; height: number }> {
  const ext = extname(path).toLowerCase();
  if (ext === '.dcm' || ext === '.dicom') { const d = await decodeImage(path); return { width: d.width, height: d.height }; }
  let meta;
  try { meta = await sharp(path).metadata(); } catch (e) {
    // Asked of the file system, not read from sharp's message: libvips keeps one error buffer for all
    // threads, so under concurrent decodes a missing file can come back as "unsupported image format".
    const missing = await stat(path).then(() => false, (s: NodeJS.ErrnoException) => s.code === 'ENOENT' || s.code === 'ENOTDIR');
    if (missing) throw new Error(`${path}: file not found`);
    throw new Error(`${path}: cannot decode image (${(e as Error).message.trim()}); the file is corrupt or not a PNG/JPEG/TIFF`);
  }
  const swap = (meta.orientation ?? 1) >= 5;
  return { width: (swap ? meta.height : meta.width) ?? 0, height: (swap ? meta.width : meta.height) ?? 0 };
}

function isDicomP10(b: Uint8Array): boolean {
  return b.length > 132 && b[128] === 0x44 && b[129] === 0x49 && b[130] === 0x43 && b[131] === 0x4d;
}

/**
 * The most pixels a PNG/JPEG/TIFF may declare (8192², a large mammogram fits): checked from the
 * header before decoding, so a small file that claims billions of pixels (a decompression bomb)
 * is refused without allocating them.
 */
export const MAX_IMAGE_PIXELS = 8192 * 8192;

async function decodeWithSharp(bytes: Buffer, path: string, maxPixels: number): Promise<DecodedImage> {
  let meta: Awaited<ReturnType<ReturnType<typeof sharp>["metadata"]>>;
  const tooBig = (w?: number, h?: number) => new Error(`${path}: the image declares ${w && h ? `${w}×${h} pixels, ` : ''}more than the ${maxPixels} pixels meddiff decodes${maxPixels === MAX_IMAGE_PIXELS ? ' (8192²)' : ' here'}; downscale it first (e.g. to 2048²; models see at most 256²)`);
  try { meta = await sharp(bytes, { limitInputPixels: maxPixels }).metadata(); } catch (e) {
    if (/exceeds pixel limit/i.test((e as Error).message)) throw tooBig();
    throw new Error(`${path}: cannot decode image (${(e as Error).message.trim()}); the file is corrupt or not a PNG/JPEG/TIFF — re-export it, or skip bad files (skipBad / --skip-bad)`);
  }
  if ((meta.width ?? 0) * (meta.height ?? 0) > maxPixels) throw tooBig(meta.width, meta.height);
  try {
    const deep = meta.depth === 'ushort' || meta.depth === 'short';
    const gray = meta.space === 'b-w' || meta.space === 'grey16' || (meta.channels ?? 3) - (meta.hasAlpha ? 1 : 0) === 1;
    // sharp's raw output is sRGB unless asked otherwise; keep grayscale single-channel.
    const space = gray ? (deep ? 'grey16' : 'b-w') : (deep ? 'rgb16' : 'srgb');
    const { data, info } = await sharp(bytes, { limitInputPixels: maxPixels }).autoOrient().toColourspace(space).removeAlpha()
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
