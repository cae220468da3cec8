// The witness's HTTP transport on Node-RED's httpNode app (so httpNodeAuth, httpNodeMiddleware
// and httpNodeCors apply): POST <prefix>/add-checkpoint as C2SP tlog-witness says, and
// GET <prefix>/checkpoint?origin=… for the latest cosigned checkpoint of a log.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { fromUtf8 } from '../../lib/encoding/bytes';
import { isLedgerError, LedgerError } from '../../lib/errors';
import { readBoundedBody } from '../../lib/guards/bounded-body';
import { MAX_REQUEST_BYTES, type WitnessReply } from '../../lib/witness';

type RawHandler = (req: IncomingMessage & { body?: unknown; query?: Record<string, unknown> }, res: ServerResponse, next: () => void) => void;

export interface WitnessHttpRED {
  httpNode: { post(path: string, handler: RawHandler): void; get(path: string, handler: RawHandler): void };
}

interface Target {
  handle(body: string): Promise<WitnessReply>;
  service?: { latest(origin: string): string | undefined };
}

const REGISTRY = Symbol.for('node-red-contrib-iot-ledger.witness-routes');

/** Prefix -> the witness deployed there now. Express routes cannot be removed cleanly, so each path is routed once and looks up its node. */
function routes(): { targets: Map<string, Target>; mounted: Set<string> } {
  const g = globalThis as unknown as Record<symbol, { targets: Map<string, Target>; mounted: Set<string> } | undefined>;
  return (g[REGISTRY] ??= { targets: new Map(), mounted: new Set() });
}

function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.statusCode = status;
  res.setHeader('Content-Type', contentType);
  res.setHeader('Cache-Control', 'no-store');
  res.end(body);
}

/** A 500 whose body is the error's code only: what went wrong inside (a state file, a path) is the operator's, not the caller's. */
function sendInternal(res: ServerResponse, err: unknown): void {
  send(res, 500, 'text/plain; charset=utf-8', `${isLedgerError(err) ? err.code : 'ERR_INTERNAL'}\n`);
}

function readBody(req: IncomingMessage & { body?: unknown }): Promise<string> {
  if (typeof req.body === 'string') return Promise.resolve(req.body);
  if (Buffer.isBuffer(req.body)) return Promise.resolve(fromUtf8(req.body));
  return readBoundedBody(req, MAX_REQUEST_BYTES, () => new LedgerError('ERR_WITNESS_REQUEST', 'request body is too large')).then((raw) => {
    try {
      return fromUtf8(raw);
    } catch {
      throw new LedgerError('ERR_WITNESS_REQUEST', 'request body is not UTF-8');
    }
  });
}

/** Mounts (or re-points) the witness routes at `prefix`; returns the unmount function. */
export function mountWitnessRoutes(RED: WitnessHttpRED, prefix: string, target: Target): () => void {
  const r = routes();
  if (r.targets.has(prefix)) throw new LedgerError('ERR_INVALID_ARGUMENT', `another witness already serves ${prefix}`);
  r.targets.set(prefix, target);
  if (!r.mounted.has(prefix)) {
    r.mounted.add(prefix);
    RED.httpNode.post(`${prefix}/add-checkpoint`, (req, res, next) => {
      const t = r.targets.get(prefix);
      if (!t) return next();
      readBody(req)
        .then((body) => t.handle(body))
        .then(
          (reply) => send(res, reply.status, reply.contentType, reply.body),
          (err: unknown) =>
            isLedgerError(err, 'ERR_WITNESS_REQUEST') ? send(res, 400, 'text/plain; charset=utf-8', `${err.message}\n`) : sendInternal(res, err),
        );
    });
    RED.httpNode.get(`${prefix}/checkpoint`, (req, res, next) => {
      const t = r.targets.get(prefix);
      if (!t) return next();
      const url = new URL(req.url ?? '', 'http://x');
      const origin = url.searchParams.get('origin') ?? '';
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
