import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { UserError } from '../../pipelines/errors.js';
import {
  ensembleSplit,
  handoffCutoff,
  planGeneration,
  schedulerForStage,
  sdeditSplit,
} from '../../pipelines/plan.js';
import { SCHEDULER_NAMES } from '../../pipelines/schedulers/registry.js';

const sig9 = (x: number) => x.toPrecision(9);

describe('handoffCutoff (spec §7)', () => {
  it('is Python round(1000 − h·1000), half to even', () => {
    expect(handoffCutoff(0.8)).toBe(200);
    expect(handoffCutoff(0.7)).toBe(300);
    expect(handoffCutoff(0.9995)).toBe(0); // 0.5 rounds to even
    expect(handoffCutoff(0.9985)).toBe(2); // 1000 − 998.5 = 1.5 → 2
    expect(handoffCutoff(1)).toBe(0);
  });

  it('rejects values outside (0, 1] with a UserError naming the value', () => {
    for (const bad of [0, -0.2, 1.01, Number.NaN, Infinity]) {
      expect(() => handoffCutoff(bad)).toThrow(UserError);
    }
    expect(() => handoffCutoff(1.5)).toThrow(/handoff must be a number in \(0, 1\], got 1.5/);
  });
});

describe('ensemble split (spec §7 table, Euler leading, h = 0.8)', () => {
  it('40 steps → base 32 (976…201), refiner 8 (176…1) starting at σ_32 = 0.515390992', () => {
    const plan = planGeneration({ steps: 40, mode: 'ensemble', handoff: 0.8 });
    expect(plan.cutoff).toBe(200);
    expect(plan.base!.unetCalls).toBe(32);
    expect(plan.base!.timesteps[0]).toBe(976);
    expect(plan.base!.timesteps.at(-1)).toBe(201);
    expect(plan.refiner!.unetCalls).toBe(8);
    expect(plan.refiner!.timesteps).toEqual([176, 151, 126, 101, 76, 51, 26, 1]);
    expect(plan.refiner!.beginIndex).toBe(32);
    expect(sig9(plan.refiner!.sigmas![0])).toBe('0.515390992');
    expect(plan.base!.sigmas!.at(-1)).toBe(plan.refiner!.sigmas![0]);
    expect(plan.refiner!.addsNoise).toBe(false);
    expect(plan.refiner!.input).toBe('base-latents');
  });

  it('30 steps → 23 + 7 (958…232 | 199…1, σ_23 = 0.569285393); 50 steps → 40 + 10 (981…201 | 181…1, σ_40 = 0.526975751)', () => {
    const thirty = planGeneration({ steps: 30, mode: 'ensemble', handoff: 0.8 });
    expect([thirty.base!.unetCalls, thirty.refiner!.unetCalls]).toEqual([23, 7]);
    expect([thirty.base!.timesteps[0], thirty.base!.timesteps.at(-1)]).toEqual([958, 232]);
    expect([thirty.refiner!.timesteps[0], thirty.refiner!.timesteps.at(-1)]).toEqual([199, 1]);
    expect(sig9(thirty.refiner!.sigmas![0])).toBe('0.569285393');

    const fifty = planGeneration({ steps: 50, mode: 'ensemble', handoff: 0.8 });
    expect([fifty.base!.unetCalls, fifty.refiner!.unetCalls]).toEqual([40, 10]);
    expect([fifty.base!.timesteps[0], fifty.base!.timesteps.at(-1)]).toEqual([981, 201]);
    expect([fifty.refiner!.timesteps[0], fifty.refiner!.timesteps.at(-1)]).toEqual([181, 1]);
    expect(sig9(fifty.refiner!.sigmas![0])).toBe('0.526975751');
  });

  it('base steps + refiner steps are the full schedule, for every scheduler and several handoffs', () => {
    for (const scheduler of SCHEDULER_NAMES) {
      for (const steps of [10, 25, 40]) {
        for (const handoff of [0.5, 0.8, 0.95]) {
          const plan = planGeneration({ scheduler, steps, mode: 'ensemble', handoff });
          expect([...plan.base!.timesteps, ...plan.refiner!.timesteps]).toEqual(plan.schedule.timesteps);
          expect(plan.base!.unetCalls + plan.refiner!.unetCalls).toBe(steps);
          expect(plan.base!.timesteps.every((t) => t >= plan.cutoff!)).toBe(true);
          expect(plan.refiner!.timesteps.every((t) => t < plan.cutoff!)).toBe(true);
        }
      }
    }
  });

  it('adds one refiner step for an even count on an order-2 scheduler (diffusers #5447)', () => {
    const timesteps = [976, 951, 926, 901, 176, 151];
    expect(ensembleSplit(timesteps, 200, 1)).toEqual({ cutoff: 200, baseSteps: 4, refinerSteps: 2, refinerStartIndex: 4 });
    expect(ensembleSplit(timesteps, 200, 2)).toEqual({ cutoff: 200, baseSteps: 4, refinerSteps: 3, refinerStartIndex: 3 });
    expect(ensembleSplit([976, 951, 176], 200, 2).refinerSteps).toBe(1);
  });

  it('handoff 1.0 is base-only', () => {
    const handoffOne = planGeneration({ steps: 40, mode: 'ensemble', handoff: 1 });
    const baseOnly = planGeneration({ steps: 40, mode: 'base-only' });
    expect(handoffOne.mode).toBe('base-only');
    expect(handoffOne.base).toEqual(baseOnly.base);
    expect(handoffOne.refiner).toBeNull();
    expect(handoffOne.unetEvaluations).toEqual(baseOnly.unetEvaluations);
    expect(baseOnly.base!.timesteps).toEqual(baseOnly.schedule.timesteps);
  });
});

