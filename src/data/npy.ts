/**
 * NumPy .npy reader (format versions 1.0, 2.0, 3.0). Only C-order, little-endian (or
 * byte-sized) arrays of the dtypes MedMNIST-style archives use are supported.
 */

export type NpyDtype = '|u1' | '|i1' | '|b1' | '<u2' | '<i2' | '<u4' | '<i4' | '<i8' | '<u8' | '<f4' | '<f8';
export type NpyData = Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array
  | BigInt64Array | BigUint64Array | Float32Array | Float64Array;

export interface NpyArray {
  dtype: NpyDtype;
  shape: number[];
  /** Row-major (C order) element data; `|b1` is returned as 0/1 bytes. */
  data: NpyData;
}

const DTYPES: Record<NpyDtype, { size: number; make: (buf: ArrayBuffer, off: number, n: number) => NpyData }> = {
  '|u1': { size: 1, make: (b, o, n) => new Uint8Array(b, o, n) },
  '|b1': { size: 1, make: (b, o, n) => new Uint8Array(b, o, n) },
  '|i1': { size: 1, make: (b, o, n) => new Int8Array(b, o, n) },
  '<u2': { size: 2, make: (b, o, n) => new Uint16Array(b, o, n) },
  '<i2': { size: 2, make: (b, o, n) => new Int16Array(b, o, n) },
  '<u4': { size: 4, make: (b, o, n) => new Uint32Array(b, o, n) },
  '<i4': { size: 4, make: (b, o, n) => new Int32Array(b, o, n) },
  '<u8': { size: 8, make: (b, o, n) => new BigUint64Array(b, o, n) },
  '<i8': { size: 8, make: (b, o, n) => new BigInt64Array(b, o, n) },
  '<f4': { size: 4, make: (b, o, n) => new Float32Array(b, o, n) },
  '<f8': { size: 8, make: (b, o, n) => new Float64Array(b, o, n) },
};

// Aliases numpy writes on a little-endian machine for byte-sized or native types.
const ALIASES: Record<string, NpyDtype> = { '<u1': '|u1', '<i1': '|i1', '<b1': '|b1', '|u1': '|u1', '|i1': '|i1', '|b1': '|b1', '=u1': '|u1' };

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/**
 * Largest header accepted. numpy itself refuses headers over 10,000 bytes unless told otherwise;
 * the dtypes read here never need more than a few hundred, so anything past this is corrupt.
 */
export const NPY_MAX_HEADER_BYTES = 1 << 20;

/** A short, printable excerpt of untrusted text for error messages. */
function excerpt(text: string, max = 160): string {
  const t = text.trim();
  return JSON.stringify(t.length > max ? `${t.slice(0, max)}…` : t);
}

export interface NpyHeader { dtype: NpyDtype; shape: number[]; fortranOrder: boolean; dataOffset: number; version: [number, number] }

