// MQTT topics of the Home Assistant integration: discovery configs under the discovery
// prefix, our own state and availability under the base topic. Pure functions.
import { createHash } from 'node:crypto';
import { isTopicPrefix } from './topic-prefix';

export { isTopicPrefix };

export const DEFAULT_DISCOVERY_PREFIX = 'homeassistant';
export const DEFAULT_BASE_TOPIC = 'iot-ledger';
/** Home Assistant's default birth topic (its MQTT option "Birth message topic"), not tied to the discovery prefix. */
export const DEFAULT_STATUS_TOPIC = 'homeassistant/status';
export const PAYLOAD_ONLINE = 'online';
export const PAYLOAD_OFFLINE = 'offline';

/** Where the two topic trees start (`homeassistant` and `iot-ledger` unless configured), and where HA announces its start. */
export interface HaTopics {
  discoveryPrefix: string;
  baseTopic: string;
  /** Home Assistant's birth message topic; `homeassistant/status` unless configured. */
  statusTopic: string;
}

/** The configured prefixes and status topic, or the defaults for empty ones; throws on a topic MQTT cannot carry. */
export function haTopics(discoveryPrefix?: unknown, baseTopic?: unknown, statusTopic?: unknown): HaTopics {
  const pick = (v: unknown, fallback: string, what: string): string => {
    const s = typeof v === 'string' ? v.trim() : '';
    if (s === '') return fallback;
    if (!isTopicPrefix(s)) throw new Error(`${what} ${JSON.stringify(s)} is not a usable MQTT topic prefix (no +, #, empty levels or leading $)`);
    return s;
  };
  return {
    discoveryPrefix: pick(discoveryPrefix, DEFAULT_DISCOVERY_PREFIX, 'discovery prefix'),
    baseTopic: pick(baseTopic, DEFAULT_BASE_TOPIC, 'base topic'),
    statusTopic: pick(statusTopic, DEFAULT_STATUS_TOPIC, 'Home Assistant status topic'),
  };
}

/** Retained `online` / `offline` of the gateway (the MQTT will sets `offline`). */
export function availabilityTopic(t: HaTopics): string {
  return `${t.baseTopic}/availability`;
}

/** Home Assistant announces its own start (`online`) here (its birth message topic); configs are sent again then. */
export function haStatusTopic(t: HaTopics): string {
  return t.statusTopic;
}

const OBJECT_ID = /^[A-Za-z0-9_-]+$/;

/**
 * A string Home Assistant accepts as a discovery object id and we can put in one topic level:
 * `[A-Za-z0-9_-]` only. Strings of those characters are kept as they are; others have each
 * other character replaced by `_` and a short hash of the original appended, so that two ids
 * differing only there (`a.b`, `a_b`) stay apart.
 */
export function topicId(s: string): string {
  if (OBJECT_ID.test(s)) return s;
  const hash = createHash('sha256').update(s, 'utf8').digest('hex').slice(0, 8);
  return `${s.replace(/[^A-Za-z0-9_-]/g, '_')}_${hash}`;
}

/** `<prefix>/<component>/<object id>/config`, the object id being the entity's unique_id. */
export function discoveryTopic(t: HaTopics, component: string, uniqueId: string): string {
  return `${t.discoveryPrefix}/${component}/${topicId(uniqueId)}/config`;
}

/**
 * What starts every unique_id and device identifier of this gateway: `iot-ledger` with the default
 * base topic (the ids of earlier versions), else `iot-ledger_<base topic>`, so that two gateways on
 * one broker, each with its own base topic, never take each other's entities in Home Assistant.
 */
export function gatewayIdPrefix(t: Pick<HaTopics, 'baseTopic'>): string {
  return t.baseTopic === DEFAULT_BASE_TOPIC ? 'iot-ledger' : `iot-ledger_${topicId(t.baseTopic)}`;
}

/** `<prefix>/+/+/config`: where our discovery configs (and everyone else's) live, to find stale ones. */
export function discoveryWildcard(t: HaTopics): string {
  return `${t.discoveryPrefix}/+/+/config`;
}

/** `<base>/contract/<id>/state`: the contract's state as JSON (contract ids are safe topic levels). */
export function contractStateTopic(t: HaTopics, contractId: string): string {
  return `${t.baseTopic}/contract/${/^[A-Za-z0-9._-]+$/.test(contractId) ? contractId : topicId(contractId)}/state`;
}

/** The part of a device id used in topics and ids: the did:key without `did:key:`. */
export function deviceSuffix(did: string): string {
  return topicId(did.startsWith('did:key:') ? did.slice('did:key:'.length) : did);
}

/** `<base>/firmware/<device suffix>/state`: the device's update entity state as JSON. */
export function firmwareStateTopic(t: HaTopics, did: string): string {
  return `${t.baseTopic}/firmware/${deviceSuffix(did)}/state`;
}
