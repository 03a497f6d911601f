// Property-based hostile-input tests for the .npz (zip) reader and the MedMNIST layer on top.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { zipSync } from 'fflate';
import { NpzArchive, writeNpz, writeNpy } from '../../src/data/index.ts';
import { npzTarget } from './targets.ts';
import { params, standardProperties } from './helpers.ts';

test('fuzz npz: random bytes, mutated archives and rewritten zip fields give a result or a clear error', async () => {
  await standardProperties(npzTarget, { random: 600, mutated: 1200, structured: 1200 });
});

test('fuzz npz: writeNpz → NpzArchive round-trips every array, stored or deflated', () => {
  fc.assert(fc.property(fc.dictionary(fc.stringMatching(/^[a-z_]{1,10}$/), fc.uint8Array({ maxLength: 64 }), { minKeys: 1, maxKeys: 4 }), fc.boolean(), (arrays, compress) => {
    const z = NpzArchive.fromBytes(writeNpz(Object.fromEntries(Object.entries(arrays).map(([k, v]) => [k, { dtype: '|u1', shape: [v.length], data: v }])), compress), 'rt.npz');
    assert.deepEqual(z.keys.sort(), Object.keys(arrays).sort());
    for (const [k, v] of Object.entries(arrays)) assert.deepEqual(Array.from(z.get(k).data as Uint8Array), Array.from(v));
  }), params(300));
});

test('npz: a zip bomb (declared size far past what deflate can produce) is refused before inflating', () => {
  const z = zipSync({ 'x.npy': writeNpy({ dtype: '|u1', shape: [4], data: new Uint8Array(4) }) }, { level: 6 });
  const dv = new DataView(z.buffer);
  let cen = -1;
  for (let i = 0; i + 4 <= z.length; i++) if (dv.getUint32(i, true) === 0x02014b50) cen = i;
  dv.setUint32(cen + 24, 0xfffffff0, true); // uncompressed size: 4 GB from a few dozen bytes
  assert.throws(() => NpzArchive.fromBytes(z, 'bomb.npz'), /bomb\.npz: .*claim to expand to 4294967280 \(impossible for deflate: corrupt archive or zip bomb\)/);
  const count = Uint8Array.from(zipSync({ 'a.npy': new Uint8Array(3) }));
  const cdv = new DataView(count.buffer);
  cdv.setUint16(count.length - 22 + 10, 0xfffe, true); // 65534 entries in a 150-byte archive
  assert.throws(() => NpzArchive.fromBytes(count, 'many.npz'), /many\.npz: .*directory claims 65534 entries but is only/);
});
