import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RunLock } from '../../harness/run/lock.js';
import { mergeRuns } from '../../harness/run/merge.js';
import { countEvaluations, parseShard, planTrajectories, shardUnits, unetCallsFor } from '../../harness/run/planner.js';
import { runExperiment, type RunOptions } from '../../harness/run/run-experiment.js';
import { formatStatus, runStatus } from '../../harness/run/status.js';
import { RunStore } from '../../harness/store/store.js';
import { defaultDependencies } from '../../harness/run/dependencies.js';
import { collectingSink, condition, fakeDependencies, makeUnits, testPlaces, writeExperiment } from './run-fixtures.js';

describe('shard planning', () => {
  const units = makeUnits(['a', 'b', 'c', 'd', 'e'], [1, 2, 3], ['base-only', { handoff: 0.8 }, { strength: 0.3 }]);

  it('parses i/N and refuses anything else with the flag named', () => {
    expect(parseShard('1/4')).toEqual({ index: 1, count: 4 });
    for (const bad of ['4/4', '-1/2', '1', 'a/b', '0/0']) expect(() => parseShard(bad)).toThrow(/--shard: expected i\/N/);
  });

  it('partitions units into disjoint, complete shards that keep trajectories whole', () => {
    for (const count of [1, 2, 3, 4, 7]) {
      const shards = Array.from({ length: count }, (_, index) => shardUnits(units, { index, count }));
      const keys = shards.flatMap((shard) => shard.map((unit) => unit.key));
      expect(new Set(keys).size).toBe(units.length);
      expect(keys).toHaveLength(units.length);
      const owner = new Map<string, number>();
      shards.forEach((shard, index) => {
        for (const unit of shard) {
          expect(owner.get(unit.trajectoryKey) ?? index).toBe(index);
          owner.set(unit.trajectoryKey, index);
        }
      });
      // 15 equal trajectories dealt to the least loaded: sizes differ by at most one trajectory
      const sizes = shards.map((shard) => new Set(shard.map((unit) => unit.trajectoryKey)).size);
      expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    }
  });

  it('gives every process the same slice whatever the order of units', () => {
    const reversed = [...units].reverse();
    for (let index = 0; index < 3; index++) {
      const a = shardUnits(units, { index, count: 3 }).map((u) => u.key).sort();
      const b = shardUnits(reversed, { index, count: 3 }).map((u) => u.key).sort();
      expect(b).toEqual(a);
    }
  });

  it('counts UNet evaluations as diffusers splits a 40-step leading schedule: 80 shared vs 200 independent', () => {
    const sweep = makeUnits(['p'], [1], ['base-only', { handoff: 0.9 }, { handoff: 0.8 }, { handoff: 0.7 }, { handoff: 0.6 }]).map((unit) => ({
      ...unit,
      condition: { ...unit.condition, steps: 40 },
    }));
    // SDXL's EulerDiscrete (leading, steps_offset 1): timesteps 976, 951, …, 1; h = 0.8 → t ≥ 200 → 32 base steps
    expect(unetCallsFor(condition({ handoff: 0.8 }, { steps: 40 }))).toEqual({ base: 32, refiner: 8 });
    expect(unetCallsFor(condition({ strength: 0.3 }, { steps: 40 }))).toEqual({ base: 40, refiner: 12 });
    const counts = countEvaluations(planTrajectories(sweep));
    expect(counts.shared.total).toBe(80);
    expect(counts.independent.total).toBe(200);
  });
});

