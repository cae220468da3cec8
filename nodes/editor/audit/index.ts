// The Audit node's editor.
import { oneOf, wholeNumber } from '../shared/validators';

interface AuditProps {
  name: string;
  ledger: string;
  mode: string;
  interval: number | string;
}

// setInterval() takes at most 2^31-1 ms: 35791 minutes.
const MAX_INTERVAL = 35791;

RED.nodes.registerType<AuditProps>('iot-ledger-audit', {
  category: 'iot ledger',
  color: '#8CCFB9',
  defaults: {
    name: { value: '' },
    ledger: { value: '', type: 'iot-ledger-config', required: true },
    mode: { value: 'full', required: true, validate: oneOf(['full', 'incremental']) },
    interval: { value: 0, required: true, validate: wholeNumber(0, MAX_INTERVAL, 'iot-ledger-audit.errors.interval') },
  },
  inputs: 1,
  outputs: 1,
  icon: 'iot-ledger-audit.svg',
  paletteLabel() {
    return this._('iot-ledger-audit.paletteLabel');
  },
  label() {
    if (this.name) return this.name;
    const mode = this._(this.mode === 'incremental' ? 'iot-ledger-audit.mode.incremental' : 'iot-ledger-audit.mode.full');
    const interval = Number(this.interval) || 0;
    return interval > 0
      ? this._('iot-ledger-audit.label.nodeInterval', { mode, interval })
      : this._('iot-ledger-audit.label.node', { mode });
  },
  labelStyle() {
    return this.name ? 'node_label_italic' : '';
  },
  oneditprepare() {
    if (!$('#node-input-mode').val()) $('#node-input-mode').val('full');
    if (this.interval === undefined) $('#node-input-interval').val(0);
    $('#node-input-interval').spinner({ min: 0, max: MAX_INTERVAL });
  },
});
