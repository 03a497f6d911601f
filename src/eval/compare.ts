/**
 * `meddiff compare`: several report folders (diffusion reports from `meddiff evaluate`, baseline
 * reports with kind 'baseline') side by side. Writes compare.json, compare.html and, per data
 * set, the removal curves of every model on one chart (paper Fig. 3) and a reliability diagram.
 * Table 1 of the paper: accuracy, balanced accuracy, macro F1 and AUROC per model and data set,
 * with the cost (training minutes, seconds per image). The uncertainty table adds the
 * failure-detection metrics of fd-shifts (Jaeger et al. 2023): error-detection AUROC, AURC,
 * E-AURC, ECE, and the accuracy after setting aside 10 / 25 / 45 %.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseCsv } from '../data/index.ts';
import { aurc, brier, expectedCalibrationError, thresholdDecision, thresholdUncertainty, type AggregateMetrics } from '../stats/index.ts';
import { readJsonOrNull, writeFileAtomic } from '../util/index.ts';
import { baselineLabel, type BaselineReportSummary } from './baseline-report.ts';
import type { CompareOptions, CompareSummary, CompareUncertaintyRow, Table1Cell } from './compare-types.ts';
import { compareHtml } from './compare-html.ts';
import { classColumnNames } from './csv.ts';
import { reliabilitySpec, removalCurvesSpec } from './failure-plots.ts';
import { renderPlot, type RenderedPlot } from './plots.ts';
import type { ReportSummary } from './report.ts';
import { accuracyAfterRemoving, accuracyAt, DEFAULT_REMOVAL_FRACTIONS, errorDetectionAuroc, meanErrorMargin, type RemovalPoint } from './uncertainty.ts';

export type { CompareOptions, CompareSummary, CompareUncertaintyRow, Table1Cell };

interface Loaded {
  dir: string;
  kind: 'diffusion' | 'baseline';
  dataset: string;
  split: string | null;
  classNames: string[];
  images: number;
  label: string;
  /** Table 1 rows this report contributes: [suffix, metrics]. */
  rows: [string, Pick<AggregateMetrics, 'accuracy' | 'balancedAccuracy' | 'macroF1' | 'auroc'>][];
  trainingMinutes: number | null;
  secondsPerImage: number | null;
  uncertainty: Omit<CompareUncertaintyRow, 'dataset' | 'model' | 'kind'>[];
  /** Which uncertainty rows draw the data set's curves (index into uncertainty). */
  curveRows: number[];
}

const num = (x: unknown): number | null => (typeof x === 'number' && Number.isFinite(x) ? x : null);
// report.json stores NaN as null: read it back as NaN so the metrics stay numbers.
const metric = (x: unknown): number => num(x) ?? NaN;
const FRACTIONS = [0.1, 0.25, 0.45] as const;

function at3(curve: readonly RemovalPoint[]): CompareUncertaintyRow['accuracyAfterRemoving'] {
  const [a, b, c] = FRACTIONS.map((f) => accuracyAt(curve, f));
  return { '0.10': a ?? null, '0.25': b ?? null, '0.45': c ?? null };
}

/** A data set's name from its path ('data/pneumoniamnist.npz' → 'pneumoniamnist'). */
function datasetName(source: unknown, dir: string, split: string | null): string {
  const base = typeof source === 'string' && source !== '' ? path.basename(source).replace(/\.(npz|csv|tsv|json)$/i, '') : path.basename(path.resolve(dir));
  return split && split !== 'test' ? `${base} (${split})` : base;
}

/** Training minutes: the report's model info, else the model folder's state.json (or the run it was exported from). */
function trainingMinutesOf(model: Record<string, unknown>, cwd: string): number | null {
  if (num(model.trainingMinutes) !== null) return num(model.trainingMinutes);
  const fromState = (dir: string, hops: number): number | null => {
    for (const d of [dir, path.join(dir, 'checkpoint'), path.join(dir, 'best')]) {
      const st = readJsonOrNull(path.join(d, 'state.json'));
      if (!st) continue;
      const info = (st.info ?? {}) as Record<string, unknown>, resume = (st.resume ?? {}) as Record<string, unknown>;
      if (num(info.trainingMinutes) !== null) return num(info.trainingMinutes);
      if (num(resume.elapsedSec) !== null) return num(resume.elapsedSec)! / 60;
      if (typeof info.exportedFrom === 'string' && hops > 0) return fromState(path.resolve(cwd, info.exportedFrom), hops - 1);
      return null;
    }
    return null;
  };
  const p = model.path ?? model.dir;
  return typeof p === 'string' ? fromState(path.resolve(cwd, p), 1) : null;
}

