// The web app's files for `meddiff serve`: the bundle `npm run build` wrote to dist/ui/, or, when
// that is missing or older than the sources in src/server/ui/ (a checkout being edited), a fresh
// bundle made in memory with esbuild through scripts/build-ui.mjs.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export interface UiAsset { body: Buffer; type: string }

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};
const REQUIRED = ['index.html', 'app.js', 'style.css'];
const NOT_BUILT = 'the web app is not built: run npm run build';

// src/server/assets.ts (through tsx) and dist/server/assets.js (compiled) are both two levels down.
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : fs.statSync(p).mtimeMs);
  }
  return newest;
}

/** dist/ui's files, or null when one of the required ones is missing. */
function readBuilt(dir: string): { files: Map<string, UiAsset>; oldest: number } | null {
  if (!REQUIRED.every((f) => fs.existsSync(path.join(dir, f)))) return null;
  const files = new Map<string, UiAsset>();
  let oldest = Infinity;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    // Only finished files: a build in progress leaves *.tmp files until it renames them.
    if (!e.isFile() || e.name.endsWith('.tmp')) continue;
    const p = path.join(dir, e.name);
    oldest = Math.min(oldest, fs.statSync(p).mtimeMs);
    files.set(e.name, { body: fs.readFileSync(p), type: TYPES[path.extname(e.name)] ?? 'application/octet-stream' });
  }
  return { files, oldest };
}

function isMissingEsbuild(e: unknown): boolean {
  const err = e as { code?: string; message?: string } | null;
  return err?.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes("'esbuild'");
}

/** The web app's files by name (index.html, app.js, style.css), each with its MIME type. */
export async function loadUiAssets(): Promise<Map<string, UiAsset>> {
  const sources = path.join(root, 'src', 'server', 'ui');
  const built = readBuilt(path.join(root, 'dist', 'ui'));
  // Equal times count as fresh: npm gives every file of a package the same mtime.
  if (built && (!fs.existsSync(sources) || built.oldest >= newestMtime(sources))) return built.files;

  const script = path.join(root, 'scripts', 'build-ui.mjs');
  if (!fs.existsSync(script) || !fs.existsSync(sources)) {
    if (built) return built.files;
    throw new Error(NOT_BUILT);
  }
  try {
    // A computed URL: the script is plain JavaScript outside src/, found at run time.
    const { buildUi } = await import(pathToFileURL(script).href) as { buildUi: () => Promise<Map<string, UiAsset>> };
    return await buildUi();
  } catch (e) {
    if (!isMissingEsbuild(e)) throw new Error(`the web app could not be bundled: ${(e as Error).message}`);
    // Without esbuild an older build still beats no app at all.
    if (built) return built.files;
    throw new Error(`${NOT_BUILT} (esbuild, a dev dependency, is not installed)`);
  }
}
