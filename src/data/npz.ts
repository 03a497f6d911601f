/**
 * NumPy .npz reader: a zip of .npy entries, stored (np.savez) or deflated (np.savez_compressed).
 * Entries are decompressed on demand so listing keys or reading labels stays cheap.
 */
import { readFile } from 'node:fs/promises';
import { constants as bufferConstants } from 'node:buffer';
import { inflateSync, zipSync } from 'fflate';
import { parseNpy, writeNpy, type NpyArray } from './npy.ts';

const EOCD_SIG = 0x06054b50, EOCD64_SIG = 0x06064b50, EOCD64_LOC_SIG = 0x07064b50;
const CEN_SIG = 0x02014b50, LOC_SIG = 0x04034b50;
const CEN_SIZE = 46, LOC_SIZE = 30, EOCD_SIZE = 22;
/** DEFLATE cannot expand by more than ~1032:1, so a declared size past this is a lie (zip bomb). */
const DEFLATE_MAX_RATIO = 1032;
/** Hard cap on one decompressed entry: the largest typed array this runtime can make. */
const MAX_ENTRY_BYTES = Math.min(bufferConstants.MAX_LENGTH, Number.MAX_SAFE_INTEGER);

export interface NpzEntryInfo { key: string; name: string; compressedSize: number; size: number; compression: 'stored' | 'deflate' | number }

interface ZipEntry extends NpzEntryInfo { crc: number; localOffset: number }

