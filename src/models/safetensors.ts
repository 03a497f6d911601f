// The safetensors format (8-byte little-endian header length, JSON header, raw little-endian
// data), enough of it for checkpoints: F32, F16 (shipped weights) and I32/U8 (optimizer/RNG state).
import fs from 'node:fs';
import { writeFileAtomic } from '../util/index.ts';

export type SafetensorsDtype = 'F32' | 'F16' | 'I32' | 'U8';
export interface NamedArray { shape: number[]; data: Float32Array | Int32Array | Uint8Array }
export type NamedArrays = Map<string, NamedArray>;

const BYTES: Record<SafetensorsDtype, number> = { F32: 4, F16: 2, I32: 4, U8: 1 };

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
/** float32 → IEEE half bits, round to nearest even; overflow to ±inf. */
export function toHalf(x: number): number {
  f32[0] = x;
  const b = u32[0]!;
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  let mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && (h & 1))) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1))) h++;
  return sign | h;
}

export function fromHalf(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 0x1f) return m ? NaN : sign * Infinity;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}

function dtypeOf(a: NamedArray['data'], requested?: SafetensorsDtype): SafetensorsDtype {
  if (a instanceof Float32Array) return requested === 'F16' ? 'F16' : 'F32';
  if (a instanceof Int32Array) return 'I32';
  return 'U8';
}

export function encodeSafetensors(tensors: NamedArrays, opts: { dtype?: SafetensorsDtype; metadata?: Record<string, string> } = {}): Uint8Array {
  const names = [...tensors.keys()].sort();
  const header: Record<string, unknown> = {};
  if (opts.metadata) header.__metadata__ = opts.metadata;
  let offset = 0;
  const layout: { name: string; dtype: SafetensorsDtype; begin: number }[] = [];
  for (const name of names) {
    const t = tensors.get(name)!;
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (n !== t.data.length) throw new Error(`safetensors: '${name}' has ${t.data.length} values but shape [${t.shape}]`);
    const dtype = dtypeOf(t.data, opts.dtype);
    const bytes = n * BYTES[dtype];
    header[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    layout.push({ name, dtype, begin: offset });
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8); // align the data section to 8 bytes
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  const dv = new DataView(out.buffer);
  dv.setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  const base = 8 + headerBytes.length;
  for (const { name, dtype, begin } of layout) {
    const data = tensors.get(name)!.data;
    const at = base + begin;
    if (dtype === 'F16') for (let i = 0; i < data.length; i++) dv.setUint16(at + 2 * i, toHalf(data[i]!), true);
    else out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), at); // x86/arm are little-endian
  }
  return out;
}

export function decodeSafetensors(buf: Uint8Array, source = 'safetensors'): { tensors: NamedArrays; metadata: Record<string, string> } {
  const bad = (why: string): never => { throw new Error(`${source}: ${why}`); };
  if (buf.length < 8) bad(`file is ${buf.length} bytes, too short to be safetensors (truncated?)`);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const hlen = Number(dv.getBigUint64(0, true));
  if (hlen > buf.length - 8) bad(`header claims ${hlen} bytes but the file has ${buf.length - 8} after the length (truncated?)`);
  let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  try {
    header = JSON.parse(new TextDecoder().decode(buf.subarray(8, 8 + hlen)));
  } catch (e) {
    return bad(`unreadable header (${(e as Error).message}); the file is corrupt`);
  }
  const base = 8 + hlen;
  const metadata = (header.__metadata__ ?? {}) as unknown as Record<string, string>;
  const tensors: NamedArrays = new Map();
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const dtype = info.dtype as SafetensorsDtype;
    if (!(dtype in BYTES)) bad(`tensor '${name}' has unsupported dtype ${info.dtype}; supported: ${Object.keys(BYTES).join(', ')}`);
    const n = info.shape.reduce((a, b) => a * b, 1);
    const [begin, end] = info.data_offsets;
    if (end - begin !== n * BYTES[dtype]) bad(`tensor '${name}' spans ${end - begin} bytes but [${info.shape}] ${dtype} needs ${n * BYTES[dtype]}`);
    if (base + end > buf.length) bad(`tensor '${name}' ends at byte ${base + end} but the file has ${buf.length} (truncated)`);
    // copy (Buffer.slice would be a view): aligned and detached from the file buffer
    const bytes = new Uint8Array(end - begin);
    bytes.set(buf.subarray(base + begin, base + end));
    let data: NamedArray['data'];
    if (dtype === 'F16') {
      const hv = new DataView(bytes.buffer);
      data = new Float32Array(n);
      for (let i = 0; i < n; i++) data[i] = fromHalf(hv.getUint16(2 * i, true));
    } else if (dtype === 'F32') data = new Float32Array(bytes.buffer);
    else if (dtype === 'I32') data = new Int32Array(bytes.buffer);
    else data = bytes;
    tensors.set(name, { shape: info.shape, data });
  }
  return { tensors, metadata };
}

export function saveSafetensors(file: string, tensors: NamedArrays, opts: { dtype?: SafetensorsDtype; metadata?: Record<string, string> } = {}): void {
  writeFileAtomic(file, encodeSafetensors(tensors, opts));
}

export function loadSafetensors(file: string): { tensors: NamedArrays; metadata: Record<string, string> } {
  let buf: Uint8Array;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    throw new Error(`cannot read weights ${file}: ${(e as Error).message}`);
  }
  return decodeSafetensors(buf, file);
}
