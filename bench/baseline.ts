// bench:baseline — training and inference throughput of the discriminative baselines on the active
// backend: one training step (batch 64, Adam, batch norm in training mode) and eval-mode inference
// (batch 256) at the MedMNIST side, with the runtime's ISA line so machines can be told apart.
//   npm run bench:baseline [-- --arch resnet18,vit-s16] [--size 28] [--channels 1] [--reps 5] [--backend wasm]
import { initRuntime, runtimeInfo, tf } from '../src/runtime/index.ts';
import { createBaseline, BASELINE_ARCHS, type BaselineArch } from '../src/models/index.ts';
import { Adam } from '../src/train/index.ts';
import { machine, timeMedian, writeResult } from './common.ts';

const args = process.argv.slice(2);
const opt = (name: string, def: string) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1]! : def; };
const rt = await initRuntime({ backend: opt('backend', process.env.MEDDIFF_BACKEND ?? 'auto') as never });
const reps = Number(opt('reps', rt.backend === 'native' ? '5' : '2'));
const size = Number(opt('size', '28')), channels = Number(opt('channels', '1')) as 1 | 3;
const trainBatch = Number(opt('train-batch', '64')), inferBatch = Number(opt('infer-batch', '256'));
const archs = opt('arch', 'resnet18').split(',') as BaselineArch[];
for (const a of archs) if (!BASELINE_ARCHS.includes(a)) throw new Error(`--arch: unknown '${a}'; allowed: ${BASELINE_ARCHS.join(', ')}`);

const results = [];
for (const arch of archs) {
  const net = createBaseline({ kind: arch, inChannels: channels, imageSize: size, numClasses: 2 });
  const adam = new Adam(net.params.vars, { warmupSteps: 0, clipNorm: 0 });
  const x = tf.randomUniform([trainBatch, size, size, channels], -1, 1), xi = tf.randomUniform([inferBatch, size, size, channels], -1, 1);
  const y = tf.oneHot(tf.tensor1d(Array.from({ length: trainBatch }, (_, i) => i % 2), 'int32'), 2);
  const vars = net.params.list();
  let seed = 0;
  const step = () => {
    const { value, grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(y, net.apply(x, { training: true, dropout: true, seed: seed++ })) as tf.Scalar, vars);
    const named: Record<string, tf.Tensor> = {};
    for (const [n, v] of net.params.vars) named[n] = grads[v.name]!;
    adam.apply(named);
    net.updateBuffers();
    tf.dispose([value, ...Object.values(grads)]);
  };
  const trainMs = await timeMedian(step, reps, 2);
  const inferMs = await timeMedian(() => tf.tidy(() => net.apply(xi, { training: false, dropout: false }).dataSync()), reps, 1);
  const r = {
    arch, imageSize: size, channels, parameters: net.parameterCount(),
    train: { batch: trainBatch, msPerStep: trainMs, imgPerSec: (trainBatch * 1000) / trainMs },
    inference: { batch: inferBatch, msPerBatch: inferMs, imgPerSec: (inferBatch * 1000) / inferMs },
  };
  console.log(JSON.stringify(r));
  results.push(r);
  tf.dispose([x, xi, y]);
  adam.dispose();
  net.dispose();
}
const info = runtimeInfo();
const file = writeResult(`baseline-${rt.backend}.json`, { date: new Date().toISOString(), machine: machine(), backend: rt.backend, isa: info?.libraries.isa ?? null, runtime: info, reps, results });
console.log(`wrote ${file}`);
