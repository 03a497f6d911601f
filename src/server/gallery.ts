// The gallery: a model's own test-set report (meddiff evaluate's report.json + predictions.csv),
// its images most uncertain first, filterable by outcome. Reports are found beside the model
// (a repository's reports/ folder) or named with --report; the worker renders the thumbnails.
import fs from 'node:fs';
import path from 'node:path';
import { parseCsv } from '../data/index.ts';
import { thresholdUncertainty } from '../stats/index.ts';
import { readJsonOrNull } from '../util/index.ts';
import type { GalleryItem, GalleryResponse, Outcome } from './api-types.ts';

export interface GallerySource {
  report: string;
  /** The data set and split the report evaluated, resolved to a path that exists. */
  data: string;
  split: string;
  positiveClass: string | null;
  accuracy: number | null;
  /** Outcomes over the whole report (items keeps at most GALLERY_MAX of them). */
  counts: Partial<Record<Outcome, number>>;
  items: GalleryItem[];
}

/** At most this many thumbnails are kept (the most uncertain). */
export const GALLERY_MAX = 1000;

type Json = Record<string, unknown>;

function sameDir(a: string, b: string): boolean {
  try { return fs.realpathSync(a) === fs.realpathSync(b); } catch { return false; }
}

/**
 * Reports of `modelDir` on a test split: the folders given, else every reports/<name>/ of the
 * current directory and of the model folder's repository (two levels up). The one whose time
 * window matches the model's defaults wins, then the largest.
 */
export function findReport(modelDir: string, tRange: [number, number], given: readonly string[] = []): string | null {
  const roots = [path.resolve('reports'), path.resolve(modelDir, '..', '..', 'reports')];
  const candidates = given.length ? [...given] : [...new Set(roots)].filter((r) => fs.existsSync(r)).flatMap((r) => fs.readdirSync(r).map((d) => path.join(r, d)));
  const fits = candidates.map((dir) => ({ dir, r: readJsonOrNull(path.join(dir, 'report.json')) })).filter(({ dir, r }) => {
    const m = (r?.model as Json | undefined)?.path, s = r?.settings as Json | undefined;
    if (!r || typeof m !== 'string' || s?.split !== 'test' || !fs.existsSync(path.join(dir, 'predictions.csv'))) return false;
    return sameDir(path.resolve(m), modelDir) || sameDir(path.resolve(dir, '..', '..', m), modelDir);
  });
  const score = (r: Json | null) => {
    const t = (r?.settings as Json)?.tRange as number[] | undefined;
    return (t && t[0] === tRange[0] && t[1] === tRange[1] ? 1e9 : 0) + Number((r?.data as Json)?.images ?? 0);
  };
  fits.sort((a, b) => score(b.r) - score(a.r));
  return fits[0]?.dir ?? null;
}

/** A report as gallery items (decision and uncertainty as classify gives them: calibrated when the report was). */
export function readGallery(reportDir: string, classNames: readonly string[]): GallerySource {
  const r = readJsonOrNull(path.join(reportDir, 'report.json'));
  if (!r) throw new Error(`${reportDir}/report.json: missing or not JSON`);
  const s = r.settings as Json, calCandidate = ((r.calibrated as Json | undefined)?.calibration ?? null) as { kind?: string; positive: number; threshold: number } | null;
  // a K > 2 report's class offsets are not re-applied here: its items show the plain vote
  const cal = calCandidate?.kind === 'vote-share-offsets' ? null : calCandidate;
  const rows = parseCsv(fs.readFileSync(path.join(reportDir, 'predictions.csv'), 'utf8'), `${reportDir}/predictions.csv`);
  const [head, ...body] = rows.map((x) => x.fields);
  const col = (name: string) => {
    const k = head!.indexOf(name);
    if (k < 0) throw new Error(`${reportDir}/predictions.csv: no column '${name}'`);
    return k;
  };
  const iId = col('id'), iLabel = col('label'), iVote = col('vote_pred'), iEnt = col('entropy');
  const iShare = classNames.map((c) => col(`share_${c}`));
  const positive = classNames.length === 2 ? (cal?.positive ?? Number((r.data as Json)?.positive ?? 1)) : null;
  const items = body.map((f, index): GalleryItem => {
    const label = Number(f[iLabel]), shares = iShare.map((k) => Number(f[k]));
    const pred = cal ? (shares[cal.positive]! >= cal.threshold ? cal.positive : 1 - cal.positive) : Number(f[iVote]);
    const outcome: Outcome | null = positive === null ? null : (pred === positive ? (label === positive ? 'TP' : 'FP') : (label === positive ? 'FN' : 'TN'));
    return {
      index, id: f[iId]!, label: classNames[label] ?? String(label), prediction: classNames[pred] ?? String(pred), outcome, correct: pred === label,
      voteShare: shares[pred]!, entropy: Number(f[iEnt]), uncertainty: cal ? thresholdUncertainty(shares[cal.positive]!, cal.threshold) : Number(f[iEnt]),
    };
  });
  items.sort((a, b) => b.uncertainty - a.uncertainty || a.index - b.index);
  const dataRel = String(s.data);
  const data = [path.resolve(dataRel), path.resolve(reportDir, '..', '..', dataRel)].find((p) => fs.existsSync(p));
  if (!data) throw new Error(`${reportDir}: the data it evaluated (${dataRel}) is not here`);
  const correct = items.filter((x) => x.correct).length;
  const counts: Partial<Record<Outcome, number>> = {};
  for (const x of items) if (x.outcome) counts[x.outcome] = (counts[x.outcome] ?? 0) + 1;
  return {
    report: reportDir, data, split: String(s.split), positiveClass: positive === null ? null : classNames[positive]!,
    accuracy: items.length ? correct / items.length : null, counts, items: items.slice(0, GALLERY_MAX),
  };
}

/** One page of a gallery, filtered by outcome (`total`: the kept items that match; `counts`: the whole report). */
export function galleryPage(model: string, g: GallerySource, q: { outcome?: Outcome; offset?: number; limit?: number }): GalleryResponse {
  const counts = g.counts;
  const all = q.outcome ? g.items.filter((x) => x.outcome === q.outcome) : g.items;
  const offset = q.offset ?? 0, limit = q.limit ?? 48;
  return { model, report: path.basename(g.report), positiveClass: g.positiveClass, total: all.length, counts, items: all.slice(offset, offset + limit) };
}
