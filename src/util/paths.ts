import path from 'node:path';

/**
 * A path as it should appear in files people share: relative to the working directory (with
 * forward slashes) when it lies inside it, so a committed config or report holds no machine path.
 */
export function portablePath(p: string, cwd = process.cwd()): string {
  const rel = path.relative(cwd, path.resolve(cwd, p));
  if (rel === '') return '.';
  return !rel.startsWith('..') && !path.isAbsolute(rel) ? rel.split(path.sep).join('/') : path.resolve(cwd, p);
}
