// The happy path: several vendors, classes, devices and releases; what each device ran, from
// when to when, approved by whom; which devices run a release; rebuilding it from records.
import * as assert from 'node:assert/strict';
import { keyToDid } from '../../lib/crypto';
import {
  deviceHistory,
  deviceRejections,
  FirmwareState,
  historyFromRecords,
  historyFromRecordsAsync,
  releaseDevices,
  type ReportBody,
} from '../../lib/firmware';
import { Gateway, key, manifest, reportOf, type TestRecord } from './fixtures';

const status = (r: TestRecord): string => (r.body as ReportBody).status;

function scenario() {
  const gw = new Gateway();
  const acmeKey = key('acme-1');
  const globexKey = key('globex-p256', 'ES256');
  gw.trust('acme', acmeKey);
  gw.trust('globex', globexKey);
  const keys = { a: key('dev-a'), b: key('dev-b', 'ES256'), c: key('dev-c') };
  const a = gw.enrol(keys.a);
  const b = gw.enrol(keys.b);
  const c = gw.enrol(keys.c);
  const t = [1, 2, 3].map((s) => manifest('acme', 'thermo', s));
  const v = [10, 11].map((s) => manifest('globex', 'valve', s));
  for (const m of t) gw.release(m, acmeKey);
  for (const m of v) gw.release(m, globexKey, 'cose');
  const idx: Record<string, number> = {};
  const mark = (name: string, r: TestRecord | undefined = gw.records[gw.records.length - 1]) => (idx[name] = (r).index);

  // A and B come with release 1 from the factory.
  assert.equal(status(gw.report(keys.a, reportOf(t[0], { counter: 1 }))), 'initial');
  mark('a1');
  assert.equal(status(gw.report(keys.b, reportOf(t[0], { ts: gw.time }), 'cose')), 'initial');
  // A: approved 2, still on 1 (pending), then on 2 (confirmed).
  gw.update({ device: a, vendor: 'acme', class: 'thermo', sequence: 2 }, { approver: 'ops@example' });
  mark('a2');
  assert.equal(status(gw.report(keys.a, reportOf(t[0], { counter: 2 }))), 'pending');
  assert.equal(status(gw.report(keys.a, reportOf(t[1], { counter: 3 }))), 'confirmed');
  mark('a2ok');
  // B: approved 2, then 3 before it ever reported 2; reports 3.
  gw.update({ device: b, vendor: 'acme', class: 'thermo', sequence: 2 });
  gw.update({ device: b, vendor: 'acme', class: 'thermo', sequence: 3 });
  mark('b3');
  assert.equal(status(gw.report(keys.b, reportOf(t[2], { ts: gw.time }), 'cose')), 'confirmed');
  // C: a valve, known from enrolment; approved 10, confirmed, then 11 by envelope.
  gw.update({ device: c, deviceClass: 'valve', deviceVendor: 'globex', vendor: 'globex', class: 'valve', sequence: 10 });
  gw.report(keys.c, reportOf(v[0], { counter: 1 }));
  const env11 = gw.records.find((r) => r.type === 'firmware.release' && (r.body as { manifest: { sequence: number } }).manifest.sequence === 11)?.envelope;
  gw.update({ device: c, manifestEnvelope: env11 as Uint8Array });
  mark('c11');
  gw.report(keys.c, reportOf(v[1], { counter: 2 }));
  // A: to 3; a refused rollback on the way.
  gw.update({ device: a, vendor: 'acme', class: 'thermo', sequence: 3 });
  mark('a3');
  assert.throws(() => gw.update({ device: a, vendor: 'acme', class: 'thermo', sequence: 1 }));
  mark('a-rollback');
  gw.report(keys.a, reportOf(t[2], { counter: 4 }));
  mark('a3ok');
  return { gw, a, b, c, idx, acmeKey, globexKey, t, v };
}

