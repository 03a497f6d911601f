/**
 * The parsers under fuzz: how to build valid seed files, run one input, check a result is
 * well-formed, and mutate structure-aware (headers re-encoded with a consistent length).
 * Shared by test/fuzz/*.test.ts (fast-check) and scripts/fuzz.mjs (100k-input runs).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { zipSync } from 'fflate';
import sharp from 'sharp';
import { parseNpy, npyToNumbers, writeNpy, NpzArchive, writeNpz, medmnistFromArchive, parseCsv, readCsvManifest, decodeImage, type NpyArray } from '../../src/data/index.ts';
import { encodeSafetensors, decodeSafetensors, type NamedArrays } from '../../src/models/safetensors.ts';
import { loadCalibration, saveCalibration } from '../../src/pipeline/calibration.ts';
import { mahalanobis } from '../../src/stats/index.ts';
import { makeDicom, TS } from '../data/helpers.ts';
import { applyOps, randomOps, randomBytes, mutateJsonTree, randomJson, INTERESTING } from './mutate.ts';

/** Errors the runtime throws from deep inside (a bad index, a bad length, JSON.parse): a parser must wrap them. */
const BUILTIN_ERRORS = [TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError];

export type Outcome = 'ok' | 'clear' | 'crash';

export interface Classified { outcome: Outcome; kind?: string; message?: string }

/**
 * ok: returned a well-formed result. clear: threw an Error (not a TypeError/RangeError/SyntaxError
 * from deep inside) whose message names the input. Anything else is a crash.
 */
export function classifyError(e: unknown, name: string): Classified {
  if (!(e instanceof Error)) return { outcome: 'crash', kind: 'non-Error throw', message: String(e).slice(0, 200) };
  const msg = e.message.split('\n')[0].slice(0, 300);
  if (BUILTIN_ERRORS.some((C) => e instanceof C)) return { outcome: 'crash', kind: `${e.name} escaped`, message: msg };
  if (!e.message.includes(name)) return { outcome: 'crash', kind: 'Error not naming the input', message: msg };
  return { outcome: 'clear' };
}

export interface Target {
  name: string;
  async: boolean;
  /** Valid example files (mutation seeds). */
  seeds(): Promise<Uint8Array[]>;
  /** Run the parser on one input; `label` must appear in any error. Throws if the result is malformed (reported as a crash). */
  run(bytes: Uint8Array, label: string): unknown | Promise<unknown>;
  /** Structure-aware mutation of a seed (header fields changed, lengths kept consistent). */
  structured?(seed: Uint8Array, r: () => number): Uint8Array;
  /** Free resources (temp dirs). */
  close?(): void;
  /** Per-input time limit of the suite's property tests, when the target needs more than LIMIT_MS. */
  limitMs?: number;
  /** Run once before the timed inputs (start workers, load codecs), so start-up is not counted as a hang. */
  warmUp?(seeds: Uint8Array[]): Promise<void>;
}

class Malformed extends Error {}
const fail = (why: string): never => { throw new Malformed(`malformed result: ${why}`); };
const product = (s: number[]) => s.reduce((a, b) => a * b, 1);

function checkNpy(a: NpyArray): void {
  if (!Array.isArray(a.shape) || !a.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) fail(`shape ${a.shape}`);
  if (a.data.length !== product(a.shape)) fail(`data has ${a.data.length} values for shape (${a.shape})`);
}

const enc = new TextEncoder(), dec = new TextDecoder();

// ---------------------------------------------------------------- npy

function npyWithHeader(major: number, header: string, data: Uint8Array): Uint8Array {
  const h = enc.encode(header);
  const lenBytes = major === 1 ? 2 : 4;
  const out = new Uint8Array(8 + lenBytes + h.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, major, 0]);
  const dv = new DataView(out.buffer);
  if (major === 1) dv.setUint16(8, h.length, true); else dv.setUint32(8, h.length, true);
  out.set(h, 8 + lenBytes); out.set(data, 8 + lenBytes + h.length);
  return out;
}

