// The JSON states the discovered entities read: a contract's verdict and values, a device's
// installed and latest firmware. Pure functions of the contract / firmware state.
import type { ContractState, ContractStatus, Terms } from '../contracts';
import type { FirmwareState, Release } from '../firmware';
import { isExpired } from '../firmware/manifest';
import { SUPPORT_URL, haTemperatureUnit } from './discovery';
import { isoTime } from '../encoding/iso-time';

const iso = (ms: number | null | undefined): string | null => (typeof ms === 'number' && Number.isFinite(ms) ? isoTime(ms) : null);

export interface ContractStateInput {
  terms: Pick<Terms, 'id' | 'version' | 'title' | 'unit'>;
  termsHash: string;
  active: boolean;
  missingParties: readonly string[];
  state: ContractState;
}

/** What `<base>/contract/<id>/state` carries. */
export interface ContractHaState {
  contract: string;
  version: number;
  /** The contract status, or `awaiting-signatures` until every party has signed. */
  status: ContractStatus | 'awaiting-signatures';
  /**
   * The problem binary_sensor: ON while violated (an excursion that is not yet a violation is
   * OFF); null (unknown in Home Assistant) while the contract awaits signatures: not in force, so
   * neither a problem nor OK.
   */
  violation: 'ON' | 'OFF' | null;
  /** The last reading's value, null before any. */
  value: number | null;
  /** Unit of value (°C, °F or K for every spelling of those), null when the terms name none. */
  unit: string | null;
  /** Mean Kinetic Temperature over the terms' window (°C), null without an MKT limit or data. */
  mkt: number | null;
  /** Attributes of the problem entity. */
  attributes: {
    title: string;
    status: ContractStatus | 'awaiting-signatures';
    active: boolean;
    missing_parties: number;
    last_reading: string | null;
    excursion_start: string | null;
    excursion_peak: number | null;
    mkt_exceeded: boolean;
    /** True while no reading came for longer than the terms' maximum gap (reported by a tick). */
    data_gap: boolean;
    readings: number;
    excursions: number;
    violations: number;
    gaps: number;
    terms_hash: string;
    version: number;
  };
}

export function contractHaState(c: ContractStateInput): ContractHaState {
  const s = c.state;
  const status = c.active ? s.status : 'awaiting-signatures';
  const unit = c.terms.unit === undefined ? null : (haTemperatureUnit(c.terms.unit) ?? c.terms.unit);
  return {
    contract: c.terms.id,
    version: c.terms.version,
    status,
    violation: !c.active ? null : status === 'violated' ? 'ON' : 'OFF',
    value: s.last ? s.last.value : null,
    unit,
    mkt: s.window.mkt,
    attributes: {
      title: c.terms.title,
      status,
      active: c.active,
      missing_parties: c.missingParties.length,
      last_reading: iso(s.last?.time),
      excursion_start: iso(s.excursion?.start),
      excursion_peak: s.excursion ? s.excursion.peakValue : null,
      mkt_exceeded: s.mktExceeded,
      data_gap: s.gap !== null,
      readings: s.counters.readings,
      excursions: s.counters.excursions,
      violations: s.counters.violations,
      gaps: s.counters.gaps,
      terms_hash: c.termsHash,
      version: c.terms.version,
    },
  };
}

/**
 * What `<base>/firmware/<device suffix>/state` carries: the MQTT update entity's JSON. Home
 * Assistant keeps every key a message leaves out and rejects a message with a null in it, so every
 * key is always there with a string (or boolean) value.
 */
export interface FirmwareHaState {
  /** What the device last reported running. */
  installed_version: string;
  /** The newest version known for it: an approved update it has not reported yet, or a newer registered release. */
  latest_version: string;
  /** True while an approved update waits for the device to report running it. */
  in_progress: boolean;
  title: string;
  /** Why there is no link to the latest release, or ''. */
  release_summary: string;
  /** The latest release's http(s) `uri`, or this project's page when its manifest has none. */
  release_url: string;
}

/**
 * The registered release of that vendor (any vendor when unknown) and class with the highest
 * sequence, of a signer not revoked, whose manifest has not expired at `now` (ms).
 */
export function latestRelease(fw: FirmwareState, cls: string, vendor?: string, now = Date.now()): Release | undefined {
  let best: Release | undefined;
  for (const r of fw.releases()) {
    if (r.class !== cls || (vendor !== undefined && r.vendor !== vendor)) continue;
    // Signed by a key revoked since, or expired: no update to it can be approved (checkUpdate, revoked-key / expired).
    if (fw.isRevoked(r.vendor, r.signer) || isExpired(r.manifest, now)) continue;
    if (!best || r.sequence > best.sequence) best = r;
  }
  return best;
}

/** A manifest uri Home Assistant accepts as release_url: an absolute http(s) URL, else undefined. */
export function releaseUrl(uri: string | undefined): string | undefined {
  if (!uri) return undefined;
  try {
    const u = new URL(uri);
    return (u.protocol === 'https:' || u.protocol === 'http:') && u.hostname ? u.href : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The update entity's state of a device, or undefined until the device has reported what it
 * runs. Installed: what the device last reported running (an approval alone installs nothing).
 * Latest: the newest of an approved update it has not reported yet (then in_progress) and the
 * registered releases of its vendor and class not expired at `now` (ms), when above the installed
 * sequence; otherwise the installed version (nothing newer is known).
 */
export function firmwareHaState(fw: FirmwareState, did: string, now = Date.now()): FirmwareHaState | undefined {
  const d = fw.device(did);
  const running = d?.running;
  if (!d || !running) return undefined;
  const vendor = running.vendor ?? d.vendor;
  const cur = d.current;
  const pending = cur && cur !== running && cur.source === 'decision' && cur.class === running.class && cur.sequence > running.sequence ? cur : undefined;
  const newest = latestRelease(fw, running.class, vendor, now);
  let latest: { version: string; sequence: number; vendor?: string } = running;
  if (pending && pending.sequence > latest.sequence) latest = pending;
  if (newest && newest.sequence > latest.sequence) latest = newest;
  const latestVendor = latest.vendor ?? vendor;
  const release = latestVendor !== undefined ? fw.release(latestVendor, running.class, latest.sequence) : undefined;
  const url = releaseUrl(release?.manifest.uri);
  return {
    installed_version: running.version,
    latest_version: latest.version,
    in_progress: pending !== undefined,
    title: vendor ? `${vendor} ${running.class}` : running.class,
    release_summary: url ? '' : `No web link to ${latest.version} in its release manifest.`,
    release_url: url ?? SUPPORT_URL,
  };
}
