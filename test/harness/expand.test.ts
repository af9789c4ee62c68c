import { describe, expect, it } from 'vitest';
import type { PromptInstance } from '../../datasets/types.js';
import {
  buildConditions,
  checkReportSelectors,
  expandExperiment,
  resolveSeeds,
  selectConditions,
} from '../../harness/experiment/expand.js';
import { parseExperiment } from '../../harness/experiment/schema.js';
import type { ExperimentSpec, ModelHashes } from '../../harness/experiment/types.js';
import { isUserError } from '../../pipelines/errors.js';
import * as pipelinesRegistry from '../../pipelines/schedulers/registry.js';

const prompts: PromptInstance[] = [
  { id: 'rel/0', text: 'a red cube on top of a blue sphere', suite: 'rel', category: 'spatial' },
  { id: 'rel/1', text: 'a green dog to the left of a yellow car', suite: 'rel', category: 'spatial' },
  { id: 'rel/2', text: 'a cat below a table', suite: 'rel', category: 'spatial' },
];
const models: ModelHashes = { base: 'a'.repeat(64), refiner: 'b'.repeat(64) };

function spec(overrides: Record<string, unknown> = {}): ExperimentSpec {
  const { spec: parsed, problems } = parseExperiment({
    name: 'expand-test',
    models: { base: 'tiny', refiner: 'tiny' },
    prompts: [{ inline: ['placeholder'] }],
    seeds: [11, 12],
    ...overrides,
  });
  if (!parsed) throw new Error(JSON.stringify(problems));
  return parsed;
}

const demoSweep = { sweep: { mode: ['base-only', { handoff: 0.8 }, { handoff: 0.6 }, { strength: 0.3 }] }, generation: { steps: 20, width: 256, height: 256 } };

describe('resolveSeeds', () => {
  it('expands lists, half-open ranges and counts', () => {
    expect(resolveSeeds([5, 3])).toEqual([5, 3]);
    expect(resolveSeeds({ range: [10, 13] })).toEqual([10, 11, 12]);
    expect(resolveSeeds({ count: 3, start: 7 })).toEqual([7, 8, 9]);
  });
});

describe('buildConditions', () => {
  it('names conditions canonically and labels them by what varies', () => {
    const conditions = buildConditions(spec(demoSweep));
    expect(conditions.map((c) => c.id)).toEqual([
      'mode=base-only,steps=20,guidance=5,scheduler=euler,size=256x256',
      'mode=ensemble,handoff=0.8,steps=20,guidance=5,scheduler=euler,size=256x256',
      'mode=ensemble,handoff=0.6,steps=20,guidance=5,scheduler=euler,size=256x256',
      'mode=sdedit,strength=0.3,steps=20,guidance=5,scheduler=euler,size=256x256',
    ]);
    expect(conditions.map((c) => c.label)).toEqual(['base-only', 'handoff=0.8', 'handoff=0.6', 'strength=0.3']);
    expect(conditions[1]).toMatchObject({ mode: 'ensemble', handoff: 0.8, refinerGuidance: 5, aestheticScore: 6, negativeAestheticScore: 2.5 });
    expect(conditions[1].strength).toBeUndefined();
    expect(conditions[3]).toMatchObject({ mode: 'sdedit', strength: 0.3 });
  });

  it('crosses axes with mode innermost and each axis in written order', () => {
    const conditions = buildConditions(
      spec({ sweep: { handoff: [0.8, 0.6], steps: [40, 20], size: ['512x512', '768x512'], negative_prompt: [null, 'blurry'] }, generation: { refiner_guidance: 7 } }),
    );
    expect(conditions).toHaveLength(16);
    expect(conditions.slice(0, 3).map((c) => c.label)).toEqual([
      'handoff=0.8,steps=40,size=512x512,negative=none',
      'handoff=0.6,steps=40,size=512x512,negative=none',
      'handoff=0.8,steps=20,size=512x512,negative=none',
    ]);
    expect(conditions[15].id).toBe('mode=ensemble,handoff=0.6,steps=20,guidance=5,scheduler=euler,size=768x512,negative="blurry"');
    expect(conditions[15]).toMatchObject({ width: 768, height: 512, negativePrompt: 'blurry', refinerGuidance: 7 });
  });

  it('shows the mode as the label when nothing varies', () => {
    expect(buildConditions(spec()).map((c) => c.label)).toEqual(['handoff=0.8']);
  });
});

