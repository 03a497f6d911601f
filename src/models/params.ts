import { tf, type Tensor, type Variable } from '../runtime/index.ts';
import type { NamedArrays } from './safetensors.ts';

export type Init = 'zeros' | 'ones' | { uniform: number } | { normal: number };

/** FNV-1a, so each parameter's initial values depend only on the model seed and its name. */
function hashName(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/**
 * A named set of trainable variables. Names are readable paths ("down.1.res.conv1.weight") and
 * are the keys of the safetensors files, so they are part of the checkpoint format.
 */
export class Params {
  readonly vars = new Map<string, Variable>();
  constructor(readonly seed = 0) {}

  add(name: string, shape: number[], init: Init): Variable {
    if (this.vars.has(name)) throw new Error(`duplicate parameter name '${name}'`);
    const seed = (hashName(name) ^ Math.imul(this.seed + 1, 0x9e3779b1)) >>> 0;
    const value = tf.tidy(() => {
      if (init === 'zeros') return tf.zeros(shape);
      if (init === 'ones') return tf.ones(shape);
      if ('uniform' in init) return tf.randomUniform(shape, -init.uniform, init.uniform, 'float32', seed);
      return tf.randomNormal(shape, 0, init.normal, 'float32', seed);
    });
    const v = tf.variable(value, true, `${name}_${this.vars.size}_${Math.random().toString(36).slice(2, 8)}`);
    value.dispose();
    this.vars.set(name, v);
    return v;
  }

  get count(): number {
    let n = 0;
    for (const v of this.vars.values()) n += v.size;
    return n;
  }

  list(): Variable[] { return [...this.vars.values()]; }

  /** Copy values in by name; every parameter must be present with the same shape. */
  assign(values: Map<string, Tensor> | Record<string, Tensor>, source = 'weights'): void {
    const get = (k: string) => (values instanceof Map ? values.get(k) : values[k]);
    const names = values instanceof Map ? [...values.keys()] : Object.keys(values);
    const unknown = names.filter((k) => !this.vars.has(k));
    if (unknown.length) throw new Error(`${source}: unexpected tensors ${unknown.slice(0, 5).join(', ')}${unknown.length > 5 ? ', …' : ''} (the weights belong to another model config)`);
    for (const [name, v] of this.vars) {
      const t = get(name);
      if (!t) throw new Error(`${source}: missing tensor '${name}' (the weights belong to another model config)`);
      if (t.shape.join(',') !== v.shape.join(',')) {
        throw new Error(`${source}: tensor '${name}' has shape [${t.shape}] but the model expects [${v.shape}]`);
      }
      v.assign(t.dtype === 'float32' ? t : tf.cast(t, 'float32'));
    }
  }

  /** Snapshot of every parameter as plain arrays (for safetensors). */
  toNamedArrays(): NamedArrays {
    const out: NamedArrays = new Map();
    for (const [name, v] of this.vars) out.set(name, { shape: [...v.shape], data: v.dataSync() as Float32Array });
    return out;
  }

  /** Load values saved by toNamedArrays; names and shapes must match exactly. */
  loadNamedArrays(named: NamedArrays, source = 'weights'): void {
    tf.tidy(() => {
      const m = new Map<string, Tensor>();
      for (const [name, a] of named) {
        if (!(a.data instanceof Float32Array)) throw new Error(`${source}: tensor '${name}' is not floating point`);
        m.set(name, tf.tensor(a.data, a.shape, 'float32'));
      }
      this.assign(m, source);
    });
  }

  dispose(): void {
    for (const v of this.vars.values()) v.dispose();
    this.vars.clear();
  }
}
