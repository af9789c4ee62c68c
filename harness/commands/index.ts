import type { CommandModule } from 'yargs';

// Every CLI command, in the order `refinery --help` lists them. Add one line per command module.
export const commands: CommandModule<any, any>[] = [
];
