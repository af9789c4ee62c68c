/**
 * `refinery merge`: joins shard folders of one experiment into one run folder. Images are copied (and
 * checked against their recorded sha256) before the rows that point at them are imported, all rows of a
 * shard in one transaction. Refuses shards of different experiments, the same shard twice, shards whose
 * units overlap, and shards that are still running. Everything is checked before anything is written.
 * @module
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { UserError } from '../../pipelines/errors.js';
import { RunStore } from '../store/store.js';
import { fsyncDirectory, TEMP_PREFIX, writeFileAtomic, writeJsonAtomic } from './atomic.js';
import { mergeDeterminism, type MergedDeterminism } from './determinism.js';
import { readIdentity, writeIdentity, type RunIdentity } from './identity.js';
import { inspectLock } from './lock.js';
import type { RunManifest } from './manifest.js';
import { parseShard } from './planner.js';
import { ensureRunFolders, isRunFolder, readJsonFile, runPaths } from './run-folder.js';

export interface MergeSource {
  dir: string;
  identity: RunIdentity;
}

export interface MergeResult {
  outDir: string;
  shards: string[];
  units: number;
  samples: number;
  scores: number;
  images: number;
  /** shard labels of the experiment that were not among the sources */
  missingShards: string[];
  totalUnits: number;
}

/** Expands a folder that contains shard folders (but is not a run itself) into those shard folders. */
export function expandRunFolders(dirs: readonly string[]): string[] {
  const out: string[] = [];
  for (const dir of dirs.map((d) => resolve(d))) {
    if (isRunFolder(dir)) {
      out.push(dir);
      continue;
    }
    if (!existsSync(dir)) throw new UserError(`${dir}: not found`);
    const shards = readdirSync(dir)
      .filter((name) => /^shard-\d+-of-\d+$/.test(name) && isRunFolder(join(dir, name)))
      .sort((a, b) => Number(a.split('-')[1]) - Number(b.split('-')[1]))
      .map((name) => join(dir, name));
    if (shards.length === 0) throw new UserError(`${dir}: not a run folder (no refinery.sqlite) and holds no shard-i-of-N run folders`);
    out.push(...shards);
  }
  return out;
}

function readSource(dir: string): MergeSource {
  const store = RunStore.open(runPaths(dir).db, { readonly: true });
  try {
    const identity = readIdentity(store);
    if (!identity) throw new UserError(`${dir}: the run folder has no experiment identity (was it created by refinery run?)`);
    return { dir, identity };
  } finally {
    store.close();
  }
}

