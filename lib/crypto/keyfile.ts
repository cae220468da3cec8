import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LedgerError } from '../errors';
import { isPrivateKey, jwkToKeyFast, keyToJwk, type PrivateKey, type PublicKey } from './keys';

/**
 * Writes a private JWK readable only by its owner (mode 0600), atomically. `exclusive`: fails
 * with EEXIST when `file` exists (a hard link never replaces, where a rename would).
 */
export function writeKeyFile(file: string, key: PrivateKey, opts: { exclusive?: boolean } = {}): void {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  // Never a name an earlier, interrupted write may have left behind.
  const tmp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    fs.writeFileSync(tmp, `${JSON.stringify(keyToJwk(key, true))}\n`, { mode: 0o600, flag: 'wx' });
    fs.chmodSync(tmp, 0o600);
    if (opts.exclusive) fs.linkSync(tmp, file);
    else fs.renameSync(tmp, file);
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/** Reads a JWK file (private or public). */
export function readKeyFile(file: string): PublicKey | PrivateKey {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new LedgerError('ERR_MALFORMED_KEY', `cannot read key file ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  let jwk: unknown;
  try {
    jwk = JSON.parse(text);
  } catch {
    throw new LedgerError('ERR_MALFORMED_KEY', `key file ${file} is not a JSON Web Key`);
  }
  return jwkToKeyFast(jwk);
}

export function readPrivateKeyFile(file: string): PrivateKey {
  const key = readKeyFile(file);
  if (!isPrivateKey(key)) throw new LedgerError('ERR_MALFORMED_KEY', `key file ${file} holds no private key`);
  return key;
}

/** Loads the key at `file`, or creates one there (0600) when it does not exist yet. */
export function loadOrCreateKeyFile(file: string, create: () => PrivateKey): PrivateKey {
  if (fs.existsSync(file)) return readPrivateKeyFile(file);
  const key = create();
  try {
    writeKeyFile(file, key, { exclusive: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return readPrivateKeyFile(file);
    throw err;
  }
  return key;
}
