// Fetching tile resources over HTTP(S) with node:http: keep-alive connections, redirects
// followed, and a gzip body inflated in one call. (fetch() inflated through
// web streams: for a following replica that cost about as much CPU as decoding its records,
// bench/RESULTS.md "Replicas".)
import * as http from 'node:http';
import * as https from 'node:https';
import { promisify } from 'node:util';
import { gunzip, gunzipSync } from 'node:zlib';
import { LedgerError } from '../errors';
import { readBoundedBody } from '../guards/bounded-body';
import type { TileFetch } from '../tiles/verify';

export interface HttpFetchOptions {
  /** Per-request timeout in ms (default 30000). */
  timeoutMs?: number;
  /** Extra request headers, e.g. Authorization for a Node-RED with httpNodeAuth. */
  headers?: Record<string, string>;
}

/** A TileFetch whose kept-alive connections close() ends. */
export type HttpTileFetch = TileFetch & { close(): Promise<void> };

const gunzipAsync = promisify(gunzip);
const MAX_REDIRECTS = 5;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/** Far above the largest entry bundle (256 entries of at most 64 KiB): a bound for a gzip bomb. */
const MAX_BODY = 64 * 1024 * 1024;
/** Compressed bodies up to this size are inflated in one synchronous call (zlib's asynchronous form costs more to set up than this takes). */
const SYNC_GUNZIP_MAX = 256 * 1024;

interface Answer {
  status: number;
  location?: string;
  encoding: string;
  body: Buffer;
}

function get(url: URL, headers: Record<string, string>, agent: http.Agent, signal: AbortSignal): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = (url.protocol === 'https:' ? https : http).get(url, { headers, agent, signal }, (res) => {
      const status = res.statusCode ?? 0;
      const answer = { status, location: res.headers.location, encoding: String(res.headers['content-encoding'] ?? 'identity').toLowerCase() };
      if (status !== 200) {
        res.resume();
        resolve({ ...answer, body: Buffer.alloc(0) });
        return;
      }
      readBoundedBody(res, MAX_BODY, () => new Error(`the body is larger than ${MAX_BODY} bytes`)).then((body) => resolve({ ...answer, body }), reject);
    });
    req.on('error', reject);
  });
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
  const agents = { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) };
  const fetchOne = async (path: string): Promise<Uint8Array> => {
    let url = new URL(path, prefix);
    let headers: Record<string, string> = { 'accept-encoding': 'gzip', ...opts.headers };
    const signal = AbortSignal.timeout(timeout);
    for (let hops = 0; ; hops++) {
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new LedgerError('ERR_REPLICA_FETCH', `fetching ${path} redirected to ${url.protocol}`, { path });
      const agent = url.protocol === 'https:' ? agents.https : agents.http;
      let res: Answer;
      try {
        try {
          res = await get(url, headers, agent, signal);
        } catch (err) {
          // A kept-alive connection the server closed meanwhile: once more on a new one.
          if ((err as { code?: string }).code !== 'ECONNRESET' || signal.aborted) throw err;
          res = await get(url, headers, agent, signal);
        }
      } catch (err) {
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
        continue;
      }
      if (res.status !== 200) throw new LedgerError('ERR_REPLICA_FETCH', `fetching ${url.pathname} answered HTTP ${res.status}`, { path, status: res.status });
      if (res.encoding === 'identity') return new Uint8Array(res.body.buffer, res.body.byteOffset, res.body.byteLength);
      if (res.encoding !== 'gzip') throw new LedgerError('ERR_REPLICA_FETCH', `fetching ${url.pathname} answered in content-encoding ${res.encoding}`, { path });
      try {
        const body = res.body.length <= SYNC_GUNZIP_MAX ? gunzipSync(res.body, { maxOutputLength: MAX_BODY }) : await gunzipAsync(res.body, { maxOutputLength: MAX_BODY });
        return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
      } catch (err) {
        throw new LedgerError('ERR_REPLICA_FETCH', `fetching ${url.pathname}: the gzip body does not inflate: ${(err as Error).message}`, { path });
      }
    }
  };
  return Object.assign(fetchOne, {
    close: (): Promise<void> => {
      agents.http.destroy();
      agents.https.destroy();
      return Promise.resolve();
    },
  });
}
