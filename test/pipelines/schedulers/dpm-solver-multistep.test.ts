import { describe, expect, it } from 'vitest';
import { UserError } from '../../../pipelines/errors.js';
import { DPMSolverMultistepScheduler } from '../../../pipelines/schedulers/dpm-solver-multistep.js';
import { parseSchedulerConfigJson } from '../../../pipelines/schedulers/config.js';
import { SDXL_SCHEDULER_CONFIG } from '../../../pipelines/schedulers/sdxl-default-config.js';
import { absMean, absSum, dummyModel, dummyNoiseDeter, dummySampleDeter, plainLoop } from './diffusers-fixtures.js';

/** diffusers tests/schedulers/test_scheduler_dpm_multi.py get_scheduler_config (10 steps, default linspace). */
const testConfig = {
  num_train_timesteps: 1000,
  beta_start: 0.0001,
  beta_end: 0.02,
  beta_schedule: 'linear',
  solver_order: 2,
  prediction_type: 'epsilon',
  thresholding: false,
  sample_max_value: 1.0,
  algorithm_type: 'dpmsolver++',
  solver_type: 'midpoint',
  lower_order_final: false,
  euler_at_final: false,
  lambda_min_clipped: '-Infinity',
  variance_type: null,
  final_sigmas_type: 'sigma_min',
};

function fullLoop(extra: Record<string, unknown> = {}): Float32Array {
  const scheduler = new DPMSolverMultistepScheduler({ ...testConfig, ...extra });
  scheduler.setTimesteps(10);
  return plainLoop(scheduler, dummySampleDeter(), scheduler.timesteps);
}

describe('DPMSolverMultistepScheduler: diffusers goldens', () => {
  it('test_full_loop_no_noise: mean 0.3301', () => {
    expect(Math.abs(absMean(fullLoop()) - 0.3301)).toBeLessThan(1e-3);
  });

  it('test_full_loop_with_v_prediction: mean 0.2251', () => {
    expect(Math.abs(absMean(fullLoop({ prediction_type: 'v_prediction' })) - 0.2251)).toBeLessThan(1e-3);
  });

  it('test_full_loop_with_karras_and_v_prediction: mean 0.2096', () => {
    const sample = fullLoop({ prediction_type: 'v_prediction', use_karras_sigmas: true });
    expect(Math.abs(absMean(sample) - 0.2096)).toBeLessThan(1e-3);
  });

  it('test_full_loop_no_noise_thres: mean 1.1364', () => {
    const sample = fullLoop({ thresholding: true, dynamic_thresholding_ratio: 0.87, sample_max_value: 0.5 });
    expect(Math.abs(absMean(sample) - 1.1364)).toBeLessThan(1e-3);
  });

  it('test_full_loop_with_noise: add_noise at timesteps[5], sum 318.4111, mean 0.4146', () => {
    const scheduler = new DPMSolverMultistepScheduler(testConfig);
    scheduler.setTimesteps(10);
    const timesteps = scheduler.timesteps.slice(5 * scheduler.order);
    const noised = scheduler.addNoise(dummySampleDeter(), dummyNoiseDeter(), timesteps[0]);
    const sample = plainLoop(scheduler, noised, timesteps);
    expect(Math.abs(absSum(sample) - 318.4111)).toBeLessThan(1e-2);
    expect(Math.abs(absMean(sample) - 0.4146)).toBeLessThan(1e-3);
  });

  it('test_duplicated_timesteps: 1000 steps give 1000 timesteps', () => {
    const scheduler = new DPMSolverMultistepScheduler(testConfig);
    scheduler.setTimesteps(1000);
    expect(scheduler.timesteps.length).toBe(1000);
    expect(scheduler.numInferenceSteps).toBe(1000);
  });

  it('orders 1 and 3, heun and the noise-prediction algorithm run without NaNs (test_solver_order_and_type)', () => {
    for (const algorithm_type of ['dpmsolver', 'dpmsolver++']) {
      for (const solver_type of ['midpoint', 'heun']) {
        for (const solver_order of [1, 2, 3]) {
          for (const prediction_type of ['epsilon', 'sample']) {
            const sample = fullLoop({ algorithm_type, solver_type, solver_order, prediction_type });
            expect(sample.some(Number.isNaN)).toBe(false);
          }
        }
      }
    }
  });
});

