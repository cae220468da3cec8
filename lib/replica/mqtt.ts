// Fetching tile resources over MQTT (lib/tiles/mqtt.ts has the topics): the checkpoint, head
// and meta are the gateway's retained messages, kept up to date by one subscription (a `check`
// keeps a message that is not one, from anyone who can publish there, from replacing them); a tile is
// asked for on `<base>/request` and arrives on `<base>/<path>` (retained when it is a full tile).
// The bytes are the HTTP bodies, so the Replicator verifies them exactly as over HTTP.
import type * as mqtt from 'mqtt';
import { connectBoundedMqtt } from '../guards/bounded-mqtt';
import { LedgerError } from '../errors';
import { CHECKPOINT_PATH, HEAD_PATH, META_PATH } from '../tiles/path';
import { againRequest, MAX_PATH_BYTES, requestTopic, resourceTopic } from '../tiles/mqtt';
import type { TileFetch, TileFetchOptions } from '../tiles/verify';
import { httpTileFetch, MAX_TILE_BODY_BYTES, maxResourceBytes, type HttpFetchOptions } from './http';

export interface MqttFetchOptions {
  /** Per-resource timeout in ms (default 30000). */
  timeoutMs?: number;
  username?: string;
  password?: string;
  /** The largest packet taken from the broker (default: a tile body as over HTTP, plus topic and header). */
  maxPacketBytes?: number;
  /**
   * Checks a message on a retained topic (checkpoint, head, meta) before it replaces the one held:
   * one that fails is passed over (counted in `passedOver`), and the one held stays.
   */
  check?: RetainedCheck;
}

/** Whether `payload`, come on the topic of `path`, is that resource; `held(p)` is what is held for `p` now. */
export type RetainedCheck = (path: string, payload: Uint8Array, held: (path: string) => Uint8Array | undefined) => boolean;

/** A tile body at most as over HTTP, its topic (base and path) and 1 KiB of fixed header and properties. */
export const replicaMqttPacketLimit = (base: string): number => MAX_TILE_BODY_BYTES + Buffer.byteLength(base) + MAX_PATH_BYTES + 1024;

export type ClosableTileFetch = TileFetch & { close(): Promise<void> };

/** A ClosableTileFetch over MQTT, and how many messages on the retained topics its check passed over. */
export type MqttTileFetch = ClosableTileFetch & { readonly passedOver: number };

const RETAINED = [META_PATH, HEAD_PATH, CHECKPOINT_PATH];

/**
 * How long a fetch of a tile whose bytes failed verification waits for the gateway's fresh answer
 * (asked for with againRequest) before it takes the retained copy as before (a gateway that does
 * not know that request publishes a full tile again only after REPUBLISH_MS).
 */
export const FRESH_WAIT_MS = 5000;
/** Tiles remembered as rejected at most (the oldest forgotten first): a round fails at its first bad tile. */
export const MAX_REJECTED = 64;

