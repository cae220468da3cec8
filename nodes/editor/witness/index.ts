// The Witness node's editor. Key names are checked by the runtime's isValidKeyName (C2SP signed notes).
import { isValidKeyName } from '../../../lib/note/note-open';
import { str } from '../shared/validators';

interface WitnessProps {
  name: string;
  keyName: string;
  identity: string;
  ledger: string;
  logs: string;
  prefix: string;
  mqttUrl: string;
  mqttTopic: string;
  stateDir: string;
}

RED.nodes.registerType<WitnessProps>('iot-ledger-witness', {
  category: 'iot ledger',
  color: '#8CCFB9',
  defaults: {
    name: { value: '' },
    keyName: { value: '', required: true, validate: (v) => typeof v === 'string' && isValidKeyName(v) },
    identity: { value: '', type: 'iot-ledger-identity', required: false },
    ledger: { value: '', type: 'iot-ledger-config', required: false },
    logs: { value: '' },
    prefix: { value: '/iot-ledger/witness' },
    mqttUrl: { value: '', validate: (v) => !v || /^mqtts?:\/\/[^/]+\/?$/.test(str(v)) },
    mqttTopic: { value: '' },
    stateDir: { value: '' },
  },
  inputs: 1,
  outputs: 1,
  icon: 'iot-ledger-witness.svg',
  paletteLabel() {
    return this._('iot-ledger-witness.paletteLabel');
  },
  label() {
    return this.name || this._('iot-ledger-witness.label.node', { name: this.keyName || '' });
  },
  labelStyle() {
    return this.name ? 'node_label_italic' : '';
  },
  oneditprepare() {
    const node = this;
    const out = $('#node-input-witness-vkey');
    out.text(node._('iot-ledger-witness.verifierKey.undeployed'));
    $.getJSON<{ deployed?: boolean; verifierKey?: string }>('iot-ledger/witnesses/' + encodeURIComponent(node.id)).done((r) => {
      if (r && r.deployed && r.verifierKey) out.text(r.verifierKey);
    });
  },
});
