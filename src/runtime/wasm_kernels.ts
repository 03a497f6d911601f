// Placeholder: kernels the wasm backend lacks (Conv2DBackpropFilter, ...) are registered here.
export function registerWasmFallbackKernels(): string[] { return []; }
