/**
 * JPEG DCT-based sequential Huffman decoding, 8 and 12 bits (ITU-T T.81 processes 1, 2 and 4;
 * DICOM 1.2.840.10008.1.2.4.50 and .51). The 8-bit WebAssembly libjpeg-turbo cannot decode the
 * 12-bit extended process that CT/MR exports use, so this is a small decoder in plain TypeScript.
 *
 * Supported: SOF0 / SOF1, precision 8 or 12, 1–4 components with any sampling factors (subsampled
 * components are upsampled by replication), 8- and 16-bit DQT, DHT, DRI with RSTn markers, APPn /
 * COM skipped, and several scans (e.g. one per component, non-interleaved). Progressive,
 * lossless, hierarchical and arithmetic-coded streams are refused by name.
 *
 * Components are returned as decoded (YCbCr stays YCbCr): the caller converts colour according to
 * the DICOM PhotometricInterpretation (YBR_FULL, YBR_FULL_422, RGB), not according to JFIF guesses.
 *
 * Every read is checked against the data length and every malformed stream throws CodecError.
 */
import { CodecError, type CodecFrame } from './external.ts';

/** Largest width × height × components decoded; larger frames are refused before allocating. */
export const MAX_JPEG_SAMPLES = 2 ** 28;

const SOF_NAMES: Record<number, string> = {
  0xc2: 'SOF2 (progressive DCT, Huffman)', 0xc3: 'SOF3 (lossless, Huffman: use the JPEG lossless decoder)',
  0xc5: 'SOF5 (differential sequential DCT, hierarchical)', 0xc6: 'SOF6 (differential progressive DCT, hierarchical)',
  0xc7: 'SOF7 (differential lossless, hierarchical)', 0xc9: 'SOF9 (extended sequential DCT, arithmetic)',
  0xca: 'SOF10 (progressive DCT, arithmetic)', 0xcb: 'SOF11 (lossless, arithmetic)',
  0xcd: 'SOF13 (differential sequential DCT, arithmetic)', 0xce: 'SOF14 (differential progressive DCT, arithmetic)',
  0xcf: 'SOF15 (differential lossless, arithmetic)',
};

/** Zig-zag index → natural (row-major) index of the 8×8 block (T.81 Figure A.6). */
const ZIGZAG = Uint8Array.from([
  0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21,
  28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61,
  54, 47, 55, 62, 63,
]);

/** IDCT basis: COS[x * 8 + u] = C(u) / 2 · cos((2x + 1) u π / 16), C(0) = 1/√2 (T.81 A.3.3). */
const COS = new Float64Array(64);
for (let x = 0; x < 8; x++) {
  for (let u = 0; u < 8; u++) COS[x * 8 + u] = (u === 0 ? Math.SQRT1_2 : 1) / 2 * Math.cos(((2 * x + 1) * u * Math.PI) / 16);
}

interface Huffman { maxcode: Int32Array; valptr: Int32Array; mincode: Int32Array; values: Uint8Array }

interface Component {
  id: number; h: number; v: number; tq: number;
  /** Blocks covering the component's own (subsampled) size, and the padded plane they are written to. */
  blocksX: number; blocksY: number; planeW: number; plane: Uint16Array | null;
  done: boolean;
}

interface Frame {
  marker: number; precision: number; width: number; height: number;
  hmax: number; vmax: number; mcusX: number; mcusY: number; comps: Component[];
}

/** Build the DECODE tables of T.81 F.2.2.3 from BITS and HUFFVAL, refusing codes that overflow. */
function buildHuffman(counts: Uint8Array, values: Uint8Array, where: string): Huffman {
  const maxcode = new Int32Array(18).fill(-1), valptr = new Int32Array(17), mincode = new Int32Array(17);
  let code = 0, k = 0;
  for (let l = 1; l <= 16; l++) {
    valptr[l] = k;
    mincode[l] = code;
    code += counts[l - 1];
    k += counts[l - 1];
    if (counts[l - 1] > 0) maxcode[l] = code - 1;
    if (code > 1 << l) throw new CodecError(`JPEG ${where}: the Huffman table has more codes of length ≤ ${l} than fit (corrupt DHT)`);
    code <<= 1;
  }
  maxcode[17] = 0x7fffffff; // sentinel
  return { maxcode, valptr, mincode, values };
}

/** Bit reader over one scan's entropy-coded segment: unstuffs FF 00, stops at markers. */
class Bits {
  pos: number; private buf = 0; private count = 0;
  constructor(private data: Uint8Array, start: number) { this.pos = start; }