/** Checks the sources belong together; returns the shard labels the experiment has but the sources lack. */
export function checkMergeSources(sources: readonly MergeSource[]): string[] {
  if (sources.length === 0) throw new UserError('merge: name at least one run folder');
  const first = sources[0];
  for (const source of sources.slice(1)) {
    if (source.identity.specSha256 !== first.identity.specSha256 || source.identity.unitsSha256 !== first.identity.unitsSha256) {
      throw new UserError(
        `cannot merge runs of different experiments: ${first.dir} is "${first.identity.experimentName}" (spec ${first.identity.specSha256.slice(0, 12)}, units ${first.identity.unitsSha256.slice(0, 12)}) ` +
          `but ${source.dir} is "${source.identity.experimentName}" (spec ${source.identity.specSha256.slice(0, 12)}, units ${source.identity.unitsSha256.slice(0, 12)})`,
      );
    }
  }
  const seen = new Map<string, string>();
  for (const source of sources) {
    const label = source.identity.shard ?? 'unsharded';
    const other = seen.get(label);
    if (other) throw new UserError(`${source.dir} and ${other} are the same shard (${label}); name each shard once`);
    seen.set(label, source.dir);
  }
  const counts = new Set(sources.map((source) => (source.identity.shard ? parseShard(source.identity.shard).count : 1)));
  if (counts.size > 1) {
    throw new UserError(`cannot merge shards of different splits (${[...seen.keys()].join(', ')}): their units overlap; merge the shards of one --shard i/N split`);
  }
  const [count] = counts;
  const missing: string[] = [];
  if (sources.some((source) => source.identity.shard)) {
    for (let i = 0; i < count; i++) if (!seen.has(`${i}/${count}`)) missing.push(`${i}/${count}`);
  }
  return missing;
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Checks every recorded image of every source (present, matching its sha256) and that no unit is in two sources. */
function verifySources(sources: readonly MergeSource[]): void {
  const owner = new Map<string, string>();
  for (const source of sources) {
    const sourceStore = RunStore.open(runPaths(source.dir).db, { readonly: true });
    try {
      for (const key of sourceStore.unitKeys()) {
        const other = owner.get(key);
        if (other) throw new UserError(`${source.dir} and ${other} both hold unit ${key.slice(0, 12)}: overlapping or duplicate shards; merge each unit's shard once`);
        owner.set(key, source.dir);
      }
      for (const sample of sourceStore.samples('ok')) {
        const imagePath = join(source.dir, sample.imagePath!);
        if (!existsSync(imagePath)) {
          throw new UserError(`${imagePath} is missing but ${source.dir}'s store records it; copy the whole shard folder, or rerun that shard`);
        }
        if (sha256(readFileSync(imagePath)) !== sample.imageSha256) {
          throw new UserError(`${imagePath} does not match the sha256 its shard recorded (was it changed or copied incompletely?); copy the shard folder again`);
        }
      }
    } finally {
      sourceStore.close();
    }
  }
}

/**
 * Merges into a new folder, built beside `outDir` under a temporary name and renamed into place at
 * the end, so a failed merge leaves nothing that looks like a run.
 */
export function mergeRuns(dirs: readonly string[], outDir: string, log: (message: string) => void = () => {}): MergeResult {
  const sourceDirs = expandRunFolders(dirs);
  const out = resolve(outDir);
  if (sourceDirs.includes(out)) throw new UserError(`--out ${outDir} is one of the folders being merged; choose a new folder`);
  const sources = sourceDirs.map(readSource);
  const missingShards = checkMergeSources(sources);
  for (const source of sources) {
    const lock = inspectLock(source.dir);
    if (lock.state === 'held') throw new UserError(`${source.dir} is still being written (${lock.reason}); wait for that shard to finish`);
  }
  if (existsSync(out) && readdirSync(out).length > 0) {
    throw new UserError(`${out} ${isRunFolder(out) ? 'already holds a run' : 'is not empty'}; merge into a new folder (or delete it first)`);
  }
  verifySources(sources);

  const building = join(dirname(out), `${TEMP_PREFIX}merge-${process.pid}-${basename(out)}`);
  rmSync(building, { recursive: true, force: true });
  const buildPaths = runPaths(building);
  ensureRunFolders(buildPaths);
  let units = 0;
  let samples = 0;
  let scores = 0;
  let images = 0;
  try {
    const store = RunStore.open(buildPaths.db);
    try {
      const manifests: { dir: string; manifest: RunManifest | null }[] = [];
      for (const source of sources) {
        const sourcePaths = runPaths(source.dir);
        const sourceStore = RunStore.open(sourcePaths.db, { readonly: true });
        try {
          for (const sample of sourceStore.samples('ok')) {
            // the bytes written are the bytes checked: temp file, fsync, rename (as the executor writes them)
            const imagePath = join(source.dir, sample.imagePath!);
            const bytes = readFileSync(imagePath);
            if (sha256(bytes) !== sample.imageSha256) {
              throw new UserError(`${imagePath} changed while merging (its sha256 no longer matches the record); copy the shard folder again`);
            }
            writeFileAtomic(join(building, sample.imagePath!), bytes);
            images += 1;
          }
        } finally {
          sourceStore.close();
        }
        const copied = store.importFrom(sourcePaths.db);
        units += copied.units;
        samples += copied.samples;
        scores += copied.scores;
        manifests.push({ dir: source.dir, manifest: existsSync(sourcePaths.manifest) ? readJsonFile<RunManifest>(sourcePaths.manifest) : null });
        log(`merged ${source.dir}: ${source.identity.folderUnits} unit(s)`);
      }
      const first = sources[0].identity;
      writeIdentity(store, { ...first, shard: null, folderUnits: units });
      store.setMeta('merged_from', JSON.stringify(sources.map((source) => ({ dir: source.dir, shard: source.identity.shard }))));
      store.checkpoint();
      writeFileAtomic(buildPaths.spec, readFileSync(runPaths(sources[0].dir).spec));
      writeJsonAtomic(buildPaths.manifest, mergedManifest(manifests, units));
    } finally {
      store.close();
    }
    mkdirSync(dirname(out), { recursive: true });
    if (existsSync(out)) rmSync(out, { recursive: false, force: true }); // an empty folder
    renameSync(building, out);
    fsyncDirectory(dirname(out));
  } catch (error) {
    rmSync(building, { recursive: true, force: true });
    throw error;
  }
  return {
    outDir: out,
    shards: sources.map((source) => source.identity.shard ?? 'unsharded'),
    units,
    samples,
    scores,
    images,
    missingShards,
    totalUnits: sources[0].identity.totalUnits,
  };
}

/** Every shard's determinism check, so the merged run states each one (a shard's alone would hide the others). */
function mergedDeterminismEntry(sources: { manifest: RunManifest | null }[]): { determinism?: MergedDeterminism } {
  const merged = mergeDeterminism(sources.map((source) => ({ shard: source.manifest?.shard ?? null, determinism: source.manifest?.determinism })));
  return merged ? { determinism: merged } : {};
}

function mergedManifest(sources: { dir: string; manifest: RunManifest | null }[], units: number): RunManifest & { mergedFrom: unknown[] } {
  const present = sources.map((source) => source.manifest).filter((m): m is RunManifest => m !== null);
  if (present.length === 0) throw new UserError(`none of the shards has a manifest.json (${sources.map((s) => s.dir).join(', ')})`);
  const starts = present.map((m) => m.startedAt).sort();
  const ends = present.map((m) => m.endedAt).filter((e): e is string => e !== null).sort();
  return {
    ...present[0],
    shard: null,
    shardUnits: units,
    seeds: [...new Set(present.flatMap((m) => m.seeds))].sort((a, b) => a - b),
    startedAt: starts[0],
    endedAt: ends.length === present.length ? ends[ends.length - 1] : null,
    sessions: present.flatMap((m) => m.sessions),
    ...mergedDeterminismEntry(sources),
    mergedFrom: sources.map((source) => ({ dir: source.dir, shard: source.manifest?.shard ?? null, host: source.manifest?.host ?? null })),
  };
}
