/**
 * The report of a discriminative baseline (method.md §8): report.json (kind 'baseline'), one
 * predictions.csv row per image per method, a reliability diagram and the removal curves of every
 * method × uncertainty score (SVG + PNG), and a self-contained report.html. Failure-detection
 * metrics follow fd-shifts (Jaeger et al. 2023): error-detection AUROC, AURC, E-AURC, ECE.
 */
import path from 'node:path';
import {
  summarize, aurc, brier, expectedCalibrationError, nll, predictiveEntropy,
  type AggregateMetrics, type ReliabilityBin,
} from '../stats/index.ts';
import { escapeHtml, writeFileAtomic } from '../util/index.ts';
import { classColumnNames } from './csv.ts';
import { FAILURE_DEFINITIONS, fx, htmlFigure, htmlPage, htmlTable, pc, valueText } from './failure-html.ts';
import { reliabilitySpec, removalCurvesSpec } from './failure-plots.ts';
import { renderPlot, type RenderedPlot } from './plots.ts';
import type { ReportSection } from './report.ts';
import { accuracyAfterRemoving, accuracyAt, DEFAULT_REMOVAL_FRACTIONS, errorDetectionAuroc, type RemovalPoint } from './uncertainty.ts';

/** One image as a discriminative model (or an ensemble / MC-dropout average of them) saw it. */
export interface BaselineRecord {
  id: string;
  /** True class. */
  label: number;
  /** argmax of probabilities. */
  prediction: number;
  /** The method's class probabilities (softmax, temperature-scaled, MC mean, ensemble mean). */
  probabilities: number[];
  /** Mutual information between prediction and model (MC dropout / ensemble only; nats). */
  mutualInformation?: number;
}

/** One way of turning the network into probabilities ('softmax', 'temperature', 'mc-dropout', 'ensemble'), over all images. */
export interface BaselineMethod {
  method: string;
  records: BaselineRecord[];
}

/** Uncertainty scores: predictive entropy ÷ log K, 1 − max probability, mutual information (when every record has it). */
export type BaselineScore = 'entropy' | 'max-probability' | 'mutual-information';

export interface BaselineModelInfo {
  dir?: string;
  arch: string;
  /** Display name, e.g. 'ResNet-18', 'ResNet-18 ensemble (5)'. */
  label: string;
  parameters?: number;
  /** Training wall-clock minutes (summed over ensemble members). */
  trainingMinutes?: number | null;
  step?: number;
  members?: string[];
  [key: string]: unknown;
}

export interface BaselineSettings {
  /** Method reported as the model's answer (default: the first). */
  primary?: string;
  mcDropout?: number | null;
  ensemble?: number | null;
  temperature?: number | null;
  [key: string]: unknown;
}

export interface BaselineReportInput {
  methods: BaselineMethod[];
  classNames: readonly string[];
  /** Positive class for binary metrics (default 1). */
  positive?: number;
  model: BaselineModelInfo;
  settings?: BaselineSettings;
  /** Where the images came from: data set path or name, split. */
  data?: { source?: string; split?: string };
  timing?: { totalSeconds?: number | null; secondsPerImage?: number | null; forwardPassesPerImage?: number | null };
  title?: string;
  /** HTML sections inserted as is (titles escaped). */
  extraSections?: readonly ReportSection[];
  /** ISO timestamp to record (default now). */
  createdAt?: string;
  /** Render the plots (default true). */
  plots?: boolean;
  /** Removal fractions (default 0, 0.05, …, 0.5). */
  fractions?: readonly number[];
  /** Reliability bins (default 15). */
  bins?: number;
}

export interface BaselineUncertainty {
  score: BaselineScore;
  errorDetectionAuroc: number;
  aurc: number;
  eaurc: number;
  /** Of the method's max probability (the same for every score of a method). */
  ece: number;
  nll: number;
  brier: number;
  reliability: { bins: ReliabilityBin[] };
  removal: RemovalPoint[];
}

export interface BaselineMethodSummary {
  method: string;
  metrics: AggregateMetrics;
  uncertainty: BaselineUncertainty[];
}