  bit(): number {
    if (this.count === 0) {
      const d = this.data;
      if (this.pos >= d.length) throw new CodecError('JPEG data ends inside a scan (truncated codestream)');
      const b = d[this.pos];
      if (b === 0xff) {
        const next = d[this.pos + 1];
        if (next === undefined) throw new CodecError('JPEG data ends inside a scan (truncated codestream)');
        if (next !== 0) throw new CodecError(`JPEG scan ends early at marker FF${hex(next)} (offset ${this.pos}): the entropy-coded data is truncated or corrupt`);
        this.pos += 2;
      } else this.pos += 1;
      this.buf = b;
      this.count = 8;
    }
    this.count--;
    return (this.buf >> this.count) & 1;
  }

  /** RECEIVE(s) and EXTEND (T.81 F.2.2.1): s bits as a signed value. */
  receiveExtend(s: number): number {
    if (s === 0) return 0;
    let v = 0;
    for (let i = 0; i < s; i++) v = (v << 1) | this.bit();
    return v < 1 << (s - 1) ? v - (1 << s) + 1 : v;
  }

  decode(t: Huffman): number {
    let code = this.bit(), l = 1;
    while (code > t.maxcode[l]) {
      code = (code << 1) | this.bit();
      if (++l > 16) throw new CodecError('JPEG scan holds a Huffman code that is in no table (corrupt entropy-coded data)');
    }
    return t.values[t.valptr[l] + code - t.mincode[l]];
  }

  /** Drop the bits left in the current byte (before a restart marker or at the end of a scan). */
  align(): void { this.count = 0; }
}

const hex = (n: number) => n.toString(16).toUpperCase().padStart(2, '0');

