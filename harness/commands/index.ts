import type { CommandModule } from 'yargs';
import { tokenizeCommand } from './tokenize.js';

// Every CLI command, in the order `refinery --help` lists them. Add one line per command module.
export const commands: CommandModule<any, any>[] = [
  tokenizeCommand,
];
