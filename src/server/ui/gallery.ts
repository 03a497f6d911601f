// The model's own test-set report: outcome filters with counts, thumbnails most uncertain first,
// "show more" paging, and a click that sends a thumbnail to the classifier.
import type { GalleryItem, GalleryResponse, ModelInfo, Outcome } from '../api-types.ts';
import { galleryImageUrl, getGallery } from './api.ts';
import { fixed, h } from './dom.ts';

const PAGE = 48;
const OUTCOMES: Outcome[] = ['TP', 'TN', 'FP', 'FN'];

/** "false positives" (or "false positive" for one), for the status line. */
function outcomeNoun(o: Outcome | null, n: number): string {
  const noun = o === null ? 'image' : { TP: 'true positive', TN: 'true negative', FP: 'false positive', FN: 'false negative' }[o];
  return n === 1 ? noun : `${noun}s`;
}

function outcomeMeaning(o: Outcome, positive: string | null): string {
  const p = positive ? `'${positive}'` : 'the positive class';
  return {
    TP: `true positives: ${p} correctly predicted`,
    TN: `true negatives: not ${p}, correctly predicted`,
    FP: `false positives: predicted ${p}, but it is not`,
    FN: `false negatives: missed ${p}`,
  }[o];
}

export interface GalleryHooks {
  /** A thumbnail was chosen: classify its image. */
  onPick(image: Blob, name: string): void;
  onError(e: unknown): void;
}

/** Where focus goes once a page has arrived (only when it is still in the gallery, or was dropped on <body>). */
type FocusAfter = 'filter' | 'first-new' | null;

export class GalleryView {
  private model: ModelInfo | null = null;
  private outcome: Outcome | null = null;
  private shown = 0;
  private last: GalleryResponse | null = null;
  private abort: AbortController | null = null;
  private loadedFor: string | null = null;

  /**
   * @param root where the gallery renders (replaced on every filter change)
   * @param status a polite live region (role=status) outside root: a short line says what is shown,
   *   instead of a screen reader reading out every thumbnail's label
   */
  constructor(
    private readonly root: HTMLElement,
    private readonly status: HTMLElement,
    private readonly hooks: GalleryHooks,
  ) {}

  /** Switch model; the request waits until the gallery is first shown. */
  setModel(m: ModelInfo): void {
    this.model = m;
    this.outcome = null;
    this.loadedFor = null;
    this.root.replaceChildren();
    this.status.textContent = '';
  }

  /** Called when the tab opens: load the first page once per model. */
  ensureLoaded(): void {
    if (!this.model || this.loadedFor === this.model.id) return;
    this.loadedFor = this.model.id;
    if (!this.model.gallery) {
      this.root.replaceChildren(h('p', { class: 'empty' }, 'This model folder has no test-set report to show (run meddiff evaluate on it).'));
      this.status.textContent = 'This model has no test-set gallery.';
      return;
    }
    void this.load(true);
  }

  private async load(reset: boolean, focusAfter: FocusAfter = null): Promise<void> {
    const m = this.model;
    if (!m) return;
    this.abort?.abort();
    const abort = this.abort = new AbortController();
    const offset = reset ? 0 : this.shown;
    this.root.setAttribute('aria-busy', 'true');
    try {
      const g = await getGallery(m.id, this.outcome, offset, PAGE, abort.signal);
      if (abort.signal.aborted) return;
      this.last = g;
      // Checked before the re-render (or the removal of "Show more") drops focus on <body>: focus the
      // new page only if the user is still here, not if they moved on while it loaded.
      const refocus = focusAfter !== null && this.holdsFocus();
      if (reset) {
        this.shown = 0;
        this.render(g);
      }
      const first = this.append(m, g.items);
      if (refocus) {
        const target = focusAfter === 'filter' ? this.root.querySelector<HTMLElement>('.filter[aria-pressed="true"]')
          : first ?? this.root.querySelector<HTMLElement>('[data-testid=gallery-more]');
        target?.focus();
      }
    } catch (e) {
      if ((e as Error).name !== 'AbortError') this.hooks.onError(e);
    } finally {
      if (this.abort === abort) this.root.removeAttribute('aria-busy');
    }
  }

  private holdsFocus(): boolean {
    const a = document.activeElement;
    return !a || a === document.body || this.root.contains(a);
  }

