/**
 * @module
 * The run store: one SQLite database per run folder (better-sqlite3, WAL). It is the truth about a run:
 * a unit is done exactly when its sample row exists, and a sample row is written only after its image
 * is safely on disk. Every write that must be all-or-nothing is one transaction.
 *
 * @example
 * const store = RunStore.open('runs/demo/refinery.sqlite');
 * store.addUnits(units);
 * for (const unit of store.pendingUnits()) { ... store.recordSample({ key: unit.key, status: 'ok', ... }); }
 * store.close();
 */
import Database from 'better-sqlite3';
import type { MetricMeta, ScoreRecord } from '../../probes/types.js';
import type { PromptInstance } from '../../datasets/types.js';

export const STORE_SCHEMA_VERSION = 1;

/** A unit as the store keeps it. `condition` is the condition as JSON-serialisable data. */
export interface UnitRow {
  key: string;
  conditionId: string;
  condition: unknown;
  prompt: PromptInstance;
  seed: number;
  trajectoryKey: string;
  /** "i/N" when the unit was run as part of a shard, null otherwise */
  shard: string | null;
}

export type SampleStatus = 'ok' | 'failed';

export interface SampleRow {
  key: string;
  /** path relative to the run folder, e.g. "images/<key>.png"; null for a failed unit */
  imagePath: string | null;
  imageSha256: string | null;
  status: SampleStatus;
  error: string | null;
  /** seconds per stage, as the pipeline reported them */
  timings: Record<string, number>;
  unetCalls: { base: number; refiner: number };
  /** ISO time */
  createdAt: string;
}

export interface ScorerIdentity {
  id: string;
  version: string;
}

export interface StoredScore extends ScoreRecord {
  scorerVersion: string;
}

export interface TimingRow {
  stage: string;
  seconds: number;
  trajectoryKey: string | null;
  createdAt: string;
}

