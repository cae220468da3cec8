// Fetching tile resources over HTTP(S) with Node's fetch (gzip handled by it).
import { LedgerError } from '../errors';
import type { TileFetch } from '../tiles/verify';

export interface HttpFetchOptions {
  /** Per-request timeout in ms (default 30000). */
  timeoutMs?: number;
  /** Extra request headers, e.g. Authorization for a Node-RED with httpNodeAuth. */
  headers?: Record<string, string>;
}

/** A TileFetch for the log at `base` (the prefix URL). */
export function httpTileFetch(base: string, opts: HttpFetchOptions = {}): TileFetch {
  let prefix: URL;
  try {
    prefix = new URL(base.endsWith('/') ? base : `${base}/`);
  } catch {
    throw new LedgerError('ERR_INVALID_ARGUMENT', `not a URL: ${base}`);
  }
  if (prefix.protocol !== 'http:' && prefix.protocol !== 'https:') throw new LedgerError('ERR_INVALID_ARGUMENT', `not an http(s) URL: ${base}`);
  const timeout = opts.timeoutMs ?? 30000;
  return async (path) => {
    const url = new URL(path, prefix);
    let res: Response;
    try {
      res = await fetch(url, { headers: { 'accept-encoding': 'gzip, identity', ...opts.headers }, signal: AbortSignal.timeout(timeout) });
    } catch (err) {
      const cause = (err as { cause?: { message?: string } }).cause?.message;
      throw new LedgerError('ERR_REPLICA_FETCH', `cannot fetch ${url.pathname}: ${cause ?? (err as Error).message}`, { path });
    }
    if (res.status !== 200) {
      await res.body?.cancel().catch(() => undefined);
      throw new LedgerError('ERR_REPLICA_FETCH', `fetching ${url.pathname} answered HTTP ${res.status}`, { path, status: res.status });
    }
    return new Uint8Array(await res.arrayBuffer());
  };
}

