/**
 * Crash-safe file writes, the one implementation for the whole project: a reader (or a resumed run)
 * sees either the old file or the complete new one, never a truncated file, and a completed write
 * survives power loss (the data is fsynced before the rename, the folder after it).
 * @module
 */
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** Temporary files start with this, so a resumed run can sweep up what a killed one left. */
export const TEMP_PREFIX = '.tmp-';

/** The temporary file beside `path` that a write of this process goes through. */
export function tempPathFor(path: string): string {
  return join(dirname(path), `${TEMP_PREFIX}${process.pid}-${basename(path)}`);
}

/** fsync a directory so a rename inside it survives power loss (a no-op where the OS refuses). */
export function fsyncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // some platforms (Windows) cannot fsync a directory; the rename is still atomic
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * Writes `bytes` to a temp file beside `path` (creating the folder if needed), fsyncs it, renames it
 * over `path` and fsyncs the folder.
 */
export function writeFileAtomic(path: string, bytes: Uint8Array | string): void {
  mkdirSync(dirname(path), { recursive: true });
  const temp = tempPathFor(path);
  const data = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes;
  const fd = openSync(temp, 'w');
  try {
    let offset = 0;
    while (offset < data.length) offset += writeSync(fd, data, offset, data.length - offset);
    fsyncSync(fd);
  } catch (error) {
    closeSync(fd);
    rmSync(temp, { force: true });
    throw error;
  }
  closeSync(fd);
  try {
    renameSync(temp, path);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
  fsyncDirectory(dirname(path));
}
