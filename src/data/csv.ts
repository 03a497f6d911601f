/**
 * CSV manifests: a header row with `path,label[,split]` (any order, extra columns ignored), or
 * the columns named in CsvColumns (the way users have their data: HAM10000's `melanoma`
 * label, a `balanced=1` filter, a lesion mask column, a lesion id to split by).
 * Paths are relative to the CSV's folder unless absolute.
 */
import { readFile, stat } from 'node:fs/promises';
import { dirname, resolve, isAbsolute } from 'node:path';
import { parseSplitName } from './split.ts';
import type { FileListing, LabeledFile } from './folder.ts';

export interface CsvRecord { fields: string[]; line: number }

/** RFC 4180 parsing: quoted fields may hold commas, newlines and doubled quotes (""). */
export function parseCsv(text: string, where = '<csv>'): CsvRecord[] {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1); // UTF-8 BOM from Excel
  const out: CsvRecord[] = [];
  let fields: string[] = [], field = '', quoted = false, line = 1, start = 1, i = 0, wasQuoted = false;
  const endRecord = () => {
    fields.push(field);
    // Skip blank lines, keep everything else.
    if (!(fields.length === 1 && fields[0] === '' && !wasQuoted)) out.push({ fields, line: start });
    fields = []; field = ''; wasQuoted = false;
  };
  while (i < text.length) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') { field += '"'; i += 2; continue; }
        quoted = false; i++; continue;
      }
      if (ch === '\n') line++;
      field += ch; i++; continue;
    }
    if (ch === '"' && field === '') { quoted = true; wasQuoted = true; i++; continue; }
    if (ch === ',') { fields.push(field); field = ''; i++; continue; }
    if (ch === '\r' && text[i + 1] === '\n') { i++; continue; }
    if (ch === '\n' || ch === '\r') { endRecord(); line++; start = line; i++; continue; }
    field += ch; i++;
  }
  if (quoted) throw new Error(`${where}: unterminated quoted field starting on line ${start}; close the quote`);
  if (field !== '' || fields.length > 0 || wasQuoted) endRecord();
  return out;
}

/** Manifests past this size are refused before reading (a million rows of long paths is ~200 MB). */
export const CSV_MAX_BYTES = 256 * 1024 * 1024;
/** A short, printable excerpt of untrusted text for error messages. */
const clip = (s: string, max = 120) => JSON.stringify(s.length > max ? `${s.slice(0, max)}…` : s).slice(1, -1);

const PATH_COLS = ['path', 'file', 'filename', 'filepath', 'image', 'image_path'];
const LABEL_COLS = ['label', 'class', 'target', 'diagnosis'];

/** Which columns of a CSV manifest mean what, and which rows to keep. Names are matched case-insensitively. */
export interface CsvColumns {
  /** Image path column (default: the first of path, file, filename, filepath, image, image_path). */
  pathColumn?: string;
  /** Label column (default: the first of label, class, target, diagnosis). */
  labelColumn?: string;
  /** Split column (train/val/test; default 'split' when present). */
  splitColumn?: string;
  /** Keep only rows whose column holds one of the values (e.g. { balanced: ['1'] }); several columns must all match. */
  filters?: Record<string, string[]>;
  /** A column with a mask image per row (lesion segmentation), paths like the image's. */
  maskColumn?: string;
  /**
   * A column of group ids (lesion, patient): when the CSV has no split column, the seeded
   * stratified split keeps each group in one split. Ignored when the CSV assigns splits.
   */
  groupColumn?: string;
}

export interface CsvOptions extends CsvColumns {
  /** Known classes: labels must be one of these names (or an integer index into them). */
  classNames?: string[];
  /** Leave out rows whose label is not a known class (listed in `skipped`) instead of throwing. */
  skipBad?: boolean;
}

/** 'column=value' (repeatable; values of one column are alternatives) → CsvColumns.filters. */
export function parseCsvFilters(specs: readonly string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const f of specs) {
    const k = f.indexOf('=');
    if (k <= 0) throw new Error(`filter '${clip(f)}' must be column=value (e.g. balanced=1)`);
    const col = f.slice(0, k).trim(), v = f.slice(k + 1).trim();
    (out[col] ??= []).push(v);
  }
  return out;
}

