// The fastify app behind `meddiff serve`: the API (api-types.ts, schemas.ts), the web app's files,
// limits on every upload, structured JSON logs with a request id, and the compute pool that keeps
// the model work off the event loop.
import fs from 'node:fs';
import { STATUS_CODES } from 'node:http';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import multipart from '@fastify/multipart';
import { resolveModelDir } from '../pipeline/index.ts';
import { readJsonOrNull } from '../util/index.ts';
import { MAX_IMAGE_PIXELS } from '../data/index.ts';
import type { ClassifyResponse, ExplainProgress, ExplainResponse, HealthResponse, ImageType, ModelInfo, Outcome } from './api-types.ts';
import { ComputePool, HttpError } from './queue.ts';
import { findReport, galleryPage, readGallery, type GallerySource } from './gallery.ts';
import { declaredPixels, sniffType } from './sniff.ts';
import type { ServedModel } from './protocol.ts';
import * as S from './schemas.ts';

export interface ServeOptions {
  /** Model folders (shipped models, checkpoints or training runs). */
  models: string[];
  /** Test-set report folders for the gallery (default: found beside the models). */
  reports?: string[];
  /** Jobs that may wait while one computes (default 8); one more gets 429. */
  queue?: number;
  /** Seconds a request may take, queue included (default 120). */
  timeoutSeconds?: number;
  /** Largest upload in bytes (default 20 MB). */
  maxUploadBytes?: number;
  /** Most pixels an upload may declare (default 8192²). */
  maxPixels?: number;
  backend?: string;
  threads?: number;
  /** fastify's logger: true (JSON lines on stdout, the default), false, or pino options. */
  logger?: boolean | Record<string, unknown>;
  /** An Access-Control-Allow-Origin value; default none (same-origin only). */
  corsOrigin?: string;
}

export const DEFAULT_SERVE = { queue: 8, timeoutSeconds: 120, maxUploadBytes: 20 * 1024 * 1024, maxPixels: MAX_IMAGE_PIXELS };

const SECURITY_HEADERS = { 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer', 'x-frame-options': 'DENY' };
const RAW_TYPES = ['application/octet-stream', 'image/png', 'image/jpeg', 'image/tiff', 'application/dicom'];
const CSP = "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

function packageVersion(): string {
  for (const up of ['../..', '../../..']) {
    try { return (JSON.parse(fs.readFileSync(new URL(`${up}/package.json`, import.meta.url), 'utf8')) as { version: string }).version; } catch { /* next */ }
  }
  return '0.0.0';
}

/** Names that are unique and safe in a URL: the folder's name, then -2, -3 for repeats. */
function modelIds(dirs: readonly string[]): string[] {
  const seen = new Map<string, number>();
  return dirs.map((d) => {
    const base = path.basename(path.resolve(d)).replace(/[^\w.-]+/g, '_') || 'model';
    const k = (seen.get(base) ?? 0) + 1;
    seen.set(base, k);
    return k === 1 ? base : `${base}-${k}`;
  });
}

/** What an upload's name may show in a response: no control characters, bounded. */
function displayName(name: string | undefined): string {
  return (name ?? 'upload').replace(/[\u0000-\u001f\u007f]/g, '').slice(0, 200) || 'upload';
}

interface Upload { bytes: Uint8Array; name: string; fields: Record<string, string> }

async function readUpload(req: FastifyRequest): Promise<Upload> {
  const query = { ...(req.query as Record<string, string> | undefined) };
  if (!req.isMultipart()) {
    const body = req.body as Buffer | undefined;
    if (!body || body.length === 0) throw new HttpError(400, 'the upload is empty: send the image as multipart form field `file`, or as the request body with Content-Type application/octet-stream');
    return { bytes: new Uint8Array(body.buffer, body.byteOffset, body.byteLength), name: 'upload', fields: query };
  }
  const fields: Record<string, string> = { ...query };
  let file: { bytes: Uint8Array; name: string } | null = null;
  try {
    file = await readParts(req, fields);
  } catch (e) {
    // broken framing (no boundary, truncated, an aborted upload) is the client's, never a 5xx
    if (e instanceof HttpError || ((e as { statusCode?: number }).statusCode ?? 0) === 413) throw e;
    throw new HttpError(400, `malformed multipart upload (${(e as Error).message}); send the image as form field 'file'`);
  }
  if (!file) throw new HttpError(400, "no image in the form: send it as multipart field 'file'");
  if (file.bytes.length === 0) throw new HttpError(400, `${file.name}: the uploaded file is empty`);
  return { ...file, fields };
}

async function readParts(req: FastifyRequest, fields: Record<string, string>): Promise<{ bytes: Uint8Array; name: string } | null> {
  let file: { bytes: Uint8Array; name: string } | null = null;
  for await (const part of req.parts()) {
    if (part.type === 'file') {
      if (part.fieldname !== 'file') { part.file.resume(); throw new HttpError(400, `unexpected file field '${part.fieldname.slice(0, 40)}'; send the image as field 'file'`); }
      if (file) { part.file.resume(); throw new HttpError(400, 'send one image per request (field `file` appeared twice)'); }
      const buf = await part.toBuffer();
      file = { bytes: new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength), name: displayName(part.filename) };
    } else {
      if (Object.hasOwn(fields, part.fieldname) && !Object.hasOwn(req.query as object ?? {}, part.fieldname)) throw new HttpError(400, `field '${part.fieldname.slice(0, 40)}' given twice`);
      fields[part.fieldname] = String(part.value);
    }
  }
  return file;
}

