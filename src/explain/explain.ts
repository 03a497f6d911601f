// One explanation per image: the classifier's decision, the reconstruction for that class
// (factual) and for the target class (counterfactual), the difference map, and how faithful
// the counterfactual is (does the classifier now say the target? how much did it change?).
import { DiffusionClassifier, type ClassifyConfig, type ImageResult } from '../classify/index.ts';
import { counterfactuals, differenceMap, proximity, validateExplainConfig, type ExplainConfig, type ExplainModel } from './counterfactual.ts';

export interface Explanation {
  input: Float32Array;
  prediction: ImageResult;
  factual: number;
  target: number;
  /** Reconstruction per class (pixels, [−1, 1]). */
  reconstructions: Float32Array[];
  /** counterfactual − factual: signed for grayscale, |Δ| for colour. */
  difference: Float32Array;
  signed: boolean;
  /** The counterfactual classified again: did it flip to the target? */
  counterfactualPrediction: ImageResult;
  flipped: boolean;
  /** Noise level the counterfactual started from. */
  tExplain: number;
  proximity: { meanAbsDiff: number; fractionChanged: number };
  width: number;
  height: number;
  channels: number;
}

export interface ExplainRunOptions {
  explain?: Partial<ExplainConfig>;
  classify?: Partial<ClassifyConfig>;
  /** Target class for every image; default: the runner-up of the vote (the other class for two). */
  target?: number;
  onStep?: (step: number, steps: number) => void;
  /** Checked between the phases (classify, counterfactuals, flip check). */
  signal?: AbortSignal;
}

export function explainImages(m: ExplainModel, images: Float32Array, count: number, o: ExplainRunOptions = {}): Explanation[] {
  const K = m.classNames.length;
  if (o.target !== undefined && !(Number.isInteger(o.target) && o.target >= 0 && o.target < K)) {
    throw new Error(`explain: target class ${o.target} out of range; the model's classes are ${m.classNames.join(', ')}`);
  }
  const clf = new DiffusionClassifier(m, { n: 25, earlyStop: 'decided', ...o.classify, keepErrors: false });
  const preds = clf.classify(images, count, { signal: o.signal });
  o.signal?.throwIfAborted();
  const settings = validateExplainConfig(o.explain ?? {}, m.channels);
  const { tExplain } = settings;
  const cfs = counterfactuals(m, images, count, settings, o.onStep);
  const px = m.imageSize * m.imageSize * m.channels;
  const targets = preds.map((p) => {
    if (o.target !== undefined) return o.target;
    const order = p.votes.map((v, k) => [v, -p.meanErrors[k]!, k] as const).sort((a, b) => b[0] - a[0] || b[1] - a[1]);
    return order.find(([, , k]) => k !== p.predicted)![2];
  });
  const cfImages = new Float32Array(count * px);
  cfs.forEach((cf, i) => cfImages.set(cf.reconstructions[targets[i]!]!, i * px));
  o.signal?.throwIfAborted();
  const cfPreds = clf.classify(cfImages, count, { signal: o.signal });
  return preds.map((p, i) => {
    const cf = cfs[i]!;
    const input = images.slice(i * px, (i + 1) * px);
    const t = targets[i]!;
    return {
      input, prediction: p, factual: p.predicted, target: t, reconstructions: cf.reconstructions,
      difference: differenceMap(cf.reconstructions[p.predicted]!, cf.reconstructions[t]!, m.channels), signed: m.channels === 1,
      counterfactualPrediction: cfPreds[i]!, flipped: cfPreds[i]!.predicted === t, tExplain,
      proximity: proximity(input, cf.reconstructions[t]!), width: cf.width, height: cf.height, channels: cf.channels,
    };
  });
}
