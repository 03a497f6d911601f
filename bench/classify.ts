// bench:classify — images/s of the diffusion classifier at N = 51 on PneumoniaMNIST images, and how
// many forward passes early stopping saves, at what cost to the decision the user gets (same run).
//   npm run bench:classify [-- --model models/pneumoniamnist-unet --split test --limit 100|all --n 51
//                              --rules off,decided,paired --replay paired:0.05:4:2,... --out name.json
//                              --errors-out file.json]
// The model's calibrated settings apply (time window, vote-share threshold: `predicted` is the
// calibrated decision, `votePred` the plain majority). A rule is name[:alpha[:minPairs[:chunk]]];
// the first rule must be 'off' (all N pairs), the reference every other row is compared with.
// --replay rules are not run: they are applied to the 'off' run's per-pair errors (pair k of an image
// has the same t and ε whatever the rule, so a replay gives the rule's decisions and pair counts
// without its forward passes; timings are not measured for them).
import { initRuntime } from '../src/runtime/index.ts';
import { loadPipeline } from '../src/pipeline/index.ts';
import { DiffusionClassifier, classifySettings, shouldStopEarly, validateClassifyConfig, type ClassifyConfig, type ImageResult } from '../src/classify/index.ts';
import { aggregateFirstPairs, thresholdDecision } from '../src/stats/index.ts';
import { openDataset, stackSplit, type SplitName } from '../src/data/index.ts';
import { writeFileAtomic } from '../src/util/index.ts';
import path from 'node:path';
import { machine, writeResult } from './common.ts';

const args = process.argv.slice(2);
const opt = (name: string, def: string) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1]! : def; };
const rt = await initRuntime({});
const modelDir = opt('model', 'models/pneumoniamnist-unet');
const split = opt('split', 'test') as SplitName;
const limitArg = opt('limit', '100'), n = Number(opt('n', '51'));
const tm = loadPipeline(modelDir);
const ds = await openDataset(opt('data', 'data/pneumoniamnist.npz'), { ...tm.datasetOptions(), split });
const { images, labels, count } = stackSplit(ds.split(split), limitArg === 'all' ? {} : { limit: Number(limitArg), spread: true });
// the model's shipped settings: its calibrated time window and threshold (--t-range lo,hi overrides
// the window and then drops the threshold, as `meddiff classify --t-range` does)
const tArg = opt('t-range', '');
const settings = classifySettings(tm, { n, ...(tArg ? { tRange: tArg.split(',').map(Number) as [number, number] } : {}) });
const { tRange, mirror, decisionThreshold, aggregate } = settings.config;
const base: Partial<ClassifyConfig> = { n, tRange, mirror, decisionThreshold, aggregate };

/** 'paired:0.02:4:2' → { earlyStop: 'paired', alpha: 0.02, minPairs: 4, chunk: 2 }; fields left out take the rule's defaults. */
function parseRule(spec: string): Partial<ClassifyConfig> {
  const [rule, alpha, minPairs, chunk] = spec.split(':');
  const num = (s: string | undefined) => (s === undefined || s === '' ? undefined : Number(s));
  return { earlyStop: rule as ClassifyConfig['earlyStop'], alpha: num(alpha), minPairs: num(minPairs), chunk: num(chunk) };
}
const list = (s: string) => s.split(',').map((x) => x.trim()).filter(Boolean);
const rules = list(opt('rules', 'off,decided,confident:0.05:6:2,paired'));
const replays = list(opt('replay', ''));
if (rules[0] !== 'off') throw new Error(`bench:classify: the first rule must be 'off' (the reference), got '${rules[0]}'`);

interface Outcome { predicted: number; votePred: number; pairsUsed: number }

/** The outcome of a stopping rule applied to the first pairs of a full run's errors (what classify() would return). */
function replay(full: ImageResult, cfg: ClassifyConfig, K: number): Outcome {
  const step = cfg.earlyStop === 'off' ? cfg.n : cfg.chunk;
  let used = 0;
  do used = Math.min(cfg.n, used + step); while (!shouldStopEarly(full.errors!, used, K, cfg));
  const a = aggregateFirstPairs(full.errors!, K, used);
  const d = cfg.decisionThreshold;
  const voted = d ? thresholdDecision(a.votes[d.positive]! / used, d.threshold, d.positive) : a.votePred;
  return { predicted: cfg.aggregate === 'vote' ? voted : a.meanPred, votePred: a.votePred, pairsUsed: used };
}

const K = tm.classNames.length;
const rows: Record<string, unknown>[] = [];
let off: { results: ImageResult[]; passes: number; seconds: number; acc: number; voteAcc: number } | null = null;
const fraction = (xs: boolean[]) => xs.filter(Boolean).length / xs.length;

