import { predictNoise, type UnetConditioning } from './guidance.js';
import { EulerDiscreteScheduler } from './schedulers/euler-discrete.js';
import type { DiffusionScheduler, NoiseSource } from './schedulers/types.js';
import type { HostTensor, OnnxSession } from './session.js';
import { GuidedEulerWorkspace } from './simd/kernels.js';

/** One stretch of a denoising trajectory: steps `from` … `to` − 1 of the scheduler's timesteps. */
export interface DenoiseLoop {
  unet: OnnxSession;
  /** timesteps already set (and its begin index) by the caller */
  scheduler: DiffusionScheduler;
  from: number;
  to: number;
  /** the latents entering step `from` (not modified) */
  latents: Float32Array;
  latentDims: readonly number[];
  conditioning: UnetConditioning;
  guidance: number;
  guidanceRescale?: number;
  /** the stream stochastic schedulers continue in `step` */
  generator: NoiseSource;
  inspectFeeds?: (feeds: Record<string, HostTensor>) => void;
  /** called after each step with the number of steps done so far and the latents (valid only during the call) */
  afterStep?: (stepsDone: number, latents: Float32Array) => void;
}

/**
 * The denoising loop shared by the base and refiner pipelines: per step, scale the latents, one UNet
 * call (CFG batched), combine, scheduler step. Guided ε-prediction Euler without rescale takes the
 * fused path — CFG, step and the next UNet input in one pass (`EulerDiscreteScheduler.guidedStep`),
 * in WebAssembly memory when the SIMD kernels are in use — which gives the same bits as the general
 * path. Buffers are reused across steps. Returns the final latents as an array of their own.
 */
export async function denoise(loop: DenoiseLoop): Promise<Float32Array> {
  const { scheduler, unet, latentDims, guidance, guidanceRescale, generator, to } = loop;
  // the same conditioning goes into every step: the session converts it (e.g. to float16) once
  const conditioning: UnetConditioning = {
    ...loop.conditioning,
    encoderHiddenStates: { ...loop.conditioning.encoderHiddenStates, constant: true },
    textEmbeds: { ...loop.conditioning.textEmbeds, constant: true },
    timeIds: { ...loop.conditioning.timeIds, constant: true },
  };
  const timesteps = scheduler.timesteps;
  const fusedStep =
    conditioning.guided && !(guidanceRescale && guidanceRescale > 0) && scheduler instanceof EulerDiscreteScheduler && scheduler.supportsGuidedStep
      ? scheduler
      : null;
  // the UNet feed [x; x] and ε are reused by every step
  const workspace: { sample?: Float32Array; guided?: Float32Array } = {};
  // with the SIMD kernels the latents and the [x; x] feed live in WebAssembly memory: no copies per step
  const simd = fusedStep ? GuidedEulerWorkspace.forLoop(loop.latents.length) : null;
  let latents: Float32Array;
  if (simd) {
    simd.latents[0].set(loop.latents);
    latents = simd.latents[0];
    workspace.sample = simd.feed;
  } else {
    latents = loop.latents;
  }
  let spareLatents: Float32Array = simd ? simd.latents[1] : new Float32Array(latents.length);
  const modelInputBuffer = new Float32Array(latents.length);
  let inputReady = false;
  for (let i = loop.from; i < to; i++) {
    const t = timesteps[i];
    // the fused step already wrote this step's [x; x] UNet feed into the workspace
    const modelInput = inputReady ? modelInputBuffer : scheduler.scaleModelInput(latents, t, modelInputBuffer);
    const noise = await predictNoise(unet, modelInput, latentDims, t, conditioning, {
      guidanceScale: guidance,
      guidanceRescale,
      workspace,
      sampleReady: inputReady,
      raw: fusedStep !== null,
      ...(simd ? { outputInto: simd.unetOutput } : {}),
      inspectFeeds: loop.inspectFeeds,
    });
    let next: Float32Array;
    if (fusedStep) {
      const hasNextStep = i + 1 < to;
      fusedStep.guidedStep(noise, guidance, t, latents, spareLatents, hasNextStep ? workspace.sample! : null, simd?.kernels);
      inputReady = hasNextStep;
      next = spareLatents;
    } else {
      next = scheduler.step(noise, t, latents, generator, { prevSample: spareLatents }).prevSample;
    }
    // when the scheduler wrote into the spare, the previous latents become the next spare (never the caller's array)
    if (next === spareLatents) spareLatents = latents === loop.latents ? new Float32Array(latents.length) : latents;
    latents = next;
    loop.afterStep?.(i + 1 - loop.from, latents);
  }
  return latents === loop.latents || simd ? latents.slice() : latents;
}
