// Property-based hostile-input tests for the safetensors reader.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { encodeSafetensors, decodeSafetensors, type NamedArrays } from '../../src/models/safetensors.ts';
import { safetensorsTarget } from './targets.ts';
import { params, standardProperties } from './helpers.ts';

test('fuzz safetensors: random bytes, mutated files and rewritten headers give a result or a clear error', async () => {
  await standardProperties(safetensorsTarget, { random: 800, mutated: 1500, structured: 2000 });
});

test('fuzz safetensors: encode → decode round-trips names, shapes, dtypes and metadata', () => {
  const tensor = fc.tuple(fc.array(fc.nat({ max: 4 }), { maxLength: 3 }), fc.constantFrom('F32', 'I32', 'U8'), fc.array(fc.integer({ min: -100, max: 100 }), { minLength: 1, maxLength: 8 }));
  const name = fc.string({ minLength: 1, maxLength: 12 }).filter((s) => s !== '__metadata__');
  fc.assert(fc.property(fc.dictionary(name, tensor, { maxKeys: 5 }), fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), { maxKeys: 3 }), (spec, metadata) => {
    const m: NamedArrays = new Map();
    for (const [k, [shape, dtype, vals]] of Object.entries(spec)) {
      const n = shape.reduce((a, b) => a * b, 1);
      const v = Array.from({ length: n }, (_, i) => vals[i % vals.length]);
      m.set(k, { shape, data: dtype === 'F32' ? Float32Array.from(v, (x) => x / 4) : dtype === 'I32' ? Int32Array.from(v) : Uint8Array.from(v, (x) => x & 0xff) });
    }
    const back = decodeSafetensors(encodeSafetensors(m, { metadata }), 'rt.safetensors');
    assert.deepEqual(back.metadata, { ...metadata });
    assert.deepEqual([...back.tensors.keys()].sort(), [...m.keys()].sort());
    for (const [k, t] of m) {
      const b = back.tensors.get(k)!;
      assert.deepEqual(b.shape, t.shape);
      assert.equal(b.data.constructor, t.data.constructor);
      assert.deepEqual(Array.from(b.data), Array.from(t.data));
    }
  }), params(500));
});

test('safetensors: overlapping, gapped, out-of-range and wrong-typed headers are refused naming the file', () => {
  const file = (header: unknown, dataBytes: number) => {
    const j = new TextEncoder().encode(JSON.stringify(header));
    const out = new Uint8Array(8 + j.length + dataBytes);
    new DataView(out.buffer).setBigUint64(0, BigInt(j.length), true);
    out.set(j, 8);
    return out;
  };
  const t = (o: [number, number], shape = [1]) => ({ dtype: 'F32', shape, data_offsets: o });
  assert.throws(() => decodeSafetensors(file({ a: t([0, 4]), b: t([0, 4]) }, 4), 'o.st'), /o\.st: tensor '.' \(bytes 0\.\.4\) overlaps/);
  assert.throws(() => decodeSafetensors(file({ a: t([4, 8]) }, 8), 'g.st'), /g\.st: gap before tensor 'a'/);
  assert.throws(() => decodeSafetensors(file({ a: t([0, 4]) }, 12), 'x.st'), /x\.st: tensors cover 4 data bytes but the file has 12/);
  assert.throws(() => decodeSafetensors(file({ a: t([0, 4]) }, 2), 'e.st'), /e\.st: tensor 'a' ends at byte/);
  assert.throws(() => decodeSafetensors(file({ a: t([0, 8], [1]) }, 8), 's.st'), /s\.st: tensor 'a' spans 8 bytes but \[1\] F32 needs 4/);
  assert.throws(() => decodeSafetensors(file({ a: { dtype: 'constructor', shape: [1], data_offsets: [0, 4] } }, 4), 'd.st'), /d\.st: tensor 'a' has unsupported dtype "constructor"/);
  assert.throws(() => decodeSafetensors(file({ a: { dtype: 'F32', shape: '1', data_offsets: [0, 4] } }, 4), 'sh.st'), /sh\.st: tensor 'a': shape must be a list/);
  assert.throws(() => decodeSafetensors(file(null, 0), 'n.st'), /n\.st: header does not start with/);
  assert.throws(() => decodeSafetensors(file({ __metadata__: { step: 3 } }, 0), 'm.st'), /m\.st: __metadata__ 'step' must be a string/);
  const huge = new Uint8Array(16); new DataView(huge.buffer).setBigUint64(0, 2n ** 63n, true);
  assert.throws(() => decodeSafetensors(huge, 'h.st'), /h\.st: header claims 9223372036854775808 bytes/);
});
