// What every saved classifier shares, diffusion or discriminative: the one way pixels reach it
// (decode, channels, fit, pad, scale to [−1, 1]) and the data split it was trained on.
import { decodeImage, openDataset, parseSplitName, preprocessImage, stackSplit, type CsvColumns, type DecodedImage, type OpenDatasetOptions, type SplitName, type StackedSplit } from '../data/index.ts';
import type { ImageInput, Logger, PipelineConfig, PreprocessConfig } from './types.ts';

/** The preprocessing of a model that sees pixels (a baseline has no wavelet stage). */
export type ImagePreprocess = Omit<PreprocessConfig, 'wavelet'>;

export interface ImageModelConfig {
  preprocess: ImagePreprocess;
  classNames: string[];
  train?: Record<string, unknown>;
  data?: PipelineConfig['data'];
}

export abstract class ImageModel<C extends ImageModelConfig = ImageModelConfig> {
  constructor(readonly config: C) {}

  get classNames(): string[] { return this.config.classNames; }
  get preprocessing(): C['preprocess'] { return this.config.preprocess; }
  get imageSize(): number { return this.config.preprocess.imageSize; }
  get channels(): 1 | 3 { return this.config.preprocess.channels; }
  /** Values in one preprocessed image (imageSize² × channels). */
  get pixelsPerImage(): number { return this.imageSize * this.imageSize * this.channels; }

  /**
   * The only way an image reaches the model: decode (path or bytes), convert channels, fit to the
   * content size as the training data was, pad to the square, scale to [−1, 1]. Preprocessed
   * pixels (a Float32Array) are checked for size and passed through.
   */
  async preprocess(input: ImageInput, name?: string): Promise<Float32Array> {
    const p = this.config.preprocess;
    if (input instanceof Float32Array) {
      if (input.length !== this.pixelsPerImage) throw new Error(`${name ?? 'pixels'}: expected ${p.imageSize}×${p.imageSize}×${p.channels} = ${this.pixelsPerImage} values in [−1, 1], got ${input.length}`);
      return input;
    }
    const img: DecodedImage = typeof input === 'string' || input instanceof Uint8Array ? await decodeImage(input, name, { window: p.dicomWindow }) : input;
    return preprocessImage(img, { size: p.imageSize, contentSize: p.contentSize, channels: p.channels, fit: p.fit });
  }

  /** Several inputs as one NHWC batch; errors name the input (inputNames). */
  async preprocessBatch(inputs: readonly ImageInput[], names?: readonly string[]): Promise<Float32Array> {
    const px = this.pixelsPerImage, labels = inputNames(inputs, names);
    const out = new Float32Array(inputs.length * px);
    for (const [i, x] of inputs.entries()) out.set(await this.preprocess(x, labels[i]), i * px);
    return out;
  }

  /**
   * Inputs where some may be unreadable: the readable ones as one NHWC batch (in input order), and
   * per input its error or null. A batch of 100 scans with one bad file still answers the other 99.
   */
  async preprocessMany(inputs: readonly ImageInput[], names?: readonly string[], signal?: AbortSignal): Promise<{ batch: Float32Array; good: number[]; errors: (string | null)[]; names: string[] }> {
    const labels = inputNames(inputs, names), px = this.pixelsPerImage;
    const good: number[] = [], errors: (string | null)[] = [], pixels: Float32Array[] = [];
    for (const [i, x] of inputs.entries()) {
      signal?.throwIfAborted();
      try {
        pixels.push(await this.preprocess(x, labels[i]));
        good.push(i);
        errors.push(null);
      } catch (e) {
        errors.push((e as Error).message);
      }
    }
    const batch = new Float32Array(good.length * px);
    pixels.forEach((a, k) => batch.set(a, k * px));
    return { batch, good, errors, names: labels };
  }

  /**
   * A split of a data set as this model sees it (its preprocessing and split seed) as one NHWC
   * batch: all images, or `limit` of them spread evenly. `sameClasses` refuses data whose classes differ.
   */
  async loadSplit(data: string, split: string, o: { limit?: number; logger?: Logger; sameClasses?: boolean; csv?: CsvColumns } = {}): Promise<StackedSplit & { split: SplitName }> {
    const name = parseSplitName(split);
    if (!name) throw new Error(`split must be train, val or test, got '${split}'`);
    const ds = await openDataset(data, { ...this.datasetOptions(), ...(o.csv ? { csv: o.csv } : {}), split: name, onWarning: (m) => o.logger?.warn?.(m) });
    if (o.sameClasses && ds.classNames.join('\n') !== this.classNames.join('\n')) {
      throw new Error(`the model's classes (${this.classNames.join(', ')}) differ from the data's (${ds.classNames.join(', ')}); use data with the same classes`);
    }
    const s = stackSplit(ds.split(name), { limit: o.limit, spread: true });
    if (s.count === 0) throw new Error(`split '${name}' of ${data} is empty`);
    return { ...s, split: name };
  }

  /** Options that make openDataset see a data set exactly as this model's preprocessing does. */
  datasetOptions(): Pick<OpenDatasetOptions, 'imageSize' | 'contentSize' | 'channels' | 'fit' | 'dicomWindow' | 'seed' | 'csv'> {
    const p = this.config.preprocess, csv = this.config.data?.csv;
    // the CSV columns and filters training used (a CSV's split and rows depend on them)
    return { imageSize: p.imageSize, contentSize: p.contentSize, channels: p.channels, fit: p.fit, dicomWindow: p.dicomWindow, seed: this.splitSeed,
      ...(csv && typeof csv === 'object' ? { csv: csv as CsvColumns } : {}) };
  }

  /** Seed of the 80/10/10 split drawn at training time (sources without splits), so evaluation uses the same split. */
  get splitSeed(): number {
    const d = this.config.data?.splitSeed, t = this.config.train?.seed;
    return typeof d === 'number' ? d : typeof t === 'number' ? t : 0;
  }
}

/** How inputs are named in errors and results: the given name, the path, or `input i`. */
export function inputNames(inputs: readonly ImageInput[], names?: readonly string[]): string[] {
  return inputs.map((x, i) => names?.[i] ?? (typeof x === 'string' ? x : `input ${i}`));
}
