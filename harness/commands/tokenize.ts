import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { UserError } from '../../pipelines/errors.js';
import { ClipTokenizer, type ClipEncoding } from '../../pipelines/tokenizer/clip-tokenizer.js';
import type { ClipTextCleanup } from '../../pipelines/tokenizer/text-cleanup.js';

interface TokenizeArgs {
  prompt: string;
  tokenizer: string;
  pad?: string;
  padWithZero?: boolean;
  cleanup: ClipTextCleanup;
  json?: boolean;
}

/** `refinery tokenize`: shows the ids SDXL's text encoders will see, and what truncation cuts off. */
export const tokenizeCommand: CommandModule<object, TokenizeArgs> = {
  command: 'tokenize <prompt>',
  describe: 'Show the CLIP token ids and tokens of a prompt, and warn when words past 75 tokens are dropped',
  builder: (yargs: Argv<object>) =>
    yargs
      .positional('prompt', { type: 'string', demandOption: true, describe: 'The prompt text (quote it)' })
      .option('tokenizer', {
        type: 'string',
        demandOption: true,
        describe: 'A Hugging Face tokenizer folder (vocab.json + merges.txt) or bpe_simple_vocab_16e6.txt.gz',
      })
      .option('pad', { type: 'string', describe: 'Pad token to use instead of the one the tokenizer names' })
      .option('pad-with-zero', {
        type: 'boolean',
        describe: 'Pad with "!" (id 0) like SDXL tokenizer_2; as there, every "!" in the prompt then also becomes id 0',
        conflicts: 'pad',
      })
      .option('cleanup', {
        choices: ['hf-slow', 'hf-fast'] as const,
        default: 'hf-slow' as const,
        describe: 'Text cleanup: transformers CLIPTokenizer without ftfy (hf-slow) or the tokenizers library (hf-fast)',
      })
      .option('json', { type: 'boolean', default: false, describe: 'Print one machine-readable JSON object' }) as Argv<TokenizeArgs>,
  handler: (args: ArgumentsCamelCase<TokenizeArgs>) => {
    const padToken = args.padWithZero ? '!' : args.pad;
    if (padToken !== undefined && padToken.length === 0) throw new UserError('--pad must name a token, got an empty string');
    const tokenizer = ClipTokenizer.fromPath(args.tokenizer, { padToken, cleanup: args.cleanup });
    const encoding = tokenizer.encode(args.prompt);
    if (encoding.truncated) console.error(truncationWarning(encoding, tokenizer.maxLength));
    console.log(args.json ? JSON.stringify(jsonReport(tokenizer, encoding)) : textReport(tokenizer, encoding));
  },
};

function truncationWarning(encoding: ClipEncoding, maxLength: number): string {
  const capacity = maxLength - 2;
  return (
    `WARNING: the prompt has ${encoding.contentTokenCount} tokens; only the first ${capacity} reach the text encoder ` +
    `(SDXL silently drops words past ${capacity} tokens). Dropped: "${encoding.droppedText}"`
  );
}

function jsonReport(tokenizer: ClipTokenizer, encoding: ClipEncoding) {
  return {
    tokenizer: tokenizer.source,
    maxLength: tokenizer.maxLength,
    bosId: tokenizer.bosId,
    eosId: tokenizer.eosId,
    padId: tokenizer.padId,
    ids: encoding.ids,
    tokens: encoding.tokens,
    contentTokenCount: encoding.contentTokenCount,
    truncated: encoding.truncated,
    droppedTokens: encoding.droppedTokens ?? [],
    droppedText: encoding.droppedText ?? '',
  };
}

function textReport(tokenizer: ClipTokenizer, encoding: ClipEncoding): string {
  const rows: Array<[string, string, string]> = [['position', 'id', 'token']];
  rows.push(['0', String(tokenizer.bosId), tokenizer.bosToken]);
  encoding.tokens.forEach((token, i) => rows.push([String(i + 1), String(encoding.ids[i + 1]), token]));
  const eosPosition = encoding.tokens.length + 1;
  rows.push([String(eosPosition), String(tokenizer.eosId), tokenizer.eosToken]);
  const padCount = tokenizer.maxLength - eosPosition - 1;
  if (padCount > 0) rows.push([`${eosPosition + 1}-${tokenizer.maxLength - 1}`, String(tokenizer.padId), `${tokenizer.padToken} (padding ×${padCount})`]);
  const widths = [0, 1].map((column) => Math.max(...rows.map((row) => row[column].length)));
  const table = rows.map(([position, id, token]) => `${position.padStart(widths[0])}  ${id.padStart(widths[1])}  ${token}`);
  const summary = `${encoding.contentTokenCount} content tokens (limit ${tokenizer.maxLength - 2})${encoding.truncated ? ', TRUNCATED' : ''}`;
  return [`ids: ${encoding.ids.join(' ')}`, '', ...table, '', summary].join('\n');
}
