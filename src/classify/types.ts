import type { Aggregate, PruneConfig } from '../stats/index.ts';

export type { Aggregate, PruneConfig };
export type TimeSampling = 'uniform' | 'stratified' | 'grid';
export type EarlyStopRule = 'off' | 'decided' | 'confident' | 'paired';

/** Two-class decision by a calibrated threshold: `positive` when its vote share is ≥ threshold. */
export interface DecisionThreshold { positive: number; threshold: number }

export interface ClassifyConfig {
  /** Noise/time pairs per image (paper: 501; official code: 51). */
  n: number;
  /** t_k i.i.d. uniform, stratified (one per 1/N stratum, shuffled) or an evenly spaced grid (shuffled). */
  times: TimeSampling;
  /**
   * Diffusion times are drawn in [tMin, tMax] instead of (0, 1). Very noisy and nearly clean
   * pairs carry little class information but still cast a vote; a window fitted on validation
   * data (`meddiff calibrate --search-t`) drops them. [0, 1] is the paper's rule.
   */
  tRange: [number, number];
  aggregate: Aggregate;
  /**
   * Odd-numbered pairs see the left–right mirror of the image (test-time augmentation at no extra
   * cost): the vote then pools both views. Only for side-free images (ultrasound, dermoscopy) and
   * models trained with mirrored images (`meddiff train --hflip`); not for chest X-rays.
   */
  mirror: boolean;
  seed: number;
  /** Forward passes per model call (rows = pairs × classes). */
  batchSize: number;
  /**
   * 'decided': stop once the vote leader cannot be overtaken by the remaining pairs (never changes
   * the vote). 'confident': also stop when a sign test on the top-two vote counts is decisive
   * (p < alpha) after minPairs pairs (may change a few votes; measured in bench:classify).
   * 'paired': also stop, after minPairs pairs, once the probability that the remaining pairs change
   * the decision (majority, calibrated threshold; the mean by a paired t-test) is below alpha
   * (src/classify/stopping.ts). Its alpha, minPairs and chunk default to EARLY_STOP_DEFAULTS.paired.
   */
  earlyStop: EarlyStopRule;
  /** Pairs evaluated per image between early-stopping checks. */
  chunk: number;
  minPairs: number;
  alpha: number;
  /** Keep the per-pair errors in the results (needed for the vote-vs-mean table). */
  keepErrors: boolean;
  /**
   * A calibrated vote-share threshold (two classes; `meddiff calibrate`). With aggregate 'vote' it
   * sets `predicted`, and early stopping then keeps this decision as well as the plain majority.
   * `votePred` stays the plain majority vote. null: the plain majority vote.
   */
  decisionThreshold: DecisionThreshold | null;
  /**
   * Per-class offsets on the vote shares (any K; `meddiff calibrate` fits them for K > 2): with
   * aggregate 'vote', `predicted` = argmax_c share_c + offset_c. null: the plain majority vote.
   */
  classOffsets: number[] | null;
  /**
   * Staged class pruning (Li et al. 2023): every class on the first `afterPairs` pairs, then only
   * the `keep` classes with the lowest mean error on the rest, so an image costs
   * afterPairs·K + (N − afterPairs)·keep forward passes instead of N·K. The (t, ε) pairs are the
   * same as without pruning. A pruned class keeps the votes and the mean error it had after the
   * first pairs and gets no more; vote shares stay votes / pairs used, so they still sum to 1. The
   * mean-error decision is the lowest mean among the kept classes (meanDecision).
   * Early stopping then works on the classes still evaluated. null: off.
   */
  prune: PruneConfig | null;
}

export interface ImageResult {
  /** Prediction of the configured aggregation (vote: with the decision threshold when one is set). */
  predicted: number;
  /** Plain majority vote (ties: lower mean error), whatever the threshold. */
  votePred: number;
  meanPred: number;
  votes: number[];
  shares: number[];
  /** Vote entropy divided by log K: 0 = unanimous, 1 = evenly split. */
  entropy: number;
  meanErrors: number[];
  /** Row-major [pairsUsed × K] ε-errors (when keepErrors); NaN where a pruned class was not evaluated. */
  errors?: Float32Array;
  /** The diffusion time of each used pair (when keepErrors). */
  times?: Float64Array;
  pairsUsed: number;
  forwardPasses: number;
  /** The classes still evaluated after pruning (all of them when pruning is off or did not start). */
  keptClasses?: number[];
}
