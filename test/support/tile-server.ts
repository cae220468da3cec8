// A plain node:http server answering C2SP tile requests for whichever ledger `ledger` holds.
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Ledger } from '../../lib/ledger';
import { answerTileRequest } from '../../lib/tiles/http';

export interface TileServer {
  url: string;
  ledger: Ledger | null;
  /** Paths requested so far. */
  requests: string[];
  close(): Promise<void>;
}

export async function startTileServer(ledger: Ledger | null, prefix = '/log/'): Promise<TileServer> {
  const state: TileServer = { url: '', ledger, requests: [], close: async () => undefined };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (!url.pathname.startsWith(prefix)) return void res.writeHead(404).end();
    const p = url.pathname.slice(prefix.length);
    state.requests.push(p);
    void answerTileRequest(state.ledger, p, req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${prefix}`;
  state.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return state;
}
