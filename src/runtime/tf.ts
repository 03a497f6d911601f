// The one place that imports tfjs. The umbrella package is required (not tfjs-core alone):
// its Node bundle is the one that registers gradients and chained ops.
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-backend-cpu';

export { tf };
export type Tensor = tf.Tensor;
export type Variable = tf.Variable;
