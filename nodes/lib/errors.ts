import { isLedgerError, LedgerError } from '../../lib/errors';
import { localisedMessage, localiseError } from './error-text';
import type { Translate } from './status';

/**
 * Errors handed to done() or node.error(): typed, with a code Catch nodes can switch on, never a
 * key, and in the user's language when `t` (the node set's RED._) is given.
 */
export function nodeError(err: unknown, t?: Translate): LedgerError {
  const typed = isLedgerError(err)
    ? err
    : err instanceof Error
      ? new LedgerError('ERR_INTERNAL', err.message, undefined, err)
      : new LedgerError('ERR_INVALID_ARGUMENT', String(err));
  return t ? localiseError(typed, t) : typed;
}

/** nodeError(err, t).message without making the error: for rejections only counted, not reported. */
export function errorMessage(err: unknown, t: Translate): string {
  if (!isLedgerError(err)) return nodeError(err, t).message;
  return localisedMessage(err, t) ?? err.message;
}

/**
 * Ends a rejection past the Catch budget: no error for Catch nodes or the log, but
 * msg.rejected tells a Complete node it was refused.
 */
export function finishUnreported(msg: Record<string, unknown>, err: unknown, t: Translate, done: () => void): void {
  msg.rejected = { code: errorCode(err), message: errorMessage(err, t), unreported: true };
  done();
}

export function errorCode(err: unknown): string {
  return isLedgerError(err) ? err.code : 'ERR_UNKNOWN';
}
