import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { auditLedger } from '../../lib/audit';
import { generateKey, keyToDid } from '../../lib/crypto';
import { Ledger, MAX_BLOCK_RECORDS } from '../../lib/ledger';
import { DEFAULT_MAX_BLOCK_BYTES, DEFAULT_MAX_BLOCK_RECORDS } from '../../lib/replica';
import { ledgerOfOneBlock } from '../support/oversized-block';
import { sidebarHandler } from '../../nodes/lib/sidebar-routes';
import { tempDir } from '../support/ledger';
import { startTileServer, type TileServer } from '../support/tile-server';
import { helper, messages, nextMessage, onTab, packNodes, startTestRuntime, stopTestRuntime, editorDefaults } from './support';

interface View {
  size: number;
  lag: number;
  target: number;
  state: string;
}

describe('Replica node', function () {
  this.timeout(30000);
  let userDir: string;
  const tmp = tempDir('replica-node-');
  const key = generateKey('Ed25519');
  let gateway: Ledger;
  let server: TileServer;
  before((done) => {
    userDir = startTestRuntime(done);
  });
  before(async () => {
    gateway = await Ledger.open(path.join(tmp.dir, 'gw'), { name: 'replica.node', gatewayKey: key, blockRecords: 50, blockSeconds: 0 });
    await gateway.appendMany(Array.from({ length: 120 }, (_, i) => ({ type: 'note', body: { i } })));
    await gateway.seal();
    server = await startTileServer(gateway);
  });
  after(async () => {
    await server.close();
    await gateway.close();
    tmp.cleanup();
  });
  after((done) => stopTestRuntime(userDir, done));
  afterEach(() => helper.unload());

  const flow = (dir: string, extra: Record<string, unknown> = {}): Record<string, unknown>[] =>
    onTab([
      { id: 'replica', type: 'iot-ledger-replica', url: server.url, key: keyToDid(key), dir, interval: 3600, wires: [['out']], ...extra },
      { id: 'out', type: 'helper' },
      { id: 'catch', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
      { id: 'caught', type: 'helper' },
    ]);

  it('catches up on deploy, follows on input, shows lag, and its copy audits CLEAN', async () => {
    const dir = path.join(tmp.dir, 'copy');
    await helper.load(packNodes(), flow(dir));
    const first = await nextMessage<{ payload: View }>(helper.getNode('out'));
    assert.equal(first.payload.size, 120);
    assert.equal(first.payload.lag, 0);
    // The Ledger sidebar's endpoint lists the replica with its lag.
    let sidebar: { replicas?: View[] } = {};
    await sidebarHandler({ params: {}, query: {} }, { json: (b: unknown) => void (sidebar = b as typeof sidebar), status: () => assert.fail('no error status') });
    assert.equal(sidebar.replicas?.length, 1);
    assert.equal(sidebar.replicas?.[0].size, 120);
    assert.equal(sidebar.replicas?.[0].lag, 0);
    assert.equal(sidebar.replicas?.[0].state, 'following');
    await gateway.appendMany(Array.from({ length: 80 }, (_, i) => ({ type: 'note', body: { i: 120 + i } })));
    await gateway.seal();
    const outs = messages<{ payload: View }>(helper.getNode('out'), 2);
    helper.getNode('replica').receive({ payload: 'now' });
    const got = await outs;
    assert.equal(got[got.length - 1].payload.size, 200);
    await helper.unload();
    const report = await auditLedger(dir, { trustedKey: keyToDid(key), workers: 0 });
    assert.equal(report.clean, true);
    assert.equal(report.size, 200);
  });

  it('an origin URL with a login is refused: nothing fetched, an error naming the login fields, the password in no view or message', async () => {
    const dir = path.join(tmp.dir, 'login-url');
    const url = new URL(server.url);
    url.username = 'replica';
    url.password = 'hunter2';
    await helper.load(packNodes(), flow(dir, { url: url.href }));
    const node = helper.getNode('replica') as unknown as { error: { args: unknown[][]; thisValues: unknown[] } };
    const errors = node.error.args.filter((_, i) => node.error.thisValues[i] === node).map((a) => String(a[0]));
    assert.ok(errors.some((e) => e.includes('user name and password fields')), `errors: ${errors.join(' | ')}`);
    const caught = nextMessage<{ error: { code: string; message: string } }>(helper.getNode('caught'));
    helper.getNode('replica').receive({ payload: 'now' });
    const { error } = await caught;
    assert.equal(error.code, 'ERR_INVALID_ARGUMENT');
    assert.ok(!error.message.includes('hunter2'), error.message);
    let sidebar: { replicas?: unknown[] } = {};
    await sidebarHandler({ params: {}, query: {} }, { json: (b: unknown) => void (sidebar = b as typeof sidebar), status: () => assert.fail('no error status') });
    assert.ok(!JSON.stringify(sidebar).includes('hunter2'), 'the sidebar does not show the password');
    assert.equal(fs.existsSync(dir), false, 'nothing fetched');
  });

  it('stops at a block larger than a replica takes: status says so, Catch gets ERR_REPLICA_BLOCK_TOO_LARGE, an input fetches nothing again', async () => {
    const dir = path.join(tmp.dir, 'copy-of-big');
    const big = await ledgerOfOneBlock(path.join(tmp.dir, 'gw-big'), 'replica.node', key, MAX_BLOCK_RECORDS + 1);
    server.ledger = big;
    try {
      await helper.load(packNodes(), flow(dir));
      const replica = helper.getNode('replica');
      const statuses: { fill?: string; text?: string }[] = [];
      replica.on('call:status', (call: never) => statuses.push((call as { args: { fill?: string; text?: string }[] }).args[0]));
      const caught = await nextMessage<{ error: { code?: string }; payload: View }>(helper.getNode('caught'));
      assert.equal(caught.error.code, 'ERR_REPLICA_BLOCK_TOO_LARGE');
      assert.equal(caught.payload.state, 'stopped-block-too-large');
      await new Promise((r) => setImmediate(r));
      assert.equal(statuses[statuses.length - 1]?.fill, 'red');
      assert.match(statuses[statuses.length - 1]?.text ?? '', /larger than a replica takes/);
      server.requests.length = 0;
      const again = nextMessage<{ error: { code?: string } }>(helper.getNode('caught'));
      replica.receive({ payload: 'now' });
      assert.equal((await again).error.code, 'ERR_REPLICA_BLOCK_TOO_LARGE');
      assert.deepEqual(server.requests, [], 'nothing fetched again');
    } finally {
      server.ledger = gateway;
      await helper.unload();
      await big.close();
    }
  });

  it('Max block (records) and Max block size (MiB) reach the replica: a block past either stops it with ERR_REPLICA_BLOCK_TOO_LARGE naming the limit', async () => {
    // The gateway's blocks hold 50 records.
    await helper.load(packNodes(), flow(path.join(tmp.dir, 'copy-max-records'), { maxBlockRecords: '49' }));
    const byRecords = await nextMessage<{ error: { code?: string; message: string }; payload: View }>(helper.getNode('caught'));
    assert.equal(byRecords.error.code, 'ERR_REPLICA_BLOCK_TOO_LARGE');
    assert.match(byRecords.error.message, /block 0 holds 50 records, more than 49/);
    assert.deepEqual([byRecords.payload.state, byRecords.payload.size], ['stopped-block-too-large', 0]);
    await helper.unload();

    // One block of some 2.4 MB of records.
    const wide = await Ledger.open(path.join(tmp.dir, 'gw-wide'), { name: 'replica.node', gatewayKey: key, blockRecords: 100, blockSeconds: 0 });
    await wide.appendMany(Array.from({ length: 40 }, (_, i) => ({ type: 'note', body: { i, pad: 'x'.repeat(60000) } })));
    await wide.seal();
    server.ledger = wide;
    try {
      await helper.load(packNodes(), flow(path.join(tmp.dir, 'copy-max-mib'), { maxBlockMiB: 1 }));
      const byBytes = await nextMessage<{ error: { code?: string; message: string }; payload: View }>(helper.getNode('caught'));
      assert.equal(byBytes.error.code, 'ERR_REPLICA_BLOCK_TOO_LARGE');
      assert.match(byBytes.error.message, /block 0 holds more than 1048576 bytes of records/);
      assert.deepEqual([byBytes.payload.state, byBytes.payload.size], ['stopped-block-too-large', 0]);
      await helper.unload();
      // With the defaults, the same block is copied.
      await helper.load(packNodes(), flow(path.join(tmp.dir, 'copy-wide-default')));
      assert.equal((await nextMessage<{ payload: View }>(helper.getNode('out'))).payload.size, 40);
    } finally {
      server.ledger = gateway;
      await helper.unload();
      await wide.close();
    }
  });

  it('a Max block setting that is no whole number in range (a hand-edited flow) is warned about and the default used', async () => {
    await helper.load(packNodes(), flow(path.join(tmp.dir, 'copy-bad-limits'), { maxBlockRecords: '0', maxBlockMiB: 'lots' }));
    const first = await nextMessage<{ payload: View }>(helper.getNode('out'));
    assert.equal(first.payload.size, gateway.size);
    const warned = (helper.getNode('replica') as unknown as { warn: { args: unknown[][] } }).warn.args.map((a) => String(a[0]));
    assert.ok(warned.includes(`replica: Max block records "0" is not a whole number from 1 to ${16 * DEFAULT_MAX_BLOCK_RECORDS}; using ${DEFAULT_MAX_BLOCK_RECORDS}`), warned.join(' | '));
    assert.ok(warned.includes('replica: Max block size (MiB) "lots" is not a whole number from 1 to 1024; using 64'), warned.join(' | '));
  });

  it("the editor's Max block settings default to the library's limits and take whole numbers up to 16 times them", () => {
    // The shipped editor script, run against a stand-in for the editor's RED.
    const defaults = editorDefaults('iot-ledger-replica');
    const records = defaults.maxBlockRecords;
    const mib = defaults.maxBlockMiB;
    assert.ok(records?.validate && mib?.validate, Object.keys(defaults).join(', '));
    assert.equal(records.value, DEFAULT_MAX_BLOCK_RECORDS);
    assert.equal(Number(mib.value) * 1024 * 1024, DEFAULT_MAX_BLOCK_BYTES);
    const valid = (d: typeof records, v: unknown): unknown => d.validate?.call({}, v);
    for (const v of [undefined, 1, '1', '65536', String(16 * DEFAULT_MAX_BLOCK_RECORDS)]) assert.equal(valid(records, v), true, `records ${String(v)}`);
    for (const v of ['', '0', '-1', '1.5', 'x', String(16 * DEFAULT_MAX_BLOCK_RECORDS + 1)]) assert.equal(valid(records, v), false, `records ${String(v)}`);
    for (const v of [undefined, '1', 64, '1024']) assert.equal(valid(mib, v), true, `MiB ${String(v)}`);
    for (const v of ['0', '1025', '0.5', 'lots']) assert.equal(valid(mib, v), false, `MiB ${String(v)}`);
  });

  it('reports a rollback through Catch with ERR_REPLICA_ROLLBACK and keeps the evidence', async () => {
    const dir = path.join(tmp.dir, 'copy');
    const smaller = await Ledger.open(path.join(tmp.dir, 'gw-small'), { name: 'replica.node', gatewayKey: key, blockRecords: 50, blockSeconds: 0 });
    await smaller.appendMany(Array.from({ length: 60 }, (_, i) => ({ type: 'note', body: { i } })));
    await smaller.seal();
    server.ledger = smaller;
    try {
      await helper.load(packNodes(), flow(dir));
      const caught = await nextMessage<{ error: { code?: string; message: string } }>(helper.getNode('caught'));
      assert.equal(caught.error.code, 'ERR_REPLICA_ROLLBACK');
      assert.ok(fs.readdirSync(path.join(dir, 'replica-evidence')).some((f) => f.startsWith('rollback-')));
    } finally {
      server.ledger = gateway;
      await helper.unload();
      await smaller.close();
    }
  });
});
