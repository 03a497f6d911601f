// Property-based hostile-input tests for image decoding (PNG/JPEG/TIFF via sharp, DICOM via dicom-parser),
// through the public decodeImage(bytes, name). Fewer runs than the other parsers: sharp is slower.
import { test } from 'node:test';
import { imageTarget } from './targets.ts';
import { standardProperties } from './helpers.ts';

test('fuzz decode: random bytes, mutated PNG/JPEG/TIFF/DICOM and rewritten DICOM tags give an image or a clear error', async () => {
  await standardProperties(imageTarget, { random: 150, mutated: 400, structured: 400 });
});
