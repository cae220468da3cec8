import { keyToDid } from '../crypto/didkey';
import { writeKeyFile } from '../crypto/keyfile';
import { generateKey, keyToJwk, type Alg } from '../crypto/keys';
import { verifierKeyString } from '../note/note';
import { parseArgs, stringFlag, UsageError } from './args';
import type { CliIo } from './io';

export const keygenUsage = 'iot-ledger keygen [--alg ed25519|p256] [--out FILE] [--name NAME]';

export async function keygen(argv: string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv);
  const algName = (stringFlag(args, 'alg') ?? 'ed25519').toLowerCase();
  const alg: Alg | undefined = algName === 'ed25519' ? 'Ed25519' : algName === 'p256' || algName === 'p-256' ? 'ES256' : undefined;
  if (!alg) throw new UsageError('--alg must be ed25519 or p256');
  const out = stringFlag(args, 'out');
  const key = generateKey(alg);
  if (out) writeKeyFile(out, key);
  else io.stderr('no --out given: the private key is not saved anywhere\n');
  io.stdout(`${keyToDid(key)}\n`);
  const name = stringFlag(args, 'name');
  if (name && alg === 'Ed25519') io.stderr(`verifier key: ${verifierKeyString(name, key)}\n`);
  if (!out) io.stderr(`public JWK: ${JSON.stringify(keyToJwk(key))}\n`);
  return 0;
}
