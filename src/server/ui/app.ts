// The meddiff web app: pick a model, upload an image, see the classification (votes, uncertainty,
// OOD warning), explain it with counterfactuals streamed over SSE, and browse the test-set gallery.
import type { ClassifyResponse, ModelInfo } from '../api-types.ts';
import { ApiRequestError, classify, explainStream, getModels, uploadForm } from './api.ts';
import { renderClassification } from './classify-view.ts';
import { byId, h } from './dom.ts';
import { describeProgress, renderExplanation } from './explain-view.ts';
import { GalleryView } from './gallery.ts';
import { renderModelInfo } from './model-panel.ts';

interface Upload { blob: Blob; name: string }

const el = {
  status: byId('status'),
  modelSelect: byId<HTMLSelectElement>('model-select'),
  modelInfo: byId('model-info'),
  fileInput: byId<HTMLInputElement>('file-input'),
  dropZone: byId<HTMLButtonElement>('drop-zone'),
  preview: byId('preview'),
  previewImage: byId<HTMLImageElement>('preview-image'),
  previewNone: byId('preview-none'),
  previewCaption: byId('preview-caption'),
  results: byId('results'),
  explainButton: byId<HTMLButtonElement>('explain-button'),
  explainCancel: byId<HTMLButtonElement>('explain-cancel'),
  progressRow: byId('explain-progress-row'),
  progress: byId<HTMLProgressElement>('explain-progress'),
  phase: byId('explain-phase'),
  explainOutput: byId('explain-output'),
  explainStatus: byId('explain-status'),
  optN: byId<HTMLInputElement>('opt-n'),
  optEarlyStop: byId<HTMLSelectElement>('opt-early-stop'),
  optEarlyStopDefault: byId<HTMLOptionElement>('opt-early-stop-default'),
  optMirror: byId<HTMLSelectElement>('opt-mirror'),
  optMirrorDefault: byId<HTMLOptionElement>('opt-mirror-default'),
  optSeed: byId<HTMLInputElement>('opt-seed'),
  optTarget: byId<HTMLSelectElement>('opt-target'),
  optT: byId<HTMLInputElement>('opt-t'),
  optQuality: byId<HTMLSelectElement>('opt-quality'),
  galleryRoot: byId('gallery-root'),
  galleryStatus: byId('gallery-status'),
};

const state: {
  models: ModelInfo[];
  model: ModelInfo | null;
  upload: Upload | null;
  classification: ClassifyResponse | null;
  previewUrl: string | null;
  classifyAbort: AbortController | null;
  explainAbort: AbortController | null;
} = { models: [], model: null, upload: null, classification: null, previewUrl: null, classifyAbort: null, explainAbort: null };

// ---- errors -------------------------------------------------------------------------------

function describeError(e: unknown): string {
  if (e instanceof ApiRequestError) {
    const parts = [e.message];
    // The wait comes from the Retry-After header (an answer refused before any work) or from the
    // stream's error event (a job that failed after it started): both say it in seconds.
    if (e.status === 429) parts.push(e.retryAfter ? `The server is busy: try again in ${e.retryAfter} s.` : 'The server is busy: try again shortly.');
    else if (e.retryAfter) parts.push(`Try again in ${e.retryAfter} s.`);
    if (e.requestId) parts.push(`(request ${e.requestId})`);
    return parts.join(' ');
  }
  return e instanceof Error ? e.message : String(e);
}

function showError(e: unknown, what: string): void {
  if (e instanceof Error && e.name === 'AbortError') return;
  const dismiss = h('button', { type: 'button', class: 'dismiss', 'aria-label': 'Dismiss the message' }, '×');
  dismiss.addEventListener('click', clearError);
  el.status.replaceChildren(h('div', { class: 'banner error' },
    h('p', {}, h('strong', {}, `${what} failed: `), describeError(e)), dismiss));
  el.status.scrollIntoView({ block: 'nearest' });
}

function clearError(): void {
  el.status.replaceChildren();
}

