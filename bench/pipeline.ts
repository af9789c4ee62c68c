/**
 * Pipeline overhead benchmark: how much of the wall time per image is spent outside ONNX Runtime
 * (`session.run`) — tokenization, host-side scheduler / CFG loops, tensor conversion, pixel
 * conversion. Runs the tiny random-weight models with a wider UNet so that model time is not
 * negligible, at the real SDXL size (1024×1024, 40 steps, ensemble handoff 0.8, Euler unless `--scheduler`). Goal: ≤ 5 %.
 * Also measures one shared base trajectory against independent runs for three branches.
 *
 * Two measures: wall time (what a user waits) and process CPU time. With `--threads 1` ONNX Runtime
 * computes on the calling thread, so CPU time outside `session.run` is exactly our host work and the
 * CPU share is independent of other load on the machine (wall time on a shared machine is not).
 * With more threads, ORT's pool threads also burn CPU outside `session.run` (waking, and spinning when
 * `--spin-between-runs`), so process CPU time outside it is no longer only our work, and reading it per
 * run (getrusage) costs time: CPU accounting is on by default only with `--threads 1` (`--cpu on|off`
 * overrides).
 * Per image it also reports the garbage-collection pauses (perf_hooks 'gc' entries), which the
 * host-side share includes when they fall outside `session.run`; the summary gives means and medians.
 *
 * The elementwise loops (guided Euler step, randn's Box–Muller, pixel conversion, float16 conversion)
 * run as WebAssembly SIMD kernels; with
 * `--kernels both` (the default) every timed image is generated twice, alternating the SIMD kernels and
 * the plain JavaScript loops, the images are compared byte for byte, and both overheads are reported.
 *
 *   npx tsx bench/pipeline.ts [--unet-width 64] [--size 1024] [--steps 40] [--images 2] [--threads N]
 *                             [--kernels both|wasm-simd|js] [--spin-between-runs] [--compare-spinning [--rounds 3]]
 *                             [--fp16] [--scheduler euler] [--cpu on|off] [--skip-sharing] [--cache-dir DIR]
 *
 * `--fp16` uses float16 UNet and text encoders (the VAE stays float32), so every UNet call converts its
 * feeds to float16 and its output back.
 *
 * Sessions stop ORT's thread-pool spinning when a run returns (`spinBetweenRuns` off, see
 * pipelines/session.ts); `--spin-between-runs` keeps ORT's default spinning instead. Two behaviours
 * cannot share a process fairly (one pool's spinning slows the other's runs), so `--compare-spinning`
 * runs this benchmark as child processes, `--rounds` pairs of them in alternating order (SIMD kernels,
 * no sharing part), and reports the medians side by side.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { SdxlEnsemble, generateIndependently, type Branch, type BranchResult, type TrajectorySpec } from '../pipelines/ensemble.js';
import { encodePng } from '../pipelines/image/png.js';
import { selectKernels, type KernelChoice } from '../pipelines/simd/kernels.js';
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
    'spin-between-runs': { type: 'boolean', default: false },
    fp16: { type: 'boolean', default: false },
    scheduler: { type: 'string', default: 'euler' },
    'compare-spinning': { type: 'boolean', default: false },
    rounds: { type: 'string', default: '3' },
    'skip-sharing': { type: 'boolean', default: false },
    'summary-json': { type: 'boolean', default: false },
    cpu: { type: 'string' },
    'cache-dir': { type: 'string', default: join(tmpdir(), 'refinery-bench-models') },
  },
});
const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};
const unetWidth = Number(values['unet-width']);
const size = Number(values.size);
const steps = Number(values.steps);
const handoff = Number(values.handoff);
const images = Number(values.images);
const threads = values.threads ? Number(values.threads) : undefined;
const kernelOption = values.kernels!;
if (!['both', 'wasm-simd', 'js'].includes(kernelOption)) throw new Error(`--kernels must be both, wasm-simd or js, got ${kernelOption}`);
if (values.cpu !== undefined && !['on', 'off'].includes(values.cpu)) throw new Error(`--cpu must be on or off, got ${values.cpu}`);
const measureCpu = values.cpu ? values.cpu === 'on' : threads === 1;
const kernelChoices: KernelChoice[] = kernelOption === 'both' ? ['wasm-simd', 'js'] : [kernelOption as KernelChoice];

if (values['compare-spinning']) {
  await compareSpinning();
  process.exit(0);
}

/** Children of this script, alternating both spinning behaviours; prints their medians side by side. */
async function compareSpinning(): Promise<void> {
  const { execFileSync } = await import('node:child_process');
  const { fileURLToPath } = await import('node:url');
  const forwarded = process.argv.slice(2).filter((arg) => arg !== '--compare-spinning');
  const rounds = Number(values.rounds);
  const results: Record<string, { wallShare: number; hostMs: number }[]> = { stop: [], spin: [] };
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? ['stop', 'spin'] : ['spin', 'stop'];
    for (const behaviour of order) {
      const args = [...forwarded, '--kernels', 'wasm-simd', '--skip-sharing', '--summary-json', ...(behaviour === 'spin' ? ['--spin-between-runs'] : [])];
      const output = execFileSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), ...args], { encoding: 'utf8' });
      const line = output.split('\n').find((text) => text.startsWith('SUMMARY '));
      if (!line) throw new Error(`child benchmark printed no SUMMARY line:\n${output}`);
      const summary = JSON.parse(line.slice('SUMMARY '.length)) as { wallShare: number; hostWallMs: number };
      results[behaviour].push({ wallShare: summary.wallShare, hostMs: summary.hostWallMs });
      console.log(`round ${round + 1}, ${behaviour === 'stop' ? 'spinning stops after each run' : 'ORT default spinning'}: median wall share ${(summary.wallShare * 100).toFixed(2)} % (${summary.hostWallMs.toFixed(0)} ms outside session.run)`);
    }
  }
  const medianOf = (behaviour: string, pick: (r: { wallShare: number; hostMs: number }) => number) => median(results[behaviour].map(pick));
  console.log(
    `side by side (${rounds} alternating process pairs, ${values.images} images each): wall time outside session.run per image, ORT default spinning ÷ spinning stops = ` +
      `${(medianOf('spin', (r) => r.hostMs) / medianOf('stop', (r) => r.hostMs)).toFixed(2)}x (${medianOf('spin', (r) => r.hostMs).toFixed(0)} vs ${medianOf('stop', (r) => r.hostMs).toFixed(0)} ms; ` +
      `wall share ${(medianOf('spin', (r) => r.wallShare) * 100).toFixed(2)} % vs ${(medianOf('stop', (r) => r.wallShare) * 100).toFixed(2)} %)`,
  );
}

