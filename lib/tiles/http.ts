// Answering one tile request on a Node http response (Express's too): the status, C2SP
// content types, caching (immutable tiles for a year, the checkpoint for two seconds) and
// gzip for entry bundles when the client accepts it. A TileRequestGate (a RequestGate) bounds
// how many are answered at once, and how many for one client address: an entry bundle can hold
// 256 records of 64 KiB (16 MiB, plus its gzip), held from the read until the client has taken
// the last byte. It also bounds the bytes sent per second, to one address and to all (ByteRate),
// so that a few clients cannot make the gateway read and send its whole ledger in a loop.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { promisify } from 'node:util';
import { gzip, gzipSync } from 'node:zlib';
import { isLedgerError } from '../errors';
import { ByteRate, checkByteRates, type ByteRateLimits } from '../guards/byte-rate';
import { sendCounted } from '../guards/counted-send';
import { RequestGate, sendRefusal, type RequestGateLimits, type RequestGateStats } from '../guards/request-gate';
import type { Ledger } from '../ledger';
import { readResource } from './source';

const gzipAsync = promisify(gzip);
/**
 * Bodies up to this size are compressed in one synchronous call: zlib's asynchronous form
 * spends about as long on the event loop setting up its stream as the whole compression takes
 * (an entry bundle of 256 records: 0.1-0.2 ms), and two to three times the CPU in all.
 */
const SYNC_GZIP_MAX = 1 << 20;

/**
 * Answers one request; a large body is compressed on libuv's thread pool, off the gateway's
 * event loop. `sent(n)` counts the body's bytes as the connection takes them (a HEAD request's
 * all at once: it sends none, but the gateway read them; so are those read for a client gone
 * before its body was sent).
 */
export async function answerTileRequest(ledger: Ledger | null, path: string, req: IncomingMessage, res: ServerResponse, sent: (bytes: number) => void = () => undefined): Promise<void> {
  try {
    if (!ledger || ledger.closed) return notOpen(res);
    const r = await readResource(ledger, path);
    if (res.destroyed) {
      // The client is gone (or the gate cut it): nothing to compress or send, but what was read
      // for it counts, as a HEAD request's does; else asking and closing at once would read the
      // ledger in a loop past every byte rate.
      sent(r.body.length);
      return;
    }
    let body = r.body;
    // An answer to a request with credentials (httpNodeAuth's Authorization, or a session cookie
    // that an httpNodeMiddleware checks) is private: with `public`, a shared cache in front of the
    // gateway may keep it (RFC 9111 3.5) and hand the ledger's records to clients without them.
    const scope = req.headers.authorization === undefined && req.headers.cookie === undefined ? 'public' : 'private';
    const headers: Record<string, string> = {
      'content-type': r.contentType,
      'cache-control': r.status !== 200 ? 'no-store' : r.immutable ? `${scope}, max-age=31536000, immutable` : `${scope === 'private' ? 'private, ' : ''}no-cache, max-age=2`,
    };
    if (r.status === 200 && path.startsWith('tile/entries/')) {
      // Whether gzipped or not depends on Accept-Encoding: every entry bundle says so, so a
      // cache keeps the plain and the gzip body apart (RFC 9110 12.5.5) and serves neither
      // to a client it was not chosen for.
      headers.vary = 'accept-encoding';
      if (/\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))) {
        body = body.length <= SYNC_GZIP_MAX ? gzipSync(body, { level: 1 }) : await gzipAsync(body, { level: 1 });
        headers['content-encoding'] = 'gzip';
      }
    }
    headers['content-length'] = String(body.length);
    res.writeHead(r.status, headers);
    if (req.method === 'HEAD') {
      sent(body.length);
      res.end();
    } else sendCounted(res, body, sent);
  } catch (err) {
    // Closed while it was read (a deploy closes the ledger under the requests being answered):
    // what a request that came a moment later gets, a 503 a replica asks again, not a 500
    // (ERR_INTERNAL from the store closed under the read) that fails its round.
    if (ledger?.closed && !res.headersSent) return notOpen(res);
    const code = isLedgerError(err) ? err.code : 'ERR_INTERNAL';
    // no-store like every other error: a cache in front must not keep a failure for the resource.
    if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
    res.end(`${code}\n`);
  }
}

/** No open ledger to answer from (not opened yet, closed, or closed during the read): 503, asked again after a second. */
function notOpen(res: ServerResponse): void {
  res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', 'retry-after': '1' }).end('ledger not open\n');
}

/** Requests answered at once (read, compressed, being sent) by default, for all ledgers of a runtime. */
export const MAX_ACTIVE_TILE_REQUESTS = 4;
/** Requests that wait for a turn beyond those; more are refused with 503 ERR_OVERLOADED. */
export const MAX_WAITING_TILE_REQUESTS = 64;
/**
 * Turns one client address holds at once: with 4 turns, a client that stalls its connections
 * (or sends a flood) from one address leaves at least 2 to everyone else.
 */
export const MAX_ACTIVE_TILE_REQUESTS_PER_CLIENT = 2;
/**
 * Requests of one client address answered or waiting; more are refused with 503 ERR_OVERLOADED.
 * Above a replica's 8 parallel bundle fetches, so a replica is never refused for its own requests.
 */
