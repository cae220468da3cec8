// The same tiles over MQTT, for gateways that only share a broker (docs/FORMAT.md, "Tiles over MQTT").
//
// Every resource has a topic: `<base>/<path>` with the HTTP path (`<base>/checkpoint`,
// `<base>/tile/0/x001/234`, `<base>/tile/entries/000.p/7`, `<base>/iot-ledger/head`), and its
// payload is exactly the HTTP body. `<base>` defaults to `iot-ledger/<origin slug>`.
//   - The checkpoint, the head and the meta are published retained by the gateway itself, head
//     before checkpoint, once at start and after every sealed block. Anyone on the broker can
//     publish there too (an older checkpoint the gateway signed, garbage, an empty message): the
//     gateway subscribes to its own three topics, and when the latest message on one is not
//     byte-for-byte what it published there last, publishes its own again a moment later
//     (OverwriteWatch: at most once a second per topic, however many overwrites come). A message
//     it cannot see (on an MQTT 5 broker, one larger than its packet limit is not delivered to it)
//     is covered too: each of the three is published again, the same bytes, once REFRESH_MS have
//     passed since it last was, so on an idle gateway too.
//   - A tile is published when someone asks for it: the path as the payload of `<base>/request`.
//     A full tile (256 wide) is immutable: it is published retained, and asked again within
//     REPUBLISH_MS it is not published again (the broker hands the retained copy to every new
//     subscriber). A partial tile is published without retain.
//   - Anyone on the broker can replace that retained copy (garbage, another tile's bytes): a
//     replica whose copy of a tile did not verify asks with `again <path>` (againRequest), and a
//     full tile is published again then, within REPUBLISH_MS too, but at most once per AGAIN_MS
//     (an `again` sooner waits for it, merged with the others for that tile).
// Bounded: requests beyond the queue (MAX_QUEUE paths, duplicates merged) are dropped, paths
// that are not tiles of the latest checkpoint are ignored, and what the gateway publishes in
// answers is held to maxBytesPerSecond. So whoever can publish on the broker can make the
// gateway publish at most that rate (each full tile at most once per AGAIN_MS within it).
// The full tiles published are remembered for REPUBLISH_MS only, and at most MAX_REMEMBERED
// of them: asking for every full tile of a long log does not grow the gateway's memory with it.
// Its own connection (connectTileMqtt) is MQTT 5 with a Maximum Packet Size just above the largest
// checkpoint, head or meta any gateway publishes (a few kB): the broker must not deliver a larger
// packet, so a request of megabytes is never received whole to be dropped. On an MQTT 3.1.1
// broker, such a packet ends the connection as soon as it announces itself, and the server
// connects again (lib/guards/bounded-mqtt.ts); one retained on the checkpoint, head or meta topic
// is cleared first thing on that connection, and the gateway publishes its own there again.
import type * as mqtt from 'mqtt';
import { connectBoundedMqtt } from '../guards/bounded-mqtt';
import { CountReporter } from '../guards/count-reporter';
import { OverwriteWatch } from '../guards/overwrite-watch';
import { fromUtf8, utf8 } from '../encoding/bytes';
import type { Ledger } from '../ledger';
import { CHECKPOINT_PATH, HEAD_PATH, META_PATH, parseTilePath, TILE_WIDTH } from './path';
import { publishedHead, readResource } from './source';

export const REQUEST_SUFFIX = 'request';
export const MAX_QUEUE = 64;
export const MAX_PATH_BYTES = 128;
export const REPUBLISH_MS = 60_000;
/** A full tile asked for with againRequest is published again at most once per this interval. */
export const AGAIN_MS = 1000;
const AGAIN_PREFIX = 'again ';
/** The request payload for a tile published again now (a full tile within REPUBLISH_MS): `again ` and its path. */
export const againRequest = (path: string): string => `${AGAIN_PREFIX}${path}`;
/** Full tiles remembered as just published (the oldest forgotten first): asked again after that, one is published again, within the rate. */
export const MAX_REMEMBERED = 4096;
export const DEFAULT_MAX_BYTES_PER_SECOND = 4 * 1024 * 1024;
/** Others' messages on the checkpoint, head and meta topics are reported at most once per this interval (the first at once). */
export const OVERWRITE_REPORT_MS = 60_000;
/**
 * How long a payload the publisher replaced on one of those topics may still come back to it as
 * its own echo: a broker may deliver it after acknowledging the next one (mosquitto does, under
 * load). Such an echo is not counted or reported as someone else's, though it is answered like
 * any other payload (ours published again, once).
 */