const folders = await ensureTinyModels(values['cache-dir']!, { unetWidth, fp16: values.fp16 });
const ensemble = await SdxlEnsemble.load({
  base: folders.base,
  refiner: folders.refiner,
  measureSessionCpu: measureCpu,
  spinBetweenRuns: values['spin-between-runs'],
  ...(threads ? { intraOpNumThreads: threads } : {}),
});

/** What the timed images alternate between: the kernel choices. */
interface Configuration {
  label: string;
  kernels: KernelChoice;
  ensemble: SdxlEnsemble;
}
const configurations: Configuration[] = kernelChoices.map((kernels) => ({ label: kernels, kernels, ensemble }));
const spec = (seed: number): TrajectorySpec => ({
  prompt: 'a photograph of an astronaut riding a horse',
  negativePrompt: null,
  seed,
  steps,
  guidance: 5,
  scheduler: values.scheduler!,
  width: size,
  height: size,
});
const branch: Branch = { mode: 'ensemble', handoff };

console.log(
  `tiny models${values.fp16 ? ' (float16)' : ''}, UNet width ${unetWidth}; ${size}x${size}, ${steps} steps, ensemble handoff ${handoff}; ORT intra-op threads ${threads ?? 'default'}; ${images} timed images per configuration (${configurations.map((c) => c.label).join(' | ')}) after one warm-up`,
);
const percent = (part: number, whole: number) => `${((part / whole) * 100).toFixed(2)} %`;

// warm-up: session creation, first-run allocations, embedding cache for the prompt
await ensemble.generate(spec(0), [branch]);

let gcPauseMs = 0;
const gcObserver = new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) gcPauseMs += entry.duration;
});
gcObserver.observe({ entryTypes: ['gc'] });

interface ImageMeasure {
  wall: number;
  inRun: number;
  /** process CPU ms, and of that inside session.run (NaN without CPU accounting) */
  cpu: number;
  inRunCpu: number;
  gc: number;
  png: number;
  bytes: Buffer;
}

async function measureImage(seed: number, { label, ensemble }: Configuration): Promise<ImageMeasure> {
  const before = await ensemble.sessionRunTotals();
  const gcBefore = gcPauseMs;
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const [result] = await ensemble.generate(spec(seed), [branch]);
  const wall = performance.now() - started;
  const cpuUsed = process.cpuUsage(cpuBefore);
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
  const measure: ImageMeasure = {
    wall,
    inRun: after.wallMs - before.wallMs,
    cpu: measureCpu ? (cpuUsed.user + cpuUsed.system) / 1000 : NaN,
    inRunCpu: measureCpu ? after.cpuMs - before.cpuMs : NaN,
    gc,
    png,
    bytes: Buffer.from(result.image!.data),
  };
  const cpuPart = measureCpu
    ? `CPU ${measure.cpu.toFixed(0)} ms, outside session.run ${(measure.cpu - measure.inRunCpu).toFixed(0)} ms = ${percent(measure.cpu - measure.inRunCpu, measure.cpu)}; `
    : '';
  console.log(
    `  [${label}] image ${seed}: wall ${wall.toFixed(0)} ms, in session.run ${measure.inRun.toFixed(0)} ms, outside ${(wall - measure.inRun).toFixed(0)} ms = ${percent(wall - measure.inRun, wall)}; ` +
      `${cpuPart}GC pauses ${gc.toFixed(0)} ms  [${stages} ms; UNet calls ${result.unetCalls.base}+${result.unetCalls.refiner}; PNG encode ${png.toFixed(0)} ms, not counted]`,
  );
  return measure;
}

