import * as assert from 'node:assert/strict';
import { evaluate, initialState, termsHashHex, validateTerms, type ContractState } from '../../lib/contracts';
import { generateKey, keyToDid } from '../../lib/crypto';
import { SUPPORT_URL, contractHaState, firmwareHaState, latestRelease, releaseUrl } from '../../lib/ha';
import { Gateway, key, manifest, reportOf } from '../firmware/fixtures';

const party = keyToDid(generateKey('Ed25519'));
const T0 = Date.UTC(2026, 0, 1);
const terms = validateTerms({
  id: 'cold-room-1',
  version: 1,
  title: 'Cold room below -20 °C',
  subjects: 'any',
  metric: 'temperature',
  unit: 'degC',
  rule: { op: '<', limit: -20 },
  alarm: { mode: 'consecutive', seconds: 60 },
  hysteresis: 0.5,
  mkt: { limit: -18, windowSeconds: 3600 },
  parties: [party],
});
const termsHash = termsHashHex(terms);

function run(readings: [number, number][]): ContractState {
  let s = initialState(terms);
  for (const [seconds, value] of readings) s = evaluate(terms, s, { kind: 'reading', time: T0 + seconds * 1000, value }).state;
  return s;
}
const haState = (state: ContractState, active = true) => contractHaState({ terms, termsHash, active, missingParties: active ? [] : [party], state });

describe('ha: contract state', () => {
  it('before any reading: no value, no MKT, problem OFF', () => {
    const s = haState(initialState(terms));
    assert.equal(s.status, 'no-data');
    assert.equal(s.violation, 'OFF');
    assert.equal(s.value, null);
    assert.equal(s.mkt, null);
    assert.equal(s.unit, '°C', 'every spelling of Celsius is published as °C');
    assert.equal(s.attributes.last_reading, null);
  });

  it('awaiting signatures is a status of its own: the problem sensor is unknown (null renders "None"), neither problem nor OK', () => {
    const s = haState(run([[0, -19]]), false);
    assert.equal(s.status, 'awaiting-signatures');
    assert.equal(s.attributes.status, 'awaiting-signatures');
    assert.equal(s.attributes.missing_parties, 1);
    assert.equal(s.violation, null);
  });

  it("°F and K are published in Home Assistant's spelling", () => {
    for (const [unit, ha] of [['degF', '°F'], ['kelvin', 'K'], ['%', '%']]) {
      const t = validateTerms({ ...terms, unit, mkt: undefined });
      assert.equal(contractHaState({ terms: t, termsHash, active: true, missingParties: [], state: initialState(t) }).unit, ha);
    }
  });

  it('an excursion is not yet a problem; a violation is, until compliance is restored', () => {
    const compliant = haState(run([[0, -22]]));
    assert.deepEqual([compliant.status, compliant.violation, compliant.value], ['compliant', 'OFF', -22]);
    assert.equal(compliant.attributes.last_reading, new Date(T0).toISOString());

    const excursion = haState(run([[0, -22], [10, -19.5]]));
    assert.deepEqual([excursion.status, excursion.violation], ['excursion', 'OFF']);
    assert.equal(excursion.attributes.excursion_start, new Date(T0 + 10000).toISOString());

    const violated = haState(run([[0, -22], [10, -19.5], [80, -19]]));
    assert.deepEqual([violated.status, violated.violation, violated.value], ['violated', 'ON', -19]);
    assert.equal(violated.attributes.status, 'violated');
    assert.equal(violated.attributes.violations, 1);
    assert.equal(violated.attributes.excursion_peak, -19);
    assert.equal(typeof violated.mkt, 'number');
    assert.equal(violated.attributes.terms_hash, termsHash);

    const restored = haState(run([[0, -22], [10, -19.5], [80, -19], [90, -21]]));
    assert.deepEqual([restored.status, restored.violation, restored.attributes.excursion_start], ['compliant', 'OFF', null]);
    assert.deepEqual(JSON.parse(JSON.stringify(restored)), restored, 'plain JSON');
  });

  it('a silent sensor shows as data_gap once a tick has reported the gap', () => {
    const gappy = validateTerms({ ...terms, maxGapSeconds: 60 });
    let s = evaluate(gappy, initialState(gappy), { kind: 'reading', time: T0, value: -22 }).state;
    const quiet = () => contractHaState({ terms: gappy, termsHash: termsHashHex(gappy), active: true, missingParties: [], state: s });
    assert.equal(quiet().attributes.data_gap, false);
    s = evaluate(gappy, s, { kind: 'tick', time: T0 + 120_000 }).state;
    assert.equal(quiet().attributes.data_gap, true);
    assert.equal(quiet().violation, 'OFF', 'a gap is not a violation');
    s = evaluate(gappy, s, { kind: 'reading', time: T0 + 130_000, value: -22 }).state;
    assert.equal(quiet().attributes.data_gap, false);
  });

  it('a contract without a unit publishes unit null', () => {
    const bare = validateTerms({ ...terms, unit: undefined, mkt: undefined });
    const s = contractHaState({ terms: bare, termsHash: termsHashHex(bare), active: true, missingParties: [], state: initialState(bare) });
    assert.equal(s.unit, null);
    assert.equal(s.mkt, null);
  });
});

