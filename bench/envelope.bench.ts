import { describeEd25519, ed25519Backend, verifyEd25519With } from '../lib/crypto/ed25519';
import { verify as nodeVerify } from 'node:crypto';
import { keyToDid, generateKey, publicKeyObject, type Alg } from '../lib/crypto';
import { signEnvelope, verifyEnvelope } from '../lib/envelope/envelope';
import { utf8 } from '../lib/encoding/bytes';
import { decodeCbor, encodeCbor, type CborTag } from '../lib/encoding/codec';
import { opsPerSecond, printFigures, type Figure } from './harness';

function signingInput(env: string | Uint8Array): { msg: Uint8Array; sig: Uint8Array } {
  if (typeof env === 'string') {
    const [h, p, s] = env.split('.');
    return { msg: utf8(`${h}.${p}`), sig: Buffer.from(s, 'base64url') };
  }
  const [prot, , payload, sig] = (decodeCbor(env) as CborTag).value as Uint8Array[];
  return { msg: encodeCbor(['Signature1', prot, new Uint8Array(0), payload]), sig };
}

/** Envelope verification (parse + did:key + signature) beside raw node:crypto verify of the same bytes (and raw libsodium, which ours uses where it loads). */
export function benchEnvelopes(): void {
  const figures: Figure[] = [];
  for (const alg of ['Ed25519', 'ES256'] as Alg[]) {
    for (const format of ['jws', 'cose'] as const) {
      const key = generateKey(alg);
      const did = keyToDid(key);
      const N = 64;
      const envs = Array.from({ length: N }, (_, i) =>
        signEnvelope({ temperature: -21 + i / 10, counter: i, time: 1764000000000 + i }, key, { format, kid: did }),
      );
      // The raw baseline verifies the very same signing inputs with a prepared node:crypto key.
      const ko = publicKeyObject(alg, key.publicKey);
      const raw = envs.map((e) => signingInput(e));
      const ours = opsPerSecond((i) => {
        verifyEnvelope(envs[i % N], did);
      });
      const baseline = opsPerSecond((i) => {
        const r = raw[i % N];
        const ok =
          alg === 'Ed25519'
            ? nodeVerify(null, r.msg, ko, r.sig)
            : nodeVerify('sha256', r.msg, { key: ko, dsaEncoding: 'ieee-p1363' }, r.sig);
        if (!ok) throw new Error('baseline failed');
      });
      figures.push({ name: `verify ${alg} ${format === 'jws' ? 'JWS' : 'COSE_Sign1'}`, ours, baseline, unit: 'ops/s', target: '>= 0.8' });
      if (alg === 'Ed25519' && ed25519Backend().backend === 'libsodium') {
        const sodium = opsPerSecond((i) => {
          const r = raw[i % N];
          if (!verifyEd25519With('libsodium', key.publicKey, r.msg, r.sig)) throw new Error('libsodium failed');
        });
        figures.push({ name: `same, raw libsodium verify of the same inputs (the library ours uses here) vs node:crypto`, ours: sodium, baseline, unit: 'ops/s', target: '' });
      }
    }
  }
  printFigures(`Envelope verification (one core; Ed25519 verified with ${describeEd25519()})`, figures);
}
