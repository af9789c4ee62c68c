/**
 * `--dry-run`: what a run would do, before any compute is spent on it: units, trajectories, UNet
 * evaluations with and without trajectory sharing, and an estimated time.
 * @module
 */
import type { Unit } from '../experiment/types.js';
import type { Branch, ImageGenerator, TrajectorySpec } from './generator.js';
import { countEvaluations, createUnetCallCounter, planTrajectories, type EvaluationCounts } from './planner.js';
import { formatDuration } from './progress.js';

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
}

export function planDryRun(pending: readonly Unit[], total: number, pace: PaceEstimate | null, count = createUnetCallCounter()): DryRunReport {
  const plans = planTrajectories(pending);
  const evaluations = countEvaluations(plans, count);
  return {
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
