import { acquireGateway, releaseGateway, type Gateway } from '../lib/gateway';
import { loadOrCreateKeyFile } from '../lib/crypto/keyfile';
import { generateKey } from '../lib/crypto/keys';
import { ledgerPaths } from '../lib/gateway/paths';
import type { LedgerConfigNode } from './lib/ledger-config';
import { nodeError } from './lib/errors';
import { isLedgerError, LedgerError } from '../lib/errors';
import { parseWitnessEndpoints, WitnessClient, type WitnessEndpoint } from '../lib/witness/client';
import { autoTransport } from '../lib/witness/mqtt';
import type { NodeDef, RED } from './lib/red';
import * as nodePath from 'node:path';
import { StaticTilePublisher } from '../lib/tiles/publisher';
import { connectTileMqtt, defaultTileTopicBase, MqttTilePublisher } from '../lib/tiles/mqtt';
import type { MqttClient } from 'mqtt';
import { mountTileRoutes, publishLedger, unpublishLedger } from './lib/tile-routes';
import { configText } from './lib/config-text';
import { withoutLogin } from './lib/url-login';
import { describeStorage } from '../lib/storage/open';
import { describeEd25519 } from '../lib/crypto/ed25519';
import { MAX_BLOCK_RECORDS } from '../lib/ledger/block-limits';