/** Contents of a baseline report.json. Rates are fractions; undefined values are null. */
export interface BaselineReportSummary {
  reportVersion: 1;
  kind: 'baseline';
  title: string;
  createdAt: string;
  data: {
    images: number; classes: number; classNames: string[]; classCounts: number[]; positive: number | null;
    source?: string; split?: string;
  };
  model: BaselineModelInfo;
  settings: BaselineSettings & { primary: string; mcDropout: number | null; ensemble: number | null; temperature: number | null };
  /** Metrics of the primary method. */
  metrics: AggregateMetrics;
  methods: BaselineMethodSummary[];
  timing: { images: number; totalSeconds: number | null; secondsPerImage: number | null; forwardPassesPerImage: number | null };
  files: string[];
}

const ARCH_LABEL: Record<string, string> = { resnet18: 'ResNet-18', resnet50: 'ResNet-50', 'efficientnet-b0': 'EfficientNet-B0', 'vit-s16': 'ViT-S/16' };

/** The name a baseline goes by in reports and the comparison table. */
export function baselineLabel(arch: string, o: { mcDropout?: number; ensemble?: number } = {}): string {
  const base = ARCH_LABEL[arch] ?? arch;
  if (o.ensemble && o.ensemble > 1) return `${base} ensemble (${o.ensemble})`;
  if (o.mcDropout) return `${base} + MC dropout (T = ${o.mcDropout})`;
  return base;
}

const PROBABILITY_TOLERANCE = 1e-4;

/** The value of an uncertainty score per record (higher = less sure). */
export function baselineScores(records: readonly BaselineRecord[]): Partial<Record<BaselineScore, number[]>> {
  const out: Partial<Record<BaselineScore, number[]>> = {
    entropy: records.map((r) => predictiveEntropy(r.probabilities)),
    'max-probability': records.map((r) => 1 - Math.max(...r.probabilities)),
  };
  if (records.length > 0 && records.every((r) => typeof r.mutualInformation === 'number')) out['mutual-information'] = records.map((r) => r.mutualInformation!);
  return out;
}

function validate(input: BaselineReportInput): void {
  const where = 'writeBaselineReport';
  const K = input.classNames.length;
  if (K < 2) throw new Error(`${where}: classNames must name at least 2 classes, got ${K}`);
  if (!Array.isArray(input.methods) || input.methods.length === 0) throw new Error(`${where}: methods is empty (need at least one method with records)`);
  const first = input.methods[0]!;
  const seen = new Set<string>();
  input.methods.forEach((m, mi) => {
    const at = `${where}: methods[${mi}] ('${m.method}')`;
    if (typeof m.method !== 'string' || m.method === '') throw new Error(`${where}: methods[${mi}].method must be a non-empty name`);
    if (seen.has(m.method)) throw new Error(`${at}: method name repeated`);
    seen.add(m.method);
    if (!m.records?.length) throw new Error(`${at}.records is empty`);
    if (m.records.length !== first.records.length) throw new Error(`${at}.records has ${m.records.length} images but methods[0] ('${first.method}') has ${first.records.length}: every method must cover the same images`);
    const withMi = m.records.filter((r) => r.mutualInformation !== undefined).length;
    if (withMi !== 0 && withMi !== m.records.length) throw new Error(`${at}: mutualInformation is set on ${withMi} of ${m.records.length} records (all or none)`);
    m.records.forEach((r, i) => {
      const rat = `${at}.records[${i}]`;
      const ref = first.records[i]!;
      if (r.id !== ref.id || r.label !== ref.label) {
        throw new Error(`${rat}: image '${r.id}' (label ${r.label}) but methods[0].records[${i}] is '${ref.id}' (label ${ref.label}): every method must cover the same images in the same order`);
      }
      if (!Number.isInteger(r.label) || r.label < 0 || r.label >= K) throw new Error(`${rat}.label = ${r.label} is not a class index in [0, ${K})`);
      const p = r.probabilities;
      if (!Array.isArray(p) || p.length !== K) throw new Error(`${rat}.probabilities has ${Array.isArray(p) ? p.length : 'no'} entries, expected K = ${K} (${input.classNames.join(', ')})`);
      if (!p.every((v) => Number.isFinite(v) && v >= 0 && v <= 1)) throw new Error(`${rat}.probabilities [${p.join(', ')}] must be numbers in [0, 1]`);
      const sum = p.reduce((a, b) => a + b, 0);
      if (Math.abs(sum - 1) > PROBABILITY_TOLERANCE) throw new Error(`${rat}.probabilities sum to ${Number(sum.toPrecision(10))}, not 1 (within ${PROBABILITY_TOLERANCE})`);
      if (!Number.isInteger(r.prediction) || r.prediction < 0 || r.prediction >= K || p[r.prediction]! < Math.max(...p) - 1e-9) {
        throw new Error(`${rat}.prediction = ${r.prediction} is not the argmax of its probabilities [${p.join(', ')}]`);
      }
      if (r.mutualInformation !== undefined && !(Number.isFinite(r.mutualInformation) && r.mutualInformation >= -1e-12)) {
        throw new Error(`${rat}.mutualInformation = ${r.mutualInformation} must be a number ≥ 0`);
      }
    });
  });
  const primary = input.settings?.primary;
  if (primary !== undefined && !seen.has(primary)) throw new Error(`${where}: settings.primary '${primary}' is not one of the methods (${[...seen].join(', ')})`);
  const pos = input.positive ?? 1;
  if (!Number.isInteger(pos) || pos < 0 || pos >= K) throw new Error(`${where}: positive = ${pos} is not a class index in [0, ${K})`);
  if (!input.model || typeof input.model.label !== 'string' || typeof input.model.arch !== 'string') throw new Error(`${where}: model must have a label and an arch`);
}

