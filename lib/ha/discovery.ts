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
  gatewayIdPrefix,
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
const FAHRENHEIT_UNITS = new Set(['°F', 'F', 'degF', '[degF]', 'fahrenheit', 'Fahrenheit', '℉']);
const KELVIN_UNITS = new Set(['K', 'kelvin', 'Kelvin']);

export function isCelsius(unit: string | undefined): boolean {
  return unit !== undefined && CELSIUS_UNITS.has(unit);
}

/**
 * The unit as Home Assistant's temperature device class spells it (°C, °F or K), or undefined
 * for a unit that is not a temperature. HA converts between temperature units only for an
 * entity of that device class.
 */
export function haTemperatureUnit(unit: string | undefined): '°C' | '°F' | 'K' | undefined {
  if (unit === undefined) return undefined;
  if (CELSIUS_UNITS.has(unit)) return '°C';
  if (FAHRENHEIT_UNITS.has(unit)) return '°F';
  if (KELVIN_UNITS.has(unit)) return 'K';
  return undefined;
}

function availability(t: HaTopics): Config {
  return { availability_topic: availabilityTopic(t), payload_available: PAYLOAD_ONLINE, payload_not_available: PAYLOAD_OFFLINE };
}

/** What a contract needs for its entities (a subset of its terms). */
export type ContractEntityTerms = Pick<Terms, 'id' | 'title' | 'unit' | 'mkt'>;

/** `iot-ledger[_<base topic>]_<contract id>_<entity>`: unique per gateway (see gatewayIdPrefix). */
export const contractUniqueId = (t: Pick<HaTopics, 'baseTopic'>, contractId: string, entity: 'violation' | 'value' | 'mkt'): string =>
  `${gatewayIdPrefix(t)}_${contractId}_${entity}`;

/** One Home Assistant device per contract (and gateway). */
export function contractDevice(terms: ContractEntityTerms, t: Pick<HaTopics, 'baseTopic'>): Config {
  return { identifiers: [`${gatewayIdPrefix(t)}_${terms.id}`], name: terms.title, manufacturer: PACKAGE_NAME, model: CONTRACT_MODEL };
}

/**
 * The entities of a contract, all reading the JSON state on `<base>/contract/<id>/state`:
 * - binary_sensor "Violation" (device class problem): ON while the contract is violated, unknown
 *   while it awaits signatures; the state's `attributes` (status text, counters, excursion
 *   start…) become its attributes;
 * - sensor "Last value": the last reading, in the terms' unit (device class temperature for °C, °F, K);
 * - sensor "Mean kinetic temperature" (°C) when the terms set an MKT limit, else removed.
 * Entity names leave out the device name: Home Assistant shows "<title> Violation".
 */
export function contractDiscovery(terms: ContractEntityTerms, t: HaTopics, from: Origin): DiscoveryConfig[] {
  const stateTopic = contractStateTopic(t, terms.id);
  const common = (entity: 'violation' | 'value' | 'mkt'): Config => ({
    unique_id: contractUniqueId(t, terms.id, entity),
    state_topic: stateTopic,
    ...availability(t),
    device: contractDevice(terms, t),
    origin: from,
  });
  const temperature = haTemperatureUnit(terms.unit);
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
    ...(temperature ? { device_class: 'temperature', unit_of_measurement: temperature } : terms.unit ? { unit_of_measurement: terms.unit } : {}),
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
    { topic: discoveryTopic(t, 'binary_sensor', contractUniqueId(t, terms.id, 'violation')), config: violation },
    { topic: discoveryTopic(t, 'sensor', contractUniqueId(t, terms.id, 'value')), config: value },
    { topic: discoveryTopic(t, 'sensor', contractUniqueId(t, terms.id, 'mkt')), config: mkt },
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
  /** The firmware version the device last reported running (its `sw_version` in Home Assistant). */
  version?: string;
}

export const firmwareUniqueId = (t: Pick<HaTopics, 'baseTopic'>, did: string): string => `${gatewayIdPrefix(t)}_firmware_${deviceSuffix(did)}`;

/** One Home Assistant device per ledger device (and gateway): its enrolled name, vendor, class and running firmware. */
export function firmwareDevice(d: FirmwareDeviceInfo, t: Pick<HaTopics, 'baseTopic'>): Config {
  const suffix = deviceSuffix(d.did);
  return {
    identifiers: [`${gatewayIdPrefix(t)}_device_${suffix}`],
    name: d.name || `device ${suffix.length > 12 ? `…${suffix.slice(-8)}` : suffix}`,
    ...(d.vendor ? { manufacturer: d.vendor } : {}),
    ...(d.class ? { model: d.class } : {}),
    ...(d.version ? { sw_version: d.version } : {}),
  };
}

/**
 * The `update` entity of a device (a diagnostic entity): its JSON state on
 * `<base>/firmware/<device suffix>/state` carries installed_version, latest_version, in_progress,
 * title, release_summary and release_url.
 */
export function firmwareDiscovery(d: FirmwareDeviceInfo, t: HaTopics, from: Origin): DiscoveryConfig {
  const uniqueId = firmwareUniqueId(t, d.did);
  return {
    topic: discoveryTopic(t, 'update', uniqueId),
    config: {
      name: 'Firmware',
      device_class: 'firmware',
      entity_category: 'diagnostic',
      unique_id: uniqueId,
      state_topic: firmwareStateTopic(t, d.did),
      ...availability(t),
      device: firmwareDevice(d, t),
      origin: from,
    },
  };
}
