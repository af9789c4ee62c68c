/**
 * Sweep benchmark for the experiment runner, on the tiny models with a benchmark-size UNet.
 *
 * 1. Trajectory sharing: handoffs {1.0, 0.9, 0.8, 0.7, 0.6} at 40 steps for prompts × seeds, run
 *    through the executor twice — sharing one base trajectory per (prompt, seed) and every unit on its
 *    own — interleaved pair by pair (ABBA order) after a warm-up. Prints the UNet evaluations each way
 *    (diffusers arithmetic predicts 80 vs 200 per prompt-seed pair) and the wall-time ratio.
 * 2. Memory: `refinery run` of 100 and of 1,000 units, each in its own child process (peak RSS is per
 *    process), on the tiny pipeline at 64x64 with the health scorer; peak RSS must differ by < 20 %.
 *
 *   npx tsx bench/sweep.ts [--unet-width 64] [--size 256] [--prompts 2] [--seeds 2] [--skip-rss]
 *                          [--rss-units 100,1000] [--cache-dir DIR]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { defaultDependencies, type RunPlaces } from '../harness/run/dependencies.js';
import { execute, type ExecuteResult } from '../harness/run/executor.js';
import { countEvaluations, planTrajectories } from '../harness/run/planner.js';
import { Progress } from '../harness/run/progress.js';
import { runExperiment } from '../harness/run/run-experiment.js';
import { ensureRunFolders, runPaths } from '../harness/run/run-folder.js';
import { formatBytes } from '../harness/run/summary.js';
import { RunStore } from '../harness/store/store.js';
import type { Unit } from '../harness/experiment/types.js';

const { values } = parseArgs({
  options: {
    'unet-width': { type: 'string', default: '64' },
    size: { type: 'string', default: '256' },
    steps: { type: 'string', default: '40' },
    prompts: { type: 'string', default: '2' },
    seeds: { type: 'string', default: '2' },
    'skip-rss': { type: 'boolean', default: false },
    'rss-units': { type: 'string', default: '100,1000' },
    'cache-dir': { type: 'string', default: resolve('.cache/refinery') },
    // internal: run one memory measurement in this process and print its peak RSS as JSON
    'rss-child': { type: 'string' },
    work: { type: 'string' },
  },
});

const PROMPTS = [
  'a red cube to the left of a blue ball',
  'a photograph of an astronaut riding a horse',
  'a cat sitting above a sleeping dog',
  'a green cup on a wooden table',
  'two birds on a wire at sunset',
  'a lighthouse on a cliff in a storm',
];

function experimentYaml(name: string, prompts: string[], seeds: number[], generation: string, sweep: string, scorers = '[]', reference = 'base-only'): string {
  return [
    `name: ${name}`,
    'models: { base: tiny, refiner: tiny, device: cpu }',
    'prompts:',
    '  - inline:',
    ...prompts.map((prompt) => `      - ${JSON.stringify(prompt)}`),
    `seeds: ${JSON.stringify(seeds)}`,
    `generation: ${generation}`,
    `sweep: ${sweep}`,
    `scorers: ${scorers}`,
    `report: { reference_condition: ${JSON.stringify(reference)} }`,
    '',
  ].join('\n');
}

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Part 2, child side: one `refinery run` of N units; prints {"units", "peakRssBytes"}. */
async function rssChild(units: number, work: string, places: RunPlaces): Promise<void> {
  // two modes × two seeds per prompt; every prompt text distinct
  const prompts = Array.from({ length: units / 4 }, (_, i) => `a photo of object number ${i} on a plain table`);
  const file = join(work, `rss-${units}.yaml`);
  writeFileSync(file, experimentYaml(`rss-${units}`, prompts, [0, 1], '{ steps: 4, width: 64, height: 64 }', '{ mode: [base-only, { handoff: 0.5 }] }', '[health]'));
  const sink = { write: () => true };
  const outcome = await runExperiment({ file, out: join(work, `rss-${units}`), quiet: true, noReport: true }, await defaultDependencies(places), {
    stdout: sink,
    stderr: sink,
  });
  const store = RunStore.open(join(outcome.runDir, 'refinery.sqlite'), { readonly: true });
  const counts = store.counts();
  store.close();
  console.log(JSON.stringify({ units: counts.ok, peakRssBytes: process.resourceUsage().maxRSS * 1024 }));
}

