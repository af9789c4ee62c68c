/**
 * `manifest.json`: where, when, with what and by which command a run's images were made. Written at the
 * start of every session and rewritten at its end (atomically).
 * @module
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { arch, cpus, hostname, platform, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DeterminismCheck, MergedDeterminism } from './determinism.js';

const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export interface SessionRecord {
  pid: number;
  host: string;
  commandLine: string[];
  startedAt: string;
  endedAt: string | null;
  /** 'shared' (both UNets resident, one generate per trajectory) or 'model-major' (low memory) */
  order: 'shared' | 'model-major';
  lowMemoryReason: string | null;
  unitsRun: number;
  ok: number;
  failed: number;
  peakRssBytes: number | null;
}

export interface RunManifest {
  refineryVersion: string;
  git: { commit: string | null; dirty: boolean | null };
  node: string;
  onnxruntime: string | null;
  platform: string;
  host: string;
  cpus: number;
  totalMemoryBytes: number;
  executionProvider: string;
  /** model identity and file sha256s as the pipeline reported them */
  models: unknown;
  generator: unknown;
  experiment: { name: string; specSha256: string; unitsSha256: string; totalUnits: number };
  shard: string | null;
  shardUnits: number;
  seeds: number[];
  startedAt: string;
  endedAt: string | null;
  commandLine: string[];
  sessions: SessionRecord[];
  /** the last determinism check (one unit regenerated alone and compared); merged runs hold one per shard */
  determinism?: DeterminismCheck | MergedDeterminism;
}

export function refineryVersion(): string {
  return (JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version: string }).version;
}

export function onnxruntimeVersion(): string | null {
  try {
    const require = createRequire(import.meta.url);
    return (require('onnxruntime-node/package.json') as { version: string }).version;
  } catch {
    return null;
  }
}

/** The git commit of the refinery checkout and whether it has uncommitted changes (nulls outside git). */
export function gitState(cwd = packageRoot): RunManifest['git'] {
  try {
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const status = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return { commit, dirty: status.trim().length > 0 };
  } catch {
    return { commit: null, dirty: null };
  }
}

export interface HostFacts {
  refineryVersion: string;
  git: RunManifest['git'];
  node: string;
  onnxruntime: string | null;
  platform: string;
  host: string;
  cpus: number;
  totalMemoryBytes: number;
}

export function hostFacts(): HostFacts {
  return {
    refineryVersion: refineryVersion(),
    git: gitState(),
    node: process.version,
    onnxruntime: onnxruntimeVersion(),
    platform: `${platform()}-${arch()}`,
    host: hostname(),
    cpus: cpus().length,
    totalMemoryBytes: totalmem(),
  };
}

/** Peak resident set size of this process so far, in bytes. */
export function peakRssBytes(): number {
  return process.resourceUsage().maxRSS * 1024;
}
