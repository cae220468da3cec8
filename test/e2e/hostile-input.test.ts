import * as assert from 'node:assert/strict';
import { generateKey } from '../../lib/crypto';
import { signEnvelope } from '../../lib/envelope/envelope';
import { coldRoomFlow, coldRoomTerms, LedgerRuntime, Mailbox, rejectionOn, Sensor, TOPIC, waitFlowSubscribed, type Received } from '../support/ledger-runtime';
import { PROBE, startColdRoomExample, waitRecording } from '../support/example-runtime';

// One unauthenticated MQTT message must not take Node-RED down. Node-RED deep-clones a message
// for a Catch node, recursively: a payload nested 100 000 levels deep used to overflow the
// stack and end the process. Run against the shipped cold-room example, and against a flow
// that parses MQTT as JSON (auto-detect) in front of Verify, as a user might build it.

const deep = (n: number): string => '['.repeat(n) + ']'.repeat(n);
const body = (m: Received): { code: string; topic: string; payload: unknown } => JSON.parse(m.text) as { code: string; topic: string; payload: unknown };

describe('e2e: hostile messages on the gateway topics do not crash Node-RED', function () {
  this.timeout(120_000);
  const honest = new Sensor('sensor-1', generateKey('Ed25519'));

  describe('the cold-room example as shipped', () => {
    let rt: LedgerRuntime;
    let box: Mailbox;

    before(async () => {
      ({ rt, box } = await startColdRoomExample('hostile', [honest]));
      await waitRecording(box, honest);
    });
    after(async () => {
      await box?.close();
      await rt?.dispose();
    });

    async function stillUp(): Promise<void> {
      assert.ok(rt.nr.running, `Node-RED exited:\n${rt.nr.output().slice(-3000)}`);
      await rt.nr.getSettings();
      // ...and still records honest readings.
      await waitRecording(box, honest, 10_000);
    }

    const rejectedOn = (topic: string, after: number): Promise<Received> =>
      box.waitFor(PROBE.rejected, (m) => m.at >= after && body(m).topic === topic, 20_000, `${PROBE.rejected} for ${topic}`);

    it("survives '[' x 100 000 + ']' x 100 000 on a reading topic, refused as too large", async () => {
      const since = Date.now();
      await box.publish('coldroom/sensor-9/reading', deep(100_000));
      const r = body(await rejectedOn('coldroom/sensor-9/reading', since));
      assert.equal(r.code, 'ERR_PAYLOAD_TOO_LARGE');
      assert.deepEqual(r.payload, { refused: 'ERR_PAYLOAD_TOO_LARGE', type: 'buffer', size: 200_000, head: '5b'.repeat(32) });
      await stillUp();
    });

    it('survives a validly signed reading whose payload nests 20 000 levels deep, refused as too deep', async () => {
      const since = Date.now();
      const fresh = JSON.stringify(honest.next(-21));
      const text = `${fresh.slice(0, -1)},"extra":${deep(20_000)}}`;
      await box.publish(`coldroom/${honest.name}/reading`, signEnvelope(text, honest.key, { kid: honest.did }) as string);
      const r = body(await rejectedOn(`coldroom/${honest.name}/reading`, since));
      assert.equal(r.code, 'ERR_PAYLOAD_TOO_DEEP');
      await stillUp();
    });

    it('logged no uncaught exception', () => {
      assert.doesNotMatch(rt.nr.output(), /Maximum call stack|uncaughtException|UnhandledPromiseRejection/);
    });
  });

  describe('a flow that parses MQTT as JSON (auto-detect) in front of Verify', () => {
    let rt: LedgerRuntime;
    let box: Mailbox;

    before(async () => {
      rt = await LedgerRuntime.create({ ledgerName: 'autodetect', prefix: 'hostile-json' });
      box = await Mailbox.connect(rt.broker.url, [TOPIC.rejected]);
      await rt.nr.deployFlows(coldRoomFlow({ brokerPort: rt.broker.port, ledgerName: 'autodetect', terms: coldRoomTerms([honest.did], [honest.did]) }));
      await waitFlowSubscribed(box);
    });
    after(async () => {
      await box?.close();
      await rt?.dispose();
    });

    it('hands the parsed 100 000-level array to Catch as a summary and keeps running', async () => {
      const since = Date.now();
      await box.publish('coldroom/sensor-9/reading', deep(100_000));
      const r = await rejectionOn(box, 'coldroom/sensor-9/reading', 'ERR_MALFORMED_ENVELOPE', since);
      assert.equal((JSON.parse(r.text) as { source: string }).source, 'iot-ledger-verify');
      assert.ok(rt.nr.running, rt.nr.output().slice(-3000));
      await rt.nr.getSettings();
      const again = Date.now();
      await box.publish('coldroom/sensor-9/reading', 'still listening');
      await rejectionOn(box, 'coldroom/sensor-9/reading', 'ERR_MALFORMED_ENVELOPE', again);
    });
  });
});