export = function register(RED: RED): void {
  mountTileRoutes(RED.httpNode);
  RED.log.info(`iot-ledger: Ed25519 signatures are verified with ${describeEd25519()}`);
  function LedgerConfig(this: LedgerConfigNode, def: NodeDef): void {
    RED.nodes.createNode(this, def);
    const userDir = RED.settings.userDir ?? process.cwd();
    this.ledgerName = (configText(def.ledgerName) || 'iot-ledger');
    const paths = ledgerPaths(userDir, this.ledgerName, def.dir as string | undefined);
    this.dir = paths.dir;
    this.keyFile = paths.keyFile;
    let blockRecords = Number(def.blockRecords) || 1000;
    // A flow saved before the bound keeps recording, in smaller blocks, rather than stop at deploy.
    if (Number.isSafeInteger(blockRecords) && blockRecords > MAX_BLOCK_RECORDS) {
      this.warn(`ledger ${this.ledgerName}: Block size ${blockRecords} is more than ${MAX_BLOCK_RECORDS} records (what a replica takes); using ${MAX_BLOCK_RECORDS}`);
      blockRecords = MAX_BLOCK_RECORDS;
    }
    const blockSeconds = Number(def.blockSeconds) || 60;
    let endpoints: WitnessEndpoint[] = [];
    let quorum = 0;
    let witnessProblem: Error | undefined;
    try {
      endpoints = parseWitnessEndpoints(configText(def.witnesses));
      quorum = def.quorum === undefined || def.quorum === '' ? endpoints.length : Number(def.quorum);
      if (!Number.isSafeInteger(quorum) || quorum < 0 || quorum > endpoints.length) throw new Error(`quorum must be from 0 to ${endpoints.length}`);
    } catch (err) {
      witnessProblem = err as Error;
      endpoints = [];
    }
    if (witnessProblem) this.error(`ledger ${this.ledgerName}: witnesses: ${witnessProblem.message}`);
    let client: WitnessClient | undefined;
    let opened: Promise<Gateway> | undefined;
    // Once closed, the node opens nothing: a caller that still holds it (a tile request that
    // waited for its turn across a deploy) would open a ledger no close ever releases.
    let closed = false;
    this.gateway = () => {
      if (closed) return Promise.reject(new LedgerError('ERR_LEDGER_CLOSED', `the Ledger node of ${this.ledgerName} is closed`));
      if (!opened) {
        opened = (async () => {
          const gatewayKey = loadOrCreateKeyFile(this.keyFile, () => generateKey('Ed25519'));
          const gw = await acquireGateway(this.dir, { name: this.ledgerName, gatewayKey, blockRecords, blockSeconds });
          this.log(`ledger ${this.dir}: ${describeStorage(gw.ledger.storage)}`);
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
        opened.catch((err: unknown) => this.error(`ledger ${this.ledgerName}: ${nodeError(err, RED._).message}`));
      }
      return opened;
    };
    // Publishing: tiles over HTTP and/or static files; both open the ledger at deploy.
    const publishHttp = def.publishTiles === true;
    const tilesDir = typeof def.tilesDir === 'string' && def.tilesDir.trim() !== '' ? nodePath.resolve(userDir, def.tilesDir.trim()) : undefined;
    const gatewayOf = (): Promise<Gateway> => this.gateway();
    let staticTiles: StaticTilePublisher | undefined;
    if (publishHttp) {
      const hidden = publishLedger(this.ledgerName, gatewayOf, this.dir);
      if (hidden !== undefined)
        this.warn(`tiles: another Ledger node publishes a ledger named "${this.ledgerName}" (in ${hidden}); its tiles are no longer served, this node's (${this.dir}) are. Give each ledger its own name.`);
    }
    if (tilesDir) {
      this.gateway().then(
        (gw) => {
          // Closed while the ledger opened: its close found no writer to stop, so none is started.
          if (closed) return;
          staticTiles = new StaticTilePublisher(gw.ledger, tilesDir, (err) => this.error(`static tiles in ${tilesDir}: ${nodeError(err, RED._).message}`));
          staticTiles.publish();
        },
        () => undefined,
      );
    } else if (publishHttp) void this.gateway().catch(() => undefined);
    // Tiles over MQTT: mqtt://host:port[/<topic base>] (default base iot-ledger/<origin slug>).
    const tilesMqtt = typeof def.tilesMqtt === 'string' ? def.tilesMqtt.trim() : '';
    let mqttTiles: { publisher?: MqttTilePublisher; client: MqttClient } | undefined;
    if (tilesMqtt) {
      try {
        const u = new URL(tilesMqtt);
        if (u.protocol !== 'mqtt:' && u.protocol !== 'mqtts:') throw new Error('not mqtt');
        if (u.username || u.password) throw new LedgerError('ERR_INVALID_ARGUMENT', 'put the broker login in the user name and password fields (credentials), not in the URL');
        const base = decodeURIComponent(u.pathname.replace(/^\/+|\/+$/g, ''));
        if (/[#+]/.test(base)) throw new Error('wildcards');
        // MQTT 5 with a Maximum Packet Size just above its own checkpoint, head or meta: the broker keeps larger messages.
        const client = connectTileMqtt(`${u.protocol}//${u.host}`, {
          base: base || defaultTileTopicBase(this.ledgerName),
          onMqtt311: () => this.warn('tiles over MQTT: the broker refused MQTT 5; connecting with MQTT 3.1.1, without a Maximum Packet Size'),
          ...(this.credentials?.mqttUser ? { username: this.credentials.mqttUser, password: this.credentials.mqttPassword ?? '' } : {}),
        });
        client.on('error', (err) => this.warn(`tiles over MQTT: ${err.message}`));
        const state: { publisher?: MqttTilePublisher; client: MqttClient } = { client };
        mqttTiles = state;
        this.gateway().then(
          (gw) => {
            if (mqttTiles !== state) return;
            state.publisher = new MqttTilePublisher(gw.ledger, client, {
              ...(base ? { base } : {}),
              onError: (err) => this.warn(`tiles over MQTT: ${err.message}`),
              onOverwritten: (n) =>
                this.warn(
                  `tiles over MQTT: ${n} message(s) from another client on the checkpoint, head or meta topic; the gateway published its own again (another gateway on the same topic base? the broker's ACLs can keep others from publishing there)`,
                ),
            });
            if (client.connected) state.publisher.start().catch((err: Error) => this.warn(`tiles over MQTT: ${err.message}`));
          },
          () => undefined,
        );
      } catch (err) {
        if (isLedgerError(err)) this.error(`ledger ${this.ledgerName}: tiles over MQTT: ${err.message}`);
        else this.error(`ledger ${this.ledgerName}: tiles over MQTT needs mqtt://host:port[/topic base] without + or #, not ${JSON.stringify(withoutLogin(tilesMqtt))}`);
      }
    }
    this.on('close', (_removed, done) => {
      closed = true;
      unpublishLedger(this.ledgerName, gatewayOf);
      // Forced, as the other MQTT clients: a graceful end waits for the broker to acknowledge what
      // is in flight (the retained request cleared at each connection), for ever with a broker
      // gone or stalled, and every redeploy would leave one more connection open.
      const m = mqttTiles;
      mqttTiles = undefined;
      m?.publisher?.close();
      const stopMqtt = m ? new Promise<void>((resolve) => m.client.end(true, {}, () => resolve())) : Promise.resolve();
      const was = opened;
      opened = undefined;
      if (!was) return void stopMqtt.then(() => done());
      const stopWitnessing = async (gw: Gateway) => {
        if (client && gw.witnesses === client) gw.witnesses = undefined;
        await client?.close();
        client = undefined;
      };
      const stopStatic = staticTiles ? staticTiles.stop() : Promise.resolve();
      was.then(
        (gw) => Promise.all([stopWitnessing(gw), stopStatic, stopMqtt]).then(() => releaseGateway(this.dir)).then(done, done),
        () => void stopMqtt.then(() => done()),
      );
    });
  }
  RED.nodes.registerType('iot-ledger-config', LedgerConfig, { credentials: { mqttUser: { type: 'text' }, mqttPassword: { type: 'password' } } });

  // The editor shows the gateway's public identity; private keys never leave the runtime.
  // A node not deployed yet (just added in the editor) is an answer, not an error: a 404 would
  // put a red line in the browser console each time such a dialog opens.
  RED.httpAdmin.get('/iot-ledger/ledgers/:id', RED.auth.needsPermission('iot-ledger.read'), (req, res) => {
    const node = RED.nodes.getNode(req.params.id ?? '') as LedgerConfigNode | null;
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
          devices: gw.devices.size,
        });
      },
      (err: Error & { code?: string }) => res.status(500).json({ error: err.message, code: err.code }),
    );
  });
};
