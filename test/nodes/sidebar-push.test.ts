import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { generateKey } from '../../lib/crypto/keys';
import { acquireGateway, releaseGateway } from '../../lib/gateway';
import { pushSidebar, SIDEBAR_TOPIC, Throttle } from '../../nodes/lib/sidebar-push';
import { tempUserDir } from './support';
import { until } from '../support/until';

// The Ledger sidebar is pushed over RED.comms when a ledger changes, throttled so that a flood of
// records costs at most one push per interval.

interface Published {
  topic: string;
  data: { ledgers: { name: string; size: number }[] };
  at: number;
}

describe('sidebar push over RED.comms', function () {
  this.timeout(30_000);
  let dir: string;

  before(() => {
    dir = fs.mkdtempSync(path.join(tempUserDir(), 'ledger-'));
  });
  after(() => fs.rmSync(path.dirname(dir), { recursive: true, force: true }));

  it('Throttle: runs at once, folds the asks of an interval into one run, never two at once', async () => {
    const runs: number[] = [];
    let active = 0;
    let overlap = false;
    const t = new Throttle(async () => {
      active++;
      if (active > 1) overlap = true;
      runs.push(Date.now());
      await new Promise((r) => setTimeout(r, 30));
      active--;
    }, 200);
    const start = Date.now();
    t.request();
    assert.equal(runs.length, 1, 'the first ask runs at once');
    for (let i = 0; i < 1000; i++) t.request();
    await until('the folded run', () => runs.length === 2, { timeoutMs: 2000 });
    t.stop();
    assert.ok(runs[1] - runs[0] >= 195, `second run ${runs[1] - runs[0]} ms after the first`);
    assert.ok(runs[1] - start < 1000);
    assert.equal(overlap, false);
  });

  it('publishes the sidebar state on iot-ledger/sidebar: a flood of 600 records gives at most one push a second, the last one complete', async () => {
    const published: Published[] = [];
    const comms = { publish: (topic: string, data: unknown) => published.push({ topic, data: data as Published['data'], at: Date.now() }) };
    const stop = pushSidebar(comms, 1000);
    try {
      const gw = await acquireGateway(dir, { name: 'push-unit', gatewayKey: generateKey('Ed25519'), blockRecords: 50, blockSeconds: 0 });
      await until('the push on open', () => published.length >= 1, { timeoutMs: 5000 });
      const start = Date.now();
      const writes: Promise<unknown>[] = [];
      for (let i = 0; i < 600; i++) writes.push(gw.record({ type: 'note', body: { i } }));
      await Promise.all(writes);
      const size = gw.ledger.size;
      await until('a push with every record', () => published.some((p) => p.data.ledgers.some((l) => l.name === 'push-unit' && l.size === size)), { timeoutMs: 5000 });
      const elapsed = Date.now() - start;
      const during = published.filter((p) => p.at >= start);
      assert.ok(during.length >= 1);
      assert.ok(during.length <= Math.ceil(elapsed / 1000) + 1, `${during.length} pushes in ${elapsed} ms`);
      for (let i = 1; i < published.length; i++)
        assert.ok(published[i].at - published[i - 1].at >= 990, `pushes ${i - 1} and ${i} ${published[i].at - published[i - 1].at} ms apart`);
      assert.ok(published.every((p) => p.topic === SIDEBAR_TOPIC));
    } finally {
      stop();
      await releaseGateway(dir);
    }
  });

  it('stops following a gateway closed by a redeploy, and follows the one reopened', async () => {
    const published: Published[] = [];
    const stop = pushSidebar({ publish: (topic, data) => published.push({ topic, data: data as Published['data'], at: Date.now() }) }, 10);
    const other = `${dir}-redeploy`;
    const opts = { name: 'push-redeploy', gatewayKey: generateKey('Ed25519'), blockRecords: 50, blockSeconds: 0 };
    try {
      const first = await acquireGateway(other, opts);
      await until('the push on open', () => published.length >= 1, { timeoutMs: 5000 });
      assert.equal(first.listenerCount('record'), 1);
      await releaseGateway(other);
      assert.equal(first.listenerCount('record'), 0, 'the closed gateway is no longer followed');
      assert.equal(first.listenerCount('block'), 0);
      const second = await acquireGateway(other, opts);
      await until('the reopened gateway followed', () => second.listenerCount('record') === 1, { timeoutMs: 5000 });
      const pushes = published.length;
      await second.record({ type: 'note', body: { after: 'redeploy' } });
      await until('a push for the reopened gateway', () => published.length > pushes, { timeoutMs: 5000 });
    } finally {
      stop();
      await releaseGateway(other);
    }
  });
});
