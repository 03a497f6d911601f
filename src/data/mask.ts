// Lesion masks brought to the model's square by exactly the geometry of their images (issue 15):
// the same fit (pad/crop/stretch), content size and centring as preprocessImage, so a mask pixel
// lies under the image pixel it labels. Used to measure where explanations point.
import { extname } from 'node:path';
import { decodeImage } from './decode.ts';
import { convertChannels, padCenter, resizeUnit, toUnitRange, type FitMode } from './preprocess.ts';
import { readCsvManifest, type CsvColumns } from './csv.ts';

/** The part of the preprocessing that moves pixels (what PreprocessOptions says about geometry). */
export interface MaskGeometry { size: number; contentSize?: number; fit?: FitMode }

export interface LoadMaskOptions {
  /** Foreground where the mask's value (scaled to [0, 1]) is ≥ this; default 0.5 (128 of 255, as HAM10000's interpolated masks need). */
  threshold?: number;
  /** Size of the image the mask belongs to: a mask of another aspect ratio would be fitted differently, so it is refused. */
  image?: { width: number; height: number };
}

export const DEFAULT_MASK_THRESHOLD = 0.5;

/**
 * A mask file → size×size bytes, 1 inside the lesion, 0 outside and in the padding. Binarised
 * at the source resolution (masks stored as 0/1 labels count any non-zero value), resized like
 * the image (Lanczos, as resizeUnit does) and binarised again at one half, so the lesion's edge
 * lands where the image's edge does.
 */
export async function loadMask(path: string, geometry: MaskGeometry, o: LoadMaskOptions = {}): Promise<Uint8Array> {
  const { size } = geometry, content = geometry.contentSize ?? size, threshold = o.threshold ?? DEFAULT_MASK_THRESHOLD;
  if (!Number.isInteger(size) || size < 1) throw new Error(`loadMask: geometry.size must be a positive integer, got ${size}`);
  if (!Number.isInteger(content) || content < 1 || content > size) throw new Error(`loadMask: geometry.contentSize must be an integer in [1, size = ${size}], got ${content}`);
  if (!(threshold > 0 && threshold <= 1)) throw new Error(`loadMask: threshold must be in (0, 1], got ${threshold}`);
  const img = await decodeImage(path);
  if (o.image && Math.abs(img.width / img.height - o.image.width / o.image.height) > 0.01 * (o.image.width / o.image.height)) {
    throw new Error(`${path}: the mask is ${img.width}×${img.height} but its image is ${o.image.width}×${o.image.height}; a mask must have its image's aspect ratio to stay aligned (export it at the image's size)`);
  }
  const pixels = img.width * img.height;
  const gray = convertChannels(toUnitRange(img), pixels, img.channels, 1);
  // 8-bit masks holding 0/1 labels rather than 0/255 would come out empty at 0.5
  let max = 0;
  if (img.data instanceof Uint8Array) for (const v of img.data) max = Math.max(max, v);
  const cut = img.data instanceof Uint8Array && max === 1 ? 1 / 255 : threshold;
  const binary = new Float32Array(pixels);
  for (let i = 0; i < pixels; i++) binary[i] = gray[i]! >= cut ? 1 : 0;
  const fitted = await resizeUnit(binary, img.width, img.height, 1, content, geometry.fit ?? 'pad');
  const square = padCenter(fitted, content, size, 1); // padding is −1: outside the lesion
  const out = new Uint8Array(size * size);
  for (let i = 0; i < out.length; i++) out[i] = square[i]! >= 0.5 ? 1 : 0;
  return out;
}

/**
 * The mask file of each image path in a CSV manifest read with `csv` (its maskColumn), in the
 * order of `paths` (undefined where the manifest has none for it); all undefined for npz
 * archives, folders and CSVs without a mask column.
 */
export async function csvMaskPaths(data: string, csv: CsvColumns | undefined, paths: readonly string[]): Promise<(string | undefined)[]> {
  if (extname(data).toLowerCase() !== '.csv' || !csv?.maskColumn) return paths.map(() => undefined);
  const { items } = await readCsvManifest(data, csv);
  const byPath = new Map(items.filter((it) => it.mask !== undefined).map((it) => [it.path, it.mask!]));
  return paths.map((p) => byPath.get(p));
}

export interface LoadedMasks {
  /** Per path: the mask at the model's square, or null (no mask listed, unreadable, or empty after fitting). */
  masks: (Uint8Array | null)[];
  /** Why each null with a listed mask is null, for the log and the report. */
  problems: { index: number; mask: string; reason: string }[];
  /** Paths that had a mask listed. */
  listed: number;
}

/** Masks of images (`maskPaths` from csvMaskPaths), each checked against its image's aspect ratio; unreadable ones are recorded, not thrown. */
export async function loadMasks(imagePaths: readonly string[], maskPaths: readonly (string | undefined)[], geometry: MaskGeometry, o: Omit<LoadMaskOptions, 'image'> = {}): Promise<LoadedMasks> {
  const masks: (Uint8Array | null)[] = [], problems: LoadedMasks['problems'] = [];
  let listed = 0;
  for (const [i, m] of maskPaths.entries()) {
    if (m === undefined) { masks.push(null); continue; }
    listed++;
    try {
      const img = await decodeImage(imagePaths[i]!);
      const mask = await loadMask(m, geometry, { ...o, image: { width: img.width, height: img.height } });
      if (!mask.some((v) => v)) throw new Error('the mask is empty after fitting it to the model\'s square (no lesion in the frame)');
      masks.push(mask);
    } catch (e) {
      masks.push(null);
      problems.push({ index: i, mask: m, reason: (e as Error).message });
    }
  }
  return { masks, problems, listed };
}
