/**
 * The evaluation report: report.json (fractions in [0, 1]), predictions.csv, the plots as SVG and
 * PNG, and one self-contained report.html (inline CSS and SVG, no scripts, no external links).
 */
import { PAGE_CSS } from './failure-html.ts';
import path from 'node:path';
import { escapeHtml, writeFileAtomic } from '../util/index.ts';
import { voteVsMeanTable, type VoteVsMeanRow } from './curves.ts';
import { predictionsCsv } from './csv.ts';
import { summarize, type AggregateMetrics } from '../stats/index.ts';
import { entropyBoxSpec, prefixSvgIds, renderPlot, uncertaintyCurveSpec, voteVsMeanSpec, type RenderedPlot } from './plots.ts';
import type { Aggregate, BoxStats, PredictionRecord } from './types.ts';
import {
  accuracyAfterRemoving, meanErrorMargin, DEFAULT_REMOVAL_FRACTIONS, entropyGroups, errorDetectionAuroc,
  type EntropyGroupName, type RemovalPoint,
} from './uncertainty.ts';

/** Free-form description of the model (name, checkpoint, parameters, training time, …). */
export type ModelInfo = Record<string, string | number | boolean | null | undefined>;

export interface ReportTimings {
  /** Wall-clock seconds for classifying all images. */
  totalSeconds?: number;
  secondsPerImage?: number;
  forwardPassesPerSecond?: number;
  [key: string]: number | undefined;
}

export interface ReportSettings {
  /** Pairs (noise, time) per image. */
  N: number;
  /** The decision rule reported as the model's answer. */
  aggregate: Aggregate;
  seed?: number | string;
  /** Which split was evaluated ('test', 'val', …). */
  split?: string;
  timings?: ReportTimings;
  [key: string]: unknown;
}

/** A caller-supplied HTML section; `html` is inserted as is (the title is escaped). */
export interface ReportSection {
  title: string;
  html: string;
}

export interface ReportInput {
  records: PredictionRecord[];
  classNames: readonly string[];
  model?: ModelInfo;
  settings: ReportSettings;
  /** Positive class for binary metrics (default 1). */
  positive?: number;
  /** Fractions for the accuracy-after-removing curve (default 0, 0.05, …, 0.5). */
  fractions?: readonly number[];
  /** Page title (default 'Diffusion classifier evaluation'). */
  title?: string;
  extraSections?: readonly ReportSection[];
  /** ISO timestamp to record (default now). */
  createdAt?: string;
  /** Render the plots (default true). */
  plots?: boolean;
  /** The calibrated decision's figures (evaluate with a calibration), stored in report.json as is. */
  calibrated?: Record<string, unknown> | null;
  /** Counterfactual figures (evaluate --explain), stored in report.json as is. */
  explanations?: Record<string, number> | null;
  /** Out-of-distribution detection figures (evaluate --ood), stored in report.json as is. */
  ood?: object | null;
}

export interface ReportTiming {
  images: number;
  totalForwardPasses: number;
  meanForwardPassesPerImage: number;
  meanPairsUsed: number;
  totalSeconds: number | null;
  secondsPerImage: number | null;
  forwardPassesPerSecond: number | null;
  /** Any other timings the caller passed, in seconds. */
  other: Record<string, number>;
}

export interface ReportEntropyGroup {
  group: EntropyGroupName;
  title: string;
  stats: BoxStats;
}

/** Contents of report.json. Rates are fractions in [0, 1]; undefined values are null (NaN in memory). */
export interface ReportSummary {
  reportVersion: 1;
  title: string;
  createdAt: string;
  data: {
    images: number;
    classes: number;
    classNames: string[];
    /** Images per true class. */
    classCounts: number[];
    /** Positive class for sensitivity/specificity/AUROC (binary only, else null). */
    positive: number | null;
  };
  model: ModelInfo;
  settings: ReportSettings;
  /** The rule given as the model's answer (settings.aggregate). */
  primary: Aggregate;
  vote: AggregateMetrics;
  mean: AggregateMetrics;
  uncertainty: {
    /** Uncertainty is the normalised vote entropy; the curve and groups use the vote prediction. */
    rule: 'vote';
    /** How images with the same vote entropy are ordered in the curve. */
    tieBreak: 'mean-error margin';
    meanEntropy: number;
    curve: RemovalPoint[];
    errorDetectionAuroc: number;
    groups: ReportEntropyGroup[];
  };
  /** Vote vs mean from the first n pairs of every image; null when the records carry no per-pair errors. */
  voteVsMean: VoteVsMeanRow[] | null;
  timing: ReportTiming;
  /** The calibrated decision beside the plain vote (what `classify` answers), when a calibration applied. */
  calibrated?: Record<string, unknown>;
  /** Flip rate and proximity of the counterfactuals, when explanations were made. */
  explanations?: Record<string, number>;
  /** OOD detection against other data sets (evaluate --ood). */
  ood?: object;
  /** Files written, relative to the report folder. */
  files: string[];
}

