// Read-only C2SP tlog-tiles over Node-RED's node HTTP server (RED.httpNode, so httpNodeAuth
// applies; Node-RED adds httpNodeMiddleware and httpNodeCors to HTTP In routes only):
// GET <httpNodeRoot>/iot-ledger/tiles/<ledger>/<path>.
// One route for the runtime; Ledger config nodes that publish register their ledger by name.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { clientAddress } from '../../lib/guards/request-gate';
import { answerTileRequest, TileRequestGate } from '../../lib/tiles/http';
import type { Gateway } from '../../lib/gateway';

export const TILES_MOUNT = '/iot-ledger/tiles';

const BAD_PATH = 'ERR_INVALID_ARGUMENT: the path is not percent-encoded UTF-8\n';

/** Each published name's ledger: its opener and its directory. */
const published = new Map<string, { open: () => Promise<Gateway>; dir: string }>();

/**
 * One gate for every ledger the runtime publishes: what is answered at once, what waits, how
 * much of it one client address holds, and the bytes per second sent (stats and limits for tests).
 */
export const tileRequests = new TileRequestGate();

interface HttpNodeApp {
  use(path: string, handler: (req: IncomingMessage & { path?: string; method?: string }, res: ServerResponse, next: () => void) => void): void;
}

const mountedOn = new WeakSet<object>();

/** Mounts the route once per runtime (no-op when Node-RED serves no node HTTP). */
export function mountTileRoutes(app: HttpNodeApp | undefined): void {
  if (!app || typeof app.use !== 'function' || mountedOn.has(app)) return;
  mountedOn.add(app);
  app.use(TILES_MOUNT, (req, res, next) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    let rel: string;
    try {
      rel = decodeURIComponent(req.path ?? new URL(req.url ?? '/', 'http://x').pathname).replace(/^\/+/, '');
    } catch {
      // Thrown on to Express, a URIError became a 500 with its stack trace in the body (and the log).
      res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' }).end(BAD_PATH);
      return;
    }
    // Ledger names may hold '/': the longest published name that prefixes the path wins.
    let name: string | undefined;
    for (const n of published.keys()) if (rel.startsWith(`${n}/`) && (!name || n.length > name.length)) name = n;
    if (!name) return next();
    const ledgerName = name;
    const path = rel.slice(name.length + 1);
    tileRequests.admit(
      res,
      (sent) => {
        // Who publishes the name is looked up when the turn comes, not when the request came:
        // a request that waited across a deploy is answered by the node deployed now (503 when
        // none is), never by a closed one.
        const open = published.get(ledgerName)?.open;
        return (open ? open() : Promise.reject(new Error('not published'))).then(
          (gw) => answerTileRequest(gw.ledger, path, req, res, sent),
          () => answerTileRequest(null, path, req, res, sent),
        );
      },
      clientAddress(req),
    );
  });
}

/**
 * Publishes a ledger's tiles under its name. Returns the directory of another ledger that
 * published the same name until now (its tiles are no longer reachable), else undefined.
 */
export function publishLedger(name: string, open: () => Promise<Gateway>, dir: string): string | undefined {
  const before = published.get(name)?.dir;
  published.set(name, { open, dir });
  return before !== undefined && before !== dir ? before : undefined;
}

export function unpublishLedger(name: string, open: () => Promise<Gateway>): void {
  if (published.get(name)?.open === open) published.delete(name);
}
