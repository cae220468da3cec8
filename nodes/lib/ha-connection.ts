// What a Home Assistant config node publishes, through the Node-RED `mqtt-broker` config node it
// names (connection, TLS and login are that node's). One HaConnection is shared by every node
// that uses the config; it registers with the broker node on first use, as core's MQTT in/out
// nodes do. It keeps what it publishes retained (discovery configs, entity states) and sends all
// of it again after each (re)connection of the broker and when Home Assistant announces it
// started, so a broker restart or a new HA loses nothing. It publishes only while connected.
//
// It also clears what is no longer announced. Each retained topic has owners (the nodes that
// announce it); a node that stops gives its topics up. Once a deploy has started and every
// node holding the connection has announced, topics nobody owns are cleared (empty retained
// payloads), and so are retained configs and states of this gateway that the broker still holds
// from an earlier run but nobody announces any more (a contract taken out of a node, a node
// whose Home Assistant field went back to none, a device no longer on the ledger). What it
// keeps published and finds overwritten by someone else on the broker it publishes again.
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  PACKAGE_NAME,
  PAYLOAD_OFFLINE,
  PAYLOAD_ONLINE,
  availabilityTopic,
  discoveryWildcard,
  haStatusTopic,
  origin,
  type BrokerMessage,
  type HaTopics,
  type Origin,
} from '../../lib/ha';
import type { Node, NodeDef, NodeStatus, RED } from './red';
import { OverwriteWatch } from '../../lib/guards/overwrite-watch';
import { throttle, type Throttled } from '../../lib/guards/throttle';
import { payloadIs } from './retained-publications';

/** The part of Node-RED's `mqtt-broker` config node (core 10-mqtt.js) that its users call. */
export interface MqttBrokerNode extends Node {
  connected: boolean;
  closing?: boolean;
  brokerurl?: string;
  options?: { will?: BrokerMessage };
  closeMessage?: BrokerMessage;
  register(user: BrokerUser): void;
  deregister(user: BrokerUser, done: () => void, autoDisconnect?: boolean): void;
  subscribe(topic: string, options: { qos: number }, callback: (topic: string, payload: Buffer, packet: { retain?: boolean }) => void, ref: string): void;
  unsubscribe(topic: string, ref: string, removeClientSubscription?: boolean): void;
  publish(msg: { topic: string; payload: string; qos: number; retain: boolean }, done?: (err?: unknown) => void): void;
}

/** What the broker node knows of a user: its id, and a status it sets on every change of connection. */
interface BrokerUser {
  id: string;
  status(s: NodeStatus): void;
}

/** Whether a config node is Node-RED's mqtt-broker (or behaves as one). */
export function isMqttBroker(node: Node | null): node is MqttBrokerNode {
  const b = node as Partial<MqttBrokerNode> | null;
  return !!b && typeof b.register === 'function' && typeof b.deregister === 'function' && typeof b.publish === 'function' && typeof b.subscribe === 'function';
}

const QOS = 1;
const CLOSE_TIMEOUT_MS = 3000;
/**
 * Home Assistant births answered at most this often: anyone on the broker can publish one, and
 * each answer publishes every retained config and state again. One arriving sooner is answered
 * when the interval is over.
 */
const BIRTH_EVERY_MS = 1000;
/** Stale retained messages remembered before the flows settle; anyone can publish look-alikes. */
const MAX_FOUND = 4096;
/**
 * A discovery config larger than this is not ours (ours are a few KB: ids, a title and topics
 * of at most a few hundred characters each) and is not parsed: anyone can leave one retained
 * under the discovery prefix, and JSON.parse makes an object of every few bytes of it.
 */
export const MAX_HA_CONFIG_BYTES = 64 * 1024;

export class HaConnection {
  /**
   * Topic -> payload of every retained message we keep published. '' is a removal still to be
   * sent (the broker was away); once sent it is forgotten, so that clearing look-alikes anyone
   * can publish leaves nothing behind.
   */
  private readonly retained = new Map<string, string>();
  private closed: boolean;
  private started = false;
  private wasConnected = false;
  private lastError: string | undefined;
  /** Topic -> the nodes that announce it. A retained topic without owners goes at the next sweep. */
  private readonly owners = new Map<string, Set<string>>();
  /** Retained configs and states of this gateway seen on the broker (at most MAX_FOUND). */
  private readonly found = new Set<string>();
  /** Nodes that will announce but have not yet. */
  private holds = 0;
  /** A deploy has started and no node has stopped since. */
  private flowsRunning = false;
  private readonly user: BrokerUser;
  private readonly subscriptions: string[];
  private readonly births: Throttled = throttle(() => this.sendAll(), BIRTH_EVERY_MS);
  /** Another payload on a topic we keep (anyone can publish one: a made-up state, an empty one that takes an entity out of Home Assistant, `offline`) gets ours again. */
  private readonly watch = new OverwriteWatch(
    (topic) => this.ownPayload(topic),
    (topic, payload) => this.send(topic, payload),
    () => !this.closed && this.connected, // sendAll sends everything on reconnection
  );

  /**
   * `broker` undefined: a broken configuration, which keeps a connection that never publishes.
   * `id` names this connection to the broker (its user id and subscription reference).
   */
  constructor(
    private readonly broker: MqttBrokerNode | undefined,
    readonly topics: HaTopics,
    private readonly id: string,
    private readonly log?: { warn(msg: string): void },
  ) {
    this.closed = !broker;
    this.user = { id, status: () => this.brokerChanged() };
    this.subscriptions = [
      haStatusTopic(topics),
      discoveryWildcard(topics),
      `${topics.baseTopic}/contract/+/state`,
      `${topics.baseTopic}/firmware/+/state`,
      // Our `online`, which someone else's `offline` would turn every entity unavailable with.
      availabilityTopic(topics),
    ];
  }

