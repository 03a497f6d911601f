// HTML pieces of the baseline report and the comparison page: self-contained (inline CSS and SVG,
// no scripts). Cells are HTML: callers escape what comes from data.
import { escapeHtml } from '../util/index.ts';
import { prefixSvgIds, type RenderedPlot } from './plots.ts';

export const PAGE_CSS = `
body{font-family:"DejaVu Sans",Helvetica,Arial,sans-serif;color:#1b1b1b;max-width:1100px;margin:2em auto;padding:0 1em;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.25em;margin-top:2em;border-bottom:2px solid #1f5f9e;padding-bottom:.2em}
h3{font-size:1.05em;margin-top:1.4em}.lead{color:#444;margin-top:0}
table{border-collapse:collapse;margin:.6em 0 1em;font-size:.9em}th,td{border:1px solid #d0d0d0;padding:.3em .55em;text-align:right}
thead th{background:#eef3f8;text-align:center}tbody th{text-align:left;font-weight:600;background:#fafafa}
.cards{display:flex;flex-wrap:wrap;gap:.8em;margin:1em 0}.card{border:1px solid #d0d0d0;border-radius:6px;padding:.6em 1em;min-width:9em}
.card b{display:block;font-size:1.6em;color:#1f5f9e}.card span{color:#444;font-size:.9em}
figure{margin:1em 0}figure svg{max-width:100%;height:auto}figcaption{color:#444;font-size:.9em}
.note{color:#444;font-size:.92em}.warn{color:#8a4b00}dl.defs dt{font-weight:600;margin-top:.5em}dl.defs dd{margin-left:1.2em}
footer{margin-top:3em;color:#666;font-size:.85em}
`;

/** A fraction as a percentage ('–' when undefined). */
export function pc(x: number | null | undefined, digits = 1): string {
  return typeof x === 'number' && Number.isFinite(x) ? `${(100 * x).toFixed(digits)}%` : '–';
}

/** A number with fixed decimals, integers as they are ('–' when undefined). */
export function fx(x: number | null | undefined, digits = 3): string {
  return typeof x === 'number' && Number.isFinite(x) ? (Number.isInteger(x) ? String(x) : x.toFixed(digits)) : '–';
}

/** A table; `head` rows may span columns: [text, colspan]. The first cell of each body row is a row header. */
export function htmlTable(head: (string | [string, number])[][], rows: string[][]): string {
  const th = (h: string | [string, number]) => (typeof h === 'string' ? `<th>${h}</th>` : `<th colspan="${h[1]}">${h[0]}</th>`);
  return `<table><thead>${head.map((r) => `<tr>${r.map(th).join('')}</tr>`).join('')}</thead>`
    + `<tbody>${rows.map((r) => `<tr>${r.map((c, i) => (i === 0 ? `<th scope="row">${c}</th>` : `<td>${c}</td>`)).join('')}</tr>`).join('')}</tbody></table>`;
}

/** An inline SVG figure; ids prefixed so several SVGs on one page cannot clash. */
export function htmlFigure(plot: RenderedPlot | undefined, id: string, caption: string): string {
  if (!plot) return '';
  const svg = prefixSvgIds(plot.svg.replace(/^<\?xml[^>]*>\s*/, ''), `${id}-`);
  return `<figure>${svg}<figcaption>${escapeHtml(caption)}</figcaption></figure>`;
}

/** A whole page. */
export function htmlPage(title: string, parts: readonly string[]): string {
  return `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">`
    + `<title>${escapeHtml(title)}</title><style>${PAGE_CSS}</style></head><body>\n${parts.filter(Boolean).join('\n')}\n</body></html>\n`;
}

/** JSON-ish rendering of a setting value for a table cell (escaped). */
export function valueText(v: unknown): string {
  if (v === null || v === undefined) return '–';
  return escapeHtml(typeof v === 'object' ? JSON.stringify(v) : String(v));
}

export const FAILURE_DEFINITIONS = `<dl class="defs">
<dt>Error-detection AUROC</dt><dd>Probability that a randomly chosen wrong answer is rated more uncertain than a randomly chosen right one (ties count half); 50% is chance.</dd>
<dt>AURC</dt><dd>Area under the risk–coverage curve: keep the cases from the most certain up and average the error rate among those kept over every share kept (lower is better). E-AURC subtracts the AURC of a perfect ranking with the same errors, so 0 is perfect (Jaeger et al., ICLR 2023).</dd>
<dt>ECE</dt><dd>Expected calibration error: cases grouped into 15 equal-width confidence bins; the mean gap between confidence and accuracy, weighted by bin size (Guo et al., 2017).</dd>
<dt>NLL, Brier</dt><dd>Mean negative log probability of the true class, and mean squared distance of the probabilities from the true class (0 to 2); lower is better.</dd>
<dt>Accuracy after setting aside x%</dt><dd>Accuracy on the cases that remain after the x% most uncertain are set aside for review (paper Fig. 3).</dd>
</dl>`;
