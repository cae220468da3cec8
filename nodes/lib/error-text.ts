// Localises a LedgerError for flows: lib/ stays English (the CLI and library users read it
// there); here its text is looked up by its code in the shared catalogue
// (iot-ledger-common.errors.<code> in nodes/locales/<lang>/iot-ledger-config.json), placeholders
// filled from its details and __reason__ (lib's English message). The code stays; the English
// error stays as the cause and its stack, so logs and Catch nodes still show where it came from.
import { LedgerError, withoutStack } from '../../lib/errors';
import type { Translate } from './status';

/** Node-RED registers a set's catalogue as "<module>/<set>"; the shared texts live in the config set's. */
const NAMESPACE = 'node-red-contrib-iot-ledger/iot-ledger-config';
const PLACEHOLDER = /__([A-Za-z0-9_]+)__/g;
/** Details are bounded by lib already; this keeps a stray long value from flooding a status line. */
const MAX_VALUE = 200;

const localised = new WeakSet<Error>();
/**
 * Each translator's text per code (null: none), looked up once: Node-RED's runtime language is
 * set at start, and an i18next lookup costs tens of microseconds, too much per message in a flood
 * of rejections. Placeholders are filled here.
 */
const templates = new WeakMap<Translate, Map<string, string | null>>();

export function errorKey(code: string): string {
  return `iot-ledger-common.errors.${code}`;
}

function template(t: Translate, code: string): string | null {
  let known = templates.get(t);
  if (!known) templates.set(t, (known = new Map<string, string | null>()));
  let text = known.get(code);
  if (text === undefined) {
    const key = errorKey(code);
    // Without substitutions i18next leaves every __placeholder__ as it is.
    const found = t(`${NAMESPACE}:${key}`);
    text = found && found !== key && !found.endsWith(`:${key}`) ? found : null;
    known.set(code, text);
  }
  return text;
}

function value(err: LedgerError, name: string): string | undefined {
  if (name === 'reason') return err.message;
  const v = err.details?.[name];
  if (typeof v === 'string') return v.slice(0, MAX_VALUE);
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  return undefined;
}

/**
 * The message of `err` in the catalogue's language; null when the catalogue has no text for its
 * code or the text needs a detail this error lacks (lib's English message says it then).
 */
export function localisedMessage(err: LedgerError, t: Translate): string | null {
  const text = template(t, err.code);
  if (text === null) return null;
  let missing = false;
  const message = text.replace(PLACEHOLDER, (_m, name: string) => {
    const v = value(err, name);
    if (v === undefined) missing = true;
    return v ?? '';
  });
  return missing ? null : message;
}

/** The error with its localisedMessage(), or `err` itself when there is none. */
export function localiseError(err: LedgerError, t: Translate): LedgerError {
  if (localised.has(err)) return err;
  const message = localisedMessage(err, t);
  if (message === null) return err;
  const out = withoutStack(() => new LedgerError(err.code, message, { ...err.details, reason: err.message }, err));
  out.stack = err.stack;
  localised.add(out);
  return out;
}
