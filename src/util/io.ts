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
      const buf = typeof data === 'string' ? Buffer.from(data) : data;
      for (let off = 0; off < buf.length;) {
        const n = fs.writeSync(fd, buf, off, buf.length - off);
        if (n <= 0) throw Object.assign(new Error('short write'), { code: 'ENOSPC' });
        off += n;
      }
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

/** A JSON object from a file, or null when the file is missing, unreadable or not a JSON object (for optional files). */
export function readJsonOrNull(file: string): Record<string, unknown> | null {
  try {
    const v: unknown = JSON.parse(fs.readFileSync(file, 'utf8'));
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? v as Record<string, unknown> : null;
  } catch { return null; }
}
