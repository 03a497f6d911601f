/**
 * Worker thread of the codec sandbox (sandbox.ts): decodes one frame per message with the npm codecs
 * and posts the samples back (their buffer transferred, not copied).
 */
import { parentPort } from 'node:worker_threads';
import { CodecError, CodecMissingError, decodeCodec, prepareCodec } from './external.ts';
import type { SandboxReply, SandboxRequest } from './sandbox.ts';

const port = parentPort;
if (!port) throw new Error('src/data/codecs/sandbox-worker.ts runs as a worker thread (sandbox.ts starts it), not on its own');

port.on('message', (r: SandboxRequest) => {
  // Load the codec first and say so: the time limit counts decoding, not start-up and compilation.
  prepareCodec(r.codec).then(() => {
    const started: SandboxReply = { id: r.id, started: true };
    port.postMessage(started);
    return decodeCodec(r.codec, r.data, r.bytesPerSample);
  }).then((frame) => {
    const reply: SandboxReply = { id: r.id, frame };
    port.postMessage(reply, [frame.samples.buffer as ArrayBuffer]);
  }, (e: unknown) => {
    const kind = e instanceof CodecMissingError ? 'missing' : e instanceof CodecError ? 'codec' : 'other';
    const reply: SandboxReply = { id: r.id, error: { kind, message: e instanceof Error ? e.message : String(e) } };
    port.postMessage(reply);
  });
});
