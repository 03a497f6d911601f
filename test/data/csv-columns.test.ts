// CSV manifests the way users have them: named path/label/split columns, row filters, a mask
// column, and a group column that keeps each group (a lesion) in one split.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { groupedStratifiedSplit, openDataset, parseCsvFilters, readCsvManifest } from '../../src/data/index.ts';
import { DERM_JPG, DERM_JPG2, tempDir } from './helpers.ts';

const tmp = tempDir();
after(tmp.cleanup);

/** A HAM10000-shaped manifest: image, lesion, label column 'melanoma', split, mask, balanced. */
function hamLike(name: string, rows: { lesion: string; melanoma: string; split?: string; balanced: string }[]): string {
  const root = join(tmp.dir, name);
  mkdirSync(join(root, 'images'), { recursive: true });
  mkdirSync(join(root, 'masks'), { recursive: true });
  const lines = [`path,image_id,lesion_id,dx,melanoma${rows[0]!.split !== undefined ? ',split' : ''},mask,balanced`];
  rows.forEach((r, i) => {
    copyFileSync(i % 2 ? DERM_JPG : DERM_JPG2, join(root, 'images', `ISIC_${i}.jpg`));
    lines.push(`images/ISIC_${i}.jpg,ISIC_${i},${r.lesion},nv,${r.melanoma}${r.split !== undefined ? `,${r.split}` : ''},masks/ISIC_${i}_segmentation.png,${r.balanced}`);
  });
  writeFileSync(join(root, 'split.csv'), lines.join('\n') + '\n');
  return join(root, 'split.csv');
}

test('named label and split columns, a filter, and a mask column', async () => {
  const csv = hamLike('named', [
    { lesion: 'L1', melanoma: 'benign', split: 'train', balanced: '1' },
    { lesion: 'L2', melanoma: 'melanoma', split: 'train', balanced: '1' },
    { lesion: 'L3', melanoma: 'benign', split: 'val', balanced: '0' },
    { lesion: 'L4', melanoma: 'melanoma', split: 'test', balanced: '1' },
  ]);
  const l = await readCsvManifest(csv, { labelColumn: 'melanoma', filters: { balanced: ['1'] }, maskColumn: 'mask' });
  assert.deepEqual(l.classNames, ['benign', 'melanoma']);
  assert.equal(l.items.length, 3);
  assert.deepEqual(l.items.map((x) => x.split), ['train', 'train', 'test']);
  assert.ok(l.items[0]!.mask!.endsWith(join('masks', 'ISIC_0_segmentation.png')));
  const ds = await openDataset(csv, { imageSize: 16, csv: { labelColumn: 'melanoma', maskColumn: 'mask', filters: { balanced: ['1'] } }, split: 'train' });
  assert.equal(ds.size('train'), 2);
  assert.ok(ds.get('train', 0).mask?.endsWith('ISIC_0_segmentation.png'));
  // without naming the label column the manifest has none (melanoma is not a default name)
  await assert.rejects(readCsvManifest(csv), /needs a 'path' and a 'label' column.*--label-column/);
});

test('a column that does not exist, an empty filter match, a bad filter: errors that name them', async () => {
  const csv = hamLike('errors', [{ lesion: 'L1', melanoma: 'benign', split: 'train', balanced: '1' }]);
  await assert.rejects(readCsvManifest(csv, { labelColumn: 'diagnosis_x' }), /no column 'diagnosis_x' \(--label-column\); the columns are: path, image_id, lesion_id/);
  await assert.rejects(readCsvManifest(csv, { labelColumn: 'melanoma', filters: { site: ['arm'] } }), /no column 'site' \(--filter\)/);
  await assert.rejects(readCsvManifest(csv, { labelColumn: 'melanoma', filters: { balanced: ['7'] } }), /no row matches balanced=7 \(of 1 rows\)/);
  assert.deepEqual(parseCsvFilters(['balanced=1', 'dx=nv', 'dx=mel']), { balanced: ['1'], dx: ['nv', 'mel'] });
  assert.throws(() => parseCsvFilters(['balanced']), /must be column=value/);
});

test('a group column keeps every lesion in one split when the CSV has none', async () => {
  const rows = Array.from({ length: 40 }, (_, i) => ({ lesion: `L${Math.floor(i / 2)}`, melanoma: i % 4 < 2 ? 'benign' : 'melanoma', balanced: '1' }));
  const csv = hamLike('grouped', rows);
  const o = { imageSize: 8, csv: { labelColumn: 'melanoma', groupColumn: 'lesion_id' }, splitFractions: [0.6, 0.2, 0.2] as [number, number, number] };
  const ds = await openDataset(csv, o);
  const lesionOf = (p: string) => rows[Number(/ISIC_(\d+)/.exec(p)![1])]!.lesion;
  const where = new Map<string, string>();
  for (const s of ['train', 'val', 'test'] as const) {
    for (let i = 0; i < ds.size(s); i++) {
      const g = lesionOf(ds.get(s, i).path!);
      assert.ok(!where.has(g) || where.get(g) === s, `lesion ${g} in ${where.get(g)} and ${s}`);
      where.set(g, s);
    }
  }
  assert.equal(ds.size('train') + ds.size('val') + ds.size('test'), 40);
  for (const s of ['val', 'test'] as const) assert.deepEqual(ds.counts(s).map((c) => c > 0), [true, true], `${s} has both classes`);
  // deterministic for the seed; another seed draws another split
  const again = await openDataset(csv, o);
  assert.equal(again.fingerprint, ds.fingerprint);
  const other = await openDataset(csv, { ...o, seed: 1 });
  assert.notEqual(other.fingerprint, ds.fingerprint);
});

test('groupedStratifiedSplit: groups intact, every image once, sizes near the fractions (property)', () => {
  fc.assert(fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 1, max: 4 })), { minLength: 30, maxLength: 120 }), fc.integer({ min: 0, max: 1000 }), (spec, seed) => {
    const labels: number[] = [], groups: string[] = [];
    spec.forEach(([label, size], g) => { for (let k = 0; k < size; k++) { labels.push(label); groups.push(`g${g}`); } });
    const parts = groupedStratifiedSplit(labels, groups, { seed, fractions: [0.8, 0.1, 0.1] });
    const all = [...parts.train, ...parts.val, ...parts.test].sort((a, b) => a - b);
    assert.deepEqual(all, labels.map((_, i) => i));
    const splitOf = new Map<string, string>();
    for (const [name, idx] of Object.entries(parts)) for (const i of idx) {
      const prev = splitOf.get(groups[i]!);
      assert.ok(prev === undefined || prev === name);
      splitOf.set(groups[i]!, name);
    }
    // each split within a few groups (≤ 4 images each, 3 labels) of its share
    assert.ok(Math.abs(parts.val.length - 0.1 * labels.length) <= 3 * 4 + 1, `val ${parts.val.length} of ${labels.length}`);
  }), { numRuns: 200, seed: 7 });
});
