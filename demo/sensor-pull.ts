/**
 * What a simulated sensor does with what the ledger publishes for it: the contract document it
 * is judged by (retained on iot-ledger/contract/<id>) and firmware offers (on
 * iot-ledger/firmware/<its did:key>). Everything is checked with the library's device-side
 * verification (verifyContractDocument, verifyFirmwareOffer) against the gateway's key; an
 * offer the sensor refuses is answered with a signed report that names the refusal, once per
 * vendor-signed manifest (see SensorFirmware.offer): each report becomes a ledger record, and
 * anyone on the broker can publish offers.
 */
import { parseContractDocument, PulledContracts, verifyContractDocument, type VerifiedContract } from '../lib/contracts/pull';
import { isLedgerError } from '../lib/errors';
import {
  createReport,
  isFirmwareRejection,
  openManifest,
  parseFirmwareOffer,
  verifyFirmwareOffer,
  verifyManifestSignature,
  type Envelope,
  type OpenedManifest,
  type RejectionReason,
} from '../lib/firmware';
import { fromBase64 } from '../lib/encoding/bytes';
import type { PrivateKey } from '../lib/crypto/keys';

/** Reports from devices go here; the gateway's flow records them (Firmware node, mode report). */
export const firmwareReportTopic = (device: string): string => `iot-ledger/firmware/${device}/report`;

export interface InstalledFirmware {
  vendor: string;
  class: string;
  version: string;
  sequence: number;
  digest: string;
}

export interface PulledContract {
  id: string;
  version: number;
  termsHash: string;
  /** Every party's signature verified. */
  active: boolean;
  signed: number;
  parties: number;
  /** Index of the contract.register record proven under a gateway-signed checkpoint. */
  registeredAt: number;
  /** This sensor is one of the contract's subjects. */
  subject: boolean;
}

const pulled = (v: VerifiedContract, did: string, signed: number, active: boolean): PulledContract => ({
  id: v.terms.id,
  version: v.terms.version,
  termsHash: v.termsHash,
  active,
  signed,
  parties: v.terms.parties.length,
  registeredAt: v.registeredAt,
  subject: v.terms.subjects === 'any' || v.terms.subjects.includes(did),
});

/** Verifies a contract document for sensor `did` with the gateway key; throws what parseContractDocument and verifyContractDocument throw. */
export function pullContract(payload: Uint8Array | string, gatewayKey: string, did: string): PulledContract {
  const v = verifyContractDocument(parseContractDocument(payload), gatewayKey);
  return pulled(v, did, v.signed.length, v.active);
}

/**
 * The contracts a sensor operates under. Anyone on the broker can send again a document the
 * gateway once signed (an older version of the terms, or the current one from before the last
 * signature), retained over the gateway's copy: per contract id the sensor keeps the highest
 * version it verified (PulledContracts), refuses an older one (ERR_REPLAY) or other terms under
 * that version (ERR_CONTRACT_CONFLICT) without changing what it operates under, and counts a
 * party's signature once seen.
 */
export class SensorContracts {
  readonly #pulled = new PulledContracts();
  /** Terms hash by contract id, of the active contracts this sensor is a subject of. */
  readonly #operating = new Map<string, string>();

  constructor(
    readonly gatewayKey: string,
    readonly did: string,
  ) {}

  /** Verifies and takes a contract document; throws what pullContract throws, ERR_REPLAY and ERR_CONTRACT_CONFLICT. */
  pull(payload: Uint8Array | string): PulledContract {
    const v = verifyContractDocument(parseContractDocument(payload), this.gatewayKey);
    const current = this.#pulled.accept(v);
    const c = pulled(v, this.did, current.signed.size, current.active);
    if (c.subject && c.active) this.#operating.set(c.id, c.termsHash);
    else this.#operating.delete(c.id);
    return c;
  }

  /** Terms hash of the active contract this sensor operates under (the first by hash when several), once verified. */
  contract(): string | undefined {
    return [...this.#operating.values()].sort()[0];
  }
}

export interface SensorFirmwareOptions {
  did: string;
  key: PrivateKey;
  /** The gateway's did:key: decisions must be proven under checkpoints it signed. */
  gatewayKey: string;
  /** Vendor keys (did:key) the sensor trusts to sign manifests. */
  vendorKeys: readonly string[];
  /** What the sensor runs now. */
  installed: InstalledFirmware;
  /** Image bytes the sensor can download, by hex SHA-256 (the vendor's download server). */
  images: ReadonlyMap<string, Uint8Array>;
}

/** Refusals a sensor reports between two installs at most; past that it refuses without reporting. */
export const MAX_REFUSALS_REPORTED = 64;

export type OfferOutcome =
  | { kind: 'installed'; from: InstalledFirmware; to: InstalledFirmware; decisionIndex: number; report: Envelope }
  | { kind: 'refused'; reason: RejectionReason; message: string; offered: { version: string; sequence: number; digest: string }; report: Envelope }
  /**
   * Refused without a report: the manifest is not signed by a vendor key the sensor trusts
   * (anyone can make one), or this manifest's refusal was reported already, or
   * MAX_REFUSALS_REPORTED were since the last install.
   */
  | {
      kind: 'ignored';
      why: 'not-vendor-signed' | 'reported-already' | 'report-limit';
      reason: RejectionReason;
      message: string;
      offered: { version: string; sequence: number; digest: string };
    }
  /** The offer is what the sensor runs already (a retained offer seen again): nothing to do. */
  | { kind: 'current' }
  /** Not an offer at all (no readable manifest): nothing to report on. */
  | { kind: 'unreadable'; message: string };

function reasonOf(err: unknown): RejectionReason {
  if (isFirmwareRejection(err)) return err.details.reason;
  if (isLedgerError(err, 'ERR_BAD_SIGNATURE')) return 'bad-signature';
  return 'malformed';
}

/** One sensor's firmware: verifies offers, installs what the ledger approved, signs reports. */
export class SensorFirmware {
  #installed: InstalledFirmware;
  /** Manifests (vendor/class/sequence/digest) whose refusal was reported since the last install. */
  readonly #reported = new Set<string>();
  /** Ledger index of the newest approving decision for this sensor it has verified (OfferCheck.newestDecision). */
  #newestDecision: number | undefined;

