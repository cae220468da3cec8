// Admin endpoints of the Ledger sidebar (the plugin nodes/iot-ledger-sidebar registers them).
import { openGateways } from '../../lib/gateway';
import type { Request, Response } from './http';
import type { RED } from './red';
import { replicaViews } from './replicas';
import { DEFAULT_SERIES_LIMIT, sidebarData } from '../../lib/gateway/sidebar-data';
import { sharedSeries } from './series-turns';

function fail(res: Response, err: unknown): void {
  const e = err as Error & { code?: string };
  res.status(e?.code === 'ERR_OVERLOADED' ? 503 : 500).json({ error: e?.message ?? String(err), code: e?.code });
}

export async function sidebarHandler(_req: Request, res: Response): Promise<void> {
  try {
    res.json({ ledgers: await sidebarData(await openGateways()), replicas: replicaViews() });
  } catch (err) {
    fail(res, err);
  }
}

export async function seriesHandler(req: Request, res: Response): Promise<void> {
  try {
    const name = typeof req.query.ledger === 'string' ? req.query.ledger : '';
    const termsHash = typeof req.query.contract === 'string' ? req.query.contract : '';
    if (!/^[0-9a-f]{64}$/.test(termsHash)) {
      res.status(400).json({ error: 'contract must be the hex terms hash of a contract' });
      return;
    }
    const limit = Number(req.query.limit ?? DEFAULT_SERIES_LIMIT);
    const gateways = await openGateways();
    // Two directories may hold ledgers of the same name: prefer the one running the contract.
    const named = gateways.filter((g) => g.ledger.name === name || (name === '' && gateways.length === 1));
    const gw = named.find((g) => g.contractView(termsHash) !== undefined) ?? named[0];
    if (!gw) {
      res.status(404).json({ error: `no open ledger named ${JSON.stringify(name)}` });
      return;
    }
    const series = await sharedSeries(gw, termsHash, limit);
    if (!series) {
      res.status(404).json({ error: `ledger ${gw.ledger.name} has no contract ${termsHash}` });
      return;
    }
    res.json(series);
  } catch (err) {
    fail(res, err);
  }
}

export function addRoutes(RED: RED): void {
  const read = RED.auth.needsPermission('iot-ledger.read');
  RED.httpAdmin.get('/iot-ledger/sidebar', read, (req, res) => void sidebarHandler(req, res));
  RED.httpAdmin.get('/iot-ledger/sidebar/series', read, (req, res) => void seriesHandler(req, res));
}

