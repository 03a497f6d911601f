/** Public types of the evaluation module. */

/**
 * What the diffusion classifier produced for one image (K classes, N noise/time pairs).
 * All per-class arrays have length K, indexed by class.
 */
export interface PredictionRecord {
  /** Image path or other stable identifier. */
  id: string;
  /** True class index in [0, K). */
  label: number;
  /** Majority-vote prediction (argmin per pair, most votes). */
  votePred: number;
  /** Mean-error prediction (argmin of the mean error over pairs). */
  meanPred: number;
  /** Votes per class (sum = pairsUsed). */
  votes: number[];
  /** Vote shares per class, votes / pairsUsed. */
  shares: number[];
  /** Normalised vote entropy H / log K in [0, 1] (0 = unanimous, 1 = evenly split). */
  entropy: number;
  /** Mean error per class over the pairs used. */
  meanErrors: number[];
  /** Optional raw per-pair errors, N*K row-major by pair (row k = pair k). Needed for the vote-vs-mean curve. */
  errors?: Float32Array;
  /** Pairs actually used (may be < N with early stopping). */
  pairsUsed: number;
  /** Denoiser forward passes spent on this image. */
  forwardPasses: number;
}

/** The two ways of turning per-pair errors into a class. */
export type Aggregate = 'vote' | 'mean';

/** Box-plot statistics (quartiles by linear interpolation, numpy/d3 'type 7'). NaN when n = 0. */
export interface BoxStats {
  n: number;
  min: number;
  q1: number;
  median: number;
  q3: number;
  max: number;
  mean: number;
}
