/**
 * One interface over MedMNIST .npz archives, image folders and CSV manifests.
 * Files are decoded and preprocessed once at open time (so bad files are found up front and
 * epochs are cheap) and kept in their compact 8/16-bit form (preprocessCompact: 10k × 128² × 3
 * is 0.5–1 GB instead of 2 GB as float32), expanded to float one image per get(); npz images are
 * preprocessed on access (28→32 padding is trivial).
 */
import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { extname } from 'node:path';
import { decodeImage, imageDimensions, type DicomWindowRule } from './decode.ts';
import { loadMedMNIST, type MedMNISTData } from './medmnist.ts';
import { expandCompact, preprocessCompact, preprocessU8, upscaleFactor, type ArrayResize, type CompactImage, type FitMode } from './preprocess.ts';
import { scanImageFolder, type FileListing, type LabeledFile } from './folder.ts';
import { readCsvManifest, type CsvColumns } from './csv.ts';
import { SPLITS, balanceIndices, classCounts, groupedStratifiedSplit, stratifiedSplit, type BalanceMode, type SplitName } from './split.ts';

export type SourceKind = 'npz' | 'folder' | 'csv';
export type UpscaleRule = 'warn' | 'error';
export const UPSCALE_RULES: readonly UpscaleRule[] = ['warn', 'error'];

export interface DatasetSpec { path: string; kind?: SourceKind; classNames?: string[] }

export interface OpenDatasetOptions {
  /** Output side length (square). Default 32 (MedMNIST 28² is padded to 32²). */
  imageSize?: number;
  /** 1 = grayscale, 3 = RGB. Default: the source's (npz: its channels; files: the first file's). */
  channels?: 1 | 3;
  /** Files: how to reach a square (default 'pad': no anatomy cropped). */
  fit?: FitMode;
  /** Files: side of the content inside the square, padded with black to imageSize (default imageSize). */
  contentSize?: number;
  /** DICOM files: 'voi' (default: Window Center/Width when present) or 'range' (the data range). */
  dicomWindow?: DicomWindowRule;
  /** npz arrays: 'auto' (default) pads 28→32, resizes bigger changes. */
  arrayResize?: ArrayResize;
  /** Splits to load (default all). Others stay unopened: saves time when only testing. */
  split?: SplitName | SplitName[];
  /** Seed for the 80/10/10 split (sources without splits) and for balancing. Default 0. */
  seed?: number;
  splitFractions?: readonly [number, number, number];
  /** Resample the train split to equal class counts (default 'none'). val/test are never resampled. */
  balance?: BalanceMode;
  /**
   * Skip bad inputs with a warning instead of throwing: unreadable or missing files, CSV rows or
   * folders with a label outside `classNames`, masks of another size than their image, and (with
   * upscale: 'error') images too small for imageSize. They are listed in `skipped`.
   */
  skipBad?: boolean;
  /**
   * Files smaller than the content square are scaled up: 'warn' (default) once per data set with
   * the count and the smallest image; 'error' makes each such file a bad input (skipped with skipBad).
   */
  upscale?: UpscaleRule;
  onWarning?: (message: string) => void;
  /** Class order to enforce (e.g. from a trained model's checkpoint). */
  classNames?: string[];
  /** Files decoded in parallel (sharp uses its own threads). Default 4. */
  concurrency?: number;
  /** CSV manifests: which columns mean what and which rows to keep (ignored for other sources). */
  csv?: CsvColumns;
}

export interface Sample { image: Float32Array; label: number; path?: string; /** CSV --mask-column: the mask file for it. */ mask?: string }
export interface SkippedFile { path: string; reason: string }

export interface DataSplit {
  name: SplitName;
  /** Samples, counting the repeats that class balancing adds. */
  size: number;
  /** Distinct images behind those samples (equal to size unless the split was over-sampled). */
  distinct: number;
  /** Labels in sample order (after balancing). */
  labels: Int32Array;
  /** [H, W, C] of every image. */
  shape: [number, number, number];
  /** i-th sample. Returned images may be shared caches: do not modify them. */
  get(i: number): Sample;
}

export interface Dataset {
  kind: SourceKind;
  source: string;
  classNames: string[];
  imageSize: number;
  channels: 1 | 3;
  /** Hex digest of the data identity (npz bytes, or file names/sizes/labels) and split assignment. */
  fingerprint: string;
  skipped: SkippedFile[];
  /** Bytes the loaded images occupy in memory (files: the compact 8/16-bit cache; npz: the arrays). */
  cacheBytes: number;
  /** Splits that were loaded. */
  splits: SplitName[];
  split(name: SplitName): DataSplit;
  size(name: SplitName): number;
  get(name: SplitName, i: number): Sample;
  counts(name: SplitName): number[];
}

