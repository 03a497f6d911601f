import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import { parseNpy, parseNpyHeader, writeNpy, NpzArchive, writeNpz, readNpz, type NpyArray } from '../../src/data/index.ts';
import { PNEUMONIA, BREAST, tempDir } from './helpers.ts';

/** Hand-build a .npy with a given version and header text (the writer only does v1). */
function npyBytes(major: number, header: string, data: Uint8Array): Uint8Array {
  const enc = new TextEncoder().encode(header);
  const lenBytes = major === 1 ? 2 : 4;
  const out = new Uint8Array(8 + lenBytes + enc.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, major, 0]);
  new DataView(out.buffer).setUint32(8, enc.length, true); // low bytes serve v1's u16 too
  if (major === 1) out[10] = 0, out[11] = 0;
  out.set(enc, 8 + lenBytes);
  out.set(data, 8 + lenBytes + enc.length);
  return out;
}

test('npy: headers v1, v2 and v3 with the supported dtypes', () => {
  const f = new Float32Array([1.5, -2, 3.25, 4, 5, 6]);
  for (const major of [1, 2, 3]) {
    const bytes = npyBytes(major, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }\n", new Uint8Array(f.buffer));
    const a = parseNpy(bytes, 'x.npy');
    assert.deepEqual(a.shape, [2, 3]);
    assert.equal(a.dtype, '<f4');
    assert.deepEqual(Array.from(a.data as Float32Array), Array.from(f));
  }
  const cases: NpyArray[] = [
    { dtype: '|u1', shape: [3], data: Uint8Array.from([1, 2, 255]) },
    { dtype: '<u2', shape: [2], data: Uint16Array.from([1, 65535]) },
    { dtype: '<i4', shape: [2, 1], data: Int32Array.from([-7, 9]) },
    { dtype: '<i8', shape: [2], data: BigInt64Array.from([-3n, 5n]) },
    { dtype: '<f8', shape: [1], data: Float64Array.from([Math.PI]) },
    { dtype: '|b1', shape: [2], data: Uint8Array.from([0, 1]) },
    { dtype: '<f4', shape: [], data: Float32Array.from([2]) },
  ];
  for (const c of cases) {
    const a = parseNpy(writeNpy(c), 'x.npy');
    assert.equal(a.dtype, c.dtype);
    assert.deepEqual(a.shape, c.shape);
    assert.deepEqual(Array.from(a.data as ArrayLike<unknown>), Array.from(c.data as ArrayLike<unknown>));
  }
});

test('npy: fortran order, bad magic, unknown dtype and truncated data are rejected with the name', () => {
  const fortran = writeNpy({ dtype: '|u1', shape: [2, 2], data: new Uint8Array(4) }, true);
  assert.throws(() => parseNpy(fortran, 'f.npy'), /f\.npy: .*Fortran order.*np\.ascontiguousarray/);
  assert.throws(() => parseNpy(Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]), 'g.npy'), /g\.npy: bad \.npy header: missing .*magic/);
  const be = npyBytes(1, "{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }\n", new Uint8Array(4));
  assert.throws(() => parseNpy(be, 'h.npy'), /h\.npy: bad \.npy header: unsupported dtype '>f4'.*big-endian/);
  const obj = npyBytes(1, "{'descr': '|O', 'fortran_order': False, 'shape': (1,), }\n", new Uint8Array(8));
  assert.throws(() => parseNpy(obj, 'o.npy'), /unsupported dtype '\|O'/);
  const full = writeNpy({ dtype: '<i4', shape: [4], data: new Int32Array(4) });
  const short = full.subarray(0, full.length - 8);
  assert.throws(() => parseNpy(short, 't.npy'), /t\.npy: truncated \.npy data: .*needs 16 bytes, found 8/);
  assert.throws(() => parseNpyHeader(npyBytes(4, '{}', new Uint8Array(0)), 'v.npy'), /unsupported format version 4/);
});

test('npz: real MedMNIST archives list their keys and decode train images', async () => {
  const z = await NpzArchive.open(BREAST);
  assert.deepEqual(z.keys.sort(), ['test_images', 'test_labels', 'train_images', 'train_labels', 'val_images', 'val_labels']);
  assert.ok(z.entries.every((e) => e.compression === 'deflate'));
  const imgs = z.get('train_images');
  assert.equal(imgs.dtype, '|u1');
  assert.deepEqual(imgs.shape, [546, 28, 28]);
  const all = await readNpz(PNEUMONIA, ['test_labels']);
  assert.deepEqual(all.test_labels.shape, [624, 1]);
});

test('npz: stored (uncompressed) entries, missing key and truncated archive', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const stored = writeNpz({ a: { dtype: '<u2', shape: [3], data: Uint16Array.from([1, 2, 3]) } }, false);
    const z = NpzArchive.fromBytes(stored, 'stored.npz');
    assert.equal(z.entries[0].compression, 'stored');
    assert.deepEqual(Array.from(z.get('a').data as Uint16Array), [1, 2, 3]);
    assert.throws(() => z.get('b'), /stored\.npz: missing key 'b' \(archive has: a\)/);

    const real = readFileSync(PNEUMONIA);
    const half = join(dir, 'half.npz');
    writeFileSync(half, real.subarray(0, real.length >> 1));
    await assert.rejects(NpzArchive.open(half), (e: Error) => e.message.startsWith(half) && /truncated/.test(e.message));

    writeFileSync(join(dir, 'junk.npz'), 'not a zip at all');
    await assert.rejects(NpzArchive.open(join(dir, 'junk.npz')), /junk\.npz: truncated or not a zip/);

    // A corrupt .npy inside an intact zip names file and entry.
    const patched = NpzArchive.fromBytes(zipSync({ 'x.npy': new TextEncoder().encode('garbage') }), 'p.npz');
    assert.throws(() => patched.get('x'), /p\.npz entry 'x\.npy': bad \.npy header/);
  } finally { cleanup(); }
});
