// Localisation figures (issue 15): maps whose answer is known in closed form, and properties
// that must hold for any map and mask.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { blobSigma, gaussianBlob, localise, localisationHtml, maskArea, massInsideMask, pointingGame, summariseLocalisation } from '../../src/explain/index.ts';

/** A w×h mask of the pixels where `inside(x, y)`. */
function maskOf(w: number, h: number, inside: (x: number, y: number) => boolean): Uint8Array {
  return Uint8Array.from({ length: w * h }, (_, i) => (inside(i % w, Math.floor(i / w)) ? 1 : 0));
}

test('mass inside: a two-level map scores aA / (aA + b(N − A))', () => {
  const w = 10, h = 8, mask = maskOf(w, h, (x, y) => x < 3 && y < 4); // A = 12 of N = 80
  const map = Float32Array.from(mask, (m) => (m ? 5 : 1));
  assert.ok(Math.abs(massInsideMask(map, mask) - (5 * 12) / (5 * 12 + 1 * 68)) < 1e-9);
  // magnitudes: a signed map with the same |Δ| scores the same
  const signed = map.map((v, i) => (i % 2 ? -v : v));
  assert.equal(massInsideMask(signed, mask), massInsideMask(map, mask));
  // the map equal to the mask puts all its mass and its maximum inside
  assert.equal(massInsideMask(Float32Array.from(mask), mask), 1);
  assert.equal(pointingGame(Float32Array.from(mask), mask), 1);
});

test('uniform and zero maps score the area fraction; ties in the pointing game are split', () => {
  const w = 6, h = 5, mask = maskOf(w, h, (x) => x === 0); // 5 of 30
  for (const v of [0, 0.7, -2]) {
    const map = new Float32Array(w * h).fill(v);
    assert.ok(Math.abs(massInsideMask(map, mask) - 5 / 30) < 1e-12, `flat map ${v}`);
    assert.ok(Math.abs(pointingGame(map, mask) - 5 / 30) < 1e-12, `flat map ${v}`);
  }
  // two tied maxima, one inside: half a hit; a single maximum outside: a miss
  const map = new Float32Array(w * h);
  map[0] = 3; map[5] = -3;
  assert.equal(pointingGame(map, mask), 0.5);
  map[5] = 3.5;
  assert.equal(pointingGame(map, mask), 0);
});

test('the centred blob of a centred disc holds 1 − e^(−1/2) of its mass inside (σ² = area/π = R²)', () => {
  const n = 201, R = 20, c = (n - 1) / 2;
  const disc = maskOf(n, n, (x, y) => (x - c) ** 2 + (y - c) ** 2 <= R * R);
  const l = localise(new Float32Array(n * n).fill(1), disc, n, n)!;
  assert.ok(Math.abs(l.blobSigma - R) < 0.2, `σ ${l.blobSigma} for R ${R}`);
  assert.ok(Math.abs(l.blobMassInsideMask - (1 - Math.exp(-0.5))) < 0.01, `blob mass inside ${l.blobMassInsideMask}`);
  assert.equal(l.blobPointingGame, 1, 'the blob peaks at the centre, on the disc');
  assert.ok(Math.abs(l.maskAreaFraction - maskArea(disc) / (n * n)) < 1e-12);
  assert.equal(l.massInsideMask, l.maskAreaFraction, 'a uniform map scores the area fraction');
  // a lesion in the corner: the blob points outside it
  const corner = maskOf(n, n, (x, y) => x < 30 && y < 30);
  assert.equal(localise(new Float32Array(n * n), corner, n, n)!.blobPointingGame, 0);
});

test('on an even grid the blob has four tied maxima: a mask holding two of them scores one half', () => {
  const n = 20, blob = gaussianBlob(n, n, blobSigma(40));
  assert.equal(blob[9 * n + 9], blob[10 * n + 10]);
  const left = maskOf(n, n, (x) => x < 10);
  assert.equal(pointingGame(blob, left), 0.5);
  assert.ok(Math.abs(massInsideMask(blob, left) - 0.5) < 1e-6, 'symmetry: half the mass on each side');
});

