// Answering one tile request on a Node http response (Express's too): the status, C2SP
// content types, caching (immutable tiles for a year, the checkpoint for two seconds) and
// gzip for entry bundles when the client accepts it.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { promisify } from 'node:util';
import { gzip, gzipSync } from 'node:zlib';
import { isLedgerError } from '../errors';
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
    let body = r.body;
    const headers: Record<string, string> = {
      'content-type': r.contentType,
      'cache-control': r.status !== 200 ? 'no-store' : r.immutable ? 'public, max-age=31536000, immutable' : 'no-cache, max-age=2',
    };
    if (r.status === 200 && path.startsWith('tile/entries/') && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))) {
      body = body.length <= SYNC_GZIP_MAX ? gzipSync(body, { level: 1 }) : await gzipAsync(body, { level: 1 });
      headers['content-encoding'] = 'gzip';
      headers.vary = 'accept-encoding';
    }
    headers['content-length'] = String(body.length);
    res.writeHead(r.status, headers).end(Buffer.from(body.buffer, body.byteOffset, body.byteLength));
  } catch (err) {
    const code = isLedgerError(err) ? err.code : 'ERR_INTERNAL';
    if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(`${code}\n`);
  }
}
