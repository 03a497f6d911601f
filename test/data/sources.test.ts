import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openDataset, parseCsv, scanImageFolder, readCsvManifest } from '../../src/data/index.ts';
import { CXR_PNG, CXR_PNG2, DERM_JPG, DERM_JPG2, PNEUMONIA, BREAST, makeDicom, tempDir } from './helpers.ts';

const tmp = tempDir();
after(tmp.cleanup);

/** root/cxr/{a.png,b.png,c.dcm}, root/derm/{a.jpg,b.jpg}. */
function makeFolder(name: string): string {
  const root = join(tmp.dir, name);
  mkdirSync(join(root, 'cxr', 'sub'), { recursive: true });
  mkdirSync(join(root, 'derm'), { recursive: true });
  copyFileSync(CXR_PNG, join(root, 'cxr', 'a.png'));
  copyFileSync(CXR_PNG2, join(root, 'cxr', 'sub', 'b.PNG'));
  writeFileSync(join(root, 'cxr', 'c.dcm'), makeDicom({ rows: 4, cols: 4, pixels: Array.from({ length: 16 }, (_, i) => i * 100) }));
  copyFileSync(DERM_JPG, join(root, 'derm', 'a.jpg'));
  copyFileSync(DERM_JPG2, join(root, 'derm', 'b.jpeg'));
  writeFileSync(join(root, 'derm', 'notes.txt'), 'ignored');
  writeFileSync(join(root, 'derm', '.DS_Store'), 'ignored');
  return root;
}

test('folder: classes sorted, PNG/JPEG/DICOM read, channels from the first file', async () => {
  const root = makeFolder('f1');
  const listing = await scanImageFolder(root);
  assert.deepEqual(listing.classNames, ['cxr', 'derm']);
  assert.deepEqual(listing.items.map((i) => `${i.rel}=${i.label}`), ['cxr/a.png=0', 'cxr/c.dcm=0', 'cxr/sub/b.PNG=0', 'derm/a.jpg=1', 'derm/b.jpeg=1']);
  const ds = await openDataset(root, { imageSize: 32, split: 'train', splitFractions: [1, 0, 0] });
  assert.equal(ds.kind, 'folder');
  assert.equal(ds.channels, 1);
  assert.equal(ds.size('train'), 5);
  for (let i = 0; i < 5; i++) {
    const s = ds.get('train', i);
    assert.equal(s.image.length, 32 * 32);
    assert.ok(s.image.every((v) => v >= -1 && v <= 1));
  }
  assert.deepEqual(ds.counts('train'), [3, 2]);
  const rgb = await openDataset(root, { imageSize: 16, channels: 3, splitFractions: [1, 0, 0] });
  assert.deepEqual(rgb.split('train').shape, [16, 16, 3]);
  assert.equal(rgb.fingerprint, ds.fingerprint, 'fingerprint is about the data, not preprocessing');
});

test('folder: empty class folder, missing root and the train/val/test layout', async () => {
  const root = join(tmp.dir, 'f2');
  mkdirSync(join(root, 'normal'), { recursive: true });
  mkdirSync(join(root, 'pneumonia'), { recursive: true });
  copyFileSync(CXR_PNG, join(root, 'normal', 'x.png'));
  writeFileSync(join(root, 'pneumonia', 'readme.txt'), 'no images here');
  await assert.rejects(openDataset(root), new RegExp(`${join(root, 'pneumonia')}: class folder is empty`));
  await assert.rejects(openDataset(join(tmp.dir, 'nope')), /nope: dataset not found/);

  const pre = join(tmp.dir, 'f3');
  for (const s of ['train', 'test']) for (const c of ['a', 'b']) {
    mkdirSync(join(pre, s, c), { recursive: true });
    copyFileSync(CXR_PNG2, join(pre, s, c, 'x.png'));
  }
  const ds = await openDataset(pre, { imageSize: 8 });
  assert.deepEqual(ds.classNames, ['a', 'b']);
  assert.deepEqual([ds.size('train'), ds.size('val'), ds.size('test')], [2, 0, 2]);
  await assert.rejects(openDataset(pre, { classNames: ['a', 'c'] }), /folder 'b' is not one of the expected classes \(a, c\)/);
});

test('folder: a corrupt file throws naming it, or is skipped and counted with skipBad', async () => {
  const root = makeFolder('f4');
  const bad = join(root, 'derm', 'broken.jpg');
  writeFileSync(bad, 'garbage, not a jpeg');
  await assert.rejects(openDataset(root, { imageSize: 8 }), (e: Error) => e.message.startsWith(`${bad}: cannot decode image`));
  const warnings: string[] = [];
  const ds = await openDataset(root, { imageSize: 8, skipBad: true, onWarning: (m) => warnings.push(m), splitFractions: [1, 0, 0] });
  assert.equal(ds.skipped.length, 1);
  assert.equal(ds.skipped[0].path, bad);
  assert.match(ds.skipped[0].reason, /cannot decode image/);
  // the other notices (colour JPEGs made gray, the 4² DICOM scaled up) come once each, not per file
  const skips = warnings.filter((w) => w.startsWith('skipping'));
  assert.equal(skips.length, 1);
  assert.match(skips[0], /skipping .*broken\.jpg/);
  assert.equal(ds.size('train'), 5);
});

