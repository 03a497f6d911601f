// Checkpoints are folders: config.json, model.safetensors, ema.safetensors,
// optimizer.safetensors and state.json (step, RNG state, class names, data fingerprint, and the
// size + SHA-256 of every file). A new checkpoint is written into a sibling temp folder and then
// swapped in, so a crash or a full disk leaves the previous checkpoint intact.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../util/index.ts';
import { encodeSafetensors, decodeSafetensors, type NamedArrays, type SafetensorsDtype } from '../models/index.ts';

export const CHECKPOINT_FORMAT = 'meddiff-checkpoint';
export const CHECKPOINT_VERSION = 1;

export interface CheckpointState {
  format: typeof CHECKPOINT_FORMAT;
  version: number;
  step: number;
  classNames: string[];
  dataFingerprint: string;
  /** Anything else the trainer needs to resume exactly (RNG states, data position, EMA count). */
  resume: Record<string, unknown>;
  files: Record<string, { bytes: number; sha256: string }>;
  createdAt: string;
  /** Free-form facts for people (training time, machine, git revision). */
  info?: Record<string, unknown>;
}

export interface CheckpointContents {
  config: Record<string, unknown>;
  model: NamedArrays;
  ema?: NamedArrays;
  optimizer?: NamedArrays;
  state: Omit<CheckpointState, 'format' | 'version' | 'files' | 'createdAt'>;
}

const sha256 = (b: Uint8Array) => crypto.createHash('sha256').update(b).digest('hex');

/** What state.json records of a file: its size and SHA-256. */
export const fileRecord = (bytes: Uint8Array) => ({ bytes: bytes.length, sha256: sha256(bytes) });

export function saveCheckpoint(dir: string, c: CheckpointContents, opts: { dtype?: SafetensorsDtype } = {}): void {
  // The swap below replaces `dir` wholesale: never do that to a folder that is not a checkpoint.
  if (fs.existsSync(dir) && fs.readdirSync(dir).length > 0 && !fs.existsSync(path.join(dir, 'state.json'))) {
    throw new Error(`${dir} exists and is not a meddiff checkpoint; choose a new or empty folder`);
  }
  const parent = path.dirname(path.resolve(dir));
  fs.mkdirSync(parent, { recursive: true });
  const tmp = path.join(parent, `.${path.basename(dir)}.tmp-${process.pid}`);
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp);
  try {
    const files: CheckpointState['files'] = {};
    const put = (name: string, bytes: Uint8Array) => {
      writeFileAtomic(path.join(tmp, name), bytes);
      files[name] = fileRecord(bytes);
    };
    put('config.json', new TextEncoder().encode(JSON.stringify(c.config, null, 2) + '\n'));
    put('model.safetensors', encodeSafetensors(c.model, { dtype: opts.dtype, metadata: { format: 'meddiff', step: String(c.state.step) } }));
    if (c.ema) put('ema.safetensors', encodeSafetensors(c.ema, { dtype: opts.dtype, metadata: { format: 'meddiff-ema', step: String(c.state.step) } }));
    if (c.optimizer) put('optimizer.safetensors', encodeSafetensors(c.optimizer));
    const state: CheckpointState = { format: CHECKPOINT_FORMAT, version: CHECKPOINT_VERSION, ...c.state, files, createdAt: new Date().toISOString() };
    writeFileAtomic(path.join(tmp, 'state.json'), JSON.stringify(state, null, 2) + '\n');
    const old = `${path.resolve(dir)}.old`;
    fs.rmSync(old, { recursive: true, force: true });
    if (fs.existsSync(dir)) fs.renameSync(dir, old);
    fs.renameSync(tmp, dir);
    fs.rmSync(old, { recursive: true, force: true });
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

/** Where a checkpoint lives: the folder itself, or its ".old" twin if a swap was interrupted. */
function resolveDir(dir: string): string {
  if (fs.existsSync(path.join(dir, 'state.json'))) return dir;
  const old = `${path.resolve(dir)}.old`;
  if (fs.existsSync(path.join(old, 'state.json'))) return old;
  if (!fs.existsSync(dir)) throw new Error(`checkpoint ${dir} does not exist`);
  throw new Error(`${dir} is not a meddiff checkpoint (no state.json): expected config.json, model.safetensors and state.json`);
}

export interface LoadedCheckpoint {
  dir: string;
  config: Record<string, unknown>;
  state: CheckpointState;
  model: NamedArrays;
  ema?: NamedArrays;
  optimizer?: NamedArrays;
}

/** The fields loadCheckpoint and its callers rely on, checked so a damaged state.json names itself. */
function validateState(s: unknown, where: string): asserts s is CheckpointState {
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isObj(s)) throw new Error(`${where} is not a JSON object`);
  if (!Number.isSafeInteger(s.version)) throw new Error(`${where}: 'version' must be an integer, got ${JSON.stringify(s.version)}`);
  if (!Number.isSafeInteger(s.step) || (s.step as number) < 0) throw new Error(`${where}: 'step' must be a non-negative integer, got ${JSON.stringify(s.step)}`);
  if (s.classNames !== undefined && !(Array.isArray(s.classNames) && s.classNames.every((c) => typeof c === 'string'))) {
    throw new Error(`${where}: 'classNames' must be a list of strings`);
  }
  if (!isObj(s.files)) throw new Error(`${where}: 'files' must map file names to {bytes, sha256}`);
  for (const [name, f] of Object.entries(s.files)) {
    if (!isObj(f) || !Number.isSafeInteger(f.bytes) || typeof f.sha256 !== 'string') {
      throw new Error(`${where}: files['${name}'] must be {bytes: integer, sha256: string}, got ${JSON.stringify(f)}`);
    }
  }
  if (s.resume !== undefined && !isObj(s.resume)) throw new Error(`${where}: 'resume' must be an object`);
  if (s.info !== undefined && !isObj(s.info)) throw new Error(`${where}: 'info' must be an object`);
}