// ---- models -------------------------------------------------------------------------------

function selectModel(id: string): void {
  const m = state.models.find((x) => x.id === id);
  if (!m) return;
  state.model = m;
  el.modelInfo.replaceChildren(renderModelInfo(m));
  el.optN.placeholder = `model default: ${m.defaults.n}`;
  el.optEarlyStopDefault.textContent = `Model default (${m.defaults.earlyStop})`;
  el.optMirrorDefault.textContent = `Model default (${m.defaults.mirror ? 'on' : 'off'})`;
  el.optTarget.replaceChildren(h('option', { value: '' }, 'Runner-up of the vote'), ...m.classNames.map((c) => h('option', { value: c }, c)));
  gallery.setModel(m);
  if (!byId('panel-gallery').hidden) gallery.ensureLoaded();
  resetResults();
  // A different model answers differently: classify the current image again.
  if (state.upload) void runClassify();
}

async function loadModels(): Promise<void> {
  try {
    const { models } = await getModels();
    state.models = models;
    if (models.length === 0) {
      el.modelInfo.replaceChildren(h('p', {}, 'The server serves no models.'));
      return;
    }
    el.modelSelect.replaceChildren(...models.map((m) => h('option', { value: m.id }, m.id)));
    el.modelSelect.disabled = models.length < 2;
    selectModel(models[0]!.id);
  } catch (e) {
    el.modelInfo.replaceChildren(h('p', {}, 'The model list could not be loaded.'));
    showError(e, 'Loading the models');
  }
}

// ---- upload -------------------------------------------------------------------------------

function isBrowserImage(u: Upload): boolean {
  return /^image\/(png|jpeg)$/.test(u.blob.type) || /\.(png|jpe?g)$/i.test(u.name);
}

function showPreview(u: Upload): void {
  if (state.previewUrl) URL.revokeObjectURL(state.previewUrl);
  state.previewUrl = null;
  el.preview.hidden = false;
  const viewable = isBrowserImage(u);
  el.previewImage.hidden = !viewable;
  el.previewNone.hidden = viewable;
  if (viewable) {
    state.previewUrl = URL.createObjectURL(u.blob);
    el.previewImage.src = state.previewUrl;
  } else el.previewImage.removeAttribute('src');
  el.previewCaption.textContent = `${u.name} · ${formatBytes(u.blob.size)}`;
}

function formatBytes(n: number): string {
  // Non-breaking spaces keep a number and its unit on one line.
  return n < 1024 ? `${n}\u00a0B` : n < 1024 * 1024 ? `${(n / 1024).toFixed(1)}\u00a0KB` : `${(n / 1024 / 1024).toFixed(1)}\u00a0MB`;
}

function takeUpload(blob: Blob, name: string): void {
  state.upload = { blob, name };
  showPreview(state.upload);
  void runClassify();
}

function resetResults(): void {
  state.classifyAbort?.abort();
  state.explainAbort?.abort();
  state.classification = null;
  el.results.replaceChildren(h('div', { class: 'card placeholder' }, h('p', {}, state.upload ? 'Classifying…' : 'Choose or drop an image to classify it.')));
  el.explainButton.disabled = true;
  el.explainOutput.replaceChildren(h('p', { class: 'muted' }, 'Classify an image first, then explain the decision (a few seconds).'));
  el.explainStatus.textContent = '';
  el.progressRow.hidden = true;
}

function classifyFields(): Record<string, string | undefined> {
  return {
    model: state.model?.id,
    n: el.optN.value.trim(),
    earlyStop: el.optEarlyStop.value,
    mirror: el.optMirror.value,
    seed: el.optSeed.value.trim(),
  };
}