const NPY_SEEDS: NpyArray[] = [
  { dtype: '|u1', shape: [2, 3, 4], data: Uint8Array.from({ length: 24 }, (_, i) => i * 7) },
  { dtype: '<f4', shape: [5], data: Float32Array.from([1.5, -2, 0, 1e30, NaN]) },
  { dtype: '<i8', shape: [3, 1], data: BigInt64Array.from([1n, -2n, 2n ** 60n]) },
  { dtype: '<u2', shape: [], data: Uint16Array.from([9]) },
  { dtype: '|b1', shape: [0, 4], data: new Uint8Array(0) },
  { dtype: '<f8', shape: [2, 2], data: Float64Array.from([Math.PI, -1, 0, 2]) },
  { dtype: '<i4', shape: [4], data: Int32Array.from([0, -1, 2 ** 31 - 1, -(2 ** 31)]) },
];

function npyStructured(seed: Uint8Array, r: () => number): Uint8Array {
  const descrs = ['|u1', '<f4', '<i8', '>f4', '|O', '<u8', '<f2', 'x'.repeat(Math.floor(r() * 30)), '|b1', '<c8', "'", '__proto__', 'constructor'];
  const dims = () => [INTERESTING[Math.floor(r() * INTERESTING.length)], Math.floor(r() * 30), -1, 2 ** 53, '1e3', '0x10', '3L', ' ', '', 1e21][Math.floor(r() * 10)];
  const shape = Array.from({ length: Math.floor(r() * 5) }, dims);
  const fields = [
    `'descr': '${descrs[Math.floor(r() * descrs.length)]}'`,
    `'fortran_order': ${r() < 0.8 ? 'False' : r() < 0.5 ? 'True' : 'maybe'}`,
    `'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''})`,
  ].filter(() => r() < 0.93);
  if (r() < 0.2) fields.reverse();
  let header = `{${fields.join(', ')}, }`;
  if (r() < 0.1) header = header.repeat(1 + Math.floor(r() * 50));
  header += ' '.repeat(Math.floor(r() * 70)) + '\n';
  const dataStart = seed.length > 10 ? 10 + (seed[8] | (seed[9] << 8)) : seed.length;
  let data = seed.subarray(Math.min(dataStart, seed.length));
  if (r() < 0.3) data = data.subarray(0, Math.floor(r() * data.length));
  const major = [1, 1, 2, 3, 4][Math.floor(r() * 5)];
  return npyWithHeader(major, header, data);
}

export const npyTarget: Target = {
  name: 'npy', async: false,
  async seeds() {
    const out = NPY_SEEDS.map((a) => writeNpy(a));
    out.push(npyWithHeader(2, "{'descr': '<u2', 'fortran_order': False, 'shape': (3,), }\n", new Uint8Array(6)));
    out.push(npyWithHeader(3, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), }          \n", new Uint8Array(8)));
    return out;
  },
  run(bytes, label) {
    const a = parseNpy(bytes, label);
    checkNpy(a);
    npyToNumbers(a, label);
    return a;
  },
  structured: npyStructured,
};

// ---------------------------------------------------------------- npz

function medmnistLike(n: number, h: number, labels: number[], rgb = false): Record<string, NpyArray> {
  const shape = rgb ? [n, h, h, 3] : [n, h, h];
  const img = (k: number) => ({ dtype: '|u1' as const, shape, data: Uint8Array.from({ length: product(shape) }, (_, i) => (i * 31 + k) & 0xff) });
  const lab = () => ({ dtype: '<i8' as const, shape: [n, 1], data: BigInt64Array.from(labels.slice(0, n).map(BigInt)) });
  return { train_images: img(1), train_labels: lab(), val_images: img(2), val_labels: lab(), test_images: img(3), test_labels: lab() };
}

