import { writeKeyFile } from '../crypto/keyfile';
import { generateKey } from '../crypto/keys';
import { isValidKeyName } from '../note/note-open';
import { witnessVerifierKey } from '../witness/cosignature';
import { parseArgs, stringFlag, UsageError } from './args';
import type { CliIo } from './io';

export const witnessUsage = 'iot-ledger witness keygen --name WITNESS_NAME [--out FILE]';

/** `witness keygen`: a new Ed25519 witness key; prints its cosignature/v1 verifier key (type 0x04). */
export async function witness(argv: string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'keygen') throw new UsageError(witnessUsage);
  const args = parseArgs(rest);
  const name = stringFlag(args, 'name');
  if (!name || !isValidKeyName(name)) throw new UsageError('--name must be a key name without spaces or "+", e.g. witness.example.org/w1');
  const key = generateKey('Ed25519');
  const out = stringFlag(args, 'out');
  if (out) writeKeyFile(out, key);
  else io.stderr('no --out given: the private key is not saved anywhere\n');
  io.stdout(`${witnessVerifierKey(name, key)}\n`);
  return 0;
}