function diffusionLabel(model: Record<string, unknown>, cwd: string): string {
  if (typeof model.label === 'string') return model.label;
  if (typeof model.name === 'string') return model.name;
  const p = model.path ?? model.dir;
  const cfg = typeof p === 'string' ? readJsonOrNull(path.join(path.resolve(cwd, p), 'config.json')) : null;
  const kind = (cfg?.model as { kind?: unknown } | undefined)?.kind;
  return kind === 'unet' ? 'UNet diffusion classifier' : kind === 'dit' ? 'DiT diffusion classifier' : 'Diffusion classifier';
}

function fail(file: string, msg: string): never {
  throw new Error(`${file}: ${msg}`);
}

function checkClassNames(file: string, v: unknown): string[] {
  if (!Array.isArray(v) || v.length < 2 || !v.every((c) => typeof c === 'string')) fail(file, `data.classNames must list at least 2 class names, got ${JSON.stringify(v)}`);
  return v as string[];
}

/** The per-image columns of a diffusion predictions.csv. */
function readDiffusionCsv(file: string, classNames: readonly string[]) {
  if (!fs.existsSync(file)) fail(file, 'missing: compare needs the per-image predictions beside report.json');
  const rows = parseCsv(fs.readFileSync(file, 'utf8'), file);
  if (rows.length < 2) fail(file, 'has no data rows');
  const header = rows[0]!.fields;
  const cols = classColumnNames(classNames);
  const col = (name: string, required = true): number => {
    const i = header.indexOf(name);
    if (i < 0 && required) fail(file, `has no column '${name}' (columns: ${header.join(', ')})`);
    return i;
  };
  const iLabel = col('label'), iVote = col('vote_pred'), iEntropy = col('entropy');
  const iShare = cols.map((c) => col(`share_${c}`));
  const iErr = cols.map((c) => col(`mean_error_${c}`, false));
  const value = (r: { fields: string[]; line: number }, i: number): number => {
    const v = Number(r.fields[i]);
    if (r.fields[i] === undefined || r.fields[i] === '' || !Number.isFinite(v)) fail(file, `line ${r.line}, column '${header[i]}': '${r.fields[i] ?? ''}' is not a number`);
    return v;
  };
  const data = rows.slice(1);
  return {
    label: data.map((r) => value(r, iLabel)),
    votePred: data.map((r) => value(r, iVote)),
    entropy: data.map((r) => value(r, iEntropy)),
    shares: data.map((r) => iShare.map((i) => value(r, i))),
    margin: iErr.every((i) => i >= 0) ? data.map((r) => meanErrorMargin(iErr.map((i) => value(r, i)))) : undefined,
  };
}

function uncertaintyRow(method: string, score: string, correct: boolean[], u: number[], confidence: number[] | null, probs: number[][] | null, labels: number[], margin?: number[]) {
  const rc = aurc(correct, u);
  const removal = accuracyAfterRemoving(correct, u, DEFAULT_REMOVAL_FRACTIONS, margin);
  const cal = confidence ? expectedCalibrationError(confidence, correct) : null;
  return {
    method, score, errorDetectionAuroc: errorDetectionAuroc(correct, u), aurc: rc.aurc, eaurc: rc.eaurc,
    ece: cal ? cal.ece : null, brier: probs ? brier(probs, labels) : null, nll: null, accuracyAfterRemoving: at3(removal), removal,
    ...(cal ? { bins: cal.bins } : {}),
  };
}