async function runClassify(): Promise<void> {
  const u = state.upload, m = state.model;
  if (!u || !m) return;
  resetResults();
  clearError();
  const abort = state.classifyAbort = new AbortController();
  el.results.setAttribute('aria-busy', 'true');
  el.results.replaceChildren(h('div', { class: 'card placeholder busy', 'data-testid': 'classify-busy' },
    h('span', { class: 'spinner', 'aria-hidden': 'true' }), h('p', {}, `Classifying ${u.name}…`)));
  try {
    const r = await classify(uploadForm(u.blob, u.name, classifyFields()), abort.signal);
    if (abort.signal.aborted) return;
    state.classification = r;
    el.results.replaceChildren(renderClassification(r, m.classNames));
    el.explainButton.disabled = false;
    el.explainOutput.replaceChildren(h('p', { class: 'muted' }, `Explain why it says ${r.prediction}: the image reconstructed as each class, and the difference.`));
  } catch (e) {
    if (abort.signal.aborted) return;
    el.results.replaceChildren(h('div', { class: 'card placeholder' }, h('p', {}, 'No result for this image: see the message above.')));
    showError(e, 'Classification');
  } finally {
    if (state.classifyAbort === abort) el.results.removeAttribute('aria-busy');
  }
}

// ---- explain ------------------------------------------------------------------------------

async function runExplain(): Promise<void> {
  const u = state.upload, m = state.model;
  if (!u || !m) return;
  state.explainAbort?.abort();
  clearError();
  const abort = state.explainAbort = new AbortController();
  // The pressed Explain button is about to be disabled, which would drop focus on <body>: move it to
  // Cancel, the one thing to do now (finishExplain brings it back).
  const hadFocus = document.activeElement === el.explainButton;
  el.explainCancel.hidden = false;
  if (hadFocus) el.explainCancel.focus();
  el.explainButton.disabled = true;
  el.progressRow.hidden = false;
  el.progress.value = 0;
  el.phase.textContent = 'Sending the image…';
  announceExplain('Explaining: sending the image…');
  el.explainOutput.setAttribute('aria-busy', 'true');
  el.explainOutput.replaceChildren();
  const fields = { ...classifyFields(), target: el.optTarget.value, t: el.optT.value.trim(), quality: el.optQuality.value };
  let phase = '';
  try {
    const e = await explainStream(uploadForm(u.blob, u.name, fields), (p) => {
      if (abort.signal.aborted) return;
      const { fraction, text, label } = describeProgress(p);
      el.progress.value = fraction;
      el.phase.textContent = text;
      // The visible line counts steps; the live region says each phase once.
      if (label !== phase) {
        phase = label;
        announceExplain(`Explaining: ${label.toLowerCase()}…`);
      }
    }, abort.signal);
    if (abort.signal.aborted) return;
    el.progress.value = 1;
    el.phase.textContent = 'Done';
    el.progressRow.hidden = true;
    el.explainOutput.replaceChildren(renderExplanation(e));
    announceExplain(`Explanation ready: ${e.factual} against ${e.target}, ${e.flipped ? '' : 'not '}flipped.`);
  } catch (e) {
    if (abort.signal.aborted) return;
    el.progressRow.hidden = true;
    el.explainOutput.replaceChildren(h('p', { class: 'muted' }, 'No explanation.'));
    announceExplain('No explanation.');
    showError(e, 'Explanation');
  } finally {
    if (state.explainAbort === abort) finishExplain();
  }
}

/** The explanation's status for screen readers (a role=status region): phase changes and the outcome, never every step. */
function announceExplain(text: string): void {
  el.explainStatus.textContent = text;
}

/** The explanation is over (done, failed or cancelled): not busy any more, Cancel gone, focus back on Explain. */
function finishExplain(): void {
  state.explainAbort = null;
  // Focus on Cancel (or already dropped on <body>) goes back to Explain; focus the user took elsewhere stays there.
  const a = document.activeElement;
  const refocus = a === el.explainCancel || a === document.body || a === null;
  el.explainOutput.removeAttribute('aria-busy');
  el.explainCancel.hidden = true;
  el.explainButton.disabled = state.classification === null;
  if (refocus && !el.explainButton.disabled) el.explainButton.focus();
}

