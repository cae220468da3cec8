import * as assert from 'node:assert/strict';
import { encodeCbor } from '../../lib/encoding/codec';
import { generateKey, keyToDid } from '../../lib/crypto';
import { signEnvelope } from '../../lib/envelope/envelope';
import {
  contractSigningPayload,
  isActive,
  missingParties,
  signContract,
  termsHashHex,
  verifyPartySignature,
} from '../../lib/contracts';
import { assertCode, terms } from './helpers';

describe('contracts: party signatures', () => {
  const alice = generateKey('Ed25519');
  const bob = generateKey('ES256');
  const mallory = generateKey('Ed25519');
  const A = keyToDid(alice);
  const B = keyToDid(bob);
  const t = terms({ parties: [A, B], validFrom: 1000, validUntil: 2000 });

  it('the signing payload names the contract, version and terms hash', () => {
    assert.deepEqual(contractSigningPayload(t), { contract: 'cold-room-1', version: 1, termsHash: termsHashHex(t) });
  });

  it('verifies JWS and COSE signatures of each party', () => {
    for (const [key, did] of [
      [alice, A],
      [bob, B],
    ] as const)
      for (const format of ['jws', 'cose'] as const) {
        const env = signContract(t, key, { format, kid: did });
        const r = verifyPartySignature(t, env, did);
        assert.equal(r.party, did);
        assert.equal(r.format, format);
        assert.deepEqual(r.payload, contractSigningPayload(t));
      }
    // a CBOR payload is accepted too
    const cbor = signEnvelope(encodeCbor({ ...contractSigningPayload(t) }), alice, { format: 'cose' });
    assert.equal(verifyPartySignature(t, cbor, A).party, A);
  });

  it('rejects outsiders, other signers, other terms and odd payloads with typed errors', () => {
    const good = signContract(t, alice);
    assertCode(() => verifyPartySignature(t, good, keyToDid(mallory)), 'ERR_INVALID_ARGUMENT', /not a party/);
    // a kid naming another key is refused before the signature is checked; without a kid, the signature fails
    assertCode(() => verifyPartySignature(t, signContract(t, mallory), A), 'ERR_KID_MISMATCH');
    assertCode(() => verifyPartySignature(t, good, B), 'ERR_KID_MISMATCH');
    assertCode(() => verifyPartySignature(t, signContract(t, mallory, { kid: undefined }), A), 'ERR_BAD_SIGNATURE');
    assertCode(() => verifyPartySignature(t, signContract(t, alice, { kid: undefined }), B), 'ERR_BAD_SIGNATURE');
    const v2 = terms({ parties: [A, B], validFrom: 1000, validUntil: 2000, version: 2 });
    assertCode(() => verifyPartySignature(v2, good, A), 'ERR_BAD_SIGNATURE', /other terms/);
    const tweaked = terms({ parties: [A, B], validFrom: 1000, validUntil: 2001 });
    assertCode(() => verifyPartySignature(tweaked, good, A), 'ERR_BAD_SIGNATURE', /other terms/);
    const extra = signEnvelope({ ...contractSigningPayload(t), note: 'not really' }, alice);
    assertCode(() => verifyPartySignature(t, extra, A), 'ERR_MALFORMED_ENVELOPE');
    assertCode(() => verifyPartySignature(t, signEnvelope('"hello"', alice), A), 'ERR_MALFORMED_ENVELOPE');
    assertCode(() => verifyPartySignature(t, signEnvelope(new Uint8Array([0xff, 0xfe]), alice), A), 'ERR_MALFORMED_ENVELOPE');
    assertCode(() => verifyPartySignature(t, 'not.an.envelope!', A), 'ERR_MALFORMED_ENVELOPE');
    const upper = signEnvelope({ ...contractSigningPayload(t), termsHash: termsHashHex(t).toUpperCase() }, alice);
    assertCode(() => verifyPartySignature(t, upper, A), 'ERR_BAD_SIGNATURE');
    const foreignKid = signContract(t, alice, { kid: keyToDid(mallory) });
    assertCode(() => verifyPartySignature(t, foreignKid, A), 'ERR_KID_MISMATCH', /kid/);
    assertCode(() => verifyPartySignature({ ...t, id: 'bad id' }, good, A), 'ERR_INVALID_TERMS');
  });

  it('active once every party signed, within validity', () => {
    assert.equal(isActive(t, new Set()), false);
    assert.equal(isActive(t, new Set([A])), false);
    assert.deepEqual(missingParties(t, new Set([A])), [B]);
    assert.equal(isActive(t, new Set([A, B])), true);
    assert.equal(isActive(t, new Set([B, A, keyToDid(mallory)])), true);
    assert.equal(isActive(t, new Set([A, B]), 1000), true);
    assert.equal(isActive(t, new Set([A, B]), 999), false);
    assert.equal(isActive(t, new Set([A, B]), 2000), false, 'validUntil is exclusive');
  });
});