function loadDiffusion(dir: string, file: string, s: ReportSummary, cwd: string, warnings: string[]): Loaded {
  if (!s.vote || typeof s.vote !== 'object') fail(file, "has no 'vote' metrics (not a diffusion report?)");
  const classNames = checkClassNames(file, s.data?.classNames);
  const split = typeof s.settings?.split === 'string' ? s.settings.split : null;
  const p = readDiffusionCsv(path.join(dir, 'predictions.csv'), classNames);
  const n = p.label.length;
  if (n !== s.data.images) warnings.push(`${dir}: predictions.csv has ${n} images, report.json ${s.data.images}`);
  const correct = p.label.map((y, i) => p.votePred[i] === y);
  const conf = p.shares.map((sh) => Math.max(...sh));
  const uncertainty = [
    uncertaintyRow('vote', 'vote entropy', correct, p.entropy, conf, p.shares, p.label, p.margin),
    uncertaintyRow('vote', 'vote share', correct, conf.map((c) => 1 - c), conf, p.shares, p.label, p.margin),
  ];
  const stored = s.uncertainty?.curve;
  if (Array.isArray(stored) && stored.some((q) => { const a = accuracyAt(uncertainty[0]!.removal, q.fraction); return a !== null && q.accuracy !== null && Math.abs(a - q.accuracy) > 1e-9; })) {
    warnings.push(`${dir}: the removal curve from predictions.csv differs from report.json's (files from different runs?)`);
  }
  const label = diffusionLabel(s.model ?? {}, cwd);
  const pick = (m: Record<string, unknown>, auroc: unknown) => ({ accuracy: metric(m.accuracy), balancedAccuracy: metric(m.balancedAccuracy), macroF1: metric(m.macroF1), auroc: metric(auroc) });
  const rows: Loaded['rows'] = [['', pick(s.vote as never, s.vote.auroc)]];
  if (s.primary === 'mean' && s.mean) rows.push([' (mean error)', pick(s.mean as never, s.mean.auroc)]);
  const cal = s.calibrated as { accuracy?: number; calibration?: { positive?: number; threshold?: number } } | undefined;
  if (cal && num(cal.accuracy) !== null) {
    // the threshold moves the decision, not the ranking: the AUROC is the vote share's
    rows.push([' (calibrated)', pick(cal as never, s.vote.auroc)]);
    const pos = cal.calibration?.positive, thr = cal.calibration?.threshold;
    if (classNames.length === 2 && (pos === 0 || pos === 1) && typeof thr === 'number') {
      const decided = p.shares.map((sh) => thresholdDecision(sh[pos]!, thr, pos));
      const ok = p.label.map((y, i) => decided[i] === y);
      uncertainty.push(uncertaintyRow('calibrated', 'threshold distance', ok, p.shares.map((sh) => thresholdUncertainty(sh[pos]!, thr)), null, null, p.label, p.margin));
    }
  }
  return {
    dir, kind: 'diffusion', dataset: datasetName(s.settings?.data ?? (s.data as { source?: unknown }).source, dir, split), split, classNames, images: n, label, rows,
    trainingMinutes: trainingMinutesOf(s.model ?? {}, cwd), secondsPerImage: num(s.timing?.secondsPerImage), uncertainty, curveRows: [0],
  };
}

