import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import * as atomicWrite from '../../pipelines/atomic-write.js';
import * as onnxWriter from '../../pipelines/onnx/writer.js';
import * as runAtomic from '../../harness/run/atomic.js';
import { mergeRuns } from '../../harness/run/merge.js';
import { runExperiment } from '../../harness/run/run-experiment.js';
import { collectingSink, fakeDependencies, writeExperiment } from './run-fixtures.js';

vi.mock('../../pipelines/atomic-write.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('../../pipelines/atomic-write.js')>();
  return { ...original, writeFileAtomic: vi.fn(original.writeFileAtomic) };
});

describe('atomic writes (one implementation)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'refinery-atomic-'));
    vi.mocked(atomicWrite.writeFileAtomic).mockClear();
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('is the same function for the run folder, the model writer and pipelines', () => {
    expect(runAtomic.writeFileAtomic).toBe(atomicWrite.writeFileAtomic);
    expect(onnxWriter.writeFileAtomic).toBe(atomicWrite.writeFileAtomic);
    expect(runAtomic.TEMP_PREFIX).toBe(atomicWrite.TEMP_PREFIX);
  });

  it('creates the folder, replaces the file whole and leaves no temporary file', () => {
    const path = join(dir, 'a', 'b', 'file.bin');
    atomicWrite.writeFileAtomic(path, new Uint8Array([1, 2, 3]));
    expect([...readFileSync(path)]).toEqual([1, 2, 3]);
    atomicWrite.writeFileAtomic(path, 'text');
    expect(readFileSync(path, 'utf8')).toBe('text');
    expect(readdirSync(dirname(path))).toEqual(['file.bin']);
  });

  it('removes its temporary file when the rename fails and keeps what was there', () => {
    const target = join(dir, 'taken');
    mkdirSync(target);
    writeFileSync(join(target, 'inside'), 'kept');
    expect(() => atomicWrite.writeFileAtomic(target, 'new')).toThrow();
    expect(readdirSync(dir)).toEqual(['taken']);
    expect(readFileSync(join(target, 'inside'), 'utf8')).toBe('kept');
  });

  it('merge writes every copied image through the atomic writer (temp, fsync, rename)', async () => {
    const file = writeExperiment(dir, { prompts: ['a red cube', 'a cat'], seeds: [1] });
    for (const shard of ['0/2', '1/2']) {
      await runExperiment({ file, out: join(dir, 'sharded'), shard, quiet: true, determinismCheck: false }, fakeDependencies(), { stdout: collectingSink(), stderr: collectingSink() });
    }
    vi.mocked(atomicWrite.writeFileAtomic).mockClear();
    const merged = mergeRuns([join(dir, 'sharded')], join(dir, 'merged'));
    expect(merged.images).toBe(8);
    const imageWrites = vi.mocked(atomicWrite.writeFileAtomic).mock.calls.map(([path]) => path).filter((path) => basename(dirname(path)) === 'images');
    expect(imageWrites.map((path) => basename(path)).sort()).toEqual(readdirSync(join(merged.outDir, 'images')).sort());
    expect(existsSync(join(merged.outDir, 'manifest.json'))).toBe(true);
  });
});