  private render(g: GalleryResponse): void {
    const all = OUTCOMES.reduce((n, o) => n + (g.counts[o] ?? 0), 0);
    const filters = h('div', { class: 'filters', role: 'group', 'aria-label': 'Show outcome' },
      this.filterButton(null, 'All', this.outcome === null ? g.total : all || null, 'every test image'),
      ...OUTCOMES.filter((o) => o in g.counts).map((o) => this.filterButton(o, o, g.counts[o] ?? 0, outcomeMeaning(o, g.positiveClass))));
    const report = this.model?.gallery;
    this.root.replaceChildren(
      h('div', { class: 'gallery-head' },
        h('p', { class: 'gallery-meta' },
          `Report ${g.report}`, report ? ` · ${report.images} ${report.split} images` : '',
          report?.accuracy != null ? ` · accuracy ${(report.accuracy * 100).toFixed(1)}%` : '',
          g.positiveClass ? ` · positive class '${g.positiveClass}'` : ''),
        filters),
      h('p', { class: 'hint', id: 'gallery-hint' },
        `${g.total} image${g.total === 1 ? '' : 's'}${this.outcome ? ` (${outcomeMeaning(this.outcome, g.positiveClass)})` : ''}, most uncertain first. Each shows the prediction (✓ right, ✗ wrong), the true label and the uncertainty; choose one to classify it here.`),
      h('ul', { class: 'gallery-grid', 'data-testid': 'gallery', 'aria-describedby': 'gallery-hint' }),
      h('div', { class: 'gallery-more' }));
  }

  private filterButton(o: Outcome | null, label: string, count: number | null, title: string): HTMLButtonElement {
    const b = h('button', {
      type: 'button', class: 'filter', 'aria-pressed': String(this.outcome === o), title, 'data-testid': `filter-${o ?? 'all'}`,
    }, label, count !== null ? h('span', { class: 'count' }, String(count)) : null);
    b.addEventListener('click', () => {
      if (this.outcome === o) return;
      this.outcome = o;
      void this.load(true, 'filter');
    });
    return b;
  }

  /** Adds a page of thumbnails; returns the first new one (null for none). */
  private append(m: ModelInfo, items: GalleryItem[]): HTMLButtonElement | null {
    const grid = this.root.querySelector('.gallery-grid');
    const more = this.root.querySelector('.gallery-more');
    if (!grid || !more) return null;
    const thumbs = items.map((it) => this.thumb(m, it));
    for (const b of thumbs) grid.append(h('li', {}, b));
    this.shown += items.length;
    const total = this.last?.total ?? this.shown;
    more.replaceChildren();
    if (items.length === 0 && this.shown === 0) grid.replaceWith(h('p', { class: 'empty' }, 'No images with this outcome.'));
    this.status.textContent = this.shown === 0
      ? `No ${outcomeNoun(this.outcome, 0)} to show.`
      : `Showing ${this.shown} of ${total} ${outcomeNoun(this.outcome, total)}.`;
    if (this.shown < total) {
      const b = h('button', { type: 'button', class: 'secondary', 'data-testid': 'gallery-more' }, `Show more (${this.shown} of ${total})`);
      b.addEventListener('click', () => void this.load(false, 'first-new'));
      more.append(b);
    }
    return thumbs[0] ?? null;
  }

  private thumb(m: ModelInfo, it: GalleryItem): HTMLButtonElement {
    const url = galleryImageUrl(m.id, it.index);
    const verdict = it.correct ? 'correct' : 'wrong';
    const b = h('button', {
      type: 'button', class: `thumb ${verdict}`, 'data-testid': 'gallery-item', 'data-outcome': it.outcome ?? '',
      'aria-label': `${it.id}: label ${it.label}, predicted ${it.prediction} (${verdict}), uncertainty ${fixed(it.uncertainty)}. Classify it.`,
    },
    h('img', { class: 'pixelated', src: url, alt: '', width: 96, height: 96, loading: 'lazy', decoding: 'async' }),
    h('span', { class: 'thumb-text' },
      h('span', { class: 'thumb-line' }, h('span', { class: 'verdict', 'aria-hidden': 'true' }, it.correct ? '✓' : '✗'), ` ${it.prediction}`),
      h('span', { class: 'thumb-line muted' }, `label ${it.label}`),
      h('span', { class: 'thumb-line muted' }, `uncertainty ${fixed(it.uncertainty)}`)),
    h('span', { class: 'thumb-meter', 'aria-hidden': 'true' }, uncertaintyBar(it.uncertainty)));
    b.addEventListener('click', async () => {
      try {
        const res = await fetch(url);
        if (!res.ok) throw new Error(`the gallery image ${it.index} could not be loaded (${res.status})`);
        this.hooks.onPick(await res.blob(), `${it.id.replace(/[^\w.-]+/g, '_')}.png`);
      } catch (e) {
        this.hooks.onError(e);
      }
    });
    return b;
  }
}

function uncertaintyBar(u: number): HTMLElement {
  const fill = h('span', { class: 'thumb-meter-fill' });
  fill.style.width = `${Math.round(Math.min(1, Math.max(0, u)) * 100)}%`;
  return fill;
}