const PLOT_NAMES = { curve: 'uncertainty_curve', groups: 'entropy_groups', voteVsMean: 'vote_vs_mean' } as const;

/**
 * Write report.json, predictions.csv, the plots (SVG + PNG) and report.html into outDir.
 * Returns the summary written to report.json.
 */
export async function writeReport(outDir: string, input: ReportInput): Promise<ReportSummary> {
  const { records, classNames, settings } = input;
  const K = classNames.length;
  if (K < 2) throw new Error(`writeReport: need at least 2 class names, got ${K}`);
  if (records.length === 0) throw new Error('writeReport: no prediction records');
  if (!Number.isInteger(settings.N) || settings.N < 1) throw new Error(`writeReport: settings.N must be a positive integer, got ${settings.N}`);
  if (settings.aggregate !== 'vote' && settings.aggregate !== 'mean') {
    throw new Error(`writeReport: settings.aggregate must be 'vote' or 'mean', got '${String(settings.aggregate)}'`);
  }
  const positive = input.positive ?? 1;
  const summary = buildSummary(input, positive);

  const files: string[] = [];
  const put = (name: string, data: string | Uint8Array) => {
    writeFileAtomic(path.join(outDir, name), data);
    files.push(name);
  };

  const plots: Partial<Record<keyof typeof PLOT_NAMES, RenderedPlot>> = {};
  if (input.plots !== false) {
    plots.curve = await renderPlot(uncertaintyCurveSpec(summary.uncertainty.curve));
    const groups = entropyGroups(records.map((r) => r.label), records.map((r) => r.votePred), records.map((r) => r.entropy), K, { positive });
    plots.groups = await renderPlot(entropyBoxSpec(groups, { classNames, positive }));
    if (summary.voteVsMean && summary.voteVsMean.length > 0) plots.voteVsMean = await renderPlot(voteVsMeanSpec(summary.voteVsMean));
    for (const key of Object.keys(plots) as (keyof typeof PLOT_NAMES)[]) {
      put(`${PLOT_NAMES[key]}.svg`, plots[key]!.svg);
      put(`${PLOT_NAMES[key]}.png`, plots[key]!.png);
    }
  }
  put('predictions.csv', predictionsCsv(records, classNames));
  put('report.html', reportHtml(summary, plots, input.extraSections ?? []));
  summary.files = [...files, 'report.json'];
  writeFileAtomic(path.join(outDir, 'report.json'), JSON.stringify(summary, null, 2) + '\n');
  return summary;
}

function buildSummary(input: ReportInput, positive: number): ReportSummary {
  const { records, classNames, settings } = input;
  const K = classNames.length;
  const s = summarize(records, K, { positive });
  const yTrue = records.map((r) => r.label);
  const votePred = records.map((r) => r.votePred);
  const entropy = records.map((r) => r.entropy);
  const correct = records.map((r) => r.votePred === r.label);
  const classCounts = new Array<number>(K).fill(0);
  for (const y of yTrue) classCounts[y]!++;
  const withErrors = records.every((r) => r.errors && r.errors.length >= K);
  const totalForwardPasses = records.reduce((a, r) => a + r.forwardPasses, 0);
  const t = settings.timings ?? {};
  const totalSeconds = finiteOrNull(t.totalSeconds);
  const other: Record<string, number> = {};
  for (const [k, v] of Object.entries(t)) {
    if (!['totalSeconds', 'secondsPerImage', 'forwardPassesPerSecond'].includes(k) && typeof v === 'number') other[k] = v;
  }
  return {
    reportVersion: 1,
    title: input.title ?? 'Diffusion classifier evaluation',
    createdAt: input.createdAt ?? new Date().toISOString(),
    data: { images: records.length, classes: K, classNames: [...classNames], classCounts, positive: K === 2 ? positive : null },
    model: { ...(input.model ?? {}) },
    settings: { ...settings },
    primary: settings.aggregate,
    vote: s.vote,
    mean: s.mean,
    uncertainty: {
      rule: 'vote',
      meanEntropy: entropy.reduce((a, b) => a + b, 0) / entropy.length,
      tieBreak: 'mean-error margin',
      curve: accuracyAfterRemoving(correct, entropy, input.fractions ?? DEFAULT_REMOVAL_FRACTIONS, records.map((r) => meanErrorMargin(r.meanErrors))),
      errorDetectionAuroc: errorDetectionAuroc(correct, entropy),
      groups: entropyGroups(yTrue, votePred, entropy, K, { positive }).map(({ group, title, stats }) => ({ group, title, stats })),
    },
    voteVsMean: withErrors ? voteVsMeanTable(records, K) : null,
    timing: {
      images: records.length,
      totalForwardPasses,
      meanForwardPassesPerImage: totalForwardPasses / records.length,
      meanPairsUsed: records.reduce((a, r) => a + r.pairsUsed, 0) / records.length,
      totalSeconds,
      secondsPerImage: finiteOrNull(t.secondsPerImage) ?? (totalSeconds !== null ? totalSeconds / records.length : null),
      forwardPassesPerSecond: finiteOrNull(t.forwardPassesPerSecond) ?? (totalSeconds ? totalForwardPasses / totalSeconds : null),
      other,
    },
    ...(input.calibrated ? { calibrated: input.calibrated } : {}),
    ...(input.explanations ? { explanations: input.explanations } : {}),
    ...(input.ood ? { ood: input.ood } : {}),
    files: [],
  };
}

