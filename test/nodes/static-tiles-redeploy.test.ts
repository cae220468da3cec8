import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { generateKey } from '../../lib/crypto';
import * as shared from '../../lib/gateway/shared';
import type { LedgerConfigNode } from '../../nodes/lib/ledger-config';
import { helper, ledgerNode, packNodes, useTestRuntime } from './support';
import { until } from '../support/until';

// A Ledger node with a static tiles directory that is deployed away (or changed) while its
// ledger is still opening must not start writing that directory once the ledger is open: it is
// closed, and its close found no writer to stop. Tiles over MQTT already checked this.

/** Whether the node's gateway() refuses at once as closed (a pending open is not settled by then). */
function isClosed(node: LedgerConfigNode): Promise<boolean> {
  return new Promise((resolve) => {
    node.gateway().then(
      () => resolve(false),
      (err: unknown) => resolve((err as { code?: string }).code === 'ERR_LEDGER_CLOSED'),
    );
    setImmediate(() => resolve(false));
  });
}

describe('Ledger config: static tiles of a node closed while its ledger opens', function () {
  this.timeout(30000);
  const userDir = useTestRuntime();

  it('starts no static tiles writer (nothing listens on the ledger for it, nothing is written)', async () => {
    const tilesDir = path.join(userDir(), 'static-tiles');
    const original = shared.acquireGateway;
    let letOpen!: () => void;
    const opening = new Promise<void>((resolve) => (letOpen = resolve));
    // The node's ledger opens only when the test says so.
    (shared as { acquireGateway: typeof original }).acquireGateway = async (dir, opts) => {
      await opening;
      return original(dir, opts);
    };
    let dir: string | undefined;
    try {
      await helper.load(packNodes(), [ledgerNode('ledger', { ledgerName: 'static-closing', tilesDir, blockRecords: 1000 })]);
      const node = helper.getNode('ledger') as unknown as LedgerConfigNode;
      dir = node.dir;
      // The ledger stays open after the node releases it (another user of the same directory).
      const held = await original(dir, { name: 'static-closing', gatewayKey: generateKey('Ed25519'), blockRecords: 1000 });
      await held.ledger.append({ type: 'note', body: { n: 1 } });
      await held.ledger.seal();
      const listeners = held.ledger.listenerCount('block');

      const unloading = helper.unload(); // the node closes; its close waits for the opening ledger
      await until('the Ledger node closed', () => isClosed(node), { timeoutMs: 10_000, pollMs: 10 });
      letOpen();
      await unloading;

      assert.equal(held.ledger.listenerCount('block'), listeners, 'a block listener was left on the ledger for the closed node');
      await held.ledger.append({ type: 'note', body: { n: 2 } });
      await held.ledger.seal();
      assert.equal(fs.existsSync(path.join(tilesDir, 'checkpoint')), false, 'static tiles written for the closed node');
    } finally {
      letOpen();
      (shared as { acquireGateway: typeof original }).acquireGateway = original;
      if (dir) await shared.releaseGateway(dir);
    }
  });
});
