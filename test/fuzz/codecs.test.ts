// Property-based hostile-input tests for the compressed-DICOM codecs (RLE, JPEG lossless, JPEG-LS,
// JPEG 2000, HTJ2K, JPEG baseline, palette colour) through the public decodeImage(bytes, name):
// damaged codestreams wrapped in consistent DICOM files reach the codec and must give an image or a
// clear error, in time. scripts/fuzz.mjs runs the same target at ≥ 100,000 inputs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { codecTarget } from './codec-target.ts';
import { runOne } from './targets.ts';
import { standardProperties } from './helpers.ts';

test('fuzz dicom codecs: every seed decodes, so the mutations start from valid files', async () => {
  const seeds = await codecTarget.seeds();
  assert.ok(seeds.length >= 18);
  for (const [i, s] of seeds.entries()) assert.deepEqual(await runOne(codecTarget, s, `seed-${i}`), { outcome: 'ok' }, `seed ${i}`);
});

test('fuzz dicom codecs: damaged codestreams give an image or a clear error', async () => {
  await standardProperties(codecTarget, { random: 50, mutated: 300, structured: 600 });
});