describe('DPM++ 2M on the SDXL config (spec §5.5)', () => {
  it('Karras N = 30: timesteps and sigma ends', () => {
    const scheduler = new DPMSolverMultistepScheduler({ ...SDXL_SCHEDULER_CONFIG, use_karras_sigmas: true });
    scheduler.setTimesteps(30);
    expect(Array.from(scheduler.timesteps)).toEqual([999, 975, 949, 923, 894, 863, 830, 795, 757, 716, 672, 624, 572,
      517, 458, 397, 334, 273, 214, 162, 117, 80, 53, 33, 20, 11, 6, 3, 1, 0]);
    const sigmas = Array.from(scheduler.sigmas, (s) => Number(s.toPrecision(9)));
    expect(sigmas.slice(0, 3)).toEqual([14.6146469, 12.6606083, 10.9349279]);
    expect(sigmas.slice(-3)).toEqual([0.0408581644, 0.0291675329, 0]);
    expect(scheduler.initNoiseSigma).toBe(1);
  });

  it('"leading" without Karras divides by N + 1: N = 30 → 961, 929, …, 65, 33', () => {
    const scheduler = new DPMSolverMultistepScheduler(SDXL_SCHEDULER_CONFIG);
    scheduler.setTimesteps(30);
    const t = Array.from(scheduler.timesteps);
    expect(t.slice(0, 2)).toEqual([961, 929]);
    expect(t.slice(-2)).toEqual([65, 33]);
    expect(t.length).toBe(30);
    expect(scheduler.sigmas[0]).toBe(scheduler.tables.trainingSigmas[961]);
  });

  it('a second step is the midpoint update x = (σ_t/σ_s)·x − αφ·x0 − ½αφ·(x0 − x0_prev)/r', () => {
    const scheduler = new DPMSolverMultistepScheduler(SDXL_SCHEDULER_CONFIG);
    scheduler.setTimesteps(30);
    const x = new Float32Array([0.8, -0.4]);
    const eps = new Float32Array([0.2, 0.1]);
    const eps2 = new Float32Array([-0.5, 0.3]);
    const ts = scheduler.timesteps;
    const first = scheduler.step(eps, ts[0], x);
    const second = scheduler.step(eps2, ts[1], first.prevSample);

    const s = scheduler.sigmas;
    const ab = (sigma: number) => {
      const alpha = 1 / Math.sqrt(sigma * sigma + 1);
      return { alpha, sigma: sigma * alpha, lambda: Math.log(alpha) - Math.log(sigma * alpha) };
    };
    const [a0, a1, a2] = [ab(s[0]), ab(s[1]), ab(s[2])];
    const x0a = (x[0] - a0.sigma * eps[0]) / a0.alpha;
    const h1 = a1.lambda - a0.lambda;
    const x1 = (a1.sigma / a0.sigma) * x[0] - a1.alpha * (Math.exp(-h1) - 1) * x0a;
    expect(first.prevSample[0]).toBeCloseTo(x1, 5);
    const x0b = (x1 - a1.sigma * eps2[0]) / a1.alpha;
    const h = a2.lambda - a1.lambda;
    const r = h1 / h;
    const phi = a2.alpha * (Math.exp(-h) - 1);
    const x2 = (a2.sigma / a1.sigma) * x1 - phi * x0b - 0.5 * phi * ((x0b - x0a) / r);
    expect(second.prevSample[0]).toBeCloseTo(x2, 5);
    // the first-order formula would differ at this tolerance
    expect(Math.abs(second.prevSample[0] - ((a2.sigma / a1.sigma) * x1 - phi * x0b))).toBeGreaterThan(1e-4);
  });

  it('a scheduler that begins mid-schedule starts first-order (empty history), like the diffusers refiner', () => {
    const fresh = new DPMSolverMultistepScheduler(SDXL_SCHEDULER_CONFIG);
    fresh.setTimesteps(30);
    fresh.setBeginIndex(20);
    const sample = dummySampleDeter();
    const t = fresh.timesteps[20];
    const out = fresh.step(dummyModel(sample, t), t, sample).prevSample;
    const firstOrder = new DPMSolverMultistepScheduler({ ...SDXL_SCHEDULER_CONFIG, solver_order: 1 });
    firstOrder.setTimesteps(30);
    firstOrder.setBeginIndex(20);
    expect(Array.from(out)).toEqual(Array.from(firstOrder.step(dummyModel(sample, t), t, sample).prevSample));
  });

  it('clones keep their own model-output history', () => {
    const scheduler = new DPMSolverMultistepScheduler(SDXL_SCHEDULER_CONFIG);
    scheduler.setTimesteps(10);
    let sample = dummySampleDeter();
    for (let i = 0; i < 3; i++) sample = scheduler.step(dummyModel(sample, scheduler.timesteps[i]), scheduler.timesteps[i], sample).prevSample;
    const branch = scheduler.clone();
    const t = scheduler.timesteps[3];
    const a = scheduler.step(dummyModel(sample, t), t, sample).prevSample;
    const b = branch.step(dummyModel(sample, t), t, sample).prevSample;
    expect(Array.from(b)).toEqual(Array.from(a));
    branch.step(dummyModel(b, scheduler.timesteps[4]), scheduler.timesteps[4], b);
    expect(scheduler.stepIndex).toBe(4);
    expect(branch.stepIndex).toBe(5);
  });
});

