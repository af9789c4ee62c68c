/**
 * @module
 * Reads everything a report needs from a run folder, read-only: `spec.json`, `manifest.json` and the
 * store (`refinery.sqlite`, through `RunStore`). Reports work from these records alone.
 *
 * @example
 * const records = loadRunRecords('runs/demo');
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import type { PromptInstance } from '../datasets/types.js';
import type { MetricMeta } from '../probes/types.js';
import { UserError } from '../pipelines/errors.js';
import { runPaths } from '../harness/run/run-folder.js';
import { RunStore } from '../harness/store/store.js';

/** The condition fields reports use; the stored condition JSON may carry more. */
export interface ReportCondition {
  id: string;
  label: string;
  mode: 'base-only' | 'ensemble' | 'sdedit';
  handoff?: number;
  strength?: number;
  [field: string]: unknown;
}

export interface ReportUnit {
  key: string;
  condition: ReportCondition;
  prompt: PromptInstance;
  seed: number;
}

export interface ReportSample {
  key: string;
  /** relative to the run folder */
  imagePath: string | null;
  imageSha256: string | null;
  status: 'ok' | 'failed';
  error: string | null;
}

export interface ReportScore {
  sampleKey: string;
  scorer: string;
  scorerVersion: string;
  metric: string;
  value: number | null;
  label?: string;
  detail?: unknown;
}

export interface ReportMetric extends MetricMeta {
  scorer: string;
  scorerVersion: string;
  /** true when the store had no metadata row and the kind was inferred from the values */
  inferred?: boolean;
}

/** Everything a report is built from. Tests may construct this directly. */
export interface RunRecords {
  /** absolute path, only used to read images; never written into the outputs */
  runDir: string;
  /** the run folder's name, shown in the report */
  runName: string;
  spec: Record<string, unknown> | null;
  manifest: Record<string, unknown> | null;
  units: ReportUnit[];
  samples: ReportSample[];
  scores: ReportScore[];
  metrics: ReportMetric[];
  /** the store's meta table (name → value) */
  storeMeta: Record<string, string>;
}

function readJsonObject(path: string): Record<string, unknown> | null {
  if (!existsSync(path)) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new UserError(`${path}: not valid JSON (${(error as Error).message})`, 'restore the file from the run or rerun the experiment');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new UserError(`${path}: expected a JSON object`);
  }
  return parsed as Record<string, unknown>;
}

function toCondition(raw: unknown, conditionId: string, unitKey: string): ReportCondition {
  if (raw === null || typeof raw !== 'object') throw new UserError(`unit ${unitKey}: stored condition is not an object`);
  const condition = raw as Record<string, unknown>;
  const mode = condition.mode;
  if (mode !== 'base-only' && mode !== 'ensemble' && mode !== 'sdedit') {
    throw new UserError(`unit ${unitKey}: condition ${conditionId} has unknown mode ${JSON.stringify(mode)}`);
  }
  return {
    ...condition,
    id: typeof condition.id === 'string' ? condition.id : conditionId,
    label: typeof condition.label === 'string' && condition.label !== '' ? condition.label : conditionId,
    mode,
  } as ReportCondition;
}

/** Opens the run folder's store read-only and collects its records. */
export function loadRunRecords(runDir: string): RunRecords {
  const paths = runPaths(runDir);
  if (!existsSync(paths.dir) || !statSync(paths.dir).isDirectory()) {
    throw new UserError(`run folder not found: ${runDir}`, 'pass the folder that `refinery run` wrote (it holds refinery.sqlite)');
  }
  if (!existsSync(paths.db)) {
    throw new UserError(`${runDir} is not a run folder: it has no refinery.sqlite`, 'pass the folder that `refinery run` or `refinery merge` wrote');
  }
  const store = RunStore.open(paths.db, { readonly: true });
  try {
    const units = [...store.units()].map((row) => ({
      key: row.key,
      condition: toCondition(row.condition, row.conditionId, row.key),
      prompt: row.prompt,
      seed: row.seed,
    }));
    const samples = [...store.samples()].map((row) => ({
      key: row.key,
      imagePath: row.imagePath,
      imageSha256: row.imageSha256,
      status: row.status,
      error: row.error,
    }));
    const scores = store.scores().map((row) => {
      const score: ReportScore = { sampleKey: row.sampleKey, scorer: row.scorer, scorerVersion: row.scorerVersion, metric: row.metric, value: row.value };
      if (row.label !== undefined) score.label = row.label;
      if (row.detail !== undefined) score.detail = row.detail;
      return score;
    });
    return {
      runDir: paths.dir,
      runName: basename(resolve(runDir)),
      spec: readJsonObject(paths.spec),
      manifest: readJsonObject(paths.manifest),
      units,
      samples,
      scores,
      metrics: store.metrics(),
      storeMeta: store.allMeta(),
    };
  } finally {
    store.close();
  }
}
