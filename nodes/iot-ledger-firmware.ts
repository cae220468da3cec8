import { isLedgerError, LedgerError } from '../lib/errors';
import { CATCH_REPORTS_PER_SECOND, ReportBudget } from '../lib/guards/report-budget';
import { firmwareOffer, FirmwareRunner, type FirmwareOutcome } from '../lib/gateway';
import { errorCode, finishUnreported, nodeError } from './lib/errors';
import { onInput } from './lib/guarded-input';
import { RESTORES_PER_SECOND } from '../lib/guards/overwrite-watch';
import { FirmwareOffers } from './lib/firmware-offers';
import { haFirmware } from './lib/ha-firmware';
import { useLedger } from './lib/ledger-user';
import type { Node, NodeDef, RED } from './lib/red';
import { status, type Translate } from './lib/status';

const MODES = ['release', 'check', 'report', 'vendor'] as const;
/** A device's offer topic (firmwareTopic), not its report topic below it. */
const OFFER_TOPIC = /^iot-ledger\/firmware\/[^/]+$/;
type Mode = (typeof MODES)[number];

function outcomeStatus(t: Translate, mode: Mode, o: FirmwareOutcome) {
  const version = typeof o.body.version === 'string' ? `v${o.body.version} ` : '';
  if (o.decision === 'rejected') return status.error(t('iot-ledger-firmware.status.rejected', { reason: String(o.reason ?? 'error').toUpperCase() }));
  if (o.decision === 'approved') return status.ok(t('iot-ledger-firmware.status.approved', { version }));
  if (o.decision === 'unchanged') return status.ok(t('iot-ledger-firmware.status.unchanged', { mode }));
  return status.ok(mode === 'report' ? `${version}${typeof o.body.status === 'string' ? o.body.status : 'reported'}` : t('iot-ledger-firmware.status.recorded', { mode }));
}

function envelopeOf(v: unknown, what: string): string | Uint8Array {
  if (typeof v === 'string' || v instanceof Uint8Array) return v;
  throw new LedgerError('ERR_MALFORMED_ENVELOPE', `${what} must be a JWS string or COSE bytes`);
}

export = function register(RED: RED): void {
  function Firmware(this: Node, def: NodeDef): void {
    RED.nodes.createNode(this, def);
    const gateway = useLedger(RED, this, def);
    const ha = haFirmware(RED, this, def);
    const fixedMode = (MODES as readonly string[]).includes(String(def.mode)) ? (def.mode as Mode) : 'check';
    let runner: Promise<FirmwareRunner> | undefined;
    const firmware = () => (runner ??= gateway().then((gw) => gw.firmware()));
    const refusals = new ReportBudget(CATCH_REPORTS_PER_SECOND);
    if (ha.active) {
      // Home Assistant: the update entities of the ledger's devices come up with the flow.
      firmware().then(
        (fw) => ha.announce(fw),
        () => undefined, // reported on the first message, like without Home Assistant
      );
    }

    // The offers this node sends, by topic (the latest per device). Anyone on the broker can
    // publish over them: with an MQTT in node on iot-ledger/firmware/+ wired back to this node,
    // one found overwritten is published again, unless its device or vendor key was revoked since.
    // At most RESTORES_PER_SECOND a second; the rest come back later, reported once a minute at most.
    const offers = new FirmwareOffers((topic, offer) => this.send({ topic, retain: true, payload: offer }), {
      onDeferred: (deferred, pending) => this.warn(RED._('iot-ledger-firmware.warnings.restoresDeferred', { deferred, pending, perSecond: RESTORES_PER_SECOND })),
    });
    if (def.publishOffer === true) {
      // Revocations, however recorded, withdraw offers: followed before the first offer is sent.
      firmware().then(
        (fw) => offers.follow(fw),
        () => undefined, // reported on the first message
      );
    }
    this.on('close', () => offers.close());

    onInput(this, RED._, async (msg, send, done) => {
      if (def.publishOffer === true && typeof msg.topic === 'string' && OFFER_TOPIC.test(msg.topic)) {
        // What the broker holds on an offer topic: ours, someone else's over ours, or one this node did not send.
        offers.seen(msg.topic, msg.payload);
        done();
        return;
      }
      try {
        const mode = (typeof msg.mode === 'string' && (MODES as readonly string[]).includes(msg.mode) ? msg.mode : fixedMode) as Mode;
        const fw = await firmware();
        const p = msg.payload as Record<string, unknown>;
        let outcome: FirmwareOutcome;
        if (mode === 'release') outcome = await fw.registerRelease(envelopeOf(msg.payload, 'a release manifest'));
        else if (mode === 'report') {
          const device = (msg.device as { id?: string } | undefined)?.id ?? (typeof msg.deviceId === 'string' ? msg.deviceId : undefined);
          if (!device) throw new LedgerError('ERR_INVALID_ARGUMENT', 'a firmware report needs msg.device.id (set by Verify) or msg.deviceId');
          // Whatever a publisher sent: what is not an envelope is a malformed report (counted, within the Catch budget).
          outcome = await fw.report(msg.payload, device);
        } else {
          if (!p || typeof p !== 'object') throw new LedgerError('ERR_INVALID_ARGUMENT', `msg.payload must be an object for mode "${mode}"`);
          if (mode === 'vendor') {
            const action = p.action === 'revoke' ? 'revoke' : 'trust';
            const text = (v: unknown) => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '');
            outcome = await fw.trustVendor(text(p.vendor), text(p.did), action);
          } else {
            const image = p.image as { digest: string; size: number } | undefined;
            const request = (p.manifest !== undefined
              ? { device: p.device, deviceClass: p.deviceClass, manifestEnvelope: p.manifest }
              : { device: p.device, deviceClass: p.deviceClass, vendor: p.vendor, class: p.class, sequence: p.sequence }) as Parameters<FirmwareRunner['checkUpdate']>[0];
            outcome = await fw.checkUpdate(request, image);
          }
        }
        msg.firmware = { mode, decision: outcome.decision, reason: outcome.reason, message: outcome.message, body: outcome.body };
        msg.ledger = outcome.receipt;
        this.status(outcomeStatus(RED._, mode, outcome));
        ha.after(fw, outcome);
        send(msg);
        // The device pulls what the ledger approved: manifest and decision proof, retained on its topic.
        if (def.publishOffer === true && outcome.decision === 'approved' && typeof outcome.body.device === 'string') {
          const offer = await firmwareOffer((await gateway()).ledger, outcome.receipt.index);
          const { vendor, signer } = outcome.body;
          if (offer && typeof vendor === 'string' && typeof signer === 'string')
            offers.publish(offer, { device: offer.device, vendor, signer }, (topic, payload) => send({ topic, retain: true, payload }));
        }
        done();
      } catch (err) {
        this.status(status.error(errorCode(err)));
        // Anyone who can publish on the report topic can have reports refused, and anyone who can
        // publish offers can have a device report refusals past the refusal limit: each is counted
        // in the security records, and Catch nodes see at most CATCH_REPORTS_PER_SECOND a second.
        if ((isLedgerError(err, 'ERR_FIRMWARE_REJECTED') || isLedgerError(err, 'ERR_FIRMWARE_REFUSAL_LIMIT')) && !refusals.take()) {
          return finishUnreported(msg, err, RED._, () => done());
        }
        done(nodeError(err));
      }
    });
  }
  RED.nodes.registerType('iot-ledger-firmware', Firmware);
};
