// An independent judge for counterfactuals (issue 17 item 5): a discriminative model classifies the
// counterfactual images, so the flip rate is not only the diffusion classifier's own verdict on
// images it made itself.
import { classifyBaselinePixels } from '../classify/index.ts';
import type { DecodedImage } from '../data/index.ts';
import type { BaselinePipeline } from '../pipeline/index.ts';
import { escapeHtml } from '../util/index.ts';

export interface JudgeResult {
  judge: string;
  images: number;
  /** The judge calls the counterfactual its target class. */
  flipRate: number;
  /** The judge agrees with the diffusion classifier on the original image. */
  agreementOnInputs: number;
  /** Among images where the judge agreed on the input: how many counterfactuals it sees flipped. */
  flipRateWhereAgreed: number | null;
}

/**
 * Model pixels ([−1, 1], the content centred in a side² square as the diffusion model's
 * preprocessing pads it) → an 8-bit image of the content alone, as a PNG of it would hold.
 */
export function contentImage(pixels: Float32Array, side: number, contentSize: number, channels: 1 | 3, name: string): DecodedImage {
  const off = Math.floor((side - contentSize) / 2);
  const data = new Uint8Array(contentSize * contentSize * channels);
  for (let y = 0; y < contentSize; y++) {
    for (let x = 0; x < contentSize; x++) {
      for (let c = 0; c < channels; c++) {
        const v = pixels[((y + off) * side + (x + off)) * channels + c]!;
        data[(y * contentSize + x) * channels + c] = Math.round(Math.min(1, Math.max(0, (v + 1) / 2)) * 255);
      }
    }
  }
  return { data, width: contentSize, height: contentSize, channels, bitDepth: 8, format: 'png', path: name };
}

/** The judge's verdicts on inputs and counterfactuals (pixels of the diffusion model's preprocessing). */
export async function judgeCounterfactuals(
  judge: BaselinePipeline,
  model: { classNames: string[]; imageSize: number; channels: 1 | 3; preprocessing: { contentSize: number } },
  items: readonly { input: Float32Array; counterfactual: Float32Array; factual: number; target: number }[],
): Promise<JudgeResult> {
  if (judge.classNames.join('\n') !== model.classNames.join('\n')) {
    throw new Error(`--judge: ${judge.dir ?? 'the judge'} has classes ${judge.classNames.join(', ')}, the diffusion model ${model.classNames.join(', ')}; a judge needs the same classes`);
  }
  if (judge.channels !== model.channels) throw new Error(`--judge: ${judge.dir ?? 'the judge'} sees ${judge.channels} channel(s), the diffusion model ${model.channels}`);
  const k = items.length, px = judge.pixelsPerImage;
  if (k === 0) throw new Error('--judge: no explanations to judge');
  const inputs = new Float32Array(k * px), cfs = new Float32Array(k * px);
  for (const [i, it] of items.entries()) {
    inputs.set(await judge.preprocess(contentImage(it.input, model.imageSize, model.preprocessing.contentSize, model.channels, `input ${i}`)), i * px);
    cfs.set(await judge.preprocess(contentImage(it.counterfactual, model.imageSize, model.preprocessing.contentSize, model.channels, `counterfactual ${i}`)), i * px);
  }
  const onInputs = classifyBaselinePixels(judge, inputs, k, { calibration: false }).methods.softmax!;
  const onCfs = classifyBaselinePixels(judge, cfs, k, { calibration: false }).methods.softmax!;
  let flips = 0, agree = 0, flipsAgreed = 0;
  items.forEach((it, i) => {
    const flipped = onCfs[i]!.prediction === it.target, agreed = onInputs[i]!.prediction === it.factual;
    if (flipped) flips++;
    if (agreed) { agree++; if (flipped) flipsAgreed++; }
  });
  return { judge: judge.dir ?? judge.arch, images: k, flipRate: flips / k, agreementOnInputs: agree / k, flipRateWhereAgreed: agree ? flipsAgreed / agree : null };
}

export function judgeSectionHtml(j: JudgeResult): string {
  const pc = (x: number | null) => (x === null ? 'n/a' : `${(100 * x).toFixed(1)}%`);
  return `<p>Independent judge <code>${escapeHtml(j.judge)}</code> (a discriminative model that took no part in making the counterfactuals): `
    + `it calls <b>${pc(j.flipRate)}</b> of ${j.images} counterfactuals their target class; it agrees with the diffusion classifier on ${pc(j.agreementOnInputs)} of the original images, `
    + `and where it agrees, ${pc(j.flipRateWhereAgreed)} of the counterfactuals flip in its eyes.</p>`;
}
