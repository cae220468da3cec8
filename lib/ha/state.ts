// The JSON states the discovered entities read: a contract's verdict and values, a device's
// installed and latest firmware. Pure functions of the contract / firmware state.
import type { ContractState, ContractStatus, Terms } from '../contracts';
import type { FirmwareState, Release } from '../firmware';
import { isCelsius } from './discovery';

const iso = (ms: number | null | undefined): string | null => (typeof ms === 'number' && Number.isFinite(ms) ? new Date(ms).toISOString() : null);

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
  /** The problem binary_sensor: ON while violated (an excursion that is not yet a violation is OFF). */
  violation: 'ON' | 'OFF';
  /** The last reading's value, null before any. */
  value: number | null;
  /** Unit of value (°C for every spelling of degrees Celsius), null when the terms name none. */
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
  const unit = c.terms.unit === undefined ? null : isCelsius(c.terms.unit) ? '°C' : c.terms.unit;
  return {
    contract: c.terms.id,
    version: c.terms.version,
    status,
    violation: status === 'violated' ? 'ON' : 'OFF',
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

/** What `<base>/firmware/<device suffix>/state` carries: the MQTT update entity's JSON. */
export interface FirmwareHaState {
  installed_version: string;
  latest_version: string;
  title: string;
  release_url?: string;
}

/** The registered release of that vendor (any vendor when unknown) and class with the highest sequence. */
export function latestRelease(fw: FirmwareState, cls: string, vendor?: string): Release | undefined {
  let best: Release | undefined;
  for (const r of fw.releases()) {
    if (r.class !== cls || (vendor !== undefined && r.vendor !== vendor)) continue;
    if (!best || r.sequence > best.sequence) best = r;
  }
  return best;
}

/**
 * The update entity's state of a device, or undefined while no firmware record says what it
 * runs. Installed: the device's current firmware (what it runs or was last approved to run).
 * Latest: the registered release of its vendor and class with the highest sequence number, when
 * that is above the installed one; otherwise the installed version (nothing newer is known).
 */
export function firmwareHaState(fw: FirmwareState, did: string): FirmwareHaState | undefined {
  const d = fw.device(did);
  const cur = d?.current;
  if (!d || !cur) return undefined;
  const vendor = cur.vendor ?? d.vendor;
  const newest = latestRelease(fw, cur.class, vendor);
  const shown = newest && newest.sequence > cur.sequence ? newest : vendor !== undefined ? fw.release(vendor, cur.class, cur.sequence) : undefined;
  const out: FirmwareHaState = {
    installed_version: cur.version,
    latest_version: shown && shown.sequence > cur.sequence ? shown.version : cur.version,
    title: vendor ? `${vendor} ${cur.class}` : cur.class,
  };
  if (shown?.manifest.uri) out.release_url = shown.manifest.uri;
  return out;
}
