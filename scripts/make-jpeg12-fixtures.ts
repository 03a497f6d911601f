/**
 * Rebuild test/data/fixtures/jpeg12/: JPEG DCT-sequential codestreams made by independent
 * encoders, with the decoded pixels of independent decoders, for test/data/jpeg-extended.test.ts.
 * The images are synthetic (drawn below), so there is no licence or privacy question.
 *
 *   node --import tsx scripts/make-jpeg12-fixtures.ts /path/to/dcmtk-3.6.7-source
 *
 * Needs (this machine, not CI): DCMTK 3.6.7 command-line tools (dcmcjpeg, dcmdjpeg) and runtime
 * (libijg12.so.17), gcc, the 8-bit libjpeg development files (libjpeg62-turbo-dev), and a DCMTK
 * 3.6.7 source tree (git tag DCMTK-3.6.7) for the libijg12 headers: dcmcjpeg cannot write restart
 * markers, several scans or chosen sampling factors, so scripts/make-jpeg12-fixtures.c drives
 * DCMTK's own 12-bit IJG library for those.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from '../src/util/index.ts';
import { makeDicom, tempDir, TS } from '../test/data/helpers.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const OUT = join(ROOT, 'test/data/fixtures/jpeg12');
const src = process.argv[2];
if (!src) throw new Error('usage: node --import tsx scripts/make-jpeg12-fixtures.ts <DCMTK 3.6.7 source tree> (for dcmjpeg/libijg12/*.h)');

const tmp = tempDir('meddiff-jpeg12-');
const run = (cmd: string, args: string[]) => execFileSync(cmd, args, { cwd: tmp.dir, stdio: ['ignore', 'pipe', 'inherit'] }).toString();
const t = (name: string) => join(tmp.dir, name);
const put = (name: string, data: Uint8Array) => writeFileAtomic(join(OUT, name), data);
const bytes = (a: Uint16Array | Uint8Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

// ---------------------------------------------------------------- build the IJG helper twice
const inc = t('inc');
mkdirSync(join(inc, 'dcmtk/ofstd'), { recursive: true });
for (const h of ['jpeglib12.h', 'jmorecfg12.h', 'jerror12.h']) copyFileSync(join(src, 'dcmjpeg/libijg12', h), join(inc, h));
// Stand-ins for DCMTK's generated configuration headers (what the installed library was built with on Linux).
writeFileSync(join(inc, 'jconfig12.h'), '#define HAVE_PROTOTYPES\n#define HAVE_UNSIGNED_CHAR\n#define HAVE_UNSIGNED_SHORT\n#define NEED_SHORT_EXTERNAL_NAMES\n');
writeFileSync(join(inc, 'dcmtk/ofstd/ofexport.h'), '#define DCMTK_DECL_EXPORT\n#define DCMTK_DECL_IMPORT\n');
const csrc = join(ROOT, 'scripts/make-jpeg12-fixtures.c');
run('gcc', ['-O1', '-DIJG12', `-I${inc}`, '-o', t('ijg12'), csrc, '/usr/lib/x86_64-linux-gnu/libijg12.so.17']);
run('gcc', ['-O1', '-o', t('ijg8'), csrc, '-ljpeg']);

// ---------------------------------------------------------------- DICOM byte helpers
/** The fragments of the first frame of encapsulated pixel data, concatenated (offset table skipped). */
function fragments(dcm: Uint8Array): Uint8Array {
  const dv = new DataView(dcm.buffer, dcm.byteOffset, dcm.byteLength);
  let p = lastTag(dcm) + 12; // tag, VR OB, reserved, undefined length
  const parts: Uint8Array[] = [];
  for (let first = true; dv.getUint16(p, true) === 0xfffe && dv.getUint16(p + 2, true) === 0xe000; first = false) {
    const len = dv.getUint32(p + 4, true);
    if (!first) parts.push(dcm.subarray(p + 8, p + 8 + len));
    p += 8 + len;
  }
  let all = Uint8Array.from(parts.flatMap((x) => [...x]));
  if (all.length > 2 && all[all.length - 1] === 0 && all[all.length - 2] === 0xd9) all = all.subarray(0, all.length - 1); // even-length pad
  return all;
}
/** Native (uncompressed, explicit VR little endian) pixel data. */
function nativePixels(dcm: Uint8Array): Uint8Array {
  const p = lastTag(dcm), len = new DataView(dcm.buffer, dcm.byteOffset).getUint32(p + 8, true);
  return dcm.slice(p + 12, p + 12 + len);
}
function lastTag(dcm: Uint8Array): number {
  for (let i = dcm.length - 8; i >= 132; i--) if (dcm[i] === 0xe0 && dcm[i + 1] === 0x7f && dcm[i + 2] === 0x10 && dcm[i + 3] === 0) return i;
  throw new Error('no (7FE0,0010) pixel data element');
}
/** DCMTK's decode of a codestream: wrap it as JPEG extended DICOM, run dcmdjpeg, read the pixels back. */
function dcmdjpeg(jpeg: Uint8Array, rows: number, cols: number): Uint8Array {
  writeFileSync(t('wrap.dcm'), makeDicom({ rows, cols, pixels: [], bitsAllocated: 16, bitsStored: 12, transferSyntax: TS.jpegExtended, encapsulated: [[jpeg]] }));
  run('dcmdjpeg', ['wrap.dcm', 'wrap-dec.dcm']);
  return nativePixels(readFileSync(t('wrap-dec.dcm')));
}

