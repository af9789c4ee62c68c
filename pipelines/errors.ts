/**
 * An error caused by the user's input (a flag, a config field, a model folder), as opposed to a bug.
 * The CLI prints its message alone on one line and exits non-zero; the message names the field or
 * file and what would fix it.
 */
export class UserError extends Error {
  override readonly name = 'UserError';
  constructor(message: string, readonly hint?: string) {
    super(hint ? `${message} (${hint})` : message);
  }
}

export function isUserError(error: unknown): error is UserError {
  return error instanceof UserError;
}