describe('DPMSolverMultistepScheduler config', () => {
  it('reads a config file written by Python json (bare -Infinity)', () => {
    const config = parseSchedulerConfigJson('{"lambda_min_clipped": -Infinity, "_class_name": "DPMSolverMultistepScheduler", "note": "-Infinity"}', 'scheduler_config.json');
    expect(config.note).toBe('-Infinity');
    expect(new DPMSolverMultistepScheduler(config).config.lambda_min_clipped).toBe(-Infinity);
  });

  it('lambda_min_clipped drops the lowest-SNR timesteps', () => {
    const clipped = new DPMSolverMultistepScheduler({ ...testConfig, beta_schedule: 'squaredcos_cap_v2', lambda_min_clipped: -5.1 });
    clipped.setTimesteps(10);
    const unclipped = new DPMSolverMultistepScheduler({ ...testConfig, beta_schedule: 'squaredcos_cap_v2' });
    unclipped.setTimesteps(10);
    expect(clipped.timesteps[0]).toBeLessThan(unclipped.timesteps[0]);
  });

  it('rejects unsupported variants with a UserError naming the key', () => {
    expect(() => new DPMSolverMultistepScheduler({ algorithm_type: 'sde-dpmsolver++' })).toThrow(/"algorithm_type".*not supported/);
    expect(() => new DPMSolverMultistepScheduler({ algorithm_type: 'dpmsolver', final_sigmas_type: 'zero' })).toThrow(/"final_sigmas_type"/);
    expect(() => new DPMSolverMultistepScheduler({ solver_order: 4 })).toThrow(/"solver_order" must be an integer from 1 to 3/);
    expect(() => new DPMSolverMultistepScheduler({ variance_type: 'learned_range' })).toThrow(UserError);
    expect(() => new DPMSolverMultistepScheduler({ use_lu_lambdas: true })).toThrow(/"use_lu_lambdas"/);
  });
});
