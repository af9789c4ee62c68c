/**
 * The run folder contract:
 *   spec.json        the resolved experiment (after extends, --set and defaults)
 *   manifest.json    provenance (versions, git, models, host, sessions)
 *   refinery.sqlite  the store: units, samples, scores, metric metadata, timings (the truth)
 *   images/<key>.png one image per ok unit
 *   stages/          model-major (low-memory) base results waiting for the refiner
 *   run.log          plain-text log of every session
 *   run.lock         present while a process works in the folder
 * @module
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { ScorableSample } from '../../probes/types.js';
import type { SampleRow, UnitRow } from '../store/store.js';
import { TEMP_PREFIX } from './atomic.js';

export interface RunPaths {
  dir: string;
  spec: string;
  manifest: string;
  db: string;
  images: string;
  stages: string;
  log: string;
}

export function runPaths(dir: string): RunPaths {
  const root = resolve(dir);
  return {
    dir: root,
    spec: join(root, 'spec.json'),
    manifest: join(root, 'manifest.json'),
    db: join(root, 'refinery.sqlite'),
    images: join(root, 'images'),
    stages: join(root, 'stages'),
    log: join(root, 'run.log'),
  };
}

/** Path of a unit's image relative to the run folder (as the store records it). */
export function imageRelativePath(key: string): string {
  return `images/${key}.png`;
}

/** A stored sample as scorers see it: its image path in `runDir`, prompt, seed and condition. */
export function scorableSample(runDir: string, unit: UnitRow, sample: SampleRow): ScorableSample {
  return {
    key: sample.key,
    imagePath: join(runDir, sample.imagePath!),
    prompt: unit.prompt,
    seed: unit.seed,
    condition: unit.conditionId,
  };
}

export function ensureRunFolders(paths: RunPaths): void {
  mkdirSync(paths.images, { recursive: true });
  mkdirSync(paths.stages, { recursive: true });
}

/** Removes temporary files a killed process left behind (never complete files). Returns how many. */
export function removeTemporaryFiles(paths: RunPaths): number {
  let removed = 0;
  for (const dir of [paths.dir, paths.images, paths.stages]) {
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir)) {
      if (name.startsWith(TEMP_PREFIX)) {
        rmSync(join(dir, name), { force: true });
        removed += 1;
      }
    }
  }
  return removed;
}

export function isRunFolder(dir: string): boolean {
  return existsSync(runPaths(dir).db);
}

export function readJsonFile<T>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}
