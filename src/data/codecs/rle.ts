/**
 * DICOM RLE Lossless (1.2.840.10008.1.2.5), PS3.5 Annex G.
 *
 * A frame is one fragment: a 64-byte header (number of segments, then 15 segment offsets, all
 * UL little endian) followed by the segments. There is one segment per byte of each sample,
 * sample by sample and most significant byte first (8-bit RGB: R, G, B; 16-bit gray: high, low).
 * Each segment is a PackBits byte stream of rows × columns bytes: a header byte n of 0..127
 * copies the next n + 1 bytes, -1..-127 repeats the next byte 1 - n times, -128 does nothing.
 */
import { CodecError, type CodecFrame } from './external.ts';

export function decodeRle(frag: Uint8Array, rows: number, cols: number, samplesPerPixel: number, bytesPerSample: 1 | 2): CodecFrame {
  if (frag.length < 64) throw new CodecError(`RLE fragment has ${frag.length} bytes, less than its 64-byte header (truncated?)`);
  const dv = new DataView(frag.buffer, frag.byteOffset, frag.byteLength);
  const nseg = dv.getUint32(0, true);
  const want = samplesPerPixel * bytesPerSample;
  if (nseg !== want) {
    throw new CodecError(`RLE header lists ${nseg} segments, expected ${want} for ${samplesPerPixel} sample(s) of ${bytesPerSample * 8} bits`);
  }
  const offsets: number[] = [];
  for (let s = 0; s < nseg; s++) {
    const o = dv.getUint32(4 + 4 * s, true);
    if (o < 64 || o > frag.length || (s > 0 && o < offsets[s - 1])) {
      throw new CodecError(`RLE segment ${s + 1} starts at byte ${o}, outside the ${frag.length}-byte fragment (truncated or corrupt)`);
    }
    offsets.push(o);
  }
  const hw = rows * cols;
  // A replicate run turns 2 bytes into at most 128: a segment shorter than hw / 64 cannot hold the
  // frame, so refuse before allocating for dimensions the data cannot back.
  for (let s = 0; s < nseg; s++) {
    const len = (s + 1 < nseg ? offsets[s + 1] : frag.length) - offsets[s];
    if (len * 64 < hw) throw new CodecError(`RLE segment ${s + 1} has ${len} bytes, too few for ${cols}x${rows} (truncated fragment?)`);
  }
  const seg = new Uint8Array(hw);
  const out = bytesPerSample === 1 ? new Uint8Array(hw * samplesPerPixel) : new Uint16Array(hw * samplesPerPixel);
  for (let s = 0; s < nseg; s++) {
    const end = s + 1 < nseg ? offsets[s + 1] : frag.length;
    const got = unpackBits(frag, offsets[s], end, seg);
    if (got < hw) throw new CodecError(`RLE segment ${s + 1} decodes to ${got} of ${hw} bytes (truncated fragment?)`);
    const sample = Math.floor(s / bytesPerSample);
    const shift = 8 * (bytesPerSample - 1 - (s % bytesPerSample)); // most significant byte first
    for (let p = 0; p < hw; p++) out[p * samplesPerPixel + sample] |= seg[p] << shift;
  }
  return { samples: out, width: cols, height: rows, components: samplesPerPixel, bitsPerSample: bytesPerSample * 8, layout: 'pixel' };
}

/** PackBits from src[start, end) into dst; returns the number of bytes written (stops when dst is full). */
function unpackBits(src: Uint8Array, start: number, end: number, dst: Uint8Array): number {
  let i = start, o = 0;
  const cap = dst.length;
  while (i < end && o < cap) {
    const n = (src[i++] << 24) >> 24; // as int8
    if (n >= 0) {
      const len = Math.min(n + 1, end - i, cap - o);
      dst.set(src.subarray(i, i + len), o);
      i += n + 1;
      o += len;
    } else if (n !== -128) {
      if (i >= end) break;
      const len = Math.min(1 - n, cap - o);
      dst.fill(src[i++], o, o + len);
      o += len;
    }
  }
  return o;
}
