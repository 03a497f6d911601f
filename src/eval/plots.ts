/**
 * Plots as vega-lite specs, rendered to SVG with vega (headless, no canvas) and rasterised to PNG
 * with sharp (librsvg). vega, vega-lite and sharp are loaded on first use so that importing the
 * metrics does not pay for them.
 */
import type { TopLevelSpec } from 'vega-lite';
import type { VoteVsMeanRow } from './curves.ts';
import type { EntropyGroup, RemovalPoint } from './uncertainty.ts';

/** Fonts librsvg finds via fontconfig here first (DejaVu Sans), with common fall-backs for browsers. */
export const PLOT_FONT = 'DejaVu Sans, Helvetica, Arial, sans-serif';

const BASE_CONFIG = {
  font: PLOT_FONT,
  background: 'white',
  padding: 12,
  title: { fontSize: 15, subtitleFontSize: 12, subtitleColor: '#444', anchor: 'start' as const, offset: 10 },
  axis: { labelFontSize: 12, titleFontSize: 13, titlePadding: 10, grid: true, gridColor: '#e6e6e6' },
  legend: { labelFontSize: 12, titleFontSize: 12 },
  view: { stroke: null },
};

const WIDTH = 520;
const HEIGHT = 300;

function nullIfNaN(x: number): number | null {
  return Number.isFinite(x) ? x : null;
}

export interface PlotText {
  title?: string;
  subtitle?: string | string[];
}

/** Fig. 3 style: accuracy on the remaining cases vs the fraction of most uncertain cases set aside. */
export function uncertaintyCurveSpec(points: readonly RemovalPoint[], text: PlotText = {}): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: WIDTH,
    height: HEIGHT,
    config: BASE_CONFIG,
    title: {
      text: text.title ?? 'Accuracy when the most uncertain cases are set aside',
      subtitle: text.subtitle ?? [
        'Cases are ranked by how much the model\'s votes disagree (vote entropy);',
        'the most uncertain are set aside for human review and accuracy is measured on the rest.',
      ],
    },
    data: { values: points.map((p) => ({ fraction: p.fraction, accuracy: nullIfNaN(p.accuracy), kept: p.kept })) },
    encoding: {
      x: {
        field: 'fraction', type: 'quantitative', title: 'Most uncertain cases set aside (share of all cases)',
        axis: { format: '.0%', tickCount: 10 }, scale: { domain: [0, Math.max(0.5, ...points.map((p) => p.fraction))] },
      },
      y: {
        field: 'accuracy', type: 'quantitative', title: 'Accuracy on remaining cases',
        axis: { format: '.0%' }, scale: { zero: false, domainMax: 1 },
      },
    },
    layer: [
      { mark: { type: 'line', color: '#1f5f9e', strokeWidth: 2.5 } },
      { mark: { type: 'point', filled: true, size: 50, color: '#1f5f9e' } },
    ],
  } as TopLevelSpec;
}

export interface EntropyPlotOptions extends PlotText {
  /** Class names, to spell out each outcome (binary: 'pneumonia, called normal'). */
  classNames?: readonly string[];
  /** Positive class index for binary groups (default 1). */
  positive?: number;
}

function groupCaption(g: EntropyGroup, opts: EntropyPlotOptions): string[] {
  const names = opts.classNames;
  if (!names || names.length !== 2) return [];
  const pos = names[opts.positive ?? 1]!, neg = names[1 - (opts.positive ?? 1)]!;
  const [actual, called] = g.group === 'TP' ? [pos, pos] : g.group === 'TN' ? [neg, neg] : g.group === 'FP' ? [neg, pos] : g.group === 'FN' ? [pos, neg] : [];
  return actual === undefined ? [] : [`actual: ${actual}`, `model: ${called}`];
}

/**
 * Fig. 9 style: box plots of the vote entropy per outcome group, drawn from precomputed statistics
 * (the same numbers as in report.json): whisker min–max, box q1–q3, white tick median, diamond mean.
 */
