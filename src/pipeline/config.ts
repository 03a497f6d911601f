// config.json ↔ PipelineConfig: validation that names the bad field, and the reading of folders
// written before the pipeline existed (version 1: model, train, data, classNames only).
import { validateScheduleConfig } from '../diffusion/index.ts';
import { validateDenoiserConfig, type DenoiserConfig } from '../models/index.ts';
import { PIPELINE_FORMAT, PIPELINE_VERSION, type PipelineConfig, type PreprocessConfig } from './types.ts';

const FITS = ['pad', 'crop', 'stretch'] as const;
const SCALES = ['orthonormal', 'half'] as const;

function fail(where: string, field: string, msg: string): never {
  throw new Error(`${where}: '${field}' ${msg}`);
}

export function validatePreprocessConfig(p: Partial<PreprocessConfig>, where = 'preprocess config'): PreprocessConfig {
  const known = ['channels', 'imageSize', 'contentSize', 'fit', 'wavelet', 'dicomWindow'];
  for (const k of Object.keys(p)) if (!known.includes(k)) fail(where, `preprocess.${k}`, `is not a preprocessing option; allowed: ${known.join(', ')}`);
  if (p.channels !== 1 && p.channels !== 3) fail(where, 'preprocess.channels', `must be 1 (grayscale) or 3 (RGB), got ${JSON.stringify(p.channels)}`);
  const size = p.imageSize;
  if (typeof size !== 'number' || !Number.isInteger(size) || size < 2 || size % 2 !== 0) fail(where, 'preprocess.imageSize', `must be an even integer ≥ 2 (one Haar stage halves it), got ${JSON.stringify(size)}`);
  const content = p.contentSize ?? size;
  if (typeof content !== 'number' || !Number.isInteger(content) || content < 1 || content > size) fail(where, 'preprocess.contentSize', `must be an integer in [1, imageSize = ${size}], got ${JSON.stringify(content)}`);
  const fit = p.fit ?? 'pad';
  if (!(FITS as readonly string[]).includes(fit)) fail(where, 'preprocess.fit', `must be one of ${FITS.join(', ')}, got ${JSON.stringify(fit)}`);
  const w = p.wavelet ?? { levels: 1, scale: 'orthonormal' };
  if (w.levels !== 1) fail(where, 'preprocess.wavelet.levels', `must be 1 (one Haar stage), got ${JSON.stringify(w.levels)}`);
  if (!(SCALES as readonly string[]).includes(w.scale)) fail(where, 'preprocess.wavelet.scale', `must be one of ${SCALES.join(', ')}, got ${JSON.stringify(w.scale)}`);
  const dicomWindow = p.dicomWindow ?? 'voi';
  if (dicomWindow !== 'voi' && dicomWindow !== 'range') fail(where, 'preprocess.dicomWindow', `must be 'voi' or 'range', got ${JSON.stringify(dicomWindow)}`);
  return { channels: p.channels, imageSize: size, contentSize: content, fit, wavelet: { levels: 1, scale: w.scale }, dicomWindow };
}

/** The denoiser (either kind; a DiT's patch divides its imageSize by validation) must see what the
 * preprocessing makes: side / 2 and 4 × channels after one Haar stage. */
export function checkModelFits(model: DenoiserConfig, pre: PreprocessConfig, classNames: readonly string[], where: string): void {
  if (model.imageSize * 2 !== pre.imageSize) fail(where, 'model.imageSize', `${model.imageSize} does not match preprocess.imageSize ${pre.imageSize} (the model sees the Haar transform, ${pre.imageSize / 2}²)`);
  if (model.inChannels !== 4 * pre.channels) fail(where, 'model.inChannels', `${model.inChannels} does not match ${pre.channels} image channel(s) (expected ${4 * pre.channels} after one Haar stage)`);
  if (model.numClasses !== classNames.length) fail(where, 'classNames', `lists ${classNames.length} classes for a model with numClasses = ${model.numClasses}`);
}

/** The schedule a model gets when none is stored: the shifted cosine for its array side. */
export function defaultSchedule(model: DenoiserConfig) {
  return validateScheduleConfig({ kind: 'shifted-cosine', imageSize: model.imageSize });
}

