// Public surface of src/pipeline: the saved model folder as one object.
export { DiffusionPipeline, createPipeline, loadPipeline, resolveModelDir, upgradeModelFolder } from './pipeline.ts';
export type { PipelineParts, LoadPipelineOptions } from './pipeline.ts';
export { readPipelineConfig, pipelineConfigJson, validatePreprocessConfig, checkModelFits, defaultSchedule } from './config.ts';
export { PIPELINE_FORMAT, PIPELINE_VERSION } from './types.ts';
export type { PipelineConfig, PreprocessConfig, ImageInput, Logger, Calibration, CalibrationObjective, OodCalibration, OodScoreKind, MinClassMeanErrorOod, MultiscaleOod, ThresholdCalibration, OffsetsCalibration } from './types.ts';
export { CALIBRATION_FILE, OOD_BAND_FEATURES, multiscaleFeatureCount, loadCalibration, saveCalibration } from './calibration.ts';
export { saveCheckpoint, loadCheckpoint, CHECKPOINT_FORMAT, CHECKPOINT_VERSION } from './checkpoint.ts';
export type { CheckpointState, CheckpointContents, LoadedCheckpoint } from './checkpoint.ts';
export { generate } from './generate.ts';
export type { GenerateOptions } from './generate.ts';
export { ImageModel, inputNames } from './image-model.ts';
export type { ImagePreprocess, ImageModelConfig } from './image-model.ts';
export { BaselinePipeline, loadBaselinePipeline, loadModel, isBaselineFolder, readBaselineConfig, loadBaselineWeights, loadTemperature, saveTemperature, BASELINE_FORMAT, BASELINE_VERSION } from './baseline.ts';
export type { BaselinePipelineConfig, TemperatureCalibration } from './baseline.ts';
