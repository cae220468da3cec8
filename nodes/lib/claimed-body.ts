// A route that reads its own request body within its own bound, before any body parser can.
// red.js mounts Node-RED's admin app before httpNode, both at "/" by default, and the admin
// app's body parsers read every application/json and application/x-www-form-urlencoded request
// under its root, up to apiMaxLength (5 MB), before any httpNode route sees it (so do body
// parsers in settings.httpNodeAuth or in an app Node-RED is embedded in). Such a route claims its
// requests on the HTTP server, ahead of Express: a claimed request is marked parsed (`_body`,
// which body-parser and Node-RED's raw body capture honour), so they leave its stream unread.
import type { IncomingMessage } from 'node:http';

const CLAIMED = Symbol.for('node-red-contrib-iot-ledger.claimed-body');

type Marked = IncomingMessage & { _body?: unknown; [CLAIMED]?: true };

/** The server's request events: Node-RED's RED.server. */
export interface RequestEvents {
  prependListener(event: 'request', listener: (req: IncomingMessage) => void): unknown;
}

type Claims = (path: string) => boolean;

const claimsOf = new WeakMap<RequestEvents, Map<string, Claims>>();

/** Whether `req` was claimed: its `_body` is the claim's, not a parser's. */
export function isClaimed(req: IncomingMessage): boolean {
  return (req as Marked)[CLAIMED] === true;
}

/** The path of a request target as Express routes it: without query or fragment, and the path of an absolute URL. */
export function targetPath(url: string): string {
  const end = url.search(/[?#]/);
  const target = end < 0 ? url : url.slice(0, end);
  if (target.startsWith('/')) return target;
  const absolute = /^[a-z][a-z0-9+.-]*:\/\/[^/]*(\/.*)?$/i.exec(target);
  return absolute ? (absolute[1] ?? '/') : target;
}

/** How many claims `server` holds (tests). */
export function claimsOn(server: RequestEvents): number {
  return claimsOf.get(server)?.size ?? 0;
}

/**
 * Claims on `server`, ahead of its other request listeners, every POST whose target path `claims`
 * (asked at each request). A later claim under the same `key` replaces the earlier one: a route
 * mounted again at each deploy holds one claim, not one more per deploy for every request to ask.
 */
export function claimPostBodies(server: RequestEvents, key: string, claims: Claims): void {
  let all = claimsOf.get(server);
  if (!all) {
    const map = new Map<string, Claims>();
    all = map;
    claimsOf.set(server, map);
    server.prependListener('request', (req: Marked) => {
      if (req.method !== 'POST') return;
      const path = targetPath(req.url ?? '');
      for (const c of map.values()) {
        if (!c(path)) continue;
        req._body = true;
        req[CLAIMED] = true;
        return;
      }
    });
  }
  all.set(key, claims);
}
