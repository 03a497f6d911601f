// calibration.json beside the weights: read (checked against the weights it was fitted for) and
// written atomically. Fitting lives in classify; this is only the file.
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../util/index.ts';
import type { Calibration, Logger } from './types.ts';

export const CALIBRATION_FILE = 'calibration.json';

export function saveCalibration(modelDir: string, c: Calibration): string {
  const file = path.join(modelDir, CALIBRATION_FILE);
  writeFileAtomic(file, JSON.stringify(c, null, 2) + '\n');
  return file;
}

/**
 * The calibration stored in a model folder, or null. One fitted for other weights (another step,
 * raw vs EMA) is ignored with a warning rather than applied to the wrong model.
 */
export function loadCalibration(modelDir: string, weightsSha256?: string, warn: Logger['warn'] = () => {}): Calibration | null {
  const f = path.join(modelDir, CALIBRATION_FILE);
  if (!fs.existsSync(f)) return null;
  let c: Calibration;
  try { c = JSON.parse(fs.readFileSync(f, 'utf8')) as Calibration; } catch (e) { throw new Error(`${f}: not valid JSON (${(e as Error).message}); delete it or run meddiff calibrate again`); }
  if (c.kind !== 'vote-share-threshold' || !(c.threshold >= 0 && c.threshold <= 1.000001)) throw new Error(`${f}: not a meddiff calibration (kind '${c.kind}')`);
  if (!Number.isInteger(c.positive) || c.positive < 0) throw new Error(`${f}: 'positive' must be a class index, got ${JSON.stringify(c.positive)}`);
  if (weightsSha256 && c.weightsSha256 && c.weightsSha256 !== weightsSha256) {
    warn?.(`${f} was fitted for other weights; ignoring it (run meddiff calibrate again)`);
    return null;
  }
  return c;
}
