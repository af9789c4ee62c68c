import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { experimentJsonSchema } from '../experiment/schema.js';
import { writeFileAtomic } from '../run/atomic.js';

interface SchemaArgs {
  out?: string;
}

/** `refinery schema`: the experiment file's JSON Schema, for editors (yaml-language-server, VS Code). */
export const schemaCommand: CommandModule<object, SchemaArgs> = {
  command: 'schema',
  describe: 'Print the JSON Schema of experiment files (for editor completion and checks)',
  builder: (yargs: Argv<object>) =>
    yargs.option('out', { type: 'string', describe: 'Write it to this file instead of printing it' }) as Argv<SchemaArgs>,
  handler: (args: ArgumentsCamelCase<SchemaArgs>) => {
    const text = `${JSON.stringify(experimentJsonSchema(), null, 2)}\n`;
    if (args.out) {
      writeFileAtomic(args.out, text);
      console.error(`wrote ${args.out}`);
    } else {
      process.stdout.write(text);
    }
  },
};
