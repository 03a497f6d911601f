// Where tfjs keeps tensors, and how much of it a plan may count on.
import { tf } from './tf.ts';

/**
 * What one step (a training micro-batch, a classifier's model call) may plan on when tensors live
 * on the wasm heap (the wasm backend, and the native one, whose kernels work in place on that
 * heap): wasm32 stops at 4 GiB, and tfjs's allocator needs room for fragmentation, the weights and
 * the batch tensors. Without a cap a 64² training batch of 64 was planned at ~8.7 GB, and a 64²
 * classifier call of 256 rows at ~13 GB; both died with "memory access out of bounds".
 */
export const WASM_HEAP_PLAN_BYTES = 3 * 2 ** 30;

/** The heap cap for the active tfjs backend: WASM_HEAP_PLAN_BYTES on wasm/native, none on cpu. */
export function tensorHeapCapBytes(backend = tf.getBackend()): number {
  return backend === 'wasm' ? WASM_HEAP_PLAN_BYTES : Infinity;
}
