import * as assert from 'node:assert/strict';
import * as mqtt from 'mqtt';
import { startBroker, type RunningBroker } from '../../demo/broker';
import { RetainedPublications } from '../../nodes/lib/retained-publications';
import { MqttWatch, retainedMessages } from '../ha/mqtt-watch';
import { until } from '../support/until';

describe('RetainedPublications: an overall budget of restores', function () {
  this.timeout(30000);
  let broker: RunningBroker;
  let keeper: mqtt.MqttClient;
  let anyone: MqttWatch;
  before(async () => {
    broker = await startBroker({ port: 0 });
    keeper = await mqtt.connectAsync(broker.url, { clientId: 'keeper', reconnectPeriod: 0 }, false);
    anyone = await MqttWatch.connect(broker.url, ['unrelated']);
  });
  after(async () => {
    await anyone.close();
    await keeper.endAsync(true);
    await broker.close();
  });

  it('over a real broker: a burst of overwrites on many topics is restored at most restoresPerSecond per round, every document eventually', async () => {
    const perSecond = 3;
    const topics = Array.from({ length: 10 }, (_, i) => `kept/doc-${i}`);
    const documents = new Map(topics.map((t, i) => [t, { id: i, body: 'x'.repeat(2000) }]));
    // Each restore round runs from one timer: the restores sent in one turn of the event loop are one round.
    const rounds: string[][] = [];
    let open: string[] | undefined;
    const reports: { deferred: number; pending: number }[] = [];
    const published = new RetainedPublications(
      (topic, payload) => {
        if (!open) {
          open = [];
          rounds.push(open);
          setImmediate(() => (open = undefined));
        }
        open.push(topic);
        keeper.publish(topic, JSON.stringify(payload), { qos: 1, retain: true });
      },
      { restoresPerSecond: perSecond, onDeferred: (deferred, pending) => reports.push({ deferred, pending }) },
    );
    try {
      // What the keeper's MQTT in hands back to it: every message on its topics.
      keeper.on('message', (topic, payload) => published.seen(topic, payload));
      await keeper.subscribeAsync('kept/+', { qos: 1 });
      for (const [topic, doc] of documents) {
        published.keep(topic, doc);
        await keeper.publishAsync(topic, JSON.stringify(doc), { qos: 1, retain: true });
      }
      await retainedMessages(broker, ['kept/+'], topics);

      // Tiny overwrites on every topic at once, twice each: the newest one waits in a single place.
      for (const topic of topics) await anyone.client.publishAsync(topic, 'x', { qos: 1, retain: true });
      for (const topic of topics) await anyone.client.publishAsync(topic, 'y', { qos: 1, retain: true });

      await until(
        () => `every document restored (rounds ${JSON.stringify(rounds)})`,
        async () => {
          const held = await broker.retained(['kept/+']);
          return topics.every((t) => held.get(t) === JSON.stringify(documents.get(t)));
        },
        { timeoutMs: 15000 },
      );
      for (const round of rounds) assert.ok(round.length <= perSecond, `a round restored ${round.length} documents: ${round.join(', ')}`);
      assert.ok(rounds.length >= Math.ceil(topics.length / perSecond), `${rounds.length} rounds`);
      // Each overwritten topic restored once (its two overwrites shared a place), none dropped.
      assert.deepEqual(rounds.flat().sort(), [...topics].sort());
      assert.equal(published.stats.restored, topics.length);
      assert.equal(published.stats.deferred, topics.length - perSecond);
      assert.equal(published.stats.pending, 0);
      // Reported together, not per message: the first round's deferrals at once, the rest later.
      assert.deepEqual(reports, [{ deferred: topics.length - perSecond, pending: topics.length - perSecond }]);
    } finally {
      published.close();
      keeper.removeAllListeners('message');
      for (const topic of topics) await keeper.publishAsync(topic, '', { qos: 1, retain: true });
    }
  });
});
