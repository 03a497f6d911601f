/** Public types of the evaluation module. */

import type { ImageResult } from '../classify/index.ts';

/**
 * What the diffusion classifier produced for one image (K classes, N noise/time pairs; see
 * ImageResult for the fields), with the image's id and true class.
 */
export type PredictionRecord = Omit<ImageResult, 'predicted'> & {
  /** Image path or other stable identifier. */
  id: string;
  /** True class index in [0, K). */
  label: number;
};

/** The two ways of turning per-pair errors into a class (defined in stats). */
export type { Aggregate } from '../stats/index.ts';

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
