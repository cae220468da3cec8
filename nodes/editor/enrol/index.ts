// The Enrol node's editor.
import { oneOf } from '../shared/validators';

interface EnrolProps {
  name: string;
  ledger: string;
  action: string;
}

RED.nodes.registerType<EnrolProps>('iot-ledger-enrol', {
  category: 'iot ledger',
  color: '#8CCFB9',
  defaults: {
    name: { value: '' },
    ledger: { value: '', type: 'iot-ledger-config', required: true },
    action: { value: 'msg', required: true, validate: oneOf(['msg', 'enrol', 'revoke']) },
  },
  inputs: 1,
  outputs: 1,
  icon: 'iot-ledger-enrol.svg',
  paletteLabel() {
    return this._('iot-ledger-enrol.paletteLabel');
  },
  label() {
    const action = this.action === 'enrol' || this.action === 'revoke' ? this.action : 'msg';
    return this.name || this._('iot-ledger-enrol.label.' + action);
  },
  labelStyle() {
    return this.name ? 'node_label_italic' : '';
  },
  oneditprepare() {
    if (!$('#node-input-action').val()) $('#node-input-action').val('msg');
  },
});
