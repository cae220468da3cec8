import * as assert from 'node:assert/strict';
import { generateKey, keyToDid, type PrivateKey } from '../../lib/crypto';
import { CONTRACT_REGISTER, CONTRACT_SIGN, signContract, termsHashHex, type Terms } from '../../lib/contracts';
import { isLedgerError, type ErrorCode } from '../../lib/errors';
import { ContractSet, Gateway } from '../../lib/gateway';
import { belowTerms } from '../support/contract-terms';
import { tempDir } from '../support/ledger';

// A pulling gateway checks each contract document against the highest version registered on its
// own ledger. Anyone on the broker can send a validly signed old document again and again: the
// check reads the ledger's registrations once, not once per document (it used to scan every
// contract.register record through the block summaries for each copy).

const party = generateKey('Ed25519');
const N = 25;

const termsFor = (version: number, limit = -20): Terms => belowTerms('cold-room', version, limit, [party]);

const fails = (code: ErrorCode) => (e: unknown) => isLedgerError(e, code);

/** Counts the ledger's record scans (byType, by type asked for) from now on. */
function countScans(gw: Gateway): Map<string, number> {
  const counts = new Map<string, number>();
  const ledger = gw.ledger;
  const byType = ledger.byType.bind(ledger);
  ledger.byType = (type, opts) => {
    counts.set(type, (counts.get(type) ?? 0) + 1);
    return byType(type, opts);
  };
  return counts;
}
const total = (counts: Map<string, number>): number => [...counts.values()].reduce((a, b) => a + b, 0);

describe('gateway: pulled contract documents are checked against the registered versions in memory', function () {
  this.timeout(30000);
  const originKey: PrivateKey = generateKey('Ed25519');
  const pullerKey: PrivateKey = generateKey('Ed25519');
  const originTmp = tempDir();
  const docs: Record<'v1' | 'v2' | 'v2other' | 'v3' | 'v3other', unknown> = { v1: null, v2: null, v2other: null, v3: null, v3other: null };
  let tmp: ReturnType<typeof tempDir>;
  let gw: Gateway;
  const open = () => Promise.resolve(gw);
  const openPuller = () => Gateway.open(tmp.dir, { name: 'puller', gatewayKey: pullerKey, blockRecords: 4, blockSeconds: 0 });

  before(async () => {
    // The origin signed documents of one contract id: versions 1, 2 and 3, and other terms under versions 2 and 3.
    const origin = await Gateway.open(originTmp.dir, { name: 'origin', gatewayKey: originKey, blockRecords: 100, blockSeconds: 0 });
    try {
      const documentOf = async (t: Terms): Promise<unknown> => {
        const at = new ContractSet(() => Promise.resolve(origin), () => [t]);
        const { document } = await at.sign(signContract(t, party), { withDocument: true });
        await at.close();
        return JSON.parse(JSON.stringify(document)) as unknown;
      };
      docs.v1 = await documentOf(termsFor(1));
      docs.v2 = await documentOf(termsFor(2));
      docs.v2other = await documentOf(termsFor(2, -25));
      docs.v3 = await documentOf(termsFor(3));
      docs.v3other = await documentOf(termsFor(3, -30));
    } finally {
      await origin.close();
    }
  });
  after(() => originTmp.cleanup());

  beforeEach(async () => {
    tmp = tempDir();
    gw = await openPuller();
    // Other records in many blocks, so that a scan of the registrations has blocks to go through.
    for (let i = 0; i < 40; i++) await gw.record({ type: 'note', body: { i } });
  });
  afterEach(async () => {
    await gw.close();
    tmp.cleanup();
  });

  it(`${N} copies of a stale document and of conflicting terms read the ledger no more than one does`, async () => {
    const origin = keyToDid(originKey);
    const set = new ContractSet(open);
    assert.equal((await set.pull(docs.v2, origin)).termsHash, termsHashHex(termsFor(2)));

    const scans = countScans(gw);
    await assert.rejects(set.pull(docs.v1, origin), fails('ERR_REPLAY'));
    await assert.rejects(set.pull(docs.v2other, origin), fails('ERR_CONTRACT_CONFLICT'));
    await set.pull(docs.v2, origin);
    const once = total(scans);
    for (let i = 0; i < N; i++) {
      await assert.rejects(set.pull(docs.v1, origin), fails('ERR_REPLAY'));
      await assert.rejects(set.pull(docs.v2other, origin), fails('ERR_CONTRACT_CONFLICT'));
      await set.pull(docs.v2, origin);
    }
    assert.equal(total(scans), once, `${N} more copies of each document read the ledger ${total(scans) - once} times more`);
    assert.equal(scans.get(CONTRACT_REGISTER) ?? 0, 0, 'the registered versions were known since the first pull');
    assert.deepEqual(set.runners.map((r) => r.terms.version), [2]);
    await set.close();
  });

  it('after a restart the registrations are read back once, then every copy is checked from memory', async () => {
    const origin = keyToDid(originKey);
    const first = new ContractSet(open);
    await first.pull(docs.v1, origin);
    await first.pull(docs.v2, origin);
    await first.close();
    await gw.close();
    gw = await openPuller();

    const scans = countScans(gw);
    const set = new ContractSet(open);
    for (let i = 0; i < N; i++) {
      await assert.rejects(set.pull(docs.v1, origin), fails('ERR_REPLAY'));
      await assert.rejects(set.pull(docs.v2other, origin), fails('ERR_CONTRACT_CONFLICT'));
    }
    // One read of the registrations, not one per document; and, since every party signed version 1,
    // one check (registrations and signatures) that a version at least as new is signed here, not one per copy.
    assert.equal(scans.get(CONTRACT_REGISTER), 2, 'one read of the registrations, one check of the signed version 1, not one per document');
    assert.equal(scans.get(CONTRACT_SIGN), 1);
    assert.equal(total(scans), 3);
    await set.close();
  });

  it('a version this gateway registers later (another Contract node on the ledger) is current from then on', async () => {
    const origin = keyToDid(originKey);
    const puller = new ContractSet(open);
    await puller.pull(docs.v1, origin);
    // Typed-in terms of version 3 on another node of this gateway: the pulled version 2 is stale now.
    // (Signed by the party: a version 2 every party signed would otherwise bind until version 3 is.)
    const typed = new ContractSet(open, () => [termsFor(3)]);
    await typed.ready;
    await typed.sign(signContract(termsFor(3), party));
    await assert.rejects(puller.pull(docs.v2, origin), fails('ERR_REPLAY'));
    assert.equal((await puller.pull(docs.v3, origin)).termsHash, termsHashHex(termsFor(3)));
    // Other terms under version 3, registered later here, are the current ones (the later registration counts).
    const again = new ContractSet(open, () => [termsFor(3, -30)]);
    await again.ready;
    await assert.rejects(puller.pull(docs.v3, origin), fails('ERR_CONTRACT_CONFLICT'));
    assert.equal((await puller.pull(docs.v3other, origin)).termsHash, termsHashHex(termsFor(3, -30)));
    await Promise.all([puller.close(), typed.close(), again.close()]);
  });
});