function loadBaseline(dir: string, file: string, s: BaselineReportSummary, cwd: string): Loaded {
  const classNames = checkClassNames(file, s.data?.classNames);
  if (!s.metrics || !Array.isArray(s.methods) || s.methods.length === 0) fail(file, "a baseline report needs 'metrics' and a non-empty 'methods' list");
  if (typeof s.model?.label !== 'string') fail(file, "model.label is missing");
  const split = typeof s.data.split === 'string' ? s.data.split : null;
  const uncertainty: Loaded['uncertainty'] = [], curveRows: number[] = [];
  // an ensemble report is about the ensemble: its first member's own methods belong to that member's report
  const methods = s.methods.some((x) => x.method === 'ensemble') ? s.methods.filter((x) => x.method === 'ensemble') : s.methods;
  for (const m of methods) {
    if (!Array.isArray(m.uncertainty)) fail(file, `methods '${m.method}' has no uncertainty list`);
    m.uncertainty.forEach((u, k) => {
      if (k === 0) curveRows.push(uncertainty.length);
      const removal = (u.removal ?? []).map((q) => ({ ...q, accuracy: metric(q.accuracy) }));
      uncertainty.push({
        method: m.method, score: u.score, errorDetectionAuroc: metric(u.errorDetectionAuroc), aurc: metric(u.aurc), eaurc: metric(u.eaurc),
        ece: num(u.ece), brier: num(u.brier), nll: num(u.nll), accuracyAfterRemoving: at3(removal), removal,
        bins: (u.reliability?.bins ?? []).map((b) => ({ ...b, confidence: metric(b.confidence), accuracy: metric(b.accuracy) })),
      });
    });
  }
  // one Table-1 row per method (plain softmax, temperature-scaled, MC dropout), named after the network;
  // an ensemble report gives only its ensemble row (its first member's own rows belong to that member's report)
  const arch = typeof s.model.arch === 'string' ? s.model.arch : '';
  const base = arch ? baselineLabel(arch) : s.model.label;
  const suffix = (method: string) => method === 'softmax' ? '' : method === 'temperature' ? ' (temperature-scaled)'
    : method === 'mc-dropout' ? ` + MC dropout (T = ${s.settings?.mcDropout ?? '?'})` : method === 'ensemble' ? ` ensemble (${s.settings?.ensemble ?? '?'})` : ` (${method})`;
  const rows: Loaded['rows'] = methods.map((x) => [suffix(x.method), { accuracy: metric(x.metrics.accuracy), balancedAccuracy: metric(x.metrics.balancedAccuracy), macroF1: metric(x.metrics.macroF1), auroc: metric(x.metrics.auroc) }]);
  return {
    dir, kind: 'baseline', dataset: datasetName(s.data.source, dir, split), split, classNames, images: metric(s.data.images), label: base,
    rows,
    trainingMinutes: trainingMinutesOf(s.model as Record<string, unknown>, cwd), secondsPerImage: num(s.timing?.secondsPerImage), uncertainty, curveRows,
  };
}

function loadReport(dir: string, cwd: string, warnings: string[]): Loaded {
  const file = path.join(dir, 'report.json');
  if (!fs.existsSync(file)) {
    throw new Error(`${dir}: no report.json (not a report folder; expected the output of 'meddiff evaluate' or of a baseline evaluation)`);
  }
  let raw: unknown;
  try { raw = JSON.parse(fs.readFileSync(file, 'utf8')); } catch (e) { fail(file, `is not valid JSON (${(e as Error).message})`); }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail(file, 'is not a JSON object');
  const r = raw as Record<string, unknown>;
  if (r.reportVersion !== 1) fail(file, `reportVersion ${JSON.stringify(r.reportVersion)} is not one this meddiff reads (1); upgrade meddiff or re-run the evaluation`);
  if (r.kind === undefined || r.kind === 'diffusion') return loadDiffusion(dir, file, r as unknown as ReportSummary, cwd, warnings);
  if (r.kind === 'baseline') return loadBaseline(dir, file, r as unknown as BaselineReportSummary, cwd);
  fail(file, `unknown report kind ${JSON.stringify(r.kind)} (expected a diffusion report or kind 'baseline')`);
}

function slug(name: string, used: Set<string>): string {
  const base = name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '') || 'data';
  let s = base;
  for (let k = 2; used.has(s); k++) s = `${base}-${k}`;
  used.add(s);
  return s;
}

