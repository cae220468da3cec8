import { acquireGateway, releaseGateway, type Gateway } from '../lib/gateway';
import { loadOrCreateKeyFile } from '../lib/keyfile';
import { generateKey } from '../lib/keys';
import { ledgerPaths } from '../lib/gateway/paths';
import type { LedgerConfigNode } from './lib/ledger-config';
import { parseWitnessEndpoints, WitnessClient, type WitnessEndpoint } from '../lib/witness/client';
import { autoTransport } from '../lib/witness/mqtt';
import type { NodeDef, RED } from './lib/red';

export = function register(RED: RED): void {
  function LedgerConfig(this: LedgerConfigNode, def: NodeDef): void {
    RED.nodes.createNode(this, def);
    const userDir = RED.settings.userDir ?? process.cwd();
    this.ledgerName = String(def.ledgerName || 'iot-ledger');
    const paths = ledgerPaths(userDir, this.ledgerName, def.dir as string | undefined);
    this.dir = paths.dir;
    this.keyFile = paths.keyFile;
    const blockRecords = Number(def.blockRecords) || 1000;
    const blockSeconds = Number(def.blockSeconds) || 60;
    let endpoints: WitnessEndpoint[] = [];
    let quorum = 0;
    let witnessProblem: Error | undefined;
    try {
      endpoints = parseWitnessEndpoints(String(def.witnesses ?? ''));
      quorum = def.quorum === undefined || def.quorum === '' ? endpoints.length : Number(def.quorum);
      if (!Number.isSafeInteger(quorum) || quorum < 0 || quorum > endpoints.length) throw new Error(`quorum must be from 0 to ${endpoints.length}`);
    } catch (err) {
      witnessProblem = err as Error;
      endpoints = [];
    }
    if (witnessProblem) this.error(`ledger ${this.ledgerName}: witnesses: ${witnessProblem.message}`);
    let client: WitnessClient | undefined;
    let opened: Promise<Gateway> | undefined;
    this.gateway = () => {
      if (!opened) {
        opened = (async () => {
          const gatewayKey = loadOrCreateKeyFile(this.keyFile, () => generateKey('Ed25519'));
          const gw = await acquireGateway(this.dir, { name: this.ledgerName, gatewayKey, blockRecords, blockSeconds });
          if (endpoints.length > 0 && !gw.witnesses) {
            const transport = autoTransport();
            client = new WitnessClient(gw.ledger, endpoints, { quorum, transport });
            client.once('closed', () => void transport.close());
            client.on('witness-error', (name: string, err: Error) => this.warn(`witness ${name}: ${err.message}`));
            gw.witnesses = client;
            client.kick();
          }
          return gw;
        })();
        opened.catch((err: unknown) => this.error(`ledger ${this.ledgerName}: ${(err as Error).message}`));
      }
      return opened;
    };
    this.on('close', (_removed, done) => {
      const was = opened;
      opened = undefined;
      if (!was) return done();
      const stopWitnessing = async (gw: Gateway) => {
        if (client && gw.witnesses === client) gw.witnesses = undefined;
        await client?.close();
        client = undefined;
      };
      was.then(
        (gw) => stopWitnessing(gw).then(() => releaseGateway(this.dir)).then(done, done),
        () => done(),
      );
    });
  }
  RED.nodes.registerType('iot-ledger-config', LedgerConfig);

  // The editor shows the gateway's public identity; private keys never leave the runtime.
  // A node not deployed yet (just added in the editor) is an answer, not an error: a 404 would
  // put a red line in the browser console each time such a dialog opens.
  RED.httpAdmin.get('/iot-ledger/ledgers/:id', RED.auth.needsPermission('iot-ledger.read'), (req, res) => {
    const node = RED.nodes.getNode(req.params.id) as LedgerConfigNode | null;
    if (!node || node.type !== 'iot-ledger-config') {
      res.json({ deployed: false });
      return;
    }
    node.gateway().then(
      (gw) => {
        const l = gw.ledger;
        res.json({
          deployed: true,
          name: l.name,
          dir: l.dir,
          size: l.size,
          blocks: l.height,
          gatewayDid: l.gatewayDid,
          verifierKey: l.verifierKey,
          devices: gw.devices.list().length,
        });
      },
      (err: Error & { code?: string }) => res.status(500).json({ error: err.message, code: err.code }),
    );
  });
};