/** A hand-written zip64 archive (numpy's savez forces zip64 local headers; large archives use zip64 everywhere). */
function zip64Archive(name: string, content: Uint8Array): Uint8Array {
  const nm = enc.encode(name);
  const crc = crc32(content);
  const localExtra = new Uint8Array(20); const lx = new DataView(localExtra.buffer);
  lx.setUint16(0, 1, true); lx.setUint16(2, 16, true); lx.setBigUint64(4, BigInt(content.length), true); lx.setBigUint64(12, BigInt(content.length), true);
  const local = new Uint8Array(30 + nm.length + localExtra.length); const l = new DataView(local.buffer);
  l.setUint32(0, 0x04034b50, true); l.setUint16(4, 45, true); l.setUint32(14, crc, true);
  l.setUint32(18, 0xffffffff, true); l.setUint32(22, 0xffffffff, true); l.setUint16(26, nm.length, true); l.setUint16(28, localExtra.length, true);
  local.set(nm, 30); local.set(localExtra, 30 + nm.length);
  const cenExtra = new Uint8Array(28); const cx = new DataView(cenExtra.buffer);
  cx.setUint16(0, 1, true); cx.setUint16(2, 24, true);
  cx.setBigUint64(4, BigInt(content.length), true); cx.setBigUint64(12, BigInt(content.length), true); cx.setBigUint64(20, 0n, true);
  const cen = new Uint8Array(46 + nm.length + cenExtra.length); const c = new DataView(cen.buffer);
  c.setUint32(0, 0x02014b50, true); c.setUint16(4, 45, true); c.setUint16(6, 45, true); c.setUint32(16, crc, true);
  c.setUint32(20, 0xffffffff, true); c.setUint32(24, 0xffffffff, true); c.setUint16(28, nm.length, true); c.setUint16(30, cenExtra.length, true);
  c.setUint32(42, 0xffffffff, true);
  cen.set(nm, 46); cen.set(cenExtra, 46 + nm.length);
  const cdOffset = local.length + content.length;
  const eocd64 = new Uint8Array(56); const e6 = new DataView(eocd64.buffer);
  e6.setUint32(0, 0x06064b50, true); e6.setBigUint64(4, 44n, true); e6.setUint16(12, 45, true); e6.setUint16(14, 45, true);
  e6.setBigUint64(24, 1n, true); e6.setBigUint64(32, 1n, true); e6.setBigUint64(40, BigInt(cen.length), true); e6.setBigUint64(48, BigInt(cdOffset), true);
  const loc = new Uint8Array(20); const lc = new DataView(loc.buffer);
  lc.setUint32(0, 0x07064b50, true); lc.setBigUint64(8, BigInt(cdOffset + cen.length), true); lc.setUint32(16, 1, true);
  const eocd = new Uint8Array(22); const e = new DataView(eocd.buffer);
  e.setUint32(0, 0x06054b50, true); e.setUint16(8, 0xffff, true); e.setUint16(10, 0xffff, true); e.setUint32(12, 0xffffffff, true); e.setUint32(16, 0xffffffff, true);
  const parts = [local, content, cen, eocd64, loc, eocd];
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0; for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

function crc32(b: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < b.length; i++) { c ^= b[i]; for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1; }
  return (c ^ 0xffffffff) >>> 0;
}

/** Overwrite size/offset/count fields of zip records with interesting values. */
function npzStructured(seed: Uint8Array, r: () => number): Uint8Array {
  const b = Uint8Array.from(seed);
  const dv = new DataView(b.buffer);
  const sigs: [number, number[]][] = [
    [0x04034b50, [14, 18, 22, 26, 28]], [0x02014b50, [16, 20, 24, 28, 30, 32, 42]], [0x06054b50, [8, 10, 12, 16, 20]],
    [0x06064b50, [24, 32, 40, 48]], [0x07064b50, [8]],
  ];
  const found: [number, number[]][] = [];
  for (let i = 0; i + 4 <= b.length; i++) for (const [sig, fields] of sigs) if (dv.getUint32(i, true) === sig) found.push([i, fields]);
  const k = 1 + Math.floor(r() * 3);
  for (let j = 0; j < k && found.length; j++) {
    const [at, fields] = found[Math.floor(r() * found.length)];
    const f = at + fields[Math.floor(r() * fields.length)];
    const v = r() < 0.8 ? INTERESTING[Math.floor(r() * INTERESTING.length)] : Math.floor(r() * b.length);
    if (f + 4 <= b.length) dv.setUint32(f, v >>> 0, true);
    else if (f + 2 <= b.length) dv.setUint16(f, v & 0xffff, true);
  }
  return b;
}