describe('SDEdit split (spec §8)', () => {
  it('strength 0.3: 40 steps → 12 from t = 276 (σ_28 = 0.76514107); 50 → 15 from 281 (σ_35 = 0.77892381); 30 → 9 from 265', () => {
    const cases: [number, number, number, number, number][] = [
      [40, 12, 276, 28, 0.76514107],
      [50, 15, 281, 35, 0.77892381],
      [30, 9, 265, 21, 0.735343099],
    ];
    for (const [steps, refinerSteps, firstT, beginIndex, sigma] of cases) {
      const plan = planGeneration({ steps, mode: 'sdedit', strength: 0.3 });
      expect(plan.refiner!.unetCalls).toBe(refinerSteps);
      expect(plan.refiner!.timesteps[0]).toBe(firstT);
      expect(plan.refiner!.beginIndex).toBe(beginIndex);
      expect(plan.refiner!.sigmas![0]).toBeCloseTo(sigma, 8);
      expect(plan.refiner!.addsNoise).toBe(true);
      expect(plan.base!.unetCalls).toBe(steps);
      expect(plan.unetEvaluations.calls).toBe(steps + refinerSteps);
    }
  });

  it('truncates the double product like Python int(): 100·0.29 → 28, 100·0.57 → 56', () => {
    expect(sdeditSplit(100, 0.29)).toEqual({ initSteps: 28, startStep: 72, beginIndex: 72, refinerSteps: 28 });
    expect(sdeditSplit(100, 0.57).initSteps).toBe(56);
    expect(sdeditSplit(50, 0.3).initSteps).toBe(15);
    expect(sdeditSplit(10, 1)).toEqual({ initSteps: 10, startStep: 0, beginIndex: 0, refinerSteps: 10 });
  });

  it('rejects strengths outside (0, 1] and strengths that leave no step', () => {
    expect(() => sdeditSplit(40, 0)).toThrow(UserError);
    expect(() => sdeditSplit(40, 1.2)).toThrow(/refine strength must be a number in \(0, 1\], got 1.2/);
    expect(() => sdeditSplit(3, 0.3)).toThrow(/leaves no refiner step/);
  });

  it('refiner-only plans the refiner stage alone', () => {
    const plan = planGeneration({ steps: 50, mode: 'refiner-only', strength: 0.3 });
    expect(plan.base).toBeNull();
    expect(plan.refiner!.unetCalls).toBe(15);
    expect(plan.unetEvaluations.calls).toBe(15);
  });
});

describe('planGeneration', () => {
  it('counts CFG as one call with two batch rows per step, and none above guidance ≤ 1', () => {
    const cfg = planGeneration({ steps: 40, mode: 'ensemble', guidance: 5 });
    expect(cfg.unetEvaluations).toEqual({ calls: 40, batchRows: 80 });
    const noCfg = planGeneration({ steps: 40, mode: 'ensemble', guidance: 1, refinerGuidance: 7.5 });
    expect(noCfg.base!.classifierFreeGuidance).toBe(false);
    expect(noCfg.unetEvaluations).toEqual({ calls: 40, batchRows: 32 + 16 });
  });

  it('defaults to the SDXL Euler config, handoff 0.8 and strength 0.3', () => {
    const plan = planGeneration({ steps: 30, mode: 'ensemble' });
    expect(plan.scheduler.className).toBe('EulerDiscreteScheduler');
    expect(plan.scheduler.name).toBe('euler');
    expect(plan.handoff).toBe(0.8);
    expect(plan.initNoiseSigma).toBe(11.520334243774414);
    expect(planGeneration({ steps: 50, mode: 'sdedit' }).strength).toBe(0.3);
  });

  it('gives DDIM no sigmas and DPM++ its own schedule', () => {
    const ddim = planGeneration({ scheduler: 'ddim', steps: 30, mode: 'ensemble' });
    expect(ddim.refiner!.sigmas).toBeNull();
    expect(ddim.refiner!.timesteps[0]).toBe(199);
    const dpm = planGeneration({ scheduler: 'dpmpp-2m-karras', steps: 30, mode: 'ensemble' });
    expect(dpm.schedule.timesteps[0]).toBe(999);
    expect(dpm.initNoiseSigma).toBe(1);
  });

  it('hands a stage a fresh scheduler positioned at its begin index', () => {
    const plan = planGeneration({ scheduler: 'dpmpp-2m', steps: 40, mode: 'ensemble' });
    const refiner = schedulerForStage(plan, plan.refiner!);
    expect(refiner.beginIndex).toBe(plan.refiner!.beginIndex);
    expect(Array.from(refiner.timesteps.slice(plan.refiner!.beginIndex))).toEqual(plan.refiner!.timesteps);
  });

  it('rejects flags that do not belong to the mode, bad guidance and bad step counts', () => {
    expect(() => planGeneration({ steps: 40, mode: 'base-only', handoff: 0.8 })).toThrow(/handoff applies to the ensemble mode only/);
    expect(() => planGeneration({ steps: 40, mode: 'ensemble', strength: 0.3 })).toThrow(/strength applies to the sdedit/);
    expect(() => planGeneration({ steps: 40, mode: 'ensemble', guidance: -1 })).toThrow(/guidance must be a number ≥ 0/);
    expect(() => planGeneration({ steps: 0, mode: 'base-only' })).toThrow(/steps must be an integer/);
    expect(() => planGeneration({ steps: 40, mode: 'sideways' as never })).toThrow(/unknown mode "sideways"/);
  });
});

