// A gateway process for the replica bench: opens a ledger read-only and serves its tiles
// on a free port (printed as the first line), like a Node-RED with "Publish tiles" (through
// the same request gate: at most 4 answered at once).
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Ledger } from '../lib/ledger';
import { answerTileRequest, TileRequestGate } from '../lib/tiles/http';

async function main(): Promise<void> {
  const ledger = await Ledger.open(process.argv[2], { readOnly: true });
  const gate = new TileRequestGate();
  const server = http.createServer((req, res) => {
    const p = new URL(req.url ?? '/', 'http://x').pathname.replace(/^\/+/, '');
    gate.admit(res, (sent) => answerTileRequest(ledger, p, req, res, sent));
  });
  server.listen(0, '127.0.0.1', () => console.log(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`));
  process.on('SIGTERM', () => {
    server.close();
    void ledger.close().then(() => process.exit(0));
  });
}

void main();
