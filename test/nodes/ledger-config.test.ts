import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { isLedgerError } from '../../lib/errors';
import { MAX_BLOCK_RECORDS } from '../../lib/ledger';
import { ledgerExists } from '../../lib/ledger/lock';
import type { LedgerConfigNode } from '../../nodes/lib/ledger-config';
import { tempDir } from '../support/ledger';
import { helper, ledgerNode, packNodes, startTestRuntime, stopTestRuntime } from './support';

describe('Ledger config: Block size', function () {
  this.timeout(30000);
  let userDir: string;
  const tmp = tempDir('ledger-config-');
  before((done) => {
    userDir = startTestRuntime(done);
  });
  after((done) => {
    tmp.cleanup();
    stopTestRuntime(userDir, done);
  });
  afterEach(() => helper.unload());

  it(`a Block size above ${MAX_BLOCK_RECORDS} (more than a replica takes) is refused with ERR_INVALID_ARGUMENT naming the range`, async () => {
    const dir = path.join(tmp.dir, 'too-large');
    await helper.load(packNodes(), [ledgerNode('ledger', { dir, blockRecords: MAX_BLOCK_RECORDS + 1 })]);
    const config = helper.getNode('ledger') as unknown as LedgerConfigNode & { error: (m: unknown) => void };
    const logged: string[] = [];
    config.error = (m: unknown) => void logged.push(String(m));
    await assert.rejects(config.gateway(), (err: unknown) => {
      assert.ok(isLedgerError(err, 'ERR_INVALID_ARGUMENT'), String(err));
      assert.match(err.message, new RegExp(`blockRecords .*from 1 to ${MAX_BLOCK_RECORDS}`));
      return true;
    });
    assert.equal(ledgerExists(dir), false, 'no ledger created');
    assert.equal(logged.length, 1);
    assert.match(logged[0] ?? '', new RegExp(`from 1 to ${MAX_BLOCK_RECORDS}`));
  });

  it(`a Block size of ${MAX_BLOCK_RECORDS} opens`, async () => {
    await helper.load(packNodes(), [ledgerNode('ledger', { dir: path.join(tmp.dir, 'largest'), blockRecords: MAX_BLOCK_RECORDS })]);
    const gw = await (helper.getNode('ledger') as unknown as LedgerConfigNode).gateway();
    const [r] = await gw.ledger.appendMany([{ type: 'note', body: { i: 0 } }]);
    assert.equal(r?.block, 0);
  });
});
