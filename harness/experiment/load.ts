/**
 * Loading an experiment file: YAML or JSON, `extends` chains (deep merge, lists replace), `--set`
 * overrides, relative paths resolved against the file that wrote them, the schema, and checks that the
 * files it names exist. Every problem is collected; none stops the others from being found.
 *
 * @example
 * const { spec, issues } = loadExperiment('experiments/demo.yaml', { set: ['generation.steps=20'] });
 * if (!spec) for (const issue of issues) console.error(formatProblem(issue));
 * @module
 */
import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseYaml, parseDocument } from 'yaml';
import { closest, parseExperiment, pathToString, showValue, type Problem } from './schema.js';
import type { ExperimentSpec } from './types.js';

/** What a suite name is checked against (`listSuites()` of datasets/). */
export interface KnownSuite {
  id: string;
  categories: readonly string[];
}

export interface LoadOptions {
  /** `path=value` overrides; values are YAML scalars or flow collections (`[0.9, 0.7]`, `{handoff: 0.8}`) */
  set?: readonly string[];
  /** directory `run.out_dir` is relative to (default: process.cwd()) */
  cwd?: string;
  /** when given, suite names and categories are checked against it */
  suites?: readonly KnownSuite[];
}

export interface LoadedExperiment {
  /** the resolved spec; present only when there are no issues */
  spec?: ExperimentSpec;
  /** every file read: the experiment first, then the files it extends, in order */
  sourceFiles: string[];
  issues: Problem[];
}

type PlainObject = Record<string, unknown>;

function isPlainObject(value: unknown): value is PlainObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Mappings merge key by key; anything else (lists included) in `over` replaces `base`. */
export function deepMerge(base: unknown, over: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(over)) return over;
  const merged: PlainObject = { ...base };
  for (const [key, value] of Object.entries(over)) merged[key] = key in base ? deepMerge(base[key], value) : value;
  return merged;
}

const MODEL_KEYS = ['base', 'refiner', 'clip', 'detector'] as const;

/** Rewrites the path fields written in one file so they no longer depend on that file's folder. */
function absolutizePaths(raw: PlainObject, directory: string): void {
  if (isPlainObject(raw.models)) {
    for (const key of MODEL_KEYS) {
      const value = raw.models[key];
      if (typeof value === 'string' && value !== 'tiny' && value !== '') raw.models[key] = resolve(directory, value);
    }
  }
  if (Array.isArray(raw.prompts)) {
    for (const source of raw.prompts) {
      if (isPlainObject(source) && typeof source.file === 'string' && source.file !== '') source.file = resolve(directory, source.file);
    }
  }
}

function readRaw(file: string, issues: Problem[], path: string): PlainObject | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    issues.push({ path, message: `cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}` });
    return undefined;
  }
  let value: unknown;
  if (/\.json$/i.test(file)) {
    try {
      value = JSON.parse(text);
    } catch (error) {
      issues.push({ path: '', message: `${file}: invalid JSON: ${(error as Error).message}` });
      return undefined;
    }
  } else {
    const document = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
    if (document.errors.length > 0) {
      for (const error of document.errors) {
        const where = error.linePos ? `:${error.linePos[0].line}:${error.linePos[0].col}` : '';
        issues.push({ path: '', message: `${file}${where}: invalid YAML: ${error.message.split('\n')[0]}` });
      }
      return undefined;
    }
    value = document.toJS();
  }
  if (!isPlainObject(value)) {
    issues.push({ path: '', message: `${file}: an experiment must be a mapping of fields (got ${showValue(value)})` });
    return undefined;
  }
  return value;
}

/** Reads a file and everything it extends, merged; paths made absolute per file. */
function readWithExtends(file: string, chain: string[], issues: Problem[], sourceFiles: string[]): PlainObject | undefined {
  const raw = readRaw(file, issues, chain.length === 0 ? '' : 'extends');
  if (!raw) return undefined;
  sourceFiles.push(file);
  const directory = dirname(file);
  absolutizePaths(raw, directory);
  const parent = raw.extends;
  delete raw.extends;
  if (parent === undefined) return raw;
  const where = chain.length === 0 ? '' : ` (in ${file})`;
  if (typeof parent !== 'string' || parent === '') {
    issues.push({ path: 'extends', message: `expected a file path${where} (got ${showValue(parent)})` });
    return raw;
  }
  const parentFile = resolve(directory, parent);
  if (!existsSync(parentFile)) {
    issues.push({ path: 'extends', message: `not found: ${parentFile}${where} (paths are relative to the experiment file)` });
    return raw;
  }
  const identity = realpathSync(parentFile);
  const seen = [...chain, realpathSync(file)];
  if (seen.includes(identity)) {
    issues.push({ path: 'extends', message: `cycle: ${[...seen, identity].join(' → ')}` });
    return raw;
  }
  const base = readWithExtends(parentFile, seen, issues, sourceFiles);
  return base ? (deepMerge(base, raw) as PlainObject) : raw;
}

type PathSegment = string | number;

/** Parses `a.b[2].c` into ['a', 'b', 2, 'c']. */
export function parseSetPath(path: string): PathSegment[] | undefined {
  const segments: PathSegment[] = [];
  const pattern = /([A-Za-z_$][A-Za-z0-9_$-]*)|\[(\d+)\]|(\.)/gy;
  let expectName = true;
  let match: RegExpExecArray | null;
  let consumed = 0;
  while ((match = pattern.exec(path)) !== null) {
    consumed = pattern.lastIndex;
    if (match[1] !== undefined) {
      if (!expectName) return undefined;
      segments.push(match[1]);
      expectName = false;
    } else if (match[2] !== undefined) {
      if (expectName) return undefined;
      segments.push(Number(match[2]));
    } else {
      if (expectName) return undefined;
      expectName = true;
    }
  }
  if (consumed !== path.length || expectName || segments.length === 0) return undefined;
  return segments;
}

