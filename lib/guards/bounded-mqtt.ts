// An MQTT connection that does not take a packet larger than `maxPacketBytes` from a broker that
// may relay anyone's messages (the witness, the gateway's witness transport, a tile server).
//   - MQTT 5: the CONNECT announces `maxPacketBytes` as its Maximum Packet Size, and the broker
//     must not deliver a larger packet (it drops the message for this client).
//   - A broker that refuses MQTT 5 (CONNACK 1 or 132: Aedes, mosquitto 1.x) gets MQTT 3.1.1 on the
//     next attempt. 3.1.1 cannot ask for a limit, so the connection is ended as soon as a packet
//     announces more (mqtt.js would hold it whole before looking) and the client connects again.
// The guard watches every connection, whatever the version: a broker that ignores the MQTT 5
// limit is cut off the same way.
import { randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import * as mqtt from 'mqtt';
import { LedgerError } from '../errors';

/**
 * Follows the MQTT framing of what a broker sends (fixed header: a type byte, then the remaining
 * length in 1-4 bytes of 7 bits) without buffering it, and reports a packet announcing more than
 * `max` bytes (or a malformed length) as soon as its header arrives.
 */
export class IncomingPacketGuard {
  private skip = 0;
  private header = 0; // bytes of the fixed header seen: 0 none, 1 the type byte, 2.. length bytes
  private type = 0;
  private length = 0;
  private multiplier = 1;
  /** The topic of the retained PUBLISH that was over the limit, when its first bytes came with its header. */
  retainedTopic: string | undefined;

  constructor(private readonly max: number) {}

  /** False once a packet is over the limit (the connection should end: its bytes are already on the way). */
  push(chunk: Uint8Array): boolean {
    let i = 0;
    while (i < chunk.length) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - i);
        this.skip -= n;
        i += n;
        continue;
      }
      const byte = chunk[i++]!;
      if (this.header === 0) {
        this.header = 1;
        this.type = byte;
        continue;
      }
      this.length += (byte & 0x7f) * this.multiplier;
      this.multiplier *= 128;
      this.header++;
      if (byte & 0x80) {
        if (this.header > 4) return false; // a fifth length byte: not MQTT
        continue;
      }
      const total = this.header + this.length;
      if (total > this.max) {
        this.retainedTopic = retainedPublishTopic(this.type, chunk.subarray(i));
        return false;
      }
      this.skip = this.length;
      this.header = 0;
      this.length = 0;
      this.multiplier = 1;
    }
    return true;
  }
}

