import * as assert from 'node:assert/strict';
import { generateKey, keyToDid } from '../../lib/crypto';
import { signContract, validateTerms } from '../../lib/contracts';
import { isLedgerError } from '../../lib/errors';
import { ContractSet, Gateway } from '../../lib/gateway';
import { tempDir } from '../support/ledger';

// A party's signature is public (every contract document carries it), and the cold-room
// example takes signatures from an MQTT topic: anyone who can publish there can send it again.
// It is recorded once; a copy is refused, also after a restart, and writes nothing.

describe('contracts: a party signature sent again is not recorded again', () => {
  const a = generateKey('Ed25519');
  const b = generateKey('ES256');
  const t = validateTerms({
    id: 'room-7',
    version: 1,
    title: 'below -20',
    subjects: 'any',
    metric: 'temperature',
    rule: { op: '<', limit: -20 },
    alarm: { mode: 'instant' },
    parties: [keyToDid(a), keyToDid(b)],
  });
  const gatewayKey = generateKey('Ed25519');
  let tmp: ReturnType<typeof tempDir>;

  beforeEach(() => {
    tmp = tempDir();
  });
  afterEach(() => tmp.cleanup());

  const open = () => Gateway.open(tmp.dir, { name: 'sign-replay', gatewayKey, blockRecords: 100, blockSeconds: 0 });
  const replayed = (err: unknown) => isLedgerError(err, 'ERR_REPLAY');

  it('refuses a copy with ERR_REPLAY and leaves the ledger as it was', async () => {
    let gw = await open();
    let set = new ContractSet(() => Promise.resolve(gw), () => [t]);
    const sigA = signContract(t, a);
    await set.sign(sigA);
    const size = gw.ledger.size;
    for (let i = 0; i < 5; i++) await assert.rejects(set.sign(sigA), replayed);
    // Another signature by the same party (a new envelope over the same terms) is a copy too.
    await assert.rejects(set.sign(signContract(t, a, { format: 'cose' })), replayed);
    assert.equal(gw.ledger.size, size);
    await set.close();
    await gw.close();

    gw = await open();
    set = new ContractSet(() => Promise.resolve(gw), () => [t]);
    await assert.rejects(set.sign(sigA), replayed);
    assert.equal(gw.ledger.size, size);
    // The other party still signs, once.
    await set.sign(signContract(t, b));
    assert.equal(gw.ledger.size, size + 1);
    assert.equal(set.runners[0]?.active, true);
    await set.close();
    await gw.close();
  });
});
