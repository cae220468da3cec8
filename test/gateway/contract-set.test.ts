import * as assert from 'node:assert/strict';
import { auditLedger } from '../../lib/audit';
import { generateKey, keyToDid } from '../../lib/crypto';
import { parseTermsList, signContract, subjectMatches, termsHashHex, validateTerms, type Terms } from '../../lib/contracts';
import { isLedgerError, type ErrorCode } from '../../lib/errors';
import { ContractSet, Gateway, type Judged } from '../../lib/gateway';
import { collect, tempDir } from '../support/ledger';

// The Contract node's work without a runtime: loading, the serial queue, the clock, the routing
// of party signatures and pulled documents, and the gateway's list of running contracts.

const party = generateKey('Ed25519');
const other = generateKey('ES256');
const sensor = keyToDid(generateKey('Ed25519'));
const T0 = Date.UTC(2026, 10, 25, 10);

function termsFor(id: string, extra: Record<string, unknown> = {}): Terms {
  return validateTerms({
    id,
    version: 1,
    title: `${id} below -20`,
    subjects: 'any',
    metric: 'temperature',
    rule: { op: '<', limit: -20 },
    alarm: { mode: 'instant' },
    parties: [keyToDid(party)],
    ...extra,
  });
}

const fails = (code: ErrorCode) => (e: unknown) => isLedgerError(e, code);

