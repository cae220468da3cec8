import * as path from 'node:path';
import { isLedgerError, LedgerError } from '../lib/errors';
import { CATCH_REPORTS_PER_SECOND, ReportBudget } from '../lib/guards/report-budget';
import { fromUtf8 } from '../lib/encoding/bytes';
import { loadOrCreateKeyFile } from '../lib/crypto/keyfile';
import { generateKey, type PrivateKey } from '../lib/crypto/keys';
import { safeFileName } from '../lib/gateway/paths';
import { MAX_REQUEST_BYTES, parseWitnessedLogs, WitnessService, WitnessState, witnessVerifierKey, type WitnessReply } from '../lib/witness';
import { isValidKeyName } from '../lib/note/note-open';
import { nodeError } from './lib/errors';
import { onInput } from './lib/guarded-input';
import type { IdentityNode } from './lib/identity';
import type { LedgerConfigNode } from './lib/ledger-config';
import type { Node, NodeDef, NodeMessage, RED } from './lib/red';
import { mountWitnessRoutes, type WitnessHttpRED } from './lib/witness-http';
import { MAX_ACTIVE_MQTT_REQUESTS, MAX_WAITING_MQTT_REQUESTS, serveWitnessMqtt, type WitnessMqttServer } from '../lib/witness/mqtt';
import { configText } from './lib/config-text';

interface WitnessNode extends Node {
  service?: WitnessService;
  verifierKey?: string;
  /** Runs one add-checkpoint request (both transports and the input use it). */
  handle(body: string, msg?: NodeMessage): Promise<WitnessReply>;
}