/** AggregateMetrics of one method (the stats summarize of the diffusion report, fed the probabilities). */
export function baselineMetrics(records: readonly BaselineRecord[], K: number, positive: number): AggregateMetrics {
  const scored = records.map((r) => ({ id: r.id, label: r.label, votePred: r.prediction, meanPred: r.prediction, shares: r.probabilities, meanErrors: r.probabilities }));
  const m = summarize(scored, K, { positive }).vote;
  return { ...m, aurocScore: K === 2 ? `probability of class ${positive}` : 'probability per class, macro one-vs-rest' };
}

function methodSummary(m: BaselineMethod, K: number, positive: number, fractions: readonly number[], bins: number): BaselineMethodSummary {
  const correct = m.records.map((r) => r.prediction === r.label);
  const probs = m.records.map((r) => r.probabilities), labels = m.records.map((r) => r.label);
  const cal = expectedCalibrationError(m.records.map((r) => Math.max(...r.probabilities)), correct, bins);
  const shared = { ece: cal.ece, nll: nll(probs, labels), brier: brier(probs, labels), reliability: { bins: cal.bins } };
  const uncertainty = Object.entries(baselineScores(m.records)).map(([score, u]) => {
    const rc = aurc(correct, u);
    return {
      score: score as BaselineScore, errorDetectionAuroc: errorDetectionAuroc(correct, u), aurc: rc.aurc, eaurc: rc.eaurc,
      ...shared, removal: accuracyAfterRemoving(correct, u, fractions),
    };
  });
  return { method: m.method, metrics: baselineMetrics(m.records, K, positive), uncertainty };
}

const finiteOrNull = (x: number | null | undefined): number | null => (typeof x === 'number' && Number.isFinite(x) ? x : null);

function buildSummary(input: BaselineReportInput): BaselineReportSummary {
  const K = input.classNames.length, positive = input.positive ?? 1;
  const records = input.methods[0]!.records, n = records.length;
  const classCounts = new Array<number>(K).fill(0);
  for (const r of records) classCounts[r.label]!++;
  const methods = input.methods.map((m) => methodSummary(m, K, positive, input.fractions ?? DEFAULT_REMOVAL_FRACTIONS, input.bins ?? 15));
  const primary = input.settings?.primary ?? input.methods[0]!.method;
  const t = input.timing ?? {};
  const total = finiteOrNull(t.totalSeconds);
  return {
    reportVersion: 1,
    kind: 'baseline',
    title: input.title ?? `${input.model.label} evaluation`,
    createdAt: input.createdAt ?? new Date().toISOString(),
    data: {
      images: n, classes: K, classNames: [...input.classNames], classCounts, positive: K === 2 ? positive : null,
      ...(input.data?.source !== undefined ? { source: input.data.source } : {}), ...(input.data?.split !== undefined ? { split: input.data.split } : {}),
    },
    model: { ...input.model },
    settings: { ...input.settings, primary, mcDropout: input.settings?.mcDropout ?? null, ensemble: input.settings?.ensemble ?? null, temperature: input.settings?.temperature ?? null },
    metrics: methods.find((m) => m.method === primary)!.metrics,
    methods,
    timing: {
      images: n, totalSeconds: total, secondsPerImage: finiteOrNull(t.secondsPerImage) ?? (total !== null ? total / n : null),
      forwardPassesPerImage: finiteOrNull(t.forwardPassesPerImage),
    },
    files: [],
  };
}

