// Bring a user's image file to what the model was trained on: decode, fit into the content size
// (28² for MedMNIST models; centre-cropped like MedMNIST, or letterboxed for folder-trained models)
// and pad with black to the model's square.
import { loadImageFile } from '../data/index.ts';

export interface ModelInput { imageSize: number; contentSize: number; channels: number; fit?: 'pad' | 'crop' }

export function padCenter(img: Float32Array, from: number, to: number, channels: number): Float32Array {
  if (from === to) return img;
  const out = new Float32Array(to * to * channels).fill(-1);
  const off = Math.floor((to - from) / 2);
  for (let y = 0; y < from; y++) out.set(img.subarray(y * from * channels, (y + 1) * from * channels), ((y + off) * to + off) * channels);
  return out;
}

export async function loadForModel(file: string, m: ModelInput): Promise<Float32Array> {
  const c = m.channels as 1 | 3;
  const img = await loadImageFile(file, { size: m.contentSize, channels: c, fit: m.fit ?? 'pad' });
  return padCenter(img, m.contentSize, m.imageSize, c);
}
