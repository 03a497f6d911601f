// calibration.json beside the weights: read (checked against the weights it was fitted for) and
// written atomically. Two kinds: 'vote-share-threshold' (two classes) and 'vote-share-offsets'
// (K > 2: one offset per class on the vote shares). Fitting lives in classify; this is only the file.
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../util/index.ts';
import { cholesky } from '../stats/index.ts';
import type { Calibration, Logger } from './types.ts';

export const CALIBRATION_FILE = 'calibration.json';
/** Statistics the multiscale OOD score's `bands` option adds to each vector (src/classify/ood.ts bandFeatures). */
export const OOD_BAND_FEATURES = 5;
/** Length of a multiscale OOD vector: one error per time, then the band statistics when `bands` is on. */
export const multiscaleFeatureCount = (o: { times: readonly unknown[]; bands?: unknown }): number => o.times.length + (o.bands ? OOD_BAND_FEATURES : 0);

export function saveCalibration(modelDir: string, c: Calibration): string {
  const file = path.join(modelDir, CALIBRATION_FILE);
  writeFileAtomic(file, JSON.stringify(c, null, 2) + '\n');
  return file;
}

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const show = (v: unknown) => { const t = JSON.stringify(v) ?? String(v); return t.length > 80 ? `${t.slice(0, 80)}…` : t; };
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isRange = (v: unknown): v is [number, number] => Array.isArray(v) && v.length === 2 && isNum(v[0]) && isNum(v[1]) && v[0] >= 0 && v[0] < v[1] && v[1] <= 1;

/**
 * Check every field a reader relies on, naming the first wrong one; a hand-edited or damaged
 * file is refused rather than half-applied.
 */
export function validateCalibration(c: unknown, f: string): Calibration {
  if (!isObj(c)) throw new Error(`${f}: not a meddiff calibration (expected a JSON object, got ${show(c)}); delete it or run meddiff calibrate again`);
  const wrong = (field: string, want: string): never => {
    throw new Error(`${f}: '${field}' must be ${want}, got ${show(field.split('.').reduce<unknown>((o, k) => (isObj(o) ? o[k] : undefined), c))}; fix it or run meddiff calibrate again`);
  };
  if (c.kind !== 'vote-share-threshold' && c.kind !== 'vote-share-offsets') throw new Error(`${f}: not a meddiff calibration (kind ${show(c.kind)}, expected 'vote-share-threshold' or 'vote-share-offsets')`);
  if (c.kind === 'vote-share-threshold') {
    if (!(isNum(c.threshold) && c.threshold >= 0 && c.threshold <= 1.000001)) wrong('threshold', 'a number in [0, 1]');
    if (!Number.isSafeInteger(c.positive) || (c.positive as number) < 0) wrong('positive', 'a class index (an integer ≥ 0)');
  } else {
    if (!(Array.isArray(c.offsets) && c.offsets.length >= 2 && c.offsets.every(isNum))) wrong('offsets', 'one finite number per class');
    if (c.platt !== undefined) wrong('platt', "absent ('vote-share-offsets' has no Platt scaling)");
  }
  if (!isObj(c.fittedOn)) wrong('fittedOn', 'an object');
  const fo = c.fittedOn as Json;
  if (typeof fo.split !== 'string') wrong('fittedOn.split', 'a split name');
  for (const k of ['images', 'n']) if (!(Number.isSafeInteger(fo[k]) && (fo[k] as number) >= 0)) wrong(`fittedOn.${k}`, 'a non-negative integer');
  for (const k of ['balancedAccuracy', 'uncalibratedBalancedAccuracy', 'accuracy', 'uncalibratedAccuracy']) {
    if ((fo[k] !== undefined || k.includes('alanced')) && !isNum(fo[k])) wrong(`fittedOn.${k}`, 'a number');
  }
  if (c.objective !== undefined && c.objective !== 'balanced-accuracy' && c.objective !== 'accuracy') wrong('objective', "'balanced-accuracy' or 'accuracy'");
  if (c.platt !== undefined && !(isObj(c.platt) && isNum(c.platt.a) && isNum(c.platt.b))) wrong('platt', 'an object {a, b} of finite numbers');
  if (c.weightsSha256 !== undefined && !(typeof c.weightsSha256 === 'string' && /^[0-9a-f]{64}$/i.test(c.weightsSha256))) wrong('weightsSha256', 'a SHA-256 hex string');
  if (c.tRange !== undefined && !isRange(c.tRange)) wrong('tRange', '[tMin, tMax] with 0 ≤ tMin < tMax ≤ 1');
  if (c.mirror !== undefined && typeof c.mirror !== 'boolean') wrong('mirror', 'true or false');
  if (c.ood !== undefined) {
    if (!isObj(c.ood)) wrong('ood', 'an object');
    const o = c.ood as Json;
    if (!isNum(o.threshold)) wrong('ood.threshold', 'a finite number');
    if (!(isNum(o.quantile) && o.quantile >= 0 && o.quantile <= 1)) wrong('ood.quantile', 'a number in [0, 1]');
    if (o.score !== undefined && o.score !== 'min-class-mean-error' && o.score !== 'multiscale') wrong('ood.score', "'min-class-mean-error' or 'multiscale'");
    if (o.score === 'multiscale') validateMultiscale(o, wrong);
    else if (o.fittedOn !== undefined) {
      if (!isObj(o.fittedOn)) wrong('ood.fittedOn', 'an object');
      const of = o.fittedOn as Json;
      if (of.tRange !== undefined && !isRange(of.tRange)) wrong('ood.fittedOn.tRange', '[tMin, tMax] with 0 ≤ tMin < tMax ≤ 1');
      if (of.mirror !== undefined && typeof of.mirror !== 'boolean') wrong('ood.fittedOn.mirror', 'true or false');
      for (const k of ['images', 'n']) if (of[k] !== undefined && !(Number.isSafeInteger(of[k]) && (of[k] as number) >= 0)) wrong(`ood.fittedOn.${k}`, 'a non-negative integer');
    }
  }
  if (c.window !== undefined) {
    if (!isObj(c.window)) wrong('window', 'an object');
    const w = c.window as Json;
    for (const k of ['fullRangeBalancedAccuracy', 'windowsTried', 'pairsPerImage', 'significance']) {
      if (w[k] !== undefined && !isNum(w[k])) wrong(`window.${k}`, 'a number');
    }
    if (w.searched !== undefined) {
      const sr = w.searched;
      if (!isObj(sr)) wrong('window.searched', 'an object');
      if (!isRange((sr as Json).tRange)) wrong('window.searched.tRange', '[tMin, tMax] with 0 ≤ tMin < tMax ≤ 1');
      for (const k of ['balancedAccuracy', 'pValue']) if (!isNum((sr as Json)[k])) wrong(`window.searched.${k}`, 'a number');
    }
  }
  return c as unknown as Calibration;
}