describe('shards end to end (fake pipeline)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'refinery-shard-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  async function run(options: Partial<RunOptions> & { file: string }) {
    const stdout = collectingSink();
    const stderr = collectingSink();
    const outcome = await runExperiment({ quiet: true, ...options }, fakeDependencies(), { stdout, stderr });
    return { ...outcome, stdout: stdout.text() };
  }

  function shaByKey(runDir: string): Map<string, string> {
    const store = RunStore.open(join(runDir, 'refinery.sqlite'), { readonly: true });
    try {
      return new Map([...store.samples()].map((sample) => [sample.key, sample.imageSha256!]));
    } finally {
      store.close();
    }
  }

  it('shard 0/2 + shard 1/2 + merge equals a single run (same keys, same image hashes)', async () => {
    const file = writeExperiment(dir);
    const single = await run({ file, out: join(dir, 'single') });
    const shard0 = await run({ file, out: join(dir, 'sharded'), shard: '0/2' });
    // run settings may differ between machines (batch, order): they change no image
    const shard1 = await run({ file, out: join(dir, 'sharded'), shard: '1/2', batch: 3, lowMemory: true });
    expect(shard0.runDir).toBe(join(dir, 'sharded', 'shard-0-of-2'));
    expect(shard1.runDir).toBe(join(dir, 'sharded', 'shard-1-of-2'));
    expect(shard0.stdout).toMatch(/refinery merge .*shard-\*-of-2 --out/);

    const statusLines = formatStatus(runStatus([join(dir, 'sharded')]));
    expect(statusLines.at(-1)).toMatch(/^total\s+24\s+24\s+0\s+0\s+complete$/);

    const merged = mergeRuns([join(dir, 'sharded')], join(dir, 'merged'));
    expect(merged).toMatchObject({ units: 24, samples: 24, images: 24, missingShards: [], totalUnits: 24 });
    const expected = shaByKey(single.runDir);
    expect(expected.size).toBe(24);
    expect(shaByKey(merged.outDir)).toEqual(expected);
    expect(readdirSync(join(merged.outDir, 'images')).sort()).toEqual([...expected.keys()].map((k) => `${k}.png`).sort());
    const manifest = JSON.parse(readFileSync(join(merged.outDir, 'manifest.json'), 'utf8'));
    expect(manifest.mergedFrom).toHaveLength(2);
    expect(manifest.shard).toBeNull();
    expect(existsSync(join(merged.outDir, 'spec.json'))).toBe(true);
  });

  it('refuses to merge different experiments, the same shard twice, overlapping splits, or into an existing run', async () => {
    const file = writeExperiment(dir);
    const other = writeExperiment(dir, { name: 'other', seeds: [7] });
    const a0 = (await run({ file, out: join(dir, 'a'), shard: '0/2' })).runDir;
    const a1 = (await run({ file, out: join(dir, 'a'), shard: '1/2' })).runDir;
    const b0 = (await run({ file: other, out: join(dir, 'b'), shard: '0/2' })).runDir;
    const c0 = (await run({ file, out: join(dir, 'c'), shard: '0/3' })).runDir;
    expect(() => mergeRuns([a0, b0], join(dir, 'm1'))).toThrow(/cannot merge runs of different experiments/);
    const retitled = (await run({ file, out: join(dir, 'd'), shard: '1/2', set: ['report.title=Another title'] })).runDir;
    expect(() => mergeRuns([a0, retitled], join(dir, 'm0'))).toThrow(/cannot merge runs of different experiments: .* \(spec [0-9a-f]{12}, units ([0-9a-f]{12})\) but .* \(spec [0-9a-f]{12}, units \1\)/);
    expect(() => mergeRuns([a0, a0], join(dir, 'm2'))).toThrow(/are the same shard \(0\/2\)/);
    expect(() => mergeRuns([a0, c0], join(dir, 'm3'))).toThrow(/different splits/);
    mergeRuns([a0, a1], join(dir, 'm4'));
    expect(() => mergeRuns([a0, a1], join(dir, 'm4'))).toThrow(/already holds a run/);
    const partial = mergeRuns([a0], join(dir, 'm5'));
    expect(partial.missingShards).toEqual(['1/2']);
    // a damaged shard is refused before anything is written
    const victim = readdirSync(join(a1, 'images'))[0];
    writeFileSync(join(a1, 'images', victim), 'not the image');
    expect(() => mergeRuns([a0, a1], join(dir, 'm6'))).toThrow(new RegExp(`${victim} does not match the sha256 its shard recorded`));
    expect(existsSync(join(dir, 'm6'))).toBe(false);
    expect(readdirSync(dir).filter((name) => name.startsWith('.tmp-'))).toEqual([]);
  });

  it('status counts missing units of shards that have not started', async () => {
    const file = writeExperiment(dir);
    await run({ file, out: join(dir, 's'), shard: '1/3' });
    const status = runStatus([join(dir, 's')]);
    expect(status.notStarted).toEqual(['0/3', '2/3']);
    expect(status.total.units).toBe(24);
    expect(status.total.missing).toBe(24 - status.total.ok);
    expect(formatStatus(status).join('\n')).toMatch(/\(none\)\s+0\/3.*not started/);
  });

  it('refuses a second process on the same run folder but lets another shard run beside it', async () => {
    const file = writeExperiment(dir);
    mkdirSync(join(dir, 'busy', 'shard-0-of-2'), { recursive: true });
    const holder = RunLock.acquire(join(dir, 'busy', 'shard-0-of-2'));
    try {
      await expect(run({ file, out: join(dir, 'busy'), shard: '0/2' })).rejects.toThrow(
        new RegExp(`run folder .*shard-0-of-2 is in use by pid ${process.pid}.*run a different shard \\(--shard i/N\\)`),
      );
      const other = await run({ file, out: join(dir, 'busy'), shard: '1/2' });
      expect(other.exitCode).toBe(0);
    } finally {
      holder.release();
    }
  });

  it('refuses to resume a folder that holds a different experiment or another shard', async () => {
    const file = writeExperiment(dir);
    const other = writeExperiment(dir, { name: 'other', seeds: [7] });
    await run({ file, out: join(dir, 'x') });
    await expect(run({ file: other, out: join(dir, 'x') })).rejects.toThrow(/holds a run of a different experiment \("fake-run", 24 units/);
    await run({ file, out: join(dir, 'y'), shard: '0/2' });
    await expect(run({ file, out: join(dir, 'y', 'shard-0-of-2') })).rejects.toThrow(/holds shard 0\/2 of this experiment, but this command runs it unsharded/);
  });
});

describe('shards end to end (tiny SDXL pipeline)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'refinery-shard-tiny-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('shard 0/2 + shard 1/2 + merge has the same keys and image hashes as one run', async () => {
    const file = writeExperiment(dir, { prompts: ['a red cube left of a blue ball', 'a cat above a dog'], seeds: [5] });
    const deps = await defaultDependencies(testPlaces);
    const run = (options: Partial<RunOptions>) =>
      runExperiment({ file, quiet: true, noReport: true, ...options }, deps, { stdout: collectingSink(), stderr: collectingSink() });
    const single = await run({ out: join(dir, 'single') });
    await run({ out: join(dir, 'sharded'), shard: '0/2' });
    await run({ out: join(dir, 'sharded'), shard: '1/2' });
    const merged = mergeRuns([join(dir, 'sharded', 'shard-1-of-2'), join(dir, 'sharded', 'shard-0-of-2')], join(dir, 'merged'));
    const read = (runDir: string) => {
      const store = RunStore.open(join(runDir, 'refinery.sqlite'), { readonly: true });
      try {
        return new Map([...store.samples()].map((sample) => [sample.key, sample.imageSha256]));
      } finally {
        store.close();
      }
    };
    const expected = read(single.runDir);
    expect(expected.size).toBe(8);
    expect(read(merged.outDir)).toEqual(expected);
  });
});