export const npzTarget: Target = {
  name: 'npz', async: false,
  async seeds() {
    const a = medmnistLike(3, 4, [0, 1, 1]);
    const rgb = medmnistLike(2, 3, [2, 0], true);
    return [
      writeNpz(a, true), writeNpz(a, false), writeNpz(rgb, true),
      writeNpz({ x: NPY_SEEDS[1], y: NPY_SEEDS[2] }, true),
      zipSync({ 'train_images.npy': writeNpy(a.train_images), 'train_labels.npy': writeNpy(a.train_labels) }, { level: 9, comment: 'c' }),
      zip64Archive('x.npy', writeNpy(NPY_SEEDS[0])),
    ];
  },
  run(bytes, label) {
    const z = NpzArchive.fromBytes(bytes, label);
    if (!Array.isArray(z.entries)) fail('entries');
    for (const k of z.keys) checkNpy(z.get(k));
    try { medmnistFromArchive(z); } catch (e) {
      // The archive parsed; the MedMNIST layer must also fail clearly.
      const c = classifyError(e, label);
      if (c.outcome !== 'clear') throw e;
    }
    return z;
  },
  structured(seed, r) {
    if (r() < 0.5) return npzStructured(seed, r);
    // Re-zip with one inner .npy mutated (so the zip layer is valid and the npy layer is hostile).
    const inner = npyStructured(writeNpy(NPY_SEEDS[Math.floor(r() * NPY_SEEDS.length)]), r);
    const files: Record<string, Uint8Array> = { 'train_images.npy': inner, 'train_labels.npy': writeNpy({ dtype: '<i8', shape: [2], data: BigInt64Array.from([0n, 1n]) }) };
    return zipSync(files, { level: r() < 0.5 ? 0 : 6 });
  },
};

// ---------------------------------------------------------------- csv

const CSV_SEEDS = [
  'path,label,split\na.png,normal,train\nb.png,pneumonia,val\n"c,1.png",normal,test\n',
  '\ufefffile,class\r\nx/1.dcm,0\r\nx/2.dcm,1\r\n',
  'image,diagnosis,extra\n"q""uote.png",benign,1\n"multi\nline.png",malignant,2\n\n',
  'label,path\n1,/abs/p.png\n0,rel.png',
];

function csvStructured(seed: Uint8Array, r: () => number): Uint8Array {
  let t = dec.decode(seed);
  const bits = ['"', ',', '\n', '\r', '\r\n', '""', '\ufeff', '\0', 'split', 'label', 'path', 'holdout', '9', 'x'.repeat(Math.floor(r() * 200)), ',,,,', '"\n"'];
  const k = 1 + Math.floor(r() * 4);
  for (let i = 0; i < k; i++) {
    const at = Math.floor(r() * (t.length + 1));
    const s = bits[Math.floor(r() * bits.length)];
    t = r() < 0.7 ? t.slice(0, at) + s + t.slice(at) : t.slice(0, at) + t.slice(at + 1 + Math.floor(r() * 5));
  }
  return enc.encode(t);
}

export function csvTarget(): Target {
  let dir: string | undefined;
  return {
    name: 'csv', async: true,
    async seeds() { return CSV_SEEDS.map((s) => enc.encode(s)); },
    async run(bytes, label) {
      dir ??= fs.mkdtempSync(path.join(os.tmpdir(), 'meddiff-fuzz-csv-'));
      // The in-memory parser first (the label is the name), then the manifest reader on a file.
      const recs = parseCsv(dec.decode(bytes), label);
      if (!recs.every((x) => Array.isArray(x.fields) && Number.isInteger(x.line))) fail('records');
      const file = path.join(dir, `${label.replace(/[^\w.-]/g, '_')}.csv`);
      fs.writeFileSync(file, bytes);
      try {
        const m = await readCsvManifest(file);
        if (m.items.some((it) => !(it.label >= 0 && it.label < m.classNames.length))) fail('label index out of range');
        return m;
      } catch (e) {
        // the file reader's errors name the file; rethrow them relabelled so classification sees the label
        if (e instanceof Error && !BUILTIN_ERRORS.some((C) => e instanceof C) && e.message.includes(file)) throw new Error(`${label}: ${e.message}`);
        throw e;
      } finally { fs.rmSync(file, { force: true }); }
    },
    structured: csvStructured,
    close() { if (dir) fs.rmSync(dir, { recursive: true, force: true }); dir = undefined; },
  };
}

// ---------------------------------------------------------------- safetensors

