import * as assert from 'node:assert/strict';
import { decodeCbor } from '../../lib/encoding/codec';
import { generateKey, keyToDid } from '../../lib/crypto';
import { termsBytes, termsHash, termsHashHex, validateTerms, parseTime, formatTime } from '../../lib/contracts';
import { assertCode, PARTY_A } from './helpers';

const base = {
  id: 'cold-room-1',
  version: 1,
  title: 'Cold room',
  subjects: 'any',
  metric: 'sensors.t1',
  rule: { op: '<', limit: 8 },
  alarm: { mode: 'consecutive', seconds: 300 },
  parties: [PARTY_A],
};
const P256 = keyToDid(generateKey('ES256'));

describe('contracts: terms', () => {
  it('normalises: defaults filled, times as ms, optional fields absent', () => {
    const t = validateTerms({
      ...base,
      unit: '°C',
      mkt: { limit: 25, windowSeconds: 86400 },
      validFrom: '2026-01-01T00:00:00Z',
      validUntil: '2027-01-01T01:00:00+01:00',
    });
    assert.equal(t.hysteresis, 0);
    assert.deepEqual(t.mkt, { limit: 25, windowSeconds: 86400, activationEnergyKJ: 83.144 });
    assert.equal(t.validFrom, Date.UTC(2026, 0, 1));
    assert.equal(t.validUntil, Date.UTC(2027, 0, 1));
    assert.ok(!('maxGapSeconds' in validateTerms(base)));
    assert.deepEqual(validateTerms(t), t, 'idempotent');
    assert.deepEqual(JSON.parse(JSON.stringify(t)), t, 'plain JSON data');
  });

  it('accepts every rule, alarm mode, device names and did:key subjects, several parties', () => {
    for (const rule of [
      { op: '<', limit: -18 },
      { op: '<=', limit: 8 },
      { op: '>', limit: 2 },
      { op: '>=', limit: 2.5 },
      { op: 'between', low: 2, high: 8 },
    ])
      assert.deepEqual(validateTerms({ ...base, rule }).rule, rule);
    for (const alarm of [
      { mode: 'instant' },
      { mode: 'consecutive', seconds: 0.5 },
      { mode: 'cumulative', seconds: 3600, windowSeconds: 86400 },
    ])
      assert.deepEqual(validateTerms({ ...base, alarm }).alarm, alarm);
    const t = validateTerms({ ...base, subjects: ['fridge-1', PARTY_A, P256], parties: [PARTY_A, P256] });
    assert.deepEqual(t.subjects, ['fridge-1', PARTY_A, P256]);
  });

  const bad: [string, Record<string, unknown>, RegExp][] = [
    ['not an object', { __replace: 1 }, /terms must be a JSON object/],
    ['unknown field', { limt: 3 }, /terms\.limt is not a known field/],
    ['id pattern', { id: 'cold room' }, /terms\.id/],
    ['id too long', { id: 'x'.repeat(65) }, /terms\.id/],
    ['version 0', { version: 0 }, /terms\.version/],
    ['version 1.5', { version: 1.5 }, /terms\.version/],
    ['title missing', { title: undefined }, /terms\.title/],
    ['subjects empty', { subjects: [] }, /terms\.subjects/],
    ['subjects repeat', { subjects: ['a', 'a'] }, /terms\.subjects\[1\] repeats/],
    ['subject bad did', { subjects: ['did:key:zBAD'] }, /terms\.subjects\[0\] is not a valid did:key/],
    ['metric empty segment', { metric: 'a..b' }, /terms\.metric/],
    ['metric missing', { metric: undefined }, /terms\.metric/],
    ['unit empty', { unit: '' }, /terms\.unit/],
    ['rule op', { rule: { op: '!=', limit: 1 } }, /terms\.rule\.op/],
    ['rule limit NaN', { rule: { op: '<', limit: Number.NaN } }, /terms\.rule\.limit/],
    ['rule limit string', { rule: { op: '<', limit: '8' } }, /terms\.rule\.limit/],
    ['rule limit huge', { rule: { op: '<', limit: 1e300 } }, /terms\.rule\.limit/],
    ['rule extra', { rule: { op: '<', limit: 1, low: 0 } }, /terms\.rule\.low is not a known field/],
    ['between reversed', { rule: { op: 'between', low: 8, high: 2 } }, /terms\.rule\.high/],
    ['between equal', { rule: { op: 'between', low: 2, high: 2 } }, /terms\.rule\.high/],
    ['alarm mode', { alarm: { mode: 'sometimes' } }, /terms\.alarm\.mode/],
    ['consecutive 0 s', { alarm: { mode: 'consecutive', seconds: 0 } }, /terms\.alarm\.seconds/],
    ['cumulative no window', { alarm: { mode: 'cumulative', seconds: 10 } }, /terms\.alarm\.windowSeconds/],
    ['cumulative window < seconds', { alarm: { mode: 'cumulative', seconds: 10, windowSeconds: 5 } }, /terms\.alarm\.windowSeconds/],
    ['hysteresis negative', { hysteresis: -1 }, /terms\.hysteresis/],
    ['hysteresis too wide for between', { rule: { op: 'between', low: 2, high: 8 }, hysteresis: 3 }, /terms\.hysteresis/],
    ['maxGap 0', { maxGapSeconds: 0 }, /terms\.maxGapSeconds/],
    ['mkt window', { mkt: { limit: 25 } }, /terms\.mkt\.windowSeconds/],
    ['mkt energy', { mkt: { limit: 25, windowSeconds: 60, activationEnergyKJ: 0 } }, /terms\.mkt\.activationEnergyKJ/],
    ['mkt near absolute zero', { mkt: { limit: -270, windowSeconds: 60 } }, /terms\.mkt\.limit/],
    ['mkt with a non-Celsius unit', { unit: '%RH', mkt: { limit: 25, windowSeconds: 60 } }, /terms\.unit/],
    ['parties empty', { parties: [] }, /terms\.parties/],
    ['party not a did', { parties: ['alice'] }, /terms\.parties\[0\]/],
    ['party with fragment', { parties: [`${PARTY_A}#x`] }, /terms\.parties\[0\]/],
    ['parties repeat', { parties: [PARTY_A, PARTY_A] }, /terms\.parties\[1\]/],
    ['validFrom without zone', { validFrom: '2026-01-01T00:00:00' }, /terms\.validFrom/],
    ['validFrom impossible date', { validFrom: '2026-02-30T00:00:00Z' }, /terms\.validFrom/],
    ['validUntil before validFrom', { validFrom: 2000, validUntil: 1000 }, /terms\.validUntil/],
  ];
  for (const [name, patch, message] of bad)
    it(`refuses ${name} with ERR_INVALID_TERMS naming the field`, () => {
      const input = '__replace' in patch ? [] : { ...base, ...patch };
      assertCode(() => validateTerms(input), 'ERR_INVALID_TERMS', message);
    });

  it('hash: SHA-256 of the deterministic CBOR of the normalised terms, independent of spelling', () => {
    const a = validateTerms({ ...base, validFrom: '2026-01-01T00:00:00Z' });
    const bytes = termsBytes(a);
    assert.deepEqual(decodeCbor(bytes) instanceof Map ? Object.fromEntries(decodeCbor(bytes) as Map<string, unknown>) : decodeCbor(bytes), JSON.parse(JSON.stringify(a)));
    assert.match(termsHashHex(a), /^[0-9a-f]{64}$/);
    assert.equal(termsHash(a).length, 32);
    // same meaning, other spelling: key order, ms instead of ISO, explicit defaults, -0
    const reordered = {
      parties: [PARTY_A],
      alarm: { seconds: 300, mode: 'consecutive' },
      rule: { limit: 8, op: '<' },
      metric: 'sensors.t1',
      subjects: 'any',
      title: 'Cold room',
      version: 1,
      id: 'cold-room-1',
      hysteresis: -0,
      validFrom: Date.UTC(2026, 0, 1),
    };
    assert.equal(termsHashHex(reordered), termsHashHex(a));
    assert.equal(termsHashHex({ ...base, validFrom: '2026-01-01T01:00:00+01:00' }), termsHashHex(a));
    // any change of meaning changes the hash
    for (const patch of [{ version: 2 }, { rule: { op: '<=', limit: 8 } }, { hysteresis: 0.5 }, { title: 'Cold room ' }, { unit: '°C' }])
      assert.notEqual(termsHashHex({ ...a, ...patch }), termsHashHex(a), JSON.stringify(patch));
    assertCode(() => termsHash({ ...a, id: '' }), 'ERR_INVALID_TERMS');
  });

  it('parses and formats times', () => {
    assert.equal(parseTime('2026-11-25T10:32:00Z'), Date.UTC(2026, 10, 25, 10, 32));
    assert.equal(parseTime('2026-11-25T10:32Z'), Date.UTC(2026, 10, 25, 10, 32));
    assert.equal(parseTime('2026-11-25T10:32:00.250-02:00'), Date.UTC(2026, 10, 25, 12, 32, 0, 250));
    assert.equal(parseTime(1.5), 1.5);
    for (const bad of ['2026-11-25', '2026-11-25 10:32:00Z', 'yesterday', '2026-13-01T00:00:00Z', Number.NaN, Infinity, 9e15, null, '1700000000000'])
      assert.equal(parseTime(bad), undefined, String(bad));
    assert.equal(formatTime(Date.UTC(2026, 10, 25, 10, 32)), '2026-11-25T10:32:00Z');
    assert.equal(formatTime(Date.UTC(2026, 10, 25, 10, 32, 0, 5)), '2026-11-25T10:32:00.005Z');
  });
});
