/**
 * `--dry-run`: what a run would do, before any compute is spent on it: units, trajectories, UNet
 * evaluations with and without trajectory sharing, and an estimated time.
 * @module
 */
import type { Unit } from '../experiment/types.js';
import type { Branch, ImageGenerator, TrajectorySpec } from './generator.js';
import { countEvaluations, createUnetCallCounter, planTrajectories, type EvaluationCounts } from './planner.js';
import { formatDuration } from './progress.js';
import { baseBatchItems, groupUnetBatches } from './unet-batches.js';

/** How long a UNet evaluation takes, and where that number comes from. */
export interface PaceEstimate {
  secondsPerEvaluation: number;
  /** fixed cost per image (text encoding, VAE decode, PNG), when measured */
  secondsPerImage: number;
  source: string;
}

export interface DryRunReport {
  units: number;
  /** units already in the run folder's store */
  done: number;
  trajectories: number;
  /** for the units still to run */
  evaluations: EvaluationCounts;
  estimate: { seconds: number; pace: PaceEstimate } | null;
  /** with UNet batching (`--batch N` > 1 and a generator that batches): how the base trajectories group */
  unetBatching?: { size: number; groups: number[] };
}

export function planDryRun(
  pending: readonly Unit[],
  total: number,
  pace: PaceEstimate | null,
  count = createUnetCallCounter(),
  unetBatch = 1,
): DryRunReport {
  const plans = planTrajectories(pending);
  const evaluations = countEvaluations(plans, count);
  const groups = unetBatch > 1 ? groupUnetBatches(baseBatchItems(plans, () => true), unetBatch).map((group) => group.length) : [];
  return {
    ...(unetBatch > 1 ? { unetBatching: { size: unetBatch, groups } } : {}),
    units: total,
    done: total - pending.length,
    trajectories: plans.length,
    evaluations,
    estimate: pace ? { seconds: evaluations.shared.total * pace.secondsPerEvaluation + pending.length * pace.secondsPerImage, pace } : null,
  };
}

/**
 * Measures the pace on the first unit's settings: base-only generations of 2 and 6 steps (after a
 * 1-step warm-up that loads the models); the difference is the cost of 4 UNet evaluations, the rest
 * the fixed per-image cost (text encoding, VAE decode). Nothing is stored.
 */
export async function measurePace(generator: ImageGenerator, unit: Unit, toSpec: (unit: Unit) => TrajectorySpec): Promise<PaceEstimate> {
  const branch: Branch = { mode: 'base-only' };
  const spec = toSpec(unit);
  const time = async (steps: number): Promise<number> => {
    const started = performance.now();
    await generator.generate({ ...spec, steps }, [branch]);
    return (performance.now() - started) / 1000;
  };
  await time(1); // loads the models and warms caches
  const two = await time(2);
  const six = await time(6);
  const perEvaluation = Math.max((six - two) / 4, 0);
  return {
    secondsPerEvaluation: perEvaluation,
    secondsPerImage: Math.max(two - 2 * perEvaluation, 0),
    source: `measured now: base UNet at ${spec.width}x${spec.height} (2- and 6-step generations); refiner evaluations assumed to cost the same`,
  };
}

/** Batch sizes as counts per size, largest first: "3×4, 1×2" is three batches of four and one of two. */
function summariseSizes(groups: number[]): string {
  const counts = new Map<number, number>();
  for (const size of groups) counts.set(size, (counts.get(size) ?? 0) + 1);
  return [...counts.entries()]
    .sort((a, b) => b[0] - a[0])
    .map(([size, count]) => `${count}×${size}`)
    .join(', ') || 'none';
}

function formatSeconds(seconds: number): string {
  return seconds >= 1 ? `${seconds.toFixed(2)} s` : `${(seconds * 1000).toPrecision(3)} ms`;
}

export function formatDryRun(report: DryRunReport, header: string): string[] {
  const { shared, independent } = report.evaluations;
  const toRun = report.units - report.done;
  const ratio = shared.total > 0 ? independent.total / shared.total : 1;
  const lines = [
    header,
    `Units: ${report.units}${report.done ? ` (${report.done} already done, ${toRun} to run)` : ''} in ${report.trajectories} base trajectories to run`,
    `UNet evaluations: ${shared.total} with trajectory sharing (${shared.base} base + ${shared.refiner} refiner), ${independent.total} without (${ratio.toFixed(2)}× more)`,
  ];
  if (report.unetBatching) {
    const { size, groups } = report.unetBatching;
    const batched = groups.filter((n) => n > 1).length;
    lines.push(
      `UNet batching (--batch ${size}): the ${report.trajectories} base trajectories run in ${groups.length} UNet batch(es), ${batched} of them with more than one trajectory ` +
        `(sizes ${summariseSizes(groups)}); evaluations are the same, calls fewer — the estimate below assumes one trajectory per call`,
    );
  }
  if (report.estimate) {
    const { pace, seconds } = report.estimate;
    lines.push(
      `Estimated time: ${formatDuration(seconds)} (${formatSeconds(pace.secondsPerEvaluation)} per UNet evaluation + ${formatSeconds(pace.secondsPerImage)} per image; ${pace.source})`,
    );
  } else {
    lines.push('Estimated time: unknown (--no-measure, and this run folder has no timings yet)');
  }
  lines.push('Nothing was run (--dry-run).');
  return lines;
}
