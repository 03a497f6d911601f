/**
 * PALETTE COLOR images (PS3.3 C.7.6.3.1.5–6): each stored value indexes three lookup tables
 * (red, green, blue). Ultrasound and nuclear-medicine exports use them; they decode to 8-bit RGB.
 */
import type dicomParser from 'dicom-parser';

export interface Palette {
  /** Red, green and blue entries scaled to 8 bits, each `entries` long. */
  lut: [Uint8Array, Uint8Array, Uint8Array];
  /** Stored value mapped to the first entry; values below map to it, values past the end to the last. */
  firstMapped: number;
  entries: number;
}

const CHANNELS = [['red', 0x1101, 0x1201], ['green', 0x1102, 0x1202], ['blue', 0x1103, 0x1203]] as const;

/**
 * Read the three palettes. `signed` (PixelRepresentation 1) makes the first mapped value signed, as
 * the descriptor's VR (US or SS) then is. Errors name the element and what to do.
 */
export function readPalette(ds: dicomParser.DataSet, path: string, signed: boolean): Palette {
  const bad = (why: string) => new Error(`${path}: unsupported PALETTE COLOR image: ${why}`);
  if (ds.elements.x00281221 || ds.elements.x00281222 || ds.elements.x00281223) {
    throw bad('segmented palettes (0028,1221–1223) are not read; convert to RGB first (dcmconv +cl / gdcmconv --raw --photometric-interpretation RGB)');
  }
  const luts: Uint8Array[] = [];
  let shape: { entries: number; firstMapped: number } | undefined;
  for (const [name, descTag, dataTag] of CHANNELS) {
    const tag = (t: number) => `x0028${t.toString(16).padStart(4, '0')}`;
    const desc = ds.elements[tag(descTag)], data = ds.elements[tag(dataTag)];
    if (!desc || desc.length < 6) throw bad(`the ${name} palette descriptor (0028,${descTag.toString(16)}) is missing or short; the header is incomplete — re-export the file`);
    if (!data) throw bad(`the ${name} palette data (0028,${dataTag.toString(16)}) is missing; re-export the file`);
    const raw = ds.uint16(tag(descTag), 0) ?? 0;
    const entries = raw === 0 ? 65536 : raw; // 0 means 2^16 (PS3.3 C.7.6.3.1.5)
    const first = ds.uint16(tag(descTag), 1) ?? 0;
    const firstMapped = signed && first >= 0x8000 ? first - 0x10000 : first;
    const bits = ds.uint16(tag(descTag), 2) ?? 0;
    if (bits !== 8 && bits !== 16) throw bad(`the ${name} palette has ${bits} bits per entry (allowed: 8, 16)`);
    if (shape && (shape.entries !== entries || shape.firstMapped !== firstMapped)) {
      throw bad(`the ${name} palette's descriptor (${entries} entries from ${firstMapped}) differs from red's (${shape.entries} from ${shape.firstMapped})`);
    }
    shape = { entries, firstMapped };
    const end = data.dataOffset + data.length;
    if (end > ds.byteArray.length) throw bad(`the ${name} palette data runs past the end of the file; it is truncated`);
    const bytes = ds.byteArray.subarray(data.dataOffset, end);
    const lut = new Uint8Array(entries);
    if (bits === 8) {
      // 8-bit entries are packed two per 16-bit word, first entry in the low byte (little endian files).
      if (bytes.length < entries) throw bad(`the ${name} palette has ${bytes.length} bytes for ${entries} 8-bit entries`);
      lut.set(bytes.subarray(0, entries));
    } else {
      if (bytes.length < entries * 2) throw bad(`the ${name} palette has ${bytes.length} bytes for ${entries} 16-bit entries`);
      const words = new Uint16Array(entries);
      let max = 0;
      for (let i = 0; i < entries; i++) { words[i] = ds.uint16(tag(dataTag), i) ?? 0; if (words[i] > max) max = words[i]; }
      // Some writers put 8-bit values in 16-bit entries: scale by what the table actually uses.
      const shift = max < 256 ? 0 : 8;
      for (let i = 0; i < entries; i++) lut[i] = words[i] >> shift;
    }
    luts.push(lut);
  }
  return { lut: luts as Palette['lut'], firstMapped: shape!.firstMapped, entries: shape!.entries };
}

/** Map stored values through the palette into interleaved 8-bit RGB. */
export function applyPalette(p: Palette, n: number, sample: (i: number) => number): Uint8Array {
  const out = new Uint8Array(n * 3), last = p.entries - 1;
  for (let i = 0; i < n; i++) {
    let k = sample(i) - p.firstMapped;
    k = k < 0 ? 0 : k > last ? last : k;
    out[i * 3] = p.lut[0][k]; out[i * 3 + 1] = p.lut[1][k]; out[i * 3 + 2] = p.lut[2][k];
  }
  return out;
}
