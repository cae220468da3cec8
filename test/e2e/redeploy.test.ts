import * as assert from 'node:assert/strict';
import { generateKey } from '../../lib/crypto';
import {
  coldRoomFlow,
  coldRoomTerms,
  enrol,
  LedgerRuntime,
  Mailbox,
  NODE_IDS,
  Sensor,
  TOPIC,
  waitFlowSubscribed,
} from '../support/ledger-runtime';
import { until } from '../support/until';

// The editor's "Modified nodes" deploy restarts only the changed nodes; the ledger's gateway,
// shared through its config node, stays open. 20 such deploys of the cold-room flow's Record
// and Contract nodes, in a real Node-RED with the packed pack and a real broker, must leave
// the flow recording and Node-RED printing no MaxListenersExceededWarning.

const LEDGER = 'redeploy-e2e';

describe('e2e: 20 partial redeploys in a real Node-RED', function () {
  this.timeout(180_000);
  const sensor = new Sensor('freezer-r', generateKey('Ed25519'));
  let rt: LedgerRuntime;
  let box: Mailbox;
  let flow: Record<string, unknown>[];

  async function recorded(temperature: number): Promise<void> {
    const payload = sensor.next(temperature);
    await box.publish(TOPIC.reading(sensor.name), sensor.sign(payload));
    await box.waitFor(`ack/${sensor.name}/${payload.counter}`);
  }

  before(async () => {
    rt = await LedgerRuntime.create({ ledgerName: LEDGER, prefix: 'redeploy' });
    box = await Mailbox.connect(rt.broker.url, [TOPIC.ack, TOPIC.enrolled, TOPIC.rejected]);
    flow = coldRoomFlow({ brokerPort: rt.broker.port, ledgerName: LEDGER, terms: coldRoomTerms([sensor.did], [sensor.did]) });
    await rt.nr.deployFlows(flow);
    await waitFlowSubscribed(box);
    await enrol(box, sensor);
    await recorded(-22);
  });

  after(async () => {
    await box?.close();
    await rt?.dispose();
  });

  it('keeps recording, and Node-RED warns of no listener leak', async () => {
    const started = (): number => rt.output().split('Started modified nodes').length - 1;
    for (let i = 1; i <= 20; i++) {
      const changed = flow.map((n) => (n.id === NODE_IDS.record || n.id === NODE_IDS.contract ? { ...n, name: `generation ${i}` } : n));
      await rt.nr.deployFlows(changed, 'nodes');
      // POST /flows answers before the modified nodes are started; a message in between would
      // find no node to go to, so wait as the editor's user would (bounded)
      await until(`deploy ${i} to start its nodes`, () => started() >= i, { timeoutMs: 20_000, pollMs: 50 });
    }
    await recorded(-23).catch((err: Error) => {
      throw new Error(`${err.message}\n${rt.output().slice(-6000)}`);
    });
    const out = rt.output();
    assert.equal(started(), 20, 'the partial deploys happened');
    assert.doesNotMatch(out, /MaxListenersExceededWarning/);
    assert.deepEqual(out.split('\n').filter((l) => /\[error\]/.test(l)), []);
  });
});
