// Fetching tile resources over HTTP(S) with node:http: keep-alive connections, redirects
// followed, a 503 or 429 (a tile server past its queue or its byte rate: ERR_OVERLOADED,
// Retry-After) asked again a few times, and a gzip body inflated in one call. (fetch() inflated through
// web streams: for a following replica that cost about as much CPU as decoding its records,
// bench/RESULTS.md "Replicas".)
import * as http from 'node:http';
import * as https from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { gunzip, gunzipSync } from 'node:zlib';
import { LedgerError } from '../errors';
import { readBoundedBody } from '../guards/bounded-body';
import { MAX_ENTRY_BYTES } from '../tiles/content';
import { parseTilePath } from '../tiles/path';
import type { TileFetch, TileFetchOptions } from '../tiles/verify';

export interface HttpFetchOptions {
  /** Per-request timeout in ms (default 30000). */
  timeoutMs?: number;
  /** Extra request headers, e.g. Authorization for a Node-RED with httpNodeAuth. */
  headers?: Record<string, string>;
  /** A 503 or 429 is asked again up to this many times before the fetch fails (default 3). */
  retries503?: number;
  /** Longest wait (ms) before asking again after a 503 or 429, whatever its Retry-After says (default 5000). */
  maxRetryWaitMs?: number;
}

/** Times a 503 or 429 (the tile server's ERR_OVERLOADED) is asked again by default before the fetch fails. */
export const DEFAULT_503_RETRIES = 3;
/** A Retry-After longer than this (ms) is cut to it by default. */
export const DEFAULT_MAX_RETRY_WAIT_MS = 5000;
/** The wait after a 503 or 429 without a readable Retry-After. */
const RETRY_WAIT_MS = 1000;

/** A TileFetch whose kept-alive connections close() ends. */
export type HttpTileFetch = TileFetch & { close(): Promise<void> };

const gunzipAsync = promisify(gunzip);
const MAX_REDIRECTS = 5;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/** Overloaded (503: too many requests at once) or past its byte rate (429): asked again after Retry-After. */
const BUSY = new Set([503, 429]);
/** The largest tile body a replica takes, over HTTP or MQTT (a block bundle, or a path it does not know). */
export const MAX_TILE_BODY_BYTES = 64 * 1024 * 1024;
/**
 * The checkpoint, head and meta: a few hundred bytes (a checkpoint with 100 cosignatures of long
 * names, some kB); 1 MiB is far above any of them.
 */
export const MAX_SMALL_RESOURCE_BYTES = 1024 * 1024;
const HASH_BYTES = 32;

/**
 * The most bytes the resource at `path` can hold (after any gzip): a hash tile of width W is W
 * hashes, an entry bundle W entries of at most 65535 bytes behind their 2-byte lengths, the
 * checkpoint, head and meta MAX_SMALL_RESOURCE_BYTES; anything else (a block bundle, whose values
 * are not bounded by the format) MAX_TILE_BODY_BYTES. A longer body is cut off there: an origin
 * (or whoever answers in its place) cannot make the replica read 64 MiB for each of the entry
 * bundles it fetches at once.
 */
export function maxResourceBytes(path: string): number {
  if (path === 'checkpoint' || path === 'iot-ledger/head' || path === 'iot-ledger/meta') return MAX_SMALL_RESOURCE_BYTES;
  const id = parseTilePath(path);
  if (id?.kind === 'tile') return id.width * HASH_BYTES;
  if (id?.kind === 'entries') return id.width * (2 + MAX_ENTRY_BYTES);
  return MAX_TILE_BODY_BYTES;
}

/** A gzip body that inflates to at most `max` bytes is not much longer: deflate's stored blocks add 5 bytes per 64 KiB, gzip 18. */
const compressedBound = (max: number): number => max + Math.ceil(max / 8192) + 1024;
/** Compressed bodies up to this size are inflated in one synchronous call (zlib's asynchronous form costs more to set up than this takes). */
const SYNC_GUNZIP_MAX = 256 * 1024;