export const ECHO_MS = 10_000;
/**
 * The checkpoint, head and meta are each published again, unchanged, once this long has passed
 * since they last were (after a block, a restore or the last refresh): a message on their topic
 * that the broker does not deliver to the gateway (larger than its Maximum Packet Size) holds the
 * topic this long at most. At most three small publications per minute, none on a gateway that
 * seals a block more often than that; a replica takes the same checkpoint again as the one it holds.
 */
export const REFRESH_MS = 60_000;
const MAX_ECHOES = 8;

/** `iot-ledger/<origin>` with every character outside A-Z a-z 0-9 . _ - made "_" (no MQTT wildcards, no extra levels). */
export const defaultTileTopicBase = (origin: string): string => `iot-ledger/${origin.replace(/[^A-Za-z0-9._-]/g, '_')}`;

export const resourceTopic = (base: string, path: string): string => `${base}/${path}`;
export const requestTopic = (base: string): string => `${base}/${REQUEST_SUFFIX}`;

/** The resources the gateway publishes retained, in the order it publishes them. */
const RETAINED_PATHS = [META_PATH, HEAD_PATH, CHECKPOINT_PATH] as const;
const retainedTopics = (base: string): string[] => RETAINED_PATHS.map((p) => resourceTopic(base, p));

/** UTF-8 bytes of a ledger name at most: 255 code points of up to 4 bytes (docs/FORMAT.md, "Ledger names"). */
const MAX_NAME_BYTES = 255 * 4;

/**
 * The largest checkpoint, head or meta a gateway publishes. Each of the checkpoint (origin line
 * and signature key name) and the meta (name, and the verifier key that starts with it) holds
 * the ledger name twice; the rest is under 400 bytes (size and height of up to 20 digits, root
 * and header hash, one Ed25519 signature; a did:key, the key id and key, the creation time).
 */
export const MAX_RETAINED_RESOURCE_BYTES = 2 * MAX_NAME_BYTES + 1024;

/**
 * The MQTT 5 Maximum Packet Size a tile server on `base` announces: the larger of a request path
 * of MAX_PATH_BYTES on the request topic and MAX_RETAINED_RESOURCE_BYTES on the longest retained
 * topic (the server reads its own checkpoint, head and meta back), and 1 KiB for the fixed header,
 * packet id and properties. The broker must not send it a larger packet (it drops the message
 * for this client).
 */
export const tileMqttPacketLimit = (base: string): number =>
  Math.max(MAX_PATH_BYTES + utf8(requestTopic(base)).length, MAX_RETAINED_RESOURCE_BYTES + Math.max(...retainedTopics(base).map((t) => utf8(t).length))) + 1024;

export interface TileMqttConnectOptions {
  /** The topic base the server will answer on (sets the Maximum Packet Size). */
  base: string;
  username?: string;
  password?: string;
  /** The broker refused MQTT 5: the client connects again with MQTT 3.1.1, guarded but without the limit. */
  onMqtt311?: () => void;
}

/**
 * A tile server's own connection to the broker at `url` (mqtt://host:port or mqtts://):
 * connectBoundedMqtt with tileMqttPacketLimit(base). A broker that refuses MQTT 5 (Aedes,
 * mosquitto 1.x) gets MQTT 3.1.1 on the next attempt, where no packet size can be asked for:
 * there the connection ends as soon as a larger packet announces itself, and connects again.
 * A larger message retained on the checkpoint, head or meta topic (it would come with every
 * subscription) is cleared first thing on the next connection; the publisher then announces.
 */
