// The Record node's editor.
import { check, str } from '../shared/validators';

interface RecordProps {
  name: string;
  ledger: string;
  recordType: string;
  allowOverride: boolean;
}

const TYPE_PATTERN = /^[a-z][a-z0-9._-]{0,63}$/;

RED.nodes.registerType<RecordProps>('iot-ledger-record', {
  category: 'iot ledger',
  color: '#8CCFB9',
  defaults: {
    name: { value: '' },
    ledger: { value: '', type: 'iot-ledger-config', required: true },
    recordType: { value: 'reading', required: true, validate: check((v) => v === undefined || TYPE_PATTERN.test(str(v)), 'iot-ledger-record.errors.recordType') },
    allowOverride: { value: true },
  },
  inputs: 1,
  outputs: 1,
  icon: 'iot-ledger-record.svg',
  paletteLabel() {
    return this._('iot-ledger-record.paletteLabel');
  },
  label() {
    return this.name || this._('iot-ledger-record.label.node', { type: this.recordType || 'reading' });
  },
  labelStyle() {
    return this.name ? 'node_label_italic' : '';
  },
  oneditprepare() {
    // Properties missing from older flows: show the defaults the runtime uses.
    if (this.recordType === undefined) $('#node-input-recordType').val('reading');
    if (this.allowOverride === undefined) $('#node-input-allowOverride').prop('checked', true);
  },
});
