// The HTTP API's shapes, shared by the server (src/server) and the web app (src/server/ui): types
// only, so the browser bundle imports nothing of the server's code. The JSON schemas fastify
// validates against (schemas.ts) describe the same objects.

/** GET /health */
export interface HealthResponse {
  /** 'starting': the compute worker is (re)loading the models; 'degraded': it could not be restarted (jobs get 503). */
  status: 'ok' | 'starting' | 'degraded' | 'stopping';
  uptimeSeconds: number;
  models: string[];
  queue: QueueState;
}

export interface QueueState {
  /** Jobs computing now (one per worker). */
  running: number;
  /** Jobs waiting for the worker. */
  waiting: number;
  /** Most jobs that may wait; one more gets 429. */
  capacity: number;
  /** The compute worker has loaded the models. */
  ready: boolean;
}

/** One served model, as GET /api/models lists it. */
export interface ModelInfo {
  /** The id requests name it by (the folder's name; made unique). */
  id: string;
  classNames: string[];
  /** Pixels the model sees (square) and how many of them hold the image (the rest is padding). */
  imageSize: number;
  contentSize: number;
  channels: 1 | 3;
  /** How images are fitted to the square: 'crop' (centre crop) or 'pad'. */
  fit: string;
  /** The classify settings requests get unless they say otherwise. */
  defaults: { n: number; earlyStop: string; tRange: [number, number]; mirror: boolean };
  /** The fitted calibration, when the folder has one. */
  calibration: null | {
    kind: string;
    positiveClass: string;
    threshold: number;
    fittedOn: { split: string; images: number; n: number };
    /** Out-of-distribution threshold on the OOD score (lowest class mean error), when fitted. */
    oodThreshold: number | null;
  };
  /** The model card (the folder's README.md, Markdown), or null. */
  card: string | null;
  /** Whether GET /api/models/:id/gallery has a test-set report to show. */
  gallery: null | { report: string; split: string; images: number; accuracy: number | null };
}

export interface ModelsResponse { models: ModelInfo[] }

/** POST /api/classify (multipart: `file`, optional `model`, `n`, `earlyStop`, `mirror`, `seed`). */
export interface ClassifyResponse {
  requestId: string;
  model: string;
  /** The upload's file name, as sent (never used as a path). */
  file: string;
  /** Detected from the magic bytes. */
  type: ImageType;
  prediction: string;
  calibrated: boolean;
  decision: 'vote' | 'threshold' | 'offsets' | 'mean';
  /** Share of the votes for the predicted class. */
  voteShare: number;
  /** Normalised vote entropy in [0, 1]. */
  entropy: number;
  /** How unsure the decision is in [0, 1] (entropy, or closeness of the share to the threshold). */
  uncertainty: number;
  /** One sentence a person can read: how sure, and why. */
  uncertaintyText: string;
  probability?: Record<string, number>;
  threshold?: { class: string; value: number; fittedAtN: number };
  ood?: { kind: 'min-class-mean-error' | 'multiscale'; score: number; threshold: number; flagged: boolean };
  /** Votes per class name. */
  votes: Record<string, number>;
  /** Vote share per class name (votes / pairs used). */
  shares: Record<string, number>;
  meanError: Record<string, number>;
  votePrediction: string;
  meanPrediction: string;
  pairsUsed: number;
  forwardPasses: number;
  /** Seconds of compute (in the worker) and end to end (decode + queue + compute). */
  seconds: number;
  totalSeconds: number;
}

export type ImageType = 'png' | 'jpeg' | 'tiff' | 'dicom';

/**
 * POST /api/explain (multipart: `file`, optional `model`, `target`, `t`, `quality`). With
 * `Accept: text/event-stream` the answer is server-sent events: `progress` (ExplainProgress),
 * then one `result` (ExplainResponse) or one `error` (ApiError); otherwise one JSON ExplainResponse.
 */
export interface ExplainProgress {
  phase: 'queued' | 'classify' | 'counterfactuals' | 'check' | 'images';
  /** Steps done and in all, within the phase (counterfactual denoising steps). */
  step: number;
  steps: number;
  /** Jobs ahead of this one while queued. */
  position?: number;
}

export interface ExplainResponse {
  requestId: string;
  model: string;
  file: string;
  type: ImageType;
  classification: ClassifyResponse;
  /** The class the decision reached and the class the counterfactual shows. */
  factual: string;
  target: string;
  /** Noise level the reconstructions started from. */
  tExplain: number;
  /** The counterfactual classified again: did the decision flip to the target? */
  flipped: boolean;
  counterfactualVoteShare: number;
  meanAbsDiff: number;
  fractionChanged: number;
  /** true: the difference map is signed (grayscale: blue = less intensity, red = more); false: |Δ|. */
  signed: boolean;
  /** PNG images as data: URLs, each `width`×`height` (the model's square, upscaled for display). */
  width: number;
  height: number;
  images: {
    input: string;
    /** Reconstruction of the image as each class (class name → PNG). */
    reconstructions: Record<string, string>;
    /** Difference map (counterfactual − factual), colour-mapped, opaque. */
    difference: string;
    /** The same map as RGBA whose alpha follows |Δ|, for laying over `input` at any opacity. */
    differenceOverlay: string;
  };
  seconds: number;
  totalSeconds: number;
}

/** GET /api/models/:id/gallery?outcome=&offset=&limit= : the model's test-set report, most uncertain first. */
export type Outcome = 'TP' | 'TN' | 'FP' | 'FN';
export interface GalleryItem {
  /** Row of the report's predictions.csv; GET /api/models/:id/gallery/:index.png is its image. */
  index: number;
  id: string;
  label: string;
  prediction: string;
  /** For two classes, against the report's positive class; null for more classes. */
  outcome: Outcome | null;
  correct: boolean;
  voteShare: number;
  entropy: number;
  uncertainty: number;
}
export interface GalleryResponse {
  model: string;
  report: string;
  positiveClass: string | null;
  total: number;
  counts: Partial<Record<Outcome, number>>;
  items: GalleryItem[];
}

/** Every error answer: the status, what went wrong, and what to do. */
export interface ApiError {
  statusCode: number;
  error: string;
  message: string;
  requestId: string;
  /** Seconds to wait before retrying (429 and 503 answers; also the Retry-After header). */
  retryAfter?: number;
}
