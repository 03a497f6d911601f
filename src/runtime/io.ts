import fs from 'node:fs';
import path from 'node:path';

/**
 * Write a file atomically: write a temp file beside the target, fsync, then rename over it, so a
 * crash or full disk never leaves a half-written file where a good one was.
 */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const dir = path.dirname(file);
  fs.mkdirSync(dir, { recursive: true });
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`);
  try {
    const fd = fs.openSync(tmp, 'w');
    try {
      if (typeof data === "string") fs.writeSync(fd, data); else fs.writeSync(fd, data);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    const e = err as NodeJS.ErrnoException;
    const hint = e.code === 'ENOSPC' ? ' (disk full: free space and retry; the previous file is untouched)' : '';
    throw new Error(`cannot write ${file}: ${e.message}${hint}`);
  }
}
