/**
 * Image folders: root/<class>/**.{png,jpg,...} or, pre-split, root/{train,val,test}/<class>/...
 * Class names are the folder names, sorted, so label indices are stable across machines.
 */
import { readdir, stat } from 'node:fs/promises';
import { join, relative, extname } from 'node:path';
import { IMAGE_EXTENSIONS } from './decode.ts';
import { parseSplitName, type SplitName } from './split.ts';

export interface LabeledFile {
  /** Path as given or resolved (openable). */
  path: string;
  /** Path relative to the source root, with '/' separators (used for fingerprints). */
  rel: string;
  label: number;
  split?: SplitName;
  /** Where it came from, for error messages (e.g. 'labels.csv line 7'). */
  origin?: string;
  /** A mask image for it (CSV --mask-column). */
  mask?: string;
  /** Its group (CSV --group-column): splits drawn here keep a group together. */
  group?: string;
}

export interface FileListing {
  kind: 'folder' | 'csv';
  source: string;
  classNames: string[];
  items: LabeledFile[];
  /** True when the source assigns splits (split folders or a split column). */
  hasSplits: boolean;
  /** Entries left out with skipBad (a label outside the class list), with the reason. */
  skipped?: { path: string; reason: string }[];
}

export interface ScanOptions {
  /** Fix the class order (e.g. to match a trained model); folders must be among these names. */
  classNames?: string[];
  /** Leave out class folders outside classNames (listed in `skipped`) instead of throwing. */
  skipBad?: boolean;
}

const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0); // code-point order: locale-independent

async function subdirs(dir: string): Promise<string[]> {
  const ents = await readdir(dir, { withFileTypes: true });
  return ents.filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name).sort(byName);
}

/** All image files below dir (recursive), sorted; hidden files and other extensions are ignored. */
async function listImages(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    const ents = (await readdir(d, { withFileTypes: true })).sort((a, b) => byName(a.name, b.name));
    for (const e of ents) {
      if (e.name.startsWith('.')) continue;
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (IMAGE_EXTENSIONS.includes(extname(e.name).toLowerCase())) out.push(p);
    }
  };
  await walk(dir);
  return out;
}

export async function scanImageFolder(root: string, opts: ScanOptions = {}): Promise<FileListing> {
  let st;
  try { st = await stat(root); } catch { throw new Error(`${root}: dataset folder not found`); }
  if (!st.isDirectory()) throw new Error(`${root}: not a folder (expected root/<class>/<images>)`);
  const top = await subdirs(root);
  const exts = IMAGE_EXTENSIONS.join(', ');
  if (top.length === 0) throw new Error(`${root}: no class folders; expected root/<class>/*.{${exts.replace(/\./g, '')}}`);

  // Pre-split layout only when every top folder is a split name (a class called 'test' stays a class otherwise).
  const splitLayout = top.every((d) => parseSplitName(d) !== undefined);
  const groups: { dir: string; split?: SplitName }[] = splitLayout
    ? top.map((d) => ({ dir: join(root, d), split: parseSplitName(d) }))
    : [{ dir: root }];

  const perClass: { cls: string; split?: SplitName; files: string[] }[] = [];
  for (const g of groups) {
    const classes = await subdirs(g.dir);
    if (classes.length === 0) throw new Error(`${g.dir}: no class folders inside; expected ${g.dir}/<class>/<images>`);
    for (const cls of classes) {
      const dir = join(g.dir, cls);
      const files = await listImages(dir);
      if (files.length === 0) throw new Error(`${dir}: class folder is empty (no ${exts} files); add images or remove the folder`);
      perClass.push({ cls, split: g.split, files });
    }
  }

  const found = [...new Set(perClass.map((p) => p.cls))].sort(byName);
  const classNames = opts.classNames ? [...opts.classNames] : found;
  const skipped: { path: string; reason: string }[] = [];
  for (const c of found) {
    if (!classNames.includes(c)) {
      const reason = `folder '${c}' is not one of the expected classes (${classNames.join(', ')})`;
      if (!opts.skipBad) throw new Error(`${join(root, c)}: ${reason}; rename or remove it`);
      for (const p of perClass) if (p.cls === c) for (const f of p.files) skipped.push({ path: f, reason });
    }
  }
  const items: LabeledFile[] = [];
  for (const p of perClass) {
    const label = classNames.indexOf(p.cls);
    if (label < 0) continue;
    for (const f of p.files) items.push({ path: f, rel: relative(root, f).split('\\').join('/'), label, split: p.split });
  }
  return { kind: 'folder', source: root, classNames, items, hasSplits: splitLayout, ...(skipped.length ? { skipped } : {}) };
}
