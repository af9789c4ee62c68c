import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RunStore, type SampleRow, type UnitRow } from '../../harness/store/store.js';

function unit(key: string, trajectoryKey = `t-${key}`): UnitRow {
  return {
    key,
    conditionId: 'mode=ensemble,handoff=0.8',
    condition: { mode: 'ensemble', handoff: 0.8 },
    prompt: { id: `p/${key}`, text: `a photo of ${key}`, suite: 'inline', category: 'test' },
    seed: 1,
    trajectoryKey,
    shard: null,
  };
}

function okSample(key: string, sha = 'aa'): SampleRow {
  return {
    key,
    imagePath: `images/${key}.png`,
    imageSha256: sha,
    status: 'ok',
    error: null,
    timings: { total: 2, base: 1.5 },
    unetCalls: { base: 32, refiner: 8 },
    createdAt: new Date(0).toISOString(),
  };
}

function failedSample(key: string, error = 'NaN in latents'): SampleRow {
  return { ...okSample(key), imagePath: null, imageSha256: null, status: 'failed', error };
}

const scorer = { id: 'fake', version: '1' };

describe('RunStore', () => {
  let dir: string;
  let store: RunStore;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'refinery-store-'));
    store = RunStore.open(join(dir, 'refinery.sqlite'));
  });
  afterEach(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('uses WAL and keeps rows across reopen', () => {
    store.addUnits([unit('a'), unit('b')]);
    store.recordSample(okSample('a'));
    store.close();
    const db = new Database(join(dir, 'refinery.sqlite'), { readonly: true });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();
    store = RunStore.open(join(dir, 'refinery.sqlite'));
    expect(store.counts()).toEqual({ units: 2, ok: 1, failed: 0, missing: 1 });
    expect(store.unit('a')).toEqual(unit('a'));
    expect(store.sample('a')).toEqual(okSample('a'));
  });

  it('adds each unit once and lists only units without a sample as pending', () => {
    expect(store.addUnits([unit('a'), unit('b'), unit('c')])).toBe(3);
    expect(store.addUnits([unit('a'), unit('d')])).toBe(1);
    store.recordSample(okSample('a'));
    store.recordSample(failedSample('b'));
    expect(store.pendingUnits().map((u) => u.key)).toEqual(['c', 'd']);
    expect(store.pendingUnits({ retryFailed: true }).map((u) => u.key).sort()).toEqual(['b', 'c', 'd']);
    expect(store.counts()).toEqual({ units: 4, ok: 1, failed: 1, missing: 2 });
  });

  it('never replaces an ok sample but replaces a failed one (and its scores)', () => {
    store.addUnits([unit('a'), unit('b')]);
    expect(store.recordSample(okSample('a', 'first'))).toBe(true);
    expect(store.recordSample(okSample('a', 'second'))).toBe(false);
    expect(store.sample('a')?.imageSha256).toBe('first');
    store.recordSample(failedSample('b'));
    expect(store.recordSample(okSample('b', 'retried'))).toBe(true);
    expect(store.sample('b')).toMatchObject({ status: 'ok', imageSha256: 'retried', error: null });
    expect(store.counts()).toMatchObject({ ok: 2, failed: 0 });
  });

  it('rejects a sample for an unknown unit and an ok sample without an image', () => {
    expect(() => store.recordSample(okSample('nope'))).toThrow(/FOREIGN KEY/);
    store.addUnits([unit('a')]);
    expect(() => store.recordSample({ ...okSample('a'), imagePath: null })).toThrow(/needs imagePath/);
    expect(store.sample('a')).toBeUndefined();
  });

  it('writes scores and their markers all together or not at all', () => {
    store.addUnits([unit('a'), unit('b')]);
    store.recordSample(okSample('a'));
    store.recordSample(okSample('b'));
    expect(() =>
      store.recordScores(scorer, ['a', 'b'], [
        { sampleKey: 'a', scorer: 'fake', metric: 'm', value: 0.5 },
        { sampleKey: 'b', scorer: 'fake', metric: 'm', value: Number.NaN },
      ]),
    ).toThrow(/must be a number or null/);
    expect(store.scores()).toEqual([]);
    expect(store.unscoredSamples(scorer).map((s) => s.sample.key)).toEqual(['a', 'b']);

    store.recordScores(scorer, ['a', 'b'], [
      { sampleKey: 'a', scorer: 'fake', metric: 'm', value: 0.5, label: 'correct', detail: { boxes: [[1, 2]] } },
      { sampleKey: 'b', scorer: 'fake', metric: 'm', value: null, label: 'undetermined' },
    ]);
    expect(store.unscoredSamples(scorer)).toEqual([]);
    expect(store.scores('a')).toEqual([
      { sampleKey: 'a', scorer: 'fake', scorerVersion: '1', metric: 'm', value: 0.5, label: 'correct', detail: { boxes: [[1, 2]] } },
    ]);
    expect(store.scores('b')[0].value).toBeNull();
  });

  it('keeps one score per (sample, scorer, metric): a rescore replaces, a new version rescored', () => {
    store.addUnits([unit('a')]);
    store.recordSample(okSample('a'));
    store.recordScores(scorer, ['a'], [{ sampleKey: 'a', scorer: 'fake', metric: 'm', value: 1 }]);
    store.recordScores(scorer, ['a'], [{ sampleKey: 'a', scorer: 'fake', metric: 'm', value: 2 }]);
    expect(store.scores().map((s) => s.value)).toEqual([2]);
    const v2 = { id: 'fake', version: '2' };
    expect(store.unscoredSamples(v2).map((s) => s.sample.key)).toEqual(['a']);
    store.recordScores(v2, ['a'], [{ sampleKey: 'a', scorer: 'fake', metric: 'm', value: 3 }]);
    expect(store.scores()).toMatchObject([{ value: 3, scorerVersion: '2' }]);
    expect(() =>
      store.recordScores(scorer, ['a'], [
        { sampleKey: 'a', scorer: 'fake', metric: 'm', value: 1 },
        { sampleKey: 'a', scorer: 'fake', metric: 'm', value: 1 },
      ]),
    ).toThrow(/UNIQUE/);
    expect(store.scores()).toMatchObject([{ value: 3 }]);
  });

  it('marks a sample scored even when the scorer had nothing to say about it', () => {
    store.addUnits([unit('a')]);
    store.recordSample(okSample('a'));
    store.recordScores(scorer, ['a'], []);
    expect(store.unscoredSamples(scorer)).toEqual([]);
  });

  it('refuses scores for samples the scorer was not given', () => {
    store.addUnits([unit('a'), unit('b')]);
    store.recordSample(okSample('a'));
    store.recordSample(okSample('b'));
    expect(() => store.recordScores(scorer, ['a'], [{ sampleKey: 'b', scorer: 'fake', metric: 'm', value: 1 }])).toThrow(/not given/);
  });

  it('keeps metric metadata unique across scorers', () => {
    const meta = { name: 'm', description: 'd', higherIsBetter: true, range: [0, 1] as [number, number], kind: 'continuous' as const };
    store.recordMetrics(scorer, [meta]);
    store.recordMetrics(scorer, [{ ...meta, description: 'updated' }]);
    expect(store.metrics()).toEqual([{ ...meta, description: 'updated', scorer: 'fake', scorerVersion: '1' }]);
    expect(() => store.recordMetrics({ id: 'other', version: '1' }, [meta])).toThrow(/declared by both/);
  });

  it('imports another store and refuses overlapping units without copying anything', () => {
    store.addUnits([unit('a')]);
    store.recordSample(okSample('a'));
    const other = RunStore.open(join(dir, 'other.sqlite'));
    other.addUnits([unit('b'), unit('c')]);
    other.recordSample(okSample('b'));
    other.recordScores(scorer, ['b'], [{ sampleKey: 'b', scorer: 'fake', metric: 'm', value: 1 }]);
    other.recordTiming('base', 1.25, 't-b');
    other.checkpoint();
    other.close();
    expect(store.importFrom(join(dir, 'other.sqlite'))).toEqual({ units: 2, samples: 1, scores: 1 });
    expect(store.counts()).toEqual({ units: 3, ok: 2, failed: 0, missing: 1 });
    expect(store.unscoredSamples(scorer).map((s) => s.sample.key)).toEqual(['a']);
    expect(store.timings()).toMatchObject([{ stage: 'base', seconds: 1.25, trajectoryKey: 't-b' }]);
    expect(() => store.importFrom(join(dir, 'other.sqlite'))).toThrow(/2 unit\(s\) are already in the merged run/);
    expect(store.counts().units).toBe(3);
  });

  it('keeps running totals of generation time and UNet evaluations', () => {
    expect(store.generationPace()).toBeNull();
    store.addGenerationPace(2, 40);
    store.addGenerationPace(1.5, 30);
    expect(store.generationPace()).toEqual({ seconds: 3.5, unetCalls: 70 });
  });
});
