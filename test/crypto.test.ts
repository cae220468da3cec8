import * as assert from 'node:assert/strict';
import * as fc from 'fast-check';
import { fromBase58, fromHex, toHex, utf8 } from '../lib/encoding/bytes';
import {
  didToKey,
  ecdsaDerToRaw,
  generateKey,
  jwkToKey,
  jwkToKeyFast,
  keyToDid,
  keyToJwk,
  privateKeyFromBytes,
  privateKeyFromSecret,
  publicKeyFromBytes,
  sign,
  verifySignature,
  verifySignatureNoble,
  type Alg,
  type Jwk,
} from '../lib/crypto';
import { isLedgerError } from '../lib/errors';
import { readVector } from './support/paths';

interface WycheproofTest {
  tcId: number;
  comment: string;
  msg: string;
  sig: string;
  result: 'valid' | 'invalid' | 'acceptable';
}
interface WycheproofFile {
  testGroups: { publicKey: { pk?: string; uncompressed?: string }; tests: WycheproofTest[] }[];
}

function runWycheproof(file: string, alg: Alg, toRaw: (sig: Uint8Array) => Uint8Array | null): void {
  const data = readVector<WycheproofFile>('wycheproof', file);
  let count = 0;
  for (const group of data.testGroups) {
    const pk = fromHex(group.publicKey.pk ?? group.publicKey.uncompressed ?? '');
    for (const t of group.tests) {
      count++;
      const raw = toRaw(fromHex(t.sig));
      const got = raw !== null && verifySignature(alg, pk, fromHex(t.msg), raw);
      // "acceptable" cases are legal but discouraged encodings; a strict verifier may refuse them.
      if (t.result !== 'acceptable')
        assert.equal(got, t.result === 'valid', `${file} tcId ${t.tcId} (${t.comment}) expected ${t.result}`);
    }
  }
  assert.ok(count > 100, `${file} has only ${count} cases`);
}

describe('crypto: Wycheproof', () => {
  it('Ed25519 (ed25519_test.json)', () => runWycheproof('ed25519_test.json', 'Ed25519', (s) => s));
  it('ECDSA P-256 raw r||s (ecdsa_secp256r1_sha256_p1363_test.json)', () =>
    runWycheproof('ecdsa_secp256r1_sha256_p1363_test.json', 'ES256', (s) => s));
  it('ECDSA P-256 DER (ecdsa_secp256r1_sha256_test.json)', () =>
    runWycheproof('ecdsa_secp256r1_sha256_test.json', 'ES256', (s) => ecdsaDerToRaw(s)));
});

describe('crypto: RFC 8032 §7.1', () => {
  const cases = [
    {
      sk: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
      pk: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
      msg: '',
      sig: 'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
    },
    {
      sk: '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
      pk: '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
      msg: '72',
      sig: '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
    },
    {
      sk: 'c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7',
      pk: 'fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025',
      msg: 'af82',
      sig: '6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a',
    },
  ];
  for (const [i, c] of cases.entries()) {
    it(`TEST ${i + 1}: derives the public key, signs deterministically and verifies`, () => {
      const key = privateKeyFromBytes('Ed25519', fromHex(c.sk));
      assert.equal(toHex(key.publicKey), c.pk);
      assert.equal(toHex(sign(key, fromHex(c.msg))), c.sig);
      assert.ok(verifySignature('Ed25519', key.publicKey, fromHex(c.msg), fromHex(c.sig)));
      const bad = fromHex(c.sig);
      bad[5] ^= 1;
      assert.ok(!verifySignature('Ed25519', key.publicKey, fromHex(c.msg), bad));
    });
  }
});

