// predictions.csv: one row per image, class columns named safely.
import type { PredictionRecord } from './types.ts';

function csvField(v: string | number): string {
  const s = String(v);
  return /[",\r\n]/.test(s) || /^\s|\s$/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Column-safe class names: lower case, [a-z0-9_]; the class index where that is empty or repeated. */
export function classColumnNames(classNames: readonly string[]): string[] {
  const slug = classNames.map((n) => n.toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_+|_+$/g, ''));
  return slug.map((s, i) => (s === '' || slug.indexOf(s) !== i || slug.lastIndexOf(s) !== i ? String(i) : s));
}

/** predictions.csv: one row per image, header first. */
export function predictionsCsv(records: readonly PredictionRecord[], classNames: readonly string[]): string {
  const cols = classColumnNames(classNames);
  const header = [
    'index', 'id', 'label', 'label_name', 'vote_pred', 'vote_pred_name', 'mean_pred', 'mean_pred_name',
    ...cols.map((c) => `share_${c}`), 'entropy', ...cols.map((c) => `mean_error_${c}`), 'pairs_used', 'forward_passes',
  ];
  const lines = [header.join(',')];
  records.forEach((r, i) => {
    lines.push([
      i, r.id, r.label, classNames[r.label] ?? '', r.votePred, classNames[r.votePred] ?? '', r.meanPred, classNames[r.meanPred] ?? '',
      ...r.shares, r.entropy, ...r.meanErrors, r.pairsUsed, r.forwardPasses,
    ].map(csvField).join(','));
  });
  return lines.join('\n') + '\n';
}

