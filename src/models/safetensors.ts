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
    if (name === '__metadata__') throw new Error(`safetensors: '__metadata__' is reserved and cannot name a tensor`);
    const t = tensors.get(name)!;
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (n !== t.data.length) throw new Error(`safetensors: '${name}' has ${t.data.length} values but shape [${t.shape}]`);
    const dtype = dtypeOf(t.data, opts.dtype);
    const bytes = n * BYTES[dtype];
    header[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    layout.push({ name, dtype, begin: offset });
    offset += bytes;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerBytes = new Uint8Array(json.length + ((8 - (json.length % 8)) % 8)).fill(0x20); // align the data section to 8 bytes
  headerBytes.set(json);
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

/** The safetensors reference implementation refuses headers over 100 MB; so does this one. */
export const SAFETENSORS_MAX_HEADER_BYTES = 100_000_000;

/** A short, printable excerpt of an untrusted value for error messages. */
function show(v: unknown, max = 80): string {
  let t: string;
  try { t = JSON.stringify(v) ?? String(v); } catch { t = String(v); }
  return t.length > max ? `${t.slice(0, max)}…` : t;
}

/**
 * Parse safetensors bytes. Everything the header claims is checked before any tensor is
 * allocated: the header length against the file, each dtype, shape × dtype size against the
 * tensor's byte span, and the spans themselves (in bounds, contiguous from 0 with no gaps or
 * overlaps, ending exactly at the end of the file, as the format requires).
 */
export function decodeSafetensors(buf: Uint8Array, source = 'safetensors'): { tensors: NamedArrays; metadata: Record<string, string> } {
  const bad = (why: string): never => { throw new Error(`${source}: ${why}`); };
  if (buf.length < 8) bad(`file is ${buf.length} bytes, too short to be safetensors (truncated?)`);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const hlen64 = dv.getBigUint64(0, true);
  if (hlen64 > BigInt(buf.length - 8)) bad(`header claims ${hlen64} bytes but the file has ${buf.length - 8} after the length (truncated, or not safetensors)`);
  const hlen = Number(hlen64);
  if (hlen > SAFETENSORS_MAX_HEADER_BYTES) bad(`header is ${hlen} bytes, over the ${SAFETENSORS_MAX_HEADER_BYTES}-byte limit (corrupt?)`);
  if (hlen < 2 || buf[8] !== 0x7b) bad(`header does not start with '{' (not a safetensors file, or corrupt)`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(8, 8 + hlen)));
  } catch (e) {
    return bad(`unreadable header (${(e as Error).message}); the file is corrupt`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) return bad(`header is not a JSON object; the file is corrupt`);
  const base = 8 + hlen;
  const dataBytes = buf.length - base;

  const entries = Object.entries(header as Record<string, unknown>);
  let metadata: Record<string, string> = {};
  const layout: { name: string; dtype: SafetensorsDtype; shape: number[]; n: number; begin: number; end: number }[] = [];
  for (const [name, info] of entries) {
    if (name === '__metadata__') {
      if (typeof info !== 'object' || info === null || Array.isArray(info)) bad(`__metadata__ must be an object of strings, got ${show(info)}`);
      for (const [k, v] of Object.entries(info as Record<string, unknown>)) {
        if (typeof v !== 'string') bad(`__metadata__ '${show(k).slice(1, -1)}' must be a string, got ${show(v)}`);
      }
      metadata = info as Record<string, string>;
      continue;
    }
    const t = `tensor '${show(name).slice(1, -1)}'`;
    if (typeof info !== 'object' || info === null || Array.isArray(info)) bad(`${t}: entry must be an object with dtype, shape and data_offsets, got ${show(info)}`);
    const { dtype, shape, data_offsets: offsets } = info as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof dtype !== 'string' || !Object.hasOwn(BYTES, dtype)) bad(`${t} has unsupported dtype ${show(dtype)}; supported: ${Object.keys(BYTES).join(', ')}`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) bad(`${t}: shape must be a list of non-negative integers, got ${show(shape)}`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      bad(`${t}: data_offsets must be [begin, end] byte offsets, got ${show(offsets)}`);
    }
    const dims = shape as number[];
    const [begin, end] = offsets as [number, number];
    const n = dims.reduce((a, b) => a * b, 1);
    const size = BYTES[dtype as SafetensorsDtype];
    if (!Number.isSafeInteger(n * size) || end - begin !== n * size) {
      bad(`${t} spans ${end - begin} bytes but [${dims}] ${dtype} needs ${n * size}`);
    }
    if (end > dataBytes) bad(`${t} ends at byte ${base + end} but the file has ${buf.length} (truncated)`);
    layout.push({ name, dtype: dtype as SafetensorsDtype, shape: dims, n, begin, end });
  }
  // The format lays tensors out back to back: sorted by offset they must tile [0, data size).
  const sorted = [...layout].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = 0;
  for (const e of sorted) {
    if (e.begin !== at) {
      bad(e.begin < at ? `tensor '${show(e.name).slice(1, -1)}' (bytes ${e.begin}..${e.end}) overlaps the tensor before it (corrupt header)`
        : `gap before tensor '${show(e.name).slice(1, -1)}': bytes ${at}..${e.begin} belong to no tensor (corrupt header)`);
    }
    at = e.end;
  }
  if (at !== dataBytes) bad(`tensors cover ${at} data bytes but the file has ${dataBytes} after the header (trailing bytes: corrupt or not one safetensors file)`);

  const tensors: NamedArrays = new Map();
  for (const { name, dtype, shape, n, begin, end } of layout) {
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
    tensors.set(name, { shape, data });
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
