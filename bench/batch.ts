/**
 * UNet batching benchmark: images per second of the experiment runner with `--batch 1`, `2` and `4`,
 * measured side by side in one process on the tiny models with a benchmark-size UNet. Every batch
 * size runs the same base-only units (distinct prompts, one seed each) into a fresh run folder, in
 * rotating order after a warm-up, so drift in machine load hits every size alike. Prints images/s per
 * batch size, the ratio to batch 1, and whether the images are bit-identical across batch sizes.
 *
 *   npx tsx bench/batch.ts [--unet-width 64] [--size 256] [--steps 20] [--images 8] [--rounds 2]
 *                          [--batches 1,2,4] [--cache-dir DIR]
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { defaultDependencies, type RunPlaces } from '../harness/run/dependencies.js';
import { execute, type ExecuteResult } from '../harness/run/executor.js';
import { Progress } from '../harness/run/progress.js';
import { ensureRunFolders, runPaths } from '../harness/run/run-folder.js';
import { RunStore } from '../harness/store/store.js';
import type { Unit } from '../harness/experiment/types.js';

const { values } = parseArgs({
  options: {
    'unet-width': { type: 'string', default: '64' },
    size: { type: 'string', default: '256' },
    steps: { type: 'string', default: '20' },
    images: { type: 'string', default: '8' },
    rounds: { type: 'string', default: '2' },
    batches: { type: 'string', default: '1,2,4' },
    'cache-dir': { type: 'string', default: resolve('.cache/refinery') },
  },
});

const steps = Number(values.steps);
const size = Number(values.size);
const imageCount = Number(values.images);
const rounds = Number(values.rounds);
const batchSizes = values.batches!.split(',').map(Number);
for (const [name, value] of [['--steps', steps], ['--size', size], ['--images', imageCount], ['--rounds', rounds], ...batchSizes.map((b) => ['--batches', b] as const)] as const) {
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name}: a whole number ≥ 1, got ${value}`);
}

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

async function main(places: RunPlaces, work: string): Promise<void> {
  const prompts = Array.from({ length: imageCount }, (_, i) => `a photo of object number ${i} on a plain table`);
  const file = join(work, 'batch.yaml');
  writeFileSync(
    file,
    [
      'name: batch-bench',
      'models: { base: tiny, refiner: tiny, device: cpu }',
      'prompts:',
      '  - inline:',
      ...prompts.map((prompt) => `      - ${JSON.stringify(prompt)}`),
      'seeds: [0]',
      `generation: { steps: ${steps}, width: ${size}, height: ${size} }`,
      'sweep: { mode: [base-only] }',
      'scorers: []',
      '',
    ].join('\n'),
  );
  const deps = await defaultDependencies(places);
  const spec = await deps.loadExperiment(file, []);
  const opened = await deps.openGenerator(spec, () => {});
  try {
    const units = await deps.expand(spec, opened.modelHashes);
    console.log(
      `tiny models, UNet width ${values['unet-width']}; ${size}x${size}, ${steps} steps, base-only, CFG on (UNet batch 2·B); ` +
        `${units.length} images per measurement, ${rounds} round(s), batch sizes ${batchSizes.join(', ')}`,
    );
    const sink = { write: () => true };
    let folderIndex = 0;
    const runOnce = async (batch: number, subset: readonly Unit[]): Promise<{ result: ExecuteResult; shas: Map<string, string | null> }> => {
      const paths = runPaths(join(work, `run-${folderIndex++}`));
      ensureRunFolders(paths);
      const store = RunStore.open(paths.db);
      try {
        const result = await execute({
          paths,
          store,
          progress: new Progress({ sink, quiet: true }),
          units: subset,
          shard: null,
          generator: opened.generator,
          scorers: [],
          batch,
          order: 'shared',
          failFast: true,
        });
        return { result, shas: new Map([...store.samples()].map((sample) => [sample.key, sample.imageSha256])) };
      } finally {
        store.close();
      }
    };

    // warm-up: sessions, allocations, every prompt's embeddings, and the largest batch's buffers
    await runOnce(Math.max(...batchSizes), units);

    const seconds = new Map<number, number[]>(batchSizes.map((b) => [b, []]));
    const reference = new Map<number, Map<string, string | null>>();
    for (let round = 0; round < rounds; round++) {
      // rotate which size goes first
      const order = batchSizes.map((_, i) => batchSizes[(i + round) % batchSizes.length]);
      for (const batch of order) {
        const { result, shas } = await runOnce(batch, units);
        if (result.ok !== units.length) throw new Error(`batch ${batch}: ${result.failed} unit(s) failed`);
        seconds.get(batch)!.push(result.seconds);
        if (!reference.has(batch)) reference.set(batch, shas);
      }
    }

    const baseline = median(seconds.get(batchSizes[0])!);
    for (const batch of batchSizes) {
      const runs = seconds.get(batch)!;
      const typical = median(runs);
      console.log(
        `batch ${batch}: ${(units.length / typical).toFixed(2)} images/s (median of ${runs.length}: ${typical.toFixed(2)} s for ${units.length} images; ` +
          `runs ${runs.map((s) => s.toFixed(2)).join(', ')} s); ${(baseline / typical).toFixed(2)}× batch ${batchSizes[0]}`,
      );
    }
    const first = reference.get(batchSizes[0])!;
    const identical = batchSizes.every((batch) => [...first].every(([key, sha]) => reference.get(batch)!.get(key) === sha));
    console.log(`images bit-identical across batch sizes ${batchSizes.join(', ')}: ${identical ? 'yes' : 'NO'}`);
  } finally {
    await opened.generator.dispose();
  }
}

const places: RunPlaces = { cacheDir: values['cache-dir']!, tinyModels: { unetWidth: Number(values['unet-width']) } };
const work = mkdtempSync(join(tmpdir(), 'refinery-bench-batch-'));
try {
  await main(places, work);
} finally {
  rmSync(work, { recursive: true, force: true });
}
