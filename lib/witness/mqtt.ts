// The witness protocol over MQTT, with the same request and response bodies as HTTP.
//
// Requests go to `<base>/add-checkpoint`; `<base>` is the witness's topic (default
// `iot-ledger/witness/<witness name>`). Two ways to get the answer:
//   - MQTT 5: publish to `<base>/add-checkpoint` with a Response Topic under `<base>/response/`
//     and Correlation Data; the answer comes on that topic with the same Correlation Data, the
//     HTTP status in the user property `status` and the Content Type property set. A request
//     naming any other Response Topic is dropped unanswered: whoever can publish a request
//     must not make the witness publish, under its broker identity, on topics of its choosing.
//   - any MQTT version: publish to `<base>/add-checkpoint/<request id>` (id: 1-64 of
//     A-Z a-z 0-9 _ -); the answer comes on `<base>/response/<request id>/<HTTP status>`.
// The witness connects with MQTT 5 and a Maximum Packet Size: a larger request never reaches it
// (the broker drops it) and goes unanswered; one of up to that size but a body over 64 KiB is a 400.
// On a broker without MQTT 5 it connects with 3.1.1 (the topic pair only), and a larger packet
// ends its connection as soon as it announces itself (lib/guards/bounded-mqtt.ts).
// The gateway's side (mqttTransport) connects with the same Maximum Packet Size (or, on an MQTT
// 3.1.1 broker, ends its connection when a larger packet announces itself) and ignores an answer
// over 64 KiB: whoever sees a request id cannot make it hold a message of megabytes.
// Anyone who can publish on the broker can send requests, each costing a signature check, a
// consistency proof, a signing and a durable write: at most MAX_ACTIVE_MQTT_REQUESTS are handled
// at once and MAX_WAITING_MQTT_REQUESTS wait; the rest are dropped unanswered (an answer each
// would be work the flood multiplies; the requester asks again), counted, and reported together
// at most once per DROP_REPORT_MS.
import { randomBytes } from 'node:crypto';
import type * as mqtt from 'mqtt';
import { fromUtf8 } from '../encoding/bytes';
import { connectBoundedMqtt } from '../guards/bounded-mqtt';
import { isLedgerError, LedgerError } from '../errors';
import { CountReporter } from '../guards/count-reporter';
import { Turns } from '../guards/turns';
import { httpTransport, type Transport } from './client';
import { MAX_REQUEST_BYTES } from './request';
import type { WitnessReply } from './service';

const REQUEST_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** Requests handled at once by one MQTT witness. */
export const MAX_ACTIVE_MQTT_REQUESTS = 4;
/** Requests waiting for a turn beyond those (each holds at most one packet); more are dropped. */
export const MAX_WAITING_MQTT_REQUESTS = 32;
/** Dropped requests are reported at most once per this interval, with their count. */
export const DROP_REPORT_MS = 60_000;

/**
 * The MQTT 5 Maximum Packet Size the witness announces when it connects: a request body's limit
 * plus room for the topic and properties. The broker must not send it a larger packet (it drops
 * the message for the witness), so a request of megabytes is never held whole to be refused.
 */
export const MAX_WITNESS_MQTT_PACKET_BYTES = MAX_REQUEST_BYTES + 16 * 1024;