function stSeeds(): Uint8Array[] {
  const a: NamedArrays = new Map([
    ['w', { shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) }],
    ['b', { shape: [3], data: Float32Array.from([0.5, -1, 2]) }],
    ['step', { shape: [1], data: Int32Array.from([7]) }],
    ['rng', { shape: [4], data: Uint8Array.from([1, 2, 3, 4]) }],
    ['empty', { shape: [0, 5], data: new Float32Array(0) }],
  ]);
  return [
    encodeSafetensors(a, { metadata: { format: 'meddiff', step: '3' } }),
    encodeSafetensors(new Map([...a].filter(([, t]) => t.data instanceof Float32Array)), { dtype: 'F16' }),
    encodeSafetensors(new Map()),
    encodeSafetensors(new Map([['ünïcode.weight', { shape: [1, 1], data: Float32Array.from([1]) }]])),
  ];
}

function stStructured(seed: Uint8Array, r: () => number): Uint8Array {
  const dv = new DataView(seed.buffer, seed.byteOffset, seed.byteLength);
  const hlen = Number(dv.getBigUint64(0, true));
  const header = JSON.parse(dec.decode(seed.subarray(8, 8 + hlen))) as Record<string, unknown>;
  let data = seed.subarray(8 + hlen);
  let h: unknown = header;
  const k = 1 + Math.floor(r() * 3);
  for (let i = 0; i < k; i++) h = mutateJsonTree(h, r);
  if (r() < 0.1) h = randomJson(r);
  if (r() < 0.2) data = data.subarray(0, Math.floor(r() * data.length));
  const json = enc.encode(JSON.stringify(h) ?? 'null');
  const out = new Uint8Array(8 + json.length + data.length);
  const odv = new DataView(out.buffer);
  odv.setBigUint64(0, BigInt(r() < 0.9 ? json.length : Math.floor(r() * (json.length + 16))), true);
  out.set(json, 8); out.set(data, 8 + json.length);
  return out;
}

export const safetensorsTarget: Target = {
  name: 'safetensors', async: false,
  async seeds() { return stSeeds(); },
  run(bytes, label) {
    const { tensors, metadata } = decodeSafetensors(bytes, label);
    for (const [name, t] of tensors) {
      if (t.data.length !== product(t.shape)) fail(`tensor ${name}: ${t.data.length} values for [${t.shape}]`);
    }
    for (const v of Object.values(metadata)) if (typeof v !== 'string') fail('metadata value');
    return tensors;
  },
  structured: stStructured,
};

// ---------------------------------------------------------------- calibration.json

const CAL_SEEDS: unknown[] = [
  { kind: 'vote-share-threshold', positive: 0, threshold: 0.77, objective: 'accuracy', fittedOn: { split: 'val', images: 78, n: 101, balancedAccuracy: 0.82, uncalibratedBalancedAccuracy: 0.86, accuracy: 0.85, uncalibratedAccuracy: 0.8 }, platt: { a: 14.4, b: -3.9 }, weightsSha256: 'ef542b205e330920847598d71d88e8508fa17187e98618f6abbbe026214aa1be' },
  { kind: 'vote-share-threshold', positive: 1, threshold: 0.45, fittedOn: { split: 'val', images: 320, n: 51, balancedAccuracy: 0.97, uncalibratedBalancedAccuracy: 0.96 }, tRange: [0.55, 1], mirror: true, window: { fullRangeBalancedAccuracy: 0.93, windowsTried: 120, pairsPerImage: 51, searched: { tRange: [0.55, 1], balancedAccuracy: 0.97, pValue: 0.001 }, significance: 0.05 } },
  { kind: 'vote-share-threshold', positive: 1, threshold: 0.5, fittedOn: { split: 'val', images: 524, n: 25, balancedAccuracy: 0.9, uncalibratedBalancedAccuracy: 0.88 },
    ood: { score: 'multiscale', threshold: 4.2, quantile: 0.98, times: [0.05, 0.5, 0.95], mean: [-1.2, -2.5, -4], precision: [[2, 0.5, 0], [0.5, 3, -0.2], [0, -0.2, 1.5]], ridge: 0.001, trainImages: 300, seed: 0, fittedOn: { split: 'val', images: 524, rank: 515, capped: false } } },
];

/** A multiscale OOD calibration that loaded must be usable as is: sizes agree and the distance is a finite number ≥ 0. */
function checkMultiscale(o: unknown): boolean {
  const m = o as { score?: unknown; times: number[]; mean: number[]; precision: number[][] } | undefined;
  if (m?.score !== 'multiscale') return true;
  const d = m.times.length;
  if (m.mean.length !== d || m.precision.length !== d || m.precision.some((r) => r.length !== d)) return false;
  const q = mahalanobis(m.mean.map((x) => x + 1), m.mean, m.precision);
  return Number.isFinite(q) && q > 0;
}

