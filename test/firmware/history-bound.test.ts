// Records can add history without end (a device stream alternating versions, refusal after
// refusal): the state keeps the most recent `historyLimit` spans and rejections and counts the
// rest, and decides exactly as a state that kept them all.
import * as assert from 'node:assert/strict';
import { keyToDid } from '../../lib/crypto';
import { checkUpdate, deviceHistory, deviceRejections, FirmwareState, isFirmwareRejection, recheckRecord } from '../../lib/firmware';
import { Gateway, T0, imageDigest, key, manifest, reportOf } from './fixtures';

const SIGNER = keyToDid(key('acme-1'));

function approval(device: string, sequence: number, at: number): Record<string, unknown> {
  return {
    decision: 'approved',
    subject: 'update',
    device,
    vendor: 'acme',
    class: 'thermo',
    sequence,
    version: `1.${sequence}`,
    digest: imageDigest(`thermo-${sequence}`),
    size: 100,
    signer: SIGNER,
    release: 0,
    at,
  };
}

const rejection = (device: string, at: number): Record<string, unknown> => ({ decision: 'rejected', subject: 'update', reason: 'rollback', message: 'no', device, at });

describe('firmware state: history bounded by historyLimit', () => {
  const did = keyToDid(key('dev-a'));

  it('2500 decisions alternating two versions: the latest 1000 spans kept, 1500 counted; current and floor exact', () => {
    const state = new FirmwareState();
    const n = 2500;
    for (let i = 0; i < n; i++) state.apply('firmware.decision', approval(did, 1 + (i % 2), T0 + i), i, T0 + i);
    const d = state.device(did);
    assert.ok(d);
    assert.equal(d.spans.length, 1000);
    assert.equal(d.spansOmitted, 1500);
    assert.equal(d.spans[0].from.index, n - 1000);
    assert.deepEqual(d.spans[0].to, { index: n - 999, time: T0 + n - 999 });
    assert.equal(d.current?.from.index, n - 1);
    assert.equal(d.current?.sequence, 2);
    assert.equal(d.floor, 2);
    const h = deviceHistory(state, did);
    assert.equal(h.length, 1000);
    assert.equal(h[999].to, undefined);
  });

  it('rejections (per device and in all) and vendor key events: the latest kept, the rest counted', () => {
    const state = new FirmwareState({ historyLimit: 10 });
    for (let i = 0; i < 25; i++) state.apply('firmware.decision', rejection(did, T0 + i), i, T0 + i);
    for (let i = 25; i < 50; i++) state.apply('firmware.vendor', { vendor: 'acme', did: SIGNER, action: i % 2 ? 'trust' : 'revoke' }, i, T0 + i);
    const d = state.device(did);
    assert.deepEqual([d?.rejections.length, d?.rejectionsOmitted], [10, 15]);
    assert.deepEqual(deviceRejections(state, did).map((r) => r.at.index), [15, 16, 17, 18, 19, 20, 21, 22, 23, 24]);
    assert.deepEqual([state.rejections().length, state.rejectionsOmitted], [10, 15]);
    const keys = state.vendorKeys('acme');
    assert.deepEqual([keys.events.length, keys.eventsOmitted, keys.events[9].index], [10, 15, 49]);
    assert.deepEqual(keys.trusted, [SIGNER]);
    assert.equal(state.clone().historyLimit, 10);
  });

  it('approvals of images no release registers are not kept: a record cannot add one each', () => {
    const state = new FirmwareState();
    for (let i = 0; i < 50; i++) state.apply('firmware.decision', approval(did, i, T0 + i), i, T0 + i);
    assert.equal(state.approvalOf(did, 'thermo', 49, imageDigest('thermo-49')), undefined);
    assert.equal(state.device(did)?.current?.approvedBy?.index, 49, 'the span still names its decision');
  });

  it('a state keeping one span decides as one keeping them all: the same re-check of every record, rollbacks still refused', () => {
    const gw = new Gateway();
    const vendorKey = key('acme-1');
    const devKey = key('dev-b');
    gw.trust('acme', vendorKey);
    const dev = gw.enrol(devKey);
    const releases = [1, 2, 3, 4].map((s) => manifest('acme', 'thermo', s));
    for (const m of releases) gw.release(m, vendorKey);
    gw.report(devKey, reportOf(releases[0], { counter: 1 }));
    for (const [i, m] of releases.slice(1).entries()) {
      gw.update({ device: dev, vendor: 'acme', class: 'thermo', sequence: m.sequence });
      gw.report(devKey, reportOf(releases[i], { counter: 2 * i + 2 }));
      gw.report(devKey, reportOf(m, { counter: 2 * i + 3 }));
      assert.throws(() => gw.update({ device: dev, vendor: 'acme', class: 'thermo', sequence: 1 }));
    }
    const full = new FirmwareState();
    const short = new FirmwareState({ historyLimit: 1 });
    for (const r of gw.records) {
      const opts = { isEnrolled: gw.isEnrolled };
      assert.deepEqual(recheckRecord(short, r, opts), recheckRecord(full, r, opts), `record ${r.index} (${r.type})`);
      assert.deepEqual(recheckRecord(short, r, opts), { ok: true }, `record ${r.index} (${r.type})`);
      full.apply(r.type, r.body, r.index, r.time);
      short.apply(r.type, r.body, r.index, r.time);
    }
    assert.equal(full.device(dev)?.spans.length, 4);
    assert.deepEqual([short.device(dev)?.spans.length, short.device(dev)?.spansOmitted], [1, 3]);
    assert.deepEqual([short.device(dev)?.rejections.length, short.device(dev)?.rejectionsOmitted], [1, 2]);
    assert.deepEqual(short.device(dev)?.running, full.device(dev)?.running);
    assert.throws(
      () => checkUpdate(short, { device: dev, vendor: 'acme', class: 'thermo', sequence: 2 }, { now: gw.time, isEnrolled: gw.isEnrolled }),
      (err: unknown) => isFirmwareRejection(err) && err.details.reason === 'rollback',
    );
  });
});