describe('expandExperiment', () => {
  it('makes prompts × seeds × conditions units, ordered by prompt, seed, trajectory, branch', () => {
    const s = spec({ ...demoSweep, sweep: { ...demoSweep.sweep, steps: [20, 10] } });
    const { conditions, units } = expandExperiment(s, prompts, models);
    expect(conditions).toHaveLength(8);
    expect(units).toHaveLength(3 * 2 * 8);
    expect(new Set(units.map((u) => u.key)).size).toBe(48);
    expect(new Set(units.map((u) => u.trajectoryKey)).size).toBe(3 * 2 * 2);
    expect(units.slice(0, 8).map((u) => [u.prompt.id, u.seed, u.condition.label])).toEqual([
      ['rel/0', 11, 'base-only,steps=20'],
      ['rel/0', 11, 'handoff=0.8,steps=20'],
      ['rel/0', 11, 'handoff=0.6,steps=20'],
      ['rel/0', 11, 'strength=0.3,steps=20'],
      ['rel/0', 11, 'base-only,steps=10'],
      ['rel/0', 11, 'handoff=0.8,steps=10'],
      ['rel/0', 11, 'handoff=0.6,steps=10'],
      ['rel/0', 11, 'strength=0.3,steps=10'],
    ]);
    expect(units[8]).toMatchObject({ seed: 12, prompt: { id: 'rel/0' } });
    expect(units[16].prompt.id).toBe('rel/1');
    // units of one trajectory are adjacent and differ only in the branch
    for (let i = 0; i < units.length; i += 4) {
      const group = units.slice(i, i + 4);
      expect(new Set(group.map((u) => u.trajectoryKey)).size).toBe(1);
      expect(group.map((u) => u.condition.mode)).toEqual(['base-only', 'ensemble', 'ensemble', 'sdedit']);
    }
  });

  it('is deterministic and keeps keys for settings that do not make the image', () => {
    const reference = expandExperiment(spec(demoSweep), prompts, models);
    expect(expandExperiment(spec(demoSweep), prompts, models)).toEqual(reference);
    const cosmetic = spec({
      ...demoSweep,
      description: 'other words',
      scorers: ['clip', 'health'],
      report: { title: 'Another title', bootstrap_resamples: 500, seed: 3 },
      run: { batch: 4, low_memory: true, fail_fast: true, out_dir: 'elsewhere' },
    });
    const renamedPrompts = prompts.map((p, i) => ({ ...p, id: `other/${i}`, category: 'misc', suite: 'other' }));
    const keys = (e: ReturnType<typeof expandExperiment>) => e.units.map((u) => u.key);
    expect(keys(expandExperiment(cosmetic, renamedPrompts, models))).toEqual(keys(reference));
    const sweepOrder = spec({ ...demoSweep, sweep: { strength: [0.3], handoff: [0.6, 0.8], base_only: true } });
    expect(new Set(keys(expandExperiment(sweepOrder, prompts, models)))).toEqual(new Set(keys(reference)));
  });

  it('changes keys with settings that make the image', () => {
    const reference = new Set(expandExperiment(spec(demoSweep), prompts, models).units.map((u) => u.key));
    const variants: [string, ExperimentSpec, ModelHashes][] = [
      ['steps', spec({ ...demoSweep, generation: { ...demoSweep.generation, steps: 21 } }), models],
      ['guidance rescale', spec({ ...demoSweep, generation: { ...demoSweep.generation, guidance_rescale: 0.5 } }), models],
      ['scheduler config', spec({ ...demoSweep, generation: { ...demoSweep.generation, scheduler_config: { timestep_spacing: 'trailing' } } }), models],
      ['base model', spec(demoSweep), { ...models, base: 'c'.repeat(64) }],
      ['model scheduler config', spec(demoSweep), { ...models, schedulerConfig: { steps_offset: 1 } }],
    ];
    for (const [what, changed, hashes] of variants) {
      const keys = expandExperiment(changed, prompts, hashes).units.map((u) => u.key);
      expect(keys.filter((key) => reference.has(key)), what).toEqual([]);
    }
    // a new refiner changes the refined units only
    const units = expandExperiment(spec(demoSweep), prompts, { ...models, refiner: 'd'.repeat(64) }).units;
    expect(units.filter((u) => reference.has(u.key)).map((u) => u.condition.mode)).toEqual(Array(6).fill('base-only'));
  });

  it('passes stage and overrides to a scheduler-config resolver', () => {
    const calls: string[] = [];
    expandExperiment(spec({ generation: { scheduler_config: { timestep_spacing: 'trailing' } } }), prompts.slice(0, 1), models, {
      resolveSchedulerConfig: (scheduler, overrides, stage) => {
        calls.push(`${scheduler}:${stage}:${JSON.stringify(overrides)}`);
        return { ...overrides, resolved: true };
      },
    });
    expect(calls).toEqual(['euler:base:{"timestep_spacing":"trailing"}', 'euler:refiner:{"timestep_spacing":"trailing"}']);
  });

  it('keys the fully resolved scheduler config by default: model config, overrides, then the variant', () => {
    const karras = spec({ sweep: { scheduler: ['euler', 'euler-karras'] }, generation: { scheduler_config: { timestep_spacing: 'trailing' } } });
    const withModelConfig = { ...models, schedulerConfig: { timestep_spacing: 'leading', steps_offset: 1 } };
    const seen: Record<string, unknown>[] = [];
    const { units } = expandExperiment(karras, prompts.slice(0, 1), withModelConfig, {
      resolveSchedulerConfig: (scheduler, overrides, stage) => {
        const { resolveSchedulerChoice } = pipelinesRegistry;
        const config = resolveSchedulerChoice(scheduler, { ...withModelConfig.schedulerConfig, ...overrides }).config;
        if (stage === 'base') seen.push(config);
        return config;
      },
    });
    expect(seen).toEqual([
      { timestep_spacing: 'trailing', steps_offset: 1, use_karras_sigmas: false },
      { timestep_spacing: 'trailing', steps_offset: 1, use_karras_sigmas: true },
    ]);
    // the default resolver does the same
    expect(expandExperiment(karras, prompts.slice(0, 1), withModelConfig).units.map((u) => u.key)).toEqual(units.map((u) => u.key));
    expect(units[0].trajectoryKey).not.toBe(units[1].trajectoryKey);
  });

  it('refuses repeated prompts, no prompts, and a missing refiner hash', () => {
    const attempt = (fn: () => unknown) => {
      try {
        fn();
      } catch (error) {
        expect(isUserError(error)).toBe(true);
        return (error as Error).message;
      }
      throw new Error('expected a UserError');
    };
    expect(attempt(() => expandExperiment(spec(), [prompts[0], { ...prompts[0], id: 'x' }], models))).toMatch(/appears twice \(rel\/0 and x\)/);
    expect(attempt(() => expandExperiment(spec(), [prompts[0], { ...prompts[1], id: 'rel/0' }], models))).toMatch(/two prompts have the id 'rel\/0'/);
    expect(attempt(() => expandExperiment(spec(), [], models))).toMatch(/gave no prompts/);
    expect(attempt(() => expandExperiment(spec(), prompts, { base: models.base }))).toMatch(/no refiner model hash/);
    expect(expandExperiment(spec({ models: { base: 'tiny' } }), prompts, { base: models.base }).units).toHaveLength(6);
  });
});