  get connected(): boolean {
    return !this.closed && this.broker?.connected === true;
  }

  /**
   * Keeps `payload` published, retained, on `topic` ('' removes the retained message). Sends
   * only what changed; registers with the broker on first use. While the broker is away the
   * latest payload per topic waits and goes out on (re)connection.
   */
  retain(topic: string, payload: string, owner?: string): void {
    if (owner !== undefined && payload !== '') {
      const set = this.owners.get(topic) ?? new Set<string>();
      set.add(owner);
      this.owners.set(topic, set);
    }
    if (this.closed) return;
    if (payload === '') return this.remove(topic);
    if (this.retained.get(topic) === payload) return;
    this.retained.set(topic, payload);
    this.start();
    if (this.connected) this.send(topic, payload);
  }

  private remove(topic: string): void {
    if (this.retained.get(topic) === '') return;
    this.start();
    if (this.connected) {
      this.retained.delete(topic);
      this.send(topic, '');
    } else this.retained.set(topic, '');
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
    // Register even with no node announcing anything, to clear what earlier runs left.
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
    if (this.owners.has(topic)) return;
    this.found.delete(topic);
    this.remove(topic);
  }

  private received(topic: string, payload: Buffer, retain: boolean): void {
    if (this.closed) return;
    if (topic === haStatusTopic(this.topics)) {
      if (payload.toString('utf8') === PAYLOAD_ONLINE) this.births.request();
    } else if (!this.watch.seen(topic, (ours) => payloadIs(payload, ours)) && retain) this.seen(topic, payload);
  }

  /** What we keep published on `topic` ('' while its removal waits, undefined when nothing); `online` on our availability topic. */
  private ownPayload(topic: string): string | undefined {
    return topic === availabilityTopic(this.topics) ? PAYLOAD_ONLINE : this.retained.get(topic);
  }

  /** A retained message on our subscriptions: remember (and, once settled, clear) this gateway's stale ones. */
  private seen(topic: string, payload: Buffer): void {
    if (payload.length === 0) {
      this.found.delete(topic);
      return;
    }
    if (!this.isOurs(topic, payload)) return;
    if (this.settled) return this.clearIfOrphan(topic);
    // Past the bound the rest waits for the next (re)subscription, which delivers them again.
    if (this.found.size < MAX_FOUND) this.found.add(topic);
  }

  private isOurs(topic: string, payload: Buffer): boolean {
    const t = this.topics;
    if (topic.startsWith(`${t.baseTopic}/`)) return topic.endsWith('/state');
    if (!topic.startsWith(`${t.discoveryPrefix}/`) || !topic.endsWith('/config') || payload.length > MAX_HA_CONFIG_BYTES) return false;
    try {
      const config = JSON.parse(payload.toString('utf8')) as { availability_topic?: unknown; origin?: { name?: unknown } };
      return config.availability_topic === availabilityTopic(t) && config.origin?.name === PACKAGE_NAME;
    } catch {
      return false;
    }
  }

  /**
   * Publishes `offline` (retained) while the broker is still up, then leaves it (`removed`: the
   * broker node may disconnect when nobody else uses it). Safe to call twice.
   */
  async close(removed = false): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.births.cancel();
    this.watch.close();
    const broker = this.broker;
    if (!broker || !this.started) return;
    for (const topic of this.subscriptions) broker.unsubscribe(topic, this.id, true);
    // A broker node stopping in the same deploy is already disconnecting: its close message says offline.
    if (broker.connected && !broker.closing) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, CLOSE_TIMEOUT_MS);
        timer.unref();
        broker.publish({ topic: availabilityTopic(this.topics), payload: PAYLOAD_OFFLINE, qos: QOS, retain: true }, () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    await new Promise<void>((resolve) => broker.deregister(this.user, resolve, removed));
  }

  /** The broker node reports every change of its connection to its users: send everything on (re)connection. */
  private brokerChanged(): void {
    const now = this.connected;
    if (now && !this.wasConnected) this.sendAll();
    this.wasConnected = now;
  }

  private send(topic: string, payload: string): void {
    this.broker?.publish({ topic, payload, qos: QOS, retain: true }, (err) => this.failed(err));
  }

  // A publication that fails because the connection went is sent again on reconnection: only
  // failures while connected count, each distinct one reported once.
  private failed(err: unknown): void {
    if (!err || !this.connected) return;
    const message = err instanceof Error ? err.message : typeof err === 'string' ? err : 'publication failed';
    if (message === this.lastError) return;
    this.lastError = message;
    this.log?.warn(`Home Assistant MQTT: ${message}`);
  }

  private sendAll(): void {
    if (!this.connected) return;
    for (const [topic, payload] of this.retained) {
      if (payload === '') this.retained.delete(topic);
      this.send(topic, payload);
    }
    this.send(availabilityTopic(this.topics), PAYLOAD_ONLINE);
  }

  private start(): void {
    const broker = this.broker;
    if (this.started || this.closed || !broker) return;
    this.started = true;
    const onMessage = (topic: string, payload: Buffer, packet: { retain?: boolean }): void => this.received(topic, payload, packet.retain === true);
    // Stored by the broker node and subscribed again on each reconnection; the retained configs
    // and states then arrive again, which is how stale ones are found.
    for (const topic of this.subscriptions) broker.subscribe(topic, { qos: 0 }, onMessage, this.id);
    broker.register(this.user);
    this.brokerChanged();
  }
}

/** A deployed `iot-ledger-ha` config node. */
export interface HaConfigNode extends Node {
  topics: HaTopics;
  /** The shared connection (registered with the broker on first publication). */
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
