// Measured localisation of an explanation against a lesion mask (issue 15): how much of the
// difference map's mass falls inside the lesion, and the pointing game (is the map's maximum
// inside it), beside the same figures for a centred Gaussian blob of the lesion's size. The
// blob knows nothing about the image, only that lesions tend to sit in the middle of the frame
// (dermoscopy centres them), so it is the baseline any map must beat. Pure math: no I/O.

/** The localisation figures of one map against one mask. */
export interface Localisation {
  /** Σ|map| inside the mask / Σ|map| (1: all the change is on the lesion). */
  massInsideMask: number;
  /** Fraction of the map's maxima that lie inside the mask: 1 or 0 unless pixels tie (the chance of a hit when ties are broken at random). */
  pointingGame: number;
  /** massInsideMask of the centred Gaussian blob of the mask's size. */
  blobMassInsideMask: number;
  /** pointingGame of that blob (is the image centre on the lesion?). */
  blobPointingGame: number;
  /** Mask pixels / all pixels: what a uniform map scores on both figures. */
  maskAreaFraction: number;
  /** σ of the blob in pixels: √(area / π), so the blob's 1-σ disc has the lesion's area. */
  blobSigma: number;
}

/** Means over the images that had a usable mask (the report's figures). */
export interface LocalisationSummary {
  localisedImages: number;
  massInsideMask: number;
  pointingGame: number;
  blobMassInsideMask: number;
  blobPointingGame: number;
  maskAreaFraction: number;
  /** mean massInsideMask / mean blobMassInsideMask (the target is ≥ 2); null when the blob's mass underflows to 0. */
  massInsideMaskVsBlob: number | null;
}

function checkSizes(map: ArrayLike<number>, mask: ArrayLike<number>, what = 'map'): void {
  if (map.length !== mask.length) throw new Error(`localisation: the ${what} has ${map.length} pixels but the mask ${mask.length}; bring the mask to the explanation's size (loadMask)`);
  if (map.length === 0) throw new Error('localisation: empty map');
}

/** Pixels in the mask (non-zero entries). */
export function maskArea(mask: ArrayLike<number>): number {
  let a = 0;
  for (let i = 0; i < mask.length; i++) if (mask[i]) a++;
  return a;
}

/**
 * Share of the map's mass Σ|v| inside the mask. Magnitudes, so a signed (grayscale) map counts
 * added and removed intensity alike. A map that is zero everywhere is the limit of a uniform
 * map and scores the mask's area fraction.
 */
export function massInsideMask(map: ArrayLike<number>, mask: ArrayLike<number>): number {
  checkSizes(map, mask);
  let inside = 0, total = 0;
  for (let i = 0; i < map.length; i++) {
    const v = Math.abs(map[i]!);
    if (!Number.isFinite(v)) throw new Error(`localisation: the map has a non-finite value (${map[i]}) at pixel ${i}`);
    total += v;
    if (mask[i]) inside += v;
  }
  return total > 0 ? Math.min(1, inside / total) : maskArea(mask) / mask.length;
}

/**
 * Pointing game: is the largest |v| inside the mask? Ties are split: the fraction of the tied
 * maxima inside, i.e. the expected hit when ties are broken at random (so a flat map scores the
 * mask's area fraction rather than an arbitrary 0 or 1).
 */
export function pointingGame(map: ArrayLike<number>, mask: ArrayLike<number>): number {
  checkSizes(map, mask);
  let max = -1, hits = 0, ties = 0;
  for (let i = 0; i < map.length; i++) {
    const v = Math.abs(map[i]!);
    if (!Number.isFinite(v)) throw new Error(`localisation: the map has a non-finite value (${map[i]}) at pixel ${i}`);
    if (v > max) { max = v; ties = 0; hits = 0; }
    if (v === max) { ties++; if (mask[i]) hits++; }
  }
  return hits / ties;
}

/** σ of the baseline blob for a lesion of `area` pixels: its 1-σ disc (π σ²) has the lesion's area. */
export function blobSigma(area: number): number {
  if (!(area > 0)) throw new Error(`localisation: a blob needs a positive lesion area, got ${area}`);
  return Math.sqrt(area / Math.PI);
}

/** exp(−r² / 2σ²) on a width×height grid, centred on the image centre ((w−1)/2, (h−1)/2). */
export function gaussianBlob(width: number, height: number, sigma: number): Float32Array {
  if (!(sigma > 0)) throw new Error(`localisation: blob sigma must be > 0, got ${sigma}`);
  const out = new Float32Array(width * height);
  const cx = (width - 1) / 2, cy = (height - 1) / 2, k = -1 / (2 * sigma * sigma);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) out[y * width + x] = Math.exp(k * ((x - cx) ** 2 + (y - cy) ** 2));
  return out;
}

/**
 * Localisation of one map (width×height, one value per pixel: for colour the channel mean of |Δ|
 * that Explanation.difference holds) against a binary mask of the same size; null when the mask
 * is empty (no lesion in the frame: nothing to point at).
 */
export function localise(map: ArrayLike<number>, mask: ArrayLike<number>, width: number, height: number): Localisation | null {
  if (map.length !== width * height) throw new Error(`localisation: a ${width}×${height} map needs ${width * height} values, got ${map.length}`);
  checkSizes(map, mask);
  const area = maskArea(mask);
  if (area === 0) return null;
  const sigma = blobSigma(area), blob = gaussianBlob(width, height, sigma);
  return {
    massInsideMask: massInsideMask(map, mask), pointingGame: pointingGame(map, mask),
    blobMassInsideMask: massInsideMask(blob, mask), blobPointingGame: pointingGame(blob, mask),
    maskAreaFraction: area / mask.length, blobSigma: sigma,
  };
}

/** Means of the figures over the localised images; null when there are none. */
export function summariseLocalisation(ls: readonly (Localisation | null)[]): LocalisationSummary | null {
  const ok = ls.filter((l): l is Localisation => l !== null);
  if (ok.length === 0) return null;
  const mean = (f: (l: Localisation) => number) => ok.reduce((a, l) => a + f(l), 0) / ok.length;
  const mass = mean((l) => l.massInsideMask), blob = mean((l) => l.blobMassInsideMask);
  return {
    localisedImages: ok.length, massInsideMask: mass, pointingGame: mean((l) => l.pointingGame),
    blobMassInsideMask: blob, blobPointingGame: mean((l) => l.blobPointingGame), maskAreaFraction: mean((l) => l.maskAreaFraction),
    massInsideMaskVsBlob: blob > 0 ? mass / blob : null,
  };
}