export function detectKind(path: string, isDir: boolean): SourceKind {
  if (isDir) return 'folder';
  const ext = extname(path).toLowerCase();
  if (ext === '.npz') return 'npz';
  if (ext === '.csv') return 'csv';
  throw new Error(`${path}: cannot tell the dataset type; expected a .npz archive, a .csv manifest, or a folder of class folders`);
}

export async function openDataset(pathOrSpec: string | DatasetSpec, opts: OpenDatasetOptions = {}): Promise<Dataset> {
  const spec = typeof pathOrSpec === 'string' ? { path: pathOrSpec } : pathOrSpec;
  let st;
  try { st = await stat(spec.path); } catch { throw new Error(`${spec.path}: dataset not found`); }
  const kind = spec.kind ?? detectKind(spec.path, st.isDirectory());
  const classNames = spec.classNames ?? opts.classNames;
  const o = { ...opts, classNames };
  if (kind === 'npz') return npzDataset(await loadMedMNIST(spec.path, { classNames }), o);
  const skipBad = opts.skipBad ?? false;
  const listing = kind === 'folder' ? await scanImageFolder(spec.path, { classNames, skipBad }) : await readCsvManifest(spec.path, { ...opts.csv, classNames, skipBad });
  return fileDataset(listing, o);
}

function wanted(opts: OpenDatasetOptions): SplitName[] {
  const s = opts.split === undefined ? [...SPLITS] : Array.isArray(opts.split) ? opts.split : [opts.split];
  for (const x of s) if (!SPLITS.includes(x)) throw new Error(`unknown split '${x}'; use train, val or test`);
  return s;
}

function makeDataset(base: Omit<Dataset, 'split' | 'size' | 'get' | 'counts'>, parts: Map<SplitName, DataSplit>): Dataset {
  const split = (name: SplitName): DataSplit => {
    const p = parts.get(name);
    if (!p) throw new Error(`split '${name}' was not loaded (loaded: ${[...parts.keys()].join(', ')}); open the dataset with split: '${name}'`);
    return p;
  };
  return {
    ...base, split,
    size: (n) => split(n).size,
    get: (n, i) => split(n).get(i),
    counts: (n) => classCounts(split(n).labels, base.classNames.length),
  };
}

function checkIndex(i: number, n: number, name: string): void {
  if (!Number.isInteger(i) || i < 0 || i >= n) throw new RangeError(`${name}: index ${i} out of range [0, ${n})`);
}

function npzDataset(m: MedMNISTData, opts: OpenDatasetOptions): Dataset {
  const size = opts.imageSize ?? 32;
  const channels = opts.channels ?? m.splits.train.channels;
  const seed = opts.seed ?? 0;
  if (channels !== m.splits.train.channels) opts.onWarning?.(`${m.path}: ${channelWords(m.splits.train.channels, channels)} (the model expects ${channels} channel${channels > 1 ? 's' : ''})`);
  const parts = new Map<SplitName, DataSplit>();
  for (const name of wanted(opts)) {
    const s = m.splits[name];
    const order = name === 'train' ? balanceIndices(range(s.n), s.labels, opts.balance ?? 'none', seed) : range(s.n);
    const px = s.height * s.width * s.channels;
    parts.set(name, {
      name, size: order.length, distinct: s.n, shape: [size, size, channels],
      labels: Int32Array.from(order, (j) => s.labels[j]),
      get(i) {
        checkIndex(i, order.length, `${m.path} ${name}`);
        const j = order[i];
        const image = preprocessU8(s.images.subarray(j * px, (j + 1) * px), s.height, s.width, s.channels,
          { size, channels, arrayResize: opts.arrayResize });
        return { image, label: s.labels[j] };
      },
    });
  }
  const h = createHash('sha256').update('npz\0').update(m.archive.bytes).update(JSON.stringify(m.classNames));
  if (opts.balance && opts.balance !== 'none') h.update(`balance=${opts.balance},seed=${seed}`);
  return makeDataset({ kind: 'npz', source: m.path, classNames: m.classNames, imageSize: size, channels,
    fingerprint: h.digest('hex').slice(0, 16), skipped: [], splits: [...parts.keys()],
    cacheBytes: [...parts.keys()].reduce((a, n) => a + m.splits[n].images.byteLength, 0) }, parts);
}

function channelWords(from: number, to: number): string {
  return from === 1 ? 'grayscale images are converted to RGB (the gray value copied to each channel)'
    : 'colour images are converted to grayscale (Rec. 601 luma)';
}