describe('crypto: did:key', () => {
  it('reproduces the Ed25519 ids of the did-key vectors from their seeds', () => {
    const v = readVector<Record<string, { seed: string; verificationKeyPair: { publicKeyBase58: string } }>>(
      'did-key',
      'ed25519-x25519.json',
    );
    assert.ok(Object.keys(v).length >= 3);
    for (const [did, entry] of Object.entries(v)) {
      const key = privateKeyFromBytes('Ed25519', fromHex(entry.seed));
      assert.equal(keyToDid(key), did);
      assert.equal(toHex(didToKey(did).publicKey), toHex(key.publicKey));
    }
  });
  it('reproduces the P-256 ids of the NIST vectors from their keys and rejects other curves clearly', () => {
    type Entry = { verificationMethod: { publicKeyJwk?: Jwk; publicKeyBase58?: string } };
    const v = readVector<Record<string, Entry>>('did-key', 'nist-curves.json');
    let p256 = 0;
    for (const [did, { verificationMethod: vm }] of Object.entries(v)) {
      if (!did.startsWith('did:key:zDn')) {
        assert.throws(() => didToKey(did), (e: unknown) => isLedgerError(e, 'ERR_MALFORMED_DID'));
        continue;
      }
      p256++;
      const key = vm.publicKeyJwk ? jwkToKey(vm.publicKeyJwk) : publicKeyFromBytes('ES256', fromBase58(vm.publicKeyBase58 ?? ''));
      assert.equal(keyToDid(key), did);
      assert.deepEqual(didToKey(did), { alg: 'ES256', publicKey: key.publicKey });
      if (vm.publicKeyJwk) {
        const { x, y } = vm.publicKeyJwk;
        assert.deepEqual(keyToJwk(didToKey(did)), { kty: 'EC', crv: 'P-256', x, y });
      }
    }
    assert.ok(p256 >= 3);
  });
  it('rejects malformed and wrong-length ids with ERR_MALFORMED_DID', () => {
    const good = keyToDid(generateKey('Ed25519'));
    for (const bad of ['', 'did:key:', 'did:web:example.com', 'did:key:z0OIl', good.slice(0, -3), good + 'abc', `did:key:z${'1'.repeat(40)}`]) {
      assert.throws(() => didToKey(bad), (e: unknown) => isLedgerError(e, 'ERR_MALFORMED_DID'), bad);
    }
  });
});

describe('crypto: keys and signatures', () => {
  for (const alg of ['Ed25519', 'ES256'] as const) {
    it(`${alg}: generate, JWK round trip, did round trip, node:crypto and noble agree`, () => {
      const key = generateKey(alg);
      const jwk = keyToJwk(key, true);
      const back = jwkToKey(jwk);
      assert.deepEqual(back, key);
      assert.equal(keyToJwk(key).d, undefined, 'public JWK must not hold d');
      const did = keyToDid(key);
      assert.ok(did.startsWith(alg === 'Ed25519' ? 'did:key:z6Mk' : 'did:key:zDn'));
      assert.deepEqual(didToKey(did), { alg, publicKey: key.publicKey });
      const msg = utf8('cold room -21.5');
      const sig = sign(key, msg);
      assert.equal(sig.length, 64);
      assert.ok(verifySignature(alg, key.publicKey, msg, sig));
      assert.ok(verifySignatureNoble(alg, key.publicKey, msg, sig), 'noble accepts the node:crypto signature');
      msg[0] ^= 1;
      assert.ok(!verifySignature(alg, key.publicKey, msg, sig));
      assert.ok(!verifySignatureNoble(alg, key.publicKey, msg, sig));
    });
  }
  it('accepts uncompressed P-256 keys and normalises them to compressed', () => {
    const key = generateKey('ES256');
    const jwk = keyToJwk(key);
    const full = new Uint8Array([4, ...Buffer.from(jwk.x as string, 'base64url'), ...Buffer.from(jwk.y as string, 'base64url')]);
    assert.deepEqual(publicKeyFromBytes('ES256', full).publicKey, key.publicKey);
    const msg = utf8('x');
    assert.ok(verifySignature('ES256', full, msg, sign(key, msg)));
  });
  it('rejects a JWK whose private part does not match', () => {
    const a = keyToJwk(generateKey('Ed25519'), true);
    const b = keyToJwk(generateKey('Ed25519'), true);
    assert.throws(() => jwkToKey({ ...a, d: b.d }), (e: unknown) => isLedgerError(e, 'ERR_MALFORMED_KEY'));
  });
  it('malformed keys and signatures return false, unknown algorithms throw a typed error', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<Alg>('Ed25519', 'ES256'),
        fc.uint8Array({ maxLength: 70 }),
        fc.uint8Array({ maxLength: 70 }),
        fc.uint8Array({ maxLength: 40 }),
        (alg, pk, sig, msg) => {
          assert.equal(verifySignature(alg, pk, msg, sig), false);
        },
      ),
      { numRuns: 300 },
    );
    assert.throws(
      () => verifySignature('RS256' as Alg, new Uint8Array(32), new Uint8Array(0), new Uint8Array(64)),
      (e: unknown) => isLedgerError(e, 'ERR_UNSUPPORTED_ALG'),
    );
  });
});

