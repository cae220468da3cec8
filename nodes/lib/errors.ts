import { isLedgerError, LedgerError } from '../../lib/errors';

/** Errors handed to done(): typed, with a code Catch nodes can switch on, and never a key. */
export function nodeError(err: unknown): Error {
  if (isLedgerError(err)) return err;
  if (err instanceof Error) {
    return new LedgerError('ERR_INTERNAL', err.message, undefined, err);
  }
  return new LedgerError('ERR_INVALID_ARGUMENT', String(err));
}

export function errorCode(err: unknown): string {
  return isLedgerError(err) ? err.code : 'ERR_UNKNOWN';
}
