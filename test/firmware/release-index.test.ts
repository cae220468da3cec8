// FirmwareState.releasesFor is what checkReport asks for each report (the gateway's check and
// the audit's re-check alike). It used to filter every registered release, so R releases and N
// reports cost R x N; it now reads the releases of the report's class and sequence from an
// index. These tests count the release entries looked at per report and check that the index
// answers exactly what the old filter did, in the same order.
import * as assert from 'node:assert/strict';
import * as fc from 'fast-check';
import { keyToDid } from '../../lib/crypto';
import { checkReport, createReport, FirmwareState, recheckRecord, type Release } from '../../lib/firmware';
import { imageDigest, key, T0 } from './fixtures';

const ENVELOPE_DIGEST = 'ab'.repeat(32);

function releaseBody(vendor: string, cls: string, sequence: number, variant = 0): unknown {
  return {
    manifest: { vendor, class: cls, version: `1.${sequence}.${variant}`, sequence, digest: imageDigest(`${vendor}/${cls}/${sequence}/${variant}`), size: 1000 + sequence },
    signer: `did:key:z-${vendor}`,
    envelopeDigest: ENVELOPE_DIGEST,
    at: T0,
  };
}

/** A Map that counts the entries handed out: one per get/has, one per entry iterated. */
class CountingMap<K, V> extends Map<K, V> {
  examined = 0;
  override get(k: K): V | undefined {
    this.examined++;
    return super.get(k);
  }
  override has(k: K): boolean {
    this.examined++;
    return super.has(k);
  }
  override *entries(): MapIterator<[K, V]> {
    for (const e of super.entries()) {
      this.examined++;
      yield e;
    }
  }
  override *values(): MapIterator<V> {
    for (const [, v] of this.entries()) yield v;
  }
  override *keys(): MapIterator<K> {
    for (const [k] of this.entries()) yield k;
  }
  override [Symbol.iterator](): MapIterator<[K, V]> {
    return this.entries();
  }
  override forEach(fn: (v: V, k: K, m: Map<K, V>) => void, self?: unknown): void {
    for (const [k, v] of this.entries()) fn.call(self, v, k, this);
  }
}

/** Puts a counting copy (same entries, same order) in place of the state's release map. */
function countReleaseReads(state: FirmwareState): CountingMap<string, Release> {
  const data = (state as unknown as { data: { releases: Map<string, Release> } }).data;
  const counting = new CountingMap<string, Release>(data.releases);
  counting.examined = 0;
  data.releases = counting;
  return counting;
}

/**
 * R releases of other classes and sequences, plus the two (of two vendors) that the reports
 * run; then N signed reports naming no vendor, each checked as the gateway does and re-checked
 * as the audit does. Returns the release entries examined per report.
 */
function examinedPerReport(otherReleases: number, reports: number): number[] {
  const state = new FirmwareState();
  let index = 0;
  const time = () => T0 + index * 1000;
  const apply = (type: string, body: unknown) => {
    state.apply(type, body, index, time());
    index++;
  };
  apply('firmware.release', releaseBody('acme', 'thermo', 7));
  // Half of the same sequence in another class (each of its own vendor), half of the same class at other sequences.
  for (let i = 0; i < otherReleases; i++) apply('firmware.release', i % 2 === 0 ? releaseBody(`v${i}`, 'valve', 7) : releaseBody(`v${i % 7}`, 'thermo', 8 + i));
  apply('firmware.release', releaseBody('other', 'thermo', 7));
  assert.equal(state.releases().length, otherReleases + 2);

  const counting = countReleaseReads(state);
  const deviceKey = key('release-index-device');
  const did = keyToDid(deviceKey);
  const isEnrolled = () => true;
  const perReport: number[] = [];
  for (let n = 0; n < reports; n++) {
    const env = createReport({ class: 'thermo', version: '1.7.0', sequence: 7, digest: imageDigest('acme/thermo/7/0'), counter: n + 1 }, deviceKey);
    const before = counting.examined;
    const body = checkReport(state, env, did, { now: time(), isEnrolled });
    assert.equal(body.vendor, 'acme');
    assert.equal(body.release, 0);
    const r = recheckRecord(state, { type: 'firmware.report', time: time(), body, envelope: env }, { isEnrolled });
    assert.ok(r.ok, r.message);
    perReport.push(counting.examined - before);
    apply('firmware.report', body);
  }
  return perReport;
}

