import * as assert from 'node:assert/strict';
import * as fc from 'fast-check';
import { fromBase64Url, fromHex, fromUtf8, toBase64, toHex } from '../lib/encoding/bytes';
import { generateKey, keyToDid, keyToJwk, privateKeyFromBytes, publicKeyFromBytes, type PublicKey } from '../lib/crypto';
import { peekEnvelope, signEnvelope, verifyEnvelope } from '../lib/envelope/envelope';
import { isLedgerError, LedgerError } from '../lib/errors';
import { listVectors, readVector } from './support/paths';

interface CoseVector {
  title: string;
  fail?: boolean;
  input: { plaintext: string; sign0: { key: Record<string, string>; external?: string } };
  output: { cbor: string };
}

function vectorKey(k: Record<string, string>): PublicKey {
  const field = (n: string): Uint8Array => (k[`${n}_hex`] ? fromHex(k[`${n}_hex`]) : fromBase64Url(k[n]));
  if (k.kty === 'OKP') return publicKeyFromBytes('Ed25519', field('x'));
  return publicKeyFromBytes('ES256', new Uint8Array([4, ...field('x'), ...field('y')]));
}

const hasCode = (code: string) => (e: unknown) => e instanceof LedgerError && e.code === code;

// Why each cose-wg example that must fail fails, and the one "pass" example this profile refuses:
// sign-pass-01 carries its algorithm in the unprotected header and its empty protected header
// as h'A0' (signed over h''), both refused here (docs/FORMAT.md, "Signed envelopes").
const COSE_REFUSALS: Record<string, string> = {
  'sign-pass-01.json': 'ERR_MALFORMED_ENVELOPE',
  'sign-fail-01.json': 'ERR_MALFORMED_ENVELOPE', // wrong CBOR tag
  'sign-fail-02.json': 'ERR_BAD_SIGNATURE', // changed payload
  'sign-fail-03.json': 'ERR_UNSUPPORTED_ALG', // alg -999
  'sign-fail-04.json': 'ERR_UNSUPPORTED_ALG', // alg "unknown"
  'sign-fail-06.json': 'ERR_BAD_SIGNATURE', // protected attribute added
  'sign-fail-07.json': 'ERR_BAD_SIGNATURE', // protected attribute removed
};

describe('envelope: COSE_Sign1 vectors (cose-wg/Examples)', () => {
  const files = listVectors('cose');
  it('has the vector files', () => assert.ok(files.length >= 10));
  it('every example marked fail is refused, and only one pass example is', () => {
    for (const f of files) if (readVector<CoseVector>('cose', f).fail) assert.ok(COSE_REFUSALS[f], `${f} has no expected code`);
    assert.deepEqual(Object.keys(COSE_REFUSALS).filter((f) => !readVector<CoseVector>('cose', f).fail), ['sign-pass-01.json']);
  });
  for (const f of files) {
    const v = readVector<CoseVector>('cose', f);
    const refusal = COSE_REFUSALS[f];
    it(`${f}: ${v.title} ${refusal ? `is refused with ${refusal}` : 'verifies'}`, () => {
      const key = vectorKey(v.input.sign0.key);
      const aad = v.input.sign0.external ? fromHex(v.input.sign0.external) : undefined;
      const run = () => verifyEnvelope(fromHex(v.output.cbor), key, aad ? { externalAad: aad } : {});
      if (refusal) {
        assert.throws(run, hasCode(refusal));
      } else {
        const out = run();
        assert.equal(fromUtf8(out.payload), v.input.plaintext);
        assert.equal(out.kid, '11');
        if (aad) assert.throws(() => verifyEnvelope(fromHex(v.output.cbor), key), hasCode('ERR_BAD_SIGNATURE'));
      }
    });
  }
});

