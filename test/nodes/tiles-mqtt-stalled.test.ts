import * as assert from 'node:assert/strict';
import * as net from 'node:net';
import type { LedgerConfigNode } from '../../nodes/lib/ledger-config';
import { until } from '../support/until';
import { helper, ledgerNode, packNodes, startTestRuntime, stopTestRuntime } from './support';

/**
 * A broker that accepts the connection (CONNACK for the MQTT version asked) and then answers
 * nothing: what the client publishes with QoS 1 is never acknowledged.
 */
async function stalledBroker(): Promise<{ url: string; open: Set<net.Socket>; publishes: () => number; close(): Promise<void> }> {
  const open = new Set<net.Socket>();
  let publishes = 0;
  const server = net.createServer((socket) => {
    open.add(socket);
    socket.on('close', () => open.delete(socket));
    socket.on('error', () => undefined);
    let connected = false;
    socket.on('data', (data: Buffer) => {
      if (!connected) {
        connected = true;
        const at = data.indexOf('MQTT');
        const version = at >= 0 ? data[at + 4] : 4;
        socket.write(Buffer.from(version === 5 ? [0x20, 0x03, 0x00, 0x00, 0x00] : [0x20, 0x02, 0x00, 0x00]));
      } else if (data[0] >> 4 === 3) publishes++;
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `mqtt://127.0.0.1:${port}`,
    open,
    publishes: () => publishes,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of open) s.destroy();
        server.close(() => resolve());
      }),
  };
}

describe('Ledger node: tiles over MQTT with a stalled broker', function () {
  this.timeout(30000);
  let userDir: string;
  before((done) => {
    userDir = startTestRuntime(done);
  });
  after((done) => stopTestRuntime(userDir, done));
  afterEach(() => helper.unload());

  it('closes its connection on redeploy though the broker never acknowledges what it published', async () => {
    const broker = await stalledBroker();
    try {
      await helper.load(packNodes(), [ledgerNode('ledger', { ledgerName: 'stalled-tiles', tilesMqtt: broker.url })]);
      await (helper.getNode('ledger') as unknown as LedgerConfigNode).gateway();
      // The publisher's first QoS 1 publication (the retained request cleared) stays in flight.
      await until('a publication sent to the stalled broker', () => broker.publishes() > 0);
      assert.equal(broker.open.size, 1);
      await helper.unload();
      await until(() => `the tiles connection closed (${broker.open.size} open)`, () => broker.open.size === 0, { timeoutMs: 5000 });
    } finally {
      await broker.close();
    }
  });
});
