// The HTTP API through fastify.inject: every endpoint, and every kind of bad input answered with
// a 4xx that says what is wrong (never a 5xx). The server's answers must equal the library's.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import fc from 'fast-check';
import sharp from 'sharp';
import { buildApp, declaredPixels, type App, type ClassifyResponse, type ExplainResponse, type GalleryResponse, type ModelsResponse } from '../../src/server/index.ts';
import { initRuntime } from '../../src/runtime/index.ts';
import { loadPipeline } from '../../src/pipeline/index.ts';
import { classify, classificationJson } from '../../src/classify/index.ts';
import { makeDicom, patchUS, TS } from '../data/helpers.ts';
import { encodeJpegLs } from '../data/encoders.ts';
import { MODEL, XRAY, form, jpegClaiming, parseSse, pngClaiming } from './helpers.ts';

const FAST = { n: '7' };
let s: App;
const logs: string[] = [];

before(async () => {
  const stream = new Writable({ write(chunk, _e, cb) { logs.push(String(chunk)); cb(); } });
  s = await buildApp({ models: [MODEL], logger: { level: 'info', stream } });
});
after(async () => { await s.app.close(); });

const post = (url: string, f: ReturnType<typeof form>, headers: Record<string, string> = {}) =>
  s.app.inject({ method: 'POST', url, payload: f.payload, headers: { ...f.headers, ...headers } });

