import { existsSync, mkdirSync, statSync } from 'node:fs';
import { writeFileAtomic } from '../../pipelines/atomic-write.js';
import { join, resolve } from 'node:path';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { SdxlEnsemble, checkTrajectorySpec, type Branch, type TrajectorySpec } from '../../pipelines/ensemble.js';
import { UserError } from '../../pipelines/errors.js';
import { encodePng } from '../../pipelines/image/png.js';
import { validateSdxlFolder } from '../../pipelines/model-folder.js';
import { handoffCutoff, sdeditSplit } from '../../pipelines/plan.js';
import { ensureTinyModels } from '../../pipelines/tiny/tiny-models.js';

interface GenerateArgs {
  prompt?: string;
  promptText?: string;
  negative?: string;
  seed?: string;
  seeds?: string;
  steps: number;
  guidance: number;
  refinerGuidance?: number;
  width?: number;
  height?: number;
  size?: string;
  scheduler: string;
  handoff?: number;
  refineStrength?: number;
  baseOnly?: boolean;
  models?: string[];
  device: string;
  out: string;
  cacheDir: string;
}

/** Everything `refinery generate` will do, checked before any model is loaded. */
export interface GeneratePlan {
  spec: Omit<TrajectorySpec, 'seed'>;
  seeds: number[];
  branch: Branch;
  models: { base: string; refiner?: string } | null;
  outDir: string;
}

export const generateCommand: CommandModule<object, GenerateArgs> = {
  command: 'generate [prompt-text]',
  describe: 'Generate images with SDXL base + refiner (ensemble handoff, SDEdit refine or base only); PNGs carry the parameters',
  builder: (yargs: Argv<object>) =>
    yargs
      .positional('prompt-text', { type: 'string', describe: 'The prompt (or use --prompt)' })
      .option('prompt', { type: 'string', describe: 'The prompt' })
      .option('negative', { type: 'string', describe: 'Negative prompt (absent: the base uses zero embeddings; "" is encoded)' })
      .option('seed', { type: 'string', describe: 'One seed (torch.Generator().manual_seed)' })
      .option('seeds', { type: 'string', describe: 'Several seeds, comma separated: 1,2,3' })
      .option('steps', { type: 'number', default: 40, describe: 'Denoising steps of the full schedule' })
      .option('guidance', { type: 'number', default: 5, describe: 'Classifier-free guidance scale (≤ 1 turns CFG off)' })
      .option('refiner-guidance', { type: 'number', describe: 'Refiner guidance scale (default: --guidance)' })
      .option('width', { type: 'number', describe: 'Image width, a multiple of 8 (default 1024)' })
      .option('height', { type: 'number', describe: 'Image height, a multiple of 8 (default 1024)' })
      .option('size', { type: 'string', describe: 'WIDTHxHEIGHT, e.g. 1024x1024' })
      .option('scheduler', { type: 'string', default: 'euler', describe: 'euler, euler-karras, euler-ancestral, ddim, dpmpp-2m, dpmpp-2m-karras' })
      .option('handoff', { type: 'number', describe: 'Ensemble of experts: fraction of the schedule the base runs, in (0, 1] (default 0.8)' })
      .option('refine-strength', { type: 'number', describe: 'SDEdit: refine the finished base image with this strength, in (0, 1]' })
      .option('base-only', { type: 'boolean', describe: 'Base model only, no refiner' })
      .option('models', { type: 'string', array: true, describe: 'Model folders: base=DIR refiner=DIR (default: the tiny test models)' })
      .option('device', { type: 'string', default: 'cpu', describe: 'Execution provider: cpu, cuda, tensorrt, dml, webgpu, … (falls back to cpu)' })
      .option('out', { type: 'string', default: 'refinery-out', describe: 'Output folder for <seed>-<mode>.png' })
      .option('cache-dir', { type: 'string', default: join('.cache', 'refinery'), describe: 'Where the tiny test models are generated (the same folder run and score use)' }) as unknown as Argv<GenerateArgs>,
  handler: async (args: ArgumentsCamelCase<GenerateArgs>) => {
    const plan = planGenerate(args);
    const log = (line: string) => console.error(line);
    let models = plan.models;
    if (!models) {
      const tiny = await ensureTinyModels(args.cacheDir);
      console.error(`note: no --models given: using the tiny random-weight test models in ${tiny.root} (their images are noise; for testing the pipeline only)`);
      models = { base: tiny.base, refiner: tiny.refiner };
    }
    await checkModelFolders(models, plan.branch);
    const ensemble = await SdxlEnsemble.load({ base: models.base, refiner: plan.branch.mode === 'base-only' ? undefined : models.refiner, device: args.device, log });
    let failures = 0;
    try {
      mkdirSync(plan.outDir, { recursive: true });
      for (const seed of plan.seeds) {
        const [result] = await ensemble.generate({ ...plan.spec, seed }, [plan.branch]);
        if (!result.image) {
          failures++;
          console.error(`error: seed ${seed}: no image written: ${result.error ?? 'generation failed'}`);
          continue;
        }
        const path = join(plan.outDir, `${seed}-${branchFileLabel(plan.branch)}.png`);
        writeFileAtomic(path, encodePng(result.image, result.pngTexts));
        console.log(path);
      }
    } finally {
      await ensemble.dispose();
    }
    if (failures > 0) process.exitCode = 1;
  },
};