function range(n: number): Int32Array { return Int32Array.from({ length: n }, (_, i) => i); }

async function pool<T>(items: T[], n: number, fn: (x: T, i: number) => Promise<void>): Promise<void> {
  let next = 0, failed = false;
  // After the first error the other workers stop taking items, so a fail-fast open returns promptly.
  const worker = async () => {
    while (!failed && next < items.length) { const i = next++; try { await fn(items[i], i); } catch (e) { failed = true; throw e; } }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(n, items.length)) }, worker));
}

async function fileDataset(listing: FileListing, opts: OpenDatasetOptions): Promise<Dataset> {
  const size = opts.imageSize ?? 32, seed = opts.seed ?? 0;
  const warn = opts.onWarning ?? (() => {}); // skipped files are also listed in `skipped`
  const { items } = listing;

  // Assign splits on the full listing, so skipping a bad file never moves the others.
  const assigned: SplitName[] = new Array(items.length);
  if (listing.hasSplits) items.forEach((it, i) => { assigned[i] = it.split!; });
  else {
    const labels = items.map((it) => it.label);
    const grouped = items.length > 0 && items.every((it) => it.group !== undefined);
    const parts = grouped
      ? groupedStratifiedSplit(labels, items.map((it) => it.group!), { seed, fractions: opts.splitFractions })
      : stratifiedSplit(labels, { seed, fractions: opts.splitFractions });
    for (const s of SPLITS) for (const i of parts[s]) assigned[i] = s;
  }

  const load = new Set(wanted(opts));
  const todo = items.map((_, i) => i).filter((i) => load.has(assigned[i]));
  const sizes = new Array<number>(items.length).fill(-1);
  await pool(items, 8, async (it, i) => { try { sizes[i] = (await stat(it.path)).size; } catch { /* reported when decoded */ } });

  const describe = (it: LabeledFile) => (it.origin ? ` (listed at ${it.origin})` : '');
  const upscale = opts.upscale ?? 'warn';
  if (!UPSCALE_RULES.includes(upscale)) throw new Error(`upscale must be one of ${UPSCALE_RULES.join(', ')}, got ${JSON.stringify(upscale)}`);
  const content = opts.contentSize ?? size, fit = opts.fit ?? 'pad';
  let channels = opts.channels;
  const images = new Array<CompactImage | undefined>(items.length);
  const skipped: SkippedFile[] = [...(listing.skipped ?? [])];
  for (const s of listing.skipped ?? []) warn(`skipping ${s.path}: ${s.reason}`);
  // Notices once per data set (a count and an example), not once per file.
  const converted = [0, 0]; // [gray→RGB, RGB→gray]
  const masksMissing: string[] = [];
  let upscaled = 0, smallest: { path: string; width: number; height: number; factor: number } | null = null;
  const decodeOne = async (i: number) => {
    const it = items[i];
    try {
      const img = await decodeImage(it.path, undefined, { window: opts.dicomWindow });
      channels ??= img.channels; // default: the first decoded file's channel count
      const factor = upscaleFactor(img.width, img.height, content, fit);
      if (factor > 1) {
        const need = `${img.width}×${img.height} is smaller than the ${content}² ${content === size ? 'image size' : 'content size'} (${fit} fit scales it up ${factor.toFixed(2)}×)`;
        if (upscale === 'error') throw new Error(`${need}; use a smaller --image-size, or allow upscaling`);
        upscaled++;
        if (!smallest || factor > smallest.factor) smallest = { path: it.path, width: img.width, height: img.height, factor };
      }
      if (it.mask !== undefined) {
        // a missing mask only loses the overlay (counted below); one of another size would be misplaced
        const dims = await imageDimensions(it.mask).catch((e: Error) => {
          if (!/file not found/.test(e.message)) throw new Error(`its mask ${e.message}`);
          masksMissing.push(it.mask!);
          return null;
        });
        if (dims && (dims.width !== img.width || dims.height !== img.height)) {
          throw new Error(`its mask ${it.mask} is ${dims.width}×${dims.height}, the image is ${img.width}×${img.height}; masks must have their image's size`);
        }
      }
      const compact = await preprocessCompact(img, { size, channels, fit: opts.fit, contentSize: opts.contentSize });
      if (img.channels !== channels) converted[img.channels === 1 ? 0 : 1]++;
      images[i] = compact;
    } catch (e) {
      const reason = (e as Error).message.startsWith(it.path) ? (e as Error).message.slice(it.path.length).replace(/^:\s*/, '') : (e as Error).message;
      if (!opts.skipBad) throw new Error(`${it.path}: ${reason}${describe(it)}`);
      skipped.push({ path: it.path, reason });
      warn(`skipping ${it.path}: ${reason}${describe(it)}`);
    }
  };
  // The first readable file fixes the default channel count, so decode sequentially until one succeeds.
  let k = 0;
  while (channels === undefined && k < todo.length) await decodeOne(todo[k++]);
  await pool(todo.slice(k), opts.concurrency ?? 4, (i) => decodeOne(i));
  skipped.sort((a, b) => (a.path < b.path ? -1 : 1));
  if (todo.length > 0 && todo.every((i) => images[i] === undefined)) {
    const first = skipped[0]!;
    throw new Error(`${listing.source}: all ${todo.length} image files failed to load; first: ${first.path}: ${first.reason}`);
  }
  const target = channels ?? 1;
  converted.forEach((n, from) => {
    if (n > 0) warn(`${listing.source}: ${n} ${from === 0 ? 'grayscale' : 'colour'} image${n > 1 ? 's' : ''} of ${todo.length}: ${channelWords(from === 0 ? 1 : 3, target)} (${target} channel${target > 1 ? 's' : ''} expected)`);
  });
  const small = smallest as { path: string; width: number; height: number; factor: number } | null;
  if (upscaled > 0 && small) {
    warn(`${listing.source}: ${upscaled} of ${todo.length} images are smaller than ${content}² and were scaled up (most: ${small.path}, ${small.width}×${small.height}, ${small.factor.toFixed(2)}×); lower --image-size, or refuse them with upscale 'error'`);
  }

  if (masksMissing.length > 0) warn(`${listing.source}: ${masksMissing.length} mask file${masksMissing.length > 1 ? 's' : ''} not found (first: ${masksMissing.sort()[0]}); the images are kept, their masks cannot be read`);

  const parts = new Map<SplitName, DataSplit>();
  const labelsAll = Int32Array.from(items, (it) => it.label);
  for (const name of SPLITS) {
    if (!load.has(name)) continue;
    const ok = todo.filter((i) => assigned[i] === name && images[i]);
    const order = name === 'train' ? balanceIndices(ok, labelsAll, opts.balance ?? 'none', seed) : Int32Array.from(ok);
    const c = channels ?? 1;
    parts.set(name, {
      name, size: order.length, distinct: ok.length, shape: [size, size, c],
      labels: Int32Array.from(order, (j) => items[j].label),
      get(i) {
        checkIndex(i, order.length, `${listing.source} ${name}`);
        const j = order[i];
        // expanded per access: the float copy lives only as long as the batch that holds it
        return { image: expandCompact(images[j]!), label: items[j].label, path: items[j].path, ...(items[j].mask ? { mask: items[j].mask } : {}) };
      },
    });
  }

  const h = createHash('sha256').update(`${listing.kind}\0${JSON.stringify(listing.classNames)}\0`);
  items.forEach((it, i) => h.update(`${it.rel}\t${sizes[i]}\t${it.label}\t${assigned[i]}\n`));
  if (opts.balance && opts.balance !== 'none') h.update(`balance=${opts.balance},seed=${seed}`);
  return makeDataset({ kind: listing.kind, source: listing.source, classNames: listing.classNames, imageSize: size,
    channels: channels ?? 1, fingerprint: h.digest('hex').slice(0, 16), skipped, splits: [...parts.keys()],
    cacheBytes: images.reduce((a, x) => a + (x?.byteLength ?? 0), 0) }, parts);
}

export interface StackedSplit { images: Float32Array; labels: number[]; ids: string[]; count: number }

/**
 * Samples of a split as one NHWC array: the first `limit`, or `spread` of them evenly spaced over
 * the split (archive splits are often sorted by class), or exactly `indices`.
 */
export function stackSplit(split: DataSplit, opts: { limit?: number; spread?: boolean; indices?: number[] } = {}): StackedSplit {
  const n = opts.limit ? Math.min(opts.limit, split.size) : split.size;
  const idx = opts.indices ?? Array.from({ length: n }, (_, i) => (opts.spread ? Math.floor((i * split.size) / n) : i));
  const [h, w, c] = split.shape;
  const px = h * w * c;
  const images = new Float32Array(idx.length * px);
  const labels: number[] = [], ids: string[] = [];
  idx.forEach((j, i) => {
    const s = split.get(j);
    images.set(s.image, i * px);
    labels.push(s.label);
    ids.push(s.path ?? `${split.name}/${j}`);
  });
  return { images, labels, ids, count: idx.length };
}
