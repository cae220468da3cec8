// The witness's HTTP transport on Node-RED's httpNode app (so httpNodeAuth applies; Node-RED
// adds httpNodeMiddleware, httpNodeCors and its body parsers to HTTP In routes only): POST
// <prefix>/add-checkpoint as C2SP tlog-witness says, and GET <prefix>/checkpoint?origin=… for
// the latest cosigned checkpoint of a log. A RequestGate bounds the add-checkpoint requests
// read or handled at once (16, and 4 per client address; more are answered 503 ERR_OVERLOADED
// at once), and a body not received within 10 s is answered 408 and its connection closed.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { fromUtf8 } from '../../lib/encoding/bytes';
import { isLedgerError, LedgerError } from '../../lib/errors';
import { readBoundedBody } from '../../lib/guards/bounded-body';
import { claimPostBodies, isClaimed, type RequestEvents } from './claimed-body';
import { clientAddress, RequestGate } from '../../lib/guards/request-gate';
import { MAX_REQUEST_BYTES, type WitnessReply } from '../../lib/witness';

/** `body` and `_body` as body-parser (and Node-RED's raw body capture) leave them. */
type Request = IncomingMessage & { body?: unknown; _body?: unknown; query?: Record<string, unknown> };
type RawHandler = (req: Request, res: ServerResponse, next: () => void) => void;

export interface WitnessHttpRED {
  httpNode: { post(path: string, handler: RawHandler): void; get(path: string, handler: RawHandler): void };
  /** The HTTP server httpNode is served on, where add-checkpoint POSTs are claimed before any body parser. */
  server?: RequestEvents;
  settings: { httpNodeRoot?: unknown };
}

interface Target {
  handle(body: string): Promise<WitnessReply>;
  service?: { latest(origin: string): string | undefined };
}

const REGISTRY = Symbol.for('node-red-contrib-iot-ledger.witness-routes');

/** add-checkpoint requests read or handled at once, for all witnesses of the runtime; more are refused with 503 at once (none wait). */
export const MAX_ACTIVE_WITNESS_REQUESTS = 16;
/** Of those, the most one client address has at once. */
export const MAX_WITNESS_REQUESTS_PER_CLIENT = 4;
/** A request whose body has not arrived whole within this time is answered 408 and its connection closed, freeing its turn. */
export const WITNESS_BODY_TIMEOUT_MS = 10_000;

/**
 * A turn that is up: a body still arriving is answered 408 (Connection: close, so Node closes
 * the connection once it is written, and the body's reader stops); an answer being sent that the
 * client does not take has its connection closed; a whole body being handled keeps its turn
 * until it is answered (the witness's own work, on its own state).
 */
function timedOut(res: ServerResponse): void {
  if (res.headersSent) res.destroy();
  else if (!res.req?.complete) {
    const body = `ERR_WITNESS_REQUEST: the request body did not arrive within ${witnessRequests.limits.timeoutMs / 1000} s\n`;
    res
      .writeHead(408, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store', connection: 'close' })
      .end(body);
  }
}

interface Routes {
  targets: Map<string, Target>;
  mounted: Set<string>;
  gate: RequestGate;
}

/** Prefix -> the witness deployed there now. Express routes cannot be removed cleanly, so each path is routed once and looks up its node. */
function routes(): Routes {
  const g = globalThis as unknown as Record<symbol, Routes | undefined>;
  return (g[REGISTRY] ??= {
    targets: new Map(),
    mounted: new Set(),
    gate: new RequestGate(
      {
        maxActive: MAX_ACTIVE_WITNESS_REQUESTS,
        maxWaiting: 0,
        maxActivePerClient: MAX_WITNESS_REQUESTS_PER_CLIENT,
        maxPerClient: MAX_WITNESS_REQUESTS_PER_CLIENT,
        timeoutMs: WITNESS_BODY_TIMEOUT_MS,
      },
      { what: 'add-checkpoint requests', onTimeout: timedOut },
    ),
  });
}

/** The gate of every witness's add-checkpoint route in the runtime (stats and limits for tests). */
export const witnessRequests = routes().gate;

/**
 * Whether `path` (a request's, from the server's root) is the add-checkpoint route of a deployed
 * witness, as Express matches it on httpNode at `root`: case-insensitive, a trailing slash allowed.
 */
function isAddCheckpoint(path: string, root: string): boolean {
  const p = path.toLowerCase().replace(/(.)\/$/, '$1');
  const base = root.toLowerCase().replace(/\/+$/, '');
  for (const prefix of routes().targets.keys()) if (p === `${base}${prefix.toLowerCase()}/add-checkpoint`) return true;
  return false;
}

function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  // Answered already: by the gate (408 at its deadline), or the connection is gone.
  if (res.headersSent || res.destroyed) return;
  res.statusCode = status;
  res.setHeader('Content-Type', contentType);
  res.setHeader('Cache-Control', 'no-store');
  res.end(body);
}