function csvField(v: string | number): string {
  const s = String(v);
  return /[",\r\n]/.test(s) || /^\s|\s$/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** predictions.csv: one row per image per method. */
export function baselinePredictionsCsv(methods: readonly BaselineMethod[], classNames: readonly string[]): string {
  const cols = classColumnNames(classNames);
  const lines = [['index', 'id', 'label', 'label_name', 'method', 'pred', 'pred_name', ...cols.map((c) => `prob_${c}`), 'entropy', 'max_prob', 'mutual_information'].join(',')];
  for (const m of methods) {
    m.records.forEach((r, i) => lines.push([
      i, r.id, r.label, classNames[r.label]!, m.method, r.prediction, classNames[r.prediction]!, ...r.probabilities,
      predictiveEntropy(r.probabilities), Math.max(...r.probabilities), r.mutualInformation ?? '',
    ].map(csvField).join(',')));
  }
  return lines.join('\n') + '\n';
}

/**
 * Write report.json, predictions.csv, reliability.{svg,png}, removal_curves.{svg,png} and
 * report.html into outDir; report.json last, once, atomically. Returns its contents.
 */
export async function writeBaselineReport(outDir: string, input: BaselineReportInput): Promise<BaselineReportSummary> {
  validate(input);
  const summary = buildSummary(input);
  const files: string[] = [];
  const put = (name: string, data: string | Uint8Array) => { writeFileAtomic(path.join(outDir, name), data); files.push(name); };
  const plots: { reliability?: RenderedPlot; removal?: RenderedPlot } = {};
  if (input.plots !== false) {
    plots.reliability = await renderPlot(reliabilitySpec(summary.methods.map((m) => ({ name: m.method, bins: m.uncertainty[0]!.reliability.bins })), { legend: 'Method' }));
    plots.removal = await renderPlot(removalCurvesSpec(
      summary.methods.flatMap((m) => m.uncertainty.map((u) => ({ name: m.method, style: u.score, points: u.removal }))),
      { legend: 'Method', subtitle: 'Cases ranked by each method\'s uncertainty score; accuracy on the cases kept.' },
    ));
    put('reliability.svg', plots.reliability.svg); put('reliability.png', plots.reliability.png);
    put('removal_curves.svg', plots.removal.svg); put('removal_curves.png', plots.removal.png);
  }
  put('predictions.csv', baselinePredictionsCsv(input.methods, input.classNames));
  put('report.html', baselineReportHtml(summary, plots, input.extraSections ?? []));
  summary.files = [...files, 'report.json'];
  writeFileAtomic(path.join(outDir, 'report.json'), JSON.stringify(summary, null, 2) + '\n');
  return summary;
}

function baselineReportHtml(s: BaselineReportSummary, plots: { reliability?: RenderedPlot; removal?: RenderedPlot }, extra: readonly ReportSection[]): string {
  const e = escapeHtml, names = s.data.classNames, binary = s.data.classes === 2;
  const primary = s.methods.find((m) => m.method === s.settings.primary)!;
  const parts: string[] = [];
  const bits = [`${s.data.images} images`, `${s.data.classes} classes (${names.map(e).join(', ')})`, `model: ${e(s.model.label)}`, `reported method: ${e(s.settings.primary)}`];
  if (s.data.source) bits.push(`data: ${e(s.data.source)}`);
  if (s.data.split) bits.push(`split: ${e(s.data.split)}`);
  parts.push(`<h1>${e(s.title)}</h1><p class="lead">${bits.join(' · ')}</p>`);
  const pu = primary.uncertainty[0]!;
  const cards: [string, string][] = [[pc(s.metrics.accuracy), 'Accuracy'], [pc(s.metrics.balancedAccuracy), 'Balanced accuracy'], [pc(s.metrics.auroc), 'AUROC'], [pc(pu.ece), 'Calibration error (ECE)']];
  parts.push(`<h2>Summary</h2><div class="cards">${cards.map(([v, l]) => `<div class="card"><b>${v}</b><span>${l}</span></div>`).join('')}</div>`);

  const pos = binary ? names[s.data.positive!]! : '';
  const rows: [string, (m: AggregateMetrics) => string][] = [
    ['Accuracy', (m) => pc(m.accuracy)], ['Balanced accuracy', (m) => pc(m.balancedAccuracy)], ['Macro F1', (m) => fx(m.macroF1)],
    [binary ? `AUROC (${e(pos)})` : 'AUROC (macro one-vs-rest)', (m) => fx(m.auroc)],
  ];
  if (binary) rows.push([`Sensitivity (${e(pos)})`, (m) => pc(m.sensitivity)], ['Specificity', (m) => pc(m.specificity)]);
  parts.push('<h3>Metrics per method</h3>');
  parts.push(htmlTable([['Metric', ...s.methods.map((m) => `${e(m.method)}${m.method === s.settings.primary ? ' (reported)' : ''}`)]], rows.map(([label, f]) => [label, ...s.methods.map((m) => f(m.metrics))])));
  parts.push(`<h3>Confusion matrix (${e(primary.method)})</h3><p class="note">Rows: actual class; columns: the model's answer.</p>`);
  parts.push(htmlTable([['Actual ↓ / Model →', ...names.map(e)]], primary.metrics.confusionMatrix.map((r, i) => [e(names[i]!), ...r.map(String)])));

  parts.push('<h2>Uncertainty and calibration</h2>');
  parts.push('<p class="note">Each method is scored by each of its uncertainty measures: normalised predictive entropy, 1 − the largest probability, and (MC dropout, ensembles) the mutual information between the answer and the model. Calibration (ECE, NLL, Brier) is of the method\'s probabilities and does not depend on the score.</p>');
  const head = ['Method', 'Score', 'Error-detection AUROC', 'AURC', 'E-AURC', 'ECE', 'NLL', 'Brier', 'Acc. −10%', 'Acc. −25%', 'Acc. −45%'];
  const urows = s.methods.flatMap((m) => m.uncertainty.map((u) => [
    e(m.method), e(u.score), fx(u.errorDetectionAuroc), fx(u.aurc, 4), fx(u.eaurc, 4), fx(u.ece, 4), fx(u.nll), fx(u.brier),
    ...[0.1, 0.25, 0.45].map((f) => pc(accuracyAt(u.removal, f))),
  ]));
  parts.push(htmlTable([head], urows));
  parts.push(htmlFigure(plots.removal, 'removal', 'Accuracy on the cases kept after setting aside the most uncertain, for every method and uncertainty score.'));
  parts.push(htmlFigure(plots.reliability, 'reliability', 'Reliability diagram: accuracy against confidence in 15 bins, per method.'));
  for (const sec of extra) parts.push(`<h2>${e(sec.title)}</h2>\n${sec.html}`);

  parts.push('<h2>Run details</h2>');
  const t = s.timing;
  parts.push(htmlTable([['Timing', 'Value']], [
    ['Images', String(t.images)], ['Total time', t.totalSeconds === null ? '–' : `${fx(t.totalSeconds, 1)} s`],
    ['Time per image', t.secondsPerImage === null ? '–' : `${fx(t.secondsPerImage, 4)} s`], ['Forward passes per image', fx(t.forwardPassesPerImage, 1)],
  ]));
  parts.push(htmlTable([['Model', 'Value']], Object.entries(s.model).filter(([, v]) => v !== undefined).map(([k, v]) => [e(k), valueText(v)])));
  parts.push(htmlTable([['Setting', 'Value']], Object.entries(s.settings).map(([k, v]) => [e(k), valueText(v)])));
  parts.push(`<h2>Definitions</h2>${FAILURE_DEFINITIONS}`);
  parts.push(`<footer>Generated by meddiff on ${e(s.createdAt)}. Numbers are also in report.json (as fractions) and per image and method in predictions.csv.</footer>`);
  return htmlPage(s.title, parts);
}
