// The Home Assistant config node's editor. Topics are checked by the runtime's isTopicPrefix.
import { isTopicPrefix } from '../../../lib/ha/topic-prefix';
import { check, textOf } from '../shared/validators';

interface HaProps {
  name: string;
  host: string;
  port: number | string;
  tls: boolean;
  username: string;
  discoveryPrefix: string;
  baseTopic: string;
  statusTopic: string;
}

const topic = (v: unknown): boolean => v === undefined || isTopicPrefix(textOf(v));

RED.nodes.registerType<HaProps>('iot-ledger-ha', {
  category: 'config',
  defaults: {
    name: { value: '' },
    host: { value: '', required: true, validate: check((v) => /^[^\s/]+$/.test(textOf(v)), 'iot-ledger-ha.errors.host') },
    port: {
      value: 1883,
      required: true,
      validate: check((v) => /^\d+$/.test(textOf(v)) && Number(textOf(v)) >= 1 && Number(textOf(v)) <= 65535, 'iot-ledger-ha.errors.port'),
    },
    tls: { value: false },
    username: { value: '' },
    discoveryPrefix: { value: 'homeassistant', required: true, validate: check(topic, 'iot-ledger-ha.errors.topic') },
    baseTopic: { value: 'iot-ledger', required: true, validate: check(topic, 'iot-ledger-ha.errors.topic') },
    // Home Assistant's birth message topic; empty (as in flows made before it existed) = homeassistant/status.
    statusTopic: { value: 'homeassistant/status', validate: check((v) => textOf(v) === '' || topic(v), 'iot-ledger-ha.errors.topic') },
  },
  credentials: {
    password: { type: 'password' },
  },
  icon: 'iot-ledger-ha.svg',
  paletteLabel() {
    return this._('iot-ledger-ha.paletteLabel');
  },
  label() {
    if (this.name) return this.name;
    return this.host ? (this.tls ? 'mqtts://' : '') + this.host + ':' + (this.port || 1883) : this._('iot-ledger-ha.paletteLabel');
  },
  oneditprepare() {
    const $port = $('#node-config-input-port');
    const $tls = $('#node-config-input-tls');
    $port.spinner({ min: 1, max: 65535 });
    // Switching TLS moves the port between the usual 1883 and 8883 unless another was set.
    $tls.on('change', () => {
      const port = String($port.val()).trim();
      if ($tls.prop('checked') && port === '1883') $port.val(8883);
      else if (!$tls.prop('checked') && port === '8883') $port.val(1883);
    });
  },
});
