// The shapes of `meddiff compare`'s options and of compare.json.
import type { ReliabilityBin } from '../stats/index.ts';
import type { RemovalPoint } from './uncertainty.ts';

export interface CompareOptions {
  /** Folder for compare.json, compare.html and the plots. */
  out: string;
  title?: string;
  /** ISO timestamp to record (default now). */
  createdAt?: string;
  /** Render the plots (default true). */
  plots?: boolean;
  /** Where relative model paths in the reports are resolved (default the working directory). */
  cwd?: string;
}

/** One model on one data set in Table 1. Rates are fractions; unknown values null. */
export interface Table1Cell {
  accuracy: number;
  balancedAccuracy: number;
  macroF1: number;
  auroc: number;
  trainingMinutes: number | null;
  secondsPerImage: number | null;
  images: number;
  /** The report folder the numbers come from. */
  report: string;
}

export interface CompareUncertaintyRow {
  dataset: string;
  model: string;
  kind: 'diffusion' | 'baseline';
  /** Diffusion: 'vote' or 'calibrated'; baselines: the method. */
  method: string;
  score: string;
  errorDetectionAuroc: number;
  aurc: number;
  eaurc: number;
  /** Diffusion: with the largest vote share as the confidence; null where there is no confidence (calibrated threshold distance). */
  ece: number | null;
  brier: number | null;
  /** Baselines only (vote shares are not likelihoods). */
  nll: number | null;
  /** Accuracy after setting aside the 10 / 25 / 45 % most uncertain. */
  accuracyAfterRemoving: { '0.10': number | null; '0.25': number | null; '0.45': number | null };
  removal: RemovalPoint[];
  /** Reliability bins (for the diagrams; not written to compare.json). */
  bins?: ReliabilityBin[];
}

/** Contents of compare.json. */
export interface CompareSummary {
  compareVersion: 1;
  title: string;
  createdAt: string;
  reports: { dir: string; kind: 'diffusion' | 'baseline'; dataset: string; split: string | null; model: string; images: number }[];
  datasets: { name: string; classNames: string[]; removalPlot: string | null; reliabilityPlot: string | null }[];
  /** Table 1: rows × data sets (cells[j] belongs to datasets[j]; null = not evaluated there). */
  table: { datasets: string[]; rows: { model: string; kind: 'diffusion' | 'baseline'; cells: (Table1Cell | null)[] }[] };
  uncertainty: CompareUncertaintyRow[];
  /** Things that make the comparison less than like for like (different image counts, stale predictions). */
  warnings: string[];
  files: string[];
}
