// Public surface of src/diffusion: noise schedules, forward process, Haar wavelet, samplers, RNG.
export type {
  ClassesLike, Denoiser, DiffusionLossOptions, HaarConfig, HaarScale, LogSnrLike, SampleOptions,
  SampleTimesOptions, SamplerConfig, SamplerKind, ScheduleConfig, ScheduleKind, StepInfo, UniformSource,
} from './types.ts';
export {
  DEFAULT_HAAR_CONFIG, DEFAULT_LOSS_OPTIONS, DEFAULT_MIN_SNR_GAMMA, DEFAULT_SAMPLE_TIMES_OPTIONS,
  DEFAULT_SAMPLER_CONFIG, DEFAULT_SCHEDULE_CONFIG, SAMPLER_KINDS, SCHEDULE_KINDS,
} from './constants.ts';
export {
  alphaSigma, alphaSigmaTensor, cosineAngles, cosineLogSnr, logSnr, logSnrRange, logSnrShift, logSnrTensor,
  sigmoid, timeFromLogSnr, validateScheduleConfig,
} from './schedule.ts';
export { addNoise, diffusionLoss, minSnrWeight, minSnrWeightValue, predictEps, predictX0, sampleTimes, vTarget } from './process.ts';
export { haarForward, haarInverse, validateHaarConfig } from './wavelet.ts';
export type { GuidanceOptions, StepArgs } from './samplers.ts';
export { ancestralStep, cfgX0, ddimStep, guidedV, sample, samplerStep, timeGrid, toClasses, validateSamplerConfig } from './samplers.ts';
export { randomNormal } from './rng.ts';
export { Rng, seedState, type RngState } from '../util/index.ts';
