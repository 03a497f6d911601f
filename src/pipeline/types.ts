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

/** A calibrated decision and the classify settings it was fitted with (`meddiff calibrate`). */
export type Calibration = ThresholdCalibration | OffsetsCalibration;

/** Two classes: a threshold on one class's vote share. */
export interface ThresholdCalibration extends CalibrationCommon {
  kind: 'vote-share-threshold';
  /** Class whose vote share is thresholded. */
  positive: number;
  /** Predict `positive` when its vote share ≥ threshold. */
  threshold: number;
  /** Platt scaling of the positive vote share s: P(positive) = σ(a·(s − 0.5) + b) (objective 'accuracy'). */
  platt?: { a: number; b: number };
}

/** K > 2 classes: per-class offsets on the vote shares, the decision argmax_c share_c + offsets[c]. */
export interface OffsetsCalibration extends CalibrationCommon {
  kind: 'vote-share-offsets';
  /** One per class, offsets[0] = 0 (only differences matter). */
  offsets: number[];
}

/** The fields every calibration kind has: where it was fitted, for which weights, with which pairs. */
interface CalibrationCommon {
  fittedOn: { split: string; images: number; n: number; balancedAccuracy: number; uncalibratedBalancedAccuracy: number; accuracy?: number; uncalibratedAccuracy?: number };
  /**
   * What the decision maximises on the fitting split: balanced accuracy (default; robust when the
   * class mix of new data differs) or accuracy (the fitting split's class mix is assumed to hold;
   * two classes: the threshold where the Platt-scaled probability of `positive` reaches 0.5).
   */
  objective?: CalibrationObjective;
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
   * Out-of-distribution flag: an image whose OOD score is above `threshold` is flagged as unlike
   * the training data. 'min-class-mean-error' (its lowest class mean denoising error; its spread
   * depends on N and the time window it was fitted with) or 'multiscale' (see MultiscaleOod).
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

/** Which out-of-distribution score a calibration's threshold is for (docs/reliability.md). */
export type OodScoreKind = 'min-class-mean-error' | 'multiscale';

/** The OOD threshold and, for the multiscale score, the Gaussian it measures distance from. */
export type OodCalibration = MinClassMeanErrorOod | MultiscaleOod;

/** v1: the lowest class mean ε-error over the classifier's own pairs; its threshold the `quantile` of the fitting split's scores. */
export interface MinClassMeanErrorOod {
  score: 'min-class-mean-error';
  threshold: number;
  quantile: number;
  fittedOn: { split: string; images: number; n: number; tRange: [number, number]; mirror: boolean };
}

/**
 * v2: the log ε-errors of the unconditional denoiser (the null class) at fixed diffusion `times`
 * (v3, `bands`: then the input's Haar-band statistics),
 * one noise draw each seeded by the image content and `seed`; the score is the Mahalanobis distance
 * of that vector from `mean` under `precision` (fitted on `trainImages` training images). The
 * threshold is conformal on the fitting split: its ⌈(n + 1)·quantile⌉-th smallest score. Independent
 * of the classify settings (N, window, mirror view).
 */
export interface MultiscaleOod {
  score: 'multiscale';
  threshold: number;
  quantile: number;
  times: number[];
  mean: number[];
  /** (covariance + ridge·I)⁻¹, times.length × times.length. */
  precision: number[][];
  ridge: number;
  trainImages: number;
  seed: number;
  /** v3: the vector also holds the input's 5 Haar-band statistics (mean and precision then have times.length + 5 rows). Absent: false. */
  bands?: boolean;
  /** `rank`: the threshold's rank among the `images` sorted scores; `capped`: ⌈(n + 1)·quantile⌉ exceeded n. */
  fittedOn: { split: string; images: number; rank: number; capped: boolean };
}
