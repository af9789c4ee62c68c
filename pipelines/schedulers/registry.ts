import { UserError } from '../errors.js';
import type { SchedulerConfigInput } from './config.js';
import { DDIMScheduler } from './ddim.js';
import { DPMSolverMultistepScheduler } from './dpm-solver-multistep.js';
import { EulerAncestralDiscreteScheduler } from './euler-ancestral-discrete.js';
import { EulerDiscreteScheduler } from './euler-discrete.js';
import type { DiffusionScheduler, SchedulerClassName } from './types.js';

export const SCHEDULER_NAMES = ['euler', 'euler-karras', 'euler-ancestral', 'ddim', 'dpmpp-2m', 'dpmpp-2m-karras'] as const;
export type SchedulerName = (typeof SCHEDULER_NAMES)[number];

/** What each short id means: a diffusers class plus the config keys that define the variant. */
const VARIANTS: Readonly<Record<SchedulerName, { className: SchedulerClassName; overrides: Record<string, unknown> }>> = {
  euler: { className: 'EulerDiscreteScheduler', overrides: { use_karras_sigmas: false } },
  'euler-karras': { className: 'EulerDiscreteScheduler', overrides: { use_karras_sigmas: true } },
  'euler-ancestral': { className: 'EulerAncestralDiscreteScheduler', overrides: {} },
  ddim: { className: 'DDIMScheduler', overrides: {} },
  'dpmpp-2m': {
    className: 'DPMSolverMultistepScheduler',
    overrides: { algorithm_type: 'dpmsolver++', solver_order: 2, solver_type: 'midpoint', use_karras_sigmas: false },
  },
  'dpmpp-2m-karras': {
    className: 'DPMSolverMultistepScheduler',
    overrides: { algorithm_type: 'dpmsolver++', solver_order: 2, solver_type: 'midpoint', use_karras_sigmas: true },
  },
};

const CLASS_NAMES: readonly SchedulerClassName[] = [
  'EulerDiscreteScheduler',
  'EulerAncestralDiscreteScheduler',
  'DDIMScheduler',
  'DPMSolverMultistepScheduler',
];

/** Options that are step arguments in diffusers rather than config keys. */
export interface SchedulerOptions {
  /** DDIM η (default 0). */
  readonly eta?: number;
  /** Batch rows in the flat latents, for dynamic thresholding (default 1). */
  readonly batchSize?: number;
}

export interface ResolvedSchedulerChoice {
  /** The short id when one was used (or matches the class), else null. */
  readonly name: SchedulerName | null;
  readonly className: SchedulerClassName;
  /** The config with the variant's overrides applied. */
  readonly config: Record<string, unknown>;
}

/**
 * Which scheduler a name (short id or diffusers class name) and a config select: an explicit name
 * wins (like diffusers' `Class.from_config(other_config)`), else the config's `_class_name`.
 */
export function resolveSchedulerChoice(nameOrClass: string | undefined, config: SchedulerConfigInput = {}): ResolvedSchedulerChoice {
  const requested = nameOrClass ?? (typeof config._class_name === 'string' ? config._class_name : undefined);
  if (requested === undefined) {
    throw new UserError('no scheduler named: pass a scheduler name or a config with "_class_name"', schedulerHint());
  }
  if ((SCHEDULER_NAMES as readonly string[]).includes(requested)) {
    const name = requested as SchedulerName;
    const variant = VARIANTS[name];
    return { name, className: variant.className, config: { ...config, ...variant.overrides } };
  }
  if ((CLASS_NAMES as readonly string[]).includes(requested)) {
    const className = requested as SchedulerClassName;
    return { name: shortIdFor(className, config), className, config: { ...config } };
  }
  const source = nameOrClass === undefined ? `"_class_name" in the scheduler config` : 'scheduler';
  throw new UserError(`unknown ${source} "${requested}"`, didYouMean(requested));
}

export function createScheduler(
  nameOrClass: string | undefined,
  config: SchedulerConfigInput = {},
  options: SchedulerOptions = {},
): DiffusionScheduler {
  const choice = resolveSchedulerChoice(nameOrClass, config);
  switch (choice.className) {
    case 'EulerDiscreteScheduler':
      return new EulerDiscreteScheduler(choice.config);
    case 'EulerAncestralDiscreteScheduler':
      return new EulerAncestralDiscreteScheduler(choice.config);
    case 'DDIMScheduler':
      return new DDIMScheduler(choice.config, options);
    case 'DPMSolverMultistepScheduler':
      return new DPMSolverMultistepScheduler(choice.config, options);
  }
}

function shortIdFor(className: SchedulerClassName, config: SchedulerConfigInput): SchedulerName | null {
  const karras = config.use_karras_sigmas === true;
  switch (className) {
    case 'EulerDiscreteScheduler':
      return karras ? 'euler-karras' : 'euler';
    case 'EulerAncestralDiscreteScheduler':
      return 'euler-ancestral';
    case 'DDIMScheduler':
      return 'ddim';
    case 'DPMSolverMultistepScheduler': {
      const isTwoM =
        (config.solver_order ?? 2) === 2 &&
        (config.algorithm_type ?? 'dpmsolver++') === 'dpmsolver++' &&
        (config.solver_type ?? 'midpoint') === 'midpoint';
      if (!isTwoM) return null;
      return karras ? 'dpmpp-2m-karras' : 'dpmpp-2m';
    }
  }
}

function schedulerHint(): string {
  return `known schedulers: ${SCHEDULER_NAMES.join(', ')} (or a diffusers class name: ${CLASS_NAMES.join(', ')})`;
}

function didYouMean(requested: string): string {
  const candidates = [...SCHEDULER_NAMES, ...CLASS_NAMES];
  const wanted = normalizeName(requested);
  const close = candidates
    .map((candidate) => ({ candidate, distance: editDistance(wanted, normalizeName(candidate)) }))
    .filter(({ candidate, distance }) => distance <= Math.max(2, Math.floor(candidate.length / 3)))
    .sort((a, b) => a.distance - b.distance)
    .map(({ candidate }) => candidate);
  return close.length > 0 ? `did you mean ${close.slice(0, 3).join(' or ')}? ${schedulerHint()}` : schedulerHint();
}

/** "DPM++ 2M Karras" and "dpmpp-2m-karras" compare equal. */
function normalizeName(name: string): string {
  return name.toLowerCase().replaceAll('+', 'p').replace(/[^a-z0-9]/g, '');
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
}
