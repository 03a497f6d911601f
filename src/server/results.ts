// Classifications and explanations as the API answers them (api-types.ts): class names as keys,
// a sentence on how sure the model is, and the explanation's pictures as PNG data: URLs.
import { classificationJson, type Classification } from '../classify/index.ts';
import { differenceImage, differenceOverlayImage, encodePng, mapScale, toUint8, upscale, type Explanation, type PixelImage } from '../explain/index.ts';
import type { ClassifyResponse, ExplainResponse } from './api-types.ts';

/** The response fields the worker fills in; the server adds request id, model, file, type and total time. */
export type ClassifyResult = Omit<ClassifyResponse, 'requestId' | 'model' | 'file' | 'type' | 'totalSeconds'>;
export type ExplainResult = Omit<ExplainResponse, 'requestId' | 'model' | 'file' | 'type' | 'totalSeconds' | 'classification'> & { classification: ClassifyResult };

/** One line on what the uncertainty means for this answer. */
export function uncertaintyText(c: Classification, classNames: readonly string[]): string {
  const u = c.uncertainty;
  const level = u < 0.3 ? 'Confident' : u < 0.7 ? 'Fairly sure' : 'Unsure';
  const votes = c.votes[c.predicted]!, of = c.pairsUsed;
  const why = c.threshold
    ? `the '${c.threshold.className}' vote share ${c.shares[c.threshold.positive]!.toFixed(2)} is ${u < 0.3 ? 'far from' : u < 0.7 ? 'some way from' : 'close to'} the calibrated threshold ${c.threshold.value.toFixed(2)}`
    : `${votes} of ${of} noise draws vote '${classNames[c.predicted]}'`;
  const advice = u >= 0.7 ? ': treat this answer as uncertain and have it checked.' : '.';
  const ood = c.ood?.flagged ? ' The image also looks unlike the training data, so even a confident answer should not be trusted.' : '';
  return `${level} (uncertainty ${u.toFixed(2)}): ${why}${advice}${ood}`;
}

export function classifyResult(c: Classification, classNames: readonly string[], seconds: number): ClassifyResult {
  const j = classificationJson(c, classNames);
  return {
    ...j, uncertaintyText: uncertaintyText(c, classNames),
    shares: Object.fromEntries(classNames.map((n, k) => [n, c.shares[k]!])), seconds,
  };
}

/** Pictures are upscaled (nearest neighbour) to about 128 px so they read at a glance. */
function displayFactor(width: number): number {
  return Math.max(1, Math.round(128 / width));
}

async function pngUrl(img: PixelImage): Promise<string> {
  return `data:image/png;base64,${(await encodePng(img)).toString('base64')}`;
}

export async function explainResult(e: Explanation, c: Classification, classNames: readonly string[], seconds: number): Promise<ExplainResult> {
  const { width: w, height: h } = e, ch = e.channels as 1 | 3, f = displayFactor(w);
  const scale = mapScale(e.difference);
  const reconstructions: Record<string, string> = {};
  for (const [k, r] of e.reconstructions.entries()) reconstructions[classNames[k]!] = await pngUrl(upscale(toUint8(r, w, h, ch), f));
  return {
    classification: classifyResult(c, classNames, 0),
    factual: classNames[e.factual]!, target: classNames[e.target]!, tExplain: e.tExplain, flipped: e.flipped,
    counterfactualVoteShare: e.counterfactualPrediction.shares[e.target]!,
    meanAbsDiff: e.proximity.meanAbsDiff, fractionChanged: e.proximity.fractionChanged, signed: e.signed,
    width: w * f, height: h * f,
    images: {
      input: await pngUrl(upscale(toUint8(e.input, w, h, ch), f)),
      reconstructions,
      difference: await pngUrl(upscale(differenceImage(e.difference, w, h, e.signed, scale), f)),
      differenceOverlay: await pngUrl(upscale(differenceOverlayImage(e.difference, w, h, e.signed, scale), f)),
    },
    seconds,
  };
}
