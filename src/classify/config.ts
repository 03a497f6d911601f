import { DEFAULT_CLASSIFY_CONFIG, EARLY_STOP_DEFAULTS } from './constants.ts';
import type { ClassifyConfig } from './types.ts';

const ALLOWED = {
  times: ['uniform', 'stratified', 'grid'],
  aggregate: ['vote', 'mean'],
  earlyStop: ['off', 'decided', 'confident', 'paired'],
} as const;

export function validateClassifyConfig(partial: Partial<ClassifyConfig> = {}): ClassifyConfig {
  const keys = Object.keys(DEFAULT_CLASSIFY_CONFIG);
  for (const k of Object.keys(partial)) if (!keys.includes(k)) throw new Error(`classify config: '${k}' is not an option; allowed: ${keys.join(', ')}`);
  const given = Object.fromEntries(Object.entries(partial).filter(([, v]) => v !== undefined)) as Partial<ClassifyConfig>;
  // a rule's own alpha, minPairs and chunk fill what the caller left open
  const ruleDefaults = typeof given.earlyStop === 'string' ? EARLY_STOP_DEFAULTS[given.earlyStop as keyof typeof EARLY_STOP_DEFAULTS] : undefined;
  const c = { ...DEFAULT_CLASSIFY_CONFIG, ...ruleDefaults, ...given } as ClassifyConfig;
  const int = (f: keyof ClassifyConfig, min: number) => {
    const v = c[f];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new Error(`classify config: '${f}' must be an integer ≥ ${min}, got ${JSON.stringify(v)}`);
  };
  int('n', 1); int('seed', 0); int('batchSize', 1); int('chunk', 1); int('minPairs', 1);
  for (const [f, allowed] of Object.entries(ALLOWED)) {
    const v = c[f as keyof ClassifyConfig] as string;
    if (!(allowed as readonly string[]).includes(v)) throw new Error(`classify config: '${f}' must be one of ${allowed.join(', ')}, got '${v}'`);
  }
  const r = c.tRange as unknown;
  if (!Array.isArray(r) || r.length !== 2 || !r.every((v) => typeof v === 'number' && v >= 0 && v <= 1) || !(r[0] < r[1])) {
    throw new Error(`classify config: 'tRange' must be [tMin, tMax] with 0 ≤ tMin < tMax ≤ 1, got ${JSON.stringify(r)}`);
  }
  c.tRange = [r[0], r[1]];
  for (const f of ['mirror', 'keepErrors'] as const) if (typeof c[f] !== 'boolean') throw new Error(`classify config: '${f}' must be true or false, got ${JSON.stringify(c[f])}`);
  const d = c.decisionThreshold as unknown as { positive?: unknown; threshold?: unknown } | null;
  if (d !== null && (typeof d !== 'object' || !Number.isInteger(d.positive) || (d.positive as number) < 0 || typeof d.threshold !== 'number' || !(d.threshold >= 0 && d.threshold <= 1.000001))) {
    throw new Error(`classify config: 'decisionThreshold' must be null or { positive: class index, threshold: a vote share in [0, 1] }, got ${JSON.stringify(d)}`);
  }
  const b = c.classOffsets as unknown;
  if (b !== null && !(Array.isArray(b) && b.length >= 2 && b.every((v) => typeof v === 'number' && Number.isFinite(v)))) {
    throw new Error(`classify config: 'classOffsets' must be null or one finite number per class, got ${JSON.stringify(b)}`);
  }
  if (b !== null && c.decisionThreshold !== null) throw new Error("classify config: 'decisionThreshold' and 'classOffsets' are two calibrated decisions; set one of them (the other null)");
  const pr = c.prune as unknown as { afterPairs?: unknown; keep?: unknown } | null;
  if (pr !== null && (typeof pr !== 'object' || Object.keys(pr).some((k) => k !== 'afterPairs' && k !== 'keep') || !Number.isInteger(pr.afterPairs) || (pr.afterPairs as number) < 1 || !Number.isInteger(pr.keep) || (pr.keep as number) < 1)) {
    throw new Error(`classify config: 'prune' must be null or { afterPairs: an integer ≥ 1, keep: an integer ≥ 1 }, got ${JSON.stringify(pr)}`);
  }
  if (pr !== null) c.prune = { afterPairs: pr.afterPairs as number, keep: pr.keep as number };
  if (!(c.alpha > 0 && c.alpha < 1)) throw new Error(`classify config: 'alpha' must be in (0, 1), got ${c.alpha}`);
  return c;
}
