// JSON schemas of the API: the request fields (validated here for multipart forms, by fastify for
// query strings), the responses (fastify serialises with them), and the OpenAPI document built
// from both, so the document cannot drift from what the server checks.
import { HttpError } from './queue.ts';
import type { ExplainFields } from './protocol.ts';

type Schema = Record<string, unknown>;

const classifyFieldSchema: Record<string, Schema> = {
  model: { type: 'string', maxLength: 200, description: 'model id from GET /api/models (default: the only or first model)' },
  n: { type: 'integer', minimum: 1, maximum: 1001, description: 'noise/time pairs per image (default: the N the model was calibrated at, else 51)' },
  earlyStop: {
    type: 'string', enum: ['off', 'decided', 'confident', 'paired'],
    description: "'decided' (default) stops once the remaining pairs cannot change the decision; 'paired' once they would change it with probability < 0.05 (3.65× fewer passes on PneumoniaMNIST, 99.5% same decisions)",
  },
  mirror: { type: 'boolean', description: 'odd pairs see the mirror image (default: as calibrated)' },
  seed: { type: 'integer', minimum: 0, maximum: 2 ** 31 - 1, description: 'seed of the noise pairs (default 0)' },
};
const explainFieldSchema: Record<string, Schema> = {
  ...classifyFieldSchema,
  target: { type: 'string', maxLength: 200, description: 'class the counterfactual shows (default: the runner-up)' },
  t: { type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 1, description: 'noise level the reconstructions start from (default 0.5 grayscale, 0.3 colour)' },
  quality: { type: 'string', enum: ['fast', 'full'], description: "'fast' (25 DDIM steps, default) or 'full' (256 ancestral steps)" },
};
export const FIELD_SCHEMAS = { classify: classifyFieldSchema, explain: explainFieldSchema };

/**
 * Multipart text fields (or query-string values) → typed fields; an unknown field or a bad value
 * is a 400 that names it and says what is allowed.
 */
export function parseFields(kind: 'classify' | 'explain', raw: Record<string, unknown>): ExplainFields & { model?: string } {
  const spec = FIELD_SCHEMAS[kind];
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) {
    const s = Object.hasOwn(spec, k) ? spec[k] : undefined;
    if (typeof v !== 'string') throw new HttpError(400, `field '${k.slice(0, 40)}' given more than once`);
    if (!s) throw new HttpError(400, `unknown field '${k}'; ${kind} takes: file, ${Object.keys(spec).join(', ')}`);
    const bad = (what: string) => new HttpError(400, `field '${k}' must be ${what}, got '${v.slice(0, 40)}'`);
    if (s.type === 'integer' || s.type === 'number') {
      const x = Number(v);
      if (v.trim() === '' || !Number.isFinite(x) || (s.type === 'integer' && !Number.isInteger(x))) throw bad(s.type === 'integer' ? 'an integer' : 'a number');
      if ((s.minimum !== undefined && x < (s.minimum as number)) || (s.maximum !== undefined && x > (s.maximum as number))
        || (s.exclusiveMinimum !== undefined && x <= (s.exclusiveMinimum as number)) || (s.exclusiveMaximum !== undefined && x >= (s.exclusiveMaximum as number))) {
        const lo = s.minimum ?? s.exclusiveMinimum, hi = s.maximum ?? s.exclusiveMaximum;
        throw bad(`${s.exclusiveMinimum !== undefined ? 'in the open interval' : 'between'} ${lo} and ${hi}`);
      }
      out[k] = x;
    } else if (s.type === 'boolean') {
      if (v !== 'true' && v !== 'false' && v !== '1' && v !== '0') throw bad("'true' or 'false'");
      out[k] = v === 'true' || v === '1';
    } else {
      if (s.enum && !(s.enum as string[]).includes(v)) throw bad(`one of ${(s.enum as string[]).join(', ')}`);
      if (v.length > ((s.maxLength as number | undefined) ?? 200)) throw bad(`at most ${s.maxLength} characters`);
      out[k] = v;
    }
  }
  return out as ExplainFields & { model?: string };
}