/** A 500 whose body is the error's code only: what went wrong inside (a state file, a path) is the operator's, not the caller's. */
function sendInternal(res: ServerResponse, err: unknown): void {
  send(res, 500, 'text/plain; charset=utf-8', `${isLedgerError(err) ? err.code : 'ERR_INTERNAL'}\n`);
}

/** The answer to a request whose witness was deployed away while its body was read. */
const GONE: WitnessReply = { status: 404, contentType: 'text/plain; charset=utf-8', body: 'no witness is deployed at this path\n' };

const requestError = (message: string): LedgerError => new LedgerError('ERR_WITNESS_REQUEST', message);
const tooLarge = (): LedgerError => requestError('request body is too large');

function text(raw: Buffer): string {
  try {
    return fromUtf8(raw);
  } catch {
    throw requestError('request body is not UTF-8');
  }
}

/**
 * The request body, at most MAX_REQUEST_BYTES. On RED.server the request was claimed before any
 * body parser ran (claimed-body.ts), so the stream is the witness's to read. Served elsewhere, or
 * past a reader that ignores the claim, middleware before this route may have read it already (a
 * body parser in an httpNodeAuth array or in the app Node-RED is embedded in, one that another
 * package put on httpNode, Node-RED's raw capture for an HTTP In node at this path with body
 * parsing off): its text or bytes in `req.body` are used, within the same bound; a stream read
 * into anything else is a 400 at once (waiting for its end would wait for ever). A body-parser
 * that skipped the request leaves `req.body` an empty object and the stream unread.
 */
async function readBody(req: Request): Promise<string> {
  const { body } = req;
  if (typeof body === 'string') {
    if (Buffer.byteLength(body) > MAX_REQUEST_BYTES) throw tooLarge();
    return body;
  }
  if (Buffer.isBuffer(body)) {
    if (body.length > MAX_REQUEST_BYTES) throw tooLarge();
    return text(body);
  }
  if ((req._body === true && !isClaimed(req)) || req.readableEnded || req.readableDidRead)
    throw requestError('the request body was read before the witness, not as text: send it as text/plain, or leave this path out of body parsing');
  return text(await readBoundedBody(req, MAX_REQUEST_BYTES, tooLarge));
}

/**
 * The query of a request target. Not by new URL(): Express routes an absolute-form target by its
 * path, and new URL() throws on one it refuses (a port past 65535), a 500 with a stack trace.
 */
function queryOf(target: string): URLSearchParams {
  const q = target.indexOf('?');
  if (q < 0) return new URLSearchParams();
  const hash = target.indexOf('#', q);
  return new URLSearchParams(target.slice(q + 1, hash < 0 ? undefined : hash));
}

/** Mounts (or re-points) the witness routes at `prefix`; returns the unmount function. */
export function mountWitnessRoutes(RED: WitnessHttpRED, prefix: string, target: Target): () => void {
  const r = routes();
  if (r.targets.has(prefix)) throw new LedgerError('ERR_INVALID_ARGUMENT', `another witness already serves ${prefix}`);
  r.targets.set(prefix, target);
  const root = RED.settings.httpNodeRoot;
  if (RED.server && root !== false) {
    const base = typeof root === 'string' ? root : '/';
    claimPostBodies(RED.server, `witness add-checkpoint at ${base}`, (path) => isAddCheckpoint(path, base));
  }
  if (!r.mounted.has(prefix)) {
    r.mounted.add(prefix);
    RED.httpNode.post(`${prefix}/add-checkpoint`, (req, res, next) => {
      const t = r.targets.get(prefix);
      if (!t) return next();
      r.gate.admit(
        res,
        () =>
          readBody(req)
            .then((body) => {
              // The witness deployed here when the body has arrived (it may take 10 s): a request
              // that was being read across a deploy is not answered by the closed node, with the
              // logs and key the deploy replaced (a log taken out would get one more cosignature).
              const now = r.targets.get(prefix);
              return now ? now.handle(body) : GONE;
            })
            .then(
              (reply) => send(res, reply.status, reply.contentType, reply.body),
              (err: unknown) =>
                isLedgerError(err, 'ERR_WITNESS_REQUEST') ? send(res, 400, 'text/plain; charset=utf-8', `${err.message}\n`) : sendInternal(res, err),
            ),
        clientAddress(req),
      );
    });
    RED.httpNode.get(`${prefix}/checkpoint`, (req, res, next) => {
      const t = r.targets.get(prefix);
      if (!t) return next();
      const origin = queryOf(req.url ?? '').get('origin') ?? '';
      let note: string | undefined;
      try {
        note = t.service?.latest(origin);
      } catch (err) {
        sendInternal(res, err);
        return;
      }
      if (note === undefined) send(res, 404, 'text/plain; charset=utf-8', 'no cosigned checkpoint for this origin\n');
      else send(res, 200, 'text/plain; charset=utf-8', note);
    });
  }
  return () => {
    if (r.targets.get(prefix) === target) r.targets.delete(prefix);
  };
}
