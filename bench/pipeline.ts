/**
 * Pipeline overhead benchmark: how much of the wall time per image is spent outside ONNX Runtime
 * (`session.run`) — tokenization, host-side scheduler / CFG loops, tensor conversion, pixel
 * conversion. Runs the tiny random-weight models with a wider UNet so that model time is not
 * negligible, at the real SDXL size (1024×1024, 40 steps, ensemble handoff 0.8). Goal: ≤ 5 %.
 * Also measures one shared base trajectory against independent runs for three branches.
 *
 * Two measures: wall time (what a user waits) and process CPU time. With `--threads 1` ONNX Runtime
 * computes on the calling thread, so CPU time outside `session.run` is exactly our host work and the
 * CPU share is independent of other load on the machine (wall time on a shared machine is not).
 * Per image it also reports the garbage-collection pauses (perf_hooks 'gc' entries), which the
 * host-side share includes when they fall outside `session.run`; the summary gives means and medians.
 *
 *   npx tsx bench/pipeline.ts [--unet-width 64] [--size 1024] [--steps 40] [--images 2] [--threads N] [--cache-dir DIR]
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { SdxlEnsemble, generateIndependently, type Branch, type BranchResult, type TrajectorySpec } from '../pipelines/ensemble.js';
import { encodePng } from '../pipelines/image/png.js';
import { ensureTinyModels } from '../pipelines/tiny/tiny-models.js';

const { values } = parseArgs({
  options: {
    'unet-width': { type: 'string', default: '64' },
    size: { type: 'string', default: '1024' },
    steps: { type: 'string', default: '40' },
    handoff: { type: 'string', default: '0.8' },
    images: { type: 'string', default: '2' },
    threads: { type: 'string' },
    'cache-dir': { type: 'string', default: join(tmpdir(), 'refinery-bench-models') },
  },
});
const unetWidth = Number(values['unet-width']);
const size = Number(values.size);
const steps = Number(values.steps);
const handoff = Number(values.handoff);
const images = Number(values.images);
const threads = values.threads ? Number(values.threads) : undefined;

const folders = await ensureTinyModels(values['cache-dir']!, { unetWidth });
const ensemble = await SdxlEnsemble.load({ base: folders.base, refiner: folders.refiner, ...(threads ? { intraOpNumThreads: threads } : {}) });
const spec = (seed: number): TrajectorySpec => ({
  prompt: 'a photograph of an astronaut riding a horse',
  negativePrompt: null,
  seed,
  steps,
  guidance: 5,
  scheduler: 'euler',
  width: size,
  height: size,
});
const branch: Branch = { mode: 'ensemble', handoff };

console.log(
  `tiny models, UNet width ${unetWidth}; ${size}x${size}, ${steps} steps, ensemble handoff ${handoff}; ORT intra-op threads ${threads ?? 'default'}; ${images} timed images after one warm-up`,
);
const percent = (part: number, whole: number) => `${((part / whole) * 100).toFixed(2)} %`;

// warm-up: session creation, first-run allocations, embedding cache for the prompt
await ensemble.generate(spec(0), [branch]);

let gcPauseMs = 0;
const gcObserver = new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) gcPauseMs += entry.duration;
});
gcObserver.observe({ entryTypes: ['gc'] });
const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};

let wallTotal = 0;
let runTotal = 0;
let cpuTotal = 0;
let runCpuTotal = 0;
let pngTotal = 0;
const wallShares: number[] = [];
const cpuShares: number[] = [];
const hostCpuMs: number[] = [];
for (let i = 1; i <= images; i++) {
  const before = await ensemble.sessionRunTotals();
  const gcBefore = gcPauseMs;
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const [result] = await ensemble.generate(spec(i), [branch]);
  const wall = performance.now() - started;
  const cpuUsed = process.cpuUsage(cpuBefore);
  const cpu = (cpuUsed.user + cpuUsed.system) / 1000;
  const after = await ensemble.sessionRunTotals();
  const inRun = after.wallMs - before.wallMs;
  const inRunCpu = after.cpuMs - before.cpuMs;
  // gc entries are delivered asynchronously: let the observer catch up before reading the total
  await new Promise((resolve) => setImmediate(resolve));
  const gc = gcPauseMs - gcBefore;
  wallShares.push((wall - inRun) / wall);
  cpuShares.push((cpu - inRunCpu) / cpu);
  hostCpuMs.push(cpu - inRunCpu);
  const pngStart = performance.now();
  encodePng(result.image!, result.pngTexts);
  const png = performance.now() - pngStart;
  wallTotal += wall;
  runTotal += inRun;
  cpuTotal += cpu;
  runCpuTotal += inRunCpu;
  pngTotal += png;
  const stages = Object.entries(result.timings)
    .map(([stage, seconds]) => `${stage} ${(seconds * 1000).toFixed(0)}`)
    .join(', ');
  console.log(
    `image ${i}: wall ${wall.toFixed(0)} ms, in session.run ${inRun.toFixed(0)} ms, outside ${(wall - inRun).toFixed(0)} ms = ${percent(wall - inRun, wall)}; ` +
      `CPU ${cpu.toFixed(0)} ms, outside session.run ${(cpu - inRunCpu).toFixed(0)} ms = ${percent(cpu - inRunCpu, cpu)}; GC pauses ${gc.toFixed(0)} ms  ` +
      `[${stages} ms; UNet calls ${result.unetCalls.base}+${result.unetCalls.refiner}; PNG encode ${png.toFixed(0)} ms, not counted]`,
  );
}
const wallOverhead = (wallTotal - runTotal) / wallTotal;
const cpuOverhead = (cpuTotal - runCpuTotal) / cpuTotal;
console.log(
  `mean per image: wall ${(wallTotal / images).toFixed(0)} ms (session.run ${(runTotal / images).toFixed(0)} ms), our wall overhead ${percent(wallTotal - runTotal, wallTotal)}; ` +
    `CPU ${(cpuTotal / images).toFixed(0)} ms, our CPU share ${percent(cpuTotal - runCpuTotal, cpuTotal)}; goal ≤ 5 %: ${Math.max(wallOverhead, cpuOverhead) <= 0.05 ? 'met' : 'NOT met'}; PNG encode ${(pngTotal / images).toFixed(0)} ms`,
);
console.log(
  `median per image: our wall share ${(median(wallShares) * 100).toFixed(2)} %, our CPU share ${(median(cpuShares) * 100).toFixed(2)} % (${median(hostCpuMs).toFixed(0)} ms of CPU outside session.run)`,
);
gcObserver.disconnect();

// sharing: one base trajectory for three branches vs three independent runs
const branches: Branch[] = [{ mode: 'ensemble', handoff: 0.8 }, { mode: 'ensemble', handoff: 0.5 }, { mode: 'base-only' }];
let started = performance.now();
const shared = await ensemble.generate(spec(100), branches);
const sharedMs = performance.now() - started;
started = performance.now();
const independent: BranchResult[] = [];
for (const b of branches) independent.push(await generateIndependently(ensemble, spec(100), b));
const independentMs = performance.now() - started;
const identical = shared.every((r, i) => Buffer.from(r.image!.data).equals(Buffer.from(independent[i].image!.data)));
const independentCalls = independent.reduce((sum, r) => sum + r.unetCalls.base + r.unetCalls.refiner, 0);
const sharedCalls = steps + shared.reduce((sum, r) => sum + r.unetCalls.refiner, 0);
console.log(
  `sharing (handoff 0.8, 0.5, base-only): shared ${sharedMs.toFixed(0)} ms / ${sharedCalls} UNet calls vs independent ${independentMs.toFixed(0)} ms / ${independentCalls} calls = ${(independentMs / sharedMs).toFixed(2)}x; images identical: ${identical}`,
);
await ensemble.dispose();
