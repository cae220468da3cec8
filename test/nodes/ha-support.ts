// What the Home Assistant node tests share: Node-RED's own MQTT nodes (core 10-mqtt.js, whose
// mqtt-broker config node the HA node publishes through) and such a broker node for a flow.

/** Node-RED's core MQTT nodes (mqtt in, mqtt out, mqtt-broker) for the test helper. */
export function mqttNodes(): unknown[] {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return [require('@node-red/nodes/core/network/10-mqtt.js') as unknown];
}

/**
 * An mqtt-broker config node on 127.0.0.1:`port` as the editor saves it. `offline` (default):
 * Last Will and Close message set to `offline`, retained, on `availability`, as the HA node's
 * help asks.
 */
export function haBrokerNode(id: string, port: number, offline = true, availability = 'iot-ledger/availability'): Record<string, unknown> {
  const message = (kind: 'will' | 'close') =>
    offline
      ? { [`${kind}Topic`]: availability, [`${kind}Qos`]: '1', [`${kind}Retain`]: 'true', [`${kind}Payload`]: 'offline' }
      : { [`${kind}Topic`]: '', [`${kind}Qos`]: '0', [`${kind}Retain`]: 'false', [`${kind}Payload`]: '' };
  return {
    id,
    type: 'mqtt-broker',
    name: 'test broker',
    broker: '127.0.0.1',
    port: String(port),
    clientid: '',
    autoConnect: true,
    usetls: false,
    protocolVersion: '4',
    keepalive: '60',
    cleansession: true,
    autoUnsubscribe: true,
    birthTopic: '',
    ...message('will'),
    ...message('close'),
  };
}
