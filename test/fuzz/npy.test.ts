// Property-based hostile-input tests for the .npy reader (see scripts/fuzz.mjs for the 100k-input run).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseNpy, writeNpy, type NpyArray } from '../../src/data/index.ts';
import { npyTarget } from './targets.ts';
import { params, standardProperties } from './helpers.ts';

test('fuzz npy: random bytes, mutated and header-rewritten files give a result or a clear error naming the input', async () => {
  await standardProperties(npyTarget, { random: 800, mutated: 1500, structured: 1500 });
});

const dtypes = ['|u1', '|i1', '|b1', '<u2', '<i2', '<u4', '<i4', '<i8', '<u8', '<f4', '<f8'] as const;
const make: Record<(typeof dtypes)[number], (n: number, r: number[]) => NpyArray['data']> = {
  '|u1': (n, r) => Uint8Array.from({ length: n }, (_, i) => r[i % r.length]),
  '|b1': (n, r) => Uint8Array.from({ length: n }, (_, i) => r[i % r.length] & 1),
  '|i1': (n, r) => Int8Array.from({ length: n }, (_, i) => r[i % r.length]),
  '<u2': (n, r) => Uint16Array.from({ length: n }, (_, i) => r[i % r.length] * 257),
  '<i2': (n, r) => Int16Array.from({ length: n }, (_, i) => r[i % r.length] * -129),
  '<u4': (n, r) => Uint32Array.from({ length: n }, (_, i) => r[i % r.length] * 16843009),
  '<i4': (n, r) => Int32Array.from({ length: n }, (_, i) => r[i % r.length] * -8421504),
  '<i8': (n, r) => BigInt64Array.from({ length: n }, (_, i) => BigInt(r[i % r.length]) * -(2n ** 55n)),
  '<u8': (n, r) => BigUint64Array.from({ length: n }, (_, i) => BigInt(r[i % r.length]) * 2n ** 56n),
  '<f4': (n, r) => Float32Array.from({ length: n }, (_, i) => r[i % r.length] / 7),
  '<f8': (n, r) => Float64Array.from({ length: n }, (_, i) => r[i % r.length] / 3),
};

test('fuzz npy: writeNpy → parseNpy round-trips dtype, shape and values', () => {
  fc.assert(fc.property(fc.constantFrom(...dtypes), fc.array(fc.nat({ max: 5 }), { maxLength: 4 }), fc.array(fc.nat({ max: 255 }), { minLength: 1, maxLength: 16 }), (dtype, shape, vals) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const arr: NpyArray = { dtype, shape, data: make[dtype](n, vals) };
    const back = parseNpy(writeNpy(arr), 'rt.npy');
    assert.equal(back.dtype, dtype);
    assert.deepEqual(back.shape, shape);
    assert.deepEqual(Array.from(back.data as ArrayLike<unknown>), Array.from(arr.data as ArrayLike<unknown>));
  }), params(1000));
});

test('npy: hostile header fields are refused before allocating', () => {
  const hdr = (h: string, data = new Uint8Array(0)) => {
    const t = new TextEncoder().encode(h);
    const out = new Uint8Array(10 + t.length + data.length);
    out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, t.length & 0xff, t.length >> 8]); out.set(t, 10); out.set(data, 10 + t.length);
    return out;
  };
  assert.throws(() => parseNpy(hdr("{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }"), 'big.npy'), /big\.npy: truncated \.npy data/);
  assert.throws(() => parseNpy(hdr("{'descr': '|u1', 'fortran_order': False, 'shape': (0x10,), }"), 'hex.npy'), /hex\.npy: bad \.npy header: invalid dimension "0x10"/);
  assert.throws(() => parseNpy(hdr("{'descr': 'constructor', 'fortran_order': False, 'shape': (1,), }"), 'p.npy'), /p\.npy: bad \.npy header: unsupported dtype 'constructor'/);
  const v2 = Uint8Array.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 2, 0, 0xff, 0xff, 0xff, 0x7f]);
  assert.throws(() => parseNpy(v2, 'h.npy'), /h\.npy: bad \.npy header: header length 2147483647 bytes exceeds/);
});
