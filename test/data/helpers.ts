/** Test helpers: temp dirs, real-data paths, and a minimal DICOM writer. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateRawSync } from 'node:zlib';

export const DATA = fileURLToPath(new URL('../../data/', import.meta.url));
export const FIXTURES = join(DATA, 'fixtures');
export const CXR_PNG = join(FIXTURES, 'nih_cxr14_00000001_000.png');
export const CXR_PNG2 = join(FIXTURES, 'nih_cxr14_00027426_000.png');
export const DERM_JPG = join(FIXTURES, 'ham10000_ISIC_0024306.jpg');
export const DERM_JPG2 = join(FIXTURES, 'ham10000_ISIC_0024310.jpg');
export const PNEUMONIA = join(DATA, 'pneumoniamnist.npz');
export const BREAST = join(DATA, 'breastmnist.npz');

/** A fresh temp dir; call the returned cleanup in `after`. */
export function tempDir(prefix = 'meddiff-data-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export const TS = {
  implicitLE: '1.2.840.10008.1.2',
  explicitLE: '1.2.840.10008.1.2.1',
  deflatedLE: '1.2.840.10008.1.2.1.99',
  explicitBE: '1.2.840.10008.1.2.2',
  jpegBaseline: '1.2.840.10008.1.2.4.50',
  jpegExtended: '1.2.840.10008.1.2.4.51',
  jpegLossless: '1.2.840.10008.1.2.4.57',
  jpegLosslessSV1: '1.2.840.10008.1.2.4.70',
  jpegLs: '1.2.840.10008.1.2.4.80',
  jpegLsNear: '1.2.840.10008.1.2.4.81',
  j2kLossless: '1.2.840.10008.1.2.4.90',
  j2k: '1.2.840.10008.1.2.4.91',
  htj2k: '1.2.840.10008.1.2.4.201',
  htj2kRpcl: '1.2.840.10008.1.2.4.202',
  htj2kLossy: '1.2.840.10008.1.2.4.203',
  jpegXl: '1.2.840.10008.1.2.4.110',
  rle: '1.2.840.10008.1.2.5',
} as const;

const UNCOMPRESSED_TS: readonly string[] = [TS.implicitLE, TS.explicitLE, TS.deflatedLE, TS.explicitBE];

export interface DicomImageSpec {
  rows: number;
  cols: number;
  /** Stored sample values (before rescale), row-major; interleaved RGB when samplesPerPixel = 3. */
  pixels: ArrayLike<number>;
  bitsAllocated?: 8 | 16;
  bitsStored?: number;
  signed?: boolean;
  photometric?: string;
  samplesPerPixel?: 1 | 3;
  slope?: number;
  intercept?: number;
  transferSyntax?: string;
  /** PlanarConfiguration (colour only; default 0). With 1, `pixels` must already be planar (RRR…GGG…BBB…). */
  planar?: 0 | 1;
  /** NumberOfFrames (0028,0008), written when given; uncompressed `pixels` then hold every frame. */
  frames?: number;
  /**
   * Compressed transfer syntaxes: the fragments of each frame (frames[f] = fragments of frame f),
   * wrapped as encapsulated pixel data. Default: a stub JPEG (SOI, EOI).
   */
  encapsulated?: Uint8Array[][];
  /** Write the Basic Offset Table (default true when there are several frames). */
  offsetTable?: boolean;
  /** Window Center / Width (0028,1050/1051); arrays are written multi-valued. */
  windowCenter?: number | number[];
  windowWidth?: number | number[];
  /** VOI LUT Function (0028,1056). */
  voiFunction?: string;
  /**
   * PALETTE COLOR lookup tables (0028,1101–1103 descriptors: entries (0 = 65536), first mapped value,
   * bits per entry; 0028,1201–1203 data as OW, 8-bit entries packed two per word, low byte first).
   */
  palette?: { entries: number; firstMapped: number; bits: 8 | 16; red: ArrayLike<number>; green: ArrayLike<number>; blue: ArrayLike<number> };
}

type El = { group: number; elem: number; vr: string; value: Uint8Array; undefinedLength?: boolean };
const LONG_VRS = new Set(['OB', 'OW', 'OF', 'SQ', 'UT', 'UN']);
const ascii = (s: string, pad: string) => { const t = s.length % 2 ? s + pad : s; return Uint8Array.from(t, (c) => c.charCodeAt(0)); };
const us = (v: number, le: boolean) => { const b = new Uint8Array(2); new DataView(b.buffer).setUint16(0, v, le); return b; };
const ul = (v: number, le: boolean) => { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, v, le); return b; };
const cat = (parts: Uint8Array[]) => { const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0)); let o = 0; for (const p of parts) { out.set(p, o); o += p.length; } return out; };

