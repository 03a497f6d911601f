/**
 * NumPy .npz reader: a zip of .npy entries, stored (np.savez) or deflated (np.savez_compressed).
 * Entries are decompressed on demand so listing keys or reading labels stays cheap.
 */
import { readFile } from 'node:fs/promises';
import { unzipSync, zipSync, type UnzipFileInfo } from 'fflate';
import { parseNpy, writeNpy, type NpyArray } from './npy.ts';

const EOCD_SIG = 0x06054b50;

/** True when the end-of-central-directory record exists (absent => truncated download or not a zip). */
function hasEndOfCentralDirectory(b: Uint8Array): boolean {
  const stop = Math.max(0, b.length - 22 - 0xffff); // EOCD is within the last 64 KiB + 22 bytes
  for (let i = b.length - 22; i >= stop; i--) {
    if (((b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24)) >>> 0) === EOCD_SIG) return true;
  }
  return false;
}

export interface NpzEntryInfo { key: string; name: string; compressedSize: number; size: number; compression: 'stored' | 'deflate' | number }

export class NpzArchive {
  readonly entries: NpzEntryInfo[];

  private constructor(readonly path: string, readonly bytes: Uint8Array) {
    if (!hasEndOfCentralDirectory(bytes)) {
      throw new Error(`${path}: truncated or not a zip/.npz archive (no end-of-central-directory record in ${bytes.length} bytes); ` +
        're-download or re-save the file');
    }
    const entries: NpzEntryInfo[] = [];
    this.unzip((f) => {
      entries.push({
        key: f.name.replace(/\.npy$/, ''), name: f.name, compressedSize: f.size, size: f.originalSize,
        compression: f.compression === 0 ? 'stored' : f.compression === 8 ? 'deflate' : f.compression,
      });
      return false;
    }, 'reading the zip directory');
    this.entries = entries;
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
    const info = this.entries.find((e) => e.key === key);
    if (!info) throw new Error(`${this.path}: missing key '${key}' (archive has: ${this.keys.join(', ') || 'no entries'})`);
    const where = `${this.path} entry '${key}.npy'`;
    if (typeof info.compression === 'number') {
      throw new Error(`${where}: unsupported zip compression method ${info.compression} (only stored and deflate); re-save with np.savez_compressed`);
    }
    const name = info.name;
    const files = this.unzip((f) => f.name === name, `decompressing entry '${key}.npy'`);
    const bytes = files[name];
    if (!bytes) throw new Error(`${where}: entry could not be extracted (archive truncated or corrupt?)`);
    if (bytes.length !== info.size) throw new Error(`${where}: expected ${info.size} bytes, got ${bytes.length} (archive truncated or corrupt)`);
    return parseNpy(bytes, where);
  }

  private unzip(filter: (f: UnzipFileInfo) => boolean, doing: string): Record<string, Uint8Array> {
    try { return unzipSync(this.bytes, { filter }); } catch (e) {
      throw new Error(`${this.path}: corrupt or truncated .npz archive while ${doing}: ${(e as Error).message}; re-download or re-save the file`);
    }
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
