/**
 * What the executor needs from an image pipeline. `SdxlEnsemble` (pipelines/ensemble.ts) implements it;
 * executor tests use a fake. The executor never looks inside a stage beyond persisting it.
 * @module
 */
import type { Branch, BranchResult, TrajectorySpec } from '../../pipelines/ensemble.js';

export type { Branch, BranchResult, TrajectorySpec };

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
  /**
   * Optional UNet batching across trajectories (`--batch N`): the base halves of trajectories with
   * equal `unetBatchKey`s in shared UNet batches, each result what `generate` / `runBase` gives that
   * trajectory alone. Without them `--batch` only sets how many images go to a scorer call.
   */
  generateBatch?(trajectories: ReadonlyArray<{ spec: TrajectorySpec; branches: Branch[] }>): Promise<BranchResult[][]>;
  runBaseBatch?(trajectories: ReadonlyArray<{ spec: TrajectorySpec; branches: Branch[] }>): Promise<Stage[]>;
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
