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

  it('two Ledger nodes publishing tiles under one name for two directories: the one deployed second warns that it takes the name over', async () => {
    // Node-RED's test helper spies on warn() once for all nodes: each call's `this` says whose it was.
    const warnings = (id: string) => {
      const node = helper.getNode(id) as unknown as { warn: { args: unknown[][]; thisValues: unknown[] } };
      return node.warn.args.filter((_, i) => node.warn.thisValues[i] === node).map((x) => String(x[0]));
    };
    const dirs = { first: path.join(tmp.dir, 'room-a'), second: path.join(tmp.dir, 'room-b') };
    await helper.load(packNodes(), [
      ledgerNode('first', { dir: dirs.first, ledgerName: 'shared-name', publishTiles: true }),
      ledgerNode('second', { dir: dirs.second, ledgerName: 'shared-name', publishTiles: true }),
    ]);
    const warned = (['first', 'second'] as const).flatMap((id) => warnings(id).map((w) => ({ id, w })));
    assert.equal(warned.length, 1, JSON.stringify(warned));
    const other = warned[0].id === 'first' ? dirs.second : dirs.first;
    assert.ok(warned[0].w.includes(`another Ledger node publishes a ledger named "shared-name" (in ${other})`), warned[0].w);
    await helper.unload();
    // The same directory twice is the same ledger: nothing to warn about.
    await helper.load(packNodes(), [
      ledgerNode('first', { dir: dirs.second, ledgerName: 'shared-name', publishTiles: true }),
      ledgerNode('second', { dir: dirs.second, ledgerName: 'shared-name', publishTiles: true }),
    ]);
    assert.deepEqual([...warnings('first'), ...warnings('second')], []);
  });
  it('Tiles over MQTT with a login in the URL: refused, the error naming the login fields and not echoing the password', async () => {
    await helper.load(packNodes(), [ledgerNode('ledger', { dir: path.join(tmp.dir, 'login-url'), tilesMqtt: 'mqtt://tiles:hunter2@127.0.0.1:1/tiles' })]);
    const config = helper.getNode('ledger') as unknown as { error: { args: unknown[][] } };
    const errors = config.error.args.map((a) => String(a[0]));
    assert.ok(errors.some((e) => e.includes('user name and password fields')), `errors: ${errors.join(' | ')}`);
    assert.ok(!errors.some((e) => e.includes('hunter2')), `errors: ${errors.join(' | ')}`);
    await helper.unload();
    await helper.load(packNodes(), [ledgerNode('ledger', { dir: path.join(tmp.dir, 'login-url'), tilesMqtt: 'mqtt://tiles:hunter2@[not a host/tiles' })]);
    const unreadable = (helper.getNode('ledger') as unknown as { error: { args: unknown[][] } }).error.args.map((a) => String(a[0]));
    assert.ok(unreadable.some((e) => e.includes('needs mqtt://host:port')), `errors: ${unreadable.join(' | ')}`);
    assert.ok(!unreadable.some((e) => e.includes('hunter2')), `errors: ${unreadable.join(' | ')}`);
  });
});