function encode(els: El[], explicit: boolean, le: boolean): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const e of els) {
    parts.push(us(e.group, le), us(e.elem, le));
    const len = e.undefinedLength ? 0xffffffff : e.value.length;
    if (!explicit) parts.push(ul(len, le));
    else if (LONG_VRS.has(e.vr)) parts.push(ascii(e.vr, ''), new Uint8Array(2), ul(len, le));
    else parts.push(ascii(e.vr, ''), us(len, le));
    parts.push(e.value);
  }
  return cat(parts);
}

/**
 * Overwrite a US element's value in explicit VR little endian bytes from makeDicom (e.g. Rows
 * (0028,0010) to claim dimensions the pixel data cannot back). Returns the same bytes.
 */
export function patchUS(bytes: Uint8Array, group: number, elem: number, value: number): Uint8Array {
  for (let i = 132; i + 10 <= bytes.length; i++) {
    if (bytes[i] === (group & 0xff) && bytes[i + 1] === group >> 8 && bytes[i + 2] === (elem & 0xff) && bytes[i + 3] === elem >> 8 &&
      bytes[i + 4] === 0x55 && bytes[i + 5] === 0x53 && bytes[i + 6] === 2 && bytes[i + 7] === 0) {
      new DataView(bytes.buffer, bytes.byteOffset).setUint16(i + 8, value, true);
      return bytes;
    }
  }
  throw new Error(`patchUS: (${group.toString(16)},${elem.toString(16)}) US not found`);
}

function paletteElements(p: NonNullable<DicomImageSpec['palette']>, le: boolean): El[] {
  const tables = [p.red, p.green, p.blue];
  const desc = tables.map((_, c) => ({ group: 0x0028, elem: 0x1101 + c, vr: 'US', value: cat([us(p.entries % 65536, le), us(p.firstMapped & 0xffff, le), us(p.bits, le)]) }));
  const data = tables.map((t, c) => {
    let bytes = p.bits === 8 ? Uint8Array.from(t, (v) => v & 0xff) : cat(Array.from(t, (v) => us(v, le)));
    if (bytes.length % 2) bytes = cat([bytes, new Uint8Array(1)]);
    return { group: 0x0028, elem: 0x1201 + c, vr: 'OW', value: bytes };
  });
  return [...desc, ...data];
}