test('csv: parser handles quotes, escaped quotes, CRLF, BOM and blank lines', () => {
  const recs = parseCsv('\ufeffpath,label\r\n"a, b.png",x\r\n\r\n"say ""hi"".png","multi\nline"\nlast.png,y');
  assert.deepEqual(recs.map((r) => r.fields), [['path', 'label'], ['a, b.png', 'x'], ['say "hi".png', 'multi\nline'], ['last.png', 'y']]);
  assert.deepEqual(recs.map((r) => r.line), [1, 2, 4, 6]);
  assert.throws(() => parseCsv('path,label\n"open,x', 'u.csv'), /u\.csv: unterminated quoted field starting on line 2/);
});

test('csv: manifest with relative, quoted paths and a split column', async () => {
  const dir = join(tmp.dir, 'c1');
  mkdirSync(join(dir, 'img'), { recursive: true });
  copyFileSync(CXR_PNG, join(dir, 'img', 'chest, one.png'));
  copyFileSync(CXR_PNG2, join(dir, 'img', 'chest2.png'));
  copyFileSync(DERM_JPG, join(dir, 'img', 'skin.jpg'));
  const csv = join(dir, 'labels.csv');
  writeFileSync(csv, 'path,label,split\n"img/chest, one.png",normal,train\nimg/chest2.png,pneumonia,test\nimg/skin.jpg,normal,val\n');
  const ds = await openDataset(csv, { imageSize: 16, channels: 1 });
  assert.equal(ds.kind, 'csv');
  assert.deepEqual(ds.classNames, ['normal', 'pneumonia']);
  assert.deepEqual([ds.size('train'), ds.size('val'), ds.size('test')], [1, 1, 1]);
  assert.equal(ds.get('test', 0).label, 1);
  assert.equal(ds.get('train', 0).path, join(dir, 'img', 'chest, one.png'));
  // A fixed class list maps names (or indices) to that order.
  const fixed = await readCsvManifest(csv, { classNames: ['pneumonia', 'normal'] });
  assert.deepEqual(fixed.items.map((i) => i.label), [1, 0, 1]);
});

test('csv: unknown label, missing file, bad header and bad split give errors naming the problem', async () => {
  const dir = join(tmp.dir, 'c2');
  mkdirSync(dir, { recursive: true });
  copyFileSync(CXR_PNG, join(dir, 'a.png'));
  const csv = join(dir, 'm.csv');
  writeFileSync(csv, 'path,label\na.png,normal\na.png,pneumonia\na.png,covid\n');
  await assert.rejects(openDataset(csv, { classNames: ['normal', 'pneumonia'] }),
    { message: `${csv} line 4: unknown label 'covid' (known classes: normal, pneumonia); fix the row or the class list` });

  writeFileSync(csv, 'path,label\na.png,normal\nmissing.png,normal\n');
  await assert.rejects(openDataset(csv, { splitFractions: [1, 0, 0] }),
    (e: Error) => e.message.startsWith(`${join(dir, 'missing.png')}: file not found`) && e.message.includes(`${csv} line 3`));
  const ds = await openDataset(csv, { splitFractions: [1, 0, 0], skipBad: true, onWarning: () => {} });
  assert.deepEqual(ds.skipped.map((s) => s.path), [join(dir, 'missing.png')]);
  assert.equal(ds.size('train'), 1);

  writeFileSync(csv, 'file_name,diag\na.png,normal\n');
  await assert.rejects(openDataset(csv), /needs a 'path' and a 'label' column/);
  writeFileSync(csv, 'path,label,split\na.png,normal,holdout\n');
  await assert.rejects(openDataset(csv), /m\.csv line 2: split 'holdout' must be train, val or test/);
  await assert.rejects(openDataset(join(dir, 'a.txt')), /cannot tell the dataset type|dataset not found/);
});

test('dataset: npz via openDataset — sizes, padding, balance, split selection, fingerprint', async () => {
  const ds = await openDataset(PNEUMONIA, { imageSize: 32 });
  assert.deepEqual(ds.classNames, ['normal', 'pneumonia']);
  assert.deepEqual([ds.size('train'), ds.size('val'), ds.size('test')], [4708, 524, 624]);
  assert.deepEqual(ds.counts('test'), [234, 390]);
  const s = ds.get('train', 0);
  assert.equal(s.image.length, 32 * 32);
  assert.equal(s.image[0], -1);
  assert.match(ds.fingerprint, /^[0-9a-f]{16}$/);
  assert.equal((await openDataset(PNEUMONIA, { imageSize: 64 })).fingerprint, ds.fingerprint);
  assert.notEqual((await openDataset(BREAST)).fingerprint, ds.fingerprint);

  const bal = await openDataset(PNEUMONIA, { balance: 'undersample', seed: 3, split: ['train', 'test'] });
  assert.deepEqual(bal.counts('train'), [1214, 1214]);
  assert.deepEqual(bal.counts('test'), [234, 390], 'test is never resampled');
  assert.throws(() => bal.size('val'), /split 'val' was not loaded/);
  const over = await openDataset(BREAST, { balance: 'oversample', channels: 3, split: 'train' });
  assert.deepEqual(over.counts('train'), [399, 399]);
  assert.equal(over.split('train').distinct, 546, 'distinct images behind the over-sampled split');
  assert.equal(over.size('train'), 798);
  assert.equal(bal.split('test').distinct, bal.size('test'));
  assert.equal(over.get('train', 0).image.length, 32 * 32 * 3);
});
