// meddiff's library surface in one import. Each folder's index.ts remains the source of truth.
export { initRuntime, runtimeInfo, tf } from './runtime/index.ts';
export type { RuntimeInfo, RuntimeOptions, BackendName } from './runtime/index.ts';
export { createDenoiser, validateUNetConfig, UNET_PRESETS } from './models/index.ts';
export { openDataset, stackSplit } from './data/index.ts';
export { trainFromData, loadTrainedModel, resolveModelDir } from './train/index.ts';
export type { TrainedModel, TrainRunOptions } from './train/index.ts';
export { DiffusionClassifier, loadForModel, validateClassifyConfig } from './classify/index.ts';
export type { ClassifyConfig, ImageResult } from './classify/index.ts';
export { explainImages, counterfactuals } from './explain/index.ts';
export type { Explanation, ExplainConfig } from './explain/index.ts';
export { writeReport, summarize } from './eval/index.ts';