/** Parses and validates every argument (UserError naming the flag), without touching models. */
export function planGenerate(args: GenerateArgs): GeneratePlan {
  // prompt
  if (args.prompt !== undefined && args.promptText !== undefined && args.prompt !== args.promptText) {
    throw new UserError('give the prompt once: either as the argument or with --prompt');
  }
  const prompt = args.prompt ?? args.promptText;
  if (prompt === undefined) throw new UserError('no prompt given', 'refinery generate "a photo of a cat" or --prompt "…"');

  // seeds
  if (args.seed !== undefined && args.seeds !== undefined) throw new UserError('use either --seed or --seeds, not both');
  const seedText = args.seeds ?? args.seed ?? '0';
  const seeds = seedText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => {
      const value = Number(s);
      if (!/^\d+$/.test(s) || !Number.isSafeInteger(value)) throw new UserError(`--seeds: "${s}" is not a non-negative integer`);
      return value;
    });
  if (seeds.length === 0) throw new UserError(`--seeds: the seed list is empty`, 'e.g. --seeds 1,2,3');

  // size
  let width = args.width ?? 1024;
  let height = args.height ?? 1024;
  if (args.size !== undefined) {
    if (args.width !== undefined || args.height !== undefined) throw new UserError('use either --size or --width/--height, not both');
    const match = /^(\d+)x(\d+)$/i.exec(args.size.trim());
    if (!match) throw new UserError(`--size must look like 1024x1024, got "${args.size}"`);
    width = Number(match[1]);
    height = Number(match[2]);
  }
  for (const [flag, value] of [['--width', width], ['--height', height]] as const) {
    if (!Number.isInteger(value) || value <= 0 || value % 8 !== 0) {
      throw new UserError(`${flag} ${value} is not a positive multiple of 8`, 'SDXL latents are 1/8 of the image size; e.g. 1024 or 832');
    }
  }

  // mode
  const modes = [args.handoff !== undefined, args.refineStrength !== undefined, args.baseOnly === true].filter(Boolean).length;
  if (modes > 1) throw new UserError('choose one of --handoff, --refine-strength and --base-only');
  let branch: Branch;
  if (args.baseOnly) branch = { mode: 'base-only' };
  else if (args.refineStrength !== undefined) {
    sdeditSplit(args.steps, args.refineStrength);
    branch = { mode: 'sdedit', strength: args.refineStrength };
  } else {
    const handoff = args.handoff ?? 0.8;
    try {
      handoffCutoff(handoff);
    } catch {
      throw new UserError(`--handoff must be in (0, 1], got ${handoff}`, '0.8 is the SDXL recipe; 1 means base only');
    }
    branch = { mode: 'ensemble', handoff };
  }

  // the trajectory (steps, guidance, scheduler name)
  const spec: Omit<TrajectorySpec, 'seed'> = {
    prompt,
    negativePrompt: args.negative ?? null,
    steps: args.steps,
    guidance: args.guidance,
    ...(args.refinerGuidance !== undefined ? { refinerGuidance: args.refinerGuidance } : {}),
    scheduler: args.scheduler,
    width,
    height,
  };
  checkTrajectorySpec({ ...spec, seed: seeds[0] });

  // models
  let models: GeneratePlan['models'] = null;
  if (args.models && args.models.length > 0) {
    const folders: Record<string, string> = {};
    for (const entry of args.models) {
      const match = /^(base|refiner)=(.+)$/.exec(entry);
      if (!match) throw new UserError(`--models: "${entry}" must be base=DIR or refiner=DIR`);
      folders[match[1]] = resolve(match[2]);
    }
    if (!folders.base) throw new UserError('--models: no base=DIR given');
    for (const [role, dir] of Object.entries(folders)) {
      if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UserError(`--models: the ${role} model folder ${dir} does not exist`);
    }
    if (branch.mode !== 'base-only' && !(branch.mode === 'ensemble' && branch.handoff === 1) && !folders.refiner) {
      throw new UserError(`--models: ${branch.mode} needs refiner=DIR`, 'or pass --base-only');
    }
    models = { base: folders.base, ...(folders.refiner ? { refiner: folders.refiner } : {}) };
  }
  return { spec, seeds, branch, models, outDir: resolve(args.out) };
}

/** Header-only validation of the folders (a refiner passed as base fails here), before any session. */
async function checkModelFolders(models: { base: string; refiner?: string }, branch: Branch): Promise<void> {
  await validateSdxlFolder(models.base, 'base');
  if (models.refiner && branch.mode !== 'base-only') await validateSdxlFolder(models.refiner, 'refiner');
}

export function branchFileLabel(branch: Branch): string {
  switch (branch.mode) {
    case 'base-only':
      return 'base-only';
    case 'ensemble':
      return branch.handoff === 1 ? 'base-only' : `ensemble-${branch.handoff}`;
    case 'sdedit':
      return `sdedit-${branch.strength}`;
  }
}