export function calibrationTarget(): Target {
  let dir: string | undefined;
  return {
    name: 'calibration', async: false,
    async seeds() { return CAL_SEEDS.map((c) => enc.encode(JSON.stringify(c, null, 2))); },
    run(bytes, label) {
      // One folder, rewritten per input; errors name its calibration.json, relabelled with the input's label.
      dir ??= fs.mkdtempSync(path.join(os.tmpdir(), 'meddiff-fuzz-cal-'));
      const f = path.join(dir, 'calibration.json');
      fs.rmSync(f, { force: true }); // a fresh file, not a truncated one: ext4 flushes on truncate-and-rewrite
      fs.writeFileSync(f, bytes);
      try {
        const c = loadCalibration(dir);
        if (!c || (c.kind === 'vote-share-threshold' ? typeof c.threshold !== 'number' || !Number.isInteger(c.positive) : !Array.isArray(c.offsets)) || !checkMultiscale(c.ood)) fail('calibration fields');
        return c;
      } catch (e) {
        if (e instanceof Error && !BUILTIN_ERRORS.some((C) => e instanceof C) && e.message.includes(f)) throw new Error(`${label}: ${e.message}`);
        throw e;
      }
    },
    structured(seed, r) {
      let v: unknown;
      try { v = JSON.parse(dec.decode(seed)); } catch { v = CAL_SEEDS[0]; }
      const k = 1 + Math.floor(r() * 2);
      for (let i = 0; i < k; i++) v = mutateJsonTree(v, r);
      return enc.encode(JSON.stringify(v) ?? 'null');
    },
    close() { if (dir) fs.rmSync(dir, { recursive: true, force: true }); dir = undefined; },
  };
}

/** calibration.json round trip through saveCalibration (a valid file is accepted unchanged). */
export function calibrationRoundTrip(dir: string, c: Parameters<typeof saveCalibration>[1]): unknown {
  saveCalibration(dir, c);
  return loadCalibration(dir);
}

// ---------------------------------------------------------------- images (sharp + DICOM)

async function imageSeeds(): Promise<Uint8Array[]> {
  const px = (n: number, k: number) => Buffer.from(Uint8Array.from({ length: n }, (_, i) => (i * k) & 0xff));
  const gray = { raw: { width: 12, height: 10, channels: 1 as const } };
  const rgb = { raw: { width: 9, height: 7, channels: 3 as const } };
  const out: Uint8Array[] = [
    await sharp(px(120, 13), gray).png().toBuffer(),
    await sharp(px(189, 7), rgb).png().toBuffer(),
    await sharp(px(189, 7), rgb).jpeg({ quality: 80 }).toBuffer(),
    await sharp(px(120, 13), gray).jpeg().toBuffer(),
    await sharp(px(120, 5), gray).tiff({ compression: 'lzw' }).toBuffer(),
    await sharp(px(189, 3), rgb).tiff().toBuffer(),
    await sharp(Buffer.from(Uint16Array.from({ length: 120 }, (_, i) => i * 500).buffer), { raw: { width: 12, height: 10, channels: 1 } }).toColourspace('grey16').png().toBuffer(),
  ];
  const pix = (n: number, m: number) => Array.from({ length: n }, (_, i) => (i * 37) % m);
  out.push(
    makeDicom({ rows: 6, cols: 5, pixels: pix(30, 4096), bitsAllocated: 16, bitsStored: 12 }),
    makeDicom({ rows: 4, cols: 4, pixels: pix(16, 256), bitsAllocated: 8, photometric: 'MONOCHROME1' }),
    makeDicom({ rows: 3, cols: 4, pixels: pix(36, 256), bitsAllocated: 8, samplesPerPixel: 3 }),
    makeDicom({ rows: 5, cols: 3, pixels: pix(15, 65536), bitsAllocated: 16, signed: true, slope: 2, intercept: -1024, transferSyntax: TS.implicitLE }),
    makeDicom({ rows: 4, cols: 3, pixels: pix(12, 65536), transferSyntax: TS.explicitBE }),
    makeDicom({ rows: 4, cols: 3, pixels: pix(12, 1000), transferSyntax: TS.deflatedLE }),
    makeDicom({ rows: 2, cols: 2, pixels: pix(4, 256), transferSyntax: TS.jpegBaseline }),
  );
  return out;
}