const num = { type: 'number' }, str = { type: 'string' }, int = { type: 'integer' }, bool = { type: 'boolean' };
const record = (v: Schema) => ({ type: 'object', additionalProperties: v });
const obj = (properties: Record<string, Schema>, optional: string[] = []): Schema => ({
  type: 'object', properties, required: Object.keys(properties).filter((k) => !optional.includes(k)), additionalProperties: false,
});

export const errorSchema = obj({ statusCode: int, error: str, message: str, requestId: str, retryAfter: num }, ['retryAfter']);
export const queueSchema = obj({ running: int, waiting: int, capacity: int, ready: bool });
export const healthSchema = obj({ status: { type: 'string', enum: ['ok', 'starting', 'degraded', 'stopping'] }, uptimeSeconds: num, models: { type: 'array', items: str }, queue: queueSchema });

const modelSchema = obj({
  id: str, classNames: { type: 'array', items: str }, imageSize: int, contentSize: int, channels: int, fit: str,
  defaults: obj({ n: int, earlyStop: str, tRange: { type: 'array', items: num }, mirror: bool }),
  calibration: {
    anyOf: [{ type: 'null' }, obj({
      kind: str, positiveClass: str, threshold: num, fittedOn: obj({ split: str, images: int, n: int }), oodThreshold: { type: ['number', 'null'] },
    })],
  },
  card: { type: ['string', 'null'] },
  gallery: { anyOf: [{ type: 'null' }, obj({ report: str, split: str, images: int, accuracy: { type: ['number', 'null'] } })] },
});
export const modelsSchema = obj({ models: { type: 'array', items: modelSchema } });

const classifyProps: Record<string, Schema> = {
  requestId: str, model: str, file: str, type: { type: 'string', enum: ['png', 'jpeg', 'tiff', 'dicom'] },
  prediction: str, calibrated: bool, decision: { type: 'string', enum: ['vote', 'threshold', 'offsets', 'mean'] },
  voteShare: num, entropy: num, uncertainty: num, uncertaintyText: str,
  probability: record(num), threshold: obj({ class: str, value: num, fittedAtN: int }), ood: obj({ kind: { type: 'string', enum: ['min-class-mean-error', 'multiscale'] }, score: num, threshold: num, flagged: bool }),
  votes: record(int), shares: record(num), meanError: record(num), votePrediction: str, meanPrediction: str,
  pairsUsed: int, forwardPasses: int, seconds: num, totalSeconds: num, warnings: { type: 'array', items: str },
};
export const classifySchema = obj(classifyProps, ['probability', 'threshold', 'ood', 'warnings']);

export const explainSchema = obj({
  requestId: str, model: str, file: str, type: str, classification: obj({ ...classifyProps }, ['requestId', 'model', 'file', 'type', 'totalSeconds', 'probability', 'threshold', 'ood', 'warnings']),
  factual: str, target: str, tExplain: num, flipped: bool, counterfactualVoteShare: num, meanAbsDiff: num, fractionChanged: num, signed: bool,
  width: int, height: int,
  images: obj({ input: str, reconstructions: record(str), difference: str, differenceOverlay: str }),
  seconds: num, totalSeconds: num, warnings: { type: 'array', items: str },
}, ['warnings']);

const galleryItem = obj({
  index: int, id: str, label: str, prediction: str, outcome: { type: ['string', 'null'], enum: ['TP', 'TN', 'FP', 'FN', null] }, correct: bool, voteShare: num, entropy: num, uncertainty: num,
});
export const gallerySchema = obj({
  model: str, report: str, positiveClass: { type: ['string', 'null'] }, total: int,
  counts: { type: 'object', properties: { TP: int, TN: int, FP: int, FN: int }, additionalProperties: false }, items: { type: 'array', items: galleryItem },
});
export const galleryQuerySchema = obj({
  outcome: { type: 'string', enum: ['TP', 'TN', 'FP', 'FN'] }, offset: { type: 'integer', minimum: 0, default: 0 }, limit: { type: 'integer', minimum: 1, maximum: 200, default: 48 },
}, ['outcome', 'offset', 'limit']);
export const modelParamsSchema = obj({ id: { type: 'string', maxLength: 200 } });
export const imageParamsSchema = obj({ id: { type: 'string', maxLength: 200 }, index: { type: 'string', pattern: '^[0-9]{1,7}\\.png$' } });

