/**
 * Encapsulated DICOM pixel data (PS3.5 A.4): which fragments hold a frame, and what a frame's
 * codestream header claims (checked against the DICOM header before any codec allocates).
 */
import type dicomParser from 'dicom-parser';

/**
 * The compressed bytes of one frame: its fragments (chosen by the Extended or Basic Offset Table,
 * else one fragment per frame, else by JPEG/J2K start markers), each checked against the buffer.
 */
export function frameData(ds: dicomParser.DataSet, pixel: dicomParser.Element, frame: number, frames: number, corrupt: (why: string) => Error): Uint8Array {
  const frags = pixel.fragments ?? [];
  const buf = ds.byteArray;
  if (frags.length === 0) throw corrupt('encapsulated PixelData holds no fragments');
  for (const [k, f] of frags.entries()) {
    if (f.length < 0 || f.position + f.length > buf.length) {
      throw corrupt(`fragment ${k + 1} claims ${f.length} bytes at byte ${f.position}, but the file ends at byte ${buf.length}`);
    }
  }
  let sel: number[];
  if (frames === 1) {
    sel = frags.map((_, k) => k);
  } else {
    const table = extendedOffsets(ds) ?? (pixel.basicOffsetTable?.length ? pixel.basicOffsetTable : undefined);
    if (table) {
      if (table.length !== frames) throw corrupt(`the offset table lists ${table.length} frames, NumberOfFrames says ${frames}`);
      const start = table[frame], end = frame + 1 < frames ? table[frame + 1] : Infinity;
      sel = frags.flatMap((f, k) => (f.offset >= start && f.offset < end ? [k] : []));
    } else if (frags.length === frames) {
      sel = [frame];
    } else {
      // No offset table and more fragments than frames: a frame starts at a JPEG SOI or J2K SOC marker.
      const starts = frags.flatMap((f, k) => {
        const b0 = buf[f.position], b1 = buf[f.position + 1];
        return f.length >= 2 && b0 === 0xff && (b1 === 0xd8 || b1 === 0x4f) ? [k] : [];
      });
      if (starts.length !== frames) throw corrupt(`${frags.length} fragments for ${frames} frames and no offset table to tell them apart`);
      const end = frame + 1 < frames ? starts[frame + 1] : frags.length;
      sel = Array.from({ length: end - starts[frame] }, (_, i) => starts[frame] + i);
    }
    if (sel.length === 0) throw corrupt(`no fragment found for frame ${frame}`);
  }
  if (sel.length === 1) {
    const f = frags[sel[0]];
    return buf.subarray(f.position, f.position + f.length);
  }
  const total = sel.reduce((a, k) => a + frags[k].length, 0);
  const out = new Uint8Array(total);
  let o = 0;
  for (const k of sel) { const f = frags[k]; out.set(buf.subarray(f.position, f.position + f.length), o); o += f.length; }
  return out;
}

/**
 * Width, height and components from a JPEG / JPEG-LS SOFn segment or a JPEG 2000 SIZ marker
 * (raw codestream or JP2 file), without decoding; undefined when not found.
 */
export function codestreamDims(b: Uint8Array): { width: number; height: number; components: number } | undefined {
  const u16 = (i: number) => (b[i] << 8) | b[i + 1];
  const u32 = (i: number) => ((b[i] << 24) >>> 0) + (b[i + 1] << 16) + (b[i + 2] << 8) + b[i + 3];
  if (b.length >= 4 && b[0] === 0xff && b[1] === 0xd8) {
    for (let i = 2; i + 4 <= b.length;) {
      if (b[i] !== 0xff) return undefined;
      const m = b[i + 1];
      if (m === 0xff) { i++; continue; } // fill byte
      if (m === 0x01 || (m >= 0xd0 && m <= 0xd7)) { i += 2; continue; } // markers without a length
      const len = u16(i + 2);
      // SOF0–3, 5–7, 9–11, 13–15 and JPEG-LS SOF55: P, Y, X, Nf.
      if ((m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) || m === 0xf7) {
        if (i + 10 > b.length) return undefined;
        return { height: u16(i + 5), width: u16(i + 7), components: b[i + 9] };
      }
      if (m === 0xda || m === 0xd9) return undefined; // scan or end before any frame header
      i += 2 + len;
    }
    return undefined;
  }
  // J2K: SOC (FF4F) then SIZ (FF51): Lsiz Rsiz Xsiz Ysiz XOsiz YOsiz XTsiz YTsiz XTOsiz YTOsiz Csiz.
  const limit = Math.min(b.length - 42, 4096);
  for (let i = 0; i <= limit; i++) {
    if (b[i] === 0xff && b[i + 1] === 0x4f && b[i + 2] === 0xff && b[i + 3] === 0x51) {
      const p = i + 4;
      return { width: u32(p + 4) - u32(p + 12), height: u32(p + 8) - u32(p + 16), components: u16(p + 36) };
    }
  }
  return undefined;
}

/** Whether a JPEG-family codestream ends with EOI (FFD9), allowing the zero padding of an even-length fragment. */
export function endsWithEoi(b: Uint8Array): boolean {
  let e = b.length;
  while (e > 2 && b[e - 1] === 0 && b.length - e < 16) e--;
  return e >= 2 && b[e - 2] === 0xff && b[e - 1] === 0xd9;
}

/** Extended Offset Table (7FE0,0001), 64-bit offsets, when present. */
function extendedOffsets(ds: dicomParser.DataSet): number[] | undefined {
  const el = ds.elements.x7fe00001;
  if (!el || el.length < 8 || el.length % 8 !== 0 || el.dataOffset + el.length > ds.byteArray.length) return undefined;
  const dv = new DataView(ds.byteArray.buffer, ds.byteArray.byteOffset + el.dataOffset, el.length);
  return Array.from({ length: el.length / 8 }, (_, i) => Number(dv.getBigUint64(i * 8, true)));
}
