// meddiff's library surface in one import (`import { … } from 'meddiff'`). Each folder's
// index.ts is the source of truth and is also reachable as a subpath ('meddiff/classify', …).
export { initRuntime, runtimeInfo, tf } from './runtime/index.ts';
export type { RuntimeInfo, RuntimeOptions, BackendName } from './runtime/index.ts';
export {
  DiffusionPipeline, loadPipeline, createPipeline, resolveModelDir, upgradeModelFolder, generate,
  loadCalibration, saveCalibration, readPipelineConfig, validatePreprocessConfig,
} from './pipeline/index.ts';
export type { PipelineConfig, PreprocessConfig, ImageInput, Logger, Calibration, GenerateOptions } from './pipeline/index.ts';
export { createDenoiser, presetConfig, validateUNetConfig, validateDiTConfig, validateDenoiserConfig, UNET_PRESETS, DIT_PRESETS } from './models/index.ts';
export type { DenoiserConfig, UNetConfig, DiTConfig } from './models/index.ts';
export { openDataset, stackSplit, decodeImage, decodeImageBytes, preprocessImage } from './data/index.ts';
export type { DecodedImage, Dataset } from './data/index.ts';
export { trainFromData, validateTrainConfig } from './train/index.ts';
export type { TrainRunOptions, TrainConfig } from './train/index.ts';
export { classify, classifyWithSettings, classifySettings, classificationJson, calibrate, DiffusionClassifier, validateClassifyConfig } from './classify/index.ts';
export type { ClassifyConfig, ClassifyOptions, Classification, ImageResult, CalibrateOptions, CalibrateResult } from './classify/index.ts';
export { explain, explainImages, writeExplanations, counterfactuals } from './explain/index.ts';
export type { Explanation, ExplainConfig, ExplainOptions } from './explain/index.ts';
export { evaluate, writeReport, summarize } from './eval/index.ts';
export type { EvaluateOptions, ReportSummary } from './eval/index.ts';