function report(name: string, cfg: ClassifyConfig, r: Outcome[], seconds: number | null): void {
  const passes = r.reduce((s, x) => s + x.pairsUsed * K, 0);
  const acc = fraction(r.map((x, i) => x.predicted === labels[i]));
  const voteAcc = fraction(r.map((x, i) => x.votePred === labels[i]));
  const ref = off?.results ?? r;
  const changed = r.flatMap((x, i) => (x.predicted !== ref[i]!.predicted ? [i] : []));
  const row = {
    rule: name, earlyStop: cfg.earlyStop, alpha: cfg.alpha, minPairs: cfg.minPairs, chunk: cfg.chunk, measured: seconds === null ? 'replayed from off' : 'run',
    accuracy: acc, voteAccuracy: voteAcc, accuracyDeltaPts: 100 * (acc - (off?.acc ?? acc)), voteAccuracyDeltaPts: 100 * (voteAcc - (off?.voteAcc ?? voteAcc)),
    agreement: 1 - changed.length / count, voteAgreement: fraction(r.map((x, i) => x.votePred === ref[i]!.votePred)), changedImages: changed,
    forwardPasses: passes, meanPairs: passes / K / count, savings: (off?.passes ?? passes) / passes,
    seconds, timeRatio: seconds === null || !off ? null : off.seconds / seconds, imagesPerSec: seconds === null ? null : count / seconds,
  };
  rows.push(row);
  const f = (x: number) => (100 * x).toFixed(1);
  console.log(`${name.padEnd(24)} acc ${f(acc)}% (vote ${f(voteAcc)}%)  agree ${f(row.agreement)}%  pairs ${row.meanPairs.toFixed(2)}  ×${row.savings.toFixed(2)} fewer passes  Δacc ${row.accuracyDeltaPts.toFixed(2)} pts${seconds === null ? '  (replay)' : `  ${seconds.toFixed(0)} s, ×${row.timeRatio!.toFixed(2)} faster`}`);
}

console.log(`${count} ${split} images, N = ${n}, t ∈ [${tRange.join(', ')}], threshold ${decisionThreshold ? `${tm.classNames[decisionThreshold.positive]} share ≥ ${decisionThreshold.threshold.toFixed(4)}` : 'none'}, ${rt.backend}, ${rt.threads} threads`);
// warm-up (kernels, first-call allocations) so that the first timed rule is not charged for it
const warm = Math.min(3, count);
new DiffusionClassifier(tm, { ...base, n: 43 }).classify(images.subarray(0, warm * (images.length / count)), warm);
for (const spec of rules) {
  const cfg = validateClassifyConfig({ ...base, ...parseRule(spec), keepErrors: spec === 'off' });
  const clf = new DiffusionClassifier(tm, cfg);
  const t = performance.now();
  let last = 0;
  const r = clf.classify(images, count, (p) => { if (p.done - last >= 50) { last = p.done; console.log(`  ${spec}: ${p.done}/${p.total}, ${((performance.now() - t) / 1000).toFixed(0)} s`); } });
  const sec = (performance.now() - t) / 1000;
  if (spec === 'off') {
    const passes = r.reduce((a, x) => a + x.forwardPasses, 0);
    off = { results: r, passes, seconds: sec, acc: fraction(r.map((x, i) => x.predicted === labels[i])), voteAcc: fraction(r.map((x, i) => x.votePred === labels[i])) };
    // --errors-out file: the off run's per-pair errors and times, for analysis outside this script
    const eo = opt('errors-out', '');
    if (eo) writeFileAtomic(eo, JSON.stringify({ split, labels, errors: r.map((x) => Array.from(x.errors!)), times: r.map((x) => Array.from(x.times!)) }));
  }
  report(spec, cfg, r, sec);
  // a run rule replayed on the off errors too: the two should agree (up to float effects of batching)
  if (spec !== 'off') {
    const rep = off!.results.map((x) => replay(x, cfg, K));
    const same = fraction(rep.map((x, i) => x.pairsUsed === r[i]!.pairsUsed && x.predicted === r[i]!.predicted));
    (rows.at(-1) as Record<string, unknown>).replayMatch = same;
    console.log(`  replay on the off errors matches the run on ${(100 * same).toFixed(1)}% of images`);
  }
}
for (const spec of replays) {
  const cfg = validateClassifyConfig({ ...base, ...parseRule(spec) });
  report(spec, cfg, off!.results.map((x) => replay(x, cfg, K)), null);
}
const eligible = rows.filter((r) => (r.accuracyDeltaPts as number) >= -0.5);
const best = eligible.reduce((a, b) => ((b.savings as number) > (a.savings as number) ? b : a));
const result = {
  backend: rt.backend, threads: rt.threads, machine: machine(), model: modelDir, split, images: count, n, tRange, mirror, decisionThreshold,
  labels: { positive: labels.filter((l) => l === 1).length, negative: labels.filter((l) => l === 0).length },
  rows, bestSavingWithin0p5pt: best.rule, date: new Date().toISOString(),
};
console.log(`best saving at ≤ 0.5 pt loss of the calibrated decision's accuracy: ${best.rule} ×${(best.savings as number).toFixed(2)}`);
const out = opt('out', split === 'test' ? `classify-${rt.backend}.json` : `classify-${split}-${rt.backend}.json`);
if (path.isAbsolute(out)) writeFileAtomic(out, JSON.stringify(result, null, 2) + '\n');
console.log(`written ${path.isAbsolute(out) ? out : writeResult(out, result)}`);