/** Write a Part 10 DICOM file (bytes) holding one image; enough tags for decodeDicom. */
export function makeDicom(spec: DicomImageSpec): Uint8Array {
  const ts = spec.transferSyntax ?? TS.explicitLE;
  const le = ts !== TS.explicitBE, explicit = ts !== TS.implicitLE;
  const ba = spec.bitsAllocated ?? 16, spp = spec.samplesPerPixel ?? 1;
  const compressed = !UNCOMPRESSED_TS.includes(ts);
  let pixelEl: El;
  if (compressed) {
    // Encapsulated: offset table item (empty unless asked), the fragments (even lengths), sequence delimiter.
    const frames = spec.encapsulated ?? [[Uint8Array.from([0xff, 0xd8, 0xff, 0xd9])]];
    const item = (b: Uint8Array) => cat([us(0xfffe, true), us(0xe000, true), ul(b.length, true), b]);
    const even = (b: Uint8Array) => (b.length % 2 ? cat([b, new Uint8Array(1)]) : b);
    const frameItems = frames.map((fr) => cat(fr.map((f) => item(even(f)))));
    const offsets: number[] = [];
    let off = 0;
    for (const fi of frameItems) { offsets.push(off); off += fi.length; }
    const withTable = spec.offsetTable ?? frames.length > 1;
    const table = withTable ? cat(offsets.map((o) => ul(o, true))) : new Uint8Array(0);
    const items = cat([item(table), ...frameItems, us(0xfffe, true), us(0xe0dd, true), ul(0, true)]);
    pixelEl = { group: 0x7fe0, elem: 0x0010, vr: 'OB', value: items, undefinedLength: true };
  } else {
    const n = spec.rows * spec.cols * spp * (spec.frames ?? 1);
    let pixelBytes = new Uint8Array(n * (ba / 8));
    const dv = new DataView(pixelBytes.buffer);
    for (let i = 0; i < n; i++) {
      const v = spec.pixels[i];
      if (ba === 8) dv.setUint8(i, v & 0xff); else dv.setUint16(i * 2, v & 0xffff, le);
    }
    if (pixelBytes.length % 2) pixelBytes = cat([pixelBytes, new Uint8Array(1)]);
    pixelEl = { group: 0x7fe0, elem: 0x0010, vr: ba === 8 ? 'OB' : 'OW', value: pixelBytes };
  }
  const sopClass = '1.2.840.10008.5.1.4.1.1.7'; // Secondary Capture
  const body: El[] = [
    { group: 0x0008, elem: 0x0016, vr: 'UI', value: ascii(sopClass, '\0') },
    { group: 0x0028, elem: 0x0002, vr: 'US', value: us(spp, le) },
    { group: 0x0028, elem: 0x0004, vr: 'CS', value: ascii(spec.photometric ?? (spp === 3 ? 'RGB' : 'MONOCHROME2'), ' ') },
    ...(spp === 3 ? [{ group: 0x0028, elem: 0x0006, vr: 'US', value: us(spec.planar ?? 0, le) }] : []),
    ...(spec.frames !== undefined || (spec.encapsulated?.length ?? 0) > 1
      ? [{ group: 0x0028, elem: 0x0008, vr: 'IS', value: ascii(String(spec.frames ?? spec.encapsulated?.length), ' ') }] : []),
    { group: 0x0028, elem: 0x0010, vr: 'US', value: us(spec.rows, le) },
    { group: 0x0028, elem: 0x0011, vr: 'US', value: us(spec.cols, le) },
    { group: 0x0028, elem: 0x0100, vr: 'US', value: us(ba, le) },
    { group: 0x0028, elem: 0x0101, vr: 'US', value: us(spec.bitsStored ?? ba, le) },
    { group: 0x0028, elem: 0x0102, vr: 'US', value: us((spec.bitsStored ?? ba) - 1, le) },
    { group: 0x0028, elem: 0x0103, vr: 'US', value: us(spec.signed ? 1 : 0, le) },
    ...(spec.windowCenter !== undefined ? [{ group: 0x0028, elem: 0x1050, vr: 'DS', value: ascii([spec.windowCenter].flat().join('\\'), ' ') }] : []),
    ...(spec.windowWidth !== undefined ? [{ group: 0x0028, elem: 0x1051, vr: 'DS', value: ascii([spec.windowWidth].flat().join('\\'), ' ') }] : []),
    ...(spec.intercept !== undefined ? [{ group: 0x0028, elem: 0x1052, vr: 'DS', value: ascii(String(spec.intercept), ' ') }] : []),
    ...(spec.slope !== undefined ? [{ group: 0x0028, elem: 0x1053, vr: 'DS', value: ascii(String(spec.slope), ' ') }] : []),
    ...(spec.voiFunction !== undefined ? [{ group: 0x0028, elem: 0x1056, vr: 'CS', value: ascii(spec.voiFunction, ' ') }] : []),
    ...(spec.palette ? paletteElements(spec.palette, le) : []),
    pixelEl,
  ];
  let dataset = encode(body, explicit, le);
  if (ts === TS.deflatedLE) dataset = deflateRawSync(dataset);
  const metaEls: El[] = [
    { group: 0x0002, elem: 0x0001, vr: 'OB', value: Uint8Array.from([0, 1]) },
    { group: 0x0002, elem: 0x0002, vr: 'UI', value: ascii(sopClass, '\0') },
    { group: 0x0002, elem: 0x0003, vr: 'UI', value: ascii('1.2.3.4.5.6.7', '\0') },
    { group: 0x0002, elem: 0x0010, vr: 'UI', value: ascii(ts, '\0') },
    { group: 0x0002, elem: 0x0012, vr: 'UI', value: ascii('1.2.3.4', '\0') },
  ];
  const meta = encode(metaEls, true, true); // file meta is always explicit VR little endian
  const groupLen = encode([{ group: 0x0002, elem: 0x0000, vr: 'UL', value: ul(meta.length, true) }], true, true);
  return cat([new Uint8Array(128), ascii('DICM', ''), groupLen, meta, dataset]);
}