export = function register(RED: RED & WitnessHttpRED): void {
  function Witness(this: WitnessNode, def: NodeDef): void {
    RED.nodes.createNode(this, def);
    const userDir = RED.settings.userDir ?? process.cwd();
    const keyName = configText(def.keyName).trim();
    const prefix = normalisePrefix(configText(def.prefix));
    let unmount: (() => void) | undefined;
    let mqtt: WitnessMqttServer | undefined;
    try {
      if (!isValidKeyName(keyName)) throw new LedgerError('ERR_INVALID_ARGUMENT', RED._('iot-ledger-witness.errors.keyName'));
      const logs = parseWitnessedLogs(configText(def.logs));
      const base = path.join(userDir, 'iot-ledger');
      let key: PrivateKey;
      const identity = def.identity ? (RED.nodes.getNode(configText(def.identity)) as IdentityNode | null) : null;
      if (identity) key = identity.key();
      else key = loadOrCreateKeyFile(path.join(base, 'keys', `${safeFileName(keyName)}.witness.jwk`), () => generateKey('Ed25519'));
      if (key.alg !== 'Ed25519') throw new LedgerError('ERR_UNSUPPORTED_ALG', 'a witness key is Ed25519');
      const stateDir = def.stateDir ? path.resolve(userDir, configText(def.stateDir)) : path.join(base, 'witness', safeFileName(keyName));
      this.service = new WitnessService({ cosigner: { name: keyName, key }, logs, state: new WitnessState(stateDir) });
      this.verifierKey = witnessVerifierKey(keyName, key);
      this.status({ fill: 'grey', shape: 'ring', text: RED._('iot-ledger-witness.status.ready', { logs: logs.length }) });
      if (prefix !== null) unmount = mountWitnessRoutes(RED, prefix, this);
      const mqttUrl = configText(def.mqttUrl).trim();
      if (mqttUrl) {
        if (!/^mqtts?:\/\/[^/]+\/?$/.test(mqttUrl)) throw new LedgerError('ERR_INVALID_ARGUMENT', RED._('iot-ledger-witness.errors.mqttUrl'));
        const base = configText(def.mqttTopic).trim() || `iot-ledger/witness/${keyName}`;
        mqtt = serveWitnessMqtt({
          url: mqttUrl.replace(/\/$/, ''),
          base,
          handle: (body) => this.handle(body),
          onError: (err) => this.warn(`MQTT: ${err.message}`),
          onMqtt311: () => this.warn('MQTT: the broker refused MQTT 5; connecting with MQTT 3.1.1 (the topic pair only), without a Maximum Packet Size'),
          onDropped: (dropped) =>
            this.warn(`MQTT: ${dropped} add-checkpoint request(s) dropped unanswered: more than ${MAX_ACTIVE_MQTT_REQUESTS} handled and ${MAX_WAITING_MQTT_REQUESTS} waiting at once`),
        });
      }
    } catch (err) {
      this.status({ fill: 'red', shape: 'ring', text: (err as LedgerError).code ?? 'error' });
      this.error(nodeError(err, RED._));
    }

    // Every request over HTTP or MQTT can come from anyone, and every answer can be had again
    // at will (garbage, an invented origin, the public latest checkpoint replayed): their
    // outputs, and the errors of a witness that cannot read its state, go out at most
    // CATCH_REPORTS_PER_SECOND a second. The rest are answered all the same and counted in the
    // next output's `unreported`. A newly cosigned checkpoint and fresh evidence always go out.
    const outputs = new ReportBudget(CATCH_REPORTS_PER_SECOND);
    const failures = new ReportBudget(CATCH_REPORTS_PER_SECOND);
    let unreported = 0;

    /** Runs one add-checkpoint; reports the outcome on the output and evidence to Catch nodes. */
    this.handle = async (body: string, msg?: NodeMessage) => {
      if (!this.service) return { status: 503, contentType: 'text/plain; charset=utf-8', body: 'witness is not configured\n' };
      let reply: WitnessReply;
      try {
        reply = await this.service.addCheckpoint(body);
      } catch (err) {
        if (msg || failures.take()) this.error(nodeError(err, RED._), msg);
        return { status: 500, contentType: 'text/plain; charset=utf-8', body: `${isLedgerError(err) ? err.code : 'ERR_INTERNAL'}\n` };
      }
      const out: NodeMessage = { ...(msg ?? {}), topic: reply.origin, payload: { status: reply.status, origin: reply.origin, size: reply.size, reason: reply.reason } };
      if (reply.stored) this.status({ fill: 'green', shape: 'dot', text: RED._('iot-ledger-witness.status.cosigned', { origin: reply.origin, size: reply.size }) });
      if (reply.evidence && reply.evidenceFresh) {
        this.status({ fill: 'red', shape: 'dot', text: RED._('iot-ledger-witness.status.evidence', { origin: reply.origin }) });
        const err = new LedgerError('ERR_WITNESS_EQUIVOCATION', `${reply.origin}: ${reply.reason} (evidence kept in ${reply.evidenceFile})`, {
          origin: reply.origin,
          kind: reply.evidence.kind,
          evidenceFile: reply.evidenceFile,
        });
        this.error(nodeError(err, RED._), { ...out, evidence: reply.evidence });
        // On the witness's own ledger too, when it keeps one: evidence then sits under its signed checkpoints.
        const ledger = def.ledger ? (RED.nodes.getNode(configText(def.ledger)) as LedgerConfigNode | null) : null;
        if (ledger && typeof ledger.gateway === 'function') {
          const ev = reply.evidence;
          ledger
            .gateway()
            .then((gw) => {
              // Written as its own record, not aggregated: the two signed checkpoints are the evidence.
              const now = Date.now();
              return gw.record({
                type: 'security',
                body: {
                  code: err.code,
                  count: 1,
                  first: now,
                  last: now,
                  source: 'witness',
                  sample: { detail: err.message },
                  evidence: { origin: ev.origin, kind: ev.kind, latest: ev.latest, submitted: ev.submitted, oldSize: ev.oldSize },
                },
              });
            })
            .catch((e: unknown) => this.error(nodeError(e, RED._)));
        }
      }
      if (!msg) {
        if (reply.stored || (reply.evidence && reply.evidenceFresh) || outputs.take()) {
          if (unreported > 0) (out.payload as Record<string, unknown>).unreported = unreported;
          unreported = 0;
          this.send(out);
        } else unreported++;
      }
      return reply;
    };

    onInput(this, RED._, async (msg, send, done) => {
      if (typeof msg.payload !== 'string' && !Buffer.isBuffer(msg.payload)) {
        done(new LedgerError('ERR_WITNESS_REQUEST', RED._('iot-ledger-witness.errors.payload')));
        return;
      }
      let body: string;
      try {
        body = typeof msg.payload === 'string' ? msg.payload : fromUtf8(msg.payload);
      } catch {
        done(new LedgerError('ERR_WITNESS_REQUEST', 'request body is not UTF-8'));
        return;
      }
      if (body.length > MAX_REQUEST_BYTES) {
        done(new LedgerError('ERR_WITNESS_REQUEST', 'request body is too large'));
        return;
      }
      const reply = await this.handle(body, msg);
      send({ ...msg, topic: reply.origin ?? msg.topic, statusCode: reply.status, headers: { 'content-type': reply.contentType }, payload: reply.body });
      done();
    });

    this.on('close', (_removed, done) => {
      unmount?.();
      if (mqtt) mqtt.close().then(done, done);
      else done();
    });
  }
  RED.nodes.registerType('iot-ledger-witness', Witness);

  // The editor shows the witness's verifier key (public) so it can be given to gateways.
  RED.httpAdmin.get('/iot-ledger/witnesses/:id', RED.auth.needsPermission('iot-ledger.read'), (req, res) => {
    const node = RED.nodes.getNode(req.params.id ?? '') as WitnessNode | null;
    if (!node || node.type !== 'iot-ledger-witness') {
      res.json({ deployed: false });
      return;
    }
    res.json({ deployed: true, verifierKey: node.verifierKey ?? null });
  });
};

/** '' means the default path; '-' turns HTTP off. Returns the prefix without a trailing slash, or null. */
function normalisePrefix(p: string): string | null {
  const t = p.trim();
  if (t === '-') return null;
  if (!t) return '/iot-ledger/witness';
  return `/${t.replace(/^\/+|\/+$/g, '')}`;
}