test('an empty mask gives no localisation; sizes that differ are refused with the fix', () => {
  assert.equal(localise(new Float32Array(4), new Uint8Array(4), 2, 2), null);
  assert.throws(() => massInsideMask(new Float32Array(4), new Uint8Array(9)), /4 pixels but the mask 9.*loadMask/);
  assert.throws(() => localise(new Float32Array(4), new Uint8Array(4), 3, 2), /3×2 map needs 6 values, got 4/);
  assert.throws(() => massInsideMask(Float32Array.of(1, NaN), Uint8Array.of(1, 0)), /non-finite value \(NaN\) at pixel 1/);
});

test('summary: means over localised images, empty ones left out, the ratio to the blob, and its HTML', () => {
  const a = { massInsideMask: 0.8, pointingGame: 1, blobMassInsideMask: 0.4, blobPointingGame: 1, maskAreaFraction: 0.2, blobSigma: 3 };
  const b = { massInsideMask: 0.4, pointingGame: 0, blobMassInsideMask: 0.2, blobPointingGame: 0, maskAreaFraction: 0.1, blobSigma: 2 };
  const s = summariseLocalisation([a, null, b])!;
  assert.equal(s.localisedImages, 2);
  assert.ok(Math.abs(s.massInsideMask - 0.6) < 1e-12 && Math.abs(s.blobMassInsideMask - 0.3) < 1e-12);
  assert.ok(Math.abs(s.massInsideMaskVsBlob! - 2) < 1e-12);
  assert.equal(s.pointingGame, 0.5);
  assert.equal(summariseLocalisation([null]), null);
  const html = localisationHtml(s, { listed: 3, unusable: 1 });
  assert.match(html, /2\.00×/);
  assert.match(html, /1 of the 3 listed masks could not be used/);
  assert.match(localisationHtml(null, { listed: 2, unusable: 2 }), /no usable mask/);
});

const mapAndMask = fc.integer({ min: 1, max: 64 }).chain((n) => fc.tuple(
  // values on a 1e-3 grid: subnormal floats would underflow to 0 when scaled and break scale invariance
  fc.array(fc.integer({ min: -10000, max: 10000 }).map((v) => v / 1000), { minLength: n, maxLength: n }),
  fc.array(fc.boolean(), { minLength: n, maxLength: n }).filter((m) => m.some((v) => v)),
));

test('properties: figures in [0, 1], scale- and sign-invariant, inside + outside = 1', () => {
  fc.assert(fc.property(mapAndMask, fc.float({ min: Math.fround(0.01), max: 100, noNaN: true }), ([values, inside], k) => {
    const map = Float32Array.from(values), mask = Uint8Array.from(inside, Number);
    const m = massInsideMask(map, mask), pg = pointingGame(map, mask);
    assert.ok(m >= 0 && m <= 1 && pg >= 0 && pg <= 1, `${m} ${pg}`);
    assert.ok(Math.abs(massInsideMask(map.map((v) => -k * v), mask) - m) < 1e-5, 'scale and sign');
    const outside = mask.map((v) => 1 - v);
    if (outside.some((v) => v)) {
      assert.ok(Math.abs(m + massInsideMask(map, outside) - 1) < 1e-6, 'mass inside + outside');
      assert.ok(Math.abs(pg + pointingGame(map, outside) - 1) < 1e-12, 'pointing inside + outside');
    }
  }));
});

test('properties: a map equal to the mask scores 1 on both, and the blob is a valid map of the mask', () => {
  fc.assert(fc.property(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 0, max: 2 ** 31 - 1 }), (w, h, seed) => {
    const mask = maskOf(w, h, (x, y) => ((x * 7 + y * 13 + seed) % 5) === 0 || (x === 0 && y === 0));
    const l = localise(Float32Array.from(mask), mask, w, h)!;
    assert.equal(l.massInsideMask, 1);
    assert.equal(l.pointingGame, 1);
    assert.ok(l.blobMassInsideMask >= 0 && l.blobMassInsideMask <= 1 && l.blobPointingGame >= 0 && l.blobPointingGame <= 1);
    assert.ok(Math.abs(l.maskAreaFraction * w * h - maskArea(mask)) < 1e-9);
  }));
});