describe('ha: firmware update state', () => {
  function setup() {
    const gw = new Gateway();
    const acme = key('ha-acme');
    const globex = key('ha-globex');
    gw.trust('acme', acme);
    gw.trust('globex', globex);
    const devKey = key('ha-dev-a');
    const dev = gw.enrol(devKey);
    return { gw, acme, globex, dev, devKey };
  }

  it('nothing until a record says what the device runs', () => {
    const { gw, dev } = setup();
    assert.equal(firmwareHaState(gw.state, dev), undefined);
    assert.equal(firmwareHaState(gw.state, 'did:key:zUnknown'), undefined);
  });

  it('installed = what the device reported; an approved, unreported update is latest and in progress; latest = the highest sequence of its vendor and class', () => {
    const { gw, acme, globex, dev, devKey } = setup();
    const [m1, m2, m3] = [1, 2, 3].map((s) => manifest('acme', 'thermo', s, s === 2 ? { uri: 'https://acme.example/fw/1.2.0' } : s === 3 ? { uri: 'ipfs://bafy/1.3.0' } : {}));
    gw.release(m1, acme);
    gw.release(m2, acme);
    gw.release(manifest('acme', 'valve', 9), acme); // another class
    gw.release(manifest('globex', 'thermo', 7), globex); // another vendor
    gw.update({ device: dev, vendor: 'acme', class: 'thermo', sequence: 1 });
    assert.equal(firmwareHaState(gw.state, dev), undefined, 'approved is not installed: nothing until the device reports');
    gw.report(devKey, reportOf(m1, { vendor: 'acme', counter: 1 }));
    assert.deepEqual(firmwareHaState(gw.state, dev), {
      installed_version: '1.1.0',
      latest_version: '1.2.0',
      in_progress: false,
      title: 'acme thermo',
      release_summary: '',
      release_url: 'https://acme.example/fw/1.2.0',
    });
    gw.update({ device: dev, vendor: 'acme', class: 'thermo', sequence: 2 });
    assert.deepEqual(firmwareHaState(gw.state, dev), {
      installed_version: '1.1.0',
      latest_version: '1.2.0',
      in_progress: true,
      title: 'acme thermo',
      release_summary: '',
      release_url: 'https://acme.example/fw/1.2.0',
    });
    gw.report(devKey, reportOf(m2, { vendor: 'acme', counter: 2 }));
    assert.deepEqual(firmwareHaState(gw.state, dev), {
      installed_version: '1.2.0',
      latest_version: '1.2.0',
      in_progress: false,
      title: 'acme thermo',
      release_summary: '',
      release_url: 'https://acme.example/fw/1.2.0',
    });
    // 1.3.0's manifest links to ipfs://: release_url is still sent (HA keeps a key a message
    // leaves out), never with a non-http(s) URL HA would reject the whole state for.
    gw.release(m3, acme);
    const s3 = firmwareHaState(gw.state, dev);
    assert.equal(s3?.latest_version, '1.3.0');
    assert.equal(s3?.release_url, SUPPORT_URL);
    assert.match(s3?.release_summary ?? '', /No web link to 1\.3\.0/);
    for (const v of Object.values(s3 ?? {})) assert.notEqual(v, null);
    assert.equal(latestRelease(gw.state, 'thermo', 'acme')?.sequence, 3);
    assert.equal(latestRelease(gw.state, 'thermo')?.sequence, 7, 'any vendor when the vendor is unknown');
    assert.equal(latestRelease(gw.state, 'pump'), undefined);
  });

  it('a release signed by a vendor key revoked since is not offered as the latest version (no update can be approved to it)', () => {
    const { gw, acme, dev, devKey } = setup();
    const leaked = key('ha-acme-leaked');
    gw.trust('acme', leaked);
    const m1 = manifest('acme', 'thermo', 1);
    gw.release(m1, acme);
    gw.release(manifest('acme', 'thermo', 2), leaked);
    gw.report(devKey, reportOf(m1, { vendor: 'acme', counter: 1 }));
    assert.equal(firmwareHaState(gw.state, dev)?.latest_version, '1.2.0');
    gw.trust('acme', leaked, 'revoke');
    assert.throws(() => gw.update({ device: dev, vendor: 'acme', class: 'thermo', sequence: 2 }), /revoked/);
    assert.equal(firmwareHaState(gw.state, dev)?.latest_version, '1.1.0');
    assert.equal(latestRelease(gw.state, 'thermo', 'acme')?.sequence, 1);
  });

  it('a release whose manifest has expired is not offered as the latest version (no update can be approved to it)', () => {
    const { gw, acme, dev, devKey } = setup();
    const m1 = manifest('acme', 'thermo', 1);
    const expires = gw.time + 3_600_000;
    gw.release(m1, acme);
    gw.release(manifest('acme', 'thermo', 2, { expires }), acme);
    gw.report(devKey, reportOf(m1, { vendor: 'acme', counter: 1 }));
    assert.equal(firmwareHaState(gw.state, dev, expires - 1)?.latest_version, '1.2.0');
    assert.equal(firmwareHaState(gw.state, dev, expires)?.latest_version, '1.1.0');
    assert.equal(latestRelease(gw.state, 'thermo', 'acme', expires)?.sequence, 1);
    gw.time = expires;
    assert.throws(() => gw.update({ device: dev, vendor: 'acme', class: 'thermo', sequence: 2 }), /expired/);
  });

  it('a device that reports an unregistered build newer than every release: latest is what it runs', () => {
    const { gw, acme, dev, devKey } = setup();
    gw.release(manifest('acme', 'thermo', 1), acme);
    gw.report(devKey, reportOf(manifest('acme', 'thermo', 5), { vendor: 'acme', counter: 1 }));
    const s = firmwareHaState(gw.state, dev);
    assert.equal(s?.installed_version, '1.5.0');
    assert.equal(s?.latest_version, '1.5.0');
    assert.equal(s?.in_progress, false);
  });

  it('release_url: only absolute http(s) URLs', () => {
    assert.equal(releaseUrl('https://acme.example/fw/1.2.0'), 'https://acme.example/fw/1.2.0');
    assert.equal(releaseUrl('http://acme.example/x'), 'http://acme.example/x');
    for (const bad of ['ipfs://bafy/1.3.0', 'fw/1.3.0.bin', '/fw/1.3.0.bin', 'file:///etc/passwd', 'javascript:alert(1)', '', undefined]) assert.equal(releaseUrl(bad), undefined, String(bad));
  });
});