interface Answer {
  status: number;
  location?: string;
  retryAfter?: string;
  encoding: string;
  body: Buffer;
}

function get(url: URL, headers: Record<string, string>, agent: http.Agent, signal: AbortSignal, max: number): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = (url.protocol === 'https:' ? https : http).get(url, { headers, agent, signal }, (res) => {
      const status = res.statusCode ?? 0;
      const answer = { status, location: res.headers.location, retryAfter: res.headers['retry-after'], encoding: String(res.headers['content-encoding'] ?? 'identity').toLowerCase() };
      if (status !== 200) {
        res.resume();
        resolve({ ...answer, body: Buffer.alloc(0) });
        return;
      }
      const limit = answer.encoding === 'identity' ? max : compressedBound(max);
      readBoundedBody(res, limit, () => new Error(`the body is larger than ${limit} bytes`)).then((body) => resolve({ ...answer, body }), reject);
    });
    req.on('error', reject);
  });
}

/** Milliseconds to wait for a Retry-After (delta-seconds or an HTTP-date), within [0, max]. */
export function retryWaitMs(retryAfter: string | undefined, max: number, now = Date.now()): number {
  const v = retryAfter?.trim() ?? '';
  let ms = RETRY_WAIT_MS;
  if (/^\d{1,10}$/.test(v)) ms = Number(v) * 1000;
  else if (v !== '') {
    const at = Date.parse(v);
    if (Number.isFinite(at)) ms = at - now;
  }
  return Math.min(Math.max(ms, 0), max);
}

/**
 * Waits `ms` unless `a` or `b` (when given) aborts (then rejects), leaving no reference in either
 * once done: AbortSignal.any would leave one in `a` (the fetch's closing signal, which lives as
 * long as the fetch) per retry.
 */
async function sleepUnless(ms: number, a: AbortSignal, b: AbortSignal | undefined): Promise<void> {
  if (!b) return sleep(ms, undefined, { signal: a });
  const either = new AbortController();
  const stop = (): void => either.abort();
  if (a.aborted || b.aborted) stop();
  a.addEventListener('abort', stop, { once: true });
  b.addEventListener('abort', stop, { once: true });
  try {
    await sleep(ms, undefined, { signal: either.signal });
  } finally {
    a.removeEventListener('abort', stop);
    b.removeEventListener('abort', stop);
  }
}

