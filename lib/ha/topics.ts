// MQTT topics of the Home Assistant integration: discovery configs under the discovery
// prefix, our own state and availability under the base topic. Pure functions.
import { createHash } from 'node:crypto';

export const DEFAULT_DISCOVERY_PREFIX = 'homeassistant';
export const DEFAULT_BASE_TOPIC = 'iot-ledger';
export const PAYLOAD_ONLINE = 'online';
export const PAYLOAD_OFFLINE = 'offline';

/** Where the two topic trees start: `homeassistant` and `iot-ledger` unless configured. */
export interface HaTopics {
  discoveryPrefix: string;
  baseTopic: string;
}

/**
 * A topic prefix we may publish under: one or more non-empty levels, no wildcards (`+`, `#`),
 * no NUL, not starting with `$` (reserved for brokers), at most 200 characters.
 */
export function isTopicPrefix(s: unknown): s is string {
  return (
    typeof s === 'string' &&
    s.length > 0 &&
    s.length <= 200 &&
    !/[+#]/.test(s) &&
    !s.includes('\u0000') &&
    !s.startsWith('$') &&
    s.split('/').every((level) => level.length > 0)
  );
}

/** The configured prefixes, or the defaults for empty ones; throws on a prefix MQTT cannot carry. */
export function haTopics(discoveryPrefix?: unknown, baseTopic?: unknown): HaTopics {
  const pick = (v: unknown, fallback: string, what: string): string => {
    const s = typeof v === 'string' ? v.trim() : '';
    if (s === '') return fallback;
    if (!isTopicPrefix(s)) throw new Error(`${what} "${s}" is not a usable MQTT topic prefix (no +, #, empty levels or leading $)`);
    return s;
  };
  return {
    discoveryPrefix: pick(discoveryPrefix, DEFAULT_DISCOVERY_PREFIX, 'discovery prefix'),
    baseTopic: pick(baseTopic, DEFAULT_BASE_TOPIC, 'base topic'),
  };
}

/** Retained `online` / `offline` of the gateway (the MQTT will sets `offline`). */
export function availabilityTopic(t: HaTopics): string {
  return `${t.baseTopic}/availability`;
}

/** Home Assistant announces its own start (`online`) here; configs are sent again then. */
export function haStatusTopic(t: HaTopics): string {
  return `${t.discoveryPrefix}/status`;
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