const u16 = (b: Uint8Array, o: number) => b[o] | (b[o + 1] << 8);
const u32 = (b: Uint8Array, o: number) => (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;
const u64 = (b: Uint8Array, o: number) => u32(b, o) + u32(b, o + 4) * 2 ** 32; // exact below 2^53; larger values fail the bounds checks

let CRC_TABLE: Uint32Array | undefined;
function crc32(b: Uint8Array): number {
  if (!CRC_TABLE) {
    CRC_TABLE = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      CRC_TABLE[n] = c >>> 0;
    }
  }
  const t = CRC_TABLE;
  let c = 0xffffffff;
  for (let i = 0; i < b.length; i++) c = t[(c ^ b[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/**
 * Read the zip central directory with every count, offset and size checked against the archive
 * before anything is allocated or decompressed. Throws messages without the file name; the caller adds it.
 */
function readCentralDirectory(b: Uint8Array): ZipEntry[] {
  // The end-of-central-directory record is within the last 64 KiB + 22 bytes (its comment is ≤ 65535).
  let e = -1;
  for (let i = b.length - EOCD_SIZE, stop = Math.max(0, b.length - EOCD_SIZE - 0xffff); i >= stop; i--) {
    if (u32(b, i) === EOCD_SIG) { e = i; break; }
  }
  if (e < 0) throw new ZipError(`truncated or not a zip/.npz archive (no end-of-central-directory record in ${b.length} bytes); re-download or re-save the file`);
  let count = u16(b, e + 10), cdSize = u32(b, e + 12), cdOffset = u32(b, e + 16);
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    // zip64: the locator sits just before the EOCD and points at the zip64 EOCD record.
    const loc = e - 20;
    if (loc < 0 || u32(b, loc) !== EOCD64_LOC_SIG) {
      if (count === 0xffff && cdSize !== 0xffffffff && cdOffset !== 0xffffffff) { /* plain zip with exactly 65535 entries */ } else {
        throw new ZipError('zip64 archive without a zip64 end-of-central-directory locator (truncated or corrupt)');
      }
    } else {
      const z = u64(b, loc + 8);
      if (!(z + 56 <= loc) || u32(b, z) !== EOCD64_SIG) throw new ZipError('zip64 end-of-central-directory record missing or out of range (truncated or corrupt)');
      count = u64(b, z + 32); cdSize = u64(b, z + 40); cdOffset = u64(b, z + 48);
    }
  }
  if (!(cdOffset + cdSize <= b.length)) {
    throw new ZipError(`central directory (offset ${cdOffset}, ${cdSize} bytes) lies outside the ${b.length}-byte archive (truncated download?)`);
  }
  if (count * CEN_SIZE > cdSize) throw new ZipError(`directory claims ${count} entries but is only ${cdSize} bytes (corrupt)`);
  const entries: ZipEntry[] = [];
  const end = cdOffset + cdSize;
  let o = cdOffset;
  for (let i = 0; i < count; i++) {
    if (o + CEN_SIZE > end || u32(b, o) !== CEN_SIG) throw new ZipError(`central directory entry ${i} is corrupt (bad signature at byte ${o})`);
    const flags = u16(b, o + 8), method = u16(b, o + 10), crc = u32(b, o + 16);
    let compressedSize = u32(b, o + 20), size = u32(b, o + 24), localOffset = u32(b, o + 42);
    const nameLen = u16(b, o + 28), extraLen = u16(b, o + 30), commentLen = u16(b, o + 32);
    const next = o + CEN_SIZE + nameLen + extraLen + commentLen;
    if (next > end) throw new ZipError(`central directory entry ${i} runs past the directory (corrupt)`);
    const nameBytes = b.subarray(o + CEN_SIZE, o + CEN_SIZE + nameLen);
    const name = new TextDecoder(flags & 0x800 ? 'utf-8' : 'latin1').decode(nameBytes);
    if (size === 0xffffffff || compressedSize === 0xffffffff || localOffset === 0xffffffff) {
      // zip64 extra field (id 1): the 64-bit values, in this order, for the fields that are 0xffffffff.
      let x = o + CEN_SIZE + nameLen, found = false;
      const xEnd = x + extraLen;
      while (x + 4 <= xEnd) {
        const id = u16(b, x), len = u16(b, x + 2);
        if (x + 4 + len > xEnd) break;
        if (id === 1) {
          let p = x + 4;
          const take = () => { if (p + 8 > x + 4 + len) throw new ZipError(`entry '${name}': zip64 extra field too short (corrupt)`); const v = u64(b, p); p += 8; return v; };
          if (size === 0xffffffff) size = take();
          if (compressedSize === 0xffffffff) compressedSize = take();
          if (localOffset === 0xffffffff) localOffset = take();
          found = true;
          break;
        }
        x += 4 + len;
      }
      if (!found) throw new ZipError(`entry '${name}': sizes need a zip64 extra field but it is missing (corrupt)`);
    }
    if (!(localOffset + LOC_SIZE <= b.length) || !(compressedSize <= b.length)) {
      throw new ZipError(`entry '${name}': data (offset ${localOffset}, ${compressedSize} bytes) lies outside the ${b.length}-byte archive (truncated?)`);
    }
    const compression = method === 0 ? 'stored' : method === 8 ? 'deflate' : method;
    if (method === 0 && size !== compressedSize) throw new ZipError(`entry '${name}': stored entry with ${compressedSize} bytes claims ${size} (corrupt)`);
    if (method === 8 && !(size <= compressedSize * DEFLATE_MAX_RATIO + 1024 && size <= MAX_ENTRY_BYTES)) {
      throw new ZipError(`entry '${name}': ${compressedSize} compressed bytes claim to expand to ${size} (impossible for deflate: corrupt archive or zip bomb)`);
    }
    entries.push({ key: name.replace(/\.npy$/, ''), name, compressedSize, size, compression, crc, localOffset });
    o = next;
  }
  return entries;
}

class ZipError extends Error {}

export class NpzArchive {
  readonly entries: NpzEntryInfo[];
  private readonly zip: ZipEntry[];

  private constructor(readonly path: string, readonly bytes: Uint8Array) {
    try { this.zip = readCentralDirectory(bytes); } catch (e) {
      if (!(e instanceof ZipError)) throw e;
      const msg = e.message.startsWith('truncated or not a zip') ? e.message : `corrupt or truncated .npz archive while reading the zip directory: ${e.message}; re-download or re-save the file`;
      throw new Error(`${path}: ${msg}`);
    }
    this.entries = this.zip.map(({ key, name, compressedSize, size, compression }) => ({ key, name, compressedSize, size, compression }));
  }

  static async open(path: string): Promise<NpzArchive> {
    let bytes: Uint8Array;
    try { bytes = await readFile(path); } catch (e) { throw new Error(`${path}: cannot read .npz file: ${(e as Error).message}`); }
    return new NpzArchive(path, bytes);
  }

  static fromBytes(bytes: Uint8Array, name = '<npz>'): NpzArchive { return new NpzArchive(name, bytes); }

  get keys(): string[] { return this.entries.map((e) => e.key); }
  has(key: string): boolean { return this.entries.some((e) => e.key === key); }

  /** Decompress and parse one array; errors name the file and the entry. */
  get(key: string): NpyArray {
    const info = this.zip.find((e) => e.key === key);
    if (!info) throw new Error(`${this.path}: missing key '${key}' (archive has: ${this.keys.join(', ') || 'no entries'})`);
    const where = `${this.path} entry '${info.name}'`;
    if (typeof info.compression === 'number') {
      throw new Error(`${where}: unsupported zip compression method ${info.compression} (only stored and deflate); re-save with np.savez_compressed`);
    }
    const b = this.bytes, lo = info.localOffset;
    if (u32(b, lo) !== LOC_SIG) throw new Error(`${where}: local file header missing at byte ${lo} (archive truncated or corrupt)`);
    // The data starts after the *local* header's name and extra field (numpy's zip64 extras live there).
    const start = lo + LOC_SIZE + u16(b, lo + 26) + u16(b, lo + 28);
    if (start + info.compressedSize > b.length) {
      throw new Error(`${where}: entry data (${info.compressedSize} bytes at ${start}) runs past the end of the ${b.length}-byte archive (truncated)`);
    }
    const raw = b.subarray(start, start + info.compressedSize);
    let bytes: Uint8Array;
    if (info.compression === 'stored') bytes = raw;
    else {
      try { bytes = inflateSync(raw, { out: new Uint8Array(info.size) }); } catch (e) {
        throw new Error(`${where}: corrupt or truncated .npz archive while decompressing: ${(e as Error).message}; re-download or re-save the file`);
      }
    }
    if (bytes.length !== info.size) throw new Error(`${where}: expected ${info.size} bytes, got ${bytes.length} (archive truncated or corrupt)`);
    if (crc32(bytes) !== info.crc) throw new Error(`${where}: CRC-32 mismatch (archive corrupt); re-download or re-save the file`);
    return parseNpy(bytes, where);
  }
}

/** Read all (or the named) arrays of an .npz file. */
export async function readNpz(path: string, keys?: string[]): Promise<Record<string, NpyArray>> {
  const z = await NpzArchive.open(path);
  const out: Record<string, NpyArray> = {};
  for (const k of keys ?? z.keys) out[k] = z.get(k);
  return out;
}

/** Build an .npz in memory (tests, small exports). `compress` mimics np.savez_compressed. */
export function writeNpz(arrays: Record<string, NpyArray>, compress = true): Uint8Array {
  const files: Record<string, Uint8Array> = {};
  for (const [k, a] of Object.entries(arrays)) files[`${k}.npy`] = writeNpy(a);
  return zipSync(files, { level: compress ? 6 : 0 });
}