describe('read-only endpoints', () => {
  test('GET /health: ok, the models, the queue', async () => {
    const r = await s.app.inject({ url: '/health' });
    assert.equal(r.statusCode, 200);
    const h = r.json();
    assert.equal(h.status, 'ok');
    assert.deepEqual(h.models, ['pneumoniamnist-unet']);
    assert.deepEqual(Object.keys(h.queue).sort(), ['capacity', 'ready', 'running', 'waiting']);
    assert.equal(h.queue.ready, true);
  });

  test('GET /api/models: classes, size, calibration, card and gallery of the shipped model', async () => {
    const { models } = (await s.app.inject({ url: '/api/models' })).json() as ModelsResponse;
    const m = models[0]!;
    assert.deepEqual(m.classNames, ['normal', 'pneumonia']);
    assert.equal(m.imageSize, 32);
    assert.equal(m.contentSize, 28);
    assert.equal(m.calibration?.positiveClass, 'pneumonia');
    assert.ok(m.calibration!.threshold > 0 && m.calibration!.threshold < 1);
    assert.ok(m.calibration!.oodThreshold! > 0);
    assert.deepEqual(m.defaults.tRange, [0.55, 1]);
    assert.match(m.card ?? '', /^# pneumoniamnist-unet/);
    assert.equal(m.gallery?.report, 'pneumoniamnist-test');
    assert.equal(m.gallery?.images, 624);
  });

  test('GET /api/openapi.json documents every API route', async () => {
    const doc = (await s.app.inject({ url: '/api/openapi.json' })).json();
    assert.equal(doc.openapi, '3.1.0');
    for (const p of ['/health', '/api/models', '/api/classify', '/api/explain', '/api/models/{id}/gallery', '/api/models/{id}/gallery/{index}.png']) assert.ok(doc.paths[p], `missing ${p}`);
    assert.ok(doc.paths['/api/classify'].post.responses['429']);
    assert.deepEqual(doc.paths['/api/classify'].post.requestBody.content['multipart/form-data'].schema.required, ['file']);
  });

  test('no CORS header by default, a request id on every answer, unknown routes 404 as JSON', async () => {
    const r = await s.app.inject({ url: '/api/nothing' });
    assert.equal(r.statusCode, 404);
    assert.equal(r.headers['access-control-allow-origin'], undefined);
    assert.equal(r.json().requestId, r.headers['x-request-id']);
    assert.equal(r.headers['x-content-type-options'], 'nosniff');
  });
});

describe('POST /api/classify', () => {
  test('a chest X-ray: the same answer as the library, every field of classify --json', async () => {
    const r = await post('/api/classify', form(FAST, [{ name: 'cxr.png', bytes: XRAY }]));
    assert.equal(r.statusCode, 200, r.body);
    const c = r.json() as ClassifyResponse;
    assert.equal(c.requestId, r.headers['x-request-id']);
    assert.equal(c.file, 'cxr.png');
    assert.equal(c.type, 'png');
    assert.equal(c.votes.normal! + c.votes.pneumonia!, c.pairsUsed);
    assert.ok(Math.abs(c.shares.normal! + c.shares.pneumonia! - 1) < 1e-9);
    assert.ok(c.uncertaintyText.length > 20);
    // the library with the same settings (server defaults: early stop 'decided')
    await initRuntime();
    const p = loadPipeline(MODEL);
    try {
      const [lib] = await classify(p, new Uint8Array(XRAY), { n: 7, earlyStop: 'decided' });
      const j = classificationJson(lib!, p.classNames);
      for (const k of ['prediction', 'decision', 'voteShare', 'entropy', 'uncertainty', 'votes', 'meanError', 'pairsUsed', 'forwardPasses', 'ood'] as const) {
        assert.deepEqual(c[k], j[k], `field ${k}`);
      }
    } finally { p.dispose(); }
    // a JSON log line for the request, with its id
    assert.ok(logs.some((l) => l.includes(c.requestId)), 'request id in the logs');
  });

  test("earlyStop=paired is accepted and uses no more pairs than 'decided'", async () => {
    const d = (await post('/api/classify', form({ n: '51' }, [{ bytes: XRAY }]))).json() as ClassifyResponse;
    const r = await post('/api/classify', form({ n: '51', earlyStop: 'paired' }, [{ bytes: XRAY }]));
    assert.equal(r.statusCode, 200, r.body);
    assert.ok((r.json() as ClassifyResponse).pairsUsed <= d.pairsUsed);
  });

  test('the image as the raw body (fields in the query string) gives the same answer', async () => {
    const a = (await post('/api/classify', form(FAST, [{ bytes: XRAY }]))).json() as ClassifyResponse;
    const r = await s.app.inject({ method: 'POST', url: '/api/classify?n=7', payload: XRAY, headers: { 'content-type': 'application/octet-stream' } });
    assert.equal(r.statusCode, 200, r.body);
    assert.deepEqual((r.json() as ClassifyResponse).votes, a.votes);
  });

  test('a DICOM upload is recognised by its bytes and classified', async () => {
    const px = Array.from({ length: 64 * 64 }, (_, i) => (i * 37) % 4096);
    const dcm = makeDicom({ rows: 64, cols: 64, pixels: px, bitsStored: 12 });
    const r = await post('/api/classify', form(FAST, [{ name: 'scan.dcm', bytes: dcm }]));
    assert.equal(r.statusCode, 200, r.body);
    assert.equal(r.json().type, 'dicom');
  });

  test('a compressed DICOM (JPEG-LS) is decoded in the codec worker nested in the compute worker', async () => {
    const px = Uint16Array.from({ length: 64 * 64 }, (_, i) => (i * 37) % 4096);
    const dcm = makeDicom({ rows: 64, cols: 64, pixels: [], bitsStored: 12, transferSyntax: TS.jpegLs, encapsulated: [[await encodeJpegLs(px, 64, 64, 1, 12)]] });
    const r = await post('/api/classify', form(FAST, [{ name: 'scan.dcm', bytes: dcm }]));
    assert.equal(r.statusCode, 200, r.body);
    const twin = (await post('/api/classify', form(FAST, [{ name: 'twin.dcm', bytes: makeDicom({ rows: 64, cols: 64, pixels: px, bitsStored: 12 }) }]))).json() as ClassifyResponse;
    assert.deepEqual((r.json() as ClassifyResponse).votes, twin.votes, 'the same answer as its uncompressed twin');
  });

  const bad: [string, () => ReturnType<typeof form> | { payload: Buffer; headers: Record<string, string> }, number, RegExp][] = [
    ['an empty file', () => form({}, [{ bytes: new Uint8Array(0) }]), 400, /empty/],
    ['no file at all', () => form({ n: '5' }), 400, /field 'file'/],
    ['a text file', () => form({}, [{ name: 'notes.png', bytes: Buffer.from('hello, this is not an image') }]), 415, /not a PNG, JPEG, TIFF or DICOM/],
    ['a GIF', () => form({}, [{ bytes: Buffer.from('GIF89a\x01\x00\x01\x00\x00\x00\x00;') }]), 415, /not a PNG/],
    ['a truncated PNG', () => form({}, [{ bytes: XRAY.subarray(0, 200) }]), 400, /cannot decode/],
    ['a pixel bomb (PNG header claiming 100000² pixels)', () => form({}, [{ bytes: pngClaiming(100000, 100000) }]), 413, /declares 10000000000 pixels/],
    ['a bad field value', () => form({ n: 'lots' }, [{ bytes: XRAY }]), 400, /field 'n' must be an integer/],
    ['an out-of-range field', () => form({ n: '0' }, [{ bytes: XRAY }]), 400, /field 'n' must be between 1 and 1001/],
    ['an unknown field', () => form({ colour: 'red' }, [{ bytes: XRAY }]), 400, /unknown field 'colour'/],
    ['an unknown model', () => form({ model: 'nope' }, [{ bytes: XRAY }]), 404, /unknown model 'nope'/],
    ['two files', () => form({}, [{ bytes: XRAY }, { bytes: XRAY }]), 413, /./],
    ['JSON instead of an image', () => ({ payload: Buffer.from('{"file":"x"}'), headers: { 'content-type': 'application/json' } }), 415, /multipart/],
    ['a JPEG bomb (SOF claiming 60000² pixels)', () => form({}, [{ bytes: jpegClaiming(60000, 60000) }]), 413, /declares 3600000000 pixels/],
    ['a DICOM claiming 65535² pixels', () => form({}, [{ bytes: patchUS(patchUS(makeDicom({ rows: 8, cols: 8, pixels: new Array(64).fill(1) }), 0x28, 0x10, 65535), 0x28, 0x11, 65535) }]), 413, /declares 4294836225 pixels/],
    ['a JPEG whose header cannot be read', () => form({}, [{ bytes: Buffer.from([0xff, 0xd8, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]) }]), 400, /header cannot be read/],
    ['multipart without a boundary', () => ({ payload: Buffer.from('--x\r\n'), headers: { 'content-type': 'multipart/form-data' } }), 400, /malformed multipart/],
    ['a truncated multipart body', () => { const f = form({}, [{ bytes: XRAY }]); return { ...f, payload: f.payload.subarray(0, 5000) }; }, 400, /malformed multipart/],
  ];
  for (const [what, make, status, message] of bad) {
    test(`${what} → ${status} with a message`, async () => {
      const r = await post('/api/classify', make() as ReturnType<typeof form>);
      assert.equal(r.statusCode, status, r.body);
      const e = r.json();
      assert.match(e.message, message);
      assert.equal(e.requestId, r.headers['x-request-id']);
    });
  }

  test('query values given twice, or names of Object.prototype, are 400s that name the field', async () => {
    for (const q of ['n=3&n=5', 'seed=1&seed=2', 'constructor=x', 'hasOwnProperty=y']) {
      const r = await s.app.inject({ method: 'POST', url: `/api/classify?${q}`, payload: XRAY, headers: { 'content-type': 'application/octet-stream' } });
      assert.equal(r.statusCode, 400, `${q}: ${r.body}`);
      assert.match(r.json().message, new RegExp(`field '${q.split('=')[0]}'`));
    }
  });

  test('upload names are only echoed (folders and control characters removed), never used as paths', async () => {
    const r = await post('/api/classify', form(FAST, [{ name: '../../etc/pass\u0007wd.png', bytes: XRAY }]));
    assert.equal(r.statusCode, 200, r.body);
    assert.equal(r.json().file, 'passwd.png');
  });

  test('mutated images: never a 5xx (fuzz)', async () => {
    await fc.assert(fc.asyncProperty(fc.integer({ min: 0, max: XRAY.length - 1 }), fc.integer({ min: 1, max: 64 }), fc.integer({ min: 0, max: 255 }), fc.boolean(), async (at, len, v, cut) => {
      const b = Buffer.from(XRAY);
      if (!cut) b.fill(v, at, Math.min(b.length, at + len));
      const r = await post('/api/classify', form({ n: '2' }, [{ bytes: cut ? b.subarray(0, Math.max(1, at)) : b }]));
      assert.ok(r.statusCode < 500, `${r.statusCode}: ${r.body}`);
    }), { numRuns: 25, seed: 1 });
  });
});

describe('POST /api/explain', () => {
  test('JSON: a reconstruction per class, the difference map and overlay as PNGs, the flip check', async () => {
    const r = await post('/api/explain', form(FAST, [{ bytes: XRAY }]));
    assert.equal(r.statusCode, 200, r.body);
    const e = r.json() as ExplainResponse;
    assert.deepEqual(Object.keys(e.images.reconstructions).sort(), ['normal', 'pneumonia']);
    assert.notEqual(e.factual, e.target);
    assert.equal(typeof e.flipped, 'boolean');
    assert.equal(e.signed, true);
    for (const url of [e.images.input, e.images.difference, e.images.differenceOverlay, ...Object.values(e.images.reconstructions)]) {
      const m = await sharp(Buffer.from(url.replace(/^data:image\/png;base64,/, ''), 'base64')).metadata();
      assert.equal(m.format, 'png');
      assert.equal(m.width, e.width);
    }
    assert.equal((await sharp(Buffer.from(e.images.differenceOverlay.split(',')[1]!, 'base64')).metadata()).channels, 4);
    assert.equal(e.classification.prediction, e.factual);
  });

  test('server-sent events: progress through the phases, then one result', async () => {
    const r = await post('/api/explain', form({ ...FAST, target: 'pneumonia' }, [{ bytes: XRAY }]), { accept: 'text/event-stream' });
    assert.equal(r.statusCode, 200);
    assert.match(String(r.headers['content-type']), /text\/event-stream/);
    const events = parseSse(r.body);
    const phases = events.filter((e) => e.event === 'progress').map((e) => (e.data as { phase: string }).phase);
    for (const ph of ['classify', 'counterfactuals', 'images']) assert.ok(phases.includes(ph), `phase ${ph} in ${phases.join(',')}`);
    const last = events.at(-1)!;
    assert.equal(last.event, 'result');
    assert.equal((last.data as ExplainResponse).target, 'pneumonia');
  });

  test('an unknown target class, or a bad image over SSE, is an error with a message', async () => {
    const r = await post('/api/explain', form({ target: 'flu' }, [{ bytes: XRAY }]));
    assert.equal(r.statusCode, 400);
    assert.match(r.json().message, /unknown class 'flu'.*normal, pneumonia/);
    const sse = await post('/api/explain', form({}, [{ bytes: XRAY.subarray(0, 300) }]), { accept: 'text/event-stream' });
    const last = parseSse(sse.body).at(-1)!;
    assert.equal(last.event, 'error');
    assert.equal((last.data as { statusCode: number }).statusCode, 400);
  });
});

describe('limits reach the decoder', () => {
  test('a deflated DICOM is not inflated on the event loop, and the worker decodes it under the pixel limit', async () => {
    const px = Array.from({ length: 128 * 128 }, (_, i) => i % 4000);
    const dcm = makeDicom({ rows: 128, cols: 128, pixels: px, bitsStored: 12, transferSyntax: TS.deflatedLE });
    assert.equal(await declaredPixels(dcm, 'dicom'), 'in-decoder');
    const ok = await post('/api/classify', form(FAST, [{ bytes: dcm }]));
    assert.equal(ok.statusCode, 200, ok.body);
    const small = await buildApp({ models: [MODEL], logger: false, maxPixels: 4096 });
    try {
      const r = await small.app.inject({ method: 'POST', url: '/api/classify', ...form(FAST, [{ bytes: dcm }]) });
      assert.equal(r.statusCode, 400, r.body);
      assert.match(r.json().message, /16384 pixels, more than the 4096 allowed/);
    } finally { await small.app.close(); }
  });
});

describe('gallery', () => {
  test('most uncertain first, filtered by outcome, with its images', async () => {
    const all = (await s.app.inject({ url: '/api/models/pneumoniamnist-unet/gallery?limit=200' })).json() as GalleryResponse;
    assert.equal(all.total, 624);
    assert.equal(Object.values(all.counts).reduce((a, b) => a + b!, 0), 624);
    for (let i = 1; i < all.items.length; i++) assert.ok(all.items[i - 1]!.uncertainty >= all.items[i]!.uncertainty);
    const fn = (await s.app.inject({ url: '/api/models/pneumoniamnist-unet/gallery?outcome=FN' })).json() as GalleryResponse;
    assert.equal(fn.total, all.counts.FN);
    assert.ok(fn.items.every((x) => x.outcome === 'FN' && x.label === 'pneumonia' && x.prediction === 'normal'));
    const img = await s.app.inject({ url: `/api/models/pneumoniamnist-unet/gallery/${fn.items[0]!.index}.png` });
    assert.equal(img.statusCode, 200);
    assert.equal((await sharp(img.rawPayload).metadata()).width, 32);
  });

  test('bad outcome, unknown image, unknown model: 4xx', async () => {
    assert.equal((await s.app.inject({ url: '/api/models/pneumoniamnist-unet/gallery?outcome=XX' })).statusCode, 400);
    assert.equal((await s.app.inject({ url: '/api/models/pneumoniamnist-unet/gallery/99999.png' })).statusCode, 404);
    assert.equal((await s.app.inject({ url: '/api/models/other/gallery' })).statusCode, 404);
    assert.equal((await s.app.inject({ url: '/api/models/pneumoniamnist-unet/gallery/..%2F..%2Fpackage.json' })).statusCode, 400);
  });
});
