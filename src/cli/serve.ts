import { Command } from 'commander';
import { startServer, DEFAULT_SERVE } from '../server/index.ts';
import { floatOption, intOption, withRuntimeOptions } from './common.ts';

export function serveCommand(): Command {
  return withRuntimeOptions(new Command('serve'))
    .description('HTTP API and web app: drop an image, see the decision, how sure the model is, and why')
    .requiredOption('--model <dirs>', 'model folder(s), comma-separated')
    .option('--port <n>', 'port (0: any free one)', intOption('--port', 0), 8080)
    .option('--host <addr>', 'address to bind; 127.0.0.1 keeps the server private to this machine (0.0.0.0: every interface)', '127.0.0.1')
    .option('--report <dirs>', "test-set reports (meddiff evaluate --out) for the gallery, comma-separated (default: reports/* beside the models)")
    .option('--queue <n>', 'jobs that may wait while one computes; one more gets 429', intOption('--queue', 0), DEFAULT_SERVE.queue)
    .option('--timeout <s>', 'seconds a request may take, waiting included', floatOption('--timeout', 1), DEFAULT_SERVE.timeoutSeconds)
    .option('--max-upload-mb <mb>', 'largest upload', floatOption('--max-upload-mb', 0.001), DEFAULT_SERVE.maxUploadBytes / 1024 / 1024)
    .option('--max-pixels <n>', 'most pixels an image may declare (checked before decoding)', intOption('--max-pixels', 1), DEFAULT_SERVE.maxPixels)
    .option('--cors-origin <origin>', 'allow this origin to call the API from a browser (default: same origin only)')
    .option('--quiet', 'no request logs (errors only)')
    .addHelpText('after', `
Examples:
  meddiff serve --model models/pneumoniamnist-unet                 # then open http://127.0.0.1:8080
  meddiff serve --model models/pneumoniamnist-unet,models/breastmnist-unet --port 9000
  curl -F file=@data/fixtures/nih_cxr14_00000001_000.png http://127.0.0.1:8080/api/classify

Logs are JSON lines on stdout, one per request, with its request id (also the x-request-id header).
`)
    .action(async (o: Record<string, unknown>) => {
      const split = (v: unknown) => String(v).split(',').map((s) => s.trim()).filter(Boolean);
      const s = await startServer({
        models: split(o.model), reports: o.report === undefined ? undefined : split(o.report), port: o.port as number, host: o.host as string,
        queue: o.queue as number, timeoutSeconds: o.timeout as number, maxUploadBytes: Math.round((o.maxUploadMb as number) * 1024 * 1024), maxPixels: o.maxPixels as number,
        backend: o.backend as string | undefined, threads: o.threads === undefined ? undefined : Number(o.threads), corsOrigin: o.corsOrigin as string | undefined,
        logger: o.quiet ? { level: 'error' } : true,
      });
      process.stderr.write(`meddiff serve: ${s.models.map((m) => m.id).join(', ')} at ${s.url} (backend ${s.backend}; Ctrl-C or SIGTERM to stop)\n`);
      let stopping = false;
      const stop = (sig: string) => {
        if (stopping) { process.stderr.write('meddiff serve: stopping now\n'); process.exit(1); }
        stopping = true;
        process.stderr.write(`meddiff serve: ${sig}: finishing the requests in progress, then stopping\n`);
        s.close().then(() => process.exit(0), (e: Error) => { process.stderr.write(`meddiff serve: ${e.message}\n`); process.exit(1); });
      };
      process.on('SIGTERM', () => stop('SIGTERM'));
      process.on('SIGINT', () => stop('SIGINT'));
    });
}