export function entropyBoxSpec(groups: readonly EntropyGroup[], opts: EntropyPlotOptions = {}): TopLevelSpec {
  const rows = groups.map((g) => {
    const caption = groupCaption(g, opts);
    const label = [g.title, ...caption, `n = ${g.stats.n}`].join('|');
    const s = g.stats;
    return {
      label, n: s.n, min: nullIfNaN(s.min), q1: nullIfNaN(s.q1), median: nullIfNaN(s.median),
      q3: nullIfNaN(s.q3), max: nullIfNaN(s.max), mean: nullIfNaN(s.mean),
    };
  });
  const x = {
    field: 'label', type: 'nominal', sort: null, title: null,
    axis: { labelAngle: 0, labelExpr: "split(datum.value, '|')", labelLineHeight: 15, labelPadding: 6, labelLimit: 0 },
    scale: { domain: rows.map((r) => r.label), paddingInner: 0.4 },
  };
  const yScale = { domain: [0, 1] };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: Math.max(WIDTH, 160 * rows.length),
    height: HEIGHT,
    config: BASE_CONFIG,
    title: {
      text: opts.title ?? 'How uncertain the model was, by outcome',
      subtitle: opts.subtitle ?? [
        'Uncertainty = disagreement between the model\'s votes (0 = all agree, 1 = evenly split).',
        'Box: middle half of cases; white line: median; whiskers: lowest to highest; diamond: mean.',
      ],
    },
    data: { values: rows },
    layer: [
      {
        mark: { type: 'rule', color: '#333', strokeWidth: 1.5 },
        encoding: {
          x,
          y: { field: 'min', type: 'quantitative', scale: yScale, title: 'Vote uncertainty (0 to 1)' },
          y2: { field: 'max' },
        },
      },
      {
        mark: { type: 'bar', color: '#4c78a8', width: { band: 1 } },
        encoding: { x, y: { field: 'q1', type: 'quantitative', scale: yScale }, y2: { field: 'q3' } },
      },
      {
        mark: { type: 'tick', color: 'white', thickness: 2.5, width: { band: 1 } },
        encoding: { x, y: { field: 'median', type: 'quantitative', scale: yScale } },
      },
      {
        mark: { type: 'point', shape: 'diamond', filled: true, color: '#d95f02', size: 70 },
        encoding: { x, y: { field: 'mean', type: 'quantitative', scale: yScale } },
      },
    ],
  } as TopLevelSpec;
}

/** Fig. 2 style: accuracy of majority vote and of mean error against N (log scale). */
export function voteVsMeanSpec(rows: readonly VoteVsMeanRow[], textOpts: PlotText = {}): TopLevelSpec {
  const values = rows.flatMap((r) => [
    { n: r.n, rule: 'Majority vote', accuracy: nullIfNaN(r.voteAccuracy) },
    { n: r.n, rule: 'Mean error', accuracy: nullIfNaN(r.meanAccuracy) },
  ]);
  const color = { field: 'rule', type: 'nominal', title: 'Decision rule', scale: { domain: ['Majority vote', 'Mean error'], range: ['#1f5f9e', '#d95f02'] } };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: WIDTH,
    height: HEIGHT,
    config: BASE_CONFIG,
    title: {
      text: textOpts.title ?? 'Majority vote vs. mean error as more noise samples are used',
      subtitle: textOpts.subtitle ?? [
        'Each image is compared with every class under N random noise samples. Majority vote: the class',
        'that fits best in most samples wins. Mean error: the class with the lowest average error wins.',
      ],
    },
    data: { values },
    encoding: {
      x: {
        field: 'n', type: 'quantitative', title: 'Noise samples per image (N, log scale)',
        scale: { type: 'log', nice: false, domain: [Math.min(...rows.map((r) => r.n)), Math.max(2, ...rows.map((r) => r.n))] },
        axis: { values: rows.map((r) => r.n), format: 'd', labelFlush: false },
      },
      y: { field: 'accuracy', type: 'quantitative', title: 'Accuracy', axis: { format: '.0%' }, scale: { zero: false } },
      color,
    },
    layer: [
      { mark: { type: 'line', strokeWidth: 2.5 } },
      { mark: { type: 'point', filled: true, size: 50 } },
    ],
  } as TopLevelSpec;
}

