import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { listSuites } from '../../datasets/index.js';
import { UserError } from '../../pipelines/errors.js';
import { loadScorerRegistry } from '../../probes/registry.js';
import type { MetricMeta } from '../../probes/types.js';

export const LISTABLE = ['scorers', 'probes', 'suites'] as const;
export type Listable = (typeof LISTABLE)[number];

interface LsArgs {
  what: Listable;
  json?: boolean;
}

function describeMetric(metric: MetricMeta): string {
  const direction = metric.higherIsBetter === null ? 'no direction' : metric.higherIsBetter ? 'higher is better' : 'lower is better';
  const range = metric.range ? `, [${metric.range[0]}, ${metric.range[1]}]` : '';
  return `${metric.name} (${metric.kind}, ${direction}${range}): ${metric.description}`;
}

/** What `refinery ls` prints: plain lines, or a JSON-serialisable value with `json`. */
export async function listing(what: Listable): Promise<{ lines: string[]; json: unknown }> {
  if (!LISTABLE.includes(what)) throw new UserError(`ls: cannot list '${what}'`, `choose one of ${LISTABLE.join(', ')}`);
  if (what === 'suites') {
    const suites = listSuites();
    const lines = suites.flatMap((suite) => [
      `${suite.id}  (${suite.version}, ${suite.size} prompts; categories: ${suite.categories.join(', ')})`,
      `    ${suite.description}`,
      ...Object.entries(suite.optionDocs).map(([key, doc]) => `    option ${key}: ${doc}`),
    ]);
    return { lines, json: suites };
  }
  const definitions = (await loadScorerRegistry()).list().map(({ entry }) => entry);
  if (what === 'probes') {
    const probes = definitions.filter((d) => d.probe);
    const lines = probes.flatMap((d) => [
      `${d.id}  tests ${d.probe!.tests}; suites: ${d.probe!.suites.join(', ') || '(any)'}`,
      `    ${d.description}`,
    ]);
    return { lines, json: probes.map((d) => ({ id: d.id, description: d.description, ...d.probe, metrics: d.metrics.map((m) => m.name) })) };
  }
  const lines = definitions.flatMap((d) => [`${d.id}  ${d.description}`, ...d.metrics.map((m) => `    ${describeMetric(m)}`)]);
  return { lines, json: definitions.map((d) => ({ id: d.id, description: d.description, probe: d.probe, metrics: d.metrics })) };
}

/** `refinery ls scorers|probes|suites`: what can go in an experiment's `scorers:` and `prompts:`. */
export const lsCommand: CommandModule<object, LsArgs> = {
  command: 'ls <what>',
  describe: 'List the registered scorers (with their metrics), the probes, or the built-in prompt suites',
  builder: (yargs: Argv<object>) =>
    yargs
      .positional('what', { choices: LISTABLE, demandOption: true, describe: 'scorers, probes or suites' })
      .option('json', { type: 'boolean', default: false, describe: 'Print JSON instead of text' }) as Argv<LsArgs>,
  handler: async (args: ArgumentsCamelCase<LsArgs>) => {
    // yargs has already reported an invalid choice (and may still call the handler)
    if (!LISTABLE.includes(args.what)) return;
    const result = await listing(args.what);
    console.log(args.json ? JSON.stringify(result.json, null, 2) : result.lines.join('\n') || `(no ${args.what})`);
  },
};
