// The MQTT connection of a Home Assistant config node: one client shared by every node that
// uses the config, connected on first use. It keeps what it publishes retained (discovery
// configs, entity states) and sends all of it again after each (re)connect and when Home
// Assistant announces it started, so a broker restart or a new HA loses nothing.
//
// It also clears what is no longer announced. Each retained topic has owners (the nodes that
// announce it); a node that stops gives its topics up. Once a deploy has started and every
// node holding the connection has announced, topics nobody owns are cleared (empty retained
// payloads), and so are retained configs and states of this gateway that the broker still holds
// from an earlier run but nobody announces any more (a contract taken out of a node, a node
// whose Home Assistant field went back to none, a device no longer on the ledger).
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as mqtt from 'mqtt';
import {
  PACKAGE_NAME,
  PAYLOAD_OFFLINE,
  PAYLOAD_ONLINE,
  availabilityTopic,
  discoveryWildcard,
  haStatusTopic,
  origin,
  type HaTopics,
  type Origin,
} from '../../lib/ha';
import type { Node, NodeDef, RED } from './red';

export interface HaBroker {
  host: string;
  port: number;
  tls: boolean;
  username?: string;
  password?: string;
}

export interface HaConnectionOptions extends HaBroker {
  topics: HaTopics;
  clientId: string;
  /** Where connection trouble is reported (once per distinct error, not at every retry). */
  log?: { log(msg: string): void; warn(msg: string): void };
  /** Milliseconds between reconnection attempts (default 5000). */
  reconnectPeriod?: number;
}

const QOS = 1;
const CLOSE_TIMEOUT_MS = 3000;

export class HaConnection {
  private client: mqtt.MqttClient | undefined;
  /** Topic -> payload of every retained message we keep published ('' = removed). */
  private readonly retained = new Map<string, string>();
  private closed = false;
  private lastError: string | undefined;
  private everConnected = false;
  /** Topic -> the nodes that announce it. A retained topic without owners goes at the next sweep. */
  private readonly owners = new Map<string, Set<string>>();
  /** Retained configs and states of this gateway seen on the broker. */
  private readonly found = new Set<string>();
  /** Nodes that will announce but have not yet. */
  private holds = 0;
  /** A deploy has started and no node has stopped since. */
  private flowsRunning = false;

  constructor(private readonly opts: HaConnectionOptions) {}

  get topics(): HaTopics {
    return this.opts.topics;
  }

  get url(): string {
    const host = this.opts.host.includes(':') ? `[${this.opts.host}]` : this.opts.host;
    return `${this.opts.tls ? 'mqtts' : 'mqtt'}://${host}:${this.opts.port}`;
  }

  get connected(): boolean {
    return this.client?.connected === true;
  }

  /**
   * Keeps `payload` published, retained, on `topic` ('' removes the retained message). Sends
   * only what changed; connects on first use. While the broker is away the latest payload per
   * topic waits and goes out on connect.
   */
  retain(topic: string, payload: string, owner?: string): void {
    if (owner !== undefined && payload !== '') {
      const set = this.owners.get(topic) ?? new Set<string>();
      set.add(owner);
      this.owners.set(topic, set);
    }
    if (this.closed || this.retained.get(topic) === payload) return;
    this.retained.set(topic, payload);
    const client = this.start();
    if (client.connected) this.send(client, topic, payload);
  }

