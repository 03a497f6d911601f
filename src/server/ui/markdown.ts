// A deliberately small Markdown renderer for model cards: headings, paragraphs, lists, fenced
// code, pipe tables, and inline code / bold / italics / http(s) links. It builds DOM nodes with
// textContent only, so whatever the card holds (it is a file from the model folder) stays text.
import { h } from './dom.ts';

const INLINE = /(`[^`]+`)|(\*\*[^*]+\*\*)|(\[[^\]]+\]\([^)\s]+\))|(\*[^*\s][^*]*\*)/g;

function inline(text: string): Node[] {
  const out: Node[] = [];
  let last = 0;
  for (const m of text.matchAll(INLINE)) {
    const at = m.index ?? 0;
    if (at > last) out.push(document.createTextNode(text.slice(last, at)));
    const tok = m[0];
    if (m[1]) out.push(h('code', {}, tok.slice(1, -1)));
    else if (m[2]) out.push(h('strong', {}, ...inline(tok.slice(2, -2))));
    else if (m[3]) {
      const [, label = '', href = ''] = /^\[([^\]]+)\]\(([^)\s]+)\)$/.exec(tok) ?? [];
      // Only web links become anchors; anything else (javascript:, relative paths) stays text.
      out.push(/^https?:\/\//i.test(href) ? h('a', { href, rel: 'noopener noreferrer', target: '_blank' }, label) : document.createTextNode(label));
    } else out.push(h('em', {}, tok.slice(1, -1)));
    last = at + tok.length;
  }
  if (last < text.length) out.push(document.createTextNode(text.slice(last)));
  return out;
}

const cells = (row: string): string[] => row.trim().replace(/^\|/, '').replace(/\|$/, '').split('|').map((c) => c.trim());
const isTableSep = (row: string | undefined): boolean => !!row && /^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$/.test(row);
const LIST_ITEM = /^\s*(?:[-*+]|\d+\.)\s+/;

/** Markdown text → a fragment of safe DOM nodes. `headingOffset` shifts # levels to fit the page. */
export function renderMarkdown(md: string, headingOffset = 2): DocumentFragment {
  const frag = document.createDocumentFragment();
  const lines = md.replace(/\r\n?/g, '\n').split('\n');
  let i = 0;
  while (i < lines.length) {
    const line = lines[i]!;
    if (/^\s*$/.test(line)) { i++; continue; }

    const fence = /^\s*(```|~~~)/.exec(line);
    if (fence) {
      const body: string[] = [];
      for (i++; i < lines.length && !lines[i]!.trimStart().startsWith(fence[1]!); i++) body.push(lines[i]!);
      i++;
      frag.append(h('pre', {}, h('code', {}, body.join('\n'))));
      continue;
    }

    const heading = /^(#{1,6})\s+(.*?)\s*#*\s*$/.exec(line);
    if (heading) {
      const level = Math.min(6, heading[1]!.length + headingOffset);
      frag.append(h(`h${level}` as 'h3', {}, ...inline(heading[2]!)));
      i++;
      continue;
    }

    if (line.trimStart().startsWith('|') && isTableSep(lines[i + 1])) {
      const head = cells(line);
      const table = h('table', {}, h('thead', {}, h('tr', {}, ...head.map((c) => h('th', { scope: 'col' }, ...inline(c))))));
      const tbody = h('tbody');
      for (i += 2; i < lines.length && lines[i]!.trimStart().startsWith('|'); i++) {
        tbody.append(h('tr', {}, ...cells(lines[i]!).map((c) => h('td', {}, ...inline(c)))));
      }
      table.append(tbody);
      frag.append(h('div', { class: 'table-scroll' }, table));
      continue;
    }

    if (LIST_ITEM.test(line)) {
      const ordered = /^\s*\d+\./.test(line);
      const list = h(ordered ? 'ol' : 'ul');
      while (i < lines.length && LIST_ITEM.test(lines[i]!)) {
        let text = lines[i]!.replace(LIST_ITEM, '');
        // Indented lines continue the item.
        for (i++; i < lines.length && /^\s{2,}\S/.test(lines[i]!) && !LIST_ITEM.test(lines[i]!); i++) text += ' ' + lines[i]!.trim();
        list.append(h('li', {}, ...inline(text)));
      }
      frag.append(list);
      continue;
    }

    const para: string[] = [];
    while (i < lines.length && !/^\s*$/.test(lines[i]!) && !/^(#{1,6}\s|\s*```|\s*~~~)/.test(lines[i]!) && !LIST_ITEM.test(lines[i]!)
      && !(lines[i]!.trimStart().startsWith('|') && isTableSep(lines[i + 1]))) {
      para.push(lines[i]!.trim());
      i++;
    }
    frag.append(h('p', {}, ...inline(para.join(' '))));
  }
  return frag;
}
