/**
 * Plots of the failure-detection comparison (vega-lite specs, rendered with plots.ts renderPlot):
 * accuracy after setting aside the most uncertain cases for several models or scores on one chart
 * (paper Fig. 3 across models), and reliability diagrams (Guo et al. 2017, Fig. 1).
 */
import type { TopLevelSpec } from 'vega-lite';
import type { ReliabilityBin } from '../stats/index.ts';
import { PLOT_FONT, type PlotText } from './plots.ts';
import type { RemovalPoint } from './uncertainty.ts';

// The look of plots.ts (its config is private there), kept identical by hand; legend labels are
// never cut (model names are long, and vega over-estimates text width without a canvas).
const CONFIG = {
  font: PLOT_FONT,
  background: 'white',
  padding: 12,
  title: { fontSize: 15, subtitleFontSize: 12, subtitleColor: '#444', anchor: 'start' as const, offset: 10 },
  axis: { labelFontSize: 12, titleFontSize: 13, titlePadding: 10, grid: true, gridColor: '#e6e6e6' },
  legend: { labelFontSize: 12, titleFontSize: 12, labelLimit: 0, titleLimit: 0 },
  view: { stroke: null },
};

const WIDTH = 520;
const HEIGHT = 300;

const finiteOrNull = (x: number): number | null => (Number.isFinite(x) ? x : null);

function colour(names: readonly string[], title: string) {
  return { field: 'series', type: 'nominal', title, sort: null, scale: { domain: [...names], scheme: names.length > 10 ? 'category20' : 'tableau10' } };
}

/** One line of a multi-line chart: colour by name, dash pattern by style (e.g. the uncertainty score). */
export interface RemovalSeries {
  name: string;
  style?: string;
  points: readonly RemovalPoint[];
}

/** Accuracy on the remaining cases against the share of most uncertain cases set aside, one line per series. */
export function removalCurvesSpec(series: readonly RemovalSeries[], text: PlotText & { legend?: string; styleLegend?: string } = {}): TopLevelSpec {
  const styled = series.some((s) => s.style !== undefined);
  // a line is a (name, style) pair: only a repeated pair needs renaming
  const names = uniqueNames(series.map((s) => s.name), series.map((s) => JSON.stringify([s.name, s.style ?? ''])));
  const styles = [...new Set(series.map((s) => s.style ?? ''))];
  const values = series.flatMap((s, k) => s.points.map((p) => ({ series: names[k]!, style: s.style ?? '', fraction: p.fraction, accuracy: finiteOrNull(p.accuracy) })));
  const maxFraction = Math.max(0.5, ...series.flatMap((s) => s.points.map((p) => p.fraction)));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: WIDTH,
    height: HEIGHT,
    config: CONFIG,
    title: {
      text: text.title ?? 'Accuracy when the most uncertain cases are set aside',
      subtitle: text.subtitle ?? 'Each model ranks the cases by its own uncertainty; accuracy is measured on the cases it keeps.',
    },
    data: { values },
    encoding: {
      x: {
        field: 'fraction', type: 'quantitative', title: 'Most uncertain cases set aside (share of all cases)',
        axis: { format: '.0%', tickCount: 10 }, scale: { domain: [0, maxFraction] },
      },
      y: { field: 'accuracy', type: 'quantitative', title: 'Accuracy on remaining cases', axis: { format: '.0%' }, scale: { zero: false, domainMax: 1 } },
      color: colour([...new Set(names)], text.legend ?? 'Model'),
    },
    layer: [
      // the dash only on the lines, so its legend shows line patterns, not points
      {
        mark: { type: 'line', strokeWidth: 2.2 },
        ...(styled ? { encoding: { strokeDash: { field: 'style', type: 'nominal', title: text.styleLegend ?? 'Uncertainty score', sort: null, scale: { domain: styles } } } } : {}),
      },
      { mark: { type: 'point', filled: true, size: 40 } },
    ],
  } as TopLevelSpec;
}

export interface ReliabilitySeries {
  name: string;
  bins: readonly ReliabilityBin[];
}

/**
 * Reliability diagram: accuracy against mean confidence per bin (empty bins left out), point area
 * by the number of cases, and the diagonal a calibrated model would follow.
 */
export function reliabilitySpec(series: readonly ReliabilitySeries[], text: PlotText & { legend?: string } = {}): TopLevelSpec {
  const names = uniqueNames(series.map((s) => s.name));
  const values = series.flatMap((s, k) => s.bins.filter((b) => b.count > 0).map((b) => ({
    series: names[k]!, confidence: b.confidence, accuracy: b.accuracy, count: b.count,
  })));
  // Binary models never say less than 50%: start the axis at the lowest bin used.
  const lows = series.flatMap((s) => s.bins.filter((b) => b.count > 0).map((b) => b.lo));
  const lo = lows.length ? Math.floor(Math.min(...lows) * 10) / 10 : 0;
  const x = { field: 'confidence', type: 'quantitative', title: 'Confidence (probability the model gives its answer)', axis: { format: '.0%' }, scale: { domain: [lo, 1] } };
  const y = { field: 'accuracy', type: 'quantitative', title: 'Accuracy of those answers', axis: { format: '.0%' }, scale: { domain: [Math.min(lo, ...values.map((v) => v.accuracy)), 1] } };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: WIDTH,
    height: HEIGHT,
    config: CONFIG,
    title: {
      text: text.title ?? 'Reliability: is the model as often right as it is sure?',
      subtitle: text.subtitle ?? 'Cases grouped by confidence; a calibrated model lies on the dashed diagonal. Point size: number of cases.',
    },
    layer: [
      {
        data: { values: [{ confidence: lo, accuracy: lo }, { confidence: 1, accuracy: 1 }] },
        mark: { type: 'line', color: '#888', strokeDash: [5, 4], strokeWidth: 1.5 },
        encoding: { x, y },
      },
      {
        data: { values },
        mark: { type: 'line', strokeWidth: 2 },
        encoding: { x, y, color: colour(names, text.legend ?? 'Model') },
      },
      {
        data: { values },
        mark: { type: 'point', filled: true, opacity: 0.85 },
        encoding: {
          x, y, color: colour(names, text.legend ?? 'Model'),
          size: { field: 'count', type: 'quantitative', title: 'Cases', scale: { range: [20, 260] } },
        },
      },
    ],
  } as TopLevelSpec;
}

/** Series names made unique (a repeated key gets ' (2)', ' (3)', … on its name) so lines never merge. */
function uniqueNames(names: readonly string[], keys: readonly string[] = names): string[] {
  const seen = new Map<string, number>();
  return names.map((n, i) => {
    const k = (seen.get(keys[i]!) ?? 0) + 1;
    seen.set(keys[i]!, k);
    return k === 1 ? n : `${n} (${k})`;
  });
}
