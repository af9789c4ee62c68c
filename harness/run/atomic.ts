/**
 * Crash-safe file writes for run folders: the project's one implementation (pipelines/atomic-write.ts)
 * plus JSON files.
 * @module
 */
import { writeFileAtomic } from '../../pipelines/atomic-write.js';

export { TEMP_PREFIX, fsyncDirectory, tempPathFor, writeFileAtomic } from '../../pipelines/atomic-write.js';

export function writeJsonAtomic(path: string, value: unknown): void {
  writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
}