/** Read the report folders, write compare.json, compare.html and the per-data-set plots into opts.out; returns compare.json's contents. */
export async function compareReports(dirs: readonly string[], opts: CompareOptions): Promise<CompareSummary> {
  if (dirs.length === 0) throw new Error('compareReports: no report folders given');
  const cwd = opts.cwd ?? process.cwd();
  const seenDirs = new Set<string>();
  for (const d of dirs) {
    const abs = path.resolve(cwd, d);
    if (seenDirs.has(abs)) throw new Error(`compareReports: ${d} is given twice`);
    seenDirs.add(abs);
  }
  const warnings: string[] = [];
  const loaded = dirs.map((d) => loadReport(d, cwd, warnings));

  const datasets: string[] = [];
  for (const r of loaded) if (!datasets.includes(r.dataset)) datasets.push(r.dataset);
  for (const ds of datasets) {
    const of = loaded.filter((r) => r.dataset === ds);
    const a = of[0]!;
    for (const b of of.slice(1)) {
      if (b.classNames.length !== a.classNames.length || b.classNames.some((c, i) => c !== a.classNames[i])) {
        throw new Error(`reports of data set '${ds}' disagree on the classes: ${a.dir} has (${a.classNames.join(', ')}), ${b.dir} has (${b.classNames.join(', ')})`);
      }
      if (b.images !== a.images) warnings.push(`data set '${ds}': ${a.dir} has ${a.images} images but ${b.dir} has ${b.images}; the numbers are not over the same images`);
    }
  }
  // The same model label twice on one data set: tell the rows apart by folder name.
  const name = (r: Loaded): string => {
    const keys = new Set(r.rows.map(([suffix]) => `${r.label}${suffix}`));
    const clash = loaded.some((o) => o !== r && o.dataset === r.dataset && o.rows.some(([suffix]) => keys.has(`${o.label}${suffix}`)));
    return clash ? `${r.label} [${path.basename(path.resolve(cwd, r.dir))}]` : r.label;
  };

  const rowIndex = new Map<string, number>();
  const rows: CompareSummary['table']['rows'] = [];
  const uncertainty: CompareUncertaintyRow[] = [];
  for (const r of loaded) {
    const model = name(r);
    for (const [suffix, m] of r.rows) {
      const key = `${model}${suffix}`;
      if (!rowIndex.has(key)) { rowIndex.set(key, rows.length); rows.push({ model: key, kind: r.kind, cells: datasets.map(() => null) }); }
      rows[rowIndex.get(key)!]!.cells[datasets.indexOf(r.dataset)] = {
        ...m, trainingMinutes: r.trainingMinutes, secondsPerImage: r.secondsPerImage, images: r.images, report: r.dir,
      };
    }
    for (const u of r.uncertainty) uncertainty.push({ dataset: r.dataset, model, kind: r.kind, ...u });
  }

  const files: string[] = [];
  const put = (f: string, data: string | Uint8Array) => { writeFileAtomic(path.join(opts.out, f), data); files.push(f); };
  const used = new Set<string>();
  const plots = new Map<string, { removal?: RenderedPlot; reliability?: RenderedPlot }>();
  const dsInfo: CompareSummary['datasets'] = [];
  for (const ds of datasets) {
    const of = loaded.filter((r) => r.dataset === ds);
    const series = of.flatMap((r) => r.curveRows.map((k) => {
      const u = r.uncertainty[k]!;
      return { name: r.kind === 'baseline' ? `${name(r)} · ${u.method}` : name(r), u };
    }));
    const info = { name: ds, classNames: of[0]!.classNames, removalPlot: null as string | null, reliabilityPlot: null as string | null };
    if (opts.plots !== false) {
      const s = slug(ds, used);
      const removal = await renderPlot(removalCurvesSpec(series.map((x) => ({ name: x.name, style: x.u.score, points: x.u.removal })), { title: `Accuracy when the most uncertain cases are set aside: ${ds}` }));
      const withBins = series.filter((x) => x.u.bins && x.u.bins.length > 0);
      const reliability = withBins.length ? await renderPlot(reliabilitySpec(withBins.map((x) => ({ name: x.name, bins: x.u.bins! })), { title: `Reliability: ${ds}` })) : undefined;
      put(`removal_${s}.svg`, removal.svg); put(`removal_${s}.png`, removal.png);
      info.removalPlot = `removal_${s}.svg`;
      if (reliability) { put(`reliability_${s}.svg`, reliability.svg); put(`reliability_${s}.png`, reliability.png); info.reliabilityPlot = `reliability_${s}.svg`; }
      plots.set(ds, { removal, reliability });
    }
    dsInfo.push(info);
  }

  const summary: CompareSummary = {
    compareVersion: 1,
    title: opts.title ?? 'Model comparison',
    createdAt: opts.createdAt ?? new Date().toISOString(),
    reports: loaded.map((r) => ({ dir: r.dir, kind: r.kind, dataset: r.dataset, split: r.split, model: name(r), images: r.images })),
    datasets: dsInfo,
    table: { datasets, rows },
    // the bins went into the diagrams; compare.json keeps the numbers
    uncertainty: uncertainty.map(({ bins: _b, ...u }) => u),
    warnings,
    files: [],
  };
  put('compare.html', compareHtml(summary, plots));
  summary.files = [...files, 'compare.json'];
  writeFileAtomic(path.join(opts.out, 'compare.json'), JSON.stringify(summary, null, 2) + '\n');
  return summary;
}
