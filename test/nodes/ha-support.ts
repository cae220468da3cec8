// What the Home Assistant node tests share: Node-RED's own MQTT nodes (core 10-mqtt.js, whose
// mqtt-broker config node the HA node publishes through), such a broker node for a flow, and the
// hooks that start and stop the helper, a broker and a watching client.
import * as fs from 'node:fs';
import { startBroker, type RunningBroker } from '../../demo/broker';
import { MqttWatch } from '../ha/mqtt-watch';
import { helper, tempUserDir } from './support';

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

/** What useHaSession gives the tests of a describe block. */
export interface HaSession {
  /** The in-process broker the flows' mqtt-broker node connects to. */
  readonly broker: RunningBroker;
  /** A client on `homeassistant/#` and `iot-ledger/#`, new for each test. */
  readonly watch: MqttWatch;
}

/**
 * Registers the hooks the Home Assistant node tests share: Node-RED's test helper on a fresh
 * user dir with `settings`, one broker for the block, a watching client per test; after each
 * test the flow is unloaded and the retained `clearAfterEach` topics are emptied, so that
 * nothing one test left retained reaches the next.
 */
export function useHaSession(settings: Record<string, unknown> = {}, clearAfterEach: readonly string[] = []): HaSession {
  let userDir: string | undefined;
  let broker: RunningBroker | undefined;
  let watch: MqttWatch | undefined;
  before(async () => {
    userDir = tempUserDir();
    helper.settings({ userDir, ...settings });
    await new Promise<void>((resolve) => helper.startServer(resolve));
    broker = await startBroker({ port: 0 });
  });
  after(async () => {
    await broker?.close();
    await new Promise<void>((resolve) => helper.stopServer(resolve));
    if (userDir) fs.rmSync(userDir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    watch = await MqttWatch.connect(running('broker', broker).url, ['homeassistant/#', 'iot-ledger/#']);
  });
  afterEach(async () => {
    await helper.unload();
    for (const topic of clearAfterEach) await running('watch', watch).client.publishAsync(topic, '', { qos: 1, retain: true });
    await watch?.close();
  });
  return {
    get broker() {
      return running('broker', broker);
    },
    get watch() {
      return running('watch', watch);
    },
  };
}

function running<T>(what: string, value: T | undefined): T {
  if (value === undefined) throw new Error(`the Home Assistant test session has no ${what} (used outside a test?)`);
  return value;
}
