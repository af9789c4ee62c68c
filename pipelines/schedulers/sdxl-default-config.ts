/**
 * `scheduler/scheduler_config.json` of stabilityai/stable-diffusion-xl-base-1.0 (spec §5.1): Euler,
 * scaled_linear 0.00085 → 0.012, "leading" spacing with steps_offset 1, epsilon prediction. The
 * refiner ships the same config. The DDIM/PNDM keys are leftovers that Euler ignores but that a
 * DDIM built from this config reads (clip_sample and set_alpha_to_one false).
 */
export const SDXL_SCHEDULER_CONFIG: Readonly<Record<string, unknown>> = Object.freeze({
  _class_name: 'EulerDiscreteScheduler',
  num_train_timesteps: 1000,
  beta_start: 0.00085,
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  prediction_type: 'epsilon',
  timestep_spacing: 'leading',
  steps_offset: 1,
  interpolation_type: 'linear',
  use_karras_sigmas: false,
  trained_betas: null,
  clip_sample: false,
  set_alpha_to_one: false,
  skip_prk_steps: true,
  sample_max_value: 1.0,
});

/** diffusers' SDXL pipeline defaults (spec §5.1). */
export const SDXL_PIPELINE_DEFAULTS = Object.freeze({
  numInferenceSteps: 50,
  guidanceScale: 5.0,
  guidanceRescale: 0.0,
  /** Model card recipe: the base denoises the first 80 % (`denoising_end = 0.8`). */
  handoff: 0.8,
  /** The refiner pipeline's default `strength` for SDEdit refinement. */
  refineStrength: 0.3,
});
