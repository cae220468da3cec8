// The Home Assistant config node's editor. Topics are checked by the runtime's isTopicPrefix; a
// flow from before the Broker field has its old broker settings moved into a new mqtt-broker node
// (lib/ha/legacy-broker) when the node is opened.
import { brokerFromLegacy, hasLegacyBroker } from '../../../lib/ha/legacy-broker';
import { isTopicPrefix } from '../../../lib/ha/topic-prefix';
import { check, textOf } from '../shared/validators';

interface HaProps {
  name: string;
  broker: string;
  discoveryPrefix: string;
  baseTopic: string;
  statusTopic: string;
  // Old flows only: converted into an mqtt-broker node, then cleared.
  host: string;
  port: number | string;
  tls: boolean;
  username: string;
}

// The editor API the migration needs, beyond what the shared globals declare.
interface EditorApi {
  nodes: {
    id(): string;
    getType(type: string): unknown;
    add(node: Record<string, unknown>): void;
    dirty(d: boolean): void;
  };
  notify(text: string, opts: { type: string; timeout?: number }): void;
}

const topic = (v: unknown): boolean => v === undefined || isTopicPrefix(textOf(v));

/** Creates the mqtt-broker node for an old flow's own broker settings and selects it; returns its id. */
function migrate(node: EditorNode & HaProps): string | undefined {
  const api = RED as unknown as EditorApi;
  if (!hasLegacyBroker(node) || textOf(node.broker) !== '' || !api.nodes.getType('mqtt-broker')) return undefined;
  const { user, ...props } = brokerFromLegacy(node, node.baseTopic);
  const id = api.nodes.id();
  api.nodes.add({ id, type: 'mqtt-broker', z: '', ...props, users: [], credentials: user ? { user } : {}, _def: api.nodes.getType('mqtt-broker'), changed: true, dirty: true });
  api.nodes.dirty(true);
  const host = textOf(node.host);
  const label = props.broker + ':' + props.port;
  $('#node-config-input-broker').append($('<option>').val(id).text(label)).val(id).trigger('change');
  api.notify(node._('iot-ledger-ha.migrated', { host, broker: label }), { type: 'warning', timeout: 10000 });
  if (node.credentials?.has_password === true) api.notify(node._('iot-ledger-ha.migratedPassword'), { type: 'warning', timeout: 10000 });
  // Saving then removes the old password from this node's credentials.
  $('#node-config-input-password').val('');
  return id;
}

RED.nodes.registerType<HaProps>('iot-ledger-ha', {
  category: 'config',
  defaults: {
    name: { value: '' },
    broker: { value: '', type: 'mqtt-broker', required: true },
    discoveryPrefix: { value: 'homeassistant', required: true, validate: check(topic, 'iot-ledger-ha.errors.topic') },
    baseTopic: { value: 'iot-ledger', required: true, validate: check(topic, 'iot-ledger-ha.errors.topic') },
    // Home Assistant's birth message topic; empty (as in flows made before it existed) = homeassistant/status.
    statusTopic: { value: 'homeassistant/status', validate: check((v) => textOf(v) === '' || topic(v), 'iot-ledger-ha.errors.topic') },
    // Kept only so that an old flow's settings reach the migration (the editor drops unknown properties).
    host: { value: '' },
    port: { value: '' },
    tls: { value: false },
    username: { value: '' },
  },
  // The old node's password: only to tell whether the new broker node needs one entered, then cleared.
  credentials: {
    password: { type: 'password' },
  },
  icon: 'iot-ledger-ha.svg',
  paletteLabel() {
    return this._('iot-ledger-ha.paletteLabel');
  },
  label() {
    return this.name || this._('iot-ledger-ha.paletteLabel');
  },
  oneditprepare() {
    migrate(this);
    const base = (): string => textOf($('#node-config-input-baseTopic').val()) || 'iot-ledger';
    const tip = (): void => {
      $('#iot-ledger-ha-broker-tip').text(this._('iot-ledger-ha.tip.broker', { topic: base() + '/availability' }));
    };
    $('#node-config-input-baseTopic').on('change keyup', tip);
    tip();
  },
  oneditsave() {
    // Moved into the broker node (or never set): an old flow's settings go with the save.
    if (textOf($('#node-config-input-broker').val()) !== '') {
      this.host = '';
      this.port = '';
      this.tls = false;
      this.username = '';
    }
  },
});
