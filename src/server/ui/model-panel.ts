// The served model's summary: classes, input size, defaults, calibration, and its model card.
import type { ModelInfo } from '../api-types.ts';
import { fixed, h } from './dom.ts';
import { renderMarkdown } from './markdown.ts';

function fact(term: string, ...value: (Node | string)[]): HTMLElement[] {
  return [h('dt', {}, term), h('dd', {}, ...value)];
}

function calibrationText(m: ModelInfo): string {
  const c = m.calibration;
  if (!c) return 'none: the plain majority vote decides';
  const fitted = `fitted on ${c.fittedOn.images} ${c.fittedOn.split} images, N = ${c.fittedOn.n}`;
  if (c.kind === 'vote-share-threshold') return `predict '${c.positiveClass}' when its vote share ≥ ${fixed(c.threshold, 3)} (${fitted})`;
  return `${c.kind}, '${c.positiveClass}' at ${fixed(c.threshold, 3)} (${fitted})`;
}

export function renderModelInfo(m: ModelInfo): DocumentFragment {
  const f = document.createDocumentFragment();
  const d = m.defaults;
  const facts = h('dl', { class: 'facts' },
    ...fact('Classes', h('span', { class: 'chips' }, ...m.classNames.map((c) => h('span', { class: 'chip' }, c)))),
    ...fact('Input', `${m.imageSize} × ${m.imageSize} px (${m.contentSize} px of image, ${m.fit}), ${m.channels === 1 ? 'grayscale' : 'colour'}`),
    ...fact('Classify defaults', `N = ${d.n} noise draws at t ∈ [${d.tRange[0]}, ${d.tRange[1]}], early stop ${d.earlyStop}${d.mirror ? ', mirror view' : ''}`),
    ...fact('Calibration', calibrationText(m)),
    ...fact('Out-of-distribution check', m.calibration?.oodThreshold != null
      ? `flags images whose lowest class mean error exceeds ${m.calibration.oodThreshold.toPrecision(3)}`
      : 'not fitted'),
    ...(m.gallery ? fact('Test-set report', `${m.gallery.images} ${m.gallery.split} images${m.gallery.accuracy != null ? `, accuracy ${(m.gallery.accuracy * 100).toFixed(1)}%` : ''}`) : []),
  );
  f.append(facts);
  if (m.card) {
    f.append(h('details', { class: 'model-card', 'data-testid': 'model-card' },
      h('summary', {}, 'Model card'),
      h('div', { class: 'markdown' }, renderMarkdown(m.card))));
  }
  return f;
}
