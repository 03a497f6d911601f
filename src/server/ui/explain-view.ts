// The counterfactual explanation: the input, its reconstruction as each class, the difference map
// with its colour legend, and the input with the map laid over it at an adjustable opacity.
import type { ExplainProgress, ExplainResponse } from '../api-types.ts';
import { fixed, h, pct, seconds } from './dom.ts';

// Share of the bar each phase covers, in order; the denoising steps dominate the time.
const PHASES: { phase: ExplainProgress['phase']; label: string; weight: number }[] = [
  { phase: 'queued', label: 'Waiting for the worker', weight: 0.02 },
  { phase: 'classify', label: 'Classifying', weight: 0.18 },
  { phase: 'counterfactuals', label: 'Denoising the counterfactuals', weight: 0.6 },
  { phase: 'check', label: 'Classifying the counterfactual (flip check)', weight: 0.15 },
  { phase: 'images', label: 'Drawing the images', weight: 0.05 },
];

/**
 * Where the whole explanation stands in [0, 1], a line saying so (with the step), and the phase's
 * name alone (`label`, for the status a screen reader announces once per phase).
 */
export function describeProgress(p: ExplainProgress): { fraction: number; text: string; label: string } {
  let before = 0;
  for (const ph of PHASES) {
    if (ph.phase === p.phase) {
      // Only the denoising phase counts steps of its own; the others report the phase starting.
      const stepped = p.phase === 'counterfactuals' && p.steps > 0;
      const within = stepped ? Math.min(1, Math.max(0, p.step / p.steps)) : 0;
      const detail = p.phase === 'queued'
        ? (p.position ? ` (${p.position} ahead)` : '')
        : stepped ? `: step ${p.step} of ${p.steps}` : '';
      return { fraction: before + ph.weight * within, text: ph.label + detail, label: ph.label };
    }
    before += ph.weight;
  }
  return { fraction: 0, text: 'Working', label: 'Working' };
}

const DISPLAY_PX = 184;

function figure(src: string, e: ExplainResponse, alt: string, caption: (Node | string)[], attrs: Record<string, string> = {}): HTMLElement {
  return h('figure', { class: 'panel', ...attrs },
    h('img', { class: 'pixelated', src, alt, width: DISPLAY_PX, height: Math.round(DISPLAY_PX * e.height / e.width), decoding: 'async' }),
    h('figcaption', {}, ...caption));
}

function legend(signed: boolean): HTMLElement {
  return h('div', { class: 'legend', 'data-testid': 'colour-legend' },
    h('span', { class: `legend-bar ${signed ? 'signed' : 'magnitude'}`, 'aria-hidden': 'true' }),
    signed
      ? h('span', { class: 'legend-labels', 'aria-hidden': 'true' }, h('span', {}, 'less'), h('span', {}, 'same'), h('span', {}, 'more'))
      : h('span', { class: 'legend-labels', 'aria-hidden': 'true' }, h('span', {}, 'no change'), h('span', {}, 'larger |Δ|')),
    h('span', { class: 'legend-caption', 'aria-hidden': 'true' }, signed ? 'intensity in the counterfactual (blue less, red more)' : 'size of the change'),
    h('span', { class: 'visually-hidden' }, signed
      ? 'Colour map: blue where the counterfactual has less intensity, red where it has more, white where nothing changed.'
      : 'Colour map: dark where nothing changed, bright where the change is largest.'));
}

let overlayIds = 0;

export function renderExplanation(e: ExplainResponse): HTMLElement {
  const classes = Object.keys(e.images.reconstructions);
  const order = [e.factual, e.target, ...classes.filter((c) => c !== e.factual && c !== e.target)].filter((c) => c in e.images.reconstructions);
  const sliderId = `overlay-opacity-${++overlayIds}`;
  const initial = 70;

  const layer = h('img', {
    class: 'pixelated overlay-layer', src: e.images.differenceOverlay, alt: '', 'data-testid': 'overlay-layer',
    width: DISPLAY_PX, height: Math.round(DISPLAY_PX * e.height / e.width),
  });
  layer.style.opacity = String(initial / 100);
  const output = h('output', { for: sliderId, class: 'slider-value' }, `${initial}%`);
  const slider = h('input', {
    type: 'range', id: sliderId, min: 0, max: 100, step: 5, value: initial, 'data-testid': 'overlay-opacity',
    'aria-valuetext': `${initial} percent`,
  });
  slider.addEventListener('input', () => {
    layer.style.opacity = String(Number(slider.value) / 100);
    output.textContent = `${slider.value}%`;
    slider.setAttribute('aria-valuetext', `${slider.value} percent`);
  });

  const overlay = h('figure', { class: 'panel overlay-panel' },
    h('div', { class: 'overlay-stack', 'data-testid': 'overlay', role: 'img', 'aria-label': `The input with the difference map laid over it` },
      h('img', { class: 'pixelated', src: e.images.input, alt: '', width: DISPLAY_PX, height: Math.round(DISPLAY_PX * e.height / e.width) }),
      layer),
    h('figcaption', {}, 'Overlay on the input'),
    h('div', { class: 'slider' },
      h('label', { for: sliderId }, 'Overlay opacity'), slider, output));

  const flipped = h('span', { class: `flag ${e.flipped ? 'yes' : 'no'}`, 'data-testid': 'flipped' }, e.flipped ? 'yes' : 'no');
  const summary = h('p', { class: 'explain-summary' },
    'Decided ', h('strong', {}, e.factual), ` (vote share ${pct(e.classification.voteShare)}); counterfactual as `, h('strong', {}, e.target),
    '. Flipped to target: ', flipped,
    ` — the counterfactual gets ${pct(e.counterfactualVoteShare)} of the votes for ${e.target}.`);

  return h('div', { class: 'explanation', 'data-testid': 'explain-result' },
    summary,
    h('div', { class: 'panels' },
      figure(e.images.input, e, 'The input as the model sees it', ['Input (model view)']),
      ...order.map((c) => figure(e.images.reconstructions[c]!, e, `Reconstruction as ${c}`,
        [`As ${c} `, h('span', { class: 'tag' }, c === e.factual ? 'factual' : c === e.target ? 'target' : 'other')],
        { 'data-testid': 'reconstruction', 'data-class': c })),
      h('figure', { class: 'panel' },
        h('img', { class: 'pixelated', src: e.images.difference, alt: `Difference map: ${e.target} minus ${e.factual}`, width: DISPLAY_PX, height: Math.round(DISPLAY_PX * e.height / e.width), 'data-testid': 'difference' }),
        h('figcaption', {}, `Difference (${e.target} − ${e.factual})`),
        legend(e.signed)),
      overlay),
    h('dl', { class: 'stats' },
      h('dt', {}, 'Mean |Δ|'), h('dd', {}, fixed(e.meanAbsDiff, 3)),
      h('dt', {}, 'Pixels changed'), h('dd', {}, pct(e.fractionChanged, 1)),
      h('dt', {}, 'Started from noise level'), h('dd', {}, `t = ${fixed(e.tExplain)}`),
      h('dt', {}, 'Time'), h('dd', {}, `${seconds(e.seconds)} compute, ${seconds(e.totalSeconds)} in all`)));
}