function finiteOrNull(x: number | undefined): number | null {
  return typeof x === 'number' && Number.isFinite(x) ? x : null;
}

// ---------------------------------------------------------------- HTML

/** A fraction as a percentage with one decimal ('–' when undefined). */
export function pct(x: number | null | undefined, digits = 1): string {
  return typeof x === 'number' && Number.isFinite(x) ? `${(100 * x).toFixed(digits)}%` : '–';
}

function num(x: number | null | undefined, digits = 3): string {
  return typeof x === 'number' && Number.isFinite(x) ? (Number.isInteger(x) ? String(x) : x.toFixed(digits)) : '–';
}

function table(head: string[], rows: string[][], cls = ''): string {
  return `<table${cls ? ` class="${cls}"` : ''}><thead><tr>${head.map((h) => `<th>${h}</th>`).join('')}</tr></thead>`
    + `<tbody>${rows.map((r) => `<tr>${r.map((c, i) => (i === 0 ? `<th scope="row">${c}</th>` : `<td>${c}</td>`)).join('')}</tr>`).join('')}</tbody></table>`;
}

function figure(plot: RenderedPlot | undefined, id: string, caption: string): string {
  if (!plot) return '';
  const svg = prefixSvgIds(plot.svg.replace(/^<\?xml[^>]*>\s*/, ''), `${id}-`);
  return `<figure>${svg}<figcaption>${escapeHtml(caption)}</figcaption></figure>`;
}

function confusionHtml(cm: number[][], names: readonly string[]): string {
  const head = ['Actual ↓ / Model →', ...names.map((n) => escapeHtml(n)), 'Total'];
  const rows = cm.map((row, i) => {
    const total = row.reduce((a, b) => a + b, 0);
    const cells = row.map((v, j) => {
      const share = total > 0 ? v / total : 0;
      const bg = `rgba(${i === j ? '31,95,158' : '217,95,2'},${(0.08 + 0.6 * share).toFixed(3)})`;
      return `<span class="cell" style="background:${bg}">${v}<small>${total > 0 ? pct(share, 0) : ''}</small></span>`;
    });
    return [escapeHtml(names[i] ?? String(i)), ...cells, String(total)];
  });
  return table(head, rows, 'confusion');
}

// the page style shared with the baseline and comparison pages, plus the confusion-matrix cells
const CSS = PAGE_CSS + `.confusion .cell{display:block;padding:.2em .4em;border-radius:3px}.confusion small{display:block;color:#333;font-size:.8em}
`;

const RULE_NAME: Record<Aggregate, string> = { vote: 'Majority vote', mean: 'Mean error' };

