// Reading a witness's configured logs: one per line, a log's signed-note verifier key
// (its name is the origin) or `<origin> <did:key>`. Shared by the node and the CLI.
import { LedgerError } from '../errors';
import { logVerifier } from './cosignature';
import type { WitnessedLog } from './decision';

export function parseWitnessedLogs(text: string): WitnessedLog[] {
  const logs: WitnessedLog[] = [];
  const lines = String(text ?? '')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  for (const line of lines) {
    const [first, second, ...rest] = line.split(/\s+/);
    let origin: string;
    let key: string;
    if (first !== undefined && second === undefined) {
      key = first;
      origin = key.slice(0, key.indexOf('+'));
      if (!origin) throw new LedgerError('ERR_INVALID_ARGUMENT', `log line "${line.slice(0, 60)}": a verifier key or "<origin> <did:key>"`);
    } else if (first !== undefined && second !== undefined && rest.length === 0) {
      [origin, key] = [first, second];
    } else throw new LedgerError('ERR_INVALID_ARGUMENT', `log line "${line.slice(0, 60)}": a verifier key or "<origin> <did:key>"`);
    const verifier = logVerifier(key, origin);
    if (verifier.name !== origin) throw new LedgerError('ERR_INVALID_ARGUMENT', `log ${origin}: the verifier key is named ${verifier.name}`);
    const known = logs.find((l) => l.origin === origin);
    if (known) known.verifiers.push(verifier);
    else logs.push({ origin, verifiers: [verifier] });
  }
  return logs;
}
