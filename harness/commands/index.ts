import type { CommandModule } from 'yargs';
import { planCommand } from './plan.js';
import { tokenizeCommand } from './tokenize.js';
import { validateCommand } from './validate.js';
import { schemaCommand } from './schema.js';
import { runCommand } from './run.js';
import { mergeCommand } from './merge.js';
import { statusCommand } from './status.js';
import { modelsCommand } from './models.js';
import { reportCommand } from './report.js';
import { generateCommand } from './generate.js';
import { lsCommand } from './ls.js';
import { scoreCommand } from './score.js';

// Every CLI command, in the order `refinery --help` lists them. Add one line per command module.
export const commands: CommandModule<any, any>[] = [
  planCommand,
  tokenizeCommand,
  validateCommand,
  schemaCommand,
  runCommand,
  mergeCommand,
  statusCommand,
  modelsCommand,
  generateCommand,
  reportCommand,
  scoreCommand,
  lsCommand,
];