export function connectTileMqtt(url: string, opts: TileMqttConnectOptions): mqtt.MqttClient {
  const retained = new Set(retainedTopics(opts.base));
  return connectBoundedMqtt(url, tileMqttPacketLimit(opts.base), {
    clientIdPrefix: 'iot-ledger-tiles',
    clearRetained: (topic) => retained.has(topic),
    // The publisher subscribes on each connection itself, after clearing a retained request:
    // mqtt.js's own subscription would come first and bring that request back.
    resubscribe: false,
    ...(opts.username ? { username: opts.username, password: opts.password ?? '' } : {}),
    ...(opts.onMqtt311 ? { onMqtt311: opts.onMqtt311 } : {}),
  });
}

/** What the publisher needs of an MQTT client (mqtt.js's MqttClient fits). */
export interface TileMqttClient {
  publish(topic: string, payload: Buffer, opts: { qos: 0 | 1; retain: boolean }, cb?: (err?: Error) => void): unknown;
  subscribe(topic: string | string[], opts: { qos: 0 | 1 }, cb?: (err: Error | null) => void): unknown;
  unsubscribe(topic: string, cb?: () => void): unknown;
  on(event: 'message', fn: (topic: string, payload: Buffer) => void): unknown;
  on(event: 'connect', fn: () => void): unknown;
  off(event: 'message', fn: (topic: string, payload: Buffer) => void): unknown;
  off(event: 'connect', fn: () => void): unknown;
  /** False while the connection is down (mqtt.js); a restore is not queued then, start() announces on reconnection. */
  readonly connected?: boolean;
}

export interface MqttTilePublisherOptions {
  base?: string;
  maxBytesPerSecond?: number;
  onError?: (err: Error) => void;
  now?: () => number;
  /** Full tiles remembered at most (default MAX_REMEMBERED; tests). */
  maxRemembered?: number;
  /**
   * Messages not ours seen on the checkpoint, head or meta topic since the last report, at most
   * once per OVERWRITE_REPORT_MS (someone publishing there, or another gateway on the same base).
   */
  onOverwritten?: (messages: number) => void;
  /** Publishes the checkpoint, head and meta again once this long has passed since they last were (default REFRESH_MS; tests). */
  refreshMs?: number;
}

export interface PublisherStats {
  requests: number;
  dropped: number;
  published: number;
  bytes: number;
  /** Messages on the checkpoint, head or meta topic that were not what the publisher published there last. */
  overwritten: number;
  /** Checkpoints, heads and metas published again after such a message (acknowledged by the broker). */
  restored: number;
  /** Checkpoints, heads and metas published again because refreshMs had passed since they last were (acknowledged). */
  refreshed: number;
}

export class MqttTilePublisher {
  readonly base: string;
  readonly stats: PublisherStats = { requests: 0, dropped: 0, published: 0, bytes: 0, overwritten: 0, restored: 0, refreshed: 0 };
  readonly #ledger: Ledger;
  readonly #client: TileMqttClient;
  readonly #rate: number;
  readonly #now: () => number;
  readonly #onError: (err: Error) => void;
  readonly #queue = new Set<string>();
  /** The path being answered now (read, waiting for the budget or the broker). */
  #sending: string | null = null;
  /** Full tiles asked for again within AGAIN_MS of their last publication: path -> when they may go (at most MAX_QUEUE). */
  readonly #later = new Map<string, number>();
  #laterTimer: NodeJS.Timeout | null = null;
  /** Full tiles published within REPUBLISH_MS, oldest first: path -> when. */
  readonly #retainedAt = new Map<string, number>();
  readonly #maxRemembered: number;
  /** Retained topic -> what was last published there (set as it is handed to the client). */
  readonly #kept = new Map<string, Buffer>();
  /** Retained topic -> what was published there before, newest last, with when it was replaced (at most MAX_ECHOES, within ECHO_MS). */
  readonly #replaced = new Map<string, { payload: Buffer; at: number }[]>();
  readonly #watch: OverwriteWatch<Buffer>;
  readonly #overwrites: CountReporter;
  readonly #refreshMs: number;
  /** Retained topic -> when ours was last handed to the client there. */
  readonly #publishedAt = new Map<string, number>();
  #refreshTimer: NodeJS.Timeout | undefined;
  #tokens: number;
  #refilled: number;
  #draining = false;
  #closed = false;
  #announcing: Promise<void> = Promise.resolve();
  #timer: NodeJS.Timeout | null = null;

