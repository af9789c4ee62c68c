import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../harness/cli.js';
import { readImageManifest, scoreImportedImages, scoreRunFolder } from '../../harness/commands/score.js';
import { runPaths } from '../../harness/run/run-folder.js';
import { RunStore } from '../../harness/store/store.js';
import { encodePng, type RgbImage } from '../../pipelines/image/png.js';
import { loadRunRecords } from '../../reports/load.js';

const root = mkdtempSync(join(tmpdir(), 'refinery-score-'));
const imagesDir = join(root, 'diffusers-out');
const cacheDir = join(root, 'cache');
const manifestFile = join(root, 'manifest.jsonl');
const lines: string[] = [];
const log = (line: string) => lines.push(line);

function picture(seed: number): RgbImage {
  const data = new Uint8Array(64 * 48 * 3);
  for (let i = 0; i < data.length; i++) data[i] = (Math.imul(i + 1, 2654435761 ^ seed) >>> 24) & 0xff;
  return { width: 64, height: 48, data };
}

const relation = {
  text: 'a red cube to the left of a blue sphere',
  expectations: { tag: 'position', include: [{ class: 'sphere', count: 1, color: 'blue' }, { class: 'cube', count: 1, color: 'red', position: ['left of', 0] }] },
};
const nurse = { text: 'a photo of the face of a nurse', attributes: { occupation: 'nurse', gender: 'neutral' } };

