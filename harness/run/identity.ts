/**
 * Which experiment (and shard) a run folder holds, kept in the store's meta table, so that a rerun
 * resumes only the same work and `merge` joins only shards of one experiment.
 * @module
 */
import { existsSync } from 'node:fs';
import { UserError } from '../../pipelines/errors.js';
import { contentKey } from '../experiment/keys.js';
import type { ExperimentSpec } from '../experiment/types.js';
import type { RunStore } from '../store/store.js';
import { writeJsonAtomic } from './atomic.js';
import type { RunPaths } from './run-folder.js';

export interface RunIdentity {
  experimentName: string;
  /** `experimentSpecHash` of the resolved spec */
  specSha256: string;
  /** sha256 of the sorted unit keys of the whole experiment (all shards) */
  unitsSha256: string;
  totalUnits: number;
  /** "i/N", or null for an unsharded run (and for a merged one) */
  shard: string | null;
  /** units this folder is responsible for */
  folderUnits: number;
}

/**
 * sha256 of the canonical JSON of the resolved spec without what differs between machines running the
 * same experiment: the run settings (batch, out_dir, low_memory, fail_fast: they change no image) and
 * the model folder paths (the model files themselves are in every unit key, so in the units hash).
 */
export function experimentSpecHash(spec: ExperimentSpec): string {
  const { run: _run, models, ...rest } = spec;
  return contentKey({ ...rest, models: { device: models.device } });
}

const META = {
  experimentName: 'experiment_name',
  specSha256: 'spec_sha256',
  unitsSha256: 'units_sha256',
  totalUnits: 'total_units',
  shard: 'shard',
  folderUnits: 'folder_units',
} as const;

export function readIdentity(store: RunStore): RunIdentity | null {
  const meta = store.allMeta();
  if (meta[META.unitsSha256] === undefined) return null;
  return {
    experimentName: meta[META.experimentName],
    specSha256: meta[META.specSha256],
    unitsSha256: meta[META.unitsSha256],
    totalUnits: Number(meta[META.totalUnits]),
    shard: meta[META.shard] ? meta[META.shard] : null,
    folderUnits: Number(meta[META.folderUnits]),
  };
}

export function writeIdentity(store: RunStore, identity: RunIdentity): void {
  store.setMeta(META.experimentName, identity.experimentName);
  store.setMeta(META.specSha256, identity.specSha256);
  store.setMeta(META.unitsSha256, identity.unitsSha256);
  store.setMeta(META.totalUnits, String(identity.totalUnits));
  store.setMeta(META.shard, identity.shard ?? '');
  store.setMeta(META.folderUnits, String(identity.folderUnits));
}

/**
 * Claims a new run folder for `identity`, or checks that an existing one holds the same experiment and
 * shard. A spec change that changes no unit (report settings, scorers) is accepted and recorded.
 * Returns whether spec.json changed.
 */
export function claimRunFolder(store: RunStore, paths: RunPaths, identity: RunIdentity, spec: unknown): { specChanged: boolean; resumed: boolean } {
  const existing = readIdentity(store);
  if (!existing) {
    writeJsonAtomic(paths.spec, spec);
    writeIdentity(store, identity);
    return { specChanged: false, resumed: false };
  }
  if (existing.unitsSha256 !== identity.unitsSha256) {
    throw new UserError(
      `${paths.dir} holds a run of a different experiment ("${existing.experimentName}", ${existing.totalUnits} units, units hash ${existing.unitsSha256.slice(0, 12)}); ` +
        `this command makes ${identity.totalUnits} units with hash ${identity.unitsSha256.slice(0, 12)}. ` +
        `Choose another folder with --out, or delete ${paths.dir} to start over`,
    );
  }
  if ((existing.shard ?? '') !== (identity.shard ?? '')) {
    throw new UserError(
      `${paths.dir} holds ${existing.shard ? `shard ${existing.shard}` : 'an unsharded run'} of this experiment, but this command runs ${identity.shard ? `shard ${identity.shard}` : 'it unsharded'}; ` +
        `use the folder that matches (shards go to <out>/shard-i-of-N by default) or choose another with --out`,
    );
  }
  const specChanged = existing.specSha256 !== identity.specSha256 || !existsSync(paths.spec);
  if (specChanged) {
    writeJsonAtomic(paths.spec, spec);
    writeIdentity(store, identity);
  }
  return { specChanged, resumed: true };
}