/** Prints the summary of one kernel choice; returns the median host milliseconds per image (CPU when measured, else wall). */
function summarise(label: string, measures: ImageMeasure[]): number {
  const sum = (pick: (m: ImageMeasure) => number) => measures.reduce((total, m) => total + pick(m), 0);
  const wallTotal = sum((m) => m.wall);
  const runTotal = sum((m) => m.inRun);
  const cpuTotal = sum((m) => m.cpu);
  const runCpuTotal = sum((m) => m.inRunCpu);
  const count = measures.length;
  const wallOverhead = (wallTotal - runTotal) / wallTotal;
  const cpuOverhead = measureCpu ? (cpuTotal - runCpuTotal) / cpuTotal : 0;
  const cpuMean = measureCpu ? `CPU ${(cpuTotal / count).toFixed(0)} ms, our CPU share ${percent(cpuTotal - runCpuTotal, cpuTotal)}; ` : '';
  console.log(
    `${label}: mean per image: wall ${(wallTotal / count).toFixed(0)} ms (session.run ${(runTotal / count).toFixed(0)} ms), our wall overhead ${percent(wallTotal - runTotal, wallTotal)}; ` +
      `${cpuMean}goal ≤ 5 %: ${Math.max(wallOverhead, cpuOverhead) <= 0.05 ? 'met' : 'NOT met'}; PNG encode ${(sum((m) => m.png) / count).toFixed(0)} ms`,
  );
  const wallShare = median(measures.map((m) => (m.wall - m.inRun) / m.wall));
  const hostWallMs = median(measures.map((m) => m.wall - m.inRun));
  if (!measureCpu) {
    console.log(`${label}: median per image: our wall share ${(wallShare * 100).toFixed(2)} % (${hostWallMs.toFixed(0)} ms outside session.run)`);
    return hostWallMs;
  }
  const cpuShare = median(measures.map((m) => (m.cpu - m.inRunCpu) / m.cpu));
  const hostCpuMs = median(measures.map((m) => m.cpu - m.inRunCpu));
  console.log(
    `${label}: median per image: our wall share ${(wallShare * 100).toFixed(2)} % (${hostWallMs.toFixed(0)} ms), our CPU share ${(cpuShare * 100).toFixed(2)} % (${hostCpuMs.toFixed(0)} ms of CPU outside session.run)`,
  );
  return hostCpuMs;
}

// each timed image once per configuration, alternating, so all see the same machine conditions
const measures = configurations.map(() => [] as ImageMeasure[]);
let imagesIdentical = true;
for (let i = 1; i <= images; i++) {
  let first: Buffer | undefined;
  for (const [index, configuration] of configurations.entries()) {
    if (selectKernels(configuration.kernels) !== configuration.kernels) throw new Error(`kernels ${configuration.kernels} are not available in this Node.js`);
    const measure = await measureImage(i, configuration);
    measures[index].push(measure);
    if (first && !first.equals(measure.bytes)) imagesIdentical = false;
    first ??= measure.bytes;
  }
}
const hostMs = configurations.map((configuration, index) => summarise(configuration.label, measures[index]));
if (configurations.length === 2) {
  console.log(
    `side by side: ${measureCpu ? 'CPU' : 'wall time'} outside session.run per image, ${configurations[1].label} ÷ ${configurations[0].label} = ${(hostMs[1] / hostMs[0]).toFixed(2)}x ` +
      `(${hostMs[1].toFixed(0)} vs ${hostMs[0].toFixed(0)} ms); images byte-identical: ${imagesIdentical}`,
  );
}
selectKernels(configurations[0].kernels);
gcObserver.disconnect();
if (values['summary-json']) {
  const first = measures[0];
  console.log(`SUMMARY ${JSON.stringify({ wallShare: median(first.map((m) => (m.wall - m.inRun) / m.wall)), hostWallMs: median(first.map((m) => m.wall - m.inRun)) })}`);
}
if (values['skip-sharing']) {
  await ensemble.dispose();
  process.exit(0);
}

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