/**
 * The multiscale score's Gaussian, sizes checked before any use: `times` (d distinct values in
 * (0, 1)), `mean` (d), `precision` (d × d, symmetric positive definite: a distance² below zero
 * would otherwise come out as NaN and never flag).
 */
function validateMultiscale(o: Json, wrong: (field: string, want: string) => never): void {
  const t = o.times;
  if (!(Array.isArray(t) && t.length >= 1 && t.length <= 1000 && t.every((x) => isNum(x) && x > 0 && x < 1) && new Set(t).size === t.length)) wrong('ood.times', 'a list of distinct diffusion times in (0, 1)');
  if (o.bands !== undefined && typeof o.bands !== 'boolean') wrong('ood.bands', 'true or false');
  const d = multiscaleFeatureCount({ times: t as number[], bands: o.bands });
  if (!(Array.isArray(o.mean) && o.mean.length === d && o.mean.every(isNum))) wrong('ood.mean', `${d} finite numbers (one per time${o.bands ? `, then the ${OOD_BAND_FEATURES} band statistics` : ''})`);
  const pr = o.precision;
  if (!(Array.isArray(pr) && pr.length === d && pr.every((r) => Array.isArray(r) && r.length === d && r.every(isNum)))) wrong('ood.precision', `a ${d} × ${d} matrix of finite numbers`);
  if (!cholesky(pr as number[][])) wrong('ood.precision', 'a symmetric positive-definite matrix');
  if (!(isNum(o.ridge) && o.ridge >= 0)) wrong('ood.ridge', 'a number ≥ 0');
  if (!(Number.isSafeInteger(o.trainImages) && (o.trainImages as number) >= 2)) wrong('ood.trainImages', 'an integer ≥ 2');
  if (!(Number.isSafeInteger(o.seed) && (o.seed as number) >= 0)) wrong('ood.seed', 'a non-negative integer');
  if (!isObj(o.fittedOn)) wrong('ood.fittedOn', 'an object');
  const of = o.fittedOn as Json;
  if (typeof of.split !== 'string') wrong('ood.fittedOn.split', 'a split name');
  for (const k of ['images', 'rank']) if (!(Number.isSafeInteger(of[k]) && (of[k] as number) >= 1)) wrong(`ood.fittedOn.${k}`, 'a positive integer');
  if (typeof of.capped !== 'boolean') wrong('ood.fittedOn.capped', 'true or false');
}

/**
 * The calibration stored in a model folder, or null. One fitted for other weights (another step,
 * raw vs EMA) is ignored with a warning rather than applied to the wrong model. A malformed file
 * (wrong-typed field) is refused with the field named.
 */
export function loadCalibration(modelDir: string, weightsSha256?: string, warn: Logger['warn'] = () => {}): Calibration | null {
  const f = path.join(modelDir, CALIBRATION_FILE);
  if (!fs.existsSync(f)) return null;
  let text: string, raw: unknown;
  try { text = fs.readFileSync(f, 'utf8'); } catch (e) { throw new Error(`${f}: cannot read calibration: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`); }
  try { raw = JSON.parse(text); } catch (e) { throw new Error(`${f}: not valid JSON (${(e as Error).message}); delete it or run meddiff calibrate again`); }
  const c = validateCalibration(raw, f);
  if (weightsSha256 && c.weightsSha256 && c.weightsSha256 !== weightsSha256) {
    warn?.(`${f} was fitted for other weights; ignoring it (run meddiff calibrate again)`);
    return null;
  }
  return c;
}