/** Splits `mqtt://host:port/<base>` into the broker URL and the topic base. */
export function splitTileMqttUrl(url: string): { broker: string; base: string } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new LedgerError('ERR_INVALID_ARGUMENT', `not a URL: ${url}`);
  }
  if (u.protocol !== 'mqtt:' && u.protocol !== 'mqtts:') throw new LedgerError('ERR_INVALID_ARGUMENT', `not an mqtt(s) URL: ${url}`);
  const base = decodeURIComponent(u.pathname.replace(/^\/+|\/+$/g, ''));
  if (!base || /[#+?]/.test(url)) throw new LedgerError('ERR_INVALID_ARGUMENT', `an MQTT tiles URL needs the topic base as its path, e.g. mqtt://broker:1883/iot-ledger/coldroom: ${url}`);
  return { broker: `${u.protocol}//${u.host}`, base };
}

/** A TileFetch over the broker and topic base of `url` (mqtt://host:port/<base>). */
export function mqttTileFetch(url: string, opts: MqttFetchOptions = {}): MqttTileFetch {
  const { broker, base } = splitTileMqttUrl(url);
  const timeout = opts.timeoutMs ?? 30_000;
  // Anyone who can publish on the tile topics can send megabytes: the broker is asked (MQTT 5)
  // or the connection is cut (3.1.1) before a packet larger than any tile is held.
  const client = connectBoundedMqtt(broker, opts.maxPacketBytes ?? replicaMqttPacketLimit(base), {
    clientIdPrefix: 'iot-ledger-replica',
    connectTimeoutMs: Math.min(timeout, 10_000),
    ...(opts.username ? { username: opts.username, password: opts.password ?? '' } : {}),
  });
  client.on('error', () => undefined); // surfaced as fetch timeouts; mqtt.js reconnects
  const latest = new Map<string, Buffer>();
  let passedOver = 0;
  /** The fetches waiting for each path: each is ended with the payload or an error. */
  const waiting = new Map<string, Set<(err: Error | null, b?: Buffer) => void>>();
  const fail = (path: string, message: string, details: Record<string, unknown> = {}): LedgerError =>
    new LedgerError('ERR_REPLICA_FETCH', message, { path, ...details });
  const retainedTopics = new Map(RETAINED.map((p) => [resourceTopic(base, p), p]));
  let subscribed: Promise<void> | null = null;
  const subscribeRetained = (): Promise<void> =>
    new Promise((resolve, reject) => {
      client.subscribe([...retainedTopics.keys()], { qos: 1 }, (err) => (err ? reject(err) : resolve()));
    });
  /**
   * Tiles whose subscription went out on a connection that closed before the broker took it (the
   * MQTT 5 attempt a 3.1.1 broker refuses, or a connection lost): asked for again on the next one.
   */
  const unasked = new Set<string>();
  /** Connections made so far: a subscription lost with an earlier one is sent again at once. */
  let connections = 0;
  /** Tiles whose bytes failed verification (fetch.rejected): the next fetch of each takes only a fresh answer. */
  const rejected = new Set<string>();
  /** Tiles being fetched that way now: a retained delivery on their topic is passed over, the gateway asked to publish again. */
  const fresh = new Set<string>();
  /**
   * Subscribes to the tile's topic, then asks for it (not for a fetch cancelled, with no other
   * waiting, before the broker answered: the server would read and send it). The SUBSCRIBE is
   * sent even when mqtt.js holds the topic as subscribed (it subscribes again on its own when it
   * reconnects, and reports nothing of that), so a refusal reaches the fetch.
   */
  const ask = (path: string): void => {
    const topic = resourceTopic(base, path);
    const sentOn = connections;
    client.subscribe({ [topic]: { qos: 1 }, resubscribe: true } as mqtt.ISubscriptionMap, (err) => {
      const fns = waiting.get(path);
      if (!fns) return;
      if (!err) return void client.publish(requestTopic(base), fresh.has(path) ? againRequest(path) : path, { qos: 1 });
      // The broker's SUBACK refused it, or was malformed (mqtt.js closes the connection then):
      // asking again would get the same answer.
      const suback = (err as Error & { packet?: { cmd?: unknown; granted?: unknown } }).packet;
      if (suback?.cmd === 'suback') {
        const granted: unknown[] = Array.isArray(suback.granted) ? suback.granted : [];
        const reason = granted.find((g): g is number => typeof g === 'number' && g >= 0x80);
        const failure =
          reason === undefined
            ? fail(path, `the SUBACK of ${broker} for ${topic} was malformed (${granted.length} reason codes for one subscription): ${err.message}`, { reasonCodes: granted.length })
            : fail(path, `${broker} refused the subscription to ${topic} (reason code ${reason}): ${err.message}`, { reason });
        for (const fn of [...fns]) fn(failure);
      } else if (client.connected && sentOn !== connections) ask(path);
      else unasked.add(path);
    });
  };
  client.on('connect', () => {
    connections++;
    subscribed = subscribeRetained();
    subscribed.catch(() => undefined);
    for (const path of [...unasked]) {
      unasked.delete(path);
      if (waiting.has(path)) ask(path);
    }
  });
  client.on('message', (topic, payload, packet) => {
    const retained = retainedTopics.get(topic);
    const path = retained ?? (topic.startsWith(`${base}/`) ? topic.slice(base.length + 1) : undefined);
    // Larger than the resource can be (anyone can publish on these topics): not it, and not held
    // (as over HTTP, where such a body is cut off); the fetch waits for the real one.
    if (path !== undefined && payload.length > maxResourceBytes(path)) return;
    if (retained !== undefined) {
      // Anyone may publish here: without this, one message would replace the resource until the
      // gateway publishes it again (on an idle gateway, never).
      if (opts.check && !opts.check(retained, payload, (p) => latest.get(p))) return void passedOver++;
      if (payload.length === 0) latest.delete(retained);
      else latest.set(retained, payload);
    }
    if (path === undefined || payload.length === 0) return;
    // The broker's copy, which someone may have replaced after the gateway published it: for a
    // tile rejected before, only the gateway's publication, forwarded as it comes, is taken.
    if (packet.retain && fresh.has(path)) return;
    const fns = waiting.get(path);
    if (fns) for (const fn of [...fns]) fn(null, payload);
  });

  /** The fetches waiting, each ended by close() at once (not at its timeout). */
  const pending = new Set<() => void>();
  let closed = false;

  const wait = (path: string, start: () => void, cancel?: AbortSignal): Promise<Buffer> =>
    new Promise<Buffer>((resolve, reject) => {
      if (closed) return reject(fail(path, `cannot fetch ${path}: the fetch is closed`));
      if (cancel?.aborted) return reject(fail(path, `fetching ${path} was cancelled`));
      const fns = waiting.get(path) ?? new Set<(err: Error | null, b?: Buffer) => void>();
      waiting.set(path, fns);
      const cancelled = (): void => done(fail(path, `fetching ${path} was cancelled`));
      const closing = (): void => done(fail(path, `cannot fetch ${path}: the fetch is closed`));
      const done = (err: Error | null, b?: Buffer): void => {
        clearTimeout(timer);
        cancel?.removeEventListener('abort', cancelled);
        pending.delete(closing);
        fns.delete(done);
        if (fns.size === 0) waiting.delete(path);
        if (err) reject(err);
        else resolve(b as Buffer);
      };
      // A retained resource nobody published (no block sealed yet) looks like HTTP's 404.
      const timer = setTimeout(
        () => done(fail(path, `no ${path} from ${broker} on ${resourceTopic(base, path)} within ${timeout} ms`, retainedTopics.has(resourceTopic(base, path)) ? { status: 404 } : {})),
        timeout,
      );
      fns.add(done);
      pending.add(closing);
      cancel?.addEventListener('abort', cancelled, { once: true });
      start();
    });

  const fetch = async (path: string, { signal }: TileFetchOptions = {}): Promise<Uint8Array> => {
    if (closed) throw fail(path, `cannot fetch ${path}: the fetch is closed`);
    if (RETAINED.includes(path)) {
      const have = latest.get(path);
      if (have) return new Uint8Array(have);
      return new Uint8Array(await wait(path, () => undefined, signal));
    }
    const again = rejected.delete(path);
    if (again) fresh.add(path);
    let fallback: NodeJS.Timeout | undefined;
    const start = (): void => {
      ask(path);
      if (!again) return;
      // No fresh answer (a gateway that ignores againRequest): asked for as before, then subscribed
      // again, so the retained copy comes again and is taken (it may come before the SUBACK, and
      // end the fetch before ask() would send the request).
      fallback = setTimeout(() => {
        if (!fresh.delete(path) || !waiting.has(path)) return;
        client.publish(requestTopic(base), path, { qos: 1 });
        ask(path);
      }, Math.min(FRESH_WAIT_MS, timeout / 2));
    };
    try {
      return new Uint8Array(await wait(path, start, signal));
    } catch (err) {
      // Not fetched (cancelled, timed out): still to be fetched fresh next time.
      if (again) reject(path);
      throw err;
    } finally {
      clearTimeout(fallback);
      if (!waiting.has(path)) {
        fresh.delete(path);
        client.unsubscribe(resourceTopic(base, path));
      }
    }
  };
  const reject = (path: string): void => {
    if (RETAINED.includes(path)) return; // kept right by `check`
    rejected.delete(path);
    rejected.add(path);
    for (const oldest of rejected) {
      if (rejected.size <= MAX_REJECTED) break;
      rejected.delete(oldest);
    }
  };
  // A getter, which Object.assign would read once.
  Object.defineProperty(fetch, 'passedOver', { get: () => passedOver, enumerable: true });
  return Object.assign(fetch as typeof fetch & { readonly passedOver: number }, {
    rejected: reject,
    close: () => {
      closed = true;
      for (const end of [...pending]) end();
      // Forced: a request the broker has not acknowledged (a broker gone or stalled) would keep
      // a graceful end waiting for ever, and the replica's directory with it. Nothing is owed.
      return new Promise<void>((resolve) => client.end(true, {}, () => resolve()));
    },
  });
}

/** HTTP(S) or MQTT by the URL's scheme; `close()` ends the MQTT connection or the kept-alive HTTP ones. */
export function tileFetchFor(url: string, opts: HttpFetchOptions & MqttFetchOptions = {}): ClosableTileFetch {
  if (/^mqtts?:/i.test(url)) return mqttTileFetch(url, opts);
  return httpTileFetch(url, opts);
}
