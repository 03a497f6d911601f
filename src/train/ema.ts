// Exponential moving average of the weights. The paper's setting (0.999, every 5 steps, from
// step 50) still held mostly early weights after 2,600 steps in our measurements (method.md §11),
// so the default warms the decay up: decay_n = min(maxDecay, (1 + n) / (10 + n)), every step.
import { tf, type Variable } from '../runtime/index.ts';
import type { NamedArrays } from '../models/index.ts';

export interface EmaConfig {
  maxDecay: number;
  /** Use the (1 + n) / (10 + n) warm-up; false = constant maxDecay (the paper). */
  warmup: boolean;
  /** Update every k optimizer steps. */
  every: number;
  /** First step at which the EMA starts tracking (before it, it copies the weights). */
  start: number;
}

export const DEFAULT_EMA_CONFIG: EmaConfig = { maxDecay: 0.999, warmup: true, every: 1, start: 0 };
export const PAPER_EMA_CONFIG: EmaConfig = { maxDecay: 0.999, warmup: false, every: 5, start: 50 };

export function emaDecay(cfg: EmaConfig, updates: number): number {
  return cfg.warmup ? Math.min(cfg.maxDecay, (1 + updates) / (10 + updates)) : cfg.maxDecay;
}

export class Ema {
  readonly shadow = new Map<string, Variable>();
  updates = 0;
  constructor(readonly params: Map<string, Variable>, readonly cfg: EmaConfig = DEFAULT_EMA_CONFIG) {
    for (const [name, p] of params) {
      const c = p.clone();
      this.shadow.set(name, tf.variable(c, false));
      c.dispose();
    }
  }

  /**
   * What the update after optimizer step `step` does — copy the weights (before `start`), blend with
   * decay d, or nothing (between `every` steps) — and count it as done. update() applies it; a fused
   * optimizer pass (src/train/optim.ts) applies it itself.
   */
  plan(step: number): { mode: 'none' } | { mode: 'copy' } | { mode: 'blend'; decay: number } {
    if (step < this.cfg.start) return { mode: 'copy' };
    if (step % this.cfg.every !== 0) return { mode: 'none' };
    return { mode: 'blend', decay: emaDecay(this.cfg, this.updates++) };
  }

  /** Call after optimizer step `step` (1-based count of steps done). */
  update(step: number): void {
    const plan = this.plan(step);
    if (plan.mode === 'none') return;
    tf.tidy(() => {
      for (const [name, p] of this.params) {
        const s = this.shadow.get(name)!;
        s.assign(plan.mode === 'copy' ? p : tf.add(tf.mul(s, plan.decay), tf.mul(p, 1 - plan.decay)));
      }
    });
  }

  toNamedArrays(): NamedArrays {
    const out: NamedArrays = new Map();
    for (const [name, v] of this.shadow) out.set(name, { shape: [...v.shape], data: v.dataSync() as Float32Array });
    return out;
  }

  load(named: NamedArrays, updates: number, source = 'EMA weights'): void {
    for (const [name, v] of this.shadow) {
      const a = named.get(name);
      if (!a) throw new Error(`${source}: missing tensor '${name}'`);
      if (a.shape.join(',') !== v.shape.join(',')) throw new Error(`${source}: '${name}' has shape [${a.shape}], expected [${v.shape}]`);
      tf.tidy(() => v.assign(tf.tensor(a.data as Float32Array, a.shape)));
    }
    this.updates = updates;
  }

  dispose(): void {
    for (const v of this.shadow.values()) v.dispose();
  }
}
