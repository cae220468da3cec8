import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { MAX_BLOCK_RECORDS } from '../../lib/ledger';
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

  it(`a Block size above ${MAX_BLOCK_RECORDS} (more than a replica takes), saved in an older flow, records in blocks of ${MAX_BLOCK_RECORDS} with a warning`, async () => {
    const dir = path.join(tmp.dir, 'too-large');
    await helper.load(packNodes(), [ledgerNode('ledger', { dir, blockRecords: MAX_BLOCK_RECORDS + 1 })]);
    const config = helper.getNode('ledger') as unknown as LedgerConfigNode;
    const warned = (config as unknown as { warn: { args: unknown[][] } }).warn.args.map((a) => String(a[0]));
    assert.ok(warned.some((w) => w.includes(`more than ${MAX_BLOCK_RECORDS}`)), `warnings: ${warned.join(' | ')}`);
    const gw = await config.gateway();
    const receipts = await gw.ledger.appendMany(Array.from({ length: MAX_BLOCK_RECORDS + 1 }, (_, i) => ({ type: 'note', body: { i } })));
    assert.equal(receipts[MAX_BLOCK_RECORDS - 1]?.block, 0);
    assert.equal(receipts[MAX_BLOCK_RECORDS]?.block, 1, 'the block was sealed at the bound');
  });

  it(`a Block size of ${MAX_BLOCK_RECORDS} opens`, async () => {
    await helper.load(packNodes(), [ledgerNode('ledger', { dir: path.join(tmp.dir, 'largest'), blockRecords: MAX_BLOCK_RECORDS })]);
    const gw = await (helper.getNode('ledger') as unknown as LedgerConfigNode).gateway();
    const [r] = await gw.ledger.appendMany([{ type: 'note', body: { i: 0 } }]);
    assert.equal(r?.block, 0);
  });
});