/** Read and verify a checkpoint: every file must have the size and hash recorded in state.json. */
export function loadCheckpoint(dirIn: string, opts: { optimizer?: boolean } = {}): LoadedCheckpoint {
  const dir = resolveDir(dirIn);
  const read = (name: string): Buffer => {
    const file = path.join(dir, name);
    try {
      return fs.readFileSync(file);
    } catch (e) {
      throw new Error(`checkpoint ${dir}: cannot read ${name}: ${(e as Error).message}`);
    }
  };
  const stateBytes = read('state.json');
  let state: CheckpointState;
  try {
    state = JSON.parse(stateBytes.toString('utf8'));
  } catch (e) {
    throw new Error(`checkpoint ${dir}: state.json is not valid JSON (${(e as Error).message})`);
  }
  validateState(state, `checkpoint ${dir}: state.json`);
  if (state.format !== CHECKPOINT_FORMAT) throw new Error(`checkpoint ${dir}: state.json format is '${state.format}', expected '${CHECKPOINT_FORMAT}'`);
  if (state.version > CHECKPOINT_VERSION) throw new Error(`checkpoint ${dir}: version ${state.version} is newer than this meddiff understands (${CHECKPOINT_VERSION}); upgrade meddiff`);
  const verified = (name: string): Buffer => {
    const want = Object.hasOwn(state.files, name) ? state.files[name] : undefined;
    if (!want) throw new Error(`checkpoint ${dir}: state.json does not list ${name}`);
    const b = read(name);
    if (b.length !== want.bytes) throw new Error(`checkpoint ${dir}: ${name} has ${b.length} bytes but state.json recorded ${want.bytes} (truncated or replaced); restore it or retrain`);
    if (sha256(b) !== want.sha256) throw new Error(`checkpoint ${dir}: ${name} does not match the SHA-256 in state.json (corrupt or replaced)`);
    return b;
  };
  let config: Record<string, unknown>;
  try { config = JSON.parse(verified('config.json').toString('utf8')) as Record<string, unknown>; } catch (e) {
    if (!(e instanceof SyntaxError)) throw e;
    throw new Error(`checkpoint ${dir}: config.json is not valid JSON (${e.message})`);
  }
  if (typeof config !== 'object' || config === null || Array.isArray(config)) throw new Error(`checkpoint ${dir}: config.json is not a JSON object`);
  const tensors = (name: string) => decodeSafetensors(verified(name), path.join(dir, name)).tensors;
  return {
    dir, config, state,
    model: tensors('model.safetensors'),
    ema: state.files['ema.safetensors'] ? tensors('ema.safetensors') : undefined,
    optimizer: opts.optimizer !== false && state.files['optimizer.safetensors'] ? tensors('optimizer.safetensors') : undefined,
  };
}