async function sharingBenchmark(places: RunPlaces, work: string): Promise<void> {
  const steps = Number(values.steps);
  const size = Number(values.size);
  const prompts = PROMPTS.slice(0, Number(values.prompts));
  const seeds = Array.from({ length: Number(values.seeds) }, (_, i) => i);
  const file = join(work, 'sweep.yaml');
  writeFileSync(
    file,
    experimentYaml('sweep', prompts, seeds, `{ steps: ${steps}, width: ${size}, height: ${size} }`, '{ handoff: [1.0, 0.9, 0.8, 0.7, 0.6] }', '[]', 'handoff=1'),
  );
  const deps = await defaultDependencies(places);
  const spec = await deps.loadExperiment(file, []);
  const opened = await deps.openGenerator(spec, () => {});
  try {
    const units = await deps.expand(spec, opened.modelHashes);
    const plans = planTrajectories(units);
    const predicted = countEvaluations(plans);
    console.log(
      `tiny models, UNet width ${values['unet-width']}; ${size}x${size}, ${steps} steps, handoffs 1.0/0.9/0.8/0.7/0.6; ` +
        `${prompts.length} prompts × ${seeds.length} seeds = ${plans.length} trajectories, ${units.length} units`,
    );
    console.log(
      `predicted UNet evaluations per prompt-seed pair: ${predicted.shared.total / plans.length} shared vs ${predicted.independent.total / plans.length} independent`,
    );

    const folders = { shared: join(work, 'shared'), independent: join(work, 'independent'), warmup: join(work, 'warmup') };
    const stores = Object.fromEntries(
      Object.entries(folders).map(([name, dir]) => {
        const paths = runPaths(dir);
        ensureRunFolders(paths);
        return [name, { paths, store: RunStore.open(paths.db) }];
      }),
    ) as Record<keyof typeof folders, { paths: ReturnType<typeof runPaths>; store: RunStore }>;
    const sink = { write: () => true };
    const runOne = (which: keyof typeof folders, batch: Unit[], share: boolean): Promise<ExecuteResult> =>
      execute({
        ...stores[which],
        progress: new Progress({ sink, quiet: true }),
        units: batch,
        shard: null,
        generator: opened.generator,
        scorers: [],
        batch: 1,
        order: 'shared',
        failFast: true,
        ...(share ? {} : { canShareTrajectory: () => false }),
      });

    // warm-up: sessions, allocations, the first prompt's embeddings
    await runOne('warmup', plans[0].units.slice(0, 2).map((planned) => planned.unit), true);

    const rows: { shared: ExecuteResult; independent: ExecuteResult }[] = [];
    for (const [i, plan] of plans.entries()) {
      const batch = plan.units.map((planned) => planned.unit);
      // ABBA: alternate which order runs first so drift in machine load hits both equally
      const sharedFirst = i % 2 === 0;
      const first = await runOne(sharedFirst ? 'shared' : 'independent', batch, sharedFirst);
      const second = await runOne(sharedFirst ? 'independent' : 'shared', batch, !sharedFirst);
      const row = sharedFirst ? { shared: first, independent: second } : { shared: second, independent: first };
      rows.push(row);
      const calls = (r: ExecuteResult) => r.unetCalls.base + r.unetCalls.refiner;
      console.log(
        `pair ${i + 1} (${plan.spec.prompt.slice(0, 32)}…, seed ${plan.spec.seed}): UNet evaluations ${calls(row.shared)} shared vs ${calls(row.independent)} independent; ` +
          `wall ${row.shared.seconds.toFixed(2)} s vs ${row.independent.seconds.toFixed(2)} s`,
      );
    }
    const sum = (pick: (r: { shared: ExecuteResult; independent: ExecuteResult }) => number) => rows.reduce((total, row) => total + pick(row), 0);
    const sharedCalls = sum((r) => r.shared.unetCalls.base + r.shared.unetCalls.refiner);
    const independentCalls = sum((r) => r.independent.unetCalls.base + r.independent.unetCalls.refiner);
    const ratios = rows.map((r) => r.independent.seconds / r.shared.seconds);
    console.log(
      `UNet evaluations: ${sharedCalls} shared vs ${independentCalls} independent = ${(sharedCalls / rows.length).toFixed(0)} vs ${(independentCalls / rows.length).toFixed(0)} per pair, ` +
        `${(independentCalls / sharedCalls).toFixed(2)}× fewer with sharing`,
    );
    console.log(
      `wall time: ${sum((r) => r.shared.seconds).toFixed(2)} s shared vs ${sum((r) => r.independent.seconds).toFixed(2)} s independent; ` +
        `independent/shared per pair: median ${median(ratios).toFixed(2)}×, min ${Math.min(...ratios).toFixed(2)}×, max ${Math.max(...ratios).toFixed(2)}×`,
    );
    const identical = [...stores.shared.store.samples()].every((sample) => stores.independent.store.sample(sample.key)?.imageSha256 === sample.imageSha256);
    console.log(`images bit-identical between the two: ${identical ? 'yes' : 'NO'}`);
    for (const { store } of Object.values(stores)) store.close();
  } finally {
    await opened.generator.dispose();
  }
}

function rssBenchmark(work: string): void {
  const sizes = values['rss-units']!.split(',').map(Number);
  const results: { units: number; peakRssBytes: number }[] = [];
  for (const units of sizes) {
    if (!Number.isInteger(units) || units < 4 || units % 4 !== 0) throw new Error(`--rss-units: multiples of 4, got ${units}`);
    const started = performance.now();
    const child = spawnSync(
      process.execPath,
      ['--import', 'tsx', resolve(import.meta.dirname, 'sweep.ts'), '--rss-child', String(units), '--work', work, '--cache-dir', values['cache-dir']!],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
    );
    if (child.status !== 0) throw new Error(`the ${units}-unit child failed with status ${child.status}`);
    const result = JSON.parse(child.stdout.trim().split('\n').at(-1)!) as { units: number; peakRssBytes: number };
    results.push(result);
    console.log(`${result.units} units (tiny pipeline, 64x64, 4 steps, health scorer): peak RSS ${formatBytes(result.peakRssBytes)} (${((performance.now() - started) / 1000).toFixed(0)} s)`);
  }
  const [small, large] = [results[0], results[results.length - 1]];
  const change = (large.peakRssBytes - small.peakRssBytes) / small.peakRssBytes;
  console.log(`peak RSS ${large.units} vs ${small.units} units: ${(change * 100).toFixed(1)} % (must be < 20 %): ${Math.abs(change) < 0.2 ? 'ok' : 'FAILED'}`);
}

const places: RunPlaces = { cacheDir: values['cache-dir']!, tinyModels: { unetWidth: Number(values['unet-width']) } };
if (values['rss-child']) {
  await rssChild(Number(values['rss-child']), values.work!, { cacheDir: values['cache-dir']! });
} else {
  const work = mkdtempSync(join(tmpdir(), 'refinery-bench-sweep-'));
  try {
    await sharingBenchmark(places, work);
    if (!values['skip-rss']) rssBenchmark(work);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
