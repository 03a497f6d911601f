export { toUint8, grid, upscale, encodePng, writePng } from './images.ts';
export type { RgbImage } from './images.ts';