/** DICOM-aware: rewrite the values of Rows/Columns/BitsAllocated/BitsStored/etc. and element lengths. */
function imageStructured(seed: Uint8Array, r: () => number): Uint8Array {
  const b = Uint8Array.from(seed);
  if (!(b.length > 132 && b[128] === 0x44 && b[129] === 0x49)) {
    // PNG/JPEG/TIFF: poke the width/height-ish fields near the start with big values.
    const dv = new DataView(b.buffer);
    const at = 8 + Math.floor(r() * Math.min(64, Math.max(1, b.length - 12)));
    if (at + 4 <= b.length) dv.setUint32(at, INTERESTING[Math.floor(r() * INTERESTING.length)], r() < 0.5);
    return b;
  }
  const tags = [[0x28, 0x10], [0x28, 0x11], [0x28, 0x100], [0x28, 0x101], [0x28, 0x103], [0x28, 0x02], [0x28, 0x06], [0x7fe0, 0x10], [0x02, 0x10], [0x28, 0x1053]];
  const dv = new DataView(b.buffer);
  const k = 1 + Math.floor(r() * 3);
  for (let j = 0; j < k; j++) {
    const [g, e] = tags[Math.floor(r() * tags.length)];
    for (let i = 132; i + 8 <= b.length; i++) {
      if (dv.getUint16(i, true) === g && dv.getUint16(i + 2, true) === e) {
        // explicit VR: value (or length) at +6/+8; implicit: length at +4, value at +8. Poke one of them.
        const off = i + [4, 6, 8, 8][Math.floor(r() * 4)];
        const v = INTERESTING[Math.floor(r() * INTERESTING.length)];
        if (off + 4 <= b.length && r() < 0.4) dv.setUint32(off, v >>> 0, true);
        else if (off + 2 <= b.length) dv.setUint16(off, v & 0xffff, true);
        break;
      }
    }
  }
  return b;
}

export const imageTarget: Target = {
  name: 'decode', async: true,
  seeds: imageSeeds,
  async run(bytes, label) {
    const img = await decodeImage(bytes, label);
    if (!(img.width > 0 && img.height > 0)) fail(`size ${img.width}x${img.height}`);
    if (img.data.length !== img.width * img.height * img.channels) fail(`${img.data.length} samples for ${img.width}x${img.height}x${img.channels}`);
    return img;
  },
  structured: imageStructured,
};

export function allTargets(): Target[] {
  return [npyTarget, npzTarget, csvTarget(), safetensorsTarget, calibrationTarget(), imageTarget];
}

/** One fuzz input for `index`: random bytes, a mutated seed, or a structure-aware mutation. */
export function makeInput(t: Target, seeds: Uint8Array[], r: () => number): { bytes: Uint8Array; how: string } {
  const c = r();
  if (c < 0.08) return { bytes: randomBytes(r, r() < 0.9 ? 256 : 8192), how: 'random' };
  const seed = seeds[Math.floor(r() * seeds.length)];
  if (c < 0.15) return { bytes: seed, how: 'seed' };
  if (t.structured && c < 0.5) {
    let b = t.structured(seed, r);
    if (r() < 0.3) b = applyOps(b, randomOps(r, 3), seeds);
    return { bytes: b, how: 'structured' };
  }
  return { bytes: applyOps(seed, randomOps(r), seeds), how: 'mutated' };
}

/** Run one input and classify it. */
export async function runOne(t: Target, bytes: Uint8Array, label: string): Promise<Classified> {
  try {
    const v = t.run(bytes, label);
    if (t.async) await v;
    return { outcome: 'ok' };
  } catch (e) {
    if (e instanceof Malformed) return { outcome: 'crash', kind: 'malformed result', message: e.message };
    return classifyError(e, label);
  }
}

export function runOneSync(t: Target, bytes: Uint8Array, label: string): Classified {
  try {
    t.run(bytes, label);
    return { outcome: 'ok' };
  } catch (e) {
    if (e instanceof Malformed) return { outcome: 'crash', kind: 'malformed result', message: e.message };
    return classifyError(e, label);
  }
}
