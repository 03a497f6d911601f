import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../runtime/index.ts';
import { Command } from 'commander';
import { loadTrainedModel, datasetOptionsFor, type TrainedModel } from '../train/index.ts';
import { DiffusionClassifier, loadCalibration, applyCalibration, applyCalibratedSettings, type ClassifyConfig, type ImageResult } from '../classify/index.ts';
import { openDataset, parseSplitName, stackSplit } from '../data/index.ts';
import { writeReport, summarize, defaultPositiveClass, thresholdUncertainty, accuracyAfterRemoving, accuracyAt, errorDetectionAuroc, meanErrorMargin, DEFAULT_REMOVAL_FRACTIONS, type PredictionRecord, type RemovalPoint, type ReportSection, type ReportSummary } from '../eval/index.ts';
import { startRuntime, withRuntimeOptions, intOption, floatOption } from './common.ts';
import { explainImages, explanationTable } from '../explain/index.ts';
import { explainSettings } from './explain.ts';
import { classifyConfigFrom, weightsFrom, withClassifyOptions } from './classify.ts';
import { Progress } from './progress.ts';

export interface EvaluateOptions {
  model: string;
  data: string;
  split: string;
  limit?: number;
  out: string;
  weights: 'ema' | 'raw';
  classify: ReturnType<typeof classifyConfigFrom>;
  extraSections?: (tm: TrainedModel, images: Float32Array, results: ImageResult[], classify: ClassifyConfig) => Promise<ReportSection[]>;
  quiet?: boolean;
  /** false: ignore a stored calibration. */
  calibration?: boolean;
  /** Positive ('finding') class name for sensitivity/specificity/AUROC; default: the non-normal class. */
  positive?: string;
}

