// The MQTT connection of a Home Assistant config node: one client shared by every node that
// uses the config, connected on first use. It keeps what it publishes retained (discovery
// configs, entity states) and sends all of it again after each (re)connect and when Home
// Assistant announces it started, so a broker restart or a new HA loses nothing.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as mqtt from 'mqtt';
import { PAYLOAD_OFFLINE, PAYLOAD_ONLINE, availabilityTopic, haStatusTopic, origin, type HaTopics, type Origin } from '../../lib/ha';
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
  retain(topic: string, payload: string): void {
    if (this.closed || this.retained.get(topic) === payload) return;
    this.retained.set(topic, payload);
    const client = this.start();
    if (client.connected) this.send(client, topic, payload);
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
    client.on('connect', () => {
      if (this.lastError !== undefined || !this.everConnected) o.log?.log(`Home Assistant MQTT connected to ${this.url}`);
      this.everConnected = true;
      this.lastError = undefined;
      this.sendAll(client);
    });
    client.on('message', (topic, payload) => {
      if (topic === haStatus && payload.toString() === PAYLOAD_ONLINE) this.sendAll(client);
    });
    client.on('error', (err) => this.report(err));
    client.subscribe(haStatus, { qos: 0 }, (err) => this.failed(client, err ?? undefined));
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
