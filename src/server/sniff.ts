// What an upload is, from its first bytes (never its name or declared type), and how many pixels
// it declares, read from the header before anything is decoded: a 50 kB PNG that claims
// 100000×100000 pixels is refused without allocating them.
import sharp from 'sharp';
import dicomParser from 'dicom-parser';
import type { ImageType } from './api-types.ts';

export function sniffType(b: Uint8Array): ImageType | null {
  if (b.length >= 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47 && b[4] === 0x0d && b[5] === 0x0a && b[6] === 0x1a && b[7] === 0x0a) return 'png';
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  if (b.length >= 4 && ((b[0] === 0x49 && b[1] === 0x49 && (b[2] === 0x2a || b[2] === 0x2b) && b[3] === 0) || (b[0] === 0x4d && b[1] === 0x4d && b[2] === 0 && (b[3] === 0x2a || b[3] === 0x2b)))) return 'tiff';
  if (b.length > 132 && b[128] === 0x44 && b[129] === 0x49 && b[130] === 0x43 && b[131] === 0x4d) return 'dicom';
  return null;
}

/** Deflated Explicit VR Little Endian: the dataset, Rows and Columns included, is compressed. */
const DEFLATED_TS = '1.2.840.10008.1.2.1.99';

/**
 * Width × height (× frames) the file declares; null when its header cannot be read (the server
 * refuses the file); 'in-decoder' for a deflated DICOM, whose header is compressed: it is not
 * inflated here (on the event loop) but by the decoder in the worker, under the same pixel limit.
 */
export async function declaredPixels(b: Uint8Array, type: ImageType): Promise<number | null | 'in-decoder'> {
  switch (type) {
    case 'png':
      // IHDR is the first chunk: width and height at bytes 16–23, big-endian
      return b.length >= 24 ? readU32(b, 16) * readU32(b, 20) : null;
    case 'jpeg': return jpegPixels(b);
    case 'tiff': {
      try {
        const m = await sharp(b, { limitInputPixels: false }).metadata(); // header only
        return (m.width ?? 0) * (m.height ?? 0) * Math.max(1, m.pages ?? 1);
      } catch { return null; }
    }
    case 'dicom': {
      try {
        const ts = dicomParser.readPart10Header(b).string('x00020010')?.replace(/\0/g, '').trim();
        if (ts === DEFLATED_TS) return 'in-decoder';
        // no inflater: never inflates (deflated files returned above)
        const ds = dicomParser.parseDicom(b, { untilTag: 'x7fe00010' });
        const rows = ds.uint16('x00280010') ?? 0, cols = ds.uint16('x00280011') ?? 0;
        const frames = Number.parseInt(ds.string('x00280008') ?? '1', 10);
        return rows * cols * (Number.isFinite(frames) && frames > 0 ? frames : 1);
      } catch { return null; }
    }
  }
}

function readU32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) >>> 0) + (b[o + 1]! << 16) + (b[o + 2]! << 8) + b[o + 3]!;
}

/** The frame header (SOFn) of a JPEG: height and width; null when there is none before the data. */
function jpegPixels(b: Uint8Array): number | null {
  let i = 2;
  while (i + 9 < b.length) {
    if (b[i] !== 0xff) { i++; continue; }
    const marker = b[i + 1]!;
    if (marker === 0xff) { i++; continue; }
    if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) { i += 2; continue; }
    const len = (b[i + 2]! << 8) + b[i + 3]!;
    const sof = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (sof) return ((b[i + 5]! << 8) + b[i + 6]!) * ((b[i + 7]! << 8) + b[i + 8]!);
    if (marker === 0xda || marker === 0xd9) return null;
    i += 2 + len;
  }
  return null;
}
