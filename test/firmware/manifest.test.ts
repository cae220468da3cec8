// Manifests and reports: signing, opening, field checks; rejection bodies.
import * as assert from 'node:assert/strict';
import { toBase64, toHex, utf8 } from '../../lib/encoding/bytes';
import { keyToDid } from '../../lib/crypto';
import { signEnvelope } from '../../lib/envelope/envelope';
import { LedgerError } from '../../lib/errors';
import {
  createManifest,
  createReport,
  envelopeDigest,
  isExpired,
  isFirmwareRejection,
  manifestExpiry,
  openManifest,
  openReport,
  REJECTION_REASONS,
  rejectionBody,
  rejectionReason,
  verifyManifestSignature,
  type Manifest,
} from '../../lib/firmware';
import { assertRecordable, imageDigest, key, manifest } from './fixtures';

const malformedField = (field?: string) => (err: unknown) => {
  assert.ok(isFirmwareRejection(err, 'malformed'), String(err));
  if (field !== undefined) assert.equal(err.details.field, field);
  return true;
};

describe('firmware manifests', () => {
  for (const alg of ['Ed25519', 'ES256'] as const) {
    for (const format of ['jws', 'cose'] as const) {
      it(`${alg} ${format}: create, open and verify`, () => {
        const vk = key(`vendor-${alg}`, alg);
        const m: Manifest = { ...manifest('acme', 'thermo', 5), expires: '2030-01-01T00:00:00Z', uri: 'https://fw.example/thermo-5.bin' };
        const env = createManifest(m, vk, format);
        assert.equal(typeof env, format === 'jws' ? 'string' : 'object');
        const opened = openManifest(env);
        assert.deepEqual(opened.manifest, m);
        assert.equal(opened.signer, keyToDid(vk));
        assert.equal(opened.format, format);
        verifyManifestSignature(opened);
        assert.equal(manifestExpiry(opened.manifest), Date.UTC(2030, 0, 1));
      });
    }
  }

  it('opens COSE given as hex or base64 text, and a kid with a #fragment', () => {
    const vk = key('vendor-Ed25519');
    const m = manifest('acme', 'thermo', 1);
    const cose = createManifest(m, vk, 'cose') as Uint8Array;
    assert.deepEqual(openManifest(toHex(cose)).manifest, m);
    assert.deepEqual(openManifest(toBase64(cose)).manifest, m);
    const did = keyToDid(vk);
    const withFragment = signEnvelope(JSON.stringify(m), vk, { kid: `${did}#${did.slice(8)}` });
    assert.equal(openManifest(withFragment).signer, did);
  });

  it('normalises the digest to lower case and takes expiry in ms', () => {
    const m = { ...manifest('acme', 'thermo', 1), digest: imageDigest('x').toUpperCase(), expires: 1000 };
    const opened = openManifest(createManifest(m, key('vendor-Ed25519')));
    assert.equal(opened.manifest.digest, imageDigest('x'));
    assert.equal(isExpired(opened.manifest, 999), false);
    assert.equal(isExpired(opened.manifest, 1000), true);
    assert.equal(isExpired(manifest('a', 'b', 1), Number.MAX_SAFE_INTEGER), false);
  });

  it('opening does not trust: a tampered payload opens but does not verify', () => {
    const vk = key('vendor-Ed25519');
    const env = createManifest(manifest('acme', 'thermo', 1), vk) as string;
    const [h, , s] = env.split('.');
    const evil = Buffer.from(JSON.stringify(manifest('acme', 'thermo', 99))).toString('base64url');
    const opened = openManifest(`${h}.${evil}.${s}`);
    assert.equal(opened.manifest.sequence, 99);
    assert.throws(() => verifyManifestSignature(opened), (e: unknown) => isFirmwareRejection(e, 'bad-signature'));
  });

  it('refuses malformed fields with reason "malformed" and the field name', () => {
    const vk = key('vendor-Ed25519');
    const base = manifest('acme', 'thermo', 1);
    const bad: [string, Record<string, unknown>][] = [
      ['sequence', { sequence: -1 }],
      ['sequence', { sequence: 1.5 }],
      ['sequence', { sequence: '3' }],
      ['size', { size: Number.MAX_SAFE_INTEGER + 1 }],
      ['digest', { digest: 'abc' }],
      ['digest', { digest: 'g'.repeat(64) }],
      ['vendor', { vendor: '' }],
      ['class', { class: 'a\nb' }],
      ['expires', { expires: '2026-01-01T00:00' }], // a time without a zone is ambiguous
      ['expires', { expires: 'tomorrow' }],
      // Dates and times that do not exist (Date.parse rolls them over to the next month or day).
      ['expires', { expires: '2026-02-30' }],
      ['expires', { expires: '2026-02-29T00:00:00Z' }],
      ['expires', { expires: '2026-04-31T12:00:00+02:00' }],
      ['expires', { expires: '2026-01-01T24:00:00Z' }],
      ['uri', { uri: 7 }],
      ['extra', { extra: true }],
    ];
    for (const [field, change] of bad) {
      const payload = JSON.stringify({ ...base, ...change });
      const env = signEnvelope(payload, vk, { kid: keyToDid(vk) });
      assert.throws(() => openManifest(env), malformedField(field), field);
      assert.throws(() => createManifest({ ...base, ...change }, vk), malformedField(field));
    }
    assert.throws(() => openManifest(signEnvelope('[1,2]', vk, { kid: keyToDid(vk) })), malformedField());
    assert.throws(() => openManifest(signEnvelope('{not json', vk, { kid: keyToDid(vk) })), malformedField());
    assert.throws(() => openManifest(signEnvelope(JSON.stringify(base), vk, { kid: 'vendor-1' })), (e: unknown) => isFirmwareRejection(e, 'unknown-signer'));
    assert.throws(() => openManifest(42 as never), malformedField());
    // What exists is taken: a leap day, a date alone, an offset.
    for (const expires of ['2028-02-29', '2028-02-29T23:59:59.5-01:00', '2026-12-31T00:00Z'])
      assert.equal(openManifest(signEnvelope(JSON.stringify({ ...base, expires }), vk, { kid: keyToDid(vk) })).manifest.expires, expires);
  });

  it('envelopeDigest hashes JWS text as UTF-8 and COSE bytes as they are', () => {
    const vk = key('vendor-Ed25519');
    const jws = createManifest(manifest('acme', 'thermo', 1), vk) as string;
    assert.equal(envelopeDigest(jws), envelopeDigest(utf8(jws)));
    assert.match(envelopeDigest(createManifest(manifest('acme', 'thermo', 1), vk, 'cose')), /^[0-9a-f]{64}$/);
  });
});