  constructor(ledger: Ledger, client: TileMqttClient, opts: MqttTilePublisherOptions = {}) {
    this.#ledger = ledger;
    this.#client = client;
    this.base = opts.base ?? defaultTileTopicBase(ledger.name);
    this.#rate = opts.maxBytesPerSecond ?? DEFAULT_MAX_BYTES_PER_SECOND;
    this.#now = opts.now ?? Date.now;
    this.#onError = opts.onError ?? (() => undefined);
    this.#maxRemembered = opts.maxRemembered ?? MAX_REMEMBERED;
    this.#refreshMs = opts.refreshMs ?? REFRESH_MS;
    // setTimeout takes at most 2^31 - 1 ms (a longer delay fires at once).
    if (!(this.#refreshMs > 0 && this.#refreshMs < 2 ** 31)) throw new RangeError(`refreshMs must be a positive number of ms below 2^31, not ${this.#refreshMs}`);
    this.#tokens = this.#rate;
    this.#refilled = this.#now();
    this.#watch = new OverwriteWatch<Buffer>(
      (topic) => this.#kept.get(topic),
      (topic) => this.#restore(topic),
      () => !this.#closed && this.#client.connected !== false,
    );
    this.#overwrites = new CountReporter(OVERWRITE_REPORT_MS, opts.onOverwritten);
    client.on('message', this.#onMessage);
    client.on('connect', this.#onConnect);
    ledger.on('block', this.#onBlock);
  }

  /** Full tiles remembered as published within REPUBLISH_MS (at most MAX_REMEMBERED). */
  get remembered(): number {
    return this.#retainedAt.size;
  }

  /** No request waiting or being answered. */
  get idle(): boolean {
    return this.#queue.size === 0 && this.#later.size === 0 && !this.#draining;
  }

  /**
   * Clears what is retained on the request topic, subscribes to requests and to its own retained
   * topics, and publishes the retained state; call once the client is connected (again on
   * reconnect: automatic).
   */
  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      // No reader retains a request, but anyone can. On an MQTT 3.1.1 broker one larger than the
      // packet limit would come with every subscription and end every connection (bounded-mqtt).
      // A broker that does not let the gateway publish there refuses or drops this: it subscribes anyway.
      this.#client.publish(requestTopic(this.base), Buffer.alloc(0), { qos: 1, retain: true }, () => {
        this.#client.subscribe([requestTopic(this.base), ...retainedTopics(this.base)], { qos: 1 }, (err) => {
          if (err) return reject(err);
          this.announce().then(resolve, reject);
        });
      });
    });
  }

  readonly #onConnect = (): void => {
    if (!this.#closed) this.start().catch(this.#onError);
  };

  readonly #onBlock = (): void => {
    this.announce().catch(this.#onError);
  };

  /** Publishes meta, head and checkpoint, retained (head before checkpoint, so a reader never sees a checkpoint newer than the head). */
  announce(): Promise<void> {
    const run = async (): Promise<void> => {
      if (this.#closed || this.#ledger.closed) return;
      const head = await publishedHead(this.#ledger);
      const paths = head ? RETAINED_PATHS : [META_PATH];
      for (const p of paths) {
        const r = await readResource(this.#ledger, p);
        if (r.status !== 200) continue;
        const topic = resourceTopic(this.base, p);
        this.#keep(topic, Buffer.from(r.body));
        await this.#publishRetained(topic, r.body);
      }
    };
    this.#announcing = this.#announcing.then(run, run);
    return this.#announcing;
  }

  #keep(topic: string, payload: Buffer): void {
    const before = this.#kept.get(topic);
    this.#kept.set(topic, payload);
    if (!before || before.equals(payload)) return;
    const now = this.#now();
    const replaced = (this.#replaced.get(topic) ?? []).filter((r) => now - r.at < ECHO_MS).slice(1 - MAX_ECHOES);
    replaced.push({ payload: before, at: now });
    this.#replaced.set(topic, replaced);
  }

  /** Whether `payload` on `topic` is what we published there shortly before (a late echo, not someone else's). */
  #echo(topic: string, payload: Buffer): boolean {
    const now = this.#now();
    return (this.#replaced.get(topic) ?? []).some((r) => now - r.at < ECHO_MS && r.payload.equals(payload));
  }

  /**
   * Publishes again what we keep on `topic` (the OverwriteWatch found another message there), in
   * turn with the announcements: never between a head and its checkpoint, never an older one
   * after a newer.
   */
  #restore(topic: string): void {
    const run = async (): Promise<void> => {
      if (!this.#closed && (await this.#republish(topic))) this.stats.restored++;
    };
    this.#announcing = this.#announcing.then(run, run);
  }

  /** Publishes what we keep on a retained topic again; false when we keep nothing there or the broker did not take it. */
  #republish(topic: string): Promise<boolean> {
    const ours = this.#kept.get(topic);
    return ours ? this.#publishRetained(topic, ours) : Promise.resolve(false);
  }

  /** Publishes ours on a retained topic, noting when (the refresh counts from there). */
  #publishRetained(topic: string, payload: Uint8Array): Promise<boolean> {
    this.#publishedAt.set(topic, this.#now());
    this.#scheduleRefresh();
    return this.#publish(topic, payload, true);
  }

  /** Arms the refresh for the retained topic published longest ago, unless it is armed already. */
  #scheduleRefresh(): void {
    if (this.#refreshTimer || this.#closed || this.#publishedAt.size === 0) return;
    const due = Math.min(...this.#publishedAt.values()) + this.#refreshMs;
    this.#refreshTimer = setTimeout(() => {
      this.#refreshTimer = undefined;
      this.#refresh();
    }, Math.min(Math.max(0, due - this.#now()), this.#refreshMs));
    this.#refreshTimer.unref();
  }

  /**
   * Publishes again, in turn with the announcements (head before checkpoint), each of ours not
   * published within refreshMs, and arms the timer for the next one due. Not while the connection
   * is down (start() publishes all three on the next one): those are looked at again refreshMs later.
   */
  #refresh(): void {
    const run = async (): Promise<void> => {
      if (this.#closed) return;
      const now = this.#now();
      const age = (t: string): number => now - (this.#publishedAt.get(t) ?? now);
      // A negative age: the clock was set back; counted from now.
      const due = RETAINED_PATHS.map((p) => resourceTopic(this.base, p)).filter((t) => this.#publishedAt.has(t) && (age(t) >= this.#refreshMs || age(t) < 0));
      for (const topic of due) this.#publishedAt.set(topic, now);
      this.#scheduleRefresh();
      if (this.#client.connected === false) return;
      for (const topic of due) if (await this.#republish(topic)) this.stats.refreshed++;
    };
    this.#announcing = this.#announcing.then(run, run);
  }

  readonly #onMessage = (topic: string, payload: Buffer): void => {
    if (this.#closed) return;
    // Our own publication comes back too (the same bytes): only another payload is an overwrite.
    const isOurs = (ours: Buffer): boolean => {
      const same = ours.equals(payload);
      if (!same && !this.#echo(topic, payload)) {
        this.stats.overwritten++;
        this.#overwrites.add();
      }
      return same;
    };
    if (this.#watch.seen(topic, isOurs)) return;
    if (topic !== requestTopic(this.base)) return;
    this.stats.requests++;
    if (payload.length === 0 || payload.length > MAX_PATH_BYTES) return void this.stats.dropped++;
    let text: string;
    try {
      text = fromUtf8(payload).trim();
    } catch {
      return void this.stats.dropped++;
    }
    const again = text.startsWith(AGAIN_PREFIX);
    const path = again ? text.slice(AGAIN_PREFIX.length) : text;
    const id = parseTilePath(path);
    if (!id) return void this.stats.dropped++;
    this.#request(path, id.width === TILE_WIDTH, again);
  };

  /**
   * Queues `path`, unless it is a full tile published (or being published) within REPUBLISH_MS,
   * or within AGAIN_MS when asked `again`: such a request waits until AGAIN_MS have passed.
   */
  #request(path: string, full: boolean, again: boolean): void {
    if (full) {
      const now = this.#now();
      const last = this.#sending === path ? now : this.#retainedAt.get(path);
      if (last !== undefined && now - last < (again ? AGAIN_MS : REPUBLISH_MS)) {
        if (again) this.#deferAgain(path, last + AGAIN_MS);
        return;
      }
    }
    if (this.#queue.has(path)) return;
    if (this.#queue.size >= MAX_QUEUE) return void this.stats.dropped++;
    this.#queue.add(path);
    void this.#drain();
  }

  #deferAgain(path: string, at: number): void {
    if (this.#later.has(path)) return;
    if (this.#later.size >= MAX_QUEUE) return void this.stats.dropped++;
    this.#later.set(path, at);
    this.#wakeLater();
  }

  /** Asks again, once their time has come, for the full tiles deferred (one timer, to the earliest). */
  #wakeLater(): void {
    if (this.#laterTimer || this.#later.size === 0 || this.#closed) return;
    const next = Math.min(...this.#later.values());
    this.#laterTimer = setTimeout(() => {
      this.#laterTimer = null;
      const now = this.#now();
      for (const [path, at] of this.#later) {
        if (at > now) continue;
        this.#later.delete(path);
        this.#request(path, true, true);
      }
      this.#wakeLater();
    }, Math.max(0, next - this.#now()));
    this.#laterTimer.unref();
  }

  async #drain(): Promise<void> {
    if (this.#draining) return;
    this.#draining = true;
    try {
      while (!this.#closed && this.#queue.size > 0) {
        const path = this.#queue.values().next().value as string;
        this.#queue.delete(path);
        if (this.#ledger.closed) break;
        this.#sending = path;
        let r;
        try {
          r = await readResource(this.#ledger, path);
        } catch (err) {
          this.#onError(err as Error);
          continue;
        }
        if (r.status !== 200) continue;
        await this.#spend(r.body.length);
        const full = parseTilePath(path)?.width === TILE_WIDTH;
        await this.#publish(resourceTopic(this.base, path), r.body, full);
        if (full) this.#remember(path);
      }
    } finally {
      this.#sending = null;
      this.#draining = false;
    }
  }

  /** Notes a full tile as published now, forgetting those published REPUBLISH_MS ago and the oldest past maxRemembered. */
  #remember(path: string): void {
    const now = this.#now();
    this.#retainedAt.delete(path); // re-inserted last: the map stays in publishing order
    this.#retainedAt.set(path, now);
    for (const [p, at] of this.#retainedAt) {
      if (now - at < REPUBLISH_MS && this.#retainedAt.size <= this.#maxRemembered) break;
      this.#retainedAt.delete(p);
    }
  }

  /** Waits until `bytes` fit the budget (token bucket of one second's worth). */
  async #spend(bytes: number): Promise<void> {
    for (;;) {
      const now = this.#now();
      this.#tokens = Math.min(this.#rate, this.#tokens + ((now - this.#refilled) / 1000) * this.#rate);
      this.#refilled = now;
      if (this.#tokens >= Math.min(bytes, this.#rate)) {
        this.#tokens -= bytes;
        return;
      }
      const waitMs = Math.ceil(((Math.min(bytes, this.#rate) - this.#tokens) / this.#rate) * 1000);
      await new Promise<void>((resolve) => {
        this.#timer = setTimeout(resolve, waitMs);
      });
      if (this.#closed) return;
    }
  }

  /** Publishes at QoS 1; resolves once the broker acknowledged it (true) or it failed (false, reported). */
  #publish(topic: string, body: Uint8Array, retain: boolean): Promise<boolean> {
    return new Promise((resolve) => {
      this.#client.publish(topic, Buffer.from(body.buffer, body.byteOffset, body.byteLength), { qos: 1, retain }, (err) => {
        if (err) this.#onError(err);
        else {
          this.stats.published++;
          this.stats.bytes += body.length;
        }
        resolve(!err);
      });
    });
  }

  close(): void {
    this.#closed = true;
    this.#watch.close();
    this.#overwrites.close();
    if (this.#timer) clearTimeout(this.#timer);
    clearTimeout(this.#refreshTimer);
    this.#refreshTimer = undefined;
    if (this.#laterTimer) clearTimeout(this.#laterTimer);
    this.#later.clear();
    this.#queue.clear();
    this.#retainedAt.clear();
    this.#client.off('message', this.#onMessage);
    this.#client.off('connect', this.#onConnect);
    this.#ledger.off('block', this.#onBlock);
  }
}
