import { describe, expect, it } from 'vitest';
import { UserError } from '../../../pipelines/errors.js';
import { EulerDiscreteScheduler } from '../../../pipelines/schedulers/euler-discrete.js';
import { float32Bits } from '../../../pipelines/schedulers/float32.js';
import { SDXL_SCHEDULER_CONFIG } from '../../../pipelines/schedulers/sdxl-default-config.js';
import { absMean, absSum, dummyNoiseDeter, dummySampleDeter, eulerLoop, scaled } from './diffusers-fixtures.js';

const bits = (values: ArrayLike<number>) => Array.from(values, float32Bits);

function sdxlEuler(steps: number, extra: Record<string, unknown> = {}): EulerDiscreteScheduler {
  const scheduler = new EulerDiscreteScheduler({ ...SDXL_SCHEDULER_CONFIG, ...extra });
  scheduler.setTimesteps(steps);
  return scheduler;
}

describe('EulerDiscreteScheduler on the SDXL config (spec §5.3)', () => {
  it('example A: N = 30 timesteps, all sigmas and init_noise_sigma', () => {
    const scheduler = sdxlEuler(30);
    const expectedTimesteps = [958, 925, 892, 859, 826, 793, 760, 727, 694, 661, 628, 595, 562, 529, 496, 463, 430,
      397, 364, 331, 298, 265, 232, 199, 166, 133, 100, 67, 34, 1];
    expect(Array.from(scheduler.timesteps)).toEqual(expectedTimesteps);
    const expectedSigmas = [11.4768505, 9.54358578, 8.00431347, 6.76838446, 5.76777411, 4.9510417, 4.27900171,
      3.72159171, 3.25558829, 2.86293173, 2.52948737, 2.24412227, 1.99801505, 1.784132, 1.5968318, 1.43156111,
      1.28462183, 1.15298867, 1.03416705, 0.926079571, 0.826973796, 0.735343099, 0.649856806, 0.569285393,
      0.492409676, 0.417879909, 0.343931824, 0.267652988, 0.182166368, 0.041314479, 0];
    // nine significant digits identify a float32 uniquely
    expect(Array.from(scheduler.sigmas, (s) => Number(s.toPrecision(9)))).toEqual(expectedSigmas);
    expect(float32Bits(scheduler.sigmas[0])).toBe(0x4137a12e);
    expect(float32Bits(scheduler.sigmas[29])).toBe(0x3d29395f);
    expect(scheduler.initNoiseSigma).toBe(11.520334243774414);
    expect(float32Bits(scheduler.initNoiseSigma)).toBe(0x4138534a);
  });

  it('example B: N = 40 and N = 50', () => {
    const forty = sdxlEuler(40);
    expect(forty.timesteps[0]).toBe(976);
    expect(forty.timesteps[1]).toBe(951);
    expect(forty.timesteps[39]).toBe(1);
    expect(float32Bits(forty.sigmas[0])).toBe(0x414bd482);
    expect(forty.timesteps[31]).toBe(201);
    expect(forty.sigmas[31].toPrecision(9)).toBe('0.574050725');
    expect(forty.timesteps[32]).toBe(176);
    expect(forty.sigmas[32].toPrecision(9)).toBe('0.515390992');
    expect(forty.sigmas[39].toPrecision(8)).toBe('0.041314479');
    expect(forty.initNoiseSigma).toBe(12.778570175170898);
    expect(float32Bits(forty.initNoiseSigma)).toBe(0x414c7506);

    const fifty = sdxlEuler(50);
    expect([fifty.timesteps[0], fifty.timesteps[1], fifty.timesteps[49]]).toEqual([981, 961, 1]);
    expect(float32Bits(fifty.sigmas[0])).toBe(0x4151ed39);
    expect(fifty.initNoiseSigma).toBe(13.158469200134277);
    expect(float32Bits(fifty.initNoiseSigma)).toBe(0x41528917);
  });

  it('example C: one step, scale_model_input and add_noise bit for bit', () => {
    const scheduler = sdxlEuler(30);
    const x = new Float32Array([1.0, -0.75, 0.123456789]);
    const eps = new Float32Array([0.1, -0.2, 0.3]);
    const t = scheduler.timesteps[0];
    expect(bits(scheduler.scaleModelInput(x, t))).toEqual([0x3db1c5ca, 0xbd855458, 0x3c2f93f1]);
    const { prevSample } = scheduler.step(eps, t, x);
    expect(bits(prevSample)).toEqual([0x3f4e8228, 0xbeba08a0, 0xbee9bd56]);
    expect(Array.from(prevSample)).toEqual([0.806673526763916, -0.36334705352783203, -0.4565226435661316]);
    expect(scheduler.stepIndex).toBe(1);

    const img2img = sdxlEuler(30);
    img2img.setBeginIndex(21);
    expect(img2img.sigmas[21]).toBe(0.7353430986404419);
    const noised = img2img.addNoise(new Float32Array([0.5, -1.25]), new Float32Array([1.0, -0.3]), img2img.timesteps[21]);
    expect(Array.from(noised)).toEqual([1.235343098640442, -1.4706029891967773]);
  });

  it('Karras sigmas use Euler’s own endpoints: N = 25 starts at t = 961.0', () => {
    const karras = sdxlEuler(25, { use_karras_sigmas: true });
    const plain = sdxlEuler(25);
    expect(karras.timesteps[0]).toBe(961);
    expect(karras.sigmas[0]).toBe(plain.sigmas[0]);
    expect(karras.sigmas[24]).toBe(plain.sigmas[24]);
    expect(karras.sigmas[25]).toBe(0);
    const explicit = sdxlEuler(25, { use_karras_sigmas: true, sigma_min: 0.03, sigma_max: 14 });
    expect(explicit.sigmas[0]).toBe(14);
    expect(explicit.sigmas[24]).toBe(Math.fround(0.03));
  });

  it('final_sigmas_type "sigma_min" ends on σ_full[0] instead of 0', () => {
    const scheduler = sdxlEuler(30, { final_sigmas_type: 'sigma_min' });
    expect(scheduler.sigmas[30]).toBe(0.029167532920837402);
  });
});

