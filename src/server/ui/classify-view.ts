// The classification result: the prediction, the vote histogram, the uncertainty gauge, the OOD
// warning and the cost (forward passes, seconds).
import type { ClassifyResponse } from '../api-types.ts';
import { fixed, h, pct, s, seconds } from './dom.ts';

const DECISION: Record<ClassifyResponse['decision'], string> = {
  vote: 'majority vote',
  threshold: 'calibrated vote-share threshold',
  offsets: 'calibrated class offsets on the vote shares',
  mean: 'lowest mean denoising error',
};

/** Horizontal bars, one per class: its share of the votes, the count, and the threshold if one decided. */
export function voteHistogram(r: ClassifyResponse, classNames: readonly string[]): SVGSVGElement {
  const rowH = 40, labelW = 104, countW = 92, barW = 420 - labelW - countW, top = 6;
  const height = top + classNames.length * rowH;
  const total = Math.max(1, r.pairsUsed);
  const svg = s('svg', {
    class: 'histogram', viewBox: `0 0 420 ${height}`, role: 'img', 'data-testid': 'vote-histogram',
    'aria-label': `Votes: ${classNames.map((c) => `${c} ${r.votes[c] ?? 0}`).join(', ')} of ${r.pairsUsed}`,
  });
  // Grid lines at 0, 50 and 100% give the bars a scale without an axis.
  for (const g of [0, 0.5, 1]) {
    svg.append(s('line', { class: 'grid', x1: labelW + g * barW, x2: labelW + g * barW, y1: 0, y2: height }));
  }
  classNames.forEach((c, k) => {
    const votes = r.votes[c] ?? 0;
    const share = r.shares[c] ?? votes / total;
    const y = top + k * rowH;
    const predicted = c === r.prediction;
    svg.append(
      s('text', { class: 'bar-label' + (predicted ? ' predicted' : ''), x: labelW - 10, y: y + rowH / 2 - 3, 'text-anchor': 'end', 'dominant-baseline': 'middle' }, c),
      s('rect', { class: 'bar-track', x: labelW, y: y + 6, width: barW, height: rowH - 18, rx: 4 }),
      s('rect', {
        class: 'bar' + (predicted ? ' predicted' : ''), x: labelW, y: y + 6, width: Math.max(0, share) * barW, height: rowH - 18, rx: 4,
        'data-testid': 'vote-bar', 'data-class': c, 'data-votes': votes,
      }),
      s('text', { class: 'bar-count', x: labelW + barW + 10, y: y + rowH / 2 - 3, 'dominant-baseline': 'middle' }, `${votes}  (${pct(share)})`),
    );
    if (r.threshold && r.threshold.class === c) {
      const x = labelW + r.threshold.value * barW;
      svg.append(
        s('line', { class: 'threshold', x1: x, x2: x, y1: y + 2, y2: y + rowH - 8 }),
        s('title', {}, `calibrated threshold ${fixed(r.threshold.value, 3)} on the share of '${c}'`),
      );
    }
  });
  return svg;
}

function level(u: number): 'low' | 'moderate' | 'high' {
  return u < 0.2 ? 'low' : u < 0.5 ? 'moderate' : 'high';
}