function errorBody(status: number, message: string, requestId: string, e: HttpError | null) {
  const retry = Number(e?.headers['retry-after']);
  return { statusCode: status, error: STATUS_CODES[status] ?? 'Error', message, requestId, ...(retry > 0 ? { retryAfter: retry } : {}) };
}

export interface App {
  app: FastifyInstance;
  pool: ComputePool;
  models: ModelInfo[];
}

/** Load the models in a compute worker and build the app (not listening yet: app.listen, or app.inject in tests). */
export async function buildApp(o: ServeOptions): Promise<App> {
  if (!o.models.length) throw new Error('serve: give at least one model folder (--model <dir>)');
  const cfg = { ...DEFAULT_SERVE, ...Object.fromEntries(Object.entries({ queue: o.queue, timeoutSeconds: o.timeoutSeconds, maxUploadBytes: o.maxUploadBytes, maxPixels: o.maxPixels }).filter(([, v]) => v !== undefined)) };
  const dirs = o.models.map((d) => resolveModelDir(d));
  const ids = modelIds(o.models);
  const app = Fastify({
    logger: o.logger ?? true, genReqId: () => randomUUID(), requestIdHeader: false,
    bodyLimit: 64 * 1024, return503OnClosing: true,
  });

  // the gallery: each model's test-set report, found before the worker starts so it renders the thumbnails
  const galleries = new Map<string, GallerySource>();
  const served: ServedModel[] = dirs.map((dir, k) => ({ id: ids[k]!, dir }));
  const started = performance.now();
  for (const m of served) {
    const classNames = (readJsonOrNull(path.join(m.dir, 'config.json'))?.classNames ?? []) as string[];
    const tRange = (readJsonOrNull(path.join(m.dir, 'calibration.json'))?.tRange ?? [0, 1]) as [number, number];
    const report = findReport(m.dir, tRange, o.reports ?? []);
    if (!report) continue;
    try {
      const g = readGallery(report, classNames);
      galleries.set(m.id, g);
      m.gallery = { data: g.data, split: g.split, ids: g.items.map((x) => x.id) };
    } catch (e) {
      app.log.warn(`gallery of ${m.id}: ${(e as Error).message}`);
    }
  }
  const pool = new ComputePool({
    models: served, backend: o.backend, threads: o.threads, capacity: cfg.queue, timeoutSeconds: cfg.timeoutSeconds, maxPixels: cfg.maxPixels,
    onLog: (level, msg) => app.log[level](msg),
  });
  const loaded = await pool.ready();
  for (const [id, g] of Object.entries(pool.galleries)) if ('error' in g) { app.log.warn(`gallery of ${id}: ${g.error}`); galleries.delete(id); }
  const models: ModelInfo[] = loaded.map(({ dir, ...m }) => {
    const g = galleries.get(m.id);
    let card: string | null = null;
    try { card = fs.readFileSync(path.join(dir, 'README.md'), 'utf8').slice(0, 64 * 1024); } catch { /* no model card */ }
    return { ...m, card, gallery: g ? { report: path.basename(g.report), split: g.split, images: g.items.length, accuracy: g.accuracy } : null };
  });
  const byId = new Map(models.map((m) => [m.id, m]));
  const modelFor = (id: string | undefined): ModelInfo => {
    const m = id === undefined || id === '' ? models[0]! : byId.get(id);
    if (!m) throw new HttpError(404, `unknown model '${id}'; this server has: ${models.map((x) => x.id).join(', ')}`);
    return m;
  };
  let stopping = false;

  // only images (multipart or raw bytes) are read: JSON and text bodies get 415
  app.removeAllContentTypeParsers();
  await app.register(multipart, { limits: { fileSize: cfg.maxUploadBytes, files: 1, fields: 16, fieldSize: 1024, parts: 20, headerPairs: 200 }, throwFileSizeLimit: true });
  app.addContentTypeParser(RAW_TYPES, { parseAs: 'buffer', bodyLimit: cfg.maxUploadBytes }, (_req, body, done) => done(null, body));

  // uploads being read or checked (their bytes are in memory): bounded, so a burst is refused before its bodies are buffered
  let uploading = 0;
  const maxUploading = cfg.queue + 2;
  app.addHook('onRequest', async (req, reply) => {
    if (req.method === 'POST' && (req.url.startsWith('/api/classify') || req.url.startsWith('/api/explain'))) {
      const no = pool.refusal() ?? (uploading >= maxUploading
        ? new HttpError(429, `the server is busy (${uploading} uploads being read); retry in ${pool.retryAfterSeconds()} s`, { 'retry-after': String(pool.retryAfterSeconds()) }) : null);
      if (no) throw no;
      uploading++;
      let counted = true;
      const done = () => { if (counted) { counted = false; uploading--; } };
      (req as FastifyRequest & { uploadDone?: () => void }).uploadDone = done;
      reply.raw.on('close', done);
    }
    const len = Number(req.headers['content-length'] ?? 0);
    // refuse an oversized upload from its header, before reading it
    if (len > cfg.maxUploadBytes + 64 * 1024) throw new HttpError(413, `the upload is ${(len / 1e6).toFixed(1)} MB; the limit is ${(cfg.maxUploadBytes / 1e6).toFixed(0)} MB (--max-upload-mb)`);
  });
  app.addHook('onSend', async (req, reply) => {
    reply.header('x-request-id', req.id);
    reply.headers(SECURITY_HEADERS);
    if (o.corsOrigin) reply.header('access-control-allow-origin', o.corsOrigin);
    // while stopping, answers close their connection so keep-alive sockets do not hold the shutdown
    if (stopping) reply.header('connection', 'close');
  });
  app.addHook('preClose', async () => { stopping = true; });
  app.addHook('onClose', async () => { await pool.close(); });

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, req, reply) => {
    let status = err instanceof HttpError ? err.statusCode : err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    let message = err.message;
    if (err.code === 'FST_REQ_FILE_TOO_LARGE' || err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') { status = 413; message = `the upload is larger than the limit of ${(cfg.maxUploadBytes / 1e6).toFixed(0)} MB (--max-upload-mb)`; }
    if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') { status = 415; message = `send the image as multipart/form-data (field 'file') or as ${RAW_TYPES.join(', ')}`; }
    if (status >= 500 && !(err instanceof HttpError)) { req.log.error({ err }, 'internal error'); message = 'internal error (see the server log for this request id)'; }
    else req.log.info({ status, reason: message }, 'request refused');
    if (err instanceof HttpError) reply.headers(err.headers);
    return reply.code(status).send(errorBody(status, message, String(req.id), err instanceof HttpError ? err : null));
  });
  app.setNotFoundHandler((req, reply) => reply.code(404).send({ statusCode: 404, error: 'Not Found', message: `no route ${req.method} ${req.url.split('?')[0]}`, requestId: String(req.id) }));

  // ---- API
  app.get('/health', { schema: { response: { 200: S.healthSchema } } }, async (): Promise<HealthResponse> => ({
    status: stopping ? 'stopping' : pool.failure ? 'degraded' : pool.state().ready ? 'ok' : 'starting', uptimeSeconds: (performance.now() - started) / 1000, models: models.map((m) => m.id), queue: pool.state(),
  }));
  app.get('/api/models', { schema: { response: { 200: S.modelsSchema } } }, async () => ({ models }));
  app.get('/api/openapi.json', async () => S.openApiDocument(packageVersion()));

  /** Upload → checked bytes and fields, refused before any decoding when the type or declared size is wrong. */
  async function accept(kind: 'classify' | 'explain', req: FastifyRequest) {
    const t0 = performance.now();
    const up = await readUpload(req);
    const { model, ...fields } = S.parseFields(kind, up.fields);
    const m = modelFor(model);
    const type = sniffType(up.bytes);
    if (!type) throw new HttpError(415, `${up.name}: not a PNG, JPEG, TIFF or DICOM file (judged by its first bytes, not its name)`);
    const px = await declaredPixels(up.bytes, type);
    if (px === null) throw new HttpError(400, `${up.name}: looks like ${type.toUpperCase()} but its header cannot be read (truncated or corrupt); re-export the image`);
    if (px !== 'in-decoder' && px > cfg.maxPixels) throw new HttpError(413, `${up.name}: the image declares ${px} pixels, more than the ${cfg.maxPixels} this server decodes; downscale it (models see at most 256²)`);
    (req as FastifyRequest & { uploadDone?: () => void }).uploadDone?.();
    return { t0, up, fields, m, type: type as ImageType };
  }

  /** An AbortSignal that fires when the client goes away before its answer is sent. */
  function clientGone(reply: FastifyReply): AbortSignal {
    const ac = new AbortController();
    reply.raw.on('close', () => { if (!reply.raw.writableFinished) ac.abort(); });
    return ac.signal;
  }

  app.post('/api/classify', { schema: { response: { 200: S.classifySchema } } }, async (req, reply): Promise<ClassifyResponse> => {
    const { t0, up, fields, m, type } = await accept('classify', req);
    const { result } = await pool.run({ kind: 'classify', model: m.id, name: up.name, bytes: up.bytes, fields }, { signal: clientGone(reply) });
    return { requestId: String(req.id), model: m.id, file: up.name, type, ...(result as object), totalSeconds: (performance.now() - t0) / 1000 } as ClassifyResponse;
  });

  app.post('/api/explain', { schema: { response: { 200: S.explainSchema } } }, async (req, reply) => {
    const { t0, up, fields, m, type } = await accept('explain', req);
    if (fields.target !== undefined && !m.classNames.includes(fields.target)) throw new HttpError(400, `field 'target': unknown class '${fields.target}'; the model's classes are ${m.classNames.join(', ')}`);
    const signal = clientGone(reply);
    const job = { kind: 'explain' as const, model: m.id, name: up.name, bytes: up.bytes, fields };
    const wrap = (r: unknown, seconds?: number): ExplainResponse => {
      const x = r as ExplainResponse;
      const base = { requestId: String(req.id), model: m.id, file: up.name, type };
      return { ...base, ...x, classification: { ...base, ...x.classification, seconds: seconds ?? x.seconds, totalSeconds: (performance.now() - t0) / 1000 }, totalSeconds: (performance.now() - t0) / 1000 };
    };
    if (!String(req.headers.accept ?? '').includes('text/event-stream')) {
      const { result } = await pool.run(job, { signal });
      return wrap(result);
    }
    // server-sent events: progress while queued and computing, then the result or the error.
    // A full queue is still an HTTP 429 (checked here, and nothing awaits between this and pool.run).
    const no = pool.refusal();
    if (no) throw no;
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: stopping ? 'close' : 'keep-alive',
      'x-request-id': String(req.id), ...SECURITY_HEADERS, ...(o.corsOrigin ? { 'access-control-allow-origin': o.corsOrigin } : {}),
    });
    const send = (event: string, data: unknown) => { if (!res.writableEnded) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`); };
    try {
      const { result } = await pool.run(job, { signal, onProgress: (p: ExplainProgress) => send('progress', p) });
      send('result', wrap(result));
    } catch (e) {
      const status = e instanceof HttpError ? e.statusCode : 500;
      if (status >= 500 && !(e instanceof HttpError)) req.log.error({ err: e }, 'internal error');
      send('error', errorBody(status, status >= 500 && !(e instanceof HttpError) ? 'internal error (see the server log for this request id)' : (e as Error).message, String(req.id), e instanceof HttpError ? e : null));
    }
    res.end();
    return reply;
  });

  app.get('/api/models/:id/gallery', { schema: { params: S.modelParamsSchema, querystring: S.galleryQuerySchema, response: { 200: S.gallerySchema } } }, async (req) => {
    const { id } = req.params as { id: string };
    const m = modelFor(id), g = galleries.get(m.id);
    if (!g) throw new HttpError(404, `model '${m.id}' has no test-set report to show (serve with --report <dir of meddiff evaluate --out>)`);
    return galleryPage(m.id, g, req.query as { outcome?: Outcome; offset?: number; limit?: number });
  });
  app.get('/api/models/:id/gallery/:index', { schema: { params: S.imageParamsSchema } }, async (req, reply) => {
    const { id, index } = req.params as { id: string; index: string };
    const m = modelFor(id), g = galleries.get(m.id), t = pool.galleries[m.id];
    const item = g?.items.find((x) => x.index === Number(index.replace(/\.png$/, '')));
    const png = item && t && 'thumbnails' in t ? t.thumbnails[item.id] : undefined;
    if (!png) throw new HttpError(404, `no gallery image ${index} for model '${m.id}'`);
    return reply.type('image/png').header('cache-control', 'public, max-age=3600').send(Buffer.from(png.buffer, png.byteOffset, png.byteLength));
  });

  // ---- the web app
  let assets: Map<string, { body: Buffer; type: string }> | null = null, assetError = '';
  try {
    const { loadUiAssets } = await import('./assets.ts');
    assets = await loadUiAssets();
  } catch (e) {
    assetError = (e as Error).message;
    app.log.warn(`web app unavailable: ${assetError}`);
  }
  const sendAsset = (name: string, reply: FastifyReply) => {
    if (!assets) throw new HttpError(503, `the web app is not available (${assetError}); the API still works`);
    const a = assets.get(name);
    if (!a) throw new HttpError(404, `no asset '${name.slice(0, 80)}'`);
    if (a.type.startsWith('text/html')) reply.header('content-security-policy', CSP);
    return reply.type(a.type).header('cache-control', 'no-cache').send(a.body);
  };
  app.get('/', async (_req, reply) => sendAsset('index.html', reply));
  app.get('/assets/:name', { schema: { params: { type: 'object', properties: { name: { type: 'string', pattern: '^[\\w.-]{1,80}$' } }, required: ['name'] } } },
    async (req, reply) => sendAsset((req.params as { name: string }).name, reply));

  return { app, pool, models };
}

/** buildApp, listening: 127.0.0.1 unless told otherwise. */
export async function startServer(o: ServeOptions & { port?: number; host?: string }): Promise<{ url: string; app: FastifyInstance; models: ModelInfo[]; pool: ComputePool; backend: string; close: () => Promise<void> }> {
  const { app, models, pool } = await buildApp(o);
  const url = await app.listen({ port: o.port ?? 8080, host: o.host ?? '127.0.0.1' });
  return { url, app, models, pool, backend: pool.info.backend, close: () => app.close() };
}
