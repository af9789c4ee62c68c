import { describe, expect, it } from 'vitest';
import { UserError } from '../../../pipelines/errors.js';
import { createScheduler, resolveSchedulerChoice, SCHEDULER_NAMES } from '../../../pipelines/schedulers/registry.js';
import { SDXL_SCHEDULER_CONFIG } from '../../../pipelines/schedulers/sdxl-default-config.js';

describe('createScheduler', () => {
  it('builds every short id from the SDXL config', () => {
    const classes = SCHEDULER_NAMES.map((name) => createScheduler(name, SDXL_SCHEDULER_CONFIG).className);
    expect(classes).toEqual([
      'EulerDiscreteScheduler',
      'EulerDiscreteScheduler',
      'EulerAncestralDiscreteScheduler',
      'DDIMScheduler',
      'DPMSolverMultistepScheduler',
      'DPMSolverMultistepScheduler',
    ]);
  });

  it('applies the variant’s defining keys over the config', () => {
    expect(createScheduler('euler-karras', SDXL_SCHEDULER_CONFIG).config.use_karras_sigmas).toBe(true);
    expect(createScheduler('euler', { ...SDXL_SCHEDULER_CONFIG, use_karras_sigmas: true }).config.use_karras_sigmas).toBe(false);
    const dpm = createScheduler('dpmpp-2m-karras', { ...SDXL_SCHEDULER_CONFIG, solver_order: 3 });
    expect(dpm.config).toMatchObject({ use_karras_sigmas: true, solver_order: 2, algorithm_type: 'dpmsolver++' });
    // the SDXL file's keys reach the new class like diffusers' from_config
    expect(dpm.config).toMatchObject({ timestep_spacing: 'leading', steps_offset: 1, beta_schedule: 'scaled_linear' });
  });

  it('uses _class_name when no name is given, and an explicit name wins over it', () => {
    expect(createScheduler(undefined, SDXL_SCHEDULER_CONFIG).className).toBe('EulerDiscreteScheduler');
    expect(createScheduler('ddim', SDXL_SCHEDULER_CONFIG).className).toBe('DDIMScheduler');
    expect(createScheduler('DPMSolverMultistepScheduler', SDXL_SCHEDULER_CONFIG).className).toBe('DPMSolverMultistepScheduler');
    expect(resolveSchedulerChoice(undefined, { ...SDXL_SCHEDULER_CONFIG, use_karras_sigmas: true }).name).toBe('euler-karras');
  });

  it('rejects unknown names with a did-you-mean list', () => {
    expect(() => createScheduler('eular', {})).toThrow(UserError);
    expect(() => createScheduler('eular', {})).toThrow(/unknown scheduler "eular".*did you mean euler/);
    expect(() => createScheduler('dpm++2m', {})).toThrow(/did you mean dpmpp-2m/);
    expect(() => createScheduler(undefined, { _class_name: 'PNDMScheduler' })).toThrow(/"_class_name" in the scheduler config "PNDMScheduler"/);
    expect(() => createScheduler(undefined, {})).toThrow(/no scheduler named/);
  });

  it('passes DDIM eta through', () => {
    const ddim = createScheduler('ddim', SDXL_SCHEDULER_CONFIG, { eta: 0.5 });
    expect((ddim as unknown as { eta: number }).eta).toBe(0.5);
  });
});