describe('firmware device reports', () => {
  const fields = { class: 'thermo', version: '1.2.0', sequence: 2, digest: imageDigest('2'), counter: 4 };

  for (const format of ['jws', 'cose'] as const) {
    it(`${format}: create and open with the device's did`, () => {
      const dk = key('dev-p256', 'ES256');
      const opened = openReport(createReport({ ...fields, ts: '2026-01-01T00:00:00.500Z' }, dk, format), keyToDid(dk));
      assert.deepEqual(opened.report, { ...fields, ts: Date.UTC(2026, 0, 1) + 500 });
      assert.equal(opened.device, keyToDid(dk));
    });
  }

  it('needs a counter or a ts, and known fields only', () => {
    const dk = key('dev-a');
    const { counter: _c, ...noCounter } = fields;
    assert.throws(() => createReport(noCounter, dk), malformedField());
    const sign = (o: object) => signEnvelope(JSON.stringify(o), dk);
    assert.throws(() => openReport(sign({ ...fields, status: 'ok' }), keyToDid(dk)), malformedField('status'));
    assert.throws(() => openReport(sign({ ...fields, counter: -1 }), keyToDid(dk)), malformedField('counter'));
    assert.throws(() => openReport(sign(fields), 'device-7'), malformedField());
    assert.equal(openReport(sign(fields), keyToDid(dk)).report.counter, 4); // no kid is fine: the did is given
  });
});

describe('firmware rejection bodies', () => {
  it('carry the reason, the message and what the rejection knew, in recordable form', () => {
    const dk = key('dev-a');
    const err = new LedgerError('ERR_FIRMWARE_REJECTED', 'sequence 1 is lower than 2', {
      reason: 'rollback',
      vendor: 'acme',
      class: 'thermo',
      sequence: 1,
      installed: 2,
      digest: undefined,
    });
    const body = rejectionBody(err, { device: keyToDid(dk), at: new Date(5000) });
    assert.deepEqual(body, {
      decision: 'rejected',
      subject: 'update',
      reason: 'rollback',
      message: 'sequence 1 is lower than 2',
      device: keyToDid(dk),
      vendor: 'acme',
      class: 'thermo',
      sequence: 1,
      at: 5000,
    });
    assertRecordable(body);
    assert.equal(rejectionBody(new Error('disk on fire'), { subject: 'report' }).reason, 'error');
    assert.equal(rejectionReason(err), 'rollback');
    assert.equal(rejectionReason(new Error('x')), undefined);
    assert.equal(REJECTION_REASONS.length, new Set(REJECTION_REASONS).size);
  });
});