export interface StoreCounts {
  units: number;
  ok: number;
  failed: number;
  missing: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (
  name TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS units (
  key TEXT PRIMARY KEY,
  condition_id TEXT NOT NULL,
  condition_json TEXT NOT NULL,
  prompt_json TEXT NOT NULL,
  seed INTEGER NOT NULL,
  trajectory_key TEXT NOT NULL,
  shard TEXT
);
CREATE INDEX IF NOT EXISTS units_by_trajectory ON units (trajectory_key);
CREATE TABLE IF NOT EXISTS samples (
  key TEXT PRIMARY KEY REFERENCES units (key),
  image_path TEXT,
  image_sha256 TEXT,
  status TEXT NOT NULL CHECK (status IN ('ok', 'failed')),
  error TEXT,
  timings_json TEXT NOT NULL,
  unet_calls_base INTEGER NOT NULL,
  unet_calls_refiner INTEGER NOT NULL,
  created_at TEXT NOT NULL,
  CHECK ((status = 'ok') = (image_path IS NOT NULL AND image_sha256 IS NOT NULL))
);
CREATE TABLE IF NOT EXISTS scores (
  sample_key TEXT NOT NULL REFERENCES samples (key),
  scorer TEXT NOT NULL,
  scorer_version TEXT NOT NULL,
  metric TEXT NOT NULL,
  value REAL,
  label TEXT,
  detail_json TEXT,
  UNIQUE (sample_key, scorer, metric)
);
-- one row per (sample, scorer) once that scorer has run on it, even when it returned no records
CREATE TABLE IF NOT EXISTS scored (
  sample_key TEXT NOT NULL REFERENCES samples (key),
  scorer TEXT NOT NULL,
  scorer_version TEXT NOT NULL,
  created_at TEXT NOT NULL,
  PRIMARY KEY (sample_key, scorer)
);
CREATE TABLE IF NOT EXISTS metrics (
  name TEXT PRIMARY KEY,
  scorer TEXT NOT NULL,
  scorer_version TEXT NOT NULL,
  meta_json TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS timings (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  stage TEXT NOT NULL,
  seconds REAL NOT NULL,
  trajectory_key TEXT,
  created_at TEXT NOT NULL
);
`;

interface UnitDbRow {
  key: string;
  condition_id: string;
  condition_json: string;
  prompt_json: string;
  seed: number;
  trajectory_key: string;
  shard: string | null;
}

interface SampleDbRow {
  key: string;
  image_path: string | null;
  image_sha256: string | null;
  status: SampleStatus;
  error: string | null;
  timings_json: string;
  unet_calls_base: number;
  unet_calls_refiner: number;
  created_at: string;
}

interface ScoreDbRow {
  sample_key: string;
  scorer: string;
  scorer_version: string;
  metric: string;
  value: number | null;
  label: string | null;
  detail_json: string | null;
}

function unitFromDb(row: UnitDbRow): UnitRow {
  return {
    key: row.key,
    conditionId: row.condition_id,
    condition: JSON.parse(row.condition_json),
    prompt: JSON.parse(row.prompt_json) as PromptInstance,
    seed: row.seed,
    trajectoryKey: row.trajectory_key,
    shard: row.shard,
  };
}

function sampleFromDb(row: SampleDbRow): SampleRow {
  return {
    key: row.key,
    imagePath: row.image_path,
    imageSha256: row.image_sha256,
    status: row.status,
    error: row.error,
    timings: JSON.parse(row.timings_json) as Record<string, number>,
    unetCalls: { base: row.unet_calls_base, refiner: row.unet_calls_refiner },
    createdAt: row.created_at,
  };
}

function scoreFromDb(row: ScoreDbRow): StoredScore {
  const score: StoredScore = {
    sampleKey: row.sample_key,
    scorer: row.scorer,
    scorerVersion: row.scorer_version,
    metric: row.metric,
    value: row.value,
  };
  if (row.label !== null) score.label = row.label;
  if (row.detail_json !== null) score.detail = JSON.parse(row.detail_json);
  return score;
}

function finiteOrNull(value: number | null, where: string): number | null {
  if (value === null) return null;
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw new Error(`${where}: score value must be a number or null, got ${String(value)}`);
  }
  return value;
}

export interface OpenStoreOptions {
  readonly?: boolean;
  /** ms to wait for another connection's write lock before failing (default 10 s) */
  busyTimeoutMs?: number;
}

export class RunStore {
  private constructor(
    private readonly db: Database.Database,
    readonly path: string,
  ) {}

  /** Opens (creating when missing, unless readonly) the store at `path`. */
  static open(path: string, options: OpenStoreOptions = {}): RunStore {
    const db = new Database(path, { readonly: options.readonly ?? false, fileMustExist: options.readonly ?? false });
    db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 10_000}`);
    if (!options.readonly) {
      db.pragma('journal_mode = WAL');
      // FULL: a committed sample survives power loss, not only a process crash
      db.pragma('synchronous = FULL');
      db.pragma('foreign_keys = ON');
      const version = db.pragma('user_version', { simple: true }) as number;
      if (version > STORE_SCHEMA_VERSION) {
        db.close();
        throw new Error(`${path}: store schema version ${version} is newer than this refinery (${STORE_SCHEMA_VERSION}); upgrade refinery`);
      }
      db.exec(SCHEMA);
      db.pragma(`user_version = ${STORE_SCHEMA_VERSION}`);
    }
    return new RunStore(db, path);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  getMeta(name: string): string | undefined {
    const row = this.db.prepare('SELECT value FROM meta WHERE name = ?').get(name) as { value: string } | undefined;
    return row?.value;
  }

  setMeta(name: string, value: string): void {
    this.db.prepare('INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value').run(name, value);
  }

  allMeta(): Record<string, string> {
    const rows = this.db.prepare('SELECT name, value FROM meta ORDER BY name').all() as { name: string; value: string }[];
    return Object.fromEntries(rows.map((row) => [row.name, row.value]));
  }

  /** Adds units that are not there yet (by key); returns how many were new. */
  addUnits(units: Iterable<UnitRow>): number {
    const insert = this.db.prepare(
      `INSERT INTO units (key, condition_id, condition_json, prompt_json, seed, trajectory_key, shard)
       VALUES (@key, @conditionId, @conditionJson, @promptJson, @seed, @trajectoryKey, @shard)
       ON CONFLICT (key) DO NOTHING`,
    );
    const insertAll = this.db.transaction((rows: Iterable<UnitRow>) => {
      let added = 0;
      for (const unit of rows) {
        added += insert.run({
          key: unit.key,
          conditionId: unit.conditionId,
          conditionJson: JSON.stringify(unit.condition),
          promptJson: JSON.stringify(unit.prompt),
          seed: unit.seed,
          trajectoryKey: unit.trajectoryKey,
          shard: unit.shard,
        }).changes;
      }
      return added;
    });
    return insertAll(units);
  }

  unit(key: string): UnitRow | undefined {
    const row = this.db.prepare('SELECT * FROM units WHERE key = ?').get(key) as UnitDbRow | undefined;
    return row && unitFromDb(row);
  }

  *units(): IterableIterator<UnitRow> {
    for (const row of this.db.prepare('SELECT * FROM units ORDER BY key').iterate() as IterableIterator<UnitDbRow>) {
      yield unitFromDb(row);
    }
  }

  unitKeys(): string[] {
    return this.db.prepare('SELECT key FROM units ORDER BY key').pluck().all() as string[];
  }

  /** Units with no sample row (and, with `retryFailed`, units whose sample failed). */
  pendingUnits(options: { retryFailed?: boolean } = {}): UnitRow[] {
    const rows = this.db
      .prepare(
        `SELECT u.* FROM units u LEFT JOIN samples s ON s.key = u.key
         WHERE s.key IS NULL ${options.retryFailed ? "OR s.status = 'failed'" : ''}
         ORDER BY u.trajectory_key, u.key`,
      )
      .all() as UnitDbRow[];
    return rows.map(unitFromDb);
  }

  /**
   * Records a unit's outcome in one transaction. A sample that is already `ok` is never replaced
   * (its image is the truth); a `failed` one is replaced, which is how `--retry-failed` works.
   * Returns false when an ok sample was already there.
   */
  recordSample(sample: SampleRow): boolean {
    if (sample.status === 'ok' && (!sample.imagePath || !sample.imageSha256)) {
      throw new Error(`sample ${sample.key}: an ok sample needs imagePath and imageSha256`);
    }
    const write = this.db.transaction((row: SampleRow) => {
      const existing = this.db.prepare('SELECT status FROM samples WHERE key = ?').get(row.key) as { status: SampleStatus } | undefined;
      if (existing?.status === 'ok') return false;
      if (existing) {
        this.db.prepare('DELETE FROM scores WHERE sample_key = ?').run(row.key);
        this.db.prepare('DELETE FROM scored WHERE sample_key = ?').run(row.key);
        this.db.prepare('DELETE FROM samples WHERE key = ?').run(row.key);
      }
      this.db
        .prepare(
          `INSERT INTO samples (key, image_path, image_sha256, status, error, timings_json, unet_calls_base, unet_calls_refiner, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          row.key,
          row.imagePath,
          row.imageSha256,
          row.status,
          row.error,
          JSON.stringify(row.timings),
          row.unetCalls.base,
          row.unetCalls.refiner,
          row.createdAt,
        );
      return true;
    });
    return write(sample);
  }

  sample(key: string): SampleRow | undefined {
    const row = this.db.prepare('SELECT * FROM samples WHERE key = ?').get(key) as SampleDbRow | undefined;
    return row && sampleFromDb(row);
  }

  *samples(status?: SampleStatus): IterableIterator<SampleRow> {
    const statement = status
      ? this.db.prepare('SELECT * FROM samples WHERE status = ? ORDER BY key').bind(status)
      : this.db.prepare('SELECT * FROM samples ORDER BY key');
    for (const row of statement.iterate() as IterableIterator<SampleDbRow>) yield sampleFromDb(row);
  }

  counts(): StoreCounts {
    const row = this.db
      .prepare(
        `SELECT COUNT(*) AS units,
                COALESCE(SUM(s.status = 'ok'), 0) AS ok,
                COALESCE(SUM(s.status = 'failed'), 0) AS failed,
                COALESCE(SUM(s.key IS NULL), 0) AS missing
         FROM units u LEFT JOIN samples s ON s.key = u.key`,
      )
      .get() as StoreCounts;
    return row;
  }

  /** Ok samples that `scorer` (at this version) has not scored yet, with their units. */
  unscoredSamples(scorer: ScorerIdentity): { unit: UnitRow; sample: SampleRow }[] {
    const rows = this.db
      .prepare(
        `SELECT u.key AS u_key, u.condition_id, u.condition_json, u.prompt_json, u.seed, u.trajectory_key, u.shard, s.*
         FROM samples s JOIN units u ON u.key = s.key
         LEFT JOIN scored d ON d.sample_key = s.key AND d.scorer = ? AND d.scorer_version = ?
         WHERE s.status = 'ok' AND d.sample_key IS NULL
         ORDER BY s.key`,
      )
      .all(scorer.id, scorer.version) as (SampleDbRow & UnitDbRow & { u_key: string })[];
    return rows.map((row) => ({ unit: unitFromDb({ ...row, key: row.u_key }), sample: sampleFromDb(row) }));
  }

  /**
   * Records what `scorer` found for the given samples, in one transaction: the scores (replacing
   * any from an older version of that scorer) and a marker per sample so it is not scored again.
   */
  recordScores(scorer: ScorerIdentity, sampleKeys: string[], records: ScoreRecord[]): void {
    const keys = new Set(sampleKeys);
    for (const record of records) {
      if (!keys.has(record.sampleKey)) {
        throw new Error(`scorer ${scorer.id} returned a score for ${record.sampleKey}, which it was not given`);
      }
      if (record.scorer !== scorer.id) {
        throw new Error(`scorer ${scorer.id} returned a record labelled scorer "${record.scorer}"`);
      }
    }
    const createdAt = new Date().toISOString();
    const write = this.db.transaction(() => {
      const clearScores = this.db.prepare('DELETE FROM scores WHERE sample_key = ? AND scorer = ?');
      const mark = this.db.prepare(
        `INSERT INTO scored (sample_key, scorer, scorer_version, created_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (sample_key, scorer) DO UPDATE SET scorer_version = excluded.scorer_version, created_at = excluded.created_at`,
      );
      for (const key of keys) {
        clearScores.run(key, scorer.id);
        mark.run(key, scorer.id, scorer.version, createdAt);
      }
      const insert = this.db.prepare(
        `INSERT INTO scores (sample_key, scorer, scorer_version, metric, value, label, detail_json) VALUES (?, ?, ?, ?, ?, ?, ?)`,
      );
      for (const record of records) {
        insert.run(
          record.sampleKey,
          scorer.id,
          scorer.version,
          record.metric,
          finiteOrNull(record.value, `scorer ${scorer.id}, metric ${record.metric}, sample ${record.sampleKey}`),
          record.label ?? null,
          record.detail === undefined ? null : JSON.stringify(record.detail),
        );
      }
    });
    write();
  }

  scores(sampleKey?: string): StoredScore[] {
    const rows = (
      sampleKey
        ? this.db.prepare('SELECT * FROM scores WHERE sample_key = ? ORDER BY scorer, metric').all(sampleKey)
        : this.db.prepare('SELECT * FROM scores ORDER BY sample_key, scorer, metric').all()
    ) as ScoreDbRow[];
    return rows.map(scoreFromDb);
  }

  /** Records (or updates) the metadata of a scorer's metrics. A metric name owned by another scorer is an error. */
  recordMetrics(scorer: ScorerIdentity, metrics: MetricMeta[]): void {
    const write = this.db.transaction(() => {
      for (const metric of metrics) {
        const owner = this.db.prepare('SELECT scorer FROM metrics WHERE name = ?').pluck().get(metric.name) as string | undefined;
        if (owner !== undefined && owner !== scorer.id) {
          throw new Error(`metric "${metric.name}" is declared by both scorer ${owner} and scorer ${scorer.id}; metric names must be unique`);
        }
        this.db
          .prepare(
            `INSERT INTO metrics (name, scorer, scorer_version, meta_json) VALUES (?, ?, ?, ?)
             ON CONFLICT (name) DO UPDATE SET scorer_version = excluded.scorer_version, meta_json = excluded.meta_json`,
          )
          .run(metric.name, scorer.id, scorer.version, JSON.stringify(metric));
      }
    });
    write();
  }

  metrics(): (MetricMeta & { scorer: string; scorerVersion: string })[] {
    const rows = this.db.prepare('SELECT * FROM metrics ORDER BY name').all() as { scorer: string; scorer_version: string; meta_json: string }[];
    return rows.map((row) => ({ ...(JSON.parse(row.meta_json) as MetricMeta), scorer: row.scorer, scorerVersion: row.scorer_version }));
  }

  recordTiming(stage: string, seconds: number, trajectoryKey: string | null = null): void {
    this.db
      .prepare('INSERT INTO timings (stage, seconds, trajectory_key, created_at) VALUES (?, ?, ?, ?)')
      .run(stage, seconds, trajectoryKey, new Date().toISOString());
  }

  timings(): TimingRow[] {
    const rows = this.db.prepare('SELECT stage, seconds, trajectory_key, created_at FROM timings ORDER BY id').all() as {
      stage: string;
      seconds: number;
      trajectory_key: string | null;
      created_at: string;
    }[];
    return rows.map((row) => ({ stage: row.stage, seconds: row.seconds, trajectoryKey: row.trajectory_key, createdAt: row.created_at }));
  }

  /** Adds wall time spent generating and the UNet evaluations it covered (running totals across sessions). */
  addGenerationPace(seconds: number, unetCalls: number): void {
    const pace = this.generationPace() ?? { seconds: 0, unetCalls: 0 };
    this.setMeta('generation_pace', JSON.stringify({ seconds: pace.seconds + seconds, unetCalls: pace.unetCalls + unetCalls }));
  }

  /** Total generation wall time and UNet evaluations recorded so far, or null before the first. */
  generationPace(): { seconds: number; unetCalls: number } | null {
    const text = this.getMeta('generation_pace');
    return text === undefined ? null : (JSON.parse(text) as { seconds: number; unetCalls: number });
  }

  /**
   * Copies every row of another store into this one, in one transaction. Unit keys that already
   * exist here are an error (overlapping or duplicate shards) and nothing is copied.
   */
  importFrom(sourcePath: string): { units: number; samples: number; scores: number } {
    const alias = 'source';
    this.db.prepare(`ATTACH DATABASE ? AS ${alias}`).run(sourcePath);
    try {
      const copy = this.db.transaction(() => {
        const overlap = this.db
          .prepare(`SELECT COUNT(*) FROM ${alias}.units s JOIN main.units m ON m.key = s.key`)
          .pluck()
          .get() as number;
        if (overlap > 0) throw new Error(`${sourcePath}: ${overlap} unit(s) are already in the merged run (overlapping or duplicate shards)`);
        const units = this.db.prepare(`INSERT INTO main.units SELECT * FROM ${alias}.units`).run().changes;
        const samples = this.db.prepare(`INSERT INTO main.samples SELECT * FROM ${alias}.samples`).run().changes;
        const scores = this.db.prepare(`INSERT INTO main.scores SELECT * FROM ${alias}.scores`).run().changes;
        this.db.prepare(`INSERT INTO main.scored SELECT * FROM ${alias}.scored`).run();
        this.db
          .prepare(
            `INSERT INTO main.metrics SELECT * FROM ${alias}.metrics WHERE true
             ON CONFLICT (name) DO UPDATE SET scorer_version = excluded.scorer_version, meta_json = excluded.meta_json`,
          )
          .run();
        this.db
          .prepare(`INSERT INTO main.timings (stage, seconds, trajectory_key, created_at) SELECT stage, seconds, trajectory_key, created_at FROM ${alias}.timings`)
          .run();
        return { units, samples, scores };
      });
      return copy();
    } finally {
      this.db.prepare(`DETACH DATABASE ${alias}`).run();
    }
  }

  /** Folds the WAL into the main file so the database is one self-contained file (before copying it). */
  checkpoint(): void {
    this.db.pragma('wal_checkpoint(TRUNCATE)');
  }
}