describe('crypto: did:key never throws anything but typed errors', () => {
  it('random strings and mutated ids give ERR_MALFORMED_DID or a valid key', () => {
    const did = keyToDid(generateKey('ES256'));
    const check = (s: string) => {
      try {
        const k = didToKey(s);
        assert.equal(keyToDid(k), s.split('#')[0], 'a parsed did round-trips');
      } catch (e) {
        assert.ok(isLedgerError(e, 'ERR_MALFORMED_DID'), `untyped error for ${JSON.stringify(s)}: ${String(e)}`);
      }
    };
    fc.assert(fc.property(fc.string(), (s) => check(s)), { numRuns: 500 });
    fc.assert(fc.property(fc.string({ maxLength: 60 }), (s) => check(`did:key:z${s}`)), { numRuns: 500 });
    fc.assert(
      fc.property(fc.nat(did.length - 1), fc.constantFrom(...'123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz0OIl'), (pos, ch) =>
        check(did.slice(0, pos) + ch + did.slice(pos + 1)),
      ),
      { numRuns: 1000 },
    );
  });
});

describe('crypto: keys from untrusted input only fail with typed errors', () => {
  const typed = (fn: () => unknown) => {
    try {
      fn();
    } catch (e) {
      assert.ok(isLedgerError(e), `untyped error: ${String(e)}`);
    }
  };
  it('random and mutated JWKs, raw keys and key files contents', () => {
    const good = keyToJwk(generateKey('ES256'), true);
    fc.assert(fc.property(fc.anything(), (v) => typed(() => jwkToKey(v))), { numRuns: 500 });
    fc.assert(
      fc.property(fc.constantFrom('x', 'y', 'd', 'crv', 'kty'), fc.oneof(fc.string(), fc.integer(), fc.constant(null)), (field, value) =>
        typed(() => jwkToKey({ ...good, [field]: value })),
      ),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(fc.constantFrom<Alg>('Ed25519', 'ES256'), fc.uint8Array({ maxLength: 70 }), (alg, bytes) => {
        typed(() => publicKeyFromBytes(alg, bytes));
        typed(() => privateKeyFromBytes(alg, bytes));
      }),
      { numRuns: 500 },
    );
  });
});

describe('crypto: Ed25519 public keys derived by node:crypto (key files)', () => {
  it('privateKeyFromSecret gives the public key the pure-JavaScript derivation gives, for any seed', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (seed) => {
        const fast = privateKeyFromSecret('Ed25519', seed);
        const slow = privateKeyFromBytes('Ed25519', seed);
        assert.equal(toHex(fast.publicKey), toHex(slow.publicKey));
        assert.equal(toHex(fast.secretKey), toHex(seed));
      }),
      { numRuns: 200 },
    );
  });

  it('jwkToKeyFast reads the same key as jwkToKey and refuses a private part that does not match', () => {
    const key = generateKey('Ed25519');
    const jwk = keyToJwk(key, true);
    assert.deepEqual(jwkToKeyFast(jwk), jwkToKey(jwk));
    const other = keyToJwk(generateKey('Ed25519'), true);
    assert.throws(() => jwkToKeyFast({ ...jwk, d: other.d }), (e: unknown) => isLedgerError(e, 'ERR_MALFORMED_KEY') && /does not match/.test((e as Error).message));
    assert.throws(() => jwkToKeyFast({ ...jwk, d: 'AAAA' }), (e: unknown) => isLedgerError(e, 'ERR_MALFORMED_KEY'));
  });
});