/** Whether an MQTT 5 requester's Response Topic lies in the witness's own `<base>/response/` namespace. */
export function isOwnResponseTopic(base: string, topic: string | undefined): boolean {
  const prefix = `${base}/response/`;
  if (topic === undefined || !topic.startsWith(prefix)) return false;
  const rest = topic.slice(prefix.length);
  // Wildcards or NUL in a topic to publish on would be a protocol error: the broker drops the witness.
  return rest.length > 0 && !/[+#]/.test(rest) && !rest.includes('\u0000');
}

export interface WitnessMqttOptions {
  /** mqtt://host:port (or mqtts://). */
  url: string;
  base: string;
  handle: (body: string) => Promise<WitnessReply>;
  onError?: (err: Error) => void;
  /** The broker refused MQTT 5: the witness connects again with MQTT 3.1.1 (the topic pair only), guarded but without a Maximum Packet Size. */
  onMqtt311?: () => void;
  /** Requests dropped since the last report (the queue was full); at most once per `limits.reportMs`, the first at once. */
  onDropped?: (dropped: number) => void;
  /** Defaults MAX_ACTIVE_MQTT_REQUESTS, MAX_WAITING_MQTT_REQUESTS and DROP_REPORT_MS (tests change them). */
  limits?: { maxActive?: number; maxWaiting?: number; reportMs?: number };
}

export interface WitnessMqttStats {
  /** Requests received (on a request topic, not retained, not empty), handled now, waiting now, and the most that ever waited at once. */
  received: number;
  active: number;
  waiting: number;
  peakWaiting: number;
  /** Requests answered, and dropped unanswered because every turn and place in the queue was taken. */
  answered: number;
  dropped: number;
}

export interface WitnessMqttServer {
  ready: Promise<void>;
  readonly stats: Readonly<WitnessMqttStats>;
  close(): Promise<void>;
}

/** Serves add-checkpoint requests on the broker at `url`. */
export function serveWitnessMqtt(opts: WitnessMqttOptions): WitnessMqttServer {
  const base = opts.base.replace(/\/+$/, '');
  const request = `${base}/add-checkpoint`;
  const turns = new Turns({ maxActive: opts.limits?.maxActive ?? MAX_ACTIVE_MQTT_REQUESTS, maxWaiting: opts.limits?.maxWaiting ?? MAX_WAITING_MQTT_REQUESTS }, 'witness requests');
  const stats: WitnessMqttStats = { received: 0, active: 0, waiting: 0, peakWaiting: 0, answered: 0, dropped: 0 };
  const drops = new CountReporter(opts.limits?.reportMs ?? DROP_REPORT_MS, opts.onDropped);
  const counted = (): void => {
    stats.active = turns.active;
    stats.waiting = turns.waiting;
    stats.peakWaiting = Math.max(stats.peakWaiting, stats.waiting);
  };
  const client = connectBoundedMqtt(opts.url, MAX_WITNESS_MQTT_PACKET_BYTES, {
    clientIdPrefix: 'iot-ledger-witness',
    ...(opts.onMqtt311 ? { onMqtt311: opts.onMqtt311 } : {}),
    // Nobody retains a request; one too large, retained, would end every connection on a 3.1.1 broker.
    clearRetained: (topic) => topic === request || topic.startsWith(`${request}/`),
  });
  const ready = new Promise<void>((resolve) => {
    client.on('connect', () => {
      client.subscribe([request, `${request}/+`], { qos: 1 }, (err) => {
        if (err) opts.onError?.(err);
        else resolve();
      });
    });
  });
  client.on('error', (err) => opts.onError?.(err));
  client.on('message', (topic, payload, packet) => {
    // Sent because the witness subscribed (a request someone retained) or MQTT's deletion of a
    // retained message: no request. Answered, retained requests would come back with every
    // connection, each a request again: whoever retains thousands would have them all handled
    // again at each reconnection. The witness clears them instead.
    if (packet.retain) {
      if (payload.length > 0) client.publish(topic, Buffer.alloc(0), { qos: 0, retain: true });
      return;
    }
    if (payload.length === 0) return;
    const rest = topic === request ? '' : topic.slice(request.length + 1);
    const props = packet.properties ?? {};
    if (rest && !REQUEST_ID.test(rest)) return;
    if (!rest && !isOwnResponseTopic(base, props.responseTopic)) return;
    stats.received++;
    const answer = (reply: WitnessReply) => {
      stats.answered++;
      if (rest) client.publish(`${base}/response/${rest}/${reply.status}`, reply.body, { qos: 1 });
      else
        client.publish(props.responseTopic!, reply.body, {
          qos: 1,
          properties: { correlationData: props.correlationData, contentType: reply.contentType, userProperties: { status: String(reply.status) } },
        });
    };
    const serve = async (): Promise<void> => {
      let body: string;
      try {
        if (payload.length > MAX_REQUEST_BYTES) throw new Error('request body is too large');
        body = fromUtf8(payload);
      } catch (err) {
        answer({ status: 400, contentType: 'text/plain; charset=utf-8', body: `${(err as Error).message}\n` });
        return;
      }
      // A failure inside (the state, the disk) is answered with its code only, as over HTTP.
      await opts.handle(body).then(answer, (err: unknown) => answer({ status: 500, contentType: 'text/plain; charset=utf-8', body: `${isLedgerError(err) ? err.code : 'ERR_INTERNAL'}\n` }));
    };
    turns
      .run(async () => {
        counted();
        await serve();
      })
      .catch((err: unknown) => {
        // ERR_OVERLOADED: every turn and place taken; any other: waiting when the witness closed.
        if (isLedgerError(err, 'ERR_OVERLOADED')) {
          stats.dropped++;
          drops.add();
        }
      })
      .finally(counted);
    counted();
  });
  return {
    ready,
    stats,
    // Forced: an answer the broker has not acknowledged (a broker gone or stalled) would keep a
    // graceful end, and the node's redeploy, waiting for ever; the requester asks again.
    close: () => {
      turns.close(new Error('the MQTT witness is closed'));
      drops.close();
      return new Promise<void>((resolve) => client.end(true, {}, () => resolve()));
    },
  };
}

/** Splits `mqtt://host:port/<base>` into the broker URL and the witness's topic. */
export function splitMqttUrl(url: string): { broker: string; base: string } {
  const u = new URL(url);
  const base = decodeURIComponent(u.pathname.replace(/^\/+|\/+$/g, ''));
  if (!base) throw new LedgerError('ERR_INVALID_ARGUMENT', `MQTT witness URL needs the witness topic as its path: ${url}`);
  return { broker: `${u.protocol}//${u.host}`, base };
}

/**
 * The gateway's MQTT transport (the topic pair, which works on MQTT 3.1.1 and 5 brokers):
 * one connection per broker, one subscription per request. Request ids are 96 random bits; a
 * reply over MAX_REQUEST_BYTES (64 KiB) is ignored, one over MAX_WITNESS_MQTT_PACKET_BYTES never
 * arrives whole (see connectBoundedMqtt).
 */
export function mqttTransport(timeoutMs = 10_000): Transport & { close(): Promise<void> } {
  const clients = new Map<string, mqtt.MqttClient>();
  const clientFor = (broker: string): mqtt.MqttClient => {
    let c = clients.get(broker);
    if (!c) {
      c = connectBoundedMqtt(broker, MAX_WITNESS_MQTT_PACKET_BYTES, { clientIdPrefix: 'iot-ledger-gateway' });
      clients.set(broker, c);
    }
    return c;
  };
  const transport = async (endpoint: { url: string }, body: string) => {
    const { broker, base } = splitMqttUrl(endpoint.url);
    const c = clientFor(broker);
    if (!c.connected) await new Promise<void>((resolve, reject) => {
      const onConnect = (): void => {
        clearTimeout(t);
        resolve();
      };
      const t = setTimeout(() => {
        c.off('connect', onConnect);
        reject(new LedgerError('ERR_WITNESS_REFUSED', `MQTT broker ${broker} is not reachable`));
      }, timeoutMs);
      c.once('connect', onConnect);
    });
    const id = randomBytes(12).toString('hex');
    const replies = `${base}/response/${id}/+`;
    return new Promise<{ status: number; body: string }>((resolve, reject) => {
      const done = (err: Error | null, r?: { status: number; body: string }) => {
        clearTimeout(timer);
        c.off('message', onMessage);
        c.unsubscribe(replies);
        if (err) reject(err);
        else resolve(r!);
      };
      const onMessage = (topic: string, payload: Buffer) => {
        const prefix = `${base}/response/${id}/`;
        if (!topic.startsWith(prefix) || payload.length > MAX_REQUEST_BYTES) return;
        done(null, { status: Number(topic.slice(prefix.length)), body: payload.toString('utf8') });
      };
      const timer = setTimeout(() => done(new LedgerError('ERR_WITNESS_REFUSED', `no answer from the witness at ${endpoint.url} within ${timeoutMs} ms`)), timeoutMs);
      c.on('message', onMessage);
      c.subscribe(replies, { qos: 1 }, (err) => {
        if (err) return done(err);
        c.publish(`${base}/add-checkpoint/${id}`, body, { qos: 1 });
      });
    });
  };
  return Object.assign(transport, {
    close: async () => {
      // Forced, as the witness's own: a request the broker has not acknowledged is owed nothing.
      await Promise.all([...clients.values()].map((c) => new Promise<void>((r) => c.end(true, {}, () => r()))));
      clients.clear();
    },
  });
}

/** HTTP(S) or MQTT by the witness URL's scheme. */
export function autoTransport(timeoutMs = 10_000): Transport & { close(): Promise<void> } {
  const http = httpTransport(timeoutMs);
  const mq = mqttTransport(timeoutMs);
  const t: Transport = (endpoint, body) => (/^mqtts?:/.test(endpoint.url) ? mq(endpoint, body) : http(endpoint, body));
  return Object.assign(t, { close: () => mq.close() });
}
