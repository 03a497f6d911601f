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
      files[name] = { bytes: bytes.length, sha256: sha256(bytes) };
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
  let state: CheckpointState;
  try {
    state = JSON.parse(read('state.json').toString('utf8'));
  } catch (e) {
    throw new Error(`checkpoint ${dir}: state.json is not valid JSON (${(e as Error).message})`);
  }
  if (state.format !== CHECKPOINT_FORMAT) throw new Error(`checkpoint ${dir}: state.json format is '${state.format}', expected '${CHECKPOINT_FORMAT}'`);
  if (state.version > CHECKPOINT_VERSION) throw new Error(`checkpoint ${dir}: version ${state.version} is newer than this meddiff understands (${CHECKPOINT_VERSION}); upgrade meddiff`);
  const verified = (name: string): Buffer => {
    const want = state.files[name];
    if (!want) throw new Error(`checkpoint ${dir}: state.json does not list ${name}`);
    const b = read(name);
    if (b.length !== want.bytes) throw new Error(`checkpoint ${dir}: ${name} has ${b.length} bytes but state.json recorded ${want.bytes} (truncated or replaced); restore it or retrain`);
    if (sha256(b) !== want.sha256) throw new Error(`checkpoint ${dir}: ${name} does not match the SHA-256 in state.json (corrupt or replaced)`);
    return b;
  };
  const config = JSON.parse(verified('config.json').toString('utf8')) as Record<string, unknown>;
  const tensors = (name: string) => decodeSafetensors(verified(name), path.join(dir, name)).tensors;
  return {
    dir, config, state,
    model: tensors('model.safetensors'),
    ema: state.files['ema.safetensors'] ? tensors('ema.safetensors') : undefined,
    optimizer: opts.optimizer !== false && state.files['optimizer.safetensors'] ? tensors('optimizer.safetensors') : undefined,
  };
}
