// Messages between the server's event loop and its compute worker (worker_threads). The worker
// owns the runtime and the loaded pipelines; the event loop only parses requests and waits.
import type { EarlyStopRule } from '../classify/index.ts';
import type { ExplainProgress, ModelInfo } from './api-types.ts';

export interface ServedModel {
  id: string;
  dir: string;
  /** Test-set images to render as gallery thumbnails: the report's data, split and image ids. */
  gallery?: { data: string; split: string; ids: string[] };
}

export interface WorkerInit {
  models: ServedModel[];
  backend?: string;
  threads?: number;
  /** Most pixels an upload may have when decoded (the decoders check it from the header). */
  maxPixels?: number;
}

/** Request fields a classify job takes (validated before they reach the worker). */
export interface ClassifyFields { n?: number; earlyStop?: EarlyStopRule; mirror?: boolean; seed?: number }
export interface ExplainFields extends ClassifyFields { target?: string; t?: number; quality?: 'fast' | 'full' }

export type JobKind = 'classify' | 'explain';

export interface JobMessage {
  type: 'job';
  id: number;
  kind: JobKind;
  model: string;
  name: string;
  bytes: Uint8Array;
  fields: ExplainFields;
  /** Int32 flag the event loop sets (1 cancelled, 2 timed out) while the worker computes synchronously. */
  cancel: SharedArrayBuffer;
}

/** What the worker knows of a model once loaded; the server adds the card and the gallery. */
export type LoadedModel = Omit<ModelInfo, 'card' | 'gallery'> & { dir: string };

export type FailureKind = 'input' | 'cancelled' | 'timeout' | 'internal';

export type WorkerMessage =
  | {
    type: 'ready'; models: LoadedModel[]; backend: string; threads: number;
    /** Per model id: gallery thumbnails (image id → PNG), or why there are none. */
    galleries: Record<string, { thumbnails: Record<string, Uint8Array> } | { error: string }>;
  }
  | { type: 'init-error'; message: string }
  | { type: 'started'; id: number }
  | { type: 'progress'; id: number; progress: ExplainProgress }
  | { type: 'done'; id: number; result: unknown; seconds: number }
  | { type: 'failed'; id: number; kind: FailureKind; message: string };

export const CANCELLED = 1;
export const TIMED_OUT = 2;
