import { readFileSync } from 'node:fs';
import type { Argv, CommandModule } from 'yargs';
import { UserError } from '../../pipelines/errors.js';
import { planGeneration, type GenerationMode, type GenerationPlan, type StagePlan } from '../../pipelines/plan.js';
import { parseSchedulerConfigJson } from '../../pipelines/schedulers/config.js';
import { SDXL_PIPELINE_DEFAULTS, SDXL_SCHEDULER_CONFIG } from '../../pipelines/schedulers/sdxl-default-config.js';

interface PlanArgs {
  steps?: string;
  scheduler?: string;
  'scheduler-config'?: string;
  handoff?: string;
  'refine-strength'?: string;
  'base-only'?: boolean;
  guidance?: string;
  json?: boolean;
}

export const planCommand: CommandModule<object, PlanArgs> = {
  command: 'plan',
  describe: 'Print the base and refiner timesteps, sigmas and UNet evaluations of a schedule',
  builder: (yargs: Argv) =>
    yargs
      .option('steps', { type: 'string', describe: `inference steps N (default ${SDXL_PIPELINE_DEFAULTS.numInferenceSteps})` })
      .option('scheduler', {
        type: 'string',
        describe: 'euler, euler-karras, euler-ancestral, ddim, dpmpp-2m, dpmpp-2m-karras (default: the config\'s _class_name)',
      })
      .option('scheduler-config', { type: 'string', describe: 'a diffusers scheduler_config.json (default: the SDXL base config)' })
      .option('handoff', { type: 'string', describe: 'ensemble: the base denoises this fraction h of the schedule (default 0.8)' })
      .option('refine-strength', { type: 'string', describe: 'SDEdit: the refiner re-noises the base image and runs the last int(N·s) steps' })
      .option('base-only', { type: 'boolean', describe: 'no refiner' })
      .option('guidance', { type: 'string', describe: `classifier-free guidance scale (default ${SDXL_PIPELINE_DEFAULTS.guidanceScale})` })
      .option('json', { type: 'boolean', describe: 'print the plan as JSON' })
      .example('$0 plan --steps 40 --handoff 0.8', 'the model card recipe: 32 base steps, 8 refiner steps')
      .example('$0 plan --steps 50 --refine-strength 0.3 --json', 'SDEdit refinement of the finished base image') as Argv<PlanArgs>,
  handler: async (argv) => {
    const plan = planGeneration({
      scheduler: argv.scheduler,
      config: argv['scheduler-config'] ? readSchedulerConfig(argv['scheduler-config']) : SDXL_SCHEDULER_CONFIG,
      steps: argv.steps === undefined ? SDXL_PIPELINE_DEFAULTS.numInferenceSteps : parseFlag('--steps', argv.steps),
      ...modeFromFlags(argv),
      guidance: argv.guidance === undefined ? undefined : parseFlag('--guidance', argv.guidance),
    });
    console.log(argv.json ? JSON.stringify(plan, null, 2) : formatPlan(plan));
  },
};

function modeFromFlags(argv: PlanArgs): { mode: GenerationMode; handoff?: number; strength?: number } {
  const given = (['handoff', 'refine-strength', 'base-only'] as const).filter((flag) => argv[flag] !== undefined && argv[flag] !== false);
  if (given.length > 1) {
    throw new UserError(`--${given.join(' and --')} exclude each other`, 'pick one of --handoff F, --refine-strength S, --base-only');
  }
  if (argv['base-only']) return { mode: 'base-only' };
  if (argv['refine-strength'] !== undefined) return { mode: 'sdedit', strength: parseFlag('--refine-strength', argv['refine-strength']) };
  return { mode: 'ensemble', handoff: argv.handoff === undefined ? undefined : parseFlag('--handoff', argv.handoff) };
}

function parseFlag(flag: string, raw: string): number {
  const value = raw.trim() === '' ? Number.NaN : Number(raw);
  if (!Number.isFinite(value)) throw new UserError(`${flag} must be a number, got "${raw}"`);
  return value;
}

function readSchedulerConfig(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (error as Error).message;
    throw new UserError(`--scheduler-config ${file}: ${reason}`, 'pass the path of a diffusers scheduler_config.json');
  }
  return parseSchedulerConfigJson(text, file);
}

const formatSigma = (sigma: number) => String(Number(sigma.toPrecision(9)));

export function formatPlan(plan: GenerationPlan): string {
  const config = plan.scheduler.config;
  const variant = [
    `${String(config.timestep_spacing)} spacing`,
    Number(config.steps_offset) ? `steps_offset ${String(config.steps_offset)}` : null,
    String(config.prediction_type),
    config.use_karras_sigmas ? 'Karras sigmas' : null,
  ].filter(Boolean);
  const lines = [
    `Scheduler  ${plan.scheduler.name ?? plan.scheduler.className} (${plan.scheduler.className}), ${plan.steps} steps; ${variant.join(', ')}`,
    `Mode       ${describeMode(plan)}`,
  ];
  if (plan.base) {
    lines.push(`Base       ${plan.base.unetCalls} steps from noise scaled by ${formatSigma(plan.initNoiseSigma)}`);
    lines.push(...stageLists(plan.base));
  }
  if (plan.refiner) {
    const entry =
      plan.refiner.input === 'base-latents'
        ? `from the base latents at index ${plan.refiner.beginIndex}, no noise added`
        : `from the ${plan.base ? 'base image' : 'input image'} re-noised to step ${plan.refiner.beginIndex}` +
          (plan.refiner.timesteps.length > 0 ? ` (t = ${plan.refiner.timesteps[0]})` : '');
    lines.push(`Refiner    ${plan.refiner.unetCalls} steps ${entry}`);
    lines.push(...stageLists(plan.refiner));
  }
  const guidanceNote = [plan.base, plan.refiner]
    .filter((s): s is StagePlan => s !== null)
    .map((s) => `${s.model} guidance ${s.guidance}${s.classifierFreeGuidance ? ' (CFG: 2 rows per call)' : ' (no CFG)'}`)
    .join(', ');
  lines.push(`UNet       ${plan.unetEvaluations.calls} calls, ${plan.unetEvaluations.batchRows} batch rows per image; ${guidanceNote}`);
  return lines.join('\n');
}

function describeMode(plan: GenerationPlan): string {
  switch (plan.mode) {
    case 'ensemble':
      return `ensemble of experts, handoff ${plan.handoff}: the base keeps t ≥ ${plan.cutoff}, the refiner takes t < ${plan.cutoff}`;
    case 'sdedit':
      return `SDEdit refinement, strength ${plan.strength}: the refiner redoes the last ${plan.refiner?.unetCalls} of ${plan.steps} steps`;
    case 'refiner-only':
      return `refiner only, strength ${plan.strength}`;
    case 'base-only':
      return plan.requestedMode === 'ensemble' ? `base only (handoff ${plan.handoff} leaves nothing to the refiner)` : 'base only';
  }
}

function stageLists(stage: StagePlan): string[] {
  const lines = [wrap('  timesteps ', stage.timesteps.map(String))];
  if (stage.sigmas) lines.push(wrap('  sigmas    ', stage.sigmas.map(formatSigma)));
  return lines;
}

function wrap(label: string, items: string[], width = 100): string {
  const indent = ' '.repeat(label.length);
  const lines: string[] = [];
  let line = label;
  let count = 0;
  for (const item of items) {
    if (count > 0 && line.length + 1 + item.length > width) {
      lines.push(line);
      line = indent;
      count = 0;
    }
    line += (count > 0 ? ' ' : '') + item;
    count++;
  }
  lines.push(line);
  return lines.join('\n');
}
