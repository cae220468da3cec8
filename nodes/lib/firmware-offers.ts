import { firmwareTopic, type FirmwareOffer } from '../../lib/firmware/offer';
import { FIRMWARE_VENDOR, type FirmwareRunner, type Gateway } from '../../lib/gateway';
import type { OverwriteWatchOptions } from '../../lib/guards/overwrite-watch';
import type { RecordInput } from '../../lib/ledger';
import { REVOKE } from '../../lib/registry/devices';
import { RetainedPublications } from './retained-publications';

/** Whose offer it is: the device, and the vendor key that signed its manifest. */
export interface OfferOrigin {
  device: string;
  vendor: string;
  signer: string;
}

/**
 * The firmware offers a node publishes, retained on each device's topic. One found overwritten is
 * published again only while the device is enrolled and the vendor key that signed its manifest
 * is not revoked. A revocation recorded on the ledger (by any node or flow) withdraws the offers
 * it concerns with an empty retained message: those this node sent, and, from the firmware state,
 * the latest approved offer of each device sent before this node started.
 */
export class FirmwareOffers {
  readonly #kept: RetainedPublications;
  readonly #origins = new Map<string, OfferOrigin>();
  /**
   * Vendor keys ("vendor signer") whose revocation was seen on the ledger: the gateway tells its
   * listeners before the firmware state applies the record, and an offer published in between
   * must not go out (a revoked key is never trusted again).
   */
  readonly #revokedSigners = new Set<string>();
  #runner: FirmwareRunner | undefined;
  #gateway: Gateway | undefined;
  #closed = false;

  constructor(
    private readonly send: (topic: string, payload: unknown) => void,
    options: OverwriteWatchOptions = {},
  ) {
    this.#kept = new RetainedPublications((topic, offer) => this.#restore(topic, offer), options);
  }

  get stats() {
    return this.#kept.stats;
  }

  /** Follows the ledger's records: its revocations withdraw offers. Call before publishing. */
  follow(runner: FirmwareRunner): void {
    if (this.#closed || this.#runner) return;
    this.#runner = runner;
    this.#gateway = runner.gateway;
    this.#gateway.on('record', this.#onRecord);
  }

  /**
   * Keeps and sends `offer` on its device's topic, unless the device or the vendor key was revoked
   * since the approval (while the offer was being built).
   */
  publish(offer: FirmwareOffer, origin: OfferOrigin, send: (topic: string, payload: unknown) => void = this.send): void {
    if (!this.#stillOffered(origin)) return;
    const topic = firmwareTopic(origin.device);
    this.#origins.set(topic, origin);
    this.#kept.publish(topic, offer, send);
  }

  /** A message seen on an offer topic (see RetainedPublications.seen). */
  seen(topic: string, payload: unknown): boolean {
    return this.#kept.seen(topic, payload);
  }

  close(): void {
    this.#closed = true;
    this.#gateway?.off('record', this.#onRecord);
    this.#kept.close();
  }

  #stillOffered(o: OfferOrigin): boolean {
    const runner = this.#runner;
    return (
      runner !== undefined &&
      runner.gateway.devices.active(o.device) &&
      !runner.state.isRevoked(o.vendor, o.signer) &&
      !this.#revokedSigners.has(`${o.vendor} ${o.signer}`)
    );
  }

  #restore(topic: string, offer: unknown): void {
    const origin = this.#origins.get(topic);
    if (origin && this.#stillOffered(origin)) this.send(topic, offer);
    else this.#withdraw(topic);
  }

  #withdraw(topic: string): void {
    this.#origins.delete(topic);
    this.#kept.forget(topic);
    // An empty retained message clears the broker's copy: devices no longer find it.
    this.send(topic, '');
  }

  // Called by the gateway as it applies each record: it must not throw.
  readonly #onRecord = (_receipt: unknown, input: RecordInput): void => {
    try {
      const body = (input.body ?? {}) as Record<string, unknown>;
      if (typeof body.did !== 'string') return;
      if (input.type === REVOKE) this.#withdrawDevice(body.did);
      else if (input.type === FIRMWARE_VENDOR && body.action === 'revoke' && typeof body.vendor === 'string') this.#withdrawSigner(body.vendor, body.did);
    } catch {
      // a device id no topic can carry: nothing was offered on it
    }
  };

  #withdrawDevice(device: string): void {
    const topic = firmwareTopic(device);
    if (this.#origins.has(topic) || this.#runner?.state.latestApproval(device) !== undefined) this.#withdraw(topic);
  }

  #withdrawSigner(vendor: string, signer: string): void {
    this.#revokedSigners.add(`${vendor} ${signer}`);
    const topics = new Set<string>();
    for (const [topic, o] of this.#origins) if (o.vendor === vendor && o.signer === signer) topics.add(topic);
    const state = this.#runner?.state;
    for (const device of state?.devices() ?? []) {
      const latest = state?.latestApproval(device);
      if (latest?.vendor === vendor && latest.signer === signer) topics.add(firmwareTopic(device));
    }
    for (const topic of topics) this.#withdraw(topic);
  }
}