const errors = (...codes: number[]) => Object.fromEntries(codes.map((c) => [String(c), { description: ({ 400: 'bad input (the message says which field or why the image cannot be read)', 404: 'unknown model or image', 413: 'upload or declared pixel count too large', 415: 'not a PNG, JPEG, TIFF or DICOM file', 429: 'queue full: retry after the Retry-After header\'s seconds', 503: 'timed out or shutting down' } as Record<number, string>)[c], content: { 'application/json': { schema: errorSchema } } }]));

function uploadBody(kind: 'classify' | 'explain'): Schema {
  return {
    required: true,
    content: {
      'multipart/form-data': { schema: { type: 'object', required: ['file'], properties: { file: { type: 'string', format: 'binary', description: 'PNG, JPEG, TIFF or DICOM' }, ...FIELD_SCHEMAS[kind] } } },
      'application/octet-stream': { schema: { type: 'string', format: 'binary' }, description: 'the image bytes alone; the fields go in the query string' },
    },
  };
}

/** The OpenAPI 3.1 document served at /api/openapi.json. */
export function openApiDocument(version: string): Schema {
  const query = (kind: 'classify' | 'explain') => Object.entries(FIELD_SCHEMAS[kind]).map(([name, schema]) => ({ name, in: 'query', required: false, schema }));
  const json = (schema: Schema, description: string) => ({ description, content: { 'application/json': { schema } } });
  return {
    openapi: '3.1.0',
    info: { title: 'meddiff', version, description: 'Diffusion-model medical image classifier: decisions, vote-entropy uncertainty and counterfactual explanations.' },
    paths: {
      '/health': { get: { summary: 'liveness and queue state (answers while a job runs)', responses: { 200: json(healthSchema, 'ok') } } },
      '/api/models': { get: { summary: 'the served models: classes, image size, calibration, model card', responses: { 200: json(modelsSchema, 'models') } } },
      '/api/classify': {
        post: {
          summary: 'classify one image: prediction, vote shares, uncertainty, forward passes, time (the fields of meddiff classify --json)',
          parameters: query('classify'), requestBody: uploadBody('classify'),
          responses: { 200: json(classifySchema, 'the classification'), ...errors(400, 404, 413, 415, 429, 503) },
        },
      },
      '/api/explain': {
        post: {
          summary: 'counterfactual explanation of one image; with Accept: text/event-stream, progress events then the result',
          parameters: query('explain'), requestBody: uploadBody('explain'),
          responses: {
            200: {
              description: 'the explanation (JSON), or server-sent events: `progress` (phase, step, steps), then `result` (this schema) or `error`',
              content: { 'application/json': { schema: explainSchema }, 'text/event-stream': { schema: { type: 'string' } } },
            },
            ...errors(400, 404, 413, 415, 429, 503),
          },
        },
      },
      '/api/models/{id}/gallery': {
        get: {
          summary: "the model's own test-set report, most uncertain first",
          parameters: [{ name: 'id', in: 'path', required: true, schema: str }, ...Object.entries((galleryQuerySchema.properties as Record<string, Schema>)).map(([name, schema]) => ({ name, in: 'query', required: false, schema }))],
          responses: { 200: json(gallerySchema, 'one page of the gallery'), ...errors(400, 404) },
        },
      },
      '/api/models/{id}/gallery/{index}.png': {
        get: {
          summary: 'one gallery image as the model sees it',
          parameters: [{ name: 'id', in: 'path', required: true, schema: str }, { name: 'index', in: 'path', required: true, schema: int }],
          responses: { 200: { description: 'PNG', content: { 'image/png': {} } }, ...errors(404) },
        },
      },
    },
  };
}
