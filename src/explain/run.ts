// explain() as a library call, and the writer of its files (panels, index.html, explanations.json).
import path from 'node:path';
import { writeFileAtomic } from '../util/index.ts';
import { classifySettings, type ClassifyOptions } from '../classify/index.ts';
import type { DiffusionPipeline, ImageInput } from '../pipeline/index.ts';
import { explainImages, type Explanation } from './explain.ts';
import type { ExplainConfig } from './counterfactual.ts';
import { explanationGridPng, explanationPage, explanationTable } from './page.ts';

export interface ExplainOptions {
  explain?: Partial<ExplainConfig>;
  /** Settings of the classifications (the input's and the flip check's); the pipeline's calibration applies. Default N = 25, early stopping 'decided'. */
  classify?: ClassifyOptions;
  /** Target class (index or name) for every image; default: the runner-up (the other class for two). */
  target?: number | string;
  onStep?: (step: number, steps: number) => void;
  signal?: AbortSignal;
  names?: readonly string[];
}

function targetIndex(p: DiffusionPipeline, t: number | string | undefined): number | undefined {
  if (t === undefined) return undefined;
  const i = typeof t === 'number' ? t : p.classNames.indexOf(t);
  if (i >= 0 && i < p.classNames.length && Number.isInteger(i)) return i;
  const k = Number(t);
  if (typeof t === 'string' && Number.isInteger(k) && k >= 0 && k < p.classNames.length) return k;
  throw new Error(`unknown class '${t}'; the model's classes are: ${p.classNames.join(', ')}`);
}

/**
 * Counterfactual explanations of images: each reconstructed as every class from the same noise,
 * the difference map between the decision's class and the target, and whether the counterfactual
 * flips the decision (classified with the same, calibrated, rule as `classify`).
 */
export async function explain(p: DiffusionPipeline, inputs: ImageInput | readonly ImageInput[], o: ExplainOptions = {}): Promise<Explanation[]> {
  const list = Array.isArray(inputs) ? inputs as readonly ImageInput[] : [inputs as ImageInput];
  const images = await p.preprocessBatch(list, o.names);
  o.signal?.throwIfAborted();
  const { config } = classifySettings(p, { n: 25, earlyStop: 'decided', ...o.classify });
  return explainImages(p, images, list.length, { explain: o.explain, classify: config, target: targetIndex(p, o.target), onStep: o.onStep, signal: o.signal });
}

/** One record per explanation, as explanations.json holds them. */
export function explanationsJson(es: readonly Explanation[], classNames: readonly string[], ids: readonly string[], panels?: readonly string[]) {
  return es.map((e, i) => ({
    file: ids[i], prediction: classNames[e.factual], voteShare: e.prediction.shares[e.factual], entropy: e.prediction.entropy,
    target: classNames[e.target], tExplain: e.tExplain, flipped: e.flipped, counterfactualVoteShare: e.counterfactualPrediction.shares[e.target],
    ...e.proximity, ...(panels ? { panels: panels[i] } : {}),
  }));
}

/**
 * Write explanations to a folder: one PNG row of panels per image, index.html with all of them,
 * and explanations.json. Upload names never become paths: files are numbered, with the name only
 * as a sanitised suffix. Returns the page's path.
 */
export async function writeExplanations(outDir: string, es: readonly Explanation[], o: { ids: readonly string[]; classNames: readonly string[]; note?: string }): Promise<string> {
  const names = o.ids.map((f, i) => `${String(i).padStart(3, '0')}_${path.basename(f).replace(/\.[^.]+$/, '').replace(/[^\w.-]+/g, '_').slice(0, 60)}`);
  for (const [i, e] of es.entries()) writeFileAtomic(path.join(outDir, `${names[i]}.png`), await explanationGridPng([e]));
  const body = await explanationTable([...es], [...o.classNames], [...o.ids]);
  const page = path.join(outDir, 'index.html');
  writeFileAtomic(page, explanationPage(`meddiff explanations (${o.classNames.join(' vs ')})`, body + (o.note ? `<p><small>${o.note}</small></p>` : '')));
  writeFileAtomic(path.join(outDir, 'explanations.json'), JSON.stringify(explanationsJson(es, o.classNames, o.ids, names.map((n) => `${n}.png`)), null, 2) + '\n');
  return page;
}