export const MAX_TILE_REQUESTS_PER_CLIENT = 16;
/** A response the client has not taken whole within this time is cut (its connection closed), freeing its turn. */
export const TILE_SEND_TIMEOUT_MS = 60_000;
/** Retry-After (seconds) of a refused request. */
export const TILE_RETRY_AFTER_S = 1;
/**
 * Bytes per second (of bodies, as sent: gzipped when they are) one client address is sent by
 * default: about twice what a replica catching up takes, as it verifies and writes every record
 * (bench/RESULTS.md "Replicas": about 75,000 records/s of 235 bytes, 18 MB/s before gzip).
 */
export const MAX_TILE_BYTES_PER_SECOND_PER_CLIENT = 32 * 1024 * 1024;
/** Bytes per second all clients together are sent by default: two addresses at their full rate. */
export const MAX_TILE_BYTES_PER_SECOND = 64 * 1024 * 1024;

export type TileGateLimits = RequestGateLimits & ByteRateLimits;
export interface TileGateStats extends RequestGateStats {
  /** Requests refused with 429 (a byte rate spent), and the body bytes counted against the rates (sent; read, for a HEAD request or a client gone before its body was sent). */
  refusedRate: number;
  sentBytes: number;
}

export interface TileGateOptions {
  /** The clock of the byte rates (tests). */
  now?: () => number;
}

/**
 * The tile server's RequestGate: at most 4 requests answered at once (the memory of what is
 * read and not yet sent is bounded by 4 bodies), 64 waiting, 2 turns and 16 requests per
 * client address, a client that stops reading cut after 60 s; refused ones get 503
 * ERR_OVERLOADED with Retry-After: 1. And at most 32 MiB/s sent to one client address, 64 MiB/s
 * to all: past that a request gets 429 ERR_OVERLOADED with Retry-After (the seconds until it
 * may be sent more), before anything is read for it, when it arrives or when its turn comes.
 */
export class TileRequestGate extends RequestGate {
  declare readonly stats: TileGateStats;
  readonly #rates: ByteRate;

  constructor(limits: Partial<TileGateLimits> = {}, options: TileGateOptions = {}) {
    const { maxBytesPerSecond = MAX_TILE_BYTES_PER_SECOND, maxBytesPerSecondPerClient = MAX_TILE_BYTES_PER_SECOND_PER_CLIENT, ...gate } = limits;
    super(
      {
        maxActive: MAX_ACTIVE_TILE_REQUESTS,
        maxWaiting: MAX_WAITING_TILE_REQUESTS,
        maxActivePerClient: MAX_ACTIVE_TILE_REQUESTS_PER_CLIENT,
        maxPerClient: MAX_TILE_REQUESTS_PER_CLIENT,
        timeoutMs: TILE_SEND_TIMEOUT_MS,
        ...gate,
      },
      { what: 'tile requests', retryAfterS: TILE_RETRY_AFTER_S },
    );
    this.#rates = new ByteRate({ maxBytesPerSecond, maxBytesPerSecondPerClient }, options.now);
    Object.assign(this.stats, { refusedRate: 0, sentBytes: 0 });
  }

  override get limits(): TileGateLimits {
    return { ...super.limits, ...this.#rates.limits };
  }

  /** Changes the limits, byte rates included (tests); returns the previous ones. Nothing changes when one is refused. */
  override setLimits(limits: Partial<TileGateLimits>): TileGateLimits {
    const { maxBytesPerSecond, maxBytesPerSecondPerClient, ...gate } = limits;
    const rates: Partial<ByteRateLimits> = {};
    if (maxBytesPerSecond !== undefined) rates.maxBytesPerSecond = maxBytesPerSecond;
    if (maxBytesPerSecondPerClient !== undefined) rates.maxBytesPerSecondPerClient = maxBytesPerSecondPerClient;
    checkByteRates(rates);
    const before = { ...super.setLimits(gate), ...this.#rates.limits };
    this.#rates.setLimits(rates);
    return before;
  }

  /** Client addresses sent bytes that their rate has not yet made up for. */
  get rateClients(): number {
    return this.#rates.clients;
  }

  /**
   * As RequestGate.admit, within the byte rates: `answer` is given `sent(n)` to count the bytes
   * of its body as they are sent (answerTileRequest's last argument). A client past its rate
   * (or every client, past the total) is answered 429 instead, when the request arrives and
   * again when its turn comes (what it was sent meanwhile counts), before `answer` reads anything.
   */
  override admit(res: ServerResponse, answer: (sent: (bytes: number) => void) => Promise<void>, client?: string): void {
    if (this.#pastRate(res, client)) return;
    const sent = (bytes: number): void => {
      this.stats.sentBytes += bytes;
      this.#rates.spend(client, bytes);
    };
    super.admit(res, () => (this.#pastRate(res, client) ? Promise.resolve() : answer(sent)), client);
  }

  /** Answers 429 when `client`, or every client, has been sent its bytes for now. */
  #pastRate(res: ServerResponse, client: string | undefined): boolean {
    const wait = this.#rates.wait(client);
    if (wait.ms === 0) return false;
    this.stats.refusedRate++;
    const text = `ERR_OVERLOADED: too many tile bytes${wait.perClient ? ' for this address' : ''} per second; retry later\n`;
    const retryAfter = String(Math.max(1, Math.ceil(wait.ms / 1000)));
    sendRefusal(res, 429, retryAfter, text);
    return true;
  }
}
