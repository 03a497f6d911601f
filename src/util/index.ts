/** Pure helpers shared by every folder (node builtins only: no tfjs, no sharp): the seeded PRNG, atomic file writes, HTML escaping. */
export { Rng, hashSeed, seedState, type RngState } from './rng.ts';
export { writeFileAtomic, readJsonOrNull } from './io.ts';
export { escapeHtml } from './html.ts';
export { portablePath } from './paths.ts';
export { startModuleWorker } from './worker.ts';
