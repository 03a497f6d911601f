// Public surface of src/server: `meddiff serve` as a library — the fastify app (buildApp, for
// inject tests and embedding) and startServer (listening), with the API's types.
export { buildApp, startServer, DEFAULT_SERVE } from './app.ts';
export type { ServeOptions, App } from './app.ts';
export { ComputePool, HttpError } from './queue.ts';
export { sniffType, declaredPixels } from './sniff.ts';
export { openApiDocument } from './schemas.ts';
export type * from './api-types.ts';