/** Applies one `path=value` override in place; returns a problem instead of throwing. */
export function applySet(target: PlainObject, assignment: string): Problem | undefined {
  const label = `--set ${assignment}`;
  const equals = assignment.indexOf('=');
  if (equals <= 0) return { path: '', message: `${label}: expected PATH=VALUE, e.g. generation.steps=20` };
  const pathText = assignment.slice(0, equals).trim();
  const segments = parseSetPath(pathText);
  if (!segments) return { path: '', message: `${label}: '${pathText}' is not a path like generation.steps or sweep.handoff[1]` };
  let value: unknown;
  try {
    value = parseYaml(assignment.slice(equals + 1));
  } catch (error) {
    return { path: '', message: `${label}: the value is not valid YAML: ${(error as Error).message.split('\n')[0]}` };
  }
  let node: unknown = target;
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i];
    const last = i === segments.length - 1;
    const here = pathToString(segments.slice(0, i));
    if (typeof segment === 'number') {
      if (!Array.isArray(node)) return { path: '', message: `${label}: ${here} is not a list` };
      if (segment > node.length) return { path: '', message: `${label}: ${here} has ${node.length} items; index ${segment} would leave a gap` };
      if (last) node[segment] = value;
      else node = node[segment] ??= typeof segments[i + 1] === 'number' ? [] : {};
    } else {
      if (!isPlainObject(node)) return { path: '', message: `${label}: ${here} is not a mapping` };
      if (last) node[segment] = value;
      else node = node[segment] ??= typeof segments[i + 1] === 'number' ? [] : {};
    }
  }
  return undefined;
}

function fileProblems(raw: PlainObject, suites: readonly KnownSuite[] | undefined): Problem[] {
  const problems: Problem[] = [];
  if (isPlainObject(raw.models)) {
    for (const key of MODEL_KEYS) {
      const value = raw.models[key];
      if (typeof value !== 'string' || value === 'tiny' || value === '') continue;
      if (!existsSync(value)) {
        problems.push({ path: `models.${key}`, message: `not found: ${value} (paths are relative to the experiment file; \`tiny\` names the generated tiny models)` });
      } else if (!statSync(value).isDirectory()) {
        problems.push({ path: `models.${key}`, message: `not a folder: ${value} (name the model folder, not a file in it)` });
      }
    }
  }
  if (!Array.isArray(raw.prompts)) return problems;
  raw.prompts.forEach((source, index) => {
    if (!isPlainObject(source)) return;
    if (typeof source.file === 'string' && source.file !== '') {
      if (!existsSync(source.file)) problems.push({ path: `prompts[${index}].file`, message: `not found: ${source.file} (paths are relative to the experiment file)` });
      else if (!statSync(source.file).isFile()) problems.push({ path: `prompts[${index}].file`, message: `not a file: ${source.file}` });
    }
    if (suites && typeof source.suite === 'string' && source.suite !== '') {
      const suite = suites.find((known) => known.id === source.suite);
      if (!suite) {
        const ids = suites.map((known) => known.id);
        const suggestion = closest(source.suite, ids);
        problems.push({
          path: `prompts[${index}].suite`,
          message: `unknown suite '${source.suite}'${suggestion ? ` (did you mean '${suggestion}'?)` : ''}; available: ${ids.join(', ')}`,
        });
      } else if (Array.isArray(source.categories)) {
        source.categories.forEach((category, position) => {
          if (typeof category === 'string' && !suite.categories.includes(category)) {
            const suggestion = closest(category, suite.categories);
            problems.push({
              path: `prompts[${index}].categories[${position}]`,
              message: `suite ${suite.id} has no category '${category}'${suggestion ? ` (did you mean '${suggestion}'?)` : ''}; it has: ${suite.categories.join(', ')}`,
            });
          }
        });
      }
    }
  });
  return problems;
}

/**
 * Loads, merges, overrides and validates an experiment file. Paths in the result are absolute
 * (models and prompt files resolved against the file that wrote them, `run.out_dir` against `cwd`).
 */
export function loadExperiment(file: string, options: LoadOptions = {}): LoadedExperiment {
  const cwd = options.cwd ?? process.cwd();
  const absolute = isAbsolute(file) ? file : resolve(cwd, file);
  const issues: Problem[] = [];
  const sourceFiles: string[] = [];
  if (!existsSync(absolute)) {
    return { sourceFiles, issues: [{ path: '', message: `experiment file not found: ${absolute}` }] };
  }
  const merged = readWithExtends(absolute, [], issues, sourceFiles);
  // without the whole chain, the schema would only add noise about fields the missing file provides
  if (!merged || issues.length > 0) return { sourceFiles, issues };

  const raw = merged;
  for (const assignment of options.set ?? []) {
    const problem = applySet(raw, assignment);
    if (problem) issues.push(problem);
  }
  if ('extends' in raw) {
    delete raw.extends;
    issues.push({ path: 'extends', message: '--set cannot change extends (it is resolved before overrides); edit the file or write a variant' });
  }
  // paths set on the command line are relative to the experiment file too; absolute ones stay as they are
  absolutizePaths(raw, dirname(absolute));

  issues.push(...fileProblems(raw, options.suites));
  const parsed = parseExperiment(raw);
  issues.push(...parsed.problems);
  if (issues.length > 0 || !parsed.spec) return { sourceFiles, issues };
  const spec = parsed.spec;
  spec.run.out_dir = resolve(cwd, spec.run.out_dir);
  return { spec, sourceFiles, issues };
}