  constructor(private readonly opts: SensorFirmwareOptions) {
    this.#installed = { ...opts.installed };
  }

  get installed(): InstalledFirmware {
    return { ...this.#installed };
  }

  /** Whether a vendor key this sensor trusts signed the manifest (what an offer from nobody in particular is not). */
  #vendorSigned(opened: OpenedManifest): boolean {
    if (!this.opts.vendorKeys.includes(opened.signer)) return false;
    try {
      verifyManifestSignature(opened);
      return true;
    } catch {
      return false;
    }
  }

  #sawDecision(index: number): void {
    this.#newestDecision = Math.max(this.#newestDecision ?? -1, index);
  }

  /** The signed report of what runs now (and, given, of an offer refused). */
  report(counter: number, now: number, refused?: { sequence: number; digest: string; reason: RejectionReason }): Envelope {
    const i = this.#installed;
    return createReport(
      { vendor: i.vendor, class: i.class, version: i.version, sequence: i.sequence, digest: i.digest, counter, ts: now, ...(refused ? { refused } : {}) },
      this.opts.key,
    );
  }

  /**
   * Handles one message of the sensor's offer topic; `counter` is the sensor's next counter,
   * used for a report. A refusal is reported (signed, and recorded by the gateway) only for a
   * manifest signed by a vendor key the sensor trusts, once per manifest, and at most
   * MAX_REFUSALS_REPORTED times between installs: anyone who can publish on the topic can send
   * unsigned manifests or replay a real offer without end, and must not make the sensor fill
   * the ledger with a report each.
   */
  offer(payload: Uint8Array | string, counter: () => number, now: number): OfferOutcome {
    let offer: unknown;
    let opened: OpenedManifest;
    try {
      offer = parseFirmwareOffer(payload);
      const o = offer as { manifest?: unknown; manifestFormat?: unknown };
      if (typeof o.manifest !== 'string') throw new Error('no manifest');
      opened = openManifest(o.manifestFormat === 'cose' ? fromBase64(o.manifest) : o.manifest);
    } catch (err) {
      return { kind: 'unreadable', message: err instanceof Error ? err.message : String(err) };
    }
    const manifest = opened.manifest;
    const offered = { version: manifest.version, sequence: manifest.sequence, digest: manifest.digest };
    const refuse = (reason: RejectionReason, message: string): OfferOutcome => {
      if (!this.#vendorSigned(opened)) return { kind: 'ignored', why: 'not-vendor-signed', reason, message, offered };
      const key = `${manifest.vendor}/${manifest.class}/${manifest.sequence}/${manifest.digest}`;
      if (this.#reported.has(key)) return { kind: 'ignored', why: 'reported-already', reason, message, offered };
      if (this.#reported.size >= MAX_REFUSALS_REPORTED) return { kind: 'ignored', why: 'report-limit', reason, message, offered };
      this.#reported.add(key);
      return { kind: 'refused', reason, message, offered, report: this.report(counter(), now, { sequence: manifest.sequence, digest: manifest.digest, reason }) };
    };
    const cur = this.#installed;
    let accepted;
    let replayed: string | undefined;
    try {
      accepted = verifyFirmwareOffer(offer, {
        gatewayKey: this.opts.gatewayKey,
        device: this.opts.did,
        vendorKeys: this.opts.vendorKeys,
        image: this.opts.images.get(manifest.digest) ?? new Uint8Array(0),
        vendor: cur.vendor,
        class: cur.class,
        now,
        ...(this.#newestDecision !== undefined ? { newestDecision: this.#newestDecision } : {}),
      });
    } catch (err) {
      // A refused offer whose decision the gateway made for this sensor still shows how far the ledger has come.
      if (isFirmwareRejection(err) && typeof err.details.decisionIndex === 'number') this.#sawDecision(err.details.decisionIndex);
      // An older decision (its manifest verified): for what runs, or older, it is told as without the check.
      if (!isFirmwareRejection(err, 'replay')) return refuse(reasonOf(err), err instanceof Error ? err.message : String(err));
      replayed = err.message;
    }
    if (accepted) this.#sawDecision(accepted.decisionIndex);
    const m = accepted?.manifest ?? manifest;
    if (m.sequence === cur.sequence && m.digest === cur.digest) return { kind: 'current' };
    if (m.sequence === cur.sequence) return refuse('same-sequence-different-digest', `sequence ${m.sequence} is installed with digest ${cur.digest}, not ${m.digest}`);
    if (m.sequence < cur.sequence) return refuse('rollback', `sequence ${m.sequence} is older than ${cur.sequence} installed`);
    // A superseded approval published again: installing it would undo the newer decision.
    if (accepted === undefined) return refuse('replay', replayed ?? 'an older decision');
    const from = cur;
    this.#installed = { vendor: m.vendor, class: m.class, version: m.version, sequence: m.sequence, digest: m.digest };
    this.#reported.clear();
    return { kind: 'installed', from, to: this.installed, decisionIndex: accepted.decisionIndex, report: this.report(counter(), now) };
  }
}
