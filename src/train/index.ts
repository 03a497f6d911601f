export { Adam, DEFAULT_ADAM_CONFIG, learningRate, globalNorm } from './optim.ts';
export type { AdamConfig } from './optim.ts';