/** diffusers tests/schedulers/test_scheduler_euler.py: 1100 linear betas, 10 steps, default linspace. */
describe('EulerDiscreteScheduler: diffusers full-loop goldens', () => {
  const testConfig = { num_train_timesteps: 1100, beta_start: 0.0001, beta_end: 0.02, beta_schedule: 'linear' };

  function fullLoop(extra: Record<string, unknown> = {}): Float32Array {
    const scheduler = new EulerDiscreteScheduler({ ...testConfig, ...extra });
    scheduler.setTimesteps(10);
    return eulerLoop(scheduler, scaled(dummySampleDeter(), scheduler.initNoiseSigma), scheduler.timesteps);
  }

  it('test_full_loop_no_noise: sum 10.0807, mean 0.0131', () => {
    const sample = fullLoop();
    expect(Math.abs(absSum(sample) - 10.0807)).toBeLessThan(1e-2);
    expect(Math.abs(absMean(sample) - 0.0131)).toBeLessThan(1e-3);
  });

  it('test_full_loop_with_v_prediction: sum 0.0002, mean 2.2676e-06', () => {
    const sample = fullLoop({ prediction_type: 'v_prediction' });
    expect(Math.abs(absSum(sample) - 0.0002)).toBeLessThan(1e-2);
    expect(Math.abs(absMean(sample) - 2.2676e-6)).toBeLessThan(1e-3);
  });

  it('test_full_loop_device_karras_sigmas: sum 124.52299499511719, mean 0.16213932633399963', () => {
    const sample = fullLoop({ use_karras_sigmas: true });
    expect(Math.abs(absSum(sample) - 124.52299499511719)).toBeLessThan(1e-2);
    expect(Math.abs(absMean(sample) - 0.16213932633399963)).toBeLessThan(1e-3);
  });

  it('test_full_loop_with_noise: add_noise at timesteps[8], sum 57062.9297, mean 74.3007', () => {
    const scheduler = new EulerDiscreteScheduler(testConfig);
    scheduler.setTimesteps(10);
    const tStart = 10 - 2;
    const timesteps = scheduler.timesteps.slice(tStart * scheduler.order);
    const noised = scheduler.addNoise(scaled(dummySampleDeter(), scheduler.initNoiseSigma), dummyNoiseDeter(), timesteps[0]);
    const sample = eulerLoop(scheduler, noised, timesteps);
    expect(Math.abs(absSum(sample) - 57062.9297)).toBeLessThan(1e-2);
    expect(Math.abs(absMean(sample) - 74.3007)).toBeLessThan(1e-3);
  });
});

