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
 * The elementwise loops (guided Euler step, pixel conversion) run as WebAssembly SIMD kernels; with
 * `--kernels both` (the default) every timed image is generated twice, alternating the SIMD kernels and
 * the plain JavaScript loops, the images are compared byte for byte, and both overheads are reported.
 *
 *   npx tsx bench/pipeline.ts [--unet-width 64] [--size 1024] [--steps 40] [--images 2] [--threads N]
 *                             [--kernels both|wasm-simd|js] [--cache-dir DIR]
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { SdxlEnsemble, generateIndependently, type Branch, type BranchResult, type TrajectorySpec } from '../pipelines/ensemble.js';
import { encodePng } from '../pipelines/image/png.js';
import { kernelsInUse, selectKernels, type KernelChoice } from '../pipelines/simd/kernels.js';
import { ensureTinyModels } from '../pipelines/tiny/tiny-models.js';

const { values } = parseArgs({
  options: {
    'unet-width': { type: 'string', default: '64' },
    size: { type: 'string', default: '1024' },
    steps: { type: 'string', default: '40' },
    handoff: { type: 'string', default: '0.8' },
    images: { type: 'string', default: '2' },
    threads: { type: 'string' },
    kernels: { type: 'string', default: 'both' },
    'cache-dir': { type: 'string', default: join(tmpdir(), 'refinery-bench-models') },
  },
});
const unetWidth = Number(values['unet-width']);
const size = Number(values.size);
const steps = Number(values.steps);
const handoff = Number(values.handoff);
const images = Number(values.images);
const threads = values.threads ? Number(values.threads) : undefined;
const kernelOption = values.kernels!;
if (!['both', 'wasm-simd', 'js'].includes(kernelOption)) throw new Error(`--kernels must be both, wasm-simd or js, got ${kernelOption}`);
const kernelChoices: KernelChoice[] = kernelOption === 'both' ? ['wasm-simd', 'js'] : [kernelOption as KernelChoice];

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
  `tiny models, UNet width ${unetWidth}; ${size}x${size}, ${steps} steps, ensemble handoff ${handoff}; ORT intra-op threads ${threads ?? 'default'}; ${images} timed images per kernel choice (${kernelChoices.join(', ')}) after one warm-up`,
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

interface ImageMeasure {
  wall: number;
  inRun: number;
  cpu: number;
  inRunCpu: number;
  gc: number;
  png: number;
  bytes: Buffer;
}

async function measureImage(seed: number): Promise<ImageMeasure> {
  const before = await ensemble.sessionRunTotals();
  const gcBefore = gcPauseMs;
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const [result] = await ensemble.generate(spec(seed), [branch]);
  const wall = performance.now() - started;
  const cpuUsed = process.cpuUsage(cpuBefore);
  const cpu = (cpuUsed.user + cpuUsed.system) / 1000;
  const after = await ensemble.sessionRunTotals();
  // gc entries are delivered asynchronously: let the observer catch up before reading the total
  await new Promise((resolve) => setImmediate(resolve));
  const gc = gcPauseMs - gcBefore;
  const pngStart = performance.now();
  encodePng(result.image!, result.pngTexts);
  const png = performance.now() - pngStart;
  const stages = Object.entries(result.timings)
    .map(([stage, seconds]) => `${stage} ${(seconds * 1000).toFixed(0)}`)
    .join(', ');
  const measure = { wall, inRun: after.wallMs - before.wallMs, cpu, inRunCpu: after.cpuMs - before.cpuMs, gc, png, bytes: Buffer.from(result.image!.data) };
  console.log(
    `  [${kernelsInUse()}] image ${seed}: wall ${wall.toFixed(0)} ms, in session.run ${measure.inRun.toFixed(0)} ms, outside ${(wall - measure.inRun).toFixed(0)} ms = ${percent(wall - measure.inRun, wall)}; ` +
      `CPU ${cpu.toFixed(0)} ms, outside session.run ${(cpu - measure.inRunCpu).toFixed(0)} ms = ${percent(cpu - measure.inRunCpu, cpu)}; GC pauses ${gc.toFixed(0)} ms  ` +
      `[${stages} ms; UNet calls ${result.unetCalls.base}+${result.unetCalls.refiner}; PNG encode ${png.toFixed(0)} ms, not counted]`,
  );
  return measure;
}

function summarise(label: string, measures: ImageMeasure[]): { wallShare: number; cpuShare: number; hostCpuMs: number } {
  const sum = (pick: (m: ImageMeasure) => number) => measures.reduce((total, m) => total + pick(m), 0);
  const wallTotal = sum((m) => m.wall);
  const runTotal = sum((m) => m.inRun);
  const cpuTotal = sum((m) => m.cpu);
  const runCpuTotal = sum((m) => m.inRunCpu);
  const count = measures.length;
  const wallOverhead = (wallTotal - runTotal) / wallTotal;
  const cpuOverhead = (cpuTotal - runCpuTotal) / cpuTotal;
  const hostCpuMs = median(measures.map((m) => m.cpu - m.inRunCpu));
  console.log(
    `${label}: mean per image: wall ${(wallTotal / count).toFixed(0)} ms (session.run ${(runTotal / count).toFixed(0)} ms), our wall overhead ${percent(wallTotal - runTotal, wallTotal)}; ` +
      `CPU ${(cpuTotal / count).toFixed(0)} ms, our CPU share ${percent(cpuTotal - runCpuTotal, cpuTotal)}; goal ≤ 5 %: ${Math.max(wallOverhead, cpuOverhead) <= 0.05 ? 'met' : 'NOT met'}; PNG encode ${(sum((m) => m.png) / count).toFixed(0)} ms`,
  );
  const wallShare = median(measures.map((m) => (m.wall - m.inRun) / m.wall));
  const cpuShare = median(measures.map((m) => (m.cpu - m.inRunCpu) / m.cpu));
  console.log(
    `${label}: median per image: our wall share ${(wallShare * 100).toFixed(2)} %, our CPU share ${(cpuShare * 100).toFixed(2)} % (${hostCpuMs.toFixed(0)} ms of CPU outside session.run)`,
  );
  return { wallShare, cpuShare, hostCpuMs };
}

// each timed image once per kernel choice, alternating, so both see the same machine conditions
const measures = new Map<KernelChoice, ImageMeasure[]>(kernelChoices.map((choice) => [choice, []]));
let imagesIdentical = true;
for (let i = 1; i <= images; i++) {
  let first: Buffer | undefined;
  for (const choice of kernelChoices) {
    if (selectKernels(choice) !== choice) throw new Error(`kernels ${choice} are not available in this Node.js`);
    const measure = await measureImage(i);
    measures.get(choice)!.push(measure);
    if (first && !first.equals(measure.bytes)) imagesIdentical = false;
    first ??= measure.bytes;
  }
}
const summaries = new Map(kernelChoices.map((choice) => [choice, summarise(choice, measures.get(choice)!)]));
if (summaries.size === 2) {
  const simd = summaries.get('wasm-simd')!;
  const js = summaries.get('js')!;
  console.log(
    `side by side: CPU outside session.run per image, JavaScript loops ÷ WebAssembly SIMD = ${(js.hostCpuMs / simd.hostCpuMs).toFixed(2)}x ` +
      `(${js.hostCpuMs.toFixed(0)} vs ${simd.hostCpuMs.toFixed(0)} ms); images byte-identical: ${imagesIdentical}`,
  );
}
selectKernels(kernelChoices[0]);
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