// ---------------------------------------------------------------- images
/** Smooth 12-bit gradient with two sharp edges (a bright square and a dark bar), values in [0, 4095]. */
function gray12(W: number, H: number): Uint16Array {
  const px = new Uint16Array(W * H);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      let v = 1200 + 900 * Math.sin(x / 11) * Math.cos(y / 9) + 12 * x;
      if (x >= 20 && x < 36 && y >= 12 && y < 28) v += 1500;
      if (y >= 38 && y < 42) v = 150;
      px[y * W + x] = Math.max(0, Math.min(4095, Math.round(v)));
    }
  }
  return px;
}
/** Smooth 3-component samples (as if YCbCr) with an edge, `max` = 2^P - 1. */
function colour(W: number, H: number, max: number): Uint16Array {
  const px = new Uint16Array(W * H * 3);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      for (let c = 0; c < 3; c++) {
        const v = 0.5 + 0.35 * Math.sin(x / 7 + 2 * c) * Math.cos(y / 6 - c) + (x > 22 && c === 0 ? 0.1 : 0);
        px[(y * W + x) * 3 + c] = Math.round(v * max);
      }
    }
  }
  return px;
}

// ---------------------------------------------------------------- 12-bit gray through dcmcjpeg / dcmdjpeg
const GW = 64, GH = 48;
const g = gray12(GW, GH);
put('gray12.orig.bin', bytes(g));
writeFileSync(t('gray.dcm'), makeDicom({ rows: GH, cols: GW, pixels: g, bitsAllocated: 16, bitsStored: 12 }));
run('dcmcjpeg', ['+ee', '+q', '90', '+sr', 'gray.dcm', 'gray-ee.dcm']);
const q90 = fragments(readFileSync(t('gray-ee.dcm')));
if (q90[0] !== 0xff || q90[1] !== 0xd8) throw new Error('dcmcjpeg output: no JPEG codestream in the pixel data');
put('gray12-q90.jpg', q90);
run('dcmdjpeg', ['gray-ee.dcm', 'gray-ee-dec.dcm']);
put('gray12-q90.dcmtk.bin', nativePixels(readFileSync(t('gray-ee-dec.dcm'))));

// The same image with a restart interval of 5 MCUs, through DCMTK's libijg12; decoded by dcmdjpeg.
writeFileSync(t('gray.raw'), bytes(g));
run(t('ijg12'), ['enc', String(GW), String(GH), '1', '90', '5', '11', '0', 'gray.raw', 'gray-rst.jpg']);
const rst = new Uint8Array(readFileSync(t('gray-rst.jpg')));
put('gray12-rst.jpg', rst);
put('gray12-rst.dcmtk.bin', dcmdjpeg(rst, GH, GW));

// ---------------------------------------------------------------- colour and 8-bit through the IJG helper
const CW = 34, CH = 21;
const cases: { name: string; prec: 8 | 12; samp: string; multi: number; rst: number; q: number }[] = [
  { name: 'ybr12-420-rst', prec: 12, samp: '22,11,11', multi: 0, rst: 2, q: 85 }, // interleaved, subsampled chroma
  { name: 'ybr12-444-scans', prec: 12, samp: '11,11,11', multi: 1, rst: 7, q: 85 }, // one scan per component
  { name: 'ycc8-422-rst', prec: 8, samp: '21,11,11', multi: 0, rst: 3, q: 80 },
  { name: 'gray8-rst', prec: 8, samp: '11', multi: 0, rst: 4, q: 80 },
];
for (const c of cases) {
  const spp = c.name.startsWith('gray') ? 1 : 3;
  const max = (1 << c.prec) - 1;
  const px = spp === 1 ? gray12(CW, CH).map((v) => (v * max) / 4095) : colour(CW, CH, max);
  writeFileSync(t('in.raw'), c.prec === 8 ? Uint8Array.from(px) : bytes(px));
  const tool = t(c.prec === 8 ? 'ijg8' : 'ijg12');
  run(tool, ['enc', String(CW), String(CH), String(spp), String(c.q), String(c.rst), c.samp, String(c.multi), 'in.raw', `${c.name}.jpg`]);
  run(tool, ['dec', `${c.name}.jpg`, `${c.name}.raw`]);
  put(`${c.name}.jpg`, readFileSync(t(`${c.name}.jpg`)));
  put(`${c.name}.ijg.bin`, readFileSync(t(`${c.name}.raw`)));
}
console.log(`fixtures written to ${OUT}; ${run('dcmcjpeg', ['--version']).split('\n')[0]}`);
tmp.cleanup();