function reportHtml(s: ReportSummary, plots: Partial<Record<keyof typeof PLOT_NAMES, RenderedPlot>>, extra: readonly ReportSection[]): string {
  const names = s.data.classNames;
  const binary = s.data.classes === 2;
  const primary = s[s.primary];
  const posName = binary ? names[s.data.positive!]! : '';
  const e = escapeHtml;
  const parts: string[] = [];

  const settingsBits = [
    `${s.data.images} images`, `${s.data.classes} classes (${names.map(e).join(', ')})`,
    `N = ${s.settings.N} noise samples per image`, `decision rule: ${RULE_NAME[s.primary].toLowerCase()}`,
  ];
  if (s.settings.split) settingsBits.push(`split: ${e(String(s.settings.split))}`);
  if (s.settings.seed !== undefined) settingsBits.push(`seed ${e(String(s.settings.seed))}`);
  parts.push(`<h1>${e(s.title)}</h1><p class="lead">${settingsBits.join(' · ')}</p>`);

  // Key numbers.
  const cards: [string, string][] = [
    [pct(primary.accuracy), 'Accuracy'],
    [pct(primary.balancedAccuracy), 'Balanced accuracy'],
    [pct(primary.auroc), 'AUROC'],
  ];
  if (binary) cards.push([pct(primary.sensitivity), `Sensitivity (${e(posName)})`], [pct(primary.specificity), 'Specificity']);
  parts.push('<h2>Summary</h2>');
  parts.push(`<p class="note">Results of the ${RULE_NAME[s.primary].toLowerCase()} rule on ${s.data.images} images `
    + `(${names.map((n, i) => `${e(n)}: ${s.data.classCounts[i]}`).join(', ')}).</p>`);
  parts.push(`<div class="cards">${cards.map(([v, l]) => `<div class="card"><b>${v}</b><span>${l}</span></div>`).join('')}</div>`);

  const metricRows: [string, (m: AggregateMetrics) => string][] = [
    ['Accuracy', (m) => pct(m.accuracy)],
    ['Balanced accuracy', (m) => pct(m.balancedAccuracy)],
    ['Macro F1', (m) => pct(m.macroF1)],
    [binary ? `AUROC (${e(posName)} vs ${e(names[1 - s.data.positive!]!)})` : 'AUROC (macro one-vs-rest)', (m) => pct(m.auroc)],
  ];
  if (binary) {
    metricRows.push([`Sensitivity (recall of ${e(posName)})`, (m) => pct(m.sensitivity)]);
    metricRows.push([`Specificity (recall of ${e(names[1 - s.data.positive!]!)})`, (m) => pct(m.specificity)]);
  }
  parts.push('<h3>Metrics for both decision rules</h3>');
  parts.push(table(['Metric', `${RULE_NAME.vote}${s.primary === 'vote' ? ' (reported)' : ''}`, `${RULE_NAME.mean}${s.primary === 'mean' ? ' (reported)' : ''}`],
    metricRows.map(([label, f]) => [label, f(s.vote), f(s.mean)])));
  parts.push(binary
    ? `<p class="note">AUROC ranks images by the share of votes for ${e(posName)} (majority vote) and by how much lower the ${e(posName)} error is `
      + `than the ${e(names[1 - s.data.positive!]!)} error (mean error).</p>`
    : '<p class="note">AUROC is averaged over classes, each class against all others; images are ranked by the share of votes for the class '
      + '(majority vote) and by how far the class\'s mean error lies below the best other class (mean error).</p>');

  parts.push('<h3>Confusion matrices</h3><p class="note">Rows: actual class; columns: the model\'s answer. Each cell shows the count and the share of its row.</p>');
  for (const rule of ['vote', 'mean'] as const) {
    parts.push(`<h4>${RULE_NAME[rule]}</h4>${confusionHtml(s[rule].confusionMatrix, names)}`);
  }

  parts.push('<h3>Per class</h3>');
  const pcRows: string[][] = [];
  for (const rule of ['vote', 'mean'] as const) {
    s[rule].perClass.forEach((m, c) => pcRows.push([
      `${e(names[c]!)} — ${RULE_NAME[rule].toLowerCase()}`, String(m.support), String(m.predicted), pct(m.precision), pct(m.recall), pct(m.f1),
    ]));
  }
  parts.push(table(['Class — rule', 'Actual cases', 'Called by model', 'Precision', 'Recall', 'F1'], pcRows));

  // Uncertainty.
  const u = s.uncertainty;
  parts.push('<h2>Uncertainty</h2>');
  parts.push(`<p class="note">Every image gets ${s.settings.N} votes, one per noise sample. Uncertainty is how much the votes disagree `
    + '(normalised entropy: 0 = all votes agree, 1 = evenly split). Setting aside the most uncertain cases for review should raise accuracy on the rest. '
    + `Uncertainty separates wrong from right answers with an AUROC of <b>${pct(u.errorDetectionAuroc)}</b> (50% = no better than chance).</p>`);
  parts.push(figure(plots.curve, 'curve', 'Accuracy of the majority vote on the cases that remain after setting aside the most uncertain ones.'));
  parts.push(table(['Set aside', 'Cases set aside', 'Cases kept', 'Accuracy on kept'],
    u.curve.map((p) => [pct(p.fraction, 0), String(p.removed), String(p.kept), pct(p.accuracy)])));
  parts.push(figure(plots.groups, 'groups', 'Vote uncertainty for each kind of outcome; correct answers should sit lower.'));
  parts.push(table(['Outcome', 'Cases', 'Min', 'Lower quartile', 'Median', 'Upper quartile', 'Max', 'Mean'],
    u.groups.map((g) => [e(g.title), String(g.stats.n), num(g.stats.min), num(g.stats.q1), num(g.stats.median), num(g.stats.q3), num(g.stats.max), num(g.stats.mean)])));

  // Vote vs mean.
  parts.push('<h2>Majority vote vs. mean error</h2>');
  if (s.voteVsMean) {
    parts.push('<p class="note">Computed from this run by using only the first N noise samples of every image. '
      + 'Vote ties are broken by the lower mean error over the same samples, then by the lower class index.</p>');
    parts.push(figure(plots.voteVsMean, 'nvm', 'Accuracy of both decision rules as the number of noise samples per image grows.'));
    parts.push(table(['N', 'Majority vote: accuracy', 'Mean error: accuracy', 'Majority vote: balanced accuracy', 'Mean error: balanced accuracy'],
      s.voteVsMean.map((r) => [String(r.n), pct(r.voteAccuracy), pct(r.meanAccuracy), pct(r.voteBalancedAccuracy), pct(r.meanBalancedAccuracy)])));
  } else {
    parts.push('<p class="note">Not available: the predictions were saved without per-sample errors.</p>');
  }

  // Extra sections from the caller.
  for (const sec of extra) parts.push(`<h2>${e(sec.title)}</h2>\n${sec.html}`);

  // Run details.
  const t = s.timing;
  parts.push('<h2>Run details</h2>');
  const timingRows: string[][] = [
    ['Images', String(t.images)],
    ['Network evaluations (forward passes), total', String(t.totalForwardPasses)],
    ['Forward passes per image, mean', num(t.meanForwardPassesPerImage, 1)],
    ['Noise samples used per image, mean', num(t.meanPairsUsed, 1)],
    ['Total time', t.totalSeconds === null ? '–' : `${num(t.totalSeconds, 1)} s`],
    ['Time per image', t.secondsPerImage === null ? '–' : `${num(t.secondsPerImage, 3)} s`],
    ['Forward passes per second', num(t.forwardPassesPerSecond, 1)],
    ...Object.entries(t.other).map(([k, v]) => [e(k), `${num(v, 3)} s`]),
  ];
  parts.push(table(['Timing', 'Value'], timingRows));
  const settingRows = Object.entries(s.settings).filter(([k]) => k !== 'timings').map(([k, v]) => [e(k), e(formatValue(v))]);
  parts.push(table(['Setting', 'Value'], settingRows));
  const modelRows = Object.entries(s.model).filter(([, v]) => v !== undefined).map(([k, v]) => [e(k), e(formatValue(v))]);
  if (modelRows.length) parts.push(table(['Model', 'Value'], modelRows));

  parts.push(`<h2>Definitions</h2><dl class="defs">
<dt>Accuracy</dt><dd>Share of images the model classified correctly.</dd>
<dt>Balanced accuracy</dt><dd>Average of the per-class recall, so a rare class counts as much as a common one.</dd>
<dt>Sensitivity / specificity</dt><dd>Share of ${binary ? e(posName) : 'positive'} cases found / share of the other cases correctly called negative.</dd>
<dt>Precision, recall, F1</dt><dd>Of the cases the model called a class, the share that were that class; of the cases of a class, the share found; F1 is their harmonic mean. Macro F1 averages F1 over classes.</dd>
<dt>AUROC</dt><dd>Probability that a randomly chosen positive case gets a higher score than a randomly chosen negative one (ties count half); 50% is chance, 100% perfect ranking.</dd>
<dt>Majority vote / mean error</dt><dd>The image is noised N times; each time the model removes the noise once under each class hypothesis. Majority vote: each noise sample votes for the class that reconstructs best; the most votes win. Mean error: the class with the lowest average reconstruction error wins.</dd>
</dl>`);
  parts.push(`<footer>Generated by meddiff on ${e(s.createdAt)}. Numbers are also in report.json (as fractions) and per image in predictions.csv.</footer>`);

  return `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">`
    + `<title>${e(s.title)}</title><style>${CSS}</style></head><body>\n${parts.filter(Boolean).join('\n')}\n</body></html>\n`;
}

function formatValue(v: unknown): string {
  if (v === null || v === undefined) return '–';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}
