import * as assert from 'node:assert/strict';
import { auditLedger } from '../../lib/audit';
import { generateKey, keyToDid, type PrivateKey } from '../../lib/crypto';
import { contractDocument, signContract, termsHashHex, type Terms } from '../../lib/contracts';
import { ContractRunner, ContractSet, Gateway } from '../../lib/gateway';
import { belowTerms } from '../support/contract-terms';
import { tempDir } from '../support/ledger';

// A contract every party signed stays binding on a pulling gateway until a newer version of it is
// signed by every party too. The origin publishes a document after each signature, so a newer
// version that only some parties (or none) signed reaches pullers: it must not end the old one.

const carrier = generateKey('Ed25519');
const shipper = generateKey('Ed25519');
const T0 = Date.UTC(2026, 10, 25, 10);

const termsFor = (version: number, limit: number): Terms => belowTerms('cold-chain', version, limit, [carrier, shipper]);

describe('gateway: a pulled newer version not signed by every party leaves the signed one running', function () {
  this.timeout(30000);
  const originKey: PrivateKey = generateKey('Ed25519');
  const originTmp = tempDir();
  const v1 = termsFor(1, -20);
  const v2 = termsFor(2, 0);
  const docs: Record<'v1carrier' | 'v1' | 'v2carrier' | 'v2all', unknown> = { v1carrier: null, v1: null, v2carrier: null, v2all: null };
  let tmp: ReturnType<typeof tempDir>;
  let gw: Gateway;
  const open = () => Promise.resolve(gw);
  const pullerKey: PrivateKey = generateKey('Ed25519');
  const openPuller = () => Gateway.open(tmp.dir, { name: 'puller', gatewayKey: pullerKey, blockRecords: 4, blockSeconds: 0 });
  const origin = keyToDid(originKey);

  before(async () => {
    const gwo = await Gateway.open(originTmp.dir, { name: 'origin', gatewayKey: originKey, blockRecords: 100, blockSeconds: 0 });
    try {
      const copy = async (t: Terms): Promise<unknown> => JSON.parse(JSON.stringify(await contractDocument(gwo.ledger, termsHashHex(t)))) as unknown;
      const r1 = await ContractRunner.load(gwo, v1);
      await r1.sign(signContract(v1, carrier));
      docs.v1carrier = await copy(v1);
      await r1.sign(signContract(v1, shipper));
      docs.v1 = await copy(v1);
      // The carrier wants laxer terms: it has the origin register version 2 and signs it alone.
      const r2 = await ContractRunner.load(gwo, v2);
      await r2.sign(signContract(v2, carrier));
      docs.v2carrier = await copy(v2);
      await r2.sign(signContract(v2, shipper));
      docs.v2all = await copy(v2);
    } finally {
      await gwo.close();
    }
  });
  after(() => originTmp.cleanup());
  beforeEach(async () => {
    tmp = tempDir();
    gw = await openPuller();
  });
  afterEach(async () => {
    await gw.close();
    tmp.cleanup();
  });

  /** The versions that judged a reading of -10 (an excursion under version 1, compliant under version 2), with their events. */
  const judge = async (set: ContractSet, at: number): Promise<string[]> =>
    (await set.reading({ temperature: -10 }, { id: keyToDid(generateKey('Ed25519')) }, { now: at })).map(
      (j) => `v${j.runner.terms.version}:${j.events.map((e) => e.type).join(' ')}`,
    );

  it('keeps judging by version 1 while version 2 lacks a party, and by version 2 alone once every party signed it', async () => {
    const set = new ContractSet(open);
    assert.equal((await set.pull(docs.v1, origin)).runner.active, true);
    const pulled = await set.pull(docs.v2carrier, origin);
    assert.equal(pulled.runner.active, false);
    assert.deepEqual(await judge(set, T0), ['v1:excursion.started violation'], 'version 1 still binds the carrier');
    await set.pull(docs.v2all, origin);
    assert.deepEqual(await judge(set, T0 + 1000), ['v2:'], 'version 2, signed by every party, replaces version 1');
    assert.deepEqual(set.runners.map((r) => r.terms.version), [2]);
    await set.close();
    await gw.close();
    // Each version's verdicts re-run from the readings recorded under it.
    assert.deepEqual((await auditLedger(tmp.dir)).findings, []);
    gw = await openPuller();
  });

  it('a party signature naming the contract id goes to the version that still lacks it, not to the signed one', async () => {
    const set = new ContractSet(open);
    await set.pull(docs.v1, origin);
    await set.pull(docs.v2carrier, origin);
    const { runner } = await set.sign(signContract(v2, shipper), { contract: 'cold-chain' });
    assert.equal(runner.terms.version, 2);
    assert.equal(runner.active, true);
    assert.deepEqual(await judge(set, T0), ['v2:']);
    await set.close();
  });

  it('a version 1 every party signed that the puller missed (it saw version 1 half signed, then version 2) runs once its document comes', async () => {
    const set = new ContractSet(open);
    await set.pull(docs.v1carrier, origin);
    await set.pull(docs.v2carrier, origin);
    assert.deepEqual(await judge(set, T0), [], 'nothing every party signed yet');
    const pulled = await set.pull(docs.v1, origin);
    assert.deepEqual([pulled.runner.terms.version, pulled.runner.active], [1, true]);
    assert.deepEqual(set.runners.map((r) => `${r.terms.version}:${r.active}`), ['1:true', '2:false']);
    assert.deepEqual(await judge(set, T0 + 1000), ['v1:excursion.started violation']);
    // Once version 2 is signed by every party, version 1 is a replay again.
    await set.pull(docs.v2all, origin);
    assert.deepEqual(set.runners.map((r) => r.terms.version), [2]);
    await assert.rejects(set.pull(docs.v1, origin), { code: 'ERR_REPLAY' });
    assert.deepEqual(set.runners.map((r) => r.terms.version), [2]);
    await set.close();
    await gw.close();
    assert.deepEqual((await auditLedger(tmp.dir)).findings, []);
    gw = await openPuller();
  });

  it('a signed version 1 never seen before version 2 runs beside it; after a restart, version 2 signed by every party on the ledger refuses it', async () => {
    const first = new ContractSet(open);
    await first.pull(docs.v2carrier, origin);
    assert.equal((await first.pull(docs.v1, origin)).runner.active, true);
    assert.deepEqual(await judge(first, T0), ['v1:excursion.started violation']);
    await first.pull(docs.v2all, origin);
    await first.close();
    await gw.close();
    gw = await openPuller();

    const set = new ContractSet(open);
    await assert.rejects(set.pull(docs.v1, origin), { code: 'ERR_REPLAY' });
    await assert.rejects(set.pull(docs.v1, origin), { code: 'ERR_REPLAY' });
    assert.deepEqual(set.runners, []);
    await set.close();
  });

  it('after a restart, the unsigned version 2 brings back version 1 from the ledger (version 1 itself is stale now)', async () => {
    const first = new ContractSet(open);
    await first.pull(docs.v1, origin);
    await first.pull(docs.v2carrier, origin);
    assert.deepEqual(await judge(first, T0), ['v1:excursion.started violation']);
    await first.close();
    await gw.close();
    gw = await openPuller();

    const set = new ContractSet(open);
    await set.pull(docs.v2carrier, origin);
    // The excursion version 1 saw before the restart goes on: no second start, no second violation.
    assert.deepEqual(await judge(set, T0 + 1000), ['v1:']);
    // In the order they ran before the restart: the Contract node shows the first one's status.
    assert.deepEqual(set.runners.map((r) => `${r.terms.version}:${r.active}`), ['1:true', '2:false']);
    await set.close();
  });
});