/** Decode one sequential DCT JPEG codestream (SOF0 / SOF1, 8 or 12 bits); see the file comment. */
export function decodeJpegExtended(data: Uint8Array): CodecFrame {
  const u16 = (p: number) => {
    if (p + 2 > data.length) throw new CodecError(`JPEG data ends at byte ${data.length} inside a marker segment (truncated codestream)`);
    return (data[p] << 8) | data[p + 1];
  };
  if (data.length < 2 || data[0] !== 0xff || data[1] !== 0xd8) throw new CodecError('not a JPEG codestream: it does not start with the SOI marker FFD8');
  const quant: (Int32Array | null)[] = [null, null, null, null];
  const dcTables: (Huffman | null)[] = [null, null, null, null], acTables: (Huffman | null)[] = [null, null, null, null];
  let frame: Frame | null = null, restartInterval = 0, pos = 2;

  for (;;) {
    // Between segments: skip fill bytes, tolerate stray bytes after a scan's padding (as libjpeg does).
    while (pos < data.length && (data[pos] !== 0xff || pos + 1 >= data.length || data[pos + 1] === 0xff || data[pos + 1] === 0)) pos++;
    if (pos + 1 >= data.length) {
      if (frame && frame.comps.every((c) => c.done)) break; // a missing EOI after a complete image is tolerated
      throw new CodecError(frame ? 'JPEG data ends before every component was decoded (truncated codestream, no EOI)' : 'JPEG data ends before a frame header (SOF) was found (truncated codestream)');
    }
    const marker = data[pos + 1];
    pos += 2;
    if (marker === 0xd9) break; // EOI
    if (marker >= 0xd0 && marker <= 0xd7) continue; // a stray RSTn between segments carries nothing
    const len = u16(pos);
    if (len < 2 || pos + len > data.length) throw new CodecError(`JPEG marker FF${hex(marker)} at byte ${pos - 2} declares ${len} bytes, past the end of the ${data.length}-byte codestream (truncated or corrupt)`);
    const end = pos + len;
    const body = pos + 2;
    pos = end;
    if (marker === 0xc0 || marker === 0xc1) {
      if (frame) throw new CodecError('JPEG codestream has a second frame header (SOF): only one frame is supported');
      frame = parseFrame(data, body, end, marker);
    } else if (SOF_NAMES[marker]) {
      throw new CodecError(`JPEG process not supported: ${SOF_NAMES[marker]}; only SOF0 (baseline) and SOF1 (extended sequential, Huffman) are decoded here`);
    } else if (marker === 0xcc) {
      throw new CodecError('JPEG codestream uses arithmetic coding (DAC marker FFCC): not supported');
    } else if (marker === 0xde || marker === 0xdf) {
      throw new CodecError(`JPEG codestream is hierarchical (${marker === 0xde ? 'DHP' : 'EXP'} marker FF${hex(marker)}): not supported`);
    } else if (marker === 0xdb) {
      for (let p = body; p < end;) {
        const pq = data[p] >> 4, tq = data[p] & 15;
        if (pq > 1 || tq > 3) throw new CodecError(`JPEG DQT: precision ${pq} / table ${tq} invalid (allowed: precision 0 or 1, tables 0–3)`);
        const n = 64 * (pq + 1);
        if (p + 1 + n > end) throw new CodecError('JPEG DQT segment is shorter than its tables (corrupt)');
        const q = new Int32Array(64);
        for (let k = 0; k < 64; k++) q[k] = pq ? (data[p + 1 + 2 * k] << 8) | data[p + 2 + 2 * k] : data[p + 1 + k];
        quant[tq] = q;
        p += 1 + n;
      }
    } else if (marker === 0xc4) {
      for (let p = body; p < end;) {
        if (p + 17 > end) throw new CodecError('JPEG DHT segment is shorter than its table header (corrupt)');
        const tc = data[p] >> 4, th = data[p] & 15;
        if (tc > 1 || th > 3) throw new CodecError(`JPEG DHT: class ${tc} / table ${th} invalid (allowed: class 0 DC or 1 AC, tables 0–3)`);
        const counts = data.subarray(p + 1, p + 17);
        const total = counts.reduce((a, b) => a + b, 0);
        if (total > 256 || p + 17 + total > end) throw new CodecError(`JPEG DHT: table of ${total} codes does not fit its segment (corrupt)`);
        const t = buildHuffman(counts, data.slice(p + 17, p + 17 + total), 'DHT');
        (tc === 0 ? dcTables : acTables)[th] = t;
        p += 17 + total;
      }
    } else if (marker === 0xdd) {
      if (len !== 4) throw new CodecError(`JPEG DRI segment has length ${len}, expected 4 (corrupt)`);
      restartInterval = u16(body);
    } else if (marker === 0xda) {
      if (!frame) throw new CodecError('JPEG scan (SOS) comes before the frame header (SOF0/SOF1): corrupt codestream');
      pos = decodeScan(data, body, end, frame, quant, dcTables, acTables, restartInterval);
    } else if (marker === 0xdc) {
      throw new CodecError('JPEG DNL marker (height defined after the first scan) is not supported');
    } else if (!((marker >= 0xe0 && marker <= 0xef) || marker === 0xfe)) {
      throw new CodecError(`JPEG codestream holds unexpected marker FF${hex(marker)} at byte ${body - 4} (corrupt)`);
    } // APPn and COM are skipped
  }
  if (!frame) throw new CodecError('JPEG codestream has no frame header (SOF0/SOF1)');
  const missing = frame.comps.filter((c) => !c.done).map((c) => c.id);
  if (missing.length) throw new CodecError(`JPEG codestream ends without a scan for component(s) ${missing.join(', ')} (truncated codestream)`);
  return assemble(frame);
}

function parseFrame(data: Uint8Array, p: number, end: number, marker: number): Frame {
  if (end - p < 6) throw new CodecError('JPEG frame header (SOF) is too short (corrupt)');
  const precision = data[p], height = (data[p + 1] << 8) | data[p + 2], width = (data[p + 3] << 8) | data[p + 4], n = data[p + 5];
  const name = marker === 0xc0 ? 'SOF0' : 'SOF1';
  if (precision !== 8 && !(precision === 12 && marker === 0xc1)) {
    throw new CodecError(`JPEG ${name} precision ${precision} not supported (allowed: 8 for SOF0; 8 or 12 for SOF1)`);
  }
  if (height === 0) throw new CodecError('JPEG frame height 0 (defined later by a DNL marker) is not supported');
  if (width === 0) throw new CodecError('JPEG frame width is 0 (corrupt frame header)');
  if (n < 1 || n > 4) throw new CodecError(`JPEG frame has ${n} components (allowed: 1 to 4)`);
  if (end - p !== 6 + 3 * n) throw new CodecError(`JPEG frame header length does not match its ${n} components (corrupt)`);
  if (width * height * n > MAX_JPEG_SAMPLES) {
    throw new CodecError(`JPEG frame ${width}x${height}x${n} exceeds the ${MAX_JPEG_SAMPLES}-sample limit (corrupt header or an image too large to decode)`);
  }
  const comps: Component[] = [];
  for (let i = 0; i < n; i++) {
    const q = p + 6 + 3 * i, h = data[q + 1] >> 4, v = data[q + 1] & 15, tq = data[q + 2];
    if (h < 1 || h > 4 || v < 1 || v > 4 || tq > 3) throw new CodecError(`JPEG component ${data[q]}: sampling ${h}x${v} / quantisation table ${tq} invalid (allowed: 1–4, tables 0–3)`);
    if (comps.some((c) => c.id === data[q])) throw new CodecError(`JPEG frame lists component ${data[q]} twice (corrupt)`);
    comps.push({ id: data[q], h, v, tq, blocksX: 0, blocksY: 0, planeW: 0, plane: null, done: false });
  }
  const hmax = Math.max(...comps.map((c) => c.h)), vmax = Math.max(...comps.map((c) => c.v));
  const mcusX = Math.ceil(width / (8 * hmax)), mcusY = Math.ceil(height / (8 * vmax));
  for (const c of comps) {
    c.blocksX = Math.ceil(Math.ceil((width * c.h) / hmax) / 8);
    c.blocksY = Math.ceil(Math.ceil((height * c.v) / vmax) / 8);
    c.planeW = mcusX * c.h * 8; // wide enough for interleaved MCUs, which may pad past blocksX
  }
  return { marker, precision, width, height, hmax, vmax, mcusX, mcusY, comps };
}

