import { UserError } from '../errors.js';

/**
 * Reading a diffusers `scheduler_config.json` object: snake_case keys exactly as diffusers writes
 * them, unknown keys ignored, absent keys (or `null` where diffusers allows it) take the class's
 * diffusers default, and a present but invalid value is a UserError naming the key.
 */

export type SchedulerConfigInput = Readonly<Record<string, unknown>>;

export class ConfigReader {
  constructor(
    private readonly input: SchedulerConfigInput,
    private readonly className: string,
  ) {
    if (input === null || typeof input !== 'object' || Array.isArray(input)) {
      throw new UserError(`${className}: the scheduler config must be a JSON object`);
    }
  }

  has(key: string): boolean {
    return this.input[key] !== undefined && this.input[key] !== null;
  }

  private fail(key: string, expected: string): never {
    const got = JSON.stringify(this.input[key]);
    throw new UserError(`${this.className} config: "${key}" must be ${expected} (got ${got})`);
  }

  number(key: string, fallback: number, check?: (value: number) => boolean, expected = 'a finite number'): number {
    const raw = this.input[key];
    if (raw === undefined || raw === null) return fallback;
    const value = parseNumberLike(raw);
    if (value === undefined || (check ? !check(value) : !Number.isFinite(value))) this.fail(key, expected);
    return value;
  }

  optionalNumber(key: string, check: (value: number) => boolean, expected: string): number | null {
    const raw = this.input[key];
    if (raw === undefined || raw === null) return null;
    const value = parseNumberLike(raw);
    if (value === undefined || !check(value)) this.fail(key, expected);
    return value;
  }

  integer(key: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
    return this.number(
      key,
      fallback,
      (value) => Number.isInteger(value) && value >= min && value <= max,
      max === Number.MAX_SAFE_INTEGER ? `an integer ≥ ${min}` : `an integer from ${min} to ${max}`,
    );
  }

  boolean(key: string, fallback: boolean): boolean {
    const raw = this.input[key];
    if (raw === undefined || raw === null) return fallback;
    if (typeof raw !== 'boolean') this.fail(key, 'true or false');
    return raw;
  }

  choice<T extends string>(key: string, fallback: T, allowed: readonly T[]): T {
    const raw = this.input[key];
    if (raw === undefined || raw === null) return fallback;
    if (typeof raw !== 'string' || !(allowed as readonly string[]).includes(raw)) {
      this.fail(key, `one of ${allowed.map((a) => `"${a}"`).join(', ')}`);
    }
    return raw as T;
  }

  /** A feature diffusers has but refinery does not implement: only its "off" value is accepted. */
  unsupportedUnless(key: string, offValues: readonly unknown[]): void {
    const raw = this.input[key];
    if (raw === undefined || raw === null || offValues.includes(raw)) return;
    throw new UserError(
      `${this.className} config: "${key}" = ${JSON.stringify(raw)} is not supported by refinery ` +
        `(remove the key or set it to ${JSON.stringify(offValues[0])})`,
    );
  }

  numberList(key: string, length: number): number[] | null {
    const raw = this.input[key];
    if (raw === undefined || raw === null) return null;
    if (!Array.isArray(raw) || raw.some((v) => typeof v !== 'number' || !Number.isFinite(v))) {
      this.fail(key, 'null or a list of numbers');
    }
    if (raw.length !== length) this.fail(key, `a list of num_train_timesteps (${length}) numbers`);
    return raw as number[];
  }
}

/** Numbers, plus the non-JSON infinities Python's json module writes (`-Infinity`), kept as strings. */
function parseNumberLike(raw: unknown): number | undefined {
  if (typeof raw === 'number') return raw;
  if (typeof raw === 'string') {
    const text = raw.trim().toLowerCase();
    if (text === '-infinity' || text === '-inf') return -Infinity;
    if (text === 'infinity' || text === 'inf' || text === '+inf') return Infinity;
  }
  return undefined;
}

/**
 * Parses the text of a `scheduler_config.json`. diffusers writes it with Python's json module,
 * which emits `-Infinity` / `Infinity` / `NaN` for non-finite floats (e.g. DPM-Solver's
 * `lambda_min_clipped`); those bare tokens are turned into strings that the readers accept.
 */
export function parseSchedulerConfigJson(text: string, source: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(quotePythonNonFiniteTokens(text));
  } catch (error) {
    throw new UserError(`${source}: not valid JSON (${(error as Error).message})`, 'pass a diffusers scheduler_config.json');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new UserError(`${source}: a scheduler config must be a JSON object`, 'pass a diffusers scheduler_config.json');
  }
  return parsed as Record<string, unknown>;
}

function quotePythonNonFiniteTokens(text: string): string {
  let out = '';
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (inString) {
      out += ch;
      if (ch === '\\') {
        out += text[i + 1] ?? '';
        i++;
      } else if (ch === '"') {
        inString = false;
      }
      continue;
    }
    if (ch === '"') {
      inString = true;
      out += ch;
      continue;
    }
    const token = /^(-?Infinity|NaN)/.exec(text.slice(i, i + 9));
    if (token) {
      out += `"${token[1]}"`;
      i += token[1].length - 1;
      continue;
    }
    out += ch;
  }
  return out;
}