describe('firmware history', () => {
  it('deviceHistory: every version a device ran, from when to when, approved by whom', () => {
    const { gw, a, idx, acmeKey } = scenario();
    const at = (i: number) => ({ index: i, time: gw.records[i].time });
    const h = deviceHistory(gw.state, a);
    assert.deepEqual(
      h.map((s) => [s.sequence, s.source, s.from.index, s.to?.index, s.confirmed?.index, s.approvedBy?.index]),
      [
        [1, 'report', idx.a1, idx.a2, idx.a1, undefined],
        [2, 'decision', idx.a2, idx.a3, idx.a2ok, idx.a2],
        [3, 'decision', idx.a3, undefined, idx.a3ok, idx.a3],
      ],
    );
    assert.deepEqual(h[1].from, at(idx.a2));
    assert.deepEqual(h[1].to, at(idx.a3));
    assert.deepEqual(h[1].approvedBy, { ...at(idx.a2), vendor: 'acme', signer: keyToDid(acmeKey), approver: 'ops@example' });
    assert.equal(h[1].version, '1.2.0');
    assert.deepEqual(
      deviceRejections(gw.state, a).map((r) => [r.reason, r.at.index, r.sequence]),
      [['rollback', idx['a-rollback'], 1]],
    );
    // The history is a copy.
    h[0].sequence = 99;
    assert.equal(deviceHistory(gw.state, a)[0].sequence, 1);
    assert.deepEqual(deviceHistory(gw.state, keyToDid(key('nobody'))), []);
  });

  it('an update approved twice before the device moves keeps both spans; the report confirms the last', () => {
    const { gw, b, idx } = scenario();
    const h = deviceHistory(gw.state, b);
    assert.deepEqual(
      h.map((s) => [s.sequence, s.source, s.confirmed !== undefined]),
      [
        [1, 'report', true],
        [2, 'decision', false],
        [3, 'decision', true],
      ],
    );
    assert.equal(h[2].from.index, idx.b3);
    assert.equal(gw.state.device(b)?.running?.sequence, 3);
  });

  it('releaseDevices: which devices run a release', () => {
    const { gw, a, b, c, idx } = scenario();
    const runs = (vendor: string, cls: string, seq: number) =>
      releaseDevices(gw.state, vendor, cls, seq)
        .map((d) => d.device)
        .sort();
    assert.deepEqual(runs('acme', 'thermo', 3), [a, b].sort());
    assert.deepEqual(runs('acme', 'thermo', 2), []);
    assert.deepEqual(runs('acme', 'thermo', 1), []);
    assert.deepEqual(runs('globex', 'valve', 11), [c]);
    assert.deepEqual(runs('globex', 'valve', 12), []);
    assert.deepEqual(runs('globex', 'thermo', 3), []);
    const [entry] = releaseDevices(gw.state, 'globex', 'valve', 11);
    assert.equal(entry.since.index, idx.c11);
    assert.ok(entry.confirmed && entry.confirmed.index > idx.c11);
    assert.equal(entry.approvedBy?.index, idx.c11);
  });

  it('historyFromRecords rebuilds the same state from the records alone (sync and async)', async () => {
    const { gw, a, b, c } = scenario();
    const rebuilt = historyFromRecords(gw.records);
    const rebuiltAsync = await historyFromRecordsAsync(
      (async function* () {
        yield* gw.records;
      })(),
    );
    for (const s of [rebuilt, rebuiltAsync]) {
      for (const did of [a, b, c]) assert.deepEqual(deviceHistory(s, did), deviceHistory(gw.state, did));
      assert.deepEqual(releaseDevices(s, 'acme', 'thermo', 3), releaseDevices(gw.state, 'acme', 'thermo', 3));
      assert.deepEqual(s.rejections(), gw.state.rejections());
      assert.equal(s.lastIndex, gw.state.lastIndex);
    }
  });

  it('report statuses: unapproved and downgraded are recorded, not refused', () => {
    const { gw, t } = scenario();
    const dKey = key('dev-d');
    gw.enrol(dKey);
    assert.equal(status(gw.report(dKey, reportOf(t[0], { counter: 1 }))), 'initial');
    assert.equal(status(gw.report(dKey, reportOf(t[1], { counter: 2 }))), 'unapproved');
    assert.equal(status(gw.report(dKey, reportOf(t[0], { counter: 3 }))), 'downgraded');
    const h = deviceHistory(gw.state, keyToDid(dKey));
    assert.deepEqual(
      h.map((s) => [s.sequence, s.approvedBy]),
      [
        [1, undefined],
        [2, undefined],
        [1, undefined],
      ],
    );
    assert.equal(gw.state.device(keyToDid(dKey))?.floor, 2);
  });

  it('clone() is independent of the original', () => {
    const { gw, a } = scenario();
    const copy = gw.state.clone();
    gw.append('firmware.decision', { decision: 'rejected', subject: 'update', reason: 'rollback', message: 'x', device: a });
    assert.equal(copy.device(a)?.rejections.length, 1);
    assert.equal(gw.state.device(a)?.rejections.length, 2);
    assert.deepEqual(deviceHistory(copy, a), deviceHistory(gw.state, a));
  });

  it('apply ignores other record types and refuses malformed firmware bodies', () => {
    const s = new FirmwareState();
    assert.equal(s.apply('reading', { t: 1 }, 0, 1), false);
    assert.throws(() => s.apply('firmware.release', { manifest: {} }, 1, 2), { code: 'ERR_MALFORMED_RECORD' });
    assert.throws(() => s.apply('firmware.decision', { decision: 'maybe' }, 1, 2), { code: 'ERR_MALFORMED_RECORD' });
    assert.throws(() => s.apply('firmware.report', { device: 'x', status: 'fine' }, 1, 2), { code: 'ERR_MALFORMED_RECORD' });
    assert.throws(() => s.apply('firmware.vendor', { vendor: 'v', did: 'nope', action: 'trust' }, 1, 2), { code: 'ERR_MALFORMED_RECORD' });
    assert.equal(s.lastIndex, -1);
  });
});