/** Classify a split of a data set with a trained model and write the report. */
export async function evaluateModel(o: EvaluateOptions): Promise<ReportSummary & { calibrated: Record<string, unknown> | null }> {
  const tm = loadTrainedModel(o.model, { weights: o.weights });
  try {
    const split = parseSplitName(o.split);
    if (!split) throw new Error(`--split must be train, val or test, got '${o.split}'`);
    const ds = await openDataset(o.data, { ...datasetOptionsFor(tm), split });
    if (ds.classNames.join('\n') !== tm.classNames.join('\n')) {
      throw new Error(`the model's classes (${tm.classNames.join(', ')}) differ from the data's (${ds.classNames.join(', ')}); evaluate on data with the same classes`);
    }
    const { images, labels, ids: rawIds, count } = stackSplit(ds.split(split), { limit: o.limit, spread: true });
    if (count === 0) throw new Error(`split '${split}' of ${o.data} is empty`);
    const ids = rawIds.map((id) => (path.isAbsolute(id) ? path.relative(process.cwd(), id) : id));
    // A stored calibration may carry a time window fitted on validation data; it sets the pairs' times.
    const { cfg, cal } = applyCalibratedSettings(o.classify, o.calibration === false ? null : loadCalibration(tm.dir, tm.weightsSha256));
    const clf = new DiffusionClassifier(tm, { ...cfg, keepErrors: true });
    const progress = o.quiet ? null : new Progress(`evaluate ${split}`, count);
    const t0 = performance.now();
    const results = clf.classify(images, count, (p) => progress?.update(p.done, `${p.forwardPasses} forward passes`));
    progress?.stop();
    const seconds = (performance.now() - t0) / 1000;
    const records: PredictionRecord[] = results.map((r, i) => ({
      id: ids[i]!, label: labels[i]!, votePred: r.votePred, meanPred: r.meanPred, votes: r.votes, shares: r.shares,
      entropy: r.entropy, meanErrors: r.meanErrors, errors: r.errors, pairsUsed: r.pairsUsed, forwardPasses: r.forwardPasses,
    }));
    const passes = results.reduce((a, r) => a + r.forwardPasses, 0);
    let positive = defaultPositiveClass(tm.classNames);
    if (o.positive !== undefined) {
      positive = tm.classNames.indexOf(o.positive);
      if (positive < 0) throw new Error(`--positive '${o.positive}' is not a class of the model (${tm.classNames.join(', ')})`);
    }
    // Calibrated decisions (threshold fitted on validation data by `meddiff calibrate`), beside the plain vote.
    const sections: ReportSection[] = [];
    let calibrated: Record<string, unknown> | null = null;
    if (cal) {
      const decided = records.map((r) => applyCalibration(cal, r.shares));
      const m = summarize(records.map((r, i) => ({ ...r, votePred: decided[i]! })), tm.classNames.length, { positive }).vote;
      // how sure the calibrated decision is: the share's distance from the threshold, not from 1/2
      const correct = records.map((r, i) => decided[i] === r.label);
      const unc = records.map((r) => thresholdUncertainty(r.shares[cal.positive]!, cal.threshold));
      const curve = accuracyAfterRemoving(correct, unc, DEFAULT_REMOVAL_FRACTIONS, records.map((r) => meanErrorMargin(r.meanErrors)));
      const detect = errorDetectionAuroc(correct, unc);
      calibrated = {
        calibration: cal, accuracy: m.accuracy, balancedAccuracy: m.balancedAccuracy, macroF1: m.macroF1, sensitivity: m.sensitivity, specificity: m.specificity, confusionMatrix: m.confusionMatrix,
        uncertainty: { rule: 'distance of the vote share from the threshold', curve, errorDetectionAuroc: detect },
      };
      const pc = (x: number | null) => (x === null ? 'n/a' : `${(100 * x).toFixed(1)}%`);
      sections.push({ title: 'Calibrated decision', html: `<p>Vote-share threshold ${cal.threshold.toFixed(3)} for '${tm.classNames[cal.positive]}', fitted on the ${cal.fittedOn.split} split (${cal.fittedOn.images} images, N = ${cal.fittedOn.n}) ${cal.objective === 'accuracy' ? `for accuracy (Platt scaling: where the probability of '${tm.classNames[cal.positive]}' reaches 0.5; assumes the ${cal.fittedOn.split} split's class mix)` : 'for balanced accuracy'}; never on the evaluated data.${cal.tRange ? ` Both rows use pairs at diffusion times t ∈ [${cal.tRange.join(', ')}], a window fitted on the same ${cal.fittedOn.split} data (balanced accuracy there ${(100 * cal.fittedOn.balancedAccuracy).toFixed(1)}% against ${(100 * (cal.window?.fullRangeBalancedAccuracy ?? NaN)).toFixed(1)}% with the full range); <code>--t-range 0,1</code> gives the paper's rule.` : ''}</p><table><tr><th></th><th>accuracy</th><th>balanced accuracy</th><th>F1</th><th>sensitivity</th><th>specificity</th></tr>`
        + (['uncalibrated', 'calibrated'] as const).map((k) => { const x = k === 'calibrated' ? m : null; const v = x ?? summarize(records, tm.classNames.length, { positive }).vote; return `<tr><th>${k}</th><td>${pc(v.accuracy)}</td><td>${pc(v.balancedAccuracy)}</td><td>${v.macroF1.toFixed(3)}</td><td>${pc(v.sensitivity)}</td><td>${pc(v.specificity)}</td></tr>`; }).join('') + '</table>'
        + `<p>Calibrated decision after setting aside the images whose vote share is nearest the threshold: ${[0.1, 0.25, 0.45].map((f) => `${pc(accuracyAt(curve, f))} (${100 * f}% set aside)`).join(', ')}; this distance detects wrong answers with AUROC ${detect.toFixed(3)}.</p>` });
    }
    if (clf.cfg.earlyStop !== 'off') {
      const mean = passes / count / tm.classNames.length;
      sections.push({ title: 'Early stopping', html: `<p>Early stopping '${clf.cfg.earlyStop}' used ${mean.toFixed(1)} of ${clf.cfg.n} noise samples per image on average. The majority vote${clf.cfg.decisionThreshold ? ' and the calibrated decision are the ones' : ' is the one'} all ${clf.cfg.n} would give ('decided' never changes ${clf.cfg.decisionThreshold ? 'them' : 'it'}), but vote shares and entropy are over the samples used, so confident images look more certain than with all ${clf.cfg.n}; the mean-error rule and the vote-vs-mean table use only the samples drawn.</p>` });
    }
    if (o.extraSections) sections.push(...await o.extraSections(tm, images, results, clf.cfg));
    const summary = await writeReport(o.out, {
      records, classNames: tm.classNames, positive,
      model: { path: path.resolve(o.model), weights: tm.weights, step: tm.step, parameters: tm.model.parameterCount(), config: o.model },
      settings: {
        N: clf.cfg.n, aggregate: clf.cfg.aggregate, seed: clf.cfg.seed, split, data: path.resolve(o.data), earlyStop: clf.cfg.earlyStop,
        times: clf.cfg.times, tRange: clf.cfg.tRange, mirror: clf.cfg.mirror, limit: o.limit ?? null,
        timings: { totalSeconds: seconds, secondsPerImage: seconds / count, forwardPassesPerSecond: passes / seconds },
      },
      extraSections: sections,
    });
    if (calibrated) {
      const file = path.join(o.out, 'report.json');
      writeFileAtomic(file, JSON.stringify({ ...JSON.parse(fs.readFileSync(file, 'utf8')), calibrated }, null, 2) + '\n');
    }
    return Object.assign(summary, { calibrated });
  } finally {
    tm.model.dispose();
  }
}

export function evaluateCommand(): Command {
  return withClassifyOptions(withRuntimeOptions(new Command('evaluate')))
    .description('Evaluate a trained model on a data split: accuracy, F1, AUROC, uncertainty curves, vote vs mean; writes report.html')
    .requiredOption('--data <path>', 'MedMNIST .npz, image folder or CSV manifest')
    .option('--split <name>', 'train, val or test', 'test')
    .option('--limit <k>', 'only the first k images of the split', intOption('--limit', 1))
    .option('--out <dir>', 'report folder', 'report')
    .option('--json', "print report.json's summary to stdout")
    .option('--positive <class>', "the 'finding' class for sensitivity/specificity/AUROC (default: the class that is not normal/benign)")
    .option('--explain <k>', 'add counterfactual explanations of the first k images (and their flip rate) to the report', intOption('--explain', 0), 0)
    .option('--t <x>', 'explanations: noise level in (0, 1) (default 0.5 grayscale, 0.3 colour)', floatOption('--t'))
    .option('--cfg <w>', 'explanations: guidance weight', floatOption('--cfg'))
    .option('--quality <q>', 'explanations: fast or full', 'fast')
    .addHelpText('after', `
Examples:
  meddiff evaluate --model models/pneumoniamnist-unet --data data/pneumoniamnist.npz --split test --json
  meddiff evaluate --model runs/pneu --data data/pneumoniamnist.npz --n 101 --early-stop decided --out reports/pneu
  meddiff evaluate --model runs/pneu --data data/pneumoniamnist.npz --aggregate mean --limit 100
`)
    .action(async (o: Record<string, unknown>) => {
      await startRuntime(o as { backend?: string; threads?: string }, !o.json);
      let explainStats: Record<string, number> | null = null;
      const summary = await evaluateModel({
        model: o.model as string, data: o.data as string, split: o.split as string, limit: o.limit as number | undefined,
        out: o.out as string, weights: weightsFrom(o), classify: classifyConfigFrom(o), quiet: Boolean(o.json), positive: o.positive as string | undefined,
        extraSections: (o.explain as number) > 0 ? async (tm, images, _results, used) => {
          const k = Math.min(o.explain as number, images.length / (tm.imageSize * tm.imageSize * tm.channels));
          const t0 = performance.now();
          const es = explainImages(tm, images.subarray(0, k * tm.imageSize * tm.imageSize * tm.channels), k, { explain: explainSettings({ ...o, steps: undefined }), classify: { ...used, earlyStop: 'decided' } });
          const seconds = (performance.now() - t0) / 1000;
          const flips = es.filter((e) => e.flipped).length;
          const mean = (f: (e: (typeof es)[number]) => number) => es.reduce((a, e) => a + f(e), 0) / es.length;
          explainStats = { images: k, tExplain: es[0]!.tExplain, flipRate: flips / k, meanAbsDiff: mean((e) => e.proximity.meanAbsDiff), fractionChanged: mean((e) => e.proximity.fractionChanged), secondsPerImage: seconds / k };
          const html = `<p>Flip rate (the counterfactual is classified as its target class): <b>${(100 * flips / k).toFixed(1)}%</b> of ${k}; mean |Δ| ${explainStats.meanAbsDiff.toFixed(3)}; ${(100 * explainStats.fractionChanged).toFixed(1)}% of pixels changed by > 0.1; started from t = ${es[0]!.tExplain}; ${explainStats.secondsPerImage.toFixed(2)} s per image.</p>`
            + await explanationTable(es, tm.classNames, Array.from({ length: k }, (_, i) => `${o.split as string}/${i}`));
          return [{ title: 'Counterfactual explanations', html }];
        } : undefined,
      });
      if (explainStats) {
        // report.json also carries the explanation figures (writeReport only knows about the HTML section)
        const file = path.resolve(o.out as string, 'report.json');
        const json = JSON.parse(fs.readFileSync(file, 'utf8'));
        writeFileAtomic(file, JSON.stringify({ ...json, explanations: explainStats }, null, 2) + '\n');
      }
      const primary = summary[summary.primary];
      const st = summary.settings as { tRange?: [number, number]; mirror?: boolean };
      const brief = {
        accuracy: primary.accuracy, balancedAccuracy: primary.balancedAccuracy, macroF1: primary.macroF1, auroc: primary.auroc,
        sensitivity: primary.sensitivity, specificity: primary.specificity, aggregate: summary.primary, N: summary.settings.N,
        images: summary.data.images, tRange: st.tRange, mirror: Boolean(st.mirror),
        vote: { accuracy: summary.vote.accuracy, balancedAccuracy: summary.vote.balancedAccuracy, macroF1: summary.vote.macroF1, auroc: summary.vote.auroc },
        mean: { accuracy: summary.mean.accuracy, balancedAccuracy: summary.mean.balancedAccuracy, macroF1: summary.mean.macroF1, auroc: summary.mean.auroc },
        accuracyAfterRemoving: Object.fromEntries(summary.uncertainty.curve.map((p) => [p.fraction.toFixed(2), p.accuracy])),
        errorDetectionAuroc: summary.uncertainty.errorDetectionAuroc,
        confusionMatrix: primary.confusionMatrix, timing: summary.timing, report: path.resolve(o.out as string, 'report.html'),
        ...(explainStats ? { explanations: explainStats } : {}),
        ...(summary.calibrated ? { calibrated: summary.calibrated } : {}),
      };
      if (o.json) {
        process.stdout.write(JSON.stringify(brief, null, 2) + '\n');
        return;
      }
      const pct = (x: number | null) => (x === null || Number.isNaN(x) ? 'n/a' : `${(100 * x).toFixed(1)}%`);
      const tr = st.tRange;
      process.stdout.write(`${summary.data.images} images, N = ${summary.settings.N}${tr && (tr[0] > 0 || tr[1] < 1) ? `, pairs at t ∈ [${tr.join(', ')}]` : ''}${st.mirror ? ', odd pairs on the mirror image' : ''}\n`);
      for (const agg of ['vote', 'mean'] as const) {
        const m = summary[agg];
        process.stdout.write(`  ${agg.padEnd(5)} accuracy ${pct(m.accuracy)}  balanced ${pct(m.balancedAccuracy)}  F1 ${m.macroF1.toFixed(3)}  AUROC ${m.auroc.toFixed(3)}\n`);
      }
      const points = (curve: RemovalPoint[]) => [0.1, 0.25, 0.45].map((f) => pct(accuracyAt(curve, f))).join(' / ');
      process.stdout.write(`  vote accuracy after removing the 10/25/45% most uncertain: ${points(summary.uncertainty.curve)}\n`);
      const cb = summary.calibrated as { accuracy: number; balancedAccuracy: number; calibration: { threshold: number }; uncertainty: { curve: RemovalPoint[] } } | undefined;
      if (cb) process.stdout.write(`  calibrated (threshold ${cb.calibration.threshold.toFixed(3)}, what classify answers): accuracy ${pct(cb.accuracy)}  balanced ${pct(cb.balancedAccuracy)}; after removing the 10/25/45% nearest the threshold: ${points(cb.uncertainty.curve)}\n`);
      const ex = explainStats as Record<string, number> | null;
      if (ex) process.stdout.write(`  counterfactual flip rate ${pct(ex.flipRate)} of ${ex.images}, mean |Δ| ${ex.meanAbsDiff!.toFixed(3)}\n`);
      process.stdout.write(`report: ${path.resolve(o.out as string, 'report.html')}\n`);
    });
}
