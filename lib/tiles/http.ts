// Answering one tile request on a Node http response (Express's too): the status, C2SP
// content types, caching (immutable tiles for a year, the checkpoint for two seconds) and
// gzip for entry bundles when the client accepts it. A TileRequestGate bounds how many are
// answered at once: an entry bundle can hold 256 records of 64 KiB (16 MiB, plus its gzip),
// held from the read until the client has taken the last byte.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { promisify } from 'node:util';
import { gzip, gzipSync } from 'node:zlib';
import { isLedgerError, LedgerError } from '../errors';
import type { Ledger } from '../ledger';
import { readResource } from './source';

const gzipAsync = promisify(gzip);
/**
 * Bodies up to this size are compressed in one synchronous call: zlib's asynchronous form
 * spends about as long on the event loop setting up its stream as the whole compression takes
 * (an entry bundle of 256 records: 0.1-0.2 ms), and two to three times the CPU in all.
 */
const SYNC_GZIP_MAX = 1 << 20;

/** Answers one request; a large body is compressed on libuv's thread pool, off the gateway's event loop. */
export async function answerTileRequest(ledger: Ledger | null, path: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  try {
    if (!ledger || ledger.closed) {
      res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8' }).end('ledger not open\n');
      return;
    }
    const r = await readResource(ledger, path);
    if (res.destroyed) return; // the client is gone (or the gate cut it): nothing to compress or send
    let body = r.body;
    const headers: Record<string, string> = {
      'content-type': r.contentType,
      'cache-control': r.status !== 200 ? 'no-store' : r.immutable ? 'public, max-age=31536000, immutable' : 'no-cache, max-age=2',
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
    res.writeHead(r.status, headers).end(Buffer.from(body.buffer, body.byteOffset, body.byteLength));
  } catch (err) {
    const code = isLedgerError(err) ? err.code : 'ERR_INTERNAL';
    if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(`${code}\n`);
  }
}

/** Requests answered at once (read, compressed, being sent) by default, for all ledgers of a runtime. */
export const MAX_ACTIVE_TILE_REQUESTS = 4;
/** Requests that wait for a turn beyond those; more are refused with 503 ERR_OVERLOADED. */
export const MAX_WAITING_TILE_REQUESTS = 64;
/** A response the client has not taken whole within this time is cut (its connection closed), freeing its turn. */
export const TILE_SEND_TIMEOUT_MS = 60_000;
/** Retry-After (seconds) of a refused request. */
export const TILE_RETRY_AFTER_S = 1;

export interface TileGateLimits {
  maxActive: number;
  maxWaiting: number;
  sendTimeoutMs: number;
}

export interface TileGateStats {
  /** Requests being answered now, and the most there ever were at once. */
  active: number;
  peakActive: number;
  waiting: number;
  /** Requests answered (whatever the status), refused (503) and cut at TILE_SEND_TIMEOUT_MS. */
  answered: number;
  refused: number;
  cut: number;
}

const OVERLOADED = 'ERR_OVERLOADED: too many tile requests at once; retry later\n';

/**
 * Admits tile requests in turn: at most maxActive answered at once, each holding its turn
 * until its response is closed (sent whole or the connection gone), so the memory of what is
 * read and not yet sent is bounded by maxActive bodies; up to maxWaiting wait (a request
 * waiting holds no memory but its connection), first come first served; more are answered 503
 * with Retry-After at once. A client that stops reading holds a turn at most sendTimeoutMs.
 */
export class TileRequestGate {
  readonly stats: TileGateStats = { active: 0, peakActive: 0, waiting: 0, answered: 0, refused: 0, cut: 0 };
  #limits: TileGateLimits;
  readonly #waiting = new Set<() => void>();

  constructor(limits: Partial<TileGateLimits> = {}) {
    this.#limits = { maxActive: MAX_ACTIVE_TILE_REQUESTS, maxWaiting: MAX_WAITING_TILE_REQUESTS, sendTimeoutMs: TILE_SEND_TIMEOUT_MS };
    this.setLimits(limits);
  }

  get limits(): TileGateLimits {
    return { ...this.#limits };
  }

  /** Changes the limits (tests); returns the previous ones. */
  setLimits(limits: Partial<TileGateLimits>): TileGateLimits {
    const before = this.limits;
    const next = { ...this.#limits, ...limits };
    for (const [k, v] of Object.entries(next)) if (!Number.isSafeInteger(v) || v < (k === 'maxWaiting' ? 0 : 1)) throw new LedgerError('ERR_INVALID_ARGUMENT', `${k} must be a positive integer`);
    this.#limits = next;
    this.#next();
    return before;
  }

  /** Runs `answer` (which must end `res`) when it is this request's turn, or answers 503 now. */
  admit(res: ServerResponse, answer: () => Promise<void>): void {
    if (this.stats.active < this.#limits.maxActive && this.#waiting.size === 0) return this.#start(res, answer);
    if (this.#waiting.size >= this.#limits.maxWaiting) {
      this.stats.refused++;
      res
        .writeHead(503, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', 'retry-after': String(TILE_RETRY_AFTER_S) })
        .end(OVERLOADED);
      return;
    }
    const turn = (): void => {
      res.off('close', gone);
      this.#start(res, answer);
    };
    // A client gone while waiting gives up its place: nothing is read for it.
    const gone = (): void => {
      if (this.#waiting.delete(turn)) this.stats.waiting = this.#waiting.size;
    };
    res.once('close', gone);
    this.#waiting.add(turn);
    this.stats.waiting = this.#waiting.size;
  }

  #start(res: ServerResponse, answer: () => Promise<void>): void {
    this.stats.active++;
    this.stats.peakActive = Math.max(this.stats.peakActive, this.stats.active);
    let done = false;
    const timer = setTimeout(() => {
      this.stats.cut++;
      res.destroy();
    }, this.#limits.sendTimeoutMs);
    timer.unref();
    const release = (): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      this.stats.active--;
      this.stats.answered++;
      this.#next();
    };
    res.once('close', release);
    if (res.destroyed) return release();
    answer().catch(() => {
      if (res.headersSent) res.destroy();
      else res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('ERR_INTERNAL\n');
    });
  }

  #next(): void {
    while (this.stats.active < this.#limits.maxActive && this.#waiting.size > 0) {
      const turn = this.#waiting.values().next().value as () => void;
      this.#waiting.delete(turn);
      this.stats.waiting = this.#waiting.size;
      turn();
    }
  }
}