/**
 * Render a vega-lite spec to SVG markup (no canvas needed). Without a canvas vega over-estimates
 * text widths (0.8 em per character), which leaves empty margins; `tight` (default) crops the SVG
 * to its drawn content, measured by rasterising it once with sharp.
 */
export async function renderSvg(spec: TopLevelSpec, opts: { tight?: boolean } = {}): Promise<string> {
  const [vega, vl] = await Promise.all([import('vega'), import('vega-lite')]);
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none' });
  let svg: string;
  try {
    svg = await view.toSVG();
  } finally {
    view.finalize();
  }
  return opts.tight === false ? svg : cropSvgToContent(svg);
}

/**
 * Crop a vega SVG (root with width, height and viewBox "0 0 W H", white background) to the
 * bounding box of its non-white pixels plus `pad` pixels.
 */
export async function cropSvgToContent(svg: string, pad = 10): Promise<string> {
  const root = /^<svg([^>]*?)\swidth="([\d.]+)" height="([\d.]+)" viewBox="0 0 [\d.]+ [\d.]+"/.exec(svg);
  if (!root) return svg;
  const W = Number(root[2]), H = Number(root[3]);
  const { default: sharp } = await import('sharp');
  const { info } = await sharp(Buffer.from(svg), { density: 72 })
    .flatten({ background: '#ffffff' })
    .trim({ background: '#ffffff', threshold: 10 })
    .toBuffer({ resolveWithObject: true });
  const left = Math.max(0, -(info.trimOffsetLeft ?? 0) - pad);
  const top = Math.max(0, -(info.trimOffsetTop ?? 0) - pad);
  const width = Math.min(W - left, info.width + 2 * pad);
  const height = Math.min(H - top, info.height + 2 * pad);
  return svg.replace(root[0], `<svg${root[1]} width="${width}" height="${height}" viewBox="${left} ${top} ${width} ${height}"`);
}

export interface RenderedPlot {
  svg: string;
  png: Buffer;
}

/** Render a spec to a cropped SVG and its PNG (scale 2). */
export async function renderPlot(spec: TopLevelSpec, scale = 2): Promise<RenderedPlot> {
  const svg = await renderSvg(spec);
  return { svg, png: await svgToPng(svg, scale) };
}

/** Rasterise SVG markup to PNG with sharp; scale 2 renders at 144 dpi (twice the SVG's pixel size). */
export async function svgToPng(svg: string, scale = 2): Promise<Buffer> {
  const { default: sharp } = await import('sharp');
  return sharp(Buffer.from(svg), { density: 72 * scale }).png().toBuffer();
}

/**
 * Prefix every id in an SVG (and the url(#…) / href="#…" references to them) so that several SVGs
 * inlined in one HTML page cannot capture each other's clip paths or gradients.
 */
export function prefixSvgIds(svg: string, prefix: string): string {
  const ids = new Set<string>();
  for (const m of svg.matchAll(/\sid="([^"]+)"/g)) ids.add(m[1]!);
  if (ids.size === 0) return svg;
  return svg
    .replace(/(\sid=")([^"]+)"/g, (_, a: string, id: string) => `${a}${prefix}${id}"`)
    .replace(/url\(#([^)]+)\)/g, (m, id: string) => (ids.has(id) ? `url(#${prefix}${id})` : m))
    .replace(/(href=")#([^"]+)"/g, (m, a: string, id: string) => (ids.has(id) ? `${a}#${prefix}${id}"` : m));
}
