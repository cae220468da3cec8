// Localises a LedgerError for flows: lib/ stays English (the CLI and library users read it
// there); here its text is looked up by its code in the shared catalogue
// (iot-ledger-common.errors.<code> in nodes/locales/<lang>/iot-ledger-config.json), placeholders
// filled from its details and __reason__ (lib's English message). The code stays; the English
// error stays as the cause and its stack, so logs and Catch nodes still show where it came from.
import { LedgerError, withoutStack } from '../../lib/errors';
import type { Translate } from './status';

/** Node-RED registers a set's catalogue as "<module>/<set>"; the shared texts live in the config set's. */
const NAMESPACE = 'node-red-contrib-iot-ledger/iot-ledger-config';
const PLACEHOLDER = /__([A-Za-z0-9_]+)__/;
/** Details are bounded by lib already; this keeps a stray long value from flooding a status line. */
const MAX_VALUE = 200;

const localised = new WeakSet<Error>();

export function errorKey(code: string): string {
  return `iot-ledger-common.errors.${code}`;
}

function substitutions(err: LedgerError): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(err.details ?? {})) {
    if (typeof value === 'string') out[name] = value.slice(0, MAX_VALUE);
    else if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') out[name] = String(value);
  }
  out.reason = err.message;
  return out;
}

/**
 * The error in the catalogue's language, or `err` itself when the catalogue has no text for
 * its code or the text needs a detail this error lacks (lib's English message says it then).
 */
export function localiseError(err: LedgerError, t: Translate): LedgerError {
  if (localised.has(err)) return err;
  const key = errorKey(err.code);
  const text = t(`${NAMESPACE}:${key}`, substitutions(err));
  if (!text || text === key || text.endsWith(`:${key}`) || PLACEHOLDER.test(text)) return err;
  const out = withoutStack(() => new LedgerError(err.code, text, { ...err.details, reason: err.message }, err));
  out.stack = err.stack;
  localised.add(out);
  return out;
}
