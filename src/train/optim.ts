// Adam with global-norm clipping and linear warm-up (method.md §4). Written here rather than
// taken from tf.train.adam so its state can be saved to and restored from safetensors exactly.
import { adamStepFused, fusedAdamAvailable, tf, type Tensor, type Variable } from '../runtime/index.ts';
import type { NamedArrays } from '../models/index.ts';
import type { Ema } from './ema.ts';

export interface AdamConfig {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** Linear warm-up from 0 to lr over this many steps. */
  warmupSteps: number;
  /** Clip gradients to this global L2 norm (0 = off). */
  clipNorm: number;
}

export const DEFAULT_ADAM_CONFIG: AdamConfig = { lr: 1e-4, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, warmupSteps: 250, clipNorm: 1 };

export function learningRate(cfg: AdamConfig, step: number): number {
  return cfg.warmupSteps > 0 ? cfg.lr * Math.min(1, (step + 1) / cfg.warmupSteps) : cfg.lr;
}

/** Global L2 norm of a set of gradients (a scalar tensor). */
export function globalNorm(grads: Tensor[]): Tensor {
  return tf.tidy(() => tf.sqrt(tf.addN(grads.map((g) => tf.sum(tf.square(g))))));
}

export class Adam {
  readonly cfg: AdamConfig;
  step = 0;
  private readonly m = new Map<string, Variable>();
  private readonly v = new Map<string, Variable>();

  constructor(readonly params: Map<string, Variable>, cfg: Partial<AdamConfig> = {}) {
    this.cfg = { ...DEFAULT_ADAM_CONFIG, ...cfg };
    const zerosVar = (p: Variable) => { const z = tf.zerosLike(p); const v = tf.variable(z, false); z.dispose(); return v; };
    for (const [name, p] of params) {
      this.m.set(name, zerosVar(p));
      this.v.set(name, zerosVar(p));
    }
  }

  /**
   * Apply one update, and the EMA's update after it when `ema` is given (one native pass per
   * parameter where the addon has it, else composite tfjs ops; bit-identical either way). Returns the
   * gradient norm before clipping (as a number; reading it syncs, which a training loop does anyway
   * to log it and to catch NaN).
   */
  apply(grads: Record<string, Tensor>, ema?: Ema): { gradNorm: number; lr: number } {
    const { beta1, beta2, eps, weightDecay, clipNorm } = this.cfg;
    const lr = learningRate(this.cfg, this.step);
    const names = [...this.params.keys()];
    const normT = globalNorm(names.map((n) => grads[n]!));
    const gradNorm = normT.dataSync()[0]!;
    normT.dispose();
    const scale = clipNorm > 0 && gradNorm > clipNorm ? clipNorm / (gradNorm + 1e-6) : 1;
    const t = this.step + 1;
    const bc1 = 1 - beta1 ** t, bc2 = 1 - beta2 ** t;
    const stepSize = lr / bc1;
    const fused = fusedAdamAvailable();
    const plan = fused ? ema?.plan(t) ?? { mode: 'none' as const } : undefined;
    tf.tidy(() => {
      for (const name of names) {
        const p = this.params.get(name)!, m = this.m.get(name)!, v = this.v.get(name)!;
        if (plan) {
          // one native pass: the same float operations as the composite ops below, bit for bit
          const s = plan.mode === 'none' ? null : ema!.shadow.get(name)!;
          const r = adamStepFused(p, grads[name]!, m, v, s, { scale, weightDecay, beta1, beta2, bc2, eps, stepSize, ema: plan });
          m.assign(r.m); v.assign(r.v); p.assign(r.p);
          if (s) s.assign(r.ema!);
          continue;
        }
        let g = grads[name]!;
        if (scale !== 1) g = tf.mul(g, scale);
        if (weightDecay) g = tf.add(g, tf.mul(p, weightDecay));
        const m1 = tf.add(tf.mul(m, beta1), tf.mul(g, 1 - beta1));
        const v1 = tf.add(tf.mul(v, beta2), tf.mul(tf.square(g), 1 - beta2));
        m.assign(m1);
        v.assign(v1);
        p.assign(tf.sub(p, tf.mul(tf.div(m1, tf.add(tf.sqrt(tf.div(v1, bc2)), eps)), stepSize)));
      }
    });
    this.step = t;
    if (!fused) ema?.update(t);
    return { gradNorm, lr };
  }

  /** Moments as named arrays ("m.<param>", "v.<param>") for optimizer.safetensors. */
  state(): NamedArrays {
    const out: NamedArrays = new Map();
    for (const [name, m] of this.m) out.set(`m.${name}`, { shape: [...m.shape], data: m.dataSync() as Float32Array });
    for (const [name, v] of this.v) out.set(`v.${name}`, { shape: [...v.shape], data: v.dataSync() as Float32Array });
    return out;
  }

  loadState(state: NamedArrays, step: number, source = 'optimizer state'): void {
    for (const [kind, map] of [['m', this.m], ['v', this.v]] as const) {
      for (const [name, variable] of map) {
        const a = state.get(`${kind}.${name}`);
        if (!a) throw new Error(`${source}: missing '${kind}.${name}' (saved for another model config?)`);
        if (a.shape.join(',') !== variable.shape.join(',')) throw new Error(`${source}: '${kind}.${name}' has shape [${a.shape}], expected [${variable.shape}]`);
        tf.tidy(() => variable.assign(tf.tensor(a.data as Float32Array, a.shape)));
      }
    }
    this.step = step;
  }

  dispose(): void {
    for (const t of [...this.m.values(), ...this.v.values()]) t.dispose();
  }
}