export async function readCsvManifest(csvPath: string, opts: CsvOptions = {}): Promise<FileListing> {
  let text: string;
  try {
    const st = await stat(csvPath);
    if (!st.isFile()) throw new Error(`${csvPath}: CSV manifest is not a regular file`);
    if (st.size > CSV_MAX_BYTES) throw new Error(`${csvPath}: CSV manifest is ${st.size} bytes, over the ${CSV_MAX_BYTES}-byte limit; split it or check it is the right file`);
    text = await readFile(csvPath, 'utf8');
  } catch (e) {
    if (e instanceof Error && e.message.startsWith(`${csvPath}: CSV manifest`)) throw e;
    throw new Error(`${csvPath}: cannot read CSV manifest: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const recs = parseCsv(text, csvPath);
  if (recs.length === 0) throw new Error(`${csvPath}: empty CSV; expected a header row 'path,label[,split]' and one row per image`);
  const header = recs[0].fields.map((h) => h.trim().toLowerCase());
  const has = `the columns are: ${clip(recs[0].fields.join(', '), 400)}`;
  const named = (what: string, name: string | undefined): number => {
    if (name === undefined) return -1;
    const k = header.indexOf(name.trim().toLowerCase());
    if (k < 0) throw new Error(`${csvPath}: no column '${clip(name)}' (${what}); ${has}`);
    return k;
  };
  const pi = opts.pathColumn !== undefined ? named('--path-column', opts.pathColumn) : header.findIndex((h) => PATH_COLS.includes(h));
  const li = opts.labelColumn !== undefined ? named('--label-column', opts.labelColumn) : header.findIndex((h) => LABEL_COLS.includes(h));
  const si = opts.splitColumn !== undefined ? named('--split-column', opts.splitColumn) : header.indexOf('split');
  const mi = named('--mask-column', opts.maskColumn), gi = named('--group-column', opts.groupColumn);
  const filters = Object.entries(opts.filters ?? {}).map(([col, values]) => ({ col, k: named('--filter', col), values: new Set(values) }));
  if (pi < 0 || li < 0) {
    throw new Error(`${csvPath}: header row '${clip(recs[0].fields.join(','))}' needs a 'path' and a 'label' column (optional 'split'), or name them (--path-column, --label-column); add the header row`);
  }
  const all = recs.slice(1);
  if (all.length === 0) throw new Error(`${csvPath}: no rows after the header`);
  const rows = all.filter((r) => filters.every((f) => f.values.has((r.fields[f.k] ?? '').trim())));
  if (rows.length === 0) throw new Error(`${csvPath}: no row matches ${filters.map((f) => `${f.col}=${[...f.values].join('|')}`).join(' and ')} (of ${all.length} rows)`);
  const base = dirname(resolve(csvPath));
  const at = (r: CsvRecord) => `${csvPath} line ${r.line}`;

  const raw: { rec: CsvRecord; path: string; label: string; split?: string; mask?: string; group?: string }[] = rows.map((r) => {
    const get = (k: number) => (r.fields[k] ?? '').trim();
    if (r.fields.length < header.length) throw new Error(`${at(r)}: ${r.fields.length} fields, header has ${header.length}; check quoting`);
    const path = get(pi), label = get(li);
    if (path === '') throw new Error(`${at(r)}: empty path`);
    if (path.includes('\0')) throw new Error(`${at(r)}: path '${clip(path)}' contains a NUL byte (binary file, or wrong encoding?)`);
    if (label === '') throw new Error(`${at(r)}: empty label for '${clip(path)}'`);
    const mask = mi >= 0 ? get(mi) : undefined, group = gi >= 0 ? get(gi) : undefined;
    if (mask === '') throw new Error(`${at(r)}: empty mask path for '${clip(path)}' (--mask-column ${opts.maskColumn})`);
    if (group === '') throw new Error(`${at(r)}: empty group id for '${clip(path)}' (--group-column ${opts.groupColumn})`);
    return { rec: r, path, label, split: si >= 0 ? get(si) : undefined, mask, group };
  });

  let classNames: string[];
  if (opts.classNames) classNames = [...opts.classNames];
  else {
    const uniq = [...new Set(raw.map((r) => r.label))];
    const numeric = uniq.every((u) => /^\d+$/.test(u));
    classNames = numeric ? uniq.sort((a, b) => Number(a) - Number(b)) : uniq.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  const skipped: { path: string; reason: string }[] = [];
  const items: LabeledFile[] = [];
  for (const r of raw) {
    let label = classNames.indexOf(r.label);
    if (label < 0 && opts.classNames && /^\d+$/.test(r.label) && Number(r.label) < classNames.length) label = Number(r.label);
    if (label < 0) {
      const reason = `unknown label '${clip(r.label)}' (known classes: ${clip(classNames.join(', '), 400)})`;
      if (!opts.skipBad) throw new Error(`${at(r.rec)}: ${reason}; fix the row or the class list`);
      skipped.push({ path: isAbsolute(r.path) ? r.path : resolve(base, r.path), reason: `${reason} at ${at(r.rec)}` });
      continue;
    }
    let split;
    if (r.split !== undefined) {
      split = parseSplitName(r.split);
      if (!split) throw new Error(`${at(r.rec)}: split '${clip(r.split)}' must be train, val or test (fill it in or drop the split column)`);
    }
    const path = isAbsolute(r.path) ? r.path : resolve(base, r.path);
    items.push({
      path, rel: r.path.split('\\').join('/'), label, split, origin: at(r.rec),
      ...(r.mask !== undefined ? { mask: isAbsolute(r.mask) ? r.mask : resolve(base, r.mask) } : {}),
      ...(r.group !== undefined ? { group: r.group } : {}),
    });
  }
  return { kind: 'csv', source: csvPath, classNames, items, hasSplits: si >= 0, ...(skipped.length ? { skipped } : {}) };
}
