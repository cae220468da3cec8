import { LedgerError } from '../../lib/errors';
import { isPrivateKey, jwkToKey, type PrivateKey } from '../../lib/crypto/keys';
import type { Node } from './red';

export interface IdentityNode extends Node {
  did?: string;
  /** The signing key from the node's credentials; throws a typed error when absent or invalid. */
  key(): PrivateKey;
}

export function keyFromCredential(jwkText: string | undefined): PrivateKey {
  if (!jwkText) throw new LedgerError('ERR_MALFORMED_KEY', 'the identity has no key: open it in the editor and press "Generate key"');
  let jwk: unknown;
  try {
    jwk = JSON.parse(jwkText);
  } catch {
    throw new LedgerError('ERR_MALFORMED_KEY', 'the identity key is not a JSON Web Key');
  }
  const key = jwkToKey(jwk);
  if (!isPrivateKey(key)) throw new LedgerError('ERR_MALFORMED_KEY', 'the identity key has no private part ("d")');
  return key;
}

