// Flows made before the Home Assistant config node used Node-RED's mqtt-broker node carry their
// own broker settings (host, port, tls, username; the password in credentials). The editor turns
// them into the properties of a new mqtt-broker config node with this function. Pure, and free
// of imports so the editor bundle stays small; test/ha checks that what it sets is what the
// runtime (isOfflineMessage) expects.

/** The old broker settings of an iot-ledger-ha node, as a flow holds them. */
export interface LegacyBroker {
  host?: unknown;
  port?: unknown;
  tls?: unknown;
  username?: unknown;
}

/** The properties of an mqtt-broker node (core 10-mqtt) equivalent to the old settings. */
export interface MqttBrokerProps {
  name: string;
  broker: string;
  port: string;
  usetls: boolean;
  verifyservercert: boolean;
  clientid: string;
  autoConnect: boolean;
  protocolVersion: string;
  keepalive: string;
  cleansession: boolean;
  autoUnsubscribe: boolean;
  birthTopic: string;
  birthQos: string;
  birthRetain: string;
  birthPayload: string;
  closeTopic: string;
  closeQos: string;
  closeRetain: string;
  closePayload: string;
  willTopic: string;
  willQos: string;
  willRetain: string;
  willPayload: string;
  /** mqtt-broker keeps the user name in its credentials. */
  user: string;
}

const text = (v: unknown): string => (typeof v === 'string' || typeof v === 'number' ? String(v).trim() : '');

/** Whether a node still has the old settings (a host) to convert. */
export function hasLegacyBroker(legacy: LegacyBroker): boolean {
  return text(legacy.host) !== '';
}

/**
 * The mqtt-broker node that replaces the old settings: same host, port, TLS (verifying the
 * server's certificate, as the old client did) and user name, and the Last Will and Close message
 * set to `offline`, retained, on the availability topic (what the old client did itself).
 */
export function brokerFromLegacy(legacy: LegacyBroker, baseTopic: unknown): MqttBrokerProps {
  const tls = legacy.tls === true || legacy.tls === 'true';
  const port = Number(text(legacy.port));
  const availability = `${text(baseTopic) || 'iot-ledger'}/availability`;
  return {
    name: '',
    broker: text(legacy.host),
    port: String(Number.isInteger(port) && port > 0 && port < 65536 ? port : tls ? 8883 : 1883),
    usetls: tls,
    verifyservercert: true,
    clientid: '',
    autoConnect: true,
    protocolVersion: '4',
    keepalive: '60',
    cleansession: true,
    autoUnsubscribe: true,
    birthTopic: '',
    birthQos: '0',
    birthRetain: 'false',
    birthPayload: '',
    closeTopic: availability,
    closeQos: '1',
    closeRetain: 'true',
    closePayload: 'offline',
    willTopic: availability,
    willQos: '1',
    willRetain: 'true',
    willPayload: 'offline',
    user: text(legacy.username),
  };
}
