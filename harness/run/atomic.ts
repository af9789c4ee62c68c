/**
 * Crash-safe file writes: a reader (or a resumed run) sees either the old file or the complete new
 * one, never a truncated file.
 * @module
 */
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** Temporary files start with this, so a resumed run can sweep up what a killed one left. */
export const TEMP_PREFIX = '.tmp-';

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

/** Writes `bytes` to a temp file beside `path`, fsyncs it, renames it over `path` and fsyncs the folder. */
export function writeFileAtomic(path: string, bytes: Uint8Array | string): void {
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
  renameSync(temp, path);
  fsyncDirectory(dirname(path));
}

export function writeJsonAtomic(path: string, value: unknown): void {
  writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
}
