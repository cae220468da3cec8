import { keyToDid } from '../lib/crypto/didkey';
import { jwkToKey, type PrivateKey } from '../lib/crypto/keys';
import { keyFromCredential, type IdentityNode } from './lib/identity';
import type { NodeDef, RED } from './lib/red';
import { LedgerError } from '../lib/errors';

export = function register(RED: RED): void {
  function Identity(this: IdentityNode, def: NodeDef): void {
    RED.nodes.createNode(this, def);
    let key: PrivateKey | undefined;
    let problem: Error | undefined;
    try {
      key = keyFromCredential(this.credentials?.jwk);
      this.did = keyToDid(key);
      if (def.did && def.did !== this.did) this.warn(RED._('iot-ledger-identity.warn.didMismatch'));
    } catch (err) {
      problem = err as Error;
    }
    this.key = () => {
      if (!key) throw problem ?? new LedgerError('ERR_MALFORMED_KEY', 'no key');
      return key;
    };
  }
  RED.nodes.registerType('iot-ledger-identity', Identity, { credentials: { jwk: { type: 'password' } } });

  // The editor generates keys with WebCrypto and sends only the public JWK here to learn its did:key.
  RED.httpAdmin.post('/iot-ledger/did', RED.auth.needsPermission('iot-ledger.read'), (req, res) => {
    try {
      const { d: _secret, ...pub } = (req.body ?? {}) as Record<string, unknown>;
      const key = jwkToKey(pub);
      res.json({ did: keyToDid(key), alg: key.alg });
    } catch (err) {
      res.status(400).json({ error: (err as Error).message, code: (err as { code?: string }).code });
    }
  });
};