describe('selectConditions', () => {
  const conditions = buildConditions(spec({ ...demoSweep, sweep: { ...demoSweep.sweep, steps: [20, 10] } }));
  it('selects by id, label, mode and key=value pairs', () => {
    expect(selectConditions(conditions, 'base-only').map((c) => c.label)).toEqual(['base-only,steps=20', 'base-only,steps=10']);
    expect(selectConditions(conditions, 'handoff=0.80,steps=10').map((c) => c.label)).toEqual(['handoff=0.8,steps=10']);
    expect(selectConditions(conditions, 'strength=0.3,steps=20')).toHaveLength(1);
    expect(selectConditions(conditions, conditions[5].id)).toEqual([conditions[5]]);
    expect(selectConditions(conditions, 'handoff=0.7')).toEqual([]);
  });

  it('reports report selectors that name no condition', () => {
    const s = spec({ ...demoSweep, report: { reference_condition: 'handoff=0.9', compare: ['handoff=0.8', 'steps=99'] } });
    expect(checkReportSelectors(s, buildConditions(s))).toEqual([
      "report.reference_condition: 'handoff=0.9' names no condition; the conditions are: base-only, handoff=0.8, handoff=0.6, strength=0.3",
      "report.compare[1]: 'steps=99' names no condition; the conditions are: base-only, handoff=0.8, handoff=0.6, strength=0.3",
    ]);
  });
});
