// Public types of the pipeline module: what a saved model folder holds, and what reaches it.
import type { DecodedImage, DicomWindowRule, FitMode } from '../data/index.ts';
import type { HaarScale, ScheduleConfig } from '../diffusion/index.ts';
import type { DenoiserConfig } from '../models/index.ts';

/** How pixels become the model's input: the one description shared by training, classify, explain and evaluate. */
export interface PreprocessConfig {
  /** 1 = grayscale, 3 = RGB. */
  channels: 1 | 3;
  /** Side of the square pixel image (twice the side of the array the denoiser sees). */
  imageSize: number;
  /** Side of the content inside the square; the rest is black padding (28 in 32 for MedMNIST). */
  contentSize: number;
  /** How an image of another shape is fitted to contentSize² (MedMNIST centre-crops: 'crop'). */
  fit: FitMode;
  /** Haar stages between pixels and the denoiser (one: side / 2, channels × 4) and their scaling. */
  wavelet: { levels: 1; scale: HaarScale };
  /**
   * How DICOM values become [0, 1]: 'voi' (the file's Window Center/Width when present, else the
   * data range) or 'range' (always the data range, as every model trained before VOI support).
   */
  dicomWindow: DicomWindowRule;
}

export const PIPELINE_FORMAT = 'meddiff-pipeline';
export const PIPELINE_VERSION = 2;

/**
 * config.json of a model folder. `model`, `train`, `data` and `classNames` are as in version 1
 * (folders from before the pipeline have only those); `preprocess` and `schedule` make the
 * folder self-describing, so no reader rebuilds them by hand.
 */
export interface PipelineConfig {
  format: typeof PIPELINE_FORMAT;
  version: number;
  model: DenoiserConfig;
  preprocess: PreprocessConfig;
  schedule: ScheduleConfig;
  classNames: string[];
  /** The training settings (free-form here; the trainer validates them). */
  train?: Record<string, unknown>;
  /** Where the training data came from: a path relative to the working directory, its split seed. */
  data?: { path?: string; kind?: string; splitSeed?: number; limit?: number | null; [k: string]: unknown };
}

/**
 * What can be classified or explained: a file path, the bytes of a file (PNG, JPEG, TIFF, DICOM),
 * an already decoded image, or pixels already preprocessed to the model's square (HWC in [−1, 1]).
 */
export type ImageInput = string | Uint8Array | DecodedImage | Float32Array;

/** Where the library reports. Every method is optional; the default logger says nothing. */
export interface Logger {
  info?(message: string): void;
  warn?(message: string): void;
}

/** A vote-share threshold and the classify settings it was fitted with (`meddiff calibrate`). */
export interface Calibration {
  kind: 'vote-share-threshold';
  /** Class whose vote share is thresholded. */
  positive: number;
  /** Predict `positive` when its vote share ≥ threshold. */
  threshold: number;
  fittedOn: { split: string; images: number; n: number; balancedAccuracy: number; uncalibratedBalancedAccuracy: number; accuracy?: number; uncalibratedAccuracy?: number };
  /**
   * What the threshold maximises: balanced accuracy (default; robust when the class mix of new data
   * differs from the fitting split's) or accuracy (the fitting split's class mix is assumed to hold:
   * the threshold is where the Platt-scaled probability of `positive` reaches 0.5).
   */
  objective?: CalibrationObjective;
  /** Platt scaling of the positive vote share s: P(positive) = σ(a·(s − 0.5) + b) (objective 'accuracy'). */
  platt?: { a: number; b: number };
  /** The exact weights it was fitted for (SHA-256 of the weight file); other weights ignore it. */
  weightsSha256?: string;
  /**
   * The diffusion-time window fitted on the same data (`meddiff calibrate --search-t`); the
   * threshold was fitted on votes from this window, and the classifier draws its pairs in it.
   */
  tRange?: [number, number];
  /** Fitted with the mirror view on alternate pairs (`--mirror`); the classifier then uses it too. */
  mirror?: boolean;
  /**
   * Out-of-distribution flag: an image whose OOD score (its lowest class mean denoising error) is
   * above `threshold` — the `quantile` of the fitting split's scores — is flagged as unlike the
   * training data. The score's spread depends on N and the time window it was fitted with.
   */
  ood?: OodCalibration;
  window?: {
    fullRangeBalancedAccuracy: number; windowsTried: number; pairsPerImage: number;
    /** The best window found and its bootstrap p-value; tRange is [0, 1] when p ≥ significance. */
    searched?: { tRange: [number, number]; balancedAccuracy: number; pValue: number };
    significance?: number;
  };
}

export type CalibrationObjective = 'balanced-accuracy' | 'accuracy';

export interface OodCalibration {
  score: 'min-class-mean-error';
  threshold: number;
  quantile: number;
  fittedOn: { split: string; images: number; n: number; tRange: [number, number]; mirror: boolean };
}
