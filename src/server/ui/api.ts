// Talking to the meddiff server: JSON requests, multipart uploads, and the explain endpoint's
// server-sent events read from a fetch() body (EventSource cannot POST).
import type { ApiError, ClassifyResponse, ExplainProgress, ExplainResponse, GalleryResponse, ModelsResponse, Outcome } from '../api-types.ts';

/** An answer that was not 2xx, with the server's own message when it sent one. */
export class ApiRequestError extends Error {
  readonly status: number;
  readonly requestId: string | null;
  /** Seconds, from Retry-After (429). */
  readonly retryAfter: number | null;
  constructor(status: number, message: string, requestId: string | null = null, retryAfter: number | null = null) {
    super(message);
    this.name = 'ApiRequestError';
    this.status = status;
    this.requestId = requestId;
    this.retryAfter = retryAfter;
  }
}

// Relative to the page, so the app also works behind a reverse proxy under a path prefix.
export const apiUrl = (path: string): string => new URL(path, document.baseURI).href;

/** An error body as the server sends it; a full queue (429) or a timeout (503) may add `retryAfter` (seconds). */
type ApiErrorBody = ApiError & { retryAfter?: unknown };

function isApiError(x: unknown): x is ApiErrorBody {
  return typeof x === 'object' && x !== null && typeof (x as ApiError).message === 'string';
}

/** Whole seconds to wait, from a Retry-After header or a `retryAfter` field; null when absent or not a positive number. */
function retrySeconds(x: unknown): number | null {
  // Retry-After may also be an HTTP date: count the seconds until then.
  const n = typeof x === 'number' ? x
    : typeof x === 'string' && x.trim() !== '' ? (Number.isFinite(Number(x)) ? Number(x) : (Date.parse(x) - Date.now()) / 1000)
      : NaN;
  return Number.isFinite(n) && n > 0 ? Math.ceil(n) : null;
}

async function errorFrom(res: Response): Promise<ApiRequestError> {
  const fromHeader = retrySeconds(res.headers.get('retry-after'));
  let body: unknown = null;
  try { body = await res.json(); } catch { /* not JSON: fall back to the status line */ }
  if (isApiError(body)) {
    return new ApiRequestError(res.status, body.message, body.requestId ?? null, fromHeader ?? retrySeconds(body.retryAfter));
  }
  return new ApiRequestError(res.status, `${res.status} ${res.statusText || 'error'}`.trim(), null, fromHeader);
}

async function request<T>(path: string, init: RequestInit = {}): Promise<T> {
  let res: Response;
  try {
    res = await fetch(apiUrl(path), { ...init, headers: { Accept: 'application/json', ...init.headers } });
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    throw new ApiRequestError(0, 'the server cannot be reached: is meddiff serve still running?');
  }
  if (!res.ok) throw await errorFrom(res);
  return await res.json() as T;
}

export const getModels = (): Promise<ModelsResponse> => request<ModelsResponse>('api/models');

export function getGallery(model: string, outcome: Outcome | null, offset: number, limit: number, signal?: AbortSignal): Promise<GalleryResponse> {
  const q = new URLSearchParams({ offset: String(offset), limit: String(limit) });
  if (outcome) q.set('outcome', outcome);
  return request<GalleryResponse>(`api/models/${encodeURIComponent(model)}/gallery?${q}`, { signal });
}

export const galleryImageUrl = (model: string, index: number): string => apiUrl(`api/models/${encodeURIComponent(model)}/gallery/${index}.png`);

/** The upload form: the file first, then the options that were set (empty ones are left to the server). */
export function uploadForm(file: Blob, name: string, fields: Record<string, string | undefined>): FormData {
  const form = new FormData();
  // Text fields before the file, so a streaming multipart parser sees them before the bytes.
  for (const [k, v] of Object.entries(fields)) if (v !== undefined && v !== '') form.append(k, v);
  form.append('file', file, name);
  return form;
}

export const classify = (form: FormData, signal?: AbortSignal): Promise<ClassifyResponse> =>
  request<ClassifyResponse>('api/classify', { method: 'POST', body: form, signal });

/** One server-sent event: its type and its data lines joined. */
export interface SseEvent { event: string; data: string }

/**
 * An incremental SSE parser (the WHATWG rules that matter here): lines end in LF, CRLF or CR, a
 * blank line dispatches the event, `event:` names it, `data:` lines join with LF, `:` is a comment.
 */
export function sseParser(onEvent: (e: SseEvent) => void): { push(chunk: string): void; end(): void } {
  let buffer = '';
  let event = '';
  let data: string[] = [];
  const dispatch = (): void => {
    if (data.length) onEvent({ event: event || 'message', data: data.join('\n') });
    event = '';
    data = [];
  };
  const line = (l: string): void => {
    if (l === '') return dispatch();
    if (l.startsWith(':')) return;
    const colon = l.indexOf(':');
    const field = colon < 0 ? l : l.slice(0, colon);
    let value = colon < 0 ? '' : l.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
  };
  return {
    push(chunk) {
      buffer += chunk;
      // A trailing CR may be the first half of a CRLF split across chunks: keep it for the next one.
      const re = /\r\n|\n|\r(?!$)/g;
      let start = 0;
      for (let m = re.exec(buffer); m; m = re.exec(buffer)) {
        line(buffer.slice(start, m.index));
        start = m.index + m[0].length;
      }
      buffer = buffer.slice(start);
    },
    end() {
      if (buffer) line(buffer.replace(/\r$/, ''));
      buffer = '';
      dispatch();
    },
  };
}

/** POST /api/explain as an event stream: progress callbacks, then the result (or the error thrown). */
export async function explainStream(form: FormData, onProgress: (p: ExplainProgress) => void, signal?: AbortSignal): Promise<ExplainResponse> {
  let res: Response;
  try {
    res = await fetch(apiUrl('api/explain'), { method: 'POST', body: form, signal, headers: { Accept: 'text/event-stream' } });
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    throw new ApiRequestError(0, 'the server cannot be reached: is meddiff serve still running?');
  }
  // Errors before the stream starts (413, 415, 429, …) come back as plain JSON.
  if (!res.ok) throw await errorFrom(res);
  if (!(res.headers.get('content-type') ?? '').includes('text/event-stream')) return await res.json() as ExplainResponse;
  if (!res.body) throw new ApiRequestError(res.status, 'the server sent an empty answer');

  // An object, not two lets: TypeScript does not see assignments made inside the callback.
  const got: { result?: ExplainResponse; failure?: ApiRequestError } = {};
  const parser = sseParser(({ event, data }) => {
    if (got.result || got.failure) return;
    let body: unknown;
    try { body = JSON.parse(data); } catch { return; }
    if (event === 'progress') onProgress(body as ExplainProgress);
    else if (event === 'result') got.result = body as ExplainResponse;
    else if (event === 'error') {
      const e = isApiError(body) ? body : null;
      got.failure = new ApiRequestError(e?.statusCode ?? 500, e?.message ?? 'the explanation failed', e?.requestId ?? null, retrySeconds(e?.retryAfter));
    }
  });
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      parser.push(value);
      if (got.result || got.failure) break;
    }
    parser.end();
  } finally {
    reader.cancel().catch(() => { /* already closed */ });
  }
  if (got.failure) throw got.failure;
  if (got.result) return got.result;
  throw new ApiRequestError(0, 'the connection closed before the explanation arrived');
}