/** A TileFetch for the log at `base` (the prefix URL). */
export function httpTileFetch(base: string, opts: HttpFetchOptions = {}): HttpTileFetch {
  let prefix: URL;
  try {
    prefix = new URL(base.endsWith('/') ? base : `${base}/`);
  } catch {
    throw new LedgerError('ERR_INVALID_ARGUMENT', `not a URL: ${base}`);
  }
  if (prefix.protocol !== 'http:' && prefix.protocol !== 'https:') throw new LedgerError('ERR_INVALID_ARGUMENT', `not an http(s) URL: ${base}`);
  const timeout = opts.timeoutMs ?? 30000;
  const retries = opts.retries503 ?? DEFAULT_503_RETRIES;
  const maxWait = opts.maxRetryWaitMs ?? DEFAULT_MAX_RETRY_WAIT_MS;
  if (!Number.isSafeInteger(retries) || retries < 0) throw new LedgerError('ERR_INVALID_ARGUMENT', 'retries503 must be a non-negative integer');
  if (!Number.isSafeInteger(maxWait) || maxWait < 0) throw new LedgerError('ERR_INVALID_ARGUMENT', 'maxRetryWaitMs must be a non-negative integer');
  const closing = new AbortController();
  const agents = { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) };
  const fetchOne = async (path: string, { signal: cancel }: TileFetchOptions = {}): Promise<Uint8Array> => {
    let url = new URL(path, prefix);
    const max = maxResourceBytes(path);
    let headers: Record<string, string> = { 'accept-encoding': 'gzip', ...opts.headers };
    // Each attempt after a 503 or 429 has its own timeout: the server asked us to come back.
    const attempt = (): AbortSignal => (cancel ? AbortSignal.any([AbortSignal.timeout(timeout), cancel]) : AbortSignal.timeout(timeout));
    const cancelled = (): LedgerError => new LedgerError('ERR_REPLICA_FETCH', `fetching ${url.pathname} was cancelled`, { path });
    let signal = attempt();
    let hops = 0;
    let retried = 0;
    for (;;) {
      if (closing.signal.aborted) throw new LedgerError('ERR_REPLICA_FETCH', `cannot fetch ${url.pathname}: the fetch is closed`, { path });
      if (cancel?.aborted) throw cancelled();
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new LedgerError('ERR_REPLICA_FETCH', `fetching ${path} redirected to ${url.protocol}`, { path });
      const agent = url.protocol === 'https:' ? agents.https : agents.http;
      let res: Answer;
      try {
        try {
          res = await get(url, headers, agent, signal, max);
        } catch (err) {
          // A kept-alive connection the server closed meanwhile: once more on a new one.
          // Not when close() reset it: the fetch is over (a new request would wait out its timeout).
          if ((err as { code?: string }).code !== 'ECONNRESET' || signal.aborted || closing.signal.aborted) throw err;
          res = await get(url, headers, agent, signal, max);
        }
      } catch (err) {
        if (cancel?.aborted) throw cancelled();
        if (closing.signal.aborted) throw new LedgerError('ERR_REPLICA_FETCH', `cannot fetch ${url.pathname}: the fetch is closed`, { path });
        const why = signal.aborted ? `no answer within ${timeout} ms` : (err as Error).message;
        throw new LedgerError('ERR_REPLICA_FETCH', `cannot fetch ${url.pathname}: ${why}`, { path });
      }
      if (REDIRECTS.has(res.status) && res.location !== undefined && hops < MAX_REDIRECTS) {
        let next: URL;
        try {
          next = new URL(res.location, url);
        } catch {
          throw new LedgerError('ERR_REPLICA_FETCH', `fetching ${url.pathname} redirected to no URL`, { path, status: res.status });
        }
        // Credentials go to the origin they were given for only (as fetch() does).
        if (next.origin !== url.origin) headers = { 'accept-encoding': 'gzip' };
        url = next;
        hops++;
        continue;
      }
      // Overloaded, past its byte rate (or its ledger not open yet): wait as asked (capped) and ask again, a bounded number of times.
      if (BUSY.has(res.status) && retried < retries) {
        retried++;
        try {
          const ms = retryWaitMs(res.retryAfter, maxWait);
          await sleepUnless(ms, closing.signal, cancel);
        } catch {
          if (cancel?.aborted) throw cancelled();
          throw new LedgerError('ERR_REPLICA_FETCH', `cannot fetch ${url.pathname}: the fetch is closed`, { path });
        }
        signal = attempt();
        continue;
      }
      if (res.status !== 200) {
        const busy = BUSY.has(res.status);
        const after = busy ? ` (still after ${retried} retries)` : '';
        throw new LedgerError('ERR_REPLICA_FETCH', `fetching ${url.pathname} answered HTTP ${res.status}${after}`, { path, status: res.status, ...(busy ? { retries: retried } : {}) });
      }
      if (res.encoding === 'identity') return new Uint8Array(res.body.buffer, res.body.byteOffset, res.body.byteLength);
      if (res.encoding !== 'gzip') throw new LedgerError('ERR_REPLICA_FETCH', `fetching ${url.pathname} answered in content-encoding ${res.encoding}`, { path });
      try {
        const body = res.body.length <= SYNC_GUNZIP_MAX ? gunzipSync(res.body, { maxOutputLength: max }) : await gunzipAsync(res.body, { maxOutputLength: max });
        return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
      } catch (err) {
        throw new LedgerError('ERR_REPLICA_FETCH', `fetching ${url.pathname}: the gzip body does not inflate: ${(err as Error).message}`, { path });
      }
    }
  };
  return Object.assign(fetchOne, {
    close: (): Promise<void> => {
      closing.abort();
      agents.http.destroy();
      agents.https.destroy();
      return Promise.resolve();
    },
  });
}
