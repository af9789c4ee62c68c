import type { NoiseLevel } from './types.js';

/**
 * The step-index bookkeeping diffusers' sigma-based schedulers share: the first `scaleModelInput`
 * or `step` sets the index to the begin index (or looks the timestep up), every `step` advances it.
 */
export abstract class StepIndexedScheduler {
  protected schedule: { readonly timesteps: Float64Array; readonly sigmas: Float32Array } | null = null;
  protected currentStepIndex: number | null = null;
  protected firstStepIndex: number | null = null;

  abstract readonly className: string;

  get numInferenceSteps(): number | null {
    return this.schedule ? this.schedule.timesteps.length : null;
  }

  get timesteps(): Float64Array {
    return this.schedule?.timesteps ?? new Float64Array(0);
  }

  get sigmas(): Float32Array {
    return this.schedule?.sigmas ?? new Float32Array(0);
  }

  get stepIndex(): number | null {
    return this.currentStepIndex;
  }

  get beginIndex(): number | null {
    return this.firstStepIndex;
  }

  setBeginIndex(index: number): void {
    const steps = this.requireSchedule().timesteps.length;
    if (!Number.isInteger(index) || index < 0 || index > steps) {
      throw new RangeError(`${this.className}.setBeginIndex: ${index} is outside 0 … ${steps}`);
    }
    this.firstStepIndex = index;
  }

  /** The index diffusers' `index_for_timestep` returns; `undefined` when the timestep is absent. */
  protected findTimestepIndex(timestep: number): number | undefined {
    const matches: number[] = [];
    const timesteps = this.requireSchedule().timesteps;
    for (let i = 0; i < timesteps.length && matches.length < 2; i++) {
      if (timesteps[i] === timestep) matches.push(i);
    }
    return matches.length > 1 ? matches[1] : matches[0];
  }

  /** `findTimestepIndex`, or a RangeError naming the timestep when it is not in the schedule. */
  protected timestepIndexOrThrow(timestep: number): number {
    const index = this.findTimestepIndex(timestep);
    if (index === undefined) throw new RangeError(`${this.className}: timestep ${timestep} is not in the schedule`);
    return index;
  }

  /**
   * The σ-space schedulers' model input: f32(x / f32(√(f32(σ²) + 1))) with σ of the current step
   * (a division, as diffusers does, not a reciprocal multiply).
   */
  protected scaleBySigma(sample: Float32Array, timestep: number, into?: Float32Array): Float32Array {
    const { sigmas } = this.requireSchedule();
    const sigma = sigmas[this.ensureStepIndex(timestep)];
    const divisor = Math.fround(Math.sqrt(Math.fround(Math.fround(sigma * sigma) + 1)));
    const out = outputArray(`${this.className}.scaleModelInput`, into, sample, sample);
    const n = sample.length;
    for (let i = 0; i < n; i++) out[i] = sample[i] / divisor;
    return out;
  }

  abstract indexForTimestep(timestep: number): number;

  protected ensureStepIndex(timestep: number): number {
    if (this.currentStepIndex === null) {
      this.currentStepIndex = this.firstStepIndex ?? this.indexForTimestep(timestep);
    }
    return this.currentStepIndex;
  }

  /** The sigma index `add_noise` uses: explicit, else the running / begin index, else a lookup. */
  protected noiseLevelIndex(at: NoiseLevel): number {
    if (typeof at === 'object') return at.stepIndex;
    if (this.firstStepIndex === null) return this.indexForTimestep(at);
    return this.currentStepIndex ?? this.firstStepIndex;
  }

  protected requireSchedule(): { readonly timesteps: Float64Array; readonly sigmas: Float32Array } {
    if (!this.schedule) throw new Error(`${this.className}: call setTimesteps(steps) first`);
    return this.schedule;
  }
}

export function checkSameLength(name: string, a: Float32Array, b: Float32Array): void {
  if (a.length !== b.length) throw new RangeError(`${name}: arrays differ in length (${a.length} vs ${b.length})`);
}

/**
 * `into` when given (checked: the same length as `like`, sharing no memory with `inputs`), else a
 * new array of that length.
 */
export function outputArray(name: string, into: Float32Array | undefined, like: Float32Array, ...inputs: Float32Array[]): Float32Array {
  if (into === undefined) return new Float32Array(like.length);
  if (into.length !== like.length) throw new RangeError(`${name}: output buffer has length ${into.length}, expected ${like.length}`);
  for (const input of inputs) {
    if (into.buffer === input.buffer && into.byteOffset < input.byteOffset + input.byteLength && input.byteOffset < into.byteOffset + into.byteLength) {
      throw new RangeError(`${name}: the output buffer overlaps an input; pass a separate array`);
    }
  }
  return into;
}