/** Decode one scan; returns the position of the marker after its entropy-coded data. */
function decodeScan(data: Uint8Array, p: number, end: number, frame: Frame, quant: (Int32Array | null)[],
  dcTables: (Huffman | null)[], acTables: (Huffman | null)[], restartInterval: number): number {
  const ns = data[p];
  if (ns < 1 || ns > 4 || end - p !== 4 + 2 * ns) throw new CodecError(`JPEG scan header (SOS) length does not match its ${ns} components (corrupt)`);
  const scan: { c: Component; dc: Huffman; ac: Huffman; q: Int32Array }[] = [];
  for (let i = 0; i < ns; i++) {
    const id = data[p + 1 + 2 * i], td = data[p + 2 + 2 * i] >> 4, ta = data[p + 2 + 2 * i] & 15;
    const c = frame.comps.find((k) => k.id === id);
    if (!c) throw new CodecError(`JPEG scan names component ${id}, which is not in the frame header (corrupt)`);
    if (c.done || scan.some((s) => s.c === c)) throw new CodecError(`JPEG component ${id} is coded in more than one scan: only sequential (non-progressive) scans are supported`);
    const dc = dcTables[td & 3], ac = acTables[ta & 3], q = quant[c.tq];
    if (td > 3 || ta > 3 || !dc || !ac) throw new CodecError(`JPEG scan uses Huffman table DC ${td} / AC ${ta} for component ${id}, which no DHT defined (missing tables)`);
    if (!q) throw new CodecError(`JPEG component ${id} uses quantisation table ${c.tq}, which no DQT defined (missing tables)`);
    scan.push({ c, dc, ac, q: q.slice() }); // the table in effect at the start of the scan (T.81 B.2.4.1)
  }
  const ss = data[end - 3], se = data[end - 2], ahal = data[end - 1];
  if (ss !== 0 || se !== 63 || ahal !== 0) throw new CodecError(`JPEG scan has spectral selection ${ss}–${se} / approximation ${ahal >> 4},${ahal & 15}: a progressive scan in a sequential frame (corrupt)`);

  const blocksInScan = ns === 1 ? scan[0].c.blocksX * scan[0].c.blocksY : frame.mcusX * frame.mcusY * scan.reduce((a, s) => a + s.c.h * s.c.v, 0);
  // A block costs at least 2 bits (a DC code and an EOB): refuse sizes the remaining data cannot back, before allocating.
  if (blocksInScan > 4 * (data.length - end)) {
    throw new CodecError(`JPEG scan of ${blocksInScan} blocks needs at least ${Math.ceil(blocksInScan / 4)} bytes, only ${data.length - end} are left (truncated codestream or a wrong frame size)`);
  }
  for (const { c } of scan) c.plane ??= new Uint16Array(c.planeW * frame.mcusY * c.v * 8);

  const bits = new Bits(data, end);
  const coef = new Float64Array(64), tmp = new Float64Array(64);
  const pred = new Int32Array(ns);
  const maxval = (1 << frame.precision) - 1, shift = 1 << (frame.precision - 1);
  const block = (s: (typeof scan)[number], k: number, bx: number, by: number) => {
    coef.fill(0);
    const t = bits.decode(s.dc);
    if (t > 16) throw new CodecError(`JPEG DC difference category ${t} is out of range (corrupt entropy-coded data)`);
    pred[k] += bits.receiveExtend(t);
    coef[0] = pred[k] * s.q[0];
    for (let z = 1; z < 64;) {
      const rs = bits.decode(s.ac), r = rs >> 4, size = rs & 15;
      if (size === 0) {
        if (r !== 15) break; // EOB
        z += 16; // ZRL
        continue;
      }
      z += r;
      if (z > 63) throw new CodecError('JPEG block has AC coefficients past index 63 (corrupt entropy-coded data)');
      coef[ZIGZAG[z]] = bits.receiveExtend(size) * s.q[z];
      z++;
    }
    idct(coef, tmp);
    const plane = s.c.plane!, w = s.c.planeW;
    let o = by * 8 * w + bx * 8;
    for (let y = 0; y < 8; y++, o += w) {
      for (let x = 0; x < 8; x++) {
        const v = Math.round(tmp[y * 8 + x]) + shift;
        plane[o + x] = v < 0 ? 0 : v > maxval ? maxval : v;
      }
    }
  };

  const units = ns === 1 ? blocksInScan : frame.mcusX * frame.mcusY;
  let nextRst = 0;
  for (let m = 0; m < units; m++) {
    if (restartInterval && m > 0 && m % restartInterval === 0) {
      bits.align();
      let q = bits.pos;
      while (q < data.length && data[q] === 0xff && data[q + 1] === 0xff) q++; // fill bytes before the marker
      if (q + 1 >= data.length) throw new CodecError('JPEG data ends inside a scan, before a restart marker (truncated codestream)');
      if (data[q] !== 0xff || data[q + 1] !== 0xd0 + nextRst) {
        throw new CodecError(`JPEG restart marker RST${nextRst} expected at byte ${q} (restart interval ${restartInterval}), found ${hex(data[q])} ${hex(data[q + 1])} (corrupt or truncated)`);
      }
      bits.pos = q + 2;
      nextRst = (nextRst + 1) & 7;
      pred.fill(0);
    }
    if (ns === 1) {
      const c = scan[0].c;
      block(scan[0], 0, m % c.blocksX, Math.floor(m / c.blocksX));
    } else {
      const mx = m % frame.mcusX, my = Math.floor(m / frame.mcusX);
      for (let k = 0; k < ns; k++) {
        const { h, v } = scan[k].c;
        for (let by = 0; by < v; by++) for (let bx = 0; bx < h; bx++) block(scan[k], k, mx * h + bx, my * v + by);
      }
    }
  }
  bits.align();
  for (const { c } of scan) c.done = true;
  return bits.pos;
}

