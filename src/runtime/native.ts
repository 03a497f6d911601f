// Placeholder until the native addon lands: loads nothing, registers nothing.
export interface NativeAddon { version(): Record<string, string>; }
export interface NativeLoad { addon: NativeAddon | null; error?: string; }
export function loadNativeAddon(): NativeLoad { return { addon: null, error: 'native addon not built yet' }; }
export function registerNativeKernels(_addon: NativeAddon, _opts: { threads: number }): string[] { return []; }
