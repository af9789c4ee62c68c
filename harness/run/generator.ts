/**
 * What the executor needs from an image pipeline. `SdxlEnsemble` (pipelines/ensemble.ts) implements it;
 * executor tests use a fake. The executor never looks inside a `BaseStage` beyond persisting it.
 * @module
 */
import type { PngText, RgbImage } from '../../pipelines/image/png.js';

/** How one image finishes from a shared base trajectory. */
export type Branch = { mode: 'base-only' } | { mode: 'ensemble'; handoff: number } | { mode: 'sdedit'; strength: number };

/** Everything that determines a base trajectory, plus the refiner settings shared by its branches. */
export interface TrajectorySpec {
  prompt: string;
  negativePrompt: string | null;
  seed: number;
  steps: number;
  guidance: number;
  refinerGuidance?: number;
  guidanceRescale?: number;
  scheduler: string;
  schedulerConfig?: Record<string, unknown>;
  width: number;
  height: number;
  aestheticScore?: number;
  negativeAestheticScore?: number;
}

export interface BranchResult {
  branch: Branch;
  /** null when the branch failed (e.g. NaN latents); `error` says why */
  image: RgbImage | null;
  error?: string;
  /** PNG text chunks describing how the image was made */
  pngTexts: PngText[];
  /** seconds per stage */
  timings: Record<string, number>;
  unetCalls: { base: number; refiner: number };
}

/**
 * An image generator that can share one base trajectory across branches (`generate`) and can run
 * model-major (`runBase` for many trajectories, `releaseBase`, then `runRefiner` for their branches).
 * `Stage` must survive `v8.serialize` (plain objects, arrays, typed arrays, maps), because
 * low-memory runs persist it between the two phases.
 */
export interface ImageGenerator<Stage = unknown> {
  generate(spec: TrajectorySpec, branches: Branch[]): Promise<BranchResult[]>;
  runBase(spec: TrajectorySpec, branches: Branch[]): Promise<Stage>;
  runRefiner(spec: TrajectorySpec, stage: Stage, branch: Branch): Promise<BranchResult>;
  releaseBase(): Promise<void>;
  releaseRefiner(): Promise<void>;
  dispose(): Promise<void>;
  /** human-readable description (models, execution provider) for the manifest */
  describe(): unknown;
}

export function branchLabel(branch: Branch): string {
  switch (branch.mode) {
    case 'base-only':
      return 'base-only';
    case 'ensemble':
      return `handoff=${branch.handoff}`;
    case 'sdedit':
      return `strength=${branch.strength}`;
  }
}
