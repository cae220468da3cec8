// Home Assistant MQTT discovery configs: what entities a contract or a device becomes in HA.
// Pure functions from terms / device facts to { topic, config }; the caller publishes them
// retained. A null config means "remove this entity" (an empty retained payload).
// https://www.home-assistant.io/integrations/mqtt/#mqtt-discovery
import type { Terms } from '../contracts';
import {
  PAYLOAD_OFFLINE,
  PAYLOAD_ONLINE,
  availabilityTopic,
  contractStateTopic,
  deviceSuffix,
  discoveryTopic,
  firmwareStateTopic,
  type HaTopics,
} from './topics';

export const PACKAGE_NAME = 'node-red-contrib-iot-ledger';
export const SUPPORT_URL = 'https://github.com/iot-ledger/node-red-contrib-iot-ledger';
export const CONTRACT_MODEL = 'threshold contract';

export type Config = Record<string, unknown>;

export interface DiscoveryConfig {
  topic: string;
  /** The entity's config, or null to remove the entity. */
  config: Config | null;
}

/** Who publishes the configs (`origin`), logged by Home Assistant when it adds an entity. */
export interface Origin {
  name: string;
  sw_version?: string;
  support_url?: string;
}

export function origin(version?: string): Origin {
  return { name: PACKAGE_NAME, ...(version ? { sw_version: version } : {}), support_url: SUPPORT_URL };
}

// Units of degrees Celsius a contract may name (as lib/contracts accepts for MKT); Home
// Assistant's temperature device class wants the unit spelt °C.
const CELSIUS_UNITS = new Set(['°C', 'C', 'degC', 'Cel', 'celsius', 'Celsius', '℃']);

export function isCelsius(unit: string | undefined): boolean {
  return unit !== undefined && CELSIUS_UNITS.has(unit);
}

function availability(t: HaTopics): Config {
  return { availability_topic: availabilityTopic(t), payload_available: PAYLOAD_ONLINE, payload_not_available: PAYLOAD_OFFLINE };
}

/** What a contract needs for its entities (a subset of its terms). */
export type ContractEntityTerms = Pick<Terms, 'id' | 'title' | 'unit' | 'mkt'>;

export const contractUniqueId = (contractId: string, entity: 'violation' | 'value' | 'mkt'): string => `iot-ledger_${contractId}_${entity}`;

/** One Home Assistant device per contract. */
export function contractDevice(terms: ContractEntityTerms): Config {
  return { identifiers: [`iot-ledger_${terms.id}`], name: terms.title, manufacturer: PACKAGE_NAME, model: CONTRACT_MODEL };
}

/**
 * The entities of a contract, all reading the JSON state on `<base>/contract/<id>/state`:
 * - binary_sensor "Violation" (device class problem): ON while the contract is violated; the
 *   state's `attributes` (status text, counters, excursion start…) become its attributes;
 * - sensor "Last value": the last reading, in the terms' unit (device class temperature for °C);
 * - sensor "Mean kinetic temperature" (°C) when the terms set an MKT limit, else removed.
 * Entity names leave out the device name: Home Assistant shows "<title> Violation".
 */
export function contractDiscovery(terms: ContractEntityTerms, t: HaTopics, from: Origin): DiscoveryConfig[] {
  const stateTopic = contractStateTopic(t, terms.id);
  const common = (entity: 'violation' | 'value' | 'mkt'): Config => ({
    unique_id: contractUniqueId(terms.id, entity),
    state_topic: stateTopic,
    ...availability(t),
    device: contractDevice(terms),
    origin: from,
  });
  const celsius = isCelsius(terms.unit);
  const violation: Config = {
    name: 'Violation',
    device_class: 'problem',
    value_template: '{{ value_json.violation }}',
    payload_on: 'ON',
    payload_off: 'OFF',
    json_attributes_topic: stateTopic,
    json_attributes_template: '{{ value_json.attributes | tojson }}',
    ...common('violation'),
  };
  // A null value renders as "None", which Home Assistant takes as unknown.
  const value: Config = {
    name: 'Last value',
    ...(celsius ? { device_class: 'temperature', unit_of_measurement: '°C' } : terms.unit ? { unit_of_measurement: terms.unit } : {}),
    state_class: 'measurement',
    value_template: '{{ value_json.value }}',
    ...common('value'),
  };
  const mkt: Config | null = terms.mkt
    ? {
        name: 'Mean kinetic temperature',
        device_class: 'temperature',
        unit_of_measurement: '°C',
        state_class: 'measurement',
        suggested_display_precision: 2,
        value_template: '{{ value_json.mkt }}',
        ...common('mkt'),
      }
    : null;
  return [
    { topic: discoveryTopic(t, 'binary_sensor', contractUniqueId(terms.id, 'violation')), config: violation },
    { topic: discoveryTopic(t, 'sensor', contractUniqueId(terms.id, 'value')), config: value },
    { topic: discoveryTopic(t, 'sensor', contractUniqueId(terms.id, 'mkt')), config: mkt },
  ];
}

/** What is known of a device whose firmware the ledger follows. */
export interface FirmwareDeviceInfo {
  /** The device's did:key. */
  did: string;
  /** Its enrolled name, when it has one. */
  name?: string;
  vendor?: string;
  class?: string;
}

export const firmwareUniqueId = (did: string): string => `iot-ledger_firmware_${deviceSuffix(did)}`;

/** One Home Assistant device per ledger device: its enrolled name, vendor and class. */
export function firmwareDevice(d: FirmwareDeviceInfo): Config {
  const suffix = deviceSuffix(d.did);
  return {
    identifiers: [`iot-ledger_device_${suffix}`],
    name: d.name || `device ${suffix.length > 12 ? `…${suffix.slice(-8)}` : suffix}`,
    ...(d.vendor ? { manufacturer: d.vendor } : {}),
    ...(d.class ? { model: d.class } : {}),
  };
}

/**
 * The `update` entity of a device: its JSON state on `<base>/firmware/<device suffix>/state`
 * carries installed_version, latest_version, title and release_url.
 */
export function firmwareDiscovery(d: FirmwareDeviceInfo, t: HaTopics, from: Origin): DiscoveryConfig {
  const uniqueId = firmwareUniqueId(d.did);
  return {
    topic: discoveryTopic(t, 'update', uniqueId),
    config: {
      name: 'Firmware',
      device_class: 'firmware',
      unique_id: uniqueId,
      state_topic: firmwareStateTopic(t, d.did),
      ...availability(t),
      device: firmwareDevice(d),
      origin: from,
    },
  };
}
