// The Sign node's editor.
import { oneOf } from '../shared/validators';

interface SignProps {
  name: string;
  identity: string;
  format: string;
  stamp: boolean;
}

RED.nodes.registerType<SignProps>('iot-ledger-sign', {
  category: 'iot ledger',
  color: '#8CCFB9',
  defaults: {
    name: { value: '' },
    identity: { value: '', type: 'iot-ledger-identity', required: true },
    format: { value: 'jws', required: true, validate: oneOf(['jws', 'cose']) },
    stamp: { value: true },
  },
  inputs: 1,
  outputs: 1,
  icon: 'iot-ledger-sign.svg',
  paletteLabel() {
    return this._('iot-ledger-sign.paletteLabel');
  },
  label() {
    return this.name || this._(this.format === 'cose' ? 'iot-ledger-sign.label.cose' : 'iot-ledger-sign.label.jws');
  },
  labelStyle() {
    return this.name ? 'node_label_italic' : '';
  },
  oneditprepare() {
    if (!$('#node-input-format').val()) $('#node-input-format').val('jws');
    if (this.stamp === undefined) $('#node-input-stamp').prop('checked', true);
  },
});
