// A test MQTT client that records every message on its subscriptions and waits for the ones a
// test expects; and a one-shot read of what a broker holds retained.
import * as mqtt from 'mqtt';

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
 * What the broker holds retained under `filters`: a fresh client subscribes and collects until
 * every topic in `expect` has arrived (retained messages come at once on subscribe) and then
 * `settleMs` more.
 */
export async function retainedMessages(url: string, filters: string[], expect: string[], settleMs = 200): Promise<Map<string, string>> {
  const watch = await MqttWatch.connect(url, filters);
  try {
    for (const topic of expect) await watch.waitFor((m) => m.topic === topic, `retained ${topic}`, 3000);
    await new Promise((resolve) => setTimeout(resolve, settleMs));
    const out = new Map<string, string>();
    for (const m of watch.messages) if (m.retain) out.set(m.topic, m.payload);
    return out;
  } finally {
    await watch.close();
  }
}