/** Separable float IDCT (T.81 A.3.3): rows then columns, out = the 64 samples before the level shift. */
const rows = new Float64Array(64); // scratch for idct (decoding is synchronous, so sharing is safe)
function idct(coef: Float64Array, out: Float64Array): void {
  for (let v = 0; v < 8; v++) {
    for (let x = 0; x < 8; x++) {
      let s = 0;
      for (let u = 0; u < 8; u++) s += COS[x * 8 + u] * coef[v * 8 + u];
      rows[v * 8 + x] = s;
    }
  }
  for (let x = 0; x < 8; x++) {
    for (let y = 0; y < 8; y++) {
      let s = 0;
      for (let v = 0; v < 8; v++) s += COS[y * 8 + v] * rows[v * 8 + x];
      out[y * 8 + x] = s;
    }
  }
}

/** Interleave the component planes at full size, replicating subsampled components. */
function assemble(f: Frame): CodecFrame {
  const n = f.comps.length, W = f.width, H = f.height;
  const out = f.precision === 8 ? new Uint8Array(W * H * n) : new Uint16Array(W * H * n);
  f.comps.forEach((c, k) => {
    const plane = c.plane!;
    const xs = new Int32Array(W);
    for (let x = 0; x < W; x++) xs[x] = Math.floor((x * c.h) / f.hmax);
    for (let y = 0; y < H; y++) {
      const row = Math.floor((y * c.v) / f.vmax) * c.planeW;
      let o = y * W * n + k;
      for (let x = 0; x < W; x++, o += n) out[o] = plane[row + xs[x]];
    }
  });
  return { samples: out, width: W, height: H, components: n, bitsPerSample: f.precision, layout: 'pixel' };
}