/**
 * A PipelineConfig from a config.json object, version 2 or 1. Version 1 folders get the
 * preprocessing they were trained with (data.imageSize, contentSize, channels, fit; the Haar
 * scale from train.haarScale) and the default schedule, which is what every reader rebuilt.
 */
export function readPipelineConfig(raw: Record<string, unknown>, where = 'config.json'): PipelineConfig {
  if (typeof raw !== 'object' || raw === null) throw new Error(`${where}: not a JSON object`);
  if (raw.format !== undefined && raw.format !== PIPELINE_FORMAT) fail(where, 'format', `is '${String(raw.format)}', expected '${PIPELINE_FORMAT}'`);
  const version = raw.format === undefined ? 1 : Number(raw.version);
  if (!(version >= 1)) fail(where, 'version', `must be a number ≥ 1, got ${JSON.stringify(raw.version)}`);
  if (version > PIPELINE_VERSION) fail(where, 'version', `${version} is newer than this meddiff understands (${PIPELINE_VERSION}); upgrade meddiff`);
  if (!raw.model || typeof raw.model !== 'object') fail(where, 'model', 'is missing: this is not a meddiff model folder');
  let model: DenoiserConfig;
  // a DiT's model section read as a UNet's (or the reverse) is named by validateDenoiserConfig: kind vs the fields present
  try { model = validateDenoiserConfig(raw.model as Partial<DenoiserConfig>); } catch (e) { throw new Error(`${where}: ${(e as Error).message}`); }
  const classNames = raw.classNames;
  if (!Array.isArray(classNames) || !classNames.every((c) => typeof c === 'string')) fail(where, 'classNames', `must be a list of class names, got ${JSON.stringify(classNames)}`);
  const data = (raw.data ?? {}) as Record<string, unknown>;
  const train = (raw.train ?? {}) as Record<string, unknown>;
  let pre: PreprocessConfig;
  if (raw.preprocess !== undefined) pre = validatePreprocessConfig(raw.preprocess as Partial<PreprocessConfig>, where);
  else {
    if (data.imageSize === undefined || data.channels === undefined) fail(where, 'data', "lacks imageSize or channels, and there is no 'preprocess' section");
    // version 1 wrote fit only from session 4 on; earlier npz-trained folders cropped like MedMNIST
    const fit = data.fit ?? (String(data.path ?? '').endsWith('.npz') ? 'crop' : 'pad');
    pre = validatePreprocessConfig({
      channels: data.channels as 1 | 3, imageSize: data.imageSize as number, contentSize: (data.contentSize as number | undefined) ?? (data.imageSize as number),
      fit: fit as PreprocessConfig['fit'], wavelet: { levels: 1, scale: (train.haarScale as PreprocessConfig['wavelet']['scale'] | undefined) ?? 'orthonormal' },
      // version 1 read DICOM by its data range only (Window Center/Width came later)
      dicomWindow: 'range',
    }, where);
  }
  let schedule;
  try { schedule = raw.schedule === undefined ? defaultSchedule(model) : validateScheduleConfig(raw.schedule as object); } catch (e) { throw new Error(`${where}: ${(e as Error).message}`); }
  checkModelFits(model, pre, classNames, where);
  return {
    format: PIPELINE_FORMAT, version: PIPELINE_VERSION, model, preprocess: pre, schedule, classNames: [...classNames],
    ...(raw.train !== undefined ? { train } : {}), ...(raw.data !== undefined ? { data: data as PipelineConfig['data'] } : {}),
  };
}

/**
 * config.json as written: the version-2 sections plus the version-1 keys (data.imageSize,
 * contentSize, channels, fit) so an older meddiff can still read the folder.
 */
export function pipelineConfigJson(c: PipelineConfig): Record<string, unknown> {
  const p = c.preprocess;
  return {
    format: c.format, version: c.version, model: c.model, preprocess: p, schedule: c.schedule, classNames: c.classNames,
    ...(c.train ? { train: c.train } : {}),
    data: { ...(c.data ?? {}), imageSize: p.imageSize, contentSize: p.contentSize, channels: p.channels, fit: p.fit },
  };
}