describe('refinery plan (CLI)', () => {
  async function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    const { main } = await import('../../harness/cli.js');
    const out: string[] = [];
    const err: string[] = [];
    const log = vi.spyOn(console, 'log').mockImplementation((...parts: unknown[]) => void out.push(parts.join(' ')));
    const error = vi.spyOn(console, 'error').mockImplementation((...parts: unknown[]) => void err.push(parts.join(' ')));
    try {
      const code = await main(args);
      return { code, stdout: out.join('\n'), stderr: err.join('\n') };
    } finally {
      log.mockRestore();
      error.mockRestore();
    }
  }

  it('--json prints the plan for machines', async () => {
    const { code, stdout } = await runCli(['plan', '--steps', '40', '--handoff', '0.8', '--json']);
    expect(code).toBe(0);
    const plan = JSON.parse(stdout);
    expect(plan.base.unetCalls).toBe(32);
    expect(plan.refiner.timesteps).toEqual([176, 151, 126, 101, 76, 51, 26, 1]);
    expect(plan.unetEvaluations).toEqual({ calls: 40, batchRows: 80 });
  });

  it('prints base and refiner timesteps, sigmas and UNet evaluations as text', async () => {
    const { code, stdout } = await runCli(['plan', '--steps', '30', '--refine-strength', '0.3']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/Mode +SDEdit refinement, strength 0\.3/);
    expect(stdout).toMatch(/Refiner +9 steps from the base image re-noised to step 21 \(t = 265\)/);
    expect(stdout).toContain('timesteps 265 232 199 166 133 100 67 34 1');
    expect(stdout).toContain('sigmas    0.735343099 0.649856806');
    expect(stdout).toMatch(/UNet +39 calls, 78 batch rows per image/);
  });

  it('reads a scheduler_config.json written by Python, -Infinity included', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'refinery-plan-'));
    const file = join(dir, 'scheduler_config.json');
    writeFileSync(file, '{"_class_name": "DPMSolverMultistepScheduler", "beta_schedule": "scaled_linear", "beta_start": 0.00085, ' +
      '"beta_end": 0.012, "timestep_spacing": "leading", "steps_offset": 1, "lambda_min_clipped": -Infinity}');
    try {
      const { code, stdout } = await runCli(['plan', '--scheduler-config', file, '--steps', '30', '--base-only', '--json']);
      expect(code).toBe(0);
      const plan = JSON.parse(stdout);
      expect(plan.scheduler.className).toBe('DPMSolverMultistepScheduler');
      expect(plan.schedule.timesteps.slice(0, 2)).toEqual([961, 929]);
      expect(plan.refiner).toBeNull();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('bad values are one-line errors with exit code 1', async () => {
    const cases: [string[], RegExp][] = [
      [['plan', '--handoff', '1.5'], /^error: handoff must be a number in \(0, 1\], got 1\.5/],
      [['plan', '--handoff', '0.8', '--refine-strength', '0.3'], /^error: --handoff and --refine-strength exclude each other/],
      [['plan', '--steps', 'forty'], /^error: --steps must be a number, got "forty"/],
      [['plan', '--steps', '0'], /^error: steps must be an integer from 1/],
      [['plan', '--scheduler', 'dpm++2m'], /^error: unknown scheduler "dpm\+\+2m" \(did you mean dpmpp-2m/],
      [['plan', '--guidance', '-2'], /^error: guidance must be a number ≥ 0/],
      [['plan', '--scheduler-config', join(tmpdir(), 'no-such-refinery-config.json')], /^error: --scheduler-config .*: file not found/],
    ];
    for (const [args, message] of cases) {
      const { code, stderr, stdout } = await runCli(args);
      expect(code, args.join(' ')).toBe(1);
      expect(stderr.split('\n')).toHaveLength(1);
      expect(stderr).toMatch(message);
      expect(stdout).toBe('');
    }
  });
});
