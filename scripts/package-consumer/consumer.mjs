// What a plain-JS user of the package does, as one function over the module namespace, so that
// scripts/pack-test.mjs runs the same code twice: with `import('meddiff')` in a temp project that
// installed the npm tarball, and with the repo's own src/index.ts (through tsx), and compares.
// Everything but `seconds` must be identical (same backend, same seed).

/** @param {any} meddiff the `meddiff` module namespace; @param {string} model a model folder; @param {string[]} images */
export async function run(meddiff, model, images) {
  const { initRuntime, loadPipeline, classify } = meddiff;
  const t0 = performance.now();
  const rt = await initRuntime({ log: false });
  const p = loadPipeline(model);
  const results = await classify(p, images, { n: 5 });
  const out = {
    backend: rt.backend,
    classNames: p.classNames,
    results: results.map((r) => ({
      prediction: r.prediction, predicted: r.predicted, shares: r.shares, votes: r.votes, entropy: r.entropy, meanErrors: r.meanErrors,
    })),
    seconds: (performance.now() - t0) / 1000,
  };
  p.dispose();
  return out;
}
