export { toUint8, grid, upscale, encodePng, writePng } from './images.ts';
export type { RgbImage } from './images.ts';
export { counterfactuals, differenceMap, proximity, validateExplainConfig, defaultExplainConfig, EXPLAIN_QUALITY } from './counterfactual.ts';
export type { ExplainConfig, ExplainModel, Counterfactuals } from './counterfactual.ts';
export { differenceImage, overlayImage, mapScale } from './panels.ts';
export { explainImages } from './explain.ts';
export type { Explanation, ExplainRunOptions } from './explain.ts';
export { explanationPanels, explanationGridPng, explanationTable, explanationPage, PANEL_TITLES } from './page.ts';