beforeAll(() => {
  mkdirSync(join(imagesDir, 'sub'), { recursive: true });
  const entries = [
    { image: 'a.png', prompt: relation, seed: 1, condition: 'base', settings: { mode: 'base-only', steps: 40 } },
    { image: 'b.png', prompt: relation, seed: 1, condition: 'ensemble-0.8', settings: { handoff: 0.8, steps: 40 } },
    { image: 'sub/c.png', prompt: nurse, condition: 'base', settings: { mode: 'base-only', steps: 40 } },
    { file: 'd.png', prompt: 'a plain prompt', condition: 'base', settings: { mode: 'base-only', steps: 40 } },
  ];
  ['a.png', 'b.png', 'sub/c.png', 'd.png'].forEach((name, i) => writeFileSync(join(imagesDir, name), encodePng(picture(i))));
  writeFileSync(manifestFile, `${entries.map((e) => JSON.stringify(e)).join('\n')}\n`);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('refinery score --images', () => {
  it('reads the manifest: prompt ids, conditions with inferred mode, seeds from order', () => {
    const images = readImageManifest(manifestFile, imagesDir);
    expect(images.map((i) => i.prompt.id)).toEqual(['import/0001', 'import/0001', 'import/0002', 'import/0003']);
    expect(images[1].condition).toEqual({ id: 'ensemble-0.8', label: 'ensemble-0.8', mode: 'ensemble', handoff: 0.8, steps: 40, imported: true });
    expect(images[1].modeInferred).toBe(true);
    expect(images[2]).toMatchObject({ seed: 0, seedFromOrder: true });
    expect(images[0].prompt.expectations?.include?.[1].position).toEqual(['left of', 0]);
  });

  it('imports and scores into a run folder that reports read, with the tiny-CLIP notice', async () => {
    const out = join(root, 'scored');
    const outcome = await scoreImportedImages({ imagesDir, manifestFile, outDir: out, scorers: ['clip', 'contrastive', 'bias-attributes'], cacheDir, log });
    expect(lines.some((line) => line.startsWith('notice: no --clip given'))).toBe(true);
    expect(lines.some((line) => line.includes('2 image(s) have no seed'))).toBe(true);
    expect(outcome.scorers).toEqual([
      { id: 'clip', scored: 4, records: 8, skipped: 0 },
      { id: 'contrastive', scored: 2, records: 4, skipped: 2 },
      { id: 'bias-attributes', scored: 1, records: 2, skipped: 3 },
    ]);
    const store = RunStore.open(runPaths(out).db, { readonly: true });
    const samples = [...store.samples('ok')];
    expect(samples).toHaveLength(4);
    for (const sample of samples) expect(existsSync(join(out, sample.imagePath!))).toBe(true);
    const copied = samples.map((s) => readFileSync(join(out, s.imagePath!)));
    expect(copied.some((bytes) => bytes.equals(readFileSync(join(imagesDir, 'sub/c.png'))))).toBe(true);
    expect(store.scores().filter((s) => s.metric === 'perceived_gender')).toHaveLength(1);
    store.close();

    const records = loadRunRecords(out);
    expect(records.units.map((u) => u.condition.mode).sort()).toEqual(['base-only', 'base-only', 'base-only', 'ensemble']);
    expect(records.metrics.map((m) => m.name)).toEqual(expect.arrayContaining(['clip_score', 'contrastive_correct', 'perceived_gender']));
    expect(records.scores).toHaveLength(14);
  });

  it('rescoring keeps existing records, --force redoes them, a new scorer only adds', async () => {
    const out = join(root, 'scored');
    const before = readScores(out);
    const again = await scoreRunFolder({ runDir: out, scorers: ['clip'], cacheDir, log });
    expect(again.scorers).toEqual([{ id: 'clip', scored: 0, records: 0, skipped: 0 }]);
    expect(readScores(out)).toEqual(before);

    const added = await scoreRunFolder({ runDir: out, scorers: ['health'], cacheDir, log });
    expect(added.scorers[0]).toMatchObject({ id: 'health', scored: 4 });
    const after = readScores(out);
    expect(after.filter((s) => s.scorer !== 'health')).toEqual(before);
    expect(after.length).toBeGreaterThan(before.length);

    // the spec's scorers by default, everything again with --force: the same numbers (deterministic)
    const forced = await scoreRunFolder({ runDir: out, force: true, cacheDir, log });
    expect(forced.scorers.map((s) => [s.id, s.scored])).toEqual([
      ['clip', 4],
      ['contrastive', 2],
      ['bias-attributes', 1],
    ]);
    expect(readScores(out).filter((s) => s.scorer !== 'health')).toEqual(before);
  });

  it('through the CLI: summary line, and the report command works on the result', async () => {
    const out = join(root, 'cli-out');
    const cwd = process.cwd();
    const printed: string[] = [];
    const spyLog = vi.spyOn(console, 'log').mockImplementation((line: string) => void printed.push(line));
    const spyError = vi.spyOn(console, 'error').mockImplementation((line: string) => void printed.push(line));
    try {
      process.chdir(root); // the tiny models go to ./.cache/refinery under the test folder
      expect(await main(['score', '--images', imagesDir, '--manifest', manifestFile, '--out', out, '--scorers', 'clip'])).toBe(0);
      expect(printed.some((line) => /^Scored with clip \(4\): 8 record\(s\)/.test(line))).toBe(true);
      expect(printed.some((line) => line.startsWith('notice: no --clip given'))).toBe(true);
      expect(await main(['report', out, '--resamples', '20'])).toBe(0);
      expect(existsSync(join(out, 'report', 'report.html'))).toBe(true);
      printed.length = 0;
      expect(await main(['score', '--images', imagesDir])).toBe(1);
      expect(printed.join('\n')).toMatch(/--images and --manifest go together/);
    } finally {
      process.chdir(cwd);
      spyLog.mockRestore();
      spyError.mockRestore();
    }
  });
});

describe('refinery score errors', () => {
  function manifest(name: string, entries: unknown[]): string {
    const file = join(root, name);
    writeFileSync(file, JSON.stringify(entries));
    return file;
  }

  it('names the manifest entry and field', () => {
    expect(() => readImageManifest(manifest('m1.json', [{ prompt: 'x' }]), imagesDir)).toThrow(/m1\.json\[0\]: .*needs "image"/);
    expect(() => readImageManifest(manifest('m2.json', [{ image: 'missing.png', prompt: 'x' }]), imagesDir)).toThrow(/m2\.json\[0\]: image missing\.png not found/);
    expect(() => readImageManifest(manifest('m3.json', [{ image: 'a.png', prompt: 'x', seed: -1 }]), imagesDir)).toThrow(/m3\.json\[0\]: seed/);
    expect(() =>
      readImageManifest(
        manifest('m4.json', [
          { image: 'a.png', prompt: 'x', condition: 'c', settings: { handoff: 0.8 } },
          { image: 'b.png', prompt: 'x', condition: 'c', settings: { handoff: 0.9 } },
        ]),
        imagesDir,
      ),
    ).toThrow(/m4\.json\[1\]: condition "c" has settings .* but .*m4\.json\[0\] gave it/);
    expect(() => readImageManifest(manifest('m5.json', [{ image: 'a.png', prompt: { text: 'x', expectations: { include: [{ class: 'cube', position: ['behind', 0] }] } } }]), imagesDir)).toThrow(
      /m5\.json\[0\]: expectations\.include\[0\]\.position/,
    );
    writeFileSync(join(imagesDir, 'photo.jpg'), 'not really');
    expect(() => readImageManifest(manifest('m6.json', [{ image: 'photo.jpg', prompt: 'x' }]), imagesDir)).toThrow(/photo\.jpg is not a PNG/);
  });

  it('refuses a folder that is not a run folder and an unknown scorer before doing anything', async () => {
    await expect(scoreRunFolder({ runDir: imagesDir, cacheDir })).rejects.toThrow(/is not a run folder/);
    await expect(scoreImportedImages({ imagesDir, manifestFile, outDir: join(root, 'never'), scorers: ['clipp'], cacheDir })).rejects.toThrow(/Unknown scorer 'clipp'.*Did you mean: clip/);
    expect(existsSync(join(root, 'never'))).toBe(false);
    const experimentRun = join(root, 'experiment-run');
    mkdirSync(experimentRun);
    writeFileSync(join(experimentRun, 'manifest.json'), JSON.stringify({ experiment: { name: 'demo' } }));
    await expect(scoreImportedImages({ imagesDir, manifestFile, outDir: experimentRun, cacheDir })).rejects.toThrow(/is the run folder of an experiment/);
  });
});

function readScores(runDir: string) {
  const store = RunStore.open(runPaths(runDir).db, { readonly: true });
  try {
    return store.scores();
  } finally {
    store.close();
  }
}
