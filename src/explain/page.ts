// Explanations as pictures: one row of panels per image, PNG files, and an HTML page/section.
import { encodePng, grid, toUint8, upscale, type RgbImage } from './images.ts';
import { differenceImage, mapScale, overlayImage } from './panels.ts';
import type { Explanation } from './explain.ts';
import type { Localisation, LocalisationSummary } from './localisation.ts';
import { escapeHtml as esc } from '../util/index.ts';

export const PANEL_TITLES = ['input', 'factual', 'counterfactual', 'difference', 'overlay'] as const;

/** [input, factual reconstruction, counterfactual, difference map, overlay], upscaled to ≥ 96 px. */
export function explanationPanels(e: Explanation): RgbImage[] {
  const { width: w, height: h, channels: c } = e;
  const f = Math.max(1, Math.floor(96 / w));
  const scale = mapScale(e.difference);
  return [
    toUint8(e.input, w, h, c as 1 | 3),
    toUint8(e.reconstructions[e.factual]!, w, h, c as 1 | 3),
    toUint8(e.reconstructions[e.target]!, w, h, c as 1 | 3),
    differenceImage(e.difference, w, h, e.signed, scale),
    overlayImage(e.input, c, e.difference, w, h, e.signed, scale),
  ].map((p) => upscale(p, f));
}

export async function explanationGridPng(es: Explanation[]): Promise<Buffer> {
  return encodePng(grid(es.flatMap(explanationPanels), PANEL_TITLES.length));
}


/** An HTML fragment: a table with one row per image (panels as data: URIs), the faithfulness figures, and the localisation where the image has a lesion mask. */
export async function explanationTable(es: Explanation[], classNames: string[], ids: string[], localisation?: readonly (Localisation | null)[]): Promise<string> {
  const rows: string[] = [];
  for (const [i, e] of es.entries()) {
    const cells = await Promise.all(explanationPanels(e).map(async (p) => `<td><img alt="" src="data:image/png;base64,${(await encodePng(p)).toString('base64')}"></td>`));
    const share = (100 * (e.prediction.shares[e.factual] ?? 0)).toFixed(0);
    const l = localisation?.[i];
    const lesion = l ? `<br>lesion: ${(100 * l.massInsideMask).toFixed(0)}% of |Δ| inside (blob ${(100 * l.blobMassInsideMask).toFixed(0)}%, area ${(100 * l.maskAreaFraction).toFixed(0)}%), maximum ${l.pointingGame === 1 ? 'inside ✓' : l.pointingGame === 0 ? 'outside' : `inside for ${(100 * l.pointingGame).toFixed(0)}% of ties`}` : '';
    rows.push(`<tr><th>${esc(ids[i] ?? String(i))}<br><small>model: ${esc(classNames[e.factual]!)} (${share}% of votes)<br>→ ${esc(classNames[e.target]!)}: ${e.flipped ? 'flipped ✓' : 'not flipped'}<br>mean |Δ| ${e.proximity.meanAbsDiff.toFixed(3)}, ${(100 * e.proximity.fractionChanged).toFixed(0)}% of pixels changed${lesion}</small></th>${cells.join('')}</tr>`);
  }
  const head = `<tr><th></th>${PANEL_TITLES.map((t) => `<th>${t}</th>`).join('')}</tr>`;
  const legend = es[0]?.signed
    ? '<p>Difference = counterfactual − factual reconstruction: <span style="color:#c00">red</span> where the model adds intensity to reach the other class, <span style="color:#00c">blue</span> where it removes it.</p>'
    : '<p>Difference = |counterfactual − factual| (brighter = larger change).</p>';
  return `${legend}<table class="explain">${head}${rows.join('')}</table>`;
}

/** A paragraph and table: the difference maps' localisation against the lesion masks beside the centred-blob and uniform baselines. */
export function localisationHtml(s: LocalisationSummary | null, o: { listed: number; unusable: number }): string {
  const skipped = o.unusable > 0 ? ` ${o.unusable} of the ${o.listed} listed masks could not be used (unreadable, another aspect ratio than the image, or empty after fitting) and are left out.` : '';
  if (!s) return `<p>Localisation against the lesion masks: no usable mask among the explained images.${skipped}</p>`;
  const pc = (v: number) => `${(100 * v).toFixed(1)}%`;
  const ratio = s.massInsideMaskVsBlob === null ? 'n/a' : `${s.massInsideMaskVsBlob.toFixed(2)}×`;
  return `<p>Localisation against the lesion masks of ${s.localisedImages} explained image${s.localisedImages === 1 ? '' : 's'}: the share of the difference map's mass (Σ|Δ|) inside the lesion and the pointing game (the map's maximum lies inside; ties split), beside a centred Gaussian blob of the lesion's size (σ = √(area/π)) and a uniform map (the lesion's area fraction). The map's mass inside is <b>${ratio}</b> the blob's (target ≥ 2×).${skipped}</p>`
    + '<table><tr><th></th><th>mass inside lesion</th><th>pointing game</th></tr>'
    + `<tr><th>difference map</th><td>${pc(s.massInsideMask)}</td><td>${pc(s.pointingGame)}</td></tr>`
    + `<tr><th>centred Gaussian blob</th><td>${pc(s.blobMassInsideMask)}</td><td>${pc(s.blobPointingGame)}</td></tr>`
    + `<tr><th>uniform map</th><td>${pc(s.maskAreaFraction)}</td><td>${pc(s.maskAreaFraction)}</td></tr></table>`;
}

export function explanationPage(title: string, body: string): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>${esc(title)}</title><style>
body{font-family:'DejaVu Sans',Arial,sans-serif;margin:24px;color:#222}table.explain{border-collapse:collapse}
table.explain td,table.explain th{padding:4px;text-align:center;vertical-align:middle}table.explain th{font-weight:normal;font-size:13px}
img{image-rendering:pixelated}small{color:#555}</style></head><body><h1>${esc(title)}</h1>${body}</body></html>\n`;
}