/** Parse the header; `where` names the file/entry in error messages. */
export function parseNpyHeader(bytes: Uint8Array, where = '<npy>'): NpyHeader {
  const bad = (why: string) => new Error(`${where}: bad .npy header: ${why}`);
  if (bytes.length < 10 || MAGIC.some((m, i) => bytes[i] !== m)) throw bad('missing \\x93NUMPY magic (not a .npy file, or truncated)');
  const major = bytes[6], minor = bytes[7];
  let headerLen: number, start: number;
  if (major === 1) { headerLen = bytes[8] | (bytes[9] << 8); start = 10; }
  else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw bad('truncated before header length');
    headerLen = (bytes[8] | (bytes[9] << 8) | (bytes[10] << 16) | (bytes[11] << 24)) >>> 0; start = 12;
  } else throw bad(`unsupported format version ${major}.${minor} (supported: 1.0, 2.0, 3.0)`);
  if (headerLen > NPY_MAX_HEADER_BYTES) throw bad(`header length ${headerLen} bytes exceeds the ${NPY_MAX_HEADER_BYTES}-byte limit (corrupt file?)`);
  if (start + headerLen > bytes.length) throw bad(`header says ${headerLen} bytes but only ${bytes.length - start} are present (truncated)`);
  // v1/v2 headers are latin1, v3 is utf8; the fields we read are ASCII either way.
  const text = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(start, start + headerLen));

  const descr = /['"]descr['"]\s*:\s*['"]([^'"]+)['"]/.exec(text)?.[1];
  const fortran = /['"]fortran_order['"]\s*:\s*(True|False)/.exec(text)?.[1];
  const shapeText = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(text)?.[1];
  if (descr === undefined) throw bad(`no 'descr' in ${excerpt(text)}`);
  if (fortran === undefined) throw bad(`no 'fortran_order' in ${excerpt(text)}`);
  if (shapeText === undefined) throw bad(`no 'shape' tuple in ${excerpt(text)}`);
  const shape = shapeText.split(',').map((s) => s.trim()).filter((s) => s !== '').map((s) => {
    // Plain decimal only (Python 2 wrote longs as 123L); Number() would also take '0x10' or '1e3'.
    const n = /^\d+L?$/.test(s) ? Number(s.replace(/L$/, '')) : NaN;
    if (!Number.isSafeInteger(n)) throw bad(`invalid dimension ${excerpt(s, 40)} in shape (${excerpt(shapeText, 80).slice(1, -1)})`);
    return n;
  });
  if (shape.length > 64) throw bad(`shape has ${shape.length} dimensions (numpy allows at most 64)`);
  const dtype = (Object.hasOwn(ALIASES, descr) ? ALIASES[descr] : descr) as NpyDtype;
  if (!Object.hasOwn(DTYPES, dtype)) {
    const hint = descr.startsWith('>') ? '; big-endian arrays are not supported: save with arr.astype(arr.dtype.newbyteorder("<"))' : '';
    throw bad(`unsupported dtype '${excerpt(descr, 40).slice(1, -1)}' (supported: ${Object.keys(DTYPES).join(' ')})${hint}`);
  }
  return { dtype, shape, fortranOrder: fortran === 'True', dataOffset: start + headerLen, version: [major, minor] };
}

/** Parse a whole .npy file. The result may share memory with `bytes` (no copy when aligned). */
export function parseNpy(bytes: Uint8Array, where = '<npy>'): NpyArray {
  const h = parseNpyHeader(bytes, where);
  if (h.fortranOrder) {
    throw new Error(`${where}: array is stored in Fortran order (fortran_order: True), which is not supported; ` +
      `re-save it in C order, e.g. np.save(path, np.ascontiguousarray(arr))`);
  }
  const { size, make } = DTYPES[h.dtype];
  const count = h.shape.reduce((a, b) => a * b, 1);
  const nbytes = count * size;
  const have = bytes.length - h.dataOffset;
  // Checked before any allocation: the shape must fit the bytes that are actually there.
  if (!Number.isSafeInteger(nbytes) || have < nbytes) {
    throw new Error(`${where}: truncated .npy data: shape (${h.shape.join(', ')}) ${h.dtype} needs ${nbytes} bytes, found ${have}`);
  }
  const abs = bytes.byteOffset + h.dataOffset;
  // Typed arrays need element-aligned offsets; copy only when the source is misaligned.
  const data = abs % size === 0
    ? make(bytes.buffer as ArrayBuffer, abs, count)
    : make(bytes.slice(h.dataOffset, h.dataOffset + nbytes).buffer as ArrayBuffer, 0, count);
  return { dtype: h.dtype, shape: h.shape, data };
}

/** Copy any numeric npy data into a Float64-safe number array view (bigints converted, checked). */
export function npyToNumbers(arr: NpyArray, where = '<npy>'): ArrayLike<number> {
  const d = arr.data;
  if (d instanceof BigInt64Array || d instanceof BigUint64Array) {
    const out = new Float64Array(d.length);
    for (let i = 0; i < d.length; i++) {
      const v = Number(d[i]);
      if (!Number.isSafeInteger(v)) throw new Error(`${where}: value ${d[i]} at index ${i} does not fit a safe integer`);
      out[i] = v;
    }
    return out;
  }
  return d as ArrayLike<number>;
}

/** Serialise an array as .npy v1.0 (used by tests and for exporting small arrays). */
export function writeNpy(arr: NpyArray, fortranOrder = false): Uint8Array {
  const shape = arr.shape.length === 1 ? `(${arr.shape[0]},)` : `(${arr.shape.join(', ')})`;
  let header = `{'descr': '${arr.dtype}', 'fortran_order': ${fortranOrder ? 'True' : 'False'}, 'shape': ${shape}, }`;
  const pad = 64 - ((10 + header.length + 1) % 64);
  header += ' '.repeat(pad % 64) + '\n';
  if (header.length > 0xffff) throw new Error(`writeNpy: header for shape (${arr.shape.join(', ')}) is too long for format 1.0`);
  const count = arr.shape.reduce((a, b) => a * b, 1);
  if (count !== arr.data.length) throw new Error(`writeNpy: shape (${arr.shape.join(', ')}) needs ${count} values but data has ${arr.data.length}`);
  const data = new Uint8Array(arr.data.buffer, arr.data.byteOffset, arr.data.byteLength);
  const out = new Uint8Array(10 + header.length + data.length);
  out.set(MAGIC, 0); out[6] = 1; out[7] = 0;
  out[8] = header.length & 0xff; out[9] = header.length >> 8;
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  out.set(data, 10 + header.length);
  return out;
}
