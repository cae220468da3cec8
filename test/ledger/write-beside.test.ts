import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { isLedgerError } from '../../lib/errors';
import { Ledger } from '../../lib/ledger';
import { cosignedEntry, readCosigned, readWitnessSize, witnessSizeEntry } from '../../lib/witness/ledger-cosignatures';
import { gatewayKey, tempDir } from '../support/ledger';
import { countWrites } from '../support/write-count';

describe('Ledger.writeBeside (witness entries)', () => {
  let tmp: ReturnType<typeof tempDir>;
  let dir: string;
  let ledger: Ledger;
  beforeEach(async () => {
    tmp = tempDir();
    dir = path.join(tmp.dir, 'ledger');
    ledger = await Ledger.open(dir, { name: 'beside.test', gatewayKey, blockSeconds: 3600 });
  });
  afterEach(async () => {
    if (!ledger.closed) await ledger.close();
    tmp.cleanup();
  });

  it('writes the entries in the same synced write as the appends of its turn, durably', async () => {
    await ledger.append({ type: 'note', body: { i: -1 } });
    const block = await ledger.seal();
    assert.ok(block);
    const counts = countWrites(ledger.database);
    await Promise.all([
      ...Array.from({ length: 5 }, (_, i) => ledger.append({ type: 'note', body: { i } })),
      ledger.writeBeside([cosignedEntry(0, `${block.checkpoint}— w.test abc\n`), witnessSizeEntry('w.test', 1)]),
    ]);
    assert.deepEqual(counts, { batches: 1, puts: 0 });
    await ledger.close();
    ledger = await Ledger.open(dir, { name: 'beside.test', gatewayKey, blockSeconds: 3600 });
    assert.equal(ledger.size, 6);
    assert.equal(await readCosigned(ledger.database, 0), `${block.checkpoint}— w.test abc\n`);
    assert.equal(await readWitnessSize(ledger.database, 'w.test'), 1);
  });

  it('takes only witness entries (keys starting with c or w), and nothing on a read-only ledger', async () => {
    for (const key of [Buffer.from('h'), Buffer.from('r00000000'), Buffer.alloc(0)]) {
      await assert.rejects(ledger.writeBeside([[key, Buffer.of(1)]]), (e: unknown) => isLedgerError(e) && e.code === 'ERR_INVALID_ARGUMENT');
    }
    assert.equal(ledger.size, 0);
    await ledger.close();
    ledger = await Ledger.open(dir, { readOnly: true });
    await assert.rejects(ledger.writeBeside([witnessSizeEntry('w.test', 1)]), (e: unknown) => isLedgerError(e) && e.code === 'ERR_LEDGER_READ_ONLY');
  });
});