/** A half-circle gauge for an uncertainty in [0, 1]. */
export function uncertaintyGauge(u: number): SVGSVGElement {
  const v = Math.min(1, Math.max(0, u));
  const cx = 100, cy = 100, rad = 78;
  const at = (x: number): [number, number] => [cx - rad * Math.cos(Math.PI * x), cy - rad * Math.sin(Math.PI * x)];
  const arc = (from: number, to: number): string => {
    const [x0, y0] = at(from), [x1, y1] = at(to);
    return `M ${x0.toFixed(2)} ${y0.toFixed(2)} A ${rad} ${rad} 0 0 1 ${x1.toFixed(2)} ${y1.toFixed(2)}`;
  };
  const [nx, ny] = at(v);
  return s('svg', { class: `gauge level-${level(v)}`, viewBox: '-12 0 224 126', role: 'img', 'aria-label': `Uncertainty ${fixed(v)} on a scale from 0 (sure) to 1 (unsure): ${level(v)}` },
    s('path', { class: 'gauge-track', d: arc(0, 1) }),
    v > 0.001 ? s('path', { class: 'gauge-value', d: arc(0, v) }) : null,
    s('circle', { class: 'gauge-needle', cx: nx.toFixed(2), cy: ny.toFixed(2), r: 7 }),
    s('text', { class: 'gauge-number', x: cx, y: cy - 12, 'text-anchor': 'middle', 'data-testid': 'uncertainty' }, fixed(v)),
    s('text', { class: 'gauge-level', x: cx, y: cy + 12, 'text-anchor': 'middle' }, level(v)),
    s('text', { class: 'gauge-end', x: cx - rad, y: cy + 20, 'text-anchor': 'middle' }, '0 sure'),
    s('text', { class: 'gauge-end', x: cx + rad, y: cy + 20, 'text-anchor': 'middle' }, '1 unsure'),
  );
}

function stat(term: string, value: string): HTMLElement[] {
  return [h('dt', {}, term), h('dd', {}, value)];
}

export function renderClassification(r: ClassifyResponse, classNames: readonly string[]): HTMLElement {
  const share = pct(r.voteShare);
  const meanErrors = classNames.map((c) => `${c} ${(r.meanError[c] ?? NaN).toPrecision(3)}`).join(', ');
  const prob = r.probability ? Object.entries(r.probability).map(([c, p]) => `P(${c}) = ${fixed(p)}`).join(', ') : null;

  const ood = r.ood?.flagged
    ? h('div', { class: 'banner warn', role: 'note', 'data-testid': 'ood-warning' },
      h('span', { class: 'banner-icon', 'aria-hidden': 'true' }, '!'),
      h('p', {}, h('strong', {}, 'Unlike the training data. '),
        `This image's out-of-distribution score ${r.ood.score.toPrecision(3)} exceeds the model's threshold ${r.ood.threshold.toPrecision(3)}: `
        + 'the prediction may be meaningless (another modality, body part or a corrupted file?).'))
    : null;

  return h('div', { class: 'classification', 'data-testid': 'classification' },
    ood,
    h('div', { class: 'result-grid' },
      h('section', { class: 'card prediction-card', 'aria-labelledby': 'prediction-heading' },
        h('h3', { id: 'prediction-heading', class: 'eyebrow' }, 'Prediction'),
        h('p', { class: 'prediction', 'data-testid': 'prediction' }, r.prediction),
        h('p', { class: 'prediction-sub' },
          `${share} of ${r.pairsUsed} votes`,
          r.calibrated && r.threshold ? ` · threshold ${fixed(r.threshold.value, 3)} on '${r.threshold.class}'` : '',
          r.votePrediction !== r.prediction ? ` · the plain vote says ${r.votePrediction}` : ''),
        h('h3', { class: 'eyebrow' }, 'Votes per class'),
        voteHistogram(r, classNames)),
      h('section', { class: 'card uncertainty-card', 'aria-labelledby': 'uncertainty-heading' },
        h('h3', { id: 'uncertainty-heading', class: 'eyebrow' }, 'Uncertainty'),
        uncertaintyGauge(r.uncertainty),
        h('p', { class: 'uncertainty-text', 'data-testid': 'uncertainty-text' }, r.uncertaintyText))),
    h('dl', { class: 'card stats stats-2', 'data-testid': 'classify-stats' },
      ...stat('Decision', DECISION[r.decision] + (r.calibrated && r.decision !== 'threshold' ? ' (calibrated)' : '')),
      ...stat('Vote entropy', fixed(r.entropy, 3)),
      ...stat('Mean denoising error', meanErrors + ' (lower fits better)'),
      ...(prob ? stat('Probability', prob) : []),
      ...stat('Forward passes', `${r.forwardPasses} (${r.pairsUsed} noise pairs)`),
      ...stat('Time', `${seconds(r.seconds)} compute, ${seconds(r.totalSeconds)} in all`),
      ...stat('File', `${r.file} (${r.type.toUpperCase()})`),
    ),
  );
}