function cancelExplain(): void {
  const abort = state.explainAbort;
  if (!abort) return;
  abort.abort();
  // runExplain's finally skips a cancelled run (state.explainAbort no longer is its controller): finish here.
  finishExplain();
  el.progressRow.hidden = true;
  el.explainOutput.replaceChildren(h('p', { class: 'muted' }, 'Cancelled.'));
  announceExplain('Explanation cancelled.');
}

// ---- tabs ---------------------------------------------------------------------------------

const tabs = [byId<HTMLButtonElement>('tab-classify'), byId<HTMLButtonElement>('tab-gallery')];

function showTab(tab: HTMLButtonElement, focus = false): void {
  for (const t of tabs) {
    const selected = t === tab;
    t.setAttribute('aria-selected', String(selected));
    t.tabIndex = selected ? 0 : -1;
    byId(t.getAttribute('aria-controls')!).hidden = !selected;
  }
  if (focus) tab.focus();
  if (tab.id === 'tab-gallery') gallery.ensureLoaded();
}

// Arrow keys move between tabs (the WAI-ARIA tabs pattern); Tab moves into the panel.
for (const [i, t] of tabs.entries()) {
  t.addEventListener('click', () => showTab(t));
  t.addEventListener('keydown', (ev) => {
    const k = ev.key === 'ArrowRight' ? 1 : ev.key === 'ArrowLeft' ? -1 : 0;
    if (k) showTab(tabs[(i + k + tabs.length) % tabs.length]!, true);
    else if (ev.key === 'Home') showTab(tabs[0]!, true);
    else if (ev.key === 'End') showTab(tabs[tabs.length - 1]!, true);
    else return;
    ev.preventDefault();
  });
}

// ---- wiring -------------------------------------------------------------------------------

const gallery = new GalleryView(el.galleryRoot, el.galleryStatus, {
  onPick(blob, name) {
    // The picked thumbnail is about to be hidden with its panel: focus follows the image to the
    // results it is being classified into (unless the user moved on while its PNG was fetched).
    const a = document.activeElement;
    const refocus = !a || a === document.body || byId('panel-gallery').contains(a);
    showTab(tabs[0]!);
    takeUpload(blob, name);
    el.dropZone.scrollIntoView({ block: 'start', behavior: 'smooth' });
    if (refocus) el.results.focus({ preventScroll: true });
  },
  onError: (e) => showError(e, 'The gallery'),
});

el.modelSelect.addEventListener('change', () => selectModel(el.modelSelect.value));
el.dropZone.addEventListener('click', () => el.fileInput.click());
el.fileInput.addEventListener('change', () => {
  const f = el.fileInput.files?.[0];
  if (f) takeUpload(f, f.name);
  // Choosing the same file again should classify it again.
  el.fileInput.value = '';
});

for (const type of ['dragenter', 'dragover'] as const) {
  el.dropZone.addEventListener(type, (ev) => {
    ev.preventDefault();
    if (ev.dataTransfer) ev.dataTransfer.dropEffect = 'copy';
    el.dropZone.classList.add('dragging');
  });
}
el.dropZone.addEventListener('dragleave', () => el.dropZone.classList.remove('dragging'));
el.dropZone.addEventListener('drop', (ev) => {
  ev.preventDefault();
  el.dropZone.classList.remove('dragging');
  const f = ev.dataTransfer?.files[0];
  if (f) takeUpload(f, f.name);
});
// A file dropped beside the zone must not make the browser navigate away from the app.
for (const type of ['dragover', 'drop'] as const) window.addEventListener(type, (ev) => ev.preventDefault());

// A file the browser cannot draw (or one that is not an image at all) gets the note, not a broken image.
el.previewImage.addEventListener('error', () => {
  if (!el.previewImage.getAttribute('src')) return;
  el.previewImage.hidden = true;
  el.previewNone.hidden = false;
});
el.explainButton.addEventListener('click', () => void runExplain());
el.explainCancel.addEventListener('click', cancelExplain);

void loadModels();