/** PUBLISH (type 3) with the RETAIN flag: its variable header starts with the topic (2-byte length, UTF-8). */
function retainedPublishTopic(type: number, rest: Uint8Array): string | undefined {
  if (type >> 4 !== 3 || (type & 1) === 0 || rest.length < 2) return undefined;
  const length = (rest[0]! << 8) | rest[1]!;
  if (length === 0 || rest.length < 2 + length) return undefined;
  const topic = Buffer.from(rest.buffer, rest.byteOffset + 2, length).toString('utf8');
  // A wildcard, NUL or broken UTF-8 could not be published on: not a topic to clear.
  return /[+#\ufffd]/.test(topic) || topic.includes('\u0000') ? undefined : topic;
}

/** Retained topics cleared at most per connection: each connection cut clears at least one. */
const MAX_CLEARS = 16;

export interface BoundedMqttOptions {
  /** The client id is this, a dash and 12 random hex digits. */
  clientIdPrefix: string;
  username?: string;
  password?: string;
  /** mqtt.js's connectTimeout (default 30 s). */
  connectTimeoutMs?: number;
  /** The broker refused MQTT 5: the client connects again with MQTT 3.1.1, guarded but without a Maximum Packet Size. */
  onMqtt311?: () => void;
  /** mqtt.js subscribes again to every topic on its own on each new connection (default true). */
  resubscribe?: boolean;
  /**
   * A retained message larger than the limit on a topic this accepts (one the client reads but
   * nobody should retain on: a request topic) is cleared (an empty retained message) first thing
   * on the next connection: a broker without MQTT 5 would send it again with every subscription,
   * and the guard would end every connection.
   */
  clearRetained?: (topic: string) => boolean;
}

/** CONNACK codes of a broker that does not speak MQTT 5: 3.1.1's "unacceptable protocol version", 5's "unsupported protocol version". */
const UNSUPPORTED_PROTOCOL = new Set<unknown>([1, 132]);

/** mqtt.js's private stream factory, called for every (re)connection. */
interface StreamBuilding {
  streamBuilder: (client: mqtt.MqttClient) => Duplex;
}

/** Why the guard cannot wrap this mqtt.js: it would silently stop applying, so nothing connects. */
function unguardable(what: string): LedgerError {
  return new LedgerError('ERR_INTERNAL', `the MQTT packet-size guard cannot apply: ${what} (this pack is tested with mqtt 5.16; install that release)`);
}

/**
 * Connects to `url` (mqtt://host:port or mqtts://) with MQTT 5 and `maxPacketBytes` as the
 * Maximum Packet Size, reconnecting every 2 s, falling back to MQTT 3.1.1 once if the broker
 * refuses MQTT 5; every connection ends as soon as the broker sends a packet announcing more
 * than `maxPacketBytes`. Throws ERR_INTERNAL, connecting nothing, when the installed mqtt.js
 * does not build its connection through the stream factory the guard wraps.
 */
export function connectBoundedMqtt(url: string, maxPacketBytes: number, opts: BoundedMqttOptions): mqtt.MqttClient {
  const client = mqtt.connect(url, {
    protocolVersion: 5,
    properties: { maximumPacketSize: maxPacketBytes },
    reconnectPeriod: 2000,
    clientId: `${opts.clientIdPrefix}-${randomBytes(6).toString('hex')}`,
    manualConnect: true,
    ...(opts.resubscribe === false ? { resubscribe: false } : {}),
    ...(opts.connectTimeoutMs !== undefined ? { connectTimeout: opts.connectTimeoutMs } : {}),
    ...(opts.username ? { username: opts.username, password: opts.password ?? '' } : {}),
  });
  const inner = client as unknown as StreamBuilding;
  const build = inner.streamBuilder;
  if (typeof build !== 'function') throw unguardable('mqtt.js has no streamBuilder');
  const guarded = new WeakSet<object>();
  inner.streamBuilder = (c) => {
    const stream = build(c);
    guarded.add(stream);
    const guard = new IncomingPacketGuard(maxPacketBytes);
    // Registered before mqtt.js pipes the stream into its parser: the parser sees at most the chunk
    // that announced the packet, then the stream is gone (and a new parser comes with the next one).
    stream.on('data', (chunk: Buffer) => {
      if (stream.destroyed || guard.push(chunk)) return;
      const topic = guard.retainedTopic;
      if (topic !== undefined && clears.size < MAX_CLEARS && opts.clearRetained?.(topic)) clears.add(topic);
      stream.destroy();
    });
    return stream;
  };
  const clears = new Set<string>();
  // Published while disconnected at QoS 0, a message waits in mqtt.js's queue, which goes out on
  // the next connection before any subscription (its own or its owner's).
  client.on('close', () => {
    for (const topic of clears) client.publish(topic, Buffer.alloc(0), { qos: 0, retain: true });
    clears.clear();
  });
  client.on('error', (err: Error & { code?: unknown }) => {
    // mqtt.js reconnects after a refused CONNACK only when asked to (read right after this event):
    // once, for the fallback; a later refusal (a wrong login) stops as it would without it.
    client.options.reconnectOnConnackError = false;
    if (client.options.protocolVersion !== 5 || !UNSUPPORTED_PROTOCOL.has(err.code)) return;
    client.options.protocolVersion = 4;
    delete client.options.properties;
    client.options.reconnectOnConnackError = true;
    opts.onMqtt311?.();
  });
  client.connect();
  // mqtt.js builds the stream inside connect(); a release that builds it elsewhere is refused here.
  if (!guarded.has(client.stream)) {
    // No reconnect: with manualConnect, mqtt.js would connect again once the forced end closed the stream.
    client.options.reconnectPeriod = 0;
    client.end(true);
    throw unguardable('mqtt.js connected without calling streamBuilder');
  }
  return client;
}
