// The Firmware node's editor.
import { oneOf } from '../shared/validators';

interface FirmwareProps {
  name: string;
  ledger: string;
  ha: string;
  mode: string;
  publishOffer: boolean;
}

const MODES = ['check', 'release', 'report', 'vendor'];
const modeOf = (v: unknown): string => (MODES.includes(String(v)) ? String(v) : 'check');

RED.nodes.registerType<FirmwareProps>('iot-ledger-firmware', {
  category: 'iot ledger',
  color: '#8CCFB9',
  defaults: {
    name: { value: '' },
    ledger: { value: '', type: 'iot-ledger-config', required: true },
    ha: { value: '', type: 'iot-ledger-ha', required: false },
    mode: { value: 'check', required: true, validate: oneOf(MODES) },
    publishOffer: { value: false },
  },
  inputs: 1,
  outputs: 1,
  icon: 'iot-ledger-firmware.svg',
  paletteLabel() {
    return this._('iot-ledger-firmware.paletteLabel');
  },
  label() {
    return this.name || this._('iot-ledger-firmware.label.node', { mode: this._('iot-ledger-firmware.mode.' + modeOf(this.mode)) });
  },
  labelStyle() {
    return this.name ? 'node_label_italic' : '';
  },
  oneditprepare() {
    const node = this;
    const $mode = $('#node-input-mode');
    if (!$mode.val()) $mode.val('check');
    $mode
      .on('change', () => {
        $('#iot-ledger-firmware-tip').text(node._('iot-ledger-firmware.tip.' + modeOf($mode.val())));
      })
      .trigger('change');
  },
});