describe('EulerDiscreteScheduler state and validation', () => {
  it('a clone branches: both continue identically and independently', () => {
    const scheduler = sdxlEuler(10);
    const x = Float32Array.from({ length: 16 }, (_, i) => Math.sin(i));
    const first = scheduler.timesteps[0];
    const sample = scheduler.step(scheduler.scaleModelInput(x, first), first, x).prevSample;
    const branch = scheduler.clone();
    const t = scheduler.timesteps[1];
    const a = scheduler.step(scheduler.scaleModelInput(sample, t), t, sample).prevSample;
    const b = branch.step(branch.scaleModelInput(sample, t), t, sample).prevSample;
    expect(Array.from(b)).toEqual(Array.from(a));
    branch.step(a, branch.timesteps[2], a);
    expect(branch.stepIndex).toBe(3);
    expect(scheduler.stepIndex).toBe(2);
  });

  it('the begin index decides the first sigma, not the timestep value', () => {
    const scheduler = sdxlEuler(30);
    scheduler.setBeginIndex(23);
    const x = new Float32Array([1]);
    const scaledInput = scheduler.scaleModelInput(x, 999);
    expect(scaledInput[0]).toBe(Math.fround(1 / Math.fround(Math.sqrt(Math.fround(Math.fround(scheduler.sigmas[23] ** 2) + 1)))));
    expect(scheduler.stepIndex).toBe(23);
  });

  it('rejects invalid config values with a UserError naming the key', () => {
    expect(() => new EulerDiscreteScheduler({ timestep_spacing: 'evenly' })).toThrow(/"timestep_spacing" must be one of/);
    expect(() => new EulerDiscreteScheduler({ beta_start: 'x' })).toThrow(UserError);
    expect(() => new EulerDiscreteScheduler({ num_train_timesteps: 10.5 })).toThrow(/"num_train_timesteps"/);
    expect(() => new EulerDiscreteScheduler({ use_exponential_sigmas: true })).toThrow(/"use_exponential_sigmas".*not supported/);
    expect(() => new EulerDiscreteScheduler({ interpolation_type: 'log_linear' })).toThrow(/"interpolation_type"/);
    expect(() => new EulerDiscreteScheduler({ trained_betas: [0.1, 0.2] })).toThrow(/"trained_betas"/);
  });

  it('ignores unknown keys and fills absent ones with diffusers defaults', () => {
    const scheduler = new EulerDiscreteScheduler({ skip_prk_steps: true, _diffusers_version: '0.19.0' });
    expect(scheduler.config.timestep_spacing).toBe('linspace');
    expect(scheduler.config.steps_offset).toBe(0);
    expect(scheduler.config.beta_schedule).toBe('linear');
    expect(scheduler.config.final_sigmas_type).toBe('zero');
    expect(scheduler.config).not.toHaveProperty('skip_prk_steps');
  });

  it('rejects step counts outside 1 … num_train_timesteps', () => {
    const scheduler = new EulerDiscreteScheduler(SDXL_SCHEDULER_CONFIG);
    expect(() => scheduler.setTimesteps(0)).toThrow(UserError);
    expect(() => scheduler.setTimesteps(1001)).toThrow(/steps must be an integer from 1 to num_train_timesteps \(1000\)/);
    expect(() => scheduler.setTimesteps(2.5)).toThrow(UserError);
  });
});
