// evaluate() for a discriminative baseline: classify a split with every uncertainty method asked
// for (softmax; temperature when calibrated; MC dropout; a deep ensemble) and write the report once.
import path from 'node:path';
import { classifyBaselinePixels, type BaselineClassifyOptions } from '../classify/index.ts';
import type { CsvColumns } from '../data/index.ts';
import type { BaselinePipeline, Logger } from '../pipeline/index.ts';
import { defaultPositiveClass } from '../stats/index.ts';
import { portablePath } from '../util/index.ts';
import { baselineLabel, writeBaselineReport, type BaselineMethod, type BaselineReportSummary } from './baseline-report.ts';

export interface EvaluateBaselineOptions {
  data: string;
  split?: string;
  limit?: number;
  csv?: CsvColumns;
  out: string;
  /** MC dropout passes (0/undefined: off). */
  mcDropout?: number;
  /** Other members of a deep ensemble (the model itself is the first). */
  ensemble?: readonly BaselinePipeline[];
  /** false: ignore a stored temperature calibration. */
  calibration?: boolean;
  positive?: string;
  seed?: number;
  /** Images per forward pass (default 64). */
  batchSize?: number;
  logger?: Logger;
  signal?: AbortSignal;
  onProgress?: BaselineClassifyOptions['onProgress'];
}

export async function evaluateBaseline(bp: BaselinePipeline, o: EvaluateBaselineOptions): Promise<BaselineReportSummary> {
  const { split, images, labels, ids: rawIds, count } = await bp.loadSplit(o.data, o.split ?? 'test', { limit: o.limit, logger: o.logger, sameClasses: true, csv: o.csv });
  const ids = rawIds.map((id) => (path.isAbsolute(id) ? portablePath(id) : id));
  const t0 = performance.now();
  const r = classifyBaselinePixels(bp, images, count, { mcDropout: o.mcDropout, ensemble: o.ensemble, calibration: o.calibration, seed: o.seed, batchSize: o.batchSize, signal: o.signal, onProgress: o.onProgress });
  const seconds = (performance.now() - t0) / 1000;
  // the primary method first: its accuracy is the model's
  const order = [r.primary, ...(['softmax', 'temperature', 'mc-dropout', 'ensemble'] as const).filter((m) => m !== r.primary)];
  const methods: BaselineMethod[] = order.filter((m) => r.methods[m]).map((m) => ({
    method: m,
    records: r.methods[m]!.map((x, i) => ({ id: ids[i]!, label: labels[i]!, prediction: x.prediction, probabilities: x.probabilities, ...(x.mutualInformation !== undefined ? { mutualInformation: x.mutualInformation } : {}) })),
  }));
  let positive = defaultPositiveClass(bp.classNames);
  if (o.positive !== undefined) {
    positive = bp.classNames.indexOf(o.positive);
    if (positive < 0) throw new Error(`--positive '${o.positive}' is not a class of the model (${bp.classNames.join(', ')})`);
  }
  const members = o.ensemble?.length ? [bp, ...o.ensemble] : [bp];
  const minutes = members.every((m) => m.trainingSeconds !== null) ? members.reduce((a, m) => a + m.trainingSeconds!, 0) / 60 : null;
  return writeBaselineReport(o.out, {
    methods, classNames: bp.classNames, positive,
    model: {
      dir: portablePath(bp.dir ?? '.'), arch: bp.arch, label: baselineLabel(bp.arch, { mcDropout: o.mcDropout, ensemble: members.length }),
      parameters: bp.net.parameterCount(), trainingMinutes: minutes, step: bp.step,
      ...(members.length > 1 ? { members: members.map((m) => portablePath(m.dir ?? '.')) } : {}),
      pretrained: false,
    },
    settings: { primary: r.primary, mcDropout: o.mcDropout ?? null, ensemble: members.length > 1 ? members.length : null, temperature: r.temperature, seed: o.seed ?? 0, limit: o.limit ?? null },
    data: { source: portablePath(o.data), split },
    timing: { totalSeconds: seconds, secondsPerImage: seconds / count, forwardPassesPerImage: r.forwardPassesPerImage },
    title: `${baselineLabel(bp.arch, { mcDropout: o.mcDropout, ensemble: members.length })} evaluation`,
  });
}