describe('gateway: ContractSet runs a host\'s contracts on a gateway', function () {
  this.timeout(20000);
  let tmp: ReturnType<typeof tempDir>;
  let gw: Gateway;
  const open = () => Promise.resolve(gw);

  beforeEach(async () => {
    tmp = tempDir();
    gw = await Gateway.open(tmp.dir, { name: 'contract-set', gatewayKey: generateKey('Ed25519'), blockRecords: 100, blockSeconds: 0 });
  });
  afterEach(async () => {
    await gw.close();
    tmp.cleanup();
  });

  it('lists its contracts on the gateway while it runs, and takes them off when closed', async () => {
    const a = termsFor('room-a');
    const b = termsFor('room-b');
    const set = new ContractSet(open, () => [a, b]);
    const list = await set.ready;
    assert.deepEqual(list.map((r) => r.terms.id), ['room-a', 'room-b']);
    assert.deepEqual(gw.contractViews().map((v) => v.termsHash), [termsHashHex(a), termsHashHex(b)]);
    assert.equal(gw.contractView(termsHashHex(a))?.active, false);
    // A second set with the same terms takes the entry over; the first one closing leaves it.
    const again = new ContractSet(open, () => [a]);
    await again.ready;
    await set.close();
    assert.deepEqual(gw.contractViews().map((v) => v.id), ['room-a']);
    await again.close();
    assert.deepEqual(gw.contractViews(), []);
  });

  it('a set closed while loading never lists its contracts', async () => {
    let release!: (g: Gateway) => void;
    const set = new ContractSet(() => new Promise<Gateway>((r) => (release = r)), () => [termsFor('late')]);
    const closed = set.close();
    release(gw);
    await closed;
    assert.equal((await set.ready).length, 1);
    assert.deepEqual(gw.contractViews(), []);
  });

  it('terms that do not parse reject ready and every input with ERR_INVALID_TERMS', async () => {
    const set = new ContractSet(open, () => parseTermsList('{"id":'));
    await assert.rejects(set.ready, fails('ERR_INVALID_TERMS'));
    await assert.rejects(set.reading({ temperature: -25 }, undefined), fails('ERR_INVALID_TERMS'));
    await set.close();
    assert.throws(() => parseTermsList('[]'), fails('ERR_INVALID_TERMS'));
    assert.deepEqual(parseTermsList(JSON.stringify(termsFor('one'))).map((t) => t.id), ['one']);
  });

  it('judges readings in the order they came, with the contracts whose subjects match', async () => {
    const any = termsFor('any');
    const named = termsFor('named', { subjects: ['freezer-2', sensor] });
    const set = new ContractSet(open, () => [any, named]);
    // Inactive contracts judge nothing.
    assert.deepEqual(await set.reading({ temperature: -25 }, { id: sensor }), []);
    for (const t of [any, named]) await set.sign(signContract(t, party), { contract: t.id });

    // Not awaited one by one: the queue keeps them in call order all the same, each judged on
    // the state the one before left (one excursion, not one per reading above the limit).
    const values = [-25, -18, -17, -18, -25, -26, -19, -25];
    const all = await Promise.all(values.map((v, i) => set.reading({ temperature: v }, { id: sensor }, { now: T0 + i * 1000 })));
    const recorded = (await collect(gw.ledger.byType('contract.reading')))
      .map((r) => r.record.body as { contract: string; input: { value: number } })
      .filter((b) => b.contract === 'named')
      .map((b) => b.input.value);
    assert.deepEqual(recorded, values);
    const types = (j: Judged[]) => j.map((x) => [x.runner.terms.id, x.events.map((e) => e.type).join(' ')]);
    const both = (events: string) => [['any', events], ['named', events]];
    assert.deepEqual(all.map(types), [
      both(''),
      both('excursion.started violation'),
      both(''),
      both(''),
      both('excursion.ended compliance.restored'),
      both(''),
      both('excursion.started violation'),
      both('excursion.ended compliance.restored'),
    ]);

    const byName = await set.reading({ temperature: -25 }, { name: 'freezer-2' }, { now: T0 + 20_000 });
    assert.deepEqual(byName.map((j) => j.runner.terms.id), ['any', 'named']);
    const stranger = await set.reading({ temperature: -25 }, { id: keyToDid(other) }, { now: T0 + 21_000, record: false });
    assert.deepEqual(stranger.map((j) => j.runner.terms.id), ['any']);
    assert.equal(subjectMatches(named, undefined), false);
    assert.equal(subjectMatches(any, undefined), true);
    await set.close();
  });

  it('judges a device the terms name by its enrolled name (not its did:key) as that subject; the audit agrees', async () => {
    const byName = termsFor('by-name', { subjects: ['freezer-3'] });
    const set = new ContractSet(open, () => [byName]);
    await set.sign(signContract(byName, party), { contract: byName.id });
    const source = { id: sensor, name: 'freezer-3' };
    const judged = [];
    for (const [i, v] of [-25, -17, -25].entries()) judged.push(await set.reading({ temperature: v }, source, { now: T0 + i * 1000 }));
    const events = judged.map((j) => j.flatMap((x) => x.events.map((e) => e.type)).join(' '));
    assert.deepEqual(events, ['', 'excursion.started violation', 'excursion.ended compliance.restored']);
    const inputs = (await collect(gw.ledger.byType('contract.reading'))).map((r) => ({
      device: r.record.device,
      input: (r.record.body as { input: { device?: string } }).input.device,
    }));
    assert.deepEqual(inputs, Array.from({ length: 3 }, () => ({ device: sensor, input: 'freezer-3' })));
    await set.close();
    await gw.close();
    const report = await auditLedger(tmp.dir);
    assert.deepEqual(report.findings, []);
  });

  it('a gateway clock that goes back judges a reading at the time already evaluated, as the audit and a restart re-run it', async () => {
    const t = termsFor('clock-back');
    const set = new ContractSet(open, () => [t]);
    await set.sign(signContract(t, party));
    await set.reading({ temperature: -25 }, { id: sensor }, { now: T0 });
    // A tick that causes no event is not recorded: the audit and a restart re-run without it.
    assert.deepEqual(await set.tick(T0 + 20_000), []);
    // The wall clock was set back (NTP, an RTC-less board): the reading comes "before" that tick.
    const judged = await set.reading({ temperature: -25 }, { id: sensor }, { now: T0 + 15_000 });
    assert.deepEqual(judged.flatMap((j) => j.events.map((e) => e.type)), []);
    const times = (await collect(gw.ledger.byType('contract.reading'))).map((r) => (r.record.body as { input: { time: number } }).input.time);
    assert.deepEqual(times, [T0, T0 + 20_000]);
    const live = set.runners[0]?.current();
    await set.close();
    const again = new ContractSet(open, () => [t]);
    assert.deepEqual((await again.ready)[0]?.current(), live, 'a restart rebuilds the same state');
    await again.close();
    await gw.close();
    assert.deepEqual((await auditLedger(tmp.dir)).findings, []);
  });

  it('routes a party signature to the contract it names, else the first; refuses what is not one', async () => {
    const a = termsFor('room-a');
    const b = termsFor('room-b', { parties: [keyToDid(party), keyToDid(other)] });
    const set = new ContractSet(open, () => [a, b]);
    const signedB = await set.sign(signContract(b, other, { format: 'cose' }), { contract: 'room-b', withDocument: true });
    assert.equal(signedB.runner.terms.id, 'room-b');
    assert.deepEqual([...signedB.runner.signed], [keyToDid(other)]);
    assert.equal(signedB.document?.termsHash, termsHashHex(b));
    assert.equal(signedB.document?.signatures.length, 1);
    const first = await set.sign(signContract(a, party));
    assert.equal(first.runner.terms.id, 'room-a');
    assert.equal(first.runner.active, true);
    assert.equal(first.document, undefined);
    await assert.rejects(set.sign(42), fails('ERR_MALFORMED_ENVELOPE'));
    await assert.rejects(set.sign(signContract(a, other), { contract: 'room-a' }), fails('ERR_UNKNOWN_DEVICE'));
    // A signature over other terms does not verify for the contract it is sent to.
    await assert.rejects(set.sign(signContract(a, other), { contract: 'room-b' }), fails('ERR_BAD_SIGNATURE'));
    await set.close();

    const empty = new ContractSet(open);
    await assert.rejects(empty.sign(signContract(a, party)), fails('ERR_NOT_FOUND'));
    await empty.close();
  });

  it('ticks on its clock until closed: a silent sensor is reported once its gap is exceeded', async () => {
    const t = termsFor('gap', { maxGapSeconds: 60 });
    const set = new ContractSet(open, () => [t]);
    await set.sign(signContract(t, party));
    const start = Date.now();
    await set.reading({ temperature: -25 }, undefined, { now: start });
    assert.deepEqual(await set.tick(start + 30_000), []);
    const late = await set.tick(start + 61_000);
    assert.deepEqual(late.map((j) => j.events.map((e) => e.type)), [['data.gap']]);

    // The clock uses the real time; a tick after close would change the counter below. Another
    // set's clock on the same interval ticking three times bounds the wait.
    let ticks = 0;
    await new Promise<void>((resolve, reject) => set.startClock(5, () => (++ticks === 1 ? resolve() : undefined), reject));
    await set.close();
    const after = ticks;
    const witness = new ContractSet(open);
    let witnessed = 0;
    await new Promise<void>((resolve, reject) => witness.startClock(5, () => (++witnessed === 3 ? resolve() : undefined), reject));
    await witness.close();
    assert.equal(ticks, after);
  });

  it('pulls a contract document from another gateway, recording the parties\' signatures it carries', async () => {
    const t = termsFor('shared', { parties: [keyToDid(party), keyToDid(other)] });
    const originTmp = tempDir();
    const originKey = generateKey('Ed25519');
    const origin = await Gateway.open(originTmp.dir, { name: 'origin', gatewayKey: originKey, blockRecords: 100, blockSeconds: 0 });
    try {
      const at = new ContractSet(() => Promise.resolve(origin), () => [t]);
      await at.sign(signContract(t, party));
      const { document } = await at.sign(signContract(t, other), { withDocument: true });
      await at.close();
      const doc = JSON.parse(JSON.stringify(document)) as unknown;

      const set = new ContractSet(open);
      assert.deepEqual(await set.ready, []);
      await assert.rejects(set.pull(doc, ''), fails('ERR_INVALID_ARGUMENT'));
      await assert.rejects(set.pull(doc, keyToDid(generateKey('Ed25519'))), fails('ERR_BAD_SIGNATURE'));
      const pulled = await set.pull(doc, keyToDid(originKey));
      assert.equal(pulled.termsHash, termsHashHex(t));
      assert.equal(pulled.runner.active, true);
      assert.deepEqual(set.runners.map((r) => r.terms.id), ['shared']);
      assert.equal(gw.contractView(termsHashHex(t))?.active, true);
      // Pulled again: the same runner, no signature recorded twice.
      const again = await set.pull(doc, keyToDid(originKey));
      assert.equal(again.runner, pulled.runner);
      assert.equal((await collect(gw.ledger.byType('contract.sign'))).length, 2);
      await set.close();
    } finally {
      await origin.close();
      originTmp.cleanup();
    }
  });
});