  /** A node that will announce: nothing is cleared until it calls the returned function. */
  hold(): () => void {
    this.holds++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.holds--;
      this.sweepIfSettled();
    };
  }

  /** A node stopped: it no longer owns what it announced (cleared at the next sweep unless announced again). */
  release(owner: string): void {
    this.flowsRunning = false;
    for (const [topic, set] of this.owners) {
      set.delete(owner);
      if (set.size === 0) this.owners.delete(topic);
    }
  }

  /** Node-RED started the flows of a deploy: every node that announces has said so (hold). */
  flowsStarted(): void {
    if (this.closed) return;
    this.flowsRunning = true;
    // Connect even with no node announcing anything, to clear what earlier runs left.
    this.start();
    this.sweepIfSettled();
  }

  private get settled(): boolean {
    return this.flowsRunning && this.holds === 0 && !this.closed;
  }

  private sweepIfSettled(): void {
    if (!this.settled) return;
    for (const topic of [...this.retained.keys(), ...this.found]) this.clearIfOrphan(topic);
  }

  private clearIfOrphan(topic: string): void {
    if (this.owners.has(topic) || this.retained.get(topic) === '') return;
    this.found.delete(topic);
    this.retain(topic, '');
  }

  /** A retained message on our subscriptions: remember (and, once settled, clear) this gateway's stale ones. */
  private seen(topic: string, payload: Buffer): void {
    if (payload.length === 0) {
      this.found.delete(topic);
      return;
    }
    if (!this.isOurs(topic, payload)) return;
    this.found.add(topic);
    if (this.settled) this.clearIfOrphan(topic);
  }

  private isOurs(topic: string, payload: Buffer): boolean {
    const t = this.topics;
    if (topic.startsWith(`${t.baseTopic}/`)) return topic.endsWith('/state');
    if (!topic.startsWith(`${t.discoveryPrefix}/`) || !topic.endsWith('/config')) return false;
    try {
      const config = JSON.parse(payload.toString('utf8')) as { availability_topic?: unknown; origin?: { name?: unknown } };
      return config.availability_topic === availabilityTopic(t) && config.origin?.name === PACKAGE_NAME;
    } catch {
      return false;
    }
  }

  /** Publishes `offline` (retained) and disconnects. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const client = this.client;
    this.client = undefined;
    if (!client) return;
    if (!client.connected) {
      await client.endAsync(true);
      return;
    }
    const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), CLOSE_TIMEOUT_MS).unref());
    const graceful = client
      .publishAsync(availabilityTopic(this.topics), PAYLOAD_OFFLINE, { qos: QOS, retain: true })
      .then(() => client.endAsync())
      .catch(() => undefined);
    if ((await Promise.race([graceful, timer])) === 'timeout') await client.endAsync(true);
  }

  private send(client: mqtt.MqttClient, topic: string, payload: string): void {
    client.publish(topic, payload, { qos: QOS, retain: true }, (err) => this.failed(client, err));
  }

  // A publication or subscription that fails because the connection went is sent again on
  // reconnect, and the client reports the connection's own error: only other failures count.
  private failed(client: mqtt.MqttClient, err: Error | undefined): void {
    if (err && client.connected) this.report(err);
  }

  private sendAll(client: mqtt.MqttClient): void {
    for (const [topic, payload] of this.retained) this.send(client, topic, payload);
    this.send(client, availabilityTopic(this.topics), PAYLOAD_ONLINE);
  }

  private report(err: Error): void {
    if (this.closed || err.message === this.lastError) return;
    this.lastError = err.message;
    this.opts.log?.warn(`Home Assistant MQTT ${this.url}: ${err.message}`);
  }

  private start(): mqtt.MqttClient {
    if (this.client) return this.client;
    const o = this.opts;
    const client = mqtt.connect({
      protocol: o.tls ? 'mqtts' : 'mqtt',
      host: o.host,
      port: o.port,
      clientId: o.clientId,
      ...(o.username ? { username: o.username } : {}),
      ...(o.password ? { password: o.password } : {}),
      will: { topic: availabilityTopic(o.topics), payload: Buffer.from(PAYLOAD_OFFLINE), qos: QOS, retain: true },
      reconnectPeriod: o.reconnectPeriod ?? 5000,
      connectTimeout: 10000,
      // Nothing is queued by the client while offline: `retained` holds the latest of everything.
      queueQoSZero: false,
    });
    const haStatus = haStatusTopic(o.topics);
    const ourRetained = [discoveryWildcard(o.topics), `${o.topics.baseTopic}/contract/+/state`, `${o.topics.baseTopic}/firmware/+/state`];
    client.on('connect', () => {
      if (this.lastError !== undefined || !this.everConnected) o.log?.log(`Home Assistant MQTT connected to ${this.url}`);
      this.everConnected = true;
      this.lastError = undefined;
      this.sendAll(client);
    });
    client.on('message', (topic, payload, packet) => {
      if (topic === haStatus) {
        if (payload.toString() === PAYLOAD_ONLINE) this.sendAll(client);
      } else if (packet.retain) this.seen(topic, payload);
    });
    client.on('error', (err) => this.report(err));
    client.subscribe(haStatus, { qos: 0 }, (err) => this.failed(client, err ?? undefined));
    // Retained messages only (what the broker held when we subscribed): stale entities to clear.
    client.subscribe(ourRetained, { qos: 0, rh: 0 }, (err) => this.failed(client, err ?? undefined));
    this.client = client;
    return client;
  }
}

/** A deployed `iot-ledger-ha` config node. */
export interface HaConfigNode extends Node {
  topics: HaTopics;
  /** The shared connection (created, not yet connected, on first call). */
  connection(): HaConnection;
}

let packageVersion: string | undefined;

/** `origin` of our discovery configs: this package and its version. */
export function haOrigin(): Origin {
  if (packageVersion === undefined) {
    try {
      // dist/nodes/lib -> the package root
      const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', '..', 'package.json'), 'utf8')) as { version?: unknown };
      packageVersion = typeof pkg.version === 'string' ? pkg.version : '';
    } catch {
      packageVersion = '';
    }
  }
  return origin(packageVersion || undefined);
}

/** The Home Assistant config node a node points at with `ha`, or undefined when the integration is off. */
export function useHa(RED: RED, node: Node, def: NodeDef): HaConfigNode | undefined {
  const id = typeof def.ha === 'string' ? def.ha.trim() : '';
  if (!id || id === '_ADD_') return undefined;
  const config = RED.nodes.getNode(id) as HaConfigNode | null;
  if (!config || typeof config.connection !== 'function') {
    node.warn('Home Assistant: the selected iot-ledger-ha config node is not deployed; nothing is published');
    return undefined;
  }
  return config;
}
