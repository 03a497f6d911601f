import { Worker } from 'node:worker_threads';

/**
 * Start a worker thread on a module next to the caller: `<stem>.js` when running compiled (dist/),
 * `<stem>.ts` from source (tsx, tests), with tsx registered inside the worker first.
 * `from` is the caller's import.meta.url.
 */
export function startModuleWorker(from: string, stem: string, workerData?: unknown): Worker {
  if (!from.endsWith('.ts')) return new Worker(new URL(`./${stem}.js`, from), { workerData });
  const entry = new URL(`./${stem}.ts`, from).href;
  return new Worker(`import('tsx/esm/api').then((t) => { t.register(); return import(${JSON.stringify(entry)}); })`, { eval: true, workerData });
}
