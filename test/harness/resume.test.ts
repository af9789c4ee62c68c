import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodePng } from '../../pipelines/image/png.js';
import { LOCK_FILE } from '../../harness/run/lock.js';
import { runExperiment } from '../../harness/run/run-experiment.js';
import { RunStore } from '../../harness/store/store.js';
import { collectingSink, fakeDependencies, FakeScorer, writeExperiment } from './run-fixtures.js';

const root = resolve(import.meta.dirname, '../..');

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((done) => setTimeout(done, 10));
  }
}

function pngCount(dir: string): number {
  return existsSync(dir) ? readdirSync(dir).filter((name) => name.endsWith('.png') && !name.startsWith('.')).length : 0;
}

/** Checks the run folder's invariants: one row per unit, every ok image on disk, decodable, matching its hash. */
function checkRunFolder(runDir: string) {
  const store = RunStore.open(join(runDir, 'refinery.sqlite'), { readonly: true });
  try {
    const samples = [...store.samples()];
    expect(new Set(samples.map((s) => s.key)).size).toBe(samples.length);
    for (const sample of samples.filter((s) => s.status === 'ok')) {
      const bytes = readFileSync(join(runDir, sample.imagePath!));
      expect(createHash('sha256').update(bytes).digest('hex')).toBe(sample.imageSha256);
      expect(decodePng(bytes).image.width).toBe(64);
    }
    return { counts: store.counts(), scores: store.scores(), samples };
  } finally {
    store.close();
  }
}

describe('resume after kill -9 (child process, fake pipeline)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'refinery-resume-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('completes only the missing units: no duplicates, no truncated image, no lost score', async () => {
    const file = writeExperiment(dir, { prompts: ['a red cube', 'a cat above a dog', 'a green cup', 'two birds', 'a tall tree'], seeds: [1, 2, 3] });
    const out = join(dir, 'run');
    const script = `
      const { runExperiment } = await import(${JSON.stringify(join(root, 'harness/run/run-experiment.ts'))});
      const { fakeDependencies, FakeGenerator, FakeScorer } = await import(${JSON.stringify(join(root, 'test/harness/run-fixtures.ts'))});
      const slow = () => new FakeGenerator({ onGenerate: () => new Promise((done) => setTimeout(done, 30)) });
      const deps = fakeDependencies({ generator: slow, scorers: () => [new FakeScorer()] });
      await runExperiment({ file: ${JSON.stringify(file)}, out: ${JSON.stringify(out)}, batch: 1 }, deps, { stdout: process.stdout, stderr: process.stderr });
      console.log('FINISHED');
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<NodeJS.Signals | null>((done) => child.once('exit', (_code, signal) => done(signal)));
    await waitFor(() => pngCount(join(out, 'images')) >= 6, 30_000);
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    expect(output).not.toContain('FINISHED');

    const before = checkRunFolder(out);
    expect(before.counts.ok).toBeGreaterThan(0);
    expect(before.counts.missing).toBeGreaterThan(0);
    expect(existsSync(join(out, LOCK_FILE))).toBe(true);

    const stdout = collectingSink();
    const scorer = new FakeScorer();
    const outcome = await runExperiment({ file, out, batch: 1 }, fakeDependencies({ scorers: () => [scorer] }), { stdout, stderr: collectingSink() });
    expect(outcome.exitCode).toBe(0);
    expect(stdout.text()).toMatch(new RegExp(`Done: ${60 - before.counts.ok} image\\(s\\) made, ${before.counts.ok} skipped`));

    const after = checkRunFolder(out);
    expect(after.counts).toEqual({ units: 60, ok: 60, failed: 0, missing: 0 });
    expect(pngCount(join(out, 'images'))).toBe(60);
    expect(readdirSync(join(out, 'images')).filter((name) => name.startsWith('.'))).toEqual([]);
    // every image scored exactly once overall: by the killed run or, for the rest, by the resumed one
    expect(new Set(after.scores.map((s) => s.sampleKey)).size).toBe(60);
    expect(after.scores).toHaveLength(60);
    // images made before the kill were neither remade nor rescored unless their scores were lost with the process
    for (const sample of before.samples) expect(after.samples.find((s) => s.key === sample.key)).toEqual(sample);
    expect(scorer.scored.length).toBe(60 - before.scores.length);
    expect(existsSync(join(out, LOCK_FILE))).toBe(false);
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
    expect(manifest.sessions).toHaveLength(2);
    expect(manifest.sessions[0].endedAt).toBeNull();
    expect(manifest.sessions[1]).toMatchObject({ ok: 60 - before.counts.ok, failed: 0 });
  });
});

describe('resume after kill -9 of `refinery run` (tiny SDXL pipeline)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'refinery-resume-cli-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function cli(args: string[]) {
    const child = spawn(process.execPath, [join(root, 'bin/refinery.mjs'), ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => child.once('exit', (code, signal) => done({ code, signal })));
    return { child, exited, output: () => output };
  }

  it('reruns the same command to finish exactly the missing units', async () => {
    const file = writeExperiment(dir, { prompts: ['a red cube', 'a cat above a dog', 'a green cup'], seeds: [1, 2, 3] });
    const out = join(dir, 'run');
    const first = cli(['run', file, '--out', out, '--no-report']);
    await waitFor(() => pngCount(join(out, 'images')) >= 4, 60_000);
    first.child.kill('SIGKILL');
    expect((await first.exited).signal).toBe('SIGKILL');

    const before = checkRunFolder(out);
    expect(before.counts.missing).toBeGreaterThan(0);

    const second = cli(['run', file, '--out', out, '--no-report']);
    const { code } = await second.exited;
    expect(code, second.output()).toBe(0);
    expect(second.output()).toMatch(/took over a stale lock: pid \d+ is no longer running on this host/);
    expect(second.output()).toMatch(new RegExp(`${36 - before.counts.ok} unit\\(s\\) to run, ${before.counts.ok} already done`));

    const after = checkRunFolder(out);
    expect(after.counts).toEqual({ units: 36, ok: 36, failed: 0, missing: 0 });
    expect(pngCount(join(out, 'images'))).toBe(36);
    for (const sample of before.samples) expect(after.samples.find((s) => s.key === sample.key)).toEqual(sample);
    expect(existsSync(join(out, LOCK_FILE))).toBe(false);
  });
});
