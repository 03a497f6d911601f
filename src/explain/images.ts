// Images out: [−1, 1] float arrays to 8-bit pixels, grids of panels, PNG files written atomically.
import sharp from 'sharp';
import { writeFileAtomic } from '../util/index.ts';

export interface RgbImage { data: Uint8Array; width: number; height: number; channels: 1 | 3 }
/** 8-bit pixels, interleaved: grey, RGB, or RGBA (overlays). */
export interface PixelImage { data: Uint8Array; width: number; height: number; channels: 1 | 3 | 4 }

/** HWC floats in [−1, 1] → 8-bit pixels (clipped). */
export function toUint8(data: Float32Array, width: number, height: number, channels: 1 | 3): RgbImage {
  const out = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = Math.max(0, Math.min(255, Math.round((data[i]! + 1) * 127.5)));
  return { data: out, width, height, channels };
}

/** Lay equally sized panels out in a grid with a `gap`-pixel white border; grey panels become RGB if any panel is. */
export function grid(panels: RgbImage[], cols: number, gap = 2): RgbImage {
  if (panels.length === 0) throw new Error('grid: no panels');
  const { width: w, height: h } = panels[0]!;
  const c: 1 | 3 = panels.some((p) => p.channels === 3) ? 3 : 1;
  const rows = Math.ceil(panels.length / cols);
  const W = cols * w + (cols + 1) * gap, H = rows * h + (rows + 1) * gap;
  const out = new Uint8Array(W * H * c).fill(255);
  panels.forEach((p, k) => {
    if (p.width !== w || p.height !== h) throw new Error(`grid: panel ${k} is ${p.width}×${p.height}, expected ${w}×${h}`);
    const x0 = gap + (k % cols) * (w + gap), y0 = gap + Math.floor(k / cols) * (h + gap);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        for (let ch = 0; ch < c; ch++) {
          out[((y0 + y) * W + x0 + x) * c + ch] = p.data[(y * w + x) * p.channels + (p.channels === 1 ? 0 : ch)]!;
        }
      }
    }
  });
  return { data: out, width: W, height: H, channels: c };
}

/** Nearest-neighbour upscale so 28–32 px panels are visible. */
export function upscale<T extends PixelImage>(img: T, factor: number): T {
  if (factor === 1) return img;
  const W = img.width * factor, H = img.height * factor, c = img.channels;
  const out = new Uint8Array(W * H * c);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const src = (Math.floor(y / factor) * img.width + Math.floor(x / factor)) * c;
      for (let ch = 0; ch < c; ch++) out[(y * W + x) * c + ch] = img.data[src + ch]!;
    }
  }
  return { ...img, data: out, width: W, height: H };
}

export async function encodePng(img: PixelImage): Promise<Buffer> {
  return sharp(Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength), { raw: { width: img.width, height: img.height, channels: img.channels } }).png().toBuffer();
}

export async function writePng(file: string, img: RgbImage): Promise<void> {
  writeFileAtomic(file, await encodePng(img));
}