describe('firmware release index', () => {
  it('a report examines the releases of its class and sequence only, however many others are stored', () => {
    const reports = 20;
    const small = examinedPerReport(0, reports);
    const large = examinedPerReport(5000, reports);
    // First report: no vendor known, both releases of thermo/7 looked at, twice (check, re-check);
    // later ones: the device's vendor is known, one lookup each.
    for (const n of large) assert.ok(n <= 4, `a report examined ${n} release entries with 5002 stored`);
    assert.deepEqual(large, small);
    assert.ok(large.reduce((a, b) => a + b, 0) <= 4 * reports);
  });

  it('releasesFor without a vendor examines its matches only', () => {
    const state = new FirmwareState();
    for (let i = 0; i < 5000; i++) state.apply('firmware.release', releaseBody(`v${i % 5}`, `c${i % 50}`, 100 + i), i, T0 + i);
    state.apply('firmware.release', releaseBody('a', 'thermo', 3), 5000, T0 + 5000);
    state.apply('firmware.release', releaseBody('b', 'thermo', 3), 5001, T0 + 5001);
    const counting = countReleaseReads(state);
    const found = state.releasesFor('thermo', 3);
    assert.deepEqual(
      found.map((r) => r.vendor),
      ['a', 'b'],
    );
    assert.ok(counting.examined <= 2, `examined ${counting.examined} of 5002 release entries`);
    counting.examined = 0;
    assert.deepEqual(state.releasesFor('thermo', 4), []);
    assert.equal(counting.examined, 0, `examined ${counting.examined} entries for a class and sequence with no release`);
  });

  it('gives exactly what filtering every release gave, in the same order, on random states and their clones', () => {
    const VENDORS = ['acme', 'beta', 'gamma'];
    const CLASSES = ['thermo', 'valve', 'meter'];
    const reg = fc.record({ vendor: fc.nat(2), cls: fc.nat(2), seq: fc.nat(4), variant: fc.nat(2) });
    fc.assert(
      fc.property(fc.array(reg, { maxLength: 60 }), fc.array(reg, { maxLength: 20 }), (regs, more) => {
        const state = new FirmwareState();
        // What the records say: releases in the order first registered, each the last registered.
        const model = new Map<string, { vendor: string; cls: string; seq: number; variant: number; index: number }>();
        let index = 0;
        const register = (s: FirmwareState, m: typeof model, r: { vendor: number; cls: number; seq: number; variant: number }) => {
          const vendor = VENDORS[r.vendor];
          const cls = CLASSES[r.cls];
          s.apply('firmware.release', releaseBody(vendor, cls, r.seq, r.variant), index, T0 + index);
          m.set(JSON.stringify([vendor, cls, r.seq]), { vendor, cls, seq: r.seq, variant: r.variant, index });
          index++;
        };
        const check = (s: FirmwareState, m: typeof model) => {
          let total = 0;
          for (const cls of [...CLASSES, 'other']) {
            for (let seq = 0; seq <= 5; seq++) {
              const got = s.releasesFor(cls, seq);
              total += got.length;
              // The old code: every registered release, filtered.
              const linear = s.releases().filter((r) => r.class === cls && r.sequence === seq);
              assert.equal(got.length, linear.length);
              got.forEach((r, i) => assert.equal(r, linear[i]));
              const expected = [...m.values()].filter((x) => x.cls === cls && x.seq === seq);
              assert.deepEqual(
                got.map((r) => [r.vendor, r.version, r.registered.index]),
                expected.map((x) => [x.vendor, `1.${x.seq}.${x.variant}`, x.index]),
              );
              for (const vendor of VENDORS) {
                const one = s.releasesFor(cls, seq, vendor);
                assert.deepEqual(one, linear.filter((r) => r.vendor === vendor));
              }
            }
          }
          // Each release is indexed once.
          assert.equal(total, s.releases().length);
        };
        for (const r of regs) register(state, model, r);
        check(state, model);
        // A clone carries its own index: registering in it leaves the original as it was.
        const copy = state.clone();
        const copyModel = new Map(model);
        for (const r of more) register(copy, copyModel, r);
        check(copy, copyModel);
        check(state, model);
      }),
      { numRuns: 200 },
    );
  });
});
