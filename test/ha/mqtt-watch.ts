// A test MQTT client that records every message on its subscriptions and waits for the ones a
// test expects; and a one-shot read of what a broker holds retained.
import * as mqtt from 'mqtt';
import type { RunningBroker } from '../../demo/broker';
import { until } from '../support/until';

export interface Seen {
  topic: string;
  payload: string;
  retain: boolean;
}

export class MqttWatch {
  readonly messages: Seen[] = [];
  private waiters: { match: (m: Seen) => boolean; resolve: (m: Seen) => void }[] = [];

  private constructor(readonly client: mqtt.MqttClient) {
    client.on('message', (topic, payload, packet) => {
      const m = { topic, payload: payload.toString(), retain: packet.retain };
      this.messages.push(m);
      this.waiters = this.waiters.filter((w) => {
        if (!w.match(m)) return true;
        w.resolve(m);
        return false;
      });
    });
  }

  static async connect(url: string, topics: string[], clientId = `watch-${Math.random().toString(16).slice(2, 8)}`): Promise<MqttWatch> {
    const client = await mqtt.connectAsync(url, { clientId, reconnectPeriod: 0 }, false);
    const watch = new MqttWatch(client);
    await client.subscribeAsync(topics, { qos: 1 });
    return watch;
  }

  /** The first message from index `from` on that matches (already received or still to come). */
  waitFor(match: (m: Seen) => boolean, what: string, ms = 8000, from = 0): Promise<Seen> {
    const found = this.messages.slice(from).find(match);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.resolve !== done);
        reject(new Error(`no MQTT message: ${what} (got ${this.messages.map((m) => m.topic).join(', ') || 'nothing'})`));
      }, ms);
      const done = (m: Seen): void => {
        clearTimeout(t);
        resolve(m);
      };
      this.waiters.push({ match, resolve: done });
    });
  }

  /** The latest payload seen on a topic. */
  last(topic: string): string | undefined {
    for (let i = this.messages.length - 1; i >= 0; i--) if (this.messages[i].topic === topic) return this.messages[i].payload;
    return undefined;
  }

  close(): Promise<void> {
    return this.client.endAsync(true);
  }
}

/**
 * What an in-process broker holds retained under `filters`, read from its store once every
 * topic in `expect` is there (polled, bounded): complete at that moment, so a topic missing from
 * it is not retained.
 */
export async function retainedMessages(broker: RunningBroker, filters: string[], expect: string[], ms = 5000): Promise<Map<string, string>> {
  let held = new Map<string, string>();
  return until(
    () => `retained ${expect.filter((t) => !held.has(t)).join(', ')} (held: ${[...held.keys()].join(', ') || 'nothing'})`,
    async () => {
      held = await broker.retained(filters);
      return expect.every((t) => held.has(t)) && held;
    },
    { timeoutMs: ms },
  );
}