describe('envelope: JWS', () => {
  const rfcKey = privateKeyFromBytes('Ed25519', fromHex('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60'));
  const A4 =
    'eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg';

  it('RFC 8037 A.4 verifies with the A.1 public JWK and with its did:key', () => {
    const jwk = { kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo' };
    assert.deepEqual(keyToJwk(rfcKey), jwk);
    const out = verifyEnvelope(A4, jwk);
    assert.equal(fromUtf8(out.payload), 'Example of Ed25519 signing');
    assert.equal(out.alg, 'Ed25519');
    assert.equal(verifyEnvelope(A4, keyToDid(rfcKey)).headerAlg, 'EdDSA');
    assert.equal(signEnvelope('Example of Ed25519 signing', rfcKey), A4, 'deterministic Ed25519 reproduces A.4');
  });

  it('rejects a changed payload, a wrong key and a foreign algorithm with typed codes', () => {
    const [h, , s] = A4.split('.');
    const forged = `${h}.${Buffer.from('Example of Ed25519 signinG').toString('base64url')}.${s}`;
    assert.throws(() => verifyEnvelope(forged, keyToDid(rfcKey)), hasCode('ERR_BAD_SIGNATURE'));
    assert.throws(() => verifyEnvelope(A4, keyToDid(generateKey('Ed25519'))), hasCode('ERR_BAD_SIGNATURE'));
    assert.throws(() => verifyEnvelope(A4, keyToDid(generateKey('ES256'))), hasCode('ERR_BAD_SIGNATURE'));
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${A4.split('.')[1]}.`;
    assert.throws(() => verifyEnvelope(none, keyToDid(rfcKey)), hasCode('ERR_UNSUPPORTED_ALG'));
    assert.throws(() => verifyEnvelope('a.b', keyToDid(rfcKey)), hasCode('ERR_MALFORMED_ENVELOPE'));
    assert.throws(() => verifyEnvelope('x', keyToDid(rfcKey)), hasCode('ERR_MALFORMED_ENVELOPE'));
  });
});

describe('envelope: sign and verify round trips', () => {
  for (const alg of ['Ed25519', 'ES256'] as const) {
    for (const format of ['jws', 'cose'] as const) {
      it(`${alg} ${format}: kid, did:key and JWK keys, object payloads, fully specified COSE ids`, () => {
        const key = generateKey(alg);
        const did = keyToDid(key);
        const env = signEnvelope({ temperature: -21.5, counter: 7 }, key, { format, kid: did });
        const out = verifyEnvelope(env, did);
        assert.deepEqual(JSON.parse(fromUtf8(out.payload)), { temperature: -21.5, counter: 7 });
        assert.equal(out.kid, did);
        assert.equal(out.format, format);
        assert.equal(peekEnvelope(env).kid, did);
        assert.equal(verifyEnvelope(env, keyToJwk(key)).alg, alg);
        if (format === 'cose') {
          const full = signEnvelope('x', key, { format, fullySpecified: true }) as Uint8Array;
          assert.equal(verifyEnvelope(full, did).headerAlg, alg === 'Ed25519' ? -19 : -9);
          // COSE also arrives as hex or base64 text (from MQTT or a file)
          assert.equal(verifyEnvelope(toHex(full), did).alg, alg);
          assert.equal(verifyEnvelope(toBase64(full), did).alg, alg);
        } else {
          // and JWS as bytes, as an MQTT in node hands it over
          assert.equal(verifyEnvelope(Buffer.from(env as string), did).alg, alg);
        }
      });
    }
  }

  it('random and mutated envelopes only ever give typed errors', () => {
    const key = generateKey('Ed25519');
    const did = keyToDid(key);
    const jws = signEnvelope('hello', key) as string;
    const cose = signEnvelope('hello', key, { format: 'cose' }) as Uint8Array;
    const check = (input: string | Uint8Array) => {
      try {
        verifyEnvelope(input, did);
      } catch (e) {
        assert.ok(isLedgerError(e), `untyped error ${String(e)}`);
      }
    };
    fc.assert(
      fc.property(fc.nat(cose.length - 1), fc.nat(255), (pos, byte) => {
        const m = Uint8Array.from(cose);
        m[pos] = byte;
        check(m);
      }),
      { numRuns: 1000 },
    );
    fc.assert(
      fc.property(fc.nat(jws.length - 1), fc.string({ minLength: 1, maxLength: 1 }), (pos, ch) => check(jws.slice(0, pos) + ch + jws.slice(pos + 1))),
      { numRuns: 1000 },
    );
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (b) => check(b)), { numRuns: 500 });
    fc.assert(fc.property(fc.string(), (s) => check(s)), { numRuns: 500 });
  });
});
